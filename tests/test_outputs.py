"""Audit outputs: evidence spans, flag records and their fast writer, on the bundled data."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lfkit._types import MATCH_MODES
from lfkit.audit.evidence import rule_matches
from lfkit.audit.flags import Candidates, Flags
from lfkit.audit.suspects import KINDS, AuditReport, audit_labels
from lfkit.cli import app
from lfkit.data import read_data
from lfkit.engine.apply import apply_rules
from lfkit.errors import OutputError
from lfkit.report.records import _numbers, _percents, render_jsonl
from lfkit.report.render import render_report, report_chunks, write_report
from lfkit.rules.patterns import (
    MAX_SPANS,
    _keyword_group,
    compile_regex,
    keyword_regex,
    match_spans,
)
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.text import as_text
from tests.conftest import CLASS_RULES, EXAMPLES


def test_match_spans_on_ascii_text_equal_the_unicode_regex(
    tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """The ASCII variant finds exactly the spans of the rule's own regex on ASCII text."""
    rng = np.random.default_rng(0)
    regexes = sorted({regex for rule in tag_rules.rules for regex in rule.regexes})
    chosen = [regexes[i] for i in rng.choice(len(regexes), 40, replace=False)]
    texts = [as_text(t) for t in projects["title"].tolist() + projects["description"].tolist()]
    texts = [text for text in texts if text.isascii()]
    found = 0
    for regex in chosen:
        for text in texts:
            spans = match_spans(regex, text)
            assert spans == _own_spans(regex, text), (regex, text)
            found += bool(spans)
    assert found > 20, "the sample should hit some texts"


def _own_spans(pattern: str, text: str) -> list[tuple[int, int]]:
    """The spans of the regex itself (Unicode word boundaries), as evidence showed them."""
    regex = compile_regex(pattern)
    group = _keyword_group(pattern) if regex.groups else 0
    spans = []
    for match in regex.finditer(text):
        start, end = match.span(group)
        spans.append((start, end) if start >= 0 else match.span())
    return spans[:MAX_SPANS]


_PIECES = ["a", "b", "ab", "Ab", "c++", "q&a", "x-y", "é", "ſ", "\u212a", "k", "s", "x_y", "1"]
_TEXT_CHARS = "abcABCksK \t-_+&.,!0١é\u00dfſ\u212a\u00a0\u2014\u0301😀ӓ日"


@settings(max_examples=150, deadline=None)
@example(keyword="ask", match="word", case_sensitive=False, text="aſk, as\u212a; ask")
@example(keyword="ask", match="prefix", case_sensitive=True, text="aſking as\u212a ask")
@given(
    keyword=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=3).map(" ".join),
    match=st.sampled_from(MATCH_MODES),
    case_sensitive=st.booleans(),
    text=st.text(alphabet=_TEXT_CHARS, max_size=30),
)
def test_match_spans_equal_the_regex_on_any_text(
    keyword: str, match: str, case_sensitive: bool, text: str
) -> None:
    """Keyword regexes find their own spans on mixed Unicode text (ſ and the Kelvin sign fold)."""
    pattern = keyword_regex(keyword, case_sensitive=case_sensitive, match=match)
    assert match_spans(pattern, text) == _own_spans(pattern, text)


# --- flags on demand and their records ---------------------------------------------------------

ROWS = 60
"""Rows of the projects audited with --min-score 0 (400 labels: 24,000 records)."""


@pytest.fixture(scope="module")
def every_pair(tag_rules: RuleSet) -> tuple[pd.DataFrame, AuditReport]:
    """The first ROWS projects and their audit with every (row, label) pair flagged."""
    df = read_data(EXAMPLES / "projects.json", tag_rules.task).head(ROWS)
    return df, audit_labels(tag_rules, df, min_score=0.0)


@pytest.fixture(scope="module")
def class_report(class_rules: RuleSet) -> tuple[pd.DataFrame, AuditReport]:
    """The 4-class data and its audit with every row flagged."""
    df = read_data(EXAMPLES / "dataset.csv", class_rules.task)
    return df, audit_labels(class_rules, df, min_score=0.0)


def _slow_jsonl(report: AuditReport) -> str:
    """The records as each Flag object writes its own (the reference)."""
    records = [flag.to_dict() for flag in report.flags]
    records += [finding.to_dict() for finding in report.findings]
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


@pytest.mark.parametrize("audited", ["every_pair", "class_report"])
def test_jsonl_records_equal_each_flags_own_record(
    audited: str, request: pytest.FixtureRequest
) -> None:
    """Written from columns, every record is byte for byte the Flag's `to_dict` record."""
    _, report = request.getfixturevalue(audited)
    assert isinstance(report.flags, Flags) and len(report.flags) == report.n_flags
    fast = render_jsonl(report)
    assert fast == _slow_jsonl(report)
    kinds = {json.loads(line)["kind"] for line in fast.splitlines()}
    assert kinds >= {"spurious"}


def test_every_pair_flag_shows_its_rows_evidence(
    tag_rules: RuleSet, every_pair: tuple[pd.DataFrame, AuditReport]
) -> None:
    """Each flag's id, given labels, text and rule matches are those of its row in the data."""
    df, report = every_pair
    assert len(report.flags) >= ROWS * len(tag_rules.labels)
    votes = apply_rules(tag_rules, df)
    speaks = tag_rules.speaks_matrix.toarray() > 0
    positions = np.random.default_rng(0).choice(len(report.flags), 300, replace=False)
    chosen = [report.flags[int(i)] for i in positions]
    chosen += [flag for flag in report.flags[:2000] if flag.rules_for or flag.children][:100]
    for flag in chosen:
        row = flag.row
        label = tag_rules.labels.index(flag.label)
        record = {column: df.at[row, column] for column in tag_rules.task.text_columns}
        fired = [tag_rules.rules[c] for c in votes.fired[[row]].indices if speaks[label, c]]
        assert flag.id == df.at[row, "id"]
        assert set(flag.given) == set(df.at[row, "tags"]) & set(tag_rules.labels)
        assert flag.texts == {column: as_text(value) for column, value in record.items()}
        assert flag.rules_for == rule_matches([r for r in fired if r.positive], record)
        assert flag.rules_against == rule_matches([r for r in fired if not r.positive], record)
        assert (flag.kind == "spurious") == (flag.label in flag.given)
        assert set(flag.children) <= set(flag.given)


def test_flags_behave_as_a_tuple(every_pair: tuple[pd.DataFrame, AuditReport]) -> None:
    """Length, indexing, slices, iteration, equality and pickling as for a tuple of flags."""
    _, report = every_pair
    flags = report.flags
    first = flags[:5]
    assert isinstance(first, Flags) and first == tuple(flags[i] for i in range(5))
    assert flags[-1] == flags[len(flags) - 1] and flags[0] == next(iter(flags))
    with pytest.raises(IndexError):
        flags[len(flags)]
    scores = [flag.score for flag in flags[:3000]]
    assert scores == sorted(scores, reverse=True)
    assert flags == tuple(flags) and flags != first
    assert pickle.loads(pickle.dumps(flags)) == flags
    assert repr(flags).startswith(f"<{len(flags):,} flags")


def test_candidates_rank_by_score_then_row_label_and_kind() -> None:
    """`ranked` orders like sorting (-score, row, label, kind name) tuples, and cuts at top."""
    rng = np.random.default_rng(1)
    n = 500
    score = rng.choice([0.0, 0.25, 0.5, 1.0], n)
    row, label = rng.integers(0, 20, n), rng.integers(0, 3, n)
    kind = rng.integers(0, len(KINDS), n)
    found = Candidates.build(
        score, row, label, kind, probability=score, rule_probability=score,
        neighbour_probability=None, classifier_probability=score,
    )  # fmt: skip
    expected = sorted(range(n), key=lambda i: (-score[i], row[i], label[i], KINDS[kind[i]], i))
    ranked = found.ranked(50)
    assert len(ranked) == 50
    assert ranked.row.tolist() == [row[i] for i in expected[:50]]
    assert ranked.kind.tolist() == [kind[i] for i in expected[:50]]
    halves = Candidates.concat([found.take(slice(0, 200)), found.take(slice(200, n))])
    assert halves.ranked().score.tolist() == found.ranked().score.tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=50))
def test_numbers_and_percents_format_as_python_does(values: list[float]) -> None:
    """Rounded numbers and percentages, column by column, as `round` and `:.0%` give them."""
    column = np.array(values + [0.5e-6, 2.5e-6, 0.0000125, 1e-7, -0.0, 0.005, 0.015, 1.0])
    assert _numbers(column) == [json.dumps(round(v, 6)) for v in column.tolist()]
    assert _percents(column) == [f"{v:.0%}" for v in column.tolist()]


def test_write_report_streams_the_same_records_atomically(
    tmp_path: Path, every_pair: tuple[pd.DataFrame, AuditReport]
) -> None:
    """The file holds exactly `render_report`'s text; an existing file needs force."""
    _, report = every_pair
    out = tmp_path / "flags.jsonl"
    write_report(report, out, fmt="jsonl")
    assert out.read_text("utf-8") == render_report(report, fmt="jsonl")
    with pytest.raises(OutputError, match="already exists"):
        write_report(report, out, fmt="jsonl")
    write_report(report, out, fmt="csv", force=True)
    assert out.read_text("utf-8") == render_report(report, fmt="csv")
    chunks = list(report_chunks(report, fmt="jsonl"))
    assert len(chunks) > 1 and "".join(chunks) == render_report(report, fmt="jsonl")


def test_audit_records_write_integer_classes_as_numbers(tmp_path: Path) -> None:
    """With classes 0..3 in rules and data, audit records hold numbers, as `lfkit label` does."""
    rules = tmp_path / "rules"
    rules.mkdir()
    names = ["computer-vision", "natural-language-processing", "mlops", "other"]
    for path in CLASS_RULES.glob("*.yaml"):
        text = path.read_text("utf-8")
        for number, name in enumerate(names):
            text = text.replace(f"label: {name}\n", f"label: {number}\n")
            text = text.replace(f"\n  {name}:\n", f"\n  {number}:\n")
        (rules / path.name).write_text(text, "utf-8")
    frame = pd.read_csv(EXAMPLES / "dataset.csv")
    frame["tag"] = frame["tag"].map(names.index)
    data = tmp_path / "classes.json"
    data.write_text(frame.to_json(orient="records"), "utf-8")
    out, labelled = tmp_path / "flags.jsonl", tmp_path / "labelled.jsonl"
    runner = CliRunner()
    for args in (
        [
            "audit",
            str(data),
            "-r",
            str(rules),
            "-f",
            "jsonl",
            "-o",
            str(out),
            "--top",
            "40",
            "--min-score",
            "0.01",
        ],
        ["label", str(data), "-r", str(rules), "-o", str(labelled)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(records) == 40
    for record in records:
        evidence = record["evidence"]
        assert record["label"] in range(4) and evidence["suggestion"] in range(4)
        assert evidence["given"] == [record["label"]]
    predicted = [json.loads(line)["predicted"] for line in labelled.read_text().splitlines()]
    assert {type(value) for value in predicted if value is not None} == {int}
