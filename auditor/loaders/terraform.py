"""Terraform plan or state JSON (``terraform show -json``), modules included.

Terraform stores policy documents as JSON strings inside the plan; findings in them
point at the line of that string in the plan file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.loaders.parse import MAX_NESTING, ParseError, parse_embedded_json
from auditor.loaders.result import LoadResult
from auditor.model import Policy, PolicyKind, Principal, Problem, Subject
from auditor.normalize import DEFAULT_MAX_STATEMENTS, normalize_policy
from auditor.source import Source, join_pointer

# resource type -> [(attribute, kind)]
POLICY_ATTRIBUTES: dict[str, list[tuple[str, PolicyKind]]] = {
    "aws_iam_policy": [("policy", PolicyKind.IDENTITY)],
    "aws_iam_role": [("assume_role_policy", PolicyKind.TRUST)],
    "aws_iam_role_policy": [("policy", PolicyKind.IDENTITY)],
    "aws_iam_user_policy": [("policy", PolicyKind.IDENTITY)],
    "aws_iam_group_policy": [("policy", PolicyKind.IDENTITY)],
    "aws_s3_bucket_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_kms_key": [("policy", PolicyKind.RESOURCE)],
    "aws_sqs_queue_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_sqs_queue": [("policy", PolicyKind.RESOURCE)],
    "aws_sns_topic_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_sns_topic": [("policy", PolicyKind.RESOURCE)],
    "aws_iam_policy_document": [("json", PolicyKind.IDENTITY)],
}
OWNER_ATTRIBUTE = {
    "aws_iam_role_policy": ("role", "role"),
    "aws_iam_user_policy": ("user", "user"),
    "aws_iam_group_policy": ("group", "group"),
}


def is_terraform_plan(data: Any) -> bool:
    return isinstance(data, dict) and "format_version" in data and (
        "planned_values" in data or "values" in data or "resource_changes" in data
    )


def _modules(module: Any, pointer: str) -> Iterator[tuple[dict[str, Any], str]]:
    if not isinstance(module, dict):
        return
    yield module, pointer
    children = module.get("child_modules")
    if isinstance(children, list):
        for index, child in enumerate(children):
            yield from _modules(child, join_pointer(join_pointer(pointer, "child_modules"), index))


def load_terraform(plan: dict[str, Any], source: Source, max_nesting: int = MAX_NESTING,
                   max_statements: int = DEFAULT_MAX_STATEMENTS) -> LoadResult:
    result = LoadResult(files=1)
    limits = (max_nesting, max_statements)
    root_key = "planned_values" if isinstance(plan.get("planned_values"), dict) else "values"
    root = plan.get(root_key)
    if not isinstance(root, dict):
        result.not_checked.append(f"{source.display_path}: plan has no planned_values or values")
        return result
    roles: dict[str, dict[str, Any]] = {}
    inline_by_role: dict[str, list[Policy]] = {}
    unknown = _unknown_until_apply(plan)
    for module, module_pointer in _modules(root.get("root_module"), join_pointer(f"/{root_key}", "root_module")):
        resources = module.get("resources")
        if not isinstance(resources, list):
            continue
        for index, resource in enumerate(resources):
            if not isinstance(resource, dict):
                continue
            rtype = resource.get("type")
            values = resource.get("values")
            if not isinstance(rtype, str) or rtype not in POLICY_ATTRIBUTES or not isinstance(values, dict):
                continue
            address = str(resource.get("address", f"{rtype}.{resource.get('name')}"))
            values_pointer = join_pointer(join_pointer(join_pointer(module_pointer, "resources"), index), "values")
            name = values.get("name") or address
            kind_name = "role" if rtype == "aws_iam_role" else "policy"
            subject = Subject(kind_name, str(name), values.get("arn") if isinstance(values.get("arn"), str) else None)
            for attribute, kind in POLICY_ATTRIBUTES[rtype]:
                if values.get(attribute) is None and attribute in unknown.get(address, ()):
                    result.not_checked.append(f"{source.display_path}: {address}.{attribute} is known only after "
                                              "apply (check the state, `terraform show -json`, once applied)")
                    continue
                policy = _policy(values.get(attribute), kind, source, join_pointer(values_pointer, attribute),
                                 subject, f"{address}.{attribute}", result, limits)
                if policy is None:
                    continue
                if rtype == "aws_iam_role":
                    roles[str(name)] = {"trust": policy, "pointer": values_pointer, "address": address}
                owner = OWNER_ATTRIBUTE.get(rtype)
                if owner and owner[0] == "role" and isinstance(values.get("role"), str):
                    inline_by_role.setdefault(values["role"], []).append(policy)
            if rtype == "aws_iam_role":
                inline = values.get("inline_policy")
                if isinstance(inline, list):
                    for i_index, item in enumerate(inline):
                        if isinstance(item, dict):
                            policy = _policy(
                                item.get("policy"), PolicyKind.IDENTITY, source,
                                join_pointer(join_pointer(join_pointer(values_pointer, "inline_policy"), i_index),
                                             "policy"),
                                subject, f"inline:{item.get('name', i_index)}", result, limits,
                            )
                            if policy is not None:
                                inline_by_role.setdefault(str(name), []).append(policy)
                result.counts["roles"] += 1
    for name, role in roles.items():
        result.principals.append(
            Principal("role", name, "", source, role["pointer"], inline_policies=tuple(inline_by_role.get(name, ())),
                      trust_policy=role["trust"])
        )
    return result


def _unknown_until_apply(plan: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Resource address -> top-level attributes whose planned value Terraform knows only after apply."""
    found: dict[str, frozenset[str]] = {}
    changes = plan.get("resource_changes")
    for change in changes if isinstance(changes, list) else []:
        if not isinstance(change, dict) or not isinstance(change.get("change"), dict):
            continue
        after_unknown = change["change"].get("after_unknown")
        if isinstance(after_unknown, dict) and isinstance(change.get("address"), str):
            found[change["address"]] = frozenset(k for k, v in after_unknown.items() if v is True)
    return found


def _policy(
    value: Any, kind: PolicyKind, source: Source, pointer: str, subject: Subject, label: str, result: LoadResult,
    limits: tuple[int, int] = (MAX_NESTING, DEFAULT_MAX_STATEMENTS),
) -> Policy | None:
    if value is None or value == "":
        return None
    max_nesting, max_statements = limits
    document = value
    if isinstance(value, str):
        try:
            document = parse_embedded_json(value, max_nesting)
        except ParseError as exc:
            # a value unknown until apply is left out of the plan, not written as some other string
            result.document_problems.append(
                (source, Problem("syntax-error", f"{label} is not a JSON policy document: {exc.message}", pointer)))
            return None
    policy = normalize_policy(document, kind, source, pointer, subject=subject, label=label,
                              max_statements=max_statements)
    result.policies.append(policy)
    return policy
