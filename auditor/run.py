"""One ``check`` run from request to exit code: load -> rules -> report -> write."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.model import Finding, PolicyKind, Severity
from auditor.output import discard_standard_output, file_or_stdout, write_text
from auditor.report import Report, Summary, Verdict, expired_line

if TYPE_CHECKING:
    from auditor.catalog import Catalog
    from auditor.config import Config, Suppression
    from auditor.engine import CheckContext, Selection
    from auditor.loaders.result import LoadResult

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
    boundary: bool = False
    """Standalone policy files are permissions boundaries (``--kind boundary``)."""
    kinds: tuple[tuple[str, str], ...] = ()
    """The configuration's (glob, kind) pairs for standalone policy files that ``kind`` leaves to them."""
    show_suppressed: bool = False
    show_source: bool = True
    quiet: bool = False
    color: bool = True
    max_file_bytes: int = 200 * 1024 * 1024
    max_nesting: int = 200
    max_statements: int = 10_000
    max_yaml_bytes: int = 20 * 1024 * 1024
    use_cache: bool = True
    force_exclude: bool = False
    """Apply ``exclude`` to files named on the command line too (pre-commit passes every staged file)."""
    severity: Mapping[str, Severity] = field(default_factory=dict)
    """Severity overrides by rule id, slug or category."""
    suppressions: tuple[Suppression, ...] = ()
    accepted: Path | None = None
    """Findings recorded in this file (``--write-accepted``) are reported as suppressed, reason "accepted"."""
    write_accepted: Path | None = None
    """Record the run's active findings here; they count as accepted for this run."""
    context_options: Mapping[str, Any] = field(default_factory=dict)
    """Passed to rules as ``CheckContext.options`` (``escalation_paths``, ``baseline_paths``...)."""
    config: Config | None = None
    """The resolved configuration the request came from (for locating bad names, and for drift)."""

    baselines: tuple[str, ...] = ()
    """Baseline ids (restrict) or paths (add) for drift; empty: every bundled baseline."""
    variables: Mapping[str, str] = field(default_factory=dict)
    baseline_mappings: tuple[Any, ...] = ()
    """(principal name pattern, baseline) pairs from the config; they take precedence over name patterns."""
    jobs: int | None = None
    """Worker processes for loading and checking files (0: one per core; None: one per core for many files)."""


@dataclass(frozen=True)
class DriftSettings:
    """What ``check`` compares principals with: baseline ids or paths, bound placeholders, config mappings."""

    baselines: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    mappings: tuple[Any, ...] = ()


def check_loaded(loaded: LoadResult, selection: Selection, catalog: Catalog, context_options: Mapping[str, Any],
                 drift: DriftSettings, context: CheckContext | None = None, part: tuple[int, int] = (0, 1)
                 ) -> tuple[list[Finding], list[Verdict]]:
    """Every rule and the drift comparison over what was loaded (in this process or in a worker).

    ``context``: one shared by several calls, so that what rules memoise serves them all. ``part``: (k, n)
    checks the k-th of n shares of the policies and principals (see ``run_rules``); drift, which compares
    all principals with the baselines together, runs in share 0.
    """
    from auditor.checks import all_rules
    from auditor.drift import drift_for_check
    from auditor.engine import CheckContext, run_rules
    from auditor.permissions import permission_model

    rules = all_rules()
    context = context or CheckContext(catalog, context_options)
    loaded.adopt_related_principals()
    findings = run_rules(loaded, rules, context, selection, part)
    context.note_principals(())  # a context shared with the next file keeps none of these alive
    verdicts: list[Verdict] = []
    if part[0] == 0:
        resource_policies = [p for p in loaded.policies if p.kind is PolicyKind.RESOURCE and p.subject is not None]
        drift_findings, verdicts = drift_for_check(loaded.principals, drift.baselines, drift.variables, rules,
                                                   selection, catalog, drift.mappings, resource_policies)
        findings.extend(drift_findings)
        loaded.not_checked.extend(_not_compared(loaded, drift, verdicts))
        # in file order, as when each file is checked on its own (principals are compared before resources)
        rank: dict[str, int] = {}
        for source in (*(p.source for p in loaded.policies), *(p.source for p in loaded.principals)):
            rank.setdefault(source.display_path, len(rank))
        verdicts.sort(key=lambda verdict: rank.get(verdict.path, len(rank)))
    permission_model(catalog).forget_policies()  # no later call sees these policies again
    return findings, verdicts


def check_categories(names: Iterable[str]) -> None:
    """``ValueError`` for a ``--category`` value that is not a category of the spec."""
    from auditor.model import CATEGORIES

    for name in names:
        if name.lower() not in CATEGORIES:
            raise ValueError(f"--category: unknown category {name!r}; the categories are {', '.join(CATEGORIES)}")


def _not_compared(loaded: LoadResult, drift: DriftSettings, verdicts: list[Verdict]) -> list[str]:
    """The principals named wholly at deploy time (``RoleName: !Ref Name``) that no baseline was compared with,
    for "not checked"; see ``baselines.not_compared_notes``."""
    from auditor.baselines import name_is_unknown, not_compared_notes

    unknown = [principal for principal in loaded.principals if name_is_unknown(principal.name)]
    if not unknown:
        return []
    from auditor.drift import select_baselines

    compared = {(verdict.principal, verdict.path) for verdict in verdicts}
    return not_compared_notes(unknown, select_baselines(drift.baselines), compared)


def request_from_config(paths: tuple[str, ...], config: Config, **settings: Any) -> CheckRequest:
    """A check request from the resolved configuration; ``settings`` set the rest (and win over the config)."""
    values: dict[str, Any] = {
        "fail_on": config.fail_on,
        "select": config.select,
        "ignore": config.ignore,
        "include": config.include,
        "exclude": config.exclude,
        "kinds": config.kinds,
        "force_exclude": config.force_exclude,
        "max_file_bytes": config.max_file_size * 1024 * 1024,
        "max_nesting": config.max_nesting,
        "severity": dict(config.severity),
        "suppressions": config.suppress,
        "accepted": config.accepted,
        "context_options": config.context_options(),
        "config": config,
        "baselines": tuple(str(p) for p in config.baseline_paths),
        "variables": dict(config.vars),
        "baseline_mappings": config.baselines,
    }
    values.update(settings)
    return CheckRequest(paths=paths, **values)


def build_report(request: CheckRequest) -> tuple[Report, dict[str, Any]]:
    """Load and check; returns the report and the loaded sources (for excerpts)."""
    from auditor import __version__
    from auditor.catalog import load_catalog
    from auditor.checks import all_rules
    from auditor.config import validate_escalation_paths, validate_names
    from auditor.engine import Selection
    from auditor.loaders import LoadOptions
    from auditor.suppress import expired_notice

    options = LoadOptions(include=request.include, exclude=request.exclude, max_file_bytes=request.max_file_bytes,
                          max_yaml_bytes=request.max_yaml_bytes, max_nesting=request.max_nesting,
                          max_statements=request.max_statements, kind=request.kind, boundary=request.boundary,
                          include_root=_config_glob_root(request, "include"),
                          exclude_root=_config_glob_root(request, "exclude"), kinds=request.kinds,
                          kinds_root=os.path.abspath(request.config.root)
                          if request.kinds and request.config is not None else None)
    paths = request.paths
    if request.force_exclude and request.exclude:
        root = request.config.root if request.config is not None else Path.cwd()
        paths = tuple(p for p in paths if not _excluded_file(p, request.exclude, root))
    catalog = load_catalog(use_cache=request.use_cache)
    rules = all_rules()
    from auditor.model import CATEGORIES

    known = {r.id.lower() for r in rules} | {r.slug for r in rules} | {r.info.category for r in rules}
    known |= set(CATEGORIES)
    if request.config is not None:
        validate_names(request.config, known)
        validate_escalation_paths(request.config)
    check_categories(request.categories)
    for name in request.select + request.ignore + tuple(request.severity):
        if name.lower() not in known:
            raise ValueError(f"unknown rule, slug or category {name!r}; `iam-audit rules` lists them")
    for suppression in request.suppressions:
        if suppression.rule.lower() not in known:
            raise ValueError(f"{suppression.origin}: suppress: unknown rule, slug or category {suppression.rule!r}")
    selection = Selection(select=frozenset(request.select), ignore=frozenset(request.ignore),
                          severity=dict(request.severity), categories=frozenset(request.categories))
    drift = DriftSettings(request.baselines, dict(request.variables), tuple(request.baseline_mappings))
    if drift.baselines or drift.mappings:
        from auditor.drift import check_baseline_refs

        check_baseline_refs(drift.baselines, drift.mappings)
    from auditor.parallel import load_and_check

    loaded, findings, verdicts = load_and_check(paths, options, selection, request.jobs, request.use_cache,
                                                request.context_options, drift, reuse_results=True)
    if request.paths and not paths:  # as a folder whose every file the globs leave out: said, never silent
        named = ", ".join(request.paths[:3]) + (f" and {len(request.paths) - 3} more" if len(request.paths) > 3 else "")
        loaded.not_checked.append(f"no files found: exclude (with force-exclude) left out every file named ({named})")
    if drift.baselines or drift.mappings:
        from auditor.drift import unmatched_baselines

        has_principals = any(loaded.counts.get(kind) for kind in ("users", "groups", "roles"))
        has_resources = bool(loaded.counts.get("resource_policies"))
        loaded.not_checked.extend(unmatched_baselines(drift.baselines, drift.mappings, verdicts, has_principals,
                                                      has_resources))
    from auditor.suppress import unused_suppressions

    findings += unused_suppressions(findings, loaded.suppressions, rules, selection)
    looked_at = {policy.source.display_path for policy in loaded.policies}
    looked_at |= {source.display_path for source, _ in loaded.document_problems}
    looked_at |= {principal.source.display_path for principal in loaded.principals}
    looked_at |= {path for path, _ in loaded.skipped} | {error.path for error in loaded.errors}
    looked_at |= {finding.location.path for finding in findings}
    findings, expired = _suppress(findings, loaded.suppressions, request, looked_at)
    findings.sort(key=Finding.sort_key)
    sources: dict[str, Any] = {}
    for policy in loaded.policies:
        sources.setdefault(policy.source.display_path, policy.source)
    for source, _ in loaded.document_problems:
        sources.setdefault(source.display_path, source)
    for principal in loaded.principals:
        sources.setdefault(principal.source.display_path, principal.source)
    for finding in findings:  # a finding in a file that holds no policy itself (a module's attachment file)
        if finding.location.line and finding.location.path not in sources:
            from auditor.parallel import FileSource

            sources[finding.location.path] = FileSource(finding.location.path)
    paths = tuple(sorted(sources))
    summary = Summary(
        files=loaded.files,
        policies=len(loaded.policies),
        principals=dict(loaded.counts),
        skipped=tuple(loaded.skipped),
        not_checked=tuple(loaded.not_checked),
        paths=paths,
        expired_suppressions=tuple(expired_notice(s) for s in expired),
        verdicts=tuple(verdicts),
    )
    report = Report(tuple(findings), tuple(loaded.errors), summary, rules.infos(), __version__, catalog.version,
                    request.fail_on)
    return report, sources


def _config_glob_root(request: CheckRequest, key: str) -> str | None:
    """The configuration file's folder when the ``include`` or ``exclude`` globs come from it (paths in the file
    are relative to its folder, however the folders to check are named); None for globs of the command line,
    which the loader anchors at the working directory (see ``LoadOptions.include_root``)."""
    from auditor.config import COMMAND_LINE, DEFAULT

    config = request.config
    if config is None or config.path is None or config.origin(key) in (DEFAULT, COMMAND_LINE):
        return None
    if getattr(request, key) != getattr(config, key):
        return None
    return os.path.abspath(config.root)


def _excluded_file(path: str, patterns: tuple[str, ...], root: Path) -> bool:
    from auditor.loaders import forms_match, glob_forms

    if os.path.isdir(path):
        return False
    # as named, as findings show it (../ and all), relative to the globs' folder when inside it, or absolute
    candidates, absolute = glob_forms(Path(path), None, os.path.normpath(path))
    relative = os.path.relpath(os.path.abspath(path), root)
    if not relative.startswith(".."):
        candidates.add(relative)
    return any(forms_match((candidates, absolute), pattern) for pattern in patterns)


def _suppress(findings: list[Finding], inline: list[Any], request: CheckRequest, looked_at: Iterable[str] = ()
              ) -> tuple[list[Finding], Any]:
    from auditor.suppress import apply_accepted, apply_suppressions, read_accepted, write_accepted

    root = request.config.root if request.config is not None else Path.cwd()
    outcome = apply_suppressions(findings, request.suppressions, inline, root)
    findings = outcome.findings
    if request.write_accepted is not None:
        count, kept = write_accepted(request.write_accepted, findings, looked_at)
        if not request.quiet:
            sys.stderr.write(f"iam-audit: {count} finding{'' if count == 1 else 's'} written to "
                             f"{request.write_accepted}" + (f" ({kept} kept, of files this run did not check)"
                                                            if kept else "") + "\n")
        findings = apply_accepted(findings, read_accepted(request.write_accepted))
    elif request.accepted is not None:
        findings = apply_accepted(findings, read_accepted(request.accepted))
    return findings, outcome.expired


def render_chunks(report: Report, fmt: str, show_suppressed: bool) -> Iterable[str]:
    """The report in pieces as they are made (JSON and SARIF: finding by finding), else whole."""
    if fmt == "json":
        from auditor.reporters import json_format

        return json_format.render_chunks(report, include_suppressed=show_suppressed)
    if fmt == "sarif":
        from auditor.reporters import sarif

        return sarif.render_chunks(report)
    if fmt == "junit":
        from auditor.reporters import junit

        return (junit.render(report),)
    if fmt == "github":
        from auditor.reporters import github

        return (github.render(report),)
    if fmt == "markdown":
        from auditor.reporters import markdown

        return (markdown.render(report),)
    if fmt == "html":
        from auditor.reporters import html

        return (html.render(report),)
    raise ValueError(f"unknown format {fmt!r}")


def render(report: Report, fmt: str, show_suppressed: bool) -> str:
    return "".join(render_chunks(report, fmt, show_suppressed))


def exit_code(report: Report, fail_on: Severity | None) -> int:
    if report.errors:
        return EXIT_USAGE
    if fail_on is None:
        return EXIT_OK
    if any(f.severity.rank >= fail_on.rank for f in report.active_findings):
        return EXIT_FINDINGS
    return EXIT_OK


def execute_check(request: CheckRequest) -> int:
    targets = _report_targets(request)
    report, sources = build_report(request)
    for fmt, path in targets.items():
        try:
            if fmt == "console":
                _console(report, request, sources, path)
                continue
            text = render_chunks(report, fmt, request.show_suppressed)
            if path is None:
                sys.stdout.writelines(text)
            else:
                write_text(path, text)
        except BrokenPipeError:
            discard_standard_output()
        except OSError as exc:
            where = "standard output" if path is None else str(path)
            raise ValueError(f"cannot write the {fmt} report to {where}: {exc.strerror or exc}") from None
    for error in report.errors:
        sys.stderr.write(f"iam-audit: error: {error}\n")
    if "console" not in targets:
        warn_expired(report.summary)
    return exit_code(report, request.fail_on)


def warn_expired(summary: Summary) -> None:
    """The expired suppressions on standard error, when no console report lists them."""
    for notice in summary.expired_suppressions:
        sys.stderr.write(f"iam-audit: warning: {expired_line(notice)}\n")


def _report_targets(request: CheckRequest) -> dict[str, Path | None]:
    """Where each format's report goes (None: standard output); a usage error (ValueError) when two would share a
    file or standard output."""
    formats = list(request.formats) or ["console"]
    targets: dict[str, Path | None] = {}
    to_stdout = [f for f in formats if f != "console"]
    if request.output is not None:
        unplaced = [f for f in to_stdout if f not in request.extra_outputs]
        if len(unplaced) > 1:
            raise ValueError(f"--output names one file but several formats were asked for ({', '.join(unplaced)}); "
                             "give each its own with --output-<format>")
        if unplaced or to_stdout:
            fmt = unplaced[0] if unplaced else to_stdout[0]
            if fmt in request.extra_outputs:
                raise ValueError(f"--output {request.output} and --output-{fmt} {request.extra_outputs[fmt]} both say "
                                 f"where the {fmt} report goes: give one of them")
            targets[fmt] = file_or_stdout(request.output)
        else:
            targets["console"] = file_or_stdout(request.output)
    for fmt, extra_path in request.extra_outputs.items():
        targets[fmt] = file_or_stdout(extra_path)
    for fmt in formats:
        targets.setdefault(fmt, None)
    by_file: dict[str, str] = {}
    for fmt, path in targets.items():
        if path is not None and (real := os.path.realpath(path)) != os.devnull:
            if real in by_file:
                raise ValueError(f"the {by_file[real]} and {fmt} reports would both be written to {path}, one over "
                                 "the other: give each its own file")
            by_file[real] = fmt
    stdout_formats = [f for f, p in targets.items() if p is None]
    if len(stdout_formats) > 1:
        raise ValueError(
            f"formats {', '.join(stdout_formats)} would all go to standard output; give all but one a file "
            "with --output-<format>"
        )
    return targets


def _console(report: Report, request: CheckRequest, sources: dict[str, Any], path: Path | None) -> None:
    from auditor.reporters import console as console_reporter

    def read_line(shown: str, line: int) -> str | None:
        source = sources.get(shown)
        return source.line_text(line) if source is not None else None

    if path is not None:
        with open(path, "w", encoding="utf-8") as handle:
            console_reporter.render(report, handle, read_line, request.show_source, request.show_suppressed)
        return
    color = use_color(request.color)
    if request.quiet:
        console_reporter.render_quiet(report, sys.stdout, color, request.show_suppressed)
        for notice in report.summary.expired_suppressions:
            sys.stdout.write(f"warning: {expired_line(notice)}\n")
        return
    console_reporter.render(report, sys.stdout, read_line, request.show_source, request.show_suppressed, color)


def use_color(requested: bool) -> bool:
    """Colour when asked for and standard output is a terminal, unless NO_COLOR is set (FORCE_COLOR forces it)."""
    if not requested or "NO_COLOR" in os.environ:
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()

