"""Read data files (CSV, JSON, JSON Lines, Parquet) and check them against the task."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lfkit.errors import DataError, quoted
from lfkit.files import FileProblem, check_regular, read_limited
from lfkit.rules.schema import Task, label_name

DATA_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet")
MAX_TEXT_BYTES = 2 << 30
"""The largest CSV/JSON file read into memory at once (the Dask engine reads larger ones)."""


def read_data(path: str | Path, task: Task, *, labels: bool = True) -> pd.DataFrame:
    """Read a data file and check its id, text and (when `labels`) label columns.

    The label column comes back parsed: a list of strings per row (multilabel) or one
    string per row (multiclass).

    Raises
    ------
    DataError
        Naming the file and, where it applies, the line, row or column at fault.
    """
    path = Path(path)
    df = _read_table(path)
    columns = [task.id_column, *task.text_columns] + ([task.label_column] if labels else [])
    return check_frame(df, task, columns=columns, source=str(path))


def check_frame(
    df: pd.DataFrame, task: Task, *, columns: Sequence[str], source: str
) -> pd.DataFrame:
    """Check required columns, ids and labels of a DataFrame; return it with parsed labels.

    Raises
    ------
    DataError
        For a missing column, an empty table, duplicate or missing ids, or bad labels.
    """
    if df.empty:
        raise DataError(f"{source}: the data has no rows")
    for column in columns:
        if column not in df.columns:
            raise DataError(
                f"{source}: column '{column}' is not in the data; available: "
                f"{', '.join(map(str, df.columns))}; hint: set the task's column "
                "names in the rules' task section"
            )
    ids = df[task.id_column]
    if ids.isna().any():
        row = int(ids.isna().to_numpy().argmax())
        raise DataError(f"{source}: row {row + 1} has no id in column '{task.id_column}'")
    for row, value in enumerate(ids.tolist()):
        if not isinstance(value, str | int | float | bool | np.generic):
            raise DataError(
                f"{source}: row {row + 1}: id {quoted(value)} in column '{task.id_column}' "
                "must be a number or a string"
            )
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        first = ids[duplicated].tolist()[0]
        rows = [str(index + 1) for index in duplicated.to_numpy().nonzero()[0][:5]]
        raise DataError(
            f"{source}: id {quoted(first)} in column '{task.id_column}' appears more than "
            f"once (rows {', '.join(rows)}); ids must be unique"
        )
    df = df.reset_index(drop=True)
    if task.label_column in columns:
        df = df.assign(**{task.label_column: parse_labels(df, task, source=source)})
    return df


def parse_labels(df: pd.DataFrame, task: Task, *, source: str) -> list[Any]:
    """Return the label column as lists of tags (multilabel) or one class per row.

    Raises
    ------
    DataError
        Naming the row and id of the first label that does not parse.
    """
    parsed: list[Any] = []
    ids = df[task.id_column].tolist()
    for row, value in enumerate(df[task.label_column].tolist()):
        try:
            parsed.append(
                _tags(value, task.label_delimiter) if task.kind == "multilabel" else _class(value)
            )
        except ValueError as err:
            raise DataError(
                f"{source}: row {row + 1} (id {quoted(ids[row])}), "
                f"column '{task.label_column}': {err}"
            ) from None
    return parsed


def _tags(value: Any, delimiter: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(
                    f"{text[:80]!r} looks like a JSON list but does not parse"
                ) from None
        else:
            return [tag.strip() for tag in text.split(delimiter) if tag.strip()]
    if value is None or (isinstance(value, float) and value != value):
        return []
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValueError(f"expected a list of tags (strings), got {quoted(value)}")
    return [tag.strip() for tag in value if tag.strip()]


def _class(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        raise ValueError(
            "expected one class name, got an empty cell; hint: this command needs a class on "
            "every row (for unlabelled rows: lfkit label, lfkit next)"
        )
    value = label_name(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"expected one class name, got {quoted(value)}")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a data file as it is, without checking it against a task.

    Raises
    ------
    DataError
        For an unknown file type or a file that does not parse.
    """
    return _read_table(Path(path))


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataError(
            f"{path}: unknown data file type '{suffix or '(none)'}'; expected one "
            f"of {', '.join(DATA_SUFFIXES)}"
        )
    if suffix == ".parquet":
        return _read_parquet(path)
    text = _read_text(path)
    if suffix in (".csv", ".tsv"):
        return _read_csv(path, text, "\t" if suffix == ".tsv" else None)
    if suffix == ".json":
        return _records(path, _parse_json(path, text), "the file")
    rows = [_parse_json(path, line, line=number) for number, line in json_lines(text)]
    return _records(path, rows, "each line")


def json_lines(text: str) -> list[tuple[int, str]]:
    """Return the non-blank lines of JSON Lines text with their 1-based numbers.

    Lines end at '\\n' (and '\\r\\n') only: U+2028, U+0085 and the other characters that
    `str.splitlines` also breaks at are valid inside JSON strings.

    Examples
    --------
    >>> json_lines('{"a": "x\u2028y"}\\r\\n\\n{"a": 1}\\n')
    [(1, '{"a": "x\u2028y"}'), (3, '{"a": 1}')]
    """
    lines = text.split("\n")
    return [
        (number, line.removesuffix("\r"))
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]


def _read_text(path: Path) -> str:
    try:
        raw = read_limited(path, MAX_TEXT_BYTES)
    except FileProblem as err:
        hint = "; hint: read it in blocks on a Dask cluster (--local-cluster N)"
        raise DataError(f"{path}: {err}" + (hint if "more than" in str(err) else "")) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(
            f"{path}:{line}: byte {raw[err.start]:#04x} at offset {err.start} is "
            "not UTF-8; hint: convert the file to UTF-8 (e.g. iconv -t utf-8)"
        ) from None


def _read_csv(path: Path, text: str, sep: str | None) -> pd.DataFrame:
    sep = sep or sniff_delimiter(text)
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise DataError(f"{path}: not a readable CSV file ({' '.join(str(err).split())})") from None
    return unshift_csv(df, str(path))


def unshift_csv(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Undo the shift pandas makes when data lines hold one field more than the header.

    pandas then takes the first field of every line as the index, and every column reads the
    field to its left (ids become titles). When the extra last field is empty on every line
    (a trailing delimiter), the fields go back under their header names; otherwise a value
    would be lost, and the file is refused.

    Raises
    ------
    DataError
        Naming the first row whose extra field holds a value.
    """
    if isinstance(df.index, pd.RangeIndex):
        return df
    extra = df[df.columns[-1]].notna().to_numpy()
    if extra.any():
        row = int(extra.argmax())
        raise DataError(
            f"{source}: row {row + 1} has {len(df.columns) + 1} fields but the header names "
            f"{len(df.columns)} columns; hint: quote fields that hold the delimiter, or name "
            "the extra column in the header"
        )
    fields = df.reset_index().iloc[:, :-1]
    fields.columns = df.columns
    return fields


def sniff_delimiter(text: str) -> str:
    """Return the delimiter of CSV text (one of , ; tab |), as `read_data` reads it."""
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:  # e.g. lines that end in a delimiter the header lacks: trust the header
        header = text[: text.find("\n")] if "\n" in text else text
        counts = {sep: header.count(sep) for sep in ",;\t|"}
        best = max(counts, key=lambda sep: counts[sep])
        return best if counts[best] else ","


def _parse_json(path: Path, text: str, line: int = 0) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = f"{path}:{line}" if line else f"{path}:{err.lineno}"
        raise DataError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply") from None


def _records(path: Path, data: Any, what: str) -> pd.DataFrame:
    rows = data if isinstance(data, list) else None
    if rows is None or not all(isinstance(row, dict) for row in rows):
        raise DataError(
            f"{path}: expected {what} to hold JSON objects (one per row)"
            + (", as a JSON array" if what == "the file" else "")
        )
    return pd.DataFrame(rows)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        check_regular(path)
    except FileProblem as err:
        raise DataError(f"{path}: {err}") from None
    try:
        return pd.read_parquet(path)
    except OSError as err:
        raise DataError(f"{path}: cannot read the Parquet file ({err})") from None
    except Exception as err:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"{path}: not a readable Parquet file ({err})") from None
