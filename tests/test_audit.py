"""The audit: planted noise is found at the default threshold, flags carry their evidence,
taxonomy gaps are findings, new labels get candidates."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lfkit import DataError
from lfkit.audit.analysis import analyze_rules
from lfkit.audit.findings import add_gaps, apply_taxonomy, collect_findings
from lfkit.audit.scores import score_labels
from lfkit.audit.suspects import AuditReport, Flag, audit_labels
from lfkit.data import check_frame
from lfkit.engine.apply import apply_rules
from lfkit.model.targets import given_matrix
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
    flagged = {(flag.row, flag.label) for flag in report.flags if flag.kind == "missing"}
    gaps = {(row, f.parent) for f in report.findings for row in f.rows}
    assert len((flagged | gaps) & removed) >= 0.35 * len(removed)
    random_rate = len(removed) / (len(projects) * len(labels))
    assert len(flagged & removed) / len(report.flags) > 50 * random_rate


def test_default_flags_catch_planted_class_flips(
    class_rules: RuleSet, classes: pd.DataFrame
) -> None:
    """At the default threshold (chosen from the data) the flags catch most of a seeded 10% of
    flipped classes, and most flags are flips: the flag set is the one to review."""
    rng = np.random.default_rng(11)
    noisy = classes.copy()
    flipped = rng.choice(len(noisy), len(noisy) // 10, replace=False)
    for row in flipped:
        noisy.loc[row, "tag"] = rng.choice(
            [c for c in class_rules.labels if c != noisy.loc[row, "tag"]]
        )
    report = audit_labels(class_rules, noisy)
    assert report.auto_threshold and 0 < report.min_score < 1
    flagged = {flag.row for flag in report.flags if flag.kind == "spurious"}
    hits = len(flagged & set(flipped))
    assert hits >= 0.5 * len(flipped) and hits >= 0.6 * len(flagged)
    assert 0.03 < report.noise["wrong"] < 0.3


@pytest.fixture(scope="module")
def tag_report(tag_rules: RuleSet, projects: pd.DataFrame) -> AuditReport:
    """The audit of the projects' real tags, every flag down to a score of 0.05."""
    return audit_labels(tag_rules, projects, min_score=0.05)


def test_flags_carry_evidence_with_spans(tag_report: AuditReport) -> None:
    """Each flag is ranked, scored in [0, 1], and its spans point at the matched text."""
    report = tag_report
    scores = [flag.score for flag in report.flags]
    assert scores == sorted(scores, reverse=True)
    assert all(report.min_score <= s <= 1 for s in scores)
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
    assert {"id", "label", "kind", "score", "evidence", "why"} <= set(record)
    assert record["type"] == "flag" and record["why"] == report.flags[0].reasons()
    json.dumps(record)


def test_child_without_parent_is_one_finding(
    tag_report: AuditReport, projects: pd.DataFrame
) -> None:
    """Real rows with tensorflow-js but not tensorflow are one finding with their ids and two
    fixes, not row flags (among all flags down to 0.05, so none in the top flags either)."""
    report = tag_report
    (finding,) = [
        f for f in report.findings if (f.child, f.parent) == ("tensorflow-js", "tensorflow")
    ]
    expected = {
        row.id
        for row in projects.itertuples()
        if "tensorflow-js" in row.tags and "tensorflow" not in row.tags
    }
    assert set(finding.ids) == expected and finding.count == len(expected)
    record = finding.to_dict()
    assert record["type"] == "finding" and record["kind"] == "missing-parent"
    assert len(record["fixes"]) == 2 and "taxonomy" in record["fixes"][1]
    assert {flag.kind for flag in report.flags} <= {"missing", "spurious", "candidate"}
    assert not [f for f in report.flags if f.label == "tensorflow" and f.id in expected]
    gaps = {(row_id, f.parent) for f in report.findings for row_id in f.ids}
    assert not [f for f in report.flags if (f.id, f.label) in gaps]


def test_findings_are_the_real_gaps_largest_first(
    tag_report: AuditReport, tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """The real tags have five child-without-parent gaps, largest first; each finding is
    exactly the rows with the child and not the parent, its score the mean P(child right) of
    those rows, and its record names child, parent, ids and the two fixes ('this row' for one
    row)."""
    findings = tag_report.findings
    assert [(f.child, f.parent, f.count) for f in findings] == [
        ("random-forests", "decision-trees", 12),
        ("tensorflow-js", "tensorflow", 9),
        ("music-generation", "audio-generation", 8),
        ("tensorflow-lite", "tensorflow", 3),
        ("knowledge-base-question-answering", "question-answering", 1),
    ]
    scores = score_labels(tag_rules, projects, apply_rules(tag_rules, projects))
    right = 1.0 - scores.error_scores()
    for finding in findings:
        expected = [
            i
            for i, tags in enumerate(projects["tags"])
            if finding.child in tags and finding.parent not in tags
        ]
        assert list(finding.rows) == expected
        assert list(finding.ids) == projects["id"].iloc[expected].tolist()
        child = tag_rules.labels.index(finding.child)
        assert finding.score == pytest.approx(right[expected, child].mean(), abs=1e-9)
    lite, single = findings[3], findings[4]
    assert lite.to_dict() == {
        "type": "finding",
        "kind": "missing-parent",
        "child": "tensorflow-lite",
        "parent": "tensorflow",
        "label": "tensorflow",
        "count": 3,
        "score": round(lite.score, 6),
        "ids": projects["id"].iloc[list(lite.rows)].tolist(),
        "fixes": [
            "add 'tensorflow' to these 3 rows",
            "or change the taxonomy: 'tensorflow-lite' is not always a kind of 'tensorflow'",
        ],
    }
    assert single.fixes()[0] == "add 'question-answering' to this row"
    assert 0.4 < single.to_dict()["score"] == round(single.score, 6) < 0.5
    json.dumps(lite.to_dict())


def test_a_gap_of_the_first_label_is_a_finding(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """A child that is the first label of the rules ('3d') still makes a finding when its parent
    is removed from the real rows that have it (label index 0 is a child like any other)."""
    assert tag_rules.labels[0] == "3d"
    (parent,) = tag_rules.descendant_matrix[:, 0].nonzero()[0]
    given = given_matrix(tag_rules, projects["tags"].tolist()).toarray() > 0
    rows = np.nonzero(given[:, 0])[0]
    assert len(rows) > 0
    given[rows, parent] = False
    check = apply_taxonomy(tag_rules, given, np.full(given.shape, 0.25))
    gaps: dict[tuple[int, int], list[tuple[int, Any, float]]] = {}
    add_gaps(gaps, check, np.arange(len(projects)), projects["id"].tolist())
    found = [f for f in collect_findings(tag_rules, gaps) if f.child == "3d"]
    assert [(f.parent, f.rows) for f in found] == [(tag_rules.labels[parent], tuple(rows))]
    assert found[0].score == pytest.approx(0.75)


def test_parent_is_never_more_suspect_than_its_given_child(
    tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """With the taxonomy applied, a given parent is at most as suspect as its least suspect
    given descendant, and a missing parent of a given child is a gap, never a row score."""
    votes = apply_rules(tag_rules, projects)
    scores = score_labels(tag_rules, projects, votes)
    raw = scores.error_scores()
    check = apply_taxonomy(tag_rules, scores.given, raw)
    descendants = tag_rules.descendant_matrix.toarray() > 0
    y = scores.given
    compared = 0
    for parent in np.nonzero(descendants.any(axis=1))[0]:
        below = np.nonzero(descendants[parent])[0]
        held = y[:, below].any(axis=1)
        lowest = np.where(y[:, below], raw[:, below], np.inf).min(axis=1)
        both = held & y[:, parent]
        assert (check.wrong[both, parent] <= lowest[both] + 1e-12).all()
        assert (check.wrong[held & ~y[:, parent], parent] == 0).all()
        assert (check.gap_child[held & ~y[:, parent], parent] >= 0).all()
        compared += int(both.sum())
    assert compared > 100


def test_spurious_parent_flag_shows_its_children(
    tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """A flag on a given parent names the given children with their P(right), and its score
    never exceeds what they allow (planted: vision tags added to 30 language projects)."""
    nlp = [i for i, tags in enumerate(projects["tags"]) if "natural-language-processing" in tags]
    planted = set(nlp[:30])
    df = projects.assign(
        tags=[
            [*tags, "computer-vision", "object-detection"] if i in planted else tags
            for i, tags in enumerate(projects["tags"])
        ]
    )
    report = audit_labels(tag_rules, df.iloc[nlp[:400]].reset_index(drop=True), min_score=0.005)
    parents = [f for f in report.flags if f.kind == "spurious" and f.children]
    assert parents
    for flag in parents:
        assert len(flag.child_probabilities) == len(flag.children)
        assert flag.score <= 1 - max(flag.child_probabilities) + 1e-9
        assert any("taxonomy: has child" in reason for reason in flag.reasons())


def test_multiclass_gives_one_flag_per_row(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """A mislabelled row is one spurious flag for its class, naming another class as the
    suggestion; flags are ranked by score."""
    report = audit_labels(class_rules, classes, min_score=0.05)
    scores = [flag.score for flag in report.flags]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.05
    spurious = [flag for flag in report.flags if flag.kind == "spurious"]
    assert spurious and len({flag.id for flag in spurious}) == len(spurious)
    for flag in spurious:
        assert flag.suggestion in class_rules.labels and flag.suggestion != flag.label
        assert flag.given == (flag.label,)


def test_unused_label_gets_candidate_flags(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """A label no row carries is named in the summary, and rows where its rules fire become
    candidate flags for it (never missing or spurious flags)."""
    label = "scikit-learn"
    df = projects.assign(tags=[[t for t in tags if t != label] for tags in projects["tags"]])
    report = audit_labels(tag_rules, df, min_score=0.05)
    named = {name: (rows, hits) for name, rows, hits in report.new_labels}
    assert named[label][0] == 0 and named[label][1] > 10
    flags = [flag for flag in report.flags if flag.label == label]
    assert flags and {flag.kind for flag in flags} == {"candidate"}
    assert all(flag.rules_for for flag in flags)
    text = " ".join(render_report(report, fmt="table").split())
    assert f"{label} (0 rows" in text and "(1 rows" not in text
    assert any(rows == 1 for _, rows, _ in report.new_labels[:8]) == ("(1 row," in text)


def test_reasons_name_each_evidence_source() -> None:
    """The explanation says when no rule fired, and gives similar rows, classifier, taxonomy
    and the label's noise."""
    flag = Flag(
        id=1,
        row=0,
        label="deep-learning",
        kind="spurious",
        score=0.4,
        probability=0.2,
        rule_probability=0.1,
        neighbour_probability=0.3,
        given=("deep-learning", "transformers"),
        rules_for=(),
        rules_against=(),
        children=("transformers",),
        suggestion=None,
        texts={"title": "x"},
        classifier_probability=0.25,
        child_probabilities=(0.6,),
        noise=0.02,
    )
    why = "; ".join(flag.reasons())
    for phrase in (
        "no rule fired",
        "similar rows 30%",
        "classifier 25%",
        "transformers (60% right)",
        "2.0% of 'deep-learning'",
    ):
        assert phrase in why


def test_classifier_can_be_switched_off(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """Without the classifier, no flag shows classifier evidence and the fusion has no weight
    for it; with it, its weight is learned (never negative)."""
    off = audit_labels(class_rules, classes, classifier=False, min_score=0.2)
    assert "classifier" not in off.fusion and not off.classifier
    assert all(flag.classifier_probability is None for flag in off.flags)
    on = audit_labels(class_rules, classes, min_score=0.2)
    assert on.fusion["classifier"] >= 0 and on.classifier


def test_reports_render_in_every_format(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """Table, JSON Lines, CSV and HTML all contain the top flag and its explanation."""
    report = audit_labels(class_rules, classes, top=5, min_score=0.1)
    top = report.flags[0]
    for fmt in ("table", "jsonl", "csv", "html"):
        text = render_report(report, fmt=fmt)
        plain = text.replace("&quot;", '"').replace('\\"', '"')  # HTML and JSON quotes
        assert top.label in text and top.reasons()[0][:25] in plain
    lines = render_report(report, fmt="jsonl").splitlines()
    assert len(lines) == 5 and json.loads(lines[0])["id"] == top.to_dict()["id"]


def test_findings_have_their_own_records(tag_report: AuditReport) -> None:
    """JSON Lines ends with one finding record per gap; CSV rows of type 'finding' follow the
    flags; the table lists findings after the flags."""
    report, shown = tag_report, len(tag_report.flags)
    records = [json.loads(line) for line in render_report(report, fmt="jsonl").splitlines()]
    types = [record["type"] for record in records]
    assert types == ["flag"] * shown + ["finding"] * len(report.findings)
    assert records[shown]["count"] == len(records[shown]["ids"]) == report.findings[0].count
    csv_lines = render_report(report, fmt="csv").splitlines()
    assert sum(line.startswith("finding,") for line in csv_lines) == len(report.findings)
    table = render_report(report, fmt="table")
    assert table.index("Taxonomy findings") > table.index(report.flags[-1].label)


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
