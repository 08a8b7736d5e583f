"""Label models: turn rule votes (and the existing labels) into a probability per row and label.

- `naive-bayes` (default): learns each rule's reliability per label from the existing labels,
  with the taxonomy's children as evidence for their parents; leave-one-out on the rows it
  was fitted on. Chosen by the label-error benchmark (docs/audit.md).
- `majority`: positive minus negative votes per label (children count for parents).
- `snorkel`: Snorkel's LabelModel, learned without labels; per label as a binary problem in a
  multilabel task; majority vote where fewer than 3 rules vote (Snorkel's minimum).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from lfkit._types import ABSTAIN, FloatArray, IntArray
from lfkit.engine.apply import Votes
from lfkit.errors import LfkitError
from lfkit.model.fuse import sigmoid, softmax
from lfkit.model.naive_bayes import feature_mask, fit_naive_bayes, model_features
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet

LABEL_MODELS = ("naive-bayes", "majority", "snorkel")
SNORKEL_MIN_RULES = 3
"""Snorkel's LabelModel needs at least 3 labeling functions; with fewer, majority vote."""


class LabelModel:
    """A fitted label model: `predict_proba(rows)` for any rows of the data it was fitted on.

    Probabilities are (n_rows, n_labels): P(label present) in a multilabel task, P(class)
    with rows summing to 1 in a multiclass one. Each row's probability is out-of-sample with
    respect to its own label (leave-one-out for `naive-bayes` and for the base rates `majority`
    smooths with; `snorkel` never looks at the labels). Predicting rows in chunks keeps
    memory bounded on large data.
    """

    def __init__(
        self, ruleset: RuleSet, votes: Votes, y: sparse.csr_array, *, method: str, seed: int
    ) -> None:
        self.ruleset, self.method, self.votes, self.y = ruleset, method, votes, y
        self._naive_bayes = None
        self._snorkel: FloatArray | None = None
        if method == "naive-bayes":
            self._features = model_features(ruleset, votes.fired, y)
            self._naive_bayes = fit_naive_bayes(ruleset, self._features, y)
        elif method == "snorkel":
            self._snorkel = _snorkel(ruleset, votes, y, seed=seed)

    def predict_proba(self, rows: slice | IntArray = slice(None)) -> FloatArray:
        """Return the probabilities of these rows (default: all)."""
        if self._naive_bayes is not None:
            scores = self._naive_bayes.predict_logits(self._features[rows], self.y[rows])
            return sigmoid(scores) if self.ruleset.multilabel else softmax(scores)
        if self._snorkel is not None:
            return self._snorkel[rows]
        votes = Votes(self.votes.fired[rows], self.votes.values)
        return _majority(self.ruleset, votes, base_rates(self.y, rows))


def fit_label_model(
    ruleset: RuleSet,
    votes: Votes,
    given: Sequence[Any],
    *,
    method: str = "naive-bayes",
    seed: int = 0,
) -> LabelModel:
    """Fit a label model on the rules' votes and the existing labels.

    Raises
    ------
    LfkitError
        For an unknown method.
    """
    if method not in LABEL_MODELS:
        raise LfkitError(f"unknown label model '{method}'; choose one of {', '.join(LABEL_MODELS)}")
    return LabelModel(ruleset, votes, given_matrix(ruleset, given), method=method, seed=seed)


def base_rates(y: sparse.csr_array, rows: slice | IntArray) -> FloatArray:
    """Return each label's base rate for these rows, leaving each row's own labels out.

    Examples
    --------
    >>> y = sparse.csr_array(np.array([[1, 0], [1, 1], [0, 0]]))
    >>> base_rates(y, slice(None)).round(2).tolist()
    [[0.5, 0.5], [0.5, 0.25], [0.75, 0.5]]
    """
    counts = np.asarray(y.sum(axis=0), dtype=np.float64).ravel()
    return np.asarray((counts - y[rows].toarray() + 1.0) / (y.shape[0] + 1.0))


def _signed_votes(ruleset: RuleSet, votes: Votes) -> tuple[FloatArray, FloatArray]:
    """Return per row and label the number of positive and of negative votes (children count)."""
    mask = feature_mask(ruleset)[:, : len(ruleset)]
    positive = np.array([rule.positive for rule in ruleset.rules], dtype=np.float64)
    fired = votes.fired.astype(np.float64)
    if not ruleset.multilabel:
        one_hot = np.zeros((len(ruleset.labels), len(ruleset)))
        one_hot[[rule.value for rule in ruleset.rules], np.arange(len(ruleset))] = 1.0
        return np.asarray(fired @ one_hot.T), np.zeros((votes.shape[0], len(ruleset.labels)))
    own = np.zeros_like(mask)
    for column, rule in enumerate(ruleset.rules):
        own[ruleset.labels.index(rule.label), column] = 1.0
    pos = fired @ (mask * positive).T
    neg = fired @ (own * (1.0 - positive)).T
    return np.asarray(pos), np.asarray(neg)


def _majority(ruleset: RuleSet, votes: Votes, base: FloatArray) -> FloatArray:
    pos, neg = _signed_votes(ruleset, votes)
    if ruleset.multilabel:
        return np.asarray((pos + base) / (pos + neg + 1.0))
    probs = pos + base
    return np.asarray(probs / probs.sum(axis=1, keepdims=True))


def _snorkel(ruleset: RuleSet, votes: Votes, y: sparse.csr_array, *, seed: int) -> FloatArray:
    from snorkel.labeling.model import LabelModel

    matrix = votes.to_dense()
    if not ruleset.multilabel:
        if len(ruleset) < SNORKEL_MIN_RULES:
            return _majority(ruleset, votes, base_rates(y, slice(None)))
        model = LabelModel(cardinality=len(ruleset.labels), verbose=False)
        model.fit(matrix, n_epochs=500, seed=seed, progress_bar=False)
        return np.asarray(model.predict_proba(matrix))
    probs = _majority(ruleset, votes, base_rates(y, slice(None)))
    mask = feature_mask(ruleset)[:, : len(ruleset)]
    for label_index in range(len(ruleset.labels)):
        columns = np.nonzero(mask[label_index])[0]
        columns = columns[(matrix[:, columns] != ABSTAIN).any(axis=0)]
        if len(columns) < SNORKEL_MIN_RULES:
            continue
        sub = matrix[:, columns].copy()
        sub[sub > 0] = 1  # a descendant's positive vote is a positive vote for this label
        model = LabelModel(cardinality=2, verbose=False)
        model.fit(sub, n_epochs=200, seed=seed, progress_bar=False)
        covered = (sub != ABSTAIN).any(axis=1)
        probs[covered, label_index] = model.predict_proba(sub[covered])[:, 1]
    return probs
