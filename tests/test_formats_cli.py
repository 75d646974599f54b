"""Output formats through the real command line: several at once, valid SARIF, stable fingerprints, JSON shape."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run_cli

SPEC_FINDING_KEYS = {"rule_id", "category", "severity", "title", "message", "location", "subject", "statement",
                     "baseline", "details"}
CONFIG = """\
[[suppress]]
rule = "IAM202"
reason = "wildcard kept for the next release"

[[suppress]]
rule = "unknown-service"
path = "*.json"
reason = "old migration"
expires = 2021-01-01
"""


def policy_text(indent: int = 2, blank_lines: int = 0) -> str:
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObjekt", "s3:GetObject"], "Resource": "arn:aws:s3:::d/*"},
        {"Effect": "Allow", "Action": ["ec2:Descrybe*", "foo:Bar"], "Resource": "arn:aws:ec2:*:*:instance/*"},
    ]}
    text = json.dumps(document, indent=indent) + "\n"
    return text.replace("{", "{" + "\n" * blank_lines, 1)


@pytest.fixture(scope="module")
def sarif_validator(shared_dir: Path) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((shared_dir / "spec" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def assert_valid(validator: Any, log: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(log), key=str)
    assert errors == [], [e.message for e in errors[:5]]


def fingerprints(log: dict[str, Any]) -> Counter[tuple[str, str]]:
    return Counter((r["ruleId"], next(iter(r["partialFingerprints"].values()))) for r in log["runs"][0]["results"])


def test_sarif_of_an_account_export_validates(corpus_dir: Path, sarif_validator: Any, tmp_path: Path) -> None:
    export = corpus_dir / "account-authorization-details.example.json"
    out = tmp_path / "account.sarif"
    result = run_cli("check", "--no-config", "--format", "sarif", "--output", str(out), str(export), cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    assert result.stdout == ""
    log = json.loads(out.read_text())
    assert_valid(sarif_validator, log)
    results = log["runs"][0]["results"]
    assert results and all(r["locations"][0]["physicalLocation"]["region"]["startLine"] > 0 for r in results)


def test_folder_sarif_is_valid_and_fingerprints_survive_reformatting(
    corpus_dir: Path, sarif_validator: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "repo"
    shutil.copytree(corpus_dir / "peer-cases" / "cloudsplaining", folder / "peer")
    (folder / "app.json").write_text(policy_text())
    (folder / ".iam-audit.toml").write_text(CONFIG)

    def sarif_run(name: str) -> dict[str, Any]:
        result = run_cli("check", "--format", "console", "--format", "sarif", "--output-sarif", name, "--no-color",
                         ".", cwd=folder)
        assert result.returncode in (0, 1), result.stderr
        assert "iam-audit summary" in result.stdout  # the console report stays on standard output
        return json.loads((folder / name).read_text())

    first, second = sarif_run("1.sarif"), sarif_run("2.sarif")
    assert_valid(sarif_validator, first)
    run = first["runs"][0]
    assert {r["ruleId"] for r in run["results"]} >= {"IAM200", "IAM201", "IAM202"}
    assert [r["suppressions"][0]["justification"] for r in run["results"] if "suppressions" in r] == [
        "wildcard kept for the next release"]
    (note,) = run["invocations"][0]["toolConfigurationNotifications"]
    assert note["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
    assert fingerprints(first) == fingerprints(second)
    assert len(fingerprints(first)) == len(run["results"])  # every result has its own fingerprint

    (folder / "app.json").write_text(policy_text(indent=7, blank_lines=5))
    third = sarif_run("3.sarif")

    def lines(log: dict[str, Any]) -> list[int]:
        return sorted(r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in log["runs"][0]["results"]
                      if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app.json")

    assert lines(third) != lines(first)  # the findings moved ...
    assert fingerprints(third) == fingerprints(first)  # ... and kept their identity


def test_several_formats_at_once(tmp_path: Path) -> None:
    (tmp_path / "app.json").write_text(policy_text())
    (tmp_path / "clean.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::d/*"}]}))
    result = run_cli("check", "--no-config", "--format", "json", "--output-junit", "out/junit.xml",
                     "--output-markdown", "out/report.md", "--output-html", "out/report.html", "--output-github",
                     "out/gh.txt", ".", cwd=tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    junit = (tmp_path / "out" / "junit.xml").read_text()
    assert 'classname="clean.json" name="pass"' in junit  # Summary.paths: the clean file is listed
    assert "IAM201" in junit
    assert "IAM201" in (tmp_path / "out" / "report.md").read_text()
    assert "<!DOCTYPE html>" in (tmp_path / "out" / "report.html").read_text()
    github = (tmp_path / "out" / "gh.txt").read_text()
    assert github.count("::error file=app.json") == sum(f["severity"] == "high" for f in document["findings"])

    both = run_cli("check", "--no-config", "--format", "json", "--format", "sarif", ".", cwd=tmp_path)
    assert both.returncode == 2 and "would all go to standard output" in both.stderr
    bad = run_cli("check", "--no-config", "--format", "yaml", ".", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown format 'yaml'" in bad.stderr
    # --output is the file of the one format no --output-<format> places (it was refused as "several formats")
    placed = run_cli("check", "--no-config", "--format", "json", "--format", "sarif", "--output", "o.json",
                     "--output-sarif", "o.sarif", ".", cwd=tmp_path)
    assert placed.returncode == 1 and json.loads((tmp_path / "o.json").read_text())["findings"]
    assert json.loads((tmp_path / "o.sarif").read_text())["runs"]
    # two files for one format: one was dropped without a word (hunt57), a usage error now
    twice = run_cli("check", "--no-config", "--format", "sarif", "--output", "a.sarif", "--output-sarif", "b.sarif",
                    ".", cwd=tmp_path)
    assert twice.returncode == 2 and "both say where the sarif report goes" in twice.stderr
    unplaced = run_cli("check", "--no-config", "--format", "json", "--format", "junit", "--output", "x", ".",
                       cwd=tmp_path)
    assert unplaced.returncode == 2 and "(json, junit)" in unplaced.stderr


def test_what_was_not_checked_reaches_every_ci_format(tmp_path: Path, sarif_validator: Any) -> None:
    shutil.copy(REPO / "fixtures" / "loaders" / "terraform" / "unresolved.tf", tmp_path / "main.tf")
    result = run_cli("check", "--no-config", "--format", "json", "--output-sarif", "out.sarif", "--output-junit",
                     "junit.xml", "--output-github", "gh.txt", "main.tf", cwd=tmp_path)
    assert result.returncode == 0
    items = json.loads(result.stdout)["summary"]["not_checked"]
    assert len(items) == 5
    log = json.loads((tmp_path / "out.sarif").read_text())
    assert_valid(sarif_validator, log)
    notifications = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"] for n in notifications] == items
    assert {n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notifications} == {"main.tf"}
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count("<skipped message=\"not checked: main.tf: ") == 5
    github = (tmp_path / "gh.txt").read_text().splitlines()
    assert len(github) == 5 and all(line.startswith("::warning file=main.tf,") for line in github)
    at_line = "::warning file=main.tf,line=37,title=iam-audit%3A not checked::"  # 'dynamic "statement" at line 37'
    assert sum(line.startswith(at_line) for line in github) == 1


def test_json_keeps_the_spec_shape(tmp_path: Path) -> None:
    (tmp_path / "app.json").write_text(policy_text())
    (tmp_path / ".iam-audit.toml").write_text(CONFIG)
    result = run_cli("check", "--format", "json", "app.json", cwd=tmp_path)
    document = json.loads(result.stdout)
    assert set(document) == {"schema", "tool", "findings", "errors", "summary"}
    assert document["schema"] == "iam-audit/1"
    assert document["findings"]
    for finding in document["findings"]:
        assert set(finding) - {"slug"} == SPEC_FINDING_KEYS  # suppressed ones only with --show-suppressed
        assert set(finding["location"]) == {"path", "line", "column"}
        assert set(finding["statement"]) == {"index", "sid"}
    summary = document["summary"]
    assert {"files", "policies", "findings", "by_severity"} <= set(summary)
    assert summary["suppressed"] == 1
    (expired,) = summary["expired_suppressions"]
    assert set(expired) == {"path", "line", "rule", "expires", "reason", "message"}
    shown = json.loads(run_cli("check", "--format", "json", "--show-suppressed", "app.json", cwd=tmp_path).stdout)
    assert [f["suppressed"] for f in shown["findings"] if "suppressed" in f] == ["wildcard kept for the next release"]


def test_committed_rules_documentation_is_current() -> None:
    from auditor.checks import all_rules
    from auditor.docs import rules_markdown

    committed = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == rules_markdown(all_rules()), "docs/rules.md is stale: run `make docs`"


def test_output_to_a_pipe_or_through_a_link_writes_in_place(tmp_path: Path) -> None:
    """--output never replaces what the path is: a FIFO (or /dev/null) is written to, a link keeps linking."""
    policy = tmp_path / "p.json"
    policy.write_text(policy_text(), encoding="utf-8")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    result = run_cli("check", "--format", "json", "--output", str(fifo), str(policy), cwd=tmp_path)
    reader.join(timeout=30)
    assert result.returncode == 1, result.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and json.loads(received[0])["findings"]
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    target.write_text("{}", encoding="utf-8")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    assert run_cli("check", "--format", "json", "--output", str(link), str(policy), cwd=tmp_path).returncode == 1
    assert link.is_symlink() and json.loads(target.read_text(encoding="utf-8"))["findings"]


def test_a_report_file_keeps_its_permissions_and_a_failed_write_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor import output

    private = tmp_path / "private.json"
    private.write_text("{}", encoding="utf-8")
    private.chmod(0o600)
    output.write_text(private, "new")
    assert private.read_text(encoding="utf-8") == "new" and stat.S_IMODE(private.stat().st_mode) == 0o600
    fresh = tmp_path / "out" / "fresh.json"
    umask = os.umask(0o027)
    try:
        output.write_text(fresh, "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640, "a new report follows the umask, as open() would"

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.os, "replace", disk_full)
    with pytest.raises(OSError):
        output.write_text(private, "never")
    assert private.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "private.json"], "no temporary file is left"
