"""Stored versions of customer managed policies: the export loader keeps them, IAM013 compares them with the default."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, Selection, run_rules
from auditor.loaders import LoadOptions, load_paths, load_text
from auditor.model import Finding
from auditor.normalize import stored_version
from auditor.permissions import permission_model
from tests.conftest import SHARED

ACCOUNT = "111122223333"
RULES = all_rules()


def statement(action: str, resource: str = "*", effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def managed(name: str, default: str, *versions: tuple[str, dict[str, Any]], aws: bool = False) -> dict[str, Any]:
    arn = f"arn:aws:iam::aws:policy/{name}" if aws else f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    return {"PolicyName": name, "Arn": arn, "DefaultVersionId": default,
            "PolicyVersionList": [{"VersionId": vid, "IsDefaultVersion": vid == default, "Document": doc}
                                  for vid, doc in versions]}


def export_text(*policies: dict[str, Any]) -> str:
    return json.dumps({"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [],
                       "Policies": list(policies)}, indent=2)


def dormant_findings(text: str) -> list[Finding]:
    loaded = load_text(text, "account.json", LoadOptions())
    return run_rules(loaded, RULES, CheckContext(load_catalog()), Selection(select=frozenset({"IAM013"})))


READ_REPORTS = statement("s3:GetObject", "arn:aws:s3:::reports/*")
TAGGED_RUN = statement("ec2:RunInstances", Condition={"StringEquals": {"aws:RequestTag/team": "app"}})


def test_the_loader_keeps_the_other_versions_of_customer_managed_policies_only() -> None:
    wide = document(statement("s3:*"))
    text = export_text(managed("app", "v3", ("v1", wide), ("v3", document(READ_REPORTS)), ("v2", wide)),
                       managed("ReadOnlyAccess", "v9", ("v8", wide), ("v9", document(READ_REPORTS)), aws=True))
    app, aws = load_text(text, "account.json", LoadOptions()).policies
    assert app.version_id == "v3" and app.pointer == "/Policies/0/PolicyVersionList/1/Document"
    assert [(v.version_id, v.pointer) for v in app.dormant_versions] == [
        ("v1", "/Policies/0/PolicyVersionList/0/Document"), ("v2", "/Policies/0/PolicyVersionList/2/Document")]
    assert aws.version_id == "v9" and aws.dormant_versions == ()  # only AWS can change its default version


def test_an_older_version_with_more_actions_is_reported_at_its_statement() -> None:
    text = export_text(managed("app", "v2", ("v2", document(READ_REPORTS)), ("v1", document(statement("s3:*")))))
    [finding] = dormant_findings(text)
    assert finding.severity.value == "high"  # s3:* includes s3:PutBucketPolicy, a permissions-management action
    shown = re.fullmatch(r"Version v1 of app is not the default \(v2\) but allows \d+ action\(s\) the default "
                         r"does not allow: (.*) and \d+ others; s3:GetObject on resources the default does not name\. "
                         r"Anyone allowed iam:SetDefaultPolicyVersion on it can make it the default: .*",
                         finding.message)
    assert shown is not None
    catalog = load_catalog()
    levels = [catalog.action(name).access_level for name in shown.group(1).split(", ")]  # type: ignore[union-attr]
    assert all("Permissions management" in level for level in levels), levels  # the dangerous ones come first
    assert finding.location.pointer == "/Policies/0/PolicyVersionList/1/Document/Statement/0"
    line = text.splitlines()[finding.location.line - 1]
    assert line.strip() == "{" and text.splitlines()[finding.location.line].strip() == '"Effect": "Allow",'
    assert finding.details["version_id"] == "v1" and finding.details["default_version_id"] == "v2"
    assert finding.subject is not None and finding.subject["arn"] == f"arn:aws:iam::{ACCOUNT}:policy/app"


@pytest.mark.parametrize(("older", "gap", "severity"), [
    (document(statement("ec2:RunInstances")), "under looser conditions than the default's", "medium"),
    (document(statement("s3:GetObject", "arn:aws:s3:::*")), "on resources the default does not name", "low"),
    (document(TAGGED_RUN, statement("s3:GetObject", "arn:aws:s3:::reports/*")),
     "which a Deny of the default refuses", "low"),
])
def test_wider_resources_dropped_conditions_and_missing_denies_count(
    older: dict[str, Any], gap: str, severity: str
) -> None:
    current = document(TAGGED_RUN, READ_REPORTS,
                       statement("s3:GetObject", "arn:aws:s3:::reports/private/*", effect="Deny"))
    [finding] = dormant_findings(export_text(managed("app", "v7", ("v7", current), ("v6", older))))
    assert gap in finding.message and finding.severity.value == severity


def test_versions_that_allow_no_more_than_the_default_are_not_reported() -> None:
    current = document(TAGGED_RUN, statement("s3:GetObject", "arn:aws:s3:::reports/*"))
    same = json.loads(json.dumps(current))
    narrower = document(statement("s3:GetObject", "arn:aws:s3:::reports/2024/*"))
    guarded = document(statement("s3:*", "arn:aws:s3:::reports/*"),
                       statement("s3:*", "arn:aws:s3:::reports/*", effect="Deny", NotAction="s3:GetObject"))
    guarded["Statement"][1].pop("Action")
    no_resource_needed = document(statement("s3:ListAllMyBuckets"))
    with_it = document(*current["Statement"], statement("s3:ListAllMyBuckets", "arn:aws:s3:::reports"))
    text = export_text(managed("app", "v1", ("v1", current), ("v2", same), ("v3", narrower), ("v4", guarded)),
                       managed("lister", "v2", ("v2", with_it), ("v1", no_resource_needed)))
    assert dormant_findings(text) == []


@pytest.mark.skipif(not (SHARED / "corpus/account-large.json").is_file(), reason="needs ../shared/corpus")
def test_on_the_large_export_every_unreported_version_allows_no_action_the_default_does_not() -> None:
    """A cross-check with the permission model (another computation): a version IAM013 leaves out must not
    allow, on any resource, an action its default does not allow on some resource."""
    loaded = load_paths([str(SHARED / "corpus/account-large.json")])
    catalog = load_catalog()
    context = CheckContext(catalog)
    model = permission_model(catalog)
    rule = RULES.get("IAM013")
    assert rule is not None
    compared = reported = 0
    for policy in loaded.policies:
        if not policy.dormant_versions:
            continue
        flagged = {hit.details["version_id"] for hit in rule.check(policy, context)}
        current = model.effective([policy]).allowed()
        for version in policy.dormant_versions:
            compared += 1
            if version.version_id in flagged:
                reported += 1
            else:
                assert model.effective([stored_version(policy, version)]).allowed() <= current, (
                    policy.label, version.version_id)
    assert compared == 815 and 0 < reported < compared


def test_a_version_without_an_id_or_a_readable_document_is_said_so() -> None:
    wide = document(statement("s3:*"))
    nameless = managed("app", "v2", ("v2", document(READ_REPORTS)), ("v1", wide))
    del nameless["PolicyVersionList"][1]["VersionId"]
    [finding] = dormant_findings(export_text(nameless))
    assert finding.message.startswith("A stored version (with no VersionId) of app is not the default (v2) but allows")
    unreadable = managed("app", "v2", ("v2", document(READ_REPORTS)), ("v1", wide), ("v0", wide))
    unreadable["PolicyVersionList"][1]["Document"] = None
    del unreadable["PolicyVersionList"][2]["Document"]
    text = export_text(unreadable)
    loaded = load_text(text, "account.json", LoadOptions())
    assert loaded.policies[0].dormant_versions == ()
    rows = text.splitlines()
    null_document = rows.index('          "Document": null') + 1
    no_document = rows.index('          "VersionId": "v0",')  # the version's own line: it has no Document
    assert loaded.not_checked == [
        f"account.json:{line}: policy arn:aws:iam::{ACCOUNT}:policy/app: stored version {vid} has no statements IAM "
        "could read, so it was not compared with the default (IAM013)"
        for line, vid in ((null_document, "v1"), (no_document, "v0"))]


def test_an_attached_policy_without_a_default_version_is_not_called_missing() -> None:
    broken = managed("app", "v9", ("v1", document(READ_REPORTS)))
    broken["PolicyVersionList"][0]["IsDefaultVersion"] = False
    role = {"RoleName": "r1", "Arn": f"arn:aws:iam::{ACCOUNT}:role/r1", "RolePolicyList": [],
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
            "AttachedManagedPolicies": [{"PolicyName": "app", "PolicyArn": broken["Arn"]}]}
    text = json.dumps({"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [role], "Policies": [broken]})
    loaded = load_text(text, "account.json", LoadOptions())
    assert loaded.not_checked == [f"role r1: attached policy {broken['Arn']} has no default version in the export's "
                                  "PolicyVersionList, so its statements were not checked"]
