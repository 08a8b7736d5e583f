"""The engine: each rule feature on crafted texts, and equality with Snorkel's applier."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import re2
import yaml
from conftest import description_ngrams, write_rules
from hypothesis import given
from hypothesis import strategies as st
from snorkel.labeling import PandasLFApplier

import lfkit
from lfkit import ABSTAIN
from lfkit.engine import apply as engine
from lfkit.engine import keywords
from lfkit.engine.keywords import keyword_words
from lfkit.rules.lfs import RuleVote
from lfkit.rules.patterns import keyword_regex
from lfkit.rules.ruleset import RuleSet


def snorkel_matrix(ruleset: RuleSet, df: pd.DataFrame) -> np.ndarray:
    """Return the label matrix of Snorkel's own row-by-row applier."""
    return PandasLFApplier(ruleset.to_snorkel()).apply(df, progress_bar=False)


def votes_on(tmp_path: Path, body: str, titles: list[str], **columns: list[str]) -> np.ndarray:
    """Apply a one-file rule set to crafted titles; check it equals Snorkel; return L."""
    ruleset = lfkit.load_rules(write_rules(tmp_path, body))
    df = pd.DataFrame(
        {"title": titles, "description": columns.get("description", [""] * len(titles))}
    )
    matrix = lfkit.apply_rules(ruleset, df).to_dense()
    np.testing.assert_array_equal(matrix, snorkel_matrix(ruleset, df))
    return matrix


def test_keywords_match_whole_words_only(tmp_path: Path) -> None:
    """'tf' matches 'TF 2.0' and '(tf)' but not 'tfidf' or 'pytf'."""
    L = votes_on(
        tmp_path,
        "labels: {tensorflow: {match_name: false, aliases: [tf]}}",
        ["TF 2.0 models", "tfidf features", "pytf", "models (tf)", "tf"],
    )
    assert L[:, 0].tolist() == [1, ABSTAIN, ABSTAIN, 1, 1]


def test_keywords_fold_hyphens_spaces_underscores(tmp_path: Path) -> None:
    """'question-answering' matches its space, underscore and joined variants, any case."""
    L = votes_on(
        tmp_path,
        "labels: {question-answering: {}}",
        ["Question Answering", "question_answering", "QuestionAnswering", "questions"],
    )
    assert L[:, 0].tolist() == [1, 1, 1, ABSTAIN]


def test_keywords_word_boundaries_are_unicode(tmp_path: Path) -> None:
    """A letter such as 'é' next to a keyword is part of the word, so no match."""
    L = votes_on(
        tmp_path,
        "labels: {cafe: {match_name: false, aliases: [caf, café]}}",
        ["café au lait", "CAFÉ", "cafébar", "caf"],
    )
    assert L[:, 0].tolist() == [1, 1, ABSTAIN, 1]


def test_keywords_with_symbols(tmp_path: Path) -> None:
    """'c++' and 'c#' match as written, and 'c' alone does not match them."""
    L = votes_on(
        tmp_path,
        "labels: {cpp: {match_name: false, aliases: [c++]}, "
        "csharp: {match_name: false, aliases: ['c#']}}",
        ["written in C++", "c# and .NET", "c programming"],
    )
    assert L.tolist() == [[1, ABSTAIN], [ABSTAIN, 1], [ABSTAIN, ABSTAIN]]


def test_case_sensitive_rule(tmp_path: Path) -> None:
    """A case-sensitive rule matches 'QA' but not 'qa'."""
    L = votes_on(
        tmp_path,
        """labels: {question-answering: {match_name: false}}
rules:
  - {name: qa, label: question-answering, keywords: [QA], case_sensitive: true}
""",
        ["QA over documents", "a qa tool"],
    )
    assert L[:, 0].tolist() == [1, ABSTAIN]


def test_negative_vote_and_unless(tmp_path: Path) -> None:
    """A negative rule votes 0; 'unless' makes a rule abstain."""
    L = votes_on(
        tmp_path,
        """labels: {vision-transformers: {match_name: false}}
rules:
  - name: vit
    label: vision-transformers
    keywords: [vision transformer, vit]
    unless: {keywords: [vitamin]}
  - name: not-vit
    label: vision-transformers
    vote: negative
    keywords: [computer vision]
    unless: {regex: ['vi(sion)?\\s*transformer']}
""",
        [
            "ViT for images",
            "ViT and vitamin D",
            "classic computer vision",
            "computer vision transformer",
        ],
    )
    assert L.tolist() == [[1, ABSTAIN], [ABSTAIN, ABSTAIN], [ABSTAIN, 0], [1, ABSTAIN]]


def test_fields_limit_where_a_rule_looks(tmp_path: Path) -> None:
    """A rule with fields: [title] ignores the description."""
    L = votes_on(
        tmp_path,
        """labels: {gan: {match_name: false}}
rules:
  - {name: gan-title, label: gan, keywords: [gan], fields: [title]}
  - {name: gan-any, label: gan, keywords: [gan]}
""",
        ["GAN art", "art"],
        description=["", "a GAN"],
    )
    assert L.tolist() == [[1, 1], [ABSTAIN, 1]]


def test_token_patterns(tmp_path: Path) -> None:
    """spaCy token patterns match on token attributes, with operators."""
    L = votes_on(
        tmp_path,
        """labels: {object-detection: {match_name: false}}
rules:
  - name: detect-objects
    label: object-detection
    patterns:
      - [{LOWER: {IN: [detect, detecting]}}, {IS_ALPHA: true, OP: "?"}, {LOWER: objects}]
      - [{LIKE_NUM: true}, {LOWER: boxes}]
""",
        ["Detecting small objects", "detect objects", "objects detected", "draw 3 boxes"],
    )
    assert L[:, 0].tolist() == [1, 1, ABSTAIN, 1]


def test_regex_rules(tmp_path: Path) -> None:
    """Regexes are case-insensitive by default and use RE2 syntax."""
    L = votes_on(
        tmp_path,
        """labels: {bert: {match_name: false}}
rules:
  - {name: bert-family, label: bert, regex: ['\\b(ro|distil|al)?bert(a)?\\b']}
""",
        ["RoBERTa fine-tuning", "DistilBERT", "Bertrand Russell"],
    )
    assert L[:, 0].tolist() == [1, 1, ABSTAIN]


def test_missing_and_odd_cells_are_empty_text(tmp_path: Path) -> None:
    """NaN, None and numbers in text cells never crash and match as text."""
    ruleset = lfkit.load_rules(write_rules(tmp_path, "labels: {pi: {aliases: ['3']}}"))
    df = pd.DataFrame({"title": [None, np.nan, 3, "pi is 3"], "description": ["", None, "", 4]})
    matrix = lfkit.apply_rules(ruleset, df).to_dense()
    np.testing.assert_array_equal(matrix, snorkel_matrix(ruleset, df))
    assert matrix[:, 0].tolist() == [ABSTAIN, ABSTAIN, 1, 1]


def test_apply_rules_missing_column(tmp_path: Path) -> None:
    """A missing text column is a DataError naming the column and what is there."""
    ruleset = lfkit.load_rules(write_rules(tmp_path, "labels: {gan: {}}"))
    with pytest.raises(lfkit.DataError, match="column 'description' is not in the DataFrame"):
        lfkit.apply_rules(ruleset, pd.DataFrame({"title": ["x"]}))


def test_labeling_functions_pickle_and_vote(tag_rules: RuleSet) -> None:
    """The LabelingFunctions survive pickling (for parallel appliers) and vote the same."""
    lfs = pickle.loads(pickle.dumps(tag_rules.to_snorkel()))
    assert [lf.name for lf in lfs] == tag_rules.rule_names
    assert len(set(tag_rules.rule_names)) == len(tag_rules)
    row = pd.Series({"title": "YOLO object detection in PyTorch", "description": ""})
    named = {lf.name: lf(row) for lf in lfs}
    assert named["pytorch:alias"] == 1 and named["object-detection:alias"] == 1
    assert named["tensorflow:alias"] == ABSTAIN


@pytest.mark.slow
def test_apply_rules_equals_snorkel_on_all_projects(
    tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """Every cell of the curated rules on all 2,032 projects equals PandasLFApplier's."""
    votes = lfkit.apply_rules(tag_rules, projects)
    expected = snorkel_matrix(tag_rules, projects)
    assert votes.shape == expected.shape == (2032, len(tag_rules))
    np.testing.assert_array_equal(votes.to_dense(), expected)
    assert votes.fired.nnz > 2000


def test_apply_rules_equals_snorkel_multiclass(class_rules: RuleSet, classes: pd.DataFrame) -> None:
    """The 4-class rules vote class indices exactly as Snorkel does on dataset.csv."""
    matrix = lfkit.apply_rules(class_rules, classes).to_dense()
    np.testing.assert_array_equal(matrix, snorkel_matrix(class_rules, classes))
    assert set(np.unique(matrix)) <= {ABSTAIN, 0, 1, 2, 3}
    assert (matrix != ABSTAIN).any(axis=0).sum() > len(class_rules) // 2


def test_apply_rules_is_deterministic(tag_rules: RuleSet, projects: pd.DataFrame) -> None:
    """Applying the rules twice, or to a shuffled copy, gives the same votes per row."""
    first = lfkit.apply_rules(tag_rules, projects).to_dense()
    order = np.random.default_rng(0).permutation(len(projects))
    shuffled = lfkit.apply_rules(tag_rules, projects.iloc[order]).to_dense()
    np.testing.assert_array_equal(first, lfkit.apply_rules(tag_rules, projects).to_dense())
    np.testing.assert_array_equal(first[order], shuffled)


# The keyword index (lfkit/engine/keywords.py) and the RE2 filters' candidate rows.


def reference_matrix(ruleset: RuleSet, df: pd.DataFrame) -> np.ndarray:
    """Return the votes of the rules' own Snorkel LF functions, called row by row."""
    votes = [RuleVote(rule) for rule in ruleset.rules]
    rows = df.to_dict("records")
    return np.array([[vote(row) for vote in votes] for row in rows], dtype=np.int64).reshape(
        len(rows), len(votes)
    )


def test_keywords_separators_and_underscores(tmp_path: Path) -> None:
    """Runs of spaces/hyphens/underscores join words; '_' next to a keyword is part of a word."""
    L = votes_on(
        tmp_path,
        "labels: {qa: {match_name: false, aliases: [question answering, tf]}}",
        [
            "question_answering",
            "question -_ answering",
            "question\t\n answering",
            "questionanswering",
            "question\x0banswering",
            "question\u00a0answering",
            "question.answering",
            "_tf",
            "tf_",
            "tf-idf",
            "x\x00tf",
            "\u017fome tf",
        ],
    )
    assert L[:, 0].tolist() == [1, 1, 1, 1, -1, -1, -1, -1, -1, 1, 1, 1]


def test_keywords_long_words_digits_and_folding(tmp_path: Path) -> None:
    """Words over 16 bytes, digits, the long s and the Kelvin sign match as RE2 matches them."""
    L = votes_on(
        tmp_path,
        """labels: {nets: {match_name: false}}
rules:
  - {name: long, label: nets, keywords: [convolutionalneuralnetworks, yolo v5]}
  - {name: folded, label: nets, keywords: [stop, kb]}
  - {name: cased, label: nets, keywords: [KB], case_sensitive: true}
  - {name: ascii, label: nets, regex: ['\\bKB\\b', '\\bdeep rl\\b']}
""",
        [
            "ConvolutionalNeuralNetworks!",
            "convolutionalneuralnetworksx",
            "YOLOv5 and yolo-v5",
            "\u017ftop",
            "x\u017ftop",
            "\u212aB",
            "x\u212aB",
            "KB",
            "Deep RL",
            "deep  rl",
        ],
    )
    assert L[:, 0].tolist() == [1, -1, 1, -1, -1, -1, -1, -1, -1, -1]
    assert L[:, 1].tolist() == [-1, -1, -1, 1, -1, 1, -1, 1, -1, -1]


def test_keywords_next_to_non_ascii_characters(tmp_path: Path) -> None:
    """A non-ASCII letter or digit next to a keyword is part of a word; marks and symbols are
    not, except U+0345, which RE2's case folding puts among the letters."""
    L = votes_on(
        tmp_path,
        """labels: {nets: {match_name: false}}
rules:
  - {name: kw, label: nets, keywords: [stop, deep net]}
  - {name: cased, label: nets, keywords: [stop], case_sensitive: true}
  - {name: ascii, label: nets, regex: ['\\bstop\\b']}
""",
        [
            "\u00e9stop",
            "stop\u00e9",
            "\u0663stop",
            "stop\u4e2d",
            "\u0345stop",
            "stop\u20dd",
            "\u201cstop\u201d",
            "deep net\u00e9",
            "\u00e9 deep-net \u00e9",
        ],
    )
    assert L[:, 0].tolist() == [-1, -1, -1, -1, -1, 1, 1, -1, 1]
    assert L[:, 1].tolist() == [-1, -1, -1, -1, 1, 1, 1, -1, -1]
    assert L[:, 2].tolist() == [1, 1, 1, 1, 1, 1, 1, -1, -1]


def test_keywords_one_run_many_word_sequences(tmp_path: Path) -> None:
    """A run that spells several keywords' word sequences (ab+c, a+bc, abc) matches each."""
    L = votes_on(
        tmp_path,
        """labels: {x: {match_name: false}}
rules:
  - {name: one, label: x, keywords: [ab c d]}
  - {name: two, label: x, keywords: [a bc e]}
  - {name: three, label: x, keywords: [abc]}
  - {name: long, label: x, keywords: [a b c d e f g h i j k l]}
""",
        ["abcd", "abc-e", "ABC", "abc d", "a bc d", "ab-cde", "abcdefgh ijkl", "abcdefghijk"],
    )
    assert L.tolist() == [
        [1, -1, -1, -1],
        [-1, 1, 1, -1],
        [-1, -1, 1, -1],
        [1, -1, 1, -1],
        [-1, -1, -1, -1],
        [-1, -1, -1, -1],
        [-1, -1, -1, 1],
        [-1, -1, -1, -1],
    ]


def test_filter_candidates_span_rows(tmp_path: Path) -> None:
    """Regexes that match across the newline between rows, or anchor, still vote per row."""
    L = votes_on(
        tmp_path,
        """labels: {x: {match_name: false}}
rules:
  - {name: span, label: x, regex: ['a[^b]*c']}
  - {name: blank, label: x, regex: ['^\\s*$']}
  - {name: sym, label: x, keywords: [c++, café]}
""",
        ["xa", "zac", "", "CAFÉ", "c++", "ac", "c", "cafébar"],
        description=["x"] * 8,
    )
    assert L.tolist() == [
        [-1, -1, -1],
        [1, -1, -1],
        [-1, 1, -1],
        [-1, -1, 1],
        [-1, -1, 1],
        [1, -1, -1],
        [-1, -1, -1],
        [-1, -1, -1],
    ]


def test_keyword_words_sorts_regexes() -> None:
    """Keyword regexes of ASCII words go to the index, exact only when case-insensitive."""
    assert keyword_words(keyword_regex("Yolo-v5")) == (("yolo", "v5"), True)
    assert keyword_words(keyword_regex("Yolo", case_sensitive=True)) == (("yolo",), False)
    assert keyword_words(r"(?i)\bdeep rl\b") == (("deep", "rl"), False)
    for regex in [keyword_regex("c++"), keyword_regex("café"), r"\bLMs?\b", r"\b\b", "tf"]:
        assert keyword_words(regex) is None
    assert keyword_words(keyword_regex(" ".join("abcdefghij")))  # 10 words: no 2^9 forms
    assert keyword_words(keyword_regex(" ".join("abcdefghijklmnopq"))) is None  # 17 words


def test_keyword_index_without_packed_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When no mixer gives runs distinct keys, every run is looked up by its bytes: same votes."""
    monkeypatch.setattr(keywords, "_MIXERS", np.zeros((1, 4), dtype=np.uint64))
    L = votes_on(
        tmp_path,
        "labels: {qa: {match_name: false, aliases: [question answering, ab, cd]}}",
        ["Question Answering", "ab cd", "abcd", "xyz"],
    )
    assert L[:, 0].tolist() == [1, 1, -1, -1]


def test_keyword_index_in_chunks_equals_whole(
    tag_rules: RuleSet, projects: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matching a column in chunks of a few bytes (rows straddling chunk starts) finds the
    same votes as in one piece."""
    sample = projects.head(300)
    whole = lfkit.apply_rules(tag_rules, sample).to_dense()
    monkeypatch.setattr(keywords, "CHUNK_BYTES", 97)
    np.testing.assert_array_equal(lfkit.apply_rules(tag_rules, sample).to_dense(), whole)
    assert (whole != ABSTAIN).sum() > 100


KEYWORD_ALPHABET = "aAbB01 _-\t\n\x0b.+é\u017f\u212a\u00a0\x00\u0345\u0301\u0663"
keyword_texts = st.text(alphabet=KEYWORD_ALPHABET, max_size=30) | st.lists(
    st.sampled_from(["ab", "AB", "a", "b0", "ab_", "_ab", "a-b", "ab b0", "é", "\u017f", " "]),
    max_size=8,
).map("".join)
keyword_lists = st.lists(
    st.lists(st.sampled_from(["a", "ab", "b0", "B", "s", "k", "0"]), min_size=1, max_size=3).map(
        " ".join
    ),
    min_size=1,
    max_size=4,
)


@given(
    keyword_lists,
    st.booleans(),
    st.lists(st.sampled_from([r"\bab\b", r"(?i)\bab b0\b", r"\bs\b", r"a\s*$"]), max_size=2),
    st.lists(st.tuples(keyword_texts, keyword_texts), min_size=1, max_size=8),
)
def test_keyword_index_equals_rule_votes(
    keywords_: list[str], case_sensitive: bool, regexes: list[str], rows: list[tuple[str, str]]
) -> None:
    """Keywords and ASCII-boundary regexes vote as the rules' own LFs on boundary-heavy text."""
    rules = [{"name": "kw", "label": "x", "keywords": keywords_}]
    if case_sensitive:
        rules.append(
            {"name": "cased", "label": "x", "keywords": list(keywords_), "case_sensitive": True}
        )
    if regexes:
        rules.append({"name": "re", "label": "x", "regex": regexes})
    task = {"kind": "multilabel", "text_columns": ["title", "description"], "label_column": "t"}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_text(yaml.safe_dump({"task": task, "labels": {"x": {}}, "rules": rules}))
        ruleset = lfkit.load_rules(path)
    df = pd.DataFrame(rows, columns=["title", "description"])
    np.testing.assert_array_equal(
        lfkit.apply_rules(ruleset, df).to_dense(), reference_matrix(ruleset, df)
    )


@pytest.mark.slow
def test_many_keywords_equal_rule_votes(projects: pd.DataFrame, tmp_path: Path) -> None:
    """2,000 word n-grams of the projects as keywords vote as the rules' own LFs."""
    phrases = description_ngrams(projects, 300, 2000)
    rules = [
        {"name": f"r{i}", "label": "x", "keywords": phrases[start : start + 20]}
        for i, start in enumerate(range(0, len(phrases), 20))
    ]
    path = tmp_path / "rules.yaml"
    task = {"kind": "multilabel", "text_columns": ["title", "description"], "label_column": "t"}
    path.write_text(yaml.safe_dump({"task": task, "labels": {"x": {}}, "rules": rules}))
    ruleset = lfkit.load_rules(path)
    non_ascii = projects.index[~projects["description"].map(str.isascii)][:40]
    sample = projects.loc[sorted(set(range(0, len(projects), 25)) | set(non_ascii))]
    matrix = lfkit.apply_rules(ruleset, projects).to_dense()
    expected = reference_matrix(ruleset, sample[["title", "description"]])
    np.testing.assert_array_equal(matrix[sample.index.to_numpy()], expected)
    assert (expected != ABSTAIN).sum() > 500


@given(
    st.lists(st.text(alphabet="ab\n\x00 é_", max_size=6), min_size=1, max_size=8),
    st.sampled_from(
        [
            "a",
            "x*",
            "a[^b]*b",
            "(?i)(?:^|[^A-Za-z0-9_])(ab)(?:[^A-Za-z0-9_]|$)",
            r"\bab\b",
            r"\Bb",
            "\n",
            "\x00",
            "é$|^é",
            r"a\s+b",
            "[^a]",
        ]
    ),
)
def test_candidate_rows_cover_every_matching_row(texts: list[str], regex: str) -> None:
    """The one search over joined rows finds every row the regex matches on its own."""
    any_regex = engine._any_regex([regex])
    if any_regex is None:  # anchored: rows are matched one by one
        assert not engine._is_local(regex)
        return
    rows = engine._candidate_rows(any_regex, *keywords.join_texts(texts)[:2])
    assert rows == sorted(set(rows))
    assert {row for row, text in enumerate(texts) if re2.search(regex, text)} <= set(rows)
