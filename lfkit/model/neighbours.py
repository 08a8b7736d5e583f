"""Evidence from similar rows: what the nearest neighbours in TF-IDF space are labelled.

Rules see nothing on rows where no rule fires; neighbours do. For each row, the k most similar
other rows (cosine similarity of TF-IDF vectors over the text fields) vote with their labels,
weighted by similarity and smoothed toward each label's base rate. A row never counts as its
own neighbour, so the estimate is out-of-sample for every row, like cross-validated
predictions but without refitting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit._types import FloatArray

NEIGHBOURS = 15
PRIOR_WEIGHT = 1.0
REFERENCE_ROWS = 50_000
"""At most this many rows (a seeded sample) serve as neighbours, to bound time and memory."""
_CHUNK = 1_024


def text_vectors(texts: pd.Series) -> sparse.csr_array:
    """Return L2-normalised TF-IDF vectors (words and word pairs) of the texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        sublinear_tf=True,
        min_df=2,
        max_df=0.5,
        ngram_range=(1, 2),
        stop_words="english",
        dtype=np.float32,
    )
    try:
        return sparse.csr_array(vectorizer.fit_transform(texts))
    except ValueError:  # no term occurs twice: no neighbours to learn from
        return sparse.csr_array((len(texts), 1), dtype=np.float32)


def neighbour_probabilities(
    vectors: sparse.csr_array,
    given: sparse.csr_array,
    *,
    exclusive: bool,
    seed: int,
    k: int = NEIGHBOURS,
) -> FloatArray:
    """Return (n_rows, n_labels): the similarity-weighted share of neighbours with each label.

    With `exclusive` (multiclass) the base rates, and so each row, sum to 1.
    """
    n_rows = vectors.shape[0]
    y = given.astype(np.float64).tocsr()
    counts = np.asarray(y.sum(axis=0)).ravel() + 1.0
    total = counts.sum() - 1.0 if exclusive else n_rows + 1.0
    reference = np.arange(n_rows)
    if n_rows > REFERENCE_ROWS:
        reference = np.sort(
            np.random.default_rng(seed).choice(n_rows, REFERENCE_ROWS, replace=False)
        )
    reference_t = vectors[reference].T.tocsc()
    reference_y = y[reference]
    probs = np.empty((n_rows, y.shape[1]))
    k = max(1, min(k, len(reference) - 1))
    for start in range(0, n_rows, _CHUNK):
        rows = np.arange(start, min(start + _CHUNK, n_rows))
        similarity = (vectors[rows] @ reference_t).toarray()
        own = np.searchsorted(reference, rows)
        is_self = (own < len(reference)) & (reference[np.minimum(own, len(reference) - 1)] == rows)
        similarity[np.nonzero(is_self)[0], own[is_self]] = -1.0
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weights = np.clip(np.take_along_axis(similarity, top, axis=1), 0.0, None)
        votes = sparse.csr_array(
            (weights.ravel(), (np.repeat(np.arange(len(rows)), k), top.ravel())),
            shape=(len(rows), len(reference)),
        )
        base = (counts - y[rows].toarray()) / total  # base rates without the row itself
        probs[rows] = ((votes @ reference_y).toarray() + PRIOR_WEIGHT * base) / (
            weights.sum(axis=1, keepdims=True) + PRIOR_WEIGHT
        )
    return probs
