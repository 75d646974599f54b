"""The tool's own safety: it never evaluates input, never trusts its cache, never lets a policy drive the terminal."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run_cli

PACKAGE = REPO / "auditor"

# (pattern, why it is forbidden) for the package's own source.
FORBIDDEN = (
    (re.compile(r"(?<![\w.])eval\s*\("), "eval() runs text as code"),
    (re.compile(r"(?<![\w.])exec\s*\("), "exec() runs text as code"),
    (re.compile(r"\bpickle\b|\bcPickle\b|\bshelve\b|\bdill\b"), "unpickling runs code"),
    (re.compile(r"\bmarshal\b"), "marshal loads code objects"),
    (re.compile(r"typ\s*=\s*['\"]unsafe['\"]|\bUnsafeLoader\b|\bFullLoader\b|Loader\s*=\s*yaml\.Loader"),
     "a YAML loader that constructs arbitrary objects"),
    (re.compile(r"^\s*(?:import yaml\b|from yaml import)", re.MULTILINE), "PyYAML: use ruamel.yaml's safe loaders"),
    (re.compile(r"\byaml\.load\s*\("), "yaml.load( on a YAML object that is not typ='rt' or typ='safe'"),
    (re.compile(r"(?<![\w.])__import__\s*\(|\bos\.system\s*\(|shell\s*=\s*True"), "runs commands or imports by name"),
)
SAFE_YAML = re.compile(r"YAML\(\s*typ\s*=\s*['\"](?:rt|safe)['\"]")


def forbidden_uses(source: str) -> list[str]:
    """The reasons ``source`` breaks the rules above (``yaml.load(`` is allowed next to a safe ``YAML(typ=...)``)."""
    found = []
    for pattern, why in FORBIDDEN:
        if pattern.search(source):
            if why.startswith("yaml.load(") and SAFE_YAML.search(source) and not re.search(
                    r"YAML\(\s*\)|typ\s*=\s*['\"](?:unsafe|full|base)['\"]", source):
                continue
            found.append(why)
    return found


def test_the_scanner_finds_what_it_forbids() -> None:
    assert forbidden_uses("x = eval(text)") == ["eval() runs text as code"]
    assert forbidden_uses("exec (code)") == ["exec() runs text as code"]
    assert forbidden_uses("import pickle\n") == ["unpickling runs code"]
    assert forbidden_uses("import marshal") == ["marshal loads code objects"]
    assert "a YAML loader that constructs arbitrary objects" in forbidden_uses("YAML(typ='unsafe').load(t)")
    assert forbidden_uses("import yaml\ndata = yaml.load(text)") == [
        "PyYAML: use ruamel.yaml's safe loaders", "yaml.load( on a YAML object that is not typ='rt' or typ='safe'"]
    assert forbidden_uses("yaml = YAML()\nyaml.load(text)") == [
        "yaml.load( on a YAML object that is not typ='rt' or typ='safe'"]
    assert forbidden_uses("yaml = YAML(typ='rt')\nyaml.load(text)") == []
    assert forbidden_uses("ast.literal_eval(x); re.compile(p); self.evaluate(x)") == []


def test_the_package_never_evaluates_input() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    offenders = {str(f.relative_to(REPO)): forbidden_uses(f.read_text(encoding="utf-8")) for f in files}
    assert {path: why for path, why in offenders.items() if why} == {}


# ------------------------------------------------------------------------------------------ catalogue cache

def _findings_for(policy: dict, cache: Path, tmp_path: Path) -> tuple[int, list[tuple[str, str]], str]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy), encoding="utf-8")
    result = run_cli("check", "--format", "json", str(path), env={"IAM_AUDIT_CACHE_DIR": str(cache)})
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    return result.returncode, [(f["rule_id"], f["message"]) for f in report["findings"]], report["tool"]["catalog"]


POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjekt", "nosuchservice:Get", "s3:Zzz*"],
     "Resource": "arn:aws:s3:::bucket/*"}]}


def _cache_file(cache: Path) -> Path:
    files = list(cache.glob("catalog-*"))
    assert len(files) == 1, files
    return files[0]


def _edited(change: Callable[[dict[str, Any]], None]) -> Callable[[str], str]:
    """Edit the cache as one document (header fields plus ``services``), written back as its JSON Lines."""

    def edit(text: str) -> str:
        lines = text.split("\n")
        header = json.loads(lines[0])
        services = {name: json.loads(line) for name, line in zip(header["services"], lines[1:-1], strict=True)}
        data = {**{k: v for k, v in header.items() if k != "services"}, "services": services}
        change(data)
        edited = data["services"]
        names = list(edited) if isinstance(edited, dict) else edited
        body = [json.dumps(entry, separators=(",", ":")) for entry in edited.values()] if isinstance(edited, dict) \
            else []
        head = {**{k: v for k, v in data.items() if k != "services"}, "services": names}
        return "\n".join([json.dumps(head, separators=(",", ":")), *body]) + "\n"

    return edit


def _set_s3(key: str, name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["services"]["s3"][key].__setitem__(name, value)


CORRUPTIONS: dict[str, Callable[[str], str]] = {
    "truncated JSON": lambda text: text[: len(text) // 2],
    "empty file": lambda text: "",
    "not UTF-8": lambda text: "\udcff" + text,
    "huge nesting": lambda text: "[" * 200_000 + "]" * 200_000,
    "top level of the wrong type": lambda text: "[1, 2, 3]",
    "wrong cache format": _edited(lambda data: data.__setitem__("format", 1)),
    "wrong data version": _edited(lambda data: data.__setitem__("version", "0.0.0")),
    "services emptied": _edited(lambda data: data.__setitem__("services", {})),
    "service of the wrong type": _edited(lambda data: data["services"].__setitem__("s3", ["getobject"])),
    "action row of the wrong shape": _edited(_set_s3("actions", "getobject", ["GetObject", "Read"])),
    "action name of the wrong type": _edited(_set_s3("actions", "getobject", [42, "Read", [], []])),
    "resource types of the wrong type": _edited(_set_s3("actions", "getobject", ["GetObject", "Read", "x", []])),
    "resource type pair of the wrong type": _edited(
        _set_s3("actions", "getobject", ["GetObject", "Read", [["object", "yes"]], []])),
    "condition row of the wrong type": _edited(_set_s3("conditions", "s3:prefix", {"key": "s3:prefix"})),
    "resource row of the wrong type": _edited(_set_s3("resources", "object", "arn:aws:s3:::*")),
    "service names of the wrong type": _edited(lambda data: data.__setitem__("service_names", [["s3", 1]])),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS), ids=sorted(CORRUPTIONS))
def test_a_corrupt_catalogue_cache_is_rebuilt_not_trusted(corruption: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = _findings_for(POLICY, cache, tmp_path)
    assert {rule for rule, _ in expected[1]} == {"IAM200", "IAM201", "IAM202"}
    cache_file = _cache_file(cache)
    good = cache_file.read_text(encoding="utf-8")
    damaged = CORRUPTIONS[corruption](good)
    assert damaged != good
    cache_file.write_text(damaged, encoding="utf-8", errors="surrogateescape")
    assert _findings_for(POLICY, cache, tmp_path) == expected
    # A bad header is rebuilt at once; a bad service line is compiled afresh and the file dropped, to be
    # rewritten by the next run. Either way the damaged text is never used again.
    assert _findings_for(POLICY, cache, tmp_path) == expected
    assert _cache_file(cache).read_text(encoding="utf-8") == good, "the cache was rewritten with the compiled data"


def test_the_cache_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash while writing leaves no partial cache file behind, only the old one or none."""
    from auditor import catalog

    target = tmp_path / "catalog.json"

    def failing_replace(source: str, destination: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(catalog.os, "replace", failing_replace)
    catalog._write_atomically(target, '{"format": 2}')
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------- terminal escapes

HOSTILE_SID = "\x1b]0;pwned\x07\x1b[2J\x1b[31mEvil\x9b1m\u202eSid"


def _hostile_files(folder: Path) -> list[str]:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": HOSTILE_SID, "Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "arn:aws:s3:::b/k"}]}
    (folder / "sid.json").write_text(json.dumps(policy), encoding="utf-8")
    # A raw escape outside any string: a syntax error whose source line is shown as it is in the file.
    (folder / "raw.json").write_text('{"Version": "2012-10-17",\n \x1b]0;pwned\x07\x1b[5m}\n', encoding="utf-8")
    return ["sid.json", "raw.json"]


@pytest.mark.parametrize("mode", ["--no-color", "FORCE_COLOR", "--quiet"])
def test_escape_sequences_from_a_policy_never_reach_the_terminal(mode: str, tmp_path: Path) -> None:
    files = _hostile_files(tmp_path)
    args = ["check", *files]
    env = {"FORCE_COLOR": "1", "TERM": "xterm-256color"} if mode == "FORCE_COLOR" else {}
    if mode != "FORCE_COLOR":
        args.insert(1, mode)
    env.pop("NO_COLOR", None)
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environment.update(env)
    result = run_cli(*args, cwd=tmp_path, env=environment)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "IAM111" in output and "IAM201" in output and "IAM100" in output
    if mode == "FORCE_COLOR":
        assert re.search(r"\x1b\[[0-9;]*m", output), "colour was forced"
    else:
        assert "\x1b" not in output
    remaining = re.sub(r"\x1b\[[0-9;]*m", "", output)
    assert "\x1b" not in remaining and "\x07" not in remaining and "\x9b" not in remaining
    assert "\u202e" not in remaining
    assert "Evil" in remaining, "the Sid is still shown, without its control sequences"
