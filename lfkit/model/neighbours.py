"""Evidence from similar rows: what the nearest neighbours in TF-IDF space are labelled.

Rules see nothing on rows where no rule fires; neighbours do. For each row, the k most similar
reference rows (cosine similarity of TF-IDF vectors over the text fields) vote with their
labels, weighted by similarity and smoothed toward each label's base rate. The reference is the
audit's fit sample (all rows of small data). A row never counts as its own neighbour, and its
own label is left out of the base rate, so the estimate is out-of-sample for every row, like
cross-validated predictions but without refitting. The index holds only the reference rows, so
rows of any number of partitions can be scored against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from lfkit._types import FloatArray, IntArray
from lfkit.model.targets import base_rates

NEIGHBOURS = 15
PRIOR_WEIGHT = 1.0
_CHUNK = 1_024


@dataclass(frozen=True, eq=False)
class TextVectors:
    """A TF-IDF vocabulary fitted on some rows; turns any texts into L2-normalised vectors."""

    vectorizer: Any
    """The fitted scikit-learn TfidfVectorizer; None when no term occurs twice."""

    def transform(self, texts: Sequence[str]) -> sparse.csr_array:
        """Return the (len(texts), n_terms) float32 TF-IDF vectors of these texts."""
        if self.vectorizer is None:
            shape = (len(texts), 1)
            return sparse.csr_array(shape, shape=shape, dtype=np.float32)
        return sparse.csr_array(self.vectorizer.transform(texts))

    @property
    def n_terms(self) -> int:
        """Return the size of the vocabulary."""
        return 1 if self.vectorizer is None else len(self.vectorizer.vocabulary_)


def fit_text_vectors(texts: Sequence[str]) -> TextVectors:
    """Fit the TF-IDF vocabulary (words and word pairs in at least 2 rows, at most half) on
    these texts. Shared by the neighbours and the text classifier."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        sublinear_tf=True,
        min_df=2,
        max_df=0.5,
        ngram_range=(1, 2),
        stop_words=None,
        dtype=np.float32,
    )
    try:
        vectorizer.fit(texts)
    except ValueError:  # no term occurs twice: nothing to learn from
        return TextVectors(None)
    vectorizer.stop_words_ = None  # the terms left out: not needed to transform, can be large
    return TextVectors(vectorizer)


@dataclass(frozen=True, eq=False)
class NeighbourIndex:
    """The labelled reference rows (their vectors and labels) and the base rates of all rows."""

    reference_t: sparse.csc_array
    """(n_terms, n_reference): the reference rows' vectors, transposed."""
    reference_y: sparse.csr_array
    present: FloatArray
    """Per label, rows with it among all rows (`n_rows`): the base rates."""
    n_rows: int
    exclusive: bool
    k: int

    def predict_proba(
        self, vectors: sparse.csr_array, y: sparse.csr_array, own: IntArray
    ) -> FloatArray:
        """Return (n_rows, n_labels): the similarity-weighted share of neighbours with each
        label, smoothed toward the base rates (without the row's own label).

        `vectors` and `y` are the rows' TF-IDF vectors and labels, `own` each row's position
        among the reference rows (-1 for rows outside it: they are never their own neighbour).
        """
        n_rows = vectors.shape[0]
        probs = np.empty((n_rows, self.reference_y.shape[1]))
        for start in range(0, n_rows, _CHUNK):
            stop = min(start + _CHUNK, n_rows)
            similarity = (vectors[start:stop] @ self.reference_t).toarray()
            inside = np.nonzero(own[start:stop] >= 0)[0]
            similarity[inside, own[start:stop][inside]] = -1.0
            top = np.argpartition(-similarity, self.k - 1, axis=1)[:, : self.k]
            weights = np.clip(np.take_along_axis(similarity, top, axis=1), 0.0, None)
            votes = sparse.csr_array(
                (weights.ravel(), (np.repeat(np.arange(stop - start), self.k), top.ravel())),
                shape=(stop - start, self.reference_y.shape[0]),
            )
            own_labels = y[start:stop].toarray()
            base = base_rates(self.present, self.n_rows, own_labels, exclusive=self.exclusive)
            probs[start:stop] = ((votes @ self.reference_y).toarray() + PRIOR_WEIGHT * base) / (
                weights.sum(axis=1, keepdims=True) + PRIOR_WEIGHT
            )
        return probs


def build_neighbours(
    vectors: sparse.csr_array,
    given: sparse.csr_array,
    *,
    exclusive: bool,
    present: FloatArray | None = None,
    n_rows: int | None = None,
    k: int = NEIGHBOURS,
) -> NeighbourIndex:
    """Index the reference rows (`vectors`, labels `given`) for similar-row evidence.

    `present` (rows per label) and `n_rows` describe all the data the reference rows were
    drawn from (default: the reference rows themselves); they set the base rates. With
    `exclusive` (multiclass) the base rates, and so each row's probabilities, sum to 1.
    """
    y = given.astype(np.float64).tocsr()
    if present is None:
        present = np.asarray(y.sum(axis=0), dtype=np.float64).ravel()
    n_rows = y.shape[0] if n_rows is None else n_rows
    present = np.asarray(present, dtype=np.float64)
    k = max(1, min(k, y.shape[0] - 1))
    return NeighbourIndex(vectors.T.tocsc(), y, present, n_rows, exclusive, k)
