"""Label Studio hand-off: audit flags out as tasks with predictions, annotations back as decisions.

`labelstudio_tasks` turns an audit into one Label Studio task per flagged row (the text fields,
the row id, the flags with their evidence, and lfkit's suggestion as a prediction);
`labelstudio_config` writes the matching labelling config; `labelstudio_decisions` reads a
Label Studio JSON export and compares each annotated row's chosen labels with its given labels
and with the flags, giving accept / reject / relabel decisions (format: docs/review.md).
The mapping is documented in docs/labelstudio.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pandas as pd

from lfkit.audit.suspects import AuditReport, Flag
from lfkit.display import plain
from lfkit.errors import DataError
from lfkit.review.decisions import Decision, flag_rules
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.text import as_text

CONTROL = "label"
"""The name of the labelling config's choice (or taxonomy) control; results are read from it."""
MODEL_VERSION = "lfkit-audit"
ADDS = ("missing", "candidate", "missing-parent")
"""Flag kinds whose suggested fix adds the label; `spurious` removes it."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def text_keys(ruleset: RuleSet) -> dict[str, str]:
    """Return, per text column, its key in a task's data (the column name when it can be a
    Label Studio `$variable`, else `text_1`, `text_2`, ...)."""
    keys = {}
    for number, column in enumerate(ruleset.task.text_columns, start=1):
        safe = _NAME.fullmatch(column) and not column.startswith("lfkit_")
        keys[column] = column if safe else f"text_{number}"
    return keys


def labelstudio_config(ruleset: RuleSet) -> str:
    """Return the Label Studio labelling config (XML) for the tasks of `labelstudio_tasks`.

    The text fields and lfkit's evidence are shown as text. Classes (multiclass) are one
    required single choice; tags (multilabel) a required `<Taxonomy>` built from the labels'
    parents, so that an annotator can search 400 tags and sees each under its parents (a tag
    with two parents appears under both; choosing either means the tag).
    """
    keys = text_keys(ruleset)
    first = next(iter(keys.values()))
    lines = ["<View>"]
    for column, key in keys.items():
        lines.append(f'  <Header value={quoteattr(column)} size="6"/>')
        lines.append(f'  <Text name="{key}" value="${key}"/>')
    lines.append('  <Header value="lfkit flags" size="6"/>')
    lines.append('  <Text name="lfkit_evidence" value="$lfkit_evidence"/>')
    if ruleset.multilabel:
        lines.append(
            f'  <Taxonomy name="{CONTROL}" toName="{first}" required="true" '
            'showFullPath="true" pathSeparator=" / " placeholder="Search tags">'
        )
        lines += _taxonomy(ruleset, None, depth=2)
        lines.append("  </Taxonomy>")
    else:
        lines.append(
            f'  <Choices name="{CONTROL}" toName="{first}" choice="single" required="true" '
            'showInline="true">'
        )
        lines += [f"    <Choice value={quoteattr(label)}/>" for label in ruleset.labels]
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"


def _taxonomy(ruleset: RuleSet, parent: str | None, depth: int) -> list[str]:
    """Return the `<Choice>` lines of the tags under `parent` (None: the roots), sorted.

    The loader refuses parent cycles, so the recursion ends.
    """
    indent = "  " * depth
    lines = []
    for label in sorted(ruleset.labels):
        parents = ruleset.parents.get(label, ())
        if (parent not in parents) if parent is not None else bool(parents):
            continue
        children = _taxonomy(ruleset, label, depth + 1)
        if children:
            lines += [f"{indent}<Choice value={quoteattr(label)}>", *children, f"{indent}</Choice>"]
        else:
            lines.append(f"{indent}<Choice value={quoteattr(label)}/>")
    return lines


def taxonomy_path(ruleset: RuleSet, label: str) -> list[str]:
    """Return one path from a root of the taxonomy to `label` (through first parents), as a
    Label Studio `<Taxonomy>` result names a tag."""
    path = [label]
    while ruleset.parents.get(path[0]):
        path.insert(0, ruleset.parents[path[0]][0])
    return path


def labelstudio_tasks(
    ruleset: RuleSet, report: AuditReport, df: pd.DataFrame | None = None, *, top: int | None = None
) -> list[dict[str, Any]]:
    """Return one Label Studio task per flagged row of an audit, best-scored rows first.

    Each task's `data` holds the text fields (keys from `text_keys`), `lfkit_id` (the row id),
    `lfkit_given` (the row's labels that the rules know), `lfkit_flags` (label, kind, score,
    suggestion and rules of each flag, read back by `labelstudio_decisions`) and
    `lfkit_evidence` (the same as readable text). Its one prediction is lfkit's suggestion
    for the row, scored with the row's best flag: multiclass the suggested class, multilabel
    the row's tags with every flag's fix applied.

    The rows of the report's taxonomy findings (a child tag without its parent) become
    `missing-parent` flags too when `df`, the audited data, is given. `top` keeps the `top`
    best-scored tasks (rows of flags and of findings ranked together).
    """
    rows: dict[int, _Row] = {}
    for flag in report.flags:
        row = rows.setdefault(flag.row, _Row(flag.to_dict()["id"], flag.texts, list(flag.given)))
        row.add(_flag_entry(flag), [f"   {reason}" for reason in flag.reasons()])
    if df is not None:
        for finding in report.findings:
            entry = {
                "label": finding.parent,
                "kind": "missing-parent",
                "score": round(finding.score, 6),
                "suggestion": None,
                "rules": [],
            }
            rows_with_gap = "this row" if len(finding.rows) == 1 else f"{len(finding.rows):,} rows"
            why = [f"   taxonomy: has child {finding.child} but not its parent ({rows_with_gap})"]
            for index in finding.rows:
                row = rows.setdefault(index, _row_of(ruleset, df, index))
                if all(flag["label"] != finding.parent for flag in row.flags):
                    row.add(dict(entry), why)
    ranked = sorted(rows.values(), key=lambda row: -max(flag["score"] for flag in row.flags))
    return [_task(ruleset, row) for row in ranked[:top]]


@dataclass
class _Row:
    """One flagged row on its way to a task: its flags as `lfkit_flags` entries, with the
    evidence lines of each."""

    id: Any
    texts: dict[str, str]
    given: list[str]
    flags: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[list[str]] = field(default_factory=list)

    def add(self, flag: dict[str, Any], evidence: list[str]) -> None:
        self.flags.append(flag)
        self.evidence.append(evidence)


def _row_of(ruleset: RuleSet, df: pd.DataFrame, index: int) -> _Row:
    task, known = ruleset.task, set(ruleset.labels)
    row_id: Any = df.at[index, task.id_column]
    cell: Any = df.at[index, task.label_column]
    labels = cell if isinstance(cell, list | tuple) else [cell]
    return _Row(
        plain(row_id),
        {column: as_text(df.at[index, column]) for column in task.text_columns},
        [label for label in ruleset.labels if label in set(labels) & known],
    )


def _flag_entry(flag: Flag) -> dict[str, Any]:
    return {
        "label": flag.label,
        "kind": flag.kind,
        "score": round(flag.score, 6),
        "suggestion": flag.suggestion,
        "rules": list(flag_rules(flag)),
    }


def _task(ruleset: RuleSet, row: _Row) -> dict[str, Any]:
    if ruleset.multilabel:
        fixes = [(flag["label"], flag["kind"]) for flag in row.flags]
        suggested = corrected_labels(ruleset, row.given, fixes)
    else:
        suggested = [_suggested_class(row.flags)]
    keys = text_keys(ruleset)
    data: dict[str, Any] = {keys[column]: text for column, text in row.texts.items()}
    data |= {
        "lfkit_id": row.id,
        "lfkit_given": row.given,
        "lfkit_suggestion": suggested,
        "lfkit_flags": row.flags,
        "lfkit_evidence": _evidence(row, suggested),
    }
    if ruleset.multilabel:
        paths = [taxonomy_path(ruleset, label) for label in suggested]
        value: dict[str, Any] = {"taxonomy": paths}
        kind = "taxonomy"
    else:
        value, kind = {"choices": suggested}, "choices"
    result = {
        "id": "lfkit",
        "from_name": CONTROL,
        "to_name": next(iter(keys.values())),
        "type": kind,
        "value": value,
    }
    score = round(max(flag["score"] for flag in row.flags), 6)
    return {
        "data": data,
        "predictions": [{"model_version": MODEL_VERSION, "score": score, "result": [result]}],
    }


def corrected_labels(
    ruleset: RuleSet, given: Iterable[str], fixes: Iterable[tuple[str, str]]
) -> list[str]:
    """Return a row's tags with each (label, kind) flag's fix applied, in label order.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> rs = SimpleNamespace(labels=("cv", "nlp", "mlops"))
    >>> corrected_labels(rs, ["cv"], [("nlp", "missing"), ("cv", "spurious")])
    ['nlp']
    """
    labels = set(given)
    for label, kind in fixes:
        if kind in ADDS:
            labels.add(label)
        elif kind == "spurious":
            labels.discard(label)
    return [label for label in ruleset.labels if label in labels]


def _suggested_class(flags: Sequence[dict[str, Any]]) -> str:
    """Return the class lfkit suggests for a multiclass row: a spurious flag's suggestion, else
    the class of a missing flag."""
    for flag in flags:
        if flag["kind"] == "spurious" and flag["suggestion"]:
            return str(flag["suggestion"])
    return str(next(flag["label"] for flag in flags if flag["kind"] in ADDS))


def _evidence(row: _Row, suggested: list[str]) -> str:
    """Return the flags of one row, their evidence and lfkit's suggestion, as readable text."""
    lines = [
        f"row id: {row.id}",
        f"given: {', '.join(row.given) or '(none)'}",
        f"lfkit suggests: {', '.join(suggested) or '(none)'}",
    ]
    for number, (flag, evidence) in enumerate(zip(row.flags, row.evidence, strict=True), 1):
        lines.append(f"{number}. {flag['kind']} {flag['label']} (score {flag['score']:.3f})")
        lines += evidence
    return "\n".join(lines)


def read_annotations(path: str | Path) -> list[dict[str, Any]]:
    """Read a Label Studio JSON export (a list of tasks with their annotations).

    Raises
    ------
    DataError
        When the file is not JSON, not a list of tasks, or holds tasks lfkit did not export.
    """
    path = Path(path)
    hint = (
        "in Label Studio, Export > JSON (not JSON-MIN or CSV) the project whose tasks lfkit "
        "exported (labelstudio_tasks, lfkit export)"
    )
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as err:
        raise DataError(
            f"cannot read the Label Studio export ({err.strerror})", where=str(path)
        ) from None
    except UnicodeDecodeError:
        raise DataError("the Label Studio export is not UTF-8 text", where=str(path)) from None
    except json.JSONDecodeError as err:
        raise DataError(
            f"not valid JSON ({err.msg} at column {err.colno})", hint, where=f"{path}:{err.lineno}"
        ) from None
    if not isinstance(tasks, list):
        raise DataError(
            f"expected a JSON list of tasks, got {type(tasks).__name__}", hint, where=str(path)
        )
    for number, task in enumerate(tasks, start=1):
        where = f"{path}: task {number}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise DataError(f"{where} has no 'data' object", hint)
        if "lfkit_id" not in task["data"] or not isinstance(task["data"].get("lfkit_flags"), list):
            raise DataError(
                f"{where} (Label Studio id {task.get('id')}) has no lfkit_id or lfkit_flags: "
                "it was not exported by lfkit",
                hint,
            )
        if not isinstance(task.get("annotations", []), list):
            raise DataError("'annotations' must be a list", hint, where=where)
    return tasks


def labelstudio_decisions(
    ruleset: RuleSet,
    tasks: list[dict[str, Any]],
    *,
    df: pd.DataFrame | None = None,
    source: str = "label-studio",
) -> list[Decision]:
    """Return the decisions that the annotated tasks of a Label Studio export stand for.

    Each task's latest annotation that was not skipped gives the labels the annotator chose
    for the row. Compared with the row's given labels (from `df`, the data as `read_data`
    returns it, when given; else the ones exported in the task) and with its flags:

    - a flag whose fix the annotator made is accepted, one whose label they left as it was
      is rejected;
    - multiclass: a flag on a row the annotator gave a third class is relabelled to it;
    - multilabel: a tag the annotator added or removed that lfkit had not flagged is recorded
      as an accepted `missing` or `spurious` decision of their own (score null).

    Unannotated and skipped tasks give no decision.

    Raises
    ------
    DataError
        For an annotation whose labels are not in the rules, or a row id missing from `df`.
    """
    given = None if df is None else given_labels(ruleset, df)
    decisions: list[Decision] = []
    for number, task in enumerate(tasks, start=1):
        annotation = _latest(task.get("annotations") or [])
        if annotation is None:
            continue
        data = task["data"]
        where = f"task {number} (Label Studio id {task.get('id')}, row id {data['lfkit_id']!r})"
        chosen = _chosen(ruleset, annotation, where)
        if chosen is None:
            continue
        key = str(data["lfkit_id"])
        if given is not None and key not in given:
            raise DataError(
                f"row id {data['lfkit_id']!r} is not in the data",
                "pass the data the tasks were exported from",
                where=where,
            )
        before = given[key] if given is not None else list(data.get("lfkit_given") or [])
        time = _utc(annotation.get("updated_at") or annotation.get("created_at"))
        decisions += _row_decisions(
            ruleset, data["lfkit_id"], data["lfkit_flags"], before, chosen, time, source
        )
    return decisions


def given_labels(ruleset: RuleSet, df: pd.DataFrame) -> dict[str, list[str]]:
    """Return each row's labels that the rules know, keyed by `str(id)` (parsed labels, as
    `read_data` returns them)."""
    task, known = ruleset.task, set(ruleset.labels)
    given = {}
    for row_id, labels in zip(df[task.id_column], df[task.label_column], strict=True):
        labels = labels if isinstance(labels, list | tuple) else [labels]
        key = str(plain(row_id))
        given[key] = [label for label in labels if label in known]
    return given


def _latest(annotations: list[Any]) -> dict[str, Any] | None:
    """Return the most recently updated annotation that was not skipped, or None."""
    done = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if not done:
        return None
    return max(
        done,
        key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), a.get("id") or 0),
    )


def _chosen(ruleset: RuleSet, annotation: dict[str, Any], where: str) -> list[str] | None:
    """Return the labels an annotation chose (None when it has no result for our control)."""
    results = [
        item
        for item in annotation.get("result") or []
        if isinstance(item, dict) and item.get("from_name") == CONTROL
    ]
    if not results:
        return None
    chosen: list[str] = []
    for item in results:
        value = item.get("value") or {}
        if "taxonomy" in value:
            chosen += [path[-1] for path in value["taxonomy"] if isinstance(path, list) and path]
        else:
            chosen += list(value.get("choices") or [])
    unknown = sorted({str(label) for label in chosen} - set(ruleset.labels))
    if unknown:
        raise DataError(
            f"label(s) {', '.join(map(repr, unknown))} are not in the rules",
            "annotate with the labelling config lfkit exported for these rules",
            where=where,
        )
    if not ruleset.multilabel and len(set(chosen)) != 1:
        raise DataError(
            f"a multiclass row needs exactly one class, the annotation chose {len(set(chosen))}",
            "use the labelling config lfkit exported for these rules",
            where=where,
        )
    return list(dict.fromkeys(chosen))


def _row_decisions(
    ruleset: RuleSet,
    row_id: Any,
    flags: list[dict[str, Any]],
    given: list[str],
    chosen: list[str],
    time: str,
    source: str,
) -> list[Decision]:
    """Compare one row's chosen labels with its given labels and its flags."""
    decisions = []
    for flag in flags:
        label, kind = flag["label"], flag["kind"]
        value = None
        if ruleset.multilabel:
            fixed = (label in chosen) == (kind in ADDS)
            decision = "accept" if fixed else "reject"
        else:
            (new,) = chosen
            wanted = flag.get("suggestion") if kind == "spurious" else label
            if new == wanted:
                decision, value = "accept", (new if kind == "spurious" else None)
            elif new in given:
                decision = "reject"
            else:
                decision, value = "relabel", new
        decisions.append(
            Decision(
                row_id,
                label,
                kind,
                decision,
                value=value,
                score=flag.get("score"),
                rules=tuple(flag.get("rules") or ()),
                source=source,
                time=time,
            )
        )
    if ruleset.multilabel:
        flagged = {flag["label"] for flag in flags}
        for label in ruleset.labels:
            if label in flagged or (label in chosen) == (label in given):
                continue
            kind = "missing" if label in chosen else "spurious"
            decisions.append(Decision(row_id, label, kind, "accept", source=source, time=time))
    return decisions


def _utc(stamp: Any) -> str:
    """Return a Label Studio time stamp as ISO 8601 in UTC to the second (now if missing)."""
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")
