"""Labelling by partitions (lfkit.model.partitioned) equals labelling all rows at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLES

import lfkit
from lfkit.data import read_data, split_data
from lfkit.model.label import count_labels, known_labels
from lfkit.model.partitioned import (
    fit_label_model_partitions,
    label_partitions,
    merge_label_counts,
)
from lfkit.rules.ruleset import RuleSet


def whole(
    ruleset: RuleSet, path: Path, method: str, use_labels: bool
) -> tuple[pd.DataFrame, lfkit.LabelModel]:
    """Label all rows at once, as `lfkit label` did before partitions."""
    df = read_data(path, ruleset.task, labels=False)
    votes = lfkit.apply_rules(ruleset, df)
    rows, given = known_labels(ruleset, df, source=str(path))
    if use_labels and len(rows):
        subset = lfkit.Votes(votes.fired[rows], votes.values)
        model = lfkit.fit_label_model(ruleset, subset, given, method=method)
    else:
        model = lfkit.fit_label_model(ruleset, votes, None, method=method)
    labelled = lfkit.label_rows(model, df, votes=votes)
    assert count_labels(labelled, votes).n_rows == len(df)
    return labelled, model


def by_partitions(
    ruleset: RuleSet, path: Path, method: str, use_labels: bool, blocksize: int
) -> tuple[pd.DataFrame, lfkit.LabelModel, int]:
    """Label partition by partition in this process."""
    parts = split_data(path, ruleset.task, labels=False, blocksize=blocksize)
    assert len(parts) >= 4
    model, labelled = fit_label_model_partitions(
        ruleset, parts, method=method, use_labels=use_labels
    )
    frames, counts = zip(*label_partitions(model, parts), strict=True)
    total = counts[0]
    for more in counts[1:]:
        total = merge_label_counts(total, more)
    df = pd.concat(frames, ignore_index=True)
    assert total.n_rows == len(df)
    return df, model, labelled


@pytest.mark.parametrize(
    ("rules", "method", "use_labels"),
    [
        ("class", "auto", True),
        ("class", "auto", False),
        ("class", "majority", True),
        ("tags", "naive-bayes", True),
        ("tags", "majority", False),
        # EM over the 400 tags, fitted twice: seconds; the class cases cover the rows path
        pytest.param("tags", "em", True, marks=pytest.mark.slow),
    ],
)
def test_partitions_label_like_all_rows_at_once(
    tmp_path: Path,
    projects: pd.DataFrame,
    class_rules: RuleSet,
    tag_rules: RuleSet,
    rules: str,
    method: str,
    use_labels: bool,
) -> None:
    """The model fitted from partition summaries labels every row as the whole-data model."""
    if rules == "class":
        ruleset, path, blocksize = class_rules, EXAMPLES / "dataset.csv", 40_000
    else:
        ruleset, path, blocksize = tag_rules, tmp_path / "projects.jsonl", 100_000
        projects.to_json(path, orient="records", lines=True, force_ascii=False)
    expected, model = whole(ruleset, path, method, use_labels)
    got, fitted, labelled = by_partitions(ruleset, path, method, use_labels, blocksize)
    assert fitted.method == model.method and fitted.counts.n_rows == model.counts.n_rows
    assert labelled == (model.counts.n_rows if use_labels else 0)
    pd.testing.assert_frame_equal(got, expected)


def test_label_counts_merge_like_counting_all_rows(
    class_rules: RuleSet, classes: pd.DataFrame
) -> None:
    """Counts of two halves merged equal the counts of all rows, most frequent label first."""
    model = lfkit.fit_label_model(class_rules, classes, method="majority")
    labelled = lfkit.label_rows(model, classes)
    votes = lfkit.apply_rules(class_rules, classes)
    half = 300
    first = count_labels(labelled.iloc[:half], lfkit.Votes(votes.fired[:half], votes.values))
    rest = lfkit.Votes(votes.fired[half:], votes.values)
    second = count_labels(labelled.iloc[half:].reset_index(drop=True), rest)
    assert merge_label_counts(first, second) == count_labels(labelled, votes)
    assert list(merge_label_counts(first, second).per_label.values()) == sorted(
        count_labels(labelled, votes).per_label.values(), reverse=True
    )


def test_no_labelled_rows_refuses_naive_bayes(class_rules: RuleSet) -> None:
    """naive-bayes without labelled rows raises the same error as fit_label_model."""
    parts = split_data(EXAMPLES / "dataset.csv", class_rules.task, blocksize=60_000)
    with pytest.raises(lfkit.LfkitError, match="learns from existing labels"):
        fit_label_model_partitions(class_rules, parts, method="naive-bayes", use_labels=False)
    assert np.all([len(part()) for part in parts])
