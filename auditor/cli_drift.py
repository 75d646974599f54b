"""``iam-audit drift BASELINE TARGET``: one target compared with one baseline.

Only typer is imported at start-up; the engine loads when the command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.cli_check import (
    CONFIG_HELP,
    FORMATS,
    NO_COLOR_HELP,
    NO_CONFIG_HELP,
    UsageProblem,
    load_config,
    mappings_over,
    parse_severity,
    refuse_inputs_as_outputs,
)

EXIT_USAGE = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"iam-audit: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _document_kind(path: str) -> str | None:
    """"Markdown", "HTML" or "text" for a vendor document's name, else None."""
    from auditor.loaders import DOCUMENT_KINDS

    return DOCUMENT_KINDS.get(Path(path).suffix.lower())


def _not_a_policy(path: str, kind: str, role: str) -> str:
    """What to say of a vendor document given where a policy file is expected (it does not parse as one: read as
    JSON, its first heading was "JSON has no comments")."""
    article = "an" if kind[0] in "AEHIOU" else "a"
    return (f"{path}: {article} {kind} document is not a {role}; `iam-audit baseline extract {path}` finds the "
            "policies in it (and `-o DIR` writes them as baseline files)")


def drift_command(
    baseline: Annotated[
        str, typer.Argument(metavar="BASELINE", help="A baseline id (vendor/name or vendor/name@rev), a baseline "
                                                      "YAML file, or a policy document to compare with.")
    ],
    target: Annotated[str, typer.Argument(metavar="TARGET", help="A policy file or an account export.")],
    principal: Annotated[
        str | None, typer.Option("--principal", "-p", help="The principal of an export to compare (any case).")
    ] = None,
    var: Annotated[
        list[str] | None, typer.Option("--var", metavar="NAME=VALUE", help="Bind a placeholder (repeatable).")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")] = "console",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")] = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="critical|high|medium|low|info|never (default: the configuration's fail-on, else high)",
        show_default=False)] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Treat a standalone TARGET policy as identity, resource or trust.")
    ] = None,
    no_source: Annotated[bool, typer.Option("--no-source", help="Do not print the offending lines.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the findings, no summary.")] = False,
    config_file: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP, show_default=False)] = None,
    no_config: Annotated[bool, typer.Option("--no-config", help=NO_CONFIG_HELP)] = False,
) -> None:
    """Compare a policy file, or a principal of an account export, with a documented baseline.

    The project configuration adds its baseline-paths and binds the vars the baseline names, and those of a
    \\[\\[baselines]] mapping that gives the compared principal this baseline (--var wins)."""
    fmt = format.lower()
    if fmt not in FORMATS:
        raise _fail(f"--format: unknown format {format!r}; choose from {', '.join(FORMATS)}")
    from auditor.baselines import BaselineError, UnknownBaselineError, resolve_baseline
    from auditor.drift import DriftError, drift_loaded, parse_vars
    from auditor.model import PolicyKind
    from auditor.output import file_or_stdout

    output = file_or_stdout(output) if output is not None else None
    try:
        # -o naming the TARGET or a BASELINE file would replace it with the report, as in check
        refuse_inputs_as_outputs([baseline, target], [("--output", output)], "files to compare")
        given_threshold = parse_severity(fail_on, "--fail-on") if fail_on is not None else None
    except UsageProblem as problem:
        raise _fail(str(problem)) from None
    forced = None
    if kind is not None:
        forced = next((k for k in (PolicyKind.IDENTITY, PolicyKind.RESOURCE, PolicyKind.TRUST)
                       if k.value == kind.lower()), None)
        if forced is None:  # an organization policy has no baseline to compare with: baselines document grants
            raise _fail(f"--kind: {kind!r} is not one of identity, resource, trust") from None
    try:
        config = load_config(config_file, no_config)
        threshold = given_threshold if fail_on is not None else config.fail_on
        chosen = resolve_baseline(baseline, config.baseline_paths)
        named = {placeholder.name for placeholder in chosen.placeholders}
        command_line = parse_vars(var or ())
        variables = {**{k: v for k, v in config.vars.items() if k in named}, **command_line}
    except UsageProblem as problem:
        raise _fail(str(problem)) from None
    except (UnknownBaselineError, BaselineError, DriftError) as exc:
        kind = _document_kind(baseline) if isinstance(exc, BaselineError) else None
        if kind is not None and Path(baseline).is_file():
            raise _fail(_not_a_policy(baseline, kind, "baseline or a policy file")) from None
        raise _fail(str(exc)) from None
    from auditor.catalog import load_catalog
    from auditor.loaders import STDIN, LoadOptions, load_paths

    if not target:  # Path("") is the current folder
        raise _fail('TARGET "": an empty path (a variable that is not set?): name a policy file or an account '
                    "export, or - for standard input")
    if target != STDIN and not Path(target).exists():
        raise _fail(f"{target}: no such file or directory")

    comparable = tuple((glob, name) for glob, name in config.kinds if name in ("identity", "resource", "trust"))
    loaded = load_paths([target], LoadOptions(kind=forced, kinds=comparable, kinds_root=os.path.abspath(config.root)))
    if loaded.errors:
        raise _fail(str(loaded.errors[0]))
    if not loaded.policies and not loaded.principals and loaded.skipped:
        if (kind_of_target := _document_kind(target)) is not None:  # a page whose text does not parse
            raise _fail(_not_a_policy(target, kind_of_target, "policy file or an account export"))
        shown, reason = loaded.skipped[0]
        raise _fail(f"{shown}: {reason}: TARGET holds no policy to compare")
    if not loaded.policies and not loaded.principals and loaded.document_problems:
        # a TARGET that is not JSON/YAML or not a policy: its malformed findings, located, as check reports them
        from auditor.checks import all_rules
        from auditor.engine import CheckContext, run_rules

        report = _report(loaded, [], run_rules(loaded, all_rules(), CheckContext(load_catalog())), threshold)
    else:
        try:
            results = drift_loaded(chosen, loaded, principal, load_catalog(), variables, strict_vars=True,
                                   mappings=mappings_over(config.baselines, command_line))
        except DriftError as exc:
            raise _fail(str(exc)) from None
        # what the target says may not be what its author meant (a Statement of null, an Effect of true): said
        from auditor.baselines import GRAMMAR_ERRORS
        from auditor.checks import all_rules
        from auditor.engine import CheckContext, Selection, run_rules

        malformed = run_rules(loaded, all_rules(), CheckContext(load_catalog()), Selection(select=GRAMMAR_ERRORS))
        if principal is not None:  # the compared principal's policies, and what concerns the whole file
            malformed = [f for f in malformed if (name := (f.subject or {}).get("name")) is None
                         or str(name).lower() == principal.lower()]
        report = _report(loaded, results, malformed, threshold)
    from auditor.output import write_text
    from auditor.run import exit_code, render

    if fmt == "console":
        _console(report, loaded, output, not no_source, not no_color, quiet)
    else:
        text = render(report, fmt, False)
        if output is None:
            sys.stdout.write(text)
        else:
            write_text(output, text)
    raise typer.Exit(exit_code(report, threshold))


def _report(loaded: Any, results: list[Any], malformed: Sequence[Any] = (), fail_on: Any = None) -> Any:
    from auditor import __version__
    from auditor.catalog import load_catalog
    from auditor.checks import all_rules
    from auditor.model import Finding
    from auditor.report import Report, Summary, Verdict

    findings = sorted([*malformed, *(f for r in results for f in r.findings)], key=Finding.sort_key)
    paths = tuple(sorted({p.source.display_path for p in loaded.policies}
                         | {source.display_path for source, _ in loaded.document_problems}))
    summary = Summary(files=loaded.files, policies=len(loaded.policies), principals=dict(loaded.counts),
                      verdicts=tuple(Verdict(r.target, r.verdict, r.baseline, paths[0] if len(paths) == 1 else "")
                                     for r in results), paths=paths)
    return Report(tuple(findings), (), summary, all_rules().infos(), __version__, load_catalog().version, fail_on)


def _console(report: Any, loaded: Any, output: Path | None, show_source: bool, color: bool, quiet: bool) -> None:
    from auditor.reporters import console as console_reporter
    from auditor.run import use_color

    sources = {p.source.display_path: p.source for p in loaded.policies}
    sources.update((source.display_path, source) for source, _ in loaded.document_problems)

    def read_line(shown: str, line: int) -> str | None:
        source = sources.get(shown)
        return source.line_text(line) if source is not None else None

    if output is not None:
        with open(output, "w", encoding="utf-8") as handle:
            console_reporter.render(report, handle, read_line, show_source)
        return
    if quiet:
        console_reporter.render_quiet(report, sys.stdout, use_color(color))
        return
    console_reporter.render(report, sys.stdout, read_line, show_source, color=use_color(color))
