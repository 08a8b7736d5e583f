"""A naive-Bayes label model that learns each rule's reliability from the existing labels.

Snorkel's LabelModel learns rule accuracies without labels; here the existing labels, noisy
but mostly right, are the better teacher. Per label, every rule that speaks about it (its own
rules, positive rules of its descendants, and the descendant tags a row already has) is a
binary feature whose rate among rows with and without the label is counted, smoothed toward
its overall rate. Scoring a row of the training data is leave-one-out: the row's own label is
taken out of every count it contributed to, so a label never vouches for itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from lfkit._types import FloatArray
from lfkit.display import brief_repr
from lfkit.model.targets import base_rates
from lfkit.rules.ruleset import RuleSet

SMOOTHING = 2.0
"""Pseudo-rows that pull each rate toward the feature's overall rate."""
_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class _ClassTerms:
    """For each class: a constant and per-feature weights, so that score = const + F @ D.T."""

    const: FloatArray
    weights: FloatArray


def _class_terms(
    counts: FloatArray, totals: FloatArray, rates: FloatArray, mask: FloatArray, *, loo: bool
) -> _ClassTerms:
    """Log-likelihood terms of a Bernoulli naive Bayes per class, optionally leave-one-out.

    `counts[c, f]` rows of class c where feature f fired, `totals[c]` rows of class c,
    `rates[f]` the overall rate of f, `mask[c, f]` whether f speaks about c. With `loo`, the
    terms are for a row of class c, whose own contribution is taken out of the counts.
    """
    shift = 1.0 if loo else 0.0
    denominator = (totals - shift)[:, None] + SMOOTHING
    fired = np.clip((counts - shift + SMOOTHING * rates) / denominator, _EPS, 1 - _EPS)
    silent = np.clip((counts + SMOOTHING * rates) / denominator, _EPS, 1 - _EPS)
    const = (mask * np.log1p(-silent)).sum(axis=1)
    weights = mask * (np.log(fired) - np.log1p(-silent))
    return _ClassTerms(const, weights)


@dataclass(frozen=True, eq=False)
class NaiveBayesLabelModel:
    """Fitted counts of a naive-Bayes label model; see `fit_naive_bayes`."""

    __repr__ = brief_repr

    ruleset: RuleSet
    mask: FloatArray
    n_rows: int
    present: FloatArray
    """Rows with each label, shape (n_labels,)."""
    fired_present: FloatArray
    """Rows with each label where each feature fired, shape (n_labels, n_features)."""
    fired_total: FloatArray
    """Rows where each feature fired, shape (n_features,)."""

    def predict_logits(
        self, features: sparse.csr_array, given: sparse.csr_array | None
    ) -> FloatArray:
        """Return log-odds (multilabel) or log-scores (multiclass), leave-one-out w.r.t. `given`.

        `given` must belong to the rows the model was fitted on for leave-one-out to hold.
        With `given=None` the rows are new: nothing is left out, and (multilabel) the given
        tags, unknown for new rows, are not used as evidence.
        """
        if given is None:
            return self._predict_new(features)
        n = float(self.n_rows)
        rates = (self.fired_total + 1.0) / (n + 2.0)
        y = given.toarray().astype(np.float64)
        if self.ruleset.multilabel:
            absent, fired_absent = n - self.present, self.fired_total - self.fired_present
            scores = {}
            for name, counts, totals in (
                ("on", self.fired_present, self.present),
                ("off", fired_absent, absent),
            ):
                for loo in (False, True):
                    terms = _class_terms(counts, totals, rates, self.mask, loo=loo)
                    scores[name, loo] = features @ terms.weights.T + terms.const
            base = base_rates(self.present, self.n_rows, y)
            on = np.where(y > 0, scores["on", True], scores["on", False])
            off = np.where(y > 0, scores["off", False], scores["off", True])
            return np.asarray(np.log(base) - np.log1p(-base) + on - off)
        full = _class_terms(self.fired_present, self.present, rates, self.mask, loo=False)
        out = _class_terms(self.fired_present, self.present, rates, self.mask, loo=True)
        scores_full = features @ full.weights.T + full.const + np.log(self.present + 1.0)
        scores_loo = features @ out.weights.T + out.const + np.log(np.maximum(self.present, 1.0))
        return np.asarray(np.where(y > 0, scores_loo, scores_full))

    def _predict_new(self, features: sparse.csr_array) -> FloatArray:
        """Return the scores of rows the model was not fitted on, from their rules alone."""
        n = float(self.n_rows)
        rates = (self.fired_total + 1.0) / (n + 2.0)
        mask = np.array(self.mask)
        mask[:, len(self.ruleset) :] = 0.0  # the given tags of new rows are unknown
        if self.ruleset.multilabel:
            absent = n - self.present
            on = _class_terms(self.fired_present, self.present, rates, mask, loo=False)
            off = _class_terms(
                self.fired_total - self.fired_present, absent, rates, mask, loo=False
            )
            prior = np.log(self.present + 1.0) - np.log(absent + 1.0)
            return np.asarray(
                prior + features @ (on.weights - off.weights).T + on.const - off.const
            )
        terms = _class_terms(self.fired_present, self.present, rates, mask, loo=False)
        return np.asarray(features @ terms.weights.T + terms.const + np.log(self.present + 1.0))


def feature_mask(ruleset: RuleSet) -> FloatArray:
    """Return (n_labels, n_rules [+ n_labels]) 0/1: which features speak about which label.

    The rules that speak about a label (`RuleSet.speaks_matrix`), then (multilabel) its
    descendant tags as given.
    """
    parts = [ruleset.speaks_matrix.toarray()]
    if ruleset.multilabel:
        parts.append(ruleset.descendant_matrix.toarray())
    return np.hstack(parts).astype(np.float64)


def model_features(
    ruleset: RuleSet, fired: sparse.csr_array, given: sparse.csr_array
) -> sparse.csr_array:
    """Return the 0/1 feature matrix: rule firings, then (multilabel) the given tags."""
    fired = fired.astype(np.float64)
    if not ruleset.multilabel:
        return sparse.csr_array(fired)
    return sparse.csr_array(sparse.hstack([fired, given.astype(np.float64)], format="csr"))


@dataclass(frozen=True, eq=False)
class FeatureCounts:
    """What the naive-Bayes model counts, for some rows; counts of disjoint rows add up."""

    __repr__ = brief_repr

    n_rows: int
    present: FloatArray
    fired_present: FloatArray
    fired_total: FloatArray

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return (present, fired_present, fired_total)."""
        return self.present, self.fired_present, self.fired_total

    def __add__(self, other: FeatureCounts) -> FeatureCounts:
        return FeatureCounts(
            self.n_rows + other.n_rows,
            self.present + other.present,
            self.fired_present + other.fired_present,
            self.fired_total + other.fired_total,
        )


def count_features(features: sparse.csr_array, given: sparse.csr_array) -> FeatureCounts:
    """Count, per label, how often each feature fires on rows with the label, and in all."""
    y = given.astype(np.float64)
    return FeatureCounts(
        n_rows=features.shape[0],
        present=np.asarray(y.sum(axis=0), dtype=np.float64).ravel(),
        fired_present=np.asarray((y.T @ features).toarray()),
        fired_total=np.asarray(features.sum(axis=0), dtype=np.float64).ravel(),
    )


def fit_naive_bayes(
    ruleset: RuleSet, features: sparse.csr_array, given: sparse.csr_array
) -> NaiveBayesLabelModel:
    """Count, per label, how often each feature fires on rows with and without the label."""
    return model_from_counts(ruleset, count_features(features, given))


def model_from_counts(ruleset: RuleSet, counts: FeatureCounts) -> NaiveBayesLabelModel:
    """Return the naive-Bayes model of these counts (summed over any split of the rows)."""
    return NaiveBayesLabelModel(
        ruleset,
        feature_mask(ruleset),
        counts.n_rows,
        counts.present,
        counts.fired_present,
        counts.fired_total,
    )
