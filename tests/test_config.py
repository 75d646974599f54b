"""Configuration files: discovery, every key, located errors, precedence of the command line."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from auditor.config import BaselineMapping, ConfigError, describe, discover_config, load_config
from auditor.model import Severity
from tests.conftest import FIXTURES, run_cli

BAD_ACTION = {"Version": "2012-10-17",
              "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObjekt",
                             "Resource": "arn:aws:s3:::reports/*"}]}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_discovery_walks_up_and_prefers_the_dedicated_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    nested = project / "a" / "b"
    nested.mkdir(parents=True)
    found = discover_config(nested)
    assert found is None or tmp_path not in found.parents
    write(project / "pyproject.toml", """
        [project]
        name = "x"

        [tool.iam-audit]
        fail-on = "medium"
    """)
    assert discover_config(nested) == (project / "pyproject.toml").resolve()
    assert load_config(start=nested).fail_on is Severity.MEDIUM
    write(project / ".iam-audit.toml", 'fail-on = "low"\n')
    assert discover_config(nested) == (project / ".iam-audit.toml").resolve()
    # a pyproject.toml without [tool.iam-audit] is passed over on the way up
    write(project / "a" / "pyproject.toml", '[project]\nname = "inner"\n')
    assert discover_config(nested) == (project / ".iam-audit.toml").resolve()


def test_every_key_is_read_with_its_origin(tmp_path: Path) -> None:
    config_file = write(tmp_path / ".iam-audit.toml", """
        select = ["malformed", "IAM201"]
        ignore = ["IAM203"]
        fail-on = "medium"
        include = ["*.json"]
        exclude = ["vendor/*"]
        baseline-paths = ["baselines"]
        escalation-paths = ["escalation"]
        max-file-size = 5
        max-nesting = 50
        accepted = "accepted.json"

        [severity]
        IAM201 = "critical"
        unknown-service = "low"

        [vars]
        AccountId = "123456789012"

        [[baselines]]
        principal = "Upsolver*"
        baseline = "upsolver/server-role"
        vars = { ExternalId = "abc" }

        [[baselines]]
        principal = "Custom*"
        baseline = "./docs/custom-baseline.json"

        [[suppress]]
        rule = "IAM201"
        path = "legacy/*"
        reason = "legacy templates, removed in Q3"
        expires = 2099-01-31
    """)
    config = load_config(config_file)
    assert config.select == ("malformed", "IAM201")
    assert config.ignore == ("IAM203",)
    assert config.fail_on is Severity.MEDIUM
    assert config.include == ("*.json",) and config.exclude == ("vendor/*",)
    assert config.baseline_paths == ((tmp_path / "baselines").resolve(),)
    assert config.escalation_paths == ((tmp_path / "escalation").resolve(),)
    assert config.context_options()["escalation_paths"] == config.escalation_paths
    assert (config.max_file_size, config.max_nesting) == (5, 50)
    assert config.accepted == (tmp_path / "accepted.json").resolve()
    assert config.severity == {"IAM201": Severity.CRITICAL, "unknown-service": Severity.LOW}
    assert config.vars == {"AccountId": "123456789012"}
    assert config.baselines == (
        BaselineMapping("Upsolver*", "upsolver/server-role", {"ExternalId": "abc"}, f"{config_file}:19"),
        BaselineMapping("Custom*", str((tmp_path / "docs/custom-baseline.json").resolve()), {}, f"{config_file}:24"),
    )
    (suppression,) = config.suppress
    assert (suppression.rule, suppression.path, suppression.expires.isoformat()) == (  # type: ignore[union-attr]
        "IAM201", "legacy/*", "2099-01-31")
    assert suppression.origin == f"{config_file}:28"
    assert config.origin("fail-on") == f"{config_file}:3"
    assert config.origin("severity.unknown-service") == f"{config_file}:14"
    assert config.origin("exclude") == f"{config_file}:5"
    assert config.override("fail-on", None).origin("fail-on") == "command line"
    text = describe(config)
    assert f'fail-on = "medium"  # {config_file}:3' in text
    assert f'"IAM201" = "critical"  # {config_file}:13' in text


def test_baselines_as_a_simple_table(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / ".iam-audit.toml", """
        [baselines]
        "Upsolver*" = "upsolver/server-role"
        "Acme*" = { baseline = "acme/reader", vars = { Bucket = "data" } }
    """))
    assert [(m.pattern, m.baseline, dict(m.vars)) for m in config.baselines] == [
        ("Upsolver*", "upsolver/server-role", {}), ("Acme*", "acme/reader", {"Bucket": "data"})]


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ('fail-on = "high"\n\nselct = ["IAM201"]\n', 3, 1, "unknown key 'selct'"),
        ('fail-on = "extreme"\n', 1, 1, "unknown severity 'extreme'"),
        ('[severity]\nIAM201 = "high"\n  IAM200 = "loud"\n', 3, 3, "severity of IAM200"),
        ('[[suppress]]\nrule = "IAM201"\nreason = "ok"\n\n[[suppress]]\nrule = "IAM200"\nwhy = "x"\n', 7, 1,
         "unknown key 'why' in a suppression"),
        ('[[suppress]]\nrule = "IAM201"\nreason = "ok"\n\n[[suppress]]\nrule = "IAM200"\n', 6, 1, "has no reason"),
        ('[[suppress]]\nrule = "IAM201"\nreason = "ok"\nexpires = "next week"\n', 4, 1, "expires must be a date"),
        ('max-nesting = -1\n', 1, 1, "positive integer"),
        ('select = [\n  "IAM201",\n', 3, 1, "invalid TOML"),
        ('[[baselines]]\nprincipal = "A*"\nbaseline = "x/y"\nvar = {}\n', 4, 1, "unknown key 'var'"),
        ('fail-on = "high"\ntrusted-accounts = ["11112222333"]\n', 2, 1, "'11112222333' is not an AWS account id"),
        ('trusted-accounts = [111122223333]\n', 1, 1, "write account ids as strings"),
        # a lone string was taken as a one-item list: "*.json, *.yaml" as one glob that matches nothing
        ('fail-on = "high"\nselect = "IAM012"\n', 2, 1, 'select must be a list of strings: write select = ["IAM012"]'),
        ('include = "*.json, *.yaml"\n', 1, 1, 'include must be a list of strings: write include = ["*.json, *.yaml"]'),
        ('exclude = ["a", 1]\n', 1, 1, "exclude must be a list of strings"),
        ('baseline-paths = "own"\n', 1, 1, 'baseline-paths must be a list of strings: write baseline-paths = ["own"]'),
        ('trusted-accounts = "111122223333"\n', 1, 1, "trusted-accounts must be a list of strings: write "),
        # [vars] took booleans, numbers and dates and bound their Python spelling ("True", "1.5")
        ('[vars]\nAccountId = "123456789012"\nExternalId = true\n', 3, 1,
         'vars: ExternalId must be a string: write it in quotes (ExternalId = "true")'),
        ('[vars]\nAccountId = 111122223333\n', 2, 1, 'write it in quotes (AccountId = "111122223333")'),
        ('[vars]\nRate = 1.5\n', 2, 1, 'write it in quotes (Rate = "1.5")'),
        ('[vars]\nA = "x"\n  B = [1, 2]\n', 3, 3, "vars: B must be a string, not an array"),
        ('[[baselines]]\nprincipal = "A*"\nbaseline = "x/y"\nvars = { ExternalId = false }\n', 4, 1,
         'write it in quotes (ExternalId = "false")'),
        ('[kinds]\n"scps/*" = "organization"\n"x/*" = "scp"\n', 3, 1,
         "kinds: x/* = 'scp' is not a kind: write one of identity, resource, trust, organization, boundary"),
        ('kinds = ["scps/*"]\n', 1, 1, "kinds must be a table: glob = kind"),
    ],
)
def test_bad_configuration_is_located(tmp_path: Path, text: str, line: int, column: int, words: str) -> None:
    config_file = write(tmp_path / ".iam-audit.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(config_file)
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{config_file}:{line}:{column}: ")


def test_vars_that_are_not_strings_stop_the_run(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps(BAD_ACTION))
    write(tmp_path / ".iam-audit.toml", "[vars]\nExternalId = true\n")
    for command in (("check", "p.json"), ("config",)):
        result = run_cli(*command, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip() == ('iam-audit: error: .iam-audit.toml:2:1: vars: ExternalId must be a string: '
                                         'write it in quotes (ExternalId = "true")')


def test_unknown_key_in_pyproject_is_located_in_its_table(tmp_path: Path) -> None:
    config_file = write(tmp_path / "pyproject.toml", """
        [project]
        name = "x"
        select = "irrelevant"

        [tool.iam-audit]
        select = ["IAM201"]
        colour = "never"
    """)
    with pytest.raises(ConfigError) as caught:
        load_config(config_file)
    assert (caught.value.line, caught.value.message[:19]) == (7, "unknown key 'colour")


@pytest.mark.parametrize(("text", "found"), [
    ('[tool]\niam-audit = {fail-on = "critical"}\n', True),  # an inline table under [tool]
    ('tool.iam-audit.fail-on = "critical"\n', True),  # a dotted key
    ('[tool.iam-audit\nfail-on = "critical"\n', True),  # not TOML: loading it says where
    ('[project]\nname = "x"\ndependencies = ["iam-audit"]\n', False),  # names the tool, configures nothing
])
def test_a_pyproject_that_configures_iam_audit_is_never_passed_over(tmp_path: Path, text: str, found: bool) -> None:
    write(tmp_path / "pyproject.toml", text)
    assert (discover_config(tmp_path) is not None) == found
    if found and text.startswith("[tool.iam-audit\n"):
        with pytest.raises(ConfigError, match="invalid TOML"):
            load_config(start=tmp_path)
    elif found:
        assert load_config(start=tmp_path).fail_on is Severity.CRITICAL


def test_cli_uses_the_discovered_config_and_flags_override_it(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "read.json").write_text(json.dumps(BAD_ACTION, indent=2))
    write(tmp_path / ".iam-audit.toml", """
        fail-on = "critical"
        [severity]
        unknown-action = "medium"
    """)
    nested = tmp_path / "policies"
    result = run_cli("check", "--format", "json", ".", cwd=nested)
    assert result.returncode == 0, result.stderr  # medium is below fail-on critical
    (finding,) = [f for f in json.loads(result.stdout)["findings"] if f["rule_id"] == "IAM201"]
    assert finding["severity"] == "medium"
    assert run_cli("check", "--format", "json", "--fail-on", "medium", ".", cwd=nested).returncode == 1
    assert run_cli("check", "--format", "json", "--no-config", ".", cwd=nested).returncode == 1  # default high
    shown = run_cli("config", cwd=nested)
    assert shown.returncode == 0
    assert f'fail-on = "critical"  # {(tmp_path / ".iam-audit.toml").resolve()}:1' in shown.stdout


def test_cli_config_errors_exit_2_with_location(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps(BAD_ACTION))
    config_file = write(tmp_path / "team.toml", '[severity]\nIAM201 = "low"\nIAM999 = "high"\n')
    result = run_cli("check", "--config", str(config_file), "p.json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("iam-audit: error: team.toml:3:1: severity: unknown rule, slug or "
                                     "category 'IAM999'; `iam-audit rules` lists them")
    missing = run_cli("check", "--config", "nope.toml", "p.json", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.toml: config file not found" in missing.stderr
    assert "Traceback" not in missing.stderr + result.stderr


def test_config_include_exclude_and_nesting_apply(tmp_path: Path) -> None:
    (tmp_path / "keep").mkdir()
    (tmp_path / "skip").mkdir()
    (tmp_path / "keep" / "a.json").write_text(json.dumps(BAD_ACTION))
    (tmp_path / "skip" / "b.json").write_text(json.dumps(BAD_ACTION))
    write(tmp_path / ".iam-audit.toml", 'exclude = ["skip/*"]\nselect = ["unknown-action"]\n')
    result = run_cli("check", "--format", "json", ".", cwd=tmp_path)
    assert {f["location"]["path"] for f in json.loads(result.stdout)["findings"]} == {"keep/a.json"}
    result = run_cli("check", "--format", "json", "--exclude", "keep/*", ".", cwd=tmp_path)
    assert {f["location"]["path"] for f in json.loads(result.stdout)["findings"]} == {"skip/b.json"}


def test_config_globs_are_relative_to_the_config_folder_however_the_folders_are_named(tmp_path: Path) -> None:
    for name in ("vendor/a.json", "sub/vendor/z.json", "top.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(BAD_ACTION))
    write(tmp_path / ".iam-audit.toml", 'exclude = ["vendor/*"]\nselect = ["unknown-action"]\n')

    def reported(folder: Path, *args: str) -> set[str]:
        result = run_cli("check", "--format", "json", *args, cwd=folder)
        assert result.returncode in (0, 1), result.stderr
        return {f["location"]["path"] for f in json.loads(result.stdout)["findings"]}

    assert reported(tmp_path, ".") == {"sub/vendor/z.json", "top.json"}
    assert reported(tmp_path, "vendor") == set()  # was vendor/a.json: the glob met "a.json", relative to vendor
    assert reported(tmp_path / "sub", ".") == {"vendor/z.json"}  # sub/vendor/z.json is not vendor/*
    assert reported(tmp_path / "sub", "..") == {"../top.json", "vendor/z.json"}
    # a command-line glob replaces the file's and is relative to the working directory (here also the folder walked)
    assert reported(tmp_path / "sub", "--exclude", "vendor/*", ".") == set()


def test_force_exclude_applies_exclude_to_named_files(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "a.json").write_text(json.dumps(BAD_ACTION))
    (tmp_path / "b.json").write_text(json.dumps(BAD_ACTION))
    write(tmp_path / ".iam-audit.toml", 'exclude = ["vendor/*"]\nselect = ["unknown-action"]\n')
    named = ("vendor/a.json", "b.json")
    plain = json.loads(run_cli("check", "--format", "json", *named, cwd=tmp_path).stdout)
    assert {f["location"]["path"] for f in plain["findings"]} == {"vendor/a.json", "b.json"}  # as ruff does
    forced = json.loads(run_cli("check", "--format", "json", "--force-exclude", *named, cwd=tmp_path).stdout)
    assert {f["location"]["path"] for f in forced["findings"]} == {"b.json"}
    write(tmp_path / ".iam-audit.toml", 'exclude = ["vendor/*"]\nforce-exclude = true\n')
    only_vendor = run_cli("check", "--format", "json", "vendor/a.json", cwd=tmp_path)
    assert only_vendor.returncode == 0 and json.loads(only_vendor.stdout)["summary"]["files"] == 0
    assert json.loads(only_vendor.stdout)["summary"]["not_checked"] == [
        "no files found: exclude (with force-exclude) left out every file named (vendor/a.json)"]


def test_the_vars_of_a_baseline_mapping_bind_its_placeholders(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "drift" / "account-vendors.json", tmp_path / "acct.json")
    write(tmp_path / ".iam-audit.toml", """
        [vars]
        UpsolverOrgId = "global1"

        [[baselines]]
        principal = "UpsolverServer*"
        baseline = "upsolver/server-role"
        vars = { UpsolverOrgId = "zzz99" }

        [[baselines]]
        principal = "AppServerRole"
        baseline = "upsolver/server-role"
        vars = { UpsolverOrgId = "app42" }
    """)

    def drift(*args: str) -> tuple[dict[str, str], dict[str, list[object]]]:
        result = run_cli("check", "--format", "json", "--select", "drift-resource-widened", *args, "acct.json",
                         cwd=tmp_path)
        assert result.returncode in (0, 1), result.stderr
        report = json.loads(result.stdout)
        verdicts = {v["principal"]: v["verdict"] for v in report["summary"]["verdicts"]}
        bindings: dict[str, list[object]] = {}
        for finding in report["findings"]:
            bindings.setdefault(finding["subject"]["name"], []).append(finding["details"]["bindings"])
        return verdicts, bindings

    verdicts, bindings = drift()
    assert verdicts["UpsolverServerRole"].endswith("[upsolver/server-role@gitbook; UpsolverOrgId=zzz99]")
    assert bindings["UpsolverServerRole"] == [{"UpsolverOrgId": "zzz99"}]
    assert bindings["AppServerRole"] == [{"UpsolverOrgId": "app42"}]  # each mapping binds its own principals
    verdicts, bindings = drift("--var", "UpsolverOrgId=acme01")  # the command line wins over the file
    assert verdicts["UpsolverServerRole"] == "no new access [upsolver/server-role@gitbook; UpsolverOrgId=acme01]"
    assert "UpsolverServerRole" not in bindings
    compared = run_cli("drift", "upsolver/server-role", "acct.json", "--principal", "AppServerRole", "-f", "json",
                       cwd=tmp_path)
    assert compared.returncode == 1, compared.stderr
    assert {json.dumps(f["details"]["bindings"]) for f in json.loads(compared.stdout)["findings"]} == {
        '{"UpsolverOrgId": "app42"}'}


TRUST_ANOTHER_ACCOUNT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "arn:aws:iam::999988887777:role/x"]},
     "Action": "sts:AssumeRole"}]}


def test_trusted_accounts_need_no_external_id(tmp_path: Path) -> None:
    (tmp_path / "trust.json").write_text(json.dumps(TRUST_ANOTHER_ACCOUNT, indent=2))

    def iam031(*args: str) -> list[tuple[str, str]]:
        result = run_cli("check", "--format", "json", "--kind", "trust", "--select", "IAM031", *args, "trust.json",
                         cwd=tmp_path)
        assert result.returncode in (0, 1), result.stderr
        return [(f["severity"], f["message"]) for f in json.loads(result.stdout)["findings"]]

    assert iam031() == [("medium", "444455556666, 999988887777 may assume this role without an sts:ExternalId "
                                   "condition (the role's own account is unknown: list your accounts in "
                                   "trusted-accounts)")]
    write(tmp_path / ".iam-audit.toml", 'trusted-accounts = ["444455556666"]\n')
    assert iam031() == [("high", "999988887777 may assume this role without an sts:ExternalId condition; if it is "
                                 "one of your organisation's accounts, list it in trusted-accounts")]
    write(tmp_path / ".iam-audit.toml", 'trusted-accounts = ["444455556666", "999988887777"]\n')
    assert iam031() == []
    assert iam031("--no-config")[0][0] == "medium"
    shown = run_cli("config", cwd=tmp_path).stdout
    assert 'trusted-accounts = ["444455556666", "999988887777"]  # ' in shown


CUSTOM_ESCALATION = """
- id: custom-queue-takeover
  title: Custom path of the project
  requires: [sqs:SendMessage, sqs:ReceiveMessage]
  target: existing-instance
  resource_sensitive: {sqs:SendMessage: queue}
  impact: "the project's own escalation"
  reference: https://example.com/custom
  source: local
"""


def test_escalation_paths_of_the_config_are_reported_and_checked(tmp_path: Path) -> None:
    """escalation-paths was read and shown but never passed to IAM012, and a folder that did not exist (or held an
    invalid definition) was ignored without a word."""
    write(tmp_path / "iam" / "escalation" / "custom.yaml", CUSTOM_ESCALATION)
    (tmp_path / "policy.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"], "Resource": "*"}]}))
    write(tmp_path / ".iam-audit.toml", 'select = ["IAM012"]\nescalation-paths = ["iam/escalation"]\n')
    result = run_cli("check", "--format", "json", "--no-cache", "policy.json", cwd=tmp_path)
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["rule_id"] == "IAM012" and "custom path of the project" in finding["message"]
    assert result.returncode in (0, 1), result.stderr
    assert json.loads(run_cli("check", "--format", "json", "--select", "IAM012", "--no-config", "policy.json",
                              cwd=tmp_path).stdout)["findings"] == []

    write(tmp_path / ".iam-audit.toml", 'select = ["IAM012"]\n\nescalation-paths = ["does/not/exist"]\n')
    missing = run_cli("check", "policy.json", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (f"iam-audit: error: .iam-audit.toml:3:1: escalation-paths: "
                                      f"{tmp_path.resolve() / 'does/not/exist'}: no such folder of escalation paths")
    write(tmp_path / ".iam-audit.toml", 'escalation-paths = ["iam/escalation"]\n')
    (tmp_path / "iam" / "escalation" / "broken.yml").write_text("this: is: not: [valid\n")
    broken = run_cli("check", "policy.json", cwd=tmp_path)
    assert broken.returncode == 2 and len(broken.stderr.strip().splitlines()) == 1, broken.stderr
    assert broken.stderr.startswith("iam-audit: error: .iam-audit.toml:1:1: escalation-paths: ")
    assert "broken.yml:1:9: invalid YAML" in broken.stderr
    (tmp_path / "iam" / "escalation" / "broken.yml").write_text("- id: incomplete\n")
    incomplete = run_cli("report", "policy.json", "--output", str(tmp_path / "out"), "--history",
                         str(tmp_path / "h.db"), cwd=tmp_path)
    assert incomplete.returncode == 2 and "broken.yml: path [0]: missing keys" in incomplete.stderr
    assert "Traceback" not in missing.stderr + broken.stderr + incomplete.stderr


def test_a_baseline_paths_folder_that_does_not_exist_is_located_in_the_config(tmp_path: Path) -> None:
    """baseline-paths = ["nope"] said "unknown baseline '/abs/nope' (known: ...)", with no configuration line and as
    if the folder were a baseline id (drift: "no such file or directory"); escalation-paths names its line."""
    (tmp_path / "policy.json").write_text(json.dumps(BAD_ACTION))
    write(tmp_path / ".iam-audit.toml", 'fail-on = "high"\nbaseline-paths = ["nope"]\n')
    for args in (("check", "policy.json"), ("drift", "upsolver/server-role", "policy.json"), ("baseline", "list"),
                 ("config",)):
        missing = run_cli(*args, cwd=tmp_path)
        assert missing.returncode == 2, args
        assert missing.stderr == (f"iam-audit: error: .iam-audit.toml:2:1: baseline-paths: "
                                  f"{tmp_path.resolve() / 'nope'}: no such folder of baselines\n"), args
    write(tmp_path / "own" / "x" / "broken.yaml", "id: x/broken\nrevision: [\n")
    write(tmp_path / ".iam-audit.toml", 'baseline-paths = ["own"]\n')
    broken = run_cli("check", "policy.json", cwd=tmp_path)
    assert broken.returncode == 2 and len(broken.stderr.splitlines()) == 1, broken.stderr
    assert broken.stderr.startswith(f"iam-audit: error: .iam-audit.toml:1:1: baseline-paths: "
                                    f"{tmp_path.resolve() / 'own' / 'x' / 'broken.yaml'}:3:1: invalid YAML")


def test_escalation_path_files_are_found_in_any_case(tmp_path: Path) -> None:
    """An escalation-paths folder's CUSTOM.YAML or paths.YML was ignored without a word: only lower-case suffixes
    were read, while the loaders read .YAML policy files."""
    from auditor.knowledge import load_escalation_paths

    write(tmp_path / "esc" / "CUSTOM.YAML", CUSTOM_ESCALATION)
    write(tmp_path / "esc" / "more.Yml", CUSTOM_ESCALATION.replace("custom-queue-takeover", "custom-two"))
    (tmp_path / "esc" / "notes.txt").write_text("not a definition")
    ids = {path.id for path in load_escalation_paths([tmp_path / "esc"])}
    assert {"custom-queue-takeover", "custom-two"} <= ids
    (tmp_path / "policy.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"], "Resource": "*"}]}))
    write(tmp_path / ".iam-audit.toml", 'select = ["IAM012"]\nescalation-paths = ["esc"]\n')
    result = run_cli("check", "--format", "json", "--no-cache", "policy.json", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    assert any("custom path of the project" in f["message"].lower() for f in json.loads(result.stdout)["findings"])


def test_globs_match_paths_outside_the_working_directory_and_absolute_paths(tmp_path: Path) -> None:
    """Findings show a file beside the working directory as ../other/admin.json, but --exclude '../other/admin.json'
    excluded nothing, nor did an absolute path (as ruff takes them), in --exclude, --include or force-exclude."""
    for name in ("work/pol/admin.json", "work/pol/med.json", "other/admin.json", "other/med.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(BAD_ACTION))
    work = tmp_path / "work"

    def reported(*args: str) -> set[str]:
        config = () if "--config" in args else ("--no-config",)
        result = run_cli("check", "--format", "json", "--select", "unknown-action", *config, *args, cwd=work)
        assert result.returncode in (0, 1), result.stderr
        return {f["location"]["path"] for f in json.loads(result.stdout)["findings"]}

    other = {"../other/admin.json", "../other/med.json"}
    assert reported("../other") == other
    assert reported("../other", "--exclude", "../other/admin.json") == other - {"../other/admin.json"}
    assert reported("../other", "--exclude", "../other/m*") == other - {"../other/med.json"}
    assert reported("../other", "--include", "../other/admin.json") == {"../other/admin.json"}
    assert reported("../other", "--exclude", str(tmp_path / "other" / "admin.json")) == other - {
        "../other/admin.json"}
    assert reported("pol", "--exclude", str(work / "pol" / "admin.json")) == {"pol/med.json"}
    assert reported(".", "--include", str(tmp_path / "*" / "pol" / "med.json")) == {"pol/med.json"}
    (work / "top.json").write_text(json.dumps(BAD_ACTION))  # only an absolute pattern sees the absolute path
    assert reported(".", "--exclude", "*/top.json") == {"top.json", "pol/admin.json", "pol/med.json"}
    (work / "top.json").unlink()
    assert reported(str(tmp_path / "other"), "--exclude", "../other/admin.json") == {str(tmp_path / "other/med.json")}
    # force-exclude of files named on the command line takes the same spellings
    assert reported("../other/admin.json", "pol/med.json", "--force-exclude", "--exclude", "../other/*") == {
        "pol/med.json"}
    assert reported("../other/admin.json", "pol/med.json", "--force-exclude", "--exclude",
                    str(work / "pol" / "med.json")) == {"../other/admin.json"}
    # globs of a configuration file: relative to its folder, or absolute
    write(work / "cfg.toml", f'exclude = ["pol/admin.json", "{tmp_path / "other" / "med.json"}"]\n')
    assert reported("pol", "../other", "--config", "cfg.toml") == {"pol/med.json", "../other/admin.json"}


def test_command_line_globs_are_relative_to_the_working_directory(tmp_path: Path) -> None:
    """--include/--exclude on the command line were matched relative to the folder walked only: `check pol --exclude
    pol/admin.json` excluded nothing, and `--include 'pol/a*.json'` checked 0 files and passed."""
    for name in ("pol/admin.json", "pol/med.json", "pol/sub/deep.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(BAD_ACTION))
    write(tmp_path / "cfg.toml", 'exclude = ["pol/admin.json"]\nselect = ["unknown-action"]\n')

    def reported(*args: str) -> set[str]:
        result = run_cli("check", "--format", "json", "--select", "unknown-action", *args, cwd=tmp_path)
        assert result.returncode in (0, 1), result.stderr
        return {f["location"]["path"] for f in json.loads(result.stdout)["findings"]}

    everything = {"pol/admin.json", "pol/med.json", "pol/sub/deep.json"}
    assert reported("pol", "--config", str(tmp_path / "cfg.toml")) == everything - {"pol/admin.json"}
    assert reported("pol", "--exclude", "pol/admin.json") == everything - {"pol/admin.json"}  # as in the config
    assert reported("pol", "--exclude", "*/admin.json") == everything - {"pol/admin.json"}
    assert reported("pol", "--include", "pol/a*.json") == {"pol/admin.json"}
    assert reported("pol", "--exclude", "pol/sub/*") == everything - {"pol/sub/deep.json"}
    # globs relative to the folder named keep working when nothing relative to the working directory matches
    assert reported("pol", "--exclude", "admin.json") == everything - {"pol/admin.json"}
    assert reported("pol", "--include", "*.json") == everything
    assert reported("pol", "--exclude", "sub/*") == everything - {"pol/sub/deep.json"}
    assert reported(str(tmp_path / "pol"), "--exclude", "pol/med.json") == everything - {"pol/med.json"}

    out = tmp_path / "out"
    result = run_cli("report", "pol", "--exclude", "pol/admin.json", "--output", str(out), "--history",
                     str(tmp_path / "h.db"), "--format", "json", "--no-config", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    (account,) = json.loads((out / "report.json").read_text())["accounts"]
    assert sorted(account["files"]) == ["pol/med.json", "pol/sub/deep.json"]


def test_a_run_that_finds_no_files_says_so(tmp_path: Path) -> None:
    """A folder with no file, or include/exclude globs that leave out every file, passed as "No findings."."""
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "admin.json").write_text(json.dumps(BAD_ACTION))
    (tmp_path / "empty").mkdir()
    filtered = run_cli("check", "--format", "json", "--include", "nomatch/*.json", "pol", cwd=tmp_path)
    assert filtered.returncode == 0, filtered.stderr  # ruff's "No files found" is a warning too, not a failure
    assert json.loads(filtered.stdout)["summary"]["not_checked"] == [
        "pol: no files found (the include and exclude globs left out all 1 file: include 'nomatch/*.json')"]
    empty = run_cli("check", "--no-color", "empty", cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "empty: no files found (the folder holds no file)" in empty.stdout
    assert "No files found: nothing was checked (see not checked above)." in empty.stdout
    assert "No findings." not in empty.stdout
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    assert json.loads(run_cli("check", "--format", "json", "empty", cwd=tmp_path).stdout)["summary"][
        "not_checked"] == ["empty: no files found (none of its 1 file ends in .json, .yaml, .yml, .template or .tf)"]


FULL_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def test_kinds_set_the_kind_of_the_files_their_globs_match(tmp_path: Path) -> None:
    """A repository of SCPs beside role policies: `FullAWSAccess` is the default SCP, not an administrator."""
    for name in ("scps/FullAWSAccess.json", "roles/admin.json", "boundaries/dev.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(FULL_ACCESS, indent=2))
    write(tmp_path / ".iam-audit.toml", """
        [kinds]
        "scps/*.json" = "organization"
        "boundaries/**" = "boundary"
        "**/*.json" = "identity"
    """)

    def full_admin(folder: Path, *args: str) -> dict[str, str]:
        result = run_cli("check", "--format", "json", "--select", "IAM001", *args, cwd=folder)
        assert result.returncode in (0, 1), result.stderr
        return {f["location"]["path"]: f["severity"] for f in json.loads(result.stdout)["findings"]}

    # the first glob that matches wins; a boundary's grants are info
    assert full_admin(tmp_path, ".") == {"roles/admin.json": "critical", "boundaries/dev.json": "info"}
    # relative to the configuration's folder, however the files are named (pre-commit names them one by one)
    assert full_admin(tmp_path / "scps", "FullAWSAccess.json") == {}
    assert full_admin(tmp_path, "--jobs", "2", "scps/FullAWSAccess.json", "roles") == {"roles/admin.json": "critical"}
    # --kind sets every file's kind
    assert full_admin(tmp_path, "--kind", "identity", "scps") == {"scps/FullAWSAccess.json": "critical"}
    assert full_admin(tmp_path, "--no-config", "scps") == {"scps/FullAWSAccess.json": "critical"}
    shown = run_cli("config", cwd=tmp_path)
    assert '"scps/*.json" = "organization"  # ' in shown.stdout and "[kinds]" in shown.stdout
