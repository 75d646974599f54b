"""The history store: schema and migrations, new/resolved/unchanged, a crash mid-write, two writers at once."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from auditor.fingerprint import FINGERPRINT_VERSION
from auditor.history import (
    CRASH_HOOK,
    MIGRATIONS,
    SCHEMA_VERSION,
    History,
    HistoryError,
    default_history_path,
)
from auditor.model import Finding, Location, Severity, StatementRef
from tests.conftest import FIXTURES, REPO, run_cli

RUN1 = FIXTURES / "report" / "run1" / "account.json"
RUN2 = FIXTURES / "report" / "run2" / "account.json"


def _finding(name: str, severity: Severity = Severity.HIGH, baseline: str | None = None) -> tuple[str, Finding]:
    finding = Finding(
        rule_id="IAM201", slug="unknown-action", category="unknown-action", severity=severity,
        title="Unknown action", message=f"{name} is not an action", location=Location("account:111122223333", 3, 5),
        subject={"kind": "role", "name": "app", "arn": None, "policy": "inline:AppPolicy"},
        statement=StatementRef(0, name), baseline=baseline, details={"action": name},
    )
    return f"print-{name}", finding


def test_default_path_follows_xdg(tmp_path: Path) -> None:
    assert default_history_path({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "iam-audit" / "history.sqlite3"
    assert default_history_path({}) == Path.home() / ".local" / "share" / "iam-audit" / "history.sqlite3"
    # a relative XDG_DATA_HOME is invalid by the spec and ignored
    assert default_history_path({"XDG_DATA_HOME": "rel"}).parent.parent == Path.home() / ".local" / "share"


def test_fresh_database_has_current_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "history.sqlite3"
    with History(path) as history:
        assert history.schema_version == SCHEMA_VERSION
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"accounts", "runs", "findings"} <= tables
    columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    assert {"tool_version", "catalog_version", "fingerprint_version"} <= columns


def test_version_1_database_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO accounts (key, label) VALUES ('111122223333', '111122223333')")
    db.execute("INSERT INTO runs (account_id, started_at, recorded_at, inputs, files, policies, not_checked) "
               "VALUES (1, '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:01+00:00', '[]', 1, 3, '[]')")
    stale_print, stale = _finding("s3:GetObjcet")
    db.execute("INSERT INTO findings (run_id, fingerprint, rule_id, severity, category, baseline, data) "
               "VALUES (1, ?, 'IAM201', 'high', 'unknown-action', NULL, '{\"message\": \"old\"}')", (stale_print,))
    db.close()

    with History(path) as history:
        assert history.schema_version == SCHEMA_VERSION
        [old_run] = history.runs("111122223333")
        # made before runs recorded their scheme: with the one of that day, not the current one
        assert old_run.fingerprint_version == "iamAudit/v1" != FINGERPRINT_VERSION
        assert old_run.by_severity == {"high": 1}
        comparison = history.record_run("111122223333", "111122223333", [(stale_print, stale)])
    assert comparison.previous is not None and comparison.previous.id == old_run.id
    assert not comparison.comparable and comparison.new == {stale_print}
    assert not comparison.unchanged and not comparison.resolved


def test_a_database_another_process_holds_is_said_to_be_busy_not_damaged(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The advice was "move it away (a new one is created)": the whole history thrown away for a lock."""
    from auditor import history

    path = tmp_path / "history.db"
    holder = sqlite3.connect(path, isolation_level=None)  # not yet in WAL mode, as any new file: the lock bars readers
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(history, "BUSY_TIMEOUT_MS", 200)
    try:
        with pytest.raises(HistoryError) as caught:
            History(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "in use by another process" in str(caught.value) and "move it away" not in str(caught.value)
    History(path).close()  # free again, and whole


def test_newer_or_foreign_database_is_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite3"
    with History(newer):
        pass
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="newer"):
        History(newer)

    foreign = tmp_path / "foreign.sqlite3"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE something (x)")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="not an iam-audit history"):
        History(foreign)

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(HistoryError):
        History(garbage)


def test_new_resolved_unchanged_across_three_runs(tmp_path: Path) -> None:
    a, b, c, d = (_finding(name) for name in ("a:A", "b:B", "c:C", "d:D"))
    with History(tmp_path / "h.sqlite3") as history:
        first = history.record_run("acct", "acct", [a, b, c])
        assert first.previous is None
        assert first.new == {a[0], b[0], c[0]} and not first.unchanged and not first.resolved

        second = history.record_run("acct", "acct", [b, c, d, d])  # a duplicate fingerprint counts once
        assert second.previous is not None and second.previous.id == first.run.id
        assert second.new == {d[0]}
        assert second.unchanged == {b[0], c[0]}
        assert [s.fingerprint for s in second.resolved] == [a[0]]
        assert second.resolved[0].data["message"] == "a:A is not an action"
        assert second.run.by_severity == {"high": 3}

        other = history.record_run("other", "other", [a])  # accounts are compared separately
        assert other.previous is None and other.new == {a[0]}

        third = history.record_run("acct", "acct", [])
        assert third.previous is not None and third.previous.id == second.run.id
        assert not third.new and not third.unchanged
        assert {s.fingerprint for s in third.resolved} == {b[0], c[0], d[0]}

        trend = history.runs("acct")
        assert [run.total for run in trend] == [3, 3, 0]
        assert [run.id for run in history.runs("acct", limit=2)] == [second.run.id, third.run.id]
        assert history.accounts() == [("acct", "acct"), ("other", "other")]


def test_runs_with_another_fingerprint_scheme_are_not_compared(tmp_path: Path) -> None:
    a = _finding("a:A")
    path = tmp_path / "h.sqlite3"
    with History(path) as history:
        history.record_run("acct", "acct", [a])
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET fingerprint_version = 'iamAudit/v0'")
    db.commit()
    db.close()
    with History(path) as history:
        comparison = history.record_run("acct", "acct", [a])
    assert comparison.previous is not None and not comparison.comparable
    assert comparison.new == {a[0]} and not comparison.unchanged and not comparison.resolved


_RECORD_SCRIPT = """
import sys
from tests.test_history import _finding
from auditor.history import History
with History(sys.argv[1]) as history:
    history.record_run("acct", "acct", [_finding(f"x:A{i}") for i in range(5)])
"""


def test_crash_inside_the_transaction_leaves_the_previous_history(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    with History(path) as history:
        first = history.record_run("acct", "acct", [_finding("x:A0")])
    env = {**os.environ, "PYTHONPATH": str(REPO), CRASH_HOOK: "3"}
    crashed = subprocess.run([sys.executable, "-c", _RECORD_SCRIPT, str(path)], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert crashed.returncode == 9, crashed.stderr
    with History(path) as history:
        assert history.integrity_check() == "ok"
        assert [run.id for run in history.runs("acct")] == [first.run.id]
        after = history.record_run("acct", "acct", [_finding("x:A0"), _finding("x:A1")])
    assert after.previous is not None and after.previous.id == first.run.id
    assert after.new == {"print-x:A1"} and after.unchanged == {"print-x:A0"}


def test_report_process_killed_mid_write_then_next_report_is_consistent(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    first = run_cli("report", str(RUN1), "--output", str(tmp_path / "a"), "--history", str(history),
                    "--fail-on", "never")
    assert first.returncode == 0, first.stderr
    crashed = run_cli("report", str(RUN2), "--output", str(tmp_path / "b"), "--history", str(history),
                      "--fail-on", "never", env={CRASH_HOOK: "1"})
    assert crashed.returncode == 9
    assert not (tmp_path / "b" / "report.json").exists()
    with History(history) as store:
        assert store.integrity_check() == "ok"
        assert len(store.runs("111122223333")) == 1
    again = run_cli("report", str(RUN2), "--output", str(tmp_path / "c"), "--history", str(history),
                    "--fail-on", "never", "--format", "json")
    assert again.returncode == 0, again.stderr

    account = json.loads((tmp_path / "c" / "report.json").read_text())["accounts"][0]
    assert account["previous_run"]["id"] == 1 and account["run"]["id"] == 2  # the crashed run left nothing
    assert account["counts"]["unchanged"] >= 2 and account["counts"]["resolved"] >= 2


def test_two_reports_at_once_both_succeed_and_both_are_recorded(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "auditor", "report", str(source), "--output", str(tmp_path / name),
             "--history", str(history), "--fail-on", "never", "--format", "json"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name, source in (("one", RUN1), ("two", RUN2))
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    documents = [json.loads((tmp_path / name / "report.json").read_text())["accounts"][0] for name in ("one", "two")]
    first, second = sorted(documents, key=lambda account: account["run"]["id"])
    assert (first["run"]["id"], second["run"]["id"]) == (1, 2)
    assert first["previous_run"] is None
    assert second["previous_run"]["id"] == 1  # the later writer saw the earlier one's complete run
    with History(history) as store:
        runs = store.runs("111122223333")
        assert [run.id for run in runs] == [1, 2]
        for run, document in zip(runs, (first, second), strict=True):
            assert len(store.findings_of(run.id)) == document["counts"]["findings"]
        assert store.integrity_check() == "ok"


def test_a_writer_waits_for_a_held_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    with History(path):
        pass
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release() -> None:
        time.sleep(0.8)
        blocker.execute("COMMIT")
        released.set()

    thread = threading.Thread(target=release)
    thread.start()
    started = time.monotonic()
    with History(path) as history:
        comparison = history.record_run("acct", "acct", [_finding("x:A")])
    waited = time.monotonic() - started
    thread.join()
    blocker.close()
    assert released.is_set() and waited >= 0.7
    assert comparison.new == {"print-x:A"}
