"""`lfkit next`: the unlabelled rows to label next, ranked, diverse, with reasons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import lfkit
from lfkit.assist.next import rows_to_label
from lfkit.cli import app
from lfkit.rules.ruleset import RuleSet
from tests.conftest import CLASS_RULES, EXAMPLES, TAG_RULES

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def data(class_rules: RuleSet) -> pd.DataFrame:
    """dataset.csv with parsed classes."""
    return lfkit.read_data(EXAMPLES / "dataset.csv", class_rules.task)


def labelled_fifth(df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    rows = np.arange(0, len(df), 5)
    return rows, df["tag"].iloc[rows].tolist()


def test_next_lists_distinct_unlabelled_rows(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """n distinct rows, none of them labelled, each with a reason and scores in [0, 1]."""
    labelled, given = labelled_fifth(data)
    rows = rows_to_label(class_rules, data, labelled, given, n=30)
    positions = [row.row for row in rows]
    assert len(set(positions)) == 30 and not set(positions) & set(labelled.tolist())
    for row in rows:
        assert row.id == data["id"][row.row] and row.reason
        assert 0 <= row.uncertainty <= 1 and 0 <= row.novelty <= 1
        assert sum(row.probabilities.values()) <= 1.0 + 1e-9


def test_next_ranks_uncertain_rows_first(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """Without diversity, rows come by value; by uncertainty alone, most uncertain first."""
    labelled, given = labelled_fifth(data)
    rows = rows_to_label(class_rules, data, labelled, given, n=20, diversity=0.0)
    values = [row.value for row in rows]
    assert values == sorted(values, reverse=True)
    alone = rows_to_label(
        class_rules, data, labelled, given, n=20, diversity=0.0, novelty_weight=0.0
    )
    uncertainty = [row.uncertainty for row in alone]
    assert uncertainty == sorted(uncertainty, reverse=True) and uncertainty[0] == 1.0


def test_next_diversity_skips_near_duplicates(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """Five copies of the best row: without diversity all lead the list, with it only one."""
    labelled, given = labelled_fifth(data)
    best = rows_to_label(class_rules, data, labelled, given, n=1, diversity=0.0)[0].row
    copies = data.iloc[[best] * 5].assign(id=[f"copy-{i}" for i in range(5)])
    grown = pd.concat([data, copies], ignore_index=True)
    text = data["title"][best]
    plain = rows_to_label(class_rules, grown, labelled, given, n=len(grown), diversity=0.0)
    leaders = [row for row in plain if row.value == plain[0].value]
    assert sum(row.text.startswith(text) for row in leaders) == 6
    diverse = rows_to_label(class_rules, grown, labelled, given, n=10, diversity=0.5)
    assert sum(row.text.startswith(text) for row in diverse) == 1
    assert max(row.similarity for row in diverse) < 0.99


def test_next_reason_names_disagreeing_rules(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """A row whose rules vote for different classes says so, naming the rules."""
    labelled, given = labelled_fifth(data)
    rows = rows_to_label(class_rules, data, labelled, given, n=len(data))
    split = [row for row in rows if row.disagreement > 0]
    assert split
    for row in split[:10]:
        assert "rules disagree" in row.reason
        assert all(name in row.reason for name in row.rules)


def test_next_without_labels_and_errors(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """With no labelled row the votes alone rank; mismatched labels are an LfkitError."""
    rows = rows_to_label(class_rules, data, n=5)
    assert len(rows) == 5
    with pytest.raises(lfkit.LfkitError, match="labels for"):
        rows_to_label(class_rules, data, [0, 1], ["mlops"])


def test_next_multilabel_names_unsure_tags(tag_rules: RuleSet) -> None:
    """Multilabel: the tags listed are those the model is least sure of."""
    projects = lfkit.read_data(EXAMPLES / "projects.json", tag_rules.task)
    labelled = np.arange(0, len(projects), 4)
    given = projects["tags"].iloc[labelled].tolist()
    rows = rows_to_label(tag_rules, projects, labelled, given, n=10)
    assert len(rows) == 10
    for row in rows:
        assert all(0.05 < p < 0.95 for p in row.probabilities.values()) or not row.rules


def test_cli_next_uses_empty_label_cells_as_unlabelled(data: pd.DataFrame, tmp_path: Path) -> None:
    """Rows with an empty class cell are the candidates; jsonl records carry the reasons."""
    raw = pd.read_csv(EXAMPLES / "dataset.csv")
    raw.loc[raw.index % 4 != 0, "tag"] = None
    path = tmp_path / "partial.csv"
    raw.to_csv(path, index=False)
    args = ["next", str(path), "--rules", str(CLASS_RULES), "--n", "7", "--format", "jsonl"]
    run = RUNNER.invoke(app, args)
    assert run.exit_code == 0, run.output
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(records) == 7
    unlabelled = set(raw["id"][raw["tag"].isna()].map(str))
    assert all(str(record["id"]) in unlabelled and record["reason"] for record in records)
    out = tmp_path / "next.txt"
    table = RUNNER.invoke(app, [*args[:-2], "--out", str(out)])
    assert table.exit_code == 0 and len(out.read_text("utf-8").splitlines()) == 8


def test_cli_next_multilabel(tmp_path: Path) -> None:
    """The 400-tag projects with most tags blanked: exit 0 and the requested rows."""
    projects = json.loads((EXAMPLES / "projects.json").read_text("utf-8"))
    for i, project in enumerate(projects):
        if i % 3:
            project["tags"] = None
    path = tmp_path / "projects.json"
    path.write_text(json.dumps(projects), encoding="utf-8")
    run = RUNNER.invoke(app, ["next", str(path), "--rules", str(TAG_RULES), "--n", "5"])
    assert run.exit_code == 0, run.output
    assert len(run.stdout.splitlines()) == 6


def test_cli_next_label_studio_round_trip(tmp_path: Path) -> None:
    """Label Studio tasks + config; annotated tags come back as accepted `missing` decisions."""
    projects = json.loads((EXAMPLES / "projects.json").read_text("utf-8"))
    for i, project in enumerate(projects):
        if i % 3:
            project["tags"] = None
    data = tmp_path / "projects.json"
    data.write_text(json.dumps(projects), encoding="utf-8")
    out = tmp_path / "tasks.json"
    args = ["next", str(data), "--rules", str(TAG_RULES), "--n", "4", "--format", "label-studio"]
    assert RUNNER.invoke(app, args).exit_code == 1  # needs --out
    run = RUNNER.invoke(app, [*args, "--out", str(out)])
    assert run.exit_code == 0, run.output
    tasks = json.loads(out.read_text("utf-8"))
    assert len(tasks) == 4 and (tmp_path / "tasks.xml").read_text("utf-8").startswith("<View>")
    unlabelled = {p["id"] for p in projects if p["tags"] is None}
    assert all(task["data"]["lfkit_id"] in unlabelled for task in tasks)
    assert all("label next" in task["data"]["lfkit_evidence"] for task in tasks)
    for number, task in enumerate(tasks, 1):
        task["id"] = number
        result = {"from_name": "label", "to_name": "title", "type": "taxonomy"}
        result["value"] = {"taxonomy": [["natural-language-processing"]]}
        task["annotations"] = [{"id": 1, "created_at": "2026-12-01T15:00:00Z", "result": [result]}]
    annotated = tmp_path / "export.json"
    annotated.write_text(json.dumps(tasks), encoding="utf-8")
    log = tmp_path / "decisions.jsonl"
    back = RUNNER.invoke(
        app,
        ["import-decisions", str(annotated), "--rules", str(TAG_RULES), "--out", str(log),
         "--data", str(data)],
    )  # fmt: skip
    assert back.exit_code == 0, back.output
    decisions = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert {(d["label"], d["kind"], d["decision"]) for d in decisions} == {
        ("natural-language-processing", "missing", "accept")
    }
    assert {d["id"] for d in decisions} == {task["data"]["lfkit_id"] for task in tasks}


def test_next_multiclass_label_studio_prediction(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """Multiclass tasks predict the model's most probable class as a single choice."""
    from lfkit.assist.next import labelstudio_next_tasks

    labelled, given = labelled_fifth(data)
    rows = rows_to_label(class_rules, data, labelled, given, n=3)
    tasks = labelstudio_next_tasks(class_rules, data, rows)
    for row, task in zip(rows, tasks, strict=True):
        (result,) = task["predictions"][0]["result"]
        assert result["value"]["choices"] == [max(row.probabilities, key=row.probabilities.get)]
        assert task["data"]["title"] == data["title"][row.row]


@pytest.mark.slow
def test_next_teaches_the_label_model_faster_than_random(
    class_rules: RuleSet, data: pd.DataFrame
) -> None:
    """From 10 labelled rows, 20 more picked by `next` beat 20 random ones (3 seeds, mean)."""
    votes = lfkit.apply_rules(class_rules, data)
    y = data["tag"].to_numpy()

    def accuracy(rows: np.ndarray, test: np.ndarray) -> float:
        train = lfkit.Votes(votes.fired[rows], votes.values)
        model = lfkit.fit_label_model(class_rules, train, list(y[rows]), method="naive-bayes")
        probs = model.predict_proba(lfkit.Votes(votes.fired[test], votes.values))
        return float((np.array(class_rules.labels)[probs.argmax(axis=1)] == y[test]).mean())

    gains = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(data))
        test, pool = order[:230], order[230:]
        start = pool[:10]
        sub = data.iloc[pool].reset_index(drop=True)
        sub_votes = lfkit.Votes(votes.fired[pool], votes.values)
        picks = rows_to_label(
            class_rules, sub, np.arange(10), list(y[start]), votes=sub_votes, n=20
        )
        chosen = np.concatenate([start, pool[[pick.row for pick in picks]]])
        randomly = np.concatenate([start, rng.choice(pool[10:], 20, replace=False)])
        gains.append(accuracy(chosen, test) - accuracy(randomly, test))
    assert np.mean(gains) > 0, gains
