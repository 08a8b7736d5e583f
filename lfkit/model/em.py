"""A Dawid-Skene-style label model of lfkit's own, learned from the votes alone by EM.

Each lfkit rule always casts the same vote, so a rule is fully described by how often it
fires on rows of each true class (multiclass) or on rows with and without a tag (multilabel,
one binary model per tag, vectorised over all tags). Both firing and staying silent are
evidence, as in the naive-Bayes model; the difference is that EM infers the true labels
instead of reading them: it starts from the majority vote, then alternates between
estimating each rule's firing rates from the current soft labels (smoothed toward the
rule's overall rate) and re-scoring the rows, until the soft labels stop moving.

Multiclass, each rule has one coin (as in the one-coin Dawid-Skene model): one firing rate on
rows of the class it votes for, one on all other rows. A rule is only ever evidence for what
it says: a positive rule whose rate comes out lower among rows with its label than without
(or a negative rule the other way round) is treated as uninformative rather than inverted,
which keeps EM from drifting to a relabelled solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from lfkit._types import BoolArray, FloatArray
from lfkit.display import brief_repr
from lfkit.model.fuse import sigmoid, softmax
from lfkit.rules.ruleset import RuleSet

SMOOTHING = 2.0
"""Pseudo-rows that pull each firing rate toward the rule's overall rate."""
MAX_ITERATIONS = 200
TOLERANCE = 1e-5
"""EM stops when no row's probability moves by more than this."""
MIN_RULES = 3
"""Multilabel: EM models a tag only when at least this many of its rules fire somewhere (with
fewer, nothing can be learned about their reliability without labels); majority vote else."""
_EPS = 1e-6


@dataclass(frozen=True, eq=False)
class EmParameters:
    """Fitted parameters: score = prior + F @ weights.T + const, per label (see `em_logits`)."""

    __repr__ = brief_repr

    prior: FloatArray
    """Multiclass: log P(class), shape (n_labels,); multilabel: log-odds of each tag."""
    weights: FloatArray
    """(n_labels, n_rules): what a rule firing adds to a label's score (0 where it is silent)."""
    const: FloatArray
    """(n_labels,): what all rules staying silent add to a label's score."""
    iterations: int
    modelled: BoolArray
    """(n_labels,): the labels EM models; the others (multilabel: tags with fewer than
    MIN_RULES rules that fire) keep the majority vote, as Snorkel's minimum of 3 rules does."""


def fit_em(ruleset: RuleSet, fired: sparse.csr_array, start: FloatArray) -> EmParameters:
    """Fit the model by EM from starting probabilities `start` (n_rows, n_labels).

    `start` is usually the majority vote: P(class) per row summing to 1 (multiclass), or
    P(tag present) per row and tag (multilabel).
    """
    x = fired.astype(np.float64)
    rates = (np.asarray(x.sum(axis=0), dtype=np.float64).ravel() + 1.0) / (x.shape[0] + 2.0)
    mask = _rule_mask(ruleset)
    direction = _direction(ruleset)
    start = probs = np.clip(start, _EPS, 1 - _EPS)
    modelled = np.ones(len(ruleset.labels), dtype=bool)
    if ruleset.multilabel:
        fires = np.asarray(x.sum(axis=0)).ravel() > 0
        modelled = (mask[:, fires] > 0).sum(axis=1) >= MIN_RULES
    params = _m_step(ruleset, x, probs, rates, mask, direction, iterations=0, modelled=modelled)
    for iteration in range(1, MAX_ITERATIONS + 1):
        params = _m_step(
            ruleset, x, probs, rates, mask, direction, iterations=iteration, modelled=modelled
        )
        updated = np.where(modelled, em_probabilities(ruleset, params, x), start)
        moved = float(np.abs(updated - probs).max()) if updated.size else 0.0
        probs = updated
        if moved < TOLERANCE:
            break
    return params


def em_logits(params: EmParameters, fired: sparse.csr_array) -> FloatArray:
    """Return each row's score per label: log-odds (multilabel) or log-scores (multiclass)."""
    x = fired.astype(np.float64)
    return np.asarray(params.prior + x @ params.weights.T + params.const)


def em_probabilities(ruleset: RuleSet, params: EmParameters, fired: sparse.csr_array) -> FloatArray:
    """Return P(tag present) (multilabel) or P(class) (multiclass) per row."""
    logits = em_logits(params, fired)
    return sigmoid(logits) if ruleset.multilabel else softmax(logits)


def _rule_mask(ruleset: RuleSet) -> FloatArray:
    """Which rules speak about which label: a tag's own rules and its descendants' positives."""
    return ruleset.speaks_matrix.toarray()


def _direction(ruleset: RuleSet) -> FloatArray:
    """+1 where a rule firing should raise a label's score, -1 where it should lower it."""
    if not ruleset.multilabel:
        direction = -np.ones((len(ruleset.labels), len(ruleset)))
        direction[[rule.value for rule in ruleset.rules], np.arange(len(ruleset))] = 1.0
        return direction
    return np.tile(
        np.array([1.0 if rule.positive else -1.0 for rule in ruleset.rules]),
        (
            len(ruleset.labels),
            1,
        ),
    )


def _rate(counts: FloatArray, totals: FloatArray, rates: FloatArray) -> FloatArray:
    return np.clip((counts + SMOOTHING * rates) / (totals[:, None] + SMOOTHING), _EPS, 1 - _EPS)


def _m_step(
    ruleset: RuleSet,
    x: sparse.csr_array,
    probs: FloatArray,
    rates: FloatArray,
    mask: FloatArray,
    direction: FloatArray,
    *,
    iterations: int,
    modelled: BoolArray,
) -> EmParameters:
    n_rows = x.shape[0]
    on = _rate(np.asarray((x.T @ probs).T), probs.sum(axis=0), rates)
    if ruleset.multilabel:
        off = _rate(np.asarray((x.T @ (1.0 - probs)).T), (1.0 - probs).sum(axis=0), rates)
        prior = np.log(probs.sum(axis=0) + 1.0) - np.log(n_rows - probs.sum(axis=0) + 1.0)
    else:
        # one coin per rule: one firing rate on its own class, another on all other classes
        own = np.array([rule.value for rule in ruleset.rules], dtype=np.int64)
        rest = 1.0 - probs[:, own]
        off = np.asarray((x * rest).sum(axis=0)).ravel() + SMOOTHING * rates
        off = np.clip(off / (rest.sum(axis=0) + SMOOTHING), _EPS, 1 - _EPS)
        off = np.tile(off, (len(ruleset.labels), 1))
        mask = mask * (direction > 0)
        prior = np.log(probs.sum(axis=0) + 1.0) - np.log(n_rows + len(ruleset.labels))
    # a rule is evidence only in the direction it votes; otherwise it says nothing
    informative = mask * (np.sign(on - off) == direction)
    silent = informative * (np.log1p(-on) - np.log1p(-off))
    weights = informative * (np.log(on) - np.log(off)) - silent
    return EmParameters(prior, weights, silent.sum(axis=1), iterations, modelled)
