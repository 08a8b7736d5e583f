"""Read input files within bounds: regular files only, never more bytes than a limit.

A size from `stat` cannot be trusted (a link to /dev/zero reports 0 bytes and never ends; a
FIFO blocks until someone writes), so the limit counts the bytes actually read, and a file
that is not a regular file is refused before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lfkit.errors import FileProblem

_CHUNK = 1 << 20


def file_kind(mode: int) -> str:
    """Name the kind of a file that is not a regular file ('' for a regular file)."""
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_limited(path: Path, limit: int) -> bytes:
    """Return the bytes of a regular file of at most `limit` bytes.

    Raises
    ------
    FileProblem
        For a file that cannot be opened, is not a regular file (a FIFO, a device such as
        /dev/zero, a socket, a folder), or holds more than `limit` bytes.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise FileProblem(f"cannot read the file ({err.strerror})") from None
    try:
        if kind := file_kind(os.fstat(fd).st_mode):
            raise FileProblem(f"is {kind}, not a regular file", "give a regular file")
        chunks, total = [], 0
        while chunk := os.read(fd, _CHUNK):
            total += len(chunk)
            if total > limit:
                raise FileProblem(f"the file holds more than {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as err:
        raise FileProblem(f"cannot read the file ({err.strerror})") from None
    finally:
        os.close(fd)


def check_regular(path: Path) -> None:
    """Refuse a path that exists but is not a regular file (before a library opens it).

    Raises
    ------
    FileProblem
        For a FIFO, a device, a socket or a folder; a missing file is left to the reader.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if kind := file_kind(mode):
        raise FileProblem(f"is {kind}, not a regular file", "give a regular file")
