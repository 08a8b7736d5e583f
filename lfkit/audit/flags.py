"""Flags on demand: an audit keeps its candidate flags as columns, with the facts of their rows,
and builds a `Flag` (its rule matches, its reasons) only when one is asked for.

With `--min-score 0` an audit of the bundled projects keeps 812,800 (row, label) pairs; building
a Flag object for each, with the spans of every rule for and against it, took minutes. Here the
candidates are numpy columns (ranked with one `lexsort`), a row's rule matches are computed once
for all its flags, and `lfkit.report.records` writes the JSON Lines records straight from the
columns (`Flags` is the sequence it reads).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, overload

import numpy as np
import pandas as pd

from lfkit._types import FloatArray, IntArray
from lfkit.audit.evidence import RuleMatch, rule_match
from lfkit.audit.scores import LabelScores
from lfkit.audit.suspects import KINDS, Flag
from lfkit.display import plain
from lfkit.model.fuse import Fusion
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.text import as_text

NO_SUGGESTION = -1
_KIND_RANK = np.argsort(np.argsort(np.array(KINDS)))
"""Each kind's rank by name: ties in score, row and label sort as the kind names do."""


@dataclass(frozen=True, eq=False)
class Candidates:
    """Flags before their evidence, one entry per (row, label) pair, as columns."""

    score: FloatArray
    """P(the existing label is wrong) (candidates: P(the label applies))."""
    row: IntArray
    """The row number in the whole data."""
    label: IntArray
    kind: np.ndarray
    """int8 index into KINDS."""
    suggested: IntArray
    """Multiclass: the suggested class; NO_SUGGESTION otherwise."""
    probability: FloatArray
    rule_probability: FloatArray
    neighbour_probability: FloatArray | None
    classifier_probability: FloatArray | None
    """Clipped to [0, 1]."""
    children: np.ndarray
    """object: per entry, a tuple of (descendant label the row has, P(it is right))."""

    def __len__(self) -> int:
        return len(self.score)

    def take(self, index: IntArray | slice) -> Candidates:
        """Return the entries at these positions."""

        def pick(column: np.ndarray | None) -> np.ndarray | None:
            return None if column is None else column[index]

        return Candidates(
            self.score[index],
            self.row[index],
            self.label[index],
            self.kind[index],
            self.suggested[index],
            self.probability[index],
            self.rule_probability[index],
            pick(self.neighbour_probability),
            pick(self.classifier_probability),
            self.children[index],
        )

    def ranked(self, top: int | None = None) -> Candidates:
        """Return the entries best first (highest score, then row, label and kind), at most
        `top` of them."""
        order = np.lexsort((_KIND_RANK[self.kind], self.label, self.row, -self.score))
        return self.take(order[:top])

    @staticmethod
    def concat(parts: Sequence[Candidates]) -> Candidates:
        """Return the entries of several parts (of one audit), in order."""
        filled = [part for part in parts if len(part)]
        if len(filled) <= 1:
            return filled[0] if filled else (parts[0] if parts else Candidates.empty())

        def joined(name: str) -> Any:  # each field's own type: an array, or None for all
            columns = [getattr(part, name) for part in filled]
            return None if columns[0] is None else np.concatenate(columns)

        return Candidates(*(joined(name) for name in _FIELDS))

    @staticmethod
    def empty() -> Candidates:
        """Return no entries."""
        nothing, none = np.zeros(0), np.zeros(0, dtype=np.int64)
        return Candidates.build(
            nothing,
            none,
            none,
            0,
            probability=nothing,
            rule_probability=nothing,
            neighbour_probability=None,
            classifier_probability=None,
        )

    @staticmethod
    def of(
        scores: LabelScores,
        rows: IntArray,
        at: IntArray,
        label: IntArray,
        kind: np.ndarray | int,
        score: FloatArray,
        *,
        suggested: IntArray | None = None,
        children: np.ndarray | None = None,
    ) -> Candidates:
        """Return the candidates of these (position `at` in `scores`, label) pairs of a batch
        of rows (`rows`: their row numbers), with the evidence their flags show."""

        def pick(column: FloatArray | None) -> FloatArray | None:
            return None if column is None else column[at, label]

        return Candidates.build(
            score,
            np.asarray(rows)[at],
            label,
            kind,
            probability=scores.probs[at, label],
            rule_probability=scores.rule_probs[at, label],
            neighbour_probability=pick(scores.neighbour_probs),
            classifier_probability=pick(scores.classifier_scores),
            suggested=suggested,
            children=children,
        )

    def counts(self, n_labels: int) -> np.ndarray:
        """Return the number of entries per (label, kind), shape (n_labels, len(KINDS))."""
        found = np.zeros((n_labels, len(KINDS)), dtype=np.int64)
        np.add.at(found, (self.label, self.kind.astype(np.int64)), 1)
        return found

    @staticmethod
    def build(
        score: FloatArray,
        row: IntArray,
        label: IntArray,
        kind: np.ndarray | int,
        *,
        probability: FloatArray,
        rule_probability: FloatArray,
        neighbour_probability: FloatArray | None,
        classifier_probability: FloatArray | None,
        suggested: IntArray | None = None,
        children: np.ndarray | None = None,
    ) -> Candidates:
        """Return candidates from columns of equal length (a scalar `kind` for all)."""
        n = len(score)
        if children is None:
            children = np.empty(n, dtype=object)
            children.fill(())
        return Candidates(
            np.asarray(score, dtype=np.float64),
            np.asarray(row, dtype=np.int64),
            np.asarray(label, dtype=np.int64),
            np.broadcast_to(np.asarray(kind, dtype=np.int8), (n,)).copy(),
            np.full(n, NO_SUGGESTION, dtype=np.int64)
            if suggested is None
            else np.asarray(suggested, dtype=np.int64),
            np.asarray(probability, dtype=np.float64),
            np.asarray(rule_probability, dtype=np.float64),
            None
            if neighbour_probability is None
            else np.asarray(neighbour_probability, dtype=np.float64),
            None
            if classifier_probability is None
            else np.clip(np.asarray(classifier_probability, dtype=np.float64), 0.0, 1.0),
            children,
        )


_FIELDS = tuple(Candidates.__dataclass_fields__)


class RowFacts(NamedTuple):
    """What a flag shows of its row, kept by the audit for the flagged rows only."""

    id: Any
    record: dict[str, Any]
    """The text fields, as read."""
    fired: tuple[int, ...]
    """The rules (columns) that fired on the row."""
    given: tuple[int, ...]
    """The row's existing labels (indices)."""


class Flags(Sequence[Flag]):
    """The flags of an audit, best first; each `Flag` is built when it is asked for.

    It behaves as a tuple of Flag (length, indexing, slicing (to `Flags`), iteration,
    equality with any sequence of the same flags, pickling). `lfkit.report.records` writes
    the records of all of them without building the objects.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        candidates: Candidates,
        facts: Mapping[int, RowFacts],
        fusion: Fusion,
    ) -> None:
        self.ruleset = ruleset
        self.candidates = candidates
        self.facts = facts
        self.missing_noise = np.asarray(fusion.missing, dtype=np.float64)
        self.spurious_noise = np.asarray(fusion.spurious, dtype=np.float64)
        self._speaks = ruleset.speaks_matrix.toarray() > 0
        self._matches: dict[tuple[int, int], RuleMatch] = {}
        self._texts: dict[int, dict[str, str]] = {}

    def __len__(self) -> int:
        return len(self.candidates)

    @overload
    def __getitem__(self, index: int) -> Flag: ...

    @overload
    def __getitem__(self, index: slice) -> Flags: ...

    def __getitem__(self, index: int | slice) -> Flag | Flags:
        if isinstance(index, slice):
            return self.take(range(*index.indices(len(self))))
        if not -len(self) <= index < len(self):
            raise IndexError("flag index out of range")
        return self._flag(index % len(self))

    def __iter__(self) -> Iterator[Flag]:
        return (self._flag(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    def __repr__(self) -> str:
        return f"<{len(self):,} flags, best first>"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_matches": {}, "_texts": {}}  # caches are rebuilt on demand

    def take(self, positions: Sequence[int]) -> Flags:
        """Return the flags at these positions, in this order (sharing what was built)."""
        chosen = copy.copy(self)
        chosen.candidates = self.candidates.take(np.asarray(positions, dtype=np.int64))
        return chosen

    def keys(self) -> list[tuple[str, str]]:
        """Return each flag's (str(id), label): what a decision about it names."""
        labels, facts = self.ruleset.labels, self.facts
        ids = {row: str(plain(facts[row].id)) for row in np.unique(self.candidates.row).tolist()}
        return [
            (ids[row], labels[label])
            for row, label in zip(
                self.candidates.row.tolist(), self.candidates.label.tolist(), strict=True
            )
        ]

    def texts(self, row: int) -> dict[str, str]:
        """Return a row's text fields as a flag shows them."""
        found = self._texts.get(row)
        if found is None:
            record = self.facts[row].record
            found = self._texts[row] = {column: as_text(value) for column, value in record.items()}
        return found

    def match(self, row: int, column: int) -> RuleMatch:
        """Return where rule `column` (which fired on `row`) matched the row's text."""
        key = (row, column)
        found = self._matches.get(key)
        if found is None:
            rule = self.ruleset.rules[column]
            found = self._matches[key] = rule_match(rule, self.facts[row].record)
        return found

    def sides(self, row: int, label: int) -> tuple[list[int], list[int]]:
        """Return the fired rules (columns) that vote for and against `label` on `row`."""
        fired, rules = self.facts[row].fired, self.ruleset.rules
        if self.ruleset.multilabel:
            relevant = [c for c in fired if self._speaks[label, c]]
            return [c for c in relevant if rules[c].positive], [
                c for c in relevant if not rules[c].positive
            ]
        return [c for c in fired if rules[c].value == label], [
            c for c in fired if rules[c].value != label
        ]

    def speaks_for(self, column: int) -> list[int]:
        """Return the labels a rule (column) speaks to (see `RuleSet.speaks_matrix`)."""
        return np.nonzero(self._speaks[:, column])[0].tolist()

    def noise(self, kind: int, label: int) -> float | None:
        """Return the estimated noise of a label for flags of this kind (None: candidates)."""
        name = KINDS[kind]
        if name == "candidate":
            return None
        rates = self.missing_noise if name == "missing" else self.spurious_noise
        return float(rates[label])

    def _flag(self, i: int) -> Flag:
        c, labels = self.candidates, self.ruleset.labels
        row, label, kind = int(c.row[i]), int(c.label[i]), int(c.kind[i])
        facts = self.facts[row]
        supporting, opposing = self.sides(row, label)
        suggested = int(c.suggested[i])
        children = c.children[i]
        return Flag(
            id=plain(facts.id),
            row=row,
            label=labels[label],
            kind=KINDS[kind],
            score=float(c.score[i]),
            probability=float(c.probability[i]),
            rule_probability=float(c.rule_probability[i]),
            neighbour_probability=_optional(c.neighbour_probability, i),
            given=tuple(labels[g] for g in facts.given),
            rules_for=tuple(self.match(row, column) for column in supporting),
            rules_against=tuple(self.match(row, column) for column in opposing),
            children=tuple(labels[child] for child, _ in children),
            suggestion=None if suggested == NO_SUGGESTION else labels[suggested],
            texts=dict(self.texts(row)),
            classifier_probability=_optional(c.classifier_probability, i),
            child_probabilities=tuple(right for _, right in children),
            noise=self.noise(kind, label),
            numeric_labels=bool(self.ruleset.numeric_labels),
        )


def _optional(column: FloatArray | None, i: int) -> float | None:
    return None if column is None else float(column[i])


def row_facts(
    ruleset: RuleSet, df: pd.DataFrame, fired: Any, given: Any, rows: IntArray, offset: int = 0
) -> dict[int, RowFacts]:
    """Return the facts of some rows of a partition, by row number.

    `df` holds the partition's rows (positions 0, 1, ...), `fired` and `given` its votes
    (`Votes.fired`) and labels as CSR matrices; `rows` are the wanted row numbers in the whole
    data and `offset` the number of the partition's first row.
    """
    task = ruleset.task
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    local = rows - offset
    ids = list(df[task.id_column].to_numpy()[local])  # values as `df.at` gives them
    columns = {column: list(df[column].to_numpy()[local]) for column in task.text_columns}
    votes, labels = fired[local], given[local]
    return {
        int(row): RowFacts(
            ids[k],
            {column: values[k] for column, values in columns.items()},
            tuple(int(c) for c in votes.indices[votes.indptr[k] : votes.indptr[k + 1]]),
            tuple(sorted(int(c) for c in labels.indices[labels.indptr[k] : labels.indptr[k + 1]])),
        )
        for k, row in enumerate(rows)
    }
