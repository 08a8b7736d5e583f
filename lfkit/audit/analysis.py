"""Per-rule analysis: coverage, overlaps, conflicts, and agreement with the existing labels."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lfkit._types import ANALYSIS_FORMATS, AnalysisFormat, IntArray
from lfkit.display import column_width, csv_cell, plain, terminal_safe
from lfkit.engine.votes import Votes
from lfkit.errors import check_choice
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet

EXAMPLES = 3


@dataclass(frozen=True)
class RuleStats:
    """How one rule behaves on a data set, measured against the existing labels."""

    rule: str
    label: str
    vote: str
    fired: int
    coverage: float
    overlaps: float
    """Share of its rows where another rule voting the same way on the same label fired."""
    conflicts: float
    """Share of its rows where a rule voting otherwise on the same label (or, multiclass, for
    another class) fired."""
    precision: float | None
    """Share of its votes that agree with the existing labels (None when it never fired)."""
    recall: float | None
    """Share of the rows its vote describes (label present, or absent for a negative rule)
    on which it fired."""
    disagreements: int
    examples: tuple[Any, ...]
    """Ids of rows where its vote disagrees with the existing labels."""


def analyze_rules(
    ruleset: RuleSet, votes: Votes, given: Sequence[Any], ids: Sequence[Any]
) -> list[RuleStats]:
    """Return statistics per rule, the rules that disagree with the labels most first."""
    return rule_stats(ruleset, count_rules(ruleset, votes, given, ids))


@dataclass(frozen=True, eq=False)
class RuleCounts:
    """What `analyze_rules` counts per rule on some rows; counts of disjoint rows add up
    (`+`, in row order: the examples of the first rows come first)."""

    n_rows: int
    fired: IntArray
    """(n_rules,) rows each rule fired on."""
    same: IntArray
    """(n_rules,) of those, rows where another rule voting the same way on its label fired."""
    other: IntArray
    """(n_rules,) of those, rows where a rule voting otherwise fired (see `conflicts`)."""
    agrees: IntArray
    """(n_rules,) of those, rows whose existing labels agree with its vote."""
    described: IntArray
    """(n_rules,) rows its vote describes (label present, or absent for a negative rule)."""
    examples: tuple[tuple[Any, ...], ...]
    """Per rule, the ids of the first EXAMPLES rows where it disagrees with the labels."""

    def __add__(self, other: RuleCounts) -> RuleCounts:
        return RuleCounts(
            self.n_rows + other.n_rows,
            self.fired + other.fired,
            self.same + other.same,
            self.other + other.other,
            self.agrees + other.agrees,
            self.described + other.described,
            tuple((a + b)[:EXAMPLES] for a, b in zip(self.examples, other.examples, strict=True)),
        )


def count_rules(
    ruleset: RuleSet, votes: Votes, given: Sequence[Any], ids: Sequence[Any]
) -> RuleCounts:
    """Count, per rule, its rows, overlaps, conflicts and agreement with the labels."""
    y = given_matrix(ruleset, given).toarray() > 0
    fired = votes.fired.tocsc()
    n_rows = votes.shape[0]
    label_of = ruleset.rule_labels
    counts = dict(zip((True, False), ruleset.label_votes(votes.fired), strict=True))
    total = counts[True].sum(axis=1) + counts[False].sum(axis=1)
    columns: list[tuple[int, int, int, int, int]] = []
    examples = []
    for column, rule in enumerate(ruleset.rules):
        rows = fired[:, [column]].indices
        label = label_of[column]
        has = y[rows, label]
        agrees = has if rule.positive else ~has
        same = counts[rule.positive][rows, label] - 1 > 0
        if ruleset.multilabel:
            other = counts[not rule.positive][rows, label] > 0
            described = y[:, label] if rule.positive else ~y[:, label]
        else:
            other = total[rows] - counts[True][rows, label] > 0
            described = y[:, label]
        wrong = rows[~agrees]
        columns.append((len(rows), same.sum(), other.sum(), agrees.sum(), described.sum()))
        examples.append(tuple(plain(ids[row]) for row in wrong[:EXAMPLES]))
    table = np.array(columns, dtype=np.int64).reshape(len(columns), 5).T
    return RuleCounts(n_rows, table[0], table[1], table[2], table[3], table[4], tuple(examples))


def rule_stats(ruleset: RuleSet, counts: RuleCounts) -> list[RuleStats]:
    """Return the statistics per rule of these counts, the most disagreeing rules first."""
    stats = []
    for column, rule in enumerate(ruleset.rules):
        n = int(counts.fired[column])
        agrees, described = int(counts.agrees[column]), int(counts.described[column])
        stats.append(
            RuleStats(
                rule=rule.name,
                label=rule.label,
                vote="positive" if rule.positive else "negative",
                fired=n,
                coverage=n / max(counts.n_rows, 1),
                overlaps=int(counts.same[column]) / n if n else 0.0,
                conflicts=int(counts.other[column]) / n if n else 0.0,
                precision=agrees / n if n else None,
                recall=agrees / described if described else None,
                disagreements=n - agrees,
                examples=counts.examples[column],
            )
        )
    return sorted(stats, key=lambda s: (s.fired == 0, -s.disagreements, s.precision or 0.0))


def render_analysis(stats: list[RuleStats], *, fmt: AnalysisFormat = "table") -> str:
    """Render rule statistics as a table, JSON (a list of objects) or CSV.

    Raises
    ------
    OptionError
        For another format.
    """
    check_choice("fmt", fmt, ANALYSIS_FORMATS, "format")
    rows = [asdict(stat) for stat in stats]
    if fmt == "json":
        return json.dumps(rows, indent=1, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(
            out, fieldnames=list(rows[0]) if rows else ["rule"], lineterminator="\n"
        )
        writer.writeheader()
        for row in rows:
            cells = {**row, "examples": "; ".join(map(str, row["examples"]))}
            writer.writerow({key: csv_cell(value) for key, value in cells.items()})
        return out.getvalue()
    # full rule and label names, each column as wide as its longest name
    rules = column_width("rule", (s.rule for s in stats))
    labels = column_width("label", (s.label for s in stats))
    lines = [
        f"{'rule':<{rules}} {'label':<{labels}} {'vote':<8} {'fired':>6} {'cover':>6} "
        f"{'overlap':>7} {'conflict':>8} {'prec':>5} {'recall':>6} {'wrong':>5}  examples"
    ]

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    for s in stats:
        lines.append(
            f"{s.rule:<{rules}} {s.label:<{labels}} {s.vote:<8} {s.fired:>6} {s.coverage:>6.1%} "
            f"{s.overlaps:>7.2f} {s.conflicts:>8.2f} {pct(s.precision):>5} {pct(s.recall):>6} "
            f"{s.disagreements:>5}  {', '.join(map(str, s.examples))}"
        )
    return terminal_safe("\n".join(lines) + "\n")  # data may hold escape sequences
