"""What a set of identity policies effectively allows: per action, the grants that survive Deny.

The model follows IAM's evaluation logic for identity policies:

- every ``Allow`` statement grants the actions it names (wildcards ``*`` and ``?`` expanded
  case-insensitively against the catalogue; ``NotAction`` is the complement over the catalogue)
  on its ``Resource`` patterns (or, with ``NotResource``, on everything but those), when its
  conditions hold. Conditions of one statement are ANDed; the values of one key are ORed;
- a ``Deny`` statement applies across all policies of the principal. A Deny without conditions
  whose resources cover a grant's resources removes the action from that grant; a Deny that has
  conditions, or that covers only part of the grant's resources, is recorded on the grant but does
  not remove it (the caller may be able to avoid it); an unconditional Deny with ``NotResource`` leaves the actions
  it names only on its exceptions, and the grant of those says so (its resources are narrowed to them);
- a statement whose conditions can never hold today (``DateLessThan`` a past date on
  ``aws:CurrentTime``, ``aws:EpochTime`` or ``aws:TokenIssueTime``) grants or denies nothing.

- IAM's own actions reach the caller's account alone (``iam:PassRole`` passes roles of that account only): when
  the principal's account is known (``effective(..., account=...)``), a Deny on every role (user, policy...) of that
  account covers them as a Deny naming every account does;
- a permissions boundary (``effective(policies, boundary)``) lets through only the actions one of
  its ``Allow`` statements names, on the resources those statements name too (a grant is split where the
  boundary lets its actions on different resources), and its ``Deny`` statements deny as the principal's own do.
  Its conditions are not weighed: what remains is an upper bound.

SCPs, session policies and resource policies are out of scope: the model answers "what do these
identity policies allow", which is an upper bound of what the principal can do.

Typical use::

    model = PermissionModel(catalog)           # or permission_model(catalog): one per catalogue
    effective = model.effective(principal.identity_policies)
    if effective.is_allowed("iam:PassRole"):
        for grant in effective.grants_for("iam:PassRole"):
            grant.resources, grant.conditions, grant.denials

Compiled statements are memoised per policy object and per action-pattern tuple, so evaluating
thousands of principals that share managed policies costs little more than evaluating them once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache

from auditor.catalog import ARN_VARIABLE, Catalog, glob_regex
from auditor.model import Condition, Policy, PolicyKind, Statement

TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime", "aws:tokenissuetime"})
MAX_MERGED_ELEMENTS = 5_000_000
"""About 300 MB of memoised action unions; an account export needs about a fifth of it."""
MAX_SPELLINGS = 100_000
MAX_COMPLEMENTS = 64
"""Distinct NotAction lists whose complement (about a megabyte each) stays memoised at once."""


@dataclass(frozen=True, slots=True, eq=False)
class CompiledStatement:
    """One statement with its actions expanded to a frozenset of lower-case ``service:action`` names."""

    policy: Policy
    statement: Statement
    actions: frozenset[str]
    resources: tuple[str, ...]
    """The ``Resource`` patterns; empty when the statement uses ``NotResource``."""
    not_resources: tuple[str, ...] | None
    conditions: tuple[Condition, ...]
    never_applies: bool
    """Its conditions can never hold (a time window that has closed)."""
    is_allow: bool
    """An Allow (else a Deny); asked for by nearly every rule, so kept rather than derived."""
    any_resource: bool
    """It covers every resource (``*``, ``arn:*``, ``arn:aws:*:*:*:*``) or uses ``NotResource``."""


def _names_every_resource(resources: tuple[str, ...] | None) -> bool:
    if not resources:
        return False
    if "*" in resources:
        return True
    return any(covers_every_resource(r) for r in resources if r[-1:] == "*")


def matches_any_name(pattern: str) -> bool:
    """``*``, ``**``, ``?*``: wildcards only, one ``*`` at least, so every non-empty name matches (a ``?``
    asks for one character, which every resource name and ARN part after the partition has but the region
    and account of some)."""
    return "*" in pattern and not pattern.strip("*?")


def covers_every_resource(resource: str) -> bool:
    """``*`` (or ``**``, ``?*``), or an ARN pattern whose every part after the partition is a ``*`` (a last
    one stands for the parts it leaves out, as in ``arn:*`` or ``arn:aws:*``): it matches whatever ``*`` does."""
    if matches_any_name(resource):
        return True
    if not resource.endswith("*") or resource[:4].lower() != "arn:":
        return False
    parts = resource.split(":", 5)[2:]
    return all(part and not part.strip("*") for part in parts[:-1]) and (not parts or matches_any_name(parts[-1]))


@dataclass(frozen=True, slots=True, eq=False)
class Grant:
    """An ``Allow`` statement and the actions it still grants after unconditional Denies."""

    source: CompiledStatement
    actions: frozenset[str]
    denials: tuple[CompiledStatement, ...] = ()
    """Deny statements that overlap this grant but do not remove it (conditional or partial)."""

    @property
    def policy(self) -> Policy:
        return self.source.policy

    @property
    def statement(self) -> Statement:
        return self.source.statement

    @property
    def resources(self) -> tuple[str, ...]:
        return self.source.resources

    @property
    def not_resources(self) -> tuple[str, ...] | None:
        return self.source.not_resources

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.source.conditions

    @property
    def any_resource(self) -> bool:
        return self.source.any_resource


@dataclass(frozen=True, slots=True, eq=False)
class EffectivePermissions:
    """The surviving grants of a sequence of identity policies, with the Denies seen on the way."""

    grants: tuple[Grant, ...]
    denies: tuple[CompiledStatement, ...]
    _by_action: dict[str, tuple[Grant, ...]] = field(default_factory=dict, repr=False)

    def is_allowed(self, action: str) -> bool:
        """True when some grant still allows ``action`` (a full name, any letter case)."""
        key = action.lower()
        return any(key in grant.actions for grant in self.grants)

    def grants_for(self, action: str) -> tuple[Grant, ...]:
        """The grants that allow ``action`` on some resource, in policy and statement order."""
        key = action.lower()
        found = self._by_action.get(key)
        if found is None:
            found = tuple(grant for grant in self.grants if key in grant.actions)
            self._by_action[key] = found
        return found

    def allowed(self, among: Iterable[str] | None = None) -> frozenset[str]:
        """The allowed actions, or those of ``among`` (lower-case names) that are allowed.

        Passing ``among`` keeps the cost proportional to that set, not to the catalogue.
        """
        if among is None:
            result: set[str] = set()
            for grant in self.grants:
                result |= grant.actions
            return frozenset(result)
        wanted = among if isinstance(among, (set, frozenset)) else frozenset(among)
        found: set[str] = set()
        for grant in self.grants:
            found |= grant.actions & wanted
        return frozenset(found)

    def denials_for(self, action: str) -> tuple[CompiledStatement, ...]:
        """Deny statements naming ``action`` that did not remove every grant of it."""
        key = action.lower()
        return tuple(deny for deny in self.denies if key in deny.actions)


class PermissionModel:
    """Compiles policies against one catalogue and evaluates sets of them. Thread-unsafe, cheap."""

    def __init__(self, catalog: Catalog, now: datetime | None = None) -> None:
        self.catalog = catalog
        self.now = now or datetime.now(timezone.utc)
        self._all = frozenset(catalog.all_actions())
        self._patterns: dict[tuple[str, ...], frozenset[str]] = {}
        self._spelled: dict[tuple[str, ...], frozenset[str]] = {}
        """The same memo keyed by patterns as written (most statements repeat someone else's spelling)."""
        self._complements: dict[tuple[str, ...], frozenset[str]] = {}
        """NotAction lists -> what they grant: nearly the whole catalogue each, so their memo is bounded."""
        self._merged_elements = 0
        """Actions held by the unions of several patterns memoised so far (bounded by MAX_MERGED_ELEMENTS)."""
        self._compiled: dict[int, tuple[Policy, tuple[CompiledStatement, ...]]] = {}
        self._allows_left: dict[int, tuple[Policy, tuple[CompiledStatement, ...]]] = {}
        self._pairs: dict[tuple[int, int], tuple[CompiledStatement, CompiledStatement, bool, bool]] = {}
        self._boundaries: dict[int, tuple[Policy, _Boundary]] = {}
        self._denied_everywhere: dict[tuple[int, int, str | None],
                                      tuple[CompiledStatement, CompiledStatement, frozenset[str]]] = {}
        self._bounded_allows: dict[tuple[int, int],
                                   tuple[CompiledStatement, Policy, tuple[CompiledStatement, ...]]] = {}

    @property
    def all_actions(self) -> frozenset[str]:
        return self._all

    def forget_policies(self) -> None:
        """Drop what was compiled per policy (the action sets of patterns stay): call it when the policies
        checked so far will not be seen again, so that they and their sources can be freed."""
        self._compiled.clear()
        self._allows_left.clear()
        self._pairs.clear()
        self._boundaries.clear()
        self._bounded_allows.clear()
        self._denied_everywhere.clear()

    def expand(self, patterns: Iterable[str]) -> frozenset[str]:
        """Union of the catalogue actions matched by ``patterns``, memoised per pattern tuple."""
        if isinstance(patterns, tuple):
            found = self._spelled.get(patterns)
            if found is None:
                if len(self._spelled) >= MAX_SPELLINGS:  # a long-lived process has seen many lists
                    self._spelled.clear()
                found = self._spelled[patterns] = self._expand_normalised(patterns)
            return found
        return self._expand_normalised(patterns)

    def _expand_normalised(self, patterns: Iterable[str]) -> frozenset[str]:
        key = tuple(sorted({p.lower() for p in patterns}))
        cached = self._patterns.get(key)
        if cached is None:
            if "*" in key:
                cached = self._all
            elif len(key) == 1:
                cached = self.catalog.expand(key[0])
            else:
                merged = set(self._all.intersection(key))  # the names written out in full, in one step
                for pattern in key:
                    if "*" in pattern or "?" in pattern:
                        merged |= self.catalog.expand(pattern)
                cached = frozenset(merged)
                self._merged_elements += len(cached)
                if self._merged_elements > MAX_MERGED_ELEMENTS:  # a long-lived process has seen many lists
                    self._patterns.clear()
                    self._spelled.clear()
                    self._merged_elements = len(cached)
            self._patterns[key] = cached
        return cached

    def statement_actions(self, statement: Statement) -> frozenset[str]:
        """The actions a statement names: ``Action`` expanded, or the complement of ``NotAction``."""
        if statement.actions is not None:
            return self.expand(statement.actions)
        if statement.not_actions is not None:
            key = tuple(sorted({p.lower() for p in statement.not_actions}))
            cached = self._complements.get(key)
            if cached is None:
                excluded = self.expand(statement.not_actions)
                cached = self._all - excluded if excluded else self._all
                if len(self._complements) >= MAX_COMPLEMENTS:
                    self._complements.clear()
                self._complements[key] = cached
            return cached
        return frozenset()

    def compile(self, policy: Policy) -> tuple[CompiledStatement, ...]:
        entry = self._compiled.get(id(policy))
        if entry is not None and entry[0] is policy:
            return entry[1]
        compiled = tuple(
            CompiledStatement(
                policy=policy,
                statement=statement,
                actions=self.statement_actions(statement),
                resources=statement.resources or (),
                not_resources=statement.not_resources,
                conditions=statement.conditions,
                never_applies=never_holds(statement.conditions, self.now),
                is_allow=statement.is_allow,
                any_resource=statement.not_resources is not None or _names_every_resource(statement.resources),
            )
            for statement in policy.statements
            if statement.effect in ("Allow", "Deny")
        )
        self._compiled[id(policy)] = (policy, compiled)
        return compiled

    def allows_left(self, policy: Policy) -> tuple[CompiledStatement, ...]:
        """The Allow statements of the policy that can apply, each with the actions the policy's own unconditional
        Denies leave it (``Allow * *`` beside ``Deny * *`` is gone); only identity policies are evaluated so. Actions
        that a Deny with ``NotResource`` leaves only on its exceptions come as a part of their own, the statement on
        those resources (``s3:GetObject`` on ``*`` beside a Deny of it outside ``arn:aws:s3:::logs*``)."""
        entry = self._allows_left.get(id(policy))
        if entry is not None and entry[0] is policy:
            return entry[1]
        statements = self.compile(policy)
        allows = tuple(s for s in statements if s.is_allow and not s.never_applies)
        if policy.kind is PolicyKind.IDENTITY and any(not s.is_allow for s in statements):
            whole: dict[int, frozenset[str]] = {}  # statement -> its actions left on its own resources
            narrowed: dict[int, list[CompiledStatement]] = {}  # statement -> its parts on a Deny's exceptions
            written = {id(allow.statement): allow for allow in allows}
            for grant in self.effective([policy]).grants:
                key = id(grant.statement)
                if grant.source is written.get(key):
                    whole[key] = whole[key] | grant.actions if key in whole else grant.actions
                else:
                    narrowed.setdefault(key, []).append(replace(grant.source, actions=grant.actions))
            parts: list[CompiledStatement] = []
            for allow in allows:
                key = id(allow.statement)
                if key in whole:
                    parts.append(allow if whole[key] is allow.actions else replace(allow, actions=whole[key]))
                parts.extend(narrowed.get(key, ()))
            allows = tuple(parts)
        self._allows_left[id(policy)] = (policy, allows)
        return allows

    def effective(self, policies: Sequence[Policy], boundary: Policy | None = None,
                  account: str | None = None) -> EffectivePermissions:
        """Evaluate the identity policies of one principal (or one policy) together, within ``boundary``; ``account``
        is the principal's own, when known."""
        allows: list[CompiledStatement] = []
        denies: list[CompiledStatement] = []
        for policy in policies:
            for compiled in self.compile(policy):
                if compiled.never_applies or not compiled.actions:
                    continue
                (allows if compiled.is_allow else denies).append(compiled)
        if boundary is not None:
            limits = self._boundary(boundary)
            denies.extend(limits.denies)
            allows = [part for allow in allows if not allow.actions.isdisjoint(limits.actions)
                      for part in self._within(allow, boundary, limits)]
        grants: list[Grant] = []
        differences: dict[tuple[int, int], frozenset[str]] = {}  # repeated Allows share one result
        for allow in allows:
            actions = allow.actions
            recorded = []
            subtracted: set[int] = set()  # action sets already taken away (repeated Denies share one)
            for deny in denies:
                overlaps, removes = self._interaction(allow, deny)
                if not overlaps:
                    continue
                if removes:
                    if id(deny.actions) in subtracted:
                        continue
                    subtracted.add(id(deny.actions))
                    step = (id(actions), id(deny.actions))
                    difference = differences.get(step)
                    if difference is None:
                        difference = differences[step] = actions - deny.actions
                    actions = difference
                    if not actions:
                        break
                else:
                    covered = self._actions_denied_everywhere(allow, deny, account)
                    if covered:
                        actions = actions - covered
                        if not actions:
                            break
                    recorded.append(deny)
            if actions:
                grants.extend(Grant(source, part, tuple(recorded))
                              for source, part in _left_on_exceptions(allow, actions, recorded))
        return EffectivePermissions(tuple(grants), tuple(denies))

    def _boundary(self, boundary: Policy) -> _Boundary:
        """What the boundary lets through, memoised per boundary policy."""
        entry = self._boundaries.get(id(boundary))
        if entry is None or entry[0] is not boundary:
            actions: set[str] = set()
            anywhere: set[str] = set()
            allows = []
            denies = []
            for compiled in self.compile(boundary):
                if compiled.never_applies or not compiled.actions:
                    continue
                if not compiled.is_allow:
                    denies.append(compiled)
                    continue
                actions |= compiled.actions
                if compiled.any_resource:
                    anywhere |= compiled.actions
                else:
                    allows.append(compiled)
            entry = self._boundaries[id(boundary)] = (boundary, _Boundary(
                frozenset(actions), frozenset(anywhere), tuple(allows), tuple(denies)))
        return entry[1]

    def _within(self, allow: CompiledStatement, boundary: Policy, limits: _Boundary
                ) -> tuple[CompiledStatement, ...]:
        """The Allow in parts, each with actions the boundary lets through and the resources both name for them;
        one set of objects per pair, so that what is memoised per statement (Deny interactions) serves every
        principal with that boundary."""
        if allow.actions <= limits.anywhere:
            return (allow,)
        key = (id(allow), id(boundary))
        entry = self._bounded_allows.get(key)
        if entry is None or entry[0] is not allow or entry[1] is not boundary:
            entry = self._bounded_allows[key] = (allow, boundary, _parts_within(allow, limits))
        return entry[2]

    def _actions_denied_everywhere(self, allow: CompiledStatement, deny: CompiledStatement,
                                   account: str | None) -> frozenset[str]:
        """Actions of both that an unconditional Deny refuses on every resource they can take, though its
        patterns do not cover the Allow's (Deny iam:PassRole on arn:aws:iam::*:role/*, or on the roles of the
        caller's ``account``, against Allow on *, or Deny * with NotResource naming only another service's ARNs)."""
        if deny.conditions or not (deny.resources or deny.not_resources):
            return frozenset()
        key = (id(allow), id(deny), account)
        cached = self._denied_everywhere.get(key)
        if cached is None or cached[0] is not allow or cached[1] is not deny:
            found = frozenset(a for a in allow.actions & deny.actions
                              if self._denied_on_every_type(a, deny, account))
            cached = self._denied_everywhere[key] = (allow, deny, found)
        return cached[2]

    def _denied_on_every_type(self, action: str, deny: CompiledStatement, account: str | None) -> bool:
        """Every request for the action names a resource of each type it requires, and a Deny that matches any
        resource of a request refuses it: covering one required type is enough; with none required, all. An IAM
        action names resources of the caller's ``account`` only."""
        info = self.catalog.action(action)
        if info is None or not info.resource_types:
            return False  # asked for on "*" alone: only a Deny on "*" refuses it, and that one covers already

        def covered(name: str) -> bool:
            resource_type = self.catalog.resource_type(info.service, name)
            if resource_type is None or not resource_type.arn_format:
                return False
            formats = resource_type.arn_format.split(", ")
            if account is not None and info.service == "iam":
                formats = [text.replace("${Account}", account) for text in formats]
            if deny.not_resources is not None:  # denied everywhere but the exceptions: none may be of this type
                return not any(_may_name_arn_format(pattern, text) for pattern in deny.not_resources
                               for text in formats)
            return any(_pattern_covers_arn_format(pattern, text) for pattern in deny.resources for text in formats)

        required = [name for name, is_required in info.resource_types if is_required]
        if required:
            return any(covered(name) for name in required)
        return all(covered(name) for name, _ in info.resource_types)

    def _interaction(self, allow: CompiledStatement, deny: CompiledStatement) -> tuple[bool, bool]:
        """Whether the two name a common action, and whether the Deny removes those from the Allow.

        Memoised per pair as two booleans: keeping the overlapping action sets instead would cost a
        megabyte per pair of NotAction statements, which grows without bound over many principals.
        """
        key = (id(allow), id(deny))
        cached = self._pairs.get(key)
        if cached is None or cached[0] is not allow or cached[1] is not deny:
            overlaps = not allow.actions.isdisjoint(deny.actions)
            removes = overlaps and not deny.conditions and deny_covers(deny, allow)
            cached = (allow, deny, overlaps, removes)
            self._pairs[key] = cached
        return cached[2], cached[3]


@lru_cache(maxsize=4)
def permission_model(catalog: Catalog) -> PermissionModel:
    """The shared model of a catalogue (so memoised compilations are reused across rules)."""
    return PermissionModel(catalog)


@dataclass(frozen=True, slots=True)
class _Boundary:
    """A permissions boundary as it limits grants."""

    actions: frozenset[str]
    """What its Allow statements name."""
    anywhere: frozenset[str]
    """What they name on every resource."""
    allows: tuple[CompiledStatement, ...]
    """Its Allow statements on some resources only."""
    denies: tuple[CompiledStatement, ...]


def _parts_within(allow: CompiledStatement, limits: _Boundary) -> tuple[CompiledStatement, ...]:
    """The Allow's actions that the boundary lets through, grouped by the resources the boundary lets them on, each
    group on what both the Allow and the boundary name."""
    on_any_resource = allow.actions & limits.anywhere
    parts = [replace(allow, actions=on_any_resource)] if on_any_resource else []
    resources_of: dict[tuple[str, ...], set[str]] = {}
    for action in (allow.actions & limits.actions) - limits.anywhere:
        patterns = tuple(dict.fromkeys(p for s in limits.allows if action in s.actions for p in s.resources))
        resources_of.setdefault(patterns, set()).add(action)
    for patterns in sorted(resources_of):
        narrowed = restricted_to(allow, patterns)
        if narrowed is not None:
            parts.append(replace(narrowed, actions=frozenset(resources_of[patterns])))
    return tuple(parts)


def _left_on_exceptions(allow: CompiledStatement, actions: frozenset[str], denies: Iterable[CompiledStatement]
                        ) -> list[tuple[CompiledStatement, frozenset[str]]]:
    """The Allow's ``actions`` in parts, each with the statement whose resources it is granted on: an unconditional
    Deny with ``NotResource`` leaves the actions it names on its exceptions alone."""
    parts = [(allow, actions)]
    for deny in denies:
        if deny.not_resources is None or deny.conditions:
            continue
        split = []
        for source, part in parts:
            denied = part & deny.actions
            if denied:
                narrowed = restricted_to(source, deny.not_resources)
                if narrowed is not None:
                    split.append((narrowed, denied))
            if part - denied:
                split.append((source, part - denied if denied else part))
        parts = split
    return parts


def restricted_to(statement: CompiledStatement, limits: tuple[str, ...]) -> CompiledStatement | None:
    """The statement on only the resources one of the ``limits`` patterns names too (an upper bound of them, as
    patterns), or None when none can be both."""
    if statement.any_resource:
        excluded = statement.not_resources or ()
        resources = tuple(dict.fromkeys(limit for limit in limits
                                        if not any(pattern_covers(exception, limit) for exception in excluded)))
    else:
        resources = _meet(statement.resources, limits)
    if not resources:
        return None
    return replace(statement, resources=resources, not_resources=None, any_resource=_names_every_resource(resources))


@lru_cache(maxsize=4096)
def _meet(resources: tuple[str, ...], limits: tuple[str, ...]) -> tuple[str, ...]:
    """Patterns naming (at least) what both a resource of ``resources`` and a pattern of ``limits`` name: where one
    covers the other, the narrower one; where they may still meet, the resource's own."""
    found: list[str] = []
    for resource in resources:
        for limit in limits:
            if pattern_covers(limit, resource) or covers_every_resource(limit):
                found.append(resource)
                break
            if pattern_covers(resource, limit):
                found.append(limit)
            elif _may_meet(resource, limit):
                found.append(resource)
                break
    return tuple(dict.fromkeys(found))


def _may_meet(first: str, second: str) -> bool:
    """Whether two patterns may name a common resource: unless their literal heads (up to a wildcard, a policy
    variable or a template value) differ, in any letter case, before one ends."""
    heads = [re.split(r"[*?$]|\{\{", pattern, maxsplit=1)[0].lower() for pattern in (first, second)]
    return heads[0].startswith(heads[1]) or heads[1].startswith(heads[0])


def deny_covers(deny: CompiledStatement, allow: CompiledStatement) -> bool:
    """True when the Deny's resources include every resource the Allow grants on."""
    if deny.not_resources is None:
        if _names_every_resource(deny.resources):
            return True
        if allow.not_resources is not None or not allow.resources:
            return False
        return all(any(pattern_covers(d, a) for d in deny.resources) for a in allow.resources)
    # Deny on everything except some resources: covers the Allow only when no allowed resource
    # can fall among the exceptions.
    if allow.any_resource:
        return False
    return not any(_may_meet(exception, a) for exception in deny.not_resources for a in allow.resources)


@lru_cache(maxsize=65536)
def _cover_regex(pattern: str) -> re.Pattern[str]:
    # A wildcard in the covering pattern may stand for a wildcard of the covered one (`*` for
    # anything, `?` for one character that is not itself a `*`).
    parts = (".*" if ch == "*" else "[^*]" if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def pattern_covers(outer: str, inner: str) -> bool:
    """True when every string matched by the IAM pattern ``inner`` is matched by ``outer``.

    ARNs compare case-sensitively, as IAM does for most resource names.
    """
    if outer == "*" or outer == inner:
        return True
    # What inner matches starts with its literal head, then anything: outer's literal head must lead that one.
    if not _literal_head(inner).startswith(_literal_head(outer)):
        return False
    return _cover_regex(outer).match(inner) is not None


def _pattern_covers_arn_format(pattern: str, arn_format: str) -> bool:
    """Whether an ARN pattern matches every ARN of a resource type's format (``${...}`` variables are anything;
    the partition is the policy's own, whatever the pattern names)."""
    if pattern == "*":
        return True
    parts = pattern.split(":", 2)
    wanted = ARN_VARIABLE.sub("*", arn_format).split(":", 2)
    if len(parts) < 3 or len(wanted) < 3 or parts[0] != "arn" or wanted[0] != "arn":
        return False
    return pattern_covers(parts[2], wanted[2])


def _may_name_arn_format(pattern: str, arn_format: str) -> bool:
    """Whether a pattern may match some ARN of the format; only a service part that differs says no."""
    service = pattern.split(":")[2] if pattern.count(":") >= 2 else "*"
    wanted = arn_format.split(":")[2] if arn_format.count(":") >= 2 else "*"
    return "*" in service or "?" in service or "$" in wanted or service.lower() == wanted.lower()


def _literal_head(pattern: str) -> str:
    """The pattern up to its first wildcard."""
    return pattern.partition("*")[0].partition("?")[0]


def glob_matches(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """IAM's ``*``/``?`` matching of one pattern against one string."""
    return glob_regex(pattern, ignore_case).match(text) is not None


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def never_holds(conditions: Sequence[Condition], now: datetime) -> bool:
    """True when one condition of the statement (they are ANDed) can never be true from ``now`` on.

    Only time windows that have closed are recognised: ``DateLessThan``/``DateLessThanEquals``
    with every value in the past, on the current time or the issue time of fresh credentials.
    """
    for condition in conditions:
        if condition.key.lower() not in TIME_KEYS or condition.set_qualifier or condition.if_exists:
            continue
        if condition.base_operator not in ("DateLessThan", "DateLessThanEquals"):
            continue
        times = [_parse_time(v) for v in condition.values]
        if times and all(t is not None and t < now for t in times):
            return True
    return False
