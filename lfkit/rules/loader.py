"""Load rules files into a RuleSet: parse, check each section, check across rules, compile."""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lfkit.errors import RuleError, RuleFileError, quoted, split_hint
from lfkit.rules.lint import (
    Diagnostic,
    Location,
    alias_warnings,
    closest_hint,
    rule_warnings,
    sort_key,
    summarize_alias_warnings,
)
from lfkit.rules.patterns import keyword_regex, keyword_words, user_regex
from lfkit.rules.ruleset import CompiledRule, RuleSet
from lfkit.rules.schema import SECTIONS, Label, Match, Rule, Task
from lfkit.rules.tokens import MODEL_ATTRIBUTES
from lfkit.rules.yamlfile import Located, read_yaml

RULE_SUFFIXES = (".yaml", ".yml")
_CODES = {"extra_forbidden": "LF002", "missing": "LF003"}
"""pydantic error kinds -> `lfkit check` codes; the rest are LF004 (wrong type or value)."""
_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


@dataclass
class _Found:
    """Sections collected from all files, each with the file and line it came from."""

    tasks: list[tuple[Task, Path, int]] = field(default_factory=list)
    labels: list[tuple[str, Label, Path, int]] = field(default_factory=list)
    rules: list[tuple[Rule, Path, int]] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    broken_task: bool = False
    nodes: dict[tuple[Path, int], Located] = field(default_factory=dict)
    """(file, line of a rule or label) -> its YAML node, to point at the offending key."""
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
    if (task := _validate(Task, node, path, "", found.errors)) is not None:
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
        label = _validate(Label, data, path, str(name), found.errors)
        if label is not None and (problem := _label_name_problem(str(name), label)):
            found.errors.append(
                RuleError(path, node.key_lines[name], str(name), *problem, what="label")
            )
        elif label is not None:
            found.labels.append((str(name), label, path, node.key_lines[name]))
            found.nodes[path, node.key_lines[name]] = child
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
        rule = _validate(Rule, item, path, name if isinstance(name, str) else "", found.errors)
        if rule is not None:
            found.rules.append((rule, path, item.line))
            found.nodes[path, item.line] = item
            if f"rule.{rule.name}" not in found.where:
                _record(found, f"rule.{rule.name}", path, item)


def _record(found: _Found, prefix: str, path: Path, node: Located) -> None:
    """Note where a section or rule and each of its keys are written."""
    found.where[prefix] = (path, node.line, node.column)
    for key, line in node.key_lines.items():
        found.where[f"{prefix}.{key}"] = (path, line, node.key_columns[key])


def _validate(
    model: type[BaseModel],
    node: Located | dict[str, Any],
    path: Path,
    name: str,
    errors: list[RuleError],
) -> Any:
    located = node if isinstance(node, Located) else Located(node, 0)
    if not isinstance(located.value, dict):
        errors.append(
            RuleError(
                path,
                located.line,
                name,
                f"expected a mapping of keys, got {_type_name(located.value)}",
                f"known keys: {', '.join(model.model_fields)}",
            )
        )
        return None
    try:
        return model.model_validate(located.value)
    except ValidationError as err:
        errors.extend(_explain(issue, model, located, path, name) for issue in err.errors())
        return None


def _explain(issue: Any, model: type[BaseModel], node: Located, path: Path, name: str) -> RuleError:
    """Rewrite one pydantic error in terms of the YAML file: key, line, expectation, hint."""
    # pydantic puts type names such as 'tuple[str, ...]' in a location; they are not keys.
    loc = [
        part
        for part in issue["loc"]
        if not (
            isinstance(part, str)
            and part.endswith("]")
            and "[" in part
            and part not in node.key_lines
        )
    ]
    line, column, where, keys = node.line, node.column, node, list(model.model_fields)
    for part in loc:
        if isinstance(part, str) and part in where.key_lines:
            line, column = where.key_lines[part], where.key_columns.get(part, 0)
            where = where.children[part]
        elif isinstance(part, int) and part < len(where.items):
            where = where.items[part]
            line, column = where.line, where.column
    code = _CODES.get(issue["type"], "LF004")
    if code == "LF004" and issue["type"] == "value_error":
        field_name = next((p for p in reversed(loc) if isinstance(p, str)), "")
        code = {"regex": "LF005", "patterns": "LF006"}.get(field_name, "LF004")
    return _located(_explain_problem(issue, model, loc, line, path, name, keys), column, code)


def _located(err: RuleError, column: int, code: str) -> RuleError:
    err.column, err.code = column, code
    return err


def _explain_problem(
    issue: Any,
    model: type[BaseModel],
    loc: list[Any],
    line: int,
    path: Path,
    name: str,
    keys: list[str],
) -> RuleError:
    if loc and loc[0] == "unless":
        keys = list(Match.model_fields)
    key = ".".join(str(part) if isinstance(part, str) else f"[{part + 1}]" for part in loc)
    key = key.replace(".[", "[")
    kind, value = issue["type"], issue.get("input")
    if kind == "extra_forbidden":
        return RuleError(
            path,
            line,
            name,
            f"unknown key '{key}'",
            closest_hint(key.split(".")[-1], keys, known=True),
        )
    if kind == "missing":
        return RuleError(
            path, line, name, f"missing key '{key}'", f"add '{key.split('.')[-1]}: ...'"
        )
    if kind == "literal_error":
        choices = issue["ctx"]["expected"].replace("'", "")
        return RuleError(
            path,
            line,
            name,
            f"'{key}' is {quoted(value)}; expected one of {choices}",
            closest_hint(str(value), re.split(r",\s*|\s+or\s+", choices)),
        )
    if kind in _EXPECTED:
        hint = (
            "quote it: YAML reads yes/no/on/off/true/false as booleans"
            if (kind == "string_type" and isinstance(value, bool))
            else ""
        )
        return RuleError(
            path,
            line,
            name,
            f"'{key}' must be {_EXPECTED[kind]}, got {_type_name(value)} {quoted(value)}",
            hint,
        )
    if kind == "too_short":
        return RuleError(path, line, name, f"'{key}' must not be empty")
    problem, hint = split_hint(issue["msg"].removeprefix("Value error, "))
    return RuleError(path, line, name, f"'{key}': {problem}" if key else problem, hint)


def _type_name(value: Any) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "nothing",
    }
    return names.get(type(value), type(value).__name__)


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
    task = _resolve_pipeline(task, task_path, task_line, errors)
    labels = _check_labels(found)
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
    compiled = _compile_rules(found, task, labels)
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
    for name, (label, path, line) in labels.items():
        node = found.nodes.get((path, line))
        aliases = node.children.get("aliases") if node is not None else None
        items = aliases.items if aliases is not None else []
        named.append(
            (name, label, found.where[f"label.{name}"], [(path, i.line, i.column) for i in items])
        )
    diagnostics = alias_warnings(named)
    for rule, path, line in found.rules:
        at = found.where.get(f"rule.{rule.name}", (path, line, 0))
        node = found.nodes.get((path, line))
        keywords = node.children.get("keywords") if node is not None else None
        items = [(path, i.line, i.column) for i in keywords.items] if keywords is not None else []
        diagnostics += rule_warnings(rule, at, labels.get(rule.label, (None,))[0], items)
    return diagnostics


def _check_labels(found: _Found) -> dict[str, tuple[Label, Path, int]]:
    errors = found.errors
    labels: dict[str, tuple[Label, Path, int]] = {}
    claimed: dict[str, str] = {}
    for name, label, path, line in found.labels:
        if name in labels:
            _, first_path, first_line = labels[name]
            errors.append(
                RuleError(
                    path,
                    line,
                    name,
                    "label is defined twice",
                    f"first defined at {first_path}:{first_line}",
                    what="label",
                    code="LF009",
                )
            )
            continue
        labels[name] = (label, path, line)
        for alias in _label_keywords(name, label):
            key = " ".join(keyword_words(alias.casefold()))
            if claimed.setdefault(key, name) != name:
                errors.append(
                    RuleError(
                        path,
                        line,
                        name,
                        f"alias '{alias}' is also claimed by label '{claimed[key]}'",
                        "keep it on one label and write a rule for the other",
                        what="label",
                        code="LF009",
                    )
                )
    for name, (label, path, line) in labels.items():
        for parent in label.parents:
            if parent not in labels:
                errors.append(
                    RuleError(
                        path,
                        line,
                        name,
                        f"parent '{parent}' is not a defined label",
                        closest_hint(parent, list(labels)),
                        what="label",
                        code="LF008",
                    )
                )
    for loop in _parent_loops(labels):
        _, path, line = labels[loop[0]]
        shown = (
            loop if len(loop) <= 12 else [*loop[:10], f"... ({len(loop) - 1:,} labels)", loop[-1]]
        )
        errors.append(
            RuleError(
                path,
                line,
                loop[0],
                "parent chain loops: " + " -> ".join(shown),
                "remove one of these parents",
                what="label",
            )
        )
    return labels


def _parent_loops(labels: dict[str, tuple[Label, Path, int]]) -> list[list[str]]:
    """Return the parent chains that loop, each from its first label (in file order) back to it.

    One depth-first walk over all labels: time linear in labels and parent links, so a chain
    of thousands of labels checks in milliseconds.
    """
    order = {name: index for index, name in enumerate(labels)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    loops: list[list[str]] = []
    for root in labels:
        if root in state:
            continue
        path, stack = [root], [iter(labels[root][0].parents)]
        state[root] = 1
        while stack:
            for parent in stack[-1]:
                if parent not in labels:
                    continue
                if parent not in state:
                    state[parent] = 1
                    path.append(parent)
                    stack.append(iter(labels[parent][0].parents))
                    break
                if state[parent] == 1:
                    cycle = path[path.index(parent) :]
                    first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                    cycle = cycle[first:] + cycle[:first]
                    loops.append([*cycle, cycle[0]])
            else:
                state[path.pop()] = 2
                stack.pop()
    return loops


def _label_keywords(name: str, label: Label) -> list[str]:
    return ([name] if label.match_name else []) + list(label.aliases)


def _compile_rules(
    found: _Found, task: Task, labels: dict[str, tuple[Label, Path, int]]
) -> list[CompiledRule]:
    errors = found.errors
    label_names = list(labels)
    compiled: list[CompiledRule] = []
    names: dict[str, tuple[Path, int]] = {}

    def add(rule: Rule, path: Path, line: int) -> None:
        if rule.name in names:
            first_path, first_line = names[rule.name]
            errors.append(
                RuleError(
                    path,
                    line,
                    rule.name,
                    "rule name is used twice",
                    f"first used at {first_path}:{first_line}; rename one",
                    code="LF009",
                )
            )
            return
        names[rule.name] = (path, line)
        problem, hint, key = _rule_problem(rule, task, label_names)
        node = found.nodes.get((path, line))
        attributes = [] if problem or task.pipeline else _model_attributes(rule, node)
        for attribute, (at_line, column) in attributes:
            errors.append(
                RuleError(
                    path,
                    at_line or line,
                    rule.name,
                    f"token attribute {attribute} needs a trained spaCy pipeline; without one "
                    "lfkit runs spacy.blank('en'), a tokenizer",
                    "name one in the task: 'pipeline: en_core_web_sm' (an installed package) or "
                    "a folder saved with nlp.to_disk; or use LOWER, ORTH, TEXT, IS_*, LIKE_*, "
                    "SHAPE, LENGTH",
                    column=column,
                    code="LF007",
                )
            )
        if problem:
            at_line, column = line, 0
            if node is not None and key in node.key_lines:
                at_line, column = node.key_lines[key], node.key_columns[key]
            code = "LF008" if key in ("label", "fields") else "LF010"
            errors.append(
                RuleError(path, at_line, rule.name, problem, hint, column=column, code=code)
            )
        elif rule.enabled and not attributes:
            compiled.append(_compile(rule, task, label_names, path, line))

    for rule, path, line in found.rules:
        add(rule, path, line)
    for name, (label, path, line) in labels.items():
        keywords = _label_keywords(name, label)
        if keywords:
            alias_rule = Rule(
                name=f"{name}:alias", label=name, keywords=tuple(keywords), match=label.match
            )
            add(alias_rule, path, line)
    return compiled


def _model_attributes(rule: Rule, node: Located | None) -> list[tuple[str, tuple[int, int]]]:
    """Return each token attribute a blank pipeline cannot set, with the (line, column) of its
    key in the file ((0, 0) when the rule has no YAML node)."""
    found = []
    for owner, match in (("", rule), ("unless", rule.unless)):
        if match is None:
            continue
        where = node.children.get(owner) if node is not None and owner else node
        patterns = where.children.get("patterns") if where is not None else None
        for index, pattern in enumerate(match.patterns):
            tokens = patterns.items[index].items if patterns and index < len(patterns.items) else []
            for position, token in enumerate(pattern):
                keys = tokens[position] if position < len(tokens) else None
                for key in token:
                    if str(key).upper() in MODEL_ATTRIBUTES:
                        at = (keys.key_lines[key], keys.key_columns[key]) if keys else (0, 0)
                        found.append((str(key).upper(), at))
    return found


def _rule_problem(rule: Rule, task: Task, labels: list[str]) -> tuple[str, str, str]:
    """Return what is wrong with a rule across sections, a hint, and the key at fault."""
    if rule.label not in labels:
        hint = closest_hint(rule.label, labels) or "define it under 'labels:'"
        return f"label '{rule.label}' is not defined", hint, "label"
    for column in rule.fields:
        if column not in task.text_columns:
            return (
                f"field '{column}' is not a text column of the task",
                f"{closest_hint(column, task.text_columns)} (text columns: "
                f"{', '.join(task.text_columns)})".strip(),
                "fields",
            )
    if rule.is_empty():
        return "the rule has nothing to match", "add keywords, regex, patterns, length or score", ""
    if rule.score is not None and rule.score.column in (task.id_column, task.label_column):
        which = "id" if rule.score.column == task.id_column else "label"
        return (
            f"'score.column' is the task's {which} column '{rule.score.column}'",
            "name a numeric column of the data, such as a model's probability",
            "score",
        )
    if rule.name == task.id_column:
        return (
            f"the rule name is the id column '{task.id_column}'",
            "rename the rule: the votes table has a column per rule beside the ids",
            "name",
        )
    if rule.unless is not None and rule.unless.is_empty():
        hint = "add keywords, regex or patterns, or remove it"
        return "'unless' has nothing to match", hint, "unless"
    if rule.vote == "negative" and task.kind == "multiclass":
        return (
            "negative votes need a multilabel task",
            "in a multiclass task, write a positive rule for the class the rows belong to",
            "vote",
        )
    return "", "", ""


def _compile(rule: Rule, task: Task, labels: list[str], path: Path, line: int) -> CompiledRule:
    positive = rule.vote == "positive"
    value = (1 if positive else 0) if task.kind == "multilabel" else labels.index(rule.label)
    unless = rule.unless or Match()
    return CompiledRule(
        name=rule.name,
        label=rule.label,
        value=value,
        positive=positive,
        fields=rule.fields or task.text_columns,
        regexes=_regexes(rule, rule.case_sensitive),
        token_patterns=rule.patterns,
        unless_regexes=_regexes(unless, rule.case_sensitive),
        unless_token_patterns=unless.patterns,
        path=path,
        line=line,
        length=rule.length,
        score=rule.score,
        pipeline=task.pipeline if rule.patterns or unless.patterns else None,
    )


def unless_patterns(rule: Rule) -> tuple[Any, ...]:
    """Return the token patterns of a rule's `unless`, if any."""
    return rule.unless.patterns if rule.unless is not None else ()


def _resolve_pipeline(task: Task, path: Path, line: int, errors: list[RuleError]) -> Task:
    """Return the task with its spaCy pipeline as an absolute folder or a package name.

    A pipeline names a folder relative to the rules file (as `nlp.to_disk` wrote it) or an
    installed package; neither is loaded here (that takes seconds), only found.
    """
    if task.pipeline is None:
        return task
    folder = path.parent / Path(task.pipeline).expanduser()
    if folder.is_dir():
        if not (folder / "config.cfg").is_file():
            errors.append(
                RuleError(
                    path,
                    line,
                    "",
                    f"pipeline folder '{task.pipeline}' holds no config.cfg: not a saved spaCy "
                    "pipeline",
                    "save one with nlp.to_disk(folder), or name an installed package",
                )
            )
        return task.model_copy(update={"pipeline": str(folder.resolve())})
    if "/" not in task.pipeline and _is_package(task.pipeline):
        return task
    errors.append(
        RuleError(
            path,
            line,
            "",
            f"spaCy pipeline '{task.pipeline}' is neither a folder (relative to this file) nor "
            "an installed package",
            "install it (python -m spacy download en_core_web_sm) or give the folder "
            "nlp.to_disk wrote",
        )
    )
    return task


def _is_package(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _regexes(match: Match, case_sensitive: bool) -> tuple[str, ...]:
    keywords = [
        keyword_regex(k, case_sensitive=case_sensitive, match=match.match) for k in match.keywords
    ]
    regexes = [user_regex(r, case_sensitive=case_sensitive) for r in match.regex]
    return tuple(dict.fromkeys(keywords + regexes))
