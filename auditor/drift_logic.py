"""The request-set algebra behind drift: IAM wildcard patterns, condition implication, statement coverage.

A policy set allows a request (principal, action, resource, condition context) when an
``Allow`` statement matches it and no ``Deny`` statement does. :func:`find_gaps` decides,
statement by statement, whether everything an *inner* set allows is allowed by an
*outer* set, and describes each place where it cannot prove so. Every test here is a
sufficient condition: when a proof fails, a gap is reported, so "no gaps" is a sound
"no new access" while a gap may occasionally be a false alarm.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from typing import Any

from auditor.catalog import Catalog, glob_regex
from auditor.model import ACCOUNT, TEMPLATE_VALUE, Condition, Policy, Statement, arn_account

# --------------------------------------------------------------------------- wildcard patterns


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def squash(pattern: str) -> str:
    """The canonical spelling of a pattern: in each run of wildcards, ``?`` first and at most one ``*``."""
    if not has_wildcard(pattern):
        return pattern
    out: list[str] = []
    index, size = 0, len(pattern)
    while index < size:
        char = pattern[index]
        if char in "*?":
            end = index
            while end < size and pattern[end] in "*?":
                end += 1
            run = pattern[index:end]
            out.append("?" * run.count("?") + ("*" if "*" in run else ""))
            index = end
        else:
            out.append(char)
            index += 1
    return "".join(out)


def glob_match(pattern: str, text: str) -> bool:
    """Whether the literal ``text`` matches the IAM pattern (case-sensitive)."""
    if not has_wildcard(pattern):
        return pattern == text
    return glob_regex(pattern).match(text) is not None


def _strip_literal_ends(first: str, second: str) -> tuple[str, str] | None:
    """Remove the common literal prefix and suffix; None when a literal end differs (no common string)."""
    start = 0
    limit = min(len(first), len(second))
    while start < limit and first[start] not in "*?" and second[start] not in "*?":
        if first[start] != second[start]:
            return None
        start += 1
    first, second = first[start:], second[start:]
    end = 0
    limit = min(len(first), len(second))
    while end < limit and first[-1 - end] not in "*?" and second[-1 - end] not in "*?":
        if first[-1 - end] != second[-1 - end]:
            return None
        end += 1
    if end:
        first, second = first[:-end], second[:-end]
    return first, second


@lru_cache(maxsize=65536)
def glob_contains(outer: str, inner: str) -> bool:
    """Whether every string ``inner`` matches is matched by ``outer`` (sound; exact for the usual shapes)."""
    if outer == "*" or outer == inner:
        return True
    inner, outer = squash(inner), squash(outer)
    if outer == "*" or outer == inner:
        return True
    if not has_wildcard(outer):
        return False
    if not has_wildcard(inner):
        return glob_match(outer, inner)
    stripped = _strip_literal_ends(inner, outer)
    if stripped is None:
        return False
    inner, outer = stripped
    n, m = len(inner), len(outer)
    # below[j]: inner[i+1:] is contained in outer[j:]; row n first (only stars left in outer).
    below = [False] * (m + 1)
    below[m] = True
    for j in range(m - 1, -1, -1):
        below[j] = outer[j] == "*" and below[j + 1]
    for i in range(n - 1, -1, -1):
        row = [False] * (m + 1)
        inner_char = inner[i]
        for j in range(m - 1, -1, -1):
            outer_char = outer[j]
            if outer_char == "*":
                row[j] = row[j + 1] or below[j]
            elif inner_char == "*":
                row[j] = False
            elif outer_char == "?":
                row[j] = below[j + 1]
            else:
                row[j] = inner_char == outer_char and below[j + 1]
        below = row
    return below[0]


@lru_cache(maxsize=65536)
def glob_intersects(first: str, second: str) -> bool:
    """Whether some string matches both patterns (exact)."""
    if first == "*" or second == "*" or first == second:
        return True
    if not has_wildcard(first):
        return glob_match(second, first)
    if not has_wildcard(second):
        return glob_match(first, second)
    stripped = _strip_literal_ends(first, second)
    if stripped is None:
        return False
    p, q = stripped
    n, m = len(p), len(q)
    below = [False] * (m + 1)  # row i = n
    below[m] = True
    for j in range(m - 1, -1, -1):
        below[j] = q[j] == "*" and below[j + 1]
    for i in range(n - 1, -1, -1):
        row = [False] * (m + 1)
        row[m] = p[i] == "*" and below[m]
        for j in range(m - 1, -1, -1):
            if p[i] == "*":
                row[j] = below[j] or row[j + 1]
            elif q[j] == "*":
                row[j] = row[j + 1] or below[j]
            else:
                row[j] = (p[i] == "?" or q[j] == "?" or p[i] == q[j]) and below[j + 1]
        below = row
    return below[0]


def arn_intersects(first: str, second: str) -> bool:
    """Whether some ARN matches both patterns. An ARN's partition, service, region and account hold no colon, so
    two ARN patterns are compared segment by segment (``stream/nothing`` and ``stream/upsolver_*`` of the same
    service share no stream, though a ``*`` of the region could match across colons in a plain string)."""
    first_parts, second_parts = first.split(":", 5), second.split(":", 5)
    if len(first_parts) != 6 or len(second_parts) != 6 or first_parts[0] != "arn" or second_parts[0] != "arn":
        return glob_intersects(first, second)
    return all(glob_intersects(a, b) for a, b in zip(first_parts, second_parts, strict=True))


def arn_contains(outer: str, inner: str) -> bool:
    """Containment for ``ArnLike`` patterns, which AWS matches component by component (six, split on ``:``)."""
    outer_parts, inner_parts = outer.split(":", 5), inner.split(":", 5)
    if len(outer_parts) != len(inner_parts):
        return outer == inner
    return all(glob_contains(o, i) for o, i in zip(outer_parts, inner_parts, strict=True))


def is_universal(pattern: str) -> bool:
    return squash(pattern) == "*"


def may_grant_resourceless(pattern: str) -> bool:
    """Whether a ``Resource`` pattern can grant an action that takes no resource (``s3:PutAccountPublicAccessBlock``,
    ``kinesis:ListStreams``): IAM asks for those on ``*``, and a pattern whose resource part is all wildcards
    (``arn:aws:s3:::*``, as vendors write for ``s3:ListAllMyBuckets``) is taken to grant them too. A pattern naming
    resources (``arn:aws:s3:::bucket/*``) grants them nothing. A pattern a template decides whole (``{{var.arn}}``)
    may be ``*``; a part it decides inside an ARN is a name (``arn:aws:s3:::{{var.bucket}}`` names a bucket)."""
    if not TEMPLATE_VALUE.sub("", pattern):
        return True
    pattern = TEMPLATE_VALUE.sub("name", pattern)
    if not pattern.lower().startswith("arn:"):
        return True
    parts = pattern.split(":", 5)
    return len(parts) < 6 or not parts[5].strip("*")


_POLICY_VARIABLE_KEY = re.compile(r"\$\{([A-Za-z0-9-]+:[^}/]*)")


def _bound(patterns: Iterable[str], known: Mapping[str, str] | None) -> tuple[str, ...]:
    """Resource patterns with their policy variables in lower case, and those whose value is known (the
    compared user's ``${aws:username}``) replaced by it."""
    lowered = tuple(map(variables_lowered, patterns))
    if not known:
        return lowered
    bound = []
    for text in lowered:
        for variable, value in known.items():
            text = text.replace(variable, value)
        bound.append(text)
    return tuple(bound)


def variables_lowered(text: str) -> str:
    """IAM policy variables with their key in lower case, as IAM reads condition keys: ``${AWS:UserName}`` is
    ``${aws:username}``; a tag key after ``/`` and a baseline's own placeholders (``${AccountId}``) are kept."""
    return _POLICY_VARIABLE_KEY.sub(lambda match: "${" + match.group(1).lower(), text) if "${" in text else text


# --------------------------------------------------------------------------- conditions

_ALIASES = {"ArnEquals": "ArnLike", "ArnNotEquals": "ArnNotLike"}
_VALUE_SETS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "NumericEquals", "DateEquals", "IpAddress", "BinaryEquals"}
)
_PATTERNS = frozenset({"StringLike", "ArnLike"})
_NEGATED_PATTERNS = frozenset({"StringNotLike", "ArnNotLike"})
_NEGATED_SETS = frozenset(
    {"StringNotEquals", "StringNotEqualsIgnoreCase", "NumericNotEquals", "DateNotEquals", "NotIpAddress"}
)
_LITERAL_EQUIVALENTS = {"StringLike": "StringEquals", "StringNotLike": "StringNotEquals"}
_LOWER_VALUES = frozenset({"Bool", "Null", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"})
_SAME_AS_GLOBAL = re.compile(r"\A(?:ec2|iam):resourcetag/")
"""Service keys that read the resource's tags as ``aws:ResourceTag/`` does (EC2's and IAM's documentation say so;
the catalogue lists both for their actions): ``ec2:ResourceTag/Name`` is ``aws:ResourceTag/Name``."""


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class Cond:
    """A condition in comparable form: canonical operator, lower-case key, values as a set of strings."""

    qualifier: str
    operator: str
    if_exists: bool
    key: str
    values: frozenset[str]
    written_operator: str
    written_key: str

    @classmethod
    def of(cls, condition: Condition) -> Cond:
        base = _ALIASES.get(condition.base_operator, condition.base_operator)
        values = [variables_lowered(_value_text(v)) for v in condition.values]
        if base in _LITERAL_EQUIVALENTS and not any(has_wildcard(v) for v in values):
            base = _LITERAL_EQUIVALENTS[base]  # StringLike "data" matches what StringEquals "data" does
        if base in _LOWER_VALUES:
            values = [v.lower() for v in values]
        key = condition.key.lower()
        return cls(
            qualifier=(condition.set_qualifier or "").lower(),
            operator=base,
            if_exists=condition.if_exists,
            key=_SAME_AS_GLOBAL.sub("aws:resourcetag/", key) if "resourcetag/" in key else key,
            values=frozenset(values),
            written_operator=condition.operator,
            written_key=condition.key,
        )

    def to_json(self) -> dict[str, Any]:
        return {"operator": self.written_operator, "key": self.written_key, "values": sorted(self.values)}


def implies(stronger: Cond, weaker: Cond) -> bool:
    """Whether every request context satisfying ``stronger`` satisfies ``weaker``."""
    if stronger == weaker:
        return True
    if stronger.key != weaker.key or stronger.qualifier != weaker.qualifier:
        return False
    if stronger.if_exists and not weaker.if_exists:
        return False
    if stronger.operator == weaker.operator:
        op = stronger.operator
        if op in _VALUE_SETS:
            return stronger.values <= weaker.values
        contains = arn_contains if op.startswith("Arn") else glob_contains
        if op in _PATTERNS:
            return all(any(contains(w, s) for w in weaker.values) for s in stronger.values)
        if op in _NEGATED_SETS:
            return stronger.values >= weaker.values
        if op in _NEGATED_PATTERNS:
            return all(any(contains(s, w) for s in stronger.values) for w in weaker.values)
        return stronger.values == weaker.values
    if stronger.operator == "StringEquals" and weaker.operator == "StringLike":
        return all(any(glob_match(w, s) for w in weaker.values) for s in stronger.values)
    if stronger.operator == "StringEquals" and weaker.operator == "StringEqualsIgnoreCase":
        return {v.lower() for v in stronger.values} <= weaker.values  # the weaker's values are lower-cased
    if stronger.operator == "StringNotEqualsIgnoreCase" and weaker.operator == "StringNotEquals":
        return {v.lower() for v in weaker.values} <= stronger.values  # the stronger's values are lower-cased
    return False


def all_implied(stronger: Sequence[Cond], weaker: Sequence[Cond]) -> bool:
    """Whether the conjunction ``stronger`` implies each condition of ``weaker``."""
    return all(any(implies(s, w) for s in stronger) for w in weaker)


def satisfiable(conditions: Sequence[Cond]) -> bool:
    """A cheap proof that some request context satisfies every condition (False when unsure)."""
    keys = [c.key for c in conditions]
    if len(keys) != len(set(keys)):
        return False
    for condition in conditions:
        if not condition.values:
            return False
        if condition.operator in ("Bool", "Null") and not condition.values <= {"true", "false"}:
            return False
    return True


# --------------------------------------------------------------------------- principals


def principal_key(kind: str, value: str) -> str:
    """``AWS:arn...`` with account ids spelt as root ARNs, ``*`` as ``AWS:*``, services lower-cased."""
    if kind == "*" or (kind == "AWS" and value == "*"):
        return "AWS:*"
    if kind == "AWS" and ACCOUNT.fullmatch(value):
        return f"AWS:arn:aws:iam::{value}:root"
    if kind == "Service":
        return f"Service:{value.lower()}"
    return f"{kind}:{value}"


_ROOT = re.compile(r"AWS:arn:(aws[a-z-]*):iam::(\d{12}):root\Z")
_IN_ACCOUNT = re.compile(r"AWS:arn:(aws[a-z-]*):(?:iam|sts)::(\d{12}):")


def principal_contains(outer: str, inner: str) -> bool:
    if outer == "AWS:*" or outer == inner:
        return True
    if has_wildcard(outer):  # aws:PrincipalArn arn:aws:iam::111122223333:role/app-*
        return glob_contains(outer, inner)
    root = _ROOT.match(outer)
    if root is not None:
        member = _IN_ACCOUNT.match(inner)
        return member is not None and member.groups() == root.groups()
    return False


# --------------------------------------------------------------------------- actions


_SPACE_CACHE_ENTRIES = 16384
"""Patterns whose masks an :class:`ActionSpace` keeps (at most about 45 MB): enough for the patterns of a 20,000-role
account, whose policies repeat them."""


class ActionSpace:
    """The catalogue's actions as bit positions (in sorted order), so action sets are Python ints.

    ``*`` and ``NotAction`` sets hold tens of thousands of actions; as bitmasks their
    unions, intersections and complements cost microseconds.
    """

    def __init__(self, names: Iterable[str], expand: Any, writes: Iterable[str] = (),
                 permissions_management: Iterable[str] = ()) -> None:
        self.names: tuple[str, ...] = tuple(sorted(names))
        self.index = {name: i for i, name in enumerate(self.names)}
        self.all = (1 << len(self.names)) - 1
        self._expand = expand
        self._cache: dict[str, int] = {}
        self.writes = self.mask(writes)
        """Actions whose access level is not only List or Read."""
        self.permissions_management = self.mask(permissions_management)

    def mask(self, names: Iterable[str]) -> int:
        index = self.index
        positions = {position for name in names if (position := index.get(name)) is not None}
        if len(positions) < 64:
            bits = 0
            for position in positions:
                bits |= 1 << position
            return bits
        # One big int built in C: OR-ing thousands of 22,000-bit ints one by one costs milliseconds.
        flags = bytearray(b"0" * len(self.names))
        for position in positions:
            flags[len(flags) - 1 - position] = ord("1")
        return int(flags, 2)

    def expand(self, pattern: str) -> int:
        key = pattern.lower()
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _SPACE_CACHE_ENTRIES:  # each mask is as large as the space (about 3 KB)
                self._cache.clear()
            found = self._cache[key] = self.all if key == "*" else self.mask(self._expand(key))
        return found

    def names_of(self, bits: int, limit: int | None = None) -> list[str]:
        """The first ``limit`` action names of ``bits``, in sorted order."""
        found: list[str] = []
        while bits and (limit is None or len(found) < limit):
            low = bits & -bits
            found.append(self.names[low.bit_length() - 1])
            bits ^= low
        return found


_SPACES: dict[int, tuple[Catalog, ActionSpace]] = {}


def action_space(catalog: Catalog) -> ActionSpace:
    """The catalogue's actions as bit positions (built once per catalogue)."""
    cached = _SPACES.get(id(catalog))
    if cached is None or cached[0] is not catalog:
        space = ActionSpace(
            catalog.all_actions(), catalog.expand,
            writes=catalog.actions_with_access(lambda level, _: level not in ("List", "Read")),
            permissions_management=catalog.actions_with_access(lambda level, _: "Permissions management" in level),
        )
        cached = _SPACES[id(catalog)] = (catalog, space)
    return cached[1]


def shown_actions(actions: int, space: ActionSpace, catalog: Catalog, limit: int, first: int = 0) -> str:
    """The first ``limit`` actions of a set in AWS spelling (those also in ``first`` ahead of the rest), and
    how many others there are."""
    count = actions.bit_count()
    names = space.names_of(actions & first, limit)
    names += space.names_of(actions & ~first, limit - len(names))
    shown = ", ".join(catalog.display_name(a) for a in names)
    others = count - len(names)
    return shown + (f" and {others} other{'s' if others > 1 else ''}" if others > 0 else "")


@lru_cache(maxsize=4)
def star_only_mask(catalog: Catalog) -> int:
    """The actions that take no resource, as a mask of the catalogue's action space (built once per catalogue)."""
    return action_space(catalog).mask(catalog.actions_with_access(lambda _, only_star: only_star))


# --------------------------------------------------------------------------- statements


@dataclass(eq=False)
class Stmt:
    """One statement in comparable form.

    ``resources`` is None for ``NotResource`` (then ``not_resources`` lists the
    exclusions); ``principals`` is None for identity policies, and a tuple of
    :func:`principal_key` strings otherwise.
    """

    allow: bool
    actions: int
    """A bitmask over the :class:`ActionSpace`."""
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...]
    principals: tuple[str, ...] | None
    conditions: tuple[Cond, ...]
    policy: Policy | None = None
    statement: Statement | None = None
    has_not_principal: bool = False
    unbound: bool = False
    """Contains a placeholder token nobody bound (skipped where it would only add noise)."""
    account_condition: Cond | None = None
    """The ``aws:PrincipalAccount`` condition a ``Principal: "*"`` was read as those accounts' root ARNs by (see
    :func:`with_own_account`)."""


Cell = tuple[bool, Any, str | None]
"""(is NotResource, pattern or exclusions, principal key or None): one block of an inner statement."""


def compile_statements(
    policy: Policy, space: ActionSpace, *, inner: bool, unbound_tokens: Iterable[str] = (),
    known_variables: Mapping[str, str] | None = None, star_only: int = 0,
    single_valued: Callable[[str], bool] | None = None,
) -> list[Stmt]:
    """Statements of ``policy`` in comparable form.

    Inner statements with an odd ``Effect`` count as Allow and outer ones as Deny, so
    that a malformed effect can only make the comparison report more. Actions the
    catalogue does not know grant nothing and are left out (the linter reports them), and so
    are the actions that take no resource (``star_only``) of a statement whose resources
    cannot grant them (``s3:*`` on a bucket grants no ``s3:PutAccountPublicAccessBlock``).
    ``ForAnyValue:StringEquals`` on a key ``single_valued`` says has one value per request is
    ``StringEquals``.
    """
    tokens = tuple(unbound_tokens)
    compiled: list[Stmt] = []
    for statement in policy.statements:
        allow = statement.effect != "Deny" if inner else statement.effect == "Allow"
        actions = 0
        if statement.actions is not None:
            for pattern in statement.actions:
                actions |= space.expand(pattern)
        elif statement.not_actions is not None:
            for pattern in statement.not_actions:
                actions |= space.expand(pattern)
            actions = space.all & ~actions
        if statement.resources is not None:
            resources: tuple[str, ...] | None = _bound(statement.resources, known_variables)
            not_resources: tuple[str, ...] = ()
        elif statement.not_resources is not None:
            resources, not_resources = None, _bound(statement.not_resources, known_variables)
        else:
            resources, not_resources = ("*",), ()
        if resources is not None and actions & star_only and not any(map(may_grant_resourceless, resources)):
            actions &= ~star_only
        principals: tuple[str, ...] | None = None
        has_not_principal = statement.not_principals is not None
        if statement.principals is not None:
            principals = tuple(principal_key(p.type, p.value) for p in statement.principals)
        elif has_not_principal:
            principals = ("AWS:*",) if inner else ()
        conditions = tuple(Cond.of(c) for c in statement.conditions)
        if single_valued is not None:
            conditions = tuple(_without_set_qualifier(c, single_valued) for c in conditions)
        account_condition = None
        if principals == ("AWS:*",):
            own = arn_account(policy.subject.arn) if policy.subject is not None and policy.subject.arn else None
            folded = _principals_by_condition(conditions, own)
            if folded is not None:
                principals, conditions, account_condition = folded
        unbound = bool(tokens) and any(
            token in text
            for token in tokens
            for text in (
                *(resources or ()),
                *not_resources,
                *(principals or ()),
                *(v for c in conditions for v in c.values),
            )
        )
        compiled.append(
            Stmt(allow, actions, resources, not_resources, principals, conditions, policy, statement,
                 has_not_principal, unbound, account_condition)
        )
    return compiled


def with_own_account(statements: list[Stmt], own_account: str | None) -> list[Stmt]:
    """The statements with ``Principal: "*"`` read back as everyone (under its ``aws:PrincipalAccount`` condition)
    where that condition names ``own_account``: a policy's own account, known only once the comparison has bound it
    (a template or a file does not say whose it is), whose principals ``*`` admits without a grant of their own."""
    if own_account is None:
        return statements
    return [replace(s, principals=("AWS:*",), conditions=(*s.conditions, s.account_condition), account_condition=None)
            if s.account_condition is not None and own_account in s.account_condition.values else s
            for s in statements]


def _without_set_qualifier(condition: Cond, single_valued: Callable[[str], bool]) -> Cond:
    """``ForAnyValue:`` with a positive operator on a single-valued key: the plain operator (both are false when
    the request lacks the key). A negated operator differs there (``StringNotEquals`` is true), and so does
    ``ForAllValues:`` (true on a missing key)."""
    if (condition.qualifier == "foranyvalue" and condition.operator not in _NEGATED_SETS | _NEGATED_PATTERNS
            and condition.operator != "Null" and single_valued(condition.key)):
        return replace(condition, qualifier="")
    return condition


def within_boundary(statements: Sequence[Stmt], boundary: Sequence[Stmt]) -> list[Stmt]:
    """What identity ``statements`` grant within a permissions ``boundary``: each Allow narrowed to the actions,
    resources and conditions of each boundary Allow it shares actions with (a superset where two resource patterns
    overlap without one holding the other), located where the policy's statement is; the Denies of both."""
    boundary_allows = [b for b in boundary if b.allow]
    within = [s for s in statements if not s.allow] + [b for b in boundary if not b.allow]
    for statement in statements:
        if not statement.allow:
            continue
        for limit in boundary_allows:
            actions = statement.actions & limit.actions
            resources = _resources_within(statement, limit) if actions else None
            if resources is None:
                continue
            within.append(replace(statement, actions=actions, resources=resources[0], not_resources=resources[1],
                                  conditions=(*statement.conditions, *limit.conditions)))
    return within


def _resources_within(statement: Stmt, limit: Stmt) -> tuple[tuple[str, ...] | None, tuple[str, ...]] | None:
    """(resources, not_resources) of what both statements name, a superset of it; None when they share none."""
    if statement.resources is None and limit.resources is None:
        return None, (*statement.not_resources, *limit.not_resources)
    if statement.resources is None or limit.resources is None:
        listed, excluded = (limit.resources, statement.not_resources) if statement.resources is None else \
            (statement.resources, limit.not_resources)
        assert listed is not None
        if any(is_universal(r) for r in listed):  # "*" less the exclusions: NotResource
            return None, excluded
        kept = tuple(r for r in listed if not any(glob_contains(x, r) for x in excluded))
        return (kept, ()) if kept else None
    shared: list[str] = []
    for mine in statement.resources:
        for theirs in limit.resources:
            narrower = mine if glob_contains(theirs, mine) else theirs if glob_contains(mine, theirs) else \
                mine if arn_intersects(mine, theirs) else None
            if narrower is not None and narrower not in shared:
                shared.append(narrower)
    return (tuple(shared), ()) if shared else None


def _principals_by_condition(conditions: tuple[Cond, ...], own_account: str | None
                             ) -> tuple[tuple[str, ...], tuple[Cond, ...], Cond] | None:
    """``Principal: "*"`` limited by conditions that name principals admits those principals, as naming them in
    ``Principal`` does: ``StringEquals aws:PrincipalAccount`` other accounts (as their root ARNs; not the policy's
    own, whose principals ``*`` admits without a grant of their own, as a root ARN does not), and ``ArnEquals``
    (``ArnLike``, ``StringEquals``, ``StringLike``) ``aws:PrincipalArn`` the principals it names (the form AWS
    recommends, which survives a role being recreated). All must hold, so with several it admits what they all name
    (none when they share no principal), whichever their order: (those principals, the conditions they do not
    imply, the first condition read as principals); None when there is no such condition."""
    named = [(condition, keys) for condition in conditions
             if (keys := _named_principals(condition, own_account)) is not None]
    if not named:
        return None
    admitted = named[0][1]
    for _, keys in named[1:]:  # each must hold: the principals all of them name (none: the statement admits nobody)
        admitted = tuple(dict.fromkeys(met for mine in admitted for theirs in keys
                                       if (met := _principal_meet(mine, theirs)) is not None))
    implied = {id(condition) for condition, keys in named
               if all(any(principal_contains(k, a) for k in keys) for a in admitted)}
    return tuple(sorted(admitted)), tuple(c for c in conditions if id(c) not in implied), named[0][0]


def _principal_meet(first: str, second: str) -> str | None:
    """The principals both keys admit, as one key: the narrower, or an account's root and an ARN pattern of any
    account (``arn:aws:iam::*:role/vendor``) as that pattern in the account; None when they share none (or it
    cannot be written as one key)."""
    if principal_contains(first, second):
        return second
    if principal_contains(second, first):
        return first
    for root, pattern in ((first, second), (second, first)):
        match = _ROOT.match(root)
        parts = pattern[len("AWS:"):].split(":", 5) if pattern.startswith("AWS:arn:") else []
        if match is not None and len(parts) == 6 and glob_match(parts[1], match[1]) and glob_match(parts[4], match[2]):
            return f"AWS:arn:{match[1]}:{parts[2]}::{match[2]}:{parts[5]}"
    return None


def _named_principals(condition: Cond, own_account: str | None) -> tuple[str, ...] | None:
    if condition.qualifier or condition.if_exists or not condition.values:
        return None
    if (condition.key == "aws:principalaccount" and condition.operator == "StringEquals"
            and all(ACCOUNT.fullmatch(value) and value != own_account for value in condition.values)):
        return tuple(principal_key("AWS", value) for value in sorted(condition.values))
    if (condition.key == "aws:principalarn" and condition.operator in _PRINCIPAL_ARN_OPERATORS
            and all(_PRINCIPAL_ARN.match(value) for value in condition.values)):
        return tuple(principal_key("AWS", value) for value in sorted(condition.values))
    return None


_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::[\d*?]+:\S+\Z")
"""A principal's ARN or pattern, of one account or (``arn:aws:iam::*:role/vendor``) of any."""
_PRINCIPAL_ARN_OPERATORS = frozenset({"StringEquals", "StringLike", "ArnLike"})


def covers_cell(outer: Stmt, cell: Cell) -> bool:
    """Whether ``outer``'s resources and principals include the cell's (conditions aside)."""
    is_not, resource, principal = cell
    if principal is None:
        if outer.principals is not None:
            return False
    elif outer.principals is None or not any(principal_contains(o, principal) for o in outer.principals):
        return False
    return covers_resource(outer, is_not, resource)


def covers_resource(outer: Stmt, is_not: bool, resource: Any) -> bool:
    if is_not:
        if outer.resources is not None:
            return any(is_universal(p) for p in outer.resources)
        return all(any(glob_contains(mine, theirs) for mine in resource) for theirs in outer.not_resources)
    if outer.resources is not None:
        return any(glob_contains(p, resource) for p in outer.resources)
    return not any(glob_intersects(x, resource) for x in outer.not_resources)


def covers_principal_only(outer: Stmt, cell: Cell) -> bool:
    principal = cell[2]
    if principal is None:
        return outer.principals is None
    return outer.principals is not None and any(principal_contains(o, principal) for o in outer.principals)


def may_overlap(deny: Stmt, cell: Cell) -> bool:
    """False only when the deny provably applies to no resource or principal of the cell."""
    is_not, resource, principal = cell
    if (principal is not None and deny.principals is not None and not deny.has_not_principal
            and not any(principal_contains(d, principal) or principal_contains(principal, d)
                        for d in deny.principals)):
        return False  # a Deny of another account's principals
    if is_not:
        return True
    if deny.resources is not None:
        return any(arn_intersects(p, resource) for p in deny.resources)
    return not any(glob_contains(x, resource) for x in deny.not_resources)


def deny_covers(inner_deny: Stmt, outer_deny: Stmt) -> bool:
    """Whether ``inner_deny`` denies (at least) every request ``outer_deny`` denies, for a shared action."""
    if not all_implied(outer_deny.conditions, inner_deny.conditions):
        return False
    if inner_deny.has_not_principal:
        return False
    if inner_deny.principals is not None and "AWS:*" not in inner_deny.principals:
        if outer_deny.principals is None or outer_deny.has_not_principal:
            return False
        if not all(any(principal_contains(i, o) for i in inner_deny.principals) for o in outer_deny.principals):
            return False
    if outer_deny.resources is not None:
        return all(covers_resource(inner_deny, False, r) for r in outer_deny.resources)
    return covers_resource(inner_deny, True, outer_deny.not_resources)


def cells_of(statement: Stmt) -> list[Cell]:
    principals: Sequence[str | None] = statement.principals if statement.principals is not None else (None,)
    if statement.resources is None:
        return [(True, statement.not_resources, p) for p in principals]
    return [(False, r, p) for r in statement.resources for p in principals]


@dataclass
class Gap:
    """Requests of one inner statement, for a group of actions, that the outer set may not allow.

    ``kind``: ``action`` (no outer Allow names the action), ``resource``, ``principal``,
    ``condition`` (resources and principals are covered, but only by statements whose
    conditions the inner statement does not carry), ``deny`` (an outer Deny the inner
    set does not repeat).
    """

    kind: str
    statement: Stmt
    actions: int
    certain: bool = True
    cells: list[Cell] = field(default_factory=list)
    outer_resources: set[str] = field(default_factory=set)
    outer_statements: list[Stmt] = field(default_factory=list)
    """For ``resource``: the outer Allows that name the actions (on other resources)."""
    missing_conditions: list[Cond] = field(default_factory=list)
    deny: Stmt | None = None
    denied_wholly: bool = True
    """For ``deny``: an outer Deny refuses the actions on every cell, whatever the conditions of the request."""


def _cells_left(cell: Cell, inner_denies: Sequence[Stmt]) -> list[Cell]:
    """What of the cell no unconditional inner Deny refuses: nothing when a Deny covers it, and only the
    resources a Deny's ``NotResource`` spares when the Deny refuses everything else."""
    left = [cell]
    for deny in inner_denies:
        if deny.conditions or deny.has_not_principal:
            continue
        principal = cell[2]
        if (deny.principals is not None and principal is not None
                and not any(principal_contains(d, principal) for d in deny.principals)):
            continue
        left = [spared for part in left if not covers_resource(deny, part[0], part[1])
                for spared in _spared_by(deny, part)]
    return left


def _spared_by(deny: Stmt, cell: Cell) -> list[Cell]:
    """The cell narrowed to the resources a ``NotResource`` Deny leaves alone (a superset: sound for drift).

    An Allow on ``*`` with a Deny on everything but ``bucket/*`` allows ``bucket/*``. When an exclusion
    only partly overlaps the cell's pattern, the intersection has no pattern of its own: the cell stays whole.
    """
    is_not, resource, principal = cell
    if deny.resources is not None:
        return [cell]
    if is_not:
        return [(False, spared, principal) for spared in deny.not_resources]
    if any(glob_contains(spared, resource) for spared in deny.not_resources):
        return [cell]
    narrowed = [spared for spared in deny.not_resources if glob_intersects(spared, resource)]
    if not all(glob_contains(resource, spared) for spared in narrowed):
        return [cell]
    return [(False, spared, principal) for spared in narrowed]


_POSITIVE = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
             "NumericNotEquals": "NumericEquals", "DateNotEquals": "DateEquals", "NotIpAddress": "IpAddress",
             "StringNotLike": "StringLike", "ArnNotLike": "ArnLike"}


def _refused_unless(condition: Cond) -> Cond | None:
    """What a request must meet not to be refused by a Deny whose one condition is ``condition``: for a negated
    operator (``StringNotEquals sts:ExternalId X``, true when the key is missing, ``...IfExists`` too), the positive
    one without ``IfExists``; None for the others, whose complement no operator writes."""
    positive = _POSITIVE.get(condition.operator)
    if positive is None or condition.qualifier:
        return None
    return replace(condition, operator=positive, if_exists=False, written_operator=positive)


def _required_by_denies(cell: Cell, denies: Sequence[Stmt], covers: Callable[[Stmt, Cell], bool]
                        ) -> tuple[Cond, ...]:
    """The conditions every request of the cell that ``denies`` (of the same actions) leave allowed meets: a Deny
    on the whole cell with one negated condition (``Deny sts:AssumeRole`` unless ``StringEquals sts:ExternalId``),
    the guard-rail way of writing the condition an Allow would carry."""
    return tuple(required for deny in denies
                 if len(deny.conditions) == 1 and not deny.has_not_principal and covers(deny, cell)
                 for required in [_refused_unless(deny.conditions[0])] if required is not None)


def _covers_cell_or_types(outer: Stmt, cell: Cell, covers_types: Callable[[Sequence[str]], bool] | None) -> bool:
    """``covers_cell``; and, for a cell of ``*``, an ``outer`` whose resources name every resource the group's
    actions can be asked for on (``arn:*:iam::*:role/*`` for iam:PassRole), which ``*`` grants no more than."""
    if covers_cell(outer, cell):
        return True
    is_not, resource, _ = cell
    return (covers_types is not None and not is_not and is_universal(resource) and outer.resources is not None
            and covers_principal_only(outer, cell) and covers_types(outer.resources))


def _never_refuses(deny: Stmt, conditions: Sequence[Cond]) -> bool:
    """Whether requests meeting ``conditions`` never meet ``deny``'s (one of which they contradict): ``Deny`` unless
    ``StringEquals sts:ExternalId X`` refuses nothing of an Allow that requires that ExternalId, nor does ``Deny``
    if ``StringEquals(IfExists) sts:ExternalId Y``."""
    return any(((required := _refused_unless(refusing)) is not None and all_implied(conditions, (required,)))
               or _other_values_required(refusing, conditions) for refusing in deny.conditions)


def _other_values_required(refusing: Cond, conditions: Sequence[Cond]) -> bool:
    """``StringEquals`` (``IfExists`` or not) on a key ``conditions`` require other values of."""
    return (refusing.operator == "StringEquals" and not refusing.qualifier
            and any(c.key == refusing.key and c.operator == "StringEquals" and not c.qualifier and not c.if_exists
                    and c.values and not c.values & refusing.values for c in conditions))


def _witness_certain(statement: Stmt, cells: Sequence[Cell], inner_denies: Sequence[Stmt]) -> bool:
    """Whether the inner set surely allows some request of the statement (for a reported added action)."""
    if not satisfiable(statement.conditions) or not cells:
        return False
    for cell in cells:
        if cell[0] and any(glob_contains(x, "arn:*") for x in cell[1]):
            continue
        if not any(may_overlap(deny, cell) for deny in inner_denies):
            return True
    return False


def _check_group(
    statement: Stmt,
    outer_allows: Sequence[Stmt],
    outer_denies: Sequence[Stmt],
    inner_denies: Sequence[Stmt],
    implied: dict[tuple[int, tuple[Cond, ...]], bool],
    applies_to: Callable[[str], bool] | None = None,
    covers_types: Callable[[Sequence[str]], bool] | None = None,
) -> list[Gap]:
    cells = [left for c in cells_of(statement) for left in _cells_left(c, inner_denies)
             if applies_to is None or left[0] or applies_to(left[1])]
    if not cells:
        return []
    if not outer_allows:
        return [Gap("action", statement, 0, _witness_certain(statement, cells, inner_denies), cells)]
    gaps: dict[str, Gap] = {}

    def gap(kind: str) -> Gap:
        if kind not in gaps:
            gaps[kind] = Gap(kind, statement, 0)
        return gaps[kind]

    def conditions_carried(outer: Stmt, required: tuple[Cond, ...]) -> bool:
        known = implied.get((id(outer), required))
        if known is None:
            known = implied[(id(outer), required)] = all_implied((*statement.conditions, *required), outer.conditions)
        return known

    def covers(outer: Stmt, cell: Cell) -> bool:
        return _covers_cell_or_types(outer, cell, covers_types)

    for cell in cells:
        required = _required_by_denies(cell, inner_denies, covers)
        covering = [o for o in outer_allows if covers(o, cell)]
        if not any(conditions_carried(o, required) for o in covering):
            if covering:
                found = gap("condition")
                met = (*statement.conditions, *required)
                best = min(([w for w in o.conditions if not any(implies(s, w) for s in met)] for o in covering),
                           key=len)
                found.missing_conditions.extend(c for c in best if c not in found.missing_conditions)
            elif any(covers_principal_only(o, cell) for o in outer_allows):
                found = gap("resource")
            else:
                found = gap("principal")
            found.cells.append(cell)
            for outer in outer_allows:
                found.outer_resources.update(outer.resources or (f"NotResource {x}" for x in outer.not_resources))
                if outer not in found.outer_statements:
                    found.outer_statements.append(outer)
            continue
        for deny in outer_denies:
            if (may_overlap(deny, cell) and not _never_refuses(deny, (*statement.conditions, *required))
                    and not any(deny_covers(mine, deny) for mine in inner_denies)):
                found = gap("deny")
                found.deny = deny
                found.cells.append(cell)
                found.denied_wholly &= not deny.conditions and covers_cell(deny, cell)
                break
    return list(gaps.values())


def _applying_only(statement: Stmt, applicable: Callable[[int, str], int]) -> Stmt:
    """The statement with only the actions that can be asked for on one of its resources."""
    if statement.resources is None:
        return statement
    actions = 0
    for resource in statement.resources:
        actions |= applicable(statement.actions, resource)
    return statement if actions == statement.actions else replace(statement, actions=actions)


def _applies(applicable: Callable[[int, str], int], actions: int, resource: str) -> bool:
    """Whether some of ``actions`` can be asked for on ``resource`` (a cell's, or what a Deny's ``NotResource``
    leaves of it)."""
    return bool(applicable(actions, resource))


def _partition(actions: int, others: Sequence[int]) -> list[int]:
    """Split ``actions`` into groups named by exactly the same ``others`` (bit operations, no per-action loop)."""
    parts = [actions] if actions else []
    for other in others:
        if not other:
            continue
        split: list[int] = []
        for part in parts:
            inside = part & other
            if inside and inside != part:
                split += [inside, part & ~other]
            else:
                split.append(part)
        parts = split
    return parts


def find_gaps(inner: Sequence[Stmt], outer: Sequence[Stmt], *, skip_unbound: bool = False,
              applicable: Callable[[int, str], int] | None = None, judge_outer: bool = True,
              covers_types: Callable[[int, Sequence[str]], bool] | None = None) -> list[Gap]:
    """Every place where an inner Allow may allow a request the outer set does not allow.

    With ``skip_unbound``, statements holding an unbound placeholder only report actions
    the outer set does not allow at all (their resources cannot be compared). ``applicable``
    gives the actions of a set that can be asked for on a resource pattern: an inner statement
    allows the others nothing there (``s3:GetObject`` on a bucket ARN), so they are no gap; nor,
    with ``judge_outer``, does an outer one, which then does not cover them.

    Actions are grouped by which outer and inner statements name them, so ``*``
    (tens of thousands of actions) costs one check per group, not per action.
    """
    if applicable is not None:  # what names an action only on resources it is never asked for on grants it nothing
        if judge_outer:
            outer = [_applying_only(s, applicable) for s in outer]
        inner = [s if s.allow else _applying_only(s, applicable) for s in inner]
    outer_allows = [s for s in outer if s.allow]
    outer_denies = [s for s in outer if not s.allow]
    inner_denies = [s for s in inner if not s.allow]
    gaps: list[Gap] = []
    for statement in inner:
        if not statement.allow:
            continue
        only_missing_actions = skip_unbound and statement.unbound
        applying: dict[str, int] = {}
        if applicable is not None and statement.resources is not None:
            for resource in statement.resources:
                mask = applicable(statement.actions, resource)
                if mask != statement.actions:
                    applying[resource] = mask
        groups = _partition(statement.actions, [s.actions for s in (*outer_allows, *outer_denies, *inner_denies)]
                            + list(applying.values()))
        implied: dict[tuple[int, tuple[Cond, ...]], bool] = {}
        merged: dict[tuple[str, bool, frozenset[Cond]], Gap] = {}
        for actions in groups:
            sample = actions & -actions
            for found in _check_group(
                statement,
                [s for s in outer_allows if s.actions & sample],
                [s for s in outer_denies if s.actions & sample],
                [s for s in inner_denies if s.actions & sample],
                implied,
                None if applicable is None else partial(_applies, applicable, actions),
                None if covers_types is None else partial(covers_types, actions),
            ):
                if only_missing_actions and found.kind != "action":
                    continue
                # conditions: one gap per set of missing conditions, so that each names what its actions lack
                key = (found.kind, found.certain,
                       frozenset(found.missing_conditions) if found.kind == "condition" else frozenset())
                if key in merged:
                    target = merged[key]
                    target.actions |= actions
                    target.cells.extend(c for c in found.cells if c not in target.cells)
                    target.outer_resources |= found.outer_resources
                    target.outer_statements.extend(
                        o for o in found.outer_statements if o not in target.outer_statements
                    )
                    target.missing_conditions.extend(
                        c for c in found.missing_conditions if c not in target.missing_conditions
                    )
                else:
                    found.actions = actions
                    merged[key] = found
        gaps.extend(merged.values())
    return gaps


def without_star_only(gaps: list[Gap], star_only: int) -> list[Gap]:
    """Resource gaps less the actions that take no resource (``star_only``, such as s3:ListAllMyBuckets): IAM
    asks for those on "*" alone, so any Resource pattern that grants them at all grants them the same."""
    kept = []
    for gap in gaps:
        if gap.kind == "resource" and gap.actions & star_only:
            if not gap.actions & ~star_only:
                continue
            gap = replace(gap, actions=gap.actions & ~star_only)
        kept.append(gap)
    return kept
