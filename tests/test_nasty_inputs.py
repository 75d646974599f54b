"""Hostile and broken inputs through the real command line, each with its exact outcome.

Every case runs ``iam-audit check --format json`` on the nasty input *and* on a
companion policy that has one medium finding (IAM202), so each row also shows that
one bad file never stops the others. The exit code is the nasty file's alone: the
companion's finding is below the default ``--fail-on high``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run_cli

CLEAN_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/key"}]}
CLEAN = json.dumps(CLEAN_POLICY)
COMPANION = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:Zzz*", "Resource": "arn:aws:s3:::bucket/key"}]})
MARKER = "iam-audit-pwned"


def _policy_with(**statement_changes: Any) -> str:
    statement = {**CLEAN_POLICY["Statement"][0], **statement_changes}  # type: ignore[index]
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


BILLION_LAUGHS = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
) + "\n"

PYTHON_TAGS = f"""Version: !!python/object/apply:os.system ["touch {MARKER}-apply"]
Id: !!python/object/new:os.system ["touch {MARKER}-new"]
Statement:
  - Effect: Allow
    Action: !!python/name:os.system
    Resource: !!python/object/apply:subprocess.check_call [["touch", "{MARKER}-check-call"]]
"""

CLOUDFORMATION = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Loop:
    Type: String
    Default: !Ref Loop
  Other:
    Type: String
    Default: !Ref Loop
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: ec2.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: !FindInMap [Map, !Ref Other, Action]
                Resource: !Sub "arn:${AWS::Partition}:s3:::${Loop}/${Missing}/${Role.Arn}"
              - Effect: !If [Cond, Allow, Deny]
                Action: s3:GetObject
                Resource: !GetAtt [Role, !Ref Loop]
              - !Ref AWS::NoValue
      ManagedPolicyArns: !Split [",", !ImportValue {Ref: Other}]
"""

EXPORT = {
    "UserDetailList": [
        {"UserName": "alice", "GroupList": "not-a-list",
         "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::123456789012:policy/dangling"}]},
        {"Arn": "arn:aws:iam::123456789012:user/nameless"},
    ],
    "GroupDetailList": {"GroupName": "not-a-list"},
    "RoleDetailList": [
        {"RoleName": "twice", "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}},
        {"RoleName": "twice", "AssumeRolePolicyDocument": 42, "RolePolicyList": [None]},
    ],
    "Policies": [{"PolicyName": "no-arn"}, {"Arn": "arn:aws:iam::123456789012:policy/no-versions"}],
}


@dataclass
class Case:
    name: str
    files: dict[str, bytes | str]
    """Relative path -> content of the inputs (the first one is passed unless ``paths`` says otherwise)."""
    exit_code: int
    rule_ids: set[str] = field(default_factory=set)
    """Exactly the rule ids reported in the nasty file."""
    error: str | None = None
    """A substring of the one input error, when the file cannot be checked at all."""
    message: str | None = None
    """A substring of some finding's message in the nasty file."""
    args: tuple[str, ...] = ()
    paths: tuple[str, ...] | None = None
    not_checked: str | None = None
    at: tuple[int, int] | None = None
    """(line, column) of the finding ``message`` names."""


CASES = [
    Case("empty file", {"empty.json": ""}, 1, {"IAM100"}, message="the file is empty"),
    Case("only whitespace", {"blank.json": " \n\t\r\n  "}, 1, {"IAM100"}, message="the file is empty"),
    Case("UTF-8 BOM", {"bom.json": b"\xef\xbb\xbf" + CLEAN.encode()}, 0),
    Case("UTF-8 BOM, YAML", {"bom.yaml": b"\xef\xbb\xbfVersion: '2012-10-17'\nStatement: []\n"}, 1, {"IAM101"}),
    Case("UTF-16 with BOM", {"utf16.json": CLEAN.encode("utf-16")}, 0),
    # bytes that are no text iam-audit reads are not JSON or YAML: malformed (IAM100), as the interface says
    Case("UTF-16 without BOM", {"utf16le.json": CLEAN.encode("utf-16-le")}, 1, {"IAM100"},
         message="looks like UTF-16 or UTF-32 without a byte-order mark"),
    Case("UTF-16 without BOM, a character beyond ASCII",
         {"utf16be.json": _policy_with(Sid="Cafe").replace("Cafe", "Caf\u00e9").encode("utf-16-be")}, 1, {"IAM100"},
         message="looks like UTF-16 or UTF-32 without a byte-order mark: save the file as UTF-8"),
    Case("UTF-32 with BOM", {"utf32.json": CLEAN.encode("utf-32")}, 0),
    Case("invalid UTF-8", {"latin1.json": _policy_with(Sid="Cafe").replace("Cafe", "Caf\xe9").encode("latin-1")},
         1, {"IAM100"}, message="not valid UTF-8 (byte 0xe9)", at=(1, 137)),
    Case("NUL byte", {"nul.json": CLEAN[:20] + "\x00" + CLEAN[20:]}, 1, {"IAM100"},
         message="contains a NUL byte: this is a binary file", at=(1, 21)),
    Case("100,000 levels of JSON nesting", {"deep.json": "[" * 100_000 + "]" * 100_000}, 1, {"IAM100"},
         message="nesting deeper than 200 levels"),
    Case("100,000 levels of YAML flow nesting", {"deep.yaml": "a: " + "[" * 100_000 + "]" * 100_000}, 1,
         {"IAM100"}, message="nesting deeper than 200 levels"),
    Case("201 levels with --max-nesting 300", {"d201.json": "[" * 201 + "]" * 201}, 0, set(),
         args=("--max-nesting", "300")),
    Case("duplicate keys", {"dup.json": CLEAN.replace('"Effect": "Allow"', '"Effect": "Allow", "Effect": "Deny"')},
         1, {"IAM108"}, message="key 'Effect' appears more than once"),
    Case("duplicate keys, YAML: the last value counts, as in CloudFormation",
         {"dup.yaml": "Version: '2012-10-17'\nStatement:\n  - Effect: Deny\n    Action: '*'\n    Resource: '*'\n"
                      "    Effect: Allow\n"}, 1, {"IAM001", "IAM108"}, message="key 'Effect' appears more than once"),
    Case("policy element names in lower case", {"lower.json": '{"version": "2012-10-17", "statement": '
                                                               '[{"effect": "Allow", "action": "s3:GetObject"}]}'},
         1, {"IAM101", "IAM102", "IAM110"}, message="did you mean 'Statement'?"),
    Case("another file's lower-case statement key", {"query.json": '{"statement": "SELECT 1"}'}, 0, set()),
    Case("integer of 5,000 digits", {"bigint.json": _policy_with(Condition={"NumericLessThan": {"s3:max-keys": 1}})
         .replace(": 1}", ": " + "9" * 5000 + "}")}, 1, {"IAM100"}, message="a number of more than 4,300 digits"),
    Case("NaN, which Python's json reads", {"nan.json": _policy_with(Condition={"NumericLessThan": {
         "s3:max-keys": 1}}).replace(": 1}", ": NaN}")}, 1, {"IAM100"}, message="NaN is not JSON"),
    Case("lone surrogate escape", {"surrogate.json": CLEAN.replace('"Effect"', '"Sid": "\\ud800", "Effect"')},
         1, {"IAM100", "IAM111"}, message="half of a UTF-16 surrogate pair"),
    Case("YAML billion laughs", {"laughs.yaml": BILLION_LAUGHS}, 1, {"IAM100"},
         message="YAML expands to more than 2,000,000 values"),
    Case("YAML alias inside itself", {"recursive.yaml": "&policy {Version: '2012-10-17', Statement: *policy}\n"}, 1,
         {"IAM100"}, message="refers to the collection that contains it"),
    Case("YAML alias inside itself, nested", {"nested.yaml": "Version: '2012-10-17'\nStatement: &s [*s]\n"}, 1,
         {"IAM109"}, message="a statement must be an object, found null"),
    Case("YAML python tags", {"tags.yaml": PYTHON_TAGS}, 1, {"IAM102", "IAM109", "IAM201"},
         message='Version ["touch iam-audit-pwned-apply"] is not a policy language version'),
    Case("YAML over --max-yaml-size", {"big.yaml": "Statement: []\n" + "# padding\n" * 120_000}, 1, {"IAM100"},
         message="over the YAML limit of 1,048,576", args=("--max-yaml-size", "1")),
    # Unresolvable values become {{...}} placeholders; the unknown-action rule still reports a placeholder
    # that stands for a whole action (IAM201), the circular Refs resolve to placeholders too.
    # every intrinsic left unresolved is a value known only when deployed (no IAM201 for !FindInMap as Action)
    Case("CloudFormation: unresolvable intrinsics, circular Refs", {"stack.yaml": CLOUDFORMATION}, 0, set()),
    Case("export: missing keys, wrong types, dangling ARNs, a role twice", {"export.json": json.dumps(EXPORT)}, 1,
         {"IAM101", "IAM109"}, message="role twice is listed twice",
         not_checked="user alice: attached policy arn:aws:iam::123456789012:policy/dangling is not in the export"),
    Case("file over --max-file-size", {"large.json": CLEAN + " " * (2 * 1024 * 1024)}, 2,
         error="over the limit of 1,048,576 (raise it with --max-file-size)", args=("--max-file-size", "1")),
    Case("policy over --max-statements", {"many.json": json.dumps(
        {"Version": "2012-10-17", "Statement": [CLEAN_POLICY["Statement"][0]] * 12})},  # type: ignore[index]
         0, {"IAM500"}, args=("--max-statements", "5"),
         not_checked="statements after the first 5 of 12 (over --max-statements)"),
    Case("path that does not exist", {}, 2, error="no such file or directory", paths=("missing.json",)),
    Case("binary file", {"blob.json": bytes(range(256)) * 4}, 1, {"IAM100"}, message="not valid UTF-8 (byte 0x80)"),
]


def _write(folder: Path, files: dict[str, bytes | str]) -> None:
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _check(folder: Path, *paths: str, args: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = run_cli("check", "--format", "json", *args, *paths, cwd=folder)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout, result.stderr
    return result, json.loads(result.stdout)


def _rule_ids(report: dict[str, Any], path: str) -> set[str]:
    return {f["rule_id"] for f in report["findings"] if f["location"]["path"] == path}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_nasty_input(case: Case, tmp_path: Path) -> None:
    _write(tmp_path, case.files)
    _write(tmp_path, {"companion.json": COMPANION})
    nasty = case.paths or tuple(case.files)[:1]
    started = time.monotonic()
    result, report = _check(tmp_path, *nasty, "companion.json", args=case.args)
    assert time.monotonic() - started < 60
    assert result.returncode == case.exit_code, (result.stderr, report["findings"][:3])
    path = nasty[0]
    assert _rule_ids(report, path) == case.rule_ids, report["findings"]
    if case.message is not None:
        named = [f for f in report["findings"] if f["location"]["path"] == path and case.message in f["message"]]
        assert named, report["findings"]
        if case.at is not None:
            assert (named[0]["location"]["line"], named[0]["location"]["column"]) == case.at
    if case.error is None:
        assert report["errors"] == []
    else:
        assert [e["path"] for e in report["errors"]] == [path]
        assert case.error in str(report["errors"][0]["line"]) + ":" + str(report["errors"][0]["column"]) + ": " \
            + report["errors"][0]["message"], report["errors"]
        assert case.error.split(": ", 1)[-1] in result.stderr
    if case.not_checked is not None:
        assert any(case.not_checked in item for item in report["summary"].get("not_checked", [])), report["summary"]
    assert _rule_ids(report, "companion.json") == {"IAM202"}, "the other file was checked too"
    assert not list(tmp_path.glob(f"{MARKER}*")), "a YAML tag ran code"


@pytest.mark.parametrize(("name", "text"), [
    ("dup.json", '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": "*", "Condition": {"\\ud800": {"a": 1, "a": 2, "\\udc00": 3, "\\udc00": 4}}}]}'),
    ("dup.yaml", 'Version: "2012-10-17"\nStatement:\n  - Effect: Allow\n    Action: s3:GetObject\n    Resource: "*"\n'
                 '    Condition:\n      "\\ud800": {a: 1, a: 2, "\\udc00": 3, "\\udc00": 4}\n'),
])
@pytest.mark.parametrize("fmt", ["html", "sarif", "json", "markdown", "junit", "github", "console"])
def test_a_repeated_key_under_half_a_surrogate_pair_reaches_no_report_as_one(tmp_path: Path, name: str, text: str,
                                                                             fmt: str) -> None:
    (tmp_path / name).write_text(text)
    result = subprocess.run([sys.executable, "-m", "auditor", "check", "--no-cache", "--format", fmt, name],
                            cwd=tmp_path, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1, result.stderr
    shown = result.stdout.decode("utf-8")  # strict: a surrogate cannot be encoded, and a report that tried failed
    assert "IAM108" in shown, shown[:2000]
    assert "\ufffd" in shown or fmt in ("console", "junit", "github", "markdown"), shown[:2000]  # these: no key
    if fmt == "json":
        keys = [f["details"]["key"] for f in json.loads(shown)["findings"] if f["rule_id"] == "IAM108"]
        assert sorted(keys) == ["a", "\ufffd"]


def test_python_tags_never_run_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tags of the table's case, once more through the loader in-process: still no file appears."""
    from auditor.loaders import LoadOptions, load_text

    monkeypatch.chdir(tmp_path)
    loaded = load_text(PYTHON_TAGS, "tags.yaml", LoadOptions())
    assert loaded.policies and not list(tmp_path.glob(f"{MARKER}*"))


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    from auditor.loaders.parse import ParseError, parse_yaml

    started = time.monotonic()
    with pytest.raises(ParseError, match="alias bomb"):
        parse_yaml(BILLION_LAUGHS, "laughs.yaml")
    assert time.monotonic() - started < 2.0


def test_large_flat_yaml_anchors_are_not_an_alias_bomb() -> None:
    """Many aliases of one small list are counted once each: below the limit, the document loads."""
    from auditor.loaders.parse import parse_yaml

    text = "base: &b [s3:GetObject, s3:PutObject]\n" + "".join(f"k{i}: *b\n" for i in range(2000))
    parsed = parse_yaml(text, "ok.yaml")
    assert parsed.data["k1999"] == ["s3:GetObject", "s3:PutObject"]


def test_yaml_flow_scan_ignores_brackets_in_strings_comments_and_block_scalars() -> None:
    from auditor.loaders.parse import yaml_flow_depth_exceeded

    deep = "[" * 300
    text = (f"a: '{deep}'\nb: \"{deep}\\\"\"\n# {deep}\nc: |\n  {deep}\n  more {deep}\nd: x{deep}\n"
            f"e: [[1], {{k: [2]}}]\n")
    assert yaml_flow_depth_exceeded(text, 200) == -1
    assert yaml_flow_depth_exceeded(text + f"f: {deep}", 200) == len(text) + 3 + 200


def test_folder_with_symlink_loop_fifo_dangling_link_and_binary_file(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    _write(folder, {"companion.json": COMPANION, "nested/clean.json": CLEAN, "blob.json": bytes(range(256))})
    (folder / "nested" / "loop").symlink_to(folder, target_is_directory=True)
    os.mkfifo(folder / "pipe.json")
    (folder / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    result, report = _check(tmp_path, "policies")
    assert result.returncode == 2
    errors = {e["path"]: e["message"] for e in report["errors"]}
    assert _rule_ids(report, "policies/blob.json") == {"IAM100"}  # not JSON: malformed
    assert errors == {
        "policies/pipe.json": "not a regular file (a FIFO, socket or device): not read",
        "policies/dangling.json": "cannot read: No such file or directory",
    }
    for path, message in errors.items():
        assert f"{path}" in result.stderr and message in result.stderr
    assert _rule_ids(report, "policies/companion.json") == {"IAM202"}
    assert report["summary"]["files"] == 3  # blob, companion and nested/clean, each once despite the loop
    assert {"path": "policies/nested/loop", "reason": "symlink loop: folder already visited"} in \
        report["summary"]["skipped"]


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading (the FIFO and dangling-link "
                    "cases cover files that cannot be read)")
    _write(tmp_path, {"secret.json": CLEAN, "companion.json": COMPANION})
    (tmp_path / "secret.json").chmod(0)
    result, report = _check(tmp_path, "secret.json", "companion.json")
    assert result.returncode == 2
    assert report["errors"] == [{"path": "secret.json", "line": 0, "column": 0,
                                 "message": "cannot read: Permission denied"}]
    assert _rule_ids(report, "companion.json") == {"IAM202"}


def test_a_path_given_twice_is_checked_once(tmp_path: Path) -> None:
    _write(tmp_path, {"companion.json": COMPANION})
    result, report = _check(tmp_path, "companion.json", "./companion.json", str(tmp_path / "companion.json"), ".")
    assert result.returncode == 0
    assert report["summary"]["files"] == 1
    assert [f["rule_id"] for f in report["findings"]] == ["IAM202"]


def test_file_name_with_undecodable_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.json"), "wb") as handle:
        handle.write(COMPANION.encode())
    result, report = _check(tmp_path, "policies")
    assert result.returncode == 0
    assert [f["location"]["path"] for f in report["findings"]] == ["policies/caf\ufffd.json"]


def test_console_summary_says_what_could_not_be_checked(tmp_path: Path) -> None:
    _write(tmp_path, {"companion.json": COMPANION, "many.json": json.dumps(
        {"Version": "2012-10-17", "Statement": [CLEAN_POLICY["Statement"][0]] * 3})})  # type: ignore[index]
    os.mkfifo(tmp_path / "pipe.json")
    result = run_cli("check", "--no-color", "--max-statements", "2", "pipe.json", "many.json", "companion.json",
                     cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert "not checked: 2 item(s)" in result.stdout
    assert "many.json: statements after the first 2 of 3 (over --max-statements)" in result.stdout
    assert "pipe.json: not a regular file" in result.stdout
    assert "companion.json:" in result.stdout


@pytest.mark.parametrize("option", ["--max-file-size", "--max-yaml-size", "--max-nesting", "--max-statements"])
def test_limits_must_be_positive(option: str, tmp_path: Path) -> None:
    _write(tmp_path, {"companion.json": COMPANION})
    result = run_cli("check", option, "0", "companion.json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"iam-audit: error: {option} must be at least 1, got 0"


def test_max_nesting_above_the_ceiling_is_clamped(tmp_path: Path) -> None:
    _write(tmp_path, {"deep.json": "[" * 600 + "]" * 600})
    result, report = _check(tmp_path, "deep.json", args=("--max-nesting", "100000"))
    assert result.returncode == 1
    assert [f["message"] for f in report["findings"]] == [
        "nesting deeper than 500 levels, the most iam-audit reads (deeper data would exhaust Python's recursion "
        "limit); no policy nests that deep"]
    assert report["findings"][0]["location"] == {"path": "deep.json", "line": 1, "column": 501}


def test_statements_beyond_the_limit_are_not_checked() -> None:
    from auditor.checks import all_rules
    from auditor.loaders import LoadOptions, load_text

    bad = {"Effect": "Allow", "Action": "s3:NoSuchAction", "Resource": "*"}
    document = {"Version": "2012-10-17", "Statement": [CLEAN_POLICY["Statement"][0]] * 3 + [bad]}  # type: ignore
    loaded = load_text(json.dumps(document), "p.json", LoadOptions(max_statements=3))
    policy = loaded.policies[0]
    assert len(policy.statements) == 3
    assert [(p.rule, dict(p.details)) for p in policy.problems] == [
        ("policy-size", {"statements": 4, "limit": 3})]
    assert loaded.not_checked == ["p.json: statements after the first 3 of 4 (over --max-statements)"]
    if all_rules().get("policy-size") is None:
        pytest.skip("IAM500 policy-size is not in this tree yet: it reports the problem once merged")


LARGE_FILE_MB = 100


def _write_large_policy(path: Path, megabytes: int) -> int:
    """A policy of ``megabytes`` MB: about 900,000 statements, written in chunks to keep memory low."""
    statement = '{{"Sid":"S{0}","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],' \
                '"Resource":"arn:aws:s3:::bucket-{0}/*"}}'
    target = megabytes * 1024 * 1024
    count = size = 0
    with open(path, "w", encoding="ascii") as handle:
        handle.write('{"Version":"2012-10-17","Statement":[')
        while size < target:
            chunk = ",".join(statement.format(count + i) for i in range(1000))
            handle.write(("," if count else "") + chunk)
            size += len(chunk) + 1
            count += 1000
        handle.write("]}")
    return count


@pytest.mark.slow
def test_a_100_mb_file_is_checked_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """100 MB is under the default limit of 200 MB, so it is read and checked, its statements capped."""
    path = tmp_path / "large.json"
    count = _write_large_policy(path, LARGE_FILE_MB)
    assert path.stat().st_size > LARGE_FILE_MB * 1024 * 1024
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "auditor", "check", "--format", "json", "large.json"],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    elapsed = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert result.returncode == 0
    assert report["summary"]["not_checked"] == [
        f"large.json: statements after the first 10,000 of {count:,} (over --max-statements)"]
    assert elapsed < 120, elapsed
    assert peak_mb < 3000, peak_mb



NOT_JSON = "is not JSON (JSON has no NaN or Infinity): IAM rejects the document; write a number, or a string in " \
           "double quotes"


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('{"Version": "2012-10-17",\n "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",\n'
         '  "Condition": {"NumericLessThan": {"s3:max-keys": NaN}}}}', 3, 52, "NaN " + NOT_JSON),
        ('{"Sid": "NaN Infinity", "n": [1, Infinity]}', 1, 34, "Infinity " + NOT_JSON),
        ('{"n": -Infinity}', 1, 7, "-Infinity " + NOT_JSON),
        ('{"Version": "2012-10-17", "Statement": [{"Sid": "a\x1bb"}]}', 1, 51,
         "invalid control character U+001B in a string: escape it as \\u001b"),
        ('{"Sid": "a\tb"}', 1, 11, "invalid control character U+0009 in a string: escape it as \\t"),
        ('{"Sid": "ab\n}', 1, 12,
         "a line break inside a string: escape it as \\n, or close the string (is a double quote missing?)"),
        ('{"Sid": "a', 1, 9, 'a string that never ends: its closing double quote (") is missing'),
        ('{"Sid": "a\\qb"}', 1, 11, "invalid escape \\q in a string: write \\\\ for a backslash (JSON knows "
         "\\\\, \\\", \\/, \\b, \\f, \\n, \\r, \\t and \\uXXXX)"),
        ('{"Sid": "\\u12"}', 1, 11, "invalid \\uXXXX escape: \\u must be followed by four hexadecimal digits"),
    ],
)
def test_json_syntax_errors_are_whole_sentences_at_the_token(text: str, line: int, column: int, message: str) -> None:
    from auditor.loaders import LoadOptions, load_text

    loaded = load_text(text, "p.json", LoadOptions())
    assert [(problem.rule, problem.line, problem.column, problem.message)
            for _, problem in loaded.document_problems] == [("syntax-error", line, column, message)]
    assert not loaded.policies


def test_nan_in_a_policy_held_in_a_string_is_not_json() -> None:
    from auditor.loaders.parse import ParseError, parse_embedded_json

    with pytest.raises(ParseError) as caught:
        parse_embedded_json('{"Statement": [\n  {"n": NaN}]}')
    assert caught.value.message == "NaN " + NOT_JSON + " (line 2, column 9 of the string)"
    assert caught.value.offset == 24


def test_a_utf16_file_with_a_bom_cut_short_is_a_whole_sentence(tmp_path: Path) -> None:
    _write(tmp_path, {"cut.json": b"\xfe\xff" + '{"S'.encode("utf-16-be")})
    _, report = _check(tmp_path, "cut.json")
    assert [(f["location"]["column"], f["message"]) for f in report["findings"]] == [
        (2, 'a string that never ends: its closing double quote (") is missing')]


def test_max_nesting_below_the_ceiling_says_how_far_it_may_be_raised() -> None:
    from auditor.loaders import LoadOptions, load_text

    loaded = load_text("[" * 60 + "]" * 60, "deep.json", LoadOptions(max_nesting=50))
    assert [problem.message for _, problem in loaded.document_problems] == [
        "nesting deeper than 50 levels (the limit; --max-nesting raises it, up to 500)"]


def test_a_plan_whose_inline_policy_is_not_a_list_is_read(tmp_path: Path) -> None:
    plan = {"format_version": "1.2", "planned_values": {"root_module": {"resources": [
        {"address": "aws_iam_role.r", "type": "aws_iam_role", "name": "r",
         "values": {"name": "r", "assume_role_policy": "{}", "inline_policy": True}}]}}}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    result = run_cli("check", "--no-config", "--format", "json", "plan.json", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert {f["rule_id"] for f in json.loads(result.stdout)["findings"]} == {"IAM101", "IAM102"}


def test_a_defect_of_one_reader_is_an_error_of_that_file_not_of_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever goes wrong inside a reader, the file is named as not checked and the other files are checked."""
    from auditor.loaders import LoadOptions, load_text
    from auditor.loaders import terraform as terraform_loader

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("'bool' object is not iterable")

    monkeypatch.setattr(terraform_loader, "load_terraform", broken)
    plan = json.dumps({"format_version": "1.2", "planned_values": {"root_module": {"resources": []}}})
    loaded = load_text(plan, "plan.json", LoadOptions())
    assert [str(error) for error in loaded.errors] == [
        "plan.json: not checked: reading it as a Terraform plan failed inside iam-audit (TypeError: 'bool' object is "
        "not iterable); this is a defect of iam-audit, please report it with the file"]
    policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    load_text(policy, "admin.json", LoadOptions(), loaded)
    assert [p.source.display_path for p in loaded.policies] == ["admin.json"]
