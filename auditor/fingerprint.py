"""A finding's identity across runs, shared by SARIF, ``--accepted`` and the history store.

``fingerprint(finding)`` is the first 32 hex digits of SHA-256 over the canonical JSON of
:func:`fingerprint_parts`, which are, and are only:

- ``rule``: the rule id (``IAM012``);
- ``path``: the location's path with ``\\`` turned into ``/``, ``./`` and ``..`` resolved;
- ``subject``: kind, name and policy label of the subject (``role``, ``Deployer``, ``inline:ci``);
- ``baseline``: the baseline id of a drift finding;
- ``statement``: ``sid:<Sid>`` when the statement has a Sid, else ``actions:<signature>``: its effect and
  actions as written, case-folded and sorted, and which of the policy's statements with the same ones it is
  (``model.statement_signature``);
- ``key``: what tells two findings of one rule in one statement apart. It is built from
  ``details`` (less a drift finding's placeholder values, ``bindings``): string values
  (and lists, sets and mappings of them), lists sorted and
  de-duplicated, values under keys containing ``action`` case-folded (IAM actions are
  case-insensitive); numbers, and keys naming a position (``line``, ``column``,
  ``pointer``...), are left out. Only when that leaves nothing is the message used,
  with whitespace folded, case folded, ``line 12``/``column 3`` phrases removed and
  every run of fewer than six digits replaced by ``#`` (sizes, counts and positions
  change with every edit; account ids have twelve digits and are kept). The details a
  rule derives from the IAM catalogue (``CATALOGUE_DETAILS``: the actions a wildcard
  expands to, counts of them, suggested spellings) are left out, and for those rules an
  empty key stays empty: a catalogue update, which adds actions to ``s3:*``, changes no
  fingerprint.

Never part of it: line, column, JSON pointer, severity (configurable), category, title,
the wording of the message when details say enough. So reformatting a file, moving a
statement, adding statements above it, or overriding a rule's severity keeps the
fingerprint; renaming the file, the principal or the Sid,
changing a Sid-less statement's actions, or reporting a different action, changes it.
Checks that can report one rule several times in one statement must name what differs in
``details``.

Changing anything here changes every stored fingerprint: bump ``FINGERPRINT_VERSION``.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from auditor.model import Finding

FINGERPRINT_VERSION = "iamAudit/v3"
"""v2: a statement without a Sid is known by its actions, not its position. v3: no detail the IAM catalogue
decides (``CATALOGUE_DETAILS``)."""

CATALOGUE_DETAILS: dict[str, frozenset[str]] = {
    "IAM002": frozenset({"patterns", "write_actions", "examples"}),
    "IAM003": frozenset({"actions", "count"}),
    "IAM013": frozenset({"actions", "action_count"}),
    "IAM020": frozenset({"actions", "reasons"}),
    "IAM021": frozenset({"actions", "reasons"}),
    "IAM022": frozenset({"actions", "reasons"}),
    "IAM030": frozenset({"actions", "write_actions", "credentials_actions"}),
    "IAM200": frozenset({"suggestions"}),
    "IAM201": frozenset({"suggestions"}),
    "IAM202": frozenset({"suggestions"}),
    "IAM400": frozenset({"suggestions"}),
    "IAM901": frozenset({"actions", "added_actions", "possibly_added_actions", "action_count"}),
    "IAM902": frozenset({"removed_actions", "narrowed_actions", "action_count"}),
    "IAM905": frozenset({"actions", "added_actions", "action_count"}),
}
"""By rule, the details that list or count what the catalogue gives (the actions ``s3:*`` or a statement grants,
the closest real names): not what tells two findings of the rule apart, and changed by every catalogue update."""

DRIFT_CONTEXT_DETAILS = ("bindings", "inferred_bindings")
"""Details of a drift finding that say what the comparison assumed (the placeholder values, an ExternalId among
them), not what drifted: rotating the ExternalId keeps the finding."""
_POSITION_KEYS = frozenset(
    {"line", "lines", "column", "columns", "col", "pointer", "pointers", "offset", "position", "index"}
)
_POSITION_PHRASE = re.compile(r"\b(?:lines?|columns?|col)\s+\d+(?:\s*(?:,|-|and|to)\s*\d+)*", re.IGNORECASE)
_SHORT_NUMBER = re.compile(r"(?<!\d)\d{1,5}(?!\d)")


def fingerprint(finding: Finding) -> str:
    canonical = json.dumps(
        fingerprint_parts(finding), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def fingerprint_parts(finding: Finding) -> dict[str, Any]:
    """The inputs of :func:`fingerprint`, readable (for debugging an unexpected mismatch)."""
    subject = finding.subject or {}
    statement = finding.statement
    if statement is None:
        statement_key = ""
    elif statement.sid:
        statement_key = f"sid:{statement.sid.strip()}"
    elif statement.signature:
        statement_key = f"actions:{statement.signature}"
    else:
        statement_key = f"index:{statement.index}"
    details = dict(finding.details)
    revision = details.pop("baseline_revision", None)  # drift: kept in the baseline part, as id@revision
    for context in DRIFT_CONTEXT_DETAILS:
        details.pop(context, None)
    baseline = f"{finding.baseline}@{revision}" if finding.baseline and revision else finding.baseline or ""
    derived = CATALOGUE_DETAILS.get(finding.rule_id.strip().upper())
    for name in derived or ():
        details.pop(name, None)
    key: Any = _normalise_details(details)
    if not key and derived is None:  # the message of these rules lists what the catalogue gives
        key = _normalise_message(finding.message)
    return {
        "rule": finding.rule_id.strip().upper(),
        "path": normalise_path(finding.location.path),
        "subject": [str(subject.get(name) or "") for name in ("kind", "name", "policy")],
        "baseline": baseline,
        "statement": statement_key,
        "key": key,
    }


def normalise_path(path: str) -> str:
    text = path.replace("\\", "/")
    if not text:
        return ""
    return posixpath.normpath(text)


def _normalise_details(details: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in details.items():
        if name.lower() in _POSITION_KEYS:
            continue
        normalised = _normalise_value(value, casefold="action" in name.lower())
        if normalised not in (None, "", [], {}):
            result[str(name)] = normalised
    return result


def _normalise_value(value: Any, *, casefold: bool) -> Any:
    if isinstance(value, str):
        text = value.strip()
        return text.casefold() if casefold else text
    if isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        return _normalise_details(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = [_normalise_value(item, casefold=casefold) for item in value]
        kept = {
            json.dumps(item, sort_keys=True, ensure_ascii=False) for item in items if item not in (None, "")
        }
        return [json.loads(item) for item in sorted(kept)]
    return None  # numbers and anything else: sizes, counts, positions


def _normalise_message(message: str) -> str:
    text = _POSITION_PHRASE.sub("", message)
    text = _SHORT_NUMBER.sub("#", text)
    return " ".join(text.split()).casefold()
