"""Load rules files into a RuleSet: read every file, validate each section, check across them,
compile.

Reading (here) collects the task, labels and rules of all files with where each is written;
`validate.py` checks a section against its schema and explains what is wrong; `labels.py`
checks across labels and `compile.py` across rules, and compiles them; `lint.py` finds the
warnings. Every problem is collected, so one run reports them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lfkit.errors import RuleError, RuleFileError
from lfkit.rules.compile import compile_rules, resolve_pipeline
from lfkit.rules.labels import check_labels
from lfkit.rules.lint import (
    Diagnostic,
    Location,
    alias_warnings,
    closest_hint,
    rule_warnings,
    sort_key,
    summarize_alias_warnings,
)
from lfkit.rules.patterns import keyword_words
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.schema import SECTIONS, Label, Rule, Task
from lfkit.rules.validate import validate
from lfkit.rules.yamlfile import Located, read_yaml

RULE_SUFFIXES = (".yaml", ".yml")


@dataclass
class _Found:
    """Sections collected from all files, each with the file and line it came from."""

    tasks: list[tuple[Task, Path, int]] = field(default_factory=list)
    labels: list[tuple[str, Label, Path, int]] = field(default_factory=list)
    rules: list[tuple[Rule, Path, int]] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    broken_task: bool = False
    nodes: dict[str, Located] = field(default_factory=dict)
    """'label.NAME', 'rule.NAME' -> the YAML node of its first definition, to point at the
    offending key (by name: flow-style labels or rules share a line)."""
    where: dict[str, Location] = field(default_factory=dict)
    """'task', 'task.KEY', 'label.NAME', 'rule.NAME', 'rule.NAME.KEY' -> where it is written."""


def load_rules(path: str | Path) -> RuleSet:
    """Load a rules file, or every rules file under a folder, into one compiled RuleSet.

    Raises
    ------
    RuleFileError
        With every problem found, each pinned to its file, line and rule.
    """
    ruleset, errors, _ = lint_rules(path)
    if ruleset is None or errors:
        raise RuleFileError(errors)
    return ruleset


def lint_rules(path: str | Path) -> tuple[RuleSet | None, list[RuleError], list[Diagnostic]]:
    """Return the rule set (None when it does not load), every problem and every warning.

    Warnings (LF1xx, see lfkit.rules.lint) are found even in files with problems, so a linter
    shows them all in one run.
    """
    path = Path(path)
    found = _Found()
    for file in _rule_files(path, found.errors):
        _read_file(file, found)
    ruleset = _check_and_compile(found, path)
    errors = sorted(found.errors, key=lambda err: (str(err.path), err.line, err.column))
    return (ruleset if not errors else None), errors, sorted(_lint(found), key=sort_key)


def _rule_files(path: Path, errors: list[RuleError]) -> list[Path]:
    if path.exists() and not path.is_dir():
        return [path]  # read_yaml refuses what is not a regular file (a FIFO, a device)
    if not path.is_dir():
        errors.append(RuleError(path, 0, "", "no such file or folder"))
        return []
    files = []
    for folder, subfolders, names in os.walk(path, followlinks=False):
        subfolders.sort()
        files += [Path(folder) / name for name in names if name.endswith(RULE_SUFFIXES)]
    if not files:
        errors.append(RuleError(path, 0, "", "the folder holds no rules files", "add a .yaml file"))
    return sorted(files)


def _read_file(path: Path, found: _Found) -> None:
    try:
        document = read_yaml(path)
    except RuleError as err:
        found.errors.append(err)
        return
    if document is None:
        found.errors.append(RuleError(path, 1, "", "the file is empty", "add a 'rules:' list"))
        return
    if not isinstance(document.value, dict):
        found.errors.append(
            RuleError(
                path,
                document.line,
                "",
                "the file must be a mapping with keys 'task', 'labels' and/or 'rules'",
                "start lines with 'rules:'",
            )
        )
        return
    for key, child in document.children.items():
        line = document.key_lines[key]
        if key == "task":
            _read_task(child, path, found)
        elif key == "labels":
            _read_labels(child, path, found)
        elif key == "rules":
            _read_rules(child, path, found)
        else:
            found.errors.append(
                RuleError(
                    path,
                    line,
                    "",
                    f"unknown section '{key}'",
                    closest_hint(key, list(SECTIONS)),
                    column=document.key_columns[key],
                    code="LF002",
                )
            )


def _read_task(node: Located, path: Path, found: _Found) -> None:
    if (task := validate(Task, node, path, "", found.errors)) is not None:
        found.tasks.append((task, path, node.line))
        if not found.where.get("task"):
            _record(found, "task", path, node)
    else:
        found.broken_task = True


def _read_labels(node: Located, path: Path, found: _Found) -> None:
    if not isinstance(node.value, dict):
        found.errors.append(
            RuleError(
                path,
                node.line,
                "",
                "'labels' must be a mapping of label name to its aliases and parents",
            )
        )
        return
    for name, child in node.children.items():
        data: Located | dict[str, Any] = {} if child.value is None else child
        label = validate(Label, data, path, str(name), found.errors)
        if label is not None and (problem := _label_name_problem(str(name), label)):
            found.errors.append(
                RuleError(path, node.key_lines[name], str(name), *problem, what="label")
            )
        elif label is not None:
            found.labels.append((str(name), label, path, node.key_lines[name]))
            found.nodes.setdefault(f"label.{name}", child)
            at = (path, node.key_lines[name], node.key_columns[name])
            found.where.setdefault(f"label.{name}", at)


def _label_name_problem(name: str, label: Label) -> tuple[str, str] | None:
    """Say why a label name cannot be used (empty, or no word to match), or None."""
    if not name.strip():
        return "a label name must not be empty", "name the label"
    if label.match_name and not keyword_words(name):
        return (
            "the label name has no word to match as a keyword",
            "rename the label, or set 'match_name: false' and give it aliases",
        )
    return None


def _read_rules(node: Located, path: Path, found: _Found) -> None:
    if not isinstance(node.value, list):
        found.errors.append(
            RuleError(
                path,
                node.line,
                "",
                "'rules' must be a list of rules",
                "start each rule with '- name: ...'",
            )
        )
        return
    for item in node.items:
        name = item.value.get("name") if isinstance(item.value, dict) else None
        rule = validate(Rule, item, path, name if isinstance(name, str) else "", found.errors)
        if rule is not None:
            found.rules.append((rule, path, item.line))
            found.nodes.setdefault(f"rule.{rule.name}", item)
            if f"rule.{rule.name}" not in found.where:
                _record(found, f"rule.{rule.name}", path, item)


def _record(found: _Found, prefix: str, path: Path, node: Located) -> None:
    """Note where a section or rule and each of its keys are written."""
    found.where[prefix] = (path, node.line, node.column)
    for key, line in node.key_lines.items():
        found.where[f"{prefix}.{key}"] = (path, line, node.key_columns[key])


def _check_and_compile(found: _Found, path: Path) -> RuleSet | None:
    """Run the checks that span rules and files, then compile; None when any check fails."""
    errors = found.errors
    if not found.tasks:
        if not found.broken_task and not errors:
            errors.append(
                RuleError(
                    path,
                    0,
                    "",
                    "no 'task' section in any rules file",
                    "add 'task: {kind: multilabel, text_columns: [title], "
                    "label_column: tags}' to one file",
                )
            )
        return None
    task, task_path, task_line = found.tasks[0]
    for _, other_path, other_line in found.tasks[1:]:
        errors.append(
            RuleError(
                other_path,
                other_line,
                "",
                "a second 'task' section",
                f"the task is already set at {task_path}:{task_line}",
                code="LF009",
            )
        )
    task = resolve_pipeline(task, task_path, task_line, errors)
    labels = check_labels(found.labels, errors)
    if not labels:
        if not errors:
            errors.append(
                RuleError(
                    path,
                    0,
                    "",
                    "no labels defined",
                    "add a 'labels:' mapping, e.g. 'labels: {spam: {}, ham: {}}'",
                )
            )
        return None
    compiled = compile_rules(found.rules, found.nodes, task, labels, errors)
    if errors:
        return None
    warnings = summarize_alias_warnings((name, label) for name, (label, _, _) in labels.items())
    disabled = tuple(rule.name for rule, _, _ in found.rules if not rule.enabled)
    parents = {name: label.parents for name, (label, _, _) in labels.items() if label.parents}
    # Class names that are all whole numbers (0/1, written 0 or '0') are numbers in outputs.
    whole = all(label.lstrip("-").isdecimal() and str(int(label)) == label for label in labels)
    numeric = frozenset(labels) if whole else frozenset()
    return RuleSet(
        task,
        tuple(labels),
        parents,
        tuple(compiled),
        warnings,
        disabled,
        numeric_labels=numeric,
        locations=dict(found.where),
    )


def _lint(found: _Found) -> list[Diagnostic]:
    """Return the located warnings (LF1xx) of the rules and labels that passed their schema."""
    labels: dict[str, tuple[Label, Path, int]] = {}
    for name, label, path, line in found.labels:
        labels.setdefault(name, (label, path, line))
    named = []
    for name, (label, path, _) in labels.items():
        node = found.nodes.get(f"label.{name}")
        aliases = node.children.get("aliases") if node is not None else None
        items = aliases.items if aliases is not None else []
        named.append(
            (name, label, found.where[f"label.{name}"], [(path, i.line, i.column) for i in items])
        )
    diagnostics = alias_warnings(named)
    for rule, path, line in found.rules:
        at = found.where.get(f"rule.{rule.name}", (path, line, 0))
        node = found.nodes.get(f"rule.{rule.name}")
        keywords = node.children.get("keywords") if node is not None else None
        written = [(path, i.line, i.column) for i in keywords.items] if keywords else []
        diagnostics += rule_warnings(rule, at, labels.get(rule.label, (None,))[0], written)
    return diagnostics
