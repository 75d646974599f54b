"""``--format json``: the spec's ``iam-audit/1`` document, one finding per line."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import Finding
from auditor.report import Report
from auditor.reporters._json import LazyItems, readable_chunks

SCHEMA = "iam-audit/1"


def render(report: Report, include_suppressed: bool = False) -> str:
    return "".join(render_chunks(report, include_suppressed))


def render_chunks(report: Report, include_suppressed: bool = False) -> Iterator[str]:
    """The document in pieces, each finding's JSON made as it is written."""
    findings = report.findings if include_suppressed else report.active_findings
    document = {
        "schema": SCHEMA,
        "tool": {"name": "iam-audit", "version": report.tool_version, "catalog": report.catalog_version},
        "findings": LazyItems(findings, Finding.to_json),
        "errors": [e.to_json() for e in report.errors],
        "summary": report.summary_json(),
    }
    return readable_chunks(document, expand=2)
