"""Rule suggestions from the data: phrases that find the rows no current rule explains.

For each label, the candidates are the word n-grams of the text that occur in rows carrying
the label where none of the label's rules (nor, in a taxonomy, a descendant's) fires. Each
candidate is then matched exactly as the engine will match it as a keyword (the engine itself
runs them, through `keyword_regex`), and the best are chosen greedily: each pick covers
unexplained labelled rows that the picks before it did not. Precision is measured held-out:
the rows are split in folds, the choice is repeated on all folds but one, and a phrase's
precision is counted only on the rows that did not choose it. The result renders as a rules
file that `lfkit check` accepts when it is added to the rules folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit._types import LIST_FORMATS, ListFormat
from lfkit.audit.analysis import analyze_rules
from lfkit.display import column_width, plain
from lfkit.engine.apply import apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import OptionError, check_choice, did_you_mean
from lfkit.model.targets import given_matrix
from lfkit.rules.patterns import keyword_regex
from lfkit.rules.ruleset import CompiledRule, RuleSet
from lfkit.rules.text import as_text

MAX_WORDS = 3
"""Longest phrase suggested, in words."""
CANDIDATES = 40
"""Phrases per label matched exactly by the engine (the best by a quick word count)."""
FOLDS = 5
EXAMPLES = 3
_TOKEN = r"(?u)\b\w\w+\b"


@dataclass(frozen=True)
class Suggestion:
    """One keyword to add for a label, with what it did on the data."""

    label: str
    keyword: str
    precision: float
    """Share of its held-out rows that carry the label (rows that did not choose it)."""
    heldout: int
    """Rows the held-out precision is measured on."""
    fired: int
    """Rows it fires on, in all the data."""
    coverage: float
    hits: int
    """Rows it fires on that carry the label."""
    new: int
    """Labelled rows it fires on that no current rule of the label explains."""
    examples: tuple[Any, ...]
    """Ids of some of those rows."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready record."""
        return {
            "type": "suggestion",
            "label": self.label,
            "keyword": self.keyword,
            "precision": round(self.precision, 4),
            "heldout": self.heldout,
            "fired": self.fired,
            "coverage": round(self.coverage, 6),
            "hits": self.hits,
            "new": self.new,
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class HurtingRule:
    """A current rule whose precision is far below what the label's rules usually reach."""

    rule: str
    label: str
    precision: float
    reference: float
    """The precision it is compared with: the label's other rules together, or (for a label
    with one rule) the median rule of the rule set."""
    fired: int
    wrong: int
    examples: tuple[tuple[Any, str], ...]
    """(id, text) of rows where its vote disagrees with the labels."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready record."""
        return {
            "type": "hurting-rule",
            "rule": self.rule,
            "label": self.label,
            "precision": round(self.precision, 4),
            "reference": round(self.reference, 4),
            "fired": self.fired,
            "wrong": self.wrong,
            "examples": [{"id": row_id, "text": text} for row_id, text in self.examples],
        }


@dataclass(frozen=True)
class Suggestions:
    """Keywords to add per label (best first) and current rules that hurt."""

    suggestions: tuple[Suggestion, ...]
    hurting: tuple[HurtingRule, ...]
    rule_names: tuple[str, ...]
    """Names already taken in the rule set: `to_yaml` avoids them."""

    def to_yaml(self, *, source: str = "") -> str:
        """Return a rules file with one rule per label holding its suggested keywords.

        Each keyword carries a comment with its held-out precision and what it covers.
        """
        by_label: dict[str, list[Suggestion]] = {}
        for item in self.suggestions:
            by_label.setdefault(item.label, []).append(item)
        taken = set(self.rule_names)
        origin = f" from {source}" if source else ""
        lines = [
            f"# Suggested by `lfkit suggest`{origin}. Review each keyword; delete what is wrong.",
            "# precision: on held-out rows (rows that did not choose the keyword), "
            "vs the existing labels.",
            "rules:" if by_label else "rules: []",
        ]
        for label, items in by_label.items():
            name = _free_name(f"suggested-{label}", taken)
            lines += [
                f"  - name: {json.dumps(name, ensure_ascii=False)}",
                f"    label: {json.dumps(label, ensure_ascii=False)}",
                "    keywords:",
            ]
            width = max(len(json.dumps(item.keyword, ensure_ascii=False)) for item in items)
            for item in items:
                keyword = json.dumps(item.keyword, ensure_ascii=False)
                lines.append(
                    f"      - {keyword:<{width}}  # precision {item.precision:.2f} on "
                    f"{item.heldout} held-out rows; fires on {item.fired}, {item.new} new"
                )
            lines.append('    description: "Suggested from the data by lfkit suggest."')
        return "\n".join(lines) + "\n"


def suggest_rules(
    ruleset: RuleSet,
    df: pd.DataFrame,
    *,
    votes: Votes | None = None,
    labels: Sequence[str] | None = None,
    top: int = 5,
    min_precision: float = 0.5,
    min_new: int = 2,
    seed: int = 0,
) -> Suggestions:
    """Suggest keywords per label from the rows no current rule explains, and flag bad rules.

    Parameters
    ----------
    ruleset
        The current rules.
    df
        The data with parsed labels (as `read_data` returns it).
    votes
        The current rules' votes on `df` (applied here when None).
    labels
        Only these labels (default: all).
    top
        At most this many keywords per label.
    min_precision
        Keep a keyword only if its held-out precision reaches this.
    min_new
        Keep a keyword only if it covers at least this many unexplained labelled rows.
    seed
        Seed of the fold split.

    Raises
    ------
    OptionError
        For a label that is not in the rule set.
    """
    unknown = [label for label in labels or () if label not in ruleset.labels]
    if unknown:
        raise OptionError(
            "labels",
            f"label '{unknown[0]}' is not a label of the rule set",
            did_you_mean(unknown[0], ruleset.labels) or "see 'lfkit check' for the labels",
            where="suggest",
        )
    task = ruleset.task
    if votes is None:
        votes = apply_rules(ruleset, df)
    given = df[task.label_column].tolist()
    y = given_matrix(ruleset, given).toarray() > 0
    unexplained = ~_explained(ruleset, votes)
    chosen = [ruleset.label_index[label] for label in labels] if labels else None
    phrases, pair_label, pair_phrase = _candidates(ruleset, df, y, unexplained, chosen, min_new)
    ids = df[task.id_column].tolist()
    suggestions: list[Suggestion] = []
    if phrases:
        fired = _phrase_hits(ruleset, df, phrases)
        suggestions = _choose(
            ruleset, fired, y, unexplained, phrases, pair_label, pair_phrase, ids,
            top=top, min_precision=min_precision, min_new=min_new, seed=seed,
        )  # fmt: skip
    hurting = _hurting_rules(ruleset, df, votes, given, chosen)
    return Suggestions(tuple(suggestions), tuple(hurting), tuple(ruleset.rule_names))


def _explained(ruleset: RuleSet, votes: Votes) -> np.ndarray:
    """Return (n_rows, n_labels) bool: a positive rule of the label or a descendant fired."""
    return np.asarray((votes.fired.astype(np.float64) @ ruleset.support_matrix.T).toarray()) > 0


def _texts(ruleset: RuleSet, df: pd.DataFrame) -> list[list[str]]:
    return [[as_text(value) for value in df[field].tolist()] for field in ruleset.task.text_columns]


def _candidates(
    ruleset: RuleSet,
    df: pd.DataFrame,
    y: np.ndarray,
    unexplained: np.ndarray,
    chosen: list[int] | None,
    min_new: int,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return phrases and (label, phrase) pairs worth matching exactly.

    A quick count of word n-grams (n-grams never span two fields) finds, per label, the
    phrases in at least `min_new` unexplained labelled rows, best by a smoothed precision.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    fields = _texts(ruleset, df)
    vectorizer = CountVectorizer(
        token_pattern=_TOKEN, ngram_range=(1, MAX_WORDS), binary=True, min_df=2, dtype=np.int32
    )
    vectorizer.fit([text for texts in fields for text in texts])
    x = sum(vectorizer.transform(texts) for texts in fields)
    vocabulary = vectorizer.get_feature_names_out()
    keep = np.array([_good_phrase(phrase, ENGLISH_STOP_WORDS) for phrase in vocabulary])
    x = sparse.csc_array((x > 0).astype(np.float64))[:, np.nonzero(keep)[0]]
    vocabulary = vocabulary[keep]
    labels = chosen if chosen is not None else list(range(y.shape[1]))
    xt = sparse.csr_array(x.T)
    new = sparse.csc_array(xt @ sparse.csc_array((y & unexplained)[:, labels].astype(np.float64)))
    hits = sparse.csc_array(xt @ sparse.csc_array(y[:, labels].astype(np.float64)))
    fired = np.asarray(x.sum(axis=0)).ravel()
    pairs_label: list[int] = []
    pairs_phrase: list[int] = []
    for column, label in enumerate(labels):
        start, end = new.indptr[column], new.indptr[column + 1]
        phrase, count = new.indices[start:end], new.data[start:end]
        phrase, count = phrase[count >= min_new], count[count >= min_new]
        agree = hits[:, [column]].toarray().ravel()[phrase]
        score = (agree + 1.0) / (fired[phrase] + 2.0) * np.log1p(count)
        order = np.argsort(-score, kind="stable")[:CANDIDATES]
        pairs_label += [label] * len(order)
        pairs_phrase += phrase[order].tolist()
    used = sorted(set(pairs_phrase))
    position = {phrase: i for i, phrase in enumerate(used)}
    phrases = [str(vocabulary[i]) for i in used]
    return (
        phrases,
        np.array(pairs_label, dtype=np.int64),
        np.array([position[p] for p in pairs_phrase], dtype=np.int64),
    )


def _good_phrase(phrase: str, stop_words: frozenset[str]) -> bool:
    words = phrase.split()
    return (
        words[0] not in stop_words
        and words[-1] not in stop_words
        and any(not word.isdigit() for word in words)
    )


def _phrase_hits(ruleset: RuleSet, df: pd.DataFrame, phrases: list[str]) -> sparse.csc_array:
    """Return (n_rows, n_phrases) bool: where each phrase fires as a keyword rule would."""
    fields = tuple(ruleset.task.text_columns)
    rules = tuple(
        CompiledRule(
            name=f"phrase-{i}",
            label=ruleset.labels[0],
            value=1 if ruleset.multilabel else 0,
            positive=True,
            fields=fields,
            regexes=(keyword_regex(phrase),),
            token_patterns=(),
            unless_regexes=(),
            unless_token_patterns=(),
            path=Path("<suggest>"),
            line=0,
        )
        for i, phrase in enumerate(phrases)
    )
    probe = RuleSet(ruleset.task, ruleset.labels, ruleset.parents, rules)
    return sparse.csc_array(apply_rules(probe, df).fired.astype(np.float64))


def _choose(
    ruleset: RuleSet,
    fired: sparse.csc_array,
    y: np.ndarray,
    unexplained: np.ndarray,
    phrases: list[str],
    pair_label: np.ndarray,
    pair_phrase: np.ndarray,
    ids: list[Any],
    *,
    top: int,
    min_precision: float,
    min_new: int,
    seed: int,
) -> list[Suggestion]:
    """Choose keywords per label greedily on all rows; measure them on held-out folds."""
    n_rows = y.shape[0]
    fold = np.random.default_rng(seed).permutation(n_rows) % FOLDS
    heldout_hits: dict[tuple[int, int], int] = {}
    heldout_fired: dict[tuple[int, int], int] = {}
    result: list[Suggestion] = []
    for label in np.unique(pair_label):
        columns = pair_phrase[pair_label == label]
        hits = fired[:, columns].toarray() > 0
        is_label = y[:, label]
        target = is_label & unexplained[:, label]
        for k in range(FOLDS):
            train = fold != k
            for column in _greedy(hits, is_label, target, train, top, min_precision, min_new):
                test = hits[:, column] & ~train
                key = (int(label), int(column))
                heldout_fired[key] = heldout_fired.get(key, 0) + int(test.sum())
                heldout_hits[key] = heldout_hits.get(key, 0) + int((test & is_label).sum())
        everything = np.ones(n_rows, dtype=bool)
        for column in _greedy(hits, is_label, target, everything, top, min_precision, min_new):
            key = (int(label), int(column))
            n_heldout = heldout_fired.get(key, 0)
            if n_heldout == 0:
                continue  # never chosen on the other folds (or never fired there): unstable
            precision = heldout_hits[key] / n_heldout
            if precision < min_precision:
                continue
            rows = hits[:, column]
            new_rows = np.nonzero(rows & target)[0]
            result.append(
                Suggestion(
                    label=ruleset.labels[label],
                    keyword=phrases[columns[column]],
                    precision=precision,
                    heldout=n_heldout,
                    fired=int(rows.sum()),
                    coverage=float(rows.mean()),
                    hits=int((rows & is_label).sum()),
                    new=len(new_rows),
                    examples=tuple(plain(ids[row]) for row in new_rows[:EXAMPLES]),
                )
            )
    return result


def _greedy(
    hits: np.ndarray,
    is_label: np.ndarray,
    target: np.ndarray,
    rows: np.ndarray,
    top: int,
    min_precision: float,
    min_new: int,
) -> list[int]:
    """Pick up to `top` columns, each covering the most still-uncovered target rows, weighed
    by a pessimistic precision (Wilson lower bound), using only `rows`."""
    hits = hits[rows]
    fired = hits.sum(axis=0)
    agree = (hits & is_label[rows, None]).sum(axis=0)
    lower = _wilson_lower(agree, fired)
    remaining = target[rows].copy()
    picked: list[int] = []
    while len(picked) < top:
        new = (hits & remaining[:, None]).sum(axis=0)
        score = np.where((new >= min_new) & (lower >= min_precision / 2), lower * np.log1p(new), 0)
        score[picked] = 0.0
        best = int(np.argmax(score))
        if score[best] <= 0:
            break
        picked.append(best)
        remaining &= ~hits[:, best]
    return picked


def _wilson_lower(successes: np.ndarray, trials: np.ndarray, z: float = 1.0) -> np.ndarray:
    """Return the Wilson score lower bound of a proportion (0 where there are no trials)."""
    n = np.maximum(trials, 1).astype(np.float64)
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.where(trials > 0, (centre - margin) / (1 + z * z / n), 0.0)


def _hurting_rules(
    ruleset: RuleSet, df: pd.DataFrame, votes: Votes, given: list[Any], chosen: list[int] | None
) -> list[HurtingRule]:
    """Return positive rules whose precision is at least 0.3 below their reference, worst first.

    The reference is the precision of the label's other positive rules together (rows where
    any of them fires), or, for a label with one positive rule, the rule set's median.
    """
    task = ruleset.task
    ids = df[task.id_column].tolist()
    stats = {stat.rule: stat for stat in analyze_rules(ruleset, votes, given, ids)}
    y = given_matrix(ruleset, given).toarray() > 0
    fired = votes.fired.tocsc()
    precisions = [
        stat.precision for stat in stats.values() if stat.precision is not None and stat.fired
    ]
    median = float(np.median(precisions)) if precisions else 0.0
    row_of = {plain(row_id): row for row, row_id in enumerate(ids)}
    texts = _texts(ruleset, df)
    found = []
    for column, rule in enumerate(ruleset.rules):
        stat = stats[rule.name]
        label = ruleset.rule_labels[column]
        if not rule.positive or stat.precision is None or stat.fired < 3 or stat.disagreements < 2:
            continue
        if chosen is not None and label not in chosen:
            continue
        others = [
            other
            for other, candidate in enumerate(ruleset.rules)
            if other != column and candidate.positive and candidate.label == rule.label
        ]
        reference = median
        if others:
            rows = np.unique(fired[:, others].indices)
            if len(rows) >= 3:
                reference = float(y[rows, label].mean())
        if stat.precision <= reference - 0.3:
            examples = tuple(
                (row_id, " ".join(t[row_of[row_id]] for t in texts)[:200])
                for row_id in stat.examples
            )
            found.append(
                HurtingRule(
                    rule.name,
                    rule.label,
                    stat.precision,
                    reference,
                    stat.fired,
                    stat.disagreements,
                    examples,
                )  # fmt: skip
            )
    return sorted(found, key=lambda h: (h.precision - h.reference, -h.wrong))


def _free_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def render_suggestions(result: Suggestions, *, fmt: ListFormat = "table") -> str:
    """Render suggestions as a table or JSON Lines (records typed `suggestion`/`hurting-rule`).

    Raises
    ------
    OptionError
        For another format.
    """
    check_choice("fmt", fmt, LIST_FORMATS, "format")
    if fmt == "jsonl":
        records = [item.to_dict() for item in result.suggestions]
        records += [item.to_dict() for item in result.hurting]
        return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    labels = column_width("label", (s.label for s in result.suggestions))
    words = column_width("keyword", (s.keyword for s in result.suggestions))
    lines = [
        f"{'label':<{labels}} {'keyword':<{words}} {'prec':>5} {'held':>5} {'fired':>6} "
        f"{'new':>5}  examples"
    ]
    for s in result.suggestions:
        lines.append(
            f"{s.label:<{labels}} {s.keyword:<{words}} {s.precision:>5.2f} {s.heldout:>5} "
            f"{s.fired:>6} {s.new:>5}  {', '.join(map(str, s.examples))}"
        )
    if not result.suggestions:
        lines.append("(no keyword reaches the thresholds)")
    if result.hurting:
        lines += [
            "",
            "rules that hurt (precision far below the label's other rules, or the median rule):",
        ]
        for h in result.hurting:
            lines.append(
                f"  {h.rule} ({h.label}): precision {h.precision:.2f} vs {h.reference:.2f}, "
                f"wrong on {h.wrong} of {h.fired} rows"
            )
            for row_id, text in h.examples:
                lines.append(f"    {row_id}: {_one_line(text, 100)}")
    return "\n".join(lines) + "\n"


def _one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
