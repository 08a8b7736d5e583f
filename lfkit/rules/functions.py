"""Your own labeling functions: Snorkel LFs or plain functions of a row, as rule set columns.

A label matrix column casts one vote (a class, or a tag present/absent), so a function that can
cast several becomes one column per vote it may cast: a multiclass function not bound to a
class gets a column per class, named `name=class`. Bind a function to the vote it casts (a
mapping `{label: [lfs]}`) to get a single column named after it. Functions run in the engine
once per row, as Snorkel's `PandasLFApplier` runs them; YAML rules never run code, so these only
join a rule set by an explicit call (`RuleSet.with_lfs`) or `--lfs module:NAME` on the CLI.
"""

from __future__ import annotations

import importlib
import numbers
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lfkit._types import ABSTAIN, LfVote
from lfkit.errors import DataError, FunctionError
from lfkit.rules.schema import label_name

LFS_HELP = (
    "name them as package.module:NAME, where NAME is a Snorkel LabelingFunction, a function "
    "of a row, a list of them, or a mapping {label: LF or list of LFs}"
)


class FunctionVote:
    """One label matrix column fed by a user's function: row -> this column's vote or ABSTAIN.

    `cast(row)` returns the function's vote in lfkit's terms (a class index, or 1/0 for a tag)
    and checks it is one of the votes the function was declared to cast; calling the object
    returns `value` when the function cast it, else ABSTAIN. Picklable when the function is.
    """

    def __init__(
        self,
        function: Callable[[Any], Any],
        name: str,
        *,
        labels: tuple[str, ...],
        multilabel: bool,
        value: int,
        declared: tuple[int, ...],
        id_column: str = "id",
    ) -> None:
        self.function, self.name, self.labels = function, name, labels
        self.multilabel, self.value, self.declared = multilabel, value, declared
        self.id_column = id_column

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        try:  # Snorkel's @labeling_function hides the function from pickle's by-name lookup
            import cloudpickle
        except ImportError:
            return state
        state["function"] = cloudpickle.dumps(self.function)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state["function"], bytes):
            state["function"] = pickle.loads(state["function"])
        self.__dict__.update(state)

    def cast(self, row: Any) -> int:
        """Return the function's vote on a row as a class index or 1/0, or ABSTAIN.

        Raises
        ------
        DataError
            When the function returns something that is not a vote it may cast.
        """
        try:
            result = self.function(row)
        except Exception as err:
            where = _row_name(row, self.id_column)
            raise DataError(
                f"labeling function '{self.name}' failed on row {where}: "
                f"{type(err).__name__}: {err}"
            ) from err
        vote = self._vote(result, row)
        if vote != ABSTAIN and vote not in self.declared:
            where = _row_name(row, self.id_column)
            raise DataError(
                f"labeling function '{self.name}' returned {result!r} on row {where}, "
                f"but it was declared to vote only {self._describe(self.declared)}",
                "declare it for that label too, or let it return -1 (abstain) there",
            )
        return vote

    def __call__(self, row: Any) -> int:
        return self.value if self.cast(row) == self.value else ABSTAIN

    def _vote(self, result: Any, row: Any) -> int:
        if result is None or (isinstance(result, numbers.Integral) and result == ABSTAIN):
            return ABSTAIN
        if self.multilabel:
            if isinstance(result, (bool, numbers.Integral)) and int(result) in (0, 1):
                return int(result)
            expected = "1 (tag present), 0 (absent) or -1 (abstain)"
        else:
            if isinstance(result, numbers.Integral) and 0 <= int(result) < len(self.labels):
                return int(result)
            name = label_name(result)
            if isinstance(name, str) and name in self.labels and not isinstance(result, int):
                return self.labels.index(name)
            expected = (
                f"a class index 0..{len(self.labels) - 1}, a class name "
                f"({', '.join(self.labels)}) or -1 (abstain)"
            )
        where = _row_name(row, self.id_column)
        raise DataError(
            f"labeling function '{self.name}' returned {result!r} on row {where}; "
            f"expected {expected}"
        )

    def _describe(self, votes: tuple[int, ...]) -> str:
        if self.multilabel:
            return " or ".join("1 (present)" if vote else "0 (absent)" for vote in votes)
        return " or ".join(f"{vote} ({self.labels[vote]})" for vote in votes)


def lf_name(function: Any) -> str:
    """Return the name a function's column gets: a LabelingFunction's name, or __name__.

    Raises
    ------
    FunctionError
        For a function without a usable name (a lambda, a callable object).
    """
    name = getattr(function, "name", None) or getattr(function, "__name__", None)
    if not isinstance(name, str) or not name or name == "<lambda>":
        raise FunctionError(
            f"labeling function {function!r} has no name",
            "define it with 'def' or wrap it in snorkel's LabelingFunction(name=..., f=...)",
        )
    return name


def bound_lfs(lfs: Any, *, label: str | int | None = None) -> list[tuple[Any, str | None]]:
    """Return (function, label or None) pairs from an LF, a list of them, or {label: LFs}.

    Raises
    ------
    FunctionError
        When an item is not callable.
    """
    if isinstance(lfs, Mapping):
        pairs: list[tuple[Any, str | None]] = []
        for key, value in lfs.items():
            pairs += bound_lfs(value, label=key)
        return pairs
    items = list(lfs) if isinstance(lfs, (list, tuple)) else [lfs]
    for item in items:
        if not callable(item):
            raise FunctionError(
                f"{item!r} is not a labeling function; expected a Snorkel LabelingFunction or "
                "a function of a row"
            )
    bound = None if label is None else str(label_name(label))
    return [(item, bound) for item in items]


def load_lfs(spec: str) -> Any:
    """Import `package.module:NAME` and return NAME (an LF, a list of them or a mapping).

    The current directory is searched first, as `python -m` does, so a file `my_lfs.py`
    next to the data is `my_lfs:NAME`.

    Raises
    ------
    FunctionError
        For a spec without ':', a module that does not import, or a missing NAME.
    """
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise FunctionError(f"'{spec}' is not of the form package.module:NAME", LFS_HELP)
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise FunctionError(
            f"no module named '{err.name}'",
            "run from the folder that holds it, or install its package",
            where=spec,
        ) from None
    except Exception as err:
        raise FunctionError(
            f"importing '{module_name}' failed: {type(err).__name__}: {err}", where=spec
        ) from err
    value = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            public = sorted(name for name in vars(module) if not name.startswith("_"))
            raise FunctionError(
                f"module '{module_name}' has no '{attribute}'; it defines: "
                f"{', '.join(public[:20]) or 'nothing public'}",
                where=spec,
            )
        value = getattr(value, part)
    if not (callable(value) or isinstance(value, (list, tuple, Mapping))):
        raise FunctionError(f"'{attribute}' is a {type(value).__name__}", LFS_HELP, where=spec)
    return value


def _row_name(row: Any, id_column: str) -> str:
    """Return 'N (id X)': the 1-based row number of a DataFrame row, and its id if it has one."""
    index = getattr(row, "name", None)
    where = str(index + 1) if isinstance(index, numbers.Integral) else repr(index)
    try:
        return f"{where} (id {row[id_column]!r})"
    except (KeyError, IndexError, TypeError):
        return where


def function_columns(
    function: Any,
    label: str | None,
    *,
    labels: Sequence[str],
    multilabel: bool,
    vote: LfVote,
    taken: set[str],
    id_column: str = "id",
) -> list[tuple[str, str, int, FunctionVote]]:
    """Return (column name, label, value, column function) for each column a function feeds.

    Raises
    ------
    FunctionError
        For an unbound multilabel function, an unknown label, or a name already taken.
    """
    name = lf_name(function)
    labels = tuple(labels)
    if label is not None and label not in labels:
        raise FunctionError(
            f"labeling function '{name}' is declared for '{label}', which is not a label of "
            f"the rule set ({', '.join(labels[:10])}{', ...' if len(labels) > 10 else ''})"
        )
    if multilabel:
        if label is None:
            raise FunctionError(
                f"say which tag it votes on, e.g. "
                f"ruleset.with_lfs({{'tag': [{name}]}}) or with_lfs([{name}], label='tag') "
                "(on the CLI: export a mapping {tag: [lfs]})",
                where=f"labeling function '{name}'",
            )
        declared = {"positive": (1,), "negative": (0,), "both": (1, 0)}[vote]
        columns = [
            (name if value == declared[0] else f"{name}=not", label, value) for value in declared
        ]
    elif label is not None:
        columns = [(name, label, labels.index(label))]
    else:
        columns = [(f"{name}={class_}", class_, index) for index, class_ in enumerate(labels)]
    values = tuple(value for _, _, value in columns)
    found = []
    for column, column_label, value in columns:
        if column in taken:
            raise FunctionError(
                f"the rule set already has a column '{column}'",
                "rename the function (LabelingFunction(name=...))",
                where=f"labeling function '{name}'",
            )
        taken.add(column)
        voter = FunctionVote(
            function,
            name,
            labels=labels,
            multilabel=multilabel,
            value=value,
            declared=values,
            id_column=id_column,
        )
        found.append((column, column_label, value, voter))
    return found
