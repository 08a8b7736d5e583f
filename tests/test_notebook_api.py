"""What a notebook shows: dir(lfkit), short reprs, Votes as a DataFrame with rule names, spans
of whole matches, full names and ids in tables, honest label counts."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import re2
from conftest import EXAMPLES, TAG_RULES

import lfkit
from lfkit.assist.next import NextRow, render_next
from lfkit.assist.slices import SliceMetrics, render_slices
from lfkit.assist.suggest import Suggestion, Suggestions, render_suggestions
from lfkit.audit.analysis import analyze_rules, render_analysis
from lfkit.audit.evidence import rule_matches
from lfkit.audit.suspects import AuditReport, audit_labels
from lfkit.model.em import fit_em
from lfkit.model.label import count_labels
from lfkit.model.naive_bayes import fit_naive_bayes
from lfkit.report.html import highlight
from lfkit.report.table import render_table


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


def test_label_model_parts_have_short_reprs(projects: pd.DataFrame) -> None:
    """The fitted parameters show array shapes, never the numbers (or a compiled regex)."""
    ruleset = lfkit.load_rules(TAG_RULES)
    votes = lfkit.apply_rules(ruleset, projects)
    model = lfkit.fit_label_model(ruleset, votes, projects["tags"].tolist(), method="naive-bayes")
    nb = fit_naive_bayes(ruleset, votes.fired, model._y)
    start = np.full((len(projects), len(ruleset.labels)), 0.5)
    em = fit_em(ruleset, votes.fired[:300], start[:300])
    n_labels, n_rules = len(ruleset.labels), len(ruleset.rules)
    for part, expected in (
        (model.counts, f"FeatureCounts(n_rows=2032, present=<{n_labels} float64>"),
        (nb, f"NaiveBayesLabelModel(ruleset=RuleSet(multilabel, {n_rules} rules"),
        (em, f"EmParameters(prior=<{n_labels} float64>, weights=<{n_labels}x{n_rules} float64>"),
    ):
        text = repr(part)
        assert text.startswith(expected), text
        assert len(text) < 400 and "array(" not in text and "(?i)" not in text


@pytest.fixture(scope="module")
def report(projects: pd.DataFrame) -> AuditReport:
    """A real audit of the projects, top 5 flags."""
    return audit_labels(lfkit.load_rules(TAG_RULES), projects, top=5, classifier=False)


def test_audit_report_repr_counts(report: AuditReport) -> None:
    """An AuditReport shows its counts, not its flags and their texts."""
    text = repr(report)
    assert text.startswith(f"AuditReport(multilabel, 2,032 rows, {report.n_flags:,} flags at")
    assert "top 5 held" in text and len(text) < 200


def test_flags_show_plain_ids(report: AuditReport) -> None:
    """A flag's id is a plain Python int (as in the data), so its repr has no np.int64."""
    flag = report.flags[0]
    assert type(flag.id) is int
    assert f"id={flag.id}," in repr(flag) and "np." not in repr(flag)


def test_table_shows_full_labels_and_ids(report: AuditReport) -> None:
    """Long ids and labels come out whole, in aligned columns."""
    long_id = "project-2020-0001-with-a-long-identifier"
    flags = (dataclasses.replace(report.flags[0], id=long_id), *report.flags[1:])
    lines = render_table(dataclasses.replace(report, flags=flags), width=200).splitlines()
    head = next(line for line in lines if line.lstrip().startswith("#"))
    first = next(line for line in lines if line.lstrip().startswith("1  "))
    assert long_id in first and flags[0].label in first
    assert head.index("text") == first.index(long_id) + len(long_id) + 2  # aligned
    assert all(f" {flag.label} " in "\n".join(lines) for flag in report.flags)


def test_analyze_table_shows_full_rule_and_label_names(projects: pd.DataFrame) -> None:
    """`lfkit analyze` prints every rule and label name whole, columns aligned."""
    ruleset = lfkit.load_rules(TAG_RULES)
    votes = lfkit.apply_rules(ruleset, projects)
    stats = analyze_rules(ruleset, votes, projects["tags"].tolist(), projects["id"].tolist())
    lines = render_analysis(stats, fmt="table").splitlines()
    longest = max(ruleset.rules, key=lambda rule: len(rule.name) + len(rule.label))
    assert len(longest.name) > 36
    row = next(line for line in lines if line.startswith(longest.name + " "))
    assert f" {longest.label} " in row
    column = lines[0].index("vote")
    assert all(
        line[column - 1] == " " and line[column:].split()[0] in {"vote", "positive", "negative"}
        for line in lines
    )


def test_spans_cover_the_whole_match_of_a_regex_with_groups(projects: pd.DataFrame) -> None:
    """A regex with capture groups highlights its whole match (JSON Lines and HTML), not the
    first group; a keyword's span leaves out the boundary characters."""
    ruleset = lfkit.load_rules(TAG_RULES)
    rule = ruleset.rule("r-language")  # '\\b(in|with|using|for|of) R\\b[^-]', ...
    votes = lfkit.apply_rules(ruleset, projects)
    rows = votes.fired[:, [ruleset.rule_names.index("r-language")]].nonzero()[0]
    assert len(rows)
    for row in rows:
        record = projects.iloc[row].to_dict()
        (match,) = rule_matches([rule], record)
        assert match.spans
        texts = {field: str(record[field]) for field in rule.fields}
        for found in match.to_dict(texts)["matches"]:
            text = found["text"]
            assert any(re2.fullmatch(regex, text) for regex in rule.regexes), text
        field, start, end = match.spans[0]
        marked = highlight(texts[field], [(start, end, rule.name)], [])
        assert f">{texts[field][start:end]}</mark>" in marked
    pytorch = ruleset.rule("pytorch:alias")
    (match,) = rule_matches([pytorch], {"title": "Made with PyTorch.", "description": ""})
    assert match.words({"title": "Made with PyTorch."}) == ["PyTorch"]


def test_label_counts_add_up_with_rows_below_the_threshold(projects: pd.DataFrame) -> None:
    """Labelled rows, empty abstains and rows whose votes reached no label add up to all rows,
    and the summary names the last ones."""
    ruleset = lfkit.load_rules(TAG_RULES)
    votes = lfkit.apply_rules(ruleset, projects)
    model = lfkit.fit_label_model(ruleset, votes, projects["tags"].tolist(), seed=0)
    labelled = lfkit.label_rows(model, projects, votes=votes)
    counts = count_labels(labelled, votes)
    voted = np.asarray(votes.fired.sum(axis=1)).ravel() > 0
    empty = labelled["predicted"].map(len).to_numpy() == 0
    assert counts.below_threshold == int((voted & empty).sum()) > 0
    assert counts.labelled + counts.abstains + counts.below_threshold == len(projects)
    assert f"no label reached the threshold: {counts.below_threshold:,}" in counts.summary()


def test_assist_tables_show_full_names_and_ids() -> None:
    """`lfkit next`, `suggest` and `slices` print long ids, labels, keywords and slice names
    whole, in aligned columns."""
    long_id, label = "project-2020-0001-with-a-long-identifier", "knowledge-base-question-answering"
    row = NextRow(long_id, 0, 0.9, 0.5, 0.2, 0.1, 0.0, {}, (), (), "uncertain", "some text")
    keyword = "retrieval augmented generation pipeline"
    suggestion = Suggestion(label, keyword, 0.9, 10, 12, 0.01, 11, 3, (long_id,))
    metrics = SliceMetrics(f"tag={label} and title length > 80", 40, 38, None, 0.5, 0.6, 0.55)
    for text, whole, column, value in (
        (render_next([row], fmt="table"), [long_id], "value", "0.90"),
        (
            render_suggestions(Suggestions((suggestion,), (), ()), fmt="table"),
            [label, keyword],
            "prec",
            "0.90",
        ),
        (render_slices([metrics], fmt="table"), [metrics.slice], "size", "40"),
    ):
        head, first = text.splitlines()[:2]
        assert all(f"{name} " in first for name in whole), first
        end = head.index(f" {column} ") + 1 + len(column)  # the next column lines up
        assert first[end - len(value) : end] == value, (head, first)
