"""The audit: planted noise is found, flags carry evidence, taxonomy gaps are flagged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lfkit import DataError
from lfkit.audit.analysis import analyze_rules
from lfkit.audit.suspects import audit_labels
from lfkit.data import check_frame
from lfkit.engine.apply import apply_rules
from lfkit.report.render import render_report
from lfkit.rules.ruleset import RuleSet


def test_audit_finds_planted_class_flips(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """Most of a seeded 5% of flipped classes rank among the top flags."""
    rng = np.random.default_rng(7)
    noisy = classes.copy()
    flipped = rng.choice(len(noisy), int(0.05 * len(noisy)), replace=False)
    for row in flipped:
        noisy.loc[row, "tag"] = rng.choice(
            [c for c in class_rules.labels if c != noisy.loc[row, "tag"]]
        )
    report = audit_labels(class_rules, noisy, min_score=0.0)
    spurious = [flag.id for flag in report.flags if flag.kind == "spurious"]
    top = set(spurious[: 2 * len(flipped)])
    found = len(top & set(noisy.loc[flipped, "id"]))
    assert found >= 0.6 * len(flipped)


@pytest.mark.slow
def test_audit_finds_planted_missing_tags(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Most of a seeded 5% of removed taxonomy tags are flagged missing near the top."""
    rng = np.random.default_rng(3)
    labels = set(tag_rules.labels)
    pairs = [
        (row, tag) for row, tags in enumerate(projects["tags"]) for tag in tags if tag in labels
    ]
    removed = {pairs[i] for i in rng.choice(len(pairs), len(pairs) // 20, replace=False)}
    noisy = projects.assign(
        tags=[
            [t for t in tags if (row, t) not in removed]
            for row, tags in enumerate(projects["tags"])
        ]
    )
    report = audit_labels(tag_rules, noisy, min_score=0.0, top=4 * len(removed))
    flagged = {(flag.row, flag.label) for flag in report.flags if flag.kind != "spurious"}
    assert len(flagged & removed) >= 0.35 * len(removed)
    random_rate = len(removed) / (len(projects) * len(labels))
    assert len(flagged & removed) / len(report.flags) > 50 * random_rate


def test_flags_carry_evidence_with_spans(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Each shown flag is ranked, scored in [0, 1], and its spans point at the matched text."""
    report = audit_labels(tag_rules, projects, top=30)
    scores = [flag.score for flag in report.flags]
    assert scores == sorted(scores, reverse=True) and all(0.5 <= s <= 1 for s in scores)
    spans = [
        (flag, field, start, end)
        for flag in report.flags
        for match in flag.rules_for
        for field, start, end in match.spans
    ]
    assert spans
    for flag, field, start, end in spans:
        assert 0 <= start < end <= len(flag.texts[field])
    record = report.flags[0].to_dict()
    assert {"id", "label", "kind", "score", "evidence"} <= set(record)
    json.dumps(record)


def test_child_without_parent_is_flagged(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Real rows with tensorflow-js but not tensorflow get a missing-parent flag."""
    report = audit_labels(tag_rules, projects)
    gaps = {
        flag.id
        for flag in report.flags
        if flag.kind == "missing-parent" and flag.label == "tensorflow"
    }
    expected = {
        row.id
        for row in projects.itertuples()
        if {"tensorflow-js", "tensorflow-lite"} & set(row.tags) and "tensorflow" not in row.tags
    }
    assert expected and len(gaps & expected) >= len(expected) // 2


def test_multiclass_flags_come_in_pairs(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """A mislabelled row is a spurious flag for its class and, when confident, a missing one
    for the suggested class; flags are ranked by score."""
    report = audit_labels(class_rules, classes)
    scores = [flag.score for flag in report.flags]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.5
    spurious = {flag.id: flag for flag in report.flags if flag.kind == "spurious"}
    missing = [flag for flag in report.flags if flag.kind == "missing"]
    assert spurious and missing
    for flag in missing:
        assert (
            spurious[flag.id].suggestion == flag.label
            and flag.suggestion == spurious[flag.id].label
        )
        assert flag.score <= spurious[flag.id].score


def test_reports_render_in_every_format(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """Table, JSON Lines, CSV and HTML all contain the top flag."""
    report = audit_labels(class_rules, classes, top=5)
    top = report.flags[0]
    for fmt in ("table", "jsonl", "csv", "html"):
        assert top.label in render_report(report, fmt=fmt)
    lines = render_report(report, fmt="jsonl").splitlines()
    assert len(lines) == 5 and json.loads(lines[0])["id"] == top.to_dict()["id"]


def test_analyze_ranks_disagreeing_rules_first(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Rule statistics are complete, in range, and ordered by disagreements."""
    df = check_frame(projects, tag_rules.task, columns=["id", "tags"], source="test")
    votes = apply_rules(tag_rules, df)
    stats = analyze_rules(tag_rules, votes, df["tags"].tolist(), df["id"].tolist())
    assert len(stats) == len(tag_rules)
    fired = [s for s in stats if s.fired]
    assert [s.disagreements for s in fired] == sorted(
        (s.disagreements for s in fired), reverse=True
    )
    assert all(0 <= s.precision <= 1 and 0 <= s.overlaps <= 1 for s in fired)
    worst = fired[0]
    assert len(worst.examples) == 3 and worst.disagreements > 10


def test_unknown_class_is_a_data_error(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """A multiclass row whose class is not a label of the rules is refused with its name."""
    df = classes.head(20).copy()
    df.loc[3, "tag"] = "robotics"
    with pytest.raises(DataError, match="classes 'robotics' in the data are not labels"):
        audit_labels(class_rules, df)


def test_tiny_data_never_inverts_rule_evidence(tag_rules: RuleSet) -> None:
    """On three rows, a tag named in its row's text is not flagged spurious."""
    df = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "title": ["Kubeflow pipelines for MLOps", "Object detection with YOLO", "A GAN"],
            "description": ["", "", ""],
            "tags": [["mlops"], ["object-detection", "computer-vision"], ["mlops"]],
        }
    )
    report = audit_labels(tag_rules, df)
    assert not [
        f for f in report.flags if f.id == 1 and f.kind == "spurious" and f.label == "mlops"
    ]
    assert report.fusion[0] >= 0 and report.fusion[1] >= 0
