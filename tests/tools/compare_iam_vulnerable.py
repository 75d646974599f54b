"""Print the IAM Vulnerable verdict table: iam-audit's IAM012 beside cloudsplaining's privilege escalation.

Usage (from the repository root):
    cloudsplaining scan --input-file ../shared/corpus/account-authorization-details.example.json --output /tmp/cs
    PYTHONPATH=. python tests/tools/compare_iam_vulnerable.py \
        /tmp/cs/iam-results-account-authorization-details.example.json

A principal counts as flagged by cloudsplaining when one of its policies (inline, attached, or a group's)
has a PrivilegeEscalation finding, which is how its report attributes policies to principals.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.test_iam_vulnerable import EXPORT, expected_verdicts, iam_audit_flagged


def cloudsplaining_flagged(results_file: Path) -> set[tuple[str, str]]:
    results = json.loads(results_file.read_text(encoding="utf-8"))
    escalating: set[str] = set()
    for section in ("customer_managed_policies", "aws_managed_policies", "inline_policies"):
        for policy_id, entry in results.get(section, {}).items():
            if entry.get("PrivilegeEscalation", {}).get("findings"):
                escalating.add(policy_id)
    group_escalates = {
        name: any(p in escalating for kind in ("inline_policies", "customer_managed_policies", "aws_managed_policies")
                  for p in entry.get(kind, {}))
        for name, entry in ((g["name"], g) for g in results["groups"].values())
    }
    flagged = set()
    for kind, section in (("user", "users"), ("role", "roles")):
        for entry in results[section].values():
            own = any(p in escalating for key in ("inline_policies", "customer_managed_policies",
                                                  "aws_managed_policies") for p in entry.get(key, {}))
            via_group = any(group_escalates.get(g, False) for g in entry.get("groups", {}))
            if own or via_group:
                flagged.add((kind, entry["name"]))
    return flagged


def main() -> None:
    expected = expected_verdicts(json.loads(EXPORT.read_text(encoding="utf-8")))
    ours = iam_audit_flagged()
    theirs = cloudsplaining_flagged(Path(sys.argv[1]))
    rows = []
    for who, verdict in sorted(expected.items()):
        rows.append((who[0], who[1], verdict, who in ours, who in theirs))
    print(f"{'kind':5} {'principal':58} {'expected':9} {'iam-audit':9} {'cloudsplaining':14}")
    for kind, name, verdict, mine, other in rows:
        print(f"{kind:5} {name:58} {'flag' if verdict else 'clean':9} {'flag' if mine else '-':9} "
              f"{'flag' if other else '-':14}")
    for label, flagged in (("iam-audit", ours), ("cloudsplaining", theirs)):
        should = {w for w, v in expected.items() if v}
        clean = {w for w, v in expected.items() if not v}
        others = {w for w in flagged if w not in expected}
        print(f"{label}: finds {len(should & flagged)} of {len(should)}; wrongly flags {len(clean & flagged)} of "
              f"{len(clean)}; also flags {len(others)} principals outside the lab's naming")


if __name__ == "__main__":
    main()
