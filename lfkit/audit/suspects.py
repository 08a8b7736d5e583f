"""The audit: rank the (row, label) pairs whose existing label is probably wrong, with evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lfkit._types import FloatArray
from lfkit.audit.evidence import RuleMatch, rule_matches
from lfkit.data import check_frame
from lfkit.engine.apply import Votes, apply_rules
from lfkit.engine.text import as_text
from lfkit.model.fit import fit_label_model
from lfkit.model.fuse import fuse_multiclass, fuse_multilabel
from lfkit.model.naive_bayes import feature_mask
from lfkit.model.neighbours import neighbour_probabilities, text_vectors
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet

KINDS = ("missing", "spurious", "missing-parent")
Candidate = tuple[int, int, str, float, int | None]
"""(row, label index, kind, score, suggested label index) of a flag before its evidence."""
NOISE = 0.1
"""Prior share of existing labels that are wrong (multilabel: of given tags, and of true tags
that are missing), before any evidence; see docs/audit.md."""


@dataclass(frozen=True)
class Flag:
    """One (row, label) pair whose existing label is probably wrong."""

    id: Any
    row: int
    label: str
    kind: str
    """'missing' (should be there), 'spurious' (should not), or 'missing-parent' (a child
    tag is there but this parent is not)."""
    score: float
    """How confident lfkit is that the existing label is wrong, in [0, 1]."""
    probability: float
    """P(label present) after fusing all evidence."""
    rule_probability: float
    neighbour_probability: float | None
    given: tuple[str, ...]
    rules_for: tuple[RuleMatch, ...]
    rules_against: tuple[RuleMatch, ...]
    children: tuple[str, ...]
    suggestion: str | None
    texts: dict[str, str] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON Lines record of this flag (documented in docs/audit.md)."""
        row_id = self.id.item() if hasattr(self.id, "item") else self.id
        return {
            "id": row_id,
            "label": self.label,
            "kind": self.kind,
            "score": round(self.score, 6),
            "evidence": {
                "probability": round(self.probability, 6),
                "rule_probability": round(self.rule_probability, 6),
                "neighbour_probability": None
                if self.neighbour_probability is None
                else round(self.neighbour_probability, 6),
                "rules_for": [match.to_dict(self.texts) for match in self.rules_for],
                "rules_against": [match.to_dict(self.texts) for match in self.rules_against],
                "children_present": list(self.children),
                "given": list(self.given),
                "suggestion": self.suggestion,
            },
            "text": self.texts,
        }


@dataclass(frozen=True)
class AuditReport:
    """The ranked flags of an audit, with per-label counts and how they were found."""

    kind: str
    n_rows: int
    labels: tuple[str, ...]
    label_model: str
    neighbours: bool
    fusion: tuple[float, float, float]
    min_score: float
    flags: tuple[Flag, ...]
    counts: dict[str, dict[str, int]]
    """Per label, the number of flags of each kind at or above min_score (before --top)."""

    @property
    def n_flags(self) -> int:
        """Return how many flags scored at or above min_score (before --top)."""
        return sum(sum(kinds.values()) for kinds in self.counts.values())


def audit_labels(
    ruleset: RuleSet,
    df: pd.DataFrame,
    *,
    label_model: str = "naive-bayes",
    neighbours: bool = True,
    min_score: float = 0.5,
    top: int | None = None,
    seed: int = 0,
    votes: Votes | None = None,
    progress: Callable[[str], None] | None = None,
) -> AuditReport:
    """Apply the rules, fit the label model, fuse neighbour evidence and rank suspect labels.

    Raises
    ------
    DataError
        When the DataFrame lacks the id, text or label columns, or a label does not parse.
    """
    task = ruleset.task
    say = progress or (lambda _: None)
    df = check_frame(
        df, task, columns=[task.id_column, *task.text_columns, task.label_column], source="audit"
    )
    if votes is None:
        say("applying rules")
        votes = apply_rules(ruleset, df)
    scores = score_labels(
        ruleset, df, votes, label_model=label_model, neighbours=neighbours, seed=seed, progress=say
    )
    say("ranking flags")
    candidates = (_multilabel_candidates if ruleset.multilabel else _multiclass_candidates)(
        ruleset, scores, min_score
    )
    counts: dict[str, dict[str, int]] = {}
    for _, label_index, kind, _, _ in candidates:
        label_counts = counts.setdefault(ruleset.labels[label_index], dict.fromkeys(KINDS, 0))
        label_counts[kind] += 1
    shown = candidates[:top] if top is not None else candidates
    flags = tuple(_flag(ruleset, df, votes, scores, c) for c in shown)
    return AuditReport(
        task.kind,
        len(df),
        ruleset.labels,
        label_model,
        neighbours,
        scores.fusion,
        min_score,
        flags,
        counts,
    )


@dataclass(frozen=True, eq=False)
class LabelScores:
    """Every (row, label) pair's probabilities, before ranking; see `score_labels`."""

    given: np.ndarray
    """(n_rows, n_labels) bool: the existing labels."""
    probs: FloatArray
    """(n_rows, n_labels): P(label present), all evidence fused."""
    rule_probs: FloatArray
    neighbour_probs: FloatArray | None
    fusion: tuple[float, float, float]
    multilabel: bool

    def error_scores(self) -> FloatArray:
        """Return, per pair, P(the existing label is wrong); see `error_scores`."""
        return error_scores(self.probs, self.given, multilabel=self.multilabel)


def score_labels(
    ruleset: RuleSet,
    df: pd.DataFrame,
    votes: Votes,
    *,
    label_model: str = "naive-bayes",
    neighbours: bool = True,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> LabelScores:
    """Return the fused probability of every (row, label) pair, each out-of-sample for its row.

    `df` must hold parsed labels (as `read_data` or `check_frame` return them).
    """
    task = ruleset.task
    say = progress or (lambda _: None)
    given = df[task.label_column].tolist()
    y = given_matrix(ruleset, given)
    say(f"fitting the {label_model} label model")
    rule_probs = fit_label_model(ruleset, votes, given, method=label_model, seed=seed).probs
    probs, neighbour_probs, fusion = rule_probs, None, (1.0, 0.0, 0.0)
    if neighbours:
        say("finding similar rows")
        texts = df[list(task.text_columns)].map(as_text).agg(" ".join, axis=1)
        neighbour_probs = neighbour_probabilities(
            text_vectors(texts), y, exclusive=not ruleset.multilabel, seed=seed
        )
        if ruleset.multilabel:
            probs, fusion = fuse_multilabel(rule_probs, neighbour_probs, y, seed=seed)
        else:
            probs, fusion = fuse_multiclass(rule_probs, neighbour_probs, y)
    return LabelScores(
        y.toarray() > 0, probs, rule_probs, neighbour_probs, fusion, ruleset.multilabel
    )


def error_scores(
    probs: FloatArray, y: np.ndarray, *, multilabel: bool, noise: float = NOISE
) -> FloatArray:
    """Return, per (row, label), P(the existing label is wrong) under a simple noise model.

    Multilabel: a true tag is left out with probability `noise`, and a false tag t is added
    with rate noise * b_t / (1 - b_t) for base rate b_t (so a tenth of given tags are wrong).
    Bayes' rule with the evidence P(present) = `probs` gives the score: for a given tag, that
    it is spurious; for an absent one, that it is missing. A rare tag with no evidence either
    way is thus not suspect merely for being rare.
    Multiclass: the given class is wrong with probability `noise`, toward any other class
    alike; the given class's column holds P(wrong) and each other column P(it is the class).

    Examples
    --------
    >>> y = np.array([[True, False], [False, False]])
    >>> error_scores(np.full((2, 2), 0.5), y, multilabel=True).round(3).tolist()
    [[0.1, 0.094], [0.1, 0.094]]
    >>> y = np.array([[True, False, False]])
    >>> error_scores(np.array([[0.2, 0.7, 0.1]]), y, multilabel=False).round(3).tolist()
    [[0.182, 0.159, 0.023]]
    """
    p = np.clip(probs, 1e-9, 1 - 1e-9)
    if not multilabel:
        flips = noise / max(y.shape[1] - 1, 1)
        posterior = p * np.where(y, 1 - noise, flips)
        posterior /= posterior.sum(axis=1, keepdims=True)
        return np.asarray(np.where(y, 1 - posterior, posterior))
    base = np.clip((y.sum(axis=0) + 1.0) / (len(y) + 2.0), 1e-9, 0.5)
    false_rate = np.clip(noise * base / (1.0 - base), 1e-9, 0.5)
    wrong_if_given = (1 - p) * false_rate / ((1 - p) * false_rate + p * (1 - noise))
    wrong_if_absent = p * noise / (p * noise + (1 - p) * (1 - false_rate))
    return np.asarray(np.where(y, wrong_if_given, wrong_if_absent))


def suspicion(ruleset: RuleSet, scores: LabelScores) -> tuple[FloatArray, np.ndarray]:
    """Return the final score per (row, label) and which pairs are taxonomy gaps.

    On top of `error_scores`, the taxonomy is a hard constraint: a row whose child tag is right
    must also have the parent, so a missing parent scores at least the child's P(right).
    """
    y = scores.given
    suspect = scores.error_scores()
    if not ruleset.multilabel:
        return suspect, np.zeros_like(y)
    descendants = _descendant_matrix(ruleset)
    child_right = np.where(y, 1.0 - suspect, 0.0)
    parent_needed = np.zeros_like(suspect)
    for parent in np.nonzero(descendants.any(axis=1))[0]:
        children = np.nonzero(descendants[parent])[0]
        parent_needed[:, parent] = child_right[:, children].max(axis=1)
    gap = ~y & (parent_needed > 0)
    return np.where(gap, np.maximum(suspect, parent_needed), suspect), gap


def _multilabel_candidates(
    ruleset: RuleSet, scores: LabelScores, min_score: float
) -> list[Candidate]:
    suspect, gap = suspicion(ruleset, scores)
    y = scores.given
    rows, labels = np.nonzero(suspect >= min_score)
    order = np.lexsort((labels, rows, -suspect[rows, labels]))
    candidates = []
    for row, label in zip(rows[order], labels[order], strict=True):
        kind = "spurious" if y[row, label] else ("missing-parent" if gap[row, label] else "missing")
        candidates.append((int(row), int(label), kind, float(suspect[row, label]), None))
    return candidates


def _multiclass_candidates(
    ruleset: RuleSet, label_scores: LabelScores, min_score: float
) -> list[Candidate]:
    y = label_scores.given
    scores = label_scores.error_scores()
    given = y.argmax(axis=1)
    rows = np.arange(len(given))
    wrong = scores[rows, given]
    suggested = np.where(y, -1.0, scores).argmax(axis=1)
    candidates: list[Candidate] = []
    for row in np.nonzero(wrong >= min_score)[0]:
        label, other = int(given[row]), int(suggested[row])
        candidates.append((int(row), label, "spurious", float(wrong[row]), other))
        if scores[row, other] >= min_score:
            candidates.append((int(row), other, "missing", float(scores[row, other]), label))
    return sorted(candidates, key=lambda candidate: (-candidate[3], candidate[0], candidate[1]))


def _descendant_matrix(ruleset: RuleSet) -> np.ndarray:
    """Return (n_labels, n_labels) 0/1 with [a, c] = 1 when c is a descendant of a."""
    index = {label: i for i, label in enumerate(ruleset.labels)}
    matrix = np.zeros((len(index), len(index)), dtype=np.int32)
    for label in ruleset.labels:
        for ancestor in ruleset.ancestors(label):
            matrix[index[ancestor], index[label]] = 1
    return matrix


def _flag(
    ruleset: RuleSet, df: pd.DataFrame, votes: Votes, scores: LabelScores, candidate: Candidate
) -> Flag:
    row, label_index, kind, score, suggested = candidate
    y, probs, neighbour_probs = scores.given, scores.probs, scores.neighbour_probs
    task, label = ruleset.task, ruleset.labels[label_index]
    record = {column: df.at[row, column] for column in task.text_columns}
    fired = [ruleset.rules[column] for column in votes.fired[[row]].indices]
    if ruleset.multilabel:
        speaks = feature_mask(ruleset)[label_index, : len(ruleset)]
        index = {rule.name: column for column, rule in enumerate(ruleset.rules)}
        relevant = [rule for rule in fired if speaks[index[rule.name]]]
        supporting = [rule for rule in relevant if rule.positive]
        opposing = [rule for rule in relevant if not rule.positive]
        descendants = _descendant_matrix(ruleset)[label_index]
        children = tuple(ruleset.labels[c] for c in np.nonzero(descendants * y[row])[0])
    else:
        supporting = [rule for rule in fired if rule.value == label_index]
        opposing = [rule for rule in fired if rule.value != label_index]
        children = ()
    return Flag(
        id=df.at[row, task.id_column],
        row=row,
        label=label,
        kind=kind,
        score=score,
        probability=float(probs[row, label_index]),
        rule_probability=float(scores.rule_probs[row, label_index]),
        neighbour_probability=None
        if neighbour_probs is None
        else float(neighbour_probs[row, label_index]),
        given=tuple(ruleset.labels[c] for c in np.nonzero(y[row])[0]),
        rules_for=rule_matches(supporting, record),
        rules_against=rule_matches(opposing, record),
        children=children,
        suggestion=None if suggested is None else ruleset.labels[suggested],
        texts={column: as_text(value) for column, value in record.items()},
    )
