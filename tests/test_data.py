"""Reading data files: every format, and clear errors for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLES, write_parts

import lfkit
from lfkit import DataError
from lfkit.data import read_data, split_data
from lfkit.rules.schema import Task

TAGS = Task(kind="multilabel", text_columns=("title", "description"), label_column="tags")
CLASSES = Task(kind="multiclass", text_columns=("title", "description"), label_column="tag")


def test_read_data_bundled_files() -> None:
    """The bundled JSON and CSV (with quoted newlines) read completely."""
    projects = read_data(EXAMPLES / "projects.json", TAGS)
    assert len(projects) == 2032 and projects["tags"][0] == [
        "article",
        "google-colab",
        "colab",
        "file-system",
    ]
    classes = read_data(EXAMPLES / "dataset.csv", CLASSES)
    assert len(classes) == 764 and set(classes["tag"]) == {
        "computer-vision",
        "natural-language-processing",
        "mlops",
        "other",
    }
    assert classes["description"].str.contains("\n").sum() >= 30


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ".json"])
def test_read_data_formats_agree(tmp_path: Path, suffix: str) -> None:
    """CSV (delimited tags), TSV, JSON Lines, Parquet and JSON give the same rows and tags."""
    df = pd.DataFrame(
        {
            "id": [1, 2],
            "title": ["a, b", "c"],
            "description": ["x\ny", None],
            "tags": [["nlp", "qa"], []],
        }
    )
    path = tmp_path / f"data{suffix}"
    if suffix in (".csv", ".tsv"):
        flat = df.assign(tags=df["tags"].map(",".join))
        flat.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    elif suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    elif suffix == ".json":
        path.write_text(json.dumps(df.to_dict(orient="records")))
    else:
        df.to_parquet(path)
    read = read_data(path, TAGS)
    assert read["tags"].tolist() == [["nlp", "qa"], []]
    assert read["title"].tolist() == ["a, b", "c"]


BAD_DATA = [
    ("missing.json", None, "cannot read the file"),
    ("data.xlsx", b"x", "unknown data file type '.xlsx'"),
    ("latin1.csv", "id,title,description,tags\n1,caf\xe9,x,y\n".encode("latin-1"), ":2: byte 0xe9"),
    ("truncated.json", b'[{"id": 1, "title": "a"', "not valid JSON"),
    ("object.json", b'{"id": 1}', "as a JSON array"),
    (
        "bad_line.jsonl",
        b'{"id": 1, "title": "a", "description": "", "tags": []}\n{"id": 2,\n',
        ":2: not valid JSON",
    ),
    (
        "no_desc.json",
        b'[{"id": 1, "title": "a", "tags": []}]',
        "column 'description' is not in the data",
    ),
    ("empty.json", b"[]", "the data has no rows"),
    (
        "dup.json",
        b'[{"id": 1, "title": "a", "description": "", "tags": []},'
        b'{"id": 1, "title": "b", "description": "", "tags": []}]',
        "id 1 in column 'id' appears more than once",
    ),
    (
        "badtags.json",
        b'[{"id": 7, "title": "a", "description": "", "tags": [1, 2]}]',
        "row 1 (id 7), column 'tags'",
    ),
    ("badjsontags.csv", b'id,title,description,tags\n3,a,b,"[nlp"\n', "looks like a JSON list"),
    ("broken.parquet", b"PAR1 not really", "not a readable Parquet file"),
]


@pytest.mark.parametrize(("name", "content", "phrase"), BAD_DATA)
def test_read_data_bad_files(tmp_path: Path, name: str, content: bytes | None, phrase: str) -> None:
    """Each bad data file gives a DataError naming the file and the problem."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_data(path, TAGS)
    assert phrase in str(info.value) and name in str(info.value)


def test_read_data_multiclass_needs_a_class(tmp_path: Path) -> None:
    """An empty class cell is reported with its row and id."""
    path = tmp_path / "c.csv"
    path.write_text("id,title,description,tag\n1,a,b,mlops\n2,c,d,\n")
    with pytest.raises(DataError, match=r"row 2 \(id 2\).*expected one class name"):
        read_data(path, CLASSES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id,title,description,tag\n1,a,d,mlops,\n2,b,e,other,\n", [[1, "a"], [2, "b"]]),
        ("id,title,description,tag\n1,a,d,mlops,\n2,b,e,other\n", [[1, "a"], [2, "b"]]),
        ("id,title,description,tag,\n1,a,d,mlops,\n2,b,e,other,\n", [[1, "a"], [2, "b"]]),
        ("id;title;description;tag\r\n1;a;d;mlops;\r\n2;b;e;other;\r\n", [[1, "a"], [2, "b"]]),
    ],
)
def test_trailing_delimiter_is_not_a_shift(
    tmp_path: Path, class_rules: lfkit.RuleSet, text: str, expected: list[list[str]]
) -> None:
    """Lines ending in a delimiter keep every field under its header name (ids stay ids)."""
    path = tmp_path / "data.csv"
    path.write_text(text)
    df = lfkit.read_data(path, class_rules.task)
    assert df[["id", "title"]].to_numpy().tolist() == expected
    assert df["tag"].tolist() == ["mlops", "other"]


def test_extra_field_with_a_value_is_refused(tmp_path: Path, class_rules: lfkit.RuleSet) -> None:
    """A line with one field more than the header that holds a value is an error, not a shift."""
    path = tmp_path / "data.csv"
    path.write_text("id,title,description,tag\n1,a,d,mlops,\n2,b,e,other,lost\n")
    with pytest.raises(lfkit.DataError, match="row 2 has 5 fields but the header names 4"):
        lfkit.read_data(path, class_rules.task)
    path.write_text("id,title,description,tag\n1,a,d,mlops\n2,b,e,other,lost\n")
    with pytest.raises(lfkit.DataError, match="Expected 4 fields in line 3, saw 5"):
        lfkit.read_data(path, class_rules.task)


def write_parquet_row_groups(df: pd.DataFrame, path: Path, rows_per_group: int) -> None:
    """Write a Parquet file with several row groups (pandas writes one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=rows_per_group
    )


@pytest.mark.parametrize(
    ("name", "blocksize", "at_least"),
    [("dataset.csv", 16_000, 8), ("projects.jsonl", 100_000, 5), ("projects.parquet", 1, 4)],
)
def test_split_data_partitions_in_a_loop_equal_read_data(
    tmp_path: Path, projects: pd.DataFrame, name: str, blocksize: int, at_least: int
) -> None:
    """Partitions read in a plain loop (after a pickle round trip) give read_data's rows."""
    import pickle

    task = CLASSES if name.endswith(".csv") else TAGS
    path = EXAMPLES / name if name.endswith(".csv") else tmp_path / name
    if name.endswith(".jsonl"):
        projects.to_json(path, orient="records", lines=True, force_ascii=False)
    elif name.endswith(".parquet"):
        write_parquet_row_groups(projects, path, rows_per_group=500)
    parts = split_data(path, task, blocksize=blocksize)
    assert len(parts) >= at_least
    frames = [pickle.loads(pickle.dumps(part))() for part in parts]
    assert all(frame.index.equals(pd.RangeIndex(len(frame))) for frame in frames)
    whole = read_data(path, task)
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)
    assert [len(frame) for frame in frames] != [len(whole)]


def test_read_data_reads_a_glob_in_file_order(tmp_path: Path, classes: pd.DataFrame) -> None:
    """A glob of CSV files reads as their rows in file-name order, like its partitions."""
    write_parts(classes, tmp_path, 300)
    df = read_data(tmp_path / "part-*.csv", CLASSES)
    assert df["id"].tolist() == classes["id"].tolist()
    parts = split_data(tmp_path / "part-*.csv", CLASSES, blocksize=None)
    assert [len(part()) for part in parts] == [300, 300, 164]


def test_csv_ids_keep_the_data_type(tmp_path: Path, classes: pd.DataFrame) -> None:
    """Integer ids in a CSV come back as int64, whole or by partitions: merging works."""
    path = EXAMPLES / "dataset.csv"
    df = read_data(path, CLASSES)
    assert df["id"].dtype == np.int64
    assert all(
        part()["id"].dtype == np.int64 for part in split_data(path, CLASSES, blocksize=8_000)
    )
    merged = df[["id", "tag"]].merge(classes[["id", "title"]], on="id", validate="one_to_one")
    assert len(merged) == len(classes) == 764
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        "id,title,description,tag\n7,a,x,mlops\n042,b,y,other\nab-3,c,z,other\n-5,d,w,mlops\n"
    )
    ids = read_data(mixed, CLASSES)["id"].tolist()
    assert ids == [7, "042", "ab-3", -5] and [type(value) for value in ids] == [int, str, str, int]
    by_rows = [value for part in split_data(mixed, CLASSES, blocksize=1) for value in part()["id"]]
    assert by_rows == ids


def test_json_ids_stay_strings(tmp_path: Path) -> None:
    """Ids written as JSON strings stay strings, even when they look like numbers."""
    path = tmp_path / "ids.jsonl"
    path.write_text('{"id": "12", "title": "a", "description": "", "tags": []}\n')
    assert read_data(path, TAGS)["id"].tolist() == ["12"]
    assert split_data(path, TAGS)[0]()["id"].tolist() == ["12"]


def test_split_data_checks_columns_up_front(tmp_path: Path, projects: pd.DataFrame) -> None:
    """A missing column is reported when splitting, from the first header, before any rows."""
    path = tmp_path / "projects.jsonl"
    projects.drop(columns="description").to_json(path, orient="records", lines=True)
    with pytest.raises(DataError, match=r"projects.jsonl: column 'description' is not in"):
        split_data(path, TAGS)
