"""Risk knowledge kept as reviewable data in ``rules/``: escalation paths, sensitive actions, controls.

The YAML files are validated here for shape only (keys, types, allowed values, unique ids), so that a
bad edit fails with the file and entry it is in. Whether the actions exist in the IAM catalogue is
checked by the tests against the current catalogue, not at load time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.model import ACCOUNT, Severity

TARGETS = frozenset(
    {
        "none",
        "existing-role",
        "existing-user",
        "existing-group",
        "existing-policy",
        "existing-function",
        "existing-stack",
        "existing-stack-set",
        "existing-instance",
        "existing-launch-template",
        "existing-notebook",
        "existing-dev-endpoint",
        "existing-glue-job",
        "existing-project",
        "existing-task",
        "existing-service",
        "existing-job-definition",
        "existing-environment",
        "existing-code-interpreter",
    }
)
"""What must already exist for a path to work (the resource taken over, or the role to pass)."""

SENSITIVE_CATEGORIES = ("credentials-exposure", "data-access", "resource-exposure")

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
_RULE_ID = re.compile(r"^IAM\d{3}$")

_PATH_KEYS = frozenset(
    {
        "id",
        "title",
        "requires",
        "any_of",
        "target",
        "resource_sensitive",
        "reaches",
        "principals",
        "impact",
        "reference",
        "source",
        "known_as",
    }
)
_PATH_REQUIRED = _PATH_KEYS - {"any_of", "known_as", "reaches", "principals"}
PRINCIPAL_KINDS = ("user", "role")
_CONTROL_KEYS = frozenset({"id", "framework", "version", "title", "scope", "rules", "gap", "reference"})
_CONTROL_REQUIRED = _CONTROL_KEYS - {"gap"}


class KnowledgeError(ValueError):
    """A file in ``rules/`` does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class EscalationPath:
    """One privilege-escalation method: the actions it needs and what it yields."""

    id: str
    title: str
    requires: tuple[str, ...]
    any_of: tuple[tuple[str, ...], ...]
    target: str
    resource_sensitive: tuple[tuple[str, str], ...]
    impact: str
    reference: str
    source: str
    known_as: tuple[str, ...]
    origin: Path
    reaches: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    """(action, resource type, names): a grant of the action serves the path only where its resources can name one
    of these resources of that type (``ssm:SendCommand`` runs what its document says: only a few AWS documents run
    the commands the caller gives)."""
    principals: tuple[str, ...] = ()
    """The kinds of principal (``user``, ``role``) the path raises; empty: both. A role belongs to no group, so
    changing a group's policies or members raises a user only."""

    @property
    def actions(self) -> frozenset[str]:
        """Every action the path names, lower-cased."""
        named = [*self.requires, *(action for group in self.any_of for action in group)]
        return frozenset(action.lower() for action in named)

    def resource_type_for(self, action: str) -> str | None:
        """The resource type whose ARN decides exploitability for ``action``, if that action is sensitive."""
        wanted = action.lower()
        return next((rtype for name, rtype in self.resource_sensitive if name.lower() == wanted), None)

    def is_enabled_by(self, allows: Callable[[str], bool]) -> bool:
        """True when ``allows`` grants every required action and, if there are alternatives, one whole group.

        ``allows`` receives each action as written in the YAML (AWS spelling); match it case-insensitively.
        """
        if not all(allows(action) for action in self.requires):
            return False
        return not self.any_of or any(all(allows(action) for action in group) for group in self.any_of)


@dataclass(frozen=True, slots=True)
class SensitiveAction:
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class SensitiveActions:
    """The three lists of ``rules/sensitive.yaml``; an action belongs to at most one."""

    credentials_exposure: tuple[SensitiveAction, ...]
    data_access: tuple[SensitiveAction, ...]
    resource_exposure: tuple[SensitiveAction, ...]

    def by_category(self) -> dict[str, tuple[SensitiveAction, ...]]:
        return {
            "credentials-exposure": self.credentials_exposure,
            "data-access": self.data_access,
            "resource-exposure": self.resource_exposure,
        }

    def category_of(self, action: str) -> str | None:
        """The category (``credentials-exposure``...) of an action named exactly, case-insensitively."""
        wanted = action.lower()
        for category, entries in self.by_category().items():
            if any(entry.action.lower() == wanted for entry in entries):
                return category
        return None


@dataclass(frozen=True, slots=True)
class Control:
    """A compliance control and the rule ids whose findings evidence a failure of it."""

    id: str
    framework: str
    version: str
    title: str
    scope: str
    rules: tuple[str, ...]
    gap: str | None
    reference: str

    @property
    def key(self) -> str:
        """Unique across frameworks and versions, e.g. ``cis-aws-foundations/3.0.0/1.16``."""
        return f"{self.framework}/{self.version}/{self.id}"


def rules_dir() -> Path:
    """``rules/`` inside the installed package, or beside the package in a source checkout."""
    package = Path(__file__).resolve().parent
    inside = package / "rules"
    return inside if inside.is_dir() else package.parent / "rules"


def load_escalation_paths(extra_dirs: Iterable[Path | str] = ()) -> tuple[EscalationPath, ...]:
    """The bundled paths plus those in ``*.yaml`` or ``*.yml`` files (any case, as the loaders read names) of
    ``extra_dirs``; ids must be unique across all. A folder that does not exist, or a file that is not a valid list
    of paths, is a :class:`KnowledgeError`."""
    directories = [rules_dir() / "escalation", *(Path(d) for d in extra_dirs)]
    paths: list[EscalationPath] = []
    seen: dict[str, Path] = {}
    for directory in directories:
        if not directory.exists():
            raise KnowledgeError(f"{directory}: no such folder of escalation paths")
        if not directory.is_dir():
            raise KnowledgeError(f"{directory}: not a folder of escalation paths (*.yaml files)")
        try:
            files = sorted(file for file in directory.iterdir() if file.suffix.lower() in (".yaml", ".yml"))
        except OSError as error:
            raise KnowledgeError(f"{directory}: cannot read: {error.strerror or error}") from error
        for file in files:
            for path in _parse_paths(file):
                if path.id in seen:
                    raise KnowledgeError(f"{file}: path id {path.id!r} already defined in {seen[path.id]}")
                seen[path.id] = file
                paths.append(path)
    return tuple(paths)


@lru_cache(maxsize=1)
def load_sensitive() -> SensitiveActions:
    file = rules_dir() / "sensitive.yaml"
    data = _read_yaml(file)
    if not isinstance(data, dict) or set(data) != set(SENSITIVE_CATEGORIES):
        raise KnowledgeError(f"{file}: expected exactly the keys {', '.join(SENSITIVE_CATEGORIES)}")
    lists: dict[str, tuple[SensitiveAction, ...]] = {}
    first_seen: dict[str, str] = {}
    for category in SENSITIVE_CATEGORIES:
        entries = data[category]
        if not isinstance(entries, list) or not entries:
            raise KnowledgeError(f"{file}: {category} must be a non-empty list")
        parsed = []
        for index, entry in enumerate(entries):
            where = f"{file}: {category}[{index}]"
            if not isinstance(entry, dict) or set(entry) != {"action", "reason"}:
                raise KnowledgeError(f"{where}: expected the keys action and reason")
            action = _action(entry["action"], where)
            reason = _text(entry["reason"], f"{where}.reason")
            if action.lower() in first_seen:
                raise KnowledgeError(
                    f"{where}: {action} is already listed under {first_seen[action.lower()]}"
                )
            first_seen[action.lower()] = category
            parsed.append(SensitiveAction(action, reason))
        lists[category] = tuple(parsed)
    return SensitiveActions(
        credentials_exposure=lists["credentials-exposure"],
        data_access=lists["data-access"],
        resource_exposure=lists["resource-exposure"],
    )


@lru_cache(maxsize=1)
def load_controls() -> tuple[Control, ...]:
    file = rules_dir() / "controls.yaml"
    data = _read_yaml(file)
    if not isinstance(data, list):
        raise KnowledgeError(f"{file}: expected a list of controls")
    controls: list[Control] = []
    seen: set[str] = set()
    for index, entry in enumerate(data):
        where = f"{file}: control [{index}]"
        _check_keys(entry, _CONTROL_KEYS, _CONTROL_REQUIRED, where)
        rules = _string_list(entry["rules"], f"{where}.rules")
        bad = [rule for rule in rules if not _RULE_ID.match(rule)]
        if bad:
            raise KnowledgeError(f"{where}: rule ids must look like IAM012, got {', '.join(bad)}")
        gap = entry.get("gap")
        if not rules and gap is None:
            raise KnowledgeError(f"{where}: a control with no rules must say why in 'gap'")
        control = Control(
            id=_text(entry["id"], f"{where}.id"),
            framework=_text(entry["framework"], f"{where}.framework"),
            version=_text(entry["version"], f"{where}.version"),
            title=_text(entry["title"], f"{where}.title"),
            scope=_text(entry["scope"], f"{where}.scope"),
            rules=rules,
            gap=None if gap is None else _text(gap, f"{where}.gap"),
            reference=_text(entry["reference"], f"{where}.reference"),
        )
        if control.key in seen:
            raise KnowledgeError(f"{where}: duplicate control {control.key}")
        seen.add(control.key)
        controls.append(control)
    return tuple(controls)


def _parse_paths(file: Path) -> list[EscalationPath]:
    data = _read_yaml(file)
    if not isinstance(data, list):
        raise KnowledgeError(f"{file}: expected a list of escalation paths")
    paths = []
    for index, entry in enumerate(data):
        where = f"{file}: path [{index}]"
        _check_keys(entry, _PATH_KEYS, _PATH_REQUIRED, where)
        path_id = _text(entry["id"], f"{where}.id")
        if not _ID.match(path_id):
            raise KnowledgeError(f"{where}: id {path_id!r} is not kebab-case")
        where = f"{file}: path {path_id}"
        requires = tuple(
            _action(a, f"{where}.requires") for a in _sequence(entry["requires"], f"{where}.requires")
        )
        groups = _sequence(entry.get("any_of", []), f"{where}.any_of")
        any_of = tuple(
            tuple(_action(a, f"{where}.any_of") for a in _sequence(group, f"{where}.any_of", non_empty=True))
            for group in groups
        )
        if not requires and not any_of:
            raise KnowledgeError(f"{where}: needs at least one action in requires or any_of")
        target = _text(entry["target"], f"{where}.target")
        if target not in TARGETS:
            raise KnowledgeError(f"{where}: target {target!r} is not one of {', '.join(sorted(TARGETS))}")
        sensitive = entry["resource_sensitive"]
        if not isinstance(sensitive, Mapping) or not sensitive:
            raise KnowledgeError(f"{where}: resource_sensitive must map actions to resource types")
        named = {a.lower() for a in requires} | {a.lower() for group in any_of for a in group}
        resource_sensitive = []
        for action, rtype in sensitive.items():
            action = _action(action, f"{where}.resource_sensitive")
            if action.lower() not in named:
                raise KnowledgeError(
                    f"{where}: resource_sensitive names {action}, which the path does not use"
                )
            resource_sensitive.append((action, _text(rtype, f"{where}.resource_sensitive")))
        reaches = []
        wanted = entry.get("reaches", {})
        if not isinstance(wanted, Mapping):
            raise KnowledgeError(f"{where}: reaches must map actions to {{resource type: [names]}}")
        for action, by_type in wanted.items():
            action = _action(action, f"{where}.reaches")
            if action.lower() not in named:
                raise KnowledgeError(f"{where}: reaches names {action}, which the path does not use")
            if not isinstance(by_type, Mapping) or len(by_type) != 1:
                raise KnowledgeError(f"{where}: reaches.{action} must map one resource type to a list of names")
            ((rtype, names),) = by_type.items()
            listed = _sequence(names, f"{where}.reaches.{action}", non_empty=True)
            reaches.append((action, _text(rtype, f"{where}.reaches"),
                            tuple(_text(name, f"{where}.reaches.{action}") for name in listed)))
        principals = _string_list(entry.get("principals", []), f"{where}.principals")
        for kind in principals:
            if kind not in PRINCIPAL_KINDS:
                raise KnowledgeError(f"{where}: principals: {kind!r} is not one of {', '.join(PRINCIPAL_KINDS)}")
        paths.append(
            EscalationPath(
                id=path_id,
                title=_text(entry["title"], f"{where}.title"),
                requires=requires,
                any_of=any_of,
                target=target,
                resource_sensitive=tuple(resource_sensitive),
                impact=_text(entry["impact"], f"{where}.impact"),
                reference=_text(entry["reference"], f"{where}.reference"),
                source=_text(entry["source"], f"{where}.source"),
                known_as=_string_list(entry.get("known_as", []), f"{where}.known_as"),
                origin=file,
                reaches=tuple(reaches),
                principals=principals,
            )
        )
    return paths


def _read_yaml(file: Path) -> Any:
    """Parse a knowledge file; the parse is cached as JSON by content hash (ruamel is slow to start)."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise KnowledgeError(f"{file}: {error}") from error
    from auditor.catalog import read_derived, write_derived

    cached = read_derived("knowledge", text)
    if cached is not None:
        return cached
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None)
        if mark is not None and problem:  # one line, located: file:line:column: what is wrong
            raise KnowledgeError(f"{file}:{mark.line + 1}:{mark.column + 1}: invalid YAML: {problem}") from error
        raise KnowledgeError(f"{file}: invalid YAML: {' '.join(str(error).split())}") from error
    write_derived("knowledge", text, data)
    return data


def _check_keys(entry: object, allowed: frozenset[str], required: frozenset[str], where: str) -> None:
    if not isinstance(entry, dict):
        raise KnowledgeError(f"{where}: expected a mapping")
    unknown = set(entry) - allowed
    missing = required - set(entry)
    if unknown:
        raise KnowledgeError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    if missing:
        raise KnowledgeError(f"{where}: missing keys {', '.join(sorted(missing))}")


def _sequence(value: object, where: str, *, non_empty: bool = False) -> Sequence[Any]:
    if not isinstance(value, list) or (non_empty and not value):
        raise KnowledgeError(f"{where}: expected a {'non-empty ' if non_empty else ''}list")
    return value


def _string_list(value: object, where: str) -> tuple[str, ...]:
    return tuple(_text(item, where) for item in _sequence(value, where))


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _action(value: object, where: str) -> str:
    action = _text(value, where)
    if not _ACTION.match(action):
        raise KnowledgeError(f"{where}: {action!r} is not a service:Action name")
    return action


@dataclass(frozen=True, slots=True)
class ConfusedDeputyExemption:
    service: str
    reason: str


def _keyed_entries(name: str, keys: tuple[str, ...], what: str, optional: tuple[str, ...] = ()
                   ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, entry) of a ``rules/`` file that is a non-empty list of mappings with exactly ``keys``, and any of
    the ``optional`` ones."""
    file = rules_dir() / name
    data = _read_yaml(file)
    if not isinstance(data, list) or not data:
        raise KnowledgeError(f"{file}: expected a non-empty list of {what}")
    for index, entry in enumerate(data):
        where = f"{file}: [{index}]"
        if not isinstance(entry, dict) or not set(keys) <= set(entry) <= set(keys) | set(optional):
            also = f" (and optionally {', '.join(optional)})" if optional else ""
            raise KnowledgeError(f"{where}: expected the keys {', '.join(keys[:-1])} and {keys[-1]}{also}")
        yield where, entry


@dataclass(frozen=True, slots=True)
class PrivilegedManagedPolicy:
    name: str
    severity: Severity
    grants: str
    administrator_with: tuple[str, ...] = ()
    """Actions that, allowed on every resource by the principal's other policies, make the policy administrator
    access (``iam:PassRole`` beside PowerUserAccess: an administrator role passed to a service it controls)."""


@lru_cache(maxsize=1)
def load_privileged_managed_policies() -> dict[str, PrivilegedManagedPolicy]:
    """``rules/privileged-managed-policies.yaml``: AWS managed policies (by name) that make their holder an
    administrator, or give the means to become one."""
    policies: dict[str, PrivilegedManagedPolicy] = {}
    for where, entry in _keyed_entries("privileged-managed-policies.yaml", ("name", "severity", "grants"), "policies",
                                       optional=("administrator_with",)):
        name = _text(entry["name"], f"{where}.name")
        try:
            severity = Severity.parse(_text(entry["severity"], f"{where}.severity"))
        except ValueError as exc:
            raise KnowledgeError(f"{where}.severity: {exc}") from None
        if name in policies:
            raise KnowledgeError(f"{where}: {name} is listed twice")
        policies[name] = PrivilegedManagedPolicy(
            name, severity, _text(entry["grants"], f"{where}.grants"),
            _string_list(entry.get("administrator_with", []), f"{where}.administrator_with"))
    return policies


@lru_cache(maxsize=1)
def load_confused_deputy_exemptions() -> dict[str, ConfusedDeputyExemption]:
    """``rules/confused-deputy.yaml``: service principals (lower-case) that need no source condition."""
    exemptions: dict[str, ConfusedDeputyExemption] = {}
    for where, entry in _keyed_entries("confused-deputy.yaml", ("service", "reason"), "services"):
        service = _text(entry["service"], f"{where}.service").lower()
        if service in exemptions:
            raise KnowledgeError(f"{where}: {service} is listed twice")
        exemptions[service] = ConfusedDeputyExemption(service, _text(entry["reason"], f"{where}.reason"))
    return exemptions


@dataclass(frozen=True, slots=True)
class AwsServiceAccount:
    """An account of AWS's through which a service delivers logs into customers' buckets."""

    account: str
    service: str
    purpose: str
    actions: frozenset[str]
    """The lower-case actions the service needs."""
    regions: tuple[str, ...]
    source: str

    def describe(self) -> str:
        return f"{self.service}'s {self.purpose} account for {', '.join(self.regions)} ({self.account})"


@lru_cache(maxsize=1)
def load_aws_service_accounts() -> dict[str, AwsServiceAccount]:
    """``rules/aws-service-accounts.yaml`` by account id."""
    accounts: dict[str, AwsServiceAccount] = {}
    for where, entry in _keyed_entries("aws-service-accounts.yaml", ("service", "purpose", "actions", "source",
                                                                     "accounts"), "services"):
        actions = frozenset(_action(item, f"{where}.actions").lower()
                            for item in _sequence(entry["actions"], f"{where}.actions", non_empty=True))
        by_region = entry["accounts"]
        if not isinstance(by_region, dict) or not by_region:
            raise KnowledgeError(f"{where}.accounts: expected a mapping of Region to account id")
        regions: dict[str, list[str]] = {}
        for region, account in by_region.items():
            if not isinstance(account, str) or not ACCOUNT.fullmatch(account):
                raise KnowledgeError(f"{where}.accounts.{region}: expected a 12-digit account id in quotes, "
                                     f"got {account!r}")
            regions.setdefault(account, []).append(_text(region, f"{where}.accounts"))
        for account, names in regions.items():
            if account in accounts:
                raise KnowledgeError(f"{where}: {account} is listed twice")
            accounts[account] = AwsServiceAccount(account, _text(entry["service"], f"{where}.service"),
                                                  _text(entry["purpose"], f"{where}.purpose"), actions,
                                                  tuple(names), _text(entry["source"], f"{where}.source"))
    return accounts


@dataclass(frozen=True, slots=True)
class VendorAccount:
    """An AWS account of a SaaS vendor's, which customers let into their own accounts."""

    account: str
    vendor: str
    source: str


@lru_cache(maxsize=1)
def load_vendor_accounts() -> dict[str, VendorAccount]:
    """``rules/vendor-accounts.yaml`` by account id."""
    accounts: dict[str, VendorAccount] = {}
    aws_owned = load_aws_service_accounts()
    for where, entry in _keyed_entries("vendor-accounts.yaml", ("vendor", "accounts", "source"), "vendors"):
        vendor, source = _text(entry["vendor"], f"{where}.vendor"), _text(entry["source"], f"{where}.source")
        for account in _sequence(entry["accounts"], f"{where}.accounts", non_empty=True):
            if not isinstance(account, str) or not ACCOUNT.fullmatch(account):
                raise KnowledgeError(f"{where}.accounts: expected 12-digit account ids in quotes, got {account!r}")
            if account in accounts or account in aws_owned:
                raise KnowledgeError(f"{where}: {account} is listed twice (here or in aws-service-accounts.yaml)")
            accounts[account] = VendorAccount(account, vendor, source)
    return accounts


@dataclass(frozen=True, slots=True)
class OrganizationRole:
    """A role an AWS service creates in an organisation's member accounts, trusting the account managing them."""

    name: str
    what: str
    trusts: str


@lru_cache(maxsize=1)
def load_organization_roles() -> tuple[OrganizationRole, ...]:
    """``rules/organization-roles.yaml``."""
    return tuple(OrganizationRole(*(_text(entry[key], f"{where}.{key}") for key in ("name", "is", "trusts")))
                 for where, entry in _keyed_entries("organization-roles.yaml", ("name", "is", "trusts"), "roles"))


@dataclass(frozen=True, slots=True)
class ManagedPolicyDocument:
    """An AWS managed policy's document as the IAM API gave it (``rules/aws-managed-policies/``)."""

    name: str
    arn: str
    version_id: str
    document: dict[str, Any]
    path: Path


@lru_cache(maxsize=1)
def load_managed_policy_documents() -> dict[str, ManagedPolicyDocument]:
    """By ARN, the AWS managed policies whose documents ``rules/aws-managed-policies/`` holds (those the bundled
    baselines attach)."""
    import json

    found: dict[str, ManagedPolicyDocument] = {}
    for path in sorted((rules_dir() / "aws-managed-policies").glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise KnowledgeError(f"{path}: not JSON: {exc}") from None
        if not isinstance(entry, dict) or not all(isinstance(entry.get(key), str) for key in
                                                  ("PolicyName", "Arn", "VersionId", "source")) \
                or not isinstance(entry.get("Document"), dict):
            raise KnowledgeError(f"{path}: needs PolicyName, Arn, VersionId, source and a Document object")
        found[entry["Arn"]] = ManagedPolicyDocument(entry["PolicyName"], entry["Arn"], entry["VersionId"],
                                                    entry["Document"], path)
    return found
