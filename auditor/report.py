"""What a run produces, handed from the engine to the reporters.

Reporters are pure functions ``render(report) -> str``; only the CLI writes files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from auditor.model import Finding, InputError, Severity


@dataclass(frozen=True, slots=True)
class RuleDocs:
    what: str
    why: str
    example: str
    fix: str


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A rule's metadata: readable without running the rule."""

    id: str
    slug: str
    category: str
    severity: Severity
    title: str
    docs: RuleDocs

    @property
    def help_uri(self) -> str:
        return f"https://github.com/iam-audit/iam-audit/blob/main/docs/rules.md#{self.id.lower()}-{self.slug}"


EXCERPT_CONTEXT_LINES = 1
"""Lines a report shows on each side of a finding's line."""


def excerpt_line_numbers(line: int) -> range:
    """The 1-based lines an excerpt around ``line`` shows (some may be past the end of the file)."""
    return range(max(1, line - EXCERPT_CONTEXT_LINES), line + EXCERPT_CONTEXT_LINES + 1)


class Verdict(NamedTuple):
    """The one-line outcome of comparing a principal (or a policy) with a documented baseline."""

    principal: str
    verdict: str
    baseline: str = ""
    """The baseline's ``vendor/name@revision``."""
    path: str = ""
    """The input file the principal was read from."""
    aliases: tuple[str, ...] = ()
    """Other names of what was compared: a KMS key's aliases, a template's logical id or Terraform address."""

    @property
    def label(self) -> str:
        return f"{self.principal} ({', '.join(self.aliases)})" if self.aliases else self.principal


def subject_labels(subject: Mapping[str, Any] | None) -> list[str]:
    """A finding's subject as its kind, name and policy, those it has; the policy left out when it is the name
    (a policy document found on its own: ``policy data.aws_iam_policy_document.x``)."""
    subject = subject or {}
    labels = [str(subject[key]) for key in ("kind", "name") if subject.get(key)]
    policy = subject.get("policy")
    if policy and policy != subject.get("name"):
        labels.append(str(policy))
    return labels


def subject_text(subject: Mapping[str, Any] | None) -> str:
    """The subject as a short phrase: ``role app, inline:deploy`` (empty without one)."""
    labels = subject_labels(subject)
    return ", ".join([" ".join(labels[:2]), *labels[2:]]) if labels else ""


def expired_line(notice: Mapping[str, Any]) -> str:
    """An expired suppression (``Summary.expired_suppressions``) as one line: ``file:line: message``."""
    return f"{notice['path']}:{notice['line']}: {notice['message']}"


@dataclass(frozen=True, slots=True)
class Summary:
    files: int = 0
    policies: int = 0
    principals: Mapping[str, int] = field(default_factory=dict)
    """Counts of users, groups, roles and managed policies read from exports."""
    skipped: tuple[tuple[str, str], ...] = ()
    """Files that were read but are plainly not policies: (path, why)."""
    not_checked: tuple[str, ...] = ()
    """What could not be checked, in words (unreadable files, incomplete exports)."""
    verdicts: tuple[Verdict, ...] = ()
    """Per comparison of a principal with a baseline, for drift."""
    paths: tuple[str, ...] = ()
    """Display paths of the input files that were read (clean ones included)."""
    expired_suppressions: tuple[Mapping[str, Any], ...] = ()
    """Configured suppressions past their date: path, line, rule, expires, reason, message."""


@dataclass(frozen=True, slots=True)
class Report:
    findings: tuple[Finding, ...]
    errors: tuple[InputError, ...]
    summary: Summary
    rules: Mapping[str, RuleInfo]
    tool_version: str = ""
    catalog_version: str = ""
    fail_on: Severity | None = Severity.HIGH
    """The run's ``--fail-on``: the CI formats mark what fails it as a failure or an error, the rest less."""

    def fails(self, finding: Finding) -> bool:
        """Whether the finding is at or above ``fail_on`` (None: ``never``)."""
        return self.fail_on is not None and finding.severity.rank >= self.fail_on.rank

    @property
    def active_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed is None)

    @property
    def suppressed_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed is not None)

    def by_severity(self) -> dict[str, int]:
        counts = Counter(f.severity for f in self.active_findings)
        return {s.value: counts[s] for s in reversed(Severity) if counts[s]}

    def summary_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "files": self.summary.files,
            "policies": self.summary.policies,
            "findings": len(self.active_findings),
            "by_severity": self.by_severity(),
        }
        if self.summary.principals:
            data["principals"] = dict(self.summary.principals)
        # always present, so that a reader need not guard every key: 0 and [] when there is nothing
        data["suppressed"] = len(self.suppressed_findings)
        data["skipped"] = [{"path": p, "reason": r} for p, r in self.summary.skipped]
        data["not_checked"] = list(self.summary.not_checked)
        if self.summary.expired_suppressions:
            data["expired_suppressions"] = [dict(e) for e in self.summary.expired_suppressions]
        if self.summary.verdicts:
            data["verdicts"] = [v._asdict() for v in self.summary.verdicts]
        return data
