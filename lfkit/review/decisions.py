"""The decisions log: what a person decided about each flag, one JSON object per line.

Written by the review app and the Label Studio import, read by `lfkit fix` and by
`lfkit audit --decisions`. The format is documented in docs/review.md.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lfkit._types import DECISION_KINDS
from lfkit.display import plain
from lfkit.errors import DataError

if TYPE_CHECKING:
    from lfkit.audit.suspects import Flag

DECISIONS: tuple[str, ...] = DECISION_KINDS
"""What a person can decide about a flag; `undo` cancels their latest decision on it."""
FIELDS = ("id", "label", "kind", "decision", "value", "score", "rules", "source", "time")


def now() -> str:
    """Return the current time as ISO 8601 with the UTC offset, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Decision:
    """One decision about one flag: the (row id, label) pair it is about and what was decided.

    Examples
    --------
    >>> decision = Decision(2391, "nlp", "missing", "accept", time="2026-12-01T15:20:00+00:00")
    >>> decision.key
    ('2391', 'nlp')
    >>> decision.to_dict()["decision"]
    'accept'
    """

    id: Any
    """The row id as in the data (a JSON number or string)."""
    label: str
    """The flag's label."""
    kind: str
    """The flag's kind: missing, spurious, candidate, missing-parent, ..."""
    decision: str
    """accept, reject, relabel or undo."""
    value: str | tuple[str, ...] | None = None
    """relabel: the class (multiclass) or tags (multilabel) the row gets instead of `label`;
    accept of a multiclass spurious flag: the suggested class; otherwise None."""
    score: float | None = None
    """The flag's score when it was decided."""
    rules: tuple[str, ...] | None = None
    """Sorted names of the rules for and against the label when it was decided (None: not
    recorded; a rejected flag then stays rejected)."""
    source: str = "review"
    """The tool that wrote the decision: review, label-studio, ..."""
    time: str = field(default_factory=now)
    """When it was decided: ISO 8601 with a UTC offset."""
    line: int = field(default=0, compare=False, repr=False)
    """The line of the decisions file it was read from (0: not read from a file)."""

    @property
    def key(self) -> tuple[str, str]:
        """Return (str(id), label): ids match by their text, as CSV data reads them."""
        return decision_key(self.id, self.label)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of this decision, as written to the log."""
        row_id = plain(self.id)
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {
            "id": row_id,
            "label": self.label,
            "kind": self.kind,
            "decision": self.decision,
            "value": value,
            "score": None if self.score is None else round(float(self.score), 6),
            "rules": None if self.rules is None else list(self.rules),
            "source": self.source,
            "time": self.time,
        }


def decision_key(row_id: Any, label: str) -> tuple[str, str]:
    """Return the key a decision and a flag share: (str(id), label).

    Examples
    --------
    >>> decision_key(7, "nlp") == decision_key("7", "nlp")
    True
    """
    row_id = plain(row_id)
    return (str(row_id), label)


def flag_rules(flag: Flag) -> tuple[str, ...]:
    """Return the sorted names of the rules for and against a flag's label: the evidence a
    decision records, so that a rejected flag comes back only when it changes."""
    return tuple(sorted({match.rule for match in flag.rules_for + flag.rules_against}))


def decision_for(
    flag: Flag, decision: str, *, value: Any = None, source: str = "review"
) -> Decision:
    """Return a decision about a flag, with the flag's kind, score and rules."""
    if isinstance(value, list):
        value = tuple(value)
    return Decision(
        flag.id,
        flag.label,
        flag.kind,
        decision,
        value=value,
        score=flag.score,
        rules=flag_rules(flag),
        source=source,
    )


def append_decision(path: str | Path, decision: Decision) -> None:
    """Append one decision as one JSON line, flushed and fsynced before returning.

    A crash right after this call loses nothing. A file whose last line lacks its newline
    (edited by hand, say) gets one first, so two records never share a line.

    Raises
    ------
    DataError
        When the file cannot be written, or the decision is not valid.
    """
    path = Path(path)
    _check(decision.to_dict(), f"{path}: decision to append")
    line = json.dumps(decision.to_dict(), ensure_ascii=False) + "\n"
    created = not path.exists()
    try:
        with open(path, "a+b") as out:
            if out.tell() > 0:
                out.seek(-1, os.SEEK_END)
                if out.read(1) != b"\n":
                    line = "\n" + line
            out.write(line.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        if created:  # make the new file's name durable too
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
    except OSError as err:
        raise DataError(f"cannot append the decision ({err.strerror})", where=str(path)) from None


def read_log(path: str | Path) -> list[Decision]:
    """Return every decision of a log in order, undos included.

    Raises
    ------
    DataError
        Naming the file and line of the first record that is not a valid decision.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        problem = f"cannot read the decisions file ({err.strerror})"
        raise DataError(problem, where=str(path)) from None
    except UnicodeDecodeError:
        raise DataError("the decisions file is not UTF-8 text", where=str(path)) from None
    log = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"not valid JSON ({err.msg} at column {err.colno})",
                "each line of a decisions file is one JSON object (see docs/review.md)",
                where=where,
            ) from None
        record = _numbers_as_text(record)
        _check(record, where)
        value = record.get("value")
        log.append(
            Decision(
                record["id"],
                record["label"],
                record["kind"],
                record["decision"],
                value=tuple(value) if isinstance(value, list) else value,
                score=record.get("score"),
                rules=None if record.get("rules") is None else tuple(record["rules"]),
                source=record.get("source") or "",
                time=record.get("time") or "",
                line=number,
            )
        )
    return log


def read_decisions(path: str | Path) -> dict[tuple[str, str], Decision]:
    """Fold a decisions log: the last still-active decision per (id, label), in log order.

    `undo` cancels the most recent active decision for its (id, label); an undo with nothing
    left to cancel does nothing. Keys are `decision_key(id, label)`.

    Raises
    ------
    DataError
        Naming the file and line of the first record that is not a valid decision.
    """
    return fold_decisions(read_log(path))


def fold_decisions(log: list[Decision]) -> dict[tuple[str, str], Decision]:
    """Fold decisions in order: the last still-active one per (id, label) wins.

    Examples
    --------
    >>> log = [Decision(1, "a", "missing", "accept"), Decision(1, "a", "missing", "reject"),
    ...        Decision(1, "a", "missing", "undo"), Decision(2, "b", "missing", "reject"),
    ...        Decision(2, "b", "missing", "undo")]
    >>> {key: d.decision for key, d in fold_decisions(log).items()}
    {('1', 'a'): 'accept'}
    """
    stacks: dict[tuple[str, str], list[Decision]] = {}
    for decision in log:
        stack = stacks.setdefault(decision.key, [])
        if decision.decision == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(decision)
    active = [stack[-1] for stack in stacks.values() if stack]
    active.sort(key=lambda decision: decision.line)
    return {decision.key: decision for decision in active}


def _check(record: Any, where: str) -> None:
    """Raise a DataError saying what is wrong with a decision record, if anything."""
    problem = _problem(record)
    if problem:
        raise DataError(
            problem,
            f"a decision is a JSON object with id, label, kind, decision "
            f"({' | '.join(DECISIONS)}) and optional value, score, rules, source, time (see "
            "docs/review.md)",
            where=where,
        )


def _problem(record: Any) -> str:
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    for name in ("id", "label", "kind", "decision"):
        if record.get(name) is None:
            return f"'{name}' is missing"
    row_id = record["id"]
    if isinstance(row_id, bool) or not isinstance(row_id, int | str):
        return f"'id' must be a number or a string, got {row_id!r}"
    for name in ("label", "kind", "source", "time"):
        text = record.get(name)
        if text is None:
            continue
        if not isinstance(text, str) or (name in ("label", "kind") and not text.strip()):
            return f"'{name}' must be a non-empty string, got {text!r}"
    if record["decision"] not in DECISIONS:
        return f"'decision' must be one of {', '.join(DECISIONS)}, got {record['decision']!r}"
    value = record.get("value")
    if value is not None and not _labels(value):
        return f"'value' must be a label or a list of labels, got {value!r}"
    if record["decision"] == "relabel" and value is None:
        return "a relabel decision needs 'value': the label(s) the row gets instead"
    score = record.get("score")
    if score is not None and (
        isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score)
    ):
        return f"'score' must be a number or null, got {score!r}"
    rules = record.get("rules")
    if rules is not None and not (
        isinstance(rules, list) and all(isinstance(rule, str) for rule in rules)
    ):
        return f"'rules' must be a list of rule names, got {rules!r}"
    if record.get("time"):
        try:
            stamp = datetime.fromisoformat(record["time"])
        except ValueError:
            return f"'time' must be ISO 8601 (2026-12-01T15:20:00+00:00), got {record['time']!r}"
        if stamp.tzinfo is None:
            return f"'time' needs a UTC offset (+00:00), got {record['time']!r}"
    return ""


def _numbers_as_text(record: Any) -> Any:
    """Return the record with integer labels as text: integer class names (`labels: {0: ...}`)
    may be written as JSON numbers, as `lfkit label` writes them."""
    if not isinstance(record, dict):
        return record

    def text(item: Any) -> Any:
        return str(item) if isinstance(item, int) and not isinstance(item, bool) else item

    value = record.get("value")
    value = [text(item) for item in value] if isinstance(value, list) else text(value)
    return record | {"label": text(record.get("label")), "value": value}


def _labels(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, list | tuple) and all(
        isinstance(label, str) and label.strip() for label in value
    )
