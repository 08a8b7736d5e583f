"""`lfkit label` and `lfkit.label_rows`: label data, fit once, reuse a saved model on new rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CLASS_RULES, EXAMPLES, TAG_RULES
from typer.testing import CliRunner

import lfkit
from lfkit.cli import app
from lfkit.rules.ruleset import RuleSet

runner = CliRunner()


def _halves(tmp_path: Path, classes: pd.DataFrame) -> tuple[Path, Path]:
    """Write the 4-class data as two CSV halves without labels (the second, new rows)."""
    order = np.random.default_rng(0).permutation(len(classes))
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    unlabelled = classes.drop(columns=["tag"])
    unlabelled.iloc[np.sort(order[:382])].to_csv(first, index=False)
    unlabelled.iloc[np.sort(order[382:])].to_csv(second, index=False)
    return first, second


def test_label_rows_multiclass(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """Voted rows get their most probable class; rows no rule voted on stay empty."""
    model = lfkit.fit_label_model(class_rules, classes, method="em")
    labelled = lfkit.label_rows(model, classes)
    votes = lfkit.apply_rules(class_rules, classes)
    voted = np.asarray(votes.fired.sum(axis=1)).ravel() > 0
    assert labelled["predicted"].notna().to_numpy().tolist() == voted.tolist()
    right = (labelled["predicted"] == classes["tag"]).to_numpy()[voted]
    assert right.mean() > 0.9
    assert labelled["probability"].between(0, 1).sum() == voted.sum()
    assert list(labelled.columns[: len(classes.columns)]) == list(classes.columns)


def test_label_rows_multilabel_threshold(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Tags come with their probabilities, most probable first, all at or above the threshold."""
    model = lfkit.fit_label_model(
        tag_rules, projects, projects["tags"].tolist(), method="naive-bayes"
    )
    labelled = lfkit.label_rows(model, projects, threshold=0.7)
    for tags, probs in zip(labelled["predicted"], labelled["probabilities"], strict=True):
        assert len(tags) == len(probs)
        assert all(p >= 0.7 for p in probs) and probs == sorted(probs, reverse=True)
    assert sum(map(len, labelled["predicted"])) > 1000


def test_label_keeps_abstains_on_request(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """With keep_abstains every row gets a class."""
    model = lfkit.fit_label_model(class_rules, classes, method="majority")
    assert lfkit.label_rows(model, classes, keep_abstains=True)["predicted"].notna().all()


def test_cli_label_fit_save_and_reuse(tmp_path: Path, classes: pd.DataFrame) -> None:
    """Fit on unlabelled rows and save; the saved model labels new rows as a refit would not
    need to: same probabilities as labelling them in the same run."""
    first, second = _halves(tmp_path, classes)
    model = tmp_path / "model.json"
    result = runner.invoke(
        app,
        [
            "label",
            str(first),
            "--rules",
            str(CLASS_RULES),
            "--out",
            str(tmp_path / "a.csv"),
            "--save-model",
            str(model),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fitted without labels" in result.output and "abstains (no rule voted)" in result.output
    assert json.loads(model.read_text())["method"] == "em"
    out = tmp_path / "b.jsonl"
    result = runner.invoke(
        app,
        [
            "label",
            str(second),
            "--rules",
            str(CLASS_RULES),
            "--model",
            str(model),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "loaded from" in result.output
    labelled = pd.read_json(out, lines=True)
    truth = classes.set_index("id").loc[labelled["id"], "tag"].to_numpy()
    voted = labelled["predicted"].notna().to_numpy()
    assert (labelled["predicted"].to_numpy()[voted] == truth[voted]).mean() > 0.9
    ruleset = lfkit.load_rules(CLASS_RULES)
    expected = lfkit.load_label_model(model, ruleset).predict_proba(pd.read_csv(second))
    columns = [f"probability:{label}" for label in ruleset.labels]
    np.testing.assert_allclose(labelled[columns].to_numpy(), expected, atol=1e-6)


def test_cli_label_multilabel_parquet(tmp_path: Path) -> None:
    """Tags and their probabilities round-trip through Parquet as lists."""
    out = tmp_path / "tags.parquet"
    result = runner.invoke(
        app,
        [
            "label",
            str(EXAMPLES / "projects.json"),
            "--rules",
            str(TAG_RULES),
            "--out",
            str(out),
            "--threshold",
            "0.6",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "majority, fitted on 2,032 labelled rows" in result.output
    labelled = pd.read_parquet(out)
    assert len(labelled) == 2032
    assert all(min(probs, default=1.0) >= 0.6 for probs in labelled["probabilities"])


def test_cli_label_csv_lists_are_json(tmp_path: Path) -> None:
    """In CSV, predicted tags are JSON lists that lfkit reads back as tags."""
    out = tmp_path / "tags.csv"
    result = runner.invoke(
        app,
        [
            "label",
            str(EXAMPLES / "projects.json"),
            "--rules",
            str(TAG_RULES),
            "--out",
            str(out),
            "--no-labels",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fitted without labels" in result.output
    labelled = pd.read_csv(out)
    assert all(isinstance(json.loads(cell), list) for cell in labelled["predicted"])


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        (["--method", "naive-bayes", "--no-labels"], "learns from existing labels"),
        (["--save-model", "{tmp}/m.txt"], "give a .json path"),
        (["--out", "{data}"], "is an input file"),
        (["--model", "{tmp}/missing.json"], "cannot read the model file"),
        (["--model", "{data}"], "not an lfkit label model"),
        (["--model", "{tmp}/m.json", "--method", "em"], "cannot be combined"),
    ],
)
def test_cli_label_refuses_bad_input(
    tmp_path: Path, classes: pd.DataFrame, extra: list[str], phrase: str
) -> None:
    """Bad options exit 1 with a one-paragraph error and write nothing."""
    data = tmp_path / "data.csv"
    classes.to_csv(data, index=False)
    args = [arg.format(tmp=tmp_path, data=data) for arg in extra]
    result = runner.invoke(app, ["label", str(data), "--rules", str(CLASS_RULES), *args])
    assert result.exit_code == 1, result.output
    assert phrase in result.output and "Traceback" not in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.csv"]


def test_cli_label_refuses_model_of_other_rules(tmp_path: Path, classes: pd.DataFrame) -> None:
    """A model saved for the 4-class rules is refused with the tag rules."""
    model = tmp_path / "model.json"
    data = tmp_path / "data.csv"
    classes.to_csv(data, index=False)
    result = runner.invoke(
        app, ["label", str(data), "--rules", str(CLASS_RULES), "--save-model", str(model)]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "label",
            str(EXAMPLES / "projects.json"),
            "--rules",
            str(TAG_RULES),
            "--model",
            str(model),
        ],
    )
    assert result.exit_code == 1
    assert "fitted on another rule set" in result.output


def test_cli_label_refuses_existing_output(tmp_path: Path, classes: pd.DataFrame) -> None:
    """An existing --out is kept unless --force."""
    data, out = tmp_path / "data.csv", tmp_path / "out.csv"
    classes.to_csv(data, index=False)
    out.write_text("keep me", encoding="utf-8")
    result = runner.invoke(
        app, ["label", str(data), "--rules", str(CLASS_RULES), "--out", str(out)]
    )
    assert result.exit_code == 1 and "--force" in result.output
    assert out.read_text(encoding="utf-8") == "keep me"
    result = runner.invoke(
        app, ["label", str(data), "--rules", str(CLASS_RULES), "--out", str(out), "--force"]
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == len(classes)


@pytest.mark.slow
def test_cli_label_on_a_local_cluster_equals_local(tmp_path: Path) -> None:
    """`lfkit label --local-cluster 2` matches the rules on Dask and writes the same labels."""
    outputs = {}
    for name, extra in (("local", []), ("dask", ["--local-cluster", "2"])):
        outputs[name] = tmp_path / f"{name}.parquet"
        result = runner.invoke(
            app,
            [
                "label",
                str(EXAMPLES / "dataset.csv"),
                "--rules",
                str(CLASS_RULES),
                "--no-labels",
                "--out",
                str(outputs[name]),
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
    assert pd.read_parquet(outputs["dask"]).equals(pd.read_parquet(outputs["local"]))
