"""A pull-request comment in GitHub-flavoured Markdown.

Every string that comes from a policy or a path goes through ``markdown_text``, or
``html_text`` inside raw HTML lines such as ``<summary>`` where GitHub does not parse
Markdown. Rule documentation is ours and is written as Markdown, so it is used as is.
The comment starts with an HTML marker so a CI job can find and update its own
earlier comment instead of adding one per push.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from auditor.model import Finding, Severity
from auditor.report import Report, subject_labels
from auditor.reporters._escape import html_text, markdown_fence
from auditor.reporters._escape import markdown_text as md

MARKER = "<!-- iam-audit report -->"
# GitHub refuses comments over 65,536 characters; rows beyond this are summarised.
DEFAULT_MAX_ROWS = 200
SUPPRESSED_BUDGET = 60_000
"""Characters the whole comment may reach with the table of suppressed findings, whose rows stop before it."""
SEVERITY_ICONS = {
    Severity.CRITICAL: "🟥",
    Severity.HIGH: "🟧",
    Severity.MEDIUM: "🟨",
    Severity.LOW: "🟦",
    Severity.INFO: "⬜",
}


def render(report: Report, *, title: str = "iam-audit report", max_rows: int = DEFAULT_MAX_ROWS) -> str:
    parts = [MARKER, f"## {md(title)}", _verdict(report), _summary_table(report)]
    parts += _findings(report, max_rows)
    parts += _errors(report)
    parts += _expired_suppressions(report)
    footer = _footer(report)
    used = sum(len(part) + 2 for part in parts + footer)
    parts += _suppressed(report, max_rows, SUPPRESSED_BUDGET - used)
    parts += footer
    return "\n\n".join(part for part in parts if part) + "\n"


def _verdict(report: Report) -> str:
    active = report.active_findings
    if not active:
        return (
            "**No findings.**"
            if not report.errors
            else "**No findings**, but some inputs could not be checked."
        )
    counts = report.by_severity()
    words = ", ".join(f"{count} {severity}" for severity, count in counts.items())
    return f"**{len(active)} {_plural(len(active), 'finding')}**: {words}."


def _summary_table(report: Report) -> str:
    counts = report.by_severity()
    rows = [("Severity", "Count"), ("---", "--:")]
    rows += [(f"{SEVERITY_ICONS[s]} {s.value}", str(counts.get(s.value, 0))) for s in reversed(Severity)]
    rows.append(("Files checked", str(report.summary.files)))
    rows.append(("Policies checked", str(report.summary.policies)))
    for kind, count in sorted(report.summary.principals.items()):
        rows.append((md(kind.replace("_", " ").capitalize()), str(count)))
    rows.append(("Input errors", str(len(report.errors))))
    rows.append(("Suppressed", str(len(report.suppressed_findings))))
    return "\n".join(f"| {left} | {right} |" for left, right in rows)


def _findings(report: Report, max_rows: int) -> list[str]:
    by_severity: dict[Severity, list[Finding]] = defaultdict(list)
    for finding in sorted(report.active_findings, key=Finding.sort_key):
        by_severity[finding.severity].append(finding)
    parts: list[str] = []
    remaining = max_rows
    for severity in reversed(Severity):
        findings = by_severity.get(severity)
        if not findings:
            continue
        parts.append(f"### {SEVERITY_ICONS[severity]} {severity.value.capitalize()} ({len(findings)})")
        shown = findings[: max(remaining, 0)]
        remaining -= len(shown)
        if shown:
            rows = ["| Location | Rule | Message |", "| --- | --- | --- |"]
            rows += [f"| {_location(f)} | {_rule_cell(f)} | {_message_cell(f)} |" for f in shown]
            parts.append("\n".join(rows))
        if len(shown) < len(findings):
            parts.append(f"_…and {len(findings) - len(shown)} more; see the full report._")
        parts += _rule_details(report, findings)
    return parts


def _rule_details(report: Report, findings: Iterable[Finding]) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for finding in findings:
        counts[finding.rule_id] += 1
    blocks = []
    for rule_id in sorted(counts):
        rule = report.rules.get(rule_id)
        if rule is None:
            continue
        docs = rule.docs
        blocks.append(
            f"<details><summary>{html_text(f'{rule.id} {rule.slug}: {rule.title}')} ({counts[rule_id]})</summary>\n\n"
            f"{docs.what}\n\n**Why it matters.** {docs.why}\n\n**Fix.** {docs.fix}\n\n"
            f"{markdown_fence(docs.example)}\n\n[Rule documentation]({rule.help_uri})\n\n</details>"
        )
    return blocks


def _errors(report: Report) -> list[str]:
    if not report.errors and not report.summary.not_checked and not report.summary.skipped:
        return []
    lines = ["### Not checked"]
    lines += [f"- {md(str(error))}" for error in report.errors]
    lines += [f"- {md(text)}" for text in report.summary.not_checked]
    lines += [f"- {md(path)}: skipped, {md(reason)}" for path, reason in report.summary.skipped]
    return ["\n".join(lines)]


def _expired_suppressions(report: Report) -> list[str]:
    notices = report.summary.expired_suppressions
    if not notices:
        return []
    lines = ["### Expired suppressions"]
    lines += [f"- ⚠️ {md(str(n['path']))}:{n['line']}: {md(str(n['message']))}" for n in notices]
    return ["\n".join(lines)]


def _suppressed(report: Report, max_rows: int, budget: int) -> list[str]:
    """The suppressed findings, folded: as many rows as ``max_rows`` and the characters left (``budget``) allow."""
    suppressed = sorted(report.suppressed_findings, key=Finding.sort_key)
    if not suppressed:
        return []
    rows = ["| Location | Rule | Message | Reason |", "| --- | --- | --- | --- |"]
    left = budget - 200 - sum(len(row) + 1 for row in rows)  # the <details> wrapping and the closing line
    shown = 0
    for finding in suppressed[:max_rows]:
        row = (f"| {_location(finding)} | {_rule_cell(finding)} | {_message_cell(finding)} | "
               f"{md(finding.suppressed or '')} |")
        left -= len(row) + 1
        if left < 0:
            break
        rows.append(row)
        shown += 1
    if shown < len(suppressed):
        rows.append(f"\n_…and {len(suppressed) - shown} more (the JSON report lists every one)._")
    table = "\n".join(rows)
    return [f"<details><summary>Suppressed findings ({len(suppressed)})</summary>\n\n{table}\n\n</details>"]


def _footer(report: Report) -> list[str]:
    versions = []
    if report.tool_version:
        versions.append(f"iam-audit {md(report.tool_version)}")
    if report.catalog_version:
        versions.append(f"IAM catalogue {md(report.catalog_version)}")
    return [f"<sub>{' · '.join(versions)}</sub>"] if versions else []


def _location(finding: Finding) -> str:
    location = finding.location
    text = f"{location.path}:{location.line}" if location.line else location.path
    return md(text)


def _rule_cell(finding: Finding) -> str:
    return f"{md(finding.rule_id)} {md(finding.slug)}"


def _message_cell(finding: Finding) -> str:
    message = md(finding.message)
    owner = " / ".join(subject_labels(finding.subject))
    if owner:
        message += f"<br><sub>{md(owner)}</sub>"
    if finding.statement is not None:
        sid = finding.statement.sid
        statement = f"Sid {sid}" if sid else f"statement {finding.statement.index}"
        message += f"<br><sub>{md(statement)}</sub>"
    return message


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"
