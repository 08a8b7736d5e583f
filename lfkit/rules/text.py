"""How a cell of a text column becomes the text that rules search."""

from __future__ import annotations

import unicodedata
from typing import Any

import pandas as pd


def normalize(text: str) -> str:
    """Return text in Unicode normal form NFC, the form rules and texts are both matched in.

    'café' typed as e + combining accent (NFD, as macOS file names and some exports write it)
    and as the single character é (NFC) are the same word; without one form they never match.

    Examples
    --------
    >>> normalize("cafe\\u0301") == "caf\\u00e9"
    True
    """
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def as_text(value: Any) -> str:
    """Return the text rules search in a cell: '' for missing values, items joined for lists.

    Nested lists (and the values of mappings) are flattened without recursion, so no depth of
    nesting can crash a run; every text comes back in NFC (see `normalize`).

    Examples
    --------
    >>> as_text(None), as_text(float("nan")), as_text(["a", 1, ["b"]]), as_text(3)
    ('', '', 'a 1 b', '3')
    """
    if isinstance(value, str):
        return normalize(value)
    if not _is_many(value):
        return "" if _is_missing(value) else normalize(str(value))
    parts: list[str] = []
    stack = [iter(value.values() if isinstance(value, dict) else value)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, str):
                parts.append(item)
            elif _is_many(item):
                stack.append(iter(item.values() if isinstance(item, dict) else item))
                break
            elif not _is_missing(item):
                parts.append(str(item))
        else:
            stack.pop()
    return normalize(" ".join(parts))


def _is_many(value: Any) -> bool:
    return isinstance(value, (list, tuple, dict)) or getattr(value, "ndim", 0) > 0


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
