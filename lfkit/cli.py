"""The `lfkit` command: thin wrappers that parse options, call the library and render."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from lfkit.errors import LfkitError

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


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Print an lfkit error without a traceback and exit with status 1."""
    try:
        yield
    except LfkitError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=1) from None


@app.command()
def check(rules: Annotated[Path, typer.Argument(help="A rules file or folder.")]) -> None:
    """Validate rules files and list every problem found, then risky rules as warnings."""
    from lfkit.rules.loader import load_rules

    with exit_on_error():
        ruleset = load_rules(rules)
    for warning in ruleset.warnings:
        typer.echo(f"warning: {warning}", err=True)
    disabled = f", {len(ruleset.disabled)} disabled" if ruleset.disabled else ""
    typer.echo(
        f"ok: {len(ruleset)} rules for {len(ruleset.labels)} labels ({ruleset.task.kind}){disabled}"
    )


@app.command()
def apply(
    data: DataArgument, rules: RulesOption, out: OutOption = None, force: ForceOption = False
) -> None:
    """Apply the rules to every row; write the votes (one column per rule) to --out."""
    from lfkit.data import read_data
    from lfkit.engine.apply import apply_rules
    from lfkit.engine.summary import summarize_votes, votes_frame
    from lfkit.output import check_output, write_frame
    from lfkit.rules.loader import load_rules

    with exit_on_error():
        ruleset = load_rules(rules)
        if out is not None:
            check_output(out, inputs=[data], force=force)
        df = read_data(data, ruleset.task, labels=False)
        start = time.perf_counter()
        votes = apply_rules(ruleset, df)
        seconds = time.perf_counter() - start
        if out is not None:
            write_frame(votes_frame(ruleset, df, votes), out)
    typer.echo(summarize_votes(ruleset, votes, seconds=seconds))
    if out is not None:
        typer.echo(f"votes written to {out}")


@app.command("import-taxonomy")
def import_taxonomy(
    taxonomy: Annotated[Path, typer.Argument(help="A JSON taxonomy: {tag: {aliases, parents}}.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The YAML labels file to write.")],
    force: ForceOption = False,
) -> None:
    """Convert a tags.json-style taxonomy into a readable YAML labels file to edit."""
    from lfkit.output import check_output, write_text
    from lfkit.rules.taxonomy import read_taxonomy, taxonomy_yaml

    with exit_on_error():
        check_output(out, inputs=[taxonomy], force=force)
        labels = read_taxonomy(taxonomy)
        write_text(out, taxonomy_yaml(labels, source=str(taxonomy)))
    typer.echo(
        f"wrote {len(labels)} labels to {out}; add a task section and check it with "
        f"'lfkit check {out.parent}'"
    )


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
        typer.echo(
            f"error: unexpected {type(err).__name__}: {err}\n  hint: this is a bug in "
            "lfkit; rerun with LFKIT_DEBUG=1 for the traceback and report it",
            err=True,
        )
        sys.exit(1)
