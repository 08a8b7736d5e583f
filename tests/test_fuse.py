"""The fusion of the evidence sources and the label-noise estimate, on the real evidence of the
bundled projects (multilabel tags) and the 4-class data (lfkit/model/fuse.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest import CLASS_RULES, EXAMPLES, TAG_RULES
from sklearn.metrics import average_precision_score

import lfkit
from lfkit._types import FloatArray
from lfkit.audit.scores import score_labels
from lfkit.data import read_data
from lfkit.model.fuse import MIN_PAIRS, Fusion, fit_fusion, sigmoid, softmax

Evidence = tuple[dict[str, FloatArray], np.ndarray, Fusion]


def _evidence(rules_path: Path, data: str) -> Evidence:
    """Every row's out-of-sample evidence from the three sources, the given labels, and the
    fusion fitted on them."""
    ruleset = lfkit.load_rules(rules_path)
    df = read_data(EXAMPLES / data, ruleset.task)
    scores = score_labels(ruleset, df, lfkit.apply_rules(ruleset, df), seed=0)
    evidence = {
        "rules": scores.rule_probs,
        "neighbours": scores.neighbour_probs,
        "classifier": scores.classifier_scores,
    }
    y = scores.given
    return evidence, y, fit_fusion(evidence, y, multilabel=ruleset.multilabel, seed=0)


@pytest.fixture(scope="module")
def tags() -> Evidence:
    """The projects' tags (multilabel)."""
    return _evidence(TAG_RULES, "projects.json")


@pytest.fixture(scope="module")
def classes() -> Evidence:
    """The 4-class data (multiclass)."""
    return _evidence(CLASS_RULES, "dataset.csv")


def _flip(y: np.ndarray, *, multilabel: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return labels with a seeded 10% made wrong, and the (row, label) mask of the changes:
    multilabel, given tags removed; multiclass, rows moved to another class."""
    rng = np.random.default_rng(seed)
    noisy, changed = y.copy(), np.zeros_like(y)
    if multilabel:
        given = np.argwhere(y)
        rows, cols = given[rng.choice(len(given), len(given) // 10, replace=False)].T
        noisy[rows, cols], changed[rows, cols] = False, True
    else:
        rows = rng.choice(len(y), len(y) // 10, replace=False)
        moved = (y[rows].argmax(axis=1) + rng.integers(1, y.shape[1], len(rows))) % y.shape[1]
        noisy[rows] = False
        noisy[rows, moved] = changed[rows, moved] = True
    return noisy, changed


@pytest.mark.parametrize("task", ["tags", "classes"])
def test_fusion_ranks_labels_better_than_any_one_source(
    task: str, request: pytest.FixtureRequest
) -> None:
    """The fitted weights give fused probabilities that rank the existing labels better (AP)
    than each source alone: the weights are learned, not left at their start."""
    evidence, y, fusion = request.getfixturevalue(task)
    assert all(weight > 0 for weight in fusion.weights)
    fused = average_precision_score(y.ravel(), fusion.apply(evidence).ravel())
    alone = {s: average_precision_score(y.ravel(), v.ravel()) for s, v in evidence.items()}
    assert fused > max(alone.values())


@pytest.mark.parametrize("task", ["tags", "classes"])
def test_fusion_ignores_a_source_of_pure_noise(task: str, request: pytest.FixtureRequest) -> None:
    """A source of random probabilities gets (almost) no weight; the others keep theirs."""
    evidence, y, plain = request.getfixturevalue(task)
    rng = np.random.default_rng(1)
    multilabel = task == "tags"
    noise = (
        rng.uniform(0.01, 0.99, y.shape)
        if multilabel
        else rng.dirichlet(np.ones(y.shape[1]), len(y))
    )
    fusion = fit_fusion({**evidence, "noise": noise}, y, multilabel=multilabel, seed=0)
    assert fusion.sources[-1] == "noise" and fusion.weights[-1] < 0.02
    assert np.allclose(fusion.weights[:-1], plain.weights, rtol=0.05, atol=0.01)


@pytest.mark.parametrize("task", ["tags", "classes"])
def test_fusion_never_inverts_a_source(task: str, request: pytest.FixtureRequest) -> None:
    """Evidence that points the wrong way (the neighbours' probabilities reversed) is ignored
    (weight about 0), never turned around by a negative weight."""
    evidence, y, _ = request.getfixturevalue(task)
    multilabel = task == "tags"
    reversed_ = 1 - evidence["neighbours"]
    if not multilabel:
        reversed_ = reversed_ / reversed_.sum(axis=1, keepdims=True)
    fusion = fit_fusion({**evidence, "neighbours": reversed_}, y, multilabel=multilabel, seed=0)
    assert 0.0 <= dict(zip(fusion.sources, fusion.weights, strict=True))["neighbours"] < 0.05
    assert fusion.weights[0] > 0


def test_multilabel_noise_rises_with_removed_tags(tags: Evidence) -> None:
    """Removing a seeded 10% of the given tags raises the estimated share of missing tags by
    about that much, and the removed tags score far above the other absent ones."""
    evidence, y, clean = tags
    noisy, removed = _flip(y, multilabel=True)
    fusion = fit_fusion(evidence, noisy, multilabel=True, seed=0)
    assert 0.05 < fusion.pooled[0] - clean.pooled[0] < 0.2
    scores = fusion.error_scores(fusion.apply(evidence), noisy)
    others = ~noisy & ~removed
    assert scores[removed].mean() > 20 * scores[others].mean()
    assert np.all((scores >= 0) & (scores <= 1))


def test_multiclass_noise_counts_moved_rows(classes: Evidence) -> None:
    """Moving a seeded 10% of the rows to another class gives a noise estimate near 10% (clean
    data: near 0), and P(wrong) per class adds up to that class's estimated wrong rows."""
    evidence, y, clean = classes
    noisy, moved = _flip(y, multilabel=False)
    fusion = fit_fusion(evidence, noisy, multilabel=False, seed=0)
    assert clean.pooled[0] < 0.03 and 0.06 < fusion.pooled[0] < 0.14
    scores = fusion.error_scores(fusion.apply(evidence), noisy)
    wrong = (scores * noisy).sum(axis=1)
    assert wrong[moved.any(axis=1)].mean() > 10 * wrong[~moved.any(axis=1)].mean()
    per_class = (scores * noisy).sum(axis=0)
    assert np.allclose(per_class, fusion.missing * noisy.sum(axis=0), rtol=1e-3)
    suggested = np.where(noisy, 0.0, scores).argmax(axis=1)
    truth = y.argmax(axis=1)
    assert (suggested == truth)[moved.any(axis=1)].mean() > 0.8


def test_multiclass_fusion_on_too_few_rows_keeps_the_rules(classes: Evidence) -> None:
    """With fewer rows than MIN_PAIRS, the rules alone decide (weight 1, others 0, no bias)."""
    evidence, y, _ = classes
    few = {source: values[: MIN_PAIRS - 1] for source, values in evidence.items()}
    fusion = fit_fusion(few, y[: MIN_PAIRS - 1], multilabel=False, seed=0)
    assert fusion.weights == (1.0, 0.0, 0.0) and not fusion.bias.any()
    assert np.allclose(fusion.apply(few), few["rules"] / few["rules"].sum(axis=1, keepdims=True))


def test_softmax_and_sigmoid_stay_finite_on_large_scores() -> None:
    """Log-scores far apart (a confident classifier, a row far below the others) give exact
    0/1 probabilities, never inf or NaN from an overflow."""
    probs = softmax(np.array([[1000.0, 0.0], [0.0, -1000.0], [-1000.0, -1000.0]]))
    assert np.array_equal(probs, [[1.0, 0.0], [1.0, 0.0], [0.5, 0.5]])
    assert np.array_equal(sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])


def test_multiclass_weights_are_the_most_likely(classes: Evidence) -> None:
    """The fitted multiclass fusion is the maximum-likelihood fit of the given classes: any
    one source alone, equal weights, or any weight or bias moved a little from the fitted one
    gives the given classes a lower likelihood."""
    evidence, y, fusion = classes
    rows, given = np.arange(len(y)), y.argmax(axis=1)

    def nll(weights: tuple[float, ...], bias: np.ndarray) -> float:
        fitted = dataclasses.replace(fusion, weights=weights, bias=bias)
        return float(-np.log(fitted.apply(evidence)[rows, given]).mean())

    best = nll(fusion.weights, fusion.bias)
    n, zeros = len(fusion.sources), np.zeros(y.shape[1])
    others = [(tuple(float(i == j) for j in range(n)), zeros) for i in range(n)]
    others.append(((0.5,) * n, zeros))
    for i, weight in enumerate(fusion.weights):
        for factor in (0.9, 1.1):
            moved = (*fusion.weights[:i], weight * factor, *fusion.weights[i + 1 :])
            others.append((moved, fusion.bias))
    for c in range(1, y.shape[1]):
        for step in (-0.1, 0.1):
            others.append((fusion.weights, fusion.bias + step * (np.arange(y.shape[1]) == c)))
    assert all(best < nll(weights, bias) for weights, bias in others)


@pytest.mark.parametrize("task", ["tags", "classes"])
def test_a_probability_of_zero_or_one_stays_finite(
    task: str, request: pytest.FixtureRequest
) -> None:
    """A source that says 0 or 1 outright (a label no similar row has) gives finite fused
    probabilities and scores, also where that source has no weight (0 x log 0 is no NaN)."""
    evidence, y, fusion = request.getfixturevalue(task)
    certain = {**evidence, "neighbours": (evidence["neighbours"] > 0.5).astype(np.float64)}
    ignored = dict(zip(fusion.sources, (1.0,) + (0.0,) * (len(fusion.sources) - 1), strict=True))
    for weights in (fusion.weights, tuple(ignored.values())):
        fused = dataclasses.replace(fusion, weights=weights).apply(certain)
        assert np.isfinite(fused).all() and np.isfinite(fusion.error_scores(fused, y)).all()
