"""The IAM semantics the peers get wrong, one test each, plus the seeds' verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, Selection, run_rules
from auditor.loaders import LoadOptions, load_paths, load_text
from auditor.model import Finding, PolicyKind
from tests.conftest import FIXTURES

V = '{"Version": "2012-10-17", "Statement": ['
RULES = all_rules()


def findings(statements: str, kind: PolicyKind = PolicyKind.IDENTITY, select: str = "") -> list[Finding]:
    loaded = load_text(V + statements + "]}", "p.json", LoadOptions(kind=kind))
    selection = Selection(select=frozenset(select.split())) if select else None
    return run_rules(loaded, RULES, CheckContext(load_catalog()), selection)


def ids(statements: str, kind: PolicyKind = PolicyKind.IDENTITY) -> set[str]:
    return {f.rule_id for f in findings(statements, kind)}


def export(**entries: object) -> str:
    document: dict[str, object] = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    document.update(entries)
    return json.dumps(document)


def escalations(text: str) -> dict[str, set[str]]:
    loaded = load_text(text, "export.json", LoadOptions())
    found: dict[str, set[str]] = {}
    for f in run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"}))):
        found.setdefault((f.subject or {}).get("name", "?"), set()).add(f.details["path"])
    return found


# Conditions: ANDed across keys, ORed within one key.

def test_one_narrowing_key_is_enough_because_keys_are_anded() -> None:
    statement = ('{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", '
                 '"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}, '
                 '"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}}')
    assert "IAM030" not in ids(statement, PolicyKind.RESOURCE)


def test_one_wildcard_value_opens_the_key_because_values_are_ored() -> None:
    statement = ('{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", '
                 '"Condition": {"StringLike": {"aws:PrincipalAccount": ["123456789012", "*"]}}}')
    assert "IAM030" in ids(statement, PolicyKind.RESOURCE)


def test_kms_via_service_alone_does_not_narrow_a_public_key_policy() -> None:
    statement = ('{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*", '
                 '"Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}')
    assert "IAM030" in ids(statement, PolicyKind.RESOURCE)
    with_account = statement.replace('"StringEquals": {', '"StringEquals": {"kms:CallerAccount": "123456789012", ')
    assert "IAM030" not in ids(with_account, PolicyKind.RESOURCE)


def test_negated_and_if_exists_operators_do_not_narrow() -> None:
    for operator in ("StringNotEquals", "StringEqualsIfExists"):
        statement = ('{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", '
                     '"Resource": "arn:aws:sqs:us-east-1:123456789012:q", '
                     f'"Condition": {{"{operator}": {{"aws:SourceAccount": "123456789012"}}}}}}')
        assert "IAM030" in ids(statement, PolicyKind.RESOURCE), operator


def test_deny_with_principal_star_is_a_guardrail_not_exposure() -> None:
    statement = ('{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", '
                 '"Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}')
    assert "IAM030" not in ids(statement, PolicyKind.RESOURCE)


@pytest.mark.parametrize(("ranges", "actions", "severity"), [
    ('["192.0.2.0/24", "198.51.100.0/24"]', '"s3:GetObject"', "low"),
    ('"192.0.2.0/24"', '"s3:PutObject"', "medium"),
    ('"0.0.0.0/1"', '"s3:GetObject"', "high"),  # half of every address: no allow-list
])
def test_a_deny_outside_listed_addresses_is_an_allow_list(ranges: str, actions: str, severity: str) -> None:
    """As API Gateway's documented IP allow-list is written: Allow everyone, Deny everyone outside the ranges."""
    statements = (f'{{"Effect": "Allow", "Principal": "*", "Action": {actions}, "Resource": "arn:aws:s3:::b/*"}}, '
                  '{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", '
                  f'"Condition": {{"NotIpAddress": {{"aws:SourceIp": {ranges}}}}}}}')
    [public] = [f for f in findings(statements, PolicyKind.RESOURCE) if f.rule_id == "IAM030"]
    assert public.severity.value == severity, public.message
    assert ("NotIpAddress" in public.message) == (severity != "high")


# Deny subtracts from Allow across all policies of a principal.

def test_deny_in_another_attached_policy_removes_the_escalation() -> None:
    allow = {"PolicyName": "allow", "Arn": "arn:aws:iam::111122223333:policy/allow", "DefaultVersionId": "v1",
             "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": {
                 "Version": "2012-10-17",
                 "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}}]}
    deny = {"PolicyName": "deny", "Arn": "arn:aws:iam::111122223333:policy/deny", "DefaultVersionId": "v1",
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}}]}
    attached = [{"PolicyName": p["PolicyName"], "PolicyArn": p["Arn"]} for p in (allow, deny)]
    text = export(
        UserDetailList=[
            {"UserName": "both", "Arn": "arn:aws:iam::111122223333:user/both", "AttachedManagedPolicies": attached},
            {"UserName": "allow-only", "Arn": "arn:aws:iam::111122223333:user/allow-only",
             "AttachedManagedPolicies": attached[:1]},
        ],
        Policies=[allow, deny],
    )
    found = escalations(text)
    assert "both" not in found
    assert "iam-put-user-policy" in found["allow-only"]
    # the allow policy is in effect for a user, so it is not reported again on its own
    assert set(found) == {"allow-only"}


def test_group_policies_count_for_their_members() -> None:
    text = export(
        GroupDetailList=[{"GroupName": "admins-ish", "Arn": "arn:aws:iam::111122223333:group/admins-ish",
                          "GroupPolicyList": [{"PolicyName": "g", "PolicyDocument": {
                              "Version": "2012-10-17",
                              "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}}],
                          "AttachedManagedPolicies": []}],
        UserDetailList=[{"UserName": "member", "Arn": "arn:aws:iam::111122223333:user/member",
                         "GroupList": ["admins-ish"], "AttachedManagedPolicies": [],
                         "UserPolicyList": [{"PolicyName": "own", "PolicyDocument": {
                             "Version": "2012-10-17",
                             "Statement": [{"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}]}}]}],
    )
    found = escalations(text)
    assert "passrole-ec2-runinstances" in found["member"]
    assert set(found) == {"member"}


def test_changing_groups_and_other_users_raises_a_user_not_a_role() -> None:
    """A role belongs to no group: attaching a policy to a group, or adding a user to one, raises a user."""
    grant = [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:AttachGroupPolicy", "iam:PutGroupPolicy", "iam:AddUserToGroup",
                                       "iam:AttachUserPolicy", "iam:CreateAccessKey"], "Resource": "*"}]}}]
    text = export(
        UserDetailList=[{"UserName": "ops", "Arn": "arn:aws:iam::111122223333:user/ops", "GroupList": [],
                         "AttachedManagedPolicies": [], "UserPolicyList": grant}],
        RoleDetailList=[{"RoleName": "ops-role", "Arn": "arn:aws:iam::111122223333:role/ops-role",
                         "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                         "AttachedManagedPolicies": [], "RolePolicyList": grant}],
    )
    loaded = load_text(text, "export.json", LoadOptions())
    severity: dict[tuple[str, str], str] = {}
    for f in run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"}))):
        severity[((f.subject or {})["name"], f.details["path"])] = f.severity.value
        if f.details["path"] in ("iam-attach-group-policy", "iam-add-user-to-group"):
            assert ("not this role" in f.message) == (f.subject or {})["name"].endswith("-role"), f.message
    group_and_user = {"iam-attach-group-policy", "iam-put-group-policy", "iam-add-user-to-group",
                      "iam-attach-user-policy"}
    assert {severity["ops", path] for path in group_and_user | {"iam-create-access-key"}} == {"high"}
    # the role raises the users whoever controls it holds (as IAM Vulnerable's role variants do); another user's keys
    # are the role's own way up
    assert {severity["ops-role", path] for path in group_and_user} == {"medium"}
    assert severity["ops-role", "iam-create-access-key"] == "high"
    alone = [f.details["path"] for f in findings(json.dumps(grant[0]["PolicyDocument"]["Statement"][0]),
                                                 select="IAM012")]
    assert group_and_user <= set(alone)  # a policy file: whoever holds it may be a user


# A grant of everything (IAM001) does not hide what the other statements enable.

LAUNCH = '{"Sid": "Launch", "Effect": "Allow", "Action": ["ec2:RunInstances", "iam:PassRole"], "Resource": "*"}'
ADMIN = '{"Effect": "Allow", "Action": "*", "Resource": "*"}'


@pytest.mark.parametrize("select", ["", "IAM012", "privilege-escalation"])
def test_an_admin_statement_beside_an_escalation_does_not_hide_it(select: str) -> None:
    reported = findings(f"{LAUNCH}, {ADMIN}", select=select)
    assert [(f.rule_id, f.statement.sid if f.statement else None) for f in reported
            if f.rule_id == "IAM012"] == [("IAM012", "Launch")]
    assert ("IAM001" in {f.rule_id for f in reported}) == (select == "")


def test_an_admin_statement_alone_has_nothing_to_escalate_to() -> None:
    assert {f.rule_id for f in findings(ADMIN)} == {"IAM001"}


def test_a_user_who_is_also_an_administrator_keeps_the_escalation_of_another_policy() -> None:
    inline = {"PolicyName": "Deploy", "PolicyDocument": {"Version": "2012-10-17", "Statement": [json.loads(LAUNCH)]}}
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    admin = {"PolicyName": "AdministratorAccess", "Arn": arn, "DefaultVersionId": "v1", "PolicyVersionList": [
        {"VersionId": "v1", "IsDefaultVersion": True, "Document": {"Version": "2012-10-17",
                                                                   "Statement": [json.loads(ADMIN)]}}]}
    attached = [{"PolicyName": "AdministratorAccess", "PolicyArn": arn}]
    alice = {"UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice", "UserPolicyList": [inline]}
    before = escalations(export(UserDetailList=[{**alice, "AttachedManagedPolicies": []}], Policies=[admin]))
    after = escalations(export(UserDetailList=[{**alice, "AttachedManagedPolicies": attached}], Policies=[admin]))
    assert before == after == {"alice": {"passrole-ec2-runinstances"}}


# NotAction / NotResource are complements over the catalogue.

def test_allow_not_action_iam_still_grants_almost_everything() -> None:
    reported = findings('{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}')
    assert {"IAM004", "IAM020", "IAM021", "IAM022", "IAM003"} <= {f.rule_id for f in reported}
    assert "IAM001" not in {f.rule_id for f in reported}  # no way to grant itself iam:*


def test_allow_not_action_with_tiny_exclusions_is_admin_and_escalates() -> None:
    assert {"IAM001", "IAM004", "IAM012"} <= ids(
        '{"Effect": "Allow", "NotAction": ["iam:Update*", "iam:Create*", "iam:Attach*"], "Resource": "*"}')


# Actions that accept only "*".

def test_actions_that_accept_only_star_are_never_wildcard_resource() -> None:
    assert ids('{"Effect": "Allow", "Action": ["ec2:DescribeInstances", "iam:ListRoles", "s3:ListAllMyBuckets", '
               '"sts:GetCallerIdentity"], "Resource": "*"}') == set()
    hit = findings('{"Effect": "Allow", "Action": ["ec2:DescribeInstances", "sqs:DeleteQueue"], "Resource": "*"}',
                   select="IAM003")
    assert [f.details["actions"] for f in hit] == [["sqs:DeleteQueue"]]


# Wildcards and letter case as IAM does; policy variables are not errors.

def test_question_mark_and_letter_case_match_like_iam() -> None:
    assert "IAM012" in ids('{"Effect": "Allow", "Action": ["IAM:passrole", "ec2:RunInstance?"], "Resource": "*"}')


def test_policy_variables_are_fine_and_self_service_is_not_escalation() -> None:
    assert ids('{"Effect": "Allow", "Action": ["iam:CreateAccessKey", "iam:UpdateLoginProfile"], '
               '"Resource": "arn:aws:iam::*:user/${aws:username}"}') == set()
    assert "IAM012" in ids('{"Effect": "Allow", "Action": "iam:PutUserPolicy", '
                           '"Resource": "arn:aws:iam::*:user/${aws:username}"}')


# Escalation: resources and conditions.

def test_tag_condition_does_not_fence_passrole_escalation() -> None:
    reported = findings(
        '{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},'
        '{"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*", '
        '"Condition": {"StringLike": {"aws:RequestTag/Name": "*upsolver*"}}}', select="IAM012")
    assert {f.details["path"] for f in reported} >= {"passrole-ec2-runinstances"}


def test_insider_conditions_do_not_fence_but_passed_to_service_does() -> None:
    insider = ('{"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*", '
               '"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}, '
               '"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}')
    assert "IAM012" in ids(insider)
    other_service = ('{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*", '
                     '"Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}},'
                     '{"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}')
    assert "IAM012" not in ids(other_service)
    same_service = other_service.replace("glue.amazonaws.com", "ec2.amazonaws.com")
    assert "IAM012" in ids(same_service)


def test_passrole_on_a_literal_role_is_medium_and_on_aws_managed_policy_nothing() -> None:
    reported = findings('{"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], '
                        '"Resource": ["arn:aws:iam::123456789012:role/app", "arn:aws:ec2:*:*:instance/*"]}',
                        select="IAM012")
    assert [(f.details["path"], f.severity.value) for f in reported] == [("passrole-ec2-runinstances", "medium")]
    assert "IAM012" not in ids('{"Effect": "Allow", "Action": "iam:CreatePolicyVersion", '
                               '"Resource": "arn:aws:iam::aws:policy/fp4-*"}')
    assert "IAM012" in ids('{"Effect": "Allow", "Action": "iam:CreatePolicyVersion", '
                           '"Resource": "arn:aws:iam::*:policy/fn2-*"}')


def test_passrole_on_a_resource_of_another_type_is_not_escalation() -> None:
    assert "IAM012" not in ids('{"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], '
                               '"Resource": "arn:aws:s3:::bucket/*"}')


# Trust policies.

def test_cross_account_trust_needs_external_id_but_same_account_does_not() -> None:
    role = {"RoleName": "r", "Arn": "arn:aws:iam::111122223333:role/r", "AttachedManagedPolicies": [],
            "RolePolicyList": [], "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"]}}]}}
    loaded = load_text(export(RoleDetailList=[role]), "e.json", LoadOptions())
    reported = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM031"})))
    assert [(f.details["principals"], f.severity.value) for f in reported] == [(["444455556666"], "high")]


def test_external_id_placeholders() -> None:
    for value in ("<get_from_upsolver>", "${ExternalId}", "EXTERNAL_ID", "YOUR_EXTERNAL_ID"):
        statement = ('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
                     f'"Action": "sts:AssumeRole", "Condition": {{"StringEquals": {{"sts:ExternalId": "{value}"}}}}}}')
        assert ids(statement, PolicyKind.TRUST) == {"IAM032"}, value
    real = ('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
            '"Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "GTWKRE6K"}}}')
    assert ids(real, PolicyKind.TRUST) == set()


def test_github_oidc_without_sub_is_critical() -> None:
    statement = ('{"Effect": "Allow", "Principal": {"Federated": '
                 '"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, '
                 '"Action": "sts:AssumeRoleWithWebIdentity"}')
    (finding,) = findings(statement, PolicyKind.TRUST)
    assert (finding.rule_id, finding.severity.value) == ("IAM033", "critical")


_GITHUB = ('{"Effect": "Allow", "Principal": {"Federated": '
           '"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, '
           '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": '
           '{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, "OPERATOR": '
           '{"token.actions.githubusercontent.com:sub": "SUB"}}}')


@pytest.mark.parametrize(("operator", "sub", "expected"), [
    ("StringLike", "repo:*", ("critical", "admits every repository or subject of every owner")),
    ("StringLike", "repo:acme*", ("critical", "admits every repository or subject of every owner")),
    ("StringLike", "repo:*:ref:refs/heads/main", ("critical", "of every owner")),
    ("StringLike", "repo:acme/*", ("high", "'repo:acme/*' admits every repository of acme")),
    ("StringNotEquals", "repo:evil/x:ref:refs/heads/main", ("critical", "(StringNotEquals) names no subject")),
    ("StringLikeIfExists", "repo:acme/app:*", None),
    ("StringEqualsIgnoreCase", "repo:acme/*", None),  # compares the * as a character: names no real repository
])
def test_github_oidc_sub_reach_sets_the_severity(operator: str, sub: str, expected: tuple[str, str] | None) -> None:
    reported = findings(_GITHUB.replace("OPERATOR", operator).replace("SUB", sub), PolicyKind.TRUST, "IAM033")
    if expected is None:
        assert reported == []
        return
    (finding,) = reported
    assert finding.severity.value == expected[0] and expected[1] in finding.message


def test_principal_star_in_trust_is_critical_unless_confined() -> None:
    open_trust = '{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}'
    assert ids(open_trust, PolicyKind.TRUST) == {"IAM035"}
    confined = ('{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", '
                '"Condition": {"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/ci"}}}')
    # not any principal: the role of 123456789012, which may be another account's (medium, as if named)
    assert [(f.rule_id, f.severity.value) for f in findings(confined, PolicyKind.TRUST)] == [("IAM031", "medium")]
    assert iam031(confined, trusted=("123456789012",)) == []


def test_confused_deputy_skips_execution_roles() -> None:
    assert ids('{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}, '
               '"Action": "sts:AssumeRole"}', PolicyKind.TRUST) == set()
    assert ids('{"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, '
               '"Action": "sts:AssumeRole"}', PolicyKind.TRUST) == {"IAM034"}


# Seeds: vendor documents.

def _documents(text: str) -> list[str]:
    """The JSON objects of a plain-text page that start at the beginning of a line."""
    decoder = json.JSONDecoder()
    found = []
    for index in range(len(text)):
        if text[index] == "{" and (index == 0 or text[index - 1] == "\n"):
            try:
                _, end = decoder.raw_decode(text, index)
            except ValueError:
                continue
            found.append(text[index:end])
    return found


def test_upsolver_management_role_is_privilege_escalation_and_its_trust_unbound(shared_dir: Path) -> None:
    documents = _documents((shared_dir / "seeds" / "001_79a0f7ecc5e73f2e.txt").read_text(encoding="utf-8"))
    management = next(d for d in documents if "iam:PassRole" in d and "ec2:RunInstances" in d)
    assert "aws:RequestTag/Name" in management or "ResourceTag" in management
    loaded = load_text(management, "upsolver.json", LoadOptions())
    reported = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
    assert "passrole-ec2-runinstances" in {f.details["path"] for f in reported}
    trust = next(d for d in documents if "sts:ExternalId" in d)
    loaded = load_text(trust, "trust.json", LoadOptions(kind=PolicyKind.TRUST))
    trust_rules = Selection(select=frozenset({"cross-account-trust"}))
    reported = run_rules(loaded, RULES, CheckContext(load_catalog()), trust_rules)
    assert sorted(f.rule_id for f in reported) == ["IAM032", "IAM032"]


def test_stackstate_kms_key_policy_is_public(shared_dir: Path) -> None:
    text = (shared_dir / "seeds" / "003_490ddbd6cfeee02b.txt").read_text(encoding="utf-8")
    sid = text.index('"Sid": "AllowS3Access"')
    start = text.rindex("{", 0, sid)
    end = text.index("}\n        }", sid) + len("}\n        }")
    statement = text[start:end]
    reported = findings(statement, PolicyKind.RESOURCE, select="IAM030")
    assert len(reported) == 1


# CloudFormation values known only at deployment (!Ref, !GetAtt, pseudo parameters)

_TEMPLATE = """
Parameters:
  ExternalId: {Type: String, NoEcho: true}
  Partner: {Type: String}
Resources:
  Queue: {Type: AWS::SQS::Queue}
  Ci: {Type: AWS::IAM::Role}
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: "*", Action: sqs:SendMessage, Resource: !GetAtt Queue.Arn,
             Condition: {ArnEquals: {aws:SourceArn: !Ref Topic}}}
          - {Effect: Allow, Principal: "*", Action: sqs:SendMessage, Resource: !GetAtt Queue.Arn,
             Condition: {StringEquals: {aws:SourceAccount: !Ref AWS::AccountId}}}
          - {Effect: Allow, Principal: "*", Action: sqs:SendMessage, Resource: !GetAtt Queue.Arn,
             Condition: {ArnLike: {aws:SourceArn: !Sub "arn:aws:sns:${AWS::Region}:*:alerts"}}}
  VendorRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {AWS: !Sub "arn:aws:iam::${Partner}:root"}, Action: sts:AssumeRole,
             Condition: {StringEquals: {sts:ExternalId: !Ref ExternalId}}}
          - {Effect: Allow, Principal: {AWS: !GetAtt Ci.Arn}, Action: sts:AssumeRole}
          - {Effect: Allow, Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}, Action: sts:AssumeRole}
          - {Effect: Allow, Principal: {AWS: !Ref Partner}, Action: sts:AssumeRole}
"""


def test_deploy_time_values_narrow_and_are_not_placeholders() -> None:
    loaded = load_text(_TEMPLATE, "stack.yaml", LoadOptions())
    reported = run_rules(loaded, RULES, CheckContext(load_catalog()),
                         Selection(select=frozenset({"public-access", "cross-account-trust"})))
    # only the ArnLike with a wildcard account opens the queue, and only the parameter account lacks an external id
    assert sorted((f.rule_id, f.location.line) for f in reported) == [("IAM030", 19), ("IAM031", 31)]


def test_template_values_as_provider_or_action_are_unknown_not_wrong() -> None:
    loaded = load_paths([str(FIXTURES / "loaders/cfn-oidc-template.yaml")])
    reported = run_rules(loaded, RULES, CheckContext(load_catalog()))
    # the provider is !GetAtt: its aud/sub conditions still count; !Sub "s3:${Act}" and !Ref Act are no typos
    assert sorted((f.rule_id, f.location.line) for f in reported) == [("IAM033", 19)]


def _boundary_export(attached: bool) -> str:
    policy = {"PolicyName": "boundary", "Arn": "arn:aws:iam::111122223333:policy/boundary", "DefaultVersionId": "v1",
              "AttachmentCount": 1 if attached else 0,
              "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": {
                  "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}]}
    role = {"RoleName": "app", "Arn": "arn:aws:iam::111122223333:role/app", "RolePolicyList": [],
            "AttachedManagedPolicies": [{"PolicyArn": policy["Arn"]}] if attached else [],
            "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": policy["Arn"]},
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}
    return export(Policies=[policy], RoleDetailList=[role])


def test_a_policy_used_only_as_a_permissions_boundary_grants_nothing() -> None:
    select = Selection(select=frozenset({"IAM002", "IAM003", "IAM021"}))
    for attached, severity in ((False, "info"), (True, "medium")):
        loaded = load_text(_boundary_export(attached), "account.json", LoadOptions())
        reported = run_rules(loaded, RULES, CheckContext(load_catalog()), select)
        assert {f.rule_id for f in reported} == {"IAM002", "IAM003", "IAM021"}
        assert {f.severity.value for f in reported} == {severity}, attached
        assert all(("only a permissions boundary" in f.message) is not attached for f in reported)


def test_admin_managed_policy_attached_in_a_template_is_found_at_its_line() -> None:
    template = """Resources:
  Vendor:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow,
        Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/ReadOnlyAccess
        - !Sub "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"
"""
    loaded = load_text(template, "stack.yaml", LoadOptions())
    (finding,) = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM006"})))
    assert (finding.severity.value, finding.location.line, finding.location.column) == ("critical", 9, 11)
    assert finding.details["policy_arn"] == "arn:aws:iam::aws:policy/AdministratorAccess"


_ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.mark.parametrize(("user", "groups", "severity", "denied_by"), [
    # a quarantine after leaked keys: an explicit Deny of everything overrides the Allow
    ({"UserPolicyList": [{"PolicyName": "Quarantine", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "*", "Resource": "*"}]}}]}, [], "info", "inline:Quarantine"),
    ({"GroupList": ["Quarantined"]}, [{"GroupName": "Quarantined", "GroupPolicyList": [], "AttachedManagedPolicies": [
        {"PolicyName": "AWSDenyAll", "PolicyArn": "arn:aws:iam::aws:policy/AWSDenyAll"}]}], "info",
     "arn:aws:iam::aws:policy/AWSDenyAll"),
    # a Deny under a condition (no MFA) leaves the Allow in force otherwise
    ({"UserPolicyList": [{"PolicyName": "Mfa", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}}]}, [], "critical", None),
    ({"UserPolicyList": [{"PolicyName": "NoIam", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}}]}, [], "critical", None),
])
def test_administrator_access_under_a_deny_of_everything_grants_nothing(
        user: dict[str, object], groups: list[dict[str, object]], severity: str, denied_by: str | None) -> None:
    leaked = {"UserName": "leaked", "Arn": "arn:aws:iam::111122223333:user/leaked", "GroupList": [],
              "UserPolicyList": [], "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess",
                                                                 "PolicyArn": _ADMIN_ARN}]} | user
    groups = [{"Arn": f"arn:aws:iam::111122223333:group/{g['GroupName']}"} | g for g in groups]
    loaded = load_text(export(UserDetailList=[leaked], GroupDetailList=groups), "export.json", LoadOptions())
    [admin] = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM006"})))
    assert admin.severity.value == severity and admin.details.get("denied_by") == denied_by


_GITLAB = ('{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/gitlab.com"}, '
           '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"gitlab.com:aud": '
           '"https://gitlab.com"}, "StringLike": {"gitlab.com:sub": "SUB"}}}')
_TFC = _GITLAB.replace("gitlab.com", "app.terraform.io")


@pytest.mark.parametrize(("statement", "expected"), [
    (_GITLAB.replace("SUB", "project_path:*"), {"IAM033"}),
    (_GITLAB.replace("SUB", "project_path:group/*"), {"IAM033"}),
    (_GITLAB.replace("SUB", "project_path:group/app:ref_type:branch:ref:main"), set()),
    (_TFC.replace("SUB", "organization:*"), {"IAM033"}),
    (_TFC.replace("SUB", "organization:acme:*"), {"IAM033"}),
    (_TFC.replace("SUB", "organization:acme:project:infra:workspace:prod:run_phase:apply"), set()),
    ('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole", '
     '"Condition": {"StringLike": {"sts:ExternalId": "*"}}}', {"IAM031"}),  # every caller's id matches
    ('{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", '
     '"Condition": {"StringEquals": {"aws:ResourceAccount": "111122223333"}}}', {"IAM035"}),  # the role's own
    ('{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", '
     '"Condition": {"StringEquals": {"aws:PrincipalAccount": "111122223333"}}}', {"IAM031"}),  # as if named:
    # medium, the role's own account being unknown in a plain file
])
def test_trust_conditions_that_do_or_do_not_confine(statement: str, expected: set[str]) -> None:
    assert ids(statement, PolicyKind.TRUST) == expected



def _bounded_role(boundary: list[dict[str, object]]) -> str:
    def managed(name: str, statements: list[dict[str, object]], attached: int) -> dict[str, object]:
        return {"PolicyName": name, "Arn": f"arn:aws:iam::111122223333:policy/{name}", "DefaultVersionId": "v1",
                "AttachmentCount": attached, "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True,
                                                                    "Document": {"Version": "2012-10-17",
                                                                                 "Statement": statements}}]}
    role = {"RoleName": "r1", "Arn": "arn:aws:iam::111122223333:role/r1",
            "RolePolicyList": [{"PolicyName": "pass", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}}],
            "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::111122223333:policy/run"}],
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}
    policies = [managed("run", [{"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}], 1)]
    if boundary:
        role["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy",
                                       "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/bnd"}
        policies.append(managed("bnd", boundary, 0))
    return export(Policies=policies, RoleDetailList=[role])


@pytest.mark.parametrize(("boundary", "escalates"), [
    ([], True),
    ([{"Effect": "Allow", "Action": ["ec2:*", "s3:*"], "Resource": "*"}], False),  # no iam:PassRole inside
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"},
      {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}], False),
    ([{"Effect": "Allow", "Action": ["ec2:*", "iam:PassRole"], "Resource": "*"}], True),
])
def test_a_permissions_boundary_bounds_what_a_principal_can_escalate_with(
        boundary: list[dict[str, object]], escalates: bool) -> None:
    loaded = load_text(_bounded_role(boundary), "account.json", LoadOptions())
    reported = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
    on_role = [f for f in reported if (f.subject or {}).get("name") == "r1"
               and f.details.get("path") == "passrole-ec2-runinstances"]
    assert bool(on_role) is escalates


def _pass_and_run(attached: list[dict[str, object]] = (), boundary: list[dict[str, object]] = ()
                  ) -> list[tuple[str, str]]:
    """(severity, resource scope) of the PassRole-to-EC2 escalations of user dev of account 111122223333, who may
    pass any role and run any instance, with a managed policy of ``attached`` statements and a boundary."""
    def managed(name: str, statements: list[dict[str, object]]) -> dict[str, object]:
        return {"PolicyName": name, "Arn": f"arn:aws:iam::111122223333:policy/{name}", "DefaultVersionId": "v1",
                "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True,
                                       "Document": {"Version": "2012-10-17", "Statement": statements}}]}
    user: dict[str, object] = {
        "UserName": "dev", "Arn": "arn:aws:iam::111122223333:user/dev",
        "UserPolicyList": [{"PolicyName": "work", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}]}}],
        "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::111122223333:policy/guard"}] if attached else []}
    policies = [managed("guard", list(attached))] if attached else []
    if boundary:
        user["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy",
                                       "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/bnd"}
        policies.append(managed("bnd", list(boundary)))
    loaded = load_text(export(Policies=policies, UserDetailList=[user]), "account.json", LoadOptions())
    return [(f.severity.value, f.details["resource_scope"]) for f in run_rules(
        loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
        if (f.subject or {}).get("name") == "dev" and f.details["path"] == "passrole-ec2-runinstances"]


@pytest.mark.parametrize("account", ["*", "111122223333"])
def test_a_deny_of_passrole_on_every_role_of_the_users_own_account_stops_the_escalation(account: str) -> None:
    # PassRole passes roles of the caller's account only: the user's ARN says which
    deny = {"Effect": "Deny", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{account}:role/*"}
    assert _pass_and_run([deny]) == []
    other_account = dict(deny, Resource="arn:aws:iam::444455556666:role/*")
    assert _pass_and_run([other_account]) == [("high", "any")]


def test_a_deny_of_passrole_outside_one_path_leaves_it_on_that_path_as_an_allow_on_it_would() -> None:
    app_roles = "arn:aws:iam::111122223333:role/app/*"
    assert _pass_and_run([{"Effect": "Deny", "Action": "iam:PassRole", "NotResource": app_roles}]) == [
        ("medium", "specific")]
    assert _pass_and_run([{"Effect": "Deny", "Action": "iam:PassRole", "NotResource": "*"}]) == [("high", "any")]


def test_a_boundary_that_lets_passrole_through_on_one_path_only_leaves_it_there() -> None:
    run = {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}
    app_roles = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::111122223333:role/app/*"}
    assert _pass_and_run(boundary=[app_roles, run]) == [("medium", "specific")]
    assert _pass_and_run(boundary=[app_roles, run, dict(app_roles, Resource="*")]) == [("high", "any")]
    assert _pass_and_run(boundary=[dict(app_roles, Resource="arn:aws:s3:::b/*"), run]) == []


@pytest.mark.parametrize(("boundary", "iam006"), [
    ("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "medium"),  # AWS managed, not administrator access: it limits
    ("arn:aws:iam::aws:policy/AdministratorAccess", "critical"),  # limits nothing
    ("arn:aws:iam::aws:policy/IAMFullAccess", "high"),  # privileged itself: the role can remove its boundary
    ("arn:aws:iam::aws:policy/PowerUserAccess", "high"),  # privileged itself: nearly everything gets through
    ("arn:aws:iam::111122223333:policy/bnd", "critical"),  # cannot be weighed: the findings say so
])
def test_a_permissions_boundary_not_in_the_export_is_listed_and_weighed_by_name_or_named_in_findings(
        boundary: str, iam006: str) -> None:
    document = json.loads(_bounded_role([]))
    role = document["RoleDetailList"][0]
    role["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    role["AttachedManagedPolicies"].append({"PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    loaded = load_text(json.dumps(document), "account.json", LoadOptions())
    assert f"role r1: permissions boundary {boundary} is not in the export, so it was not weighed: its findings are " \
           "what its policies allow without the boundary, which may allow less" in loaded.not_checked
    reported = {f.rule_id: f for f in run_rules(loaded, RULES, CheckContext(load_catalog()),
                                                 Selection(select=frozenset({"IAM006", "IAM012"})))}
    unweighed = f"(its permissions boundary {boundary} is not in the input, so it was not weighed: it may allow less)"
    assert reported["IAM006"].severity.value == iam006
    assert (unweighed in reported["IAM006"].message) is boundary.endswith("/bnd")
    assert reported["IAM012"].severity.value == "high"  # what its policies allow: the boundary's document is unknown
    assert reported["IAM012"].message.endswith(unweighed)
    assert reported["IAM012"].details["permissions_boundary_not_in_input"] == boundary


_OPEN_TRUST = '{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}'
_ORG_FENCE = ('{"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", '
              '"Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}')


@pytest.mark.parametrize(("deny", "expected"), [
    (_ORG_FENCE, set()),  # everyone outside the organisation is refused: the Allow is confined to it
    (_ORG_FENCE.replace("StringNotEquals", "StringEquals"), {"IAM035"}),  # refuses the organisation instead
    (_ORG_FENCE.replace('"sts:AssumeRole", "Condition"', '"sts:TagSession", "Condition"'), {"IAM035"}),
    (_ORG_FENCE.replace('}}}', '}, "Bool": {"aws:MultiFactorAuthPresent": "false"}}}'), {"IAM035"}),  # ANDed
])
def test_a_deny_outside_the_organisation_confines_an_open_trust(deny: str, expected: set[str]) -> None:
    assert ids(f"{_OPEN_TRUST}, {deny}", PolicyKind.TRUST) == expected


def test_a_deny_outside_the_organisation_confines_a_public_bucket_policy() -> None:
    allow = '{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}'
    fence = ('{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "RESOURCE", '
             '"Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}')
    assert "IAM030" not in ids(f"{allow}, {fence.replace('RESOURCE', 'arn:aws:s3:::b/*')}", PolicyKind.RESOURCE)
    # a fence around another bucket leaves this one public
    assert "IAM030" in ids(f"{allow}, {fence.replace('RESOURCE', 'arn:aws:s3:::other/*')}", PolicyKind.RESOURCE)


def test_a_deny_of_everyone_but_the_named_principals_confines_a_public_bucket_policy() -> None:
    """The NotPrincipal form of the fence was reported high IAM030, its ArnNotEquals aws:PrincipalArn twin not."""
    allow = '{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}'
    fence = ('{"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root", '
             '"arn:aws:iam::111122223333:role/app"]}, "Action": "s3:*", "Resource": "RESOURCE"}')
    assert "IAM030" not in ids(f"{allow}, {fence.replace('RESOURCE', 'arn:aws:s3:::b/*')}", PolicyKind.RESOURCE)
    assert "IAM030" in ids(f"{allow}, {fence.replace('RESOURCE', 'arn:aws:s3:::other/*')}", PolicyKind.RESOURCE)
    everyone = fence.replace('{"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/app"]}',
                             '"*"').replace("RESOURCE", "arn:aws:s3:::b/*")
    assert "IAM030" in ids(f"{allow}, {everyone}", PolicyKind.RESOURCE)  # Deny NotPrincipal * denies no one


@pytest.mark.parametrize(("action", "severity"), [
    ("s3:GetObject", "high"),  # a public bucket may be a website
    ("secretsmanager:GetSecretValue", "critical"),  # a public secret never is
    ("sqs:SendMessage", "critical"),  # a write
])
def test_public_access_severity_follows_what_is_opened(action: str, severity: str) -> None:
    (finding,) = findings(f'{{"Effect": "Allow", "Principal": "*", "Action": "{action}", "Resource": "*"}}',
                          PolicyKind.RESOURCE, "IAM030")
    assert finding.severity.value == severity


def _external(statement: str, trusted: tuple[str, ...] = ()) -> list[Finding]:
    loaded = load_text(V + statement + "]}", "bucket-policy.json", LoadOptions(kind=PolicyKind.RESOURCE))
    context = CheckContext(load_catalog(), {"trusted_accounts": trusted})
    return run_rules(loaded, RULES, context, Selection(select=frozenset({"IAM036"})))


def test_a_resource_policy_granting_another_account_needs_to_know_which_accounts_are_yours() -> None:
    other = ('{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::999988887777:role/reader", "111122223333"]}, '
             '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}')
    assert _external(other) == []  # a bucket policy alone: nothing says which accounts are yours
    [finding] = _external(other, ("111122223333",))
    assert finding.severity.value == "medium" and finding.details["principals"] == [
        "arn:aws:iam::999988887777:role/reader"]
    assert finding.message.startswith("Allows 999988887777, not one of your accounts (111122223333), to s3:GetObject")
    assert finding.location.line == 1
    writes = other.replace('"s3:GetObject"', '["s3:GetObject", "s3:PutObject"]')
    assert [f.severity.value for f in _external(writes, ("111122223333",))] == ["high"]
    assert _external(other, ("111122223333", "999988887777")) == []
    confined = other.replace('"Resource": "arn:aws:s3:::reports/*"', '"Resource": "arn:aws:s3:::reports/*", '
                             '"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}')
    assert _external(confined, ("111122223333",)) == []
    assert _external(other.replace('"Allow"', '"Deny"'), ("111122223333",)) == []


def test_the_users_and_roles_of_an_export_tell_its_account_to_its_resource_policies() -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
                                                      "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
                                                      "Resource": "arn:aws:sqs:us-east-1:111122223333:q"}]}
    text = export(RoleDetailList=[{"RoleName": "app", "Arn": "arn:aws:iam::111122223333:role/app",
                                   "RolePolicyList": [], "AttachedManagedPolicies": []}],
                  ResourcePolicies=[{"service": "sqs", "name": "q", "region": "us-east-1",
                                     "arn": "arn:aws:s3:::no-account-in-this-arn", "policy": policy}])
    loaded = load_text(text, "account.json", LoadOptions())
    found = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM036"})))
    assert [(f.rule_id, f.severity.value) for f in found] == [("IAM036", "high")]  # SendMessage writes


def test_terraforms_caller_identity_is_the_own_account_and_a_variable_account_may_be_one_of_yours() -> None:
    def iam031(principal: str, trusted: tuple[str, ...]) -> list[tuple[str, str]]:
        text = ('resource "aws_iam_role" "r" {\n  name = "r"\n  assume_role_policy = jsonencode({Version = '
                '"2012-10-17", Statement = [{Effect = "Allow", Action = "sts:AssumeRole", Principal = {AWS = '
                f'"{principal}"}}}}]}})\n}}\n')
        loaded = load_text(text, "main.tf", LoadOptions())
        context = CheckContext(load_catalog(), {"trusted_accounts": trusted})
        return [(f.severity.value, f.message)
                for f in run_rules(loaded, RULES, context, Selection(select=frozenset({"IAM031"})))]

    own = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"
    assert iam031(own, ()) == [] and iam031(own, ("111122223333",)) == []
    decided = iam031("arn:aws:iam::${var.partner}:root", ("111122223333",))
    assert decided == [("medium", "arn:aws:iam::{{var.partner}}:root may assume this role without an sts:ExternalId "
                                  "condition (the account is decided when the template is deployed: it may be one of "
                                  "yours)")]
    assert [s for s, _ in iam031("arn:aws:iam::999988887777:root", ("111122223333",))] == ["high"]


def test_a_star_confined_to_a_foreign_account_is_that_account() -> None:
    key = ('{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt"], "Resource": "*", '
           '"Condition": {"StringEquals": {"kms:CallerAccount": "999988887777"}}}')
    [finding] = _external(key, ("111122223333",))
    assert finding.severity.value == "high"
    assert finding.message.startswith("Allows 999988887777, not one of your accounts (111122223333), to kms:Decrypt")
    assert _external(key.replace("999988887777", "111122223333"), ("111122223333",)) == []  # the own account
    trust = findings('{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": '
                     '{"StringEquals": {"aws:PrincipalAccount": "999988887777"}}}', PolicyKind.TRUST, "IAM031 IAM035")
    assert [(f.rule_id, f.location.line) for f in trust] == [("IAM031", 1)]


def test_a_deny_of_everyone_outside_the_organisation_confines_a_partner_grant() -> None:
    partner = ('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
               '"Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:111122223333:q"}')
    deny = ('{"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*", "Condition": '
            '{"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}')
    assert [f.severity.value for f in _external(partner)] == ["high"]  # the queue's ARN names its account
    assert _external(partner + ", " + deny) == []


def test_the_external_id_a_deny_demands_and_statements_that_assume_nothing_are_not_iam031() -> None:
    partner = '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}'
    assert [f.rule_id for f in findings(partner, PolicyKind.TRUST, "IAM031")] == ["IAM031"]
    deny = ('{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": '
            '{"StringNotEquals": {"sts:ExternalId": "Zq81kdP0x"}}}')
    assert findings(partner + ", " + deny, PolicyKind.TRUST, "IAM031") == []
    # a negated operator holds for a request without the key, ...IfExists or not: refused too (IAM's condition
    # operators: "If the key that you specify in a policy condition is not present ... StringNotLike ... true")
    if_exists = deny.replace("StringNotEquals", "StringNotEqualsIfExists")
    assert findings(partner + ", " + if_exists, PolicyKind.TRUST, "IAM031") == []
    any_id = deny.replace("StringNotEquals", "StringNotLike").replace("Zq81kdP0x", "*")  # any external id passes
    assert [f.rule_id for f in findings(partner + ", " + any_id, PolicyKind.TRUST, "IAM031")] == ["IAM031"]
    tag_only = partner.replace('"sts:AssumeRole"', '["sts:TagSession", "sts:SetSourceIdentity"]')
    assert findings(tag_only, PolicyKind.TRUST, "IAM031") == []


@pytest.mark.parametrize(("denied", "reported"), [
    ('"arn:aws:iam::999988887777:root"', False),  # the account: every principal of it
    ('"999988887777"', False),
    ('["arn:aws:iam::999988887777:role/vendor", "arn:aws:iam::999988887777:root"]', False),
    ('"arn:aws:iam::999988887777:role/vendor"', True),  # one role of the account: the others are not refused
    ('"arn:aws:iam::111122223333:root"', True),  # another account
])
def test_a_deny_of_the_trusted_account_without_the_external_id_makes_the_allow_require_it(denied: str,
                                                                                          reported: bool) -> None:
    partner = '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}'
    deny = ('{"Effect": "Deny", "Principal": {"AWS": ' + denied + '}, "Action": "sts:AssumeRole", '
            '"Condition": {"StringNotEquals": {"sts:ExternalId": "k3J9x2Lq"}}}')
    assert bool(findings(partner + ", " + deny, PolicyKind.TRUST, "IAM031")) is reported


def test_of_two_trusted_accounts_only_the_one_no_deny_holds_to_the_external_id_is_named() -> None:
    partners = ('{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::888877776666:root", '
                '"arn:aws:iam::999988887777:root"]}, "Action": "sts:AssumeRole"}')
    deny = ('{"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole", '
            '"Condition": {"StringNotEquals": {"sts:ExternalId": "k3J9x2Lq"}}}')
    [finding] = findings(partners + ", " + deny, PolicyKind.TRUST, "IAM031")
    assert finding.message.startswith("888877776666 may assume this role without")


@pytest.mark.parametrize(("boundary", "severity"), [
    ([], "critical"),
    ([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}], "medium"),
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"}], "critical"),  # a boundary that bounds nothing
    # one that lets the role remove it, or put another in its place, bounds nothing either
    ([{"Effect": "Allow", "Action": ["s3:GetObject", "iam:DeleteRolePermissionsBoundary"], "Resource": "*"}],
     "critical"),
    ([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Allow", "Action":
      "iam:PutRolePermissionsBoundary", "Resource": "arn:aws:iam::111122223333:role/*"}], "critical"),
    ([{"Effect": "Allow", "Action": ["s3:GetObject", "iam:DeleteRolePermissionsBoundary"],
       "Resource": ["arn:aws:s3:::reports/*", "arn:aws:iam::111122223333:role/other"]}], "medium"),
])
def test_administrator_access_under_a_narrow_permissions_boundary_is_medium(
    boundary: list[dict[str, object]], severity: str
) -> None:
    document = json.loads(_bounded_role(boundary))
    document["RoleDetailList"][0]["AttachedManagedPolicies"].append(
        {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    loaded = load_text(json.dumps(document), "account.json", LoadOptions())
    [finding] = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM006"})))
    assert finding.severity.value == severity
    assert ("its permissions boundary bnd allows less" in finding.message) is (severity == "medium")


def test_not_action_on_named_resources_is_medium_and_says_so() -> None:
    on_key = findings('{"Effect": "Allow", "NotAction": "kms:*", '
                      '"Resource": "arn:aws:kms:us-east-1:111122223333:key/1234abcd"}', select="IAM004")
    assert [(f.severity.value, f.message) for f in on_key] == [(
        "medium", "Allow with NotAction grants every action except kms:* that applies to "
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd, including actions AWS adds later")]
    everywhere = findings('{"Effect": "Allow", "NotAction": "kms:*", "Resource": "*"}', select="IAM004")
    assert [f.severity.value for f in everywhere] == ["high"] and "grants" in everywhere[0].message


def test_a_finding_over_actions_of_several_kinds_says_what_each_does() -> None:
    [finding] = findings('{"Effect": "Allow", "Action": ["ec2:GetPasswordData", "codepipeline:PollForJobs"], '
                         '"Resource": "*"}', select="IAM020")
    assert finding.message.startswith("codepipeline:PollForJobs, ec2:GetPasswordData on every resource: "
                                      "codepipeline:PollForJobs returns jobs")
    assert "; ec2:GetPasswordData returns the encrypted Administrator password" in finding.message


@pytest.mark.parametrize(("operator", "action", "addresses", "severity", "how"), [
    # an address allow-list: not public as S3 and the access analyzers define it (it was high, or critical)
    ("IpAddress", "s3:GetObject", '"203.0.113.0/24"', "low",
     "only from the addresses aws:SourceIp lists: AWS does not count that as public, but any account may, from there"),
    ("IpAddress", "s3:PutObject", '"203.0.113.0/24"', "medium", "only from the addresses aws:SourceIp lists"),
    # every address is no allow-list
    ("IpAddress", "s3:GetObject", '["203.0.113.0/24", "0.0.0.0/0"]', "high",
     "from any account that meets aws:SourceIp: a network or user-name condition names no account"),
    # nor are ranges S3 counts as public (broader than /8 in IPv4, /32 in IPv6): these two are every IPv4 address
    ("IpAddress", "s3:GetObject", '["0.0.0.0/1", "128.0.0.0/1"]', "high", "from any account that meets aws:SourceIp"),
    ("IpAddress", "s3:GetObject", '"2000::/3"', "high", "from any account that meets aws:SourceIp"),
    ("IpAddress", "s3:GetObject", '["10.0.0.0/8", "2001:db8::/32"]', "low", "only from the addresses aws:SourceIp"),
    # ForAnyValue: on the one-valued key is the same condition; ForAllValues: also holds without an address
    ("ForAnyValue:IpAddress", "s3:GetObject", '"203.0.113.0/24"', "low", "only from the addresses aws:SourceIp"),
    ("ForAllValues:IpAddress", "s3:GetObject", '"203.0.113.0/24"', "high", "from any account that meets aws:SourceIp"),
])
def test_a_public_statement_under_a_network_condition_is_not_said_to_admit_anyone(
        operator: str, action: str, addresses: str, severity: str, how: str) -> None:
    [finding] = findings(f'{{"Effect": "Allow", "Principal": "*", "Action": "{action}", "Resource": '
                         f'"arn:aws:s3:::site/*", "Condition": {{"{operator}": {{"aws:SourceIp": {addresses}}}}}}}',
                         PolicyKind.RESOURCE, "IAM030")
    assert finding.severity.value == severity
    assert finding.message.startswith(f"Allows every AWS principal to {action} {how}")


@pytest.mark.parametrize(("principal", "actions", "expected"), [
    ('{"AWS": "arn:aws:iam::127311923021:root"}', '"s3:PutObject"', []),  # ELB, us-east-1
    ('{"AWS": "arn:aws:iam::193672423079:user/logs"}', '["s3:PutObject", "s3:GetBucketAcl"]', []),  # Redshift
    ('{"AWS": "086441151436"}', '["s3:GetBucketAcl", "s3:PutObject"]', []),  # CloudTrail, before its principal
    ('{"AWS": "arn:aws:iam::127311923021:root"}', '["s3:PutObject", "s3:GetObject"]', [("low", "s3:GetObject")]),
    ('{"AWS": ["arn:aws:iam::127311923021:root", "999988887777"]}', '"s3:PutObject"', [("high", "999988887777")]),
])
def test_the_accounts_aws_services_deliver_logs_through_are_not_foreign(principal: str, actions: str,
                                                                        expected: list[tuple[str, str]]) -> None:
    statement = (f'{{"Effect": "Allow", "Principal": {principal}, "Action": {actions}, '
                 '"Resource": ["arn:aws:s3:::logs/AWSLogs/111122223333/*", "arn:aws:s3:::logs"]}')
    found = _external(statement, ("111122223333",))
    assert [f.severity.value for f in found] == [severity for severity, _ in expected]
    for finding, (_, named) in zip(found, expected, strict=True):
        assert named in finding.message
    if expected and expected[0][0] == "low":
        assert found[0].message.startswith("Grants s3:GetObject to Elastic Load Balancing's access-log delivery "
                                           "account for us-east-1 (127311923021), which needs only s3:PutObject")


def test_the_aws_service_accounts_file_is_well_formed() -> None:
    from auditor.knowledge import load_aws_service_accounts

    accounts = load_aws_service_accounts()
    assert accounts["127311923021"].service == "Elastic Load Balancing"
    assert accounts["665727464434"].regions == ("us-gov-west-1", "us-gov-east-1")  # Redshift: one for both
    assert all(len(a) == 12 and a.isdigit() and info.actions and info.source.startswith("https://docs.aws.amazon.com/")
               for a, info in accounts.items())


def test_the_vendor_accounts_file_is_well_formed() -> None:
    from auditor.knowledge import load_aws_service_accounts, load_vendor_accounts

    accounts = load_vendor_accounts()
    assert accounts["464622532012"].vendor == accounts["865078226113"].vendor == "Datadog"
    assert accounts["428641199958"].vendor == "Upsolver"  # the account of our own Upsolver baseline
    assert len(accounts) > 200
    assert all(len(a) == 12 and a.isdigit() and info.source.startswith(("https://", "http://"))
               for a, info in accounts.items())
    assert not accounts.keys() & load_aws_service_accounts().keys()


@pytest.mark.parametrize(("entry", "said"), [
    ('[{vendor: V, accounts: ["12345"], source: "https://v.example"}]', "expected 12-digit account ids"),
    ('[{vendor: V, accounts: [464622532012], source: "https://v.example"}]', "expected 12-digit account ids"),
    ('[{vendor: V, accounts: ["464622532012"], source: "https://v.example"}, '
     '{vendor: W, accounts: ["464622532012"], source: "https://w.example"}]', "464622532012 is listed twice"),
    ('[{vendor: V, accounts: ["127311923021"], source: "https://v.example"}]', "127311923021 is listed twice"),
    ('[{vendor: V, accounts: [], source: "https://v.example"}]', "expected a non-empty list"),
    ('[{vendor: V, accounts: ["464622532012"]}]', "expected the keys vendor, accounts and source"),
])
def test_a_malformed_vendor_accounts_file_is_refused_with_its_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    entry: str, said: str) -> None:
    import shutil

    from auditor import knowledge

    shutil.copy(knowledge.rules_dir() / "aws-service-accounts.yaml", tmp_path)
    (tmp_path / "vendor-accounts.yaml").write_text(entry)
    monkeypatch.setattr(knowledge, "rules_dir", lambda: tmp_path)
    knowledge.load_vendor_accounts.cache_clear()
    knowledge.load_aws_service_accounts.cache_clear()
    try:
        with pytest.raises(knowledge.KnowledgeError, match="vendor-accounts.yaml: \\[[01]\\].*" + said):
            knowledge.load_vendor_accounts()
    finally:
        knowledge.load_vendor_accounts.cache_clear()
        knowledge.load_aws_service_accounts.cache_clear()


@pytest.mark.parametrize(("own", "trusted", "expected"), [
    (None, (), "high"),  # a template: the role's account is unknown, but a vendor's account is never one of yours
    ("111122223333", (), "high"),
    (None, ("464622532012",), None),  # the user says it is theirs (they are Datadog): not reported
])
def test_a_trust_in_a_vendors_account_without_external_id_is_high_and_names_the_vendor(
        own: str | None, trusted: tuple[str, ...], expected: str | None) -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
        "AWS": ["arn:aws:iam::464622532012:root", "arn:aws:iam::834469178297:role/fivetran"]}}]}
    if own is None:
        loaded = load_text(json.dumps(trust), "trust.json", LoadOptions(kind=PolicyKind.TRUST))
    else:
        loaded = load_text(export(RoleDetailList=[{"RoleName": "r", "Arn": f"arn:aws:iam::{own}:role/r",
                                                   "AssumeRolePolicyDocument": trust, "RolePolicyList": [],
                                                   "AttachedManagedPolicies": []}]), "e.json", LoadOptions())
    context = CheckContext(load_catalog(), {"trusted_accounts": trusted})
    found = run_rules(loaded, RULES, context, Selection(select=frozenset({"IAM031"})))
    if expected is None:
        assert [f.details["principals"] for f in found] == [["arn:aws:iam::834469178297:role/fivetran"]]
        assert found[0].message.startswith("834469178297 (Fivetran) may assume this role without an "
                                           "sts:ExternalId condition: a SaaS vendor acts for many customers")
        return
    [finding] = found
    assert finding.severity.value == expected
    assert finding.message == (
        "464622532012 (Datadog), 834469178297 (Fivetran) may assume this role without an sts:ExternalId condition: "
        "a SaaS vendor acts for many customers, and only the external id it issued you keeps another of them from "
        "having it assume this role (the confused deputy)")
    assert finding.details["vendors"] == {"464622532012": "Datadog", "834469178297": "Fivetran"}


def test_an_unknown_account_keeps_its_medium_and_a_resource_policy_names_the_vendor() -> None:
    trust = ('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
             '"Action": "sts:AssumeRole"}')
    [finding] = findings(trust, PolicyKind.TRUST)
    assert (finding.severity.value, "vendors" in finding.details) == ("medium", False)
    statement = ('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::391854517948:root"}, '
                 '"Action": "s3:PutObject", "Resource": "arn:aws:s3:::logs/cloudflare/*"}')
    [external] = _external(statement, ("111122223333",))
    assert external.message.startswith("Allows 391854517948 (Cloudflare), not one of your accounts "
                                       "(111122223333), to ")
    assert external.details["vendors"] == {"391854517948": "Cloudflare"}
    # a bucket policy alone: yours are unknown, but a vendor's account is never one of them
    [alone] = _external(statement)
    assert alone.message.startswith("Allows 391854517948 (Cloudflare), a SaaS vendor, never one of your accounts, "
                                    "to s3:PutObject")
    assert _external(statement.replace("391854517948", "999988887777")) == []


def iam031(trust: str, trusted: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    loaded = load_text(V + trust + "]}", "trust.json", LoadOptions(kind=PolicyKind.TRUST))
    context = CheckContext(load_catalog(), {"trusted_accounts": trusted})
    return [(f.severity.value, f.message)
            for f in run_rules(loaded, RULES, context, Selection(select=frozenset({"IAM031"})))]


@pytest.mark.parametrize("condition", [
    '{"StringEquals": {"aws:PrincipalAccount": "464622532012"}}',
    '{"StringEquals": {"aws:PrincipalAccount": ["464622532012", "865078226113"]}}',  # the vendor and another
    '{"StringEquals": {"aws:SourceAccount": "464622532012"}}',
    '{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::464622532012:role/DatadogAWSIntegrationRole"}}',
])
def test_confining_a_trust_to_the_vendor_itself_still_needs_the_external_id(condition: str) -> None:
    trust = ('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::464622532012:root"}, "Action": "sts:AssumeRole", '
             f'"Condition": {condition}}}')
    assert [severity for severity, _ in iam031(trust)] == ["high"]
    confined_to_yours = json.loads(condition)
    confined_to_yours.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = "o-a1b2c3d4e5"
    assert iam031(trust.replace(condition, json.dumps(confined_to_yours))) == []


def test_vendor_and_other_accounts_in_one_statement_each_get_their_reason() -> None:
    trust = ('{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::464622532012:root", '
             '"arn:aws:iam::865078226113:root", "arn:aws:iam::999988887777:root"]}, "Action": "sts:AssumeRole"}')
    assert iam031(trust) == [("high", (
        "464622532012 and 865078226113 (Datadog), 999988887777 may assume this role without an sts:ExternalId "
        "condition: a SaaS vendor acts for many customers, and only the external id it issued you keeps another of "
        "them from having it assume this role (the confused deputy); of 999988887777, if it is one of your "
        "organisation's accounts, list it in trusted-accounts"))]


def test_a_deny_of_the_vendors_account_without_the_external_id_covers_a_confined_star() -> None:
    allow = ('{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", '
             '"Condition": {"StringEquals": {"aws:PrincipalAccount": ["464622532012", "834469178297"]}}}')
    deny = ('{"Effect": "Deny", "Principal": {"AWS": "464622532012"}, "Action": "sts:AssumeRole", '
            '"Condition": {"StringNotEquals": {"sts:ExternalId": "abcXYZ123"}}}')
    [(severity, message)] = iam031(allow + ", " + deny)
    assert severity == "high" and message.startswith("834469178297 (Fivetran) may assume")


def test_the_roles_aws_creates_in_an_organisations_accounts_need_no_external_id() -> None:
    def iam031(role: str, trusted: tuple[str, ...] = ()) -> list[str]:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}]}
        text = export(RoleDetailList=[{"RoleName": role, "Arn": f"arn:aws:iam::111122223333:role/{role}",
                                       "AssumeRolePolicyDocument": trust, "RolePolicyList": [],
                                       "AttachedManagedPolicies": []}])
        context = CheckContext(load_catalog(), {"trusted_accounts": trusted})
        found = run_rules(load_text(text, "account.json", LoadOptions()), RULES, context,
                          Selection(select=frozenset({"IAM031"})))
        return [f"{f.severity.value}: {f.message}" for f in found]

    [organization] = iam031("OrganizationAccountAccessRole")
    assert organization.startswith("low: 999988887777 may assume this role without an sts:ExternalId condition; "
                                   "OrganizationAccountAccessRole is the role AWS Organizations creates")
    assert [m.split(":")[0] for m in iam031("stacksets-exec-0123abcd")] == ["low"]
    assert iam031("OrganizationAccountAccessRole", ("999988887777",)) == []
    assert [m.split(":")[0] for m in iam031("DatadogIntegrationRole")] == ["high"]


def test_full_admin_under_a_narrow_permissions_boundary_is_medium() -> None:
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    narrow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}

    def iam001(*boundaries: dict | None) -> list[str]:
        roles = [{"RoleName": f"r{i}", "Arn": f"arn:aws:iam::111122223333:role/r{i}", "RolePolicyList": [],
                  "AttachedManagedPolicies": [{"PolicyName": "Admin",
                                               "PolicyArn": "arn:aws:iam::111122223333:policy/Admin"}],
                  **({"PermissionsBoundary": {"PermissionsBoundaryType": "Policy",
                                              "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/B"}}
                     if boundary is not None else {})}
                 for i, boundary in enumerate(boundaries)]
        policies = [{"PolicyName": "Admin", "Arn": "arn:aws:iam::111122223333:policy/Admin", "DefaultVersionId": "v1",
                     "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": admin}]}]
        boundary = next((b for b in boundaries if b is not None), None)
        if boundary is not None:
            policies.append({"PolicyName": "B", "Arn": "arn:aws:iam::111122223333:policy/B", "DefaultVersionId": "v1",
                             "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True,
                                                    "Document": boundary}]})
        loaded = load_text(export(RoleDetailList=roles, Policies=policies), "account.json", LoadOptions())
        found = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM001"})))
        return [f"{f.severity.value}: {f.message}" for f in found if f.subject and f.subject.get("name") == "Admin"]

    [bounded] = iam001(narrow, narrow)
    assert bounded.startswith("medium: Allows every action on every resource: full administrator access, but the "
                              "permissions boundary B of role r0 and 1 more allows less")
    assert [m.split(":")[0] for m in iam001(narrow, None)] == ["critical"]  # r1 has no boundary
    assert [m.split(":")[0] for m in iam001(admin)] == ["critical"]  # a boundary that allows everything limits nothing


@pytest.mark.parametrize(("sub", "expected"), [
    ('"repo:*"', "critical: Web-identity trust of token.actions.githubusercontent.com: "
                 "token.actions.githubusercontent.com:sub 'repo:*' admits every repository or subject of every owner: "
                 "anyone can create one that matches"),
    ('"repo:acme/*"', "high: Web-identity trust of token.actions.githubusercontent.com: "
                      "token.actions.githubusercontent.com:sub 'repo:acme/*' admits every repository of acme"),
    ('"repo:acme/infra:ref:refs/heads/main"', None),
])
def test_a_web_identity_provider_named_by_reference_is_known_by_its_claims(sub: str, expected: str | None) -> None:
    text = ('resource "aws_iam_openid_connect_provider" "github" {\n  url = "https://token.actions.githubusercontent.com"\n'
            '}\nresource "aws_iam_role" "gha" {\n  name = "gha"\n  assume_role_policy = jsonencode({\n'
            '    Version = "2012-10-17"\n    Statement = [{\n      Effect = "Allow"\n'
            '      Action = "sts:AssumeRoleWithWebIdentity"\n'
            '      Principal = { Federated = aws_iam_openid_connect_provider.github.arn }\n'
            '      Condition = {\n        StringEquals = { "token.actions.githubusercontent.com:aud" = '
            f'"sts.amazonaws.com" }}\n        StringLike = {{ "token.actions.githubusercontent.com:sub" = {sub} }}\n'
            '      }\n    }, {\n      Effect = "Allow"\n      Action = "sts:TagSession"\n'
            '      Principal = { Federated = aws_iam_openid_connect_provider.github.arn }\n    }]\n  })\n}\n')
    loaded = load_text(text, "main.tf", LoadOptions())
    found = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM033"})))
    # the second statement, sts:TagSession alone, lets no one assume the role
    assert [f"{f.severity.value}: {f.message}" for f in found] == ([] if expected is None else [expected])


@pytest.mark.parametrize("condition", ['{"StringEquals": {"s3:DataAccessPointAccount": "111122223333"}}',
                                       '{"StringEquals": {"s3:DataAccessPointArn": '
                                       '"arn:aws:s3:us-east-1:111122223333:accesspoint/reports"}}'])
def test_a_bucket_that_delegates_to_access_points_is_not_public(condition: str) -> None:
    delegate = ('{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*", "Resource": '
                f'["arn:aws:s3:::data", "arn:aws:s3:::data/*"], "Condition": {condition}}}')
    assert "IAM030" not in ids(delegate, PolicyKind.RESOURCE)
    [public] = findings(delegate.replace(f', "Condition": {condition}', ""), PolicyKind.RESOURCE, "IAM030")
    assert public.message == "Allows every AWS principal to * with no condition that narrows it"
    if "DataAccessPointAccount" in condition:  # another account's access points: that account decides who gets in
        [foreign] = _external(delegate.replace("111122223333", "999988887777"), ("111122223333",))
        assert foreign.message.startswith("Allows 999988887777, not one of your accounts (111122223333), to *;")


@pytest.mark.parametrize("resource", ["!GetAtt AdminRole.Arn", "!Ref AdminRoleArn",
                                      '!Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/admin"'])
def test_escalation_on_a_role_named_by_a_template_value_is_reported(resource: str) -> None:
    text = ("Parameters:\n  AdminRoleArn: {Type: String}\nResources:\n  AdminRole:\n    Type: AWS::IAM::Role\n"
            "    Properties:\n      RoleName: admin\n      AssumeRolePolicyDocument:\n        Version: '2012-10-17'\n"
            "        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]\n"
            "  Dev:\n    Type: AWS::IAM::User\n    Properties:\n      Policies:\n        - PolicyName: dev\n"
            "          PolicyDocument:\n            Version: '2012-10-17'\n            Statement:\n"
            "              - Effect: Allow\n"
            "                Action: [iam:PutRolePolicy, iam:PassRole, ec2:RunInstances]\n"
            f"                Resource: {resource}\n")
    loaded = load_text(text, "template.yaml", LoadOptions())
    found = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
    assert sorted(f.details["path"] for f in found) == ["iam-put-role-policy", "passrole-ec2-runinstances"]
    assert all(f.severity.value == "medium" and "on specific resources only" in f.message for f in found)


@pytest.mark.parametrize(("managed", "expected"), [
    ("arn:aws:iam::aws:policy/AdministratorAccess",
     ("high", "on role exec, an administrator (AdministratorAccess)")),
    ("arn:aws:iam::aws:policy/ReadOnlyAccess", ("medium", "on specific resources only: exploitable if they are")),
])
def test_passing_a_role_that_is_an_administrator_of_the_same_input_is_high(managed: str,
                                                                          expected: tuple[str, str]) -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "cloudformation.amazonaws.com"}}]}
    deploy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "cloudformation:CreateStack", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::111122223333:role/exec"}]}
    text = export(RoleDetailList=[
        {"RoleName": "exec", "Arn": "arn:aws:iam::111122223333:role/exec", "AssumeRolePolicyDocument": trust,
         "RolePolicyList": [], "AttachedManagedPolicies": [{"PolicyName": managed.rpartition("/")[2],
                                                            "PolicyArn": managed}]},
        {"RoleName": "deploy", "Arn": "arn:aws:iam::111122223333:role/deploy", "AssumeRolePolicyDocument": trust,
         "RolePolicyList": [{"PolicyName": "deploy", "PolicyDocument": deploy}], "AttachedManagedPolicies": []}])
    loaded = load_text(text, "account.json", LoadOptions())
    found = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
    [finding] = [f for f in found if f.details["path"] == "passrole-cloudformation-createstack"]
    assert finding.severity.value == expected[0] and expected[1] in finding.message


@pytest.mark.parametrize(("default", "expected"), [
    ('""', "{{Ref:TrustedAccounts}} may assume this role"),  # decided when the stack is deployed
    ('"222222222222, 333333333333"', "222222222222, 333333333333 may assume this role"),
])
def test_a_list_parameter_gives_its_items_as_principals(default: str, expected: str) -> None:
    text = (f"Parameters:\n  TrustedAccounts:\n    Type: CommaDelimitedList\n    Default: {default}\n"
            "Conditions:\n  HasTrusted: !Not [!Equals ['', !Join ['', !Ref TrustedAccounts]]]\nResources:\n"
            "  Deploy:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n"
            "        Version: '2012-10-17'\n        Statement:\n          - !If\n            - HasTrusted\n"
            "            - {Effect: Allow, Action: sts:AssumeRole, Principal: {AWS: !Ref TrustedAccounts}}\n"
            "            - !Ref AWS::NoValue\n")
    loaded = load_text(text, "bootstrap.yaml", LoadOptions())
    found = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM031"})))
    assert [f.message.split(" without")[0] for f in found] == [expected]


@pytest.mark.parametrize(("action", "severity"), [('"kms:GenerateDataKey*"', "medium"), ('"kms:*"', "high"),
                                                  ('"kms:Create*"', "high"),
                                                  ('"*"', "high")])  # every action grants kms:PutKeyPolicy too
def test_a_kms_wildcard_is_high_when_it_reaches_key_policies_or_grants(action: str, severity: str) -> None:
    (finding,) = findings(f'{{"Effect": "Allow", "Action": {action}, "Resource": '
                          '"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}',
                          PolicyKind.IDENTITY, "IAM002")
    assert finding.severity.value == severity


def test_a_wildcard_on_arns_counts_the_actions_that_can_be_asked_for_on_them() -> None:
    """Not those asked for on "*" alone (s3:CreateJob), nor another service's (a2c:, a4b:); the examples start
    with the actions the catalogue says take the resources."""
    (home,) = findings('{"Effect": "Allow", "Action": "s3:*", '
                       '"Resource": "arn:aws:s3:::b/home/${aws:username}/*"}', PolicyKind.IDENTITY, "IAM002")
    assert not {"s3:CreateJob", "s3:CreateStorageLensGroup"} & set(home.details["examples"])
    (key,) = findings('{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:kms:us-east-1:111122223333:key/*"}',
                      PolicyKind.IDENTITY, "IAM002")
    assert not any(a.startswith(("a2c:", "a4b:", "apigateway:")) for a in key.details["examples"])
    assert key.details["write_actions"] < 100 and any(a.startswith("kms:") for a in key.details["examples"])
    # IAM's actions take IAM's resources (or "*"): on a key they grant nothing
    assert "IAM002" not in ids('{"Effect": "Allow", "Action": "iam:Update*", "Resource": '
                               '"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}')


@pytest.mark.parametrize(("resource", "severity"), [("arn:aws:iam::111122223333:role/app/*", "medium"),
                                                    ("arn:aws:iam::111122223333:role/*", "high"),
                                                    # a name prefix, as the IAM guide's iam:PassRole example
                                                    ("arn:aws:iam::111122223333:role/EC2-roles-for-XYZ-*", "medium"),
                                                    ("arn:aws:iam::111122223333:role/app-*", "medium"),
                                                    ("arn:aws:iam::111122223333:role/a*", "high")])
def test_passing_the_roles_of_one_path_is_scoped(resource: str, severity: str) -> None:
    found = findings(f'{{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "{resource}"}}, '
                     '{"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}', PolicyKind.IDENTITY,
                     "IAM012")
    assert [f.severity.value for f in found if f.details["path"] == "passrole-ec2-runinstances"] == [severity]


@pytest.mark.parametrize(("issuer", "severity"), [
    ("oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE", "high"),  # one cluster's
    ("oidc.circleci.com/org/0f9a8b7c-1234-4abc-9def-0123456789ab", "high"),  # one organisation's
    ("token.actions.githubusercontent.com", "critical"),  # every repository in the world
])
def test_an_issuer_of_one_tenant_without_sub_is_high(issuer: str, severity: str) -> None:
    (finding,) = findings(f'{{"Effect": "Allow", "Principal": {{"Federated": "arn:aws:iam::111122223333:oidc-provider/'
                          f'{issuer}"}}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {{"StringEquals": '
                          f'{{"{issuer}:aud": "sts.amazonaws.com"}}}}}}', PolicyKind.TRUST, "IAM033")
    assert finding.severity.value == severity


@pytest.mark.parametrize(("resource", "severity"), [("arn:aws:iam::*:user/${aws:username}", "medium"),
                                                    ("arn:aws:iam::*:user/*", "high")])
def test_an_iam_wildcard_on_the_callers_own_user_is_self_service(resource: str, severity: str) -> None:
    (finding,) = findings(f'{{"Effect": "Allow", "Action": "iam:*AccessKey*", "Resource": "{resource}"}}',
                          PolicyKind.IDENTITY, "IAM002")
    assert finding.severity.value == severity
    if severity == "medium":  # iam:* on one's own user still attaches policies to it
        (own,) = findings(f'{{"Effect": "Allow", "Action": "iam:*", "Resource": "{resource}"}}', PolicyKind.IDENTITY,
                          "IAM002")
        assert own.severity.value == "high"


@pytest.mark.parametrize(("effect", "operator", "severity"), [("Allow", "StringLike", "medium"),
                                                              ("Deny", "StringNotLike", "medium"),
                                                              ("Deny", "StringLike", "low"),
                                                              ("Allow", "StringNotLike", "low")])
def test_string_like_on_an_arn_key_matters_when_it_widens_the_statement(effect: str, operator: str,
                                                                         severity: str) -> None:
    (finding,) = findings(f'{{"Effect": "{effect}", "Action": "s3:GetObject", "Resource": "*", "Condition": '
                          f'{{"{operator}": {{"aws:PrincipalArn": "arn:aws:iam::*:role/admin*"}}}}}}',
                          PolicyKind.IDENTITY, "IAM406")
    assert finding.severity.value == severity


@pytest.mark.parametrize(("action", "resource"), [("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:*"),
                                                  ("s3:GetObject", "arn:aws:s3:::?*/?*")])
def test_short_or_non_empty_patterns_name_every_resource(action: str, resource: str) -> None:
    assert "IAM021" in ids(f'{{"Effect": "Allow", "Action": "{action}", "Resource": "{resource}"}}',
                           PolicyKind.IDENTITY)


@pytest.mark.parametrize(("roles", "expected"), [
    ("arn:aws:iam::444455556666:role/*", set()),  # another account's roles: PassRole cannot reach them
    ("arn:aws:iam::111122223333:role/*", {"passrole-ec2-runinstances"}),
])
def test_passrole_reaches_the_roles_of_the_callers_own_account_only(roles: str, expected: set[str]) -> None:
    statements = [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": roles},
                  {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}]
    user = {"UserName": "u", "Arn": "arn:aws:iam::111122223333:user/u", "AttachedManagedPolicies": [],
            "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17",
                                                                     "Statement": statements}}]}
    found = escalations(export(UserDetailList=[user]))
    assert found.get("u", set()) & {"passrole-ec2-runinstances"} == expected


def test_an_administrators_other_escalations_say_so_and_keep_their_fingerprint() -> None:
    from auditor.fingerprint import fingerprint

    inline = {"PolicyName": "Deploy", "PolicyDocument": {"Version": "2012-10-17", "Statement": [json.loads(LAUNCH)]}}
    admin = {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
    alice = {"UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice", "UserPolicyList": [inline]}

    def escalation(attached: list[dict[str, str]]) -> Finding:
        loaded = load_text(export(UserDetailList=[{**alice, "AttachedManagedPolicies": attached}]), "a.json",
                           LoadOptions())
        [found] = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
        return found

    before, after = escalation([]), escalation([admin])
    assert after.message.endswith("; it is already an administrator (AdministratorAccess): this counts once that goes")
    assert "already" not in before.message and fingerprint(before) == fingerprint(after)


def test_a_grant_of_every_action_on_every_resource_but_iam_escalates_without_iam() -> None:
    """Everything but the IAM resources (NotResource) is not the grant of everything: the methods that need no
    IAM resource are open, those that change IAM or pass a role are not."""
    statement = '{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:iam::*:*"}'
    paths = {f.details["path"] for f in findings(statement,
                                                 select="IAM012")}
    assert {"ssm-send-command", "lambda-update-function-code"} <= paths
    assert not {path for path in paths if path.startswith("iam-") or "passrole" in path}


def test_whether_a_principal_is_an_administrator_is_never_taken_from_another_that_had_its_id() -> None:
    """Principals of a file checked before are freed, and a new one may get the id of one of them."""
    from auditor.checks._facts import run_cache
    from auditor.checks.escalation import _administrator

    user = {"UserName": "dev", "Arn": "arn:aws:iam::111122223333:user/dev", "AttachedManagedPolicies": [],
            "UserPolicyList": []}
    loaded = load_text(export(UserDetailList=[user]), "a.json", LoadOptions())
    context = CheckContext(load_catalog())
    [dev] = loaded.principals
    gone = object()  # stands for a freed administrator whose id the new principal reuses
    run_cache(context, "escalation_administrators")[id(dev)] = (gone, "AdministratorAccess")
    assert _administrator(dev, context) is None


@pytest.mark.parametrize(("resource", "action", "rule"), [
    ("arn:aws:s3:::*", "s3:DeleteObject", "IAM003"),  # S3's every bucket and object: no Region or account in it
    ("arn:aws:iam::111122223333:*", "iam:DeleteRole", "IAM003"),
    ("arn:aws:ec2:us-*:*:*", "ec2:TerminateInstances", "IAM003"),
    ("arn:aws:secretsmanager:us-*:111122223333:secret:*", "secretsmanager:GetSecretValue", "IAM021"),
    ("arn:aws:secretsmanager:us-east-1:111122223333:secret:*", "secretsmanager:GetSecretValue", "IAM021"),
])
def test_every_resource_of_a_service_or_type_in_some_regions_or_one_account(resource: str, action: str,
                                                                            rule: str) -> None:
    assert rule in ids(json.dumps({"Effect": "Allow", "Action": action, "Resource": resource}))


@pytest.mark.parametrize(("resource", "action"), [
    ("arn:aws:s3:::reports-*", "s3:DeleteObject"),
    ("arn:aws:ec2:*:*:instance/i-0abc", "ec2:TerminateInstances"),
    ("arn:aws:secretsmanager:us-*:111122223333:secret:app-*", "secretsmanager:GetSecretValue"),
])
def test_a_named_part_of_a_service_is_not_every_resource(resource: str, action: str) -> None:
    assert not ids(json.dumps({"Effect": "Allow", "Action": action, "Resource": resource})) & {
        "IAM003", "IAM021"}


@pytest.mark.parametrize(("resource", "severity", "ending"), [
    ("arn:aws:iam::111122223333:role/Worker", "high", "on the role itself"),
    ("arn:aws:iam::111122223333:role/Other", "medium",
     "on specific resources only: exploitable if they are privileged"),
])
def test_removing_its_own_boundary_is_as_serious_as_on_every_role(resource: str, severity: str, ending: str) -> None:
    """A user allowed it on arn:aws:iam::*:user/${aws:username} was high, a role on its own ARN medium 'exploitable if
    they are privileged': what a principal gains from its own boundary going is all its policies allow."""
    role = {"RoleName": "Worker", "Arn": "arn:aws:iam::111122223333:role/Worker",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "RolePolicyList": [{"PolicyName": "self", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "iam:DeleteRolePermissionsBoundary", "Resource": resource},
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}}],
            "AttachedManagedPolicies": []}
    loaded = load_text(export(RoleDetailList=[role]), "export.json", LoadOptions())
    found = [f for f in run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
             if "permissions boundary" in f.message]
    assert [(f.severity.value, f.message.split(" with ")[1].split(") ", 1)[1]) for f in found] == [(severity, ending)]


@pytest.mark.parametrize(("condition", "said"), [
    ("", "without an sts:ExternalId condition (the role"),
    ('"Condition": {"StringLike": {"sts:ExternalId": "*"}}',
     "without an sts:ExternalId condition that binds it (StringLike * matches every external id)"),
    ('"Condition": {"StringEqualsIfExists": {"sts:ExternalId": "4c1f0e2a9b"}}',
     "without an sts:ExternalId condition that binds it (StringEqualsIfExists 4c1f0e2a9b holds when the caller "
     "sends no external id)"),
    # values are ORed: one "*" matches every id (it was no finding)
    ('"Condition": {"StringLike": {"sts:ExternalId": ["Zq81kdP0x", "*"]}}',
     "that binds it (StringLike Zq81kdP0x, * matches every external id)"),
    ('"Condition": {"Null": {"sts:ExternalId": "false"}}', "that binds it (Null false demands some external id, any)"),
])
def test_iam031_says_why_an_external_id_condition_does_not_bind(condition: str, said: str) -> None:
    """A published guide's StringLike "*" was reported as 'without an sts:ExternalId condition', which a reader
    who sees the condition dismisses."""
    statement = ('{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, '
                 f'"Action": "sts:AssumeRole"{", " + condition if condition else ""}}}')
    found = findings(statement, PolicyKind.TRUST, "IAM031")
    assert [f.rule_id for f in found] == ["IAM031"] and said in found[0].message


def test_iam034_says_when_the_source_condition_names_no_account() -> None:
    """An aws:SourceArn with a wildcard account was told to 'add aws:SourceAccount or aws:SourceArn'."""
    [finding] = findings('{"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, '
                         '"Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:111122223333:alarms", '
                         '"Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:*:alarm:*"}}}',
                         PolicyKind.RESOURCE, "IAM034")
    assert finding.message.endswith("for any AWS account: its aws:SourceArn arn:aws:cloudwatch:us-east-1:*:alarm:* "
                                    "names no account: name yours")


@pytest.mark.parametrize(("userid", "operator", "public"), [
    ("AIDAJQABLZS4A3QDU576Q", "StringEquals", False),  # one user
    ("AROAJQABLZS4A3QDU576Q:*", "StringLike", False),  # one role's sessions
    ("anonymous", "StringEquals", True),  # the id of an unsigned request
    ("*", "StringLike", True),
])
def test_a_literal_aws_userid_confines_a_public_statement(userid: str, operator: str, public: bool) -> None:
    found = findings('{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", '
                     f'"Condition": {{"{operator}": {{"aws:userid": "{userid}"}}}}}}', PolicyKind.RESOURCE, "IAM030")
    assert bool(found) is public


def test_a_role_prefix_that_matches_an_administrator_of_the_export_is_high() -> None:
    """role/app-* scopes iam:PassRole (medium), unless the input shows a role it matches is an administrator."""
    admin = {"RoleName": "app-admin", "Arn": "arn:aws:iam::111122223333:role/app-admin", "RolePolicyList": [],
             "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess",
                                          "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}],
             "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                 {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}
    dev = {"UserName": "dev", "Arn": "arn:aws:iam::111122223333:user/dev", "GroupList": [],
           "AttachedManagedPolicies": [], "UserPolicyList": [{"PolicyName": "pass", "PolicyDocument": {
               "Version": "2012-10-17", "Statement": [
                   {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::111122223333:role/app-*"},
                   {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}]}}]}
    loaded = load_text(export(RoleDetailList=[admin], UserDetailList=[dev]), "e.json", LoadOptions())
    found = [f for f in run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
             if f.subject and f.subject["name"] == "dev" and f.details["path"] == "passrole-ec2-runinstances"]
    assert [(f.severity.value, "on role app-admin, an administrator" in f.message) for f in found] == [("high", True)]


def test_iam034_says_when_the_source_condition_holds_without_a_source() -> None:
    [finding] = findings('{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, '
                         '"Action": "sts:AssumeRole", "Condition": {"ArnLikeIfExists": {"aws:SourceArn": '
                         '"arn:aws:sns:us-east-1:123456789012:topic"}}}', PolicyKind.TRUST, "IAM034")
    assert finding.message.endswith("its ArnLikeIfExists aws:SourceArn holds when the service sends no source: drop "
                                    "IfExists")


def _assume_export(resource: str, trusted: str, role_grants: str, trust_extra: dict[str, object] | None = None,
                   deny: dict[str, object] | None = None) -> str:
    user = {"UserName": "dev", "Arn": "arn:aws:iam::111122223333:user/dev", "GroupList": [],
            "AttachedManagedPolicies": [], "UserPolicyList": [{"PolicyName": "assume", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resource}]}}]}
    role = {"RoleName": "BreakGlass", "Arn": "arn:aws:iam::111122223333:role/BreakGlass",
            "AttachedManagedPolicies": [], "RolePolicyList": [{"PolicyName": "all", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": role_grants, "Resource": "*"}]}}],
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole", **(trust_extra or {})},
                *([deny] if deny else [])]}}
    return export(UserDetailList=[user], RoleDetailList=[role])


_ROOT = "arn:aws:iam::111122223333:root"
_BREAK_GLASS = "arn:aws:iam::111122223333:role/BreakGlass"


@pytest.mark.parametrize(("trust_extra", "deny", "reported"), [
    ({"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}, None, True),  # an insider meets it
    ({"Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Ops"}}}, None, False),
    ({"Condition": {"StringEquals": {"sts:ExternalId": "x"}}}, None, False),
    (None, {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:user/dev"},
            "Action": "sts:AssumeRole"}, False),
])
def test_a_named_administrator_role_whose_trust_does_not_certainly_admit_the_user_is_not_reported(
        trust_extra: dict[str, object] | None, deny: dict[str, object] | None, reported: bool) -> None:
    loaded = load_text(_assume_export(_BREAK_GLASS, _ROOT, "*", trust_extra, deny), "export.json", LoadOptions())
    found = [f for f in run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
             if f.subject and f.subject["name"] == "dev"]
    assert bool(found) is reported


@pytest.mark.parametrize(("resource", "trusted", "role_grants", "expected"), [
    ("arn:aws:iam::111122223333:role/BreakGlass", "arn:aws:iam::111122223333:root", "*", {"high"}),
    ("arn:aws:iam::111122223333:role/BreakGlass", "arn:aws:iam::111122223333:user/dev", "*", {"high"}),
    ("arn:aws:iam::111122223333:role/BreakGlass", "111122223333", "*", {"high"}),
    # the role trusts another account, or is no administrator: the delegation its author chose, nothing more
    ("arn:aws:iam::111122223333:role/BreakGlass", "arn:aws:iam::999988887777:root", "*", set()),
    ("arn:aws:iam::111122223333:role/BreakGlass", "arn:aws:iam::111122223333:root", "s3:GetObject", set()),
    # every role: the sts-assume-role method, reported as it was (medium), not twice
    ("*", "arn:aws:iam::111122223333:root", "*", {"medium"}),
])
def test_assuming_a_named_administrator_role_that_trusts_the_user_is_an_escalation(
        resource: str, trusted: str, role_grants: str, expected: set[str]) -> None:
    loaded = load_text(_assume_export(resource, trusted, role_grants), "export.json", LoadOptions())
    found = [f for f in run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM012"})))
             if f.subject and f.subject["name"] == "dev"]
    assert {f.severity.value for f in found} == expected and len(found) == len(expected)
    if expected == {"high"}:
        assert found[0].message.startswith("user dev can act as an administrator: sts:AssumeRole on role BreakGlass")


@pytest.mark.parametrize(("pass_role", "severity"), [
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}, "critical"),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::111122223333:role/app"}, "high"),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::111122223333:role/*"}, "critical"),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
      "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}}, "high"),
])
def test_power_user_access_with_pass_role_on_every_resource_is_administrator_access(
        pass_role: dict[str, object], severity: str) -> None:
    """Without PowerUserAccess's document in the export, IAM006 still knows what it lacks to be administrator."""
    user = {"UserName": "pu", "Arn": "arn:aws:iam::111122223333:user/pu", "GroupList": [],
            "AttachedManagedPolicies": [{"PolicyName": "PowerUserAccess",
                                         "PolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}],
            "UserPolicyList": [{"PolicyName": "pass", "PolicyDocument": {"Version": "2012-10-17",
                                                                          "Statement": [pass_role]}}]}
    loaded = load_text(export(UserDetailList=[user]), "export.json", LoadOptions())
    [power] = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM006"})))
    assert power.severity.value == severity
    assert ("completed_by" in power.details) is (severity == "critical")


def test_an_administrator_group_names_its_members() -> None:
    group = {"GroupName": "Admins", "Arn": "arn:aws:iam::111122223333:group/Admins", "GroupPolicyList": [],
             "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess", "PolicyArn": _ADMIN_ARN}]}
    users = [{"UserName": name, "Arn": f"arn:aws:iam::111122223333:user/{name}", "GroupList": groups,
              "UserPolicyList": [], "AttachedManagedPolicies": []}
             for name, groups in (("alice", ["Admins"]), ("bob", []), ("carol", ["Admins"]))]
    loaded = load_text(export(UserDetailList=users, GroupDetailList=[group]), "export.json", LoadOptions())
    [admin] = run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM006"})))
    assert admin.message.endswith("; its members have it too: alice, carol")
    alone = load_text(export(GroupDetailList=[group]), "export.json", LoadOptions())
    [empty] = run_rules(alone, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM006"})))
    assert empty.message.endswith("(no user of the input is in it)") and empty.details == admin.details


@pytest.mark.parametrize(("amr", "severity"), [
    (None, "medium"),  # the pool's guests may take the role meant for signed-in users
    ('"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}', None),
    ('"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"}', None),  # a guest role
])
def test_a_cognito_identity_pool_trust_names_its_identities(amr: str | None, severity: str | None) -> None:
    conditions = '"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:1234"}' + (
        f", {amr}" if amr else "")
    found = findings('{"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"}, '
                     f'"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {{{conditions}}}}}',
                     PolicyKind.TRUST, "IAM033")
    assert [f.severity.value for f in found] == ([severity] if severity else [])


@pytest.mark.parametrize("operator", ["ArnLike", "ArnEquals", "StringEquals"])
def test_star_confined_by_principal_arn_to_a_vendor_role_needs_the_external_id(operator: str) -> None:
    """Datadog's agentless scanner role writes "*" with aws:PrincipalArn: the trust was silent."""
    condition: dict[str, dict[str, str]] = {operator: {"aws:PrincipalArn": "arn:aws:iam::464622532012:role/scanner"}}
    statement = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": condition}
    assert [(severity, message.split(" may")[0]) for severity, message in iam031(json.dumps(statement))] == [
        ("high", "464622532012 (Datadog)")]
    condition.setdefault("StringEquals", {})["sts:ExternalId"] = "Zq81kdP0x"
    assert iam031(json.dumps(statement)) == []


@pytest.mark.parametrize("action", ["cassandra:Select", "appsync:GetGraphqlApiEnvironmentVariables"])
def test_reading_keyspaces_tables_or_api_environment_variables_everywhere_is_data_access(action: str) -> None:
    assert "IAM021" in ids(f'{{"Effect": "Allow", "Action": "{action}", "Resource": "*"}}')


@pytest.mark.parametrize(("statement", "expected"), [
    ('{"Effect": "Allow", "Action": ["cloudwatch:TagResource", "cloudwatch:UntagResource"], "Resource": "*"}',
     ("low", "on every resource (")),
    ('{"Effect": "Allow", "Action": ["cloudwatch:TagResource", "cloudwatch:DeleteAlarms"], "Resource": "*"}',
     ("medium", "on every resource (")),
    ('{"Effect": "Allow", "Action": ["s3:PutObject", "s3:ListBucket"], "Resource": "arn:aws:s3:::*/*"}',
     ("medium", "on every resource of arn:aws:s3:::*/* (s3:PutObject)")),
    ('{"Effect": "Allow", "Action": "cloudwatch:TagResource", "Resource": "arn:aws:cloudwatch:*:*:alarm:*"}',
     ("low", "on every resource of arn:aws:cloudwatch:*:*:alarm:*")),
    ('{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::uploads-*/*"}', None),
])
def test_wildcard_resource_weighs_tagging_and_patterns_that_cover_every_resource(
        statement: str, expected: tuple[str, str] | None) -> None:
    """Tagging actions alone are low (the catalogue files them as "Tagging, Write": they were never low); a pattern
    that names every resource an action takes (every object of every bucket) is "*" for it (hunt48)."""
    found = [f for f in findings(statement) if f.rule_id == "IAM003"]
    if expected is None:
        assert found == []
    else:
        (finding,) = found
        assert finding.severity.value == expected[0] and expected[1] in finding.message


def test_a_service_written_by_its_name_suggests_its_prefix() -> None:
    """``cloudwatchlogs:CreateLogGroup`` suggested cloudwatch, cloudsearch or cloudhsm (hunt48)."""
    (finding,) = findings('{"Effect": "Allow", "Action": "cloudwatchlogs:CreateLogGroup", "Resource": "*"}')
    assert finding.rule_id == "IAM200" and finding.message.endswith("did you mean 'logs:CreateLogGroup'?")


@pytest.mark.parametrize(("conditions", "reported"), [
    ('{"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}}', True),
    ('{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads"}, "StringEquals": {"aws:SourceAccount": "123456789012"}}',
     False),
    ('{"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}}', False),
    ('{"ArnLike": {"aws:SourceArn": ["arn:aws:s3:::uploads", "arn:aws:s3:us-east-1:123456789012:accesspoint/ap"]}}',
     True),  # one bucket among them is enough
])
def test_a_bucket_source_arn_alone_needs_the_source_account(conditions: str, reported: bool) -> None:
    """AWS's Lambda guide: a bucket's ARN holds no account, and its name can be taken once the bucket is deleted."""
    found = findings('{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": '
                     '"lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", '
                     f'"Condition": {conditions}}}', PolicyKind.RESOURCE, "IAM034")
    assert bool(found) == reported
    if found:
        assert "add aws:SourceAccount" in found[0].message


@pytest.mark.parametrize(("resource", "escalates"), [("arn:aws:kinesis:*:*:stream/AmazonRekognition*", False),
                                                     ("arn:aws:glue:*:*:devEndpoint/*", False),
                                                     ("*", True)])
def test_an_action_that_names_no_resource_is_granted_by_star_alone(resource: str, escalates: bool) -> None:
    """glue:CreateDevEndpoint names no resource (its requests are on "*"): a grant on ARNs does not allow it."""
    found = findings('{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}, {"Effect": "Allow", '
                     f'"Action": "glue:CreateDevEndpoint", "Resource": "{resource}"}}', PolicyKind.IDENTITY, "IAM012")
    assert ("passrole-glue-dev-endpoint" in {f.details["path"] for f in found}) == escalates, found


def test_a_deny_outside_named_resources_narrows_what_the_allow_grants_on_every_resource() -> None:
    """AWS's AmazonSecurityLakePermissionsBoundary: s3:GetObject on "*" beside a Deny of it outside the Security Lake
    buckets was IAM021 "on every resource"; what the Deny leaves is on its exceptions only."""
    statements = ('{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}, '
                  '{"Effect": "Deny", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::aws-security-data-lake*"}')
    found = {f.rule_id: f for f in findings(statements)}
    assert "IAM021" not in found
    assert found["IAM003"].details["actions"] == ["s3:PutObject"]


def test_a_deny_of_the_policy_decides_whether_a_wildcard_is_high() -> None:
    """'*' beside a Deny of iam:*, sts:*, kms:* and organizations:* grants none of them (hunt56: high)."""
    [wide] = findings('{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": '
                      '{"aws:MultiFactorAuthPresent": "true"}}}, {"Effect": "Deny", "Action": '
                      '["iam:*", "sts:*", "kms:*", "organizations:*"], "Resource": "*"}', PolicyKind.IDENTITY, "IAM002")
    assert wide.severity.value == "medium"
    assert not any(a.startswith(("iam:", "sts:", "kms:")) for a in wide.details["examples"])
    [key] = findings('{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:kms:us-east-1:111122223333:key/*"}',
                     PolicyKind.IDENTITY, "IAM002")
    assert key.severity.value == "high" and key.details["examples"][0].startswith("kms:")  # what makes it high first


def test_a_subject_too_wide_is_located_at_its_value() -> None:
    """Where to fix it: the sub value, not the Federated principal (hunt54)."""
    text = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                      "StringLike": {"token.actions.githubusercontent.com:sub": ["repo:o/app:*", "repo:o/*"]}}}]},
        indent=2)
    [finding] = [f for f in run_rules(load_text(text, "t.json", LoadOptions(kind=PolicyKind.TRUST)), RULES,
                                      CheckContext(load_catalog())) if f.rule_id == "IAM033"]
    assert finding.location.pointer.endswith("/StringLike/token.actions.githubusercontent.com:sub/1")


def test_a_deny_without_mfa_applies_to_every_request_of_a_role_only_services_assume() -> None:
    """An ECS task's credentials never carry MFA: `BoolIfExists aws:MultiFactorAuthPresent false` denies it all
    (hunt53: 255 escalations of 27 such roles in account-large); a role people assume keeps the finding."""
    deny = {"Effect": "Deny", "NotAction": ["iam:ChangePassword", "sts:GetSessionToken"], "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}
    allow = {"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": "*"}

    def role(name: str, principal: dict[str, str]) -> dict[str, object]:
        return {"RoleName": name, "Arn": f"arn:aws:iam::111122223333:role/{name}", "AttachedManagedPolicies": [],
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]},
                "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17",
                                                                          "Statement": [allow, deny]}}]}

    found = escalations(export(RoleDetailList=[role("task", {"Service": "ecs-tasks.amazonaws.com"}),
                                               role("human", {"AWS": "arn:aws:iam::111122223333:root"})]))
    assert set(found) == {"human"}
