"""``check`` with baselines chosen on the command line or mapped in the configuration: what is reported as not
checked, and how bad names (a placeholder, a baseline id) are refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, run_cli

POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", ' \
         '"Resource": "arn:aws:s3:::b/*"}]}'


def _not_checked(tmp_path: Path, *args: str) -> list[str]:
    result = run_cli("check", "--no-config", "--format", "json", *args, cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    return list(json.loads(result.stdout)["summary"].get("not_checked", []))


def test_a_baseline_file_is_the_only_one_it_chooses_and_the_hint_names_it(tmp_path: Path) -> None:
    (tmp_path / "base.json").write_text(POLICY)
    (tmp_path / "target.json").write_text(POLICY)
    # the bundled baselines compared beside a file are not chosen with --baseline: no note for each of them
    assert _not_checked(tmp_path, "target.json", "--baseline", "base.json") == [
        "baseline file/base@file: the input has no user, group or role to compare with it; for a policy file, run "
        "`iam-audit drift base.json FILE`"]


def test_baseline_files_of_the_same_name_in_two_folders_keep_apart(tmp_path: Path) -> None:
    """One folder per vendor, each with its base.json: both were "file/base", so the second was dropped or the
    findings could not say which one they were compared with."""
    for vendor in ("a", "b"):
        (tmp_path / vendor / "policies").mkdir(parents=True)
        (tmp_path / vendor / "policies" / "base.json").write_text(POLICY)
    (tmp_path / "target.json").write_text(POLICY)
    assert _not_checked(tmp_path, "target.json", "--baseline", "a/policies/base.json", "--baseline",
                        str(tmp_path / "b" / "policies" / "base.json")) == [
        f"baseline file/{vendor}/policies/base@file: the input has no user, group or role to compare with it; for a "
        f"policy file, run `iam-audit drift {path} FILE`"
        for vendor, path in (("a", "a/policies/base.json"), ("b", tmp_path / "b" / "policies" / "base.json"))]


def test_a_bad_baseline_mapping_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(POLICY)
    config = tmp_path / ".iam-audit.toml"
    config.write_text('fail-on = "high"\n\n[[baselines]]\nprincipal = "X*"\nbaseline = "nosuch/baseline"\n')
    for args in (("check", "p.json"), ("drift", "upsolver/server-role", "p.json"), ("config",)):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert result.stderr.startswith("iam-audit: error: .iam-audit.toml:3:1: baselines: unknown baseline "
                                        "'nosuch/baseline' (known: "), args
    config.write_text('[[baselines]]\nprincipal = "X*"\nbaseline = "upsolver/server-role"\n'
                      'vars = { ExternalId = "x" }\n')
    result = run_cli("check", "p.json", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, "iam-audit: error: .iam-audit.toml:1:1: baselines: vars: "
                                                     "upsolver/server-role@gitbook has no placeholder 'ExternalId' "
                                                     "(it has: UpsolverOrgId)\n")


def test_check_refuses_a_var_no_baseline_has_as_drift_does(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(POLICY)
    result = run_cli("check", "--no-config", "p.json", "--var", "Nope=1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == ("iam-audit: error: --var Nope: no baseline compared has such a placeholder (they have: "
                             "AccountId, AgentAccountId, DeliveryStreamName, ExternalId, InputBucketName, "
                             "OutputBucketName, Region, UpsolverOrgId, UpsolverRoleArn)\n")
    only = run_cli("check", "--no-config", "p.json", "--baseline", "upsolver/server-role", "--var", "Region=x",
                   cwd=tmp_path)
    assert only.returncode == 2 and "(they have: UpsolverOrgId)" in only.stderr
    assert run_cli("check", "--no-config", "p.json", "--var", "Region=us-east-1", cwd=tmp_path).returncode == 0


TRUST = "AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, " \
        "Action: sts:AssumeRole}]}"


def test_a_principal_named_wholly_at_deploy_time_is_listed_as_not_compared(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(f"""Parameters:
  RoleName: {{Type: String}}
  GroupName: {{Type: String}}
Resources:
  Unknown:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Ref RoleName
      {TRUST}
  Partly:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub Other-${{AWS::Region}}
      {TRUST}
  Literal:
    Type: AWS::IAM::Role
    Properties:
      RoleName: Literal
      {TRUST}
  Group:
    Type: AWS::IAM::Group
    Properties:
      GroupName: !Ref GroupName
""")
    # only the role whose name says nothing, and only the baselines for roles; neither a name whose literal part
    # rules the baselines out, nor a group (no bundled baseline is for one)
    assert _not_checked(tmp_path, "stack.yaml") == [
        "stack.yaml:8: role {{Ref:RoleName}}: its name is known only when deployed, so it was not compared with the "
        "baselines it could be named for (stackstate/eventbridge-role@5.1, stackstate/firehose-role@5.1, "
        "stackstate/integration-role@5.1, upsolver/management-role@gitbook, upsolver/server-role@gitbook); give it "
        "a literal name, or map it to its baseline with [[baselines]] in the configuration"]
    assert _not_checked(tmp_path, "stack.yaml", "--baseline", "upsolver/server-role") == [
        "stack.yaml:8: role {{Ref:RoleName}}: its name is known only when deployed, so it was not compared with the "
        "baselines it could be named for (upsolver/server-role@gitbook); give it a literal name, or map it to its "
        "baseline with [[baselines]] in the configuration",
        "baseline upsolver/server-role@gitbook: no user, group or role of the input matches it (name patterns: "
        "Upsolver*ServerRole*); map principals to it with [[baselines]] in the configuration"]
    # mapped to a baseline, it is compared: nothing to say
    (tmp_path / ".iam-audit.toml").write_text('[[baselines]]\nprincipal = "{{Ref:RoleName}}"\n'
                                              'baseline = "stackstate/eventbridge-role"\n')
    result = run_cli("check", "--format", "json", "stack.yaml", cwd=tmp_path)
    report = json.loads(result.stdout)
    assert report["summary"].get("not_checked", []) == []
    assert [v["principal"] for v in report["summary"]["verdicts"]] == ["{{Ref:RoleName}}"]


def test_a_role_whose_name_a_template_builds_is_compared_with_its_baseline(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(f"""Resources:
  EventBridgeRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub StackStateEventBridgeRole-${{AWS::Region}}
      {TRUST}
      Policies:
        - PolicyName: eventbridge
          PolicyDocument: {{Statement: [{{Effect: Allow, Action: 'firehose:*', Resource: '*'}}]}}
""")
    result = run_cli("check", "--no-config", "--format", "json", "stack.yaml", cwd=tmp_path)
    report = json.loads(result.stdout)
    drift = {(f["rule_id"], f["severity"], f["subject"]["name"]) for f in report["findings"] if f["baseline"]}
    assert {("IAM901", "high", "StackStateEventBridgeRole-{{AWS::Region}}"),
            ("IAM903", "high", "StackStateEventBridgeRole-{{AWS::Region}}")} <= drift
    assert report["summary"].get("not_checked", []) == []


OWN_BASELINE = """\
id: acme/reader
revision: "2024"
default: true
title: Reader
vendor: acme
principal:
  kind: role
  name_patterns: [AcmeReader]
provenance:
  document: acme.md
managed_policies: []
policies:
  - name: read
    kind: identity
    document:
      Version: '2012-10-17'
      Statement:
        - Effect: Allow
          Action: s3:GetObject
          Resource: arn:aws:s3:::acme/*
"""
READER_STACK = """\
Resources:
  Reader:
    Type: AWS::IAM::Role
    Properties:
      RoleName: AcmeReader
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: read
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: [s3:GetObject, s3:DeleteObject], Resource: "arn:aws:s3:::acme/*"}]
"""


def test_every_command_knows_the_baselines_of_baseline_paths(tmp_path: Path) -> None:
    """An id defined in a folder of baseline-paths was applied automatically and by drift, but check --baseline ID
    and baseline show/diff said "unknown baseline", and baseline list neither listed it nor read the folder."""
    (tmp_path / "own" / "acme").mkdir(parents=True)
    (tmp_path / "own" / "acme" / "reader.yaml").write_text(OWN_BASELINE)
    (tmp_path / "stack.yaml").write_text(READER_STACK)
    (tmp_path / ".iam-audit.toml").write_text('baseline-paths = ["own"]\n')
    result = run_cli("check", "stack.yaml", "--baseline", "acme/reader", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [(f["rule_id"], f["baseline"]) for f in findings if f["baseline"]] == [("IAM901", "acme/reader")]
    unknown = run_cli("check", "stack.yaml", "--baseline", "acme/nosuch", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown baseline 'acme/nosuch' (known: acme/reader, " in unknown.stderr
    listed = run_cli("baseline", "list", "--format", "json", cwd=tmp_path)
    assert "acme/reader" in {b["id"] for b in json.loads(listed.stdout)}, listed.stderr
    assert "acme/reader" not in {b["id"] for b in json.loads(run_cli("baseline", "list", "--format", "json",
                                                                     "--no-config", cwd=tmp_path).stdout)}
    shown = run_cli("baseline", "show", "acme/reader", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.startswith("acme/reader@2024: Reader"), shown.stderr
    diffed = run_cli("baseline", "diff", "acme/reader", "acme/reader@2024", cwd=tmp_path)
    assert diffed.returncode == 0 and "no differences" in diffed.stdout, diffed.stderr
    (tmp_path / "elsewhere.toml").write_text('baseline-paths = ["own"]\n')
    assert run_cli("baseline", "show", "acme/reader", "--config", "elsewhere.toml", cwd=tmp_path).returncode == 0
    (tmp_path / "own" / "acme" / "broken.yaml").write_text("id: acme/broken\nrevision: [\n")
    for args in (("check", "stack.yaml"), ("baseline", "list")):
        broken = run_cli(*args, cwd=tmp_path)
        assert broken.returncode == 2, (args, broken.stderr)
        assert "broken.yaml:3:1: invalid YAML" in broken.stderr and len(broken.stderr.splitlines()) == 1, args


def test_check_baseline_with_an_id_of_baseline_paths_compares_with_that_baseline_only(tmp_path: Path) -> None:
    """The id was passed to the engine as its file, and a file compares beside every bundled baseline: the account's
    vendor roles were still compared with the StackState and Upsolver baselines."""
    (tmp_path / "own" / "acme").mkdir(parents=True)
    (tmp_path / "own" / "acme" / "reader.yaml").write_text(OWN_BASELINE)
    (tmp_path / ".iam-audit.toml").write_text('baseline-paths = ["own"]\n')
    export = str(REPO / "fixtures" / "drift" / "account-vendors.json")
    report = json.loads(run_cli("check", export, "--baseline", "acme/reader", "--format", "json",
                                cwd=tmp_path).stdout)
    assert not report["summary"].get("verdicts")
    assert [f for f in report["findings"] if f["baseline"]] == []
    assert report["summary"]["not_checked"] == [
        "baseline acme/reader@2024: no user, group or role of the input matches it (name patterns: AcmeReader); map "
        "principals to it with [[baselines]] in the configuration"]
    everything = json.loads(run_cli("check", export, "--format", "json", cwd=tmp_path).stdout)
    assert {v["baseline"].split("/")[0] for v in everything["summary"]["verdicts"]} == {"stackstate", "upsolver"}


def test_a_baseline_path_that_does_not_exist_is_no_such_file_in_check_as_in_drift(tmp_path: Path) -> None:
    """check --baseline ./nofile.yaml said "unknown baseline './nofile.yaml' (known: ...)", as if it were an id."""
    (tmp_path / "p.json").write_text(POLICY)
    for ref in ("./nofile.yaml", "nofile.json", str(tmp_path / "gone" / "base.yaml")):
        result = run_cli("check", "--no-config", "p.json", "--baseline", ref, cwd=tmp_path)
        assert result.returncode == 2, ref
        assert result.stderr == (f"iam-audit: error: --baseline: no such file: {ref} (a baseline is a file or a "
                                 "bundled id: iam-audit baseline list)\n"), ref
