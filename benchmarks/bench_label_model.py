"""Label models on rows whose labels they never saw: lfkit's models vs Snorkel and majority vote.

Each seed splits the bundled data in two halves at random. Every model is fitted on the first
half (the unsupervised ones on the rules' votes alone, naive Bayes also on the labels of that
half, as a supervised reference) and labels the second half, whose labels are then used only
to score. Same rules for all (rules/madewithml-4class, rules/madewithml), 3 seeds, one run.

- 4 classes (examples/madewithml/dataset.csv): coverage (rows with at least one vote), accuracy
  on those rows, and accuracy on all rows with an abstain counted wrong (what `lfkit label`
  writes by default).
- Tags (examples/madewithml/projects.json): tags at P >= 0.5, F1 per tag over the rule set's
  tags that occur in the held-out half, micro and macro averaged.

Run: .venv/bin/python benchmarks/bench_label_model.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

import lfkit
from lfkit.engine.votes import Votes
from lfkit.model.targets import given_matrix

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "madewithml"
SEEDS = (0, 1, 2)
UNSUPERVISED = ("em", "snorkel", "majority")
NAMES = {
    "em": "lfkit `em`",
    "snorkel": "Snorkel `LabelModel`",
    "majority": "majority vote",
    "naive-bayes": "lfkit `naive-bayes` (with the fit half's labels)",
    "naive-bayes@0.3": "lfkit `naive-bayes` (with labels), tags at P >= 0.3",
}


def halves(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[: n_rows // 2]), np.sort(order[n_rows // 2 :])


def rows(votes: Votes, index: np.ndarray) -> Votes:
    return Votes(votes.fired[index], votes.values)


def fit_predict(ruleset, votes, train, test, given, method, seed):  # noqa: ANN001, ANN201
    start = time.perf_counter()
    labels = [given[i] for i in train] if method == "naive-bayes" else None
    model = lfkit.fit_label_model(ruleset, rows(votes, train), labels, method=method, seed=seed)
    probs = model.predict_proba(rows(votes, test))
    return probs, time.perf_counter() - start


def classes_benchmark() -> dict[str, list[tuple[float, float, float, float]]]:
    ruleset = lfkit.load_rules(ROOT / "rules" / "madewithml-4class")
    df = pd.read_csv(EXAMPLES / "dataset.csv")
    votes = lfkit.apply_rules(ruleset, df)
    truth = np.array([ruleset.labels.index(tag) for tag in df["tag"]])
    voted = np.asarray(votes.fired.sum(axis=1)).ravel() > 0
    results: dict[str, list[tuple[float, float, float, float]]] = {}
    for seed in SEEDS:
        train, test = halves(len(df), seed)
        for method in (*UNSUPERVISED, "naive-bayes"):
            probs, seconds = fit_predict(
                ruleset, votes, train, test, df["tag"].tolist(), method, seed
            )
            right = probs.argmax(axis=1) == truth[test]
            covered = voted[test]
            results.setdefault(method, []).append(
                (covered.mean(), right[covered].mean(), (right & covered).mean(), seconds)
            )
    return results


def f1_scores(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    tp, fp, fn = (pred & y).sum(0), (pred & ~y).sum(0), (~pred & y).sum(0)
    micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
    occurs = y.sum(0) > 0
    per_tag = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    return float(micro), float(per_tag[occurs].mean())


def tags_benchmark() -> dict[str, list[tuple[float, float, float]]]:
    ruleset = lfkit.load_rules(ROOT / "rules" / "madewithml")
    df = pd.DataFrame(json.loads((EXAMPLES / "projects.json").read_text("utf-8")))
    votes = lfkit.apply_rules(ruleset, df)
    y = given_matrix(ruleset, df["tags"].tolist()).toarray() > 0
    results: dict[str, list[tuple[float, float, float]]] = {}
    for seed in SEEDS:
        train, test = halves(len(df), seed)
        for method in (*UNSUPERVISED, "naive-bayes"):
            probs, seconds = fit_predict(
                ruleset, votes, train, test, df["tags"].tolist(), method, seed
            )
            micro, macro = f1_scores(probs >= 0.5, y[test])
            results.setdefault(method, []).append((micro, macro, seconds))
            if method == "naive-bayes":  # calibrated to sparse tags: a lower cut suits F1
                micro, macro = f1_scores(probs >= 0.3, y[test])
                results.setdefault("naive-bayes@0.3", []).append((micro, macro, seconds))
    return results


def cell(values: list[float], digits: int = 3) -> str:
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def main() -> None:
    print("## 4 classes, dataset.csv: fit on one half, label the other (3 seeds, mean ± sd)\n")
    print("| model | coverage | accuracy (voted rows) | accuracy (all rows) | fit+predict s |")
    print("|---|---|---|---|---|")
    for method, runs in classes_benchmark().items():
        cov, acc, acc_all, secs = zip(*runs, strict=True)
        print(
            f"| {NAMES[method]} | {cell(cov)} | {cell(acc)} | {cell(acc_all)} | {cell(secs, 2)} |"
        )
    print("\n## Tags, projects.json: fit on one half, tag the other (3 seeds, mean ± sd)\n")
    print("| model | micro F1 | macro F1 | fit+predict s |")
    print("|---|---|---|---|")
    for method, runs in tags_benchmark().items():
        micro, macro, secs = zip(*runs, strict=True)
        print(f"| {NAMES[method]} | {cell(micro)} | {cell(macro)} | {cell(secs, 2)} |")


if __name__ == "__main__":
    main()
