"""Render an audit report as JSON Lines or CSV (machine-readable; see docs/audit.md)."""

from __future__ import annotations

import csv
import io
import json

from lfkit.audit.suspects import AuditReport, Flag
from lfkit.display import csv_cell


def render_jsonl(report: AuditReport) -> str:
    """Return one JSON object per flag (`"type": "flag"`, ranked by score), then one per
    taxonomy finding (`"type": "finding"`, largest first)."""
    records = [flag.to_dict() for flag in report.flags]
    records += [finding.to_dict() for finding in report.findings]
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


CSV_COLUMNS = (
    "type",
    "rank",
    "id",
    "label",
    "kind",
    "score",
    "probability",
    "rule_probability",
    "neighbour_probability",
    "classifier_probability",
    "noise",
    "why",
    "rules_for",
    "rules_against",
    "matched",
    "children_present",
    "suggestion",
    "given",
    "child",
    "count",
    "ids",
    "fixes",
)


def _matched(flag: Flag) -> str:
    matches = flag.rules_for + flag.rules_against
    return "; ".join(dict.fromkeys(word for match in matches for word in match.words(flag.texts)))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def render_csv(report: AuditReport) -> str:
    """Return the flags as CSV, one row per flag, then one row per taxonomy finding (type
    'finding'); list columns are joined with '; '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rank, flag in enumerate(report.flags, start=1):
        row = {
            "type": "flag",
            "rank": rank,
            "id": flag.to_dict()["id"],
            "label": flag.label,
            "kind": flag.kind,
            "score": f"{flag.score:.4f}",
            "probability": f"{flag.probability:.4f}",
            "rule_probability": f"{flag.rule_probability:.4f}",
            "neighbour_probability": _number(flag.neighbour_probability),
            "classifier_probability": _number(flag.classifier_probability),
            "noise": _number(flag.noise),
            "why": "; ".join(flag.reasons()),
            "rules_for": "; ".join(m.rule for m in flag.rules_for),
            "rules_against": "; ".join(m.rule for m in flag.rules_against),
            "matched": _matched(flag),
            "children_present": "; ".join(flag.children),
            "suggestion": flag.suggestion or "",
            "given": "; ".join(flag.given),
        }
        writer.writerow([csv_cell(row.get(column, "")) for column in CSV_COLUMNS])
    for rank, finding in enumerate(report.findings, start=1):
        record = finding.to_dict()
        row = {
            "type": "finding",
            "rank": rank,
            "label": finding.parent,
            "kind": record["kind"],
            "score": f"{finding.score:.4f}",
            "child": finding.child,
            "count": finding.count,
            "ids": "; ".join(map(str, record["ids"])),
            "fixes": "; ".join(record["fixes"]),
        }
        writer.writerow([csv_cell(row.get(column, "")) for column in CSV_COLUMNS])
    return out.getvalue()  # no formulas (docs/errors.md)
