"""Fuse the evidence sources, and estimate from the data how noisy the existing labels are.

Each source gives an out-of-sample estimate per (row, label): the label model's and the
neighbours' probabilities and the text classifier's scores. A weighted sum of their log-odds
(multiclass: log-probabilities, and the classifier's scores as they are) gives the fused
P(label) (multiclass: a softmax over the classes). Weights are fitted to the existing labels
by maximum likelihood on a seeded sample of rows and are never negative (evidence may be
ignored, never inverted). Then the noise, per label, and from it P(existing label is wrong):

- multilabel: the existing tags are a noisy copy of the truth: a true tag is absent with
  probability `missing`, a false tag t present with probability spurious * b_t / (1 - b_t)
  (b_t its base rate, so `spurious` is the share of given tags that are wrong). The weights
  are fitted by plain logistic regression first; then their common scale, the bias and the
  pooled rates jointly (P(given) = f_t + (1 - missing - f_t) P(label)): where the evidence is
  confident and the tag disagrees, the likelihood prefers noise to a flatter fit. One EM
  step then gives each tag its own rates: the expected share of wrong tags among its rows,
  shrunk toward the pooled rates with SHRINK pseudo-rows.
- multiclass: a fit of the same kind prefers a flatter softmax to noise (measured), so the
  wrong labels are counted the confident-learning way (Northcutt et al. 2021): a row given
  class j counts as wrong when another class k reaches its own average P(k) over the rows
  given k and is the likeliest such class. Counts are shrunk per class as above, and each
  class gets the one prior odds that makes the expected number of wrong rows (the sum of
  P(wrong) over its rows) equal the count.

Bayes' rule with these rates turns the fused P(label) into P(the existing label is wrong),
so the scores add up to the number of errors the data show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lfkit._types import FloatArray
from lfkit.display import brief_repr

_CLIP = 1e-6
_MAX_PAIRS = 200_000
MIN_PAIRS = 10
"""With fewer labelled (or unlabelled) pairs than this, keep the prior noise and rule weights."""
SHRINK = 20.0
"""Pseudo-rows that pull each label's noise rate toward the pooled rate."""
MAX_NOISE = 0.45
LINEAR_SOURCES = ("classifier",)
"""Sources whose linear scores enter a multiclass fusion as they are (a multilabel one takes
their log-odds, clipped to [CLIP, 1 - CLIP], like the probabilities of the other sources)."""


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


def _feature(source: str, values: FloatArray, *, multilabel: bool) -> FloatArray:
    if multilabel:
        return _logit(values)
    return np.asarray(values, dtype=np.float64) if source in LINEAR_SOURCES else _log(values)


@dataclass(frozen=True, eq=False)
class Fusion:
    """Learned weights per evidence source and the noise of the existing labels per label."""

    __repr__ = brief_repr

    sources: tuple[str, ...]
    weights: tuple[float, ...]
    bias: FloatArray
    """Multilabel: one intercept; multiclass: one per class."""
    multilabel: bool
    missing: FloatArray
    """Per label, the estimated share of wrong labels: multilabel, true tags left out (per
    given tag); multiclass, rows given the class that belong to another."""
    spurious: FloatArray
    """Per label, multilabel: the estimated share of given tags that are wrong (multiclass:
    the same as `missing`)."""
    missing_odds: FloatArray
    """Per label, the prior odds that turn P(label) into P(missing) (multiclass: P(wrong))."""
    spurious_odds: FloatArray
    pooled: tuple[float, float]
    """The pooled (missing, spurious) rates, before per-label shrinkage."""

    def apply(self, evidence: dict[str, FloatArray]) -> FloatArray:
        """Return the fused P(label) (multiclass: P(class)) of these rows' evidence."""
        return _fused(self.sources, self.weights, self.bias, evidence, self.multilabel)

    def error_scores(self, probs: FloatArray, given: np.ndarray) -> FloatArray:
        """Return, per (row, label), P(the existing label is wrong).

        Multilabel: for a given tag, that it is spurious; for an absent one, that it is
        missing. Multiclass: the given class's column holds P(wrong), each other column
        P(it is the true class).
        """
        p = np.clip(probs, 1e-9, 1 - 1e-9)
        if not self.multilabel:
            odds = self.missing_odds[given.argmax(axis=1)][:, None]
            chosen = (p * given).sum(axis=1, keepdims=True)
            wrong = _posterior(1 - chosen, chosen, odds)
            others = np.where(given, 0.0, p) / np.maximum(1 - chosen, 1e-12)
            return np.asarray(np.where(given, wrong, wrong * others))
        return np.asarray(
            np.where(
                given,
                _posterior(1 - p, p, self.spurious_odds),
                _posterior(p, 1 - p, self.missing_odds),
            )
        )


def _posterior(against: FloatArray, for_: FloatArray, odds: FloatArray) -> FloatArray:
    """Return against * odds / (against * odds + for_): P(wrong) with these prior odds."""
    return np.asarray(against * odds / (against * odds + for_))


def _fused(
    sources: tuple[str, ...],
    weights: tuple[float, ...] | FloatArray,
    bias: FloatArray,
    evidence: dict[str, FloatArray],
    multilabel: bool,
) -> FloatArray:
    z = sum(
        weight * _feature(source, evidence[source], multilabel=multilabel)
        for source, weight in zip(sources, weights, strict=True)
    )
    z = np.asarray(z) + bias
    return sigmoid(z) if multilabel else softmax(z)


def _calibrate_odds(
    against: FloatArray, for_: FloatArray, rows: np.ndarray, target: FloatArray
) -> FloatArray:
    """Return per column the prior odds k with sum over `rows` of P(wrong) = target
    (bisection on log k, all columns at once)."""
    low, high = np.full(target.shape, -30.0), np.full(target.shape, 30.0)
    for _ in range(50):
        middle = (low + high) / 2
        total = (np.where(rows, _posterior(against, for_, np.exp(middle)), 0.0)).sum(axis=0)
        above = total > target
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    return np.asarray(np.exp((low + high) / 2))


def fit_fusion(
    evidence: dict[str, FloatArray], given: np.ndarray, *, multilabel: bool, seed: int
) -> Fusion:
    """Learn the weights of the evidence sources and the label noise from the existing labels.

    `evidence` maps each source ("rules" first) to its (n_rows, n_labels) estimates on a
    sample of rows; `given` is the rows' 0/1 label matrix.
    """
    sources = tuple(evidence)
    y = np.asarray(given) > 0
    if multilabel:
        return _fit_multilabel(evidence, y, seed=seed)
    if len(y) < MIN_PAIRS or y.shape[1] < 2:
        weights, bias = (1.0,) + (0.0,) * (len(sources) - 1), np.zeros(y.shape[1])
    else:
        weights, bias = _fit_multiclass(evidence, y)
    return _multiclass_noise(sources, weights, bias, evidence, y)


def _multiclass_noise(
    sources: tuple[str, ...],
    weights: tuple[float, ...],
    bias: FloatArray,
    evidence: dict[str, FloatArray],
    y: np.ndarray,
) -> Fusion:
    """Count the wrong labels (confident learning), shrink, and calibrate the prior odds."""
    p = np.clip(_fused(sources, weights, bias, evidence, False), 1e-9, 1 - 1e-9)
    counts = y.sum(axis=0).astype(np.float64)
    classes = y.argmax(axis=1)
    average = np.array(
        [p[classes == c, c].mean() if (classes == c).any() else 1.0 for c in range(y.shape[1])]
    )
    confident = np.where(p >= average, p, -1.0)
    best = confident.argmax(axis=1)
    wrong_rows = (confident.max(axis=1) >= 0) & (best != classes)
    found = np.bincount(classes[wrong_rows], minlength=y.shape[1]).astype(np.float64)
    pooled = float(found.sum() / max(len(y), 1))
    rates = np.clip((found + SHRINK * pooled) / (counts + SHRINK), 0.0, MAX_NOISE)
    chosen = p[np.arange(len(y)), classes][:, None]
    odds = _calibrate_odds(
        np.repeat(1 - chosen, y.shape[1], axis=1),
        np.repeat(chosen, y.shape[1], axis=1),
        y,
        rates * counts,
    )
    return Fusion(sources, weights, bias, False, rates, rates, odds, odds, (pooled, pooled))


def _fit_multilabel(evidence: dict[str, FloatArray], y: np.ndarray, *, seed: int) -> Fusion:
    """Fit the weights by logistic regression, then their common scale, the bias and the pooled
    noise jointly, then one EM step per label.

    Fitting the weights jointly with the noise has poor optima (a source's weight can be traded
    for noise); the plain fit fixes their ratios first, and the noise model only rescales them.
    """
    from scipy.optimize import minimize

    sources = tuple(evidence)
    counts = y.sum(axis=0).astype(np.float64)
    base = np.clip((counts + 1.0) / (len(y) + 2.0), _CLIP, 0.5)
    features = np.stack([_feature(s, v, multilabel=True).ravel() for s, v in evidence.items()], 1)
    target = y.ravel().astype(np.float64)
    ratio = np.broadcast_to(base / (1 - base), y.shape).ravel()
    sample = np.arange(len(target))
    if len(sample) > _MAX_PAIRS:
        sample = np.random.default_rng(seed).choice(len(target), _MAX_PAIRS, replace=False)
    x, t, r = features[sample], target[sample], ratio[sample]
    n_sources = len(sources)

    def logistic(theta: FloatArray) -> tuple[float, FloatArray]:
        p = np.clip(sigmoid(x @ theta[:n_sources] + theta[n_sources]), 1e-12, 1 - 1e-12)
        loss = -(t * np.log(p) + (1 - t) * np.log1p(-p)).sum()
        dz = p - t
        return float(loss) / len(t), np.concatenate([x.T @ dz, [dz.sum()]]) / len(t)

    start = np.concatenate([np.full(n_sources, 0.5), [0.0]])
    bounds = [(0.0, None)] * n_sources + [(None, None)]
    direction = minimize(logistic, start, jac=True, method="L-BFGS-B", bounds=bounds).x
    z = x @ direction[:n_sources]

    def nll(theta: FloatArray) -> tuple[float, FloatArray]:
        scale, c, missing, spurious = theta
        p = sigmoid(scale * z + c)
        false = np.clip(spurious * r, _CLIP, MAX_NOISE)
        kept = 1.0 - missing - false
        q = np.clip(false + kept * p, 1e-12, 1 - 1e-12)
        g = (1 - t) / (1 - q) - t / q
        dz = g * kept * p * (1 - p)
        grad = np.array([(dz * z).sum(), dz.sum(), (g * -p).sum(), (g * r * (1 - p)).sum()])
        loss = -(t * np.log(q) + (1 - t) * np.log1p(-q)).sum()
        return float(loss) / len(t), grad / len(t)

    start = np.array([1.0, direction[n_sources], 0.05, 0.05])
    noise_bounds = [(0.0, None), (None, None), (1e-4, MAX_NOISE), (1e-4, MAX_NOISE)]
    fit = minimize(nll, start, jac=True, method="L-BFGS-B", bounds=noise_bounds).x
    weights = tuple(float(fit[0] * w) for w in direction[:n_sources])
    bias = np.array([fit[1]])
    pooled = (float(fit[2]), float(fit[3]))
    p = np.clip(_fused(sources, weights, bias, evidence, True), 1e-9, 1 - 1e-9)

    def odds(missing: FloatArray, spurious: FloatArray) -> tuple[FloatArray, FloatArray]:
        false = np.clip(spurious * base / (1 - base), _CLIP, MAX_NOISE)
        return missing / (1 - false), false / (1 - missing)

    missing_odds, spurious_odds = odds(np.full(len(base), pooled[0]), np.full(len(base), pooled[1]))
    wrong = np.where(y, _posterior(1 - p, p, spurious_odds), _posterior(p, 1 - p, missing_odds))
    given_wrong, absent_wrong = (wrong * y).sum(axis=0), (wrong * ~y).sum(axis=0)
    true_count = counts - given_wrong + absent_wrong
    missing = np.clip((absent_wrong + SHRINK * pooled[0]) / (true_count + SHRINK), 0, MAX_NOISE)
    spurious = np.clip((given_wrong + SHRINK * pooled[1]) / (counts + SHRINK), 0, MAX_NOISE)
    missing_odds, spurious_odds = odds(missing, spurious)
    return Fusion(
        sources, weights, bias, True, missing, spurious, missing_odds, spurious_odds, pooled
    )


def _fit_multiclass(
    evidence: dict[str, FloatArray], y: np.ndarray
) -> tuple[tuple[float, ...], FloatArray]:
    from scipy.optimize import minimize

    features = [_feature(s, v, multilabel=False) for s, v in evidence.items()]
    classes = y.argmax(axis=1)
    rows = np.arange(len(classes))
    n_sources, n_classes = len(features), y.shape[1]

    def nll(theta: FloatArray) -> float:
        bias = np.concatenate([[0.0], theta[n_sources:]])
        z = sum(w * f for w, f in zip(theta[:n_sources], features, strict=True)) + bias
        return float(-np.log(np.clip(softmax(z)[rows, classes], 1e-12, 1)).mean())

    start = np.concatenate([np.full(n_sources, 0.5), np.zeros(n_classes - 1)])
    bounds = [(0.0, None)] * n_sources + [(-10.0, 10.0)] * (n_classes - 1)
    theta = minimize(nll, start, method="L-BFGS-B", bounds=bounds).x
    return tuple(float(w) for w in theta[:n_sources]), np.concatenate([[0.0], theta[n_sources:]])
