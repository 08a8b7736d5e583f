"""The audit: rank the (row, label) pairs whose existing label is probably wrong, with evidence,
and report taxonomy gaps as findings and unused labels as candidates."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lfkit._types import FLAG_KINDS, LabelMethod
from lfkit.audit.evidence import RuleMatch
from lfkit.audit.findings import Finding
from lfkit.audit.scores import LabelScores, score_labels
from lfkit.data import check_frame
from lfkit.display import plain
from lfkit.engine.apply import apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import DataError
from lfkit.rules.ruleset import RuleSet

__all__ = ["AuditReport", "Finding", "Flag", "LabelScores", "audit_labels", "score_labels"]

KINDS: tuple[str, ...] = FLAG_KINDS
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
    numeric_labels: bool = False
    """The labels are whole numbers (classes 0/1): records write them as numbers, as the data
    and `lfkit label` do (`RuleSet.label_value`)."""

    def reasons(self) -> list[str]:
        """Return what moved the score, one short sentence per evidence source."""
        out = []
        if self.rules_for:
            out.append("rules for: " + ", ".join(self._named(self.rules_for)))
        if self.rules_against:
            out.append("rules against: " + ", ".join(self._named(self.rules_against)))
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

    def _named(self, matches: tuple[RuleMatch, ...]) -> list[str]:
        return [match.describe(self.texts, self.label) for match in matches[:3]]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON Lines record of this flag (documented in docs/audit.md)."""
        row_id = plain(self.id)

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        def value(label: str) -> str | int:
            return int(label) if self.numeric_labels else label

        return {
            "type": "flag",
            "id": row_id,
            "label": value(self.label),
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
                "children_present": [value(child) for child in self.children],
                "children_probability": [round(p, 6) for p in self.child_probabilities],
                "given": [value(label) for label in self.given],
                "suggestion": None if self.suggestion is None else value(self.suggestion),
            },
            "text": self.texts,
        }


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
    flags: Sequence[Flag]
    """Best first: a `lfkit.audit.flags.Flags` (each flag built when read) or a tuple."""
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

    def __repr__(self) -> str:
        return (
            f"AuditReport({self.kind}, {self.n_rows:,} rows, {self.n_flags:,} flags at score "
            f">= {self.min_score:.2f}, top {len(self.flags):,} held, "
            f"{len(self.findings):,} taxonomy findings)"
        )


def audit_labels(
    ruleset: RuleSet,
    df: pd.DataFrame,
    *,
    label_model: LabelMethod = "naive-bayes",
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
    (see `default_threshold`). The evidence is fitted on a bounded sample of the rows and
    the rows are scored in chunks (lfkit/audit/partitioned.py), so memory beyond the data
    stays bounded.

    Raises
    ------
    DataError
        When the DataFrame lacks the id, text or label columns, or a label does not parse.
    """
    from lfkit.audit.partitioned import CHUNK_ROWS, audit_chunks

    task = ruleset.task
    say = progress or (lambda _: None)
    df = check_frame(
        df, task, columns=[task.id_column, *task.text_columns, task.label_column], source="audit"
    )
    if votes is None:
        say("applying rules")
        votes = apply_rules(ruleset, df)
    elif votes.shape != (len(df), len(ruleset)):
        raise DataError(
            f"votes have shape {votes.shape}, expected {(len(df), len(ruleset))}"
            " (one row per data row, one column per rule)",
            where="audit",
        )
    known = votes

    def chunks() -> Iterator[tuple[pd.DataFrame, Votes]]:
        for start in range(0, len(df), CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, len(df))
            fired = known.fired[start:stop]
            yield df.iloc[start:stop], Votes(fired, known.values, known.names)

    return audit_chunks(
        ruleset,
        chunks,
        checked=True,
        label_model=label_model,
        neighbours=neighbours,
        classifier=classifier,
        min_score=min_score,
        top=top,
        seed=seed,
        progress=say,
    )
