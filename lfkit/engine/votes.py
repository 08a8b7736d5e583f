"""`Votes`: the label matrix in sparse form, with the rule names of its columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from lfkit._types import ABSTAIN, IntArray, LabelMatrix

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, eq=False)
class Votes:
    """The label matrix in sparse form: which rule fired on which row, and each rule's vote.

    `to_dense()` gives the integer matrix Snorkel's appliers return: ABSTAIN where a rule did
    not fire, else its vote; `to_frame()` the same as a DataFrame with a column per rule.
    """

    fired: sparse.csr_array
    values: IntArray
    names: tuple[str, ...] = ()
    """The rule of each column (`ruleset.rule_names`); empty when not known."""

    @property
    def shape(self) -> tuple[int, int]:
        """Return (n_rows, n_rules)."""
        return (int(self.fired.shape[0]), int(self.fired.shape[1]))

    def to_dense(self) -> LabelMatrix:
        """Return the dense (n_rows, n_rules) int64 label matrix."""
        matrix = np.full(self.shape, ABSTAIN, dtype=np.int64)
        rows, cols = self.fired.nonzero()
        matrix[rows, cols] = self.values[cols]
        return matrix

    def to_frame(self, ids: Any = None, *, id_column: str = "id") -> pd.DataFrame:
        """Return the votes as a DataFrame: one column per rule named after it, ABSTAIN where
        it did not fire; with `ids` (one per row, e.g. `df["id"]`) first, as `id_column`.

        Examples
        --------
        >>> votes = Votes(sparse.csr_array(np.array([[1, 0], [0, 0]], dtype=bool)),
        ...               np.array([1, 0]), ("spam-link", "ham-greeting"))
        >>> votes.to_frame(ids=[7, 8])
           id  spam-link  ham-greeting
        0   7          1            -1
        1   8         -1            -1
        """
        import pandas as pd

        names = list(self.names) or [f"rule_{index}" for index in range(self.shape[1])]
        frame = pd.DataFrame(self.to_dense(), columns=names)
        if ids is not None:
            values = ids.to_numpy() if hasattr(ids, "to_numpy") else list(ids)
            if len(values) != self.shape[0]:
                raise ValueError(f"to_frame: {len(values)} ids for {self.shape[0]} rows")
            frame.insert(0, id_column, values)
        return frame

    def __repr__(self) -> str:
        rows, rules = self.shape
        fired = int(self.fired.nnz)
        share = fired / (rows * rules) if rows and rules else 0.0
        return f"Votes({rows:,} rows x {rules:,} rules, {fired:,} votes cast ({share:.2%}))"
