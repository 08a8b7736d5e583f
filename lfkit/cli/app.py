"""The `lfkit` app: shared options, error handling and helpers for every command module.

Each command group lives in its own module of this package (check.py, apply.py, audit.py, ...);
`lfkit/cli/__init__.py` imports them so that they register on `app`.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from lfkit.display import terminal_safe
from lfkit.errors import ClusterError, FunctionError, LfkitError

if TYPE_CHECKING:
    import pandas as pd

    from lfkit.engine.votes import Votes
    from lfkit.rules.ruleset import RuleSet

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Declarative labeling rules: check them, apply them, audit labels with them.",
)

RulesOption = Annotated[Path, typer.Option("--rules", "-r", help="A rules file or folder.")]
DataArgument = Annotated[Path, typer.Argument(help="CSV, TSV, JSON, JSON Lines or Parquet.")]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Where to write.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")]
SchedulerOption = Annotated[
    str | None, typer.Option(help="Match rules on this Dask scheduler (tcp://HOST:PORT).")
]
LocalClusterOption = Annotated[
    int | None, typer.Option(min=1, help="Match rules on a local Dask cluster of N processes.")
]
LfsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--lfs",
        metavar="MODULE:NAME",
        help="Also vote with your own labeling functions: package.module:NAME names a Snorkel "
        "LabelingFunction, a function of a row, a list of them or a mapping {label: LFs} "
        "(runs that code; repeatable).",
    ),
]


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Print an lfkit error without a traceback (as `cli_message` words it); exit with 1."""
    try:
        yield
    except LfkitError as err:
        echo(f"error: {cli_message(str(err), flags())}", err=True)
        raise typer.Exit(code=1) from None


_KEYWORD = re.compile(r"(?<![(,\w])(?<!, )([a-z][a-z0-9_]*)=('[^'\n]*'|[^\s,;:)'\"]+)")
"""`name=value` in prose; not an argument inside a Python call (`f(x, name=value)`)."""


def cli_message(text: str, flags: Mapping[str, tuple[str, str]]) -> str:
    r"""Word a library message for the command line: `name=value` as `--flag value`.

    Library messages name options by their Python keyword (lfkit/errors.py); `flags` maps
    a keyword to its flag and, for an on/off flag, its off form. Keywords of other
    functions are left as they are.

    Examples
    --------
    >>> flags = {"force": ("--force", ""), "method": ("--method", ""), "gpu": ("--gpu", "--cpu")}
    >>> cli_message("out.csv exists\n  hint: pass force=True to replace it", flags)
    'out.csv exists\n  hint: pass --force to replace it'
    >>> cli_message("method='majorty' is not a label model; or gpu=False, or top=3", flags)
    '--method majorty is not a label model; or --cpu, or top=3'
    >>> cli_message("fit one with fit(x, method='auto') or fit(method='em')", flags)
    "fit one with fit(x, method='auto') or fit(method='em')"
    """

    def flag(found: re.Match[str]) -> str:
        name, value = found.group(1), found.group(2).strip("'")
        if name not in flags:
            return found.group(0)
        on, off = flags[name]
        if value in ("True", "False"):
            return on if value == "True" else (off or found.group(0))
        return f"{on} {value}"

    return _KEYWORD.sub(flag, text)


@cache
def flags() -> dict[str, tuple[str, str]]:
    """Return the options of every command: Python keyword -> (its flag, its off flag).

    A keyword means the same flag in every command (tests/test_errors.py checks it).
    """
    found: dict[str, tuple[str, str]] = {}
    group = typer.main.get_command(app)
    for command in group.commands.values() if isinstance(group, TyperGroup) else [group]:
        for param in command.params:
            if param.name and param.opts and param.opts[0].startswith("-"):
                off = max(param.secondary_opts, key=len, default="")
                found[param.name] = (max(param.opts, key=len), off)
    return found


def echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print to stdout (or stderr); on a terminal, show control characters from data escaped."""
    stream = sys.stderr if err else sys.stdout
    typer.echo(terminal_safe(text) if stream.isatty() or err else text, err=err, nl=nl)


def load_ruleset(rules: Path, lfs: list[str] | None) -> RuleSet:
    """Load the rules and add the columns of each --lfs spec, in order."""
    from lfkit.rules.functions import load_lfs
    from lfkit.rules.loader import load_rules

    ruleset = load_rules(rules)
    for spec in lfs or ():
        try:
            ruleset = ruleset.with_lfs(load_lfs(spec))
        except FunctionError as err:
            raise FunctionError(err.problem, err.hint, where=f"--lfs {spec}") from None
    return ruleset


def dask_engine() -> tuple[Callable[..., Any], Callable[..., Iterator[Any]]]:
    """Return the Dask engine's `connect` and `map_partitions`, or explain how to install it."""
    try:
        from lfkit.engine.distributed import connect, map_partitions
    except ImportError:
        raise ClusterError(
            "the Dask engine is not installed", "pip install 'lfkit[dask]'"
        ) from None
    return connect, map_partitions


def apply_on_dask(
    ruleset: RuleSet, data: Path, scheduler: str | None, local_cluster: int | None
) -> tuple[pd.DataFrame, Votes]:
    """Read the data partition by partition and match the rules on a Dask cluster.

    Only the votes (sparse) and the id column come back to this process.
    """
    connect, _ = dask_engine()
    from lfkit.engine.distributed import apply_rules_dask, read_data_dask

    with connect(scheduler, local_cluster):
        frame = read_data_dask(data, ruleset.task, labels=False)
        votes = apply_rules_dask(ruleset, frame)
        ids = frame[[ruleset.task.id_column]].compute().reset_index(drop=True)
    return ids, votes


def progress() -> Callable[[str], None]:
    """Return a progress printer for stderr on a terminal, and a silent one when piped."""
    if not sys.stderr.isatty():
        return lambda _: None
    start = time.perf_counter()
    return lambda stage: typer.echo(f"[{time.perf_counter() - start:5.1f}s] {stage}", err=True)


def main() -> None:
    """Run the CLI; turn an unexpected crash into a one-paragraph error (LFKIT_DEBUG=1 shows it)."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as err:  # the last line of defence: never show a user a traceback
        if os.environ.get("LFKIT_DEBUG"):
            raise
        echo(
            f"error: unexpected {type(err).__name__}: {err}\n  hint: this is a bug in "
            "lfkit; rerun with LFKIT_DEBUG=1 for the traceback and report it",
            err=True,
        )
        sys.exit(1)
