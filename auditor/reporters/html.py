"""One self-contained HTML page: inline CSS, no script, no external URL.

Markup is built with :func:`h`, which escapes every text child and attribute value
unless it is already :class:`Markup`; nothing else in this module concatenates HTML
from data. A ``Content-Security-Policy`` meta tag forbids scripts and remote loads as
a second line of defence.

The compliance report adds its own sections (history, trends, new and resolved
findings) with ``render(report, extra_sections=[Section(...)])``, building each body
with :func:`h` and :func:`severity_badge`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from auditor.fingerprint import fingerprint
from auditor.model import Finding, Severity
from auditor.report import Report, RuleInfo, expired_line, subject_labels
from auditor.reporters._escape import html_text


class Markup(str):
    """HTML that is safe to emit as it is: only :func:`h` and :func:`escape` make it."""

    __slots__ = ()


Child = Markup | str | int | None | Iterable["Child"]

_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
_URL_SCHEME = re.compile(r"\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")
_VOID_ELEMENTS = frozenset({"br", "hr", "meta", "wbr"})


def escape(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html_text(value))


def h(tag: str, *children: Child, **attributes: str | int | bool | None) -> Markup:
    """An element; ``class_`` stands for ``class``, ``None``/``False`` attributes are left out.

    ``href`` and ``src`` must be in-page or relative: an URL with a scheme (``https:``,
    ``javascript:``, ``data:``) or ``//host`` raises ``ValueError``.
    """
    if not _NAME.match(tag):
        raise ValueError(f"bad tag name {tag!r}")
    rendered = [tag]
    for raw_name, value in attributes.items():
        name = raw_name.rstrip("_").replace("_", "-")
        if not _NAME.match(name):
            raise ValueError(f"bad attribute name {raw_name!r}")
        if value is None or value is False:
            continue
        if value is True:
            rendered.append(name)
            continue
        if name in {"href", "src", "action", "formaction"} and _URL_SCHEME.match(str(value)):
            raise ValueError(f"{name} must stay inside the report, got {value!r}")
        rendered.append(f'{name}="{escape(value)}"')
    opening = f"<{' '.join(rendered)}>"
    if tag in _VOID_ELEMENTS:
        return Markup(opening)
    return Markup(f"{opening}{_children(children)}</{tag}>")


def _children(children: Iterable[Child]) -> str:
    parts: list[str] = []
    for child in children:
        if child is None:
            continue
        if isinstance(child, str | int):
            parts.append(escape(child))
        else:
            parts.append(_children(child))
    return "".join(parts)


def join(parts: Iterable[Child]) -> Markup:
    return Markup(_children(parts))


@dataclass(frozen=True, slots=True)
class Section:
    """A block of the page: ``body`` is :class:`Markup` built with :func:`h`."""

    id: str
    title: str
    body: Markup
    placement: Literal["top", "bottom"] = "bottom"
    """``top``: right after the headline counts; ``bottom``: after the findings."""


def severity_badge(severity: Severity | str) -> Markup:
    value = Severity(severity).value
    return h("span", value, class_=f"badge sev-{value}")


def render(
    report: Report,
    *,
    title: str = "iam-audit report",
    extra_sections: Sequence[Section] = (),
) -> str:
    sections = [_overview(report)]
    sections += [s for s in extra_sections if s.placement == "top"]
    sections.append(_findings_section(report))
    not_checked = _not_checked_section(report)
    if not_checked is not None:
        sections.append(not_checked)
    if report.summary.expired_suppressions:
        items = [h("li", expired_line(notice)) for notice in report.summary.expired_suppressions]
        sections.append(Section("expired-suppressions", "Expired suppressions", h("ul", items)))
    rules = _rules_section(report)
    if rules is not None:
        sections.append(rules)
    sections += [s for s in extra_sections if s.placement == "bottom"]
    return page(title, sections, subtitle=_versions(report))


def page(title: str, sections: Sequence[Section], *, subtitle: str = "", extra_css: str = "") -> str:
    """The whole document around the sections, with a table of contents.

    ``extra_css`` is the caller's own stylesheet (a constant, never data), appended to ours.
    """
    nav = h("nav", h("ul", [h("li", h("a", s.title, href=f"#{s.id}")) for s in sections]))
    body = h(
        "body",
        h("header", h("h1", title), h("p", subtitle, class_="muted") if subtitle else None),
        nav,
        h("main", [h("section", h("h2", s.title), s.body, id=s.id) for s in sections]),
    )
    head = h(
        "head",
        h("meta", charset="utf-8"),
        h("meta", name="viewport", content="width=device-width, initial-scale=1"),
        h("meta", http_equiv="Content-Security-Policy", content=_CSP),
        h("title", title),
        h("style", Markup(_CSS + extra_css)),
    )
    return f"<!DOCTYPE html>\n{h('html', head, body, lang='en')}\n"


def _versions(report: Report) -> str:
    parts = []
    if report.tool_version:
        parts.append(f"iam-audit {report.tool_version}")
    if report.catalog_version:
        parts.append(f"IAM catalogue {report.catalog_version}")
    return " · ".join(parts)


def _overview(report: Report) -> Section:
    counts = report.by_severity()
    tiles = [
        h(
            "div",
            h("span", str(counts.get(s.value, 0)), class_="count"),
            h("span", s.value, class_="label"),
            class_=f"tile sev-{s.value}" + ("" if counts.get(s.value) else " zero"),
        )
        for s in reversed(Severity)
    ]
    active = len(report.active_findings)
    verdict = f"{active} finding{'' if active == 1 else 's'}" if active else "No findings"
    if report.errors:
        verdict += (
            f"; {len(report.errors)} input{'' if len(report.errors) == 1 else 's'} could not be checked"
        )
    facts = [
        ("Files", report.summary.files),
        ("Policies", report.summary.policies),
        *((kind.capitalize(), count) for kind, count in sorted(report.summary.principals.items())),
        ("Suppressed", len(report.suppressed_findings)),
        ("Input errors", len(report.errors)),
    ]
    body: list[Child] = [
        h("p", verdict, class_="verdict" + (" bad" if active or report.errors else " good")),
        h("div", tiles, class_="tiles"),
        h("dl", [(h("dt", name), h("dd", str(value))) for name, value in facts], class_="facts"),
    ]
    if report.summary.verdicts:
        rows = [
            h("tr", h("td", v.label, h("br"), h("small", v.path)) if v.path else h("td", v.label),
              h("td", v.verdict))
            for v in report.summary.verdicts
        ]
        body.append(
            h("table", h("thead", h("tr", h("th", "Principal"), h("th", "Drift verdict"))), h("tbody", rows))
        )
    return Section("overview", "Overview", join(body), placement="top")


def _findings_section(report: Report) -> Section:
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_path[finding.location.path].append(finding)
    if not by_path:
        return Section("findings", "Findings", h("p", "Nothing to report.", class_="muted"))

    def worst_first(path: str) -> tuple[int, str]:
        active = [f.severity.rank for f in by_path[path] if f.suppressed is None]
        return (-max(active, default=-1), path)

    files = []
    for path in sorted(by_path, key=worst_first):
        findings = sorted(by_path[path], key=lambda f: (f.suppressed is not None, *f.sort_key()))
        files.append(_file_block(path, findings, report.rules))
    clean = sorted(set(report.summary.paths) - set(by_path))
    if clean:
        files.append(
            h(
                "p",
                f"No findings in {len(clean)} other file{'' if len(clean) == 1 else 's'}: ",
                ", ".join(clean),
                class_="muted",
            )
        )
    return Section("findings", "Findings by file", join(files))


def _file_block(path: str, findings: list[Finding], rules: Mapping[str, RuleInfo]) -> Markup:
    counts: dict[Severity, int] = defaultdict(int)
    for finding in findings:
        if finding.suppressed is None:
            counts[finding.severity] += 1
    badges = [
        h("span", f"{counts[s]} {s.value}", class_=f"badge sev-{s.value}")
        for s in reversed(Severity)
        if counts[s]
    ]
    header = h("h3", h("span", path, class_="path"), " ", badges)
    head_row = h("tr", h("th", "Severity"), h("th", "Line"), h("th", "Rule"), h("th", "Finding"))
    rows = [_finding_row(finding, rules) for finding in findings]
    return h(
        "div", header, h("table", h("thead", head_row), h("tbody", rows), class_="findings"), class_="file"
    )


def _finding_row(finding: Finding, rules: Mapping[str, RuleInfo]) -> Markup:
    location = finding.location
    line = (
        f"{location.line}:{location.column}"
        if location.line and location.column
        else str(location.line or "")
    )
    rule_link: Child = (
        h("a", finding.rule_id, href=f"#rule-{finding.rule_id.lower()}")
        if finding.rule_id in rules
        else finding.rule_id
    )
    severity: Child = severity_badge(finding.severity)
    if finding.suppressed is not None:
        severity = (severity, h("span", "suppressed", class_="badge suppressed"))
    owner = " / ".join(subject_labels(finding.subject))
    message_cell = h(
        "td",
        h("div", finding.message),
        h("div", owner, class_="muted") if owner else None,
        h("details", h("summary", "details"), _finding_facts(finding)),
    )
    return h(
        "tr",
        h("td", severity),
        h("td", line, class_="num"),
        h("td", rule_link, h("div", finding.slug, class_="muted")),
        message_cell,
        class_="suppressed-row" if finding.suppressed is not None else None,
    )


def _finding_facts(finding: Finding) -> Markup:
    facts: list[tuple[str, str]] = [("Title", finding.title), ("Category", finding.category)]
    subject = finding.subject or {}
    for key in ("kind", "name", "arn", "policy"):
        if subject.get(key):
            facts.append((f"Subject {key}", str(subject[key])))
    if finding.statement is not None:
        sid = finding.statement.sid
        facts.append(("Statement", f"{finding.statement.index}" + (f" (Sid {sid})" if sid else "")))
    if finding.location.pointer:
        facts.append(("JSON pointer", finding.location.pointer))
    if finding.baseline:
        facts.append(("Baseline", finding.baseline))
    for key, value in finding.details.items():
        facts.append((str(key), _format_value(value)))
    if finding.suppressed is not None:
        facts.append(("Suppressed because", finding.suppressed))
    facts.append(("Fingerprint", fingerprint(finding)))
    return h("dl", [(h("dt", name), h("dd", value)) for name, value in facts])


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(_format_value(item) for item in items)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _not_checked_section(report: Report) -> Section | None:
    items: list[Child] = [h("li", str(error)) for error in report.errors]
    items += [h("li", text) for text in report.summary.not_checked]
    items += [h("li", f"{path}: skipped, {reason}") for path, reason in report.summary.skipped]
    if not items:
        return None
    return Section("not-checked", "Not checked", h("ul", items))


def _rules_section(report: Report) -> Section | None:
    rule_ids = sorted({f.rule_id for f in report.findings if f.rule_id in report.rules})
    if not rule_ids:
        return None
    blocks = []
    for rule_id in rule_ids:
        rule = report.rules[rule_id]
        docs = rule.docs
        blocks.append(
            h(
                "div",
                h("h3", f"{rule.id} {rule.slug}", " ", severity_badge(rule.severity)),
                h("p", h("strong", rule.title)),
                h("p", docs.what),
                h("p", h("strong", "Why it matters. "), docs.why),
                h("p", h("strong", "Fix. "), docs.fix),
                h("pre", docs.example) if docs.example else None,
                h("p", "Documentation: ", h("code", rule.help_uri), class_="muted"),
                class_="rule",
                id=f"rule-{rule.id.lower()}",
            )
        )
    return Section("rules", "Rules", join(blocks))


_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_CSS = """
:root { --critical: #991b1b; --high: #c2410c; --medium: #a16207; --low: #1d4ed8; --info: #4b5563;
  --line: #e5e7eb; --muted: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827;
  background: #f9fafb; }
header { padding: 24px 32px 8px; }
h1 { margin: 0; font-size: 26px; }
h2 { font-size: 20px; margin: 32px 0 12px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 8px; }
nav ul { list-style: none; display: flex; gap: 16px; margin: 0; padding: 0 32px; }
nav a, .findings a { color: #1d4ed8; text-decoration: none; }
main { padding: 0 32px 48px; max-width: 1280px; }
.muted { color: var(--muted); }
.verdict { font-size: 18px; font-weight: 600; }
.verdict.bad { color: var(--critical); }
.verdict.good { color: #15803d; }
.tiles { display: flex; gap: 12px; flex-wrap: wrap; }
.tile { min-width: 120px; padding: 12px 16px; border-radius: 8px; color: #fff; }
.tile.zero { opacity: 0.35; }
.tile .count { display: block; font-size: 30px; font-weight: 700; line-height: 1.1; }
.tile .label { text-transform: uppercase; font-size: 12px; letter-spacing: 0.05em; }
.sev-critical { background: var(--critical); } .sev-high { background: var(--high); }
.sev-medium { background: var(--medium); } .sev-low { background: var(--low); }
.sev-info { background: var(--info); }
.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
  font-weight: 600; margin-right: 4px; }
.badge.suppressed { background: #9ca3af; }
.path { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
table { border-collapse: collapse; width: 100%; background: #fff; margin-bottom: 12px; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { font-size: 12px; text-transform: uppercase; color: var(--muted); }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.suppressed-row { opacity: 0.55; }
details summary { cursor: pointer; color: var(--muted); font-size: 13px; }
details dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; font-size: 13px; }
details dt { color: var(--muted); } details dd { margin: 0; word-break: break-all; }
.rule { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px; margin-bottom: 12px; }
pre { background: #f3f4f6; padding: 8px; overflow-x: auto; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
"""
