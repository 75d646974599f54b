"""Project configuration: ``.iam-audit.toml`` or ``[tool.iam-audit]`` in ``pyproject.toml``.

Discovered upward from the working directory (the first folder holding either file wins, as
ruff does); ``--config FILE`` names one. Every value remembers where it came from (``default``,
``file:line`` or ``command line``) so that ``iam-audit config`` can say so, and so that a bad
value is reported at its line. Paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from auditor.model import ACCOUNT, Severity

CONFIG_FILENAME = ".iam-audit.toml"
PYPROJECT = "pyproject.toml"
DEFAULT_MAX_FILE_SIZE_MB = 200
DEFAULT_MAX_NESTING = 200
DEFAULT = "default"
COMMAND_LINE = "command line"

_TOP_LEVEL_KEYS = (
    "select", "ignore", "severity", "fail-on", "include", "exclude", "force-exclude", "baselines", "vars",
    "baseline-paths", "escalation-paths", "max-file-size", "max-nesting", "suppress", "accepted",
    "trusted-accounts", "kinds",
)
POLICY_KIND_NAMES = ("identity", "resource", "trust", "organization", "boundary", "endpoint")
"""What ``--kind`` and the ``kinds`` table may call a standalone policy file (``boundary``: a permissions
boundary, an identity policy that grants nothing; ``endpoint``: a VPC endpoint policy, which grants nothing either)."""
_SUPPRESS_KEYS = ("rule", "reason", "path", "principal", "policy", "sid", "expires")
_BASELINE_KEYS = ("principal", "baseline", "vars")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


class ConfigError(ValueError):
    """A configuration problem, located in the file: ``path:line:col: message``."""

    def __init__(self, path: str, message: str, line: int = 0, column: int = 0) -> None:
        self.path, self.message, self.line, self.column = path, message, line, column
        where = f"{path}:{line}:{column}" if line else path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class BaselineMapping:
    """Principals whose name matches ``pattern`` (a glob) are compared with ``baseline``."""

    pattern: str
    baseline: str
    """A bundled baseline id, or a path (made absolute against the config file's folder)."""
    vars: Mapping[str, str] = field(default_factory=dict)
    origin: str = DEFAULT


@dataclass(frozen=True, slots=True)
class Suppression:
    """Findings of ``rule`` (id, slug or category) within the scope are reported as suppressed."""

    rule: str
    reason: str
    path: str | None = None
    principal: str | None = None
    policy: str | None = None
    sid: str | None = None
    expires: _dt.date | None = None
    origin: str = COMMAND_LINE
    """``file:line`` of the entry."""

    def expired(self, today: _dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def describe(self) -> str:
        scope = [f"{name} {value!r}" for name, value in
                 (("path", self.path), ("principal", self.principal), ("policy", self.policy), ("sid", self.sid))
                 if value is not None]
        return f"{self.rule}" + (f" for {', '.join(scope)}" if scope else " everywhere")


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    """The file the configuration was read from (None: defaults only)."""
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    fail_on: Severity | None = Severity.HIGH
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    """Apply ``exclude`` to files named on the command line too (for pre-commit)."""
    baselines: tuple[BaselineMapping, ...] = ()
    vars: Mapping[str, str] = field(default_factory=dict)
    baseline_paths: tuple[Path, ...] = ()
    escalation_paths: tuple[Path, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE_MB
    """Largest file read, in MB."""
    max_nesting: int = DEFAULT_MAX_NESTING
    suppress: tuple[Suppression, ...] = ()
    accepted: Path | None = None
    trusted_accounts: tuple[str, ...] = ()
    """Your own AWS accounts (your organisation's): their principals need no sts:ExternalId to assume a role
    (IAM031), and a resource policy may grant them access (IAM036)."""
    kinds: tuple[tuple[str, str], ...] = ()
    """(glob, kind) in the file's order: the kind of the standalone policy files the glob matches (relative to the
    file's folder), the first match winning; the others' kind is inferred. ``--kind`` wins over it."""
    origins: Mapping[str, str] = field(default_factory=dict)
    """Where each value came from, by config key (``fail-on``) or ``severity.<name>``."""

    def origin(self, key: str) -> str:
        return self.origins.get(key, DEFAULT)

    @property
    def root(self) -> Path:
        """The folder relative paths in the configuration are resolved against."""
        return self.path.parent if self.path is not None else Path.cwd()

    def override(self, key: str, value: Any) -> Config:
        """A copy with one value set from the command line."""
        attribute = key.replace("-", "_")
        origins = dict(self.origins)
        origins[key] = COMMAND_LINE
        return replace(self, **{attribute: value}, origins=origins)

    def context_options(self) -> dict[str, Any]:
        """What rules may read through ``CheckContext.options``."""
        return {
            "escalation_paths": self.escalation_paths,
            "baseline_paths": self.baseline_paths,
            "baselines": self.baselines,
            "vars": dict(self.vars),
            "trusted_accounts": self.trusted_accounts,
        }


def _parse_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return tomllib.loads(text)


def discover_config(start: Path) -> Path | None:
    """The nearest ``.iam-audit.toml``, or ``pyproject.toml`` with ``[tool.iam-audit]``, upward from start."""
    directory = start.resolve()
    for folder in (directory, *directory.parents):
        candidate = folder / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file():
            try:
                text = pyproject.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if re.search(r"^\s*\[\s*tool\s*\.\s*[\"']?iam-audit[\"']?\s*[.\]]", text, re.MULTILINE):
                return pyproject
            if "iam-audit" in text and _may_configure(text):
                return pyproject
    return None


def _may_configure(pyproject_text: str) -> bool:
    """Whether a ``pyproject.toml`` that names iam-audit other than by a ``[tool.iam-audit]`` header holds its
    table (``iam-audit = {...}`` under ``[tool]``, dotted keys), or is not TOML at all (a header cut short:
    ``[tool.iam-audit``), which loading it then reports: a configuration is never ignored without a word."""
    try:
        document = _parse_toml(pyproject_text)
    except ValueError:
        return True
    tool = document.get("tool")
    return isinstance(tool, dict) and "iam-audit" in tool


def load_config(path: Path | None = None, *, start: Path | None = None, discover: bool = True) -> Config:
    """Read ``path``, or the discovered file; defaults when there is none."""
    if path is None and discover:
        path = discover_config(start or Path.cwd())
    if path is None:
        return Config()
    shown = _display(path)
    from auditor.reading import read_regular_text

    try:
        text = read_regular_text(path)
    except FileNotFoundError:
        raise ConfigError(shown, "config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = "not text (UTF-8)" if isinstance(exc, UnicodeDecodeError) else getattr(exc, "strerror", None) or exc
        raise ConfigError(shown, f"cannot read config file: {why}") from None
    try:
        document = _parse_toml(text)
    except ValueError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        if match:
            line, column = int(match.group(1)), int(match.group(2))
        else:  # "(at end of document)"
            line, column = text.count("\n") + 1, len(text.rpartition("\n")[2]) + 1
        message = re.sub(r"\s*\(at [^)]*\)", "", message).strip()
        raise ConfigError(shown, f"invalid TOML: {message}", line, column) from None
    is_pyproject = path.name == PYPROJECT
    if is_pyproject:
        tool = document.get("tool")
        table = tool.get("iam-audit") if isinstance(tool, dict) else None
        if table is None:
            raise ConfigError(shown, "no [tool.iam-audit] table in this pyproject.toml")
        if not isinstance(table, dict):
            line, column = _Lines(text, "tool").key("iam-audit")
            raise ConfigError(shown, "[tool.iam-audit] must be a table", line, column)
    else:
        table = document
    return _Reader(path, text, "tool.iam-audit" if is_pyproject else "").read(table)


def _display(path: Path) -> str:
    """The path as findings show theirs: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


class _Lines:
    """Finds the line of a key by scanning the file text (TOML parsers do not keep positions)."""

    def __init__(self, text: str, prefix: str) -> None:
        self.lines = text.splitlines()
        self.prefix = prefix

    def _header(self, table: str, array: bool) -> str:
        name = f"{self.prefix}.{table}" if self.prefix and table else self.prefix or table
        escaped = r"\s*\.\s*".join(rf"[\"']?{re.escape(part)}[\"']?" for part in name.split("."))
        return rf"^\s*\[\[\s*{escaped}\s*\]\]" if array else rf"^\s*\[\s*{escaped}\s*\]"

    def _table_start(self, table: str, index: int | None) -> int:
        """0-based line index where the table's own keys start (-1: top of the file)."""
        if not table and not self.prefix:
            return -1
        pattern = re.compile(self._header(table, index is not None))
        seen = 0
        for number, line in enumerate(self.lines):
            if pattern.match(line):
                if index is None or seen == index:
                    return number
                seen += 1
        return -1

    def entry(self, table: str, index: int) -> int:
        """1-based line of the ``index``-th ``[[table]]`` header (the first mention of the table otherwise)."""
        start = self._table_start(table, index)
        return start + 1 if start >= 0 else self.key(table)[0]

    def key(self, key: str, table: str = "", index: int | None = None) -> tuple[int, int]:
        """1-based (line, column) of ``key`` in ``table`` (the ``index``-th entry of an array of tables)."""
        key_pattern = re.compile(rf"^(\s*)[\"']?{re.escape(key)}[\"']?\s*=")
        start = self._table_start(table, index)
        for number in range(start + 1, len(self.lines)):
            line = self.lines[number]
            if re.match(r"^\s*\[", line):  # the next table header ends this table
                break
            match = key_pattern.match(line)
            if match:
                return number + 1, len(match.group(1)) + 1
        sub_table = re.compile(self._header(f"{table}.{key}" if table else key, False)
                               + "|" + self._header(f"{table}.{key}" if table else key, True))
        for number, line in enumerate(self.lines):  # the key names a table of its own: [key] or [[key]]
            if sub_table.match(line):
                return number + 1, 1
        if start >= 0:
            return start + 1, 1
        for number, line in enumerate(self.lines):  # inline tables, dotted keys: the first mention
            column = line.find(key)
            if column >= 0:
                return number + 1, column + 1
        return 1, 1


class _Reader:
    def __init__(self, path: Path, text: str, prefix: str) -> None:
        self.path = path
        self.shown = _display(path)
        self.lines = _Lines(text, prefix)
        self.origins: dict[str, str] = {}

    def error(self, message: str, key: str, table: str = "", index: int | None = None) -> ConfigError:
        line, column = self.lines.key(key, table, index)
        return ConfigError(self.shown, message, line, column)

    def origin(self, key: str, table: str = "", index: int | None = None) -> str:
        line, _ = self.lines.key(key, table, index)
        return f"{self.shown}:{line}"

    def resolve_path(self, value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (self.path.parent / candidate).resolve()

    def strings(self, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
        """A list of strings. A lone string is refused, as a wrong type: ``include = "*.json, *.yaml"`` would be one
        glob that matches no file, ``exclude = "vendor/*, test/*"`` would leave every file in."""
        value = table[key]
        if isinstance(value, str):
            import json

            raise self.error(f"{key} must be a list of strings: write {key} = [{json.dumps(value)}]", key)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise self.error(f"{key} must be a list of strings", key)

    def integer(self, table: Mapping[str, Any], key: str) -> int:
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.error(f"{key} must be a positive integer", key)
        return value

    def string_table(self, value: Any, key: str, table: str = "", index: int | None = None) -> dict[str, str]:
        """A table of names to strings. A number, boolean or date is refused rather than converted (Python would
        spell ``true`` as ``True`` and drop an account id's leading zeros): the user quotes it."""
        if not isinstance(value, dict):
            raise self.error(f"{key} must be a table of strings", key, table, index)
        for name, item in value.items():
            if isinstance(item, str):
                continue
            where = (key, table, index) if table else (name, key, None)
            if isinstance(item, bool | int | float | _dt.date | _dt.time):
                spelled = ("true" if item else "false") if isinstance(item, bool) else \
                    item.isoformat() if isinstance(item, _dt.date | _dt.time) else str(item)
                raise self.error(f'{key}: {name} must be a string: write it in quotes ({name} = "{spelled}")',
                                 *where)
            raise self.error(f"{key}: {name} must be a string, not {_toml_type(item)}", *where)
        return {str(name): item for name, item in value.items()}

    def read(self, table: Mapping[str, Any]) -> Config:
        for key in table:
            if key not in _TOP_LEVEL_KEYS:
                raise self.error(f"unknown key {key!r}; known keys: {', '.join(_TOP_LEVEL_KEYS)}", key)
        for key in table:
            self.origins[key] = self.origin(key)
        values = {key.replace("-", "_"): self.read_value(table, key) for key in _TOP_LEVEL_KEYS if key in table}
        return Config(path=self.path, origins=self.origins, **values)

    def read_value(self, table: Mapping[str, Any], key: str) -> Any:
        """The value of the top-level ``key`` as :class:`Config` holds it (a located error when it is wrong)."""
        value = table[key]
        if key in ("select", "ignore", "include", "exclude"):
            return self.strings(table, key)
        if key in ("max-file-size", "max-nesting"):
            return self.integer(table, key)
        if key in ("baseline-paths", "escalation-paths"):
            return tuple(self.resolve_path(path) for path in self.strings(table, key))
        if key == "fail-on":
            return self.read_fail_on(value)
        if key == "force-exclude":
            if not isinstance(value, bool):
                raise self.error("force-exclude must be true or false", key)
            return value
        if key == "trusted-accounts":
            return self.read_trusted_accounts(table)
        if key == "accepted":
            if not isinstance(value, str):
                raise self.error("accepted must be a path", key)
            return self.resolve_path(value)
        if key == "vars":
            return self.string_table(value, key)
        if key == "severity":
            return self.read_severity(value)
        if key == "kinds":
            return self.read_kinds(value)
        if key == "baselines":
            return self.read_baselines(value)
        return self.read_suppressions(value)

    def read_fail_on(self, value: Any) -> Severity | None:
        if not isinstance(value, str):
            raise self.error("fail-on must be a string", "fail-on")
        if value.strip().lower() == "never":
            return None
        try:
            return Severity.parse(value)
        except ValueError as exc:
            raise self.error(f"fail-on: {exc} or never", "fail-on") from None

    def read_trusted_accounts(self, table: Mapping[str, Any]) -> tuple[str, ...]:
        written = table["trusted-accounts"]
        if isinstance(written, int) or (isinstance(written, list) and any(isinstance(i, int) for i in written)):
            raise self.error('trusted-accounts: write account ids as strings ("012345678901"): a number loses '
                             "its leading zeros", "trusted-accounts")
        accounts = self.strings(table, "trusted-accounts")
        for account in accounts:
            if not ACCOUNT.fullmatch(account):
                raise self.error(f"trusted-accounts: {account!r} is not an AWS account id (12 digits, written "
                                 'as a string: "012345678901")', "trusted-accounts")
        return accounts

    def read_kinds(self, value: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict):
            raise self.error('kinds must be a table: glob = kind ("scps/*.json" = "organization")', "kinds")
        kinds = []
        for pattern, kind in value.items():
            self.origins[f"kinds.{pattern}"] = self.origin(pattern, "kinds")
            if not isinstance(kind, str) or kind.strip().lower() not in POLICY_KIND_NAMES:
                raise self.error(f"kinds: {pattern} = {kind!r} is not a kind: write one of "
                                 f"{', '.join(POLICY_KIND_NAMES)}", pattern, "kinds")
            kinds.append((str(pattern), kind.strip().lower()))
        return tuple(kinds)

    def read_severity(self, value: Any) -> dict[str, Severity]:
        if not isinstance(value, dict):
            raise self.error("severity must be a table: rule id, slug or category = severity", "severity")
        result = {}
        for name, level in value.items():
            self.origins[f"severity.{name}"] = self.origin(name, "severity")
            try:
                if not isinstance(level, str):
                    raise ValueError(f"expected a severity name, not {level!r}")
                result[str(name)] = Severity.parse(level)
            except ValueError as exc:
                raise self.error(f"severity of {name}: {exc}", name, "severity") from None
        return result

    def read_baselines(self, value: Any) -> tuple[BaselineMapping, ...]:
        mappings = []
        if isinstance(value, dict):  # [baselines] "Pattern*" = "vendor/id" or {baseline = ..., vars = {...}}
            for pattern, target in value.items():
                origin = self.origin(pattern, "baselines")
                if isinstance(target, str):
                    mappings.append(BaselineMapping(pattern, self.baseline_target(target), {}, origin))
                elif isinstance(target, dict):
                    mappings.append(self.baseline_entry({"principal": pattern, **target}, origin, pattern, None))
                else:
                    raise self.error("a baseline mapping is a baseline id, a path or a table", pattern, "baselines")
        elif isinstance(value, list):  # [[baselines]] principal = ..., baseline = ..., vars = {...}
            for index, entry in enumerate(value):
                if not isinstance(entry, dict):
                    raise self.error("each [[baselines]] entry must be a table", "baselines")
                origin = f"{self.shown}:{self.lines.entry('baselines', index)}"
                mappings.append(self.baseline_entry(entry, origin, "principal", index))
        else:
            raise self.error("baselines must be a table or an array of tables", "baselines")
        return tuple(mappings)

    def baseline_target(self, target: str) -> str:
        looks_like_path = target.endswith((".json", ".yaml", ".yml", ".md")) or target.startswith((".", "/", "~"))
        return str(self.resolve_path(target)) if looks_like_path else target

    def baseline_entry(self, entry: Mapping[str, Any], origin: str, key: str, index: int | None) -> BaselineMapping:
        for name in entry:
            if name not in _BASELINE_KEYS:
                raise self.error(f"unknown key {name!r} in a baseline mapping; known keys: "
                                 f"{', '.join(_BASELINE_KEYS)}", name, "baselines", index)
        pattern, target = entry.get("principal"), entry.get("baseline")
        if not isinstance(pattern, str) or not isinstance(target, str):
            raise self.error("a baseline mapping needs principal (a glob) and baseline (an id or a path)",
                             key, "baselines", index)
        variables = self.string_table(entry.get("vars", {}), "vars", "baselines", index)
        return BaselineMapping(pattern, self.baseline_target(target), variables, origin)

    def read_suppressions(self, value: Any) -> tuple[Suppression, ...]:
        if not isinstance(value, list):
            raise self.error("suppress must be an array of tables ([[suppress]])", "suppress")
        result = []
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                raise self.error("each [[suppress]] entry must be a table", "suppress")
            for name in entry:
                if name not in _SUPPRESS_KEYS:
                    raise self.error(f"unknown key {name!r} in a suppression; known keys: "
                                     f"{', '.join(_SUPPRESS_KEYS)}", name, "suppress", index)
            rule = entry.get("rule")
            if not isinstance(rule, str) or not rule.strip():
                raise self.error("a suppression needs rule (a rule id, slug or category)", "rule", "suppress", index)
            reason = entry.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                raise self.error(f"the suppression of {rule} has no reason; say why it is acceptable",
                                 "rule", "suppress", index)
            scope: dict[str, str] = {}
            for name in ("path", "principal", "policy", "sid"):
                if name in entry:
                    if not isinstance(entry[name], str):
                        raise self.error(f"{name} must be a string", name, "suppress", index)
                    scope[name] = entry[name]
            expires = entry.get("expires")
            if isinstance(expires, str):
                try:
                    expires = _dt.date.fromisoformat(expires)
                except ValueError:
                    raise self.error(f"expires must be a date YYYY-MM-DD, not {expires!r}", "expires", "suppress",
                                     index) from None
            elif isinstance(expires, _dt.datetime):
                expires = expires.date()
            elif expires is not None and not isinstance(expires, _dt.date):
                raise self.error("expires must be a date YYYY-MM-DD", "expires", "suppress", index)
            line = self.lines.entry("suppress", index)
            result.append(Suppression(rule.strip(), reason.strip(), expires=expires, origin=f"{self.shown}:{line}",
                                      **scope))
        return tuple(result)


def _toml_type(value: Any) -> str:
    return "a table" if isinstance(value, dict) else "an array" if isinstance(value, list) else type(value).__name__


def _at(origin: str, message: str) -> ValueError:
    """A :class:`ConfigError` at ``origin`` (``file:line``), or a plain ValueError for a value of no file."""
    if origin in (DEFAULT, COMMAND_LINE):
        return ValueError(message)
    path, _, line = origin.rpartition(":")
    return ConfigError(path, message, int(line), 1)


def validate_names(config: Config, known: set[str]) -> None:
    """Every rule id, slug or category the configuration names must exist."""

    def check(name: str, origin: str, what: str) -> None:
        if name.lower() not in known:
            raise _at(origin, f"{what}: unknown rule, slug or category {name!r}; `iam-audit rules` lists them")

    for key in ("select", "ignore"):
        for name in getattr(config, key):
            check(name, config.origin(key), key)
    for name in config.severity:
        check(name, config.origin(f"severity.{name}"), "severity")
    for suppression in config.suppress:
        check(suppression.rule, suppression.origin, "suppress")


def validate_baselines(config: Config) -> None:
    """Every baseline a ``[[baselines]]`` mapping names must exist, and its ``vars`` must be placeholders of that
    baseline: a :class:`ConfigError` at the line of the entry otherwise, as for every other configuration error.
    (``[vars]`` binds placeholders of any baseline, so it may hold names one baseline or another lacks.)"""
    if not config.baselines:
        return
    from auditor.baselines import BaselineError, UnknownBaselineError, resolve_baseline

    for mapping in config.baselines:
        try:
            baseline = resolve_baseline(mapping.baseline, config.baseline_paths)
        except (UnknownBaselineError, BaselineError) as exc:
            raise _at(mapping.origin, f"baselines: {exc}") from None
        names = sorted(placeholder.name for placeholder in baseline.placeholders)
        for name in mapping.vars:
            if name not in names:
                raise _at(mapping.origin, f"baselines: vars: {baseline.ref} has no placeholder {name!r} (it has: "
                                          f"{', '.join(names) or 'none'})")


def accepted_not_written(config: Config) -> tuple[Config, str | None]:
    """``accepted`` of the configuration naming a file that does not exist yet (the README's example configuration,
    pasted before any ``--write-accepted``): nothing is accepted yet, which hides no finding, so the run goes on
    without it, with a note (``file:line:col: ...``) that says how to record the findings. An ``--accepted`` file of
    the command line that does not exist stays an error (a mistyped name)."""
    origin = config.origin("accepted")
    if config.accepted is None or origin in (DEFAULT, COMMAND_LINE) or os.path.lexists(config.accepted):
        return config, None
    shown, folder = _display(config.accepted), _display(config.root)
    note = (f"{origin}:1: accepted: {shown} does not exist yet, so no finding is accepted; record today's findings "
            f"with `iam-audit check {folder} --write-accepted {shown}`")
    return replace(config, accepted=None), note


def validate_baseline_paths(config: Config) -> None:
    """Every folder (or file) ``baseline-paths`` names must exist and hold valid baselines: a :class:`ConfigError` at
    the key's line otherwise, naming the folder, or the file and what is wrong in it, as for ``escalation-paths``.
    (A missing folder was taken for a baseline id: "unknown baseline '/abs/folder'".)"""
    if not config.baseline_paths:
        return
    from auditor.baselines import BaselineError, load_bundled_baselines

    origin = config.origin("baseline-paths")
    for path in config.baseline_paths:
        if not path.exists():
            raise _at(origin, f"baseline-paths: {path}: no such folder of baselines")
    try:
        load_bundled_baselines(config.baseline_paths)
    except BaselineError as exc:
        raise _at(origin, f"baseline-paths: {exc}") from None


def validate_escalation_paths(config: Config) -> None:
    """Every folder ``escalation-paths`` names must exist and hold valid path definitions (a :class:`ConfigError` at
    the key's line otherwise, naming the folder or file and what is wrong in it), as ``baseline-paths`` must."""
    if not config.escalation_paths:
        return
    from auditor.knowledge import KnowledgeError, load_escalation_paths

    try:
        load_escalation_paths(config.escalation_paths)
    except KnowledgeError as exc:
        raise _at(config.origin("escalation-paths"), f"escalation-paths: {exc}") from None


def describe(config: Config) -> str:
    """The resolved configuration as TOML, each value followed by where it came from."""
    import json

    def toml(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, Path):
            return json.dumps(str(value))
        if isinstance(value, _dt.date):
            return value.isoformat()
        if isinstance(value, Severity):
            return json.dumps(value.value)
        if isinstance(value, Mapping):
            return "{" + ", ".join(f"{json.dumps(str(k))} = {toml(v)}" for k, v in value.items()) + "}"
        if isinstance(value, tuple | list):
            return "[" + ", ".join(toml(item) for item in value) + "]"
        return json.dumps(str(value))

    source = str(config.path) if config.path is not None else "none (defaults)"
    lines = [f"# configuration file: {source}"]
    simple = (("select", config.select), ("ignore", config.ignore),
              ("fail-on", config.fail_on.value if config.fail_on is not None else "never"),
              ("include", config.include), ("exclude", config.exclude), ("force-exclude", config.force_exclude),
              ("vars", dict(config.vars)),
              ("baseline-paths", config.baseline_paths), ("escalation-paths", config.escalation_paths),
              ("max-file-size", config.max_file_size), ("max-nesting", config.max_nesting),
              ("trusted-accounts", config.trusted_accounts))
    for key, value in simple:
        lines.append(f"{key} = {toml(value)}  # {config.origin(key)}")
    if config.accepted is not None:
        lines.append(f"accepted = {toml(config.accepted)}  # {config.origin('accepted')}")
    else:
        lines.append(f"# accepted: none  # {config.origin('accepted')}")
    lines.append("")
    lines.append(f"[severity]  # {config.origin('severity')}")
    for name, level in config.severity.items():
        lines.append(f"{json.dumps(name)} = {toml(level)}  # {config.origin('severity.' + name)}")
    if config.kinds:
        lines += ["", f"[kinds]  # {config.origin('kinds')}"]
        lines += [f"{json.dumps(pattern)} = {toml(kind)}  # {config.origin('kinds.' + pattern)}"
                  for pattern, kind in config.kinds]
    for mapping in config.baselines:
        lines += ["", f"[[baselines]]  # {mapping.origin}", f"principal = {toml(mapping.pattern)}",
                  f"baseline = {toml(mapping.baseline)}", f"vars = {toml(dict(mapping.vars))}"]
    for suppression in config.suppress:
        lines += ["", f"[[suppress]]  # {suppression.origin}", f"rule = {toml(suppression.rule)}"]
        for name in ("path", "principal", "policy", "sid", "expires"):
            value = getattr(suppression, name)
            if value is not None:
                lines.append(f"{name} = {toml(value)}")
        lines.append(f"reason = {toml(suppression.reason)}")
    return "\n".join(lines) + "\n"
