"""JSON that stays readable without ``indent``: objects and arrays are laid out one member per line
down to a depth, and each value below it is written on one line by the C encoder.

``json.dumps(indent=2)`` falls back to the pure-Python encoder, which takes seconds on the
18,000 findings of a large account; this layout costs a fraction of that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any


def _one_line_encoder(default: Callable[[Any], Any] | None) -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False)`` with ``, `` and ``: `` separators, set up once for many calls."""
    base = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), default=default)
    make = getattr(_encoder, "c_make_encoder", None)
    if make is None:
        return base.encode
    iterate = make(None, base.default, _encoder.encode_basestring, None, ": ", ", ", False, False, True)

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return base.encode(value)
        return "".join(iterate(value, 0))

    return encode


def readable(value: Any, expand: int, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as JSON: objects above depth ``expand`` and arrays down to it one member per line."""
    return _layout(value, expand, 0, _one_line_encoder(default)) + "\n"


def _layout(value: Any, expand: int, depth: int, encode: Callable[[Any], str]) -> str:
    is_list = isinstance(value, (list, tuple))
    if not value or not (is_list or isinstance(value, dict)) or depth > expand or (depth == expand and not is_list):
        return encode(value)
    pad = "  " * (depth + 1)
    if isinstance(value, dict):
        members = [f"{pad}{encode(str(key))}: {_layout(item, expand, depth + 1, encode)}"
                   for key, item in value.items()]
        return "{\n" + ",\n".join(members) + "\n" + "  " * depth + "}"
    items = [pad + _layout(item, expand, depth + 1, encode) for item in value]
    return "[\n" + ",\n".join(items) + "\n" + "  " * depth + "]"
