"""The three outputs of ``iam-audit report``: one self-contained HTML page, a Markdown summary, JSON.

The HTML is built only with :func:`auditor.reporters.html.h` (every string from a policy, Sid,
principal or path is escaped there) on :func:`auditor.reporters.html.page`, whose
Content-Security-Policy forbids scripts and remote loads. Charts are inline SVG
(:mod:`auditor.reporters.svg`). The top of the page answers, per account: how many findings,
what is new since the previous run, what was resolved, how the count moved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from auditor.model import Finding, Severity
from auditor.report import expired_line, subject_labels
from auditor.reporters import svg
from auditor.reporters._escape import markdown_text as md
from auditor.reporters._json import readable
from auditor.reporters.html import Child, Markup, Section, h, join, page, severity_badge

if TYPE_CHECKING:
    from auditor.history import RunInfo, StoredFinding
    from auditor.scheduled import AccountReport, ControlResult, ScheduledReport, TrackedFinding

JSON_SCHEMA = "iam-audit-report/1"
MARKDOWN_MARKER = "<!-- iam-audit scheduled report -->"
MARKDOWN_MAX_ROWS = 50

STATUS_LABELS = {"fail": "fail", "pass": "pass", "not-evaluated": "not evaluated"}

_CSS = svg.CHART_CSS + """
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; }
.card h3 { margin: 0 0 4px; font-size: 18px; }
.card .verdict { margin: 4px 0 10px; font-size: 16px; }
.deltas { display: flex; gap: 10px; margin: 8px 0; }
.delta { flex: 1; padding: 8px 10px; border-radius: 8px; background: #f3f4f6; }
.delta .count { display: block; font-size: 26px; font-weight: 700; line-height: 1.1; }
.delta .label { font-size: 12px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); }
.delta.new .count { color: #dc2626; } .delta.resolved .count { color: #16a34a; }
.sevline { display: flex; gap: 6px; flex-wrap: wrap; margin: 6px 0; }
.charts { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
.charts figure { margin: 0; } .charts figcaption { font-size: 13px; color: var(--muted); }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.status-fail { background: #fee2e2; color: #991b1b; } .status-pass { background: #dcfce7; color: #166534; }
.status-not-evaluated { background: #e5e7eb; color: #374151; }
.tag-new { background: #dc2626; } .tag-resolved { background: #16a34a; }
.controls td:first-child { white-space: nowrap; }
.trendline { display: flex; align-items: center; gap: 10px; font-size: 13px; }
"""


# --- HTML -------------------------------------------------------------------------------------------


def render_html(result: ScheduledReport) -> str:
    sections = [_summary_section(result)]
    for index, account in enumerate(result.accounts):
        sections.append(_account_section(account, f"account-{index + 1}"))
    sections.append(_inputs_section(result))
    subtitle = f"Generated {when(result.generated_at)}"
    if result.check_report.tool_version:
        subtitle += f" · iam-audit {result.check_report.tool_version}"
    if result.check_report.catalog_version:
        subtitle += f" · IAM catalogue {result.check_report.catalog_version}"
    return page(result.title, sections, subtitle=subtitle, extra_css=_CSS)


def when(stamp: str) -> str:
    """``2024-06-03T07:00:12+00:00`` as ``2024-06-03 07:00 UTC``."""
    if len(stamp) >= 16 and stamp[10] == "T":
        return f"{stamp[:10]} {stamp[11:16]}" + (" UTC" if stamp.endswith(("+00:00", "Z")) else "")
    return stamp


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _severity_words(findings: Sequence[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.severity is s) for s in reversed(Severity)}
    return ", ".join(f"{count} {s.value}" for s, count in counts.items() if count)


def account_verdict(account: AccountReport) -> tuple[str, bool]:
    """One sentence about the account's state, and whether it calls for attention."""
    total = len(account.findings)
    new = [t.finding for t in account.new]
    if account.previous is None:
        text = f"First run: {_plural(total, 'finding')}" + (f" ({_severity_words(new)})" if new else "")
        return text + ".", bool(total)
    since = when(account.previous.started_at)
    if not account.comparison.comparable:
        text = f"{_plural(total, 'finding')}; the previous run used another fingerprint scheme, so all count as new."
        return text, bool(total)
    if new:
        text = f"{_plural(len(new), 'new finding')} since {since} ({_severity_words(new)})"
    else:
        text = f"No new findings since {since}"
    resolved = len(account.resolved)
    if resolved:
        text += f"; {resolved} resolved"
    if account.comparison.carried:
        text += (f"; {_plural(account.comparison.carried, 'finding')} of the previous run not looked for this time "
                 "(an incomplete export, rules not run) kept, neither resolved nor counted")
    return text + f"; {_plural(total, 'finding')} in all.", bool(new)


def _delta(count: int, label: str, kind: str) -> Markup:
    return h("div", h("span", str(count), class_="count", data_count=kind), h("span", label, class_="label"),
             class_=f"delta {kind}")


def _account_card(account: AccountReport, anchor: str) -> Markup:
    verdict, bad = account_verdict(account)
    counts = account.by_severity()
    failing = sum(1 for c in account.controls if c.status == "fail")
    passing = sum(1 for c in account.controls if c.status == "pass")
    unknown = sum(1 for c in account.controls if c.status == "not-evaluated")
    totals = [run.total for run in account.trend]
    return h(
        "div",
        h("h3", h("a", account.label, href=f"#{anchor}")),
        h("p", verdict, class_="verdict " + ("bad" if bad else "good"), data_account=account.key),
        h(
            "div",
            _delta(len(account.findings), "findings", "findings"),
            _delta(len(account.new), "new", "new"),
            _delta(len(account.resolved), "resolved", "resolved"),
            _delta(len(account.unchanged), "unchanged", "unchanged"),
            class_="deltas",
        ),
        h("div", [h("span", f"{counts.get(s.value, 0)} {s.value}", class_=f"badge sev-{s.value}")
                  for s in reversed(Severity) if counts.get(s.value)] or h("span", "no findings", class_="muted"),
          class_="sevline"),
        h("p", f"Controls: {failing} failing, {passing} passing, {unknown} not evaluated.", class_="muted"),
        h("div", svg.sparkline(totals, title=f"Findings over the last {_plural(len(totals), 'run')}: "
                               + ", ".join(str(t) for t in totals)),
          h("span", f"findings over the last {_plural(len(totals), 'run')}", class_="muted"), class_="trendline"),
        class_="card",
    )


def _summary_section(result: ScheduledReport) -> Section:
    totals = result.totals()
    worst = result.worst_new()
    if totals["new"]:
        headline = f"{_plural(totals['new'], 'new finding')} (worst: {worst.value if worst else ''})"
    else:
        headline = "No new findings"
    headline += f" · {totals['resolved']} resolved · {totals['findings']} open"
    headline += f" in {_plural(len(result.accounts), 'account')}"
    cards = [_account_card(account, f"account-{index + 1}") for index, account in enumerate(result.accounts)]
    body = [
        h("p", headline, class_="verdict " + ("bad" if totals["new"] else "good")),
        h("div", cards, class_="cards"),
    ]
    return Section("summary", "At a glance", join(body))


def _account_section(account: AccountReport, anchor: str) -> Section:
    previous = account.previous
    body: list[Child] = [
        h("p", "Compared with the run of ", h("strong", when(previous.started_at)), f" (run #{previous.id}).",
          class_="muted") if previous is not None else h("p", "No earlier run of this account is in the history.",
                                                        class_="muted"),
        _charts(account),
        h("h3", f"New since the previous run ({len(account.new)})"),
        _tracked_table(account.new, empty="Nothing new."),
        h("h3", f"Resolved since the previous run ({len(account.resolved)})"),
        _stored_table(account.resolved, empty="Nothing resolved."),
        h("details", h("summary", f"Unchanged ({len(account.unchanged)})"),
          _tracked_table(account.unchanged, empty="None.")),
        h("h3", "Drift from documented baselines"),
        _drift_table(account),
        h("h3", "Compliance controls"),
        _controls_table(account.controls),
    ]
    return Section(anchor, f"Account {account.label}", join(body))


def _charts(account: AccountReport) -> Markup:
    columns = [(f"#{run.id} {_short_date(run.started_at)}", run.by_severity) for run in account.trend]
    severities = [(s.value, account.by_severity().get(s.value, 0), f"sev-{s.value}") for s in reversed(Severity)]
    categories = [(name, count, "bar") for name, count in account.by_category().items()]
    changes = [("new", len(account.new), "new"), ("resolved", len(account.resolved), "resolved"),
               ("unchanged", len(account.unchanged), "unchanged")]
    runs = _plural(len(columns), "run")
    figures = [
        h("figure", svg.stacked_severity_bars(columns, title=f"Findings by severity, last {runs}"),
          h("figcaption", f"Trend: findings by severity over the last {runs}")),
        h("figure", svg.horizontal_bars(changes, title="Since the previous run"),
          h("figcaption", "Since the previous run")),
        h("figure", svg.horizontal_bars(severities, title="Findings by severity"),
          h("figcaption", "By severity")),
    ]
    if categories:
        figures.append(h("figure", svg.horizontal_bars(categories, title="Findings by category"),
                         h("figcaption", "By category")))
    return h("div", figures, class_="charts")


def _short_date(stamp: str) -> str:
    return stamp[5:10] if len(stamp) >= 10 else stamp


def _owner(subject: Mapping[str, Any] | None) -> str:
    return " / ".join(subject_labels(subject))


def _finding_row(severity: str, rule_id: str, slug: str, message: str, subject: Mapping[str, Any] | None,
                 statement: Mapping[str, Any] | None, where: str, print_: str) -> Markup:
    sid = (statement or {}).get("sid")
    return h(
        "tr",
        h("td", severity_badge(severity)),
        h("td", rule_id, h("div", slug, class_="muted")),
        h("td", h("div", message), h("div", _owner(subject), class_="muted") if subject else None,
          h("div", f"Sid {sid}", class_="muted") if sid else None),
        h("td", h("span", where, class_="path"), h("div", print_[:12], class_="muted", title=print_)),
        data_fingerprint=print_,
    )


_HEAD = h("thead", h("tr", h("th", "Severity"), h("th", "Rule"), h("th", "Finding"), h("th", "Where")))


def _where(location: Mapping[str, Any]) -> str:
    line = location.get("line")
    return f"{location.get('path', '')}:{line}" if line else str(location.get("path", ""))


def _tracked_table(findings: Sequence[TrackedFinding], *, empty: str) -> Markup:
    if not findings:
        return h("p", empty, class_="muted")
    ordered = sorted(findings, key=lambda t: (-t.finding.severity.rank, *t.finding.sort_key()))
    rows = [
        _finding_row(t.finding.severity.value, t.finding.rule_id, t.finding.slug, t.finding.message,
                     t.finding.subject, t.finding.statement.to_json() if t.finding.statement else None,
                     _where(t.finding.location.to_json()), t.fingerprint)
        for t in ordered
    ]
    return h("table", _HEAD, h("tbody", rows), class_="findings")


def _stored_table(findings: Sequence[StoredFinding], *, empty: str) -> Markup:
    if not findings:
        return h("p", empty, class_="muted")
    ordered = sorted(findings, key=lambda s: (-s.severity.rank, s.rule_id, s.fingerprint))
    rows = [
        _finding_row(s.severity.value, s.rule_id, str(s.data.get("slug", "")), str(s.data.get("message", "")),
                     s.data.get("subject"), s.data.get("statement"), _where(s.data.get("location") or {}),
                     s.fingerprint)
        for s in ordered
    ]
    return h("table", _HEAD, h("tbody", rows), class_="findings")


def _drift_table(account: AccountReport) -> Markup:
    drift = account.drift()
    if not drift:
        return h("p", "No drift findings: no documented baseline applied to this account's policies.",
                 class_="muted")
    rows = [
        h("tr", h("td", h("code", item.baseline)), h("td", str(len(item.current)), class_="num"),
          h("td", str(len(item.new)), class_="num"), h("td", str(len(item.resolved)), class_="num"),
          h("td", ", ".join(sorted({t.finding.category for t in item.current}))))
        for item in drift
    ]
    head = h("thead", h("tr", h("th", "Baseline"), h("th", "Drift findings"), h("th", "New"), h("th", "Resolved"),
                        h("th", "Categories")))
    return h("table", head, h("tbody", rows))


def _controls_table(controls: Sequence[ControlResult]) -> Markup:
    order = {"fail": 0, "not-evaluated": 1, "pass": 2}
    rows = []
    for result in sorted(controls, key=lambda c: (order[c.status], c.control.framework, c.control.id)):
        control = result.control
        evidence = None
        if result.evidence:
            evidence = h("details", h("summary", _plural(len(result.evidence), "finding")),
                         h("ul", [h("li", severity_badge(t.finding.severity), f"{t.finding.rule_id} ",
                                    _owner(t.finding.subject) or t.finding.location.path, ": ", t.finding.message)
                                  for t in result.evidence]))
        rows.append(
            h("tr",
              h("td", h("span", STATUS_LABELS[result.status], class_=f"status status-{result.status}")),
              h("td", h("strong", control.id), h("div", f"{control.framework} {control.version}", class_="muted")),
              h("td", control.title, h("div", f"Scope: {control.scope}", class_="muted")),
              h("td", result.reason, evidence),
              data_status=result.status, data_control=control.key)
        )
    head = h("thead", h("tr", h("th", "Status"), h("th", "Control"), h("th", "Requirement"), h("th", "Evidence")))
    return h("table", head, h("tbody", rows), class_="controls")


def _inputs_section(result: ScheduledReport) -> Section:
    rows = [
        h("tr", h("td", account.label), h("td", ", ".join(account.inputs)), h("td", str(len(account.files)),
                                                                             class_="num"),
          h("td", str(account.suppressed), class_="num"))
        for account in result.accounts
    ]
    body: list[Child] = [
        h("table", h("thead", h("tr", h("th", "Account"), h("th", "Inputs"), h("th", "Files"), h("th", "Suppressed"))),
          h("tbody", rows)),
        h("p", "History database: ", h("code", str(result.history_path)), class_="muted"),
        h("p", f"Rules run: {len(result.rules_run)}.", class_="muted"),
    ]
    not_checked = _not_checked(result)
    if not_checked:
        body.append(h("h3", "Not checked"))
        body.append(h("ul", [h("li", text) for text in not_checked]))
    expired = _expired(result)
    if expired:
        body.append(h("h3", "Expired suppressions"))
        body.append(h("ul", [h("li", text) for text in expired], class_="expired-suppressions"))
    return Section("inputs", "Inputs", join(body))


def _expired(result: ScheduledReport) -> list[str]:
    """The configured suppressions past their date: their findings are reported again (compliance debt)."""
    return [expired_line(notice) for notice in result.check_report.summary.expired_suppressions]


def _not_checked(result: ScheduledReport) -> list[str]:
    """What the audit did not cover: parts of inputs left out, files that hold no policy (an input that cannot be
    read stops the report instead)."""
    summary = result.check_report.summary
    return list(summary.not_checked) + [f"{path}: skipped, {reason}" for path, reason in summary.skipped]


# --- Markdown ---------------------------------------------------------------------------------------


def render_markdown(result: ScheduledReport, *, max_rows: int = MARKDOWN_MAX_ROWS) -> str:
    totals = result.totals()
    parts = [MARKDOWN_MARKER, f"## {md(result.title)}", f"_{md(when(result.generated_at))}_"]
    lines = []
    for account in result.accounts:
        verdict, _ = account_verdict(account)
        lines.append(f"- **{md(account.label)}**: {md(verdict)}")
    parts.append("\n".join(lines))
    table = ["| Account | Findings | New | Resolved | Unchanged | " + " | ".join(s.value for s in reversed(Severity))
             + " | Controls failing |",
             "| --- | --: | --: | --: | --: | " + " | ".join("--:" for _ in Severity) + " | --: |"]
    for account in result.accounts:
        counts = account.by_severity()
        failing = sum(1 for c in account.controls if c.status == "fail")
        table.append(
            f"| {md(account.label)} | {len(account.findings)} | {len(account.new)} | {len(account.resolved)} | "
            f"{len(account.unchanged)} | " + " | ".join(str(counts.get(s.value, 0)) for s in reversed(Severity))
            + f" | {failing} |"
        )
    parts.append("\n".join(table))
    new_rows = [(account, t) for account in result.accounts for t in account.new]
    if new_rows:
        new_rows.sort(key=lambda pair: (-pair[1].finding.severity.rank, pair[0].label, *pair[1].finding.sort_key()))
        rows = ["| Account | Severity | Rule | Subject | Message |", "| --- | --- | --- | --- | --- |"]
        rows += [
            f"| {md(account.label)} | {md(t.finding.severity.value)} | {md(t.finding.rule_id)} {md(t.finding.slug)} | "
            f"{md(_owner(t.finding.subject) or t.finding.location.path)} | {md(t.finding.message)} |"
            for account, t in new_rows[:max_rows]
        ]
        if len(new_rows) > max_rows:
            rows.append(f"\n_…and {len(new_rows) - max_rows} more in report.html._")
        parts += [f"### New ({totals['new']})", "\n".join(rows)]
    resolved_rows = [(account, s) for account in result.accounts for s in account.resolved]
    if resolved_rows:
        rows = ["| Account | Severity | Rule | Subject | Message |", "| --- | --- | --- | --- | --- |"]
        rows += [
            f"| {md(account.label)} | {md(s.severity.value)} | {md(s.rule_id)} {md(str(s.data.get('slug', '')))} | "
            f"{md(_owner(s.data.get('subject')) or str((s.data.get('location') or {}).get('path', '')))} | "
            f"{md(str(s.data.get('message', '')))} |"
            for account, s in resolved_rows[:max_rows]
        ]
        if len(resolved_rows) > max_rows:
            rows.append(f"\n_…and {len(resolved_rows) - max_rows} more in report.html._")
        parts += [f"### Resolved ({totals['resolved']})", "\n".join(rows)]
    failing_rows = [(account, c) for account in result.accounts for c in account.controls if c.status == "fail"]
    if failing_rows:
        rows = ["| Account | Control | Title | Evidence |", "| --- | --- | --- | --- |"]
        rows += [
            f"| {md(account.label)} | {md(c.control.framework)} {md(c.control.id)} | {md(c.control.title)} | "
            f"{md(c.reason)} |"
            for account, c in failing_rows
        ]
        parts += ["### Failing controls", "\n".join(rows)]
    not_evaluated = sum(1 for a in result.accounts for c in a.controls if c.status == "not-evaluated")
    if not_evaluated:
        parts.append(f"_{not_evaluated} control results are **not evaluated** (no rule evidences them yet, or "
                     "their rules did not run); see report.html._")
    not_checked = _not_checked(result)
    if not_checked:
        rows = [f"- {md(text)}" for text in not_checked[:max_rows]]
        if len(not_checked) > max_rows:
            rows.append(f"- _…and {len(not_checked) - max_rows} more in report.html._")
        parts += [f"### Not checked ({len(not_checked)})", "\n".join(rows)]
    expired = _expired(result)
    if expired:
        parts += [f"### Expired suppressions ({len(expired)})", "\n".join(f"- {md(text)}" for text in expired)]
    parts.append("Full report: `report.html` (self-contained; open it in a browser). Data: `report.json`.")
    return "\n\n".join(parts) + "\n"


# --- JSON -------------------------------------------------------------------------------------------


def _run_json(run: RunInfo | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "started_at": run.started_at, "recorded_at": run.recorded_at,
            "findings": run.total, "by_severity": dict(run.by_severity), "tool_version": run.tool_version,
            "fingerprint_version": run.fingerprint_version}


def _tracked_json(tracked: TrackedFinding) -> dict[str, Any]:
    return {"fingerprint": tracked.fingerprint, "status": tracked.status, **tracked.finding.to_json()}


def _account_json(account: AccountReport) -> dict[str, Any]:
    return {
        "key": account.key,
        "label": account.label,
        "inputs": list(account.inputs),
        "files": list(account.files),
        "run": _run_json(account.comparison.run),
        "previous_run": _run_json(account.previous),
        "counts": {"findings": len(account.findings), "new": len(account.new), "resolved": len(account.resolved),
                   "unchanged": len(account.unchanged), "suppressed": account.suppressed,
                   "carried": account.comparison.carried},
        "by_severity": account.by_severity(),
        "by_category": account.by_category(),
        "findings": [_tracked_json(t) for t in account.findings],
        "resolved": [{"fingerprint": s.fingerprint, "status": "resolved", **s.data} for s in account.resolved],
        "drift": [{"baseline": d.baseline, "findings": len(d.current), "new": len(d.new), "resolved": len(d.resolved)}
                  for d in account.drift()],
        "controls": [{"key": c.control.key, "id": c.control.id, "framework": c.control.framework,
                      "version": c.control.version, "title": c.control.title, "status": c.status,
                      "reason": c.reason, "evidence": [t.fingerprint for t in c.evidence]}
                     for c in account.controls],
        "trend": [_run_json(run) for run in account.trend],
        "not_checked": list(account.not_checked),
    }


def render_json(result: ScheduledReport) -> str:
    document = {
        "schema": JSON_SCHEMA,
        "title": result.title,
        "generated_at": result.generated_at,
        "tool": {"name": "iam-audit", "version": result.check_report.tool_version,
                 "catalog": result.check_report.catalog_version},
        "history": str(result.history_path),
        "totals": result.totals(),
        "rules_run": sorted(result.rules_run),
        "expired_suppressions": [dict(notice) for notice in result.check_report.summary.expired_suppressions],
        "accounts": [_account_json(account) for account in result.accounts],
    }
    return readable(document, expand=2)
