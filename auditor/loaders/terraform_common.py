"""What Terraform configuration in HCL (``.tf``) and in JSON syntax (``.tf.json``) read alike.

The resources and attributes that hold policies, the statement elements of a ``data
"aws_iam_policy_document"`` and how the AWS provider renders them, and string templates:
an interpolation ``${...}`` becomes a ``{{...}}`` placeholder that checks treat as an unknown
deploy-time value.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from auditor.loaders.terraform import POLICY_ATTRIBUTES
from auditor.model import PolicyKind

# resource type -> [(attribute, kind)]; the plan's data source (aws_iam_policy_document.json) is a block here
RESOURCE_POLICY_ATTRIBUTES: dict[str, list[tuple[str, PolicyKind]]] = {
    **{rtype: attributes for rtype, attributes in POLICY_ATTRIBUTES.items() if rtype != "aws_iam_policy_document"},
    "aws_ecr_repository_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_secretsmanager_secret_policy": [("policy", PolicyKind.RESOURCE)],
}
RESOURCE_IMPLIED_TYPES = frozenset({"aws_ecr_repository_policy"})
"""Their policies' statements may leave out ``Resource``: the repository is the resource."""
POLICY_DOCUMENT = "aws_iam_policy_document"
DOCUMENT_OUTPUTS = frozenset({"json", "minified_json"})
ROLE_REFERENCE_ATTRIBUTES = frozenset({"name", "id"})
MERGED_DOCUMENT_ATTRIBUTES = ("source_policy_documents", "override_policy_documents", "source_json", "override_json")

STATEMENT_LISTS = {"actions": "Action", "not_actions": "NotAction", "resources": "Resource",
                   "not_resources": "NotResource"}
PRINCIPAL_BLOCKS = {"principals": "Principal", "not_principals": "NotPrincipal"}
STRUCTURAL_ELEMENTS = ("Principal", "NotPrincipal", "Condition")
"""Statement elements whose shape a placeholder cannot stand in for: a statement with one unknown is not checked."""
NO_IAM_POLICY = ("no IAM policy (no Terraform resource that holds one, nor an aws_iam_policy_document data "
                 "source)")
"""Why a configuration file without one is skipped."""

_TEMPLATE_MARK = re.compile(r"\$\$\{|%%\{|\$\{|%\{")
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
WHITESPACE = re.compile(r"\s+")
_SHOWN_EXPRESSION = 80


@dataclass(frozen=True, slots=True)
class Unknown:
    """A Terraform expression whose value is known only when Terraform runs."""

    expression: str

    @property
    def placeholder(self) -> str:
        return "{{" + self.expression + "}}"


@dataclass(frozen=True, slots=True)
class Template:
    """A template's text with its interpolations turned into placeholders, and how to find the original offsets."""

    text: str
    output_starts: list[int]
    raw_starts: list[int]
    placeholder_offsets: tuple[int, ...]
    directive: bool

    def raw_offset(self, offset: int) -> int:
        segment = max(bisect.bisect_right(self.output_starts, offset) - 1, 0)
        return self.raw_starts[segment] + offset - self.output_starts[segment]


def placeholder_text(expression: str) -> str:
    """An expression as placeholder text: one line, and no character that would end a JSON string around it."""
    return WHITESPACE.sub(" ", expression).strip().replace('"', "'").replace("\\", "")


def shorter(text: str) -> str:
    return text if len(text) <= _SHOWN_EXPRESSION else text[:_SHOWN_EXPRESSION - 1] + "…"


def interpolated(raw: str, policy_variables: bool = False) -> Template:
    """A template's text (a heredoc body, a ``.tf.json`` string) as Terraform renders it, ``${...}`` written as a
    ``{{...}}`` placeholder; ``policy_variables``: ``&{...}`` in its text stands for ``${...}`` (in
    aws_iam_policy_document)."""
    pieces: list[str] = []
    output_starts: list[int] = []
    raw_starts: list[int] = []
    placeholders: list[int] = []
    length = 0
    position = 0

    def emit(text: str, raw_start: int) -> None:
        nonlocal length
        if policy_variables:
            text = text.replace("&{", "${")
        output_starts.append(length)
        raw_starts.append(raw_start)
        pieces.append(text)
        length += len(text)

    while True:
        match = _TEMPLATE_MARK.search(raw, position)
        if match is None:
            emit(raw[position:], position)
            break
        emit(raw[position:match.start()], position)
        mark = match.group()
        if mark in ("$${", "%%{"):
            emit(mark[1:], match.start() + 1)
            position = match.end()
            continue
        end = _closing_brace(raw, match.end())
        if mark == "%{" or end < 0:
            return Template(raw, [0], [0], (), True)
        placeholders.append(length)
        emit(Unknown(placeholder_text(raw[match.end():end])).placeholder, match.start())
        position = end + 1
    return Template("".join(pieces), output_starts, raw_starts, tuple(placeholders), False)


def single_interpolation(raw: str) -> str | None:
    """The expression of a template that is one interpolation and nothing else (``"${var.x}"``): its value is the
    expression's, not a string."""
    if raw.startswith("${") and _closing_brace(raw, 2) == len(raw) - 1:
        return raw[2:-1]
    return None


def _closing_brace(text: str, start: int) -> int:
    """Offset of the ``}`` that closes an interpolation whose expression starts at ``start``, or -1."""
    depth = 0
    position = start
    while position < len(text):
        character = text[position]
        if character == '"':
            position += 1
            while position < len(text) and text[position] != '"':
                position += 2 if text[position] == "\\" else 1
        elif character == "{":
            depth += 1
        elif character == "}":
            if depth == 0:
                return position
            depth -= 1
        position += 1
    return -1


def all_inside_strings(template: Template) -> bool:
    spans = [match.span() for match in _JSON_STRING.finditer(template.text)]
    starts = [start for start, _ in spans]
    for offset in template.placeholder_offsets:
        index = bisect.bisect_right(starts, offset) - 1
        if index < 0 or not spans[index][0] < offset < spans[index][1]:
            return False
    return True


def unknown_shape(statement: dict[Any, Any]) -> str | None:
    """How a statement's Principal, NotPrincipal or Condition is unknown ("Condition is local.c"), if it is."""
    for element in STRUCTURAL_ELEMENTS:
        value = statement.get(element)
        if isinstance(value, Unknown):
            return f"{element} is {shorter(value.expression)}"
        if not isinstance(value, dict):
            continue
        for key, inner in value.items():
            if isinstance(key, Unknown):
                return f"{element} has the key {shorter(key.expression)}"
            if element == "Condition":
                if isinstance(inner, Unknown):
                    return f"{element} {key} is {shorter(inner.expression)}"
                if isinstance(inner, dict) and any(isinstance(name, Unknown) for name in inner):
                    return f"{element} {key} has a key Terraform decides"
    return None


def provider_strings(value: Any) -> Any:
    """Values as the provider writes them: its arguments are strings, so ``values = [true, 3600]`` is
    ``["true", "3600"]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {key: provider_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [provider_strings(item) for item in value]
    return value


def principal_element(by_type: dict[Any, list[Any]]) -> Any:
    """A statement's ``Principal`` from its principals blocks' identifiers by type: the provider writes
    ``type = "*"`` with ``identifiers = ["*"]`` as ``"*"``."""
    if list(by_type) == ["*"] and by_type["*"] == ["*"]:
        return "*"
    return by_type


def rendered(value: Any) -> Any:
    """A value with its unknowns written as ``{{...}}`` placeholders."""
    if isinstance(value, Unknown):
        return value.placeholder
    if isinstance(value, dict):
        return {str(rendered(key)): rendered(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rendered(item) for item in value]
    return value
