"""Semantic drift: what a target (one policy, or a whole principal) allows beyond its documented baseline.

The comparison is over requests, not text: actions are expanded against the IAM
catalogue (``NotAction`` is the complement over it), resources are compared as
wildcard patterns (containment, not equality), conditions by implication, and Deny
statements on both sides are taken into account (see :mod:`auditor.drift_logic`).
When the engine cannot prove that the target is within the baseline it reports
drift, so "no new access" is never said wrongly. The converse comparison finds what
the baseline grants and the target lacks (the integration may break).

Placeholders of the baseline (``${AccountId}``, ``<get_from_upsolver>``) are bound
from ``--var NAME=VALUE`` or inferred from the target: each takes the one value that
makes the target's strings match the baseline's, across the whole principal.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from auditor.drift_logic import (
    ActionSpace,
    Cell,
    Cond,
    Gap,
    Stmt,
    action_space,
    all_implied,
    arn_contains,
    compile_statements,
    find_gaps,
    has_wildcard,
    implies,
    may_grant_resourceless,
    shown_actions,
    star_only_mask,
    with_own_account,
    within_boundary,
    without_star_only,
)
from auditor.knowledge import load_privileged_managed_policies
from auditor.model import (
    Finding,
    Location,
    Policy,
    PolicyKind,
    Principal,
    Severity,
    StatementRef,
    arn_account,
    is_template_value,
)
from auditor.report import Verdict
from auditor.source import Source

if TYPE_CHECKING:
    from auditor.baselines import Baseline, BaselinePolicy, Placeholder
    from auditor.catalog import Catalog
    from auditor.engine import Selection
    from auditor.registry import RuleSet

__all__ = [
    "DriftError",
    "DriftResult",
    "DriftRun",
    "compare_policy",
    "compare_principal",
    "drift_for_principals",
    "matching_baselines",
    "parse_vars",
    "select_baselines",
]

_LISTED = 100
_KMS_KEY_ARN = re.compile(r"arn:[^:]+:kms:[^:]*:[^:]*:key/", re.IGNORECASE)
_KMS_ALIAS_ARN = re.compile(r"arn:[^:]+:kms:[^:]*:[^:]*:alias/", re.IGNORECASE)
_CANDIDATES = 3
_SHOWN = 5


class DriftError(ValueError):
    """A comparison that cannot be made (a usage error: exit code 2)."""


@dataclass(frozen=True)
class DriftResult:
    """One target compared with one baseline."""

    baseline: str
    target: str
    findings: tuple[Finding, ...]
    verdict: str
    bindings: Mapping[str, str] = field(default_factory=dict)
    inferred: tuple[str, ...] = ()
    new_access: bool = False


@dataclass
class DriftRun:
    """Drift over the principals of an account: findings, one verdict per comparison, who was compared."""

    findings: list[Finding] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    compared: set[str] = field(default_factory=set)


def parse_vars(items: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings into a mapping; :class:`DriftError` for anything else."""
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise DriftError(f"--var {item!r}: expected NAME=VALUE")
        if not value.strip():
            raise DriftError(f"--var {item!r}: the value is empty; give the value the placeholder {name.strip()} "
                             "takes in your account (or leave --var out to infer it)")
        values[name.strip()] = value
    return values


# --------------------------------------------------------------------------- baselines in use


def select_baselines(refs: Sequence[str] = (), extra_paths: Sequence[str] = ()) -> list[Baseline]:
    """The baselines ``check`` compares with.

    Directories among ``refs`` (``baseline-paths``) and ``extra_paths`` add their baselines to the bundled ones (a
    baseline there with a bundled id and revision replaces it). No ids among ``refs``: the default revision of each.
    Ids (``vendor/name`` or ``vendor/name@rev``, bundled or of those directories) restrict to those; files add
    the baseline each holds (to the ids, or to every default one).
    """
    from pathlib import Path

    from auditor.baselines import BaselineError, UnknownBaselineError, load_bundled_baselines, resolve_baseline

    ids = [r for r in refs if not Path(r).exists()]
    files = [r for r in refs if Path(r).is_file()]
    folders = [r for r in refs if Path(r).is_dir()] + list(extra_paths)
    try:
        known = load_bundled_baselines(folders)
        chosen = [known.get(ref) for ref in ids] if ids else [known.get(i) for i in known.ids()]
        chosen += [resolve_baseline(path) for path in files]
    except (UnknownBaselineError, BaselineError) as exc:
        raise DriftError(str(exc)) from None
    unique: dict[str, Baseline] = {}
    for baseline in chosen:
        unique.setdefault(baseline.ref, baseline)
    return list(unique.values())


def check_baseline_refs(refs: Sequence[str], mappings: Iterable[Any] = ()) -> None:
    """:class:`DriftError` for an unknown baseline id, revision or file among ``refs`` and the mappings: raised
    before anything is checked, whether or not the input has principals to compare."""
    chosen = select_baselines(refs)
    for mapping in mappings:
        _find_baseline(_mapping_pair(mapping)[1], chosen)


def matching_baselines(
    principal: Principal, baselines: Sequence[Baseline], mappings: Iterable[Any] = ()
) -> list[Baseline]:
    """Baselines for one principal: explicit mappings first (on its name or an alias), else the baselines' name
    patterns (on its name; any case)."""
    return _named_baselines(principal.names, principal.kind, baselines, mappings,
                            mapped_kind=None, patterns_on=(principal.name,))


def resource_names(policy: Policy) -> tuple[str, ...]:
    """The names a resource policy's resource goes by: its own (a logical id, an address, a name) and aliases."""
    return (policy.subject.name, *policy.subject.aliases) if policy.subject is not None else ()


def matching_resource_baselines(
    policy: Policy, baselines: Sequence[Baseline], mappings: Iterable[Any] = ()
) -> list[Baseline]:
    """Resource baselines for one resource policy: explicit mappings first, else name patterns (any case), each
    tried on the resource's name and its aliases."""
    return _named_baselines(resource_names(policy), "resource", baselines, mappings, mapped_kind="resource")


def _named_baselines(names: Sequence[str], kind: str, baselines: Sequence[Baseline], mappings: Iterable[Any],
                     mapped_kind: str | None, patterns_on: Sequence[str] | None = None) -> list[Baseline]:
    """The baselines a configured mapping gives one of ``names`` (those for ``mapped_kind`` only, when given),
    else the baselines for ``kind`` whose name patterns match one of ``patterns_on`` (default: ``names``); any
    letter case."""
    mapped: list[Baseline] = []
    for _, found in _mappings_of(names, baselines, mappings):
        if (mapped_kind is None or found.principal.kind == mapped_kind) and found not in mapped:
            mapped.append(found)
    if mapped:
        return mapped
    return [b for b in baselines if b.principal.kind == kind
            and any(b.principal.matches(n) for n in (names if patterns_on is None else patterns_on))]


def _mappings_of(names: Sequence[str], baselines: Sequence[Baseline], mappings: Iterable[Any]
                 ) -> Iterator[tuple[Any, Baseline]]:
    """(mapping, the baseline it gives) of each configured mapping whose pattern matches one of ``names``, in
    order; any letter case."""
    lowered = [name.lower() for name in names]
    for mapping in mappings:
        pattern, ref = _mapping_pair(mapping)
        if any(fnmatchcase(name, pattern.lower()) for name in lowered):
            yield mapping, _find_baseline(ref, baselines)


def mapped_vars(names: Sequence[str], baseline: Baseline, baselines: Sequence[Baseline],
                mappings: Iterable[Any]) -> dict[str, str]:
    """The ``vars`` of the configured mappings that give one of ``names`` this baseline (the first mapping wins a
    name): they bind its placeholders for those principals, over ``[vars]`` and inference."""
    values: dict[str, str] = {}
    for mapping, found in _mappings_of(names, baselines, (m for m in mappings if getattr(m, "vars", None))):
        if found.ref == baseline.ref:
            for name, value in mapping.vars.items():
                values.setdefault(name, value)
    return values


def _chosen_resource_policies(baseline: Baseline, policies: Sequence[Policy], name: str | None) -> list[Policy]:
    """The resource policies of a target that a resource baseline is compared with: the one named ``name`` (by its
    name or an alias), else those its name patterns match, else the only one; [] when the target has none."""
    resources = [p for p in policies if p.kind is PolicyKind.RESOURCE and p.subject is not None]
    if not resources:
        return []
    known = sorted({n for p in resources for n in resource_names(p)})
    if name is not None:
        chosen = [p for p in resources if name.lower() in (n.lower() for n in resource_names(p))]
        if not chosen:
            raise DriftError(f"no resource of TARGET is named {name!r} (it has: {', '.join(known)})")
        return chosen
    chosen = [p for p in resources if matching_resource_baselines(p, [baseline])]
    if chosen or len(resources) == 1:
        return chosen or resources
    patterns = ", ".join(baseline.principal.name_patterns) or "none"
    raise DriftError(f"no resource of TARGET matches {baseline.ref} (name patterns: {patterns}); choose one with "
                     f"--principal NAME (it has: {', '.join(known)})")


def _bundled_revisions(baseline: Baseline) -> list[Baseline]:
    """Every bundled revision of the baseline's id, itself included; none for a baseline that is not bundled."""
    from auditor.baselines import load_bundled_baselines

    bundled = load_bundled_baselines()
    if baseline.ref not in bundled:
        return []
    return [bundled.get(f"{baseline.id}@{revision}") for revision in bundled.revisions(baseline.id)]


def _revision_hint(baseline: Baseline, principal: Principal, catalog: Catalog, variables: Mapping[str, str]) -> str:
    """For a principal with new access: the other bundled revisions of the baseline it matches (the vendor's
    document as it was, or as it is now), in words for the verdict; "" when there is none."""
    matching = [other.ref for other in _bundled_revisions(baseline) if other.ref != baseline.ref
                and not compare_principal(other, principal, catalog, variables).new_access]
    return f"; it matches {', '.join(matching)} (another revision of the vendor's document)" if matching else ""


def _trust_not_compared(baseline: Baseline) -> str | None:
    """That a role's trust policy goes uncompared, when the baseline revision documents none and another bundled
    revision does (where no revision does, the vendor documents none: there is nothing to compare with)."""
    documented = [other.ref for other in _bundled_revisions(baseline) if other.trust_policies]
    if not documented:
        return None
    return (f"trust policy not compared: this revision documents none ({', '.join(documented)} does: "
            f"--baseline {documented[0]})")


def _condition_change(missing: Sequence[Cond], present: Sequence[Cond], ref: str) -> str:
    """How the target's conditions fall short of the baseline's ``missing`` ones: dropped, or weakened (the
    target has a condition on the same key that admits more: another value, a wildcard, IfExists...)."""
    dropped = [f"{c.written_operator} {c.written_key}" for c in missing if not any(p.key == c.key for p in present)]
    parts = [f"without {', '.join(dropped)}, which {ref} requires"] if dropped else []
    for condition in missing:
        same_key = [p for p in present if p.key == condition.key]
        if same_key:
            have = " and ".join(f"{p.written_operator} {_values_text(p)}" for p in same_key)
            want = f"{condition.written_operator} {_values_text(condition)}"
            if all(implies(condition, p) for p in same_key):  # admits all the baseline's does, and more
                parts.append(f"under a weaker {condition.written_key} condition ({have}) than {ref}'s {want}")
            else:
                parts.append(f"under another {condition.written_key} condition ({have}) than {ref}'s {want}, which "
                             "admits requests the documented one does not")
    return "; ".join(parts)


def _values_text(condition: Cond) -> str:
    values = sorted(condition.values)
    shown = ", ".join(json.dumps(v) for v in values[:_SHOWN])
    return f"[{shown}{', ...' if len(values) > _SHOWN else ''}]"


def unmatched_baselines(refs: Sequence[str], mappings: Iterable[Any], verdicts: Sequence[Verdict],
                        has_principals: bool, has_resources: bool) -> list[str]:
    """What ``check`` was asked to compare but compared with nothing, in words for "not checked": each baseline
    chosen with ``--baseline`` (an id or a file), and, when the input has principals or resource policies, each
    configured mapping."""
    from pathlib import Path

    from auditor.baselines import resolve_baseline

    compared = {verdict.baseline for verdict in verdicts}
    folders = [ref for ref in refs if Path(ref).is_dir()]  # of extra baselines (baseline-paths), chosen by none
    notes = []
    for ref in refs:
        if ref in folders:
            continue
        for baseline in [resolve_baseline(ref)] if Path(ref).is_file() else select_baselines([ref, *folders]):
            if baseline.ref in compared:
                continue
            patterns = ", ".join(baseline.principal.name_patterns) or "none"
            on_resources = baseline.principal.kind == "resource"
            what = "resource policy" if on_resources else "user, group or role"
            if has_resources if on_resources else has_principals:
                notes.append(f"baseline {baseline.ref}: no {what} of the input matches it (name patterns: "
                             f"{patterns}); map {'resources' if on_resources else 'principals'} to it with "
                             "[[baselines]] in the configuration")
            else:
                notes.append(f"baseline {baseline.ref}: the input has no {what} to compare with it; for a policy "
                             f"file, run `iam-audit drift {ref} FILE`")
    if has_principals or has_resources:
        names = [name.lower() for verdict in verdicts for name in (verdict.principal, *verdict.aliases)]
        for mapping in mappings:
            pattern, ref = _mapping_pair(mapping)
            if not any(fnmatchcase(name, pattern.lower()) for name in names):
                origin = getattr(mapping, "origin", "configuration")
                notes.append(f"{origin}: the baseline mapping {pattern!r} -> {ref} matches no user, group, role or "
                             "resource policy of the input")
    return notes


def _mapping_pair(mapping: Any) -> tuple[str, str]:
    if isinstance(mapping, (tuple, list)) and len(mapping) == 2:
        return str(mapping[0]), str(mapping[1])
    pattern = getattr(mapping, "principal", None) or getattr(mapping, "pattern", None)
    ref = getattr(mapping, "baseline", None)
    if not isinstance(pattern, str) or not isinstance(ref, str):
        raise DriftError(f"a baseline mapping needs a principal pattern and a baseline: {mapping!r}")
    return pattern, ref


def _find_baseline(ref: str, baselines: Sequence[Baseline]) -> Baseline:
    for baseline in baselines:
        if ref in (baseline.ref, baseline.id) and (ref == baseline.ref or baseline.default):
            return baseline
    from auditor.baselines import BaselineError, UnknownBaselineError, resolve_baseline

    try:
        return resolve_baseline(ref)
    except (UnknownBaselineError, BaselineError) as exc:
        raise DriftError(str(exc)) from None


# --------------------------------------------------------------------------- placeholders


@dataclass
class Bindings:
    values: dict[str, str]
    """Given values and, for inferred placeholders, the most frequent candidate."""
    inferred: list[str]
    candidates: dict[str, list[str]]
    """Inferred placeholders with more than one candidate value, most frequent first."""


def _tokens(baseline: Baseline, scope: str) -> dict[str, str]:
    return {p.token: p.name for p in baseline.placeholders if p.stands_in(scope)}


def _scope(kind: str) -> str:
    """The placeholder scope (see ``Placeholder.scope``) of a comparison's kind."""
    return "trust" if kind == "trust" else "policies"


def _slot_strings(statements: Iterable[Stmt]) -> Iterable[tuple[tuple[str, str], str]]:
    """Where each string of the statements stands: what a placeholder in a baseline's string is bound from is the
    target's string in the same place (a resource from a resource, not from an exclusion of ``NotResource``; a
    condition value from a value compared with the same key, not from the ``true``/``false`` of ``Null``)."""
    for statement in statements:
        for resource in statement.resources or ():
            yield ("resource", ""), resource
        for resource in statement.not_resources:
            yield ("not-resource", ""), resource
        for principal in statement.principals or ():
            kind, _, value = principal.partition(":")
            yield ("principal", kind), value
        for condition in statement.conditions:
            if condition.operator in ("Null", "Bool"):
                continue
            for value in condition.values:
                yield ("condition", condition.key), value


_IN_ACCOUNT_ARN = re.compile(r"\A(arn:[a-z-]+):(?:iam|sts)::(\d{12}):(?!root\Z).+\Z")


def _template(text: str, tokens: Mapping[str, str]) -> tuple[re.Pattern[str], dict[str, str]] | None:
    present = [t for t in tokens if t in text]
    if not present:
        return None
    splitter = "(" + "|".join(re.escape(t) for t in sorted(present, key=len, reverse=True)) + ")"
    parts = re.split(splitter, text)
    whole = len(parts) == 3 and not parts[0] and not parts[2]
    groups: dict[str, str] = {}
    regex: list[str] = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            regex.append(re.escape(part))
            continue
        name = tokens[part]
        if name in groups:
            regex.append(f"(?P={groups[name]})")
            continue
        group = groups[name] = f"g{len(groups)}"
        wide = whole or ":" in part or "/" in part
        # a deploy-time value ({{AWS::AccountId}}, {{var.region}}) stands where the placeholder does, colons and all
        regex.append(f"(?P<{group}>.+)" if wide else rf"(?P<{group}>\{{\{{[^}}]*\}}\}}|[^/:]+)")
    return re.compile("".join(regex) + r"\Z", re.DOTALL), groups


def _acceptable(value: str, placeholder: Placeholder) -> bool:
    token = placeholder.token
    if value == token:  # the documentation's placeholder left in place: bound, for IAM908 to report
        return True
    if not value or "*" in value or "?" in value or "${" in value or not placeholder.admits(value):
        return False
    if token.startswith("arn:"):
        parts = value.split(":")
        return len(parts) > 2 and parts[0] == "arn" and parts[2] == token.split(":")[2]
    return True


def infer_bindings(
    baseline: Baseline, statements: Mapping[str, tuple[Sequence[Stmt], Sequence[Stmt]]],
    given: Mapping[str, str], fallback: Mapping[str, str] | None = None,
) -> Bindings:
    """Values for the baseline's placeholders: given ones, else the value the target uses in their place, else the
    ``fallback`` one (the account of the principal or resource compared, for ``AccountId``). ``statements``: per
    placeholder scope (``trust``, ``policies``), the baseline's statements and the target's."""
    placeholder_of = {p.name: p for p in baseline.placeholders}
    names = {p.name for p in baseline.placeholders}
    values = {name: value for name, value in given.items() if name in names}
    candidates: dict[str, Counter[str]] = {}
    for scope, (baseline_statements, target_statements) in statements.items():
        tokens = {t: n for t, n in _tokens(baseline, scope).items() if n not in given}
        for name, value in _candidates(baseline_statements, target_statements, tokens, placeholder_of):
            candidates.setdefault(name, Counter())[value] += 1
    inferred: list[str] = []
    several: dict[str, list[str]] = {}
    for name, counts in sorted(candidates.items()):
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        values[name] = ranked[0][0]
        inferred.append(name)
        if len(ranked) > 1:
            several[name] = [value for value, _ in ranked]
    for name, value in (fallback or {}).items():
        if name in names and name not in given and name not in values and _acceptable(value, placeholder_of[name]):
            values[name] = value
            inferred.append(name)
    return Bindings(values, inferred, several)


def _candidates(baseline_statements: Sequence[Stmt], target_statements: Sequence[Stmt], tokens: Mapping[str, str],
                placeholder_of: Mapping[str, Placeholder]) -> Iterator[tuple[str, str]]:
    """(placeholder, value) for each string of the target that a baseline string with ``tokens`` matches."""
    targets: dict[tuple[str, str], set[str]] = {}
    for slot, text in _slot_strings(target_statements):
        targets.setdefault(slot, set()).add(text)
        if slot == ("principal", "AWS"):  # a user or role names its account as the account's root ARN does
            targets[slot].add(_IN_ACCOUNT_ARN.sub(r"\1:iam::\2:root", text))
    seen: set[tuple[tuple[str, str], str]] = set()
    for slot, text in _slot_strings(baseline_statements):
        if (slot, text) in seen:
            continue
        seen.add((slot, text))
        template = _template(text, tokens)
        if template is None:
            continue
        regex, groups = template
        for candidate in sorted(targets.get(slot, ())):
            match = regex.match(candidate)
            if match is None:
                continue
            found = {name: match.group(group) for name, group in groups.items()}
            if all(_acceptable(value, placeholder_of[name]) for name, value in found.items()):
                yield from found.items()


def _assignments(bindings: Bindings) -> list[dict[str, str]]:
    """Every combination of the candidates (at most three per placeholder), most frequent values first."""
    names = sorted(bindings.candidates)
    choices = [bindings.candidates[name][:_CANDIDATES] for name in names]
    return [{**bindings.values, **dict(zip(names, combo, strict=True))} for combo in itertools.product(*choices)]


# --------------------------------------------------------------------------- comparing


def _catalog(catalog: Catalog | None) -> Catalog:
    if catalog is not None:
        return catalog
    from auditor.catalog import load_catalog

    return load_catalog()


_FORMAT_VARIABLE = re.compile(r"\$\{[^}]*\}")
"""A variable of a resource type's ARN format (``${Partition}``, ``${RoleNameWithPath}``)."""


class _ResourceApplicability:
    """Which of a set of actions (a mask of the action space) can be asked for on what a ``Resource`` pattern names,
    as IAM301 judges a statement: ``s3:GetObject`` on a bucket ARN, or ``ec2:RunInstances`` on an S3 ARN, grants
    nothing. Where the catalogue cannot tell, every action may apply."""

    _MAX_SERVICES = 24
    """A set spanning more services (``*``, ``NotAction``) is judged with an index of the whole catalogue, built
    once (reading hundreds of services' entries), rather than service by service."""

    def __init__(self, catalog: Catalog, space: ActionSpace, star_only: int) -> None:
        from auditor.engine import CheckContext

        self.context = CheckContext(catalog)
        self.catalog = catalog
        self.space = space
        self.star_only = star_only
        self._starts: list[int] = []
        self._services: list[tuple[str, int, int]] = []
        """(service, first bit, bit count): the space is sorted, so a service's actions are one run of bits."""
        for index, name in enumerate(space.names):
            service = name.partition(":")[0]
            if not self._services or self._services[-1][0] != service:
                self._starts.append(index)
                self._services.append((service, index, 0))
            self._services[-1] = (service, self._services[-1][1], self._services[-1][2] + 1)
        self._by_service: dict[str, tuple[int, dict[tuple[str, str], int]]] = {}
        self._memo: dict[tuple[int, str], int] = {}
        self._whole: tuple[int, dict[tuple[str, str], int]] | None = None
        self._covered: dict[tuple[int, tuple[str, ...]], bool] = {}

    def single_valued(self, key: str) -> bool:
        from auditor.checks.conditions import is_single_valued

        return is_single_valued(key, self.context)

    def applicable(self, actions: int, resource: str) -> int:
        """The actions of ``actions`` that may be asked for on a resource ``resource`` matches."""
        key = (actions, resource)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= 4096:  # each key holds a mask as large as the space
                self._memo.clear()
            found = self._memo[key] = self._applicable(actions, resource)
        return found

    def _applicable(self, actions: int, resource: str) -> int:
        from auditor.checks.resources import INCOMPLETE_ACTION_RESOURCES, resource_types_named

        if not actions:
            return 0
        named = resource_types_named(resource, self.context)
        if named is None:
            return actions
        first = bisect.bisect_right(self._starts, (actions & -actions).bit_length() - 1) - 1
        last = bisect.bisect_right(self._starts, actions.bit_length() - 1)
        found = actions & self.star_only if may_grant_resourceless(resource) else 0
        services = 0
        for service, start, length in self._services[first:last]:
            mine = actions & (((1 << length) - 1) << start)
            if not mine:
                continue
            services += 1
            if services > self._MAX_SERVICES:
                return self._across_services(actions, named, may_grant_resourceless(resource))
            if service in INCOMPLETE_ACTION_RESOURCES:
                found |= mine
                continue
            loose, by_type = self._service_masks(service)
            found |= mine & loose
            for pair in named:
                found |= mine & by_type.get(pair, 0)
        return found

    _MAX_TYPED_ACTIONS = 64
    """Actions :meth:`covers_types` judges one by one; a larger set is not taken as covered."""

    def covers_types(self, actions: int, patterns: Sequence[str]) -> bool:
        """Whether ``patterns`` name every resource each of ``actions`` can be asked for on, so that ``*`` grants
        them no more: each takes a resource it cannot be asked for without (one type at least the catalogue marks
        required), the catalogue lists its types, and the ARN format of each is within a pattern
        (``arn:*:iam::*:role/*`` for iam:PassRole)."""
        if not patterns or actions & self.star_only or actions.bit_count() > self._MAX_TYPED_ACTIONS:
            return False
        key = (actions, tuple(patterns))
        found = self._covered.get(key)
        if found is None:
            found = self._covered[key] = all(self._action_covered(name, patterns)
                                             for name in self.space.names_of(actions))
        return found

    def _action_covered(self, action: str, patterns: Sequence[str]) -> bool:
        from auditor.checks.resources import action_resource_types, arn_index

        info = self.catalog.action(action)
        types = action_resource_types(action, self.context)
        if info is None or types is None or not any(required for _, required in info.resource_types):
            return False
        formats = arn_index(self.catalog)
        for pair in types:
            text = formats.type_format(*pair).text
            # a policy is only ever asked about its own partition's ARNs: arn:aws:... names all of them there
            if not any(arn_contains(pattern, _FORMAT_VARIABLE.sub("*", text.replace(
                    "${Partition}", pattern.split(":", 2)[1] if pattern.count(":") > 1 else "*")))
                    for pattern in patterns):
                return False
        return True

    def _across_services(self, actions: int, named: Iterable[tuple[str, str]], resourceless: bool) -> int:
        """``_applicable`` for a set of many services (``Deny *`` on a bucket): the actions that may be asked for
        on anything, on what the catalogue cannot tell, and on the resource types the pattern names."""
        from auditor.checks.resources import INCOMPLETE_ACTION_RESOURCES

        if self._whole is None:
            anywhere = 0
            every_type: dict[tuple[str, str], int] = {}
            for service, start, length in self._services:
                if service in INCOMPLETE_ACTION_RESOURCES:
                    anywhere |= ((1 << length) - 1) << start
                    continue
                loose, by_type = self._service_masks(service)
                anywhere |= loose
                for pair, mask in by_type.items():
                    every_type[pair] = every_type.get(pair, 0) | mask
            self._whole = (anywhere, every_type)
        anywhere, every_type = self._whole
        found = actions & (anywhere | (self.star_only if resourceless else 0))
        for pair in named:
            found |= actions & every_type.get(pair, 0)
        return found

    def _service_masks(self, service: str) -> tuple[int, dict[tuple[str, str], int]]:
        """The service's actions that may be asked for on anything but take some resource, and its actions by the
        resource type they take."""
        from auditor.checks.resources import action_resource_types

        found = self._by_service.get(service)
        if found is None:
            loose = 0
            by_type: dict[tuple[str, str], int] = {}
            for action in self.catalog.service_actions(service):
                position = self.space.index.get(action)
                if position is None:
                    continue
                types = action_resource_types(action, self.context)
                if types is None:
                    loose |= 1 << position
                    continue
                for pair in types:
                    by_type[pair] = by_type.get(pair, 0) | 1 << position
            found = self._by_service[service] = (loose & ~self.star_only, by_type)
        return found


class _Compiler:
    def __init__(self, catalog: Catalog, principal: Principal | None = None) -> None:
        self.space = action_space(catalog)
        self.star_only = star_only_mask(catalog)
        """Actions that take no resource, as a mask of the space."""
        self.applicability = _applicability(catalog, self.space, self.star_only)
        self.known_variables = {"${aws:username}": principal.name} \
            if principal is not None and principal.kind == "user" else {}
        """Policy variables whose value the compared principal gives (a user's name for ``${aws:username}``)."""
        self.boundary = principal.permissions_boundary if principal is not None else None
        """The compared principal's permissions boundary, when the input has its document. (One the principal may
        remove is still weighed: removing it takes the removal allowed by both its policies and the boundary, a
        step the comparison does not take.)"""

    def target(self, comparison: _Comparison, *, inner: bool) -> list[Stmt]:
        """A comparison's target statements; for the permissions of a principal with a permissions boundary, what
        both its policies and the boundary allow (IAM grants no more), so that a wide policy the boundary limits to
        the documented grant is no drift, and one the boundary cuts back is."""
        compiled = self.policies(comparison.target, inner=inner)
        if comparison.kind != "identity" or self.boundary is None:
            return compiled
        return within_boundary(compiled, self.policy(self.boundary, inner=inner))

    def policy(self, policy: Policy, *, inner: bool, unbound: Iterable[str] = ()) -> list[Stmt]:
        return compile_statements(policy, self.space, inner=inner, unbound_tokens=unbound,
                                  known_variables=self.known_variables, star_only=self.star_only,
                                  single_valued=self.applicability.single_valued)

    def policies(self, policies: Iterable[Policy], *, inner: bool, unbound: Iterable[str] = ()) -> list[Stmt]:
        return [s for p in policies for s in self.policy(p, inner=inner, unbound=unbound)]


_APPLICABILITY: list[_ResourceApplicability] = []


def _applicability(catalog: Catalog, space: ActionSpace, star_only: int) -> _ResourceApplicability:
    """One per catalogue: what it learns of a service serves every later comparison."""
    if not _APPLICABILITY or _APPLICABILITY[0].catalog is not catalog:
        _APPLICABILITY[:] = [_ResourceApplicability(catalog, space, star_only)]
    return _APPLICABILITY[0]


def _baseline_policy(baseline: Baseline, entry: BaselinePolicy) -> Policy:
    from auditor.normalize import normalize_policy

    kind = PolicyKind(entry.kind) if entry.kind in {k.value for k in PolicyKind} else PolicyKind.IDENTITY
    source = Source(f"{baseline.path or baseline.ref}")
    return normalize_policy(dict(entry.document), kind, source, "", label=f"{baseline.ref}:{entry.name}")


def _baseline_sets(baseline: Baseline) -> dict[str, list[list[Policy]]]:
    """Per kind, the alternatives: trust has one per documented trust policy, the others exactly one."""
    sets: dict[str, list[list[Policy]]] = {}
    trust = [[_baseline_policy(baseline, p)] for p in baseline.trust_policies]
    if trust:
        sets["trust"] = trust
    for kind in ("identity", "resource", "organization"):
        policies = [_baseline_policy(baseline, p) for p in baseline.policies if p.kind == kind]
        if policies:
            sets[kind] = [policies]
    return sets


@dataclass
class _Anchor:
    """Where findings about the target go when no target statement is at fault."""

    location: Location
    subject: dict[str, Any] | None
    name: str


@dataclass
class _Comparison:
    kind: str
    target: list[Policy]
    alternatives: list[list[Policy]]
    attached: list[Policy] = field(default_factory=list)
    """The documents of the AWS managed policies the baseline attaches: what they grant is documented too, so the
    target adding it is no drift; that the target lacks it is the attachment's finding (IAM906), not the actions'."""


class _Report:
    """Turns gaps into findings for one target and one baseline."""

    def __init__(self, baseline: Baseline, catalog: Catalog, anchor: _Anchor, principal: Principal | None) -> None:
        from auditor.checks.drift_rules import RULES

        self.rules = RULES
        self.baseline = baseline
        self.catalog = catalog
        self.space = action_space(catalog)
        self.anchor = anchor
        self.principal = principal
        self.findings: list[Finding] = []
        self.bindings: dict[str, str] = {}
        self.inferred: list[str] = []
        self.new: Counter[str] = Counter()
        self.missing: Counter[str] = Counter()
        self.uncompared: list[str] = []
        """What of the target the baseline could not be compared with, in words for the verdict."""
        self.deferred: dict[str, str] = {}
        """Given placeholders the target leaves to its template (see ``_deferred_to_deployment``): their values."""

    def add(self, rule_id: str, message: str, details: dict[str, Any], *, severity: Severity | None = None,
            where: Stmt | None = None, attachment: str | None = None) -> None:
        """A finding at the statement ``where``, at the principal's attachment of the managed policy
        ``attachment``, or at the target."""
        rule = self.rules.get(rule_id)
        assert rule is not None
        policy = where.policy if where is not None else None
        statement = where.statement if where is not None else None
        if policy is not None:
            location = policy.location(statement.pointer if statement is not None else None)
            label = policy.label
            if self.principal is not None:
                subject: dict[str, Any] | None = self.principal.subject.to_json(label)
            else:
                subject = policy.subject.to_json(label) if policy.subject is not None else None
        elif attachment is not None and self.principal is not None:
            location = self.principal.location(self.principal.attachment_pointer(attachment))
            subject = self.anchor.subject
        else:
            location, subject = self.anchor.location, self.anchor.subject
        details = dict(details)
        details["bindings"] = dict(sorted(self.bindings.items()))
        if self.inferred:
            details["inferred_bindings"] = sorted(self.inferred)
        self.findings.append(
            Finding(
                rule_id=rule.id,
                slug=rule.slug,
                category=rule.info.category,
                severity=severity or rule.info.severity,
                title=rule.info.title,
                message=message,
                location=location,
                subject=subject,
                statement=StatementRef.of(statement, policy.statements if policy is not None else ())
                if statement is not None else None,
                baseline=self.baseline.id,
                details={**details, "baseline_revision": self.baseline.revision},
            )
        )

    # -- naming things

    def action_rows(self, actions: Iterable[str]) -> list[dict[str, str]]:
        rows = []
        for action in sorted(actions):
            info = self.catalog.action(action)
            rows.append({"action": info.full_name if info else action,
                         "access_level": info.access_level if info else "unknown"})
        return rows

    def action_list(self, actions: int) -> str:
        """The first few actions of a set, in AWS spelling."""
        return shown_actions(actions, self.space, self.catalog, _SHOWN)

    def listed(self, actions: int) -> list[dict[str, str]]:
        return self.action_rows(self.space.names_of(actions, _LISTED))

    @staticmethod
    def cell_text(cell: Cell) -> str:
        if cell[0]:
            return "NotResource " + ", ".join(cell[1])
        return str(cell[1])

    # -- gaps

    def forward(self, gap: Gap, kind: str) -> None:
        ref = self.baseline.ref
        statement = gap.statement
        actions = gap.actions
        count = actions.bit_count()
        rows = self.listed(actions)
        listed = {"actions": [r["action"] for r in rows], "action_count": count}
        where = statement
        if gap.kind == "action":
            if kind == "trust":
                self.new["trust action"] += count
                self.add("IAM905", f"the trust policy allows {self.action_list(actions)}, which {ref} does not",
                         {**listed, "added_actions": rows}, where=where)
                return
            unknown_level = any(r["access_level"] == "unknown" for r in rows)
            secrets = actions & _secret_mask(self.space)
            by_level = Severity.HIGH if actions & self.space.writes or unknown_level or secrets else Severity.MEDIUM
            key = "added_actions" if gap.certain else "possibly_added_actions"
            self.new["action added"] += count
            certainty = "" if gap.certain else " (possibly: its conditions or Deny statements may rule them out)"
            reads = "" if not secrets else " (each returns secrets or credentials)" if secrets == actions else \
                f"; {self.action_list(secrets)} return secrets or credentials"
            self.add("IAM901", f"allows {count} action(s) that {ref} does not{certainty}: "
                     f"{self.action_list(actions)}{reads}",
                     {key: rows, "action_count": count, "certain": gap.certain},
                     severity=by_level, where=where)
            return
        resources = sorted({self.cell_text(c) for c in gap.cells})
        if gap.kind == "principal":
            principals = sorted({c[2] for c in gap.cells if c[2] is not None})
            self.new["trusted principal"] += len(principals)
            confined = [c for c in statement.conditions if c.key in _PRINCIPAL_CONFINING_KEYS
                        and "Not" not in c.operator and not c.if_exists and c.values]
            to_everyone = Severity.CRITICAL if "AWS:*" in principals and not confined else None
            within = "" if "AWS:*" not in principals or not confined else " (confined by " + "; ".join(
                f"{c.written_key} to {', '.join(sorted(c.values))}" for c in confined) + ")"
            granted = "" if kind == "trust" else f" to {self.action_list(actions)}"
            self.add("IAM905", f"{'the trust' if kind == 'trust' else 'the policy'} admits "
                     f"{', '.join(principals)}{within}{granted}, which {ref} does not",
                     {**listed, "added_principals": principals}, severity=to_everyone, where=where)
            return
        if gap.kind == "condition":
            change = _condition_change(gap.missing_conditions, statement.conditions, ref)
            written = {c.key for c in statement.conditions}
            removed = [c.to_json() for c in gap.missing_conditions if c.key not in written]
            weakened = [c.to_json() for c in statement.conditions
                        if any(c.key == m.key for m in gap.missing_conditions)]
            documented = [c.to_json() for c in gap.missing_conditions if c.key in written]
            evidence = {"removed_conditions": removed,
                        **({"weaker_conditions": weakened, "documented_conditions": documented} if weakened else {})}
            if kind == "trust":  # the same principals under a looser condition: the trust admits no new ones
                self.new["trust condition"] += 1
                self.add("IAM904", f"the trust lets principals assume the role {change}", {**listed, **evidence},
                         where=where)
                return
            self.new["condition loosened"] += count
            principals = sorted({c[2] for c in gap.cells if c[2] is not None})
            to_whom = f" to {', '.join(principals)}" if principals else ""
            self.add("IAM904", f"allows {self.action_list(actions)}{to_whom} {change}",
                     {**listed, **evidence, "target_resources": resources}, where=where)
            return
        if gap.kind == "deny":
            deny = gap.deny
            assert deny is not None
            ref_statement = deny.statement
            denied = {"missing_deny": {"index": ref_statement.index if ref_statement else None,
                                       "sid": ref_statement.sid if ref_statement else None},
                      "target_resources": resources}
            rule = "IAM904" if deny.conditions else "IAM903"
            self.new["deny missing"] += count
            self.add(rule, f"allows {self.action_list(actions)} where {ref} denies them (its Deny statement "
                     f"{ref_statement.sid or ref_statement.index if ref_statement else ''} is missing)",
                     {**listed, **denied}, where=where)
            return
        self.new["resource widened"] += count
        baseline_resources = sorted(gap.outer_resources)
        corrected = self.kms_alias_corrected(gap, resources, baseline_resources)
        self.add("IAM903", f"allows {self.action_list(actions)} on {', '.join(resources)}, beyond {ref}'s "
                 f"{', '.join(baseline_resources[:_SHOWN])}"
                 + (f"; the baseline names a KMS alias ARN, which IAM never matches for these actions (they act on "
                    f"keys), so {corrected} is the usual correction of that defect: make sure it is the "
                    "integration's key" if corrected else ""),
                 {**listed, "target_resources": resources, "baseline_resources": baseline_resources},
                 severity=Severity.LOW if corrected else None, where=where)

    def key_actions_only(self, actions: int) -> bool:
        """Every action of the set is a KMS action that acts on keys and never on aliases."""
        for name in self.space.names_of(actions):
            info = self.catalog.action(name)
            if info is None or info.service != "kms" or any(rt == "alias" for rt, _ in info.resource_types):
                return False
        return True

    def kms_alias_corrected(self, gap: Gap, target: Sequence[str], documented: Sequence[str]) -> str | None:
        """How a target corrects a baseline that names only KMS alias ARNs for actions on keys, which grants nothing
        there as written (a vendor mistake), or None: a key ARN of the alias's account and Region, or any key
        that carries the alias (``ForAnyValue:StringEquals kms:ResourceAliases``, as AWS recommends), keeping the
        baseline's conditions (``kms:ViaService``). Keys of any account, or without the conditions, are wider
        access than the vendor documented."""
        if not (target and documented and all(_KMS_ALIAS_ARN.match(r) for r in documented)
                and self.key_actions_only(gap.actions)
                and all(all_implied(gap.statement.conditions, outer.conditions) for outer in gap.outer_statements)):
            return None
        aliases = {arn.split(":", 5)[5].lower() for arn in documented}
        if any(c.key == "kms:resourcealiases" and c.qualifier == "foranyvalue" and c.operator == "StringEquals"
               and not c.if_exists and c.values and {v.lower() for v in c.values} <= aliases
               for c in gap.statement.conditions):
            return "a key that carries the alias (kms:ResourceAliases)"
        aliases_at = {_region_and_account(arn) for arn in documented}
        if all(_KMS_KEY_ARN.match(arn) and _region_and_account(arn) in aliases_at
               and not has_wildcard(":".join(_region_and_account(arn))) for arn in target):
            return "a key ARN"
        return None

    def reverse(self, gap: Gap, kind: str) -> None:
        ref = self.baseline.ref
        actions = gap.actions
        count = actions.bit_count()
        statement = gap.statement.statement
        origin = {"policy": gap.statement.policy.label if gap.statement.policy else None,
                  "index": statement.index if statement else None, "sid": statement.sid if statement else None}
        what = "the trust" if kind == "trust" else "the target"
        if gap.kind == "deny" and gap.denied_wholly and gap.deny is not None:
            deny = gap.deny.statement
            self.missing["action removed"] += count
            self.add("IAM902", f"{what} denies {self.action_list(actions)} wherever {ref} grants it (Deny statement "
                     f"{deny.sid or deny.index if deny else ''}): the integration may break",
                     {"removed_actions": self.listed(actions), "action_count": count, "baseline_statement": origin,
                      "denied_by": {"index": deny.index if deny else None, "sid": deny.sid if deny else None}},
                     where=gap.deny)
            return
        if gap.kind == "action":
            self.missing["action removed"] += count
            unseen = self.principal.missing_policy_arns if self.principal is not None and kind != "trust" else ()
            if unseen:  # what the target lacks may come from a managed policy whose document is not here
                self.add("IAM902", f"{what} does not allow {self.action_list(actions)}, which {ref} grants, unless "
                         f"an attached managed policy not in the input does ({', '.join(map(_policy_name, unseen))})",
                         {"removed_actions": self.listed(actions), "action_count": count,
                          "baseline_statement": origin, "unchecked_policies": list(unseen)}, severity=Severity.LOW)
                return
            self.add("IAM902", f"{what} does not allow {self.action_list(actions)}, which {ref} grants: "
                     "the integration may break",
                     {"removed_actions": self.listed(actions), "action_count": count,
                      "baseline_statement": origin})
            return
        self.missing["action narrowed"] += count
        details: dict[str, Any] = {"narrowed_actions": self.listed(actions),
                                   "action_count": count, "baseline_statement": origin,
                                   "baseline_resources": sorted({self.cell_text(c) for c in gap.cells}),
                                   "reason": gap.kind}
        if gap.kind == "principal":
            details["removed_principals"] = sorted({c[2] for c in gap.cells if c[2] is not None})
        self.add("IAM902", f"{what} allows {self.action_list(actions)} more narrowly than {ref}"
                 f"{_documented_scope(gap.statement)} ({gap.kind}): parts of the integration may break", details,
                 severity=Severity.LOW)


_PRINCIPAL_CONFINING_KEYS = frozenset({"aws:principalaccount", "aws:principalorgid", "aws:principalorgpaths",
                                       "aws:principalarn", "aws:sourceaccount", "aws:sourceorgid"})
"""Keys whose positive condition confines "*" to some accounts' principals: no longer everyone."""


def _region_and_account(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    return (parts[3], parts[4]) if len(parts) == 6 else ("", "")


def _documented_scope(documented: Stmt) -> str:
    """Which of the baseline's statements a narrowing concerns, for a message: its principals, else its Sid (two
    trust statements narrowed alike would read the same)."""
    if documented.principals:
        shown = sorted({principal.partition(":")[2] or principal for principal in documented.principals})
        return " for " + ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    statement = documented.statement
    return f" in its statement {statement.sid!r}" if statement is not None and statement.sid else ""


_Outcome = list[tuple[str, list[Gap], list[Gap]]]


def _run(compiler: _Compiler, baseline: Baseline, comparisons: Sequence[_Comparison],
         targets: Mapping[int, list[Stmt]], targets_as_outer: Mapping[int, list[Stmt]],
         own_account: str | None = None) -> tuple[tuple[int, int], _Outcome]:
    """Forward and reverse gaps of every comparison, against the closest documented alternative; ``targets`` (and
    ``targets_as_outer``): each comparison's target compiled as the inner set (and as the outer one), by its id;
    ``own_account``: the account the compared principal or resource is in, where known."""
    unbound = [p.token for p in baseline.placeholders]
    sets = _baseline_sets(baseline)
    outcome: _Outcome = []
    total = (0, 0)
    applicable, covers_types = compiler.applicability.applicable, compiler.applicability.covers_types
    for comparison in comparisons:
        inner = with_own_account(targets[id(comparison)], own_account)
        inner_as_outer = with_own_account(targets_as_outer[id(comparison)], own_account)
        best: tuple[tuple[int, int, int], list[Gap], list[Gap]] | None = None
        for alternative in sets.get(comparison.kind, []):
            outer = compiler.policies([*alternative, *comparison.attached], inner=False)
            # the baseline's grants on resources never asked for (a vendor's KMS alias ARN) stay as written: the
            # reporter tells a target that corrects them (IAM903 at low) from one that adds the action
            forward = without_star_only(find_gaps(inner, outer, applicable=applicable, judge_outer=False,
                                                  covers_types=covers_types), compiler.star_only)
            reverse = find_gaps(compiler.policies(alternative, inner=True, unbound=unbound), inner_as_outer,
                                skip_unbound=True, applicable=applicable, covers_types=covers_types)
            # the alternative the target differs from least, either way; then the one whose documented grants it
            # keeps (a documented trust that lost its ExternalId, not the EC2 one it shares nothing with); ties go
            # to the one that leaves fewer resources or principals uncovered
            score = (len(forward) + len(reverse), len(reverse), sum(len(gap.cells) for gap in forward))
            if best is None or score < best[0]:
                best = (score, forward, reverse)
        if best is not None:
            outcome.append((comparison.kind, best[1], best[2]))
            total = (total[0] + len(best[1]), total[1] + len(best[2]))
    return total, outcome


def _compare(
    report: _Report, compiler: _Compiler, comparisons: Sequence[_Comparison], given: Mapping[str, str],
    arn: str | None = None,
) -> None:
    """Bind the placeholders (the candidate values that leave the fewest gaps), then compare."""
    baseline = report.baseline
    targets = {id(c): compiler.target(c, inner=True) for c in comparisons}
    targets_as_outer = {id(c): compiler.target(c, inner=False) for c in comparisons}  # the same for every binding
    given_sets = _baseline_sets(baseline.bind(given))
    statements: dict[str, tuple[list[Stmt], list[Stmt]]] = {}
    for comparison in comparisons:
        documented, found = statements.setdefault(_scope(comparison.kind), ([], []))
        documented.extend(s for alt in given_sets.get(comparison.kind, []) for s in compiler.policies(alt, inner=False))
        found.extend(targets[id(comparison)])
    account = arn_account(arn) if arn else None
    bindings = infer_bindings(baseline, statements, given, {ACCOUNT_PLACEHOLDER: account} if account else None)
    deferred = _deferred_to_deployment(baseline, compiler, comparisons, targets, given)
    bindings.values.update(deferred)  # compared with what the target writes: its value is the one given, once deployed
    report.deferred = {name: given[name] for name in deferred}
    token_of = {p.name: p.token for p in baseline.placeholders}
    best: tuple[tuple[int, int, int], _Outcome, dict[str, str]] | None = None
    for values in _assignments(bindings):
        gaps, outcome = _run(compiler, baseline.bind(values) if values else baseline, comparisons, targets,
                             targets_as_outer, account or values.get(ACCOUNT_PLACEHOLDER))
        # as many gaps either way: two placeholders (an input and an output bucket) more likely name two things,
        # unless the document writes one token for both (see Placeholder.scope)
        shared = len({(token_of.get(name), value) for name, value in values.items()}) - len(set(values.values()))
        score = (*gaps, shared)
        if best is None or score < best[0]:
            best = (score, outcome, values)
    assert best is not None
    score, outcome, values = best
    report.bindings = values
    report.inferred = bindings.inferred
    if score[0]:
        for name, candidates in bindings.candidates.items():
            # a value another placeholder takes is explained (the input bucket seen by the output's placeholder)
            others = [value for value in candidates if value != values[name]
                      and value not in {v for other, v in values.items() if other != name}]
            if not any(_gap_mentions(gap, others) for _, forward, _ in outcome for gap in forward):
                continue  # the gaps are drift of their own, whatever value the placeholder takes
            report.add("IAM907", f"placeholder {name} of {baseline.ref} takes {len(candidates)} values in the "
                       f"target ({', '.join(candidates)}); no one value makes the target match, compared with "
                       f"{values[name]}", {"placeholder": name, "values": candidates, "chosen": values[name]})
    _documented_values_kept(report, [s for found in targets.values() for s in found])
    for kind, forward, reverse in outcome:
        for gap in forward:
            report.forward(gap, kind)
        for gap in reverse:
            report.reverse(gap, kind)


def _deferred_to_deployment(baseline: Baseline, compiler: _Compiler, comparisons: Sequence[_Comparison],
                            targets: Mapping[int, Sequence[Stmt]], given: Mapping[str, str]) -> dict[str, str]:
    """Given placeholders the target fills with a value a template decides at deploy time (Terraform's
    ``${var.org_id}``, read as ``{{var.org_id}}``): by name, that text. The target is compared as if it were the
    value given (``--var``, a mapping's ``vars``): comparing ``{{var.org_id}}`` with ``acme01`` as text would call
    every resource it names wider and narrower at once."""
    if not given:
        return {}
    placeholder_of = {p.name: p for p in baseline.placeholders}
    unbound = _baseline_sets(baseline)
    found: dict[str, str] = {}
    for comparison in comparisons:
        scope = _scope(comparison.kind)
        tokens = {token: name for token, name in _tokens(baseline, scope).items() if name in given}
        if not tokens:
            continue
        documented = [s for alt in unbound.get(comparison.kind, []) for s in compiler.policies(alt, inner=False)]
        for name, value in _candidates(documented, targets[id(comparison)], tokens, placeholder_of):
            if is_template_value(value) and value != given[name]:
                found.setdefault(name, value)
    return found


def _documented_values_kept(report: _Report, target: Sequence[Stmt]) -> None:
    """A placeholder the target fills with the documentation's own text: its placeholder (``<get_from_upsolver>``)
    or the example value it shows (an ExternalId printed on a public page, another organization's role). The
    comparison matches, but the value protects nothing or trusts someone else: IAM908 in a condition, IAM905 as a
    trusted principal."""
    baseline = report.baseline
    for placeholder in baseline.placeholders:
        value = report.bindings.get(placeholder.name)
        if placeholder.name not in report.inferred or value not in (placeholder.token, placeholder.example):
            continue
        example = placeholder.kind == "example-value" or value == placeholder.example
        shown = (f"the example value {baseline.ref}'s documentation shows for {placeholder.name}" if example else
                 f"the placeholder {baseline.ref}'s documentation writes for {placeholder.name}")
        details = {"placeholder": placeholder.name, "value": value}
        for statement in target:
            if any(p.partition(":")[2] == value for p in statement.principals or ()):
                report.add("IAM905", f"the trust admits {value}, {shown} (most likely another customer's): "
                           "trust the one the vendor gave you", details, where=statement)
                report.new["trusted principal"] += 1
                break
            if any(value in c.values for c in statement.conditions):
                why = "anyone who read the page knows it" if example else \
                    "the vendor never sends it, and every customer who copied the page shares it"
                report.add("IAM908", f"{placeholder.name} is {value}, {shown}: {why}; put the value the vendor "
                           "gave you", details, where=statement)
                report.new["documented value"] += 1
                break


_SECRET_MASKS: dict[int, tuple[ActionSpace, int]] = {}


def _secret_mask(space: ActionSpace) -> int:
    """The actions that return secrets or credentials (``secretsmanager:GetSecretValue``, the credentials-exposure
    list of ``rules/sensitive.yaml``): reads, yet a vendor given them can take what the account guards most."""
    from auditor.checks.exposure import secret_actions

    found = _SECRET_MASKS.get(id(space))
    if found is None or found[0] is not space:
        found = _SECRET_MASKS[id(space)] = (space, space.mask(secret_actions()))
    return found[1]


ACCOUNT_PLACEHOLDER = "AccountId"
"""The placeholder the bundled baselines use for the account their resources are deployed in: when the target
does not show its value, the account of the principal (or resource) compared stands in."""


def _gap_mentions(gap: Gap, values: Sequence[str]) -> bool:
    """Whether a string of the gap's target requests (resource, principal, condition value) holds one of
    ``values``: the gap may come from a placeholder value the comparison did not choose."""
    texts: list[str] = []
    for is_not, resource, principal in gap.cells:
        texts.extend(resource if is_not else (resource,))
        if principal is not None:
            texts.append(principal)
    texts.extend(str(value) for condition in gap.statement.conditions for value in condition.values)
    return any(value in text for value in values for text in texts)


def _verdict(report: _Report) -> tuple[str, bool]:
    labels = {"action added": "action(s) added", "resource widened": "action(s) on wider resources",
              "condition loosened": "action(s) with looser conditions", "deny missing": "action(s) no longer denied",
              "trusted principal": "trusted principal(s) added",
              "trust condition": "trust condition(s) removed or weakened",
              "trust action": "trust action(s) added", "managed policy": "managed policy attachment(s) added",
              "action removed": "action(s) removed", "action narrowed": "action(s) narrowed",
              "managed missing": "managed policy attachment(s) missing", "placeholder": "placeholder conflict(s)",
              "documented value": "documentation value(s) kept"}
    new_total = sum(report.new.values())
    if new_total:
        text = f"{new_total} new: " + ", ".join(f"{n} {labels[k]}" for k, n in sorted(report.new.items()))
    else:
        text = "no new access"
    if report.missing:
        text += f"; {sum(report.missing.values())} missing: " + ", ".join(
            f"{n} {labels[k]}" for k, n in sorted(report.missing.items()))
    for uncompared in report.uncompared:
        text += f"; {uncompared}"
    shown = ", ".join(
        f"{name}={report.deferred[name]} (the target's {value}, once deployed)" if name in report.deferred else
        f"{name}={value}{' (inferred)' if name in report.inferred else ''}"
        for name, value in sorted(report.bindings.items())
    )
    text += f" [{report.baseline.ref}{'; ' + shown if shown else ''}]"
    return text, bool(new_total)


def _result(report: _Report, target: str) -> DriftResult:
    verdict, new_access = _verdict(report)
    return DriftResult(report.baseline.ref, target, tuple(report.findings), verdict, dict(report.bindings),
                       tuple(report.inferred), new_access)


def _check_vars(baseline: Baseline, variables: Mapping[str, str], strict: bool) -> dict[str, str]:
    names = {p.name for p in baseline.placeholders}
    unknown = sorted(set(variables) - names)
    if strict and unknown:
        known = ", ".join(sorted(names)) or "none"
        raise DriftError(f"--var {unknown[0]}: {baseline.ref} has no such placeholder (it has: {known})")
    for placeholder in baseline.placeholders:
        value = variables.get(placeholder.name)
        if strict and value is not None and not placeholder.admits(value):
            raise DriftError(f"--var {placeholder.name}={value}: {baseline.ref} documents a value matching "
                             f"{placeholder.matches} ({placeholder.meaning})")
    return {k: v for k, v in variables.items() if k in names}


def compare_policy(
    baseline: Baseline, policy: Policy, catalog: Catalog | None = None,
    variables: Mapping[str, str] | None = None, *, strict_vars: bool = False,
) -> DriftResult:
    """Compare one policy with the baseline's policies of the same kind (identity, trust or resource)."""
    catalog = _catalog(catalog)
    given = _check_vars(baseline, variables or {}, strict_vars)
    kind = policy.kind.value
    documented = _baseline_sets(baseline)
    if kind not in documented:
        raise DriftError(f"{baseline.ref} documents no {kind} policy to compare {policy.source.display_path} with")
    subject = policy.subject.to_json(policy.label) if policy.subject is not None else None
    name = policy.subject.name if policy.subject is not None else policy.source.display_path
    report = _Report(baseline, catalog, _Anchor(policy.location(), subject, name), None)
    attached = _documented_managed(baseline, {}) if kind == "identity" else []
    _compare(report, _Compiler(catalog), [_Comparison(kind, [policy], documented[kind], attached)], given,
             policy.subject.arn if policy.subject is not None else None)
    return _result(report, name)


def _documented_managed(baseline: Baseline, in_input: Mapping[str | None, Policy]) -> list[Policy]:
    """The documents of the AWS managed policies the baseline attaches: the input's own (an export holds the version
    in effect in that account), else the one ``rules/aws-managed-policies/`` keeps; none for one known to neither."""
    found = []
    for arn in (*baseline.managed_policies, *baseline.optional_managed_policies):
        kept = in_input.get(arn) or _kept_managed_policy(arn)
        if kept is not None:
            found.append(kept)
    return found


@lru_cache(maxsize=16)
def _kept_managed_policy(arn: str) -> Policy | None:
    """The policy of ``rules/aws-managed-policies/`` with that ARN, read once (ReadOnlyAccess is 100 KB)."""
    from auditor.knowledge import load_managed_policy_documents
    from auditor.normalize import normalize_policy

    entry = load_managed_policy_documents().get(arn)
    if entry is None:
        return None
    return normalize_policy(entry.document, PolicyKind.IDENTITY, Source(str(entry.path)), "", subject=None, label=arn)


def _policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def compare_principal(
    baseline: Baseline, principal: Principal, catalog: Catalog | None = None,
    variables: Mapping[str, str] | None = None, *, strict_vars: bool = False,
) -> DriftResult:
    """Compare a principal of an account export with the baseline as a whole.

    Trust policy against the documented trust policy (or the closest documented
    alternative); inline, customer managed and group policies together against the
    documented permission policies; AWS managed attachments by ARN against
    ``managed_policies``. A baseline without permission policies (a trust-only one)
    leaves the permissions alone.
    """
    catalog = _catalog(catalog)
    given = _check_vars(baseline, variables or {}, strict_vars)
    anchor = _Anchor(principal.location(), principal.subject.to_json(None), principal.name)
    report = _Report(baseline, catalog, anchor, principal)
    documented_arns = baseline.managed_policies + baseline.optional_managed_policies
    documented_names = {_policy_name(a) for a in documented_arns}

    def documented(arn: str) -> bool:
        return arn in documented_arns or (":iam::aws:" not in arn and _policy_name(arn) in documented_names)

    pool = list(principal.inline_policies)
    added_managed: list[str] = []
    group_arns = set(principal.group_policy_arns)

    def sort_out(managed: Policy) -> None:
        """An undocumented AWS managed policy is compared by ARN, a customer managed one by its statements."""
        arn = managed.label or ""
        if documented(arn):
            return
        if managed.is_aws_managed:
            added_managed.append(arn)
        else:
            pool.append(managed)

    for policy in principal.attached_policies:
        sort_out(policy)
    for policy in principal.group_policies:
        if policy.label in group_arns:
            sort_out(policy)
        else:
            pool.append(policy)  # a group's inline policy
    seen = {p.label for p in principal.group_policies}
    added_managed.extend(a for a in (*principal.missing_policy_arns, *(a for a in principal.group_policy_arns
                                                                       if a not in seen))
                         if not documented(a) and a not in added_managed)
    attached = (set(principal.attached_policy_arns) | {p.label or "" for p in principal.group_policies}
                | group_arns)
    missing_managed = [
        arn for arn in baseline.managed_policies
        if arn not in attached and not any(_policy_name(a) == _policy_name(arn) and ":iam::aws:" not in arn
                                           for a in attached)
    ]
    comparisons = []
    if principal.trust_policy is not None and not baseline.trust_policies:
        report.uncompared.extend(filter(None, [_trust_not_compared(baseline)]))
    if baseline.trust_policies and principal.trust_policy is not None:
        comparisons.append(_Comparison("trust", [principal.trust_policy], []))
    if principal.missing_boundary_arn is not None:
        report.uncompared.append(f"permissions boundary {principal.missing_boundary_arn} not weighed: its document "
                                 "is not in the input")
    if any(p.kind == "identity" for p in baseline.policies):
        in_input = {policy.label: policy for policy in (*principal.attached_policies, *principal.group_policies)
                    if policy.is_aws_managed}
        comparisons.append(_Comparison("identity", pool, [], _documented_managed(baseline, in_input)))
    sets = _baseline_sets(baseline)
    for comparison in comparisons:
        comparison.alternatives = sets.get(comparison.kind, [])
    _compare(report, _Compiler(catalog, principal), comparisons, given, principal.arn)
    from auditor.checks.wildcards import boundary_limits, boundary_reference, granted_everywhere
    from auditor.engine import CheckContext

    context = CheckContext(catalog)
    bounded = bool(added_managed) and boundary_limits(principal, context)
    for arn in added_managed:
        name = _policy_name(arn)
        unknown = arn in principal.missing_policy_arns or (arn in group_arns and arn not in seen)
        known = load_privileged_managed_policies().get(name) if ":iam::aws:" in arn else None  # rules/, as IAM006
        severity = Severity.HIGH if known is None else known.severity
        if bounded:  # only what both the policy and the boundary allow is granted, as IAM006 weighs it
            severity = min(severity, Severity.MEDIUM, key=lambda level: level.rank)
        elif known is not None and known.administrator_with and granted_everywhere(
                principal, known.administrator_with, context):
            severity = Severity.CRITICAL  # PowerUserAccess with iam:PassRole on every role: administrator, as IAM006
        report.new["managed policy"] += 1
        through = " (through a group)" if arn in group_arns and arn not in principal.attached_policy_arns else ""
        report.add("IAM906", f"{principal.name} has {name} attached{through}, which {baseline.ref} does not document"
                   + (" (its document is not in the input)" if unknown else "")
                   + (f", within the permissions boundary {boundary_reference(principal)}" if bounded else ""),
                   {"added_managed_policies": [arn], "contents_unknown": unknown}, severity=severity,
                   attachment=arn)
    for arn in missing_managed:
        report.missing["managed missing"] += 1
        report.add("IAM906", f"{principal.name} lacks {_policy_name(arn)}, which {baseline.ref} attaches: "
                   "the integration may break", {"missing_managed_policies": [arn]}, severity=Severity.MEDIUM)
    return _result(report, principal.name)


# --------------------------------------------------------------------------- accounts


def drift_for_principals(
    principals: Iterable[Principal],
    baselines: Sequence[Baseline],
    mappings: Iterable[Any] = (),
    vars: Mapping[str, str] | None = None,
    catalog: Catalog | None = None,
    resource_policies: Iterable[Policy] = (),
) -> DriftRun:
    """Compare every principal, and every resource policy, that a baseline applies to (by mapping or name
    pattern)."""
    catalog = _catalog(catalog)
    mappings = list(mappings)
    run = DriftRun()
    for principal in principals:
        for baseline in _combined(matching_baselines(principal, baselines, mappings)):
            parts = baseline.combines or (baseline,)
            given = {**(vars or {}), **{name: value for part in parts
                                        for name, value in mapped_vars(principal.names, part, baselines,
                                                                       mappings).items()}}
            result = compare_principal(baseline, principal, catalog, given)
            run.findings.extend(result.findings)
            verdict = result.verdict
            if result.new_access:
                verdict += _revision_hint(baseline, principal, catalog, given)
            run.verdicts.append(Verdict(principal.name, verdict, baseline.ref, principal.source.display_path,
                                        principal.aliases))
            run.compared.add(principal.arn or principal.name)
    for policy in resource_policies:
        for baseline in matching_resource_baselines(policy, baselines, mappings):
            given = {**(vars or {}), **mapped_vars(resource_names(policy), baseline, baselines, mappings)}
            result = compare_policy(baseline, policy, catalog, given)
            run.findings.extend(result.findings)
            names = resource_names(policy)
            run.verdicts.append(Verdict(names[0], result.verdict, baseline.ref, policy.source.display_path,
                                        names[1:]))
    return run


def _combined(found: list[Baseline]) -> list[Baseline]:
    """The baselines of one principal, those of one kind (several roles a mapping gives it: with Upsolver Cloud one
    role holds both the server and the management role's permissions) as one: what any of them documents is
    documented."""
    from auditor.baselines import combine_baselines

    by_kind: dict[str, list[Baseline]] = {}
    for baseline in found:
        by_kind.setdefault(baseline.principal.kind, []).append(baseline)
    return [group[0] if len(group) == 1 else combine_baselines(group) for group in by_kind.values()]


def drift_for_check(
    principals: Sequence[Principal],
    baseline_refs: Sequence[str],
    variables: Mapping[str, str],
    rules: RuleSet,
    selection: Selection,
    catalog: Catalog,
    mappings: Iterable[Any] = (),
    resource_policies: Sequence[Policy] = (),
) -> tuple[list[Finding], list[Verdict]]:
    """The ``check`` hook: drift findings (selected and with severity overrides) and verdicts."""
    if not principals and not resource_policies:
        return [], []
    run = drift_for_principals(principals, select_baselines(baseline_refs), mappings, variables, catalog,
                               resource_policies)
    findings = []
    for finding in run.findings:
        rule = rules.get(finding.rule_id)
        if rule is None or not selection.enabled(rule):
            continue
        severity = selection.severity_for(rule, finding.severity)
        if severity is not finding.severity:
            finding = Finding(finding.rule_id, finding.slug, finding.category, severity, finding.title,
                              finding.message, finding.location, finding.subject, finding.statement,
                              finding.baseline, finding.details)
        findings.append(finding)
    return findings, run.verdicts


def drift_loaded(
    baseline: Baseline,
    loaded: Any,
    principal: str | None = None,
    catalog: Catalog | None = None,
    variables: Mapping[str, str] | None = None,
    *,
    strict_vars: bool = False,
    mappings: Iterable[Any] = (),
) -> list[DriftResult]:
    """Compare what one target file loaded into (:class:`auditor.loaders.LoadResult`) with ``baseline``.

    An account export: the principal named ``principal`` (any case), else every principal the
    baseline's name patterns match. Anything else: each standalone policy. The ``vars`` of the
    ``mappings`` that give a principal or resource this baseline bind its placeholders over ``variables``.
    """
    catalog = _catalog(catalog)
    mappings = list(mappings)

    def given(names: Sequence[str]) -> dict[str, str]:
        return {**(variables or {}), **mapped_vars(names, baseline, [baseline], mappings)}

    if baseline.principal.kind == "resource":
        chosen_policies = _chosen_resource_policies(baseline, loaded.policies, principal)
        if chosen_policies:
            return [compare_policy(baseline, p, catalog, given(resource_names(p)), strict_vars=strict_vars)
                    for p in chosen_policies]
    if loaded.principals:
        if principal is not None:
            chosen = [p for p in loaded.principals if p.name.lower() == principal.lower()]
            if not chosen:
                raise DriftError(f"no principal named {principal!r} in the export")
        else:
            chosen = [p for p in loaded.principals if matching_baselines(p, [baseline])]
            if not chosen:
                patterns = ", ".join(baseline.principal.name_patterns) or "none"
                raise DriftError(f"no principal of the export matches {baseline.ref} (name patterns: {patterns}); "
                                 "choose one with --principal NAME")
        return [compare_principal(baseline, p, catalog, given((p.name,)), strict_vars=strict_vars) for p in chosen]
    if principal is not None:
        raise DriftError("--principal names a user, group or role (or, for a resource baseline, a resource) of "
                         "TARGET, which has none")
    standalone = [p for p in loaded.policies if p.subject is None]
    if not standalone:
        raise DriftError("TARGET holds no policy to compare")
    return [compare_policy(baseline, p, catalog, variables, strict_vars=strict_vars) for p in standalone]
