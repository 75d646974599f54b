"""What loading a set of paths produces: the normal form plus an account of what was not checked."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.model import InputError, Policy, Principal, Problem
from auditor.normalize import with_organization_type
from auditor.source import Source


@dataclass(frozen=True, slots=True)
class InlineSuppression:
    """Findings of ``rule`` at or under ``pointer`` in the file ``path`` are suppressed (CloudFormation Metadata);
    or, with ``sid``, the findings of the statement whose Sid ends in the ``IamAuditIgnore`` marker (``rule`` is
    empty for a marker that names no rule)."""

    path: str
    pointer: str
    rule: str
    reason: str
    line: int = 0
    column: int = 0
    """Where the entry is written."""
    sid: str | None = None
    judged: bool = True
    """False when what it covers was not all checked (an action known only at deployment, a policy not read):
    whether it hides anything cannot be told."""
    subject: dict[str, Any] | None = None
    """The subject of the statement's policy (``Subject.to_json``), for a Sid marker."""
    statement: dict[str, Any] | None = None
    """The statement (``StatementRef`` fields), for a Sid marker."""
    lines: tuple[int, int] = (0, 0)
    """The lines of the document it is in, in a file of several (a YAML stream, whose documents share pointers);
    (0, 0) for the whole file."""
    principal_kind: str = ""
    principal_name: str = ""
    """For an entry on a user, group or role resource: that principal, whose own findings (an escalation through a
    policy of another resource that names it) it covers too, wherever they are located."""


@dataclass(slots=True)
class LoadResult:
    policies: list[Policy] = field(default_factory=list)
    principals: list[Principal] = field(default_factory=list)
    document_problems: list[tuple[Source, Problem]] = field(default_factory=list)
    """Problems of a whole file that never became a policy (syntax errors, limits)."""
    errors: list[InputError] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    files: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    suppressions: list[InlineSuppression] = field(default_factory=list)
    related_principals: list[Principal] = field(default_factory=list)
    """Principals another file declares whose policies are written in these files (a Terraform module's role of
    main.tf, its policy in data.tf): see ``adopt_related_principals``."""

    def wrong_type(self, source: Source, pointer: str, message: str) -> None:
        """An element of the document that is not of the shape its format writes (IAM109), at ``pointer``."""
        line, column = source.locate(pointer)
        self.document_problems.append((source, Problem("wrong-type", message, pointer, line=line, column=column)))

    def mark_boundaries_only(self, policies: Iterable[Policy]) -> dict[int, Policy]:
        """The ``policies`` (some principals' permissions boundaries, no one's policy) marked ``boundary_only``, in
        ``self.policies`` too: a boundary limits, it grants nothing. By the id of each, its marked copy."""
        marked = {id(policy): dataclasses.replace(policy, boundary_only=True) for policy in policies}
        self.policies[:] = [marked.get(id(policy), policy) for policy in self.policies]
        return marked

    def declare_organization_type(self, policy: Policy, declared: str) -> Policy:
        """The organization ``policy`` checked as the type its template or configuration gives it, in
        ``self.policies`` too."""
        return self.replace_policy(policy, with_organization_type(policy, declared))

    def replace_policy(self, policy: Policy, replacement: Policy) -> Policy:
        """``replacement`` in place of ``policy`` in ``self.policies``."""
        if replacement is not policy:
            self.policies[:] = [replacement if added is policy else added for added in self.policies]
        return replacement

    def extend(self, other: LoadResult) -> None:
        self.policies.extend(other.policies)
        self.principals.extend(other.principals)
        self.document_problems.extend(other.document_problems)
        self.errors.extend(other.errors)
        self.skipped.extend(other.skipped)
        self.not_checked.extend(other.not_checked)
        self.files += other.files
        self.counts.update(other.counts)
        self.suppressions.extend(other.suppressions)
        self.related_principals.extend(other.related_principals)

    def adopt_related_principals(self) -> None:
        """Check the related principals whose own file was not loaded with these (a module's data.tf given alone) as
        principals of these files, so that their policies are weighed with them; the others are checked already,
        with the file that declares them."""
        loaded = {(principal.source.display_path, principal.pointer) for principal in self.principals}
        for principal in self.related_principals:
            if (principal.source.display_path, principal.pointer) not in loaded:
                loaded.add((principal.source.display_path, principal.pointer))
                self.principals.append(principal)
                self.counts[principal.kind + "s"] += 1
        self.related_principals.clear()
