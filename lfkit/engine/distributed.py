"""The Dask engine: the same rules on a Dask cluster, partition by partition, in row order.

Each partition of a `dask.dataframe.DataFrame` goes through `lfkit.apply_rules` on a worker;
the client stacks the sparse per-partition votes in partition order, so the result equals
the local engine's on the same rows, row for row. Files are read partition by partition on
the workers (CSV and TSV split only where a line break is outside quotes, JSON Lines at line
breaks, Parquet by file or row group). The label model's counts per partition live a layer
up, in lfkit.model.distributed.

Workers need lfkit installed (the same version); a rule set travels to each worker once
and is compiled there on first use.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pickle
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import fsspec
import numpy as np
import pandas as pd
from distributed import Client
from scipy import sparse

from lfkit.data import DATA_SUFFIXES, check_frame, json_lines, unshift_csv
from lfkit.engine.apply import _fields, apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import DataError, LfkitError
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.schema import Task

BLOCKSIZE = 64 * 2**20
"""Bytes of CSV or JSON Lines per partition (a partition ends at the next record boundary)."""
_SCAN_CHUNK = 16 * 2**20
_RULESETS: dict[str, RuleSet] = {}
"""Rule sets a worker process has seen, by content: compiled plans are cached per object."""
_QUOTE, _NEWLINE = b'"', b"\n"


def connect(
    scheduler: str | None = None, local_workers: int | None = None, *, timeout: str = "10s"
) -> Client:
    """Return a Dask client: of a running scheduler, or of a new cluster on this machine.

    Use it as a context manager; closing the client also stops a cluster it started.

    Parameters
    ----------
    scheduler
        Address of a running scheduler, such as ``tcp://10.0.0.5:8786``.
    local_workers
        Without `scheduler`: worker processes of a new local cluster (one thread each),
        listening on 127.0.0.1 only. Default: one per CPU.
    timeout
        How long to wait for the scheduler.

    Raises
    ------
    LfkitError
        When both or a bad number are given, or the scheduler cannot be reached.
    """
    if scheduler and local_workers is not None:
        raise LfkitError("give either a scheduler address or a number of local workers, not both")
    if scheduler:
        _check_scheduler(scheduler, float(str(timeout).removesuffix("s")))
        try:
            return Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise LfkitError(
                f"cannot reach the Dask scheduler at {scheduler} ({err}); hint: start one with "
                "'dask scheduler' and give the address it prints (tcp://HOST:8786)"
            ) from None
    workers = local_workers if local_workers is not None else os.cpu_count() or 1
    if workers < 1:
        raise LfkitError(f"a local cluster needs at least 1 worker, got {workers}")
    return Client(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # any free port: never clash with another cluster
    )


_HANDSHAKE_MAX_BYTES = 1 << 20


def _check_scheduler(address: str, timeout: float) -> None:
    """Make sure a TCP address answers like a Dask scheduler before a Client trusts it.

    A Dask scheduler speaks first: a length-prefixed handshake of a few hundred bytes. A port
    that accepts and stays silent would block a Client forever, and one that answers
    something else (an HTTP server) can make it allocate exabytes for a "length".

    Raises
    ------
    LfkitError
        When the address cannot be reached, stays silent or does not speak Dask's protocol.
    """
    if "://" in address and not address.startswith("tcp://"):
        return  # tls:// and others: left to dask
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        return  # let dask explain what is wrong with the address
    hint = "hint: start one with 'dask scheduler' and give the address it prints (tcp://HOST:8786)"
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            header = _receive(sock, 8, deadline)
            (size,) = struct.unpack("Q", header)
            if not 0 < size <= _HANDSHAKE_MAX_BYTES:
                raise LfkitError(
                    f"{address} answered, but not as a Dask scheduler (a message of {size:,} "
                    f"bytes announced); {hint}"
                )
            _receive(sock, size, deadline)
    except TimeoutError:
        raise LfkitError(
            f"{address} accepted the connection but sent no Dask handshake within "
            f"{timeout:g} s: not a Dask scheduler, or one that hangs; {hint}"
        ) from None
    except OSError as err:
        raise LfkitError(
            f"cannot reach the Dask scheduler at {address} ({err.strerror or err}); {hint}"
        ) from None


def _receive(sock: socket.socket, size: int, deadline: float) -> bytes:
    data = b""
    while len(data) < size:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(min(size - len(data), 65536))
        if not chunk:
            raise OSError(0, "the connection closed during the handshake")
        data += chunk
    return data


def read_data_dask(
    path: str | Path,
    task: Task,
    *,
    labels: bool = True,
    blocksize: int | None = BLOCKSIZE,
) -> dd.DataFrame:
    """Read a data file lazily, partition by partition, with the checks of `lfkit.read_data`.

    CSV and TSV files are split into blocks of about `blocksize` bytes, each ending at a
    line break outside quotes, so quoted line breaks stay inside their field (a file with an
    odd number of quote characters is read as one partition). JSON Lines files are split at
    line breaks, Parquet files (or folders of them) by file or row group, and a JSON array is
    one partition. `blocksize=None` reads each file as one partition. A glob such as
    ``data/*.csv`` reads the matching files in name order.

    Columns are checked on the client; ids (missing or repeated within a partition) and
    labels are checked on the workers, when the data is computed. Ids repeated in different
    partitions are not detected.

    Raises
    ------
    DataError
        For an unknown file type, a file that cannot be read, or a missing column; at compute
        time, for bad ids or labels, naming the file and the partition.
    """
    source = str(path)
    suffix = Path(source).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        if Path(source).is_dir():
            suffix = ".parquet"
        else:
            raise DataError(
                f"{source}: unknown data file type '{suffix or '(none)'}'; expected one "
                f"of {', '.join(DATA_SUFFIXES)}"
            )
    columns = [task.id_column, *task.text_columns] + ([task.label_column] if labels else [])
    if suffix == ".parquet":
        return _read_parquet(source, task, columns, labels)
    fs, paths = _expand(source)
    if suffix == ".json" or blocksize is None:
        return _from_parts(paths, task, columns, labels, [_WholeFile(p) for p in paths])
    parts: list[Any] = []
    for file in paths:
        if suffix in (".csv", ".tsv"):
            parts.extend(_csv_blocks(fs, file, "\t" if suffix == ".tsv" else None, blocksize))
        else:
            parts.extend(_line_blocks(fs, file, blocksize))
    return _from_parts(paths, task, columns, labels, parts)


def apply_rules_dask(ruleset: RuleSet, ddf: dd.DataFrame) -> Votes:
    """Apply every rule to every row on the cluster; return the local engine's votes, in order.

    Runs on the current Dask scheduler (the client of `connect`, once created, or any other).

    Raises
    ------
    DataError
        When a text column the rules need is not in the DataFrame (or, at compute time, when
        reading a partition fails).
    """
    _check_columns(ruleset, ddf, _fields(ruleset))
    rules = _shipped(ruleset)
    tasks = [dask.delayed(_partition_votes)(*rules, part) for part in ddf.to_delayed()]
    fired = dask.compute(*tasks)
    n_rules = len(ruleset)
    stacked = sparse.csr_array(
        sparse.vstack(fired, format="csr") if fired else sparse.csr_array((0, n_rules), dtype=bool)
    )
    stacked.sort_indices()
    values = np.array([rule.value for rule in ruleset.rules], dtype=np.int64)
    return Votes(stacked, values, tuple(ruleset.rule_names))


def _shipped(ruleset: RuleSet) -> tuple[Any, str]:
    """Return the rule set as one graph node (sent once per worker) and its content key."""
    key = hashlib.sha256(pickle.dumps(ruleset)).hexdigest()
    return dask.delayed(ruleset, pure=True, traverse=False, name=f"lfkit-rules-{key}"), key


def _compiled(ruleset: RuleSet, key: str) -> RuleSet:
    """Return the copy of this rule set the worker process saw first, compiled already."""
    if key not in _RULESETS:
        if len(_RULESETS) >= 8:
            _RULESETS.pop(next(iter(_RULESETS)))
        _RULESETS[key] = ruleset
    return _RULESETS[key]


def _partition_votes(ruleset: RuleSet, key: str, df: pd.DataFrame) -> sparse.csr_array:
    return apply_rules(_compiled(ruleset, key), df).fired


def _check_columns(ruleset: RuleSet, ddf: dd.DataFrame, needed: Sequence[str]) -> None:
    missing = [column for column in needed if column not in ddf.columns]
    if missing:
        raise DataError(
            f"column '{missing[0]}' is not in the Dask DataFrame; "
            f"available: {', '.join(map(str, ddf.columns))}"
        )


# Reading -------------------------------------------------------------------------------------


def _expand(source: str, *, folders: bool = False) -> tuple[Any, list[str]]:
    """Return the file system and the files a path or glob names, sorted."""
    try:
        fs, _, paths = fsspec.core.get_fs_token_paths(source)
    except (OSError, ValueError) as err:
        raise DataError(f"{source}: cannot read the file ({err})") from None
    paths = sorted(paths)
    found = fs.exists if folders else fs.isfile
    if not paths or not all(found(path) for path in paths):
        raise DataError(f"{source}: cannot read the file (no such file)")
    return fs, paths


def _read_parquet(source: str, task: Task, columns: list[str], labels: bool) -> dd.DataFrame:
    _expand(source, folders=True)
    try:
        with _keep_objects():
            ddf = dd.read_parquet(source)
    except Exception as err:  # pyarrow and fsspec raise their own error types
        reason = " ".join(str(err).split("Original Message:")[-1].split())
        raise DataError(f"{source}: not a readable Parquet file ({reason})") from None
    _require(source, list(ddf.columns), columns)
    finish = _Finish(source, task, columns, labels)
    return ddf.map_partitions(_finish_partition, finish, meta=finish(ddf._meta, source))


def _finish_partition(
    df: pd.DataFrame, finish: _Finish, partition_info: dict[str, Any] | None = None
) -> pd.DataFrame:
    number = partition_info["number"] if partition_info else "?"
    return finish(df, f"{finish.source}, partition {number}")


def _from_parts(
    paths: list[str], task: Task, columns: list[str], labels: bool, parts: list[Any]
) -> dd.DataFrame:
    """Build a DataFrame whose partitions `parts` read on the workers (`part()` is a frame)."""
    heads = [part.head() for part in parts[:1]]
    head = heads[0] if heads else pd.DataFrame()
    _require(paths[0], list(head.columns), columns)
    finish = _Finish(paths[0], task, columns, labels)
    meta = finish(head.iloc[:0], paths[0])
    with _keep_objects():
        return dd.from_map(
            _read_part, parts, args=(finish,), meta=meta, label="lfkit-read", enforce_metadata=False
        )


def _keep_objects() -> Any:
    """Keep object columns as they are: Dask would turn lists of tags into strings."""
    return dask.config.set({"dataframe.convert-string": False})


def _read_part(part: Any, finish: _Finish) -> pd.DataFrame:
    return finish(part(), part.describe())


def _require(source: str, available: list[str], columns: list[str]) -> None:
    for column in columns:
        if column not in available:
            raise DataError(
                f"{source}: column '{column}' is not in the data; available: "
                f"{', '.join(map(str, available))}; hint: set the task's column "
                "names in the rules' task section"
            )


@dataclass(frozen=True)
class _Finish:
    """Check one partition like `check_frame` (columns, ids, labels), naming where it is."""

    source: str
    task: Task
    columns: list[str]
    labels: bool

    def __call__(self, df: pd.DataFrame, where: str) -> pd.DataFrame:
        _require(where, list(df.columns), self.columns)
        if not df.empty:
            df = check_frame(df, self.task, columns=self.columns, source=where)
        df = df.reset_index(drop=True)
        if self.labels:
            values = df[self.task.label_column].tolist() if not df.empty else []
            df = df.assign(**{self.task.label_column: pd.Series(values, dtype=object)})
        return df


@dataclass(frozen=True)
class _WholeFile:
    """A whole file, read like `lfkit.read_data` reads it (without its checks)."""

    path: str

    def __call__(self) -> pd.DataFrame:
        from lfkit.data import _read_table

        return _read_table(Path(self.path))

    def head(self) -> pd.DataFrame:
        return self()

    def describe(self) -> str:
        return self.path


@dataclass(frozen=True)
class _CsvBlock:
    """Bytes [start, end) of a CSV file, parsed with the file's header."""

    path: str
    header: bytes
    start: int
    end: int
    sep: str

    def __call__(self) -> pd.DataFrame:
        return self._parse(_read_range(self.path, self.start, self.end))

    def head(self) -> pd.DataFrame:
        return self._parse(b"")

    def describe(self) -> str:
        return f"{self.path} (bytes {self.start}-{self.end})"

    def _parse(self, data: bytes) -> pd.DataFrame:
        text = _decode(self.header + data, self.path, self.start - len(self.header))
        try:
            df = pd.read_csv(
                io.StringIO(text), sep=self.sep, dtype=str, keep_default_na=False, na_values=[""]
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
            raise DataError(
                f"{self.describe()}: not a readable CSV file ({' '.join(str(err).split())}); "
                "hint: a quote character inside an unquoted field can split the file in the "
                "wrong place: read it with blocksize=None"
            ) from None
        return unshift_csv(df, self.describe())


@dataclass(frozen=True)
class _LineBlock:
    """Bytes [start, end) of a JSON Lines file: one JSON object per line."""

    path: str
    start: int
    end: int
    columns: tuple[str, ...]

    def __call__(self) -> pd.DataFrame:
        return self._parse(_read_range(self.path, self.start, self.end))

    def head(self) -> pd.DataFrame:
        data = _read_range(self.path, self.start, min(self.end, self.start + 65536))
        complete = self.start + len(data) >= self.end
        return self._parse(data if complete else data[: data.rfind(_NEWLINE) + 1])

    def describe(self) -> str:
        return f"{self.path} (bytes {self.start}-{self.end})"

    def _parse(self, data: bytes) -> pd.DataFrame:
        text = _decode(data, self.path, self.start)
        rows = []
        for number, line in json_lines(text):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(
                    f"{self.describe()}, line {number}: not valid JSON "
                    f"({err.msg} at column {err.colno})"
                ) from None
            if not isinstance(row, dict):
                raise DataError(f"{self.describe()}: expected each line to hold a JSON object")
            rows.append(row)
        df = pd.DataFrame(rows)
        extra = [column for column in self.columns if column not in df.columns]
        return df.assign(**dict.fromkeys(extra)) if extra else df


def _read_range(path: str, start: int, end: int) -> bytes:
    try:
        with fsspec.open(path, "rb") as file:
            file.seek(start)
            return file.read(end - start)
    except OSError as err:
        raise DataError(f"{path}: cannot read the file ({err})") from None


def _decode(data: bytes, path: str, offset: int) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}: byte {data[err.start]:#04x} at offset {offset + err.start} is "
            "not UTF-8; hint: convert the file to UTF-8 (e.g. iconv -t utf-8)"
        ) from None


def _csv_blocks(fs: Any, path: str, sep: str | None, blocksize: int) -> list[_CsvBlock]:
    """Split a CSV file into blocks that end at line breaks outside quotes."""
    size = fs.size(path)
    with fs.open(path, "rb") as file:
        sample = file.read(65536)
        if sep is None:
            try:
                sep = csv.Sniffer().sniff(sample.decode("utf-8", "replace"), ",;\t|").delimiter
            except csv.Error:
                sep = ","
        file.seek(0)
        splits, balanced = _quoted_splits(file, blocksize)
        if len(splits) < 2 or splits[1] >= size:
            raise DataError(f"{path}: the data has no rows")
        file.seek(0)
        header = file.read(splits[1])
    starts = splits[1:] if balanced else splits[1:2]
    bounds = [start for start in starts if start < size] + [size]
    return [_CsvBlock(path, header, a, b, sep) for a, b in pairwise(bounds)]


def _quoted_splits(file: Any, blocksize: int) -> tuple[list[int], bool]:
    """Return 0, the end of the header, then a record start about every `blocksize` bytes.

    A record starts after a line break preceded by an even number of quote characters
    (RFC 4180 doubles quotes inside quoted fields, so the parity says whether a line break
    is inside a field). The whole file is scanned once; the flag says whether it holds an
    even number of quotes, without which the splits cannot be trusted.
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
                target += blocksize
        quotes += chunk.count(_QUOTE, counted)
        pos += len(chunk)
    return splits, quotes % 2 == 0


def _line_blocks(fs: Any, path: str, blocksize: int | None) -> list[_LineBlock]:
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
    return [_LineBlock(path, a, b, columns) for a, b in pairwise(bounds)]
