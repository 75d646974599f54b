"""Edge cases of the resource, condition and size rules beyond their documented examples."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.checks.resources import globs_intersect
from auditor.engine import CheckContext, run_rules
from auditor.knowledge_catalog import load_condition_language
from auditor.loaders import LoadOptions, load_text
from auditor.model import Finding, PolicyKind

RULES = all_rules()


def findings(statements: list[dict[str, Any]] | dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY,
             ) -> list[Finding]:
    body = statements if isinstance(statements, list) else [statements]
    document = json.dumps({"Version": "2012-10-17", "Statement": body})
    loaded = load_text(document, "case.json", LoadOptions(kind=kind))
    return run_rules(loaded, RULES, CheckContext(load_catalog()))


def ids(statements: list[dict[str, Any]] | dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY) -> set[str]:
    return {f.rule_id for f in findings(statements, kind)}


def allow(action: Any, resource: Any = "*", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    return statement


# --- IAM300 malformed-arn -------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", [
    "arn:aws:s3:::bucket/${aws:username}/*",
    "arn:aws:s3:::{{Ref:Bucket}}/*",
    "arn:${AWS::Partition}:s3:::b/*",
    "arn:aws:sqs:*:123456789012:q?",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws-cn:s3:::b/*",
    "arn:aws:s3:*",
    "*",
    "arn:aws:lambda:us-east-1:123456789012:function:fn:*",
    "arn:aws:iam::123456789012:role/path/to/role",
])
def test_wildcards_variables_and_placeholders_are_never_malformed(resource: str) -> None:
    assert not ids(allow(["s3:GetObject", "sqs:SendMessage", "iam:GetPolicy", "lambda:InvokeFunction",
                          "iam:GetRole"], resource)) & {"IAM300", "IAM301"}


@pytest.mark.parametrize("resource, fragment", [
    ("s3:::bucket/*", "not an ARN"),
    ("arn:aws:s3:bucket", "of the 6"),
    ("arn:awz:s3:::b/*", "partition"),
    ("arn:aws:s4:::b/*", "not the service part"),
    ("arn:aws:sqs:useast1:123456789012:q", "Region"),
    ("arn:aws:sqs:us-east-1:12345:q", "12-digit"),
    ("arn:aws:secretsmanager:*:123456789012:db-password", "matches no resource type"),
    # the formats shown are those most like what was written
    ("arn:aws:lambda:*:123456789012:function/*", "(for instance arn:${Partition}:lambda:${Region}:${Account}:func"),
    ("arn:aws:cloudformation:*:123456789012:stack", "(for instance arn:${Partition}:cloudformation:${Region}:"
                                                    "${Account}:stack/"),
    ("arn:aws:logs:*:123456789012:/aws-glue/*", "(for instance arn:${Partition}:logs:${Region}:${Account}:log-group:"),
])
def test_malformed_arn_messages(resource: str, fragment: str) -> None:
    found = [f for f in findings(allow(["s3:GetObject", "sqs:SendMessage", "secretsmanager:GetSecretValue",
                                        "lambda:InvokeFunction", "cloudformation:UpdateStack", "logs:PutLogEvents"],
                                       resource)) if f.rule_id == "IAM300"]
    assert len(found) == 1 and fragment in found[0].message
    assert found[0].severity.value == "medium"


@pytest.mark.parametrize("resource", [
    "arn:aws:secretsmanager:*:*:sqlworkbench!*",  # the account's * takes in 111122223333:secret
    "arn:aws:logs:*:*:/aws-glue/*",  # ... 111122223333:log-group, and the last * a log stream's :log-stream:x
    "arn:aws:cloudwatch:*:*:iotfleethub*",
])
def test_a_star_that_ends_the_region_or_account_runs_past_the_colons(resource: str) -> None:
    """IAM's rule for the Resource element: a ``*`` that is the last character of an ARN segment may match beyond
    the colons; so these name secrets, log groups and streams, alarms (AWS's own managed policies use them)."""
    actions = ["secretsmanager:GetSecretValue", "logs:GetLogEvents", "cloudwatch:DeleteAlarms"]
    assert not ids(allow(actions, resource)) & {"IAM300", "IAM301"}


@pytest.mark.parametrize("resource", [
    "arn:aws:cloudformation:*:*:stack/app",  # a stack is stack/NAME/ID; no id of a stack set holds a slash
    "arn:aws:secretsmanager:*:123456789012:db-password",  # an account written out takes in nothing
    "arn:aws:secretsmanager:*:{{AWS::AccountId}}:db-password",  # nor a template's account: one id when deployed
    "arn:aws:secretsmanager:*:${aws:PrincipalAccount}:db-password",
    "arn:aws:secretsmanager:*:*:secrets:prod/*",  # a misspelt type: no secret's name holds a colon
])
def test_a_spanning_star_still_needs_a_resource_type_to_land_on(resource: str) -> None:
    # IAM300, or IAM301 where another service's format takes the ARN in (AWS Backup's recovery points)
    assert {"IAM300", "IAM301"} & ids(allow(["cloudformation:DescribeStacks", "secretsmanager:GetSecretValue"],
                                            resource))


def test_malformed_arn_beside_good_resources_in_an_allow_is_low_and_in_a_deny_medium() -> None:
    resources = ["arn:aws:secretsmanager:*:*:secret:app-*", "arn:aws:secretsmanager:*:123456789012:db-password"]
    allowed = [f for f in findings(allow("secretsmanager:GetSecretValue", resources)) if f.rule_id == "IAM300"]
    denied = [f for f in findings({"Effect": "Deny", "Action": "secretsmanager:GetSecretValue",
                                   "Resource": resources}) if f.rule_id == "IAM300"]
    assert [f.severity.value for f in allowed] == ["low"] and [f.severity.value for f in denied] == ["medium"]


def test_arn_of_a_retired_service_is_info() -> None:
    found = [f for f in findings(allow("ec2:RunInstances",
                                       "arn:aws:elastic-inference:*:*:elastic-inference-accelerator/*"))
             if f.rule_id == "IAM300"]
    assert [f.severity.value for f in found] == ["info"]


def test_wildcards_do_not_span_arn_parts() -> None:
    assert "IAM300" in ids(allow("sqs:SendMessage", "arn:aws:sqs:*:my-queue"))


def test_glob_intersection() -> None:
    assert globs_intersect("b*", "*/*") and globs_intersect("x*", "*y") and globs_intersect("ab*", "a?c")
    assert not globs_intersect("alias/x", "key/*") and not globs_intersect("*x", "*y")
    assert not globs_intersect("a*", "b*")


def _glob_regex(glob: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob) + r"\Z")


@settings(max_examples=300, deadline=None)
@given(st.text("ab*?", max_size=4), st.text("ab*?", max_size=4))
def test_glob_intersection_finds_a_common_string_exactly_when_one_exists(left: str, right: str) -> None:
    # A common string, if any, is no longer than the two patterns together; "z" stands for any other character.
    both = (_glob_regex(left), _glob_regex(right))
    exists = any(all(r.match("".join(chars)) for r in both)
                 for size in range(len(left) + len(right) + 1) for chars in itertools.product("abz", repeat=size))
    assert globs_intersect(left, right) == exists


# --- IAM301 resource-type-mismatch ---------------------------------------------------------------------------


def test_object_action_on_a_bucket_arn() -> None:
    assert "IAM301" in ids(allow("s3:GetObject", "arn:aws:s3:::bucket"))
    assert "IAM301" not in ids(allow("s3:GetObject", "arn:aws:s3:::bucket*"))
    assert "IAM301" not in ids(allow(["s3:GetObject", "s3:ListBucket"], "arn:aws:s3:::bucket"))
    assert "IAM301" not in ids(allow("s3:Get*", "arn:aws:s3:::bucket"))


def test_the_message_names_the_types_the_arn_can_be() -> None:
    """Not the access grants whose ``${Region}`` an empty Region seemed to fit, nor SSM's copy of S3's bucket."""
    [any_s3] = [f for f in findings(allow("sqs:SendMessage", ["arn:aws:s3:::*", "arn:aws:sqs:*:*:q"]))
                if f.rule_id == "IAM301"]
    assert "type bucket (s3) or object (s3), which" in any_s3.message
    [bucket] = [f for f in findings(allow("s3:GetObject", "arn:aws:s3:::b")) if f.rule_id == "IAM301"]
    assert "type bucket (s3), which" in bucket.message
    [grants] = [f for f in findings(allow("sqs:SendMessage", ["arn:aws:s3:us-east-1:111122223333:access-grants/*",
                                                              "arn:aws:sqs:*:*:q"])) if f.rule_id == "IAM301"]
    assert "accessgrant (s3)" in grants.message


def test_kms_key_actions_on_an_alias_arn_case_insensitive_actions() -> None:
    found = [f for f in findings(allow(["KMS:decrypt", "kms:GENERATEDATAKEY"],
                                       "arn:aws:kms:${Region}:${AccountId}:alias/stackstate-integration"))
             if f.rule_id == "IAM301"]
    assert len(found) == 1 and "alias" in found[0].message and found[0].severity.value == "medium"


def test_statements_that_cannot_be_judged_are_left_alone() -> None:
    assert "IAM301" not in ids({"Effect": "Allow", "NotAction": "s3:GetObject", "Resource": "arn:aws:s3:::b"})
    assert "IAM301" not in ids(allow(["s3:GetObjectt", "s3:GetObject"], "arn:aws:s3:::b"))
    assert "IAM301" not in ids(allow(["s3:GetObject", "s3:ListAllMyBuckets"], "arn:aws:s3:::b"))
    assert "IAM301" not in ids(allow("*", "arn:aws:s3:::b"))


def test_codestar_connections_and_codeconnections_arns_are_interchangeable() -> None:
    assert "IAM301" not in ids(allow("codestar-connections:UseConnection",
                                     "arn:aws:codeconnections:*:*:connection/*"))


# --- IAM400-IAM408 conditions --------------------------------------------------------------------------------

def test_glacier_archive_age_is_compared_as_a_number() -> None:
    """The catalogue types it String; AWS's vault lock example compares it with NumericLessThan."""
    vault = "arn:aws:glacier:us-west-2:123456789012:vaults/examplevault"
    deny = {"Effect": "Deny", "Principal": "*", "Action": "glacier:DeleteArchive", "Resource": vault}
    assert "IAM402" not in ids({**deny, "Condition": {"NumericLessThan": {"glacier:ArchiveAgeInDays": "365"}}},
                               PolicyKind.RESOURCE)
    [mismatch] = [f for f in findings({**deny, "Condition": {"DateLessThan": {"glacier:ArchiveAgeInDays": "365"}}},
                                      PolicyKind.RESOURCE) if f.rule_id == "IAM402"]
    assert "use a String or Numeric operator" in mismatch.message



def test_key_names_are_case_insensitive_and_tag_keys_are_patterns() -> None:
    condition = {"StringEquals": {"AWS:requestedregion": "eu-west-1", "aws:ResourceTag/Team": "a",
                                  "ec2:ResourceTag/cost-center": "b"},
                 "ForAnyValue:StringLike": {"aws:TagKeys": "team*"}}
    assert not ids(allow("ec2:StartInstances", "*", condition)) & {"IAM400", "IAM401", "IAM402", "IAM405"}


def test_provider_keys_are_never_judged() -> None:
    trust = {"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/x"},
             "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:o/r:*"},
                           "StringEquals": {"saml:aud": "https://signin.aws.amazon.com/saml"}}}
    assert not ids(trust, PolicyKind.TRUST) & {"IAM400", "IAM401", "IAM402"}


def test_unknown_keys_with_suggestions() -> None:
    found = [f for f in findings(allow("s3:GetObject", "*", {"StringEquals": {"aws:SourceIpp": "1.2.3.4"}}))
             if f.rule_id == "IAM400"]
    assert len(found) == 1 and "aws:SourceIp" in found[0].message
    assert "IAM400" in ids(allow("s3:GetObject", "*", {"StringEquals": {"s4:prefix": "x"}}))


def test_service_key_for_another_action() -> None:
    assert "IAM401" in ids(allow("s3:GetObject", "*", {"StringEquals": {"ec2:InstanceType": "t3.micro"}}))
    assert "IAM401" not in ids(allow(["s3:GetObject", "ec2:RunInstances"], "*",
                                     {"StringEquals": {"ec2:InstanceType": "t3.micro"}}))


def test_global_key_outside_its_policy_kinds() -> None:
    condition = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert "IAM401" in ids(allow("s3:GetObject", "*", condition))
    resource_policy = {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                       "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*", "Condition": condition}
    assert "IAM401" not in ids(resource_policy, PolicyKind.RESOURCE)


@pytest.mark.parametrize("operator, key, value, expected", [
    ("StringEquals", "aws:MultiFactorAuthPresent", "true", True),
    ("DateGreaterThan", "aws:CurrentTime", "2024-01-01T00:00:00Z", False),
    ("NumericLessThan", "aws:EpochTime", "1700000000", False),
    ("NumericLessThan", "aws:CurrentTime", "1", True),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", False),
    ("IpAddress", "aws:username", "10.0.0.0/8", True),
    ("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/x", False),
    ("StringEquals", "aws:PrincipalArn", "arn:aws:iam::123456789012:role/x", False),
    ("ArnLike", "kms:EncryptionContext:aws:s3:arn", "arn:aws:s3:::b/*", False),
    ("Null", "aws:MultiFactorAuthPresent", "true", False),
])
def test_operator_types(operator: str, key: str, value: str, expected: bool) -> None:
    actions = ["s3:GetObject", "kms:Decrypt"]
    assert ("IAM402" in ids(allow(actions, "*", {operator: {key: value}}))) is expected


def test_bool_and_null_values() -> None:
    assert "IAM403" in ids(allow("s3:GetObject", "*", {"Bool": {"aws:SecureTransport": ["true", "yes"]}}))
    assert "IAM403" not in ids(allow("s3:GetObject", "*", {"BoolIfExists": {"aws:SecureTransport": "FALSE"}}))
    assert "IAM403" not in ids(allow("s3:GetObject", "*", {"Null": {"aws:TagKeys": True}}))


def test_set_qualifiers() -> None:
    low = [f for f in findings(allow("s3:GetObject", "*", {"ForAnyValue:StringEquals": {"aws:username": "a"}}))
           if f.rule_id == "IAM405"]
    assert [f.severity.value for f in low] == ["low"]
    assert "IAM405" not in ids(allow("s3:GetObject", "*", {"ForAllValues:StringEquals": {"aws:CalledVia": "x"}}))


def test_string_like_on_arn_keys_in_every_spelling() -> None:
    for operator in ("StringLike", "StringNotLikeIfExists", "ForAnyValue:StringLike"):
        assert "IAM406" in ids(allow("s3:GetObject", "*", {operator: {"aws:PrincipalArn": "arn:aws:*"}}))
    assert "IAM406" not in ids(allow("s3:GetObject", "*", {"StringLike": {"aws:username": "a*"}}))


@pytest.mark.parametrize("resource, bad", [
    ("arn:aws:s3:::b/${aws:username}/*", False),
    ("arn:aws:s3:::b/${aws:PrincipalTag/team}/*", False),
    ("arn:aws:s3:::b/${aws:username, 'none'}/*", False),
    ("arn:aws:s3:::b/${*}/*", False),
    ("arn:aws:s3:::b/${AccountId}/*", False),
    ("arn:aws:s3:::b/${aws:usernme}/*", True),
    ("arn:aws:s3:::b/${aws:username/*", True),
])
def test_policy_variables(resource: str, bad: bool) -> None:
    assert ("IAM407" in ids(allow("s3:GetObject", resource))) is bad


def test_unknown_operator_is_reported_once_per_block() -> None:
    found = [f for f in findings(allow("s3:GetObject", "*", {"StringEqual": {"aws:username": "a",
                                                                             "aws:userid": "b"}}))
             if f.rule_id == "IAM408"]
    assert len(found) == 1 and "StringEquals" in found[0].message


def test_condition_language_loader() -> None:
    language = load_condition_language()
    assert language.global_key("aws:RequestTag/Team") is not None
    assert language.global_key("aws:RequestTag/") is None
    assert language.operator("stringequals") == ("StringEquals", "String")
    assert language.families_for_type("ArrayOfARN") == ("Arn", "String")
    assert language.global_key("catalog:ChangeType") is not None


# --- IAM500-IAM502 size and redundancy -----------------------------------------------------------------------


def test_size_quota_by_policy_kind() -> None:
    resources = [f"arn:aws:s3:::bucket-number-{i:04d}/*" for i in range(100)]  # ~3,000 characters
    trust = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
             "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": resources}}}
    trust_findings = [f for f in findings(trust, PolicyKind.TRUST) if f.rule_id == "IAM500"]
    assert [f.severity.value for f in trust_findings] == ["low"]
    assert "IAM500" not in ids(allow("s3:GetObject", resources))
    scp = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": resources * 2}
    assert "IAM500" in ids(scp, PolicyKind.ORGANIZATION)


def test_duplicates_and_redundant_actions() -> None:
    found = findings(allow(["s3:GetObject", "S3:getobject", "s3:Get*", "s3:GetObjectAcl", "s3:Get*"]))
    by_rule: dict[str, list[str]] = {}
    for finding in found:
        by_rule.setdefault(finding.rule_id, []).append(finding.details.get("action", ""))
    assert sorted(by_rule["IAM501"]) == ["S3:getobject", "s3:Get*"]
    assert sorted(by_rule["IAM502"]) == ["s3:GetObject", "s3:GetObjectAcl"]
    assert "IAM502" not in ids(allow(["s3:Get*", "s3:List*"]))
    assert "IAM502" in ids(allow(["s3:Get*", "s3:GetObject*"]))


_ONE_ITEM = """{"Version": "2012-10-17", "Statement": [{
  "Effect": "Allow",
  "Action": ACTION,
  "Resource": RESOURCE
}]}"""


@pytest.mark.parametrize(("action", "resource", "line", "pointer"), [
    ('[\n    "s3:GetObjekt"\n  ]', '"*"', 4, "/Statement/0/Action/0"),  # the one item of a list: its own line
    ('"s3:GetObjekt"', '"*"', 3, "/Statement/0/Action"),  # a plain value has no /0
    ('"s3:GetObject"', '[\n    "arn:aws:s3::b/*"\n  ]', 5, "/Statement/0/Resource/0"),
])
def test_a_finding_on_the_one_item_of_a_list_points_at_the_item(action: str, resource: str, line: int,
                                                                 pointer: str) -> None:
    text = _ONE_ITEM.replace("ACTION", action).replace("RESOURCE", resource)
    loaded = load_text(text, "p.json", LoadOptions())
    reported = [f for f in run_rules(loaded, RULES, CheckContext(load_catalog())) if f.rule_id in ("IAM201", "IAM300")]
    assert [(f.location.line, f.location.pointer) for f in reported] == [(line, pointer)], text


@pytest.mark.parametrize(("version", "statement", "severity", "words"), [
    (None, '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}', "low", "it uses none yet"),
    ("2008-10-17", '{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "SNS:Publish", "Resource": '
                   '"arn:aws:sns:us-east-1:111122223333:t", "Condition": {"StringEquals": {"AWS:SourceOwner": '
                   '"111122223333"}}}', "info", "it uses none yet"),  # AWS's default topic policy
    ("2008-10-17", '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/*"}',
     "medium", "so ${aws:username} in statement 0 is plain text;"),
    (None, '{"Sid": "Home", "Effect": "Deny", "NotAction": "s3:*", "Resource": "*", "Condition": {"StringNotLike": '
           '{"s3:prefix": "home/${aws:username}/*"}}}', "high", "in statement Home is plain text: the Deny it scopes"),
    ("2012-10-18", '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}', "medium",
     "is not a policy language version"),
])
def test_an_old_or_missing_version_matters_as_much_as_the_variables_it_breaks(
    version: str | None, statement: str, severity: str, words: str
) -> None:
    head = f'"Version": "{version}", ' if version else ""
    loaded = load_text('{' + head + '"Statement": [' + statement + "]}", "p.json", LoadOptions())
    [finding] = [f for f in run_rules(loaded, all_rules(), CheckContext(load_catalog())) if f.rule_id == "IAM102"]
    assert finding.severity.value == severity and words in finding.message, finding.message


def test_an_arn_with_an_empty_segment_is_malformed_not_another_services_recovery_point() -> None:
    loaded = load_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:DescribeKey", '
                       '"Resource": "arn:*:kms:*:::*"}]}', "p.json", LoadOptions())
    found = [f for f in run_rules(loaded, all_rules(), CheckContext(load_catalog()))
             if f.rule_id in ("IAM300", "IAM301")]
    assert [f.rule_id for f in found] == ["IAM300"] and "'kms' ARN formats" in found[0].message


def test_a_boolean_global_key_of_other_policy_kinds_is_false_not_absent_in_an_identity_policy() -> None:
    loaded = load_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*", '
                       '"Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}]}', "p.json", LoadOptions())
    [finding] = [f for f in run_rules(loaded, all_rules(), CheckContext(load_catalog())) if f.rule_id == "IAM401"]
    assert finding.message.startswith("'aws:PrincipalIsAWSService' is false in every request an identity policy is "
                                      "evaluated for")


@pytest.mark.parametrize(("operator", "effect"), [
    ("IpAddress", "so the condition never holds"),
    ("NotIpAddress", "so the value matches no request and the negated operator holds for every one"),
])
def test_a_bad_ip_value_says_what_its_operator_then_does(operator: str, effect: str) -> None:
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {operator: {"aws:SourceIp": "<my-corporate-cidr>"}}}
    [finding] = [f for f in findings(deny) if f.rule_id == "IAM409"]
    assert finding.message.endswith(effect)


@pytest.mark.parametrize(("operator", "value", "reported"), [
    ("Bool", "true", True),  # never holds in an identity policy: the Deny never applies
    ("BoolIfExists", "false", False),  # always holds: the Deny works as written
    ("Bool", "false", False),
])
def test_principal_is_aws_service_in_an_identity_policy_is_reported_only_when_it_never_holds(
        operator: str, value: str, reported: bool) -> None:
    deny = {"Effect": "Deny", "Action": "kms:CreateGrant", "Resource": "*",
            "Condition": {operator: {"aws:PrincipalIsAWSService": value}}}
    assert ("IAM401" in ids(deny)) is reported


def test_a_statement_a_template_writes_once_gives_each_finding_once() -> None:
    """The variants of a statement (one per Fn::If branch of its Sid) give the same finding at the same spot."""
    template = """Conditions:
  IsProd: !Equals [!Ref AWS::Region, us-east-1]
Resources:
  Bucket:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: b
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: !If [IsProd, PublicReadUs, PublicReadEu]
            Effect: Allow
            Principal: "*"
            Action: s3:GetObject
            Resource: arn:aws:s3:::b/*
"""
    loaded = load_text(template, "stack.yaml", LoadOptions())
    found = [(f.rule_id, f.location.line) for f in run_rules(loaded, RULES, CheckContext(load_catalog()))]
    assert found == [("IAM030", 13)]


@pytest.mark.parametrize(("resources", "reported"), [
    (["arn:aws:s3:::prod-data"], ["s3:PutAccountPublicAccessBlock", "s3:DeleteObject"]),
    (["arn:aws:s3:::prod-data", "arn:aws:s3:::prod-data/*"], ["s3:PutAccountPublicAccessBlock"]),
    (["arn:aws:s3:::*"], []),  # every bucket and object; for an account action, wildcards alone are taken as "*"
    (["*"], []),
    (["arn:aws:s3:::prod-data", "arn:aws:s3:::${aws:username}-notes/*"], ["s3:PutAccountPublicAccessBlock"]),
])
def test_a_deny_names_the_actions_none_of_its_resources_is_asked_for_on(resources: list[str],
                                                                          reported: list[str]) -> None:
    statement = {"Effect": "Deny", "Action": ["s3:DeleteBucket", "s3:PutAccountPublicAccessBlock", "s3:DeleteObject"],
                 "Resource": resources}
    assert [f.details["action"] for f in findings(statement) if f.rule_id == "IAM302"] == reported
    allowed = [f for f in findings({**statement, "Effect": "Allow"}) if f.rule_id == "IAM302"]
    assert not allowed  # an Allow that grants less than it names is not a hole


def test_an_organizations_policy_over_its_quota_as_written_is_low_and_over_it_minified_medium() -> None:
    """AWS Organizations counts every character of a policy saved with the CLI or an SDK (the console strips the
    whitespace); an 8,000-character SCP under 5,120 without whitespace passed."""
    statements = [{"Sid": f"DenyRegion{i}", "Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
                   "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}}
                  for i in range(30)]

    def sizes(document: str) -> list[tuple[str, str]]:
        loaded = load_text(document, "scp.json", LoadOptions(kind=PolicyKind.ORGANIZATION))
        return [(f.severity.value, f.message.split(" exceed")[0]) for f in run_rules(loaded, RULES, CheckContext(
            load_catalog())) if f.rule_id == "IAM500"]

    indented = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=8)
    compact = json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))
    assert len(compact) < 5_120 < len(indented)
    assert sizes(indented) == [("low", f"{len(indented):,} characters as written")]
    assert sizes(compact) == []
    assert sizes(json.dumps({"Version": "2012-10-17", "Statement": statements * 2}))[0][0] == "medium"


def test_an_iam_arn_without_its_account_matches_nothing() -> None:
    found = [f for f in findings({"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "arn:aws:iam:::role/Org"})
             if f.rule_id == "IAM300"]
    assert [f.message for f in found] == ["'arn:aws:iam:::role/Org' has no account: every IAM ARN names one (a "
                                          "12-digit id, or 'aws' for AWS managed policies), so the entry matches "
                                          "nothing"]
    # AWS-owned resources of other services have none: SSM's public documents and parameters, EC2's images
    assert not ids(allow(["ssm:StartSession", "ssm:GetParameter", "ec2:RunInstances"], [
        "arn:aws:ssm:*::document/AWS-StartSSHSession", "arn:aws:ssm:*::parameter/aws/service/*",
        "arn:aws:ec2:*::image/*"])) & {"IAM300"}


@pytest.mark.parametrize(("principal", "reported"), [
    ("arn:aws:iam::Account2:role/ApplicationRole", True),  # the guide's placeholder, left in
    ("arn:aws:iam::<ACCOUNT_ID>:root", True),
    ("arn:aws:iam::12345678901:root", True),  # eleven digits
    ("arn:aws:iam::123456789012:role/ApplicationRole", False),
    ("123456789012", False),
    ("arn:aws:sts::123456789012:assumed-role/app/session", False),
    ("arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2QWRUHAPOMQZL", False),
    ("AROAJQABLZS4A3QDU576Q", False),  # the unique id IAM shows once the role is deleted
    ("arn:aws:sts::123456789012:federated-user/alice", False),
    ("arn:aws-cn:iam::123456789012:user/ops", False),
    ("arn:aws:iam::123456789012:group/admins", True),  # a group is no principal
    ("arn:aws:iam::123456789012:role", True),  # no name
    ("arn:aws:iam::123456789012:instance-profile/web", True),
    ("AKIAIOSFODNN7EXAMPLE", True),  # an access key id
])
def test_an_aws_principal_iam_rejects_is_iam106(principal: str, reported: bool) -> None:
    """The Secrets Manager guide's cross-account example names arn:aws:iam::Account2:role/ApplicationRole: IAM
    rejects it ("Invalid principal in policy"), and it was no finding."""
    found = findings({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject",
                      "Resource": "arn:aws:s3:::b/*"}, PolicyKind.RESOURCE)
    assert [f.rule_id for f in found if f.rule_id == "IAM106"] == (["IAM106"] if reported else [])


def test_messages_spell_values_as_json_and_name_the_stray_comma() -> None:
    from auditor.loaders.parse import ParseError, parse_json

    loaded = load_text('{"Version": true, "Statement": []}', "v.json", LoadOptions())
    [problem] = [p for policy in loaded.policies for p in policy.problems if p.rule == "bad-version"]
    assert problem.message.startswith("Version true is not")  # was Python's "True"
    try:
        parse_json('{"Statement": [{"Action": ["s3:GetObject",]}]}', "c.json")
    except ParseError as error:
        assert error.message == "expected a value, found ']': remove the trailing comma before it"
    else:
        raise AssertionError("a trailing comma parsed")
    [star] = [f for f in findings({"Effect": "Allow", "NotAction": [], "Resource": "*"}) if f.rule_id == "IAM004"]
    assert star.message.endswith("everything except nothing (the NotAction list is empty)")


@pytest.mark.parametrize(("operator", "value", "reported"), [
    ("StringEquals", "prod*", True), ("StringNotEquals", "prod-*", True), ("StringEqualsIgnoreCase", "*", True),
    ("StringEquals", "https://example.com/page?id=1", False),  # a ? is the URL's own
    ("StringLike", "prod*", False), ("StringEquals", "prod", False),
    ("StringEquals", "a${*}b", False),  # the variable that stands for a literal *
])
def test_a_wildcard_compared_exactly(operator: str, value: str, reported: bool) -> None:
    found = [f for f in findings(allow("s3:GetObject", "arn:aws:s3:::b/*",
                                       {operator: {"aws:PrincipalTag/env": value}})) if f.rule_id == "IAM410"]
    assert bool(found) == reported
    if found:
        assert "StringLike" in found[0].message or "StringNotLike" in found[0].message


@pytest.mark.parametrize(("value", "reported"), [("2024-13-45T00:00:00Z", True), ("2023-02-29", True),
                                                 ("2026-04-31T10:00Z", True), ("2024-02-29T23:59:59Z", False),
                                                 ("2016-12-31T23:59:60Z", False), ("2024-01-01T24:00:00Z", False),
                                                 ("1767225600", False)])
def test_a_date_that_is_not_in_the_calendar(value: str, reported: bool) -> None:
    found = [f for f in findings(allow("s3:GetObject", "*", {"DateLessThan": {"aws:CurrentTime": value}}))
             if f.rule_id == "IAM409"]
    assert bool(found) == reported


def test_a_vpc_endpoint_policy_grants_nothing_and_is_still_linted() -> None:
    """AWS's default endpoint policy ("Principal": "*", "Action": "*") and its bucket example were critical IAM030
    when read as resource policies: an endpoint policy only limits what passes through the endpoint."""
    default = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    assert ids(default, PolicyKind.ENDPOINT) == set()
    assert "IAM030" in ids(default, PolicyKind.RESOURCE)
    assert ids({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObjekt", "Resource": "*"},
               PolicyKind.ENDPOINT) == {"IAM201"}
    [no_principal] = [f for f in findings({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                                          PolicyKind.ENDPOINT) if f.rule_id == "IAM106"]
    assert no_principal.message == "an endpoint policy statement must name a Principal"
    large = [{**default, "Sid": f"S{i}", "Resource": f"arn:aws:s3:::bucket-{i:05d}/*"} for i in range(300)]
    assert "IAM500" in ids(large, PolicyKind.ENDPOINT)


def test_aws_principal_is_aws_service_is_in_the_context_of_an_endpoint_policy() -> None:
    """AWS's data-perimeter endpoint policies allow requests by AWS service principals with it (hunt56)."""
    statement = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
                 "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}
    assert "IAM401" not in ids(statement, PolicyKind.ENDPOINT)
