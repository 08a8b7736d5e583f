"""What a notebook shows: dir(lfkit), short reprs, and Votes as a DataFrame with rule names."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import EXAMPLES, TAG_RULES

import lfkit


@pytest.fixture(scope="module")
def projects() -> pd.DataFrame:
    """The MadeWithML projects with their tags."""
    return lfkit.read_data(EXAMPLES / "projects.json", lfkit.load_rules(TAG_RULES).task)


def test_dir_lists_the_public_names() -> None:
    """dir(lfkit) shows every public name before any of them was used (a fresh process)."""
    code = "import lfkit; print(sorted(set(lfkit.__all__) - set(dir(lfkit))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (result.returncode, result.stdout.strip()) == (0, "[]")


def test_ruleset_repr_counts() -> None:
    """A RuleSet shows its kind and counts, not its compiled regexes."""
    ruleset = lfkit.load_rules(TAG_RULES)
    text = repr(ruleset)
    assert text == (
        f"RuleSet(multilabel, {len(ruleset.rules)} rules, {len(ruleset.labels)} labels, "
        "text columns: title, description)"
    )
    assert "(?i)" not in text and len(text) < 200
    rule = ruleset.rule("pytorch:alias")
    assert repr(rule).startswith("CompiledRule('pytorch:alias' -> pytorch, vote 1")


def test_votes_to_frame_has_rule_names_and_ids(projects: pd.DataFrame) -> None:
    """Votes.to_frame(): one column per rule, named after it, the ids first, same votes."""
    ruleset = lfkit.load_rules(TAG_RULES)
    votes = lfkit.apply_rules(ruleset, projects)
    frame = votes.to_frame(ids=projects["id"])
    assert list(frame.columns) == ["id", *ruleset.rule_names]
    assert frame["id"].dtype == projects["id"].dtype
    assert (frame.drop(columns="id").to_numpy() == votes.to_dense()).all()
    assert list(votes.to_frame().columns) == ruleset.rule_names
    assert repr(votes).startswith(f"Votes({len(projects):,} rows x {len(ruleset.rules)} rules")


def test_votes_to_frame_refuses_wrong_number_of_ids(projects: pd.DataFrame) -> None:
    """Ids of another length are an error, not a silently shifted column."""
    votes = lfkit.apply_rules(lfkit.load_rules(TAG_RULES), projects)
    with pytest.raises(ValueError, match="ids for"):
        votes.to_frame(ids=[1, 2, 3])


def test_label_model_repr(projects: pd.DataFrame) -> None:
    """A fitted label model shows its method, its size and the rows it was fitted on."""
    ruleset = lfkit.load_rules(TAG_RULES)
    model = lfkit.fit_label_model(ruleset, projects.head(300), given=None, seed=0)
    text = repr(model)
    assert text.startswith(f"LabelModel(method='{model.method}'")
    assert f"{len(ruleset.labels)} labels" in text and "300 rows" in text
