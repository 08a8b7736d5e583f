"""Render an audit report as a readable terminal table."""

from __future__ import annotations

import shutil
import textwrap

from lfkit.audit.evidence import RuleMatch
from lfkit.audit.suspects import AuditReport, Flag
from lfkit.display import terminal_safe


def _evidence(flag: Flag) -> str:
    parts = []
    if flag.rules_for:
        parts.append("for: " + ", ".join(_rule_text(flag, m) for m in flag.rules_for[:3]))
    if flag.rules_against:
        parts.append("against: " + ", ".join(_rule_text(flag, m) for m in flag.rules_against[:3]))
    if flag.children:
        parts.append("has child " + ", ".join(flag.children[:3]))
    if flag.suggestion and flag.kind == "spurious":
        parts.append(f"suggests {flag.suggestion}")
    if not parts:
        parts.append("no rule fired" if flag.kind == "spurious" else "similar rows")
    if flag.neighbour_probability is not None:
        parts.append(f"similar rows {flag.neighbour_probability:.0%}")
    return "; ".join(parts)


def _rule_text(flag: Flag, match: RuleMatch) -> str:
    quoted = "/".join(f'"{word}"' for word in match.words(flag.texts)[:2])
    return f"{match.rule} {quoted}".strip()


def render_table(report: AuditReport, *, width: int | None = None) -> str:
    """Return a header line and one block per flag: rank, score, kind, label, id, title, why."""
    width = width or shutil.get_terminal_size((120, 20)).columns
    similar = ", with similar-row evidence" if report.neighbours else ""
    shown = f"; showing the top {len(report.flags)}" if len(report.flags) < report.n_flags else ""
    lines = [
        f"{report.n_flags:,} flags at score >= {report.min_score:g} among {report.n_rows:,} rows "
        f"({report.label_model} label model{similar}){shown}",
        "",
        f"{'#':>4}  {'score':>5}  {'kind':<14}  {'label':<28}  {'id':<8}  text",
    ]
    for rank, flag in enumerate(report.flags, start=1):
        text = " | ".join(value for value in flag.texts.values() if value)
        head = (
            f"{rank:>4}  {flag.score:5.3f}  {flag.kind:<14}  {flag.label:<28.28}  "
            f"{str(flag.id):<8.8}  "
        )
        lines.append(head + textwrap.shorten(text, max(20, width - len(head)), placeholder=" …"))
        why = textwrap.shorten(_evidence(flag), max(20, width - 8), placeholder=" …")
        lines.append(" " * 6 + "why: " + why)
    return terminal_safe("\n".join(lines) + "\n")  # data may hold escape sequences
