"""Label models: turn rule votes into a probability per row and label; fit once, predict later.

- `naive-bayes`: learns each rule's reliability per label from existing labels, with the
  taxonomy's children as evidence for their parents (lfkit/model/naive_bayes.py).
- `em`: lfkit's Dawid-Skene-style model, learned from the votes alone by EM
  (lfkit/model/em.py); multilabel: one binary model per tag, vectorised.
- `snorkel`: Snorkel's LabelModel, learned from the votes alone; per tag in a multilabel
  task; majority vote where fewer than 3 rules vote (lfkit/model/snorkel_model.py).
- `majority`: positive minus negative votes per label (children count for parents).
- `auto`: classes: `naive-bayes` with labels, `em` without; tags: `majority` (see
  `auto_method`, chosen by benchmarks/bench_label_model.py).

`predict_proba(data)` scores rows the model was not fitted on (new data). The audit needs
out-of-sample probabilities of the rows a model *was* fitted on: `fitted_proba(rows)` gives
them, leave-one-out with respect to each row's own label.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit._types import LABEL_METHODS, FloatArray, IntArray, LabelMethod
from lfkit.engine.apply import apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import DataError, ModelError, OptionError, check_choice
from lfkit.model.em import EmParameters, em_probabilities, fit_em
from lfkit.model.fuse import sigmoid, softmax
from lfkit.model.naive_bayes import (
    FeatureCounts,
    count_features,
    model_features,
    model_from_counts,
)
from lfkit.model.snorkel_model import SnorkelPart, fit_snorkel, predict_snorkel
from lfkit.model.targets import base_rates, given_matrix
from lfkit.rules.ruleset import RuleSet

NEEDS_LABELS = ("naive-bayes",)


def auto_method(ruleset: RuleSet, *, labels: bool) -> LabelMethod:
    """Return the method `auto` stands for, as chosen by benchmarks/bench_label_model.py.

    Classes: `naive-bayes` with labels, `em` without (on held-out rows of the 4-class data
    both label 97% of voted rows right; Snorkel's LabelModel 95%). Tags: `majority`, with
    or without labels: rules that only vote positive give an unsupervised model nothing to
    learn, and at P >= 0.5 majority vote had the best F1 against the authors' tags (see
    docs/labeling.md).
    """
    if ruleset.multilabel:
        return "majority"
    return "naive-bayes" if labels else "em"


def resolve_method(ruleset: RuleSet, method: LabelMethod, *, labels: bool) -> LabelMethod:
    """Return the method to fit: `method`, or what `auto` stands for (see `auto_method`).

    Raises
    ------
    OptionError
        For an unknown method.
    """
    check_choice("method", method, LABEL_METHODS, "label model")
    return auto_method(ruleset, labels=labels) if method == "auto" else method


class LabelModel:
    """A fitted label model.

    Probabilities are (n_rows, n_labels): P(label present) in a multilabel task, P(class)
    with rows summing to 1 in a multiclass one. `predict_proba` scores any rows (a DataFrame,
    to which the rules are applied, or their `Votes`); `fitted_proba` gives leave-one-out
    probabilities of the rows the model was fitted on; `save` writes the model as JSON.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        method: LabelMethod,
        *,
        counts: FeatureCounts,
        em: EmParameters | None = None,
        snorkel: list[SnorkelPart] | None = None,
        votes: Votes | None = None,
        y: sparse.csr_array | None = None,
    ) -> None:
        check_choice("method", method, LABEL_METHODS, "label model")
        if method == "auto":
            raise OptionError(
                "method",
                "a fitted LabelModel has a concrete method, not 'auto'",
                "fit one with fit_label_model(..., method='auto')",
            )
        self.ruleset, self.method = ruleset, method
        self.counts = counts
        """Label counts (and, for naive-bayes, feature counts) of the rows it was fitted on."""
        self.em, self.snorkel = em, snorkel or []
        self._votes, self._y = votes, y

    def __repr__(self) -> str:
        ruleset = self.ruleset
        return (
            f"LabelModel(method={self.method!r}, {len(ruleset.labels)} labels, "
            f"{len(ruleset.rules)} rules, fitted on {self.counts.n_rows:,} rows)"
        )

    def predict_proba(self, data: pd.DataFrame | Votes) -> FloatArray:
        """Return the probabilities of these rows (the model never saw their labels).

        Raises
        ------
        DataError
            When `data` lacks a text column the rules need.
        DataError
            When `data` is `Votes` of another number of rules.
        """
        votes = _as_votes(self.ruleset, data)
        base = base_rates(self.counts.present, self.counts.n_rows)
        if self.method == "naive-bayes":
            model = model_from_counts(self.ruleset, self.counts)
            features = model_features(self.ruleset, votes.fired, _no_labels(self.ruleset, votes))
            return self._squash(model.predict_logits(features, None))
        return self._unsupervised(votes, np.broadcast_to(base, (votes.shape[0], base.size)))

    def fitted_proba(self, rows: slice | IntArray = slice(None)) -> FloatArray:
        """Return out-of-sample probabilities of these rows of the data the model was fitted on.

        Each row's probabilities are leave-one-out with respect to its own label
        (`naive-bayes`, and the base rates `majority` smooths with); `em` and `snorkel` never
        look at labels. Scoring rows in chunks keeps memory bounded on large data.

        Raises
        ------
        ModelError
            For a loaded model (it keeps no training rows).
        """
        if self._votes is None or self._y is None:
            raise ModelError(
                "fitted_proba needs the rows the model was fitted on; a loaded model keeps none",
                "use predict_proba(data) for rows",
            )
        return self.counted_proba(Votes(self._votes.fired[rows], self._votes.values), self._y[rows])

    def counted_proba(self, votes: Votes, y: sparse.csr_array) -> FloatArray:
        """Return out-of-sample probabilities of rows whose labels the fit counted, given their
        votes and label matrix: as `fitted_proba`, for rows read again (e.g. a partition).

        The model needs only its counts (and fitted parameters), not the rows themselves.
        """
        if self.method == "naive-bayes":
            model = model_from_counts(self.ruleset, self.counts)
            features = model_features(self.ruleset, votes.fired, y)
            return self._squash(model.predict_logits(features, y))
        own = y.toarray()
        return self._unsupervised(votes, base_rates(self.counts.present, self.counts.n_rows, own))

    def save(self, path: str | Path, *, force: bool = False, option: str = "path") -> None:
        """Write the model as JSON (atomically); `lfkit.load_label_model` reads it back.

        An existing file is replaced only with `force`; `option` names the path in errors.

        Raises
        ------
        OutputError
            When the file exists (without `force`) or cannot be written.
        """
        from lfkit.model.save import save_label_model

        save_label_model(self, Path(path), force=force, option=option)

    def _squash(self, scores: FloatArray) -> FloatArray:
        return sigmoid(scores) if self.ruleset.multilabel else softmax(scores)

    def _unsupervised(self, votes: Votes, base: FloatArray) -> FloatArray:
        majority = majority_vote(self.ruleset, votes, base)
        if self.method == "em" and self.em is not None:
            probs = em_probabilities(self.ruleset, self.em, votes.fired)
            return np.where(self.em.modelled, probs, majority)
        if self.method == "snorkel" and self.snorkel:
            return predict_snorkel(self.snorkel, votes.to_dense(), majority)
        return majority


def fit_label_model(
    ruleset: RuleSet,
    data: pd.DataFrame | Votes,
    given: Sequence[Any] | None = None,
    *,
    method: LabelMethod = "auto",
    seed: int = 0,
) -> LabelModel:
    """Fit a label model on the rules' votes on `data` and, where given, the existing labels.

    Parameters
    ----------
    ruleset
        The rules.
    data
        A DataFrame (the rules are applied to it) or the rules' `Votes` on it.
    given
        Per row, a list of tags (multilabel) or one class (multiclass); None to learn from
        the votes alone.
    method
        One of LABEL_METHODS; `auto`: see `auto_method`.
    seed
        Seed of Snorkel's optimiser (the other methods are deterministic).

    Raises
    ------
    OptionError
        For an unknown method, or `naive-bayes` without labels.
    DataError
        For labels that do not fit the rule set or the rows, or data lacking a text column.
    """
    method = resolve_method(ruleset, method, labels=given is not None)
    if given is None and method in NEEDS_LABELS:
        raise OptionError(
            "method",
            f"label model '{method}' learns from existing labels, and none were given",
            "pass the labels, or use method='em' or method='snorkel', which learn from the "
            "votes alone",
        )
    votes = _as_votes(ruleset, data)
    if given is not None and len(given) != votes.shape[0]:
        raise DataError(f"{len(given)} labels for {votes.shape[0]} rows", where="fit_label_model")
    y = given_matrix(ruleset, given) if given is not None else _no_labels(ruleset, votes)
    if method == "naive-bayes":
        features = model_features(ruleset, votes.fired, y)
    else:
        features = sparse.csr_array((votes.shape[0], 0))
    return fit_counted_model(
        ruleset, count_features(features, y), votes, y, method=method, seed=seed
    )


def fit_counted_model(
    ruleset: RuleSet,
    counts: FeatureCounts,
    votes: Votes,
    y: sparse.csr_array,
    *,
    method: LabelMethod,
    seed: int = 0,
) -> LabelModel:
    """Fit a label model from statistics of all rows and the votes of some of them.

    `counts` are `count_features` of the naive-Bayes features of all rows (summed over any
    split of the rows; other methods use only the label counts); `naive-bayes` and `majority`
    need nothing else. `em` and `snorkel` learn from `votes` (labels `y`): all rows, or a
    sample of them. The model keeps `votes` and `y` for `fitted_proba`. `method` is resolved
    (not `auto`).
    """
    if method == "naive-bayes":
        # C order, as a loaded model has: the same sums in the same order, the same floats
        counts = FeatureCounts(
            counts.n_rows,
            *(np.ascontiguousarray(array) for array in counts.arrays()),
        )
        return LabelModel(ruleset, method, counts=counts, votes=votes, y=y)
    counts = FeatureCounts(
        counts.n_rows, counts.present, np.zeros((len(counts.present), 0)), np.zeros(0)
    )
    if method == "em":
        base = base_rates(counts.present, counts.n_rows, y.toarray())
        start = majority_vote(ruleset, votes, base)
        params = fit_em(ruleset, votes.fired, start)
        return LabelModel(ruleset, method, counts=counts, em=params, votes=votes, y=y)
    if method == "snorkel":
        parts = fit_snorkel(ruleset, votes.to_dense(), seed=seed)
        return LabelModel(ruleset, method, counts=counts, snorkel=parts, votes=votes, y=y)
    return LabelModel(ruleset, method, counts=counts, votes=votes, y=y)


def majority_vote(ruleset: RuleSet, votes: Votes, base: FloatArray) -> FloatArray:
    """Return majority-vote probabilities, smoothed by the base rates `base` (n_rows, n_labels).

    Multilabel: (positive votes + base) / (positive + negative votes + 1), a child's positive
    vote counting for its ancestors. Multiclass: votes per class plus the base rate,
    normalised.
    """
    pos, neg = _signed_votes(ruleset, votes)
    if ruleset.multilabel:
        return np.asarray((pos + base) / (pos + neg + 1.0))
    probs = pos + base
    return np.asarray(probs / probs.sum(axis=1, keepdims=True))


def _signed_votes(ruleset: RuleSet, votes: Votes) -> tuple[FloatArray, FloatArray]:
    """Return per row and label the number of positive and of negative votes (children count)."""
    fired = votes.fired.astype(np.float64)
    pos = np.asarray((fired @ ruleset.support_matrix.T).toarray())
    if not ruleset.multilabel:
        return pos, np.zeros_like(pos)
    negative = ruleset.rule_label_matrix[:, ~ruleset.positive_rules]
    return pos, np.asarray((fired[:, ~ruleset.positive_rules] @ negative.T).toarray())


def _as_votes(ruleset: RuleSet, data: pd.DataFrame | Votes) -> Votes:
    if isinstance(data, Votes):
        if data.shape[1] != len(ruleset):
            raise DataError(
                f"votes have {data.shape[1]} columns but the rule set has {len(ruleset)} rules",
                "apply the same rules the model was fitted with",
            )
        return data
    return apply_rules(ruleset, data)


def _no_labels(ruleset: RuleSet, votes: Votes) -> sparse.csr_array:
    shape = (votes.shape[0], len(ruleset.labels))
    return sparse.csr_array(shape, shape=shape, dtype=np.int8)
