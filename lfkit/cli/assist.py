"""`lfkit suggest`: help write the rules from the data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lfkit._types import ListFormat, NextFormat, SliceKind
from lfkit.cli.app import (
    DataArgument,
    ForceOption,
    LfsOption,
    OutOption,
    RulesOption,
    app,
    echo,
    exit_on_error,
    load_ruleset,
    progress,
)
from lfkit.display import plural


@app.command()
def suggest(
    data: DataArgument,
    rules: RulesOption,
    label: Annotated[
        list[str] | None, typer.Option("--label", "-l", help="Only this label (repeatable).")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="At most N keywords per label.")] = 5,
    min_precision: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Lowest held-out precision kept.")
    ] = 0.5,
    min_new: Annotated[
        int, typer.Option(min=1, help="Fewest unexplained labelled rows a keyword must cover.")
    ] = 2,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = "table",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the suggestions as a rules file (YAML) here."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the held-out folds.")] = 0,
    lfs: LfsOption = None,
    force: ForceOption = False,
) -> None:
    """Suggest keywords per label from the rows no rule explains; list rules that hurt."""
    from lfkit.assist.suggest import render_suggestions, suggest_rules
    from lfkit.data import read_data
    from lfkit.output import check_output, write_text

    say = progress()
    with exit_on_error():
        if out is not None:
            check_output(
                out, inputs=[data, rules], force=force, suffixes=(".yaml", ".yml"), option="--out"
            )
        say("loading rules")
        ruleset = load_ruleset(rules, lfs)
        say("reading data")
        df = read_data(data, ruleset.task)
        say("mining phrases")
        result = suggest_rules(
            ruleset, df, labels=label, top=top, min_precision=min_precision, min_new=min_new,
            seed=seed,
        )  # fmt: skip
        echo(render_suggestions(result, fmt=fmt), nl=False)
        if out is not None:
            write_text(out, result.to_yaml(source=str(data)), force=force, option="--out")
            typer.echo(
                f"{plural(len(result.suggestions), 'keyword')} written to {out}; move it into "
                "the rules folder and run 'lfkit check'",
                err=True,
            )


@app.command("next")
def next_rows(
    data: DataArgument,
    rules: RulesOption,
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="How many rows to list.")] = 50,
    diversity: Annotated[
        float, typer.Option(min=0.0, help="Penalty weight for rows similar to ones listed.")
    ] = 0.5,
    fmt: Annotated[
        NextFormat,
        typer.Option(
            "--format", "-f", help="Output format (label-studio: tasks JSON + config, needs --out)."
        ),
    ] = "table",
    out: OutOption = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the label model.")] = 0,
    lfs: LfsOption = None,
    force: ForceOption = False,
) -> None:
    """List the unlabelled rows to label next (rows with an empty label cell), with reasons."""
    import json

    from lfkit.assist.next import labelstudio_next_tasks, render_next, rows_to_label
    from lfkit.data import read_data
    from lfkit.errors import OptionError
    from lfkit.model.label import known_labels
    from lfkit.output import check_outputs, write_text
    from lfkit.review.labelstudio import labelstudio_config

    say = progress()
    with exit_on_error():
        outputs = {"--out": out} if out is not None else {}
        if fmt == "label-studio":
            if out is None:
                raise OptionError(
                    "out", "--format label-studio writes two files; give --out PATH.json"
                )
            outputs["--config"] = out.with_suffix(".xml")
        check_outputs(outputs, inputs=[data, rules], force=force)
        say("loading rules")
        ruleset = load_ruleset(rules, lfs)
        say("reading data")
        df = read_data(data, ruleset.task, labels=False)
        labelled, given = known_labels(ruleset, df, source=str(data))
        say(f"ranking {len(df) - len(labelled):,} unlabelled rows ({len(labelled):,} labelled)")
        rows = rows_to_label(ruleset, df, labelled, given, n=n, diversity=diversity, seed=seed)
        if fmt == "label-studio":
            tasks = labelstudio_next_tasks(ruleset, df, rows)
            write_text(
                outputs["--out"],
                json.dumps(tasks, ensure_ascii=False, indent=1) + "\n",
                force=force,
                option="--out",
            )
            write_text(
                outputs["--config"], labelstudio_config(ruleset), force=force, option="--config"
            )
            typer.echo(
                f"{plural(len(tasks), 'task')} written to {out}; labelling config written to "
                f"{outputs['--config']}",
                err=True,
            )
            return
        text = render_next(rows, fmt=fmt)
        if out is None:
            echo(text, nl=False)
        else:
            write_text(out, text, force=force, option="--out")
            typer.echo(f"{plural(len(rows), 'row')} written to {out}", err=True)


@app.command()
def slices(
    data: DataArgument,
    rules: RulesOption,
    predictions: Annotated[
        Path,
        typer.Option(
            "--predictions",
            "-p",
            help="A table of id and 'predicted' (what 'lfkit label --out' writes).",
        ),
    ],
    by: Annotated[
        SliceKind, typer.Option(help="One slice per label's rules, or per rule.")
    ] = "label",
    min_size: Annotated[int, typer.Option(min=1, help="Leave out slices with fewer rows.")] = 5,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = "table",
    lfs: LfsOption = None,
) -> None:
    """Report a model's metrics on each slice the rules define, worst first."""
    from lfkit.assist.slices import read_predictions, render_slices, slice_metrics
    from lfkit.data import read_data

    with exit_on_error():
        ruleset = load_ruleset(rules, lfs)
        df = read_data(data, ruleset.task)
        # read_predictions checks the 'predicted' column, with a hint for this table
        table_task = ruleset.task.model_copy(update={"text_columns": ()})
        table = read_data(predictions, table_task, labels=False)
        predicted = read_predictions(ruleset, df, table, source=str(predictions))
        metrics = slice_metrics(ruleset, df, predicted, by=by, min_size=min_size)
    echo(render_slices(metrics, fmt=fmt), nl=False)
