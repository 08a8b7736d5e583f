"""Re-audit with memory: leave out of a report the flags a person has already decided.

A decided flag stays out, except a rejected one whose evidence changed since (its rules for
and against differ from the `rules` the decision recorded): that one comes back. Together
with `lfkit.review.fix.apply_decisions` (audit the labels as corrected) this is what
`lfkit audit --decisions` and `lfkit review` do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from lfkit.audit.flags import Flags
from lfkit.audit.suspects import KINDS, AuditReport, Flag, audit_labels
from lfkit.review.decisions import Decision, decision_key, flag_rules
from lfkit.review.fix import apply_decisions
from lfkit.rules.ruleset import RuleSet


def audit_with_decisions(
    ruleset: RuleSet,
    df: pd.DataFrame,
    decisions: Mapping[tuple[str, str], Decision],
    *,
    top: int | None = None,
    source: str = "the data",
    **audit: Any,
) -> tuple[AuditReport, int, pd.DataFrame]:
    """Audit the labels as corrected by the decisions and leave the decided flags out.

    `audit` holds further `audit_labels` options. Returns the report (its top `top` open
    flags), how many decided flags were left out, and the corrected DataFrame.

    Raises
    ------
    DataError
        For bad data, or decisions about ids or labels the data and rules do not know.
    """
    if not decisions:
        return audit_labels(ruleset, df, top=top, **audit), 0, df
    corrected = apply_decisions(ruleset, df, decisions, source=source)
    report = audit_labels(ruleset, corrected, **audit)
    return (*leave_out_decided(report, decisions, top=top), corrected)


def flag_decision(
    flag: Flag,
    decisions: Mapping[tuple[str, str], Decision],
    *,
    multilabel: bool,
    by_row: Mapping[str, Decision] | None = None,
) -> Decision | None:
    """Return the decision that covers a flag, or None when it is still open.

    Multilabel: the decision on the flag's (id, label). Multiclass: also any decision on the
    row (`by_row`, from `decisions_by_row`), since a row's flags (its class is wrong; it is
    that other class) ask one question. A rejected flag whose rules changed since the
    decision (as recorded in its `rules`) is open again.
    """
    key = decision_key(flag.id, flag.label)
    decision = decisions.get(key)
    if decision is None and not multilabel:
        by_row = decisions_by_row(decisions) if by_row is None else by_row
        decision = by_row.get(key[0])
    if decision is None or decision.decision != "reject":
        return decision
    if decision.rules is None:  # evidence not recorded (a hand-written log): it cannot change
        return decision
    return decision if tuple(decision.rules) == flag_rules(flag) else None


def decisions_by_row(decisions: Mapping[tuple[str, str], Decision]) -> dict[str, Decision]:
    """Return the latest decision per row id (its text)."""
    return {key[0]: decision for key, decision in decisions.items()}


def leave_out_decided(
    report: AuditReport,
    decisions: Mapping[tuple[str, str], Decision],
    *,
    top: int | None = None,
) -> tuple[AuditReport, int]:
    """Return the report without the decided flags (and decided rows of findings), cut to
    `top`, and how many were left out.

    Pass the report of an audit run without `top`, so that the counts stay right and the
    top N are N open flags.
    """
    multilabel = report.kind == "multilabel"
    by_row = None if multilabel else decisions_by_row(decisions)
    flags: Sequence[Flag]
    if isinstance(report.flags, Flags):  # build only the flags a decision may cover
        keys = report.flags.keys()
        flags = report.flags.take(
            [
                i
                for i, key in enumerate(keys)
                if (key not in decisions and (by_row is None or key[0] not in by_row))
                or flag_decision(report.flags[i], decisions, multilabel=multilabel, by_row=by_row)
                is None
            ]
        )
    else:
        flags = [
            flag
            for flag in report.flags
            if flag_decision(flag, decisions, multilabel=multilabel, by_row=by_row) is None
        ]
    left_out = len(report.flags) - len(flags)
    counts: dict[str, dict[str, int]] = {}
    kinds = {kind: 0 for per_label in report.counts.values() for kind in per_label}
    for label, kind in _labels_and_kinds(flags):
        counts.setdefault(label, dict(kinds)).setdefault(kind, 0)
        counts[label][kind] += 1
    if isinstance(flags, Flags):
        shown: Sequence[Flag] = flags if top is None else flags.take(range(min(top, len(flags))))
    else:
        shown = tuple(flags[:top] if top is not None else flags)
    changes: dict[str, Any] = {"flags": shown}
    changes["counts"] = counts
    findings = getattr(report, "findings", None)
    if findings is not None:
        kept, dropped = _open_findings(findings, decisions)
        changes["findings"] = kept
        left_out += dropped
    return dataclasses.replace(report, **changes), left_out


def _labels_and_kinds(flags: Sequence[Flag]) -> list[tuple[str, str]]:
    """Return each flag's (label, kind), without building lazy flags."""
    if not isinstance(flags, Flags):
        return [(flag.label, flag.kind) for flag in flags]
    names, found = flags.ruleset.labels, flags.candidates
    return [
        (names[label], KINDS[kind])
        for label, kind in zip(found.label.tolist(), found.kind.tolist(), strict=True)
    ]


def _open_findings(
    findings: Any, decisions: Mapping[tuple[str, str], Decision]
) -> tuple[tuple[Any, ...], int]:
    """Return the findings without their decided rows, and how many rows were left out."""
    kept, dropped = [], 0
    for finding in findings:
        rows = [
            (row_id, row)
            for row_id, row in zip(finding.ids, finding.rows, strict=True)
            if decision_key(row_id, finding.parent) not in decisions
        ]
        dropped += len(finding.ids) - len(rows)
        if rows:
            ids, numbers = zip(*rows, strict=True)
            kept.append(dataclasses.replace(finding, ids=tuple(ids), rows=tuple(numbers)))
    return tuple(kept), dropped
