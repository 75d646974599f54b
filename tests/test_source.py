"""Locating a JSON pointer in a document's text: the lazy walk agrees with a full token scan."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.loaders.parse import parse_json
from auditor.source import escape_pointer_token, scan_json_offsets

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text("xy/~\"{}[],: ", max_size=4))
KEYS = st.sampled_from(["a", "b", "c", "a/b", "~"])


def _pairs_strategy() -> st.SearchStrategy[Any]:
    """JSON values whose objects are lists of (key, value) pairs, so that keys can repeat."""
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(lambda items: ("array", items)),
            st.lists(st.tuples(KEYS, inner), max_size=4).map(lambda pairs: ("object", pairs)),
        ),
        max_leaves=25,
    )


def _render(value: Any, indent: int | None, depth: int = 0) -> str:
    gap = "" if indent is None else "\n" + " " * (indent * (depth + 1))
    end = "" if indent is None else "\n" + " " * (indent * depth)
    if isinstance(value, tuple):
        kind, items = value
        if kind == "array":
            inner = [_render(item, indent, depth + 1) for item in items]
            return "[" + ",".join(gap + text for text in inner) + (end if inner else "") + "]"
        inner = [json.dumps(key) + ": " + _render(item, indent, depth + 1) for key, item in items]
        return "{" + ",".join(gap + text for text in inner) + (end if inner else "") + "}"
    return json.dumps(value)


def _pointers(data: Any, pointer: str = "") -> Iterator[str]:
    yield pointer
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _pointers(value, f"{pointer}/{escape_pointer_token(key)}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _pointers(value, f"{pointer}/{index}")


@settings(max_examples=300, deadline=None)
@given(_pairs_strategy(), st.sampled_from([None, 0, 2]), st.randoms(use_true_random=False))
def test_every_pointer_is_located_where_the_token_scan_puts_it(value: Any, indent: int | None,
                                                              order: random.Random) -> None:
    """In any order of asking, with or without repeated keys (the last occurrence wins, as in the parsed data)."""
    text = _render(value, indent)
    parsed = parse_json(text, "doc.json")
    assert parsed.source.unique_keys == (not parsed.duplicate_keys)
    expected = dict(scan_json_offsets(text))
    wanted = list(_pointers(parsed.data))
    order.shuffle(wanted)
    for pointer in wanted:
        assert parsed.source.locate(pointer) == parsed.source.offset_to_position(expected[pointer]), pointer
        assert parsed.source.has_pointer(pointer)
    assert not parsed.source.has_pointer("/no-such-key")
    present = set(wanted)
    for pointer in expected.keys() - present:  # inside an earlier occurrence of a repeated key
        assert not parsed.source.has_pointer(pointer), pointer


def test_a_repeated_key_is_located_at_its_last_occurrence_after_an_earlier_lookup() -> None:
    text = '{\n "Statement": [{"Action": "a"}],\n "Statement": [\n  {"Action": "b"},\n  {"Action": "c"}\n ]\n}'
    parsed = parse_json(text, "doc.json")
    assert not parsed.source.unique_keys
    assert parsed.source.locate("/Statement/1/Action") == (5, 14)
    assert parsed.source.locate("/Statement/0") == (4, 3)
    assert parsed.source.locate("/Statement") == (3, 15)
    first_longer = parse_json('{"a": [1, 2, 3], "a": [4]}', "doc.json").source
    assert first_longer.locate("/a/0") == (1, 24) and not first_longer.has_pointer("/a/2")


@settings(max_examples=300, deadline=None)
@given(st.text("ab\n", max_size=40), st.lists(st.integers(-1, 12), max_size=20))
def test_line_text_is_the_line_in_any_order_of_asking(text: str, lines: list[int]) -> None:
    """Excerpts ask for a line and then the next: the shortcut for that must agree with a plain split."""
    from auditor.source import Source

    source = Source("x.json", text)
    expected = text.split("\n")
    for line in lines:
        assert source.line_text(line) == (expected[line - 1].rstrip("\r") if 1 <= line <= len(expected) else None)
