"""Knowledge about the catalogue kept as data in ``rules/``: retired actions and global condition keys."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from auditor.knowledge import rules_dir


def _load_json(name: str) -> Any:
    path = rules_dir() / name
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@dataclass(frozen=True, slots=True)
class RetiredActions:
    services: dict[str, Any]

    def is_retired_service(self, service: str) -> bool:
        entry = self.services.get(service.lower())
        return bool(entry and entry.get("retired_service"))

    def retired_action(self, full_name: str) -> dict[str, Any] | None:
        service, _, name = full_name.lower().partition(":")
        entry = self.services.get(service)
        if not entry:
            return None
        found = entry.get("actions", {}).get(name)
        return found if isinstance(found, dict) else None

    def matching(self, service: str, regex: Any) -> list[str]:
        entry = self.services.get(service.lower())
        if not entry:
            return []
        return [info.get("name", name) for name, info in entry.get("actions", {}).items() if regex.match(name)]


@lru_cache(maxsize=1)
def load_retired_actions() -> RetiredActions:
    services: dict[str, Any] = {}
    for name in ("retired-actions.json", "retired-manual.json"):
        try:
            data = _load_json(name)
        except FileNotFoundError:
            continue
        services.update(data.get("services", {}))
    return RetiredActions(services)


@dataclass(frozen=True, slots=True)
class GlobalConditionKey:
    key: str
    """AWS spelling; ``${TagKey}`` stands for any non-empty tag key."""
    type: str
    multivalued: bool
    policy_kinds: tuple[str, ...] | None
    operator_families: tuple[str, ...]
    """Operator families (``String``, ``Arn``, ...) that fit the key, extra families included."""


@dataclass(frozen=True)
class ConditionLanguage:
    """Global condition keys and the condition operators, from ``rules/global-condition-keys.json``."""

    exact_keys: dict[str, GlobalConditionKey]
    """By lower-case name, for keys without a ``${TagKey}`` part."""
    prefixed_keys: tuple[tuple[str, GlobalConditionKey], ...]
    """(lower-case prefix before ``${TagKey}``, key) for tag keys such as ``aws:RequestTag/${TagKey}``."""
    operators: dict[str, tuple[str, str]]
    """Lower-case base operator -> (AWS spelling, family)."""
    type_families: dict[str, tuple[str, ...]]
    operators_without_if_exists: frozenset[str]
    service_key_families: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """By lower-case service key: operator families that fit it besides its catalogue type's
    (``glacier:ArchiveAgeInDays``, a String the vault lock example compares with ``NumericLessThan``)."""

    def global_key(self, name: str) -> GlobalConditionKey | None:
        lowered = name.lower()
        found = self.exact_keys.get(lowered)
        if found is not None:
            return found
        for prefix, entry in self.prefixed_keys:
            if lowered.startswith(prefix) and len(lowered) > len(prefix):
                return entry
        return None

    def operator(self, base: str) -> tuple[str, str] | None:
        """(AWS spelling, family) of a base operator (no qualifier, no ``IfExists``)."""
        return self.operators.get(base.lower())

    def families_for_type(self, key_type: str) -> tuple[str, ...] | None:
        """Operator families that fit a key type; None for a type the data does not describe."""
        families = self.type_families.get(key_type)
        if families is None and key_type.startswith("ArrayOf"):
            families = self.type_families.get(key_type[len("ArrayOf"):])
        return families


@lru_cache(maxsize=1)
def load_condition_language() -> ConditionLanguage:
    document = _load_json("global-condition-keys.json")
    type_families = {name: tuple(families) for name, families in document["type_operator_families"].items()}
    exact: dict[str, GlobalConditionKey] = {}
    prefixed: list[tuple[str, GlobalConditionKey]] = []
    for entry in document["keys"] + document.get("undocumented_keys", []):
        families = type_families.get(entry["type"], ()) + tuple(entry.get("extra_operator_families", ()))
        kinds = entry.get("policy_kinds")
        key = GlobalConditionKey(
            key=entry["key"],
            type=entry["type"],
            multivalued=bool(entry.get("multivalued", entry["type"].startswith("ArrayOf"))),
            policy_kinds=tuple(kinds) if kinds else None,
            operator_families=families,
        )
        name = entry["key"].lower()
        if "${" in name:
            prefixed.append((name.partition("${")[0], key))
        else:
            exact[name] = key
    operators = {name.lower(): (name, family) for name, family in document["operators"].items()}
    return ConditionLanguage(
        exact_keys=exact,
        prefixed_keys=tuple(prefixed),
        operators=operators,
        type_families=type_families,
        operators_without_if_exists=frozenset(o.lower() for o in document.get("operators_without_if_exists", ())),
        service_key_families={entry["key"].lower(): tuple(entry["families"]) for entry in
                              document.get("service_key_operator_families", {}).get("keys", [])},
    )
