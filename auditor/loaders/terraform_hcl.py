"""Terraform configuration (``.tf`` files in HCL): the IAM policies a module declares.

The file is read with python-hcl2's parse tree, so every element of a policy keeps the line
and column it has in the file. A policy attribute may be ``jsonencode({...})``, JSON in a
heredoc or a string, or a reference to a ``data "aws_iam_policy_document"`` block of the same
file, which is turned into the JSON the AWS provider renders. Terraform expressions inside
values (``var.bucket``, ``aws_s3_bucket.b.arn``, ``"${...}"``) become ``{{...}}`` placeholders
that checks treat as unknown deploy-time values. A policy given any other way (``file(...)``,
a local or module output, a data source of another file) is listed as not checked: the plan
(``terraform show -json``) has its value. Roles, users and groups get their inline policies and
the managed policies attached to them (:class:`auditor.loaders.terraform_common.TerraformPrincipals`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lark import Token, Tree

from auditor.loaders.either import kept_items
from auditor.loaders.parse import MAX_NESTING, ParseError, effective_nesting
from auditor.loaders.result import LoadResult
from auditor.loaders.terraform_common import (
    CONFIGURATION_UNKNOWN,
    EITHER_ELEMENTS,
    MANAGED_POLICY,
    MERGED_DOCUMENT_ATTRIBUTES,
    MODULE,
    NO_IAM_POLICY,
    NOT_PARSED,
    POLICY_DOCUMENT,
    PRINCIPAL_BLOCKS,
    READ_RESOURCES,
    STATEMENT_LISTS,
    WHITESPACE,
    ConfigurationReader,
    ConfigurationResource,
    Ref,
    Template,
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
    unknown_shape,
)
from auditor.model import Policy, PolicyKind, Principal, Problem, Subject
from auditor.normalize import DEFAULT_MAX_STATEMENTS
from auditor.source import Source, SpreadSource, join_pointer, scan_json_offsets

_HCL_ESCAPE = re.compile(r'\\(?:[nrt"\\]|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})')
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


_Resource = ConfigurationResource[Tree, Tree]
UNEVALUATED = "an expression iam-audit does not evaluate; the plan from terraform show -json has its value"
"""Why a document or Statement list given as a local, a variable or a function call is not checked."""


class _TooDeep(Exception):
    pass


def load_terraform_hcl(text: str, source_name: str, max_nesting: int = MAX_NESTING,
                       max_statements: int = DEFAULT_MAX_STATEMENTS) -> LoadResult:
    """The policies and roles of one ``.tf`` file; HCL that does not parse is a located ``syntax-error``."""
    result = LoadResult(files=1)
    positions: dict[str, tuple[int, int]] = {}  # filled while the file is read
    source = Source(source_name, text, positions)
    max_nesting = effective_nesting(max_nesting)
    tree = _parsed(source, max_nesting)
    if isinstance(tree, Problem):
        result.document_problems.append((source, tree))
        return result
    try:
        _ConfigurationReader(source, positions, result, max_nesting, max_statements).read(tree)
    except (_TooDeep, RecursionError):
        result.policies.clear()
        result.principals.clear()
        result.document_problems.append((source, _too_deep(max_nesting)))
        return result
    if not (result.policies or result.principals or result.not_checked or result.document_problems):
        result.skipped.append((source_name, NO_IAM_POLICY))
    return result


def load_terraform_module_file(wanted: str, files: Sequence[tuple[str, str]], max_nesting: int = MAX_NESTING,
                               max_statements: int = DEFAULT_MAX_STATEMENTS) -> LoadResult:
    """What the file ``wanted`` holds of the module made by ``files`` (display path, text: the ``.tf`` files of its
    folder, ``wanted`` among them), read together as Terraform reads them: a role of one file with the policy of a
    data source in another. A policy belongs to the file its statements are written in, a principal (and what is
    not checked about it) to the file of its resource. A file of the module that does not parse is left out of it
    (its own load reports the error); when ``wanted`` is that file, or the module cannot be read, it is read alone.
    """
    module = _read_module(tuple(files), effective_nesting(max_nesting), max_statements)
    if module is None or wanted not in module[1]:
        return load_terraform_hcl(dict(files)[wanted], wanted, max_nesting, max_statements)
    read, displays, read_for_others = module
    result = LoadResult(files=1)
    result.policies = [policy for policy in read.policies if policy.source.display_path == wanted]
    result.principals = [principal for principal in read.principals if principal.source.display_path == wanted]
    result.document_problems = [(source, problem) for source, problem in read.document_problems
                                if source.display_path == wanted]
    result.not_checked = [line for line in read.not_checked if _file_named(line, displays) == wanted]
    result.related_principals = [principal for principal in read.principals
                                 if principal.source.display_path != wanted and _written_in(principal, wanted)]
    for principal in result.principals:
        result.counts[principal.kind + "s"] += 1
    result.counts["resource_policies"] += sum(policy.kind is PolicyKind.RESOURCE for policy in result.policies)
    if not (result.policies or result.principals or result.not_checked or result.document_problems
            or wanted in read_for_others):  # attachments, say, whose findings are their principal's
        result.skipped.append((wanted, NO_IAM_POLICY))
    return result


_MODULES_KEPT = 4
_Module = tuple[LoadResult, tuple[str, ...], frozenset[str]]
"""A module read: what it holds, its files (display paths), those that declare resources iam-audit reads."""
_modules: dict[tuple[tuple[tuple[str, str], ...], int, int], _Module | None] = {}
"""Modules read lately, by their files and limits: each file of a module asks for the same reading."""


def _read_module(files: tuple[tuple[str, str], ...], max_nesting: int, max_statements: int) -> _Module | None:
    """The module's files that parse, read together, and their display paths; None when fewer than two parse, two
    declare the same resource, or the reading goes deeper than ``max_nesting``."""
    key = (files, max_nesting, max_statements)
    if key in _modules:
        return _modules[key]
    parsed = []
    for display, text in files:
        positions: dict[str, tuple[int, int]] = {}
        source = SpreadSource(display, text, positions)
        tree = _parsed(source, max_nesting)
        if not isinstance(tree, Problem):
            parsed.append(ModuleFile(source, positions, tree))
    found: _Module | None = None
    if len(parsed) > 1 and not _declared_twice(parsed):
        read = LoadResult()
        try:
            _ConfigurationReader(parsed[0].source, parsed[0].positions, read, max_nesting, max_statements
                                 ).read_files(parsed)
            found = (read, tuple(file.source.display_path for file in parsed),
                     frozenset(file.source.display_path for file in parsed if _declares_read_resources(file)))
        except (_TooDeep, RecursionError):
            found = None
    while len(_modules) >= _MODULES_KEPT:
        del _modules[next(iter(_modules))]
    _modules[key] = found
    return found


def _written_in(principal: Principal, file: str) -> bool:
    """Whether ``file`` writes a policy of the principal, or attaches one to it."""
    return any(policy.source.display_path == file for policy in (
        *principal.identity_policies, principal.trust_policy, principal.permissions_boundary) if policy) or (
        isinstance(principal.source, SpreadSource)
        and any(where[0] == file for where in principal.source.elsewhere.values()))


def _declares_read_resources(file: ModuleFile) -> bool:
    return any(block.data == "block" and _block_type(block) == "resource" and _block_labels(block)[:1]
               and _block_labels(block)[0] in READ_RESOURCES for block in _body_items(_child_tree(file.tree, "body")))


def _declared_twice(files: Sequence[ModuleFile]) -> bool:
    """Whether two of the files declare the same resource, data source, module, variable, output or local value:
    Terraform would refuse them as one module (a folder of unrelated examples), so each is read alone."""
    seen: set[tuple[str, ...]] = set()
    for file in files:
        for block in _body_items(_child_tree(file.tree, "body")):
            if block.data != "block":
                continue
            kind = _block_type(block)
            if kind in ("resource", "data", MODULE, "variable", "output"):
                keys = [(kind, *_block_labels(block))]
            elif kind == "locals":
                keys = [(kind, name) for name in _attributes(block)]
            else:
                continue
            if seen.intersection(keys):
                return True
            seen.update(keys)
    return False


def _file_named(line: str, displays: Sequence[str]) -> str:
    """The file a "not checked" line is about: the one it starts with (the longest name, should two begin alike)."""
    named = [display for display in displays if line.startswith(display + ":")]
    return max(named, key=len) if named else displays[0]


def _too_deep(max_nesting: int) -> Problem:
    return Problem("syntax-error", f"HCL nesting deeper than {max_nesting} levels (the limit; --max-nesting raises it)",
                   "", line=1, column=1)


def _parsed(source: Source, max_nesting: int) -> Tree | Problem:
    """The parse tree of a ``.tf`` file, or its located syntax error."""
    import hcl2
    from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    text = source.text or ""
    try:
        tree: Tree = hcl2.parses_to_tree(text)
        return tree
    except UnexpectedInput as exc:
        if isinstance(exc, UnexpectedCharacters):
            message = f"HCL syntax error: unexpected character {exc.char!r}"
        elif isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
            shown = (str(exc.token).strip().splitlines() or [""])[0]  # a heredoc's first line
            message = f"HCL syntax error: unexpected {shown[:40] or 'line break'!r}"
        else:
            message = "HCL syntax error: unexpected end of file (a '}', ']' or ')' is missing)"
        at_end = not (isinstance(exc.line, int) and exc.line > 0)
        line, column = source.offset_to_position(len(text)) if at_end else (exc.line, exc.column)
        return Problem("syntax-error", message, "", line=line, column=column)
    except RecursionError:
        return _too_deep(max_nesting)
    except LarkError as exc:
        return Problem("syntax-error", f"HCL syntax error: {exc}", "", line=1, column=1)


@dataclass(frozen=True, slots=True)
class ModuleFile:
    """One ``.tf`` file of a module, parsed: where its values are located."""

    source: Source
    positions: dict[str, tuple[int, int]]
    tree: Tree


class _ConfigurationReader(ConfigurationReader[Tree, Tree]):
    def __init__(self, source: Source, positions: dict[str, tuple[int, int]], result: LoadResult, max_nesting: int,
                 max_statements: int) -> None:
        self.source = source
        self.text = source.text or ""
        self.positions = positions
        self.result = result
        self.max_nesting = max_nesting
        self.max_statements = max_statements
        self.documents: dict[str, Tree] = {}
        self.document_files: dict[str, ModuleFile] = {}
        self.rendered_documents: dict[str, dict[str, Any] | None] = {}
        self.results_of: dict[int, tuple[dict[Any, Any], dict[int, int]]] = {}
        """By id, each object (a statement) a result of a conditional gives: the object (kept, so that the id stays
        its own), and by conditional (its offset in the file), which of its two results gives it."""
        self.locals: dict[str, str] = {}
        """The file's ``locals`` whose values are strings written out: ``local.NAME`` in a name is that string (a
        local cannot be set from outside, unlike a variable's default)."""

    # ----------------------------------------------------------------- the file's blocks

    def read(self, tree: Tree) -> None:
        self.read_files([ModuleFile(self.source, self.positions, tree)])

    def read_files(self, files: Sequence[ModuleFile]) -> None:
        """The blocks of one file, or of the files of a module (a folder's ``.tf`` files), which refer to each
        other's resources and data sources as if they were one file; each value is located in its own file."""
        if len(files) > 1:
            self.scope = "module"
        blocks = [(file, item) for file in files for item in _body_items(_child_tree(file.tree, "body"))
                  if item.data == "block"]
        resources: list[_Resource] = []
        principals = TerraformPrincipals(self.source.display_path, self.scope, CONFIGURATION_UNKNOWN)
        for file, block in blocks:
            if _block_type(block) == "locals":
                with self.within(file):
                    for name, expression in _attributes(block).items():
                        value = self.literal(expression)
                        if value is not None:
                            self.locals[name] = value
        for file, block in blocks:
            kind, labels = _block_type(block), _block_labels(block)
            if kind == "data" and len(labels) == 2 and labels[0] == POLICY_DOCUMENT:
                self.documents[labels[1]] = block
                self.document_files[labels[1]] = file
            elif kind == "data" and len(labels) == 2 and labels[0] == MANAGED_POLICY:
                attributes = _attributes(block)
                with self.within(file):
                    principals.policy_data_source(f"data.{MANAGED_POLICY}.{labels[1]}",
                                                  self.literal(attributes.get("arn")),
                                                  self.literal(attributes.get("name")))
            elif kind == "resource" and len(labels) == 2:
                pointer = join_pointer(join_pointer("/resource", labels[0]), labels[1])
                resources.append(ConfigurationResource(labels[0], labels[1], _attributes(block), pointer, block, file))
            elif kind == MODULE and len(labels) == 1:
                pointer = join_pointer("/module", labels[0])
                resources.append(ConfigurationResource(MODULE, labels[0], _attributes(block), pointer, block, file))
        self.read_resources(resources, principals)

    @contextmanager
    def within(self, file: ModuleFile | None) -> Iterator[None]:
        if file is None or file.source is self.source:
            yield
            return
        held = self.source, self.text, self.positions
        self.source, self.text, self.positions = file.source, file.source.text or "", file.positions
        try:
            yield
        finally:
            self.source, self.text, self.positions = held

    def document_file(self, name: str) -> ModuleFile | None:
        return self.document_files.get(name)

    def nested_blocks(self, resource: _Resource, block_type: str) -> Iterator[tuple[dict[str, Tree], str, Tree]]:
        blocks = [item for item in _body_items(_child_tree(resource.at, "body"))
                  if item.data == "block" and _block_type(item) == block_type]
        for index, block in enumerate(blocks):
            yield _attributes(block), join_pointer(join_pointer(resource.pointer, block_type), index), block

    def nested_ref(self, attributes: Mapping[str, Tree], pointer: str, argument: str) -> Ref:
        return self.ref(attributes[argument], argument)

    def argument_ref(self, resource: _Resource, argument: str) -> Ref:
        return self.ref(resource.attributes[argument], argument)

    def argument_refs(self, resource: _Resource, argument: str) -> list[Ref]:
        if argument not in resource.attributes:
            return []
        node = _unwrap_expression(resource.attributes[argument])
        if is_list_argument(argument) and not isinstance(node, Token) and node.data == "tuple":
            return [self.ref(item, f"{argument}[{index}]") for index, item in enumerate(_meaningful_children(node))]
        return [self.argument_ref(resource, argument)]

    def ref(self, expression: Tree, argument: str) -> Ref:
        """How an attachment names a principal or policy: a reference (``aws_iam_role.NAME.name``), a string, or an
        expression Terraform decides."""
        node = _interpolation_only(expression)
        position = self.source.offset_to_position(_start(node))
        traversal = _traversal(node)
        if traversal is not None:
            return reference_ref(argument, self.shown(node), position, traversal)
        value = _unwrap_expression(node)
        text = self.template(value, False) if not isinstance(value, Token) and value.data == "string" else None
        return Ref(argument, self.shown(node), position, text=text if isinstance(text, str) else None)

    # ----------------------------------------------------------------- policy attributes

    def policy(self, expression: Tree, kind: PolicyKind, pointer: str, subject: Subject, address: str,
               attribute: str, used_documents: set[str], resource_implied: bool = False,
               label: str | None = None) -> Policy | None:
        label = label or f"{address}.{attribute}"
        where = f"{self.source.display_path}: {address}.{attribute}"
        node = _interpolation_only(expression)
        self.mark(pointer, node)
        value = _unwrap_expression(node)
        if getattr(value, "data", None) == "literal_value" and str(value.children[0]) == "null":
            return None
        if value.data == "function_call" and _function_name(value) == "jsonencode":
            arguments = _argument_expressions(value)
            if len(arguments) != 1:
                self.not_checked(where, f"= {self.shown(node)}: not checked (jsonencode takes one argument)")
                return None
            marks: dict[str, int] = {}
            document = self.value(arguments[0], pointer, 0, marks)
            if isinstance(document, Unknown):
                self.not_checked(where, f"= {self.shown(node)}: not checked ({UNEVALUATED})")
                return None
            document = self.without_unknown_statements(document, pointer, marks, where)
            if document is None:
                return None
            for marked, offset in marks.items():
                self.mark_offset(marked, offset)
            return self.add_policy(rendered(document), kind, pointer, subject, label, resource_implied,
                                   self.exclusive_statements(document))
        if value.data in ("heredoc_template", "heredoc_template_trim", "string"):
            document = self.json_text(value, pointer, where, address, attribute)
            if document is None:
                return None
            return self.add_policy(document, kind, pointer, subject, label, resource_implied)
        name = policy_document_name(_traversal(node))
        if name is not None:
            return self.document_policy(name, self.shown(node), where, kind, subject, label, used_documents,
                                        resource_implied)
        self.not_checked(where, f"= {self.shown(node)}: not checked (iam-audit reads jsonencode(...), JSON text and "
                                f"aws_iam_policy_document data sources of the same {self.scope}; the plan from "
                                "terraform show -json has the value)")
        return None

    def document_reference(self, expression: Tree) -> str | None:
        return policy_document_name(_traversal(_interpolation_only(expression)))

    def written_document(self, expression: Tree) -> Any:
        value = _unwrap_expression(_interpolation_only(expression))
        kind = getattr(value, "data", None)
        if kind == "function_call" and _function_name(value) == "jsonencode":
            arguments = _argument_expressions(value)
            return self.value(arguments[0], "", 0, {}) if len(arguments) == 1 else None
        if kind in ("heredoc_template", "heredoc_template_trim", "string"):
            text = self.value(value, "", 0, {})
            return json_object(text) if isinstance(text, str) else None
        return None

    def without_unknown_statements(self, document: Any, pointer: str, marks: dict[str, int],
                                   where: str) -> Any | None:
        """The document without the statements whose shape is unknown (each listed as not checked); None when no
        statement can be checked."""
        if not isinstance(document, dict):
            return document
        statements = document.get("Statement")
        statements_pointer = join_pointer(pointer, "Statement")
        if isinstance(statements, Unknown):
            self.not_checked(where, f"Statement = {shorter(statements.expression)}: not checked ({UNEVALUATED})")
            return None
        if isinstance(statements, dict):
            unknown = unknown_shape(statements)
            if unknown is not None:
                self.not_checked(where, f"the statement's {unknown}: not checked")
                return None
            return document
        if not isinstance(statements, list):
            return document
        kept: list[Any] = []
        new_index: dict[int, int] = {}
        for index, statement in enumerate(statements):
            unknown = (f"is {shorter(statement.expression)}" if isinstance(statement, Unknown)
                       else unknown_shape(statement) if isinstance(statement, dict) else None)
            if unknown is not None:
                self.not_checked(where, f"statement {index} {unknown}: not checked")
                continue
            new_index[index] = len(kept)
            kept.append(statement)
        if len(kept) == len(statements):
            return document
        if not kept:
            return None
        prefix = statements_pointer + "/"
        renumbered: dict[str, int] = {}
        for marked, offset in marks.items():
            if not marked.startswith(prefix):
                renumbered[marked] = offset
                continue
            index_text, _, rest = marked[len(prefix):].partition("/")
            if index_text.isdigit() and int(index_text) in new_index:
                renumbered[prefix + str(new_index[int(index_text)]) + ("/" + rest if rest else "")] = offset
        marks.clear()
        marks.update(renumbered)
        return {**document, "Statement": kept}

    def json_text(self, value: Tree, pointer: str, where: str, address: str, attribute: str) -> Any | None:
        """The document in a heredoc or quoted string of JSON; its positions when it is a heredoc."""
        if value.data == "string":
            text = self.value(value, pointer, 0, {})
            if isinstance(text, Unknown):
                self.not_checked(where, f"= {self.shown(value)}: not checked (built with template directives)")
                return None
            template = Template(text, [0], [0], (), False)
            heredoc_body_offset = None
        else:
            raw = str(value.children[0])
            body_start = raw.find("\n") + 1
            body_end = raw.rstrip("\r\n").rfind("\n") + 1
            template = interpolated(raw[body_start:max(body_start, body_end)], known=self.local_in_json)
            heredoc_body_offset = _start(value) + body_start
            if template.directive:
                self.not_checked(where, f"= {self.shown(value)}: not checked (a template directive %{{...}} "
                                        "decides the text)")
                return None
        def position(error: ParseError) -> tuple[int, int]:
            if heredoc_body_offset is not None and error.offset is not None:
                return self.source.offset_to_position(heredoc_body_offset + template.raw_offset(error.offset))
            return self.source.locate(pointer)

        document = self.parse_policy_text(template, where, address, attribute, pointer, position)
        if document is NOT_PARSED:
            return None
        if heredoc_body_offset is not None:
            for relative, offset in scan_json_offsets(template.text):
                if relative:
                    self.mark_offset(pointer + relative, heredoc_body_offset + template.raw_offset(offset))
        return document

    # ----------------------------------------------------------------- data "aws_iam_policy_document"

    def document_pointer(self, name: str) -> str:
        return join_pointer(join_pointer("/data", POLICY_DOCUMENT), name)

    def policy_document(self, name: str) -> dict[str, Any] | None:
        """The JSON the AWS provider renders for a ``data "aws_iam_policy_document"`` block (read once); None when
        none of its statements can be checked (each reason is listed as not checked)."""
        if name in self.rendered_documents:
            return self.rendered_documents[name]
        block = self.documents[name]
        pointer = self.document_pointer(name)
        where = f"{self.source.display_path}: data.{POLICY_DOCUMENT}.{name}"
        self.mark(pointer, block)
        attributes = _attributes(block)
        left_out = False
        for merged in MERGED_DOCUMENT_ATTRIBUTES:
            if merged in attributes:
                self.not_checked(where, f"the statements merged from {merged} are not checked")
                left_out = True
        document: dict[str, Any] = {}
        version = self.literal(attributes.get("version"))
        document["Version"] = version or "2012-10-17"
        if "version" in attributes:
            self.mark(join_pointer(pointer, "Version"), _unwrap_expression(attributes["version"]))
        policy_id = self.literal(attributes.get("policy_id"))
        if policy_id:
            document["Id"] = policy_id
        statements: list[dict[str, Any]] = []
        statements_pointer = join_pointer(pointer, "Statement")
        for item in _body_items(_child_tree(block, "body")):
            if item.data != "block":
                continue
            kind, labels = _block_type(item), _block_labels(item)
            if kind == "dynamic" and labels == ["statement"]:
                line = self.source.offset_to_position(_start(item))[0]
                self.not_checked(where, f'dynamic "statement" at line {line}: not checked (its statements are made '
                                        "when Terraform runs)")
                left_out = True
                continue
            if kind != "statement":
                continue
            dynamic = [(_block_labels(nested)[0], self.source.offset_to_position(_start(nested))[0])
                       for nested in _body_items(_child_tree(item, "body"))
                       if nested.data == "block" and _block_type(nested) == "dynamic" and _block_labels(nested)]
            if not self.checkable_without_dynamic_blocks(where, _attributes(item).get("effect"), dynamic):
                left_out = True
                continue
            assigned = [name for name in (*PRINCIPAL_BLOCKS, "condition") if name in _attributes(item)]
            if assigned:
                line = self.source.offset_to_position(_start(item))[0]
                self.not_checked(where, f"statement at line {line}: not checked ({assigned[0]} = {{...}} is Terraform "
                                        f"0.11 syntax, which Terraform 0.12 and later reject: write {assigned[0]} "
                                        "{ ... } as a block)")
                left_out = True
                continue
            marks: dict[str, int] = {}
            statement_pointer = join_pointer(statements_pointer, len(statements))
            statement = self.document_statement(item, statement_pointer, marks)
            unknown = unknown_shape(statement)
            if unknown is not None:
                line = self.source.offset_to_position(_start(item))[0]
                self.not_checked(where, f"statement at line {line}: its {unknown}: not checked")
                left_out = True
                continue
            for marked, offset in marks.items():
                self.mark_offset(marked, offset)
            statements.append(provider_strings(rendered(statement)))
        document["Statement"] = statements
        checkable = document if statements or not left_out else None
        self.rendered_documents[name] = checkable
        return checkable

    def document_statement(self, block: Tree, pointer: str, marks: dict[str, int]) -> dict[str, Any]:
        marks[pointer] = _start(block)
        attributes = _attributes(block)
        statement: dict[str, Any] = {}
        if "sid" in attributes:
            statement["Sid"] = self.value(attributes["sid"], join_pointer(pointer, "Sid"), 1, marks, True)
        if "effect" in attributes:
            statement["Effect"] = self.value(attributes["effect"], join_pointer(pointer, "Effect"), 1, marks, True)
        else:
            statement["Effect"] = "Allow"
        for attribute, element in STATEMENT_LISTS.items():
            if attribute in attributes:
                element_pointer = join_pointer(pointer, element)
                marks[element_pointer] = _start(attributes[attribute])
                statement[element] = self.list_value(attributes[attribute], element_pointer, 0, marks)
        nested = [item for item in _body_items(_child_tree(block, "body")) if item.data == "block"]
        for block_type, element in PRINCIPAL_BLOCKS.items():
            principal_blocks = [item for item in nested if _block_type(item) == block_type]
            if principal_blocks:
                statement[element] = self.principals(principal_blocks, join_pointer(pointer, element), marks)
        conditions = [item for item in nested if _block_type(item) == "condition"]
        if conditions:
            statement["Condition"] = self.conditions(conditions, join_pointer(pointer, "Condition"), marks)
        return statement

    def principals(self, blocks: list[Tree], pointer: str, marks: dict[str, int]) -> Any:
        marks[pointer] = _start(blocks[0])
        by_type: dict[Any, list[Any]] = {}
        for block in blocks:
            attributes = _attributes(block)
            principal_type = self.value(attributes["type"], pointer, 1, {}, True) if "type" in attributes else ""
            if "identifiers" not in attributes:
                continue
            identifiers = by_type.setdefault(principal_type, [])
            type_pointer = join_pointer(pointer, rendered(principal_type))
            marks.setdefault(type_pointer, _start(block))
            identifiers.extend(self.list_value(attributes["identifiers"], type_pointer, len(identifiers), marks))
        return principal_element(by_type)

    def conditions(self, blocks: list[Tree], pointer: str, marks: dict[str, int]) -> dict[Any, Any]:
        marks[pointer] = _start(blocks[0])
        operators: dict[Any, dict[Any, list[Any]]] = {}
        for block in blocks:
            attributes = _attributes(block)
            test = self.value(attributes["test"], pointer, 1, {}, True) if "test" in attributes else ""
            variable = self.value(attributes["variable"], pointer, 1, {}, True) if "variable" in attributes else ""
            operator_pointer = join_pointer(pointer, rendered(test))
            key_pointer = join_pointer(operator_pointer, rendered(variable))
            marks.setdefault(operator_pointer, _start(block))
            marks.setdefault(key_pointer, _start(block))
            values = operators.setdefault(test, {}).setdefault(variable, [])
            if "values" in attributes:  # a conditional stays unknown: both results together may allow less
                values.extend(self.list_value(attributes["values"], key_pointer, len(values), marks, either=False))
        return operators

    # ----------------------------------------------------------------- expressions to values

    def value(self, node: Tree, pointer: str, depth: int, marks: dict[str, int],
              policy_variables: bool = False) -> Any:
        """The JSON value of an HCL expression; ``Unknown`` where Terraform decides it. ``marks`` receives the
        offset of each value by pointer; ``policy_variables``: ``&{...}`` stands for ``${...}`` (in
        aws_iam_policy_document)."""
        if depth > self.max_nesting:
            raise _TooDeep
        node = _unwrap_expression(node)
        if not isinstance(node, Token):
            marks[pointer] = _start(node)
        kind = node.type if isinstance(node, Token) else node.data
        if kind == "object":
            found: dict[Any, Any] = {}
            for element in _meaningful_children(node):
                key_node, value_node = _meaningful_children(element)
                key = self.object_key(key_node)
                key_pointer = join_pointer(pointer, rendered(key))
                if key in EITHER_ELEMENTS and _is_conditional(_unwrap_expression(value_node)):
                    marks[key_pointer] = _start(value_node)
                    found[key] = self.list_value(value_node, key_pointer, 0, marks, depth + 1, policy_variables)
                else:
                    found[key] = self.value(value_node, key_pointer, depth + 1, marks, policy_variables)
            return found
        if kind == "tuple":
            return self.list_value(node, pointer, 0, marks, depth, policy_variables)
        if kind == "string":
            return self.template(node, policy_variables)
        if kind in ("heredoc_template", "heredoc_template_trim"):
            return self.heredoc_value(node, kind == "heredoc_template_trim")
        if kind == "int_lit":
            return int(str(node.children[0]))
        if kind == "float_lit":
            return float(str(node.children[0]))
        if kind == "literal_value":
            return {"true": True, "false": False}.get(str(node.children[0]))
        expression = self.expression_text(node)
        local = self.local_text(expression)
        return Unknown(expression) if local is None else local

    def local_in_json(self, expression: str) -> str | None:
        """``local_text`` as it stands inside a JSON string (a policy in a heredoc)."""
        value = self.local_text(expression)
        return None if value is None else json.dumps(value)[1:-1]

    def local_text(self, expression: str) -> str | None:
        """The value of ``local.NAME`` when the file's ``locals`` write it out as a string (a local cannot be set
        from outside: ``"arn:aws:iam::${local.vendor_account}:root"`` names that account)."""
        if expression.startswith("local.") and expression[6:] in self.locals:
            return self.locals[expression[6:]]
        return None

    def list_value(self, node: Tree, pointer: str, first_index: int, marks: dict[str, int], depth: int = 1,
                   policy_variables: bool = True, either: bool = True) -> list[Any]:
        """The items of a tuple (pointers numbered from ``first_index``); any other value is one item.

        With ``either``, a conditional (``var.public ? "*" : aws_s3_bucket.b.arn``), as the list or as one of its
        items, gives the items of both its results: what the list allows whichever way Terraform decides.
        """
        if depth > self.max_nesting:
            raise _TooDeep
        node = _unwrap_expression(node)
        if either and _is_conditional(node):
            return self.either_items(node, pointer, first_index, marks, depth, policy_variables)
        if isinstance(node, Token) or node.data != "tuple":
            value = self.value(node, join_pointer(pointer, first_index), depth + 1, marks, policy_variables)
            return value if isinstance(value, list) else [value]
        items: list[Any] = []
        for item in _meaningful_children(node):
            if either and _is_conditional(_unwrap_expression(item)):
                items += self.list_value(item, pointer, first_index + len(items), marks, depth + 1, policy_variables)
            else:
                items.append(self.value(item, join_pointer(pointer, first_index + len(items)), depth + 1, marks,
                                        policy_variables))
        return items

    def either_items(self, node: Tree, pointer: str, first_index: int, marks: dict[str, int], depth: int,
                     policy_variables: bool) -> list[Any]:
        """The items of both results of a conditional, as ``kept_items`` keeps them, numbered from ``first_index``."""
        branches: list[list[Any]] = []
        branch_marks: list[dict[str, int]] = []
        for result in _meaningful_children(node)[1:]:
            branch_marks.append({})
            branches.append(self.list_value(result, pointer, 0, branch_marks[-1], depth + 1, policy_variables))
        items: list[Any] = []
        for branch, index in kept_items(branches):
            old_prefix, new_prefix = join_pointer(pointer, index), join_pointer(pointer, first_index + len(items))
            for marked, offset in branch_marks[branch].items():
                if marked == old_prefix or marked.startswith(old_prefix + "/"):
                    marks[new_prefix + marked[len(old_prefix):]] = offset
            item = branches[branch][index]
            if isinstance(item, dict):
                self.results_of.setdefault(id(item), (item, {}))[1][_start(node)] = branch
            items.append(item)
        return items

    def exclusive_statements(self, document: Any) -> Callable[[int, int], bool]:
        """Whether two statements of the document come from different results of one conditional, so that they
        are never deployed together."""
        statements = document.get("Statement") if isinstance(document, dict) else None
        results = [self.results_of.get(id(statement), (None, {}))[1]
                   for statement in (statements if isinstance(statements, list) else [])]

        def exclusive(first: int, second: int) -> bool:
            return any(results[second].get(conditional, result) != result
                       for conditional, result in results[first].items())

        return exclusive

    def object_key(self, key_node: Tree) -> Any:
        inner = _meaningful_children(key_node)[0]
        unwrapped = _unwrap_expression(inner)
        if not isinstance(unwrapped, Token) and unwrapped.data in ("identifier", "keyword"):
            return str(unwrapped.children[0])
        if not isinstance(unwrapped, Token) and unwrapped.data == "string":
            return self.template(unwrapped, False)
        return Unknown(self.expression_text(unwrapped))

    def template(self, node: Tree, policy_variables: bool) -> Any:
        parts: list[str] = []
        for part in node.children:
            if isinstance(part, Token):
                continue  # the quotes
            piece = part.children[0]
            if isinstance(piece, Token):
                if piece.type == "ESCAPED_INTERPOLATION" or piece.type == "ESCAPED_DIRECTIVE":
                    parts.append(str(piece)[1:])
                else:
                    literal = _HCL_ESCAPE.sub(_unescape, str(piece))
                    parts.append(literal.replace("&{", "${") if policy_variables else literal)
            elif piece.data == "interpolation":
                expression = self.expression_text(_meaningful_children(piece)[0])
                local = self.local_text(expression)
                parts.append(Unknown(expression).placeholder if local is None else local)
            else:  # %{ if } / %{ for }: the text depends on values known only when Terraform runs
                return Unknown(self.expression_text(node))
        return "".join(parts)

    def heredoc_value(self, node: Tree, trim: bool) -> Any:
        raw = str(node.children[0])
        body_start = raw.find("\n") + 1
        body = raw[body_start:max(body_start, raw.rstrip("\r\n").rfind("\n") + 1)]
        if trim:
            lines = body.split("\n")
            indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
            cut = min(indents, default=0)
            body = "\n".join(line[cut:] for line in lines)
        template = interpolated(body, known=self.local_text)
        return Unknown(self.expression_text(node)) if template.directive else template.text

    def name_text(self, expression: Tree) -> str | None:
        node = _unwrap_expression(expression)
        if not isinstance(node, Token) and node.data == "string":
            value = self.template(node, False)
            return value if isinstance(value, str) else value.placeholder
        text = self.expression_text(node)
        local = self.local_text(text)
        if local is not None:
            return local
        return None if text == "null" else Unknown(text).placeholder

    def literal(self, expression: Tree | None) -> str | None:
        """A string attribute's value when it holds no expression."""
        if expression is None:
            return None
        node = _unwrap_expression(expression)
        if isinstance(node, Token) or node.data != "string":
            return None
        value = self.template(node, False)
        return value if isinstance(value, str) and "{{" not in value else None

    # ----------------------------------------------------------------- positions and messages

    def mark(self, pointer: str, node: Tree | Token) -> None:
        self.mark_offset(pointer, _start(node))

    def mark_offset(self, pointer: str, offset: int) -> None:
        self.positions[pointer] = self.source.offset_to_position(offset)

    def expression_text(self, node: Tree | Token) -> str:
        start, end = _span(node)
        return placeholder_text(self.text[start:end])

    def shown(self, node: Tree | Token) -> str:
        """An expression as a message quotes it: on one line, cut short."""
        start, end = _span(node)
        return shorter(WHITESPACE.sub(" ", self.text[start:end]).strip())


# --------------------------------------------------------------------- parse-tree helpers


def _is_layout(node: Any) -> bool:
    return not isinstance(node, str) and getattr(node, "data", None) == "new_line_or_comment"


def _meaningful_children(node: Tree) -> list[Any]:
    """Children that carry meaning: no punctuation tokens, no line breaks or comments."""
    return [child for child in node.children if not isinstance(child, Token) and not _is_layout(child)]


def _child_tree(node: Tree, data: str) -> Tree:
    return next(child for child in node.children if getattr(child, "data", None) == data)


def _body_items(body: Tree) -> Iterator[Tree]:
    for child in body.children:
        if getattr(child, "data", None) in ("attribute", "block"):
            yield child


def _name(node: Any) -> str:
    """The text of an identifier, keyword or one-part string (a block type or label, an attribute name)."""
    if getattr(node, "data", None) == "string":
        return "".join(str(part.children[0]) for part in _meaningful_children(node))
    return str(node.children[0])


def _block_type(block: Tree) -> str:
    return _name(block.children[0])


def _block_labels(block: Tree) -> list[str]:
    labels = []
    for child in block.children[1:]:
        if getattr(child, "data", None) not in ("identifier", "keyword", "literal_value", "string"):
            break
        labels.append(_name(child))
    return labels


def _attributes(block: Tree) -> dict[str, Tree]:
    """Attribute name -> expression, for the attributes directly in a block's body."""
    found = {}
    for item in _body_items(_child_tree(block, "body")):
        if item.data == "attribute":
            found[_name(item.children[0])] = _meaningful_children(item)[-1]
    return found


def _unwrap_expression(node: Any) -> Any:
    """The term an ``expr_term`` (or a parenthesized expression) wraps."""
    while getattr(node, "data", None) == "expr_term":
        inner = _meaningful_children(node)
        if len(inner) != 1:
            return node
        node = inner[0]
    return node


def _is_conditional(node: Any) -> bool:
    return getattr(node, "data", None) == "conditional"


def _interpolation_only(expression: Tree) -> Tree:
    """``"${expr}"`` (Terraform 0.11 style) means ``expr``."""
    node = _unwrap_expression(expression)
    if getattr(node, "data", None) == "string":
        parts = _meaningful_children(node)
        if len(parts) == 1 and getattr(parts[0].children[0], "data", None) == "interpolation":
            return _meaningful_children(parts[0].children[0])[0]
    return expression


def _traversal(expression: Any) -> list[str] | None:
    """``data.aws_iam_policy_document.x.json`` as its names (index steps left out), or None for any other
    expression."""
    node = _unwrap_expression(expression)
    kind = getattr(node, "data", None)
    if kind == "identifier":
        return [str(node.children[0])]
    if kind == "get_attr_expr_term":
        base, step = _meaningful_children(node)
        names = _traversal(base)
        return None if names is None else [*names, _name(_meaningful_children(step)[0])]
    if kind == "index_expr_term":
        return _traversal(_meaningful_children(node)[0])
    return None


def _function_name(call: Tree) -> str:
    return ":".join(str(part.children[0]) for part in call.children
                    if getattr(part, "data", None) == "identifier")


def _argument_expressions(call: Tree) -> list[Any]:
    arguments = next((child for child in call.children if getattr(child, "data", None) == "arguments"), None)
    return [] if arguments is None else _meaningful_children(arguments)


def _start(node: Tree | Token) -> int:
    return (node.start_pos or 0) if isinstance(node, Token) else int(node.meta.start_pos)


def _span(node: Tree | Token) -> tuple[int, int]:
    if isinstance(node, Token):
        return node.start_pos or 0, node.end_pos or 0
    return int(node.meta.start_pos), int(node.meta.end_pos)


def _unescape(match: re.Match[str]) -> str:
    escape = match.group()
    if escape[1] in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[escape[1]]
    codepoint = int(escape[2:], 16)
    return chr(codepoint) if codepoint <= 0x10FFFF and not 0xD800 <= codepoint < 0xE000 else escape
