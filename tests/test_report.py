"""``iam-audit report``: outputs, the planted diff between two exports, exit codes, escaping, Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import types
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from auditor.checks import all_rules
from auditor.history import History
from auditor.knowledge import Control, load_controls
from auditor.model import Finding, Location, Severity
from auditor.scheduled import (
    FetchSpec,
    ReportRequest,
    TrackedFinding,
    evaluate_controls,
    execute_report,
    export_account_id,
)
from tests.conftest import FIXTURES, run_cli

REPORT_FIXTURES = FIXTURES / "report"
RUN1 = REPORT_FIXTURES / "run1"
RUN2 = REPORT_FIXTURES / "run2" / "account.json"
HOSTILE = REPORT_FIXTURES / "hostile"
ACCOUNT = "111122223333"
HOSTILE_ACCOUNT = "444455556666"


def _report(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("report", *args, env=env)


def _json(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "report.json").read_text(encoding="utf-8"))


def _recorded(tmp_path: Path, out: str, target: str, *args: str) -> dict[str, Any]:
    """One report of ``target`` into ``tmp_path/out``, recorded in the history of ``tmp_path``: its report.json."""
    result = _report(target, "-o", str(tmp_path / out), "--history", str(tmp_path / "h.db"), "--fail-on", "never",
                     *args)
    assert result.returncode == 0, result.stderr
    return _json(tmp_path / out)


def _account(document: dict[str, Any], key: str) -> dict[str, Any]:
    [account] = [a for a in document["accounts"] if a["key"] == key]
    return account


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title" and not any(t == "svg" for t, _ in self.tags[:-1]) and not self.title

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


# --- outputs ----------------------------------------------------------------------------------------


def test_writes_three_self_contained_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _report(str(RUN1), "--output", str(out), "--history", str(tmp_path / "h.sqlite3"), "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.md"]

    html_text = (out / "report.html").read_text(encoding="utf-8")
    parser = _Elements()
    parser.feed(html_text)
    tags = [tag for tag, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    assert tags.count("style") == 1 and tags.count("svg") >= 4
    for _, attrs in parser.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (name, value)
    [csp] = [a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp is not None and "default-src 'none'" in csp and "script-src" not in csp
    assert "http://" not in html_text.replace("https://", "")
    assert parser.title == "IAM compliance report"

    document = _json(out)
    assert document["schema"] == "iam-audit-report/1"
    account = _account(document, ACCOUNT)
    assert account["previous_run"] is None and account["run"]["id"] == 1
    assert account["counts"]["new"] == account["counts"]["findings"] == len(account["findings"]) >= 4
    assert account["counts"]["resolved"] == account["counts"]["unchanged"] == 0
    assert all(len(f["fingerprint"]) == 32 for f in account["findings"])
    assert {c["status"] for c in account["controls"]} <= {"fail", "pass", "not-evaluated"}
    assert len(account["controls"]) == len(load_controls())
    assert document["totals"]["findings"] == account["counts"]["findings"]

    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("<!-- iam-audit scheduled report -->")
    assert f"| {ACCOUNT} | {account['counts']['findings']} | {account['counts']['new']} | 0 | 0 |" in markdown
    assert "First run" in markdown


def test_markdown_lists_what_was_not_checked(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "pkg", "version": "1"}')
    out = tmp_path / "out"
    result = _report(str(RUN1), str(tmp_path / "package.json"), "-o", str(out), "--history", str(tmp_path / "h"),
                     "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "### Not checked (1)" in markdown and "package.json: skipped, not an IAM policy" in markdown


def test_the_project_configuration_applies(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text('[[suppress]]\nrule = "IAM012"\nreason = "reviewed: the CI role"\n')
    runs = {}
    for name, extra in (("plain", ("--no-config",)), ("configured", ("--config", str(config)))):
        result = _report(str(RUN1), "-o", str(tmp_path / name), "--history", str(tmp_path / f"{name}.db"),
                         "--format", "json", "--fail-on", "never", *extra)
        assert result.returncode == 0, result.stderr
        runs[name] = _account(_json(tmp_path / name), ACCOUNT)
    plain, configured = runs["plain"], runs["configured"]
    suppressed = sum(1 for f in plain["findings"] if f["rule_id"] == "IAM012")
    assert suppressed >= 1 and configured["counts"]["suppressed"] == suppressed
    assert configured["counts"]["findings"] == plain["counts"]["findings"] - suppressed
    assert not any(f["rule_id"] == "IAM012" for f in configured["findings"])


def test_an_expired_suppression_is_in_every_output(tmp_path: Path) -> None:
    """A compliance report said nothing of a suppression past its date (check lists them in every format)."""
    config = tmp_path / "audit.toml"
    config.write_text('[[suppress]]\nrule = "IAM012"\nreason = "reviewed"\nexpires = "2020-01-01"\n')
    out = tmp_path / "out"
    result = _report(str(RUN1), "-o", str(out), "--history", str(tmp_path / "h.db"), "--fail-on", "never",
                     "--config", str(config))
    assert result.returncode == 0, result.stderr
    message = "suppression of IAM012 everywhere expired on 2020-01-01; its findings are reported again"
    assert f"iam-audit: warning: {config}:1: {message}" in result.stderr
    [notice] = _json(out)["expired_suppressions"]
    assert (notice["rule"], notice["expires"], notice["line"]) == ("IAM012", "2020-01-01", 1)
    assert "### Expired suppressions (1)" in (out / "report.md").read_text(encoding="utf-8")
    assert 'class="expired-suppressions"' in (out / "report.html").read_text(encoding="utf-8")


def test_a_finding_suppressed_since_the_previous_run_is_not_resolved(tmp_path: Path) -> None:
    """A suppression added between two runs listed the finding it hides under "Resolved" (report.md, .html, .json)
    and counted it as suppressed too: a critical finding unchanged on disk read as fixed."""
    config = tmp_path / "audit.toml"
    config.write_text('[[suppress]]\nrule = "IAM012"\nreason = "reviewed: the CI role"\n')
    before = _account(_recorded(tmp_path, "one", str(RUN1), "--format", "json", "--no-config"), ACCOUNT)
    hidden = sum(1 for f in before["findings"] if f["rule_id"] == "IAM012")
    assert hidden >= 1
    after = _account(_recorded(tmp_path, "two", str(RUN1), "--config", str(config)), ACCOUNT)
    assert after["resolved"] == []
    assert after["counts"] == {"findings": before["counts"]["findings"] - hidden, "new": 0, "resolved": 0,
                               "unchanged": before["counts"]["findings"] - hidden, "suppressed": hidden, "carried": 0}
    assert after["counts"]["findings"] + after["counts"]["suppressed"] == before["counts"]["findings"]
    markdown = (tmp_path / "two" / "report.md").read_text(encoding="utf-8")
    assert "### Resolved" not in markdown and "resolved" not in markdown.split("|")[0].lower()
    assert "Nothing resolved." in (tmp_path / "two" / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("sid", ["Admin", None])
def test_a_finding_suppressed_by_its_sid_since_the_previous_run_is_not_resolved(tmp_path: Path,
                                                                                 sid: str | None) -> None:
    """The Sid ending that suppresses a finding also changes the statement's name, by which the finding is known:
    it was listed as resolved (and the same finding counted as suppressed)."""
    def write(marker: str) -> None:
        statement = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        if sid is not None or marker:
            statement["Sid"] = (sid or "") + marker
        (tmp_path / "p.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))

    write("")
    _recorded(tmp_path, "one", str(tmp_path / "p.json"), "--format", "json", "--no-config")
    write("IamAuditIgnoreIAM001")
    (account,) = _recorded(tmp_path, "two", str(tmp_path / "p.json"), "--format", "json", "--no-config")["accounts"]
    assert account["resolved"] == [] and account["counts"]["suppressed"] == 1


def test_a_finding_of_a_rule_no_longer_run_is_not_resolved(tmp_path: Path) -> None:
    """--ignore between two runs: the rule's findings were listed as resolved, though nothing changed on disk."""
    before = _account(_recorded(tmp_path, "one", str(RUN1), "--format", "json", "--no-config"), ACCOUNT)
    ignored = sum(1 for f in before["findings"] if f["rule_id"] == "IAM012")
    assert ignored >= 1
    after = _account(_recorded(tmp_path, "two", str(RUN1), "--format", "json", "--no-config", "--ignore", "IAM012"),
                     ACCOUNT)
    assert after["resolved"] == [] and after["counts"]["findings"] == before["counts"]["findings"] - ignored


def test_var_baseline_and_category_apply_as_in_check(tmp_path: Path) -> None:
    """report had no --var, --baseline nor --category ("No such option"), though the README says --var applies in
    report and the spec lists them as common flags."""
    export = str(FIXTURES / "drift" / "account-vendors.json")
    chosen = ("--var", "UpsolverOrgId=other", "--baseline", "upsolver/server-role",
              "--category", "drift-action-removed,drift-resource-widened")
    checked = json.loads(run_cli("check", export, "--no-config", "--format", "json", *chosen).stdout)["findings"]
    full = _account(_recorded(tmp_path, "full", export, "--no-config", "--format", "json"), ACCOUNT)
    narrowed = _account(_recorded(tmp_path, "narrowed", export, "--no-config", "--format", "json", *chosen), ACCOUNT)

    def shown(findings: Any) -> list[tuple[str, str, str]]:
        return sorted((f["rule_id"], f["baseline"], f["message"]) for f in findings)

    assert checked and shown(narrowed["findings"]) == shown(checked)
    assert {(f["baseline"], f["category"]) for f in checked} == {
        ("upsolver/server-role", "drift-action-removed"), ("upsolver/server-role", "drift-resource-widened")}
    # the organisation id bound with --var is what makes these differ; without it the run found none of them
    assert not [f for f in full["findings"] if f["baseline"] == "upsolver/server-role"
                and f["category"] in ("drift-action-removed", "drift-resource-widened")]
    assert narrowed["resolved"] == []  # the rules of other categories did not run: their findings are not resolved
    for wrong, message in ((("--var", "NoSuchName=x"), "--var NoSuchName: no baseline compared has such a "),
                           (("--category", "escalation"), "--category: unknown category 'escalation'; "),
                           (("--baseline", "./gone.yaml"), "--baseline: no such file: ./gone.yaml ")):
        result = _report(export, "-o", str(tmp_path / "wrong"), "--history", str(tmp_path / "wrong.db"),
                         "--no-config", *wrong)
        assert result.returncode == 2 and result.stderr.startswith(f"iam-audit: error: {message}"), result.stderr
        assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "wrong.db").exists()


def test_only_the_asked_formats_are_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _report(str(RUN1), "-o", str(out), "--history", str(tmp_path / "h"), "--format", "json",
                     "--format", "markdown", "--fail-on", "never", "-q")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]
    assert result.stderr == ""


# --- the planted diff -------------------------------------------------------------------------------


def _who(finding: dict[str, Any]) -> tuple[str, str, str]:
    subject = finding.get("subject") or {}
    statement = finding.get("statement") or {}
    return (str(subject.get("name")), str(subject.get("policy")), str(statement.get("sid")))


def test_two_runs_show_exactly_the_planted_changes(tmp_path: Path) -> None:
    history = str(tmp_path / "h.sqlite3")
    first = _report(str(RUN1), "-o", str(tmp_path / "one"), "--history", history, "--fail-on", "never")
    second = _report(str(RUN2), "-o", str(tmp_path / "two"), "--history", history, "--fail-on", "never")
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    before = _account(_json(tmp_path / "one"), ACCOUNT)
    after = _account(_json(tmp_path / "two"), ACCOUNT)
    assert after["previous_run"]["id"] == before["run"]["id"]

    new = [f for f in after["findings"] if f["status"] == "new"]
    unchanged = [f for f in after["findings"] if f["status"] == "unchanged"]
    resolved = after["resolved"]
    # every change is at a planted place: alice (her new admin policy; principal-level findings about her,
    # e.g. an escalation path that no longer matters once she is administrator), AppPolicy's new ReadTable
    # statement; bob's removed S3Everything, the fixed SendMessages statement
    for finding in new:
        name, _policy, sid = _who(finding)
        assert name == "alice" or (name, sid) == ("app", "ReadTable"), finding
    for finding in resolved:
        name, _policy, sid = _who(finding)
        assert name in {"alice", "bob"} or (name, sid) == ("app", "SendMessages"), finding
    planted_new = {(f["rule_id"], *_who(f)) for f in new}
    planted_resolved = {(f["rule_id"], *_who(f)) for f in resolved}
    assert ("IAM201", "app", "inline:AppPolicy", "ReadTable") in planted_new
    assert ("IAM201", "bob", "inline:S3Everything", "ListTypo") in planted_resolved
    assert ("IAM201", "app", "inline:AppPolicy", "SendMessages") in planted_resolved
    rules = all_rules()
    if rules.get("IAM001") is not None:
        assert ("IAM001", "alice", "inline:AdminAccess", "Admin") in planted_new
    if rules.get("IAM002") is not None:
        assert ("IAM002", "bob", "inline:S3Everything", "AllS3") in planted_resolved
    if not {"IAM001", "IAM002"} & {rule.id for rule in rules}:
        assert len(new) == 1 and len(resolved) == 2  # the foundation's rules see only the typos

    # what did not change (reordered users, re-indented file, another path) is unchanged
    unchanged_who = {(f["rule_id"], *_who(f)) for f in unchanged}
    assert ("IAM201", "app", "inline:AppPolicy", "ReadObjects") in unchanged_who
    assert ("IAM111", "Deploy", f"arn:aws:iam::{ACCOUNT}:policy/Deploy", "None") in unchanged_who  # bad Sid
    assert len(unchanged) == len(before["findings"]) - len(resolved)
    assert {f["fingerprint"] for f in unchanged} <= {f["fingerprint"] for f in before["findings"]}
    assert after["counts"] == {"findings": len(new) + len(unchanged), "new": len(new), "resolved": len(resolved),
                               "unchanged": len(unchanged), "suppressed": 0, "carried": 0}
    assert [run["id"] for run in after["trend"]] == [1, 2]

    html_text = (tmp_path / "two" / "report.html").read_text(encoding="utf-8")
    assert f'data-count="new">{len(new)}<' in html_text
    assert f'data-count="resolved">{len(resolved)}<' in html_text
    assert "dynamodb:GetItme" in html_text and "sqs:SendMesage" in html_text
    markdown = (tmp_path / "two" / "report.md").read_text(encoding="utf-8")
    assert f"### New ({len(new)})" in markdown and f"### Resolved ({len(resolved)})" in markdown


def test_exit_codes_for_a_scheduler(tmp_path: Path) -> None:
    history = str(tmp_path / "h.sqlite3")

    def code(source: Path, *flags: str) -> int:
        result = _report(str(source), "-o", str(tmp_path / "out"), "--history", history, "--format", "json", *flags)
        assert result.returncode in (0, 1), result.stderr
        return result.returncode

    assert code(RUN1, "--fail-on-new", "high") == 1  # first run: every high finding is new
    assert code(RUN1, "--fail-on-new", "high") == 0  # same export: high findings, none new
    assert code(RUN1) == 1  # --fail-on defaults to high, as in check
    assert code(RUN1, "--fail-on", "never") == 0
    assert code(RUN2, "--fail-on-new", "critical") == (1 if all_rules().get("IAM001") else 0)
    assert code(RUN1, "--fail-on-new", "high") == 1  # back to run1: the sqs and s3 typos are new again

    missing = _report(str(tmp_path / "nope.json"), "-o", str(tmp_path / "none"), "--history", history)
    assert missing.returncode == 2
    assert missing.stderr.startswith("iam-audit: error:") and "no run was recorded" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "none").exists()
    with History(history) as store:
        assert len(store.runs(ACCOUNT)) == 6
    bad = _report(str(RUN1), "-o", str(tmp_path / "x"), "--history", history, "--fail-on-new", "severe")
    assert bad.returncode == 2 and "--fail-on-new" in bad.stderr


@pytest.mark.parametrize("inputs", [[""], [], ["nope.json"]], ids=["empty path", "no input", "missing file"])
def test_a_run_refused_for_its_input_leaves_no_new_history_database(tmp_path: Path, inputs: list[str]) -> None:
    history = tmp_path / "h.sqlite3"
    refused = _report(*(str(tmp_path / name) if name else name for name in inputs), "-o", str(tmp_path / "out"),
                      "--history", str(history))
    assert refused.returncode == 2 and refused.stderr.startswith("iam-audit: error:"), refused.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_fail_on_of_the_configuration_applies_as_in_check(tmp_path: Path) -> None:
    """report ignored fail-on of the configuration: it failed on high findings with fail-on = "never"."""
    history = str(tmp_path / "h.sqlite3")

    def code(*flags: str, fail_on: str) -> int:
        config = tmp_path / "audit.toml"
        config.write_text(f'fail-on = "{fail_on}"\n')
        result = _report(str(RUN1), "-o", str(tmp_path / "out"), "--history", history, "--format", "json",
                         "--config", str(config), *flags)
        assert result.returncode in (0, 1), result.stderr
        return result.returncode

    assert code(fail_on="never") == 0
    assert code(fail_on="info") == 1
    assert code("--fail-on", "high", fail_on="never") == 1  # the command line wins
    assert code("--fail-on-new", "high", fail_on="info") == 0  # nothing new: --fail-on-new alone decides


def test_a_run_whose_report_cannot_be_written_is_not_recorded(tmp_path: Path) -> None:
    history = str(tmp_path / "h.sqlite3")
    (tmp_path / "blocked").write_text("a file where the output folder should be")
    assert _report(str(RUN1), "-o", str(tmp_path / "one"), "--history", history, "-q").returncode == 1
    lost = _report(str(RUN2), "-o", str(tmp_path / "blocked" / "out"), "--history", history)
    assert lost.returncode == 2 and "Not a directory" in lost.stderr
    with History(history) as store:
        assert len(store.runs(ACCOUNT)) == 1
    (tmp_path / "half" / "report.md").mkdir(parents=True)  # the Markdown cannot be written: no HTML left alone
    assert _report(str(RUN2), "-o", str(tmp_path / "half"), "--history", history).returncode == 2
    assert sorted(path.name for path in (tmp_path / "half").iterdir()) == ["report.md"]
    first_time = tmp_path / "new.sqlite3"  # a database this failed run created: not left behind, empty
    assert _report(str(RUN2), "-o", str(tmp_path / "blocked" / "out"), "--history", str(first_time)).returncode == 2
    assert not first_time.exists()
    retried = _report(str(RUN2), "-o", str(tmp_path / "two"), "--history", history, "--fail-on-new", "high")
    assert retried.returncode == 1  # what run 2 added is new when its report is first delivered
    assert _account(_json(tmp_path / "two"), ACCOUNT)["counts"]["new"] > 0


def test_a_failed_first_run_keeps_a_history_another_run_recorded_meanwhile(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Run B found no history and fails when writing its report; run A, started at the same time, recorded its run
    in the history B created: B leaves it (hunt52: B deleted A's run, whose findings came back as new)."""
    import auditor.scheduled as scheduled

    history = tmp_path / "h.sqlite3"

    def another_run_meanwhile(result: Any, *args: Any) -> Any:
        with History(history) as store:
            store.record_run("999988887777", "other", [])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scheduled, "write_outputs", another_run_meanwhile)
    request = scheduled.ReportRequest(inputs=(str(RUN1),), output_dir=tmp_path / "out", history=history)
    with pytest.raises(OSError):
        scheduled.execute_report(request)
    with History(history) as store:
        assert [run.account_label for run in store.runs("999988887777")] == ["other"]


def test_findings_a_run_did_not_look_for_are_neither_resolved_nor_new_next_time(tmp_path: Path) -> None:
    """One page of an export (IsTruncated) leaves roles out, a --select run rules: their findings are not resolved,
    and the next full run does not report them as new (hunt52: 201 resolved, then 201 new)."""
    export = json.loads((RUN1 / "account.json").read_text(encoding="utf-8"))
    page = dict(export, IsTruncated=True, Marker="next", RoleDetailList=export["RoleDetailList"][:1],
                UserDetailList=[], GroupDetailList=[])
    (tmp_path / "page.json").write_text(json.dumps(page), encoding="utf-8")
    full = _recorded(tmp_path, "full", str(RUN1 / "account.json"))
    partial = _account(_recorded(tmp_path, "page", str(tmp_path / "page.json")), ACCOUNT)
    assert partial["counts"]["resolved"] == 0 and partial["counts"]["carried"] > 0
    again = _account(_recorded(tmp_path, "again", str(RUN1 / "account.json")), ACCOUNT)
    assert again["counts"]["new"] == 0 and again["counts"]["unchanged"] == _account(full, ACCOUNT)["counts"]["findings"]
    narrowed = _account(_recorded(tmp_path, "narrow", str(RUN1 / "account.json"), "--select", "IAM001"), ACCOUNT)
    assert narrowed["counts"]["resolved"] == 0
    last = _account(_recorded(tmp_path, "last", str(RUN1 / "account.json")), ACCOUNT)
    assert last["counts"]["new"] == 0 and last["counts"]["resolved"] == 0


@pytest.mark.parametrize("damage", ["overwritten", "table dropped"])
def test_a_damaged_history_is_a_usage_error_not_an_internal_one(tmp_path: Path, damage: str) -> None:
    history = tmp_path / "h.sqlite3"
    assert _report(str(RUN1), "-o", str(tmp_path / "one"), "--history", str(history), "-q").returncode == 1
    if damage == "table dropped":
        import sqlite3

        with sqlite3.connect(history) as db:
            db.execute("DROP TABLE findings")
    else:
        data = bytearray(history.read_bytes())
        data[5000:9000] = b"\xff" * 4000
        history.write_bytes(bytes(data))
    result = _report(str(RUN2), "-o", str(tmp_path / "two"), "--history", str(history))
    assert result.returncode == 2, result.stderr  # was 3, "internal error" (hunt52)
    assert "not a usable history database" in result.stderr and "Traceback" not in result.stderr


# --- accounts and controls --------------------------------------------------------------------------


def test_account_of_an_export_and_of_policy_folders(tmp_path: Path) -> None:
    assert export_account_id((RUN1 / "account.json").read_text()) == ACCOUNT
    assert export_account_id((HOSTILE / "account.json").read_text()) == HOSTILE_ACCOUNT  # from iam_audit
    assert export_account_id('{"Version": "2012-10-17", "Statement": []}') is None

    history = str(tmp_path / "h.sqlite3")
    result = _report(str(RUN1), str(FIXTURES / "demo"), "-o", str(tmp_path / "o"), "--history", history,
                     "--fail-on", "never", "--format", "json")
    assert result.returncode == 0, result.stderr
    keys = {a["key"]: a["label"] for a in _json(tmp_path / "o")["accounts"]}
    assert keys == {ACCOUNT: ACCOUNT, f"path:{(FIXTURES / 'demo').resolve()}": str(FIXTURES / "demo")}

    forced = _report(str(RUN1), str(FIXTURES / "demo"), "-o", str(tmp_path / "p"), "--history", history,
                     "--fail-on", "never", "--format", "json", "--account-id", "999988887777")
    assert forced.returncode == 0, forced.stderr
    assert [a["key"] for a in _json(tmp_path / "p")["accounts"]] == ["999988887777"]


def _control(control_id: str, rules: tuple[str, ...], scope: str = "all identity policies",
             gap: str | None = None) -> Control:
    return Control(control_id, "test", "1", f"title {control_id}", scope, rules, gap, "https://example.com")


def _tracked(rule_id: str, kind: str, policy: str, arn: str = "", message: str = "m") -> TrackedFinding:
    finding = Finding(rule_id=rule_id, slug="s", category="wildcard-action", severity=Severity.HIGH, title="t",
                      message=message, location=Location("account:1"),
                      subject={"kind": kind, "name": "n", "arn": arn, "policy": policy})
    return TrackedFinding(f"print-{rule_id}-{policy}", finding, "new")


def test_controls_fail_pass_or_are_not_evaluated() -> None:
    inline = _tracked("IAM001", "user", "inline:Admin")
    managed = _tracked("IAM001", "managed-policy", "arn:aws:iam::111122223333:policy/Admin",
                       arn="arn:aws:iam::111122223333:policy/Admin")
    aws_managed = _tracked("IAM001", "managed-policy", "arn:aws:iam::aws:policy/AdministratorAccess",
                           arn="arn:aws:iam::aws:policy/AdministratorAccess")
    s3_read = _tracked("IAM021", "role", "inline:Read", message="s3:GetObject on every object")
    controls = [
        _control("any", ("IAM001",)),
        _control("customer", ("IAM001",), scope="customer managed policies only (not inline, not AWS managed)"),
        _control("kms", ("IAM021",),
                 scope="inline policies; data-access findings for kms:Decrypt or kms:ReEncryptFrom"),
        _control("clean", ("IAM001", "IAM201")),
        _control("partly-run", ("IAM201", "IAM999")),
        _control("gap", (), gap="no rule can see this"),
        _control("gap-with-rules", ("IAM201",), gap="only half of it"),
    ]
    results = {r.control.id: r for r in evaluate_controls(controls, frozenset({"IAM001", "IAM021", "IAM201"}),
                                                          [inline, managed, aws_managed, s3_read])}
    assert results["any"].status == "fail" and len(results["any"].evidence) == 3
    assert results["customer"].status == "fail" and results["customer"].evidence == (managed,)
    only_inline = evaluate_controls([controls[1]], frozenset({"IAM001"}), [inline])[0]
    assert only_inline.status == "pass" and "1 outside it" in only_inline.reason
    bucket = _control("bucket", ("IAM001",), scope="S3 bucket policies")
    assert evaluate_controls([bucket], frozenset({"IAM001"}), [], has_resource_policies=False)[0].status \
        == "not-evaluated"
    assert evaluate_controls([bucket], frozenset({"IAM001"}), [], has_resource_policies=None)[0].status == "pass"
    assert results["kms"].status == "pass"  # s3:GetObject does not evidence a KMS control
    assert results["clean"].status == "fail"
    results_clean = evaluate_controls([_control("clean", ("IAM201",))], frozenset({"IAM201"}), [inline])
    assert results_clean[0].status == "pass"
    assert results["partly-run"].status == "not-evaluated" and "IAM999" in results["partly-run"].reason
    assert results["gap"].status == "not-evaluated" and results["gap"].reason == "no rule can see this"
    assert results["gap-with-rules"].status == "not-evaluated"


def test_controls_whose_rules_did_not_run_are_not_evaluated_in_the_report(tmp_path: Path) -> None:
    result = _report(str(RUN1), "-o", str(tmp_path / "o"), "--history", str(tmp_path / "h"), "--fail-on", "never",
                     "--format", "json", "--select", "malformed")
    assert result.returncode == 0, result.stderr
    account = _account(_json(tmp_path / "o"), ACCOUNT)
    assert {f["category"] for f in account["findings"]} == {"malformed"}
    statuses = {c["key"]: c["status"] for c in account["controls"]}
    assert set(statuses.values()) == {"not-evaluated"}  # no control rests on malformed-policy rules


def test_fetch_hook_calls_auditor_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    class FetchUsageError(Exception):
        pass

    class FetchOptions:
        def __init__(self, output: Path, profile: str | None = None, role_arns: tuple[str, ...] = ()) -> None:
            self.output, self.profile, self.role_arns = output, profile, role_arns

    def fetch_accounts(options: FetchOptions) -> Any:
        calls.append(options)
        options.output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RUN1 / "account.json", options.output)
        account = types.SimpleNamespace(file=options.output, account_id=ACCOUNT)
        return types.SimpleNamespace(accounts=(account,))

    def require_boto3(what: str = "fetch") -> None:
        pass  # boto3 is there

    fake = types.ModuleType("auditor.fetch")
    fake.FetchOptions, fake.FetchUsageError, fake.fetch_accounts = FetchOptions, FetchUsageError, fetch_accounts  # type: ignore[attr-defined]
    fake.require_boto3 = require_boto3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "auditor.fetch", fake)
    import auditor

    monkeypatch.setattr(auditor, "fetch", fake, raising=False)
    request = ReportRequest(inputs=(), output_dir=tmp_path / "out", history=tmp_path / "h.sqlite3",
                            formats=("json",), fetch=FetchSpec(profile="audit"), quiet=True)
    assert execute_report(request) == 0
    assert [(c.profile, c.output) for c in calls] == [("audit", tmp_path / "out" / "exports" / "account.json")]
    assert [a["key"] for a in _json(tmp_path / "out")["accounts"]] == [ACCOUNT]


# --- escaping and the browser -----------------------------------------------------------------------


HOSTILE_TEXT = ("<script>document.title='pwned-script'</script>", "onerror=\"document.title='pwned-img'\"")


def test_hostile_names_are_text_in_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _report(str(HOSTILE), "-o", str(out), "--history", str(tmp_path / "h"), "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    html_text = (out / "report.html").read_text(encoding="utf-8")
    parser = _Elements()
    parser.feed(html_text)
    assert not [tag for tag, _ in parser.tags if tag in {"script", "img", "iframe", "object", "embed"}]
    assert not [name for _, attrs in parser.tags for name in attrs if name.startswith("on")]
    assert parser.title == "IAM compliance report"
    assert "&lt;script&gt;document.title=&#x27;pwned-script&#x27;&lt;/script&gt;" in html_text
    assert "&quot;&gt;&lt;img src=x onerror=" in html_text
    account = _account(_json(out), HOSTILE_ACCOUNT)
    messages = json.dumps(account["findings"])
    assert "pwned-script" in messages and "pwned-img" in messages  # the data is there, as data
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "<script" not in markdown and "<img" not in markdown
    assert "pwned" in markdown


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed; .ci/run installs it")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def _browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_report_renders_in_chromium_and_runs_no_code_from_data(tmp_path: Path) -> None:
    binary = _chromium()
    assert binary is not None
    history = str(tmp_path / "h.sqlite3")
    first = _report(str(RUN1), "-o", str(tmp_path / "first"), "--history", history, "--fail-on", "never")
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out"
    result = _report(str(RUN2), str(HOSTILE), "-o", str(out), "--history", history, "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    document = _json(out)
    url = (out / "report.html").resolve().as_uri()

    dumped = _browser(binary, tmp_path / "profile-dom", "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert "<title>IAM compliance report</title>" in dom
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)  # type: ignore[union-attr]
    assert "<img" not in dom and "<script" not in dom
    assert "&lt;script&gt;document.title='pwned-script'&lt;/script&gt;" in dom
    for log in (dumped.stderr,):
        assert "Uncaught" not in log and "Refused" not in log
    shown = {
        kind: [int(n) for n in re.findall(rf'data-count="{kind}">(\d+)<', dom)]
        for kind in ("findings", "new", "resolved", "unchanged")
    }
    expected = {
        kind: [a["counts"][kind] for a in document["accounts"]] for kind in ("findings", "new", "resolved", "unchanged")
    }
    assert shown == expected
    assert expected["resolved"][[a["key"] for a in document["accounts"]].index(ACCOUNT)] >= 2
    assert dom.count("<svg") >= 8  # trend, changes, severity, category and a sparkline per account

    screenshot = tmp_path / "report.png"
    shot = _browser(binary, tmp_path / "profile-shot", f"--screenshot={screenshot}", "--window-size=1280,2000",
                    "--hide-scrollbars", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert "Uncaught" not in shot.stderr and "Refused" not in shot.stderr
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2000)
    shutil.copyfile(screenshot, "/tmp/iam-audit-report.png")


def test_drift_is_grouped_by_baseline_with_new_and_resolved(tmp_path: Path) -> None:
    from auditor.report import Report, Summary
    from auditor.reporters.scheduled import render_html, render_markdown
    from auditor.scheduled import AccountReport, ScheduledReport

    def drift(action: str, baseline: str) -> tuple[str, Finding]:
        finding = Finding(rule_id="IAM901", slug="drift-action-added", category="drift-action-added",
                          severity=Severity.MEDIUM, title="t", message=f"{action} is not in {baseline}",
                          location=Location(f"account:{ACCOUNT}"), baseline=baseline,
                          details={"added_actions": [action]})
        return f"print-{baseline}-{action}", finding

    kept = drift("s3:PutObject", "upsolver/server-role")
    gone = drift("ec2:RunInstances", "upsolver/server-role")
    added = drift("<b>x:Y</b>", "stackstate/agent")
    with History(tmp_path / "h.sqlite3") as history:
        history.record_run(ACCOUNT, ACCOUNT, [kept, gone])
        comparison = history.record_run(ACCOUNT, ACCOUNT, [kept, added])
        trend = tuple(history.runs(ACCOUNT))
    tracked = tuple(TrackedFinding(p, f, "new" if p in comparison.new else "unchanged") for p, f in (kept, added))
    account = AccountReport(key=ACCOUNT, label=ACCOUNT, inputs=(), files=(), findings=tracked, comparison=comparison,
                            trend=trend, controls=())
    groups = {d.baseline: (len(d.current), len(d.new), len(d.resolved)) for d in account.drift()}
    assert groups == {"stackstate/agent": (1, 1, 0), "upsolver/server-role": (1, 0, 1)}

    result = ScheduledReport(title="t", generated_at="2024-06-03T07:00:00+00:00", history_path=tmp_path / "h",
                             accounts=(account,), check_report=Report((), (), Summary(), {}),
                             rules_run=frozenset())
    page = render_html(result)
    assert "<code>stackstate/agent</code>" in page and "<code>upsolver/server-role</code>" in page
    assert "&lt;b&gt;x:Y&lt;/b&gt;" in page and "<b>x:Y</b>" not in page
    assert "2024-06-03 07:00 UTC" in render_markdown(result)


def test_two_complete_exports_of_one_account_in_one_run_are_refused(tmp_path: Path) -> None:
    """A folder of dated exports of one account was reported as one state holding both (findings fixed in the newer
    export counted as new again)."""
    exports = tmp_path / "exports"
    exports.mkdir()
    shutil.copy(RUN1 / "account.json", exports / "2024-05-27.json")
    shutil.copy(RUN2, exports / "2024-06-03.json")
    refused = _report(str(exports), "-o", str(tmp_path / "out"), "--history", str(tmp_path / "h.sqlite3"))
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr == (
        f"iam-audit: error: {exports}/2024-05-27.json and {exports}/2024-06-03.json are each a complete export of "
        f"account {ACCOUNT}: a run records one state of each account, so give only the newest export (each earlier "
        "run is in the history already)\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["exports"]
    (exports / "2024-05-27.json").unlink()
    assert _report(str(exports), "-o", str(tmp_path / "out"), "--history", str(tmp_path / "h.sqlite3")).returncode \
        in (0, 1)


@pytest.mark.parametrize("form", ["pages in an array", "yaml"])
def test_two_exports_of_one_account_in_other_forms_are_refused_too(tmp_path: Path, form: str) -> None:
    import yaml

    exports = tmp_path / "exports"
    exports.mkdir()
    for name, source in (("2024-05-27", RUN1 / "account.json"), ("2024-06-03", RUN2)):
        data = json.loads(source.read_text())
        if form == "yaml":
            (exports / f"{name}.yaml").write_text(yaml.safe_dump(data))
        else:
            (exports / f"{name}.json").write_text(json.dumps([{**data, "IsTruncated": False}]))
    refused = _report(str(exports), "-o", str(tmp_path / "out"), "--history", str(tmp_path / "h.sqlite3"))
    assert refused.returncode == 2 and "are each a complete export of account" in refused.stderr, refused.stderr


def test_the_files_of_a_filtered_export_are_parts_of_one_state(tmp_path: Path) -> None:
    """get-account-authorization-details --filter Role, --filter User...: one file each, each without IsTruncated."""
    data = json.loads((RUN1 / "account.json").read_text())
    parts = tmp_path / "parts"
    parts.mkdir()
    for key in ("UserDetailList", "RoleDetailList", "Policies"):
        part = {k: (v if k == key else []) for k, v in data.items() if k in (
            "UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")}
        (parts / f"{key}.json").write_text(json.dumps({**part, "IsTruncated": False}))
    done = _report(str(parts), "-o", str(tmp_path / "out"), "--history", str(tmp_path / "h.sqlite3"))
    assert done.returncode in (0, 1), done.stderr


def test_nothing_checked_passes_no_control(tmp_path: Path) -> None:
    """An empty folder (a fetch that wrote nothing) audits nothing: no control can pass (hunt52: 15 passing)."""
    (tmp_path / "empty").mkdir()
    result = _report(str(tmp_path / "empty"), "-o", str(tmp_path / "out"), "--history", str(tmp_path / "h.db"))
    assert result.returncode == 0, result.stderr
    (account,) = _json(tmp_path / "out")["accounts"]
    assert {control["status"] for control in account["controls"]} == {"not-evaluated"}
