"""One ``check`` run from request to exit code: load -> rules -> report -> write."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.model import Finding, PolicyKind, Severity
from auditor.report import Report, Summary

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class CheckRequest:
    paths: tuple[str, ...]
    formats: tuple[str, ...] = ()
    output: Path | None = None
    extra_outputs: Mapping[str, Path] = field(default_factory=dict)
    fail_on: Any = Severity.HIGH
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    kind: PolicyKind | None = None
    show_suppressed: bool = False
    show_source: bool = True
    quiet: bool = False
    color: bool = True
    max_file_bytes: int = 200 * 1024 * 1024
    max_nesting: int = 200
    max_statements: int = 10_000
    max_yaml_bytes: int = 20 * 1024 * 1024
    use_cache: bool = True


def build_report(request: CheckRequest) -> tuple[Report, dict[str, Any]]:
    """Load and check; returns the report and the loaded sources (for excerpts)."""
    from auditor import __version__
    from auditor.catalog import load_catalog
    from auditor.checks import all_rules
    from auditor.engine import CheckContext, Selection, run_rules
    from auditor.loaders import LoadOptions, load_paths

    options = LoadOptions(include=request.include, exclude=request.exclude, max_file_bytes=request.max_file_bytes,
                          max_yaml_bytes=request.max_yaml_bytes, max_nesting=request.max_nesting,
                          max_statements=request.max_statements, kind=request.kind)
    loaded = load_paths(request.paths, options)
    catalog = load_catalog(use_cache=request.use_cache)
    rules = all_rules()
    known = {r.id.lower() for r in rules} | {r.slug for r in rules} | {r.info.category for r in rules}
    from auditor.model import CATEGORIES

    known |= set(CATEGORIES)
    for name in request.select + request.ignore + request.categories:
        if name.lower() not in known:
            raise ValueError(f"unknown rule, slug or category {name!r}; `iam-audit rules` lists them")
    select = frozenset(request.select) | frozenset(request.categories)
    selection = Selection(select=select, ignore=frozenset(request.ignore))
    findings = run_rules(loaded, rules, CheckContext(catalog), selection)
    findings.sort(key=Finding.sort_key)
    sources: dict[str, Any] = {}
    for policy in loaded.policies:
        sources.setdefault(policy.source.display_path, policy.source)
    for source, _ in loaded.document_problems:
        sources.setdefault(source.display_path, source)
    paths = tuple(sorted(sources))
    summary = Summary(
        files=loaded.files,
        policies=len(loaded.policies),
        principals=dict(loaded.counts),
        skipped=tuple(loaded.skipped),
        not_checked=tuple(loaded.not_checked),
        paths=paths,
    )
    report = Report(tuple(findings), tuple(loaded.errors), summary, rules.infos(), __version__, catalog.version)
    return report, sources


def render(report: Report, fmt: str, show_suppressed: bool) -> str:
    if fmt == "json":
        from auditor.reporters import json_format

        return json_format.render(report, include_suppressed=show_suppressed)
    if fmt == "sarif":
        from auditor.reporters import sarif

        return sarif.render(report)
    if fmt == "junit":
        from auditor.reporters import junit

        return junit.render(report)
    if fmt == "github":
        from auditor.reporters import github

        return github.render(report)
    if fmt == "markdown":
        from auditor.reporters import markdown

        return markdown.render(report)
    if fmt == "html":
        from auditor.reporters import html

        return html.render(report)
    raise ValueError(f"unknown format {fmt!r}")


def exit_code(report: Report, fail_on: Severity | None) -> int:
    if report.errors:
        return EXIT_USAGE
    if fail_on is None:
        return EXIT_OK
    if any(f.severity.rank >= fail_on.rank for f in report.active_findings):
        return EXIT_FINDINGS
    return EXIT_OK


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def execute_check(request: CheckRequest) -> int:
    formats = list(request.formats) or ["console"]
    targets: dict[str, Path | None] = {}
    to_stdout = [f for f in formats if f != "console"]
    if request.output is not None:
        if len(to_stdout) > 1:
            raise ValueError("--output names one file but several formats were asked for; use --output-<format>")
        if to_stdout:
            targets[to_stdout[0]] = request.output
        else:
            targets["console"] = request.output
    for fmt, extra_path in request.extra_outputs.items():
        targets[fmt] = extra_path
    for fmt in formats:
        targets.setdefault(fmt, None)
    stdout_formats = [f for f, p in targets.items() if p is None]
    if len(stdout_formats) > 1:
        raise ValueError(
            f"formats {', '.join(stdout_formats)} would all go to standard output; give all but one a file "
            "with --output-<format>"
        )
    report, sources = build_report(request)
    for fmt, path in targets.items():
        if fmt == "console":
            _console(report, request, sources, path)
            continue
        text = render(report, fmt, request.show_suppressed)
        if path is None:
            sys.stdout.write(text)
        else:
            write_text(path, text)
    if "console" not in targets and report.errors:
        for error in report.errors:
            sys.stderr.write(f"iam-audit: error: {error}\n")
    return exit_code(report, request.fail_on)


def _console(report: Report, request: CheckRequest, sources: dict[str, Any], path: Path | None) -> None:
    from rich.console import Console

    from auditor.reporters import console as console_reporter

    def read_line(shown: str, line: int) -> str | None:
        source = sources.get(shown)
        return source.line_text(line) if source is not None else None

    if path is not None:
        with open(path, "w", encoding="utf-8") as handle:
            console = Console(file=handle, no_color=True, highlight=False, width=200, soft_wrap=True)
            console_reporter.render(report, console, read_line, request.show_source, request.show_suppressed)
        return
    no_color = not request.color or "NO_COLOR" in os.environ
    console = Console(no_color=no_color, highlight=False, soft_wrap=True)
    if request.quiet:
        quiet_report = Report(report.findings, report.errors, Summary(), report.rules)
        for finding in sorted(quiet_report.active_findings, key=Finding.sort_key):
            console_reporter.render_line(finding, console)
        return
    console_reporter.render(report, console, read_line, request.show_source, request.show_suppressed)
