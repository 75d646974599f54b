"""Sensitive actions on every resource (credentials, data, resource policies) and public resource policies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from functools import lru_cache

from auditor.checks._risk import (
    action_classes,
    allows_left,
    compiled,
    confines_as_deny,
    denied_outside,
    denies_of_everyone,
    display,
    granted_text,
    is_everyone,
    is_negated,
    narrowing_condition,
    only_aws_services,
    scoping_conditions,
)
from auditor.checks.resources import names_every_resource_of
from auditor.checks.wildcards import full_admin
from auditor.engine import CheckContext
from auditor.knowledge import load_sensitive
from auditor.model import Condition, Policy, PolicyKind, Severity
from auditor.permissions import CompiledStatement
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()
_V = '{"Version": "2012-10-17", "Statement": ['


@lru_cache(maxsize=1)
def sensitive_sets() -> dict[str, frozenset[str]]:
    return {
        category: frozenset(entry.action.lower() for entry in entries)
        for category, entries in load_sensitive().by_category().items()
    }


SECRET_READS = frozenset({"secretsmanager:getsecretvalue", "secretsmanager:batchgetsecretvalue"})
"""Reads of secret values: open to everyone in a resource policy, critical like a write."""


@lru_cache(maxsize=1)
def secret_actions() -> frozenset[str]:
    """Actions that return secrets or credentials: the credentials-exposure list and the secret reads."""
    return sensitive_sets()["credentials-exposure"] | SECRET_READS


@lru_cache(maxsize=1)
def _reasons() -> dict[str, str]:
    return {entry.action.lower(): entry.reason
            for entries in load_sensitive().by_category().values() for entry in entries}


def _severity(found: frozenset[str], category: str, context: CheckContext) -> Severity | None:
    """Low when every action accepts only ``*`` (nothing narrower can be written); IAM credentials high."""
    if found <= action_classes(context.catalog).star_only:
        return Severity.LOW
    if category == "credentials-exposure" and any(a.startswith(("iam:", "sts:")) for a in found):
        return Severity.HIGH
    return None


def _sensitive_hits(policy: Policy, context: CheckContext, category: str) -> Iterator[Hit]:
    if policy.kind is not PolicyKind.IDENTITY:
        return
    wanted = sensitive_sets()[category]
    catalog = context.catalog
    for statement in allows_left(policy, context):
        found = statement.actions & wanted
        where = "every resource"
        if found and not statement.any_resource:
            found = frozenset(a for a in found
                              if names_every_resource_of(a, statement.resources, context, one_account=True))
            if not all(names_every_resource_of(a, statement.resources, context) for a in found):
                where = "every resource of the account or Region it names"
        if not found or scoping_conditions(statement.conditions) or full_admin(statement, context):
            continue
        st = statement.statement
        names = display(found, catalog)
        reasons = _reasons()
        pointer = st.element_pointer("NotResource" if st.not_resources is not None else "Resource")
        yield Hit(
            f"{', '.join(names[:4])}{', ...' if len(names) > 4 else ''} on {where}: "
            f"{_what_they_do(found, reasons, context)}",
            pointer=pointer, statement=st, severity=_severity(found, category, context),
            details={"actions": names, "reasons": {catalog.display_name(a): reasons[a] for a in sorted(found)}},
        )


def _from_listed_networks(conditions: Sequence[Condition]) -> bool:
    """An ``IpAddress aws:SourceIp`` condition listing address ranges, none of them wide (``0.0.0.0/1``, anything
    broader than /8 in IPv4 or /32 in IPv6): S3 and the access analyzers do not count such a policy as public."""
    # ForAnyValue: on this one-valued key is IpAddress (IAM405); ForAllValues: holds when the key is absent
    return any(c.key.lower() == "aws:sourceip" and c.base_operator == "IpAddress" and not c.if_exists
               and c.set_qualifier != "ForAllValues" and c.values
               and all(isinstance(v, str) and v.strip() and not _wide_network(v.strip()) for v in c.values)
               for c in conditions)


def _denied_beyond_listed_networks(allow: CompiledStatement, policy: Policy, context: CheckContext) -> bool:
    """A Deny of everyone in the same policy that refuses the Allow outside listed address ranges (``NotIpAddress
    aws:SourceIp``, none of them wide), as API Gateway's and S3's IP allow-lists are written: the Allow is then
    confined as if it carried the ``IpAddress`` condition itself."""
    for deny in denies_of_everyone(allow, policy, context):
        outside = [c for c in deny.conditions if c.key.lower() == "aws:sourceip" and c.base_operator == "NotIpAddress"
                   and c.set_qualifier is None and c.values
                   and all(isinstance(v, str) and v.strip() and not _wide_network(v.strip()) for v in c.values)]
        if outside and all(c in outside or confines_as_deny(c) for c in deny.conditions):
            return True
    return False


WIDEST_LISTED_PREFIX = {4: 8, 6: 32}
"""S3 evaluates a bucket policy that lets in a range broader than these prefix lengths as public."""


def _wide_network(text: str) -> bool:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:  # not an address (IAM409): it matches no request
        return text.endswith("/0")
    return network.prefixlen < WIDEST_LISTED_PREFIX[network.version]


def _unconfined(conditions: Sequence[Condition]) -> str:
    """Why the conditions of a public statement still leave it open to principals of any account."""
    keys = sorted({c.key for c in conditions})
    if all(c.key.lower() in ("aws:sourceip", "aws:userid", "aws:username") and not is_negated(c) for c in conditions):
        return (f" from any account that meets {', '.join(keys)}: a network or user-name condition names no account "
                "or organisation")
    return f" under conditions ({', '.join(keys)}) that confine it to no account or organisation"


def _what_they_do(found: frozenset[str], reasons: dict[str, str], context: CheckContext) -> str:
    """The reason of the action named first; with actions of other reasons, the first of each too (at most two)."""
    by_reason: dict[str, str] = {}
    for action in sorted(found, key=context.catalog.display_name):
        by_reason.setdefault(reasons[action], context.catalog.display_name(action))
    if len(by_reason) == 1:
        return next(iter(by_reason))
    shown = [f"{action} {reason}" for reason, action in list(by_reason.items())[:2]]
    more = len(by_reason) - len(shown)
    rest = f"; and {more} other kind{'s' if more > 1 else ''} of access (see details)" if more else ""
    return "; ".join(shown) + rest


@RULES.rule(
    "IAM020", "credentials-exposure", "credentials-exposure", Severity.MEDIUM,
    "Actions that hand out credentials, on every resource",
    what="Reports an `Allow` of an action that returns credentials or secrets (`rules/sensitive.yaml`: "
         "`iam:CreateAccessKey`, `iam:UpdateLoginProfile`, `ecr:GetAuthorizationToken`, "
         "`redshift:GetClusterCredentials`...) on every resource (`*`, or a pattern such as `arn:aws:iam::*:user/*` "
         "that matches every ARN of a type the action takes, in every account or in the one it names) without a "
         "scoping condition. High for IAM "
         "user credentials (`iam:`, `sts:`); low when every action accepts only `*` (`ecr:GetAuthorizationToken`: "
         "the token reaches only repositories other permissions allow).",
    why="The holder can mint credentials for other users, databases or registries and act as them; the new "
        "credentials outlive the holder's own session.",
    example='{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"}',
    fix='Scope to the caller (`arn:aws:iam::*:user/${aws:username}`) or the specific resources.',
    bad=[example(_V + '{"Effect": "Allow", "Action": "redshift:GetClusterCredentials", "Resource": "*"}]}',
                 "IAM003", "IAM020")],
    good=[example(_V + '{"Effect": "Allow", "Action": "iam:CreateAccessKey", '
                  '"Resource": "arn:aws:iam::*:user/${aws:username}"}]}')],
)
def credentials_exposure(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _sensitive_hits(policy, context, "credentials-exposure")


@RULES.rule(
    "IAM021", "data-access", "data-access", Severity.MEDIUM, "Reading sensitive data on every resource",
    what="Reports an `Allow` of an action that reads stored data (`s3:GetObject`, `secretsmanager:GetSecretValue`, "
         "`ssm:GetParameter`, `kms:Decrypt`, `dynamodb:Scan`...) on every resource (`*`, or a pattern such as "
         "`arn:aws:s3:::*/*` that matches every ARN of a type the action takes, in every account and Region or in the "
         "one it names: `arn:aws:secretsmanager:*:111122223333:secret:*` is every secret an identity policy of that "
         "account reaches, as `aws:ResourceAccount` naming it is) without a scoping condition.",
    why="Every bucket, secret, parameter and table of the account is readable, including those created later "
        "for other purposes; one leaked credential exposes all of it.",
    example='{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}',
    fix="Name the buckets, secrets or keys the job reads, or scope with `aws:ResourceTag/...`.",
    bad=[example(_V + '{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}',
                 "IAM021"),
         example(_V + '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"}]}', "IAM021",
                 note="every object of every bucket: as much as * gives s3:GetObject"),
         example(_V + '{"Effect": "Allow", "Action": "*", "Resource": "*"}, '
                 '{"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"}]}', "IAM021",
                 note="the Deny leaves s3:GetObject alone of the Allow, on every resource"),
         example(_V + '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", '
                 '"Condition": {"StringLike": {"aws:ResourceAccount": "*"}}}]}', "IAM021",
                 note="a condition every value matches scopes nothing"),
         example(_V + '{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*", '
                 '"Condition": {"StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}}}]}', "IAM021",
                 note="every secret of the caller's own account, which is all an identity policy reaches anyway"),
         example(_V + '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::?*"}]}', "IAM021"),
         example(_V + '{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", '
                 '"Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:*"}]}', "IAM021",
                 note="every secret of the account in the Region"),
         example(_V + '{"Effect": "Allow", "Action": "ssm:GetParameters", '
                 '"Resource": "arn:aws:ssm:{{AWS::Region}}:{{AWS::AccountId}}:parameter/*"}]}', "IAM021",
                 note="a template's own account and Region: every parameter the stack's role reaches")],
    good=[example(_V + '{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", '
                  '"Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-*"}]}'),
          example(_V + '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", '
                  '"Condition": {"StringLike": {"aws:ResourceTag/team": "*"}}}]}',
                  note="only resources that carry a team tag: the key must be there")],
)
def data_access(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _sensitive_hits(policy, context, "data-access")


@RULES.rule(
    "IAM022", "resource-exposure", "resource-exposure", Severity.MEDIUM,
    "Changing resource policies or sharing, on every resource",
    what="Reports an `Allow` of an action that rewrites resource policies or shares resources "
         "(`s3:PutBucketPolicy`, `kms:PutKeyPolicy`, `lambda:AddPermission`, `ec2:ModifySnapshotAttribute`...) "
         "on every resource (`*`, or a pattern such as `arn:aws:s3:::*` that matches every ARN of a type the action "
         "takes, in every account or in the one it names) without a scoping condition. Low when every action "
         "accepts only `*`.",
    why="The holder can open any bucket, key, queue or snapshot to another account or to the public, which "
        "bypasses every identity policy of the account.",
    example='{"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": "*"}',
    fix="Restrict to the resources the job administers; guard public sharing with an SCP or Block Public Access.",
    bad=[example(_V + '{"Effect": "Allow", "Action": "ec2:ModifySnapshotAttribute", "Resource": "*"}]}',
                 "IAM003", "IAM022")],
    good=[example(_V + '{"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::b"}]}'),
          example(_V + '{"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::team-*"}]}'),
          example(_V + '{"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:*:*:snapshot/*", '
                  '"Condition": {"StringLike": {"aws:RequestTag/CSIVolumeSnapshotName": "*"}}}]}', "IAM002",
                  note="ModifySnapshotAttribute carries no request tag: the condition keeps it out")],
)
def resource_exposure(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _sensitive_hits(policy, context, "resource-exposure")


@RULES.rule(
    "IAM030", "public-access", "public-access", Severity.HIGH, "Resource policy open to everyone",
    what='Reports an `Allow` in a resource policy whose principal is `"*"` or `{"AWS": "*"}` (or that uses '
         "`NotPrincipal`) and whose conditions do not confine it to known accounts, organisations or networks "
         "(`aws:SourceAccount`, `aws:SourceArn` with an account, `aws:SourceOwner`, `aws:PrincipalOrgID`, "
         "`aws:PrincipalAccount`, `aws:PrincipalArn` with an account, `aws:SourceVpce`, `aws:SourceVpc`, "
         "`aws:PrincipalOrgPaths`, `kms:CallerAccount`, `aws:userid`, and `s3:DataAccessPointAccount` or "
         "`s3:DataAccessPointArn` for a bucket that delegates to access points), with a literal value or the "
         "resource's own "
         "(`\"aws:PrincipalOrgID\": \"${aws:ResourceOrgID}\"`, `\"aws:PrincipalAccount\": "
         "\"${aws:ResourceAccount}\"`). `kms:ViaService` alone does not narrow it, nor do `aws:ResourceAccount` "
         "or `aws:ResourceOrgID` compared with a value (they describe the resource, not the caller), a wildcard "
         "value under `StringLike` (`\"aws:PrincipalAccount\": \"*\"`; under `StringEquals` the `*` is a character no "
         "account has), a negated operator or `...IfExists`. Critical when write "
         "or permissions-management actions are open, or actions that return secrets or credentials "
         "(`secretsmanager:GetSecretValue`, the credentials-exposure list of `rules/sensitive.yaml`): a public "
         "bucket may be a website, a public secret never is. An `aws:SourceIp` allow-list (no range broader than "
         "/8 in IPv4 or /32 in IPv6, as S3 judges) makes it low (medium for those actions): AWS does not count "
         "it as public, but any account may use the resource from those addresses; so does a Deny of everyone "
         "outside such ranges (`NotIpAddress`), as API Gateway's examples write the allow-list.",
    why="Anyone with an AWS account can use the resource: read the bucket, decrypt with the key, send to the "
        "queue. Through AWS services, `kms:ViaService` still admits every AWS customer.",
    example='{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*", '
            '"Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}',
    fix="Name the accounts or roles as principals, or add `aws:PrincipalOrgID` / `aws:SourceAccount` / "
        "`kms:CallerAccount` conditions.",
    bad=[example(_V + '{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
                 '"Resource": "arn:aws:s3:::b/*"}]}', "IAM030", kind=PolicyKind.RESOURCE),
         example(_V + '{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage", '
                 '"Resource": "arn:aws:sqs:us-east-1:123456789012:q", '
                 '"Condition": {"StringLike": {"aws:PrincipalAccount": "*"}}}]}', "IAM030",
                 kind=PolicyKind.RESOURCE),
         example(_V + '{"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", '
                 '"Resource": "*"}]}', "IAM030", kind=PolicyKind.RESOURCE, note="critical: a public secret"),
         example(_V + '{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:ESHttpGet", '
                 '"Resource": "arn:aws:es:us-east-1:123456789012:domain/logs/*", '
                 '"Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]}', "IAM030",
                 kind=PolicyKind.RESOURCE, note="low: an address allow-list, which AWS does not count as public"),
         example(_V + '{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", '
                 '"Resource": "execute-api:/*"}, {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", '
                 '"Resource": "execute-api:/*", "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]}',
                 "IAM030", kind=PolicyKind.RESOURCE,
                 note="medium (Invoke is filed as write): the allow-list written as a Deny outside it"),
         example(_V + '{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", '
                 '"Condition": {"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}}}]}', "IAM030",
                 kind=PolicyKind.RESOURCE, note="not an allow-list: the two ranges are every IPv4 address")],
    good=[example(_V + '{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
                  '"Resource": "arn:aws:s3:::b/*", '
                  '"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]}',
                  kind=PolicyKind.RESOURCE),
          example(_V + '{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage", '
                  '"Resource": "arn:aws:sqs:us-east-1:123456789012:q", '
                  '"Condition": {"StringEquals": {"aws:PrincipalOrgID": "${aws:ResourceOrgID}"}}}]}',
                  kind=PolicyKind.RESOURCE),
          example(_V + '{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
                  '"Resource": "arn:aws:s3:::b/*", '
                  '"Condition": {"StringEquals": {"aws:userid": "AIDAJQABLZS4A3QDU576Q"}}}]}',
                  kind=PolicyKind.RESOURCE, note="one principal's unique id"),
          example(_V + '{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", '
                  '"Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}', kind=PolicyKind.RESOURCE),
          example(_V + '{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
                  '"Resource": "arn:aws:s3:::b/*"}, {"Effect": "Deny", "Principal": "*", "Action": "s3:*", '
                  '"Resource": "arn:aws:s3:::b/*"}]}', kind=PolicyKind.RESOURCE,
                  note="a Deny of everyone with no condition refuses what the Allow grants"),
          example(_V + '{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", '
                  '"Resource": "arn:aws:s3:::logs/*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}]}',
                  "IAM034", kind=PolicyKind.RESOURCE,
                  note="AWS service principals only: not public, but any customer's (IAM034)")],
)
def public_access(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    if policy.kind is not PolicyKind.RESOURCE:
        return
    catalog = context.catalog
    for statement in compiled(policy, context):
        st = statement.statement
        if not st.is_allow or statement.never_applies:
            continue
        everyone = [p for p in st.principals or () if is_everyone(p)]
        if not everyone and st.not_principals is None:
            continue
        if narrowing_condition(st.conditions) is not None or denied_outside(statement, policy, context):
            continue
        if everyone and only_aws_services(st.conditions):
            continue  # service principals, for any customer: the confused deputy of IAM034
        writes = statement.actions & action_classes(catalog).write
        secrets = statement.actions & secret_actions()
        pointer = everyone[0].pointer if everyone else st.element_pointer("NotPrincipal")
        who = "every AWS principal" if everyone else "everyone except the NotPrincipal list"
        severity: Severity | None
        listed = _from_listed_networks(st.conditions)
        if listed or _denied_beyond_listed_networks(statement, policy, context):
            severity = Severity.MEDIUM if writes or secrets else Severity.LOW
            lists = "aws:SourceIp lists" if listed else "a Deny's NotIpAddress aws:SourceIp lists"
            how = (f" only from the addresses {lists}: AWS does not count that as public, but any account "
                   "may, from there")
        else:
            severity = Severity.CRITICAL if writes or secrets else None
            how = ' with no condition that narrows it' if not st.conditions else _unconfined(st.conditions)
        yield Hit(
            f"Allows {who} to {granted_text(statement, catalog)}{how}",
            pointer=pointer, statement=st, severity=severity,
            details={"actions": display(statement.actions, catalog, 20),
                     "conditions": [f"{c.operator}:{c.key}" for c in st.conditions],
                     "write_actions": display(writes, catalog, 20),
                     "credentials_actions": display(secrets, catalog, 20)},
        )
