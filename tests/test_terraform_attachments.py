"""Terraform managed policy attachments (``aws_iam_*_policy_attachment``, ``aws_iam_policy_attachment``, the
``*_attachments_exclusive`` resources, ``managed_policy_arns`` of a role) and group memberships in .tf, .tf.json and
plans: the policies reach their principals, IAM006 points at the attachment, drift sees them, and what cannot be
resolved is listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.baselines import resolve_baseline
from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.drift import compare_principal
from auditor.engine import CheckContext, run_rules
from auditor.loaders import LoadOptions, load_paths, load_text
from auditor.loaders.result import LoadResult
from auditor.model import Finding, Principal
from tests.conftest import FIXTURES

ATTACHMENTS = FIXTURES / "loaders" / "terraform_attachments"
RULES = all_rules()
CATALOG = load_catalog()
AWS = "arn:aws:iam::aws:policy/"
TRUST = ('assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", '
         'Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }] })')


def findings(loaded: LoadResult) -> list[Finding]:
    return run_rules(loaded, RULES, CheckContext(CATALOG))


def iam006(loaded: LoadResult) -> set[tuple[str, str, int, int]]:
    """(principal, policy ARN, line, column) of each IAM006."""
    return {(f"{f.subject['kind']} {f.subject['name']}" if f.subject else "", f.details["policy_arn"],
             f.location.line, f.location.column) for f in findings(loaded) if f.rule_id == "IAM006"}


def load(name: str) -> LoadResult:
    return load_paths([str(ATTACHMENTS / name)])


def load_tf(text: str, name: str = "main.tf") -> LoadResult:
    return load_text(text, name, LoadOptions())


def principals(loaded: LoadResult) -> dict[str, Principal]:
    return {f"{p.kind} {p.name}": p for p in loaded.principals}


def not_checked(loaded: LoadResult) -> list[str]:
    """What was not checked, each fixture named without its folder."""
    return [line.split("terraform_attachments/", 1)[-1] for line in loaded.not_checked]


def position_of(name: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    text = (ATTACHMENTS / name).read_text(encoding="utf-8")
    offset = -1
    for _ in range(occurrence + 1):
        offset = text.index(needle, offset + 1)
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


# --------------------------------------------------------------------------- .tf


def test_attachments_in_hcl_give_iam006_at_the_policy_they_attach() -> None:
    name = "deploy-role.tf"
    admin = position_of(name, f'"{AWS}AdministratorAccess"')
    iam_full = position_of(name, "data.aws_iam_policy.iam_full.arn")
    assert iam006(load(name)) == {
        ("role deploy", f"{AWS}AdministratorAccess", *admin),
        ("user ci", f"{AWS}IAMFullAccess", *iam_full),
        ("group admins", f"{AWS}IAMFullAccess", *iam_full),
    }


def test_attached_policies_become_the_principals_own() -> None:
    loaded = load("deploy-role.tf")
    deploy = principals(loaded)["role deploy"]
    assert deploy.attached_policy_arns == (f"{AWS}ReadOnlyAccess", "arn:aws:iam::{{account_id}}:policy/keys",
                                           f"{AWS}AdministratorAccess")
    assert [p.label for p in deploy.attached_policies] == ["aws_iam_policy.keys.policy"]
    assert deploy.missing_policy_arns == (f"{AWS}ReadOnlyAccess", f"{AWS}AdministratorAccess")
    assert "deploy-role.tf: role deploy: the attached managed policies " \
           f"{AWS}ReadOnlyAccess, {AWS}AdministratorAccess are not in the file, so their statements were not " \
           "checked" in not_checked(loaded)
    escalation = [f for f in findings(loaded) if f.rule_id == "IAM012"]
    assert [f.subject["name"] for f in escalation if f.subject] == ["deploy"]  # through the attached policy


def test_read_only_attachment_is_recorded_without_iam006() -> None:
    loaded = load("read-only.tf")
    (auditor,) = loaded.principals
    assert auditor.attached_policy_arns == (f"{AWS}ReadOnlyAccess",)
    assert auditor.missing_policy_arns == (f"{AWS}ReadOnlyAccess",)
    assert not iam006(loaded)
    assert not findings(loaded)


def test_unresolvable_role_or_policy_is_listed_as_not_checked() -> None:
    loaded = load("unresolved.tf")
    shown = not_checked(loaded)
    assert shown == [
        f'unresolved.tf: aws_iam_role_policy_attachment.elsewhere.role = aws_iam_role.shared.name: the role it '
        f'attaches "{AWS}AdministratorAccess" to is not checked (aws_iam_role.shared is not in this file)',
        "unresolved.tf: aws_iam_role_policy_attachment.chosen.policy_arn = var.policy_arn: the policy it attaches "
        "to role app is not checked (Terraform decides it when it runs; the plan from terraform show -json has the "
        "value)",
    ]
    (app,) = loaded.principals
    assert app.attached_policy_arns == ()
    assert not iam006(loaded)


def test_literal_names_ids_and_wrong_attributes() -> None:
    loaded = load_tf(f'''
resource "aws_iam_role" "app" {{
  name = "app"
  {TRUST}
}}
resource "aws_iam_role_policy_attachment" "by_name" {{
  role       = "app"
  policy_arn = "{AWS}PowerUserAccess"
}}
resource "aws_iam_role_policy_attachment" "by_id" {{
  role       = "${{aws_iam_role.app.id}}"
  policy_arn = "{AWS}PowerUserAccess"
}}
resource "aws_iam_role_policy_attachment" "by_arn" {{
  role       = aws_iam_role.app.arn
  policy_arn = "{AWS}AdministratorAccess"
}}
resource "aws_iam_role_policy_attachments_exclusive" "exclusive" {{
  role_name   = aws_iam_role.app.name
  policy_arns = ["{AWS}IAMFullAccess", "AdministratorAccess"]
}}
''')
    (app,) = loaded.principals
    assert app.attached_policy_arns == (f"{AWS}PowerUserAccess", f"{AWS}IAMFullAccess")  # the same ARN once
    assert {(arn, line) for _, arn, line, _ in iam006(loaded)} == {(f"{AWS}PowerUserAccess", 8),
                                                                   (f"{AWS}IAMFullAccess", 20)}
    assert loaded.not_checked[:2] == [
        f'main.tf: aws_iam_role_policy_attachment.by_arn.role = aws_iam_role.app.arn: the role it attaches '
        f'"{AWS}AdministratorAccess" to is not checked (the attachment takes the role\'s name, not its arn)',
        'main.tf: aws_iam_role_policy_attachments_exclusive.exclusive.policy_arns[1] = "AdministratorAccess": the '
        "policy it attaches to role app is not checked (it is not the ARN of a managed policy)",
    ]


def test_data_source_found_by_a_name_iam_audit_cannot_place_is_not_checked() -> None:
    loaded = load_tf('''
resource "aws_iam_user" "dev" {
  name = "dev"
}
data "aws_iam_policy" "team" {
  name = "TeamPolicy"
}
resource "aws_iam_user_policy_attachment" "team" {
  user       = aws_iam_user.dev.name
  policy_arn = data.aws_iam_policy.team.arn
}
resource "aws_iam_user_policy" "own" {
  user   = "dev"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject",
    Resource = "arn:aws:s3:::b/*" }] })
}
''')
    (dev,) = loaded.principals
    assert (dev.kind, dev.name, dev.attached_policy_arns) == ("user", "dev", ())
    assert [p.label for p in dev.inline_policies] == ["aws_iam_user_policy.own.policy"]
    assert loaded.not_checked == [
        "main.tf: aws_iam_user_policy_attachment.team.policy_arn = data.aws_iam_policy.team.arn: the policy it "
        "attaches to user dev is not checked (data.aws_iam_policy.team finds the policy named 'TeamPolicy' when "
        "Terraform runs, an AWS managed or a customer managed one; give its arn, or check the plan)"]


# --------------------------------------------------------------------------- .tf.json


def test_attachments_in_json_syntax() -> None:
    name = "deploy-role.tf.json"
    loaded = load(name)
    assert iam006(loaded) == {
        ("role deploy", f"{AWS}AdministratorAccess", *position_of(name, f'"{AWS}AdministratorAccess"')),
        ("group admins", f"{AWS}IAMFullAccess", *position_of(name, f'"{AWS}IAMFullAccess"')),
    }
    deploy = principals(loaded)["role deploy"]
    assert [p.label for p in deploy.attached_policies] == ["aws_iam_policy.keys.policy"]
    assert deploy.missing_policy_arns == (f"{AWS}ReadOnlyAccess", f"{AWS}AdministratorAccess")
    assert not_checked(loaded)[0] == (
        f"deploy-role.tf.json: aws_iam_role_policy_attachment.elsewhere.role = ${{aws_iam_role.shared.name}}: the "
        f"role it attaches {AWS}PowerUserAccess to is not checked (aws_iam_role.shared is not in this file)")


def test_users_get_the_policies_of_the_groups_they_are_put_in() -> None:
    loaded = load("group-members.tf")
    by_name = principals(loaded)
    alice, bob = by_name["user alice"], by_name["user bob"]
    assert (alice.group_names, alice.group_policy_arns, alice.group_policies) == (
        ("admins",), (f"{AWS}AdministratorAccess",), ())
    assert bob.group_names == ("ops",)
    assert [p.label for p in bob.group_policies] == ["aws_iam_group_policy.ops.policy"]
    escalation = [f for f in findings(loaded) if f.rule_id == "IAM012"]
    assert [(f.subject["kind"], f.subject["name"]) for f in escalation if f.subject] == [("user", "bob")]
    assert not_checked(loaded)[-1] == (
        'group-members.tf: aws_iam_user_group_membership.bob.groups[1] = "platform": the policies of the group it '
        "puts user bob in are not checked (no aws_iam_group of this file is named 'platform')")


def test_group_membership_in_json_syntax() -> None:
    loaded = load_tf(json.dumps({"resource": {
        "aws_iam_user": {"carol": {"name": "carol"}},
        "aws_iam_group": {"ops": {"name": "ops"}},
        "aws_iam_group_policy": {"ops": {"group": "${aws_iam_group.ops.name}", "policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})}},
        "aws_iam_group_membership": {"ops": {"name": "ops", "users": ["${aws_iam_user.carol.name}"],
                                             "group": "${aws_iam_group.ops.name}"}},
    }}), "main.tf.json")
    carol = principals(loaded)["user carol"]
    assert carol.group_names == ("ops",) and [p.label for p in carol.group_policies] == [
        "aws_iam_group_policy.ops.policy"]


# --------------------------------------------------------------------------- plans


def test_attachments_in_a_plan() -> None:
    name = "plan.json"
    loaded = load(name)
    assert iam006(loaded) == {
        ("role worker", f"{AWS}PowerUserAccess", *position_of(name, f'"{AWS}PowerUserAccess"')),
        ("role worker", f"{AWS}AdministratorAccess", *position_of(name, f'"{AWS}AdministratorAccess"')),
    }
    worker = principals(loaded)["role worker"]
    # policy_arn known only after apply: the configuration's reference names the plan's aws_iam_policy
    assert [p.label for p in worker.attached_policies] == ["aws_iam_policy.keys.policy"]
    assert worker.missing_policy_arns == (f"{AWS}PowerUserAccess", f"{AWS}AdministratorAccess")
    assert not_checked(loaded)[0] == (
        f'plan.json: aws_iam_role_policy_attachment.other.role = "someone-else": the role it attaches '
        f'"{AWS}AdministratorAccess" to is not checked (no aws_iam_role of this plan is named \'someone-else\')')


def test_plan_attachment_whose_policy_is_known_only_after_apply_without_configuration(tmp_path: Path) -> None:
    plan: dict[str, Any] = json.loads((ATTACHMENTS / "plan.json").read_text(encoding="utf-8"))
    del plan["configuration"]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    loaded = load_paths([str(path)])
    assert f"{path}: aws_iam_role_policy_attachment.keys.policy_arn = (known after apply): the policy it attaches " \
           "to role worker is not checked (its value is known only after apply: check the state, `terraform show " \
           "-json`, once applied)" in loaded.not_checked
    assert principals(loaded)["role worker"].attached_policies == ()


LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
PASS_ROLE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]})
LAMBDA_WRITE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}]})


def instances_plan(keys: list[Any], role_references: list[str], module: str = "") -> dict[str, Any]:
    """A plan as ``terraform show -json`` writes it of roles made with ``for_each`` (string keys) or ``count``
    (number keys), each with PassRole in an ``inline_policy`` block, and ``aws_iam_role_policy`` resources (one per
    key) granting lambda:CreateFunction and InvokeFunction, whose ``role`` is known only after apply (an ``id``)
    and whose configuration makes ``role_references``; all in ``module`` (``module.m[0].``) when given."""
    def address(rtype: str, key: Any) -> str:
        return f"{module}{rtype}.{'r' if rtype == 'aws_iam_role' else 'p'}[{json.dumps(key)}]"

    resources, changes = [], []
    for key in keys:
        resources += [
            {"address": address("aws_iam_role", key), "mode": "managed", "type": "aws_iam_role", "name": "r",
             "index": key, "values": {"name": f"app-{key}", "assume_role_policy": LAMBDA_TRUST,
                                      "inline_policy": [{"name": "pass", "policy": PASS_ROLE}]}},
            {"address": address("aws_iam_role_policy", key), "mode": "managed", "type": "aws_iam_role_policy",
             "name": "p", "index": key, "values": {"name": "lambda", "policy": LAMBDA_WRITE}}]
        changes.append({"address": address("aws_iam_role_policy", key), "type": "aws_iam_role_policy",
                        "change": {"actions": ["create"], "after_unknown": {"id": True, "role": True}}})
    configured: dict[str, Any] = {"resources": [
        {"address": "aws_iam_role.r", "mode": "managed", "type": "aws_iam_role", "name": "r",
         "expressions": {"name": {"references": ["each.key"]}, "assume_role_policy": {"constant_value": LAMBDA_TRUST},
                         "inline_policy": [{"name": {"constant_value": "pass"},
                                            "policy": {"constant_value": PASS_ROLE}}]}},
        {"address": "aws_iam_role_policy.p", "mode": "managed", "type": "aws_iam_role_policy", "name": "p",
         "expressions": {"name": {"constant_value": "lambda"}, "role": {"references": role_references},
                         "policy": {"constant_value": LAMBDA_WRITE}}}]}
    planned: dict[str, Any] = {"resources": resources}
    if module:
        planned = {"child_modules": [{"address": module.rstrip("."), "resources": resources}]}
        configured = {"module_calls": {"m": {"module": configured}}}
    return {"format_version": "1.2", "planned_values": {"root_module": planned}, "resource_changes": changes,
            "configuration": {"root_module": configured}}


def escalating_roles(plan: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(the roles IAM012 names, what was not checked) of the plan."""
    loaded = load_text(json.dumps(plan), "plan.json", LoadOptions())
    return sorted(f.subject["name"] for f in findings(loaded) if f.rule_id == "IAM012" and f.subject), \
        loaded.not_checked


@pytest.mark.parametrize(("keys", "own_key", "module"), [
    (["a", "b"], "each.key", ""),
    ([0, 1], "count.index", ""),
    (["a", "b"], "each.key", "module.m[0]."),
])
def test_a_plan_gives_a_role_policy_to_the_role_instance_of_its_own_key(keys: list[Any], own_key: str,
                                                                          module: str) -> None:
    """``role = aws_iam_role.r[each.key].id``: the plan's references are only ``aws_iam_role.r`` and ``each.key``.
    The policy goes to the role with the policy's own key, so the escalation split between the role's PassRole
    and the policy's Lambda actions is found. It was checked on its own, without a word."""
    assert escalating_roles(instances_plan(keys, ["aws_iam_role.r", own_key], module)) == (
        [f"app-{key}" for key in keys], [])


def test_a_plan_gives_a_role_policy_to_the_role_instance_its_reference_names() -> None:
    """``role = aws_iam_role.r["b"].id`` in every instance of the policy: both go to role app-b."""
    plan = instances_plan(["a", "b"], ['aws_iam_role.r["b"].id', 'aws_iam_role.r["b"]', "aws_iam_role.r"])
    loaded = load_text(json.dumps(plan), "plan.json", LoadOptions())
    assert {p.name: [policy.label for policy in p.inline_policies] for p in loaded.principals} == {
        "app-a": ["inline:pass"],
        "app-b": ["inline:pass", 'aws_iam_role_policy.p["a"].policy', 'aws_iam_role_policy.p["b"].policy']}


@pytest.mark.parametrize("references", [
    ["aws_iam_role.r", "each.value"],  # aws_iam_role.r[each.value.role]
    ["aws_iam_role.r", "local.swap", "each.key"],  # aws_iam_role.r[local.swap[each.key]]: maybe another key
])
def test_a_plan_lists_a_role_policy_whose_role_it_cannot_tell(references: list[str]) -> None:
    """Which role instance is not in the plan's references."""
    assert escalating_roles(instances_plan(["a"], references)) == ([], [
        f'plan.json: aws_iam_role_policy.p["a"].role = {" ".join(references)}: the policy is checked on its own, '
        "not with the other policies of its role (its value is known only after apply: check the state, "
        "`terraform show -json`, once applied)"])


# --------------------------------------------------------------------------- drift


SERVER_ROLE = resolve_baseline("upsolver/server-role")
ORG = {"UpsolverOrgId": "acme01"}


def drift(text: str, name: str = "main.tf") -> list[tuple[str, dict[str, Any]]]:
    (role,) = load_tf(text, name).principals
    return [(f.rule_id, dict(f.details)) for f in compare_principal(SERVER_ROLE, role, CATALOG, ORG).findings]


def test_drift_sees_the_managed_policies_attachments_attach() -> None:
    text = (ATTACHMENTS / "upsolver-server-role.tf").read_text(encoding="utf-8")
    assert drift(text) == []
    added = drift(text + f'''
resource "aws_iam_role_policy_attachment" "admin" {{
  role       = aws_iam_role.upsolver_server.name
  policy_arn = "{AWS}AdministratorAccess"
}}
''')
    assert [(rule, details["added_managed_policies"]) for rule, details in added] == [
        ("IAM906", [f"{AWS}AdministratorAccess"])]


def test_drift_counts_a_customer_policy_attached_to_the_role() -> None:
    text = (ATTACHMENTS / "upsolver-server-role.tf").read_text(encoding="utf-8") + '''
resource "aws_iam_policy" "extra" {
  name   = "extra"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "iam:CreateAccessKey",
    Resource = "*" }] })
}
resource "aws_iam_role_policy_attachment" "extra" {
  role       = aws_iam_role.upsolver_server.name
  policy_arn = aws_iam_policy.extra.arn
}
'''
    found = drift(text)
    assert [rule for rule, _ in found] == ["IAM901"]
    assert [added["action"] for added in found[0][1]["added_actions"]] == ["iam:CreateAccessKey"]


def test_drift_of_a_plan_with_managed_policy_arns_and_an_attachment(tmp_path: Path) -> None:
    path = ATTACHMENTS / "upsolver-plan.json"
    (role,) = load_paths([str(path)]).principals
    assert not compare_principal(SERVER_ROLE, role, CATALOG, ORG).findings
    plan = json.loads(path.read_text(encoding="utf-8"))
    plan["planned_values"]["root_module"]["resources"][0]["values"]["managed_policy_arns"].append(
        f"{AWS}AdministratorAccess")
    changed = tmp_path / "plan.json"
    changed.write_text(json.dumps(plan), encoding="utf-8")
    (role,) = load_paths([str(changed)]).principals
    found = compare_principal(SERVER_ROLE, role, CATALOG, ORG).findings
    assert [(f.rule_id, f.severity.value, f.details["added_managed_policies"]) for f in found] == [
        ("IAM906", "critical", [f"{AWS}AdministratorAccess"])]


_PERMISSION_SET = '''resource "aws_ssoadmin_permission_set" "ops" {
  name         = "Ops"
  instance_arn = "arn:aws:sso:::instance/ssoins-1"
}

resource "aws_ssoadmin_managed_policy_attachment" "ops" {
  instance_arn       = "arn:aws:sso:::instance/ssoins-1"
  permission_set_arn = aws_ssoadmin_permission_set.ops.arn
  managed_policy_arn = "MANAGED"
}

resource "aws_ssoadmin_permission_set_inline_policy" "ops" {
  instance_arn       = "arn:aws:sso:::instance/ssoins-1"
  permission_set_arn = aws_ssoadmin_permission_set.ops.arn
  inline_policy = jsonencode({ Version = "2012-10-17", Statement = [
    { Effect = "Allow", Action = ["iam:PassRole", "ec2:RunInstances"], Resource = "*" }] })
}
'''
_BOUNDARY = '''
resource "aws_ssoadmin_permissions_boundary_attachment" "ops" {
  instance_arn       = "arn:aws:sso:::instance/ssoins-1"
  permission_set_arn = aws_ssoadmin_permission_set.ops.arn
  permissions_boundary {
    BOUNDARY
  }
}
'''


@pytest.mark.parametrize(("managed", "boundary", "severity"), [
    (f"{AWS}AdministratorAccess", None, "critical"),
    (f"{AWS}PowerUserAccess", None, "critical"),  # with iam:PassRole on every resource in its inline policy
    (f"{AWS}PowerUserAccess", f'managed_policy_arn = "{AWS}ReadOnlyAccess"', "medium"),
])
def test_a_permission_set_is_checked_as_the_role_it_becomes(managed: str, boundary: str | None,
                                                            severity: str) -> None:
    text = _PERMISSION_SET.replace("MANAGED", managed) + (_BOUNDARY.replace("BOUNDARY", boundary) if boundary else "")
    loaded = load_text(text, "sso.tf", LoadOptions())
    [role] = loaded.principals
    assert (role.kind, role.name) == ("role", "AWSReservedSSO_Ops_{{unique suffix}}")
    assert role.attached_policy_arns == (managed,) and len(role.inline_policies) == 1
    assert role.missing_boundary_arn == (f"{AWS}ReadOnlyAccess" if boundary else None)
    found = findings(loaded)
    [attached] = [f for f in found if f.rule_id == "IAM006"]
    assert (attached.severity.value, attached.location.line) == (severity, 9)
    assert any(f.rule_id == "IAM012" and f.message.startswith("role AWSReservedSSO_Ops_") for f in found)


def test_what_a_permission_set_takes_from_each_account_is_listed_as_not_checked() -> None:
    text = _PERMISSION_SET.replace("MANAGED", f"{AWS}ReadOnlyAccess") + _BOUNDARY.replace(
        "BOUNDARY", "customer_managed_policy_reference {\n      name = \"ops-boundary\"\n    }") + '''
resource "aws_ssoadmin_customer_managed_policy_attachment" "ops" {
  instance_arn       = "arn:aws:sso:::instance/ssoins-1"
  permission_set_arn = aws_ssoadmin_permission_set.ops.arn
  customer_managed_policy_reference {
    name = "ops-extra"
  }
}
'''
    loaded = load_text(text, "sso.tf", LoadOptions())
    assert [line.partition(": ")[2].split(":")[0] for line in loaded.not_checked if "customer" in line] == [
        "aws_ssoadmin_permissions_boundary_attachment.ops", "aws_ssoadmin_customer_managed_policy_attachment.ops"]
