"""Size and redundancy: IAM quotas on policy size, actions listed twice or covered by a wildcard.

Sizes are counted as IAM counts them: characters other than whitespace
(``Policy.size``). Quotas (IAM and STS quotas page, AWS Organizations quotas):
managed policy 6,144; inline policies per principal together: user 2,048,
group 5,120, role 10,240; role trust policy 2,048 by default, at most 4,096 after
a quota increase; service control policy 5,120. AWS managed policies are exempt
from the customer quotas: they are reported at ``info`` only, for whoever copies
one into a customer managed policy.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.catalog import glob_regex
from auditor.checks._facts import has_wildcard, run_cache
from auditor.engine import CheckContext
from auditor.model import Policy, PolicyKind, Principal, Severity, Statement
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()

MANAGED_POLICY_QUOTA = 6_144
INLINE_QUOTAS = {"user": 2_048, "group": 5_120, "role": 10_240}
TRUST_QUOTA, TRUST_QUOTA_MAX = 2_048, 4_096
SCP_QUOTA = 5_120
ENDPOINT_QUOTA = 20_480
"""Characters of a VPC endpoint policy, whitespace included."""
LARGEST_IDENTITY_QUOTA = max(INLINE_QUOTAS.values())


def _attachment(policy: Policy) -> str:
    """``managed``, ``user``/``group``/``role`` (inline) or ``unknown`` for an identity policy."""
    label = policy.label or ""
    subject = policy.subject.kind if policy.subject else ""
    if subject == "managed-policy" or label.startswith("ManagedPolicy:") or label.startswith("aws_iam_policy."):
        return "managed"
    if subject in INLINE_QUOTAS and label.startswith("inline:"):
        return subject
    for prefix, kind in (("RolePolicy:", "role"), ("UserPolicy:", "user"), ("GroupPolicy:", "group"),
                         ("aws_iam_role_policy.", "role"), ("aws_iam_user_policy.", "user"),
                         ("aws_iam_group_policy.", "group")):
        if label.startswith(prefix):
            return kind
    return "unknown"


def _size_hit(policy: Policy, quota: int, what: str, severity: Severity | None = None) -> Hit:
    return Hit(f"{policy.size:,} characters (without whitespace) exceed the {quota:,} of {what}",
               pointer=policy.pointer, severity=severity,
               details={"size": policy.size, "quota": quota, "over_by": policy.size - quota})


@RULES.rule(
    "IAM500", "policy-size", "size-limit", Severity.MEDIUM, "Policy larger than its IAM quota",
    what="Reports a policy whose size, counted as IAM counts it (characters other than whitespace), exceeds the "
         "quota for its kind: managed policy 6,144; inline policies of one user 2,048, group 5,120, role 10,240 "
         "(together); trust policy 2,048 (low, up to 4,096 after a quota increase; medium beyond); SCP and RCP "
         "5,120 (and low when a file is over it as written: the CLI and SDKs keep whitespace, the console not); "
         "VPC endpoint policy 20,480 with whitespace. "
         "A policy file of unknown use is reported over 10,240 (medium, too large for any identity policy) and "
         "over 6,144 (low, fits only inline in a role). AWS managed policies are exempt: info only.",
    why="IAM rejects the create or update call: the deployment fails, often late (in a pipeline or CloudFormation "
        "rollback) and for a policy that looked fine in review.",
    example="A customer managed policy with 7,000 non-whitespace characters",
    fix="Split the policy into several managed policies, replace long action lists with wildcards that match "
        "exactly the intended actions, and merge statements with the same resources and conditions.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": [' + ", ".join(f'"arn:aws:s3:::bucket-number-{i:04d}/*"' for i in range(260))
                 + ']}]}', "IAM500")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                  '"Resource": [' + ", ".join(f'"arn:aws:s3:::bucket-number-{i:04d}/*"' for i in range(40))
                  + ']}]}')],
)
def policy_size(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for problem in policy.problems:  # over --max-statements: recorded by the loader, reported here
        if problem.rule == "policy-size":
            yield Hit(problem.message, pointer=problem.pointer, details=problem.details)
    if policy.kind is PolicyKind.TRUST:
        if policy.size > TRUST_QUOTA_MAX:
            yield _size_hit(policy, TRUST_QUOTA_MAX, "a role trust policy (the most a quota increase allows)")
        elif policy.size > TRUST_QUOTA:
            yield _size_hit(policy, TRUST_QUOTA, "a role trust policy (raise the quota, up to 4,096)", Severity.LOW)
        return
    if policy.kind is PolicyKind.ORGANIZATION:
        written = len(policy.source.text or "") if not policy.pointer else 0
        if policy.size > SCP_QUOTA:
            yield _size_hit(policy, SCP_QUOTA, "an AWS Organizations policy (SCP or RCP)")
        elif written > SCP_QUOTA:  # a file as saved with the CLI or an SDK, which keep every character
            yield Hit(f"{written:,} characters as written exceed the {SCP_QUOTA:,} of an AWS Organizations policy (SCP "
                      "or RCP) saved with the CLI or an SDK, which keep whitespace (the console removes it: "
                      f"{policy.size:,} without)", pointer=policy.pointer, severity=Severity.LOW,
                      details={"size": written, "size_without_whitespace": policy.size, "quota": SCP_QUOTA,
                               "over_by": written - SCP_QUOTA})
        return
    if policy.kind is PolicyKind.ENDPOINT:
        written = len(policy.source.text or "") if not policy.pointer else policy.size  # embedded: at least this
        if written > ENDPOINT_QUOTA:
            yield Hit(f"{written:,} characters exceed the {ENDPOINT_QUOTA:,} of a VPC endpoint policy (whitespace "
                      "counts)", pointer=policy.pointer,
                      details={"size": written, "quota": ENDPOINT_QUOTA, "over_by": written - ENDPOINT_QUOTA})
        return
    if policy.kind is not PolicyKind.IDENTITY:
        return  # resource policy quotas differ per service and count bytes
    if policy.is_aws_managed:
        if policy.size > MANAGED_POLICY_QUOTA:
            yield _size_hit(policy, MANAGED_POLICY_QUOTA, "a customer managed policy (AWS managed policies are "
                            "exempt; a copy of this one could not be created)", Severity.INFO)
        return
    attachment = _attachment(policy)
    if attachment == "managed":
        if policy.size > MANAGED_POLICY_QUOTA:
            yield _size_hit(policy, MANAGED_POLICY_QUOTA, "a managed policy")
    elif attachment in INLINE_QUOTAS:
        if policy.size > INLINE_QUOTAS[attachment]:
            yield _size_hit(policy, INLINE_QUOTAS[attachment], f"all inline policies of a {attachment} together")
    elif policy.size > LARGEST_IDENTITY_QUOTA:
        yield _size_hit(policy, LARGEST_IDENTITY_QUOTA, "any identity policy (the inline quota of a role, the "
                        "largest there is)")
    elif policy.size > MANAGED_POLICY_QUOTA:
        yield _size_hit(policy, MANAGED_POLICY_QUOTA, "a managed policy (it fits only inline in a role)",
                        Severity.LOW)


def inline_aggregate_hits(principal: Principal) -> Iterator[Hit]:
    """The principal's inline policies together over the per-principal quota (none alone over it)."""
    quota = INLINE_QUOTAS.get(principal.kind)
    if quota is None or not principal.inline_policies:
        return
    sizes = [p.size for p in principal.inline_policies]
    total = sum(sizes)
    if total <= quota or any(size > quota for size in sizes):
        return
    first = principal.inline_policies[0]
    yield Hit(f"the {len(sizes)} inline policies of {principal.kind} {principal.name} total {total:,} characters "
              f"(without whitespace), over the {quota:,} IAM allows per {principal.kind}",
              pointer=first.pointer, policy=first,
              details={"size": total, "quota": quota, "over_by": total - quota,
                       "policies": [p.label for p in principal.inline_policies]})


def _action_lists(statement: Statement) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(element, patterns) of the statement's ``Action`` and ``NotAction`` lists of two entries or more: the
    only ones where an entry can repeat or cover another."""
    for element, values in (("Action", statement.actions), ("NotAction", statement.not_actions)):
        if values is not None and len(values) > 1:
            yield element, values


@RULES.rule(
    "IAM501", "duplicate-action", "size-limit", Severity.LOW, "Action listed twice in a statement",
    what="Reports an action (or action pattern) that appears more than once in the same `Action` or `NotAction`, "
         "letter case aside.",
    why="Harmless to access, but it wastes policy size (a scarce quota) and suggests a merge went wrong.",
    example='"Action": ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]',
    fix="Remove the repetition.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeVpcs", '
                 '"ec2:DescribeSubnets", "EC2:describevpcs"], "Resource": "*"}]}', "IAM501")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeVpcs", '
                  '"ec2:DescribeSubnets"], "Resource": "*"}, {"Effect": "Allow", "Action": "ec2:DescribeVpcs", '
                  '"Resource": "*"}]}')],
)
def duplicate_action(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in policy.statements:
        for element, values in _action_lists(statement):
            lowered = tuple(map(str.lower, values))
            if len(set(lowered)) == len(lowered):
                continue  # the usual case: no repetition
            seen: dict[str, int] = {}
            for index, (action, key) in enumerate(zip(values, lowered, strict=True)):
                if key in seen:
                    yield Hit(f"{action!r} is listed twice in {element} (also at position {seen[key] + 1})",
                              pointer=statement.element_pointer(element, index), statement=statement,
                              details={"action": action, "first_index": seen[key]})
                else:
                    seen[key] = index


@RULES.rule(
    "IAM502", "redundant-action", "size-limit", Severity.LOW, "Action covered by a wildcard in the same statement",
    what="Reports an action, or a narrower pattern, that another pattern of the same `Action`/`NotAction` "
         "already matches (`ec2:DescribeVpcs` beside `ec2:Describe*`), like Access Analyzer's REDUNDANT_ACTION "
         "suggestion.",
    why="It changes nothing but takes policy size and makes the statement look narrower than it is: removing the "
        "explicit action later does not remove the permission.",
    example='"Action": ["ec2:Describe*", "ec2:DescribeVpcs"]',
    fix="Remove the covered action, or replace the wildcard with the explicit list if it was meant to be narrow.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*", '
                 '"ec2:DescribeVpcs"], "Resource": "*"}]}', "IAM502")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*", '
                  '"ec2:GetConsoleOutput"], "Resource": "*"}]}')],
)
def redundant_action(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    cache = run_cache(context, "redundant_actions")
    for statement in policy.statements:
        for element, values in _action_lists(statement):
            key = tuple(map(str.lower, values))
            found = cache.get(key)
            if found is None:
                found = cache[key] = _redundant(key, context)
            for index, cover in found:
                yield Hit(f"{values[index]!r} is already matched by {values[cover]!r} in the same {element}",
                          pointer=statement.element_pointer(element, index), statement=statement,
                          details={"action": values[index], "covered_by": values[cover]})


def _redundant(actions: tuple[str, ...], context: CheckContext) -> list[tuple[int, int]]:
    """(index, index of the covering pattern) for every entry another entry of the list already matches."""
    first: dict[str, int] = {}
    for index, action in enumerate(actions):
        first.setdefault(action, index)
    by_service: dict[str, list[str]] = {}
    for pattern in first:
        if has_wildcard(pattern):
            service = pattern.partition(":")[0] if ":" in pattern else "*"
            by_service.setdefault("*" if has_wildcard(service) else service, []).append(pattern)
    if not by_service:
        return []
    found = []
    for action, index in first.items():
        service = action.partition(":")[0]
        candidates = by_service.get(service, []) + by_service.get("*", [])
        for wildcard in candidates:
            if wildcard != action and _covers(wildcard, action, first, context):
                found.append((index, first[wildcard]))
                break
    return found


def _covers(wildcard: str, action: str, order: dict[str, int], context: CheckContext) -> bool:
    if not has_wildcard(action):
        if wildcard.endswith("*") and not has_wildcard(wildcard[:-1]):
            return action.startswith(wildcard[:-1])
        return bool(glob_regex(wildcard.lower()).match(action))
    narrower = context.catalog.expand(action)
    wider = context.catalog.expand(wildcard)
    # equal sets: only the later of the two patterns is the redundant one
    return bool(narrower) and narrower <= wider and (narrower != wider or order[wildcard] < order[action])
