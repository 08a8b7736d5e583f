"""Render an audit report as JSON Lines or CSV (machine-readable; see docs/audit.md)."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from lfkit._types import FloatArray
from lfkit.audit.flags import NO_SUGGESTION, Candidates, Flags
from lfkit.audit.suspects import KINDS, AuditReport, Flag
from lfkit.display import csv_cell, plain

BATCH = 20_000
"""Records joined into one string at a time while streaming."""


def render_jsonl(report: AuditReport) -> str:
    """Return one JSON object per flag (`"type": "flag"`, ranked by score), then one per
    taxonomy finding (`"type": "finding"`, largest first)."""
    return "".join(line for batch in jsonl_batches(report) for line in batch)


def write_jsonl(report: AuditReport, out: BinaryIO) -> None:
    """Write the records of `render_jsonl` to a binary file, UTF-8, BATCH records at a time."""
    for batch in jsonl_batches(report):
        out.write(b"".join(map(str.encode, batch)))


def jsonl_batches(report: AuditReport) -> Iterator[list[str]]:
    """Yield the lines of `render_jsonl` in lists of up to BATCH.

    The flags of an audit (`Flags`) are written from their columns, with each row's text,
    labels and rule matches encoded once for all its flags: the same records as
    `Flag.to_dict()` at about a hundredth of the time.
    """
    flags = report.flags
    if isinstance(flags, Flags):
        yield from _flag_lines(flags)
    else:
        for start in range(0, len(flags), BATCH):
            yield [_dumps(flag.to_dict()) + "\n" for flag in flags[start : start + BATCH]]
    if report.findings:
        yield [_dumps(finding.to_dict()) + "\n" for finding in report.findings]


_dumps = functools.partial(json.dumps, ensure_ascii=False)
_PERCENT = [f"{k}%" for k in range(101)]
_NO_EVIDENCE = (
    '"rules_for": [], "rules_against": [], "children_present": [], "children_probability": []'
)


def _numbers(column: FloatArray | None) -> list[str]:
    """Return each value as `json.dumps(round(value, 6))` writes it."""
    if column is None:
        return []
    values = np.asarray(column, dtype=np.float64)
    if not np.isfinite(values).all():
        return [_dumps(round(value, 6)) for value in values.tolist()]
    return list(map(float.__repr__, _round6(values).tolist()))


def _round6(values: FloatArray) -> FloatArray:
    """Return `round(value, 6)` of each (finite) value, vectorised.

    Python rounds the exact binary value to 6 decimals, half to even, and returns the double
    nearest that decimal: `rint(value * 1e6) / 1e6` is the same unless the product's rounding
    error could cross a half (then Python's `round` decides) or the value is huge.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: Python rounds them
        scaled = values * 1e6
        out = np.rint(scaled) / 1e6
        half = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) <= np.abs(scaled) * 2.0**-50
    unsure = np.nonzero(half | ~(np.abs(values) < 1e9))[0]
    if len(unsure):
        out[unsure] = [round(value, 6) for value in values[unsure].tolist()]
    return out


def _percents(column: FloatArray | None) -> list[str]:
    """Return each value as `f"{value:.0%}"` writes it: the value times 100 (a double), rounded
    half to even, which `np.rint` does exactly; other values (negative, above 1, not finite)
    are formatted one by one."""
    if column is None:
        return []
    values = np.asarray(column, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = np.rint(values * 100.0)
    plain = np.isfinite(values) & ~np.signbit(values) & (rounded <= 100)
    if plain.all():
        return list(map(_PERCENT.__getitem__, rounded.astype(np.int64).tolist()))
    return [f"{value:.0%}" for value in values.tolist()]


def _mapped(template: str, values: list[str]) -> list[str]:
    """Return `template.format(value)` of each value, formatting each distinct value once."""
    table = {value: template.format(value) for value in set(values)}
    return list(map(table.__getitem__, values))


def _escaped(text: str) -> str:
    """Return a string as it sits between the quotes of a JSON string."""
    return _dumps(text)[1:-1]


@dataclass
class _Row:
    """A row's parts of its flags' records, encoded once."""

    head: str
    """The record up to its label: type and id."""
    given: str
    text: str
    matches: dict[int, str]
    """Per fired rule (column): its JSON `rules_for`/`rules_against` entry."""
    sides: dict[int, tuple[list[int], list[int]]]
    """Multilabel: per label a fired rule speaks to, the rules for and against it."""


def _flag_lines(flags: Flags) -> Iterator[list[str]]:
    """Yield the JSON Lines of the flags, BATCH records at a time (see `jsonl_chunks`).

    Each part of a record is a column: the row's parts (id, labels, text, rule matches) and
    the label's parts (name, kind, noise) are encoded once and looked up, the numbers are
    formatted column by column, and only flags with rules for or against them, children or a
    suggestion get their reasons and evidence written one by one.
    """
    ruleset, c = flags.ruleset, flags.candidates
    n_labels = len(ruleset.labels)
    rows: dict[int, _Row] = {}
    for row in np.unique(c.row).tolist():
        rows[row] = _row_parts(flags, row)
    labels_kinds = _label_parts(flags)
    for start in range(0, len(c), BATCH):
        part = c.take(slice(start, start + BATCH))
        n = len(part)
        parts = list(map(rows.__getitem__, part.row.tolist()))
        keys = (part.kind.astype(np.int64) * n_labels + part.label).tolist()
        label_kind = list(map(labels_kinds.__getitem__, keys))
        first = _mapped(
            ', "why": ["no rule fired for or against it (rules alone {})',
            _percents(part.rule_probability),
        )
        neighbour = _numbers(part.neighbour_probability)
        classifier = _numbers(part.classifier_probability)
        similar = _mapped('", "similar rows {}', _percents(part.neighbour_probability))
        learned = _mapped('", "classifier {}', _percents(part.classifier_probability))
        extra = [""] * n
        evidence = [_NO_EVIDENCE] * n
        suggestion = ["null"] * n
        for i in _special(flags, part, parts):
            first[i], extra[i], evidence[i], suggestion[i] = _special_parts(
                flags, part, i, parts[i]
            )
        yield [
            f"{r.head}{lk[0]}{score}{why}{sim}{clf}{more}{lk[1]}{p}, "
            f'"rule_probability": {rp}, "neighbour_probability": {nb}, '
            f'"classifier_probability": {cl}, "noise": {lk[2]}, {ev}, "given": {r.given}, '
            f'"suggestion": {sug}}}, "text": {r.text}}}\n'
            for r, lk, score, why, sim, clf, more, p, rp, nb, cl, ev, sug in zip(
                parts,
                label_kind,
                _numbers(part.score),
                first,
                similar or [""] * n,
                learned or [""] * n,
                extra,
                _numbers(part.probability),
                _numbers(part.rule_probability),
                neighbour or ["null"] * n,
                classifier or ["null"] * n,
                evidence,
                suggestion,
                strict=True,
            )
        ]


def _row_parts(flags: Flags, row: int) -> _Row:
    ruleset = flags.ruleset
    facts, texts = flags.facts[row], flags.texts(row)
    row_id = plain(facts.id)
    given = _dumps([ruleset.label_value(ruleset.labels[g]) for g in facts.given])
    matches = {column: _dumps(flags.match(row, column).to_dict(texts)) for column in facts.fired}
    sides: dict[int, tuple[list[int], list[int]]] = {}
    if ruleset.multilabel:
        for column in facts.fired:
            positive = ruleset.rules[column].positive
            for label in flags.speaks_for(column):
                sides.setdefault(label, ([], []))[0 if positive else 1].append(column)
    head = f'{{"type": "flag", "id": {_dumps(row_id)}, "label": '
    return _Row(head, given, _dumps(texts), matches, sides)


def _label_parts(flags: Flags) -> list[tuple[str, str, str]]:
    """Return, per kind * n_labels + label: the record from its label to the score, from
    the noise reason to the probability, and the noise."""
    ruleset, found = flags.ruleset, []
    for kind, name in enumerate(KINDS):
        for label, label_name in enumerate(ruleset.labels):
            head = f'{_dumps(ruleset.label_value(label_name))}, "kind": {_dumps(name)}, "score": '
            noise = flags.noise(kind, label)
            why = (
                ""
                if noise is None
                else '", "' + _escaped(f"~{noise:.1%} of '{label_name}' labels estimated wrong")
            )
            number = "null" if noise is None else _dumps(round(noise, 6))
            found.append((head, why + '"], "evidence": {"probability": ', number))
    return found


def _special(flags: Flags, part: Candidates, parts: list[_Row]) -> list[int]:
    """Return the positions of flags with rules for or against them, children or a
    suggestion."""
    if flags.ruleset.multilabel:
        spoken = [label in row.sides for row, label in zip(parts, part.label.tolist(), strict=True)]
    else:
        spoken = [bool(row.matches) for row in parts]
    other = (part.suggested != NO_SUGGESTION) | np.array(
        [bool(c) for c in part.children.tolist()], dtype=bool
    )
    return np.nonzero(np.array(spoken, dtype=bool) | other)[0].tolist()


def _special_parts(flags: Flags, part: Candidates, i: int, row: _Row) -> tuple[str, str, str, str]:
    """Return the start of the reasons, the reasons after the classifier's, the rule and
    child evidence, and the suggestion of one flag (see `Flag.reasons`, `Flag.to_dict`)."""
    ruleset, names = flags.ruleset, flags.ruleset.labels
    at, label = int(part.row[i]), int(part.label[i])
    if ruleset.multilabel:
        supporting, opposing = row.sides.get(label, ([], []))
    else:
        supporting, opposing = flags.sides(at, label)
    why = []
    if supporting:
        why.append("rules for: " + ", ".join(_said(flags, at, c, label) for c in supporting[:3]))
    if opposing:
        why.append("rules against: " + ", ".join(_said(flags, at, c, label) for c in opposing[:3]))
    rule = f"{float(part.rule_probability[i]):.0%}"
    why.append(
        f"rules {rule}"
        if supporting or opposing
        else f"no rule fired for or against it (rules alone {rule})"
    )
    children = part.children[i]
    more = []
    if children:
        more.append(
            "taxonomy: has child "
            + ", ".join(f"{names[child]} ({right:.0%} right)" for child, right in children)
        )
    suggested = int(part.suggested[i])
    if suggested != NO_SUGGESTION:
        more.append(f"suggests {names[suggested]}")
    evidence = (
        f'"rules_for": [{", ".join([row.matches[c] for c in supporting])}], '
        f'"rules_against": [{", ".join([row.matches[c] for c in opposing])}], '
        f'"children_present": {_dumps([ruleset.label_value(names[c]) for c, _ in children])}, '
        f'"children_probability": {_dumps([round(right, 6) for _, right in children])}'
    )
    suggestion = (
        "null" if suggested == NO_SUGGESTION else _dumps(ruleset.label_value(names[suggested]))
    )
    first = ', "why": ["' + '", "'.join(map(_escaped, why))
    extra = "".join('", "' + _escaped(text) for text in more)
    return first, extra, evidence, suggestion


def _said(flags: Flags, row: int, column: int, label: int) -> str:
    """Return how a reason names a rule that fired (see `Flag.reasons`)."""
    return flags.match(row, column).describe(flags.texts(row), flags.ruleset.labels[label])


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
