"""docs/errors.md: every row of its tables names the tests that exercise it (checked here, so a
new row needs a test), and the rows no other test covered are tested below."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import CLASS_RULES, EXAMPLES, ROOT, TAG_RULES, write_rules
from typer.testing import CliRunner

import lfkit
from lfkit import DataError, RuleFileError
from lfkit.cli import app
from lfkit.data import read_data

DOC = ROOT / "docs" / "errors.md"

# The start of each row's first cell -> the tests that exercise the row ("file::test").
COVERED: dict[str, tuple[str, ...]] = {
    "YAML syntax error": ("test_loader.py::test_load_rules_pins_error_to_line",),
    "YAML alias": (
        "test_loader.py::test_load_rules_pins_error_to_line",
        "test_hardening.py::test_billion_laughs_is_refused_at_the_first_alias",
    ),
    "YAML tags such as": ("test_hardening.py::test_yaml_python_tags_never_run",),
    "nesting deeper than 64 levels": ("test_hardening.py::test_deep_nesting_is_an_error",),
    "bytes that are not UTF-8": ("test_loader.py::test_load_rules_pins_error_to_line",),
    "a file over 64 MB": (
        "test_errors_doc.py::test_rules_file_over_the_limit",
        "test_hardening.py::test_read_limit_counts_bytes_read",
    ),
    "a FIFO, a device (a link to `/dev/zero`) or a socket named": (
        "test_hardening.py::test_rules_file_that_is_not_regular_is_refused",
    ),
    "empty file": ("test_loader.py::test_load_rules_pins_error_to_line",),
    "a list where a mapping belongs": (
        "test_loader.py::test_load_rules_pins_error_to_line",
        "test_errors_doc.py::test_rules_problems",
    ),
    "unknown section or key": (
        "test_loader.py::test_load_rules_pins_error_to_line",
        "test_cli.py::test_check_broken_rules_exit_1_without_traceback",
    ),
    "wrong type": (
        "test_loader.py::test_load_rules_pins_error_to_line",
        "test_errors_doc.py::test_rules_problems",
    ),
    "bad enum value": ("test_loader.py::test_load_rules_pins_error_to_line",),
    "regex RE2 cannot compile": ("test_loader.py::test_load_rules_pins_error_to_line",),
    "a huge value in a message": (
        "test_hardening.py::test_huge_invalid_regex_gives_a_short_message",
    ),
    "catastrophic regex": ("test_hardening.py::test_catastrophic_patterns_finish",),
    "a keyword, alias or regex over 10,000 characters": (
        "test_hardening.py::test_oversized_patterns_are_refused_at_check",
    ),
    "15,000 or more distinct keywords": (
        "test_hardening.py::test_fifteen_thousand_keywords_run",
        "test_hardening.py::test_split_filter_equals_one_regex_at_a_time",
    ),
    "spaCy `REGEX` that RE2 cannot compile": (
        "test_hardening.py::test_bad_token_patterns_are_rule_errors",
        "test_hardening.py::test_token_regex_runs_with_re2",
    ),
    "spaCy extension attribute": ("test_hardening.py::test_bad_token_patterns_are_rule_errors",),
    "spaCy quantifier over 8": ("test_hardening.py::test_bad_token_patterns_are_rule_errors",),
    "spaCy `*`, `+`, `{1,}` on long cells": (
        "test_hardening.py::test_unbounded_token_patterns_on_long_cells_finish",
        "test_fuzz.py::test_runnable_token_patterns_match_where_the_pattern_does",
    ),
    "spaCy pattern with an unknown attribute": (
        "test_loader.py::test_load_rules_pins_error_to_line",
    ),
    "spaCy attribute that needs a trained pipeline": (
        "test_loader.py::test_load_rules_pins_error_to_line",
    ),
    "unknown label, parent or field": ("test_loader.py::test_load_rules_pins_error_to_line",),
    "parent cycle": (
        "test_loader.py::test_load_rules_pins_error_to_line",
        "test_hardening.py::test_long_parent_chain_loop_is_one_short_error",
    ),
    "a parent chain of thousands of labels": ("test_hardening.py::test_long_parent_chain_loads",),
    "a label name that is empty, or has no word": ("test_errors_doc.py::test_rules_problems",),
    "duplicate rule or label name, alias claimed twice": (
        "test_loader.py::test_load_rules_pins_error_to_line",
        "test_loader.py::test_load_rules_merges_a_folder",
    ),
    "rule with nothing to match": ("test_loader.py::test_load_rules_pins_error_to_line",),
    "negative rule in a multiclass task": ("test_loader.py::test_load_rules_pins_error_to_line",),
    "a rule named like the id column": ("test_loader.py::test_load_rules_pins_error_to_line",),
    "no task, two tasks, no labels": (
        "test_loader.py::test_load_rules_pins_error_to_line",
        "test_errors_doc.py::test_rules_problems",
        "test_errors_doc.py::test_second_task_section_names_the_first",
    ),
    "a path that does not exist, a folder with no": (
        "test_loader.py::test_load_rules_missing_path_is_an_error",
        "test_loader.py::test_load_rules_folder_without_rules_files",
    ),
    "symlink loops in a rules folder": (
        "test_hardening.py::test_symlink_loops_do_not_hang",
        "test_hardening.py::test_broken_symlink_is_a_read_error",
    ),
    "100,000 keyword phrases": ("test_errors_doc.py::test_hundred_thousand_keyword_phrases_run",),
    "file does not exist / cannot be read": ("test_data.py::test_read_data_bad_files",),
    "a FIFO or a device (a link to `/dev/zero`) as data": (
        "test_hardening.py::test_data_link_to_dev_zero_is_refused",
        "test_hardening.py::test_taxonomy_link_to_dev_zero_is_refused",
    ),
    "a CSV/JSON file over 2 GB": ("test_errors_doc.py::test_data_file_over_the_limit",),
    "unknown extension": ("test_data.py::test_read_data_bad_files",),
    "not UTF-8": ("test_data.py::test_read_data_bad_files",),
    "truncated or invalid JSON / JSON Lines": ("test_data.py::test_read_data_bad_files",),
    "JSON Lines with raw U+2028": (
        "test_hardening.py::test_json_lines_with_line_separators_inside_strings",
    ),
    "JSON nested too deeply": (
        "test_hardening.py::test_deeply_nested_json_data_is_an_error_or_read",
    ),
    "an id that is a list or an object": (
        "test_hardening.py::test_ids_that_are_lists_or_objects_are_refused",
    ),
    "JSON that is not an array of objects": ("test_data.py::test_read_data_bad_files",),
    "truncated or corrupt Parquet": ("test_data.py::test_read_data_bad_files",),
    "CSV with quoted newlines": (
        "test_data.py::test_read_data_bundled_files",
        "test_hardening.py::test_semicolon_csv_is_sniffed",
        "test_fuzz.py::test_csv_dialects_read_back",
    ),
    "CSV whose lines end in a delimiter": (
        "test_data.py::test_trailing_delimiter_is_not_a_shift",
        "test_fuzz.py::test_csv_dialects_read_back",
    ),
    "CSV data line with one field more": (
        "test_data.py::test_extra_field_with_a_value_is_refused",
    ),
    "a lone CR inside an unquoted CSV field": (
        "test_errors_doc.py::test_lone_carriage_return_breaks_the_line",
    ),
    "missing id, text or label column": (
        "test_data.py::test_read_data_bad_files",
        "test_cli.py::test_audit_needs_the_label_column",
        "test_engine.py::test_apply_rules_missing_column",
    ),
    "empty data set": ("test_data.py::test_read_data_bad_files",),
    "missing or duplicate ids": (
        "test_data.py::test_read_data_bad_files",
        "test_errors_doc.py::test_row_without_an_id",
    ),
    "a multiclass class that is not a label": (
        "test_audit.py::test_unknown_class_is_a_data_error",
    ),
    "labels that do not parse": (
        "test_data.py::test_read_data_bad_files",
        "test_data.py::test_read_data_multiclass_needs_a_class",
        "test_integration.py::test_audit_names_an_empty_class_cell",
    ),
    "NaN, None, numbers or lists in text columns": (
        "test_engine.py::test_missing_and_odd_cells_are_empty_text",
        "test_hardening.py::test_huge_cell_and_odd_values",
        "test_hardening.py::test_deeply_nested_cells_do_not_crash",
    ),
    "the same word in another Unicode normal form": (
        "test_hardening.py::test_unicode_forms_match_each_other",
        "test_fuzz.py::test_unicode_forms_match_alike",
    ),
    "a 5 MB text in one row": ("test_hardening.py::test_huge_cell_and_odd_values",),
    "a 50 MB cell with millions of matches": (
        "test_hardening.py::test_evidence_spans_per_cell_are_bounded",
    ),
    "a taxonomy that `check` would reject": (
        "test_errors_doc.py::test_taxonomy_that_check_would_reject_writes_nothing",
        "test_fuzz.py::test_imported_taxonomy_passes_check_or_is_refused",
    ),
    "a taxonomy file that is a FIFO": (
        "test_hardening.py::test_taxonomy_link_to_dev_zero_is_refused",
        "test_errors_doc.py::test_taxonomy_that_is_not_json",
    ),
    "`--out`/`--html` is an input": (
        "test_output.py::test_rules_are_inputs_even_with_force",
        "test_output.py::test_taxonomy_is_an_input",
        "test_cli.py::test_apply_refuses_to_overwrite",
    ),
    "`--out` in a missing folder, or a folder": (
        "test_cli.py::test_apply_missing_folder_and_bad_data",
        "test_errors_doc.py::test_out_that_is_a_folder",
    ),
    "`--out` in a folder the user cannot write": (
        "test_output.py::test_read_only_folder_is_refused_before_work",
    ),
    "`--out` exists": ("test_cli.py::test_apply_refuses_to_overwrite",),
    "two runs racing": (
        "test_output.py::test_exclusive_creation_loses_no_output",
        "test_output.py::test_concurrent_writers_one_wins",
    ),
    "`--force` on a device": ("test_output.py::test_force_replaces_only_regular_files",),
    "`--out` and `--html` naming the same file": (
        "test_output.py::test_out_and_html_resolving_to_one_file_are_refused",
    ),
    "full disk (ENOSPC)": (
        "test_output.py::test_full_or_read_only_disk_is_one_paragraph",
        "test_output.py::test_full_disk_through_the_cli",
    ),
    "Parquet votes with ids that are huge integers": (
        "test_output.py::test_parquet_with_huge_or_mixed_ids",
    ),
    "unknown output type for `apply`": ("test_output.py::test_unknown_output_type_writes_nothing",),
    "`--seed` below 0": (
        "test_cli.py::test_audit_bad_options_are_usage_errors",
        "test_errors_doc.py::test_seed_and_top_out_of_range_are_usage_errors",
    ),
    "`--scheduler` that is not an address": ("test_dask.py::test_connect_rejects_bad_arguments",),
    "`--scheduler` at a port that accepts and stays silent": (
        "test_hardening.py::test_scheduler_that_is_not_dask_is_refused",
    ),
    "`--scheduler` at a port that speaks another protocol": (
        "test_hardening.py::test_scheduler_that_is_not_dask_is_refused",
    ),
    # Tested through the two bounds that cap one uninterruptible RE2 call: no pattern over
    # 10,000 characters, and filters of at most 5,000 regexes.
    "Ctrl-C while rules compile": (
        "test_hardening.py::test_oversized_patterns_are_refused_at_check",
        "test_hardening.py::test_split_filter_equals_one_regex_at_a_time",
    ),
    "interrupted run (Ctrl-C, kill)": (
        "test_hardening.py::test_interrupted_write_keeps_the_old_output",
    ),
    "escape sequences in data": (
        "test_hardening.py::test_terminal_output_shows_escapes_as_text",
        "test_hardening.py::test_error_messages_escape_data",
    ),
    "CSV cells starting with": ("test_hardening.py::test_csv_reports_hold_no_formulas",),
}


def _rows() -> list[str]:
    """Return the first cell of every row of the docs/errors.md tables of bad input (those
    whose header starts with 'input' or 'case'; the error class table is not one)."""
    rows, table = [], None
    for line in DOC.read_text("utf-8").splitlines():
        if not line.startswith("|"):
            table = None
        elif table is None:
            table = line.split("|")[1].strip()
        elif table in ("input", "case") and not line.startswith("|---"):
            rows.append(line[2:].split(" | ")[0])
    return rows


def test_every_row_names_its_tests() -> None:
    """Each row of docs/errors.md is claimed by exactly one COVERED entry, and each entry
    claims exactly one row (a new or reworded row needs its tests named here)."""
    rows = _rows()
    assert len(rows) > 70
    unclaimed = [row for row in rows if sum(row.startswith(key) for key in COVERED) != 1]
    stale = [key for key in COVERED if sum(row.startswith(key) for row in rows) != 1]
    assert not unclaimed, f"rows with no (or two) COVERED entries: {unclaimed}"
    assert not stale, f"COVERED entries that match no (or two) rows: {stale}"


def test_named_tests_exist() -> None:
    """Every test COVERED names is a test function in that file."""
    names = {test for tests in COVERED.values() for test in tests}
    missing = []
    for name in sorted(names):
        file, function = name.split("::")
        path = Path(__file__).parent / file
        if not path.exists() or f"def {function}(" not in path.read_text("utf-8"):
            missing.append(name)
    assert not missing


# ------------------------------------------------ rows no other test covered

TASK = "task: {kind: multilabel, text_columns: [title], label_column: tags}\n"
RULES_PROBLEMS = [
    ("labels: {a: {}}\nrules:\n  - [name, r]\n", 4, "expected a mapping of keys, got a list"),
    (
        "labels: {a: {}}\nrules:\n  - {name: r, label: a, keywords: [x, yes]}\n",
        4,
        "'keywords[2]' must be a string, got a boolean",
    ),
    ("labels: {'-': {}}\n", 2, "label '-': the label name has no word to match"),
    ("labels: {'': {}}\n", 2, "a label name must not be empty"),
    ("", 0, "no labels defined"),
]


@pytest.mark.parametrize(("body", "line", "phrase"), RULES_PROBLEMS)
def test_rules_problems(tmp_path: Path, body: str, line: int, phrase: str) -> None:
    """Each rules problem of docs/errors.md not in tests/bad_rules is a RuleFileError at its
    line with the documented phrase."""
    path = tmp_path / "rules.yaml"
    path.write_text(TASK + body, encoding="utf-8")
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(path)
    (err, *_) = info.value.errors
    assert err.line == line and phrase in str(err)


def test_rules_problems_yes_hint(tmp_path: Path) -> None:
    """A yes/no/on/off where a string belongs gets the hint to quote it."""
    path = tmp_path / "rules.yaml"
    path.write_text(TASK + "labels: {a: {}}\nrules:\n  - {name: r, label: a, keywords: [yes]}\n")
    with pytest.raises(RuleFileError, match="quote"):
        lfkit.load_rules(path)


def test_second_task_section_names_the_first(tmp_path: Path) -> None:
    """A second 'task' section in a folder is an error at it, naming where the first is."""
    (tmp_path / "a.yaml").write_text(TASK + "labels: {a: {}}\n")
    (tmp_path / "b.yaml").write_text(TASK)
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(tmp_path)
    (err,) = info.value.errors
    assert (err.path.name, err.line) == ("b.yaml", 1) and "a second 'task' section" in str(err)
    assert "a.yaml:1" in str(err)


def test_rules_file_over_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rules file over the size limit is refused, each file with its name, saying the limit."""
    import lfkit.rules.yamlfile

    monkeypatch.setattr(lfkit.rules.yamlfile, "MAX_FILE_BYTES", 50)
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(CLASS_RULES)
    assert {err.path.name for err in info.value.errors} == {"rules.yaml", "task.yaml"}
    assert "more than 50 bytes; rules files are at most 64 MB" in str(info.value)


def test_data_file_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A data file over the size limit is a DataError naming it and the limit, with a hint."""
    import lfkit.readers

    monkeypatch.setattr(lfkit.readers, "MAX_TEXT_BYTES", 50)
    task = lfkit.load_rules(CLASS_RULES).task
    with pytest.raises(DataError, match=r"dataset\.csv: the file holds more than 50 bytes") as info:
        read_data(EXAMPLES / "dataset.csv", task)
    assert "hint: read it in blocks" in str(info.value)


def test_lone_carriage_return_breaks_the_line(tmp_path: Path) -> None:
    """A lone CR in an unquoted field ends the line (as in pandas and spreadsheets): tags read
    the text after it as a new row; a multiclass row left without its class is reported."""
    tags = lfkit.load_rules(TAG_RULES).task
    path = tmp_path / "tags.csv"
    path.write_bytes(b'id,title,description,tags\n1,a\rb,c,"[""nlp""]"\n2,x,y,[]\n')
    df = read_data(path, tags)
    assert [str(i) for i in df["id"]] == ["1", "b", "2"]
    classes = lfkit.load_rules(CLASS_RULES).task
    path = tmp_path / "classes.csv"
    path.write_bytes(b"id,title,description,tag\n1,a\rb,c,mlops\n2,x,y,mlops\n")
    with pytest.raises(DataError, match="row 1"):
        read_data(path, classes)


def test_row_without_an_id(tmp_path: Path) -> None:
    """A row whose id is missing is a DataError naming the row and the id column."""
    rows = [{"id": 1, "title": "a", "tags": []}, {"id": None, "title": "b", "tags": []}]
    path = tmp_path / "data.json"
    path.write_text(json.dumps([{**row, "description": ""} for row in rows]))
    with pytest.raises(DataError, match="row 2 has no id in column 'id'"):
        read_data(path, lfkit.load_rules(TAG_RULES).task)


def test_taxonomy_that_check_would_reject_writes_nothing(tmp_path: Path) -> None:
    """import-taxonomy of tags whose parents loop exits 1 naming the loop and writes nothing."""
    source, out = tmp_path / "tags.json", tmp_path / "taxonomy.yaml"
    source.write_text(json.dumps({"a": {"parents": ["b"]}, "b": {"parents": ["a"]}}))
    result = CliRunner().invoke(app, ["import-taxonomy", str(source), "--out", str(out)])
    assert result.exit_code == 1 and "would fail 'lfkit check'" in result.stderr
    assert "parent chain loops" in result.stderr and not out.exists()


def test_taxonomy_that_is_not_json(tmp_path: Path) -> None:
    """A taxonomy that is not JSON exits 1 with 'cannot read a JSON taxonomy', no traceback."""
    source, out = tmp_path / "tags.json", tmp_path / "taxonomy.yaml"
    source.write_text("{not json")
    result = CliRunner().invoke(app, ["import-taxonomy", str(source), "--out", str(out)])
    assert result.exit_code == 1 and "cannot read a JSON taxonomy" in result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_out_that_is_a_folder(tmp_path: Path) -> None:
    """--out naming a folder exits 1 saying it is a folder, before any work."""
    args = ["apply", str(EXAMPLES / "dataset.csv"), "--rules", str(CLASS_RULES)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 1 and "is a folder" in result.stderr


@pytest.mark.parametrize("option", [["--seed", "-1"], ["--top", "0"]])
def test_seed_and_top_out_of_range_are_usage_errors(option: list[str]) -> None:
    """A negative --seed or --top 0 is a usage error (exit 2)."""
    args = ["audit", str(EXAMPLES / "dataset.csv"), "--rules", str(CLASS_RULES), *option]
    assert CliRunner().invoke(app, args).exit_code == 2


@pytest.mark.slow
def test_hundred_thousand_keyword_phrases_run(tmp_path: Path) -> None:
    """A rule with 100,000 keyword phrases loads and votes exactly on the rows that hold one."""
    phrases = [f"w{i} x{i}" for i in range(100_000)]
    body = "labels: {a: {match_name: false}}\nrules:\n  - name: many\n    label: a\n"
    body += "    keywords:\n" + "".join(f"      - '{phrase}'\n" for phrase in phrases)
    ruleset = lfkit.load_rules(write_rules(tmp_path, body))
    titles = ["w99999 x99999 at the end", "w5 x6 is no phrase", "w5 x5", "nothing"]
    votes = lfkit.apply_rules(ruleset, pd.DataFrame({"title": titles, "description": ""}))
    assert votes.to_dense()[:, 0].tolist() == [1, -1, 1, -1]
