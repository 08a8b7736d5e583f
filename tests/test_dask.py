"""The Dask engine on a real two-process LocalCluster: equal to the local engine, row for row."""

from __future__ import annotations

import io
import json
from pathlib import Path

import dask  # noqa: E402  (the dask extra is part of the test install: never skipped)
import dask.dataframe as dd  # noqa: E402
import distributed  # noqa: E402
import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLES, write_parts

import lfkit
from lfkit.engine.distributed import (  # noqa: E402
    apply_rules_dask,
    connect,
    read_data_dask,
)
from lfkit.engine.votes import Votes
from lfkit.errors import DataError, LfkitError
from lfkit.model.distributed import label_statistics_dask
from lfkit.model.naive_bayes import NaiveBayesLabelModel, fit_naive_bayes, model_features
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet


def to_dask(df: pd.DataFrame, npartitions: int) -> dd.DataFrame:
    """Split a pandas frame into partitions, keeping lists of tags as lists."""
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_pandas(df, npartitions=npartitions, sort=False)


def assert_same_votes(got: Votes, expected: Votes) -> None:
    """Check two Votes hold the same firings, in the same rows, and the same values."""
    assert got.shape == expected.shape
    assert (got.fired != expected.fired).nnz == 0
    np.testing.assert_array_equal(got.values, expected.values)
    np.testing.assert_array_equal(got.to_dense(), expected.to_dense())


def assert_same_model(got: NaiveBayesLabelModel, expected: NaiveBayesLabelModel) -> None:
    """Check two naive-Bayes models hold the same counts."""
    assert got.n_rows == expected.n_rows
    for name in ("mask", "present", "fired_present", "fired_total"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)


def local_model(ruleset: RuleSet, df: pd.DataFrame) -> NaiveBayesLabelModel:
    """Fit the naive-Bayes counts in this process, on all rows."""
    y = given_matrix(ruleset, df[ruleset.task.label_column].tolist())
    features = model_features(ruleset, lfkit.apply_rules(ruleset, df).fired, y)
    return fit_naive_bayes(ruleset, features, y)


def test_projects_in_seven_partitions_equal_local_engine(
    cluster: distributed.LocalCluster, projects: pd.DataFrame, tag_rules: RuleSet
) -> None:
    """All 2,032 shuffled projects in 7 partitions give the local votes, row for row."""
    shuffled = projects.sample(frac=1.0, random_state=7).reset_index(drop=True)
    ddf = to_dask(shuffled, 7)
    assert ddf.npartitions == 7
    votes = apply_rules_dask(tag_rules, ddf)
    assert_same_votes(votes, lfkit.apply_rules(tag_rules, shuffled))
    assert ddf["id"].compute().tolist() == shuffled["id"].tolist()
    by_id = lfkit.apply_rules(tag_rules, projects).to_dense()
    row_of = {project_id: row for row, project_id in enumerate(projects["id"])}
    np.testing.assert_array_equal(votes.to_dense(), by_id[[row_of[i] for i in shuffled["id"]]])


def test_csv_with_quoted_newlines_read_in_blocks(
    cluster: distributed.LocalCluster, class_rules: RuleSet
) -> None:
    """dataset.csv read in ~9 blocks equals read_data, and its votes the local engine's."""
    path = EXAMPLES / "dataset.csv"
    ddf = read_data_dask(path, class_rules.task, blocksize=16_000)
    assert ddf.npartitions >= 8
    local = lfkit.read_data(path, class_rules.task)
    got = ddf.compute()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), local, check_index_type=False)
    assert_same_votes(apply_rules_dask(class_rules, ddf), lfkit.apply_rules(class_rules, local))
    assert got["id"].dtype == np.int64
    assert got["id"].tolist() == pd.read_csv(path)["id"].tolist()


def test_json_lines_read_in_blocks(
    cluster: distributed.LocalCluster, tmp_path: Path, projects: pd.DataFrame, tag_rules: RuleSet
) -> None:
    """A JSON Lines file read in blocks gives the rows and votes of the local engine."""
    path = tmp_path / "projects.jsonl"
    projects.to_json(path, orient="records", lines=True, force_ascii=False)
    ddf = read_data_dask(path, tag_rules.task, blocksize=100_000)
    assert ddf.npartitions >= 5
    local = lfkit.read_data(path, tag_rules.task)
    pd.testing.assert_frame_equal(ddf.compute().reset_index(drop=True), local)
    assert_same_votes(apply_rules_dask(tag_rules, ddf), lfkit.apply_rules(tag_rules, local))


def test_parquet_folder_read_file_by_file(
    cluster: distributed.LocalCluster, tmp_path: Path, projects: pd.DataFrame, tag_rules: RuleSet
) -> None:
    """A folder of 4 Parquet files reads as 4 partitions with the local engine's votes."""
    folder = tmp_path / "projects"
    folder.mkdir()
    write_parts(projects, folder, 508, ".parquet")
    ddf = read_data_dask(folder, tag_rules.task)
    assert ddf.npartitions == 4
    projects.to_parquet(tmp_path / "whole.parquet", index=False)
    local = lfkit.read_data(tmp_path / "whole.parquet", tag_rules.task)
    pd.testing.assert_frame_equal(ddf.compute().reset_index(drop=True), local)
    assert_same_votes(apply_rules_dask(tag_rules, ddf), lfkit.apply_rules(tag_rules, projects))


def test_label_statistics_equal_local_counts(
    cluster: distributed.LocalCluster,
    projects: pd.DataFrame,
    tag_rules: RuleSet,
    class_rules: RuleSet,
) -> None:
    """Counts summed over partitions equal fit_naive_bayes on all rows (both task kinds)."""
    assert_same_model(
        label_statistics_dask(tag_rules, to_dask(projects, 5)), local_model(tag_rules, projects)
    )
    path = EXAMPLES / "dataset.csv"
    ddf = read_data_dask(path, class_rules.task, blocksize=40_000)
    local = lfkit.read_data(path, class_rules.task)
    assert_same_model(label_statistics_dask(class_rules, ddf), local_model(class_rules, local))


def test_connect_to_a_running_scheduler(
    cluster: distributed.LocalCluster, projects: pd.DataFrame, tag_rules: RuleSet
) -> None:
    """connect() with a scheduler address runs the engine on that cluster's workers."""
    with connect(cluster.scheduler_address) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        votes = apply_rules_dask(tag_rules, to_dask(projects.head(300), 3))
    assert_same_votes(votes, lfkit.apply_rules(tag_rules, projects.head(300)))


def test_connect_rejects_bad_arguments() -> None:
    """Both a scheduler and local workers, or an unreachable scheduler, raise LfkitError."""
    with pytest.raises(LfkitError, match="not both"):
        connect("tcp://127.0.0.1:8786", 2)
    with pytest.raises(LfkitError, match="cannot reach the Dask scheduler"):
        connect("tcp://127.0.0.1:9", timeout="1s")


@pytest.mark.parametrize("blocksize", [1, 7, 20, 33, 64, 1000])
def test_csv_blocks_end_outside_quotes(tmp_path: Path, blocksize: int) -> None:
    """Quoted line breaks, doubled quotes and CRLF survive every block size."""
    text = (
        'id,title,description,tag\r\n1,"a, b","two\r\nlines",x\r\n2,"say ""hi""\n'
        '",,y\n3,plain,"""quoted""\nstart",z\n4,"",last,w\n'
    )
    path = tmp_path / "tricky.csv"
    path.write_text(text, encoding="utf-8")
    task = lfkit.load_rules(EXAMPLES.parents[1] / "rules" / "madewithml-4class").task
    expected = pd.read_csv(
        io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""]
    ).astype({"id": np.int64})
    ddf = read_data_dask(path, task, blocksize=blocksize)
    got = ddf.compute(scheduler="sync").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_csv_with_an_odd_number_of_quotes_is_one_partition(tmp_path: Path) -> None:
    """A stray quote makes the quote parity useless, so the file is not split."""
    path = tmp_path / "stray.csv"
    path.write_text('id,title,tag\n1,5" screen,a\n2,ok,b\n3,fine,c\n', encoding="utf-8")
    task = lfkit.load_rules(EXAMPLES.parents[1] / "rules" / "madewithml-4class").task
    task = task.model_copy(update={"text_columns": ("title",)})
    ddf = read_data_dask(path, task, blocksize=8)
    assert ddf.npartitions == 1
    assert ddf.compute(scheduler="sync")["title"].tolist() == ['5" screen', "ok", "fine"]


def test_bad_input_raises_data_error(
    cluster: distributed.LocalCluster, tmp_path: Path, projects: pd.DataFrame, tag_rules: RuleSet
) -> None:
    """Missing columns, unknown types, missing files and bad labels raise DataError."""
    task = tag_rules.task
    jsonl = tmp_path / "projects.jsonl"
    projects.drop(columns="description").to_json(jsonl, orient="records", lines=True)
    with pytest.raises(DataError, match=r"projects.jsonl: column 'description' is not in"):
        read_data_dask(jsonl, task)
    parquet = tmp_path / "projects.parquet"
    projects.drop(columns="tags").to_parquet(parquet)
    with pytest.raises(DataError, match="column 'tags' is not in the data"):
        read_data_dask(parquet, task)
    with pytest.raises(DataError, match="unknown data file type '.xlsx'"):
        read_data_dask(tmp_path / "projects.xlsx", task)
    with pytest.raises(DataError, match="cannot read the file"):
        read_data_dask(tmp_path / "missing.csv", task)
    with pytest.raises(DataError, match="cannot read the file"):
        read_data_dask(tmp_path / "missing.parquet", task)
    with pytest.raises(DataError, match="column 'title' is not in the Dask DataFrame"):
        apply_rules_dask(tag_rules, to_dask(projects.drop(columns="title"), 2))
    bad = projects.head(50).copy()
    bad.loc[40, "tags"] = 5
    bad.to_json(jsonl, orient="records", lines=True)
    ddf = read_data_dask(jsonl, task, blocksize=2_000)
    with pytest.raises(
        DataError, match=r"projects.jsonl \(bytes \d+-\d+\): row \d+ \(id \d+\), column 'tags'"
    ):
        ddf.compute()


def test_ruleset_round_trips_through_pickle(tag_rules: RuleSet) -> None:
    """A rule set pickles (as it must to reach the workers) and votes the same afterwards."""
    import pickle

    copy = pickle.loads(pickle.dumps(tag_rules))
    df = pd.DataFrame({"title": ["PyTorch image segmentation"], "description": ["with BERT"]})
    assert_same_votes(lfkit.apply_rules(copy, df), lfkit.apply_rules(tag_rules, df))
    assert json.dumps(copy.rule_names) == json.dumps(tag_rules.rule_names)


@pytest.mark.slow
def test_cli_apply_and_audit_on_a_local_cluster(tmp_path: Path) -> None:
    """`lfkit apply --local-cluster 2` writes the local engine's votes; audit runs on it too."""
    from typer.testing import CliRunner

    from lfkit.cli import app

    rules = EXAMPLES.parents[1] / "rules" / "madewithml-4class"
    data = EXAMPLES / "dataset.csv"
    runner = CliRunner()
    outputs = {}
    for name, extra in (("local", []), ("dask", ["--local-cluster", "2"])):
        outputs[name] = tmp_path / f"{name}.parquet"
        result = runner.invoke(
            app, ["apply", str(data), "--rules", str(rules), "--out", str(outputs[name]), *extra]
        )
        assert result.exit_code == 0, result.stderr
    assert pd.read_parquet(outputs["dask"]).equals(pd.read_parquet(outputs["local"]))
    result = runner.invoke(
        app, ["audit", str(data), "--rules", str(rules), "--local-cluster", "2", "--top", "3"]
    )
    assert result.exit_code == 0 and "showing the top 3" in result.stdout


def test_label_partitions_on_the_cluster_equal_this_process(
    cluster: distributed.LocalCluster, class_rules: RuleSet
) -> None:
    """Fitting and labelling dataset.csv's partitions on workers gives this process's result."""
    from lfkit.data import map_local, split_data
    from lfkit.engine.distributed import map_partitions
    from lfkit.model.partitioned import fit_label_model_partitions, label_partitions

    parts = split_data(EXAMPLES / "dataset.csv", class_rules.task, blocksize=30_000)
    assert len(parts) >= 5
    results = {}
    for name, mapper in (("local", map_local), ("dask", map_partitions)):
        model, labelled = fit_label_model_partitions(class_rules, parts, map_parts=mapper)
        frames = [frame for frame, _ in label_partitions(model, parts, map_parts=mapper)]
        results[name] = (model.method, labelled, pd.concat(frames, ignore_index=True))
    assert results["dask"][:2] == results["local"][:2] == ("naive-bayes", 764)
    pd.testing.assert_frame_equal(results["dask"][2], results["local"][2])


@pytest.mark.slow
@pytest.mark.parametrize("rules", ["madewithml-4class", "madewithml"])
def test_cli_label_on_a_local_cluster_equals_one_process(
    tmp_path: Path, projects: pd.DataFrame, rules: str
) -> None:
    """`lfkit label --local-cluster 2` on a glob of 3 files writes what one process writes."""
    from typer.testing import CliRunner

    from lfkit.cli import app

    if rules == "madewithml":
        data = write_parts(projects, tmp_path, 700, ".jsonl")
    else:
        classes = pd.read_csv(EXAMPLES / "dataset.csv")
        data = write_parts(classes, tmp_path, 300)
    runner = CliRunner()
    outputs = {}
    for name, extra in (("local", []), ("dask", ["--local-cluster", "2"])):
        outputs[name] = tmp_path / f"{name}.parquet"
        result = runner.invoke(
            app,
            ["label", data, "--rules", str(EXAMPLES.parents[1] / "rules" / rules)]
            + ["--out", str(outputs[name]), *extra],
        )
        assert result.exit_code == 0, result.output
        outputs[name + " summary"] = result.stdout.replace(str(outputs[name]), "OUT")
    assert outputs["dask summary"] == outputs["local summary"]
    assert "fitted on" in outputs["local summary"] and "rows per label" in outputs["local summary"]
    local, dask_out = pd.read_parquet(outputs["local"]), pd.read_parquet(outputs["dask"])
    assert len(local) == (len(projects) if rules == "madewithml" else 764)
    pd.testing.assert_frame_equal(dask_out, local)


def test_audit_partitions_on_the_cluster_equal_audit_labels(
    cluster: distributed.LocalCluster, class_rules: RuleSet
) -> None:
    """Both audit passes on workers over 6+ partitions give audit_labels' report, flag for flag."""
    from lfkit.audit.distributed import audit_partitions
    from lfkit.data import split_data
    from lfkit.engine.distributed import map_partitions
    from lfkit.report.render import render_report

    path = EXAMPLES / "dataset.csv"
    parts = split_data(path, class_rules.task, blocksize=25_000)
    assert len(parts) >= 6
    got = audit_partitions(class_rules, parts, map_parts=map_partitions, min_score=0.0)
    expected = lfkit.audit_labels(
        class_rules, lfkit.read_data(path, class_rules.task), min_score=0.0
    )
    assert len(got.flags) == len(expected.flags) > 700
    assert render_report(got, fmt="jsonl") == render_report(expected, fmt="jsonl")
    assert render_report(got, fmt="table") == render_report(expected, fmt="table")


@pytest.mark.slow
def test_cli_audit_on_a_local_cluster_equals_one_process(tmp_path: Path) -> None:
    """`lfkit audit --local-cluster 2 -f jsonl` writes the single-process flags, byte for byte."""
    from typer.testing import CliRunner

    from lfkit.cli import app

    classes = pd.read_csv(EXAMPLES / "dataset.csv")
    write_parts(classes, tmp_path, 200)
    rules = EXAMPLES.parents[1] / "rules" / "madewithml-4class"
    outputs = {}
    for name, extra in (("local", []), ("dask", ["--local-cluster", "2"])):
        outputs[name] = tmp_path / f"{name}.jsonl"
        args = ["audit", str(tmp_path / "part-*.csv"), "--rules", str(rules), "-f", "jsonl"]
        result = CliRunner().invoke(app, [*args, "--out", str(outputs[name]), *extra])
        assert result.exit_code == 0, result.output
    local = outputs["local"].read_text(encoding="utf-8")
    assert local.count('"type": "flag"') >= 5
    assert outputs["dask"].read_text(encoding="utf-8") == local


def test_analyze_partitions_on_the_cluster_equal_analyze_rules(
    cluster: distributed.LocalCluster, projects: pd.DataFrame, tag_rules: RuleSet, tmp_path: Path
) -> None:
    """Rule statistics counted per partition on workers equal analyze_rules on all rows."""
    from lfkit.audit.distributed import analyze_partitions
    from lfkit.data import map_local, split_data
    from lfkit.engine.distributed import map_partitions

    path = tmp_path / "projects.jsonl"
    projects.to_json(path, orient="records", lines=True, force_ascii=False)
    parts = split_data(path, tag_rules.task, blocksize=60_000)
    assert len(parts) >= 8
    df = lfkit.read_data(path, tag_rules.task)
    votes = lfkit.apply_rules(tag_rules, df)
    expected = lfkit.analyze_rules(tag_rules, votes, df["tags"].tolist(), df["id"].tolist())
    assert sum(stat.disagreements for stat in expected) > 1000
    for mapper in (map_local, map_partitions):
        assert analyze_partitions(tag_rules, parts, map_parts=mapper) == expected


@pytest.mark.slow
def test_cli_analyze_on_a_local_cluster_equals_one_process(tmp_path: Path) -> None:
    """`lfkit analyze --local-cluster 2 -f json` prints what one process prints."""
    from typer.testing import CliRunner

    from lfkit.cli import app

    classes = pd.read_csv(EXAMPLES / "dataset.csv")
    write_parts(classes, tmp_path, 250)
    rules = EXAMPLES.parents[1] / "rules" / "madewithml-4class"
    printed = []
    for extra in ([], ["--local-cluster", "2"]):
        args = ["analyze", str(tmp_path / "part-*.csv"), "--rules", str(rules), "-f", "json"]
        result = CliRunner().invoke(app, [*args, *extra])
        assert result.exit_code == 0, result.output
        printed.append(json.loads(result.stdout))
    assert printed[0] == printed[1] and len(printed[0]) == 19
    assert any(row["examples"] and isinstance(row["examples"][0], int) for row in printed[0])


def test_map_partitions_raises_a_workers_data_error(
    cluster: distributed.LocalCluster, projects: pd.DataFrame, tag_rules: RuleSet, tmp_path: Path
) -> None:
    """A bad label read on a worker reaches the caller as the DataError naming its block."""
    from lfkit.audit.distributed import analyze_partitions
    from lfkit.data import split_data
    from lfkit.engine.distributed import map_partitions

    bad = projects.head(60).copy()
    bad.loc[45, "tags"] = 5
    path = tmp_path / "bad.jsonl"
    bad.to_json(path, orient="records", lines=True)
    parts = split_data(path, tag_rules.task, blocksize=3_000)
    assert len(parts) >= 3
    with pytest.raises(DataError, match=r"bad.jsonl \(bytes \d+-\d+\): row \d+ \(id \d+\)"):
        analyze_partitions(tag_rules, parts, map_parts=map_partitions)
