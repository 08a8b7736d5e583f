"""Errors lfkit raises on purpose: catch `LfkitError` to catch them all."""

from __future__ import annotations

import reprlib
from pathlib import Path

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 3, 6, 6


def quoted(value: object, limit: int = 80) -> str:
    """Return a short repr of a value for a message: a 1 MB regex must not make a 2 MB error.

    Examples
    --------
    >>> quoted("a" * 1000).endswith("aaaa' (1,000 characters)")
    True
    >>> quoted([[[[1]]]])
    '[[[[...]]]]'
    """
    if isinstance(value, str):
        text = _REPR.repr(value)
        return text if len(value) <= limit else f"{text} ({len(value):,} characters)"
    return _REPR.repr(value)


class LfkitError(Exception):
    """Base class for every error lfkit raises on purpose; catch this one."""


class RuleError(LfkitError, ValueError):
    """One problem in a rules file, pinned to a file, a line and (where known) a rule.

    `column` (1-based, 0 when unknown) points at the offending key or value; `code` is the
    stable `lfkit check` code of the problem (see docs/check.md), '' for a generic one.
    """

    def __init__(
        self,
        path: Path,
        line: int,
        rule: str,
        problem: str,
        hint: str = "",
        *,
        what: str = "rule",
        column: int = 0,
        code: str = "",
    ) -> None:
        self.path, self.line, self.rule, self.problem, self.hint = path, line, rule, problem, hint
        self.what, self.column, self.code = what, column, code
        where = f"{path}:{line}" if line else f"{path}"
        where += f": {what} '{rule}'" if rule else ""
        text = f"{where}: {problem}"
        super().__init__(f"{text}\n  hint: {hint}" if hint else text)


class RuleFileError(LfkitError, ValueError):
    """Every problem found while loading rules, reported together."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(err) for err in errors))


class DataError(LfkitError, ValueError):
    """A problem with a data file or a DataFrame: a missing column, a bad value, a bad file."""


class OutputError(LfkitError):
    """An output that cannot or must not be written (it would overwrite an input, say)."""
