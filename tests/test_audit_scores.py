"""The audit's scoring on the bundled data (lfkit/audit/scores.py and the taxonomy constraint
of lfkit/audit/findings.py): the seeded fit sample, rows read and joined, evidence that stays
out-of-sample for every row, the default threshold's known answers, and the parent-child cap
and gaps on the real tags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLES
from scipy import sparse

import lfkit
from lfkit._types import LabelMethod
from lfkit.audit.findings import apply_taxonomy
from lfkit.audit.scores import (
    LabelScores,
    Rows,
    Scorer,
    default_threshold,
    fit_scorer,
    label_counts,
    read_rows,
    sample_keys,
    score_labels,
    smallest_keys,
)
from lfkit.data import read_data
from lfkit.engine.votes import Votes
from lfkit.errors import OptionError
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet

SAMPLE = 300
"""Fit sample of the scorer fixture: 300 of the 764 rows, so that 464 rows lie outside it."""


@pytest.fixture(scope="module")
def data(class_rules: RuleSet) -> pd.DataFrame:
    """The 4-class data with parsed labels."""
    return read_data(EXAMPLES / "dataset.csv", class_rules.task)


@pytest.fixture(scope="module")
def rows(class_rules: RuleSet, data: pd.DataFrame) -> Rows:
    """Every row of the 4-class data as the scorer reads it."""
    return read_rows(class_rules, data)


@pytest.fixture(scope="module")
def fitted(class_rules: RuleSet, rows: Rows) -> tuple[Scorer, LabelScores]:
    """A scorer fitted on a seeded sample of 300 rows, and the sample's scores."""
    sample = smallest_keys(rows, 5, SAMPLE)
    return fit_scorer(class_rules, label_counts(class_rules, rows), sample, seed=5)


def test_sample_keys_are_distinct_seeded_and_spread() -> None:
    """Row numbers get distinct keys (no ties), each seed its own sample, and a sample of
    consecutive row numbers is spread evenly over them, not bunched at one end."""
    numbers = np.arange(100_000)
    samples = []
    for seed in range(5):
        keys = sample_keys(numbers, seed)
        assert np.all(np.diff(np.sort(keys)) > 0)
        chosen = np.sort(np.argpartition(keys, 999)[:1000])
        per_block = np.bincount(chosen // 10_000, minlength=10)
        assert per_block.min() >= 60 and per_block.max() <= 140
        samples.append(set(chosen.tolist()))
    for i, one in enumerate(samples):
        for other in samples[i + 1 :]:
            assert len(one & other) < 50  # 10 expected by chance


def test_sample_of_sorted_data_keeps_the_class_shares(
    class_rules: RuleSet, data: pd.DataFrame
) -> None:
    """The sample is the 300 rows with the smallest keys, in row order; with rows sorted by
    class it still has every class in about its share."""
    ordered = data.sort_values("tag", kind="stable").reset_index(drop=True)
    sample = smallest_keys(read_rows(class_rules, ordered, texts=False), 0, SAMPLE)
    shares = sample.y.toarray().mean(axis=0)
    expected = read_rows(class_rules, ordered, texts=False).y.toarray().mean(axis=0)
    assert len(sample) == SAMPLE and np.all(np.diff(sample.rows) > 0)
    keys = sample_keys(np.arange(len(ordered)), 0)
    assert sample.rows.tolist() == sorted(np.argsort(keys)[:SAMPLE].tolist())
    np.testing.assert_allclose(shares, expected, atol=0.08)


def test_rows_taken_and_joined_are_the_same_rows(rows: Rows) -> None:
    """Two batches taken out of the rows and joined again are those rows: row numbers,
    texts, votes (with the rules' names) and labels; one batch joined is itself."""
    first, second = np.arange(0, 700, 3), np.arange(1, 764, 5)
    joined = Rows.concat([rows.take(first), rows.take(second)])
    both = rows.take(np.concatenate([first, second]))
    assert joined.rows.tolist() == both.rows.tolist()
    assert joined.texts == both.texts == [rows.texts[i] for i in both.rows]
    pd.testing.assert_frame_equal(joined.votes.to_frame(), both.votes.to_frame())
    assert list(both.votes.to_frame().columns) == list(rows.votes.names)
    assert (joined.y != both.y).nnz == 0
    alone = Rows.concat([rows.take(second)])
    pd.testing.assert_frame_equal(alone.votes.to_frame(), rows.take(second).votes.to_frame())


def test_read_rows_numbers_rows_from_the_offset(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """A later chunk's rows are numbered from its offset; its label counts add up with the
    first chunk's to the whole data's."""
    head = read_rows(class_rules, data.iloc[:400], texts=False)
    tail = read_rows(class_rules, data.iloc[400:], offset=400, texts=False)
    assert tail.rows.tolist() == list(range(400, len(data))) and tail.texts[0] == ""
    whole = label_counts(class_rules, read_rows(class_rules, data, texts=False))
    summed = label_counts(class_rules, head) + label_counts(class_rules, tail)
    assert summed.n_rows == whole.n_rows == len(data)
    for got, expected in zip(summed.arrays(), whole.arrays(), strict=True):
        np.testing.assert_allclose(got, expected)


def test_rows_are_scored_out_of_sample_in_any_order(
    fitted: tuple[Scorer, LabelScores], rows: Rows
) -> None:
    """Shuffled rows get the scores they get one by one: the sample's rows their out-of-fold
    classifier scores, the other rows the classifier fitted on the whole sample."""
    scorer, sample_scores = fitted
    order = np.random.default_rng(0).permutation(len(rows))
    found = scorer.evidence.of(rows.take(order))
    inside = np.isin(rows.rows[order], scorer.evidence.sample_rows)
    assert inside.sum() == SAMPLE
    position = np.searchsorted(scorer.evidence.sample_rows, rows.rows[order][inside])
    np.testing.assert_array_equal(
        found["classifier"][inside], sample_scores.classifier_scores[position]
    )
    assert scorer.evidence.classifier is not None
    outside = scorer.evidence.text.transform([rows.texts[i] for i in order[~inside]])
    np.testing.assert_allclose(
        found["classifier"][~inside], scorer.evidence.classifier.predict(outside), rtol=1e-6
    )
    assert np.allclose(found["neighbours"].sum(axis=1), 1.0)


def test_a_copy_of_a_sample_row_is_its_nearest_neighbour(
    fitted: tuple[Scorer, LabelScores], rows: Rows
) -> None:
    """A sample row is never its own neighbour, but a row outside the sample with the same
    text is: the copy leans further toward the row's class than the row itself does."""
    scorer, _ = fitted
    for position in range(3):
        row = int(scorer.evidence.sample_rows[position])
        outside = int(np.setdiff1d(rows.rows, scorer.evidence.sample_rows)[position])
        itself = rows.take(np.array([row]))
        copy = Rows(np.array([outside]), itself.texts, itself.votes, itself.y)
        label = int(itself.y.toarray().argmax())
        own = scorer.evidence.of(itself)["neighbours"][0, label]
        copied = scorer.evidence.of(copy)["neighbours"][0, label]
        assert copied > own + 0.01


def test_a_row_like_no_other_gets_the_base_rates_of_all_rows(
    fitted: tuple[Scorer, LabelScores], rows: Rows
) -> None:
    """A row outside the sample sharing no word with it has no neighbours to learn from: its
    neighbour estimate is the base rate of each class among all 764 rows (not only the 300
    of the sample), its own class left out."""
    scorer, _ = fitted
    outside = int(np.setdiff1d(rows.rows, scorer.evidence.sample_rows)[0])
    row = rows.take(np.array([outside]))
    blank = Rows(row.rows, [""], row.votes, row.y)
    present = rows.y.toarray().sum(axis=0)
    expected = (present + 1.0 - row.y.toarray()[0]) / (len(rows) + len(present) - 1.0)
    np.testing.assert_allclose(scorer.evidence.of(blank)["neighbours"][0], expected)


def test_scores_are_probabilities_fitted_to_the_given_seed(
    class_rules: RuleSet, data: pd.DataFrame
) -> None:
    """Fused scores and error scores are probabilities (classes summing to 1); the same seed
    (0 by default, as the audit's) gives the same scores, another seed other out-of-fold
    folds."""
    votes = lfkit.apply_rules(class_rules, data)
    one = score_labels(class_rules, data, votes)
    again = score_labels(class_rules, data, votes, seed=0)
    other = score_labels(class_rules, data, votes, seed=4)
    np.testing.assert_array_equal(one.probs, again.probs)
    assert not np.allclose(one.classifier_scores, other.classifier_scores)
    for probs in (one.probs, one.rule_probs, one.neighbour_probs, one.error_scores()):
        assert probs.shape == (len(data), 4) and np.all((probs >= 0) & (probs <= 1))
    np.testing.assert_allclose(one.probs.sum(axis=1), 1.0)
    assert one.given.sum() == len(data) and not one.multilabel


def test_score_labels_uses_the_votes_and_sources_asked_for(
    class_rules: RuleSet, data: pd.DataFrame
) -> None:
    """With no rule firing, the rule evidence is the same for every row of a class (its
    leave-one-out base rate only); each text source can be switched off on its own."""
    votes = lfkit.apply_rules(class_rules, data)
    silent = Votes(sparse.csr_array(votes.fired.shape, dtype=votes.fired.dtype), votes.values)
    quiet = score_labels(class_rules, data, silent, neighbours=False, classifier=False)
    assert quiet.neighbour_probs is None and quiet.classifier_scores is None
    classes = quiet.given.argmax(axis=1)
    for label in range(4):
        assert np.ptp(quiet.rule_probs[classes == label], axis=0).max() < 1e-12
    voted = score_labels(class_rules, data, votes, neighbours=False)
    assert np.ptp(voted.rule_probs[classes == 0], axis=0).max() > 0.1
    assert voted.neighbour_probs is None and voted.classifier_scores is not None
    alone = score_labels(class_rules, data, votes, classifier=False)
    assert alone.neighbour_probs is not None and alone.classifier_scores is None


def test_label_model_choice_reaches_the_rule_evidence(
    class_rules: RuleSet, data: pd.DataFrame
) -> None:
    """`auto` with labels is naive Bayes on classes; EM and majority vote learn other rule
    evidence; a typo is an error naming the option and the closest choice."""
    votes = lfkit.apply_rules(class_rules, data)

    def rule_probs(label_model: LabelMethod) -> np.ndarray:
        return score_labels(
            class_rules, data, votes, label_model=label_model, neighbours=False, classifier=False
        ).rule_probs

    naive_bayes = rule_probs("naive-bayes")
    np.testing.assert_array_equal(rule_probs("auto"), naive_bayes)
    for other in ("em", "majority"):
        probs = rule_probs(other)
        assert np.all((probs >= 0) & (probs <= 1)) and not np.allclose(probs, naive_bayes)
    with pytest.raises(OptionError, match=r"label_model='naive-bays' is not a label model"):
        rule_probs("naive-bays")  # type: ignore[arg-type]


def test_fit_reports_each_stage(class_rules: RuleSet, rows: Rows) -> None:
    """The fit says what it is doing, as the CLI shows it: the label model by name, then
    each text source; without text sources, the rules and the fusion only."""
    counts, sample = label_counts(class_rules, rows), rows.take(np.arange(200))
    said: list[str] = []
    fit_scorer(class_rules, counts, sample, progress=said.append)
    assert said == [
        "fitting the naive-bayes label model",
        "vectorising the text",
        "indexing similar rows",
        "training the text classifier (out-of-fold)",
        "fusing the evidence and estimating the label noise",
    ]
    said.clear()
    fit_scorer(
        class_rules, counts, sample, neighbours=False, classifier=False, progress=said.append
    )
    assert said == [
        "fitting the naive-bayes label model",
        "fusing the evidence and estimating the label noise",
    ]


def test_tags_are_scored_as_independent_probabilities(tag_rules: RuleSet) -> None:
    """On 300 real projects (multilabel), every tag's score is a probability of its own: a
    row's tags need not sum to 1, and the given tags are the data's tags among the rules'."""
    df = read_data(EXAMPLES / "projects.json", tag_rules.task).iloc[:300]
    scores = score_labels(tag_rules, df, lfkit.apply_rules(tag_rules, df), classifier=False)
    known = set(tag_rules.labels)
    assert scores.multilabel is True
    assert scores.given.sum() == sum(len(known.intersection(tags)) for tags in df["tags"])
    for probs in (scores.probs, scores.rule_probs, scores.neighbour_probs, scores.error_scores()):
        assert probs.shape == (300, len(tag_rules.labels))
        assert np.all((probs >= 0) & (probs <= 1))
    assert np.ptp(scores.neighbour_probs.sum(axis=1)) > 0.5


@pytest.mark.parametrize(
    ("scores", "threshold"),
    [
        ([0.95, 0.9, 0.6, 0.2, 0.1, 0.05, 0.01], 0.6),  # sum 2.81: the 3 most suspect
        ([0.01, 0.6, 0.05, 0.9, 0.2, 0.95, 0.1], 0.6),  # in any order
        ([[0.95, 0.9], [0.6, 0.2], [0.1, 0.05]], 0.6),  # any shape
        ([0.7, 0.3, 0.2], 0.7),  # sum 1.2: one flag
        ([0.9, 0.8, 0.3, 0.2], 0.8),  # sum 2.2: two flags
        ([0.4, 0.01], 1.0),  # sum 0.41: no flag
        ([], 1.0),
        ([0.04] * 100, 0.05),  # 4 flags, but never below the floor
        ([1.0, 1.0, 1.0], 1.0),
    ],
)
def test_default_threshold_flags_the_expected_number_of_wrong_labels(
    scores: list[float], threshold: float
) -> None:
    """The threshold is the lowest score among the round(sum) most suspect, at least 0.05."""
    assert default_threshold(np.array(scores)) == threshold


def test_a_parent_without_given_children_does_not_stop_the_taxonomy(
    tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """With the first parent's children removed from every real row (no child argues for it),
    every other parent is still capped by its given children and its gaps still found."""
    given = given_matrix(tag_rules, projects["tags"].tolist()).toarray() > 0
    descendants = tag_rules.descendant_matrix.toarray() > 0
    first, *others = np.nonzero(descendants.any(axis=1))[0]
    given[:, descendants[first]] = False
    raw = np.random.default_rng(0).uniform(size=given.shape)
    check = apply_taxonomy(tag_rules, given, raw)
    gaps = capped = 0
    for parent in others:
        held = given[:, descendants[parent]].any(axis=1)
        lowest = np.where(given[:, descendants[parent]], raw[:, descendants[parent]], 1.0).min(1)
        both, gap = held & given[:, parent], held & ~given[:, parent]
        np.testing.assert_array_equal(
            check.wrong[both, parent], np.minimum(raw, lowest[:, None])[both, parent]
        )
        np.testing.assert_allclose(check.child_right[gap, parent], 1.0 - lowest[gap])
        assert (check.gap_child[gap, parent] >= 0).all() and (check.wrong[gap, parent] == 0).all()
        gaps, capped = (
            gaps + gap.sum(),
            capped + (check.wrong[both, parent] < raw[both, parent]).sum(),
        )
    assert gaps >= 30 and capped > 100


def test_a_multiclass_task_has_no_taxonomy(class_rules: RuleSet, rows: Rows) -> None:
    """Classes exclude each other: the constraint leaves a multiclass task's scores as they are
    and finds no gaps."""
    given = rows.y.toarray() > 0
    raw = np.random.default_rng(0).uniform(size=given.shape)
    check = apply_taxonomy(class_rules, given, raw)
    np.testing.assert_array_equal(check.wrong, raw)
    assert (check.gap_child == -1).all() and (check.child_right == 0).all()
