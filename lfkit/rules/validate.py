"""Validate a YAML node against a schema model; explain pydantic's errors in terms of the file.

Each error names the key (`match.keywords[2]`), its line and column, what was expected, a hint
(`did you mean ...`), and the `lfkit check` code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lfkit.errors import RuleError, quoted, split_hint
from lfkit.rules.lint import closest_hint
from lfkit.rules.schema import Match
from lfkit.rules.yamlfile import Located

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


def validate(
    model: type[BaseModel],
    node: Located | dict[str, Any],
    path: Path,
    name: str,
    errors: list[RuleError],
) -> Any:
    """Return the node validated as `model`, or None after adding to `errors` one located
    RuleError per problem (`name`: the rule or label, for the message)."""
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
