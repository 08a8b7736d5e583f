"""Label models: shapes, ranges, and that a row's own label never vouches for itself."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lfkit
from lfkit import LfkitError
from lfkit._types import LABEL_METHODS
from lfkit.model.fit import fit_label_model
from lfkit.model.neighbours import build_neighbours, fit_text_vectors
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet

# Snorkel's LabelModel costs seconds to import and fit: its cases run with the slow tests.
SNORKEL = pytest.param("snorkel", marks=pytest.mark.slow)


@pytest.mark.parametrize("method", [SNORKEL if m == "snorkel" else m for m in LABEL_METHODS])
def test_probabilities_are_valid_multiclass(
    method: str, class_rules: RuleSet, classes: pd.DataFrame
) -> None:
    """Every method gives (rows, classes) probabilities that sum to 1 per row."""
    votes = lfkit.apply_rules(class_rules, classes)
    probs = fit_label_model(
        class_rules, votes, classes["tag"].tolist(), method=method
    ).fitted_proba()
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
    ).fitted_proba()
    assert probs.shape == (len(projects), len(tag_rules.labels))
    assert ((probs >= 0) & (probs <= 1)).all()


def test_naive_bayes_is_leave_one_out(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Changing one row's labels leaves that row's own probabilities unchanged."""
    votes = lfkit.apply_rules(tag_rules, projects)
    tags = projects["tags"].tolist()
    row = next(i for i, t in enumerate(tags) if "computer-vision" in t and "pytorch" in t)
    before = fit_label_model(tag_rules, votes, tags, method="naive-bayes").fitted_proba()
    changed = list(tags)
    changed[row] = [t for t in tags[row] if t != "pytorch"] + ["tensorflow"]
    after = fit_label_model(tag_rules, votes, changed, method="naive-bayes").fitted_proba()
    labels = list(tag_rules.labels)
    for label in ("pytorch", "tensorflow"):
        column = labels.index(label)
        assert after[row, column] == pytest.approx(before[row, column], rel=1e-9)
    other = next(i for i, t in enumerate(tags) if "pytorch" in t and i != row)
    assert after[other, labels.index("pytorch")] != before[other, labels.index("pytorch")]


def test_naive_bayes_learns_rule_reliability(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Rows where a precise rule fires get a far higher probability than rows where none does."""
    votes = lfkit.apply_rules(tag_rules, projects)
    probs = fit_label_model(
        tag_rules, votes, projects["tags"].tolist(), method="naive-bayes"
    ).fitted_proba()
    column = tag_rules.rule_names.index("pytorch:alias")
    fired = votes.fired.toarray()[:, column]
    pytorch = probs[:, list(tag_rules.labels).index("pytorch")]
    assert pytorch[fired].mean() > 0.7 > 0.1 > pytorch[~fired].mean()


def test_unknown_label_model(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """An unknown method name is an lfkit error listing the choices."""
    votes = lfkit.apply_rules(class_rules, classes)
    with pytest.raises(LfkitError, match="auto, naive-bayes, em, snorkel, majority"):
        fit_label_model(class_rules, votes, classes["tag"].tolist(), method="magic")


def test_neighbours_never_count_a_row_itself(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """A duplicated text finds its twin, and a row's own label does not change its estimate."""
    texts = (classes["title"] + " " + classes["description"]).tolist()
    vectors = fit_text_vectors(texts).transform(texts)
    own = np.arange(len(texts))
    y = given_matrix(class_rules, classes["tag"].tolist())
    probs = build_neighbours(vectors, y, exclusive=True).predict_proba(vectors, y, own)
    flipped = classes["tag"].tolist()
    flipped[0] = next(c for c in class_rules.labels if c != flipped[0])
    y_flipped = given_matrix(class_rules, flipped)
    again = build_neighbours(vectors, y_flipped, exclusive=True).predict_proba(
        vectors, y_flipped, own
    )
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
    before = fit_label_model(class_rules, votes, tags, method=method).fitted_proba()
    after = fit_label_model(class_rules, votes, flipped, method=method).fitted_proba()
    np.testing.assert_allclose(after[5], before[5], rtol=1e-9)


def _split(n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[: n_rows // 2]), np.sort(order[n_rows // 2 :])


@pytest.mark.parametrize("method", ["em", "majority", SNORKEL])
def test_unlabelled_fit_predicts_held_out_classes(
    method: str, class_rules: RuleSet, classes: pd.DataFrame
) -> None:
    """Fitted without labels on one half, a model labels most voted rows of the other right."""
    train, test = _split(len(classes))
    model = fit_label_model(class_rules, classes.iloc[train], method=method)
    probs = model.predict_proba(classes.iloc[test])
    assert probs.shape == (len(test), 4)
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    votes = lfkit.apply_rules(class_rules, classes.iloc[test])
    voted = np.asarray(votes.fired.sum(axis=1)).ravel() > 0
    truth = np.array([class_rules.labels.index(t) for t in classes["tag"].iloc[test]])
    assert (probs.argmax(axis=1)[voted] == truth[voted]).mean() > 0.9


def test_em_beats_majority_on_held_out_classes(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """The one-coin EM resolves conflicting votes better than counting them (4-class data)."""
    train, test = _split(len(classes), seed=1)
    votes = lfkit.apply_rules(class_rules, classes.iloc[test])
    voted = np.asarray(votes.fired.sum(axis=1)).ravel() > 0
    truth = np.array([class_rules.labels.index(t) for t in classes["tag"].iloc[test]])
    accuracy = {}
    for method in ("em", "majority"):
        model = fit_label_model(class_rules, classes.iloc[train], method=method)
        accuracy[method] = (model.predict_proba(votes).argmax(axis=1) == truth)[voted].mean()
    assert accuracy["em"] > accuracy["majority"]


def test_naive_bayes_predicts_new_tags(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Fitted with labels on one half, naive Bayes tags the other half; pytorch mostly right."""
    train, test = _split(len(projects))
    given = projects["tags"].iloc[train].tolist()
    model = fit_label_model(tag_rules, projects.iloc[train], given, method="naive-bayes")
    probs = model.predict_proba(projects.iloc[test])
    assert probs.shape == (len(test), len(tag_rules.labels))
    assert ((probs >= 0) & (probs <= 1)).all()
    column = list(tag_rules.labels).index("pytorch")
    has = np.array(["pytorch" in tags for tags in projects["tags"].iloc[test]])
    predicted = probs[:, column] >= 0.5
    assert (predicted & has).sum() / predicted.sum() > 0.7


@pytest.mark.parametrize("method", ["naive-bayes", "em", "majority", SNORKEL])
def test_saved_model_predicts_the_same(
    method: str, class_rules: RuleSet, classes: pd.DataFrame, tmp_path: Path
) -> None:
    """A model saved and loaded gives identical probabilities on new rows."""
    train, test = _split(len(classes))
    given = classes["tag"].iloc[train].tolist() if method == "naive-bayes" else None
    model = fit_label_model(class_rules, classes.iloc[train], given, method=method)
    model.save(tmp_path / "model.json")
    loaded = lfkit.load_label_model(tmp_path / "model.json", class_rules)
    assert loaded.method == method
    np.testing.assert_array_equal(
        loaded.predict_proba(classes.iloc[test]), model.predict_proba(classes.iloc[test])
    )


@pytest.mark.parametrize("method", ["naive-bayes", "em", SNORKEL])
def test_saved_tag_model_predicts_the_same(
    method: str, tag_rules: RuleSet, projects: pd.DataFrame, tmp_path: Path
) -> None:
    """Multilabel models (per-tag Snorkel models included) survive a save/load round trip."""
    given = projects["tags"].tolist() if method == "naive-bayes" else None
    votes = lfkit.apply_rules(tag_rules, projects)
    model = fit_label_model(tag_rules, votes, given, method=method)
    model.save(tmp_path / "model.json")
    loaded = lfkit.load_label_model(tmp_path / "model.json", tag_rules)
    np.testing.assert_array_equal(loaded.predict_proba(votes), model.predict_proba(votes))


def test_saved_model_refuses_other_rules(
    class_rules: RuleSet, classes: pd.DataFrame, tmp_path: Path
) -> None:
    """A model file loaded with a rule set of other rules is refused, naming the difference."""
    fit_label_model(class_rules, classes, method="em").save(tmp_path / "model.json")
    fewer = dataclasses.replace(class_rules, rules=class_rules.rules[1:])
    with pytest.raises(LfkitError, match="fitted on another rule set.*cv-images"):
        lfkit.load_label_model(tmp_path / "model.json", fewer)


def test_load_refuses_a_file_that_is_not_a_model(class_rules: RuleSet, tmp_path: Path) -> None:
    """Loading a file that is not a saved model says so."""
    path = tmp_path / "model.json"
    path.write_text('{"weights": [1, 2]}', encoding="utf-8")
    with pytest.raises(LfkitError, match="not an lfkit label model"):
        lfkit.load_label_model(path, class_rules)


def test_naive_bayes_needs_labels(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """Asking naive Bayes to learn without labels names the methods that can."""
    with pytest.raises(LfkitError, match="method='em' or method='snorkel'"):
        fit_label_model(class_rules, classes, method="naive-bayes")


def test_auto_picks_by_task_and_labels(
    class_rules: RuleSet, classes: pd.DataFrame, tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """`auto`: classes, naive Bayes with labels and EM without; tags, majority vote."""
    assert fit_label_model(class_rules, classes, classes["tag"].tolist()).method == "naive-bayes"
    assert fit_label_model(class_rules, classes).method == "em"
    assert fit_label_model(tag_rules, projects, projects["tags"].tolist()).method == "majority"


def test_loaded_model_has_no_fitted_rows(
    class_rules: RuleSet, classes: pd.DataFrame, tmp_path: Path
) -> None:
    """fitted_proba on a loaded model is refused with a hint to predict_proba."""
    fit_label_model(class_rules, classes, method="majority").save(tmp_path / "m.json")
    with pytest.raises(LfkitError, match="predict_proba"):
        lfkit.load_label_model(tmp_path / "m.json", class_rules).fitted_proba()


def test_predict_refuses_votes_of_other_rules(
    class_rules: RuleSet, tag_rules: RuleSet, classes: pd.DataFrame, projects: pd.DataFrame
) -> None:
    """Votes with another number of rule columns are refused, not silently misread."""
    model = fit_label_model(class_rules, classes, method="majority")
    with pytest.raises(LfkitError, match="rules"):
        model.predict_proba(lfkit.apply_rules(tag_rules, projects))
