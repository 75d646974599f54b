"""Drift by category, in both directions, and equivalent rewrites that are not drift."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.baselines import Baseline, BaselinePolicy, Placeholder, PrincipalSpec, Provenance, resolve_baseline
from auditor.catalog import load_catalog
from auditor.drift import DriftError, DriftResult, compare_policy, compare_principal, drift_loaded, parse_vars
from auditor.drift_logic import glob_contains, glob_intersects, squash
from auditor.fingerprint import fingerprint
from auditor.loaders import LoadOptions, load_text
from auditor.model import PolicyKind, Subject
from auditor.normalize import normalize_policy
from auditor.source import Source
from tests.conftest import FIXTURES, run_cli

CATALOG = load_catalog()
BUCKET = "arn:aws:s3:::acme-data"

READER = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
     "Resource": [f"{BUCKET}/*"]},
    {"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET,
     "Condition": {"StringLike": {"s3:prefix": ["reports/*"]}}},
    {"Sid": "Kms", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
]}
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::${VendorAccount}:root"}, "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"sts:ExternalId": "EXTERNAL_ID"}}},
]}


def baseline(policies: dict[str, Any] | None = None, trust: dict[str, Any] | None = None,
             managed: tuple[str, ...] = ()) -> Baseline:
    return Baseline(
        id="test/reader", revision="1", default=True, title="reader", vendor="test",
        principal=PrincipalSpec("role", ("Reader*",)), provenance=Provenance("test"),
        policies=(BaselinePolicy("reader", "identity", policies),) if policies else (),
        trust_policy=BaselinePolicy("trust", "trust", trust) if trust else None,
        managed_policies=managed,
        placeholders=(Placeholder("${VendorAccount}", "VendorAccount"), Placeholder("EXTERNAL_ID", "ExternalId")),
    )


def compare(target: dict[str, Any], base: dict[str, Any] = READER, kind: PolicyKind = PolicyKind.IDENTITY,
            **variables: str) -> DriftResult:
    policy = normalize_policy(target, kind, Source("target.json", json.dumps(target)))
    if kind is PolicyKind.TRUST:
        return compare_policy(baseline(trust=base), policy, CATALOG, variables)
    return compare_policy(baseline(base), policy, CATALOG, variables)


def rules(result: DriftResult) -> set[str]:
    return {f.rule_id for f in result.findings}


def edited(change: Any, base: dict[str, Any] = READER) -> dict[str, Any]:
    document = copy.deepcopy(base)
    change(document["Statement"])
    return document


# --------------------------------------------------------------------------- wildcard patterns


@pytest.mark.parametrize(("outer", "inner", "contained"), [
    ("*", "anything", True),
    ("arn:aws:s3:::b/*", "arn:aws:s3:::b/k/*", True),
    ("arn:aws:s3:::b/k/*", "arn:aws:s3:::b/*", False),
    ("arn:aws:s3:::b*", "arn:aws:s3:::b?", True),
    ("arn:aws:s3:::b?", "arn:aws:s3:::b*", False),
    ("arn:aws:s3:::*?", "arn:aws:s3:::?*", True),
    ("a*b*c", "a*bxb*c", True),
    ("a*b", "a*", False),
    ("arn:aws:s3:::b/*", "arn:aws:s3:::b", False),
])
def test_pattern_containment(outer: str, inner: str, contained: bool) -> None:
    assert glob_contains(outer, inner) is contained


def test_pattern_intersection_and_canonical_form() -> None:
    assert glob_intersects("arn:aws:s3:::b*", "arn:aws:s3:::*1")
    assert not glob_intersects("arn:aws:s3:::b*", "arn:aws:s3:::c*")
    assert not glob_intersects("a?", "abc")
    assert squash("a*?**?b") == "a??*b"


# --------------------------------------------------------------------------- each category, both ways


def test_identical_policy_is_no_drift() -> None:
    result = compare(READER)
    assert not result.findings and result.verdict.startswith("no new access")


def test_action_added_and_removed() -> None:
    added = compare(edited(lambda s: s[0]["Action"].append("s3:PutObject")))
    assert rules(added) == {"IAM901"}
    finding = added.findings[0]
    assert finding.details["added_actions"] == [{"action": "s3:PutObject", "access_level": "Write"}]
    assert finding.baseline == "test/reader" and finding.details["baseline_revision"] == "1"
    assert finding.statement is not None and finding.statement.index == 0
    # accepted-findings files written when `baseline` held id@revision keep matching
    as_before = dataclasses.replace(finding, baseline="test/reader@1",
                                    details={k: v for k, v in finding.details.items() if k != "baseline_revision"})
    assert fingerprint(finding) == fingerprint(as_before)
    assert added.verdict.startswith("1 new: 1 action(s) added")
    removed = compare(edited(lambda s: s[0]["Action"].remove("s3:GetObjectVersion")))
    assert rules(removed) == {"IAM902"}
    assert removed.verdict.startswith("no new access; 1 missing")


@pytest.mark.parametrize(("added", "severity", "secrets"), [
    ({"Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"}, "medium", False),
    ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}, "high", True),  # a read, yet
    ({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "cloudwatch:GetMetricData"], "Resource": "*"},
     "high", True),
])
def test_added_reads_of_secrets_are_high(added: dict[str, object], severity: str, secrets: bool) -> None:
    [finding] = compare(edited(lambda s: s.append(added))).findings
    assert (finding.rule_id, finding.severity.value) == ("IAM901", severity)
    assert ("secretsmanager:GetSecretValue" in finding.message and "return" in finding.message) is secrets


def test_wildcard_adds_every_action_it_expands_to() -> None:
    result = compare(edited(lambda s: s[0].update(Action="s3:Get*")))
    (finding,) = result.findings
    assert finding.rule_id == "IAM901"
    on_objects = {action for action in CATALOG.expand("s3:Get*")  # the statement's resource is the bucket's objects
                  if any(name.lower() == "object" for name, _ in CATALOG.action(action).resource_types)}
    expected = on_objects - {"s3:getobject", "s3:getobjectversion"}
    assert {"s3:getobjecttagging", "s3:getbucketpolicy", "s3:getaccountpublicaccessblock"} & expected == {
        "s3:getobjecttagging"}
    assert finding.details["action_count"] == len(expected)
    assert finding.message.endswith(f" and {len(expected) - 5} others")


def test_actions_that_take_no_resource_are_granted_on_star_alone() -> None:
    """s3:* on a bucket grants no s3:PutAccountPublicAccessBlock: granting it on "*" is new access, and a
    baseline's service wildcard on named resources never granted the account-wide actions the target leaves out."""
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": [BUCKET, f"{BUCKET}/*"]},
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "arn:aws:s3:::*"}]}
    added = compare(edited(lambda s: s.append(
        {"Effect": "Allow", "Action": ["s3:PutAccountPublicAccessBlock", "s3:ListAllMyBuckets"], "Resource": "*"}),
        documented), documented)
    (finding,) = added.findings
    assert finding.rule_id == "IAM901" and finding.severity.value == "high"
    assert [a["action"] for a in finding.details["added_actions"]] == ["s3:PutAccountPublicAccessBlock"]
    # named resources grant an account-wide action nothing, in the target as in the baseline
    assert not compare(edited(lambda s: s[0].update(Action=["s3:*", "s3:PutAccountPublicAccessBlock"]), documented),
                       documented).findings
    # a bucket a template names (Terraform's var.bucket) is still a bucket: its objects grant no account-wide action
    bucket = "arn:aws:s3:::{{var.bucket}}"
    templated = edited(lambda s: s[0].update(Resource=[bucket, f"{bucket}/*"]), documented)
    found = json.dumps([f.details for f in compare(templated, documented).findings])
    assert "s3:PutAccountPublicAccessBlock" not in found
    listed = compare(edited(lambda s: s[0].update(Action=["s3:Get*", "s3:Put*", "s3:Delete*", "s3:List*"]),
                            documented), documented)
    assert "s3:GetAccountPublicAccessBlock" not in json.dumps([f.details for f in listed.findings])


def test_not_action_is_the_complement_over_the_catalogue() -> None:
    result = compare(edited(lambda s: s[0].update(NotAction=["s3:Delete*"]) or s[0].pop("Action")))
    added = next(f for f in result.findings if f.rule_id == "IAM901")
    # on the bucket's objects: the object actions (and those the catalogue cannot place), not ec2:RunInstances
    named = {entry["action"] for entry in added.details["added_actions"]}  # the first 100
    assert {"s3:AbortMultipartUpload", "s3:GetObjectAcl"} <= named
    assert not named & {"ec2:RunInstances", "iam:PassRole", "s3:DeleteObject", "s3:GetObject", "s3:CreateBucket"}
    assert 100 < added.details["action_count"] < 1000  # of some 20,000
    # s3:ListBucket and kms:Decrypt are never asked for on an object: only on "*" do they widen the baseline
    assert rules(result) == {"IAM901"}
    everywhere = compare(edited(lambda s: s[0].update(NotAction=["s3:Delete*"], Resource="*") or s[0].pop("Action")))
    assert {"IAM901", "IAM903", "IAM904"} == rules(everywhere)


def test_resource_widened_and_narrowed() -> None:
    widened = compare(edited(lambda s: s[0].update(Resource="arn:aws:s3:::acme-*/*")))
    assert rules(widened) == {"IAM903"}
    details = widened.findings[0].details
    assert details["target_resources"] == ["arn:aws:s3:::acme-*/*"]
    assert details["baseline_resources"] == [f"{BUCKET}/*"]
    narrowed = compare(edited(lambda s: s[0].update(Resource=f"{BUCKET}/reports/*")))
    assert rules(narrowed) == {"IAM902"}
    assert narrowed.findings[0].severity.value == "low"


def test_not_resource_is_wider_than_any_list() -> None:
    result = compare(edited(lambda s: s[0].pop("Resource") and s[0].update(NotResource=[f"{BUCKET}-secret/*"])))
    assert rules(result) == {"IAM903"}


def test_condition_loosened_and_tightened() -> None:
    dropped = compare(edited(lambda s: s[2].pop("Condition")))
    assert rules(dropped) == {"IAM904"}
    assert dropped.findings[0].details["removed_conditions"] == [
        {"operator": "StringEquals", "key": "kms:ViaService", "values": ["s3.us-east-1.amazonaws.com"]}]
    weaker = compare(edited(lambda s: s[1]["Condition"]["StringLike"].update({"s3:prefix": ["*"]})))
    assert rules(weaker) == {"IAM904"}
    if_exists = compare(edited(lambda s: s[2].update(
        Condition={"StringEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})))
    assert rules(if_exists) == {"IAM904"}
    stronger = compare(edited(lambda s: s[1]["Condition"]["StringLike"].update({"s3:prefix": ["reports/2024/*"]})))
    assert rules(stronger) == {"IAM902"}
    extra = compare(edited(lambda s: s[0].update(Condition={"Bool": {"aws:SecureTransport": "true"}})))
    assert rules(extra) == {"IAM902"}


def test_string_equals_is_stronger_than_a_matching_string_like() -> None:
    result = compare(edited(lambda s: s[1].update(Condition={"StringEquals": {"s3:prefix": "reports/a"}})))
    assert rules(result) == {"IAM902"}


def test_string_like_without_a_wildcard_is_the_same_as_string_equals() -> None:
    same = compare(edited(lambda s: s[2].update(
        Condition={"StringLike": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})))
    assert rules(same) == set()
    wider = compare(edited(lambda s: s[2].update(Condition={"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}})))
    assert rules(wider) == {"IAM904"}


def test_a_policy_variable_in_another_case_is_the_same_variable() -> None:
    home = edited(lambda s: s[0].update(Resource=f"{BUCKET}/home/${{aws:username}}/*"))
    assert rules(compare(edited(lambda s: s[0].update(Resource=f"{BUCKET}/home/${{AWS:UserName}}/*")), home)) == set()
    assert rules(compare(edited(lambda s: s[0].update(Resource=f"{BUCKET}/home/${{aws:userid}}/*")), home)) == {
        "IAM902", "IAM903"}


def test_deny_in_the_target_narrows_and_a_missing_baseline_deny_widens() -> None:
    narrowed = compare(edited(lambda s: s.append(
        {"Effect": "Deny", "Action": "s3:GetObjectVersion", "Resource": "*"})))
    assert rules(narrowed) == {"IAM902"}
    with_deny = edited(lambda s: s.append(
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"{BUCKET}/secret/*"}))
    assert not compare(with_deny, base=with_deny).findings
    missing = compare(READER, base=with_deny)
    assert rules(missing) == {"IAM903"}
    assert missing.findings[0].details["missing_deny"]["index"] == 3
    broader_deny = edited(lambda s: s.append({"Effect": "Deny", "Action": "s3:*", "Resource": f"{BUCKET}/*"
                                              "" if False else f"{BUCKET}/secret*"}))
    assert not compare(broader_deny, base=with_deny).new_access


@pytest.mark.parametrize(("deny", "narrowed"), [
    ({"Action": "*", "Resource": "arn:aws:s3:::unrelated-bucket/*"}, False),  # no kinesis or cloudwatch there
    ({"Action": "kinesis:*", "Resource": "arn:aws:kinesis:*:*:stream/nothing"}, False),  # another stream
    ({"Action": "kinesis:*", "Resource": "arn:aws:kinesis:*:*:stream/upsolver_raw"}, True),
    ({"Action": "*", "Resource": "*"}, True),
])
def test_a_deny_narrows_only_what_it_can_refuse(deny: dict[str, Any], narrowed: bool) -> None:
    """A guard-rail Deny of every action on one bucket, or of another stream, was reported as narrowing the
    baseline's cloudwatch:PutMetricData and kinesis grants (IAM902)."""
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
        {"Effect": "Allow", "Action": "kinesis:*", "Resource": "arn:aws:kinesis:*:*:stream/upsolver_*"}]}
    target = edited(lambda s: s.append({"Effect": "Deny", **deny}), documented)
    assert rules(compare(target, documented)) == ({"IAM902"} if narrowed else set())


def test_target_allow_everything_then_deny_is_still_checked() -> None:
    target = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"{BUCKET}/*"},
        {"Effect": "Deny", "NotAction": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": "*"},
    ]}
    result = compare(target, base={"Version": "2012-10-17", "Statement": [READER["Statement"][0]]})
    assert not result.findings


def test_a_not_resource_deny_narrows_a_wide_allow_to_what_it_spares() -> None:
    read = {"Version": "2012-10-17", "Statement": [READER["Statement"][0]]}

    def target(spared: list[str]) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "NotResource": spared},
        ]}

    assert not compare(target([f"{BUCKET}/*"]), base=read).findings
    assert rules(compare(target([f"{BUCKET}/reports/*", f"{BUCKET}/logs/*"]), base=read)) == {"IAM902"}
    assert rules(compare(target([f"{BUCKET}/*", "arn:aws:s3:::other/*"]), base=read)) == {"IAM903"}
    assert rules(compare(target(["arn:aws:s3:::acme-*"]), base=read)) == {"IAM903"}
    conditional = target([f"{BUCKET}/*"])
    conditional["Statement"][1]["Condition"] = {"Bool": {"aws:SecureTransport": "false"}}
    assert rules(compare(conditional, base=read)) == {"IAM903"}


def test_trust_principal_added_external_id_removed_and_both_reverse() -> None:
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}
    assert not compare(documented, TRUST, PolicyKind.TRUST).findings
    added = edited(lambda s: s[0]["Principal"].update(AWS=["arn:aws:iam::999988887777:root", "123456789012"]),
                   documented)
    assert {"IAM905", "IAM907"} == rules(compare(added, TRUST, PolicyKind.TRUST))
    result = compare(added, TRUST, PolicyKind.TRUST, VendorAccount="999988887777")
    assert rules(result) == {"IAM905"}
    principals = result.findings[0].details["added_principals"]
    assert principals == ["AWS:arn:aws:iam::123456789012:root"]
    without = compare(edited(lambda s: s[0].pop("Condition"), documented), TRUST, PolicyKind.TRUST)
    # the same principal without its condition: a condition loosened (IAM904), not a principal added (IAM905)
    assert [(f.rule_id, f.category, f.severity.value, f.message) for f in without.findings] == [
        ("IAM904", "drift-condition-loosened", "high", "the trust lets principals assume the role without "
         "StringEquals sts:ExternalId, which test/reader@1 requires")]
    assert without.findings[0].details["removed_conditions"][0]["key"] == "sts:ExternalId"
    assert without.findings[0].statement is not None and without.findings[0].statement.index == 0
    assert without.verdict.startswith("1 new: 1 trust condition(s) removed or weakened")
    # both: a principal added and the condition dropped
    both = compare(edited(lambda s: (s[0].pop("Condition"), s[0]["Principal"].update(
        AWS=["arn:aws:iam::999988887777:root", "arn:aws:iam::123456789012:root"])), documented),
        TRUST, PolicyKind.TRUST, VendorAccount="999988887777")
    assert sorted((f.rule_id, f.category) for f in both.findings) == [
        ("IAM904", "drift-condition-loosened"), ("IAM905", "drift-trust-widened")]
    everyone = compare(edited(lambda s: s[0].update(Principal="*"), documented), TRUST, PolicyKind.TRUST)
    assert any(f.severity.value == "critical" for f in everyone.findings)
    narrower = compare(edited(lambda s: s[0]["Principal"].update(AWS="arn:aws:iam::999988887777:role/vendor"),
                              documented), TRUST, PolicyKind.TRUST, VendorAccount="999988887777")
    assert rules(narrower) == {"IAM902"}
    assert "more narrowly than test/reader@1 for arn:aws:iam::999988887777:root (principal)" in \
        narrower.findings[0].message


def test_a_condition_enforced_by_a_deny_is_the_condition_carried() -> None:
    """An Allow without the condition and a Deny of the same requests unless it holds (a negated operator, true
    when the key is missing) allow what the Allow with the condition does: no drift either way. It was a high
    IAM904 "without StringEquals sts:ExternalId", and the baseline's Allow was "narrowed" by a Deny that never
    refuses its requests."""
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}
    guarded = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
         "Condition": {"StringNotEquals": {"sts:ExternalId": "abc"}}}]}
    assert not compare(guarded, documented, PolicyKind.TRUST).findings
    assert not compare(documented, guarded, PolicyKind.TRUST).findings
    # another id, or a Deny that does not cover every principal the Allow admits: the condition is not carried
    other_id = edited(lambda s: s[1]["Condition"]["StringNotEquals"].update({"sts:ExternalId": "xyz"}), guarded)
    assert "IAM904" in rules(compare(other_id, documented, PolicyKind.TRUST))
    elsewhere = edited(lambda s: s[1].update(Principal={"AWS": "arn:aws:iam::123456789012:root"}), guarded)
    assert "IAM904" in rules(compare(elsewhere, documented, PolicyKind.TRUST))
    # a Deny of another ExternalId (or of none, IfExists) refuses nothing the documented statement allows
    other = edited(lambda s: s.append({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                                       "Condition": {"StringEqualsIfExists": {"sts:ExternalId": "zzz"}}}), documented)
    assert not compare(other, documented, PolicyKind.TRUST).findings
    # an identity policy: the kms:ViaService condition moved to a Deny of the same action
    moved = edited(lambda s: (s[2].pop("Condition"), s.append(
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})))
    assert not compare(moved).findings
    # a Deny of one key does not carry the condition to the other keys
    partial = edited(lambda s: (s[2].pop("Condition"), s.append(
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:*:*:key/one",
         "Condition": {"StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})))
    assert "IAM904" in rules(compare(partial))


def test_everyone_limited_by_principal_arn_is_the_principals_it_names() -> None:
    """``Principal: "*"`` with ``ArnEquals aws:PrincipalArn`` (the form that survives a role being recreated)
    admits the principals it names: the documented role is no drift (it was a critical IAM905 "admits AWS:*"), a
    pattern admits what it matches, and is reported as that, not as everyone."""
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:role/vendor"},
         "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}

    def by_arn(operator: str, arn: str) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": "abc"}, operator: {"aws:PrincipalArn": arn}}
             if operator != "StringEquals" else
             {"StringEquals": {"sts:ExternalId": "abc", "aws:PrincipalArn": arn}}}]}

    assert not compare(by_arn("ArnEquals", "arn:aws:iam::999988887777:role/vendor"), documented,
                       PolicyKind.TRUST).findings
    assert not compare(by_arn("StringEquals", "arn:aws:iam::999988887777:role/vendor"), documented,
                       PolicyKind.TRUST).findings
    wider = compare(by_arn("ArnLike", "arn:aws:iam::999988887777:role/*"), documented, PolicyKind.TRUST)
    assert [(f.rule_id, f.severity.value, f.details["added_principals"]) for f in wider.findings] == [
        ("IAM905", "high", ["AWS:arn:aws:iam::999988887777:role/*"])]
    # several such conditions: the narrowest, whatever their order
    narrowing = [{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::999988887777:role/*"}},
                 {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::999988887777:role/vendor"}},
                 {"StringEquals": {"aws:PrincipalAccount": "999988887777"}}]
    for first, second in ((0, 1), (1, 0), (2, 1), (1, 2)):
        conditions: dict[str, Any] = {"StringEquals": {"sts:ExternalId": "abc"}}
        for index in (first, second):
            for operator, keys in narrowing[index].items():
                conditions[operator] = {**conditions.get(operator, {}), **keys}
        both = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": conditions}]}
        assert not compare(both, documented, PolicyKind.TRUST).findings, (first, second)
    # all of them hold: an account and a role pattern of any account meet in the role; two that share no principal
    # admit nobody (it was a critical 'admits AWS:*')
    for account, pattern, expected in (("999988887777", "arn:aws:iam::*:role/vendor", set()),
                                       ("111122223333", "arn:aws:iam::999988887777:role/vendor", {"IAM902"})):
        met = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": {
                "StringEquals": {"sts:ExternalId": "abc", "aws:PrincipalAccount": account},
                "ArnLike": {"aws:PrincipalArn": pattern}}}]}
        assert rules(compare(met, documented, PolicyKind.TRUST)) == expected, (account, pattern)


def test_ec2_resource_tag_is_the_global_resource_tag() -> None:
    """EC2 reads ``ec2:ResourceTag/Name`` and ``aws:ResourceTag/Name`` from the same tags (the EC2 guide moved from
    the first to the second): rewriting one as the other is no drift. It was a high IAM904."""
    def fenced(key: str) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ec2:TerminateInstances", "ec2:StartInstances"], "Resource": "*",
             "Condition": {"StringLike": {key: "*upsolver*"}}}]}

    assert not compare(fenced("aws:ResourceTag/Name"), fenced("ec2:ResourceTag/Name")).findings
    assert not compare(fenced("ec2:ResourceTag/Name"), fenced("aws:ResourceTag/Name")).findings
    assert rules(compare(fenced("aws:ResourceTag/Owner"), fenced("ec2:ResourceTag/Name"))) == {"IAM902", "IAM904"}


def test_a_deny_of_another_account_s_principals_narrows_nothing_of_this_one() -> None:
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:role/vendor"},
         "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}
    denied_elsewhere = edited(lambda s: s.append(
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}),
        documented)
    assert not compare(denied_elsewhere, documented, PolicyKind.TRUST).findings
    denied_here = edited(lambda s: s.append(
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}),
        documented)
    assert rules(compare(denied_here, documented, PolicyKind.TRUST)) == {"IAM902"}


def test_everyone_limited_to_an_account_by_condition_is_that_account() -> None:
    """Principal "*" with StringEquals aws:PrincipalAccount admits what the account's root ARN does."""
    def scoped(account: str) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": "abc", "aws:PrincipalAccount": account}}}]}

    assert not compare(scoped("999988887777"), TRUST, PolicyKind.TRUST, VendorAccount="999988887777").findings
    other = compare(scoped("123456789012"), TRUST, PolicyKind.TRUST, VendorAccount="999988887777")
    assert "IAM905" in rules(other)
    assert other.findings[0].details["added_principals"] == ["AWS:arn:aws:iam::123456789012:root"]
    # the role's own account: "*" admits its principals without a grant of their own, as its root ARN does not
    own = normalize_policy(scoped("999988887777"), PolicyKind.TRUST, Source("t.json"),
                           subject=Subject("role", "r", "arn:aws:iam::999988887777:role/r"))
    assert "IAM905" in {f.rule_id for f in compare_policy(baseline(trust=TRUST), own, CATALOG,
                                                          {"VendorAccount": "999988887777"}).findings}
    # a file or template does not say whose it is: the account the comparison binds is its own
    bound = compare(scoped("999988887777"), TRUST, PolicyKind.TRUST, VendorAccount="999988887777")
    assert not bound.findings  # the vendor's account, bound: another account than the policy's
    integration = resolve_baseline("stackstate/integration-role")  # trusts the root of ${AccountId}, its own
    own = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "x", "aws:PrincipalAccount": "111122223333"}}}]}
    result = compare_policy(integration, normalize_policy(own, PolicyKind.TRUST, Source("t.json")), CATALOG,
                            {"AccountId": "111122223333", "ExternalId": "x"})
    # every principal of the account, without a grant of its own: high (not critical: not everyone), and said
    assert [(f.rule_id, f.severity.value) for f in result.findings if f.rule_id == "IAM905"] == [
        ("IAM905", "high")]
    assert "confined by aws:PrincipalAccount to 111122223333" in result.findings[0].message
    unscoped = edited(lambda s: s[0]["Condition"]["StringEquals"].pop("aws:PrincipalAccount"), scoped("1" * 12))
    assert any(f.severity.value == "critical"
               for f in compare(unscoped, TRUST, PolicyKind.TRUST, VendorAccount="999988887777").findings)


def test_for_any_value_on_a_single_valued_key_is_the_plain_operator() -> None:
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}

    def qualified(operator: str) -> dict[str, Any]:
        return edited(lambda s: s[0].update(Condition={operator: {"sts:ExternalId": "abc"}}), documented)

    assert not compare(qualified("ForAnyValue:StringEquals"), TRUST, PolicyKind.TRUST).findings
    # true when the request has no external id at all: weaker than the documented condition
    loosened = rules(compare(qualified("ForAllValues:StringEquals"), TRUST, PolicyKind.TRUST))
    assert "IAM904" in loosened and "IAM905" not in loosened


def test_values_the_vendor_leaves_to_the_customer_are_placeholders() -> None:
    """The page says to put one's own delivery stream in the EventBridge policy, and to trust the agent's IAM user
    or account."""
    own_stream = normalize_policy({"Statement": [{"Effect": "Allow", "Action": ["firehose:PutRecord",
                                                                               "firehose:PutRecordBatch"],
                                                  "Resource": "arn:aws:firehose:us-east-1:111122223333:"
                                                              "deliverystream/acme-events"}]},
                                  PolicyKind.IDENTITY, Source("p.json"))
    result = compare_policy(resolve_baseline("stackstate/eventbridge-role"), own_stream, CATALOG, {})
    assert not result.findings and result.bindings["DeliveryStreamName"] == "acme-events"
    agent_user = normalize_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/stackstate-agent"},
         "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "x1"}}}]},
        PolicyKind.TRUST, Source("t.json"))
    result = compare_policy(resolve_baseline("stackstate/integration-role"), agent_user, CATALOG, {})
    assert {f.rule_id for f in result.findings} == {"IAM902"}  # the user alone: narrower than the account
    assert result.bindings["AgentAccountId"] == "111122223333" and not result.new_access


def _bound_integration(account: str) -> Any:
    """The StackState integration policy as documented, with ``account`` for ${AccountId}."""
    (policy,) = resolve_baseline("stackstate/integration-role").bind({"AccountId": account}).policies
    return policy.document


def compare_export(export: dict[str, Any], **variables: str) -> DriftResult:
    loaded = load_text(json.dumps({**export, "Policies": []}), "export.json", LoadOptions())
    (result,) = drift_loaded(resolve_baseline("stackstate/integration-role"), loaded, catalog=CATALOG,
                             variables=variables)
    return result


def test_one_token_for_two_accounts_binds_per_scope() -> None:
    """The StackState page writes ${AccountId} for the agent's account in the trust and for the resources' account in
    the permissions: an agent in another account than the resources is as documented."""
    export = {"RoleDetailList": [{
        "RoleName": "StackStateAwsIntegrationRole",
        "Arn": "arn:aws:iam::111122223333:role/StackStateAwsIntegrationRole",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::444455556666:root"]}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": "ext-1"}}}]},
        "RolePolicyList": [{"PolicyName": "integration", "PolicyDocument": _bound_integration("111122223333")}],
        "AttachedManagedPolicies": []}]}
    result = compare_export(export)
    assert result.findings == () and not result.new_access, [f.message for f in result.findings]
    assert (result.bindings["AccountId"], result.bindings["AgentAccountId"]) == ("111122223333", "444455556666")
    # bound on the command line, each name binds its own documents only
    pinned = compare_export(export, AccountId="111122223333", AgentAccountId="999988887777")
    assert [(f.rule_id, f.details.get("added_principals")) for f in pinned.findings if f.rule_id == "IAM905"] == [
        ("IAM905", ["AWS:arn:aws:iam::444455556666:root"])]
    assert not [f for f in pinned.findings if f.rule_id in ("IAM901", "IAM903", "IAM907")]


def test_managed_policies_added_and_missing() -> None:
    export = {"RoleDetailList": [{
        "RoleName": "ReaderRole", "Arn": "arn:aws:iam::111122223333:role/ReaderRole",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "RolePolicyList": [{"PolicyName": "reader", "PolicyDocument": READER}],
        "AttachedManagedPolicies": [{"PolicyName": "PowerUserAccess",
                                     "PolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}]}], "Policies": []}
    loaded = load_text(json.dumps(export), "export.json", LoadOptions())
    documented = baseline(READER, managed=("arn:aws:iam::aws:policy/ReadOnlyAccess",))
    (result,) = drift_loaded(documented, loaded, catalog=CATALOG)
    by_detail = {next(k for k in f.details if k.endswith("managed_policies")): f for f in result.findings}
    assert set(by_detail) == {"added_managed_policies", "missing_managed_policies"}
    assert by_detail["added_managed_policies"].severity.value == "high"  # PowerUserAccess: high, as IAM006 says
    assert by_detail["missing_managed_policies"].severity.value == "medium"
    assert result.verdict.startswith("1 new: 1 managed policy")


# --------------------------------------------------------------------------- equivalent rewrites


def test_reordered_statements_are_not_drift() -> None:
    assert not compare(edited(lambda s: s.reverse())).findings


def test_resources_an_action_cannot_be_asked_for_on_grant_it_nothing() -> None:
    """A vendor's statement puts object and bucket actions on both ARNs; the target splits it by resource type,
    or moves an action next to resources of another service: neither grants or drops anything."""
    sloppy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [BUCKET, f"{BUCKET}/*"]},
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "data"}}}]}
    split = edited(lambda s: s.__setitem__(slice(0, 1), [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET}]), sloppy)
    assert not compare(split, sloppy).findings
    assert not compare(sloppy, split).findings
    moved = edited(lambda s: s[0]["Action"].append("ec2:RunInstances"), sloppy)  # without its tag condition
    assert not compare(moved, sloppy).findings
    # the target names s3:GetObject on the bucket alone: it does not allow it at all (not "more narrowly")
    removed = compare(edited(lambda s: s[0].update(Action="s3:GetObject", Resource=BUCKET), split), split)
    assert [(f.rule_id, f.severity.value) for f in removed.findings] == [("IAM902", "medium")]
    assert "does not allow s3:GetObject" in removed.findings[0].message
    # the object ARN does grant object actions: widening it is drift, as before
    assert rules(compare(edited(lambda s: s[0].update(Resource=[BUCKET, "arn:aws:s3:::*/*"]), sloppy), sloppy)) \
        == {"IAM903"}


def test_a_deny_that_leaves_named_resources_grants_only_what_they_can_be_asked_for() -> None:
    """Allow on "*" fenced by a Deny of everything but the bucket and its objects: the account-wide actions are
    denied with the rest, and each action keeps only the resources of its type."""
    fence = {"Effect": "Deny", "Action": "s3:*", "NotResource": [BUCKET, f"{BUCKET}/*"]}
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": [BUCKET, f"{BUCKET}/*"]}]}
    fenced = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, fence]}
    assert not compare(fenced, documented).findings
    split = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET}]}
    fenced = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}, fence]}
    assert not compare(fenced, split).findings


def test_split_statements_are_not_drift() -> None:
    def split(statements: list[dict[str, Any]]) -> None:
        first = statements.pop(0)
        statements += [{**first, "Sid": f"Read{i}", "Action": a} for i, a in enumerate(first["Action"])]
    assert not compare(edited(split)).findings


def test_merged_statements_with_the_same_scope_are_not_drift() -> None:
    base = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"},
        {"Effect": "Allow", "Action": "s3:GetObjectVersion", "Resource": f"{BUCKET}/*"}]}
    assert not compare(edited(lambda s: s.pop(1) and s[0].update(
        Action=["s3:GetObject", "s3:GetObjectVersion"]), base), base=base).findings


def test_other_letter_case_is_not_drift() -> None:
    assert not compare(edited(lambda s: s[0].update(Action=["S3:getobject", "s3:GETOBJECTVERSION"]))).findings


def test_wildcard_expanding_to_exactly_the_baseline_is_not_drift() -> None:
    assert not compare(edited(lambda s: s[0].update(Action="s3:GetObject*Version"
                                                    if False else ["s3:GetObject", "s3:GetObjectV?rsion"]))).findings
    base = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": sorted(CATALOG.display_name(a) for a in CATALOG.expand("firehose:PutRecord*")),
         "Resource": "*"}]}
    assert not compare({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "firehose:PutRecord*", "Resource": "*"}]}, base=base).findings


def test_an_arn_list_written_differently_is_not_drift() -> None:
    base = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"{BUCKET}/a/*", f"{BUCKET}/b/*"]}]}
    rewritten = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"{BUCKET}/b/*", f"{BUCKET}/a/*",
                                                                    f"{BUCKET}/a/*", f"{BUCKET}/a/x*"]}]}
    assert not compare(rewritten, base=base).findings
    stars = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/a/**"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/b/*"}]}
    assert not compare(stars, base=base).findings


def test_account_id_and_root_arn_are_the_same_principal() -> None:
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}
    assert not compare(documented, TRUST, PolicyKind.TRUST).findings


# --------------------------------------------------------------------------- placeholders


def test_bindings_are_inferred_and_reported() -> None:
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}
    result = compare(documented, TRUST, PolicyKind.TRUST)
    assert result.bindings == {"VendorAccount": "999988887777", "ExternalId": "abc"}
    assert "ExternalId=abc (inferred)" in result.verdict


def test_given_vars_win_over_inference() -> None:
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}
    result = compare(documented, TRUST, PolicyKind.TRUST, ExternalId="xyz")
    assert rules(result) == {"IAM904", "IAM902"}  # another external id: the documented condition loosened
    assert "ExternalId=xyz" in result.verdict and "ExternalId=xyz (inferred)" not in result.verdict


def test_a_wildcard_never_binds_a_placeholder() -> None:
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringLike": {"sts:ExternalId": "*"}}}]}
    result = compare(documented, TRUST, PolicyKind.TRUST)
    assert "IAM905" in rules(result) and result.new_access


def test_a_placeholder_with_a_shape_binds_only_values_of_that_shape() -> None:
    """upsolver/connection-trust: the role is Upsolver's (account 428641199958); another account is drift."""
    connection = resolve_baseline("upsolver/connection-trust")

    def trust(principal: str) -> DriftResult:
        document = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": "ABCD1234"}}}]}
        policy = normalize_policy(document, PolicyKind.TRUST, Source("trust.json", json.dumps(document)))
        return compare_policy(connection, policy, CATALOG)

    assert not trust("arn:aws:iam::428641199958:role/upsolver-role-0000").findings
    foreign = trust("arn:aws:iam::999988887777:role/attacker")
    assert rules(foreign) == {"IAM905"} and "UpsolverRoleArn" not in foreign.bindings
    with pytest.raises(DriftError, match="428641199958:role/"):
        compare_policy(connection, normalize_policy({"Statement": []}, PolicyKind.TRUST, Source("t.json")), CATALOG,
                       {"UpsolverRoleArn": "arn:aws:iam::999988887777:role/attacker"}, strict_vars=True)


def test_unrelated_drift_does_not_blame_a_placeholder_with_several_candidates() -> None:
    s3_access = resolve_baseline("upsolver/s3-access")
    bound = s3_access.bind({"OutputBucketName": "acme-out", "InputBucketName": "acme-in", "AccountId": "111122223333"})
    document = json.loads(json.dumps(bound.policies[0].document))
    exact = compare_policy(s3_access, normalize_policy(document, PolicyKind.IDENTITY, Source("p.json")), CATALOG)
    assert not exact.findings and exact.bindings["InputBucketName"] == "acme-in"
    document["Statement"].append({"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"})
    extra = compare_policy(s3_access, normalize_policy(document, PolicyKind.IDENTITY, Source("p.json")), CATALOG)
    assert rules(extra) == {"IAM901"}
    document["Statement"].append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::acme-x/*"})
    third = compare_policy(s3_access, normalize_policy(document, PolicyKind.IDENTITY, Source("p.json")), CATALOG)
    assert "IAM907" in rules(third)


def test_iam_policy_variables_are_not_placeholders() -> None:
    s3_access = resolve_baseline("upsolver/s3-access")
    document = json.loads(json.dumps(s3_access.bind({"OutputBucketName": "out", "InputBucketName": "in",
                                                     "AccountId": "111122223333"}).policies[0].document))
    policy = normalize_policy(document, PolicyKind.IDENTITY, Source("p.json"))
    result = compare_policy(s3_access, policy, CATALOG)
    assert not result.findings
    statement = document["Statement"][3]
    statement["Resource"] = ["arn:aws:iam::111122223333:user/someone"]
    result = compare_policy(s3_access, normalize_policy(document, PolicyKind.IDENTITY, Source("p.json")), CATALOG)
    assert "IAM903" in rules(result)


def test_parse_vars() -> None:
    assert parse_vars(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    with pytest.raises(DriftError):
        parse_vars(["novalue"])


def test_compare_principal_pools_inline_customer_managed_and_group_policies() -> None:
    loaded = load_text((Path(__file__).parents[1] / "fixtures/drift/account-vendors.json").read_text(),
                       "account.json", LoadOptions())
    user = next(p for p in loaded.principals if p.name == "UpsolverUser-etl")
    result = compare_principal(resolve_baseline("upsolver/s3-access"), user, CATALOG)
    assert not result.findings


# --------------------------------------------------------------------------- command line


FIXTURE = str(Path(__file__).parents[1] / "fixtures/drift/account-vendors.json")


def test_drift_command_json_and_exit_codes(tmp_path: Path) -> None:
    result = run_cli("drift", "stackstate/firehose-role", FIXTURE, "--principal", "stackstatefirehoserole-eu-west-1",
                     "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert [f["rule_id"] for f in data["findings"]] == ["IAM901"]
    assert data["summary"]["verdicts"][0]["principal"] == "StackStateFirehoseRole-eu-west-1"
    clean = run_cli("drift", "stackstate/eventbridge-role", FIXTURE, "--principal",
                    "StackStateEventBridgeRole-us-east-1", "--var", "Region=us-east-1")
    assert clean.returncode == 0, clean.stderr
    assert "no new access" in clean.stdout
    policy = tmp_path / "trust.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    assert run_cli("drift", "stackstate/eventbridge-role", str(policy)).returncode == 0
    from_stdin = run_cli("drift", "stackstate/firehose-role", "-", "--principal", "stackstatefirehoserole-eu-west-1",
                         "--format", "json", stdin=Path(FIXTURE).read_text())
    assert from_stdin.returncode == 1, from_stdin.stderr
    assert json.loads(from_stdin.stdout)["findings"][0]["location"]["path"] == "-"


@pytest.mark.parametrize("args", [
    ("drift", "nope/none", FIXTURE),
    ("drift", "stackstate/firehose-role", FIXTURE, "--var", "Nope=1"),
    ("drift", "stackstate/firehose-role", FIXTURE, "--principal", "Missing"),
    ("drift", "stackstate/firehose-role", "/does/not/exist.json"),
    ("baseline", "show", "nope/none"),
    ("check", FIXTURE, "--baseline", "nope/none"),
    ("check", str(Path(FIXTURE).parents[1] / "demo/ci-deploy-policy.json"), "--baseline", "nope/none"),
    ("check", str(Path(FIXTURE).parents[1] / "demo/ci-deploy-policy.json"), "--baseline", "upsolver/server-role@v0"),
    ("check", FIXTURE, "--var", "novalue"),
])
def test_usage_errors_exit_2_with_one_line(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iam-audit: error:"), result.stderr


def test_unknown_baseline_lists_the_known_ids() -> None:
    result = run_cli("baseline", "show", "nope/none")
    assert "upsolver/server-role" in result.stderr and "stackstate/kms-key" in result.stderr


def test_a_baseline_path_that_does_not_exist_is_named_as_a_file() -> None:
    result = run_cli("drift", "/no/such/baseline.yaml", FIXTURE)
    assert result.returncode == 2
    assert result.stderr.strip() == ("iam-audit: error: no such file: /no/such/baseline.yaml (a baseline is a file or "
                                     "a bundled id: iam-audit baseline list)")


def test_drift_json_names_the_catalogue_as_check_does() -> None:
    result = run_cli("drift", "stackstate/firehose-role", FIXTURE, "--principal", "stackstatefirehoserole-eu-west-1",
                     "--format", "json")
    data = json.loads(result.stdout)
    checked = json.loads(run_cli("check", FIXTURE, "--format", "json").stdout)
    assert data["tool"]["catalog"] == checked["tool"]["catalog"] != ""


def test_baseline_list_show_diff() -> None:
    listed = run_cli("baseline", "list", "--format", "json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert len({r["id"] for r in rows}) == 8 and len(rows) == 9
    table = run_cli("baseline", "list")
    assert "upsolver/management-role" in table.stdout and "Upsolver*ServerRole*" in table.stdout
    shown = json.loads(run_cli("baseline", "show", "upsolver/s3-access", "--format", "json").stdout)
    assert shown["ref"] == "upsolver/s3-access@streams"
    assert [p["name"] for p in shown["placeholders"]] == ["OutputBucketName", "InputBucketName", "AccountId"]
    text = run_cli("baseline", "show", "upsolver/management-role@plaintext").stdout
    assert "trust policy:" in text and "<get_from_upsolver>" in text
    diff = run_cli("baseline", "diff", "upsolver/management-role@gitbook", "upsolver/management-role@plaintext")
    assert "+ allow iam:CreateServiceLinkedRole" in diff.stdout


def test_baseline_extract_writes_files(tmp_path: Path) -> None:
    doc = tmp_path / "vendor.md"
    doc.write_text("# Reader role\n\n```json\n" + json.dumps(READER, indent=2) + "\n```\n")
    result = run_cli("baseline", "extract", str(doc), "--output", str(tmp_path / "out"), "--vendor", "acme",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["documents"][0]["written"]
    assert list((tmp_path / "out" / "acme").glob("*.yaml"))


_DOCUMENTED = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", '
               '"s3:ListBucket"], "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]}]}')


def test_a_plain_policy_file_serves_as_the_baseline(tmp_path: Path) -> None:
    documented = tmp_path / "documented.json"
    documented.write_text(_DOCUMENTED)
    same, widened = tmp_path / "same.json", tmp_path / "widened.json"
    same.write_text(_DOCUMENTED.replace('"Resource"', '"Sid": "Read", "Resource"'))
    widened.write_text(_DOCUMENTED.replace('"s3:ListBucket"]', '"s3:ListBucket", "s3:PutObject"]'))
    assert run_cli("drift", str(documented), str(same)).returncode == 0
    result = run_cli("drift", str(documented), str(widened), "--format", "json")
    assert result.returncode == 1, result.stderr
    reported = json.loads(result.stdout)["findings"]
    identifier = "file/" + (tmp_path.resolve() / "documented").as_posix().lstrip("/")  # from the root: not under cwd
    assert [(f["rule_id"], f["baseline"]) for f in reported] == [("IAM901", identifier)]
    assert "s3:PutObject" in reported[0]["message"]
    quiet = run_cli("drift", str(documented), str(widened), "--quiet")
    assert quiet.returncode == 1 and quiet.stdout.splitlines() == [
        f"{widened}:1:{len(_DOCUMENTED.split('[{')[0]) + 2}: high IAM901 drift-action-added allows 1 action(s) that "
        f"{identifier}@file does not: s3:PutObject"]


def test_a_baseline_file_that_is_not_valid_says_where(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"Version": "2012-10-17",\n "Statement": [}')
    result = run_cli("drift", str(broken), FIXTURE)
    assert result.returncode == 2
    assert result.stderr.startswith(f"iam-audit: error: {broken}:2:") and len(result.stderr.splitlines()) == 1


def test_a_target_that_is_not_json_is_a_located_malformed_finding(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text('{"Version": "2012-10-17", "Statement": [')
    result = run_cli("drift", "upsolver/server-role", str(target), "--format", "json")
    assert result.returncode == 1, result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["rule_id"] == "IAM100" and (finding["location"]["line"], finding["location"]["column"]) == (1, 41)


def test_drift_binds_the_configured_vars_the_baseline_names(tmp_path: Path) -> None:
    (tmp_path / ".iam-audit.toml").write_text('[vars]\nUpsolverOrgId = "acme01"\nUnrelated = "x"\n')
    documented = resolve_baseline("upsolver/server-role").bind({"UpsolverOrgId": "acme01"})
    target = tmp_path / "server.json"
    target.write_text(json.dumps(dict(documented.policies[0].document)))
    configured = run_cli("drift", "upsolver/server-role", str(target), "--format", "json", cwd=tmp_path)
    assert configured.returncode in (0, 1), configured.stderr
    verdicts = json.loads(configured.stdout)["summary"]["verdicts"]
    assert "UpsolverOrgId=acme01]" in str(verdicts) and "(inferred)" not in str(verdicts)
    ignored = run_cli("drift", "upsolver/server-role", str(target), "--format", "json", "--no-config", cwd=tmp_path)
    assert "(inferred)" in str(json.loads(ignored.stdout)["summary"]["verdicts"])


def test_an_action_that_takes_no_resource_is_not_widened_by_star(tmp_path: Path) -> None:
    bindings = {"OutputBucketName": "acme-out", "InputBucketName": "acme-in", "AccountId": "111122223333"}
    document = dict(resolve_baseline("upsolver/s3-access").bind(bindings).policies[0].document)
    statements = [dict(s) for s in document["Statement"]]
    assert statements[0]["Action"] == ["s3:ListAllMyBuckets"] and statements[0]["Resource"] == ["arn:aws:s3:::*"]
    statements[0]["Resource"] = "*"  # ListAllMyBuckets is asked for on "*" alone: the same grant
    target = tmp_path / "user.json"
    target.write_text(json.dumps({**document, "Statement": statements}))
    args = [a for name, value in bindings.items() for a in ("--var", f"{name}={value}")]
    result = run_cli("drift", "upsolver/s3-access", str(target), *args, "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)["findings"] == [], result.stdout


def test_a_managed_policy_attached_to_a_users_group_is_the_users_drift(tmp_path: Path) -> None:
    s3_access = resolve_baseline("upsolver/s3-access")
    bound = s3_access.bind({"OutputBucketName": "out-b", "InputBucketName": "in-b", "AccountId": "111122223333"})

    def export(group_managed: list[str]) -> Path:
        data = {
            "UserDetailList": [{"UserName": "UpsolverUser", "Arn": "arn:aws:iam::111122223333:user/UpsolverUser",
                                "GroupList": ["upsolver"], "AttachedManagedPolicies": [], "UserPolicyList": [
                                    {"PolicyName": "s3", "PolicyDocument": bound.policies[0].document}]}],
            "GroupDetailList": [{"GroupName": "upsolver", "Arn": "arn:aws:iam::111122223333:group/upsolver",
                                 "GroupPolicyList": [], "AttachedManagedPolicies": [
                                     {"PolicyName": arn.rsplit("/", 1)[1], "PolicyArn": arn}
                                     for arn in group_managed]}],
            "RoleDetailList": [], "Policies": []}
        path = tmp_path / f"export-{len(group_managed)}.json"
        path.write_text(json.dumps(data))
        return path

    clean = run_cli("drift", "upsolver/s3-access", str(export([])), "-p", "UpsolverUser", "--format", "json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    admin = run_cli("drift", "upsolver/s3-access", str(export(["arn:aws:iam::aws:policy/AdministratorAccess"])),
                    "-p", "UpsolverUser", "--format", "json")
    findings = json.loads(admin.stdout)["findings"]
    assert [(f["rule_id"], f["severity"]) for f in findings] == [("IAM906", "critical")]
    assert "through a group" in findings[0]["message"]


def test_an_added_managed_policy_is_reported_where_it_is_attached(tmp_path: Path) -> None:
    template = tmp_path / "stack.yaml"
    template.write_text("""Resources:
  Connection:
    Type: AWS::IAM::Role
    Properties:
      RoleName: Connection
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: "arn:aws:iam::428641199958:role/upsolver-role-1"}
            Action: sts:AssumeRole
            Condition: {StringEquals: {sts:ExternalId: ABCD1234}}
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/ReadOnlyAccess
        - arn:aws:iam::aws:policy/AdministratorAccess
""")
    result = run_cli("drift", "upsolver/connection-trust", str(template), "-p", "Connection", "--format", "json")
    added = {f["details"]["added_managed_policies"][0]: f["location"]["line"]
             for f in json.loads(result.stdout)["findings"] if f["rule_id"] == "IAM906"}
    assert added == {"arn:aws:iam::aws:policy/ReadOnlyAccess": 14, "arn:aws:iam::aws:policy/AdministratorAccess": 15}


def test_a_chosen_baseline_or_mapping_that_matches_nobody_is_reported_as_not_checked(tmp_path: Path) -> None:
    def not_checked(*args: str) -> list[str]:
        result = run_cli("check", "--format", "json", *args, cwd=tmp_path)
        assert result.returncode in (0, 1), result.stderr
        return list(json.loads(result.stdout)["summary"].get("not_checked", []))

    assert not_checked("--no-config", FIXTURE, "--baseline", "upsolver/connection-trust") == [
        "baseline upsolver/connection-trust@gitbook: no user, group or role of the input matches it (name patterns: "
        "none); map principals to it with [[baselines]] in the configuration"]
    assert not_checked("--no-config", FIXTURE, "--baseline", "upsolver/server-role") == []  # it matches a role
    policy = tmp_path / "policy.json"
    policy.write_text('{"Version": "2012-10-17", "Statement": []}')
    assert not_checked("--no-config", str(policy), "--baseline", "upsolver/s3-access") == [
        "baseline upsolver/s3-access@streams: the input has no user, group or role to compare with it; for a policy "
        "file, run `iam-audit drift upsolver/s3-access FILE`"]
    (tmp_path / ".iam-audit.toml").write_text('[[baselines]]\nprincipal = "UpsolverServerRole"\n'
                                              'baseline = "upsolver/server-role"\n\n[[baselines]]\n'
                                              'principal = "UpsolverServerRl*"\nbaseline = "upsolver/server-role"\n')
    assert not_checked(FIXTURE) == [".iam-audit.toml:5: the baseline mapping 'UpsolverServerRl*' -> "
                                    "upsolver/server-role matches no user, group, role or resource policy of the input"]
    assert not_checked(str(policy)) == []  # no principals at all: a pre-commit run on one policy file


def test_verdicts_name_the_baseline_and_the_file() -> None:
    result = run_cli("check", "--format", "json", "--no-config", FIXTURE)
    verdicts = json.loads(result.stdout)["summary"]["verdicts"]
    assert {v["path"] for v in verdicts} == {"fixtures/drift/account-vendors.json"}  # as findings show it
    assert all(v["verdict"].endswith("]") and f"[{v['baseline']}" in v["verdict"] for v in verdicts)


# ------------------------------------------------------------------ hunt 7: wording and resource baselines


def messages(result: DriftResult) -> list[tuple[str, str, str]]:
    return [(f.rule_id, f.severity.value, f.message) for f in result.findings]


def test_a_weakened_condition_is_named_as_weaker_not_as_missing() -> None:
    wider = compare(edited(lambda s: s[1]["Condition"]["StringLike"].update({"s3:prefix": ["reports/*", "*"]})))
    [(rule, _, message)] = messages(wider)
    assert rule == "IAM904"
    assert message == ('allows s3:ListBucket under a weaker s3:prefix condition (StringLike ["*", "reports/*"]) '
                       'than test/reader@1\'s StringLike ["reports/*"]')
    dropped = compare(edited(lambda s: s[1].pop("Condition")))
    assert messages(dropped)[0][2] == "allows s3:ListBucket without StringLike s3:prefix, which test/reader@1 requires"
    if_exists = compare(edited(lambda s: s[2].update(
        {"Condition": {"StringEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})))
    assert "under a weaker kms:ViaService condition (StringEqualsIfExists" in messages(if_exists)[0][2]


def test_string_equals_ignore_case_is_weaker_not_narrower() -> None:
    target = edited(lambda s: s[0].update({"Principal": {"AWS": "arn:aws:iam::999988887777:root"},
                                           "Condition": {"StringEqualsIgnoreCase": {"sts:ExternalId": "Ab12"}}}),
                    TRUST)
    result = compare(target, TRUST, PolicyKind.TRUST, VendorAccount="999988887777", ExternalId="Ab12")
    assert [(rule, severity) for rule, severity, _ in messages(result)] == [("IAM904", "high")]  # no IAM902
    assert "under a weaker sts:ExternalId condition (StringEqualsIgnoreCase" in messages(result)[0][2]


def test_a_deny_that_refuses_a_documented_action_everywhere_removes_it() -> None:
    denied = compare(edited(lambda s: s.append({"Effect": "Deny", "Action": "s3:GetObjectVersion", "Resource": "*"})))
    [(rule, severity, message)] = messages(denied)
    assert (rule, severity) == ("IAM902", "medium")  # as if it were left out of the Allow: the integration breaks
    assert message.startswith("the target denies s3:GetObjectVersion wherever test/reader@1 grants it")
    assert denied.findings[0].statement is not None and denied.findings[0].statement.index == 3
    partly = compare(edited(lambda s: s.append({"Effect": "Deny", "Action": "s3:GetObjectVersion",
                                                "Resource": f"{BUCKET}/private/*"})))
    assert [(rule, severity) for rule, severity, _ in messages(partly)] == [("IAM902", "low")]  # more narrowly


def test_a_principal_added_to_a_resource_policy_statement_is_named_with_its_actions() -> None:
    key = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "ViaS3", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]}
    documented = Baseline(id="test/key", revision="1", default=True, title="key", vendor="test",
                          principal=PrincipalSpec("resource", ("alias/test-key",)), provenance=Provenance("test"),
                          policies=(BaselinePolicy("key", "resource", key),))

    def drift_of(target: dict[str, Any]) -> list[tuple[str, str, str]]:
        policy = normalize_policy(target, PolicyKind.RESOURCE, Source("key.json", json.dumps(target)))
        return messages(compare_policy(documented, policy, CATALOG))

    added_action = copy.deepcopy(key)
    added_action["Statement"][1]["Action"] = ["kms:Decrypt", "kms:CreateGrant"]
    assert drift_of(added_action) == [("IAM905", "critical", "the policy admits AWS:* to kms:CreateGrant, which "
                                                             "test/key@1 does not")]
    added_account = copy.deepcopy(key)
    added_account["Statement"].append({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                                       "Action": "kms:Decrypt", "Resource": "*"})
    [(rule, _, message)] = drift_of(added_account)
    assert rule == "IAM904" and "kms:Decrypt to AWS:arn:aws:iam::444455556666:root without" in message


def test_of_two_documented_trusts_the_closer_one_names_only_what_neither_admits() -> None:
    ec2 = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    documented = dataclasses.replace(baseline(READER, TRUST), alternative_trust_policies=(
        BaselinePolicy("ec2", "trust", ec2),))
    target = copy.deepcopy(ec2)
    target["Statement"][0]["Principal"]["Service"] = ["ec2.amazonaws.com", "lambda.amazonaws.com"]
    policy = normalize_policy(target, PolicyKind.TRUST, Source("trust.json", json.dumps(target)))
    result = compare_policy(documented, policy, CATALOG)
    assert messages(result) == [("IAM905", "high", "the trust admits Service:lambda.amazonaws.com, which "
                                                  "test/reader@1 does not")]


KMS_ACCOUNT, KMS_REGION = "111122223333", "us-east-1"


def _kms_key_policy(drop_via_service: bool) -> dict[str, Any]:
    key = resolve_baseline("stackstate/kms-key").bind({"AccountId": KMS_ACCOUNT, "Region": KMS_REGION})
    document = copy.deepcopy(dict(key.policies[0].document))
    if drop_via_service:
        for statement in document["Statement"]:
            if statement.get("Sid") == "AllowS3Access":
                statement.pop("Condition")
    return document


def _kms_key_inputs(tmp_path: Path, drop_via_service: bool) -> list[Path]:
    """The vendor's key, with its alias, as a CloudFormation template, a Terraform file and an account export."""
    document = _kms_key_policy(drop_via_service)
    template = tmp_path / "key.template.json"
    template.write_text(json.dumps({"Resources": {
        "IntegrationKey": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": document}},
        "IntegrationAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": "alias/stackstate-integration", "TargetKeyId": {"Ref": "IntegrationKey"}}}}}, indent=2))
    terraform = tmp_path / "key.tf"
    terraform.write_text('resource "aws_kms_key" "integration" {\n  policy = jsonencode('
                         + json.dumps(document, indent=2) + ')\n}\n\nresource "aws_kms_alias" "integration" {\n'
                         '  name          = "alias/stackstate-integration"\n'
                         '  target_key_id = aws_kms_key.integration.key_id\n}\n')
    export = tmp_path / "account.json"
    export.write_text(json.dumps({"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": [],
                                  "ResourcePolicies": [{
                                      "service": "kms", "name": "alias/stackstate-integration", "region": KMS_REGION,
                                      "arn": f"arn:aws:kms:{KMS_REGION}:{KMS_ACCOUNT}:key/1234abcd",
                                      "policy": document}]}, indent=2))
    return [template, terraform, export]


def test_check_compares_a_vendor_key_policy_with_its_resource_baseline_in_every_shape(tmp_path: Path) -> None:
    for drop_via_service in (False, True):
        folder = tmp_path / str(drop_via_service)
        folder.mkdir()
        inputs = [str(p) for p in _kms_key_inputs(folder, drop_via_service)]
        result = run_cli("check", "--format", "json", "--no-config", "--select", "drift-condition-loosened", *inputs)
        report = json.loads(result.stdout)
        assert {v["path"] for v in report["summary"]["verdicts"]} == set(inputs), result.stderr
        assert all(v["baseline"] == "stackstate/kms-key@5.1" for v in report["summary"]["verdicts"])
        loosened = {f["location"]["path"] for f in report["findings"] if f["rule_id"] == "IAM904"}
        assert loosened == (set(inputs) if drop_via_service else set()), report["findings"]
        assert all(v["verdict"].startswith("9 new" if drop_via_service else "no new access")
                   for v in report["summary"]["verdicts"])


def test_drift_takes_a_key_policy_inside_a_template_terraform_or_export(tmp_path: Path) -> None:
    for target in _kms_key_inputs(tmp_path, drop_via_service=True):
        extra = ("-p", "alias/stackstate-integration") if target.name == "account.json" else ()
        result = run_cli("drift", "stackstate/kms-key", str(target), *extra, "--format", "json", "--no-config")
        assert result.returncode == 1, result.stderr
        assert {f["rule_id"] for f in json.loads(result.stdout)["findings"]} == {"IAM904"}
    wrong = run_cli("drift", "stackstate/kms-key", str(tmp_path / "account.json"), "-p", "alias/other", "--no-config")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == ("iam-audit: error: no resource of TARGET is named 'alias/other' (it has: "
                                    "alias/stackstate-integration)")


def test_an_account_placeholder_the_target_does_not_show_takes_the_principals_account() -> None:
    eventbridge = resolve_baseline("stackstate/eventbridge-role")
    widened = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": "*"}]}
    export = {"UserDetailList": [], "GroupDetailList": [], "Policies": [], "RoleDetailList": [{
        "RoleName": "StackStateEventBridgeRole-eu-west-1", "Arn": "arn:aws:iam::444455556666:role/x",
        "AttachedManagedPolicies": [], "RolePolicyList": [{"PolicyName": "eventbridge", "PolicyDocument": widened}],
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}]}
    loaded = load_text(json.dumps(export), "account.json", LoadOptions())
    [result] = drift_loaded(eventbridge, loaded, catalog=CATALOG)
    [widening] = [f for f in result.findings if f.rule_id == "IAM903"]
    assert ":444455556666:deliverystream/" in widening.message and "${AccountId}" not in widening.message
    assert result.bindings["AccountId"] == "444455556666" and "AccountId" in result.inferred


@pytest.mark.parametrize(("external_id", "expected"), [
    ("<get_from_upsolver>", ["IAM908"]),  # the placeholder itself: the vendor never sends it
    ("Q9XK2M7P", []),
])
def test_a_trust_that_keeps_the_documentation_s_placeholder_is_reported(external_id: str,
                                                                         expected: list[str]) -> None:
    """The comparison matched (the placeholder bound to itself), so drift said nothing; check says IAM032."""
    older = resolve_baseline("upsolver/management-role@plaintext")
    trust = older.bind({"ExternalId": external_id}).trust_policies[0].document
    policy = normalize_policy(json.loads(json.dumps(trust, default=dict)), PolicyKind.TRUST,
                              Source("trust.json", json.dumps(trust, default=dict)))
    result = compare_policy(older, policy, CATALOG, {})
    assert [f.rule_id for f in result.findings] == expected
    assert result.new_access is bool(expected)


def test_a_placeholder_written_as_a_policy_variable_kept_in_the_trust_is_reported() -> None:
    """``${ExternalId}`` looks like a policy variable, which never binds a placeholder; its own token does."""
    integration = resolve_baseline("stackstate/integration-role")
    trust = json.loads(json.dumps(integration.bind({"AgentAccountId": "444455556666"}).trust_policies[0].document,
                                  default=dict))
    assert trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] == "${ExternalId}"
    policy = normalize_policy(trust, PolicyKind.TRUST, Source("trust.json", json.dumps(trust)))
    result = compare_policy(integration, policy, CATALOG, {})
    assert [f.rule_id for f in result.findings] == ["IAM908"] and result.new_access
    assert result.findings[0].message.startswith("ExternalId is ${ExternalId}, the placeholder")
    trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = "${aws:username}"
    variable = normalize_policy(trust, PolicyKind.TRUST, Source("trust.json", json.dumps(trust)))
    assert "ExternalId" not in compare_policy(integration, variable, CATALOG, {}).inferred


def test_a_role_that_follows_another_revision_of_the_vendor_document_is_told_so(tmp_path: Path) -> None:
    older = resolve_baseline("upsolver/management-role@plaintext")
    # the documentation's example ExternalId would be IAM908: an id of the customer's own
    bound = older.bind({p.name: "Q9XK2M7P" if p.name == "ExternalId" else p.example
                        for p in older.placeholders if p.example})
    role = {"RoleName": "UpsolverManagementRole", "Arn": "arn:aws:iam::111122223333:role/UpsolverManagementRole",
            "AttachedManagedPolicies": [],
            "RolePolicyList": [{"PolicyName": p.name, "PolicyDocument": p.document} for p in bound.policies],
            "AssumeRolePolicyDocument": bound.trust_policies[0].document}
    export = tmp_path / "account.json"
    export.write_text(json.dumps({"UserDetailList": [], "GroupDetailList": [], "Policies": [],
                                  "RoleDetailList": [role]}, default=dict))
    result = run_cli("check", "--format", "json", "--no-config", str(export))
    [verdict] = json.loads(result.stdout)["summary"]["verdicts"]
    assert verdict["baseline"] == "upsolver/management-role@gitbook"  # the default revision
    assert verdict["verdict"].endswith("; it matches upsolver/management-role@plaintext (another revision of the "
                                       "vendor's document)"), verdict


def test_naming_the_key_where_the_vendor_named_its_alias_is_the_documented_correction() -> None:
    firehose = resolve_baseline("stackstate/firehose-role").bind({"AccountId": "111122223333", "Region": "us-east-1"})
    document = copy.deepcopy(dict(firehose.policies[0].document))
    key_arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    [kms] = [s for s in document["Statement"] if any(str(a).startswith("kms:") for a in s["Action"])]
    kms["Resource"] = key_arn
    policy = normalize_policy(document, PolicyKind.IDENTITY, Source("firehose.json", json.dumps(document)))
    result = compare_policy(firehose, policy, CATALOG)
    [(rule, severity, message)] = messages(result)  # no IAM902: on an alias ARN the baseline granted nothing
    assert (rule, severity) == ("IAM903", "low")
    assert "the baseline names a KMS alias ARN, which IAM never matches for these actions" in message
    kms["Resource"] = "*"
    policy = normalize_policy(document, PolicyKind.IDENTITY, Source("firehose.json", json.dumps(document)))
    assert [(r, s) for r, s, _ in messages(compare_policy(firehose, policy, CATALOG))] == [("IAM903", "high")]
    # keys of every account, or the key without the documented conditions, are more than the correction
    for resource, condition in (("arn:aws:kms:*:*:key/*", kms["Condition"]), (key_arn, None)):
        changed = copy.deepcopy(document)
        [statement] = [s for s in changed["Statement"] if any(str(a).startswith("kms:") for a in s["Action"])]
        statement["Resource"] = resource
        if condition is None:
            statement.pop("Condition")
        policy = normalize_policy(changed, PolicyKind.IDENTITY, Source("firehose.json", json.dumps(changed)))
        assert [(r, s) for r, s, _ in messages(compare_policy(firehose, policy, CATALOG))] == [("IAM903", "high")]
    # any key that carries the alias, the correction AWS recommends (it was high, without naming the condition);
    # another alias, or ForAllValues (true for a key with no alias at all), is not
    for operator, alias, expected in (("ForAnyValue:StringEquals", "alias/stackstate-integration", "low"),
                                      ("ForAnyValue:StringEquals", "alias/other", "high"),
                                      ("ForAllValues:StringEquals", "alias/stackstate-integration", "high")):
        changed = copy.deepcopy(document)
        [statement] = [s for s in changed["Statement"] if any(str(a).startswith("kms:") for a in s["Action"])]
        statement["Resource"] = "*"
        statement["Condition"] = {**statement["Condition"], operator: {"kms:ResourceAliases": alias}}
        policy = normalize_policy(changed, PolicyKind.IDENTITY, Source("firehose.json", json.dumps(changed)))
        [(rule, severity, message)] = messages(compare_policy(firehose, policy, CATALOG))
        assert (rule, severity) == ("IAM903", expected), (operator, alias)
        assert ("kms:ResourceAliases" in message) is (expected == "low")


def test_cloudformation_pseudo_parameters_stand_for_the_account_and_region_placeholders(tmp_path: Path) -> None:
    key = resolve_baseline("stackstate/kms-key")
    document = json.loads(json.dumps(dict(key.policies[0].document)).replace("${AccountId}", "${AWS::AccountId}")
                          .replace("${Region}", "${AWS::Region}"))

    def sub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: sub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [sub(item) for item in node]
        return {"Fn::Sub": node} if isinstance(node, str) and "${AWS::" in node else node

    subbed = sub(document)
    template = tmp_path / "key.json"
    template.write_text(json.dumps({"Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": subbed}},
        "Alias": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/stackstate-integration",
                                                             "TargetKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}}}}))
    result = run_cli("check", "--format", "json", "--no-config", str(template), cwd=tmp_path)
    report = json.loads(result.stdout)
    assert not [f for f in report["findings"] if f["rule_id"].startswith("IAM9")], report["findings"]
    [verdict] = report["summary"]["verdicts"]
    assert verdict["verdict"].startswith("no new access") and "AccountId={{AWS::AccountId}} (inferred)" in \
        verdict["verdict"]


def test_a_plan_names_its_key_by_the_alias_the_configuration_points_at_it() -> None:
    plan = str(Path(__file__).parents[1] / "fixtures/loaders/terraform-plan-kms.json")
    result = run_cli("check", "--format", "json", "--no-config", plan)
    report = json.loads(result.stdout)
    [verdict] = report["summary"]["verdicts"]
    assert (verdict["principal"], verdict["aliases"], verdict["baseline"]) == (
        "aws_kms_key.integration", ["alias/stackstate-integration"], "stackstate/kms-key@5.1")
    assert "IAM904" in {f["rule_id"] for f in report["findings"]}  # AWS:* without kms:ViaService


def test_not_checked_notes_for_a_resource_baseline_name_resources(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"Version": "2012-10-17", "Statement": []}')
    result = run_cli("check", "--format", "json", "--no-config", str(policy), "--baseline", "stackstate/kms-key",
                     cwd=tmp_path)
    assert json.loads(result.stdout)["summary"]["not_checked"] == [
        "baseline stackstate/kms-key@5.1: the input has no resource policy to compare with it; for a policy file, "
        "run `iam-audit drift stackstate/kms-key FILE`"]
    export = tmp_path / "account.json"
    export.write_text(json.dumps({"ResourcePolicies": [{"service": "kms", "name": "alias/other", "arn": "arn:aws:kms:"
                                                        "us-east-1:111122223333:key/1", "policy": {
                                                            "Version": "2012-10-17", "Statement": []}}]}))
    (tmp_path / ".iam-audit.toml").write_text('[[baselines]]\nprincipal = "NoSuchRole*"\n'
                                              'baseline = "upsolver/server-role"\n')
    result = run_cli("check", "--format", "json", str(export), "--baseline", "stackstate/kms-key",
                     "--baseline", "upsolver/server-role", cwd=tmp_path)
    assert json.loads(result.stdout)["summary"]["not_checked"] == [
        "baseline stackstate/kms-key@5.1: no resource policy of the input matches it (name patterns: "
        "alias/stackstate-integration); map resources to it with [[baselines]] in the configuration",
        "baseline upsolver/server-role@gitbook: the input has no user, group or role to compare with it; for a policy "
        "file, run `iam-audit drift upsolver/server-role FILE`",
        ".iam-audit.toml:1: the baseline mapping 'NoSuchRole*' -> upsolver/server-role matches no user, group, role "
        "or resource policy of the input"]


_DEPLOY_NAMED_ROLE = {
    "cloudformation.yaml": """\
Resources:
  IntegrationRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "acme-integration-${AWS::Region}"
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {AWS: "arn:aws:iam::111122223333:root"}, Action: "sts:AssumeRole",
             Condition: {StringEquals: {"sts:ExternalId": "abc"}}}
""",
    "main.tf": """\
resource "aws_iam_role" "integration" {
  name = "acme-integration-${var.region}"
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Principal = { AWS = "arn:aws:iam::111122223333:root" },
                   Action = "sts:AssumeRole", Condition = { StringEquals = { "sts:ExternalId" = "abc" } } }]
  })
}
""",
}


def test_a_trust_that_lost_its_external_id_and_gained_an_account_is_compared_with_the_documented_trust() -> None:
    """Compared with the EC2 alternative (which it shares nothing with, one gap each way) instead of the documented
    trust (two gaps, none the other way): an IAM905 said the documented account was not admitted, and no IAM904."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": [
        "arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"]}, "Action": "sts:AssumeRole"}]}
    result = compare_export({"RoleDetailList": [{
        "RoleName": "StackStateAwsIntegrationRole",
        "Arn": "arn:aws:iam::111122223333:role/StackStateAwsIntegrationRole", "AssumeRolePolicyDocument": trust,
        "RolePolicyList": [{"PolicyName": "integration", "PolicyDocument": _bound_integration("111122223333")}],
        "AttachedManagedPolicies": []}]}, AgentAccountId="111122223333")
    assert sorted((f.rule_id, f.details.get("added_principals")) for f in result.findings) == [
        ("IAM904", None), ("IAM905", ["AWS:arn:aws:iam::444455556666:root"])]


@pytest.mark.parametrize(("file_name", "alias"), [("cloudformation.yaml", "IntegrationRole"),
                                                   ("main.tf", "aws_iam_role.integration")])
def test_a_mapping_names_a_role_by_its_logical_id_or_address(tmp_path: Path, file_name: str, alias: str) -> None:
    """A role named at deploy time (acme-integration-{{...}}) is still the one its template calls IntegrationRole."""
    (tmp_path / file_name).write_text(_DEPLOY_NAMED_ROLE[file_name])
    (tmp_path / ".iam-audit.toml").write_text(f'[[baselines]]\nprincipal = "{alias}"\n'
                                              'baseline = "stackstate/integration-role"\n')
    report = json.loads(run_cli("check", "--format", "json", file_name, cwd=tmp_path).stdout)
    [verdict] = report["summary"]["verdicts"]
    assert (verdict["baseline"], verdict["aliases"]) == ("stackstate/integration-role@5.1", [alias])
    assert verdict["verdict"].startswith("no new access")
    assert not [note for note in report["summary"].get("not_checked", []) if "baseline mapping" in note]


def test_a_condition_with_another_value_is_named_as_other_not_weaker() -> None:
    other = compare(edited(lambda s: s[1]["Condition"]["StringLike"].update({"s3:prefix": ["exports/*"]})))
    [(rule, _, message), narrower] = messages(other)  # and the documented prefix is no longer allowed: IAM902
    assert narrower[0] == "IAM902"
    assert rule == "IAM904" and message == (
        'allows s3:ListBucket under another s3:prefix condition (StringLike ["exports/*"]) than test/reader@1\'s '
        'StringLike ["reports/*"], which admits requests the documented one does not')


def test_a_condition_operator_written_in_lower_case_is_the_same_operator() -> None:
    from auditor.model import PolicyKind
    from auditor.normalize import normalize_policy
    from auditor.source import Source

    conditions = {"forallvalues:stringlikeifexists": {"aws:TagKeys": "a*"},
                  "stringequals": {"aws:PrincipalTag/team": "x"}, "Bogus": {"aws:PrincipalTag/team": "x"}}
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                                        "Condition": conditions}]}
    policy = normalize_policy(document, PolicyKind.IDENTITY, Source("p.json"))
    assert [(c.operator, c.written_operator) for c in policy.statements[0].conditions] == [
        ("ForAllValues:StringLikeIfExists", "forallvalues:stringlikeifexists"), ("StringEquals", "stringequals"),
        ("Bogus", "")]  # IAM rejects all three: IAM408 reports them, the checks read the first two as meant



@pytest.mark.parametrize(("name_in_policy", "drifts"), [("UpsolverUser", False), ("someone-else", True)])
def test_the_users_own_name_in_place_of_aws_username_is_the_documented_resource(
        tmp_path: Path, name_in_policy: str, drifts: bool) -> None:
    bound = resolve_baseline("upsolver/s3-access").bind(
        {"OutputBucketName": "out-b", "InputBucketName": "in-b", "AccountId": "111122223333"})
    document = json.loads(json.dumps(bound.policies[0].document).replace("${aws:username}", name_in_policy))
    assert name_in_policy in json.dumps(document), "the baseline is meant to scope a statement to ${aws:username}"
    target = tmp_path / "account.json"
    target.write_text(json.dumps({"UserDetailList": [{
        "UserName": "UpsolverUser", "Arn": "arn:aws:iam::111122223333:user/UpsolverUser", "GroupList": [],
        "AttachedManagedPolicies": [], "UserPolicyList": [{"PolicyName": "s3", "PolicyDocument": document}]}]}))
    result = run_cli("drift", "upsolver/s3-access", str(target), "-p", "UpsolverUser", "--format", "json",
                     "--no-config")
    assert bool(json.loads(result.stdout)["findings"]) is drifts, result.stdout


def test_two_bucket_placeholders_bind_to_two_buckets_when_one_grant_widens(tmp_path: Path) -> None:
    values = {"OutputBucketName": "acme-out", "InputBucketName": "acme-in", "AccountId": "111122223333"}
    document = json.loads(json.dumps(resolve_baseline("upsolver/s3-access").bind(values).policies[0].document))
    reads = [s for s in document["Statement"] if any("acme-in" in r for r in s["Resource"])]
    assert reads, "the baseline is meant to have a statement on the input bucket"
    reads[0]["Action"] = ["s3:*"]  # the input bucket, read-only in the documentation, now writable too
    target = tmp_path / "user.json"
    target.write_text(json.dumps(document))
    result = run_cli("drift", "upsolver/s3-access", str(target), "--format", "json", "--no-config")
    data = json.loads(result.stdout)
    assert [f["rule_id"] for f in data["findings"]] == ["IAM903"], data["findings"]  # no IAM907 either
    assert all("acme-in" in r for r in data["findings"][0]["details"]["target_resources"])
    assert "InputBucketName=acme-in" in str(data["summary"]["verdicts"])


@pytest.mark.parametrize(("managed", "boundary", "severity"), [
    ("AdministratorAccess", False, "critical"), ("PowerUserAccess", False, "high"),
    ("AdministratorAccess", True, "medium"), ("PowerUserAccess+PassRole", False, "critical")])
def test_an_added_managed_policy_weighs_as_iam006_does(tmp_path: Path, managed: str, boundary: bool,
                                                     severity: str) -> None:
    """PowerUserAccess beside iam:PassRole on every role is administrator access: critical, as IAM006 says (hunt51:
    IAM906 stayed high)."""
    managed, _, with_passrole = managed.partition("+")
    bound = resolve_baseline("upsolver/s3-access").bind(
        {"OutputBucketName": "out-b", "InputBucketName": "in-b", "AccountId": "111122223333"})
    passrole = [{"PolicyName": "pass", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}}] if with_passrole else []
    user: dict[str, Any] = {
        "UserName": "UpsolverUser", "Arn": "arn:aws:iam::111122223333:user/UpsolverUser", "GroupList": [],
        "UserPolicyList": [{"PolicyName": "s3", "PolicyDocument": bound.policies[0].document}, *passrole],
        "AttachedManagedPolicies": [{"PolicyName": managed, "PolicyArn": f"arn:aws:iam::aws:policy/{managed}"}]}
    policies = []
    if boundary:
        user["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy",
                                       "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/B"}
        policies.append({"PolicyName": "B", "Arn": "arn:aws:iam::111122223333:policy/B", "DefaultVersionId": "v1",
                         "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": {
                             "Version": "2012-10-17",
                             "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}]})
    target = tmp_path / "account.json"
    target.write_text(json.dumps({"UserDetailList": [user], "Policies": policies}))
    result = run_cli("drift", "upsolver/s3-access", str(target), "-p", "UpsolverUser", "--format", "json",
                     "--no-config")
    found = [f for f in json.loads(result.stdout)["findings"] if f["rule_id"] == "IAM906"]
    assert [f["severity"] for f in found] == [severity], found


@pytest.mark.parametrize(("granted", "limit", "expected"), [
    # a policy on everything, the boundary exactly the documented one: IAM grants what both allow, no more
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"}], READER["Statement"], set()),
    # the documented policy, a boundary without KMS: the role lost kms:Decrypt
    (READER["Statement"], [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}], {"IAM902"}),
    # the boundary allows everything: as if there were none
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"}], [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
     {"IAM901", "IAM903", "IAM904"}),
])
def test_drift_compares_what_the_policies_grant_within_the_permissions_boundary(
        granted: list[dict[str, Any]], limit: list[dict[str, Any]], expected: set[str]) -> None:
    """Drift judged the policies alone: AdministratorAccess-like grants under a boundary that is the documented
    policy were 22,117 actions added (high), while check's IAM001 said the boundary allows less; a boundary that
    cuts the documented grant was nothing."""
    role = {"RoleName": "ReaderRole", "Arn": "arn:aws:iam::111122223333:role/ReaderRole", "AttachedManagedPolicies": [],
            "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": granted}}],
            "PermissionsBoundary": {"PermissionsBoundaryType": "Policy",
                                    "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/B"}}
    boundary = {"PolicyName": "B", "Arn": "arn:aws:iam::111122223333:policy/B", "DefaultVersionId": "v1",
                "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": {
                    "Version": "2012-10-17", "Statement": limit}}]}
    loaded = load_text(json.dumps({"RoleDetailList": [role], "Policies": [boundary]}), "account.json", LoadOptions())
    [principal] = loaded.principals
    assert rules(compare_principal(baseline(READER), principal, CATALOG, {})) == expected


def test_a_boundary_of_everything_but_the_documented_bucket_cuts_the_grant_there() -> None:
    """``Allow s3:* NotResource bucket/*`` as the boundary of a role granted s3:GetObject on ``*``: IAM grants it
    everywhere but the documented bucket. It was read as ``*``: a widening "on *", and the cut not reported."""
    role = {"RoleName": "ReaderRole", "Arn": "arn:aws:iam::111122223333:role/ReaderRole", "AttachedManagedPolicies": [],
            "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": "*"}]}}],
            "PermissionsBoundary": {"PermissionsBoundaryType": "Policy",
                                    "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/B"}}
    boundary = {"PolicyName": "B", "Arn": "arn:aws:iam::111122223333:policy/B", "DefaultVersionId": "v1",
                "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": {
                    "Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/*"}]}}]}
    loaded = load_text(json.dumps({"RoleDetailList": [role], "Policies": [boundary]}), "account.json", LoadOptions())
    [principal] = loaded.principals
    documented = {"Version": "2012-10-17", "Statement": READER["Statement"][:1]}
    found = {f.rule_id: f for f in compare_principal(baseline(documented), principal, CATALOG, {}).findings}
    assert set(found) == {"IAM902", "IAM903"}
    assert found["IAM903"].details["target_resources"] == [f"NotResource {BUCKET}/*"]


def test_a_boundary_not_in_the_input_is_named_in_the_verdict() -> None:
    """One whose document the input lacks is not weighed, and the verdict says so."""
    def principal(boundary: list[dict[str, Any]] | None) -> Any:
        role = {"RoleName": "ReaderRole", "Arn": "arn:aws:iam::111122223333:role/ReaderRole",
                "AttachedManagedPolicies": [], "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": {
                    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}],
                "PermissionsBoundary": {"PermissionsBoundaryType": "Policy",
                                        "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/B"}}
        policies = [] if boundary is None else [{
            "PolicyName": "B", "Arn": "arn:aws:iam::111122223333:policy/B", "DefaultVersionId": "v1",
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": {
                "Version": "2012-10-17", "Statement": boundary}}]}]
        loaded = load_text(json.dumps({"RoleDetailList": [role], "Policies": policies}), "account.json",
                           LoadOptions())
        return loaded.principals[0]

    missing = compare_principal(baseline(READER), principal(None), CATALOG, {})
    assert "permissions boundary arn:aws:iam::111122223333:policy/B not weighed: its document is not in the " \
           "input" in missing.verdict


@pytest.mark.parametrize(("resource", "expected"), [
    ("arn:*:iam::*:role/*", set()),  # every role: all iam:PassRole can be asked for on
    ("arn:aws:iam::*:role/*", set()),  # of the policy's own partition
    ("arn:aws:iam::*:role/app-*", {"IAM902"}),  # some roles only
])
def test_a_pattern_naming_every_resource_of_the_action_is_star(resource: str, expected: set[str]) -> None:
    """iam:PassRole is only ever asked for on a role: "*" grants it no more than every role's ARN does. It was a
    low IAM902 'more narrowly', and a Deny on every instance did not carry its condition to TerminateInstances on
    "*" (a high IAM904)."""
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/Owner": "vendor"}}}]}
    target = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": resource},
        {"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*"},
        {"Effect": "Deny", "Action": "ec2:TerminateInstances", "Resource": "arn:aws:ec2:*:*:instance/*",
         "Condition": {"StringNotEquals": {"aws:ResourceTag/Owner": "vendor"}}}]}
    assert rules(compare(target, documented)) == expected


def test_drift_exits_by_the_configured_fail_on_unless_the_command_line_says(tmp_path: Path) -> None:
    documented = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}]}
    real = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::reports/*"}]}
    (tmp_path / "documented.json").write_text(json.dumps(documented))
    (tmp_path / "real.json").write_text(json.dumps(real))

    def exit_code(*args: str) -> int:
        result = run_cli("drift", "documented.json", "real.json", "-q", *args, cwd=tmp_path)
        assert "IAM901" in result.stdout, result.stdout + result.stderr
        return result.returncode

    assert exit_code() == 1  # high, at the default fail-on
    (tmp_path / ".iam-audit.toml").write_text('fail-on = "critical"\n')
    assert exit_code() == 0
    assert exit_code("--fail-on", "high") == 1
    assert exit_code("--no-config") == 1


@pytest.mark.parametrize("kind", ["boundary", "organization"])
def test_drift_kind_accepts_the_kinds_its_help_lists(tmp_path: Path, kind: str) -> None:
    """--kind organization was accepted, then failed with "documents no organization policy to compare"."""
    scp = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}
    (tmp_path / "scp.json").write_text(json.dumps(scp))
    assert run_cli("drift", "scp.json", "scp.json", "--kind", "identity", "-q", cwd=tmp_path).returncode == 0
    refused = run_cli("drift", "scp.json", "scp.json", "--kind", kind, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == f"iam-audit: error: --kind: {kind!r} is not one of identity, resource, trust\n"


def test_a_role_mapped_to_two_baselines_is_compared_with_what_either_documents() -> None:
    """Upsolver Cloud: one role holds the server and the management role's policies. Each baseline alone reported
    the other's actions as added (hunt51: 9 drift findings, high); together they document the role."""
    folder = FIXTURES / "drift" / "upsolver-cloud-role"
    result = run_cli("check", "--format", "json", "account.json", cwd=folder)
    data = json.loads(result.stdout)
    assert [f["rule_id"] for f in data["findings"] if f["rule_id"].startswith("IAM9")] == []
    (verdict,) = data["summary"]["verdicts"]
    assert verdict["baseline"] == "upsolver/server-role@gitbook + upsolver/management-role@gitbook"
    assert verdict["verdict"].startswith("no new access")


def test_a_placeholder_is_not_bound_from_an_exclusion_or_a_null_test(tmp_path: Path) -> None:
    """``NotResource .../deliverystream/other`` does not make ``other`` the documented stream, and ``Null
    {sts:ExternalId: false}`` does not make ``false`` the external id (hunt51: wrong messages, and an IAM902 saying
    the target grants the documented stream more narrowly though it grants it)."""
    target = tmp_path / "eventbridge.json"
    target.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
        "NotResource": "arn:aws:firehose:eu-west-1:111122223333:deliverystream/other"}]}))
    result = run_cli("drift", "stackstate/eventbridge-role", str(target), "--format", "json", "--no-config")
    found = json.loads(result.stdout)["findings"]
    assert [f["rule_id"] for f in found] == ["IAM903"]
    assert "deliverystream/stackstate-eventbridge-stream" in found[0]["message"]
    result = run_cli("check", "--format", "json", "--no-config",
                     str(FIXTURES / "drift" / "integration-role-null-external-id.json"))
    drift = [f for f in json.loads(result.stdout)["findings"] if f["rule_id"].startswith("IAM9")]
    assert [f["rule_id"] for f in drift] == ["IAM904"]
    assert 'StringEquals ["${ExternalId}"]' in drift[0]["message"]


def test_a_trust_in_everyone_confined_to_accounts_is_not_everyone(tmp_path: Path) -> None:
    """``Principal: "*"`` with ``aws:PrincipalAccount`` is every principal of that account, not everyone: high, and
    the message says so (hunt51: critical, "admits AWS:*")."""
    document = json.loads((FIXTURES / "drift" / "integration-role-null-external-id.json").read_text())
    role = document["RoleDetailList"][0]
    role["AssumeRolePolicyDocument"] = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "ss-ext-7781", "aws:PrincipalAccount": "111122223333"}}}]}
    target = tmp_path / "account.json"
    target.write_text(json.dumps(document))  # the role's own account: its principals with an identity grant
    result = run_cli("check", "--format", "json", "--no-config", str(target))
    (widened,) = [f for f in json.loads(result.stdout)["findings"] if f["rule_id"] == "IAM905"]
    assert widened["severity"] == "high"
    assert "AWS:* (confined by aws:PrincipalAccount to 111122223333)" in widened["message"]


UPSOLVER_MODULE = '''
resource "aws_iam_role" "upsolver_server" {
  name = "UpsolverServerRole"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }] })
}
resource "aws_iam_role_policy" "server" {
  role = aws_iam_role.upsolver_server.id
  policy = jsonencode({ Version = "2012-10-17", Statement = [
    { Sid = "upsolverBucketAccess", Effect = "Allow", Action = ["s3:*"],
      Resource = ["arn:aws:s3:::us-east-1-upsolver-ORG", "arn:aws:s3:::us-east-1-upsolver-ORG/*"] },
    { Sid = "listStreams", Effect = "Allow", Action = ["kinesis:ListStreams"], Resource = ["*"] },
    { Sid = "upsolverManagedStream", Effect = "Allow", Action = ["kinesis:*"],
      Resource = ["arn:aws:kinesis:*:*:stream/upsolver_*"] } ] })
}
'''


@pytest.mark.parametrize(("org", "widened"), [("${var.upsolver_org_id}", False), ("acme02", True)])
def test_a_value_the_template_decides_is_compared_as_the_one_given(org: str, widened: bool) -> None:
    """The README's mapping vars (UpsolverOrgId = "acme01") beside Terraform's ${var.upsolver_org_id}: the bucket was
    high IAM903 'wider' and IAM902 'narrower' at once (hunt57); a different literal stays drift."""
    loaded = load_text(UPSOLVER_MODULE.replace("ORG", org), "main.tf", LoadOptions())
    (result,) = drift_loaded(resolve_baseline("upsolver/server-role"), loaded, catalog=CATALOG,
                             variables={"UpsolverOrgId": "acme01"})
    assert ("IAM903" in rules(result)) == widened
    if not widened:
        assert "UpsolverOrgId=acme01 (the target's {{var.upsolver_org_id}}, once deployed)" in result.verdict
        assert not {f.rule_id for f in result.findings if f.rule_id in ("IAM902", "IAM903")
                    and "upsolverBucketAccess" in f.message}


def test_what_a_documented_managed_policy_grants_is_no_addition() -> None:
    """Upsolver documents AmazonAthenaFullAccess beside its inline policy: glue:GetTable added inline is within it
    (hunt57: a medium IAM901 that blocked a commit); dynamodb:DeleteTable is not."""
    extra = ('resource "aws_iam_role_policy" "extra" {\n  role = aws_iam_role.upsolver_server.id\n'
             '  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = '
             '[ACTIONS], Resource = "*" }] })\n}\n')
    for actions, added in (('"glue:GetTable", "glue:GetDatabase"', set()),
                           ('"glue:GetTable", "dynamodb:DeleteTable"', {"dynamodb:DeleteTable"})):
        module = UPSOLVER_MODULE.replace("ORG", "acme01") + extra.replace("ACTIONS", actions)
        (result,) = drift_loaded(resolve_baseline("upsolver/server-role"), load_text(module, "main.tf", LoadOptions()),
                                 catalog=CATALOG)
        reported = {a["action"] for f in result.findings if f.rule_id == "IAM901" for a in f.details["added_actions"]}
        assert reported == added
