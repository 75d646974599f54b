"""JSON that stays readable without ``indent``: objects and arrays are laid out one member per line
down to a depth, and each value below it is written on one line by the C encoder.

``json.dumps(indent=2)`` falls back to the pure-Python encoder, which takes seconds on the
18,000 findings of a large account; this layout costs a fraction of that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from json import encoder as _encoder
from typing import Any


def _one_line_encoder(default: Callable[[Any], Any] | None) -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False)`` with ``, `` and ``: `` separators, set up once for many calls."""
    def fallback(value: Any) -> Any:
        if isinstance(value, LazyItems):
            return list(value)
        if default is None:
            raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
        return default(value)

    base = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), default=fallback)
    make = getattr(_encoder, "c_make_encoder", None)
    if make is None:
        return base.encode
    iterate = make(None, base.default, _encoder.encode_basestring, None, ": ", ", ", False, False, True)

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return base.encode(value)
        return "".join(iterate(value, 0))

    return encode


class LazyItems:
    """An array whose items are made one at a time as they are written (see ``readable_chunks``): a report
    of many findings never holds all their JSON objects at once."""

    def __init__(self, items: Sequence[Any], convert: Callable[[Any], Any]) -> None:
        self._items = items
        self._convert = convert

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return map(self._convert, self._items)


def readable(value: Any, expand: int, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as JSON: objects above depth ``expand`` and arrays down to it one member per line."""
    return "".join(readable_chunks(value, expand, default))


def readable_chunks(value: Any, expand: int, default: Callable[[Any], Any] | None = None) -> Iterator[str]:
    """The text of ``readable`` in pieces, for writing as it is made."""
    yield from _layout(value, expand, 0, _one_line_encoder(default))
    yield "\n"


def _layout(value: Any, expand: int, depth: int, encode: Callable[[Any], str]) -> Iterator[str]:
    if _on_one_line(value, expand, depth):
        yield encode(value)
        return
    pad = "  " * (depth + 1)
    if isinstance(value, dict):
        yield "{\n"
        for position, (key, item) in enumerate(value.items()):
            yield (",\n" if position else "") + f"{pad}{encode(str(key))}: "
            yield from _layout(item, expand, depth + 1, encode)
        yield "\n" + "  " * depth + "}"
        return
    yield "[\n"
    for position, item in enumerate(value):
        yield ",\n" + pad if position else pad
        if _on_one_line(item, expand, depth + 1):  # the usual member: no generator for it
            yield encode(item)
        else:
            yield from _layout(item, expand, depth + 1, encode)
    yield "\n" + "  " * depth + "]"


def _on_one_line(value: Any, expand: int, depth: int) -> bool:
    is_list = isinstance(value, (list, tuple, LazyItems))
    return (not (is_list or isinstance(value, dict)) or not len(value) or depth > expand
            or (depth == expand and not is_list))
