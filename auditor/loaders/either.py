"""Both results of a conditional decided at deploy time (CloudFormation ``Fn::If``, a Terraform ``? :``), as one list.

Where a policy element takes a list (``Action``, ``Resource``...), what the policy allows whichever way the
condition goes is what the items of both results allow together.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any


def kept_items(branches: Sequence[Sequence[Any]]) -> list[tuple[int, int]]:
    """(branch, index) of the items that stand for all ``branches`` together, in order.

    An item an earlier branch holds already, or one that another branch's wildcard pattern matches
    (``s3:GetObject`` beside ``s3:*``), adds nothing to what either allows, and would only read as a
    redundant item of the policy.
    """
    kept = []
    for number, items in enumerate(branches):
        others = [item for other, other_items in enumerate(branches) if other != number for item in other_items]
        earlier = [item for before in branches[:number] for item in before]
        kept += [(number, index) for index, item in enumerate(items)
                 if not _covered(item, others) and item not in earlier]
    return kept


def _covered(item: Any, patterns: Sequence[Any]) -> bool:
    return isinstance(item, str) and any(
        isinstance(pattern, str) and pattern != item and ("*" in pattern or "?" in pattern)
        and fnmatchcase(item.lower(), pattern.lower()) for pattern in patterns)
