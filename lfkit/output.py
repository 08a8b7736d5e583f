"""Write outputs atomically and never over a user's input."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from lfkit.errors import OutputError

TABLE_SUFFIXES = (".parquet", ".csv", ".jsonl")


def check_output(
    path: Path,
    *,
    inputs: Sequence[Path] = (),
    force: bool = False,
    option: str = "--out",
    suffixes: Sequence[str] = (),
) -> None:
    """Refuse an output path that is an input, sits in a missing folder, exists unforced, or
    (when `suffixes` are given) has another suffix; `option` names it in the message.

    Raises
    ------
    OutputError
        Saying which of these it is and how to proceed.
    """
    resolved = path.resolve()
    for source in inputs:
        if source.exists() and resolved == source.resolve():
            raise OutputError(
                f"{option} {path} is an input file; lfkit never overwrites its "
                "inputs; hint: choose another output path"
            )
    if not path.parent.is_dir():
        raise OutputError(
            f"{option} {path}: folder '{path.parent}' does not exist; hint: create it first"
        )
    if path.is_dir():
        raise OutputError(f"{option} {path} is a folder; hint: give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(
            f"{option} {path}: unknown output type '{path.suffix}'; use {', '.join(suffixes)}"
        )
    if path.exists() and not force:
        raise OutputError(f"{option} {path} already exists; hint: pass --force to replace it")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, else delete it.

    A run that is interrupted leaves either the previous file or the complete new one.
    """
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp_path = Path(temp)
    umask = os.umask(0)
    os.umask(umask)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~umask
    try:
        yield temp_path
        temp_path.chmod(mode)  # mkstemp's 0600 would hide the output from other users
        with open(temp_path, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temp_path, path)
    finally:
        temp_path.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")


def write_frames(frames: Iterable[pd.DataFrame], path: Path) -> None:
    """Write DataFrames (chunks of one table) atomically as Parquet, CSV or JSON Lines.

    Chunks are written as they come, so a large table never has to be in memory at once.

    Raises
    ------
    OutputError
        For a suffix other than .parquet, .csv or .jsonl.
    """
    check_output(path, force=True, suffixes=TABLE_SUFFIXES)
    suffix = path.suffix.lower()
    with atomic_path(path) as temp:
        if suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = None
            for frame in frames:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pq.ParquetWriter(temp, table.schema)
                writer.write_table(table)
            if writer is not None:
                writer.close()
            return
        with open(temp, "w", encoding="utf-8", newline="") as out:
            for number, frame in enumerate(frames):
                if suffix == ".csv":
                    frame.to_csv(out, index=False, header=number == 0)
                else:
                    frame.to_json(out, orient="records", lines=True, force_ascii=False)
