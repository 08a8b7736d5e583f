"""Writing outputs: chunked tables round-trip in every format, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lfkit
from lfkit import OutputError
from lfkit.engine.summary import votes_frames
from lfkit.output import write_frames
from lfkit.rules.ruleset import RuleSet


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_votes_written_in_chunks_read_back_whole(
    tmp_path: Path, suffix: str, class_rules: RuleSet, classes: pd.DataFrame
) -> None:
    """Votes written 100 rows at a time read back as the full label matrix, ids first."""
    votes = lfkit.apply_rules(class_rules, classes)
    path = tmp_path / f"votes{suffix}"
    write_frames(votes_frames(class_rules, classes, votes, chunk_rows=100), path)
    read = {
        ".parquet": pd.read_parquet,
        ".csv": pd.read_csv,
        ".jsonl": lambda p: pd.read_json(p, lines=True),
    }[suffix](path)
    assert read["id"].tolist() == classes["id"].tolist()
    np.testing.assert_array_equal(read[class_rules.rule_names].to_numpy(), votes.to_dense())
    assert not list(tmp_path.glob(".*.tmp"))


def test_unknown_output_type_writes_nothing(tmp_path: Path) -> None:
    """An unknown suffix is an OutputError and leaves no file behind."""
    with pytest.raises(OutputError, match="unknown output type '.xlsx'"):
        write_frames(iter([pd.DataFrame({"a": [1]})]), tmp_path / "v.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_outputs_get_ordinary_permissions(tmp_path: Path) -> None:
    """A new output is readable by others (umask), a replaced one keeps its mode."""
    from lfkit.output import write_text

    fresh, kept = tmp_path / "fresh.txt", tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    write_text(fresh, "new")
    write_text(kept, "new")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask
    assert kept.stat().st_mode & 0o777 == 0o640 and kept.read_text() == "new"
