"""`lfkit audit` and `lfkit analyze`: rank suspect labels, and analyse rules against labels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lfkit._types import AnalysisFormat, LabelMethod, ReportFormat
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
    dask_engine,
    echo,
    exit_on_error,
    load_ruleset,
    progress,
)
from lfkit.display import plural

if TYPE_CHECKING:
    from lfkit.audit.partitioned import AuditOptions
    from lfkit.audit.suspects import AuditReport
    from lfkit.rules.ruleset import RuleSet

FAIL_EXIT = 3
"""Exit status of `lfkit audit --fail-on` when a flag scores at or above the threshold."""


@app.command()
def audit(
    data: DataArgument,
    rules: RulesOption,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")] = "table",
    out: OutOption = None,
    html: Annotated[Path | None, typer.Option(help="Also write the HTML report here.")] = None,
    top: Annotated[
        int | None, typer.Option(min=1, help="Show the N best flags (table: 20).")
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Lowest score shown (default: chosen from the data, so that there are as "
            "many flags as labels estimated wrong).",
        ),
    ] = None,
    label_model: Annotated[
        LabelMethod, typer.Option(help="How to resolve rule votes (see lfkit label --method).")
    ] = "naive-bayes",
    neighbours: Annotated[
        bool, typer.Option("--neighbours/--no-neighbours", help="Use similar-row evidence.")
    ] = True,
    classifier: Annotated[
        bool,
        typer.Option(
            "--classifier/--no-classifier",
            help="Use an out-of-fold text classifier trained on the existing labels.",
        ),
    ] = True,
    seed: Annotated[int, typer.Option(min=0, help="Seed for sampling.")] = 0,
    fail_on: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Exit 3 if a flag scores >= this.")
    ] = None,
    force: ForceOption = False,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = None,
    decisions: Annotated[
        Path | None, typer.Option(help="Audit the labels as decided here; leave decided flags out.")
    ] = None,
    lfs: LfsOption = None,
) -> None:
    """Find the rows whose existing labels are probably wrong, ranked, with evidence."""
    from lfkit.audit.partitioned import audit_source
    from lfkit.data import read_data
    from lfkit.output import check_outputs, write_text
    from lfkit.report.html import MAX_FLAGS
    from lfkit.report.render import render_report, report_chunks, write_report
    from lfkit.review.decisions import read_decisions
    from lfkit.review.memory import audit_with_decisions

    if top is None and fmt == "table" and out is None:
        top = 20
    # the --html page holds every flag it counts (up to MAX_FLAGS), whatever --top shows
    kept = top if html is None or top is None else max(top, MAX_FLAGS)
    say = progress()
    with exit_on_error():
        inputs = [data, rules] + ([decisions] if decisions is not None else [])
        check_outputs({"--out": out, "--html": html}, inputs=inputs, force=force)
        say("loading rules")
        ruleset = load_ruleset(rules, lfs)
        decided = read_decisions(decisions) if decisions is not None else {}
        options: AuditOptions = {
            "label_model": label_model,
            "neighbours": neighbours,
            "classifier": classifier,
            "min_score": min_score,
            "top": kept,
            "seed": seed,
            "progress": say,
        }
        on_cluster = scheduler is not None or local_cluster is not None
        if on_cluster and not decided:
            cluster = (scheduler, local_cluster)
            report, left_out = _audit_on_dask(ruleset, data, *cluster, options)
        elif not decided:
            # two passes over the file, a partition at a time: memory bounded by a partition
            report, left_out = audit_source(ruleset, data, **options), 0
        else:
            say("reading data")
            df = read_data(data, ruleset.task)
            votes = None
            if on_cluster:
                say("applying rules on the Dask cluster")
                _, votes = apply_on_dask(ruleset, data, scheduler, local_cluster)
            report, left_out, _ = audit_with_decisions(
                ruleset, df, decided, source=str(data), votes=votes, **options
            )
        if decided:
            left = plural(left_out, "flag")
            typer.echo(f"{left} already decided in {decisions} left out", err=True)
        page, report = report, replace(report, flags=report.flags[:top])
        if out is None:
            for chunk in report_chunks(report, fmt=fmt):
                echo(chunk, nl=False)
        else:
            write_report(report, out, fmt=fmt, force=force, option="--out")
            findings = (
                f" (and {plural(len(report.findings), 'taxonomy finding')})"
                if report.findings
                else ""
            )
            typer.echo(f"{plural(len(report.flags), 'flag')} written to {out}{findings}", err=True)
        if html is not None:
            write_text(html, render_report(page, fmt="html"), force=force, option="--html")
            typer.echo(f"HTML report written to {html}", err=True)
    if fail_on is not None and report.flags and report.flags[0].score >= fail_on:
        worst = report.flags[0].score  # flags come best first
        typer.echo(f"fail: a flag scores {worst:.3f} >= --fail-on {fail_on:g}", err=True)
        raise typer.Exit(code=FAIL_EXIT)


def _audit_on_dask(
    ruleset: RuleSet,
    data: Path,
    scheduler: str | None,
    local_cluster: int | None,
    options: AuditOptions,
) -> tuple[AuditReport, int]:
    """Audit on a Dask cluster: both passes on the workers, only summaries back here."""
    from lfkit.audit.distributed import audit_partitions
    from lfkit.data import split_data

    connect, map_partitions = dask_engine()
    if say := options.get("progress"):
        say("starting the Dask cluster" if scheduler is None else "connecting")
    with connect(scheduler, local_cluster):
        parts = split_data(data, ruleset.task)
        report = audit_partitions(ruleset, parts, map_parts=map_partitions, **options)
    return report, 0


@app.command()
def analyze(
    data: DataArgument,
    rules: RulesOption,
    fmt: Annotated[AnalysisFormat, typer.Option("--format", "-f", help="Output format.")] = "table",
    out: OutOption = None,
    force: ForceOption = False,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = None,
    lfs: LfsOption = None,
) -> None:
    """Show, per rule, coverage, overlaps, conflicts and agreement with the labels, worst first."""
    from lfkit.audit.analysis import render_analysis
    from lfkit.audit.distributed import analyze_partitions
    from lfkit.data import map_local, split_data
    from lfkit.output import check_outputs, write_text

    with exit_on_error():
        check_outputs({"--out": out}, inputs=[data, rules], force=force)
        ruleset = load_ruleset(rules, lfs)
        if scheduler is None and local_cluster is None:
            stats = analyze_partitions(ruleset, split_data(data, ruleset.task), map_parts=map_local)
        else:
            connect, map_partitions = dask_engine()
            with connect(scheduler, local_cluster):
                parts = split_data(data, ruleset.task)
                stats = analyze_partitions(ruleset, parts, map_parts=map_partitions)
        text = render_analysis(stats, fmt=fmt)
        if out is None:
            echo(text, nl=False)
        else:
            write_text(out, text, force=force, option="--out")
            typer.echo(f"{plural(len(stats), 'rule')} written to {out}", err=True)
