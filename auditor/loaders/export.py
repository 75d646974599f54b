"""``aws iam get-account-authorization-details`` exports (AWS CLI shape and boto3 dumps).

Accepts the CLI v2 shape and the variants seen in the wild: dates with a space
instead of ``T``, users without ``UserPolicyList``, policy documents as objects or as
URL-encoded JSON strings. Every managed policy is normalised once; principals refer
to it. A malformed entry is reported and skipped; the rest of the export loads.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from auditor.loaders.parse import MAX_NESTING, ParseError, parse_embedded_json
from auditor.loaders.result import LoadResult
from auditor.model import Policy, PolicyKind, Principal, StoredVersion, Subject
from auditor.normalize import DEFAULT_MAX_STATEMENTS, normalize_policy
from auditor.source import Source, join_pointer

EXPORT_KEYS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies", "ResourcePolicies")


def is_export(data: Any) -> bool:
    return isinstance(data, dict) and any(key in data for key in EXPORT_KEYS)


def export_pages(data: Any) -> list[Any] | None:
    """The pages of get-account-authorization-details gathered in one JSON array (``jq -s . page*.json``): a list
    of which some item is a page (the others are reported by ``load_export_pages``)."""
    return data if isinstance(data, list) and any(is_export(page) for page in data) else None


class _PagesSource(Source):
    """The file of a JSON array of pages, read as the one export they make: ``/RoleDetailList/7/...`` of the
    export is located where that role is, ``/1/RoleDetailList/2/...`` of the file."""

    __slots__ = ("base", "places")

    def __init__(self, base: Source, places: dict[str, list[tuple[int, int]]]) -> None:
        super().__init__(base.display_path, base.text, None, base.line_offset, base.column_offset)
        self.unique_keys = base.unique_keys
        self.base = base
        self.places = places
        """By key of the export, where each item of its merged list is: (page, index in that page's list)."""

    def in_file(self, pointer: str) -> str:
        key, _, rest = pointer[1:].partition("/")
        index_text, _, inner = rest.partition("/")
        place = self.places.get(key)
        if place is None or not index_text.isdigit() or int(index_text) >= len(place):
            return pointer
        page, index = place[int(index_text)]
        return f"/{page}/{key}/{index}" + (f"/{inner}" if inner else "")

    def locate(self, pointer: str) -> tuple[int, int]:
        return self.base.locate(self.in_file(pointer))

    def has_pointer(self, pointer: str) -> bool:
        return self.base.has_pointer(self.in_file(pointer))


def load_export_pages(pages: list[Any], source: Source, max_nesting: int = MAX_NESTING,
                      max_statements: int = DEFAULT_MAX_STATEMENTS) -> LoadResult:
    """Pages read as the export they make together: a user's group or attached policy may be on another page.
    Their lists are joined; any other key is the last page's, but ``IsTruncated``: the pages are all there when one
    of them, the last the API gave, says it is not truncated (whatever the order a shell glob put them in). An item
    of the list that is not a page is reported where it is and left out; the pages are read all the same."""
    from auditor.normalize import type_name

    merged: dict[str, Any] = {}
    places: dict[str, list[tuple[int, int]]] = {}
    readable = [(number, page) for number, page in enumerate(pages) if is_export(page)]
    for page_number, page in readable:
        for key, value in page.items():
            if isinstance(value, list) and isinstance(merged.get(key, []), list):
                merged.setdefault(key, []).extend(value)
                places.setdefault(key, []).extend((page_number, index) for index in range(len(value)))
            else:
                merged[key] = value
    merged["IsTruncated"] = all(page.get("IsTruncated") is True for _, page in readable)
    result = load_export(merged, _PagesSource(source, places), max_nesting, max_statements)
    for number, item in enumerate(pages):
        if not is_export(item):
            result.wrong_type(source, f"/{number}", f"item {number} of the list is {type_name(item)}, not a page of "
                       "get-account-authorization-details (no UserDetailList, GroupDetailList, RoleDetailList or "
                       "Policies): left out, the other pages are read")
    return result


def _document(value: Any, max_nesting: int) -> Any:
    """A policy document as stored in the export: an object, or JSON text (URL-encoded or not).

    Text that is not JSON stays a string, which the grammar reports as the wrong type.
    """
    if isinstance(value, str):
        text = urllib.parse.unquote(value) if value.lstrip().startswith("%") or "%22" in value else value
        try:
            return parse_embedded_json(text, max_nesting)
        except ParseError:
            return value
    return value


def _boundary_and_attached_arns(data: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(ARNs the export's users and roles have as permissions boundary, ARNs attached to any principal)."""
    boundaries: set[str] = set()
    attached: set[str] = set()
    for key in ("UserDetailList", "GroupDetailList", "RoleDetailList"):
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                continue
            boundary = entry.get("PermissionsBoundary")
            if isinstance(boundary, dict) and isinstance(boundary.get("PermissionsBoundaryArn"), str):
                boundaries.add(boundary["PermissionsBoundaryArn"])
            items = entry.get("AttachedManagedPolicies")
            for item in items if isinstance(items, list) else ():
                if isinstance(item, dict) and isinstance(item.get("PolicyArn"), str):
                    attached.add(item["PolicyArn"])
    return boundaries, attached


def _positive_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _stored_versions(versions: list[Any], default_index: int, pointer: str, document: Callable[[Any], Any],
                     source: Source, arn: str, result: LoadResult) -> tuple[StoredVersion, ...]:
    """The versions other than the default, as written; one with no statements to read is noted as not checked."""
    stored = []
    for index, version in enumerate(versions):
        if index == default_index:
            continue
        version_pointer = join_pointer(pointer, index)
        version_id = _text(version.get("VersionId")) if isinstance(version, dict) else None
        written = document(version.get("Document")) if isinstance(version, dict) else None
        if not isinstance(written, dict) or not written.get("Statement"):
            line, _ = source.locate(join_pointer(version_pointer, "Document"))
            result.not_checked.append(f"{source.display_path}:{line}: policy {arn}: stored version "
                                      f"{version_id or '(no VersionId)'} has no statements IAM could read, so it was "
                                      "not compared with the default (IAM013)")
            continue
        stored.append(StoredVersion(version_id, written, join_pointer(version_pointer, "Document")))
    return tuple(stored)


def _aliases(value: Any) -> tuple[str, ...]:
    """A ``ResourcePolicies`` entry's other names (a KMS key's further aliases, as ``iam-audit fetch`` writes)."""
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _list(data: dict[str, Any], key: str, pointer: str, result: LoadResult, source: Source) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):  # null too: the API writes [] for none, so what this was meant to hold is lost
        from auditor.normalize import type_name

        result.wrong_type(source, join_pointer(pointer, key),
                          f"{key} must be a list, found {type_name(value)}: what it holds was not checked")
        return []
    return value


def load_export(data: dict[str, Any], source: Source, max_nesting: int = MAX_NESTING,
                max_statements: int = DEFAULT_MAX_STATEMENTS) -> LoadResult:
    return _ExportReader(data, source, max_nesting, max_statements).read()


class _ExportReader:
    """The managed policies of an export first (principals refer to them by ARN), then its groups, users (who get
    their groups' policies), roles and resource policies."""

    def __init__(self, data: dict[str, Any], source: Source, max_nesting: int, max_statements: int) -> None:
        self.data = data
        self.source = source
        self.max_nesting = max_nesting
        self.max_statements = max_statements
        self.result = LoadResult(files=1)
        self.managed: dict[str, Policy] = {}
        self.unusable: dict[str, str] = {}
        """Managed policies of the export that could not be read: ARN -> why."""
        self.groups: dict[str, tuple[tuple[Policy, ...], tuple[str, ...]]] = {}
        """Group name -> (its policies, the ARNs of the managed policies attached to it)."""

    def read(self) -> LoadResult:
        self.read_managed_policies()
        self.read_groups()
        self.read_users()
        self.read_roles()
        self.read_resource_policies()
        self.note_incomplete()
        return self.result

    def document(self, value: Any) -> Any:
        return _document(value, self.max_nesting)

    def read_managed_policies(self) -> None:
        result, source = self.result, self.source
        boundaries, attached_arns = _boundary_and_attached_arns(self.data)
        for index, entry in enumerate(_list(self.data, "Policies", "", result, source)):
            pointer = join_pointer("/Policies", index)
            if not isinstance(entry, dict) or not isinstance(entry.get("Arn"), str):
                result.wrong_type(source, pointer, "a Policies entry without an Arn")
                continue
            arn = entry["Arn"]
            versions = entry.get("PolicyVersionList")
            if not isinstance(versions, list):
                result.wrong_type(source, pointer, f"policy {arn} has no PolicyVersionList")
                self.unusable[arn] = "has no PolicyVersionList in the export"
                continue
            chosen = _default_version(versions, entry.get("DefaultVersionId"))
            if chosen is None:
                result.wrong_type(source, pointer, f"policy {arn} has no default version in PolicyVersionList")
                self.unusable[arn] = "has no default version in the export's PolicyVersionList"
                continue
            v_index, version = chosen
            is_aws = arn.startswith("arn:aws:iam::aws:policy/") or ":iam::aws:policy/" in arn
            versions_pointer = join_pointer(pointer, "PolicyVersionList")
            subject = Subject("managed-policy", _text(entry.get("PolicyName")) or arn, arn)
            policy = normalize_policy(
                self.document(version.get("Document")),
                PolicyKind.IDENTITY,
                source,
                join_pointer(join_pointer(versions_pointer, v_index), "Document"),
                subject=subject,
                label=arn,
                is_aws_managed=is_aws,
                max_statements=self.max_statements,
                version_id=_text(version.get("VersionId")),
            )
            if not is_aws:  # only an AWS managed policy's own author can change which version is the default
                dormant = _stored_versions(versions, v_index, versions_pointer, self.document, source, arn, result)
                if dormant:
                    policy = dataclasses.replace(policy, dormant_versions=dormant)
            if arn in self.managed:
                result.wrong_type(source, pointer, f"policy {arn} is listed twice; the later entry is ignored")
                continue
            if (arn in boundaries or _positive_count(entry.get("PermissionsBoundaryUsageCount"))) \
                    and arn not in attached_arns and not _positive_count(entry.get("AttachmentCount")):
                policy = dataclasses.replace(policy, boundary_only=True)
            self.managed[arn] = policy
            result.policies.append(policy)
            result.counts["policies"] += 1

    def attached(self, entry: dict[str, Any], pointer: str
                 ) -> tuple[tuple[str, ...], tuple[Policy, ...], tuple[str, ...]]:
        """The ARNs of the managed policies attached to a principal, those the export holds, those it lacks."""
        arns: list[str] = []
        found: list[Policy] = []
        missing: list[str] = []
        for index, item in enumerate(_list(entry, "AttachedManagedPolicies", pointer, self.result, self.source)):
            arn = item.get("PolicyArn") if isinstance(item, dict) else None
            if not isinstance(arn, str):
                self.result.wrong_type(self.source, join_pointer(join_pointer(pointer, "AttachedManagedPolicies"),
                                                                  index),
                           "an AttachedManagedPolicies entry without a PolicyArn: the policy attached is not known")
                continue
            arns.append(arn)
            if arn in self.managed:
                found.append(self.managed[arn])
            else:
                missing.append(arn)
        return tuple(arns), tuple(found), tuple(missing)

    def inline(self, entry: dict[str, Any], key: str, pointer: str, subject: Subject) -> tuple[Policy, ...]:
        policies = []
        for p_index, item in enumerate(_list(entry, key, pointer, self.result, self.source)):
            item_pointer = join_pointer(join_pointer(pointer, key), p_index)
            if not isinstance(item, dict):
                self.result.wrong_type(self.source, item_pointer, f"{key} entry of {subject.name} is not an object")
                continue
            name = _text(item.get("PolicyName")) or f"#{p_index}"
            policy = normalize_policy(
                self.document(item.get("PolicyDocument")),
                PolicyKind.IDENTITY,
                self.source,
                join_pointer(item_pointer, "PolicyDocument"),
                subject=subject,
                label=f"inline:{name}",
                max_statements=self.max_statements,
            )
            policies.append(policy)
            self.result.policies.append(policy)
        return tuple(policies)

    def boundary(self, entry: dict[str, Any], who: str) -> tuple[Policy | None, str | None]:
        """(the principal's permissions boundary, the ARN of one whose document is not in the export: noted)."""
        value = entry.get("PermissionsBoundary")
        arn = value.get("PermissionsBoundaryArn") if isinstance(value, dict) else None
        if not isinstance(arn, str):
            return None, None
        if arn in self.managed:
            return self.managed[arn], None
        why = self.unusable.get(arn, "is not in the export")
        self.result.not_checked.append(f"{who}: permissions boundary {arn} {why}, so it was not weighed: its findings "
                                       "are what its policies allow without the boundary, which may allow less")
        return None, arn

    def entries(self, list_key: str, name_key: str) -> Iterator[tuple[str, dict[str, Any], str]]:
        """The well-formed entries of one detail list as (pointer, entry, name); a malformed one is reported."""
        for index, entry in enumerate(_list(self.data, list_key, "", self.result, self.source)):
            pointer = join_pointer(f"/{list_key}", index)
            if not isinstance(entry, dict) or not isinstance(entry.get(name_key), str):
                self.result.wrong_type(self.source, pointer, f"a {list_key} entry without a {name_key}")
                continue
            yield pointer, entry, entry[name_key]

    def add_principal(self, kind: str, name: str, entry: dict[str, Any], pointer: str, own: tuple[Policy, ...],
                      attached: tuple[tuple[str, ...], tuple[Policy, ...], tuple[str, ...]], **more: Any) -> None:
        """A user, group or role with its inline policies and (the ARNs, the documents, the missing ARNs of) its
        attached managed policies; a managed policy the export lacks is noted."""
        arns, found, missing = attached
        self.result.principals.append(
            Principal(kind, name, _text(entry.get("Arn")) or "", self.source, pointer, inline_policies=own,
                      attached_policy_arns=arns, attached_policies=found, missing_policy_arns=missing, **more)
        )
        _note_missing(self.result, f"{kind} {name}", missing, self.unusable)
        self.result.counts[f"{kind}s"] += 1

    def read_groups(self) -> None:
        for pointer, entry, name in self.entries("GroupDetailList", "GroupName"):
            subject = Subject("group", name, _text(entry.get("Arn")))
            own = self.inline(entry, "GroupPolicyList", pointer, subject)
            arns, found, missing = self.attached(entry, pointer)
            self.groups[name] = (own + found, arns)
            self.add_principal("group", name, entry, pointer, own, (arns, found, missing))

    def read_users(self) -> None:
        result = self.result
        for pointer, entry, name in self.entries("UserDetailList", "UserName"):
            subject = Subject("user", name, _text(entry.get("Arn")))
            own = self.inline(entry, "UserPolicyList", pointer, subject)
            arns, found, missing = self.attached(entry, pointer)
            listed = _list(entry, "GroupList", pointer, result, self.source)
            for index, group in enumerate(listed):
                if not isinstance(group, str):
                    result.wrong_type(self.source, join_pointer(join_pointer(pointer, "GroupList"), index),
                               f"a GroupList entry of user {name} that is not a group name: its policies are not known")
            group_names = tuple(g for g in listed if isinstance(g, str))
            bounded_by, missing_boundary = self.boundary(entry, f"user {name}")
            group_policies: list[Policy] = []
            group_arns: list[str] = []
            for group in group_names:
                if group in self.groups:
                    group_policies.extend(self.groups[group][0])
                    group_arns.extend(arn for arn in self.groups[group][1] if arn not in group_arns)
                else:
                    result.not_checked.append(f"user {name}: group {group} is not in the export")
            self.add_principal("user", name, entry, pointer, own, (arns, found, missing), group_names=group_names,
                               group_policies=tuple(group_policies), group_policy_arns=tuple(group_arns),
                               permissions_boundary=bounded_by, missing_boundary_arn=missing_boundary)

    def read_roles(self) -> None:
        result, source = self.result, self.source
        seen_roles: set[str] = set()
        for pointer, entry, name in self.entries("RoleDetailList", "RoleName"):
            if name in seen_roles:
                result.wrong_type(source, pointer, f"role {name} is listed twice; both entries are checked")
            seen_roles.add(name)
            subject = Subject("role", name, _text(entry.get("Arn")))
            trust = _trust_policy(entry, pointer, subject, source, self.max_nesting, self.max_statements)
            if trust is not None:
                result.policies.append(trust)
            else:  # the API always writes it: who may assume the role is not known
                result.not_checked.append(f"role {name}: no AssumeRolePolicyDocument in the export, so who may assume "
                                          "it was not checked")
            own = self.inline(entry, "RolePolicyList", pointer, subject)
            attached = self.attached(entry, pointer)
            bounded_by, missing_boundary = self.boundary(entry, f"role {name}")
            self.add_principal("role", name, entry, pointer, own, attached, trust_policy=trust,
                               permissions_boundary=bounded_by, missing_boundary_arn=missing_boundary)

    def read_resource_policies(self) -> None:
        result, source = self.result, self.source
        for index, entry in enumerate(_list(self.data, "ResourcePolicies", "", result, source)):
            pointer = join_pointer("/ResourcePolicies", index)
            if not isinstance(entry, dict) or "policy" not in entry:
                result.wrong_type(source, pointer, "a ResourcePolicies entry without a policy")
                continue
            service = _text(entry.get("service")) or "resource"
            name = _text(entry.get("name")) or _text(entry.get("arn")) or f"#{index}"
            policy = normalize_policy(
                self.document(entry["policy"]),
                PolicyKind.RESOURCE,
                source,
                join_pointer(pointer, "policy"),
                subject=Subject(service, name, _text(entry.get("arn")), _aliases(entry.get("aliases"))),
                label=f"{service}:resource-policy",
                max_statements=self.max_statements,
                resource_implied=service in ("ecr", "ecr-public"),
            )
            result.policies.append(policy)
            result.counts["resource_policies"] += 1

    def note_incomplete(self) -> None:
        """What the export says it leaves out: later pages (``IsTruncated``, one page of the API's answer), or
        ``iam_audit.incomplete`` (written by ``iam-audit fetch``)."""
        if self.data.get("IsTruncated") is True:
            self.result.not_checked.append(
                f"{self.source.display_path}: the export is incomplete: it is one page of "
                "get-account-authorization-details (IsTruncated: true), and the users, groups, roles and policies "
                "of the later pages were not checked; export them all (the AWS CLI reads every page unless "
                "--max-items or --no-paginate is given) or merge the pages into one file")
        meta = self.data.get("iam_audit")
        if not isinstance(meta, dict):
            return
        incomplete = meta.get("incomplete") or []
        for item in incomplete if isinstance(incomplete, list) else [incomplete]:
            what = item.get("what") if isinstance(item, dict) else item
            if not isinstance(what, str) or not what.strip():
                what = "a part it does not name (iam_audit.incomplete)"
            self.result.not_checked.append(f"{self.source.display_path}: the export is incomplete: {what}")


def _default_version(versions: list[Any], default_id: Any) -> tuple[int, dict[str, Any]] | None:
    """(index, entry) of the default version in a ``PolicyVersionList``: marked so, or named by the policy."""
    for v_index, version in enumerate(versions):
        if isinstance(version, dict) and (
            version.get("IsDefaultVersion") is True or (default_id and version.get("VersionId") == default_id)
        ):
            return v_index, version
    return None


def _trust_policy(role: dict[str, Any], pointer: str, subject: Subject, source: Source, max_nesting: int,
                  max_statements: int) -> Policy | None:
    """The trust policy of a role as IAM describes it (an export's entry, ``get-role`` or ``list-roles``)."""
    if "AssumeRolePolicyDocument" not in role:
        return None
    return normalize_policy(
        _document(role["AssumeRolePolicyDocument"], max_nesting),
        PolicyKind.TRUST,
        source,
        join_pointer(pointer, "AssumeRolePolicyDocument"),
        subject=subject,
        label="trust",
        max_statements=max_statements,
    )


def described_roles(data: Any) -> list[tuple[str, dict[str, Any]]]:
    """(pointer, role) of the roles in ``aws iam get-role`` (``{"Role": {...}}``) or ``list-roles``
    (``{"Roles": [...]}``) output that hold a trust policy; empty for anything else."""
    if not isinstance(data, dict):
        return []
    role = data.get("Role")
    if isinstance(role, dict) and "AssumeRolePolicyDocument" in role:
        return [("/Role", role)]
    roles = data.get("Roles")
    if isinstance(roles, list):
        return [(join_pointer("/Roles", index), item) for index, item in enumerate(roles)
                if isinstance(item, dict) and "AssumeRolePolicyDocument" in item]
    return []


def load_described_roles(roles: list[tuple[str, dict[str, Any]]], source: Source, max_nesting: int = MAX_NESTING,
                         max_statements: int = DEFAULT_MAX_STATEMENTS) -> LoadResult:
    """The trust policies of ``get-role`` or ``list-roles`` output, each the trust policy of its role: the role's
    ARN says which account is its own. (The output holds no permissions policy: they are not checked here.)"""
    result = LoadResult(files=1)
    for pointer, role in roles:
        arn = _text(role.get("Arn"))
        name = _text(role.get("RoleName")) or (arn.rsplit("/", 1)[-1] if arn else pointer)
        trust = _trust_policy(role, pointer, Subject("role", name, arn), source, max_nesting, max_statements)
        if trust is not None:
            result.policies.append(trust)
            result.counts["roles"] += 1
    return result


def _note_missing(result: LoadResult, who: str, missing: tuple[str, ...], unusable: dict[str, str]) -> None:
    from auditor.knowledge import load_privileged_managed_policies

    privileged = load_privileged_managed_policies()
    for arn in missing:
        why = unusable.get(arn, "is not in the export")
        by_name = " (what it grants is still reported, by its name: IAM006)" \
            if ":iam::aws:policy/" in arn and arn.rpartition("/")[2] in privileged else ""
        result.not_checked.append(f"{who}: attached policy {arn} {why}, so its statements were not checked{by_name}")
