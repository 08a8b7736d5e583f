"""Read one YAML rules file safely, keeping the line of every rule and every key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lfkit.errors import FileProblem, RuleError
from lfkit.files import read_limited

MAX_FILE_BYTES = 64 << 20
MAX_DEPTH = 64
_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
}


@dataclass
class Located:
    """A YAML node as Python data, with the 1-based line (and column) of itself and each key."""

    value: Any
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)
    items: list[Located] = field(default_factory=list)
    children: dict[str, Located] = field(default_factory=dict)
    column: int = 0
    key_columns: dict[str, int] = field(default_factory=dict)


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that stops at the first alias: aliases can blow up ("billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
            raise RuleError(
                Path(self.name),
                event.start_mark.line + 1,
                "",
                f"YAML alias *{event.anchor} is not allowed in rules files",
                "write the value out in full where it is used",
            )
        return super().compose_node(parent, index)


class _Converter:
    """Turn composed YAML nodes into plain Python data, refusing deep nesting."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.constructor = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, depth: int = 0) -> Located:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if node.tag == "tag:yaml.org,2002:timestamp" and isinstance(node, yaml.ScalarNode):
            return Located(
                node.value, line, column=column
            )  # a date is text to a rule, not a datetime
        if node.tag not in _PLAIN_TAGS:
            raise RuleError(
                self.path,
                line,
                "",
                f"YAML tag {node.tag.replace('tag:yaml.org,2002:', '!!')} "
                "is not allowed in rules files",
                "rules files hold plain data only",
            )
        if depth > MAX_DEPTH:
            raise RuleError(self.path, line, "", f"YAML nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth, line, column)
        if isinstance(node, yaml.SequenceNode):
            items = [self.convert(item, depth + 1) for item in node.value]
            return Located([item.value for item in items], line, items=items, column=column)
        return Located(self.constructor.construct_object(node), line, column=column)

    def _mapping(self, node: yaml.MappingNode, depth: int, line: int, column: int) -> Located:
        result = Located({}, line, column=column)
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise RuleError(self.path, key_line, "", "a key must be a plain string")
            key = str(self.constructor.construct_object(key_node))
            if key in result.value:
                raise RuleError(self.path, key_line, "", f"key '{key}' appears twice")
            child = self.convert(value_node, depth + 1)
            result.value[key] = child.value
            result.key_lines[key] = key_line
            result.key_columns[key] = key_node.start_mark.column + 1
            result.children[key] = child
        return result


def read_yaml(path: Path) -> Located | None:
    """Parse a rules file into located data; None for an empty file.

    Raises
    ------
    RuleError
        For unreadable files, bytes that are not UTF-8, YAML syntax errors (with line and
        column), aliases, nesting deeper than 64 levels, files over 64 MB and files that are
        not regular files (a FIFO, a device).
    """
    try:
        raw = read_limited(path, MAX_FILE_BYTES)
    except FileProblem as err:
        limit = "; rules files are at most 64 MB" if "more than" in err.problem else ""
        raise RuleError(path, 1, "", err.problem + limit, err.hint) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise RuleError(
            path,
            line,
            "",
            f"byte {raw[err.start]:#04x} at offset {err.start} is not UTF-8",
            "save the file as UTF-8",
        ) from None
    try:
        loader = _NoAliasLoader(text)
        loader.name = str(path)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(str(err.problem or err.context or "syntax error").split())
        raise RuleError(
            path, line, "", f"YAML syntax error at column {column}: {problem}"
        ) from None
    except yaml.YAMLError as err:
        raise RuleError(path, 1, "", f"YAML error: {err}") from None
    except RecursionError:
        raise RuleError(path, 1, "", "YAML nested too deeply to read") from None
    if node is None:
        return None
    try:
        return _Converter(path).convert(node)
    except RecursionError:
        raise RuleError(path, 1, "", "YAML nested too deeply to read") from None
    except yaml.YAMLError as err:
        mark = err.problem_mark if isinstance(err, yaml.MarkedYAMLError) else None
        line = mark.line + 1 if mark else 1
        raise RuleError(path, line, "", f"YAML value error: {err}") from None
