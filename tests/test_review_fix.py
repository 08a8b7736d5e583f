"""`lfkit fix`: corrected labels from real decisions on the bundled data, in every format."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import EXAMPLES, TAG_RULES
from typer.testing import CliRunner

from lfkit.audit.suspects import AuditReport, audit_labels
from lfkit.cli import app
from lfkit.data import read_data
from lfkit.errors import DataError, OutputError
from lfkit.readers import read_table
from lfkit.review.decisions import Decision, append_decision, decision_for, read_decisions
from lfkit.review.fix import apply_decisions, correct_labels, fix_file
from lfkit.rules.ruleset import RuleSet

CLASS_RULES_DIR = TAG_RULES.parent / "madewithml-4class"


def _decide(report: AuditReport, ruleset: RuleSet) -> list[Decision]:
    """Decide the top flags as a reviewer would: accept 8, reject 4, relabel 2."""
    decisions = []
    for rank, flag in enumerate(report.flags[:14]):
        if rank < 8:
            value = flag.suggestion if not ruleset.multilabel and flag.kind == "spurious" else None
            decisions.append(decision_for(flag, "accept", value=value))
        elif rank < 12:
            decisions.append(decision_for(flag, "reject"))
        else:
            other = next(label for label in ruleset.labels if label not in flag.given)
            decisions.append(decision_for(flag, "relabel", value=[other]))
    return decisions


def _decisions_log(ruleset: RuleSet, data: Path, path: Path) -> Path:
    """Write a decisions log over the top flags of a real audit of `data`."""
    df = read_data(data, ruleset.task)
    report = audit_labels(ruleset, df, top=14, neighbours=False, min_score=0.1)
    for decision in _decide(report, ruleset):
        append_decision(path, decision)
    return path


@pytest.fixture(scope="module")
def tag_decisions(tag_rules: RuleSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Decisions over the top flags of a real audit of the projects' tags."""
    path = tmp_path_factory.mktemp("tags") / "decisions.jsonl"
    return _decisions_log(tag_rules, EXAMPLES / "projects.json", path)


@pytest.fixture(scope="module")
def class_decisions(class_rules: RuleSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Decisions over the top flags of a real audit of the 4-class data."""
    path = tmp_path_factory.mktemp("classes") / "decisions.jsonl"
    return _decisions_log(class_rules, EXAMPLES / "dataset.csv", path)


def _projects_as(path: Path) -> Path:
    """Write the bundled projects in the format of `path`'s suffix; tags encoded per format."""
    records = json.loads((EXAMPLES / "projects.json").read_text("utf-8"))
    suffix = path.suffix
    if suffix == ".json":
        path.write_bytes((EXAMPLES / "projects.json").read_bytes())
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    elif suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(records), path)
    elif suffix == ".csv":  # tags as a delimited string
        pd.DataFrame(records).assign(tags=lambda d: d.tags.str.join(",")).to_csv(path, index=False)
    else:  # .tsv, tags as a JSON list in a string
        frame = pd.DataFrame(records).assign(tags=lambda d: d.tags.map(json.dumps))
        frame.to_csv(path, sep="\t", index=False)
    return path


def _classes_as(path: Path) -> Path:
    """Write the bundled 4-class data in the format of `path`'s suffix."""
    frame = pd.read_csv(EXAMPLES / "dataset.csv", dtype=str, keep_default_na=False)
    suffix = path.suffix
    if suffix == ".csv":
        path.write_bytes((EXAMPLES / "dataset.csv").read_bytes())
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".json":
        path.write_text(frame.to_json(orient="records"), encoding="utf-8")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path, index=False)
    return path


def _check_fixed(ruleset: RuleSet, data: Path, out: Path, decisions: Path) -> None:
    """The output holds the corrected labels, and everything else exactly as the input."""
    before = read_data(data, ruleset.task)
    correction = correct_labels(ruleset, before, read_decisions(decisions))
    assert correction.changes, "the decisions should change some labels"
    after = read_data(out, ruleset.task)
    label = ruleset.task.label_column
    assert after[label].tolist() == correction.labels
    pd.testing.assert_frame_equal(before.drop(columns=label), after.drop(columns=label))
    raw_in, raw_out = read_table(data), read_table(out)
    assert list(raw_in.columns) == list(raw_out.columns)
    changed = set(correction.rows)
    for row in range(len(raw_in)):
        old, new = raw_in.at[row, label], raw_out.at[row, label]
        if row in changed:
            assert type(new) is type(old)
            if isinstance(old, str):
                assert old.startswith("[") == new.startswith("[")
        else:
            assert str(old) == str(new)
    if data.suffix == ".parquet":
        assert pq.read_schema(out) == pq.read_schema(data)


SUFFIXES = [".json", ".jsonl", ".parquet", ".csv", ".tsv"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_fix_file_tags_keeps_everything_else(
    tmp_path: Path, tag_rules: RuleSet, tag_decisions: Path, suffix: str
) -> None:
    """Multilabel: every format keeps columns, values and order; tags re-encoded as they came."""
    data = _projects_as(tmp_path / f"projects{suffix}")
    out = tmp_path / f"fixed{suffix}"
    fix_file(tag_rules, data, out, read_decisions(tag_decisions))
    _check_fixed(tag_rules, data, out, tag_decisions)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_fix_file_classes_keeps_everything_else(
    tmp_path: Path, class_rules: RuleSet, class_decisions: Path, suffix: str
) -> None:
    """Multiclass: every format keeps columns, values and order."""
    data = _classes_as(tmp_path / f"dataset{suffix}")
    out = tmp_path / f"fixed{suffix}"
    fix_file(class_rules, data, out, read_decisions(class_decisions))
    _check_fixed(class_rules, data, out, class_decisions)


def test_fix_file_jsonl_keeps_other_lines_byte_for_byte(tmp_path: Path, tag_rules: RuleSet) -> None:
    """JSON Lines: CRLF endings and a raw U+2028 inside a string survive; one line changes."""
    records = json.loads((EXAMPLES / "projects.json").read_text("utf-8"))[:5]
    records[1]["title"] += "\u2028second line"
    lines = [json.dumps(record, ensure_ascii=False) + "\r\n" for record in records]
    data, out = tmp_path / "p.jsonl", tmp_path / "fixed.jsonl"
    data.write_bytes("".join(lines).encode("utf-8"))
    decision = Decision(records[2]["id"], "computer-vision", "missing", "accept")
    fix_file(tag_rules, data, out, {decision.key: decision})
    before, after = data.read_bytes().split(b"\n"), out.read_bytes().split(b"\n")
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [2]
    assert json.loads(after[2])["tags"] == [*records[2]["tags"], "computer-vision"]
    assert after[2].endswith(b"\r")


def test_correct_labels_follows_each_decision(tag_rules: RuleSet) -> None:
    """Accept adds a missing tag and removes a spurious one; relabel swaps; reject keeps."""
    df = read_data(EXAMPLES / "projects.json", tag_rules.task).head(4)
    ids, tags = df["id"].tolist(), df["tags"].tolist()
    present = next(tag for tag in tags[1] if tag in tag_rules.labels)
    log = [
        Decision(ids[0], "natural-language-processing", "missing", "accept"),
        Decision(ids[1], present, "spurious", "accept"),
        Decision(ids[2], "computer-vision", "missing", "reject"),
        Decision(ids[3], "pytorch", "spurious", "relabel", value=("tensorflow", "keras")),
    ]
    correction = correct_labels(tag_rules, df, {d.key: d for d in log})
    labels = correction.labels
    assert labels[0] == [*tags[0], "natural-language-processing"]
    assert labels[1] == [tag for tag in tags[1] if tag != present]
    assert labels[2] == tags[2]
    assert labels[3][-2:] == ["tensorflow", "keras"] and "pytorch" not in labels[3]
    assert correction.rejected == 1


def test_correct_labels_multiclass_accept_takes_the_suggestion(class_rules: RuleSet) -> None:
    """Multiclass: accepting a spurious flag gives the row the suggested class."""
    df = read_data(EXAMPLES / "dataset.csv", class_rules.task)
    row_id, given = df.at[0, "id"], df.at[0, "tag"]
    other = next(label for label in class_rules.labels if label != given)
    decision = Decision(row_id, given, "spurious", "accept", value=other)
    correction = correct_labels(class_rules, df, {decision.key: decision})
    assert correction.labels[0] == other
    assert correction.labels[1:] == df["tag"].tolist()[1:]


def test_apply_decisions_returns_a_corrected_copy(tag_rules: RuleSet) -> None:
    """The library function corrects a DataFrame and leaves the caller's frame alone."""
    df = read_data(EXAMPLES / "projects.json", tag_rules.task)
    first = df.at[0, "tags"].copy()
    decision = Decision(df.at[0, "id"], "computer-vision", "missing", "accept")
    fixed = apply_decisions(tag_rules, df, {decision.key: decision})
    assert fixed.at[0, "tags"] == [*first, "computer-vision"]
    assert df.at[0, "tags"] == first


BAD_DECISIONS = [
    (Decision(999_999, "computer-vision", "missing", "accept"), "id 999999 is not in"),
    (Decision(2438, "no-such-tag", "missing", "accept"), "label 'no-such-tag'"),
    (Decision(2438, "pytorch", "missing", "relabel", value=("torchy",)), "label 'torchy'"),
]


@pytest.mark.parametrize(("decision", "phrase"), BAD_DECISIONS)
def test_fix_file_refuses_unknown_ids_and_labels(
    tmp_path: Path, tag_rules: RuleSet, decision: Decision, phrase: str
) -> None:
    """A decision about an id or label the data and rules do not know stops the fix."""
    path = tmp_path / "d.jsonl"
    append_decision(path, Decision(2438, "pytorch", "missing", "accept"))
    append_decision(path, decision)
    out = tmp_path / "fixed.json"
    with pytest.raises(DataError) as info:
        fix_file(tag_rules, EXAMPLES / "projects.json", out, read_decisions(path))
    assert "line 2: " in str(info.value) and phrase in str(info.value)
    assert "hint:" in str(info.value)
    assert not out.exists()


def test_fix_file_refuses_multiclass_accept_without_a_class(
    tmp_path: Path, class_rules: RuleSet
) -> None:
    """Multiclass: accepting a spurious flag needs the class the row gets."""
    decision = Decision(6, "computer-vision", "spurious", "accept", line=1)
    data, out = EXAMPLES / "dataset.csv", tmp_path / "o.csv"
    with pytest.raises(DataError, match="needs 'value'"):
        fix_file(class_rules, data, out, {decision.key: decision})


def test_fix_file_refuses_another_format(tmp_path: Path, tag_rules: RuleSet) -> None:
    """The corrected data keeps the input's format."""
    with pytest.raises(OutputError, match=r"name it \*\.json"):
        fix_file(tag_rules, EXAMPLES / "projects.json", tmp_path / "fixed.csv", {})


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_fix_prints_and_writes_the_change_log(tmp_path: Path, tag_decisions: Path) -> None:
    """`lfkit fix` writes the data and the change log, and prints one line per change."""
    data = _projects_as(tmp_path / "projects.jsonl")
    digest = _digest(data)
    out, changes = tmp_path / "fixed.jsonl", tmp_path / "changes.csv"
    args = ["fix", str(data), "--rules", str(TAG_RULES), "--decisions", str(tag_decisions)]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--changes", str(changes)])
    assert result.exit_code == 0, result.output
    log = pd.read_csv(changes, dtype=str)
    assert len(log) == len(result.stdout.splitlines()) > 0
    assert set(log["decision"]) <= {"accept", "relabel"}
    assert "corrected data written to" in result.stderr
    assert _digest(data) == digest


def test_cli_fix_never_writes_over_its_input(tmp_path: Path, tag_decisions: Path) -> None:
    """--out naming the input is refused, even with --force; the input stays as it was."""
    data = _projects_as(tmp_path / "projects.json")
    digest = _digest(data)
    args = ["fix", str(data), "-r", str(TAG_RULES), "-d", str(tag_decisions), "-o", str(data)]
    result = CliRunner().invoke(app, [*args, "--force"])
    assert result.exit_code == 1
    assert "never overwrites its inputs" in result.stderr
    assert _digest(data) == digest


def test_cli_fix_refuses_unknown_id_with_one_paragraph(tmp_path: Path) -> None:
    """An unknown id exits 1 with the decisions line and a hint, no traceback."""
    path = tmp_path / "d.jsonl"
    append_decision(path, Decision(123_456_789, "pytorch", "missing", "accept"))
    args = ["fix", str(EXAMPLES / "projects.json"), "-r", str(TAG_RULES), "-d", str(path)]
    result = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "fixed.json")])
    assert result.exit_code == 1
    assert "line 1: id 123456789 is not in" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "fixed.json").exists()


def test_fix_file_jsonl_rewrites_only_the_label_value(tmp_path: Path, tag_rules: RuleSet) -> None:
    """A changed compact line keeps its other bytes (number forms, escapes) and its style."""
    records = json.loads((EXAMPLES / "projects.json").read_text("utf-8"))[:3]
    lines = [json.dumps(record, separators=(",", ":")) for record in records]
    lines[1] = lines[1][:-1] + ',"score":1.50,"url":"a\\/b","note":"caf\\u00e9"}'
    data, out = tmp_path / "p.jsonl", tmp_path / "fixed.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tag = "natural-language-processing"
    decision = Decision(records[1]["id"], tag, "missing", "accept")
    fix_file(tag_rules, data, out, {decision.key: decision})
    changed = out.read_text("utf-8").split("\n")[1]
    old_tags = json.dumps(records[1]["tags"], separators=(",", ":"))
    new_tags = json.dumps([*records[1]["tags"], tag], separators=(",", ":"))
    assert changed == lines[1].replace(old_tags, new_tags)


def test_correction_summary_counts_in_singular_and_plural(tag_rules: RuleSet) -> None:
    """One change reads '1 label change on 1 row', not '1 label changes on 1 rows'."""
    df = read_data(EXAMPLES / "projects.json", tag_rules.task).head(3)
    ids = df["id"].tolist()
    log = [
        Decision(ids[0], "natural-language-processing", "missing", "accept"),
        Decision(ids[1], "computer-vision", "missing", "reject"),
        Decision(ids[2], "pytorch", "missing", "reject"),
    ]
    summary = correct_labels(tag_rules, df, {d.key: d for d in log}).summary()
    assert summary.startswith("1 label change on 1 row; 2 flags rejected")
    assert "0 decisions found" in summary
