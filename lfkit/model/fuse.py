"""Fuse rule probabilities with neighbour probabilities into one probability per row and label.

The weights are learned on the data itself: a two-feature logistic regression (multilabel)
or a one-parameter grid search (multiclass) that best predicts the existing labels from the
two out-of-sample estimates. Neither estimate has seen a row's own label, so neither has the
weights.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from lfkit._types import FloatArray

_CLIP = 1e-6
_MAX_PAIRS = 400_000
_WEIGHTS = np.linspace(0.0, 2.0, 21)


def _logit(p: FloatArray) -> FloatArray:
    p = np.clip(p, _CLIP, 1 - _CLIP)
    return np.asarray(np.log(p) - np.log1p(-p))


def fuse_multilabel(
    rules: FloatArray, neighbours: FloatArray, given: sparse.csr_array, *, seed: int
) -> tuple[FloatArray, tuple[float, float, float]]:
    """Return fused P(label present) and the learned (rule weight, neighbour weight, bias)."""
    from sklearn.linear_model import LogisticRegression

    features = np.stack([_logit(rules).ravel(), _logit(neighbours).ravel()], axis=1)
    target = given.toarray().ravel() > 0
    sample = np.arange(len(target))
    if len(sample) > _MAX_PAIRS:
        sample = np.random.default_rng(seed).choice(len(target), _MAX_PAIRS, replace=False)
    if target[sample].all() or not target[sample].any():
        return rules, (1.0, 0.0, 0.0)
    model = LogisticRegression(C=1.0, max_iter=500).fit(features[sample], target[sample])
    probs = model.predict_proba(features)[:, 1].reshape(rules.shape)
    weights = (float(model.coef_[0, 0]), float(model.coef_[0, 1]), float(model.intercept_[0]))
    return probs, weights


def fuse_multiclass(
    rules: FloatArray, neighbours: FloatArray, given: sparse.csr_array
) -> tuple[FloatArray, tuple[float, float, float]]:
    """Return fused class probabilities softmax(a log rules + b log neighbours), (a, b) chosen by
    the likelihood of the existing labels."""
    classes = np.asarray(given.argmax(axis=1)).ravel()
    rows = np.arange(len(classes))
    log_rules, log_neighbours = (
        np.log(np.clip(rules, _CLIP, 1)),
        np.log(np.clip(neighbours, _CLIP, 1)),
    )
    best, best_score = (1.0, 0.0), -np.inf
    for rule_weight in _WEIGHTS[1:]:
        for neighbour_weight in _WEIGHTS:
            scores = rule_weight * log_rules + neighbour_weight * log_neighbours
            scores -= scores.max(axis=1, keepdims=True)
            log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
            likelihood = log_probs[rows, classes].sum()
            if likelihood > best_score:
                best, best_score = (float(rule_weight), float(neighbour_weight)), likelihood
    scores = best[0] * log_rules + best[1] * log_neighbours
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(scores / scores.sum(axis=1, keepdims=True)), (*best, 0.0)
