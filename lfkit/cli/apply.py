"""`lfkit apply`: write the label matrix."""

from __future__ import annotations

import time

import typer

from lfkit.cli.app import (
    DataArgument,
    ForceOption,
    LfsOption,
    LocalClusterOption,
    OutOption,
    RulesOption,
    SchedulerOption,
    app,
    apply_on_dask,
    exit_on_error,
    load_ruleset,
)


@app.command()
def apply(
    data: DataArgument,
    rules: RulesOption,
    out: OutOption = None,
    force: ForceOption = False,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = None,
    lfs: LfsOption = None,
) -> None:
    """Apply the rules to every row; write the votes (one column per rule) to --out."""
    from lfkit.data import read_data
    from lfkit.engine.apply import apply_rules
    from lfkit.engine.summary import summarize_votes, votes_frames
    from lfkit.output import check_outputs, write_frames

    with exit_on_error():
        ruleset = load_ruleset(rules, lfs)
        check_outputs({"--out": out}, inputs=[data, rules], force=force, tables=("--out",))
        start = time.perf_counter()
        if scheduler is None and local_cluster is None:
            df = read_data(data, ruleset.task, labels=False)
            votes = apply_rules(ruleset, df)
        else:
            df, votes = apply_on_dask(ruleset, data, scheduler, local_cluster)
        seconds = time.perf_counter() - start
        if out is not None:
            write_frames(votes_frames(ruleset, df, votes), out, force=force, option="--out")
    typer.echo(summarize_votes(ruleset, votes, seconds=seconds))
    if out is not None:
        typer.echo(f"votes written to {out}")
