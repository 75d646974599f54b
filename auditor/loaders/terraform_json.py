"""Terraform configuration in JSON syntax (``.tf.json``, such as the ``cdk.tf.json`` CDK for Terraform writes).

The same resources, attributes and ``data "aws_iam_policy_document"`` blocks as in a ``.tf``
file (:mod:`auditor.loaders.terraform_hcl`), written as JSON: ``{"resource": {"TYPE": {"NAME":
{...}}}}``, any level of which may also be a list of objects, and a nested block (``statement``,
``inline_policy``) an object or a list of objects. Strings are templates: ``"${var.bucket}"``
becomes a ``{{var.bucket}}`` placeholder. A policy attribute may be JSON text or
``"${data.aws_iam_policy_document.NAME.json}"`` naming a data source of the same file; any other
expression (``"${jsonencode({...})}"``, ``"${file(...)}"``) is listed as not checked: the plan
(``terraform show -json``) has its value. Every element is located at its value in the file; a
policy given as JSON text at the attribute that holds it. Roles, users and groups get their inline
policies and the managed policies attached to them, as in a ``.tf`` file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from auditor.loaders.parse import MAX_NESTING, effective_nesting
from auditor.loaders.result import LoadResult
from auditor.loaders.terraform_common import (
    CONFIGURATION_UNKNOWN,
    MANAGED_POLICY,
    MERGED_DOCUMENT_ATTRIBUTES,
    MODULE,
    NO_IAM_POLICY,
    NOT_PARSED,
    POLICY_DOCUMENT,
    PRINCIPAL_BLOCKS,
    STATEMENT_LISTS,
    WHITESPACE,
    ConfigurationReader,
    ConfigurationResource,
    Ref,
    TerraformPrincipals,
    Unknown,
    interpolated,
    is_list_argument,
    json_object,
    placeholder_text,
    policy_document_name,
    principal_element,
    provider_strings,
    reference_ref,
    rendered,
    shorter,
    single_interpolation,
    unknown_shape,
)
from auditor.model import Policy, PolicyKind, Problem, Subject
from auditor.normalize import DEFAULT_MAX_STATEMENTS, type_name
from auditor.source import Source, join_pointer

COMMENT = "//"
"""A property of a block body (or of the file's root) whose name starts with it is a comment."""
_REFERENCE = re.compile(r'\s*([A-Za-z_][\w-]*)((?:\s*(?:\.\s*[A-Za-z_][\w-]*|\[\s*(?:\d+|"[^"\\]*")\s*\]))*)\s*\Z')
_STEP = re.compile(r"\.\s*([A-Za-z_][\w-]*)|\[[^\]]*\]")

Block = tuple[tuple[str, ...], dict[str, Any], str]
"""A block's labels, its body and the JSON pointer of the body in the file."""
_Resource = ConfigurationResource[Any, str]


def load_terraform_json(data: Any, source: Source, max_nesting: int = MAX_NESTING,
                        max_statements: int = DEFAULT_MAX_STATEMENTS) -> LoadResult:
    """The policies and roles of one parsed ``.tf.json`` file."""
    result = LoadResult(files=1)
    if not isinstance(data, dict):
        result.skipped.append((source.display_path, f"not a Terraform configuration (the document is "
                                                    f"{type_name(data)}, not an object of blocks)"))
        return result
    reader = _ConfigurationReader(source, result, effective_nesting(max_nesting), max_statements)
    try:
        reader.read(data)
    except RecursionError:
        result.policies.clear()
        result.principals.clear()
        result.document_problems.append((source, Problem(
            "syntax-error", "nesting too deep to read as Terraform configuration", "", line=1, column=1)))
        return result
    if not (result.policies or result.principals or result.not_checked or result.document_problems):
        result.skipped.append((source.display_path, NO_IAM_POLICY))
    return result


class _ConfigurationReader(ConfigurationReader[Any, str]):
    def __init__(self, file: Source, result: LoadResult, max_nesting: int, max_statements: int) -> None:
        self.file = file
        """The parsed file: locates a pointer into its JSON."""
        self.positions: dict[str, tuple[int, int]] = {}
        self.source = Source(file.display_path, file.text, self.positions)
        """The policies' source: a rendered data source's pointers (``.../Statement/0/Action``) are not the
        file's (``.../statement/0/actions``), so each is given the position of the file's value."""
        self.result = result
        self.max_nesting = max_nesting
        self.max_statements = max_statements
        self.documents: dict[str, tuple[dict[str, Any], str]] = {}
        self.rendered_documents: dict[str, dict[str, Any] | None] = {}

    # ----------------------------------------------------------------- the file's blocks

    def read(self, data: dict[str, Any]) -> None:
        resources: list[_Resource] = []
        principals = TerraformPrincipals(self.source.display_path, "file", CONFIGURATION_UNKNOWN)
        for block_type, value in data.items():
            if block_type == "data":
                for (data_type, name), body, pointer in _blocks(value, "/data", 2):
                    if data_type == POLICY_DOCUMENT:
                        self.documents[name] = (body, pointer)
                    elif data_type == MANAGED_POLICY:
                        principals.policy_data_source(f"data.{MANAGED_POLICY}.{name}", self.literal(body.get("arn")),
                                                      self.literal(body.get("name")))
            elif block_type == "resource":
                resources.extend(ConfigurationResource(rtype, name, body, pointer, pointer)
                                 for (rtype, name), body, pointer in _blocks(value, "/resource", 2))
            elif block_type == MODULE:
                resources.extend(ConfigurationResource(MODULE, name, body, pointer, pointer)
                                 for (name,), body, pointer in _blocks(value, "/module", 1))
        self.read_resources(resources, principals)

    def nested_blocks(self, resource: _Resource, block_type: str) -> Iterator[tuple[dict[str, Any], str, str]]:
        if block_type in resource.attributes:
            at = join_pointer(resource.pointer, block_type)
            for _, block, block_pointer in _blocks(resource.attributes[block_type], at, 0):
                yield block, block_pointer, block_pointer

    def nested_ref(self, attributes: Mapping[str, Any], pointer: str, argument: str) -> Ref:
        return self.ref(attributes[argument], join_pointer(pointer, argument), argument)

    def argument_ref(self, resource: _Resource, argument: str) -> Ref:
        return self.ref(resource.attributes[argument], join_pointer(resource.pointer, argument), argument)

    def argument_refs(self, resource: _Resource, argument: str) -> list[Ref]:
        if argument not in resource.attributes:
            return []
        value, at = resource.attributes[argument], join_pointer(resource.pointer, argument)
        if is_list_argument(argument) and isinstance(value, list):
            return [self.ref(item, join_pointer(at, index), f"{argument}[{index}]") for index, item in enumerate(value)]
        return [self.argument_ref(resource, argument)]

    def ref(self, value: Any, at: str, argument: str) -> Ref:
        """How an attachment names a principal or policy: a reference (``"${aws_iam_role.NAME.name}"``), a string,
        or an expression Terraform decides."""
        position = self.file.locate(at)
        if not isinstance(value, str):
            return Ref(argument, f"{type_name(value)}", position)
        expression = single_interpolation(value)
        if expression is not None:
            return reference_ref(argument, _shown(value), position, _reference(expression))
        text = self.template(value, False)
        return Ref(argument, _shown(value), position, text=text if isinstance(text, str) else None)

    # ----------------------------------------------------------------- policy attributes

    def document_reference(self, value: Any) -> str | None:
        expression = single_interpolation(value) if isinstance(value, str) else None
        return policy_document_name(_reference(expression)) if expression is not None else None

    def policy(self, value: Any, kind: PolicyKind, pointer: str, subject: Subject, address: str, attribute: str,
               used_documents: set[str], resource_implied: bool = False, label: str | None = None) -> Policy | None:
        label = label or f"{address}.{attribute}"
        where = f"{self.source.display_path}: {address}.{attribute}"
        self.mark(pointer, pointer)
        if value is None:
            return None
        if not isinstance(value, str):
            self.not_checked(where, f"is {type_name(value)}: not checked (Terraform takes a policy as a string of "
                                    "JSON)")
            return None
        expression = single_interpolation(value)
        if expression is not None:
            name = policy_document_name(_reference(expression))
            if name is not None:
                return self.document_policy(name, _shown(value), where, kind, subject, label, used_documents,
                                            resource_implied)
            self.not_checked(where, f"= {_shown(value)}: not checked (iam-audit reads a .tf.json policy written as "
                                    "JSON text or as an aws_iam_policy_document data source of the same file; the "
                                    "plan from terraform show -json has the value)")
            return None
        template = interpolated(value)
        if template.directive:
            self.not_checked(where, f"= {_shown(value)}: not checked (a template directive %{{...}} decides the "
                                    "text)")
            return None
        document = self.parse_policy_text(template, where, address, attribute, pointer,
                                          lambda _: self.file.locate(pointer))
        if document is NOT_PARSED:
            return None
        return self.add_policy(document, kind, pointer, subject, label, resource_implied)

    def written_document(self, value: Any) -> Any:
        if not isinstance(value, str) or single_interpolation(value) is not None:
            return None
        template = interpolated(value)
        return None if template.directive else json_object(template.text)

    # ----------------------------------------------------------------- data "aws_iam_policy_document"

    def document_pointer(self, name: str) -> str:
        return self.documents[name][1]

    def policy_document(self, name: str) -> dict[str, Any] | None:
        """The JSON the AWS provider renders for a ``data "aws_iam_policy_document"`` block (read once); None when
        none of its statements can be checked (each reason is listed as not checked)."""
        if name in self.rendered_documents:
            return self.rendered_documents[name]
        body, pointer = self.documents[name]
        where = f"{self.source.display_path}: data.{POLICY_DOCUMENT}.{name}"
        self.mark(pointer, pointer)
        left_out = False
        for merged in MERGED_DOCUMENT_ATTRIBUTES:
            if merged in body:
                self.not_checked(where, f"the statements merged from {merged} are not checked")
                left_out = True
        document: dict[str, Any] = {}
        version = self.literal(body.get("version"))
        document["Version"] = version or "2012-10-17"
        if "version" in body:
            self.mark(join_pointer(pointer, "Version"), join_pointer(pointer, "version"))
        policy_id = self.literal(body.get("policy_id"))
        if policy_id:
            document["Id"] = policy_id
        statements: list[dict[str, Any]] = []
        statements_pointer = join_pointer(pointer, "Statement")
        for key, value in body.items():
            if key == "dynamic":
                for labels, _, dynamic_pointer in _blocks(value, join_pointer(pointer, key), 1):
                    if labels == ("statement",):
                        line = self.file.locate(dynamic_pointer)[0]
                        self.not_checked(where, f'dynamic "statement" at line {line}: not checked (its statements '
                                                "are made when Terraform runs)")
                        left_out = True
                continue
            if key != "statement":
                continue
            for _, block, block_pointer in _blocks(value, join_pointer(pointer, key), 0):
                dynamic = [(labels[0], self.file.locate(dynamic_pointer)[0]) for labels, _, dynamic_pointer
                           in _blocks(block.get("dynamic"), join_pointer(block_pointer, "dynamic"), 1)]
                if not self.checkable_without_dynamic_blocks(where, block.get("effect"), dynamic):
                    left_out = True
                    continue
                marks: dict[str, str] = {}
                statement = self.document_statement(block, block_pointer,
                                                    join_pointer(statements_pointer, len(statements)), marks)
                unknown = unknown_shape(statement)
                if unknown is not None:
                    line = self.file.locate(block_pointer)[0]
                    self.not_checked(where, f"statement at line {line}: its {unknown}: not checked")
                    left_out = True
                    continue
                for marked, file_pointer in marks.items():
                    self.mark(marked, file_pointer)
                statements.append(provider_strings(rendered(statement)))
        document["Statement"] = statements
        checkable = document if statements or not left_out else None
        self.rendered_documents[name] = checkable
        return checkable

    def document_statement(self, block: dict[str, Any], at: str, pointer: str,
                           marks: dict[str, str]) -> dict[str, Any]:
        """One ``statement`` block (at ``at`` in the file) as the provider renders it; ``marks`` receives the file
        pointer of each element's pointer under ``pointer``."""
        marks[pointer] = at
        statement: dict[str, Any] = {}
        if "sid" in block:
            statement["Sid"] = self.value(block["sid"], join_pointer(at, "sid"), join_pointer(pointer, "Sid"), marks,
                                          True)
        if "effect" in block:
            statement["Effect"] = self.value(block["effect"], join_pointer(at, "effect"),
                                             join_pointer(pointer, "Effect"), marks, True)
        else:
            statement["Effect"] = "Allow"
        for attribute, element in STATEMENT_LISTS.items():
            if attribute in block:
                element_pointer = join_pointer(pointer, element)
                marks[element_pointer] = join_pointer(at, attribute)
                statement[element] = self.list_value(block[attribute], join_pointer(at, attribute), element_pointer,
                                                     0, marks)
        for block_type, element in PRINCIPAL_BLOCKS.items():
            principal_blocks = list(_blocks(block.get(block_type), join_pointer(at, block_type), 0))
            if principal_blocks:
                statement[element] = self.principals(principal_blocks, join_pointer(pointer, element), marks)
        conditions = list(_blocks(block.get("condition"), join_pointer(at, "condition"), 0))
        if conditions:
            statement["Condition"] = self.conditions(conditions, join_pointer(pointer, "Condition"), marks)
        return statement

    def principals(self, blocks: list[Block], pointer: str, marks: dict[str, str]) -> Any:
        marks[pointer] = blocks[0][2]
        by_type: dict[Any, list[Any]] = {}
        for _, block, at in blocks:
            principal_type = self.key(block["type"]) if "type" in block else ""
            if "identifiers" not in block:
                continue
            identifiers = by_type.setdefault(principal_type, [])
            type_pointer = join_pointer(pointer, rendered(principal_type))
            marks.setdefault(type_pointer, at)
            identifiers.extend(self.list_value(block["identifiers"], join_pointer(at, "identifiers"), type_pointer,
                                               len(identifiers), marks))
        return principal_element(by_type)

    def conditions(self, blocks: list[Block], pointer: str, marks: dict[str, str]) -> dict[Any, Any]:
        marks[pointer] = blocks[0][2]
        operators: dict[Any, dict[Any, list[Any]]] = {}
        for _, block, at in blocks:
            test = self.key(block["test"]) if "test" in block else ""
            variable = self.key(block["variable"]) if "variable" in block else ""
            operator_pointer = join_pointer(pointer, rendered(test))
            key_pointer = join_pointer(operator_pointer, rendered(variable))
            marks.setdefault(operator_pointer, at)
            marks.setdefault(key_pointer, at)
            values = operators.setdefault(test, {}).setdefault(variable, [])
            if "values" in block:
                values.extend(self.list_value(block["values"], join_pointer(at, "values"), key_pointer, len(values),
                                              marks))
        return operators

    # ----------------------------------------------------------------- JSON values to values

    def value(self, value: Any, at: str, pointer: str, marks: dict[str, str], policy_variables: bool = False) -> Any:
        """The value of a JSON value read as a Terraform expression: strings are templates, ``Unknown`` where
        Terraform decides. ``marks`` receives the file pointer (``at``) of each value's pointer;
        ``policy_variables``: ``&{...}`` stands for ``${...}`` (in aws_iam_policy_document)."""
        marks[pointer] = at
        if isinstance(value, str):
            return self.template(value, policy_variables)
        if isinstance(value, dict):
            found: dict[Any, Any] = {}
            for key, item in value.items():
                name = self.template(key, policy_variables)
                found[name] = self.value(item, join_pointer(at, key), join_pointer(pointer, rendered(name)), marks,
                                         policy_variables)
            return found
        if isinstance(value, list):
            return [self.value(item, join_pointer(at, index), join_pointer(pointer, index), marks, policy_variables)
                    for index, item in enumerate(value)]
        return value  # a number, true, false or null

    def list_value(self, value: Any, at: str, pointer: str, first_index: int, marks: dict[str, str]) -> list[Any]:
        """The items of an array (pointers numbered from ``first_index``); any other value is one item."""
        if not isinstance(value, list):
            found = self.value(value, at, join_pointer(pointer, first_index), marks, True)
            return found if isinstance(found, list) else [found]
        return [self.value(item, join_pointer(at, index), join_pointer(pointer, first_index + index), marks, True)
                for index, item in enumerate(value)]

    def key(self, value: Any) -> Any:
        """A value that becomes an object key (a principal type, a condition operator or key): a string or an
        ``Unknown``."""
        if isinstance(value, str):
            return self.template(value, True)
        return Unknown(placeholder_text(repr(value)))

    def template(self, raw: str, policy_variables: bool) -> Any:
        expression = single_interpolation(raw)
        if expression is not None:
            return Unknown(placeholder_text(expression))
        template = interpolated(raw, policy_variables)
        return Unknown(placeholder_text(raw)) if template.directive else template.text

    def name_text(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        found = self.template(value, False)
        return found if isinstance(found, str) else found.placeholder

    def literal(self, value: Any) -> str | None:
        """A string attribute's value when it holds no expression."""
        if not isinstance(value, str):
            return None
        found = self.template(value, False)
        return found if isinstance(found, str) and "{{" not in found else None

    # ----------------------------------------------------------------- positions and messages

    def mark(self, pointer: str, at: str) -> None:
        """``pointer`` (of a policy, or one of its elements) is at the file's value ``at``."""
        self.positions[pointer] = self.file.locate(at)


def _blocks(value: Any, pointer: str, labels: int, found: tuple[str, ...] = ()) -> Iterator[Block]:
    """The blocks a property of a block type holds (``labels`` levels of labels, then the body), each level an
    object or a list of objects; comment properties are left out."""
    items = enumerate(value) if isinstance(value, list) else [(None, value)]
    for index, item in items:
        if not isinstance(item, dict):
            continue
        item_pointer = pointer if index is None else join_pointer(pointer, index)
        if labels == 0:
            yield found, {key: inner for key, inner in item.items() if not key.startswith(COMMENT)}, item_pointer
            continue
        for key, inner in item.items():
            if not key.startswith(COMMENT):
                yield from _blocks(inner, join_pointer(item_pointer, key), labels - 1, (*found, key))


def _reference(expression: str) -> list[str] | None:
    """``data.aws_iam_policy_document.x.json`` as its names (index steps left out), or None for any other
    expression."""
    match = _REFERENCE.match(expression)
    if match is None:
        return None
    return [match.group(1), *(step.group(1) for step in _STEP.finditer(match.group(2)) if step.group(1))]


def _shown(value: str) -> str:
    """A template as a message quotes it: on one line, cut short."""
    return shorter(WHITESPACE.sub(" ", value).strip())
