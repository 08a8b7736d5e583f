"""Rule kinds for Snorkel users: keyword match modes, numeric classes, length and score rules.

Every engine result is checked against Snorkel's own applier on the rules' LabelingFunctions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import CLASS_RULES, write_rules
from hypothesis import given
from hypothesis import strategies as st
from snorkel.labeling import PandasLFApplier
from test_fuzz import texts, words

import lfkit
from lfkit import ABSTAIN, RuleFileError
from lfkit.model.targets import given_matrix
from lfkit.rules.ruleset import RuleSet

MULTICLASS = "task: {kind: multiclass, text_columns: [title, description], label_column: tag}"


def snorkel_matrix(ruleset: RuleSet, df: pd.DataFrame) -> np.ndarray:
    """Return the label matrix of Snorkel's own row-by-row applier."""
    return PandasLFApplier(ruleset.to_snorkel()).apply(df, progress_bar=False)


def votes_equal(ruleset: RuleSet, df: pd.DataFrame) -> np.ndarray:
    """Apply the rules with the engine, check equality with Snorkel, return L."""
    matrix = lfkit.apply_rules(ruleset, df).to_dense()
    np.testing.assert_array_equal(matrix, snorkel_matrix(ruleset, df))
    return matrix


def frame(titles: list[str], **columns: list[Any]) -> pd.DataFrame:
    """Return a frame of titles, empty descriptions unless given, and extra columns."""
    return pd.DataFrame(
        {"title": titles, "description": [""] * len(titles), **columns}, dtype=object
    )


def load_error(tmp_path: Path, body: str, *, task: str = "") -> str:
    """Return the one error loading a broken rules file gives, as 'line:rule: message'."""
    with pytest.raises(RuleFileError) as info:
        lfkit.load_rules(write_rules(tmp_path, body, task=task))
    (err, *_) = info.value.errors
    return f"{err.line}:{err.rule}: {err}"


# Keyword match modes


def test_match_modes_word_prefix_substring(tmp_path: Path) -> None:
    """'subscribe' as prefix catches 'Subscribers'; 'http' as substring catches 'xhttps'."""
    ruleset = lfkit.load_rules(
        write_rules(
            tmp_path,
            """labels: {spam: {match_name: false}}
rules:
  - {name: word, label: spam, keywords: [subscribe, http]}
  - {name: prefix, label: spam, keywords: [subscribe, http], match: prefix}
  - {name: substring, label: spam, keywords: [subscribe, http], match: substring}
""",
        )
    )
    titles = ["Please SUBSCRIBE", "500 Subscribers", "unsubscribe now", "see https://x", "xhttp"]
    L = votes_equal(ruleset, frame(titles))
    assert L[:, 0].tolist() == [1, ABSTAIN, ABSTAIN, ABSTAIN, ABSTAIN]
    assert L[:, 1].tolist() == [1, 1, ABSTAIN, 1, ABSTAIN]
    assert L[:, 2].tolist() == [1, 1, 1, 1, 1]


def test_match_mode_on_label_aliases_and_unless(tmp_path: Path) -> None:
    """A label's aliases and a rule's 'unless' keywords take their own match mode."""
    ruleset = lfkit.load_rules(
        write_rules(
            tmp_path,
            """labels: {gan: {aliases: [stylegan], match: substring}}
rules:
  - name: gans
    label: gan
    keywords: [generative]
    unless: {keywords: [advers], match: prefix}
""",
        )
    )
    titles = ["StyleGAN2 faces", "biggan", "generative adversarial", "generative models"]
    L = votes_equal(ruleset, frame(titles))
    assert ruleset.rule_names == ["gans", "gan:alias"]
    assert L.tolist() == [[ABSTAIN, 1], [ABSTAIN, 1], [ABSTAIN, ABSTAIN], [1, ABSTAIN]]


def test_match_mode_unknown_is_pinned(tmp_path: Path) -> None:
    """A misspelled match mode names the line, the rule and the modes."""
    message = load_error(
        tmp_path,
        """labels: {spam: {}}
rules:
  - name: sub
    label: spam
    keywords: [subscribe]
    match: prefixes
""",
    )
    assert message.startswith("7:sub: ")
    assert "expected one of word, prefix or substring" in message
    assert "did you mean 'prefix'" in message


@given(st.lists(words, min_size=1, max_size=3), st.lists(texts, min_size=1, max_size=5))
def test_match_modes_equal_snorkel_fuzzed(keywords: list[str], titles: list[str]) -> None:
    """All three match modes vote like their Snorkel LFs on random Unicode texts."""
    import tempfile

    body = {
        "task": {"kind": "multilabel", "text_columns": ["title"], "label_column": "tags"},
        "labels": {"x": {"match_name": False}},
        "rules": [
            {"name": mode, "label": "x", "keywords": keywords, "match": mode}
            for mode in ("word", "prefix", "substring")
        ],
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_text(json.dumps(body))
        try:
            ruleset = lfkit.load_rules(path)
        except RuleFileError:
            return
    L = votes_equal(ruleset, pd.DataFrame({"title": titles}))
    fired = L != ABSTAIN
    assert (fired[:, 0] <= fired[:, 1]).all() and (fired[:, 1] <= fired[:, 2]).all()


# Class names that are numbers


def test_integer_classes_in_rules_and_data(tmp_path: Path) -> None:
    """labels: {0: ..., 1: ...} and 'label: 1' load; int and str classes in the data audit."""
    ruleset = lfkit.load_rules(
        write_rules(
            tmp_path,
            """labels:
  0: {match_name: false}
  1: {match_name: false, parents: []}
rules:
  - {name: spammy, label: 1, keywords: [subscribe, check out], match: prefix}
  - {name: hammy, label: 0, keywords: [song, love]}
""",
            task="task: {kind: multiclass, text_columns: [title], label_column: label}",
        )
    )
    assert ruleset.labels == ("0", "1")
    df = frame(["check out my channel", "love this song", "subscribe!!", "nice"])
    L = votes_equal(ruleset, df)
    assert L.tolist() == [[1, ABSTAIN], [ABSTAIN, 0], [1, ABSTAIN], [ABSTAIN, ABSTAIN]]
    for classes in ([1, 0, 1, 0], ["1", "0", "1", "0"], np.array([1, 0, 1, 0]), [1.0, 0, 1, 0]):
        assert given_matrix(ruleset, list(classes)).toarray().tolist() == [[0, 1], [1, 0]] * 2


def test_integer_classes_read_from_json(tmp_path: Path) -> None:
    """A JSON file with 0/1 classes reads, the classes as the rule set's names."""
    path = tmp_path / "data.json"
    path.write_text(
        json.dumps([{"id": 1, "title": "a", "label": 1}, {"id": 2, "title": "b", "label": 0}])
    )
    task = lfkit.load_rules(
        write_rules(
            tmp_path,
            "labels: {0: {}, 1: {}}",
            task="task: {kind: multiclass, text_columns: [title], label_column: label}",
        )
    ).task
    df = lfkit.read_data(path, task)
    assert df["label"].tolist() == ["1", "0"]
    assert df["id"].tolist() == [1, 2]


def test_quoted_and_unquoted_numbers_are_the_same_label(tmp_path: Path) -> None:
    """A rule's 'label: 1' names the label written as '1' (quoted) and as 1."""
    ruleset = lfkit.load_rules(
        write_rules(
            tmp_path,
            """labels: {'0': {}, 1: {parents: ['0']}}
rules:
  - {name: one, label: 1, keywords: [one]}
  - {name: zero, label: '0', keywords: [zero]}
""",
        )
    )
    assert ruleset.labels == ("0", "1") and ruleset.parents == {"1": ("0",)}
    assert [rule.label for rule in ruleset.rules[:2]] == ["1", "0"]


def test_float_label_in_rules_is_refused(tmp_path: Path) -> None:
    """'label: 1.5' is an error naming the rule, not a silent string."""
    message = load_error(
        tmp_path, "labels: {1: {}}\nrules:\n  - {name: r, label: 1.5, keywords: [x]}\n"
    )
    assert message.startswith("4:r: ") and "'label' must be a string, got a number 1.5" in message


# Length rules


LENGTH_RULES = """labels: {ham: {match_name: false}, spam: {match_name: false}}
rules:
  - {name: short, label: ham, length: {max: 4}}
  - {name: long-chars, label: spam, length: {unit: characters, min: 20}, fields: [title]}
  - {name: short-link, label: spam, keywords: [http], match: substring, length: {max: 3}}
  - {name: mid, label: ham, length: {min: 2, max: 3}, unless: {keywords: [free]}}
"""


def test_length_rules_words_characters_and_combined(tmp_path: Path) -> None:
    """Length counts words of all fields together (or characters of one) with min/max."""
    ruleset = lfkit.load_rules(write_rules(tmp_path, LENGTH_RULES))
    df = frame(
        ["nice song", "check https://x.co now", "free stuff", "a b c d e f", ""],
        description=["", "", "", "", None],
    )
    L = votes_equal(ruleset, df)
    assert L.tolist() == [
        [1, ABSTAIN, ABSTAIN, 1],
        [1, 1, 1, 1],
        [1, ABSTAIN, ABSTAIN, ABSTAIN],
        [ABSTAIN, ABSTAIN, ABSTAIN, ABSTAIN],
        [1, ABSTAIN, ABSTAIN, ABSTAIN],
    ]


def test_length_rule_on_projects_matches_python(projects: pd.DataFrame, tmp_path: Path) -> None:
    """On all 2,032 projects a 'max 5 words' title rule fires exactly where str.split says."""
    ruleset = lfkit.load_rules(
        write_rules(
            tmp_path,
            "labels: {short: {match_name: false}}\nrules:\n"
            "  - {name: terse, label: short, fields: [title], length: {max: 5}}\n",
        )
    )
    fired = lfkit.apply_rules(ruleset, projects).to_dense()[:, 0] == 1
    expected = projects["title"].map(lambda title: len(str(title).split()) <= 5).to_numpy()
    np.testing.assert_array_equal(fired, expected)
    assert 0 < fired.sum() < len(projects)


@pytest.mark.parametrize(
    ("length", "phrase"),
    [
        ("{}", "give 'min', 'max' or both"),
        ("{min: 5, max: 2}", "'min' (5) is greater than 'max' (2)"),
        ("{unit: tokens, max: 2}", "expected one of words or characters"),
        ("{max: -1}", "greater than or equal to 0"),
        ("{max: 2, maxx: 3}", "unknown key 'length.maxx'"),
        ("5", "'length' must be a mapping"),
    ],
)
def test_length_errors_are_pinned(tmp_path: Path, length: str, phrase: str) -> None:
    """Each bad length names the line of the rule and a key phrase."""
    message = load_error(
        tmp_path,
        f"labels: {{x: {{}}}}\nrules:\n  - name: bad\n    label: x\n    length: {length}\n",
    )
    assert message.startswith(("6:bad: ", "4:bad: "))
    assert phrase in message


# Score rules (a model's output per row)


def test_score_rule_votes_on_numeric_column(tmp_path: Path) -> None:
    """score: {column, min, max} fires on numbers (or numeric text) in range, never on gaps."""
    ruleset = lfkit.load_rules(
        write_rules(
            tmp_path,
            """labels: {ham: {match_name: false}}
rules:
  - {name: positive, label: ham, score: {column: polarity, min: 0.3}}
  - {name: neutral, label: ham, score: {column: polarity, min: -0.1, max: 0.1}}
  - {name: positive-song, label: ham, keywords: [song], score: {column: polarity, min: 0.3}}
""",
        )
    )
    df = frame(
        ["great song", "ok", "bad", "?", "?", "song"],
        polarity=[0.8, 0.0, -0.7, None, "0.3", "n/a"],
    )
    L = votes_equal(ruleset, df)
    assert L.tolist() == [
        [1, ABSTAIN, 1],
        [ABSTAIN, 1, ABSTAIN],
        [ABSTAIN, ABSTAIN, ABSTAIN],
        [ABSTAIN, ABSTAIN, ABSTAIN],
        [1, ABSTAIN, ABSTAIN],
        [ABSTAIN, ABSTAIN, ABSTAIN],
    ]


def test_score_column_missing_from_data(tmp_path: Path) -> None:
    """A score column absent from the data is a DataError naming it."""
    ruleset = lfkit.load_rules(
        write_rules(
            tmp_path,
            "labels: {x: {}}\nrules:\n  - {name: s, label: x, score: {column: p, max: 1}}\n",
        )
    )
    with pytest.raises(lfkit.DataError, match="column 'p' is not in the DataFrame"):
        lfkit.apply_rules(ruleset, frame(["a"]))


def test_score_on_id_column_is_refused(tmp_path: Path) -> None:
    """A score on the task's id column is a rules error with a hint."""
    message = load_error(
        tmp_path, "labels: {x: {}}\nrules:\n  - {name: s, label: x, score: {column: id, min: 1}}\n"
    )
    assert message.startswith("4:s: ") and "the task's id column 'id'" in message


@given(
    st.lists(
        st.tuples(texts, st.one_of(st.none(), st.floats(-2, 2), st.sampled_from(["0.5", "x"]))),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 6),
    st.integers(0, 40),
)
def test_length_and_score_equal_snorkel_fuzzed(
    rows: list[tuple[str, Any]], words_max: int, chars_min: int
) -> None:
    """Length and score rules vote like their Snorkel LFs on random texts and values."""
    import tempfile

    body = {
        "task": {"kind": "multilabel", "text_columns": ["title"], "label_column": "tags"},
        "labels": {"x": {"match_name": False}},
        "rules": [
            {"name": "w", "label": "x", "length": {"max": words_max}},
            {"name": "c", "label": "x", "length": {"unit": "characters", "min": chars_min}},
            {"name": "s", "label": "x", "score": {"column": "p", "min": -0.5, "max": 0.5}},
            {
                "name": "k",
                "label": "x",
                "keywords": ["a"],
                "match": "prefix",
                "length": {"min": 1},
                "vote": "negative",
            },
        ],
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_text(json.dumps(body))
        ruleset = lfkit.load_rules(path)
    df = pd.DataFrame(rows, columns=["title", "p"], dtype=object)
    votes_equal(ruleset, df)


# to_snorkel per label


def test_to_snorkel_by_label_groups_lfs_per_tag(tag_rules: RuleSet) -> None:
    """Each tag's list holds exactly the LFs of its rules, in column order."""
    by_label = tag_rules.to_snorkel_by_label()
    assert list(by_label) == [label for label in tag_rules.labels if label in by_label]
    assert sum(len(lfs) for lfs in by_label.values()) == len(tag_rules)
    for label, lfs in by_label.items():
        assert [lf.name for lf in lfs] == [r.name for r in tag_rules.rules if r.label == label]


@pytest.mark.slow
def test_to_snorkel_by_label_label_model_per_tag(
    tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """A Snorkel LabelModel per tag fits on the tag's LFs and predicts that tag's rows."""
    from snorkel.labeling.model import LabelModel

    by_label = tag_rules.to_snorkel_by_label()
    df = projects.head(300)
    for tag in ("natural-language-processing", "computer-vision"):
        L = PandasLFApplier(by_label[tag]).apply(df, progress_bar=False)
        model = LabelModel(cardinality=2, verbose=False)
        model.fit(L, n_epochs=50, seed=0)
        probs = model.predict_proba(L)
        assert probs.shape == (len(df), 2)
        fired = (L == 1).any(axis=1)
        assert probs[fired, 1].mean() > probs[~fired, 1].mean()


def test_to_snorkel_by_label_refuses_multiclass(class_rules: RuleSet) -> None:
    """A multiclass rule set has one task: asking per label is a clear error."""
    with pytest.raises(ValueError, match="use to_snorkel"):
        class_rules.to_snorkel_by_label()


def test_bundled_four_class_data_with_integer_classes(
    class_rules: RuleSet, classes: pd.DataFrame, tmp_path: Path
) -> None:
    """The 4-class rules and data with classes renamed 0..3 give the same votes and model."""
    number = {name: i for i, name in enumerate(class_rules.labels)}
    for source in CLASS_RULES.glob("*.yaml"):
        document = yaml.safe_load(source.read_text("utf-8"))
        if "labels" in document:
            renamed = {}
            for name, label in document["labels"].items():
                label = dict(label or {})
                if label.pop("match_name", True):
                    label["aliases"] = [name, *label.get("aliases", [])]
                renamed[number[name]] = {**label, "match_name": False}
            document["labels"] = renamed
        for rule in document.get("rules", []):
            rule["label"] = number[rule["label"]]
        (tmp_path / source.name).write_text(yaml.safe_dump(document), "utf-8")
    ruleset = lfkit.load_rules(tmp_path)
    assert ruleset.labels == ("0", "1", "2", "3")
    as_numbers = classes.assign(tag=classes["tag"].map(number))
    L = lfkit.apply_rules(ruleset, as_numbers).to_dense()
    np.testing.assert_array_equal(L, lfkit.apply_rules(class_rules, classes).to_dense())
    report = lfkit.audit_labels(ruleset, as_numbers, neighbours=False, top=20)
    expected = lfkit.audit_labels(class_rules, classes, neighbours=False, top=20)
    assert [flag.id for flag in report.flags] == [flag.id for flag in expected.flags]
    assert [flag.label for flag in report.flags] == [str(number[f.label]) for f in expected.flags]


# Token patterns on a real spaCy pipeline (built here: no model weights can be downloaded)

PEOPLE = ["Katy Perry", "Eminem", "Shakira", "Justin Bieber"]


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small saved pipeline: PERSON entities, POS tags and a lookup lemmatizer."""
    import spacy
    from spacy.lookups import Lookups

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [{"label": "PERSON", "pattern": [{"LOWER": w.lower()} for w in p.split()]} for p in PEOPLE]
    )
    attributes = nlp.add_pipe("attribute_ruler")
    attributes.add([[{}]], {"POS": "X"})  # a tagger tags every token; this stand-in too
    attributes.add([[{"LOWER": {"IN": ["run", "runs", "running", "ran"]}}]], {"POS": "VERB"})
    lookups = Lookups()
    lookups.add_table("lemma_lookup", {"runs": "run", "running": "run", "ran": "run"})
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"}).initialize(lookups=lookups)
    folder = tmp_path_factory.mktemp("pipelines") / "small"
    nlp.to_disk(folder)
    return folder


def pipeline_rules(folder: Path, pipeline_dir: Path, body: str) -> RuleSet:
    """Load a rule set over 'text' whose task names the pipeline by a relative path."""
    import os

    relative = os.path.relpath(pipeline_dir, folder)
    task = (
        "task: {kind: multiclass, text_columns: [text], label_column: label, "
        f"pipeline: '{relative}'}}"
    )
    return lfkit.load_rules(write_rules(folder, body, task=task))


COMMENTS = [
    "Katy Perry is the best",
    "check out my channel",
    "eminem",
    "I love Shakira and this song is really great and I listen to it every single day "
    "of my life because it makes me happy",
    "running in circles",
    "she runs, he ran",
    "justin bieber fans subscribe",
]


def test_snorkel_tutorial_person_lf_as_a_rule(tmp_path: Path, pipeline_dir: Path) -> None:
    """The tutorial's spaCy PERSON LF, written as a rule, votes like it on every comment."""
    from snorkel.labeling import labeling_function
    from snorkel.preprocess.nlp import SpacyPreprocessor

    ruleset = pipeline_rules(
        tmp_path,
        pipeline_dir,
        """labels: {0: {match_name: false}, 1: {match_name: false}}
rules:
  - {name: has_person, label: 0, patterns: [[{ENT_TYPE: PERSON}]], length: {max: 19}}
""",
    )
    spacy_pre = SpacyPreprocessor(text_field="text", doc_field="doc", language=str(pipeline_dir))

    @labeling_function(pre=[spacy_pre])
    def has_person_nlp(x: Any) -> int:
        """The Snorkel spam tutorial's LF, verbatim but for its labels."""
        if len(x.text.split()) < 20 and any(ent.label_ == "PERSON" for ent in x.doc.ents):
            return 0
        return ABSTAIN

    df = pd.DataFrame({"text": COMMENTS})
    L = votes_equal(ruleset, df)
    tutorial = PandasLFApplier([has_person_nlp]).apply(df, progress_bar=False)
    np.testing.assert_array_equal(L, tutorial)
    assert L[:, 0].tolist() == [0, ABSTAIN, 0, ABSTAIN, ABSTAIN, ABSTAIN, 0]


def test_lemma_and_pos_patterns(tmp_path: Path, pipeline_dir: Path) -> None:
    """LEMMA and POS patterns match every form the pipeline lemmatizes, in engine and LFs."""
    ruleset = pipeline_rules(
        tmp_path,
        pipeline_dir,
        """labels: {sport: {match_name: false}, other: {match_name: false}}
rules:
  - {name: runs, label: sport, patterns: [[{LEMMA: run}]]}
  - name: verb-then-noun
    label: other
    patterns: [[{POS: VERB}, {LOWER: in}]]
    unless: {patterns: [[{ENT_TYPE: PERSON}]]}
""",
    )
    L = votes_equal(ruleset, pd.DataFrame({"text": COMMENTS}))
    assert L[:, 0].tolist() == [-1, -1, -1, -1, 0, 0, -1]
    assert L[:, 1].tolist() == [-1, -1, -1, -1, 1, -1, -1]


def test_pipeline_loads_once_and_shows_in_evidence(tmp_path: Path, pipeline_dir: Path) -> None:
    """The pipeline is loaded once per process; audit evidence shows the entity's span."""
    from lfkit.rules.tokens import parse, pipeline_nlp

    ruleset = pipeline_rules(
        tmp_path,
        pipeline_dir,
        """labels: {ham: {match_name: false}, spam: {match_name: false}}
rules:
  - {name: person, label: ham, patterns: [[{ENT_TYPE: PERSON, OP: "+"}]]}
  - {name: promo, label: spam, keywords: [check out, subscribe]}
""",
    )
    df = pd.DataFrame(
        {"id": range(len(COMMENTS)), "text": COMMENTS, "label": ["spam"] * len(COMMENTS)}
    )
    pipeline_nlp.cache_clear()
    parse.cache_clear()  # its Docs belong to the pipeline loaded before
    votes_equal(ruleset, df)
    report = lfkit.audit_labels(ruleset, df, neighbours=False, min_score=0.0)
    assert pipeline_nlp.cache_info().misses == 1
    flag = next(flag for flag in report.flags if flag.row == 0)
    (match,) = [m for m in flag.rules_for + flag.rules_against if m.rule == "person"]
    assert "Katy Perry" in match.words({"text": COMMENTS[0]})


@pytest.mark.parametrize(
    ("pipeline", "phrase"),
    [
        ("no_such_pipeline_pkg", "is neither a folder (relative to this file) nor an installed"),
        (".", "holds no config.cfg"),
    ],
)
def test_bad_pipeline_is_a_rules_error(tmp_path: Path, pipeline: str, phrase: str) -> None:
    """A pipeline that is neither an installed package nor a saved folder is pinned to the task."""
    task = (
        "task: {kind: multiclass, text_columns: [text], label_column: label, "
        f"pipeline: '{pipeline}'}}"
    )
    message = load_error(tmp_path, "labels: {a: {}, b: {}}", task=task)
    assert message.startswith("1:: ") and phrase in message


def test_model_attribute_without_pipeline_hints_at_the_task(tmp_path: Path) -> None:
    """An ENT_TYPE pattern (even under unless) without a pipeline names the key's line."""
    message = load_error(
        tmp_path,
        """labels: {a: {}}
rules:
  - name: r
    label: a
    keywords: [x]
    unless:
      keywords: [y]
      patterns: [[{ENT_TYPE: PERSON}]]
""",
    )
    assert message.startswith("9:r: ") and "token attribute ENT_TYPE needs" in message
    assert "'pipeline: en_core_web_sm'" in message


def test_label_outputs_numeric_classes_as_numbers(tmp_path: Path) -> None:
    """lfkit label on JSON data with 0/1 classes writes predicted classes as numbers, ids kept."""
    from typer.testing import CliRunner

    from lfkit.cli import app

    rules = write_rules(
        tmp_path,
        """labels: {0: {match_name: false}, 1: {match_name: false}}
rules:
  - {name: link, label: 1, keywords: [http], match: substring}
  - {name: subscribe, label: 1, keywords: [subscribe], match: prefix}
  - {name: short, label: 0, length: {max: 3}}
""",
        task="task: {kind: multiclass, text_columns: [text], label_column: label}",
    )
    rows = [
        {"id": 7, "text": "see https://x.co", "label": 1},
        {"id": 8, "text": "nice song", "label": 0},
        {"id": 9, "text": "a comment with no vote at all", "label": 0},
        {"id": 10, "text": "subscribers wanted here now", "label": 1},
    ]
    data = tmp_path / "data.json"
    data.write_text(json.dumps(rows))
    out = tmp_path / "labelled.jsonl"
    result = CliRunner().invoke(
        app, ["label", str(data), "-r", str(rules), "-o", str(out), "--keep-abstains"]
    )
    assert result.exit_code == 0, result.output
    labelled = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in labelled] == [7, 8, 9, 10]
    assert [row["label"] for row in labelled] == [1, 0, 0, 1]
    predicted = [row["predicted"] for row in labelled]
    assert predicted[0] == 1 and predicted[1] == 0 and predicted[3] == 1
    assert all(isinstance(value, int) for value in predicted if value is not None)


@given(
    st.lists(
        st.lists(
            st.sampled_from([*PEOPLE, "katy", "perry", "runs", "RAN", "running", "Run", "in"])
            | texts,
            max_size=5,
        ).map(" ".join),
        min_size=1,
        max_size=5,
    )
)
def test_pipeline_patterns_equal_snorkel_fuzzed(pipeline_dir: Path, comments: list[str]) -> None:
    """ENT_TYPE, LEMMA and POS patterns vote like their Snorkel LFs on random texts."""
    import tempfile

    body = {
        "task": {
            "kind": "multilabel",
            "text_columns": ["text"],
            "label_column": "tags",
            "pipeline": str(pipeline_dir),
        },
        "labels": {"x": {"match_name": False}},
        "rules": [
            {"name": "person", "label": "x", "patterns": [[{"ENT_TYPE": "PERSON", "OP": "+"}]]},
            {"name": "lemma", "label": "x", "patterns": [[{"LEMMA": "run"}, {"LOWER": "in"}]]},
            {
                "name": "pos",
                "label": "x",
                "vote": "negative",
                "patterns": [[{"POS": "VERB"}]],
                "unless": {"patterns": [[{"ENT_TYPE": "PERSON"}]]},
            },
        ],
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_text(json.dumps(body))
        ruleset = lfkit.load_rules(path)
    votes_equal(ruleset, pd.DataFrame({"text": comments}))
