"""The partitioned audit: two passes over partitions give the whole-data audit, in any order."""

from __future__ import annotations

import pickle
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lfkit
from lfkit.audit.distributed import audit_partitions
from lfkit.audit.partitioned import (
    audit_chunks,
    audit_partition,
    finish_audit,
    fit_audit,
    merge_partials,
    merge_scans,
    scan_partition,
)
from lfkit.audit.scores import read_rows
from lfkit.audit.suspects import AuditReport, audit_labels
from lfkit.data import check_frame, split_data
from lfkit.errors import DataError
from lfkit.model.classifier import out_of_fold_scores
from lfkit.model.fit import fit_label_model
from lfkit.model.neighbours import fit_text_vectors
from lfkit.rules.ruleset import RuleSet


def _records(report: AuditReport) -> dict[str, object]:
    return {
        "flags": [flag.to_dict() for flag in report.flags],
        "rows": [flag.row for flag in report.flags],
        "findings": [finding.to_dict() for finding in report.findings],
        "counts": report.counts,
        "min_score": report.min_score,
        "fusion": report.fusion,
        "noise": report.noise,
        "new_labels": report.new_labels,
        "n_rows": report.n_rows,
    }


def _parts(df: pd.DataFrame, size: int) -> list[tuple[int, pd.DataFrame]]:
    return [(start, df.iloc[start : start + size]) for start in range(0, len(df), size)]


def _flipped(classes: pd.DataFrame, share: float = 0.1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    df = classes.copy()
    chosen = rng.choice(len(df), int(share * len(df)), replace=False)
    labels = sorted(df["tag"].unique())
    for row in chosen:
        df.loc[row, "tag"] = next(c for c in rng.permutation(labels) if c != df.loc[row, "tag"])
    return df, chosen


@pytest.mark.parametrize(
    ("rules", "data"),
    [("class_rules", "classes"), pytest.param("tag_rules", "projects", marks=pytest.mark.slow)],
)
def test_chunked_audit_equals_the_whole_data_audit(
    rules: str, data: str, request: pytest.FixtureRequest
) -> None:
    """Chunks of raw rows, read twice, give the report of the whole DataFrame at once: every
    flag with its evidence, the counts, the findings and the threshold."""
    ruleset, df = request.getfixturevalue(rules), request.getfixturevalue(data)
    whole = audit_labels(ruleset, df, min_score=0.1)
    chunked = audit_chunks(ruleset, lambda: (part for _, part in _parts(df, 450)), min_score=0.1)
    assert len(whole.flags) > 10
    assert ruleset.task.kind == "multiclass" or whole.findings
    assert _records(chunked) == _records(whole)


def test_partitions_merge_in_any_order(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """With a fit sample smaller than the data, partitions scanned and audited separately and
    merged in another order give the same report as one partition; the sample is the same."""
    df, _ = _flipped(classes)
    options = {"seed": 4, "sample_rows": 300}
    one = scan_partition(class_rules, df, **options)
    parts = _parts(df, 100)
    scans = [scan_partition(class_rules, part, offset, **options) for offset, part in parts]
    merged = reduce(merge_scans, scans[::-1])
    assert len(one.sample) == 300 and merged.n_rows == len(df)
    assert one.sample.rows.tolist() == merged.sample.rows.tolist()
    np.testing.assert_array_equal(one.counts.fired_present, merged.counts.fired_present)
    plan = fit_audit(class_rules, merged, seed=4, top=15)
    partials = [audit_partition(plan, part, offset) for offset, part in parts]
    pairs = [merge_partials(a, b) for a, b in zip(partials[::2], partials[1::2], strict=False)]
    tree = reduce(merge_partials, pairs[::-1] + partials[len(pairs) * 2 :])
    report = finish_audit(plan, tree)
    single = finish_audit(plan, audit_partition(plan, df))
    assert len(report.flags) == 15 and report.n_flags > 15
    assert _records(report) == _records(single)


def test_sampled_audit_still_finds_planted_flips(
    class_rules: RuleSet, classes: pd.DataFrame
) -> None:
    """Fitted on 300 of 764 rows, the audit still ranks planted class flips first, in the
    sample (out-of-fold) and outside it (one classifier for the rest)."""
    df, chosen = _flipped(classes)
    report = audit_chunks(class_rules, lambda: (p for _, p in _parts(df, 200)), sample_rows=300)
    sample = scan_partition(class_rules, df, sample_rows=300).sample.rows
    top = {flag.row for flag in report.flags[: len(chosen)]}
    planted = set(chosen.tolist())
    assert len(top & planted) >= 0.6 * len(planted)
    outside = planted - set(sample.tolist())
    assert len(top & outside) >= 0.5 * len(outside) > 0


def test_scores_equal_the_whole_data_fits(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """On data no larger than the sample, the evidence is what fitting on all rows gives: the
    label model's leave-one-out probabilities and the out-of-fold classifier scores."""
    df = check_frame(
        classes, class_rules.task, columns=["id", "title", "description", "tag"], source="t"
    )
    plan = fit_audit(class_rules, scan_partition(class_rules, df, seed=2), seed=2)
    rows = read_rows(class_rules, df)
    found = plan.scorer.evidence.of(rows)
    model = fit_label_model(class_rules, rows.votes, df["tag"].tolist(), method="naive-bayes")
    np.testing.assert_array_equal(found["rules"], model.fitted_proba())
    vectors = fit_text_vectors(rows.texts).transform(rows.texts)
    expected = out_of_fold_scores(vectors, rows.y, seed=2)
    np.testing.assert_array_equal(found["classifier"], expected.astype(np.float64))


def test_plan_and_partials_travel_by_pickle(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """The fitted plan and a partial result survive pickling (as Dask ships them) and give the
    same report; a partial with `top` holds the facts of its candidates' rows only."""
    plan = fit_audit(class_rules, scan_partition(class_rules, classes), top=5, min_score=0.0)
    partial = audit_partition(plan, classes.iloc[:300])
    again = pickle.loads(pickle.dumps(plan))
    copied = pickle.loads(pickle.dumps(audit_partition(again, classes.iloc[:300])))
    assert _records(finish_audit(plan, partial)) == _records(finish_audit(again, copied))
    assert len(partial.facts) == 5 and partial.counts.sum() == 300
    assert len(pickle.dumps(partial)) < 20_000


def test_bad_partition_names_its_rows(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """A missing id in a later chunk is a data error naming the chunk and the row in it."""
    df = classes.copy()
    df["id"] = df["id"].astype(object)
    df.loc[450, "id"] = None
    with pytest.raises(DataError, match=r"rows from 401\): row 51 has no id"):
        audit_chunks(class_rules, lambda: (part for _, part in _parts(df, 200)))


def test_library_audit_keeps_its_signature(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """`lfkit.audit_labels` is the partitioned audit over chunks of the DataFrame; its flags
    compare as a sequence and, equal by value, do not hash."""
    report = lfkit.audit_labels(class_rules, classes, top=3)
    assert len(report.flags) == 3 and report.n_rows == len(classes)
    assert report.flags == list(report.flags) != report.flags[:2]
    with pytest.raises(TypeError, match="unhashable"):
        hash(report.flags)


def test_id_repeated_in_two_chunks_is_an_error(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """Ids must be unique across chunks too, as in a whole-data audit."""
    df = classes.copy()
    df.loc[700, "id"] = df.loc[3, "id"]
    with pytest.raises(DataError, match="rows 4 and 701 have the same id in column 'id'"):
        audit_chunks(class_rules, lambda: (part for _, part in _parts(df, 200)))


def test_partitions_of_a_file_check_ids_across_partitions(
    class_rules: RuleSet, classes: pd.DataFrame, tmp_path: Path
) -> None:
    """`audit_partitions` (the Dask path, mapped here in this process) refuses an id repeated
    in two partitions of a file, as the single-process audit does."""
    df = classes.copy()
    df.loc[700, "id"] = df.loc[3, "id"]
    path = tmp_path / "classes.csv"
    df.to_csv(path, index=False)
    parts = split_data(path, class_rules.task, blocksize=30_000)
    assert len(parts) >= 3
    with pytest.raises(DataError, match="rows 4 and 701 have the same id") as info:
        audit_partitions(class_rules, parts)
    assert info.value.where == parts[0].describe()
