"""Where a document came from, and how a JSON pointer inside it maps to a line and column.

Positions are resolved lazily: parsing uses the C JSON parser, and only a file that
has something to report is scanned once more to map pointers to offsets.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def join_pointer(pointer: str, token: str | int) -> str:
    return f"{pointer}/{escape_pointer_token(token)}"


def parent_pointer(pointer: str) -> str:
    return pointer.rpartition("/")[0]


class Source:
    """One file the user gave (or one region of it, for a policy embedded in a document).

    ``positions`` maps JSON pointers to (line, column); when absent and ``text`` is
    JSON, the map is built on first use. ``line_offset``/``column_offset`` shift
    positions for text cut out of a larger document (a code block in markdown).
    """

    __slots__ = ("_line_starts", "_positions", "column_offset", "display_path", "line_offset", "text")

    def __init__(
        self,
        display_path: str,
        text: str | None = None,
        positions: dict[str, tuple[int, int]] | None = None,
        line_offset: int = 0,
        column_offset: int = 0,
    ) -> None:
        self.display_path = display_path
        self.text = text
        self._positions = positions
        self._line_starts: list[int] | None = None
        self.line_offset = line_offset
        self.column_offset = column_offset

    def locate(self, pointer: str) -> tuple[int, int]:
        """1-based (line, column) of the value at ``pointer``, or of its nearest ancestor."""
        positions = self._positions_map()
        probe = pointer
        while True:
            found = positions.get(probe)
            if found is not None:
                return found
            if not probe:
                return (0, 0) if self.text is None else (1 + self.line_offset, 1)
            probe = parent_pointer(probe)

    def has_pointer(self, pointer: str) -> bool:
        return pointer in self._positions_map()

    def line_text(self, line: int) -> str | None:
        """The text of 1-based ``line`` in this source's own text, if it has any."""
        if self.text is None:
            return None
        local = line - self.line_offset
        starts = self._starts()
        if local < 1 or local > len(starts):
            return None
        start = starts[local - 1]
        end = starts[local] - 1 if local < len(starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def _starts(self) -> list[int]:
        if self._line_starts is None:
            assert self.text is not None
            starts = [0]
            find = self.text.find
            pos = find("\n")
            while pos != -1:
                starts.append(pos + 1)
                pos = find("\n", pos + 1)
            self._line_starts = starts
        return self._line_starts

    def offset_to_position(self, offset: int) -> tuple[int, int]:
        starts = self._starts()
        index = bisect.bisect_right(starts, offset) - 1
        column = offset - starts[index] + 1
        if index == 0:
            column += self.column_offset
        return index + 1 + self.line_offset, column

    def _positions_map(self) -> dict[str, tuple[int, int]]:
        if self._positions is None:
            self._positions = {}
            if self.text is not None:
                for pointer, offset in scan_json_offsets(self.text):
                    self._positions[pointer] = self.offset_to_position(offset)
        return self._positions

    def duplicate_keys(self) -> list[tuple[str, str, tuple[int, int]]]:
        """(object pointer, key, position of the repeated key) for every repeated key."""
        if self.text is None:
            return []
        found = []
        for pointer, key, offset in scan_duplicate_keys(self.text):
            found.append((pointer, key, self.offset_to_position(offset)))
        return found


class _Frame:
    __slots__ = ("expect_key", "index", "is_object", "key", "keys", "pointer")

    def __init__(self, pointer: str, is_object: bool) -> None:
        self.pointer = pointer
        self.is_object = is_object
        self.index = 0
        self.key: str | None = None
        self.expect_key = is_object
        self.keys: set[str] | None = set() if is_object else None


def _walk_tokens(text: str) -> Iterator[tuple[str, str, int, _Frame | None]]:
    """Yield ("value", pointer, offset, None) for each value start and ("key", key, offset, frame)."""
    stack: list[_Frame] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        offset = match.start()
        first = token[0]
        top = stack[-1] if stack else None
        if first == ",":
            if top is not None:
                if top.is_object:
                    top.expect_key = True
                else:
                    top.index += 1
            continue
        if first == ":":
            continue
        if first in "}]":
            if stack:
                stack.pop()
            continue
        if top is not None and top.is_object and top.expect_key:
            if first == '"':
                key = _decode_string(token)
                top.key = key
                top.expect_key = False
                yield ("key", key, offset, top)
            continue
        if top is None:
            pointer = ""
        elif top.is_object:
            pointer = join_pointer(top.pointer, top.key or "")
        else:
            pointer = join_pointer(top.pointer, top.index)
        yield ("value", pointer, offset, None)
        if first == "{":
            stack.append(_Frame(pointer, True))
        elif first == "[":
            stack.append(_Frame(pointer, False))


def scan_json_offsets(text: str) -> Iterator[tuple[str, int]]:
    """(pointer, offset) of every value in a JSON text; for a repeated key the last wins."""
    for kind, pointer, offset, _ in _walk_tokens(text):
        if kind == "value":
            yield pointer, offset


def scan_duplicate_keys(text: str) -> Iterator[tuple[str, str, int]]:
    for kind, key, offset, frame in _walk_tokens(text):
        if kind == "key" and frame is not None and frame.keys is not None:
            if key in frame.keys:
                yield frame.pointer, key, offset
            else:
                frame.keys.add(key)


def _decode_string(token: str) -> str:
    if "\\" not in token:
        return token[1:-1]
    import json

    try:
        value = json.loads(token)
    except ValueError:
        return token[1:-1]
    return value if isinstance(value, str) else token[1:-1]
