"""The audit: rank the (row, label) pairs whose existing label is probably wrong, with evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit._types import FloatArray, IntArray
from lfkit.audit.evidence import RuleMatch, rule_matches
from lfkit.data import check_frame
from lfkit.engine.apply import Votes, apply_rules
from lfkit.engine.text import as_text
from lfkit.errors import LfkitError
from lfkit.model.fit import LabelModel, base_rates, fit_label_model
from lfkit.model.fuse import Fusion, fit_fusion
from lfkit.model.naive_bayes import descendant_matrix, feature_mask
from lfkit.model.neighbours import NeighbourIndex, build_neighbours
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet

KINDS = ("missing", "spurious", "missing-parent")
CHUNK_ROWS = 10_000
"""Rows scored at a time: memory stays bounded whatever the size of the data."""
FIT_ROWS = 20_000
"""At most this many rows (a seeded sample) teach the fusion its weights."""
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

    Rows are scored in chunks of CHUNK_ROWS, so memory stays bounded on large data.

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
    elif votes.shape != (len(df), len(ruleset)):
        raise LfkitError(
            f"audit: votes have shape {votes.shape}, expected {(len(df), len(ruleset))}"
            " (one row per data row, one column per rule)"
        )
    scorer = fit_scorer(
        ruleset, df, votes, label_model=label_model, neighbours=neighbours, seed=seed, progress=say
    )
    say("scoring and ranking")
    find = _multilabel_candidates if ruleset.multilabel else _multiclass_candidates
    counts = np.zeros((len(ruleset.labels), len(KINDS)), dtype=np.int64)
    kept: list[Candidate] = []
    for start in range(0, len(df), CHUNK_ROWS):
        rows = np.arange(start, min(start + CHUNK_ROWS, len(df)))
        found = find(ruleset, scorer.score(rows), min_score, rows)
        for candidate in found:
            counts[candidate.label, KINDS.index(candidate.kind)] += 1
        kept = sorted(kept + found)[:top] if top is not None else kept + found
    kept.sort()
    per_label = {
        label: dict(zip(KINDS, map(int, counts[i]), strict=True))
        for i, label in enumerate(ruleset.labels)
        if counts[i].any()
    }
    speaks = feature_mask(ruleset)[:, : len(ruleset)] > 0
    descendants = descendant_matrix(ruleset)
    flags = tuple(
        _flag(ruleset, df, votes, scorer.y, speaks, descendants, candidate) for candidate in kept
    )
    fusion = scorer.fusion
    weights = (
        (1.0, 0.0, 0.0)
        if fusion is None
        else (fusion.rule_weight, fusion.neighbour_weight, fusion.bias)
    )
    return AuditReport(
        task.kind,
        len(df),
        ruleset.labels,
        label_model,
        neighbours,
        weights,
        min_score,
        flags,
        per_label,
    )


@dataclass(frozen=True, eq=False)
class LabelScores:
    """Probabilities of some rows' (row, label) pairs, before ranking; see `Scorer.score`."""

    given: np.ndarray
    """(n_rows, n_labels) bool: the existing labels."""
    probs: FloatArray
    """(n_rows, n_labels): P(label present), all evidence fused."""
    rule_probs: FloatArray
    neighbour_probs: FloatArray | None
    base: FloatArray
    """Each row's label base rates over the whole data, without the row's own labels."""
    multilabel: bool

    def error_scores(self) -> FloatArray:
        """Return, per pair, P(the existing label is wrong); see `error_scores`."""
        return error_scores(self.probs, self.given, multilabel=self.multilabel, base=self.base)


@dataclass(frozen=True, eq=False)
class Scorer:
    """Everything fitted on the whole data that scoring a chunk of rows needs."""

    ruleset: RuleSet
    y: sparse.csr_array
    model: LabelModel
    neighbours: NeighbourIndex | None
    fusion: Fusion | None

    def score(self, rows: IntArray) -> LabelScores:
        """Return the fused probabilities of these rows, each out-of-sample for its row."""
        rule_probs = self.model.fitted_proba(rows)
        probs, neighbour_probs = rule_probs, None
        if self.neighbours is not None and self.fusion is not None:
            neighbour_probs = self.neighbours.predict_proba(rows)
            probs = self.fusion.apply(rule_probs, neighbour_probs)
        base = base_rates(self.y, rows)
        return LabelScores(
            self.y[rows].toarray() > 0,
            probs,
            rule_probs,
            neighbour_probs,
            base,
            self.ruleset.multilabel,
        )


def fit_scorer(
    ruleset: RuleSet,
    df: pd.DataFrame,
    votes: Votes,
    *,
    label_model: str = "naive-bayes",
    neighbours: bool = True,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Scorer:
    """Fit the label model, the neighbour index and the fusion weights on the whole data.

    `df` must hold parsed labels (as `read_data` or `check_frame` return them).
    """
    task = ruleset.task
    say = progress or (lambda _: None)
    given = df[task.label_column].tolist()
    y = given_matrix(ruleset, given)
    say(f"fitting the {label_model} label model")
    model = fit_label_model(ruleset, votes, given, method=label_model, seed=seed)
    if not neighbours:
        return Scorer(ruleset, y, model, None, None)
    say("indexing similar rows")
    texts = df[list(task.text_columns)].map(as_text).agg(" ".join, axis=1)
    index = build_neighbours(texts, y, exclusive=not ruleset.multilabel, seed=seed)
    sample = np.arange(len(df))
    if len(sample) > FIT_ROWS:
        sample = np.sort(np.random.default_rng(seed).choice(len(df), FIT_ROWS, replace=False))
    fusion = fit_fusion(
        model.fitted_proba(sample),
        index.predict_proba(sample),
        y[sample].toarray(),
        multilabel=ruleset.multilabel,
        seed=seed,
    )
    return Scorer(ruleset, y, model, index, fusion)


def score_labels(
    ruleset: RuleSet,
    df: pd.DataFrame,
    votes: Votes,
    *,
    label_model: str = "naive-bayes",
    neighbours: bool = True,
    seed: int = 0,
) -> LabelScores:
    """Return the fused probabilities of every (row, label) pair (dense: for moderate data)."""
    scorer = fit_scorer(
        ruleset, df, votes, label_model=label_model, neighbours=neighbours, seed=seed
    )
    return scorer.score(np.arange(len(df)))


def error_scores(
    probs: FloatArray,
    y: np.ndarray,
    *,
    multilabel: bool,
    base: FloatArray | None = None,
    noise: float = NOISE,
) -> FloatArray:
    """Return, per (row, label), P(the existing label is wrong) under a simple noise model.

    Multilabel: a true tag is left out with probability `noise`, and a false tag t is added
    with rate noise * b_t / (1 - b_t) for base rate b_t (default: from `y`), so a tenth of
    given tags are wrong. Bayes' rule with the evidence P(present) = `probs` gives the score:
    for a given tag, that it is spurious; for an absent one, that it is missing. A rare tag
    with no evidence either way is thus not suspect merely for being rare.
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
    if base is None:
        base = (y.sum(axis=0) + 1.0) / (len(y) + 2.0)
    base = np.clip(base, 1e-9, 0.5)
    false_rate = np.clip(noise * base / (1.0 - base), 1e-9, 0.5)
    wrong_if_given = (1 - p) * false_rate / ((1 - p) * false_rate + p * (1 - noise))
    wrong_if_absent = p * noise / (p * noise + (1 - p) * (1 - false_rate))
    return np.asarray(np.where(y, wrong_if_given, wrong_if_absent))


class Candidate(NamedTuple):
    """A flag before its evidence; sorts best first (by -score, then row, then label)."""

    neg_score: float
    row: int
    label: int
    kind: str
    suggested: int | None
    probability: float
    rule_probability: float
    neighbour_probability: float | None


def suspicion(ruleset: RuleSet, scores: LabelScores) -> tuple[FloatArray, np.ndarray]:
    """Return the final score per (row, label) and which pairs are taxonomy gaps.

    On top of `error_scores`, the taxonomy is a hard constraint: a row whose child tag is right
    must also have the parent, so a missing parent scores at least the child's P(right).
    """
    y = scores.given
    suspect = scores.error_scores()
    if not ruleset.multilabel:
        return suspect, np.zeros_like(y)
    descendants = descendant_matrix(ruleset)
    child_right = np.where(y, 1.0 - suspect, 0.0)
    parent_needed = np.zeros_like(suspect)
    for parent in np.nonzero(descendants.any(axis=1))[0]:
        children = np.nonzero(descendants[parent])[0]
        parent_needed[:, parent] = child_right[:, children].max(axis=1)
    gap = ~y & (parent_needed > 0)
    return np.where(gap, np.maximum(suspect, parent_needed), suspect), gap


def _candidate(
    scores: LabelScores,
    rows: IntArray,
    i: int,
    label: int,
    kind: str,
    score: float,
    suggested: int | None,
) -> Candidate:
    neighbour = None if scores.neighbour_probs is None else float(scores.neighbour_probs[i, label])
    return Candidate(
        -score,
        int(rows[i]),
        int(label),
        kind,
        suggested,
        float(scores.probs[i, label]),
        float(scores.rule_probs[i, label]),
        neighbour,
    )


def _multilabel_candidates(
    ruleset: RuleSet, scores: LabelScores, min_score: float, rows: IntArray
) -> list[Candidate]:
    suspect, gap = suspicion(ruleset, scores)
    y = scores.given
    found = []
    for i, label in zip(*np.nonzero(suspect >= min_score), strict=True):
        kind = "spurious" if y[i, label] else ("missing-parent" if gap[i, label] else "missing")
        found.append(_candidate(scores, rows, i, label, kind, float(suspect[i, label]), None))
    return found


def _multiclass_candidates(
    ruleset: RuleSet, scores: LabelScores, min_score: float, rows: IntArray
) -> list[Candidate]:
    suspect = scores.error_scores()
    given = scores.given.argmax(axis=1)
    wrong = suspect[np.arange(len(given)), given]
    suggested = np.where(scores.given, -1.0, suspect).argmax(axis=1)
    found = []
    for i in np.nonzero(wrong >= min_score)[0]:
        label, other = int(given[i]), int(suggested[i])
        found.append(_candidate(scores, rows, i, label, "spurious", float(wrong[i]), other))
        if suspect[i, other] >= min_score:
            found.append(
                _candidate(scores, rows, i, other, "missing", float(suspect[i, other]), label)
            )
    return found


def _flag(
    ruleset: RuleSet,
    df: pd.DataFrame,
    votes: Votes,
    y: sparse.csr_array,
    speaks: np.ndarray,
    descendants: np.ndarray,
    candidate: Candidate,
) -> Flag:
    """Gather the evidence of one flag; `speaks` and `descendants` as in `feature_mask` and
    `descendant_matrix`."""
    row, label_index = candidate.row, candidate.label
    task, label = ruleset.task, ruleset.labels[label_index]
    given = y[[row]].toarray()[0] > 0
    record = {column: df.at[row, column] for column in task.text_columns}
    columns = votes.fired[[row]].indices
    fired = [ruleset.rules[column] for column in columns]
    if ruleset.multilabel:
        relevant = [ruleset.rules[c] for c in columns if speaks[label_index, c]]
        supporting = [rule for rule in relevant if rule.positive]
        opposing = [rule for rule in relevant if not rule.positive]
        children = tuple(ruleset.labels[c] for c in np.nonzero(descendants[label_index] * given)[0])
    else:
        supporting = [rule for rule in fired if rule.value == label_index]
        opposing = [rule for rule in fired if rule.value != label_index]
        children = ()
    return Flag(
        id=df.at[row, task.id_column],
        row=row,
        label=label,
        kind=candidate.kind,
        score=-candidate.neg_score,
        probability=candidate.probability,
        rule_probability=candidate.rule_probability,
        neighbour_probability=candidate.neighbour_probability,
        given=tuple(ruleset.labels[c] for c in np.nonzero(given)[0]),
        rules_for=rule_matches(supporting, record),
        rules_against=rule_matches(opposing, record),
        children=children,
        suggestion=None if candidate.suggested is None else ruleset.labels[candidate.suggested],
        texts={column: as_text(value) for column, value in record.items()},
    )
