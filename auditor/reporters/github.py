"""GitHub Actions workflow commands: one annotation per finding, an ``error`` when it fails the run's ``--fail-on``,
else a ``warning`` (medium and above) or a ``notice``.

GitHub shows at most 10 annotations of each level per step (50 per job), so
findings come most severe first, then what the run left out. Suppressed findings are
not annotated; files that could not be read are annotated as errors, each item that
could not be checked as a warning (at its file and line where it names them), and
what was skipped (files plainly not policies, build-output folders) is listed in one notice.
"""

from __future__ import annotations

from auditor.model import Finding, Severity
from auditor.report import Report, subject_text
from auditor.reporters._escape import github_data, github_property
from auditor.reporters._not_checked import not_checked

BELOW_FAIL_ON = {
    Severity.CRITICAL: "warning",
    Severity.HIGH: "warning",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}
"""The level of a finding below ``--fail-on``; one at or above it is an ``error``, as it fails the job."""
_SKIPPED_LISTED = 20


def render(report: Report) -> str:
    findings = sorted(report.active_findings, key=lambda f: (-f.severity.rank, *f.sort_key()))
    lines = [_annotation(finding, "error" if report.fails(finding) else BELOW_FAIL_ON[finding.severity])
             for finding in findings]
    for error in report.errors:
        lines.append(
            _command("error", error.path, error.line, error.column, "iam-audit: input error", error.message)
        )
    for item in not_checked(report):
        lines.append(_command("warning", item.path, item.line, 0, "iam-audit: not checked", item.text))
    for notice in report.summary.expired_suppressions:
        lines.append(_command("warning", str(notice["path"]), int(notice["line"]), 0,
                              "iam-audit: expired suppression", str(notice["message"])))
    skipped = report.summary.skipped
    if skipped:
        listed = "\n".join(f"{path}: {reason}" for path, reason in skipped[:_SKIPPED_LISTED])
        more = f"\n... and {len(skipped) - _SKIPPED_LISTED} more" if len(skipped) > _SKIPPED_LISTED else ""
        lines.append(_command("notice", None, 0, 0, "iam-audit: skipped",
                              f"{len(skipped)} item(s) skipped:\n{listed}{more}"))
    return "".join(f"{line}\n" for line in lines)


def _annotation(finding: Finding, command: str) -> str:
    title = f"{finding.rule_id} {finding.slug} ({finding.severity.value})"
    message = finding.message
    owner = subject_text(finding.subject)
    if owner:
        message += f"\n{owner}"
    location = finding.location
    return _command(command, location.path, location.line, location.column, title, message)


def _command(command: str, path: str | None, line: int, column: int, title: str, message: str) -> str:
    properties = [f"file={github_property(path)}"] if path is not None else []
    if path is not None and line > 0:
        properties.append(f"line={line}")
        if column > 0:
            properties.append(f"col={column}")
    properties.append(f"title={github_property(title)}")
    return f"::{command} {','.join(properties)}::{github_data(message)}"
