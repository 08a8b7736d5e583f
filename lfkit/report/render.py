"""Render an audit report in any of its formats."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lfkit._types import REPORT_FORMATS, ReportFormat
from lfkit.audit.suspects import AuditReport
from lfkit.errors import check_choice
from lfkit.output import atomic_path, write_text


def render_report(report: AuditReport, *, fmt: ReportFormat = "table") -> str:
    """Return the report as a terminal table, JSON Lines, CSV or a self-contained HTML page.

    Raises
    ------
    OptionError
        For an unknown format.
    """
    check_choice("fmt", fmt, REPORT_FORMATS, "report format")
    if fmt == "table":
        from lfkit.report.table import render_table

        return render_table(report)
    if fmt == "jsonl":
        from lfkit.report.records import render_jsonl

        return render_jsonl(report)
    if fmt == "csv":
        from lfkit.report.records import render_csv

        return render_csv(report)
    if fmt == "html":
        from lfkit.report.html import render_html

        return render_html(report)


def write_report(
    report: AuditReport,
    path: str | Path,
    *,
    fmt: ReportFormat = "table",
    force: bool = False,
    option: str = "",
) -> None:
    """Write the report to a file atomically, in any of its formats; JSON Lines streams, so
    that writing every flag never holds the whole text in memory.

    Raises
    ------
    OptionError
        For an unknown format.
    OutputError
        When `path` exists (without `force`) or cannot be written (see `lfkit.output`).
    """
    check_choice("fmt", fmt, REPORT_FORMATS, "report format")
    path = Path(path)
    if fmt != "jsonl":
        write_text(path, render_report(report, fmt=fmt), force=force, option=option)
        return
    from lfkit.report.records import write_jsonl

    with atomic_path(path, force=force, option=option) as temp, open(temp, "wb") as out:
        write_jsonl(report, out)


def report_chunks(report: AuditReport, *, fmt: ReportFormat = "table") -> Iterator[str]:
    """Yield the text of `render_report` in pieces (JSON Lines: BATCH records at a time), for
    writing a large report to a stream without holding all of it.

    Raises
    ------
    OptionError
        For an unknown format.
    """
    check_choice("fmt", fmt, REPORT_FORMATS, "report format")
    if fmt != "jsonl":
        yield render_report(report, fmt=fmt)
        return
    from lfkit.report.records import jsonl_batches

    for batch in jsonl_batches(report):
        yield "".join(batch)
