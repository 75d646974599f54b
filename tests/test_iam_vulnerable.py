"""IAM Vulnerable (the lab in the shared account export): principal names encode the verdict.

Every ``privesc<N>-...`` and ``fn<N>-...`` user and role, and every ``privesc-<method>-...`` user and
role whose method lies within its own permissions, must get an IAM012 finding; no ``fp<N>-...``
principal may. The ``privesc-<method>`` principals of multi-principal scenarios are not judged
here: the AssumeRole chain (start user, starting, intermediate and ending roles), the
high-privilege role that the PassRole methods pass, and the role whose trust admits the whole
account (its risk is who may assume it, not what it may do).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, Selection, run_rules
from auditor.loaders import LoadOptions, load_paths

EXPORT = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "account-authorization-details.example.json"
MULTI_PRINCIPAL_SCENARIOS = re.compile(r"^privesc-(AssumeRole-|high-priv-service-role|permissive-role-trust)")

Who = tuple[str, str]


def expected_verdicts(export: dict[str, Any]) -> dict[Who, bool]:
    """(kind, name) -> must be flagged, for the lab's principals (others are not judged)."""
    verdicts: dict[Who, bool] = {}
    for kind, section, key in (("user", "UserDetailList", "UserName"), ("role", "RoleDetailList", "RoleName")):
        for entry in export[section]:
            name = entry[key]
            if re.match(r"^(privesc\d+|fn\d+)-", name):
                verdicts[(kind, name)] = True
            elif re.match(r"^fp\d+-", name):
                verdicts[(kind, name)] = False
            elif name.startswith("privesc-") and not MULTI_PRINCIPAL_SCENARIOS.match(name):
                verdicts[(kind, name)] = True
    return verdicts


@lru_cache(maxsize=1)
def _findings() -> tuple[Any, ...]:
    loaded = load_paths([str(EXPORT)], LoadOptions())
    selection = Selection(select=frozenset({"IAM012"}))
    return tuple(run_rules(loaded, all_rules(), CheckContext(load_catalog()), selection))


def iam_audit_flagged() -> set[Who]:
    return {(f.subject["kind"], f.subject["name"]) for f in _findings()
            if f.subject and f.subject["kind"] in ("user", "role")}


@pytest.fixture(scope="module")
def export(shared_dir: Path) -> dict[str, Any]:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


def test_the_lab_is_what_we_expect(export: dict[str, Any]) -> None:
    verdicts = expected_verdicts(export)
    assert sum(verdicts.values()) == 70
    assert sum(not v for v in verdicts.values()) == 10


def test_every_escalating_principal_is_flagged_and_no_false_positive(export: dict[str, Any]) -> None:
    verdicts = expected_verdicts(export)
    flagged = iam_audit_flagged()
    rows = [(kind, name, expected, (kind, name) in flagged) for (kind, name), expected in sorted(verdicts.items())]
    print(f"\n{'kind':5} {'principal':58} {'expected':9} iam-audit")
    for kind, name, expected, got in rows:
        print(f"{kind:5} {name:58} {'flag' if expected else 'clean':9} {'flag' if got else '-'}")
    missed = [name for _, name, expected, got in rows if expected and not got]
    wrong = [name for _, name, expected, got in rows if got and not expected]
    print(f"found {sum(e and g for _, _, e, g in rows)} of {sum(e for _, _, e, _ in rows)}; "
          f"false positives {len(wrong)} of {sum(not e for _, _, e, _ in rows)}")
    assert missed == []
    assert wrong == []


def test_nothing_outside_the_lab_escalates(export: dict[str, Any]) -> None:
    """The account's own roles (SSO admin is full admin, service-linked roles, Quick Setup) are not flagged."""
    verdicts = expected_verdicts(export)
    outside = {who for who in iam_audit_flagged() if who not in verdicts}
    assert outside == set()


def test_each_principal_finding_names_its_actions_and_policies(export: dict[str, Any]) -> None:
    for finding in _findings():
        if finding.subject and finding.subject["name"] == "fn1-privesc3-partial-user" \
                and finding.details["path"] == "passrole-ec2-runinstances":
            assert finding.details["actions"]["iam:PassRole"]["policy"].endswith("policy/fn1-passrole-star")
            assert finding.details["actions"]["ec2:RunInstances"]["policy"].endswith("policy/fn1-privesc3-partial")
            assert len(finding.details["policies"]) == 2
            break
    else:
        pytest.fail("fn1's cross-policy PassRole + RunInstances was not reported")


def test_each_path_is_reported_once_per_principal(export: dict[str, Any]) -> None:
    keys = [(f.subject["kind"], f.subject["name"], f.details["path"]) for f in _findings() if f.subject]
    assert len(keys) == len(set(keys))
