"""Type aliases shared across lfkit, and the ABSTAIN vote."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ABSTAIN = -1
"""The vote of a rule that has nothing to say about a row."""

LabelMatrix = npt.NDArray[np.int64]
"""Votes, shape (n_samples, n_lfs): ABSTAIN, or the rule's vote."""

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
