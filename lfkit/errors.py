"""Errors lfkit raises on purpose: catch `LfkitError` to catch them all.

Every message has one shape, built by `message`:

    WHERE: PROBLEM
      hint: HINT

WHERE (a file:line, a rule, a row, an option) and the hint line appear when known. A message
refers to an option by its Python keyword (`force=True`, `method='em'`), never by a command
line flag: the CLI shows those as its own flags (`--force`, `--method em`) when it prints the
error (lfkit/cli/app.py). docs/errors.md lists the hierarchy and the messages.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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


HINT = "\n  hint: "
"""What separates a problem from its hint in every message."""


def message(problem: str, hint: str = "", where: str = "") -> str:
    """Return an error message in lfkit's one format: `where: problem`, then `  hint: hint`.

    Examples
    --------
    >>> print(message("unknown key 'keyword'", "did you mean 'keywords'?", "rules.yaml:3"))
    rules.yaml:3: unknown key 'keyword'
      hint: did you mean 'keywords'?
    """
    text = f"{where}: {problem}" if where else problem
    return f"{text}{HINT}{hint}" if hint else text


def split_hint(text: str) -> tuple[str, str]:
    """Split a `message` (without `where`) back into its problem and its hint.

    Validators that can only raise a string (pydantic's) use it to hand a hint on.

    Examples
    --------
    >>> split_hint(message("too long", "shorten it"))
    ('too long', 'shorten it')
    """
    problem, _, hint = text.partition(HINT)
    return problem, hint


def did_you_mean(value: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """Return "did you mean 'x'?" for the closest of `choices`, or '' when none is close
    (difflib's ratio below `cutoff`).

    Examples
    --------
    >>> did_you_mean("majorty", ["auto", "majority", "em"])
    "did you mean 'majority'?"
    """
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=cutoff)
    return f"did you mean '{close[0]}'?" if close else ""


class LfkitError(Exception):
    """Base class for every error lfkit raises on purpose; catch this one.

    `problem` says what is wrong, `hint` (may be '') how to fix it, `where` (may be '') where
    it is; `str(err)` joins them as `message` does.
    """

    def __init__(self, problem: str, hint: str = "", *, where: str = "") -> None:
        self.problem, self.hint, self.where = problem, hint, where
        super().__init__(message(problem, hint, where))

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (Dask workers): rebuild from the attributes, as
        # subclasses' __init__ take other arguments than the message Exception would pass.
        return (_rebuild, (type(self), str(self), self.__dict__))


def _rebuild(cls: type[LfkitError], text: str, state: dict[str, Any]) -> LfkitError:
    err = cls.__new__(cls)
    Exception.__init__(err, text)
    err.__dict__.update(state)
    return err


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
        self.path, self.line, self.rule = path, line, rule
        self.what, self.column, self.code = what, column, code
        where = f"{path}:{line}" if line else f"{path}"
        where += f": {what} '{rule}'" if rule else ""
        super().__init__(problem, hint, where=where)


class RuleFileError(LfkitError, ValueError):
    """Every problem found while loading rules, reported together (`errors`)."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(err) for err in errors))


class DataError(LfkitError, ValueError):
    """A problem with a data file or a DataFrame: a missing column, a bad value, a bad file.

    Also arrays that do not fit the data they come with (votes or labels of another number
    of rows).
    """


class FileProblem(LfkitError, ValueError):
    """Why an input file cannot be read, without saying which file.

    Raised by lfkit.files; callers re-raise it as the RuleError or DataError of that file.
    """


class OptionError(LfkitError, ValueError):
    """An option (a keyword argument; a flag on the command line) given a value it does not
    take, or two options that cannot go together. `option` is the Python keyword."""

    def __init__(self, option: str, problem: str, hint: str = "", *, where: str = "") -> None:
        self.option = option
        super().__init__(problem, hint, where=where)


class ModelError(LfkitError):
    """A label model that cannot be fitted, read or used as asked (a saved file that is not
    a model, a model fitted on other rules, `fitted_proba` of a loaded model)."""


class FunctionError(LfkitError):
    """A labeling function of the user's that cannot be imported or joined to a rule set."""


class ClusterError(LfkitError):
    """A Dask cluster that cannot be reached or started (or Dask that is not installed)."""


class OutputError(LfkitError):
    """An output that cannot or must not be written (it would overwrite an input, say)."""


def check_choice(option: str, value: object, choices: Iterable[str], what: str = "") -> None:
    """Raise OptionError unless `value` is one of `choices` (the values of a Literal type).

    `what` names the kind of thing chosen in the message (default: the option's name).

    Raises
    ------
    OptionError
        Naming the value, the choices and, for a typo, the closest choice.

    Examples
    --------
    >>> check_choice("method", "majorty", ("auto", "majority"), "label model")
    Traceback (most recent call last):
    lfkit.errors.OptionError: method='majorty' is not a label model; choose one of auto, majority
      hint: did you mean 'majority'?
    """
    allowed = tuple(choices)
    if isinstance(value, str) and value in allowed:
        return
    typo = did_you_mean(value, allowed) if isinstance(value, str) else ""
    raise OptionError(
        option,
        f"{option}={quoted(value)} is not a {what or option}; choose one of {', '.join(allowed)}",
        typo,
    )
