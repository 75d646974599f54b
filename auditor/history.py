"""The history of ``iam-audit report`` runs: one SQLite database, one row per run and account.

Each run is written in one ``BEGIN IMMEDIATE`` transaction that also reads the account's
previous run, so two reports running at once are serialised (the second waits up to
``busy_timeout``) and each compares against a complete earlier run. A process killed in
the middle of a write leaves no trace of its run: SQLite rolls the open transaction back.
The journal is in WAL mode so readers never block the writer.

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` brings any older
database up to :data:`SCHEMA_VERSION` inside one transaction. A database written by a newer
iam-audit is refused rather than guessed at.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from auditor.fingerprint import FINGERPRINT_VERSION
from auditor.model import Finding, Severity
from auditor.output import make_folder

CRASH_HOOK = "IAM_AUDIT_TEST_CRASH_AFTER_FINDINGS"
"""Tests set this to N: the process exits (status 9) after writing N findings, inside the transaction."""
BUSY_TIMEOUT_MS = 60_000

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: accounts, runs and their findings
    (
        """CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL
        )""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            started_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            inputs TEXT NOT NULL,
            files INTEGER NOT NULL,
            policies INTEGER NOT NULL,
            not_checked TEXT NOT NULL
        )""",
        "CREATE INDEX runs_by_account ON runs(account_id, id)",
        """CREATE TABLE findings (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            severity TEXT NOT NULL,
            category TEXT NOT NULL,
            baseline TEXT,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX findings_by_run ON findings(run_id, fingerprint)",
    ),
    # 2: which tool, catalogue and fingerprint scheme produced a run (runs made with another
    # fingerprint scheme cannot be compared finding by finding)
    (
        "ALTER TABLE runs ADD COLUMN tool_version TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN catalog_version TEXT NOT NULL DEFAULT ''",
        # the runs stored before this migration were made with the scheme of its day, whatever the current one is
        "ALTER TABLE runs ADD COLUMN fingerprint_version TEXT NOT NULL DEFAULT 'iamAudit/v1'",
    ),
    # 3: findings a run did not look for (a rule it did not run, roles an incomplete export leaves out), kept from
    # the run before so that the next run neither resolves nor re-reports them
    ("ALTER TABLE findings ADD COLUMN carried INTEGER NOT NULL DEFAULT 0",),
)
SCHEMA_VERSION = len(MIGRATIONS)


class HistoryError(Exception):
    """The database cannot be used (unreadable, not ours, or from a newer iam-audit)."""


def default_history_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/iam-audit/history.sqlite3``, else ``~/.local/share/iam-audit/history.sqlite3``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "iam-audit" / "history.sqlite3"


@dataclass(frozen=True, slots=True)
class StoredFinding:
    fingerprint: str
    rule_id: str
    severity: Severity
    category: str
    baseline: str | None
    data: Mapping[str, Any]
    """The finding as ``Finding.to_json()`` wrote it when it was recorded."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    account_key: str
    account_label: str
    started_at: str
    recorded_at: str
    files: int
    policies: int
    not_checked: tuple[str, ...]
    tool_version: str
    catalog_version: str
    fingerprint_version: str
    by_severity: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


@dataclass(frozen=True, slots=True)
class RunComparison:
    """A recorded run against the account's previous run (None on the first run)."""

    run: RunInfo
    previous: RunInfo | None
    new: frozenset[str]
    """Fingerprints present now and not in the previous run (everything, on a first run)."""
    unchanged: frozenset[str]
    resolved: tuple[StoredFinding, ...]
    """Findings of the previous run that are gone, as they were stored then."""
    carried: int = 0
    """Findings of the previous run this one did not look for, kept for the next comparison (see ``record_run``)."""

    @property
    def comparable(self) -> bool:
        return self.previous is not None and self.previous.fingerprint_version == self.run.fingerprint_version


def _looked_for(stored: StoredFinding, incomplete: bool, rules_run: Collection[str] | None,
                baselines_compared: Collection[str] | None) -> bool:
    """Whether a run looked for a finding of the run before (see ``record_run``)."""
    return not incomplete and (rules_run is None or stored.rule_id in rules_run) and (
        baselines_compared is None or not stored.baseline or stored.baseline in baselines_compared)


def holds_no_run(path: Path) -> bool:
    """Whether the history database at ``path`` records no run (or cannot be read at all); read-only, without the
    migrations and settings of opening a ``History``."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)) as db:
            return not db.execute("SELECT count(*) FROM runs").fetchone()[0]
    except (sqlite3.Error, OSError, ValueError):
        return True


def busy_message(path: Path | str, error: sqlite3.Error) -> str | None:
    """What to say when another process held the database for longer than the run waits (it is not damaged)."""
    if "locked" not in str(error) and "busy" not in str(error):
        return None
    return (f"{path}: the history database is in use by another process (a report still running?) and stayed so "
            f"for {BUSY_TIMEOUT_MS // 1000} s: retry when that has finished")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class History:
    """An open history database; use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            make_folder(self.path.parent)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"{self.path}: cannot open the history database: {exc}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._set_wal()
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise HistoryError(busy_message(self.path, exc) or f"{self.path}: not a usable history database: {exc}"
                               ) from None
        except HistoryError:
            self._db.close()
            raise

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _set_wal(self) -> None:
        # Switching the journal mode needs a moment alone with the file; a concurrent opener can
        # make it fail with SQLITE_BUSY even with a busy timeout, so retry briefly.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL").fetchone()
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        if self.schema_version == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self.schema_version  # again, now that no one else can be migrating
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"{self.path}: history schema version {version} is newer than this iam-audit "
                    f"understands ({SCHEMA_VERSION}); upgrade iam-audit or use another --history"
                )
            if version == 0 and self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise HistoryError(f"{self.path}: an SQLite database that is not an iam-audit history")
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def record_run(
        self,
        account_key: str,
        account_label: str,
        findings: Sequence[tuple[str, Finding]],
        *,
        started_at: str | None = None,
        inputs: Sequence[str] = (),
        files: int = 0,
        policies: int = 0,
        not_checked: Sequence[str] = (),
        tool_version: str = "",
        catalog_version: str = "",
        suppressed: Collection[str] = (),
        rules_run: Collection[str] | None = None,
        baselines_compared: Collection[str] | None = None,
        incomplete: bool = False,
    ) -> RunComparison:
        """Store one run (``findings`` as ``(fingerprint, finding)``) and compare it with the previous one.

        ``suppressed``: fingerprints of findings still present but suppressed now (not stored): a finding of the
        previous run among them is not resolved, only hidden. ``rules_run``: the rules this run ran, where known: a
        finding of the previous run by a rule not run now is not resolved, only no longer looked for.
        ``baselines_compared``: the ids of the baselines this run compared with, where restricted (``--baseline``):
        a drift finding of the previous run against another baseline is not resolved either. ``incomplete``: the
        input leaves out part of the account (one page of an export): no finding of the previous run is resolved.
        The findings of the previous run that were not looked for are kept in this run (``carried``), so that the
        next run does not report them as new."""
        crash_after = int(os.environ.get(CRASH_HOOK) or -1)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT id FROM accounts WHERE key = ?", (account_key,)).fetchone()
            if row is None:
                account_id = db.execute(
                    "INSERT INTO accounts (key, label) VALUES (?, ?)", (account_key, account_label)
                ).lastrowid
            else:
                account_id = row[0]
                db.execute("UPDATE accounts SET label = ? WHERE id = ?", (account_label, account_id))
            previous = self._latest_run(account_key)
            before = self.findings_of(previous.id) if previous is not None else []
            comparable = previous is not None and previous.fingerprint_version == FINGERPRINT_VERSION
            current = {print_ for print_, _ in findings}
            carried = {stored.fingerprint: stored for stored in before if comparable
                       and stored.fingerprint not in current and stored.fingerprint not in suppressed
                       and not _looked_for(stored, incomplete, rules_run, baselines_compared)}
            cursor = db.execute(
                "INSERT INTO runs (account_id, started_at, recorded_at, inputs, files, policies, not_checked, "
                "tool_version, catalog_version, fingerprint_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (account_id, started_at or _now(), _now(), json.dumps(list(inputs)), files, policies,
                 json.dumps(list(not_checked)), tool_version, catalog_version, FINGERPRINT_VERSION),
            )
            run_id = cursor.lastrowid
            assert run_id is not None
            for written, (print_, finding) in enumerate(findings):
                if written == crash_after:
                    os._exit(9)
                db.execute(
                    "INSERT INTO findings (run_id, fingerprint, rule_id, severity, category, baseline, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (run_id, print_, finding.rule_id, finding.severity.value, finding.category, finding.baseline,
                     json.dumps(finding.to_json(), ensure_ascii=False, sort_keys=True, default=str)),
                )
            if crash_after >= 0 and len(findings) <= crash_after:
                os._exit(9)
            for stored in carried.values():
                db.execute(
                    "INSERT INTO findings (run_id, fingerprint, rule_id, severity, category, baseline, data, carried) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                    (run_id, stored.fingerprint, stored.rule_id, stored.severity.value, stored.category,
                     stored.baseline, json.dumps(dict(stored.data), ensure_ascii=False, sort_keys=True, default=str)),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        run = self.run(run_id)
        previous_prints = {stored.fingerprint for stored in before} if comparable else set()
        resolved: dict[str, StoredFinding] = {}
        for stored in before:
            if comparable and stored.fingerprint not in current and stored.fingerprint not in suppressed \
                    and stored.fingerprint not in carried:
                resolved.setdefault(stored.fingerprint, stored)
        return RunComparison(
            run=run,
            previous=previous,
            new=frozenset(current - previous_prints),
            unchanged=frozenset(current & previous_prints),
            resolved=tuple(resolved.values()),
            carried=len(carried),
        )

    def forget_runs(self, run_ids: Sequence[int]) -> None:
        """Take recorded runs back (with their findings), as if never made: their report never reached anyone."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("DELETE FROM runs WHERE id = ?", [(run_id,) for run_id in run_ids])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _latest_run(self, account_key: str) -> RunInfo | None:
        runs = self.runs(account_key, limit=1)
        return runs[-1] if runs else None

    def run(self, run_id: int) -> RunInfo:
        rows = self._run_rows("WHERE runs.id = ?", (run_id,))
        if not rows:
            raise HistoryError(f"{self.path}: no run {run_id}")
        return rows[0]

    def runs(self, account_key: str, limit: int | None = None) -> list[RunInfo]:
        """The account's most recent runs (all when ``limit`` is None), oldest first."""
        where = "WHERE accounts.key = ? ORDER BY runs.id DESC"
        params: tuple[Any, ...] = (account_key,)
        if limit is not None:
            where += " LIMIT ?"
            params += (limit,)
        return list(reversed(self._run_rows(where, params)))

    def _run_rows(self, where: str, params: tuple[Any, ...]) -> list[RunInfo]:
        rows = self._db.execute(
            "SELECT runs.id, accounts.key, accounts.label, started_at, recorded_at, files, policies, not_checked, "
            "tool_version, catalog_version, fingerprint_version FROM runs JOIN accounts ON accounts.id = "
            f"runs.account_id {where}",
            params,
        ).fetchall()
        infos = []
        for row in rows:
            counts = Counter(
                {
                    severity: count
                    for severity, count in self._db.execute(
                        "SELECT severity, count(DISTINCT fingerprint) FROM findings WHERE run_id = ? AND NOT carried "
                        "GROUP BY severity",
                        (row[0],),
                    )
                }
            )
            infos.append(
                RunInfo(
                    id=row[0], account_key=row[1], account_label=row[2], started_at=row[3], recorded_at=row[4],
                    files=row[5], policies=row[6], not_checked=tuple(json.loads(row[7])), tool_version=row[8],
                    catalog_version=row[9], fingerprint_version=row[10],
                    by_severity={s.value: counts[s.value] for s in reversed(Severity) if counts[s.value]},
                )
            )
        return infos

    def findings_of(self, run_id: int) -> list[StoredFinding]:
        rows = self._db.execute(
            "SELECT fingerprint, rule_id, severity, category, baseline, data FROM findings WHERE run_id = ? "
            "ORDER BY id",
            (run_id,),
        )
        return [
            StoredFinding(print_, rule_id, Severity(severity), category, baseline, json.loads(data))
            for print_, rule_id, severity, category, baseline, data in rows
        ]

    def accounts(self) -> list[tuple[str, str]]:
        """``(key, label)`` of every account with a run, in the order they first appeared."""
        return [(key, label) for key, label in self._db.execute("SELECT key, label FROM accounts ORDER BY id")]

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


def fingerprints(stored: Iterable[StoredFinding]) -> frozenset[str]:
    return frozenset(item.fingerprint for item in stored)
