"""``iam-audit report``: audit, record the run in the history, compare, evaluate controls, write DIR.

The audit itself is ``check``'s (:func:`auditor.run.build_report`). What this module adds:

- every input file is assigned to an *account*: the account id of an export (its
  ``iam_audit.account_id``, else the account of its users', groups' and roles' ARNs), else
  the input path the file was found under; ``--account-id`` puts everything in one account;
- each finding gets a history fingerprint (:func:`auditor.fingerprint.fingerprint` of the
  finding with its path made independent of where the export file lies: ``account:<id>`` for
  exports, the path below the input folder for policy files), so this week's
  ``exports/2024-06-03.json`` compares with last week's ``exports/2024-05-27.json``;
- per account, one run is recorded in the history and compared with the account's previous run;
- the compliance controls of ``rules/controls.yaml`` pass, fail or are not evaluated.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Literal

from auditor.fingerprint import fingerprint
from auditor.history import History, RunComparison, RunInfo, StoredFinding, default_history_path
from auditor.knowledge import Control
from auditor.model import ACCOUNT, Finding, Severity
from auditor.report import Report
from auditor.suppress import as_before_ignore

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
OUTPUT_FORMATS = ("html", "markdown", "json")
OUTPUT_FILES = {"html": "report.html", "markdown": "report.md", "json": "report.json"}
DEFAULT_TREND_RUNS = 12

_ARN_ACCOUNT = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):")
_EXPORT_MARKER = re.compile(r'"(?:UserDetailList|GroupDetailList|RoleDetailList|Policies)"\s*:')
_PRINCIPAL_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList")
_EXPORT_LISTS = (*_PRINCIPAL_LISTS, "Policies")


class ReportInputError(Exception):
    """Inputs that cannot be audited (exit code 2): nothing is recorded, nothing is written."""


@dataclass(frozen=True)
class FetchSpec:
    """Export live accounts (``auditor.fetch``) into DIR/exports before auditing."""

    profile: str | None = None
    role_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportRequest:
    inputs: tuple[str, ...]
    output_dir: Path
    history: Path | None = None
    formats: tuple[str, ...] = OUTPUT_FORMATS
    fail_on: Severity | None = None
    fail_on_new: Severity | None = None
    account_id: str | None = None
    trend_runs: int = DEFAULT_TREND_RUNS
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    """Only findings of these categories (``--category``), as in check."""
    baselines: tuple[str, ...] = ()
    """What drift compares with, as in check (``--baseline``: ids restrict, paths add); empty: the configuration's
    (the bundled baselines and ``baseline-paths``)."""
    variables: Mapping[str, str] = field(default_factory=dict)
    """``--var``: placeholder bindings over ``[vars]`` and the ``vars`` of the configuration's mappings."""
    fetch: FetchSpec | None = None
    title: str = "IAM compliance report"
    use_cache: bool = True
    quiet: bool = False
    config: Any = None
    """The project configuration (:class:`auditor.config.Config`): suppressions, severities, baselines, vars, and
    select/ignore/include/exclude unless the request sets them."""


@dataclass(frozen=True, slots=True)
class TrackedFinding:
    fingerprint: str
    finding: Finding
    status: Literal["new", "unchanged"]


@dataclass(frozen=True, slots=True)
class ControlResult:
    control: Control
    status: Literal["fail", "pass", "not-evaluated"]
    reason: str
    evidence: tuple[TrackedFinding, ...] = ()


@dataclass(frozen=True, slots=True)
class BaselineDrift:
    baseline: str
    current: tuple[TrackedFinding, ...]
    resolved: tuple[StoredFinding, ...]

    @property
    def new(self) -> tuple[TrackedFinding, ...]:
        return tuple(t for t in self.current if t.status == "new")


@dataclass(frozen=True)
class AccountReport:
    key: str
    label: str
    inputs: tuple[str, ...]
    files: tuple[str, ...]
    findings: tuple[TrackedFinding, ...]
    comparison: RunComparison
    trend: tuple[RunInfo, ...]
    controls: tuple[ControlResult, ...]
    not_checked: tuple[str, ...] = ()
    suppressed: int = 0

    @property
    def new(self) -> tuple[TrackedFinding, ...]:
        return tuple(t for t in self.findings if t.status == "new")

    @property
    def unchanged(self) -> tuple[TrackedFinding, ...]:
        return tuple(t for t in self.findings if t.status == "unchanged")

    @property
    def resolved(self) -> tuple[StoredFinding, ...]:
        return self.comparison.resolved

    @property
    def previous(self) -> RunInfo | None:
        return self.comparison.previous

    def by_severity(self) -> dict[str, int]:
        counts = Counter(t.finding.severity for t in self.findings)
        return {s.value: counts[s] for s in reversed(Severity) if counts[s]}

    def by_category(self) -> dict[str, int]:
        counts = Counter(t.finding.category for t in self.findings)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def drift(self) -> tuple[BaselineDrift, ...]:
        current: dict[str, list[TrackedFinding]] = defaultdict(list)
        resolved: dict[str, list[StoredFinding]] = defaultdict(list)
        for tracked in self.findings:
            if tracked.finding.baseline:
                current[tracked.finding.baseline].append(tracked)
        for stored in self.resolved:
            if stored.baseline:
                resolved[stored.baseline].append(stored)
        return tuple(
            BaselineDrift(name, tuple(current.get(name, ())), tuple(resolved.get(name, ())))
            for name in sorted(set(current) | set(resolved))
        )


@dataclass(frozen=True)
class ScheduledReport:
    title: str
    generated_at: str
    history_path: Path
    accounts: tuple[AccountReport, ...]
    check_report: Report
    rules_run: frozenset[str]

    def worst_new(self) -> Severity | None:
        ranks = [t.finding.severity for a in self.accounts for t in a.new]
        return max(ranks, key=lambda s: s.rank) if ranks else None

    def totals(self) -> dict[str, int]:
        return {
            "findings": sum(len(a.findings) for a in self.accounts),
            "new": sum(len(a.new) for a in self.accounts),
            "resolved": sum(len(a.resolved) for a in self.accounts),
            "unchanged": sum(len(a.unchanged) for a in self.accounts),
        }


# --- accounts ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Placement:
    key: str
    label: str
    input: str
    fingerprint_path: str


def export_account_id(text: str, name: str = "") -> str | None:
    """The account of an authorization-details export (one object, or its pages in an array; JSON, or YAML when
    ``name`` ends in .yaml/.yml), or None when the text is not one."""
    is_yaml = name.lower().endswith((".yaml", ".yml"))
    if not is_yaml and not _EXPORT_MARKER.search(text):
        return None
    data = _parsed(text, is_yaml)
    if isinstance(data, list) and data and all(isinstance(page, dict) for page in data):
        accounts = {_data_account(page, partial(json.dumps, page)) for page in data if _holds_lists(page)} - {None}
        return accounts.pop() if len(accounts) == 1 else None
    if not isinstance(data, dict) or (is_yaml and not _holds_lists(data)):
        return None
    return _data_account(data, lambda: text)


def _holds_lists(data: dict[str, Any]) -> bool:
    return any(key in data for key in _EXPORT_LISTS)


def _data_account(data: dict[str, Any], text: Callable[[], str]) -> str | None:
    """The account of one parsed export (or page of one): its ``iam_audit.account_id``, else the account most of its
    principals' ARNs name, else the one most ARNs of its ``text`` name."""
    meta = data.get("iam_audit")
    if isinstance(meta, dict) and isinstance(meta.get("account_id"), str) and ACCOUNT.fullmatch(meta["account_id"]):
        return str(meta["account_id"])
    counts: Counter[str] = Counter()
    for key in _PRINCIPAL_LISTS:
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else ():
            arn = entry.get("Arn") if isinstance(entry, dict) else None
            match = _ARN_ACCOUNT.match(arn) if isinstance(arn, str) else None
            if match:
                counts[match.group(1)] += 1
    if not counts:
        for match in _ARN_ACCOUNT.finditer(text()):
            counts[match.group(1)] += 1
    return counts.most_common(1)[0][0] if counts else None


def _parsed(text: str, is_yaml: bool) -> Any:
    if not is_yaml:
        try:
            return json.loads(text)
        except ValueError:
            return None
    from auditor.loaders.parse import ParseError, parse_yaml

    try:
        return parse_yaml(text, "").data
    except ParseError:
        return None


def _place_files(
    inputs: Sequence[str], sources: Mapping[str, Any], forced_account: str | None
) -> dict[str, _Placement]:
    roots = [(raw, Path(raw).resolve()) for raw in inputs]
    placements: dict[str, _Placement] = {}
    for shown, source in sources.items():
        resolved = Path(shown).resolve()
        owner, root = roots[0]
        for raw, candidate in roots:
            if resolved == candidate or candidate in resolved.parents:
                owner, root = raw, candidate
                break
        if resolved == root:
            relative = resolved.name
        elif root in resolved.parents:
            relative = resolved.relative_to(root).as_posix()
        else:
            relative = shown
        account = export_account_id(source.document_text() or "", shown)
        if forced_account is not None:
            key = label = forced_account
        elif account is not None:
            key = label = account
        else:
            key, label = f"path:{root}", owner
        path = f"account:{account}" if account is not None else relative
        placements[shown] = _Placement(key, label, owner, path)
    return placements


def _refuse_snapshots(placements: Mapping[str, _Placement], sources: Mapping[str, Any]) -> None:
    """Two complete exports of one account are two states of it (last week's and today's), not parts of one: a run
    records one state, so their findings must not be added up. Parts of one export (pages; the files of ``--filter
    Role`` and ``--filter User``, which list different things) are not refused."""
    by_account: dict[str, list[str]] = defaultdict(list)
    for shown, placement in placements.items():
        if placement.fingerprint_path.startswith("account:"):
            by_account[placement.fingerprint_path.removeprefix("account:")].append(shown)
    for account, names in sorted(by_account.items()):
        if len(names) < 2:
            continue  # one export: nothing to add up, and no reason to read it again
        listed: dict[str, frozenset[str]] = {}
        for name in sorted(names):
            lists = _complete_export_lists(name, sources[name].document_text() or "")
            if lists is not None:
                listed[name] = lists
        clash = sorted({name for name, lists in listed.items()
                        if any(other != name and lists & others for other, others in listed.items())})
        if len(clash) > 1:
            raise ReportInputError(
                f"{', '.join(clash[:-1])} and {clash[-1]} are each a complete export of account {account}: a run "
                "records one state of each account, so give only the newest export (each earlier run is in the "
                "history already)")


def _complete_export_lists(name: str, text: str) -> frozenset[str] | None:
    """The non-empty lists of an export that is a whole answer (one object, or its pages in one array: JSON or
    YAML); None for one page of a longer answer (``IsTruncated``, or the AWS CLI's ``NextToken``) or another file."""
    data = _parsed(text, name.lower().endswith((".yaml", ".yml")))
    pages = data if isinstance(data, list) else [data]
    if not pages or not all(isinstance(page, dict) for page in pages):
        return None
    if not any(page.get("IsTruncated") is not True and "NextToken" not in page for page in pages):
        return None  # no last page: a part of an answer
    return frozenset(key for key in _EXPORT_LISTS for page in pages if page.get(key))


def history_fingerprint(finding: Finding, fingerprint_path: str) -> str:
    return fingerprint(replace(finding, location=replace(finding.location, path=fingerprint_path)))


# --- compliance --------------------------------------------------------------------------------------

_NEGATED_SCOPE = re.compile(r"\bnot (?:inline|aws managed)\b")
_SCOPE_ACTIONS = re.compile(r"findings for (.*)")
_ACTION = re.compile(r"\b([a-z0-9-]+:[A-Za-z*]+)")


def _in_scope(control: Control, finding: Finding) -> bool:
    """Whether a finding of one of the control's rules falls within the control's stated scope.

    Scopes are prose; this recognises what can be decided from the finding: customer managed
    versus inline versus AWS managed policies, S3 bucket and Lambda function policies, and the
    actions named after "findings for". A finding whose subject is unknown (a standalone policy
    file) counts as evidence: the report errs towards showing a failure.
    """
    scope = _NEGATED_SCOPE.sub("", control.scope.lower())
    subject = finding.subject or {}
    kind = str(subject.get("kind") or "")
    policy = str(subject.get("policy") or "")
    arn = str(subject.get("arn") or "")
    if kind:
        customer_managed = kind == "managed-policy" and ":iam::aws:policy/" not in arn
        inline = policy.startswith("inline:")
        wants_customer, wants_inline = "customer managed" in scope, bool(re.search(r"\binline\b", scope))
        if (wants_customer or wants_inline) and not (
            (wants_customer and customer_managed) or (wants_inline and inline)
        ):
            return False
        if "s3 bucket" in scope and kind != "s3":
            return False
        if "lambda function" in scope and kind != "lambda":
            return False
    named = _SCOPE_ACTIONS.search(control.scope)
    if named:
        actions = {a.lower() for a in _ACTION.findall(named.group(1))}
        text = json.dumps(dict(finding.details), default=str).lower() + " " + finding.message.lower()
        if actions and not any(action in text for action in actions):
            return False
    return True


def _needs_resource_policies(control: Control) -> bool:
    scope = control.scope.lower()
    return "s3 bucket" in scope or "lambda function" in scope


def evaluate_controls(
    controls: Iterable[Control],
    rules_run: frozenset[str],
    findings: Sequence[TrackedFinding],
    *,
    has_resource_policies: bool | None = None,
    policies_checked: int | None = None,
) -> tuple[ControlResult, ...]:
    """Pass, fail or not evaluated, per control.

    ``has_resource_policies`` is False for an export without resource policies: controls about
    bucket or function policies are then not evaluated rather than passed; None means unknown.
    ``policies_checked`` 0: nothing was audited (an empty folder, a file with no policy), so no control passes.
    """
    results = []
    for control in controls:
        if policies_checked == 0:
            results.append(ControlResult(control, "not-evaluated", "no policy was checked"))
            continue
        of_rules = [t for t in findings if t.finding.rule_id in control.rules]
        evidence = tuple(t for t in of_rules if _in_scope(control, t.finding))
        missing = [rule for rule in control.rules if rule not in rules_run]
        if evidence:
            rule_ids = ", ".join(sorted({t.finding.rule_id for t in evidence}))
            reason = f"{len(evidence)} finding{'' if len(evidence) == 1 else 's'} of {rule_ids}"
            results.append(ControlResult(control, "fail", reason, evidence))
        elif not control.rules:
            results.append(ControlResult(control, "not-evaluated", control.gap or "no rule evidences it"))
        elif missing:
            results.append(ControlResult(control, "not-evaluated", f"{', '.join(missing)} did not run"))
        elif control.gap:
            results.append(ControlResult(control, "not-evaluated", control.gap))
        elif has_resource_policies is False and _needs_resource_policies(control):
            reason = "the input has no resource policies (iam-audit fetch --resource-policies exports them)"
            results.append(ControlResult(control, "not-evaluated", reason))
        else:
            reason = f"no findings of {', '.join(control.rules)}"
            if of_rules:
                reason += f" within its scope ({len(of_rules)} outside it)"
            results.append(ControlResult(control, "pass", reason))
    return tuple(results)


# --- the run ----------------------------------------------------------------------------------------


def _require_fetch() -> None:
    """:class:`ReportInputError` when ``--fetch`` cannot run here: no exporter, or no boto3 (``live`` extra)."""
    try:
        from auditor import fetch as fetch_module  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise ReportInputError("--fetch needs auditor.fetch, which this build of iam-audit does not have") from None
    try:
        fetch_module.require_boto3("--fetch")
    except fetch_module.FetchUsageError as exc:
        raise ReportInputError(str(exc)) from None


def _fetch(spec: FetchSpec, output_dir: Path) -> list[str]:
    _require_fetch()
    from auditor import fetch as fetch_module  # type: ignore[attr-defined,unused-ignore]

    several = len(spec.role_arns) > 1
    target = output_dir / "exports" if several else output_dir / "exports" / "account.json"
    options = fetch_module.FetchOptions(output=target, profile=spec.profile, role_arns=spec.role_arns)
    try:
        outcome = fetch_module.fetch_accounts(options)
    except fetch_module.FetchUsageError as exc:
        raise ReportInputError(f"--fetch: {exc}") from None
    files = [str(account.file) for account in outcome.accounts if account.file is not None]
    if not files:
        raise ReportInputError("--fetch: nothing could be exported")
    return files


def build_scheduled_report(request: ReportRequest, history: History) -> ScheduledReport:
    from auditor.checks import all_rules
    from auditor.engine import Selection
    from auditor.knowledge import load_controls
    from auditor.run import CheckRequest, build_report, request_from_config

    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    inputs = list(request.inputs)
    if request.fetch is not None:
        inputs += _fetch(request.fetch, request.output_dir)
    if not inputs:
        raise ReportInputError("no INPUT given (a file or folder of exports or policies, or --fetch)")
    given = {name: value for name in ("select", "ignore", "include", "exclude", "categories", "baselines")
             if (value := getattr(request, name))}
    if request.config is not None:
        from auditor.cli_check import mappings_over

        if request.variables:  # as in check: --var over [vars], and over the vars of the baseline mappings
            given["variables"] = {**request.config.vars, **request.variables}
            given["baseline_mappings"] = mappings_over(request.config.baselines, request.variables)
        check = request_from_config(tuple(inputs), request.config, use_cache=request.use_cache, **given)
    else:
        check = CheckRequest(paths=tuple(inputs), use_cache=request.use_cache, variables=dict(request.variables),
                             **given)
    report, sources = build_report(check)
    if report.errors:
        raise ReportInputError("; ".join(str(error) for error in report.errors) + " (no run was recorded)")
    # the rules build_report ran (--category selects rules, as in check): a finding of another one is not resolved
    selection = Selection(select=frozenset(check.select), ignore=frozenset(check.ignore),
                          categories=frozenset(check.categories))
    rules_run = frozenset(rule.id for rule in all_rules() if selection.enabled(rule))
    compared = _baselines_compared(check) if request.baselines else None
    placements = _place_files(inputs, sources, request.account_id)
    _refuse_snapshots(placements, sources)
    fallback = next(iter(placements.values()), None) or _Placement(
        request.account_id or f"path:{Path(inputs[0]).resolve()}", request.account_id or inputs[0], inputs[0], ""
    )

    groups: dict[str, list[tuple[str, Finding]]] = defaultdict(list)
    labels: dict[str, str] = {fallback.key: fallback.label}
    account_inputs: dict[str, set[str]] = defaultdict(set)
    account_files: dict[str, list[str]] = defaultdict(list)
    for shown, placement in placements.items():
        labels[placement.key] = placement.label
        account_inputs[placement.key].add(placement.input)
        account_files[placement.key].append(shown)
    suppressed: dict[str, set[str]] = defaultdict(set)
    suppressed_count: Counter[str] = Counter()
    for finding in report.findings:
        placement = placements.get(finding.location.path, fallback)
        print_ = history_fingerprint(finding, placement.fingerprint_path)
        if finding.suppressed is not None:  # counted as suppressed; never resolved, since it is still there
            suppressed[placement.key].add(print_)
            before_ignore = as_before_ignore(finding)  # suppressed by a new Sid ending: known by the old Sid
            if before_ignore is not None:
                suppressed[placement.key].add(history_fingerprint(before_ignore, placement.fingerprint_path))
            suppressed_count[placement.key] += 1
            continue
        groups[placement.key].append((print_, finding))
    keys = sorted(set(account_files) | set(groups))
    if not keys:
        keys = [fallback.key]

    controls = load_controls()
    accounts = []
    for key in keys:
        found = groups.get(key, [])
        comparison = history.record_run(
            key, labels[key], found, started_at=started_at, inputs=sorted(account_inputs.get(key, ())),
            files=len(account_files.get(key, ())), policies=_policies_in(report, account_files.get(key, [])),
            not_checked=report.summary.not_checked, tool_version=report.tool_version,
            catalog_version=report.catalog_version, suppressed=suppressed.get(key, set()), rules_run=rules_run,
            baselines_compared=compared, incomplete=any(
                line.startswith(f"{shown}: the export is incomplete") for shown in account_files.get(key, ())
                for line in report.summary.not_checked),
        )
        tracked = tuple(
            TrackedFinding(print_, finding, "new" if print_ in comparison.new else "unchanged")
            for print_, finding in found
        )
        accounts.append(
            AccountReport(
                key=key, label=labels[key], inputs=tuple(sorted(account_inputs.get(key, ()))),
                files=tuple(account_files.get(key, ())), findings=tracked, comparison=comparison,
                trend=tuple(history.runs(key, limit=request.trend_runs)),
                controls=evaluate_controls(controls, rules_run, tracked,
                                           has_resource_policies=_has_resource_policies(report, key),
                                           policies_checked=report.summary.policies),
                not_checked=tuple(report.summary.not_checked), suppressed=suppressed_count[key],
            )
        )
    return ScheduledReport(
        title=request.title, generated_at=started_at, history_path=history.path, accounts=tuple(accounts),
        check_report=report, rules_run=rules_run,
    )


def _baselines_compared(check: Any) -> frozenset[str]:
    """The ids of the baselines drift compared with when ``--baseline`` chose them: a drift finding of another
    baseline in the previous run is not resolved, only no longer looked for (as a rule no longer run)."""
    from auditor.baselines import resolve_baseline
    from auditor.drift import select_baselines

    ids = {baseline.id for baseline in select_baselines(check.baselines)}
    for mapping in check.baseline_mappings:  # a mapping compares its principals with its baseline in any case
        ref = str(mapping.baseline if hasattr(mapping, "baseline") else mapping[1])
        ids.add(resolve_baseline(ref).id if Path(ref).is_file() else ref.partition("@")[0])
    return frozenset(ids)


def _has_resource_policies(report: Report, key: str) -> bool | None:
    if not ACCOUNT.fullmatch(key):
        return None  # policy files: whether bucket or function policies are among them is not known
    return bool(report.summary.principals.get("resource_policies", 0))


def _policies_in(report: Report, files: Sequence[str]) -> int:
    # The check report counts policies over all inputs; with one account that is exact.
    return report.summary.policies if len(files) == len(report.summary.paths) else 0


def exit_code(result: ScheduledReport, fail_on: Severity | None, fail_on_new: Severity | None) -> int:
    if fail_on_new is not None and any(
        t.finding.severity.rank >= fail_on_new.rank for account in result.accounts for t in account.new
    ):
        return EXIT_FINDINGS
    if fail_on is not None and any(
        t.finding.severity.rank >= fail_on.rank for account in result.accounts for t in account.findings
    ):
        return EXIT_FINDINGS
    return EXIT_OK


def write_outputs(result: ScheduledReport, output_dir: Path, formats: Sequence[str]) -> list[Path]:
    from auditor.output import write_text
    from auditor.reporters import scheduled as renderers

    render: dict[str, Callable[[ScheduledReport], str]] = {
        "html": renderers.render_html, "markdown": renderers.render_markdown, "json": renderers.render_json,
    }
    written: list[Path] = []
    try:
        for fmt in formats:
            path = output_dir / OUTPUT_FILES[fmt]
            write_text(path, render[fmt](result))
            written.append(path)
    except BaseException:
        for path in written:  # a report not delivered whole is not delivered: the run is not recorded either
            path.unlink(missing_ok=True)
        raise
    return written


def execute_report(request: ReportRequest) -> int:
    from auditor.history import HistoryError, holds_no_run

    for fmt in request.formats:
        if fmt not in OUTPUT_FORMATS:
            raise ReportInputError(f"--format: {fmt!r} is not one of {', '.join(OUTPUT_FORMATS)}")
    if request.fetch is not None:
        _require_fetch()  # before the history database or the output folder is created
    history_path = request.history or default_history_path()
    created = not Path(history_path).exists()
    try:
        with History(history_path) as history:
            result = build_scheduled_report(request, history)
            try:
                written = write_outputs(result, request.output_dir, request.formats or OUTPUT_FORMATS)
            except BaseException:
                # a run whose report was not delivered must not turn its new findings into unchanged ones next time
                history.forget_runs([account.comparison.run.id for account in result.accounts])
                raise
    except BaseException as exc:
        # opened first to fail early on an unusable database; no run kept, and no database left behind unless another
        # report started at the same time has recorded one in it since
        if created and holds_no_run(Path(history_path)):
            for leftover in (Path(history_path), *(Path(f"{history_path}{end}") for end in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
        if isinstance(exc, HistoryError):
            raise ReportInputError(str(exc)) from None
        if isinstance(exc, sqlite3.DatabaseError):  # damaged after it opened (a page overwritten, a table dropped)
            from auditor.history import busy_message

            raise ReportInputError(busy_message(history_path, exc) or
                                   f"{history_path}: not a usable history database: {exc}; move it away (a new "
                                   "one is created) or give another --history") from None
        raise
    from auditor.run import warn_expired

    warn_expired(result.check_report.summary)
    if not request.quiet:
        totals = result.totals()
        sys.stderr.write(
            f"iam-audit report: {len(result.accounts)} account{'' if len(result.accounts) == 1 else 's'}, "
            f"{totals['findings']} finding{'' if totals['findings'] == 1 else 's'} ({totals['new']} new, "
            f"{totals['resolved']} resolved, "
            f"{totals['unchanged']} unchanged); wrote {', '.join(os.fspath(p) for p in written)}; "
            f"history {result.history_path}\n"
        )
    return exit_code(result, request.fail_on, request.fail_on_new)


__all__ = [
    "AccountReport",
    "BaselineDrift",
    "ControlResult",
    "FetchSpec",
    "ReportInputError",
    "ReportRequest",
    "ScheduledReport",
    "TrackedFinding",
    "build_scheduled_report",
    "evaluate_controls",
    "execute_report",
    "exit_code",
    "export_account_id",
    "history_fingerprint",
    "write_outputs",
]
