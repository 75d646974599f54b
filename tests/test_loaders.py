"""Loaders: every input format yields the normal form, and findings point at the right line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, run_rules
from auditor.loaders import LoadOptions, load_paths, load_text
from auditor.model import PolicyKind
from tests.conftest import FIXTURES, run_json


def line_of(path: Path, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column of the ``occurrence``-th ``needle`` in the file, quote included."""
    text = path.read_text(encoding="utf-8")
    offset = -1
    for _ in range(occurrence):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def findings_by_action(path: Path) -> dict[str, dict]:
    _, report = run_json(str(path))
    return {f["details"]["action"]: f for f in report["findings"] if f["rule_id"] == "IAM201"}


@pytest.mark.parametrize(
    ("fixture", "actions"),
    [
        ("loaders/cfn-template.json", ['"s3:ListObject"', '"sqs:ReceiveMesage"', '"s3:GetObjekt"']),
        ("loaders/export-cli-shape.json", ['"lambda:UpdateFunctionCod"', '"logs:FilterLogEventz"']),
        ("demo/ci-deploy-policy.json", ['"s3:ListObject"']),
        ("demo/network-stack.yaml", ["logs:DescribeLogStream\n"]),
    ],
)
def test_findings_point_at_the_offending_value(fixture: str, actions: list[str]) -> None:
    path = FIXTURES / fixture
    found = findings_by_action(path)
    for needle in actions:
        action = needle.strip('"\n')
        assert action in found, f"{action} not reported in {fixture}"
        assert (found[action]["location"]["line"], found[action]["location"]["column"]) == line_of(path, needle)


def test_terraform_findings_point_at_the_policy_string_line() -> None:
    path = FIXTURES / "loaders/terraform-plan.json"
    found = findings_by_action(path)
    assert set(found) == {"cloudformation:CreateStak", "s3:PutObjekt", "s3:ListObject"}
    for action, finding in found.items():
        expected_line, _ = line_of(path, action.replace(":", ":"))
        assert finding["location"]["line"] == expected_line


def test_terraform_plan_policy_that_is_not_json_is_a_located_syntax_error() -> None:
    plan = {"format_version": "1.2", "planned_values": {"root_module": {"resources": [
        {"address": "aws_iam_policy.bad", "type": "aws_iam_policy", "name": "bad",
         "values": {"name": "bad", "policy": "{not json"}}]}}}
    text = json.dumps(plan, indent=2)
    loaded = load_text(text, "plan.json", LoadOptions())
    ((source, problem),) = loaded.document_problems
    assert problem.rule == "syntax-error" and "aws_iam_policy.bad.policy is not a JSON policy" in problem.message
    assert "(line 1, column 2 of the string)" in problem.message
    expected = next(n for n, line in enumerate(text.splitlines(), 1) if '"policy"' in line)
    assert source.locate(problem.pointer)[0] == expected


def test_terraform_plan_policy_known_only_after_apply_is_listed_as_not_checked() -> None:
    plan = {"format_version": "1.2",
            "planned_values": {"root_module": {"resources": [
                {"address": "aws_iam_role_policy.u", "type": "aws_iam_role_policy", "name": "u",
                 "values": {"name": "u", "role": "r"}}]}},
            "resource_changes": [{"address": "aws_iam_role_policy.u", "type": "aws_iam_role_policy",
                                  "change": {"after": {"name": "u"}, "after_unknown": {"policy": True}}}]}
    loaded = load_text(json.dumps(plan), "plan.json", LoadOptions())
    assert loaded.policies == [] and loaded.document_problems == []
    assert loaded.not_checked == ["plan.json: aws_iam_role_policy.u.policy is known only after apply (check the "
                                  "state, `terraform show -json`, once applied)"]


def test_export_uses_default_version_and_builds_principals() -> None:
    loaded = load_paths([str(FIXTURES / "loaders/export-cli-shape.json")])
    assert dict(loaded.counts) == {"users": 1, "groups": 1, "roles": 1, "policies": 1}
    managed = [p for p in loaded.policies if p.label == "arn:aws:iam::111122223333:policy/dev-tools"]
    assert len(managed) == 1
    assert managed[0].statements[0].actions == ("logs:FilterLogEventz",)
    user = next(p for p in loaded.principals if p.kind == "user")
    assert user.group_names == ("developers",)
    assert [p.label for p in user.group_policies] == ["arn:aws:iam::111122223333:policy/dev-tools"]
    assert user.missing_policy_arns == ("arn:aws:iam::aws:policy/ReadOnlyAccess",)
    assert any("ReadOnlyAccess is not in the export" in item for item in loaded.not_checked)
    role = next(p for p in loaded.principals if p.kind == "role")
    assert role.trust_policy is not None and role.trust_policy.kind is PolicyKind.TRUST


def test_cloudformation_intrinsics_resolve_or_become_placeholders() -> None:
    loaded = load_paths([str(FIXTURES / "loaders/cfn-template.json")])
    resources = {p.label: p.statements[0].resources for p in loaded.policies}
    assert resources["inline:read-data"] == ("arn:aws:s3:::acme-data/*",)
    assert resources["ManagedPolicy:ExtraPolicy"] == ("{{GetAtt:Queue.Arn}}",)
    assert resources["s3:DataBucketPolicy"] == ("arn:aws:s3:::acme-data/*",)
    bucket = next(p for p in loaded.policies if p.label == "s3:DataBucketPolicy")
    assert bucket.kind is PolicyKind.RESOURCE
    assert bucket.statements[0].principals[0].value == "arn:aws:iam::{{AWS::AccountId}}:root"
    role = next(p for p in loaded.principals if p.name == "acme-reader")
    assert {p.label for p in role.inline_policies} == {"inline:read-data", "ManagedPolicy:ExtraPolicy"}


def test_cloudformation_policy_given_as_a_json_string_is_checked() -> None:
    template = """Resources:
  Admin:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !Sub |
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::${AWS::AccountId}-b/*"}]}
  Broken:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: '{"Version": "2012-10-17", '
"""
    loaded = load_text(template, "stack.yaml", LoadOptions())
    (parsed,) = loaded.policies
    assert parsed.statements[0].resources == ("arn:aws:s3:::{{AWS::AccountId}}-b/*",)
    location = parsed.location(parsed.statements[0].pointer)
    assert (location.line, location.column) == (7, 24)  # the statement, in the literal block
    assert [problem.rule for _, problem in loaded.document_problems] == ["syntax-error"]  # Broken


def test_sam_function_policies_are_the_function_role_s() -> None:
    template = """Transform: AWS::Serverless-2016-10-31
Resources:
  Func:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Policies:
        - AWSLambdaBasicExecutionRole
        - S3ReadPolicy: {BucketName: !Ref Data}
        - Statement:
            - {Effect: Allow, Action: s3:GetObjects, Resource: "*"}
  Other:
    Type: AWS::Serverless::Function
    Properties: {Role: !GetAtt R.Arn, Policies: [{Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}]}
"""
    loaded = load_text(template, "sam.yaml", LoadOptions())
    (role,) = loaded.principals
    assert (role.kind, role.name) == ("role", "FuncRole")
    assert role.attached_policy_arns == ("arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole",)
    (policy,) = role.inline_policies
    assert policy.version == "2012-10-17" and policy.problems == ()  # SAM adds the Version
    assert policy.statements[0].actions == ("s3:GetObjects",)
    assert policy.location(policy.statements[0].pointer).line == 11
    assert [n.split(": ", 1)[1] for n in loaded.not_checked] == [
        "Func: SAM policy template S3ReadPolicy (AWS SAM expands it when deploying)",
        "Other: Policies are ignored by AWS SAM because Role is set",
        "role FuncRole: the attached managed policies arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole are not "
        "in the template, so their statements were not checked (an AWS managed policy that grants administrator "
        "access is still reported, by its name)"]


def test_ecr_repository_policy_statements_may_leave_out_resource() -> None:
    statement = "{Effect: Allow, Principal: {AWS: arn:aws:iam::111122223333:root}, Action: ecr:BatchGetImage}"
    template = f"""Resources:
  Repo: {{Type: AWS::ECR::Repository, Properties: {{RepositoryPolicyText: {{Version: "2012-10-17",
          Statement: [{statement}]}}}}}}
  Topic: {{Type: AWS::SNS::TopicPolicy, Properties: {{Topics: [t], PolicyDocument: {{Version: "2012-10-17",
          Statement: [{statement}]}}}}}}
"""
    repository, topic = load_text(template, "stack.yaml", LoadOptions()).policies
    assert repository.problems == ()
    assert [p.rule for p in topic.problems] == ["resource-element"]


def test_yaml_short_form_tags_and_positions() -> None:
    loaded = load_paths([str(FIXTURES / "demo/network-stack.yaml")])
    policy = next(p for p in loaded.policies if p.label == "inline:write-logs")
    assert policy.statements[1].resources == ("arn:aws:s3:::acme-flow-logs/*",)
    location = policy.location(policy.statements[0].pointer)
    assert (location.line, location.column) == line_of(FIXTURES / "demo/network-stack.yaml", "Effect: Allow", 2)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}',
         PolicyKind.IDENTITY),
        ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, '
         '"Action": "sts:AssumeRole"}]}', PolicyKind.TRUST),
        ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
         '"Resource": "arn:aws:s3:::b/*"}]}', PolicyKind.RESOURCE),
    ],
)
def test_standalone_kind_is_inferred(text: str, kind: PolicyKind) -> None:
    loaded = load_text(text, "p.json", LoadOptions())
    assert loaded.policies[0].kind is kind


def test_scalars_become_tuples_and_original_spelling_is_kept() -> None:
    loaded = load_text('{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "S3:getObject", '
                       '"Resource": "*"}}', "p.json", LoadOptions())
    statement = loaded.policies[0].statements[0]
    assert statement.actions == ("S3:getObject",)
    assert statement.resources == ("*",)


def test_policy_wrappers_are_unwrapped() -> None:
    wrapped = {"PolicyVersion": {"Document": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}, "VersionId": "v1"}}
    loaded = load_text(json.dumps(wrapped), "get-policy-version.json", LoadOptions())
    assert len(loaded.policies) == 1 and loaded.policies[0].pointer == "/PolicyVersion/Document"


def test_folder_walk_skips_vcs_and_virtualenvs_and_counts_non_policies(tmp_path: Path) -> None:
    policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "p.json").write_text(policy)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr")
    (tmp_path / "env" / "p.json").write_text(policy)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.json").write_text(policy)
    (tmp_path / "sub" / "skip-me.json").write_text(policy)
    (tmp_path / "package.json").write_text('{"name": "x", "version": "1.0.0"}')
    (tmp_path / "notes.txt").write_text(policy)
    loaded = load_paths([str(tmp_path)], LoadOptions(exclude=("skip-*.json",)))
    assert len(loaded.policies) == 1
    assert [reason.split(" (")[0] for _, reason in loaded.skipped] == ["not an IAM policy"]
    only_sub = load_paths([str(tmp_path)], LoadOptions(include=("sub/*.json",)))
    assert len(only_sub.policies) == 2


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("account-authorization-details.example.json", {"users": 41, "groups": 3, "roles": 75, "policies": 56}),
        ("account-large.json", {"users": 300, "groups": 50, "roles": 2000, "policies": 662}),
    ],
)
def test_corpus_exports_load_completely(corpus_dir: Path, name: str, counts: dict[str, int]) -> None:
    path = corpus_dir / name
    data = json.loads(path.read_text())
    assert counts == {"users": len(data["UserDetailList"]), "groups": len(data["GroupDetailList"]),
                      "roles": len(data["RoleDetailList"]), "policies": len(data["Policies"])}
    loaded = load_paths([str(path)])
    assert dict(loaded.counts) == counts
    assert not loaded.errors and not loaded.document_problems and not loaded.not_checked
    inline = sum(len(u.get("UserPolicyList", [])) for u in data["UserDetailList"]) + sum(
        len(g["GroupPolicyList"]) for g in data["GroupDetailList"]) + sum(
        len(r["RolePolicyList"]) for r in data["RoleDetailList"])
    assert len(loaded.policies) == counts["policies"] + inline + counts["roles"]


def test_a_null_sid_is_a_wrong_type() -> None:
    loaded = load_text('{"Version": "2012-10-17", "Statement": [{"Sid": null, "Effect": "Allow", '
                       '"Action": "s3:GetObject", "Resource": "*"}]}', "p.json", LoadOptions())
    assert [(p.rule, p.message) for p in loaded.policies[0].problems] == [
        ("wrong-type", "Sid must be a string, found null")]


def test_block_yaml_too_deep_for_the_parser_is_located_where_it_passes_the_limit() -> None:
    text = "".join(f"{'  ' * level}k{level}:\n" for level in range(1000)) + f"{'  ' * 1000}leaf\n"
    loaded = load_text(text, "deep.yaml", LoadOptions())
    ((_, problem),) = loaded.document_problems
    assert problem.message.startswith("nesting deeper than 200 levels")
    assert (problem.line, problem.column) == (201, 401)  # k200: the 201st mapping level


def test_cloudformation_if_gives_what_either_branch_would() -> None:
    template = """Conditions:
  Prod: !Equals [!Ref Env, prod]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - !If [Prod, {PolicyName: read, PolicyDocument: {Statement: [{Effect: Allow, Action: s3:GetObject,
                                                                     Resource: "*"}]}},
                     {PolicyName: write, PolicyDocument: {Statement: [{Effect: Allow, Action: s3:PutObject,
                                                                      Resource: "*"}]}}]
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - !If [Prod, !Ref AWS::NoValue, {Effect: Allow, Action: "*", Resource: "*"}]
          - Effect: Allow
            Action: !If [Prod, "s3:*", "s3:GetObject"]
            Resource: !If [Prod, "arn:aws:s3:::a/*", ["arn:aws:s3:::b/*", "arn:aws:s3:::a/*"]]
"""
    loaded = load_text(template, "stack.yaml", LoadOptions())
    assert [p.label for p in loaded.policies] == ["inline:read", "inline:write", "ManagedPolicy:Policy"]
    admin, scoped = loaded.policies[2].statements
    assert (admin.actions, admin.resources) == (("*",), ("*",))
    assert loaded.policies[2].location(admin.pointer).line == 18
    assert scoped.actions == ("s3:*",)  # s3:GetObject adds nothing to s3:*
    assert scoped.resources == ("arn:aws:s3:::a/*", "arn:aws:s3:::b/*")


def test_cloudformation_effect_known_only_when_deployed_is_checked_as_an_allow() -> None:
    text = """Parameters:
  StatementEffect: {Type: String, AllowedValues: [Allow, Deny]}
Resources:
  P:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: !Ref StatementEffect
            Action: '*'
            Resource: '*'
"""
    loaded = load_text(text, "t.yaml", LoadOptions())
    ((policy,),) = [loaded.policies]
    assert policy.problems == () and [s.effect for s in policy.statements] == ["Allow"]
    assert loaded.not_checked == ["t.yaml: ManagedPolicy:P: statement 0 Effect {{Ref:StatementEffect}} (checked as "
                                  "Allow) is known only when the stack is deployed"]


def test_cloudformation_split_is_resolved_and_unknown_actions_are_listed_as_not_checked() -> None:
    template = """Parameters:
  Actions: {Type: CommaDelimitedList}
Resources:
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: !Split [",", "ec2:RunInstances,iam:CreateAccessKey"]
            Resource: "*"
          - Effect: Allow
            Action: [s3:GetObject, !Ref Actions]
            Resource: "arn:aws:s3:::b/*"
"""
    loaded = load_text(template, "stack.yaml", LoadOptions())
    split, partly = loaded.policies[0].statements
    assert split.actions == ("ec2:RunInstances", "iam:CreateAccessKey")
    assert partly.actions == ("s3:GetObject", "{{Ref:Actions}}")
    assert [n.split(": ", 1)[1] for n in loaded.not_checked] == [
        "ManagedPolicy:Policy: statement 1 Action {{Ref:Actions}} is known only when the stack is deployed"]


def test_cloudformation_intrinsics_around_whole_policies() -> None:
    template = """Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {"Fn::Transform": {Name: Macro}}
      Policies:
        - !If [Prod, {PolicyName: admin, PolicyDocument: {Version: "2012-10-17",
                      Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}}, !Ref AWS::NoValue]
        - PolicyName: empty
  Loose:
    Type: AWS::IAM::ManagedPolicy
    Properties: {PolicyDocument: {Version: "2012-10-17", Statement: !Ref Statements}}
"""
    loaded = load_text(template, "stack.yaml", LoadOptions())
    assert [p.label for p in loaded.policies] == ["inline:admin"]  # the !If's one policy, deployed in Prod
    assert [n.split(": ", 1)[1] for n in loaded.not_checked] == [
        "trust: the policy document ({{Transform}}) is known only when the stack is deployed",
        "Role Policies entry 1: no PolicyDocument",
        "ManagedPolicy:Loose: its Statement ({{Ref:Statements}}) is known only when the stack is deployed"]


def test_an_ecr_repository_policy_alone_or_in_an_export_may_leave_out_resource() -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecr:BatchGetImage"],
                                                        "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}]}
    [alone] = load_text(json.dumps(document), "repo-policy.json", LoadOptions(kind=PolicyKind.RESOURCE)).policies
    assert alone.problems == ()
    export = {"ResourcePolicies": [{"service": "ecr", "name": "app", "region": "us-east-1",
                                    "arn": "arn:aws:ecr:us-east-1:111122223333:repository/app", "policy": document}]}
    [exported] = load_text(json.dumps(export), "account.json", LoadOptions()).policies
    assert exported.problems == ()
    s3 = {"ResourcePolicies": [{**export["ResourcePolicies"][0], "service": "s3"}]}
    [bucket] = load_text(json.dumps(s3), "account.json", LoadOptions()).policies
    assert [p.rule for p in bucket.problems] == ["resource-element"]  # a bucket policy must name its resources


ORG_CONTENT = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS": '
               '"arn:aws:iam::111122223333:root"}, "Action": "s3:*", "Resource": "*"}]}')


@pytest.mark.parametrize(("name", "text"), [
    ("org.yaml", "Resources:\n  Rcp:\n    Type: AWS::Organizations::Policy\n    Properties:\n      Name: rcp\n"
                 f"      Type: RESOURCE_CONTROL_POLICY\n      Content: '{ORG_CONTENT}'\n"
                 "  Tags:\n    Type: AWS::Organizations::Policy\n    Properties:\n      Name: tags\n"
                 "      Type: TAG_POLICY\n      Content: {tags: {Team: {tag_key: {'@@assign': Team}}}}\n"),
    ("org.tf", f'resource "aws_organizations_policy" "rcp" {{\n  name = "rcp"\n  type = "RESOURCE_CONTROL_POLICY"\n'
               f'  content = <<EOT\n{ORG_CONTENT}\nEOT\n}}\n'
               'resource "aws_organizations_policy" "tags" {\n  name = "tags"\n  type = "TAG_POLICY"\n'
               '  content = jsonencode({tags = {Team = {tag_key = {"@@assign" = "Team"}}}})\n}\n'),
    ("plan.json", json.dumps({"format_version": "1.2", "planned_values": {"root_module": {"resources": [
        {"address": "aws_organizations_policy.rcp", "mode": "managed", "type": "aws_organizations_policy",
         "name": "rcp", "values": {"name": "rcp", "type": "RESOURCE_CONTROL_POLICY", "content": ORG_CONTENT}},
        {"address": "aws_organizations_policy.tags", "mode": "managed", "type": "aws_organizations_policy",
         "name": "tags", "values": {"name": "tags", "type": "TAG_POLICY", "content": '{"tags": {}}'}}]}}})),
])
def test_service_and_resource_control_policies_of_templates_are_organization_policies(name: str, text: str) -> None:
    loaded = load_text(text, name, LoadOptions())
    assert [(p.kind, p.subject.name if p.subject else None) for p in loaded.policies] == [
        (PolicyKind.ORGANIZATION, "rcp")]  # the tag policy is not in the IAM policy language
    assert [problem.rule for problem in loaded.policies[0].problems] == ["principal-element"]


SCP_WITH_PRINCIPAL = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": '
                      '"organizations:LeaveOrganization", "Resource": "*"}]}')
RCP_WITHOUT_PRINCIPAL = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": '
                         '"*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}')


def _organization_policies(form: str, policies: dict[str, tuple[str | None, str]]) -> tuple[str, str]:
    """A template, configuration or plan with one organization policy per name: (declared type, content)."""
    if form == "org.yaml":
        return form, "Resources:\n" + "".join(
            f"  {name}:\n    Type: AWS::Organizations::Policy\n    Properties:\n      Name: {name}\n"
            + (f"      Type: {declared}\n" if declared else "") + f"      Content: '{content}'\n"
            for name, (declared, content) in policies.items())
    if form == "org.tf":
        return form, "".join(
            f'resource "aws_organizations_policy" "{name}" {{\n  name = "{name}"\n'
            + (f'  type = "{declared}"\n' if declared else "") + f"  content = <<EOT\n{content}\nEOT\n}}\n"
            for name, (declared, content) in policies.items())
    return form, json.dumps({"format_version": "1.2", "planned_values": {"root_module": {"resources": [
        {"address": f"aws_organizations_policy.{name}", "mode": "managed", "type": "aws_organizations_policy",
         "name": name, "values": {"name": name, "type": declared or "SERVICE_CONTROL_POLICY", "content": content}}
        for name, (declared, content) in policies.items()]}}})


@pytest.mark.parametrize("form", ["org.yaml", "org.tf", "plan.json"])
def test_an_organization_policy_is_checked_as_the_type_its_template_declares(form: str) -> None:
    """A Principal makes a policy file an RCP, but a template says which it is: an SCP takes no Principal, an RCP
    needs one in every statement (AWS rejects either mistake); a policy of the right shape has no problem."""
    name, text = _organization_policies(form, {
        "scp": ("SERVICE_CONTROL_POLICY", SCP_WITH_PRINCIPAL),
        "default": (None, SCP_WITH_PRINCIPAL),  # CloudFormation and Terraform default to a service control policy
        "rcp": ("RESOURCE_CONTROL_POLICY", RCP_WITHOUT_PRINCIPAL),
        "goodrcp": ("RESOURCE_CONTROL_POLICY", SCP_WITH_PRINCIPAL),
        "goodscp": ("SERVICE_CONTROL_POLICY", RCP_WITHOUT_PRINCIPAL)})
    loaded = load_text(text, name, LoadOptions())
    found = {policy.subject.name: [(problem.rule, problem.message.split(" (")[0], problem.pointer.rsplit("/", 1)[-1])
                                   for problem in policy.problems]
             for policy in loaded.policies if policy.subject is not None}
    scp = [("principal-element", "a service control policy", "Principal")]
    if form == "org.yaml":  # CloudFormation requires Type
        assert found.pop("default", None) is None
        assert [note.split(": ", 1)[1] for note in loaded.not_checked if "Type" in note] == [
            "default: an organization policy without Type (CloudFormation requires it: SERVICE_CONTROL_POLICY, "
            "RESOURCE_CONTROL_POLICY...)"]
        found["default"] = scp
    assert found == {"scp": scp, "default": scp,
                     "rcp": [("principal-element", "a resource control policy", "0")],
                     "goodrcp": [], "goodscp": []}
    assert {policy.organization_type for policy in loaded.policies} == {"SERVICE_CONTROL_POLICY",
                                                                         "RESOURCE_CONTROL_POLICY"}


def test_a_template_without_any_policy_is_listed_as_skipped() -> None:
    loaded = load_text("Resources:\n  B:\n    Type: AWS::S3::Bucket\n", "bucket.yaml", LoadOptions())
    assert loaded.skipped == [("bucket.yaml", "no IAM policy (no resource of the template holds one)")]


CDK_ROLE = {"Resources": {"BuildRole": {"Type": "AWS::IAM::Role", "Properties": {
    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
    "Policies": [{"PolicyName": "build", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}]}}]}}}}


def test_cdk_templates_are_walked_and_build_output_folders_are_named_as_skipped(tmp_path: Path) -> None:
    app = tmp_path / "app"
    for name, content in {
        "cdk.out/AppStack.template.json": json.dumps(CDK_ROLE),
        "cdk.out/assembly-Prod/ProdStack.template.json": json.dumps(CDK_ROLE),
        "cdk.out/manifest.json": '{"version": "36.0.0", "artifacts": {}}',
        "cdk.out/asset.0a1b2c/package.json": '{"name": "handler"}',
        ".aws-sam/build/template.yaml": "Resources: {}\n",
        ".terraform/modules/vpc/main.tf": 'resource "aws_vpc" "this" {}\n',
        "package.json": '{"name": "app"}',
    }.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(content)
    loaded = load_paths([str(app)])
    checked = sorted(Path(policy.source.display_path).name for policy in loaded.policies)
    assert checked == ["AppStack.template.json"] * 2 + ["ProdStack.template.json"] * 2  # trust + inline each
    skipped = {Path(path).name: reason for path, reason in loaded.skipped}
    assert set(skipped) == {".aws-sam", ".terraform", "package.json"}
    assert skipped[".terraform"].startswith("folder not walked: modules and providers downloaded by terraform")
    named = load_paths([str(app / ".aws-sam")])
    assert [Path(path).name for path, _ in named.skipped] == ["template.yaml"]  # named: walked


K8S_STREAM = """apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
"""


def test_a_yaml_stream_of_kubernetes_manifests_is_skipped_not_a_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "k8s.yaml").write_text(K8S_STREAM)
    code, report = run_json(str(tmp_path / "k8s.yaml"))
    assert code == 0 and report["findings"] == []
    assert report["summary"]["skipped"] == [
        {"path": str(tmp_path / "k8s.yaml"),
         "reason": "none of its 2 YAML documents is an IAM policy or template "
                   "(document 1: not an IAM policy (top-level keys: apiVersion, kind, metadata))"}]


def test_every_document_of_a_yaml_stream_is_checked_at_its_own_lines() -> None:
    text = K8S_STREAM + """---
# a policy
Version: "2012-10-17"
Statement:
  - Effect: Allow
    Action: s3:GetObjekt
    Resource: "*"
    Action: s3:GetObject
---
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  P:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: iam:PassRole, Resource: "*"}
---
a: [1, 2
"""
    loaded = load_text(text, "stream.yaml", LoadOptions())
    lines = text.splitlines()
    standalone, template = loaded.policies
    line, column = standalone.source.locate(standalone.statements[0].pointer)
    assert lines[line - 1][column - 1:] == "Effect: Allow"
    line, column = template.source.locate(template.statements[0].pointer)
    assert lines[line - 1][column - 1:].startswith("{Effect: Allow, Action: iam:PassRole")
    assert standalone.source.document_text() == text[text.index("---\n# a policy"):text.index("---\nAWSTemplate")]
    problems = [(problem.rule, problem.line, problem.message) for _, problem in loaded.document_problems]
    assert problems == [
        ("duplicate-key", lines.index("    Action: s3:GetObject") + 1,
         "key 'Action' appears more than once in the same object; IAM rejects the document, other parsers keep "
         "only the last value"),
        ("syntax-error", len(lines) + 1,
         "invalid YAML: expected ',' or ']', but got '<stream end>' (YAML document 5 of 5)"),
    ]
    assert loaded.skipped == [("stream.yaml", "YAML documents 1, 2 of 5 (document 1: not an IAM policy "
                                              "(top-level keys: apiVersion, kind, metadata))")]
    assert loaded.files == 1


@pytest.mark.parametrize(
    "text",
    ["---\nVersion: '2012-10-17'\nStatement: []\n", "Version: '2012-10-17'\nStatement: []\n---\n",
     "%YAML 1.2\n---\nVersion: '2012-10-17'\nStatement: []\n...\n# end\n",
     "# nothing here\n---\n---\nVersion: '2012-10-17'\nStatement: []\n"],
)
def test_a_stream_of_one_document_with_markers_is_that_document(text: str) -> None:
    loaded = load_text(text, "p.yaml", LoadOptions())
    assert (len(loaded.policies), loaded.document_problems, loaded.skipped) == (1, [], [])


DOC = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}'


@pytest.mark.parametrize(("rtype", "key", "kind"), [
    ("AWS::SSO::PermissionSet", "InlinePolicy", PolicyKind.IDENTITY),
    ("AWS::ApiGateway::RestApi", "Policy", PolicyKind.RESOURCE),
    ("AWS::EFS::FileSystem", "FileSystemPolicy", PolicyKind.RESOURCE),
    ("AWS::S3::AccessPoint", "Policy", PolicyKind.RESOURCE),
    ("AWS::Events::EventBus", "Policy", PolicyKind.RESOURCE),
    ("AWS::KMS::ReplicaKey", "KeyPolicy", PolicyKind.RESOURCE),
    ("AWS::Backup::BackupVault", "AccessPolicy", PolicyKind.RESOURCE),
    ("AWS::CodeArtifact::Repository", "PermissionsPolicyDocument", PolicyKind.RESOURCE),
])
def test_more_cloudformation_resources_hold_policies(rtype: str, key: str, kind: PolicyKind) -> None:
    loaded = load_text(f"Resources:\n  R:\n    Type: {rtype}\n    Properties:\n      {key}: '{DOC}'\n", "t.yaml",
                       LoadOptions())
    assert [p.kind for p in loaded.policies] == [kind]


@pytest.mark.parametrize(("rtype", "attribute", "kind"), [
    ("aws_ssoadmin_permission_set_inline_policy", "inline_policy", PolicyKind.IDENTITY),
    ("aws_api_gateway_rest_api_policy", "policy", PolicyKind.RESOURCE),
    ("aws_efs_file_system_policy", "policy", PolicyKind.RESOURCE),
    ("aws_s3control_access_point_policy", "policy", PolicyKind.RESOURCE),
    ("aws_cloudwatch_event_bus_policy", "policy", PolicyKind.RESOURCE),
    ("aws_backup_vault_policy", "policy", PolicyKind.RESOURCE),
    ("aws_dynamodb_resource_policy", "policy", PolicyKind.RESOURCE),
    ("aws_s3_bucket", "policy", PolicyKind.RESOURCE),
    ("aws_opensearch_domain", "access_policies", PolicyKind.RESOURCE),
    ("aws_elasticsearch_domain", "access_policies", PolicyKind.RESOURCE),
    ("aws_secretsmanager_secret", "policy", PolicyKind.RESOURCE),
    ("aws_glue_resource_policy", "policy", PolicyKind.RESOURCE),
    ("aws_ecrpublic_repository_policy", "policy", PolicyKind.RESOURCE),
])
def test_more_terraform_resources_hold_policies(rtype: str, attribute: str, kind: PolicyKind) -> None:
    loaded = load_text(f'resource "{rtype}" "r" {{\n  {attribute} = <<EOT\n{DOC}\nEOT\n}}\n', "main.tf", LoadOptions())
    assert [p.kind for p in loaded.policies] == [kind]


def test_a_plan_reads_policies_held_in_the_resource_itself_and_lists_documents_it_does_not_read() -> None:
    def resource(rtype: str, name: str, values: dict) -> dict:
        return {"address": f"{rtype}.{name}", "mode": "managed", "type": rtype, "name": name, "values": values}

    def configured(rtype: str, name: str, *arguments: str) -> dict:
        return {"address": f"{rtype}.{name}", "type": rtype, "name": name,
                "expressions": {argument: {"constant_value": "..."} for argument in arguments}}

    plan = {"format_version": "1.2",
            "planned_values": {"root_module": {"resources": [
                resource("aws_s3_bucket", "legacy", {"bucket": "legacy", "policy": DOC}),
                resource("aws_s3_bucket", "plain", {"bucket": "plain"}),
                resource("aws_secretsmanager_secret", "deleted", {"name": "deleted", "policy": "{}"}),
                resource("aws_vpclattice_auth_policy", "s3", {"resource_identifier": "svc-1", "policy": DOC}),
                resource("aws_vpclattice_auth_policy", "default", {"resource_identifier": "svc-1", "policy": DOC}),
                resource("aws_sqs_queue", "q", {"name": "q", "redrive_policy": '{"maxReceiveCount": 4}'})]}},
            "resource_changes": [{"address": "aws_s3_bucket.plain", "type": "aws_s3_bucket",
                                  "change": {"after": {}, "after_unknown": {"policy": True}}}],
            "configuration": {"root_module": {"resources": [
                configured("aws_s3_bucket", "legacy", "bucket", "policy"),
                configured("aws_s3_bucket", "plain", "bucket"),
                configured("aws_secretsmanager_secret", "deleted", "name", "policy"),
                configured("aws_vpclattice_auth_policy", "s3", "resource_identifier", "policy"),
                configured("aws_vpclattice_auth_policy", "default", "resource_identifier"),
                configured("aws_sqs_queue", "q", "name", "redrive_policy")]}}}
    loaded = load_text(json.dumps(plan), "plan.json", LoadOptions())
    assert [(p.label, p.kind) for p in loaded.policies] == [("aws_s3_bucket.legacy.policy", PolicyKind.RESOURCE)]
    assert loaded.document_problems == []
    assert loaded.not_checked == ["plan.json: aws_vpclattice_auth_policy.s3.policy: a policy document iam-audit does "
                                  "not read for aws_vpclattice_auth_policy: not checked"]


def test_a_plan_reads_a_computed_policy_attribute_only_where_the_configuration_sets_it() -> None:
    def resource(rtype: str, attribute: str) -> dict:
        return {"address": f"{rtype}.x", "mode": "managed", "type": rtype, "name": "x",
                "values": {"name": "x", attribute: DOC}}

    in_resource = [("aws_s3_bucket", "policy"), ("aws_sqs_queue", "policy"), ("aws_sns_topic", "policy"),
                   ("aws_secretsmanager_secret", "policy"), ("aws_opensearch_domain", "access_policies"),
                   ("aws_elasticsearch_domain", "access_policies")]
    state = {"format_version": "1.0", "values": {"root_module": {"resources": [
        resource(rtype, attribute) for rtype, attribute in in_resource]}}}
    assert len(load_text(json.dumps(state), "state.json", LoadOptions()).policies) == len(in_resource)
    plan = {"format_version": "1.2", "planned_values": state["values"],
            "configuration": {"root_module": {"resources": [
                {"address": f"{rtype}.x", "type": rtype, "name": "x",
                 "expressions": {"name": {"constant_value": "x"}}} for rtype, _ in in_resource]}}}
    loaded = load_text(json.dumps(plan), "plan.json", LoadOptions())
    assert loaded.policies == [] and loaded.not_checked == []


def test_grants_that_are_not_policy_documents_are_listed_as_not_checked() -> None:
    template = load_text("Resources:\n  P:\n    Type: AWS::Lambda::LayerVersionPermission\n    Properties:\n"
                         "      Action: lambda:GetLayerVersion\n      LayerVersionArn: arn\n      Principal: '*'\n",
                         "t.yaml", LoadOptions())
    assert template.not_checked == ["t.yaml: P: AWS::Lambda::LayerVersionPermission, a permission to use a layer "
                                    "version (not a policy document)"]
    terraform = load_text('resource "aws_lambda_layer_version_permission" "p" {\n  action = "lambda:GetLayerVersion"'
                          '\n  layer_name = "l"\n  principal = "*"\n}\n', "main.tf", LoadOptions())
    assert terraform.not_checked == ["main.tf: aws_lambda_layer_version_permission.p: a permission to use a layer "
                                     "version (not a policy document)"]


LAMBDA_PERMISSION_TF = """resource "aws_lambda_permission" "public" {
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.f.function_name
  principal     = "*"
}

resource "aws_lambda_permission" "own_bucket" {
  action         = "lambda:InvokeFunction"
  function_name  = "f"
  qualifier      = "live"
  principal      = "s3.amazonaws.com"
  source_arn     = "arn:aws:s3:::my-bucket"
  source_account = var.account_id
}
"""


def test_terraform_lambda_permissions_are_checked_as_the_statements_lambda_adds() -> None:
    loaded = load_text(LAMBDA_PERMISSION_TF, "main.tf", LoadOptions())
    statements = {policy.label: policy.statements[0] for policy in loaded.policies}
    assert statements["aws_lambda_permission.own_bucket"].resources == (
        "arn:aws:lambda:{{region}}:{{account}}:function:f:live",)
    assert {(c.key, c.values) for c in statements["aws_lambda_permission.own_bucket"].conditions} == {
        ("AWS:SourceArn", ("arn:aws:s3:::my-bucket",)), ("AWS:SourceAccount", ("{{var.account_id}}",))}
    found = [(f.rule_id, f.location.line) for f in
             run_rules(loaded, all_rules(), CheckContext(load_catalog()))]
    assert found == [("IAM030", 4)]  # at its principal
    plan = {"format_version": "1.2", "planned_values": {"root_module": {"resources": [
        {"address": "aws_lambda_permission.p", "mode": "managed", "type": "aws_lambda_permission", "name": "p",
         "values": {"action": "lambda:InvokeFunction", "function_name": "f", "principal": "*", "qualifier": None,
                    "source_arn": None, "source_account": ""}}]}}}  # a state's "" for an argument left unset
    planned = load_text(json.dumps(plan), "plan.json", LoadOptions())
    assert planned.policies[0].statements[0].conditions == ()
    assert [f.rule_id for f in run_rules(planned, all_rules(), CheckContext(load_catalog()))] == ["IAM030"]


def _role_description(name: str, trusted: str, url_encoded: bool = False) -> dict:
    from urllib.parse import quote

    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}]}
    return {"Path": "/", "RoleName": name, "RoleId": "AROAEXAMPLE", "Arn": f"arn:aws:iam::123456789012:role/{name}",
            "CreateDate": "2024-01-01T00:00:00+00:00", "MaxSessionDuration": 3600,
            "AssumeRolePolicyDocument": quote(json.dumps(trust)) if url_encoded else trust}


def test_get_role_output_is_the_trust_policy_of_that_role(tmp_path: Path) -> None:
    (tmp_path / "public.json").write_text(json.dumps({"Role": _role_description("x", "*")}, indent=4))
    (tmp_path / "own.json").write_text(json.dumps({"Role": _role_description("own", "arn:aws:iam::123456789012:root")}))
    (tmp_path / "encoded.json").write_text(json.dumps({"Role": _role_description("vendor", "999999999999", True)}))
    code, report = run_json(str(tmp_path))
    assert code == 1
    found = {(Path(f["location"]["path"]).name, f["rule_id"], f["severity"], f["location"]["line"],
              f["subject"]["kind"], f["subject"]["name"], f["subject"]["policy"]) for f in report["findings"]}
    public_line, _ = line_of(tmp_path / "public.json", '"AWS": "*"')
    assert found == {("public.json", "IAM035", "critical", public_line, "role", "x", "trust"),
                     ("encoded.json", "IAM031", "high", 1, "role", "vendor", "trust")}
    assert report["summary"]["skipped"] == []
    loaded = load_paths([str(tmp_path / "own.json")])
    assert [(p.kind, p.pointer, p.subject.arn if p.subject else None) for p in loaded.policies] == [
        (PolicyKind.TRUST, "/Role/AssumeRolePolicyDocument", "arn:aws:iam::123456789012:role/own")]


def test_list_roles_output_is_the_trust_policy_of_each_role() -> None:
    data = {"Roles": [_role_description("a", "arn:aws:iam::123456789012:root"), _role_description("b", "*")]}
    loaded = load_text(json.dumps(data), "roles.json", LoadOptions())
    assert [(p.kind, p.pointer, p.subject.name if p.subject else None) for p in loaded.policies] == [
        (PolicyKind.TRUST, "/Roles/0/AssumeRolePolicyDocument", "a"),
        (PolicyKind.TRUST, "/Roles/1/AssumeRolePolicyDocument", "b")]


def test_get_user_output_holds_no_policy_and_is_skipped() -> None:
    loaded = load_text('{"User": {"UserName": "u", "Arn": "arn:aws:iam::123456789012:user/u"}}', "u.json",
                       LoadOptions())
    assert (loaded.policies, loaded.skipped) == ([], [("u.json", "not an IAM policy (top-level keys: User)")])


def test_a_list_of_statements_is_a_policy_without_its_wrapper_not_a_skipped_file(tmp_path: Path) -> None:
    (tmp_path / "statements.json").write_text('[{"Effect": "Allow", "Action": "*", "Resource": "*"}]')
    code, report = run_json(str(tmp_path / "statements.json"))
    assert code == 1
    assert [(f["rule_id"], f["severity"], f["location"]["line"], f["location"]["column"], f["message"])
            for f in report["findings"]] == [
        ("IAM101", "high", 1, 1, 'a list of 1 statement is not a policy: wrap it as {"Version": "2012-10-17", '
                                 '"Statement": [ ... ]}')]
    assert report["summary"]["skipped"] == []


@pytest.mark.parametrize(
    "text",
    ['[1, 2]', '[]', '[{"name": "x", "version": "1.0"}]',
     '[{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Allow"}]'],
)
def test_other_lists_stay_skipped(text: str) -> None:
    loaded = load_text(text, "list.json", LoadOptions())
    assert (loaded.document_problems, loaded.skipped) == (
        [], [("list.json", "not an IAM policy (the document is a list)")])


def test_a_plan_checks_a_policy_document_once_where_a_resource_takes_it() -> None:
    """A data source whose JSON a resource takes is that resource's policy (as in a .tf file), not a second one."""
    def document(actions: list[str]) -> str:
        return json.dumps({"Version": "2012-10-17",
                           "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})

    used, inline, alone = document(["s3:*"]), document(["sqs:*"]), document(["ec2:*"])
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]})

    def data(address: str, text: str) -> dict:
        return {"address": address, "mode": "data", "type": "aws_iam_policy_document",
                "name": address.split(".")[-1].split("[")[0], "values": {"json": text}}

    def managed(address: str, rtype: str, values: dict) -> dict:
        return {"address": address, "mode": "managed", "type": rtype, "name": "x", "values": values}

    def reference(name: str) -> dict:
        return {"references": [f"data.aws_iam_policy_document.{name}.json", f"data.aws_iam_policy_document.{name}"]}

    module_resources = [data("module.m[0].data.aws_iam_policy_document.p", used),
                        managed("module.m[0].aws_iam_policy.p", "aws_iam_policy", {"name": "mp", "policy": used})]
    root_resources = [
        data("data.aws_iam_policy_document.p[0]", used), data("data.aws_iam_policy_document.inline", inline),
        data("data.aws_iam_policy_document.alone", alone), data("data.aws_iam_policy_document.trust", trust),
        managed("aws_iam_policy.p[0]", "aws_iam_policy", {"name": "p", "policy": used}),
        managed("aws_iam_role.r", "aws_iam_role", {"name": "r", "assume_role_policy": trust,
                                                   "inline_policy": [{"name": "i", "policy": inline}]})]
    values = {"root_module": {"resources": root_resources, "child_modules": [
        {"address": "module.m[0]", "resources": module_resources}]}}
    configuration = {"root_module": {
        "resources": [
            {"address": "aws_iam_policy.p", "type": "aws_iam_policy", "expressions": {"policy": reference("p")}},
            {"address": "aws_iam_role.r", "type": "aws_iam_role", "expressions": {
                "assume_role_policy": reference("trust"), "inline_policy": [{"policy": reference("inline")}]}}],
        "module_calls": {"m": {"module": {"resources": [
            {"address": "aws_iam_policy.p", "type": "aws_iam_policy", "expressions": {"policy": reference("p")}}]}}}}}
    expected = ["aws_iam_policy.p[0].policy", "aws_iam_role.r.assume_role_policy",
                "data.aws_iam_policy_document.alone.json", "inline:i", "module.m[0].aws_iam_policy.p.policy"]
    plan = {"format_version": "1.2", "planned_values": values, "configuration": configuration}
    loaded = load_text(json.dumps(plan), "plan.json", LoadOptions())
    assert sorted(policy.label for policy in loaded.policies) == expected
    state = {"format_version": "1.0", "values": values}  # no configuration: the same document in the same module
    loaded = load_text(json.dumps(state), "state.json", LoadOptions())
    assert sorted(policy.label for policy in loaded.policies) == expected

    # a resource that takes another document than the data source it refers to (its own text) leaves it checked
    root_resources[4] = managed("aws_iam_policy.p[0]", "aws_iam_policy", {"name": "p", "policy": alone})
    loaded = load_text(json.dumps(plan), "plan.json", LoadOptions())
    assert "data.aws_iam_policy_document.p[0].json" in {policy.label for policy in loaded.policies}


@pytest.mark.parametrize(("name", "text"), [
    ("package.json", '{"name": "app", "version": "1.0.0", "name": "app2"}'),
    ("configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: '1'\n  a: '2'\n"),
    ("template.yaml", "Resources:\n  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n"
                      "        Version: '2012-10-17'\n        Statement:\n          - Effect: Allow\n"
                      "            Action: s3:GetObject\n            Action: s3:PutObject\n            Resource: '*'\n"
                      "Outputs:\n  O:\n    Description: one\n    Description: two\n    Value: x\n"),
])
def test_a_duplicate_key_is_reported_only_inside_a_policy_document(name: str, text: str) -> None:
    """IAM never sees a package.json, a ConfigMap or a template's Outputs: a duplicate key there is no IAM108."""
    loaded = load_text(text, name, LoadOptions())
    duplicates = [problem.details["key"] for _, problem in loaded.document_problems if problem.rule == "duplicate-key"]
    assert duplicates == (["Action"] if name == "template.yaml" else [])


def test_a_plan_bounds_a_role_by_a_policy_of_the_same_plan_whose_arn_is_known_after_apply() -> None:
    """The usual plan: ``permissions_boundary = aws_iam_policy.boundary.arn`` is unknown until apply, and the
    configuration's reference says which policy it is (as for attachments). The role is bounded, the boundary
    grants nothing."""
    boundary = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                '"Resource": "*"}]}')
    plan = {"format_version": "1.2",
            "planned_values": {"root_module": {"resources": [
                {"address": "aws_iam_policy.boundary", "mode": "managed", "type": "aws_iam_policy", "name": "boundary",
                 "values": {"name": "BoundaryPolicy", "path": "/", "policy": boundary}},
                {"address": "aws_iam_role.bounded", "mode": "managed", "type": "aws_iam_role", "name": "bounded",
                 "values": {"name": "BoundedRole", "assume_role_policy": '{"Version": "2012-10-17", "Statement": '
                            '[{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": '
                            '"sts:AssumeRole"}]}',
                            "managed_policy_arns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}}]}},
            "resource_changes": [
                {"address": "aws_iam_role.bounded", "mode": "managed", "type": "aws_iam_role", "name": "bounded",
                 "change": {"actions": ["create"], "after_unknown": {"permissions_boundary": True, "arn": True}}}],
            "configuration": {"root_module": {"resources": [
                {"address": "aws_iam_policy.boundary", "mode": "managed", "type": "aws_iam_policy",
                 "name": "boundary", "expressions": {"name": {"constant_value": "BoundaryPolicy"},
                                                     "policy": {"constant_value": boundary}}},
                {"address": "aws_iam_role.bounded", "mode": "managed", "type": "aws_iam_role", "name": "bounded",
                 "expressions": {"name": {"constant_value": "BoundedRole"},
                                 "managed_policy_arns": {"constant_value": [
                                     "arn:aws:iam::aws:policy/AdministratorAccess"]},
                                 "permissions_boundary": {"references": ["aws_iam_policy.boundary.arn",
                                                                         "aws_iam_policy.boundary"]}}}]}}}
    loaded = load_text(json.dumps(plan), "plan.json", LoadOptions())
    [role] = loaded.principals
    assert role.permissions_boundary is not None and role.permissions_boundary.boundary_only
    assert [policy.boundary_only for policy in loaded.policies if policy.label == "aws_iam_policy.boundary.policy"] \
        == [True]


def _page(truncated: bool, **lists: list[dict[str, object]]) -> dict[str, object]:
    page: dict[str, object] = {key: [] for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")}
    page.update(lists)
    page["IsTruncated"] = truncated
    return page | ({"Marker": "next"} if truncated else {})


_ADMIN_DOCUMENT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_PAGES = [
    _page(True, UserDetailList=[{"UserName": "dev", "Arn": "arn:aws:iam::111122223333:user/dev",
                                 "GroupList": ["Admins"], "AttachedManagedPolicies": [], "UserPolicyList": []}]),
    _page(False, GroupDetailList=[{"GroupName": "Admins", "Arn": "arn:aws:iam::111122223333:group/Admins",
                                   "GroupPolicyList": [], "AttachedManagedPolicies": [
                                       {"PolicyName": "Everything",
                                        "PolicyArn": "arn:aws:iam::111122223333:policy/Everything"}]}],
          Policies=[{"PolicyName": "Everything", "Arn": "arn:aws:iam::111122223333:policy/Everything",
                     "DefaultVersionId": "v1", "PolicyVersionList": [
                         {"VersionId": "v1", "IsDefaultVersion": True, "Document": _ADMIN_DOCUMENT}]}]),
]


def test_pages_of_an_export_in_one_array_are_read_as_one_export() -> None:
    """``jq -s`` of the CLI's pages: a user of page 1 is in a group of page 2, whose policy is on page 2 too."""
    text = json.dumps(_PAGES, indent=2)
    loaded = load_text(text, "pages.json", LoadOptions())
    assert not loaded.skipped and not loaded.not_checked
    assert {(p.kind, p.name) for p in loaded.principals} == {("user", "dev"), ("group", "Admins")}
    [dev] = [p for p in loaded.principals if p.name == "dev"]
    assert [policy.label for policy in dev.group_policies] == ["arn:aws:iam::111122223333:policy/Everything"]
    [admin] = [f for f in run_rules(loaded, all_rules(), CheckContext(load_catalog())) if f.rule_id == "IAM001"]
    lines = text.splitlines()
    assert admin.location.line > lines.index('    "UserDetailList": [],')  # on the second page
    assert lines[admin.location.line - 1].strip() == "{" and '"Effect": "Allow"' in lines[admin.location.line]


def test_pages_in_any_order_are_complete_when_one_of_them_is_the_last() -> None:
    """``jq -s . page*.json`` puts page10 before page2: the pages are all there when one says it is not truncated."""
    loaded = load_text(json.dumps([_PAGES[1], _PAGES[0]]), "pages.json", LoadOptions())
    assert not [line for line in loaded.not_checked if "incomplete" in line]
    truncated = load_text(json.dumps([_PAGES[0], _PAGES[0]]), "pages.json", LoadOptions())
    assert [line for line in truncated.not_checked if "incomplete" in line]


@pytest.mark.parametrize("stray", [{}, None, 5, [], {"Foo": 1}])
def test_an_item_that_is_not_a_page_is_reported_and_the_pages_are_read(stray: object) -> None:
    """One odd item of a ``jq -s`` array made the whole file "not an IAM policy", skipped, and the run pass."""
    text = json.dumps([_PAGES[0], stray, _PAGES[1]], indent=2)
    loaded = load_text(text, "pages.json", LoadOptions())
    assert not loaded.skipped
    assert {(p.kind, p.name) for p in loaded.principals} == {("user", "dev"), ("group", "Admins")}
    [(_, problem)] = loaded.document_problems
    assert problem.message.startswith("item 1 of the list is ") and problem.pointer == "/1"
    assert text.splitlines()[problem.line - 1].strip().startswith(json.dumps(stray)[0])  # where the item begins
    found = {f.rule_id for f in run_rules(loaded, all_rules(), CheckContext(load_catalog()))}
    assert {"IAM001", "IAM109"} <= found


def test_what_an_export_entry_leaves_unknown_is_said() -> None:
    """A null user list, a group name that is not text, an attachment without its ARN and a role without its trust
    policy each lost principals or policies without a word."""
    role = {"RoleName": "r", "Arn": "arn:aws:iam::111122223333:role/r", "RolePolicyList": [],
            "AttachedManagedPolicies": [{"PolicyName": "x", "PolicyArn": None}]}
    user = {"UserName": "u", "Arn": "arn:aws:iam::111122223333:user/u", "GroupList": [7],
            "AttachedManagedPolicies": [], "UserPolicyList": []}
    loaded = load_text(json.dumps({"UserDetailList": [user], "GroupDetailList": None, "RoleDetailList": [role],
                                   "Policies": []}, indent=2), "export.json", LoadOptions())
    problems = {problem.pointer: problem.message for _, problem in loaded.document_problems}
    assert problems["/GroupDetailList"].startswith("GroupDetailList must be a list, found null")
    assert "not a group name" in problems["/UserDetailList/0/GroupList/0"]
    assert "without a PolicyArn" in problems["/RoleDetailList/0/AttachedManagedPolicies/0"]
    assert "role r: no AssumeRolePolicyDocument in the export, so who may assume it was not checked" in \
        loaded.not_checked


def test_one_page_of_an_export_says_the_others_were_not_checked() -> None:
    loaded = load_text(json.dumps(_PAGES[0]), "page1.json", LoadOptions())
    assert "user dev: group Admins is not in the export" in loaded.not_checked
    [note] = [line for line in loaded.not_checked if "incomplete" in line]
    assert note.startswith("page1.json: the export is incomplete: it is one page of get-account-authorization-"
                           "details (IsTruncated: true)")
    assert not load_text(json.dumps(_PAGES[1]), "page2.json", LoadOptions()).not_checked


def test_a_missing_privileged_managed_policy_is_said_to_be_reported_by_its_name() -> None:
    user = {"UserName": "u1", "Arn": "arn:aws:iam::111122223333:user/u1", "GroupList": [], "UserPolicyList": [],
            "AttachedManagedPolicies": [
                {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
                {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]}
    loaded = load_text(json.dumps({"UserDetailList": [user], "GroupDetailList": [], "RoleDetailList": [],
                                   "Policies": []}), "export.json", LoadOptions())
    assert loaded.not_checked == [
        "user u1: attached policy arn:aws:iam::aws:policy/AdministratorAccess is not in the export, so its statements "
        "were not checked (what it grants is still reported, by its name: IAM006)",
        "user u1: attached policy arn:aws:iam::aws:policy/ReadOnlyAccess is not in the export, so its statements were "
        "not checked"]


def test_the_parts_of_a_plan_terraform_does_not_write_so_are_said() -> None:
    """resources: {}, a module or resource that is not an object, values: null: each was passed over silently."""
    plan = {"format_version": "1.2", "planned_values": {"root_module": {
        "resources": [{"address": "aws_iam_policy.p", "mode": "managed", "type": "aws_iam_policy", "name": "p",
                       "values": None}, 5],
        "child_modules": [None, {"resources": {}}]}}}
    loaded = load_text(json.dumps(plan, indent=1), "plan.json", LoadOptions())
    messages = sorted(problem.message for _, problem in loaded.document_problems)
    assert messages == ["a module must be an object, found null: not read",
                        "a resource must be an object, found a number: not read",
                        "resources must be a list, found an object: not read",
                        "the values of aws_iam_policy.p must be an object, found null: not read"]
