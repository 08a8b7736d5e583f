"""Do `lfkit suggest`'s keywords improve the audit, starting from the imported taxonomy only?

For each seed, the planted-noise copy of benchmarks/bench_audit_quality.py (imported, not
copied) is made: multilabel projects with 10% of true tags dropped and as many wrong ones
added; dataset.csv with 10% of classes flipped uniformly. The audit (default: naive Bayes +
neighbours) then scores every (row, label) pair on the noisy copy with:
- the taxonomy only: `lfkit import-taxonomy examples/madewithml/tags.json` plus the task
  section (parents that name no tag of the file dropped, as `lfkit check` asks); for the
  4 classes, the labels and aliases of rules/madewithml-4class/task.yaml;
- the taxonomy plus the top N keywords per label that `suggest_rules` mines *on the noisy
  copy* (the clean labels are never seen), accepted as they are;
- the curated rules (rules/madewithml, rules/madewithml-4class), written by hand.
We report the audit's average precision (AP) and precision@k at finding the planted errors,
with the default audit and with the rules as its only evidence (no similar rows, no text
classifier), as benchmarks/bench_audit_quality.py computes them (`lfkit_scores`, imported).

Run: .venv/bin/python benchmarks/bench_suggest.py [--seeds 0 1 2] [--top 3 5] [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from bench_audit_quality import inject_multiclass, inject_multilabel, lfkit_scores, metrics

import lfkit
from lfkit.assist.suggest import suggest_rules
from lfkit.model.targets import given_matrix
from lfkit.rules.taxonomy import read_taxonomy, taxonomy_yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "madewithml"


def taxonomy_folder(folder: Path) -> Path:
    """Write the imported MadeWithML taxonomy and the multilabel task section into `folder`."""
    taxonomy = read_taxonomy(EXAMPLES / "tags.json")
    for entry in taxonomy.values():
        entry["parents"] = [parent for parent in entry["parents"] if parent in taxonomy]
    (folder / "taxonomy.yaml").write_text(taxonomy_yaml(taxonomy), encoding="utf-8")
    shutil.copy(ROOT / "rules" / "madewithml" / "task.yaml", folder / "task.yaml")
    return folder


def classes_folder(folder: Path) -> Path:
    """Write the 4-class task section (labels and aliases, no rules) into `folder`."""
    shutil.copy(ROOT / "rules" / "madewithml-4class" / "task.yaml", folder / "task.yaml")
    return folder


def with_suggestions(folder: Path, noisy: pd.DataFrame, top: int, seed: int) -> tuple[Path, int]:
    """Copy `folder`, add the top suggestions mined on the noisy data; return it and the count."""
    ruleset = lfkit.load_rules(folder)
    result = suggest_rules(ruleset, noisy, top=top, seed=seed)
    target = folder.with_name(f"{folder.name}-top{top}")
    shutil.copytree(folder, target, dirs_exist_ok=True)
    (target / "suggested.yaml").write_text(result.to_yaml(), encoding="utf-8")
    yaml.safe_load((target / "suggested.yaml").read_text("utf-8"))
    return target, len(result.suggestions)


RULES_ONLY = {"classifier": False, "neighbours": False}
"""The audit with the rules as its only evidence (no similar rows, no text classifier)."""


def audit_scores(
    rules: Path, noisy: pd.DataFrame, seed: int, **options: bool
) -> tuple[np.ndarray, float, int]:
    """Return the audit's score per (row, label) pair (multiclass: per row), its default
    threshold and the rule count (scores as bench_audit_quality.py computes them)."""
    ruleset = lfkit.load_rules(rules)
    votes = lfkit.apply_rules(ruleset, noisy)
    scores, threshold = lfkit_scores(ruleset, noisy, votes, seed, **options)
    return scores.ravel(), threshold, len(ruleset)


def run(kind: str, seed: int, tops: list[int], work: Path) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed)
    if kind == "multilabel":
        curated = ROOT / "rules" / "madewithml"
        start = taxonomy_folder(work / f"taxonomy-{seed}")
        ruleset = lfkit.load_rules(curated)
        df = lfkit.read_data(EXAMPLES / "projects.json", ruleset.task)
        y = given_matrix(ruleset, df["tags"].tolist()).toarray() > 0
        noisy_y = inject_multilabel(ruleset, y, rng)
        errors = (noisy_y != y).ravel()
        noisy = df.assign(tags=[[ruleset.labels[j] for j in np.nonzero(r)[0]] for r in noisy_y])
    else:
        curated = ROOT / "rules" / "madewithml-4class"
        start = classes_folder(work / f"classes-{seed}")
        ruleset = lfkit.load_rules(curated)
        df = lfkit.read_data(EXAMPLES / "dataset.csv", ruleset.task)
        y = df["tag"].map({label: i for i, label in enumerate(ruleset.labels)}).to_numpy()
        noisy_y = inject_multiclass(y, len(ruleset.labels), None, rng)
        errors = noisy_y != y
        noisy = df.assign(tag=[ruleset.labels[c] for c in noisy_y])
    configs: list[tuple[str, Path, int | None, float]] = [("taxonomy only", start, None, 0.0)]
    for top in tops:
        begin = time.perf_counter()
        folder, count = with_suggestions(start, noisy, top, seed)
        configs.append((f"taxonomy + top {top} suggestions", folder, count, 0.0))
        configs[-1] = (*configs[-1][:3], time.perf_counter() - begin)
    configs.append(("curated rules (hand-written)", curated, None, 0.0))
    results = {}
    for options in ({}, RULES_ONLY):
        for name, folder, count, seconds in configs:
            scores, threshold, n_rules = audit_scores(folder, noisy, seed, **options)
            key = f"{name}, rules only" if options else name
            results[key] = metrics(errors, scores, scores >= threshold)
            results[key]["rules"] = n_rules
            results[key]["keywords"] = np.nan if count is None else count
            results[key]["suggest s"] = seconds if count is not None else np.nan
    return results


def table(title: str, runs: list[dict[str, dict[str, float]]]) -> str:
    keys = ["AP", "P@k", "rules", "keywords", "suggest s"]
    lines = [
        f"### {title} ({len(runs)} seeds, mean ± std)",
        "",
        "| rules | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    for name in runs[0]:
        cells = []
        for key in keys:
            values = np.array([r[name][key] for r in runs], dtype=float)
            if np.isnan(values).all():
                cells.append("-")
            elif key in ("AP", "P@k"):
                cells.append(f"{values.mean():.3f} ± {values.std():.3f}")
            elif key == "suggest s":
                cells.append(f"{values.mean():.1f}")
            else:
                cells.append(f"{values.mean():.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--top", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--quick", action="store_true", help="one seed, multilabel only")
    args = parser.parse_args()
    seeds = args.seeds[:1] if args.quick else args.seeds
    warnings.filterwarnings("ignore")
    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for kind, title in [
            ("multilabel", "Multilabel: projects.json, 400 tags, 10% tags dropped + added"),
            ("multiclass", "Multiclass: dataset.csv, 4 classes, 10% uniform flips"),
        ]:
            if args.quick and kind == "multiclass":
                continue
            runs = []
            for seed in seeds:
                for folder in (f"taxonomy-{seed}", f"classes-{seed}"):
                    (work / folder).mkdir(exist_ok=True)
                runs.append(run(kind, seed, args.top, work))
            sections.append(table(title, runs))
    print("\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
