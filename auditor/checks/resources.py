"""Resources: ARNs that are malformed, and ARNs that no action of their statement can apply to.

An ARN is checked part by part (partition, service, region, account) and then as a
whole against the ARN formats of the service's resource types in the catalogue.
Wildcards (``*``, ``?``), IAM policy variables (``${aws:username}``) and the
``{{...}}`` placeholders of the CloudFormation loader stand for unknown text: they
can match anything and are never an error in themselves.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from auditor.catalog import ARN_VARIABLE, ActionInfo, Catalog
from auditor.checks._facts import OPAQUE_VALUE, has_wildcard, opaque, run_cache, statement_actions
from auditor.engine import CheckContext
from auditor.model import PARTITIONS, Policy, Severity, Statement
from auditor.permissions import matches_any_name, pattern_covers
from auditor.registry import Hit, RuleSet, example

RULES = RuleSet()
CATEGORY = "resource-mismatch"

_REGION = re.compile(r"[a-z]{2,5}(-[a-z]+)+-\d{1,2}\Z")
_ACCOUNT = re.compile(r"(\d{12}|aws)?\Z")


INCOMPLETE_ACTION_RESOURCES = frozenset({"apigateway", "aws-marketplace"})
"""Services whose actions' resource-type lists in the Service Authorization Reference are known to be incomplete
(API Gateway: the V1 and V2 pages share the prefix and `apigateway:GET` lists only V1 types; AWS Marketplace:
`TagResource` lists only DeploymentParameter). IAM301 cannot tell a mismatch from a gap there."""
INCOMPLETE_ARN_FORMATS = frozenset({"apigateway"})
"""Services whose ARN formats the catalogue lists only in part (API Gateway's tag and V2 paths): not checked."""
ACCOUNT_REQUIRED = frozenset({"iam", "sts"})
"""Services whose every ARN has an account (other services have AWS-owned resources without one:
``arn:aws:ssm:*::document/AWS-StartSSHSession``, ``arn:aws:ec2:*::image/*``)."""
EXTRA_ARN_FORMATS = (
    # AWS CloudFormation user guide, "AWS::Serverless transform" and hooks: ARNs IAM accepts that the Service
    # Authorization Reference does not list.
    ("cloudformation", "transform", "arn:${Partition}:cloudformation:${Region}:aws:transform/${TransformName}"),
    ("cloudformation", "type/hook", "arn:${Partition}:cloudformation:${Region}:${Account}:type/hook/${Type}"),
    ("cloudformation", "type/module", "arn:${Partition}:cloudformation:${Region}:${Account}:type/module/${Type}"),
)
ARN_SERVICE_ALIASES = {"codestar-connections": ("codeconnections",), "codeconnections": ("codestar-connections",)}
"""AWS renamed CodeStar Connections to CodeConnections (2024); each prefix's actions accept the other's ARNs."""


SLASH_FREE_NAME = "${BucketName}"
"""S3 bucket names are letters, digits, dots and hyphens."""


@dataclass(frozen=True, slots=True)
class ArnFormat:
    service: str
    """Catalogue prefix of the service that defines the resource type."""
    resource_type: str
    """Resource type name in AWS spelling (``key``, ``accesspoint``)."""
    text: str
    region: str
    account: str
    resource: str
    """Lower-case segments with every ``${Variable}`` as ``*``."""
    resource_prefix: str
    """The literal start of the resource part, before the first variable."""
    listed: bool = True
    """False for the formats this module adds: no action lists them, so IAM301 cannot judge them."""
    slash_free: bool = False
    """The resource part ends in a name that cannot hold a ``/`` (an S3 bucket name): an ARN with a literal ``/``
    there names something else (``arn:aws:s3:::bucket/*`` names objects, never the bucket)."""


def _glob_match(text: str, glob: str) -> bool:
    """Whether the literal text matches a pattern whose only wildcard is ``*`` (no regex to compile)."""
    parts = glob.split("*")
    if len(parts) == 1:
        return text == glob
    head, tail = parts[0], parts[-1]
    if len(text) < len(head) + len(tail) or not text.startswith(head) or not text.endswith(tail):
        return False
    position, end = len(head), len(text) - len(tail)
    for middle in parts[1:-1]:
        found = text.find(middle, position, end)
        if found < 0:
            return False
        position = found + len(middle)
    return True


class ArnIndex:
    """The catalogue's ARN formats, by the service part of the ARN (``s3`` of ``arn:aws:s3:::b``).

    Built lazily, one ARN service part (and one catalogue service) at a time, so that a run over a
    few policies reads only the services it meets.
    """

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._by_arn_service: dict[str, list[ArnFormat]] = {}
        self._types: dict[str, tuple[dict[str, ArnFormat], list[ArnFormat]]] = {}
        self._any_service: list[ArnFormat] | None = None
        self._extra: dict[str, list[tuple[str, str, str]]] = {}
        for service, name, text in EXTRA_ARN_FORMATS:
            self._extra.setdefault(service, []).append((f"?{name}", name, text))
        self._extra_parts = {text.split(":")[2] for _, _, text in EXTRA_ARN_FORMATS}

    def _service_formats(self, service: str) -> tuple[dict[str, ArnFormat], list[ArnFormat]]:
        """One catalogue service's formats: (type key -> its first format, every format)."""
        found = self._types.get(service)
        if found is not None:
            return found
        by_type: dict[str, ArnFormat] = {}
        every: list[ArnFormat] = []
        listed = [(key, info.name, info.arn_format) for key, info in self._catalog.resource_types(service).items()]
        for type_key, type_name, arn_format in listed + self._extra.get(service, []):
            for text in arn_format.split(", "):  # a few types list two formats
                parts = ARN_VARIABLE.sub("*", text).lower().split(":", 5)
                if len(parts) < 6 or parts[0] != "arn":
                    continue
                resource = parts[5]
                raw_resource = text.split(":", 5)[5]
                slash_free = raw_resource.endswith(SLASH_FREE_NAME) and raw_resource.count("${") == 1
                entry = ArnFormat(service, type_name, text, parts[3], parts[4], resource,
                                  resource.partition("*")[0], not type_key.startswith("?"), slash_free)
                by_type.setdefault(type_key.lower(), entry)
                every.append(entry)
        self._types[service] = (by_type, every)
        return by_type, every

    def _formats_of(self, service: str) -> list[ArnFormat]:
        return self._service_formats(service)[1]

    def formats(self, arn_service: str) -> list[ArnFormat]:
        cached = self._by_arn_service.get(arn_service)
        if cached is not None:
            return cached
        services = list(self._catalog.services_for_arn_service(arn_service))
        services += [s for s, extras in self._extra.items() if s not in services
                     and any(text.split(":")[2] == arn_service for _, _, text in extras)]
        formats = [f for service in services for f in self._formats_of(service)
                   if "*" not in f.text.split(":")[2] and "$" not in f.text.split(":")[2]
                   and f.text.split(":")[2].lower() == arn_service]
        self._by_arn_service[arn_service] = formats
        return formats

    @property
    def any_service(self) -> list[ArnFormat]:
        """Formats whose service part is a variable (``arn:${Partition}:${Vendor}:...``)."""
        if self._any_service is None:
            self._any_service = [f for service in self._catalog.services_for_arn_service("*")
                                 for f in self._formats_of(service)
                                 if "$" in f.text.split(":")[2] or "*" in f.text.split(":")[2]]
        return self._any_service

    def arn_services(self) -> list[str]:
        return sorted({p for p in self._catalog.arn_service_parts() if p != "*"} | self._extra_parts)

    def types(self, service: str) -> dict[str, ArnFormat]:
        """The service's resource types (lower-case key -> its first ARN format)."""
        return self._service_formats(service)[0]

    def has_type(self, service: str, type_key: str) -> bool:
        return type_key in self._service_formats(service)[0]

    def type_format(self, service: str, type_key: str) -> ArnFormat:
        """The (first) ARN format of a resource type that ``has_type`` knows."""
        return self._service_formats(service)[0][type_key]

    def path_style(self, arn_service: str) -> bool:
        return any(f.resource.startswith("/") for f in self.formats(arn_service))

    def knows_service(self, arn_service: str) -> bool:
        return bool(self.formats(arn_service))

    def matching(self, arn_service: str, region: str, account: str, resource: str, account_spans: bool = True
                 ) -> tuple[ArnFormat, ...]:
        """The formats that an ARN pattern (lower-case, variables as ``*``) can match, segment by segment; else,
        where the account ends in ``*``, those it matches with that ``*`` taking in a resource type
        (``arn:aws:secretsmanager:*:*:app!*``, see ``_spanning_matches``), unless ``account_spans`` is false (the
        ``*`` stands for a template value or policy variable: one account id when deployed). Inside the resource
        part a ``*`` spans anything.
        """
        formats = list(self.formats(arn_service))
        for alias in ARN_SERVICE_ALIASES.get(arn_service, ()):
            formats += self.formats(alias)
        found = self._matching(formats, region, account, resource)
        if not found and account_spans and account.endswith("*"):
            found = _spanning_matches(formats, region, account, resource)
        if found:
            return found
        # ``arn:${Partition}:${Vendor}:${Region}:*:${ResourceType}:${RecoveryPointId}`` (AWS Backup) names other
        # services' ARNs with a colon-separated resource part; a resource part without those colons is not one.
        colons = resource.count(":")
        if resource.startswith(":"):  # an empty segment ("arn:aws:kms:*:::*") begins no "type:id" resource part
            return ()
        return self._matching([f for f in self.any_service if f.resource.count(":") <= colons], region, account,
                              resource)

    @staticmethod
    def _matching(formats: list[ArnFormat], region: str, account: str, resource: str) -> tuple[ArnFormat, ...]:
        literal = not ("*" in resource or "?" in resource)
        head = re.split(r"[*?]", resource, maxsplit=1)[0]
        found = []
        for entry in formats:
            prefix = entry.resource_prefix
            if literal:
                if not (resource.startswith(prefix) and _glob_match(resource, entry.resource)):
                    continue
            elif not ((head.startswith(prefix) or prefix.startswith(head))
                      and globs_intersect(resource, entry.resource)):
                continue
            if entry.slash_free and resource.startswith(prefix) and "/" in resource[len(prefix):]:
                continue
            if _segment_fits(region, entry.region) and _segment_fits(account, entry.account):
                found.append(entry)
        return tuple(found)


def _spanning_matches(formats: list[ArnFormat], region: str, account: str, resource: str) -> tuple[ArnFormat, ...]:
    """The formats an ARN pattern whose account ends in ``*`` matches with that ``*`` running on past the colon
    over the resource type a format writes first (``secret:``, ``log-group:``, ``alarm:``): IAM lets a ``*`` that
    ends a segment match beyond the colons, so ``arn:aws:secretsmanager:*:*:app!*`` names the secrets ``app!...``."""
    found = []
    for entry in formats:
        resource_type, colon, rest = entry.resource.partition(":")
        if (colon and "*" not in resource_type and _segment_fits(region, entry.region)
                and globs_intersect(account, f"{entry.account}:{resource_type}")
                and _meets_names(resource, rest)):
            found.append(entry)
    return tuple(found)


def _meets_names(pattern: str, names: str) -> bool:
    """Whether some string matches both ``pattern`` (a ``*`` any run of characters) and ``names``, a format's
    resource part whose variables (``*``) each hold one name or id, with no colon: ``secrets:prod/*`` meets no
    secret's ``*``, as no secret's name has a colon."""
    return _search_both(pattern, names, right_takes=":")


def _segment_fits(value: str, pattern: str) -> bool:
    if pattern == "*" or value == "*":
        return True
    if "*" in value or "?" in value or "*" in pattern:
        return globs_intersect(value, pattern)
    return value == pattern


@lru_cache(maxsize=4)
def arn_index(catalog: Catalog) -> ArnIndex:
    return ArnIndex(catalog)


@lru_cache(maxsize=65536)
def globs_intersect(left: str, right: str) -> bool:
    """Whether some string matches both patterns (``*`` any run of characters, ``?`` one character)."""
    if left == "*" or right == "*":
        return True
    for one, other in ((left, right), (right, left)):
        if one.endswith("*") and not has_wildcard(one[:-1]):
            return _can_start_with(other, one[:-1])
    # Up to the first "*" of either side, and from the last, each character stands for exactly one character
    # of the string: compare those ends directly and search only between them.
    start = 0
    while start < len(left) and start < len(right) and left[start] != "*" and right[start] != "*":
        if not _chars_meet(left[start], right[start]):
            return False
        start += 1
    end = 0
    while end < len(left) - start and end < len(right) - start and left[-1 - end] != "*" and right[-1 - end] != "*":
        if not _chars_meet(left[-1 - end], right[-1 - end]):
            return False
        end += 1
    return _search_both(left[start:len(left) - end], right[start:len(right) - end])


def _search_both(left: str, right: str, right_takes: str = "") -> bool:
    """Whether some string matches both patterns, searched character by character; a ``*`` of ``right`` takes in
    none of the characters of ``right_takes``."""
    n, m = len(left), len(right)
    seen: set[tuple[int, int]] = set()
    pending = [(0, 0)]
    while pending:
        state = pending.pop()
        if state in seen:
            continue
        seen.add(state)
        i, j = state
        if i == n and j == m:
            return True
        if i < n and left[i] == "*":
            pending.append((i + 1, j))
            if j < m:
                pending.append((i, j + 1))
        elif j < m and right[j] == "*":
            pending.append((i, j + 1))
            if i < n and left[i] not in right_takes:
                pending.append((i + 1, j))
        elif i < n and j < m and _chars_meet(left[i], right[j]):
            pending.append((i + 1, j + 1))
    return False


def _chars_meet(one: str, other: str) -> bool:
    return one == other or one == "?" or other == "?"


def _can_start_with(glob: str, prefix: str) -> bool:
    """Whether some string the glob matches starts with the literal prefix.

    Up to the glob's first ``*`` the prefix must match character by character (``?`` matches any);
    from that ``*`` on, it can absorb whatever is left of the prefix.
    """
    head, star, _ = glob.partition("*")
    if len(prefix) > len(head) and not star:
        return False
    return all(wanted == "?" or wanted == char for wanted, char in zip(head, prefix, strict=False))


@dataclass(frozen=True, slots=True)
class ArnVerdict:
    problem: str | None = None
    severity: Severity | None = None
    formats: tuple[ArnFormat, ...] | None = None
    """The resource types the ARN can name; None when unknown (wildcard service, not checked)."""


def judge_arn(resource: str, context: CheckContext) -> ArnVerdict:
    """The verdict on one ``Resource``/``NotResource`` entry, memoised per run."""
    cache = run_cache(context, "arn_verdicts")
    verdict = cache.get(resource)
    if verdict is None:
        verdict = cache[resource] = _judge_arn(resource, context)
    return verdict


_RESOURCE_TYPE_WORD = re.compile(r"[a-z0-9-]+")


def _closest_formats(rest: str, formats: set[str], shown: int = 3) -> list[str]:
    """The ARN formats whose resource part looks most like ``rest`` (``function/*`` first shows
    ``...:function:${FunctionName}``), the resource type's name weighing most, then the whole resource part."""
    written = _RESOURCE_TYPE_WORD.search(rest)
    by_word = difflib.SequenceMatcher(None, "", written.group() if written else "")  # the written side analysed once
    by_text = difflib.SequenceMatcher(None, "", rest)
    resources = {text: text.split(":", 5)[-1].lower() for text in formats}

    def word_likeness(text: str) -> float:
        word = _RESOURCE_TYPE_WORD.search(resources[text])
        by_word.set_seq1(word.group() if word else "")
        return by_word.ratio()

    def text_likeness(text: str) -> float:
        by_text.set_seq1(resources[text])
        return by_text.ratio()

    words = {text: word_likeness(text) for text in formats}
    if len(words) > shown:  # only those that can be among the first by the type's name are compared whole
        least = sorted(words.values(), reverse=True)[shown - 1]
        words = {text: ratio for text, ratio in words.items() if ratio >= least}
    return sorted(words, key=lambda text: (-words[text], -text_likeness(text), text))[:shown]


def _judge_arn(resource: str, context: CheckContext) -> ArnVerdict:
    text = opaque(resource).lower()
    if not text:
        return ArnVerdict("an empty string is not an ARN or '*': the entry matches no resource")
    if not text.strip("*?"):
        return ArnVerdict()
    if not text.startswith("arn:"):
        if text[0] in "*?" or text.startswith("execute-api:/"):
            return ArnVerdict()  # execute-api:/stage/GET/path: API Gateway completes it in the API's resource policy
        return ArnVerdict(f"{resource!r} is not an ARN (arn:partition:service:region:account:resource) or '*'")
    parts = text.split(":", 5)
    if len(parts) < 6:
        if parts[-1] == "*":
            return ArnVerdict()  # arn:aws:s3:* and the like: the last wildcard stands for the rest
        return ArnVerdict(f"{resource!r} has {len(parts)} of the 6 colon-separated parts of an ARN "
                          "(arn:partition:service:region:account:resource)")
    _, partition, service, region, account, rest = parts
    if partition not in PARTITIONS and not has_wildcard(partition):
        return ArnVerdict(f"{resource!r}: {partition!r} is not an AWS partition (aws, aws-cn, aws-us-gov, ...)")
    if has_wildcard(service):
        return ArnVerdict()
    index = arn_index(context.catalog)
    if not context.catalog.has_service(service) and context.retired.is_retired_service(service):
        return ArnVerdict(f"{resource!r} names {service!r}, a service AWS has retired", Severity.INFO)
    if not index.knows_service(service):
        if context.catalog.has_service(service):
            return ArnVerdict()  # a service whose resource types carry other services' ARNs, or none
        if context.retired.is_retired_service(service):
            return ArnVerdict(f"{resource!r} names {service!r}, a service AWS has retired", Severity.INFO)
        close = difflib.get_close_matches(service, index.arn_services(), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return ArnVerdict(f"{resource!r}: {service!r} is not the service part of any AWS ARN{hint}")
    if region and not has_wildcard(region) and not _REGION.match(region):
        return ArnVerdict(f"{resource!r}: {region!r} is not an AWS Region code (like 'us-east-1')")
    if account and not has_wildcard(account) and not _ACCOUNT.match(account):
        return ArnVerdict(f"{resource!r}: {account!r} is not a 12-digit account id")
    if not account and service in ACCOUNT_REQUIRED:
        return ArnVerdict(f"{resource!r} has no account: every {service.upper()} ARN names one (a 12-digit id, or "
                          "'aws' for AWS managed policies), so the entry matches nothing")
    if service in INCOMPLETE_ARN_FORMATS:
        return ArnVerdict()
    written = _arn_parts(resource)
    formats = index.matching(service, region, account, rest,
                             account_spans=len(written) == 6 and written[4].endswith("*"))
    if not formats and rest.startswith("/") and index.path_style(service):
        return ArnVerdict()  # API-path ARNs (/workspaces, /templates): the catalogue lists only some paths
    if not formats:
        examples = _closest_formats(rest, {f.text for f in index.formats(service)})
        return ArnVerdict(f"{resource!r} matches no resource type of the {service!r} ARN formats "
                          f"(for instance {', '.join(examples)})", formats=())
    return ArnVerdict(formats=formats)


@RULES.rule(
    "IAM300", "malformed-arn", CATEGORY, Severity.MEDIUM, "Malformed ARN",
    what="Reports a `Resource` or `NotResource` entry that is not `*` and not a well-formed ARN: wrong number of "
         "parts, unknown partition, a service that has no ARNs, a Region or account that cannot be, or a resource "
         "part that fits none of the service's resource types in the catalogue. Wildcards, policy variables such "
         "as `${aws:username}` and unresolved template values are accepted wherever they stand, and a `*` that "
         "ends the account may run on past the colon, as IAM lets it (`arn:aws:secretsmanager:*:*:app!*` names "
         "secrets: the account's `*` takes in `111122223333:secret`). An entry of an "
         "Allow whose other resources are fine is reported at low; an ARN of a retired service at info.",
    why="IAM compares resource ARNs as strings: an ARN that names nothing that can exist matches no request. An "
        "Allow then grants nothing (the workload breaks), a Deny protects nothing.",
    example='"Resource": "arn:aws:s3::bucket-name/*"  (two colons where S3 needs three)',
    fix="Write the ARN in the format the Service Authorization Reference gives for the resource type, e.g. "
        "`arn:aws:s3:::bucket-name/*` for objects.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": "arn:aws:s3::bucket-name/*"}]}', "IAM300"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", '
                 '"Resource": "arn:aws:sqs:useast1:123456789012:jobs"}]}', "IAM300"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": ""}]}', "IAM300"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudformation:DescribeStacks"'
                 ', "Resource": "arn:aws:cloudformation:*:*:stack/app"}]}', "IAM300")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                  '"Resource": ["arn:aws:s3:::bucket-name/home/${aws:username}/*", '
                  '"arn:aws:s3:::{{Ref:DataBucket}}/*"]}]}'),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", '
                  '"Resource": "arn:aws:sqs:*:123456789012:jobs-?"}]}'),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
                  '["secretsmanager:GetSecretValue", "logs:GetLogEvents"], "Resource": '
                  '["arn:aws:secretsmanager:*:*:sqlworkbench!*", "arn:aws:logs:*:*:/aws-glue/*"]}]}')],
)
def malformed_arn(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in policy.statements:
        bad = []
        for element, values in (("Resource", statement.resources), ("NotResource", statement.not_resources)):
            for index, value in enumerate(values or ()):
                verdict = judge_arn(value, context)
                if verdict.problem is None:
                    continue
                if verdict.formats == () and _formats_unreliable(statement, context):
                    continue
                pointer = statement.element_pointer(element, index)
                bad.append((element, value, pointer, verdict))
        if not bad:
            continue
        entries = len(statement.resources or ()) + len(statement.not_resources or ())
        # In an Allow whose other resources work, a dead entry is clutter; alone, the statement grants nothing.
        downgrade = statement.is_allow and statement.resources is not None and len(bad) < entries
        for element, value, pointer, verdict in bad:
            severity = verdict.severity or (Severity.LOW if downgrade else None)
            yield Hit(verdict.problem or "", pointer=pointer, statement=statement, severity=severity,
                      details={"element": element, "resource": value})


def _formats_unreliable(statement: Statement, context: CheckContext) -> bool:
    """Whether the catalogue cannot tell which ARNs the statement's actions are asked for.

    True when an action is missing from the catalogue (its ARN formats may lag as well), or when every action
    takes only ``*`` there (the ARN such a request is matched against is not documented).
    """
    actions = statement_actions(statement, context)
    if actions is None:
        return statement.actions is not None
    return all(not (info := context.catalog.action(a)) or not info.resource_types for a in actions)


def _statement_resource_types(statement: Statement, context: CheckContext) -> frozenset[tuple[str, str]] | None:
    """(service, resource type) pairs any action of the statement takes; None when that cannot be known."""
    actions = statement_actions(statement, context)
    if actions is None:
        return None
    cache = run_cache(context, "statement_resource_types")
    key = actions
    if key in cache:
        cached: frozenset[tuple[str, str]] | None = cache[key]
        return cached
    pairs: set[tuple[str, str]] = set()
    result: frozenset[tuple[str, str]] | None = None
    for action in actions:
        types = action_resource_types(action, context)
        if types is None:
            break  # an action IAM evaluates against "*" alone, or a type without ARN format: anything may apply
        pairs |= types
    else:
        result = frozenset(pairs)
    cache[key] = result
    return result


def action_resource_types(action: str, context: CheckContext) -> frozenset[tuple[str, str]] | None:
    """(service, resource type) pairs the action can be asked for on; None when it may be asked for on anything
    (``*`` alone, a type without ARN format or whose ARNs may be any service's, an incompletely listed service).
    Memoised per run."""
    per_action = run_cache(context, "action_resource_types")
    types = per_action.get(action, _NOT_YET)
    if types is _NOT_YET:
        types = per_action[action] = _action_resource_types(action, context)
        if types is not None and any(_any_service(pair, context) for pair in types):
            types = per_action[action] = None
    found: frozenset[tuple[str, str]] | None = types
    return found


def resource_types_named(resource: str, context: CheckContext) -> frozenset[tuple[str, str]] | None:
    """(service, resource type) pairs of the ARNs a ``Resource`` pattern can match; None when that cannot be told
    (``*``, a wildcard service, a malformed ARN, a format the catalogue does not list)."""
    verdict = judge_arn(resource, context)
    if verdict.problem is not None or not verdict.formats or not all(f.listed for f in verdict.formats):
        return None
    return frozenset((f.service, f.resource_type.lower()) for f in verdict.formats)


_NOT_YET = object()


def _any_service(pair: tuple[str, str], context: CheckContext) -> bool:
    """A resource type whose ARNs may be any service's (backup's recoveryPoint is the ARN of the backed-up
    service's snapshot, image or backup: ``arn:${Partition}:${Vendor}:...``)."""
    return "${" in arn_index(context.catalog).type_format(*pair).text.split(":")[2]


def names_every_resource_of(action: str, resources: tuple[str, ...], context: CheckContext,
                            one_account: bool = False) -> bool:
    """Whether the ``Resource`` patterns match every ARN of each resource type the action requires (of one of
    the types it takes, when it requires none): every secret for ``secretsmanager:GetSecretValue``
    (``arn:aws:secretsmanager:*:*:secret:*``), every object of every bucket for ``s3:GetObject``
    (``arn:aws:s3:::*/*``). With ``one_account``, every ARN of one account or Region is enough
    (``arn:aws:secretsmanager:us-east-1:111122223333:secret:*``, ``{{AWS::AccountId}}`` for the account): all an
    identity policy reaches of the type, as ``aws:ResourceAccount`` naming the account is. Memoised per run."""
    cache = run_cache(context, "every_resource_of")
    key = (action, resources, one_account)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _names_every_resource_of(action, resources, context, one_account)
    return found


def _names_every_resource_of(action: str, resources: tuple[str, ...], context: CheckContext, one_account: bool
                             ) -> bool:
    pairs = _action_resource_types(action, context)
    info = context.catalog.action(action)
    if pairs is None or info is None:
        return False
    index = arn_index(context.catalog)

    def covered(type_key: str) -> bool:
        arn_format = index.type_format(info.service, type_key)
        return any(_pattern_covers_format(resource.lower(), arn_format, one_account) for resource in resources)

    return _takes_only(info, covered)


def _takes_only(info: ActionInfo, covered: Callable[[str], bool]) -> bool:
    """Whether ``covered`` holds for every resource type (lower-case key) the action requires, or for one of those
    it takes when it requires none: then the action can be asked for on nothing else."""
    required = [name.lower() for name, is_required in info.resource_types if is_required]
    if required:
        return all(covered(name) for name in required)
    return any(covered(name.lower()) for name, _ in info.resource_types)


def types_covered(pattern: str, context: CheckContext) -> frozenset[tuple[str, str]]:
    """(service, resource type) of every type each of whose ARNs the ``Resource`` pattern matches, in every account
    and Region or in the one it names (``arn:aws:s3:::*/*``: every object); memoised per run."""
    cache = run_cache(context, "types_covered")
    found: frozenset[tuple[str, str]] | None = cache.get(pattern)
    if found is None:
        lowered = pattern.lower()
        parts = lowered.split(":", 5)
        index = arn_index(context.catalog)
        if len(parts) < 6 or has_wildcard(parts[2]):
            found = frozenset()
        else:
            head = re.split(r"[*?$]", parts[5], maxsplit=1)[0]  # a format it covers starts with it: alarm:*
            found = frozenset(
                (service, type_key)
                for service in context.catalog.services_for_arn_service(parts[2])
                for type_key, arn_format in index.types(service).items()
                if arn_format.resource_prefix.startswith(head)
                and _pattern_covers_format(lowered, arn_format, one_account=True))
        cache[pattern] = found
    return found


def takes_only_covered(action: str, covered: frozenset[tuple[str, str]], context: CheckContext) -> bool:
    """Whether every resource type the action requires (one of those it takes, when it requires none) is among
    ``covered`` (see ``types_covered``): ``names_every_resource_of`` with ``one_account``, from the types."""
    if not covered or action_resource_types(action, context) is None:
        return False
    info = context.catalog.action(action)
    assert info is not None
    return _takes_only(info, lambda type_key: (info.service, type_key) in covered)


def can_name(pattern: str, arn_format: ArnFormat) -> bool:
    """Whether a ``Resource`` pattern (lower-case) matches some ARN of the format; true for ``*`` and for patterns
    with template values or policy variables, whose value is not known."""
    if pattern == "*" or "${" in pattern or "{{" in pattern:
        return True
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return len(parts) > 1 and parts[-1] == "*"  # arn:aws:ec2:* stands for the rest
    _, _, service, region, account, rest = parts
    wanted = arn_format.text.lower().split(":", 5)
    if len(wanted) < 6 or "$" in wanted[2]:
        return True
    return (_segment_fits(service, wanted[2]) and bool(ArnIndex._matching([arn_format], region, account, rest)))


_NON_EMPTY_PART = re.compile(r"(^|/)\?\*(?=/|\Z)")
"""``?*`` as a whole part of a resource path: one character or more, as every bucket, key or name has."""


_UNKNOWN_VALUE = "\x00"
"""What a policy variable or template value (``{{AWS::AccountId}}``, colons and all) becomes before an ARN is cut
into its parts."""


def _arn_parts(pattern: str) -> list[str]:
    """The colon-separated parts of an ARN pattern (at most six), each policy variable or template value in them
    ``_UNKNOWN_VALUE``."""
    return OPAQUE_VALUE.sub(_UNKNOWN_VALUE, pattern).split(":", 5)


def _pattern_covers_format(pattern: str, arn_format: ArnFormat, one_account: bool = False) -> bool:
    parts = _arn_parts(pattern)
    wanted = arn_format.text.lower().split(":", 5)
    if len(parts) < 6 and parts[-1] and not parts[-1].strip("*"):
        parts += ["*"] * (6 - len(parts))  # arn:aws:secretsmanager:*: the last wildcard stands for the rest
    if len(parts) < 6 or parts[0] != "arn" or len(wanted) < 6 or "$" in wanted[2]:
        return False
    _, _, service, region, account, rest = parts
    if _UNKNOWN_VALUE in rest:  # a policy variable or template value: one principal's, one stack's
        return False
    # every resource name and path part is non-empty: arn:aws:s3:::?* names every bucket, ?*/?* every object
    rest = "*" if matches_any_name(rest) else _NON_EMPTY_PART.sub(r"\1*", rest)
    one_region = one_account and _REGIONS.fullmatch(region) is not None
    one_account = one_account and _ONE_ACCOUNT.fullmatch(account) is not None
    return ((service == wanted[2] or not service.strip("*"))
            and _segment_covers(region, arn_format.region, one_region)
            and _segment_covers(account, arn_format.account, one_account)
            and pattern_covers(rest, arn_format.resource))


_REGIONS = re.compile(r"[a-z0-9*?-]+|\x00")
"""One Region, or a pattern of some (``us-*``), or a template value."""
_ONE_ACCOUNT = re.compile(r"\d{12}|\x00")
"""One account: its id, or a template value or policy variable."""


def _segment_covers(written: str, wanted: str, one_account: bool) -> bool:
    """Whether a Region or account part covers the format's; with ``one_account``, one Region or account, or some
    (written out, a pattern such as ``us-*``, a template value or policy variable such as ``{{AWS::AccountId}}``),
    does too."""
    if _UNKNOWN_VALUE in written:
        return one_account
    if pattern_covers(written, wanted):
        return True
    return one_account and bool(written)  # us-east-1, us-*, 111122223333


def _action_resource_types(action: str, context: CheckContext) -> frozenset[tuple[str, str]] | None:
    """(service, resource type) pairs the action takes; None when it may apply to anything (``*`` alone, a type
    without an ARN format, or a service whose catalogue entry lists too few)."""
    if action.partition(":")[0] in INCOMPLETE_ACTION_RESOURCES:
        return None
    info = context.catalog.action(action)
    if info is None or not info.resource_types:
        return None
    index = arn_index(context.catalog)
    pairs = set()
    for name, _required in info.resource_types:
        if not index.has_type(info.service, name.lower()):
            return None
        pairs.add((info.service, name.lower()))
    return frozenset(pairs)


@RULES.rule(
    "IAM301", "resource-type-mismatch", CATEGORY, Severity.MEDIUM, "No action of the statement applies to the resource",
    what="Reports a `Resource` ARN that no action of its statement can apply to: the ARN names a resource type "
         "(an S3 bucket, a KMS alias) that none of the actions takes, according to the catalogue. Only reported "
         "when every action of the statement is known; `NotAction` and `NotResource` statements are skipped. Low "
         "in an Allow whose other resources some action takes (the entry is clutter there; alone, the statement "
         "grants nothing).",
    why="IAM matches each request against the resource of that request. `s3:GetObject` is asked for an object "
        "(`arn:aws:s3:::b/key`), never for the bucket `arn:aws:s3:::b`; `kms:Decrypt` is asked for a key, never "
        "for an alias. The line looks like a grant but allows (or, in a Deny, blocks) nothing.",
    example='{"Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket-name"}',
    fix="Name the resource type the actions use (`arn:aws:s3:::bucket-name/*` for objects, the key ARN for "
        "`kms:Decrypt`; use `kms:RequestAlias` or `kms:ResourceAliases` conditions to select keys by alias), or "
        "move the entry to a statement whose actions take it.",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": "arn:aws:s3:::bucket-name"}]}', "IAM301"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                 '"Action": ["kms:Decrypt", "kms:GenerateDataKey"], '
                 '"Resource": "arn:aws:kms:${Region}:${AccountId}:alias/stackstate-integration"}]}', "IAM301"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                 '"Resource": "arn:aws:s3:::bucket-name/reports/*"}]}', "IAM301",
                 note="a bucket name has no '/': an ARN with one names objects, which s3:ListBucket does not take")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                  '"Action": ["s3:GetObject", "s3:ListBucket"], '
                  '"Resource": ["arn:aws:s3:::bucket-name", "arn:aws:s3:::bucket-name/*"]}]}'),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", '
                  '"Resource": "arn:aws:s3:::logs-*"}]}'),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
                  '"backup:SearchRecoveryPoint", "Resource": ["arn:aws:ec2:*::snapshot/*", '
                  '"arn:aws:backup:*:*:recovery-point:*"]}]}',
                  note="an EBS volume's recovery point is an EC2 snapshot (AWSBackupSearchOperatorAccess)"),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", '
                  '"Resource": "arn:aws:kms:*:123456789012:key/*", '
                  '"Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/app"}}}]}')],
)
def resource_type_mismatch(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in policy.statements:
        if not statement.resources or not statement.actions:
            continue
        taken: frozenset[tuple[str, str]] | None = None
        dead: list[tuple[int, str, tuple[ArnFormat, ...]]] = []
        for index, value in enumerate(statement.resources):
            named = resource_types_named(value, context)
            if named is None:
                continue
            if taken is None:
                taken = _statement_resource_types(statement, context)
                if taken is None:
                    break
            if not named & taken:
                dead.append((index, value, _likeliest(value, judge_arn(value, context).formats or ())))
        if not dead or taken is None:
            continue
        # In an Allow with other resources that work, a dead entry is clutter; alone, the statement grants nothing.
        severity = Severity.LOW if statement.is_allow and len(dead) < len(statement.resources) else None
        for index, value, formats in dead:
            pointer = statement.element_pointer("Resource", index)
            yield Hit(_mismatch_message(value, formats, taken, statement), pointer=pointer, statement=statement,
                      severity=severity,
                      details={"resource": value, "resource_types": sorted({f.resource_type for f in formats}),
                               "action_resource_types": sorted(f"{s}:{t}" for s, t in taken)})


def _mismatch_message(resource: str, formats: tuple[ArnFormat, ...], taken: frozenset[tuple[str, str]],
                      statement: Statement) -> str:
    named = sorted({f"{f.resource_type} ({f.service})" for f in formats})
    actions = list(statement.actions or ())
    shown = ", ".join(actions[:3]) + (f" and {len(actions) - 3} more" if len(actions) > 3 else "")
    wanted = sorted({f"{t} ({s})" for s, t in taken})
    needs = f"they take {', '.join(wanted[:4])}{' ...' if len(wanted) > 4 else ''}"
    return (f"{resource!r} is a resource of type {' or '.join(named[:3])}, which no action of the statement "
            f"({shown}) applies to: {needs}")


def _likeliest(resource: str, formats: tuple[ArnFormat, ...]) -> tuple[ArnFormat, ...]:
    """The formats a message names for ``resource``: where it leaves the Region or account empty, those that
    have none (``arn:aws:s3:::*`` is a bucket or object, not an access grant, whose ``${Region}`` a ``*`` stood
    for); and of one format listed by two services, the one of the service the ARN names (S3's bucket, not the
    copy in SSM's list)."""
    parts = resource.lower().split(":", 5)
    if len(parts) == 6:
        empty = [f for f in formats if (parts[3] or not f.region) and (parts[4] or not f.account)]
        formats = tuple(empty) or formats
    owned = {f.text for f in formats if f.service == f.text.split(":")[2].lower()}
    return tuple(f for f in formats if f.text not in owned or f.service == f.text.split(":")[2].lower())


@RULES.rule(
    "IAM302", "deny-misses-action", CATEGORY, Severity.LOW, "A Deny that cannot apply to an action it names",
    what="Reports an action written out in a `Deny` statement that none of the statement's resources can be asked "
         "for on, while the Deny applies to others of its actions: an action that accepts only `*` "
         "(`s3:PutAccountPublicAccessBlock`) beside ARNs, or one whose resource types (an object for "
         "`s3:PutObject`) no ARN of the statement names (a bucket). Only actions written without wildcards (`s3:*` "
         "on a bucket means the bucket's actions); where no action of the statement applies, IAM301 reports the "
         "resources instead. Low: another action of the statement may still guard the resource (a Deny of "
         "`tag:TagResources` beside `glue:TagResource` on a session blocks tagging it through `glue:TagResource`).",
    why="IAM matches each request against the resource it is asked for on. The Deny looks like a guardrail for "
        "the action but never matches its requests, so whatever an Allow grants of it stays granted.",
    example='{"Effect": "Deny", "Action": ["s3:DeleteBucket", "s3:PutAccountPublicAccessBlock"], '
            '"Resource": "arn:aws:s3:::prod-data"}',
    fix='Move the action to a Deny on the resources it takes (`"Resource": "*"` for an action that accepts only '
        "`*`; the object ARN `arn:aws:s3:::bucket/*` for object actions).",
    bad=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["s3:DeleteBucket", '
                 '"s3:PutAccountPublicAccessBlock"], "Resource": "arn:aws:s3:::prod-data"}]}', "IAM302"),
         example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["s3:DeleteBucket", '
                 '"s3:DeleteObject"], "Resource": "arn:aws:s3:::prod-data"}]}', "IAM302",
                 note="objects are arn:aws:s3:::prod-data/KEY: the bucket's ARN names none")],
    good=[example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["s3:DeleteBucket", '
                  '"s3:DeleteObject"], "Resource": ["arn:aws:s3:::prod-data", "arn:aws:s3:::prod-data/*"]}]}'),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", '
                  '"Resource": "arn:aws:s3:::prod-data"}]}', note="a wildcard means the actions that apply"),
          example('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": '
                  '"s3:PutAccountPublicAccessBlock", "Resource": "*"}]}')],
)
def deny_misses_action(policy: Policy, context: CheckContext) -> Iterator[Hit]:
    for statement in policy.statements:
        if statement.effect != "Deny" or not statement.actions or not statement.resources:
            continue
        named = [resource_types_named(value, context) for value in statement.resources]
        missed, applies = _actions_a_deny_misses(statement, named, context)
        if not missed or not applies:
            continue
        for index, action in missed:
            info = context.catalog.action(action.lower())
            assert info is not None
            if info.accepts_only_star:
                why = "it accepts only \"*\""
            else:
                wanted = sorted({t for _, t in action_resource_types(action.lower(), context) or ()})
                why = f"it takes {', '.join(wanted[:4])}{' ...' if len(wanted) > 4 else ''}, which no resource of " \
                      "the statement names"
            yield Hit(f"the Deny does not apply to {action}: {why}, so what an Allow grants of it stays granted",
                      pointer=statement.element_pointer("Action", index), statement=statement,
                      details={"action": action, "resources": list(statement.resources)})


def _actions_a_deny_misses(statement: Statement, named: list[frozenset[tuple[str, str]] | None],
                           context: CheckContext) -> tuple[list[tuple[int, str]], bool]:
    """(index, action) of each action written out that no resource of the statement can be asked for on, and
    whether some action of the statement does apply; nothing when a resource's types cannot be told."""
    every_wildcard = any(not value.rpartition(":")[2].strip("*?") or not value.startswith("arn:")
                         for value in statement.resources or ())
    missed: list[tuple[int, str]] = []
    applies = False
    for index, action in enumerate(statement.actions or ()):
        info = context.catalog.action(action.lower()) if not has_wildcard(action) else None
        if info is None:
            applies = True  # a wildcard or an action the unknown-action rules report: taken as applying
            continue
        if info.accepts_only_star:
            if every_wildcard:
                applies = True
            else:
                missed.append((index, action))
            continue
        types = action_resource_types(action.lower(), context)
        if types is None or any(pairs is None or pairs & types for pairs in named):
            applies = True
        else:
            missed.append((index, action))
    return missed, applies
