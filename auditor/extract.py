"""Pull IAM policies out of vendor documents (markdown, plain text, HTML).

A vendor page shows its policies in markdown code fences (any language tag, or
none), in HTML ``<pre>`` blocks, or, in plain-text exports, as bare JSON in the
running text. :func:`extract_text` finds every JSON object in those places, says
where it is in the document, parses it (or says where and why it does not parse),
tells a policy from other JSON, guesses the policy kind, lists the placeholders a
user must replace and, for a broken block, offers a repair only when exactly one
single-character edit turns it into a valid policy.

:func:`write_baselines` turns the blocks of one document into baseline files in
the format of ``rules/baselines/README.md``; :func:`run_extract` is the body of
``iam-audit baseline extract``.
"""

from __future__ import annotations

import bisect
import html
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from ruamel.yaml import YAML

from auditor.loaders.parse import ParseError, decode_bytes
from auditor.reading import read_regular_bytes, read_regular_text

__all__ = [
    "DocumentExtraction",
    "ExtractedBlock",
    "JsonError",
    "Repair",
    "extract_file",
    "extract_text",
    "find_placeholders",
    "group_blocks",
    "guess_policy_kind",
    "is_policy",
    "is_valid_policy",
    "placeholder_name",
    "run_extract",
    "vendor_from_url",
    "write_baselines",
]


@dataclass(frozen=True)
class JsonError:
    """Why a block does not parse, at a 1-based document line and column."""

    line: int
    column: int
    message: str


@dataclass(frozen=True)
class Repair:
    """The one single-character edit that turns a broken block into a valid policy."""

    description: str
    line: int
    column: int
    text: str
    document: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class ExtractedBlock:
    """One JSON candidate found in a document.

    ``line``/``column`` (and ``offset``) locate the block's first character and
    ``end_line`` its last line, in the document as given (before HTML entities are
    unescaped).
    ``container`` is ``fence``, ``pre`` or ``text``; ``language`` the fence's tag.
    ``document`` is the parsed JSON, or ``None`` when it does not parse (then
    ``error`` says why and ``repair`` may offer the unambiguous fix).
    """

    source: str
    index: int
    container: str
    language: str | None
    line: int
    column: int
    end_line: int
    offset: int
    text: str
    heading: str | None
    document: Any = field(default=None, hash=False)
    error: JsonError | None = None
    repair: Repair | None = None
    repair_note: str | None = None

    @property
    def effective_document(self) -> Any:
        """The parsed document, or the repaired one when the block needed a repair."""
        if self.document is not None:
            return self.document
        return self.repair.document if self.repair else None

    @property
    def is_policy(self) -> bool:
        return is_policy(self.effective_document)

    @property
    def kind(self) -> str | None:
        doc = self.effective_document
        return guess_policy_kind(doc) if is_policy(doc) else None

    @property
    def placeholders(self) -> tuple[str, ...]:
        doc = self.effective_document
        if doc is not None:
            return find_placeholders(doc)
        return _placeholders_in_text(self.text)

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


@dataclass(frozen=True)
class DocumentExtraction:
    """Everything :func:`extract_text` found in one document."""

    source: str
    blocks: tuple[ExtractedBlock, ...]
    vendor_url: str | None

    @property
    def policies(self) -> tuple[ExtractedBlock, ...]:
        return tuple(b for b in self.blocks if b.is_policy)

    @property
    def malformed(self) -> tuple[ExtractedBlock, ...]:
        return tuple(b for b in self.blocks if b.error is not None)


# --------------------------------------------------------------------------- policy shape

_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})


def _statements(document: Any) -> list[Any]:
    statement = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statement, dict):
        return [statement]
    if isinstance(statement, list):
        return statement
    return []


def is_policy(document: Any) -> bool:
    """A JSON object with a ``Statement`` whose statements carry ``Effect`` and an action element."""
    statements = _statements(document)
    return bool(statements) and all(
        isinstance(s, dict) and "Effect" in s and ("Action" in s or "NotAction" in s) for s in statements
    )


def is_valid_policy(document: Any) -> bool:
    """Stricter than :func:`is_policy`: the grammar a repair must satisfy to be offered."""
    if not is_policy(document) or not set(document) <= _POLICY_KEYS:
        return False
    if any(not isinstance(document.get(key, ""), str) for key in ("Version", "Id")):
        return False
    for statement in _statements(document):
        if not set(statement) <= _STATEMENT_KEYS or statement["Effect"] not in ("Allow", "Deny"):
            return False
        if not isinstance(statement.get("Sid", ""), str):
            return False
        for element in ("Action", "NotAction", "Resource", "NotResource"):
            value = statement.get(element, "")
            if not isinstance(value, str) and not (
                isinstance(value, list) and all(isinstance(item, str) for item in value)
            ):
                return False
        if ("Action" in statement) == ("NotAction" in statement):
            return False
        has_principal = "Principal" in statement or "NotPrincipal" in statement
        if not has_principal and "Resource" not in statement and "NotResource" not in statement:
            return False
        for key in ("Principal", "NotPrincipal"):
            principal = statement.get(key)
            if isinstance(principal, dict) and not set(principal) <= _PRINCIPAL_TYPES:
                return False
            if principal is not None and not isinstance(principal, (dict, str)):
                return False
        condition = statement.get("Condition")
        if condition is not None and not _valid_condition(condition):
            return False
    return True


def _valid_condition(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for block in condition.values():
        if not isinstance(block, dict):
            return False
        for key, value in block.items():
            if ":" not in key or isinstance(value, dict):
                return False
            if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
                return False
    return True


_ASSUME_ROLE = re.compile(r"^sts:AssumeRole", re.IGNORECASE)


def guess_policy_kind(document: Any) -> str:
    """``trust`` (sts:AssumeRole* with a principal), ``resource`` (other principal) or ``identity``."""
    statements = [s for s in _statements(document) if isinstance(s, dict)]
    with_principal = [s for s in statements if "Principal" in s or "NotPrincipal" in s]
    if not with_principal:
        return "identity"
    for statement in with_principal:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if any(isinstance(a, str) and _ASSUME_ROLE.match(a) for a in actions):
            return "trust"
    return "resource"


# --------------------------------------------------------------------------- placeholders

_DOLLAR_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ANGLE_PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z0-9_ -]*[A-Za-z0-9]>|<[A-Za-z]>")
_SNAKE_CAPS = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?![A-Za-z0-9])")
_CAPS_ARN_SEGMENT = re.compile(r"^[A-Z][A-Z_]*[A-Z]$")
_NOT_PLACEHOLDER_ELEMENTS = frozenset({"Version", "Id", "Sid", "Effect", "Action", "NotAction"})


def find_placeholders(document: Any) -> tuple[str, ...]:
    """Tokens a user must replace, in order of first appearance.

    ``${Name}`` (no colon), ``<lower_case_words>``, ``ALL_CAPS_WORDS`` and all-capital
    ARN segments count; IAM policy variables such as ``${aws:username}`` do not, nor
    do ``Version``, ``Id``, ``Sid``, ``Effect`` and action names.
    """
    found: dict[str, None] = {}
    for value in _policy_strings(document):
        for token in _tokens_in_string(value):
            found.setdefault(token, None)
    return tuple(found)


def _all_strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _all_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _all_strings(item)
    elif isinstance(node, str):
        yield node


def _policy_strings(document: Any) -> Iterator[str]:
    if not isinstance(document, dict) or "Statement" not in document:
        yield from _all_strings(document)
        return
    for key, value in document.items():
        if key in ("Version", "Id"):
            continue
        if key != "Statement":
            yield from _all_strings(value)
            continue
        for statement in _statements(document):
            if not isinstance(statement, dict):
                yield from _all_strings(statement)
                continue
            for element, element_value in statement.items():
                if element not in ("Sid", "Effect", "Action", "NotAction"):
                    yield from _all_strings(element_value)


def _tokens_in_string(value: str) -> list[str]:
    hits: list[tuple[int, str]] = []
    for pattern in (_DOLLAR_PLACEHOLDER, _ANGLE_PLACEHOLDER, _SNAKE_CAPS):
        hits.extend((m.start(), m.group(0)) for m in pattern.finditer(value))
    if value.startswith("arn:"):
        offset = 0
        for segment in re.split(r"([:/])", value):
            if _CAPS_ARN_SEGMENT.match(segment) and "_" not in segment and len(segment) >= 3:
                hits.append((offset, segment))
            offset += len(segment)
    return [token for _, token in sorted(hits)]


def _placeholders_in_text(text: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for literal in re.findall(r'"((?:[^"\\]|\\.)*)"', text):
        for token in _tokens_in_string(literal):
            found.setdefault(token, None)
    return tuple(found)


def placeholder_name(token: str, document: Any = None) -> str:
    """A binding name for a token: ``${AccountId}`` -> AccountId, ``OUTPUT_BUCKET_NAME`` -> OutputBucketName.

    A token that is the whole value of an ``sts:ExternalId`` condition is named ExternalId.
    """
    match = _DOLLAR_PLACEHOLDER.fullmatch(token)
    if match:
        return match.group(1)
    if document is not None and token in _external_id_values(document):
        return "ExternalId"
    words = re.findall(r"[A-Za-z0-9]+", token)
    return "".join(w[:1].upper() + w[1:].lower() for w in words)


def _external_id_values(document: Any) -> set[str]:
    values: set[str] = set()
    for statement in _statements(document):
        if not isinstance(statement, dict) or not isinstance(statement.get("Condition"), dict):
            continue
        for block in statement["Condition"].values():
            if isinstance(block, dict):
                for key, value in block.items():
                    if key.lower() == "sts:externalid":
                        values.update([value] if isinstance(value, str) else value)
    return values


# --------------------------------------------------------------------------- finding blocks

_FENCE_OPEN = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*([^\s`]*)[^`\n]*$")
_PRE_BLOCK = re.compile(r"<pre\b[^>]*>(.*?)</pre\s*>", re.IGNORECASE | re.DOTALL)
_TAG_OR_ENTITY = re.compile(r"<[^>]*>|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_MD_HEADING = re.compile(r"^[ ]{0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1\s*>", re.IGNORECASE | re.DOTALL)
_PLAIN_TITLE = re.compile(r"\b(role|user|group|key|bucket|trust)\b", re.IGNORECASE)
_GITBOOK_MARKDOWN_URL = re.compile(r"this page is available as \[Markdown\]\((https?://[^)\s]+?)(?:\.md)?\)")
_CANONICAL_URL = re.compile(
    r"<link\b[^>]*rel=[\"']canonical[\"'][^>]*href=[\"']([^\"']+)[\"']", re.IGNORECASE
)


@dataclass(frozen=True)
class _Region:
    """A stretch of the document searched for JSON, with each character's document offset."""

    container: str
    language: str | None
    text: str
    offsets: tuple[int, ...]  # offsets[i] = document offset of text[i]; one extra entry for the end


class _LineIndex:
    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def _identity_region(container: str, language: str | None, text: str, start: int) -> _Region:
    return _Region(container, language, text, tuple(range(start, start + len(text) + 1)))


def _fenced_spans(text: str) -> list[tuple[int, int, int, int, str | None]]:
    """(fence start, fence end, content start, content end, language) for each fenced block."""
    spans = []
    lines = text.splitlines(keepends=True)
    offset = 0
    line_offsets = []
    for line in lines:
        line_offsets.append(offset)
        offset += len(line)
    line_offsets.append(offset)
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i].rstrip("\r\n"))
        if not opening:
            i += 1
            continue
        marker = opening.group(2)
        closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j].rstrip("\r\n")):
            j += 1
        end = line_offsets[min(j + 1, len(lines))]
        spans.append((line_offsets[i], end, line_offsets[i + 1], line_offsets[j], opening.group(3) or None))
        i = j + 1
    return spans


def _pre_region(text: str, match: re.Match[str]) -> _Region:
    chars: list[str] = []
    offsets: list[int] = []
    body_start = match.start(1)
    body = match.group(1)
    position = 0
    for piece in _TAG_OR_ENTITY.finditer(body):
        for k in range(position, piece.start()):
            chars.append(body[k])
            offsets.append(body_start + k)
        if piece.group(0).startswith("&"):
            for char in html.unescape(piece.group(0)):
                chars.append(char)
                offsets.append(body_start + piece.start())
        position = piece.end()
    for k in range(position, len(body)):
        chars.append(body[k])
        offsets.append(body_start + k)
    offsets.append(match.end(1))
    return _Region("pre", None, "".join(chars), tuple(offsets))


def _regions(text: str) -> list[_Region]:
    regions: list[_Region] = []
    covered: list[tuple[int, int]] = []
    for fence_start, fence_end, start, end, language in _fenced_spans(text):
        regions.append(_identity_region("fence", language, text[start:end], start))
        covered.append((fence_start, fence_end))
    for match in _PRE_BLOCK.finditer(text):
        if any(a <= match.start() < b for a, b in covered):
            continue
        regions.append(_pre_region(text, match))
        covered.append((match.start(), match.end()))
    covered.sort()
    position = 0
    for a, b in covered:
        if a > position:
            regions.append(_identity_region("text", None, text[position:a], position))
        position = max(position, b)
    if position < len(text):
        regions.append(_identity_region("text", None, text[position:], position))
    regions.sort(key=lambda r: r.offsets[0])
    return regions


def _balanced_objects(text: str) -> list[tuple[int, int]]:
    """Spans of ``{ ... }`` that look like JSON objects (``{`` then optional space then ``"`` or ``}``)."""
    spans: list[tuple[int, int]] = []
    i = 0
    while True:
        start = text.find("{", i)
        if start < 0:
            return spans
        following = text[start + 1 :].lstrip()
        if not following.startswith(('"', "}")):
            i = start + 1
            continue
        depth = 0
        in_string = False
        escaped = False
        end = len(text)
        for k in range(start, len(text)):
            char = text[k]
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
                if depth == 0:
                    end = k + 1
                    break
        spans.append((start, end))
        i = end


def _candidate_spans(region: _Region) -> list[tuple[int, int]]:
    if region.container == "text":
        return _balanced_objects(region.text)
    stripped = region.text.strip()
    if not stripped.startswith("{"):
        return []
    start = region.text.index(stripped[0])
    whole = (start, start + len(stripped))
    spans = _balanced_objects(region.text)
    leftover = "".join(
        region.text[a:b]
        for a, b in zip([0] + [e for _, e in spans], [s for s, _ in spans] + [len(region.text)], strict=True)
    )
    if len(spans) > 1 and not leftover.strip() and all(_parses(region.text[a:b]) for a, b in spans):
        return spans
    return [whole]


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, title) of markdown and HTML headings.

    A document without any gets its short title-like lines that name a role, user,
    key, bucket or trust, at level 9: they name baselines but do not split sections.
    """
    found: list[tuple[int, int, str]] = []
    in_fence_spans = [(a, b) for a, b, *_ in _fenced_spans(text)]
    offset = 0
    for line in text.splitlines(keepends=True):
        match = _MD_HEADING.match(line.rstrip("\r\n"))
        if match and not any(a <= offset < b for a, b in in_fence_spans):
            found.append((offset, len(match.group(1)), _plain_heading(match.group(2))))
        offset += len(line)
    for match in _HTML_HEADING.finditer(text):
        found.append((match.start(), int(match.group(1)), _plain_heading(match.group(2))))
    if not found:
        offset = 0
        for line in text.splitlines(keepends=True):
            title = line.strip()
            short = bool(title) and len(title.split()) <= 5 and not title.endswith((".", ":", "{", "}", ","))
            if short and _PLAIN_TITLE.search(title):
                found.append((offset, 9, title))
            offset += len(line)
    return sorted(found)


def _plain_heading(raw: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>|\*\*|__|`|\{#[^}]*\}", "", raw)).strip()


def extract_text(text: str, source: str = "<document>") -> DocumentExtraction:
    """Every JSON object in a vendor document, located, parsed and classified."""
    index = _LineIndex(text)
    headings = _headings(text)
    blocks: list[ExtractedBlock] = []
    for region in _regions(text):
        for start, end in _candidate_spans(region):
            block_text = region.text[start:end]
            line, column = index.position(region.offsets[start])
            end_line, _ = index.position(region.offsets[max(end - 1, start)])
            preceding = [h for h in headings if h[0] < region.offsets[start]]
            block = ExtractedBlock(
                source=source,
                index=len(blocks),
                container=region.container,
                language=region.language,
                line=line,
                column=column,
                end_line=end_line,
                offset=region.offsets[start],
                text=block_text,
                heading=preceding[-1][2] if preceding else None,
            )
            blocks.append(_parse_block(block, region, start, index))
    url = _GITBOOK_MARKDOWN_URL.search(text) or _CANONICAL_URL.search(text)
    return DocumentExtraction(source, tuple(blocks), url.group(1) if url else None)


def extract_file(path: Path | str) -> DocumentExtraction:
    """:func:`extract_text` on a file; raises ``OSError``/``UnicodeDecodeError`` when it cannot be read."""
    path = Path(path)
    return extract_text(read_regular_text(path), source=str(path))


# --------------------------------------------------------------------------- parsing and repair

_STRUCTURAL = "{}[],"
REPAIR_SEARCH_LIMIT = 20_000  # characters; the search parses the block once per edit tried


def _parse_block(block: ExtractedBlock, region: _Region, start: int, index: _LineIndex) -> ExtractedBlock:
    try:
        document = json.loads(block.text)
    except json.JSONDecodeError as exc:
        line, column = index.position(region.offsets[start + min(exc.pos, len(block.text) - 1)])
        error = JsonError(line, column, exc.msg)
        if len(block.text) > REPAIR_SEARCH_LIMIT:
            note = f"not searched for a repair: longer than {REPAIR_SEARCH_LIMIT} characters"
            return replace(block, error=error, repair_note=note)
        repairs = _single_edit_repairs(block.text, exc.pos)
        if len(repairs) == 1:
            kind, position, char, repaired_text, document = repairs[0]
            r_line, r_column = index.position(region.offsets[start + position])
            verb = "inserted" if kind == "insert" else "deleted"
            description = f"{verb} {char!r} at {r_line}:{r_column}"
            repair = Repair(description, r_line, r_column, repaired_text, document)
            return replace(block, error=error, repair=repair)
        note = (
            f"{len(repairs)} different single-character edits make it a valid policy; none is offered"
            if repairs
            else "no single-character edit makes it a valid policy"
        )
        return replace(block, error=error, repair_note=note)
    return replace(block, document=document)


def _token_starts(text: str, limit: int) -> list[int]:
    """Offsets up to ``limit`` where a JSON token starts (outside strings), plus ``limit`` itself."""
    starts = []
    in_string = False
    escaped = False
    for k, char in enumerate(text[: limit + 1]):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if not char.isspace():
            starts.append(k)
        if char == '"':
            in_string = True
    if limit not in starts:
        starts.append(limit)
    return starts


def _single_edit_repairs(text: str, error_pos: int) -> list[tuple[str, int, str, str, dict[str, Any]]]:
    """Distinct valid policies reachable by inserting or deleting one structural character.

    An edit after the error position cannot make the prefix before it valid, so only
    token boundaries up to the error are tried. A candidate with a duplicate key does
    not count (JSON would silently keep the last value), and two candidates that differ
    only in a scalar against a one-element list are the same policy.
    """
    results: dict[str, tuple[str, int, str, str, dict[str, Any]]] = {}
    for position in _token_starts(text, min(error_pos, len(text))):
        edits = [("insert", char, text[:position] + char + text[position:]) for char in _STRUCTURAL]
        if position < len(text) and text[position] in _STRUCTURAL:
            edits.append(("delete", text[position], text[:position] + text[position + 1 :]))
        for kind, char, candidate in edits:
            try:
                document = json.loads(candidate, object_pairs_hook=_reject_duplicate_keys)
            except ValueError:
                continue
            if is_valid_policy(document):
                key = json.dumps(_semantic_form(document), sort_keys=True)
                results.setdefault(key, (kind, position, char, candidate, document))
    return list(results.values())


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _semantic_form(document: dict[str, Any]) -> dict[str, Any]:
    from auditor.normalize import with_list_elements

    def listed(value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    statements = []
    for statement in _statements(document):
        normal = with_list_elements(statement, listed)
        if isinstance(normal.get("Condition"), dict):
            normal["Condition"] = {
                operator: {key: listed(value) for key, value in block.items()}
                for operator, block in normal["Condition"].items()
            }
        statements.append(normal)
    return {**document, "Statement": statements}


# --------------------------------------------------------------------------- grouping and writing


def group_blocks(blocks: Sequence[ExtractedBlock], text: str | None = None) -> list[list[ExtractedBlock]]:
    """Group a document's policy blocks by the principal they describe.

    A group holds trust policies and permission (identity or resource) policies. A
    new group starts at a permission block when the group already has one, at a trust
    block when the group already has both kinds, and at a change of section: the
    heading above the block at the shallowest heading level found between the first
    and the last policy block (``text`` is needed for sections).
    """
    policies = [b for b in blocks if b.is_policy]
    sections = _section_keys(policies, text) if text is not None else [None] * len(policies)
    groups: list[list[ExtractedBlock]] = []
    previous_section: object = None
    for block, section in zip(policies, sections, strict=True):
        current = groups[-1] if groups else None
        if current is None or section != previous_section:
            groups.append([block])
        else:
            has_trust = any(b.kind == "trust" for b in current)
            has_permissions = any(b.kind != "trust" for b in current)
            starts_new = has_permissions and (block.kind != "trust" or has_trust)
            if starts_new:
                groups.append([block])
            else:
                current.append(block)
        previous_section = section
    return groups


def _section_level(policies: Sequence[ExtractedBlock], headings: list[tuple[int, int, str]]) -> int | None:
    """The shallowest markdown/HTML heading level between the first and the last policy block."""
    if len(policies) < 2:
        return None
    first, last = policies[0].offset, policies[-1].offset
    levels = [h[1] for h in headings if first < h[0] < last and h[1] <= 6]
    return min(levels) if levels else None


def _section_keys(policies: Sequence[ExtractedBlock], text: str) -> list[object]:
    headings = _headings(text)
    level = _section_level(policies, headings)
    if level is None:
        return [None] * len(policies)
    keys: list[object] = []
    for block in policies:
        above = [h[0] for h in headings if h[0] < block.offset and h[1] <= level]
        keys.append(above[-1] if above else None)
    return keys


def _slug(text: str) -> str:
    text = re.sub(r"\$\{[^}]*\}", "", text)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "policy"


def _group_title(group: Sequence[ExtractedBlock], text: str | None, level: int | None) -> str:
    """The heading of the group's section, else the document's title, else the block's heading."""
    if text is not None:
        above = [h for h in _headings(text) if h[0] < group[0].offset]
        if level is not None:
            above = [h for h in above if h[1] <= level]
        elif above:
            shallowest = min(h[1] for h in above)
            above = [h for h in above if h[1] == shallowest]
        if above:
            return above[-1][2]
    return group[0].heading or "policy"


def vendor_from_url(url: str | None) -> str | None:
    """The vendor a page URL names: upsolver.gitbook.io -> upsolver, docs.stackstate.com -> stackstate."""
    if not url:
        return None
    host = re.sub(r"^https?://", "", url).split("/")[0].lower()
    labels = host.split(".")
    if host.endswith(".gitbook.io"):
        return labels[0]
    generic = {"www", "docs", "doc", "archivedocs", "help", "support", "documentation"}
    meaningful = [label for label in labels[:-1] if label not in generic]
    return meaningful[-1] if meaningful else None


def write_baselines(
    blocks: Sequence[ExtractedBlock],
    out_dir: Path,
    vendor: str,
    *,
    text: str | None = None,
    vendor_url: str | None = None,
) -> list[Path]:
    """Write one baseline file per group of policy blocks into ``out_dir/<vendor>/``.

    ``text`` (the document) lets sections and headings name the baselines. The files
    follow ``rules/baselines/README.md``; titles, principal name patterns and
    placeholder meanings are a starting point to review.
    """
    vendor_slug = _slug(vendor)
    target = Path(out_dir) / vendor_slug
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used: set[str] = set()
    level = _section_level([b for b in blocks if b.is_policy], _headings(text)) if text is not None else None
    for group in group_blocks(blocks, text):
        title = _group_title(group, text, level)
        name = _slug(title)
        unique, n = name, 2
        while unique in used:
            unique, n = f"{name}-{n}", n + 1
        used.add(unique)
        path = target / f"{unique}.yaml"
        data = _baseline_mapping(group, f"{vendor_slug}/{unique}", vendor, title, vendor_url)
        yaml = _baseline_yaml()
        with path.open("w", encoding="utf-8") as handle:
            handle.write(f"# Extracted by iam-audit baseline extract from {Path(group[0].source).name}.\n")
            yaml.dump(data, handle)
        written.append(path)
    return written


def _baseline_yaml() -> YAML:
    """The layout of the bundled baseline files: block style, long lines kept whole, explicit nulls."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def _unknown_actions(block: ExtractedBlock) -> list[str]:
    """The actions (and patterns) of a block that name no action of the catalogue: they grant nothing."""
    from auditor.catalog import load_catalog
    from auditor.normalize import written_actions

    catalog = load_catalog()
    unknown = [item for _, _, item in written_actions(block.effective_document)
               if isinstance(item, str) and ":" in item and not catalog.expand(item.lower())]
    return [f"{action!r} is not an IAM action (it grants nothing)" for action in dict.fromkeys(unknown)]


def _baseline_mapping(
    group: Sequence[ExtractedBlock], baseline_id: str, vendor: str, title: str, vendor_url: str | None
) -> dict[str, Any]:
    trust = [b for b in group if b.kind == "trust"]
    permissions = [b for b in group if b.kind != "trust"]
    defects = [
        f"block at line {b.line}: {b.error.message} at {b.error.line}:{b.error.column};"
        f" transcribed with the repair: {b.repair.description}"
        for b in group
        if b.error is not None and b.repair is not None
    ]
    placeholders: dict[str, dict[str, Any]] = {}
    for block in group:
        for token in block.placeholders:
            placeholders.setdefault(
                token,
                {"token": token, "name": placeholder_name(token, block.effective_document), "meaning": ""},
            )
    defects += [f"block at line {b.line}: {problem}" for b in permissions for problem in _unknown_actions(b)]
    kinds = {b.kind for b in permissions}
    principal_kind = "resource" if kinds == {"resource"} and not trust else "role"
    if principal_kind == "role" and not trust and any(
            "${aws:username}" in json.dumps(b.effective_document).lower() for b in permissions):
        principal_kind = "user"  # ${aws:username} has a value for IAM users only
    pattern = re.sub(r"\$\{[^}]*\}", "*", title)
    name_patterns = [pattern] if re.fullmatch(r"[A-Za-z0-9_+=,.@*-]+", pattern) else []
    used_names: set[str] = set()

    def policy_entry(block: ExtractedBlock) -> dict[str, Any]:
        base = _slug(block.heading or "policy") if block.heading != title else "policy"
        name, n = base, 2
        while name in used_names:
            name, n = f"{base}-{n}", n + 1
        used_names.add(name)
        return {"name": name, "kind": block.kind, "document": block.effective_document}

    data: dict[str, Any] = {
        "id": baseline_id,
        "revision": "extracted",
        "default": True,
        "title": title,
        "vendor": vendor,
        "principal": {"kind": principal_kind, "name_patterns": name_patterns},
        "provenance": {
            "document": Path(group[0].source).name,
            "vendor_url": vendor_url,
            "revision": None,
            "blocks": [f"{b.kind} policy, lines {b.line}-{b.end_line}" for b in group],
        },
        "defects": defects,
        "placeholders": list(placeholders.values()),
        "managed_policies": [],
        "trust_policy": trust[0].effective_document if trust else None,
    }
    if len(trust) > 1:
        data["alternative_trust_policies"] = [
            {"name": f"variant-{i}", "document": b.effective_document} for i, b in enumerate(trust[1:], 2)
        ]
    data["policies"] = [policy_entry(b) for b in permissions]
    return data


# --------------------------------------------------------------------------- command


def _block_report(block: ExtractedBlock) -> list[str]:
    where = f"{block.source}:{block.line}:{block.column}"
    container = f"```{block.language}" if block.language else block.container
    lines = []
    if block.error is not None:
        lines.append(
            f"{block.source}:{block.error.line}:{block.error.column}: malformed JSON in block at {where}"
            f" ({container}): {block.error.message}"
        )
        if block.repair is not None:
            lines.append(
                f"{block.source}:{block.repair.line}:{block.repair.column}:"
                f" repair: {block.repair.description}"
                f" makes it a valid {block.kind} policy"
            )
        elif block.repair_note:
            lines.append(f"{where}: {block.repair_note}")
    elif block.is_policy:
        count = len(_statements(block.document))
        noun = "statement" if count == 1 else "statements"
        lines.append(
            f"{where}: {block.kind} policy ({container}), {count} {noun}, lines {block.line}-{block.end_line}"
        )
    else:
        lines.append(f"{where}: JSON that is not a policy ({container}), lines {block.line}-{block.end_line}")
    if block.placeholders and (block.is_policy or block.error is not None):
        lines.append(f"{where}: placeholders: {', '.join(block.placeholders)}")
    return lines


def _block_json(block: ExtractedBlock) -> dict[str, Any]:
    return {
        "line": block.line,
        "column": block.column,
        "end_line": block.end_line,
        "container": block.container,
        "language": block.language,
        "heading": block.heading,
        "is_policy": block.is_policy,
        "kind": block.kind,
        "placeholders": list(block.placeholders),
        "error": None if block.error is None else vars(block.error),
        "repair": None
        if block.repair is None
        else {
            "description": block.repair.description,
            "line": block.repair.line,
            "column": block.repair.column,
        },
        "repair_note": block.repair_note,
        "document": block.effective_document,
    }


def run_extract(
    paths: Iterable[Path | str],
    out_dir: Path | None,
    fmt: str = "console",
    *,
    vendor: str | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``iam-audit baseline extract``: report blocks as ``doc:line:col: ...``, write baselines to ``out_dir``.

    ``fmt`` is ``console`` (also ``text``) or ``json``. Returns 2 when a path cannot be
    read (after reporting the others), else 1 when a malformed block was found, else 0.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    if fmt not in ("console", "text", "json"):
        print(f"iam-audit: error: unknown format {fmt!r} for baseline extract (console or json)", file=err)
        return 2
    unreadable = False
    malformed = False
    documents: list[dict[str, Any]] = []
    for raw in paths:
        path = Path(raw)
        try:
            text = decode_bytes(read_regular_bytes(path))  # the loaders' decoding: a BOM, UTF-16, a located bad byte
        except (OSError, ParseError) as exc:
            if isinstance(exc, ParseError):
                where, reason = (f"{path}:{exc.line}:{exc.column}" if exc.line else str(path)), exc.message
            else:
                where, reason = str(path), f"cannot read: {exc.strerror or exc}"
            print(f"iam-audit: error: {where}: {reason}", file=err)
            unreadable = True
            continue
        extraction = extract_text(text, source=str(path))
        malformed = malformed or bool(extraction.malformed)
        written: list[Path] = []
        if out_dir is not None:
            doc_vendor = vendor or vendor_from_url(extraction.vendor_url) or _slug(path.stem)
            written = write_baselines(
                extraction.blocks, out_dir, doc_vendor, text=text, vendor_url=extraction.vendor_url
            )
        if fmt == "json":
            documents.append(
                {
                    "path": str(path),
                    "vendor_url": extraction.vendor_url,
                    "blocks": [_block_json(b) for b in extraction.blocks],
                    "written": [str(p) for p in written],
                }
            )
            continue
        buffer = io.StringIO()
        for block in extraction.blocks:
            for line in _block_report(block):
                print(line, file=buffer)
        policies = extraction.policies
        print(
            f"{path}: {len(extraction.blocks)} JSON blocks, {len(policies)} policies,"
            f" {len(extraction.malformed)} malformed",
            file=buffer,
        )
        for written_path in written:
            print(f"{path}: wrote {written_path}", file=buffer)
        out.write(buffer.getvalue())
    if fmt == "json":
        json.dump({"schema": "iam-audit/extract-1", "documents": documents}, out, indent=2)
        out.write("\n")
    if unreadable:
        return 2
    return 1 if malformed else 0
