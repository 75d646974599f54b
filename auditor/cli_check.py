"""The ``check`` command, without Typer: the quick path (:mod:`auditor._fast_cli`) calls it directly, and
:mod:`auditor.cli` mounts it on the Typer app for everything else (help, completion, unusual spellings).

The annotations name ``typer.Option``; they are only evaluated when read, by Typer (which finds the real
module here, set by :mod:`auditor.cli`) or by the quick path (which reads them with a stand-in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

if TYPE_CHECKING:
    import typer

    from auditor.config import BaselineMapping, Config
    from auditor.model import Severity

FORMATS = ("console", "json", "sarif", "junit", "github", "markdown", "html")
CONFIG_HELP = ("Configuration file (default: .iam-audit.toml, else \\[tool.iam-audit] in pyproject.toml, searched "
               "upward from the working directory).")
NO_CONFIG_HELP = "Ignore configuration files."
NO_COLOR_HELP = "Plain text, no colour."


def plain_output(no_color: bool) -> bool:
    """``--no-color`` of the commands without a reporter: every console made later prints plain text (rich
    drops colours for ``NO_COLOR``, and bold and underline too for a ``dumb`` terminal)."""
    if no_color:
        import os

        os.environ["NO_COLOR"] = "1"
        os.environ["TERM"] = "dumb"
    return no_color


def rule_names(values: Sequence[str] | None, option: str) -> tuple[str, ...]:
    """``--select``/``--ignore``/``--category`` values, each repeatable and each a comma-separated list
    (``IAM001,IAM012``); one that names nothing (``--select "$RULES"`` with the variable unset) is a usage error:
    an empty ``--select`` would select every rule."""
    names = tuple(name.strip() for value in values or () for name in value.split(",") if name.strip())
    if values and not names:
        raise UsageProblem(f"{option}: {values[0]!r} names nothing; give rule ids, slugs or categories "
                           "(iam-audit rules lists them)")
    return names


class UsageProblem(Exception):
    """A command line or configuration that cannot be run: one line for stderr, exit code 2."""


def parse_severity(value: str, option: str) -> Severity | None:
    """``--fail-on``: a severity, or None for ``never``."""
    from auditor.model import Severity

    if value.lower() == "never":
        return None
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise UsageProblem(f"{option}: {exc} or never") from None


def load_config(config_file: Optional[Path], no_config: bool) -> Config:
    from auditor.config import ConfigError, validate_baseline_paths, validate_baselines, validate_escalation_paths
    from auditor.config import load_config as read_config

    if config_file is not None and no_config:  # ruff refuses --config with --isolated too
        raise UsageProblem("--config and --no-config contradict each other: give one of them")
    try:
        config = read_config(config_file, discover=not no_config)
        validate_baseline_paths(config)
        validate_baselines(config)
        validate_escalation_paths(config)
    except (ConfigError, ValueError) as exc:
        raise UsageProblem(str(exc)) from None
    return config


def without_missing_accepted(config: Config, quiet: bool) -> Config:
    """The configuration without its ``accepted`` file when that does not exist yet: a note on standard error says
    so and how to record it (unless ``quiet``: ``--quiet``, or ``--write-accepted`` is recording it)."""
    import sys

    from auditor.config import accepted_not_written

    config, note = accepted_not_written(config)
    if note is not None and not quiet:
        sys.stderr.write(f"iam-audit: note: {note}\n")
    return config


def check_var_names(names: Sequence[str], refs: Sequence[str], config: Config) -> None:
    """``--var`` must name a placeholder of a baseline ``check`` compares with (chosen with ``--baseline``, in
    ``baseline-paths`` or mapped), as ``drift`` requires of its baseline."""
    if not names:
        return
    from auditor.baselines import BaselineError, UnknownBaselineError, resolve_baseline
    from auditor.drift import DriftError, select_baselines

    try:
        baselines = select_baselines(refs)
        baselines += [resolve_baseline(m.baseline, config.baseline_paths) for m in config.baselines]
    except (DriftError, UnknownBaselineError, BaselineError) as exc:
        raise UsageProblem(str(exc)) from None
    known = {placeholder.name for baseline in baselines for placeholder in baseline.placeholders}
    for name in names:
        if name not in known:
            raise UsageProblem(f"--var {name}: no baseline compared has such a placeholder (they have: "
                               f"{', '.join(sorted(known)) or 'none'})")


def baselines_and_vars(chosen: Sequence[str], var: Sequence[str], config: Config
                       ) -> tuple[tuple[str, ...], dict[str, str]]:
    """``--baseline`` and ``--var`` of ``check`` and ``report``, checked before anything is read or recorded: what
    the run compares with (see ``baseline_refs``) and the values bound on the command line."""
    from auditor.drift import DriftError, parse_vars

    try:
        variables = parse_vars(var)
    except DriftError as exc:
        raise UsageProblem(str(exc)) from None
    refs = baseline_refs(chosen, config)
    check_var_names(list(variables), refs, config)
    return refs, variables


def baseline_refs(chosen: Sequence[str], config: Config) -> tuple[str, ...]:
    """What ``check`` (and ``report``) compare with: the ``--baseline`` values, then the folders of
    ``baseline-paths``. Every value is checked first, as ``drift`` checks its BASELINE: a path that does not exist
    is "no such file", an unknown id names the known ones (those of ``baseline-paths`` too)."""
    from auditor.baselines import BaselineError, UnknownBaselineError, resolve_baseline

    for ref in chosen:
        if not ref.strip():  # Path("") is the working folder, which would be read as a folder of baselines
            raise UsageProblem('--baseline "": an empty value (a variable that is not set?): name a baseline id or '
                               "a file")
        if not (Path(ref).is_file() or Path(ref).is_dir()):  # an id, a path that does not exist, a FIFO
            try:
                resolve_baseline(ref, config.baseline_paths)
            except (UnknownBaselineError, BaselineError) as exc:
                raise UsageProblem(f"--baseline: {exc}") from None
    return tuple(chosen) + tuple(str(p) for p in config.baseline_paths)


def refuse_inputs_as_outputs(paths: Iterable[str], outputs: Iterable[tuple[str, Optional[Path]]],
                             inputs: str = "files to check") -> None:
    """An output file (``--output``, ``--output-<format>``, ``--write-accepted``; drift's ``--output``, report's
    files and ``--history``) that is one of the files named on the command line would be overwritten by the run:
    a usage error, before anything is read or written. ``inputs`` names them in the message. A path, a ./, ../ or
    absolute spelling, a symbolic or hard link to one are the same file; files found by walking a folder are not
    compared."""
    import os

    def same(left: str, right: str) -> bool:
        try:
            return os.path.samefile(left, right)
        except OSError:
            return os.path.realpath(left) == os.path.realpath(right)

    named = [path for path in paths if path != "-" and not os.path.isdir(path)]
    for option, output in outputs:
        if output is None or os.fspath(output) in ("-", os.devnull):
            continue
        for path in named:
            if same(os.fspath(output), path):
                raise UsageProblem(f"{option} {output}: it is one of the {inputs}, and the report would "
                                   "overwrite it; write it elsewhere")


def mappings_over(mappings: Sequence[BaselineMapping], command_line: Mapping[str, str]) -> tuple[BaselineMapping, ...]:
    """The configured baseline mappings with ``--var`` over their own ``vars``: a mapping's vars bind its
    baseline's placeholders over ``[vars]`` and inference, and the command line wins over the file."""
    from dataclasses import replace

    return tuple(replace(m, vars={**m.vars, **command_line}) if m.vars and command_line else m for m in mappings)


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
                                                   "\\[default: high, or fail-on in the config]",
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
                                                "identity, resource, trust, organization, boundary (a "
                                                "permissions boundary) or endpoint (a VPC endpoint policy); the "
                                                "configuration's [kinds] sets it by glob.")] = None,
    show_suppressed: Annotated[bool, typer.Option("--show-suppressed", help="List suppressed findings too.")] = False,
    no_source: Annotated[bool, typer.Option("--no-source", help="Do not print the offending lines.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the findings, no summary.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help=NO_COLOR_HELP)] = False,
    max_file_size: Annotated[Optional[int], typer.Option("--max-file-size", help="Largest file read, in MB "
                                                         "\\[default: 200]", show_default=False)] = None,
    max_nesting: Annotated[Optional[int], typer.Option("--max-nesting", help="Deepest JSON/YAML nesting accepted "
                                                       "\\[default: 200]", show_default=False)] = None,
    max_yaml_size: Annotated[int, typer.Option("--max-yaml-size",
                                               help="Largest YAML or Terraform (.tf) file parsed, in MB.")] = 20,
    max_statements: Annotated[int, typer.Option("--max-statements", help="Statements checked per policy; "
                                                "the rest are reported as not checked.")] = 10_000,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the catalogue cache or the "
                                           "stored results of earlier runs.")] = False,
    config_file: Annotated[Optional[Path], typer.Option("--config", help=CONFIG_HELP, show_default=False)] = None,
    no_config: Annotated[bool, typer.Option("--no-config", help=NO_CONFIG_HELP)] = False,
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
) -> int:
    """Lint every policy found under the paths and report findings."""
    from auditor.run import execute_check, request_from_config

    for option, value in (("--max-file-size", max_file_size), ("--max-yaml-size", max_yaml_size),
                          ("--max-nesting", max_nesting), ("--max-statements", max_statements)):
        if value is not None and value < 1:
            raise UsageProblem(f"{option} must be at least 1, got {value}")
    formats = [f.lower() for f in (format or [])]
    for name in formats:
        if name not in FORMATS:
            raise UsageProblem(f"--format: unknown format {name!r}; choose from {', '.join(FORMATS)}")
    from auditor.model import PolicyKind

    forced_kind = None
    boundary = kind is not None and kind.lower() == "boundary"
    if kind is not None:
        try:
            forced_kind = PolicyKind.IDENTITY if boundary else PolicyKind(kind.lower())
        except ValueError:
            raise UsageProblem(f"--kind: {kind!r} is not one of identity, resource, trust, organization, "
                               "boundary, endpoint") from None
    config = load_config(config_file, no_config)
    overrides: dict[str, object] = {}
    if fail_on is not None:
        overrides["fail-on"] = parse_severity(fail_on, "--fail-on")
    if select:
        overrides["select"] = rule_names(select, "--select")
    if ignore:
        overrides["ignore"] = config.ignore + rule_names(ignore, "--ignore")
    if include:
        overrides["include"] = tuple(include)
    if exclude:
        overrides["exclude"] = tuple(exclude)
    for key, limit in (("max-file-size", max_file_size), ("max-nesting", max_nesting)):
        if limit is not None:
            if limit <= 0:
                raise UsageProblem(f"--{key}: must be a positive number")
            overrides[key] = limit
    if accepted is not None:
        overrides["accepted"] = accepted
    if force_exclude:
        overrides["force-exclude"] = True
    for key, override in overrides.items():
        config = config.override(key, override)
    config = without_missing_accepted(config, quiet or write_accepted is not None)
    refs, variables = baselines_and_vars(baseline or (), var or (), config)
    extra_outputs = {"json": output_json, "sarif": output_sarif, "junit": output_junit, "github": output_github,
                     "markdown": output_markdown, "html": output_html}
    refuse_inputs_as_outputs(paths, [("--output", output), ("--write-accepted", write_accepted),
                                     *((f"--output-{fmt}", path) for fmt, path in extra_outputs.items())])
    request = request_from_config(
        tuple(paths),
        config,
        formats=tuple(formats),
        output=output,
        extra_outputs={k: v for k, v in extra_outputs.items() if v is not None},
        categories=rule_names(category, "--category"),
        kind=forced_kind,
        boundary=boundary,
        show_suppressed=show_suppressed,
        show_source=not no_source,
        quiet=quiet,
        color=not no_color,
        max_yaml_bytes=max_yaml_size * 1024 * 1024,
        max_statements=max_statements,
        use_cache=not no_cache,
        write_accepted=write_accepted,
        baselines=refs,
        variables={**config.vars, **variables},
        baseline_mappings=mappings_over(config.baselines, variables),
        jobs=jobs,
    )
    try:
        return execute_check(request)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
