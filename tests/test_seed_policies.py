"""The vendor-documented policies themselves, linted: the mistakes and risks the issue names are found."""

from __future__ import annotations

from auditor.baselines import Baseline, load_bundled_baselines
from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, run_rules
from auditor.loaders.result import LoadResult
from auditor.model import Finding, PolicyKind
from auditor.normalize import normalize_policy
from auditor.source import Source


def lint(baseline: Baseline) -> list[Finding]:
    loaded = LoadResult(files=1)
    for policy in baseline.all_policies:
        loaded.policies.append(normalize_policy(dict(policy.document), PolicyKind(policy.kind),
                                                Source(baseline.ref), label=policy.name))
    return run_rules(loaded, all_rules(), CheckContext(load_catalog()))


def test_s3_list_object_is_unknown_with_real_suggestions() -> None:
    findings = lint(load_bundled_baselines().get("upsolver/s3-access"))
    unknown = [f for f in findings if f.rule_id == "IAM201"]
    assert [f.details["action"] for f in unknown] == ["s3:ListObject"]
    assert "s3:ListBucket" in unknown[0].details["suggestions"]


def test_management_role_pass_role_with_run_instances_is_escalation_despite_tag_condition() -> None:
    baselines = load_bundled_baselines()
    for ref in ("upsolver/management-role@gitbook", "upsolver/management-role@plaintext"):
        findings = lint(baselines.get(ref))
        escalations = [f for f in findings if f.rule_id == "IAM012"]
        assert any({"iam:passrole", "ec2:runinstances"} <= {a.lower() for a in _actions(f)} for f in escalations), ref


def test_stackstate_kms_key_policy_is_public() -> None:
    findings = lint(load_bundled_baselines().get("stackstate/kms-key"))
    assert any(f.rule_id == "IAM030" for f in findings)


def test_firehose_kms_actions_on_an_alias_are_a_resource_mismatch() -> None:
    findings = lint(load_bundled_baselines().get("stackstate/firehose-role"))
    mismatches = [f for f in findings if f.rule_id == "IAM301"]
    assert mismatches and any("alias" in f.message for f in mismatches)


def _actions(finding: Finding) -> list[str]:
    details = finding.details
    actions = details.get("actions") or details.get("required_actions") or []
    if isinstance(actions, dict):
        return list(actions)
    return [a if isinstance(a, str) else a.get("action", "") for a in actions]
