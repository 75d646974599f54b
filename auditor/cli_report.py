"""``iam-audit report``: the typer command; the work is in :mod:`auditor.scheduled`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli_check import (
    CONFIG_HELP,
    NO_COLOR_HELP,
    NO_CONFIG_HELP,
    UsageProblem,
    baselines_and_vars,
    load_config,
    plain_output,
    refuse_inputs_as_outputs,
    rule_names,
    without_missing_accepted,
)

EXIT_USAGE = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"iam-audit: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _severity(value: Optional[str], option: str) -> object:
    from auditor.model import Severity

    if value is None or value.lower() == "never":
        return None
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise _fail(f"{option}: {exc} or never") from None


def _categories(values: Optional[list[str]]) -> tuple[str, ...]:
    """``--category`` values (repeatable, comma-separated), each a category of the spec: checked here, before the
    history database is opened, with check's message."""
    from auditor.run import check_categories

    names = rule_names(values, "--category")
    try:
        check_categories(names)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    return names


def report_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for report.html, report.md, report.json.",
                                         show_default=False)],
    inputs: Annotated[
        Optional[list[str]],
        typer.Argument(metavar="INPUT...", show_default=False,
                       help="Account exports, folders of exports, or folders of policy files."),
    ] = None,
    history: Annotated[
        Optional[Path],
        typer.Option("--history", help="History database (default: $XDG_DATA_HOME/iam-audit/history.sqlite3, "
                     "else ~/.local/share/iam-audit/history.sqlite3)."),
    ] = None,
    format: Annotated[
        Optional[list[str]],
        typer.Option("--format", "-f", help="What to write, repeatable: html, markdown, json (default: all three)."),
    ] = None,
    fail_on_new: Annotated[
        str, typer.Option("--fail-on-new", help="Exit 1 when a finding at or above this severity is new since "
                          "the previous run: critical|high|medium|low|info|never.")
    ] = "never",
    fail_on: Annotated[
        Optional[str],
        typer.Option("--fail-on", help="Exit 1 when any finding is at or above this severity, as in check "
                     "(default: fail-on of the configuration, else high; never when --fail-on-new is given)."),
    ] = None,
    account_id: Annotated[
        Optional[str], typer.Option("--account-id", help="Record every input under this account.")
    ] = None,
    trend_runs: Annotated[int, typer.Option("--trend-runs", min=1, help="Runs shown in the trend charts.")] = 12,
    title: Annotated[str, typer.Option("--title", help="Title of the report.")] = "IAM compliance report",
    select: Annotated[Optional[list[str]], typer.Option("--select", help="Only these rules (id, slug or category).")]
    = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Skip these rules (id, slug or category).")]
    = None,
    include: Annotated[Optional[list[str]], typer.Option("--include", help="Glob of files to read in folders.")]
    = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="Glob of files to leave out.")] = None,
    category: Annotated[Optional[list[str]], typer.Option("--category", help="Only findings of these categories.")]
    = None,
    baseline: Annotated[Optional[list[str]], typer.Option("--baseline", metavar="ID|PATH", help="Compare with "
                        "these baselines only (ids) or also with your own (paths); repeatable.")] = None,
    var: Annotated[Optional[list[str]], typer.Option("--var", metavar="NAME=VALUE",
                                                     help="Bind a baseline placeholder; repeatable.")] = None,
    fetch: Annotated[bool, typer.Option("--fetch", help="Export the live account(s) first (read-only, boto3) into "
                                        "OUTPUT/exports and audit that too.")] = False,
    profile: Annotated[Optional[str], typer.Option("--profile", help="AWS profile for --fetch.")] = None,
    role_arn: Annotated[Optional[list[str]], typer.Option("--role-arn", help="Role to assume for --fetch; "
                                                          "repeat for several accounts.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary line on stderr.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP, callback=plain_output)] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the catalogue cache.")] = False,
    config_file: Annotated[Optional[Path], typer.Option("--config", help=CONFIG_HELP, show_default=False)] = None,
    no_config: Annotated[bool, typer.Option("--no-config", help=NO_CONFIG_HELP)] = False,
) -> None:
    """Scheduled compliance report: audit, record the run in the history, write HTML + Markdown + JSON."""
    from auditor.scheduled import (
        OUTPUT_FILES,
        OUTPUT_FORMATS,
        FetchSpec,
        ReportInputError,
        ReportRequest,
        execute_report,
    )

    formats = tuple(dict.fromkeys(f.lower() for f in (format or OUTPUT_FORMATS)))
    for name in formats:
        if name not in OUTPUT_FORMATS:
            raise _fail(f"--format: unknown format {name!r}; choose from {', '.join(OUTPUT_FORMATS)}")
    new_threshold = _severity(fail_on_new, "--fail-on-new")
    if fail_on is None and new_threshold is not None:
        fail_on = "never"  # alert once per new problem, not every night for old ones
    if account_id is not None and not account_id.strip():
        raise _fail("--account-id: empty")
    if (profile or role_arn) and not fetch:
        raise _fail("--profile and --role-arn only apply with --fetch")
    try:
        # an INPUT that is OUTPUT/report.<format> or the --history database would be replaced, as in check
        refuse_inputs_as_outputs(inputs or (), [*(("--output", output / OUTPUT_FILES[name]) for name in formats),
                                                ("--history", history)], "inputs")
        config = without_missing_accepted(load_config(config_file, no_config), quiet)
        categories = _categories(category)
        selected, ignored = rule_names(select, "--select"), rule_names(ignore, "--ignore")
        refs, variables = baselines_and_vars(baseline or (), var or (), config)  # before anything is recorded
    except UsageProblem as problem:
        raise _fail(str(problem)) from None
    request = ReportRequest(
        inputs=tuple(inputs or ()),
        output_dir=output,
        history=history,
        formats=formats,
        # as in check: --fail-on, else fail-on of the configuration (default high)
        fail_on=config.fail_on if fail_on is None else _severity(fail_on, "--fail-on"),  # type: ignore[arg-type]
        fail_on_new=new_threshold,  # type: ignore[arg-type]
        account_id=account_id.strip() if account_id else None,
        trend_runs=trend_runs,
        select=selected,
        ignore=ignored,
        include=tuple(include or ()),
        exclude=tuple(exclude or ()),
        categories=categories,
        baselines=refs,
        variables=variables,
        fetch=FetchSpec(profile=profile, role_arns=tuple(role_arn or ())) if fetch else None,
        title=title,
        use_cache=not no_cache,
        quiet=quiet,
        config=config,
    )
    try:
        code = execute_report(request)
    except (ReportInputError, ValueError) as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)
