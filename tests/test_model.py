"""Label models: shapes, ranges, and that a row's own label never vouches for itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lfkit
from lfkit import LfkitError
from lfkit.model.fit import LABEL_MODELS, fit_label_model
from lfkit.model.neighbours import build_neighbours
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet


@pytest.mark.parametrize("method", LABEL_MODELS)
def test_probabilities_are_valid_multiclass(
    method: str, class_rules: RuleSet, classes: pd.DataFrame
) -> None:
    """Every method gives (rows, classes) probabilities that sum to 1 per row."""
    votes = lfkit.apply_rules(class_rules, classes)
    probs = fit_label_model(
        class_rules, votes, classes["tag"].tolist(), method=method
    ).predict_proba()
    assert probs.shape == (len(classes), 4)
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("method", ["naive-bayes", "majority"])
def test_probabilities_are_valid_multilabel(
    method: str, tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """Multilabel probabilities lie in [0, 1], one column per label."""
    votes = lfkit.apply_rules(tag_rules, projects)
    probs = fit_label_model(
        tag_rules, votes, projects["tags"].tolist(), method=method
    ).predict_proba()
    assert probs.shape == (len(projects), len(tag_rules.labels))
    assert ((probs >= 0) & (probs <= 1)).all()


def test_naive_bayes_is_leave_one_out(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Changing one row's labels leaves that row's own probabilities unchanged."""
    votes = lfkit.apply_rules(tag_rules, projects)
    tags = projects["tags"].tolist()
    row = next(i for i, t in enumerate(tags) if "computer-vision" in t and "pytorch" in t)
    before = fit_label_model(tag_rules, votes, tags).predict_proba()
    changed = list(tags)
    changed[row] = [t for t in tags[row] if t != "pytorch"] + ["tensorflow"]
    after = fit_label_model(tag_rules, votes, changed).predict_proba()
    labels = list(tag_rules.labels)
    for label in ("pytorch", "tensorflow"):
        column = labels.index(label)
        assert after[row, column] == pytest.approx(before[row, column], rel=1e-9)
    other = next(i for i, t in enumerate(tags) if "pytorch" in t and i != row)
    assert after[other, labels.index("pytorch")] != before[other, labels.index("pytorch")]


def test_naive_bayes_learns_rule_reliability(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Rows where a precise rule fires get a far higher probability than rows where none does."""
    votes = lfkit.apply_rules(tag_rules, projects)
    probs = fit_label_model(tag_rules, votes, projects["tags"].tolist()).predict_proba()
    column = tag_rules.rule_names.index("pytorch:alias")
    fired = votes.fired.toarray()[:, column]
    pytorch = probs[:, list(tag_rules.labels).index("pytorch")]
    assert pytorch[fired].mean() > 0.7 > 0.1 > pytorch[~fired].mean()


def test_unknown_label_model(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """An unknown method name is an lfkit error listing the choices."""
    votes = lfkit.apply_rules(class_rules, classes)
    with pytest.raises(LfkitError, match="naive-bayes, majority, snorkel"):
        fit_label_model(class_rules, votes, classes["tag"].tolist(), method="magic")


def test_neighbours_never_count_a_row_itself(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """A duplicated text finds its twin, and a row's own label does not change its estimate."""
    texts = classes["title"] + " " + classes["description"]
    y = given_matrix(class_rules, classes["tag"].tolist())
    probs = build_neighbours(texts, y, exclusive=True, seed=0).predict_proba(np.arange(len(texts)))
    flipped = classes["tag"].tolist()
    flipped[0] = next(c for c in class_rules.labels if c != flipped[0])
    index = build_neighbours(texts, given_matrix(class_rules, flipped), exclusive=True, seed=0)
    again = index.predict_proba(np.arange(len(texts)))
    np.testing.assert_allclose(probs[0], again[0])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("method", ["naive-bayes", "majority"])
def test_own_label_never_moves_own_probability(
    method: str, class_rules: RuleSet, classes: pd.DataFrame
) -> None:
    """Flipping one row's class leaves that row's probabilities unchanged (leave-one-out)."""
    votes = lfkit.apply_rules(class_rules, classes)
    tags = classes["tag"].tolist()
    flipped = list(tags)
    flipped[5] = next(c for c in class_rules.labels if c != tags[5])
    before = fit_label_model(class_rules, votes, tags, method=method).predict_proba()
    after = fit_label_model(class_rules, votes, flipped, method=method).predict_proba()
    np.testing.assert_allclose(after[5], before[5], rtol=1e-9)
