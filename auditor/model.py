"""The one normal form: every loader produces these objects, every check reads them.

Checks never see raw JSON or YAML. Scalars become tuples, letter case of actions is
kept as written (matching is case-insensitive, done by the catalogue), and every
policy and statement knows where it came from through a :class:`Source` and a JSON
pointer, resolved to a line and column only when a finding needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.source import Source

PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"})
"""The AWS partitions, the second part of every ARN."""

TEMPLATE_VALUE = re.compile(r"\{\{[^{}]*\}\}")
"""How the CloudFormation and Terraform loaders write a value known only when the stack is deployed (``!Ref X`` as
``{{Ref:X}}``, ``var.x`` as ``{{var.x}}``): one concrete value, never a wildcard."""

CONFIGURATION_PRINCIPAL_ARN = re.compile(r"\{\{(?P<address>aws_iam_(?:role|user)\.[\w-]+)(?:\[[^\]]*\])?\.arn\}\}")
"""The ARN of a role or user a Terraform configuration creates, as its loader writes it (``{{aws_iam_role.ci.arn}}``):
the loader leaves it so only for one of the same file and provider as the trusting role, which is then of the role's
own account."""

ACCOUNT = re.compile(r"^\d{12}$")

SID_IGNORE_MARKER = "IamAuditIgnore"
"""What a Sid ends in, before rule ids, to suppress those rules' findings in its statement (``suppress``)."""
SID_IGNORE = re.compile(SID_IGNORE_MARKER + r"((?:IAM\d{3})+)$", re.IGNORECASE)


def sid_ignored_rules(sid: str | None) -> frozenset[str]:
    """Rule ids a Sid asks to ignore: ``AllowAllIamAuditIgnoreIAM012IAM003`` -> {IAM012, IAM003}."""
    if not sid:
        return frozenset()
    match = SID_IGNORE.search(sid)
    if match is None:
        return frozenset()
    ids = match.group(1).upper()
    return frozenset(ids[i:i + 6] for i in range(0, len(ids), 6))


def permission_set_role(name: str) -> str:
    """The role IAM Identity Center creates from the permission set ``name`` in each account it is assigned to (with
    a suffix of its own, known once it does)."""
    return f"AWSReservedSSO_{name}_{{{{unique suffix}}}}"


def arn_account(arn: str) -> str | None:
    """The account field of an ARN, or a bare 12-digit account id; None when absent or a wildcard."""
    text = arn.strip()
    if ACCOUNT.match(text):
        return text
    parts = text.split(":", 5)
    if len(parts) >= 5 and parts[0] == "arn" and ACCOUNT.match(parts[4]):
        return parts[4]
    return None


def is_template_value(text: str) -> bool:
    return TEMPLATE_VALUE.fullmatch(text.strip()) is not None


class Severity(str, Enum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(
                f"unknown severity {text!r}: expected one of {', '.join(s.value for s in cls)}"
            ) from None


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class PolicyKind(str, Enum):
    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"
    ORGANIZATION = "organization"
    ENDPOINT = "endpoint"
    """A VPC endpoint policy: it limits what may pass through the endpoint and grants nothing."""


IAM_ORGANIZATION_POLICY_TYPES = ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")
"""The AWS Organizations policy types written in the IAM policy language (tag, backup and AI opt-out policies
are not); service control policies are the default of CloudFormation's and Terraform's organization policies."""


VALIDITY_CATEGORIES = (
    "malformed",
    "unknown-action",
    "resource-mismatch",
    "condition-mismatch",
    "size-limit",
)
RISK_CATEGORIES = (
    "wildcard-action",
    "wildcard-resource",
    "not-action",
    "privilege-escalation",
    "credentials-exposure",
    "data-access",
    "resource-exposure",
    "public-access",
    "cross-account-trust",
)
DRIFT_CATEGORIES = (
    "drift-action-added",
    "drift-action-removed",
    "drift-resource-widened",
    "drift-condition-loosened",
    "drift-trust-widened",
    "drift-managed-policy",
)
HYGIENE_CATEGORIES = ("suppression",)
"""Of the checking itself: an inline suppression that hides nothing."""
CATEGORIES = VALIDITY_CATEGORIES + RISK_CATEGORIES + DRIFT_CATEGORIES + HYGIENE_CATEGORIES


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a file the user gave: 1-based line and column (0 when unknown)."""

    path: str
    line: int = 0
    column: int = 0
    pointer: str = ""

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}"
        return self.path

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column}


@dataclass(frozen=True, slots=True)
class Problem:
    """A grammar problem found while bringing a document into normal form.

    ``rule`` is the slug of the malformed-family rule that reports it.
    """

    rule: str
    message: str
    pointer: str
    details: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0
    """Set when the position is known without the source map (syntax errors)."""
    column: int = 0


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str
    """In AWS's spelling when it is a known operator (see ``written_operator``)."""
    key: str
    values: tuple[Any, ...]
    pointer: str
    written_operator: str = ""
    """The operator as the policy spells it, when that differs from AWS's spelling (``stringEquals``): IAM
    rejects such a policy, while every check reads the operator that was meant."""

    @property
    def operator_as_written(self) -> str:
        return self.written_operator or self.operator

    @property
    def set_qualifier(self) -> str | None:
        """``ForAllValues`` or ``ForAnyValue`` when the operator carries one."""
        head, sep, _ = self.operator.partition(":")
        return head if sep else None

    @property
    def base_operator(self) -> str:
        """The operator without set qualifier and without ``IfExists``."""
        op = self.operator.partition(":")[2] or self.operator
        if op.endswith("IfExists"):
            op = op[: -len("IfExists")]
        return op

    @property
    def if_exists(self) -> bool:
        return self.operator.endswith("IfExists")

    def value_pointer(self, index: int) -> str:
        """Where the ``index``-th value is written (the key's value itself when it is one string)."""
        return f"{self.pointer}/{index}" if len(self.values) > 1 else self.pointer


@dataclass(frozen=True, slots=True)
class PrincipalRef:
    """One principal named in a ``Principal``/``NotPrincipal`` element.

    ``type`` is ``AWS``, ``Service``, ``Federated``, ``CanonicalUser`` or ``*`` for the
    bare string form ``"Principal": "*"``.
    """

    type: str
    value: str
    pointer: str


@dataclass(frozen=True, slots=True)
class Statement:
    index: int
    pointer: str
    sid: str | None = None
    effect: str = "Allow"
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    principals: tuple[PrincipalRef, ...] | None = None
    not_principals: tuple[PrincipalRef, ...] | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def is_allow(self) -> bool:
        return self.effect == "Allow"

    @property
    def is_deny(self) -> bool:
        return self.effect == "Deny"

    @property
    def action_patterns(self) -> tuple[str, ...]:
        return self.actions or self.not_actions or ()

    @property
    def resource_patterns(self) -> tuple[str, ...]:
        return self.resources or self.not_resources or ()

    def element_pointer(self, element: str, index: int | None = None) -> str:
        pointer = f"{self.pointer}/{element}"
        return pointer if index is None else f"{pointer}/{index}"


@dataclass(frozen=True, slots=True)
class Subject:
    """The principal (or resource) a policy belongs to."""

    kind: str
    name: str
    arn: str | None = None
    aliases: tuple[str, ...] = ()
    """Other names of a resource (a KMS key's aliases), which baselines' name patterns may match."""

    def to_json(self, policy_label: str | None) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "arn": self.arn, "policy": policy_label}


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A version of a managed policy that is not in effect, as the export holds it: normalised only by the one
    check that compares it with the default (``normalize.stored_version``), so a large export does not hold
    every old version in normal form."""

    version_id: str | None
    document: Any
    pointer: str
    """Of its ``Document`` in the export."""


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    kind: PolicyKind
    source: Source
    pointer: str
    statements: tuple[Statement, ...]
    version: str | None = None
    policy_id: str | None = None
    subject: Subject | None = None
    label: str | None = None
    """How the policy is named in messages: ``inline:server``, a managed policy ARN."""
    problems: tuple[Problem, ...] = ()
    size: int = 0
    """Characters excluding whitespace, as IAM counts them against its quotas."""
    is_aws_managed: bool = False
    boundary_only: bool = False
    """Only a permissions boundary (some principals' boundary and no one's attached policy, or a file checked
    with ``--kind boundary``): it limits principals and grants nothing."""
    organization_type: str | None = None
    """An organization policy whose type its template or configuration declares (one of
    ``IAM_ORGANIZATION_POLICY_TYPES``); None where only its statements tell (a policy file)."""
    version_id: str | None = None
    """An export's managed policy: the ``VersionId`` of this document (``v3``)."""
    dormant_versions: tuple[StoredVersion, ...] = ()
    """An export's customer managed policy: its stored versions other than the default, which are not in
    effect until someone makes one the default (``iam:SetDefaultPolicyVersion``). Only IAM013 reads them."""

    def location(self, pointer: str | None = None) -> Location:
        """Where ``pointer`` is written. The N-th item of an element written as one value rather than a list
        (``"Action": "s3:GetObject"`` has no ``/Action/0``) is the element itself."""
        target = self.pointer if pointer is None else pointer
        line, column = self.source.locate(target)
        parent, _, last = target.rpartition("/")
        if last.isdigit() and parent and not self.source.has_pointer(target) and self.source.has_pointer(parent):
            target = parent
        return Location(self.source.display_path, line, column, target)


@dataclass(frozen=True, slots=True, eq=False)
class Principal:
    """A user, group or role of an account, with every policy that applies to it."""

    kind: str
    name: str
    arn: str
    source: Source
    pointer: str
    inline_policies: tuple[Policy, ...] = ()
    attached_policy_arns: tuple[str, ...] = ()
    attached_policies: tuple[Policy, ...] = ()
    group_names: tuple[str, ...] = ()
    group_policies: tuple[Policy, ...] = ()
    group_policy_arns: tuple[str, ...] = ()
    """The managed policies attached to its groups (their documents, when known, are among ``group_policies``)."""
    trust_policy: Policy | None = None
    permissions_boundary: Policy | None = None
    missing_policy_arns: tuple[str, ...] = ()
    missing_boundary_arn: str | None = None
    """The ARN of its permissions boundary when the input does not hold the boundary's document."""
    aliases: tuple[str, ...] = ()
    """What its input calls it besides its name: a template's logical id, a Terraform address (``[[baselines]]``
    mappings may name it so)."""

    @property
    def subject(self) -> Subject:
        return Subject(self.kind, self.name, self.arn)

    @property
    def names(self) -> tuple[str, ...]:
        """Its name, then its aliases: what a ``[[baselines]]`` mapping may call it."""
        return (self.name, *self.aliases)

    @property
    def identity_policies(self) -> tuple[Policy, ...]:
        """Every identity policy in effect: own inline and attached, then groups'."""
        return self.inline_policies + self.attached_policies + self.group_policies

    def location(self, pointer: str | None = None) -> Location:
        target = self.pointer if pointer is None else pointer
        return Location(*self.source.where(target), target)

    def attachment_pointer(self, arn: str) -> str:
        """Where the file attaches the managed policy: an export's or a template's list entry, else the principal."""
        if arn in self.attached_policy_arns:
            index = self.attached_policy_arns.index(arn)
            for element in ("AttachedManagedPolicies", "ManagedPolicyArns"):
                pointer = f"{self.pointer}/{element}/{index}"
                if self.source.has_pointer(pointer):
                    return pointer
        return self.pointer


@dataclass(frozen=True, slots=True)
class StatementRef:
    index: int
    sid: str | None
    signature: str = ""
    """What identifies a statement without a Sid across edits (see ``statement_signature``)."""

    @classmethod
    def of(cls, statement: Statement, siblings: Sequence[Statement] = ()) -> StatementRef:
        # with a Sid the signature is not needed, unless the Sid ends in an IamAuditIgnore marker (suppress.py),
        # which the statement may have lacked in an earlier run
        needs_signature = not statement.sid or SID_IGNORE_MARKER.lower() in statement.sid.lower()
        return cls(statement.index, statement.sid, statement_signature(statement, siblings) if needs_signature else "")

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "sid": self.sid}


def statement_signature(statement: Statement, siblings: Sequence[Statement] = ()) -> str:
    """A statement's effect and actions as written (case-folded, sorted), and which of the ``siblings`` (the
    statements of its policy) with the same ones it is: a statement moved, or with others added around it, keeps
    it."""
    own = _signature_text(statement.effect, statement.actions, statement.not_actions)
    ordinal = sum(1 for other in siblings if other.index < statement.index
                  and _signature_text(other.effect, other.actions, other.not_actions) == own)
    return f"{own}#{ordinal}"


@lru_cache(maxsize=8192)
def _signature_text(effect: str, actions: tuple[str, ...] | None, not_actions: tuple[str, ...] | None) -> str:
    listed = "|".join(sorted({a.strip().lower() for a in actions or not_actions or ()}))
    return f"{effect}:{'not:' if actions is None else ''}{listed}"


@dataclass(frozen=True, slots=True, eq=False)
class Finding:
    rule_id: str
    slug: str
    category: str
    severity: Severity
    title: str
    message: str
    location: Location
    subject: Mapping[str, Any] | None = None
    statement: StatementRef | None = None
    baseline: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    suppressed: str | None = None
    """Why the finding is suppressed (the suppression's reason), or None."""
    suppressed_in_source: bool = False
    """Whether that suppression is written in the checked file itself (a Sid, CloudFormation ``Metadata``) rather
    than in the configuration or an accepted-findings file."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule_id": self.rule_id,
            "slug": self.slug,
            "category": self.category,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "location": self.location.to_json(),
            "subject": dict(self.subject) if self.subject is not None else None,
            "statement": self.statement.to_json() if self.statement else None,
            "baseline": self.baseline,
            "details": dict(self.details),
        }
        if self.suppressed is not None:
            data["suppressed"] = self.suppressed
        return data

    def sort_key(self) -> tuple[Any, ...]:
        loc = self.location
        return (loc.path, loc.line, loc.column, -self.severity.rank, self.rule_id, self.message)


@dataclass(frozen=True, slots=True)
class InputError:
    """Something that could not be checked at all (exit code 2 territory when alone)."""

    path: str
    message: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}: {self.message}"
        return f"{self.path}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column, "message": self.message}
