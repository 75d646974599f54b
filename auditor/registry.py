"""Rules: metadata, docs and examples beside the function that checks.

A rule is a plain function decorated with :func:`rule`. It receives one policy (or
one principal, for ``scope="principal"``) and a :class:`CheckContext`, and yields
:class:`Hit` objects; the engine turns hits into findings with the rule's metadata
and the location of the element the hit points at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from auditor.model import CATEGORIES, Policy, PolicyKind, Severity, Statement
from auditor.report import RuleDocs, RuleInfo

if TYPE_CHECKING:
    pass

Scope = Literal["policy", "principal", "both"]
"""``both``: the check receives each policy and each principal (dispatch on the type)."""


@dataclass(frozen=True, slots=True)
class Hit:
    message: str
    pointer: str | None = None
    """Where in the document; defaults to the statement, else the policy."""
    statement: Statement | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None
    """Overrides the rule's default for this one hit (e.g. retired vs unknown)."""
    line: int = 0
    column: int = 0
    """Set only when the position is known without a pointer (syntax errors)."""
    policy: Policy | None = None
    """For principal-scope rules: the policy the pointer belongs to."""


@dataclass(frozen=True, slots=True)
class Example:
    """A document and the exact set of rule ids the whole rule set reports on it."""

    document: str
    expect: frozenset[str]
    kind: PolicyKind = PolicyKind.IDENTITY
    note: str = ""
    baseline: str | None = None
    """For drift rules: the bundled baseline id the document (a policy or an export) is compared with."""


@dataclass(frozen=True, slots=True)
class Rule:
    info: RuleInfo
    scope: Scope
    check: Callable[..., Iterable[Hit]]
    bad: tuple[Example, ...]
    good: tuple[Example, ...]

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def slug(self) -> str:
        return self.info.slug


class RuleSet:
    """An ordered collection of rules; families are registered explicitly, never by import side effect."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}
        self._by_slug: dict[str, Rule] = {}

    def rule(
        self,
        id: str,
        slug: str,
        category: str,
        severity: Severity,
        title: str,
        *,
        what: str,
        why: str,
        example: str,
        fix: str,
        bad: Iterable[Example] = (),
        good: Iterable[Example] = (),
        scope: Scope = "policy",
    ) -> Callable[[Callable[..., Iterable[Hit]]], Callable[..., Iterable[Hit]]]:
        if category not in CATEGORIES:
            raise ValueError(f"rule {id}: unknown category {category!r}")

        def register(function: Callable[..., Iterable[Hit]]) -> Callable[..., Iterable[Hit]]:
            if id in self._rules or slug in self._by_slug:
                raise ValueError(f"rule {id} ({slug}) registered twice")
            info = RuleInfo(id, slug, category, severity, title, RuleDocs(what, why, example, fix))
            entry = Rule(info, scope, function, tuple(bad), tuple(good))
            self._rules[id] = entry
            self._by_slug[slug] = entry
            return function

        return register

    def extend(self, other: RuleSet) -> None:
        for entry in other:
            if entry.id in self._rules:
                raise ValueError(f"rule {entry.id} registered twice")
            self._rules[entry.id] = entry
            self._by_slug[entry.slug] = entry

    def __iter__(self) -> Iterator[Rule]:
        return iter(sorted(self._rules.values(), key=lambda r: r.id))

    def __len__(self) -> int:
        return len(self._rules)

    def get(self, key: str) -> Rule | None:
        return self._rules.get(key.upper()) or self._by_slug.get(key.lower())

    def infos(self) -> dict[str, RuleInfo]:
        return {r.id: r.info for r in self}


def example(
    document: str, *expect: str, kind: PolicyKind = PolicyKind.IDENTITY, note: str = "", baseline: str | None = None
) -> Example:
    return Example(document, frozenset(expect), kind, note, baseline)
