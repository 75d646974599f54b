"""Suppressions: from the configuration, inline in a policy, in CloudFormation Metadata, and accepted findings.

A suppressed finding stays in the report with ``Finding.suppressed`` set to the reason: it is counted,
listed with ``--show-suppressed``, marked in SARIF, and never fails the run. The first source that
matches gives the reason, in this order: configuration, statement ``Sid``, CloudFormation ``Metadata``,
accepted findings.

- Configuration: ``[[suppress]]`` entries (:class:`auditor.config.Suppression`). An entry past its
  ``expires`` date suppresses nothing and is listed as an expired suppression in every format.
- ``Sid``: a statement whose Sid ends in ``IamAuditIgnore`` followed by rule ids
  (``AllowAllIamAuditIgnoreIAM012IAM003``).
- CloudFormation: ``Metadata: {iam-audit: {ignore: [IAM012, {rule: IAM003, reason: ...}]}}`` on a resource
  (collected by the loader as :class:`auditor.loaders.result.InlineSuppression`).
- Accepted findings: a file written by ``--write-accepted`` holding fingerprints.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.config import Suppression
from auditor.loaders.result import InlineSuppression
from auditor.model import (
    DRIFT_CATEGORIES,
    SID_IGNORE,
    SID_IGNORE_MARKER,
    Finding,
    Location,
    StatementRef,
    arn_account,
    sid_ignored_rules,
)

if TYPE_CHECKING:
    from auditor.engine import Selection
    from auditor.registry import Rule, RuleSet

SID_MARKER = SID_IGNORE_MARKER
ACCEPTED_SCHEMA = "iam-audit-accepted/1"
ACCEPTED_REASON = "accepted"
ACCEPTED_PATHS = "relative to this file"
"""The ``paths`` of an accepted-findings file written since paths were anchored at its folder. A file without it
(written before) has paths relative to the working directory of the run that wrote it, and is read so."""


class AcceptedFileError(ValueError):
    pass


class AcceptedFindings(Counter[str]):
    """Fingerprints of an accepted-findings file, with how many findings each stands for, and the folder the paths
    in them are relative to (``anchor``; None: the working directory, for a file written before anchoring).
    ``by_account``: for findings about a principal or policy of an account (an export's), their fingerprints with
    the account in place of the path, so that the next export of the account, in a file of another name
    (``exports/2026-11-25.json``), keeps them accepted."""

    anchor: str | None = None
    by_account: Counter[str] | None = None


def _account_keyed(finding: Finding) -> Finding | None:
    """The finding with ``account:<id>`` in place of its path, for one about an ARN with an account (``account:aws``
    for an AWS managed policy, the same document in every export); else None."""
    arn = (finding.subject or {}).get("arn")
    if not isinstance(arn, str) or not arn:
        return None
    account = "aws" if ":iam::aws:policy/" in arn else arn_account(arn)  # as the export loader tells them
    return _at_path(finding, f"account:{account}") if account else None



def as_before_ignore(finding: Finding) -> Finding | None:
    """The finding as it was before its statement's Sid gained an ``IamAuditIgnore...`` ending (which changes its
    fingerprint: a statement is known by its Sid), or None when the Sid has none."""
    statement = finding.statement
    if statement is None or not statement.sid or SID_IGNORE.search(statement.sid) is None:
        return None
    sid = SID_IGNORE.sub("", statement.sid) or None
    if sid is None and not statement.signature:
        return None
    return replace(finding, statement=replace(statement, sid=sid))


def _rule_matches(name: str, finding: Finding) -> bool:
    key = name.strip().lower()
    return key in (finding.rule_id.lower(), finding.slug.lower(), finding.category.lower())


def _glob(value: str | None, pattern: str) -> bool:
    return value is not None and fnmatch.fnmatchcase(value, pattern)


def _path_candidates(path: str, root: Path) -> list[str]:
    """The finding's path as shown, and relative to the configuration's folder."""
    shown = path.replace("\\", "/")
    candidates = [shown, shown.removeprefix("./")]
    try:
        relative = os.path.relpath(Path(path).resolve(), root.resolve()).replace("\\", "/")
    except (OSError, ValueError):
        relative = ""
    if relative and not relative.startswith(".."):
        candidates.append(relative)
    return candidates


def _path_matches(pattern: str, path: str, root: Path) -> bool:
    pattern = pattern.replace("\\", "/").removeprefix("./")
    for candidate in _path_candidates(path, root):
        if fnmatch.fnmatchcase(candidate, pattern) or fnmatch.fnmatchcase(candidate, pattern.rstrip("/") + "/*"):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatchcase(candidate, pattern[3:]):
            return True
    return False


def _policy_names(subject: Mapping[str, Any] | None) -> list[str]:
    if not subject:
        return []
    label = subject.get("policy")
    if not label:
        return []
    label = str(label)
    names = [label, label.partition(":")[2] or label]
    if label.startswith("arn:"):
        names.append(label.rsplit("/", 1)[-1])
    return names


def matches(suppression: Suppression, finding: Finding, root: Path) -> bool:
    if not _rule_matches(suppression.rule, finding):
        return False
    if suppression.path is not None and not _path_matches(suppression.path, finding.location.path, root):
        return False
    subject = finding.subject or {}
    if suppression.principal is not None and not (
        _glob(subject.get("name"), suppression.principal) or _glob(subject.get("arn"), suppression.principal)
    ):
        return False
    if suppression.policy is not None and not any(
        fnmatch.fnmatchcase(name, suppression.policy) for name in _policy_names(subject)
    ):
        return False
    sid = finding.statement.sid if finding.statement else None
    return suppression.sid is None or _glob(sid, suppression.sid)


def _inline_reason(finding: Finding, inline: _InlineIndex) -> str | None:
    sid = finding.statement.sid if finding.statement else None
    if finding.rule_id.upper() in sid_ignored_rules(sid):
        return f"Sid {sid} ({SID_MARKER})"
    entry = next(inline.covering(finding), None)
    return entry.reason if entry is not None else None


class _InlineIndex:
    """Inline suppressions by file and by the rule id, slug or category they name."""

    def __init__(self, inline: Iterable[InlineSuppression]) -> None:
        self.entries = list(inline)
        self._by_key: dict[tuple[str, str], list[InlineSuppression]] = {}
        for entry in self.entries:
            self._by_key.setdefault((entry.path, entry.rule.strip().lower()), []).append(entry)

    def covering(self, finding: Finding) -> Iterator[InlineSuppression]:
        """The entries written on the resource (Metadata) or statement (Sid) that holds the finding, or on the user,
        group or role the finding is about, naming its rule."""
        path, pointer = finding.location.path, finding.location.pointer
        subject = finding.subject or {}
        for key in (finding.rule_id.lower(), finding.slug.lower(), finding.category.lower()):
            for entry in self._by_key.get((path, key), ()):
                if ((pointer == entry.pointer or pointer.startswith(entry.pointer + "/"))
                        or (entry.principal_name and subject.get("kind") == entry.principal_kind
                            and subject.get("name") == entry.principal_name)) and _in_document(entry, finding):
                    yield entry

    def by_sid(self, finding: Finding) -> list[InlineSuppression]:
        """The Sid markers naming the finding's rule on statements with its statement's Sid."""
        sid = finding.statement.sid if finding.statement else None
        return [entry for entry in self._by_key.get((finding.location.path, finding.rule_id.lower()), ())
                if sid is not None and entry.sid == sid and _in_document(entry, finding)]


def _in_document(entry: InlineSuppression, finding: Finding) -> bool:
    """Whether the finding is in the document of the entry (the documents of a YAML stream share their pointers)."""
    first, last = entry.lines
    line = finding.location.line
    return not last or not line or first <= line <= last


_SELF = frozenset({"iam600", "unused-suppression", "suppression"})
"""How an inline suppression names IAM600 itself: it hides this rule's findings, which are known only after it."""


def unused_suppressions(findings: Sequence[Finding], inline: Sequence[InlineSuppression], rules: RuleSet,
                        selection: Selection) -> list[Finding]:
    """IAM600 for each inline suppression that hides no finding of its file, or names no rule; only what every rule
    it names could judge is judged (see the rule's documentation)."""
    unused = rules.get("IAM600")
    if unused is None or not selection.enabled(unused) or not inline:
        return []
    index = _InlineIndex(inline)
    used: set[int] = set()
    for finding in findings:
        covering = [id(entry) for entry in index.covering(finding)]
        used.update(covering)
        if not covering:  # hidden by its statement's Sid while located elsewhere: every such marker may be the one
            used.update(id(entry) for entry in index.by_sid(finding))
    silenced = {(entry.path, entry.pointer, entry.lines) for entry in index.entries
                if entry.rule.strip().lower() in _SELF}
    reported = []
    for entry in index.entries:
        if not entry.judged or (entry.path, entry.pointer, entry.lines) in silenced:
            continue
        named = [rule for rule in rules if _names(entry.rule, rule)] if entry.rule.strip() else []
        if named and (id(entry) in used or any(
                not selection.enabled(rule) or rule.info.category in DRIFT_CATEGORIES for rule in named)):
            continue  # used, or naming a rule that did not run (a drift rule runs only where a baseline applies)
        message, details = _unused_message(entry, bool(named))
        reported.append(Finding(
            rule_id=unused.id, slug=unused.slug, category=unused.info.category,
            severity=selection.severity_for(unused, unused.info.severity), title=unused.info.title,
            message=message, location=Location(entry.path, entry.line, entry.column, entry.pointer),
            subject=entry.subject, statement=StatementRef(**entry.statement) if entry.statement else None,
            details=details,
        ))
    return reported


def _names(name: str, rule: Rule) -> bool:
    key = name.strip().lower()
    return key in (rule.id.lower(), rule.slug, rule.info.category)


def _unused_message(entry: InlineSuppression, names_a_rule: bool) -> tuple[str, dict[str, Any]]:
    if entry.sid is not None:
        where, details = f"Sid {entry.sid!r}", {"sid": entry.sid, "rule": entry.rule}
        if not entry.rule:
            return (f"{where} has the {SID_MARKER} marker but no rule ids at its end (write them as "
                    f"...{SID_MARKER}IAM012IAM003): it suppresses nothing"), details
        if not names_a_rule:
            return (f"{where} names {entry.rule}, which is no rule id (`iam-audit rules` lists them): it suppresses "
                    "nothing"), details
        return (f"{where} suppresses {entry.rule}, but its statement has no {entry.rule} finding: remove "
                f"{entry.rule} from the Sid, or a finding of it the statement gains later goes unnoticed"), details
    resource = entry.pointer.rsplit("/", 1)[-1]
    details = {"resource": resource, "rule": entry.rule, "reason": entry.reason}
    if not entry.rule:
        return (f"The iam-audit ignore entry of {resource}'s Metadata names no rule (write a rule id, slug or "
                "category, or {rule: IAM003, reason: ...}): it suppresses nothing"), details
    if not names_a_rule:
        return (f"The iam-audit ignore entry of {resource}'s Metadata names {entry.rule!r}, which is no rule id, slug "
                "or category (`iam-audit rules` lists them): it suppresses nothing"), details
    return (f"The iam-audit ignore entry {entry.rule!r} of {resource}'s Metadata suppresses nothing: {resource} has "
            f"no finding of it; remove the entry, or a finding {resource} gains later goes unnoticed"), details


@dataclass(frozen=True, slots=True)
class Outcome:
    findings: list[Finding]
    expired: tuple[Suppression, ...]


def apply_suppressions(
    findings: Iterable[Finding],
    configured: Sequence[Suppression] = (),
    inline: Sequence[InlineSuppression] = (),
    root: Path | None = None,
    today: _dt.date | None = None,
) -> Outcome:
    """Mark findings suppressed by the configuration, a Sid or CloudFormation Metadata."""
    today = today or _dt.date.today()
    root = root or Path.cwd()
    live = [s for s in configured if not s.expired(today)]
    expired = tuple(s for s in configured if s.expired(today))
    index = _InlineIndex(inline)
    result = []
    for finding in findings:
        if finding.suppressed is None:
            reason = next((s.reason for s in live if matches(s, finding, root)), None)
            if reason is not None:
                finding = replace(finding, suppressed=reason)
            else:
                reason = _inline_reason(finding, index)
                if reason is not None:
                    finding = replace(finding, suppressed=reason, suppressed_in_source=True)
        result.append(finding)
    return Outcome(result, expired)


def expired_notice(suppression: Suppression) -> dict[str, Any]:
    """How an expired suppression appears in reports (``summary.expired_suppressions`` in JSON)."""
    path, _, line = suppression.origin.rpartition(":")
    expires = suppression.expires.isoformat() if suppression.expires else ""
    return {
        "path": path,
        "line": int(line) if line.isdigit() else 0,
        "rule": suppression.rule,
        "expires": expires,
        "reason": suppression.reason,
        "message": f"suppression of {suppression.describe()} expired on {expires}; its findings are reported "
                   "again: fix them, or renew the suppression with a new date",
    }


# Accepted findings ------------------------------------------------------------------------------------


def _anchor_of(accepted_file: Path) -> str:
    """The folder the paths of an accepted-findings file are relative to: its own (real) folder."""
    return os.path.realpath(os.path.dirname(os.path.abspath(accepted_file)))


def _anchored(finding: Finding, anchor: str | None) -> Finding:
    """The finding with its path relative to ``anchor`` (unchanged for None, standard input or no path), so that its
    fingerprint is the same from whichever working directory the file was checked: paths are part of it, and of
    the details that name the file (IAM012's policies of a policy file)."""
    path = finding.location.path
    if anchor is None or not path or path == "-":
        return finding
    relative = _relative_to_anchor(path, anchor)
    return finding if relative is None else _at_path(finding, relative)


def _at_path(finding: Finding, path: str) -> Finding:
    """The finding located at ``path`` instead of its own, in its details too (IAM012's policies of a file)."""
    return replace(finding, location=replace(finding.location, path=path),
                   details=_with_path(finding.details, finding.location.path, path))


def _with_path(value: Any, path: str, relative: str) -> Any:
    """``value`` (details) with every string that is ``path`` replaced by ``relative``."""
    if isinstance(value, str):
        return relative if value == path else value
    if isinstance(value, Mapping):
        return {key: _with_path(item, path, relative) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_path(item, path, relative) for item in value]
    return value


def write_accepted(path: Path, findings: Iterable[Finding], looked_at: Iterable[str] = ()) -> tuple[int, int]:
    """Record the active findings; returns how many were written, and how many entries the file held already for
    files the run did not look at (``looked_at``: the paths it read) and that still exist, which are kept: recording
    one folder leaves the others' accepted findings alone. Paths, and so fingerprints, are relative to the file's
    folder (``"paths": "relative to this file"``): the file accepts them whichever folder ``check`` runs from."""
    from auditor.fingerprint import FINGERPRINT_VERSION, fingerprint
    from auditor.output import write_text

    anchor = _anchor_of(path)
    kept = _entries_of_other_files(path, anchor, looked_at)
    entries = []
    for finding in findings:
        if finding.suppressed is not None:
            continue
        anchored = _anchored(finding, anchor)
        entry = {"fingerprint": fingerprint(anchored), "rule_id": finding.rule_id, "path": anchored.location.path,
                 "message": finding.message}
        keyed = _account_keyed(finding)
        if keyed is not None:
            entry["account_fingerprint"] = fingerprint(keyed)
        entries.append(entry)
    written = len(entries)
    entries += kept
    entries.sort(key=lambda e: (e["path"], e["rule_id"], e["fingerprint"], e["message"]))
    document = {"schema": ACCEPTED_SCHEMA, "fingerprint": FINGERPRINT_VERSION, "paths": ACCEPTED_PATHS,
                "findings": entries}
    write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return written, len(kept)


def _entries_of_other_files(path: Path, anchor: str, looked_at: Iterable[str]) -> list[dict[str, Any]]:
    """The entries an accepted-findings file of this version already holds for files that exist and that the run
    did not read; none when it does not exist or cannot be read as one."""
    try:
        read_accepted(path)
        entries = json.loads(path.read_text(encoding="utf-8"))["findings"]
    except (AcceptedFileError, OSError, ValueError, KeyError):
        return []
    read = {_relative_to_anchor(shown, anchor) or shown for shown in looked_at}
    return [entry for entry in entries if isinstance(entry.get("path"), str) and entry["path"] not in read
            and entry["path"] != "-"
            and os.path.exists(os.path.join(anchor, entry["path"]))]


def _relative_to_anchor(path: str, anchor: str) -> str | None:
    """A shown path relative to ``anchor``, its folder's links resolved; None on another drive (Windows)."""
    folder, name = os.path.split(os.path.abspath(path))
    try:
        return os.path.relpath(os.path.join(os.path.realpath(folder), name), anchor).replace(os.sep, "/")
    except ValueError:
        return None


def read_accepted(path: Path) -> AcceptedFindings:
    """Fingerprints in an accepted-findings file, with how many findings each stands for."""
    from auditor.fingerprint import FINGERPRINT_VERSION
    from auditor.reading import read_regular_text

    try:
        document = json.loads(read_regular_text(path))
    except FileNotFoundError:
        raise AcceptedFileError(f"{path}: accepted-findings file not found (record one with --write-accepted "
                                f"{path})") from None
    except OSError as exc:
        raise AcceptedFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AcceptedFileError(f"{path}: not text (UTF-8): not an accepted-findings file; record it again with "
                                "--write-accepted") from None
    except json.JSONDecodeError as exc:
        raise AcceptedFileError(f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg[0].lower()}{exc.msg[1:]}): "
                                "not an accepted-findings file; record it again with --write-accepted") from None
    if not isinstance(document, dict) or document.get("schema") != ACCEPTED_SCHEMA:
        raise AcceptedFileError(f"{path}: not an accepted-findings file (schema {ACCEPTED_SCHEMA}); "
                                "write one with --write-accepted")
    if document.get("fingerprint") != FINGERPRINT_VERSION:
        raise AcceptedFileError(f"{path}: written with fingerprint {document.get('fingerprint')!r}, this version "
                                f"uses {FINGERPRINT_VERSION!r}; record it again with --write-accepted")
    entries = document.get("findings")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries
    ):
        raise AcceptedFileError(f"{path}: findings must be a list of objects with a fingerprint")
    paths = document.get("paths")
    if paths is not None and paths != ACCEPTED_PATHS:
        raise AcceptedFileError(f"{path}: paths {paths!r} is not understood by this version (it reads "
                                f"{ACCEPTED_PATHS!r}); record it again with --write-accepted")
    accepted = AcceptedFindings(e["fingerprint"] for e in entries)
    accepted.anchor = _anchor_of(path) if paths is not None else None
    accepted.by_account = Counter(e["account_fingerprint"] for e in entries
                                  if isinstance(e.get("account_fingerprint"), str))
    return accepted


def apply_accepted(findings: Iterable[Finding], accepted: Counter[str]) -> list[Finding]:
    """Active findings whose fingerprint was accepted become suppressed ("accepted"), as many as recorded. The
    fingerprints are taken with the paths relative to the file's folder when it was written so
    (:class:`AcceptedFindings` ``anchor``), else as shown (relative to the working directory)."""
    from auditor.fingerprint import fingerprint

    anchor = accepted.anchor if isinstance(accepted, AcceptedFindings) else None
    remaining = Counter(accepted)
    by_account = Counter(accepted.by_account or ()) if isinstance(accepted, AcceptedFindings) else Counter()
    result = []
    for finding in findings:
        if finding.suppressed is None:
            key = fingerprint(_anchored(finding, anchor))
            keyed = _account_keyed(finding) if by_account else None
            account_key = fingerprint(keyed) if keyed is not None else None
            if remaining[key] > 0:
                remaining[key] -= 1
                finding = replace(finding, suppressed=ACCEPTED_REASON)
                if account_key is not None and by_account[account_key] > 0:
                    by_account[account_key] -= 1
            elif account_key is not None and by_account[account_key] > 0:  # the account's export, renamed
                by_account[account_key] -= 1
                finding = replace(finding, suppressed=ACCEPTED_REASON)
        result.append(finding)
    return result
