"""Where a document came from, and how a JSON pointer inside it maps to a line and column.

Positions are resolved lazily: parsing uses the C JSON parser, and only a file that
has something to report is scanned once more to map pointers to offsets.
"""

from __future__ import annotations

import bisect
import json.scanner
import re
from collections.abc import Iterator
from json.decoder import scanstring  # type: ignore[attr-defined]

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def escape_pointer_token(token: str | int) -> str:
    text = str(token)
    if "~" in text or "/" in text:
        return text.replace("~", "~0").replace("/", "~1")
    return text


def join_pointer(pointer: str, token: str | int) -> str:
    return f"{pointer}/{escape_pointer_token(token)}"


def parent_pointer(pointer: str) -> str:
    return pointer.rpartition("/")[0]


class Source:
    """One file the user gave (or one region of it, for a policy embedded in a document).

    ``positions`` maps JSON pointers to (line, column); when absent and ``text`` is
    JSON, pointers are resolved on demand by :class:`_JsonIndex`, which walks only the
    containers on the way to the pointers asked for. ``line_offset``/``column_offset``
    shift positions for text cut out of a larger document (a code block in markdown).
    """

    __slots__ = ("_index", "_lines", "_positions", "column_offset", "display_path", "line_offset", "text",
                 "unique_keys")

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
        self._index: _JsonIndex | None = None
        self._lines: _LineIndex | None = None
        self.line_offset = line_offset
        self.column_offset = column_offset
        self.unique_keys = False
        """Set by the JSON parser when no object repeats a key: locating may then stop at the key it wants."""

    def locate(self, pointer: str) -> tuple[int, int]:
        """1-based (line, column) of the value at ``pointer``, or of its nearest ancestor."""
        if self._positions is None and self.text is not None:
            index = self._json_index()
            if index is not None:
                offset = index.deepest_offset(pointer)
                return self.offset_to_position(offset) if offset is not None else (1 + self.line_offset, 1)
        positions = self._positions_map()
        probe = pointer
        while True:
            found = positions.get(probe)
            if found is not None:
                return found
            if not probe:
                return (0, 0) if self.text is None else (1 + self.line_offset, 1)
            probe = parent_pointer(probe)

    def where(self, pointer: str) -> tuple[str, int, int]:
        """(file, line, column) of the value at ``pointer``: this file's, unless another file writes it (see
        ``SpreadSource``)."""
        return (self.display_path, *self.locate(pointer))

    def has_pointer(self, pointer: str) -> bool:
        if self._positions is None and self.text is not None:
            index = self._json_index()
            if index is not None:
                return index.offset(pointer) is not None
        return pointer in self._positions_map()

    def document_text(self) -> str | None:
        """The whole text of the source, if it has one."""
        return self.text

    def document_lines(self) -> tuple[int, int]:
        """The first and last line of the file that this source's document holds: (0, 0) for the whole file."""
        return (0, 0)

    def line_text(self, line: int) -> str | None:
        """The text of 1-based ``line`` in this source's own text, if it has any."""
        if self.text is None:
            return None
        bounds = self._line_index().line_bounds(line - self.line_offset)
        if bounds is None:
            return None
        return self.text[bounds[0]:bounds[1]].rstrip("\r\n")

    def _line_index(self) -> _LineIndex:
        if self._lines is None:
            assert self.text is not None
            self._lines = _LineIndex(self.text)
        return self._lines

    def offset_to_position(self, offset: int) -> tuple[int, int]:
        index, column = self._line_index().position(offset)
        if index == 0:
            column += self.column_offset
        return index + 1 + self.line_offset, column

    def _json_index(self) -> _JsonIndex | None:
        if self._index is None:
            assert self.text is not None
            try:
                self._index = _JsonIndex(self.text, self.unique_keys)
            except ValueError:
                self._positions_map()  # not JSON: the tolerant token scan below
                return None
        return self._index

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


_BLOCK = 1 << 12  # small enough that locating one of 18,000 findings scans little, few enough blocks to index fast


class SpreadSource(Source):
    """A file read together with others (the files of a Terraform module), some of whose pointers stand for what
    another file writes: a role's ``ManagedPolicyArns/0`` for the attachment resource of another file."""

    __slots__ = ("elsewhere",)

    def __init__(self, display_path: str, text: str, positions: dict[str, tuple[int, int]]) -> None:
        super().__init__(display_path, text, positions)
        self.elsewhere: dict[str, tuple[str, int, int]] = {}

    def where(self, pointer: str) -> tuple[str, int, int]:
        found = self.elsewhere.get(pointer)
        return found if found is not None else super().where(pointer)

    def has_pointer(self, pointer: str) -> bool:
        return pointer in self.elsewhere or super().has_pointer(pointer)


class _LineIndex:
    """Offset <-> line over a text, from newline counts per 4 KiB block (a few C-speed passes, little memory)."""

    __slots__ = ("_block_newlines", "_last_bounds", "_last_newline", "_newlines_before", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        newlines_before = [0]
        last_newline = [-1]
        count, last = 0, -1
        for start in range(0, len(text), _BLOCK):
            end = start + _BLOCK
            count += text.count("\n", start, end)
            found = text.rfind("\n", start, end)
            if found != -1:
                last = found
            newlines_before.append(count)
            last_newline.append(last)
        self._newlines_before = newlines_before
        self._last_newline = last_newline
        self._block_newlines: dict[int, list[int]] = {}
        self._last_bounds = (0, 0, -1)
        """(line, start, end) of the line last asked for: an excerpt asks for the next line after it."""

    def position(self, offset: int) -> tuple[int, int]:
        """(0-based line, 1-based column) of ``offset``."""
        block = min(max(offset, 0) // _BLOCK, len(self._newlines_before) - 1)
        block_start = block * _BLOCK
        line = self._newlines_before[block] + self.text.count("\n", block_start, offset)
        newline = self.text.rfind("\n", block_start, offset)
        if newline == -1:
            newline = self._last_newline[block]
        return line, offset - newline

    def _newlines_in(self, block: int) -> list[int]:
        found = self._block_newlines.get(block)
        if found is None:
            found = []
            end = (block + 1) * _BLOCK
            position = self.text.find("\n", block * _BLOCK, end)
            while position != -1:
                found.append(position)
                position = self.text.find("\n", position + 1, end)
            self._block_newlines[block] = found
        return found

    def line_bounds(self, line: int) -> tuple[int, int] | None:
        """[start, end) offsets of 1-based ``line`` without its newline, or None past the end."""
        total_lines = self._newlines_before[-1] + 1
        if line < 1 or line > total_lines:
            return None
        last_line, last_start, last_end = self._last_bounds
        if line == last_line:
            return last_start, last_end
        wanted = line - 1  # newlines before the line's start
        if line == last_line + 1:
            start = last_end + 1
        elif wanted:
            block = bisect.bisect_left(self._newlines_before, wanted) - 1
            start = self._newlines_in(block)[wanted - self._newlines_before[block] - 1] + 1
        else:
            start = 0
        end = self.text.find("\n", start)
        end = len(self.text) if end == -1 else end
        self._last_bounds = (line, start, end)
        return start, end


_SKIP_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _JsonIndex:
    """Offsets of JSON values by pointer, found by walking only the containers on a pointer's path.

    A container is walked with the C JSON scanner stepping over its children, keeping the
    offsets of the children it passes. The walk stops at the child asked for and resumes from
    there when a later child is wanted: in an array always, in an object only when the
    document has no repeated key (``unique_keys``); otherwise an object is walked to its end
    so that, as in the parsed document, a repeated key resolves to its last occurrence. A
    container directly under the root (an export's ``RoleDetailList``) is walked child by
    child when the root walk passes it, so that reaching one of its children later costs no
    second scan of it.
    """

    __slots__ = ("_ends", "_expanded", "_offsets", "_resume", "_scan", "_unique_keys", "text")

    def __init__(self, text: str, unique_keys: bool = False) -> None:
        self.text = text
        self._scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
        root = _SKIP_WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
        if root >= len(text):
            raise ValueError("empty document")
        self._offsets: dict[str, int] = {"": root}
        self._expanded: set[str] = set()
        self._ends: dict[str, int] = {}
        """Containers walked to their end: the offset just past the closing bracket."""
        self._resume: dict[str, tuple[str, int, int]] = {}
        """Containers walked part of the way: (the last child passed, its value's offset, the next index)."""
        self._unique_keys = unique_keys

    def offset(self, pointer: str) -> int | None:
        deepest, found = self._walk(pointer)
        return found if deepest == pointer else None

    def deepest_offset(self, pointer: str) -> int | None:
        return self._walk(pointer)[1]

    def _walk(self, pointer: str) -> tuple[str, int | None]:
        offsets = self._offsets
        found = offsets.get(pointer)
        if found is not None:
            return pointer, found
        current = ""
        position = offsets[""]
        if pointer and not pointer.startswith("/"):
            return current, position
        cut = 0
        while cut < len(pointer):
            following = pointer.find("/", cut + 1)
            cut = len(pointer) if following == -1 else following
            child = pointer[:cut]
            child_offset = offsets.get(child)
            if child_offset is None and current not in self._expanded:
                self._expand(current, position, child)
                child_offset = offsets.get(child)
            if child_offset is None:
                return current, position
            current, position = child, child_offset
        return current, position

    def _expand(self, pointer: str, offset: int, wanted: str | None) -> None:
        """Walk the container at ``offset`` on from where it was left, until ``wanted`` or its end."""
        text, offsets, skip = self.text, self._offsets, _SKIP_WHITESPACE.match
        opening = text[offset]
        if opening not in "{[":
            self._expanded.add(pointer)
            return
        closing = "}" if opening == "{" else "]"
        may_stop = opening == "[" or self._unique_keys
        passed = self._resume.pop(pointer, None)
        try:
            if passed is None:
                position = skip(text, offset + 1).end()  # type: ignore[union-attr]
                index = 0
                if text.startswith(closing, position):
                    self._ends[pointer] = position + 1
                    self._expanded.add(pointer)
                    return
            while True:
                if passed is not None:
                    child, value, index = passed
                    end = self._value_end(child, value, walk=pointer == "" and may_stop)
                    if end is None:
                        break
                    position = skip(text, end).end()  # type: ignore[union-attr]
                    if not text.startswith(",", position):
                        if text.startswith(closing, position):
                            self._ends[pointer] = position + 1
                        break
                    position = skip(text, position + 1).end()  # type: ignore[union-attr]
                if opening == "{":
                    if not text.startswith('"', position):
                        break
                    key, position = scanstring(text, position + 1)
                    position = skip(text, position).end()  # type: ignore[union-attr]
                    if not text.startswith(":", position):
                        break
                    position = skip(text, position + 1).end()  # type: ignore[union-attr]
                    child = join_pointer(pointer, key)
                else:
                    child = f"{pointer}/{index}"
                offsets[child] = position
                passed = (child, position, index + 1)
                if may_stop and child == wanted:
                    self._resume[pointer] = passed
                    return
        except (StopIteration, ValueError, IndexError):
            pass
        self._expanded.add(pointer)

    def _value_end(self, pointer: str, value: int, walk: bool) -> int | None:
        """Offset just past the value at ``value`` (None if it is not JSON); with ``walk``, a container is walked
        child by child, keeping its children's offsets, instead of being stepped over whole (only where no
        repeated key can leave the offsets of an earlier occurrence behind)."""
        if walk and self.text.startswith(("{", "["), value):
            if pointer not in self._expanded:
                self._expand(pointer, value, None)
            end = self._ends.get(pointer)
            if end is not None:
                return end
        try:
            return int(self._scan(self.text, value)[1])
        except (StopIteration, ValueError, IndexError):
            return None


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
