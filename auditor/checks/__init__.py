"""The rule families. Each module defines a ``RULES`` set; :func:`all_rules` joins them in one place."""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module

from auditor.registry import RuleSet

FAMILIES = (
    "auditor.checks.malformed",
    "auditor.checks.unknown_action",
    "auditor.checks.resources",
    "auditor.checks.conditions",
    "auditor.checks.size",
    "auditor.checks.wildcards",
    "auditor.checks.escalation",
    "auditor.checks.versions",
    "auditor.checks.exposure",
    "auditor.checks.trust",
    "auditor.checks.drift_rules",
    "auditor.checks.suppressions",
)


@lru_cache(maxsize=1)
def all_rules() -> RuleSet:
    rules = RuleSet()
    for name in FAMILIES:
        rules.extend(import_module(name).RULES)
    return rules
