"""Writing outputs: chunked tables round-trip in every format, atomically."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CLASS_RULES, EXAMPLES
from typer.testing import CliRunner

import lfkit
from lfkit import OutputError
from lfkit.cli import app
from lfkit.engine.summary import votes_frames
from lfkit.output import check_output, write_frames, write_text
from lfkit.rules.ruleset import RuleSet


def run_cli(*args: object) -> tuple[int, str]:
    """Run lfkit; return the exit code and stderr."""
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stderr


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
    fresh, kept = tmp_path / "fresh.txt", tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    write_text(fresh, "new")
    write_text(kept, "new", force=True)
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask
    assert kept.stat().st_mode & 0o777 == 0o640 and kept.read_text() == "new"


def _rules_copy(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    for file in CLASS_RULES.glob("*.yaml"):
        (rules / file.name).write_bytes(file.read_bytes())
    return rules


@pytest.mark.parametrize("target", ["file", "folder-file", "hard-link"])
def test_rules_are_inputs_even_with_force(tmp_path: Path, target: str) -> None:
    """No output may name a rules file (as a file, in a folder, or linked), even with --force."""
    rules = _rules_copy(tmp_path)
    rules_arg, out = {
        "file": (rules / "rules.yaml", rules / "rules.yaml"),
        "folder-file": (rules, rules / "rules.yaml"),
        "hard-link": (rules, tmp_path / "linked.yaml"),
    }[target]
    if target == "hard-link":
        os.link(rules / "rules.yaml", out)
        rules_arg = rules / "rules.yaml"
    before = {p: p.read_bytes() for p in rules.iterdir()}
    for command in ("audit", "analyze"):
        code, err = run_cli(
            command, EXAMPLES / "dataset.csv", "--rules", rules_arg, "--out", out, "--force"
        )
        assert code == 1 and "is an input file" in err
    assert {p: p.read_bytes() for p in rules.iterdir()} == before


def test_taxonomy_is_an_input(tmp_path: Path) -> None:
    """import-taxonomy never writes over the taxonomy it reads."""
    taxonomy = tmp_path / "tags.json"
    taxonomy.write_bytes((EXAMPLES / "tags.json").read_bytes())
    code, err = run_cli("import-taxonomy", taxonomy, "--out", taxonomy, "--force")
    assert code == 1 and "is an input file" in err
    assert taxonomy.read_bytes() == (EXAMPLES / "tags.json").read_bytes()


def test_out_and_html_resolving_to_one_file_are_refused(tmp_path: Path) -> None:
    """--out and --html that name one file through different spellings are refused up front."""
    (tmp_path / "sub").mkdir()
    out, html = tmp_path / "r.html", tmp_path / "sub" / ".." / "r.html"
    code, err = run_cli(
        "audit", EXAMPLES / "dataset.csv", "--rules", CLASS_RULES, "--out", out, "--html", html
    )
    assert code == 1 and "--out and --html name the same file" in err
    assert not out.exists()


def test_exclusive_creation_loses_no_output(tmp_path: Path) -> None:
    """Without force, a file that appears between the check and the write is never replaced."""
    path = tmp_path / "out.txt"
    check_output(path)
    path.write_text("another run")
    with pytest.raises(OutputError, match="already exists"):
        write_text(path, "this run")
    assert path.read_text() == "another run"
    assert not list(tmp_path.glob(".*.tmp"))


def test_concurrent_writers_one_wins(tmp_path: Path) -> None:
    """Many writers racing for one path without force: exactly one succeeds, the file is whole."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "out.txt"

    def attempt(number: int) -> bool:
        try:
            write_text(path, f"writer {number}\n" * 1000)
        except OutputError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert sum(results) == 1
    number = results.index(True)
    assert path.read_text() == f"writer {number}\n" * 1000


@pytest.mark.parametrize("kind", ["fifo", "symlink", "device"])
def test_force_replaces_only_regular_files(tmp_path: Path, kind: str) -> None:
    """--force never replaces a FIFO, a device node or a symbolic link (nor writes its target)."""
    path = tmp_path / "out.txt"
    target = tmp_path / "elsewhere.txt"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        target.write_text("precious")
        path.symlink_to(target)
    else:
        path = Path("/dev/null")
    with pytest.raises(OutputError, match="replaces only regular files"):
        check_output(path, force=True)
    with pytest.raises(OutputError, match="replaces only regular files"):
        write_text(path, "x", force=True)
    assert Path("/dev/null").is_char_device()
    if kind == "symlink":
        assert path.is_symlink() and target.read_text() == "precious"


def test_force_replaces_a_regular_file(tmp_path: Path) -> None:
    """With force an existing regular file is replaced whole."""
    path = tmp_path / "out.txt"
    path.write_text("old")
    write_text(path, "new", force=True)
    assert path.read_text() == "new"


@pytest.mark.parametrize(
    ("code", "phrase"),
    [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")],
)
def test_full_or_read_only_disk_is_one_paragraph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, phrase: str
) -> None:
    """A full disk or a read-only file system while writing is an OutputError, no temp left."""

    def fail(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fail)
    path = tmp_path / "out.txt"
    with pytest.raises(OutputError, match=f"cannot write the file \\({phrase}\\)\\n  hint:"):
        write_text(path, "x" * 1000)
    assert list(tmp_path.iterdir()) == []


def test_full_disk_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails in the CLI exits 1 with one paragraph and no traceback."""

    def fail(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fail)
    out = tmp_path / "flags.csv"
    code, err = run_cli(
        "analyze", EXAMPLES / "dataset.csv", "--rules", CLASS_RULES, "-f", "csv", "--out", out
    )
    assert code == 1 and "No space left on device" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused_before_work(tmp_path: Path) -> None:
    """An output in a folder the user cannot write is refused by the up-front check."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    with pytest.raises(OutputError, match="is not writable"):
        check_output(folder / "out.txt")


def test_parquet_with_huge_or_mixed_ids(tmp_path: Path) -> None:
    """Ids that Parquet cannot hold as one integer type are written as text, not a crash."""
    for ids in ([2**70, 1], [1, "a"]):
        path = tmp_path / f"v{len(list(tmp_path.iterdir()))}.parquet"
        write_frames(iter([pd.DataFrame({"id": ids, "r": [1, -1]})]), path)
        assert pd.read_parquet(path)["id"].tolist() == [str(i) for i in ids]
