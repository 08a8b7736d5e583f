"""Evidence from similar rows: what the nearest neighbours in TF-IDF space are labelled.

Rules see nothing on rows where no rule fires; neighbours do. For each row, the k most similar
other rows (cosine similarity of TF-IDF vectors over the text fields) vote with their labels,
weighted by similarity and smoothed toward each label's base rate. A row never counts as its
own neighbour, and its own label is left out of the base rate, so the estimate is
out-of-sample for every row, like cross-validated predictions but without refitting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit._types import FloatArray, IntArray

NEIGHBOURS = 15
PRIOR_WEIGHT = 1.0
REFERENCE_ROWS = 50_000
"""At most this many rows (a seeded sample) serve as neighbours and fit the vocabulary."""
_CHUNK = 1_024


def _vectorizer() -> object:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        sublinear_tf=True,
        min_df=2,
        max_df=0.5,
        ngram_range=(1, 2),
        stop_words=None,
        dtype=np.float32,
    )


@dataclass(frozen=True, eq=False)
class NeighbourIndex:
    """TF-IDF vectors of every row and the labelled reference rows they are compared with."""

    vectors: sparse.csr_array
    reference: IntArray
    reference_t: sparse.csc_array
    y: sparse.csr_array
    counts: FloatArray
    total: float
    k: int

    def predict_proba(self, rows: IntArray) -> FloatArray:
        """Return (len(rows), n_labels): the similarity-weighted share of neighbours with each
        label, smoothed toward the base rates (without the row's own label)."""
        probs = np.empty((len(rows), self.y.shape[1]))
        reference_y = self.y[self.reference]
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            similarity = (self.vectors[chunk] @ self.reference_t).toarray()
            own = np.searchsorted(self.reference, chunk)
            inside = np.minimum(own, len(self.reference) - 1)
            is_self = self.reference[inside] == chunk
            similarity[np.nonzero(is_self)[0], own[is_self]] = -1.0
            top = np.argpartition(-similarity, self.k - 1, axis=1)[:, : self.k]
            weights = np.clip(np.take_along_axis(similarity, top, axis=1), 0.0, None)
            votes = sparse.csr_array(
                (weights.ravel(), (np.repeat(np.arange(len(chunk)), self.k), top.ravel())),
                shape=(len(chunk), len(self.reference)),
            )
            base = (self.counts - self.y[chunk].toarray()) / self.total
            probs[start : start + len(chunk)] = (
                (votes @ reference_y).toarray() + PRIOR_WEIGHT * base
            ) / (weights.sum(axis=1, keepdims=True) + PRIOR_WEIGHT)
        return probs


def text_vectors(texts: pd.Series, *, seed: int) -> tuple[sparse.csr_array, IntArray]:
    """Return the TF-IDF vectors of every row (L2-normalised) and the reference rows.

    The vocabulary is fitted on the reference rows: all rows, or a seeded sample of
    REFERENCE_ROWS. Shared by the neighbours and the text classifier.
    """
    n_rows = len(texts)
    reference = np.arange(n_rows)
    if n_rows > REFERENCE_ROWS:
        reference = np.sort(
            np.random.default_rng(seed).choice(n_rows, REFERENCE_ROWS, replace=False)
        )
    vectorizer = _vectorizer()
    try:
        vectorizer.fit(texts.iloc[reference])  # type: ignore[attr-defined]
        vectors = sparse.csr_array(vectorizer.transform(texts))  # type: ignore[attr-defined]
    except ValueError:  # no term occurs twice: nothing to learn from
        vectors = sparse.csr_array((n_rows, 1), dtype=np.float32)
    return vectors, reference


def build_neighbours(
    texts: pd.Series,
    given: sparse.csr_array,
    *,
    exclusive: bool,
    seed: int,
    k: int = NEIGHBOURS,
    vectors: tuple[sparse.csr_array, IntArray] | None = None,
) -> NeighbourIndex:
    """Vectorise the texts (unless `vectors` from `text_vectors` are given) and index them.

    With `exclusive` (multiclass) the base rates, and so each row's probabilities, sum to 1.
    """
    n_rows = len(texts)
    matrix, reference = vectors if vectors is not None else text_vectors(texts, seed=seed)
    y = given.astype(np.float64).tocsr()
    counts = np.asarray(y.sum(axis=0)).ravel() + 1.0
    total = counts.sum() - 1.0 if exclusive else n_rows + 1.0
    k = max(1, min(k, len(reference) - 1))
    return NeighbourIndex(matrix, reference, matrix[reference].T.tocsc(), y, counts, total, k)
