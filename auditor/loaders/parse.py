"""Text to data, with positions: JSON through the C parser, YAML through ruamel.yaml.

Nothing here evaluates its input: YAML tags never construct Python objects (the
round-trip loader keeps them as tagged values, which we turn into CloudFormation's
long form or plain data), and alias expansion is bounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from auditor.source import Source, join_pointer

MAX_NESTING = 200
MAX_YAML_NODES = 2_000_000

CFN_SHORT_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!GetAZs": "Fn::GetAZs",
}


class ParseError(Exception):
    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class ParsedText:
    data: Any
    source: Source
    duplicate_keys: tuple[tuple[str, str, tuple[int, int]], ...]


def decode_bytes(raw: bytes) -> str:
    """Decode a file's bytes as UTF-8 (a BOM is accepted); raise ParseError with the position otherwise."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ParseError(f"invalid UTF-16: {exc.reason}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise ParseError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}): save the file as UTF-8", line, column) \
            from None
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise ParseError("contains a NUL byte: this is a binary file, not a policy", line, column)
    return text


def _depth_exceeded(text: str, limit: int) -> int:
    """Offset where bracket nesting first exceeds ``limit`` (ignoring strings), or -1."""
    depth = 0
    in_string = False
    escaped = False
    for offset, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return offset
        elif ch in "]}":
            depth -= 1
    return -1


def parse_json(text: str, display_path: str, max_nesting: int = MAX_NESTING) -> ParsedText:
    seen_duplicate = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal seen_duplicate
        result = dict(pairs)
        if len(result) != len(pairs):
            seen_duplicate = True
        return result

    source = Source(display_path, text)
    try:
        data = json.loads(text, object_pairs_hook=pairs_hook)
    except RecursionError:
        offset = _depth_exceeded(text, max_nesting)
        line, column = source.offset_to_position(max(offset, 0))
        raise ParseError(f"nesting deeper than {max_nesting} levels", line, column) from None
    except json.JSONDecodeError as exc:
        raise ParseError(_json_message(exc, text), exc.lineno, exc.colno) from None
    duplicates = tuple(source.duplicate_keys()) if seen_duplicate else ()
    return ParsedText(data, source, duplicates)


def _json_message(exc: json.JSONDecodeError, text: str) -> str:
    message = exc.msg
    if not text.strip():
        return "the file is empty"
    line_text = text.splitlines()[exc.lineno - 1] if exc.lineno <= len(text.splitlines()) else ""
    if line_text.lstrip().startswith(("//", "#", "/*")):
        return "JSON has no comments: remove the comment line"
    if message.startswith("Expecting property name enclosed in double quotes"):
        return "expected a key in double quotes (a trailing comma before '}'?)"
    if message == "Extra data":
        return "extra data after the end of the JSON document (two documents in one file, or a stray bracket?)"
    return message[0].lower() + message[1:] if message else "invalid JSON"


def parse_yaml(text: str, display_path: str, max_nesting: int = MAX_NESTING) -> ParsedText:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    try:
        loaded = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        column = mark.column + 1 if mark else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise ParseError(f"invalid YAML: {problem}", line, column) from None
    except YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ParseError(f"nesting deeper than {max_nesting} levels") from None
    positions: dict[str, tuple[int, int]] = {}
    duplicates: list[tuple[str, str, tuple[int, int]]] = []
    converter = _YamlConverter(positions, duplicates, max_nesting)
    data = converter.convert(loaded, "", (1, 1), 0)
    return ParsedText(data, Source(display_path, text, positions), tuple(duplicates))


class _YamlConverter:
    def __init__(
        self,
        positions: dict[str, tuple[int, int]],
        duplicates: list[tuple[str, str, tuple[int, int]]],
        max_nesting: int,
    ) -> None:
        self.positions = positions
        self.duplicates = duplicates
        self.max_nesting = max_nesting
        self.nodes = 0

    def convert(self, node: Any, pointer: str, position: tuple[int, int], depth: int) -> Any:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise ParseError(
                f"YAML expands to more than {MAX_YAML_NODES:,} values (an alias bomb?)", position[0], position[1]
            )
        if depth > self.max_nesting:
            raise ParseError(f"nesting deeper than {self.max_nesting} levels", position[0], position[1])
        self.positions.setdefault(pointer, position)
        tag = _tag_of(node)
        if isinstance(node, CommentedMap):
            result: dict[str, Any] = {}
            seen: set[str] = set()
            for key, value in node.items():
                key_text = str(key)
                try:
                    line, col = node.lc.value(key)
                    child_position = (line + 1, col + 1)
                except (KeyError, TypeError, AttributeError):
                    child_position = position
                if key_text in seen:
                    try:
                        kline, kcol = node.lc.key(key)
                        self.duplicates.append((pointer, key_text, (kline + 1, kcol + 1)))
                    except (KeyError, TypeError, AttributeError):
                        self.duplicates.append((pointer, key_text, position))
                seen.add(key_text)
                result[key_text] = self.convert(value, join_pointer(pointer, key_text), child_position, depth + 1)
            converted: Any = result
        elif isinstance(node, CommentedSeq):
            items = []
            for index, value in enumerate(node):
                try:
                    line, col = node.lc.item(index)
                    child_position = (line + 1, col + 1)
                except (KeyError, TypeError, AttributeError, IndexError):
                    child_position = position
                items.append(self.convert(value, join_pointer(pointer, index), child_position, depth + 1))
            converted = items
        elif isinstance(node, TaggedScalar):
            converted = node.value
        elif node is None or isinstance(node, (bool, int, float, str)):
            converted = node if not isinstance(node, str) else str(node)
        else:
            converted = str(node)
        if tag is not None and tag.startswith("!"):
            name = CFN_SHORT_TAGS.get(tag, "Fn::" + tag[1:])
            return {name: converted}
        return converted


def _tag_of(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    if tag is None:
        return None
    value = getattr(tag, "value", None)
    return value if isinstance(value, str) else None
