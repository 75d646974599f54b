"""The terminal report: findings grouped by file, the offending lines shown as ruff and rustc do."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import TYPE_CHECKING

from auditor.model import Finding, Severity
from auditor.report import Report
from auditor.reporters._escape import strip_control

if TYPE_CHECKING:
    from rich.console import Console

LineReader = Callable[[str, int], "str | None"]

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
CONTEXT_LINES = 1
MAX_EXCERPT_WIDTH = 160


def clean(text: str) -> str:
    """Text from a policy, made safe to print: no terminal control sequences, no rich markup."""
    from rich.markup import escape

    return escape(strip_control(text))


def render(report: Report, console: Console, read_line: LineReader | None = None, show_source: bool = True,
           show_suppressed: bool = False) -> None:
    findings = sorted(report.findings if show_suppressed else report.active_findings, key=Finding.sort_key)
    for path, group in groupby(findings, key=lambda f: f.location.path):
        console.print(f"[bold underline]{clean(path)}[/]")
        for finding in group:
            _render_finding(finding, console, read_line if show_source else None)
        console.print()
    for error in report.errors:
        console.print(f"[bold red]error[/]: {clean(str(error))}")
    _render_summary(report, console)


def render_line(finding: Finding, console: Console) -> None:
    _render_finding(finding, console, None)


def _render_finding(finding: Finding, console: Console, read_line: LineReader | None) -> None:
    style = SEVERITY_STYLE[finding.severity]
    location = finding.location
    suppressed = f" [dim](suppressed: {clean(finding.suppressed)})[/]" if finding.suppressed is not None else ""
    subject = ""
    if finding.subject:
        name = finding.subject.get("name")
        policy = finding.subject.get("policy")
        where = f"{finding.subject.get('kind')} {name}" + (f", {policy}" if policy else "")
        subject = f" [dim]({clean(where)})[/]"
    console.print(
        f"{clean(str(location))}: [{style}]{finding.severity.value}[/] [bold]{clean(finding.rule_id)}[/] "
        f"[dim]{clean(finding.slug)}[/] {clean(finding.message)}{subject}{suppressed}",
        highlight=False,
        soft_wrap=True,
    )
    if read_line is None or not location.line:
        return
    width = len(str(location.line + CONTEXT_LINES))
    start = 0
    if location.column > MAX_EXCERPT_WIDTH - 20:
        start = location.column - 1 - MAX_EXCERPT_WIDTH // 2
    for number in range(max(1, location.line - CONTEXT_LINES), location.line + CONTEXT_LINES + 1):
        text = read_line(location.path, number)
        if text is None:
            continue
        excerpt = text[start:start + MAX_EXCERPT_WIDTH]
        prefix = "…" if start and text[:start].strip() else ""
        suffix = "…" if len(text) > start + MAX_EXCERPT_WIDTH else ""
        marker = "[bold]>[/]" if number == location.line else " "
        console.print(f" {marker} [blue]{number:>{width}} │[/] {clean(prefix + excerpt + suffix)}",
                      highlight=False, soft_wrap=True)
        if number == location.line and location.column:
            pad = " " * (location.column - 1 - start + len(prefix))
            console.print(f"   [blue]{'':>{width}} │[/] {pad}[{style}]^[/]", highlight=False, soft_wrap=True)


def _render_summary(report: Report, console: Console) -> None:
    from rich.table import Table

    summary = report.summary
    counts = report.by_severity()
    table = Table(title="iam-audit summary", show_header=True, header_style="bold", title_justify="left")
    table.add_column("severity")
    table.add_column("findings", justify="right")
    for severity in reversed(Severity):
        table.add_row(f"[{SEVERITY_STYLE[severity]}]{severity.value}[/]", str(counts.get(severity.value, 0)))
    console.print(table)
    parts = [f"{summary.files} file(s)", f"{summary.policies} polic{'y' if summary.policies == 1 else 'ies'}"]
    for key in ("users", "groups", "roles", "policies", "resource_policies"):
        if summary.principals.get(key):
            label = "managed policies" if key == "policies" else key.replace("_", " ")
            parts.append(f"{summary.principals[key]} {label}")
    console.print("checked: " + ", ".join(parts), highlight=False)
    if report.suppressed_findings:
        console.print(f"suppressed: {len(report.suppressed_findings)} finding(s) (--show-suppressed lists them)")
    if summary.skipped:
        console.print(f"skipped (not policies): {len(summary.skipped)} file(s)")
        for path, reason in summary.skipped[:20]:
            console.print(f"  [dim]{clean(path)}: {clean(reason)}[/]", highlight=False)
        if len(summary.skipped) > 20:
            console.print(f"  [dim]… and {len(summary.skipped) - 20} more[/]")
    if summary.not_checked or report.errors:
        console.print(f"[bold yellow]not checked[/]: {len(summary.not_checked) + len(report.errors)} item(s)")
        for item in summary.not_checked[:20]:
            console.print(f"  [yellow]{clean(item)}[/]", highlight=False)
        if len(summary.not_checked) > 20:
            console.print(f"  [dim]… and {len(summary.not_checked) - 20} more (see --format json)[/]")
    for principal, verdict in summary.verdicts:
        console.print(f"[bold]{clean(principal)}[/]: {clean(verdict)}", highlight=False)
    total = len(report.active_findings)
    if total == 0 and not report.errors:
        console.print("[green]No findings.[/]")
