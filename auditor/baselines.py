"""Documented vendor baselines: what a vendor tells its customers to create in AWS.

Baselines are YAML files under ``rules/baselines/<vendor>/<name>.yaml`` (a second
revision of the same baseline as ``<name>@<revision>.yaml``); the format is
documented in ``rules/baselines/README.md``. Users add their own directories
through ``extra_paths``. Policy documents stay plain dicts here: the normaliser
turns them into :class:`auditor.model.Policy` objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.model import TEMPLATE_VALUE

if TYPE_CHECKING:
    from auditor.model import Principal

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
    "name_is_unknown",
    "not_compared_notes",
    "resolve_baseline",
]

BASELINE_CACHE_FORMAT = 1


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
    ``matches``: a shell pattern every value must match to be inferred from a target
    (the vendor's account in a role ARN), so that any value cannot pass for the placeholder.
    ``scope``: where the token stands for this placeholder, when a document writes one token for two things
    (``trust``: the trust policy and its alternatives; ``policies``: the permission policies); None: everywhere.
    """

    token: str
    name: str
    meaning: str = ""
    example: str | None = None
    kind: str = "placeholder"
    matches: str | None = None
    scope: str | None = None

    def admits(self, value: str) -> bool:
        return self.matches is None or fnmatchcase(value, self.matches)

    def stands_in(self, scope: str) -> bool:
        """Whether the token means this placeholder in documents of ``scope`` (``trust`` or ``policies``)."""
        return self.scope is None or self.scope == scope


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
        """Whether ``name`` fits a pattern, in any letter case (IAM names are unique regardless of case).

        A name a template or configuration builds at deploy time holds its unknown parts as ``{{...}}``
        placeholders (``StackStateEventBridgeRole-{{AWS::Region}}``): it fits when its literal text does and each
        placeholder, which stands for at least one character, falls where the pattern leaves characters open (a
        ``*`` or ``?``). The pattern's own letters must come from the name's, so a name whose literal part
        contradicts it (``Other-{{AWS::Region}}``), that starts with a stack name where the pattern starts with a
        letter (``{{AWS::StackName}}VendorRole``), or that is wholly unknown (``{{var.name}}``), does not fit
        ``Vendor*Role``."""
        if "{{" not in name:
            return any(fnmatchcase(name.lower(), pattern.lower()) for pattern in self.name_patterns)
        return any(_fits(name, pattern, free=False) for pattern in self.name_patterns)

    def could_match(self, name: str) -> bool:
        """Whether some value of the placeholders in ``name`` would make it fit a pattern (any letter case): for a
        name that is wholly unknown (``{{var.name}}``), whether the baseline could be the one that applies."""
        return any(_fits(name, pattern, free=True) for pattern in self.name_patterns)


_HOLE = ""
"""A placeholder among a name's characters: a run of characters known only at deploy time."""


def name_is_unknown(name: str) -> bool:
    """Whether a principal's name is decided wholly at deploy time: placeholders, and no letter or digit besides."""
    return "{{" in name and not any(char.isalnum() for char in TEMPLATE_VALUE.sub("", name))


def not_compared_notes(principals: Iterable[Principal], baselines: Sequence[Baseline],
                       compared: Collection[tuple[str, str]]) -> list[str]:
    """For "not checked": each user, group or role whose name is decided wholly at deploy time (``{{var.name}}``,
    see :func:`name_is_unknown`) and that was compared with no baseline (``compared``: the (name, path) of each
    principal that was), with the baselines of its kind whose name patterns its name could take. A principal no
    baseline could apply to is not listed."""
    notes = []
    for principal in principals:
        if not name_is_unknown(principal.name) or (principal.name, principal.source.display_path) in compared:
            continue
        refs = [b.ref for b in baselines if b.principal.kind == principal.kind and b.principal.could_match(
            principal.name)]
        if not refs:
            continue
        shown = ", ".join(refs[:_SHOWN_REFS]) + (f" and {len(refs) - _SHOWN_REFS} more" if len(refs) > _SHOWN_REFS
                                                 else "")
        location = principal.location()
        notes.append(f"{location.path}:{location.line}: {principal.kind} {principal.name}: its name is known only "
                     f"when deployed, so it was not compared with the baselines it could be named for ({shown}); "
                     "give it a literal name, or map it to its baseline with [[baselines]] in the configuration")
    return notes


_SHOWN_REFS = 5


def _name_tokens(name: str) -> list[str]:
    """The name's characters, lower-cased, each placeholder (and each run of them) as one ``_HOLE``."""
    tokens: list[str] = []
    position = 0
    for match in TEMPLATE_VALUE.finditer(name):
        tokens += name[position:match.start()].lower()
        if not tokens or tokens[-1] != _HOLE:
            tokens.append(_HOLE)
        position = match.end()
    return tokens + list(name[position:].lower())


def _pattern_tokens(pattern: str) -> list[str]:
    """A shell pattern's items, lower-cased: ``*``, ``?``, a ``[...]`` class, or one character (``[*]``, ``[?]``
    for the characters themselves, as fnmatch reads them)."""
    tokens: list[str] = []
    pattern = pattern.lower()
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "[":
            end = index + 1
            if end < len(pattern) and pattern[end] == "!":
                end += 1
            if end < len(pattern) and pattern[end] == "]":
                end += 1
            end = pattern.find("]", end)
            if end != -1:
                tokens.append(pattern[index:end + 1])
                index = end + 1
                continue
        tokens.append(char)
        index += 1
    return tokens


def _fits(name: str, pattern: str, free: bool) -> bool:
    """Whether ``name`` (with placeholders) fits ``pattern`` for some value of its placeholders. A placeholder
    stands for at least one character (a stack name, a region, a variable's value): ``free``, any characters, the
    pattern's literal ones too; else only what the pattern's wildcards leave open."""
    left, right = _name_tokens(name), _pattern_tokens(pattern)
    seen: set[tuple[int, int, bool]] = set()
    pending = [(0, 0, False)]  # (name item, pattern item, whether the placeholder at the name item covers any)
    while pending:
        state = pending.pop()
        if state in seen:
            continue
        seen.add(state)
        i, j, covering = state
        if i == len(left) and j == len(right):
            return True
        item = right[j] if j < len(right) else None
        if item == "*":
            pending.append((i, j + 1, covering))  # the star ends
            if i < len(left):
                pending.append((i + 1, j, False))  # it covers a character (or a whole placeholder) of the name
        if i == len(left):
            continue
        if left[i] == _HOLE:
            if covering:
                pending.append((i + 1, j, False))  # the placeholder ends
            if item is not None and (free or item in ("*", "?")):
                pending.append((i, j + 1, True))  # it covers an item of the pattern
        elif item is not None and item != "*" and (item == "?" or fnmatchcase(left[i], item)):
            pending.append((i + 1, j + 1, False))
    return False


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
    combines: tuple[Baseline, ...] = ()
    """For several baselines one principal is mapped to, compared as one (``combine_baselines``): those."""

    @property
    def ref(self) -> str:
        """``id@revision``: names this revision exactly (of each, for combined baselines: ``a@r1 + b@r2``)."""
        if self.combines:
            return " + ".join(part.ref for part in self.combines)
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

        def binder(scope: str) -> Callable[[BaselinePolicy], BaselinePolicy]:
            pairs = sorted(((p.token, values[p.name]) for p in bound if p.stands_in(scope)),
                           key=lambda pair: -len(pair[0]))
            return lambda policy: replace(policy, document=_substitute(policy.document, pairs))

        bind_trust, bind_policy = binder("trust"), binder("policies")
        return replace(
            self,
            trust_policy=bind_trust(self.trust_policy) if self.trust_policy is not None else None,
            alternative_trust_policies=tuple(bind_trust(p) for p in self.alternative_trust_policies),
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


def load_baseline_file(path: Path | str) -> Baseline:
    """Load and check one baseline file; :class:`BaselineError` names ``file:line:column`` on a bad one.

    A file that passed its checks once is read back from the cache directory (keyed by its contents and the
    reader's code) rather than parsed again: round-trip YAML parsing costs a tenth of a second per run.
    """
    from auditor.reading import read_regular_text

    path = Path(path)
    try:
        text = read_regular_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(path, 0, 0, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    key = _cache_key(text)
    cached = _read_cached(key, path)
    if cached is not None:
        return cached
    from auditor.baseline_reader import parse_baseline
    from auditor.catalog import write_derived

    baseline = parse_baseline(path, text)
    if key is not None:
        write_derived("baseline", key, _to_plain(baseline))
    return baseline


def _cache_key(text: str) -> str | None:
    """The baseline's text and the state of the code that checks it; None when that code cannot be seen."""
    reader = Path(__file__).with_name("baseline_reader.py")
    try:
        code = reader.stat()
        own = Path(__file__).stat()
    except OSError:
        return None
    return f"{BASELINE_CACHE_FORMAT}|{code.st_size}|{code.st_mtime_ns}|{own.st_size}|{own.st_mtime_ns}|{text}"


def _read_cached(key: str | None, path: Path) -> Baseline | None:
    from auditor.catalog import read_derived

    data = read_derived("baseline", key) if key is not None else None
    if data is None:
        return None
    try:
        return _from_plain(data, path)
    except (KeyError, TypeError, AttributeError):
        return None  # not ours: parsed again and rewritten


def _to_plain(baseline: Baseline) -> dict[str, Any]:
    plain = asdict(baseline)
    plain.pop("path")
    return plain


def _from_plain(data: dict[str, Any], path: Path) -> Baseline:
    def policy(item: dict[str, Any]) -> BaselinePolicy:
        return BaselinePolicy(item["name"], item["kind"], item["document"], item["description"])

    principal, provenance = data["principal"], data["provenance"]
    return Baseline(
        id=data["id"], revision=data["revision"], default=data["default"], title=data["title"],
        vendor=data["vendor"],
        principal=PrincipalSpec(principal["kind"], tuple(principal["name_patterns"])),
        provenance=Provenance(provenance["document"], provenance["vendor_url"], provenance["revision"],
                              tuple(provenance["blocks"])),
        policies=tuple(policy(item) for item in data["policies"]),
        trust_policy=policy(data["trust_policy"]) if data["trust_policy"] is not None else None,
        alternative_trust_policies=tuple(policy(item) for item in data["alternative_trust_policies"]),
        managed_policies=tuple(data["managed_policies"]),
        optional_managed_policies=tuple(data["optional_managed_policies"]),
        placeholders=tuple(Placeholder(**item) for item in data["placeholders"]),
        defects=tuple(data["defects"]),
        notes=tuple(data["notes"]),
        path=path,
    )


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
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".yaml", ".yml") and p.is_file())


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
        files = _baseline_files(root)
        if not files:
            raise BaselineError(root, 0, 0, "no baseline file (.yaml, .yml) in this folder")
        layers.append([load_baseline_file(p) for p in files])
    return BaselineSet(layers)


def resolve_baseline(ref_or_path: str, extra_paths: Iterable[Path | str] = ()) -> Baseline:
    """A baseline file path, a plain policy file, else a bundled (or extra) baseline id or ``id@revision``."""
    candidate = Path(ref_or_path)
    if candidate.exists() and not candidate.is_file() and not candidate.is_dir():
        from auditor.reading import NOT_REGULAR

        raise BaselineError(candidate, 0, 0, NOT_REGULAR)
    if candidate.is_file():
        if candidate.suffix.lower() in (".yaml", ".yml") and _is_baseline_text(candidate):
            return load_baseline_file(candidate)
        return baseline_from_policy_file(candidate)
    try:
        return load_bundled_baselines(extra_paths).get(ref_or_path)
    except UnknownBaselineError as exc:
        if candidate.suffix.lower() in (".json", ".yaml", ".yml") or ref_or_path.startswith(("/", ".", "~")):
            raise UnknownBaselineError(f"no such file: {ref_or_path} (a baseline is a file or a bundled id: "
                                       f"iam-audit baseline list)") from exc
        raise


def _document_at(policy: Any) -> Mapping[str, Any]:
    """The policy document as written (the loader keeps only its normal form)."""
    from auditor.loaders import is_yaml_name
    from auditor.loaders.parse import parse_json, parse_yaml

    text = policy.source.document_text() or ""
    parse = parse_yaml if is_yaml_name(policy.source.display_path, text) else parse_json
    document = parse(text, policy.source.display_path).data
    for token in filter(None, policy.pointer.split("/")):  # "", /PolicyDocument or /PolicyVersion/Document
        document = document[token]
    return document if isinstance(document, Mapping) else {}


def _is_baseline_text(path: Path) -> bool:
    """A baseline file names its ``id`` at the top level; a YAML policy document does not."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return any(line.startswith("id:") for line in handle)
    except OSError:
        return True  # load_baseline_file reports it


def _file_id(path: Path) -> str:
    """``file/`` and the path without its suffix, from the working folder when the file is under it
    (``file/vendor-a/policies/base``), else from the root: one id per file, whichever way it is named."""
    resolved = path.resolve()
    try:
        shown = resolved.relative_to(Path.cwd().resolve())
    except ValueError:
        shown = resolved
    return "file/" + shown.with_suffix("").as_posix().lstrip("/")


GRAMMAR_ERRORS = frozenset({"not-a-policy", "bad-effect", "action-element", "resource-element", "principal-element",
                            "wrong-type", "unknown-element", "bad-condition-block", "duplicate-key"})
"""Grammar errors that leave a policy saying something other than its author meant (a ``Statement`` of null
grants nothing): a policy file with one is no baseline to compare with, and ``drift`` reports them in a target."""


def baseline_from_policy_file(path: Path) -> Baseline:
    """A policy document (JSON or YAML) used as the documented policy: an identity, trust or resource policy
    by its content, with no principal name patterns (an export's principal is chosen with ``--principal``)."""
    from auditor.loaders import LoadOptions, load_paths
    from auditor.model import PolicyKind

    loaded = load_paths([str(path)], LoadOptions())
    for error in loaded.errors:
        raise BaselineError(path, error.line, error.column, error.message)
    for source, problem in loaded.document_problems:
        line, column = (problem.line, problem.column) if problem.line else source.locate(problem.pointer)
        raise BaselineError(path, line, column, problem.message)
    standalone = [p for p in loaded.policies if p.subject is None]
    if len(standalone) != 1 or loaded.principals:
        reason = "; ".join(reason for _, reason in loaded.skipped) or (
            f"it holds {len(loaded.policies)} policies and {len(loaded.principals)} principals")
        raise BaselineError(path, 0, 0, f"not a baseline file (YAML with an id) nor one policy document: {reason}")
    policy = standalone[0]
    for problem in policy.problems:
        if problem.rule in GRAMMAR_ERRORS:
            line, column = (problem.line, problem.column) if problem.line else policy.source.locate(problem.pointer)
            raise BaselineError(path, line, column, f"{problem.message}: not a policy to compare with")
    document = _document_at(policy)
    provenance = Provenance(document=str(path))
    name = path.stem
    identifier = _file_id(path)
    if policy.kind is PolicyKind.TRUST:
        return Baseline(identifier, "file", True, path.name, "(file)", PrincipalSpec("role"), provenance, (),
                        trust_policy=BaselinePolicy(name, "trust", document), path=path)
    principal = PrincipalSpec("resource" if policy.kind is PolicyKind.RESOURCE else "role")
    return Baseline(identifier, "file", True, path.name, "(file)", principal, provenance,
                    (BaselinePolicy(name, policy.kind.value, document),), path=path)


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


def combine_baselines(parts: Sequence[Baseline]) -> Baseline:
    """Several baselines of one principal as one: their permission policies, managed policies and placeholders
    together, their trust policies' statements in one trust policy (a role that serves both integrations trusts
    what each documents)."""
    first = parts[0]
    trusts = [part.trust_policy for part in parts if part.trust_policy is not None]
    trust = None
    if trusts:
        statements = [statement for policy in trusts for statement in _statements_of(policy.document)]
        trust = BaselinePolicy(" + ".join(policy.name for policy in trusts), "trust",
                               {"Version": "2012-10-17", "Statement": statements})
    placeholders: dict[str, Placeholder] = {}
    for part in parts:
        for placeholder in part.placeholders:
            placeholders.setdefault(placeholder.name, placeholder)
    return replace(
        first,
        id=" + ".join(part.id for part in parts),
        revision=" + ".join(part.revision for part in parts),
        title=" + ".join(part.title for part in parts),
        policies=tuple(policy for part in parts for policy in part.policies),
        trust_policy=trust,
        alternative_trust_policies=(),
        managed_policies=tuple(dict.fromkeys(arn for part in parts for arn in part.managed_policies)),
        optional_managed_policies=tuple(dict.fromkeys(arn for part in parts for arn in part.optional_managed_policies)),
        placeholders=tuple(placeholders.values()),
        defects=tuple(defect for part in parts for defect in part.defects),
        notes=tuple(note for part in parts for note in part.notes),
        combines=tuple(parts),
    )


def _statements_of(document: Mapping[str, Any]) -> list[Any]:
    statements = document.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]
