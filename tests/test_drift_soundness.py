"""The drift engine against a small, separate evaluator of IAM's allow/deny semantics.

Hypothesis draws a baseline policy and a target derived from it (statements kept,
dropped, split, mutated, added) over small universes: a few real actions, S3 ARNs
with wildcards, three condition keys. The evaluator below decides every request of a
finite universe (action x resource x condition context) for both policies; request
sets are bitmasks. Two properties:

* soundness: when the engine says "no new access", no request the target allows is
  denied by the baseline;
* witnesses: every action the engine reports as added (for certain) is allowed by
  the target and not by the baseline for some request.
"""

from __future__ import annotations

import itertools
import re
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.baselines import Baseline, BaselinePolicy, PrincipalSpec, Provenance
from auditor.catalog import load_catalog
from auditor.drift import compare_policy
from auditor.model import PolicyKind
from auditor.normalize import normalize_policy
from auditor.source import Source

EXAMPLES = int(__import__("os").environ.get("DRIFT_EXAMPLES", "5000"))

# --------------------------------------------------------------------------- the reference evaluator


@cache
def wildcard(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def action_matches(statement: dict[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(wildcard(p, True).match(action) for p in as_list(statement["Action"]))
    return not any(wildcard(p, True).match(action) for p in as_list(statement["NotAction"]))


def resource_matches(statement: dict[str, Any], resource: str) -> bool:
    if "Resource" in statement:
        return any(wildcard(p).match(resource) for p in as_list(statement["Resource"]))
    return not any(wildcard(p).match(resource) for p in as_list(statement["NotResource"]))


def arn_like(pattern: str, value: str) -> bool:
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != len(value_parts):
        return False
    return all(wildcard(p).match(v) for p, v in zip(pattern_parts, value_parts, strict=True))


def condition_holds(operator: str, key: str, values: list[Any], context: dict[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    texts = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    if base == "Null":
        return any((key not in context) == (t.lower() == "true") for t in texts)
    if key not in context:
        return if_exists
    value = context[key]
    if base == "StringEquals":
        return value in texts
    if base == "StringLike":
        return any(wildcard(t).match(value) for t in texts)
    if base == "ArnLike":
        return any(arn_like(t, value) for t in texts)
    if base == "Bool":
        return value.lower() in [t.lower() for t in texts]
    raise AssertionError(f"operator {operator} is not in the test universe")


def conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, block in statement.get("Condition", {}).items():
        for key, values in block.items():
            if not condition_holds(operator, key, as_list(values), context):
                return False
    return True


# --------------------------------------------------------------------------- universes

REQUEST_ACTIONS = (
    "s3:GetObject", "s3:GetObjectAcl", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "kms:Decrypt",
    "ec2:RunInstances",
)
ACTION_PATTERNS = (
    "s3:GetObject", "s3:getobject", "S3:PutObject", "s3:DeleteObject", "s3:ListBucket", "kms:Decrypt",
    "ec2:RunInstances", "s3:Get*", "s3:*Object", "s3:*", "s3:GetObject?cl", "kms:*", "*", "s3:List*",
)
RESOURCE_PATTERNS = (
    "*", "arn:aws:s3:::b1", "arn:aws:s3:::b1/*", "arn:aws:s3:::b*", "arn:aws:s3:::b?", "arn:aws:s3:::b1/k?",
    "arn:aws:s3:::*", "arn:aws:s3:::b2/*", "arn:aws:s3:::*/k1", "arn:aws:s3:::b*/k*", "arn:aws:s3:::b1*",
)


def instances(pattern: str) -> list[str]:
    return [pattern.replace("*", fill).replace("?", single) for fill, single in (("", "q"), ("x", "1"), ("1/k1", "2"))]


RESOURCES = tuple(sorted(
    {"arn:aws:s3:::b1", "arn:aws:s3:::b2", "arn:aws:s3:::b1/k1", "arn:aws:s3:::b1/kx", "arn:aws:s3:::b2/k1",
     "arn:aws:s3:::bb", "arn:aws:s3:::c1", "arn:aws:s3:::b1/k1/deep", "arn:aws:kms:us-east-1:111122223333:key/k1",
     "arn:aws:ec2:us-east-1:111122223333:instance/i-1"}
    | {r for p in RESOURCE_PATTERNS if p != "*" for r in instances(p)}
))


def asked_for_on(action: str, resource: str) -> bool:
    """Whether IAM can ask for ``action`` on ``resource`` (its resource types): s3:ListBucket on a bucket, the
    object actions on objects, kms:Decrypt on a key, ec2:RunInstances on an instance."""
    service, _, name = action.lower().partition(":")
    if resource.startswith("arn:aws:s3:::"):
        is_object = "/" in resource[len("arn:aws:s3:::"):]
        return service == "s3" and (not is_object if name == "listbucket" else is_object)
    return resource.split(":")[2] == service
CONTEXT_VALUES = {
    "aws:RequestTag/team": ("a", "b", "ab"),
    "aws:SecureTransport": ("true", "false"),
    "aws:SourceArn": ("arn:aws:s3:::b1", "arn:aws:s3:::c1"),
}
CONTEXTS = tuple(
    {k: v for k, v in zip(CONTEXT_VALUES, combo, strict=True) if v is not None}
    for combo in itertools.product(*[(None, *values) for values in CONTEXT_VALUES.values()])
)
CONDITIONS = (
    ("StringEquals", "aws:RequestTag/team", ["a"]),
    ("StringEquals", "aws:RequestTag/team", ["a", "b"]),
    ("StringLike", "aws:RequestTag/team", ["a*"]),
    ("StringLike", "aws:RequestTag/team", ["?b", "b"]),
    ("StringEqualsIfExists", "aws:RequestTag/team", ["b"]),
    ("StringLikeIfExists", "aws:RequestTag/team", ["*b"]),
    ("Bool", "aws:SecureTransport", ["true"]),
    ("Bool", "aws:SecureTransport", [False]),
    ("BoolIfExists", "aws:SecureTransport", ["true"]),
    ("Null", "aws:SecureTransport", ["false"]),
    ("Null", "aws:RequestTag/team", ["true"]),
    ("ArnLike", "aws:SourceArn", ["arn:aws:s3:::b*"]),
    ("ArnLike", "aws:SourceArn", ["arn:aws:s3:::b1"]),
    ("ArnLikeIfExists", "aws:SourceArn", ["arn:aws:s3:::*"]),
    ("Null", "aws:SourceArn", ["true"]),
)
SLOTS = len(RESOURCES) * len(CONTEXTS)


@cache
def resource_bits(element: str, patterns: tuple[str, ...]) -> tuple[int, ...]:
    """Indexes of the universe's resources a Resource/NotResource element matches."""
    statement = {element: list(patterns)}
    return tuple(i for i, resource in enumerate(RESOURCES) if resource_matches(statement, resource))


@cache
def condition_bits(operator: str, key: str, values: tuple[Any, ...]) -> int:
    """The universe's contexts in which one condition holds, as bits."""
    return sum(1 << i for i, context in enumerate(CONTEXTS) if condition_holds(operator, key, list(values), context))


def slot_mask(statement: dict[str, Any]) -> int:
    """The (resource, context) pairs a statement matches, ignoring its actions, as bits."""
    contexts = (1 << len(CONTEXTS)) - 1
    for operator, block in statement.get("Condition", {}).items():
        for key, values in block.items():
            contexts &= condition_bits(operator, key, tuple(as_list(values)))
    element = "Resource" if "Resource" in statement else "NotResource"
    mask = 0
    for index in resource_bits(element, tuple(as_list(statement[element]))):
        mask |= contexts << (index * len(CONTEXTS))
    return mask


def allowed_for(document: dict[str, Any], action: str, masks: list[int] | None = None) -> int:
    """The (resource, context) requests for ``action`` the policy allows: explicit deny > allow > implicit deny."""
    masks = masks if masks is not None else [slot_mask(s) for s in document["Statement"]]
    allowed = denied = 0
    for statement, mask in zip(document["Statement"], masks, strict=True):
        if not action_matches(statement, action):
            continue
        if statement["Effect"] == "Deny":
            denied |= mask
        else:
            allowed |= mask
    return allowed & ~denied


@cache
def possible_requests(action: str) -> int:
    """The (resource, context) requests IAM can make for ``action``, as bits."""
    contexts = (1 << len(CONTEXTS)) - 1
    return sum(contexts << (index * len(CONTEXTS)) for index, resource in enumerate(RESOURCES)
               if asked_for_on(action, resource))


def allowed_requests(document: dict[str, Any]) -> int:
    masks = [slot_mask(s) for s in document["Statement"]]
    mask = 0
    for index, action in enumerate(REQUEST_ACTIONS):
        mask |= (allowed_for(document, action, masks) & possible_requests(action)) << (index * SLOTS)
    return mask


# --------------------------------------------------------------------------- generated policies

def one_or_list(values: list[str]) -> Any:
    return values[0] if len(values) == 1 else values


EFFECTS = st.sampled_from(("Allow", "Allow", "Allow", "Deny"))
ACTION_ELEMENTS = st.sampled_from(("Action", "Action", "Action", "NotAction"))
RESOURCE_ELEMENTS = st.sampled_from(("Resource", "Resource", "Resource", "NotResource"))
ACTION_LISTS = st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3)
RESOURCE_LISTS = st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3)
ONE_ACTION = st.sampled_from(ACTION_PATTERNS)
ONE_RESOURCE = st.sampled_from(RESOURCE_PATTERNS)
ONE_CONDITION = st.sampled_from(CONDITIONS)
CONDITION_LISTS = st.lists(ONE_CONDITION, max_size=2)
CHANGES = st.sampled_from(
    ("keep", "keep", "split", "drop", "resource", "action", "condition", "tweak", "deny", "new")
)
VALUE_POOLS = {key: [list(v) for _, k, v in CONDITIONS if k == key] for key in CONTEXT_VALUES}


@st.composite
def statements(draw: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": draw(EFFECTS)}
    statement[draw(ACTION_ELEMENTS)] = one_or_list(draw(ACTION_LISTS))
    statement[draw(RESOURCE_ELEMENTS)] = one_or_list(draw(RESOURCE_LISTS))
    conditions = draw(CONDITION_LISTS)
    if conditions:
        block: dict[str, dict[str, Any]] = {}
        for operator, key, values in conditions:
            block.setdefault(operator, {})[key] = one_or_list(values)
        statement["Condition"] = block
    return statement


STATEMENTS = statements()
STATEMENT_LISTS = st.lists(STATEMENTS, min_size=1, max_size=3)


def mutate(draw: Any, statement: dict[str, Any]) -> list[dict[str, Any]]:
    """The statement kept, split, narrowed, loosened or replaced in the target."""
    change = draw(CHANGES)
    if change == "keep":
        return [statement]
    if change == "drop":
        return []
    if change == "new":
        return [statement, draw(STATEMENTS)]
    if change == "split":
        values = as_list(statement.get("Action", []))
        if len(values) > 1:
            return [{**statement, "Action": [v]} for v in values]
        return [statement]
    if change == "deny":
        denied = {**statement, "Effect": "Deny"}
        if draw(st.booleans()):
            operator, key, values = draw(ONE_CONDITION)
            denied["Condition"] = {operator: {key: values}}
        return [statement, denied]
    copy = dict(statement)
    if change == "tweak" and "Condition" in copy:
        operator, block = next(iter(copy["Condition"].items()))
        key, values = next(iter(block.items()))
        if draw(st.booleans()):
            operator = operator[: -len("IfExists")] if operator.endswith("IfExists") else operator + "IfExists"
        else:
            values = draw(st.sampled_from(VALUE_POOLS[key]))
        copy["Condition"] = {**copy["Condition"], operator: {key: values}}
        if operator not in statement["Condition"]:
            del copy["Condition"][next(iter(statement["Condition"]))]
        return [copy]
    if change == "resource":
        copy.pop("Resource", None)
        copy.pop("NotResource", None)
        copy["Resource"] = draw(ONE_RESOURCE)
    elif change == "action":
        copy.pop("Action", None)
        copy.pop("NotAction", None)
        copy["Action"] = draw(ONE_ACTION)
    elif "Condition" in copy:
        copy.pop("Condition")
    else:
        operator, key, values = draw(ONE_CONDITION)
        copy["Condition"] = {operator: {key: values}}
    return [copy]


@st.composite
def policy_pairs(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    baseline = draw(STATEMENT_LISTS)
    target: list[dict[str, Any]] = []
    for statement in baseline:
        target += mutate(draw, statement)
    if target:
        order = draw(st.permutations(range(len(target))))
        target = [target[i] for i in order]
    else:
        target = [draw(STATEMENTS)]
    return ({"Version": "2012-10-17", "Statement": baseline}, {"Version": "2012-10-17", "Statement": target})


PAIRS = policy_pairs()


# --------------------------------------------------------------------------- the engine under test

CATALOG = load_catalog()


def as_baseline(document: dict[str, Any]) -> Baseline:
    return Baseline(
        id="test/generated", revision="1", default=True, title="generated", vendor="test",
        principal=PrincipalSpec("role"), provenance=Provenance("generated"),
        policies=(BaselinePolicy("generated", "identity", document),),
    )


def drift(baseline: dict[str, Any], target: dict[str, Any]) -> Any:
    policy = normalize_policy(target, PolicyKind.IDENTITY, Source("target.json"))
    return compare_policy(as_baseline(baseline), policy, CATALOG)


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(PAIRS)
def test_no_new_access_means_the_target_allows_nothing_more(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    baseline, target = pair
    result = drift(baseline, target)
    if result.new_access:
        return
    extra = allowed_requests(target) & ~allowed_requests(baseline)
    assert extra == 0, f"engine said {result.verdict!r} but the target allows more: {decode(extra)}"


@SETTINGS
@given(PAIRS)
def test_every_added_action_is_allowed_by_the_target_alone(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    baseline, target = pair
    result = drift(baseline, target)
    target_masks = [slot_mask(s) for s in target["Statement"]]
    baseline_masks = [slot_mask(s) for s in baseline["Statement"]]
    for finding in result.findings:
        if finding.rule_id != "IAM901":
            continue
        for row in finding.details.get("added_actions", []):
            action = row["action"]
            assert allowed_for(target, action, target_masks) & ~allowed_for(baseline, action, baseline_masks), (
                f"{action} reported as added, but no request for it is allowed by the target alone"
            )


def decode(mask: int) -> list[tuple[str, str, dict[str, str]]]:
    found = []
    for bit in range(mask.bit_length()):
        if mask >> bit & 1:
            action, rest = divmod(bit, SLOTS)
            resource, context = divmod(rest, len(CONTEXTS))
            found.append((REQUEST_ACTIONS[action], RESOURCES[resource], CONTEXTS[context]))
            if len(found) == 3:
                break
    return found


def test_the_evaluator_itself() -> None:
    document = {"Statement": [
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b1/*",
         "Condition": {"StringLike": {"aws:RequestTag/team": "a*"}}},
        {"Effect": "Deny", "NotAction": "s3:GetObjectAcl", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}
    allowed = allowed_for(document, "s3:GetObject")
    slot = RESOURCES.index("arn:aws:s3:::b1/k1") * len(CONTEXTS)
    by_context = {i: bool(allowed >> (slot + i) & 1) for i in range(len(CONTEXTS))}
    for index, context in enumerate(CONTEXTS):
        expected = context.get("aws:RequestTag/team", "").startswith("a") and \
            context.get("aws:SecureTransport") != "false"
        assert by_context[index] == expected, context
    assert allowed_for(document, "s3:PutObject") == 0
    assert condition_holds("StringEqualsIfExists", "k", ["x"], {}) is True
    assert condition_holds("Null", "k", ["true"], {}) is True
    assert condition_holds("ArnLike", "k", ["arn:aws:s3:::b*"], {"k": "arn:aws:s3:::b1"}) is True
    assert condition_holds("ArnLike", "k", ["arn:aws:*"], {"k": "arn:aws:s3:::b1"}) is False
