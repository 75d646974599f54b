"""JUnit XML for Jenkins, GitLab and any CI that shows test reports.

One ``<testsuite>`` per input file, one ``<testcase>`` per (file, rule) pair that has
findings, with a ``<failure>`` listing them when one is at or above the run's ``--fail-on`` (else a ``<skipped>``
listing them: the job passes, and its test report shows no failure), and one passing ``pass`` testcase per file
without findings, so a clean run still shows what was checked. Suppressed findings
make a ``<skipped>`` testcase when nothing else of that rule is left in the file;
files that could not be read get an ``<error>``; files that are not policies, and each
item that could not be checked (``not checked`` in the console), a ``<skipped>`` testcase
(in the suite of its file, or of the run when it names none).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable

from auditor.model import Finding, InputError
from auditor.report import Report
from auditor.reporters._escape import one_line, xml_text
from auditor.reporters._not_checked import NotChecked, not_checked

SUITE_FOR_RUN = "iam-audit"


def render(report: Report) -> str:
    root = ET.Element("testsuites", name=SUITE_FOR_RUN)
    findings_by_path: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        findings_by_path[finding.location.path].append(finding)
    errors_by_path: dict[str, list[InputError]] = defaultdict(list)
    for error in report.errors:
        errors_by_path[error.path].append(error)
    notes_by_path: dict[str | None, list[NotChecked]] = defaultdict(list)
    for item in not_checked(report):
        notes_by_path[item.path].append(item)
    unlocated = notes_by_path.pop(None, [])
    skipped = dict(report.summary.skipped)
    checked = set(report.summary.paths)
    paths = set(findings_by_path) | set(errors_by_path) | set(skipped) | checked | {p for p in notes_by_path if p}

    for path in sorted(paths):
        suite = _element(root, "testsuite", name=path)
        if path in skipped:
            case = _testcase(suite, path, "not a policy")
            _element(case, "skipped", message=skipped[path])
        for error in errors_by_path.get(path, ()):
            case = _testcase(suite, path, "input error")
            _element(case, "error", message=error.message, type="InputError").text = xml_text(str(error))
        _rule_cases(suite, path, report, findings_by_path.get(path, []))
        _not_checked_cases(suite, path, notes_by_path.get(path, []))
        if path in checked and path not in skipped and path not in errors_by_path and not findings_by_path.get(path):
            _testcase(suite, path, "pass")
        _count(suite, suite.iter("testcase"))

    _expired_suppressions(root, report)
    if not paths or unlocated:
        suite = _element(root, "testsuite", name=SUITE_FOR_RUN)
        if not paths:
            checked_text = f"{report.summary.files} file(s), {report.summary.policies} policy(ies) checked"
            _testcase(suite, SUITE_FOR_RUN, checked_text)
        _not_checked_cases(suite, SUITE_FOR_RUN, unlocated)
        _count(suite, suite.iter("testcase"))
    _count(root, root.iter("testcase"))

    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _not_checked_cases(suite: ET.Element, classname: str, items: list[NotChecked]) -> None:
    """Each item that could not be checked is a skipped test case: CI shows it, and it neither passes nor fails."""
    for item in items:
        where = f"line {item.line}: " if item.line else ""
        case = _testcase(suite, classname, one_line(f"not checked: {where}{item.what}"))
        _element(case, "skipped", message=one_line(f"not checked: {item.text}"))


def _rule_cases(suite: ET.Element, path: str, report: Report, findings: list[Finding]) -> None:
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in sorted(findings, key=Finding.sort_key):
        by_rule[finding.rule_id].append(finding)
    for rule_id in sorted(by_rule):
        rule_findings = by_rule[rule_id]
        case = _testcase(suite, path, f"{rule_id} {rule_findings[0].slug}")
        active = [f for f in rule_findings if f.suppressed is None]
        suppressed = [f for f in rule_findings if f.suppressed is not None]
        failing = [f for f in active if report.fails(f)]
        if active and not failing:  # below --fail-on: shown, and the test neither fails nor passes, as the run
            worst = max(active, key=lambda f: f.severity.rank).severity
            threshold = report.fail_on.value if report.fail_on is not None else "never"
            below = _element(case, "skipped", message=one_line(
                f"{len(active)} {_plural(len(active), 'finding')} ({worst.value}) below --fail-on {threshold}: "
                f"{active[0].message}"))
            below.text = xml_text("\n".join(_finding_line(f) for f in active))
        elif active:
            worst = max(active, key=lambda f: f.severity.rank).severity
            summary = f"{len(active)} {_plural(len(active), 'finding')} ({worst.value}): {active[0].message}"
            failure = _element(case, "failure", message=one_line(summary), type=f"{rule_id} {worst.value}")
            lines = [_finding_line(f) for f in active]
            lines += [f"suppressed: {_finding_line(f)} ({f.suppressed})" for f in suppressed]
            rule = report.rules.get(rule_id)
            if rule is not None:
                lines += ["", f"Fix: {rule.docs.fix}", f"See: {rule.help_uri}"]
            failure.text = xml_text("\n".join(lines))
        else:
            reasons = "; ".join(sorted({f.suppressed or "" for f in suppressed}))
            _element(case, "skipped", message=f"suppressed: {reasons}")


def _expired_suppressions(root: ET.Element, report: Report) -> None:
    """An expired suppression is a failing testcase of the configuration file: something to fix or renew."""
    by_path: dict[str, list[dict[str, object]]] = defaultdict(list)
    for notice in report.summary.expired_suppressions:
        by_path[str(notice["path"])].append(dict(notice))
    for path, notices in sorted(by_path.items()):
        suite = _element(root, "testsuite", name=path)
        for notice in notices:
            case = _testcase(suite, path, f"expired suppression of {notice['rule']} (line {notice['line']})")
            _element(case, "failure", message=one_line(str(notice["message"])), type="expired-suppression")
        _count(suite, suite.iter("testcase"))


def _finding_line(finding: Finding) -> str:
    location = finding.location
    where = f"line {location.line}" if location.line else "line unknown"
    if location.line and location.column:
        where += f", column {location.column}"
    return f"{where}: [{finding.severity.value}] {finding.message}"


def _testcase(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return _element(suite, "testcase", classname=classname, name=name, time="0")


def _element(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, tag, {key: xml_text(value) for key, value in attributes.items()})


def _count(element: ET.Element, cases: Iterable[ET.Element]) -> None:
    tests = failures = errors = skipped = 0
    for case in cases:
        tests += 1
        failures += case.find("failure") is not None
        errors += case.find("error") is not None
        skipped += case.find("skipped") is not None
    element.set("tests", str(tests))
    element.set("failures", str(failures))
    element.set("errors", str(errors))
    element.set("skipped", str(skipped))
    element.set("time", "0")


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"
