"""Terraform configuration (.tf): policies in HCL become the normal form, and findings carry the file's lines."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.engine import CheckContext, run_rules
from auditor.loaders import POLICY_SUFFIXES, LoadOptions, load_paths, load_text
from auditor.loaders.result import LoadResult
from auditor.model import Finding, PolicyKind
from auditor.result_cache import RACY_NANOSECONDS
from tests.conftest import FIXTURES, REPO, run_cli, run_json

TERRAFORM = FIXTURES / "loaders" / "terraform"
RULES = all_rules()


def findings(loaded: LoadResult) -> list[Finding]:
    return run_rules(loaded, RULES, CheckContext(load_catalog()))


def rules_at(loaded: LoadResult) -> set[tuple[str, int, int]]:
    return {(f.rule_id, f.location.line, f.location.column) for f in findings(loaded)}


def load_tf(text: str, **options: int) -> LoadResult:
    return load_text(text, "main.tf", LoadOptions(**options))  # type: ignore[arg-type]


def position_of(path: Path, needle: str) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8")
    offset = text.index(needle)
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("admin-policy.tf", {("IAM001", 9, 7)}),
        ("reports-user.tf", {("IAM201", 17, 22)}),
        ("public-bucket.tf", {("IAM030", 12, 19)}),
        ("ci-role.tf", {("IAM031", 10, 22), ("IAM033", 29, 5), ("IAM003", 46, 17), ("IAM012", 49, 3)}),
        ("worker-role.tf", {("IAM012", 23, 9), ("IAM002", 25, 22), ("IAM003", 26, 22), ("IAM020", 26, 22),
                            ("IAM022", 26, 22)}),
        ("broken.tf", {("IAM100", 9, 9)}),
        ("least-privilege.tf", set()),
        ("unresolved.tf", set()),
        ("network.tf", set()),
        ("conditional.tf", {("IAM003", 10, 17), ("IAM021", 10, 17), ("IAM001", 23, 18)}),
    ],
)
def test_rule_ids_and_positions_of_each_fixture(fixture: str, expected: set[tuple[str, int, int]]) -> None:
    assert rules_at(load_paths([str(TERRAFORM / fixture)])) == expected


def test_positions_are_those_of_the_offending_hcl() -> None:
    path = TERRAFORM / "reports-user.tf"
    (finding,) = findings(load_paths([str(path)]))
    assert (finding.location.line, finding.location.column) == position_of(path, '"s3:GetObjekt"')
    path = TERRAFORM / "ci-role.tf"
    by_rule = {f.rule_id: f for f in findings(load_paths([str(path)]))}
    assert (by_rule["IAM003"].location.line, by_rule["IAM003"].location.column) == position_of(path, '["*"]')
    assert by_rule["IAM012"].location.line == position_of(path, 'sid       = "DeployFunctions"')[0] - 1


def test_role_becomes_a_principal_with_its_trust_and_inline_policies() -> None:
    loaded = load_paths([str(TERRAFORM / "ci-role.tf"), str(TERRAFORM / "worker-role.tf")])
    roles = {principal.name: principal for principal in loaded.principals}
    assert set(roles) == {"ci-deploy", "queue-worker"}
    ci = roles["ci-deploy"]
    assert ci.trust_policy is not None and ci.trust_policy.kind is PolicyKind.TRUST
    assert [p.label for p in ci.inline_policies] == ["aws_iam_role_policy.ci_deploy.policy"]
    assert ci.location().line == position_of(TERRAFORM / "ci-role.tf", 'resource "aws_iam_role" "ci"')[0]
    worker = roles["queue-worker"]
    assert [p.label for p in worker.inline_policies] == ["inline:queue"]
    assert loaded.counts["roles"] == 2


def test_role_policy_attached_by_the_roles_literal_name() -> None:
    loaded = load_tf('''
resource "aws_iam_role" "app" {
  name               = "app"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] })
}
resource "aws_iam_role_policy" "by_name" {
  role   = "app"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject",
    Resource = "arn:aws:s3:::b/*" }] })
}
resource "aws_iam_role_policy" "by_id" {
  role   = "${aws_iam_role.app.id}"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:PutObject",
    Resource = "arn:aws:s3:::b/*" }] })
}
''')
    (role,) = loaded.principals
    assert [p.label for p in role.inline_policies] == ["aws_iam_role_policy.by_name.policy",
                                                       "aws_iam_role_policy.by_id.policy"]


def test_references_become_placeholders_and_policy_variables_are_restored() -> None:
    loaded = load_paths([str(TERRAFORM / f) for f in ("public-bucket.tf", "reports-user.tf", "ci-role.tf")])
    by_label = {policy.label: policy for policy in loaded.policies}
    bucket = by_label["aws_s3_bucket_policy.b.policy"]
    assert bucket.kind is PolicyKind.RESOURCE
    assert bucket.statements[0].resources == ("{{aws_s3_bucket.b.arn}}/*",)
    reports = by_label["aws_iam_user_policy.reports.policy"]
    assert reports.statements[0].resources == ("arn:aws:s3:::{{var.reports_bucket}}",
                                               "arn:aws:s3:::{{var.reports_bucket}}/${aws:username}/*")
    deploy = by_label["aws_iam_role_policy.ci_deploy.policy"]
    assert deploy.statements[1].resources == (
        "arn:aws:lambda:{{var.region}}:{{data.aws_caller_identity.current.account_id}}:function:app-*",)
    assert deploy.statements[2].resources == ("arn:aws:s3:::ci-artifacts/${aws:PrincipalTag/team}/*",)


def test_policy_document_data_source_renders_as_the_provider_does() -> None:
    text = '''
data "aws_iam_policy_document" "doc" {
  policy_id = "shared-bucket"
  statement {
    sid     = "Everyone"
    actions = ["s3:GetObject"]
    resources = ["arn:aws:s3:::b/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalOrgID"
      values   = ["o-a1b2c3d4e5"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalOrgID"
      values   = ["o-f6g7h8i9j0"]
    }
    condition {
      test     = "NumericLessThan"
      variable = "aws:MultiFactorAuthAge"
      values   = [3600]
    }
  }
  statement {
    effect        = "Deny"
    not_actions   = ["s3:GetObject"]
    not_resources = ["arn:aws:s3:::b/public/*"]
    not_principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::111122223333:root"]
    }
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::444455556666:root"]
    }
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::777788889999:root"]
    }
  }
}
'''
    loaded = load_tf(text)
    (policy,) = loaded.policies
    assert policy.kind is PolicyKind.RESOURCE and policy.policy_id == "shared-bucket" and policy.version == "2012-10-17"
    allow, deny = policy.statements
    assert (allow.sid, allow.effect, allow.actions) == ("Everyone", "Allow", ("s3:GetObject",))
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
    assert policy.location(deny.principals[1].pointer).line == lines.index(  # type: ignore[index]
        '      identifiers = ["arn:aws:iam::777788889999:root"]') + 1
    assert policy.location(allow.conditions[0].pointer).line == lines.index("    condition {") + 1
    assert policy.location(deny.pointer).line == lines.index("  statement {", 5) + 1


def test_statement_whose_shape_terraform_decides_is_left_out_and_the_rest_keeps_its_lines() -> None:
    text = '''resource "aws_iam_policy" "mixed" {
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      local.logging_statement,
      { Effect = "Allow", Action = "s3:GetObject", Resource = "*", Condition = local.conditions },
      {
        Effect   = "Allow"
        Action   = ["s3:GetObjekt"]
        Resource = "arn:aws:s3:::b/*"
      },
    ]
  })
}
'''
    loaded = load_tf(text)
    (policy,) = loaded.policies
    assert len(policy.statements) == 1 and policy.statements[0].pointer.endswith("/Statement/0")
    assert rules_at(loaded) == {("IAM201", 9, 21)}  # the list item, not the list
    assert loaded.not_checked == [
        "main.tf: aws_iam_policy.mixed.policy: statement 0 is local.logging_statement: not checked",
        "main.tf: aws_iam_policy.mixed.policy: statement 1 Condition is local.conditions: not checked",
    ]


def test_policies_built_by_terraform_are_listed_as_not_checked() -> None:
    loaded = load_paths([str(TERRAFORM / "unresolved.tf")])
    where = "fixtures/loaders/terraform/unresolved.tf"
    assert loaded.not_checked == [
        f"{where}: aws_iam_policy.from_file.policy = file(\"${{path.module}}/policies/from-file.json\"): not checked "
        "(iam-audit reads jsonencode(...), JSON text and aws_iam_policy_document data sources of the same file; "
        "the plan from terraform show -json has the value)",
        f"{where}: aws_iam_role_policy.shared.policy = data.aws_iam_policy_document.shared.json: not checked "
        "(the data source is not in this file)",
        f"{where}: aws_iam_policy.assembled.policy: Statement = concat(local.base_statements, "
        "var.extra_statements): not checked (an expression iam-audit does not evaluate; the plan from terraform "
        "show -json has its value)",
        f"{where}: aws_iam_policy.partly_known.policy: statement 0 is local.logging_statement: not checked",
        f"{where}: data.aws_iam_policy_document.per_queue: dynamic \"statement\" at line 37: not checked "
        "(its statements are made when Terraform runs)",
    ]
    assert sorted(policy.label or "" for policy in loaded.policies) == [
        "aws_iam_policy.partly_known.policy", "data.aws_iam_policy_document.per_queue"]


def test_a_conditional_stands_for_what_either_result_allows() -> None:
    loaded = load_paths([str(TERRAFORM / "conditional.tf")])
    by_label = {policy.label: policy for policy in loaded.policies}
    reader = by_label["aws_iam_policy.reader.policy"].statements[0]
    assert reader.actions == ("s3:GetObject", "s3:PutObject", "s3:GetObjectTagging")
    # an item that a wildcard of the other result matches adds nothing (and is not reported as redundant)
    assert reader.resources == ("*",)
    assert by_label["aws_iam_policy.break_glass.policy"].statements[0].actions == ("*",)
    assert loaded.not_checked == [
        "fixtures/loaders/terraform/conditional.tf: aws_iam_policy.extra.policy: statement 0 Action "
        "{{var.extra_actions}} is known only when Terraform runs (the plan, terraform show -json, has the value)"]


def test_each_result_of_a_conditional_keeps_its_own_position() -> None:
    text = (TERRAFORM / "conditional.tf").read_text(encoding="utf-8").replace(
        '"s3:GetObjectTagging"', '"s3:GetObjectTaging"')
    loaded = load_tf(text)
    offset = text.index('"s3:GetObjectTaging"')
    expected = (text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset))
    assert ("IAM201", *expected) in rules_at(loaded)


def test_a_conditional_in_condition_values_stays_unknown() -> None:
    loaded = load_tf('''
data "aws_iam_policy_document" "d" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
    condition {
      test     = "StringNotEquals"
      variable = "aws:PrincipalTag/team"
      values   = var.strict ? ["a"] : ["b"]
    }
  }
}
''')
    condition = loaded.policies[0].statements[0].conditions[0]
    # both values together would narrow a negated operator: the condition is as Terraform decides it
    assert condition.values == ("{{var.strict ? ['a'] : ['b']}}",)


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ('resource "aws_iam_policy" "p" {\n  policy = jsonencode({\n    Version = "2012-10-17"\n',
         "HCL syntax error: unexpected end of file (a '}', ']' or ')' is missing)", (4, 1)),
        ('resource "aws_iam_policy" "p" {\n  policy = jsonencode({ Version = "2012-10-17" }))\n}\n',
         "HCL syntax error: unexpected ')'", (2, 50)),
        ('variable "x" {\n  default = "a" @ "b"\n}\n', "HCL syntax error: unexpected '@'", (2, 17)),
        ('resource "aws_iam_policy" "p" {\n  policy = jsonencode({}) <<EOF\n{\n "a": 1\n}\nEOF\n}\n',
         "HCL syntax error: unexpected '<<EOF'", (2, 27)),  # a heredoc: its first line, not '<<EOF\\n{\\n...'
    ],
)
def test_hcl_that_does_not_parse_is_a_located_syntax_error(text: str, message: str,
                                                           position: tuple[int, int]) -> None:
    loaded = load_tf(text)
    ((source, problem),) = loaded.document_problems
    assert (problem.rule, problem.message, (problem.line, problem.column)) == ("syntax-error", message, position)
    assert source.display_path == "main.tf" and loaded.files == 1 and not loaded.policies


def test_heredoc_that_is_not_json_is_a_syntax_error_at_its_line() -> None:
    loaded = load_tf('resource "aws_iam_policy" "p" {\n  policy = <<EOF\n{\n  "Version": "2012-10-17",\n'
                     '  "Statement": [\n    {"Effect": "Allow" "Action": "s3:GetObject", "Resource": "*"}\n'
                     '  ]\n}\nEOF\n}\n')
    ((_, problem),) = loaded.document_problems
    assert problem.rule == "syntax-error"
    assert problem.message.startswith("aws_iam_policy.p.policy is not a JSON policy document: expecting ','")
    assert (problem.line, problem.column) == (6, 24)
    assert rules_at(loaded) == {("IAM100", 6, 24)}


def test_file_without_iam_is_skipped_with_a_reason() -> None:
    loaded = load_paths([str(TERRAFORM / "network.tf")])
    assert loaded.files == 1 and not loaded.policies and not loaded.document_problems
    assert loaded.skipped == [("fixtures/loaders/terraform/network.tf", "no IAM policy (no Terraform resource that "
                                                                        "holds one, nor an aws_iam_policy_document "
                                                                        "data source)")]


def test_max_statements_applies_to_terraform_policies() -> None:
    statements = ", ".join(f'{{ Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::b{i}/*" }}'
                           for i in range(3))
    loaded = load_tf(f'resource "aws_iam_policy" "many" {{\n  policy = jsonencode({{ Version = "2012-10-17", '
                     f'Statement = [{statements}] }})\n}}\n', max_statements=2)
    (policy,) = loaded.policies
    assert len(policy.statements) == 2
    assert loaded.not_checked == ["main.tf (aws_iam_policy.many.policy): statements after the first 2 of 3 "
                                  "(over --max-statements)"]


def test_tf_files_are_found_in_folders_and_standard_input_stays_json() -> None:
    assert ".tf" in POLICY_SUFFIXES
    loaded = load_paths([str(TERRAFORM)])
    assert loaded.files == len(list(TERRAFORM.glob("*.tf")))
    from_stdin = load_text('{"Version": "2012-10-17", "Statement": []}', "-", LoadOptions())
    assert not from_stdin.document_problems and len(from_stdin.policies) == 1


def test_checking_json_does_not_import_the_hcl_parser() -> None:
    probe = ("import sys; from auditor.loaders import LoadOptions, load_text;"
             "load_text('{\"Version\": \"2012-10-17\", \"Statement\": []}', 'p.json', LoadOptions());"
             "assert not {'hcl2', 'lark'} & set(sys.modules), sorted(m for m in sys.modules if 'hcl' in m)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_check_command_on_the_terraform_folder() -> None:
    code, report = run_json("fixtures/loaders/terraform")
    assert code == 1
    found = {(f["rule_id"], f["location"]["path"].rsplit("/", 1)[-1], f["location"]["line"])
             for f in report["findings"]}
    assert found == {
        ("IAM001", "admin-policy.tf", 9), ("IAM100", "broken.tf", 9), ("IAM031", "ci-role.tf", 10),
        ("IAM033", "ci-role.tf", 29), ("IAM003", "ci-role.tf", 46), ("IAM012", "ci-role.tf", 49),
        ("IAM030", "public-bucket.tf", 12), ("IAM201", "reports-user.tf", 17), ("IAM012", "worker-role.tf", 23),
        ("IAM002", "worker-role.tf", 25), ("IAM003", "worker-role.tf", 26), ("IAM020", "worker-role.tf", 26),
        ("IAM022", "worker-role.tf", 26), ("IAM003", "conditional.tf", 10), ("IAM021", "conditional.tf", 10),
        ("IAM001", "conditional.tf", 23),
    }
    summary = report["summary"]
    assert summary["files"] == 10 and summary["policies"] == 13
    assert [entry["path"] for entry in summary["skipped"]] == ["fixtures/loaders/terraform/network.tf"]
    assert len(summary["not_checked"]) == 6


def test_policy_document_made_only_of_other_documents_is_not_checked() -> None:
    loaded = load_tf('''
data "aws_iam_policy_document" "combined" {
  source_policy_documents = [data.aws_iam_policy_document.base.json]
}
data "aws_iam_policy_document" "by_variable" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
    principals {
      type        = var.principal_type
      identifiers = ["arn:aws:iam::111122223333:root"]
    }
  }
}
resource "aws_iam_policy" "combined" {
  policy = data.aws_iam_policy_document.combined.json
}
''')
    assert not loaded.policies and not loaded.skipped
    assert loaded.not_checked == [
        "main.tf: data.aws_iam_policy_document.combined: the statements merged from source_policy_documents are "
        "not checked",
        "main.tf: aws_iam_policy.combined.policy = data.aws_iam_policy_document.combined.json: not checked (none "
        "of its statements can be)",
        "main.tf: data.aws_iam_policy_document.by_variable: statement at line 6: its Principal has the key "
        "var.principal_type: not checked",
    ]


def test_a_terraform_file_over_the_parse_limit_is_refused_at_once() -> None:
    loaded = load_text("# padding\n" * 100, "big.tf", LoadOptions(max_yaml_bytes=100))
    ((_, problem),) = loaded.document_problems
    assert problem.rule == "syntax-error" and "over the limit of 100" in problem.message
    assert "--max-yaml-size" in problem.message


def test_a_key_policy_resource_and_log_and_search_domain_policies_are_read() -> None:
    loaded = load_tf('''
resource "aws_kms_key" "k" {}

resource "aws_kms_key_policy" "k" {
  key_id = aws_kms_key.k.id
  policy = jsonencode({Version = "2012-10-17", Statement = [
    {Effect = "Allow", Principal = {AWS = "*"}, Action = "kms:Decrypt", Resource = "*"}]})
}

resource "aws_kms_alias" "k" {
  name          = "alias/app-data"
  target_key_id = aws_kms_key.k.key_id
}

resource "aws_cloudwatch_log_resource_policy" "l" {
  policy_name     = "l"
  policy_document = jsonencode({Version = "2012-10-17", Statement = [
    {Effect = "Allow", Principal = {Service = "es.amazonaws.com"}, Action = "logs:PutLogEvents", Resource = "*"}]})
}

resource "aws_opensearch_domain_policy" "o" {
  domain_name     = "search"
  access_policies = jsonencode({Version = "2012-10-17", Statement = [
    {Effect = "Allow", Principal = {AWS = "*"}, Action = "es:ESHttpGet", Resource = "*"}]})
}
''')
    by_label = {p.label: p for p in loaded.policies}
    assert set(by_label) == {"aws_kms_key_policy.k.policy", "aws_cloudwatch_log_resource_policy.l.policy_document",
                             "aws_opensearch_domain_policy.o.access_policies"}
    assert all(p.kind is PolicyKind.RESOURCE for p in loaded.policies)
    assert by_label["aws_kms_key_policy.k.policy"].subject.aliases == ("alias/app-data",)  # type: ignore[union-attr]
    assert loaded.counts["resource_policies"] == 3
    assert sorted((f.rule_id, f.location.line) for f in findings(loaded) if f.rule_id == "IAM030") == [
        ("IAM030", 7), ("IAM030", 24)]


def test_policies_held_in_the_resource_itself_are_read() -> None:
    public = 'jsonencode({Version = "2012-10-17", Statement = [{Effect = "Allow", Principal = "*", Action = "%s", ' \
             'Resource = "*"}]})'
    loaded = load_tf(f'''
resource "aws_s3_bucket" "legacy" {{
  bucket = "legacy"
  policy = <<POLICY
{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
  "Resource": "arn:aws:s3:::legacy/*"}}]}}
POLICY
}}
resource "aws_opensearch_domain" "search" {{
  domain_name     = "search"
  access_policies = {public % "es:ESHttpGet"}
}}
resource "aws_elasticsearch_domain" "legacy" {{
  domain_name     = "legacy"
  access_policies = {public % "es:ESHttpGet"}
}}
resource "aws_secretsmanager_secret" "s" {{
  name   = "s"
  policy = {public % "secretsmanager:GetSecretValue"}
}}
resource "aws_secretsmanager_secret" "deleted" {{
  name   = "deleted"
  policy = "{{}}"
}}
resource "aws_glue_resource_policy" "g" {{
  policy = {public % "glue:GetTable"}
}}
''')
    assert [p.label for p in loaded.policies] == [
        "aws_s3_bucket.legacy.policy", "aws_opensearch_domain.search.access_policies",
        "aws_elasticsearch_domain.legacy.access_policies", "aws_secretsmanager_secret.s.policy",
        "aws_glue_resource_policy.g.policy"]
    assert sorted((f.rule_id, f.location.line) for f in findings(loaded) if f.rule_id == "IAM030") == [
        ("IAM030", 5), ("IAM030", 11), ("IAM030", 15), ("IAM030", 19), ("IAM030", 26)]
    assert loaded.not_checked == [] and loaded.document_problems == []


def test_a_policy_document_in_an_attribute_iam_audit_does_not_read_is_listed_as_not_checked() -> None:
    loaded = load_tf('''
resource "aws_vpclattice_auth_policy" "s3" {
  resource_identifier = "svc-1"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = "*", Action = "vpc-lattice-svcs:Invoke", Resource = "*" }]
  })
}
resource "aws_iot_policy" "device" {
  name   = "device"
  policy = <<EOT
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
EOT
}
resource "aws_sqs_queue" "q" {
  name           = "q"
  redrive_policy = jsonencode({ deadLetterTargetArn = "arn:aws:sqs:us-east-1:123456789012:dlq", maxReceiveCount = 4 })
}
resource "aws_sfn_state_machine" "m" {
  name       = "m"
  role_arn   = "arn:aws:iam::123456789012:role/m"
  definition = jsonencode({ StartAt = "A", States = { A = { Type = "Pass", End = true } } })
}
''')
    assert loaded.policies == []
    assert loaded.not_checked == [
        "main.tf: aws_vpclattice_auth_policy.s3.policy: a policy document iam-audit does not read for "
        "aws_vpclattice_auth_policy: not checked",
        "main.tf: aws_iot_policy.device.policy: a policy document iam-audit does not read for aws_iot_policy: not "
        "checked"]


def test_an_effect_terraform_decides_is_checked_as_an_allow_not_reported_as_malformed() -> None:
    loaded = load_tf('''
data "aws_iam_policy_document" "p" {
  statement {
    effect    = var.effect
    actions   = ["*"]
    resources = ["*"]
  }
}
resource "aws_iam_policy" "p" {
  policy = data.aws_iam_policy_document.p.json
}
resource "aws_iam_policy" "q" {
  policy = jsonencode({ Version = "2012-10-17", Statement = [
    { Effect = var.public ? "Allow" : "Deny", Action = "*", Resource = "*" }] })
}
''')
    assert sorted((f.rule_id, f.location.line) for f in findings(loaded)) == [("IAM001", 3), ("IAM001", 14)]
    assert loaded.not_checked == [
        "main.tf: aws_iam_policy.p.policy: statement 0 Effect {{var.effect}} (checked as Allow) is known only when "
        "Terraform runs (the plan, terraform show -json, has the value)",
        "main.tf: aws_iam_policy.q.policy: statement 0 Effect {{var.public ? 'Allow' : 'Deny'}} (checked as Allow) is "
        "known only when Terraform runs (the plan, terraform show -json, has the value)"]


def test_statements_from_two_results_of_a_conditional_may_share_a_sid() -> None:
    def policy(name: str, statements: str) -> str:
        return f'resource "aws_iam_policy" "{name}" {{\n  policy = jsonencode({{ Version = "2012-10-17", ' \
               f'Statement = {statements} }})\n}}\n'

    def read(sid: str, bucket: str) -> str:
        return f'{{ Sid = "{sid}", Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::{bucket}/*" }}'

    loaded = load_tf(
        policy("exclusive", f"[var.prod ? {read('Read', 'prod')} : {read('Read', 'dev')}]")
        + policy("alongside", f"[var.prod ? {read('Read', 'prod')} : {read('Other', 'dev')}, {read('Read', 'all')}]")
        + policy("same_result", f"var.prod ? [{read('Read', 'a')}, {read('Read', 'b')}] : [{read('Other', 'c')}]"))
    by_label = {p.label: p for p in loaded.policies}
    exclusive = by_label["aws_iam_policy.exclusive.policy"]
    assert [s.resources for s in exclusive.statements] == [("arn:aws:s3:::prod/*",), ("arn:aws:s3:::dev/*",)]
    assert exclusive.problems == ()
    assert [(p.rule, p.details["first"]) for p in by_label["aws_iam_policy.alongside.policy"].problems] == [
        ("duplicate-sid", 0)]
    assert [(p.rule, p.details["first"]) for p in by_label["aws_iam_policy.same_result.policy"].problems] == [
        ("duplicate-sid", 0)]


def test_dynamic_conditions_and_principals_of_a_statement_are_listed_as_not_checked() -> None:
    loaded = load_tf('''
data "aws_iam_policy_document" "b" {
  statement {
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::b/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    dynamic "condition" {
      for_each = var.org_id == "" ? [] : [var.org_id]
      content {
        test     = "StringEquals"
        variable = "aws:PrincipalOrgID"
        values   = [condition.value]
      }
    }
  }
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::b/*"]
    dynamic "principals" {
      for_each = var.readers
      content {
        type        = "AWS"
        identifiers = [principals.value]
      }
    }
  }
}
resource "aws_s3_bucket_policy" "b" {
  bucket = "b"
  policy = data.aws_iam_policy_document.b.json
}
''')
    ((policy,),) = [loaded.policies]
    assert [s.actions for s in policy.statements] == [("s3:PutObject",)]
    assert policy.problems == ()
    assert loaded.not_checked == [
        'main.tf: data.aws_iam_policy_document.b: dynamic "condition" at line 10: not checked (its conditions are made '
        "when Terraform runs; the statement is checked as if none narrowed it)",
        'main.tf: data.aws_iam_policy_document.b: dynamic "principals" at line 22: its statement is not checked (its '
        "principals are made when Terraform runs)"]


def test_a_document_given_as_a_local_is_not_said_to_be_missing_from_the_file() -> None:
    loaded = load_tf('''
locals {
  policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "iam:*", Resource = "*" }] }
}
resource "aws_iam_policy" "b" {
  policy = jsonencode(local.policy)
}
''')
    assert loaded.not_checked == [
        "main.tf: aws_iam_policy.b.policy = jsonencode(local.policy): not checked (an expression iam-audit does not "
        "evaluate; the plan from terraform show -json has its value)"]


def test_a_deny_with_dynamic_conditions_is_left_out_rather_than_checked_as_refusing_everything() -> None:
    loaded = load_tf('''
data "aws_iam_policy_document" "ci" {
  statement {
    actions   = ["iam:PassRole", "ec2:RunInstances"]
    resources = ["*"]
  }
  statement {
    effect    = "Deny"
    actions   = ["iam:PassRole"]
    resources = ["*"]
    dynamic "condition" {
      for_each = var.regions
      content {
        test     = "StringNotEquals"
        variable = "aws:RequestedRegion"
        values   = var.regions
      }
    }
  }
}
resource "aws_iam_policy" "ci" {
  policy = data.aws_iam_policy_document.ci.json
}
''')
    ((policy,),) = [loaded.policies]
    assert [s.effect for s in policy.statements] == ["Allow"]
    assert "IAM012" in {f.rule_id for f in findings(loaded)}
    assert loaded.not_checked == [
        'main.tf: data.aws_iam_policy_document.ci: dynamic "condition" at line 11: its statement is not checked (its '
        "conditions are made when Terraform runs; a Deny checked as if none narrowed it would cancel grants it may "
        "leave in place)"]


def test_an_empty_string_is_no_policy_for_a_resource_that_is_not_a_policy_but_an_error_for_a_policy() -> None:
    loaded = load_tf('''
resource "aws_s3_bucket" "site" {
  bucket = "site"
  policy = ""
}
resource "aws_sqs_queue" "q" {
  policy = ""
}
resource "aws_secretsmanager_secret" "s" {
  policy = ""
}
resource "aws_opensearch_domain" "search" {
  access_policies = ""
}
resource "aws_iam_policy" "p" {
  policy = ""
}
''')
    assert loaded.policies == []
    assert [problem.message.split(":")[0] for _, problem in loaded.document_problems] == [
        "aws_iam_policy.p.policy is not a JSON policy document"]


def test_a_name_terraform_interpolates_is_the_principals_name_and_chooses_its_baseline() -> None:
    from auditor.drift import matching_baselines, select_baselines

    trust = ('assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", '
             'Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }] })')
    loaded = load_tf(f'''
variable "region" {{ default = "us-east-1" }}
resource "aws_iam_role" "server" {{
  name = "UpsolverServerRole-${{var.region}}"
  {trust}
}}
resource "aws_iam_role" "prefixed" {{
  name_prefix = "UpsolverServerRole-"
  {trust}
}}
resource "aws_iam_role" "variable" {{
  name = var.role_name
  {trust}
}}
resource "aws_iam_role" "other" {{
  name = "Other-${{var.region}}"
  {trust}
}}
resource "aws_iam_role" "unnamed" {{
  {trust}
}}
resource "aws_iam_role_policy" "server" {{
  role   = aws_iam_role.server.id
  policy = jsonencode({{ Version = "2012-10-17",
    Statement = [{{ Effect = "Allow", Action = "s3:*", Resource = "*" }}] }})
}}
''')
    baselines = select_baselines()
    chosen = {p.name: [b.id for b in matching_baselines(p, baselines)] for p in loaded.principals}
    assert chosen == {"UpsolverServerRole-{{var.region}}": ["upsolver/server-role"],
                      "UpsolverServerRole-{{unique suffix}}": ["upsolver/server-role"],
                      "{{var.role_name}}": [], "Other-{{var.region}}": [], "aws_iam_role.unnamed": []}
    (server,) = (p for p in loaded.principals if p.name == "UpsolverServerRole-{{var.region}}")
    assert [p.label for p in server.inline_policies] == ["aws_iam_role_policy.server.policy"]


def test_a_name_from_a_local_written_out_is_that_string() -> None:
    """A local cannot be set from outside the module: ``name = local.role_name`` is its string, and so is
    ``${local.role_name}`` in a name; a local that is an expression, or another file's, stays unknown."""
    trust = ('assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", '
             'Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }] })')
    loaded = load_tf(f'''
locals {{
  role_name = "UpsolverServerRole"
  computed  = "${{var.prefix}}-role"
}}
resource "aws_iam_role" "plain" {{
  name = local.role_name
  {trust}
}}
resource "aws_iam_role" "suffixed" {{
  name = "${{local.role_name}}-blue"
  {trust}
}}
resource "aws_iam_role" "computed" {{
  name = local.computed
  {trust}
}}
resource "aws_iam_role" "elsewhere" {{
  name = local.defined_in_another_file
  {trust}
}}
''')
    assert sorted(p.name for p in loaded.principals) == [
        "UpsolverServerRole", "UpsolverServerRole-blue", "{{local.computed}}", "{{local.defined_in_another_file}}"]


def test_a_permissions_boundary_bounds_the_role_and_grants_nothing_itself() -> None:
    """permissions_boundary was ignored: the boundary policy was reported as if it granted, and a bounded
    AdministratorAccess as critical."""
    trust = ('assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", '
             'Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] })')
    loaded = load_tf(f'''
resource "aws_iam_policy" "boundary" {{
  name   = "developer-boundary"
  policy = jsonencode({{ Version = "2012-10-17",
    Statement = [{{ Effect = "Allow", Action = ["s3:*", "dynamodb:*"], Resource = "*" }}] }})
}}
resource "aws_iam_role" "app" {{
  name                 = "app"
  permissions_boundary = aws_iam_policy.boundary.arn
  managed_policy_arns  = ["arn:aws:iam::aws:policy/AdministratorAccess"]
  {trust}
}}
resource "aws_iam_role" "other" {{
  name                 = "other"
  permissions_boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
  {trust}
}}
resource "aws_iam_role" "unknown" {{
  name                 = "unknown"
  permissions_boundary = var.boundary_arn
  {trust}
}}
''')
    roles = {p.name: p for p in loaded.principals}
    assert roles["app"].permissions_boundary is not None and roles["app"].permissions_boundary.boundary_only
    assert [p.boundary_only for p in loaded.policies if p.label == "aws_iam_policy.boundary.policy"] == [True]
    assert roles["other"].missing_boundary_arn == "arn:aws:iam::aws:policy/PowerUserAccess"
    assert any("aws_iam_role.unknown: permissions boundary var.boundary_arn" in note for note in loaded.not_checked)
    found = run_rules(loaded, all_rules(), CheckContext(load_catalog()))
    assert {f.severity.value for f in found if f.rule_id == "IAM006"} == {"medium"}
    assert {f.severity.value for f in found if f.rule_id in ("IAM002", "IAM003", "IAM021", "IAM022")} == {"info"}


@pytest.mark.parametrize("element", ["principals", "condition"])
def test_a_block_written_as_an_attribute_leaves_its_statement_unchecked_and_says_so(element: str) -> None:
    """``principals = {...}`` (Terraform 0.11) is not the block the provider reads: checking the statement without
    it would miss a public grant or invent one, so it is listed instead."""
    body = ('type = "*"\n      identifiers = ["*"]' if element == "principals" else
            'test = "StringEquals"\n      variable = "aws:SourceAccount"\n      values = ["111122223333"]')
    text = ('data "aws_iam_policy_document" "p" {\n  statement {\n    actions = ["s3:GetObject"]\n'
            f'    resources = ["arn:aws:s3:::b/*"]\n    {element} = {{\n      {body}\n    }}\n  }}\n}}\n')
    loaded = load_text(text, "main.tf", LoadOptions())
    assert loaded.policies == []
    assert loaded.not_checked == [
        f"main.tf: data.aws_iam_policy_document.p: statement at line 2: not checked ({element} = {{...}} is "
        f"Terraform 0.11 syntax, which Terraform 0.12 and later reject: write {element} {{ ... }} as a block)"]


@pytest.mark.parametrize(("principal", "reported"), [
    ("aws_iam_role.first.arn", False),  # a role the configuration creates: its own account
    ("aws_iam_user.dev.arn", False),
    ('aws_iam_role.first["a"].arn', False),
    ("aws_iam_role.remote.arn", True),  # created with another provider: maybe another account
    ("aws_iam_role.elsewhere.arn", True),  # not in the file
    ("var.partner_role_arn", True),  # decided when Terraform runs
    ("module.partner.role_arn", True),
    ("aws_iam_role.first.name", True),  # not an ARN
])
def test_trust_of_a_role_or_user_of_the_same_configuration_needs_no_external_id(principal: str,
                                                                                 reported: bool) -> None:
    """As ``!GetAtt Role.Arn`` in a template: a role chain within the configuration (cloudgoat, iam-vulnerable) was
    IAM031, "another account may assume the role". Not a role another provider creates (``provider = aws.prod``,
    which may assume a role in another account), nor one the file does not have."""
    loaded = load_tf(f'''
resource "aws_iam_user" "dev" {{
  name = "dev"
}}
resource "aws_iam_role" "first" {{
  name = "first"
  assume_role_policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow",
    Principal = {{ Service = "ec2.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }})
}}
resource "aws_iam_role" "remote" {{
  provider = aws.prod
  name = "remote"
  assume_role_policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow",
    Principal = {{ Service = "ec2.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }})
}}
resource "aws_iam_role" "second" {{
  name = "second"
  assume_role_policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow",
    Principal = {{ AWS = {principal} }}, Action = "sts:AssumeRole" }}] }})
}}
''')
    found = [f for f in findings(loaded) if f.rule_id == "IAM031"]
    assert [f.rule_id for f in found] == (["IAM031"] if reported else [])
    if principal == "aws_iam_role.remote.arn":
        assert found[0].message.startswith("{{aws_iam_role.remote.arn (created with provider aws.prod)}} may assume")


_OPEN_TRUST = '"${var.open ? "*" : "arn:aws:iam::111122223333:root"}"'


@pytest.mark.parametrize("document", [
    # jsonencode, the conditional in an interpolation (Terraform 0.11 style, and what older modules write)
    f'jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ AWS = {_OPEN_TRUST} }}, '
    'Action = "sts:AssumeRole" }] })',
    # a heredoc: an interpolation is the only way to write one there
    '<<EOF\n{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
    '"${var.open ? "*" : "arn:aws:iam::111122223333:root"}"}, "Action": "sts:AssumeRole"}]}\nEOF',
])
def test_a_conditional_in_an_interpolation_stands_for_both_results(document: str) -> None:
    """As the bare conditional does: it was one literal string, a false IAM106 'wildcard inside a principal' and the
    critical IAM035 missed."""
    loaded = load_tf(f'resource "aws_iam_role" "r" {{\n  name = "r"\n  assume_role_policy = {document}\n}}\n')
    assert {f.rule_id for f in findings(loaded)} == {"IAM035"}
    assert [p.value for p in loaded.policies[0].statements[0].principals or ()] == ["*"]  # the root ARN: within "*"


@pytest.mark.parametrize("principal", [
    '"${(var.open ? "*" : "arn:aws:iam::111122223333:root")}"',  # in parentheses
    '"${var.open ? ("*") : format("arn:aws:iam::%s:root", var.account)}"',  # a result that is a function call
    '"${var.a ? (var.b ? "*" : "arn:aws:iam::111122223333:root") : "arn:aws:iam::444455556666:root"}"',  # nested
])
def test_a_conditional_in_an_interpolation_of_any_shape_stands_for_its_results(principal: str) -> None:
    loaded = load_tf('resource "aws_iam_role" "r" {\n  name = "r"\n  assume_role_policy = jsonencode({ '
                     f'Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ AWS = {principal} }}, '
                     'Action = "sts:AssumeRole" }] })\n}\n')
    rules = {f.rule_id for f in findings(loaded)}
    assert "IAM035" in rules and "IAM106" not in rules


def test_both_results_of_a_conditional_in_an_interpolation_are_checked() -> None:
    loaded = load_tf('resource "aws_iam_policy" "p" {\n  policy = jsonencode({ Version = "2012-10-17", Statement = '
                     '[{ Effect = "Allow", Resource = "*", '
                     'Action = ["s3:GetObject", "${var.write ? "s3:PutObject" : "s3:ListBucket"}"] }] })\n}\n')
    assert loaded.policies[0].statements[0].actions == ("s3:GetObject", "s3:PutObject", "s3:ListBucket")


def test_a_trust_document_whose_actions_a_variable_decides_is_read_as_a_trust_policy() -> None:
    """terraform-aws-modules' iam-assumable-role: ``actions = var.trusted_role_actions`` with principals, used by
    the role through coalesce(): read as a resource policy, it was a false high IAM105 'neither Resource nor
    NotResource' (trust policies take none), and CI failed."""
    loaded = load_tf('data "aws_iam_policy_document" "assume_role" {\n  statement {\n'
                     '    actions = var.trusted_role_actions\n    principals {\n      type = "AWS"\n'
                     '      identifiers = var.trusted_role_arns\n    }\n    principals {\n      type = "Service"\n'
                     '      identifiers = ["ec2.amazonaws.com"]\n    }\n  }\n}\n')
    assert [policy.kind for policy in loaded.policies] == [PolicyKind.TRUST]
    assert "IAM105" not in {f.rule_id for f in findings(loaded)}
    # the actions may well be sts:AssumeRole: another account's principal without an ExternalId is IAM031, as with
    # the action written out
    other = load_tf('data "aws_iam_policy_document" "assume_role" {\n  statement {\n'
                    '    actions = var.trusted_role_actions\n    principals {\n      type = "AWS"\n'
                    '      identifiers = ["arn:aws:iam::999988887777:root"]\n    }\n  }\n}\n')
    assert "IAM031" in {f.rule_id for f in findings(other)}


@pytest.mark.parametrize("sid", ['"${var.sid}"', '"${var.prefix}Read"', '"Read${replace(var.bucket, "-", "")}"',
                                 '"Read-${var.bucket}"'])
def test_a_sid_terraform_computes_is_judged_by_what_is_written(sid: str) -> None:
    """The braces of {{var.sid}} are iam-audit's own placeholder: IAM111 reported computed Sids; a hyphen written
    beside one is still reported."""
    loaded = load_tf(f'data "aws_iam_policy_document" "d" {{\n  statement {{\n    sid = {sid}\n'
                     '    actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]\n  }\n}\n')
    assert ("IAM111" in {f.rule_id for f in findings(loaded)}) is ("-$" in sid)


def test_a_policy_passed_to_a_module_is_checked() -> None:
    """terraform-aws-modules' s3-bucket takes the bucket policy as an argument: it was neither checked nor listed."""
    loaded = load_tf('module "bucket" {\n  source = "terraform-aws-modules/s3-bucket/aws"\n  bucket = "b"\n'
                     '  attach_policy = true\n  policy = jsonencode({ Version = "2012-10-17", Statement = [{ '
                     'Effect = "Allow", Principal = "*", Action = "s3:*", Resource = "arn:aws:s3:::b/*" }] })\n'
                     '  tags = { Owner = "data" }\n}\n')
    assert [(p.label, p.kind) for p in loaded.policies] == [("module.bucket.policy", PolicyKind.RESOURCE)]
    assert [(f.rule_id, f.location.line) for f in findings(loaded) if f.rule_id == "IAM030"] == [("IAM030", 5)]


def test_a_service_principal_of_a_region_terraform_decides_is_checked_for_the_confused_deputy() -> None:
    """logs.${data.aws_region.current.name}.amazonaws.com, as KMS key policies for CloudWatch Logs are written: the
    service is known, only its Region is not. It was skipped as a template value (IAM034 missed)."""
    loaded = load_tf('data "aws_region" "current" {}\ndata "aws_iam_policy_document" "key" {\n  statement {\n'
                     '    actions = ["kms:Encrypt*", "kms:Decrypt*"]\n    resources = ["*"]\n    principals {\n'
                     '      type = "Service"\n'
                     '      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]\n    }\n  }\n}\n'
                     'resource "aws_kms_key" "k" {\n  policy = data.aws_iam_policy_document.key.json\n}\n')
    assert [f.rule_id for f in findings(loaded) if f.rule_id == "IAM034"] == ["IAM034"]


def test_a_service_principal_of_a_partition_terraform_decides_is_exempt_as_written_out() -> None:
    """ec2.${data.aws_partition.current.dns_suffix} is ec2.amazonaws.com, which needs no source condition (as
    !Sub ec2.${AWS::URLSuffix} in a template); sns is reported either way."""
    loaded = load_tf('data "aws_partition" "current" {}\nresource "aws_iam_role" "r" {\n  name = "r"\n'
                     '  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", '
                     'Action = "sts:AssumeRole", Principal = { Service = ['
                     '"ec2.${data.aws_partition.current.dns_suffix}", "sns.${data.aws_partition.current.dns_suffix}"'
                     '] } }] })\n}\n')
    [finding] = [f for f in findings(loaded) if f.rule_id == "IAM034"]
    assert finding.details["services"] == ["sns.{{data.aws_partition.current.dns_suffix}}"]


@pytest.mark.parametrize("value", ['var.enabled ? jsonencode({ Statement = [] }) : null',
                                   'file("${path.module}/policy.json")',
                                   '[jsonencode({ Version = "2012-10-17", Statement = [] })]'])
def test_a_policy_passed_to_a_module_in_a_form_not_read_is_listed(value: str) -> None:
    loaded = load_tf(f'module "m" {{\n  source = "./m"\n  policy = {value}\n'
                     '  policy_arns = ["arn:aws:iam::aws:policy/x"]\n}\n')
    assert [line.split(": ", 1)[1] for line in loaded.not_checked] == [
        "module.m.policy: a policy passed to the module in a form iam-audit does not read (a conditional, a list, "
        "a file): not checked"]


_MODULE_DATA = '''data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "perms" {
  statement {
    actions   = ["iam:PassRole", "ec2:RunInstances"]
    resources = ["*"]
  }
}
'''
_MODULE_MAIN = '''resource "aws_iam_role" "app" {
  name               = "app"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "app" {
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.perms.json
}
'''


def _module(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".", 1) if name.endswith("_tf") else folder / name).write_text(text)
    return folder


def _principal_findings(report: dict[str, object]) -> list[tuple[str, str, int]]:
    return sorted((f["rule_id"], f["location"]["path"].rpartition("/")[2], f["location"]["line"])
                  for f in report["findings"])  # type: ignore[attr-defined]


def test_the_tf_files_of_a_folder_are_read_as_one_module(tmp_path: Path) -> None:
    """A role of main.tf with the policy of a data source of data.tf is weighed with it, located in data.tf."""
    folder = _module(tmp_path / "module", **{"data.tf": _MODULE_DATA, "main.tf": _MODULE_MAIN})
    loaded = load_paths([str(folder)])
    [role] = loaded.principals
    assert role.source.display_path.endswith("main.tf") and not loaded.not_checked
    assert [p.source.display_path.rpartition("/")[2] for p in role.inline_policies] == ["data.tf"]
    assert role.trust_policy is not None and role.trust_policy.subject is not None
    code, report = run_json(str(folder))
    assert code == 1 and not report["summary"].get("not_checked")
    escalation = [f for f in report["findings"] if f["rule_id"] == "IAM012"]
    assert [f["message"].split(" can ")[0] for f in escalation] == ["role app"]
    assert escalation[0]["location"]["path"].endswith("data.tf") and escalation[0]["location"]["line"] == 12


def test_a_file_of_a_module_given_alone_is_read_with_its_folder(tmp_path: Path) -> None:
    """A file given alone (pre-commit passes the changed ones) reports what is written in it: main.tf the role with
    its policies; data.tf the policies, weighed with the role they belong to."""
    folder = _module(tmp_path / "module", **{"data.tf": _MODULE_DATA, "main.tf": _MODULE_MAIN})
    main = load_paths([str(folder / "main.tf")])
    assert [p.name for p in main.principals] == ["app"] and not main.policies and not main.not_checked
    assert len(main.principals[0].inline_policies) == 1
    data = load_paths([str(folder / "data.tf")])
    assert [p.name for p in data.principals] == ["app"]
    assert {p.label for p in data.policies} == {"aws_iam_role.app.assume_role_policy", "aws_iam_role_policy.app.policy"}
    whole = load_paths([str(folder)])
    assert len(whole.policies) == len(data.policies) + len(main.policies) == 2 and len(whole.principals) == 1
    _code, report = run_json(str(folder / "data.tf"))
    assert [f["message"].split(" can ")[0] for f in report["findings"] if f["rule_id"] == "IAM012"] == ["role app"]


def test_an_attachment_in_another_file_of_the_module_is_found_where_it_is_written(tmp_path: Path) -> None:
    folder = _module(tmp_path / "module", **{
        "roles.tf": 'resource "aws_iam_role" "ci" {\n  name = "ci"\n  assume_role_policy = jsonencode({Version = '
                    '"2012-10-17", Statement = [{Effect = "Allow", Action = "sts:AssumeRole", Principal = {Service = '
                    '"ec2.amazonaws.com"}}]})\n}\n',
        "attach.tf": 'resource "aws_iam_role_policy_attachment" "admin" {\n  role       = aws_iam_role.ci.name\n'
                     '  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n}\n'})
    console = run_cli("check", "--no-color", str(folder)).stdout
    assert ' > 3 │   policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"' in console  # its excerpt
    for given in (folder, folder / "attach.tf"):  # the folder, or the file of the attachment alone
        _code, report = run_json(str(given))
        [admin] = [f for f in report["findings"] if f["rule_id"] == "IAM006"]
        assert admin["location"]["path"].endswith("attach.tf") and admin["location"]["line"] == 3, admin
        assert admin["message"].startswith("role ci has AdministratorAccess attached")
        assert not report["summary"].get("skipped")


def test_a_folder_that_declares_a_resource_twice_is_read_file_by_file(tmp_path: Path) -> None:
    """Terraform refuses such a folder as a module (examples side by side): each file is read alone, as before."""
    folder = _module(tmp_path / "examples", **{"data.tf": _MODULE_DATA, "main.tf": _MODULE_MAIN,
                                                "other.tf": _MODULE_MAIN.replace('"app"\n', '"other"\n', 1)})
    loaded = load_paths([str(folder)])
    assert any(line.endswith("not checked (the data source is not in this file)") for line in loaded.not_checked)


def test_a_module_file_that_does_not_parse_is_left_out_of_the_module_and_reported(tmp_path: Path) -> None:
    folder = _module(tmp_path / "module", **{"data.tf": _MODULE_DATA, "main.tf": _MODULE_MAIN,
                                             "broken.tf": 'resource "aws_iam_role" "x" {\n'})
    loaded = load_paths([str(folder)])
    assert [source.display_path.rpartition("/")[2] for source, _ in loaded.document_problems] == ["broken.tf"]
    assert [p.name for p in loaded.principals] == ["app"] and not loaded.not_checked


def test_module_findings_are_the_same_with_one_or_two_processes(tmp_path: Path) -> None:
    folder = _module(tmp_path / "module", **{"data.tf": _MODULE_DATA, "main.tf": _MODULE_MAIN})
    reports = [run_json("--jobs", jobs, str(folder))[1] for jobs in ("1", "2")]
    assert reports[0]["findings"] == reports[1]["findings"] and reports[0]["findings"]


def test_a_folder_that_sets_a_local_value_twice_is_read_file_by_file(tmp_path: Path) -> None:
    role = 'locals {\n  role_name = "NAME"\n}\nresource "aws_iam_role" "r" {\n  name = local.role_name\n' \
           '  assume_role_policy = jsonencode({Version = "2012-10-17", Statement = []})\n}\n'
    folder = _module(tmp_path / "examples", **{"a.tf": role.replace("NAME", "Alpha").replace('"r"', '"a"'),
                                                "b.tf": role.replace("NAME", "Beta").replace('"r"', '"b"')})
    assert sorted(p.name for p in load_paths([str(folder)]).principals) == ["Alpha", "Beta"]


def test_findings_are_reported_only_in_the_module_files_given(tmp_path: Path) -> None:
    """A file left out (--exclude) or not named (pre-commit names the changed ones) reports nothing, though its
    module's reading uses it."""
    folder = _module(tmp_path / "module", **{
        "data.tf": _MODULE_DATA, "main.tf": _MODULE_MAIN,
        "attach.tf": 'resource "aws_iam_role_policy_attachment" "admin" {\n  role       = aws_iam_role.app.name\n'
                     '  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n}\n'})
    for args, files in (([str(folder), "--exclude", "attach.tf"], {"data.tf"}),
                        ([str(folder / "attach.tf")], {"attach.tf"}),
                        ([str(folder / "attach.tf"), str(folder / "main.tf")], {"attach.tf"})):
        _code, report = run_json(*args)
        assert {f["location"]["path"].rpartition("/")[2] for f in report["findings"]} == files, args


def test_a_module_file_stored_alone_is_read_again_once_the_folder_has_others(tmp_path: Path) -> None:
    """The stored result of a .tf file is never served: a file added beside it changes what it holds."""
    inputs = tmp_path / "inputs"
    statements = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{'b' * 200}{n}/*"}
                  for n in range(150)]
    policy = {"Version": "2012-10-17", "Statement": statements}
    for number in range(20):  # enough input for the store to be used
        (inputs / "json").mkdir(parents=True, exist_ok=True)
        (inputs / "json" / f"p{number}.json").write_text(json.dumps(policy, indent=2))
    _module(inputs / "tf", **{"main.tf": _MODULE_MAIN})
    time.sleep(RACY_NANOSECONDS / 1e9 + 0.2)  # written long enough ago for the store to keep their stat signatures
    env = {"IAM_AUDIT_CACHE_DIR": str(tmp_path / "cache")}
    first = run_cli("check", "--format", "json", str(inputs), env=env)
    assert "the data source is not in this file" in first.stdout
    (inputs / "tf" / "data.tf").write_text(_MODULE_DATA)
    second = run_cli("check", "--format", "json", str(inputs), env=env)
    assert "not in this" not in second.stdout and '"IAM012"' in second.stdout


def test_a_local_written_out_is_its_string_in_policies_too() -> None:
    """A vendor's account kept in a local (``"arn:aws:iam::${local.vendor_account}:root"``, or the whole ARN as
    ``local.vendor_arn``) is that account: the trust without an external id is high and names the vendor, as
    when the account is written out (hunt48: medium, "the role's own account is unknown")."""
    loaded = load_tf('''
locals {
  databricks_account = "414351767826"
  databricks_arn     = "arn:aws:iam::414351767826:root"
}
data "aws_iam_policy_document" "interpolated" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.databricks_account}:root"]
    }
  }
}
resource "aws_iam_role" "a" {
  name               = "a"
  assume_role_policy = data.aws_iam_policy_document.interpolated.json
}
resource "aws_iam_role" "b" {
  name = "b"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Principal = { AWS = local.databricks_arn }, Action = "sts:AssumeRole" }] })
}
''')
    trusts = [f for f in findings(loaded) if f.rule_id == "IAM031"]
    assert [(f.location.line, f.severity.value) for f in trusts] == [(11, "high"), (22, "high")]
    assert all("414351767826 (Databricks)" in f.message for f in trusts)


def test_an_action_partly_decided_by_terraform_is_listed_as_not_checked() -> None:
    """``"iam:${var.verb}"`` is some IAM action: not judged, and said so (it was silently passed over)."""
    data_source = '''
data "aws_iam_policy_document" "p" {
  statement {
    actions   = ["iam:${var.verb}"]
    resources = ["*"]
  }
}'''
    for policy, other in (('jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", '
                           'Action = ["iam:${var.verb}"], Resource = "*" }] })', ""),
                          ("data.aws_iam_policy_document.p.json", data_source)):
        loaded = load_tf(other + f'''
resource "aws_iam_policy" "p" {{
  name   = "p"
  policy = {policy}
}}
''')
        assert findings(loaded) == []
        assert loaded.not_checked == ["main.tf: aws_iam_policy.p.policy: statement 0 Action iam:{{var.verb}} is "
                                      "known only when Terraform runs (the plan, terraform show -json, has the "
                                      "value)"]


def test_a_conditional_inside_an_interpolated_string_stands_for_both_results() -> None:
    """``"s3:${var.write ? "*" : "GetObject"}"`` may be ``s3:*``; ``"arn:aws-us${var.gov ? "" : "-gov"}:iam::..."``
    names a partition that does not exist when the test is true, and has no wildcard (the ``?`` of the
    conditional was read as one)."""
    loaded = load_tf('''
resource "aws_iam_policy" "p" {
  name = "p"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Action = ["s3:${var.write ? "*" : "GetObject"}"], Resource = "*" }] })
}
data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws-us${var.use_gov ? "" : "-gov"}:iam::099193770462:root"]
    }
  }
}
resource "aws_iam_role" "r" {
  name               = "r"
  assume_role_policy = data.aws_iam_policy_document.trust.json
}
''')
    found = findings(loaded)
    assert {"IAM002", "IAM003"} <= {f.rule_id for f in found if f.location.line == 5}
    (partition,) = [f for f in found if f.rule_id == "IAM106"]
    assert "'aws-us' is not an AWS partition" in partition.message and "wildcard" not in partition.message
    assert loaded.not_checked == []


def test_a_local_in_a_heredoc_policy_is_its_string() -> None:
    loaded = load_tf('''
locals {
  vendor = "464622532012"
}
resource "aws_iam_role" "r" {
  name = "r"
  assume_role_policy = <<EOT
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
  "Principal": {"AWS": "arn:aws:iam::${local.vendor}:root"}}]}
EOT
}
''')
    (trust,) = [f for f in findings(loaded) if f.rule_id == "IAM031"]
    assert (trust.severity.value, trust.location.line, trust.location.column) == ("high", 9, 24)
    assert "464622532012 (Datadog)" in trust.message
