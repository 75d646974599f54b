"""Documented vendor baselines: what a vendor tells its customers to create in AWS.

Baselines are YAML files under ``rules/baselines/<vendor>/<name>.yaml`` (a second
revision of the same baseline as ``<name>@<revision>.yaml``); the format is
documented in ``rules/baselines/README.md``. Users add their own directories
through ``extra_paths``. Policy documents stay plain dicts here: the normaliser
turns them into :class:`auditor.model.Policy` objects.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

__all__ = [
    "Baseline",
    "BaselineDiff",
    "BaselineError",
    "BaselinePolicy",
    "BaselineSet",
    "GrantChange",
    "Placeholder",
    "PrincipalSpec",
    "Provenance",
    "UnknownBaselineError",
    "bundled_baselines_dir",
    "diff_revisions",
    "load_baseline_file",
    "load_bundled_baselines",
    "resolve_baseline",
]

PRINCIPAL_KINDS = ("role", "user", "group", "resource")
POLICY_KINDS = ("identity", "resource", "organization")
PLACEHOLDER_KINDS = ("placeholder", "example-value")

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
_REQUIRED_KEYS = ("id", "revision", "title", "vendor", "principal", "provenance", "policies")


class BaselineError(ValueError):
    """A baseline file that cannot be used, located at ``path:line:column``."""

    def __init__(self, path: Path | str, line: int, column: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{self.path}:{line}:{column}: {message}" if line else f"{self.path}: {message}")


class UnknownBaselineError(LookupError):
    """A baseline id or revision that no loaded file defines."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown baseline"


@dataclass(frozen=True)
class Placeholder:
    """A token in the documented policies that the user replaces (bound with ``--var NAME=VALUE``).

    ``kind`` is ``placeholder`` for a token the vendor marks as such, ``example-value``
    for a concrete value the vendor shows only as an example of what to put there.
    """

    token: str
    name: str
    meaning: str = ""
    example: str | None = None
    kind: str = "placeholder"


@dataclass(frozen=True)
class Provenance:
    """Where the baseline comes from: the document, the vendor's page, the blocks used."""

    document: str
    vendor_url: str | None = None
    revision: str | None = None
    blocks: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrincipalSpec:
    """Which principals the baseline applies to: ``kind`` and shell-style name patterns."""

    kind: str
    name_patterns: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        return any(fnmatchcase(name, pattern) for pattern in self.name_patterns)


@dataclass(frozen=True)
class BaselinePolicy:
    """One documented policy; ``document`` is the plain JSON-like mapping."""

    name: str
    kind: str
    document: Mapping[str, Any] = field(hash=False)
    description: str = ""


@dataclass(frozen=True)
class Baseline:
    id: str
    revision: str
    default: bool
    title: str
    vendor: str
    principal: PrincipalSpec
    provenance: Provenance
    policies: tuple[BaselinePolicy, ...]
    trust_policy: BaselinePolicy | None = None
    alternative_trust_policies: tuple[BaselinePolicy, ...] = ()
    managed_policies: tuple[str, ...] = ()
    optional_managed_policies: tuple[str, ...] = ()
    placeholders: tuple[Placeholder, ...] = ()
    defects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    path: Path | None = None

    @property
    def ref(self) -> str:
        """``id@revision``: names this revision exactly."""
        return f"{self.id}@{self.revision}"

    @property
    def trust_policies(self) -> tuple[BaselinePolicy, ...]:
        """The trust policy and its documented alternatives."""
        first = (self.trust_policy,) if self.trust_policy is not None else ()
        return first + self.alternative_trust_policies

    @property
    def all_policies(self) -> tuple[BaselinePolicy, ...]:
        return self.trust_policies + self.policies

    def bind(self, values: Mapping[str, str]) -> Baseline:
        """Replace the tokens of the placeholders named in ``values``; others stay as they are.

        Only placeholder tokens are replaced, so IAM policy variables such as
        ``${aws:username}`` survive. Names not used by this baseline are ignored.
        """
        bound = [p for p in self.placeholders if p.name in values]
        if not bound:
            return self
        pairs = sorted(((p.token, values[p.name]) for p in bound), key=lambda pair: -len(pair[0]))

        def bind_policy(policy: BaselinePolicy) -> BaselinePolicy:
            return replace(policy, document=_substitute(policy.document, pairs))

        return replace(
            self,
            trust_policy=bind_policy(self.trust_policy) if self.trust_policy is not None else None,
            alternative_trust_policies=tuple(bind_policy(p) for p in self.alternative_trust_policies),
            policies=tuple(bind_policy(p) for p in self.policies),
            placeholders=tuple(p for p in self.placeholders if p.name not in values),
        )


def _substitute(node: Any, pairs: list[tuple[str, str]]) -> Any:
    if isinstance(node, str):
        for token, value in pairs:
            node = node.replace(token, value)
        return node
    if isinstance(node, Mapping):
        return {_substitute(key, pairs): _substitute(value, pairs) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(item, pairs) for item in node]
    return node


# --------------------------------------------------------------------------- loading one file


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
        text = "\n".join(json.dumps(p.document) for p in baseline.all_policies)
        found: list[Placeholder] = []
        for index, item in enumerate(items):
            if not isinstance(item, CommentedMap):
                raise self.fail(items, index, "each placeholder must be a mapping")
            token = str(self.string(item, "token"))
            kind = self.string(item, "kind", required=False) or "placeholder"
            if kind not in PLACEHOLDER_KINDS:
                raise self.fail(
                    item, "kind", f"placeholder kind {kind!r} must be one of {', '.join(PLACEHOLDER_KINDS)}"
                )
            if json.dumps(token)[1:-1] not in text:
                raise self.fail(
                    item, "token", f"placeholder {token!r} does not occur in any policy of the baseline"
                )
            if token.startswith("${") and ":" in token:
                raise self.fail(item, "token", f"{token!r} is an IAM policy variable, not a placeholder")
            example = item.get("example")
            found.append(
                Placeholder(
                    token=token,
                    name=str(self.string(item, "name")),
                    meaning=self.string(item, "meaning", required=False) or "",
                    example=None if example is None else str(example),
                    kind=kind,
                )
            )
        return tuple(found)


def load_baseline_file(path: Path | str) -> Baseline:
    """Load and check one baseline file; :class:`BaselineError` names ``file:line:column`` on a bad one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(path, 0, 0, f"cannot read: {exc}") from None
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


# --------------------------------------------------------------------------- the set of baselines


def bundled_baselines_dir() -> Path:
    """``rules/baselines`` inside the installed package, else next to it in a source checkout."""
    package = Path(__file__).resolve().parent  # the directory of auditor/__init__.py
    rules = package / "rules"
    if not rules.is_dir():
        rules = package.parent / "rules"
    return rules / "baselines"


def _baseline_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


class BaselineSet:
    """Baselines by ``id`` and revision; later layers (user directories) override earlier ones."""

    def __init__(self, layers: Iterable[Iterable[Baseline]]) -> None:
        self._by_ref: dict[str, Baseline] = {}
        self._revisions: dict[str, list[str]] = {}
        self._default: dict[str, str] = {}
        for layer in layers:
            self._add_layer(list(layer))
        for baseline_id, revisions in self._revisions.items():
            if baseline_id not in self._default:
                if len(revisions) > 1:
                    example = self._by_ref[f"{baseline_id}@{revisions[0]}"]
                    raise BaselineError(
                        example.path or baseline_id,
                        0,
                        0,
                        f"{baseline_id} has revisions {', '.join(revisions)}"
                        " and none is marked 'default: true'",
                    )
                self._default[baseline_id] = revisions[0]

    def _add_layer(self, baselines: list[Baseline]) -> None:
        seen: dict[str, Baseline] = {}
        layer_defaults: dict[str, Baseline] = {}
        for baseline in baselines:
            if baseline.ref in seen:
                raise BaselineError(
                    baseline.path or baseline.ref,
                    0,
                    0,
                    f"{baseline.ref} is also defined in {seen[baseline.ref].path}",
                )
            seen[baseline.ref] = baseline
            if baseline.default:
                if baseline.id in layer_defaults:
                    raise BaselineError(
                        baseline.path or baseline.ref,
                        0,
                        0,
                        f"{baseline.id}: both {layer_defaults[baseline.id].revision!r} and"
                        f" {baseline.revision!r} are marked 'default: true'",
                    )
                layer_defaults[baseline.id] = baseline
            self._by_ref[baseline.ref] = baseline
            revisions = self._revisions.setdefault(baseline.id, [])
            if baseline.revision not in revisions:
                revisions.append(baseline.revision)
        for baseline_id, baseline in layer_defaults.items():
            self._default[baseline_id] = baseline.revision

    def get(self, ref: str) -> Baseline:
        """``id`` (its default revision) or ``id@revision``; :class:`UnknownBaselineError` otherwise."""
        baseline_id, _, revision = ref.partition("@")
        if baseline_id not in self._revisions:
            raise UnknownBaselineError(f"unknown baseline {baseline_id!r} (known: {', '.join(self.ids())})")
        revision = revision or self._default[baseline_id]
        found = self._by_ref.get(f"{baseline_id}@{revision}")
        if found is None:
            raise UnknownBaselineError(
                f"unknown revision {revision!r} of {baseline_id}"
                f" (known: {', '.join(self.revisions(baseline_id))})"
            )
        return found

    def ids(self) -> list[str]:
        return sorted(self._revisions)

    def revisions(self, baseline_id: str) -> list[str]:
        """The revisions of one id, the default first."""
        revisions = sorted(self._revisions.get(baseline_id, []))
        default = self._default.get(baseline_id)
        return sorted(revisions, key=lambda rev: rev != default)

    def default_revision(self, baseline_id: str) -> str:
        return self.get(baseline_id).revision

    def __contains__(self, ref: object) -> bool:
        if not isinstance(ref, str):
            return False
        try:
            self.get(ref)
        except UnknownBaselineError:
            return False
        return True

    def __iter__(self) -> Iterator[Baseline]:
        """Every revision of every baseline, by id then default first."""
        for baseline_id in self.ids():
            for revision in self.revisions(baseline_id):
                yield self._by_ref[f"{baseline_id}@{revision}"]

    def __len__(self) -> int:
        return len(self._by_ref)


def load_bundled_baselines(extra_paths: Iterable[Path | str] = ()) -> BaselineSet:
    """The bundled baselines plus those in ``extra_paths`` (files or directories, later ones win)."""
    layers: list[list[Baseline]] = []
    bundled = bundled_baselines_dir()
    if bundled.is_dir():
        layers.append([load_baseline_file(p) for p in _baseline_files(bundled)])
    for extra in extra_paths:
        root = Path(extra)
        if not root.exists():
            raise BaselineError(root, 0, 0, "no such file or directory")
        layers.append([load_baseline_file(p) for p in _baseline_files(root)])
    return BaselineSet(layers)


def resolve_baseline(ref_or_path: str, extra_paths: Iterable[Path | str] = ()) -> Baseline:
    """A baseline file path, else a bundled (or extra) baseline id or ``id@revision``."""
    candidate = Path(ref_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return load_baseline_file(candidate)
    return load_bundled_baselines(extra_paths).get(ref_or_path)


# --------------------------------------------------------------------------- comparing revisions


@dataclass(frozen=True)
class GrantChange:
    """An action present in both revisions whose resources, conditions or principals differ."""

    effect: str
    action: str
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class BaselineDiff:
    """What changes from baseline ``before`` to baseline ``after``, statement by statement ignored.

    Actions are compared per effect across every permission policy, case-insensitively;
    an action listed in several statements counts once with all its grants.
    """

    before: str
    after: str
    actions_added: tuple[str, ...] = ()
    actions_removed: tuple[str, ...] = ()
    denied_added: tuple[str, ...] = ()
    denied_removed: tuple[str, ...] = ()
    grants_changed: tuple[GrantChange, ...] = ()
    managed_added: tuple[str, ...] = ()
    managed_removed: tuple[str, ...] = ()
    trust_before: bool = False
    trust_after: bool = False
    trust_principals_added: tuple[str, ...] = ()
    trust_principals_removed: tuple[str, ...] = ()
    trust_conditions_changed: bool = False
    placeholders_added: tuple[str, ...] = ()
    placeholders_removed: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.actions_added
            or self.actions_removed
            or self.denied_added
            or self.denied_removed
            or self.grants_changed
            or self.managed_added
            or self.managed_removed
            or self.trust_before != self.trust_after
            or self.trust_principals_added
            or self.trust_principals_removed
            or self.trust_conditions_changed
            or self.placeholders_added
            or self.placeholders_removed
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "grants_changed":
                value = [
                    {"effect": g.effect, "action": g.action, "before": list(g.before), "after": list(g.after)}
                    for g in value
                ]
            elif isinstance(value, tuple):
                value = list(value)
            data[name] = value
        return data

    def lines(self) -> list[str]:
        """A readable account of the changes, one per line, ``+`` added and ``-`` removed."""
        out = [f"{self.before} -> {self.after}"]
        out += [f"+ allow {a}" for a in self.actions_added] + [f"- allow {a}" for a in self.actions_removed]
        out += [f"+ deny {a}" for a in self.denied_added] + [f"- deny {a}" for a in self.denied_removed]
        for change in self.grants_changed:
            out.append(
                f"~ {change.effect.lower()} {change.action}: {' | '.join(change.before)}"
                f" -> {' | '.join(change.after)}"
            )
        out += [f"+ managed policy {m}" for m in self.managed_added]
        out += [f"- managed policy {m}" for m in self.managed_removed]
        if self.trust_before != self.trust_after:
            out.append(
                "+ trust policy documented" if self.trust_after else "- trust policy no longer documented"
            )
        out += [f"+ trusted {p}" for p in self.trust_principals_added]
        out += [f"- trusted {p}" for p in self.trust_principals_removed]
        if self.trust_conditions_changed:
            out.append("~ trust conditions changed")
        out += [f"+ placeholder {p}" for p in self.placeholders_added]
        out += [f"- placeholder {p}" for p in self.placeholders_removed]
        if len(out) == 1:
            out.append("no differences")
        return out


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _grant_context(statement: Mapping[str, Any]) -> str:
    parts = []
    for element in ("Principal", "NotPrincipal", "Resource", "NotResource", "Condition"):
        if element in statement:
            value = statement[element]
            if element in ("Resource", "NotResource"):
                value = sorted(str(v) for v in _as_list(value))
            parts.append(f"{element}={json.dumps(value, sort_keys=True, separators=(',', ':'))}")
    return " ".join(parts) or "(no resource)"


def _grants(baseline: Baseline) -> dict[tuple[str, str], tuple[str, set[str]]]:
    """(effect, element:action lower-cased) -> (action as first written, set of grant contexts)."""
    grants: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for policy in baseline.policies:
        for statement in _as_list(policy.document.get("Statement")):
            if not isinstance(statement, Mapping):
                continue
            effect = str(statement.get("Effect", ""))
            for element in ("Action", "NotAction"):
                for action in _as_list(statement.get(element)):
                    shown = str(action) if element == "Action" else f"NotAction {action}"
                    key = (effect, shown.lower())
                    entry = grants.setdefault(key, (shown, set()))
                    entry[1].add(_grant_context(statement))
    return grants


def _trust_principals(baseline: Baseline) -> tuple[set[str], set[str]]:
    principals: set[str] = set()
    conditions: set[str] = set()
    for policy in baseline.trust_policies:
        for statement in _as_list(policy.document.get("Statement")):
            if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
                continue
            principal = statement.get("Principal")
            if isinstance(principal, Mapping):
                for kind, values in principal.items():
                    principals.update(f"{kind}:{v}" for v in _as_list(values))
            elif principal is not None:
                principals.add(f"*:{principal}")
            conditions.add(json.dumps(statement.get("Condition"), sort_keys=True))
    return principals, conditions


def diff_revisions(before: Baseline, after: Baseline) -> BaselineDiff:
    """What changes from ``before`` to ``after`` (for ``iam-audit baseline diff ID@A ID@B``)."""
    grants_before, grants_after = _grants(before), _grants(after)

    def shown(
        keys: set[tuple[str, str]], grants: dict[tuple[str, str], tuple[str, set[str]]]
    ) -> tuple[str, ...]:
        return tuple(sorted((grants[k][0] for k in keys), key=str.lower))

    added = set(grants_after) - set(grants_before)
    removed = set(grants_before) - set(grants_after)
    changed = tuple(
        GrantChange(
            effect,
            grants_after[(effect, key)][0],
            tuple(sorted(grants_before[(effect, key)][1])),
            tuple(sorted(grants_after[(effect, key)][1])),
        )
        for effect, key in sorted(set(grants_before) & set(grants_after))
        if grants_before[(effect, key)][1] != grants_after[(effect, key)][1]
    )
    principals_before, conditions_before = _trust_principals(before)
    principals_after, conditions_after = _trust_principals(after)
    tokens_before = {p.token for p in before.placeholders}
    tokens_after = {p.token for p in after.placeholders}
    both_trusted = before.trust_policy is not None and after.trust_policy is not None
    return BaselineDiff(
        before=before.ref,
        after=after.ref,
        actions_added=shown({k for k in added if k[0] == "Allow"}, grants_after),
        actions_removed=shown({k for k in removed if k[0] == "Allow"}, grants_before),
        denied_added=shown({k for k in added if k[0] != "Allow"}, grants_after),
        denied_removed=shown({k for k in removed if k[0] != "Allow"}, grants_before),
        grants_changed=changed,
        managed_added=tuple(sorted(set(after.managed_policies) - set(before.managed_policies))),
        managed_removed=tuple(sorted(set(before.managed_policies) - set(after.managed_policies))),
        trust_before=before.trust_policy is not None,
        trust_after=after.trust_policy is not None,
        trust_principals_added=tuple(sorted(principals_after - principals_before)),
        trust_principals_removed=tuple(sorted(principals_before - principals_after)),
        trust_conditions_changed=both_trusted and conditions_before != conditions_after,
        placeholders_added=tuple(sorted(tokens_after - tokens_before)),
        placeholders_removed=tuple(sorted(tokens_before - tokens_after)),
    )
