"""The permission model: expansion, NotAction complements, Deny across policies, conditions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.catalog import load_catalog
from auditor.loaders import LoadOptions, load_text
from auditor.model import Policy
from auditor.permissions import PermissionModel, _cover_regex, covers_every_resource, pattern_covers

V = '{"Version": "2012-10-17", "Statement": ['


@pytest.fixture(scope="module")
def model() -> PermissionModel:
    return PermissionModel(load_catalog(), now=datetime(2026, 1, 1, tzinfo=timezone.utc))


def policy(statements: str) -> Policy:
    loaded = load_text(V + statements + "]}", "p.json", LoadOptions())
    assert len(loaded.policies) == 1
    return loaded.policies[0]


def test_wildcards_and_letter_case_expand_like_iam(model: PermissionModel) -> None:
    effective = model.effective([policy('{"Effect": "Allow", "Action": ["S3:getobj?ct", "iam:List*"], '
                                        '"Resource": "*"}')])
    assert effective.is_allowed("s3:GetObject")
    assert effective.is_allowed("IAM:LISTROLES")
    assert not effective.is_allowed("s3:GetObjectAcl")
    assert not effective.is_allowed("iam:GetRole")


def test_not_action_is_the_complement_over_the_catalogue(model: PermissionModel) -> None:
    effective = model.effective([policy('{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}')])
    assert effective.is_allowed("ec2:RunInstances")
    assert effective.is_allowed("kms:Decrypt")
    assert not effective.is_allowed("iam:PassRole")
    assert len(effective.allowed()) > 0.95 * len(model.all_actions)


def test_unconditional_deny_in_another_policy_removes_the_grant(model: PermissionModel) -> None:
    allow = policy('{"Effect": "Allow", "Action": "*", "Resource": "*"}')
    deny = policy('{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}')
    effective = model.effective([allow, deny])
    assert not effective.is_allowed("iam:PutUserPolicy")
    assert effective.is_allowed("s3:GetObject")
    assert effective.grants_for("iam:PutUserPolicy") == ()


def test_deny_on_fewer_resources_is_recorded_but_does_not_remove(model: PermissionModel) -> None:
    effective = model.effective([policy(
        '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},'
        '{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"}')])
    (grant,) = effective.grants_for("s3:GetObject")
    assert len(grant.denials) == 1


def test_deny_on_a_superset_of_resources_removes(model: PermissionModel) -> None:
    effective = model.effective([policy(
        '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/x/*"},'
        '{"Effect": "Deny", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}')])
    assert not effective.is_allowed("s3:GetObject")


def test_conditional_deny_is_recorded_not_applied(model: PermissionModel) -> None:
    effective = model.effective([policy(
        '{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},'
        '{"Effect": "Deny", "Action": "*", "Resource": "*", '
        '"Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}')])
    (grant,) = effective.grants_for("iam:PassRole")
    assert [d.statement.index for d in grant.denials] == [1]
    assert effective.denials_for("iam:PassRole")


def test_deny_not_action_denies_the_complement(model: PermissionModel) -> None:
    effective = model.effective([policy(
        '{"Effect": "Allow", "Action": ["s3:GetObject", "iam:PassRole"], "Resource": "*"},'
        '{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}')])
    assert effective.is_allowed("s3:GetObject")
    assert not effective.is_allowed("iam:PassRole")


def test_closed_time_window_grants_nothing_and_open_one_grants(model: PermissionModel) -> None:
    closed = policy('{"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*", '
                    '"Condition": {"DateLessThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}}')
    opened = policy('{"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*", '
                    '"Condition": {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}}')
    assert not model.effective([closed]).is_allowed("iam:CreatePolicyVersion")
    assert model.effective([opened]).is_allowed("iam:CreatePolicyVersion")


def test_allowed_among_limits_to_the_given_actions(model: PermissionModel) -> None:
    effective = model.effective([policy('{"Effect": "Allow", "Action": "*", "Resource": "*"}')])
    assert effective.allowed({"iam:passrole", "nope:nothing"}) == frozenset({"iam:passrole"})


def test_compilation_is_memoised_per_policy(model: PermissionModel) -> None:
    document = policy('{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}')
    assert model.compile(document) is model.compile(document)
    first = model.compile(document)[0].actions
    assert model.expand(["S3:*"]) is first


@pytest.mark.parametrize(("outer", "inner", "covers"), [
    ("*", "arn:aws:s3:::b", True),
    ("arn:aws:s3:::b/*", "arn:aws:s3:::b/x*", True),
    ("arn:aws:s3:::b/x?", "arn:aws:s3:::b/x*", False),
    ("arn:aws:s3:::b/x/*", "arn:aws:s3:::b/*", False),
    ("arn:aws:iam::*:role/*", "arn:aws:iam::123456789012:role/a", True),
])
def test_pattern_covers(outer: str, inner: str, covers: bool) -> None:
    assert pattern_covers(outer, inner) is covers


def test_repeated_statements_cost_once_and_subtract_like_one(model: PermissionModel) -> None:
    """Hundreds of copies of the same NotAction Allow and Deny (a fuzzed export had them) are evaluated as the
    handful of distinct statements they are: same grants as one copy, and one shared action set per distinct
    Allow instead of one each (it used to take minutes and gigabytes)."""
    excluded = ("iam:CreateUser", "iam:DeleteUser", "iam:GetUser", "iam:ListUsers")
    allows = [f'{{"Effect": "Allow", "NotAction": "{excluded[j % 4]}", "Resource": "*"}}' for j in range(200)]
    denies = ['{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}'] * 200
    many = model.effective([policy(", ".join(allows + denies))])
    few = model.effective([policy(", ".join(allows[:4] + denies[:1]))])
    assert len(many.grants) == 200
    assert {g.actions for g in many.grants} == {g.actions for g in few.grants}
    assert len({id(g.actions) for g in many.grants}) == 4
    assert not many.is_allowed("s3:GetObject") and many.is_allowed("ec2:RunInstances")
    assert many.allowed() == model.all_actions - model.expand(("s3:*",))
    assert not any("iam:createuser" in g.actions for g in many.grants if g.statement.not_actions == excluded[:1])


@pytest.mark.parametrize("resource", ["*", "arn:*", "arn:aws:*", "arn:aws:*:*:*:*", "arn:*:*:*:*:*",
                                      "arn:aws:**:*:*:*"])
def test_patterns_that_match_every_resource(resource: str) -> None:
    assert covers_every_resource(resource)


@pytest.mark.parametrize("resource", ["arn:aws:s3:::*", "arn:aws:*:*:*:*/*", "arn:aws:*::*:*", "arn:aws", "*/*",
                                      "arn:aws:*:us-east-1:*:*", "arn:aws:*:*:123456789012:*"])
def test_patterns_that_leave_some_resources_out(resource: str) -> None:
    assert not covers_every_resource(resource)


def test_deny_on_every_arn_removes_the_grant(model: PermissionModel) -> None:
    allow = policy('{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}, '
                   '{"Effect": "Deny", "Action": "s3:*", "Resource": "arn:*"}')
    assert not model.effective([allow]).grants



@settings(max_examples=500, deadline=None)
@given(st.text("ab/*?", max_size=6), st.text("ab/*?", max_size=6))
def test_the_literal_head_shortcut_never_changes_pattern_covers(outer: str, inner: str) -> None:
    by_regex = outer == "*" or outer == inner or _cover_regex(outer).match(inner) is not None
    assert pattern_covers(outer, inner) == by_regex


@pytest.mark.parametrize(("action", "denied_on", "removed"), [
    ("iam:PassRole", "arn:aws:iam::*:role/*", True),  # the one type PassRole takes, every ARN of it
    ("iam:PassRole", "arn:aws:iam::*:role/app-*", False),
    ("ec2:RunInstances", "arn:aws:ec2:*:*:instance/*", True),  # every launch names a new instance
    ("ec2:RunInstances", "arn:aws:ec2:*:*:capacity-reservation/*", False),  # optional: a launch may name none
    ("s3:GetObject", "arn:aws:s3:::*/*", False),  # objects through an access point stay readable
])
def test_a_deny_on_every_arn_of_a_type_the_action_needs_removes_it(
        model: PermissionModel, action: str, denied_on: str, removed: bool) -> None:
    effective = model.effective([policy(
        f'{{"Effect": "Allow", "Action": "{action}", "Resource": "*"}}, '
        f'{{"Effect": "Deny", "Action": "{action}", "Resource": "{denied_on}"}}')])
    assert effective.is_allowed(action) is not removed


def test_a_conditional_deny_on_every_role_removes_nothing(model: PermissionModel) -> None:
    effective = model.effective([policy(
        '{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}, {"Effect": "Deny", "Action": '
        '"iam:PassRole", "Resource": "arn:aws:iam::*:role/*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": '
        '"false"}}}')])
    assert effective.is_allowed("iam:PassRole")


@pytest.mark.parametrize(("excepted", "removed"), [
    ("arn:aws:s3:::x/*", True),  # every IAM policy ARN falls under the Deny: only S3 objects are excepted
    ("arn:aws:iam::*:policy/team-*", False),  # the exception can be the policy asked for
    ("*", False),
])
def test_a_deny_with_not_resource_of_another_service_removes_the_grant(
        model: PermissionModel, excepted: str, removed: bool) -> None:
    effective = model.effective([policy(
        '{"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*"}, '
        f'{{"Effect": "Deny", "Action": "*", "NotResource": "{excepted}"}}')])
    assert effective.is_allowed("iam:CreatePolicyVersion") is not removed


@pytest.mark.parametrize(("action", "denied_on", "account", "removed"), [
    ("iam:PassRole", "arn:aws:iam::111122223333:role/*", "111122223333", True),  # every role it can pass
    ("iam:PassRole", "arn:aws:iam::111122223333:role/*", None, False),  # whose account? unknown
    ("iam:PassRole", "arn:aws:iam::444455556666:role/*", "111122223333", False),
    ("iam:PassRole", "arn:aws:iam::111122223333:role/app/*", "111122223333", False),
    ("sts:AssumeRole", "arn:aws:iam::111122223333:role/*", "111122223333", False),  # reaches other accounts' roles
])
def test_a_deny_on_every_role_of_the_callers_own_account_removes_an_iam_action(
        model: PermissionModel, action: str, denied_on: str, account: str | None, removed: bool) -> None:
    effective = model.effective([policy(
        f'{{"Effect": "Allow", "Action": "{action}", "Resource": "*"}}, '
        f'{{"Effect": "Deny", "Action": "{action}", "Resource": "{denied_on}"}}')], account=account)
    assert effective.is_allowed(action) is not removed


@pytest.mark.parametrize(("allowed_on", "granted_on"), [
    ('"Resource": "*"', ("arn:aws:iam::111122223333:role/app/*",)),
    ('"Resource": "arn:aws:iam::111122223333:role/*"', ("arn:aws:iam::111122223333:role/app/*",)),
    ('"Resource": "arn:aws:iam::111122223333:role/app/web"', ("arn:aws:iam::111122223333:role/app/web",)),
    ('"Resource": "arn:aws:iam::111122223333:role/*-web"', ("arn:aws:iam::111122223333:role/*-web",)),  # they meet
    ('"NotResource": "arn:aws:iam::111122223333:role/ops/*"', ("arn:aws:iam::111122223333:role/app/*",)),
    ('"NotResource": "arn:aws:iam::111122223333:role/*"', None),  # the exceptions are all left out
    ('"Resource": "arn:aws:iam::111122223333:role/ops/*"', None),
])
def test_a_deny_with_not_resource_leaves_the_grant_on_its_exceptions(
        model: PermissionModel, allowed_on: str, granted_on: tuple[str, ...] | None) -> None:
    effective = model.effective([policy(
        f'{{"Effect": "Allow", "Action": ["iam:PassRole", "iam:GetRole"], {allowed_on}}}, '
        '{"Effect": "Deny", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::111122223333:role/app/*"}')])
    assert [grant.resources for grant in effective.grants_for("iam:PassRole")] == ([granted_on] if granted_on else [])
    (get_role,) = effective.grants_for("iam:GetRole")  # not denied: on what the Allow names
    assert get_role.source is effective.grants[-1].source
    assert "iam:passrole" not in get_role.actions
    # the statement with the actions it has left on its own resources, and apart, what the Deny leaves on its
    # exceptions, on those (a per-statement rule must not read iam:PassRole as granted on every resource)
    parts = model.allows_left(effective.grants[0].policy)
    assert {part.statement.index for part in parts} == {0}
    assert [part.resources for part in parts if "iam:passrole" in part.actions] == ([granted_on] if granted_on else [])
    assert any("iam:getrole" in part.actions and "iam:passrole" not in part.actions for part in parts)


def test_a_boundary_lets_each_action_through_on_the_resources_it_names_for_it(model: PermissionModel) -> None:
    boundary = policy('{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/app/*"}, '
                      '{"Effect": "Allow", "Action": ["iam:PassRole", "iam:GetRole"], '
                      '"Resource": "arn:aws:iam::1:role/ci"}, '
                      '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}')
    effective = model.effective([policy('{"Effect": "Allow", "Action": "*", "Resource": "*"}')], boundary)
    assert {action: [grant.resources for grant in effective.grants_for(action)]
            for action in ("iam:PassRole", "iam:GetRole", "s3:GetObject")} == {
        "iam:PassRole": [("arn:aws:iam::1:role/app/*", "arn:aws:iam::1:role/ci")],
        "iam:GetRole": [("arn:aws:iam::1:role/ci",)],
        "s3:GetObject": [("*",)]}
    assert effective.allowed() == {"iam:passrole", "iam:getrole", "s3:getobject"}
    assert model.effective([policy('{"Effect": "Allow", "Action": "iam:GetRole", "Resource": '
                                   '"arn:aws:iam::1:role/ops/*"}')], boundary).grants == ()
