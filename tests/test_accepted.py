"""Accepting today's findings: --write-accepted records them, --accepted fails only on new ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES, run_cli


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
    said = run_cli("check", "--no-config", "--select", "unknown-action", "--write-accepted", "accepted.json",
                   "policies", cwd=tmp_path)  # it said nothing of what it wrote
    assert said.stderr == "iam-audit: 3 findings written to accepted.json\n", said.stderr
    assert run_cli("check", "--no-config", "--select", "unknown-action", "-q", "--write-accepted", "accepted.json",
                   "policies", cwd=tmp_path).stderr == ""
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


def test_accepted_findings_stay_accepted_from_any_working_folder(tmp_path: Path) -> None:
    """The README says `accepted = ...` in the configuration frees the accepted findings from the working folder, but
    the paths in the file (part of the fingerprints) were relative to the working directory: `cd infra && iam-audit
    check .` reported every accepted finding again. They are now relative to the accepted file's folder."""
    (tmp_path / "infra" / "iam").mkdir(parents=True)
    write_policy(tmp_path / "infra" / "iam" / "a.json", statements(("Read", "s3:GetObjekt"), (None, "s3:PutObjekt")))
    (tmp_path / ".iam-audit.toml").write_text('accepted = "acc.json"\n')
    assert run_cli("check", ".", "--write-accepted", "acc.json", cwd=tmp_path).returncode == 0
    written = json.loads((tmp_path / "acc.json").read_text())
    assert written["paths"] == "relative to this file"
    assert {e["path"] for e in written["findings"]} == {"infra/iam/a.json"}
    for folder, args in ((".", (".",)), ("infra", (".",)), ("infra/iam", ("a.json",)), ("infra", ("../infra",)),
                         ("infra", ("--no-config", "--accepted", "../acc.json", "iam"))):
        result = run_cli("check", "--format", "json", *args, cwd=tmp_path / folder)
        assert result.returncode == 0, (folder, args, result.stdout)
        assert json.loads(result.stdout)["summary"]["suppressed"] == 2, (folder, args)
    # a file written before, without "paths" (relative to the working directory), still works from that folder
    legacy = {key: value for key, value in written.items() if key != "paths"}
    (tmp_path / "acc.json").write_text(json.dumps(legacy))
    assert run_cli("check", ".", cwd=tmp_path).returncode == 0
    assert run_cli("check", ".", cwd=tmp_path / "infra").returncode == 1


def test_an_escalation_naming_its_policy_file_stays_accepted_from_any_working_folder(tmp_path: Path) -> None:
    """IAM012's details name the policies of the escalation: for a policy file, its path from the working folder,
    which the fingerprint took in, so an accepted high IAM012 came back from another folder."""
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "id.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}]}))
    (tmp_path / ".iam-audit.toml").write_text('accepted = "acc.json"\n')
    assert run_cli("check", "pol", "--write-accepted", "acc.json", cwd=tmp_path).returncode == 0
    assert "IAM012" in {e["rule_id"] for e in json.loads((tmp_path / "acc.json").read_text())["findings"]}
    for folder in (".", "pol"):
        result = run_cli("check", "--format", "json", "--fail-on", "low", ".", cwd=tmp_path / folder)
        assert result.returncode == 0, (folder, [f["rule_id"] for f in json.loads(result.stdout)["findings"]])


def test_a_configured_accepted_file_not_written_yet_accepts_nothing_and_says_how_to_record_it(tmp_path: Path) -> None:
    """The README's example configuration has accepted = "iam-audit-accepted.json"; pasted before any
    --write-accepted, it stopped every check and report with "…: accepted-findings file not found" (exit 2), no
    configuration line and no hint. Nothing accepted yet hides no finding: the run goes on, with a located note."""
    (tmp_path / "policies").mkdir()
    write_policy(tmp_path / "policies" / "app.json", statements(("Read", "s3:GetObjekt")))
    (tmp_path / ".iam-audit.toml").write_text('fail-on = "high"\naccepted = "iam-audit-accepted.json"\n')
    note = ("iam-audit: note: .iam-audit.toml:2:1: accepted: iam-audit-accepted.json does not exist yet, so no "
            "finding is accepted; record today's findings with `iam-audit check . --write-accepted "
            "iam-audit-accepted.json`\n")
    checked = run_cli("check", "policies", "--format", "json", cwd=tmp_path)
    assert checked.returncode == 1 and checked.stderr == note
    assert [f["rule_id"] for f in json.loads(checked.stdout)["findings"]] == ["IAM201"]
    report = run_cli("report", "policies", "-o", "out", "--history", "h.db", "-f", "json", "-q", cwd=tmp_path)
    assert report.returncode == 1 and report.stderr == ""  # --quiet: no note
    written = run_cli("check", "policies", "--write-accepted", "iam-audit-accepted.json", cwd=tmp_path)
    assert written.returncode == 0 and "does not exist" not in written.stderr
    again = run_cli("check", "policies", cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == ""
    # named on the command line, a file that does not exist is still an error (a mistyped name), with the hint
    mistyped = run_cli("check", "policies", "--accepted", "iam-audit-acepted.json", cwd=tmp_path)
    assert mistyped.returncode == 2
    assert mistyped.stderr == ("iam-audit: error: iam-audit-acepted.json: accepted-findings file not found (record one "
                               "with --write-accepted iam-audit-acepted.json)\n")


def test_a_file_that_cannot_be_written_is_named_as_given(tmp_path: Path) -> None:
    """The error names the file asked for, not the temporary file written beside it (hunt52:
    ``/proc/.x.json.kd751t40.tmp``)."""
    policy = tmp_path / "p.json"
    policy.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
                      '"Resource": "*"}]}')
    result = run_cli("check", str(policy), "--write-accepted", "/proc/iam-audit-accepted.json", "--no-config")
    assert result.returncode == 2
    assert "/proc/iam-audit-accepted.json" in result.stderr and ".tmp" not in result.stderr


def test_findings_of_an_export_stay_accepted_in_the_next_export_of_the_account(tmp_path: Path) -> None:
    """Exports are dated files (exports/2026-11-18.json, then 2026-11-25.json): the accepted findings of the account's
    principals stay accepted, in check and in report (hunt52: all of them new again)."""
    exports = tmp_path / "exports"
    exports.mkdir()
    first = exports / "2026-11-18.json"
    first.write_text((FIXTURES / "report" / "run1" / "account.json").read_text(encoding="utf-8"), encoding="utf-8")
    accepted = tmp_path / "accepted.json"
    assert run_cli("check", str(first), "--write-accepted", str(accepted), "--no-config", "-q").returncode == 0
    assert all("account_fingerprint" in entry for entry in json.loads(accepted.read_text())["findings"])
    later = exports / "2026-11-25.json"
    first.rename(later)
    result = run_cli("check", str(later), "--accepted", str(accepted), "--no-config", "--format", "json")
    assert result.returncode == 0, result.stdout
    assert [f for f in json.loads(result.stdout)["findings"] if not f.get("suppressed")] == []
    (tmp_path / "cfg.toml").write_text(f'accepted = "{accepted}"\n', encoding="utf-8")
    report = run_cli("report", str(later), "--config", str(tmp_path / "cfg.toml"), "-o", str(tmp_path / "out"),
                     "--history", str(tmp_path / "h.db"), "--fail-on-new", "info")
    assert report.returncode == 0, report.stderr


def test_findings_about_an_aws_managed_policy_of_an_export_stay_accepted_in_the_next_export(tmp_path: Path) -> None:
    """An AWS managed policy's ARN holds no account (arn:aws:iam::aws:policy/...): its findings had no account key,
    so the account's next export, under another name, made them new again (hunt57: 172 of 176)."""
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    export = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [
        {"RoleName": "ops", "Arn": "arn:aws:iam::111122223333:role/ops", "RolePolicyList": [],
         "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
         "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess",
                                      "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]}],
        "Policies": [{"PolicyName": "AdministratorAccess", "Arn": "arn:aws:iam::aws:policy/AdministratorAccess",
                      "DefaultVersionId": "v1", "AttachmentCount": 1, "PolicyVersionList": [
                          {"VersionId": "v1", "IsDefaultVersion": True, "Document": admin}]}]}
    first = tmp_path / "2026-11-18.json"
    first.write_text(json.dumps(export, indent=2), encoding="utf-8")
    accepted = tmp_path / "accepted.json"
    assert run_cli("check", str(first), "--write-accepted", str(accepted), "--no-config", "-q").returncode == 0
    entries = json.loads(accepted.read_text())["findings"]
    assert entries and all("account_fingerprint" in entry for entry in entries)
    later = tmp_path / "2026-11-25.json"
    first.rename(later)
    result = run_cli("check", str(later), "--accepted", str(accepted), "--no-config", "--format", "json")
    assert result.returncode == 0, result.stdout


def test_recording_one_folder_keeps_what_was_accepted_in_the_others(tmp_path: Path) -> None:
    """`check policies --write-accepted` shrank a file of 515 entries to the 11 of policies/ (hunt57); entries of
    files that no longer exist go."""
    wide = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "p.json").write_text(wide)
    assert run_cli("check", "a", "b", "--write-accepted", "acc.json", "--no-config", cwd=tmp_path).returncode == 0
    everything = json.loads((tmp_path / "acc.json").read_text())["findings"]
    only_a = run_cli("check", "a", "--write-accepted", "acc.json", "--no-config", cwd=tmp_path)
    assert only_a.returncode == 0 and "kept, of files this run did not check" in only_a.stderr
    assert json.loads((tmp_path / "acc.json").read_text())["findings"] == everything
    assert run_cli("check", "a", "b", "--accepted", "acc.json", "--no-config", cwd=tmp_path).returncode == 0
    (tmp_path / "b" / "p.json").unlink()
    assert run_cli("check", "a", "--write-accepted", "acc.json", "--no-config", cwd=tmp_path).returncode == 0
    assert {e["path"] for e in json.loads((tmp_path / "acc.json").read_text())["findings"]} == {"a/p.json"}


def test_an_accepted_file_that_is_not_json_is_located(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"Version": "2012-10-17", "Statement": []}')
    (tmp_path / "acc.json").write_text("junk\n")
    result = run_cli("check", "p.json", "--accepted", "acc.json", "--no-config", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("iam-audit: error: acc.json:1:1: not JSON (expecting value)")
