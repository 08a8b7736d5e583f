"""Data against the task: read it (whole or by partitions) and check ids, texts and labels.

File formats are read by `lfkit.readers`; this module checks what they read against the
task (columns, ids, labels) the same way for a whole file (`read_data`) and for each
partition of a large source (`split_data`), so a loop over partitions in one process, a Dask
cluster and `read_data` see the same rows with the same types.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lfkit.errors import DataError, message, quoted
from lfkit.readers import BLOCKSIZE, Block, read_table, split_source
from lfkit.rules.schema import Task, label_name

_INTEGER = r"-?(?:0|[1-9][0-9]{0,17})"
"""An integer as text, written the one way `str(int)` writes it, within int64."""
_GLOB = frozenset("*?[")


def read_data(path: str | Path, task: Task, *, labels: bool = True) -> pd.DataFrame:
    """Read a data file and check its id, text and (when `labels`) label columns.

    The label column comes back parsed: a list of strings per row (multilabel) or one
    string per row (multiclass). Ids keep the data's type; ids read from CSV or TSV text
    come back as integers where they are written as integers (``42``, not ``042``), as
    `pandas.read_csv` reads them. `path` may also be a glob (``data/*.csv``) or a folder of
    Parquet files: their rows in file-name order.

    Raises
    ------
    DataError
        Naming the file and, where it applies, the line, row or column at fault.
    """
    source = str(path)
    if _GLOB & set(source) or Path(source).is_dir():
        blocks = split_source(source, blocksize=None)
        df = pd.concat([_typed_ids(block(), task, block) for block in blocks], ignore_index=True)
    else:
        df = read_table(path)
        if Path(source).suffix.lower() in (".csv", ".tsv"):
            df = _typed_ids(df, task)
    return check_frame(df, task, columns=_columns(task, labels), source=source)


def split_data(
    source: str | Path, task: Task, *, labels: bool = True, blocksize: int | None = BLOCKSIZE
) -> list[Partition]:
    """Return the partitions of a data source; each reads and checks its rows when called.

    A partition is a small picklable callable: call it in this process (a loop over the
    partitions reads a source of any size with the memory of one partition) or ship it to a
    Dask worker. Its rows equal those `read_data` gives for the same rows (ids, types,
    parsed labels); concatenated in order, the partitions give `read_data(source)`'s rows.

    Parameters
    ----------
    source
        A CSV, TSV, JSON Lines, JSON or Parquet file, a glob of them (read in file-name
        order), a folder of Parquet files, or an fsspec URL.
    task
        The task whose id, text and (when `labels`) label columns each partition must have.
    blocksize
        Bytes per partition, about (CSV and JSON Lines: cut at the next record boundary;
        Parquet: runs of whole row groups). None: one partition per file. A JSON array is
        always one partition.

    Raises
    ------
    DataError
        Here, for an unknown file type, a missing file or a missing column (read from the
        first partition's header); when a partition is called, for rows that do not parse
        and bad ids or labels, naming the file, its byte range and the row. An id repeated
        in two partitions is not detected.
    """
    blocks = split_source(source, blocksize=blocksize)
    columns = _columns(task, labels)
    parts = [Partition(block, task, tuple(columns), number) for number, block in enumerate(blocks)]
    if parts:
        _require(parts[0].block.describe(), list(parts[0].block.head().columns), columns)
    return parts


@dataclass(frozen=True)
class Partition:
    """One partition of a data source: call it to read its rows, checked like `read_data`."""

    block: Block
    task: Task
    columns: tuple[str, ...]
    number: int

    def __call__(self) -> pd.DataFrame:
        return self.check(self.block())

    def empty(self) -> pd.DataFrame:
        """Return a frame with the partition's columns and no rows (reads only a header)."""
        return self.check(self.block.head().iloc[:0])

    def describe(self) -> str:
        """Name the partition in messages: its file and, for part of a file, where in it."""
        return self.block.describe()

    def check(self, df: pd.DataFrame) -> pd.DataFrame:
        """Check rows read by this partition's block; return them with parsed labels."""
        where = self.describe()
        _require(where, list(df.columns), self.columns)
        if not df.empty:
            df = _typed_ids(df, self.task, self.block)
            df = check_frame(df, self.task, columns=self.columns, source=where)
        return df.reset_index(drop=True)


def map_local(func: Callable[..., Any], parts: Sequence[Any], *shared: Any) -> Iterator[Any]:
    """Yield ``func(part, *shared)`` for each partition in turn, in this process.

    The single-process twin of `lfkit.engine.distributed.map_partitions`: code written
    against one runs on the other, with the memory of one partition here.
    """
    for part in parts:
        yield func(part, *shared)


def _columns(task: Task, labels: bool) -> list[str]:
    return [task.id_column, *task.text_columns] + ([task.label_column] if labels else [])


def _typed_ids(df: pd.DataFrame, task: Task, block: Block | None = None) -> pd.DataFrame:
    """Turn ids read as text (CSV, TSV) that are written as integers into integers.

    Each id is looked at on its own, so every partitioning of a file gives the same ids: all
    integers make an int64 column (as `pandas.read_csv` reads it), a mix an object column of
    ints and strings; ``042`` and ``4.0`` stay strings.
    """
    column = task.id_column
    if (block is not None and not block.text_fields) or column not in df.columns:
        return df
    ids = df[column]
    if not pd.api.types.is_object_dtype(ids) and not pd.api.types.is_string_dtype(ids):
        return df
    integer = ids.str.fullmatch(_INTEGER, na=False).to_numpy(dtype=bool)
    if not integer.any():
        return df
    if integer.all():
        return df.assign(**{column: ids.astype(np.int64)})
    values = [int(value) if ok else value for value, ok in zip(ids.tolist(), integer, strict=True)]
    return df.assign(**{column: pd.Series(values, index=df.index, dtype=object)})


def _require(source: str, available: list[str], columns: Sequence[str]) -> None:
    for column in columns:
        if column not in available:
            raise DataError(
                f"column '{column}' is not in the data; available: "
                f"{', '.join(map(str, available))}",
                "set the task's column names in the rules' task section",
                where=source,
            )


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
        raise DataError("the data has no rows", where=source)
    _require(source, list(df.columns), columns)
    ids = df[task.id_column]
    if ids.isna().any():
        row = int(ids.isna().to_numpy().argmax())
        raise DataError(f"row {row + 1} has no id in column '{task.id_column}'", where=source)
    for row, value in enumerate(ids.tolist()):
        if not isinstance(value, str | int | float | bool | np.generic):
            raise DataError(
                f"id {quoted(value)} in column '{task.id_column}' must be a number or a string",
                where=f"{source}: row {row + 1}",
            )
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        first = ids[duplicated].tolist()[0]
        rows = [str(index + 1) for index in duplicated.to_numpy().nonzero()[0][:5]]
        raise DataError(
            f"id {quoted(first)} in column '{task.id_column}' appears more than "
            f"once (rows {', '.join(rows)}); ids must be unique",
            where=source,
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
                str(err),
                where=f"{source}: row {row + 1} (id {quoted(ids[row])}), "
                f"column '{task.label_column}'",
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
            message(
                "expected one class name, got an empty cell",
                "this command needs a class on every row (for unlabelled rows: lfkit label, "
                "lfkit next)",
            )
        )
    value = label_name(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"expected one class name, got {quoted(value)}")
