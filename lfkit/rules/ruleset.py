"""The compiled rule set: every rule reduced to RE2 regexes and token patterns, in column order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lfkit.rules.schema import Task

if TYPE_CHECKING:
    from snorkel.labeling import LabelingFunction


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """One column of the label matrix: where to look, what to look for, and what to vote."""

    name: str
    label: str
    value: int
    """The vote cast when the rule fires: 1/0 for a tag present/absent, or a class index."""
    positive: bool
    fields: tuple[str, ...]
    regexes: tuple[str, ...]
    token_patterns: tuple[Any, ...]
    unless_regexes: tuple[str, ...]
    unless_token_patterns: tuple[Any, ...]
    path: Path
    line: int


@dataclass(frozen=True, eq=False)
class RuleSet:
    """Every enabled rule of a rules folder, compiled, plus the task and the taxonomy."""

    task: Task
    labels: tuple[str, ...]
    parents: dict[str, tuple[str, ...]]
    rules: tuple[CompiledRule, ...]
    warnings: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def multilabel(self) -> bool:
        """Say whether a row has a set of tags (True) or exactly one class (False)."""
        return self.task.kind == "multilabel"

    @property
    def rule_names(self) -> list[str]:
        """Return the rule names in column order."""
        return [rule.name for rule in self.rules]

    def rule(self, name: str) -> CompiledRule:
        """Return the rule with this name.

        Raises
        ------
        KeyError
            When there is no such rule.
        """
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def ancestors(self, label: str) -> list[str]:
        """Return the parents of a label, their parents and so on, nearest first.

        Examples
        --------
        >>> from lfkit.rules.schema import Task
        >>> task = Task(kind="multilabel", text_columns=("title",), label_column="tags")
        >>> ruleset = RuleSet(task, ("a", "b", "c"), {"a": ("b",), "b": ("c",)}, ())
        >>> ruleset.ancestors("a")
        ['b', 'c']
        """
        found: list[str] = []
        frontier = list(self.parents.get(label, ()))
        while frontier:
            parent = frontier.pop(0)
            if parent not in found and parent != label:
                found.append(parent)
                frontier.extend(self.parents.get(parent, ()))
        return found

    def to_snorkel(self) -> list[LabelingFunction]:
        """Return one Snorkel LabelingFunction per rule, in column order.

        Multilabel: each function votes 1 (its label present), 0 (absent) or -1 (abstain)
        for the label `ruleset.rules[j].label`. Multiclass: the class index or -1.
        """
        from lfkit.engine.lfs import make_labeling_functions

        return make_labeling_functions(self)
