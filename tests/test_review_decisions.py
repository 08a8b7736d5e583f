"""The decisions log: append, fold (undo, last wins), and bad records pinned to file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfkit.errors import DataError
from lfkit.review.decisions import Decision, append_decision, read_decisions, read_log

TIME = "2026-12-01T15:20:00+00:00"


def _decision(row_id: object = 2391, label: str = "nlp", decision: str = "accept", **kw: object):
    return Decision(row_id, label, kw.pop("kind", "missing"), decision, time=TIME, **kw)


def test_append_decision_writes_one_json_line_per_decision(tmp_path: Path) -> None:
    """Each append adds exactly one line holding the documented fields."""
    path = tmp_path / "decisions.jsonl"
    append_decision(path, _decision(score=0.991, rules=("nlp-tasks",)))
    append_decision(path, _decision("x-7", "cv", "relabel", value=("vision", "gan")))
    lines = path.read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "id": 2391,
            "label": "nlp",
            "kind": "missing",
            "decision": "accept",
            "value": None,
            "score": 0.991,
            "rules": ["nlp-tasks"],
            "source": "review",
            "time": TIME,
        },
        {
            "id": "x-7",
            "label": "cv",
            "kind": "missing",
            "decision": "relabel",
            "value": ["vision", "gan"],
            "score": None,
            "rules": None,
            "source": "review",
            "time": TIME,
        },
    ]


def test_read_log_round_trips_appended_decisions(tmp_path: Path) -> None:
    """What append writes, read_log reads back equal, in order, with its line numbers."""
    path = tmp_path / "d.jsonl"
    written = [_decision(1), _decision(2, "cv", "relabel", value=("gan",)), _decision(1, "a")]
    for decision in written:
        append_decision(path, decision)
    log = read_log(path)
    assert log == written
    assert [decision.line for decision in log] == [1, 2, 3]


def test_append_decision_starts_a_new_line_after_a_hand_edit(tmp_path: Path) -> None:
    """A file whose last line lost its newline still gets one record per line."""
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(_decision(1).to_dict()), encoding="utf-8")
    append_decision(path, _decision(2))
    assert [decision.id for decision in read_log(path)] == [1, 2]


def test_read_decisions_last_active_decision_wins(tmp_path: Path) -> None:
    """Folding keeps the latest decision per (id, label); ids match by their text."""
    path = tmp_path / "d.jsonl"
    for decision in [_decision(7, decision="reject"), _decision("7"), _decision(8, "cv")]:
        append_decision(path, decision)
    folded = read_decisions(path)
    assert list(folded) == [("7", "nlp"), ("8", "cv")]
    assert folded[("7", "nlp")].decision == "accept"


def test_read_decisions_undo_cancels_the_latest_active_decision(tmp_path: Path) -> None:
    """Undo pops one decision at a time; an undo with nothing left does nothing."""
    path = tmp_path / "d.jsonl"
    steps = ["accept", "reject", "undo"]
    for step in steps:
        append_decision(path, _decision(decision=step))
    assert read_decisions(path)[("2391", "nlp")].decision == "accept"
    append_decision(path, _decision(decision="undo"))
    assert read_decisions(path) == {}
    append_decision(path, _decision(decision="undo"))
    append_decision(path, _decision(decision="relabel", value=("cv",)))
    assert read_decisions(path)[("2391", "nlp")].value == ("cv",)


def test_read_decisions_skips_blank_lines(tmp_path: Path) -> None:
    """Blank lines are not records."""
    path = tmp_path / "d.jsonl"
    path.write_text("\n" + json.dumps(_decision().to_dict()) + "\n\n", encoding="utf-8")
    assert read_decisions(path)[("2391", "nlp")].line == 2


GOOD = {"id": 1, "label": "nlp", "kind": "missing", "decision": "accept"}
BAD_RECORDS = [
    ('{"id": 1, "label": "nlp"', "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({**GOOD, "decision": "approve"}), "'decision' must be one of"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "label"}), "'label' is missing"),
    (json.dumps({**GOOD, "id": [1]}), "'id' must be a number or a string"),
    (json.dumps({**GOOD, "id": True}), "'id' must be a number or a string"),
    (json.dumps({**GOOD, "decision": "relabel"}), "needs 'value'"),
    (json.dumps({**GOOD, "value": 3.5}), "'value' must be a label"),
    (json.dumps({**GOOD, "score": "high"}), "'score' must be a number"),
    (json.dumps({**GOOD, "rules": "nlp-tasks"}), "'rules' must be a list"),
    (json.dumps({**GOOD, "time": "yesterday"}), "'time' must be ISO 8601"),
    (json.dumps({**GOOD, "time": "2026-12-01T15:20:00"}), "needs a UTC offset"),
]


@pytest.mark.parametrize(("line", "phrase"), BAD_RECORDS)
def test_read_decisions_pins_a_bad_record_to_its_line(
    tmp_path: Path, line: str, phrase: str
) -> None:
    """A bad record is reported at file:line with what is wrong and a hint."""
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_decisions(path)
    assert f"{path}:3: " in str(info.value)
    assert phrase in str(info.value)
    assert "docs/review.md" in str(info.value)


def test_read_decisions_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing decisions file names the path, without a traceback."""
    with pytest.raises(DataError, match="cannot read the decisions file"):
        read_decisions(tmp_path / "nope.jsonl")
