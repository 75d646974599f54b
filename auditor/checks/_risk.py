"""Condition and resource semantics shared by the risk rules."""

from __future__ import annotations

import heapq
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from auditor.catalog import Catalog
from auditor.checks._facts import has_wildcard
from auditor.engine import CheckContext
from auditor.model import (
    ACCOUNT,
    CONFIGURATION_PRINCIPAL_ARN,
    TEMPLATE_VALUE,
    Condition,
    Policy,
    PolicyKind,
    PrincipalRef,
    arn_account,
)
from auditor.permissions import (
    CompiledStatement,
    PermissionModel,
    glob_matches,
    matches_any_name,
    permission_model,
)

# Keys that describe the caller or the request channel. An insider satisfies them (works from the
# office network, has MFA, is in the organisation), and they do not say which resources are touched.
CALLER_CONTEXT_KEYS = frozenset(
    {
        "aws:sourceip", "aws:sourcevpc", "aws:sourcevpce", "aws:vpcsourceip", "aws:multifactorauthpresent",
        "aws:multifactorauthage", "aws:securetransport", "aws:currenttime", "aws:epochtime",
        "aws:tokenissuetime", "aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount",
        "aws:principalarn", "aws:principaltype", "aws:principalisawsservice", "aws:principalservicename",
        "aws:principalservicenameslist", "aws:userid", "aws:username", "aws:useragent", "aws:referer",
        "aws:requestedregion", "aws:sourceidentity", "aws:federatedprovider", "aws:rolesessionname",
        "aws:ec2instancesourcevpc", "aws:ec2instancesourceprivateipv4", "aws:calledvia", "aws:calledviafirst",
        "aws:calledvialast", "aws:viaawsservice", "aws:assumedroot", "ec2:region",
    }
)
CALLER_CONTEXT_PREFIXES = ("aws:principaltag/",)
_TAG_KEY = re.compile(r"^[a-z0-9-]+:(requesttag|resourcetag|existingobjecttag|requestobjecttag)/|^aws:tagkeys$"
                      r"|^[a-z0-9-]+:tagkeys$|^s3:requestobjecttagkeys$")

NEGATED_OPERATORS = frozenset(
    {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike",
     "NotIpAddress", "NumericNotEquals", "DateNotEquals"}
)
IDENTITY_KINDS = (PolicyKind.IDENTITY,)


@dataclass(frozen=True, slots=True)
class ActionClasses:
    """Catalogue actions (lower-case) by what they do, computed once per catalogue."""

    write: frozenset[str]
    """Write or permissions-management access level."""
    risky_scopable: frozenset[str]
    """Write, permissions-management or tagging actions that accept a resource narrower than ``*``."""
    tagging: frozenset[str]
    star_only: frozenset[str]
    permissions: frozenset[str]
    """Permissions-management access level (key policies, grants, IAM)."""


@lru_cache(maxsize=4)
def action_classes(catalog: Catalog) -> ActionClasses:
    def writes(level: str) -> bool:
        return "Write" in level or "Permissions management" in level

    return ActionClasses(
        write=catalog.actions_with_access(lambda level, _: writes(level)),
        risky_scopable=catalog.actions_with_access(
            lambda level, only_star: not only_star and (writes(level) or "Tagging" in level)),
        tagging=catalog.actions_with_access(lambda level, _: "Tagging" in level),
        permissions=catalog.actions_with_access(lambda level, _: "Permissions management" in level),
        star_only=catalog.actions_with_access(lambda _, only_star: only_star),
    )


def model(context: CheckContext) -> PermissionModel:
    return permission_model(context.catalog)


def compiled(policy: Policy, context: CheckContext) -> tuple[CompiledStatement, ...]:
    return model(context).compile(policy)


def allows_left(policy: Policy, context: CheckContext) -> tuple[CompiledStatement, ...]:
    """The Allow statements of a policy that can apply, less what its own unconditional Denies refuse (see
    ``PermissionModel.allows_left``): the per-statement rules judge these, so a Deny beside them is never
    overlooked."""
    return model(context).allows_left(policy)


ADMIN_SHARE = 0.9
"""A grant of at least this share of the catalogue, with a way to grant itself the rest, is administrator access."""
SELF_GRANTING_ACTIONS = frozenset(
    {
        "iam:putuserpolicy", "iam:putrolepolicy", "iam:putgrouppolicy", "iam:attachuserpolicy",
        "iam:attachrolepolicy", "iam:attachgrouppolicy", "iam:createpolicyversion", "iam:addusertogroup",
        "iam:setdefaultpolicyversion",
    }
)


def administrator_actions(actions: frozenset[str], context: CheckContext) -> bool:
    """Every action, or all but a few (a NotAction, a Deny of a handful) with a way to grant oneself the rest."""
    total = model(context).all_actions
    if actions is total or len(actions) == len(total):
        return True
    return len(actions) >= ADMIN_SHARE * len(total) and not actions.isdisjoint(SELF_GRANTING_ACTIONS)


def is_caller_context_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in CALLER_CONTEXT_KEYS or lowered.startswith(CALLER_CONTEXT_PREFIXES)


def is_tag_key(key: str) -> bool:
    return _TAG_KEY.match(key.lower()) is not None


def scoping_conditions(conditions: Sequence[Condition]) -> tuple[Condition, ...]:
    """Conditions that narrow which resources or requests a statement covers (tags count).

    Not one that the requests of the statement's actions meet whatever they touch: a ``*`` on a key other than a
    tag (``StringLike {"iam:PolicyARN": "*"}``), a negated operator (everything but what it names; on
    the account or organisation owning the resource it still confines the statement to other owners' resources,
    which they must share), ``...IfExists`` on a tag (true for untagged resources and requests without tags; on
    a key the actions' requests carry, such as ``iam:PassedToService`` for ``iam:PassRole``, it compares as
    without it). Nor the owner of the resource named positively (``aws:ResourceAccount`` your account): that is
    every resource of the account, all an identity policy reaches anyway.
    """
    return tuple(c for c in conditions if not is_caller_context_key(c.key) and not _admits_every_value(c)
                 and (is_negated(c) if c.key.lower() in RESOURCE_OWNER_KEYS else not is_negated(c))
                 and not (c.if_exists and c.base_operator != "Null" and is_tag_key(c.key)))


RESOURCE_OWNER_KEYS = frozenset({"aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths"})
"""Keys of the account or organisation that owns the resource a request touches."""


def _admits_every_value(condition: Condition) -> bool:
    """A ``*`` on a key other than a tag: a tag may be absent (a ``*`` on ``aws:ResourceTag/team`` asks for resources
    with a team tag, on ``aws:RequestTag/team`` keeps out the actions whose requests carry no tags)."""
    return (condition.base_operator in ("StringLike", "ArnLike", "ArnEquals") and not is_tag_key(condition.key)
            and any(isinstance(v, str) and matches_any_name(v) for v in condition.values))


def condition_admits(condition: Condition, value: str) -> bool | None:
    """Whether a string or ARN condition holds for a request whose key has the one ``value``; None for other
    operators."""
    operator = condition.base_operator
    if operator in ("StringEquals", "StringNotEquals"):
        matched = any(v == value for v in condition.values)
    elif operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        matched = any(isinstance(v, str) and v.lower() == value.lower() for v in condition.values)
    elif operator in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals"):
        matched = any(isinstance(v, str) and glob_matches(v, value) for v in condition.values)
    else:
        return None
    return matched != is_negated(condition)


def is_negated(condition: Condition) -> bool:
    return condition.base_operator in NEGATED_OPERATORS


def access_levels(actions: Iterable[str], catalog: Catalog) -> dict[str, str]:
    levels = {}
    for action in actions:
        info = catalog.action(action)
        if info is not None:
            levels[action] = info.access_level
    return levels


def display(actions: Iterable[str], catalog: Catalog, limit: int | None = None) -> list[str]:
    """AWS spellings of (the first ``limit``, alphabetically, of) lower-case action names."""
    names = sorted(actions) if limit is None else heapq.nsmallest(limit, actions)
    return [catalog.display_name(a) for a in names]


def granted_text(statement: CompiledStatement, catalog: Catalog, limit: int = 3) -> str:
    """The actions a statement grants, for a message: its patterns as written when a few wildcards say it best
    (``*``, ``s3:Get*``), else the first ``limit`` actions."""
    written = statement.statement.actions
    if written is not None and len(written) <= limit and any(has_wildcard(a) for a in written):
        return ", ".join(written)
    return first_actions_text(statement.actions, catalog, limit)


def first_actions_text(actions: Collection[str], catalog: Catalog, limit: int = 3) -> str:
    """The first ``limit`` actions in AWS spelling, with "and more" when there are others."""
    return ", ".join(display(actions, catalog, limit)) + (" and more" if len(actions) > limit else "")


def principal_account(ref: PrincipalRef) -> str | None:
    return arn_account(ref.value) if ref.type == "AWS" else None


_OWN_ACCOUNT = r"\{\{(?:AWS::AccountId|data\.aws_caller_identity\.[\w-]+\.account_id)\}\}"
"""The deploying account in a template: CloudFormation's ``AWS::AccountId``, Terraform's ``aws_caller_identity``."""
_OWN_ACCOUNT_ROOT = re.compile(rf"arn:[^:]+:iam::{_OWN_ACCOUNT}:")


def is_own_account_principal(ref: PrincipalRef) -> bool:
    """A template principal of the stack's own account: ``!GetAtt Role.Arn`` (a resource of the same template),
    Terraform's ``aws_iam_role.NAME.arn`` (a role or user of the same configuration), ``!Ref AWS::AccountId`` or
    Terraform's ``data.aws_caller_identity.NAME.account_id``, or an IAM ARN built from one of them."""
    text = ref.value.strip()
    return ref.type == "AWS" and (text.startswith("{{GetAtt:") or re.fullmatch(_OWN_ACCOUNT, text) is not None
                                  or CONFIGURATION_PRINCIPAL_ARN.fullmatch(text) is not None
                                  or _OWN_ACCOUNT_ROOT.match(text) is not None)


def is_everyone(ref: PrincipalRef) -> bool:
    return (ref.type == "*" or ref.type == "AWS") and ref.value.strip() == "*"


def only_aws_services(conditions: Sequence[Condition]) -> bool:
    """``"Bool": {"aws:PrincipalIsAWSService": "true"}``: only AWS service principals match (acting for any
    customer, as a service principal named in ``Principal`` does)."""
    return any(c.key.lower() == "aws:principalisawsservice" and c.base_operator == "Bool" and not c.if_exists
               and c.set_qualifier is None and c.values and all(str(v).lower() == "true" for v in c.values)
               for c in conditions)


# Keys whose concrete value confines a statement's callers to known accounts, organisations or networks.
# Not aws:ResourceAccount, aws:ResourceOrgID or aws:ResourceOrgPaths: in a resource or trust policy they describe
# the resource itself, whose owner every request matches, whoever makes it.
# s3:DataAccessPointAccount and s3:DataAccessPointArn: the bucket delegates to the access points of that account (or
# that one access point), whose own policies decide who gets in; S3 counts such a bucket policy as not public.
_ACCOUNT_KEYS = frozenset({"aws:sourceaccount", "aws:principalaccount", "aws:sourceowner", "kms:calleraccount",
                           "s3:dataaccesspointaccount"})
_ORG_ID_KEYS = frozenset({"aws:principalorgid", "aws:sourceorgid"})
_ORG_PATH_KEYS = frozenset({"aws:principalorgpaths", "aws:sourceorgpaths"})
_ARN_KEYS = frozenset({"aws:sourcearn", "aws:principalarn", "s3:dataaccesspointarn"})
_NETWORK_KEYS = frozenset({"aws:sourcevpce", "aws:sourcevpc"})
_PRINCIPAL_ID_KEYS = frozenset({"aws:userid"})
"""A principal's unique id (``AIDA...``, ``AROA...:session``): a literal one names that principal alone (S3 does not
count such a policy as public)."""
_ROLE_SESSIONS = re.compile(r"AROA[A-Z0-9]+:\*")
NARROWING_KEYS = _ACCOUNT_KEYS | _ORG_ID_KEYS | _ORG_PATH_KEYS | _ARN_KEYS | _NETWORK_KEYS | _PRINCIPAL_ID_KEYS
_RESOURCE_OWNER_VARIABLES = {
    **dict.fromkeys(_ACCOUNT_KEYS, ("${aws:resourceaccount}",)),
    **dict.fromkeys(_ORG_ID_KEYS, ("${aws:resourceorgid}",)),
    **dict.fromkeys(_ORG_PATH_KEYS, ("${aws:resourceorgpaths}",)),
}


LITERAL_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringNotEquals",
                                "StringNotEqualsIgnoreCase"})
"""Operators that compare ``*`` and ``?`` as characters (``StringEquals {"aws:PrincipalAccount": "*"}`` admits no
one); the ``Like`` and ``Arn`` operators take them as wildcards."""


def _narrowing_value(key: str, value: object, wildcards_literal: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    text = TEMPLATE_VALUE.sub("${DeployedValue}", value.strip())
    if _is_bound_placeholder(text):
        return True
    if text.lower() in _RESOURCE_OWNER_VARIABLES.get(key, ()):
        return True  # the data-perimeter form: callers of the resource's own account or organisation
    if key in _ACCOUNT_KEYS or key in _ORG_ID_KEYS:
        # A literal value confines the callers even when no account or organisation has it: it admits no one.
        return _literal(text, wildcards_literal)
    if key in _ORG_PATH_KEYS:
        return _literal(text.split("/", 1)[0], wildcards_literal)
    if key in _ARN_KEYS:
        if arn_account(text) is not None or _is_bound_placeholder(text.split(":")[4] if text.count(":") >= 4 else ""):
            return True
        parts = text.split(":", 5)
        # S3 bucket ARNs carry no account, but bucket names are global: a literal bucket name narrows.
        return len(parts) == 6 and parts[2] == "s3" and bool(parts[5]) and not has_wildcard(parts[5].split("/")[0])
    if key in _NETWORK_KEYS:
        return bool(text) and not text.startswith(("*", "?")) and text.rstrip("*?") not in ("vpc-", "vpce-")
    if key in _PRINCIPAL_ID_KEYS:  # "anonymous" is the id of an unsigned request; AROA...:* one role's sessions
        return text.lower() != "anonymous" and (_literal(text, wildcards_literal)
                                                or _ROLE_SESSIONS.fullmatch(text) is not None)
    return False


def _literal(text: str, wildcards_literal: bool = False) -> bool:
    return bool(text) and (wildcards_literal or not has_wildcard(text)) and "${" not in text


def _is_bound_placeholder(text: str) -> bool:
    """``${AccountId}``-style template parameters (and CloudFormation's deploy-time values, rewritten to that
    form by ``_narrowing_value``) stand for one concrete value once deployed."""
    return bool(re.fullmatch(r"\$\{[A-Za-z][A-Za-z0-9_]*\}", text)) and not text.lower().startswith("${aws:")


def denied_outside(allow: CompiledStatement, policy: Policy, context: CheckContext) -> bool:
    """Whether a Deny of everyone in the same policy refuses the Allow's actions to everyone (no condition), or to
    everyone outside known accounts, organisations or networks (``Deny * ... StringNotEquals aws:PrincipalOrgID
    o-...``), or to everyone but the principals its ``NotPrincipal`` names: the Allow is then confined as if it
    carried the positive condition itself."""
    return any(all(confines_as_deny(condition) for condition in deny.conditions)  # true for no condition at all
               for deny in denies_of_everyone(allow, policy, context))


def denies_of_everyone(allow: CompiledStatement, policy: Policy, context: CheckContext
                       ) -> Iterator[CompiledStatement]:
    """The Denies of everyone (or of all but the principals a ``NotPrincipal`` names) in the same policy that cover
    every action and resource of the Allow, whatever their conditions."""
    from auditor.permissions import deny_covers

    for deny in compiled(policy, context):
        st = deny.statement
        but_named = bool(st.not_principals) and not any(is_everyone(p) for p in st.not_principals or ())
        if deny.is_allow or deny.never_applies or not (but_named or any(is_everyone(p) for p in st.principals or ())):
            continue
        if not allow.actions <= deny.actions:
            continue
        if policy.kind is not PolicyKind.TRUST and not deny_covers(deny, allow):
            continue
        yield deny


def confines_as_deny(condition: Condition) -> bool:
    """In a Deny: refuses every request whose key is not one of known values (true, too, when the key is absent)."""
    key = condition.key.lower()
    return (key in NARROWING_KEYS and is_negated(condition) and condition.set_qualifier is None
            and bool(condition.values)
            and all(_narrowing_value(key, v, condition.base_operator in LITERAL_OPERATORS) for v in condition.values))


def narrowing_condition(conditions: Sequence[Condition]) -> Condition | None:
    """A condition that confines the statement to known accounts, organisations or networks, if any.

    Negated operators, ``...IfExists`` (the key is absent on direct calls) and ``ForAllValues`` (true
    when the key is absent) narrow nothing; every value of the key must be concrete, since values
    are ORed and one ``*`` opens the condition to everyone.
    """
    for condition in conditions:
        key = condition.key.lower()
        if key not in NARROWING_KEYS or is_negated(condition) or condition.if_exists:
            continue
        if condition.set_qualifier == "ForAllValues" or condition.base_operator in ("Null", "Bool"):
            continue
        literal = condition.base_operator in LITERAL_OPERATORS
        if condition.values and all(_narrowing_value(key, v, literal) for v in condition.values):
            return condition
    return None


def named_accounts(condition: Condition) -> frozenset[str] | None:
    """The accounts a condition on an account or ARN key names (``aws:PrincipalAccount``, ``aws:PrincipalArn``...);
    None for another key, or when a value names no account (a placeholder, an S3 bucket ARN)."""
    key = condition.key.lower()
    values = [v.strip() for v in condition.values if isinstance(v, str)]
    if key in _ACCOUNT_KEYS:
        accounts: list[str | None] = [v if ACCOUNT.fullmatch(v) else None for v in values]
    elif key in _ARN_KEYS:
        accounts = [arn_account(v) for v in values]
    else:
        return None
    if not accounts or len(accounts) != len(condition.values) or None in accounts:
        return None
    return frozenset(a for a in accounts if a is not None)


def confined_accounts(conditions: Sequence[Condition]) -> tuple[frozenset[str], Condition] | None:
    """The accounts a statement's callers must belong to, when a positive condition on an account key
    (``aws:PrincipalAccount``, ``kms:CallerAccount``, ``aws:SourceAccount``...) names them as literal account ids:
    ``"Principal": "*"`` with ``"aws:PrincipalAccount": "999988887777"`` grants that account as if it were named
    as the principal. With that condition (the last one, for a location); None when there is none."""
    found: tuple[frozenset[str], Condition] | None = None
    for condition in conditions:
        key = condition.key.lower()
        if key not in _ACCOUNT_KEYS or is_negated(condition) or condition.if_exists:
            continue
        if condition.set_qualifier == "ForAllValues" or condition.base_operator not in LITERAL_OPERATORS:
            continue
        values = [v.strip() for v in condition.values if isinstance(v, str)]
        if not values or len(values) != len(condition.values) or not all(ACCOUNT.fullmatch(v) for v in values):
            continue
        accounts = frozenset(values) if found is None else found[0] & frozenset(values)
        found = (accounts, condition)
    return found


def service_matches(values: Iterable[object], services: Iterable[str]) -> bool:
    """True when some value (a pattern) matches one of the service principal names."""
    names = tuple(services)
    return any(isinstance(v, str) and any(glob_matches(v, name, ignore_case=True) for name in names)
               for v in values)
