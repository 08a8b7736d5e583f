"""Checks across labels: a name defined twice, an alias claimed by two labels, a parent that is
not a label, parent chains that loop."""

from __future__ import annotations

from pathlib import Path

from lfkit.errors import RuleError
from lfkit.rules.lint import closest_hint
from lfkit.rules.patterns import keyword_words
from lfkit.rules.schema import Label


def check_labels(
    entries: list[tuple[str, Label, Path, int]], errors: list[RuleError]
) -> dict[str, tuple[Label, Path, int]]:
    """Return the labels by name (the first definition of each), adding to `errors` every
    label defined twice, alias claimed twice, unknown parent and parent loop."""
    labels: dict[str, tuple[Label, Path, int]] = {}
    claimed: dict[str, str] = {}
    for name, label, path, line in entries:
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
        for alias in label_keywords(name, label):
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
    for loop in parent_loops(labels):
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


def parent_loops(labels: dict[str, tuple[Label, Path, int]]) -> list[list[str]]:
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


def label_keywords(name: str, label: Label) -> list[str]:
    """Return the keywords that match a label: its name (unless `match_name: false`), aliases."""
    return ([name] if label.match_name else []) + list(label.aliases)
