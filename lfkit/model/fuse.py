"""Fuse rule probabilities with neighbour probabilities into one probability per row and label.

The weights are learned on the data itself: a two-feature logistic regression (multilabel)
or a grid search over two weights (multiclass) that best predicts the existing labels from
the two out-of-sample estimates, on a seeded sample of rows. Neither estimate has seen a
row's own label, so neither has the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lfkit._types import FloatArray

_CLIP = 1e-6
_MAX_PAIRS = 400_000
MIN_PAIRS = 10
"""With fewer labelled (or unlabelled) pairs than this, keep the rules' probabilities."""
_WEIGHTS = np.linspace(0.0, 2.0, 21)


def _logit(p: FloatArray) -> FloatArray:
    p = np.clip(p, _CLIP, 1 - _CLIP)
    return np.asarray(np.log(p) - np.log1p(-p))


def sigmoid(z: FloatArray) -> FloatArray:
    """Return 1 / (1 + exp(-z)), without overflow."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def softmax(scores: FloatArray) -> FloatArray:
    """Return the row-wise softmax of log-scores."""
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def _log(p: FloatArray) -> FloatArray:
    return np.asarray(np.log(np.clip(p, _CLIP, 1)))


@dataclass(frozen=True)
class Fusion:
    """Learned weights: fused = sigmoid(a logit(rules) + b logit(neighbours) + c) (multilabel)
    or softmax(a log(rules) + b log(neighbours)) (multiclass)."""

    rule_weight: float
    neighbour_weight: float
    bias: float
    multilabel: bool

    def apply(self, rules: FloatArray, neighbours: FloatArray) -> FloatArray:
        """Return the fused probabilities of these rows."""
        if self.multilabel:
            z = self.rule_weight * _logit(rules) + self.neighbour_weight * _logit(neighbours)
            return sigmoid(z + self.bias)
        return softmax(self.rule_weight * _log(rules) + self.neighbour_weight * _log(neighbours))


def fit_fusion(
    rules: FloatArray, neighbours: FloatArray, given: np.ndarray, *, multilabel: bool, seed: int
) -> Fusion:
    """Learn the fusion weights from rows' two estimates and their existing labels."""
    if not multilabel:
        return _fit_multiclass(rules, neighbours, given)
    from sklearn.linear_model import LogisticRegression

    features = np.stack([_logit(rules).ravel(), _logit(neighbours).ravel()], axis=1)
    target = given.ravel() > 0
    sample = np.arange(len(target))
    if len(sample) > _MAX_PAIRS:
        sample = np.random.default_rng(seed).choice(len(target), _MAX_PAIRS, replace=False)
    positives = int(target[sample].sum())
    if min(positives, len(sample) - positives) < MIN_PAIRS:
        return Fusion(1.0, 0.0, 0.0, multilabel=True)
    kept = [0, 1]
    while kept:  # evidence may be ignored (weight 0), never inverted (weight < 0)
        model = LogisticRegression(C=1.0, max_iter=500)
        model.fit(features[sample][:, kept], target[sample])
        weights = dict(zip(kept, model.coef_[0], strict=True))
        if min(weights.values()) >= 0:
            return Fusion(
                float(weights.get(0, 0.0)),
                float(weights.get(1, 0.0)),
                float(model.intercept_[0]),
                multilabel=True,
            )
        kept.remove(min(weights, key=weights.__getitem__))
    return Fusion(1.0, 0.0, 0.0, multilabel=True)


def _fit_multiclass(rules: FloatArray, neighbours: FloatArray, given: np.ndarray) -> Fusion:
    classes = given.argmax(axis=1)
    rows = np.arange(len(classes))
    best, best_likelihood = Fusion(1.0, 0.0, 0.0, multilabel=False), -np.inf
    for rule_weight in _WEIGHTS[1:]:
        for neighbour_weight in _WEIGHTS:
            fusion = Fusion(float(rule_weight), float(neighbour_weight), 0.0, multilabel=False)
            likelihood = _log(fusion.apply(rules, neighbours))[rows, classes].sum()
            if likelihood > best_likelihood:
                best, best_likelihood = fusion, likelihood
    return best
