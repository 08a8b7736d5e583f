"""`err.where` says where a problem is (a file, a line, a row, a rule, a function), apart from
`err.problem`; `str(err)` is still `where: problem` and a hint line (docs/errors.md)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import lfkit
from lfkit.data import check_frame, read_data, split_data
from lfkit.errors import LfkitError, OptionError, RuleFileError, message
from lfkit.rules.schema import Task
from lfkit.rules.taxonomy import read_taxonomy

PACKAGE = Path(lfkit.__file__).parent
TAGS = Task(kind="multilabel", text_columns=("title",), label_column="tags")


def _where(call: Callable[[], object]) -> LfkitError:
    with pytest.raises(LfkitError) as info:
        call()
    err = info.value
    assert str(err) == message(err.problem, err.hint, err.where)
    return err


def test_data_file_errors_name_the_file_line_and_row(tmp_path: Path) -> None:
    """Reading data: the file, the file:line of a bad byte, the partition's line, the row."""
    missing = tmp_path / "missing.csv"
    err = _where(lambda: read_data(missing, TAGS))
    assert err.where == str(missing) and err.problem.startswith("cannot read the file")

    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"id,title,tags\n1,ok,a\n2,caf\xe9,b\n")
    err = _where(lambda: read_data(latin, TAGS))
    assert err.where == f"{latin}:3" and err.problem.startswith("byte 0xe9 at offset")

    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"id": 1, "title": "a", "tags": "x"}\n{"id": 2,\n', encoding="utf-8")
    err = _where(lambda: [part() for part in split_data(lines, TAGS)])
    assert re.fullmatch(rf"{re.escape(str(lines))}.*, line 2", err.where)
    assert err.problem.startswith("not valid JSON")

    df = pd.DataFrame({"id": [1, None], "title": ["a", "b"], "tags": ["x", "y"]})
    err = _where(lambda: check_frame(df, TAGS, columns=["id", "title", "tags"], source="mine"))
    assert (err.where, err.problem) == ("mine", "row 2 has no id in column 'id'")

    df = pd.DataFrame({"id": [1, 2], "title": ["a", "b"], "tags": ["x", 5]})
    err = _where(lambda: check_frame(df, TAGS, columns=["id", "title", "tags"], source="mine"))
    assert err.where == "mine: row 2 (id 2), column 'tags'"


def test_rule_and_taxonomy_errors_name_the_file_and_the_item(tmp_path: Path) -> None:
    """A rules file: file:line and the rule; a taxonomy: the file and the tag."""
    bad = Path(__file__).parent / "bad_rules" / "unknown_key.yaml"
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(bad)
    (err,) = info.value.errors
    assert re.fullmatch(rf"{re.escape(str(bad))}:\d+: rule '[^']+'", err.where)
    assert err.problem.startswith("unknown key")

    taxonomy = tmp_path / "tags.json"
    taxonomy.write_text('{"vision": {"aliases": "cv"}}', encoding="utf-8")
    err = _where(lambda: read_taxonomy(taxonomy))
    assert (err.where, err.problem) == (
        f"{taxonomy}: tag 'vision'",
        "'aliases' must be a list of strings",
    )


def test_api_errors_name_the_function(tag_rules: lfkit.RuleSet) -> None:
    """Wrong arguments to a library call: `where` is the function, `option` the keyword."""
    df = pd.DataFrame({"id": [1], "title": ["a"]})
    err = _where(lambda: lfkit.apply_rules(tag_rules, df))
    assert err.where == "apply_rules" and err.problem.startswith("column 'description'")

    model = lfkit.fit_label_model(
        tag_rules, lfkit.apply_rules(tag_rules, df.assign(description=""))
    )
    with pytest.raises(OptionError) as info:
        lfkit.label_rows(model, df.assign(description=""), threshold=2.0)
    assert (info.value.where, info.value.option) == ("label", "threshold")
    assert str(info.value) == "label: threshold=2.0 is not between 0 and 1"


_ERRORS = {"DataError", "ModelError", "FunctionError", "ClusterError", "OutputError", "OptionError"}


def _starts_with_location(problem: ast.expr) -> bool:
    """Say whether a problem string starts with `{x}: `, `{x}:{y}: `, `name: ` or
    `labeling function '{x}': `."""
    parts = problem.values if isinstance(problem, ast.JoinedStr) else [problem]
    if isinstance(parts[0], ast.FormattedValue):
        return len(parts) > 1 and isinstance(parts[1], ast.Constant) and parts[1].value[:1] == ":"
    head = parts[0].value if isinstance(parts[0], ast.Constant) else None
    if isinstance(head, str) and re.match(r"[a-z ]+'$", head) and len(parts) > 2:
        after = parts[2].value if isinstance(parts[2], ast.Constant) else ""
        return isinstance(after, str) and after.startswith("': ")  # "labeling function '{x}': "
    return isinstance(head, str) and re.match(r"[a-z_]+: ", head) is not None


def test_no_error_writes_its_location_into_the_problem() -> None:
    """No `raise XError(f"{path}: ...")` or `("apply_rules: ...")`: the location is `where=`."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in _ERRORS:
                args = node.args[1:] if getattr(node.func, "id", "") == "OptionError" else node.args
                if args and _starts_with_location(args[0]):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert found == []
