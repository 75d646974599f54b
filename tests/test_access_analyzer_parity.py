"""Our validity findings against AWS IAM Access Analyzer's on the AWS managed policies.

Access Analyzer's ``ValidatePolicy`` findings (MAMIP's run of 2026-03-07) are the reference: at least 90% of
its ERROR and SECURITY_WARNING findings for the issue codes the validity rules own must be matched by one of
ours in the same policy and statement. The other way round, every finding of ours at medium or above that
Access Analyzer lacks must be listed, with its reason, in ``tests/data/aa-parity-exceptions.json``.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, run_rules
from auditor.loaders import LoadOptions, load_paths
from auditor.model import VALIDITY_CATEGORIES, Finding, Severity

EXCEPTIONS_FILE = Path(__file__).resolve().parent / "data" / "aa-parity-exceptions.json"
SERIOUS = ("ERROR", "SECURITY_WARNING")

# Access Analyzer issue code -> the rules of ours that report the same problem.
MATCHING_RULES: dict[str, frozenset[str]] = {
    "INVALID_ACTION": frozenset({"IAM200", "IAM201", "IAM202", "IAM203"}),
    "INVALID_SERVICE_IN_ACTION": frozenset({"IAM200", "IAM201", "IAM202", "IAM203"}),
    "INVALID_SERVICE": frozenset({"IAM200", "IAM201", "IAM203", "IAM300"}),
    "INVALID_SERVICE_CONDITION_KEY": frozenset({"IAM400"}),
    "MISSING_QUALIFIER": frozenset({"IAM402"}),
    "TYPE_MISMATCH": frozenset({"IAM402"}),
    "STRING_LIKE_OPERATOR_WITH_ARN_CONDITION_KEYS": frozenset({"IAM406"}),
    "INVALID_SERVICE_PRINCIPAL_FORMAT": frozenset({"IAM402"}),
    "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA": frozenset({"IAM500"}),
    "REDUNDANT_ACTION": frozenset({"IAM501", "IAM502"}),
    # risk rules of another family: matched only when those rules report the statement
    "PASS_ROLE_WITH_STAR_IN_RESOURCE": frozenset({"IAM003", "IAM012"}),
    "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE": frozenset({"IAM003", "IAM012"}),
}
OWNED_CODES = frozenset({
    "INVALID_SERVICE", "INVALID_SERVICE_CONDITION_KEY", "MISSING_QUALIFIER",
    "STRING_LIKE_OPERATOR_WITH_ARN_CONDITION_KEYS", "INVALID_SERVICE_PRINCIPAL_FORMAT",
})
"""ERROR/SECURITY_WARNING codes the resource, condition and size families answer for (INVALID_SERVICE: the one
in the corpus is in a Resource)."""


@cache
def our_findings(corpus: Path) -> dict[str, list[Finding]]:
    loaded = load_paths((str(corpus / "aws-managed"),), LoadOptions())
    by_policy: dict[str, list[Finding]] = {}
    for finding in run_rules(loaded, all_rules(), CheckContext(load_catalog())):
        by_policy.setdefault(Path(finding.location.path).stem, []).append(finding)
    return by_policy


def analyzer_findings(corpus: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((corpus / "aws-managed-findings").glob("*.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            found.append((path.stem, item))
    return found


def statement_index(item: dict[str, Any]) -> int | None:
    for location in item.get("locations", []):
        path = location.get("path", [])
        if len(path) >= 2 and path[0].get("value") == "Statement" and "index" in path[1]:
            return int(path[1]["index"])
    return None


def matched(policy: str, item: dict[str, Any], ours: dict[str, list[Finding]]) -> bool:
    rules = MATCHING_RULES.get(item["issueCode"], frozenset())
    index = statement_index(item)
    return any(
        f.rule_id in rules and (index is None or f.statement is None or f.statement.index == index)
        for f in ours.get(policy, [])
    )


def exception_key(policy: str, finding: Finding) -> str:
    index = finding.statement.index if finding.statement else "-"
    detail = finding.details.get("resource") or finding.details.get("key") or ""
    return f"{policy}|{finding.rule_id}|{index}|{detail}"


def unmatched_serious_findings(corpus: Path) -> list[str]:
    """Our validity findings at medium or above that no Access Analyzer finding of that policy confirms."""
    return lacking_findings(corpus, low=False)


def lacking_findings(corpus: Path, low: bool) -> list[str]:
    """Our validity findings that no Access Analyzer finding of that policy confirms: at medium or above, or
    (``low``) below medium."""
    ours = our_findings(corpus)
    confirmed: dict[str, list[tuple[str, int | None]]] = {}
    for policy, item in analyzer_findings(corpus):
        confirmed.setdefault(policy, []).append((item["issueCode"], statement_index(item)))
    missing = []
    for policy, findings in ours.items():
        for finding in findings:
            if finding.category not in VALIDITY_CATEGORIES:
                continue
            if (finding.severity.rank < Severity.MEDIUM.rank) != low:
                continue
            index = finding.statement.index if finding.statement else None
            if not any(
                finding.rule_id in MATCHING_RULES.get(code, frozenset())
                and (at is None or index is None or at == index)
                for code, at in confirmed.get(policy, [])
            ):
                missing.append(exception_key(policy, finding))
    return sorted(missing)


def test_access_analyzer_errors_and_security_warnings_are_matched(corpus_dir: Path) -> None:
    ours = our_findings(corpus_dir)
    totals: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for policy, item in analyzer_findings(corpus_dir):
        if item["findingType"] not in SERIOUS:
            continue
        totals[item["issueCode"]] += 1
        hits[item["issueCode"]] += matched(policy, item, ours)
    for code in sorted(totals):
        owner = "owned" if code in OWNED_CODES else "other"
        print(f"{code:48} {owner:5} AA {totals[code]:3}  matched {hits[code]:3}")
    owned_total = sum(totals[c] for c in OWNED_CODES)
    owned_hits = sum(hits[c] for c in OWNED_CODES)
    print(f"owned codes: {owned_hits}/{owned_total} = {owned_hits / owned_total:.2f}; "
          f"all codes: {sum(hits.values())}/{sum(totals.values())} = {sum(hits.values()) / sum(totals.values()):.2f}")
    assert owned_total and owned_hits / owned_total >= 0.9


def test_every_serious_finding_access_analyzer_lacks_has_a_reason(corpus_dir: Path) -> None:
    document = json.loads(EXCEPTIONS_FILE.read_text(encoding="utf-8"))
    listed = {entry["finding"]: entry for entry in document["exceptions"]}
    for entry in listed.values():
        assert entry["reason"].strip() and entry["verdict"] in ("real", "not-analysed-by-access-analyzer")
    missing = unmatched_serious_findings(corpus_dir)
    for key in missing:
        print("lacking in Access Analyzer:", key, "->", listed.get(key, {}).get("verdict", "NO REASON"))
    assert [key for key in missing if key not in listed] == []
    assert sorted(key for key in listed if key not in missing) == [], "stale entries: the finding is gone"


@pytest.mark.parametrize("code", sorted(OWNED_CODES))
def test_owned_codes_have_a_matching_rule(code: str) -> None:
    rules = {r.id for r in all_rules()}
    assert MATCHING_RULES[code] & rules


LOW_EXCEPTIONS_FILE = Path(__file__).resolve().parent / "data" / "aa-parity-exceptions-low.json"


def test_every_low_finding_access_analyzer_lacks_has_a_reason(corpus_dir: Path) -> None:
    listed = {entry["finding"]: entry["reason"] for entry in
              json.loads(LOW_EXCEPTIONS_FILE.read_text(encoding="utf-8"))["exceptions"]}
    assert all(reason.strip() for reason in listed.values())
    missing = lacking_findings(corpus_dir, low=True)
    assert [key for key in missing if key not in listed] == []
    assert sorted(key for key in listed if key not in missing) == [], "stale entries: the finding is gone"
