"""The label model on a Dask cluster: naive-Bayes counts per partition, summed on the workers.

It sits in the model layer and uses the Dask engine below it (lfkit.engine.distributed) to
ship the rule set and apply it per partition; neither rows nor texts travel to the client.
"""

from __future__ import annotations

import operator

import dask.dataframe as dd
import pandas as pd
from dask.base import compute
from dask.delayed import delayed

from lfkit.data import parse_labels
from lfkit.engine.apply import _fields, apply_rules
from lfkit.engine.distributed import _check_columns, _compiled, _shipped
from lfkit.errors import DataError
from lfkit.model.naive_bayes import (
    FeatureCounts,
    NaiveBayesLabelModel,
    count_features,
    model_features,
    model_from_counts,
)
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet


def label_statistics_dask(ruleset: RuleSet, ddf: dd.DataFrame) -> NaiveBayesLabelModel:
    """Count on the cluster what `fit_naive_bayes` counts; return the fitted model.

    Each partition applies the rules and counts rows, rows per label, and rows per label
    and feature; the counts are summed in a tree on the workers, so only one set of
    (n_labels, n_features) counts reaches the client. The result equals
    ``fit_naive_bayes(ruleset, model_features(ruleset, votes.fired, y), y)`` on all rows.

    Raises
    ------
    DataError
        When a column the rules or the labels need is missing, or (at compute time) a label
        does not parse.
    """
    _check_columns(ruleset, ddf, [*_fields(ruleset), ruleset.task.label_column])
    rules = _shipped(ruleset)
    counts = [
        delayed(_partition_counts)(*rules, part, index)
        for index, part in enumerate(ddf.to_delayed())
    ]
    if not counts:
        raise DataError("the DataFrame has no partitions", where="label_statistics_dask")
    while len(counts) > 1:
        odd = [counts[-1]] if len(counts) % 2 else []
        pairs = zip(counts[::2], counts[1::2], strict=False)
        counts = [delayed(operator.add)(a, b) for a, b in pairs] + odd
    (total,) = compute(counts[0])
    return model_from_counts(ruleset, total)


def _partition_counts(ruleset: RuleSet, key: str, df: pd.DataFrame, index: int) -> FeatureCounts:
    ruleset = _compiled(ruleset, key)
    given = parse_labels(df, ruleset.task, source=f"partition {index}")
    y = given_matrix(ruleset, given)
    return count_features(model_features(ruleset, apply_rules(ruleset, df).fired, y), y)
