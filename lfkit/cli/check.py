"""`lfkit check` and `lfkit import-taxonomy`: the rule files themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lfkit._types import CheckFormat
from lfkit.cli.app import ForceOption, app, echo, exit_on_error


@app.command()
def check(
    rules: Annotated[Path, typer.Argument(help="A rules file or folder.")],
    fmt: Annotated[
        CheckFormat,
        typer.Option("--format", "-f", help="text (stderr), or json / sarif (stdout)."),
    ] = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 1).")] = False,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Check the task's columns and the labels against this data."),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            help="Report only warnings with these codes or prefixes (LF104, LF1; comma-separated "
            "or repeated). Errors are always reported.",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore", help="Do not report warnings with these codes or prefixes (LF104, LF2)."
        ),
    ] = None,
) -> None:
    """Validate rules files: every problem and warning at file:line:column, with a code."""
    from lfkit.check import check_rules
    from lfkit.errors import OptionError
    from lfkit.rules.lint import check_codes, exit_code, render_json, render_sarif, render_text

    with exit_on_error():
        chosen = {"--select": _codes(select), "--ignore": _codes(ignore)}
        for option, codes in chosen.items():
            try:
                check_codes(codes)
            except OptionError as err:
                raise OptionError(err.option, err.problem, err.hint, where=option) from None
        report = check_rules(rules, data=data, select=chosen["--select"], ignore=chosen["--ignore"])
    found = report.diagnostics
    if fmt == "json":
        typer.echo(render_json(found))
    elif fmt == "sarif":
        typer.echo(render_sarif(found, version=_version()))
    elif found:
        echo(render_text(found), err=True)
    ruleset = report.ruleset
    if fmt == "text" and ruleset is not None:
        disabled = f", {len(ruleset.disabled)} disabled" if ruleset.disabled else ""
        kind = ruleset.task.kind
        typer.echo(f"ok: {len(ruleset)} rules for {len(ruleset.labels)} labels ({kind}){disabled}")
    if code := exit_code(found, strict=strict):
        raise typer.Exit(code=code)


def _codes(values: list[str] | None) -> list[str]:
    """Return the codes of repeated and comma-separated options (`--ignore LF101,LF104`)."""
    return [code for value in values or [] for code in value.split(",") if code.strip()]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lfkit")
    except PackageNotFoundError:
        return ""


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
        write_text(out, text, force=force, option="--out")
    added = missing_parents(labels)
    extra = (
        f" (and {len(added)} parents that are not tags, with match_name: false)" if added else ""
    )
    echo(
        f"wrote {len(labels)} labels{extra} to {out}; add a task section and check it with "
        f"'lfkit check {out.parent}'"
    )
