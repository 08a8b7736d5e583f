"""The label models' arithmetic against answers known in advance: naive Bayes against Bayes'
rule counted by hand on the bundled data, EM against the true posterior of data simulated from
its own model, and the multilabel fusion recovering the noise put into simulated tags
(lfkit/model/naive_bayes.py, lfkit/model/em.py, lfkit/model/fuse.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from scipy import sparse
from sklearn.metrics import average_precision_score

import lfkit
from lfkit._types import FloatArray
from lfkit.engine.votes import Votes
from lfkit.model.fit import fit_label_model
from lfkit.model.fuse import MAX_NOISE, SHRINK, fit_fusion, sigmoid, softmax
from lfkit.model.naive_bayes import (
    SMOOTHING,
    feature_mask,
    fit_naive_bayes,
    model_features,
)
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import CompiledRule, RuleSet
from lfkit.rules.schema import Task

# --- naive Bayes: Bayes' rule, counted row by row -------------------------------------------


def _log_likelihoods(
    fired: FloatArray, rows: FloatArray, overall: FloatArray, x: FloatArray, speaks: FloatArray
) -> FloatArray:
    """Per label l, log P(a row's features x | l) by naive Bayes over the features that speak
    about l: each P(feature fires | l) is `fired[l]` (how often it fired on rows with l) over
    `rows[l]` (rows with l), smoothed with SMOOTHING pseudo-rows toward its `overall` rate."""
    rate = (fired + SMOOTHING * overall) / (rows[:, None] + SMOOTHING)
    return np.asarray((speaks * np.where(x > 0, np.log(rate), np.log1p(-rate))).sum(axis=1))


def _counted_logits(
    ruleset: RuleSet,
    features: sparse.csr_array,
    y: sparse.csr_array,
    rows: list[int],
    *,
    training: FloatArray,
) -> FloatArray:
    """Some rows' naive-Bayes log-odds (multilabel) or log-scores (multiclass) by Bayes' rule,
    every rate counted over the `training` rows (0/1 per row) other than the row itself, and
    smoothed toward each feature's overall rate among the training rows. A new row's given
    tags are unknown: not evidence."""
    overall = (training @ features + 1.0) / (training.sum() + 2.0)
    found = []
    for row in rows:
        counted = training.copy()
        counted[row] = 0.0
        speaks = feature_mask(ruleset)
        if not training[row] and ruleset.multilabel:
            speaks[:, len(ruleset) :] = 0.0
        x = features[[row]].toarray()[0]
        on = sparse.diags_array(counted) @ y  # the counted rows with each label
        on_fired, on_rows = (on.T @ features).toarray(), on.sum(axis=0)
        logits = _log_likelihoods(on_fired, on_rows, overall, x, speaks)
        if ruleset.multilabel:
            off_fired, off_rows = (counted @ features)[None, :] - on_fired, counted.sum() - on_rows
            logits -= _log_likelihoods(off_fired, off_rows, overall, x, speaks)
            logits -= np.log(off_rows + 1.0)
        found.append(logits + np.log(on_rows + 1.0))
    return np.array(found)


NbCase = tuple[RuleSet, sparse.csr_array, sparse.csr_array]


@pytest.fixture(scope="module", params=["tags", "classes", "one mlops row"])
def nb_case(request: pytest.FixtureRequest) -> NbCase:
    """The rules, the naive-Bayes features (0/1) and the given labels (0/1) of a bundled task;
    "one mlops row": the classes with every mlops row but the first given 'other', so that a
    class has a single row (left out, it has none)."""
    multilabel = request.param == "tags"
    ruleset = request.getfixturevalue("tag_rules" if multilabel else "class_rules")
    df = request.getfixturevalue("projects" if multilabel else "classes")
    given = df["tags" if multilabel else "tag"].tolist()
    if request.param == "one mlops row":
        first = given.index("mlops")
        given = [g if g != "mlops" or i == first else "other" for i, g in enumerate(given)]
    votes = lfkit.apply_rules(ruleset, df)
    y = given_matrix(ruleset, given).astype(np.float64)
    return ruleset, model_features(ruleset, votes.fired, y), y


def _busy_rows(features: sparse.csr_array, y: sparse.csr_array) -> list[int]:
    """Rows where much fires and several labels are given, one where nothing fires, and the
    first row of the rarest label."""
    busy = np.argsort(-(features.sum(axis=1) + y.sum(axis=1)), kind="stable")[:3]
    quiet = int(np.flatnonzero(features.sum(axis=1) == 0)[0])
    present = y.sum(axis=0)
    rare = int(y[:, [int(np.argmin(np.where(present > 0, present, np.inf)))]].nonzero()[0][0])
    return [*map(int, busy), quiet, rare]


def test_naive_bayes_is_bayes_rule_counted_without_the_row(nb_case: NbCase) -> None:
    """A training row's scores equal Bayes' rule with every rate counted over the OTHER rows:
    leave-one-out by counting, on the bundled data (the smoothing target, each feature's rate
    among all rows, is the one thing that still includes the row)."""
    ruleset, features, y = nb_case
    model = fit_naive_bayes(ruleset, features, y)
    rows = _busy_rows(features, y)
    counted = _counted_logits(ruleset, features, y, rows, training=np.ones(y.shape[0]))
    logits = model.predict_logits(features[rows], y[rows])
    np.testing.assert_allclose(logits, counted, rtol=1e-9, atol=1e-9)


def test_naive_bayes_scores_new_rows_by_bayes_rule(nb_case: NbCase) -> None:
    """Fitted on half the rows, the model scores rows of the other half by Bayes' rule counted
    over the training rows, their given tags (unknown for new rows) not taken as evidence."""
    ruleset, features, y = nb_case
    training = (np.arange(y.shape[0]) % 2 == 0).astype(np.float64)
    train = np.flatnonzero(training)
    model = fit_naive_bayes(ruleset, features[train], y[train])
    rows = [2 * row + 1 for row in _busy_rows(features[train], y[train])]  # the next rows
    counted = _counted_logits(ruleset, features, y, rows, training=training)
    np.testing.assert_allclose(model.predict_logits(features[rows], None), counted, rtol=1e-9)


# --- EM: data simulated from its own model ---------------------------------------------------

Coin = tuple[int, bool, float, float]
"""A simulated rule: (label, votes positive, P(fires | label), P(fires | not label))."""


def _simulated_rules(
    kind: Literal["multilabel", "multiclass"], labels: tuple[str, ...], coins: list[Coin]
) -> RuleSet:
    task = Task(kind=kind, text_columns=("text",), label_column="label")
    rules = tuple(
        CompiledRule(
            f"rule-{j}",
            labels[label],
            label if kind == "multiclass" else int(positive),
            positive,
            ("text",),
            (f"word{j}",),
            (),
            (),
            (),
            Path("simulated.yaml"),
            j + 1,
        )
        for j, (label, positive, _, _) in enumerate(coins)
    )
    return RuleSet(task, labels, {}, rules)


def _fire(truth: np.ndarray, coins: list[Coin], rng: np.random.Generator) -> np.ndarray:
    """(n_rows, n_rules) bool: each rule fires with its rate given the row's true labels
    (`truth`: multiclass, a class per row; multilabel, a 0/1 row per tag)."""
    has = [truth[:, label] if truth.ndim == 2 else truth == label for label, _, _, _ in coins]
    rate = np.array([np.where(h, on, off) for h, (_, _, on, off) in zip(has, coins, strict=True)]).T
    return np.asarray(rng.random(rate.shape) < rate)


def _votes(ruleset: RuleSet, fired: np.ndarray) -> Votes:
    values = np.array([rule.value for rule in ruleset.rules], dtype=np.int64)
    return Votes(sparse.csr_array(fired.astype(np.int8)), values)


CLASS_PRIOR = np.array([0.5, 0.3, 0.2])
CLASS_COINS: list[Coin] = [
    (0, True, 0.6, 0.05),
    (0, True, 0.3, 0.1),
    (1, True, 0.5, 0.05),
    (1, True, 0.4, 0.15),
    (2, True, 0.7, 0.1),
    (2, True, 0.2, 0.02),
]


def _class_posterior(fired: np.ndarray, coins: list[Coin]) -> FloatArray:
    """P(class | votes) by Bayes' rule with the true prior and rates."""
    scores = np.tile(np.log(CLASS_PRIOR), (len(fired), 1))
    for c in range(len(CLASS_PRIOR)):
        rate = np.array([on if label == c else off for label, _, on, off in coins])
        scores[:, c] += np.where(fired, np.log(rate), np.log1p(-rate)).sum(axis=1)
    return softmax(scores)


@pytest.fixture(scope="module")
def simulated_classes() -> tuple[RuleSet, np.ndarray, np.ndarray]:
    """3 classes, 2 one-coin rules each, 4,000 rows drawn from the model: rules, truth, fired."""
    rng = np.random.default_rng(0)
    truth = rng.choice(len(CLASS_PRIOR), 4000, p=CLASS_PRIOR)
    ruleset = _simulated_rules("multiclass", ("a", "b", "c"), CLASS_COINS)
    return ruleset, truth, _fire(truth, CLASS_COINS, rng)


def test_em_recovers_the_posterior_of_simulated_classes(
    simulated_classes: tuple[RuleSet, np.ndarray, np.ndarray],
) -> None:
    """On rows drawn from the one-coin model, EM (from the votes alone) learns the class prior
    and gives probabilities close to the true posterior; majority vote does not."""
    ruleset, truth, fired = simulated_classes
    votes = _votes(ruleset, fired)
    model = fit_label_model(ruleset, votes, method="em")
    assert model.em is not None
    np.testing.assert_allclose(softmax(model.em.prior[None, :])[0], CLASS_PRIOR, atol=0.03)
    true = _class_posterior(fired, CLASS_COINS)
    probs = model.fitted_proba()
    majority = fit_label_model(ruleset, votes, method="majority").fitted_proba()
    assert np.abs(probs - true).mean() < 0.03 < 0.08 < np.abs(majority - true).mean()
    assert (probs.argmax(axis=1) == true.argmax(axis=1)).mean() > 0.98
    np.testing.assert_allclose(model.predict_proba(votes), probs)


def test_em_never_inverts_a_rule_that_fires_off_its_class(
    simulated_classes: tuple[RuleSet, np.ndarray, np.ndarray],
) -> None:
    """A rule for class a that fires more often on the other classes is no evidence at all
    (firing or silent), never evidence against a; the other rules keep their weight."""
    _, truth, fired = simulated_classes
    coins = [*CLASS_COINS, (0, True, 0.05, 0.3)]
    ruleset = _simulated_rules("multiclass", ("a", "b", "c"), coins)
    backwards = _fire(truth, coins[-1:], np.random.default_rng(1))
    model = fit_label_model(ruleset, _votes(ruleset, np.hstack([fired, backwards])), method="em")
    silent, firing = (
        _votes(ruleset, np.hstack([fired, fill]))
        for fill in (np.zeros_like(backwards), np.ones_like(backwards))
    )
    np.testing.assert_allclose(model.predict_proba(silent), model.predict_proba(firing))
    true = _class_posterior(fired, CLASS_COINS)
    assert np.abs(model.predict_proba(silent) - true).mean() < 0.03


TAG_COINS: list[Coin] = [
    (0, True, 0.5, 0.05),
    (0, True, 0.4, 0.1),
    (0, True, 0.3, 0.02),
    (0, True, 0.6, 0.2),
    (0, False, 0.05, 0.3),
    (1, True, 0.6, 0.05),
    (1, True, 0.5, 0.1),
    (2, True, 0.6, 0.05),
    (2, True, 0.5, 0.1),
    (2, True, 0.4, 0.1),
    (2, True, 0.0, 0.0),
    (3, True, 0.6, 0.05),
    (3, True, 0.5, 0.1),
    (3, True, 0.0, 0.0),
]
"""Tag 0: four positive rules and a negative one; tag 1: two rules; tag 2: four, of which one
never fires; tag 3: three, of which one never fires."""
TAG_PRIOR = np.array([0.3, 0.2, 0.25, 0.25])


def test_em_recovers_the_posterior_of_simulated_tags() -> None:
    """Multilabel: a tag with at least 3 rules that fire gets probabilities close to the true
    posterior (a negative rule counting against it); a tag with fewer keeps the majority
    vote."""
    rng = np.random.default_rng(2)
    truth = rng.random((4000, len(TAG_PRIOR))) < TAG_PRIOR
    ruleset = _simulated_rules("multilabel", ("t0", "t1", "t2", "t3"), TAG_COINS)
    fired = _fire(truth, TAG_COINS, rng)
    votes = _votes(ruleset, fired)
    model = fit_label_model(ruleset, votes, method="em")
    assert model.em is not None and model.em.modelled.tolist() == [True, False, True, False]
    own = [j for j, coin in enumerate(TAG_COINS) if coin[0] == 0]
    on, off = (np.array([TAG_COINS[j][k] for j in own]) for k in (2, 3))
    x = fired[:, own]
    true = sigmoid(
        np.log(TAG_PRIOR[0] / (1 - TAG_PRIOR[0]))
        + np.where(x, np.log(on / off), np.log((1 - on) / (1 - off))).sum(axis=1)
    )
    probs = model.fitted_proba()
    majority = fit_label_model(ruleset, votes, method="majority").fitted_proba()
    assert np.abs(probs[:, 0] - true).mean() < 0.03 < np.abs(majority[:, 0] - true).mean()
    assert abs(sigmoid(model.em.prior[:1])[0] - TAG_PRIOR[0]) < 0.03
    np.testing.assert_array_equal(probs[:, [1, 3]], majority[:, [1, 3]])


# --- fusion: noise put into simulated tags ----------------------------------------------------


@pytest.mark.parametrize(("missing", "spurious"), [(0.2, 0.05), (0.05, 0.15)])
def test_fusion_recovers_the_noise_of_simulated_tags(missing: float, spurious: float) -> None:
    """Tags drawn per base rate, two calibrated sources of evidence, and given tags that drop a
    share `missing` of the true tags and add false ones (a share `spurious` of the given tags,
    in expectation): the fusion estimates both shares, per tag and pooled, and the expected
    numbers of missing and spurious tags (sums of P(wrong)) match the real ones."""
    rng = np.random.default_rng(0)
    base = np.linspace(0.05, 0.3, 8)
    truth = rng.random((3000, len(base))) < base

    def source(strength: float) -> FloatArray:
        score = rng.normal(np.where(truth, strength, -strength), 1.0)
        return sigmoid(np.log(base / (1 - base)) + 2 * strength * score)

    evidence = {"rules": source(1.5), "neighbours": source(1.0)}
    dropped = truth & (rng.random(truth.shape) < missing)
    added = ~truth & (rng.random(truth.shape) < spurious * base / (1 - base))
    given = (truth & ~dropped) | added
    fusion = fit_fusion(evidence, given, multilabel=True, seed=0)
    shares = dropped.sum() / truth.sum(), added.sum() / given.sum()
    np.testing.assert_allclose(fusion.pooled, shares, atol=0.02)
    assert np.abs(fusion.missing - shares[0]).mean() < 0.04
    assert np.abs(fusion.spurious - shares[1]).mean() < 0.04
    scores = fusion.error_scores(fusion.apply(evidence), given)
    np.testing.assert_allclose(scores[~given].sum(), dropped.sum(), rtol=0.1)
    np.testing.assert_allclose(scores[given].sum(), added.sum(), rtol=0.15)


def _simulated_classes_evidence(
    moved: list[float], seed: int = 0
) -> tuple[dict[str, FloatArray], np.ndarray, np.ndarray]:
    """900 rows of 3 classes, two calibrated sources of evidence, and given classes where a
    share `moved[c]` of the rows of true class c were given another class: evidence, given
    (0/1), and the truth."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(len(CLASS_PRIOR), 900, p=CLASS_PRIOR)

    def source(strength: float) -> FloatArray:
        score = rng.normal(strength * np.eye(len(CLASS_PRIOR))[truth], 1.0)
        return softmax(np.log(CLASS_PRIOR) + strength * score)

    given = truth.copy()
    for c, share in enumerate(moved):
        rows = np.flatnonzero(truth == c)
        rows = rng.choice(rows, int(share * len(rows)), replace=False)
        given[rows] = (c + rng.integers(1, len(CLASS_PRIOR), len(rows))) % len(CLASS_PRIOR)
    evidence = {"rules": source(2.0), "neighbours": source(1.5)}
    return evidence, np.eye(len(CLASS_PRIOR), dtype=bool)[given], truth


def test_multiclass_noise_is_the_confident_learning_count() -> None:
    """Per class, the noise is the confident-learning count of wrong rows (a row is wrong when
    the likeliest class that reaches its own average probability is another one), counted
    here row by row, shrunk with SHRINK pseudo-rows toward the pooled share; P(wrong) ranks
    the really moved rows first and adds up to that count per class, and a row's P(another
    class is the true one) add up to its P(wrong)."""
    evidence, y, truth = _simulated_classes_evidence([0.25, 0.0, 0.1])
    fusion = fit_fusion(evidence, y, multilabel=False, seed=0)
    p = fusion.apply(evidence)
    given = y.argmax(axis=1)
    average = [p[given == c, c].mean() for c in range(y.shape[1])]
    found = np.zeros(y.shape[1])
    for row, probs in enumerate(p):
        reach = [c for c in range(y.shape[1]) if probs[c] >= average[c]]
        if reach and max(reach, key=lambda c: probs[c]) != given[row]:
            found[given[row]] += 1
    pooled = found.sum() / len(y)
    assert fusion.pooled == pytest.approx((pooled, pooled))
    shrunk = (found + SHRINK * pooled) / (y.sum(axis=0) + SHRINK)
    np.testing.assert_allclose(fusion.missing, np.minimum(shrunk, MAX_NOISE))
    np.testing.assert_array_equal(fusion.spurious, fusion.missing)
    np.testing.assert_array_equal(fusion.spurious_odds, fusion.missing_odds)
    scores = fusion.error_scores(p, y)
    wrong = (scores * y).sum(axis=1)
    np.testing.assert_allclose((wrong[:, None] * y).sum(axis=0), fusion.missing * y.sum(axis=0))
    # the other columns: P(that class is the true one), so they add up to P(wrong)
    np.testing.assert_allclose(np.where(y, 0.0, scores).sum(axis=1), wrong)
    assert average_precision_score(given != truth, wrong) > 0.8
