"""Read data files as they are (CSV, TSV, JSON, JSON Lines, Parquet): whole, or in blocks.

This module knows file formats, not tasks: `lfkit.data` checks what it reads against a task.
Two ways in:

- `read_table(path)` reads one whole local file in this process (bounded: at most
  `MAX_TEXT_BYTES` of CSV or JSON text).
- `split_source(source, blocksize=...)` cuts a file, a glob of files or a Parquet folder into
  blocks: small picklable callables that each read their rows when called, in this process
  or on a Dask worker. CSV and TSV files split only where a line break is outside quotes,
  JSON Lines at line breaks, Parquet files by row groups; a JSON array is one block.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

import fsspec
import pandas as pd

from lfkit.errors import DataError, FileProblem
from lfkit.files import check_regular, read_limited

DATA_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet")
MAX_TEXT_BYTES = 2 << 30
"""The largest CSV/JSON file `read_table` reads into memory at once (blocks read larger ones)."""
BLOCKSIZE = 64 * 2**20
"""Bytes per block of CSV, JSON Lines or Parquet (a block ends at the next record boundary)."""
_SCAN_CHUNK = 16 * 2**20
_QUOTE, _NEWLINE = b'"', b"\n"


class Block(Protocol):
    """A piece of a data source: call it to read its rows (as they are in the file)."""

    text_fields: bool
    """True when every field was read as text (CSV, TSV): ids may still be numbers."""

    def __call__(self) -> pd.DataFrame: ...

    def head(self) -> pd.DataFrame:
        """Return the first rows (at least the column names), reading little."""
        ...

    def describe(self) -> str:
        """Name the block in messages: the file and, for part of a file, its byte range."""
        ...


# Whole files, in this process -----------------------------------------------------------------


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a data file as it is, without checking it against a task.

    Raises
    ------
    DataError
        For an unknown file type or a file that does not parse.
    """
    path = Path(path)
    suffix = _suffix(str(path))
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
            f"row {row + 1} has {len(df.columns) + 1} fields but the header names "
            f"{len(df.columns)} columns",
            "quote fields that hold the delimiter, or name the extra column in the header",
            where=source,
        )
    fields = df.reset_index().iloc[:, :-1]
    fields.columns = df.columns
    return fields


def sniff_delimiter(text: str) -> str:
    """Return the delimiter of CSV text (one of , ; tab |), as `read_table` reads it."""
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:  # e.g. lines that end in a delimiter the header lacks: trust the header
        header = text[: text.find("\n")] if "\n" in text else text
        counts = {sep: header.count(sep) for sep in ",;\t|"}
        best = max(counts, key=lambda sep: counts[sep])
        return best if counts[best] else ","


def _suffix(source: str) -> str:
    suffix = Path(source).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataError(
            f"unknown data file type '{suffix or '(none)'}'; expected one "
            f"of {', '.join(DATA_SUFFIXES)}",
            where=source,
        )
    return suffix


def _read_text(path: Path) -> str:
    try:
        raw = read_limited(path, MAX_TEXT_BYTES)
    except FileProblem as err:
        big = "read it in blocks (lfkit.data.split_data, or a Dask cluster)"
        hint = big if "more than" in err.problem else err.hint
        raise DataError(err.problem, hint, where=f"{path}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(
            f"byte {raw[err.start]:#04x} at offset {err.start} is not UTF-8",
            "convert the file to UTF-8 (e.g. iconv -t utf-8)",
            where=f"{path}:{line}",
        ) from None


def _read_csv(path: Path | str, text: str, sep: str | None, hint: str = "") -> pd.DataFrame:
    sep = sep or sniff_delimiter(text)
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise DataError(
            f"not a readable CSV file ({' '.join(str(err).split())})", hint, where=str(path)
        ) from None
    return unshift_csv(df, str(path))


def _parse_json(path: Path, text: str, line: int = 0) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = f"{path}:{line}" if line else f"{path}:{err.lineno}"
        raise DataError(f"not valid JSON ({err.msg} at column {err.colno})", where=where) from None
    except RecursionError:
        raise DataError("JSON nested too deeply", where=str(path)) from None


def _records(path: Path | str, data: Any, what: str) -> pd.DataFrame:
    rows = data if isinstance(data, list) else None
    if rows is None or not all(isinstance(row, dict) for row in rows):
        raise DataError(
            f"expected {what} to hold JSON objects (one per row)"
            + (", as a JSON array" if what == "the file" else ""),
            where=str(path),
        )
    return pd.DataFrame(rows)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        check_regular(path)
    except FileProblem as err:
        raise DataError(err.problem, err.hint, where=f"{path}") from None
    try:
        return pd.read_parquet(path)
    except OSError as err:
        raise DataError(f"cannot read the Parquet file ({err})", where=str(path)) from None
    except Exception as err:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"not a readable Parquet file ({err})", where=str(path)) from None


# Blocks, read where they are called ----------------------------------------------------------


def split_source(source: str | Path, *, blocksize: int | None = BLOCKSIZE) -> list[Block]:
    """Cut a data source into blocks of about `blocksize` bytes, in file and row order.

    `source` is a file, a glob (``data/*.csv``, files in name order), a folder of Parquet
    files, or an fsspec URL (``s3://...`` with s3fs installed). Only file sizes, CSV
    headers, a scan of CSV bytes for quote characters, the first line of JSON Lines files
    and Parquet footers are read here; each block reads its rows when called.
    `blocksize=None` makes each file one block.

    Raises
    ------
    DataError
        For an unknown file type, or a file that cannot be found or opened.
    """
    text = str(source)
    folder = Path(text).is_dir()
    suffix = ".parquet" if folder else _suffix(text)
    fs, paths = _expand(f"{text.rstrip('/')}/**/*.parquet" if folder else text)
    blocks: list[Block] = []
    for path in paths:
        if suffix == ".json":
            blocks.append(WholeFile(path))
        elif suffix in (".csv", ".tsv"):
            blocks.extend(_csv_blocks(fs, path, "\t" if suffix == ".tsv" else None, blocksize))
        elif suffix == ".parquet":
            blocks.extend(_parquet_blocks(fs, path, blocksize))
        else:
            blocks.extend(_line_blocks(fs, path, blocksize))
    return blocks


def _expand(source: str) -> tuple[Any, list[str]]:
    """Return the file system and the regular files a path or glob names, sorted."""
    try:
        fs, _, paths = fsspec.core.get_fs_token_paths(source)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the file ({err})", where=source) from None
    paths = sorted(paths)
    if not paths:
        raise DataError("cannot read the file (no such file)", where=source)
    for path in paths:
        if fs.protocol in ("file", ("file", "local")):
            try:
                check_regular(Path(path))
            except FileProblem as err:
                raise DataError(err.problem, err.hint, where=f"{path}") from None
        if not fs.isfile(path):
            raise DataError("cannot read the file (no such file)", where=path)
    return fs, paths


@dataclass(frozen=True)
class WholeFile:
    """A whole JSON file (an array of objects), read like `read_table` reads it."""

    path: str
    text_fields = False

    def __call__(self) -> pd.DataFrame:
        return read_table(self.path)

    def head(self) -> pd.DataFrame:
        return self()

    def describe(self) -> str:
        return self.path


@dataclass(frozen=True)
class CsvBlock:
    """Bytes [start, end) of a CSV or TSV file, parsed with the file's header."""

    path: str
    header: bytes
    start: int
    end: int
    sep: str
    whole: bool = False
    text_fields = True

    def __call__(self) -> pd.DataFrame:
        return self._parse(_read_range(self.path, self.start, self.end))

    def head(self) -> pd.DataFrame:
        return self._parse(b"")

    def describe(self) -> str:
        return self.path if self.whole else f"{self.path} (bytes {self.start}-{self.end})"

    def _parse(self, data: bytes) -> pd.DataFrame:
        text = _decode(self.header + data, self.path, self.start - len(self.header))
        hint = (
            ""
            if self.whole
            else "a quote character inside an unquoted field can split the file in the wrong "
            "place: read it with blocksize=None"
        )
        return _read_csv(self.describe(), text, self.sep, hint)


@dataclass(frozen=True)
class LineBlock:
    """Bytes [start, end) of a JSON Lines file: one JSON object per line."""

    path: str
    start: int
    end: int
    columns: tuple[str, ...]
    whole: bool = False
    text_fields = False

    def __call__(self) -> pd.DataFrame:
        return self._parse(_read_range(self.path, self.start, self.end))

    def head(self) -> pd.DataFrame:
        data = _read_range(self.path, self.start, min(self.end, self.start + 65536))
        complete = self.start + len(data) >= self.end
        return self._parse(data if complete else data[: data.rfind(_NEWLINE) + 1])

    def describe(self) -> str:
        return self.path if self.whole else f"{self.path} (bytes {self.start}-{self.end})"

    def _parse(self, data: bytes) -> pd.DataFrame:
        text = _decode(data, self.path, self.start)
        rows = []
        for number, line in json_lines(text):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(
                    f"not valid JSON ({err.msg} at column {err.colno})",
                    where=f"{self.describe()}, line {number}",
                ) from None
            if not isinstance(row, dict):
                raise DataError("expected each line to hold a JSON object", where=self.describe())
            rows.append(row)
        df = pd.DataFrame(rows)
        extra = [column for column in self.columns if column not in df.columns]
        return df.assign(**dict.fromkeys(extra)) if extra else df


@dataclass(frozen=True)
class ParquetBlock:
    """Some row groups of a Parquet file (all of them when `row_groups` is empty)."""

    path: str
    row_groups: tuple[int, ...] = ()
    whole: bool = True
    text_fields = False

    def __call__(self) -> pd.DataFrame:
        return self._read(self.row_groups)

    def head(self) -> pd.DataFrame:
        return self._read(self.row_groups[:1] or (0,)).head(0)

    def describe(self) -> str:
        if self.whole:
            return self.path
        first, last = self.row_groups[0], self.row_groups[-1]
        return f"{self.path} (row groups {first}-{last})"

    def _read(self, groups: tuple[int, ...]) -> pd.DataFrame:
        import pyarrow.parquet as pq

        try:
            with fsspec.open(self.path, "rb") as file:
                parquet = pq.ParquetFile(file)
                table = parquet.read_row_groups(list(groups)) if groups else parquet.read()
            frame: pd.DataFrame = table.to_pandas()  # pyarrow has no type hints
            return frame.reset_index(drop=True)
        except OSError as err:
            raise DataError(
                f"cannot read the Parquet file ({err})", where=self.describe()
            ) from None
        except Exception as err:  # pyarrow raises its own error types for corrupt files
            raise DataError(f"not a readable Parquet file ({err})", where=self.describe()) from None


def _read_range(path: str, start: int, end: int) -> bytes:
    try:
        with fsspec.open(path, "rb") as file:
            file.seek(start)
            data: bytes = file.read(end - start)
            return data
    except OSError as err:
        raise DataError(f"cannot read the file ({err})", where=path) from None


def _decode(data: bytes, path: str, offset: int) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"byte {data[err.start]:#04x} at offset {offset + err.start} is not UTF-8",
            "convert the file to UTF-8 (e.g. iconv -t utf-8)",
            where=path,
        ) from None


def _csv_blocks(fs: Any, path: str, sep: str | None, blocksize: int | None) -> list[CsvBlock]:
    """Split a CSV file into blocks that end at line breaks outside quotes."""
    size = fs.size(path)
    with fs.open(path, "rb") as file:
        if sep is None:
            sep = sniff_delimiter(file.read(65536).decode("utf-8", "replace"))
            file.seek(0)
        splits, balanced = _quoted_splits(file, blocksize)
        if len(splits) < 2 or splits[1] >= size:
            raise DataError("the data has no rows", where=path)
        file.seek(0)
        header = file.read(splits[1])
    starts = splits[1:] if balanced and blocksize else splits[1:2]
    bounds = [start for start in starts if start < size] + [size]
    whole = len(bounds) == 2
    return [CsvBlock(path, header, a, b, sep, whole) for a, b in pairwise(bounds)]


def _quoted_splits(file: Any, blocksize: int | None) -> tuple[list[int], bool]:
    """Return 0, the end of the header, then a record start about every `blocksize` bytes.

    A record starts after a line break preceded by an even number of quote characters
    (RFC 4180 doubles quotes inside quoted fields, so the parity says whether a line break
    is inside a field). With a `blocksize` the whole file is scanned once, and the flag says
    whether it holds an even number of quotes, without which the splits cannot be trusted;
    without one, the scan stops at the end of the header.
    """
    splits = [0]
    target = 0  # the header ends at the first line break outside quotes
    quotes = 0  # quote characters before chunk[counted]
    pos = 0
    while chunk := file.read(_SCAN_CHUNK):
        counted = 0
        while target < pos + len(chunk):
            newline = chunk.find(_NEWLINE, max(target - pos, counted))
            if newline < 0:
                break
            quotes += chunk.count(_QUOTE, counted, newline)
            counted = newline
            target = pos + newline + 1
            if quotes % 2 == 0:
                splits.append(target)
                if not blocksize:
                    return splits, True
                target += blocksize
        quotes += chunk.count(_QUOTE, counted)
        pos += len(chunk)
    return splits, quotes % 2 == 0


def _line_blocks(fs: Any, path: str, blocksize: int | None) -> list[LineBlock]:
    """Split a JSON Lines file into blocks that end at line breaks."""
    size = fs.size(path)
    starts = [0]
    with fs.open(path, "rb") as file:
        first = file.readline()
        while blocksize and starts[-1] + blocksize < size:
            file.seek(starts[-1] + blocksize)
            file.readline()
            if file.tell() >= size:
                break
            starts.append(file.tell())
    columns: tuple[str, ...] = ()
    try:
        row = json.loads(first.decode("utf-8-sig")) if first.strip() else {}
        columns = tuple(row) if isinstance(row, dict) else ()
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass  # reported with its line when the block is read
    bounds = [*starts, size]
    whole = len(bounds) == 2
    return [LineBlock(path, a, b, columns, whole) for a, b in pairwise(bounds)]


def _parquet_blocks(fs: Any, path: str, blocksize: int | None) -> list[ParquetBlock]:
    """Split a Parquet file into runs of row groups of about `blocksize` bytes (uncompressed)."""
    import pyarrow.parquet as pq

    try:
        with fs.open(path, "rb") as file:
            meta = pq.ParquetFile(file).metadata
    except Exception as err:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"not a readable Parquet file ({err})", where=path) from None
    if not blocksize or meta.num_row_groups < 2:
        return [ParquetBlock(path)]
    runs: list[list[int]] = [[]]
    size = 0
    for group in range(meta.num_row_groups):
        if runs[-1] and size >= blocksize:
            runs.append([])
            size = 0
        runs[-1].append(group)
        size += meta.row_group(group).total_byte_size
    if len(runs) == 1:
        return [ParquetBlock(path)]
    return [ParquetBlock(path, tuple(run), whole=False) for run in runs]
