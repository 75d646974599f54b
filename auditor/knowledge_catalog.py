"""Knowledge about the catalogue kept as data in ``rules/``: retired actions and global condition keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from auditor.knowledge import rules_dir


def _load_json(name: str) -> Any:
    path = rules_dir() / name
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@dataclass(frozen=True, slots=True)
class RetiredActions:
    services: dict[str, Any]

    def is_retired_service(self, service: str) -> bool:
        entry = self.services.get(service.lower())
        return bool(entry and entry.get("retired_service"))

    def retired_action(self, full_name: str) -> dict[str, Any] | None:
        service, _, name = full_name.lower().partition(":")
        entry = self.services.get(service)
        if not entry:
            return None
        found = entry.get("actions", {}).get(name)
        return found if isinstance(found, dict) else None

    def matching(self, service: str, regex: Any) -> list[str]:
        entry = self.services.get(service.lower())
        if not entry:
            return []
        return [info.get("name", name) for name, info in entry.get("actions", {}).items() if regex.match(name)]


@lru_cache(maxsize=1)
def load_retired_actions() -> RetiredActions:
    services: dict[str, Any] = {}
    for name in ("retired-actions.json", "retired-manual.json"):
        try:
            data = _load_json(name)
        except FileNotFoundError:
            continue
        services.update(data.get("services", {}))
    return RetiredActions(services)
