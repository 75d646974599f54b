"""Unknown actions: service prefixes and actions that do not exist, wildcards that match nothing.

Actions AWS has retired (present in older catalogues, gone from the current one)
are not typos: they are reported at ``info`` as retired, with where they were last
seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.catalog import SERVICE_PREFIX_ALIASES, glob_regex
from auditor.checks._facts import has_wildcard
from auditor.engine import CheckContext
from auditor.model import Policy, Severity, Statement
from auditor.permissions import permission_model
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()
CATEGORY = "unknown-action"
_ACTION_SHAPE = re.compile(r"[A-Za-z0-9*?-]+:[A-Za-z0-9*?]+\Z")


def _action_entries(statement: Statement) -> Iterator[tuple[str, str, int]]:
    """(action, element, index); the pointer is built only for an action that is reported."""
    for element in ("Action", "NotAction"):
        values = statement.actions if element == "Action" else statement.not_actions
        for index, action in enumerate(values or ()):
            yield action, element, index


def classify(action: str, context: CheckContext) -> tuple[str, str, dict[str, object]] | None:
    """(rule slug, message, details) for an action that is not a current IAM action, else None."""
    catalog = context.catalog
    if action == "*" or "{{" in action:  # a template value (!Ref, var.actions): known only when deployed
        return None
    if not _ACTION_SHAPE.match(action):
        suggestions = catalog.suggest_actions(action.replace(" ", "")) if ":" in action else []
        hint = f"; did you mean {_quote_list(suggestions)}?" if suggestions else ""
        return ("unknown-action", f"{action!r} is not of the form service:Action{hint}",
                {"action": action, "suggestions": suggestions})
    service, _, name = action.partition(":")
    if has_wildcard(service):
        if catalog.expand(action):
            return None
        return ("wildcard-matches-nothing", f"{action!r} matches no IAM action", {"action": action})
    if not catalog.has_service(service):
        retired = context.retired
        if retired.is_retired_service(service) or retired.retired_action(action):
            return ("retired-action", f"{action!r}: the {service} service has been retired by AWS",
                    {"action": action, "retired": True})
        services = catalog.suggest_services(service)
        alias = SERVICE_PREFIX_ALIASES.get(service.lower())
        same_action = catalog.action(f"{alias}:{name}") if alias is not None else None
        candidates = [catalog.display_name(f"{alias}:{name}")] if same_action is not None else \
            catalog.suggest_actions(action)
        hint = ""
        if candidates:
            hint = f"; did you mean {_quote_list(candidates)}?"
        elif services:
            hint = f"; did you mean the service prefix {_quote_list(services)}?"
        return ("unknown-service", f"{service!r} is not an AWS service prefix{hint}",
                {"action": action, "service": service, "suggestions": candidates or services})
    if catalog.expand(action):
        return None
    if has_wildcard(name):
        retired_matches = context.retired.matching(service, glob_regex(name.lower()))
        if retired_matches:
            return ("retired-action", f"{action!r} matches only actions AWS has retired "
                    f"({', '.join(sorted(retired_matches)[:3])})", {"action": action, "retired": True})
        return ("wildcard-matches-nothing",
                f"{action!r} matches no action of {catalog.service_name(service)}",
                {"action": action})
    retired_entry = context.retired.retired_action(action)
    if retired_entry is not None:
        last_seen = retired_entry.get("last_seen", "an older catalogue")
        return ("retired-action", f"{action!r} has been retired by AWS (last listed in {last_seen})",
                {"action": action, "retired": True, "last_seen": last_seen})
    suggestions = catalog.suggest_actions(action)
    hint = f"; did you mean {_quote_list(suggestions)}?" if suggestions else ""
    return ("unknown-action", f"{action!r} is not an action of {catalog.service_name(service)}{hint}",
            {"action": action, "suggestions": suggestions})


def _quote_list(items: list[str]) -> str:
    quoted = [f"'{item}'" for item in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


Verdict = tuple[str, str, dict[str, object]]


def _problems(statement: Statement, context: CheckContext) -> tuple[tuple[str, int, Verdict], ...]:
    """(element, index, verdict) of each action of the statement that is not a current action.

    Computed once per distinct Action/NotAction list of a run and shared by the four rules of this module.
    """
    by_statement = context.options.setdefault("_unknown_action_statements", {})
    key = (statement.actions, statement.not_actions)
    found = by_statement.get(key)
    if found is None and permission_model(context.catalog).all_actions.issuperset(
            map(str.lower, (statement.actions or ()) + (statement.not_actions or ()))):
        found = by_statement[key] = ()  # every entry the full name of a catalogue action: the usual case
    if found is None:
        memo = context.options.setdefault("_unknown_action_memo", {})
        problems = []
        for action, element, index in _action_entries(statement):
            verdict = memo.get(action, memo)
            if verdict is memo:
                verdict = memo[action] = classify(action, context)
            if verdict is not None:
                problems.append((element, index, verdict))
        found = by_statement[key] = tuple(problems)
    return found


def _policy_problems(policy: Policy, context: CheckContext
                     ) -> list[tuple[Statement, tuple[str, int, Verdict]]]:
    """Every problem of the policy's statements, kept for the statements last asked about: the engine runs the
    four rules of this module one after the other on each policy. (Keyed by the statements, which hold no
    source: keeping the policy would keep a whole export's text alive after its check.)"""
    last = context.options.get("_unknown_action_statements_last")
    if last is not None and last[0] is policy.statements:
        found: list[tuple[Statement, tuple[str, int, Verdict]]] = last[1]
        return found
    found = [(statement, problem) for statement in policy.statements for problem in _problems(statement, context)]
    context.options["_unknown_action_statements_last"] = (policy.statements, found)
    return found


def _hits(policy: Policy, context: CheckContext, slug: str) -> Iterator[Hit]:
    for statement, (element, index, verdict) in _policy_problems(policy, context):
        if verdict[0] == slug:
            yield Hit(verdict[1], pointer=statement.element_pointer(element, index),
                      statement=statement, details=verdict[2])


@RULES.rule(
    "IAM200", "unknown-service", CATEGORY, Severity.HIGH, "Unknown service prefix",
    what="Reports an action whose service prefix (the part before the colon) is not an AWS service in the "
         "current IAM catalogue, with the closest real prefixes.",
    why="IAM rejects the policy, or the statement silently grants nothing: the permission someone needed is "
        "missing, and a Deny written that way protects nothing.",
    example='"Action": "s4:GetObject"',
    fix="Use the service prefix from the Service Authorization Reference (`s3`, not `s4` or `S3-bucket`).",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s4:GetObject", '
                 '"Resource": "arn:aws:s3:::b/*"}]}', "IAM200")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "S3:getobject", '
                  '"Resource": "arn:aws:s3:::b/*"}]}')],
)
def unknown_service(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _hits(policy, context, "unknown-service")


@RULES.rule(
    "IAM201", "unknown-action", CATEGORY, Severity.HIGH, "Unknown action",
    what="Reports an action that the service does not have (letter case aside), with the closest real actions "
         "as suggestions.",
    why="The statement does not grant (or deny) what its author believes: a typo in an Allow breaks the "
        "integration, a typo in a Deny leaves a hole.",
    example='"Action": ["s3:ListObject"]',
    fix="Use an action from the suggestions or the Service Authorization Reference (listing a bucket's objects "
        "is `s3:ListBucket`).",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListObject", '
                 '"Resource": "arn:aws:s3:::b"}]}', "IAM201")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::b"}]}')],
)
def unknown_action(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _hits(policy, context, "unknown-action")


@RULES.rule(
    "IAM202", "wildcard-matches-nothing", CATEGORY, Severity.MEDIUM, "Wildcard that matches no action",
    what="Reports an action pattern with `*` or `?` that matches no action of the service in the current "
         "catalogue.",
    why="The pattern grants nothing; usually the verb is misspelt (`s3:Gett*`) or the service was renamed.",
    example='"Action": "s3:Gett*"',
    fix="Correct the pattern so that it matches the intended actions, or list them explicitly.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Gett*", '
                 '"Resource": "arn:aws:s3:::b/*"}]}', "IAM202")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObj?ct", '
                  '"Resource": "arn:aws:s3:::b/*"}]}')],
)
def wildcard_matches_nothing(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _hits(policy, context, "wildcard-matches-nothing")


@RULES.rule(
    "IAM203", "retired-action", CATEGORY, Severity.INFO, "Action AWS has retired",
    what="Reports an action (or service) that older IAM catalogues list and the current one no longer does.",
    why="Not a typo, and harmless in itself, but the permission does nothing today: the line can go, and if "
        "access still depends on it, the replacement action is missing.",
    example='"Action": "codestar:CreateProject"',
    fix="Remove the retired action, and add its replacement if the service documents one.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "codestar:ListProjects", '
                 '"Resource": "*"}]}', "IAM203")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                  '"Action": "codeconnections:ListConnections", "Resource": "*"}]}')],
)
def retired_action(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    return _hits(policy, context, "retired-action")
