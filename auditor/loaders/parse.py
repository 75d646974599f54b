"""Text to data, with positions: JSON through the C parser, YAML through ruamel.yaml.

Nothing here evaluates its input: YAML tags never construct Python objects (the
round-trip loader keeps them as tagged values, which we turn into CloudFormation's
long form or plain data), and alias expansion is bounded.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from auditor.source import Source, join_pointer

MAX_NESTING = 200
MAX_NESTING_CEILING = 500
"""No --max-nesting goes above this: deeper data would exhaust Python's recursion limit downstream."""
MAX_YAML_NODES = 2_000_000

CFN_SHORT_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!GetAZs": "Fn::GetAZs",
}


class ParseError(Exception):
    def __init__(self, message: str, line: int = 0, column: int = 0, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.offset = offset
        """For JSON held in a string: where in that string the error is."""


@dataclass(frozen=True, slots=True)
class ParsedText:
    data: Any
    source: Source
    duplicate_keys: tuple[tuple[str, str, tuple[int, int]], ...]
    invalid_characters: tuple[int, int] | None = None
    """(line, column) of the first lone UTF-16 surrogate (from a ``\\ud800`` escape), if any."""


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_OR_ESCAPE = re.compile("[\ud800-\udfff]|" + r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def replace_surrogates(text: str) -> str:
    """Lone surrogates (half a UTF-16 pair, or undecodable file-name bytes) become U+FFFD.

    They are not characters: no output encoding can carry them, so none may reach a report.
    """
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _without_surrogates(data: Any) -> tuple[Any, bool]:
    """``data`` with every lone surrogate in keys and strings replaced; and whether there was one."""
    found = False

    def clean(value: Any) -> Any:
        nonlocal found
        if isinstance(value, str):
            if _SURROGATE.search(value):
                found = True
                return _SURROGATE.sub("\ufffd", value)
            return value
        return value

    root: list[Any] = [data]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        value = container[key]
        if isinstance(value, str):
            container[key] = clean(value)
        elif isinstance(value, list):
            stack.extend((value, index) for index in range(len(value)))
        elif isinstance(value, dict):
            if any(isinstance(k, str) and _SURROGATE.search(k) for k in value):
                rebuilt = {clean(k): v for k, v in value.items()}
                value.clear()
                value.update(rebuilt)
            stack.extend((value, k) for k in value)
    return root[0], found


def decode_bytes(raw: bytes) -> str:
    """Decode a file's bytes as UTF-8 (a BOM is accepted; UTF-16 and UTF-32 with a BOM too); raise ParseError
    otherwise."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        try:
            return _without_nul(raw.decode("utf-32"))
        except UnicodeDecodeError as exc:
            raise ParseError(f"invalid UTF-32: {exc.reason}") from None
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _without_nul(raw.decode("utf-16"))
        except UnicodeDecodeError as exc:
            raise ParseError(f"invalid UTF-16: {exc.reason}") from None
    if _looks_utf16_or_32(raw[:64]):
        raise ParseError("looks like UTF-16 or UTF-32 without a byte-order mark: save the file as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise ParseError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}): save the file as UTF-8", line, column) \
            from None
    return _without_nul(text)


def _looks_utf16_or_32(head: bytes) -> bool:
    """Every other byte of the first ones is NUL: ASCII text in UTF-16 or UTF-32 (no UTF-8 text looks so)."""
    return len(head) >= 4 and (set(head[1::2]) == {0} or set(head[0::2]) == {0})


def _without_nul(text: str) -> str:
    if "\x00" not in text:
        return text
    offset = text.index("\x00")
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    raise ParseError("contains a NUL byte: this is a binary file, not a policy", line, column)


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

    max_nesting = effective_nesting(max_nesting)
    source = Source(display_path, text)
    try:
        data = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_refuse_constant)
    except RecursionError:
        raise _nesting_error(text, source, max_nesting) from None
    except json.JSONDecodeError as exc:
        raise ParseError(_json_message(exc, text), exc.lineno, exc.colno) from None
    except _NotJson as exc:
        line, column = source.offset_to_position(exc.offset_in(text))
        raise ParseError(exc.message, line, column) from None
    except ValueError:  # an integer literal longer than Python reads (sys.get_int_max_str_digits())
        raise _long_number_error(text, source) from None
    if _may_nest_deeper(text, max_nesting) and nesting_exceeds(data, max_nesting):
        raise _nesting_error(text, source, max_nesting)
    duplicates = tuple(source.duplicate_keys()) if seen_duplicate else ()
    source.unique_keys = not seen_duplicate
    invalid = None
    if _may_hold_surrogates(text) and _SURROGATE_OR_ESCAPE.search(text):
        data, found = _without_surrogates(data)
        if found:
            match = _LONE_SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text)
            invalid = source.offset_to_position(match.start()) if match else (1, 1)
    return ParsedText(data, source, duplicates, invalid)


def _may_nest_deeper(text: str, limit: int) -> bool:
    """False when the text has too few brackets to nest deeper than ``limit`` (the usual case)."""
    return text.count("[") + text.count("{") > limit


def _may_hold_surrogates(text: str) -> bool:
    """False when the text can hold neither a surrogate nor a ``\\uD8xx`` escape of one."""
    return not text.isascii() or "\\u" in text


def effective_nesting(max_nesting: int) -> int:
    return max(1, min(max_nesting, MAX_NESTING_CEILING))


def nesting_exceeds(data: Any, limit: int) -> bool:
    """True when lists and objects nest deeper than ``limit`` (iterative: safe on any depth)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        for child in children:
            if isinstance(child, (dict, list)):
                push((child, depth + 1))
    return False


def _nesting_error(text: str, source: Source, max_nesting: int) -> ParseError:
    offset = _depth_exceeded(text, max_nesting)
    line, column = source.offset_to_position(offset) if offset >= 0 else (0, 0)
    return ParseError(nesting_message(max_nesting), line, column)


def nesting_message(max_nesting: int) -> str:
    """Why data nested deeper than the (effective) ``max_nesting`` is refused, and what can be done."""
    if max_nesting >= MAX_NESTING_CEILING:
        return (f"nesting deeper than {MAX_NESTING_CEILING} levels, the most iam-audit reads (deeper data would "
                "exhaust Python's recursion limit); no policy nests that deep")
    return (f"nesting deeper than {max_nesting} levels (the limit; --max-nesting raises it, up to "
            f"{MAX_NESTING_CEILING})")


def _long_number_error(text: str, source: Source) -> ParseError:
    match = _LONG_NUMBER.search(text)
    line, column = source.offset_to_position(match.start()) if match else (0, 0)
    return ParseError(f"a number of more than {_MAX_DIGITS:,} digits: no policy value is that long",
                      line, column)


_MAX_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 4300)()  # Python 3.10.7 and later limit them
_LONG_NUMBER = re.compile(rf"\d{{{_MAX_DIGITS + 1},}}")


def parse_embedded_json(text: str, max_nesting: int = MAX_NESTING) -> Any:
    """A JSON document held in a string (a URL-encoded policy in an export, a Terraform attribute)."""
    max_nesting = effective_nesting(max_nesting)
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ParseError(f"nesting deeper than {max_nesting} levels") from None
    except json.JSONDecodeError as exc:
        raise ParseError(f"{_json_message(exc, text)} (line {exc.lineno}, column {exc.colno} of the string)",
                         offset=exc.pos) from None
    except _NotJson as exc:
        offset = exc.offset_in(text)
        line, column = Source("", text).offset_to_position(offset)
        raise ParseError(f"{exc.message} (line {line}, column {column} of the string)", offset=offset) from None
    except ValueError:
        raise ParseError(_long_number_error(text, Source("", text)).message) from None
    if _may_nest_deeper(text, max_nesting) and nesting_exceeds(data, max_nesting):
        raise ParseError(f"nesting deeper than {max_nesting} levels")
    if _may_hold_surrogates(text) and _SURROGATE_OR_ESCAPE.search(text):
        data, _ = _without_surrogates(data)
    return data


class _NotJson(Exception):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's json module reads them, JSON (and IAM) does not."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token
        self.message = (f"{token} is not JSON (JSON has no NaN or Infinity): IAM rejects the document; write a "
                        "number, or a string in double quotes")

    def offset_in(self, text: str) -> int:
        """Where the first such token outside a string is (json reads the text in order: it is this one)."""
        for match in _STRING_OR_CONSTANT.finditer(text):
            if match.group(1):
                return match.start(1)
        return 0


_STRING_OR_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


def _refuse_constant(token: str) -> Any:
    raise _NotJson(token)


_CONTROL_ESCAPES = {"\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _json_message(exc: json.JSONDecodeError, text: str) -> str:
    """A whole sentence for the parser's message (which ends in "at": the position is given apart)."""
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
    if message.startswith("Invalid control character") and exc.pos < len(text):
        character = text[exc.pos]
        if character in "\r\n":
            return ("a line break inside a string: escape it as \\n, or close the string (is a double quote "
                    "missing?)")
        escape = _CONTROL_ESCAPES.get(character, f"\\u{ord(character):04x}")
        return f"invalid control character U+{ord(character):04X} in a string: escape it as {escape}"
    if message.startswith("Unterminated string"):
        return 'a string that never ends: its closing double quote (") is missing'
    if message.startswith("Invalid \\escape"):
        escape = text[exc.pos:exc.pos + 2]
        return (f"invalid escape {escape} in a string: write \\\\ for a backslash (JSON knows \\\\, \\\", \\/, "
                "\\b, \\f, \\n, \\r, \\t and \\uXXXX)")
    if message.startswith("Invalid \\uXXXX escape"):
        return "invalid \\uXXXX escape: \\u must be followed by four hexadecimal digits"
    if message.startswith("Expecting value") and text[exc.pos:exc.pos + 1] in ("]", "}"):
        previous = text[:exc.pos].rstrip()[-1:]
        if previous == ",":
            return f"expected a value, found '{text[exc.pos]}': remove the trailing comma before it"
    message = re.sub(r"(?: starting)? at$", "", message)
    return message[0].lower() + message[1:] if message else "invalid JSON"


def parse_yaml(text: str, display_path: str, max_nesting: int = MAX_NESTING) -> ParsedText:
    """One YAML document (a stream of several is an error here: see :func:`parse_yaml_stream`)."""
    data, positions, duplicates, invalid = _load_yaml(text, display_path, max_nesting)
    return ParsedText(data, Source(display_path, text, positions), duplicates, invalid)


class DocumentSource(Source):
    """One document of a YAML stream: located and excerpted in the whole text, read again (``document_text``) as
    the document alone."""

    __slots__ = ("document", "first_line")

    def __init__(self, display_path: str, text: str, positions: dict[str, tuple[int, int]], document: str,
                 first_line: int = 1) -> None:
        super().__init__(display_path, text, positions)
        self.document = document
        self.first_line = first_line

    def document_text(self) -> str | None:
        return self.document

    def document_lines(self) -> tuple[int, int]:
        return self.first_line, self.first_line + self.document.count("\n")


def parse_yaml_stream(text: str, display_path: str, max_nesting: int = MAX_NESTING) -> list[ParsedText | ParseError]:
    """Every document of a YAML stream (documents begin with ``---``), each parsed alone, or why it could not be:
    Kubernetes manifests and the like hold several. A document without content (``---`` alone, comments) is left
    out; a stream of one document is :func:`parse_yaml`'s."""
    spans = yaml_document_spans(text)
    if spans == [(0, len(text))]:
        try:
            return [parse_yaml(text, display_path, max_nesting)]
        except ParseError as exc:
            return [exc]
    documents: list[ParsedText | ParseError] = []
    for start, end in spans:
        line_offset = text.count("\n", 0, start)
        document = text[start:end]
        try:
            data, positions, duplicates, invalid = _load_yaml(document, display_path, max_nesting, line_offset)
        except ParseError as exc:
            line, column = (exc.line, exc.column) if exc.line else (line_offset + 1, 1)
            documents.append(ParseError(exc.message, line, column))
            continue
        documents.append(ParsedText(data, DocumentSource(display_path, text, positions, document, line_offset + 1),
                                    duplicates, invalid))
    return documents


_DOCUMENT_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|\Z)", re.MULTILINE)
"""``---`` (a document starts) or ``...`` (it ends) at the start of a line: YAML forbids either in any scalar."""


def yaml_document_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each document of a YAML stream that has content. Directives and comments before a ``---``
    go with the document it starts, comments at the end with the last document; empty documents are left out."""
    cuts = [0]
    for match in _DOCUMENT_MARKER.finditer(text):
        if match.group() == "---":
            cut = match.start()
        else:  # the next document begins on the line after "..."
            newline = text.find("\n", match.end())
            cut = len(text) if newline < 0 else newline + 1
        if cut > cuts[-1]:
            cuts.append(cut)
    if cuts[-1] < len(text):
        cuts.append(len(text))
    spans: list[tuple[int, int]] = []
    pending: int | None = None  # the start of directives or comments waiting for their document
    for start, end in pairwise(cuts):
        begin = start if pending is None else pending
        pending = None
        if _has_content(text[start:end]):
            spans.append((begin, end))
        elif not text.startswith("---", start):  # directives or comments: they go with the next document
            pending = begin
    if pending is not None:
        if spans:
            spans[-1] = (spans[-1][0], len(text))
        else:
            spans.append((pending, len(text)))
    return spans or [(0, len(text))]


def _has_content(document: str) -> bool:
    """Whether a document holds a node: a line other than a directive, a comment, or a bare marker."""
    for line in document.splitlines():
        if line.startswith("%"):
            continue
        rest = line[3:] if _DOCUMENT_MARKER.match(line) else line
        rest = rest.strip()
        if rest and not rest.startswith("#"):
            return True
    return False


def _load_yaml(
    text: str, display_path: str, max_nesting: int, line_offset: int = 0
) -> tuple[Any, dict[str, tuple[int, int]], tuple[tuple[str, str, tuple[int, int]], ...], tuple[int, int] | None]:
    """The data of one YAML document, the position of every pointer in it, its repeated keys and its first lone
    surrogate; positions and errors are ``line_offset`` lines further down (a document of a stream)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    max_nesting = effective_nesting(max_nesting)
    source = Source(display_path, text, line_offset=line_offset)
    # ruamel's scanner is quadratic in flow nesting depth: refuse deep flow nesting before it starts.
    offset = yaml_flow_depth_exceeded(text, max_nesting)
    if offset >= 0:
        line, column = source.offset_to_position(offset)
        raise ParseError(nesting_message(max_nesting), line, column)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    repeated_keys: dict[int, list[tuple[str, tuple[int, int]]]] = {}
    yaml.Constructor = _last_value_constructor(repeated_keys)
    try:
        with _recursion_room(4 * max_nesting):  # ruamel's composer recurses two or three frames per level
            loaded = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else 0
        column = mark.column + 1 if mark else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise ParseError(f"invalid YAML: {problem}", line, column) from None
    except YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}") from None
    except RecursionError:
        line, column = source.offset_to_position(_block_depth_offset(text, max_nesting))
        raise ParseError(nesting_message(max_nesting), line, column) from None
    except (ValueError, TypeError, OverflowError, IndexError, KeyError, AttributeError) as exc:
        # A scalar the constructor cannot build (an integer of 5,000 digits, a date like 2024-02-31)
        # or a key it cannot hash (a mapping used as a key).
        raise ParseError(f"invalid YAML: {exc}") from None
    _check_expansion(loaded)
    positions: dict[str, tuple[int, int]] = {}
    duplicates: list[tuple[str, str, tuple[int, int]]] = []
    converter = _YamlConverter(positions, duplicates, max_nesting, repeated_keys, line_offset)
    try:
        with _recursion_room(2 * max_nesting):
            data = converter.convert(loaded, "", (1 + line_offset, 1), 0)
    except RecursionError:
        raise ParseError("nesting too deep for the YAML parser") from None
    invalid = None
    if _SURROGATE.search(text) or "\\u" in text or "\\U" in text:
        data, found = _without_surrogates(data)
        invalid = (1 + line_offset, 1) if found else None
    return data, positions, tuple(duplicates), invalid


@contextmanager
def _recursion_room(frames: int) -> Iterator[None]:
    """At least ``frames`` more Python frames than the current depth, for the duration (pure-Python frames)."""
    depth = 0
    frame: Any = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    previous = sys.getrecursionlimit()
    needed = depth + frames + 100
    if needed > previous:
        sys.setrecursionlimit(needed)
    try:
        yield
    finally:
        if needed > previous:
            sys.setrecursionlimit(previous)


_YAML_SPECIALS = re.compile(r"""[\[\]{}"'#|>]""")
_DOUBLE_QUOTED_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BLOCK_SCALAR_TAIL = re.compile(r"[0-9+-]*[ \t]*(?:#[^\n]*)?(?:\n|\Z)")


def yaml_flow_depth_exceeded(text: str, limit: int) -> int:
    """Offset where flow nesting (``[`` and ``{``) first exceeds ``limit``, or -1.

    A cheap scan that knows quotes, comments and block scalars well enough: it only
    has to keep ruamel's quadratic scanner away from deeply nested flow collections.
    """
    depth = 0
    position = 0
    length = len(text)
    search = _YAML_SPECIALS.search
    while True:
        match = search(text, position)
        if match is None:
            return -1
        offset = match.start()
        char = text[offset]
        position = offset + 1
        before = text[offset - 1] if offset else "\n"
        # Outside flow collections only whitespace can precede a new node; inside, also [ { , and :
        starts_token = before in " \t\n[{,:" if depth else before in " \t\n"
        if char in "[{":
            if depth or starts_token:
                depth += 1
                if depth > limit:
                    return offset
        elif char in "]}":
            if depth:
                depth -= 1
        elif char == "#":
            if before in " \t\n":
                end = text.find("\n", position)
                position = length if end < 0 else end
        elif char == '"':
            if starts_token:
                position = _end_of_double_quoted(text, position)
        elif char == "'":
            if starts_token:
                end = position
                while True:
                    end = text.find("'", end)
                    if end < 0 or not text.startswith("'", end + 1):
                        break
                    end += 2
                position = length if end < 0 else end + 1
        elif not depth and before in " \t\n" and _BLOCK_SCALAR_TAIL.match(text, position):  # | or >
            position = _end_of_block_scalar(text, offset)


def _end_of_double_quoted(text: str, position: int) -> int:
    match = _DOUBLE_QUOTED_REST.match(text, position)
    return match.end() if match else len(text)


def _end_of_block_scalar(text: str, indicator: int) -> int:
    """Offset just after the last line of the block scalar introduced at ``indicator``."""
    line_start = text.rfind("\n", 0, indicator) + 1
    line = text[line_start:indicator]
    indent = len(line) - len(line.lstrip(" "))
    position = text.find("\n", indicator)
    if position < 0:
        return len(text)
    while position < len(text):
        next_end = text.find("\n", position + 1)
        body = text[position + 1: next_end if next_end >= 0 else len(text)]
        stripped = body.lstrip(" ")
        if stripped and len(body) - len(stripped) <= indent:
            return position + 1
        if next_end < 0:
            return len(text)
        position = next_end
    return len(text)


def _block_depth_offset(text: str, limit: int) -> int:
    """Where block-style YAML first nests deeper than ``limit``, judged by indentation (one level per deeper
    indent and per ``- ``), or the deepest line; only to say where a document the parser could not nest is."""
    indents: list[int] = []
    deepest = (0, 0)
    offset = 0
    for line in text.splitlines(keepends=True):
        content = line.lstrip(" ")
        if content.strip() and not content.startswith("#"):
            indent = len(line) - len(content)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
            dashes = len(content) - len(content.lstrip("- ")) if content.startswith("- ") else 0
            depth = len(indents) + content[:dashes].count("-")
            if depth > limit:
                return offset + indent
            deepest = max(deepest, (depth, offset + indent))
        offset += len(line)
    return deepest[1]


def _check_expansion(root: Any) -> None:
    """Refuse documents whose aliases expand to too many values, or refer to themselves.

    Sizes are computed once per distinct node, so a billion-laughs document costs
    as little as its text, not as much as its expansion.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if not isinstance(node, (CommentedMap, CommentedSeq)):
            continue
        identity = id(node)
        children = node.values() if isinstance(node, CommentedMap) else node
        if children_done:
            in_progress.discard(identity)
            total = 1 + sum(sizes.get(id(child), 1) for child in children)
            if total > MAX_YAML_NODES:
                raise ParseError(f"YAML expands to more than {MAX_YAML_NODES:,} values (an alias bomb?)")
            sizes[identity] = total
            continue
        if identity in sizes:
            continue
        if identity in in_progress:
            raise ParseError("a YAML alias refers to the collection that contains it (a recursive document)")
        in_progress.add(identity)
        stack.append((node, True))
        stack.extend((child, False) for child in children)


def _last_value_constructor(repeated_keys: dict[int, list[tuple[str, tuple[int, int]]]]) -> type:
    """A constructor that keeps the last value of a key a mapping repeats, as CloudFormation does (ruamel keeps
    the first), and notes in ``repeated_keys`` where each repetition is, by the mapping's ``id``."""
    from ruamel.yaml.constructor import RoundTripConstructor

    class LastValueConstructor(RoundTripConstructor):
        def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
            if key not in mapping:
                return True
            mark = key_node.start_mark
            repeated_keys.setdefault(id(mapping), []).append((str(key), (mark.line + 1, mark.column + 1)))
            mapping[key] = value
            if hasattr(mapping, "_yaml_set_kv_line_col"):
                mapping._yaml_set_kv_line_col(key, [mark.line, mark.column, mark.line, mark.column])
            return False

    return LastValueConstructor


class _YamlConverter:
    def __init__(
        self,
        positions: dict[str, tuple[int, int]],
        duplicates: list[tuple[str, str, tuple[int, int]]],
        max_nesting: int,
        repeated_keys: dict[int, list[tuple[str, tuple[int, int]]]] | None = None,
        line_offset: int = 0,
    ) -> None:
        self.positions = positions
        self.duplicates = duplicates
        self.max_nesting = max_nesting
        self.repeated_keys = repeated_keys or {}
        self.line_offset = line_offset
        self.nodes = 0

    def convert(self, node: Any, pointer: str, position: tuple[int, int], depth: int) -> Any:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise ParseError(
                f"YAML expands to more than {MAX_YAML_NODES:,} values (an alias bomb?)", position[0], position[1]
            )
        if depth >= self.max_nesting and isinstance(node, (CommentedMap, CommentedSeq)):
            raise ParseError(nesting_message(self.max_nesting), position[0], position[1])
        self.positions.setdefault(pointer, position)
        tag = _tag_of(node)
        function = CFN_SHORT_TAGS.get(tag, "Fn::" + tag[1:]) if tag is not None and tag.startswith("!") else None
        if function is not None:  # !If [...] is {"Fn::If": [...]}: its items are at .../Fn::If/N
            pointer = join_pointer(pointer, function)
            self.positions.setdefault(pointer, position)
        if isinstance(node, CommentedMap):
            result: dict[str, Any] = {}
            seen: set[str] = set()
            self.duplicates.extend((pointer, key, (line + self.line_offset, column))
                                   for key, (line, column) in self.repeated_keys.get(id(node), ()))
            for key, value in node.items():
                key_text = str(key)
                try:
                    line, col = node.lc.value(key)
                    child_position = (line + 1 + self.line_offset, col + 1)
                except (KeyError, TypeError, AttributeError):
                    child_position = position
                if key_text in seen:
                    try:
                        kline, kcol = node.lc.key(key)
                        self.duplicates.append((pointer, key_text, (kline + 1 + self.line_offset, kcol + 1)))
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
                    child_position = (line + 1 + self.line_offset, col + 1)
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
        return converted if function is None else {function: converted}


def _tag_of(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    if tag is None:
        return None
    value = getattr(tag, "value", None)
    return value if isinstance(value, str) else None
