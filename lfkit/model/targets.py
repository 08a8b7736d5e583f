"""The existing labels as a sparse 0/1 matrix over the rule set's labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from lfkit._types import FloatArray
from lfkit.errors import DataError
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.schema import label_name


def given_matrix(ruleset: RuleSet, given: Sequence[Any]) -> sparse.csr_array:
    """Return (n_rows, n_labels) 0/1: which of the rule set's labels each row has.

    `given` holds, per row, a list of tags (multilabel) or one class (multiclass); labels
    outside the rule set are ignored; in a multiclass task every class must be a label.

    Raises
    ------
    DataError
        For a multiclass row whose class is not one of the rule set's labels.

    Examples
    --------
    >>> from lfkit.rules.schema import Task
    >>> task = Task(kind="multilabel", text_columns=("t",), label_column="tags")
    >>> ruleset = RuleSet(task, ("nlp", "cv"), {}, ())
    >>> given_matrix(ruleset, [["cv", "misc"], []]).toarray().tolist()
    [[0, 1], [0, 0]]
    """
    index = ruleset.label_index
    if not ruleset.multilabel:
        given = [label_name(label) for label in given]
        unknown = sorted({str(label) for label in given if label not in index})
        if unknown:
            raise DataError(
                f"classes {', '.join(map(repr, unknown[:5]))} in the data are not labels of the "
                f"rule set ({', '.join(ruleset.labels)})",
                "add them under 'labels:' (with match_name: false if the name is not a good "
                "keyword)",
            )
    rows: list[int] = []
    cols: list[int] = []
    for row, labels in enumerate(given):
        for label in [labels] if isinstance(labels, str) else labels:
            if label in index:
                rows.append(row)
                cols.append(index[label])
    data = np.ones(len(rows), dtype=np.int8)
    matrix = sparse.csr_array((data, (rows, cols)), shape=(len(given), len(ruleset.labels)))
    matrix.data[:] = 1  # a tag listed twice counts once
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def base_rates(
    present: FloatArray, n_rows: int, own: FloatArray | None = None, *, exclusive: bool = False
) -> FloatArray:
    """Return each label's base rate, smoothed, leaving each row's own labels out.

    `present[l]` counts the rows with label l among `n_rows`; `own` (n, n_labels) holds the
    own labels (0/1) of n of those rows: their rates are (present - own + 1) / (n_rows + 1),
    so a label never vouches for itself. Without `own` (rows outside the data) the result is
    one row of rates (present + 1) / (n_rows + 1). With `exclusive` (one class per row) the
    denominator is present.sum() + n_labels - 1: each row's rates then sum to 1.

    Examples
    --------
    >>> y = np.array([[1, 0], [1, 1], [0, 0]])
    >>> base_rates(y.sum(axis=0), 3, y).round(2).tolist()
    [[0.5, 0.5], [0.5, 0.25], [0.75, 0.5]]
    >>> base_rates(y.sum(axis=0), 3).round(2).tolist()
    [0.75, 0.5]
    """
    present = np.asarray(present, dtype=np.float64)
    total = present.sum() + len(present) - 1.0 if exclusive else n_rows + 1.0
    left = present + 1.0 if own is None else present + 1.0 - own
    return np.asarray(left / total)
