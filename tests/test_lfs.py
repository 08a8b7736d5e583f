"""Your own labeling functions as rule set columns: API, equality with Snorkel, CLI --lfs."""

from __future__ import annotations

import json
import pickle
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import CLASS_RULES, EXAMPLES, TAG_RULES, write_rules
from snorkel.labeling import LabelingFunction, PandasLFApplier, labeling_function
from typer.testing import CliRunner

import lfkit
from lfkit import ABSTAIN, DataError, LfkitError
from lfkit.cli import app
from lfkit.rules.ruleset import RuleSet

SPAM_TASK = "task: {kind: multiclass, text_columns: [text], label_column: label}"
SPAM_RULES = """labels: {ham: {match_name: false}, spam: {match_name: false}}
rules:
  - {name: keyword_my, label: spam, keywords: [my], match: substring}
"""
COMMENTS = pd.DataFrame(
    {
        "text": [
            "Check out my channel https://x.co",
            "Great song, love it",
            "check it out",
            "Subscribe to my page",
            "i like this",
        ],
        "polarity": [0.0, 0.8, 0.0, 0.0, 0.3],
    }
)


# Snorkel's spam tutorial LFs, as written there (labels: ham 0, spam 1).
@labeling_function()
def regex_check_out(x: Any) -> int:
    """Spam when the comment says 'check ... out'."""
    return 1 if re.search(r"check.*out", x.text, flags=re.I) else ABSTAIN


@labeling_function()
def short_comment(x: Any) -> int:
    """Ham when the comment is shorter than 5 words."""
    return 0 if len(x.text.split()) < 5 else ABSTAIN


def textblob_polarity(row: Any) -> int:
    """Ham when a precomputed polarity is high (a plain function of a row)."""
    return 0 if row["polarity"] > 0.5 else ABSTAIN


def spam_or_ham(row: Any) -> str | int:
    """A function that casts either class, by name."""
    if "subscribe" in row["text"].lower():
        return "spam"
    return "ham" if "love" in row["text"].lower() else ABSTAIN


def mentions_paper(row: Any) -> int:
    """A multilabel LF: 1 when a project mentions a paper, 0 when it is a tutorial."""
    text = f"{row['title']} {row['description']}".lower()
    if "paper" in text:
        return 1
    return 0 if "tutorial" in text else ABSTAIN


def spam_rules(tmp_path: Path) -> RuleSet:
    """Load the one-rule spam rule set."""
    return lfkit.load_rules(write_rules(tmp_path, SPAM_RULES, task=SPAM_TASK))


def snorkel_matrix(ruleset: RuleSet, df: pd.DataFrame) -> np.ndarray:
    """Return the label matrix of Snorkel's applier on the rule set's LFs."""
    return PandasLFApplier(ruleset.to_snorkel()).apply(df, progress_bar=False)


def test_with_lfs_bound_and_unbound_columns(tmp_path: Path) -> None:
    """Bound LFs are one named column; an unbound multiclass LF is one column per class."""
    ruleset = spam_rules(tmp_path).with_lfs(
        {"spam": regex_check_out, "ham": [short_comment, textblob_polarity]}
    )
    ruleset = ruleset.with_lfs([spam_or_ham])
    assert ruleset.rule_names == [
        "keyword_my",
        "regex_check_out",
        "short_comment",
        "textblob_polarity",
        "spam_or_ham=ham",
        "spam_or_ham=spam",
    ]
    L = lfkit.apply_rules(ruleset, COMMENTS).to_dense()
    np.testing.assert_array_equal(L, snorkel_matrix(ruleset, COMMENTS))
    original = PandasLFApplier([regex_check_out, short_comment]).apply(COMMENTS, progress_bar=False)
    np.testing.assert_array_equal(L[:, 1:3], original)
    assert L[:, 3].tolist() == [ABSTAIN, 0, ABSTAIN, ABSTAIN, ABSTAIN]
    assert L[:, 4:].tolist() == [[-1, -1], [0, -1], [-1, -1], [-1, 1], [-1, -1]]


def test_lf_returning_an_undeclared_class_is_an_error(tmp_path: Path) -> None:
    """An LF bound to 'ham' that votes spam stops apply_rules, naming it and the row."""
    ruleset = spam_rules(tmp_path).with_lfs({"ham": spam_or_ham})
    with pytest.raises(DataError, match=r"'spam_or_ham' returned 'spam' on row 4.*0 \(ham\)"):
        lfkit.apply_rules(ruleset, COMMENTS)


def test_lf_returning_junk_is_an_error(tmp_path: Path) -> None:
    """A vote that is no class index or name names the function and what it expected."""

    def junk(row: Any) -> str:
        return "maybe"

    ruleset = spam_rules(tmp_path).with_lfs([junk])
    with pytest.raises(
        DataError, match=r"'junk' returned 'maybe' on row 1; expected a class index 0\.\.1"
    ):
        lfkit.apply_rules(ruleset, COMMENTS)


def test_lf_that_raises_names_itself_and_the_row(tmp_path: Path) -> None:
    """An exception inside an LF becomes a DataError naming the LF and the row."""

    def broken(row: Any) -> int:
        return int(row["text"])

    ruleset = spam_rules(tmp_path).with_lfs({"ham": broken})
    with pytest.raises(DataError, match=r"labeling function 'broken' failed on row 1: ValueError"):
        lfkit.apply_rules(ruleset, COMMENTS)


@pytest.mark.parametrize(
    ("lfs", "options", "phrase"),
    [
        (lambda row: 1, {}, "has no name"),
        ("not a function", {}, "is not a labeling function"),
        ({"maybe": textblob_polarity}, {}, "declared for 'maybe', which is not a label"),
        ([textblob_polarity, textblob_polarity], {"label": "ham"}, "already has a column"),
        (
            [LabelingFunction("keyword_my", f=textblob_polarity)],
            {"label": "ham"},
            "already has a column 'keyword_my'",
        ),
    ],
)
def test_with_lfs_refuses_bad_functions(
    tmp_path: Path, lfs: Any, options: dict[str, Any], phrase: str
) -> None:
    """Each bad function or binding is an LfkitError with a clear phrase."""
    with pytest.raises(LfkitError, match=re.escape(phrase)):
        spam_rules(tmp_path).with_lfs(lfs, **options)


def test_multilabel_lf_must_name_its_tag(tag_rules: RuleSet) -> None:
    """A multilabel LF without a tag is refused with a hint showing the mapping."""
    with pytest.raises(LfkitError, match=r"say which tag it votes on.*\{'tag': \[mentions_paper\]"):
        tag_rules.with_lfs([mentions_paper])


def test_multilabel_lf_votes_both_ways_on_projects(
    tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """vote='both' gives a present and an absent column, equal to the function on all rows."""
    ruleset = tag_rules.with_lfs({"machine-learning": mentions_paper}, vote="both")
    assert ruleset.rule_names[-2:] == ["mentions_paper", "mentions_paper=not"]
    df = projects
    L = lfkit.apply_rules(ruleset, df).to_dense()
    expected = np.array([mentions_paper(row) for _, row in df.iterrows()])
    np.testing.assert_array_equal(L[:, -2], np.where(expected == 1, 1, ABSTAIN))
    np.testing.assert_array_equal(L[:, -1], np.where(expected == 0, 0, ABSTAIN))
    assert (expected == 1).sum() > 20 and (expected == 0).sum() > 20
    lfs = ruleset.to_snorkel()[-2:]  # Snorkel's applier on all 1,900 rules takes minutes
    np.testing.assert_array_equal(L[:, -2:], PandasLFApplier(lfs).apply(df, progress_bar=False))


def test_positive_multilabel_lf_returning_zero_is_an_error(
    tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """vote='positive' (the default) refuses a 0 vote and says how to declare it."""
    ruleset = tag_rules.with_lfs({"machine-learning": mentions_paper})
    df = pd.DataFrame({"title": ["x"], "description": ["a tutorial"], "id": [1]})
    with pytest.raises(DataError, match=r"declared to vote only 1 \(present\)"):
        lfkit.apply_rules(ruleset, df)


def test_ruleset_with_lfs_pickles(tmp_path: Path) -> None:
    """A rule set with module-level LFs pickles (the Dask engine ships it to workers)."""
    ruleset = spam_rules(tmp_path).with_lfs({"spam": regex_check_out, "ham": textblob_polarity})
    copy = pickle.loads(pickle.dumps(ruleset))
    np.testing.assert_array_equal(
        lfkit.apply_rules(copy, COMMENTS).to_dense(),
        lfkit.apply_rules(ruleset, COMMENTS).to_dense(),
    )


def test_lfs_feed_analysis_and_audit(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """An LF's column shows in analyze_rules and as evidence in audit flags, by its name."""

    def says_nlp(row: Any) -> int:
        return 1 if "language" in f"{row['title']} {row['description']}".lower() else ABSTAIN

    ruleset = class_rules.with_lfs([says_nlp])
    assert "says_nlp=natural-language-processing" in ruleset.rule_names
    votes = lfkit.apply_rules(ruleset, classes)
    stats = {s.rule: s for s in lfkit.analyze_rules(ruleset, votes, classes["tag"], classes["id"])}
    lf_stats = stats["says_nlp=natural-language-processing"]
    assert lf_stats.fired > 10 and lf_stats.precision is not None and lf_stats.precision > 0.5
    assert stats["says_nlp=computer-vision"].fired == 0
    report = lfkit.audit_labels(ruleset, classes, neighbours=False, votes=votes, top=200)
    evidence = {m.rule for flag in report.flags for m in flag.rules_for + flag.rules_against}
    assert "says_nlp=natural-language-processing" in evidence


# The loader of --lfs specs and the CLI

RUNNER = CliRunner()
LFS_MODULE = """
from snorkel.labeling import labeling_function

@labeling_function()
def lf_language(x):
    text = f"{x.title} {x.description}".lower()
    return "natural-language-processing" if "language" in text else -1

def lf_arxiv(row):
    return 1 if "arxiv" in str(row["description"]).lower() else -1

CLASS_LFS = {"natural-language-processing": [lf_language]}
TAG_LFS = {"machine-learning": lf_arxiv}
NOT_LFS = 42
"""


def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Write the LFs module under a unique name and run from its folder."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(LFS_MODULE))
    monkeypatch.chdir(tmp_path)


def run(*args: Any) -> tuple[int, str, str]:
    """Run lfkit with arguments; return exit code, stdout and stderr."""
    result = RUNNER.invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def test_load_lfs_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad specs name what is wrong: the form, the module, the name, the type."""
    write_module(tmp_path, monkeypatch, "lfs_errors")
    cases = [
        ("lfs_errors", "is not of the form package.module:NAME"),
        ("no_such_module_x:LFS", "no module named 'no_such_module_x'"),
        ("lfs_errors:MISSING", "has no 'MISSING'; it defines: CLASS_LFS, NOT_LFS, TAG_LFS"),
        ("lfs_errors:NOT_LFS", "'NOT_LFS' is a int"),
    ]
    for spec, phrase in cases:
        with pytest.raises(LfkitError, match=re.escape(phrase)):
            lfkit.load_lfs(spec)
    assert lfkit.load_lfs("lfs_errors:TAG_LFS")["machine-learning"].__name__ == "lf_arxiv"


def test_cli_apply_analyze_audit_with_lfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--lfs adds the LF's column to apply's votes, analyze's table and audit's evidence."""
    write_module(tmp_path, monkeypatch, "lfs_cli")
    data = EXAMPLES / "dataset.csv"
    code, out, err = run(
        "apply", data, "--rules", CLASS_RULES, "--lfs", "lfs_cli:CLASS_LFS", "-o", "votes.csv"
    )
    assert code == 0, err
    assert "lf_language" in pd.read_csv(tmp_path / "votes.csv").columns
    code, out, err = run(
        "analyze", data, "--rules", CLASS_RULES, "--lfs", "lfs_cli:CLASS_LFS", "-f", "json"
    )
    assert code == 0, err
    assert "lf_language" in {row["rule"] for row in json.loads(out)}
    code, out, err = run(
        "audit",
        data,
        "-r",
        CLASS_RULES,
        "--lfs",
        "lfs_cli:CLASS_LFS",
        "-f",
        "jsonl",
        "--top",
        "300",
        "--min-score",
        "0",
    )
    assert code == 0, err
    rules = {
        match["rule"]
        for line in out.splitlines()
        for match in json.loads(line)["evidence"]["rules_for"]
    }
    assert "lf_language" in rules


def test_cli_lfs_errors_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad spec or a multilabel LF list without tags exits 1 with the spec in the message."""
    write_module(tmp_path, monkeypatch, "lfs_cli_bad")
    data = EXAMPLES / "projects.json"
    code, _, err = run("apply", data, "-r", TAG_RULES, "--lfs", "lfs_cli_bad:NOPE")
    assert code == 1 and "--lfs lfs_cli_bad:NOPE: module 'lfs_cli_bad' has no 'NOPE'" in err
    code, _, err = run("apply", data, "-r", TAG_RULES, "--lfs", "lfs_cli_bad:CLASS_LFS")
    assert (
        code == 1
        and "'lf_language' returned 'natural-language-processing' on row 10 (id 2429)" in err
    )
    assert "expected 1 (tag present), 0 (absent) or -1 (abstain)" in err
    code, out, err = run(
        "apply", data, "-r", TAG_RULES, "--lfs", "lfs_cli_bad:TAG_LFS", "-o", "v.csv"
    )
    assert code == 0 and (pd.read_csv(tmp_path / "v.csv")["lf_arxiv"] == 1).sum() > 5
    assert "Traceback" not in err


def test_cli_label_with_lfs_saves_and_reuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, classes: pd.DataFrame
) -> None:
    """label --lfs fits with the LF's column; the saved model needs the same --lfs on reuse."""
    write_module(tmp_path, monkeypatch, "lfs_label")
    classes.iloc[:400].drop(columns="tag").to_csv(tmp_path / "a.csv", index=False)
    classes.iloc[400:].drop(columns="tag").to_csv(tmp_path / "b.csv", index=False)
    lfs = ("--lfs", "lfs_label:CLASS_LFS")
    code, out, err = run(
        "label", "a.csv", "-r", CLASS_RULES, *lfs, "-o", "a.jsonl", "--save-model", "m.json"
    )
    assert code == 0, err
    assert "lf_language" in (tmp_path / "m.json").read_text()
    code, out, err = run(
        "label", "b.csv", "-r", CLASS_RULES, *lfs, "--model", "m.json", "-o", "b.csv.jsonl"
    )
    assert code == 0, err
    labelled = pd.read_json(tmp_path / "b.csv.jsonl", lines=True)
    assert len(labelled) == len(classes) - 400
    code, out, err = run("label", "b.csv", "-r", CLASS_RULES, "--model", "m.json", "-o", "c.jsonl")
    assert code == 1 and "fitted on another rule set" in err


@pytest.mark.slow
def test_dask_engine_runs_new_rule_kinds_and_lfs(
    cluster: Any, tmp_path: Path, projects: pd.DataFrame, tag_rules: RuleSet
) -> None:
    """On a 2-process LocalCluster, length, score, match-mode rules and LFs equal the local run."""
    import dask
    import dask.dataframe as dd

    body = """labels: {short: {match_name: false}, confident: {match_name: false}}
rules:
  - {name: terse, label: short, fields: [title], length: {max: 4}}
  - {name: sure, label: confident, score: {column: p, min: 0.5}}
  - {name: nets, label: confident, keywords: [net], match: prefix}
"""
    ruleset = lfkit.load_rules(write_rules(tmp_path, body)).with_lfs(
        {"short": [regex_check_out, mentions_paper]}, vote="both"
    )
    df = projects.assign(p=np.random.default_rng(0).random(len(projects)), text=projects["title"])
    expected = lfkit.apply_rules(ruleset, df).to_dense()
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(df, npartitions=5, sort=False)
        got = lfkit.apply_rules(ruleset, ddf).to_dense()
    np.testing.assert_array_equal(got, expected)
    assert (expected[:, :3] != ABSTAIN).any(axis=0).all()
