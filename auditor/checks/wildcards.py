"""Wildcards and complements: full admin, service wildcards, wildcard resources, NotAction/NotResource.

These rules read identity policies only: in a resource policy ``"Resource": "*"`` means the
resource the policy is attached to, and a service control policy's ``Allow *`` is a filter, not
a grant. The permission model (:mod:`auditor.permissions`) expands every pattern against the
catalogue, so letter case, ``?`` and ``NotAction`` complements are handled as IAM does.
"""

from __future__ import annotations

import fnmatch
import heapq
import re
from collections.abc import Iterator

from auditor.checks._facts import opaque
from auditor.checks._risk import (
    SELF_GRANTING_ACTIONS,
    ActionClasses,
    action_classes,
    administrator_actions,
    allows_left,
    display,
    has_wildcard,
    model,
    scoping_conditions,
)
from auditor.checks.resources import (
    INCOMPLETE_ACTION_RESOURCES,
    action_resource_types,
    names_every_resource_of,
    resource_types_named,
    takes_only_covered,
    types_covered,
)
from auditor.engine import CheckContext
from auditor.knowledge import load_privileged_managed_policies
from auditor.model import Policy, PolicyKind, Principal, Severity
from auditor.permissions import CompiledStatement
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()

SENSITIVE_SERVICES = frozenset({"iam", "sts", "kms", "organizations"})
_V = '{"Version": "2012-10-17", "Statement": ['


def full_admin(statement: CompiledStatement, context: CheckContext) -> bool:
    """An Allow on every resource that grants every action, or all but a few and a way to the rest."""
    if not statement.is_allow or statement.never_applies or not statement.any_resource:
        return False
    if scoping_conditions(statement.conditions):
        return False
    return administrator_actions(statement.actions, context)


def _allow_statements(policy: Policy, context: CheckContext, kinds: tuple[PolicyKind, ...] = (PolicyKind.IDENTITY,)
                      ) -> Iterator[CompiledStatement]:
    if policy.kind in kinds:
        yield from allows_left(policy, context)


@RULES.rule(
    "IAM001", "full-admin", "wildcard-action", Severity.CRITICAL, "Full administrator access",
    what='Reports an `Allow` of `"Action": "*"` on `"Resource": "*"`, and a `NotAction` whose few exclusions leave '
         "a way to grant the rest (for instance `NotAction: iam:Create*` still allows `iam:PutUserPolicy`). "
         "Conditions on the caller (MFA, source IP, organisation) do not change the verdict. Medium when every user "
         "and role of the export that the policy is in effect for has a permissions boundary that is not itself "
         "administrator access.",
    why="Whoever holds the policy can do anything in the account, including erasing logs and locking out its "
        "owners; a stolen credential of such a principal is a full compromise.",
    example='{"Effect": "Allow", "Action": "*", "Resource": "*"}',
    fix="Grant the actions the job needs on the resources it touches; keep break-glass admin roles few, "
        "MFA-protected and monitored.",
    bad=[example(_V + '{"Effect": "Allow", "Action": "*", "Resource": "*"}]}', "IAM001"),
         example(_V + '{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:*:*:*:*"}]}', "IAM001",
                 note="an ARN pattern whose every part is a wildcard matches every resource, as * does"),
         example(_V + '{"Effect": "Allow", "NotAction": ["iam:Create*", "iam:Attach*"], "Resource": "*"}]}',
                 "IAM001", "IAM004", "IAM012"),
         example(_V + '{"Effect": "Allow", "Action": "*", "Resource": "**"}]}', "IAM001"),
         example(_V + '{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}, '
                 '{"Effect": "Allow", "Action": "*", "Resource": "*"}]}', "IAM001", "IAM012",
                 note="a Deny of a few actions leaves an administrator, who can grant themselves the rest")],
    good=[example(_V + '{"Effect": "Deny", "Action": "*", "Resource": "*"}]}'),
          example(_V + '{"Effect": "Allow", "Action": "*", "Resource": "*"}, '
                  '{"Effect": "Deny", "Action": "*", "Resource": "*"}]}',
                  note="a Deny in the same policy takes away what the Allow grants"),
          example(_V + '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}')],
)
def full_admin_rule(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in _allow_statements(policy, context):
        if not full_admin(statement, context):
            continue
        st = statement.statement
        missing = len(model(context).all_actions) - len(statement.actions)
        details: dict[str, object]
        if st.not_actions is None and missing:
            message = (f"Allows every action on every resource but the {missing} action{'s' if missing > 1 else ''} "
                       "a Deny of the policy refuses, "
                       f"including {', '.join(display(statement.actions & SELF_GRANTING_ACTIONS, context.catalog, 2))}"
                       ", which grant the rest: this is administrator access")
            details = {"denied_actions": missing}
        elif st.not_actions is not None:
            message = (f"NotAction leaves {len(statement.actions)} actions allowed on every resource, including "
                       f"{', '.join(display(statement.actions & SELF_GRANTING_ACTIONS, context.catalog, 2))}, "
                       "which grant the rest: this is administrator access")
            details = {"not_actions": list(st.not_actions), "excluded_actions": missing}
        else:
            message = "Allows every action on every resource: full administrator access"
            details = {}
        if statement.conditions:
            details["conditions"] = [f"{c.operator}:{c.key}" for c in statement.conditions]
        holders = context.holders(policy)
        severity = None
        if holders and all(boundary_limits(holder, context) for holder, _ in holders):
            # in effect only for users and roles whose boundaries allow less: only what both allow is granted
            principal = holders[0][0]
            others = f" and {len(holders) - 1} more" if len(holders) > 1 else ""
            message += (f", but the permissions boundary {boundary_name(principal)} of {principal.kind} "
                        f"{principal.name}{others} allows less, and only what both allow is granted (IAM012 weighs "
                        "the two together)")
            severity = Severity.MEDIUM
            details["permissions_boundaries"] = sorted({boundary_reference(holder) or "" for holder, _ in holders})
        yield Hit(message, statement=st, details=details, severity=severity)


@RULES.rule(
    "IAM002", "service-wildcard-action", "wildcard-action", Severity.MEDIUM,
    "Action wildcard that grants write or permissions-management actions",
    what="Reports action patterns with `*` or `?` (`s3:*`, `ec2:Delete*`, `*`) in an `Allow` that match write or "
         "permissions-management actions that can apply to the statement's resources (`pi:*` on `metrics/rds/*` "
         "grants none: they all take performance reports; on ARNs, no action asked for on `*` alone, such as "
         "`s3:CreateJob`). Read-named patterns (`List*`, `Describe*`, `Get*`...) "
         "are not reported even when the catalogue files one of their matches as write. High when they grant "
         "`iam`, `sts`, `kms` or `organizations` actions, whatever the spelling (`*` on a key grants "
         "`kms:PutKeyPolicy` as `kms:*` does; for `kms`, only permissions-management actions: `kms:*`, "
         "`kms:Put*`, `kms:Create*`; not `kms:GenerateDataKey*`), except on the caller's own user "
         "(`user/${aws:username}`: self-service keys and password) when no permissions-management action is granted.",
    why="A wildcard grants every current and future action it matches, usually far more than intended: "
        "`s3:*` includes `s3:PutBucketPolicy` and `s3:DeleteBucket`; `iam:*` is account takeover.",
    example='{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}',
    fix="List the actions the job needs; a read-only wildcard (`s3:Get*`, `ec2:Describe*`) is acceptable.",
    bad=[example(_V + '{"Effect": "Allow", "Action": "dynamodb:*", '
                 '"Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/t"}]}', "IAM002"),
         example(_V + '{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": '
                 '"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]}', "IAM002",
                 note="medium: data keys on one key (kms:* there would be high: kms:PutKeyPolicy)")],
    good=[example(_V + '{"Effect": "Allow", "Action": ["ec2:Describe*", "s3:List*"], '
                  '"Resource": "arn:aws:s3:::b"}]}'),
          example(_V + '{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], '
                  '"Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/t"}]}'),
          example(_V + '{"Effect": "Allow", "Action": "pi:*", "Resource": "arn:aws:pi:*:*:metrics/rds/*"}]}',
                  note="every write action of pi takes a performance report, not metrics (AmazonRDSFullAccess)")],
)
def service_wildcard_action(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    parts: dict[int, list[CompiledStatement]] = {}  # a statement, and what a NotResource Deny left on its exceptions
    for statement in _allow_statements(policy, context):
        parts.setdefault(id(statement.statement), []).append(statement)
    for group in parts.values():
        st = group[0].statement
        if st.actions is None or any(full_admin(part, context) for part in group):
            continue
        left = group[0].actions if len(group) == 1 else frozenset().union(*(part.actions for part in group))
        if left.isdisjoint(action_classes(context.catalog).write):
            continue  # a Deny of the same policy took every write action away
        any_resource = any(part.any_resource for part in group)
        verdict = _write_wildcards(st.actions, None if any_resource else st.resources, left, context)
        if verdict is None:
            continue
        first, message, high, details = verdict
        if high and st.resources and all("${aws:username}" in r.lower() for r in st.resources) and not (
                left & action_classes(context.catalog).permissions):
            high = False  # iam:*AccessKey* on user/${aws:username}: the caller's own keys (iam:* would attach policies)
            message += " on the caller's own user"
        pointer = st.element_pointer("Action", first)
        yield Hit(message, pointer=pointer, statement=st, severity=Severity.HIGH if high else None,
                  details=details)


Offending = list[tuple[int, str, frozenset[str]]]
"""(index of a pattern in the Action list, the pattern, the write actions it grants)."""
WildcardVerdict = tuple[int, str, bool, dict[str, object]]
"""(index of the first offending pattern, message, high, details)."""


def _write_wildcards(actions: tuple[str, ...], resources: tuple[str, ...] | None, left: frozenset[str],
                     context: CheckContext) -> WildcardVerdict | None:
    """The verdict on an Action list; with ``resources``, of
    the write actions that can apply to one of them (``pi:*`` on ``metrics/rds/*`` grants no write action: they all
    take performance reports); of those, only what the policy's Denies ``left``. Memoised per run."""
    memo: dict[tuple[tuple[str, ...], tuple[str, ...] | None], tuple[Offending, bool, WildcardVerdict | None]] = \
        context.options.setdefault("_iam002_memo", {})
    found = memo.get((actions, resources))
    if found is None:
        named = _types_named(resources, context)
        offending = [(index, pattern, risky) for index, pattern in enumerate(actions)
                     if has_wildcard(pattern) and not _read_verb_pattern(pattern)
                     and (risky := _writes_of(pattern, named, context))]
        found = memo[(actions, resources)] = (offending, named is not None, None)
    offending, on_named, whole = found
    if not offending:
        return None
    if all(risky <= left for _, _, risky in offending):  # no Deny took any of them: the verdict of every such list
        if whole is None:
            whole = _wildcards_verdict(offending, on_named, context)
            memo[(actions, resources)] = (offending, on_named, whole)
        return whole
    kept = [(index, pattern, risky & left) for index, pattern, risky in offending if not risky.isdisjoint(left)]
    return _wildcards_verdict(kept, on_named, context) if kept else None


def _wildcards_verdict(offending: Offending, on_named: bool, context: CheckContext) -> WildcardVerdict:
    catalog = context.catalog
    # by what the patterns grant, not how they are spelled: "*" on a key grants kms:PutKeyPolicy as "kms:*" does;
    # kms:GenerateDataKey* on a key is only cryptography
    permissions = action_classes(catalog).permissions

    def sensitive(action: str) -> bool:
        return action.partition(":")[0] in SENSITIVE_SERVICES and (not action.startswith("kms:")
                                                                   or action in permissions)

    high = any(sensitive(action) for _, _, risky in offending for action in risky)
    patterns = [pattern for _, pattern, _ in offending]
    risky_all = frozenset().union(*(risky for _, _, risky in offending))
    if not on_named and not high:
        examples = display(risky_all, catalog, 10)
    else:  # first what makes it high, then those the catalogue says take the named resources, then those that may
        examples = [catalog.display_name(a) for a in heapq.nsmallest(
            10, risky_all, key=lambda a: (not sensitive(a), on_named and action_resource_types(a, context) is None,
                                          a))]
    message = (f"{', '.join(repr(p) for p in patterns)} grant{'s' if len(patterns) == 1 else ''} "
               f"{len(risky_all)} write or permissions-management action{'s' if len(risky_all) != 1 else ''} "
               f"(e.g. {', '.join(examples[:3])})")
    details = {"patterns": patterns, "write_actions": len(risky_all), "examples": examples}
    return offending[0][0], message, high, details


def _types_named(resources: tuple[str, ...] | None, context: CheckContext) -> frozenset[tuple[str, str]] | None:
    """The resource types the patterns can name (see IAM301); None when every action may apply to them (``*``, a
    pattern whose types cannot be told, an unknown or template value)."""
    if resources is None:
        return None
    named: set[tuple[str, str]] = set()
    for resource in resources:
        types = resource_types_named(resource, context)
        if types is None:
            return None
        named |= types
    return frozenset(named)


def _writes_of(pattern: str, named: frozenset[tuple[str, str]] | None, context: CheckContext) -> frozenset[str]:
    """The write actions of a pattern that can be asked for on a resource of the ``named`` types (all of them for
    None); memoised per run."""
    memo: dict[tuple[str, frozenset[tuple[str, str]] | None], frozenset[str]] = \
        context.options.setdefault("_iam002_writes", {})
    found = memo.get((pattern, named))
    if found is None:
        classes = action_classes(context.catalog)
        found = model(context).expand((pattern,)) & classes.write
        if named is not None:
            found = frozenset(action for action in found if _may_apply(action, named, classes, context))
        memo[(pattern, named)] = found
    return found


def _may_apply(action: str, named: frozenset[tuple[str, str]], classes: ActionClasses, context: CheckContext
               ) -> bool:
    """Whether ``action`` can be asked for on a resource of the ``named`` (service, type) pairs: not when it is asked
    for on "*" alone, nor, for a service whose resource types the catalogue lists too few of, on other services'
    ARNs."""
    types = action_resource_types(action, context)
    if types is not None:
        return not types.isdisjoint(named)
    service = action.partition(":")[0]
    if service in INCOMPLETE_ACTION_RESOURCES:
        return any(owner == service for owner, _ in named)
    return action not in classes.star_only  # a type without ARN format, or whose ARNs may be any service's


READ_VERBS = ("list", "describe", "get", "batchget", "search", "view", "read")


def _read_verb_pattern(pattern: str) -> bool:
    """``ec2:Describe*``, ``s3:List*``: read-named patterns whose stray catalogue matches are not the intent."""
    name = pattern.partition(":")[2].lower()
    return name.startswith(READ_VERBS) and name[:1] not in ("*", "?")


@RULES.rule(
    "IAM003", "wildcard-resource", "wildcard-resource", Severity.MEDIUM,
    'Write, permissions-management or tagging actions on "Resource": "*"',
    what='Reports an `Allow` of write, permissions-management or tagging actions on `"Resource": "*"` (or with '
         "`NotResource`, or on an ARN that names every resource of their service, `arn:aws:ec2:*:*:*`, or every "
         "resource the action takes, `arn:aws:s3:::*/*` for `s3:PutObject`, in one account or Region too) "
         "without a condition that scopes the resources (a tag, a service key...). A "
         "condition does "
         "not scope when every request can meet it: a `*` on a key other than a tag, a negated operator other than "
         "on the resource's account or organisation (`StringNotEquals aws:ResourceTag/env prod`: every resource "
         "but those), `...IfExists` on a tag, nor does `aws:ResourceAccount` (or `aws:ResourceOrgID`) naming an "
         "account: every resource of your account is all an identity policy reaches anyway. "
         "Actions that accept only `*` (`ec2:DescribeInstances`, `iam:ListRoles`, "
         "`s3:ListAllMyBuckets`...) are never reported: there is nothing narrower to write; nor are those that only "
         "a read-named pattern of the statement matches (`iot:List*` gives `iot:ListSubscriptions`, which the "
         "catalogue files as write), as IAM002 weighs them. "
         "Low when only tagging actions are concerned.",
    why="The statement changes every resource of those types in the account, present and future, including "
        "ones that belong to other teams or hold production data.",
    example='{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}',
    fix="Name the resources (ARNs with the bucket, table or function names), or scope with "
        "`aws:ResourceTag/...` conditions.",
    bad=[example(_V + '{"Effect": "Allow", "Action": ["sqs:SendMessage", "ec2:DescribeInstances"], '
                 '"Resource": "*"}]}', "IAM003"),
         example(_V + '{"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*", '
                 '"Condition": {"StringEqualsIfExists": {"aws:ResourceTag/team": "data"}}}]}', "IAM003",
                 note="IfExists: every untagged instance too"),
         example(_V + '{"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*", '
                 '"Condition": {"StringNotEquals": {"aws:ResourceTag/env": "prod"}}}]}', "IAM003",
                 note="every instance but the production ones"),
         example(_V + '{"Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": "*", '
                 '"Condition": {"ArnLike": {"iam:PolicyARN": "*"}}}]}', "IAM003", "IAM012",
                 note="a * that every request meets"),
         example(_V + '{"Effect": "Allow", "Action": ["ec2:TerminateInstances", "s3:PutObject"], '
                 '"Resource": "arn:aws:ec2:*:123456789012:*"}]}', "IAM003",
                 note="every EC2 resource of the account, as * is for ec2:TerminateInstances"),
         example(_V + '{"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], '
                 '"Resource": "arn:aws:s3:::*/*"}]}', "IAM003",
                 note="every object of every bucket: all that s3:PutObject takes")],
    good=[example(_V + '{"Effect": "Allow", "Action": ["ec2:DescribeInstances", "iam:ListRoles", '
                  '"s3:ListAllMyBuckets"], "Resource": "*"}]}'),
          example(_V + '{"Effect": "Allow", "Action": ["iot:List*", "glue:List*"], "Resource": "*"}]}',
                  note="read-named patterns: their matches filed as write are not what was granted on purpose"),
          example(_V + '{"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*", '
                  '"Condition": {"StringEquals": {"aws:ResourceTag/team": "data"}}}]}')],
)
def wildcard_resource(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in _allow_statements(policy, context):
        if scoping_conditions(statement.conditions):
            continue
        wide = ""
        if statement.any_resource:
            actions = statement.actions
        else:  # arn:aws:ec2:*:*:* names every resource of EC2, arn:aws:s3:::*/* every object: "*" for those actions
            wide, actions = _actions_on_every_resource(statement.actions, statement.resources, context)
            if not actions:
                continue
        if full_admin(statement, context):
            continue
        strays = _read_pattern_strays(statement.statement.actions, context)
        if strays:  # only then a new set: the statement's own (of every action, for "*") has its hash already
            actions = actions - strays
        verdict = _star_risky_actions(actions, context)
        if verdict is None:
            continue
        message, tagging_only, details = verdict
        if wide:
            message = message.replace("on every resource", f"on every resource of {wide}", 1)
        st = statement.statement
        pointer = st.element_pointer("NotResource" if st.not_resources is not None else "Resource")
        yield Hit(message, pointer=pointer, statement=st, severity=Severity.LOW if tagging_only else None,
                  details=details)


_WHOLE_SERVICE = re.compile(r"\Aarn:[^:]*:[a-z0-9-]+:(?:[a-z0-9*?-]*|\{\{[^}]*\}\}|\$\{[^}]*\}):"
                            r"(?:[\d*?]*|aws|\{\{[^}]*\}\}|\$\{[^}]*\}):\*+\Z", re.IGNORECASE)
"""``arn:aws:ec2:*:*:*``, ``arn:aws:s3:::*``: a service's every resource, in every Region and account, or in some
(written out, a pattern, a template value): every resource of the service an identity policy reaches."""


def _whole_services(resources: tuple[str, ...], context: CheckContext) -> tuple[str, frozenset[str]]:
    """(the Resource patterns that name every resource of a service, those services), memoised per run."""
    memo: dict[tuple[str, ...], tuple[str, frozenset[str]]] = context.options.setdefault("_whole_services", {})
    found = memo.get(resources)
    if found is None:
        wide = [r for r in resources if r[-1:] == "*" and _WHOLE_SERVICE.match(r) is not None]
        found = memo[resources] = (", ".join(wide), frozenset(r.split(":")[2].lower() for r in wide))
    return found


def _actions_on_every_resource(actions: frozenset[str], resources: tuple[str, ...], context: CheckContext
                               ) -> tuple[str, frozenset[str]]:
    """(the patterns, the actions) of a statement whose ``Resource`` patterns name every resource of their service
    (``arn:aws:ec2:*:*:*``) or every resource the action takes (``arn:aws:s3:::*/*`` for ``s3:PutObject``), in
    every account and Region or in one; memoised per run."""
    memo: dict[tuple[frozenset[str], tuple[str, ...]], tuple[str, frozenset[str]]] = \
        context.options.setdefault("_iam003_every_resource", {})
    found = memo.get((actions, resources))
    if found is None:
        wide, services = _whole_services(resources, context)
        whole = frozenset(a for a in actions if a.partition(":")[0] in services) if services else frozenset()
        by_pattern = {r: types_covered(r, context) for r in resources if r[-1:] == "*" and r not in wide.split(", ")}
        covering = [r for r, types in by_pattern.items() if types]
        covered: frozenset[str] = frozenset()
        if covering:
            types = frozenset().union(*(by_pattern[r] for r in covering))
            owners = {service for service, _ in types}
            covered = frozenset(a for a in (actions - whole) & action_classes(context.catalog).risky_scopable
                                if a.partition(":")[0] in owners and takes_only_covered(a, types, context))
            covering = [r for r in covering if any(takes_only_covered(a, by_pattern[r], context) for a in covered)] \
                or covering
        found = memo[(actions, resources)] = (", ".join(filter(None, (wide, *(covering if covered else ())))),
                                              whole | covered)
    return found


def _read_pattern_strays(written: tuple[str, ...] | None, context: CheckContext) -> frozenset[str]:
    """The actions of an ``Action`` list that only its read-named patterns match (``iot:List*`` gives
    ``iot:ListSubscriptions``, which the catalogue files as write): not what the author granted on purpose, as
    IAM002 weighs them; memoised per list."""
    memo: dict[tuple[str, ...], frozenset[str]] = context.options.setdefault("_read_pattern_strays", {})
    if not written:
        return frozenset()
    found = memo.get(written)
    if found is None:
        read = tuple(p for p in written if has_wildcard(p) and _read_verb_pattern(p))
        found = frozenset()
        if read:
            others = tuple(p for p in written if p not in read)
            found = model(context).expand(read) - (model(context).expand(others) if others else frozenset())
        memo[written] = found
    return found


def _star_risky_actions(actions: frozenset[str], context: CheckContext
                        ) -> tuple[str, bool, dict[str, object]] | None:
    """(message, tagging only, details) for the scopable write and tagging ones of a statement's actions, memoised."""
    memo: dict[frozenset[str], tuple[str, bool, dict[str, object]] | None] = \
        context.options.setdefault("_iam003_memo", {})
    if actions in memo:
        return memo[actions]
    classes = action_classes(context.catalog)
    risky = actions & classes.risky_scopable
    verdict = None
    if risky:
        first = display(risky, context.catalog, 50)
        message = (f"{len(risky)} write, permissions-management or tagging action{'s' if len(risky) > 1 else ''} "
                   f"on every resource ({', '.join(first[:4])}{', ...' if len(risky) > 4 else ''})")
        verdict = (message, not ((risky & classes.write) - classes.tagging),  # "Tagging, Write" in the catalogue
                   {"actions": first, "count": len(risky)})
    memo[actions] = verdict
    return verdict


@RULES.rule(
    "IAM004", "allow-not-action", "not-action", Severity.HIGH, "Allow with NotAction",
    what="Reports an `Allow` statement that uses `NotAction`: it grants every action of every service except "
         "the few listed, including services and actions AWS adds later. Medium when `Resource` names specific "
         "resources (only the actions that act on them are granted), high on every resource.",
    why='`"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"` grants almost everything (data, compute, '
        "KMS, CloudTrail), although it reads like a restriction.",
    example='{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}',
    fix="Use `Action` with the actions needed; express exceptions as a separate `Deny` statement.",
    bad=[example(_V + '{"Effect": "Allow", "NotAction": "s3:*", "Resource": "arn:aws:s3:::b"}]}', "IAM004")],
    good=[example(_V + '{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}]}')],
)
def allow_not_action(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in _allow_statements(policy, context, (PolicyKind.IDENTITY, PolicyKind.RESOURCE)):
        st = statement.statement
        if st.not_actions is None:
            continue
        excepted = ", ".join(st.not_actions) or "nothing (the NotAction list is empty)"
        if statement.any_resource:
            message = f"Allow with NotAction grants {len(statement.actions)} actions: everything except {excepted}"
        else:  # only the actions that can act on the resources named
            message = (f"Allow with NotAction grants every action except {excepted} that applies to "
                       f"{', '.join(st.resources or ('the resources it names',))}, including actions AWS adds later")
        yield Hit(
            message, pointer=st.element_pointer("NotAction"), statement=st,
            severity=None if statement.any_resource else Severity.MEDIUM,
            details={"not_actions": list(st.not_actions), "granted_actions": len(statement.actions)},
        )


@RULES.rule(
    "IAM005", "allow-not-resource", "not-action", Severity.MEDIUM, "Allow with NotResource",
    what="Reports an `Allow` statement that uses `NotResource`: it applies to every resource except those listed, "
         "including resources created later and resources of other accounts.",
    why="An exception list is never complete; a new bucket or key falls under the grant by default.",
    example='{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secrets/*"}',
    fix="Name the resources in `Resource`; use a `Deny` with `Resource` for exceptions.",
    bad=[example(_V + '{"Effect": "Allow", "Action": "s3:ListBucket", "NotResource": "arn:aws:s3:::b"}]}',
                 "IAM005")],
    good=[example(_V + '{"Effect": "Deny", "Action": "s3:ListBucket", "NotResource": "arn:aws:s3:::b"}]}')],
)
def allow_not_resource(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in _allow_statements(policy, context, (PolicyKind.IDENTITY, PolicyKind.RESOURCE)):
        st = statement.statement
        if st.not_resources is None:
            continue
        yield Hit(
            f"Allow with NotResource applies to every resource except {', '.join(st.not_resources)}",
            pointer=st.element_pointer("NotResource"), statement=st,
            details={"not_resources": list(st.not_resources)},
        )


_ROLE = ('{"RoleDetailList": [{"RoleName": "ci", "Arn": "arn:aws:iam::111122223333:role/ci", "RolePolicyList": [], '
         '"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": '
         '{"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}, "AttachedManagedPolicies": [')
_AWS_POLICY = "arn:aws:iam::aws:policy/"


def narrowing_boundary(boundary: Policy | None, context: CheckContext) -> bool:
    """Whether a permissions boundary limits its principal (it is not itself administrator access)."""
    return boundary is not None and not any(full_admin(s, context) for s in _allow_statements(boundary, context))


def boundary_limits(principal: Principal, context: CheckContext) -> bool:
    """Whether the principal's permissions boundary limits it: not when it is administrator access itself, nor when
    it lets the principal remove or replace it (``iam:DeleteRolePermissionsBoundary`` on the role). One whose document
    the input does not hold does when it is an AWS managed policy that is not itself privileged
    (``rules/privileged-managed-policies.yaml``: within IAMFullAccess the principal can remove its own boundary, within
    PowerUserAccess it keeps nearly everything)."""
    if principal.missing_boundary_arn is None:
        boundary = principal.permissions_boundary
        return narrowing_boundary(boundary, context) and not _lets_remove_itself(boundary, principal, context)
    name = aws_managed_policy_name(principal.missing_boundary_arn)
    return name is not None and name not in load_privileged_managed_policies()


_BOUNDARY_CHANGES = {"role": ("iam:deleterolepermissionsboundary", "iam:putrolepermissionsboundary"),
                     "user": ("iam:deleteuserpermissionsboundary", "iam:putuserpermissionsboundary")}


def _lets_remove_itself(boundary: Policy | None, principal: Principal, context: CheckContext) -> bool:
    """Whether the boundary allows the principal to delete or replace its own boundary (on ``*``, or on a pattern that
    names the principal's ARN)."""
    wanted = _BOUNDARY_CHANGES.get(principal.kind, ())
    if boundary is None or not wanted:
        return False
    for statement in _allow_statements(boundary, context):
        if not statement.actions.intersection(wanted):
            continue
        if statement.any_resource or not principal.arn or any(
                fnmatch.fnmatchcase(principal.arn, opaque(pattern)) for pattern in statement.resources):
            return True
    return False


def aws_managed_policy_name(arn: str) -> str | None:
    return arn.rpartition("/")[2] if arn.startswith("arn:aws") and ":iam::aws:policy/" in arn else None


def boundary_name(principal: Principal) -> str:
    boundary = principal.permissions_boundary
    if boundary is None:
        return (principal.missing_boundary_arn or "").rpartition("/")[2]
    return boundary.subject.name if boundary.subject is not None else boundary.label or ""


def _members(principal: Principal, context: CheckContext) -> str:
    """For a group: who gets what it is given (the users of the input in it), as a message says it."""
    if principal.kind != "group":
        return ""
    members = [p.name for p in context.principals if p.kind == "user" and principal.name in p.group_names]
    if not members:
        return " (no user of the input is in it)"
    more = len(members) - 5
    shown = ", ".join(members[:5]) + (f" and {more} other{'s' if more > 1 else ''}" if more > 0 else "")
    return f"; its members have it too: {shown}"


def granted_everywhere(principal: Principal, actions: tuple[str, ...], context: CheckContext) -> list[str]:
    """The labels of the principal's policies that allow every one of ``actions`` on every resource (of its
    account) without a scoping condition (after its Denies), not among every other action; empty when one of them
    is not so allowed."""
    permissions = model(context)
    effective = permissions.effective(principal.identity_policies, None, None)
    everything = len(permissions.all_actions)
    labels: list[str] = []
    for action in actions:
        # a grant of every action (AdministratorAccess beside it) is IAM006 of its own, not what completes this one;
        # iam:PassRole on arn:aws:iam::ACCOUNT:role/* is every role it can pass, as "*" is
        grant = next((grant for grant in effective.grants_for(action.lower())
                      if (grant.any_resource or names_every_resource_of(action, grant.resources, context,
                                                                        one_account=True))
                      and len(grant.actions) < everything and not scoping_conditions(grant.conditions)), None)
        if grant is None:
            return []
        labels.append(grant.policy.label or grant.policy.source.display_path)
    return list(dict.fromkeys(labels))


DENY_ALL_MANAGED_POLICY = "arn:aws:iam::aws:policy/AWSDenyAll"


def denied_everything(principal: Principal) -> str | None:
    """The policy (label) of the principal, or of a group of it, that denies every action on every resource without
    condition (a quarantine: ``AWSDenyAll``, ``Deny * on *``): nothing any other policy allows is granted."""
    for arn in (*principal.attached_policy_arns, *principal.group_policy_arns):
        if arn.replace(":aws-us-gov:", ":aws:").replace(":aws-cn:", ":aws:") == DENY_ALL_MANAGED_POLICY:
            return arn
    for policy in principal.identity_policies:
        for statement in policy.statements:
            if statement.is_deny and not statement.conditions and statement.actions is not None \
                    and statement.resources is not None and "*" in statement.resources \
                    and any(action.strip() in ("*", "*:*") for action in statement.actions):
                return policy.label or (policy.subject.name if policy.subject else "a policy")
    return None


def boundary_reference(principal: Principal) -> str | None:
    """The ARN (or label) of the principal's permissions boundary, whether or not the input holds its document."""
    boundary = principal.permissions_boundary
    return boundary.label if boundary is not None else principal.missing_boundary_arn


def unweighed_boundary(principal: Principal) -> str:
    """What a finding on the principal says when its permissions boundary could not be weighed."""
    arn = principal.missing_boundary_arn
    return f" (its permissions boundary {arn} is not in the input, so it was not weighed: it may allow less)" \
        if arn else ""


@RULES.rule(
    "IAM006", "admin-managed-policy", "wildcard-action", Severity.CRITICAL,
    "An AWS managed policy that makes the principal an administrator is attached",
    what="Reports a user, group (naming the users of the input in it) or role with an AWS managed policy attached "
         "that grants administrator access or "
         "the means to take it (`rules/privileged-managed-policies.yaml`): `AdministratorAccess` (critical), "
         "`PowerUserAccess`, `IAMFullAccess`, `AWSOrganizationsFullAccess` (high); medium when a permissions "
         "boundary that is not itself administrator access limits the principal. It needs no copy of the "
         "policy's document, so it works on CloudFormation templates and on exports that leave AWS managed "
         "policies out. A permissions boundary whose document the export lacks is weighed by name when it is an "
         "AWS managed policy (a privileged one of that list lets as much through as it grants itself: high within "
         "`IAMFullAccess`, which lets the principal remove its boundary; any other limits); a customer managed one "
         "cannot be weighed, "
         "and the finding says so. Critical when the principal's other policies add what turns the policy into "
         "administrator access (`iam:PassRole` on every resource beside `PowerUserAccess`: the list's "
         "`administrator_with`). Info when another of its policies (or its group's) denies every action on every "
         "resource without condition (`AWSDenyAll`, a quarantine after leaked keys): nothing is granted.",
    why="Attaching AdministratorAccess is the quickest fix for a failing ticket and the most common way an "
        "integration role ends up owning the account; every scoped policy beside it stops mattering.",
    example='"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]',
    fix="Detach it and grant the actions the job needs; keep break-glass administrators few and MFA-protected.",
    bad=[example(_ROLE + '{"PolicyName": "AdministratorAccess", "PolicyArn": '
                 f'"{_AWS_POLICY}AdministratorAccess"}}]}}], "Policies": []}}', "IAM006")],
    good=[example(_ROLE + '{"PolicyName": "ReadOnlyAccess", "PolicyArn": '
                  f'"{_AWS_POLICY}ReadOnlyAccess"}}]}}], "Policies": []}}')],
    scope="principal",
)
def admin_managed_policy(principal: Principal, context: CheckContext) -> Iterator[Hit]:
    privileged = load_privileged_managed_policies()
    refused_by = denied_everything(principal)
    bounded = boundary_limits(principal, context)
    # an AWS managed boundary the input lacks is weighed by name: it limits, or it is privileged itself
    boundary_name_if_aws = aws_managed_policy_name(principal.missing_boundary_arn or "")
    unweighed = "" if boundary_name_if_aws else unweighed_boundary(principal)
    privileged_boundary = privileged.get(boundary_name_if_aws) if boundary_name_if_aws else None
    for arn in principal.attached_policy_arns:
        name = aws_managed_policy_name(arn)
        known = privileged.get(name) if name is not None else None
        if known is None:
            continue
        details: dict[str, object] = {"policy_arn": arn}
        message = f"{principal.kind} {principal.name} has {name} attached: {known.grants}{_members(principal, context)}"
        severity = known.severity
        if refused_by is not None:
            message += (f", but {refused_by} denies every action on every resource, and an explicit Deny overrides "
                        "any Allow (detach it before lifting the Deny)")
            severity = Severity.INFO
            details["denied_by"] = refused_by
        elif bounded:
            message += (f", but its permissions boundary {boundary_name(principal)} allows less, and only what both "
                        "allow is granted (IAM012 weighs the two together)")
            severity = min(severity, Severity.MEDIUM, key=lambda level: level.rank)
            details["permissions_boundary"] = boundary_reference(principal)
        elif unweighed:
            message += unweighed
            details["permissions_boundary_not_in_input"] = principal.missing_boundary_arn
        elif privileged_boundary is not None and privileged_boundary.severity.rank < severity.rank:
            message += (f", within its permissions boundary {privileged_boundary.name}, which itself grants "
                        f"{privileged_boundary.grants}")
            severity = privileged_boundary.severity
            details["permissions_boundary"] = principal.missing_boundary_arn
        elif known.administrator_with and (completing := granted_everywhere(principal, known.administrator_with,
                                                                             context)):
            message += (f"; with {', '.join(known.administrator_with)} on every resource (granted by "
                        f"{', '.join(completing)}) that is administrator access: a role of any power passed to a "
                        "service it controls in full")
            severity = Severity.CRITICAL
            details["completed_by"] = completing
        yield Hit(message, pointer=principal.attachment_pointer(arn), severity=severity, details=details)
