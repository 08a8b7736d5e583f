"""Score (row, label) pairs: fit the evidence sources and their fusion (with the label noise) on
a bounded sample of rows and the label statistics of all rows, then score any rows with it.

The fitted `Scorer` is small (parameters, the sample's vectors and classifier scores), so rows
can be scored chunk by chunk or partition by partition (lfkit/audit/partitioned.py). Every
estimate stays out-of-sample for its row: the label model leaves the row's own label out of
its counts, sample rows get out-of-fold classifier scores and are never their own neighbour,
and rows outside the sample were never seen by the classifier nor the neighbour index. The
sample is the `SAMPLE_ROWS` rows with the smallest seeded hash of their row number, so every
split of the data into partitions picks the same rows; data with no more rows is the sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit._types import LABEL_METHODS, Float32Array, FloatArray, IntArray, LabelMethod
from lfkit.engine.apply import apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import check_choice
from lfkit.model.classifier import RidgeModel, fit_ridge, out_of_fold_scores
from lfkit.model.fit import LabelModel, fit_counted_model, resolve_method
from lfkit.model.fuse import Fusion, fit_fusion
from lfkit.model.naive_bayes import FeatureCounts, count_features, model_features
from lfkit.model.neighbours import NeighbourIndex, TextVectors, build_neighbours, fit_text_vectors
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.schema import Task
from lfkit.rules.text import as_text

SAMPLE_ROWS = 20_000
"""At most this many rows (a seeded sample) fit the text evidence, the fusion and the noise."""
FLOOR = 0.05
"""The automatic threshold never goes below this score."""


@dataclass(frozen=True, eq=False)
class Rows:
    """Some rows of the data as the scorer reads them: their row numbers in the whole data,
    joined text fields, rule votes and label matrix."""

    rows: IntArray
    texts: list[str]
    votes: Votes
    y: sparse.csr_array

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, positions: IntArray) -> Rows:
        """Return these rows (positions in this batch), in this order."""
        fired = self.votes.fired[positions]
        return Rows(
            self.rows[positions],
            [self.texts[i] for i in positions],
            Votes(fired, self.votes.values, self.votes.names),
            self.y[positions],
        )

    @staticmethod
    def concat(parts: Sequence[Rows]) -> Rows:
        """Return the rows of these batches, one after the other."""
        first = parts[0]
        return Rows(
            np.concatenate([part.rows for part in parts]),
            [text for part in parts for text in part.texts],
            Votes(
                sparse.csr_array(sparse.vstack([part.votes.fired for part in parts], format="csr")),
                first.votes.values,
                first.votes.names,
            ),
            sparse.csr_array(sparse.vstack([part.y for part in parts], format="csr")),
        )


def row_texts(task: Task, df: pd.DataFrame) -> list[str]:
    """Return each row's text fields joined by spaces (what the text evidence reads)."""
    columns = [[as_text(value) for value in df[column].tolist()] for column in task.text_columns]
    return [" ".join(fields) for fields in zip(*columns, strict=True)]


def read_rows(
    ruleset: RuleSet,
    df: pd.DataFrame,
    offset: int = 0,
    votes: Votes | None = None,
    *,
    texts: bool = True,
) -> Rows:
    """Return the `Rows` of a checked DataFrame (parsed labels) whose first row is row
    `offset` of the data; the rules are applied unless their `votes` are given. Without
    `texts` the rows' texts are left empty (`with_texts` adds them for some rows)."""
    task = ruleset.task
    return Rows(
        offset + np.arange(len(df)),
        row_texts(task, df) if texts else [""] * len(df),
        apply_rules(ruleset, df) if votes is None else votes,
        given_matrix(ruleset, df[task.label_column].tolist()),
    )


def label_counts(ruleset: RuleSet, rows: Rows) -> FeatureCounts:
    """Return the label statistics of these rows (they add up over disjoint rows)."""
    return count_features(model_features(ruleset, rows.votes.fired, rows.y), rows.y)


def sample_keys(rows: IntArray, seed: int) -> np.ndarray:
    """Return a seeded pseudo-random uint64 key per row number (a bijection, so no ties): the
    fit sample is the rows with the smallest keys, whatever the split into partitions."""
    x = rows.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def smallest_keys(rows: Rows, seed: int, size: int) -> Rows:
    """Return the (at most `size`) rows of the sample among these rows, by row number."""
    if len(rows) <= size:
        return rows
    chosen = np.argpartition(sample_keys(rows.rows, seed), size - 1)[:size]
    return rows.take(np.sort(chosen))


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
class Evidence:
    """The fitted evidence sources: the label model, and over the sample's text the neighbour
    index and the classifier (out-of-fold scores of the sample, one model for other rows)."""

    model: LabelModel
    text: TextVectors | None
    neighbours: NeighbourIndex | None
    sample_rows: IntArray
    """The fit sample's row numbers, sorted."""
    sample_classifier: Float32Array | None
    """(len(sample_rows), n_labels) float32 out-of-fold classifier scores of the sample."""
    classifier: RidgeModel | None
    """The classifier for rows outside the sample (None when there are none)."""

    def of(self, batch: Rows) -> dict[str, FloatArray]:
        """Return each source's estimates for these rows, "rules" first."""
        found = {"rules": self.model.counted_proba(batch.votes, batch.y)}
        if self.text is None:
            return found
        vectors = self.text.transform(batch.texts)
        own = np.searchsorted(self.sample_rows, batch.rows)
        inside = own < len(self.sample_rows)
        inside[inside] = self.sample_rows[own[inside]] == batch.rows[inside]
        own = np.where(inside, own, -1)
        if self.neighbours is not None:
            found["neighbours"] = self.neighbours.predict_proba(vectors, batch.y, own)
        if self.sample_classifier is not None:
            scores = np.empty((len(batch), self.sample_classifier.shape[1]), dtype=np.float32)
            scores[inside] = self.sample_classifier[own[inside]]
            if not inside.all():
                assert self.classifier is not None, "rows outside the sample need the classifier"
                scores[~inside] = self.classifier.predict(vectors[np.nonzero(~inside)[0]])
            found["classifier"] = np.asarray(scores, dtype=np.float64)
        return found


@dataclass(frozen=True, eq=False)
class Scorer:
    """Everything fitted that scoring rows needs; small and picklable (no data rows but the
    sample's vectors)."""

    ruleset: RuleSet
    evidence: Evidence
    fusion: Fusion
    n_rows: int
    """Rows of the data it was fitted for."""

    def score(self, batch: Rows) -> LabelScores:
        """Return the fused probabilities of these rows, each out-of-sample for its row."""
        return _scores(self.ruleset, self.fusion, batch, self.evidence.of(batch))


def _scores(
    ruleset: RuleSet, fusion: Fusion, batch: Rows, evidence: dict[str, FloatArray]
) -> LabelScores:
    return LabelScores(
        batch.y.toarray() > 0,
        fusion.apply(evidence),
        evidence["rules"],
        evidence.get("neighbours"),
        evidence.get("classifier"),
        fusion,
        ruleset.multilabel,
    )


def fit_scorer(
    ruleset: RuleSet,
    counts: FeatureCounts,
    sample: Rows,
    *,
    label_model: LabelMethod = "naive-bayes",
    neighbours: bool = True,
    classifier: bool = True,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[Scorer, LabelScores]:
    """Fit the label model, the text evidence and the fusion (with the noise).

    `counts` are the label statistics of all rows (`label_counts`, summed), `sample` the fit
    sample (`smallest_keys`). Returns the scorer and the sample's scores (the default
    threshold is chosen from them).

    Raises
    ------
    OptionError
        For an unknown label model.
    """
    say = progress or (lambda _: None)
    check_choice("label_model", label_model, LABEL_METHODS, "label model")
    method = resolve_method(ruleset, label_model, labels=True)
    say(f"fitting the {method} label model")
    model = fit_counted_model(ruleset, counts, sample.votes, sample.y, method=method, seed=seed)
    text, index, oof, ridge = None, None, None, None
    if neighbours or classifier:
        say("vectorising the text")
        text = fit_text_vectors(sample.texts)
        vectors = text.transform(sample.texts)
        if neighbours:
            say("indexing similar rows")
            index = build_neighbours(
                vectors,
                sample.y,
                exclusive=not ruleset.multilabel,
                present=counts.present,
                n_rows=counts.n_rows,
            )
        if classifier:
            say("training the text classifier (out-of-fold)")
            oof = out_of_fold_scores(vectors, sample.y, seed=seed)
            if counts.n_rows > len(sample):
                ridge = fit_ridge(vectors, sample.y)
    evidence = Evidence(model, text, index, sample.rows, oof, ridge)
    found = evidence.of(sample)
    say("fusing the evidence and estimating the label noise")
    fusion = fit_fusion(found, sample.y.toarray(), multilabel=ruleset.multilabel, seed=seed)
    scorer = Scorer(ruleset, evidence, fusion, counts.n_rows)
    return scorer, _scores(ruleset, fusion, sample, found)


def score_labels(
    ruleset: RuleSet,
    df: pd.DataFrame,
    votes: Votes,
    *,
    label_model: LabelMethod = "naive-bayes",
    neighbours: bool = True,
    classifier: bool = True,
    seed: int = 0,
) -> LabelScores:
    """Return the fused probabilities of every (row, label) pair (dense: for moderate data).

    `df` must hold parsed labels (as `read_data` or `check_frame` return them).
    """
    rows = read_rows(ruleset, df, votes=votes)
    scorer, _ = fit_scorer(
        ruleset,
        label_counts(ruleset, rows),
        smallest_keys(rows, seed, SAMPLE_ROWS),
        label_model=label_model,
        neighbours=neighbours,
        classifier=classifier,
        seed=seed,
    )
    return scorer.score(rows)


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
