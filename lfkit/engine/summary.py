"""Summaries of a label matrix: coverage per rule and a short text report."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from lfkit._types import FloatArray
from lfkit.engine.votes import Votes
from lfkit.rules.ruleset import RuleSet


def rule_coverage(votes: Votes) -> FloatArray:
    """Return the fraction of rows on which each rule votes."""
    n_rows = max(votes.shape[0], 1)
    return np.asarray(votes.fired.sum(axis=0), dtype=np.float64) / n_rows


def votes_frames(
    ruleset: RuleSet, df: pd.DataFrame, votes: Votes, *, chunk_rows: int = 50_000
) -> Iterator[pd.DataFrame]:
    """Yield the votes as DataFrames of up to chunk_rows rows: the id, then a column per rule.

    Votes are int16: ABSTAIN (-1), or the rule's vote.
    """
    ids = df[ruleset.task.id_column].to_numpy()
    for start in range(0, votes.shape[0], chunk_rows):
        rows = slice(start, start + chunk_rows)
        matrix = Votes(votes.fired[rows], votes.values).to_dense().astype(np.int16)
        frame = pd.DataFrame(matrix, columns=ruleset.rule_names)
        frame.insert(0, ruleset.task.id_column, ids[rows])
        yield frame


def summarize_votes(ruleset: RuleSet, votes: Votes, *, seconds: float, top: int = 5) -> str:
    """Return a few readable lines: rows, rules, coverage, speed and the busiest rules."""
    n_rows, n_rules = votes.shape
    covered = int((votes.fired.sum(axis=1) > 0).sum())
    coverage = rule_coverage(votes)
    silent = int((coverage == 0).sum())
    speed = f"{n_rows / seconds:,.0f} rows/s" if seconds > 0 else "-"
    lines = [
        f"rows: {n_rows:,}   rules: {n_rules:,}   votes: {votes.fired.nnz:,}   "
        f"rows with a vote: {covered:,} ({covered / max(n_rows, 1):.1%})   "
        f"applied in {seconds:.2f} s ({speed})",
        f"rules that never fired: {silent:,}",
        "busiest rules:",
    ]
    for column in np.argsort(-coverage, kind="stable")[:top]:
        rule = ruleset.rules[column]
        lines.append(f"  {rule.name:<40} {coverage[column]:6.1%} of rows")
    return "\n".join(lines)
