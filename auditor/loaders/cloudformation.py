"""CloudFormation templates (JSON or YAML with short-form tags).

Policies are taken from IAM resources, the resource policies of S3, SQS, SNS (inline too), KMS (a key's aliases
named from its ``AWS::KMS::Alias``), Secrets Manager, ECR, CloudWatch Logs and OpenSearch, and AWS SAM
functions and state machines, written as YAML/JSON or as a JSON string.
Intrinsic functions are resolved where the template says enough (pseudo parameters,
parameter defaults, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``; an ``Fn::If`` gives the statements,
actions and resources of both branches); anything else becomes a ``{{...}}`` placeholder that checks
treat as an unknown value. A parameter in a statement's ``Effect`` is such a placeholder whatever its default (the
statement is checked as an Allow, the worst case, and listed).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from itertools import count, islice, product, takewhile
from math import prod
from typing import Any

from auditor.loaders.either import kept_items
from auditor.loaders.lambda_permission import ELEMENT_OF_PROPERTY, REQUIRED_PROPERTIES, permission_policy
from auditor.loaders.parse import ParseError, parse_embedded_json
from auditor.loaders.result import InlineSuppression, LoadResult
from auditor.model import (
    IAM_ORGANIZATION_POLICY_TYPES,
    TEMPLATE_VALUE,
    Policy,
    PolicyKind,
    Principal,
    Problem,
    Statement,
    Subject,
    is_template_value,
    permission_set_role,
)
from auditor.normalize import DEFAULT_MAX_STATEMENTS, looks_like_policy, normalize_policy, template_values, type_name
from auditor.source import Source, join_pointer, parent_pointer

_REMOVE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")
_JSON_EFFECT = re.compile(r'"Effect"\s*:\s*"\Z')
"""JSON text up to the value of an ``Effect``."""

PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}

VPC_ENDPOINT = "AWS::EC2::VPCEndpoint"
"""Its PolicyDocument is a VPC endpoint policy (``PolicyKind.ENDPOINT``)."""
# (properties key, label) per resource type holding one resource policy document.
RESOURCE_POLICY_TYPES = {
    "AWS::S3::BucketPolicy": ("PolicyDocument", "s3"),
    "AWS::SQS::QueuePolicy": ("PolicyDocument", "sqs"),
    "AWS::SQS::QueueInlinePolicy": ("PolicyDocument", "sqs"),
    "AWS::SNS::TopicPolicy": ("PolicyDocument", "sns"),
    "AWS::SNS::TopicInlinePolicy": ("PolicyDocument", "sns"),
    "AWS::KMS::Key": ("KeyPolicy", "kms"),
    "AWS::Logs::ResourcePolicy": ("PolicyDocument", "logs"),
    "AWS::OpenSearchService::Domain": ("AccessPolicies", "es"),
    "AWS::Elasticsearch::Domain": ("AccessPolicies", "es"),
    "AWS::SecretsManager::ResourcePolicy": ("ResourcePolicy", "secretsmanager"),
    "AWS::ECR::Repository": ("RepositoryPolicyText", "ecr"),
    "AWS::ECR::PublicRepository": ("RepositoryPolicyText", "ecr-public"),
    "AWS::ECR::RegistryPolicy": ("PolicyText", "ecr"),
    "AWS::KMS::ReplicaKey": ("KeyPolicy", "kms"),
    "AWS::S3::AccessPoint": ("Policy", "s3"),
    "AWS::S3::MultiRegionAccessPointPolicy": ("Policy", "s3"),
    "AWS::S3ObjectLambda::AccessPointPolicy": ("PolicyDocument", "s3-object-lambda"),
    "AWS::S3Express::BucketPolicy": ("PolicyDocument", "s3express"),
    "AWS::ApiGateway::RestApi": ("Policy", "execute-api"),
    "AWS::EFS::FileSystem": ("FileSystemPolicy", "elasticfilesystem"),
    "AWS::Events::EventBus": ("Policy", "events"),
    "AWS::Backup::BackupVault": ("AccessPolicy", "backup"),
    "AWS::CodeArtifact::Domain": ("PermissionsPolicyDocument", "codeartifact"),
    "AWS::CodeArtifact::Repository": ("PermissionsPolicyDocument", "codeartifact"),
    "AWS::Logs::Destination": ("DestinationPolicy", "logs"),
    "AWS::Kinesis::ResourcePolicy": ("ResourcePolicy", "kinesis"),
}
LAMBDA_PERMISSION = "AWS::Lambda::Permission"
"""Checked as the statement Lambda adds to the function's policy for it (see ``lambda_permission``)."""
USER_TO_GROUP_ADDITION = "AWS::IAM::UserToGroupAddition"
"""Puts users of the template in a group: they are checked with its policies (see ``groups_of``)."""
UNREAD_GRANT_TYPES = {
    "AWS::Lambda::LayerVersionPermission": "a permission to use a layer version (not a policy document)",
    "AWS::Events::EventBusPolicy": "an event bus permission",
    "AWS::DynamoDB::Table": "a table resource policy",
    "AWS::IoT::Policy": "an AWS IoT Core policy (IoT's own policy language, for devices)",
}
"""Resources that grant access in a form iam-audit does not read: listed as not checked when they do."""
UNREAD_GRANT_KEYS = {"AWS::DynamoDB::Table": "ResourcePolicy"}
"""The property that makes a resource of ``UNREAD_GRANT_TYPES`` a grant (by default, being one)."""
NESTED_STACK_TYPES = {"AWS::CloudFormation::Stack": "TemplateURL", "AWS::Serverless::Application": "Location"}
"""Resources that deploy another template (a vendor's role in a nested stack): listed as not checked, with where
that template is."""
PERMISSION_SET = "AWS::SSO::PermissionSet"
"""Checked as the role IAM Identity Center creates from it in each account it is assigned to (see
``read_permission_set``)."""
RESOURCE_IMPLIED_TYPES = frozenset({"AWS::ECR::Repository", "AWS::ECR::PublicRepository", "AWS::EFS::FileSystem"})
"""Their policies' statements may leave out ``Resource``: the repository (file system) is the resource."""
ORGANIZATION_POLICY = "AWS::Organizations::Policy"
PRINCIPAL_TYPES = {"AWS::IAM::Role": "role", "AWS::IAM::User": "user", "AWS::IAM::Group": "group"}
SAM_PUBLISHERS = ("AWS::Serverless::Function", "AWS::Serverless::Api")
"""AWS SAM resources that may grant access in a property of their own: a function URL (``FunctionUrlConfig``), an
API's ``Auth.ResourcePolicy`` (see ``read_sam_access``)."""
SAM_POLICY_HOLDERS = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
"""AWS SAM resources whose ``Policies`` go to the role SAM creates for them."""
STANDALONE_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy",
                           "AWS::IAM::UserPolicy", "AWS::IAM::GroupPolicy")


def is_cloudformation(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    if "AWSTemplateFormatVersion" in data:
        return True
    resources = data.get("Resources")
    return isinstance(resources, dict) and any(
        (isinstance(r, dict) and isinstance(r.get("Type"), str) and r["Type"].startswith(("AWS::", "Custom::")))
        or str(key).startswith(_FOR_EACH) for key, r in resources.items()
    )


class _Resolver:
    def __init__(self, template: dict[str, Any]) -> None:
        parameters = template.get("Parameters")
        self.parameters = parameters if isinstance(parameters, dict) else {}
        mappings = template.get("Mappings")
        self.mappings = mappings if isinstance(mappings, dict) else {}
        conditions = template.get("Conditions")
        self.conditions = conditions if isinstance(conditions, dict) else {}
        self._deciding: set[str] = set()
        self.unchecked: list[str] = []
        """What of the document the Fn::If branches leave unchecked: the combinations of an object's branches
        after _MAX_VARIANTS, a Deny that is not counted."""
        self._written: dict[int, tuple[Any, dict[Any, str]]] = {}
        """Each list and object the resolver built, by id: itself (kept, so that the id stays its own) and the
        pointer in the template of each of its items."""
        self._in_effect = 0
        """Above 0 while a statement's ``Effect`` is resolved: a parameter there is decided when the stack is
        deployed, whatever its default (see ``ref``)."""

    def ref(self, name: str, whole: bool = True) -> Any:
        """The value of ``!Ref name``; ``whole``: the reference is the whole value, not part of an ``Fn::Sub``
        text (where an empty default is one more prefix or suffix, not a value of its own)."""
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name == "AWS::NoValue":
            return _REMOVE
        if name.startswith("AWS::"):
            return "{{" + name + "}}"
        parameter = self.parameters.get(name)
        placeholder = "{{Ref:" + name + "}}"
        # A default is taken as the value deployed (a name, a resource, a condition value), but not in an Effect:
        # whether a statement grants is a switch the stack may be deployed with either way, so it is checked as
        # the worst case, an Allow, and listed (as for a parameter without a default)
        default = parameter.get("Default") if isinstance(parameter, dict) and not self._in_effect else None
        if self._is_list_parameter(name):
            # a list parameter: its default's items; with none, one value decided when the stack is deployed
            items = [item.strip() for item in str(default).split(",")] if isinstance(default, (str, int)) else []
            return [item for item in items if item] or [placeholder]
        if isinstance(default, (str, int, float)) and (str(default) or not whole):
            # an empty default of a whole value means "not given" (an optional topic ARN, external id, name that
            # a Condition tests for ""): its value is decided when the stack is deployed, never "" where it is used
            return str(default)
        return placeholder

    def _is_list_parameter(self, name: Any) -> bool:
        """Whether ``name`` is a parameter of a list type (``CommaDelimitedList``, ``List<...>``)."""
        parameter = self.parameters.get(name) if isinstance(name, str) else None
        return isinstance(parameter, dict) and str(parameter.get("Type", "")).startswith(
            ("CommaDelimitedList", "List<"))

    def resolve(self, value: Any, depth: int = 0, at: str = "") -> Any:
        """The value with its intrinsic functions resolved; where an ``Fn::If`` cannot be decided, what both
        branches allow (see ``_Either``). ``at``: where the template writes the value, for ``written_pointers``."""
        return self._collapsed(self._resolve(value, depth, at), at)[0]

    def written_pointers(self, resolved: Any, pointer: str) -> Iterator[tuple[str, str]]:
        """(pointer in ``resolved``, pointer in the template) of each value the resolution moved: a branch of an
        ``Fn::If`` in place of the ``Fn::If``, or listed after the other items of its list."""
        entry = self._written.get(id(resolved))
        if entry is None or entry[0] is not resolved:
            return
        for key, item in resolved.items() if isinstance(resolved, dict) else enumerate(resolved):
            item_pointer = join_pointer(pointer, key)
            written = entry[1].get(key, item_pointer)
            if written != item_pointer:
                yield item_pointer, written
            yield from self.written_pointers(item, item_pointer)

    def _built(self, container: Any, written: dict[Any, str]) -> Any:
        self._written[id(container)] = (container, written)
        return container

    def _written_item(self, container: Any, key: Any, fallback: str) -> str:
        entry = self._written.get(id(container))
        return entry[1].get(key, fallback) if entry is not None and entry[0] is container else fallback

    def _resolve(self, value: Any, depth: int, at: str) -> Any:
        if depth > 50:
            return "{{unresolved}}"
        if isinstance(value, list):
            items: list[tuple[Any, str]] = []
            other_branches: list[tuple[Any, str]] = []  # after the items, so that each item keeps its index
            for index, item in enumerate(value):
                item_at = join_pointer(at, index)
                resolved_item = self._resolve(item, depth + 1, item_at)
                if isinstance(resolved_item, list) and isinstance(item, dict) and len(item) == 1 \
                        and self._is_list_parameter(item.get("Ref")):
                    # [s3:GetObject, !Ref Actions]: the parameter's items in the list
                    items.extend((parameter_item, item_at) for parameter_item in resolved_item)
                elif isinstance(resolved_item, _Either):
                    # a Deny in one branch of an item may not be deployed: it is not counted against the grants
                    for _, denied_at in filter(lambda branch: _is_deny(branch[0]), resolved_item.present()):
                        self._not_counted(denied_at)
                    present = [branch for branch in resolved_item.present() if not _is_deny(branch[0])]
                    items.extend(present[:1])
                    other_branches.extend(present[1:])
                elif resolved_item is not _REMOVE:
                    items.append((resolved_item, item_at))
            every = items + other_branches
            return self._built([item for item, _ in every], {index: item_at for index, (_, item_at) in
                                                              enumerate(every)})
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, argument), = value.items()
            if name == "Ref" and isinstance(argument, str):
                return self.ref(argument)
            if name.startswith("Fn::") or name == "Condition":
                return self.function(name, argument, depth, join_pointer(at, name))
        keys: list[tuple[str, list[tuple[Any, str]]]] = []  # per key, its value or each branch of an Fn::If
        resolved_items = {key: self._resolved_item(key, item, depth + 1, join_pointer(at, key))
                          for key, item in value.items()}
        # the items of both branches together deny more than either, or (NotAction...) allow less
        narrowing = _NARROWING_ELEMENTS | (_LIST_ELEMENTS if resolved_items.get("Effect") == "Deny" else set())
        for key, resolved_item in resolved_items.items():
            key_at = join_pointer(at, key)
            if isinstance(resolved_item, _Either) and key == "Effect":
                keys.append((key, _granting_effects(resolved_item)))
            elif isinstance(resolved_item, _Either) and (key not in _LIST_ELEMENTS or key in narrowing) \
                    and key != "Sid":
                keys.append((key, list(zip(resolved_item.branches, resolved_item.written, strict=True))))
            else:
                keys.append((key, [self._joined_branches(key, resolved_item, key_at)]))
        variants = [self._built({key: item for (key, _), (item, _) in zip(keys, chosen, strict=True)
                                 if item is not _REMOVE},
                                {key: written for (key, _), (_, written) in zip(keys, chosen, strict=True)})
                    for chosen in islice(product(*(branches for _, branches in keys)), _MAX_VARIANTS)]
        if len(variants) == 1:
            if _is_deny(variants[0]) and self._holds_branch(variants[0], at):
                self._not_counted(at)  # a Principal: {AWS: !If [...]}: the principals of both branches
                return _REMOVE
            return variants[0]
        if prod(len(branches) for _, branches in keys) > len(variants):
            self.unchecked.append(f"the combinations of Fn::If branches after the first {_MAX_VARIANTS} at {at}")
        if any(_is_deny(variant) for variant in variants):
            # Each variant of a Deny checked would count the widest against the grants, though it may not be the
            # one deployed; which variant denies least is not known in general, so none is counted.
            self._not_counted(at)
            variants = [variant for variant in variants if not _is_deny(variant)]
            if not variants:
                return _REMOVE
        return _Either(tuple(variants), (at,) * len(variants))

    def _resolved_item(self, key: Any, item: Any, depth: int, at: str) -> Any:
        """The value ``item`` of an object's ``key`` resolved; a statement's ``Effect`` without parameter defaults."""
        if key != "Effect":
            return self._resolve(item, depth, at)
        with self._effect():
            return self._resolve(item, depth, at)

    @contextmanager
    def _effect(self) -> Iterator[None]:
        """While a statement's ``Effect`` is resolved (see ``ref``)."""
        self._in_effect += 1
        try:
            yield
        finally:
            self._in_effect -= 1

    def _counted(self, statement: Any, at: str, branches: list[list[Any]]) -> bool:
        """Whether a statement of one branch of an ``Fn::If`` (written at ``at``) is counted: a Deny only when
        every branch has it, as it may not be deployed."""
        if _is_deny(statement) and not all(statement in branch for branch in branches):
            self._not_counted(at)
            return False
        return True

    def _holds_branch(self, value: Any, at: str) -> bool:
        """Whether ``value``, written at ``at``, holds a value the template writes in a branch of an ``Fn::If``."""
        entry = self._written.get(id(value))
        if entry is None or entry[0] is not value:
            return False
        return any("/Fn::If/" in written[len(at):] for written in entry[1].values()) or any(
            self._holds_branch(item, at) for item in (value.values() if isinstance(value, dict) else value))

    def _not_counted(self, at: str) -> None:
        self.unchecked.append(f"the Deny statement at {at}, whose Fn::If is decided when the stack is deployed "
                              "(a Deny decided at deploy time is not counted against the grants)")

    def _joined_branches(self, key: str, value: Any, at: str) -> tuple[Any, str]:
        """``value`` as the value of ``key``, and where the template writes it: for an ``_Either`` in an element
        that takes a list, the items of both branches."""
        if not isinstance(value, _Either) or key not in _LIST_ELEMENTS:
            return self._collapsed(value, at)
        present = value.present()
        if not present:
            return _REMOVE, at
        lists = [(branch if isinstance(branch, list) else [branch], written) for branch, written in present]
        kept = kept_items([items for items, _ in lists])
        if key == "Statement":
            kept = [(branch, index) for branch, index in kept if self._counted(
                lists[branch][0][index], self._written_item(present[branch][0], index, lists[branch][1]),
                [items for items, _ in lists])]
        return self._built([lists[branch][0][index] for branch, index in kept],
                           {number: self._written_item(present[branch][0], index, lists[branch][1])
                            for number, (branch, index) in enumerate(kept)}), at

    def _collapsed(self, value: Any, at: str) -> tuple[Any, str]:
        """An ``_Either`` where one value is needed, and where the template writes it: the statements of both, for
        two policy documents, else the first branch that is there."""
        if not isinstance(value, _Either):
            return value, at
        present = value.present()
        if not present:
            return _REMOVE, at
        documents = [(branch, written) for branch, written in present
                     if isinstance(branch, dict) and "Statement" in branch]
        if len(documents) == len(present) > 1:
            statements: list[tuple[Any, str]] = []
            lists = [document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
                     for document, _ in documents]
            for (document, written), listed in zip(documents, lists, strict=True):
                listed_at = self._written_item(document, "Statement", join_pointer(written, "Statement"))
                if isinstance(document["Statement"], list):
                    statements += [(item, self._written_item(listed, index, join_pointer(listed_at, index)))
                                   for index, item in enumerate(listed)]
                else:
                    statements.append((listed[0], listed_at))
            statements = [(item, item_at) for item, item_at in statements if self._counted(item, item_at, lists)]
            merged = self._built([item for item, _ in statements],
                                 {index: item_at for index, (_, item_at) in enumerate(statements)})
            first, first_at = documents[0]
            return self._built({**first, "Statement": merged},
                               {key: self._written_item(first, key, join_pointer(first_at, key)) for key in first}
                               | {"Statement": join_pointer(at, "Statement")}), at
        return present[0]

    def function(self, name: str, argument: Any, depth: int, at: str = "") -> Any:
        if name == "Fn::Sub":
            if isinstance(argument, str):
                return self.substitute(argument, {})
            if isinstance(argument, list) and argument and isinstance(argument[0], str):
                variables = argument[1] if len(argument) > 1 and isinstance(argument[1], dict) else {}
                return self.substitute(argument[0], {k: self.resolve(v, depth + 1) for k, v in variables.items()},
                                       variables, depth + 1)
        if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, parts = argument
            if isinstance(separator, str) and isinstance(parts, list):
                return self.joined(separator, parts, depth, join_pointer(at, 1))
            parts = self.resolve(parts, depth + 1)
            if isinstance(separator, str) and isinstance(parts, list):
                return separator.join(_as_text(part) for part in parts)
        if name == "Fn::Select" and isinstance(argument, list) and len(argument) == 2:
            index, items = self.resolve(argument[0], depth + 1), self.resolve(argument[1], depth + 1)
            if isinstance(items, list) and isinstance(index, (str, int)) and not isinstance(index, bool):
                text = str(index)
                if text.isdigit() and len(text) <= 9 and int(text) < len(items):
                    return items[int(text)]
        if name == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
            holds = self.condition_holds(argument[0])
            if holds is not None:  # the parameters' constraints decide it: only the branch that can be deployed
                number = 1 if holds else 2
                return self._resolve(argument[number], depth + 1, join_pointer(at, number))
            branches: list[tuple[Any, str]] = []
            for number, branch in enumerate(argument[1:], 1):
                resolved = self._resolve(branch, depth + 1, join_pointer(at, number))
                # an Fn::If in a branch: each of its branches (not only the first) is one of this one's
                branches += zip(resolved.branches, resolved.written, strict=True) if isinstance(resolved, _Either) \
                    else [(resolved, join_pointer(at, number))]
            return _Either(tuple(branch for branch, _ in branches), tuple(written for _, written in branches))
        if name == "Fn::Split" and isinstance(argument, list) and len(argument) == 2:
            delimiter, text = argument[0], self.resolve(argument[1], depth + 1)
            if isinstance(delimiter, str) and delimiter and isinstance(text, str) and not is_template_value(text):
                return text.split(delimiter)
        if name == "Fn::FindInMap" and isinstance(argument, list) and len(argument) in (3, 4):
            found = self.found_in_map(argument, depth, at)
            if found is not None:
                return found
        if name == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else [argument]
            return "{{GetAtt:" + ".".join(_as_text(part) for part in parts) + "}}"
        if name == "Fn::ImportValue":
            return "{{ImportValue:" + _as_text(self.resolve(argument, depth + 1)) + "}}"
        return "{{" + name.removeprefix("Fn::") + "}}"

    def condition_holds(self, name: Any) -> bool | None:
        """Whether the template's condition ``name`` holds whatever the stack is deployed with, as its parameters'
        ``AllowedValues`` (and a ``MinLength`` above 0) leave it: ``!Equals [!Ref AccessLevel, FullAccess]`` never
        holds when ``AccessLevel`` allows only ``ReadOnly`` and ``SecurityAudit``. None when deployment decides."""
        if not isinstance(name, str) or name not in self.conditions or name in self._deciding:
            return None
        self._deciding.add(name)
        try:
            return self._holds(self.conditions[name])
        finally:
            self._deciding.discard(name)

    def _holds(self, expression: Any) -> bool | None:
        if not isinstance(expression, dict) or len(expression) != 1:
            return None
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.condition_holds(argument)
        if function == "Fn::Not" and isinstance(argument, list) and len(argument) == 1:
            inner = self._holds(argument[0])
            return None if inner is None else not inner
        if function in ("Fn::And", "Fn::Or") and isinstance(argument, list) and argument:
            values = [self._holds(item) for item in argument]
            decisive = function == "Fn::Or"  # one true Or (one false And) decides, whatever the others
            if decisive in values:
                return decisive
            return None if None in values else not decisive
        if function == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
            for side, other in (argument, argument[::-1]):
                if isinstance(other, (str, int, float)) and not isinstance(other, bool):
                    decided = self._parameter_equals(side, str(other))
                    if decided is not None:
                        return decided
        return None

    def _parameter_equals(self, value: Any, literal: str) -> bool | None:
        """Whether ``!Ref Parameter`` equals ``literal`` whatever the stack is deployed with: never when its
        ``AllowedValues`` leave it out (or its ``MinLength`` above 0 when it is ""), always when they allow it
        alone."""
        name = value.get("Ref") if isinstance(value, dict) and len(value) == 1 else None
        parameter = self.parameters.get(name) if isinstance(name, str) else None
        if not isinstance(parameter, dict) or self._is_list_parameter(name):
            return None
        allowed = parameter.get("AllowedValues")
        if isinstance(allowed, list) and allowed and all(isinstance(v, (str, int, float)) for v in allowed):
            values = {str(v) for v in allowed}
            return False if literal not in values else True if values == {literal} else None
        minimum = str(parameter.get("MinLength", "")).strip()  # CloudFormation takes "2" as well as 2
        if literal == "" and minimum.isdigit() and int(minimum) > 0:
            return False
        return None

    def written_branches(self, value: Any, pointer: str) -> list[tuple[Any, str]]:
        """What ``value``, written at ``pointer``, may be once deployed, each with where the template writes it: both
        branches of an ``Fn::If`` (of one inside it too; only one when ``condition_holds`` decides its condition),
        none for ``AWS::NoValue``."""
        if value == {"Ref": "AWS::NoValue"}:
            return []
        branches = value.get("Fn::If") if isinstance(value, dict) and len(value) == 1 else None
        if not (isinstance(branches, list) and len(branches) == 3):
            return [(value, pointer)]
        at = join_pointer(pointer, "Fn::If")
        decided = self.condition_holds(branches[0])
        numbers = (1, 2) if decided is None else (1,) if decided else (2,)
        return [found for number in numbers
                for found in self.written_branches(branches[number], join_pointer(at, number))]

    def deployed_items(self, value: Any, pointer: str) -> list[tuple[Any, str]]:
        """The items a list property written at ``pointer`` may have once deployed, each with where the template
        writes it: those of the branches of an ``Fn::If`` (see ``written_branches``), as the list or as one of its
        items."""
        return [item for branch, at in self.written_branches(value, pointer)
                for item in ([found for index, listed in enumerate(branch)
                              for found in self.written_branches(listed, join_pointer(at, index))]
                             if isinstance(branch, list) else [(branch, at)])]

    def found_in_map(self, argument: list[Any], depth: int, at: str) -> Any:
        """``Fn::FindInMap [Map, TopKey, SecondKey]`` from the template's ``Mappings``; a key decided when the stack is
        deployed (``!Ref AWS::Region``) stands for the values of every entry, as ``Fn::If`` branches do. None when
        the map or a key is not there (and no ``DefaultValue`` is given)."""
        names = [self.resolve(part, depth + 1) for part in argument[:3]]
        table = self.mappings.get(names[0]) if isinstance(names[0], str) else None
        if not isinstance(table, dict):
            return None
        tops = [table.get(names[1])] if isinstance(names[1], str) and names[1] in table else \
            list(table.values()) if isinstance(names[1], str) and is_template_value(names[1]) else []
        values = [entry[names[2]] for entry in tops if isinstance(entry, dict) and isinstance(names[2], str)
                  and names[2] in entry]
        if not values and len(argument) == 4 and isinstance(argument[3], dict) and "DefaultValue" in argument[3]:
            values = [argument[3]["DefaultValue"]]
        values = list({json.dumps(value, sort_keys=True): value for value in values}.values())
        if not values:
            return None
        return values[0] if len(values) == 1 else _Either(tuple(values), tuple(at for _ in values))

    def joined(self, separator: str, parts: list[Any], depth: int, at: str) -> Any:
        """``Fn::Join`` of a list written out: one string, or where an ``Fn::If`` is one of the parts, the string of
        each of its branches (not both branches joined into one)."""
        choices: list[list[Any]] = []
        for index, part in enumerate(parts):
            resolved = self._resolve(part, depth + 1, join_pointer(at, index))
            if isinstance(resolved, _Either):
                choices.append(list(resolved.branches))  # AWS::NoValue in a branch: the part left out
            elif isinstance(resolved, list):  # a list parameter: its items
                choices.extend([item] for item in resolved)
            elif resolved is not _REMOVE:
                choices.append([resolved])
        strings = list(dict.fromkeys(separator.join(_as_text(part) for part in combination if part is not _REMOVE)
                                     for combination in islice(product(*choices), _MAX_VARIANTS)))
        return strings[0] if len(strings) == 1 else _Either(tuple(strings), tuple(at for _ in strings))

    def substitute(self, text: str, variables: dict[str, Any], written: dict[str, Any] | None = None,
                   depth: int = 0) -> str:
        """``text`` with its ``${...}`` replaced: by the value of ``variables`` (resolved; ``written``: as the
        template writes them), else of the parameter or pseudo parameter. The value of an ``"Effect"`` in JSON text
        (``PolicyDocument: !Sub '{..."Effect": "${Effect}"...}'``) is resolved as an ``Effect`` is."""
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                if self._in_effect and written is not None and name in written:
                    return _as_text(self.resolve(written[name], depth))
                return _as_text(variables[name])
            if "::" in name and not name.startswith("AWS::"):
                return "{{" + name + "}}"  # a value a template tool puts in (a Rain ${Constant::Name}), not IAM's
            if ":" in name and not name.startswith("AWS::"):
                return match.group(0)  # an IAM policy variable such as ${aws:username}
            if "." in name:
                return "{{GetAtt:" + name + "}}"
            return _as_text(self.ref(name, whole=False))

        def replace(match: re.Match[str]) -> str:
            if self._in_effect or not _JSON_EFFECT.search(text, max(0, match.start() - 100), match.start()):
                return value(match)
            with self._effect():
                return value(match)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


class _Either:
    """The two branches of an ``Fn::If`` whose condition is decided at deploy time. In a list both are kept
    (a statement, an action, a resource under either condition); as the value of a policy element that
    takes a list (``Action``, ``Resource``...) both branches' values are; in an object, such as a statement
    whose ``Principal`` or ``Condition`` is an ``Fn::If``, the object becomes one per branch (each statement is
    checked, but a Deny's are dropped and listed as not checked: see ``_Resolver._resolve``; an ``Effect`` is
    the branch that grants), and a policy document of either branch gives its statements. Where one value is
    needed (a name, a ``Sid``), the first branch stands."""

    __slots__ = ("branches", "written")

    def __init__(self, branches: tuple[Any, ...], written: tuple[str, ...]) -> None:
        self.branches = branches
        self.written = written
        """Where the template writes each branch."""

    def present(self) -> list[tuple[Any, str]]:
        """Each branch that is there (not ``AWS::NoValue``), with where the template writes it."""
        return [(branch, written) for branch, written in zip(self.branches, self.written, strict=True)
                if branch is not _REMOVE]


_LIST_ELEMENTS = frozenset({"Action", "NotAction", "Resource", "NotResource", "Statement", "ManagedPolicyArns",
                            "AWS", "Service", "Federated", "CanonicalUser"})
"""Elements (and principal types) that take a list: an ``Fn::If`` there gives the items of both branches."""
_NARROWING_ELEMENTS = frozenset({"NotAction", "NotResource"})
"""List elements whose items narrow what a statement allows: an ``Fn::If`` there makes one statement per branch."""
_MAX_VARIANTS = 64
"""The most objects one object becomes for the combinations of its ``Fn::If`` branches."""



def _is_deny(value: Any) -> bool:
    return isinstance(value, dict) and value.get("Effect") == "Deny"


def _granting_effects(effect: _Either) -> list[tuple[Any, str]]:
    """The branches of an ``Fn::If`` Effect a statement is checked with, and where the template writes them: what
    it may grant (``Allow``, else any that is not ``Deny``). As a statement of its own, a Deny branch would cancel
    the grant of the other."""
    branches = list(zip(effect.branches, effect.written, strict=True))
    for granting in ([branch for branch in branches if branch[0] == "Allow"],
                     [branch for branch in branches if branch[0] != "Deny"], branches):
        if granting:
            return granting[:1]
    return branches


class _TemplateSource(Source):
    """The template, where its resolved policies are located: a value the resolution moved (see
    ``_Resolver.written_pointers``) is found where the template writes it."""

    __slots__ = ("base", "embedded", "moved")

    def __init__(self, base: Source) -> None:
        super().__init__(base.display_path, base.text, None, base.line_offset, base.column_offset)
        self.base = base
        self.moved: dict[str, str] = {}
        self.embedded: dict[str, tuple[Source, Callable[[int, int], tuple[int, int]]]] = {}
        """A policy document written as JSON text, by its pointer: the text, and where a (line, column) of it is
        in the template."""

    def embed(self, pointer: str, text: Source, position: Callable[[int, int], tuple[int, int]]) -> None:
        self.embedded[pointer] = (text, position)

    def _in_embedded(self, pointer: str) -> tuple[Source, str, Callable[[int, int], tuple[int, int]]] | None:
        for document, (text, position) in self.embedded.items() if self.embedded else ():
            if pointer == document or pointer.startswith(document + "/"):
                return text, pointer[len(document):], position
        return None

    def written_at(self, pointer: str) -> str:
        probe = pointer
        while probe:
            found = self.moved.get(probe)
            if found is not None:
                return found + pointer[len(probe):]
            probe = parent_pointer(probe)
        return pointer

    def locate(self, pointer: str) -> tuple[int, int]:
        embedded = self._in_embedded(pointer)
        if embedded is not None:
            text, inner, position = embedded
            return position(*text.locate(inner))
        return self.base.locate(self.written_at(pointer))

    def has_pointer(self, pointer: str) -> bool:
        embedded = self._in_embedded(pointer)
        if embedded is not None:
            return embedded[0].has_pointer(embedded[1])
        return self.base.has_pointer(self.written_at(pointer))

    def document_text(self) -> str | None:
        return self.base.document_text()

    def exclusive(self, first: str, second: str) -> bool:
        """Whether the values at ``first`` and ``second`` are never deployed together: they are written in different
        branches of one ``Fn::If`` (of a Statement item, of the Statement list, of the whole document), or are two
        variants of one object (a statement whose Condition is an ``Fn::If``)."""
        first_tokens, second_tokens = self.written_at(first).split("/"), self.written_at(second).split("/")
        if first_tokens == second_tokens:
            return True
        pairs = zip(first_tokens, second_tokens, strict=False)
        common = len(list(takewhile(lambda pair: pair[0] == pair[1], pairs)))  # tokens the two have in common
        return 0 < common < min(len(first_tokens), len(second_tokens)) and first_tokens[common - 1] == "Fn::If"

    def template_item(self, statement: str, statement_list: str) -> int | None:
        """The index of the item of the template's Statement list (at ``statement_list``) that gives the statement
        at ``statement``: the two branches of an ``Fn::If`` item are both that item."""
        written, listed = self.written_at(statement), self.written_at(statement_list)
        token = written[len(listed) + 1:].partition("/")[0] if written.startswith(listed + "/") else ""
        return int(token) if token.isdigit() else None


def _present(policy: Policy | None) -> list[Policy]:
    return [policy] if policy is not None else []


def _deploy_time_part(document: Any) -> str | None:
    """What of a policy document an intrinsic left unknown as a whole: the document, or its Statement list."""
    if isinstance(document, str) and is_template_value(document):
        return f"the policy document ({document.strip()})"
    statement = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statement, str) and is_template_value(statement):
        return f"its Statement ({statement.strip()})"
    return None


def _syntax_error_besides_template_values(document: Any, text: str,
                                          error: ParseError) -> tuple[ParseError, str] | None:
    """The syntax ``error`` of the JSON ``text`` a template ``document`` gives, and the text its offset is in, where
    it is not the deploy-time values' doing; None when it is: with each value (``${...}`` of an ``Fn::Sub``, else
    ``{{...}}``) as a neutral JSON value of the same length (``0`` and spaces), the text parses. The error is that
    of the neutral text, so that it is located in the text the template writes."""
    argument = document.get("Fn::Sub") if isinstance(document, dict) and len(document) == 1 else None
    written = argument[0] if isinstance(argument, list) and argument else argument
    pattern, text = (_SUB_VARIABLE, written) if isinstance(written, str) else (TEMPLATE_VALUE, text)
    if not pattern.search(text):
        return error, text
    neutral = pattern.sub(_neutral, text)
    try:
        parse_embedded_json(neutral)
    except ParseError as remaining:
        return remaining, neutral
    return None


_LITERAL_BLOCK = re.compile(r"(?:![^\s|>]+\s+)?\|(?P<indicators>[1-9+-]*)")
"""The start of a YAML literal block scalar, tagged or not (``|``, ``!Sub |-``)."""


def _position_in_string(source: Source, pointer: str, line: int, column: int, text: str | None = None
                        ) -> tuple[int, int]:
    """Where (``line``, ``column``) of the string written at ``pointer`` (or as its ``Fn::Sub``, alone or the first
    item of its list) is in the file: for a YAML literal block, whose lines are the file's less its indentation
    (that of its first line that is not blank, or the one its indicator sets: ``|2``), that place; for a one-line
    ``text`` written as it is (plain or quoted, tagged or not, no escapes), that place; else where the string
    starts."""
    substituted = join_pointer(pointer, "Fn::Sub")
    for written in filter(source.has_pointer, (join_pointer(substituted, 0), substituted, pointer)):
        start_line, start_column = _first_item(source, *source.locate(written))
        line_text = source.line_text(start_line) or ""
        block = _LITERAL_BLOCK.match(line_text, start_column - 1)
        if block:
            indicator = next((int(c) for c in block["indicators"] if c.isdigit()), None)
            if indicator is not None:  # the indentation of the node that holds it, and that many more
                return start_line + line, len(line_text) - len(line_text.lstrip()) + indicator + column
            following = (source.line_text(number) for number in count(start_line + 1))
            first = next((content for content in following if content is None or content.strip()), None) or ""
            return start_line + line, len(first) - len(first.lstrip()) + column
        if text is not None and "\n" not in text and line == 1:
            rest = line_text[start_column - 1:]
            tag = _TAG.match(rest)
            offset = tag.end() if tag else 0
            quote = rest[offset:offset + 1] if rest[offset:offset + 1] in ("'", '"') else ""
            if rest[offset + len(quote):].startswith(text):
                return start_line, start_column + offset + len(quote) + column - 1
    return source.locate(pointer)


def _first_item(source: Source, line: int, column: int) -> tuple[int, int]:
    """Where a value starts: at (``line``, ``column``), or, for a tag alone on its line (``!Sub`` of a list written
    as a block sequence), at the first item of the list on the next line."""
    line_text = source.line_text(line) or ""
    tag = _TAG.match(line_text, column - 1)
    if tag is None or line_text[tag.end():].strip():
        return line, column
    following = line + 1  # the next line that is not blank nor a comment
    while (content := source.line_text(following)) is not None and (
            not content.strip() or content.lstrip().startswith("#")):
        following += 1
    item = content or ""
    dash = len(item) - len(item.lstrip())
    if not item[dash:].startswith("- "):
        return line, column
    return following, dash + 3 + len(item[dash + 2:]) - len(item[dash + 2:].lstrip())


_TAG = re.compile(r"![^\s]*(?:\s+|\Z)")
"""A YAML tag (``!Sub``) and the blanks after it."""


def _as_written(document: Any, text: str) -> str:
    """The JSON ``text`` a template ``document`` gives, as the template writes it (an ``Fn::Sub`` string)."""
    argument = document.get("Fn::Sub") if isinstance(document, dict) and len(document) == 1 else None
    written = argument[0] if isinstance(argument, list) and argument else argument
    return written if isinstance(written, str) else text


def _neutral(value: re.Match[str]) -> str:
    """A JSON value of the length of a ``${...}``, which stands in its place so that the text parses as written."""
    return "0".ljust(len(value.group(0)))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is _REMOVE:
        return ""
    return "{{unresolved}}"


def metadata_suppressions(resource: dict[str, Any], logical_id: str, pointer: str,
                          source: Source) -> list[InlineSuppression]:
    """``Metadata: {iam-audit: {ignore: [IAM012, {rule: IAM003, reason: ...}]}}`` on the resource at ``pointer``."""
    metadata = resource.get("Metadata")
    settings = metadata.get("iam-audit") if isinstance(metadata, dict) else None
    if not isinstance(settings, dict) or "ignore" not in settings:
        return []
    ignore = settings["ignore"]
    at = f"{pointer}/Metadata/iam-audit"
    # an empty `ignore:` is located at the mapping that holds it (a null value has no place of its own)
    items = [(at if ignore is None else f"{at}/ignore", ignore)] if not isinstance(ignore, list) else \
        [(f"{at}/ignore/{i}", item) for i, item in enumerate(ignore)]
    default_reason = f"CloudFormation Metadata of {logical_id}"
    found = []
    for item_pointer, item in items:
        line, column = source.locate(item_pointer)
        rule, text = "", default_reason  # an entry that names no rule suppresses nothing: reported (IAM600)
        if isinstance(item, str) and item.strip():
            rule = item.strip()
        elif isinstance(item, dict):
            reason = item.get("reason")
            rule = item["rule"].strip() if isinstance(item.get("rule"), str) else ""
            text = f"{reason} ({default_reason})" if isinstance(reason, str) and reason.strip() else default_reason
        found.append(InlineSuppression(source.display_path, pointer, rule, text, line, column,
                                       lines=source.document_lines()))
    return found


def load_cloudformation(template: dict[str, Any], source: Source,
                        max_statements: int = DEFAULT_MAX_STATEMENTS) -> LoadResult:
    written_resources = template.get("Resources")
    if not isinstance(written_resources, dict):
        result = LoadResult(files=1)
        if written_resources is None:
            result.not_checked.append(f"{source.display_path}: template has no Resources")
        else:
            result.wrong_type(source, "/Resources", f"Resources must be a mapping of logical ids to resources, "
                                                      f"found {type_name(written_resources)}: no resource was read")
        return result
    return _TemplateReader(template, written_resources, source, max_statements).read()


@dataclasses.dataclass
class _PrincipalParts:
    """What a template gives a user, group or role: ``inline`` policies (its own and the template's standalone ones
    that name it), ``attached``: the logical ids of the template's managed policies it attaches, ``managed``: the
    ARNs of other managed policies it attaches."""

    kind: str
    name: str
    pointer: str
    inline: list[Policy] = dataclasses.field(default_factory=list)
    trust: Policy | None = None
    managed: list[str] = dataclasses.field(default_factory=list)
    attached: list[str] = dataclasses.field(default_factory=list)
    boundary: str | None = None
    """The logical id of the template's managed policy that is its ``PermissionsBoundary``."""
    boundary_arn: str | None = None
    """The ARN of a ``PermissionsBoundary`` the template does not hold."""
    groups: list[tuple[Any, str]] = dataclasses.field(default_factory=list)
    """A user's groups as written (``!Ref Devs``, a name) and where (its ``Groups`` or a ``UserToGroupAddition``)."""


class _TemplateReader:
    """The policies and principals of one template: each resource read by the method for its type, the principals
    put together from what the resources give them once every resource is read."""

    def __init__(self, template: dict[str, Any], written_resources: dict[str, Any], source: Source,
                 max_statements: int) -> None:
        self.source = source
        self.max_statements = max_statements
        self.result = LoadResult(files=1)
        self.resolver = _Resolver(template)
        self.template_source = _TemplateSource(source)
        self.template_resources = list(_template_resources(written_resources, "/Resources", ()))
        self.resources = {logical_id: resource for logical_id, resource, _ in self.template_resources}
        self.aliases = _kms_aliases(self.resources, self.resolver)
        self.principal_parts: dict[str, _PrincipalParts] = {}
        self.standalone_policies: dict[str, Policy] = {}
        self.sam_roles = {f"{logical_id}Role": logical_id for logical_id, resource, _ in self.template_resources
                          if isinstance(resource, dict) and resource.get("Type") in SAM_POLICY_HOLDERS
                          and not (isinstance(resource.get("Properties"), dict) and "Role" in resource["Properties"])}
        """The roles AWS SAM creates for functions and state machines without a ``Role`` (``<Function>Role``, which
        other resources of the template name: ``Roles: [!Ref ConnectorRole]``), to the resource's logical id."""

    def read(self) -> LoadResult:
        result = self.result
        for logical_id, resource, resource_pointer in self.template_resources:
            if not isinstance(resource, dict):
                if logical_id.startswith(_FOR_EACH):
                    result.not_checked.append(f"{self.source.display_path}: {logical_id}: a loop not written as "
                                              "[Identifier, Collection, {OutputKey: Resource}]")
                else:
                    result.wrong_type(self.source, resource_pointer, f"resource {logical_id} must be a mapping "
                                f"with a Type, found {type_name(resource)}: not read")
                continue
            result.suppressions.extend(metadata_suppressions(resource, logical_id, resource_pointer, self.source))
            rtype = resource.get("Type")
            props = resource.get("Properties")
            if not isinstance(rtype, str):
                result.wrong_type(self.source, join_pointer(resource_pointer, "Type") if "Type" in resource
                            else resource_pointer, f"resource {logical_id} has no Type (a string such as "
                            f"AWS::IAM::Role){'' if rtype is None else f', found {type_name(rtype)}'}: not read")
            if isinstance(rtype, str) and isinstance(props, dict):
                self.read_resource(logical_id, rtype, props, join_pointer(resource_pointer, "Properties"))
        self.add_principals()
        self.name_principals_of_suppressions()
        result.counts["templates"] += 1
        if not (result.policies or result.principals or result.not_checked or result.document_problems):
            result.skipped.append((self.source.display_path, "no IAM policy (no resource of the template holds one)"))
        return result

    def name_principals_of_suppressions(self) -> None:
        """Metadata entries on a user, group or role: the principal they are about (see ``InlineSuppression``)."""
        principals = {join_pointer("/Resources", logical_id): parts
                      for logical_id, parts in self.principal_parts.items() if logical_id in self.resources}
        self.result.suppressions = [
            dataclasses.replace(entry, principal_kind=parts.kind, principal_name=parts.name)
            if entry.sid is None and (parts := principals.get(entry.pointer)) is not None else entry
            for entry in self.result.suppressions]

    def read_resource(self, logical_id: str, rtype: str, props: dict[str, Any], pointer: str) -> None:
        resolver, where = self.resolver, f"{self.source.display_path}: {logical_id}"
        if rtype in SAM_PUBLISHERS:
            self.read_sam_access(logical_id, rtype, props, pointer)
        if rtype in PRINCIPAL_TYPES:
            self.read_principal(logical_id, PRINCIPAL_TYPES[rtype], props, pointer)
        elif rtype in STANDALONE_POLICY_TYPES and "PolicyDocument" in props:
            self.read_standalone_policy(logical_id, rtype, props, pointer)
        elif rtype == PERMISSION_SET:
            self.read_permission_set(logical_id, props, pointer)
        elif rtype == LAMBDA_PERMISSION:
            self.read_lambda_permission(logical_id, props, pointer)
        elif rtype == USER_TO_GROUP_ADDITION:
            users = props.get("Users")
            for user in users if isinstance(users, list) else []:
                if isinstance(user, dict) and isinstance(user.get("Ref"), str):
                    self.parts_of(user["Ref"], "user", user["Ref"], pointer).groups.append(
                        (props.get("GroupName"), join_pointer(pointer, "GroupName")))
                else:
                    self.result.not_checked.append(f"{where}: a user added to a group by name ({_shown(user)}): "
                                                   "that user is not known to be one of the template")
        elif rtype in NESTED_STACK_TYPES:
            location = resolver.resolve(props.get(NESTED_STACK_TYPES[rtype]))
            shown = f" {location}" if isinstance(location, str) and not is_template_value(location) else ""
            self.result.not_checked.append(f"{where}: {rtype}, a nested stack: its template{shown} is checked only "
                                           "when given too")
        elif rtype in UNREAD_GRANT_TYPES and (rtype not in UNREAD_GRANT_KEYS or UNREAD_GRANT_KEYS[rtype] in props):
            self.result.not_checked.append(f"{where}: {rtype}, {UNREAD_GRANT_TYPES[rtype]}")
        elif rtype == ORGANIZATION_POLICY and "Content" in props:
            policy_type = resolver.resolve(props.get("Type"))
            if policy_type in IAM_ORGANIZATION_POLICY_TYPES:
                policy = self.add_policy(
                    props["Content"], PolicyKind.ORGANIZATION, join_pointer(pointer, "Content"),
                    Subject("policy", _resolved_name(resolver, props.get("Name"), logical_id), None),
                    f"{policy_type}:{logical_id}")
                if policy is not None:
                    self.result.declare_organization_type(policy, policy_type)
            elif policy_type is None:
                self.result.not_checked.append(f"{where}: an organization policy without Type (CloudFormation "
                                               "requires it: SERVICE_CONTROL_POLICY, RESOURCE_CONTROL_POLICY...)")
            elif not isinstance(policy_type, str) or is_template_value(policy_type):
                self.result.not_checked.append(f"{where}: an organization policy whose Type is decided when the "
                                               "stack is deployed")
        elif rtype in SAM_POLICY_HOLDERS and "Policies" in props:
            self.read_sam_policies(logical_id, props, pointer)
        elif rtype == VPC_ENDPOINT and "PolicyDocument" in props:
            self.add_policy(props["PolicyDocument"], PolicyKind.ENDPOINT, join_pointer(pointer, "PolicyDocument"),
                            Subject("vpc-endpoint", logical_id, None, tuple(self.aliases.get(logical_id, ()))),
                            f"vpc-endpoint:{logical_id}")
        elif rtype in RESOURCE_POLICY_TYPES:
            key, service = RESOURCE_POLICY_TYPES[rtype]
            if key in props:
                self.add_policy(props[key], PolicyKind.RESOURCE, join_pointer(pointer, key),
                                Subject(service, logical_id, None, tuple(self.aliases.get(logical_id, ()))),
                                f"{service}:{logical_id}", resource_implied=rtype in RESOURCE_IMPLIED_TYPES)
                self.result.counts["resource_policies"] += 1
        elif rtype not in SAM_PUBLISHERS:  # whose access read_sam_access read
            for path in _policy_documents_in(props):
                self.result.not_checked.append(f"{where}: {rtype} {path}: a policy document iam-audit does not read "
                                               "for this resource type: not checked")

    def parts_of(self, logical_id: str, kind: str, name: str, pointer: str) -> _PrincipalParts:
        found = self.principal_parts.get(logical_id)
        if found is None:
            found = self.principal_parts[logical_id] = _PrincipalParts(kind, name, pointer)
        return found

    def add_managed(self, parts: _PrincipalParts, arn: str, written: str) -> None:
        """A managed policy ARN the principal attaches, located where the template writes it (``written``)."""
        self.template_source.moved[join_pointer(join_pointer(parts.pointer, "ManagedPolicyArns"),
                                                len(parts.managed))] = written
        parts.managed.append(arn)

    def read_principal(self, logical_id: str, kind: str, props: dict[str, Any], pointer: str) -> None:
        resolver = self.resolver
        # the name as deployed: !Sub, !Join and parameters resolved, what only the stack knows as {{...}} (the
        # region in StackStateEventBridgeRole-{{AWS::Region}}), so that the baselines' name patterns apply to it
        display = _resolved_name(resolver, props.get({"role": "RoleName", "user": "UserName",
                                                       "group": "GroupName"}[kind]), logical_id) or logical_id
        subject = Subject(kind, display, None)
        parts = self.parts_of(logical_id, kind, display, pointer)
        parts.name, parts.pointer = display, pointer  # a standalone policy read before it named it by logical id
        if kind == "role" and "AssumeRolePolicyDocument" in props:
            parts.trust = self.add_policy(props["AssumeRolePolicyDocument"], PolicyKind.TRUST,
                                          join_pointer(pointer, "AssumeRolePolicyDocument"), subject, "trust")
        # !If [Cond, {PolicyName: ..., PolicyDocument: ...}, !Ref AWS::NoValue]: each policy it may give
        entries = self.resolver.deployed_items(props.get("Policies", []), join_pointer(pointer, "Policies"))
        for index, (item, item_pointer) in enumerate(entries):
            if isinstance(item, dict) and "Fn::Transform" in item:
                macro = item["Fn::Transform"].get("Name") if isinstance(item["Fn::Transform"], dict) else None
                named = f" {macro}" if isinstance(macro, str) else ""
                self.result.not_checked.append(f"{self.source.display_path}: {logical_id} Policies entry {index}: "
                                               f"written by the macro{named} (Fn::Transform) when the stack is "
                                               "deployed")
                continue
            if not isinstance(item, dict) or "PolicyDocument" not in item:
                self.result.not_checked.append(f"{self.source.display_path}: {logical_id} Policies entry {index}: "
                                               "no PolicyDocument")
                continue
            label = f"inline:{_resolved_name(resolver, item.get('PolicyName'), str(index))}"
            parts.inline.extend(_present(self.add_policy(item["PolicyDocument"], PolicyKind.IDENTITY,
                                                         join_pointer(item_pointer, "PolicyDocument"), subject,
                                                         label)))
        if kind in ("role", "user") and props.get("PermissionsBoundary") is not None:
            boundary = props["PermissionsBoundary"]
            parts.boundary = _managed_policy_named(boundary, self.resources)
            resolved_boundary = resolver.resolve(boundary) if parts.boundary is None else None
            parts.boundary_arn = resolved_boundary if isinstance(resolved_boundary, str) else None
        if kind == "user":
            parts.groups.extend(self.resolver.deployed_items(props.get("Groups", []), join_pointer(pointer, "Groups")))
        managed_pointer = join_pointer(pointer, "ManagedPolicyArns")
        for arn, arn_pointer in self.resolver.deployed_items(props.get("ManagedPolicyArns", []), managed_pointer):
            in_template = _managed_policy_named(arn, self.resources)
            if in_template is not None:
                parts.attached.append(in_template)
                continue
            resolved = resolver.resolve(arn)
            for value in resolved if isinstance(resolved, list) else [resolved]:
                if isinstance(value, str):
                    self.add_managed(parts, value, arn_pointer)
        self.result.counts[kind + "s"] += 1

    def read_permission_set(self, logical_id: str, props: dict[str, Any], pointer: str) -> None:
        """An IAM Identity Center permission set, as the role it becomes in every account it is assigned to
        (``AWSReservedSSO_<name>_<suffix>``): its inline policy, the AWS managed policies it attaches and its
        permissions boundary. Customer managed policies it names are each account's own: listed as not checked."""
        where = f"{self.source.display_path}: {logical_id}"
        name = permission_set_role(_resolved_name(self.resolver, props.get("Name"), logical_id))
        parts = self.parts_of(logical_id, "role", name, pointer)
        if "InlinePolicy" in props:
            parts.inline.extend(_present(self.add_policy(
                props["InlinePolicy"], PolicyKind.IDENTITY, join_pointer(pointer, "InlinePolicy"),
                Subject("role", name, None), f"permission-set:{logical_id}")))
        for arn, arn_pointer in self.resolver.deployed_items(props.get("ManagedPolicies", []),
                                                             join_pointer(pointer, "ManagedPolicies")):
            resolved = self.resolver.resolve(arn)
            for value in resolved if isinstance(resolved, list) else [resolved]:
                if isinstance(value, str):
                    self.add_managed(parts, value, arn_pointer)
        references = props.get("CustomerManagedPolicyReferences")
        if references:
            names = [_shown(self.resolver.resolve(ref.get("Name"))) if isinstance(ref, dict) else _shown(ref)
                     for ref in (references if isinstance(references, list) else [references])]
            self.result.not_checked.append(
                f"{where}: the customer managed policies {', '.join(names)} of the permission set are policies of "
                "each account it is assigned to (not in the template), so their statements were not checked")
        boundary = props.get("PermissionsBoundary")
        if isinstance(boundary, dict) and "ManagedPolicyArn" in boundary:
            resolved_boundary = self.resolver.resolve(boundary["ManagedPolicyArn"])
            parts.boundary_arn = resolved_boundary if isinstance(resolved_boundary, str) else None
        elif boundary is not None:
            self.result.not_checked.append(
                f"{where}: the permissions boundary of the permission set is a customer managed policy of each "
                "account it is assigned to (not in the template), so it was not weighed")
        self.result.counts["roles"] += 1

    def read_standalone_policy(self, logical_id: str, rtype: str, props: dict[str, Any], pointer: str) -> None:
        """An ``AWS::IAM::Policy`` or ``ManagedPolicy``: its own policy, and an inline one of each principal of the
        template it names."""
        name = _resolved_name(self.resolver, props.get("PolicyName") or props.get("ManagedPolicyName"),
                              logical_id) or logical_id
        policy = self.add_policy(props["PolicyDocument"], PolicyKind.IDENTITY, join_pointer(pointer, "PolicyDocument"),
                                 Subject("policy", str(name), None), f"{rtype.split('::')[-1]}:{logical_id}")
        if policy is not None:
            self.standalone_policies[logical_id] = policy
        for key, kind in (("Roles", "role"), ("Users", "user"), ("Groups", "group"),
                          ("RoleName", "role"), ("UserName", "user"), ("GroupName", "group")):
            targets = props.get(key)
            for target in targets if isinstance(targets, list) else [targets] if targets else []:
                if isinstance(target, dict) and isinstance(target.get("Ref"), str):
                    logical = target["Ref"]
                    self.parts_of(logical, kind, logical, pointer).inline.extend(_present(policy))

    def add_policy(self, document: Any, kind: PolicyKind, pointer: str, subject: Subject, label: str,
                   resource_implied: bool = False) -> Policy | None:
        """The policy, or None (and a not-checked note) when an intrinsic leaves the document unknown."""
        resolver, template_source, result, shown = self.resolver, self.template_source, self.result, \
            self.source.display_path
        resolver.unchecked.clear()
        resolved = resolver.resolve(document, at=pointer)
        template_source.moved.update(resolver.written_pointers(resolved, pointer))
        if resolved is _REMOVE:  # !Ref AWS::NoValue: no document at all
            resolved = None
        elif isinstance(resolved, str) and resolved.lstrip().startswith("{") and not is_template_value(resolved):
            # a Json-typed property given as JSON text, often written PolicyDocument: !Sub | {...}
            try:
                written = _as_written(document, resolved)
                resolved = parse_embedded_json(resolved)
                template_source.embed(pointer, Source("", _SUB_VARIABLE.sub(_neutral, written)),
                                      partial(_position_in_string, self.source, pointer, text=written))
            except ParseError as parse_error:
                syntax_error = _syntax_error_besides_template_values(document, resolved, parse_error)
                if syntax_error is None:  # !Sub put a value known at deploy time outside a string
                    result.not_checked.append(f"{shown}: {label}: JSON text built with values known only when "
                                              "the stack is deployed")
                    return None
                error, text = syntax_error
                line, column = Source("", text).offset_to_position(error.offset or 0)
                line, column = _position_in_string(self.source, pointer, line, column)
                result.document_problems.append((self.source, Problem(
                    "syntax-error", f"{label} is not a JSON policy document: {error.message}", pointer,
                    line=line, column=column)))
                return None
        unknown = _deploy_time_part(resolved)
        if unknown is not None:
            result.not_checked.append(f"{shown}: {label}: {unknown} is known only when the stack is deployed")
            return None
        for where_unknown in template_values(resolved):
            result.not_checked.append(f"{shown}: {label}: {where_unknown} is known only when the stack is deployed")
        for unchecked in resolver.unchecked:
            result.not_checked.append(f"{shown}: {label}: {unchecked}")
        statement_list = join_pointer(pointer, "Statement")

        def exclusive(first: int, second: int) -> bool:
            return template_source.exclusive(join_pointer(statement_list, first), join_pointer(statement_list, second))

        def with_template_index(statement: Statement) -> Statement:
            item = template_source.template_item(statement.pointer, statement_list)
            return statement if item is None else dataclasses.replace(statement, index=item)

        policy = normalize_policy(resolved, kind, template_source, pointer, subject=subject, label=label,
                                  max_statements=self.max_statements, resource_implied=resource_implied,
                                  exclusive=exclusive)
        policy = dataclasses.replace(
            policy, statements=tuple(with_template_index(statement) for statement in policy.statements))
        result.policies.append(policy)
        return policy

    def read_lambda_permission(self, logical_id: str, props: dict[str, Any], pointer: str) -> None:
        """The statement Lambda adds to the function's policy for the permission, located at its properties."""
        missing = [name for name in REQUIRED_PROPERTIES if name not in props]
        if missing:
            self.result.not_checked.append(f"{self.source.display_path}: {logical_id}: a Lambda permission without "
                                           f"{' or '.join(missing)}")
            return
        resolver = self.resolver
        document = permission_policy(
            {**props, "Principal": resolver.resolve(props["Principal"]),
             "FunctionName": resolver.resolve(props["FunctionName"])},
            region=resolver.ref("AWS::Region"), account=resolver.ref("AWS::AccountId"))
        written = f"{pointer}/Statement/0"
        self.template_source.moved[written] = pointer
        for name, element in ELEMENT_OF_PROPERTY.items():
            self.template_source.moved[f"{written}/{element}"] = join_pointer(pointer, name)
        if self.add_policy(document, PolicyKind.RESOURCE, pointer, Subject("lambda", logical_id, None),
                           f"lambda:{logical_id}") is not None:
            self.result.counts["resource_policies"] += 1

    def read_sam_access(self, logical_id: str, rtype: str, props: dict[str, Any], pointer: str) -> None:
        """What AWS SAM grants for a function URL or an API: with ``FunctionUrlConfig: {AuthType: NONE}`` it adds
        the permission that lets anyone call the URL (checked as that ``AWS::Lambda::Permission``); an API's
        ``Auth.ResourcePolicy.CustomStatements`` become the statements of its ``AWS::ApiGateway::RestApi`` policy."""
        if rtype == "AWS::Serverless::Function":
            url = props.get("FunctionUrlConfig")
            if isinstance(url, dict) and self.resolver.resolve(url.get("AuthType")) == "NONE":
                at = join_pointer(join_pointer(pointer, "FunctionUrlConfig"), "AuthType")
                self.read_lambda_permission(logical_id, {
                    "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionName": {"Ref": logical_id},
                    "FunctionUrlAuthType": "NONE"}, at)
            return
        auth = props.get("Auth")
        resource_policy = auth.get("ResourcePolicy") if isinstance(auth, dict) else None
        if not isinstance(resource_policy, dict):
            return
        written = join_pointer(join_pointer(pointer, "Auth"), "ResourcePolicy")
        if "CustomStatements" in resource_policy:
            self.template_source.moved[join_pointer(written, "Statement")] = join_pointer(written, "CustomStatements")
            statements = resource_policy["CustomStatements"]
            if self.add_policy({"Version": "2012-10-17", "Statement": statements}, PolicyKind.RESOURCE, written,
                               Subject("execute-api", logical_id, None), f"execute-api:{logical_id}") is not None:
                self.result.counts["resource_policies"] += 1
        generated = sorted(key for key in resource_policy if key != "CustomStatements")
        if generated:
            self.result.not_checked.append(
                f"{self.source.display_path}: {logical_id}: the statements AWS SAM writes for Auth.ResourcePolicy "
                f"{', '.join(generated)} (SAM expands them when the stack is deployed)")

    def read_sam_policies(self, logical_id: str, props: dict[str, Any], pointer: str) -> None:
        """``Policies`` of an AWS SAM function or state machine: the role SAM creates for it (``<Function>Role``)
        gets them."""
        result, where = self.result, f"{self.source.display_path}: {logical_id}"
        if "Role" in props:
            result.not_checked.append(f"{where}: Policies are ignored by AWS SAM because Role is set")
            return
        name = f"{logical_id}Role"
        parts = self.parts_of(name, "role", name, pointer)
        for item, item_pointer in self.resolver.deployed_items(props["Policies"], join_pointer(pointer, "Policies")):
            value = self.resolver.resolve(item)
            if isinstance(value, dict) and "Statement" in value:
                document = item if "Version" in value else {"Version": "2012-10-17", **item}  # SAM adds it
                parts.inline.extend(_present(self.add_policy(document, PolicyKind.IDENTITY, item_pointer,
                                                             Subject("role", name, None), f"inline:{logical_id}")))
            elif isinstance(value, str):
                self.add_managed(parts, value if value.startswith("arn:") else f"arn:aws:iam::aws:policy/{value}",
                                 item_pointer)
            elif isinstance(value, dict) and len(value) == 1:
                template = next(iter(value))
                result.not_checked.append(f"{where}: SAM policy template {template} (AWS SAM expands it when "
                                          "deploying)")
            else:
                result.not_checked.append(f"{where}: a Policies entry that is neither a policy document, a "
                                          "managed policy nor a SAM policy template")
        result.counts["roles"] += 1

    def mark_boundaries_only(self) -> None:
        """The template's managed policies that are some principal's permissions boundary and nobody's policy."""
        principals = list(self.principal_parts.values())
        attached = {logical_id for parts in principals for logical_id in parts.attached}
        granting = {id(policy) for parts in principals for policy in parts.inline}
        bounding = {logical_id: policy for logical_id in {p.boundary for p in principals if p.boundary} - attached
                    if (policy := self.standalone_policies.get(logical_id)) is not None and id(policy) not in granting}
        marked = self.result.mark_boundaries_only(bounding.values())
        self.standalone_policies.update({logical_id: marked[id(policy)] for logical_id, policy in bounding.items()})

    def groups_of(self, parts: _PrincipalParts) -> list[_PrincipalParts]:
        """The template's groups a user is in (by ``!Ref`` or by name); a note for each group that is not one."""
        found: list[_PrincipalParts] = []
        for written, _ in parts.groups:
            logical_id = written.get("Ref") if isinstance(written, dict) and len(written) == 1 else None
            group = self.principal_parts.get(logical_id) if isinstance(logical_id, str) else None
            if group is None:
                name = self.resolver.resolve(written)
                group = next((candidate for key, candidate in self.principal_parts.items()
                              if candidate.kind == "group" and key in self.resources and candidate.name == name), None)
            if group is not None and group.kind == "group":
                found.append(group)
            else:
                self.result.not_checked.append(
                    f"{self.source.display_path}: user {parts.name}: the group {_shown(written)} is not in the "
                    "template, so its policies were not checked with the user's")
        return found

    def add_principals(self) -> None:
        """Every user, group and role of the template, with what the resources gave it; a managed policy of the
        template used as a permissions boundary and in no other way grants nothing (``Policy.boundary_only``)."""
        self.mark_boundaries_only()
        for parts in self.principal_parts.values():
            for attached in parts.attached:
                policy = self.standalone_policies.get(attached)
                if policy is not None and policy not in parts.inline:
                    parts.inline.append(policy)
        for logical_id, parts in self.principal_parts.items():
            if logical_id not in self.resources and logical_id not in self.sam_roles:
                continue
            boundary = self.standalone_policies.get(parts.boundary) if parts.boundary is not None else None
            groups = self.groups_of(parts)
            self.result.principals.append(
                Principal(parts.kind, parts.name, "", self.template_source, parts.pointer,
                          inline_policies=tuple(parts.inline), attached_policy_arns=tuple(parts.managed),
                          group_names=tuple(group.name for group in groups),
                          group_policies=tuple(policy for group in groups for policy in group.inline),
                          group_policy_arns=tuple(dict.fromkeys(arn for group in groups for arn in group.managed)),
                          missing_policy_arns=tuple(dict.fromkeys(
                              (*parts.managed, *(arn for group in groups for arn in group.managed)))),
                          trust_policy=parts.trust,
                          permissions_boundary=boundary, missing_boundary_arn=parts.boundary_arn,
                          aliases=(self.sam_roles[logical_id],) if logical_id in self.sam_roles else
                          (logical_id,) if logical_id != parts.name else ())
            )
            if parts.managed:  # a template attaches managed policies by ARN; their documents are elsewhere
                aws_managed = any(":iam::aws:policy/" in arn for arn in parts.managed)
                self.result.not_checked.append(
                    f"{self.source.display_path}: {parts.kind} {parts.name}: the attached managed policies "
                    f"{', '.join(parts.managed)} are not in the template, so their statements were not checked"
                    + (" (an AWS managed policy that grants administrator access is still reported, by its name)"
                       if aws_managed else ""))


def _policy_documents_in(value: Any, path: str = "", depth: int = 0) -> Iterator[str]:
    """Where (``PolicyDocument``, ``Auth.Policy``) properties hold something written as a policy document: an
    object with a ``Statement``, or JSON text with one."""
    if depth > 8:
        return
    if isinstance(value, str) and value.lstrip().startswith("{") and "Statement" in value:
        with suppress(ParseError):
            value = parse_embedded_json(value)
    if looks_like_policy(value):
        yield path or "(the properties)"
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not key.startswith("Fn::"):
                yield from _policy_documents_in(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _policy_documents_in(item, f"{path}[{index}]", depth + 1)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _resolved_name(resolver: _Resolver, value: Any, logical_id: str) -> str:
    """A resource's name property as deployed (``!Sub`` resolved), or its logical id when it is not a string."""
    name = resolver.resolve(value)
    return name if isinstance(name, str) else logical_id


_FOR_EACH = "Fn::ForEach::"


def _template_resources(written: dict[str, Any], pointer: str,
                        loop_identifiers: tuple[str, ...]) -> Iterator[tuple[str, Any, str]]:
    """(logical id, resource, its pointer) of each resource of the template. The fragment of a
    ``Fn::ForEach::Loop`` (AWS::LanguageExtensions) gives its resources once, with the loop's identifier as a value
    known only when the stack is deployed (``${Team}Role`` as ``{{Team}}Role``)."""
    for key, value in written.items():
        at = join_pointer(pointer, key)
        if key.startswith(_FOR_EACH) and isinstance(value, list) and len(value) == 3 \
                and isinstance(value[0], str) and isinstance(value[2], dict):
            yield from _template_resources(value[2], join_pointer(at, 2), (*loop_identifiers, value[0]))
        else:
            yield _with_placeholders(key, loop_identifiers), _with_placeholders(value, loop_identifiers), at


def _with_placeholders(value: Any, identifiers: tuple[str, ...]) -> Any:
    """``value`` with each loop identifier (``${Team}``, ``&{Team}``, ``!Ref Team``) as the placeholder ``{{Team}}``."""
    if not identifiers:
        return value
    if isinstance(value, str):
        for identifier in identifiers:
            value = value.replace("${" + identifier + "}", "{{" + identifier + "}}").replace(
                "&{" + identifier + "}", "{{" + identifier + "}}")
        return value
    if isinstance(value, list):
        return [_with_placeholders(item, identifiers) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and value.get("Ref") in identifiers:
        return "{{" + value["Ref"] + "}}"
    return {_with_placeholders(key, identifiers): _with_placeholders(item, identifiers) for key, item in value.items()}


def _managed_policy_named(arn: Any, resources: dict[str, Any]) -> str | None:
    """The logical id of the template's ``AWS::IAM::ManagedPolicy`` whose ARN ``arn`` is (``!Ref Policy``,
    ``!GetAtt Policy.PolicyArn``), if it is one."""
    if not isinstance(arn, dict) or len(arn) != 1:
        return None
    (function, argument), = arn.items()
    if function == "Fn::GetAtt":
        parts = argument.split(".") if isinstance(argument, str) else argument
        logical_id = parts[0] if isinstance(parts, list) and parts[1:] == ["PolicyArn"] else None
    else:
        logical_id = argument if function == "Ref" else None
    resource = resources.get(logical_id) if isinstance(logical_id, str) else None
    return logical_id if isinstance(resource, dict) and resource.get("Type") == "AWS::IAM::ManagedPolicy" else None


def _kms_aliases(resources: dict[str, Any], resolver: _Resolver) -> dict[str, list[str]]:
    """The ``AliasName`` of each ``AWS::KMS::Alias``, by the logical id of the key its ``TargetKeyId`` names
    (``!Ref Key``, ``!GetAtt Key.Arn``)."""
    found: dict[str, list[str]] = {}
    for resource in resources.values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::KMS::Alias":
            continue
        props = resource.get("Properties")
        if not isinstance(props, dict):
            continue
        name, target = resolver.resolve(props.get("AliasName")), props.get("TargetKeyId")
        key = None
        if isinstance(target, dict):
            key = target.get("Ref")
            attribute = target.get("Fn::GetAtt")
            if isinstance(attribute, list) and attribute:
                key = attribute[0]
            elif isinstance(attribute, str):
                key = attribute.partition(".")[0]
        if isinstance(name, str) and not is_template_value(name) and isinstance(key, str):
            found.setdefault(key, []).append(name)
    return found
