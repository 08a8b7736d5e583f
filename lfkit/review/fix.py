"""Apply decisions to labels: the corrected labels, the change log, and the corrected data file.

The corrected file keeps the input's format, every other column and value, and the row
order; only the label cells of changed rows are rewritten, encoded as they came.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lfkit.data import check_frame, read_data
from lfkit.display import csv_cell, plain, plural
from lfkit.errors import DataError, OutputError
from lfkit.output import atomic_path, output_name
from lfkit.readers import json_lines, sniff_delimiter
from lfkit.review.decisions import Decision
from lfkit.rules.ruleset import RuleSet

MAX_LISTED = 5
"""Problems listed in one error; the rest are counted."""


@dataclass(frozen=True)
class Change:
    """One decision that changed a row's labels."""

    id: Any
    row: int
    """0-based row of the data."""
    decision: Decision
    before: tuple[str, ...]
    """The row's labels before this decision (multiclass: its one class)."""
    after: tuple[str, ...]

    def describe(self) -> str:
        """Return one line for the change log, e.g. `id 7: + nlp (accept missing, 0.912)`."""
        added = [label for label in self.after if label not in self.before]
        removed = [label for label in self.before if label not in self.after]
        what = " ".join([*(f"+{label}" for label in added), *(f"-{label}" for label in removed)])
        decision = self.decision
        why = [f"{decision.decision} {decision.kind} '{decision.label}'"]
        why += [] if decision.score is None else [f"{decision.score:.3f}"]
        why += [decision.source] if decision.source else []
        return f"id {decision.id}: {what}  ({', '.join(why)})"


@dataclass(frozen=True)
class Correction:
    """The corrected labels of a data set and how they came about."""

    labels: list[Any]
    """Per row: the corrected list of tags (multilabel) or class (multiclass)."""
    changes: tuple[Change, ...]
    unchanged: int
    """Accept/relabel decisions that found the row already as decided."""
    rejected: int

    @property
    def rows(self) -> list[int]:
        """Return the changed rows, in order."""
        return sorted({change.row for change in self.changes})

    def summary(self) -> str:
        """Return one line saying what the decisions did."""
        return (
            f"{plural(len(self.changes), 'label change')} on {plural(len(self.rows), 'row')}; "
            f"{plural(self.rejected, 'flag')} rejected (labels kept); "
            f"{plural(self.unchanged, 'decision')} found the row already as decided"
        )


def correct_labels(
    ruleset: RuleSet, df: pd.DataFrame, decisions: Mapping[Any, Decision], *, source: str = "data"
) -> Correction:
    """Return the labels of `df` as corrected by accepted and relabelled decisions.

    `df` holds parsed labels (as `read_data` returns them); `decisions` is what
    `read_decisions` returns, applied in log order. Accepting a `spurious` flag removes its
    label (multiclass: the row gets the decision's `value`, the suggested class); accepting
    any other kind adds it (multiclass: the row gets that class). Relabel removes the label
    and adds `value`. Reject changes nothing.

    Raises
    ------
    DataError
        Listing the decisions whose id is not in the data or whose labels are not in the
        rules, each with its file line.
    """
    task = ruleset.task
    check_decisions(ruleset, df, decisions.values(), source=source)
    rows = {str(plain(row_id)): row for row, row_id in enumerate(df[task.id_column].tolist())}
    labels = [
        list(value) if ruleset.multilabel else value for value in df[task.label_column].tolist()
    ]
    changes, unchanged, rejected = [], 0, 0
    for decision in decisions.values():
        if decision.decision == "reject":
            rejected += 1
            continue
        row = rows[str(plain(decision.id))]
        before = labels[row]
        after = _decide(before, decision, multilabel=ruleset.multilabel)
        if after == before:
            unchanged += 1
            continue
        labels[row] = after
        row_id = df.at[row, task.id_column]
        changes.append(Change(row_id, row, decision, _tuple(before), _tuple(after)))
    return Correction(labels, tuple(changes), unchanged, rejected)


def apply_decisions(
    ruleset: RuleSet, df: pd.DataFrame, decisions: Mapping[Any, Decision], *, source: str = "data"
) -> pd.DataFrame:
    """Return a copy of `df` (parsed labels) with the labels corrected by the decisions.

    Raises
    ------
    DataError
        As `correct_labels`.
    """
    df = check_frame(
        df, ruleset.task, columns=[ruleset.task.id_column, ruleset.task.label_column], source=source
    )
    correction = correct_labels(ruleset, df, decisions, source=source)
    return df.assign(**{ruleset.task.label_column: correction.labels})


def check_decisions(
    ruleset: RuleSet, df: pd.DataFrame, decisions: Iterable[Decision], *, source: str
) -> None:
    """Refuse decisions about ids that are not in the data or labels that are not in the rules.

    Raises
    ------
    DataError
        One paragraph listing the first few such decisions, each with its file line.
    """
    ids = {str(plain(row_id)) for row_id in df[ruleset.task.id_column].tolist()}
    known = set(ruleset.labels)
    problems = []
    for decision in decisions:
        where = f"line {decision.line}: " if decision.line else ""
        if str(plain(decision.id)) not in ids:
            problems.append(f"{where}id {decision.id!r} is not in {source}")
        for label in (decision.label, *_values(decision)):
            if label not in known:
                problems.append(f"{where}label '{label}' (id {decision.id!r}) is not in the rules")
        takes_value = decision.decision == "relabel" or (
            decision.decision == "accept" and decision.kind == "spurious"
        )
        if not ruleset.multilabel and takes_value and len(_values(decision)) != 1:
            problems.append(
                f"{where}{decision.decision} of a '{decision.kind}' flag on id "
                f"{decision.id!r} needs 'value': the one class the row gets"
            )
    if problems:
        listed = "; ".join(problems[:MAX_LISTED])
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        raise DataError(
            f"{len(problems)} decisions cannot be applied: {listed}{more}",
            "were these decisions made on another data file or with other rules? Fix or remove "
            "those lines (or append an 'undo' for them) and retry",
        )


def fix_file(
    ruleset: RuleSet,
    data: str | Path,
    out: str | Path,
    decisions: Mapping[Any, Decision],
    *,
    force: bool = False,
    option: str = "",
) -> Correction:
    """Write `data` with its labels corrected by the decisions to `out`, in the same format.

    Every other column and value and the row order are kept; a changed label cell is encoded
    as the input encoded it (a JSON list, a JSON list in a string, a delimited string). The
    write is atomic, and `out` must not be `data`. `option` names `out` in messages.

    Raises
    ------
    DataError
        For bad data or decisions that cannot be applied (see `correct_labels`).
    OutputError
        When `out` is the input or has another format.
    """
    data, out = Path(data), Path(out)
    if out.resolve() == data.resolve():
        raise OutputError(
            f"{output_name(out, option)} is the input file; lfkit never overwrites its inputs"
        )
    suffix = data.suffix.lower()
    if out.suffix.lower() != suffix:
        raise OutputError(
            "the corrected data keeps the input's format",
            f"name it *{suffix}",
            where=output_name(out, option),
        )
    df = read_data(data, ruleset.task)
    correction = correct_labels(ruleset, df, decisions, source=str(data))
    new = {row: correction.labels[row] for row in correction.rows}
    writer = _write_parquet if suffix == ".parquet" else _TEXT_WRITERS[suffix]
    with atomic_path(
        out, force=force, option=option
    ) as temp:  # replaces an existing `out` only with force
        writer(data, temp, ruleset, new)
    return correction


def render_changes(changes: Iterable[Change]) -> str:
    """Return the change log as text, one line per change."""
    return "".join(change.describe() + "\n" for change in changes)


CHANGE_COLUMNS = ("id", "label", "kind", "decision", "score", "before", "after", "source", "time")


def changes_csv(changes: Iterable[Change]) -> str:
    """Return the change log as CSV; label lists are joined with '; '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CHANGE_COLUMNS)
    for change in changes:
        decision = change.decision
        writer.writerow(  # no formulas: ids and labels come from data (docs/errors.md)
            csv_cell(cell)
            for cell in [
                plain(change.id),
                decision.label,
                decision.kind,
                decision.decision,
                "" if decision.score is None else f"{decision.score:.4f}",
                "; ".join(change.before),
                "; ".join(change.after),
                decision.source,
                decision.time,
            ]
        )
    return out.getvalue()


def _decide(before: Any, decision: Decision, *, multilabel: bool) -> Any:
    """Return a row's labels after one accept or relabel decision."""
    label, values = decision.label, _values(decision)
    if not multilabel:
        if decision.decision == "relabel" or decision.kind == "spurious":
            return values[0]
        return label
    if decision.decision == "accept" and decision.kind != "spurious":
        return before if label in before else [*before, label]
    after = [tag for tag in before if tag != label]
    return after + [tag for tag in dict.fromkeys(values) if tag not in after]


def _values(decision: Decision) -> tuple[str, ...]:
    value = decision.value
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _tuple(labels: Any) -> tuple[str, ...]:
    return (labels,) if isinstance(labels, str) else tuple(labels)


def _encode(old: Any, labels: Any, like: Any, ruleset: RuleSet) -> Any:
    """Encode corrected labels the way the input encoded this cell (or, if it was empty, the
    way it encoded `like`, another cell of the column)."""
    if not ruleset.multilabel:
        if isinstance(old, int) and not isinstance(old, bool) and labels.lstrip("-").isdigit():
            return int(labels)
        return labels
    if _empty(old):
        old = like
    if not isinstance(old, str):
        return list(labels)
    if old.strip().startswith("["):
        return json.dumps(list(labels), ensure_ascii=old.isascii())
    delimiter = ruleset.task.label_delimiter
    spaced = delimiter + " " if f"{delimiter} " in old else delimiter
    return spaced.join(labels)


def _empty(value: Any) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return True
    return isinstance(value, str) and not value.strip()


def _like(values: list[Any]) -> Any:
    """Return the first non-empty cell of a label column: how the column encodes labels."""
    return next((value for value in values if not _empty(value)), None)


def _read_text(path: Path) -> str:
    """Return a file's text with its line endings as they are (read_text would translate)."""
    return path.read_bytes().decode("utf-8-sig")


def _write_csv(data: Path, temp: Path, ruleset: RuleSet, new: dict[int, Any]) -> None:
    text = _read_text(data)
    sep = "\t" if data.suffix.lower() == ".tsv" else sniff_delimiter(text)
    records = [record for record in csv.reader(io.StringIO(text, newline=""), delimiter=sep)]
    records = [record for record in records if record]  # pandas skips blank lines too
    column = records[0].index(ruleset.task.label_column)
    like = _like([record[column] for record in records[1:] if len(record) > column])
    for row, labels in new.items():
        record = records[row + 1]
        record.extend([""] * (column + 1 - len(record)))
        record[column] = _encode(record[column], labels, like, ruleset)
    header_end = text.find("\n")
    newline = "\r\n" if header_end > 0 and text[header_end - 1] == "\r" else "\n"
    with open(temp, "w", encoding="utf-8", newline="") as out:
        csv.writer(out, delimiter=sep, lineterminator=newline).writerows(records)


def _write_json(data: Path, temp: Path, ruleset: RuleSet, new: dict[int, Any]) -> None:
    text = _read_text(data)
    records = json.loads(text)
    column = ruleset.task.label_column
    like = _like([record.get(column) for record in records])
    for row, labels in new.items():
        records[row][column] = _encode(records[row].get(column), labels, like, ruleset)
    compact = "\n" not in text.strip()
    temp.write_text(
        json.dumps(
            records,
            ensure_ascii=text.isascii(),
            indent=None if compact else 2,
            separators=(",", ":") if compact else None,
        )
        + ("" if compact else "\n"),
        encoding="utf-8",
    )


def _write_jsonl(data: Path, temp: Path, ruleset: RuleSet, new: dict[int, Any]) -> None:
    text = _read_text(data)
    lines = text.split("\n")
    numbered = json_lines(text)  # the rows as read_data reads them: (1-based line, text)
    column = ruleset.task.label_column
    like = _like([json.loads(line).get(column) for _, line in numbered[:100]])
    for row, labels in new.items():
        number, line = numbered[row]
        record = json.loads(line)
        value = _encode(record.get(column), labels, like, ruleset)
        carriage = "\r" if lines[number - 1].endswith("\r") else ""
        lines[number - 1] = _replace_value(line, column, value) + carriage
    with open(temp, "w", encoding="utf-8", newline="") as out:
        out.write("\n".join(lines))


def _replace_value(line: str, key: str, value: Any) -> str:
    """Return a JSON object's line with the value of `key` replaced and every other byte kept,
    the new value written in the line's style (compact or spaced separators, ASCII or not).

    Examples
    --------
    >>> _replace_value('{"id":1,"tags":["a"],"n":1.50}', "tags", ["a", "b"])
    '{"id":1,"tags":["a","b"],"n":1.50}'
    >>> _replace_value('{"id": 1}', "tags", ["a", "b"])
    '{"id": 1, "tags": ["a", "b"]}'
    """
    decoder = json.JSONDecoder()
    found, spaced = None, None
    index = line.index("{") + 1
    while (index := _skip_space(line, index)) < len(line) and line[index] != "}":
        name, index = decoder.raw_decode(line, index)
        index = _skip_space(line, index) + 1  # past the colon
        if spaced is None:
            spaced = line[index : index + 1].isspace()
        start = index = _skip_space(line, index)
        _, index = decoder.raw_decode(line, index)
        if name == key:
            found = (start, index)  # the last one wins, as in json.loads
        index = _skip_space(line, index)
        index += line[index : index + 1] == ","
    separators = (", ", ": ") if spaced else (",", ":")
    encoded = json.dumps(value, ensure_ascii=line.isascii(), separators=separators)
    if found is not None:
        return line[: found[0]] + encoded + line[found[1] :]
    closing = line.rindex("}")
    head = line[:closing].rstrip()
    comma = "" if head.endswith("{") else separators[0]
    return f"{head}{comma}{json.dumps(key)}{separators[1]}{encoded}{line[closing:]}"


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _write_parquet(data: Path, temp: Path, ruleset: RuleSet, new: dict[int, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(data)
    column = ruleset.task.label_column
    index = table.schema.get_field_index(column)
    values = table.column(index).to_pylist()
    like = _like(values)
    for row, labels in new.items():
        values[row] = _encode(values[row], labels, like, ruleset)
    field = table.schema.field(index)
    try:
        array = pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise DataError(
            f"column '{column}' of type {field.type} cannot hold the corrected labels ({err})",
            where=str(data),
        ) from None
    pq.write_table(table.set_column(index, field, array), temp)


_TEXT_WRITERS = {
    ".csv": _write_csv,
    ".tsv": _write_csv,
    ".json": _write_json,
    ".jsonl": _write_jsonl,
    ".ndjson": _write_jsonl,
}
