"""The terminal report: findings grouped by file, the offending lines shown as ruff and rustc do.

Written straight to a text stream with a handful of ANSI styles: a report of thousands of findings
prints in a fraction of the time a general-purpose rich console takes, and with colour off the
output is plain text.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import TYPE_CHECKING, TextIO

from auditor.model import Finding, Severity
from auditor.report import EXCERPT_CONTEXT_LINES, Report, excerpt_line_numbers, subject_text
from auditor.reporters._escape import strip_control

if TYPE_CHECKING:
    from rich.table import Table

LineReader = Callable[[str, int], "str | None"]

_RESET = "\x1b[0m"
SEVERITY_STYLE = {
    Severity.CRITICAL: "1;37;41",
    Severity.HIGH: "1;31",
    Severity.MEDIUM: "33",
    Severity.LOW: "36",
    Severity.INFO: "2",
}
BOLD, DIM, BLUE, UNDERLINE, YELLOW, GREEN = "1", "2", "34", "1;4", "1;33", "32"
MAX_EXCERPT_WIDTH = 160


def clean(text: str) -> str:
    """Text from a policy, made safe to print: no terminal control sequences."""
    return strip_control(text)


class _Writer:
    def __init__(self, out: TextIO, color: bool) -> None:
        self.out = out
        self.color = color

    def style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}{_RESET}" if self.color and text else text

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")


def render(report: Report, out: TextIO, read_line: LineReader | None = None, show_source: bool = True,
           show_suppressed: bool = False, color: bool = False) -> None:
    writer = _Writer(out, color)
    findings = sorted(report.findings if show_suppressed else report.active_findings, key=Finding.sort_key)
    for path, group in groupby(findings, key=lambda f: f.location.path):
        writer.line(writer.style(clean(path), UNDERLINE))
        # several findings often point at one spot (a statement that enables many escalation methods): their
        # lines first, then the source once, its caret in the colour of the most severe (they sort first)
        for _spot, at_spot in groupby(group, key=lambda f: (f.location.line, f.location.column)):
            spot = list(at_spot)
            for finding in spot:
                _render_finding(finding, writer)
            location = spot[0].location
            if show_source and read_line is not None and location.line:
                writer.out.write(_excerpt(location.path, location.line, location.column,
                                          SEVERITY_STYLE[spot[0].severity], writer, read_line))
        writer.line()
    _render_summary(report, writer, show_suppressed)


def render_line(finding: Finding, out: TextIO, color: bool = False) -> None:
    _render_finding(finding, _Writer(out, color))


def render_quiet(report: Report, out: TextIO, color: bool = False, show_suppressed: bool = False) -> None:
    """``--quiet``: the active findings (and the suppressed ones, with ``--show-suppressed``), one line each, and
    nothing else."""
    for finding in sorted(report.findings if show_suppressed else report.active_findings, key=Finding.sort_key):
        render_line(finding, out, color)


def _render_finding(finding: Finding, writer: _Writer) -> None:
    style = SEVERITY_STYLE[finding.severity]
    location = finding.location
    suppressed = ""
    if finding.suppressed is not None:
        suppressed = " " + writer.style(f"(suppressed: {clean(finding.suppressed)})", DIM)
    subject = ""
    if finding.subject:
        subject = " " + writer.style(f"({clean(subject_text(finding.subject))})", DIM)
    writer.line(f"{clean(str(location))}: {writer.style(finding.severity.value, style)} "
                f"{writer.style(clean(finding.rule_id), BOLD)} {writer.style(clean(finding.slug), DIM)} "
                f"{clean(finding.message)}{subject}{suppressed}")


def _excerpt(path: str, line: int, column: int, style: str, writer: _Writer, read_line: LineReader) -> str:
    """The lines around ``line`` with a caret under ``column``, as text ready to write."""
    shown = []
    width = len(str(line + EXCERPT_CONTEXT_LINES))
    start = 0
    if column > MAX_EXCERPT_WIDTH - 20:
        start = column - 1 - MAX_EXCERPT_WIDTH // 2
    gutter_blank = writer.style(f"{'':>{width}} │", BLUE)
    for number in excerpt_line_numbers(line):
        text = read_line(path, number)
        if text is None:
            continue
        excerpt = text[start:start + MAX_EXCERPT_WIDTH]
        prefix = "…" if start and text[:start].strip() else ""
        suffix = "…" if len(text) > start + MAX_EXCERPT_WIDTH else ""
        marker = writer.style(">", BOLD) if number == line else " "
        shown.append(f" {marker} {writer.style(f'{number:>{width}} │', BLUE)} {clean(prefix + excerpt + suffix)}\n")
        if number == line and column:
            pad = " " * (column - 1 - start + len(prefix))
            shown.append(f"   {gutter_blank} {pad}{writer.style('^', style)}\n")
    return "".join(shown)


def _render_summary(report: Report, writer: _Writer, suppressed_shown: bool = False) -> None:
    summary = report.summary
    counts = report.by_severity()
    writer.line(writer.style("iam-audit summary", BOLD))
    writer.line(f"  {'severity':<10} {'findings':>8}")
    for severity in reversed(Severity):
        label = writer.style(f"{severity.value:<10}", SEVERITY_STYLE[severity])
        writer.line(f"  {label} {counts.get(severity.value, 0):>8}")
    parts = [f"{summary.files} file(s)", f"{summary.policies} polic{'y' if summary.policies == 1 else 'ies'}"]
    singular = {"users": "user", "groups": "group", "roles": "role", "policies": "managed policy",
                "resource_policies": "resource policy"}
    for key, one in singular.items():
        count = summary.principals.get(key)
        if count:
            plural = "managed policies" if key == "policies" else key.replace("_", " ")
            parts.append(f"{count} {one if count == 1 else plural}")
    writer.line("checked: " + ", ".join(parts))
    if report.suppressed_findings:
        listed = "listed above" if suppressed_shown else "--show-suppressed lists them"
        writer.line(f"suppressed: {len(report.suppressed_findings)} finding(s) ({listed})")
    if summary.skipped:
        writer.line(f"skipped: {len(summary.skipped)} item(s)")
        for path, reason in summary.skipped[:20]:
            writer.line("  " + writer.style(f"{clean(path)}: {clean(reason)}", DIM))
        if len(summary.skipped) > 20:
            writer.line("  " + writer.style(f"… and {len(summary.skipped) - 20} more", DIM))
    if summary.not_checked or report.errors:
        writer.line(f"{writer.style('not checked', YELLOW)}: {len(summary.not_checked) + len(report.errors)} item(s)")
        for error in report.errors:
            writer.line("  " + writer.style(clean(str(error)), YELLOW))
        for item in summary.not_checked[:20]:
            writer.line("  " + writer.style(clean(item), YELLOW))
        if len(summary.not_checked) > 20:
            writer.line("  " + writer.style(f"… and {len(summary.not_checked) - 20} more (see --format json)", DIM))
    for notice in summary.expired_suppressions:
        writer.line(f"{writer.style('warning', YELLOW)}: {clean(str(notice['path']))}:{notice['line']}: "
                    f"{clean(str(notice['message']))}")
    several_files = len({verdict.path for verdict in summary.verdicts}) > 1
    for verdict in summary.verdicts:
        where = f"{clean(verdict.path)}: " if several_files and verdict.path else ""
        writer.line(f"{where}{writer.style(clean(verdict.label), BOLD)}: {clean(verdict.verdict)}")
    if not report.active_findings and not report.errors:
        if summary.files or summary.policies:
            writer.line(writer.style("No findings.", GREEN))
        else:  # as ruff says "No files found": a run that checked nothing must not read as a clean one
            see = " (see not checked above)" if summary.not_checked else ""
            writer.line(writer.style(f"No files found: nothing was checked{see}.", YELLOW))


def print_table(table: Table, out: TextIO | None = None) -> None:
    """A listing (rules, baselines) as wide as the terminal, or unwrapped when piped to grep or a file."""
    import sys

    from rich.console import Console

    out = out or sys.stdout
    terminal = out.isatty()
    Console(file=out, highlight=False, width=None if terminal else 10_000).print(table)
