"""Results of files already checked: a file whose bytes and run settings are unchanged is not checked again.

The outcome of each file (its findings and what was loaded from it, as plain data) is kept
under the file's path and the digest of its bytes, in one JSON file per *settings key*.
Beside the digest goes the file's ``stat`` signature (size, modification and change times,
inode), as git's index keeps it: a file whose signature is unchanged is not read again. The
change time cannot be set back by any tool, so bytes rewritten in place with the old size and
modification time still count as changed; a file changed less than two seconds before it was
read is trusted only by its digest, because a filesystem with coarse timestamps could hide a
second change within the same tick. The
key covers everything else a file's findings depend on: the version of iam-audit and the
size and time of each of its modules, the catalogue version, the knowledge files in
``rules/``, the load limits, the rule selection and severity overrides, and the contents of
the baselines and escalation files the run reads. Change any of them and the run starts
from an empty store. Files with a time window in a condition (``aws:CurrentTime``,
``aws:EpochTime``, ``aws:TokenIssueTime``) are never stored: whether such a statement still
applies depends on today's date. ``--no-cache`` bypasses the store entirely.

A store that cannot be read or has the wrong shape is ignored and replaced, never trusted
further than its shape; only JSON is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

STORE_FORMAT = 3
KEPT_STORES = 8
"""Stores of other settings kept beside the current one (the least recently used beyond are deleted)."""
MIN_INPUT_BYTES = 512 * 1024
MIN_INPUT_FILES = 16
"""Below this much input, or with fewer files (one account export changes with every fetch, and storing its
18,000 findings costs more than a tenth of checking them), no store is used."""
TIME_KEYS = (b"currenttime", b"epochtime", b"tokenissuetime")
RACY_NANOSECONDS = 2_000_000_000
"""A file changed this recently (FAT's timestamp tick) is trusted only by the digest of its bytes."""

Signature = list[int]
"""(size, modification time, change time, inode) of a file, from ``os.stat``."""


def results_dir() -> Path:
    from auditor.catalog import cache_dir

    return cache_dir() / "results"


def file_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def file_signature(info: os.stat_result, now_ns: int | None = None) -> Signature | None:
    """What shows a file unchanged without reading it; None while a change could still share its timestamp."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    if now_ns - max(info.st_mtime_ns, info.st_ctime_ns) < RACY_NANOSECONDS:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]


def time_dependent(data: bytes) -> bool:
    """Whether the file names a condition key whose outcome changes with the date."""
    lowered = data.lower()
    return any(key in lowered for key in TIME_KEYS)


def _package_state(root: Path, suffixes: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(relative name, size, modification time) of every file below ``root`` with one of ``suffixes``."""
    state = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(suffixes):
                path = os.path.join(folder, name)
                with contextlib.suppress(OSError):
                    info = os.stat(path)
                    state.append((os.path.relpath(path, root), info.st_size, info.st_mtime_ns))
    return state


def _input_state(value: Any) -> Any:
    """A JSON-able picture of a setting; a path that exists stands for its contents."""
    if isinstance(value, (str, Path)):
        path = Path(value)
        with contextlib.suppress(OSError, ValueError):
            if path.is_file():
                return ["file", str(value), file_digest(path.read_bytes())]
            if path.is_dir():
                return ["folder", str(value), _package_state(path, ("",))]
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return _input_state(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _input_state(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_input_state(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return repr(value)


def settings_key(catalog_version: str, settings: Iterable[Any]) -> str:
    """The digest of everything besides a file's bytes that its findings depend on."""
    from auditor import __version__
    from auditor.knowledge import rules_dir

    package = Path(__file__).resolve().parent
    picture = {
        "store": STORE_FORMAT,
        "version": __version__,
        "code": _package_state(package, (".py",)),
        "knowledge": _package_state(rules_dir(), (".json", ".yaml", ".yml")),
        "catalog": catalog_version,
        "settings": [_input_state(item) for item in settings],
    }
    text = json.dumps(picture, sort_keys=True, default=repr)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class ResultStore:
    """The stored outcomes of one settings key: ``get`` before checking a file, ``put`` after, ``save`` at the end."""

    def __init__(self, key: str, directory: Path | None = None) -> None:
        self.path = (directory or results_dir()) / f"results-{key}.json"
        self._entries: dict[str, list[Any]] = self._read()
        self._texts: dict[str, str] = {}
        """Outcomes already encoded as JSON, by file."""
        self._changed = False

    def _read(self) -> dict[str, list[Any]]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(data, dict) or data.get("format") != STORE_FORMAT:
            return {}
        entries = data.get("entries")
        if not isinstance(entries, dict):
            return {}
        return {name: entry for name, entry in entries.items() if _valid_entry(entry)}

    def has(self, name: str) -> bool:
        """Whether anything is stored for this file (under any display path)."""
        return name in self._entries

    def knows(self, name: str, shown: str) -> bool:
        """Whether an outcome of this file is stored (worth reading the file to compare digests)."""
        entry = self._entries.get(name)
        return entry is not None and entry[0] == shown

    def get(self, name: str, shown: str, signature: Signature | None) -> dict[str, Any] | None:
        """The stored outcome of a file whose ``stat`` signature is unchanged (no need to read it)."""
        entry = self._entries.get(name)
        if signature is None or entry is None or entry[0] != shown or entry[2] != signature:
            return None
        outcome: dict[str, Any] = entry[3]
        return outcome

    def get_by_digest(self, name: str, shown: str, digest: str, signature: Signature | None
                      ) -> dict[str, Any] | None:
        """The stored outcome of a file whose bytes are unchanged; its new signature is kept for the next run."""
        entry = self._entries.get(name)
        if entry is None or entry[0] != shown or entry[1] != digest:
            return None
        if signature is not None and entry[2] != signature:
            entry[2] = signature
            self._changed = True
        outcome: dict[str, Any] = entry[3]
        return outcome

    def put(self, name: str, shown: str, digest: str, signature: Signature | None, outcome: dict[str, Any],
            text: str | None = None) -> None:
        """Store an outcome; ``text``, when given, is ``store_text(outcome)`` made beforehand (by a worker)."""
        self._entries[name] = [shown, digest, signature, outcome]
        if text is not None:
            self._texts[name] = text
        else:
            self._texts.pop(name, None)
        self._changed = True

    def save(self) -> None:
        """Write the store if it changed (atomically; a read-only cache directory only costs speed)."""
        if not self._changed:
            with contextlib.suppress(OSError):
                os.utime(self.path)  # recently used: kept when old stores are pruned
            return
        from auditor.catalog import _write_atomically

        try:
            entries = ", ".join(
                f"{_encode(name)}: [{_encode(shown)}, {_encode(digest)}, {_encode(signature)}, "
                f"{self._texts.get(name) or store_text(outcome)}]"
                for name, (shown, digest, signature, outcome) in self._entries.items())
        except (TypeError, ValueError):
            return  # an outcome that is not plain data: nothing is stored rather than something wrong
        text = f'{{"format": {STORE_FORMAT}, "entries": {{{entries}}}}}'  # json.dumps of the whole, in pieces
        _write_atomically(self.path, text)
        self._changed = False
        _prune(self.path.parent, keep=self.path)


def store_text(outcome: Mapping[str, Any]) -> str:
    """An outcome as the store writes it (JSON, UTF-8 kept as is)."""
    return _encode(outcome)


_encode = json.JSONEncoder(ensure_ascii=False).encode


def _valid_entry(entry: Any) -> bool:
    """[display path, digest, signature or None, outcome]."""
    if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], str) and isinstance(entry[1], str)
            and isinstance(entry[3], dict)):
        return False
    signature = entry[2]
    return signature is None or (isinstance(signature, list) and len(signature) == 4
                                 and all(type(item) is int for item in signature))


def _prune(directory: Path, keep: Path) -> None:
    with contextlib.suppress(OSError):
        stores = sorted(directory.glob("results-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in [p for p in stores if p != keep][KEPT_STORES - 1:]:
            old.unlink()
