"""The rule-set facts every layer reads: label index, rule -> label, taxonomy matrices, caches."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from lfkit.model.targets import base_rates, given_matrix
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.schema import Task


@pytest.mark.parametrize("which", ["tag_rules", "class_rules"])
def test_matrices_match_their_definitions(which: str, request: pytest.FixtureRequest) -> None:
    """Each matrix equals its definition, entry by entry, on the curated rules."""
    ruleset: RuleSet = request.getfixturevalue(which)
    labels, rules = ruleset.labels, ruleset.rules
    below = {label: {c for c in labels if label in ruleset.ancestors(c)} for label in labels}
    own = np.array([[rule.label == label for rule in rules] for label in labels])
    held = np.array([[c in below[a] for c in labels] for a in labels])
    voted = np.array(
        [[rule.label == label or rule.label in below[label] for rule in rules] for label in labels]
    )
    positive = np.array([rule.positive for rule in rules])
    support = voted & positive if ruleset.multilabel else own
    speaks = own | support if ruleset.multilabel else np.ones_like(own)
    assert [ruleset.label_index[rule.label] for rule in rules] == ruleset.rule_labels.tolist()
    assert np.array_equal(ruleset.rule_label_matrix.toarray() > 0, own)
    assert np.array_equal(ruleset.descendant_matrix.toarray() > 0, held)
    assert np.array_equal(ruleset.ancestor_matrix.toarray() > 0, held.T)
    assert np.array_equal(ruleset.support_matrix.toarray() > 0, support)
    assert np.array_equal(ruleset.speaks_matrix.toarray() > 0, speaks)
    if ruleset.multilabel:
        assert held.any() and (~positive).any()  # the curated tags test both branches


def test_taxonomy_matrices_grow_with_links_not_labels_squared() -> None:
    """20,000 labels under 100 parents: one entry per (ancestor, descendant) pair, built fast
    (a dense matrix would hold 400 million entries, 3.2 GB)."""
    task = Task(kind="multilabel", text_columns=("t",), label_column="tags")
    labels = tuple(f"tag{i}" for i in range(20_000))
    parents = {label: (labels[i % 100],) for i, label in enumerate(labels) if i >= 100}
    ruleset = RuleSet(task, labels, parents, ())
    matrix = ruleset.descendant_matrix
    assert matrix.shape == (20_000, 20_000)
    assert matrix.nnz == 19_900
    assert matrix[[7]].indices.tolist() == list(range(107, 20_000, 100))
    assert ruleset.ancestor_matrix[[20_000 - 1]].indices.tolist() == [99]


def test_derived_values_live_with_the_rule_set(tag_rules: RuleSet) -> None:
    """Facts and compiled forms are built once per rule set; a pickled or extended copy
    carries none of them and builds its own."""
    built: list[int] = []
    first = tag_rules.derived("test.count", lambda ruleset: built.append(1) or len(built))
    assert tag_rules.derived("test.count", lambda ruleset: 0) == first
    assert built == [1]
    assert tag_rules.rule_label_matrix is tag_rules.rule_label_matrix
    copy = pickle.loads(pickle.dumps(tag_rules))
    assert "rule_label_matrix" not in copy.__dict__
    assert copy.derived("test.count", lambda ruleset: -1) == -1
    assert (copy.rule_label_matrix != tag_rules.rule_label_matrix).nnz == 0

    def cnn(row: pd.Series) -> int:
        return 1 if "cnn" in row["title"] else -1

    extended = tag_rules.with_lfs({"computer-vision": cnn})
    assert extended.rule_label_matrix.shape == (len(tag_rules.labels), len(tag_rules) + 1)
    assert extended.rule_labels[-1] == tag_rules.label_index["computer-vision"]
    with pytest.raises(ValueError, match="read-only"):
        tag_rules.descendant_matrix.data[:] = 0.0


def test_base_rates_leave_each_row_out(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """A row's base rate of a label is the rate among the other rows: the rows holding the
    label see one fewer; multiclass (exclusive) rates sum to 1 on every row."""
    y = given_matrix(tag_rules, projects["tags"].tolist()).toarray()
    present = y.sum(axis=0)
    rates = base_rates(present, len(y), y)
    shared = base_rates(present, len(y))
    assert np.allclose(shared - rates, y / (len(y) + 1.0))
    assert np.allclose(rates[y == 0], np.broadcast_to(shared, y.shape)[y == 0])
    one_class = np.eye(3)[[0, 0, 1, 2, 2, 2]]
    exclusive = base_rates(one_class.sum(axis=0), 6, one_class, exclusive=True)
    assert np.allclose(exclusive.sum(axis=1), 1.0)
    assert exclusive[0].tolist() == pytest.approx([2 / 8, 2 / 8, 4 / 8])
