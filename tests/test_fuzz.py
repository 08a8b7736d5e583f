"""Property-based fuzzing: random rule files, texts and labels.

Quick profile in CI (40 examples per property); the long one by hand:
HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import string
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st
from snorkel.labeling import PandasLFApplier

import lfkit
from lfkit import LfkitError
from lfkit.audit.suspects import audit_labels

TASK = {"kind": "multilabel", "text_columns": ["title", "description"], "label_column": "tags"}
LABELS = ["vision", "nlp", "audio"]
ALPHABET = string.ascii_letters + string.digits + " -_.,!?+#()" + "éßİıſKΣσςü中文😀\u00a0\t\n"

VOCABULARY = [
    "foo",
    "Foo-bar",
    "foo bar",
    "ima_ge",
    "image",
    "straße",
    "STRASSE",
    "ſtraße",
    "İstanbul",
    "istanbul",
    "c++",
    "c#",
    ".net",
    "K",
    "\u212a",
    "ς",
    "σ",
    "Σ",
    "中文",
    "😀",
    "a1",
    "bb",
    "aaa",
    "x",
    "Ünïcode",
    "naïve",
    "10",
    "2x",
]
SEPARATORS = [" ", "  ", "-", "_", "é", ".", "", "\n", "\u00a0", "ß", "1", "(", "😀"]
texts = (
    st.text(alphabet=ALPHABET, max_size=60)
    | st.sampled_from(["", " ", "a" * 500])
    | st.lists(st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(SEPARATORS)), max_size=8).map(
        lambda parts: "".join(word + sep for word, sep in parts)
    )
)
words = st.sampled_from(VOCABULARY) | st.text(
    alphabet=string.ascii_letters + "éü中-_ +#.", min_size=1, max_size=12
)
regexes = st.sampled_from(
    [
        r"\bfoo\b",
        r"(?i)b[a-z]+",
        r"\d{2,}",
        r"^\s*$",
        r"(a|b)+c",
        r"[\p{L}]{3}",
        r"(?i)straße",
        r"x*",
        r"\.net",
        r"😀",
    ]
)
token_patterns = st.sampled_from(
    [
        [{"LOWER": "foo"}],
        [{"IS_DIGIT": True}, {"LOWER": {"IN": ["x", "é"]}}],
        [{"LENGTH": {">=": 5}}],
        [{"LOWER": "a", "OP": "+"}, {"IS_PUNCT": True}],
    ]
)


@st.composite
def rule_dicts(draw: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": draw(st.text(string.ascii_lowercase, min_size=1, max_size=8)),
        "label": draw(st.sampled_from(LABELS)),
    }
    for key, strategy in (("keywords", words), ("regex", regexes), ("patterns", token_patterns)):
        if draw(st.booleans()):
            rule[key] = draw(st.lists(strategy, min_size=1, max_size=3))
    if draw(st.booleans()):
        rule["vote"] = draw(st.sampled_from(["positive", "negative"]))
    if draw(st.booleans()):
        rule["unless"] = {"keywords": draw(st.lists(words, min_size=1, max_size=2))}
    if draw(st.booleans()):
        rule["fields"] = draw(st.sampled_from([["title"], ["description"]]))
    if draw(st.booleans()):
        rule["case_sensitive"] = True
    return rule


def load(document: Any) -> lfkit.RuleSet:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
        return lfkit.load_rules(path)


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(st.sampled_from(["task", "labels", "rules", "other"]), junk, max_size=4)
    | st.text(max_size=200)
)
def test_loader_loads_or_raises_its_own_error(document: Any) -> None:
    """Any document either loads or raises an LfkitError, never anything else."""
    with contextlib.suppress(LfkitError):
        load(document)


@given(
    st.lists(rule_dicts(), min_size=1, max_size=4),
    st.lists(st.tuples(texts, texts), min_size=1, max_size=6),
)
def test_engine_equals_snorkel_on_random_rules(
    rules: list[dict[str, Any]], rows: list[tuple[str, str]]
) -> None:
    """The fast engine equals Snorkel's applier on random rules and Unicode texts."""
    names = [rule["name"] for rule in rules]
    assume(len(set(names)) == len(names))
    try:
        ruleset = load({"task": TASK, "labels": {label: {} for label in LABELS}, "rules": rules})
    except LfkitError:
        assume(False)
    df = pd.DataFrame(rows, columns=["title", "description"])
    expected = PandasLFApplier(ruleset.to_snorkel()).apply(df, progress_bar=False)
    np.testing.assert_array_equal(lfkit.apply_rules(ruleset, df).to_dense(), expected)


@pytest.mark.slow
@given(
    st.lists(
        st.tuples(texts, st.lists(st.sampled_from(LABELS + ["other"]), max_size=3)),
        min_size=2,
        max_size=25,
    ),
    st.booleans(),
)
def test_audit_never_raises_on_valid_input(
    rows: list[tuple[str, list[str]]], neighbours: bool
) -> None:
    """Any valid data audits to flags with scores in [0, 1]."""
    ruleset = load(
        {"task": TASK, "labels": {"vision": {"aliases": ["image"]}, "nlp": {"parents": ["vision"]}}}
    )
    df = pd.DataFrame(
        {
            "id": range(len(rows)),
            "title": [t for t, _ in rows],
            "description": "",
            "tags": [tags for _, tags in rows],
        }
    )
    report = audit_labels(ruleset, df, min_score=0.0, neighbours=neighbours)
    assert all(0.0 <= flag.score <= 1.0 for flag in report.flags)


YAML_TRAPS = [
    "yes",
    "No",
    "on",
    "null",
    "~",
    "1.5",
    "0x1F",
    "2020-01-01",
    "a: b",
    "x, y",
    "[z]",
    "{q}",
    "#c",
    "- dash",
    "? q",
    "*star",
    "&amp",
    "!tag",
    "%p",
    "@at",
    "`bt",
    "'q",
    '"dq',
    "|p",
    ">g",
    "café",
    "cafe\u0301",
    "中文",
    "a\u2028b",
    "tab\there",
    " lead",
    "trail ",
    "x\\y",
    "😀",
    "<<",
    "=",
    "-",
    "...",
    "---",
]
tag_names = st.sampled_from(YAML_TRAPS) | st.text(min_size=0, max_size=12)


@given(
    st.dictionaries(
        tag_names,
        st.fixed_dictionaries(
            {
                "aliases": st.lists(tag_names, max_size=3),
                "parents": st.lists(tag_names, max_size=2),
            }
        ),
        min_size=1,
        max_size=6,
    )
)
def test_imported_taxonomy_passes_check_or_is_refused(
    taxonomy: dict[str, dict[str, list[str]]],
) -> None:
    """import-taxonomy either refuses with a DataError, or writes YAML that loads back as is."""
    from lfkit.rules.taxonomy import check_taxonomy, taxonomy_yaml

    text = taxonomy_yaml(taxonomy, source="fuzz.json")
    try:
        check_taxonomy(text, "fuzz.json")
    except lfkit.DataError:
        return
    ruleset = load(yaml.safe_dump({"task": TASK}) + text)
    missing = [p for e in taxonomy.values() for p in e["parents"] if p not in taxonomy]
    assert list(ruleset.labels) == list(taxonomy) + list(dict.fromkeys(missing))
    for tag, entry in taxonomy.items():
        assert tuple(ruleset.parents.get(tag, ())) == tuple(entry["parents"])


def test_imported_yaml_traps_round_trip() -> None:
    """Names YAML would misread (yes, a: b, x, y, accents, U+2028) import and load unchanged."""
    from lfkit.rules.taxonomy import check_taxonomy, taxonomy_yaml

    taxonomy = {
        name: {"aliases": [f"{name} alias"], "parents": []}
        for name in YAML_TRAPS
        if name.strip() and name not in ("-", "---", "cafe\u0301")
    }
    text = taxonomy_yaml(taxonomy)
    check_taxonomy(text, "traps.json")
    assert list(load(yaml.safe_dump({"task": TASK}) + text).labels) == list(taxonomy)


CSV_TEXT = string.ascii_letters + " ,;|\t\"'\n\r#=é中😀\u2028"


@given(
    st.lists(
        st.tuples(st.text(CSV_TEXT, max_size=20), st.text(CSV_TEXT, max_size=20)),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([",", ";", "\t", "|"]),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_csv_dialects_read_back(
    rows: list[tuple[str, str]], sep: str, quoting: int, newline: str, trailing: bool
) -> None:
    """CSV in any delimiter, quoting, line ending, with or without a trailing delimiter, reads
    back cell for cell, never shifted.

    Python's writer leaves a lone CR unquoted under QUOTE_MINIMAL; every CSV reader (pandas,
    spreadsheets) takes that for a line break, so such files are not generated here.
    """
    import io

    if quoting == csv.QUOTE_MINIMAL:
        assume(not any("\r" in t for row in rows for t in row))

    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, quoting=quoting, lineterminator=newline)
    header = ["id", "title", "description", "tags"]
    writer.writerow(header)
    for number, (title, description) in enumerate(rows):
        writer.writerow([number, title, description, "a"])
    text = out.getvalue()
    if trailing:
        text = text.replace(newline, sep + newline)  # also inside quoted fields: a junk test
        assume(not any("\n" in t or "\r" in t for row in rows for t in row))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        path.write_bytes(text.encode())
        task = lfkit.load_rules(_rules_file(folder)).task
        df = lfkit.read_data(path, task)
    assert df["id"].tolist() == list(range(len(rows)))  # integer ids come back as integers
    expected = [[t.replace("\r\n", "\n") or None for t in row] for row in rows]
    got = [
        [None if v != v else v.replace("\r\n", "\n") for v in row]
        for row in df[["title", "description"]].to_numpy().tolist()
    ]
    assert got == expected


def _rules_file(folder: str) -> Path:
    path = Path(folder) / "rules.yaml"
    path.write_text(yaml.safe_dump({"task": TASK, "labels": {label: {} for label in LABELS}}))
    return path


@given(
    st.dictionaries(st.sampled_from("abcdefg"), st.lists(st.sampled_from("abcdefgh"), max_size=3))
)
def test_parent_loops_found_exactly(parents: dict[str, list[str]]) -> None:
    """The loader reports a parent loop iff the taxonomy has one, and each loop it shows is real."""
    from lfkit.rules.labels import parent_loops
    from lfkit.rules.schema import Label

    labels = {name: (Label(parents=tuple(ps)), Path("x.yaml"), 1) for name, ps in parents.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for parent in parents.get(todo.pop(), []):
                if parent == goal:
                    return True
                if parent in parents and parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return False

    loops = parent_loops(labels)
    assert bool(loops) == any(reaches(name, name) for name in parents)
    for loop in loops:
        assert loop[0] == loop[-1] and all(b in parents[a] for a, b in itertools.pairwise(loop))


token_specs = st.sampled_from(
    [{"LOWER": "a"}, {"LOWER": "b"}, {"IS_ALPHA": True}, {"IS_DIGIT": True}, {}, {"LENGTH": 1}]
)
token_ops = st.sampled_from([None, "+", "*", "?", "!", "{2}", "{0,2}", "{1,3}", "{2,}", "{,2}"])


@given(
    st.lists(st.tuples(token_specs, token_ops), min_size=1, max_size=4),
    st.lists(st.sampled_from(["a", "b", "7", "ab", ",", "A"]), max_size=12),
)
def test_runnable_token_patterns_match_where_the_pattern_does(
    tokens: list[tuple[dict[str, Any], str | None]], words: list[str]
) -> None:
    """The cut-down form lfkit runs matches in exactly the texts the pattern as written does."""
    from spacy.matcher import Matcher

    from lfkit.rules.tokens import blank_nlp, build_matcher, match_keys

    pattern = [{**spec, **({"OP": op} if op else {})} for spec, op in tokens]
    assume(any(spec for spec, _ in tokens) or len(tokens) > 1)
    doc = blank_nlp().make_doc(" ".join(words))
    plain = Matcher(blank_nlp().vocab)
    plain.add("p", [pattern])
    assert bool(match_keys(build_matcher([pattern]), doc)) == bool(plain(doc))


UNICODE_WORDS = ["café", "naïve", "Ångström", "señor", "ﬁle", "Straße", "한국어", "résumé", "x²"]
forms = st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"])


@given(
    st.lists(st.sampled_from(UNICODE_WORDS), min_size=1, max_size=3),
    forms,
    st.lists(
        st.lists(st.sampled_from(UNICODE_WORDS + ["plain", "-", " "]), max_size=6),
        min_size=1,
        max_size=4,
    ),
    forms,
)
def test_unicode_forms_match_alike(
    keywords: list[str], rule_form: str, rows: list[list[str]], text_form: str
) -> None:
    """Rules and texts in NFC and NFD match alike, and the engine equals Snorkel in any form."""
    import unicodedata

    def form(text: str, name: str) -> str:
        return unicodedata.normalize(name, text)

    rule = {"name": "kw", "label": "vision", "keywords": [form(k, rule_form) for k in keywords]}
    rule_re = {"name": "rx", "label": "nlp", "regex": [form(keywords[0], rule_form)]}
    ruleset = load(
        {"task": TASK, "labels": {label: {} for label in LABELS}, "rules": [rule, rule_re]}
    )
    texts = [" ".join(row) for row in rows]
    df = pd.DataFrame({"title": [form(t, text_form) for t in texts], "description": ""})
    votes = lfkit.apply_rules(ruleset, df).to_dense()
    np.testing.assert_array_equal(
        votes, PandasLFApplier(ruleset.to_snorkel()).apply(df, progress_bar=False)
    )
    if {rule_form, text_form} <= {"NFC", "NFD"}:
        nfc = pd.DataFrame({"title": [form(t, "NFC") for t in texts], "description": ""})
        np.testing.assert_array_equal(votes, lfkit.apply_rules(ruleset, nfc).to_dense())


@pytest.mark.slow
@given(
    st.lists(
        st.text(string.ascii_lowercase + " -é", min_size=1, max_size=30), min_size=1, max_size=300
    ),
    st.integers(min_value=1, max_value=10_000),
)
def test_rule_sizes_check_accepts_engine_runs(keywords: list[str], long: int) -> None:
    """Whatever the loader accepts (many keywords, long ones, long regexes), the engine runs."""
    long_keyword = ("ab " * long)[:long].strip() or "ab"
    rules = [
        {"name": "many", "label": "vision", "keywords": [*keywords, long_keyword]},
        {"name": "long", "label": "nlp", "regex": ["(?:" + "|".join(keywords) + ")"]},
    ]
    try:
        ruleset = load({"task": TASK, "labels": {label: {} for label in LABELS}, "rules": rules})
    except LfkitError:
        return
    df = pd.DataFrame({"title": [keywords[0], long_keyword, "nothing here"], "description": ""})
    votes = lfkit.apply_rules(ruleset, df).to_dense()
    assert votes[1, 0] == 1
    np.testing.assert_array_equal(
        votes, PandasLFApplier(ruleset.to_snorkel()).apply(df, progress_bar=False)
    )
