"""Hostile and broken input: clear errors, no hangs, and no user data lost (docs/errors.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import CLASS_RULES, EXAMPLES, finishes_within, write_rules
from typer.testing import CliRunner

import lfkit
from lfkit import RuleFileError
from lfkit.audit.suspects import audit_labels
from lfkit.cli import app


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
    votes = finishes_within(60, lfkit.apply_rules, ruleset, df)
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
    text = out.read_text()
    if text == "previous output\n":
        assert process.returncode != 0
    else:  # the signal came after the whole new file was renamed into place: whole, too
        assert text.endswith("\n") and text.count("\n") == 1 + len(pd.read_parquet(data))
    assert b"Traceback" not in stderr
    if sig == signal.SIGINT:
        assert not list(tmp_path.glob(".votes.csv.*.tmp"))


@pytest.mark.slow
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


def _hostile_classes(classes: pd.DataFrame) -> pd.DataFrame:
    """The 4-class data with ids that are formulas and titles that hold escape sequences."""
    df = classes.head(300).copy()
    df["id"] = [f'=HYPERLINK("http://evil/{i}")' if i % 2 else f"@SUM({i})" for i in range(300)]
    df["title"] = "\x1b]0;owned\x07\x1b[2J\u202e" + df["title"] + "\x9b31m\x08"
    return df


FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


@pytest.mark.parametrize("command", ["audit", "analyze"])
def test_csv_reports_hold_no_formulas(tmp_path: Path, classes: pd.DataFrame, command: str) -> None:
    """No cell of a CSV report starts like a spreadsheet formula; values stay readable."""
    import csv
    import io

    data = tmp_path / "data.csv"
    _hostile_classes(classes).to_csv(data, index=False)
    out = tmp_path / "report.csv"
    args = ["--min-score", "0", "--no-neighbours"] if command == "audit" else []
    result = CliRunner().invoke(
        app,
        [command, str(data), "--rules", str(CLASS_RULES), "-f", "csv", "--out", str(out), *args],
    )
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert any(cell.startswith("'=HYPERLINK") or cell.startswith("'@SUM") for cell in cells)
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]


def test_terminal_output_shows_escapes_as_text(classes: pd.DataFrame, tmp_path: Path) -> None:
    """The table shows escape sequences, bidi overrides and CR from data as visible escapes."""
    from lfkit.audit.analysis import analyze_rules, render_analysis
    from lfkit.report.render import render_report

    df = _hostile_classes(classes)
    report = audit_labels(lfkit.load_rules(CLASS_RULES), df, min_score=0.0, top=30)
    ruleset = lfkit.load_rules(CLASS_RULES)
    stats = analyze_rules(
        ruleset, lfkit.apply_rules(ruleset, df), df["tag"].tolist(), df["id"].tolist()
    )
    for text in (render_report(report, fmt="table"), render_analysis(stats, fmt="table")):
        assert not [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F]
        assert "\u202e" not in text
    assert "\\x1b]0;owned\\x07" in render_report(report, fmt="table")


def test_error_messages_escape_data(tmp_path: Path) -> None:
    """An error that quotes a column name from the data shows its control characters escaped."""
    data = tmp_path / "d.json"
    data.write_text('[{"id": 1, "\\u001b]0;owned\\u0007": "x"}]')
    result = CliRunner().invoke(app, ["apply", str(data), "--rules", str(CLASS_RULES)])
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\\x1b]0;owned\\x07" in result.stderr


def _rules_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for file in CLASS_RULES.glob("*.yaml"):
        (folder / file.name).write_bytes(file.read_bytes())
    return folder


def test_hang_guard_fails_a_blocked_read(tmp_path: Path) -> None:
    """The guard these tests use fails a read that blocks on a FIFO, instead of hanging."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(pytest.fail.Exception, match="read_text did not finish within 0.2 s"):
        finishes_within(0.2, fifo.read_text)
    with open(fifo, "w"):  # the blocked reader opens, reads nothing and returns
        pass
    assert finishes_within(30, sum, [1, 2]) == 3


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "dev-null"])
def test_rules_file_that_is_not_regular_is_refused(tmp_path: Path, kind: str) -> None:
    """A FIFO or a link to a device named *.yaml in a rules folder is an error, not a hang."""
    folder = _rules_folder(tmp_path)
    odd = folder / "odd.yaml"
    if kind == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to("/dev/zero" if kind == "dev-zero" else "/dev/null")
    for path in (folder, odd):
        with pytest.raises(RuleFileError, match="odd.yaml.*not a regular file"):
            finishes_within(30, lfkit.load_rules, path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json", ".parquet"])
def test_data_link_to_dev_zero_is_refused(tmp_path: Path, suffix: str) -> None:
    """Data that is a link to /dev/zero (size 0, endless) or a FIFO is refused at once."""
    task = lfkit.load_rules(CLASS_RULES).task
    link, fifo = tmp_path / f"zero{suffix}", tmp_path / f"fifo{suffix}"
    link.symlink_to("/dev/zero")
    os.mkfifo(fifo)
    for path in (link, fifo):
        with pytest.raises(lfkit.DataError, match="not a regular file"):
            finishes_within(30, lfkit.read_data, path, task)


def test_read_limit_counts_bytes_read(tmp_path: Path) -> None:
    """The limit applies to the bytes read, whatever the reported size."""
    from lfkit.errors import FileProblem
    from lfkit.files import read_limited

    path = tmp_path / "big.yaml"
    path.write_bytes(b"x" * 1001)
    assert read_limited(path, 1001) == b"x" * 1001
    with pytest.raises(FileProblem, match="more than 1,000 bytes"):
        read_limited(path, 1000)


def test_taxonomy_link_to_dev_zero_is_refused(tmp_path: Path) -> None:
    """import-taxonomy refuses a taxonomy that is a device, at once."""
    link = tmp_path / "tags.json"
    link.symlink_to("/dev/zero")
    result = CliRunner().invoke(
        app, ["import-taxonomy", str(link), "--out", str(tmp_path / "t.yaml")]
    )
    assert result.exit_code == 1 and "not a regular file" in result.stderr


@pytest.mark.parametrize("pattern", ["(" * 1_000_000, "(" * 9_000, "[" * 9_000])
def test_huge_invalid_regex_gives_a_short_message(tmp_path: Path, pattern: str) -> None:
    """A 1 MB (or 9 KB) regex that does not compile is quoted in a few hundred characters."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        (CLASS_RULES / "task.yaml").read_text()
        + f"rules:\n  - {{name: huge, label: mlops, regex: ['{pattern}']}}\n"
    )
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1 and "rule 'huge'" in result.stderr
    assert len(result.stderr) < 1000 and f"({len(pattern):,} characters)" in result.stderr


NFC_RULES = """
labels: {cafe: {match_name: false}, naive: {match_name: false}, tok: {match_name: false}}
rules:
  - {name: kw, label: cafe, keywords: ['KEYWORD']}
  - {name: rx, label: naive, regex: ['REGEX']}
  - {name: tk, label: tok, patterns: [[{LOWER: 'TOKEN'}]]}
"""


@pytest.mark.parametrize("rule_form", ["NFC", "NFD"])
def test_unicode_forms_match_each_other(tmp_path: Path, rule_form: str) -> None:
    """Keywords, regexes and token patterns match the same word in either normal form."""
    import unicodedata

    from snorkel.labeling import PandasLFApplier

    def form(text: str, name: str) -> str:
        return unicodedata.normalize(name, text)

    body = (
        NFC_RULES.replace("KEYWORD", form("café crème", rule_form))
        .replace("REGEX", form("naïve", rule_form))
        .replace("TOKEN", form("señor", rule_form))
    )
    ruleset = lfkit.load_rules(write_rules(tmp_path, body))
    text = "un café crème, naïve señor"
    df = pd.DataFrame(
        {
            "title": [form(text, "NFC"), form(text, "NFD"), "cafe creme naive senor"],
            "description": ["", "", ""],
        }
    )
    votes = lfkit.apply_rules(ruleset, df).to_dense()
    assert (votes[:2] == 1).all() and (votes[2] == -1).all()
    snorkel = PandasLFApplier(ruleset.to_snorkel()).apply(df, progress_bar=False)
    assert (snorkel == votes).all()


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x1c", "\x0b", "\x0c"])
def test_json_lines_with_line_separators_inside_strings(tmp_path: Path, separator: str) -> None:
    """Raw U+2028, U+0085 and other characters str.splitlines breaks at stay inside a string."""
    task = lfkit.load_rules(CLASS_RULES).task
    path = tmp_path / "data.jsonl"
    rows = [
        {"id": 1, "title": f"one{separator}two", "description": "d", "tag": "mlops"},
        {"id": 2, "title": "three", "description": "d", "tag": "other"},
    ]
    import json

    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows))
    df = lfkit.read_data(path, task)
    assert df["title"].tolist() == [f"one{separator}two", "three"]


def test_deeply_nested_cells_do_not_crash(tmp_path: Path) -> None:
    """Cells holding lists or objects nested thousands deep are flattened, no RecursionError."""
    nested: object = "image segmentation"
    for depth in range(50_000):
        nested = [nested] if depth % 2 else {"k": nested}
    df = pd.DataFrame({"id": [1, 2], "title": [nested, "plain"], "description": ["", ""]})
    ruleset = lfkit.load_rules(CLASS_RULES)
    votes = lfkit.apply_rules(ruleset, df)
    assert votes.shape == (2, len(ruleset)) and votes.fired[[0]].nnz > 0


def test_deeply_nested_json_data_is_an_error_or_read(tmp_path: Path) -> None:
    """Deeply nested JSON values in a data file give a DataError naming the file, never a crash."""
    task = lfkit.load_rules(CLASS_RULES).task
    for depth in (500, 100_000):
        path = tmp_path / f"deep{depth}.jsonl"
        path.write_text(
            '{"id": 1, "title": '
            + "[" * depth
            + "]" * depth
            + ', "description": "x", "tag": '
            + "[" * depth
            + "]" * depth
            + "}\n"
        )
        with pytest.raises(lfkit.DataError) as info:
            lfkit.read_data(path, task)
        assert len(str(info.value)) < 400


@pytest.mark.parametrize("bad_id", ["[1, 2]", '{"a": 1}', "[[[[]]]]"])
def test_ids_that_are_lists_or_objects_are_refused(tmp_path: Path, bad_id: str) -> None:
    """An id that is a JSON list or object is a DataError naming the row, not a crash."""
    path = tmp_path / "data.jsonl"
    path.write_text(
        '{"id": 1, "title": "a", "description": "", "tag": "mlops"}\n'
        f'{{"id": {bad_id}, "title": "b", "description": "", "tag": "mlops"}}\n'
    )
    with pytest.raises(lfkit.DataError, match="row 2: id .* must be a number or a string"):
        lfkit.read_data(path, lfkit.load_rules(CLASS_RULES).task)


def test_fifteen_thousand_keywords_run(tmp_path: Path) -> None:
    """A rule with 15,000 distinct keywords (past what one RE2 filter compiles) runs and matches."""
    words = [f"kw{index:05d}x" for index in range(15_000)]
    body = (
        "labels: {big: {match_name: false}}\nrules:\n  - {name: many, label: big, keywords: ["
        + ", ".join(words)
        + "]}\n"
    )
    ruleset = lfkit.load_rules(write_rules(tmp_path, body))
    df = pd.DataFrame(
        {"title": ["see kw00000x", "and kw14999x", "kw07500", "nothing"], "description": ""}
    )
    assert lfkit.apply_rules(ruleset, df).to_dense()[:, 0].tolist() == [1, 1, -1, -1]


@pytest.mark.slow
def test_split_filter_equals_one_regex_at_a_time() -> None:
    """The split filters find exactly the regexes that match, including lone unfilterable ones."""
    from lfkit.engine.apply import _SplitFilter
    from lfkit.rules.patterns import keyword_regex

    rng = np.random.default_rng(0)
    words = sorted({"".join(rng.choice(list("abcdefghij"), 9)) for _ in range(15_000)})
    split = _SplitFilter([keyword_regex(word) for word in words])
    assert len(split.parts) > 1  # halved
    text = f"{words[0]} {words[-1]} {words[7000]}x"
    assert sorted(split.Match(text.encode())) == [0, len(words) - 1]
    lone = _SplitFilter([keyword_regex("w1"), "(?i)" + "ab" * 60_000])
    assert [part[1] is None for part in lone.parts] == [False, True]  # no filter takes it
    assert lone.Match(b"w1 abab") == [0] and lone.Match(b"w2") == []


@pytest.mark.parametrize(
    ("rule", "phrase"),
    [
        ("keywords: ['" + "ab" * 500_000 + "']", "keyword 'abab"),
        ("regex: ['" + "a" * 1_000_000 + "']", "regex 'aaaa"),
        ("regex: ['(" + "|".join(f"w{i}" for i in range(50_000)) + ")']", "regex '(w0|w1"),
    ],
)
def test_oversized_patterns_are_refused_at_check(tmp_path: Path, rule: str, phrase: str) -> None:
    """A keyword or regex over 10,000 characters is a RuleError naming the rule, not a crash."""
    body = (
        f"labels: {{big: {{match_name: false}}}}\nrules:\n  - {{name: huge, label: big, {rule}}}\n"
    )
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(write_rules(tmp_path, body))
    message = str(info.value)
    assert "rule 'huge'" in message and phrase in message and len(message) < 600
    assert "longer than 10,000 characters" in message


def test_long_parent_chain_loop_is_one_short_error(tmp_path: Path) -> None:
    """A loop through 3,000 labels is one error at its first label, its chain shown shortened."""
    n = 3000
    labels = "".join(
        f"  l{i}: {{parents: [l{(i + 1) % n}], match_name: false}}\n" for i in range(n)
    )
    path = write_rules(tmp_path, "labels:\n" + labels)
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(path)
    (err,) = info.value.errors
    assert err.rule == "l0" and "l0 -> l1 -> " in err.problem and "(3,000 labels) -> l0" in str(err)
    assert len(str(err)) < 400


def test_long_parent_chain_loads(tmp_path: Path) -> None:
    """A chain of 3,000 labels loads, and the last one is an ancestor of the first."""
    n = 3000
    labels = (
        "".join(f"  l{i}: {{parents: [l{i + 1}], match_name: false}}\n" for i in range(n - 1))
        + f"  l{n - 1}: {{}}\n"
    )
    ruleset = lfkit.load_rules(write_rules(tmp_path, "labels:\n" + labels))
    assert ruleset.ancestors("l0")[-1] == f"l{n - 1}" and len(ruleset.ancestors("l0")) == n - 1


@pytest.mark.parametrize(
    ("pattern", "phrase"),
    [
        ("[{LOWER: {REGEX: '(a'}}]", "token REGEX: regex '(a' does not compile with RE2"),
        ("[{TEXT: {REGEX: '(?<=a)b'}}]", "does not compile with RE2"),
        ("[{_: {foo: bar}}]", "token extension attributes ('_') are not available"),
        ("[{LOWER: a, OP: '{100000}'}]", "token quantifier {100000} is over 8"),
        ("[{LOWER: a, OP: '{0,16}'}]", "token quantifier {0,16} is over 8"),
    ],
)
def test_bad_token_patterns_are_rule_errors(tmp_path: Path, pattern: str, phrase: str) -> None:
    """Token patterns that would crash, hang or explode are refused at check, naming the rule."""
    body = (
        "labels: {t: {match_name: false}}\nrules:\n"
        f"  - {{name: tok, label: t, patterns: [{pattern}]}}\n"
    )
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(write_rules(tmp_path, body))
    (err,) = info.value.errors
    assert err.rule == "tok" and err.line > 0 and phrase in str(err)


def test_token_regex_runs_with_re2(tmp_path: Path) -> None:
    """A token REGEX that backtracks catastrophically in Python runs in linear time, and matches
    like the engine's Snorkel functions."""
    from snorkel.labeling import PandasLFApplier

    body = (
        "labels: {t: {match_name: false}}\nrules:\n"
        "  - {name: tok, label: t, patterns: [[{TEXT: {REGEX: '^(x+x+)+y$'}}], "
        "[{LOWER: {REGEX: '^ab+c$'}}, {LOWER: done}]]}\n"
    )
    ruleset = lfkit.load_rules(write_rules(tmp_path, body))
    df = pd.DataFrame(
        {"title": ["x" * 50_000 + "z", "xxxy", "ABBBC done", "abc not"], "description": ""}
    )
    votes = finishes_within(60, lfkit.apply_rules, ruleset, df)
    assert votes.to_dense()[:, 0].tolist() == [-1, 1, 1, -1]
    snorkel = PandasLFApplier(ruleset.to_snorkel()).apply(df, progress_bar=False)
    assert snorkel[:, 0].tolist() == [-1, 1, 1, -1]


@pytest.mark.parametrize(
    "pattern",
    [
        [{"IS_ALPHA": True, "OP": "*"}],
        [{"IS_ALPHA": True, "OP": "+"}],
        [{"IS_ALPHA": True, "OP": "{1,}"}],
        [{"LOWER": "a"}, {"OP": "*"}, {"LOWER": "b"}],
    ],
)
def test_unbounded_token_patterns_on_long_cells_finish(pattern: list[dict[str, object]]) -> None:
    """Patterns with *, + or {1,} on a cell of 20,000 tokens finish (no quadratic match list)."""
    from lfkit.rules.tokens import blank_nlp, build_matcher, match_keys

    doc = blank_nlp().make_doc("a " * 20_000 + "b")
    keys = finishes_within(60, match_keys, build_matcher([pattern]), doc)
    assert keys == {0}


def test_evidence_spans_per_cell_are_bounded() -> None:
    """A cell with millions of matches yields at most MAX_SPANS evidence spans per rule."""
    from lfkit.rules.patterns import MAX_SPANS, keyword_regex, match_spans
    from lfkit.rules.tokens import token_spans

    text = "ab " * 2_000_000
    assert len(match_spans(keyword_regex("ab"), text)) == MAX_SPANS
    spans = token_spans([[{"LOWER": "ab", "OP": "+"}]], "ab " * 5_000)
    assert 0 < len(spans) <= MAX_SPANS


def _fake_server(greeting: bytes | None) -> tuple[int, Any, list[Any]]:
    """Start a TCP server that accepts and sends `greeting` (None: stays silent)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    held = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if greeting is not None:
                conn.sendall(greeting)

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], server, held


@pytest.mark.parametrize(
    ("greeting", "phrase"),
    [
        (None, "sent no Dask handshake within 1 s"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "answered, but not as a Dask scheduler"),
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "answered, but not as a Dask scheduler"),
    ],
)
def test_scheduler_that_is_not_dask_is_refused(greeting: bytes | None, phrase: str) -> None:
    """A port that stays silent or speaks another protocol is an error within the timeout."""
    from lfkit.engine.distributed import connect

    port, server, held = _fake_server(greeting)
    try:
        with pytest.raises(lfkit.LfkitError, match=phrase):
            finishes_within(30, connect, f"tcp://127.0.0.1:{port}", timeout="1s")
    finally:
        server.close()
        for conn in held:
            conn.close()
