"""GitHub Actions workflow commands: one annotation per finding.

GitHub shows at most 10 annotations of each level per step (50 per job), so
findings come most severe first. Suppressed findings are not annotated; files that
could not be read are annotated as errors.
"""

from __future__ import annotations

from auditor.model import Finding, Severity
from auditor.report import Report
from auditor.reporters._escape import github_data, github_property

COMMANDS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}


def render(report: Report) -> str:
    findings = sorted(report.active_findings, key=lambda f: (-f.severity.rank, *f.sort_key()))
    lines = [_annotation(finding) for finding in findings]
    for error in report.errors:
        lines.append(
            _command("error", error.path, error.line, error.column, "iam-audit: input error", error.message)
        )
    for notice in report.summary.expired_suppressions:
        lines.append(_command("warning", str(notice["path"]), int(notice["line"]), 0,
                              "iam-audit: expired suppression", str(notice["message"])))
    return "".join(f"{line}\n" for line in lines)


def _annotation(finding: Finding) -> str:
    title = f"{finding.rule_id} {finding.slug} ({finding.severity.value})"
    message = finding.message
    subject = finding.subject or {}
    owner = ", ".join(str(subject[key]) for key in ("kind", "name", "policy") if subject.get(key))
    if owner:
        message += f"\n{owner}"
    location = finding.location
    return _command(COMMANDS[finding.severity], location.path, location.line, location.column, title, message)


def _command(command: str, path: str, line: int, column: int, title: str, message: str) -> str:
    properties = [f"file={github_property(path)}"]
    if line > 0:
        properties.append(f"line={line}")
        if column > 0:
            properties.append(f"col={column}")
    properties.append(f"title={github_property(title)}")
    return f"::{command} {','.join(properties)}::{github_data(message)}"
