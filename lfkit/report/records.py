"""Render an audit report as JSON Lines or CSV (machine-readable; see docs/audit.md)."""

from __future__ import annotations

import csv
import io
import json

from lfkit.audit.suspects import AuditReport, Flag
from lfkit.display import csv_cell


def render_jsonl(report: AuditReport) -> str:
    """Return one JSON object per flag, ranked by score."""
    return "".join(json.dumps(flag.to_dict(), ensure_ascii=False) + "\n" for flag in report.flags)


CSV_COLUMNS = (
    "rank",
    "id",
    "label",
    "kind",
    "score",
    "probability",
    "rule_probability",
    "neighbour_probability",
    "rules_for",
    "rules_against",
    "matched",
    "children_present",
    "suggestion",
    "given",
)


def _matched(flag: Flag) -> str:
    matches = flag.rules_for + flag.rules_against
    return "; ".join(dict.fromkeys(word for match in matches for word in match.words(flag.texts)))


def render_csv(report: AuditReport) -> str:
    """Return the flags as CSV, one row per flag; list columns are joined with '; '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rank, flag in enumerate(report.flags, start=1):
        neighbour = (
            "" if flag.neighbour_probability is None else f"{flag.neighbour_probability:.4f}"
        )
        row = [
            rank,
            flag.to_dict()["id"],
            flag.label,
            flag.kind,
            f"{flag.score:.4f}",
            f"{flag.probability:.4f}",
            f"{flag.rule_probability:.4f}",
            neighbour,
            "; ".join(m.rule for m in flag.rules_for),
            "; ".join(m.rule for m in flag.rules_against),
            _matched(flag),
            "; ".join(flag.children),
            flag.suggestion or "",
            "; ".join(flag.given),
        ]
        writer.writerow([csv_cell(cell) for cell in row])  # no formulas (docs/errors.md)
    return out.getvalue()
