"""Terraform configuration in JSON syntax (.tf.json, CDK for Terraform's cdk.tf.json): read as the .tf loader
reads HCL, findings at the lines of the file's JSON values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, run_rules
from auditor.loaders import LoadOptions, load_paths, load_text
from auditor.loaders.result import LoadResult
from auditor.model import Finding, PolicyKind
from tests.conftest import FIXTURES, run_json

TERRAFORM_JSON = FIXTURES / "loaders" / "terraform_json"
RULES = all_rules()
NO_IAM = "no IAM policy (no Terraform resource that holds one, nor an aws_iam_policy_document data source)"


def findings(loaded: LoadResult) -> list[Finding]:
    return run_rules(loaded, RULES, CheckContext(load_catalog()))


def rules_at(loaded: LoadResult) -> set[tuple[str, int, int]]:
    return {(f.rule_id, f.location.line, f.location.column) for f in findings(loaded)}


def load_tf_json(text: str, **options: int) -> LoadResult:
    return load_text(text, "main.tf.json", LoadOptions(**options))  # type: ignore[arg-type]


def fixture(name: str) -> LoadResult:
    return load_paths([str(TERRAFORM_JSON / name)])


def position_of(path: Path, needle: str) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8")
    offset = text.index(needle)
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cdk.tf.json", {("IAM003", 58, 26), ("IAM001", 84, 19)}),
        ("reports-role.tf.json", {("IAM031", 16, 31), ("IAM201", 40, 19)}),
        ("list-form.tf.json", {("IAM030", 38, 33)}),
    ],
)
def test_rule_ids_and_positions_of_each_fixture(name: str, expected: set[tuple[str, int, int]]) -> None:
    assert rules_at(fixture(name)) == expected


def test_positions_are_those_of_the_offending_json() -> None:
    path = TERRAFORM_JSON / "cdk.tf.json"
    by_rule = {f.rule_id: f for f in findings(load_paths([str(path)]))}
    # a policy written as a JSON string: at the string; a data source's element: at its value
    assert (by_rule["IAM001"].location.line, by_rule["IAM001"].location.column) == position_of(
        path, '"{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[{\\"Sid\\":\\"Operate\\"')
    assert (by_rule["IAM003"].location.line, by_rule["IAM003"].location.column) == position_of(
        path, '[\n              "*"')
    path = TERRAFORM_JSON / "list-form.tf.json"
    (public,) = findings(load_paths([str(path)]))
    assert (public.location.line, public.location.column) == position_of(path, '{\n                    "type": "*"')


def test_role_becomes_a_principal_with_its_trust_and_inline_policies() -> None:
    loaded = load_paths([str(TERRAFORM_JSON / "reports-role.tf.json"), str(TERRAFORM_JSON / "cdk.tf.json")])
    roles = {principal.name: principal for principal in loaded.principals}
    assert set(roles) == {"reports-reader", "uploads-processor"}
    reports = roles["reports-reader"]
    assert reports.trust_policy is not None and reports.trust_policy.kind is PolicyKind.TRUST
    # inline_policy blocks, then an aws_iam_role_policy naming the role by its literal name
    assert [p.label for p in reports.inline_policies] == [
        "inline:read-reports", "inline:decrypt", "aws_iam_role_policy.reports_listing.policy"]
    processor = roles["uploads-processor"]
    # trust from "${data.aws_iam_policy_document.x.json}", a policy attached by "${aws_iam_role.processor.name}"
    assert processor.trust_policy is not None and processor.trust_policy.kind is PolicyKind.TRUST
    assert [(p.type, p.value) for p in processor.trust_policy.statements[0].principals or ()] == [
        ("Service", "lambda.amazonaws.com")]
    assert [p.label for p in processor.inline_policies] == ["aws_iam_role_policy.processor_permissions.policy"]
    assert processor.location().line == position_of(TERRAFORM_JSON / "cdk.tf.json", '"processor": {')[0]
    assert loaded.counts["roles"] == 2


def test_interpolations_become_placeholders_and_policy_variables_are_kept() -> None:
    loaded = load_paths([str(TERRAFORM_JSON / name) for name in ("reports-role.tf.json", "cdk.tf.json")])
    by_label = {policy.label: policy for policy in loaded.policies}
    assert by_label["inline:read-reports"].statements[0].resources == (
        "arn:aws:s3:::{{var.reports_bucket}}", "arn:aws:s3:::{{var.reports_bucket}}/${aws:username}/*")
    assert by_label["inline:decrypt"].statements[0].resources == ("{{var.reports_key_arn}}",)
    assert by_label["aws_iam_user_policy.uploader.policy"].statements[0].resources == (
        "arn:aws:s3:::{{var.reports_bucket}}/incoming/*",)
    permissions = by_label["aws_iam_role_policy.processor_permissions.policy"]
    assert permissions.statements[0].resources == ("{{aws_s3_bucket.uploads.arn}}/incoming/*",)
    assert [s.sid for s in permissions.statements] == ["ReadWriteUploads", "PassAnyRole"]


def test_blocks_given_as_lists_of_objects() -> None:
    (policy,) = fixture("list-form.tf.json").policies
    assert policy.label == "aws_s3_bucket_policy.assets.policy" and policy.kind is PolicyKind.RESOURCE
    public, tls_only = policy.statements
    assert [(p.type, p.value) for p in public.principals or ()] == [("*", "*")]
    assert public.resources == ("{{aws_s3_bucket.assets.arn}}/*",)
    assert (tls_only.effect, tls_only.actions) == ("Deny", ("s3:*",))
    assert {(c.operator, c.key, c.values) for c in tls_only.conditions} == {
        ("Bool", "aws:SecureTransport", ("false",))}


def test_policy_document_data_source_renders_as_the_provider_does() -> None:
    text = '''{
  "data": {
    "aws_iam_policy_document": {
      "doc": {
        "//": "comment properties are not attributes",
        "policy_id": "shared-bucket",
        "statement": [
          {
            "sid": "Everyone",
            "actions": ["s3:GetObject"],
            "resources": ["arn:aws:s3:::b/&{aws:username}/*", "arn:aws:s3:::b/$${literal}"],
            "principals": {"type": "*", "identifiers": ["*"]},
            "condition": [
              {"test": "StringEquals", "variable": "aws:PrincipalOrgID", "values": ["o-a1b2c3d4e5"]},
              {"test": "StringEquals", "variable": "aws:PrincipalOrgID", "values": ["o-f6g7h8i9j0"]},
              {"test": "NumericLessThan", "variable": "aws:MultiFactorAuthAge", "values": [3600]}
            ]
          },
          {
            "effect": "Deny",
            "not_actions": ["s3:GetObject"],
            "not_resources": ["arn:aws:s3:::b/public/*"],
            "not_principals": [{"type": "AWS", "identifiers": ["arn:aws:iam::111122223333:root"]}],
            "principals": [
              {"type": "AWS", "identifiers": ["arn:aws:iam::444455556666:root"]},
              {"type": "AWS", "identifiers": ["arn:aws:iam::777788889999:root"]}
            ]
          }
        ]
      }
    }
  }
}
'''
    loaded = load_tf_json(text)
    (policy,) = loaded.policies
    assert policy.kind is PolicyKind.RESOURCE and policy.policy_id == "shared-bucket" and policy.version == "2012-10-17"
    allow, deny = policy.statements
    assert (allow.sid, allow.effect, allow.actions) == ("Everyone", "Allow", ("s3:GetObject",))
    assert allow.resources == ("arn:aws:s3:::b/${aws:username}/*", "arn:aws:s3:::b/${literal}")
    assert [(p.type, p.value) for p in allow.principals or ()] == [("*", "*")]
    assert {(c.operator, c.key, c.values) for c in allow.conditions} == {
        ("StringEquals", "aws:PrincipalOrgID", ("o-a1b2c3d4e5", "o-f6g7h8i9j0")),
        ("NumericLessThan", "aws:MultiFactorAuthAge", ("3600",)),
    }
    assert (deny.effect, deny.not_actions, deny.not_resources) == ("Deny", ("s3:GetObject",),
                                                                    ("arn:aws:s3:::b/public/*",))
    assert [p.value for p in deny.principals or ()] == ["arn:aws:iam::444455556666:root",
                                                        "arn:aws:iam::777788889999:root"]
    assert [p.value for p in deny.not_principals or ()] == ["arn:aws:iam::111122223333:root"]
    lines = text.splitlines()
    assert policy.location(deny.principals[1].pointer).line == next(  # type: ignore[index]
        number for number, line in enumerate(lines, 1) if "777788889999" in line)
    assert policy.location(allow.conditions[0].pointer).line == next(
        number for number, line in enumerate(lines, 1) if "o-a1b2c3d4e5" in line)
    assert policy.location(deny.pointer).line == lines.index("          {", 10) + 1


def test_policies_built_by_terraform_are_listed_as_not_checked() -> None:
    loaded = fixture("unresolved.tf.json")
    where = "fixtures/loaders/terraform_json/unresolved.tf.json"
    read = ("iam-audit reads a .tf.json policy written as JSON text or as an aws_iam_policy_document data source of "
            "the same file; the plan from terraform show -json has the value")
    assert loaded.not_checked == [
        f'{where}: aws_iam_policy.encoded.policy = ${{jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect '
        f'= "Allow", Action …: not checked ({read})',
        f'{where}: aws_iam_policy.from_file.policy = ${{file("${{path.module}}/policies/from-file.json")}}: not '
        f"checked ({read})",
        f"{where}: aws_iam_policy.assembled.policy: is JSON built with interpolations outside its strings: not "
        "checked",
        f"{where}: aws_iam_role_policy.shared.policy = ${{data.aws_iam_policy_document.shared.json}}: not checked "
        "(the data source is not in this file)",
        f'{where}: data.aws_iam_policy_document.per_queue: dynamic "statement" at line 30: not checked (its '
        "statements are made when Terraform runs)",
    ]
    assert [policy.label for policy in loaded.policies] == ["data.aws_iam_policy_document.per_queue"]
    assert not loaded.skipped and not findings(loaded)


def test_actions_terraform_decides_are_listed_as_not_checked() -> None:
    loaded = load_tf_json('''{"data": {"aws_iam_policy_document": {"d": {"statement": [
        {"actions": ["s3:GetObject", "${var.extra}"], "resources": ["*"]}]}}}}''')
    assert loaded.not_checked == [
        "main.tf.json: data.aws_iam_policy_document.d: statement 0 Action {{var.extra}} is known only when "
        "Terraform runs (the plan, terraform show -json, has the value)"]
    assert [policy.label for policy in loaded.policies] == ["data.aws_iam_policy_document.d"]


def test_statement_or_policy_whose_shape_terraform_decides_is_not_checked() -> None:
    loaded = load_tf_json('''{
  "data": {
    "aws_iam_policy_document": {
      "by_variable": {
        "statement": [
          {
            "actions": ["s3:GetObject"],
            "resources": ["*"],
            "principals": {"type": "${var.principal_type}", "identifiers": ["arn:aws:iam::111122223333:root"]}
          },
          {"actions": ["s3:GetObjekt"], "resources": ["arn:aws:s3:::b/*"]}
        ]
      }
    }
  },
  "resource": {
    "aws_iam_policy": {"as_object": {"policy": {"Version": "2012-10-17", "Statement": []}}}
  }
}
''')
    assert loaded.not_checked == [
        "main.tf.json: aws_iam_policy.as_object.policy: is an object: not checked (Terraform takes a policy as a "
        "string of JSON)",
        "main.tf.json: data.aws_iam_policy_document.by_variable: statement at line 6: its Principal has the key "
        "var.principal_type: not checked",
    ]
    (policy,) = loaded.policies
    assert len(policy.statements) == 1 and policy.statements[0].pointer.endswith("/Statement/0")
    assert rules_at(loaded) == {("IAM201", 11, 24)}  # the list item, not the list


def test_syntax_errors_are_located() -> None:
    loaded = fixture("broken.tf.json")
    ((_, problem),) = loaded.document_problems
    assert (problem.rule, problem.message, problem.line, problem.column) == (
        "syntax-error", "expecting ',' delimiter", 9, 5)
    assert not loaded.policies and not loaded.skipped
    loaded = load_tf_json('{\n  "resource": {\n    "aws_iam_policy": {\n      "p": {\n'
                          '        "policy": "{\\"Version\\": \\"2012-10-17\\" \\"Statement\\": []}"\n      }\n    }\n'
                          '  }\n}\n')
    ((_, problem),) = loaded.document_problems
    assert problem.rule == "syntax-error"
    assert problem.message.startswith("aws_iam_policy.p.policy is not a JSON policy document: expecting ','")
    assert (problem.line, problem.column) == (5, 19)
    assert rules_at(loaded) == {("IAM100", 5, 19)}


def test_file_without_iam_is_skipped_with_a_reason_and_standard_input_stays_json() -> None:
    path = TERRAFORM_JSON / "network.tf.json"
    loaded = load_paths([str(path)])
    assert loaded.files == 1 and not loaded.policies and not loaded.document_problems
    assert loaded.skipped == [("fixtures/loaders/terraform_json/network.tf.json", NO_IAM)]
    from_stdin = load_text(path.read_text(encoding="utf-8"), "-", LoadOptions())
    assert from_stdin.skipped == [("-", "not an IAM policy (top-level keys: //, resource)")]


def test_max_statements_applies_to_terraform_json_policies() -> None:
    statements = ", ".join(f'{{\\"Effect\\": \\"Allow\\", \\"Action\\": \\"s3:GetObject\\", \\"Resource\\": '
                           f'\\"arn:aws:s3:::b{i}/*\\"}}' for i in range(3))
    loaded = load_tf_json(f'{{"resource": {{"aws_iam_policy": {{"many": {{"policy": "{{\\"Version\\": '
                          f'\\"2012-10-17\\", \\"Statement\\": [{statements}]}}"}}}}}}}}', max_statements=2)
    (policy,) = loaded.policies
    assert len(policy.statements) == 2
    assert loaded.not_checked == ["main.tf.json (aws_iam_policy.many.policy): statements after the first 2 of 3 "
                                  "(over --max-statements)"]


def test_check_command_on_the_terraform_json_folder() -> None:
    code, report = run_json("fixtures/loaders/terraform_json")
    assert code == 1
    found = {(f["rule_id"], f["location"]["path"].rsplit("/", 1)[-1], f["location"]["line"])
             for f in report["findings"]}
    assert found == {
        ("IAM100", "broken.tf.json", 9), ("IAM003", "cdk.tf.json", 58), ("IAM001", "cdk.tf.json", 84),
        ("IAM030", "list-form.tf.json", 38), ("IAM031", "reports-role.tf.json", 16),
        ("IAM201", "reports-role.tf.json", 40),
    }
    summary = report["summary"]
    assert summary["files"] == 6 and summary["policies"] == 10
    assert [entry["path"] for entry in summary["skipped"]] == ["fixtures/loaders/terraform_json/network.tf.json"]
    assert len(summary["not_checked"]) == 5


def test_policies_held_in_the_resource_itself_are_read_and_unknown_ones_listed() -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]})
    text = json.dumps({"resource": {"aws_s3_bucket": {"legacy": {"bucket": "legacy", "policy": document}},
                                    "aws_vpclattice_auth_policy": {"s3": {"resource_identifier": "svc-1",
                                                                          "policy": document}},
                                    "aws_vpc_endpoint": {"s3": {"vpc_id": "vpc-1", "policy": document}}}})
    loaded = load_text(text, "main.tf.json", LoadOptions())
    assert [(p.label, p.kind.value) for p in loaded.policies] == [("aws_s3_bucket.legacy.policy", "resource"),
                                                                  ("aws_vpc_endpoint.s3.policy", "endpoint")]
    assert loaded.not_checked == ["main.tf.json: aws_vpclattice_auth_policy.s3.policy: a policy document iam-audit "
                                  "does not read for aws_vpclattice_auth_policy: not checked"]


def test_dynamic_conditions_of_a_statement_are_listed_as_not_checked() -> None:
    text = json.dumps({"data": {"aws_iam_policy_document": {"b": {"statement": [{
        "actions": ["s3:PutObject"], "resources": ["arn:aws:s3:::b/*"],
        "principals": [{"type": "*", "identifiers": ["*"]}],
        "dynamic": {"condition": {"for_each": "${var.org_ids}", "content": {
            "test": "StringEquals", "variable": "aws:PrincipalOrgID", "values": ["${condition.value}"]}}}}]}}}},
        indent=2)
    line = next(number for number, written in enumerate(text.splitlines(), 1) if '"condition"' in written)
    loaded = load_text(text, "main.tf.json", LoadOptions())
    assert [s.actions for s in loaded.policies[0].statements] == [("s3:PutObject",)]
    assert loaded.not_checked == [
        f'main.tf.json: data.aws_iam_policy_document.b: dynamic "condition" at line {line}: not checked (its '
        "conditions are made when Terraform runs; the statement is checked as if none narrowed it)"]


def test_a_deny_with_dynamic_conditions_is_left_out_rather_than_checked_as_refusing_everything() -> None:
    text = json.dumps({"data": {"aws_iam_policy_document": {"ci": {"statement": [
        {"actions": ["iam:PassRole"], "resources": ["*"]},
        {"effect": "Deny", "actions": ["iam:PassRole"], "resources": ["*"],
         "dynamic": {"condition": {"for_each": "${var.regions}", "content": {
             "test": "StringNotEquals", "variable": "aws:RequestedRegion", "values": "${var.regions}"}}}}]}}}},
        indent=2)
    line = next(number for number, written in enumerate(text.splitlines(), 1) if '"condition"' in written)
    loaded = load_tf_json(text)
    assert [s.effect for s in loaded.policies[0].statements] == ["Allow"]
    assert loaded.not_checked == [
        f'main.tf.json: data.aws_iam_policy_document.ci: dynamic "condition" at line {line}: its statement is not '
        "checked (its conditions are made when Terraform runs; a Deny checked as if none narrowed it would cancel "
        "grants it may leave in place)"]


def test_an_empty_string_is_no_policy_for_a_resource_that_is_not_a_policy_but_an_error_for_a_policy() -> None:
    loaded = load_tf_json(json.dumps({"resource": {
        "aws_s3_bucket": {"site": {"bucket": "site", "policy": ""}},
        "aws_secretsmanager_secret": {"s": {"policy": ""}},
        "aws_sns_topic": {"t": {"policy": ""}},
        "aws_iam_policy": {"p": {"policy": ""}}}}))
    assert loaded.policies == []
    assert [problem.message.split(":")[0] for _, problem in loaded.document_problems] == [
        "aws_iam_policy.p.policy is not a JSON policy document"]


TRUST_JSON = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": '
              '"ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')


def test_a_name_terraform_interpolates_is_the_principals_name_and_chooses_its_baseline() -> None:
    from auditor.drift import matching_baselines, select_baselines

    loaded = load_tf_json(json.dumps({"resource": {"aws_iam_role": {
        "server": {"name": "UpsolverServerRole-${var.region}", "assume_role_policy": TRUST_JSON},
        "prefixed": {"name_prefix": "UpsolverServerRole-", "assume_role_policy": TRUST_JSON},
        "variable": {"name": "${var.role_name}", "assume_role_policy": TRUST_JSON},
        "other": {"name": "Other-${var.region}", "assume_role_policy": TRUST_JSON}}}}))
    baselines = select_baselines()
    chosen = {p.name: [b.id for b in matching_baselines(p, baselines)] for p in loaded.principals}
    assert chosen == {"UpsolverServerRole-{{var.region}}": ["upsolver/server-role"],
                      "UpsolverServerRole-{{unique suffix}}": ["upsolver/server-role"],
                      "{{var.role_name}}": [], "Other-{{var.region}}": []}


def test_a_plan_names_a_role_by_its_prefix_when_the_name_is_known_only_after_apply(tmp_path: Path) -> None:
    def role(address: str, values: dict[str, object]) -> dict[str, object]:
        return {"address": address, "mode": "managed", "type": "aws_iam_role", "name": address.split(".")[1],
                "values": {"assume_role_policy": TRUST_JSON, **values}}

    plan = {"format_version": "1.2", "planned_values": {"root_module": {"resources": [
        role("aws_iam_role.named", {"name": "UpsolverServerRole-us-east-1"}),
        role("aws_iam_role.prefixed", {"name_prefix": "UpsolverServerRole-"}),
        role("aws_iam_role.later", {}),
        role("aws_iam_role.generated", {})]}},
        "resource_changes": [{"address": f"aws_iam_role.{name}", "change": {"after_unknown": {"name": True}}}
                             for name in ("prefixed", "later", "generated")],
        "configuration": {"root_module": {"resources": [
            {"address": "aws_iam_role.prefixed", "expressions": {"name_prefix": {"constant_value": "x"}}},
            {"address": "aws_iam_role.later", "expressions": {"name": {"references": ["random_id.x.hex"]}}},
            {"address": "aws_iam_role.generated", "expressions": {}}]}}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    assert sorted(p.name for p in load_paths([str(path)]).principals) == [
        "UpsolverServerRole-us-east-1", "UpsolverServerRole-{{unique suffix}}", "aws_iam_role.generated",
        "{{aws_iam_role.later.name}}"]


def test_permissions_boundary_in_json_configuration_and_in_a_plan() -> None:
    """The boundary of a role bounds it in every Terraform input, as in an export."""
    from auditor.loaders import LoadOptions, load_text

    configuration = load_tf_json(json.dumps({"resource": {
        "aws_iam_policy": {"boundary": {"name": "b", "policy": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})}},
        "aws_iam_role": {"app": {"name": "app", "assume_role_policy": TRUST_JSON,
                                 "permissions_boundary": "${aws_iam_policy.boundary.arn}"}}}}))
    [app] = configuration.principals
    assert app.permissions_boundary is not None and app.permissions_boundary.boundary_only
    plan = {"format_version": "1.2", "planned_values": {"root_module": {"resources": [
        {"address": "aws_iam_role.app", "mode": "managed", "type": "aws_iam_role", "name": "app",
         "values": {"name": "app", "assume_role_policy": TRUST_JSON,
                    "permissions_boundary": "arn:aws:iam::aws:policy/PowerUserAccess"}}]}}}
    [planned] = load_text(json.dumps(plan), "plan.json", LoadOptions()).principals
    assert planned.missing_boundary_arn == "arn:aws:iam::aws:policy/PowerUserAccess"


def test_a_conditional_stands_for_both_results() -> None:
    """Every expression of a .tf.json file is an interpolation: a conditional there was one literal string."""
    loaded = load_tf_json(json.dumps({"data": {"aws_iam_policy_document": {"read": {"statement": [
        {"actions": ["s3:GetObject"], "resources": ['${var.public ? "*" : "arn:aws:s3:::b/*"}']}]}}}}))
    assert loaded.policies[0].statements[0].resources == ("*",)  # the bucket's objects: within "*"
    assert "IAM021" in {f.rule_id for f in findings(loaded)}


def test_a_policy_passed_to_a_module_is_checked() -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}]})
    loaded = load_tf_json(json.dumps({"module": {"bucket": {"source": "./bucket", "policy": document}}}))
    assert [p.label for p in loaded.policies] == ["module.bucket.policy"]
    assert "IAM030" in {f.rule_id for f in findings(loaded)}
