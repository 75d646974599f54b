"""What Terraform configuration in HCL (``.tf``) and in JSON syntax (``.tf.json``) read alike.

The resources and attributes that hold policies, the statement elements of a ``data
"aws_iam_policy_document"`` and how the AWS provider renders them, and string templates:
an interpolation ``${...}`` becomes a ``{{...}}`` placeholder that checks treat as an unknown
deploy-time value.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from auditor.loaders.either import kept_items
from auditor.loaders.lambda_permission import (
    ELEMENT_OF_PROPERTY,
    REQUIRED_TERRAFORM_ARGUMENTS,
    TERRAFORM_ARGUMENTS,
    permission_policy,
)
from auditor.loaders.parse import ParseError, parse_embedded_json
from auditor.model import (
    CONFIGURATION_PRINCIPAL_ARN,
    IAM_ORGANIZATION_POLICY_TYPES,
    TEMPLATE_VALUE,
    Policy,
    PolicyKind,
    Principal,
    PrincipalRef,
    Problem,
    Subject,
    permission_set_role,
)
from auditor.normalize import looks_like_policy, normalize_policy, template_values, with_list_elements
from auditor.source import SpreadSource, join_pointer

if TYPE_CHECKING:
    from auditor.loaders.result import LoadResult
    from auditor.source import Source

NOT_PARSED = object()
"""What ``ConfigurationReader.parse_policy_text`` gives for JSON text it could not read (JSON ``null`` is None)."""

# resource type -> [(attribute, kind)], in a plan (where aws_iam_policy_document is a resource with its json)
POLICY_ATTRIBUTES: dict[str, list[tuple[str, PolicyKind]]] = {
    "aws_iam_policy": [("policy", PolicyKind.IDENTITY)],
    "aws_iam_role": [("assume_role_policy", PolicyKind.TRUST)],
    "aws_iam_role_policy": [("policy", PolicyKind.IDENTITY)],
    "aws_iam_user_policy": [("policy", PolicyKind.IDENTITY)],
    "aws_iam_group_policy": [("policy", PolicyKind.IDENTITY)],
    "aws_s3_bucket_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_s3_bucket": [("policy", PolicyKind.RESOURCE)],
    "aws_kms_key": [("policy", PolicyKind.RESOURCE)],
    "aws_kms_key_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_cloudwatch_log_resource_policy": [("policy_document", PolicyKind.RESOURCE)],
    "aws_opensearch_domain_policy": [("access_policies", PolicyKind.RESOURCE)],
    "aws_elasticsearch_domain_policy": [("access_policies", PolicyKind.RESOURCE)],
    "aws_opensearch_domain": [("access_policies", PolicyKind.RESOURCE)],
    "aws_elasticsearch_domain": [("access_policies", PolicyKind.RESOURCE)],
    "aws_sqs_queue_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_sqs_queue": [("policy", PolicyKind.RESOURCE)],
    "aws_sns_topic_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_sns_topic": [("policy", PolicyKind.RESOURCE)],
    "aws_ecr_repository_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_secretsmanager_secret_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_secretsmanager_secret": [("policy", PolicyKind.RESOURCE)],
    "aws_glue_resource_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_organizations_policy": [("content", PolicyKind.ORGANIZATION)],
    "aws_ssoadmin_permission_set_inline_policy": [("inline_policy", PolicyKind.IDENTITY)],
    "aws_ecr_registry_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_ecrpublic_repository_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_kms_replica_key": [("policy", PolicyKind.RESOURCE)],
    "aws_s3_access_point": [("policy", PolicyKind.RESOURCE)],
    "aws_s3control_access_point_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_api_gateway_rest_api": [("policy", PolicyKind.RESOURCE)],
    "aws_api_gateway_rest_api_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_efs_file_system_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_cloudwatch_event_bus_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_backup_vault_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_glacier_vault": [("access_policy", PolicyKind.RESOURCE)],
    "aws_codeartifact_domain_permissions_policy": [("policy_document", PolicyKind.RESOURCE)],
    "aws_codeartifact_repository_permissions_policy": [("policy_document", PolicyKind.RESOURCE)],
    "aws_cloudwatch_log_destination_policy": [("access_policy", PolicyKind.RESOURCE)],
    "aws_dynamodb_resource_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_kinesis_resource_policy": [("policy", PolicyKind.RESOURCE)],
    "aws_vpc_endpoint": [("policy", PolicyKind.ENDPOINT)],
    "aws_vpc_endpoint_policy": [("policy", PolicyKind.ENDPOINT)],
    "aws_iam_policy_document": [("json", PolicyKind.IDENTITY)],
}
OWNER_ATTRIBUTE = {
    "aws_iam_role_policy": ("role", "role"),
    "aws_iam_user_policy": ("user", "user"),
    "aws_iam_group_policy": ("group", "group"),
    "aws_ssoadmin_permission_set_inline_policy": ("role", "permission_set_arn"),
}
"""An inline policy resource -> (the kind of principal it belongs to, the attribute that names it)."""

# resource type -> [(attribute, kind)]; the plan's data source (aws_iam_policy_document.json) is a block here
RESOURCE_POLICY_ATTRIBUTES: dict[str, list[tuple[str, PolicyKind]]] = {
    **{rtype: attributes for rtype, attributes in POLICY_ATTRIBUTES.items() if rtype != "aws_iam_policy_document"},
}
EMPTY_DOCUMENT_DELETES = frozenset({("aws_secretsmanager_secret", "policy")})
"""Attributes where the document ``{}`` is the provider's way to delete the policy: there is none to check."""
EMPTY_STRING_NO_POLICY = frozenset({
    ("aws_s3_bucket", "policy"), ("aws_sqs_queue", "policy"), ("aws_sns_topic", "policy"),
    ("aws_secretsmanager_secret", "policy"), ("aws_opensearch_domain", "access_policies"),
    ("aws_elasticsearch_domain", "access_policies"), ("aws_vpc_endpoint", "policy")})
"""Optional policies of resources that are not policies themselves: the provider takes ``""`` for no policy."""
RESOURCE_IMPLIED_TYPES = frozenset({"aws_ecr_repository_policy", "aws_ecrpublic_repository_policy",
                                    "aws_efs_file_system_policy"})
"""Their policies' statements may leave out ``Resource``: the repository (file system) is the resource."""
POLICY_DOCUMENT = "aws_iam_policy_document"
DOCUMENT_OUTPUTS = frozenset({"json", "minified_json"})
MERGED_DOCUMENT_ATTRIBUTES = ("source_policy_documents", "override_policy_documents", "source_json", "override_json")

STATEMENT_LISTS = {"actions": "Action", "not_actions": "NotAction", "resources": "Resource",
                   "not_resources": "NotResource"}
EITHER_ELEMENTS = frozenset({"Statement", "Action", "NotAction", "Resource", "NotResource", "AWS", "Service",
                             "Federated", "CanonicalUser"})
"""Policy elements (and principal types) that take a list: a conditional there stands for the items of both its
results, what the policy allows whichever way Terraform decides."""
PRINCIPAL_BLOCKS = {"principals": "Principal", "not_principals": "NotPrincipal"}
STRUCTURAL_ELEMENTS = ("Principal", "NotPrincipal", "Condition")
"""Statement elements whose shape a placeholder cannot stand in for: a statement with one unknown is not checked."""
NO_IAM_POLICY = ("no IAM policy (no Terraform resource that holds one, nor an aws_iam_policy_document data "
                 "source)")
"""Why a configuration file without one is skipped."""

UNIQUE_SUFFIX = "{{unique suffix}}"
"""What the AWS provider adds to a ``name_prefix``: a unique id, known once Terraform creates the resource."""

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


def json_object(text: str) -> Any:
    """The JSON value of a text that holds an object, else None."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        return parse_embedded_json(text)
    except ParseError:
        return None


def either_results(document: Any) -> Any:
    """The document with each item of a list element (``Action``, ``Resource``, a principal type's list) that is a
    conditional written in an interpolation (``"${var.open ? "*" : aws_s3_bucket.b.arn}"``, the only way in a
    heredoc or ``.tf.json``) as both its results, as a conditional written bare is: the first in its place, the
    second after the list's items (so that the others keep their places)."""
    statements = document.get("Statement") if isinstance(document, dict) else None
    if not isinstance(statements, (list, dict)) or "{{" not in str(statements):
        return document
    expanded = [_statement_results(s) for s in (statements if isinstance(statements, list) else [statements])]
    return {**document, "Statement": expanded if isinstance(statements, list) else expanded[0]}


def _statement_results(statement: Any) -> Any:
    return with_list_elements(statement, _list_results) if isinstance(statement, dict) else statement


def _list_results(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    kept: list[Any] = []
    seconds: list[Any] = []
    for item in items:
        results = _conditional_results(item.strip()) if isinstance(item, str) else None
        if results is None:
            kept.append(item)
            continue
        both = [results[branch] for branch, _ in kept_items([[result] for result in results])]
        kept.append(both[0])
        seconds.append(both[1:])
    if not seconds:
        return value
    return kept + [second for more in seconds for second in more if second not in kept]


_MAX_RESULTS = 64
"""Results of the conditionals of one string beyond which the rest are left as placeholders."""


def _conditional_results(text: str) -> list[str] | None:
    """The results of the conditionals Terraform decides in a string, written as placeholder text (``{{var.open ?
    '*' : aws_s3_bucket.b.arn}}``, in parentheses, nested), the whole string or part of it (``s3:{{var.write ?
    '*' : 'GetObject'}}`` is ``s3:*`` or ``s3:GetObject``): each a literal or a placeholder; None when the string
    holds no conditional."""
    for match in TEMPLATE_VALUE.finditer(text):
        parts = _top_level_conditional(_unparenthesised(match.group()[2:-2].strip()))
        if parts is None:
            continue
        head, tail = text[:match.start()], text[match.end():]
        results: list[str] = []
        for branch in (_unparenthesised(part.strip()) for part in parts[1:]):
            nested = _conditional_results("{{" + branch + "}}")
            for result in nested if nested is not None else [_result_text(branch)]:
                whole = head + result + tail
                more = _conditional_results(whole) if len(results) < _MAX_RESULTS else None  # in the tail
                results.extend(more if more is not None else [whole])
        return list(dict.fromkeys(results))
    return None


def _top_level_conditional(expression: str) -> tuple[str, str, str] | None:
    """(test, first, second) of ``test ? first : second`` outside brackets and quotes, or None."""
    depth, quoted, question, pending = 0, False, -1, 0
    for index, char in enumerate(expression):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and char == "?":
            if question < 0:
                question = index
            else:
                pending += 1  # a conditional in the first result
        elif depth == 0 and char == ":" and question >= 0:
            if pending:
                pending -= 1
                continue
            return expression[:question], expression[question + 1:index], expression[index + 1:]
    return None


def _unparenthesised(expression: str) -> str:
    """``(var.a ? 'x' : 'y')`` without the parentheses that hold the whole of it."""
    while expression.startswith("(") and expression.endswith(")"):
        depth = 0
        for index, char in enumerate(expression):
            depth += (char == "(") - (char == ")")
            if depth == 0 and index < len(expression) - 1:
                return expression
        expression = expression[1:-1].strip()
    return expression


def _result_text(result: str) -> str:
    """A literal result of a conditional, or a placeholder for the expression Terraform decides."""
    if len(result) >= 2 and result[0] == result[-1] == "'" and "'" not in result[1:-1]:
        return result[1:-1]
    return "{{" + result + "}}"


def placeholder_text(expression: str) -> str:
    """An expression as placeholder text: one line, and no character that would end a JSON string around it."""
    return WHITESPACE.sub(" ", expression).strip().replace('"', "'").replace("\\", "")


def shorter(text: str) -> str:
    return text if len(text) <= _SHOWN_EXPRESSION else text[:_SHOWN_EXPRESSION - 1] + "…"


def interpolated(raw: str, policy_variables: bool = False,
                 known: Callable[[str], str | None] = lambda expression: None) -> Template:
    """A template's text (a heredoc body, a ``.tf.json`` string) as Terraform renders it, ``${...}`` written as a
    ``{{...}}`` placeholder, or as the text ``known`` gives for its expression (a local's value);
    ``policy_variables``: ``&{...}`` in its text stands for ``${...}`` (in aws_iam_policy_document)."""
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
        value = known(raw[match.end():end].strip())
        if value is not None:
            emit(value, match.start())
        else:
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


# --------------------------------------------------------------------- principals and managed policy attachments

PERMISSION_SET = "aws_ssoadmin_permission_set"
"""An IAM Identity Center permission set: checked as the role it becomes in each account it is assigned to."""
PRINCIPAL_RESOURCES = {"aws_iam_role": "role", "aws_iam_user": "user", "aws_iam_group": "group",
                       PERMISSION_SET: "role"}
"""The resources that declare a principal, and its kind."""
BOUNDARY_ATTACHMENT = "aws_ssoadmin_permissions_boundary_attachment"
"""Gives the permission set its ``permission_set_arn`` names a permissions boundary."""
MANAGED_POLICY = "aws_iam_policy"
"""A customer managed policy (a resource), or one looked up by name or ARN (a data source)."""
ROLE_MANAGED_POLICY_ARNS = "managed_policy_arns"
"""An ``aws_iam_role`` argument: the ARNs of the managed policies attached to the role."""
ATTACHMENTS: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "aws_iam_role_policy_attachment": ((("role", "role"),), "policy_arn"),
    "aws_iam_user_policy_attachment": ((("user", "user"),), "policy_arn"),
    "aws_iam_group_policy_attachment": ((("group", "group"),), "policy_arn"),
    "aws_iam_policy_attachment": ((("roles", "role"), ("users", "user"), ("groups", "group")), "policy_arn"),
    "aws_iam_role_policy_attachments_exclusive": ((("role_name", "role"),), "policy_arns"),
    "aws_iam_user_policy_attachments_exclusive": ((("user_name", "user"),), "policy_arns"),
    "aws_iam_group_policy_attachments_exclusive": ((("group_name", "group"),), "policy_arns"),
    "aws_ssoadmin_managed_policy_attachment": ((("permission_set_arn", "role"),), "managed_policy_arn"),
}
"""A resource that attaches managed policies -> ((argument naming principals, their kind), ...), the argument naming
the policies. An argument whose name ends in ``s`` is a list."""
MEMBERSHIPS = {"aws_iam_group_membership": ("users", "group"), "aws_iam_user_group_membership": ("user", "groups")}
"""A resource that puts users in groups -> (the argument naming the users, the argument naming the groups)."""
PRINCIPAL_REFERENCE_ATTRIBUTES = frozenset({"name", "id"})
"""How an attachment names a role, user or group of the configuration: ``aws_iam_role.NAME.name`` (``id`` is the
name too)."""
POLICY_REFERENCE_ATTRIBUTES = frozenset({"arn", "id"})
"""How an attachment names a managed policy: ``aws_iam_policy.NAME.arn`` (its ``id`` is the ARN too)."""
AWS_MANAGED_ARN = "arn:aws:iam::aws:policy/"
KMS_ALIAS = "aws_kms_alias"
"""Names a KMS key (``target_key_id``) by an alias, which a resource baseline's name patterns may match."""
KMS_KEY_POLICY = "aws_kms_key_policy"
ORGANIZATION_POLICY = "aws_organizations_policy"
"""Holds the policy of the key its ``key_id`` names: the key's aliases are its aliases too."""
UNREAD_GRANTS = {
    "aws_lambda_layer_version_permission": "a permission to use a layer version (not a policy document)",
    "aws_ssoadmin_customer_managed_policy_attachment": "a customer managed policy the permission set names, a "
                                                       "policy of each account it is assigned to (not in the "
                                                       "configuration): its statements were not checked",
}
"""Resources that grant access in a form iam-audit does not read: listed as not checked."""
LAMBDA_PERMISSION = "aws_lambda_permission"
"""Checked as the statement Lambda adds to the function's policy for it (see ``lambda_permission``)."""
READ_RESOURCES = (frozenset(RESOURCE_POLICY_ATTRIBUTES) | frozenset(PRINCIPAL_RESOURCES) | frozenset(ATTACHMENTS)
                  | frozenset(MEMBERSHIPS) | frozenset(UNREAD_GRANTS)
                  | {KMS_ALIAS, LAMBDA_PERMISSION, BOUNDARY_ATTACHMENT})
"""The resources a configuration reader reads."""
CONFIGURATION_UNKNOWN = ("Terraform decides it when it runs; the plan from terraform show -json has the value")
"""Why a principal or policy of an attachment in a configuration file is not checked, when its value is an
expression."""
NOT_RESOURCES = frozenset({"var", "local", "module", "each", "count", "path", "terraform", "self"})


def _resource_type(address: str) -> str:
    """``module.m.aws_iam_role`` of ``module.m.aws_iam_role.app["a.b"]``."""
    return re.sub(r"\[[^\]]*\]$", "", address).rpartition(".")[0]


def is_list_argument(argument: str) -> bool:
    return argument.endswith("s")


@dataclass(frozen=True, slots=True)
class Ref:
    """A value an attachment names a principal or a policy with, as a reader found it: a string (its interpolations
    as ``{{...}}`` placeholders), a reference to a resource or data source, or an expression Terraform decides."""

    argument: str
    """Where it is written: ``policy_arn``, ``managed_policy_arns[1]``."""
    shown: str
    """The expression as written, for messages."""
    position: tuple[int, int]
    text: str | None = None
    address: str | None = None
    """The resource or data source a reference names (``aws_iam_role.app``, ``data.aws_iam_policy.admin``)."""
    attribute: str | None = None
    """The attribute of it the reference reads (``name``, ``arn``); None when a plan does not say
    (``aws_iam_role.r[each.key].id``)."""

    @property
    def literal(self) -> str | None:
        return self.text if self.text is not None and "{{" not in self.text else None


def reference_ref(argument: str, shown: str, position: tuple[int, int], names: Sequence[str] | None,
                  prefix: str = "") -> Ref:
    """A reference (``aws_iam_role.app.name``, ``data.aws_iam_policy.x.arn``) as the address it names and the
    attribute it reads; ``prefix``: the module the reference is written in (``module.m.``, in a plan)."""
    size = 4 if names and names[0] == "data" else 3
    if names is None or len(names) != size or names[0] in NOT_RESOURCES:
        return Ref(argument, shown, position)
    return Ref(argument, shown, position, address=prefix + ".".join(names[:-1]), attribute=names[-1])


@dataclass
class _Parts:
    kind: str
    name: str
    pointer: str
    trust: Policy | None = None
    inline: list[Policy] = field(default_factory=list)
    attached: list[tuple[str, Policy | None, tuple[str, int, int], bool]] = field(default_factory=list)
    """(ARN, its document when in the input, where it is attached (file, line, column), whether a reason it is not
    checked is listed)."""
    boundary: Ref | None = None
    """Its ``permissions_boundary``."""


@dataclass(frozen=True, slots=True)
class _Managed:
    arn: str | None
    policy: Policy | None = None
    unknown: str = ""
    """Why the policy is not known, when ``arn`` is None."""
    declared: bool = False
    """An ``aws_iam_policy`` resource of the input: when its document is not checked, the reason is listed."""


class TerraformPrincipals:
    """The roles, users and groups of one Terraform configuration file or plan, with the policies that reach them:
    their own inline policies, and the managed policies attachment resources and ``managed_policy_arns`` attach.

    An attachment is resolved when the whole file is read (resources may come in any order); one whose principal or
    policy cannot be resolved is listed as not checked with the reason. The position of the ``N``-th attached policy
    is given to the pointer ``<principal>/ManagedPolicyArns/N`` (as in a CloudFormation template), so that a finding
    about the attachment points at it.
    """

    def __init__(self, display_path: str, noun: str, unknown: str) -> None:
        self.display_path = display_path
        self.noun = noun
        """``file`` or ``plan``: what messages call the input."""
        self.unknown = unknown
        """Why a value Terraform decides is not checked (where its value can be found)."""
        self.parts: dict[str, _Parts] = {}
        self.by_name: dict[tuple[str, str], str] = {}
        self.managed: dict[str, _Managed] = {}
        self.by_arn: dict[str, str] = {}
        self.inline: list[tuple[str, str, Ref, Policy]] = []
        self.attachments: list[tuple[str, str, str | Ref, Ref]] = []
        self.memberships: list[tuple[str, Ref, Ref]] = []
        """(the resource's address, a user, a group it puts the user in)."""
        self.boundary_attachments: list[tuple[str, Ref, Ref]] = []
        self.places: dict[str, tuple[Source, dict[str, tuple[int, int]]]] = {}
        """In a module of several files: the file (its source and positions) each resource's address is in."""

    def place(self, address: str, source: Source, positions: dict[str, tuple[int, int]]) -> None:
        """The resource ``address`` is in the file of ``source`` (a module's files are read together)."""
        self.places[address] = (source, positions)

    def _file(self, address: str) -> str:
        """The display path of the file that holds the resource ``address``."""
        found = self.places.get(address)
        return found[0].display_path if found is not None else self.display_path

    def declare(self, kind: str, address: str, name: str | None, pointer: str) -> None:
        """A role, user or group; ``name``: its name when the input says it, what Terraform decides in it as
        ``{{...}}`` placeholders (``UpsolverServerRole-{{var.region}}``)."""
        self.parts[address] = _Parts(kind, name or address, pointer)
        if name and "{{" not in name:  # an attachment names a principal by its literal name only
            self.by_name.setdefault((kind, name), address)

    def trust(self, address: str, policy: Policy) -> None:
        self.parts[address].trust = policy

    def permissions_boundary(self, address: str, ref: Ref) -> None:
        self.parts[address].boundary = ref

    def boundary_attachment(self, where: str, target: Ref, boundary: Ref) -> None:
        """``where`` gives the permission set ``target`` names the permissions boundary ``boundary``."""
        self.boundary_attachments.append((where, target, boundary))

    def own_policy(self, address: str, policy: Policy) -> None:
        """An inline policy written inside the principal's resource (``inline_policy`` of a role)."""
        self.parts[address].inline.append(policy)

    def inline_policy(self, kind: str, where: str, target: Ref, policy: Policy) -> None:
        """An ``aws_iam_role_policy`` (user, group) at ``where``: the policy of the principal its ``role`` names, if
        resolved."""
        self.inline.append((kind, where, target, policy))

    def managed_policy(self, address: str, policy: Policy | None, arn: str | None, name: str | None,
                       path: str | None) -> None:
        """An ``aws_iam_policy`` resource: ``arn`` when known (state), else made of its name and path when given."""
        if arn is None and name is not None and path is not None:
            arn = "arn:aws:iam::{{account_id}}:policy" + path + name
        arn = arn or "{{" + address + ".arn}}"
        self.managed[address] = _Managed(arn, policy, declared=True)
        self.by_arn.setdefault(arn, address)

    def policy_data_source(self, address: str, arn: str | None, name: str | None) -> None:
        """A ``data "aws_iam_policy"``: known when its ``arn`` is given, or its ``name`` is an AWS managed policy's
        that iam-audit knows (a name alone may find a customer managed policy of the account)."""
        from auditor.knowledge import load_privileged_managed_policies

        if arn is not None:
            self.managed[address] = _Managed(arn)
        elif name is not None and name in load_privileged_managed_policies():
            self.managed[address] = _Managed(AWS_MANAGED_ARN + name)
        elif name is not None:
            self.managed[address] = _Managed(None, unknown=f"{address} finds the policy named {name!r} when "
                                                           "Terraform runs, an AWS managed or a customer managed one; "
                                                           "give its arn, or check the plan")
        else:
            self.managed[address] = _Managed(None, unknown=f"{address} finds a policy Terraform decides")

    def attach(self, kind: str, where: str, target: str | Ref, policy: Ref) -> None:
        """``where`` (a resource address) attaches ``policy`` to the principal ``target`` names (or the principal of
        that address)."""
        self.attachments.append((kind, where, target, policy))

    def read_attachments(self, rtype: str, address: str, arguments: Callable[[str], list[Ref]]) -> None:
        """The attachments a resource makes, if it is an attachment or a role with ``managed_policy_arns``;
        ``arguments``: an argument's value as refs (one a list item), none when it is not set."""
        if rtype == "aws_iam_role":
            for ref in arguments(ROLE_MANAGED_POLICY_ARNS):
                self.attach("role", address, address, ref)
        if rtype in MEMBERSHIPS:
            users, groups = MEMBERSHIPS[rtype]
            self.memberships += [(address, user, group) for user in arguments(users) for group in arguments(groups)]
        if rtype not in ATTACHMENTS:
            return
        targets, policy_argument = ATTACHMENTS[rtype]
        policies = arguments(policy_argument)
        for target_argument, kind in targets:
            for target in arguments(target_argument):
                for policy in policies:
                    self.attach(kind, address, target, policy)

    # ----------------------------------------------------------------- resolving

    def resolve_principal(self, kind: str, ref: Ref) -> tuple[str | None, str]:
        """The address of the principal a reference or name means, or None and why not."""
        if ref.address is not None:
            parts = self.parts.get(ref.address)
            rtype = _resource_type(ref.address)
            # a permission set is named by its ARN, what its attachments take
            accepted = (*PRINCIPAL_REFERENCE_ATTRIBUTES, None, *(("arn",) if rtype == PERMISSION_SET else ()))
            if parts is not None and parts.kind == kind and ref.attribute in accepted:
                return ref.address, ""
            if parts is not None:
                return None, f"the attachment takes the {kind}'s name, not its {ref.attribute}"
            if rtype.endswith(f"aws_iam_{kind}") or rtype == PERMISSION_SET:
                return None, f"{ref.address} is not in this {self.noun}"
        literal = ref.literal
        if literal is not None:
            address = self.by_name.get((kind, literal))
            if address is not None:
                return address, ""
            return None, f"no aws_iam_{kind} of this {self.noun} is named {literal!r}"
        return None, self.unknown

    def resolve_policy(self, ref: Ref) -> tuple[_Managed | None, str]:
        """The managed policy a reference or ARN means, or None and why not."""
        if ref.address is not None:
            managed = self.managed.get(ref.address)
            if managed is not None and ref.attribute in (*POLICY_REFERENCE_ATTRIBUTES, None):
                return (managed, "") if managed.arn is not None else (None, managed.unknown)
            if managed is not None:
                return None, f"the attachment takes the policy's ARN, not its {ref.attribute}"
            if _resource_type(ref.address).endswith(MANAGED_POLICY):
                return None, f"{ref.address} is not in this {self.noun}"
        literal = ref.literal
        if literal is not None:
            if not (literal.startswith("arn:") and ":policy/" in literal):
                return None, "it is not the ARN of a managed policy"
            address = self.by_arn.get(literal)
            return (self.managed[address] if address is not None else _Managed(literal)), ""
        return None, self.unknown

    def principals(self, result: LoadResult, source: Source, positions: dict[str, tuple[int, int]]) -> None:
        """Resolve what attaches to what, list what cannot be, and add the principals to ``result``."""
        for kind, where, owner, inline in self.inline:
            address, why = self.resolve_principal(kind, owner)
            if address is not None:
                self.parts[address].inline.append(inline)
            elif owner.address is not None or (owner.literal is None and self.noun == "plan"):
                # a principal of the input may be meant; one named by a literal it lacks, or by a variable of a
                # configuration file, is outside it
                self.not_checked(result, where, owner, f"the policy is checked on its own, not with the other "
                                                       f"policies of its {kind} ({why})")
        for kind, where, target, ref in self.attachments:
            self.resolve_attachment(result, kind, where, target, ref)
        files = {address: self.places.get(address, (source, positions)) for address in self.parts}
        attached = {address: self.attached_policies(result, address, parts, files[address][1])
                    for address, parts in self.parts.items()}
        groups_of = self.resolve_memberships(result)
        for where, target, given in self.boundary_attachments:
            address, why = self.resolve_principal("role", target)
            if address is None:
                self.not_checked(result, where, target, f"the permission set it gives a permissions boundary is not "
                                                        f"checked with it ({why})")
            else:
                self.parts[address].boundary = given
        boundaries = self.boundaries(result, attached)
        for address, parts in self.parts.items():
            arns, documents, missing = attached[address]
            groups = groups_of.get(address, [])
            boundary, boundary_arn = boundaries.get(address, (None, None))
            result.principals.append(Principal(
                parts.kind, parts.name, "", files[address][0], parts.pointer, inline_policies=tuple(parts.inline),
                attached_policy_arns=tuple(arns), attached_policies=tuple(documents),
                group_names=tuple(self.parts[group].name for group in groups),
                group_policies=tuple(policy for group in groups
                                     for policy in (*self.parts[group].inline, *attached[group][1])),
                group_policy_arns=tuple(dict.fromkeys(arn for group in groups for arn in attached[group][0])),
                missing_policy_arns=tuple(missing), trust_policy=parts.trust,
                permissions_boundary=boundary, missing_boundary_arn=boundary_arn,
                aliases=(address,) if address != parts.name else ()))

    def boundaries(self, result: LoadResult, attached: Mapping[str, tuple[list[str], list[Policy], list[str]]]
                   ) -> dict[str, tuple[Policy | None, str | None]]:
        """Per principal, (its permissions boundary's document, else its ARN); a managed policy of the input used
        as a boundary and attached to no one grants nothing (``Policy.boundary_only``): it is marked so."""
        found: dict[str, tuple[Policy | None, str | None]] = {}
        for address, parts in self.parts.items():
            if parts.boundary is None:
                continue
            managed, why = self.resolve_policy(parts.boundary)
            if managed is None:
                result.not_checked.append(f"{self._file(address)}: {address}: permissions boundary "
                                          f"{parts.boundary.shown}: {why}, so it was not weighed")
                continue
            found[address] = (managed.policy, None) if managed.policy is not None else (None, managed.arn)
        granting = {id(policy) for documents in attached.values() for policy in documents[1]}
        granting |= {id(policy) for parts in self.parts.values() for policy in parts.inline}
        bounding = {id(policy): policy for policy, _ in found.values()
                    if policy is not None and id(policy) not in granting}
        marked = result.mark_boundaries_only(bounding.values())
        return {address: (marked.get(id(policy), policy) if policy is not None else None, arn)
                for address, (policy, arn) in found.items()}

    def attached_policies(self, result: LoadResult, address: str, parts: _Parts,
                          positions: dict[str, tuple[int, int]]) -> tuple[list[str], list[Policy], list[str]]:
        """(ARNs, the documents the input has, the ARNs whose documents it lacks) of a principal's managed policies;
        each attachment's position goes to ``<principal>/ManagedPolicyArns/N``, in the file it is written in."""
        arns: list[str] = []
        documents: list[Policy] = []
        missing: list[str] = []
        unlisted: list[str] = []
        for arn, policy, (file, line, column), listed in parts.attached:
            if arn in arns:
                continue
            pointer = f"{parts.pointer}/ManagedPolicyArns/{len(arns)}"
            principal_source = self.places.get(address, (None, None))[0]
            if file != self._file(address) and isinstance(principal_source, SpreadSource):
                principal_source.elsewhere[pointer] = (file, line, column)  # an attachment of another file
            else:
                positions[pointer] = (line, column)
            arns.append(arn)
            if policy is not None:
                documents.append(policy)
                continue
            missing.append(arn)
            if not listed:
                unlisted.append(arn)
        if unlisted:  # attached by ARN; their documents are elsewhere
            result.not_checked.append(
                f"{self._file(address)}: {parts.kind} {parts.name}: the attached managed policies "
                f"{', '.join(unlisted)} are not in the {self.noun}, so their statements were not checked")
        return arns, documents, missing

    def resolve_memberships(self, result: LoadResult) -> dict[str, list[str]]:
        """The groups (addresses) each user (address) is put in; a membership that cannot be resolved is listed."""
        groups_of: dict[str, list[str]] = {}
        for where, user_ref, group_ref in self.memberships:
            user, why = self.resolve_principal("user", user_ref)
            if user is None:
                self.not_checked(result, where, user_ref, f"the user it puts in {shorter(group_ref.shown)} is not "
                                                          f"checked with that group's policies ({why})")
                continue
            group, why = self.resolve_principal("group", group_ref)
            if group is None:
                self.not_checked(result, where, group_ref, f"the policies of the group it puts user "
                                                           f"{self.parts[user].name} in are not checked ({why})")
                continue
            if group not in groups_of.setdefault(user, []):
                groups_of[user].append(group)
        return groups_of

    def resolve_attachment(self, result: LoadResult, kind: str, where: str, target: str | Ref, ref: Ref) -> None:
        """Attach the policy ``ref`` names to the principal of ``target``, or list why it is not checked."""
        if isinstance(target, Ref):
            address, why = self.resolve_principal(kind, target)
            if address is None:
                self.not_checked(result, where, target, f"the {kind} it attaches {shorter(ref.shown)} to is not "
                                                        f"checked ({why})")
                return
        else:
            address = target
        parts = self.parts[address]
        managed, why = self.resolve_policy(ref)
        if managed is None or managed.arn is None:
            self.not_checked(result, where, ref, f"the policy it attaches to {parts.kind} {parts.name} is not checked "
                                                 f"({why})")
            return
        parts.attached.append((managed.arn, managed.policy, (self._file(where), *ref.position), managed.declared))

    def not_checked(self, result: LoadResult, where: str, ref: Ref, what: str) -> None:
        result.not_checked.append(f"{self._file(where)}: {where}.{ref.argument} = {shorter(ref.shown)}: {what}")


# --------------------------------------------------------------------- what both configuration readers do

ExpressionT = TypeVar("ExpressionT")
"""How a reader holds an attribute's value: a parse tree (``.tf``), a JSON value (``.tf.json``)."""
LocationT = TypeVar("LocationT")
"""How a reader says where a value is in the file: its parse tree node, its JSON pointer."""


def _foreign_principals_told(policy: Policy, providers: Mapping[str, str], own: str) -> Policy:
    """The trust ``policy`` of a role created with the provider ``own``, with each principal that is the ARN of a
    role or user of the file (``{{aws_iam_role.ci.arn}}``, the role's own account, as a template's ``!GetAtt`` is)
    told apart when another provider creates it, or when the file has no such resource: its account may be
    another."""
    def told(principal: PrincipalRef) -> PrincipalRef:
        match = CONFIGURATION_PRINCIPAL_ARN.fullmatch(principal.value.strip()) if principal.type == "AWS" else None
        if match is None or providers.get(match["address"]) == own:
            return principal
        where = "not in this file" if match["address"] not in providers else \
            f"created with provider {providers[match['address']] or 'aws (the default)'}"
        return dataclasses.replace(principal, value=principal.value.strip()[:-2] + f" ({where})}}}}")

    statements = tuple(dataclasses.replace(statement, principals=tuple(map(told, statement.principals)))
                       if statement.principals else statement for statement in policy.statements)
    return policy if statements == policy.statements else dataclasses.replace(policy, statements=statements)


def policy_document_name(traversal: Sequence[str] | None) -> str | None:
    """The NAME of a reference ``data.aws_iam_policy_document.NAME.json`` (or ``.minified_json``), else None."""
    if traversal is not None and len(traversal) == 4 and list(traversal[:2]) == ["data", POLICY_DOCUMENT] \
            and traversal[3] in DOCUMENT_OUTPUTS:
        return traversal[2]
    return None


_DOCUMENT_BUILDERS = ("jsonencode(", "file(", "templatefile(", "aws_iam_policy_document")
"""What an expression that builds a policy document shows of it."""
MODULE = "module"
"""The ``rtype`` of a ``module "NAME"`` block read as a :class:`ConfigurationResource` (address ``module.NAME``)."""


@dataclass(frozen=True, slots=True)
class ConfigurationResource(Generic[ExpressionT, LocationT]):
    """A ``resource "TYPE" "NAME"`` block of a configuration file, as a reader found it (or a ``module`` block)."""

    rtype: str
    name: str
    attributes: Mapping[str, ExpressionT]
    pointer: str
    at: LocationT
    file: Any = None
    """The file of a module it is in, when the reader reads several (see ``ConfigurationReader.within``)."""

    @property
    def address(self) -> str:
        return f"{self.rtype}.{self.name}"


class ConfigurationReader(ABC, Generic[ExpressionT, LocationT]):
    """The reading of a Terraform configuration file that does not depend on its syntax: the resources' policies,
    principals and attachments, and the ``data "aws_iam_policy_document"`` blocks policies use. A reader of one
    syntax says how to read a value (``literal``, ``policy``, ``argument_ref``) and where it is (``mark``)."""

    source: Source
    result: LoadResult
    positions: dict[str, tuple[int, int]]
    max_statements: int
    max_nesting: int
    documents: Mapping[str, object]
    """The file's ``data "aws_iam_policy_document"`` blocks by name."""
    principal_providers: dict[str, str]
    """The file's roles and users by address: the provider (``aws.prod``) that creates each, "" for the default."""
    scope = "file"
    """What the reader reads: one ``file``, or a ``module`` (the ``.tf`` files of a folder)."""

    def within(self, file: Any) -> AbstractContextManager[None]:
        """Read in ``file`` (a resource's or a data source's), when the reader reads several; None: the one at
        hand."""
        return nullcontext()

    def document_file(self, name: str) -> Any:
        """The file the data source ``name`` is in, when the reader reads several."""
        return None

    @abstractmethod
    def document_reference(self, value: ExpressionT) -> str | None:
        """The NAME of ``data.aws_iam_policy_document.NAME.json`` when that is the whole value."""

    @abstractmethod
    def literal(self, value: ExpressionT | None) -> str | None:
        """A string attribute's value when it holds no expression."""

    @abstractmethod
    def name_text(self, value: ExpressionT) -> str | None:
        """A name argument's value as Terraform renders it, what only Terraform knows (a variable, a function) as
        ``{{...}}`` placeholders; None when it sets no name (``null``, a value that is not a string)."""

    def deployed_name(self, attributes: Mapping[str, ExpressionT]) -> str | None:
        """The name of a role, user or group as deployed: its ``name``, or its ``name_prefix`` and the unique
        suffix Terraform adds to it; None when the file gives neither (Terraform generates one)."""
        if "name" in attributes:
            return self.name_text(attributes["name"])
        prefix = self.name_text(attributes["name_prefix"]) if "name_prefix" in attributes else None
        return None if prefix is None else prefix + UNIQUE_SUFFIX

    @abstractmethod
    def mark(self, pointer: str, at: LocationT) -> None:
        """``pointer`` (of a policy, or one of its elements) is at ``at`` in the file."""

    @abstractmethod
    def policy(self, value: ExpressionT, kind: PolicyKind, pointer: str, subject: Subject, address: str,
               attribute: str, used_documents: set[str], resource_implied: bool = False,
               label: str | None = None) -> Policy | None:
        """The policy an attribute's value holds, added to the result; None when there is none to check."""

    @abstractmethod
    def written_document(self, value: ExpressionT) -> Any:
        """The JSON an attribute's value writes out in the file (``jsonencode({...})``, JSON text), else None."""

    @abstractmethod
    def argument_ref(self, resource: ConfigurationResource[ExpressionT, LocationT], argument: str) -> Ref:
        """A resource's argument (which it has) as one ref."""

    @abstractmethod
    def argument_refs(self, resource: ConfigurationResource[ExpressionT, LocationT], argument: str) -> list[Ref]:
        """A resource's argument as refs: one for each item of a list written out, else one; none when not set."""

    @abstractmethod
    def nested_blocks(self, resource: ConfigurationResource[ExpressionT, LocationT], block_type: str
                      ) -> Iterator[tuple[Mapping[str, ExpressionT], str, LocationT]]:
        """A resource's blocks of a type (a role's ``inline_policy``): (attributes, pointer, where it is), in the
        order of the file."""

    @abstractmethod
    def nested_ref(self, attributes: Mapping[str, ExpressionT], pointer: str, argument: str) -> Ref:
        """An argument of a nested block (at ``pointer``), which it has, as one ref."""

    @abstractmethod
    def document_pointer(self, name: str) -> str:
        """The pointer of the ``data "aws_iam_policy_document"`` block ``name``."""

    @abstractmethod
    def policy_document(self, name: str) -> dict[str, Any] | None:
        """The JSON the AWS provider renders for the data source ``name``; None when none of its statements can be
        checked."""

    def read_resources(self, resources: Sequence[ConfigurationResource[ExpressionT, LocationT]],
                       principals: TerraformPrincipals) -> None:
        """Read the resources, then the data sources no policy uses (as policies of their own), then add the
        principals with what attaches to them."""
        used_documents: set[str] = set()
        aliases = self.kms_aliases(resources)
        self.principal_providers = {}
        for resource in resources:
            if PRINCIPAL_RESOURCES.get(resource.rtype) in ("role", "user"):
                with self.within(resource.file):
                    self.principal_providers[resource.address] = (  # aws.prod
                        (self.name_text(resource.attributes["provider"]) or "?").strip("{}")
                        if "provider" in resource.attributes else "")
        for resource in resources:
            with self.within(resource.file):
                principals.place(resource.address, self.source, self.positions)
                key = resource.address
                if resource.rtype == KMS_KEY_POLICY and "key_id" in resource.attributes:
                    key = self.argument_ref(resource, "key_id").address or key
                if resource.rtype in READ_RESOURCES:
                    self.read_resource(resource, principals, used_documents, tuple(aliases.get(key, ())))
                if resource.rtype == MODULE:
                    self.module_arguments(resource, used_documents)
                else:
                    self.list_unread_documents(resource)
        for name in self.documents:
            if name not in used_documents:
                with self.within(self.document_file(name)):
                    self.standalone_document(name)
        principals.principals(self.result, self.source, self.positions)

    def module_arguments(self, module: ConfigurationResource[ExpressionT, LocationT], used_documents: set[str]
                         ) -> None:
        """The policy documents a ``module`` block passes as arguments (terraform-aws-modules' s3-bucket ``policy``,
        a role module's ``inline_policy_statements``...), each checked as a policy of its own, of the kind its
        statements say: what the module does with it is in another file."""
        from auditor.loaders import infer_kind

        for attribute, value in module.attributes.items():
            document = self.written_document(value)
            referenced = self.document_reference(value)
            if referenced is not None and referenced in self.documents:
                with self.within(self.document_file(referenced)):
                    document = self.policy_document(referenced)
            if not looks_like_policy(document):
                shown = self.argument_ref(module, attribute).shown
                if "policy" in attribute.lower() and any(f in shown for f in _DOCUMENT_BUILDERS):
                    self.not_checked(f"{self.source.display_path}: {module.address}.{attribute}",
                                     "a policy passed to the module in a form iam-audit does not read (a conditional, "
                                     "a list, a file): not checked")
                continue
            kind = infer_kind(document) if isinstance(document, dict) else PolicyKind.IDENTITY
            label = f"{module.address}.{attribute}"
            self.policy(value, kind, join_pointer(module.pointer, attribute), Subject("policy", label, None),
                        module.address, attribute, used_documents)

    def list_unread_documents(self, resource: ConfigurationResource[ExpressionT, LocationT]) -> None:
        """List as not checked the attributes holding a policy document that iam-audit does not read as one of the
        resource's policies (``aws_vpc_endpoint``'s ``policy``)."""
        read = {attribute for attribute, _ in RESOURCE_POLICY_ATTRIBUTES.get(resource.rtype, ())}
        for attribute, value in resource.attributes.items():
            if attribute not in read and looks_like_policy(self.written_document(value)):
                self.not_checked(f"{self.source.display_path}: {resource.address}.{attribute}",
                                 f"a policy document iam-audit does not read for {resource.rtype}: not checked")

    def kms_aliases(self, resources: Sequence[ConfigurationResource[ExpressionT, LocationT]]) -> dict[str, list[str]]:
        """The literal ``name`` of each ``aws_kms_alias``, by the address of the key its ``target_key_id`` names."""
        found: dict[str, list[str]] = {}
        for resource in resources:
            if resource.rtype != KMS_ALIAS or "target_key_id" not in resource.attributes:
                continue
            with self.within(resource.file):
                name = self.literal(resource.attributes.get("name"))
                key = self.argument_ref(resource, "target_key_id").address
            if name and key:
                found.setdefault(key, []).append(name)
        return found

    def read_resource(self, resource: ConfigurationResource[ExpressionT, LocationT], principals: TerraformPrincipals,
                      used_documents: set[str], aliases: tuple[str, ...] = ()) -> None:
        """One resource's policies, the principal it declares and the attachments it makes; ``aliases``: other
        names of the resource (a KMS key's)."""
        rtype, address, attributes, pointer = resource.rtype, resource.address, resource.attributes, resource.pointer
        self.mark(pointer, resource.at)
        if rtype in UNREAD_GRANTS:
            self.result.not_checked.append(f"{self.source.display_path}: {address}: {UNREAD_GRANTS[rtype]}")
            return
        if rtype == LAMBDA_PERMISSION:
            self.lambda_permission(resource)
            return
        if rtype == BOUNDARY_ATTACHMENT:
            self.boundary_attachment(resource, principals)
            return
        literal_name = self.literal(attributes.get("name"))
        principal_kind = PRINCIPAL_RESOURCES.get(rtype)
        # a principal's name as deployed, so that the baselines' name patterns apply to UpsolverServerRole-{{var.x}}
        name = self.deployed_name(attributes) if principal_kind is not None else literal_name
        if rtype == PERMISSION_SET:
            name = permission_set_role(name or address)
        subject = Subject(principal_kind or "policy", name or address, None, aliases)
        if principal_kind is not None:
            principals.declare(principal_kind, address, name, pointer)
            self.result.counts[principal_kind + "s"] += 1
            if principal_kind in ("role", "user") and "permissions_boundary" in attributes:
                principals.permissions_boundary(address, self.argument_ref(resource, "permissions_boundary"))
        policies: dict[str, Policy | None] = {}
        for attribute, kind in RESOURCE_POLICY_ATTRIBUTES.get(rtype, ()):
            if attribute not in attributes:
                continue
            declared = self.organization_type(address, attributes) if rtype == ORGANIZATION_POLICY else None
            if rtype == ORGANIZATION_POLICY and declared not in IAM_ORGANIZATION_POLICY_TYPES:
                continue
            if self.sets_no_policy(rtype, attribute, attributes[attribute]):
                continue
            policy = policies[attribute] = self.policy(
                attributes[attribute], kind, join_pointer(pointer, attribute), subject, address, attribute,
                used_documents, rtype in RESOURCE_IMPLIED_TYPES)
            if policy is None:
                continue
            if declared is not None:
                policy = policies[attribute] = self.result.declare_organization_type(policy, declared)
            if kind is PolicyKind.RESOURCE:
                self.result.counts["resource_policies"] += 1
            if principal_kind == "role":
                policy = policies[attribute] = self.result.replace_policy(policy, _foreign_principals_told(
                    policy, self.principal_providers, self.principal_providers.get(address, "")))
                principals.trust(address, policy)
            owner = OWNER_ATTRIBUTE.get(rtype)
            if owner and owner[1] in attributes:
                principals.inline_policy(owner[0], address, self.argument_ref(resource, owner[1]), policy)
        if rtype == MANAGED_POLICY:
            path = self.literal(attributes["path"]) if "path" in attributes else "/"
            principals.managed_policy(address, policies.get("policy"), None, literal_name, path)
        if principal_kind == "role":
            for index, (inline, inline_pointer, at) in enumerate(self.nested_blocks(resource, "inline_policy")):
                if "policy" not in inline:
                    continue  # an empty inline_policy block: Terraform removes the role's inline policies
                self.mark(inline_pointer, at)
                label = f"inline:{self.literal(inline.get('name')) or index}"
                policy = self.policy(inline["policy"], PolicyKind.IDENTITY, join_pointer(inline_pointer, "policy"),
                                     subject, f"{address}.inline_policy[{index}]", "policy", used_documents,
                                     label=label)
                if policy is not None:
                    principals.own_policy(address, policy)
        principals.read_attachments(rtype, address, partial(self.argument_refs, resource))

    def boundary_attachment(self, resource: ConfigurationResource[ExpressionT, LocationT],
                            principals: TerraformPrincipals) -> None:
        """The permissions boundary a permission set gets: an AWS or customer managed policy by ARN is weighed as a
        role's ``permissions_boundary``; one named by ``customer_managed_policy_reference``, a policy of each
        account, is listed as not weighed."""
        where = f"{self.source.display_path}: {resource.address}"
        arns = [self.nested_ref(attributes, pointer, "managed_policy_arn")
                for attributes, pointer, _ in self.nested_blocks(resource, "permissions_boundary")
                if "managed_policy_arn" in attributes]
        if not arns or "permission_set_arn" not in resource.attributes:
            self.result.not_checked.append(f"{where}: a permissions boundary named by "
                                           "customer_managed_policy_reference (a policy of each account the "
                                           "permission set is assigned to), so it was not weighed")
            return
        principals.boundary_attachment(resource.address, self.argument_ref(resource, "permission_set_arn"), arns[0])

    def sets_no_policy(self, rtype: str, attribute: str, value: ExpressionT) -> bool:
        """Whether the value is the provider's way to have no policy in the attribute: there is none to check."""
        return ((rtype, attribute) in EMPTY_STRING_NO_POLICY and self.literal(value) == "") or (
            (rtype, attribute) in EMPTY_DOCUMENT_DELETES and self.written_document(value) == {})

    def lambda_permission(self, resource: ConfigurationResource[ExpressionT, LocationT]) -> None:
        """The statement Lambda adds to the function's policy for the permission; each of its elements is located
        at the argument it comes from."""
        missing = [name for name in REQUIRED_TERRAFORM_ARGUMENTS if name not in resource.attributes]
        if missing:
            self.not_checked(f"{self.source.display_path}: {resource.address}",
                             f"a Lambda permission without {' or '.join(missing)}")
            return
        values: dict[str, str] = {}
        written = f"{resource.pointer}/Statement/0"
        for argument, name in TERRAFORM_ARGUMENTS.items():
            if argument in resource.attributes:
                ref = self.argument_ref(resource, argument)
                values[name] = ref.text if ref.text is not None else "{{" + ref.shown + "}}"
                self.positions[f"{written}/{ELEMENT_OF_PROPERTY[name]}"] = ref.position
        if "qualifier" in resource.attributes:
            qualifier = self.argument_ref(resource, "qualifier")
            values["FunctionName"] += ":" + (qualifier.text if qualifier.text is not None
                                             else "{{" + qualifier.shown + "}}")
        self.add_policy(permission_policy(values, "{{region}}", "{{account}}"), PolicyKind.RESOURCE,
                        resource.pointer, Subject("lambda", resource.address, None), resource.address)
        self.result.counts["resource_policies"] += 1

    def organization_type(self, address: str, attributes: Mapping[str, ExpressionT]) -> str | None:
        """The ``type`` of an ``aws_organizations_policy`` (a service control policy when not set). Only service and
        resource control policies are in the IAM policy language (tag and backup policies have documents of their
        own); one whose ``type`` is an expression (None) is not checked."""
        policy_type = self.literal(attributes["type"]) if "type" in attributes else IAM_ORGANIZATION_POLICY_TYPES[0]
        if policy_type is None:
            self.result.not_checked.append(f"{self.source.display_path}: {address}: an organization policy whose "
                                           "type is an expression")
        return policy_type

    def document_policy(self, name: str, shown: str, where: str, kind: PolicyKind, subject: Subject, label: str,
                        used_documents: set[str], resource_implied: bool) -> Policy | None:
        """The policy of an attribute that names the data source ``name`` (``shown`` as written), or None and why
        it is not checked."""
        if name not in self.documents:
            self.not_checked(where, f"= {shown}: not checked (the data source is not in this {self.scope})")
            return None
        used_documents.add(name)
        with self.within(self.document_file(name)):
            document = self.policy_document(name)
            if document is not None:
                return self.add_policy(document, kind, self.document_pointer(name), subject, label, resource_implied)
        self.not_checked(where, f"= {shown}: not checked (none of its statements can be)")
        return None

    def checkable_without_dynamic_blocks(self, where: str, effect: ExpressionT | None,
                                         dynamic: Sequence[tuple[str, int]]) -> bool:
        """List the ``dynamic`` blocks of a data source's statement, (label, line), as not checked; False when the
        statement cannot be checked without them: dynamic principals decide whom it is about, while dynamic
        conditions can only narrow it, which leaves an Allow (``effect``, the statement's) at its widest but makes
        a Deny refuse more than it may."""
        checkable = True
        allows = effect is None or self.literal(effect) == "Allow"
        for label, line in dynamic:
            if label == "condition" and allows:
                self.not_checked(where, f'dynamic "condition" at line {line}: not checked (its conditions are made '
                                        "when Terraform runs; the statement is checked as if none narrowed it)")
            elif label == "condition":
                self.not_checked(where, f'dynamic "condition" at line {line}: its statement is not checked (its '
                                        "conditions are made when Terraform runs; a Deny checked as if none narrowed "
                                        "it would cancel grants it may leave in place)")
                checkable = False
            elif label in PRINCIPAL_BLOCKS:
                self.not_checked(where, f'dynamic "{label}" at line {line}: its statement is not checked (its '
                                        "principals are made when Terraform runs)")
                checkable = False
        return checkable

    def standalone_document(self, name: str) -> None:
        """A data source no policy attribute uses, checked as a policy of its own."""
        from auditor.loaders import infer_kind

        document = self.policy_document(name)
        if document is None:
            return
        address = f"data.{POLICY_DOCUMENT}.{name}"
        self.add_policy(document, infer_kind(document), self.document_pointer(name), Subject("policy", address, None),
                        address)

    def add_policy(self, document: Any, kind: PolicyKind, pointer: str, subject: Subject | None, label: str,
                   resource_implied: bool = False, exclusive: Callable[[int, int], bool] | None = None) -> Policy:
        document = either_results(document)
        for where_unknown in template_values(document):
            self.result.not_checked.append(f"{self.source.display_path}: {label}: {where_unknown} is known only "
                                           "when Terraform runs (the plan, terraform show -json, has the value)")
        policy = normalize_policy(document, kind, self.source, pointer, subject=subject, label=label,
                                  max_statements=self.max_statements, resource_implied=resource_implied,
                                  exclusive=exclusive)
        self.result.policies.append(policy)
        return policy

    def parse_policy_text(self, template: Template, where: str, address: str, attribute: str, pointer: str,
                          position: Callable[[ParseError], tuple[int, int]]) -> Any:
        """The document in a policy's JSON text, or ``NOT_PARSED``: JSON built with interpolations outside its
        strings is listed as not checked, other broken JSON is a ``syntax-error`` at ``position(error)``."""
        from auditor.loaders.parse import parse_embedded_json

        try:
            return parse_embedded_json(template.text, self.max_nesting)
        except ParseError as exc:
            if template.placeholder_offsets and not all_inside_strings(template):
                self.not_checked(where, "is JSON built with interpolations outside its strings: not checked")
            else:
                line, column = position(exc)
                self.result.document_problems.append((self.source, Problem(
                    "syntax-error", f"{address}.{attribute} is not a JSON policy document: {exc.message}", pointer,
                    line=line, column=column)))
            return NOT_PARSED

    def not_checked(self, where: str, what: str) -> None:
        self.result.not_checked.append(f"{where} {what}" if what.startswith("=") else f"{where}: {what}")
