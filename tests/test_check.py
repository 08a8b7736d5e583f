"""`lfkit check` as a linter: every problem of a file in one run, at line and column, with codes;
text, JSON and SARIF output; --strict; --data; no spaCy import without token patterns."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import EXAMPLES, TAG_RULES
from typer.testing import CliRunner

from lfkit.check import _TYPO, _closest, check_rules
from lfkit.cli import app
from lfkit.data import parse_labels
from lfkit.rules.lint import CODES
from lfkit.rules.ruleset import RuleSet

MULTI = Path(__file__).parent / "check_rules" / "multi_error.yaml"
RUNNER = CliRunner()

# (line, column, code, phrase): every problem and warning planted in multi_error.yaml.
EXPECTED = [
    (7, 3, "LF102", "alias 'vision' is a common English word"),
    (7, 22, "LF101", "alias 'cv' has at most 2 characters"),
    (7, 26, "LF102", "alias 'camera'"),
    (8, 19, "LF102", "alias 'language'"),
    (14, 13, "LF005", "regex '(unclosed' does not compile"),
    (14, 36, "LF005", "regex '[z-a]' does not compile"),
    (19, 27, "LF007", "token attribute POS"),
    (20, 11, "LF007", "token attribute LEMMA"),
    (23, 5, "LF002", "unknown key 'keyword'"),
    (27, 5, "LF008", "field 'descripton' is not a text column"),
    (28, 5, "LF103", "can never fire"),
]


def run(*args: object) -> tuple[int, str, str]:
    """Run lfkit with arguments; return exit code, stdout and stderr."""
    result = RUNNER.invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    """Write a rules file with the madewithml task section in front."""
    path = tmp_path / name
    path.write_text((TAG_RULES / "task.yaml").read_text() + text, encoding="utf-8")
    return path


def test_check_rules_reports_every_problem_at_its_key() -> None:
    """All problems and warnings of a multi-error file come in one run, each at line:column."""
    found = check_rules(MULTI).diagnostics
    got = [(d.line, d.column, d.code) for d in found]
    assert got == [(line, column, code) for line, column, code, _ in EXPECTED]
    for diagnostic, (*_, phrase) in zip(found, EXPECTED, strict=True):
        assert phrase in diagnostic.problem


def test_check_rules_did_you_mean() -> None:
    """An unknown key and a misspelt field get the closest valid name as a hint."""
    hints = {d.code: d.hint for d in check_rules(MULTI).diagnostics}
    assert "did you mean 'keywords'?" in hints["LF002"]
    assert "did you mean 'description'?" in hints["LF008"]


def test_check_text_lists_all_with_codes_and_exits_1() -> None:
    """Text output: path:line:col: CODE severity, one paragraph each, on stderr; exit 1."""
    code, out, err = run("check", MULTI)
    assert code == 1 and out == ""
    for line, column, rule_code, phrase in EXPECTED:
        assert f"multi_error.yaml:{line}:{column}: {rule_code} " in err
        assert phrase in err
    assert "6 errors, 5 warnings" in err and "Traceback" not in err + out


def test_check_counts_one_error_in_the_singular() -> None:
    """The count line says '1 error', not '1 errors'."""
    code, _, err = run("check", Path(__file__).parent / "bad_rules" / "alias_twice.yaml")
    assert code == 1 and err.rstrip().endswith("1 error, 2 warnings")


def test_check_json_is_a_list_of_diagnostics() -> None:
    """--format json prints one object per diagnostic on stdout, with location and code."""
    code, out, _ = run("check", MULTI, "--format", "json")
    items = json.loads(out)
    assert code == 1
    assert [(i["line"], i["column"], i["code"]) for i in items] == [e[:3] for e in EXPECTED]
    first = items[0]
    assert first["path"].endswith("multi_error.yaml") and first["severity"] == "warning"
    assert {i["severity"] for i in items} == {"error", "warning"}


def test_check_sarif_structure() -> None:
    """--format sarif is a SARIF 2.1.0 log: tool.driver.rules and results with locations."""
    code, out, _ = run("check", MULTI, "--format", "sarif")
    log = json.loads(out)
    assert code == 1 and log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    (sarif_run,) = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "lfkit"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == sorted({e[2] for e in EXPECTED})
    results = sarif_run["results"]
    assert len(results) == len(EXPECTED)
    for result, (line, column, rule_code, phrase) in zip(results, EXPECTED, strict=True):
        assert result["ruleId"] == rule_code and rule_ids[result["ruleIndex"]] == rule_code
        assert result["level"] == CODES[rule_code][0] and phrase in result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith("check_rules/multi_error.yaml")
        assert physical["region"] == {"startLine": line, "startColumn": column}


def test_check_strict_fails_on_warnings(tmp_path: Path) -> None:
    """Warnings alone exit 0; with --strict they exit 1."""
    path = write(tmp_path, "labels: {vision: {aliases: [cv]}}\n")
    code, out, err = run("check", path)
    assert code == 0 and "ok: 1 rules" in out
    assert "rules.yaml:7:" in err and "LF101 warning" in err
    assert run("check", path, "--strict")[0] == 1


def test_check_clean_rules_print_nothing_on_stderr(tmp_path: Path) -> None:
    """A rules file without problems says ok and nothing else, even with --strict."""
    path = write(tmp_path, "labels: {pytorch: {}}\n")
    code, out, err = run("check", path, "--strict")
    assert (code, err) == (0, "") and "ok: 1 rules for 1 labels" in out


def test_check_data_missing_column_did_you_mean(tmp_path: Path) -> None:
    """--data names a task column the data lacks, at the task's key, with the closest column."""
    code, _, err = run("check", TAG_RULES, "--data", EXAMPLES / "dataset.csv")
    assert code == 1
    assert "task.yaml:6:3: LF201 error: task label column 'tags' is not in the data" in err
    assert "did you mean 'tag'?" in err


def test_check_data_labels_against_rules() -> None:
    """--data lists data labels the rules lack (typos with a suggestion) as warnings."""
    report = check_rules(TAG_RULES, data=EXAMPLES / "projects.json")
    by_code = [d for d in report.diagnostics if d.code == "LF204"]
    typo = next(d for d in by_code if "'decision-tree'" in d.problem)
    assert "did you mean 'decision-trees'?" in typo.hint and "20 rows" in typo.problem
    assert report.errors == 0


def test_check_data_score_column_and_unseen_label(tmp_path: Path) -> None:
    """A score column absent from the data is an error; a label never in the data a warning."""
    path = write(
        tmp_path,
        "labels: {pytorch: {}, computer-visoin: {}}\n"
        "rules:\n  - {name: probs, label: pytorch, score: {column: prob, min: 0.5}}\n",
    )
    found = check_rules(path, data=EXAMPLES / "projects.json").diagnostics
    codes = {d.code: d for d in found}
    assert codes["LF202"].line == 9 and "score column 'prob'" in codes["LF202"].problem
    unseen = codes["LF205"]
    assert unseen.rule == "computer-visoin" and unseen.line == 7
    assert "did you mean 'computer-vision'?" in unseen.hint


def test_check_never_fire_and_repeated_alias(tmp_path: Path) -> None:
    """A rule silenced by its own unless, and a rule whose every keyword repeats its label's
    aliases, warn; a rule that repeats an alias among keywords of its own does not."""
    path = write(
        tmp_path,
        "labels: {pytorch: {aliases: [torch]}}\n"
        "rules:\n"
        "  - {name: dead, label: pytorch, regex: ['lightning'], unless: {regex: ['lightning']}}\n"
        "  - {name: again, label: pytorch, keywords: [Torch, PyTorch]}\n"
        "  - {name: more, label: pytorch, keywords: [torch, pytorch lightning]}\n",
    )
    found = check_rules(path).diagnostics
    codes = {d.code: d for d in found}
    assert codes["LF103"].rule == "dead" and codes["LF103"].line == 9
    (again,) = [d for d in found if d.code == "LF104"]
    assert again.rule == "again" and "'Torch', 'PyTorch'" in again.problem
    assert (again.line, again.column) == (10, 46)  # at the first keyword


def test_check_bundled_rules_repeat_no_alias() -> None:
    """No curated rule merely repeats its label's aliases (LF104), and none has an error."""
    found = check_rules(TAG_RULES).diagnostics
    assert [d for d in found if d.code == "LF104" or d.severity == "error"] == []


SELECTABLE = (
    "labels:\n  computer-vision: {aliases: [cv, camera]}\n  pytorch: {aliases: [torch]}\n"
    "rules:\n"
    "  - {name: again, label: pytorch, keywords: [torch]}\n"
    "  - {name: bad, label: pytorch, regex: ['(unclosed']}\n"
)


@pytest.mark.parametrize(
    ("select", "ignore", "codes"),
    [
        ((), (), ["LF101", "LF102", "LF102", "LF104", "LF005"]),
        ((), ("LF104",), ["LF101", "LF102", "LF102", "LF005"]),
        (("lf10",), ("LF101",), ["LF102", "LF102", "LF104", "LF005"]),
        (("LF104",), (), ["LF104", "LF005"]),
        (("LF2",), (), ["LF005"]),
        ((), ("LF1",), ["LF005"]),
    ],
)
def test_check_select_and_ignore_codes(
    tmp_path: Path, select: tuple[str, ...], ignore: tuple[str, ...], codes: list[str]
) -> None:
    """select/ignore keep the warnings whose code starts with a selected prefix and with no
    ignored one; errors are always reported."""
    path = write(tmp_path, SELECTABLE)
    found = check_rules(path, select=select, ignore=ignore).diagnostics
    assert sorted(d.code for d in found) == sorted(codes)


def test_check_cli_select_ignore_comma_separated_and_repeated(tmp_path: Path) -> None:
    """--ignore takes comma-separated and repeated codes; the exit code follows what is left."""
    path = write(tmp_path, "labels: {vision: {aliases: [cv, camera]}}\n")
    assert run("check", path, "--strict")[0] == 1
    code, out, err = run("check", path, "--strict", "--ignore", "LF101,LF102")
    assert (code, err) == (0, "") and "ok: 1 rules" in out
    code, out, err = run("check", path, "--strict", "--ignore", "LF101", "--ignore", "LF102")
    assert (code, err) == (0, "")
    code, out, _ = run("check", path, "-f", "json", "--select", "LF101")
    assert [d["code"] for d in json.loads(out)] == ["LF101"]


@pytest.mark.parametrize(
    ("option", "value", "phrase"),
    [
        ("--ignore", "LF105", "unknown code 'LF105'"),
        ("--select", "XX1", "unknown code 'XX1'"),
        ("--ignore", "LF005", "names only errors, which are always reported"),
        ("--select", "LF0", "names only errors"),
    ],
)
def test_check_refuses_unknown_or_error_codes(
    tmp_path: Path, option: str, value: str, phrase: str
) -> None:
    """An unknown code, or one that names only errors, is a one-paragraph error (exit 1)."""
    path = write(tmp_path, "labels: {pytorch: {}}\n")
    code, out, err = run("check", path, option, value)
    assert code == 1 and out == ""
    assert err.startswith(f"error: {option}: ") and phrase in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "spacy_loaded"),
    [
        ("", False),  # the bundled rules (549 rules, no token pattern)
        ("labels: {pytorch: {}}\n", False),
        pytest.param(  # the control: spaCy's import costs seconds, so it runs with the slow
            "labels: {pytorch: {}}\nrules:\n"
            "  - {name: t, label: pytorch, patterns: [[{LOWER: x}]]}\n",
            True,
            marks=pytest.mark.slow,
        ),
    ],
)
def test_check_imports_spacy_only_for_token_patterns(
    tmp_path: Path, text: str, spacy_loaded: bool
) -> None:
    """`lfkit check` on rules without token patterns never imports spaCy (it costs seconds)."""
    path = write(tmp_path, text) if text else TAG_RULES
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom lfkit.cli import app\n"
        f"result = CliRunner().invoke(app, ['check', {str(path)!r}])\n"
        "print(result.exit_code, 'spacy' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["0", str(spacy_loaded)]


def test_every_code_is_documented() -> None:
    """docs/check.md has a row for every code."""
    text = (Path(__file__).parents[1] / "docs" / "check.md").read_text()
    assert [code for code in CODES if f"`{code}`" not in text] == []


def test_closest_labels_equal_difflib(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """The numpy-bounded "did you mean" gives what difflib.get_close_matches gives (for every
    third word: difflib, the reference, is the slow part)."""
    given = parse_labels(projects, tag_rules.task, source="x")
    seen = sorted({tag for tags in given for tag in tags})
    labels = list(tag_rules.labels)
    new = [label for label in seen if label not in set(labels)]
    for words, choices in ((new[::3], labels), (labels[::3], seen)):
        expected = {}
        for word in words:
            if close := difflib.get_close_matches(word, choices, n=1, cutoff=_TYPO):
                expected[word] = close[0]
        assert _closest(words, choices) == expected and expected
