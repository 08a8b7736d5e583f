"""The error contract: one hierarchy, one message format, options checked against their types.

docs/errors.md describes the hierarchy and the format; lfkit/_types.py holds the option types.
"""

from __future__ import annotations

import ast
import json
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pandas as pd
import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

import lfkit
from lfkit import _types, errors
from lfkit.assist.next import render_next
from lfkit.assist.slices import render_slices, slice_rules
from lfkit.audit.analysis import render_analysis
from lfkit.cli import app
from lfkit.cli.app import flags
from lfkit.errors import (
    HINT,
    DataError,
    LfkitError,
    ModelError,
    OptionError,
    RuleError,
    RuleFileError,
    check_choice,
)
from lfkit.model.fit import LabelModel, fit_label_model
from lfkit.report.render import render_report
from lfkit.rules.patterns import keyword_regex
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.schema import Task

PACKAGE = Path(lfkit.__file__).parent
ROOT = PACKAGE.parent
ERROR_CLASSES = [
    value
    for value in vars(errors).values()
    if isinstance(value, type) and issubclass(value, Exception)
]


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text("utf-8"))) for path in sorted(PACKAGE.rglob("*.py"))]


# The hierarchy


def test_every_error_class_derives_from_lfkit_error() -> None:
    """Catching LfkitError catches every error class lfkit defines."""
    assert len(ERROR_CLASSES) >= 9
    for cls in ERROR_CLASSES:
        assert issubclass(cls, LfkitError), cls


def test_public_error_classes_are_exported() -> None:
    """Every public error class is a name of the `lfkit` package."""
    public = {cls.__name__ for cls in ERROR_CLASSES if cls.__module__ == "lfkit.errors"}
    public.discard("FileProblem")  # internal: callers re-raise it with the file's role
    assert public <= set(lfkit.__all__)


def test_no_error_class_is_defined_outside_errors_py() -> None:
    """No module but lfkit/errors.py defines an exception class."""
    found = []
    for path, tree in _modules():
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base) for base in node.bases}
                if any(base.endswith(("Error", "Exception", "Problem")) for base in bases):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert found == []


def test_nothing_raises_the_base_classes() -> None:
    """No module raises Exception or LfkitError itself: each error has its subclass."""
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = ast.unparse(node.exc.func)
                if name in ("Exception", "LfkitError"):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {name}")
    assert found == []


def _library_strings() -> list[tuple[str, str]]:
    """Return (where, text) of every string literal of the library (not the CLI), docstrings
    left out, f-strings with their parts joined."""
    found = []
    for path, tree in _modules():
        if path.parent.name == "cli":
            continue
        docstrings = {  # module, class, function and attribute docstrings
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
                )
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docstrings:
                    continue
                text = node.value
            else:
                continue
            found.append((f"{path.relative_to(PACKAGE)}:{node.lineno}", text))
    return found


def test_hints_have_one_format() -> None:
    """No library message writes its hint inline (`...; hint: ...`): hints go on their own
    line, through the `hint` argument of the error."""
    inline = [where for where, text in _library_strings() if "; hint:" in text or "hint: " in text]
    allowed = {"errors.py", "rules/lint.py"}  # the formatters themselves
    assert [where for where in inline if where.split(":")[0] not in allowed] == []


def test_library_messages_name_no_cli_flags() -> None:
    """Library strings name options by keyword (force=True), never by flag (--force)."""
    flag = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
    found = [(where, text) for where, text in _library_strings() if flag.search(text)]
    assert found == []


@pytest.mark.parametrize(
    "err",
    [
        RuleError(Path("r.yaml"), 3, "cv", "unknown key 'keyword'", "did you mean 'keywords'?"),
        RuleFileError([RuleError(Path("r.yaml"), 3, "cv", "bad", column=2, code="LF001")]),
        OptionError("method", "method='x' is not a label model", "did you mean 'em'?"),
        DataError("column 'text' is not in the data", where="data.csv"),
        ModelError("damaged label model file"),
    ],
)
def test_errors_survive_pickling(err: LfkitError) -> None:
    """Errors cross process boundaries (Dask workers) with their message and attributes."""
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert str(copy) == str(err)
    assert {key: str(value) for key, value in vars(copy).items()} == {
        key: str(value) for key, value in vars(err).items()
    }


# One message format


def test_message_format_is_where_problem_hint() -> None:
    """Every error prints as `where: problem`, then an indented `hint:` line."""
    err = RuleError(Path("r.yaml"), 3, "cv", "unknown key 'keyword'", "did you mean 'keywords'?")
    assert (
        str(err) == "r.yaml:3: rule 'cv': unknown key 'keyword'\n  hint: did you mean 'keywords'?"
    )
    assert (err.problem, err.hint) == ("unknown key 'keyword'", "did you mean 'keywords'?")
    assert str(DataError("no rows", where="d.csv")) == "d.csv: no rows"
    assert HINT == "\n  hint: "


# Options checked against their Literal types


def test_label_model_refuses_an_unknown_method(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """LabelModel(method='typo') raises instead of quietly running majority vote."""
    model = fit_label_model(class_rules, classes.head(50), method="majority")
    with pytest.raises(OptionError, match="method='majorty' is not a label model") as info:
        LabelModel(class_rules, "majorty", counts=model.counts)  # type: ignore[arg-type]
    assert info.value.option == "method"
    assert info.value.hint == "did you mean 'majority'?"
    with pytest.raises(OptionError, match="not 'auto'"):
        LabelModel(class_rules, "auto", counts=model.counts)


def test_fit_label_model_lists_every_method(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """An unknown method names all of LabelMethod's values."""
    with pytest.raises(OptionError) as info:
        fit_label_model(class_rules, classes, method="typo")  # type: ignore[arg-type]
    assert ", ".join(_types.LABEL_METHODS) in str(info.value)


def test_a_damaged_model_file_is_a_model_error(
    class_rules: RuleSet, classes: pd.DataFrame, tmp_path: Path
) -> None:
    """A saved model whose method is not a label model is refused as a damaged file."""
    path = tmp_path / "model.json"
    fit_label_model(class_rules, classes.head(100), method="majority").save(path)
    document = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps(document | {"method": "typo"}), "utf-8")
    with pytest.raises(ModelError, match="damaged label model file"):
        lfkit.load_label_model(path, class_rules)


def _tiny_rules() -> RuleSet:
    task = Task(kind="multilabel", text_columns=("text",), label_column="tags")
    return RuleSet(task, ("spam",), {}, ())


OPTION_CALLS: list[tuple[str, Callable[[], Any]]] = [
    ("match", lambda: keyword_regex("cv", match="wordy")),  # type: ignore[arg-type]
    ("fmt", lambda: render_report(None, fmt="xlsx")),  # type: ignore[arg-type]
    ("fmt", lambda: render_analysis([], fmt="yaml")),  # type: ignore[arg-type]
    ("fmt", lambda: render_next([], fmt="csv")),  # type: ignore[arg-type]
    ("fmt", lambda: render_slices([], fmt="csv")),  # type: ignore[arg-type]
    ("by", lambda: slice_rules(None, by="tag")),  # type: ignore[arg-type]
    ("vote", lambda: _tiny_rules().with_lfs([len], vote="maybe")),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("option", "call"), OPTION_CALLS)
def test_string_options_raise_option_error(option: str, call: Callable[[], Any]) -> None:
    """Every string option of the API refuses a value outside its Literal type."""
    with pytest.raises(OptionError) as info:
        call()
    assert info.value.option == option
    assert f"{option}=" in str(info.value)


def test_check_choice_accepts_only_the_choices() -> None:
    """check_choice passes the choices and refuses anything else, even a non-string."""
    check_choice("fmt", "csv", _types.REPORT_FORMATS)
    for bad in ("CSV", "", 3, None):
        with pytest.raises(OptionError):
            check_choice("fmt", bad, _types.REPORT_FORMATS)


CLI_CHOICES = [
    ("label", "--method", _types.LabelMethod),
    ("audit", "--label-model", _types.LabelMethod),
    ("audit", "--format", _types.ReportFormat),
    ("analyze", "--format", _types.AnalysisFormat),
    ("suggest", "--format", _types.ListFormat),
    ("next", "--format", _types.NextFormat),
    ("slices", "--by", _types.SliceKind),
    ("check", "--format", _types.CheckFormat),
    ("export", "--to", _types.ReviewTool),
]


@pytest.mark.parametrize(("command", "flag", "literal"), CLI_CHOICES)
def test_cli_choices_are_the_literal_values(command: str, flag: str, literal: Any) -> None:
    """The CLI refuses a value outside the option's Literal type (exit 2) and lists them all."""
    result = CliRunner().invoke(app, [command, flag, "typo"])
    assert result.exit_code == 2
    for value in get_args(literal):
        assert f"'{value}'" in result.output


def test_cli_declares_no_enum_of_choices() -> None:
    """CLI choices come from lfkit/_types.py: the CLI declares no Enum of its own."""
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        assert "Enum" not in path.read_text("utf-8"), path.name


def test_a_keyword_means_one_flag_in_every_command() -> None:
    """`name=value` in a message can be shown as one flag whichever command printed it."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    seen: dict[str, set[str]] = {}
    for command in group.commands.values():
        for param in command.params:
            if param.opts[0].startswith("-"):
                seen.setdefault(str(param.name), set()).add(max(param.opts, key=len))
    assert {name: opts for name, opts in seen.items() if len(opts) > 1} == {}
    assert flags()["fmt"] == ("--format", "")
    assert flags()["use_labels"] == ("--use-labels", "--no-labels")


def test_cli_shows_keywords_as_its_flags(tmp_path: Path) -> None:
    """A library hint naming force=True reads `--force` on the command line."""
    out = tmp_path / "votes.csv"
    out.write_text("x\n", "utf-8")
    data, rules = ROOT / "examples/madewithml/dataset.csv", ROOT / "rules/madewithml-4class"
    result = CliRunner().invoke(app, ["apply", str(data), "--rules", str(rules), "-o", str(out)])
    assert result.exit_code == 1
    assert f"--out {out} already exists\n  hint: pass --force to replace it" in result.output
    assert "force=True" not in result.output
