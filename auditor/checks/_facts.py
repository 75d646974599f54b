"""Facts about statements that several validity rules need, computed once per run.

The per-run caches live in ``CheckContext.options`` (a fresh dict per run), keyed by
the lower-case action patterns of a statement, so a statement repeated across many
policies (as in account exports) is expanded once.
"""

from __future__ import annotations

import re
from typing import Any

from auditor.engine import CheckContext
from auditor.model import Statement
from auditor.permissions import permission_model

OPAQUE_VALUE = re.compile(r"\$\{[^{}]*\}|\{\{.*?\}\}|<[^<>\s]+>")
"""IAM policy variables, CloudFormation placeholders of the loader and ``<placeholder>`` values of vendor docs."""


def opaque(text: str) -> str:
    """The text with every variable or placeholder replaced by ``*``: its value is unknown, never an error."""
    if "$" not in text and "{" not in text and "<" not in text:
        return text
    return OPAQUE_VALUE.sub("*", text)


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def run_cache(context: CheckContext, name: str) -> dict[Any, Any]:
    key = "_validity_" + name
    cache: dict[Any, Any] | None = context.options.get(key)
    if cache is None:
        cache = context.options[key] = {}
    return cache


def statement_actions(statement: Statement, context: CheckContext) -> frozenset[str] | None:
    """Every current action the ``Action`` element matches (lower-case ``svc:action``).

    None when the statement uses ``NotAction`` (or has no actions) or when one of its
    patterns matches nothing in the catalogue (unknown or retired): the unknown-action
    rules report those, and guessing what the author meant would only add noise.
    """
    if not statement.actions:
        return None
    cache = run_cache(context, "statement_actions")
    key = statement.actions
    if key in cache:
        found: frozenset[str] | None = cache[key]
        return found
    model = permission_model(context.catalog)
    known = model.all_actions
    result: frozenset[str] | None = None
    if all(pattern in known or context.catalog.expand(pattern) for pattern in map(str.lower, key)):
        result = model.expand(key)  # the union, shared with the permission model's compilation
    cache[key] = result
    return result


def is_every_action(statement: Statement) -> bool:
    return statement.actions is not None and any(a == "*" for a in statement.actions)
