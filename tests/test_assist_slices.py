"""Slices from rules: real Snorkel SlicingFunctions, and `lfkit slices` metrics per slice."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import lfkit
from lfkit.assist.slices import (
    read_predictions,
    slice_membership,
    slice_metrics,
    slice_rules,
    slicing_functions,
)
from lfkit.cli import app
from lfkit.rules.ruleset import RuleSet
from tests.conftest import CLASS_RULES, EXAMPLES

RUNNER = CliRunner()
DATASET = EXAMPLES / "dataset.csv"


@pytest.fixture(scope="module")
def data(class_rules: RuleSet) -> pd.DataFrame:
    """dataset.csv with parsed classes."""
    return lfkit.read_data(DATASET, class_rules.task)


@pytest.mark.parametrize("by", ["rule", "label"])
def test_slicing_functions_equal_the_engine(
    class_rules: RuleSet, data: pd.DataFrame, by: str
) -> None:
    """Snorkel's PandasSFApplier puts exactly the rows the engine's votes say in each slice."""
    from snorkel.slicing import PandasSFApplier  # imports torch: only where needed

    sample = data.sample(200, random_state=0).reset_index(drop=True)
    sfs = slicing_functions(class_rules, by=by)
    assert [sf.name for sf in sfs] == list(slice_rules(class_rules, by=by))
    matrix = PandasSFApplier(sfs).apply(sample, progress_bar=False)
    membership = slice_membership(class_rules, lfkit.apply_rules(class_rules, sample), by=by)
    for sf in sfs:
        assert np.array_equal(np.asarray(matrix[sf.name]) > 0, membership[sf.name].to_numpy())
    assert membership.to_numpy().sum() > len(sample) // 2  # not trivially empty


def test_slice_dataframe_gives_the_rows_a_rule_fires_on(
    class_rules: RuleSet, data: pd.DataFrame
) -> None:
    """slice_dataframe with a rule's slicing function returns the rows where the rule fires."""
    from snorkel.slicing import slice_dataframe

    sample = data.head(150)
    (sf,) = [sf for sf in slicing_functions(class_rules, by="rule") if sf.name == "cv-tasks"]
    column = class_rules.rule_names.index("cv-tasks")
    fired = lfkit.apply_rules(class_rules, sample).fired.toarray()[:, column] > 0
    assert slice_dataframe(sample, sf)["id"].tolist() == sample["id"][fired].tolist()
    clone = pickle.loads(pickle.dumps(sf))
    assert [clone(row) for _, row in sample.iterrows()] == fired.astype(int).tolist()


def test_slice_metrics_perfect_predictions(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """Predicting the given classes gives accuracy 1 on every slice."""
    metrics = slice_metrics(class_rules, data, data["tag"].tolist(), by="rule")
    assert metrics[0].slice != "" and all(m.accuracy == 1.0 for m in metrics)
    assert metrics[-1].size <= len(data)


def test_slice_metrics_worst_slice_first(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """A model wrong on every mlops row makes the mlops slice the worst one."""
    wrong = ["other" if tag == "mlops" else tag for tag in data["tag"]]
    metrics = slice_metrics(class_rules, data, wrong, by="label")
    assert metrics[0].slice == "label:mlops"
    assert metrics[0].accuracy is not None and metrics[0].accuracy < 0.7
    overall = next(m for m in metrics if m.slice == "(all rows)")
    assert overall.size == len(data) and overall.accuracy == pytest.approx(
        (data["tag"] != "mlops").mean()
    )


def test_slice_metrics_multilabel_f1(tag_rules: RuleSet) -> None:
    """Multilabel: given tags as predictions give F1 1; dropping a tag lowers its slice's recall."""
    projects = lfkit.read_data(EXAMPLES / "projects.json", tag_rules.task).head(400)
    votes = lfkit.apply_rules(tag_rules, projects)
    perfect = slice_metrics(tag_rules, projects, projects["tags"].tolist(), votes=votes)
    assert all(m.f1 == 1.0 for m in perfect if m.f1 is not None)
    dropped = [[t for t in tags if t != "computer-vision"] for tags in projects["tags"]]
    metrics = {m.slice: m for m in slice_metrics(tag_rules, projects, dropped, votes=votes)}
    vision = metrics["label:computer-vision"]
    assert vision.precision == 1.0 and vision.recall is not None and vision.recall < 1.0


def test_read_predictions_aligns_ids_as_text(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """Predictions in another order, ids as strings, some rows missing, align with the data."""
    table = pd.DataFrame({"id": data["id"].map(str), "predicted": data["tag"]}).iloc[::-1]
    table = table.iloc[1:]
    aligned = read_predictions(class_rules, data, table, source="p.csv")
    assert aligned[:-1] == data["tag"].tolist()[:-1] and aligned[-1] is None
    metrics = slice_metrics(class_rules, data, aligned)
    overall = next(m for m in metrics if m.slice == "(all rows)")
    assert overall.predicted == len(data) - 1


@pytest.mark.parametrize(
    ("table", "phrase"),
    [
        (pd.DataFrame({"id": [1], "label": ["mlops"]}), "column 'predicted'"),
        (pd.DataFrame({"id": [-5], "predicted": ["mlops"]}), "not in the data"),
    ],
)
def test_read_predictions_rejects_bad_tables(
    class_rules: RuleSet, data: pd.DataFrame, table: pd.DataFrame, phrase: str
) -> None:
    """A table without the predicted column or with unknown ids is a DataError naming it."""
    with pytest.raises(lfkit.DataError, match=phrase):
        read_predictions(class_rules, data, table, source="p.csv")


def test_cli_slices_table_and_jsonl(data: pd.DataFrame, tmp_path: Path) -> None:
    """`lfkit slices` prints the worst slice first; --format jsonl gives one record per slice."""
    path = tmp_path / "predictions.jsonl"
    wrong = ["other" if tag == "mlops" else tag for tag in data["tag"]]
    pd.DataFrame({"id": data["id"], "predicted": wrong}).to_json(path, orient="records", lines=True)
    args = ["slices", str(DATASET), "--rules", str(CLASS_RULES), "--predictions", str(path)]
    table = RUNNER.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[1].startswith("label:mlops")
    records = RUNNER.invoke(app, [*args, "--format", "jsonl", "--by", "rule"])
    assert records.exit_code == 0, records.output
    rows = [json.loads(line) for line in records.stdout.splitlines()]
    assert {"slice", "size", "accuracy"} <= set(rows[0])
    assert rows[0]["accuracy"] <= rows[-1]["accuracy"]


def test_cli_slices_bad_predictions_exit_1(tmp_path: Path) -> None:
    """A predictions file without the predicted column exits 1 with the file named."""
    path = tmp_path / "p.csv"
    path.write_text("id,label\n1,mlops\n", encoding="utf-8")
    run = RUNNER.invoke(
        app, ["slices", str(DATASET), "--rules", str(CLASS_RULES), "--predictions", str(path)]
    )
    assert run.exit_code == 1 and "p.csv" in run.output and "predicted" in run.output


def lf_graph(row: pd.Series) -> str | int:
    """An own labeling function: graph projects are 'other'."""
    return "other" if "graph" in f"{row['title']} {row['description']}".lower() else -1


def test_own_labeling_function_defines_a_slice(class_rules: RuleSet, data: pd.DataFrame) -> None:
    """A rule set with an own LF has its slice too; Snorkel's applier agrees with the engine."""
    from snorkel.slicing import PandasSFApplier

    ruleset = class_rules.with_lfs({"other": [lf_graph]})
    sample = data.head(120)
    sfs = [sf for sf in slicing_functions(ruleset, by="rule") if sf.name == "lf_graph"]
    assert len(sfs) == 1
    matrix = PandasSFApplier(sfs).apply(sample, progress_bar=False)
    membership = slice_membership(ruleset, lfkit.apply_rules(ruleset, sample), by="rule")
    expected = sample["title"].str.lower().str.contains("graph") | sample[
        "description"
    ].str.lower().str.contains("graph")
    assert np.array_equal(np.asarray(matrix["lf_graph"]) > 0, membership["lf_graph"].to_numpy())
    assert membership["lf_graph"].tolist() == expected.tolist()
