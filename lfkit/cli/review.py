"""`lfkit fix` and `lfkit review`: act on flags, and write the corrected data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lfkit.cli.app import DataArgument, ForceOption, RulesOption, app, echo, exit_on_error

DecisionsOption = Annotated[
    Path, typer.Option("--decisions", "-d", help="The decisions log (JSON Lines).")
]


@app.command()
def fix(
    data: DataArgument,
    rules: RulesOption,
    decisions: DecisionsOption,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The corrected data, in the input's format.")
    ],
    changes: Annotated[
        Path | None, typer.Option(help="Also write the change log here (CSV).")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Write the data with its labels corrected by the decisions; print the change log."""
    from lfkit.output import check_outputs, write_text
    from lfkit.review.decisions import read_decisions
    from lfkit.review.fix import changes_csv, fix_file, render_changes
    from lfkit.rules.loader import load_rules

    with exit_on_error():
        outputs = {"--out": out, "--changes": changes}
        check_outputs(outputs, inputs=[data, decisions, rules], force=force)
        ruleset = load_rules(rules)
        log = read_decisions(decisions)
        correction = fix_file(ruleset, data, out, log, force=force)
        if changes is not None:
            write_text(changes, changes_csv(correction.changes), force=force, option="--changes")
    echo(render_changes(correction.changes), nl=False)
    typer.echo(f"{correction.summary()}; corrected data written to {out}", err=True)
    if changes is not None:
        typer.echo(f"change log written to {changes}", err=True)
