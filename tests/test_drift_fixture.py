"""``iam-audit check`` on an account with vendor roles: exactly the planted drift, per principal.

| principal | planted | expected |
|---|---|---|
| UpsolverServerRole | as documented (org id acme01, both managed policies) | no new access |
| UpsolverServerRole-Admin | AdministratorAccess attached | IAM906 (critical) |
| UpsolverServerRole-NoAthena | AmazonAthenaFullAccess missing | IAM906 (medium) |
| UpsolverManagementRole-Prod | reordered, split, lower-cased, `cloudwatch:DescribeAlarm*` | no new access |
| UpsolverManagementRole-Tagless | tag condition removed | IAM904 |
| StackStateAwsIntegrationRole-Prod | as documented (account, external id) | no new access |
| StackStateAwsIntegrationRole-NoExternalId | ExternalId removed from the trust | IAM904 |
| StackStateAwsIntegrationRole-Partner | second account trusted | IAM905, IAM907 (${AccountId} two values) |
| StackStateEventBridgeRole-us-east-1 | as documented | no new access |
| StackStateEventBridgeRole-eu-west-1 | trust principal added | IAM905 |
| StackStateFirehoseRole-us-east-1 | bucket prefix widened to bucket/* | IAM903 |
| StackStateFirehoseRole-eu-west-1 | s3:DeleteObject added | IAM901 |
| UpsolverUser-etl | as documented, as a customer managed policy | no new access |
| UpsolverUser-reader | iam:SimulatePrincipalPolicy statement dropped | IAM902 |
| AppServerRole | no baseline applies | linted only, no verdict |
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FIXTURES, run_json

EXPORT = FIXTURES / "drift" / "account-vendors.json"

PLANTED = {
    ("UpsolverServerRole-Admin", "IAM906"),
    ("UpsolverServerRole-NoAthena", "IAM906"),
    ("UpsolverManagementRole-Tagless", "IAM904"),
    ("StackStateAwsIntegrationRole-NoExternalId", "IAM904"),
    ("StackStateAwsIntegrationRole-Partner", "IAM905"),
    ("StackStateAwsIntegrationRole-Partner", "IAM907"),
    ("StackStateEventBridgeRole-eu-west-1", "IAM905"),
    ("StackStateFirehoseRole-us-east-1", "IAM903"),
    ("StackStateFirehoseRole-eu-west-1", "IAM901"),
    ("UpsolverUser-reader", "IAM902"),
}
UNDRIFTED = {
    "UpsolverServerRole", "UpsolverManagementRole-Prod", "StackStateAwsIntegrationRole-Prod",
    "StackStateEventBridgeRole-us-east-1", "UpsolverUser-etl",
}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    code, data = run_json(str(EXPORT))
    assert code == 1
    return data


def test_check_reports_exactly_the_planted_drift(report: dict[str, Any]) -> None:
    found = {(f["subject"]["name"], f["rule_id"]) for f in report["findings"] if f["rule_id"].startswith("IAM9")}
    assert found == PLANTED


def test_every_compared_principal_has_one_verdict(report: dict[str, Any]) -> None:
    verdicts = {v["principal"]: v["verdict"] for v in report["summary"]["verdicts"]}
    assert len(verdicts) == len(report["summary"]["verdicts"])
    assert set(verdicts) == UNDRIFTED | {name for name, _ in PLANTED}
    for name in UNDRIFTED:
        assert verdicts[name].startswith("no new access"), verdicts[name]
        assert "missing" not in verdicts[name]
    assert verdicts["UpsolverServerRole-NoAthena"].startswith("no new access; 1 missing")
    assert verdicts["UpsolverUser-reader"].startswith("no new access; 1 missing")
    assert verdicts["StackStateFirehoseRole-eu-west-1"].startswith("1 new: 1 action(s) added")
    assert "AppServerRole" not in verdicts


def test_drift_findings_carry_baseline_evidence_and_locations(report: dict[str, Any]) -> None:
    drift = {(f["subject"]["name"], f["rule_id"]): f for f in report["findings"] if f["rule_id"].startswith("IAM9")}
    added = drift[("StackStateFirehoseRole-eu-west-1", "IAM901")]
    assert (added["baseline"], added["details"]["baseline_revision"]) == ("stackstate/firehose-role", "5.1")
    assert added["details"]["added_actions"] == [{"action": "s3:DeleteObject", "access_level": "Write"}]
    assert added["details"]["bindings"] == {"AccountId": "111122223333", "Region": "eu-west-1"}
    assert added["location"]["path"].endswith("account-vendors.json") and added["location"]["line"] > 0
    widened = drift[("StackStateFirehoseRole-us-east-1", "IAM903")]
    assert widened["details"]["target_resources"] == ["arn:aws:s3:::stackstate-logs-111122223333/*"]
    assert ("arn:aws:s3:::stackstate-logs-111122223333/AWSLogs/111122223333/EventBridge/us-east-1/*"
            in widened["details"]["baseline_resources"])
    loosened = [f for f in report["findings"]
                if (f["subject"]["name"], f["rule_id"]) == ("UpsolverManagementRole-Tagless", "IAM904")]
    # one finding per set of conditions the actions lack: RunInstances the request tag, the others the resource tag
    lacking = {tuple(f["details"]["actions"]): {c["key"] for c in f["details"]["removed_conditions"]}
               for f in loosened}
    assert lacking[("ec2:RunInstances",)] == {"aws:RequestTag/Name"}
    assert {"ec2:ResourceTag/Name"} in lacking.values() and len(loosened) == 2
    trust = drift[("StackStateAwsIntegrationRole-Partner", "IAM905")]
    assert trust["details"]["added_principals"] == ["AWS:arn:aws:iam::444455556666:root"]
    external = drift[("StackStateAwsIntegrationRole-NoExternalId", "IAM904")]
    assert external["details"]["removed_conditions"][0]["key"] == "sts:ExternalId"
    assert (external["category"], external["severity"]) == ("drift-condition-loosened", "high")
    assert external["message"].startswith("the trust lets principals assume the role without StringEquals "
                                          "sts:ExternalId")
    admin = drift[("UpsolverServerRole-Admin", "IAM906")]
    assert admin["severity"] == "critical"
    assert admin["details"]["added_managed_policies"] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    conflict = drift[("StackStateAwsIntegrationRole-Partner", "IAM907")]
    assert conflict["details"]["values"] == ["111122223333", "444455556666"]


def test_a_verdict_says_when_the_baseline_documents_no_trust_policy() -> None:
    """The default Upsolver management role revision documents no trust: the role's trust goes uncompared, and the
    verdict says which revision would compare it."""
    _, data = run_json(str(EXPORT))
    verdicts = {v["principal"]: v["verdict"] for v in data["summary"]["verdicts"]}
    assert verdicts["UpsolverManagementRole-Prod"] == (
        "no new access; trust policy not compared: this revision documents none (upsolver/management-role@plaintext "
        "does: --baseline upsolver/management-role@plaintext) [upsolver/management-role@gitbook]")
    assert "trust policy not compared" not in verdicts["StackStateAwsIntegrationRole-Prod"]


def test_baseline_option_restricts_the_comparison() -> None:
    _, data = run_json(str(EXPORT), "--baseline", "stackstate/eventbridge-role")
    found = {(f["subject"]["name"], f["rule_id"]) for f in data["findings"] if f["rule_id"].startswith("IAM9")}
    assert found == {("StackStateEventBridgeRole-eu-west-1", "IAM905")}
    assert {v["principal"] for v in data["summary"]["verdicts"]} == {
        "StackStateEventBridgeRole-us-east-1", "StackStateEventBridgeRole-eu-west-1"}


def test_select_and_ignore_apply_to_drift_rules() -> None:
    _, data = run_json(str(EXPORT), "--select", "IAM906")
    assert {f["rule_id"] for f in data["findings"]} == {"IAM906"}


def test_a_trust_condition_removed_is_a_condition_loosened_not_a_trust_widened() -> None:
    """Spec, categories: drift-condition-loosened is a baseline condition (an sts:ExternalId) missing or weaker in
    the target; drift-trust-widened is a trust admitting principals the baseline does not."""
    _, loosened = run_json(str(EXPORT), "--category", "drift-condition-loosened")
    assert {(f["subject"]["name"], f["rule_id"]) for f in loosened["findings"]} == {
        ("UpsolverManagementRole-Tagless", "IAM904"), ("StackStateAwsIntegrationRole-NoExternalId", "IAM904")}
    _, widened = run_json(str(EXPORT), "--category", "drift-trust-widened")
    assert {(f["subject"]["name"], f["rule_id"]) for f in widened["findings"]} == {
        ("StackStateAwsIntegrationRole-Partner", "IAM905"), ("StackStateEventBridgeRole-eu-west-1", "IAM905")}
    verdicts = {v["principal"]: v["verdict"] for v in loosened["summary"]["verdicts"]}
    assert verdicts["StackStateAwsIntegrationRole-NoExternalId"].startswith(
        "1 new: 1 trust condition(s) removed or weakened [")
