"""Show text from data and rules safely: on a terminal, and in a spreadsheet that opens a CSV.

Data is untrusted. A title can hold terminal escape sequences (set the window title, write a
hyperlink, clear the screen) or a cell that a spreadsheet runs as a formula. Every renderer for
humans passes its text through these two functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# C0 controls but tab and newline, DEL, C1 controls, bidirectional overrides, line separators
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    r"""Return text with every character a terminal would act on shown as an escape.

    Control characters (ESC, CR, BEL, backspace, C1 controls such as CSI), bidirectional
    overrides and Unicode line separators become `\xNN`/`\uNNNN`; tabs and newlines stay.

    Examples
    --------
    >>> print(terminal_safe("title\x1b]0;owned\x07 ok\u202e"))
    title\x1b]0;owned\x07 ok\u202e
    """
    return _UNSAFE.sub(_escape, text)


def csv_cell(value: Any) -> Any:
    """Return a CSV cell that a spreadsheet shows as text instead of running it as a formula.

    A text that starts with `=`, `+`, `-`, `@`, `|`, `%`, a tab or a line break gets a leading
    apostrophe (the OWASP advice); plain numbers such as `-1.5` and every non-text value are
    left alone, as they cannot run.

    Examples
    --------
    >>> csv_cell("=HYPERLINK(\\"http://x\\")"), csv_cell("-0.5"), csv_cell(-1), csv_cell("ok")
    ('\\'=HYPERLINK("http://x")', '-0.5', -1, 'ok')
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def brief_repr(obj: Any) -> str:
    """Return `Class(field=value, ...)` of a dataclass with each array shown as its shape and
    dtype, not its numbers: what a notebook should print for fitted parameters.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> import numpy as np
    >>> @dataclass
    ... class Fitted:
    ...     weights: np.ndarray
    ...     iterations: int
    ...     __repr__ = brief_repr
    >>> Fitted(np.zeros((3, 400)), 12)
    Fitted(weights=<3x400 float64>, iterations=12)
    """
    from dataclasses import fields

    def show(value: Any) -> str:
        shape = getattr(value, "shape", None)
        if shape == () and hasattr(value, "item"):
            return repr(value.item())
        if isinstance(shape, tuple) and hasattr(value, "dtype"):
            return f"<{'x'.join(map(str, shape)) or 'scalar'} {value.dtype}>"
        text = repr(value)
        return text if len(text) <= 80 else f"<{type(value).__name__}>"

    shown = ", ".join(f"{f.name}={show(getattr(obj, f.name))}" for f in fields(obj) if f.repr)
    return f"{type(obj).__name__}({shown})"


def plain(value: Any) -> Any:
    """Return a numpy scalar as the Python value it holds (anything else as it is), for JSON
    and for showing ids: `np.int64(7)` -> `7`.

    Examples
    --------
    >>> import numpy as np
    >>> plain(np.int64(7)), plain(np.float32(0.5)), plain("a-7")
    (7, 0.5, 'a-7')
    """
    return value.item() if hasattr(value, "item") else value


def plural(count: int, noun: str, many: str = "") -> str:
    """Return a count with its noun, singular for exactly one (`many` for irregular plurals).

    Examples
    --------
    >>> plural(1, "flag"), plural(1200, "flag"), plural(0, "row"), plural(2, "match", "matches")
    ('1 flag', '1,200 flags', '0 rows', '2 matches')
    """
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def column_width(header: str, values: Iterable[object]) -> int:
    """Return the width of a table column that shows every value whole: the longest value's
    (or the header's) length.

    Examples
    --------
    >>> column_width("id", [7, "project-2020-0001"])
    17
    """
    return max([len(header), *(len(str(value)) for value in values)])
