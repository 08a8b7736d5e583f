"""How a cell of a text column becomes the text that rules search."""

from __future__ import annotations

from typing import Any

import pandas as pd


def as_text(value: Any) -> str:
    """Return the text rules search in a cell: '' for missing values, items joined for lists.

    Examples
    --------
    >>> as_text(None), as_text(float("nan")), as_text(["a", 1]), as_text(3)
    ('', '', 'a 1', '3')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) > 0:
        return " ".join(as_text(item) for item in value)
    if pd.isna(value):
        return ""
    return str(value)
