"""Terraform plan or state JSON (``terraform show -json``), modules included.

Terraform stores policy documents as JSON strings inside the plan; findings in them
point at the line of that string in the plan file. Roles, users and groups get their inline
policies and the managed policies attachments attach, matched by the planned names; a value
known only after apply is matched by the references of the plan's ``configuration``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from auditor.loaders.lambda_permission import REQUIRED_PROPERTIES, TERRAFORM_ARGUMENTS, permission_policy
from auditor.loaders.parse import MAX_NESTING, ParseError, parse_embedded_json
from auditor.loaders.result import LoadResult
from auditor.loaders.terraform_common import (
    AWS_MANAGED_ARN,
    EMPTY_DOCUMENT_DELETES,
    KMS_ALIAS,
    KMS_KEY_POLICY,
    LAMBDA_PERMISSION,
    MANAGED_POLICY,
    NOT_RESOURCES,
    ORGANIZATION_POLICY,
    OWNER_ATTRIBUTE,
    POLICY_ATTRIBUTES,
    POLICY_DOCUMENT,
    PRINCIPAL_RESOURCES,
    RESOURCE_IMPLIED_TYPES,
    ROLE_MANAGED_POLICY_ARNS,
    UNIQUE_SUFFIX,
    Ref,
    TerraformPrincipals,
    json_object,
)
from auditor.model import IAM_ORGANIZATION_POLICY_TYPES, Policy, PolicyKind, Problem, Subject
from auditor.normalize import DEFAULT_MAX_STATEMENTS, looks_like_policy, normalize_policy
from auditor.source import Source, join_pointer


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


AFTER_APPLY = "its value is known only after apply: check the state, `terraform show -json`, once applied"
_INDEX = re.compile(r"\[[^\]]*\]")


class _PlanSource(Source):
    """The plan, where a principal is located: its attached policies' pointers (``.../ManagedPolicyArns/N``, which
    the plan does not have) stand for where the plan attaches them."""

    __slots__ = ("base", "extra")

    def __init__(self, base: Source) -> None:
        super().__init__(base.display_path, base.text, None, base.line_offset, base.column_offset)
        self.base = base
        self.extra: dict[str, tuple[int, int]] = {}

    def locate(self, pointer: str) -> tuple[int, int]:
        found = self.extra.get(pointer)
        return found if found is not None else self.base.locate(pointer)

    def has_pointer(self, pointer: str) -> bool:
        return pointer in self.extra or self.base.has_pointer(pointer)


def load_terraform(plan: dict[str, Any], source: Source, max_nesting: int = MAX_NESTING,
                   max_statements: int = DEFAULT_MAX_STATEMENTS) -> LoadResult:
    result = LoadResult(files=1)
    root_key = "planned_values" if isinstance(plan.get("planned_values"), dict) else "values"
    root = plan.get(root_key)
    if not isinstance(root, dict):
        result.not_checked.append(f"{source.display_path}: plan has no planned_values or values")
        return result
    principals = TerraformPrincipals(source.display_path, "plan", AFTER_APPLY)
    arguments = _Arguments(source, _unknown_until_apply(plan), _configured_references(plan))
    reader = _PlanReader(source, result, (max_nesting, max_statements), principals, arguments)
    planned = list(_planned_resources(root, root_key))
    _plan_shape_problems(root, root_key, source, result)
    aliases = _kms_aliases(planned, arguments)
    checked_where_used = _documents_used_verbatim(planned, arguments)
    for rtype, address, values, values_pointer, resource in planned:
        managed = resource.get("mode", "managed") == "managed"
        if managed or address not in checked_where_used:
            reader.resource(_PlannedResource(rtype, address, values, values_pointer, managed), aliases)
    principal_source = _PlanSource(source)
    principals.principals(result, principal_source, principal_source.extra)
    return result


@dataclass(frozen=True)
class _PlannedResource:
    rtype: str
    address: str
    values: dict[str, Any]
    pointer: str
    managed: bool
    """A managed resource, not a data source."""

    def argument_refs(self, arguments: _Arguments, argument: str) -> list[Ref]:
        return arguments.of(self.address, self.values, self.pointer, argument)


@dataclass
class _PlanReader:
    """Adds one planned resource's policies to the result, and what it says of principals to ``principals``."""

    source: Source
    result: LoadResult
    limits: tuple[int, int]
    principals: TerraformPrincipals
    arguments: _Arguments

    def resource(self, planned: _PlannedResource, aliases: Mapping[str, Sequence[str]]) -> None:
        rtype, address, values = planned.rtype, planned.address, planned.values
        principal_kind = PRINCIPAL_RESOURCES.get(rtype)  # a data source's role too: its trust policy is known
        name = _planned_name(address, values, self.arguments) if principal_kind is not None else \
            values.get("name") or address
        arn = values.get("arn") if isinstance(values.get("arn"), str) else None
        key = _kms_key_of(address, rtype, values, planned.pointer, self.arguments) if rtype == KMS_KEY_POLICY \
            else address
        subject = Subject(principal_kind or "policy", str(name), arn, tuple(aliases.get(key, ())))
        if principal_kind is not None:
            self.principals.declare(principal_kind, address, str(name), planned.pointer)
            self.result.counts[principal_kind + "s"] += 1
            if principal_kind in ("role", "user") and (
                    values.get("permissions_boundary")
                    or "permissions_boundary" in self.arguments.unknown.get(address, ())):  # a policy of the plan
                for boundary in planned.argument_refs(self.arguments, "permissions_boundary")[:1]:
                    self.principals.permissions_boundary(address, boundary)
        policies = self.attribute_policies(planned, subject, principal_kind)
        if rtype == MANAGED_POLICY:
            _managed_policy(self.principals, address, values, policies.get("policy"), arn, planned.managed)
        if rtype == LAMBDA_PERMISSION and planned.managed:
            _lambda_permission(address, values, planned.pointer, self.arguments, self.source, self.result,
                               self.limits)
        if principal_kind == "role":
            self.inline_policies(planned, subject)
        if planned.managed:
            _list_unread_documents(rtype, address, values, self.arguments, self.source, self.result)
            self.principals.read_attachments(rtype, address, partial(planned.argument_refs, self.arguments))

    def attribute_policies(self, planned: _PlannedResource, subject: Subject, principal_kind: str | None
                           ) -> dict[str, Policy | None]:
        """The policies of the resource's policy arguments (a role's trust, a bucket's policy...), by argument."""
        rtype, address, values = planned.rtype, planned.address, planned.values
        policies: dict[str, Policy | None] = {}
        declared = (values.get("type") or IAM_ORGANIZATION_POLICY_TYPES[0]) if rtype == ORGANIZATION_POLICY else None
        for attribute, kind in POLICY_ATTRIBUTES.get(rtype, ()):
            if declared is not None and declared not in IAM_ORGANIZATION_POLICY_TYPES:
                continue  # a tag, backup or AI opt-out policy: not in the IAM policy language
            if (rtype, attribute) in EMPTY_DOCUMENT_DELETES and json_object(str(values.get(attribute))) == {}:
                continue
            if planned.managed and not self.arguments.configures(address, attribute):
                continue  # computed: the value AWS or another resource (aws_s3_bucket_policy) gives it, if any
            if values.get(attribute) is None and attribute in self.arguments.unknown.get(address, ()):
                self.result.not_checked.append(f"{self.source.display_path}: {address}.{attribute} is known only "
                                               "after apply (check the state, `terraform show -json`, once applied)")
                continue
            policy = policies[attribute] = _policy(values.get(attribute), kind, self.source,
                                                   join_pointer(planned.pointer, attribute), subject,
                                                   f"{address}.{attribute}", self.result, self.limits,
                                                   rtype in RESOURCE_IMPLIED_TYPES)
            if policy is None:
                continue
            if declared is not None:
                policy = policies[attribute] = self.result.declare_organization_type(policy, declared)
            if kind is PolicyKind.RESOURCE:
                self.result.counts["resource_policies"] += 1
            if principal_kind == "role":
                self.principals.trust(address, policy)
            owner = OWNER_ATTRIBUTE.get(rtype)
            if owner:
                for target in planned.argument_refs(self.arguments, owner[1]):
                    self.principals.inline_policy(owner[0], address, target, policy)
        return policies

    def inline_policies(self, planned: _PlannedResource, subject: Subject) -> None:
        """A role's ``inline_policy`` blocks, as its own policies."""
        inline = planned.values.get("inline_policy")
        if not isinstance(inline, list):
            return
        blocks = join_pointer(planned.pointer, "inline_policy")
        for index, item in enumerate(inline):
            if not isinstance(item, dict):
                continue
            policy = _policy(item.get("policy"), PolicyKind.IDENTITY, self.source,
                             join_pointer(join_pointer(blocks, index), "policy"), subject,
                             f"inline:{item.get('name', index)}", self.result, self.limits)
            if policy is not None:
                self.principals.own_policy(planned.address, policy)


def _documents_used_verbatim(planned: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]],
                             arguments: _Arguments) -> set[str]:
    """The ``aws_iam_policy_document`` data sources whose JSON a planned resource takes as its policy, the same
    document: they are checked there, as that resource's policy, and not a second time on their own (a ``.tf``
    file is read the same way). The configuration's references say which data source a resource takes; a state,
    which has no configuration, is matched by the same document in the same module."""
    documents: dict[str, list[tuple[str, Any]]] = {}
    for rtype, address, values, _, resource in planned:
        if rtype == POLICY_DOCUMENT and resource.get("mode") == "data" and isinstance(values.get("json"), str):
            documents.setdefault(_INDEX.sub("", address), []).append((address, json_object(values["json"])))
    used: set[str] = set()
    for rtype, address, values, _, resource in planned:
        if resource.get("mode", "managed") != "managed":
            continue
        prefix, expressions = arguments.configured.get(_INDEX.sub("", address), (_module_prefix(address), None))
        taken = [(attribute, values.get(attribute)) for attribute, _ in POLICY_ATTRIBUTES.get(rtype, ())]
        inline = values.get("inline_policy") if PRINCIPAL_RESOURCES.get(rtype) == "role" else None
        taken += [("inline_policy.policy", item.get("policy"))
                  for item in (inline if isinstance(inline, list) else ()) if isinstance(item, dict)]
        for attribute, value in taken:
            document = json_object(value) if isinstance(value, str) else None
            if document is None:
                continue
            if expressions is None:
                candidates = [name for name in documents if name.startswith(f"{prefix}data.{POLICY_DOCUMENT}.")]
            else:
                references = [_INDEX.sub("", reference) for reference in expressions.get(attribute, ())]
                candidates = [prefix + ".".join(reference.split(".")[:3]) for reference in references
                              if reference.startswith(f"data.{POLICY_DOCUMENT}.")]
            used.update(found for name in candidates for found, rendered in documents.get(name, ())
                        if rendered == document)
    return used


def _module_prefix(address: str) -> str:
    """``module.a.module.b.`` of ``module.a[0].module.b.aws_iam_policy.p`` (indexes left out)."""
    return _INDEX.sub("", _module_instance(address))


def _module_instance(address: str) -> str:
    """``module.a[0].module.b.`` of ``module.a[0].module.b.aws_iam_policy.p``."""
    match = _MODULE_PREFIX.match(address)
    return match.group(0) if match else ""


_MODULE_PREFIX = re.compile(r"(?:module\.[^.\[]+(?:\[[^\]]*\])?\.)*")


def _plan_shape_problems(root: dict[str, Any], root_key: str, source: Source, result: LoadResult) -> None:
    """IAM109 for the parts of a plan's modules that are not of the shape Terraform writes (``resources: {}``, a
    ``child_modules`` item or a resource that is not an object, ``values: null``): what they hold is not read."""
    from auditor.normalize import type_name

    pending: list[tuple[Any, str]] = [(root.get("root_module"), join_pointer(f"/{root_key}", "root_module"))]
    while pending:
        module, pointer = pending.pop()
        if module is None and pointer.endswith("/root_module"):
            continue  # a plan of nothing
        if not isinstance(module, dict):
            result.wrong_type(source, pointer, f"a module must be an object, found {type_name(module)}: not read")
            continue
        lists = {}
        for key in ("resources", "child_modules"):
            value = module.get(key)
            if value is not None and not isinstance(value, list):
                result.wrong_type(source, join_pointer(pointer, key),
                                  f"{key} must be a list, found {type_name(value)}: not read")
            lists[key] = value if isinstance(value, list) else []
        for index, child in enumerate(lists["child_modules"]):
            pending.append((child, join_pointer(join_pointer(pointer, "child_modules"), index)))
        for index, resource in enumerate(lists["resources"]):
            at = join_pointer(join_pointer(pointer, "resources"), index)
            if not isinstance(resource, dict):
                result.wrong_type(source, at, f"a resource must be an object, found {type_name(resource)}: not read")
            elif not isinstance(resource.get("values"), dict) and resource.get("mode", "managed") == "managed" \
                    and isinstance(resource.get("type"), str) and "values" in resource:
                result.wrong_type(source, join_pointer(at, "values"), f"the values of "
                                  f"{resource.get('address', resource['type'])} must be an object, found "
                                  f"{type_name(resource['values'])}: not read")


def _planned_resources(root: dict[str, Any], root_key: str
                       ) -> Iterator[tuple[str, str, dict[str, Any], str, dict[str, Any]]]:
    """Every resource of every module of the plan: (type, address, values, pointer of its values, the resource)."""
    for module, module_pointer in _modules(root.get("root_module"), join_pointer(f"/{root_key}", "root_module")):
        resources = module.get("resources")
        if not isinstance(resources, list):
            continue
        for index, resource in enumerate(resources):
            if not isinstance(resource, dict):
                continue
            rtype = resource.get("type")
            values = resource.get("values")
            if not isinstance(rtype, str) or not isinstance(values, dict):
                continue
            address = str(resource.get("address", f"{rtype}.{resource.get('name')}"))
            values_pointer = join_pointer(join_pointer(join_pointer(module_pointer, "resources"), index), "values")
            yield rtype, address, values, values_pointer, resource


def _list_unread_documents(rtype: str, address: str, values: dict[str, Any], arguments: _Arguments,
                           source: Source, result: LoadResult) -> None:
    """List as not checked the attributes the configuration sets to a policy document that iam-audit does not read
    as one of the resource's policies (``aws_vpc_endpoint``'s ``policy``)."""
    read = {attribute for attribute, _ in POLICY_ATTRIBUTES.get(rtype, ())}
    for attribute, value in values.items():
        if attribute not in read and isinstance(value, str) and arguments.configures(address, attribute) \
                and looks_like_policy(json_object(value)):
            result.not_checked.append(f"{source.display_path}: {address}.{attribute}: a policy document iam-audit "
                                      f"does not read for {rtype}: not checked")


def _kms_key_of(address: str, rtype: str, values: dict[str, Any], pointer: str, arguments: _Arguments) -> str:
    """The address of the key an ``aws_kms_alias`` (``target_key_id``) or ``aws_kms_key_policy`` (``key_id``)
    names: by the reference its configuration makes, or by the key id or ARN the plan knows."""
    argument = "target_key_id" if rtype == KMS_ALIAS else "key_id"
    for ref in arguments.of(address, values, pointer, argument):
        if ref.address is not None:
            return ref.address
        if ref.text:
            return ref.text
    return address


def _kms_aliases(planned: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]], arguments: _Arguments
                 ) -> dict[str, list[str]]:
    """The names of the ``aws_kms_alias`` resources by the address of the key they name (its key id and ARN too,
    for a key the plan names by value)."""
    by_value: dict[str, str] = {}
    for rtype, address, values, _, _ in planned:
        if rtype == "aws_kms_key":
            for attribute in ("key_id", "id", "arn"):
                if isinstance(values.get(attribute), str):
                    by_value[values[attribute]] = address
    found: dict[str, list[str]] = {}
    for rtype, address, values, pointer, _ in planned:
        name = values.get("name")
        if rtype == KMS_ALIAS and isinstance(name, str):
            key = _kms_key_of(address, rtype, values, pointer, arguments)
            found.setdefault(by_value.get(key, key), []).append(name)
    for value, address in by_value.items():  # a key policy may name its key by value too
        if address in found:
            found[value] = found[address]
    return found


def _managed_policy(principals: TerraformPrincipals, address: str, values: dict[str, Any], policy: Policy | None,
                    arn: str | None, managed: bool) -> None:
    """An ``aws_iam_policy`` resource, or a data source that read one: an AWS managed policy is attached by its ARN
    alone (as CloudFormation's ``ManagedPolicyArns``), its document is checked on its own."""
    if not managed and (arn is None or arn.startswith(AWS_MANAGED_ARN)):
        if arn is not None:
            principals.policy_data_source(address, arn, None)
        return
    name, path = values.get("name"), values.get("path")
    principals.managed_policy(address, policy, arn, name if isinstance(name, str) else None,
                              path if isinstance(path, str) else "/")


class _Arguments:
    """The values of a planned resource's arguments as :class:`Ref`: its strings, and where Terraform knows one only
    after apply, the references its configuration makes."""

    def __init__(self, source: Source, unknown: dict[str, frozenset[str]],
                 configured: dict[str, tuple[str, dict[str, list[str]]]]) -> None:
        self.source = source
        self.unknown = unknown
        self.configured = configured

    def configures(self, address: str, argument: str) -> bool:
        """Whether the configuration sets the argument (or the plan does not have the resource's configuration): a
        computed attribute it does not set takes the value AWS or another resource gives it."""
        configured = self.configured.get(_INDEX.sub("", address))
        return configured is None or argument in configured[1]

    def of(self, address: str, values: dict[str, Any], pointer: str, argument: str) -> list[Ref]:
        value = values.get(argument)
        at = join_pointer(pointer, argument)
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        refs = [Ref(argument if index is None else f"{argument}[{index}]", json.dumps(item),
                    self.source.locate(at if index is None else join_pointer(at, index)), text=item)
                for index, item in items if isinstance(item, str)]
        unknown = (value is None and argument in self.unknown.get(address, ())) or (
            isinstance(value, list) and None in value)
        if not unknown:
            return refs  # null: not set
        _, expressions = self.configured.get(_INDEX.sub("", address), ("", None))
        position = self.source.locate(pointer)
        if expressions is None:
            if argument == ROLE_MANAGED_POLICY_ARNS:
                return refs  # computed when not set
            return [*refs, Ref(argument, "(known after apply)", position)]
        resolvable = _instance_references(argument, expressions.get(argument, []), address, position)
        if resolvable or argument not in expressions:
            return [*refs, *resolvable]
        return [*refs, Ref(argument, " ".join(expressions[argument]) or "(known after apply)", position)]


_REFERENCE = re.compile(r"(?P<resource>(?:data\.)?[A-Za-z_][\w-]*\.[A-Za-z_][\w-]*)(?P<index>\[[^\]]*\])?"
                        r"(?:\.(?P<attribute>[A-Za-z_][\w-]*))?$")
_OWN_INSTANCE_KEYS = frozenset({"each.key", "count.index"})


def _instance_references(argument: str, references: list[str], address: str, position: tuple[int, int]
                         ) -> list[Ref]:
    """The resources (instances) an argument of the planned resource ``address`` names, by the references its
    configuration makes, in the planned resource's own module instance: ``aws_iam_role.r.name``,
    ``aws_iam_role.r["a"].name``; and ``aws_iam_role.r[each.key].id`` (or ``[count.index]``), whose references
    are only ``aws_iam_role.r`` and ``each.key``, as the instance with the planned resource's own key, the
    attribute it reads unknown (None)."""
    module = _module_instance(address)
    own_key = address[len(module):][len(_INDEX.sub("", address[len(module):])):]
    named: dict[str, Ref] = {}
    bare: list[str] = []
    other_values = False
    """A reference to something else (``local.swap`` in ``aws_iam_role.r[local.swap[each.key]]``): the index may
    not be the planned resource's own key. (``[count.index + 1]`` makes the same references as ``[count.index]``;
    a plan does not tell them apart.)"""
    for reference in references:
        match = _REFERENCE.match(reference)
        if match is None or match["resource"].split(".", 1)[0] in NOT_RESOURCES:
            other_values |= reference not in _OWN_INSTANCE_KEYS
            continue
        resource, index, attribute = match["resource"], match["index"] or "", match["attribute"]
        if attribute is None:
            bare.append(resource)
        else:
            named.setdefault(resource + index, Ref(argument, reference, position, address=module + resource + index,
                                                   attribute=attribute))
    if own_key and _OWN_INSTANCE_KEYS & set(references) and not other_values:
        for resource in bare:
            if not any(key == resource or key.startswith(resource + "[") for key in named):
                named[resource] = Ref(argument, resource + own_key, position, address=module + resource + own_key)
    return list(named.values())


def _planned_name(address: str, values: dict[str, Any], arguments: _Arguments) -> str:
    """A role's, user's or group's name in a plan or state: the planned one; when Terraform knows it only after
    apply, its ``name_prefix`` and the unique suffix the provider adds, else a placeholder for the name the
    configuration sets (``{{aws_iam_role.app.name}}``); the address when the plan does not say how it is named."""
    name = values.get("name")
    if name not in (None, ""):
        return str(name)
    if "name" in arguments.unknown.get(address, ()):
        prefix = values.get("name_prefix")
        if isinstance(prefix, str) and prefix:
            return prefix + UNIQUE_SUFFIX
        configured = arguments.configured.get(_INDEX.sub("", address))
        if configured is not None and "name" in configured[1]:
            return "{{" + f"{address}.name" + "}}"
    return address


def _configured_references(plan: dict[str, Any]) -> dict[str, tuple[str, dict[str, list[str]]]]:
    """Resource address (indexes left out) -> (its module's address prefix, argument -> the references its
    expression makes), from the plan's ``configuration``."""
    found: dict[str, tuple[str, dict[str, list[str]]]] = {}
    pending: list[tuple[Any, str]] = []
    configuration = plan.get("configuration")
    if isinstance(configuration, dict):
        pending.append((configuration.get("root_module"), ""))
    while pending:
        module, prefix = pending.pop()
        if not isinstance(module, dict):
            continue
        resources = module.get("resources")
        for resource in resources if isinstance(resources, list) else []:
            if not isinstance(resource, dict) or not isinstance(resource.get("address"), str):
                continue
            expressions = resource.get("expressions")
            found[prefix + resource["address"]] = (prefix, _expression_references(expressions))
        calls = module.get("module_calls")
        for name, call in calls.items() if isinstance(calls, dict) else ():
            if isinstance(call, dict):
                pending.append((call.get("module"), f"{prefix}module.{name}."))
    return found


def _expression_references(expressions: Any) -> dict[str, list[str]]:
    """Argument -> the references its expression makes; an argument of a nested block (a role's ``inline_policy``)
    as ``block.argument``, over every block of that name."""
    found: dict[str, list[str]] = {}
    for argument, expression in expressions.items() if isinstance(expressions, dict) else ():
        if isinstance(expression, dict):
            found[argument] = [ref for ref in expression.get("references", ()) if isinstance(ref, str)]
        elif isinstance(expression, list):
            for block in expression:
                for name, inner in block.items() if isinstance(block, dict) else ():
                    if isinstance(inner, dict):
                        found.setdefault(f"{argument}.{name}", []).extend(
                            ref for ref in inner.get("references", ()) if isinstance(ref, str))
    return found


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


def _lambda_permission(address: str, values: dict[str, Any], pointer: str, arguments: _Arguments, source: Source,
                       result: LoadResult, limits: tuple[int, int]) -> None:
    """The statement Lambda adds to the function's policy for the permission (a value known only after apply as a
    placeholder)."""
    given: dict[str, Any] = {}
    for argument, name in TERRAFORM_ARGUMENTS.items():
        if values.get(argument) not in (None, ""):  # a state holds "" for an optional argument left unset
            given[name] = values[argument]
        elif argument in arguments.unknown.get(address, ()):
            given[name] = "{{" + f"{address}.{argument}" + "}}"
    if not set(REQUIRED_PROPERTIES) <= set(given):
        return
    if values.get("qualifier"):
        given["FunctionName"] += f":{values['qualifier']}"
    if _policy(permission_policy(given, "{{region}}", "{{account}}"), PolicyKind.RESOURCE, source, pointer,
               Subject("lambda", address, None), address, result, limits) is not None:
        result.counts["resource_policies"] += 1


def _policy(
    value: Any, kind: PolicyKind, source: Source, pointer: str, subject: Subject, label: str, result: LoadResult,
    limits: tuple[int, int] = (MAX_NESTING, DEFAULT_MAX_STATEMENTS), resource_implied: bool = False,
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
                              max_statements=max_statements, resource_implied=resource_implied)
    result.policies.append(policy)
    return policy
