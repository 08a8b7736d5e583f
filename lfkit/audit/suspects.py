"""The audit: rank the (row, label) pairs whose existing label is probably wrong, with evidence,
and report taxonomy gaps as findings and unused labels as candidates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from lfkit._types import FloatArray, IntArray
from lfkit.audit.evidence import RuleMatch, rule_matches
from lfkit.audit.findings import Finding, TaxonomyCheck, add_gaps, apply_taxonomy, collect_findings
from lfkit.audit.scores import LabelScores, Scorer, default_threshold, fit_scorer, score_labels
from lfkit.data import check_frame
from lfkit.engine.apply import apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import LfkitError
from lfkit.model.naive_bayes import descendant_matrix, feature_mask
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.text import as_text

__all__ = ["AuditReport", "Finding", "Flag", "LabelScores", "audit_labels", "score_labels"]

KINDS = ("missing", "spurious", "candidate")
CHUNK_ROWS = 10_000
"""Rows scored at a time: memory stays bounded whatever the size of the data."""
FEW_ROWS = 2
"""A label on fewer rows than this is new or unused: the existing labels cannot teach how
reliable its rules are, so its rule hits become `candidate` flags instead."""


@dataclass(frozen=True)
class Flag:
    """One (row, label) pair whose existing label is probably wrong (or, `candidate`, a label
    with too few rows yet whose rule fires here)."""

    id: Any
    row: int
    label: str
    kind: str
    """'missing' (should be there), 'spurious' (should not; multiclass: the row's class, with
    the suggested class in `suggestion`), or 'candidate' (a new or unused label may apply)."""
    score: float
    """P(the existing label is wrong), in [0, 1]; candidates: P(the label applies), from
    the pooled precision of the rule set's rules."""
    probability: float
    """P(label present) after fusing all evidence."""
    rule_probability: float
    neighbour_probability: float | None
    given: tuple[str, ...]
    rules_for: tuple[RuleMatch, ...]
    rules_against: tuple[RuleMatch, ...]
    children: tuple[str, ...]
    """Descendant tags the row has (for a flag on a parent)."""
    suggestion: str | None
    texts: dict[str, str] = field(repr=False)
    classifier_probability: float | None = None
    """The out-of-fold text classifier's estimate, clipped to [0, 1]."""
    child_probabilities: tuple[float, ...] = ()
    """P(each of `children` is right), in the same order."""
    noise: float | None = None
    """The estimated share of this label's existing values that are wrong (multilabel:
    missing flags, of true tags left out; spurious flags, of given tags)."""

    def reasons(self) -> list[str]:
        """Return what moved the score, one short sentence per evidence source."""
        out = []
        if self.rules_for:
            out.append("rules for: " + ", ".join(_rule_text(self, m) for m in self.rules_for[:3]))
        if self.rules_against:
            out.append(
                "rules against: " + ", ".join(_rule_text(self, m) for m in self.rules_against[:3])
            )
        if not self.rules_for and not self.rules_against:
            out.append(f"no rule fired for or against it (rules alone {self.rule_probability:.0%})")
        else:
            out.append(f"rules {self.rule_probability:.0%}")
        if self.neighbour_probability is not None:
            out.append(f"similar rows {self.neighbour_probability:.0%}")
        if self.classifier_probability is not None:
            out.append(f"classifier {self.classifier_probability:.0%}")
        if self.children:
            pairs = zip(self.children, self.child_probabilities, strict=False)
            out.append(
                "taxonomy: has child "
                + ", ".join(f"{child} ({right:.0%} right)" for child, right in pairs)
            )
        if self.suggestion:
            out.append(f"suggests {self.suggestion}")
        if self.noise is not None and self.kind != "candidate":
            out.append(f"~{self.noise:.1%} of '{self.label}' labels estimated wrong")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON Lines record of this flag (documented in docs/audit.md)."""
        row_id = self.id.item() if hasattr(self.id, "item") else self.id

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return {
            "type": "flag",
            "id": row_id,
            "label": self.label,
            "kind": self.kind,
            "score": round(self.score, 6),
            "why": self.reasons(),
            "evidence": {
                "probability": round(self.probability, 6),
                "rule_probability": round(self.rule_probability, 6),
                "neighbour_probability": rounded(self.neighbour_probability),
                "classifier_probability": rounded(self.classifier_probability),
                "noise": rounded(self.noise),
                "rules_for": [match.to_dict(self.texts) for match in self.rules_for],
                "rules_against": [match.to_dict(self.texts) for match in self.rules_against],
                "children_present": list(self.children),
                "children_probability": [round(p, 6) for p in self.child_probabilities],
                "given": list(self.given),
                "suggestion": self.suggestion,
            },
            "text": self.texts,
        }


def _rule_text(flag: Flag, match: RuleMatch) -> str:
    quoted = "/".join(f'"{word}"' for word in match.words(flag.texts)[:2])
    target = "" if match.label == flag.label else f" ({match.label})"
    return f"{match.rule}{target} {quoted}".strip()


@dataclass(frozen=True)
class AuditReport:
    """The ranked flags of an audit, per-label counts, taxonomy findings and new labels."""

    kind: str
    n_rows: int
    labels: tuple[str, ...]
    label_model: str
    neighbours: bool
    fusion: dict[str, float]
    """The learned weight of each evidence source, and the bias ("bias")."""
    min_score: float
    """The threshold applied (chosen from the data unless given)."""
    flags: tuple[Flag, ...]
    counts: dict[str, dict[str, int]]
    """Per label, the number of flags of each kind at or above min_score (before --top)."""
    findings: tuple[Finding, ...] = ()
    """Taxonomy gaps: (child, parent) pairs with the rows that have the child, not the parent."""
    new_labels: tuple[tuple[str, int, int], ...] = ()
    """(label, rows with it, rows where its rules fire) for labels on fewer than FEW_ROWS rows
    whose rules fire."""
    unused_labels: int = 0
    """How many labels are on fewer than FEW_ROWS rows (whether their rules fire or not)."""
    classifier: bool = False
    auto_threshold: bool = False
    noise: dict[str, float] = field(default_factory=dict)
    """The pooled noise rates ("missing", "spurious"; multiclass: "wrong")."""

    @property
    def n_flags(self) -> int:
        """Return how many flags scored at or above min_score (before --top)."""
        return sum(sum(kinds.values()) for kinds in self.counts.values())


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
    classifier_probability: float | None
    children: tuple[tuple[int, float], ...]


def audit_labels(
    ruleset: RuleSet,
    df: pd.DataFrame,
    *,
    label_model: str = "naive-bayes",
    neighbours: bool = True,
    classifier: bool = True,
    min_score: float | None = None,
    top: int | None = None,
    seed: int = 0,
    votes: Votes | None = None,
    progress: Callable[[str], None] | None = None,
) -> AuditReport:
    """Apply the rules, fit the evidence and the noise model, and rank suspect labels.

    `min_score` None flags as many pairs as the scores say are wrong, the most suspect first
    (see `default_threshold`). Rows are scored in chunks of CHUNK_ROWS, so memory stays bounded.

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
        ruleset,
        df,
        votes,
        label_model=label_model,
        neighbours=neighbours,
        classifier=classifier,
        seed=seed,
        progress=say,
    )
    say("scoring and ranking")
    news = _NewLabels.of(ruleset, scorer, votes)
    auto = min_score is None
    if min_score is None:
        sample_scores = scorer.score(scorer.sample)
        min_score = default_threshold(_row_errors(ruleset, sample_scores, news.few)[0])
    counts = np.zeros((len(ruleset.labels), len(KINDS)), dtype=np.int64)
    kept: list[Candidate] = []
    gaps: dict[tuple[int, int], list[tuple[int, Any, float]]] = {}
    ids = df[task.id_column].tolist()
    for start in range(0, len(df), CHUNK_ROWS):
        rows = np.arange(start, min(start + CHUNK_ROWS, len(df)))
        scores = scorer.score(rows)
        wrong, check = _row_errors(ruleset, scores, news.few)
        add_gaps(gaps, check, rows, ids[start : start + len(rows)])
        found = _candidates(ruleset, scores, wrong, check, min_score, rows)
        found += news.candidates(scorer, votes, rows, min_score)
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
        _flag(ruleset, df, votes, scorer, speaks, descendants, candidate) for candidate in kept
    )
    fusion = scorer.fusion
    weights = dict(zip(fusion.sources, fusion.weights, strict=True))
    weights["bias"] = float(np.mean(fusion.bias))
    noise = (
        {"missing": fusion.pooled[0], "spurious": fusion.pooled[1]}
        if ruleset.multilabel
        else {"wrong": fusion.pooled[0]}
    )
    return AuditReport(
        task.kind,
        len(df),
        ruleset.labels,
        label_model,
        neighbours,
        weights,
        float(min_score),
        flags,
        per_label,
        findings=collect_findings(ruleset, gaps),
        new_labels=news.summary(ruleset),
        unused_labels=int(news.few.sum()),
        classifier=classifier,
        auto_threshold=auto,
        noise=noise,
    )


def _row_errors(
    ruleset: RuleSet, scores: LabelScores, few: np.ndarray
) -> tuple[FloatArray, TaxonomyCheck]:
    """Return each row's flaggable error scores (multilabel: per pair, taxonomy applied and
    new labels left to candidates; multiclass: per row, its class) and the taxonomy check."""
    wrong = scores.error_scores()
    if ruleset.multilabel:
        wrong[:, few] = 0.0
    check = apply_taxonomy(ruleset, scores.given, wrong)
    if ruleset.multilabel:
        return check.wrong, check
    given = scores.given.argmax(axis=1)
    return wrong[np.arange(len(given)), given], check


def _candidate(
    scores: LabelScores,
    rows: IntArray,
    i: int,
    label: int,
    kind: str,
    score: float,
    suggested: int | None = None,
    children: tuple[tuple[int, float], ...] = (),
) -> Candidate:
    neighbour = None if scores.neighbour_probs is None else float(scores.neighbour_probs[i, label])
    model = scores.classifier_scores
    clf = None if model is None else float(np.clip(model[i, label], 0.0, 1.0))
    return Candidate(
        -score,
        int(rows[i]),
        int(label),
        kind,
        suggested,
        float(scores.probs[i, label]),
        float(scores.rule_probs[i, label]),
        neighbour,
        clf,
        children,
    )


def _candidates(
    ruleset: RuleSet,
    scores: LabelScores,
    wrong: FloatArray,
    check: TaxonomyCheck,
    min_score: float,
    rows: IntArray,
) -> list[Candidate]:
    y = scores.given
    found = []
    if not ruleset.multilabel:
        errors = scores.error_scores()
        suggested = np.where(y, -1.0, errors).argmax(axis=1)
        given = y.argmax(axis=1)
        for i in np.nonzero(wrong >= min_score)[0]:
            found.append(
                _candidate(
                    scores, rows, i, int(given[i]), "spurious", float(wrong[i]), int(suggested[i])
                )
            )
        return found
    raw = scores.error_scores()
    descendants = descendant_matrix(ruleset) > 0
    for i, label in zip(*np.nonzero(wrong >= min_score), strict=True):
        children: tuple[tuple[int, float], ...] = ()
        if y[i, label]:
            below = np.nonzero(descendants[label] & y[i])[0]
            children = tuple((int(c), float(1.0 - raw[i, c])) for c in below)
        kind = "spurious" if y[i, label] else "missing"
        found.append(
            _candidate(scores, rows, i, label, kind, float(wrong[i, label]), children=children)
        )
    return found


@dataclass(frozen=True, eq=False)
class _NewLabels:
    """Labels on fewer than FEW_ROWS rows, the rules that speak for them, and how precise the
    rule set's positive rules are on the labels the data do teach."""

    few: np.ndarray
    """(n_labels,) bool."""
    support: np.ndarray
    """(n_labels, n_rules) bool: the positive rules that vote for each label."""
    precision: float
    present: np.ndarray
    """(n_labels,) rows with each label."""
    hits: np.ndarray
    """(n_labels,) rows where a rule for the label fires."""

    @staticmethod
    def of(ruleset: RuleSet, scorer: Scorer, votes: Votes) -> _NewLabels:
        y = scorer.y
        present = np.asarray(y.sum(axis=0)).ravel()
        few = present < FEW_ROWS
        if ruleset.multilabel:
            positive = np.array([rule.positive for rule in ruleset.rules], dtype=bool)
            support = (feature_mask(ruleset)[:, : len(ruleset)] > 0) & positive
        else:
            support = np.zeros((len(ruleset.labels), len(ruleset)), dtype=bool)
            support[[rule.value for rule in ruleset.rules], np.arange(len(ruleset))] = True
        fired = votes.fired.astype(np.float64)
        hits = np.asarray((fired @ support.T.astype(np.float64)) > 0).sum(axis=0)
        own = np.array([ruleset.labels.index(rule.label) for rule in ruleset.rules])
        agree = np.asarray((fired.T @ y.astype(np.float64)).toarray())[np.arange(len(own)), own]
        fired_count = np.asarray(fired.sum(axis=0)).ravel()
        taught = ~few[own] & support[own, np.arange(len(own))]
        total = fired_count[taught].sum()
        precision = float(agree[taught].sum() / total) if total else 0.5
        return _NewLabels(few, support, precision, present, np.asarray(hits).ravel())

    def candidates(
        self, scorer: Scorer, votes: Votes, rows: IntArray, min_score: float
    ) -> list[Candidate]:
        """Return the candidate flags of these rows: a rule for a new label fires."""
        labels = np.nonzero(self.few)[0]
        if not len(labels):
            return []
        fired = votes.fired[rows].astype(np.float64)
        n_rules = np.asarray(fired @ self.support[labels].T.astype(np.float64))
        given = scorer.y[rows].toarray() > 0
        score = 1.0 - (1.0 - self.precision) ** n_rules
        # a row with a descendant tag already needs the label: a taxonomy gap (a finding)
        gap = (given.astype(np.float64) @ descendant_matrix(scorer.ruleset)[labels].T) > 0
        hit = (n_rules > 0) & ~given[:, labels] & ~gap & (score >= min_score)
        if not hit.any():
            return []
        chosen = np.nonzero(hit.any(axis=1))[0]
        scores = scorer.score(rows[chosen])
        position = {int(i): k for k, i in enumerate(chosen)}
        return [
            _candidate(
                scores,
                rows[chosen],
                position[int(i)],
                int(labels[j]),
                "candidate",
                float(score[i, j]),
            )
            for i, j in zip(*np.nonzero(hit), strict=True)
        ]

    def summary(self, ruleset: RuleSet) -> tuple[tuple[str, int, int], ...]:
        """Return (label, rows with it, rows its rules fire on) for new labels whose rules
        fire, most hits first."""
        found = [
            (ruleset.labels[i], int(self.present[i]), int(self.hits[i]))
            for i in np.nonzero(self.few & (self.hits > 0))[0]
        ]
        return tuple(sorted(found, key=lambda item: (-item[2], item[0])))


def _flag(
    ruleset: RuleSet,
    df: pd.DataFrame,
    votes: Votes,
    scorer: Scorer,
    speaks: np.ndarray,
    descendants: np.ndarray,
    candidate: Candidate,
) -> Flag:
    """Gather the evidence of one flag; `speaks` and `descendants` as in `feature_mask` and
    `descendant_matrix`."""
    row, label_index = candidate.row, candidate.label
    task, label = ruleset.task, ruleset.labels[label_index]
    given = scorer.y[[row]].toarray()[0] > 0
    record = {column: df.at[row, column] for column in task.text_columns}
    columns = votes.fired[[row]].indices
    fired = [ruleset.rules[column] for column in columns]
    if ruleset.multilabel:
        relevant = [ruleset.rules[c] for c in columns if speaks[label_index, c]]
        supporting = [rule for rule in relevant if rule.positive]
        opposing = [rule for rule in relevant if not rule.positive]
    else:
        supporting = [rule for rule in fired if rule.value == label_index]
        opposing = [rule for rule in fired if rule.value != label_index]
    fusion = scorer.fusion
    noise = None
    if candidate.kind != "candidate":
        rates = fusion.missing if candidate.kind == "missing" else fusion.spurious
        noise = float(rates[label_index])
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
        children=tuple(ruleset.labels[c] for c, _ in candidate.children),
        suggestion=None if candidate.suggested is None else ruleset.labels[candidate.suggested],
        texts={column: as_text(value) for column, value in record.items()},
        classifier_probability=candidate.classifier_probability,
        child_probabilities=tuple(right for _, right in candidate.children),
        noise=noise,
    )
