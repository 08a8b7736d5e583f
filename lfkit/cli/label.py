"""`lfkit label`: write the data with each row's predicted label(s) and probabilities."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lfkit._types import LabelMethod
from lfkit.cli.app import (
    DataArgument,
    ForceOption,
    LfsOption,
    LocalClusterOption,
    OutOption,
    RulesOption,
    SchedulerOption,
    app,
    dask_engine,
    exit_on_error,
    load_ruleset,
    progress,
)
from lfkit.errors import OptionError

if TYPE_CHECKING:
    import pandas as pd

    from lfkit.model.fit import LabelModel
    from lfkit.model.label import LabelCounts
    from lfkit.rules.ruleset import RuleSet


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
    method: Annotated[LabelMethod, typer.Option(help="Label model to fit.")] = "auto",
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
    from lfkit.output import check_outputs

    say = progress()
    with exit_on_error():
        if model is not None and (save_model is not None or method != "auto"):
            raise OptionError(
                "model",
                "--model uses a saved model as it is; it cannot be combined with "
                "--save-model or --method",
            )
        if save_model is not None and save_model.suffix.lower() != ".json":
            raise OptionError("save_model", f"--save-model {save_model}: give a .json path")
        check_outputs(
            {"--out": out, "--save-model": save_model},
            inputs=[data, rules] + ([model] if model is not None else []),
            force=force,
            tables=("--out",),
        )
        say("loading rules")
        ruleset = load_ruleset(rules, lfs)
        fitted, how, counts = _label(
            ruleset,
            data,
            scheduler,
            local_cluster,
            model=model,
            method=method,
            use_labels=use_labels,
            seed=seed,
            threshold=threshold,
            keep_abstains=keep_abstains,
            out=out,
            force=force,
            say=say,
        )
        if save_model is not None:
            fitted.save(save_model, force=force, option="--save-model")
    typer.echo(how)
    typer.echo(counts.summary())
    if out is not None:
        typer.echo(f"labelled data written to {out}")
    if save_model is not None:
        typer.echo(f"label model saved to {save_model}")


def _label(
    ruleset: RuleSet,
    data: Path,
    scheduler: str | None,
    local_cluster: int | None,
    *,
    model: Path | None,
    method: LabelMethod,
    use_labels: bool,
    seed: int,
    threshold: float | None,
    keep_abstains: bool,
    out: Path | None,
    force: bool,
    say: Callable[[str], None],
) -> tuple[LabelModel, str, LabelCounts]:
    """Fit (or load) the label model and label every row, partition by partition.

    In this process, or with --scheduler/--local-cluster on a Dask cluster, where the
    partitions are read, counted and labelled on the workers; labelled rows stream to --out
    one partition at a time in either case.
    """
    from lfkit.data import map_local, split_data
    from lfkit.model.label import table_frames
    from lfkit.model.partitioned import (
        fit_label_model_partitions,
        label_partitions,
        merge_label_counts,
    )
    from lfkit.model.save import load_label_model
    from lfkit.output import write_frames

    connect: Callable[..., AbstractContextManager[Any]] = lambda *_: nullcontext()  # noqa: E731
    map_parts = map_local
    if scheduler is not None or local_cluster is not None:
        connect, map_parts = dask_engine()
        say("starting the Dask cluster" if scheduler is None else "connecting to the scheduler")
    with connect(scheduler, local_cluster):
        parts = split_data(data, ruleset.task, labels=False)
        if model is not None:
            fitted = load_label_model(model, ruleset)
            how = f"label model: {fitted.method}, loaded from {model}"
        else:
            say("fitting the label model")
            fitted, labelled = fit_label_model_partitions(
                ruleset, parts, method=method, use_labels=use_labels, seed=seed, map_parts=map_parts
            )
            how = f"label model: {fitted.method}, " + (
                f"fitted on {labelled:,} labelled rows" if labelled else "fitted without labels"
            )
        say("labelling")
        results = label_partitions(
            fitted,
            parts,
            threshold=threshold,
            keep_abstains=keep_abstains,
            rows=out is not None,
            map_parts=map_parts,
        )
        total: list[LabelCounts] = []

        def frames(suffix: str) -> Iterator[pd.DataFrame]:
            for frame, counts in results:
                total[:] = [merge_label_counts(total[0], counts) if total else counts]
                if frame is not None:
                    yield from table_frames(frame, suffix)

        if out is not None:
            write_frames(frames(out.suffix), out, force=force, option="--out")
        else:
            for _ in frames(""):
                pass
    return fitted, how, total[0]
