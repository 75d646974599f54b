"""Privilege escalation: a known method, inside one policy or across the policies of one principal.

The methods are data (``rules/escalation/*.yaml``). A method is reported when every action it
needs is effectively allowed (after Deny, across inline, attached and group policies) by a grant
that still makes it exploitable:

- resources: for the action whose resource decides the method (``resource_sensitive``), a pattern
  that cannot name a resource of the needed type does not count (``iam:PassRole`` on a bucket ARN),
  nor do AWS managed policies (``arn:aws:iam::aws:policy/...``: nobody can change them), nor taking
  over one's own user (``iam:CreateAccessKey`` on ``user/${aws:username}`` is self-service). ``*`` or a
  wildcard in the name is exploitable; a literal ARN is reported at medium (exploitable only if
  that very role, user or policy is privileged, which the policy alone cannot tell);
- conditions: keys about the caller (``aws:SourceIp``, MFA, ``aws:PrincipalOrgID``, time windows
  that are open) and tag conditions (``aws:RequestTag``, ``*:ResourceTag``, ``aws:TagKeys``: the caller
  chooses the tags of what it creates) do not stop an insider, so they do not fence the method.
  ``iam:PassedToService`` fences it unless it admits the service the method passes the role to. Any
  other condition is taken as a real fence (false positives cost more than misses here). A
  statement whose time window has closed grants nothing.

Deduplication: a principal of an account export (a user or role) is evaluated as a whole, once per
method. Policies in effect for such a principal are not evaluated again on their own; policies that
are not (standalone files, managed policies attached to nobody in the export, policies of groups
without members) get per-policy findings. Service-linked roles (AWS owns their policies) are skipped. A grant of every
action on every resource (full admin, reported by IAM001) takes no part: the methods the other grants
enable are still reported, so that ignoring or suppressing IAM001, or removing the admin grant, never
makes them appear or disappear.
"""

from __future__ import annotations

import bisect
import dataclasses
import fnmatch
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from auditor.catalog import ARN_VARIABLE
from auditor.checks._facts import run_cache
from auditor.checks._risk import (
    RESOURCE_OWNER_KEYS,
    condition_admits,
    has_wildcard,
    is_caller_context_key,
    is_negated,
    is_tag_key,
    model,
    scoping_conditions,
    service_matches,
)
from auditor.checks.resources import (
    INCOMPLETE_ACTION_RESOURCES,
    arn_index,
    can_name,
    globs_intersect,
    names_every_resource_of,
)
from auditor.checks.wildcards import boundary_limits, unweighed_boundary
from auditor.engine import CheckContext
from auditor.knowledge import EscalationPath, load_escalation_paths, load_privileged_managed_policies
from auditor.model import (
    ACCOUNT,
    TEMPLATE_VALUE,
    Condition,
    Policy,
    PolicyKind,
    Principal,
    Severity,
    Statement,
    arn_account,
    statement_signature,
)
from auditor.permissions import EffectivePermissions, Grant, glob_matches
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()

NAMED_ROLE_DELEGATION = frozenset({"sts:assumerole"})
"""Actions for which a role named in full is not an escalation target: assuming it is what the policy is for."""
SELF_SERVICE_ACTIONS = frozenset(
    {"iam:createaccesskey", "iam:createloginprofile", "iam:updateloginprofile"}
)
"""Taking over one's own user with these is not an escalation (password and key self-service)."""

SERVICE_PRINCIPALS = {
    "ec2": ("ec2.amazonaws.com",),
    "ecs": ("ecs-tasks.amazonaws.com", "ecs.amazonaws.com"),
    "batch": ("ecs-tasks.amazonaws.com", "batch.amazonaws.com", "ec2.amazonaws.com"),
    "datapipeline": ("datapipeline.amazonaws.com", "elasticmapreduce.amazonaws.com", "ec2.amazonaws.com"),
    "airflow": ("airflow-env.amazonaws.com", "airflow.amazonaws.com"),
    "apprunner": ("tasks.apprunner.amazonaws.com", "build.apprunner.amazonaws.com"),
}


@lru_cache(maxsize=8)
def escalation_paths(extra_dirs: tuple[str, ...] = ()) -> tuple[EscalationPath, ...]:
    """The bundled paths, plus those of the folders configured in ``escalation-paths``."""
    return load_escalation_paths(extra_dirs)


def configured_dirs(context: CheckContext) -> tuple[str, ...]:
    """The ``escalation-paths`` folders of the run's configuration (``CheckContext.options``)."""
    return tuple(str(folder) for folder in context.options.get("escalation_paths", ()))


@dataclass(frozen=True, slots=True)
class _Method:
    """An escalation path prepared for fast checks: lower-case action names, AWS spelling beside them."""

    path: EscalationPath
    requires: tuple[str, ...]
    any_of: tuple[tuple[str, ...], ...]
    required: frozenset[str]
    resource_types: dict[str, str]
    spelling: dict[str, str]
    passed_to: tuple[str, ...]
    direct: bool
    reaches: dict[str, tuple[str, tuple[str, ...]]]
    """By action (lower-case): the resource type and names of which a grant must be able to name one."""


@lru_cache(maxsize=8)
def _methods(extra_dirs: tuple[str, ...] = ()) -> tuple[_Method, ...]:
    methods = []
    for path in escalation_paths(extra_dirs):
        spelling = {a.lower(): a for a in (*path.requires, *(a for g in path.any_of for a in g))}
        methods.append(_Method(
            path=path,
            requires=tuple(a.lower() for a in path.requires),
            any_of=tuple(tuple(a.lower() for a in group) for group in path.any_of),
            required=frozenset(a.lower() for a in path.requires),
            resource_types={a.lower(): t for a, t in path.resource_sensitive},
            spelling=spelling,
            passed_to=_passed_to(path),
            direct=any(a.startswith("iam:") for a in spelling),
            reaches={a.lower(): (rtype, names) for a, rtype, names in path.reaches},
        ))
    return tuple(methods)


@lru_cache(maxsize=8)
def _relevant_actions(extra_dirs: tuple[str, ...] = ()) -> frozenset[str]:
    return frozenset().union(*(path.actions for path in escalation_paths(extra_dirs)))


def _passed_to(path: EscalationPath) -> tuple[str, ...]:
    services: list[str] = []
    for action in path.actions:
        prefix = action.partition(":")[0]
        if prefix in ("iam", "sts"):
            continue
        services.extend(SERVICE_PRINCIPALS.get(prefix, (f"{prefix}.amazonaws.com",)))
    return tuple(dict.fromkeys(services))


def fence(conditions: Sequence[Condition], method: _Method) -> Condition | None:
    """The first condition that stops an insider from using the grant for ``method``, if any (one confining it to
    the resources of the insider's own account or organisation does not)."""
    for condition in conditions:
        key = condition.key.lower()
        if is_caller_context_key(key) or is_tag_key(key) or key in RESOURCE_OWNER_KEYS:
            continue
        if key == "iam:passedtoservice":
            admits = service_matches(condition.values, method.passed_to)
            if admits != is_negated(condition):
                continue
        if key == "iam:policyarn" and _admits_privileged_policy(condition):
            continue
        return condition
    return None


def _admits_privileged_policy(condition: Condition) -> bool:
    """Whether the condition lets an AWS managed policy that makes its holder an administrator (or gives the
    means to become one, ``rules/privileged-managed-policies.yaml``) be attached."""
    partitions = {"aws"} | {value.split(":")[1] for value in condition.values
                            if isinstance(value, str) and value.startswith("arn:") and value.count(":") >= 2
                            and not has_wildcard(value.split(":")[1])}
    return any(condition_admits(condition, f"arn:{partition}:iam::aws:policy/{name}")
               for name in load_privileged_managed_policies() for partition in sorted(partitions))


@dataclass(frozen=True, slots=True)
class Usable:
    grant: Grant
    scope: str
    """``any`` (every resource of the type, or a wildcard name) or ``specific`` (literal ARNs)."""
    resources: tuple[str, ...]
    loose_conditions: tuple[str, ...]


_NAME_PREFIX = 3
"""The literal start of a role or user name pattern (``ci-*``) that scopes it as a path does; ``a*`` does not."""


def _resource_scope(pattern: str, action: str, rtype: str, context: CheckContext) -> str | None:
    if pattern == "*":
        return "any"
    if TEMPLATE_VALUE.fullmatch(pattern.strip()):  # !GetAtt Role.Arn, aws_iam_role.x.arn: one resource, as named
        return None if rtype == "role" and action.lower() in NAMED_ROLE_DELEGATION else "specific"
    parts = TEMPLATE_VALUE.sub("{{value}}", pattern).split(":", 5)  # {{AWS::AccountId}} holds colons
    service = action.partition(":")[0]
    if len(parts) != 6 or parts[0] != "arn":
        return None
    info = context.catalog.resource_type(service, rtype)
    format_parts = info.arn_format.split(":", 5) if info is not None else []
    arn_service = format_parts[2] if len(format_parts) == 6 else service  # ssm:SendCommand takes ec2 instances
    if parts[2] != arn_service and not has_wildcard(parts[2]):
        return None
    expected_head = format_parts[5].split("${", 1)[0] if len(format_parts) == 6 else ""
    resource = parts[5]
    head = resource
    for index, char in enumerate(resource):
        if char in "*?" or resource.startswith("${", index):
            head = resource[:index]
            break
    if not (head.startswith(expected_head) or expected_head.startswith(head)):
        return None
    if rtype == "policy" and parts[4] == "aws":
        return None  # AWS managed policies cannot be changed by anyone outside AWS
    if service == "iam" and context.input_accounts and ACCOUNT.fullmatch(parts[4]) \
            and parts[4] not in context.input_accounts:
        return None  # IAM's actions reach the caller's own account alone: another account's roles are out of reach
    if rtype == "role" and resource.lower().startswith("role/aws-service-role/"):
        return None  # a service-linked role trusts its service alone: no one assumes or passes it
    if action.lower() in SELF_SERVICE_ACTIONS and "${aws:username}" in resource.lower():
        return None
    name = resource[len(expected_head):] if resource.startswith(expected_head) else resource
    literal_head = re.split(r"[*?]|\$\{", name, maxsplit=1)[0]
    if rtype in ("role", "user") and ("/" in literal_head or (len(literal_head) >= _NAME_PREFIX
                                                              and literal_head != name)):
        # role/app/* or role/ci-deploy-*: the roles of one path or name prefix, as AWS scopes iam:PassRole
        return "specific"
    if has_wildcard(name) or "${" in name:
        return "any"
    if rtype == "role" and action.lower() in NAMED_ROLE_DELEGATION:
        return None  # a role the policy names is the delegation its author chose, in whichever account
    # IAM's own actions reach the caller's account alone: arn:aws:iam::*:role/app names one role
    return "any" if has_wildcard(parts[4]) and service != "iam" else "specific"


def _required_types(action: str, context: CheckContext) -> frozenset[str]:
    """The resource types (with a known ARN format) every request of ``action`` names: ``ec2:RunInstances`` an
    instance, an image, a subnet... None for the actions of services whose catalogue entries may be incomplete."""
    cache = run_cache(context, "escalation_required_types")
    found: frozenset[str] | None = cache.get(action)
    if found is None:
        info = context.catalog.action(action)
        index = arn_index(context.catalog)
        found = cache[action] = frozenset() if info is None or info.service in INCOMPLETE_ACTION_RESOURCES else \
            frozenset(name.lower() for name, is_required in info.resource_types
                      if is_required and index.has_type(info.service, name.lower()))
    return found


def _types_named(grant: Grant, action: str, required: frozenset[str], context: CheckContext) -> frozenset[str]:
    """Which of the ``required`` types the grant's resources can name (all of them for ``*`` or ``NotResource``,
    and for patterns with template values or policy variables)."""
    if grant.any_resource or grant.not_resources is not None or not required:
        return required
    cache = run_cache(context, "escalation_types_named")
    key = (action, grant.resources)
    found: frozenset[str] | None = cache.get(key)
    if found is None:
        index = arn_index(context.catalog)
        service = action.partition(":")[0]
        found = cache[key] = frozenset(
            name for name in required
            if any(can_name(pattern.lower(), index.type_format(service, name)) for pattern in grant.resources))
    return found


def _asked_for_on_star(action: str, context: CheckContext) -> bool:
    """Whether the catalogue says ``action`` names no resource (its requests are on "*"), for a service whose
    catalogue entry lists its resource types fully."""
    info = context.catalog.action(action)
    return info is not None and not info.resource_types and info.service not in INCOMPLETE_ACTION_RESOURCES


def _takes_star(grant: Grant) -> bool:
    """Whether the grant's resources match "*", the resource of a request that names none: ``*``, ``NotResource``,
    or a value known only at deploy time; an ARN never does (``glue:CreateDevEndpoint`` on a Kinesis stream)."""
    return grant.any_resource or grant.not_resources is not None or any(
        glob_matches(pattern, "*") or "{{" in pattern or "${" in pattern for pattern in grant.resources)


def authorizable(effective: EffectivePermissions, action: str, context: CheckContext) -> bool:
    """Whether some grant of ``action`` (lower-case) can name a resource of a type its requests must name: a grant
    of ``ec2:*`` on launch templates alone never allows ``ec2:RunInstances``, which needs an instance (among
    others). One type is enough: the catalogue marks some alternatives as both required. An action that names no
    resource is allowed only by a grant whose resources match "*"."""
    if _asked_for_on_star(action, context):
        return any(_takes_star(grant) for grant in effective.grants_for(action))
    required = _required_types(action, context)
    return not required or any(_types_named(grant, action, required, context)
                               for grant in effective.grants_for(action))


def usable_grant(effective: EffectivePermissions, action: str, method: _Method,
                 context: CheckContext) -> Usable | None:
    """The grant of ``action`` (lower-case) that serves ``method`` best (any resource beats specific ones); None
    when no grant can name a resource the action's requests need (see ``authorizable``)."""
    if not authorizable(effective, action, context):
        return None
    reach = method.reaches.get(action)
    if reach is not None and not any(_reaches(grant, action, *reach, context)
                                     for grant in effective.grants_for(action)):
        return None  # ssm:SendCommand of AWS-CreateVssSnapshot alone: no document that runs the caller's commands
    rtype = method.resource_types.get(action)
    required = _required_types(action, context) if rtype is None else frozenset()
    on_star = _asked_for_on_star(action, context)
    best: Usable | None = None
    widest: Usable | None = None
    for grant in effective.grants_for(action):
        if grant.conditions and fence(grant.conditions, method) is not None:
            continue
        if on_star and not _takes_star(grant):
            continue
        if grant.not_resources is not None and names_every_resource_of(action, grant.not_resources, context):
            continue  # NotResource leaves out every resource the action's requests name
        loose = tuple(f"{c.operator}:{c.key}" for c in grant.conditions)
        if rtype is None and required and not _types_named(grant, action, required, context):
            continue  # names no resource the action's requests need (ec2:AssociateIamInstanceProfile on snapshots)
        if rtype is None or grant.any_resource:
            found = Usable(grant, "any", grant.resources or ("*",), loose)
        else:
            scopes = [(p, _resource_scope(p, action, rtype, context)) for p in grant.resources]
            usable = tuple(p for p, s in scopes if s is not None)
            if not usable:
                continue
            found = Usable(grant, "any" if any(s == "any" for _, s in scopes) else "specific", usable, loose)
        # of equally good grants, the same one whatever the order of the statements (the finding's anchor)
        if found.scope == "any":
            widest = found if widest is None or _order(found) < _order(widest) else widest
        elif best is None or _order(found) < _order(best):
            best = found
    return widest or best


def _reaches(grant: Grant, action: str, rtype: str, names: tuple[str, ...], context: CheckContext) -> bool:
    """Whether the grant's resources can name a resource of type ``rtype`` called one of ``names`` (``document/*``
    names them all; ``NotResource`` does unless it leaves them all out)."""
    service = action.partition(":")[0]
    index = arn_index(context.catalog)
    if not index.has_type(service, rtype.lower()):
        return True  # a type the catalogue does not describe: the grant is weighed as it is
    text = index.type_format(service, rtype.lower()).text
    head, _, _ = text.rpartition("${")
    wanted = [ARN_VARIABLE.sub("*", head + name).lower() for name in names]
    if grant.not_resources is not None:
        return not all(any(glob_matches(pattern.lower(), arn) for pattern in grant.not_resources) for arn in wanted)
    if grant.any_resource:
        return True
    return any("${" in pattern or "{{" in pattern or _arns_meet(pattern.lower(), arn)
               for pattern in grant.resources for arn in wanted)


def _arns_meet(pattern: str, arn: str) -> bool:
    """Whether an ARN pattern and an ARN whose variables are ``*`` can name one resource, part by part (a ``*``
    does not run from the partition over the service)."""
    parts, wanted = pattern.split(":", 5), arn.split(":", 5)
    if len(parts) < 6:
        return parts == ["*"] or (len(parts) > 1 and parts[-1] == "*"
                                  and all(globs_intersect(a, b) for a, b in zip(parts[:-1], wanted, strict=False)))
    return all(globs_intersect(a, b) for a, b in zip(parts, wanted, strict=True))


def _order(usable: Usable) -> tuple[str, str, tuple[str, ...], str]:
    statement = usable.grant.statement
    return usable.grant.policy.label or "", statement_signature(statement), usable.resources, statement.sid or ""


def evaluate(effective: EffectivePermissions, context: CheckContext) -> Iterator[tuple[_Method, dict[str, Usable]]]:
    """Every escalation method ``effective`` enables, with the grant used for each of its actions."""
    extra_dirs = configured_dirs(context)
    allowed = effective.allowed(_relevant_actions(extra_dirs))
    if not allowed:
        return
    cache: dict[tuple[str, str], Usable | None] = {}

    def use(action: str, method: _Method) -> Usable | None:
        key = (action, method.path.id)
        if key not in cache:
            cache[key] = usable_grant(effective, action, method, context)
        return cache[key]

    for method in _methods(extra_dirs):
        if not method.required <= allowed:
            continue
        if method.any_of and not any(all(a in allowed for a in group) for group in method.any_of):
            continue
        chosen: dict[str, Usable] = {}
        for action in method.requires:
            found = use(action, method)
            if found is None:
                break
            chosen[action] = found
        else:
            for group in method.any_of:
                picks = [(a, use(a, method)) for a in group]
                if all(p is not None for _, p in picks):
                    chosen.update({a: p for a, p in picks if p is not None})
                    break
            else:
                if method.any_of:
                    continue
            yield method, chosen


def _grants_everything(grant: Grant, context: CheckContext) -> bool:
    """Whether the grant alone allows every action on every resource: nothing is left to escalate to.
    Conditions on the caller (MFA, network, Region) do not count, in the Allow or in a Deny: an insider meets
    them or goes around them. (All but a few actions is not everything: the escalation findings say how the
    rest is taken; nor is every resource but some, ``NotResource``: it may leave out every IAM resource.)"""
    return (
        len(grant.actions) == len(model(context).all_actions) and grant.any_resource
        and grant.not_resources is None and not scoping_conditions(grant.conditions)
        and all(deny.conditions and all(is_caller_context_key(c.key) for c in deny.conditions)
                for deny in grant.denials)
    )


def is_full_admin(effective: EffectivePermissions, context: CheckContext) -> bool:
    """Whether the principal may already do everything (some grant allows every action on every resource)."""
    return any(_grants_everything(grant, context) for grant in effective.grants)


_PRINCIPAL_REFERENCE = re.compile(
    r"\{\{(?:GetAtt:(?P<logical>[\w-]+)\.Arn|(?P<address>aws_iam_(?:role|user)\.[\w-]+)\.arn)\}\}")
"""A template's reference to one of its roles or users: ``!GetAtt Role.Arn``, ``aws_iam_role.NAME.arn``."""
TAKE_ROLE_AS_IS = frozenset({"iam:passrole", "iam:updateassumerolepolicy"})
"""Actions whose grant on one administrator role is administrator access: pass it to a service, or make it trust
you (writing policies on a role pays only to whoever can assume it)."""


def _named_principal(pattern: str, principals: Sequence[Principal]) -> Principal | None:
    """The user or role of the input a ``Resource`` names in full (by ARN, or by a template's reference)."""
    reference = _PRINCIPAL_REFERENCE.fullmatch(pattern.strip())
    if reference is not None:
        pointer = (f"/Resources/{reference['logical']}/Properties" if reference["logical"]
                   else "/resource/" + reference["address"].replace(".", "/"))
        return next((p for p in principals if p.pointer == pointer), None)
    parts = TEMPLATE_VALUE.sub("{{value}}", pattern).split(":", 5)  # {{AWS::AccountId}} holds colons
    if len(parts) != 6 or parts[2] != "iam" or has_wildcard(pattern):
        return None
    kind, _, path = parts[5].partition("/")
    name = path.rpartition("/")[2]
    if kind not in ("role", "user") or not name:
        return None
    return next((p for p in principals if p.kind == kind and (
        p.arn.lower() == pattern.lower() if p.arn else p.name == name and "{{" in parts[4])), None)


def _matched_principals(pattern: str, context: CheckContext) -> list[Principal]:
    """The users and roles of the input a ``Resource`` names: in full, or, for a pattern (``role/app-*``, a name
    prefix or path), those whose ARN it matches. Memoised per run: an account repeats its patterns."""
    principals = context.principals
    cache = run_cache(context, "escalation_matched_principals")
    entry = cache.get(pattern)
    if entry is not None and entry[0] is principals:
        found: list[Principal] = entry[1]
        return found
    named = _named_principal(pattern, principals)
    parts = TEMPLATE_VALUE.sub("{{value}}", pattern).split(":", 5)
    if named is not None:
        found = [named]
    elif len(parts) != 6 or parts[2] != "iam" or not has_wildcard(pattern):
        found = []
    else:
        by_arn, by_name, by_resource = _principal_keys(context)
        template = "{{" in parts[4]  # a template's principals have no ARN: by name, in its account
        text = (parts[5] if template else pattern).lower()
        head = re.split(r"[*?\[]", text, maxsplit=1)[0]
        matches = re.compile(fnmatch.translate(text)).match
        if template or len(head) > len(":".join(parts[:5])):  # the written head reaches the name: it narrows
            found = [p for key, p in (by_name if template else by_arn) if key.startswith(head) and matches(key)]
        else:  # arn:aws:iam::*:role/app-*: those whose role/app- part begins so, by bisection, not all of them
            name_head = re.split(r"[*?\[]", parts[5].lower(), maxsplit=1)[0]
            start = bisect.bisect_left(by_resource, (name_head,))
            hits = []
            for resource, key, order, principal in itertools.islice(by_resource, start, None):
                if not resource.startswith(name_head):
                    break
                if matches(key):
                    hits.append((order, principal))
            found = [principal for _, principal in sorted(hits, key=lambda hit: hit[0])]  # in input order
    cache[pattern] = (principals, found)
    return found


def _principal_keys(context: CheckContext) -> tuple[list[tuple[str, Principal]], list[tuple[str, Principal]],
                                                  list[tuple[str, str, int, Principal]]]:
    """The input's users and roles by lower-case ARN, those without one by ``kind/name``, and those with one sorted
    by the resource part of their ARN (``role/path/name``, with that ARN): built once a run."""
    cache = run_cache(context, "escalation_principal_keys")
    entry = cache.get("keys")
    if entry is None or entry[0] is not context.principals:
        people = [p for p in context.principals if p.kind in ("role", "user")]
        by_arn = [(p.arn.lower(), p) for p in people if p.arn]
        by_resource = sorted(((key.split(":", 5)[-1], key, order, p) for order, (key, p) in enumerate(by_arn)),
                             key=lambda item: item[:3])
        entry = cache["keys"] = (context.principals, by_arn,
                                 [(f"{p.kind}/{p.name}".lower(), p) for p in people if not p.arn], by_resource)
    return entry[1], entry[2], entry[3]


def _administrator(principal: Principal, context: CheckContext) -> str | None:
    """Why the user or role is an administrator (an AWS managed policy such as AdministratorAccess, or what its
    policies allow within its boundary), or None."""
    cache = run_cache(context, "escalation_administrators")
    entry = cache.get(id(principal))
    if entry is None or entry[0] is not principal:  # the id of a principal of a file checked before may be reused
        why = None
        if not boundary_limits(principal, context):  # as IAM006 weighs an attached AWS managed policy
            privileged = load_privileged_managed_policies()
            why = next((name for arn in principal.attached_policy_arns
                        if ":iam::aws:policy/" in arn and (name := arn.rpartition("/")[2]) in privileged
                        and privileged[name].severity is Severity.CRITICAL), None)
        if why is None and is_full_admin(principal_permissions(principal, context), context):
            why = "every action on every resource"
        entry = cache[id(principal)] = (principal, why)
    found: str | None = entry[1]
    return found


def _hit(method: _Method, chosen: dict[str, Usable], who: str, principal: Principal | None,
         context: CheckContext) -> Hit:
    path = method.path
    specific = any(u.scope == "specific" for u in chosen.values())
    targets = [(target, why) for action, usable in chosen.items()
               if usable.scope == "specific" and action in TAKE_ROLE_AS_IS for pattern in usable.resources
               for target in _matched_principals(pattern, context)
               if (why := _administrator(target, context)) is not None] if specific else []
    actions: dict[str, dict[str, Any]] = {}
    policies: list[str] = []
    for action, usable in chosen.items():
        grant = usable.grant
        label = grant.policy.label or grant.policy.source.display_path
        if label not in policies:
            policies.append(label)
        actions[method.spelling[action]] = {
            "policy": label,
            "statement": grant.statement.index,
            "sid": grant.statement.sid,
            "resources": list(usable.resources) if grant.not_resources is None else
            [f"NotResource: {r}" for r in grant.not_resources],
            "conditions": list(usable.loose_conditions),
        }
    anchor_action = next((a for a in chosen if a in method.resource_types), next(iter(chosen)))
    anchor = chosen[anchor_action].grant
    names = ", ".join(actions)
    where = f" (granted by {', '.join(policies)})" if principal is not None else ""
    limit = " on specific resources only: exploitable if they are privileged" if specific else ""
    if targets:
        target, why = targets[0]
        limit = f" on {target.kind} {target.name}, an administrator ({why})"
    elif specific and principal is not None and _on_itself(method, chosen, principal):
        # its own boundary removed or its own policies rewritten: what it gains is whatever it wants
        targets = [(principal, "itself")]
        limit = f" on the {principal.kind} itself"
    details: dict[str, Any] = {
        "path": path.id,
        "title": path.title,
        "actions": actions,
        "policies": policies,
        "target": path.target,
        "resource_scope": "specific" if specific else "any",
        "impact": path.impact,
        "reference": path.reference,
        "known_as": list(path.known_as),
    }
    indirect = principal is not None and bool(path.principals) and principal.kind not in path.principals
    if indirect and principal is not None:  # a role changing groups or other users raises users, not itself
        limit += (f"; it raises {' or '.join(path.principals)}s, not this {principal.kind}: exploitable by "
                  "whoever controls it and also holds a user")
    message = f"{who} can escalate privileges ({path.title.lower()}) with {names}{where}{limit}"
    if principal is not None and (already := _administrator(principal, context)) is not None:
        # in the message only: the fingerprint (built from the details) stays when the admin grant goes
        message += f"; it is already an administrator ({already}): this counts once that goes"
    if principal is not None and principal.missing_boundary_arn is not None:
        message += unweighed_boundary(principal)
        details["permissions_boundary_not_in_input"] = principal.missing_boundary_arn
    return Hit(
        message,
        pointer=anchor.statement.pointer,
        statement=anchor.statement,
        policy=anchor.policy if principal is not None else None,
        # Changing IAM or passing a role yields the new permissions at once; taking over an existing
        # instance, function or stack, or assuming a role, pays only if that resource is privileged.
        severity=None if method.direct and (not specific or targets) and not indirect else Severity.MEDIUM,
        details=details,
    )


def _on_itself(method: _Method, chosen: dict[str, Usable], principal: Principal) -> bool:
    """Whether a grant on specific resources names the principal itself, as the resource its path changes (a role's
    ``iam:DeleteRolePermissionsBoundary`` or ``iam:PutRolePolicy`` on its own ARN, or a template's reference to it)."""
    return any(usable.scope == "specific" and method.resource_types.get(action) == principal.kind
               and any(_named_principal(pattern, (principal,)) is principal for pattern in usable.resources)
               for action, usable in chosen.items())


def principal_permissions(principal: Principal, context: CheckContext) -> EffectivePermissions:
    """What the user's or role's policies allow together, within its permissions boundary and its own account. For a
    role only AWS services assume, a Deny that holds whenever a request carries no MFA applies to every request of
    its sessions (a service's credentials never carry MFA)."""
    policies = principal.identity_policies
    if _services_only(principal):
        policies = tuple(_mfa_denies_unconditional(policy, context) for policy in policies)
    return model(context).effective(policies, principal.permissions_boundary, arn_account(principal.arn))


def _services_only(principal: Principal) -> bool:
    """A role whose trust policy admits AWS service principals alone."""
    trust = principal.trust_policy
    if principal.kind != "role" or trust is None:
        return False
    admitted = [ref for statement in trust.statements if statement.is_allow
                for ref in (*(statement.principals or ()), *(statement.not_principals or ()))]
    return bool(admitted) and all(ref.type == "Service" for ref in admitted) and not any(
        statement.not_principals for statement in trust.statements if statement.is_allow)


_ABSENT_MFA_HOLDS = {("BoolIfExists", "false"), ("Null", "true")}
"""(operator, value) of an ``aws:MultiFactorAuthPresent`` condition that holds when the request carries no MFA."""


def _mfa_denies_unconditional(policy: Policy, context: CheckContext) -> Policy:
    """The policy with its Denies that hold for any request without MFA made unconditional; itself when it has none.
    (Not memoised: a run cache would keep the file's policies alive after it; only policies with such a Deny are
    copied, and they are few.)"""

    def holds_without_mfa(statement: Statement) -> bool:
        return not statement.is_allow and bool(statement.conditions) and all(
            c.key.lower() == "aws:multifactorauthpresent" and c.set_qualifier is None and len(c.values) == 1
            and (c.operator, str(c.values[0]).lower()) in _ABSENT_MFA_HOLDS for c in statement.conditions)

    if not any(holds_without_mfa(statement) for statement in policy.statements):
        return policy
    return dataclasses.replace(policy, statements=tuple(
        dataclasses.replace(statement, conditions=()) if holds_without_mfa(statement) else statement
        for statement in policy.statements))


def _evaluate_permissions(effective: EffectivePermissions, context: CheckContext
                          ) -> list[tuple[_Method, dict[str, Usable]]]:
    """The methods the grants enable, leaving out the grants of everything (IAM001 reports those): what the other
    statements enable stays reported when IAM001 is ignored or suppressed, and after the admin grant goes."""
    limited = tuple(grant for grant in effective.grants if not _grants_everything(grant, context))
    if len(limited) != len(effective.grants):
        effective = EffectivePermissions(limited, effective.denies)
    return list(evaluate(effective, context))


def principal_is_exempt(principal: Principal) -> bool:
    return principal.kind not in ("user", "role") or ":role/aws-service-role/" in principal.arn


def policy_is_exempt(policy: Policy, context: CheckContext) -> bool:
    """Not evaluated alone: evaluated with its principal's other policies, a permissions boundary only (it grants
    nothing to escalate with), a service-linked role's."""
    if policy.kind is not PolicyKind.IDENTITY or policy.boundary_only or context.in_effect_for_principal(policy):
        return True
    label = policy.label or ""
    return policy.is_aws_managed and "/aws-service-role/" in label


@RULES.rule(
    "IAM012", "privilege-escalation", "privilege-escalation", Severity.HIGH,
    "Known privilege-escalation method",
    what="Reports a known privilege-escalation method (from `rules/escalation/`: Rhino Security Labs' 21, "
         "pathfinding.cloud and later research) when the actions it needs are effectively allowed: inside one "
         "policy file, or for a user or role of an account export across its inline, attached and group "
         "policies, after `Deny` and within its permissions boundary (for a role only AWS services assume, a `Deny` "
         "that holds for requests without MFA applies to all its requests). Resource and condition constraints count "
         "(see `auditor/checks/escalation.py`): a condition on `iam:PolicyARN` fences the attach methods only when "
         "it keeps out every policy of `rules/privileged-managed-policies.yaml`; an action counts only when its "
         "grants can name every resource type its requests need (`ec2:RunInstances` on launch templates alone "
         "does not; one that names no resource, `glue:CreateDevEndpoint`, only where they match `*`), and where a "
         "method says which resources its action must reach, one of them (`ssm:SendCommand` "
         "runs the caller's commands only through a few AWS documents, such as `AWS-RunShellScript`, or "
         "`document/*`); service-linked roles are never targets. "
         "High when the method changes IAM or passes a role on any resource; medium when it takes over an existing "
         "resource (instance, function, stack, notebook...) or assumes a role, or when a role holds a method that "
         "raises users (a group's policies or members, another user's policies or boundary: it belongs to no group; "
         "whoever controls it gains through a user of their own), or when the grant names specific "
         "resources only (named ones, or the roles and users of one path or name prefix of three characters or "
         "more: `role/app/*`, `role/ci-deploy-*`, as AWS scopes `iam:PassRole` in its examples): it pays only if "
         "that resource is privileged. High again when `iam:PassRole` or "
         "`iam:UpdateAssumeRolePolicy` names a role of the same input that is an administrator (by ARN, "
         "`!GetAtt Role.Arn` or `aws_iam_role.NAME.arn`, or by a pattern that matches it: `role/app-*`). "
         "`sts:AssumeRole` on a role named in full is the delegation its author chose, reported only when that "
         "role of the same input is an administrator whose trust policy admits the principal or its account "
         "(high: the principal is an administrator one call away).",
    why="The principal can give itself (or a role it controls) more permissions than it was granted, up to "
        "administrator: the policy's apparent limits do not hold.",
    example='{"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}',
    fix="Restrict the sensitive action to specific resources (`iam:PassRole` to the one role the job passes, "
        "with `iam:PassedToService`), remove the second half of the pair, or deny it with a permissions boundary.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                 '"Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}]}', "IAM003", "IAM012"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:AttachUserPolicy", '
                 '"Resource": "*", "Condition": {"ArnLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/*"}}}]}',
                 "IAM012", note="every AWS managed policy, AdministratorAccess among them"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:AttachUserPolicy", '
                 '"Resource": "*", "Condition": {"ArnNotEquals": {"iam:PolicyARN": '
                 '"arn:aws:iam::aws:policy/AdministratorAccess"}}}]}', "IAM003", "IAM012",
                 note="IAMFullAccess is still allowed, and with it AdministratorAccess"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:SendCommand", '
                 '"Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ssm:*::document/AWS-RunShellScript"]}]}',
                 "IAM012", note="every instance: an instance ARN is ec2's, not ssm's"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", '
                 '"Resource": "arn:aws:iam::*:role/app-instance-role"}, {"Effect": "Allow", '
                 '"Action": "ec2:RunInstances", "Resource": "*"}]}', "IAM003", "IAM012",
                 note="one role (PassRole reaches the caller's account alone): medium, on specific resources"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                 '"Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}, '
                 '{"Effect": "Allow", "Action": "*", "Resource": "*"}]}', "IAM001", "IAM003", "IAM012",
                 note="an admin statement beside it does not hide it: it is still there when the admin goes")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                  '"Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}, '
                  '{"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}]}', "IAM003"),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:AttachUserPolicy", '
                  '"Resource": "*", "Condition": {"ArnEquals": {"iam:PolicyARN": '
                  '"arn:aws:iam::aws:policy/ReadOnlyAccess"}}}]}'),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:RunInstances", '
                  '"Resource": "arn:aws:ec2:*:*:launch-template/*"}, '
                  '{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}', "IAM003",
                  note="a launch template alone: RunInstances needs an instance, a subnet, an image..."),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:AttachRolePolicy", '
                  '"Resource": "arn:aws:iam::*:role/aws-service-role/*"}]}',
                  note="service-linked roles: their policies cannot be changed"),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", '
                  '"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}', "IAM001",
                  note="an administrator (with MFA) has nothing to escalate to"),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:CreatePolicyVersion", '
                  '"Resource": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]}'),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:SendCommand", '
                  '"Resource": ["arn:aws:ec2:*:*:instance/*", '
                  '"arn:aws:ssm:*:*:document/AWSEC2-CreateVssSnapshot"]}]}',
                  note="a document that takes snapshots, not commands (AWS Backup's policies)"),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", '
                  '"Resource": "*", "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}}, '
                  '{"Effect": "Allow", "Action": "ec2:RunInstances", '
                  '"Resource": "arn:aws:ec2:us-east-1:123456789012:instance/*"}]}')],
    scope="both",
)
def privilege_escalation(subject: Policy | Principal, context: CheckContext) -> Iterator[Hit]:
    if isinstance(subject, Principal):
        if principal_is_exempt(subject):
            return
        who = f"{subject.kind} {subject.name}"
        permissions = principal_permissions(subject, context)
        for path, chosen in _evaluate_permissions(permissions, context):
            yield _hit(path, chosen, who, subject, context)
        yield from _assumable_administrators(subject, permissions, who, context)
        return
    if policy_is_exempt(subject, context):
        return
    for path, chosen in _evaluate_permissions(model(context).effective((subject,)), context):
        yield _hit(path, chosen, "Whoever holds this policy", None, context)


ASSUME_ROLE = "sts:assumerole"
CALLER_CIRCUMSTANCE_KEYS = frozenset({
    "aws:multifactorauthpresent", "aws:multifactorauthage", "aws:sourceip", "aws:sourcevpc", "aws:sourcevpce",
    "aws:securetransport", "aws:currenttime", "aws:epochtime"})
"""Condition keys of a trust statement that an insider meets as they are (MFA, the office network, the time): not
keys that say which principal (``aws:PrincipalArn``, tags, ``sts:ExternalId``)."""


def _assumable_administrators(principal: Principal, permissions: EffectivePermissions, who: str,
                              context: CheckContext) -> Iterator[Hit]:
    """``sts:AssumeRole`` on a role the policy names in full (not an escalation by itself: the delegation its
    author chose) when that role, of the same input, is an administrator whose trust policy admits the principal
    or its account: the principal is an administrator too, one call away."""
    named = [(grant, role) for grant in permissions.grants_for(ASSUME_ROLE)
             for pattern in grant.resources if not has_wildcard(pattern)  # wildcards: the sts-assume-role method's
             for role in _matched_principals(pattern, context)
             if role.kind == "role" and role is not principal and _trust_admits(role, principal)]
    if not named or _administrator(principal, context) is not None:
        return
    seen: set[int] = set()
    for grant, role in named:
        why = _administrator(role, context)
        if id(role) in seen or why is None:
            continue
        seen.add(id(role))
        label = grant.policy.label or grant.policy.source.display_path
        yield Hit(
            f"{who} can act as an administrator: sts:AssumeRole on role {role.name} (granted by {label}), "
            f"an administrator ({why}) whose trust policy admits the {principal.kind} or its account",
            pointer=grant.statement.pointer, statement=grant.statement, policy=grant.policy,
            details={"path": "sts-assume-role", "title": "Assume an administrator role that trusts the "
                     "principal", "target": role.arn or role.name, "policies": [label],
                     "impact": "the role's permissions, every action on every resource among them"})


def _trust_admits(role: Principal, principal: Principal) -> bool:
    """Whether the role's trust policy certainly allows sts:AssumeRole to the principal: by its ARN, or by its
    account (the account's root ARN or id, which IAM lets the account's principals use when their own policies
    allow it), under no condition but the caller's own (MFA, network), and no Deny names it, its account or
    everyone (whatever its condition: a Deny that may refuse leaves the principal no certain way in)."""
    trust = role.trust_policy
    account = arn_account(principal.arn) if principal.arn else None
    if trust is None or not principal.arn or account is None:
        return False
    partition = principal.arn.split(":")[1]
    admitted = {principal.arn.lower(), account, f"arn:{partition}:iam::{account}:root"}

    def names(statement: Statement) -> bool:
        return any(glob_matches(action, ASSUME_ROLE, ignore_case=True) for action in statement.actions or ()) and any(
            ref.type == "AWS" and (ref.value.strip().lower() in admitted or ref.value.strip() == "*")
            for ref in statement.principals or ())

    if any(statement.is_deny and (names(statement) or statement.not_principals is not None)
           for statement in trust.statements):
        return False
    return any(statement.is_allow and names(statement)
               and all(c.key.lower() in CALLER_CIRCUMSTANCE_KEYS for c in statement.conditions)
               and not any(ref.value.strip() == "*" for ref in statement.principals or ())
               for statement in trust.statements)


def paths_for(policies: Iterable[Policy], context: CheckContext) -> list[str]:
    """Ids of the escalation paths the policies enable together (for tests and other rules)."""
    return [method.path.id for method, _ in _evaluate_permissions(model(context).effective(tuple(policies)), context)]
