"""`lfkit check` as a library: every problem and warning of a rules folder, optionally checked
against a data file, as located diagnostics (see lfkit.rules.lint and docs/check.md).

This module sits on the data layer: it reads rules and data, never applies rules, and never
imports spaCy unless the rules have token patterns.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lfkit.errors import DataError
from lfkit.rules.lint import (
    Diagnostic,
    Location,
    check_codes,
    closest_hint,
    select_diagnostics,
    sort_key,
)
from lfkit.rules.loader import lint_rules
from lfkit.rules.ruleset import RuleSet

if TYPE_CHECKING:
    import pandas as pd

_SHOWN = 20
_TYPO = 0.85
"""How alike a data label and a defined label must be for "did you mean" (difflib ratio)."""


@dataclass(frozen=True)
class CheckReport:
    """What `lfkit check` found: the diagnostics, sorted, and the rule set when it loaded."""

    diagnostics: tuple[Diagnostic, ...]
    ruleset: RuleSet | None

    @property
    def errors(self) -> int:
        """Return the number of errors."""
        return sum(d.severity == "error" for d in self.diagnostics)


def check_rules(
    path: str | Path,
    *,
    data: str | Path | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> CheckReport:
    """Return every problem (LF0xx) and warning (LF1xx, LF2xx) of a rules file or folder.

    Parameters
    ----------
    path
        A rules file or a folder of them.
    data
        A data file (CSV, JSON, JSON Lines, Parquet) to check the task's columns, the score
        columns and the labels against; None to check the rules alone.
    select, ignore
        Codes or code prefixes (`LF104`, `LF1`): report only the warnings with a selected
        code (all when empty), and none with an ignored one. Errors are always reported.

    Raises
    ------
    DataError
        When the data file cannot be read at all.
    LfkitError
        For an unknown code in `select` or `ignore`, or one that names only errors.
    """
    check_codes([*select, *ignore])  # a typo fails before the work
    ruleset, errors, warnings = lint_rules(path)
    found = [Diagnostic.from_error(err) for err in errors] + warnings
    if data is not None and ruleset is not None:
        from lfkit.readers import read_table

        found += check_data(ruleset, read_table(data), source=str(data))
    found = select_diagnostics(found, select=select, ignore=ignore)
    return CheckReport(tuple(sorted(found, key=sort_key)), ruleset)


def check_data(ruleset: RuleSet, df: pd.DataFrame, *, source: str = "data") -> list[Diagnostic]:
    """Return the LF2xx diagnostics of a DataFrame against a rule set: missing task and score
    columns (with "did you mean"), labels that do not parse, labels the rules do not define
    and defined labels the data never has."""
    task, where = ruleset.task, ruleset.locations
    columns = [str(column) for column in df.columns]
    available = f"columns in {source}: {', '.join(columns)}"
    found = []

    def missing(column: str, key: str, code: str, what: str) -> None:
        hint = f"{closest_hint(column, columns)} ({available})".strip()
        found.append(_at(where, key, code, f"{what} '{column}' is not in the data", hint))

    for key, names in (
        ("id_column", [task.id_column]),
        ("text_columns", list(task.text_columns)),
        ("label_column", [task.label_column]),
    ):
        for column in names:
            if column not in columns:
                missing(column, f"task.{key}", "LF201", f"task {key.replace('_', ' ')}")
    for rule in ruleset.rules:
        if rule.score is not None and rule.score.column not in columns:
            missing(rule.score.column, f"rule.{rule.name}.score", "LF202", "score column")
    if task.label_column in columns and task.id_column in columns:
        found += _check_labels(ruleset, df, source)
    return found


def _check_labels(ruleset: RuleSet, df: pd.DataFrame, source: str) -> list[Diagnostic]:
    from lfkit.data import parse_labels

    where, key = ruleset.locations, "task.label_column"
    try:
        parsed = parse_labels(df, ruleset.task, source=source)
    except DataError as err:
        return [_at(where, key, "LF203", str(err), "fix the data or the task's label_delimiter")]
    seen: dict[str, int] = {}
    for value in parsed:
        for label in value if isinstance(value, list) else [value]:
            seen[label] = seen.get(label, 0) + 1
    new = sorted(label for label in seen if label not in set(ruleset.labels))
    unseen = [label for label in ruleset.labels if label not in seen]
    typos, typos_of_unseen = _closest(new, ruleset.labels), _closest(unseen, sorted(seen))
    found, unknown = [], []
    for label in new:
        if label in typos:
            rows = f"{seen[label]} row{'s' if seen[label] != 1 else ''}"
            problem = f"label '{label}' ({rows} in {source}) is not defined in the rules"
            found.append(_at(where, key, "LF204", problem, f"did you mean '{typos[label]}'?"))
        else:
            unknown.append(label)
    if unknown:
        names = ", ".join(unknown[:_SHOWN]) + (", ..." if len(unknown) > _SHOWN else "")
        problem = f"{len(unknown)} labels in {source} are not defined in the rules: {names}"
        found.append(_at(where, key, "LF204", problem, "define them under 'labels:' to audit them"))
    for label in unseen:
        problem = f"label '{label}' never occurs in {source}"
        typo = typos_of_unseen.get(label)
        hint = f"did you mean '{typo}'?" if typo else "check its spelling against the data"
        found.append(_at(where, f"label.{label}", "LF205", problem, hint, label))
    return found


def _closest(words: Sequence[str], choices: Sequence[str]) -> dict[str, str]:
    """Return the closest choice of each word that has one (difflib ratio >= _TYPO).

    `difflib.get_close_matches` per word takes seconds for a thousand data labels against
    hundreds of defined ones; here an upper bound of the ratio (the shared characters, which
    difflib's quick_ratio counts) is taken for all pairs at once with numpy, and the exact
    ratio only for the pairs that pass it.
    """
    if not words or not choices:
        return {}
    alphabet = {char: index for index, char in enumerate(sorted(set("".join(choices))))}

    def counts(texts: Sequence[str]) -> np.ndarray:
        table = np.zeros((len(texts), len(alphabet) + 1), dtype=np.int16)
        for row, text in enumerate(texts):
            for char in text:
                table[row, alphabet.get(char, len(alphabet))] += 1
        table[:, -1] = 0  # characters no choice has are shared with none
        return table

    ours, theirs = counts(words), counts(choices)
    sizes = np.array([len(choice) for choice in choices])
    closest = {}
    matcher = difflib.SequenceMatcher()
    for start in range(0, len(words), 64):
        shared = np.minimum(ours[start : start + 64, None, :], theirs[None, :, :]).sum(axis=2)
        for offset, row in enumerate(shared):
            word = words[start + offset]
            matcher.set_seq2(word)
            best, score = "", _TYPO
            for index in np.flatnonzero(2 * row / (len(word) + sizes) >= _TYPO).tolist():
                choice = choices[index]
                matcher.set_seq1(choice)
                ratio = matcher.ratio()
                # ties go to the greater string, as in difflib.get_close_matches
                if ratio > score or (ratio == score and (not best or choice > best)):
                    best, score = choice, ratio
            if best:
                closest[word] = best
    return closest


def _at(
    where: dict[str, Location], key: str, code: str, problem: str, hint: str, label: str = ""
) -> Diagnostic:
    """Return a diagnostic at a recorded location (its section's, else the first file's)."""
    section = key.split(".")[0]
    fallback: Any = where.get(section) or next(iter(where.values()), (Path("."), 0, 0))
    path, line, column = where.get(key, fallback)
    return Diagnostic(path, line, column, code, problem, hint, label, "label")
