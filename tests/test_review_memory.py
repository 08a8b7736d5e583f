"""Re-audit with memory: decided flags stay out, a rejected one returns when its rules change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, TAG_RULES
from typer.testing import CliRunner

import lfkit
from lfkit.audit.suspects import AuditReport, audit_labels
from lfkit.cli import app
from lfkit.data import read_data
from lfkit.review.decisions import Decision, append_decision, decision_for, read_decisions
from lfkit.review.fix import apply_decisions
from lfkit.review.memory import audit_with_decisions, leave_out_decided
from lfkit.rules.ruleset import RuleSet


def _reaudit(ruleset: RuleSet, data: Path, decisions: Path) -> tuple[AuditReport, int]:
    """Audit the labels as corrected by the decisions, decided flags left out."""
    df = read_data(data, ruleset.task)
    report, left_out, _ = audit_with_decisions(
        ruleset, df, read_decisions(decisions), neighbours=False
    )
    return report, left_out


@pytest.fixture(scope="module")
def first(tag_rules: RuleSet) -> AuditReport:
    """The first audit of the projects' tags (no decisions yet)."""
    df = read_data(EXAMPLES / "projects.json", tag_rules.task)
    return audit_labels(tag_rules, df, neighbours=False)


@pytest.fixture(scope="module")
def decided(first: AuditReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Accept the top 6 flags and reject the next 6."""
    path = tmp_path_factory.mktemp("memory") / "decisions.jsonl"
    for rank, flag in enumerate(first.flags[:12]):
        append_decision(path, decision_for(flag, "accept" if rank < 6 else "reject"))
    return path


def test_reaudit_leaves_decided_flags_out(
    tag_rules: RuleSet, first: AuditReport, decided: Path
) -> None:
    """No decided (id, label) comes back; the count says how many were left out."""
    report, left_out = _reaudit(tag_rules, EXAMPLES / "projects.json", decided)
    keys = set(read_decisions(decided))
    assert not keys & {(str(flag.id), flag.label) for flag in report.flags}
    assert left_out >= 6  # the rejected ones are still flagged on unchanged evidence
    assert report.n_flags == len(report.flags) < first.n_flags


def test_reaudit_audits_the_corrected_labels(tag_rules: RuleSet, decided: Path) -> None:
    """Accepted flags are applied before auditing: those rows carry the accepted tags."""
    decisions = read_decisions(decided)
    df = read_data(EXAMPLES / "projects.json", tag_rules.task)
    fixed = apply_decisions(tag_rules, df, decisions)
    rows = dict(zip(fixed["id"].astype(str), fixed["tags"], strict=True))
    for (row_id, label), decision in decisions.items():
        if decision.decision == "accept" and decision.kind != "spurious":
            assert label in rows[row_id]


@pytest.mark.slow
def test_reaudit_brings_a_rejected_flag_back_when_a_rule_changes(
    tmp_path: Path, tag_rules: RuleSet, first: AuditReport
) -> None:
    """A new rule firing for a rejected flag's label reopens the flag; without it, it stays out."""
    flag = next(f for f in first.flags if f.kind == "missing" and f.rules_for)
    log = tmp_path / "decisions.jsonl"
    append_decision(log, decision_for(flag, "reject"))
    data = EXAMPLES / "projects.json"
    report, _ = _reaudit(tag_rules, data, log)
    assert (flag.id, flag.label) not in {(f.id, f.label) for f in report.flags}

    rules = tmp_path / "rules"
    shutil.copytree(TAG_RULES, rules)
    title = flag.texts["title"]
    new_rule = {"name": "reviewer-added", "label": flag.label, "keywords": [title]}
    (rules / "added.yaml").write_text(json.dumps({"rules": [new_rule]}), encoding="utf-8")
    changed = lfkit.load_rules(rules)
    report, _ = _reaudit(changed, data, log)
    back = [f for f in report.flags if (f.id, f.label) == (flag.id, flag.label)]
    assert back and "reviewer-added" in {match.rule for match in back[0].rules_for}


def test_reaudit_multiclass_leaves_the_whole_row_out(tmp_path: Path, class_rules: RuleSet) -> None:
    """Multiclass: a row has one flag (its class is wrong); a decision on it leaves the row out."""
    df = read_data(EXAMPLES / "dataset.csv", class_rules.task)
    report = audit_labels(class_rules, df, neighbours=False, min_score=0.1)
    ids = [flag.id for flag in report.flags]
    assert len(ids) == len(set(ids))
    decision = decision_for(report.flags[0], "reject")
    kept, left_out = leave_out_decided(report, {decision.key: decision})
    assert report.flags[0].id not in {flag.id for flag in kept.flags}
    assert left_out == 1


def test_cli_audit_decisions_says_how_many_were_left_out(tmp_path: Path, decided: Path) -> None:
    """`lfkit audit --decisions` prints the left-out count; its JSON has no decided flag."""
    out = tmp_path / "flags.jsonl"
    args = ["audit", str(EXAMPLES / "projects.json"), "-r", str(TAG_RULES), "--no-neighbours"]
    result = CliRunner().invoke(
        app, [*args, "-f", "jsonl", "-o", str(out), "--decisions", str(decided), "--top", "30"]
    )
    assert result.exit_code == 0, result.output
    assert "flags already decided in" in result.stderr and "left out" in result.stderr
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    flags = [record for record in records if record["type"] == "flag"]
    assert len(flags) == 30
    keys = set(read_decisions(decided))
    assert not keys & {(str(flag["id"]), flag["label"]) for flag in flags}


def test_cli_audit_decisions_refuses_a_bad_log(tmp_path: Path) -> None:
    """A decisions record about an unknown id stops the audit with its line."""
    log = tmp_path / "d.jsonl"
    append_decision(log, Decision(987_654, "pytorch", "missing", "accept"))
    args = ["audit", str(EXAMPLES / "projects.json"), "-r", str(TAG_RULES)]
    result = CliRunner().invoke(app, [*args, "--decisions", str(log)])
    assert result.exit_code == 1
    assert "line 1: id 987654 is not in" in result.stderr
