"""The `lfkit` command: thin wrappers that parse options, call the library and render."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lfkit.errors import LfkitError

if TYPE_CHECKING:
    import pandas as pd

    from lfkit.engine.apply import Votes
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
    data: DataArgument,
    rules: RulesOption,
    out: OutOption = None,
    force: ForceOption = False,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = None,
) -> None:
    """Apply the rules to every row; write the votes (one column per rule) to --out."""
    from lfkit.data import read_data
    from lfkit.engine.apply import apply_rules
    from lfkit.engine.summary import summarize_votes, votes_frames
    from lfkit.output import TABLE_SUFFIXES, check_output, write_frames
    from lfkit.rules.loader import load_rules

    with exit_on_error():
        ruleset = load_rules(rules)
        if out is not None:
            check_output(out, inputs=[data], force=force, suffixes=TABLE_SUFFIXES)
        start = time.perf_counter()
        if scheduler is None and local_cluster is None:
            df = read_data(data, ruleset.task, labels=False)
            votes = apply_rules(ruleset, df)
        else:
            df, votes = _apply_on_dask(ruleset, data, scheduler, local_cluster)
        seconds = time.perf_counter() - start
        if out is not None:
            write_frames(votes_frames(ruleset, df, votes), out)
    typer.echo(summarize_votes(ruleset, votes, seconds=seconds))
    if out is not None:
        typer.echo(f"votes written to {out}")


class AuditFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    html = "html"


class LabelModelName(StrEnum):
    naive_bayes = "naive-bayes"
    majority = "majority"
    snorkel = "snorkel"


class AnalysisFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FAIL_EXIT = 3
"""Exit status of `lfkit audit --fail-on` when a flag scores at or above the threshold."""


@app.command()
def audit(
    data: DataArgument,
    rules: RulesOption,
    fmt: Annotated[AuditFormat, typer.Option("--format", "-f", help="Output format.")] = (
        AuditFormat.table
    ),
    out: OutOption = None,
    html: Annotated[Path | None, typer.Option(help="Also write the HTML report here.")] = None,
    top: Annotated[
        int | None, typer.Option(min=1, help="Show the N best flags (table: 20).")
    ] = None,
    min_score: Annotated[float, typer.Option(min=0.0, max=1.0, help="Lowest score shown.")] = 0.5,
    label_model: Annotated[LabelModelName, typer.Option(help="How to resolve rule votes.")] = (
        LabelModelName.naive_bayes
    ),
    neighbours: Annotated[
        bool, typer.Option("--neighbours/--no-neighbours", help="Use similar-row evidence.")
    ] = True,
    seed: Annotated[int, typer.Option(min=0, help="Seed for sampling.")] = 0,
    fail_on: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Exit 3 if a flag scores >= this.")
    ] = None,
    force: ForceOption = False,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = None,
) -> None:
    """Find the rows whose existing labels are probably wrong, ranked, with evidence."""
    from lfkit.audit.suspects import audit_labels
    from lfkit.data import read_data
    from lfkit.output import check_output, write_text
    from lfkit.report.render import render_report
    from lfkit.rules.loader import load_rules

    if top is None and fmt is AuditFormat.table and out is None:
        top = 20
    say = _progress()
    with exit_on_error():
        for option, path in (("--out", out), ("--html", html)):
            if path is not None:
                check_output(path, inputs=[data], force=force, option=option)
        if out is not None and out == html:
            raise LfkitError("--out and --html name the same file; give them different paths")
        say("loading rules")
        ruleset = load_rules(rules)
        say("reading data")
        df = read_data(data, ruleset.task)
        votes = None
        if scheduler is not None or local_cluster is not None:
            say("applying rules on the Dask cluster")
            _, votes = _apply_on_dask(ruleset, data, scheduler, local_cluster)
        report = audit_labels(
            ruleset,
            df,
            label_model=label_model.value,
            neighbours=neighbours,
            min_score=min_score,
            top=top,
            seed=seed,
            votes=votes,
            progress=say,
        )
        text = render_report(report, fmt=fmt.value)
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_text(out, text)
            typer.echo(f"{len(report.flags):,} flags written to {out}", err=True)
        if html is not None:
            write_text(html, render_report(report, fmt="html"))
            typer.echo(f"HTML report written to {html}", err=True)
    if fail_on is not None and any(flag.score >= fail_on for flag in report.flags):
        worst = max(flag.score for flag in report.flags)
        typer.echo(f"fail: a flag scores {worst:.3f} >= --fail-on {fail_on:g}", err=True)
        raise typer.Exit(code=FAIL_EXIT)


@app.command()
def analyze(
    data: DataArgument,
    rules: RulesOption,
    fmt: Annotated[AnalysisFormat, typer.Option("--format", "-f", help="Output format.")] = (
        AnalysisFormat.table
    ),
    out: OutOption = None,
    force: ForceOption = False,
) -> None:
    """Show, per rule, coverage, overlaps, conflicts and agreement with the labels, worst first."""
    from lfkit.audit.analysis import analyze_rules, render_analysis
    from lfkit.data import read_data
    from lfkit.engine.apply import apply_rules
    from lfkit.output import check_output, write_text
    from lfkit.rules.loader import load_rules

    with exit_on_error():
        if out is not None:
            check_output(out, inputs=[data], force=force)
        ruleset = load_rules(rules)
        df = read_data(data, ruleset.task)
        votes = apply_rules(ruleset, df)
        stats = analyze_rules(
            ruleset,
            votes,
            df[ruleset.task.label_column].tolist(),
            df[ruleset.task.id_column].tolist(),
        )
        text = render_analysis(stats, fmt=fmt.value)
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_text(out, text)
            typer.echo(f"{len(stats):,} rules written to {out}", err=True)


def _apply_on_dask(
    ruleset: RuleSet, data: Path, scheduler: str | None, local_cluster: int | None
) -> tuple[pd.DataFrame, Votes]:
    """Read the data partition by partition and match the rules on a Dask cluster.

    Only the votes (sparse) and the id column come back to this process.
    """
    try:
        from lfkit.engine.distributed import apply_rules_dask, connect, read_data_dask
    except ImportError:
        raise LfkitError(
            "the Dask engine needs the dask extra: pip install 'lfkit[dask]'"
        ) from None
    with connect(scheduler, local_cluster):
        frame = read_data_dask(data, ruleset.task, labels=False)
        votes = apply_rules_dask(ruleset, frame)
        ids = frame[[ruleset.task.id_column]].compute().reset_index(drop=True)
    return ids, votes


def _progress() -> Callable[[str], None]:
    """Return a progress printer for stderr on a terminal, and a silent one when piped."""
    if not sys.stderr.isatty():
        return lambda _: None
    start = time.perf_counter()
    return lambda stage: typer.echo(f"[{time.perf_counter() - start:5.1f}s] {stage}", err=True)


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
