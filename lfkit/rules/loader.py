"""Load rules files into a RuleSet: parse, check each section, check across rules, compile."""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lfkit.errors import RuleError, RuleFileError, quoted
from lfkit.rules.patterns import keyword_regex, keyword_words, user_regex
from lfkit.rules.ruleset import CompiledRule, RuleSet
from lfkit.rules.schema import SECTIONS, Label, Match, Rule, Task
from lfkit.rules.tokens import model_attributes
from lfkit.rules.yamlfile import Located, read_yaml

RULE_SUFFIXES = (".yaml", ".yml")
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
    pattern_lines: dict[tuple[Path, int], int] = field(default_factory=dict)
    """(file, rule line) -> line of the rule's token patterns (or its unless' patterns)."""


def load_rules(path: str | Path) -> RuleSet:
    """Load a rules file, or every rules file under a folder, into one compiled RuleSet.

    Raises
    ------
    RuleFileError
        With every problem found, each pinned to its file, line and rule.
    """
    path = Path(path)
    found = _Found()
    for file in _rule_files(path, found.errors):
        _read_file(file, found)
    ruleset = _check_and_compile(found, path)
    if ruleset is None or found.errors:
        raise RuleFileError(sorted(found.errors, key=lambda err: (str(err.path), err.line)))
    return ruleset


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
                    path, line, "", f"unknown section '{key}'", _closest_hint(key, list(SECTIONS))
                )
            )


def _read_task(node: Located, path: Path, found: _Found) -> None:
    if (task := _validate(Task, node, path, "", found.errors)) is not None:
        found.tasks.append((task, path, node.line))
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
        data = {} if child.value is None else child
        label = _validate(Label, data, path, str(name), found.errors)
        if label is not None and (problem := _label_name_problem(str(name), label)):
            found.errors.append(
                RuleError(path, node.key_lines[name], str(name), *problem, what="label")
            )
        elif label is not None:
            found.labels.append((str(name), label, path, node.key_lines[name]))


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
            unless = item.children.get("unless") if isinstance(item.value, dict) else None
            lines = [item.key_lines.get("patterns")]
            lines.append(unless.key_lines.get("patterns") if unless is not None else None)
            found.pattern_lines[path, item.line] = next((n for n in lines if n), item.line)


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
    line, where, keys = node.line, node, list(model.model_fields)
    for part in loc:
        if isinstance(part, str) and part in where.key_lines:
            line = where.key_lines[part]
            where = where.children[part]
        elif isinstance(part, int) and part < len(where.items):
            where = where.items[part]
            line = where.line
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
            _closest_hint(key.split(".")[-1], keys, known=True),
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
            _closest_hint(str(value), re.split(r",\s*|\s+or\s+", choices)),
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
    message = issue["msg"].removeprefix("Value error, ")
    return RuleError(path, line, name, f"'{key}': {message}" if key else message)


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


def _closest_hint(word: str, choices: list[str], *, known: bool = False) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else ""
    if known:
        hint += f" (known keys: {', '.join(sorted(choices))})"
    return hint.strip()


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
    warnings = _risky_alias_warnings(labels)
    disabled = tuple(rule.name for rule, _, _ in found.rules if not rule.enabled)
    parents = {name: label.parents for name, (label, _, _) in labels.items() if label.parents}
    # Class names that are all whole numbers (0/1, written 0 or '0') are numbers in outputs.
    whole = all(label.lstrip("-").isdecimal() and str(int(label)) == label for label in labels)
    numeric = frozenset(labels) if whole else frozenset()
    return RuleSet(
        task, tuple(labels), parents, tuple(compiled), warnings, disabled, numeric_labels=numeric
    )


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
                        _closest_hint(parent, list(labels)),
                        what="label",
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
                )
            )
            return
        names[rule.name] = (path, line)
        problem, hint = _rule_problem(rule, task, label_names)
        attributes = [a for p in rule.patterns + unless_patterns(rule) for a in model_attributes(p)]
        if not problem and attributes and task.pipeline is None:
            line = found.pattern_lines.get((path, line), line)
            problem, hint = (
                f"token attribute {attributes[0]} needs a trained spaCy pipeline; without one "
                "lfkit runs spacy.blank('en'), a tokenizer",
                "name one in the task: 'pipeline: en_core_web_sm' (an installed package) or a "
                "folder saved with nlp.to_disk; or use LOWER, ORTH, TEXT, IS_*, LIKE_*, SHAPE, "
                "LENGTH",
            )
        if problem:
            errors.append(RuleError(path, line, rule.name, problem, hint))
        elif rule.enabled:
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


def _rule_problem(rule: Rule, task: Task, labels: list[str]) -> tuple[str, str]:
    if rule.label not in labels:
        return f"label '{rule.label}' is not defined", _closest_hint(rule.label, labels) or (
            "define it under 'labels:'"
        )
    for column in rule.fields:
        if column not in task.text_columns:
            return (
                f"field '{column}' is not a text column of the task",
                f"text columns: {', '.join(task.text_columns)}",
            )
    if rule.is_empty():
        return "the rule has nothing to match", "add keywords, regex, patterns, length or score"
    if rule.score is not None and rule.score.column in (task.id_column, task.label_column):
        which = "id" if rule.score.column == task.id_column else "label"
        return (
            f"'score.column' is the task's {which} column '{rule.score.column}'",
            "name a numeric column of the data, such as a model's probability",
        )
    if rule.name == task.id_column:
        return (
            f"the rule name is the id column '{task.id_column}'",
            "rename the rule: the votes table has a column per rule beside the ids",
        )
    if rule.unless is not None and rule.unless.is_empty():
        return "'unless' has nothing to match", "add keywords, regex or patterns, or remove it"
    if rule.vote == "negative" and task.kind == "multiclass":
        return (
            "negative votes need a multilabel task",
            "in a multiclass task, write a positive rule for the class the rows belong to",
        )
    return "", ""


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


@cache
def _common_words() -> frozenset[str]:
    text = resources.files("lfkit.rules").joinpath("common_words.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if not line.startswith("#"))


def _risky_alias_warnings(labels: dict[str, tuple[Label, Path, int]]) -> tuple[str, ...]:
    """Name the aliases that will likely match where the label does not apply."""
    short, common = [], []
    for name, (label, _, _) in labels.items():
        for alias in _label_keywords(name, label):
            words = keyword_words(alias.casefold())
            if len(alias.strip()) <= 2:
                short.append(f"{alias} ({name})")
            elif len(words) == 1 and words[0] in _common_words():
                common.append(f"{alias} ({name})")
    warnings = []
    if short:
        warnings.append(
            f"{len(short)} aliases of at most 2 characters may match unrelated "
            f"text: {', '.join(short)}; hint: use a case-sensitive rule or 'unless'"
        )
    if common:
        warnings.append(
            f"{len(common)} aliases are common English words: {', '.join(common)}; "
            "hint: set 'match_name: false' or move them into a rule with 'unless'"
        )
    return tuple(warnings)
