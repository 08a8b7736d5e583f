"""`lfkit fix` and `lfkit review`: act on flags, and write the corrected data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lfkit._types import LabelMethod
from lfkit.cli.app import (
    DataArgument,
    ForceOption,
    LfsOption,
    RulesOption,
    app,
    echo,
    exit_on_error,
    load_ruleset,
    progress,
)
from lfkit.display import plural
from lfkit.errors import OutputError

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
        correction = fix_file(ruleset, data, out, log, force=force, option="--out")
        if changes is not None:
            write_text(changes, changes_csv(correction.changes), force=force, option="--changes")
    echo(render_changes(correction.changes), nl=False)
    typer.echo(f"{correction.summary()}; corrected data written to {out}", err=True)
    if changes is not None:
        typer.echo(f"change log written to {changes}", err=True)


@app.command()
def review(
    data: DataArgument,
    rules: RulesOption,
    decisions: Annotated[
        Path, typer.Option("--decisions", "-d", help="The decisions log to append to.")
    ] = Path("decisions.jsonl"),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: a free one).")] = 0,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the page in a browser.")
    ] = True,
    top: Annotated[int | None, typer.Option(min=1, help="Review at most N flags.")] = None,
    min_score: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Lowest score shown (default: as lfkit audit)."),
    ] = None,
    neighbours: Annotated[
        bool, typer.Option("--neighbours/--no-neighbours", help="Use similar-row evidence.")
    ] = True,
    classifier: Annotated[
        bool,
        typer.Option("--classifier/--no-classifier", help="Use the out-of-fold text classifier."),
    ] = True,
    seed: Annotated[int, typer.Option(min=0, help="Seed for sampling.")] = 0,
    label_model: Annotated[
        LabelMethod, typer.Option(help="How to resolve rule votes (see lfkit label --method).")
    ] = "naive-bayes",
    lfs: LfsOption = None,
) -> None:
    """Review the audit's flags in the browser; every decision is appended to --decisions."""
    import webbrowser

    from lfkit.data import read_data
    from lfkit.review.app import ReviewServer, open_session

    say = progress()
    with exit_on_error():
        for source in (data, rules):
            if source.exists() and decisions.resolve() == source.resolve():
                raise OutputError(f"--decisions {decisions} is an input file; choose another path")
        if not decisions.parent.is_dir():
            folder = decisions.parent
            raise OutputError(f"--decisions {decisions}: folder '{folder}' does not exist")
        ruleset = load_ruleset(rules, lfs)
        df = read_data(data, ruleset.task)
        fix = f"lfkit fix {data} --rules {rules} --decisions {decisions} --out FIXED{data.suffix}"
        session = open_session(
            ruleset,
            df,
            decisions,
            command=fix,
            top=top,
            min_score=min_score,
            neighbours=neighbours,
            classifier=classifier,
            seed=seed,
            label_model=label_model,
            progress=say,
        )
        server = ReviewServer(session, port=port)
    earlier = f", {session.decided_before} decided earlier" if session.decided_before else ""
    items = plural(len(session.items), "flag")
    typer.echo(f"{items} to review{earlier}; decisions go to {decisions}")
    typer.echo(f"review at {server.url}")
    typer.echo("press Ctrl-C to stop (nothing is lost: every decision is saved at once)")
    sys.stdout.flush()
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo(f"\nstopped; decisions are in {decisions}; next: {fix}")
    finally:
        server.server_close()
