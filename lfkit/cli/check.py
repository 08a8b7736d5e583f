"""`lfkit check` and `lfkit import-taxonomy`: the rule files themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lfkit.cli.app import ForceOption, app, echo, exit_on_error


@app.command()
def check(rules: Annotated[Path, typer.Argument(help="A rules file or folder.")]) -> None:
    """Validate rules files and list every problem found, then risky rules as warnings."""
    from lfkit.rules.loader import load_rules

    with exit_on_error():
        ruleset = load_rules(rules)
    for warning in ruleset.warnings:
        echo(f"warning: {warning}", err=True)
    disabled = f", {len(ruleset.disabled)} disabled" if ruleset.disabled else ""
    typer.echo(
        f"ok: {len(ruleset)} rules for {len(ruleset.labels)} labels ({ruleset.task.kind}){disabled}"
    )


@app.command("import-taxonomy")
def import_taxonomy(
    taxonomy: Annotated[Path, typer.Argument(help="A JSON taxonomy: {tag: {aliases, parents}}.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The YAML labels file to write.")],
    force: ForceOption = False,
) -> None:
    """Convert a tags.json-style taxonomy into a readable YAML labels file to edit."""
    from lfkit.output import check_outputs, write_text
    from lfkit.rules.taxonomy import (
        check_taxonomy,
        missing_parents,
        read_taxonomy,
        taxonomy_yaml,
    )

    with exit_on_error():
        check_outputs({"--out": out}, inputs=[taxonomy], force=force)
        labels = read_taxonomy(taxonomy)
        text = taxonomy_yaml(labels, source=str(taxonomy))
        check_taxonomy(text, str(taxonomy))
        write_text(out, text, force=force)
    added = missing_parents(labels)
    extra = (
        f" (and {len(added)} parents that are not tags, with match_name: false)" if added else ""
    )
    echo(
        f"wrote {len(labels)} labels{extra} to {out}; add a task section and check it with "
        f"'lfkit check {out.parent}'"
    )
