"""Every rule's documented examples, run through the whole pipeline: the exact set of rule ids."""

from __future__ import annotations

import pytest

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, Selection, run_rules
from auditor.loaders import LoadOptions, load_text
from auditor.registry import Example
from auditor.suppress import unused_suppressions

RULES = all_rules()
CASES = [
    pytest.param(example, id=f"{rule.id}-{label}{index}")
    for rule in RULES
    for label, examples in (("bad", rule.bad), ("good", rule.good))
    for index, example in enumerate(examples)
]


def rule_ids(example: Example) -> set[str]:
    loaded = load_text(example.document, "example.json", LoadOptions(kind=example.kind))
    findings = run_rules(loaded, RULES, CheckContext(load_catalog()))
    if example.baseline is not None:
        from auditor.baselines import resolve_baseline
        from auditor.drift import drift_loaded

        for result in drift_loaded(resolve_baseline(example.baseline), loaded, catalog=load_catalog()):
            findings += result.findings
    findings += unused_suppressions(findings, loaded.suppressions, RULES, Selection())
    return {f.rule_id for f in findings}


@pytest.mark.parametrize("example", CASES)
def test_example_reports_exactly_the_documented_rules(example: Example) -> None:
    assert rule_ids(example) == set(example.expect)


@pytest.mark.parametrize("rule", list(RULES), ids=lambda r: r.id)
def test_rule_is_documented_and_exemplified(rule) -> None:  # type: ignore[no-untyped-def]
    docs = rule.info.docs
    for text in (docs.what, docs.why, docs.example, docs.fix, rule.info.title):
        assert text.strip()
    assert rule.bad, f"{rule.id} has no example that it reports"
    assert rule.good, f"{rule.id} has no example that it leaves alone"
    assert any(rule.id in e.expect for e in rule.bad)
    assert all(rule.id not in e.expect for e in rule.good)


def test_rule_ids_and_slugs_are_unique_and_banded() -> None:
    ids = [r.id for r in RULES]
    slugs = [r.slug for r in RULES]
    assert len(ids) == len(set(ids)) and len(slugs) == len(set(slugs))
    for rule in RULES:
        assert rule.id.startswith("IAM") and len(rule.id) == 6 and rule.id[3:].isdigit()
