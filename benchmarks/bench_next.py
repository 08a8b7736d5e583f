"""Does labelling rows in `lfkit next`'s order teach the label model faster than random order?

Simulated with the existing labels. Per seed, 30% of the rows are held out for testing; the
rest is the pool. Starting from a few random labelled rows of the pool, rows are labelled in
batches, either in the order `rows_to_label` gives (recomputed after every batch, from the
rows labelled so far) or in a random order. After each batch the label model (naive Bayes,
fitted on the labelled rows only) predicts the held-out rows, and we report its accuracy
(multiclass) or micro F1 at threshold 0.5 (multilabel) as the number of labels grows.

Run: .venv/bin/python benchmarks/bench_next.py [--seeds 0 1 2] [--tags] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import lfkit
from lfkit.assist.next import rows_to_label
from lfkit.engine.votes import Votes
from lfkit.model.targets import given_matrix

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "madewithml"


def quality(ruleset, votes: Votes, train: np.ndarray, given: list, test: np.ndarray, y) -> float:
    """Accuracy (multiclass) or micro F1 (multilabel) of the label model on the test rows."""
    model = lfkit.fit_label_model(
        ruleset, Votes(votes.fired[train], votes.values), given, method="naive-bayes"
    )
    probs = model.predict_proba(Votes(votes.fired[test], votes.values))
    if not ruleset.multilabel:
        return float((probs.argmax(axis=1) == y[test].argmax(axis=1)).mean())
    guess, truth = probs >= 0.5, y[test]
    return float(2 * (guess & truth).sum() / max(guess.sum() + truth.sum(), 1))


def curve(ruleset, df, votes, y, labels, pool, test, order: str, steps, batch, seed) -> list:
    rng = np.random.default_rng(seed)
    labelled = list(rng.choice(pool, steps[0], replace=False))
    points = []
    while True:
        given = [labels[i] for i in labelled]
        if len(labelled) in steps:
            points.append(quality(ruleset, votes, np.array(labelled), given, test, y))
        if len(labelled) >= steps[-1]:
            return points
        if order == "random":
            rest = np.setdiff1d(pool, labelled)
            labelled += list(rng.choice(rest, batch, replace=False))
        else:
            sub = df.iloc[pool].reset_index(drop=True)
            position = {row: i for i, row in enumerate(pool)}
            known = [position[row] for row in labelled]
            sub_votes = Votes(votes.fired[pool], votes.values)
            picks = rows_to_label(ruleset, sub, known, given, votes=sub_votes, n=batch, seed=seed)
            labelled += [int(pool[pick.row]) for pick in picks]


def run(rules: Path, data: Path, seeds, steps, batch) -> tuple[dict, float]:
    ruleset = lfkit.load_rules(rules)
    df = lfkit.read_data(data, ruleset.task)
    labels = df[ruleset.task.label_column].tolist()
    y = given_matrix(ruleset, labels).toarray() > 0
    votes = lfkit.apply_rules(ruleset, df)
    results: dict[str, list] = {"next": [], "random": []}
    start = time.perf_counter()
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        order = rng.permutation(len(df))
        test, pool = np.sort(order[: len(df) * 3 // 10]), np.sort(order[len(df) * 3 // 10 :])
        for name in results:
            results[name].append(
                curve(ruleset, df, votes, y, labels, pool, test, name, steps, batch, seed)
            )
    return results, time.perf_counter() - start


def table(title: str, metric: str, results: dict, steps, seconds: float) -> str:
    lines = [
        f"### {title} ({len(results['next'])} seeds, {metric} on held-out rows, mean ± std)",
        "",
        "| labelled rows | " + " | ".join(str(s) for s in steps) + " | mean |",
        "|---" * (len(steps) + 2) + "|",
    ]
    for name, label in (("next", "`lfkit next` order"), ("random", "random order")):
        values = np.array(results[name])
        cells = [f"{m:.3f} ± {s:.3f}" for m, s in zip(values.mean(0), values.std(0), strict=True)]
        area = values.mean(axis=1)
        cells.append(f"{area.mean():.3f} ± {area.std():.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append(f"\n({seconds:.0f} s in all.)")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tags", action="store_true", help="also the 400-tag projects")
    parser.add_argument("--quick", action="store_true", help="one seed")
    args = parser.parse_args()
    seeds = args.seeds[:1] if args.quick else args.seeds
    warnings.filterwarnings("ignore")
    steps = [10, 20, 30, 40, 60, 80, 100, 150, 200]
    results, seconds = run(
        ROOT / "rules" / "madewithml-4class", EXAMPLES / "dataset.csv", seeds, steps, 10
    )
    sections = [
        table("dataset.csv, 4 classes, 19 curated rules", "accuracy", results, steps, seconds)
    ]
    if args.tags:
        steps = [50, 100, 150, 200, 300, 400]
        results, seconds = run(
            ROOT / "rules" / "madewithml", EXAMPLES / "projects.json", seeds, steps, 50
        )
        sections.append(
            table("projects.json, 400 tags, curated rules", "micro F1", results, steps, seconds)
        )
    print("\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
