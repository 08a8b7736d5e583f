"""Snorkel's LabelModel behind lfkit's label-model interface: fit, predict, save without pickle.

Multiclass: one `snorkel.labeling.model.LabelModel` over all rules. Multilabel (Snorkel is
multiclass only): one binary LabelModel per tag with at least SNORKEL_MIN_RULES rules that
speak about it and fire somewhere (a child's positive vote counts for its parents); the other
tags and the rows none of a tag's rules voted on keep the majority vote. A fitted model is
kept as its parameters (`mu`, the class balance `p`, the rule columns) and rebuilt as a real
Snorkel object when loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lfkit._types import ABSTAIN, FloatArray, IntArray, LabelMatrix
from lfkit.display import brief_repr
from lfkit.rules.ruleset import RuleSet

SNORKEL_MIN_RULES = 3
"""Snorkel's LabelModel needs at least 3 labeling functions; with fewer, majority vote."""
EPOCHS_MULTICLASS = 100
"""Snorkel's default; on the 4-class data 500 epochs labelled held-out rows slightly worse."""
EPOCHS_PER_TAG = 200


@dataclass(frozen=True, eq=False)
class SnorkelPart:
    """One fitted Snorkel LabelModel: which label it serves (-1: all classes), on which rules."""

    __repr__ = brief_repr

    label: int
    columns: IntArray
    model: Any
    """The `snorkel.labeling.model.LabelModel`."""

    def parameters(self) -> dict[str, FloatArray | IntArray]:
        """Return what rebuilds this part: the rule columns, `mu` and the class balance."""
        return {
            "columns": self.columns,
            "mu": self.model.mu.detach().cpu().numpy().astype(np.float64),
            "p": np.asarray(self.model.p, dtype=np.float64),
        }


def fit_snorkel(ruleset: RuleSet, matrix: LabelMatrix, *, seed: int) -> list[SnorkelPart]:
    """Fit Snorkel's LabelModel(s) on the dense label matrix (none if too few rules)."""
    from snorkel.labeling.model import LabelModel

    if not ruleset.multilabel:
        if len(ruleset) < SNORKEL_MIN_RULES:
            return []
        model = LabelModel(cardinality=len(ruleset.labels), verbose=False)
        model.fit(matrix, n_epochs=EPOCHS_MULTICLASS, seed=seed, progress_bar=False)
        return [SnorkelPart(-1, np.arange(len(ruleset)), model)]
    parts = []
    mask = ruleset.speaks_matrix
    for label_index in range(len(ruleset.labels)):
        columns = mask[[label_index]].indices
        columns = columns[(matrix[:, columns] != ABSTAIN).any(axis=0)]
        if len(columns) < SNORKEL_MIN_RULES:
            continue
        model = LabelModel(cardinality=2, verbose=False)
        model.fit(_binary(matrix, columns), n_epochs=EPOCHS_PER_TAG, seed=seed, progress_bar=False)
        parts.append(SnorkelPart(label_index, columns, model))
    return parts


def predict_snorkel(
    parts: list[SnorkelPart], matrix: LabelMatrix, fallback: FloatArray
) -> FloatArray:
    """Return the probabilities of these rows: each part's where its rules voted, else fallback."""
    probs = np.array(fallback, dtype=np.float64, copy=True)
    for part in parts:
        if part.label < 0:
            return np.asarray(part.model.predict_proba(matrix), dtype=np.float64)
        sub = _binary(matrix, part.columns)
        covered = (sub != ABSTAIN).any(axis=1)
        if covered.any():
            probs[covered, part.label] = part.model.predict_proba(sub[covered])[:, 1]
    return probs


def rebuild_part(label: int, columns: IntArray, mu: FloatArray, p: FloatArray) -> SnorkelPart:
    """Return a part whose Snorkel LabelModel has these parameters (as after `fit`)."""
    import torch
    from snorkel.labeling.model import LabelModel

    model = LabelModel(cardinality=len(p), verbose=False)
    model.m = len(columns)
    model._create_tree()  # the clique tree `fit` builds; no dependencies between rules
    model.mu = torch.nn.Parameter(torch.from_numpy(np.asarray(mu, dtype=np.float32)))
    model.p = np.asarray(p, dtype=np.float64)
    return SnorkelPart(label, np.asarray(columns, dtype=np.int64), model)


def _binary(matrix: LabelMatrix, columns: IntArray) -> LabelMatrix:
    """Return these columns with every vote mapped to 0/1 (a descendant's positive counts)."""
    sub = matrix[:, columns].copy()
    sub[sub > 0] = 1
    return sub
