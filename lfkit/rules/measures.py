"""Length and score tests: what the engine computes for a whole column, the LFs for one row.

Both call these functions, so a length or score rule votes alike in `apply_rules` and in its
Snorkel LabelingFunction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lfkit._types import BoolArray, FloatArray
from lfkit.rules.schema import Length, Score


def text_length(text: str, unit: str) -> int:
    """Return the length of a text in words (runs of non-space characters) or characters.

    Examples
    --------
    >>> text_length("Check out  my channel!", "words"), text_length("héllo", "characters")
    (4, 5)
    """
    return len(text.split()) if unit == "words" else len(text)


def numbers(values: Sequence[Any]) -> FloatArray:
    """Return values as floats; NaN where a value is missing or not a number.

    Examples
    --------
    >>> numbers([0.5, "0.25", None, "n/a", True]).tolist()
    [0.5, 0.25, nan, nan, nan]
    """
    series = pd.Series(list(values), dtype=object)
    series = series.where(~series.map(lambda value: isinstance(value, bool)), None)
    return np.asarray(pd.to_numeric(series, errors="coerce"), dtype=np.float64)


def within(values: Any, bounds: Length | Score) -> BoolArray:
    """Say where values lie within the bounds (inclusive); NaN never does.

    Examples
    --------
    >>> within(np.array([0.1, 0.3, np.nan, 0.9]), Score(column="p", min=0.3)).tolist()
    [False, True, False, True]
    """
    values = np.asarray(values, dtype=np.float64)
    inside = ~np.isnan(values)
    if bounds.min is not None:
        inside &= values >= bounds.min
    if bounds.max is not None:
        inside &= values <= bounds.max
    return np.asarray(inside, dtype=bool)
