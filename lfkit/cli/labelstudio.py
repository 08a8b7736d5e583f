"""`lfkit export --to label-studio` and `lfkit import-decisions --from label-studio`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from lfkit._types import ReviewTool
from lfkit.cli.app import DataArgument, ForceOption, RulesOption, app, exit_on_error, progress
from lfkit.display import plural


@app.command()
def export(
    data: DataArgument,
    rules: RulesOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the tasks (JSON).")],
    to: Annotated[ReviewTool, typer.Option("--to", help="The labelling tool.")] = "label-studio",
    config: Annotated[
        Path | None,
        typer.Option(help="Where to write the labelling config (default: OUT with .xml)."),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            min=1, help="Export the N best rows (flags and taxonomy gaps ranked together)."
        ),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Lowest flag score exported (default: as lfkit audit, the flag set with the "
            "best expected F1).",
        ),
    ] = None,
    decisions: Annotated[
        Path | None, typer.Option("--decisions", "-d", help="Leave out flags decided here.")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed for sampling.")] = 0,
    force: ForceOption = False,
) -> None:
    """Audit the labels and write the flagged rows as tasks for a labelling tool.

    With --decisions, the labels are audited as corrected and flags already decided are left
    out, as `lfkit audit --decisions` does.
    """
    import json

    from lfkit.data import read_data
    from lfkit.output import check_outputs, write_text
    from lfkit.review.decisions import read_decisions
    from lfkit.review.labelstudio import labelstudio_config, labelstudio_tasks
    from lfkit.review.memory import audit_with_decisions
    from lfkit.rules.loader import load_rules

    config = config or out.with_suffix(".xml")
    say = progress()
    with exit_on_error():
        inputs = [data, rules] + ([decisions] if decisions is not None else [])
        check_outputs({"--out": out, "--config": config}, inputs=inputs, force=force)
        say("loading rules")
        ruleset = load_rules(rules)
        say("reading data")
        df = read_data(data, ruleset.task)
        decided = read_decisions(decisions) if decisions is not None else {}
        audit = {"min_score": min_score, "seed": seed, "progress": say}
        report, left_out, df = audit_with_decisions(
            ruleset, df, decided, top=top, source=str(data), **audit
        )
        if decided:
            left = plural(left_out, "flag")
            typer.echo(f"{left} already decided in {decisions} left out", err=True)
        tasks = labelstudio_tasks(ruleset, report, df, top=top)
        text = json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"
        write_text(out, text, force=force, option="--out")
        write_text(config, labelstudio_config(ruleset), force=force, option="--config")
    typer.echo(
        f"{plural(len(tasks), 'task')} ({plural(len(report.flags), 'flag')}) written to {out}; "
        f"labelling config written to {config}",
        err=True,
    )


@app.command("import-decisions")
def import_decisions(
    annotations: Annotated[Path, typer.Argument(help="The labelling tool's JSON export.")],
    rules: RulesOption,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The decisions log to append to (JSON Lines).")
    ],
    source: Annotated[
        ReviewTool, typer.Option("--from", help="The labelling tool.")
    ] = "label-studio",
    data: Annotated[
        Path | None,
        typer.Option(help="The data the tasks came from: check ids and compare current labels."),
    ] = None,
) -> None:
    """Turn annotated tasks from a labelling tool into decisions that `lfkit fix` applies."""
    from lfkit.data import read_data
    from lfkit.output import check_output
    from lfkit.review.decisions import append_decision
    from lfkit.review.labelstudio import labelstudio_decisions, read_annotations
    from lfkit.rules.loader import load_rules

    with exit_on_error():
        inputs = [annotations] + ([data] if data is not None else [])
        check_output(out, inputs=inputs, force=True, option="--out")
        ruleset = load_rules(rules)
        tasks = read_annotations(annotations)
        df = None if data is None else read_data(data, ruleset.task)
        decisions = labelstudio_decisions(ruleset, tasks, df=df, source=source)
        for decision in decisions:
            append_decision(out, decision)
    counts = Counter(decision.decision for decision in decisions)
    annotated = len({str(decision.id) for decision in decisions})
    summary = ", ".join(f"{name} {counts[name]}" for name in ("accept", "reject", "relabel"))
    typer.echo(
        f"{plural(len(decisions), 'decision')} ({summary}) from "
        f"{plural(annotated, 'annotated row')} of {plural(len(tasks), 'task')} appended to {out}",
        err=True,
    )
