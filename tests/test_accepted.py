"""Accepting today's findings: --write-accepted records them, --accepted fails only on new ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import run_cli


def statements(*pairs: tuple[str | None, str]) -> list[dict[str, object]]:
    result = []
    for sid, action in pairs:
        entry: dict[str, object] = {"Effect": "Allow", "Action": action, "Resource": "arn:aws:s3:::data/*"}
        if sid:
            entry = {"Sid": sid, **entry}
        result.append(entry)
    return result


def write_policy(path: Path, items: list[dict[str, object]], indent: int = 2, blank_lines: int = 0) -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": items}, indent=indent) + "\n"
    path.write_text(text.replace("{", "{" + "\n" * blank_lines, 1))


def run(tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    select = ("--select", "unknown-action", "--select", "malformed")
    result = run_cli("check", "--no-config", "--format", "json", "--show-suppressed", *select, *extra, "policies",
                     cwd=tmp_path)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_only_new_findings_fail_after_accepting(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    policy_file = tmp_path / "policies" / "app.json"
    write_policy(policy_file, statements(("Read", "s3:GetObjekt"), (None, "s3:PutObjekt"), (None, "ec2:Descrybe*")))
    code, before = run(tmp_path)
    assert code == 1
    recorded = {(f["rule_id"], f["statement"]["index"]) for f in before["findings"]}
    assert recorded == {("IAM201", 0), ("IAM201", 1), ("IAM202", 2)}

    code, written = run(tmp_path, "--write-accepted", "accepted.json")
    assert code == 0  # what was just recorded is accepted
    accepted = json.loads((tmp_path / "accepted.json").read_text())
    assert accepted["schema"] == "iam-audit-accepted/1"
    assert {(e["rule_id"], e["path"]) for e in accepted["findings"]} == {("IAM201", "policies/app.json"),
                                                                        ("IAM202", "policies/app.json")}
    assert len(accepted["findings"]) == 3 and all(len(e["fingerprint"]) == 32 for e in accepted["findings"])
    assert written["summary"]["suppressed"] == 3

    code, again = run(tmp_path, "--accepted", "accepted.json")
    assert code == 0
    assert {f.get("suppressed") for f in again["findings"]} == {"accepted"}

    # reformat: other indentation, every statement moved down by inserted lines
    write_policy(policy_file, statements(("Read", "s3:GetObjekt"), (None, "s3:PutObjekt"), (None, "ec2:Descrybe*")),
                 indent=6, blank_lines=7)
    code, moved = run(tmp_path, "--accepted", "accepted.json")
    assert code == 0, moved
    assert moved["summary"]["findings"] == 0 and moved["summary"]["suppressed"] == 3

    # one bad statement appended (Sid-less statements are known by position): one new finding fails the run
    write_policy(policy_file, statements(("Read", "s3:GetObjekt"), (None, "s3:PutObjekt"), (None, "ec2:Descrybe*"),
                                         ("Write", "s3:DeleteObjekt")))
    code, grown = run(tmp_path, "--accepted", "accepted.json")
    assert code == 1
    active = [f for f in grown["findings"] if "suppressed" not in f]
    assert [(f["rule_id"], f["statement"]["sid"]) for f in active] == [("IAM201", "Write")]
    assert grown["summary"]["findings"] == 1 and grown["summary"]["suppressed"] == 3


def test_accepted_file_errors_exit_2(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    write_policy(tmp_path / "policies" / "app.json", statements(("Read", "s3:GetObject")))
    (tmp_path / "bogus.json").write_text('{"findings": []}')
    for name, words in (("missing.json", "accepted-findings file not found"),
                        ("bogus.json", "not an accepted-findings file")):
        result = run_cli("check", "--no-config", "--accepted", name, "policies", cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith(f"iam-audit: error: {name}: {words}"), result.stderr
