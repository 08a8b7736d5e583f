"""The taxonomy as one constraint on the audit's scores, and the gaps it finds as findings.

A row that truly has a child tag also has its parents. So (1) a given parent is wrong only if
every given descendant of it is wrong too: its error score is capped by theirs, and the same
child never argues against its own parent; (2) a parent absent while a descendant is given is
not a row error to rank among the others but a gap between the data and the taxonomy: all
rows with the same (child, parent) gap become one `Finding`, fixed either by adding the
parent to those rows or by changing the taxonomy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lfkit._types import FloatArray
from lfkit.display import plain
from lfkit.rules.ruleset import RuleSet


@dataclass(frozen=True)
class Finding:
    """A (child, parent) taxonomy gap: rows that have the child tag but not its parent."""

    child: str
    parent: str
    ids: tuple[Any, ...]
    rows: tuple[int, ...]
    score: float
    """Mean P(the child tag is right) over these rows: how sure the parent is missing."""

    @property
    def count(self) -> int:
        """Return the number of rows with this gap."""
        return len(self.rows)

    def fixes(self) -> list[str]:
        """Return the two ways to close the gap, as sentences."""
        rows = "this row" if self.count == 1 else f"these {self.count:,} rows"
        return [
            f"add '{self.parent}' to {rows}",
            f"or change the taxonomy: '{self.child}' is not always a kind of '{self.parent}'",
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON Lines record of this finding (documented in docs/audit.md)."""
        return {
            "type": "finding",
            "kind": "missing-parent",
            "child": self.child,
            "parent": self.parent,
            "label": self.parent,
            "count": self.count,
            "score": round(self.score, 6),
            "ids": [plain(row_id) for row_id in self.ids],
            "fixes": self.fixes(),
        }


@dataclass(frozen=True, eq=False)
class TaxonomyCheck:
    """Error scores with the taxonomy applied, and the gaps found, for some rows."""

    wrong: FloatArray
    """Per (row, label) P(existing label wrong); 0 for gap pairs (they are findings)."""
    gap_child: np.ndarray
    """Per (row, label): for an absent parent with a given descendant, that descendant
    (the one most likely right); -1 elsewhere."""
    child_right: FloatArray
    """Per (row, label): P(that descendant is right), 0 where there is no gap."""


def apply_taxonomy(ruleset: RuleSet, given: np.ndarray, wrong: FloatArray) -> TaxonomyCheck:
    """Apply the parent-child constraint to error scores (the one place it is applied).

    Examples
    --------
    >>> from lfkit.rules.schema import Task
    >>> task = Task(kind="multilabel", text_columns=("t",), label_column="tags")
    >>> ruleset = RuleSet(task, ("dl", "bert"), {"bert": ("dl",)}, ())
    >>> given = np.array([[True, True], [False, True]])
    >>> check = apply_taxonomy(ruleset, given, np.array([[0.9, 0.2], [0.3, 0.1]]))
    >>> check.wrong.tolist(), check.gap_child.tolist(), check.child_right.round(1).tolist()
    ([[0.2, 0.2], [0.0, 0.1]], [[-1, -1], [1, -1]], [[0.0, 0.0], [0.9, 0.0]])
    """
    wrong = np.array(wrong, dtype=np.float64)
    gap_child = np.full(wrong.shape, -1, dtype=np.int64)
    child_right = np.zeros_like(wrong)
    if not ruleset.multilabel:
        return TaxonomyCheck(wrong, gap_child, child_right)
    descendants = ruleset.descendant_matrix
    raw = wrong.copy()
    for parent in np.nonzero(np.diff(descendants.indptr))[0]:
        below = descendants[[parent]].indices
        held = given[:, below]
        has_child = held.any(axis=1)
        if not has_child.any():
            continue
        child_wrong = np.where(held, raw[:, below], np.inf)
        best = child_wrong.argmin(axis=1)
        lowest = child_wrong[np.arange(len(best)), best]
        capped = given[:, parent] & has_child
        wrong[capped, parent] = np.minimum(raw[capped, parent], lowest[capped])
        gaps = ~given[:, parent] & has_child
        wrong[gaps, parent] = 0.0
        gap_child[gaps, parent] = below[best[gaps]]
        child_right[gaps, parent] = 1.0 - lowest[gaps]
    return TaxonomyCheck(wrong, gap_child, child_right)


def collect_findings(
    ruleset: RuleSet, gaps: dict[tuple[int, int], list[tuple[int, Any, float]]]
) -> tuple[Finding, ...]:
    """Return one finding per (child, parent) from (row, id, P(child right)) lists, the
    largest gaps first."""
    findings = [
        Finding(
            child=ruleset.labels[child],
            parent=ruleset.labels[parent],
            ids=tuple(row_id for _, row_id, _ in rows),
            rows=tuple(row for row, _, _ in rows),
            score=float(np.mean([right for _, _, right in rows])),
        )
        for (child, parent), rows in gaps.items()
    ]
    return tuple(sorted(findings, key=lambda f: (-f.count, -f.score, f.parent, f.child)))


def add_gaps(
    gaps: dict[tuple[int, int], list[tuple[int, Any, float]]],
    check: TaxonomyCheck,
    rows: np.ndarray,
    ids: list[Any],
) -> None:
    """Add the gaps of these scored rows (`ids` their row ids) to `gaps`, in place."""
    for i, parent in zip(*np.nonzero(check.gap_child >= 0), strict=True):
        key = (int(check.gap_child[i, parent]), int(parent))
        gaps.setdefault(key, []).append((int(rows[i]), ids[i], float(check.child_right[i, parent])))
