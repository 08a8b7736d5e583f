"""Label data with a fitted label model: the predicted label(s) and their probabilities per row.

Multiclass: `predicted` (the most probable class) and `probability` (its probability), plus
one `probability:<class>` column per class. Multilabel: `predicted` (the tags at or above the
threshold, most probable first) and `probabilities` (theirs, in the same order). Rows on
which no rule voted (abstains) get an empty label unless `keep_abstains`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lfkit._types import IntArray
from lfkit.data import parse_labels
from lfkit.engine.apply import apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import DataError, OptionError
from lfkit.model.fit import LabelModel
from lfkit.rules.ruleset import RuleSet

PREDICTED = "predicted"
PROBABILITY = "probability"
PROBABILITIES = "probabilities"


@dataclass(frozen=True)
class LabelCounts:
    """What `label_rows` did: how many rows were labelled, abstained or left empty."""

    n_rows: int
    abstains: int
    """Rows on which no rule voted."""
    labelled: int
    """Rows that got a label (multilabel: at least one tag)."""
    per_label: dict[str | int, int]
    """Rows per predicted label, most frequent first."""
    below_threshold: int = 0
    """Rows on which rules voted but no label reached the threshold (they stay empty)."""
    abstains_labelled: int = 0
    """Abstains that got a label anyway (the model's guess from the silence of all rules)."""

    def summary(self) -> str:
        """Return a few readable lines for the terminal; labelled rows, empty abstains and
        rows below the threshold add up to all rows."""
        share = max(self.n_rows, 1)
        kept = (
            f", {self.abstains_labelled:,} of them labelled anyway"
            if self.abstains_labelled
            else ""
        )
        lines = [
            f"rows: {self.n_rows:,}   labelled: {self.labelled:,} ({self.labelled / share:.1%})"
            f"   abstains (no rule voted): {self.abstains:,} ({self.abstains / share:.1%}{kept})"
        ]
        if self.below_threshold:
            lines.append(
                f"rules voted but no label reached the threshold: {self.below_threshold:,} "
                f"({self.below_threshold / share:.1%})"
            )
        lines.append("rows per label:")
        lines += [f"  {label:<40} {count:,}" for label, count in list(self.per_label.items())[:10]]
        if len(self.per_label) > 10:
            lines.append(f"  ... and {len(self.per_label) - 10} more labels")
        return "\n".join(lines)


def label_rows(
    model: LabelModel,
    df: pd.DataFrame,
    *,
    votes: Votes | None = None,
    threshold: float | None = None,
    keep_abstains: bool = False,
) -> pd.DataFrame:
    """Return `df` with the model's predicted label(s) and probabilities as new columns.

    Parameters
    ----------
    model
        A fitted or loaded label model.
    df
        The rows to label (any columns; the rules' text columns are needed).
    votes
        The rules' votes on `df`, when already computed.
    threshold
        Multilabel: the lowest probability of a predicted tag (default 0.5). Multiclass:
        rows whose best class is less probable get no label (default: none left out).
    keep_abstains
        Also label rows on which no rule voted (with the model's best guess from the silence
        of all rules); by default their label is empty.

    Raises
    ------
    DataError
        When `df` lacks a text column, or already has a column the output would add.
    """
    ruleset = model.ruleset
    new_columns = _columns(model)
    clash = [column for column in new_columns if column in df.columns]
    if clash:
        raise DataError(
            f"the data already has a column '{clash[0]}', which labelling would add",
            "rename or drop it first",
            where="label",
        )
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise OptionError(
            "threshold", f"threshold={threshold} is not between 0 and 1", where="label"
        )
    votes = apply_rules(ruleset, df) if votes is None else votes
    if votes.shape[0] != len(df):
        raise DataError(f"votes of {votes.shape[0]} rows for {len(df)} rows of data", where="label")
    probs = model.predict_proba(votes)
    abstain = np.asarray(votes.fired.sum(axis=1)).ravel() == 0
    labelled = ~abstain if not keep_abstains else np.ones(len(df), dtype=bool)
    out = df.reset_index(drop=True).copy()
    if ruleset.multilabel:
        cut = 0.5 if threshold is None else threshold
        tags, values = [], []
        for row in range(len(df)):
            keep = np.nonzero(probs[row] >= cut)[0] if labelled[row] else np.array([], dtype=int)
            keep = keep[np.argsort(-probs[row, keep], kind="stable")]
            tags.append([ruleset.label_value(ruleset.labels[i]) for i in keep])
            values.append([round(float(probs[row, i]), 6) for i in keep])
        out[PREDICTED], out[PROBABILITIES] = tags, values
        return out
    best = probs.argmax(axis=1)
    top = probs[np.arange(len(df)), best]
    if threshold is not None:
        labelled &= top >= threshold
    out[PREDICTED] = pd.Series(
        [
            ruleset.label_value(ruleset.labels[i]) if ok else None
            for i, ok in zip(best, labelled, strict=True)
        ],
        dtype=object,
    )
    out[PROBABILITY] = np.where(labelled, top.round(6), np.nan)
    for column, label in enumerate(ruleset.labels):
        out[f"{PROBABILITY}:{label}"] = probs[:, column].round(6)
    return out


def count_labels(labelled: pd.DataFrame, votes: Votes) -> LabelCounts:
    """Count labelled rows, abstains and rows per label in the output of `label_rows`."""
    predicted = labelled[PREDICTED].tolist()
    per_label: dict[str | int, int] = {}
    for value in predicted:
        for label in value if isinstance(value, list) else [value] if _filled(value) else []:
            per_label[label] = per_label.get(label, 0) + 1
    voted = np.asarray(votes.fired.sum(axis=1)).ravel() > 0
    filled = np.array(
        [_filled(value) and not (isinstance(value, list) and not value) for value in predicted],
        dtype=bool,
    )
    return LabelCounts(
        n_rows=len(labelled),
        abstains=int((~voted).sum()),
        labelled=int(filled.sum()),
        per_label=dict(sorted(per_label.items(), key=lambda item: (-item[1], str(item[0])))),
        below_threshold=int((voted & ~filled).sum()),
        abstains_labelled=int((~voted & filled).sum()),
    )


def table_frames(
    df: pd.DataFrame, suffix: str, *, chunk_rows: int = 50_000
) -> Iterator[pd.DataFrame]:
    """Yield `df` in chunks ready for `lfkit.output.write_frames`: lists and dicts become
    JSON text in CSV (which has no lists), and stay as they are in JSON Lines and Parquet."""
    for start in range(0, len(df), chunk_rows):
        chunk = df.iloc[start : start + chunk_rows]
        if suffix.lower() == ".csv":
            chunk = chunk.apply(
                lambda column: column.map(_json_cell) if column.dtype == object else column
            )
        yield chunk


def _json_cell(value: Any) -> Any:
    if isinstance(value, list | dict | tuple | np.ndarray):
        return json.dumps(
            value.tolist() if isinstance(value, np.ndarray) else value, ensure_ascii=False
        )
    return value


def _columns(model: LabelModel) -> list[str]:
    if model.ruleset.multilabel:
        return [PREDICTED, PROBABILITIES]
    return [PREDICTED, PROBABILITY, *(f"{PROBABILITY}:{label}" for label in model.ruleset.labels)]


def known_labels(ruleset: RuleSet, df: pd.DataFrame, *, source: str) -> tuple[IntArray, list[Any]]:
    """Return the rows of `df` whose label cell is filled in, and their parsed labels.

    An empty cell means "not labelled" (multilabel: an empty JSON list `[]` is a label: no
    tags). No label column: no rows.

    Raises
    ------
    DataError
        For a filled-in label that does not parse.
    """
    column = ruleset.task.label_column
    if column not in df.columns:
        return np.zeros(0, dtype=np.int64), []
    filled = df[column].map(_filled).to_numpy(dtype=bool)
    rows = np.nonzero(filled)[0]
    subset = df.iloc[rows].reset_index(drop=True)
    return rows.astype(np.int64), parse_labels(subset, ruleset.task, source=source)


def _filled(value: Any) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return False
    return not (isinstance(value, str) and not value.strip())
