"""Label data read by partitions: fit a label model from per-partition summaries, then label
each partition where it is read.

The same code runs in this process (`lfkit.data.map_local`, memory of one partition) and on a
Dask cluster (`lfkit.engine.distributed.map_partitions`, partitions read on the workers, only
counts, fitted parameters and, when asked, the labelled rows of one partition at a time
coming back). Both give what `fit_label_model` and `label_rows` give on all rows at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit._types import LABEL_METHODS, IntArray, LabelMethod
from lfkit.data import Partition, map_local
from lfkit.engine.apply import apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import DataError, check_choice
from lfkit.model.fit import NEEDS_LABELS, LabelModel, auto_method, fit_label_model
from lfkit.model.label import LabelCounts, count_labels, known_labels, label_rows
from lfkit.model.naive_bayes import FeatureCounts, count_features, model_features
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet

Mapper = Callable[..., Iterator[Any]]
"""`lfkit.data.map_local` (this process) or `lfkit.engine.distributed.map_partitions` (Dask)."""


@dataclass(frozen=True, eq=False)
class _FitSummary:
    """What fitting a label model needs from some rows: counts that add up, and (for the
    methods that iterate over rows, em and snorkel) the rows' votes and labels."""

    n_rows: int
    labelled: int
    features: FeatureCounts
    """Naive-Bayes counts of the labelled rows."""
    labels: FeatureCounts
    """Label counts (no features) of the labelled rows."""
    votes: sparse.csr_array | None
    labelled_rows: IntArray | None
    given: list[Any] | None


def fit_label_model_partitions(
    ruleset: RuleSet,
    parts: Sequence[Partition],
    *,
    method: LabelMethod = "auto",
    use_labels: bool = True,
    seed: int = 0,
    map_parts: Mapper = map_local,
) -> tuple[LabelModel, int]:
    """Fit a label model on data read by partitions; return it and the labelled rows it used.

    The same model `fit_label_model` fits on all rows at once, where a row counts as
    labelled when its label cell is filled in (`known_labels`) and `use_labels` is on; with
    no labelled rows the model learns from the votes alone. `naive-bayes` and `majority`
    need only counts, which each partition adds up where it is read; `em` and `snorkel`
    iterate over rows, so the sparse votes of the rows they fit on (about 12 bytes per rule
    firing, no text) come back to this process. `map_parts` runs the partitions: in this
    process (`map_local`) or on a Dask cluster (`map_partitions`).

    Raises
    ------
    OptionError
        For an unknown method, or `naive-bayes` without labelled rows.
    DataError
        For a partition that does not read, or a label that does not parse.
    """
    check_choice("method", method, LABEL_METHODS, "label model")
    rows_needed = method in ("em", "snorkel") or (method == "auto" and not ruleset.multilabel)
    n_rows = labelled = 0
    features = labels = None
    fired: list[sparse.csr_array] = []
    rows: list[IntArray] = []
    given: list[Any] = []
    for summary in map_parts(_fit_summary, parts, ruleset, use_labels, rows_needed):
        features = summary.features if features is None else features + summary.features
        labels = summary.labels if labels is None else labels + summary.labels
        if summary.votes is not None and summary.labelled_rows is not None:
            fired.append(summary.votes)
            rows.append(summary.labelled_rows + n_rows)
            given.extend(summary.given or [])
        n_rows += summary.n_rows
        labelled += summary.labelled
    if features is None or labels is None:
        raise DataError("the data has no partitions")
    if method == "auto":
        method = auto_method(ruleset, labels=labelled > 0)
    if method in NEEDS_LABELS and not labelled:
        fit_label_model(ruleset, _no_votes(ruleset), None, method=method)  # raises, one message
    if method == "naive-bayes":
        return LabelModel(ruleset, method, counts=features), labelled
    if method == "majority":
        counts = labels if labelled else _no_label_counts(ruleset, n_rows)
        return LabelModel(ruleset, method, counts=counts), labelled
    stacked = sparse.csr_array(sparse.vstack(fired, format="csr"))
    if labelled:
        stacked = stacked[np.concatenate(rows)]
    votes = Votes(stacked, _values(ruleset), tuple(ruleset.rule_names))
    fitted = fit_label_model(ruleset, votes, given if labelled else None, method=method, seed=seed)
    # keep the parameters, not the training rows: the model travels to every partition
    model = LabelModel(ruleset, method, counts=fitted.counts, em=fitted.em, snorkel=fitted.snorkel)
    return model, labelled


def label_partitions(
    model: LabelModel,
    parts: Sequence[Partition],
    *,
    threshold: float | None = None,
    keep_abstains: bool = False,
    rows: bool = True,
    map_parts: Mapper = map_local,
) -> Iterator[tuple[pd.DataFrame | None, LabelCounts]]:
    """Label each partition with `model` where it is read; yield, in order, the labelled rows
    (`label_rows`' output; None without `rows`) and their `count_labels` counts.

    Raises
    ------
    DataError
        For a partition that does not read, or that already has an output column.
    """
    yield from map_parts(_label_partition, parts, model, threshold, keep_abstains, rows)


def merge_label_counts(first: LabelCounts, second: LabelCounts) -> LabelCounts:
    """Return the counts of the rows of two disjoint `LabelCounts` (as `count_labels` counts)."""
    merged: dict[str, Any] = {}
    for field in fields(first):
        a, b = getattr(first, field.name), getattr(second, field.name)
        if isinstance(a, dict):
            both = {key: a.get(key, 0) + b.get(key, 0) for key in {**a, **b}}
            merged[field.name] = dict(
                sorted(both.items(), key=lambda item: (-item[1], str(item[0])))
            )
        else:
            merged[field.name] = a + b
    return LabelCounts(**merged)


def _fit_summary(
    part: Partition, ruleset: RuleSet, use_labels: bool, rows_needed: bool
) -> _FitSummary:
    df = part()
    votes = apply_rules(ruleset, df)
    if use_labels:
        rows, given = known_labels(ruleset, df, source=part.describe())
    else:
        rows, given = np.zeros(0, dtype=np.int64), []
    y = given_matrix(ruleset, given)
    fired = votes.fired[rows]
    return _FitSummary(
        n_rows=len(df),
        labelled=len(rows),
        features=count_features(model_features(ruleset, fired, y), y),
        labels=count_features(sparse.csr_array((len(rows), 0)), y),
        votes=votes.fired if rows_needed else None,
        labelled_rows=rows if rows_needed else None,
        given=given if rows_needed else None,
    )


def _label_partition(
    part: Partition, model: LabelModel, threshold: float | None, keep_abstains: bool, rows: bool
) -> tuple[pd.DataFrame | None, LabelCounts]:
    df = part()
    votes = apply_rules(model.ruleset, df)
    labelled = label_rows(model, df, votes=votes, threshold=threshold, keep_abstains=keep_abstains)
    return (labelled if rows else None), count_labels(labelled, votes)


def _values(ruleset: RuleSet) -> np.ndarray:
    return np.array([rule.value for rule in ruleset.rules], dtype=np.int64)


def _no_votes(ruleset: RuleSet) -> Votes:
    fired = sparse.csr_array((0, len(ruleset)), dtype=bool)
    return Votes(fired, _values(ruleset), tuple(ruleset.rule_names))


def _no_label_counts(ruleset: RuleSet, n_rows: int) -> FeatureCounts:
    shape = (n_rows, len(ruleset.labels))
    no_labels = sparse.csr_array(shape, shape=shape, dtype=np.int8)
    return count_features(sparse.csr_array((n_rows, 0)), no_labels)
