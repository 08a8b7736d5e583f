"""`lfkit suggest`: keywords mined from the rows no rule explains, on the bundled data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import lfkit
from lfkit.assist.suggest import Suggestions, render_suggestions, suggest_rules
from lfkit.cli import app
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet
from tests.conftest import CLASS_RULES, EXAMPLES

RUNNER = CliRunner()
DATASET = EXAMPLES / "dataset.csv"


@pytest.fixture(scope="module")
def data(class_rules: RuleSet) -> pd.DataFrame:
    """dataset.csv with parsed classes."""
    return lfkit.read_data(DATASET, class_rules.task)


@pytest.fixture(scope="module")
def weakened(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 4-class rules without the image-words rule, plus a rule that hurts."""
    folder = tmp_path_factory.mktemp("rules")
    shutil.copy(CLASS_RULES / "task.yaml", folder / "task.yaml")
    text = (CLASS_RULES / "rules.yaml").read_text("utf-8")
    start = text.index("  - name: cv-images")
    end = text.index("  - name: cv-tasks")
    text = text[:start] + text[end:]
    text += (
        "  - name: mlops-bad-words\n"
        "    label: mlops\n"
        "    keywords: [neural network, neural networks, dataset]\n"
    )
    (folder / "rules.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def result(weakened: Path, data: pd.DataFrame) -> Suggestions:
    """Suggestions for the weakened 4-class rules."""
    return suggest_rules(lfkit.load_rules(weakened), data, top=5)


def test_suggest_rediscovers_removed_keywords(result: Suggestions) -> None:
    """Removing the image-words rule makes 'image' or 'images' the top vision suggestion."""
    vision = [s.keyword for s in result.suggestions if s.label == "computer-vision"]
    assert vision and vision[0] in {"image", "images"}


def test_suggest_numbers_are_what_the_rule_does(
    result: Suggestions, weakened: Path, data: pd.DataFrame, tmp_path: Path
) -> None:
    """Each keyword, loaded as a rule, fires on exactly the rows counted, hits as counted."""
    ruleset = lfkit.load_rules(weakened)
    body = "rules:\n" + "".join(
        f"  - {{name: probe-{i}, label: {s.label}, keywords: [{s.keyword!r}]}}\n"
        for i, s in enumerate(result.suggestions)
    )
    (tmp_path / "task.yaml").write_text((weakened / "task.yaml").read_text("utf-8"), "utf-8")
    (tmp_path / "probe.yaml").write_text(body, encoding="utf-8")
    probes = lfkit.load_rules(tmp_path)
    fired = lfkit.apply_rules(probes, data).fired.toarray() > 0
    y = given_matrix(ruleset, data["tag"].tolist()).toarray() > 0
    for i, s in enumerate(result.suggestions):
        column = probes.rule_names.index(f"probe-{i}")
        label = ruleset.labels.index(s.label)
        assert fired[:, column].sum() == s.fired
        assert (fired[:, column] & y[:, label]).sum() == s.hits


def test_suggest_covers_only_unexplained_labelled_rows(
    result: Suggestions, weakened: Path, data: pd.DataFrame
) -> None:
    """Example rows of a suggestion carry its label and no current rule for it fires there."""
    ruleset = lfkit.load_rules(weakened)
    fired = lfkit.apply_rules(ruleset, data).fired.toarray() > 0
    ids = data["id"].tolist()
    assert result.suggestions
    for s in result.suggestions:
        own = [j for j, rule in enumerate(ruleset.rules) if rule.label == s.label]
        assert 0 < s.new <= s.hits <= s.fired
        for row_id in s.examples:
            row = ids.index(row_id)
            assert data["tag"][row] == s.label
            assert not fired[row, own].any()


def test_suggest_precision_is_held_out_and_kept_above_threshold(result: Suggestions) -> None:
    """Held-out precision is measured on at most the rows the keyword fires on."""
    for s in result.suggestions:
        assert 0.5 <= s.precision <= 1.0
        assert 0 < s.heldout <= s.fired


def test_suggest_finds_the_rule_that_hurts(result: Suggestions) -> None:
    """A rule voting mlops on generic words is listed as hurting, with example rows."""
    names = [h.rule for h in result.hurting]
    assert "mlops-bad-words" in names
    hurt = result.hurting[names.index("mlops-bad-words")]
    assert hurt.precision < hurt.reference - 0.3
    assert hurt.examples and all(text for _, text in hurt.examples)


def test_suggest_yaml_is_accepted_and_improves_coverage(
    result: Suggestions, weakened: Path, data: pd.DataFrame, tmp_path: Path
) -> None:
    """The YAML loads beside the rules (names never clash) and the rules then cover more rows."""
    folder = tmp_path / "rules"
    shutil.copytree(weakened, folder)
    (folder / "suggested.yaml").write_text(result.to_yaml(source="x"), encoding="utf-8")
    before = lfkit.load_rules(weakened)
    after = lfkit.load_rules(folder)
    assert len(after) == len(before) + len({s.label for s in result.suggestions})
    covered = [
        (lfkit.apply_rules(rules, data).fired.toarray() > 0).any(axis=1).sum()
        for rules in (before, after)
    ]
    assert covered[1] > covered[0]


def test_suggest_label_filter_and_unknown_label(weakened: Path, data: pd.DataFrame) -> None:
    """--label restricts the labels; an unknown label is an LfkitError naming it."""
    ruleset = lfkit.load_rules(weakened)
    only = suggest_rules(ruleset, data, labels=["mlops"])
    assert {s.label for s in only.suggestions} <= {"mlops"}
    assert {h.label for h in only.hurting} <= {"mlops"}
    with pytest.raises(lfkit.LfkitError, match="'mlop'.*\n.*did you mean 'mlops'"):
        suggest_rules(ruleset, data, labels=["mlop"])


@pytest.mark.slow
def test_suggest_multilabel_taxonomy(tag_rules: RuleSet) -> None:
    """On the 400-tag projects every suggestion's label is a tag and its YAML loads."""
    projects = lfkit.read_data(EXAMPLES / "projects.json", tag_rules.task)
    result = suggest_rules(tag_rules, projects, top=2)
    assert result.suggestions
    assert {s.label for s in result.suggestions} <= set(tag_rules.labels)
    counts = pd.Series([s.label for s in result.suggestions]).value_counts()
    assert counts.max() <= 2
    assert np.all([s.new >= 2 for s in result.suggestions])
    assert "keywords:" in result.to_yaml()


def test_cli_suggest_writes_yaml_and_refuses_overwrite(weakened: Path, tmp_path: Path) -> None:
    """`lfkit suggest --out` writes a rules file; rerunning without --force exits 1."""
    out = tmp_path / "new-rules.yaml"
    args = ["suggest", str(DATASET), "--rules", str(weakened), "--out", str(out)]
    first = RUNNER.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "computer-vision" in first.stdout and out.read_text("utf-8").startswith("#")
    again = RUNNER.invoke(app, args)
    assert again.exit_code == 1 and "--force" in again.output


def test_cli_suggest_jsonl(weakened: Path) -> None:
    """--format jsonl gives one typed record per line."""
    run = RUNNER.invoke(
        app, ["suggest", str(DATASET), "--rules", str(weakened), "--format", "jsonl"]
    )
    assert run.exit_code == 0, run.output
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert {r["type"] for r in records} == {"suggestion", "hurting-rule"}


def test_render_table_lists_hurting_rules(result: Suggestions) -> None:
    """The table shows the suggestions and the rules that hurt."""
    text = render_suggestions(result, fmt="table")
    assert "mlops-bad-words" in text and "keyword" in text


def test_cli_suggest_counts_own_lfs_as_explaining(
    weakened: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --lfs, rows an own labeling function covers are explained: 'image' is not suggested."""
    (tmp_path / "assist_lfs.py").write_text(
        "def lf_image(row):\n"
        "    text = f\"{row['title']} {row['description']}\".lower()\n"
        "    return 'computer-vision' if 'image' in text else -1\n"
        "LFS = {'computer-vision': [lf_image]}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    args = ["suggest", str(DATASET), "--rules", str(weakened), "--format", "jsonl"]
    plain = RUNNER.invoke(app, args)
    with_lfs = RUNNER.invoke(app, [*args, "--lfs", "assist_lfs:LFS"])
    assert plain.exit_code == 0 and with_lfs.exit_code == 0, with_lfs.output

    def vision(output: str) -> set[str]:
        records = [json.loads(line) for line in output.splitlines()]
        return {
            r["keyword"]
            for r in records
            if r["type"] == "suggestion" and r["label"] == "computer-vision"
        }

    assert vision(plain.stdout) & {"image", "images"}
    assert not vision(with_lfs.stdout) & {"image", "images"}
