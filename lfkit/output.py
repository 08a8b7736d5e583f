"""Write outputs atomically and never over a user's input or anything but a regular file.

What counts as an input lives here (`is_input`): a data file, a rules or taxonomy file, and
every rules file (.yaml/.yml) under a rules folder. Every command checks its outputs with
`check_outputs` before any work, and writes them with `write_text`/`write_frames`, which
create a new file exclusively (two runs racing for the same path: one wins, the other gets an
error) and replace an existing one only with `force=True`, and only if it is a regular file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd

from lfkit.errors import OutputError
from lfkit.rules.loader import RULE_SUFFIXES

TABLE_SUFFIXES = (".parquet", ".csv", ".jsonl")
_FORCE = "pass force=True to replace it"


def is_input(path: Path, inputs: Sequence[Path]) -> bool:
    """Say whether writing `path` would change one of `inputs`.

    An input file counts as itself (also through links and hard links); an input folder
    (a rules folder) protects every rules file (.yaml/.yml) in it. A new file is no input.
    """
    resolved = path.resolve()
    for source in inputs:
        source = Path(source)
        if source.is_dir():
            if (
                resolved.suffix.lower() in RULE_SUFFIXES
                and resolved.is_relative_to(source.resolve())
                and resolved.exists()
            ):
                return True
        elif source.exists() and (
            resolved == source.resolve() or (path.exists() and _same_file(path, source))
        ):
            return True
    return False


def output_name(path: Path, option: str) -> str:
    """Name an output in a message: its option (when given) and its path."""
    return f"{option} {path}" if option else f"{path}"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    path: Path,
    *,
    inputs: Sequence[Path] = (),
    force: bool = False,
    option: str = "",
    suffixes: Sequence[str] = (),
) -> None:
    """Refuse an output path that is an input, sits in a missing or read-only folder, exists
    unforced, is not a regular file, or (when `suffixes` are given) has another suffix.

    `inputs` are the command's data, rules (file or folder) and taxonomy paths; `option`
    names the output in messages, before its path (the CLI passes its flag, '--out').

    Raises
    ------
    OutputError
        Saying which of these it is and how to proceed.
    """
    subject = output_name(path, option)
    if is_input(path, inputs):
        raise OutputError(
            f"{subject} is an input file (data, rules or taxonomy); lfkit never overwrites "
            "its inputs, not even with force=True",
            "choose another output path",
        )
    if not path.parent.is_dir():
        raise OutputError(
            f"folder '{path.parent}' does not exist", "create it first", where=subject
        )
    if path.is_dir():
        raise OutputError(f"{subject} is a folder", "give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(
            f"unknown output type '{path.suffix}'; use {', '.join(suffixes)}", where=subject
        )
    if os.path.lexists(path):
        if not force:
            raise OutputError(f"{subject} already exists", _FORCE)
        _check_replaceable(path, option)
    if not os.access(path.parent, os.W_OK):
        raise OutputError(
            f"folder '{path.parent}' is not writable",
            "choose a folder you can write to",
            where=subject,
        )


def check_outputs(
    outputs: Mapping[str, Path | None],
    *,
    inputs: Sequence[Path] = (),
    force: bool = False,
    tables: Sequence[str] = (),
) -> None:
    """Check every output of one command (option -> path, None when not given) and refuse two
    options that name the same file; the options in `tables` must have a table suffix.

    Raises
    ------
    OutputError
        As `check_output`, or naming the two options that clash.
    """
    seen: dict[Path, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        check_output(
            path,
            inputs=inputs,
            force=force,
            option=option,
            suffixes=TABLE_SUFFIXES if option in tables else (),
        )
        resolved = path.resolve()
        if resolved in seen:
            raise OutputError(
                f"{seen[resolved]} and {option} name the same file {path}",
                "give them different paths",
            )
        seen[resolved] = option


def _check_replaceable(path: Path, option: str) -> None:
    """Refuse to replace anything but a regular file (a device, a FIFO, a symbolic link)."""
    mode = os.lstat(path).st_mode
    if stat.S_ISREG(mode):
        return
    kind = (
        "a symbolic link"
        if stat.S_ISLNK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise OutputError(
        f"{output_name(path, option)} is {kind}; force=True replaces only regular files",
        "remove it first or choose another path",
    )


def _write_error(path: Path, option: str, err: OSError) -> OutputError:
    reason = err.strerror or str(err)
    hint = {
        errno.ENOSPC: "free some space or write elsewhere",
        errno.EDQUOT: "free some space or write elsewhere",
        errno.EROFS: "the file system is read-only; write elsewhere",
        errno.EACCES: "choose a folder you can write to",
        errno.EPERM: "choose a folder you can write to",
    }.get(err.errno or 0, "check the folder and the disk")
    return OutputError(f"cannot write the file ({reason})", hint, where=output_name(path, option))


@contextlib.contextmanager
def atomic_path(path: Path, *, force: bool = False, option: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success move it to `path`, else delete it.

    Without `force` the file is created exclusively: if `path` appeared meanwhile (another run),
    nothing is replaced and OutputError says so. With `force` only a regular file is replaced.
    A run that is interrupted leaves either the previous file or the complete new one.

    Raises
    ------
    OutputError
        When `path` exists (without `force`) or is not a regular file, or the write fails
        (read-only folder, full disk, ...).
    """
    if os.path.lexists(path):
        if not force:
            raise OutputError(f"{output_name(path, option)} already exists", _FORCE)
        _check_replaceable(path, option)
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _write_error(path, option, err) from None
    os.close(handle)
    temp_path = Path(temp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        mode = path.stat().st_mode & 0o777 if force and path.is_file() else 0o666 & ~umask
        yield temp_path
        temp_path.chmod(mode)  # mkstemp's 0600 would hide the output from other users
        with open(temp_path, "rb+") as written:
            os.fsync(written.fileno())
        _move_into_place(temp_path, path, force=force, option=option)
    except OSError as err:
        raise _write_error(path, option, err) from None
    finally:
        temp_path.unlink(missing_ok=True)


def _move_into_place(temp: Path, path: Path, *, force: bool, option: str) -> None:
    if force and os.path.lexists(path):
        _check_replaceable(path, option)
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)  # fails if `path` exists: never replaces what another run wrote
    except FileExistsError:
        raise OutputError(
            f"{output_name(path, option)} already exists (written meanwhile by another run?)",
            _FORCE,
        ) from None
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # No hard links here (some network or FAT file systems): claim the name, then fill it.
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise OutputError(f"{output_name(path, option)} already exists", _FORCE) from None
        os.replace(temp, path)


def write_text(path: Path, text: str, *, force: bool = False, option: str = "") -> None:
    """Write a text file atomically (UTF-8); replace an existing one only with `force`.

    Raises
    ------
    OutputError
        See `atomic_path`.
    """
    with atomic_path(path, force=force, option=option) as temp:
        temp.write_text(text, encoding="utf-8")


def write_frames(
    frames: Iterable[pd.DataFrame], path: Path, *, force: bool = False, option: str = ""
) -> None:
    """Write DataFrames (chunks of one table) atomically as Parquet, CSV or JSON Lines.

    Chunks are written as they come, so a large table never has to be in memory at once.
    Replaces an existing file only with `force`.

    Raises
    ------
    OutputError
        For a suffix other than .parquet, .csv or .jsonl, and see `atomic_path`.
    """
    check_output(path, force=True, suffixes=TABLE_SUFFIXES, option=option)
    suffix = path.suffix.lower()
    with atomic_path(path, force=force, option=option) as temp:
        if suffix == ".parquet":
            _write_parquet(frames, temp, option)
            return
        with open(temp, "w", encoding="utf-8", newline="") as out:
            for number, frame in enumerate(frames):
                if suffix == ".csv":
                    frame.to_csv(out, index=False, header=number == 0)
                else:
                    frame.to_json(out, orient="records", lines=True, force_ascii=False)


def _write_parquet(frames: Iterable[pd.DataFrame], temp: Path, option: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for frame in frames:
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            # ids that are huge integers or of mixed types: Parquet needs one column type
            frame = frame.astype({column: str for column in frame.columns[:1]})
            table = pa.Table.from_pandas(frame, preserve_index=False)
        if writer is not None and not table.schema.equals(writer.schema):
            table = table.cast(writer.schema)
        writer = writer or pq.ParquetWriter(temp, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
