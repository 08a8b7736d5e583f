"""The engine votes exactly as the rules' own labeling functions on the cases where its fast
paths differ: runs of every packed length, real n-grams as keywords, token prefilters,
function rules on tiny frames, oversized RE2 filters (found by mutation testing, see
docs/testing.md "Mutation testing")."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from conftest import description_ngrams

import lfkit
from lfkit import ABSTAIN
from lfkit.rules.lfs import RuleVote
from lfkit.rules.ruleset import RuleSet

TASK = {"kind": "multilabel", "text_columns": ["title", "description"], "label_column": "tags"}


def load(tmp_path: Path, rules: list[dict[str, Any]]) -> RuleSet:
    """Load rules (all of label 'x') written as a YAML file."""
    path = tmp_path / "rules.yaml"
    document = {"task": TASK, "labels": {"x": {"match_name": False}}, "rules": rules}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return lfkit.load_rules(path)


def own_votes(ruleset: RuleSet, df: pd.DataFrame) -> np.ndarray:
    """Return the votes of the rules' own LF functions (RE2 per rule), called row by row."""
    votes = [RuleVote(rule) for rule in ruleset.rules]
    return np.array(
        [[vote(row) for vote in votes] for row in df.to_dict("records")], dtype=np.int64
    ).reshape(len(df), len(votes))


def engine_votes(ruleset: RuleSet, df: pd.DataFrame) -> np.ndarray:
    """Return apply_rules' votes after checking that they equal the rules' own LFs."""
    matrix = lfkit.apply_rules(ruleset, df).to_dense()
    np.testing.assert_array_equal(matrix, own_votes(ruleset, df))
    return matrix


def test_keywords_of_every_run_length_match(tmp_path: Path) -> None:
    """Words of 8 to 45 letters (both packed tiers, their edges 16/17 and 32/33 bytes, and
    the unpacked long runs) match alone, joined to their neighbours, and not when cut or
    when their last letter differs."""
    words = ["a" * 8, "b" * 15, "c" * 16, "d" * 17, "e" * 31, "f" * 32, "g" * 33, "h" * 45]
    rules = [{"name": f"w{len(word)}", "label": "x", "keywords": [word]} for word in words]
    rules.append({"name": "pair", "label": "x", "keywords": [f"{'c' * 16} {'i' * 16}"]})
    titles = [
        *words,
        *(word[:-1] for word in words),
        *(word[:-1] + "z" for word in words),
        f"{'c' * 16}-{'i' * 16}",
        "c" * 16 + "i" * 16,
        " ".join(words),
    ]
    L = engine_votes(load(tmp_path, rules), pd.DataFrame({"title": titles, "description": ""}))
    n = len(words)
    assert (np.diag(L[:n, :n]) == 1).all() and (L[:n, :n] != ABSTAIN).sum() == n
    assert (L[n : 3 * n] == ABSTAIN).all()
    assert L[3 * n :, n].tolist() == [1, 1, ABSTAIN]
    assert L[-1, :n].tolist() == [1] * n


def test_real_ngrams_as_keywords_vote_as_their_rules(
    projects: pd.DataFrame, tmp_path: Path
) -> None:
    """Word 1- to 3-grams of real descriptions as keywords (shared prefixes, many trie nodes
    per word) vote on real projects as the rules' own LFs, ASCII or not."""
    phrases = description_ngrams(projects, 20, 240)
    rules = [
        {"name": f"r{i}", "label": "x", "keywords": phrases[start : start + 30]}
        for i, start in enumerate(range(0, len(phrases), 30))
    ]
    non_ascii = projects.index[~projects["description"].map(str.isascii)][:10].tolist()
    sample = projects.loc[sorted({*range(0, 60, 2), *non_ascii}), ["title", "description"]]
    L = engine_votes(load(tmp_path, rules), sample)
    assert (L != ABSTAIN).sum() > 60


def test_keywords_in_every_word_order_are_told_apart(tmp_path: Path) -> None:
    """All 14 keywords of one to three words 'deep'/'net', each its own rule: a text of one of
    them votes for it and for the keywords inside it, never for another word order."""
    phrases = [
        " ".join(words) for n in (1, 2, 3) for words in itertools.product(["deep", "net"], repeat=n)
    ]
    rules = [{"name": phrase, "label": "x", "keywords": [phrase]} for phrase in phrases]
    L = engine_votes(load(tmp_path, rules), pd.DataFrame({"title": phrases, "description": ""}))
    for row, text in enumerate(phrases):
        inside = [f" {phrase} " in f" {text} " for phrase in phrases]
        assert (L[row] == 1).tolist() == inside


def test_keyword_gaps_of_any_length_and_content(tmp_path: Path) -> None:
    """'deep net' matches across 1 to 12 separators (spaces, tabs, newlines, '-', '_'), and not
    when any one character of such a gap, first to last, is something else ('.', a no-break
    space, a vertical tab)."""
    rules = [{"name": "deep-net", "label": "x", "keywords": ["deep net"]}]
    gaps = [(" \t\n-_\r\f" * 2)[:n] for n in range(1, 13)]
    broken = [
        gap[:i] + odd + gap[i + 1 :]
        for gap in gaps
        for i in range(len(gap))
        for odd in ".\x0b\u00a0"
    ]
    titles = [f"deep{gap}net" for gap in gaps + broken]
    L = engine_votes(load(tmp_path, rules), pd.DataFrame({"title": titles, "description": ""}))
    assert L[:, 0].tolist() == [1] * len(gaps) + [ABSTAIN] * len(broken)


def test_keyword_boundaries_at_the_start_of_the_column(tmp_path: Path) -> None:
    """An underscore before a keyword at the very start of the column's text joins it to a
    word; a non-ASCII letter two bytes before a keyword (after a separator) does not."""
    rules = [{"name": "tf", "label": "x", "keywords": ["tf", "stop"]}]
    titles = ["_tf", "tf", "é-stop", "é stop", "ü-stop", "éstop"]
    L = engine_votes(load(tmp_path, rules), pd.DataFrame({"title": titles, "description": ""}))
    assert L[:, 0].tolist() == [ABSTAIN, 1, 1, 1, 1, ABSTAIN]


def test_keywords_next_to_characters_of_every_utf8_size(tmp_path: Path) -> None:
    """Letters of 2, 3 and 4 UTF-8 bytes next to a keyword make it part of a word (no match);
    symbols of the same sizes do not."""
    rules = [{"name": "stop", "label": "x", "keywords": ["stop"]}]
    letters, symbols = ["é", "中", "क", "\U0001d400"], ["\u00a7", "€", "\u0964", "\U0001f600"]
    titles = [t for c in letters + symbols for t in (f"{c}stop", f"stop{c}", f"a{c}stop")]
    L = engine_votes(load(tmp_path, rules), pd.DataFrame({"title": titles, "description": ""}))
    assert L[:, 0].tolist() == [ABSTAIN] * 12 + [1] * 12


def test_token_patterns_prefilter_skips_only_rows_that_cannot_match(tmp_path: Path) -> None:
    """Rows without a word a token pattern requires are skipped, the rows after them are not,
    and a pattern that requires no word (a number) runs on every row."""
    worded = {"name": "detect", "label": "x", "patterns": [[{"LOWER": "detect"}]]}
    number = {"name": "number", "label": "x", "patterns": [[{"LIKE_NUM": True}]]}
    titles = ["nothing here", "we detect it", "draw 3 boxes", "detect 3"]
    df = pd.DataFrame({"title": titles, "description": ""})
    assert engine_votes(load(tmp_path, [worded]), df)[:, 0].tolist() == [-1, 1, -1, 1]
    assert engine_votes(load(tmp_path, [worded, number]), df)[:, 1].tolist() == [-1, -1, 1, 1]


def short_title(row: Any) -> int:
    """Vote 1 for a title of at most two words."""
    return 1 if len(str(row["title"]).split()) <= 2 else ABSTAIN


def test_function_rules_on_empty_and_one_row_frames(tmp_path: Path) -> None:
    """A rule set with a function column votes on frames of zero, one and two rows."""
    ruleset = load(tmp_path, [{"name": "kw", "label": "x", "keywords": ["gan"]}])
    ruleset = ruleset.with_lfs({"x": short_title})
    df = pd.DataFrame({"title": ["GAN art", "a long title here"], "description": ""})
    for rows in (0, 1, 2):
        L = engine_votes(ruleset, df.head(rows))
        assert L.shape == (rows, 2)
    assert L.tolist() == [[1, 1], [ABSTAIN, ABSTAIN]]
