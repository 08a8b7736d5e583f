"""Evidence from a text classifier trained on the existing labels, out-of-fold.

A linear model over the TF-IDF vectors of the text fields (ridge regression on the 0/1 label
matrix, every label at once) is fitted k times, each time without one fold of the rows, and
predicts the rows of the fold it did not see. So, like the label model's leave-one-out and
the neighbours, every row's estimate is out-of-sample: its own label never vouches for it.
Ridge regression solves all labels together by conjugate gradients (one step size per label),
in whichever of the row space or the word space is smaller, so 400 tags cost little more
than one; labels no training row carries are skipped (their score is 0). Rows outside the
training rows (the audit's fit sample) get the prediction of one model fitted on all of them
(`fit_ridge`): they were never seen, so that is out-of-sample too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from lfkit._types import Float32Array, IntArray

FOLDS = 5
ALPHA = 1.0
"""Ridge penalty; rows are L2-normalised TF-IDF vectors."""
_ITERATIONS = 40
_TOLERANCE = 1e-3


def _conjugate_gradients(
    operator: Callable[[Float32Array], Float32Array], b: Float32Array
) -> Float32Array:
    """Solve operator(X) = b for a symmetric positive-definite operator, column by column
    (all columns at once)."""
    solution = np.zeros_like(b)
    residual = b.copy()
    direction = residual.copy()
    norms = (residual * residual).sum(axis=0)
    stop = (_TOLERANCE**2) * np.maximum(norms, 1e-30)
    for _ in range(_ITERATIONS):
        product = operator(direction)
        curvature = (direction * product).sum(axis=0)
        step = np.divide(norms, curvature, out=np.zeros_like(norms), where=curvature > 0)
        solution += step * direction
        residual -= step * product
        new_norms = (residual * residual).sum(axis=0)
        if (new_norms <= stop).all():
            break
        ratio = np.divide(new_norms, norms, out=np.zeros_like(norms), where=norms > 0)
        direction = residual + ratio * direction
        norms = new_norms
    return solution


def _ridge_weights(x: sparse.csr_array, targets: Float32Array, alpha: float) -> Float32Array:
    """Return the (n_terms, n_targets) weights of ridge regression of `targets` on `x` (no
    intercept), solved in the row space or the word space, whichever is smaller."""
    xt = x.T.tocsr()
    if x.shape[0] <= x.shape[1]:  # dual: (x x^T + alpha I) a = targets, w = x^T a
        dual = _conjugate_gradients(lambda a: np.asarray(x @ (xt @ a)) + alpha * a, targets)
        return np.asarray(xt @ dual)
    b = np.asarray(xt @ targets)
    return _conjugate_gradients(lambda w: np.asarray(xt @ (x @ w)) + alpha * w, b)


def out_of_fold_scores(
    vectors: sparse.csr_array,
    given: sparse.csr_array,
    *,
    seed: int,
    reference: IntArray | None = None,
    folds: int = FOLDS,
    alpha: float = ALPHA,
) -> Float32Array:
    """Return (n_rows, n_labels): each row's ridge score per label from a model that never saw
    the row, trained on the other folds of the `reference` rows (default: all rows).

    Scores estimate P(label) on a linear scale (they may leave [0, 1] a little); a multiclass
    task passes the one-hot class matrix.

    Examples
    --------
    >>> x = sparse.csr_array(np.eye(2)[[0] * 10 + [1] * 10])
    >>> y = sparse.csr_array(np.array([[1]] * 10 + [[0]] * 10))
    >>> scores = out_of_fold_scores(x, y, seed=0)[:, 0]
    >>> bool((scores[:10] > 0.5).all() and (scores[10:] < 0.5).all())
    True
    """
    n_rows = vectors.shape[0]
    reference = np.arange(n_rows) if reference is None else reference
    fold_of = np.random.default_rng(seed).permutation(n_rows) % max(2, folds)
    y = given.astype(np.float64).toarray()
    scores = np.empty(y.shape, dtype=np.float32)
    for fold in range(max(2, folds)):
        train = reference[fold_of[reference] != fold]
        held = np.nonzero(fold_of == fold)[0]
        if not len(held):
            continue
        means = y[train].mean(axis=0) if len(train) else np.zeros(y.shape[1])
        scores[held] = means
        carried = np.nonzero(means > 0)[0]
        if len(train) < 2 or not len(carried):
            continue
        targets = (y[train][:, carried] - means[carried]).astype(np.float32)
        predicted = vectors[held] @ _ridge_weights(vectors[train], targets, alpha)
        scores[np.ix_(held, carried)] += predicted
    return scores


@dataclass(frozen=True, eq=False)
class RidgeModel:
    """Ridge regression of every label on the TF-IDF vectors, fitted on all training rows."""

    means: Float32Array
    """(n_labels,) each label's share of the training rows (the intercept)."""
    carried: IntArray
    """The labels some training row carries (the others score their mean, 0)."""
    weights: Float32Array
    """(n_terms, len(carried)) float32."""

    def predict(self, vectors: sparse.csr_array) -> Float32Array:
        """Return (n_rows, n_labels) float32 scores of these rows' vectors."""
        scores = np.empty((vectors.shape[0], len(self.means)), dtype=np.float32)
        scores[:] = self.means
        if len(self.carried):
            scores[:, self.carried] += np.asarray(vectors @ self.weights)
        return scores


def fit_ridge(
    vectors: sparse.csr_array, given: sparse.csr_array, *, alpha: float = ALPHA
) -> RidgeModel:
    """Fit ridge regression of the (centred) labels on all these rows, as one fold of
    `out_of_fold_scores` does on its training rows, and keep the weights.

    Examples
    --------
    >>> x = sparse.csr_array(np.eye(2, dtype=np.float32)[[0] * 10 + [1] * 10])
    >>> y = sparse.csr_array(np.array([[1]] * 10 + [[0]] * 10))
    >>> fit_ridge(x, y).predict(x[[0, 19]]).astype(float).round(2).tolist()
    [[0.95], [0.05]]
    """
    y = given.astype(np.float64).toarray()
    means = y.mean(axis=0) if len(y) else np.zeros(y.shape[1])
    carried = np.nonzero(means > 0)[0]
    weights = np.zeros((vectors.shape[1], len(carried)), dtype=np.float32)
    if len(y) >= 2 and len(carried):
        targets = (y[:, carried] - means[carried]).astype(np.float32)
        weights = _ridge_weights(vectors, targets, alpha).astype(np.float32)
    return RidgeModel(means.astype(np.float32), carried, weights)
