"""Bring a parsed policy document into the normal form, recording every grammar problem.

This is the only place that reads raw policy JSON. It never raises on bad input: a
document of the wrong shape still becomes a :class:`Policy` (perhaps with no
statements) whose ``problems`` the malformed-family rules report.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from auditor.model import (
    IAM_ORGANIZATION_POLICY_TYPES,
    PARTITIONS,
    TEMPLATE_VALUE,
    Condition,
    Policy,
    PolicyKind,
    PrincipalRef,
    Problem,
    Statement,
    StoredVersion,
    Subject,
    is_template_value,
)
from auditor.source import Source, join_pointer

VALID_VERSIONS = ("2012-10-17", "2008-10-17")
DEFAULT_MAX_STATEMENTS = 10_000
TOP_LEVEL_ELEMENTS = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS = (
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
)
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_SID_IAM = re.compile(r"[A-Za-z0-9]*\Z")
_WHITESPACE = re.compile(r"\s+")

# Words that show a document means to be an IAM policy even when it fails the grammar.
POLICY_VOCABULARY = frozenset(STATEMENT_ELEMENTS + TOP_LEVEL_ELEMENTS)


def with_list_elements(statement: dict[str, Any], transform: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of a statement (as written) with ``transform`` applied to each element that takes a list of strings:
    ``Action``, ``NotAction``, ``Resource``, ``NotResource`` and each principal type's list."""
    found = dict(statement)
    for element in ("Action", "NotAction", "Resource", "NotResource"):
        if element in found:
            found[element] = transform(found[element])
    for element in ("Principal", "NotPrincipal"):
        if isinstance(found.get(element), dict):
            found[element] = {kind: transform(names) for kind, names in found[element].items()}
    return found


def looks_like_policy(document: Any) -> bool:
    """True when a JSON/YAML document tries to be a policy (possibly a broken one)."""
    if not isinstance(document, dict):
        return False
    if "Statement" in document:
        return True
    for key, value in document.items():  # in another case ("statement": [...]) a broken policy, not another file
        if not isinstance(key, str):
            continue
        if key.lower() == "version" and value in VALID_VERSIONS:
            return True
        if key.lower() == "statement" and isinstance(value, (list, dict)):
            return True
    keys = set(document)
    return len(keys & {"Effect", "Action", "NotAction", "Resource", "NotResource", "Principal"}) >= 2


def policy_size(document: Any) -> int:
    """Characters excluding whitespace, as IAM counts them for its size quotas."""
    import json

    try:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str)
    except (RecursionError, ValueError):  # deeper than the loaders allow, or an unprintable huge integer
        text = str(document)
    if text.isascii():
        # json.dumps escapes every ASCII control character, so a space is the only whitespace left
        return len(text) - text.count(" ")
    return len(text) - sum(len(m) for m in _WHITESPACE.findall(text))


_AWS_PRINCIPAL = re.compile(
    r"\A(?:\d{12}"  # an account
    r"|arn:(?P<partition>aws[a-z-]*):(?:iam::\d{12}:(?:root|user/.+|role/.+)"  # its root, a user, a role
    r"|sts::\d{12}:(?:assumed-role/.+/.+|federated-user/.+)"  # a session
    r"|iam::cloudfront:user/.+)"  # a CloudFront origin access identity
    r"|A(?:ID|RO)A[A-Z0-9]{12,})\Z")  # the unique id IAM shows for a user or role deleted since
"""What IAM accepts as an ``AWS`` principal, wildcards aside."""


class _Normalizer:
    def __init__(self, kind: PolicyKind, resource_implied: bool = False, container_unknown: bool = False,
                 exclusive: Callable[[int, int], bool] | None = None) -> None:
        self.kind = kind
        self.resource_implied = resource_implied
        self.container_unknown = container_unknown
        """A resource policy file alone: what it is attached to is not known (it may be an ECR repository's)."""
        self.exclusive = exclusive or _never_exclusive
        """Whether two statements (their indexes) are never deployed together: see ``normalize_policy``."""
        self.problems: list[Problem] = []

    def problem(self, rule: str, message: str, pointer: str, **details: Any) -> None:
        self.problems.append(Problem(rule, message, pointer, details))

    def string_list(self, value: Any, element: str, pointer: str) -> tuple[str, ...] | None:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list):
            if value and _all_strings(value):
                return tuple(value)
            items: list[str] = []
            for index, item in enumerate(value):
                if isinstance(item, str):
                    items.append(item)
                else:
                    self.problem(
                        "wrong-type",
                        f"{element} entries must be strings, found {type_name(item)}",
                        join_pointer(pointer, index),
                    )
            if not value:
                self.problem("wrong-type", f"{element} is an empty list: it matches nothing", pointer)
            return tuple(items)
        self.problem(
            "wrong-type", f"{element} must be a string or a list of strings, found {type_name(value)}", pointer
        )
        return ()

    def principals(self, value: Any, element: str, pointer: str) -> tuple[PrincipalRef, ...]:
        if value == "*":
            return (PrincipalRef("*", "*", pointer),)
        if isinstance(value, str):
            self.problem(
                "principal-element",
                f'{element} as a string must be "*"; name principals as {{"AWS": "{value}"}}',
                pointer,
            )
            return ()
        if not isinstance(value, dict):
            self.problem(
                "wrong-type", f"{element} must be \"*\" or an object, found {type_name(value)}", pointer
            )
            return ()
        refs: list[PrincipalRef] = []
        if not value:
            self.problem("principal-element", f"{element} is an empty object: it names no principal", pointer)
        for principal_type, names in value.items():
            type_pointer = join_pointer(pointer, principal_type)
            if principal_type not in PRINCIPAL_TYPES:
                self.problem(
                    "principal-element",
                    f"unknown principal type {principal_type!r}: expected one of {', '.join(PRINCIPAL_TYPES)}",
                    type_pointer,
                )
                continue
            self.string_list(names, f"{element}.{principal_type}", type_pointer)
            if isinstance(names, str):
                found = [PrincipalRef(principal_type, names, type_pointer)]
            elif isinstance(names, list):
                found = [PrincipalRef(principal_type, item, join_pointer(type_pointer, i))
                         for i, item in enumerate(names) if isinstance(item, str)]
            else:
                found = []
            for ref in found:
                written = TEMPLATE_VALUE.sub("", ref.value)  # a placeholder's text may hold a "?" (a conditional)
                wildcard = "*" in written or "?" in written
                if ref.type in ("AWS", "Service") and ref.value.strip() != "*" and wildcard:
                    self.problem(
                        "principal-element",
                        f"{element} {ref.type} {ref.value!r} has a wildcard: IAM takes \"*\" only as the whole "
                        "principal, never inside an ARN; name the principals, or use \"*\" with an "
                        "aws:PrincipalArn or aws:PrincipalAccount condition",
                        ref.pointer,
                    )
                elif ref.type == "AWS" and not wildcard and "{{" not in ref.value:
                    shape = _AWS_PRINCIPAL.match(ref.value)
                    if shape is None:
                        self.problem(
                            "principal-element",
                            f"{element} AWS {ref.value!r} is not an account id nor the ARN of an IAM or STS "
                            "principal with a 12-digit account: IAM rejects it (invalid principal); fill in the "
                            "account",
                            ref.pointer,
                        )
                    elif shape.group("partition") not in (None, *PARTITIONS):
                        self.problem(
                            "principal-element",
                            f"{element} AWS {ref.value!r}: {shape.group('partition')!r} is not an AWS partition "
                            f"({', '.join(sorted(PARTITIONS))}): IAM rejects it (invalid principal)",
                            ref.pointer,
                        )
            refs.extend(found)
        return tuple(refs)

    def conditions(self, value: Any, pointer: str) -> tuple[Condition, ...]:
        if not isinstance(value, dict):
            self.problem("bad-condition-block", f"Condition must be an object, found {type_name(value)}", pointer)
            return ()
        result: list[Condition] = []
        for operator, block in value.items():
            op_pointer = join_pointer(pointer, operator)
            if not isinstance(block, dict):
                self.problem(
                    "bad-condition-block",
                    f"condition operator {operator} must map condition keys to values, found {type_name(block)}",
                    op_pointer,
                )
                continue
            if not block:
                self.problem("bad-condition-block", f"condition operator {operator} has no keys", op_pointer)
            for key, raw in block.items():
                key_pointer = join_pointer(op_pointer, key)
                values = raw if isinstance(raw, list) else [raw]
                clean: list[Any] = []
                for index, item in enumerate(values):
                    if isinstance(item, (str, bool, int, float)) and item is not None:
                        clean.append(item)
                    else:
                        item_pointer = join_pointer(key_pointer, index) if isinstance(raw, list) else key_pointer
                        self.problem(
                            "bad-condition-block",
                            f"condition value for {key} must be a string, number or boolean, "
                            f"found {type_name(item)}",
                            item_pointer,
                        )
                if isinstance(raw, list) and not raw:
                    self.problem("bad-condition-block", f"condition key {key} has an empty list of values", key_pointer)
                spelled = _aws_spelling(operator)
                result.append(Condition(spelled, key, tuple(clean), key_pointer,
                                        operator if spelled != operator else ""))
        return tuple(result)

    def statement(self, raw: Any, index: int, pointer: str, sids: dict[str, list[int]]) -> Statement | None:
        if not isinstance(raw, dict):
            self.problem("wrong-type", f"a statement must be an object, found {type_name(raw)}", pointer)
            return None
        for key in raw:
            if key not in STATEMENT_ELEMENTS:
                hint = _case_hint(key, STATEMENT_ELEMENTS)
                self.problem("unknown-element", f"unknown statement element {key!r}{hint}", join_pointer(pointer, key))
        sid = self.sid(raw, index, pointer, sids)
        effect = self.effect(raw, pointer)
        actions, not_actions = self.actions(raw, pointer)
        resources, not_resources = self.resources(raw, pointer, actions)
        principals, not_principals = self.statement_principals(raw, pointer)
        conditions: tuple[Condition, ...] = ()
        if "Condition" in raw:
            conditions = self.conditions(raw["Condition"], join_pointer(pointer, "Condition"))
        return Statement(
            index=index,
            pointer=pointer,
            sid=sid or None,
            effect=effect,
            actions=actions,
            not_actions=not_actions,
            resources=resources,
            not_resources=not_resources,
            principals=principals,
            not_principals=not_principals,
            conditions=conditions,
        )

    def sid(self, raw: dict[str, Any], index: int, pointer: str, sids: dict[str, list[int]]) -> str | None:
        """The statement's Sid (None when it is not a string), recorded in ``sids`` to find duplicates."""
        sid = raw.get("Sid")
        if "Sid" in raw and not isinstance(sid, str):  # null too: IAM takes a Sid as a string only
            self.problem("wrong-type", f"Sid must be a string, found {type_name(sid)}", join_pointer(pointer, "Sid"))
            return None
        if sid:
            first = next((earlier for earlier in sids.get(sid, ()) if not self.exclusive(earlier, index)), None)
            if first is not None:
                self.problem(
                    "duplicate-sid",
                    f"Sid {sid!r} is already used by statement {first}; IAM requires unique Sids",
                    join_pointer(pointer, "Sid"),
                    sid=sid,
                    first=first,
                )
            sids.setdefault(sid, []).append(index)
            # a template value ({{var.sid}}) is decided when deployed: its braces are iam-audit's own
            written = TEMPLATE_VALUE.sub("", sid)
            if self.kind in (PolicyKind.IDENTITY, PolicyKind.TRUST) and not _SID_IAM.match(written):
                self.problem(
                    "bad-sid",
                    f"Sid {sid!r} has characters IAM does not accept in identity and trust policies "
                    "(letters and digits only)",
                    join_pointer(pointer, "Sid"),
                )
        return sid

    def effect(self, raw: dict[str, Any], pointer: str) -> str:
        """``Allow`` or ``Deny``; a missing or misspelt Effect is reported and taken as Allow (the worse case)."""
        effect = raw.get("Effect")
        if _is_template_effect(effect):
            return "Allow"  # decided when the template is deployed: the worst case (template_values lists it)
        if effect not in ("Allow", "Deny"):
            where = join_pointer(pointer, "Effect") if "Effect" in raw else pointer
            if effect is None:
                message = 'statement has no Effect: add "Effect": "Allow" or "Deny"'
            elif isinstance(effect, str) and effect.lower() in ("allow", "deny"):
                message = f'Effect {effect!r} must be spelt "{effect.capitalize()}"'
            else:
                message = f'Effect must be "Allow" or "Deny", found {_json_text(effect)}'
            self.problem("bad-effect", message, where)
        return effect if isinstance(effect, str) else "Allow"

    def actions(self, raw: dict[str, Any], pointer: str) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """(``Action``, ``NotAction``): the one the statement has, the other None."""
        if "Action" in raw and "NotAction" in raw:
            self.problem("action-element", "statement has both Action and NotAction; use one", pointer)
        elif "Action" not in raw and "NotAction" not in raw:
            self.problem("action-element", "statement has neither Action nor NotAction", pointer)
        actions = self.string_list(raw["Action"], "Action", f"{pointer}/Action") if "Action" in raw else None
        not_actions = (self.string_list(raw["NotAction"], "NotAction", f"{pointer}/NotAction")
                       if "NotAction" in raw else None)
        return actions, not_actions

    def resources(self, raw: dict[str, Any], pointer: str, actions: tuple[str, ...] | None
                  ) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """(``Resource``, ``NotResource``), each None when absent; whether the policy's kind wants one."""
        has_resource = "Resource" in raw or "NotResource" in raw
        if "Resource" in raw and "NotResource" in raw:
            self.problem("resource-element", "statement has both Resource and NotResource; use one", pointer)
        if self.kind is PolicyKind.TRUST:
            if has_resource:
                self.problem(
                    "resource-element",
                    "a role trust policy must not name a Resource: the role itself is the resource",
                    join_pointer(pointer, "Resource" if "Resource" in raw else "NotResource"),
                )
        elif not has_resource and not self.resource_implied and not (
                self.container_unknown and self.kind is PolicyKind.RESOURCE and actions
                and all(_is_ecr_action(a) for a in actions)):
            self.problem("resource-element", "statement has neither Resource nor NotResource", pointer)
        resources = self.string_list(raw["Resource"], "Resource", f"{pointer}/Resource") if "Resource" in raw else None
        not_resources = (self.string_list(raw["NotResource"], "NotResource", f"{pointer}/NotResource")
                         if "NotResource" in raw else None)
        return resources, not_resources

    def statement_principals(self, raw: dict[str, Any], pointer: str
                             ) -> tuple[tuple[PrincipalRef, ...] | None, tuple[PrincipalRef, ...] | None]:
        """(``Principal``, ``NotPrincipal``), each None when absent; whether the policy's kind allows them."""
        has_principal = "Principal" in raw or "NotPrincipal" in raw
        if "Principal" in raw and "NotPrincipal" in raw:
            self.problem("principal-element", "statement has both Principal and NotPrincipal; use one", pointer)
        if self.kind is PolicyKind.IDENTITY and has_principal:
            self.problem(
                "principal-element",
                "an identity policy must not name a Principal: it applies to the user, group or role it is "
                "attached to",
                join_pointer(pointer, "Principal" if "Principal" in raw else "NotPrincipal"),
            )
        elif self.kind in (PolicyKind.RESOURCE, PolicyKind.TRUST, PolicyKind.ENDPOINT) and not has_principal:
            article = "an" if self.kind is PolicyKind.ENDPOINT else "a"
            self.problem(
                "principal-element", f"{article} {self.kind.value} policy statement must name a Principal", pointer
            )
        if "NotPrincipal" in raw and self.kind in (PolicyKind.TRUST, PolicyKind.ORGANIZATION):
            self.problem(
                "principal-element",
                f"NotPrincipal cannot be used in a {self.kind.value} policy (only some resource policies accept it); "
                "use Principal with an aws:PrincipalArn condition",
                join_pointer(pointer, "NotPrincipal"),
            )
        principals = (self.principals(raw["Principal"], "Principal", join_pointer(pointer, "Principal"))
                      if "Principal" in raw else None)
        not_principals = (self.principals(raw["NotPrincipal"], "NotPrincipal", join_pointer(pointer, "NotPrincipal"))
                          if "NotPrincipal" in raw else None)
        return principals, not_principals


def _never_exclusive(first: int, second: int) -> bool:
    return False


_POLICY_VARIABLE = re.compile(r"\$\{[^}:]+:[^}]+\}")
"""``${aws:username}``, ``${aws:PrincipalTag/team}``; not a template's ``${AccountId}``."""


def _old_version_problem(normalizer: _Normalizer, statements: list[Statement], version: str, pointer: str,
                         details: dict[str, Any]) -> None:
    """A missing or 2008-10-17 Version: what it breaks depends on the policy variables the statements use."""
    used = [(statement, match.group(0)) for statement in statements
            for text in (*(statement.resources or ()), *(statement.not_resources or ()),
                         *(str(v) for c in statement.conditions for v in c.values))
            for match in _POLICY_VARIABLE.finditer(text)]
    if not used:
        normalizer.problem("bad-version", f"policy {version}, where policy variables are plain text; it uses none "
                           'yet: add "Version": "2012-10-17"', pointer, **details)
        return
    statement, variable = used[0]
    in_deny = any(st.effect == "Deny" for st, _ in used)
    normalizer.problem("bad-version", f"policy {version}, so {variable} in statement {statement.sid or statement.index}"
                       f' is plain text{": the Deny it scopes matches nothing" if in_deny else ""}; add "Version": '
                       '"2012-10-17"', pointer, **details, variables=sorted({v for _, v in used}), in_deny=in_deny)


@lru_cache(maxsize=1024)
def _aws_spelling(operator: str) -> str:
    """A condition operator as AWS spells it (``stringequals`` -> ``StringEquals``, ``forallvalues:stringlike``
    -> ``ForAllValues:StringLike``), for the checks to read the operator that was meant; IAM rejects other
    spellings (IAM408 reports them). An unknown operator stays as written."""
    from auditor.knowledge_catalog import load_condition_language

    qualifier, sep, rest = operator.rpartition(":")
    base = rest[: -len("IfExists")] if rest.lower().endswith("ifexists") else rest
    known = load_condition_language().operator(base)
    if known is None or (sep and qualifier.lower() not in _QUALIFIERS):
        return operator
    suffix = "IfExists" if len(rest) > len(base) else ""
    return (f"{_QUALIFIERS[qualifier.lower()]}:" if sep else "") + known[0] + suffix


_QUALIFIERS = {"forallvalues": "ForAllValues", "foranyvalue": "ForAnyValue"}


def organization_policy_problems(statements: Sequence[Statement], declared: str | None = None) -> list[Problem]:
    """A service control policy takes no ``Principal``; a resource control policy needs ``"Principal": "*"`` in
    every statement and only denies (AWS's own RCPFullAWSAccess is the one Allow). ``declared``: the type the
    template or configuration gives the policy; without one, statements with a Principal make it an RCP."""
    problems: list[Problem] = []
    controls = [statement for statement in statements if statement.principals is not None]
    others = [statement for statement in statements if statement.principals is None]
    if declared == IAM_ORGANIZATION_POLICY_TYPES[0]:
        problems.extend(Problem(
            "principal-element", "a service control policy (SERVICE_CONTROL_POLICY) takes no Principal: it applies "
            "to the principals of the accounts it is attached to; remove the Principal, or make the policy "
            "a RESOURCE_CONTROL_POLICY", statement.element_pointer("Principal")) for statement in controls)
        return problems
    if declared == IAM_ORGANIZATION_POLICY_TYPES[1]:
        problems.extend(Problem(
            "principal-element", 'a resource control policy (RESOURCE_CONTROL_POLICY) needs "Principal": "*" '
            "in every statement: add it, or make the policy a SERVICE_CONTROL_POLICY", statement.pointer)
            for statement in others)
    elif controls and others:
        first, other = others[0], controls[0]
        problems.append(Problem(
            "principal-element",
            f"statement {first.sid or first.index} has no Principal while statement {other.sid or other.index} has "
            'one: a service control policy takes no Principal, a resource control policy needs "Principal": "*" in '
            "every statement; split them into two policies",
            first.pointer))
    for statement in controls:
        principals = statement.principals or ()
        if not all(reference.type in ("*", "AWS") and reference.value == "*" for reference in principals):
            problems.append(Problem(
                "principal-element",
                'a resource control policy applies to every principal: its Principal must be "*"; name the '
                "principals it should spare in a condition (aws:PrincipalArn, aws:PrincipalAccount, "
                "aws:PrincipalOrgID)", statement.element_pointer("Principal")))
        elif statement.effect == "Allow" and not _allows_everything(statement):
            problems.append(Problem(
                "bad-effect",
                'a resource control policy can only Deny (its one Allow, "*" on "*", is AWS\'s RCPFullAWSAccess): '
                "what it does not deny stays as the resource's own policies decide",
                statement.element_pointer("Effect")))
    return problems


def with_organization_type(policy: Policy, declared: str) -> Policy:
    """The organization policy checked as the type its template or configuration declares, not as its statements
    suggest."""
    inferred = organization_policy_problems(policy.statements)
    kept = [problem for problem in policy.problems if problem not in inferred]
    return dataclasses.replace(policy, organization_type=declared,
                               problems=(*kept, *organization_policy_problems(policy.statements, declared)))


def _allows_everything(statement: Statement) -> bool:
    return (statement.actions == ("*",) and statement.resources == ("*",) and not statement.conditions
            and statement.not_actions is None and statement.not_resources is None)


def _is_ecr_action(action: str) -> bool:
    """An ECR repository policy leaves ``Resource`` out (the repository is the resource): a resource policy's
    statement of ECR actions alone is one."""
    return action.lower().startswith(("ecr:", "ecr-public:"))


def normalize_policy(
    document: Any,
    kind: PolicyKind,
    source: Source,
    pointer: str = "",
    subject: Subject | None = None,
    label: str | None = None,
    is_aws_managed: bool = False,
    max_statements: int = DEFAULT_MAX_STATEMENTS,
    resource_implied: bool = False,
    version_id: str | None = None,
    measure_size: bool = True,
    exclusive: Callable[[int, int], bool] | None = None,
) -> Policy:
    """``max_statements``: statements beyond it are not checked; a ``policy-size`` problem says so.
    ``resource_implied``: a resource policy whose statements may leave out ``Resource`` (an ECR repository's:
    the repository is the resource). ``exclusive``: whether the statements at two indexes of a template's
    Statement list are never deployed together (they come from two results of one conditional): the statements
    of both are checked, but they may have the same Sid."""
    normalizer = _Normalizer(kind, resource_implied, container_unknown=subject is None, exclusive=exclusive)
    statements: list[Statement] = []
    version = policy_id = None
    old_version: tuple[str, str, dict[str, Any]] | None = None
    if not isinstance(document, dict):
        normalizer.problem(
            "not-a-policy", f"a policy must be a JSON object, found {type_name(document)}", pointer
        )
    else:
        for key in document:
            if key not in TOP_LEVEL_ELEMENTS:
                hint = _case_hint(key, TOP_LEVEL_ELEMENTS)
                if key in STATEMENT_ELEMENTS and "Statement" not in document:
                    continue
                normalizer.problem(
                    "unknown-element", f"unknown policy element {key!r}{hint}", join_pointer(pointer, key)
                )
        raw_version = document.get("Version")
        if raw_version is None:
            old_version = ('has no Version, which IAM reads as "2008-10-17"', pointer, {"missing": True})
        elif raw_version not in VALID_VERSIONS:
            normalizer.problem(
                "bad-version",
                f'Version {as_written(raw_version)} is not a policy language version: use "2012-10-17"',
                join_pointer(pointer, "Version"),
            )
        else:
            version = raw_version
            if raw_version == "2008-10-17":
                old_version = ('has Version "2008-10-17"', join_pointer(pointer, "Version"), {"outdated": True})
        raw_id = document.get("Id")
        policy_id = raw_id if isinstance(raw_id, str) else None
        if "Statement" not in document:
            if any(key in document for key in ("Effect", "Action", "NotAction")):
                message = 'policy has no "Statement": wrap the statement as {"Version": ..., "Statement": [ ... ]}'
            else:
                message = "policy has no Statement element"
            normalizer.problem("not-a-policy", message, pointer)
        else:
            raw_statements = document["Statement"]
            statement_pointer = join_pointer(pointer, "Statement")
            if isinstance(raw_statements, dict):
                raw_list: list[tuple[Any, str]] = [(raw_statements, statement_pointer)]
            elif isinstance(raw_statements, list):
                raw_list = [(item, join_pointer(statement_pointer, i)) for i, item in enumerate(raw_statements)]
                if not raw_statements:
                    normalizer.problem("not-a-policy", "Statement is an empty list: the policy grants nothing",
                                       statement_pointer)
            else:
                normalizer.problem(
                    "wrong-type",
                    f"Statement must be an object or a list of objects, found {type_name(raw_statements)}",
                    statement_pointer,
                )
                raw_list = []
            if len(raw_list) > max_statements:
                normalizer.problem(
                    "policy-size",
                    f"policy has {len(raw_list):,} statements, over the limit of {max_statements:,} "
                    f"(--max-statements): statements after the first {max_statements:,} were not checked",
                    statement_pointer,
                    statements=len(raw_list),
                    limit=max_statements,
                )
                raw_list = raw_list[:max_statements]
            sids: dict[str, list[int]] = {}
            for index, (raw, item_pointer) in enumerate(raw_list):
                statement = normalizer.statement(raw, index, item_pointer, sids)
                if statement is not None:
                    statements.append(statement)
    if old_version is not None:
        _old_version_problem(normalizer, statements, *old_version)
    if kind is PolicyKind.ORGANIZATION:
        normalizer.problems.extend(organization_policy_problems(statements))
    return Policy(
        kind=kind,
        source=source,
        pointer=pointer,
        statements=tuple(statements),
        version=version,
        policy_id=policy_id,
        subject=subject,
        label=label,
        problems=tuple(normalizer.problems),
        size=policy_size(document) if measure_size else 0,
        is_aws_managed=is_aws_managed,
        version_id=version_id,
    )


def _all_strings(items: list[Any]) -> bool:
    try:
        "".join(items)  # raises TypeError at the first item that is not a str: the check at C speed
    except TypeError:
        return False
    return True


def _json_text(value: Any) -> str:
    """A value as JSON spells it (``true``, ``null``, ``"allow"``), for messages about the document."""
    import json

    try:
        return json.dumps(value, ensure_ascii=False)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]


def as_written(value: Any) -> str:
    """A value as JSON spells it (``true``, ``null``, ``"2012-10-17"``), for messages; else as Python does."""
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _case_hint(key: str, valid: tuple[str, ...]) -> str:
    for name in valid:
        if name.lower() == str(key).lower():
            return f" (element names are case-sensitive: did you mean {name!r}?)"
    return ""


def written_actions(document: Any) -> Iterator[tuple[int, str, Any]]:
    """(statement index, ``Action`` or ``NotAction``, item) of every action a raw policy document writes."""
    statements = document.get("Statement") if isinstance(document, dict) else None
    for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
        if not isinstance(statement, dict):
            continue
        for element in ("Action", "NotAction"):
            value = statement.get(element)
            for item in value if isinstance(value, list) else [value]:
                yield index, element, item


def template_values(document: Any) -> list[str]:
    """Where a template left an action (or part of one: ``iam:${var.verb}``) or an effect unknown (``Action: !Ref
    Actions``, ``effect = var.effect``), as
    "statement 0 Action {{Ref:Actions}}": the rest of the statement is checked, but not what those actions grant;
    a statement whose effect is unknown is checked as an Allow."""
    actions = [f"statement {index} {element} {item.strip()}" for index, element, item in written_actions(document)
               if isinstance(item, str) and TEMPLATE_VALUE.search(item)]  # "iam:{{var.verb}}" too
    statements = document.get("Statement") if isinstance(document, dict) else None
    effects = [f"statement {index} Effect {statement['Effect'].strip()} (checked as Allow)"
               for index, statement in enumerate(statements if isinstance(statements, list) else [statements])
               if isinstance(statement, dict) and _is_template_effect(statement.get("Effect"))]
    return actions + effects


def _is_template_effect(effect: Any) -> bool:
    return isinstance(effect, str) and is_template_value(effect)


def stored_version(policy: Policy, version: StoredVersion) -> Policy:
    """A stored version of the managed policy ``policy`` (an export's, not in effect) in normal form."""
    return normalize_policy(version.document, PolicyKind.IDENTITY, policy.source, version.pointer,
                            subject=policy.subject, label=policy.label, is_aws_managed=policy.is_aws_managed,
                            version_id=version.version_id, measure_size=False)  # no quota applies to it
