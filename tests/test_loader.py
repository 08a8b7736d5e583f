"""Loading rules: every kind of broken file pinned to its file, line and rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BAD_RULES, TAG_RULES, write_rules

import lfkit
from lfkit import RuleFileError

BAD = [
    ("unknown_key.yaml", 8, "object-detection", "unknown key 'keyword'"),
    ("bad_regex.yaml", 8, "transformers", "does not compile with RE2"),
    ("unknown_label.yaml", 7, "detector", "did you mean 'object-detection'"),
    ("duplicate_name.yaml", 9, "detector", "rule name is used twice"),
    ("empty_rule.yaml", 6, "empty", "nothing to match"),
    ("wrong_type.yaml", 8, "wrong-type", "'keywords[2]' must be a string"),
    ("bad_vote.yaml", 9, "bad-vote", "expected one of positive or negative"),
    ("bad_field.yaml", 9, "bad-field", "field 'abstract' is not a text column"),
    ("bad_token_pattern.yaml", 8, "bad-pattern", "not valid spaCy Matcher syntax"),
    ("token_needs_model.yaml", 8, "model-attr", "needs a trained spaCy pipeline"),
    ("bad_unless.yaml", 9, "bad-unless", "unknown key 'unless.keywrds'"),
    ("yaml_syntax.yaml", 9, "", "YAML syntax error"),
    ("unknown_parent.yaml", 4, "object-detection", "did you mean 'computer-vision'"),
    ("parent_cycle.yaml", 3, "machine-learning", "parent chain loops"),
    ("alias_twice.yaml", 4, "curriculum-vitae", "alias 'CV' is also claimed"),
    ("multiclass_negative.yaml", 9, "not-vision", "negative votes need a multilabel task"),
    ("no_task.yaml", 0, "", "no 'task' section"),
    ("yaml_alias.yaml", 4, "", "YAML alias *x is not allowed"),
    ("rules_not_list.yaml", 3, "", "'rules' must be a list"),
    ("not_utf8.yaml", 2, "", "is not UTF-8"),
    ("empty_file.yaml", 1, "", "the file is empty"),
    ("top_level_list.yaml", 1, "", "must be a mapping"),
    ("rule_named_id.yaml", 4, "id", "the rule name is the id column 'id'"),
]


def test_every_bad_rules_file_is_in_the_table() -> None:
    """Each file in tests/bad_rules is exercised by the table below."""
    assert sorted(path.name for path in BAD_RULES.glob("*.yaml")) == sorted(n for n, *_ in BAD)


@pytest.mark.parametrize(("name", "line", "rule", "phrase"), BAD)
def test_load_rules_pins_error_to_line(name: str, line: int, rule: str, phrase: str) -> None:
    """A broken rule is reported at its own file, line and name."""
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(BAD_RULES / name)
    (err, *_) = info.value.errors
    assert (err.path.name, err.line, err.rule) == (name, line, rule)
    assert phrase in str(err)


def test_load_rules_reports_every_problem_at_once(tmp_path: Path) -> None:
    """Three broken rules in one file give three errors in one exception."""
    path = write_rules(
        tmp_path,
        """labels: {vision: {}}
rules:
  - {name: a, label: visoin, keywords: [x]}
  - {name: b, label: vision, regex: ['(']}
  - {name: c, label: vision, keyword: [x]}
""",
    )
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(path)
    assert [err.line for err in info.value.errors] == [4, 5, 6]


def test_load_rules_merges_a_folder(tmp_path: Path) -> None:
    """Files in a folder and its subfolders merge; rule names must be unique across them."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "task.yaml").write_text(
        "task: {kind: multilabel, text_columns: [title], label_column: tags}\n"
        "labels: {vision: {match_name: false}}\n"
    )
    (tmp_path / "sub" / "more.yml").write_text(
        "rules: [{name: cam, label: vision, keywords: [camera]}]\n"
    )
    ruleset = lfkit.load_rules(tmp_path)
    assert ruleset.rule_names == ["cam"]
    (tmp_path / "dup.yaml").write_text("rules: [{name: cam, label: vision, keywords: [lens]}]\n")
    with pytest.raises(RuleFileError, match="rule name is used twice"):
        lfkit.load_rules(tmp_path)


def test_load_rules_compiles_aliases_and_parents() -> None:
    """Aliases become '<label>:alias' rules and parents are kept for later stages."""
    ruleset = lfkit.load_rules(TAG_RULES)
    assert len(ruleset.labels) == 400
    assert "tensorflow-js:alias" in ruleset.rule_names
    assert "tensorflow" in ruleset.ancestors("tensorflow-js")
    assert ruleset.ancestors("knowledge-base-question-answering")[:2] == [
        "question-answering",
        "natural-language-processing",
    ]


def test_load_rules_skips_disabled_rules(tmp_path: Path) -> None:
    """`enabled: false` keeps a rule in the file but out of the rule set."""
    path = write_rules(
        tmp_path,
        """labels: {vision: {match_name: false}}
rules:
  - {name: kept, label: vision, keywords: [camera]}
  - {name: dropped, label: vision, keywords: [lens], enabled: false}
""",
    )
    ruleset = lfkit.load_rules(path)
    assert (ruleset.rule_names, ruleset.disabled) == (["kept"], ("dropped",))


def test_load_rules_warns_about_risky_aliases(tmp_path: Path) -> None:
    """Two-letter and common-word aliases are named in one warning each."""
    path = write_rules(
        tmp_path,
        "labels: {qa: {aliases: [question answering]}, tabular: "
        "{aliases: [table]}, tensorflow: {}}\n",
    )
    warnings = lfkit.load_rules(path).warnings
    assert len(warnings) == 2
    assert "qa (qa)" in warnings[0] and "table (tabular)" in warnings[1]
    assert "tensorflow" not in " ".join(warnings)


def test_load_rules_missing_path_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is an lfkit error, not an OSError."""
    with pytest.raises(RuleFileError, match="no such file or folder"):
        lfkit.load_rules(tmp_path / "nope")


def test_load_rules_folder_without_rules_files(tmp_path: Path) -> None:
    """An empty folder is reported as such."""
    with pytest.raises(RuleFileError, match="holds no rules files"):
        lfkit.load_rules(tmp_path)


def test_odd_key_names_are_reported(tmp_path: Path) -> None:
    """A key such as ']' (found by the fuzzer) is an unknown key, not a crash."""
    path = tmp_path / "odd.yaml"
    path.write_text("task: {']': null}\n")
    with pytest.raises(RuleFileError, match="unknown key ']'"):
        lfkit.load_rules(path)


def test_flow_style_labels_and_rules_on_one_line_keep_their_own_locations(tmp_path: Path) -> None:
    """Labels (and rules) written on one line each point at their own aliases and keys."""
    from lfkit.rules.loader import lint_rules

    path = write_rules(
        tmp_path,
        "labels: {vision: {aliases: [cv]}, nlp: {aliases: [language, spacy]}}\n"
        "rules: [{name: a, label: vision, keywords: [vision]}, "
        "{name: b, label: nlp, keywords: [text], feilds: [title]}]\n",
    )
    _, errors, warnings = lint_rules(path)
    text = path.read_text().splitlines()
    labels_line = next(n for n, line in enumerate(text, 1) if line.startswith("labels:"))
    found = {(d.code, d.line, d.column) for d in warnings}
    assert ("LF101", labels_line, text[labels_line - 1].index("cv") + 1) in found
    assert ("LF102", labels_line, text[labels_line - 1].index("language") + 1) in found
    (error,) = errors
    assert (error.rule, error.line, error.column) == (
        "b",
        labels_line + 1,
        text[labels_line].index("feilds") + 1,
    )
