"""Render an audit report as a readable terminal table."""

from __future__ import annotations

import shutil
import textwrap

from lfkit.audit.suspects import FEW_ROWS, AuditReport
from lfkit.display import column_width, plural, terminal_safe

SHOWN_FINDINGS = 10
SHOWN_IDS = 6


def describe(report: AuditReport, *, shown: int | None = None) -> list[str]:
    """Return the header sentences shared by the table and the HTML page, which holds
    `shown` flags (default: all of `report.flags`)."""
    sources = ["rules"]
    if report.neighbours:
        sources.append("similar rows")
    if report.classifier:
        sources.append("text classifier")
    how = (
        "chosen from the data: as many flags as labels estimated wrong"
        if report.auto_threshold
        else "given"
    )
    if report.kind == "multilabel":
        noise = (
            f"estimated label noise: {report.noise.get('missing', 0):.1%} of true tags missing, "
            f"{report.noise.get('spurious', 0):.1%} of given tags wrong"
        )
    else:
        noise = f"estimated label noise: {report.noise.get('wrong', 0):.1%} of rows mislabelled"
    shown = len(report.flags) if shown is None else shown
    top = f"; showing the top {shown:,}" if shown < report.n_flags else ""
    return [
        f"{report.n_flags:,} flags at score >= {report.min_score:.2f} ({how}) among "
        f"{report.n_rows:,} rows{top}",
        f"evidence: {' + '.join(sources)} ({report.label_model} label model); {noise}",
    ]


def new_labels_line(report: AuditReport) -> str:
    """Return the sentence naming labels with too few rows, or '' when there are none."""
    if not report.unused_labels:
        return ""
    named = ", ".join(
        f"{label} ({plural(rows, 'row')}, rules fire on {hits})"
        for label, rows, hits in report.new_labels[:8]
    )
    more = len(report.new_labels) - 8
    named += f", and {more} more" if more > 0 else ""
    firing = f"; rules fire for {len(report.new_labels)}: {named}" if report.new_labels else ""
    return (
        f"{report.unused_labels:,} labels are on fewer than {FEW_ROWS} rows (new or unused: their "
        f"rule hits are 'candidate' flags){firing}"
    )


def render_table(report: AuditReport, *, width: int | None = None) -> str:
    """Return the header, one block per flag (rank, score, kind, label, id, text, why), then the
    taxonomy findings and the new labels."""
    width = width or shutil.get_terminal_size((120, 20)).columns
    lines = [*describe(report), ""]
    # full labels and ids, each column as wide as its longest value
    labels = column_width("label", (flag.label for flag in report.flags))
    ids = column_width("id", (flag.id for flag in report.flags))
    lines.append(f"{'#':>4}  {'score':>5}  {'kind':<10}  {'label':<{labels}}  {'id':<{ids}}  text")
    for rank, flag in enumerate(report.flags, start=1):
        text = " | ".join(value for value in flag.texts.values() if value)
        head = (
            f"{rank:>4}  {flag.score:5.3f}  {flag.kind:<10}  {flag.label:<{labels}}  "
            f"{str(flag.id):<{ids}}  "
        )
        lines.append(head + textwrap.shorten(text, max(20, width - len(head)), placeholder=" …"))
        why = textwrap.shorten("; ".join(flag.reasons()), max(20, width - 11), placeholder=" …")
        lines.append(" " * 6 + "why: " + why)
    if report.findings:
        rows = sum(finding.count for finding in report.findings)
        shown = report.findings[:SHOWN_FINDINGS]
        parents = column_width("parent", (finding.parent for finding in shown))
        children = column_width("child", (finding.child for finding in shown))
        lines += [
            "",
            f"Taxonomy findings: {len(report.findings):,} (child, parent) gaps on {rows:,} rows "
            "have the child tag but not its parent; fix: add the parent to those rows, or "
            "change the taxonomy",
            f"{'rows':>6}  {'parent':<{parents}}  {'child':<{children}}  {'P(child)':>8}  ids",
        ]
        for finding in shown:
            some = ", ".join(map(str, finding.ids[:SHOWN_IDS]))
            some += ", …" if finding.count > SHOWN_IDS else ""
            lines.append(
                f"{finding.count:>6}  {finding.parent:<{parents}}  {finding.child:<{children}}  "
                f"{finding.score:8.0%}  {some}"
            )
        more = len(report.findings) - SHOWN_FINDINGS
        if more > 0:
            lines.append(f"        … and {more} more (all in the jsonl, csv and html formats)")
    line = new_labels_line(report)
    if line:
        lines += ["", textwrap.fill(line, width, break_on_hyphens=False)]
    return terminal_safe("\n".join(lines) + "\n")  # data may hold escape sequences
