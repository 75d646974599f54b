"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

``tool.driver.rules`` lists every rule in ``report.rules`` (sorted by id), not only those
with results: a viewer then knows which rules ran, so a missing result means the check
passed, and ``ruleIndex`` of a rule stays the same from one run to the next. Rules that
have findings but no entry in ``report.rules`` are appended, built from the finding.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from auditor.fingerprint import FINGERPRINT_VERSION, fingerprint
from auditor.model import Finding, Severity
from auditor.report import Report, RuleInfo, subject_labels
from auditor.reporters._escape import markdown_fence
from auditor.reporters._json import LazyItems, readable_chunks
from auditor.reporters._not_checked import not_checked

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/iam-audit/iam-audit"
SOURCE_ROOT = "%SRCROOT%"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads `security-severity` (0.0-10.0) to rank security alerts.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def render(report: Report) -> str:
    return "".join(render_chunks(report))


def render_chunks(report: Report) -> Iterator[str]:
    """The log in pieces, each result made as it is written."""
    # runs[0].results[i] sits at depth 4: one result per line
    return readable_chunks(to_sarif(report, lazy_results=True), expand=3, default=_json_fallback)


def to_sarif(report: Report, lazy_results: bool = False) -> dict[str, Any]:
    """The SARIF log; with ``lazy_results``, its results are made only as they are iterated (for writing)."""
    rules = _rule_descriptors(report)
    rule_index = {descriptor["id"]: index for index, descriptor in enumerate(rules)}
    driver: dict[str, Any] = {
        "name": "iam-audit",
        "informationUri": INFORMATION_URI,
        "rules": rules,
    }
    if report.tool_version:
        driver["version"] = report.tool_version
    findings = _sorted(report.findings)

    def result(finding: Finding) -> dict[str, Any]:
        return _result(finding, rule_index[finding.rule_id])

    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [_invocation(report)],
        "columnKind": "unicodeCodePoints",
        "results": LazyItems(findings, result) if lazy_results else [result(finding) for finding in findings],
    }
    if report.catalog_version:
        run["properties"] = {"catalogVersion": report.catalog_version}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _sorted(findings: tuple[Finding, ...]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)


def _rule_descriptors(report: Report) -> list[dict[str, Any]]:
    """One per rule, at the highest severity its findings have in this run (a configured override, a finding
    rated above the rule's default): GitHub and GitLab take an alert's severity from its rule, not its result,
    and understating a finding costs more than overstating one of its neighbours."""
    highest: dict[str, Severity] = {}
    for finding in report.findings:
        current = highest.get(finding.rule_id)
        if current is None or finding.severity.rank > current.rank:
            highest[finding.rule_id] = finding.severity
    descriptors = [_rule_descriptor(report.rules[rule_id], highest.get(rule_id))
                   for rule_id in sorted(report.rules)]
    known = set(report.rules)
    for finding in _sorted(report.findings):
        if finding.rule_id not in known:
            known.add(finding.rule_id)
            descriptors.append(_descriptor_from_finding(finding, highest[finding.rule_id]))
    return descriptors


def _rule_descriptor(rule: RuleInfo, severity: Severity | None) -> dict[str, Any]:
    severity = severity or rule.severity
    docs = rule.docs
    help_text = f"{docs.what}\n\nWhy: {docs.why}\n\nFix: {docs.fix}"
    help_markdown = (
        f"{docs.what}\n\n## Why is this bad?\n\n{docs.why}\n\n"
        f"## Example\n\n{markdown_fence(docs.example)}\n\n## Fix\n\n{docs.fix}\n\n"
        f"[{rule.id} {rule.slug}]({rule.help_uri})"
    )
    return {
        "id": rule.id,
        "name": rule.slug,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": docs.what},
        "help": {"text": help_text, "markdown": help_markdown},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": _rule_properties(rule.category, severity),
    }


def _descriptor_from_finding(finding: Finding, severity: Severity) -> dict[str, Any]:
    return {
        "id": finding.rule_id,
        "name": finding.slug,
        "shortDescription": {"text": finding.title},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": _rule_properties(finding.category, severity),
    }


def _rule_properties(category: str, severity: Severity) -> dict[str, Any]:
    return {
        "category": category,
        "tags": ["security", "iam", category],
        "security-severity": SECURITY_SEVERITY[severity],
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [_location(finding.location.path, finding.location.line, finding.location.column)],
        "partialFingerprints": {FINGERPRINT_VERSION: fingerprint(finding)},
        "properties": _result_properties(finding),
    }
    label = "/".join(subject_labels(finding.subject))
    if label:
        result["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": label, "kind": "object"}]
    if finding.suppressed is not None:
        kind = "inSource" if finding.suppressed_in_source else "external"
        result["suppressions"] = [{"kind": kind, "justification": finding.suppressed}]
    return result


def _result_properties(finding: Finding) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "severity": finding.severity.value,
        "category": finding.category,
        "security-severity": SECURITY_SEVERITY[finding.severity],
    }
    if finding.subject is not None:
        properties["subject"] = dict(finding.subject)
    if finding.statement is not None:
        properties["statement"] = finding.statement.to_json()
    if finding.baseline is not None:
        properties["baseline"] = finding.baseline
    if finding.details:
        properties["details"] = dict(finding.details)
    return properties


def _location(path: str, line: int, column: int) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": artifact_location(path)}
    if line > 0:
        region: dict[str, int] = {"startLine": line}
        if column > 0:
            region["startColumn"] = column
        physical["region"] = region
    return {"physicalLocation": physical}


def artifact_location(path: str) -> dict[str, str]:
    """A relative path becomes a URI under ``%SRCROOT%``; an absolute one, or one that climbs out of the folder
    the run started in (``../p.json``: no URI under the source root can name it), a ``file:`` URI."""
    windows = PureWindowsPath(path)
    if windows.is_absolute():  # C:\\x or \\\\server\\share\\x; a bare drive (``A:``, ``A:x``) is relative
        return {"uri": windows.as_uri()}
    posix = path.replace("\\", "/")
    if posix.startswith("/"):
        return {"uri": PurePosixPath(posix).as_uri()}
    posix = posixpath.normpath(posix)
    if posix == ".." or posix.startswith("../"):
        return {"uri": Path(os.path.abspath(posix)).as_uri()}
    return {"uri": quote(posix, safe="/"), "uriBaseId": SOURCE_ROOT}


def _invocation(report: Report) -> dict[str, Any]:
    """Input errors (level ``error``), what was not checked (``warning``) and the files skipped as not policies
    (``note``) are tool execution notifications: a partial audit never reads as a clean one. The run is
    unsuccessful only when a file could not be read."""
    errors = report.errors
    invocation: dict[str, Any] = {"executionSuccessful": not errors}
    expired = report.summary.expired_suppressions
    if expired:
        invocation["toolConfigurationNotifications"] = [
            _notification("warning", "expired-suppression", str(notice["message"]), str(notice["path"]),
                          int(notice["line"]))
            for notice in expired
        ]
    notifications = [
        _notification("error", "input-error", error.message, error.path, error.line, error.column)
        for error in errors
    ]
    notifications += [_notification("warning", "not-checked", item.text, item.path, item.line)
                      for item in not_checked(report)]
    notifications += [_notification("note", "not-a-policy", f"{path}: skipped, {reason}", path)
                      for path, reason in report.summary.skipped]
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _notification(level: str, descriptor: str, text: str, path: str | None, line: int = 0,
                  column: int = 0) -> dict[str, Any]:
    notification: dict[str, Any] = {"level": level, "descriptor": {"id": descriptor}, "message": {"text": text}}
    if path is not None:
        notification["locations"] = [_location(path, line, column)]
    return notification


def _json_fallback(value: object) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)
