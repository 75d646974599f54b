"""Conditions: keys that do not exist or do not apply, operators that do not fit, bad values and variables.

Keys come from two places: the global keys in ``rules/global-condition-keys.json``
(they apply to every action) and the service keys of the catalogue (they apply to
the actions, and the resource types of those actions, that list them). Keys of web
identity and SAML providers (``token.actions.githubusercontent.com:sub``,
``saml:aud``) are not in either and are never judged.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from auditor.catalog import Catalog
from auditor.checks._facts import is_every_action, run_cache, statement_actions
from auditor.checks._risk import is_negated
from auditor.engine import CheckContext
from auditor.knowledge_catalog import ConditionLanguage, load_condition_language
from auditor.model import Condition, Policy, PolicyKind, Severity, Statement, is_template_value
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()
CATEGORY = "condition-mismatch"
QUALIFIERS = ("ForAllValues", "ForAnyValue")
_TEMPLATE = re.compile(r"\$\{[^}]*\}|<[^<>]+>|(?<=/)tag-key\Z")
"""How the catalogue writes the variable part of a key: ``${TagKey}``, ``<key>``, ``.../tag-key``."""
_VARIABLE = re.compile(r"\$\{([^{}]*)\}")
_SPECIAL_VARIABLES = frozenset({"*", "?", "$"})
INCOMPLETE_ACTION_KEYS = frozenset({"aws-marketplace"})
"""Services whose actions' key lists are known to be incomplete (``aws-marketplace:Subscribe`` supports
``aws-marketplace:ProductId`` per the AWS Marketplace guide, the catalogue lists no key for it)."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    name: str
    """AWS spelling of the key, or of its template (``s3:ExistingObjectTag/${TagKey}``)."""
    type: str
    multivalued: bool
    is_global: bool
    policy_kinds: tuple[str, ...] | None = None
    operator_families: tuple[str, ...] | None = None


class ServiceKeys:
    """The service condition keys of the catalogue, by the prefix of the key itself, read per prefix on demand.

    A key is looked for in the services that list keys of its prefix (the catalogue's header indexes them):
    the service named by the prefix, and the few that list another service's keys beside their actions.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.exact: dict[str, dict[str, KeyInfo]] = {}
        self.templates: dict[str, list[tuple[tuple[str, ...], KeyInfo]]] = {}
        """Keys with a variable part, as the literal pieces around it (lower-case), by prefix."""
        self.used_by_actions: set[str] = set()
        """Normalised keys some action (or an action's resource type) lists; the others cannot be judged."""
        self._seen: set[str] = set()
        self._read: set[str] = set()
        self._read_prefixes: set[str] = set()

    def _read_service(self, service: str) -> None:
        if service in self._read:
            return
        self._read.add(service)
        catalog = self.catalog
        for info in catalog.service_condition_keys(service).values():
            self._add(info.key, info.type)
        for type_info in catalog.resource_types(service).values():
            self.used_by_actions.update(normal_key(k) for k in type_info.condition_keys)
        for key in catalog.keys_listed_by_actions(service):
            self._add(key, "String")
            self.used_by_actions.add(normal_key(key))

    def _read_prefix(self, prefix: str) -> None:
        """Read every service that lists a key of ``prefix`` (and the service the prefix names)."""
        if prefix in self._read_prefixes:
            return
        self._read_prefixes.add(prefix)
        self._read_service(prefix)
        for service in self.catalog.services_listing_keys(prefix):
            self._read_service(service)

    def _add(self, key: str, key_type: str) -> None:
        lowered = normal_key(key)
        if lowered in self._seen or ":" not in key:
            return
        self._seen.add(lowered)
        prefix = lowered.partition(":")[0]
        info = KeyInfo(key, key_type, key_type.startswith("ArrayOf"), False)
        if "${" in lowered:
            self.templates.setdefault(prefix, []).append((tuple(_TEMPLATE.split(lowered)), info))
        else:
            self.exact.setdefault(prefix, {})[lowered] = info

    def knows_prefix(self, prefix: str) -> bool:
        return bool(self.catalog.services_listing_keys(prefix))

    def find(self, key: str) -> KeyInfo | None:
        self._read_prefix(key.lower().partition(":")[0])
        return self._find(key)

    def _find(self, key: str) -> KeyInfo | None:
        lowered = key.lower()
        prefix = lowered.partition(":")[0]
        found = self.exact.get(prefix, {}).get(lowered)
        if found is not None:
            return found
        for pieces, info in self.templates.get(prefix, ()):
            if _template_regex(pieces).match(lowered):
                return info
        return None

    def listed_by_some_action(self, name: str) -> bool:
        self._read_prefix(name.partition(":")[0])
        return name in self.used_by_actions

    def suggest(self, key: str) -> list[str]:
        prefix = key.lower().partition(":")[0]
        names = {k: v.name for k, v in self.exact.get(prefix, {}).items()}
        picks = difflib.get_close_matches(key.lower(), list(names), n=3, cutoff=0.6)
        return [names[p] for p in picks]


@lru_cache(maxsize=4)
def service_keys(catalog: Catalog) -> ServiceKeys:
    return ServiceKeys(catalog)


@lru_cache(maxsize=4096)
def _template_regex(pieces: tuple[str, ...]) -> re.Pattern[str]:
    """A key template's literal pieces with a variable part (one character or more) between each two."""
    return re.compile(".+".join(re.escape(p) for p in pieces) + r"\Z", re.DOTALL)


def normal_key(key: str) -> str:
    """Lower-case key with every catalogue spelling of its variable part as ``${tagkey}``."""
    return _TEMPLATE.sub("${tagkey}", key).lower() if ("$" in key or "<" in key or "tag-key" in key) else key.lower()


def is_provider_key(key: str) -> bool:
    """Keys of identity providers (OIDC hosts, SAML): not in any catalogue."""
    prefix = key.partition(":")[0].lower()
    return "." in prefix or "/" in prefix or prefix == "saml"


@dataclass(frozen=True, slots=True)
class KeyVerdict:
    info: KeyInfo | None = None
    problem: str | None = None
    severity: Severity | None = None
    suggestions: tuple[str, ...] = ()


def judge_key(key: str, context: CheckContext) -> KeyVerdict:
    """What the key is, or why it is unknown; None info with no problem for provider keys. Memoised per run."""
    cache = run_cache(context, "condition_keys")
    verdict = cache.get(key.lower())
    if verdict is None:
        verdict = cache[key.lower()] = _judge_key(key, context)
    return verdict


def _judge_key(key: str, context: CheckContext) -> KeyVerdict:
    if is_provider_key(key):
        return KeyVerdict()
    language = load_condition_language()
    entry = language.global_key(key)
    if entry is not None:
        return KeyVerdict(KeyInfo(entry.key, entry.type, entry.multivalued, True, entry.policy_kinds,
                                  entry.operator_families))
    prefix, sep, name = key.partition(":")
    if not sep or not name:
        return KeyVerdict(problem=f"{key!r} is not a condition key of the form service:Key")
    known = service_keys(context.catalog)
    info = known.find(key)
    if info is not None:
        extra = language.service_key_families.get(key.lower())
        if extra:
            info = replace(info, operator_families=(language.families_for_type(info.type) or ()) + extra)
        return KeyVerdict(info)
    lowered = prefix.lower()
    if lowered == "aws":
        close = difflib.get_close_matches(key.lower(), list(language.exact_keys), n=3, cutoff=0.6)
        names = tuple(language.exact_keys[c].key for c in close)
        return KeyVerdict(problem=f"{key!r} is not a global condition key{_hint(names)}", suggestions=names)
    if not context.catalog.has_service(lowered) and not known.knows_prefix(lowered):
        if context.retired.is_retired_service(lowered):
            return KeyVerdict(problem=f"{key!r} belongs to {prefix!r}, a service AWS has retired",
                              severity=Severity.INFO)
        return KeyVerdict(problem=f"{key!r}: {prefix!r} is not an AWS service prefix")
    names = tuple(known.suggest(key))
    return KeyVerdict(problem=f"{key!r} is not a condition key of {context.catalog.service_name(lowered)}"
                              f"{_hint(names)}", suggestions=names)


def _hint(names: tuple[str, ...]) -> str:
    return f"; did you mean {' or '.join(repr(n) for n in names)}?" if names else ""


def _conditions(policy: Policy) -> Iterator[tuple[Statement, Condition]]:
    for statement in policy.statements:
        for condition in statement.conditions:
            yield statement, condition


def _operator(condition: Condition, language: ConditionLanguage) -> tuple[str, str] | None:
    """(AWS spelling, family) of the condition's base operator, None when unknown or badly qualified."""
    qualifier = condition.set_qualifier
    if qualifier is not None and qualifier.lower() not in {q.lower() for q in QUALIFIERS}:
        return None
    return language.operator(condition.base_operator)


def _key_pointer(condition: Condition) -> str:
    return condition.pointer


@RULES.rule(
    "IAM400", "unknown-condition-key", CATEGORY, Severity.HIGH, "Unknown condition key",
    what="Reports a condition key that is neither a global key (`aws:...`, tag keys such as `aws:RequestTag/Team`) "
         "nor a key of the service named by its prefix in the catalogue, with the closest real keys; a key of a "
         "service AWS has retired at info.",
    why="A key that does not exist is never in the request context: with a plain operator the condition is "
        "always false, so an Allow grants nothing and a Deny never applies; with `...IfExists` it is always true "
        "and the restriction the author meant is not there.",
    example='"Condition": {"StringEquals": {"aws:RequestedRegions": "eu-west-1"}}',
    fix="Use the key's exact name (`aws:RequestedRegion`); service keys are listed per service in the Service "
        "Authorization Reference.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:RunInstances", '
                 '"Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegions": "eu-west-1"}}}]}',
                 "IAM400"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lakeformation:GetDataAccess",'
                 ' "Resource": "*", "Condition": {"Null": {"lakeformation:GlueARN": "false"}}}]}', "IAM400")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:RunInstances", '
                  '"Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}, '
                  '"StringEquals": {"aws:RequestTag/team": "data", "ec2:InstanceType": "t3.micro"}}}]}'),
          # the key SNS writes into every new topic's default policy (undocumented, but honoured)
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, '
                  '"Action": "SNS:Publish", "Resource": "arn:aws:sns:us-east-1:111122223333:t", '
                  '"Condition": {"StringEquals": {"AWS:SourceOwner": "111122223333"}}}]}', kind=PolicyKind.RESOURCE)],
)
def unknown_condition_key(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement, condition in _conditions(policy):
        verdict = judge_key(condition.key, context)
        if verdict.problem is not None:
            yield Hit(verdict.problem, pointer=_key_pointer(condition), statement=statement,
                      severity=verdict.severity,
                      details={"key": condition.key, "operator": condition.operator_as_written,
                               "suggestions": list(verdict.suggestions)})


def _statement_keys(statement: Statement, context: CheckContext) -> frozenset[str] | None:
    """Lower-case service keys (templates as written in the catalogue) any action of the statement supports."""
    actions = statement_actions(statement, context)
    if actions is None or is_every_action(statement):
        return None
    cache = run_cache(context, "statement_keys")
    if actions in cache:
        cached: frozenset[str] = cache[actions]
        return cached
    per_action = run_cache(context, "action_keys")
    keys: set[str] = set()
    for action in actions:
        found = per_action.get(action)
        if found is None:
            found = per_action[action] = _action_keys(action, context.catalog)
        keys |= found
    result = frozenset(keys)
    cache[actions] = result
    return result


def _action_keys(action: str, catalog: Catalog) -> frozenset[str]:
    info = catalog.action(action)
    if info is None:
        return frozenset()
    keys = {normal_key(k) for k in info.condition_keys + info.resource_condition_keys}
    for name, _required in info.resource_types:
        resource = catalog.resource_type(info.service, name)
        if resource is not None:
            keys.update(normal_key(k) for k in resource.condition_keys)
    return frozenset(keys)


@RULES.rule(
    "IAM401", "condition-key-not-applicable", CATEGORY, Severity.MEDIUM,
    "Condition key no action of the statement uses",
    what="Reports a service condition key that none of the statement's actions (nor their resource types) "
         "supports according to the catalogue, and a global key that is never in the request context of this "
         "kind of policy (`aws:SourceArn` in a policy attached to a user or role). Statements with `NotAction`, "
         "`*` or an unknown action are not judged.",
    why="IAM only sets a key in the request context for the actions that support it. For the others the key is "
        "missing: a plain operator is always false (the Allow grants nothing, the Deny never applies), an "
        "`...IfExists` operator is always true (the restriction does nothing).",
    example='{"Action": "s3:GetObject", "Condition": {"StringEquals": {"s3:x-amz-acl": "private"}}}',
    fix="Move the condition to a statement whose actions support the key, or use the key those actions support "
        "(`s3:x-amz-acl` belongs to `s3:PutObject`, not `s3:GetObject`).",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"s3:x-amz-acl": "private"}}}]}',
                 "IAM401")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", '
                  '"s3:PutObject"], "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": '
                  '{"s3:x-amz-acl": "private", "aws:PrincipalTag/team": "data", "s3:ExistingObjectTag/x": "y"}}}]}')],
)
def condition_key_not_applicable(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement, condition in _conditions(policy):
        verdict = judge_key(condition.key, context)
        info = verdict.info
        if info is None:
            continue
        if info.is_global:
            # a VPC endpoint policy is evaluated for the requests through the endpoint, as a resource policy is
            kind = PolicyKind.RESOURCE.value if policy.kind is PolicyKind.ENDPOINT else policy.kind.value
            if info.policy_kinds is not None and kind not in info.policy_kinds:
                kinds = ", ".join(info.policy_kinds)
                if info.type == "Bool":  # aws:PrincipalIsAWSService: in every request, true only for a service's
                    if all(str(value).lower() == "false" for value in condition.values):
                        continue  # a test of the value the key always has here: always true, harmless
                    article = "an" if policy.kind.value[0] in "aeiou" else "a"
                    where = (f"is false in every request {article} {policy.kind.value} policy is evaluated for (it "
                             f"is true only for AWS services, which {kinds} policies admit)")
                else:
                    where = f"is only in the request context of {kinds} policies, never in {policy.kind.value} policies"
                yield Hit(f"{condition.key!r} {where}", pointer=_key_pointer(condition), statement=statement,
                          details={"key": condition.key, "policy_kinds": list(info.policy_kinds)})
            continue
        name = normal_key(info.name)
        known = service_keys(context.catalog)
        if name.partition(":")[0] in INCOMPLETE_ACTION_KEYS or not known.listed_by_some_action(name):
            continue  # no action lists the key at all: the catalogue is silent, not the statement wrong
        supported = _statement_keys(statement, context)
        if supported is None or name in supported:
            continue
        actions = list(statement.actions or ())
        shown = ", ".join(actions[:3]) + (f" and {len(actions) - 3} more" if len(actions) > 3 else "")
        yield Hit(f"{condition.key!r} is not supported by any action of the statement ({shown}): the key is never "
                  "in their request context", pointer=_key_pointer(condition), statement=statement,
                  details={"key": condition.key, "operator": condition.operator_as_written})


@RULES.rule(
    "IAM402", "operator-type-mismatch", CATEGORY, Severity.MEDIUM, "Operator does not fit the key's type",
    what="Reports a condition operator of another type than its key (a String operator on a Bool key, a Date "
         "operator on a String key), and a multivalued key (such as `events:detail-type`) used without "
         "`ForAnyValue:`/`ForAllValues:` (Access Analyzer's MISSING_QUALIFIER). `Null` fits every key; String "
         "operators also fit ARN keys.",
    why="IAM compares the values as the operator's type: a mismatch makes the condition always false or "
        "meaningless, so the statement does not do what it says. Without a set qualifier, a multivalued key is "
        "compared in a way that rarely matches what the author meant.",
    example='"Condition": {"StringEquals": {"aws:MultiFactorAuthPresent": "true"}}',
    fix="Use an operator of the key's type (`Bool` for `aws:MultiFactorAuthPresent`, `DateGreaterThan` for "
        "`aws:CurrentTime`), and `ForAnyValue:`/`ForAllValues:` for multivalued keys.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::b", "Condition": {"StringEquals": {"aws:ViaAWSService": "true"}}}]}',
                 "IAM402"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:PutRule", '
                 '"Resource": "*", "Condition": {"StringEquals": {"events:detail-type": "Scheduled Event"}}}]}',
                 "IAM402")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:PutRule", '
                  '"Resource": "*", "Condition": {"ForAllValues:StringEquals": {"events:detail-type": '
                  '"Scheduled Event"}, "Bool": {"aws:ViaAWSService": "false"}, "ArnLike": {"aws:PrincipalArn": '
                  '"arn:aws:iam::*:role/ops-*"}, "StringEquals": {"aws:PrincipalArn": '
                  '"arn:aws:iam::123456789012:role/ops"}}}]}')],
)
def operator_type_mismatch(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    language = load_condition_language()
    for statement, condition in _conditions(policy):
        operator = _operator(condition, language)
        info = judge_key(condition.key, context).info
        if operator is None or info is None:
            continue
        family = operator[1]
        if family == "Null":
            continue
        families = info.operator_families or language.families_for_type(info.type)
        if family == "Arn" and info.type in ("String", "ArrayOfString"):
            families = None  # ARNs kept in String keys (kms:EncryptionContext:aws:s3:arn); IAM compares them fine
        if families is not None and family not in families:
            yield Hit(f"{condition.operator} compares {family} values, but {condition.key!r} is of type "
                      f"{info.type} (use a {' or '.join(families)} operator)", pointer=_key_pointer(condition),
                      statement=statement, details={"key": condition.key, "operator": condition.operator,
                                                    "key_type": info.type, "operator_family": family})
        elif info.multivalued and condition.set_qualifier is None:
            yield Hit(f"{condition.key!r} has multiple values in a request: write ForAnyValue:{condition.operator} "
                      f"or ForAllValues:{condition.operator}", pointer=_key_pointer(condition), statement=statement,
                      details={"key": condition.key, "operator": condition.operator, "key_type": info.type,
                               "missing_qualifier": True})


def _is_variable(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


@RULES.rule(
    "IAM403", "bad-bool-or-null-value", CATEGORY, Severity.MEDIUM, "Bool or Null condition value other than true/false",
    what="Reports a value of a `Bool` or `Null` condition that is not `true` or `false` (as a JSON boolean or "
         "string).",
    why="IAM compares the value as written: `\"yes\"`, `\"1\"` or `\"enabled\"` never equal the request's "
        "`true`, so the condition is always false (Allow grants nothing, Deny never applies), or always true "
        "under a negation.",
    example='"Condition": {"Bool": {"aws:SecureTransport": "no"}}',
    fix='Write `"true"` or `"false"`. For `Null`, `"true"` means the key is absent, `"false"` that it is present.',
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*", '
                 '"Condition": {"Bool": {"aws:SecureTransport": "no"}}}]}', "IAM403"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:RunInstances", '
                 '"Resource": "*", "Condition": {"Null": {"aws:RequestTag/team": "yes"}}}]}', "IAM403")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*", '
                  '"Condition": {"Bool": {"aws:SecureTransport": false}, '
                  '"Null": {"aws:ResourceTag/team": "True"}}}]}')],
)
def bad_bool_or_null_value(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement, condition, spelling, _family, index, value in _literal_values(policy, ("Bool", "Null")):
        if isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")):
            continue
        yield Hit(f"{spelling} condition on {condition.key!r} has the value {value!r}; only true or false "
                  "can match", pointer=condition.value_pointer(index), statement=statement,
                  details={"key": condition.key, "operator": condition.operator, "value": value})


def _literal_values(policy: Policy, families: tuple[str, ...]
                    ) -> Iterator[tuple[Statement, Condition, str, str, int, Any]]:
    """(statement, condition, operator's AWS spelling, its family, index, value) of every condition value of
    operators of ``families``, less policy variables and template values (known only later)."""
    language = load_condition_language()
    for statement, condition in _conditions(policy):
        operator = _operator(condition, language)
        if operator is None or operator[1] not in families:
            continue
        for index, value in enumerate(condition.values):
            if not (_is_variable(value) or (isinstance(value, str) and is_template_value(value))):
                yield statement, condition, operator[0], operator[1], index, value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?\Z")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\Z")


def _real_date(text: str) -> bool:
    """Whether an ISO 8601 text names a day and time that exist (its form already checked)."""
    import datetime

    time_of_day = re.match(r"(\d{2}):(\d{2})(?::(\d{2}))?", text[11:])
    try:
        datetime.date.fromisoformat(text[:10])
        hours, minutes, seconds = (int(time_of_day[1]), int(time_of_day[2]), int(time_of_day[3] or 0)) \
            if time_of_day else (0, 0, 0)
        if (hours, minutes, seconds) != (24, 0, 0):  # ISO 8601's end of a day
            datetime.time(hours, minutes, min(seconds, 59))  # a leap second (23:59:60) exists too
    except ValueError:
        return False
    return True


def _value_problem(family: str, value: Any) -> str | None:
    """Why a Date, Numeric or IpAddress condition value can never match, or None."""
    if isinstance(value, bool):
        return f"a {family} condition cannot compare a boolean"
    text = str(value).strip()
    if family == "Numeric":
        return None if _NUMBER.match(text) else "is not a number"
    if family == "Date":
        if _NUMBER.match(text):  # epoch seconds
            return None
        if _ISO_DATE.match(text):
            return None if _real_date(text) else "is not a date of the calendar (a month above 12, a 31 April...)"
        return "is neither an ISO 8601 date and time (2026-01-31T00:00:00Z) nor epoch seconds"
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return "is not an IPv4 or IPv6 address or CIDR range (203.0.113.0/24)"
    return None


@RULES.rule(
    "IAM409", "bad-condition-value", CATEGORY, Severity.MEDIUM, "Date, number or IP condition value of a bad form",
    what="Reports a value of a `Date...`, `Numeric...` or `IpAddress`/`NotIpAddress` condition that is not a "
         "date (ISO 8601 or epoch seconds), a number, or an IP address or CIDR range. Template values and policy "
         "variables are not judged.",
    why="IAM cannot compare such a value with the request's, so the value matches no request: `IpAddress`, "
        "`DateLessThan`... then never hold (an Allow grants nothing, a time-boxed Deny is silently off) and the "
        "negated operators (`NotIpAddress`, `DateNotEquals`, `NumericNotEquals`) always hold (a network-fenced "
        "Deny refuses every caller, the office network too).",
    example='"Condition": {"DateLessThan": {"aws:CurrentTime": "end of June"}}',
    fix="Write `2026-06-30T23:59:59Z`, `3600`, `203.0.113.0/24`.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", '
                 '"Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/33"}}}]}', "IAM409"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", '
                 '"Condition": {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "one hour"}}}]}', "IAM409")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", '
                  '"Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}, '
                  '"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}, '
                  '"DateGreaterThan": {"aws:CurrentTime": "2026-06-30T23:59:59Z"}}}]}')],
)
def bad_condition_value(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement, condition, _spelling, family, index, value in _literal_values(policy, ("Date", "Numeric",
                                                                                         "IpAddress")):
        problem = _value_problem(family, value)
        if problem is not None:
            effect = ("so the value matches no request and the negated operator holds for every one"
                      if is_negated(condition) else "so the condition never holds")
            yield Hit(f"{condition.operator} condition on {condition.key!r}: {value!r} {problem}, {effect}",
                      pointer=condition.value_pointer(index), statement=statement,
                      details={"key": condition.key, "operator": condition.operator, "value": value})


@RULES.rule(
    "IAM404", "if-exists-with-null", CATEGORY, Severity.MEDIUM, "IfExists on the Null operator",
    what="Reports `NullIfExists` (or a set-qualified form of it).",
    why="`Null` already tests whether the key exists; IAM does not define `NullIfExists`, so the policy is "
        "rejected or the condition does not do what was meant.",
    example='"Condition": {"NullIfExists": {"aws:RequestTag/team": "false"}}',
    fix="Use `Null` alone.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:CreateTags", '
                 '"Resource": "*", "Condition": {"NullIfExists": {"aws:RequestTag/team": "false"}}}]}', "IAM404")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:CreateTags", '
                  '"Resource": "*", "Condition": {"Null": {"aws:RequestTag/team": "false"}}}]}')],
)
def if_exists_with_null(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    language = load_condition_language()
    for statement, condition in _conditions(policy):
        if not condition.if_exists:
            continue
        operator = _operator(condition, language)
        if operator is not None and operator[0].lower() in language.operators_without_if_exists:
            yield Hit(f"{condition.operator}: {operator[0]} has no IfExists form; use {operator[0]}",
                      pointer=_key_pointer(condition), statement=statement,
                      details={"operator": condition.operator})


@RULES.rule(
    "IAM405", "for-all-values-single-valued-key", CATEGORY, Severity.MEDIUM, "Set qualifier on a single-valued key",
    what="Reports `ForAllValues:` or `ForAnyValue:` on a key that has one value per request (`aws:SourceIp`, "
         "`aws:RequestedRegion`, `aws:PrincipalTag/...`). ForAllValues is reported at medium, ForAnyValue at low.",
    why="`ForAllValues` is true when the key is missing or empty, so in an Allow it grants the request also when "
        "the key is not there at all, which is rarely intended. On a single-valued key, `ForAnyValue` is just a "
        "confusing spelling of the plain operator.",
    example='"Condition": {"ForAllValues:StringEquals": {"aws:PrincipalTag/team": "data"}}',
    fix="Use the plain operator (`StringEquals`) for single-valued keys; keep set qualifiers for multivalued keys "
        "such as `aws:TagKeys` or `aws:CalledVia`.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": "arn:aws:s3:::b/*", "Condition": {"ForAllValues:StringEquals": '
                 '{"aws:PrincipalTag/team": "data"}}}]}', "IAM405"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
                 '"arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole", "Condition": '
                 '{"ForAllValues:StringEquals": {"sts:ExternalId": "Zq81kdP0x"}}}]}', "IAM405", "IAM031",
                 kind=PolicyKind.TRUST, note="a caller who sends no external id gets in")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:CreateTags", '
                  '"Resource": "*", "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}, '
                  '"StringEquals": {"aws:PrincipalTag/team": "data"}}}]}')],
)
def for_all_values_single_valued_key(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement, condition in _conditions(policy):
        qualifier = condition.set_qualifier
        if qualifier is None or qualifier.lower() not in ("forallvalues", "foranyvalue"):
            continue
        if not is_single_valued(condition.key, context):
            continue
        severity = Severity.LOW if qualifier.lower() == "foranyvalue" else None
        yield Hit(f"{qualifier}: on {condition.key!r}, which has a single value per request; use "
                  f"{condition.operator.partition(':')[2]}", pointer=_key_pointer(condition), statement=statement,
                  severity=severity, details={"key": condition.key, "operator": condition.operator})


def is_single_valued(key: str, context: CheckContext) -> bool:
    """Whether a request carries at most one value of the key, as far as iam-audit can tell: a global key of one
    value, a tag key, or one of the few service keys known to be so (the catalogue's types do not say reliably
    whether a service key is single-valued)."""
    info = judge_key(key, context).info
    return info is not None and not info.multivalued and (
        info.is_global or _is_tag_key(info.name) or info.name.lower() in _SINGLE_VALUED_SERVICE_KEYS)


_SINGLE_VALUED_SERVICE_KEYS = frozenset({"sts:externalid", "sts:rolesessionname", "sts:sourceidentity"})
"""Service keys known to carry one value per request (a role assumption has one external id, one session name)."""


def _is_tag_key(name: str) -> bool:
    return bool(re.search(r"(resource|request)tag/", name.lower()))


@RULES.rule(
    "IAM406", "string-like-on-arn-key", CATEGORY, Severity.MEDIUM, "StringLike on an ARN condition key",
    what="Reports `StringLike`/`StringNotLike` (also with `IfExists` or a set qualifier) on a key of type ARN, "
         "as Access Analyzer's STRING_LIKE_OPERATOR_WITH_ARN_CONDITION_KEYS security warning does. Low when it only "
         "makes the statement stricter (`StringLike` in a Deny, as AWS's own deny-root SCP writes it, or "
         "`StringNotLike` in an Allow).",
    why="`ArnLike` compares an ARN part by part, so a `*` stays inside its part; `StringLike` lets `*` run across "
        "the colons, so `arn:aws:iam::*:role/app` also matches ARNs of other partitions, services or shapes than "
        "the author had in mind, which widens an Allow or narrows a Deny.",
    example='"Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin*"}}',
    fix="Use `ArnLike`/`ArnNotLike` (or `ArnEquals`) for ARN keys.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:DeleteBucket", '
                 '"Resource": "*", "Condition": {"StringNotLike": {"aws:PrincipalArn": '
                 '"arn:aws:iam::*:role/admin*"}}}]}', "IAM406"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", '
                 '"Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}]}', "IAM406",
                 kind=PolicyKind.ORGANIZATION, note="low: AWS's deny-root SCP; the Deny only reaches further")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:DeleteBucket", '
                  '"Resource": "*", "Condition": {"ArnNotLike": {"aws:PrincipalArn": '
                  '"arn:aws:iam::*:role/admin*"}}}]}')],
)
def string_like_on_arn_key(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    language = load_condition_language()
    for statement, condition in _conditions(policy):
        operator = _operator(condition, language)
        if operator is None or operator[0] not in ("StringLike", "StringNotLike"):
            continue
        info = judge_key(condition.key, context).info
        if info is None or info.type not in ("ARN", "ArrayOfARN"):
            continue
        replacement = "ArnNotLike" if operator[0] == "StringNotLike" else "ArnLike"
        # a wildcard that runs across colons matches more: it widens an Allow (StringLike) or, through
        # StringNotLike, narrows a Deny; the other two make the statement stricter than written
        widens = (operator[0] == "StringLike") == statement.is_allow
        yield Hit(f"{condition.operator} on the ARN key {condition.key!r}: use {replacement}, which keeps each "
                  f"wildcard inside its ARN part{'' if widens else ' (here it only makes the statement stricter)'}",
                  pointer=_key_pointer(condition), statement=statement, severity=None if widens else Severity.LOW,
                  details={"key": condition.key, "operator": condition.operator})


EXACT_STRING_OPERATORS = ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase")


@RULES.rule(
    "IAM410", "wildcard-in-exact-match", CATEGORY, Severity.MEDIUM, "A wildcard in a value compared exactly",
    what="Reports a `*` in a value of `StringEquals`, `StringNotEquals` or their `IgnoreCase` forms: those "
         "operators compare the value as written, so the `*` matches only a `*` character: an `Allow` (a trust "
         "policy's `sub` of `repo:org/app:*`) that never applies, a `Deny` that applies to that one string only, "
         "a negated operator that holds for every request. A `${*}` variable (a literal `*`) is not reported, nor "
         "is a `?`, far more often a character of the value itself (a URL's query) than a wildcard.",
    why="`\"StringEquals\": {\"token.actions.githubusercontent.com:sub\": \"repo:org/app:*\"}` was meant to "
        "admit every branch of the repository; it admits no workflow at all, and `StringNotEquals` with a `*` "
        "lets every value through a Deny that was meant to keep them out.",
    example='"Condition": {"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:octo-org/app:*"}}',
    fix="Use `StringLike` (`StringNotLike`) for values with wildcards; write `${*}` for a literal `*`.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": '
                 '"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}, '
                 '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {'
                 '"token.actions.githubusercontent.com:aud": "sts.amazonaws.com", '
                 '"token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:*"}}}]}', "IAM410",
                 kind=PolicyKind.TRUST, note="no workflow's sub is that string: the role cannot be assumed")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": '
                  '"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}, '
                  '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {'
                  '"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, "StringLike": {'
                  '"token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:*"}}}]}',
                  kind=PolicyKind.TRUST)],
)
def wildcard_in_exact_match(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement, condition, spelling, _family, index, value in _literal_values(policy, ("String",)):
        if spelling not in EXACT_STRING_OPERATORS or not isinstance(value, str):
            continue
        if "*" not in value.replace("${*}", ""):  # a "?" is too common as itself (a URL's query) to mean a wildcard
            continue
        like = spelling.replace("Equals", "Like").replace("IgnoreCase", "")
        negated = is_negated(condition)
        if negated:
            effect = "every request's value differs from it, so the condition holds for all of them"
        elif statement.is_allow:
            effect = "no request's value is that string, so the statement never applies"
        else:
            effect = "the Deny applies only to that very string"
        yield Hit(f"{condition.operator} compares {value!r} as written: its * matches only the character itself "
                  f"({effect}); use {like}, or ${{*}} for a literal *", pointer=condition.value_pointer(index),
                  statement=statement, details={"key": condition.key, "operator": condition.operator, "value": value})


def _variable_problems(text: str, context: CheckContext) -> Iterator[tuple[str, str | None]]:
    """(problem, variable) for every bad policy variable in a string value."""
    if "${" not in text:
        return
    if text.count("${") > len(_VARIABLE.findall(text)):
        yield f"{text!r} has a '${{' without its closing '}}'", None
    for match in _VARIABLE.finditer(text):
        name = match.group(1).partition(",")[0].strip()
        if name in _SPECIAL_VARIABLES or ":" not in name or name.startswith("{"):
            continue  # ${*} ${?} ${$}; names without a service prefix are template placeholders (IAM907)
        verdict = judge_key(name, context)
        if verdict.problem is not None and verdict.severity is None:
            yield f"policy variable ${{{name}}} in {text!r}: {verdict.problem}", name


@RULES.rule(
    "IAM407", "bad-policy-variable", CATEGORY, Severity.MEDIUM, "Bad policy variable",
    what="Reports a policy variable in a `Resource`, `NotResource` or condition value that names no condition "
         "key (`${aws:usernme}`), or a `${` that is never closed. `${aws:username}`, tag variables such as "
         "`${aws:PrincipalTag/team}`, `${*}`, `${?}`, `${$}` and defaults (`${aws:username, 'none'}`) are fine; "
         "placeholders without a service prefix (`${AccountId}`) are left to the placeholder rule.",
    why="IAM replaces a variable with the key's value from the request. A key that does not exist has no value: "
        "the resource or condition then matches nothing, silently.",
    example='"Resource": "arn:aws:s3:::home/${aws:usernme}/*"',
    fix="Spell the key exactly as in the global condition keys (`${aws:username}`) and close every `${`.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": "arn:aws:s3:::home/${aws:usernme}/*"}]}', "IAM407"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": "arn:aws:s3:::home/${aws:username/*"}]}', "IAM407")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                  '"Resource": "arn:aws:s3:::home/${aws:username}/*", "Condition": {"StringEquals": '
                  '{"s3:ExistingObjectTag/owner": "${aws:PrincipalTag/team}"}}}]}')],
)
def bad_policy_variable(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in policy.statements:
        for element, values in (("Resource", statement.resources), ("NotResource", statement.not_resources)):
            for index, value in enumerate(values or ()):
                pointer = statement.element_pointer(element, index)
                for problem, name in _variable_problems(value, context):
                    yield Hit(problem, pointer=pointer, statement=statement,
                              details={"element": element, "value": value, "variable": name})
        for condition in statement.conditions:
            for index, value in enumerate(condition.values):
                if not isinstance(value, str):
                    continue
                for problem, name in _variable_problems(value, context):
                    yield Hit(problem, pointer=condition.value_pointer(index), statement=statement,
                              details={"element": f"Condition {condition.operator_as_written} {condition.key}",
                                       "value": value, "variable": name})


@RULES.rule(
    "IAM408", "unknown-operator", CATEGORY, Severity.HIGH, "Unknown condition operator",
    what="Reports a condition operator that IAM does not define (`StringEqual`, `ArnMatches`), a set "
         "qualifier other than `ForAllValues`/`ForAnyValue`, and an operator in another case than AWS's "
         "(`stringEquals`, `StringLikeIfexists`), which IAM rejects too; the other checks read such an operator as "
         "meant.",
    why="IAM rejects a policy with an unknown operator, so the deployment fails, or the tool that wrote the "
        "policy dropped the intended restriction.",
    example='"Condition": {"StringEqual": {"aws:RequestedRegion": "eu-west-1"}}',
    fix="Use one of the documented operators (`StringEquals`, `ArnLike`, `NumericLessThan`, ...).",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:RunInstances", '
                 '"Resource": "*", "Condition": {"StringEqual": {"aws:RequestedRegion": "eu-west-1"}}}]}',
                 "IAM408"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:CreateTags", '
                 '"Resource": "*", "Condition": {"ForEachValue:StringEquals": {"aws:TagKeys": "team"}}}]}',
                 "IAM408"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:RunInstances", '
                 '"Resource": "*", "Condition": {"stringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}]}',
                 "IAM408", note="IAM answers MalformedPolicyDocument: Invalid Condition type")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:RunInstances", '
                  '"Resource": "*", "Condition": {"StringEqualsIfExists": {"aws:RequestedRegion": "eu-west-1"}, '
                  '"ForAnyValue:StringLike": {"aws:TagKeys": "team*"}}}]}')],
)
def unknown_operator(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    language = load_condition_language()
    reported: set[str] = set()
    for statement, condition in _conditions(policy):
        pointer = condition.pointer.rsplit("/", 1)[0]
        if pointer in reported:
            continue
        if condition.written_operator:
            reported.add(pointer)
            yield Hit(f"{condition.written_operator!r} must be spelt {condition.operator!r}: IAM rejects operator "
                      "names in another case (the other checks read it as meant)", pointer=pointer,
                      statement=statement, details={"operator": condition.written_operator,
                                                    "spelling": condition.operator})
            continue
        if _operator(condition, language) is not None:
            continue
        reported.add(pointer)
        qualifier = condition.set_qualifier
        if qualifier is not None and qualifier.lower() not in {q.lower() for q in QUALIFIERS}:
            message = f"{qualifier!r} is not a set qualifier (ForAllValues or ForAnyValue)"
        else:
            close = difflib.get_close_matches(condition.base_operator, [n for n, _ in language.operators.values()],
                                              n=2, cutoff=0.6)
            message = f"{condition.operator!r} is not an IAM condition operator{_hint(tuple(close))}"
        yield Hit(message, pointer=pointer, statement=statement, details={"operator": condition.operator})
