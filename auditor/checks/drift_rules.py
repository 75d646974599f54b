"""Drift from a documented baseline (IAM9xx).

These rules need a baseline, so they do not run on a policy alone: :mod:`auditor.drift`
compares a target with a baseline and reports with the metadata registered here
(``iam-audit drift``, and ``check`` on account exports where a baseline applies).
Their examples name the bundled baseline they are compared with (``baseline=``); the
example test runs the comparison for them.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import CheckContext
from auditor.model import Policy, PolicyKind, Severity
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()

_STREAM = "arn:aws:firehose:us-east-1:111122223333:deliverystream/stackstate-eventbridge-stream"


def _eventbridge(actions: str, resources: str = f'"{_STREAM}"') -> str:
    return (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        f'"Action": [{actions}], "Resource": [{resources}]}}]}}'
    )


_EVENTS = '{"Service": "events.amazonaws.com"}'
_DOCUMENTED = _eventbridge('"firehose:PutRecord", "firehose:PutRecordBatch"')


def _key_policy(s3_access_condition: str) -> str:
    """The StackState KMS key policy (stackstate/kms-key), with the condition of its S3 statement as given."""
    encrypt = '"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"'
    return (
        '{"Version": "2012-10-17", "Statement": ['
        '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": ["kms:Create*",'
        ' "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*",'
        ' "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",'
        ' "kms:CancelKeyDeletion"], "Resource": "*"},'
        f' {{"Effect": "Allow", "Principal": {{"AWS": "*"}}, "Action": [{encrypt}], "Resource": "*"'
        f'{s3_access_condition}}},'
        ' {"Effect": "Allow", "Principal": {"Service": "delivery.logs.amazonaws.com"},'
        f' "Action": [{encrypt}], "Resource": "*"}}]}}'
    )


def _trust(principal: str) -> str:
    return (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        f'"Principal": {principal}, "Action": "sts:AssumeRole"}}]}}'
    )


def _export(attached: str) -> str:
    role = "StackStateEventBridgeRole-us-east-1"
    return (
        f'{{"RoleDetailList": [{{"RoleName": "{role}", "Arn": "arn:aws:iam::111122223333:role/{role}", '
        f'"AssumeRolePolicyDocument": {_trust(_EVENTS)}, '
        f'"RolePolicyList": [{{"PolicyName": "eventbridge", "PolicyDocument": {_DOCUMENTED}}}], '
        f'"AttachedManagedPolicies": [{attached}]}}], "Policies": []}}'
    )


_ADMIN = '{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}'
_EVENTBRIDGE = "stackstate/eventbridge-role"


def _needs_a_baseline(subject: Policy, context: CheckContext) -> Iterator[Hit]:
    """Drift findings come from :mod:`auditor.drift`, which compares with a baseline; a policy alone has none."""
    return iter(())


RULES.rule(
    "IAM901",
    "drift-action-added",
    "drift-action-added",
    Severity.HIGH,
    "Allows actions the documented baseline does not",
    what="The target allows actions that the vendor's documented policy does not, after expanding wildcards "
    "and NotAction against the IAM action catalogue. Reported at medium when every added action only lists "
    "or reads, at high otherwise, and for reads that return secrets or credentials "
    "(`secretsmanager:GetSecretValue`, the credentials-exposure list of `rules/sensitive.yaml`).",
    why="Vendor roles are trusted by a third party. Every action beyond what the vendor documents is access the "
    "vendor (or whoever compromises it) holds without needing it.",
    example='The baseline grants `firehose:PutRecord` and `firehose:PutRecordBatch`; the role also allows '
    '`firehose:DeleteDeliveryStream`.',
    fix="Remove the added actions, or, if your integration needs them, record that in your own baseline "
    "(`--baseline PATH`).",
    bad=[example(_eventbridge('"firehose:PutRecord", "firehose:PutRecordBatch", "firehose:DeleteDeliveryStream"'),
                 "IAM901", baseline=_EVENTBRIDGE)],
    good=[example(_eventbridge('"firehose:PutRecordBatch", "FIREHOSE:putrecord"'), baseline=_EVENTBRIDGE,
                  note="other order and letter case are not drift")],
)(_needs_a_baseline)

RULES.rule(
    "IAM902",
    "drift-action-removed",
    "drift-action-removed",
    Severity.MEDIUM,
    "Lacks actions the documented baseline grants",
    what="The baseline allows requests the target does not: an action is missing altogether (medium), or it is "
    "allowed on fewer resources, for fewer principals or under stricter conditions (low).",
    why="The vendor's integration calls what its documentation asks for; a missing permission breaks it, often "
    "in a way that shows up only later (a nightly job, a scaling event).",
    example="The baseline grants `firehose:PutRecordBatch`; the role allows only `firehose:PutRecord`.",
    fix="Grant what the baseline documents, or check with the vendor that the feature needing it is unused.",
    bad=[example(_eventbridge('"firehose:PutRecord"'), "IAM902", baseline=_EVENTBRIDGE)],
    good=[example(_eventbridge('"firehose:PutRecord*"'), "IAM002", baseline=_EVENTBRIDGE,
                  note="a wildcard that expands to exactly the documented actions")],
)(_needs_a_baseline)

RULES.rule(
    "IAM903",
    "drift-resource-widened",
    "drift-resource-widened",
    Severity.HIGH,
    "Allows an action on resources the documented baseline does not",
    what="For some action, the target's resource patterns are not contained in the baseline's for that action "
    "(wildcards compared by what they match, not as text), or a Deny of the baseline is missing.",
    why="A vendor role scoped to one bucket or stream that now reaches every bucket or stream in the account "
    "turns a narrow integration into broad data access.",
    example="The baseline allows `firehose:PutRecord` on one delivery stream; the role allows it on "
    "`deliverystream/*`.",
    fix="Scope the statement back to the documented resources (with your account, region and names in place "
    "of the placeholders).",
    bad=[example(_eventbridge('"firehose:PutRecord", "firehose:PutRecordBatch"',
                              '"arn:aws:firehose:us-east-1:111122223333:deliverystream/*"'),
                 "IAM903", "IAM003", baseline=_EVENTBRIDGE, note="every delivery stream of the account")],
    good=[example(
        '{"Version": "2012-10-17", "Statement": ['
        f'{{"Effect": "Allow", "Action": "firehose:PutRecord", "Resource": "{_STREAM}"}},'
        f'{{"Effect": "Allow", "Action": "firehose:PutRecordBatch", "Resource": "{_STREAM}"}}]}}',
        baseline=_EVENTBRIDGE, note="split statements are not drift")],
)(_needs_a_baseline)

RULES.rule(
    "IAM904",
    "drift-condition-loosened",
    "drift-condition-loosened",
    Severity.HIGH,
    "Drops or weakens a condition of the documented baseline",
    what="The target allows requests without a condition the baseline puts on them (a tag condition, "
    "`kms:ViaService`, an encryption context, a trust policy's `sts:ExternalId`), or with a weaker one (more "
    "values, a wider pattern, IfExists added). A target statement keeps a baseline condition when it carries the "
    "same operator and key with a subset of the values (or a narrower pattern).",
    why="Conditions are often the only thing that keeps a vendor's broad action list to the vendor's own "
    "resources; without `kms:ViaService` a KMS grant meant for S3 works from anywhere. Without its "
    "`sts:ExternalId`, a trust lets another customer of the vendor have the vendor assume the role (the confused "
    "deputy problem).",
    example="The baseline lets every principal use the KMS key only through S3 (`kms:ViaService`); the key "
    "policy drops that condition.",
    fix="Restore the condition with the documented values.",
    bad=[example(_key_policy(""), "IAM904", "IAM030", "IAM034", kind=PolicyKind.RESOURCE,
                 baseline="stackstate/kms-key",
                 note="IAM030 and IAM034 are the linter's: the documented key policy has both defects as well")],
    good=[example(_key_policy(', "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}'),
                  "IAM030", "IAM034", kind=PolicyKind.RESOURCE, baseline="stackstate/kms-key")],
)(_needs_a_baseline)


RULES.rule(
    "IAM905",
    "drift-trust-widened",
    "drift-trust-widened",
    Severity.HIGH,
    "Trust policy admits principals or requests the documented baseline does not",
    what="The role's trust policy (or a resource policy's Principal) admits principals the baseline does not, "
    "or allows other actions (`sts:TagSession`). Critical when the added principal is everyone (`\"*\"` that no "
    "`aws:PrincipalAccount`, `aws:PrincipalOrgID` or `aws:PrincipalArn` condition confines). A condition "
    "such as `sts:ExternalId` dropped or weakened for the same principals is IAM904.",
    why="Who can assume a vendor role matters more than what it may do: an extra trusted account opens the role "
    "to parties the vendor never named.",
    example="The baseline trusts `events.amazonaws.com`; the role also trusts account 444455556666.",
    fix="Remove the added principals and actions.",
    bad=[example(_trust('{"Service": "events.amazonaws.com", "AWS": "arn:aws:iam::444455556666:root"}'),
                 "IAM905", "IAM031", "IAM034", kind=PolicyKind.TRUST, baseline=_EVENTBRIDGE,
                 note="the documented trust itself lacks aws:SourceAccount (IAM034)")],
    good=[example(_trust('{"Service": ["events.amazonaws.com"]}'), "IAM034", kind=PolicyKind.TRUST,
                  baseline=_EVENTBRIDGE)],
)(_needs_a_baseline)

RULES.rule(
    "IAM906",
    "drift-managed-policy",
    "drift-managed-policy",
    Severity.HIGH,
    "Managed policy attachments differ from the documented baseline",
    what="The principal has an AWS managed policy attached that the baseline does not list (critical for those of "
    "`rules/privileged-managed-policies.yaml`, as IAM006), or lacks one the baseline attaches (medium). "
    "AWS managed policies are compared by ARN, customer managed ones by name.",
    why="An attached AdministratorAccess makes every documented scope meaningless; a missing documented "
    "attachment breaks the integration.",
    example="The StackState EventBridge role has AdministratorAccess attached.",
    fix="Detach what the baseline does not list; attach what it does.",
    bad=[example(_export(_ADMIN), "IAM906", "IAM034", "IAM006", baseline=_EVENTBRIDGE)],
    good=[example(_export(""), "IAM034", baseline=_EVENTBRIDGE)],
)(_needs_a_baseline)

_CONNECTION_TRUST = "upsolver/connection-trust"


def _connection_trust(role: str, external_id: str) -> str:
    return ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
            f'"arn:aws:iam::428641199958:role/{role}"}}, "Action": "sts:AssumeRole", "Condition": '
            f'{{"StringEquals": {{"sts:ExternalId": "{external_id}"}}}}}}]}}')


RULES.rule(
    "IAM908",
    "documented-value-kept",
    "drift-condition-loosened",
    Severity.HIGH,
    "A condition keeps the documentation's placeholder or example value",
    what="The target writes, where the baseline has a placeholder, the documentation's own text: the placeholder "
    "itself (`<get_from_upsolver>`) or the example value the page shows (`GTWKRE6K`). The comparison matches, so "
    "no other drift rule reports it. In a trusted principal it is reported as IAM905.",
    why="An `sts:ExternalId` printed on a public page is known to every other customer of the vendor, so it no "
    "longer stops the confused deputy; a placeholder is a value the vendor never sends, so the integration fails, "
    "or every customer who copied the page shares it.",
    example="The Upsolver connection role trusts the documentation's example role with its example ExternalId "
    "`GTWKRE6K`.",
    fix="Put the values the vendor gave your organization (its console shows them); bind them with `--var` to "
    "compare against them.",
    bad=[example(_connection_trust("upsolver-role-355e3b5f-960d-406b-afa7-12f4fd8327eb", "GTWKRE6K"), "IAM908",
                 "IAM905", kind=PolicyKind.TRUST, baseline=_CONNECTION_TRUST,
                 note="IAM905: the trusted role is the example's, another organization's")],
    good=[example(_connection_trust("upsolver-role-0b7d41e2-5c3a-4f0e-9d1b-7a6c2e8f4b90", "Q9XK2M7P"),
                  kind=PolicyKind.TRUST, baseline=_CONNECTION_TRUST)],
)(_needs_a_baseline)

RULES.rule(
    "IAM907",
    "unbound-placeholder",
    "drift-resource-widened",
    Severity.MEDIUM,
    "A baseline placeholder takes different values in the target",
    what="A placeholder of the baseline (`${AccountId}`, `<get_from_upsolver>`) is bound from `--var` or "
    "inferred from the target, consistently across the whole principal. When the target uses two different "
    "values in its place, the most frequent one is used and this is reported; the other value then shows up "
    "as drift.",
    why="Two accounts or two external ids where the vendor documents one usually means a copy-paste from "
    "another environment, or access for a second party.",
    example="The EventBridge role's policy names the delivery stream in accounts 111122223333 and "
    "444455556666.",
    fix="Use one value, or bind the placeholder explicitly with `--var NAME=VALUE`.",
    bad=[example(_eventbridge('"firehose:PutRecord", "firehose:PutRecordBatch"',
                              f'"{_STREAM}", "{_STREAM.replace("111122223333", "444455556666")}"'),
                 "IAM907", "IAM903", baseline=_EVENTBRIDGE)],
    good=[example(_DOCUMENTED, baseline=_EVENTBRIDGE)],
)(_needs_a_baseline)
