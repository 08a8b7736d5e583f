"""Hostile and broken input: clear errors, no hangs, and no user data lost (docs/errors.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from conftest import CLASS_RULES, EXAMPLES, write_rules

import lfkit
from lfkit import RuleFileError
from lfkit.audit.suspects import audit_labels


def test_yaml_python_tags_never_run(tmp_path: Path) -> None:
    """A python/object tag is refused as a tag, never constructed."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f'task: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(
        RuleFileError, match="YAML tag !!python/object/apply:os.system is not allowed"
    ):
        lfkit.load_rules(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "text",
    [
        "rules: " + "[" * 100_000 + "]" * 100_000,
        "rules:\n" + "".join("  " * i + "-\n" for i in range(2000)),
    ],
)
def test_deep_nesting_is_an_error(tmp_path: Path, text: str) -> None:
    """Very deep YAML nesting is reported, not a RecursionError."""
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    with pytest.raises(RuleFileError, match="nested too deeply|nested deeper than"):
        lfkit.load_rules(path)


def test_billion_laughs_is_refused_at_the_first_alias(tmp_path: Path) -> None:
    """An alias bomb stops at its first alias, with the line."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]"
        for i in range(8)
    ]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(path)
    assert info.value.errors[0].line == 2 and "YAML alias *a" in str(info.value)


def test_symlink_loops_do_not_hang(tmp_path: Path) -> None:
    """A folder that links back to itself is walked once."""
    (tmp_path / "rules.yaml").write_bytes((CLASS_RULES / "task.yaml").read_bytes())
    (tmp_path / "more.yaml").write_bytes((CLASS_RULES / "rules.yaml").read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert len(lfkit.load_rules(tmp_path)) == len(lfkit.load_rules(CLASS_RULES))


def test_broken_symlink_is_a_read_error(tmp_path: Path) -> None:
    """A rules file that is a dangling link is reported with its path."""
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    with pytest.raises(RuleFileError, match="gone.yaml.*cannot read the file"):
        lfkit.load_rules(tmp_path)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(x+x+)+y", "(a|aa)+$", "(.*a){20}"])
def test_catastrophic_patterns_finish(tmp_path: Path, pattern: str) -> None:
    """Patterns that make backtracking engines explode run in linear time on 100 KB."""
    body = (
        f"labels: {{bad: {{match_name: false}}}}\n"
        f"rules:\n  - {{name: evil, label: bad, regex: ['{pattern}']}}\n"
    )
    ruleset = lfkit.load_rules(write_rules(tmp_path, body))
    df = pd.DataFrame({"title": ["a" * 100_000 + "!", "x" * 100_000], "description": ["", ""]})
    with ThreadPoolExecutor(1) as pool:
        votes = pool.submit(lfkit.apply_rules, ruleset, df).result(timeout=60)
    assert votes.shape == (2, 1)


def test_huge_cell_and_odd_values(class_rules: lfkit.RuleSet, classes: pd.DataFrame) -> None:
    """A 5 MB text, numbers, lists and missing values in text columns audit without error."""
    df = classes.head(200).copy()
    df["description"] = df["description"].astype(object)
    df.at[0, "description"] = "object detection with images " * 180_000
    df.at[1, "description"] = None
    df.at[2, "description"] = 42
    df.at[3, "description"] = ["image", "segmentation"]
    report = audit_labels(class_rules, df, min_score=0.0, top=5)
    assert len(report.flags) == 5
    assert lfkit.apply_rules(class_rules, df).fired[[0]].nnz > 0


def test_semicolon_csv_is_sniffed(tmp_path: Path, class_rules: lfkit.RuleSet) -> None:
    """A CSV with ';' delimiters and quoted newlines reads correctly."""
    path = tmp_path / "semi.csv"
    path.write_text(
        'id;title;description;tag\n1;"Images; faces";"line one\nline two";computer-vision\n'
    )
    df = lfkit.read_data(path, class_rules.task)
    assert df.loc[0, "title"] == "Images; faces" and "line two" in df.loc[0, "description"]


def _big_dataset(tmp_path: Path) -> Path:
    rows = pd.read_csv(EXAMPLES / "dataset.csv")
    big = pd.concat([rows] * 150, ignore_index=True)
    big["id"] = range(len(big))
    path = tmp_path / "big.parquet"
    big.to_parquet(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_write_keeps_the_old_output(tmp_path: Path, sig: signal.Signals) -> None:
    """Killing `lfkit apply` mid-write leaves the previous output whole, never a truncated file."""
    data, out = _big_dataset(tmp_path), tmp_path / "votes.csv"
    out.write_text("previous output\n")
    command = [
        sys.executable,
        "-m",
        "lfkit",
        "apply",
        str(data),
        "--rules",
        str(CLASS_RULES),
        "--out",
        str(out),
        "--force",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        temps = list(tmp_path.glob(".votes.csv.*.tmp"))
        if temps and temps[0].stat().st_size > 0:
            break
        time.sleep(0.005)
    assert process.poll() is None, "lfkit finished before it could be interrupted"
    os.kill(process.pid, sig)
    _, stderr = process.communicate(timeout=60)
    assert out.read_text() == "previous output\n"
    assert process.returncode != 0
    assert b"Traceback" not in stderr
    if sig == signal.SIGINT:
        assert not list(tmp_path.glob(".votes.csv.*.tmp"))


def test_inputs_are_never_modified(tmp_path: Path) -> None:
    """apply and audit read their inputs without touching them."""
    data = tmp_path / "dataset.csv"
    data.write_bytes((EXAMPLES / "dataset.csv").read_bytes())
    before = (data.read_bytes(), data.stat().st_mtime_ns)
    for command in (
        ["apply", str(data), "--rules", str(CLASS_RULES)],
        ["audit", str(data), "--rules", str(CLASS_RULES), "--no-neighbours"],
    ):
        subprocess.run([sys.executable, "-m", "lfkit", *command], check=True, capture_output=True)
    assert (data.read_bytes(), data.stat().st_mtime_ns) == before
