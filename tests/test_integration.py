"""The commands chained as a new user runs them, on the bundled data and hand-written files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import CLASS_RULES, EXAMPLES, write_rules
from typer.testing import CliRunner

from lfkit.audit.suspects import AuditReport, audit_labels
from lfkit.cli import app
from lfkit.data import read_data
from lfkit.review.decisions import read_decisions
from lfkit.review.memory import leave_out_decided
from lfkit.rules.ruleset import RuleSet


@pytest.fixture(scope="module")
def class_report(class_rules: RuleSet) -> AuditReport:
    """The audit of the 4-class data (rules and classifier, no neighbours)."""
    df = read_data(EXAMPLES / "dataset.csv", class_rules.task)
    return audit_labels(class_rules, df, neighbours=False, min_score=0.0)


def _write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_hand_written_reject_without_rules_stays_out(
    class_report: AuditReport, tmp_path: Path
) -> None:
    """A reject written by hand without the optional 'rules' keeps its flag out of a re-audit."""
    flag = class_report.flags[0]
    log = _write_jsonl(
        tmp_path / "decisions.jsonl",
        [{"id": int(flag.id), "label": flag.label, "kind": flag.kind, "decision": "reject"}],
    )
    report, left_out = leave_out_decided(class_report, read_decisions(log))
    assert left_out == 1
    assert (flag.id, flag.label) not in {(f.id, f.label) for f in report.flags}


def test_fix_change_line_without_score_or_source(tmp_path: Path) -> None:
    """fix's change lines stay readable when a hand-written decision has no score or source."""
    log = _write_jsonl(
        tmp_path / "decisions.jsonl",
        [
            {"id": 783, "label": "natural-language-processing", "kind": "spurious"}
            | {"decision": "accept", "value": "computer-vision"}
        ],
    )
    out = tmp_path / "fixed.csv"
    args = ["fix", str(EXAMPLES / "dataset.csv"), "--rules", str(CLASS_RULES)]
    result = CliRunner().invoke(app, [*args, "--decisions", str(log), "--out", str(out)])
    assert result.exit_code == 0, result.output
    line = next(text for text in result.output.splitlines() if text.startswith("id 783:"))
    assert line.endswith("(accept spurious 'natural-language-processing')")


def test_fix_takes_integer_classes_as_json_numbers(tmp_path: Path) -> None:
    """With integer class names (labels 0 and 1), a decision may write them as JSON numbers."""
    rules = write_rules(
        tmp_path,
        "labels: {0: {match_name: false}, 1: {match_name: false}}\n"
        "rules:\n  - {name: spam-link, label: 1, keywords: [http], match: substring}\n",
        task="task: {kind: multiclass, text_columns: [text], label_column: label}",
    )
    data = _write_jsonl(
        tmp_path / "comments.jsonl",
        [
            {"id": 1, "text": "great song", "label": 0},
            {"id": 2, "text": "see http://x", "label": 0},
        ],
    )
    log = _write_jsonl(
        tmp_path / "decisions.jsonl",
        [{"id": 2, "label": 0, "kind": "spurious", "decision": "accept", "value": 1}],
    )
    out = tmp_path / "fixed.jsonl"
    args = ["fix", str(data), "--rules", str(rules), "--decisions", str(log), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["label"] for row in rows] == [0, 1]


def test_slices_names_the_predictions_file_it_needs(tmp_path: Path) -> None:
    """Passing the data itself as --predictions says a predictions table is needed."""
    data = str(EXAMPLES / "dataset.csv")
    args = ["slices", data, "--rules", str(CLASS_RULES), "--predictions", data]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "column 'predicted' is not in the predictions" in result.output
    assert "as `lfkit label` writes it" in result.output


def test_next_reason_on_data_without_labels(class_rules: RuleSet) -> None:
    """With no labelled row yet, next's reasons say a rule fired on no labelled row."""
    from lfkit.assist.next import rows_to_label

    df = read_data(EXAMPLES / "dataset.csv", class_rules.task, labels=False)
    reasons = [pick.reason for pick in rows_to_label(class_rules, df, n=5)]
    assert not any("only 0 " in reason for reason in reasons), reasons
    assert any("fired on no labelled row" in reason for reason in reasons), reasons


def test_audit_names_an_empty_class_cell(tmp_path: Path) -> None:
    """Auditing a 4-class file whose label column is empty says so (not 'got nan')."""
    df = pd.read_csv(EXAMPLES / "dataset.csv")
    df["tag"] = ""
    data = tmp_path / "unlabelled.csv"
    df.to_csv(data, index=False)
    result = CliRunner().invoke(app, ["audit", str(data), "--rules", str(CLASS_RULES)])
    assert result.exit_code == 1
    assert "row 1 (id 6), column 'tag': expected one class name, got an empty cell" in (
        result.output
    )
    assert "nan" not in result.output
