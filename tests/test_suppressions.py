"""Suppressions from the configuration, statement Sids and CloudFormation Metadata; expiry in every format."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest

from auditor.config import Suppression, load_config
from auditor.run import build_report, render, request_from_config
from auditor.suppress import sid_ignored_rules
from tests.conftest import run_cli

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  LogsRole:
    Type: AWS::IAM::Role
    Metadata:
      iam-audit:
        ignore:
          - {rule: IAM201, reason: vendor module still names the old action}
    Properties:
      RoleName: acme-logs
      Policies:
        - PolicyName: write-logs
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: Logs
                Effect: Allow
                Action: logs:DescribeLogStream
                Resource: "arn:aws:logs:*:*:log-group:/vpc/*"
  DataRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: acme-data
      Policies:
        - PolicyName: read-data
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: Read
                Effect: Allow
                Action: s3:GetObjekt
                Resource: "arn:aws:s3:::data/*"
"""


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def statement(sid: str, action: str) -> dict[str, object]:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": "arn:aws:s3:::reports/*"}


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "policies" / "legacy").mkdir(parents=True)
    (tmp_path / "policies" / "legacy" / "old.json").write_text(policy(statement("Old", "s3:GetObjekt")))
    (tmp_path / "policies" / "new.json").write_text(
        policy(statement("New", "s3:PutObjekt"), statement("AllowIamAuditIgnoreIAM201IAM200", "s3:ListObjekts"))
    )
    (tmp_path / "stack.yaml").write_text(TEMPLATE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(project: Path, config_text: str) -> dict[str, object]:
    (project / ".iam-audit.toml").write_text(textwrap.dedent(config_text))
    config = load_config(start=project)
    report, _ = build_report(request_from_config((".",), config, select=("unknown-action",)))
    return json.loads(render(report, "json", show_suppressed=True))


def suppressed(document: dict[str, object]) -> dict[tuple[str, str], str | None]:
    """Reason by (path, Sid) of every IAM201 finding (None when active)."""
    findings = document["findings"]
    assert isinstance(findings, list)
    return {(f["location"]["path"], f["statement"]["sid"]): f.get("suppressed") for f in findings
            if f["rule_id"] == "IAM201"}


def test_sid_marker_parsing() -> None:
    assert sid_ignored_rules("AllowAllIamAuditIgnoreIAM012") == {"IAM012"}
    assert sid_ignored_rules("AllowAllIamAuditIgnoreIAM012IAM003") == {"IAM012", "IAM003"}
    assert sid_ignored_rules("IamAuditIgnoreIAM012Extra") == frozenset()
    assert sid_ignored_rules("AllowAll") == frozenset() and sid_ignored_rules(None) == frozenset()


def test_inline_sid_and_cloudformation_metadata(project: Path) -> None:
    assert suppressed(check(project, "")) == {
        ("policies/legacy/old.json", "Old"): None,
        ("policies/new.json", "New"): None,
        ("policies/new.json", "AllowIamAuditIgnoreIAM201IAM200"):
            "Sid AllowIamAuditIgnoreIAM201IAM200 (IamAuditIgnore)",
        ("stack.yaml", "Logs"): "vendor module still names the old action (CloudFormation Metadata of LogsRole)",
        ("stack.yaml", "Read"): None,
    }


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ('path = "policies/legacy/*"', {("policies/legacy/old.json", "Old")}),
        ('path = "policies"', {("policies/legacy/old.json", "Old"), ("policies/new.json", "New"),
                               ("policies/new.json", "AllowIamAuditIgnoreIAM201IAM200")}),
        ('principal = "acme-*"', {("stack.yaml", "Read"), ("stack.yaml", "Logs")}),
        ('policy = "read-*"', {("stack.yaml", "Read")}),
        ('policy = "inline:read-data"', {("stack.yaml", "Read")}),
        ('sid = "New"', {("policies/new.json", "New")}),
        ('sid = "Read"\npath = "policies/*"', set()),
    ],
)
def test_configured_scopes(project: Path, scope: str, expected: set[tuple[str, str]]) -> None:
    document = check(project, f'[[suppress]]\nrule = "unknown-action"\n{scope}\nreason = "tracked in SEC-12"\n')
    got = {k for k, v in suppressed(document).items() if v == "tracked in SEC-12"}
    assert got == expected
    summary = document["summary"]
    assert isinstance(summary, dict)
    inline = {("policies/new.json", "AllowIamAuditIgnoreIAM201IAM200"), ("stack.yaml", "Logs")}
    assert summary["suppressed"] == len(expected | inline)  # the configuration comes first, then Sid and Metadata
    assert summary["findings"] == 5 - summary["suppressed"]


def test_expired_suppression_suppresses_nothing_and_shows_in_every_format(project: Path) -> None:
    (project / ".iam-audit.toml").write_text(
        '\n[[suppress]]\nrule = "IAM201"\npath = "policies/legacy/*"\nreason = "until the migration"\n'
        'expires = 2020-06-30\n'
    )
    config = load_config(start=project)
    request = request_from_config((".",), config, select=("unknown-action",))
    report, _ = build_report(request)
    assert not any(f.location.path == "policies/legacy/old.json" and f.suppressed for f in report.findings)
    (notice,) = report.summary.expired_suppressions
    config_path = ".iam-audit.toml"  # shown relative to the working directory, as findings are
    assert (notice["path"], notice["line"], notice["rule"], notice["expires"]) == (config_path, 2, "IAM201",
                                                                                   "2020-06-30")
    assert "expired on 2020-06-30" in notice["message"]
    document = json.loads(render(report, "json", False))
    assert document["summary"]["expired_suppressions"] == [dict(notice)]
    sarif = json.loads(render(report, "sarif", False))
    (note,) = sarif["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
    assert note["level"] == "warning" and "expired on 2020-06-30" in note["message"]["text"]
    for fmt in ("junit", "github", "markdown", "html"):
        assert "expired on 2020-06-30" in render(report, fmt, False), fmt
    result = run_cli("check", "--select", "unknown-action", "--no-color", ".", cwd=project)
    assert result.returncode == 1  # the finding it no longer hides is high
    assert f"warning: {config_path}:2: suppression of IAM201 for path 'policies/legacy/*' expired" in \
        " ".join(result.stdout.split())


def test_suppression_expiring_today_still_applies() -> None:
    today = dt.date.today()
    assert not Suppression("IAM201", "r", expires=today).expired(today)
    assert Suppression("IAM201", "r", expires=today - dt.timedelta(days=1)).expired(today)


def test_cli_show_suppressed_sarif_and_missing_reason(project: Path) -> None:
    (project / ".iam-audit.toml").write_text(
        '[[suppress]]\nrule = "IAM201"\npath = "policies/*"\nreason = "tracked in SEC-12"\n')
    plain = run_cli("check", "--select", "unknown-action", "--no-color", "--no-source", "policies", cwd=project)
    assert plain.returncode == 0, plain.stdout
    assert "suppressed: 3 finding(s)" in plain.stdout and "SEC-12" not in plain.stdout
    shown = run_cli("check", "--select", "unknown-action", "--no-color", "--no-source", "--show-suppressed",
                    "--format", "console", "--format", "sarif", "--output-sarif", "out.sarif", "policies",
                    cwd=project)
    assert "(suppressed: tracked in SEC-12)" in " ".join(shown.stdout.split())
    results = json.loads((project / "out.sarif").read_text())["runs"][0]["results"]
    assert results and all(r["suppressions"][0]["kind"] == "external" for r in results)
    (project / ".iam-audit.toml").write_text('[[suppress]]\nrule = "IAM201"\npath = "policies/*"\n')
    broken = run_cli("check", "policies", cwd=project)
    assert broken.returncode == 2
    assert broken.stderr.startswith("iam-audit: error: .iam-audit.toml:2:1: the "
                                    "suppression of IAM201 has no reason")


def test_a_suppression_in_the_file_is_in_source_and_quiet_lists_it_with_show_suppressed(project: Path) -> None:
    args = ("check", "--no-config", "--select", "unknown-action", "--no-color", "policies/new.json")
    sarif = json.loads(run_cli(*args, "--format", "sarif", "--show-suppressed", cwd=project).stdout)
    kinds = {r["message"]["text"].split("'")[1]: [s["kind"] for s in r.get("suppressions", ())]
             for r in sarif["runs"][0]["results"]}
    assert kinds == {"s3:PutObjekt": [], "s3:ListObjekts": ["inSource"]}
    quiet = run_cli(*args, "--quiet", cwd=project).stdout.splitlines()
    assert len(quiet) == 1 and "s3:PutObjekt" in quiet[0]
    shown = run_cli(*args, "--quiet", "--show-suppressed", cwd=project).stdout.splitlines()
    assert len(shown) == 2 and "(suppressed: Sid AllowIamAuditIgnoreIAM201IAM200 (IamAuditIgnore))" in shown[1]


UNUSED_TEMPLATE = """\
Resources:
  AppRole:
    Type: AWS::IAM::Role
    Metadata:
      iam-audit:
        ignore:
          - IAM201
          - {rule: IAM012, reason: reviewed}
          - unknwon-action
          - {rul: IAM003}
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: app
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: s3:GetObjekt
                Resource: arn:aws:s3:::data/*
"""


def unused(folder: Path, *args: str) -> list[tuple[str, str]]:
    result = run_cli("check", "--format", "json", "--no-cache", *args, ".", cwd=folder)
    assert result.returncode in (0, 1), result.stderr
    found = sorted((f["location"]["path"], f["location"]["line"], f["location"]["column"], f["message"])
                   for f in json.loads(result.stdout)["findings"] if f["rule_id"] == "IAM600")
    return [(f"{path}:{line}:{column}", message) for path, line, column, message in found]


def test_an_inline_suppression_that_hides_nothing_is_reported_where_it_is_written(tmp_path: Path) -> None:
    (tmp_path / "policy.json").write_text(policy(
        statement("ReadIamAuditIgnoreIAM003", "s3:GetObject"),  # IAM003 has nothing to say: unused
        {"Sid": "WriteIamAuditIgnoreIAM003", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"},  # used
        {"Sid": "TypoIamAuditIgnoreIAM03", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"},
    ))
    (tmp_path / "stack.yaml").write_text(UNUSED_TEMPLATE)
    everything = unused(tmp_path)
    assert everything == [
        ("policy.json:5:14", "Sid 'ReadIamAuditIgnoreIAM003' suppresses IAM003, but its statement has no IAM003 "
                             "finding: remove IAM003 from the Sid, or a finding of it the statement gains later "
                             "goes unnoticed"),
        ("policy.json:17:14", "Sid 'TypoIamAuditIgnoreIAM03' has the IamAuditIgnore marker but no rule ids at its "
                              "end (write them as ...IamAuditIgnoreIAM012IAM003): it suppresses nothing"),
        ("stack.yaml:8:13", "The iam-audit ignore entry 'IAM012' of AppRole's Metadata suppresses nothing: AppRole "
                            "has no finding of it; remove the entry, or a finding AppRole gains later goes "
                            "unnoticed"),
        ("stack.yaml:9:13", "The iam-audit ignore entry of AppRole's Metadata names 'unknwon-action', which is no "
                            "rule id, slug or category (`iam-audit rules` lists them): it suppresses nothing"),
        ("stack.yaml:10:13", "The iam-audit ignore entry of AppRole's Metadata names no rule (write a rule id, slug "
                             "or category, or {rule: IAM003, reason: ...}): it suppresses nothing"),
    ]
    assert unused(tmp_path, "--jobs", "2") == everything
    # only the rules that ran are judged; an entry that names no rule is wrong whatever ran
    assert [where for where, _ in unused(tmp_path, "--select", "unknown-action,IAM600")] == [
        "policy.json:17:14", "stack.yaml:9:13", "stack.yaml:10:13"]
    assert unused(tmp_path, "--ignore", "IAM600") == []
    result = run_cli("check", "--format", "json", "--no-cache", "--show-suppressed", "--select", "IAM003,IAM600", ".",
                     cwd=tmp_path)
    iam003 = [(f["statement"]["sid"], f.get("suppressed")) for f in json.loads(result.stdout)["findings"]
              if f["rule_id"] == "IAM003"]
    assert sorted(iam003) == [("TypoIamAuditIgnoreIAM03", None),
                              ("WriteIamAuditIgnoreIAM003", "Sid WriteIamAuditIgnoreIAM003 (IamAuditIgnore)")]
    assert result.returncode == 0, "IAM600 is low: it does not fail a run at the default --fail-on high"


def _iam600_and_suppressed(folder: Path, *args: str) -> tuple[list[str], list[tuple[str, str]]]:
    result = run_cli("check", "--format", "json", "--no-cache", "--show-suppressed", *args, ".", cwd=folder)
    assert result.returncode in (0, 1), result.stderr
    findings = json.loads(result.stdout)["findings"]
    unused = sorted(f"{f['location']['path']}:{f['location']['line']}" for f in findings if f["rule_id"] == "IAM600")
    hidden = sorted((f["rule_id"], f["suppressed"]) for f in findings if f.get("suppressed"))
    return unused, hidden


def test_an_entry_naming_a_category_is_judged_only_when_all_its_rules_ran(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(textwrap.dedent("""\
        Resources:
          AppRole:
            Type: AWS::IAM::Role
            Metadata:
              iam-audit:
                ignore: [privilege-escalation]
            Properties:
              AssumeRolePolicyDocument:
                Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]
              Policies:
                - PolicyName: p
                  PolicyDocument:
                    Statement: [{Effect: Allow, Action: [iam:PassRole, ec2:RunInstances], Resource: "*"}]
        """))
    assert _iam600_and_suppressed(tmp_path)[0] == []
    assert _iam600_and_suppressed(tmp_path, "--ignore", "IAM012")[0] == []  # IAM013 alone cannot judge it


def test_each_statement_s_marker_is_judged_on_its_own_statement(tmp_path: Path) -> None:
    write_any = {"Sid": "UploadsIamAuditIgnoreIAM003", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}
    write_one = {**write_any, "Resource": "arn:aws:s3:::uploads/*"}
    (tmp_path / "a.json").write_text(policy(write_any))
    (tmp_path / "b.json").write_text(policy(write_one))  # the same Sid, and nothing to hide
    # in a Terraform policy written as a JSON string every statement has the string's place; each is judged
    (tmp_path / "main.tf").write_text('resource "aws_iam_policy" "p" {\n  policy = ' + json.dumps(json.dumps(
        {"Version": "2012-10-17", "Statement": [{**write_any, "Sid": "WriteIamAuditIgnoreIAM003"},
                                                {**write_one, "Sid": "ReadIamAuditIgnoreIAM003"}]})) + "\n}\n")
    unused, hidden = _iam600_and_suppressed(tmp_path)
    assert unused == ["b.json:5", "main.tf:2"]
    assert hidden == [("IAM003", "Sid UploadsIamAuditIgnoreIAM003 (IamAuditIgnore)"),
                      ("IAM003", "Sid WriteIamAuditIgnoreIAM003 (IamAuditIgnore)")]


def test_a_marker_hides_the_malformed_findings_of_its_statement_and_names_a_bad_id(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(policy(
        {"Sid": "ReadIamAuditIgnoreIAM103", "Effect": "Allw", "Action": "s3:GetObject", "Resource": "*"},
        {"Sid": "WriteIamAuditIgnoreIAM003IAM999", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"},
    ))
    result = run_cli("check", "--format", "json", "--no-cache", "--show-suppressed", "p.json", cwd=tmp_path)
    findings = json.loads(result.stdout)["findings"]
    assert sorted((f["rule_id"], bool(f.get("suppressed"))) for f in findings) == [
        ("IAM003", True), ("IAM103", True), ("IAM600", False)]
    [bad] = [f["message"] for f in findings if f["rule_id"] == "IAM600"]
    assert bad == ("Sid 'WriteIamAuditIgnoreIAM003IAM999' names IAM999, which is no rule id (`iam-audit rules` lists "
                   "them): it suppresses nothing")


def test_what_could_not_be_judged_is_not_reported(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(textwrap.dedent("""\
        Parameters:
          Actions: {Type: CommaDelimitedList}
        Resources:
          Pol:
            Type: AWS::IAM::ManagedPolicy
            Properties:
              PolicyDocument:
                Statement:
                  - {Sid: DeployIamAuditIgnoreIAM003, Effect: Allow, Action: !Ref Actions, Resource: "*"}
          Imported:
            Type: AWS::IAM::ManagedPolicy
            Metadata:
              iam-audit:
                ignore: [IAM003]
            Properties:
              PolicyDocument: {"Fn::ImportValue": shared-policy}
          UpsolverServerRole:
            Type: AWS::IAM::Role
            Metadata:
              iam-audit:
                ignore: [drift-action-added]
            Properties:
              AssumeRolePolicyDocument:
                Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]
        """))
    assert _iam600_and_suppressed(tmp_path)[0] == []
    assert _iam600_and_suppressed(tmp_path, "--baseline", "stackstate/kms-key")[0] == []


def test_naming_iam600_keeps_the_other_entries_quiet_and_entries_differ_in_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(policy(statement("ReadIamAuditIgnoreIAM003IAM600", "s3:GetObject"),
                                            statement("ListIamAuditIgnoreIAM003", "s3:GetObject")))
    (tmp_path / "stack.yaml").write_text(textwrap.dedent("""\
        Resources:
          Pol:
            Type: AWS::IAM::ManagedPolicy
            Metadata:
              iam-audit:
                ignore: [{reason: reviewed in JIRA-1}, {reason: reviewed in JIRA-2}]
            Properties:
              PolicyDocument:
                Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::b/*"}]
        """))
    assert _iam600_and_suppressed(tmp_path)[0] == ["p.json:11", "stack.yaml:6", "stack.yaml:6"]
    result = run_cli("check", "--format", "sarif", "--no-cache", ".", cwd=tmp_path)
    prints = [next(iter(r["partialFingerprints"].values())) for r in json.loads(result.stdout)["runs"][0]["results"]
              if r["ruleId"] == "IAM600"]
    assert len(prints) == 3 and len(set(prints)) == 3


def test_a_marker_belongs_to_its_own_document_of_a_yaml_stream(tmp_path: Path) -> None:
    """The documents of a YAML stream share their pointers (/Statement/0): a marker of the first hid the second's
    finding, and was not reported."""
    (tmp_path / "multi.yaml").write_text(textwrap.dedent("""\
        Version: "2012-10-17"
        Statement:
          - Sid: ReadReportsIamAuditIgnoreIAM003
            Effect: Allow
            Action: s3:GetObject
            Resource: arn:aws:s3:::reports/*
        ---
        Version: "2012-10-17"
        Statement:
          - Sid: Uploads
            Effect: Allow
            Action: s3:PutObject
            Resource: "*"
        """))
    unused, hidden = _iam600_and_suppressed(tmp_path)
    assert (unused, hidden) == (["multi.yaml:3"], [])


def test_a_sam_function_whose_role_has_parts_not_checked_is_not_judged(tmp_path: Path) -> None:
    (tmp_path / "sam.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Worker:
            Type: AWS::Serverless::Function
            Metadata:
              iam-audit:
                ignore: [{rule: IAM003, reason: "the shared policy's wildcard is reviewed"}]
            Properties:
              Runtime: python3.12
              Handler: app.handler
              CodeUri: src/
              Policies:
                - arn:aws:iam::123456789012:policy/shared-writer
                - Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::b/*"}]
        """))
    assert _iam600_and_suppressed(tmp_path)[0] == []


def test_an_entry_on_a_role_covers_the_role_s_findings_located_in_a_policy_that_names_it(tmp_path: Path) -> None:
    """An escalation of role Worker through an AWS::IAM::Policy naming it is located in that policy; the role's own
    Metadata entry suppresses it (hunt50: not suppressed, and IAM600 said the role had no finding of it)."""
    (tmp_path / "stack.yaml").write_text(textwrap.dedent('''\
        Resources:
          Worker:
            Type: AWS::IAM::Role
            Metadata:
              iam-audit:
                ignore: [{rule: IAM012, reason: the batch role launches its own workers}]
            Properties:
              AssumeRolePolicyDocument:
                Version: "2012-10-17"
                Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: "sts:AssumeRole"}]
              Policies:
                - PolicyName: run
                  PolicyDocument:
                    Version: "2012-10-17"
                    Statement: [{Effect: Allow, Action: "ec2:RunInstances", Resource: "*"}]
          PassRole:
            Type: AWS::IAM::Policy
            Properties:
              PolicyName: pass
              Roles: [!Ref Worker]
              PolicyDocument:
                Version: "2012-10-17"
                Statement: [{Effect: Allow, Action: "iam:PassRole", Resource: "*"}]
        '''), encoding="utf-8")
    unused_entries, hidden = _iam600_and_suppressed(tmp_path)
    assert unused_entries == []
    assert ("IAM012", "the batch role launches its own workers (CloudFormation Metadata of Worker)") in hidden
