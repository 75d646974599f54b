"""A quick way into ``iam-audit check`` for plain command lines, read from the command's own signature.

Typer builds a validator per parameter on every run, which costs more than checking a
small policy. For ``check`` with options of simple types (strings, integers, paths,
flags, repeatable options) this module parses the command line itself, from the
``typer.Option``/``typer.Argument`` declarations of :func:`auditor.cli_check.check` (read with a
stand-in, so that Typer is not even imported), and calls
the function directly. Anything it does not know for certain (``--help``, an unknown or
abbreviated option, a value it cannot convert, a parameter type it does not handle)
returns ``None`` and the caller hands the command line to Typer, which then gives its
usual help or error.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_INTEGER = re.compile(r"[+-]?\d+\Z")
_CONVERTERS: dict[Any, Callable[[str], Any]] = {str: str, Path: Path, int: int}


class _Unsupported(Exception):
    """The command line (or the command) needs Typer."""


@dataclass(frozen=True)
class _Parameter:
    name: str
    convert: Callable[[str], Any] | None
    """None for a flag."""
    multiple: bool
    default: Any
    minimum: float | None = None
    maximum: float | None = None


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise _Unsupported
        return members[0]
    return annotation


def _converter(annotation: Any) -> Callable[[str], Any]:
    converter = _CONVERTERS.get(annotation)
    if converter is None:
        raise _Unsupported
    if annotation is int:
        def to_int(value: str) -> int:
            if not _INTEGER.match(value):
                raise _Unsupported
            return int(value)
        return to_int
    return converter


@dataclass(frozen=True, eq=False)  # hashed by identity: Python 3.10's get_type_hints hashes Annotated metadata
class _Declared:
    """What ``typer.Option(...)``/``typer.Argument(...)`` was given, read without importing Typer."""

    is_option: bool
    param_decls: tuple[str, ...]
    settings: dict[str, Any]


class _TyperStandIn:
    """Evaluates the annotations of a command in place of the ``typer`` module."""

    @staticmethod
    def Option(*param_decls: Any, **settings: Any) -> _Declared:
        return _Declared(True, tuple(param_decls), settings)

    @staticmethod
    def Argument(*param_decls: Any, **settings: Any) -> _Declared:
        return _Declared(False, tuple(param_decls), settings)


def _annotated_outside(hint: Any) -> Any:
    """``Optional[Annotated[X, ...]]``, as Python 3.10's ``get_type_hints`` gives a parameter whose default is None,
    as the ``Annotated[Optional[X], ...]`` written."""
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return hint
    members = typing.get_args(hint)
    annotated = [m for m in members if typing.get_origin(m) is typing.Annotated]
    if len(members) != 2 or type(None) not in members or len(annotated) != 1:
        return hint
    inner = annotated[0]
    arguments = (typing.Optional[inner.__origin__], *inner.__metadata__)
    return typing.Annotated[arguments]


def describe(function: Callable[..., Any]) -> tuple[dict[str, _Parameter], _Parameter | None, dict[str, Any]]:
    """Options by spelling, the positional parameter, and every parameter's default."""
    import inspect

    command = inspect.unwrap(function)
    names = {**command.__globals__, "typer": _TyperStandIn}
    hints = typing.get_type_hints(command, globalns=names, include_extras=True)
    options: dict[str, _Parameter] = {}
    positional: _Parameter | None = None
    defaults: dict[str, Any] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        hint = _annotated_outside(hints.get(name))
        if typing.get_origin(hint) is not typing.Annotated:
            raise _Unsupported
        base, *extras = typing.get_args(hint)
        infos = [e for e in extras if isinstance(e, _Declared)]
        if len(infos) != 1:
            raise _Unsupported
        info = infos[0]
        if any(info.settings.get(attribute) for attribute in ("callback", "envvar", "is_eager", "parser",
                                                               "click_type", "autocompletion", "shell_complete")):
            raise _Unsupported
        default = parameter.default
        if default is inspect.Parameter.empty:
            default = _REQUIRED
        defaults[name] = default
        base = _unwrap_optional(base)
        multiple = typing.get_origin(base) is list
        if multiple:
            (base,) = typing.get_args(base)
        if not info.is_option:
            if positional is not None or not multiple:
                raise _Unsupported
            positional = _Parameter(name, _converter(base), True, default)
            continue
        spellings = [d for d in info.param_decls if isinstance(d, str)]
        if len(spellings) != len(info.param_decls) or "default" in info.settings:
            raise _Unsupported
        declarations = [d for d in spellings if d.startswith("-")] or [f"--{name.replace('_', '-')}"]
        if any("/" in d for d in declarations):
            raise _Unsupported
        convert = None if base is bool and not multiple else _converter(base)
        minimum = info.settings.get("min")
        maximum = info.settings.get("max")
        entry = _Parameter(name, convert, multiple, default, minimum, maximum)
        for spelling in declarations:
            options[spelling] = entry
    return options, positional, defaults


_REQUIRED = object()


def _within(value: int, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def parse(function: Callable[..., Any], argv: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for ``function`` from ``argv``; raises ``_Unsupported`` when Typer must decide."""
    options, positional, defaults = describe(function)
    values: dict[str, Any] = {}
    collected: dict[str, list[Any]] = {}
    positionals: list[str] = []
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == "--":
            positionals.extend(tokens[index:])
            break
        if not token.startswith("-") or token == "-":
            positionals.append(token)
            continue
        spelling, has_value, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        entry = options.get(spelling)
        if entry is None:
            raise _Unsupported
        if entry.convert is None:
            if has_value:
                raise _Unsupported
            values[entry.name] = True
            continue
        if has_value:
            raw = inline
        elif index < len(tokens):
            raw = tokens[index]
            index += 1
        else:
            raise _Unsupported
        value = entry.convert(raw)
        if isinstance(value, int) and not _within(value, entry.minimum, entry.maximum):
            raise _Unsupported
        if entry.multiple:
            collected.setdefault(entry.name, []).append(value)
        else:
            values[entry.name] = value
    if positional is None or not positionals:
        raise _Unsupported
    assert positional.convert is not None
    values[positional.name] = [positional.convert(p) for p in positionals]
    values.update(collected)
    for entry in options.values():  # Typer hands an absent repeatable option over as an empty tuple
        if entry.multiple and entry.name not in values and defaults[entry.name] is None:
            values[entry.name] = ()
    arguments = {name: values.get(name, default) for name, default in defaults.items()}
    if any(value is _REQUIRED for value in arguments.values()):
        raise _Unsupported
    return arguments


def run_check(argv: Sequence[str]) -> int | None:
    """The exit code of ``check`` run without Typer's parsing, or None when Typer must handle ``argv``."""
    if not argv or argv[0] != "check":
        return None
    from auditor import cli_check

    try:
        arguments = parse(cli_check.check, argv[1:])
    except _Unsupported:
        return None
    try:
        return cli_check.check(**arguments)
    except cli_check.UsageProblem as problem:
        sys.stderr.write(f"iam-audit: error: {problem}\n")
        return 2
    except EOFError:
        sys.stderr.write("\nAborted!\n")
        return 1
