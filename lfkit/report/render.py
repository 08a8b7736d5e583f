"""Render an audit report in any of its formats."""

from __future__ import annotations

from lfkit.audit.suspects import AuditReport
from lfkit.errors import LfkitError

FORMATS = ("table", "jsonl", "csv", "html")


def render_report(report: AuditReport, *, fmt: str = "table") -> str:
    """Return the report as a terminal table, JSON Lines, CSV or a self-contained HTML page.

    Raises
    ------
    LfkitError
        For an unknown format.
    """
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
    raise LfkitError(f"unknown report format '{fmt}'; choose one of {', '.join(FORMATS)}")
