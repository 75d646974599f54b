"""Property-based fuzzing of the loaders, the whole check pipeline and every reporter.

Whatever the input, nothing escapes as an exception: every document ends as
policies (and findings), a located ``malformed`` finding, or a skip with a reason;
every grammar problem the loader records is reported by its rule; and every
reporter produces output its consumers can parse (JSON, SARIF, JUnit XML, HTML with
no tag of the document's making, a terminal stream with no escape sequence of the
document's making).

``IAM_AUDIT_FUZZ_EXAMPLES`` sets the examples per test: about 300 in ``make test``,
20,000 in ``make fuzz``.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from auditor.loaders import LoadOptions, load_text
from auditor.loaders import is_yaml_name as loaded_as_yaml
from auditor.loaders.parse import replace_surrogates
from auditor.loaders.result import LoadResult
from auditor.model import Finding, InputError, Location, Severity, StatementRef
from auditor.report import Report, Summary

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("IAM_AUDIT_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus"
REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------- strategies

HOSTILE = (
    "\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "\x9b2J", "<script>alert(1)</script>", '"><img src=x onerror=1>',
    "\u202eevil", "\x00", "\ud800", "\udfff", "%0A::error::x", "${aws:username}", "{{Ref:x}}", "]]>", "&amp;",
    "| a | b |", "`code`", "@org/team", "\r\n", "\t", "🔥", "ǅ", "\ufeff", "\uffff", "a" * 300,
)
POLICY_WORDS = (
    "Version", "Id", "Statement", "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
    "Principal", "NotPrincipal", "Condition", "AWS", "Service", "Federated", "CanonicalUser", "Allow", "Deny",
    "2012-10-17", "2008-10-17", "*", "s3:GetObject", "iam:PassRole", "s3:*", "iam:*", "sts:AssumeRole",
    "arn:aws:s3:::bucket/*", "arn:aws:iam::123456789012:root", "StringEquals", "aws:SourceAccount",
    "ForAllValues:StringLike", "Bool", "Null", "aws:SecureTransport", "ec2.amazonaws.com",
)

texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(HOSTILE),
    st.sampled_from(POLICY_WORDS),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12),
)
keys = st.one_of(st.sampled_from(POLICY_WORDS), texts)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True), texts,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)


def element(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all."""
    return st.one_of(valid, valid, json_values)


actions = st.one_of(
    st.sampled_from(("s3:GetObject", "s3:*", "*", "iam:PassRole", "ec2:RunInstances", "s3:Get*", "nosuch:Thing",
                     "s3:NoSuchAction", "S3:getobject", "iam:CreateAccessKey", "s3:?etObject", ":", "s3:", "")),
    texts,
)
resources = st.one_of(st.sampled_from(("*", "arn:aws:s3:::b/*", "arn:aws:iam::123456789012:role/x", "arn:",
                                        "arn:aws:s3:::${aws:username}/*")), texts)
string_or_list: Callable[[st.SearchStrategy[Any]], st.SearchStrategy[Any]] = lambda s: st.one_of(  # noqa: E731
    s, st.lists(s, max_size=6)
)
principals = st.one_of(
    st.just("*"),
    st.dictionaries(st.sampled_from(("AWS", "Service", "Federated", "CanonicalUser", "aws", "Bogus")),
                    element(string_or_list(st.one_of(st.sampled_from(("*", "123456789012",
                                                                       "ec2.amazonaws.com")), texts))),
                    max_size=3),
)
conditions = st.dictionaries(
    st.one_of(st.sampled_from(("StringEquals", "StringLike", "Bool", "Null", "ForAllValues:StringLike",
                               "ArnLike", "NumericLessThan", "DateGreaterThan", "StringEqualsIfExists",
                               "ForAnyValue:StringEquals", "IpAddress", "NoSuchOperator")), texts),
    element(st.dictionaries(st.one_of(st.sampled_from(("aws:SourceAccount", "aws:SecureTransport",
                                                       "s3:prefix", "sts:ExternalId", "aws:PrincipalTag/team",
                                                       "aws:username", "bogus:key")), texts),
                            element(string_or_list(scalars)), max_size=3)),
    max_size=3,
)
statements = st.fixed_dictionaries(
    {},
    optional={
        "Sid": element(texts),
        "Effect": element(st.sampled_from(("Allow", "Deny", "allow", "Permit"))),
        "Action": element(string_or_list(actions)),
        "NotAction": element(string_or_list(actions)),
        "Resource": element(string_or_list(resources)),
        "NotResource": element(string_or_list(resources)),
        "Principal": element(principals),
        "NotPrincipal": element(principals),
        "Condition": element(conditions),
        "Unknown": json_values,
    },
)
policies = st.fixed_dictionaries(
    {},
    optional={
        "Version": element(st.sampled_from(("2012-10-17", "2008-10-17", "2012-10-18", ""))),
        "Id": element(texts),
        "Statement": st.one_of(statements, st.lists(statements, max_size=6), json_values),
        "Extra": json_values,
    },
)


def dump_json(data: Any, indent: int | None, ascii_only: bool) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=ascii_only)


def dump_yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


MAX_EXPANDED_NODES = 200_000
"""Documents larger than this once written out are left aside: "huge" mutations repeat one shared object a
thousand times, and a few of them nested would write out gigabytes of text before the check even starts."""


def expanded_nodes(data: Any, limit: int = MAX_EXPANDED_NODES) -> int:
    """Values in ``data`` written out, counting a shared object at each place it appears (stops past ``limit``)."""
    sizes: dict[int, int] = {}

    def size(value: Any) -> int:
        if not isinstance(value, (dict, list)):
            return 1
        known = sizes.get(id(value))
        if known is None:
            children = value.values() if isinstance(value, dict) else value
            known = 1
            for child in children:
                known += size(child)
                if known > limit:
                    break
            sizes[id(value)] = known
        return known

    return size(data)


def serialized(draw: st.DrawFn, data: Any) -> tuple[str, str]:
    """``data`` as JSON (any layout) or YAML, with a file name that says which.

    A function given ``draw`` rather than a strategy of ``data``: Hypothesis would write out the repr of
    the strategy's arguments (megabytes for a mutated export) to label every draw.
    """
    assume(expanded_nodes(data) <= MAX_EXPANDED_NODES)
    form = draw(st.sampled_from(("json", "json-ascii", "json-indent", "yaml")))
    if form == "yaml":
        try:
            return dump_yaml(data), draw(st.sampled_from(("policy.yaml", "template.yml", "stack.template")))
        except Exception:  # the YAML emitter refuses some strings (lone surrogates): fall back to JSON
            form = "json-ascii"
    text = dump_json(data, 2 if form == "json-indent" else None, form == "json-ascii")
    return text, draw(st.sampled_from(("policy.json", "stack.template")))


TEXT_NOISE = st.text(alphabet='{}[]":,\\ \n\t-#&*!|>\'%@`~0123456789aeAZ\x00\ufeff€', max_size=8)


def text_mutation(draw: st.DrawFn, text: str) -> str:
    """Byte-level damage: truncation, deletion, insertion, duplication, a swapped character (given ``draw``,
    as ``serialized`` is)."""
    for _ in range(draw(st.integers(0, 4))):
        if not text:
            text = draw(TEXT_NOISE)
            continue
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        operation = draw(st.sampled_from(("truncate", "delete", "insert", "duplicate", "replace")))
        if operation == "truncate":
            text = text[:i]
        elif operation == "delete":
            text = text[:i] + text[j:]
        elif operation == "insert":
            text = text[:i] + draw(st.one_of(TEXT_NOISE, texts)) + text[i:]
        elif operation == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i] + draw(TEXT_NOISE) + text[j:]
    return text


def _slots(data: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key or index) for every value below ``data``."""
    stack = [data]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            yield node, key
            stack.append(value)


@st.composite
def structural_mutation(draw: st.DrawFn, data: Any, rounds: int = 4) -> Any:
    """Tree-level damage: a value replaced or of the wrong type, a key dropped, an entry repeated."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, rounds))):
        if expanded_nodes(data) > MAX_EXPANDED_NODES:
            break  # "huge" repeats of shared objects: every further round would list millions of slots
        slots = list(_slots(data))
        if not slots:
            return draw(json_values)
        container, key = slots[draw(st.integers(0, len(slots) - 1))]
        operation = draw(st.sampled_from(("replace", "delete", "wrap", "repeat", "unicode", "empty", "huge")))
        value = container[key]
        if operation == "replace":
            container[key] = draw(json_values)
        elif operation == "delete":
            del container[key]
        elif operation == "wrap":
            container[key] = draw(st.sampled_from(([value], {"x": value}, [[value]], json.dumps(value))))
        elif operation == "repeat":
            if isinstance(container, list):
                container.insert(key, copy.deepcopy(value))
            else:
                container[key] = [value, copy.deepcopy(value)]
        elif operation == "unicode":
            container[key] = draw(texts) if not isinstance(value, str) else value + draw(st.sampled_from(HOSTILE))
        elif operation == "empty":
            container[key] = draw(st.sampled_from(([], {}, "", None)))
        else:
            container[key] = [value] * draw(st.integers(50, 1000))
    return data


# ------------------------------------------------------------------------------------------- the pipeline


@lru_cache(maxsize=1)
def _engine() -> tuple[Any, Any]:
    from auditor.catalog import load_catalog
    from auditor.checks import all_rules

    return all_rules(), load_catalog()


def check_text(text: str, name: str, options: LoadOptions | None = None) -> tuple[LoadResult, Report]:
    """Load, check and render one document in-process, asserting the invariants on the way."""
    from auditor.engine import CheckContext, run_rules
    from auditor.permissions import permission_model

    rules, catalog = _engine()
    loaded = load_text(text, name, options or LoadOptions())
    # A fresh context per document, as each check run has: its memos are sized by one input, not thousands.
    findings = sorted(run_rules(loaded, rules, CheckContext(catalog)), key=Finding.sort_key)
    permission_model(catalog).forget_policies()
    summary = Summary(files=loaded.files, policies=len(loaded.policies), principals=dict(loaded.counts),
                      skipped=tuple(loaded.skipped), not_checked=tuple(loaded.not_checked), paths=(name,))
    report = Report(tuple(findings), tuple(loaded.errors), summary, rules.infos(), "0.0.0", "fuzz")
    assert loaded.files == 1
    assert not loaded.errors, "text input never ends as an input error"
    accounted = loaded.policies or loaded.document_problems or loaded.skipped or loaded.principals \
        or loaded.counts or loaded.not_checked
    if not accounted:
        from auditor.loaders.cloudformation import is_cloudformation
        from auditor.loaders.export import is_export
        from auditor.loaders.parse import parse_json, parse_yaml
        from auditor.loaders.terraform import is_terraform_plan

        parse = parse_yaml if loaded_as_yaml(name, text) else parse_json
        data = parse(text, name).data
        assert is_export(data) or is_cloudformation(data) or is_terraform_plan(data), \
            "a document vanished: no policy, no problem, no skip"
    _assert_problems_reported(loaded, findings, rules)
    sources = {p.source.display_path: p.source for p in loaded.policies}
    sources.update({s.display_path: s for s, _ in loaded.document_problems})
    # Rendering is per finding: a sample shows the escaping, and six renderings of a million findings (a
    # "huge" mutation of a statement list and of its actions) held at once would take over 10 GB.
    sample = Report(report.findings[:REPORTER_SAMPLE], report.errors, report.summary, report.rules,
                    report.tool_version, report.catalog_version)
    assert_reporters(sample, lambda path, line: sources[path].line_text(line) if path in sources else None)
    return loaded, report


def _assert_problems_reported(loaded: LoadResult, findings: list[Finding], rules: Any) -> None:
    """Every problem the loader recorded, whose rule exists, is a finding of that rule in that file."""
    reported = {(f.rule_id, f.location.path, f.message) for f in findings}
    expected: list[tuple[str, str, str]] = []
    for source, problem in loaded.document_problems:
        rule = rules.get(problem.rule)
        if rule is not None:
            expected.append((rule.id, source.display_path, problem.message))
    for policy in loaded.policies:
        for problem in policy.problems:
            rule = rules.get(problem.rule)
            if rule is not None:
                expected.append((rule.id, policy.source.display_path, problem.message))
    missing = [item for item in expected if item not in reported]
    assert not missing, f"problems recorded but not reported: {missing[:3]}"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


HTML_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "nav", "main", "section", "h1", "h2", "h3",
    "p", "ul", "li", "a", "div", "span", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th", "td",
    "details", "summary", "strong", "code", "pre", "br",
}  # fmt: skip
CONSOLE_SAMPLE = 25
REPORTER_SAMPLE = 5_000
SGR = re.compile(r"\x1b\[[0-9;]*m")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_reporters(report: Report, read_line: Callable[[str, int], str | None]) -> None:
    from auditor.reporters import console, github, html, json_format, junit, markdown, sarif

    outputs = {
        "json": json_format.render(report, include_suppressed=True),
        "sarif": sarif.render(report),
        "junit": junit.render(report),
        "github": github.render(report),
        "markdown": markdown.render(report),
        "html": html.render(report),
    }
    for fmt, text in outputs.items():
        text.encode("utf-8")  # strict: a lone surrogate from a "\ud800" escape must not reach the output
        assert "\x1b" not in text, fmt
    data = json.loads(outputs["json"])
    assert len(data["findings"]) == len(report.findings)
    sarif_data = json.loads(outputs["sarif"])
    assert len(sarif_data["runs"][0]["results"]) == len(report.findings)  # suppressed ones carry "suppressions"
    ET.fromstring(outputs["junit"].encode("utf-8"))
    parser = _Tags()
    parser.feed(outputs["html"])
    parser.close()
    for tag, attributes in parser.tags:
        assert tag in HTML_TAGS, tag
        for name, value in attributes:
            assert not name.startswith("on") and name not in {"src", "srcset", "action"}, name
            if name == "href":
                assert value is not None and value.startswith("#"), value
    for line in outputs["github"].splitlines():
        assert line.startswith("::") or not line.strip(), line
    # The terminal reporter's escaping is per finding, so a sample of them shows it.
    sample = Report(report.findings[:CONSOLE_SAMPLE], report.errors, report.summary, report.rules)
    for color in (False, True):
        stream = io.StringIO()
        console.render(sample, stream, read_line, show_source=True, show_suppressed=True, color=color)
        shown = SGR.sub("", stream.getvalue())
        shown.encode("utf-8")
        assert not CONTROL.search(shown), repr(CONTROL.search(shown))


# -------------------------------------------------------------------------------------------------- tests


@FUZZ
@given(st.data())
def test_random_json_and_yaml_documents(data: st.DataObject) -> None:
    document = data.draw(json_values)
    text, name = serialized(data.draw, document)
    check_text(text, name)


@FUZZ
@given(st.data())
def test_policies_with_every_element_of_the_wrong_type(data: st.DataObject) -> None:
    document = data.draw(policies)
    text, name = serialized(data.draw, document)
    loaded, _ = check_text(text, name)
    if "Statement" in document and name.endswith(".json"):
        if holds_non_finite(document):  # json.dumps writes NaN or Infinity, which JSON (and IAM) does not have
            assert not loaded.policies
            assert any(problem.rule == "syntax-error" for _, problem in loaded.document_problems)
        else:
            assert loaded.policies, "a document with a Statement is always checked as a policy"


def holds_non_finite(data: Any) -> bool:
    """Whether a float NaN or infinity is anywhere in ``data`` (each shared object looked at once)."""
    seen: set[int] = set()
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return True
        if isinstance(value, (dict, list)) and id(value) not in seen:
            seen.add(id(value))
            stack.extend(value.values() if isinstance(value, dict) else value)
    return False


@FUZZ
@given(st.data())
def test_damaged_text(data: st.DataObject) -> None:
    document = data.draw(st.one_of(policies, json_values))
    text, name = serialized(data.draw, document)
    check_text(text_mutation(data.draw, text), name)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")), TEXT_NOISE),
       st.sampled_from(("f.json", "f.yaml", "f.template", "f.tf")))
def test_arbitrary_text(text: str, name: str) -> None:
    check_text(text, name)


TERRAFORM_FIXTURES = sorted((REPO / "fixtures" / "loaders" / "terraform").glob("*.tf"))


@FUZZ
@given(st.data())
def test_damaged_terraform(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(TERRAFORM_FIXTURES)).read_text(encoding="utf-8")
    check_text(text_mutation(data.draw, text), "main.tf")


@FUZZ
@given(st.integers(1, 700), st.sampled_from(("[", "{", "mixed")), st.sampled_from(("f.json", "f.yaml")),
       st.integers(1, 600))
def test_deep_nesting(depth: int, shape: str, name: str, max_nesting: int) -> None:
    value: Any = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
                                                          "Resource": "*"}}
    for level in range(depth):
        use_list = shape == "[" or (shape == "mixed" and level % 2)
        value = [value] if use_list else {"Condition": value}
    text = json.dumps(value)
    loaded, _ = check_text(text, name, LoadOptions(max_nesting=max_nesting))
    limit = min(max_nesting, 500)
    syntax = [p for _, p in loaded.document_problems if p.rule == "syntax-error"]
    if depth + 2 > limit:  # the policy object and its statement are two levels
        assert syntax and "nesting" in syntax[0].message
    else:
        assert not syntax


@FUZZ
@given(st.lists(actions, max_size=3), st.integers(0, 1_500), st.sampled_from(("Action", "Resource", "Statement")))
def test_huge_and_empty_arrays(sample: list[str], count: int, where: str) -> None:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k"}
    items = (sample or ["s3:GetObject"]) * (count // max(1, len(sample)))
    if where == "Statement":
        document: dict[str, Any] = {"Version": "2012-10-17", "Statement": [statement] * count}
    else:
        document = {"Version": "2012-10-17", "Statement": [{**statement, where: items}]}
    loaded, _ = check_text(json.dumps(document), "big.json", LoadOptions(max_statements=500))
    if where == "Statement":
        assert len(loaded.policies[0].statements) == min(count, 500)
        assert any("max-statements" in item for item in loaded.not_checked) == (count > 500)


def _managed_files() -> list[Path]:
    folder = CORPUS / "aws-managed"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


@FUZZ
@given(st.data())
def test_mutated_aws_managed_policies(data: st.DataObject) -> None:
    files = _managed_files()
    if not files:
        pytest.skip("../shared/corpus/aws-managed is not available")
    text = data.draw(st.sampled_from(files)).read_text(encoding="utf-8")
    document = data.draw(structural_mutation(json.loads(text)))
    text, name = serialized(data.draw, document)
    if data.draw(st.booleans()):
        text = text_mutation(data.draw, text)
    check_text(text, name)


def _small_export() -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": ["s3:GetObject", "iam:PassRole"], "Resource": "*"}
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                     "Action": "sts:AssumeRole"}]}
    document = {"Version": "2012-10-17", "Statement": [statement]}
    arn = "arn:aws:iam::123456789012:policy/p"
    return {
        "UserDetailList": [{"UserName": "u", "Arn": "arn:aws:iam::123456789012:user/u", "GroupList": ["g", "ghost"],
                            "UserPolicyList": [{"PolicyName": "i", "PolicyDocument": document}],
                            "AttachedManagedPolicies": [{"PolicyArn": arn}, {"PolicyArn": arn + "-missing"}]}],
        "GroupDetailList": [{"GroupName": "g", "GroupPolicyList": [{"PolicyName": "gp",
                                                                    "PolicyDocument": json.dumps(document)}],
                             "AttachedManagedPolicies": [{"PolicyArn": arn}]}],
        "RoleDetailList": [{"RoleName": "r", "AssumeRolePolicyDocument": trust,
                            "RolePolicyList": [{"PolicyName": "rp", "PolicyDocument": document}],
                            "AttachedManagedPolicies": [{"PolicyArn": arn}],
                            "PermissionsBoundary": {"PermissionsBoundaryArn": arn}}],
        "Policies": [{"PolicyName": "p", "Arn": arn, "DefaultVersionId": "v1",
                      "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": document}]}],
        "ResourcePolicies": [{"service": "s3", "name": "b", "policy": trust}],
        "iam_audit": {"incomplete": [{"what": "s3 bucket policies"}]},
    }


@lru_cache(maxsize=1)
def _trimmed_example_export() -> dict[str, Any] | None:
    path = CORPUS / "account-authorization-details.example.json"
    if not path.is_file():
        return None
    full = json.loads(path.read_text(encoding="utf-8"))
    return {key: value[:1] if isinstance(value, list) else value for key, value in full.items()}


@FUZZ
@given(st.data())
def test_mutated_account_exports(data: st.DataObject) -> None:
    bases = [_small_export()]
    example = _trimmed_example_export()
    if example is not None:
        bases.append(example)
    document = data.draw(structural_mutation(data.draw(st.sampled_from(bases)), rounds=6))
    text, name = serialized(data.draw, document)
    check_text(text, name)


@FUZZ
@given(st.data())
def test_terraform_plans(data: st.DataObject) -> None:
    policy = data.draw(st.one_of(policies, json_values))
    plan = {
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [
            {"address": "aws_iam_role.r", "type": "aws_iam_role", "name": "r",
             "values": {"name": "r", "assume_role_policy": json.dumps(policy),
                        "inline_policy": [{"name": "i", "policy": data.draw(st.one_of(texts, json_values))}]}},
            {"address": "aws_iam_role_policy.p", "type": "aws_iam_role_policy", "name": "p",
             "values": {"role": "r", "policy": data.draw(st.sampled_from((json.dumps(policy), policy, "{", "")))}},
        ], "child_modules": data.draw(st.one_of(st.just([]), json_values))}},
    }
    document = data.draw(st.one_of(st.just(plan), structural_mutation(plan)))
    text, name = serialized(data.draw, document)
    check_text(text, name)


# CloudFormation: policies full of intrinsic functions, resolvable or not.

INTRINSIC_NAMES = ("Ref", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::If", "Fn::GetAtt", "Fn::ImportValue",
                   "Fn::Split", "Fn::FindInMap", "Fn::Base64", "Condition", "Fn::NoSuchFunction")
ref_targets = st.one_of(st.sampled_from(("AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::NoValue",
                                         "AWS::URLSuffix", "Bucket", "Loop", "Missing", "Role")), texts)
sub_texts = st.one_of(
    st.sampled_from(("arn:${AWS::Partition}:s3:::${Bucket}/*", "${Loop}", "${aws:username}", "${!Literal}",
                     "${Role.Arn}", "${", "${}", "${Missing}")),
    texts,
)


def _intrinsic(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        ref_targets.map(lambda target: {"Ref": target}),
        st.one_of(sub_texts, st.tuples(sub_texts, st.dictionaries(texts, children, max_size=2)).map(list),
                  children).map(lambda arg: {"Fn::Sub": arg}),
        st.tuples(st.one_of(st.just(":"), children), st.one_of(st.lists(children, max_size=4), children))
        .map(lambda arg: {"Fn::Join": list(arg)}),
        st.tuples(st.one_of(st.integers(-2, 5), st.just("9" * 5000), children), st.lists(children, max_size=3))
        .map(lambda arg: {"Fn::Select": list(arg)}),
        st.lists(children, min_size=0, max_size=4).map(lambda arg: {"Fn::If": arg}),
        st.one_of(st.lists(children, max_size=3), texts).map(lambda arg: {"Fn::GetAtt": arg}),
        children.map(lambda arg: {"Fn::ImportValue": arg}),
        st.tuples(st.sampled_from(INTRINSIC_NAMES), children).map(lambda pair: {pair[0]: pair[1]}),
    )


intrinsics = st.recursive(st.one_of(texts, actions, resources), _intrinsic, max_leaves=12)
cfn_statements = st.fixed_dictionaries(
    {"Effect": element(st.sampled_from(("Allow", "Deny")))},
    optional={
        "Action": st.one_of(intrinsics, st.lists(st.one_of(actions, intrinsics), max_size=4)),
        "Resource": st.one_of(intrinsics, st.lists(st.one_of(resources, intrinsics), max_size=4)),
        "Principal": st.one_of(principals, st.dictionaries(st.just("AWS"), intrinsics, max_size=1)),
        "Condition": st.one_of(conditions, intrinsics),
        "Sid": intrinsics,
    },
)
cfn_documents = st.one_of(
    st.fixed_dictionaries({"Version": st.one_of(st.just("2012-10-17"), intrinsics),
                           "Statement": st.one_of(st.lists(cfn_statements, max_size=3), intrinsics)}),
    intrinsics,
)


@st.composite
def templates(draw: st.DrawFn) -> dict[str, Any]:
    role_props = {
        "RoleName": draw(st.one_of(texts, intrinsics)),
        "AssumeRolePolicyDocument": draw(cfn_documents),
        "Policies": draw(st.one_of(st.lists(st.fixed_dictionaries({"PolicyName": intrinsics,
                                                                    "PolicyDocument": cfn_documents}),
                                            max_size=2), json_values)),
        "ManagedPolicyArns": draw(st.one_of(st.lists(intrinsics, max_size=3), intrinsics)),
    }
    resources: dict[str, Any] = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": role_props},
        "Managed": {"Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {"PolicyDocument": draw(cfn_documents),
                                   "Roles": draw(st.one_of(st.just([{"Ref": "Role"}]), json_values))}},
        "Bucket": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"},
                                                                   "PolicyDocument": draw(cfn_documents)}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": draw(cfn_documents)}},
    }
    parameters = {
        "Bucket": {"Type": "String", "Default": draw(st.one_of(texts, json_values))},
        "Loop": {"Type": "String", "Default": {"Ref": "Loop"}},  # a parameter whose default refers to itself
    }
    template: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": parameters,
                                "Resources": resources}
    if draw(st.booleans()):
        template = draw(structural_mutation(template, rounds=2))
    return template


def yaml_flow(value: Any) -> str:
    """YAML text in flow style where intrinsic functions use the short ``!Tag`` form."""
    if isinstance(value, dict):
        if len(value) == 1:
            (name, argument), = value.items()
            if name == "Ref" or name == "Condition" or name.startswith("Fn::"):
                short = "!" + (name if name in ("Ref", "Condition") else name.removeprefix("Fn::"))
                if name == "Fn::GetAtt" and isinstance(argument, str):
                    return f"{short} {json.dumps(argument)}"
                return f"{short} {yaml_flow(argument)}"
        return "{" + ", ".join(f"{json.dumps(str(k))}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_flow(item) for item in value) + "]"
    if isinstance(value, float) and value != value:
        return ".nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    return json.dumps(value)


@FUZZ
@given(templates(), st.sampled_from(("json", "yaml-short", "yaml-long")))
def test_cloudformation_with_random_intrinsics(template: dict[str, Any], form: str) -> None:
    if form == "json":
        text, name = json.dumps(template), "stack.template"
    elif form == "yaml-short":
        name = "stack.yaml"
        text = "\n".join(f"{json.dumps(str(k))}: {yaml_flow(v)}" for k, v in template.items()) + "\n"
    else:
        try:
            text, name = dump_yaml(template), "stack.yaml"
        except Exception:
            text, name = json.dumps(template), "stack.template"
    check_text(text, name)


# Reporters alone, fed findings whose every string is hostile. Strings in findings are valid Unicode
# (the loaders replace lone surrogates and undecodable file-name bytes), everything else goes.

texts = texts.map(replace_surrogates)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)),
    max_leaves=15,
)

finding_strategy = st.builds(
    Finding,
    rule_id=st.sampled_from(("IAM001", "IAM100", "IAM109", "IAM201", "IAM999")),
    slug=st.one_of(st.sampled_from(("full-admin", "syntax-error")), texts),
    category=st.sampled_from(("malformed", "wildcard-action", "unknown-action", "not-a-category")),
    severity=st.sampled_from(list(Severity)),
    title=texts,
    message=texts,
    location=st.builds(Location, path=st.one_of(st.sampled_from(("a.json", "dir/b c.yaml", "C:\\x\\y.json")), texts),
                       line=st.integers(0, 10**6), column=st.integers(0, 10**4), pointer=texts),
    subject=st.one_of(st.none(), st.fixed_dictionaries({"kind": texts, "name": texts, "arn": st.one_of(st.none(),
                                                        texts), "policy": st.one_of(st.none(), texts)})),
    statement=st.one_of(st.none(), st.builds(StatementRef, index=st.integers(0, 10**6),
                                             sid=st.one_of(st.none(), texts))),
    baseline=st.one_of(st.none(), texts),
    details=st.dictionaries(texts, json_values, max_size=3),
    suppressed=st.one_of(st.none(), texts),
)


@FUZZ
@given(st.lists(finding_strategy, max_size=6),
       st.lists(st.builds(InputError, path=texts, message=texts, line=st.integers(0, 99), column=st.integers(0, 99)),
                max_size=2),
       st.lists(texts, max_size=3), st.lists(st.tuples(texts, texts), max_size=2))
def test_reporters_with_fuzzed_findings(findings: list[Finding], errors: list[InputError], not_checked: list[str],
                                        skipped: list[tuple[str, str]]) -> None:
    from auditor.checks import all_rules

    summary = Summary(files=len(findings), policies=1, not_checked=tuple(not_checked), skipped=tuple(skipped),
                      paths=tuple(sorted({f.location.path for f in findings})))
    report = Report(tuple(findings), tuple(errors), summary, all_rules().infos(), "0.0.0", "fuzz")
    assert_reporters(report, lambda path, line: "  \x1b[2J<b>line</b> \u202e ")

