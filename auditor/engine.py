"""Run the rules over loaded documents and turn their hits into findings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from auditor.catalog import Catalog
from auditor.loaders.result import LoadResult
from auditor.model import Finding, Location, Policy, Principal, Severity, StatementRef, arn_account
from auditor.registry import Hit, Rule, RuleSet
from auditor.source import Source


@dataclass(frozen=True, slots=True)
class Selection:
    """Which rules run and at what severity (from the command line and the config)."""

    select: frozenset[str] = frozenset()
    """Rule ids, slugs or categories; empty means every rule."""
    ignore: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    """Overrides by rule id, slug or category."""
    categories: frozenset[str] = frozenset()
    """``--category``: only rules of these categories, among those ``select`` chooses; empty means any."""

    def enabled(self, rule: Rule) -> bool:
        keys = {rule.id.lower(), rule.slug, rule.info.category}
        if self.select and not keys & {s.lower() for s in self.select}:
            return False
        if self.categories and rule.info.category not in {c.lower() for c in self.categories}:
            return False
        return not self.ignores(rule)

    def ignores(self, rule: Rule) -> bool:
        """Whether ``ignore`` names the rule (by id, slug or category)."""
        return bool({rule.id.lower(), rule.slug, rule.info.category} & {s.lower() for s in self.ignore})

    def severity_for(self, rule: Rule, default: Severity) -> Severity:
        if not self.severity:
            return default
        for key in (rule.id, rule.slug, rule.info.category):
            for name, value in self.severity.items():
                if name.lower() == key.lower():
                    return value
        return default


class CheckContext:
    """What rules may consult besides the document: the catalogue and the knowledge in ``rules/``."""

    def __init__(self, catalog: Catalog, options: Mapping[str, Any] | None = None) -> None:
        self.catalog = catalog
        self.options = dict(options or {})
        self._boundaries: dict[int, list[tuple[Principal, Policy | None]]] = {}
        self.principals: Sequence[Principal] = ()
        """The users, groups and roles of the input being checked."""
        self.input_accounts: frozenset[str] = frozenset()
        """The accounts of the users, groups and roles of the file being checked (an export's own account)."""

    def note_principals(self, principals: Sequence[Principal]) -> None:
        """Remember which policies are in effect for a user or role that principal-scope rules evaluate, and the
        accounts the principals belong to."""
        self.principals = principals
        self._boundaries = {}
        for principal in principals:
            if principal.kind in ("user", "role"):
                for policy in principal.identity_policies:
                    self._boundaries.setdefault(id(policy), []).append((principal, principal.permissions_boundary))
        self.input_accounts = frozenset(
            account for principal in principals if principal.arn and (account := arn_account(principal.arn))
        )

    def in_effect_for_principal(self, policy: Policy) -> bool:
        """True when ``policy`` applies to a user or role of the input (so principal rules see it)."""
        return id(policy) in self._boundaries

    def holders(self, policy: Policy) -> list[tuple[Principal, Policy | None]]:
        """The users and roles of the input ``policy`` is in effect for, each with its permissions boundary."""
        return self._boundaries.get(id(policy), [])

    @cached_property
    def retired(self) -> Any:
        from auditor.knowledge_catalog import load_retired_actions

        return load_retired_actions()


GRANT_CATEGORIES = frozenset({"wildcard-action", "wildcard-resource", "not-action", "privilege-escalation",
                              "credentials-exposure", "data-access", "resource-exposure"})
"""What a policy grants: reported at info for a policy that is only a permissions boundary, which grants nothing."""


def _finding(rule: Rule, hit: Hit, policy: Policy | None, source: Source | None, selection: Selection) -> Finding:
    statement = hit.statement
    if hit.line and source is not None:
        location = Location(source.display_path, hit.line, hit.column, hit.pointer or "")
    elif policy is not None:
        pointer = hit.pointer or (statement.pointer if statement else policy.pointer)
        location = policy.location(pointer)
    elif source is not None:
        line, column = source.locate(hit.pointer or "")
        location = Location(source.display_path, line, column, hit.pointer or "")
    else:
        location = Location("<unknown>")
    subject = policy.subject.to_json(policy.label) if policy is not None and policy.subject else None
    severity = selection.severity_for(rule, hit.severity or rule.info.severity)
    message = hit.message
    if policy is not None and policy.boundary_only and rule.info.category in GRANT_CATEGORIES:
        severity = Severity.INFO
        message += " (the policy is only a permissions boundary: it limits its principals and grants nothing)"
    return Finding(
        rule_id=rule.id,
        slug=rule.slug,
        category=rule.info.category,
        severity=severity,
        title=rule.info.title,
        message=message,
        location=location,
        subject=subject,
        statement=StatementRef.of(statement, policy.statements if policy is not None else ()) if statement else None,
        details=dict(hit.details),
    )


UNPARSED = "syntax-error"
"""The problem of a file that is not valid JSON, YAML or HCL (IAM100)."""


def run_rules(
    loaded: LoadResult, rules: RuleSet, context: CheckContext, selection: Selection | None = None,
    part: tuple[int, int] = (0, 1),
) -> list[Finding]:
    """Every rule over what was loaded; with ``part`` = (k, n), only the k-th of n interleaved shares of the
    policies and principals (and the whole-file problems in share 0), for n processes to split one file."""
    selection = selection or Selection()
    policy_rules, principal_rules = _rule_lists(rules, context, selection)
    context.note_principals(loaded.principals)
    index, shares = part
    findings: list[Finding] = []
    for source, problem in loaded.document_problems if index == 0 else ():
        rule = rules.get(problem.rule)
        if rule is None:
            continue
        if not selection.enabled(rule):
            # a file that does not parse had no rule run on it: said whatever --select chose, as ruff does
            if problem.rule != UNPARSED:
                continue
            if selection.ignores(rule):
                loaded.not_checked.append(f"{source.display_path}:{problem.line}:{problem.column}: not parsed, so "
                                          f"not checked ({problem.message}; {rule.id} is ignored)")
                continue
        hit = Hit(problem.message, pointer=problem.pointer, details=problem.details, line=problem.line,
                  column=problem.column)
        findings.append(_finding(rule, hit, None, source, selection))
    for policy in loaded.policies[index::shares]:
        findings.extend(check_policy(policy, policy_rules, context, selection))
    for principal in loaded.principals[index::shares]:
        findings.extend(check_principal(principal, principal_rules, context, selection))
    return findings


def _rule_lists(rules: RuleSet, context: CheckContext, selection: Selection) -> tuple[list[Rule], list[Rule]]:
    """The enabled policy-scope and principal-scope rules, worked out once per context (it may see many files)."""
    memo = context.options.setdefault("_rule_lists", {})
    key = (id(rules), id(selection))
    found = memo.get(key)
    if found is None or found[0] is not rules or found[1] is not selection:
        active = [r for r in rules if selection.enabled(r)]
        found = memo[key] = (rules, selection, [r for r in active if r.scope in ("policy", "both")],
                             [r for r in active if r.scope in ("principal", "both")])
    return found[2], found[3]


def check_policy(
    policy: Policy, rules: Iterable[Rule], context: CheckContext, selection: Selection
) -> list[Finding]:
    """The policy's findings, each once: the variants of a statement a template writes once (one per branch of an
    ``Fn::If`` in its Sid or Condition) often give the same finding at the same spot, which is one problem."""
    found = []
    seen: set[tuple[str, int, int, str]] = set()
    for rule in rules:
        for hit in rule.check(policy, context):
            finding = _finding(rule, hit, policy, policy.source, selection)
            spot = (finding.rule_id, finding.location.line, finding.location.column, finding.message)
            if spot not in seen:
                seen.add(spot)
                found.append(finding)
    return found


def check_principal(
    principal: Principal, rules: Iterable[Rule], context: CheckContext, selection: Selection
) -> list[Finding]:
    found = []
    for rule in rules:
        for hit in rule.check(principal, context):
            finding = _finding(rule, hit, hit.policy, principal.source, selection)
            if hit.policy is None:
                location = principal.location(hit.pointer or principal.pointer)
                finding = Finding(
                    finding.rule_id, finding.slug, finding.category, finding.severity, finding.title,
                    finding.message, location, principal.subject.to_json(None), finding.statement,
                    finding.baseline, finding.details,
                )
            else:
                subject = dict(finding.subject or principal.subject.to_json(hit.policy.label))
                subject.update({"kind": principal.kind, "name": principal.name, "arn": principal.arn or None})
                finding = Finding(
                    finding.rule_id, finding.slug, finding.category, finding.severity, finding.title,
                    finding.message, finding.location, subject, finding.statement, finding.baseline,
                    finding.details,
                )
            found.append(finding)
    return found
