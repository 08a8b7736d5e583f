"""`lfkit label`: write the data with each row's predicted label(s) and probabilities."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

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
    progress,
)
from lfkit.errors import LfkitError


class Method(StrEnum):
    auto = "auto"
    naive_bayes = "naive-bayes"
    em = "em"
    snorkel = "snorkel"
    majority = "majority"


@app.command()
def label(
    data: DataArgument,
    rules: RulesOption,
    out: OutOption = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="Use this saved label model (no fitting).")
    ] = None,
    save_model: Annotated[
        Path | None, typer.Option(help="Save the fitted label model here (.json).")
    ] = None,
    method: Annotated[Method, typer.Option(help="Label model to fit.")] = Method.auto,
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Lowest probability of a tag (multilabel, default 0.5) or class."
        ),
    ] = None,
    keep_abstains: Annotated[
        bool,
        typer.Option(help="Label rows no rule voted on too (default: their label is empty)."),
    ] = False,
    use_labels: Annotated[
        bool,
        typer.Option(
            "--use-labels/--no-labels", help="Learn from the labels the data already has, if any."
        ),
    ] = True,
    seed: Annotated[int, typer.Option(min=0, help="Seed for Snorkel's optimiser.")] = 0,
    force: ForceOption = False,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = None,
    lfs: LfsOption = None,
) -> None:
    """Label every row with the rules and a label model; write the data with the labels to --out."""
    from lfkit.data import read_data
    from lfkit.engine.apply import apply_rules
    from lfkit.engine.votes import Votes
    from lfkit.model.fit import fit_label_model
    from lfkit.model.label import count_labels, known_labels, label_rows, table_frames
    from lfkit.model.save import load_label_model
    from lfkit.output import check_outputs, write_frames

    say = progress()
    with exit_on_error():
        if model is not None and (save_model is not None or method is not Method.auto):
            raise LfkitError(
                "--model uses a saved model as it is; it cannot be combined with "
                "--save-model or --method"
            )
        if save_model is not None and save_model.suffix.lower() != ".json":
            raise LfkitError(f"--save-model {save_model}: give a .json path")
        check_outputs(
            {"--out": out, "--save-model": save_model},
            inputs=[data, rules] + ([model] if model is not None else []),
            force=force,
            tables=("--out",),
        )
        say("loading rules")
        ruleset = load_ruleset(rules, lfs)
        say("reading data")
        df = read_data(data, ruleset.task, labels=False)
        if scheduler is None and local_cluster is None:
            say("applying rules")
            votes = apply_rules(ruleset, df)
        else:
            say("applying rules on the Dask cluster")
            _, votes = apply_on_dask(ruleset, data, scheduler, local_cluster)
        if model is not None:
            fitted = load_label_model(model, ruleset)
            how = f"label model: {fitted.method}, loaded from {model}"
        else:
            rows, given = known_labels(ruleset, df, source=str(data))
            if use_labels and len(rows):
                say(f"fitting the label model on {len(rows):,} labelled rows")
                subset = Votes(votes.fired[rows], votes.values)
                fitted = fit_label_model(ruleset, subset, given, method=method.value, seed=seed)
                how = f"label model: {fitted.method}, fitted on {len(rows):,} labelled rows"
            else:
                say("fitting the label model on the votes alone")
                fitted = fit_label_model(ruleset, votes, None, method=method.value, seed=seed)
                how = f"label model: {fitted.method}, fitted without labels"
        say("labelling")
        labelled = label_rows(
            fitted, df, votes=votes, threshold=threshold, keep_abstains=keep_abstains
        )
        if out is not None:
            write_frames(table_frames(labelled, out.suffix), out, force=force)
        if save_model is not None:
            fitted.save(save_model, force=force, option="--save-model")
    typer.echo(how)
    typer.echo(count_labels(labelled, votes).summary())
    if out is not None:
        typer.echo(f"labelled data written to {out}")
    if save_model is not None:
        typer.echo(f"label model saved to {save_model}")
