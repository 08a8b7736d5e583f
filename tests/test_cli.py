"""The command line, run through its entry point: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from conftest import BAD_RULES, EXAMPLES, TAG_RULES
from typer.testing import CliRunner

import lfkit
from lfkit.cli import app
from lfkit.display import plural

RUNNER = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    """Run lfkit with arguments; return exit code, stdout and stderr."""
    result = RUNNER.invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def test_check_valid_rules() -> None:
    """check says ok with counts on stdout and warns about risky aliases on stderr, with the
    file:line and code of each (a short alias and a common word)."""
    code, out, err = run("check", TAG_RULES)
    assert code == 0 and "ok: " in out and "400 labels" in out
    assert "taxonomy.yaml:" in err and "LF101" in err and "alias '3d'" in err
    assert "LF102" in err and "alias 'vision'" in err and "common English word" in err
    assert "warning" not in out and "Traceback" not in err


def test_check_broken_rules_exit_1_without_traceback() -> None:
    """A broken file gives exit 1 and the file:line message, no traceback."""
    code, out, err = run("check", BAD_RULES / "unknown_key.yaml")
    assert code == 1
    assert (
        "unknown_key.yaml:8:5: LF002 error: rule 'object-detection': unknown key 'keyword'" in err
    )
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
    code, out, err = run("check", tmp_path)
    # tags.json names 5 parents that are not tags (e.g. 'testing'): they become labels too.
    assert code == 0 and "405 labels" in out
    assert "testing" in lfkit.load_rules(tmp_path).labels


CLASS_RULES = TAG_RULES.parent / "madewithml-4class"


def test_audit_prints_ranked_table() -> None:
    """audit prints a header and the top flags with their evidence."""
    code, out, _ = run("audit", EXAMPLES / "dataset.csv", "--rules", CLASS_RULES, "--top", "4")
    assert code == 0
    assert "flags at score >= " in out and "(chosen from the data" in out
    assert "among 764 rows" in out and "showing the top 4" in out
    assert out.count("why: ") == 4


def test_audit_writes_jsonl_csv_and_html(tmp_path: Path) -> None:
    """--out writes the chosen format and --html the report, both complete."""
    out, html = tmp_path / "flags.jsonl", tmp_path / "report.html"
    code, stdout, err = run(
        "audit",
        EXAMPLES / "dataset.csv",
        "--rules",
        CLASS_RULES,
        "-f",
        "jsonl",
        "--out",
        out,
        "--html",
        html,
        "--min-score",
        "0.8",
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 0 and stdout == "" and f"{plural(len(records), 'flag')} written to" in err
    assert records and all(r["score"] >= 0.8 for r in records)
    assert {"id", "label", "kind", "score", "evidence"} <= set(records[0])
    assert html.read_text().startswith("<!DOCTYPE html>")
    csv_out = tmp_path / "flags.csv"
    assert (
        run(
            "audit", EXAMPLES / "dataset.csv", "--rules", CLASS_RULES, "-f", "csv", "--out", csv_out
        )[0]
        == 0
    )
    assert pd.read_csv(csv_out)["score"].is_monotonic_decreasing


def test_audit_fail_on_gates_a_pipeline() -> None:
    """--fail-on exits 3 when a flag reaches the threshold, 0 when none does."""
    args = ["audit", EXAMPLES / "dataset.csv", "--rules", CLASS_RULES, "--no-neighbours"]
    code, _, err = run(*args, "--fail-on", "0.5")
    assert code == 3 and "fail: a flag scores" in err
    assert run(*args, "--fail-on", "1.0", "--min-score", "0.99")[0] == 0


def test_audit_bad_options_are_usage_errors() -> None:
    """Out-of-range scores and unknown models or formats exit 2."""
    base = ["audit", EXAMPLES / "dataset.csv", "--rules", CLASS_RULES]
    assert run(*base, "--min-score", "1.5")[0] == 2
    assert run(*base, "--label-model", "magic")[0] == 2
    assert run(*base, "--format", "pdf")[0] == 2
    assert run(*base, "--top", "0")[0] == 2


def test_audit_needs_the_label_column(tmp_path: Path) -> None:
    """Data without the task's label column is a one-line error naming it."""
    data = tmp_path / "d.json"
    data.write_text('[{"id": 1, "title": "x", "description": "y"}]')
    code, _, err = run("audit", data, "--rules", TAG_RULES)
    assert code == 1 and "column 'tags' is not in the data" in err


def test_analyze_json() -> None:
    """analyze --format json lists every rule with its statistics."""
    code, out, _ = run("analyze", EXAMPLES / "dataset.csv", "--rules", CLASS_RULES, "-f", "json")
    stats = json.loads(out)
    assert code == 0 and len(stats) == 19
    assert {"rule", "coverage", "overlaps", "conflicts", "precision", "recall"} <= set(stats[0])
