"""What could not be checked (``summary.not_checked``), located for the CI formats.

The items are sentences that start with where they come from when a file is known:
``path: ...``, ``path:LINE: ...`` or ``path (policy): ...``, the line sometimes in the sentence
(``... at line 37``). SARIF, JUnit and GitHub
annotations want a file and a line, so the location is read back from that prefix: a path
the run read (a checked, skipped or unreadable file), or one that ends like an input file
(a Terraform file whose every policy is unresolved, the configuration file of a mapping).
Anything else (``baseline x/y: ...``, ``user alice: ...``) has no location.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from auditor.report import Report

_LINE = re.compile(r":([1-9][0-9]*)(?=: )")
_LINE_IN_PROSE = re.compile(r"\bat line ([1-9][0-9]*)\b")
_FILE_LIKE = re.compile(r"\.(?:json|ya?ml|template|tf|toml|txt|md|html?)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class NotChecked:
    text: str
    """The whole item, as the console shows it."""
    path: str | None = None
    line: int = 0
    what: str = ""
    """The item without its location prefix (the whole item when it has none)."""


def not_checked(report: Report) -> list[NotChecked]:
    """Every ``not checked`` item of the report, in order, each with its file and line where known."""
    summary = report.summary
    known = {*summary.paths, *(path for path, _ in summary.skipped), *(error.path for error in report.errors),
             *(verdict.path for verdict in summary.verdicts if verdict.path)}
    return [locate(text, known) for text in summary.not_checked]


def locate(text: str, known: Iterable[str]) -> NotChecked:
    """``text`` with the file (and line) its prefix names: a path of ``known``, else one that looks like a file."""
    paths = set(known)
    ends = [index for index, char in enumerate(text) if char == ":" or text.startswith(" (", index)]
    for end in ends:
        candidate = text[:end]
        if candidate in paths or (_FILE_LIKE.search(candidate) and " " not in candidate.strip()):
            return _located(text, candidate, end)
    return NotChecked(text, what=text)


def _located(text: str, path: str, end: int) -> NotChecked:
    line = 0
    match = _LINE.match(text, end)
    if match:
        line, end = int(match.group(1)), match.end()
    rest = text[end:]
    if rest.startswith(": "):
        rest = rest[2:]
    if not line and (in_prose := _LINE_IN_PROSE.search(rest)):  # dynamic "statement" at line 37
        line = int(in_prose.group(1))
    return NotChecked(text, path, line, rest.strip() or text)
