"""Which rows to label next: those whose label would teach the label model most, not alike.

The label model is fitted on the rows labelled so far (`naive-bayes`; `em` from the votes
alone when none are) and predicts the others. Each unlabelled row gets three scores, each
scaled to [0, 1] over the unlabelled rows:
- uncertainty: the entropy of the model's probabilities (multilabel: summed over tags);
- disagreement: the rules that fire on it vote for different classes (multilabel: for and
  against the same tag);
- novelty: it is where a rule fires whose reliability the labels barely measured (a rule
  seen on m labelled rows scores 1/sqrt(1 + m)).
The row's value is uncertainty + 0.25 × novelty by default (disagreement has weight 0: it
is in the reason, but ranking by it picked unrepresentative multi-topic rows and taught the
model less than random order; see docs/assist.md). Rows are then picked greedily by
maximal marginal relevance: value minus `diversity` × the highest TF-IDF cosine similarity
to a row already picked, so the list is not a run of near-duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit._types import LIST_FORMATS, FloatArray, IntArray, ListFormat
from lfkit.display import column_width, plain
from lfkit.engine.apply import apply_rules
from lfkit.engine.votes import Votes
from lfkit.errors import DataError, OptionError, check_choice
from lfkit.model.fit import fit_label_model
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.text import as_text

TOP_LABELS = 3


@dataclass(frozen=True)
class NextRow:
    """One row to label next, with why."""

    id: Any
    row: int
    """Position of the row in the data."""
    value: float
    """Weighted sum of uncertainty, disagreement and novelty, before the diversity penalty."""
    uncertainty: float
    disagreement: float
    novelty: float
    similarity: float
    """Highest TF-IDF cosine similarity to a row picked before it."""
    probabilities: dict[str, float]
    """The label model's most probable classes (multilabel: the tags it is least sure of)."""
    predicted: tuple[str, ...]
    """The label model's guess: the most probable class, or the tags at probability >= 0.5."""
    rules: tuple[str, ...]
    """Rules that fire on the row."""
    reason: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON Lines record (documented in docs/assist.md)."""
        return {
            "id": self.id,
            "value": round(self.value, 4),
            "uncertainty": round(self.uncertainty, 4),
            "disagreement": round(self.disagreement, 4),
            "novelty": round(self.novelty, 4),
            "similarity": round(self.similarity, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "predicted": list(self.predicted),
            "rules": list(self.rules),
            "reason": self.reason,
            "text": self.text,
        }


def rows_to_label(
    ruleset: RuleSet,
    df: pd.DataFrame,
    labelled: Sequence[int] | IntArray = (),
    given: Sequence[Any] = (),
    *,
    votes: Votes | None = None,
    n: int = 50,
    diversity: float = 0.5,
    disagreement_weight: float = 0.0,
    novelty_weight: float = 0.25,
    seed: int = 0,
) -> list[NextRow]:
    """Return the `n` unlabelled rows to label next, best first, each with its reason.

    Parameters
    ----------
    ruleset
        The rules.
    df
        All rows, labelled or not (the rules' text columns are needed).
    labelled
        Positions of the rows already labelled.
    given
        Their labels, in the same order: a class, or a list of tags, per row.
    votes
        The rules' votes on `df` (applied here when None).
    n
        How many rows to return.
    diversity
        Weight of the similarity penalty (0: rank by value alone).
    disagreement_weight, novelty_weight
        Weights of the disagreement and novelty scores (uncertainty has weight 1); the
        defaults did best in benchmarks/bench_next.py (docs/assist.md).
    seed
        Seed of the label model (when it needs one).

    Raises
    ------
    DataError
        When `labelled` and `given` differ in length.
    OptionError
        When `n` is not positive.
    """
    labelled = np.asarray(labelled, dtype=np.int64)
    if len(labelled) != len(given):
        raise DataError(f"{len(given)} labels for {len(labelled)} labelled rows", where="next")
    if n < 1:
        raise OptionError("n", f"n={n}; it must be at least 1", where="next")
    votes = apply_rules(ruleset, df) if votes is None else votes
    fired = sparse.csr_array(votes.fired)
    pool = np.setdiff1d(np.arange(len(df)), labelled)
    if not len(pool):
        return []
    if len(labelled):
        train = Votes(fired[labelled], votes.values)
        model = fit_label_model(ruleset, train, list(given), method="naive-bayes", seed=seed)
    else:
        model = fit_label_model(ruleset, votes, None, seed=seed)
    probs = model.predict_proba(Votes(fired[pool], votes.values))
    pool_fired = fired[pool]
    uncertainty = _scaled(_entropy(probs, multilabel=ruleset.multilabel))
    disagreement = _scaled(_disagreement(ruleset, pool_fired))
    seen = (
        np.asarray(fired[labelled].sum(axis=0), dtype=np.float64).ravel()
        if len(labelled)
        else np.zeros(len(ruleset))
    )
    novelty = _scaled(_novelty(pool_fired, seen))
    value = uncertainty + disagreement_weight * disagreement + novelty_weight * novelty
    texts = _texts(ruleset, df.iloc[pool])
    picked, similarity = _pick_diverse(value, texts, n=n, diversity=diversity)
    ids = df[ruleset.task.id_column].tolist()
    result = []
    for index, sim in zip(picked, similarity, strict=True):
        closeness = -np.abs(probs[index] - 0.5) if ruleset.multilabel else probs[index]
        top = np.argsort(-closeness, kind="stable")[:TOP_LABELS]
        top_probs = {ruleset.labels[j]: float(probs[index, j]) for j in top}
        rules = tuple(ruleset.rules[j].name for j in pool_fired[[index]].indices)
        scores = (uncertainty[index], disagreement[index], novelty[index])
        result.append(
            NextRow(
                id=plain(ids[pool[index]]),
                row=int(pool[index]),
                value=float(value[index]),
                uncertainty=float(scores[0]),
                disagreement=float(scores[1]),
                novelty=float(scores[2]),
                similarity=float(sim),
                probabilities=top_probs,
                predicted=_guess(ruleset, probs[index]),
                rules=rules,
                reason=_reason(ruleset, scores, top_probs, rules, seen, pool_fired[[index]]),
                text=texts[index],
            )
        )
    return result


def _guess(ruleset: RuleSet, probs: FloatArray) -> tuple[str, ...]:
    if not ruleset.multilabel:
        return (ruleset.labels[int(np.argmax(probs))],)
    order = np.argsort(-probs, kind="stable")
    return tuple(ruleset.labels[j] for j in order if probs[j] >= 0.5)


def _entropy(probs: FloatArray, *, multilabel: bool) -> FloatArray:
    p = np.clip(probs, 1e-12, 1 - 1e-12)
    if multilabel:
        return np.asarray((-(p * np.log(p) + (1 - p) * np.log(1 - p))).sum(axis=1))
    return np.asarray(-(p * np.log(p)).sum(axis=1))


def _disagreement(ruleset: RuleSet, fired: sparse.csr_array) -> FloatArray:
    """Per row: multiclass, the share of votes not for the most voted class; multilabel, the
    share of the tags voted on that get both a positive and a negative vote."""
    counts = dict(zip((True, False), ruleset.label_votes(fired), strict=True))
    if not ruleset.multilabel:
        total = counts[True].sum(axis=1)
        return np.where(total > 0, 1 - counts[True].max(axis=1) / np.maximum(total, 1), 0.0)
    voted = (counts[True] > 0) | (counts[False] > 0)
    both = (counts[True] > 0) & (counts[False] > 0)
    return np.asarray(both.sum(axis=1) / np.maximum(voted.sum(axis=1), 1))


def _novelty(fired: sparse.csr_array, seen: FloatArray) -> FloatArray:
    """Per row, the largest 1/sqrt(1 + m) over the rules firing there (m: labelled rows the
    rule fired on); 0 where no rule fires."""
    weight = 1.0 / np.sqrt(1.0 + seen)
    weighted = fired.astype(np.float64) @ sparse.diags_array(weight)
    return np.asarray(sparse.csr_array(weighted).max(axis=1).toarray()).ravel()


def _scaled(values: FloatArray) -> FloatArray:
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def _texts(ruleset: RuleSet, df: pd.DataFrame) -> list[str]:
    columns = [[as_text(v) for v in df[field].tolist()] for field in ruleset.task.text_columns]
    return [" ".join(parts).strip() for parts in zip(*columns, strict=True)]


def _pick_diverse(
    value: FloatArray, texts: list[str], *, n: int, diversity: float
) -> tuple[list[int], list[float]]:
    """Pick rows greedily by value − diversity × (max cosine similarity to the picked rows)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = min(n, len(value))
    if diversity <= 0 or len(value) < 2:
        order = np.argsort(-value, kind="stable")[:n]
        return order.tolist(), [0.0] * len(order)
    try:
        x = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1).fit_transform(texts)
    except ValueError:  # no word in any text
        order = np.argsort(-value, kind="stable")[:n]
        return order.tolist(), [0.0] * len(order)
    x = sparse.csr_array(x)
    closest = np.zeros(len(value))
    taken = np.zeros(len(value), dtype=bool)
    picked, similarity = [], []
    for _ in range(n):
        gain = np.where(taken, -np.inf, value - diversity * closest)
        best = int(np.argmax(gain))
        picked.append(best)
        similarity.append(float(closest[best]))
        taken[best] = True
        closest = np.maximum(closest, np.asarray(x @ x[[best]].T.toarray()).ravel())
    return picked, similarity


def _reason(
    ruleset: RuleSet,
    scores: tuple[float, float, float],
    probs: dict[str, float],
    rules: tuple[str, ...],
    seen: FloatArray,
    fired: sparse.csr_array,
) -> str:
    """Say in words why a row is worth labelling: its strongest scores first."""
    uncertainty, disagreement, novelty = scores
    parts: list[tuple[float, str]] = []
    guesses = ", ".join(f"{label} {p:.2f}" for label, p in probs.items())
    parts.append((uncertainty, f"model unsure ({guesses})"))
    if disagreement > 0:
        votes = ", ".join(
            f"{rule.name} → {'' if rule.positive else 'not '}{rule.label}"
            for rule in (ruleset.rules[j] for j in fired.indices)
        )
        parts.append((disagreement, f"rules disagree ({votes})"))
    if novelty > 0:
        rarest = min(fired.indices, key=lambda j: seen[j])
        count = int(seen[rarest])
        where = "no labelled row" if count == 0 else f"only {count} labelled row{'s' * (count > 1)}"
        parts.append((novelty / 2, f"rule {ruleset.rules[rarest].name} fired on {where}"))
    if not rules:
        parts.append((0.0, "no rule fires"))
    return "; ".join(text for _, text in parts)


def render_next(rows: list[NextRow], *, fmt: ListFormat = "table") -> str:
    """Render the rows to label as a table or JSON Lines.

    Raises
    ------
    OptionError
        For another format.
    """
    check_choice("fmt", fmt, LIST_FORMATS, "format")
    if fmt == "jsonl":
        return "".join(json.dumps(row.to_dict(), ensure_ascii=False) + "\n" for row in rows)
    ids = column_width("id", (row.id for row in rows))
    lines = [f"{'#':>3} {'id':<{ids}} {'value':>5}  {'text':<60}  reason"]
    for rank, row in enumerate(rows, 1):
        text = " ".join(row.text.split())
        text = text if len(text) <= 60 else text[:59] + "…"
        lines.append(f"{rank:>3} {str(row.id):<{ids}} {row.value:>5.2f}  {text:<60}  {row.reason}")
    if not rows:
        lines.append("(every row is labelled)")
    return "\n".join(lines) + "\n"


def labelstudio_next_tasks(
    ruleset: RuleSet, df: pd.DataFrame, rows: list[NextRow]
) -> list[dict[str, Any]]:
    """Return one Label Studio task per row to label, in order, for `labelstudio_config`.

    Each task's `data` holds the text fields (keys as `lfkit export` writes them),
    `lfkit_id`, `lfkit_given: []` and `lfkit_flags: []` (the row has no label and no flag)
    and `lfkit_evidence` (rank, reason); its prediction is the label model's guess
    (multiclass: the most probable class; multilabel: the tags at probability >= 0.5, in
    taxonomy paths). In a multilabel task, `lfkit import-decisions --from label-studio` turns
    the chosen tags into accepted `missing` decisions, which `lfkit fix` applies.
    """
    from lfkit.review.labelstudio import CONTROL, taxonomy_path, text_keys

    keys = text_keys(ruleset)
    first = next(iter(keys.values()))
    tasks = []
    for rank, row in enumerate(rows, 1):
        data: dict[str, Any] = {keys[column]: as_text(df[column].iloc[row.row]) for column in keys}
        data |= {
            "lfkit_id": row.id,
            "lfkit_given": [],
            "lfkit_flags": [],
            "lfkit_evidence": f"label next, rank {rank} (value {row.value:.2f}): {row.reason}",
        }
        if ruleset.multilabel:
            paths = [taxonomy_path(ruleset, label) for label in row.predicted]
            value: dict[str, Any] = {"taxonomy": paths}
            kind = "taxonomy"
        else:
            value, kind = {"choices": list(row.predicted)}, "choices"
        result = {
            "id": "lfkit",
            "from_name": CONTROL,
            "to_name": first,
            "type": kind,
            "value": value,
        }
        prediction = {"model_version": "lfkit-next", "score": round(row.value, 6)}
        tasks.append({"data": data, "predictions": [prediction | {"result": [result]}]})
    return tasks
