"""``iam-audit baseline list|show|diff|extract``: the documented vendor baselines.

Only typer is imported at start-up; the baseline loader, YAML and rich load when a
command runs.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auditor.cli_check import CONFIG_HELP, NO_COLOR_HELP, NO_CONFIG_HELP, UsageProblem, load_config, plain_output

if TYPE_CHECKING:
    from auditor.baselines import Baseline

EXIT_USAGE = 2

baseline_app = typer.Typer(
    name="baseline",
    help="The documented vendor baselines: list, show, diff revisions, extract from vendor documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ShowFormat(str, Enum):
    text = "text"
    console = "console"  # the text: the name the other commands give their human-readable output
    json = "json"


class ListFormat(str, Enum):
    table = "table"
    console = "console"  # the table
    json = "json"


class ExtractFormat(str, Enum):
    console = "console"
    json = "json"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"iam-audit: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


ConfigOption = Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP, show_default=False)]
NoConfigOption = Annotated[bool, typer.Option("--no-config", help=NO_CONFIG_HELP)]


def _baseline_paths(config_file: Path | None, no_config: bool) -> tuple[Path, ...]:
    """The folders of baselines the configuration adds (``baseline-paths``), as check and drift read them: a
    configuration error (a folder that does not exist, a broken baseline file in one) is a located usage error."""
    try:
        return load_config(config_file, no_config).baseline_paths
    except UsageProblem as problem:
        raise _fail(str(problem)) from None


def _load(ref: str, extra_paths: tuple[Path, ...] = ()) -> Baseline:
    from auditor.baselines import BaselineError, UnknownBaselineError, resolve_baseline

    try:
        return resolve_baseline(ref, extra_paths)
    except (UnknownBaselineError, BaselineError) as exc:
        raise _fail(str(exc)) from None


def _summary(baseline: Baseline) -> dict[str, Any]:
    return {
        "id": baseline.id,
        "revision": baseline.revision,
        "ref": baseline.ref,
        "default": baseline.default,
        "vendor": baseline.vendor,
        "title": baseline.title,
        "principal": {"kind": baseline.principal.kind, "name_patterns": list(baseline.principal.name_patterns)},
    }


@baseline_app.command("list")
def list_baselines(
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="table (or console) or json")] = ListFormat.table,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP, callback=plain_output)] = False,
    config_file: ConfigOption = None,
    no_config: NoConfigOption = False,
) -> None:
    """Every baseline revision, bundled or in the configuration's baseline-paths: id, revision, default, vendor,
    title, principal patterns."""
    from auditor.baselines import BaselineError, load_bundled_baselines

    extra_paths = _baseline_paths(config_file, no_config)
    try:
        baselines = list(load_bundled_baselines(extra_paths))
    except BaselineError as exc:
        raise _fail(str(exc)) from None
    if format is ListFormat.json:
        sys.stdout.write(json.dumps([_summary(b) for b in baselines], indent=2) + "\n")
        return
    from rich.table import Table

    from auditor.reporters.console import print_table

    table = Table(show_header=True, header_style="bold")
    for column in ("id", "revision", "default", "vendor", "title", "principal"):
        table.add_column(column)
    for b in baselines:
        patterns = ", ".join(b.principal.name_patterns) or "(choose explicitly)"
        table.add_row(b.id, b.revision, "yes" if b.default else "", b.vendor, b.title,
                      f"{b.principal.kind}: {patterns}")
    print_table(table)


def baseline_json(baseline: Baseline) -> dict[str, Any]:
    """The whole baseline as plain JSON (what ``baseline show --format json`` prints)."""
    data = _summary(baseline)
    data["provenance"] = {
        "document": baseline.provenance.document,
        "vendor_url": baseline.provenance.vendor_url,
        "revision": baseline.provenance.revision,
        "blocks": list(baseline.provenance.blocks),
    }
    data["defects"] = list(baseline.defects)
    data["notes"] = list(baseline.notes)
    data["placeholders"] = [
        {"token": p.token, "name": p.name, "meaning": p.meaning, "example": p.example, "kind": p.kind,
         "matches": p.matches, "scope": p.scope}
        for p in baseline.placeholders
    ]
    data["managed_policies"] = list(baseline.managed_policies)
    data["optional_managed_policies"] = list(baseline.optional_managed_policies)
    data["trust_policy"] = dict(baseline.trust_policy.document) if baseline.trust_policy else None
    data["alternative_trust_policies"] = [
        {"name": p.name, "description": p.description, "document": dict(p.document)}
        for p in baseline.alternative_trust_policies
    ]
    data["policies"] = [
        {"name": p.name, "kind": p.kind, "description": p.description, "document": dict(p.document)}
        for p in baseline.policies
    ]
    return data


def baseline_text(baseline: Baseline) -> str:
    lines = [f"{baseline.ref}: {baseline.title}{' (default revision)' if baseline.default else ''}",
             f"vendor: {baseline.vendor}",
             f"applies to: {baseline.principal.kind} "
             f"{', '.join(baseline.principal.name_patterns) or '(no name pattern: choose it explicitly)'}",
             "", "provenance:", f"  document: {baseline.provenance.document}"]
    if baseline.provenance.vendor_url:
        lines.append(f"  vendor url: {baseline.provenance.vendor_url}")
    if baseline.provenance.revision:
        lines.append(f"  revision: {baseline.provenance.revision}")
    lines += [f"  block: {block}" for block in baseline.provenance.blocks]
    for title, items in (("defects", baseline.defects), ("notes", baseline.notes)):
        if items:
            lines += ["", f"{title}:"] + [f"  - {item}" for item in items]
    lines += ["", "placeholders:" if baseline.placeholders else "placeholders: none"]
    for p in baseline.placeholders:
        example = f" (e.g. {p.example})" if p.example else ""
        kind = " [example value]" if p.kind == "example-value" else ""
        shape = f" [must match {p.matches}]" if p.matches else ""
        scope = {"trust": " [in the trust policies]", "policies": " [in the permission policies]"}.get(
            p.scope or "", "")
        lines.append(f"  {p.token} -> --var {p.name}=...: {p.meaning}{example}{kind}{shape}{scope}")
    lines += ["", "managed policies:" if baseline.managed_policies else "managed policies: none"]
    lines += [f"  {arn}" for arn in baseline.managed_policies]
    lines += [f"  {arn} (optional)" for arn in baseline.optional_managed_policies]
    for policy in baseline.trust_policies:
        label = "trust policy" if policy is baseline.trust_policy else f"alternative trust policy {policy.name}"
        lines += ["", f"{label}:", json.dumps(policy.document, indent=2)]
    if not baseline.trust_policies:
        lines += ["", "trust policy: not documented"]
    for policy in baseline.policies:
        lines += ["", f"{policy.kind} policy {policy.name}:", json.dumps(policy.document, indent=2)]
    return "\n".join(lines) + "\n"


@baseline_app.command("show")
def show(
    ref: Annotated[str, typer.Argument(metavar="ID", help="vendor/name, vendor/name@revision or a file.")],
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="text (or console) or json")] = ShowFormat.text,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP, callback=plain_output)] = False,
    config_file: ConfigOption = None,
    no_config: NoConfigOption = False,
) -> None:
    """One baseline: provenance, placeholders, managed policies, trust and permission policies."""
    baseline = _load(ref, _baseline_paths(config_file, no_config))
    if format is ShowFormat.json:
        sys.stdout.write(json.dumps(baseline_json(baseline), indent=2) + "\n")
    else:
        sys.stdout.write(baseline_text(baseline))


@baseline_app.command("diff")
def diff(
    before: Annotated[str, typer.Argument(metavar="ID@A", help="The older revision.")],
    after: Annotated[str, typer.Argument(metavar="ID@B", help="The newer revision.")],
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="text (or console) or json")] = ShowFormat.text,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP, callback=plain_output)] = False,
    config_file: ConfigOption = None,
    no_config: NoConfigOption = False,
) -> None:
    """What changes between two baselines (usually two revisions of one id)."""
    from auditor.baselines import diff_revisions

    extra_paths = _baseline_paths(config_file, no_config)
    result = diff_revisions(_load(before, extra_paths), _load(after, extra_paths))
    if format is ShowFormat.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(result.lines()) + "\n")


@baseline_app.command("extract")
def extract(
    documents: Annotated[list[Path], typer.Argument(metavar="DOC...", help="Vendor documents (md, txt, html).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write baseline files here.")] = None,
    vendor: Annotated[str | None, typer.Option("--vendor", help="Vendor directory name for the files.")] = None,
    format: Annotated[ExtractFormat, typer.Option("--format", "-f", help="console or json")] = ExtractFormat.console,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP, callback=plain_output)] = False,
) -> None:
    """Find every IAM policy in vendor documents (doc:line:col) and write baseline files."""
    from auditor.extract import run_extract

    raise typer.Exit(run_extract(documents, output, format.value, vendor=vendor))
