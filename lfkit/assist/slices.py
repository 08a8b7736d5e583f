"""Slices of the data that rules define, as Snorkel SlicingFunctions; metrics per slice.

A rule's slice is the rows it fires on (whatever it votes); a label's slice is the rows where
any of the label's positive rules fires. `slicing_functions` gives them as real
`snorkel.slicing.SlicingFunction`s (they match row by row with the same RE2 regexes as the
engine, through the rules' LabelingFunctions), so they work with `PandasSFApplier`,
`slice_dataframe` and Snorkel's slice-aware models; `slice_metrics` uses the fast engine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lfkit._types import ABSTAIN, LIST_FORMATS, SLICE_KINDS, ListFormat, SliceKind
from lfkit.display import column_width
from lfkit.engine.apply import apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import DataError, check_choice
from lfkit.model.label import PREDICTED
from lfkit.model.targets import given_matrix
from lfkit.rules.lfs import RuleVote
from lfkit.rules.ruleset import CompiledRule, RuleSet

if TYPE_CHECKING:
    from snorkel.slicing import SlicingFunction


class InSlice:
    """The picklable function behind one slicing function: row -> 1 if a rule fires, else 0."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.votes = [RuleVote(rule) for rule in rules]

    def __call__(self, row: Any) -> int:
        return int(any(vote(row) != ABSTAIN for vote in self.votes))


def slice_rules(ruleset: RuleSet, *, by: SliceKind = "label") -> dict[str, list[int]]:
    """Return the slices of a rule set: slice name -> rule columns that define it.

    `by="rule"`: one slice per rule, named after it. `by="label"`: one slice per label with
    positive rules, named `label:NAME`, the rows where any of them fires.

    Raises
    ------
    OptionError
        For another `by`.
    """
    check_choice("by", by, SLICE_KINDS, "kind of slice")
    if by == "rule":
        return {rule.name: [column] for column, rule in enumerate(ruleset.rules)}
    slices: dict[str, list[int]] = {}
    for column, rule in enumerate(ruleset.rules):
        if rule.positive:
            slices.setdefault(f"label:{rule.label}", []).append(column)
    return slices


def slicing_functions(ruleset: RuleSet, *, by: SliceKind = "label") -> list[SlicingFunction]:
    """Return one Snorkel SlicingFunction per slice of `slice_rules(ruleset, by=by)`.

    Examples
    --------
    >>> import pandas as pd
    >>> from snorkel.slicing import PandasSFApplier, slice_dataframe
    >>> from lfkit.rules.loader import load_rules
    >>> ruleset = load_rules("rules/madewithml-4class")
    >>> sfs = slicing_functions(ruleset, by="label")
    >>> df = pd.DataFrame({"title": ["YOLO object detection", "A chatbot"], "description": ""})
    >>> vision = sfs[[sf.name for sf in sfs].index("label:computer-vision")]
    >>> slice_dataframe(df, vision)["title"].tolist()
    ['YOLO object detection']
    """
    from snorkel.slicing import SlicingFunction

    return [
        SlicingFunction(name, f=InSlice([ruleset.rules[column] for column in columns]))
        for name, columns in slice_rules(ruleset, by=by).items()
    ]


def slice_membership(ruleset: RuleSet, votes: Votes, *, by: SliceKind = "label") -> pd.DataFrame:
    """Return a (n_rows, n_slices) bool DataFrame: which row is in which slice (fast engine)."""
    fired = votes.fired.tocsc()
    columns = {
        name: np.asarray(fired[:, rules].sum(axis=1)).ravel() > 0
        for name, rules in slice_rules(ruleset, by=by).items()
    }
    return pd.DataFrame(columns, dtype=bool)


@dataclass(frozen=True)
class SliceMetrics:
    """How a model's predictions compare with the existing labels on one slice."""

    slice: str
    size: int
    predicted: int
    """Rows of the slice with a prediction (rows without one count as wrong)."""
    accuracy: float | None
    """Multiclass: share of rows whose predicted class is the given one."""
    precision: float | None
    """Multilabel: micro-averaged over the tags of the slice's rows."""
    recall: float | None
    f1: float | None

    @property
    def score(self) -> float:
        """Return the headline metric: accuracy (multiclass) or micro F1 (multilabel)."""
        value = self.accuracy if self.accuracy is not None else self.f1
        return float("nan") if value is None else value

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready record."""
        return {
            "slice": self.slice,
            "size": self.size,
            "predicted": self.predicted,
            "accuracy": _rounded(self.accuracy),
            "precision": _rounded(self.precision),
            "recall": _rounded(self.recall),
            "f1": _rounded(self.f1),
        }


def slice_metrics(
    ruleset: RuleSet,
    df: pd.DataFrame,
    predictions: Sequence[Any],
    *,
    votes: Votes | None = None,
    by: SliceKind = "label",
    min_size: int = 1,
) -> list[SliceMetrics]:
    """Return a model's metrics on every slice (and on all rows), worst first.

    Parameters
    ----------
    ruleset
        The rules whose slices to measure.
    df
        The data with parsed existing labels (as `read_data` returns it).
    predictions
        Per row of `df`: the predicted class (multiclass) or list of tags (multilabel);
        None where the model gave no prediction.
    votes
        The rules' votes on `df` (applied here when None).
    by
        'label' or 'rule' slices.
    min_size
        Leave out slices with fewer rows.

    Raises
    ------
    DataError
        When `predictions` has another length than `df`.
    """
    if len(predictions) != len(df):
        raise DataError(f"{len(predictions)} predictions for {len(df)} rows", where="slices")
    votes = apply_rules(ruleset, df) if votes is None else votes
    given = given_matrix(ruleset, df[ruleset.task.label_column].tolist()).toarray() > 0
    has_prediction = np.array([_filled(value) for value in predictions], dtype=bool)
    index = ruleset.label_index
    predicted = np.zeros_like(given)
    for row, value in enumerate(predictions):
        for label in ([value] if isinstance(value, str) else value) if _filled(value) else []:
            if label in index:
                predicted[row, index[label]] = True
            elif not ruleset.multilabel:
                raise DataError(
                    f"predicted class {label!r} is not a label of the rule set "
                    f"({', '.join(ruleset.labels)})",
                    where="slices",
                )
    membership = slice_membership(ruleset, votes, by=by)
    everything = np.ones(len(df), dtype=bool)
    results = [_measure("(all rows)", everything, given, predicted, has_prediction, ruleset)]
    for name in membership.columns:
        rows = membership[name].to_numpy()
        if rows.sum() >= max(min_size, 1):
            results.append(_measure(name, rows, given, predicted, has_prediction, ruleset))
    return sorted(results, key=lambda m: (m.score, -m.size))


def _measure(
    name: str,
    rows: np.ndarray,
    given: np.ndarray,
    predicted: np.ndarray,
    has_prediction: np.ndarray,
    ruleset: RuleSet,
) -> SliceMetrics:
    size, n_predicted = int(rows.sum()), int((rows & has_prediction).sum())
    if not ruleset.multilabel:
        right = (given[rows] & predicted[rows]).any(axis=1)
        return SliceMetrics(name, size, n_predicted, float(right.mean()), None, None, None)
    true_positive = int((given[rows] & predicted[rows]).sum())
    n_given, n_guessed = int(given[rows].sum()), int(predicted[rows].sum())
    precision = true_positive / n_guessed if n_guessed else None
    recall = true_positive / n_given if n_given else None
    f1 = 2 * true_positive / (n_given + n_guessed) if n_given + n_guessed else None
    return SliceMetrics(name, size, n_predicted, None, precision, recall, f1)


def read_predictions(
    ruleset: RuleSet, df: pd.DataFrame, predictions: pd.DataFrame, *, source: str
) -> list[Any]:
    """Align a predictions table (id column + `predicted`) with the rows of `df`.

    Ids match as text (a CSV and a JSON file may read the same id as a number or a string).
    Multilabel predictions are lists of tags, JSON list text or delimited text. A row of
    `df` without a prediction gets None.

    Raises
    ------
    DataError
        For a missing column, a duplicate id or an id that is not in the data.
    """
    from lfkit.data import parse_labels

    id_column = ruleset.task.id_column
    for column in (id_column, PREDICTED):
        if column not in predictions.columns:
            raise DataError(
                f"column '{column}' is not in the predictions; available: "
                f"{', '.join(map(str, predictions.columns))}",
                f"the predictions are a table of '{id_column}' and '{PREDICTED}', as "
                "`lfkit label` writes it",
                where=source,
            )
    keys = predictions[id_column].map(str)
    if keys.duplicated().any():
        raise DataError(f"id {keys[keys.duplicated()].iloc[0]!r} appears twice", where=source)
    unknown = sorted(set(keys) - set(df[id_column].map(str)))
    if unknown:
        raise DataError(
            f"{len(unknown)} ids are not in the data (e.g. {unknown[0]!r})",
            "predict on the same data file",
            where=source,
        )
    filled = predictions[PREDICTED].map(_filled).to_numpy(dtype=bool)
    task = ruleset.task.model_copy(update={"label_column": PREDICTED})
    parsed = parse_labels(predictions[filled].reset_index(drop=True), task, source=source)
    by_id = dict(zip(keys[filled], parsed, strict=True))
    return [by_id.get(key) for key in df[id_column].map(str)]


def render_slices(metrics: list[SliceMetrics], *, fmt: ListFormat = "table") -> str:
    """Render slice metrics as a table or JSON Lines.

    Raises
    ------
    OptionError
        For another format.
    """
    check_choice("fmt", fmt, LIST_FORMATS, "format")
    if fmt == "jsonl":
        return "".join(json.dumps(m.to_dict()) + "\n" for m in metrics)
    multiclass = any(m.accuracy is not None for m in metrics)
    head = "accuracy" if multiclass else "     f1  precision  recall"
    names = column_width("slice", (m.slice for m in metrics))
    lines = [f"{'slice':<{names}} {'size':>6} {'predicted':>9}  {head}"]
    for m in metrics:
        if multiclass:
            values = f"{_text(m.accuracy):>8}"
        else:
            values = f"{_text(m.f1):>7}  {_text(m.precision):>9}  {_text(m.recall):>6}"
        lines.append(f"{m.slice:<{names}} {m.size:>6} {m.predicted:>9}  {values}")
    return "\n".join(lines) + "\n"


def _filled(value: Any) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return False
    return not (isinstance(value, str) and not value.strip())


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
