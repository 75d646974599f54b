"""The quick path into ``check`` reads a command line exactly as Typer does, or leaves it to Typer."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from auditor import cli, run
from auditor._fast_cli import _Unsupported, parse, run_check
from auditor.run import CheckRequest
from tests.conftest import FIXTURES, REPO, run_cli

SAME_AS_TYPER = [
    ["x.json"],
    ["a", "b", "--format", "json", "-f", "sarif", "--select", "IAM201", "--select", "unknown-action"],
    ["--no-cache", "-q", "--output=o.txt", "p", "--ignore", "IAM203"],
    ["p", "--max-file-size", "3", "--kind", "trust", "--fail-on", "never", "--max-nesting", "5"],
    ["--", "-starts-with-a-dash.json", "--format"],
    ["p", "--format=json", "--output-json", "j.json", "--no-color", "--no-source", "--show-suppressed", "-"],
    ["p", "--fail-on", "low", "--fail-on", "medium", "--exclude", "**/x", "--include", "*.json", "--category", "x"],
]

LEFT_TO_TYPER = [
    [], ["--help"], ["p", "--help"], ["--nope", "p"], ["--no-cache=1", "p"], ["-qf", "json", "p"], ["-fjson", "p"],
    ["--format"], ["p", "--output"], ["--max-file-size", "ten", "p"], ["--max-file-size", "1.5", "p"],
    ["--form", "json", "p"],
]


def _requests(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[CheckRequest, CheckRequest]:
    """The check request Typer builds from ``argv``, and the one the quick path builds."""
    seen: list[CheckRequest] = []

    def record(request: CheckRequest) -> int:
        seen.append(request)
        return 0

    monkeypatch.setattr(run, "execute_check", record)
    with contextlib.suppress(SystemExit, typer.Exit):
        cli.app(args=["check", *argv], standalone_mode=False)
    assert run_check(["check", *argv]) == 0
    assert len(seen) == 2, seen
    return seen[0], seen[1]


@pytest.mark.parametrize("argv", SAME_AS_TYPER, ids=" ".join)
def test_builds_the_request_typer_builds(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    by_typer, quick = _requests(argv, monkeypatch)
    assert quick == by_typer


@pytest.mark.parametrize("argv", LEFT_TO_TYPER, ids=lambda a: " ".join(a) or "nothing")
def test_leaves_the_rest_to_typer(argv: list[str]) -> None:
    with pytest.raises(_Unsupported):
        parse(cli.check, argv)


def test_other_commands_go_to_typer() -> None:
    assert run_check(["rules"]) is None
    assert run_check(["--version"]) is None
    assert run_check([]) is None


def test_same_output_and_exit_code_either_way(tmp_path: Path) -> None:
    quick = run_cli("check", "--format", "json", "--no-source", str(FIXTURES / "demo"),
                    env={"IAM_AUDIT_CACHE_DIR": str(tmp_path)})
    # an abbreviation-free spelling the quick path does not take (-f<value> glued): Typer parses it
    typer_only = run_cli("check", "-fjson", "--no-source", str(FIXTURES / "demo"),
                         env={"IAM_AUDIT_CACHE_DIR": str(tmp_path)})
    assert quick.returncode == typer_only.returncode == 1
    assert json.loads(quick.stdout) == json.loads(typer_only.stdout)
    missing = run_cli("check", str(tmp_path / "nope.json"), env={"IAM_AUDIT_CACHE_DIR": str(tmp_path)})
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stdout
    bad = run_cli("check", "--fail-on", "loud", "x", env={"IAM_AUDIT_CACHE_DIR": str(tmp_path)})
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("iam-audit: error: --fail-on")


def test_the_quick_path_does_not_import_typer(tmp_path: Path) -> None:
    program = ("import sys\n"
               "from auditor._fast_cli import run_check\n"
               f"code = run_check(['check', '--no-source', {str(FIXTURES / 'demo')!r}])\n"
               "sys.stderr.write(f'{code} {\"typer\" in sys.modules} {\"click\" in sys.modules}')\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "IAM_AUDIT_CACHE_DIR": str(tmp_path)})
    assert result.stderr.endswith("1 False False"), result.stderr


def test_reads_the_hints_python_3_10_gives_for_a_parameter_defaulting_to_none() -> None:
    import typing

    from auditor._fast_cli import _annotated_outside, _Declared

    declared = _Declared(True, ("--jobs",), {"help": "processes"})
    hash(declared)  # Python 3.10's get_type_hints hashes the metadata of an Annotated it wraps in Optional
    as_310_gives = typing.Optional[typing.Annotated[int, declared]]
    assert _annotated_outside(as_310_gives) == typing.Annotated[typing.Optional[int], declared]
    assert _annotated_outside(typing.Annotated[int, declared]) == typing.Annotated[int, declared]
