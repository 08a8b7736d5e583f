"""Check each rule against the task and the labels, and compile it to a `CompiledRule`: RE2
regexes for its keywords and regexes, spaCy token patterns, its vote."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lfkit.errors import RuleError
from lfkit.rules.labels import label_keywords
from lfkit.rules.lint import closest_hint
from lfkit.rules.patterns import keyword_regex, user_regex
from lfkit.rules.ruleset import CompiledRule
from lfkit.rules.schema import Label, Match, Rule, Task
from lfkit.rules.tokens import MODEL_ATTRIBUTES
from lfkit.rules.yamlfile import Located


def compile_rules(
    rules: list[tuple[Rule, Path, int]],
    nodes: dict[str, Located],
    task: Task,
    labels: dict[str, tuple[Label, Path, int]],
    errors: list[RuleError],
) -> list[CompiledRule]:
    """Return the enabled rules and each label's alias rule compiled, adding to `errors` every
    rule name used twice, token attribute that needs a trained pipeline, and rule that does
    not fit the task or the labels; `nodes` ('rule.NAME' -> YAML node) point at the key."""
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
        node = nodes.get(f"rule.{rule.name}")
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

    for rule, path, line in rules:
        add(rule, path, line)
    for name, (label, path, line) in labels.items():
        keywords = label_keywords(name, label)
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


def resolve_pipeline(task: Task, path: Path, line: int, errors: list[RuleError]) -> Task:
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
