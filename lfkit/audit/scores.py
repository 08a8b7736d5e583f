"""Score every (row, label) pair: fuse the evidence sources, estimate the label noise, and turn
both into P(the existing label is wrong); choose the default flag threshold from the scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit._types import FloatArray, IntArray
from lfkit.engine.votes import Votes
from lfkit.model.classifier import out_of_fold_scores
from lfkit.model.fit import LabelModel, fit_label_model
from lfkit.model.fuse import Fusion, fit_fusion
from lfkit.model.neighbours import NeighbourIndex, build_neighbours, text_vectors
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.text import as_text

FIT_ROWS = 20_000
"""At most this many rows (a seeded sample) teach the fusion its weights and the noise."""
FLOOR = 0.05
"""The automatic threshold never goes below this score."""


@dataclass(frozen=True, eq=False)
class LabelScores:
    """Probabilities of some rows' (row, label) pairs, before ranking; see `Scorer.score`."""

    given: np.ndarray
    """(n_rows, n_labels) bool: the existing labels."""
    probs: FloatArray
    """(n_rows, n_labels): P(label truly present), all evidence fused."""
    rule_probs: FloatArray
    neighbour_probs: FloatArray | None
    classifier_scores: FloatArray | None
    fusion: Fusion
    multilabel: bool

    def error_scores(self) -> FloatArray:
        """Return, per pair, P(the existing label is wrong) under the fitted noise model
        (multiclass: the given class's column holds P(wrong), others P(it is the class))."""
        return self.fusion.error_scores(self.probs, self.given)


@dataclass(frozen=True, eq=False)
class Scorer:
    """Everything fitted on the whole data that scoring a chunk of rows needs."""

    ruleset: RuleSet
    y: sparse.csr_array
    model: LabelModel
    neighbours: NeighbourIndex | None
    classifier: FloatArray | None
    """Out-of-fold classifier scores of every row (None when switched off)."""
    fusion: Fusion
    sample: IntArray
    """The rows the fusion was fitted on."""

    def evidence(self, rows: IntArray) -> dict[str, FloatArray]:
        """Return each evidence source's estimates for these rows, "rules" first."""
        return _evidence(self.model, self.neighbours, self.classifier, rows)

    def score(self, rows: IntArray) -> LabelScores:
        """Return the fused probabilities of these rows, each out-of-sample for its row."""
        evidence = self.evidence(rows)
        return LabelScores(
            self.y[rows].toarray() > 0,
            self.fusion.apply(evidence),
            evidence["rules"],
            evidence.get("neighbours"),
            evidence.get("classifier"),
            self.fusion,
            self.ruleset.multilabel,
        )


def _evidence(
    model: LabelModel,
    neighbours: NeighbourIndex | None,
    classifier: FloatArray | None,
    rows: IntArray,
) -> dict[str, FloatArray]:
    found = {"rules": model.fitted_proba(rows)}
    if neighbours is not None:
        found["neighbours"] = neighbours.predict_proba(rows)
    if classifier is not None:
        found["classifier"] = np.asarray(classifier[rows], dtype=np.float64)
    return found


def fit_scorer(
    ruleset: RuleSet,
    df: pd.DataFrame,
    votes: Votes,
    *,
    label_model: str = "naive-bayes",
    neighbours: bool = True,
    classifier: bool = True,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Scorer:
    """Fit the label model, the text evidence and the fusion (with the noise) on the data.

    `df` must hold parsed labels (as `read_data` or `check_frame` return them).
    """
    task = ruleset.task
    say = progress or (lambda _: None)
    given = df[task.label_column].tolist()
    y = given_matrix(ruleset, given)
    say(f"fitting the {label_model} label model")
    model = fit_label_model(ruleset, votes, given, method=label_model, seed=seed)
    index, scores = None, None
    if neighbours or classifier:
        say("vectorising the text")
        texts = df[list(task.text_columns)].map(as_text).agg(" ".join, axis=1)
        vectors = text_vectors(texts, seed=seed)
        if neighbours:
            say("indexing similar rows")
            index = build_neighbours(
                texts, y, exclusive=not ruleset.multilabel, seed=seed, vectors=vectors
            )
        if classifier:
            say("training the text classifier (out-of-fold)")
            scores = out_of_fold_scores(vectors[0], y, seed=seed, reference=vectors[1])
    sample = np.arange(len(df))
    if len(sample) > FIT_ROWS:
        sample = np.sort(np.random.default_rng(seed).choice(len(df), FIT_ROWS, replace=False))
    say("fusing the evidence and estimating the label noise")
    fusion = fit_fusion(
        _evidence(model, index, scores, sample),
        y[sample].toarray(),
        multilabel=ruleset.multilabel,
        seed=seed,
    )
    return Scorer(ruleset, y, model, index, scores, fusion, sample)


def score_labels(
    ruleset: RuleSet,
    df: pd.DataFrame,
    votes: Votes,
    *,
    label_model: str = "naive-bayes",
    neighbours: bool = True,
    classifier: bool = True,
    seed: int = 0,
) -> LabelScores:
    """Return the fused probabilities of every (row, label) pair (dense: for moderate data)."""
    scorer = fit_scorer(
        ruleset,
        df,
        votes,
        label_model=label_model,
        neighbours=neighbours,
        classifier=classifier,
        seed=seed,
    )
    return scorer.score(np.arange(len(df)))


def default_threshold(scores: FloatArray, *, floor: float = FLOOR) -> float:
    """Return the threshold that flags as many pairs as the scores say are wrong.

    The scores are probabilities that each label is wrong, so their sum is the expected
    number of wrong labels; the default flag set is that many pairs, the most suspect first
    (confident learning's rule too). The threshold is the lowest score in the set, at least
    `floor`. Measured on injected noise (docs/audit.md), this set has a better F1 than the one
    with the highest expected F1 when the evidence is weak (many labels look uncertain), and
    the same where it is strong.

    Examples
    --------
    >>> default_threshold(np.array([0.95, 0.9, 0.6, 0.2, 0.1, 0.05, 0.01]))  # sum 2.81: 3 flags
    0.6
    """
    values = np.sort(np.asarray(scores, dtype=np.float64).ravel())[::-1]
    count = int(round(float(values.sum()))) if len(values) else 0
    if count < 1:
        return 1.0
    return float(max(values[min(count, len(values)) - 1], floor))
