"""The existing labels as a sparse 0/1 matrix over the rule set's labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

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
    index = {label: column for column, label in enumerate(ruleset.labels)}
    if not ruleset.multilabel:
        given = [label_name(label) for label in given]
        unknown = sorted({str(label) for label in given if label not in index})
        if unknown:
            raise DataError(
                f"classes {', '.join(map(repr, unknown[:5]))} in the data are not labels of the "
                f"rule set ({', '.join(ruleset.labels)}); hint: add them under 'labels:' (with "
                "match_name: false if the name is not a good keyword)"
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
