"""The command line, run through its entry point: exit codes and messages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import BAD_RULES, EXAMPLES, TAG_RULES
from typer.testing import CliRunner

from lfkit.cli import app

RUNNER = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    """Run lfkit with arguments; return exit code, stdout and stderr."""
    result = RUNNER.invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def test_check_valid_rules() -> None:
    """check says ok with counts and warns about risky aliases on stderr."""
    code, out, err = run("check", TAG_RULES)
    assert code == 0 and "ok: " in out and "400 labels" in out


def test_check_broken_rules_exit_1_without_traceback() -> None:
    """A broken file gives exit 1 and the file:line message, no traceback."""
    code, out, err = run("check", BAD_RULES / "unknown_key.yaml")
    assert code == 1
    assert "unknown_key.yaml:8: rule 'object-detection': unknown key 'keyword'" in err
    assert "Traceback" not in err + out


def test_check_usage_error_exit_2() -> None:
    """A missing argument is a usage error."""
    assert run("check")[0] == 2


def test_apply_writes_votes(tmp_path: Path) -> None:
    """apply writes one column per rule plus the id, and a summary."""
    out = tmp_path / "votes.parquet"
    code, stdout, _ = run("apply", EXAMPLES / "projects.json", "--rules", TAG_RULES, "--out", out)
    assert code == 0 and "rows: 2,032" in stdout and "votes written to" in stdout
    votes = pd.read_parquet(out)
    assert len(votes) == 2032 and votes.columns[0] == "id" and "pytorch:alias" in votes.columns
    assert set(votes["pytorch:alias"].unique()) == {-1, 1}


def test_apply_refuses_to_overwrite(tmp_path: Path) -> None:
    """apply never writes over its input, and replaces an output only with --force."""
    data = tmp_path / "projects.json"
    data.write_bytes((EXAMPLES / "projects.json").read_bytes())
    code, _, err = run("apply", data, "--rules", TAG_RULES, "--out", data)
    assert code == 1 and "is an input file" in err
    assert data.read_bytes() == (EXAMPLES / "projects.json").read_bytes()
    out = tmp_path / "votes.csv"
    out.write_text("keep me")
    code, _, err = run("apply", data, "--rules", TAG_RULES, "--out", out)
    assert code == 1 and "pass --force" in err and out.read_text() == "keep me"
    assert run("apply", data, "--rules", TAG_RULES, "--out", out, "--force")[0] == 0
    assert out.read_text().startswith("id,")


def test_apply_missing_folder_and_bad_data(tmp_path: Path) -> None:
    """A missing output folder and a missing column are one-line errors with exit 1."""
    code, _, err = run(
        "apply",
        EXAMPLES / "projects.json",
        "--rules",
        TAG_RULES,
        "--out",
        tmp_path / "no" / "v.csv",
    )
    assert code == 1 and "does not exist" in err
    data = tmp_path / "d.json"
    data.write_text('[{"id": 1, "title": "x"}]')
    code, _, err = run("apply", data, "--rules", TAG_RULES)
    assert code == 1 and "column 'description' is not in the data" in err


def test_import_taxonomy_round_trips(tmp_path: Path) -> None:
    """import-taxonomy writes YAML that loads back with every tag, alias and parent."""
    out = tmp_path / "taxonomy.yaml"
    code, stdout, _ = run("import-taxonomy", EXAMPLES / "tags.json", "--out", out)
    assert code == 0 and "wrote 400 labels" in stdout
    (tmp_path / "task.yaml").write_text(
        "task: {kind: multilabel, text_columns: [title], label_column: tags}\n"
    )
    code, _, err = run("check", tmp_path)
    # tags.json names parents that are not tags (e.g. 'testing'): check must say so.
    assert code == 1 and "parent 'testing' is not a defined label" in err
