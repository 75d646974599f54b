"""Reading one baseline file: round-trip YAML (for line numbers) checked into a :class:`Baseline`.

Imported only when a baseline file is parsed; runs that find every baseline in the cache never load ruamel.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from auditor.baselines import (
    Baseline,
    BaselineError,
    BaselinePolicy,
    Placeholder,
    PrincipalSpec,
    Provenance,
)

PRINCIPAL_KINDS = ("role", "user", "group", "resource")
POLICY_KINDS = ("identity", "resource", "organization")
PLACEHOLDER_KINDS = ("placeholder", "example-value")
PLACEHOLDER_SCOPES = ("trust", "policies")

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TOP_LEVEL_KEYS = frozenset(
    {
        "id",
        "revision",
        "default",
        "title",
        "vendor",
        "principal",
        "provenance",
        "defects",
        "notes",
        "placeholders",
        "managed_policies",
        "optional_managed_policies",
        "trust_policy",
        "alternative_trust_policies",
        "policies",
    }
)
_PLACEHOLDER_KEYS = frozenset({"token", "name", "meaning", "example", "kind", "matches", "scope"})
_REQUIRED_KEYS = ("id", "revision", "title", "vendor", "principal", "provenance", "policies")


def parse_baseline(path: Path, text: str) -> Baseline:
    """The baseline in ``text`` (read from ``path``); :class:`BaselineError` at the offending line."""
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise BaselineError(path, line, column, f"invalid YAML: {problem or exc}") from None
    except YAMLError as exc:
        raise BaselineError(path, 0, 0, f"invalid YAML: {exc}") from None
    return _FileReader(path).baseline(data)


def _position(node: Any, key: Any = None) -> tuple[int, int]:
    """1-based line and column of a mapping key (or of the node itself) from ruamel's line info."""
    try:
        if key is not None and isinstance(node, CommentedMap):
            line, column = node.lc.key(key)
        elif key is not None and isinstance(node, CommentedSeq):
            line, column = node.lc.item(key)
        else:
            line, column = node.lc.line, node.lc.col
    except (AttributeError, KeyError, TypeError, IndexError):
        return 0, 0
    return line + 1, column + 1


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    if isinstance(node, str):
        return str(node)
    return node


class _FileReader:
    """Validates one parsed baseline file, raising :class:`BaselineError` at the offending line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: Any, key: Any, message: str) -> BaselineError:
        line, column = _position(node, key)
        return BaselineError(self.path, line, column, message)

    def string(self, node: CommentedMap, key: str, *, required: bool = True) -> str | None:
        value = node.get(key)
        if value is None:
            if required:
                raise self.fail(node, None, f"missing {key!r}")
            return None
        if not isinstance(value, str):
            raise self.fail(node, key, f"{key!r} must be a string")
        if not value.strip():
            if required:
                raise self.fail(node, key, f"{key!r} must not be empty")
            return None
        return str(value)

    def strings(self, node: CommentedMap, key: str) -> tuple[str, ...]:
        value = node.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(node, key, f"{key!r} must be a list of strings")
        return tuple(str(item) for item in value)

    def mapping(self, node: CommentedMap, key: str) -> CommentedMap:
        value = node.get(key)
        if not isinstance(value, CommentedMap):
            raise self.fail(node, key if key in node else None, f"{key!r} must be a mapping")
        return value

    def policy_document(self, parent: Any, key: Any, document: Any, what: str) -> dict[str, Any]:
        if not isinstance(document, CommentedMap):
            raise self.fail(parent, key, f"{what} must be a policy mapping")
        statement = document.get("Statement")
        if not isinstance(statement, (CommentedMap, CommentedSeq)) or not statement:
            raise self.fail(
                document,
                "Statement" if "Statement" in document else None,
                f"{what} needs a non-empty 'Statement'",
            )
        plain = _plain(document)
        assert isinstance(plain, dict)
        return plain

    def baseline(self, data: Any) -> Baseline:
        if not isinstance(data, CommentedMap):
            raise BaselineError(self.path, 1, 1, "a baseline file must be a YAML mapping")
        for key in data:
            if key not in _TOP_LEVEL_KEYS:
                raise self.fail(
                    data, key, f"unknown key {key!r} (expected one of {', '.join(sorted(_TOP_LEVEL_KEYS))})"
                )
        for key in _REQUIRED_KEYS:
            if key not in data:
                raise self.fail(data, None, f"missing {key!r}")
        baseline_id = self.string(data, "id")
        revision = self.string(data, "revision")
        assert baseline_id is not None
        assert revision is not None
        if not _ID.match(baseline_id):
            raise self.fail(data, "id", f"id {baseline_id!r} must look like 'vendor/name' (lower case)")
        if not _REVISION.match(revision):
            raise self.fail(data, "revision", f"revision {revision!r} may use letters, digits, '.', '_', '-'")
        self.check_file_name(data, baseline_id, revision)
        default = data.get("default", False)
        if not isinstance(default, bool):
            raise self.fail(data, "default", "'default' must be true or false")

        trust = None
        if data.get("trust_policy") is not None:
            trust = BaselinePolicy(
                "trust",
                "trust",
                self.policy_document(data, "trust_policy", data["trust_policy"], "trust_policy"),
            )
        alternatives = tuple(self.named_policies(data, "alternative_trust_policies", trust_only=True))
        policies = tuple(self.named_policies(data, "policies", trust_only=False))
        if not policies and trust is None:
            raise self.fail(data, "policies", "a baseline needs at least one policy or a trust_policy")

        baseline = Baseline(
            id=baseline_id,
            revision=revision,
            default=default,
            title=str(self.string(data, "title")),
            vendor=str(self.string(data, "vendor")),
            principal=self.principal(data),
            provenance=self.provenance(data),
            policies=policies,
            trust_policy=trust,
            alternative_trust_policies=alternatives,
            managed_policies=self.managed(data, "managed_policies"),
            optional_managed_policies=self.managed(data, "optional_managed_policies"),
            placeholders=(),
            defects=self.strings(data, "defects"),
            notes=self.strings(data, "notes"),
            path=self.path,
        )
        return replace(baseline, placeholders=self.placeholders(data, baseline))

    def check_file_name(self, data: CommentedMap, baseline_id: str, revision: str) -> None:
        stem = self.path.name.rsplit(".", 1)[0]
        name, _, file_revision = stem.partition("@")
        expected_name = baseline_id.split("/", 1)[1]
        if name != expected_name:
            raise self.fail(
                data,
                "id",
                f"id {baseline_id!r} does not match the file name {self.path.name!r}"
                f" (expected {expected_name}.yaml or {expected_name}@{revision}.yaml)",
            )
        if file_revision and file_revision != revision:
            raise self.fail(
                data, "revision", f"revision {revision!r} does not match the file name {self.path.name!r}"
            )

    def principal(self, data: CommentedMap) -> PrincipalSpec:
        node = self.mapping(data, "principal")
        kind = self.string(node, "kind")
        if kind not in PRINCIPAL_KINDS:
            raise self.fail(
                node, "kind", f"principal kind {kind!r} must be one of {', '.join(PRINCIPAL_KINDS)}"
            )
        return PrincipalSpec(kind, self.strings(node, "name_patterns"))

    def provenance(self, data: CommentedMap) -> Provenance:
        node = self.mapping(data, "provenance")
        return Provenance(
            document=str(self.string(node, "document")),
            vendor_url=self.string(node, "vendor_url", required=False),
            revision=self.string(node, "revision", required=False),
            blocks=self.strings(node, "blocks"),
        )

    def managed(self, data: CommentedMap, key: str) -> tuple[str, ...]:
        arns = self.strings(data, key)
        for index, arn in enumerate(arns):
            if not re.match(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/.+", arn):
                raise self.fail(data[key], index, f"{arn!r} is not a managed policy ARN")
        return arns

    def named_policies(self, data: CommentedMap, key: str, *, trust_only: bool) -> Iterator[BaselinePolicy]:
        items = data.get(key)
        if items is None:
            return
        if not isinstance(items, CommentedSeq):
            raise self.fail(data, key, f"{key!r} must be a list")
        names: set[str] = set()
        for index, item in enumerate(items):
            if not isinstance(item, CommentedMap):
                raise self.fail(items, index, f"each entry of {key!r} must be a mapping")
            name = str(self.string(item, "name"))
            if name in names:
                raise self.fail(item, "name", f"duplicate policy name {name!r}")
            names.add(name)
            kind = "trust" if trust_only else self.string(item, "kind")
            if not trust_only and kind not in POLICY_KINDS:
                hint = " (a trust policy goes in 'trust_policy')" if kind == "trust" else ""
                raise self.fail(
                    item, "kind", f"policy kind {kind!r} must be one of {', '.join(POLICY_KINDS)}{hint}"
                )
            if "document" not in item:
                raise self.fail(item, None, f"policy {name!r} has no 'document'")
            document = self.policy_document(item, "document", item["document"], f"policy {name!r}")
            description = self.string(item, "description", required=False) or ""
            yield BaselinePolicy(name, str(kind), document, description)

    def placeholders(self, data: CommentedMap, baseline: Baseline) -> tuple[Placeholder, ...]:
        items = data.get("placeholders")
        if items is None:
            return ()
        if not isinstance(items, CommentedSeq):
            raise self.fail(data, "placeholders", "'placeholders' must be a list")
        texts = {"trust": "\n".join(json.dumps(p.document) for p in baseline.trust_policies),
                 "policies": "\n".join(json.dumps(p.document) for p in baseline.policies)}
        found: list[Placeholder] = []
        for index, item in enumerate(items):
            if not isinstance(item, CommentedMap):
                raise self.fail(items, index, "each placeholder must be a mapping")
            for key in item:
                if key not in _PLACEHOLDER_KEYS:
                    raise self.fail(item, key, f"unknown placeholder key {key!r} (expected one of "
                                               f"{', '.join(sorted(_PLACEHOLDER_KEYS))})")
            token = str(self.string(item, "token"))
            kind = self.string(item, "kind", required=False) or "placeholder"
            if kind not in PLACEHOLDER_KINDS:
                raise self.fail(
                    item, "kind", f"placeholder kind {kind!r} must be one of {', '.join(PLACEHOLDER_KINDS)}"
                )
            scope = self.string(item, "scope", required=False)
            if scope is not None and scope not in PLACEHOLDER_SCOPES:
                raise self.fail(item, "scope", f"placeholder scope {scope!r} must be one of "
                                               f"{', '.join(PLACEHOLDER_SCOPES)} (or no scope: every document)")
            if not any(json.dumps(token)[1:-1] in texts[where] for where in PLACEHOLDER_SCOPES
                       if scope in (None, where)):
                raise self.fail(
                    item, "token", f"placeholder {token!r} does not occur in any policy of the baseline"
                    + (f" that its scope {scope!r} covers" if scope else "")
                )
            if token.startswith("${") and ":" in token:
                raise self.fail(item, "token", f"{token!r} is an IAM policy variable, not a placeholder")
            example = item.get("example")
            matches = self.string(item, "matches", required=False)
            if matches is not None and not fnmatchcase(token, matches) and kind == "example-value":
                raise self.fail(item, "matches", f"the example value {token!r} does not match {matches!r}")
            placeholder = Placeholder(
                token=token,
                name=str(self.string(item, "name")),
                meaning=self.string(item, "meaning", required=False) or "",
                example=None if example is None else str(example),
                kind=kind,
                matches=matches,
                scope=scope,
            )
            for other in found:
                if other.token == token and (other.scope is None or scope is None or other.scope == scope):
                    raise self.fail(item, "token", f"placeholder {token!r} is declared twice for the same "
                                                   "documents (one token may stand for two placeholders only "
                                                   "with the scopes trust and policies)")
            found.append(placeholder)
        return tuple(found)
