"""``--format json``: the spec's ``iam-audit/1`` document, one finding per line."""

from __future__ import annotations

from auditor.report import Report
from auditor.reporters._json import readable

SCHEMA = "iam-audit/1"


def render(report: Report, include_suppressed: bool = False) -> str:
    findings = report.findings if include_suppressed else report.active_findings
    document = {
        "schema": SCHEMA,
        "tool": {"name": "iam-audit", "version": report.tool_version, "catalog": report.catalog_version},
        "findings": [f.to_json() for f in findings],
        "errors": [e.to_json() for e in report.errors],
        "summary": report.summary_json(),
    }
    return readable(document, expand=2)
