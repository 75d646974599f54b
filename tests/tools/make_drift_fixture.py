"""Writes fixtures/drift/account-vendors.json: vendor roles as documented, rewritten and drifted.

Run from the repository root: ``PYTHONPATH=. python tests/tools/make_drift_fixture.py``.
The permission policies come from the bundled baselines with the placeholders bound,
so the fixture follows the baselines; the drift is planted by the edits below (the
table in tests/test_drift_fixture.py lists it).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from auditor.baselines import load_bundled_baselines

ACCOUNT = "111122223333"
REPO = Path(__file__).resolve().parents[2]
MANAGED_DIR = REPO.parent / "shared" / "corpus" / "aws-managed"
BASELINES = load_bundled_baselines()


def bound(ref: str, **values: str) -> Any:
    return BASELINES.get(ref).bind(values)


def document(ref: str, name: str = "", **values: str) -> dict[str, Any]:
    baseline = bound(ref, **values)
    policy = next(p for p in baseline.policies if not name or p.name == name)
    return copy.deepcopy(dict(policy.document))


def trust(ref: str, **values: str) -> dict[str, Any]:
    baseline = bound(ref, **values)
    assert baseline.trust_policy is not None
    return copy.deepcopy(dict(baseline.trust_policy.document))


def managed(name: str) -> dict[str, str]:
    return {"PolicyName": name, "PolicyArn": f"arn:aws:iam::aws:policy/{name}"}


def role(name: str, trust_policy: dict[str, Any], inline: dict[str, Any] | None, attached: list[str] = ()) -> Any:
    entry: dict[str, Any] = {
        "Path": "/",
        "RoleName": name,
        "RoleId": "AROA" + name.upper().replace("-", "")[:17].ljust(17, "X"),
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "CreateDate": "2024-05-02T10:00:00+00:00",
        "AssumeRolePolicyDocument": trust_policy,
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [managed(n) for n in attached],
        "Tags": [],
        "RoleLastUsed": {},
    }
    if inline is not None:
        entry["RolePolicyList"].append({"PolicyName": "vendor", "PolicyDocument": inline})
    return entry


def ec2_trust() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def upsolver_roles() -> list[Any]:
    server = document("upsolver/server-role", UpsolverOrgId="acme01")
    documented = ["AmazonAthenaFullAccess", "AWSCloudFormationReadOnlyAccess"]
    management = document("upsolver/management-role")

    # An equivalent rewrite: other statement order, the first statement split by service,
    # actions in lower case, a wildcard that expands to exactly the three DescribeAlarm* actions.
    first, *rest = management["Statement"]
    ec2 = [a.lower() for a in first["Action"] if a.startswith("ec2:")]
    iam = [a for a in first["Action"] if a.startswith("iam:")]
    cloudwatch = [a for a in first["Action"] if a.startswith("cloudwatch:") and "DescribeAlarm" not in a]
    rewritten = {"Version": "2012-10-17", "Statement": [
        *reversed(rest),
        {"Sid": "Iam", "Effect": "Allow", "Action": iam, "Resource": "*"},
        {"Sid": "Watch", "Effect": "Allow", "Action": [*cloudwatch, "cloudwatch:DescribeAlarm*"], "Resource": "*"},
        {"Sid": "Ec2", "Effect": "Allow", "Action": ec2, "Resource": ["*"]},
    ]}
    rewritten["Statement"][-4]["Resource"] = list(reversed(rewritten["Statement"][-4]["Resource"]))

    tagless = copy.deepcopy(management)
    tag_statement = next(s for s in tagless["Statement"] if "ec2:TerminateInstances" in s["Action"])
    del tag_statement["Condition"]

    return [
        role("UpsolverServerRole", ec2_trust(), server, documented),
        role("UpsolverServerRole-Admin", ec2_trust(), server, [*documented, "AdministratorAccess"]),
        role("UpsolverServerRole-NoAthena", ec2_trust(), server, ["AWSCloudFormationReadOnlyAccess"]),
        role("UpsolverManagementRole-Prod", ec2_trust(), rewritten, ["AWSCloudFormationReadOnlyAccess"]),
        role("UpsolverManagementRole-Tagless", ec2_trust(), tagless, ["AWSCloudFormationReadOnlyAccess"]),
    ]


def stackstate_roles() -> list[Any]:
    values = {"AccountId": ACCOUNT, "ExternalId": "stackstate-ext-7f3a"}
    integration = document("stackstate/integration-role", **values)
    integration_trust = trust("stackstate/integration-role", **values)
    no_external_id = copy.deepcopy(integration_trust)
    del no_external_id["Statement"][0]["Condition"]
    partner = copy.deepcopy(integration_trust)
    partner["Statement"][0]["Principal"]["AWS"].append("arn:aws:iam::444455556666:root")

    east = {"AccountId": ACCOUNT, "Region": "us-east-1"}
    west = {"AccountId": ACCOUNT, "Region": "eu-west-1"}
    eventbridge_trust = trust("stackstate/eventbridge-role", **east)
    extra_trusted = copy.deepcopy(eventbridge_trust)
    extra_trusted["Statement"][0]["Principal"]["AWS"] = f"arn:aws:iam::{'444455556666'}:role/ops"

    widened = document("stackstate/firehose-role", **east)
    widened["Statement"][0]["Resource"][0] = f"arn:aws:s3:::stackstate-logs-{ACCOUNT}/*"
    added = document("stackstate/firehose-role", **west)
    added["Statement"].append({"Effect": "Allow", "Action": "s3:DeleteObject",
                               "Resource": f"arn:aws:s3:::stackstate-logs-{ACCOUNT}/*"})
    return [
        role("StackStateAwsIntegrationRole-Prod", integration_trust, integration),
        role("StackStateAwsIntegrationRole-NoExternalId", no_external_id, integration),
        role("StackStateAwsIntegrationRole-Partner", partner, integration),
        role("StackStateEventBridgeRole-us-east-1", eventbridge_trust,
             document("stackstate/eventbridge-role", **east)),
        role("StackStateEventBridgeRole-eu-west-1", extra_trusted, document("stackstate/eventbridge-role", **west)),
        role("StackStateFirehoseRole-us-east-1", trust("stackstate/firehose-role", **east), widened),
        role("StackStateFirehoseRole-eu-west-1", trust("stackstate/firehose-role", **west), added),
        role("AppServerRole", ec2_trust(), {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app-assets/*"}]}),
    ]


def users() -> list[Any]:
    values = {"OutputBucketName": "acme-upsolver-output", "InputBucketName": "acme-raw-events",
              "AccountId": ACCOUNT}
    reader = document("upsolver/s3-access", **values)
    reader["Statement"] = [s for s in reader["Statement"] if s["Action"] != ["iam:SimulatePrincipalPolicy"]]

    def user(name: str, inline: dict[str, Any] | None, attached: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "Path": "/", "UserName": name, "UserId": "AIDA" + name.upper().replace("-", "")[:17].ljust(17, "X"),
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "CreateDate": "2024-05-02T10:00:00+00:00",
            "UserPolicyList": [{"PolicyName": "s3", "PolicyDocument": inline}] if inline else [],
            "GroupList": [], "AttachedManagedPolicies": attached, "Tags": [],
        }

    own = {"PolicyName": "UpsolverS3policy", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/UpsolverS3policy"}
    return [user("UpsolverUser-etl", None, [own]), user("UpsolverUser-reader", reader, [])]


def policies() -> list[Any]:
    entries = []
    for name in ("AmazonAthenaFullAccess", "AWSCloudFormationReadOnlyAccess", "AdministratorAccess"):
        text = (MANAGED_DIR / f"{name}.json").read_text(encoding="utf-8")
        entries.append(_policy_entry(name, f"arn:aws:iam::aws:policy/{name}", json.loads(text), 2))
    s3_access = document("upsolver/s3-access", OutputBucketName="acme-upsolver-output",
                         InputBucketName="acme-raw-events", AccountId=ACCOUNT)
    entries.append(_policy_entry("UpsolverS3policy", f"arn:aws:iam::{ACCOUNT}:policy/UpsolverS3policy", s3_access, 1))
    return entries


def _policy_entry(name: str, arn: str, doc: dict[str, Any], attachments: int) -> dict[str, Any]:
    return {
        "PolicyName": name, "PolicyId": "ANPA" + name.upper()[:17].ljust(17, "X"), "Arn": arn, "Path": "/",
        "DefaultVersionId": "v1", "AttachmentCount": attachments, "IsAttachable": True,
        "CreateDate": "2024-05-02T10:00:00+00:00", "UpdateDate": "2024-05-02T10:00:00+00:00",
        "PolicyVersionList": [{"Document": doc, "VersionId": "v1", "IsDefaultVersion": True,
                               "CreateDate": "2024-05-02T10:00:00+00:00"}],
    }


def main() -> int:
    export = {
        "UserDetailList": users(),
        "GroupDetailList": [],
        "RoleDetailList": upsolver_roles() + stackstate_roles(),
        "Policies": policies(),
    }
    out = REPO / "fixtures" / "drift" / "account-vendors.json"
    out.write_text(json.dumps(export, indent=4) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
