"""Benchmark 1: `lfkit.apply_rules` against Snorkel's PandasLFApplier on the curated rules.

Measures the curated MadeWithML rules (rules/madewithml) on the 2,032 projects and on copies
with perturbed text (2k, 20k, 200k rows): rows/s and MB/s of text for the engine's first call
(compile + warm-up) and for its steady state, and the steady state of
`PandasLFApplier(ruleset.to_snorkel())` on a sample of rows (at most --snorkel-rows, timed and
extrapolated linearly to the full size). Rates and the ratio are per CPU second of this
process (what one core does, whoever else shares the machine); wall-clock figures are printed
beside them. The matrices must be identical on every row Snorkel ran; the script exits 1 when
they are not.

    .venv/bin/python benchmarks/bench_apply.py            # 2k, 20k, 200k rows
    .venv/bin/python benchmarks/bench_apply.py --quick    # 2k, 20k rows, small Snorkel sample
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = ROOT / "examples" / "madewithml" / "projects.json"
RULES = ROOT / "rules" / "madewithml"
TEXT_COLUMNS = ("title", "description")
TARGET_RATIO = 1_000
TARGET_MB_S = 25.0


def projects() -> pd.DataFrame:
    """Return the 2,032 bundled projects."""
    return pd.DataFrame(json.loads(PROJECTS.read_text("utf-8")))


def replicate(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """Return n_rows projects: the originals first, then perturbed copies.

    A copy shuffles a third of the words of its description, swaps about a tenth of its title
    and description words for words of other projects, so no two cells repeat and every
    engine sees new text (new DFA states, no caching by value).
    """
    base = projects()
    if n_rows <= len(base):
        return base.iloc[:n_rows].reset_index(drop=True)
    rng = random.Random(seed)
    vocabulary = [word for text in base["description"] for word in text.split()]
    records = base.to_dict("records")
    rows = list(records)
    while len(rows) < n_rows:
        source = records[rng.randrange(len(records))]
        rows.append(
            {
                "id": len(rows),
                "title": _perturb(source["title"], vocabulary, rng, shuffle=False),
                "description": _perturb(source["description"], vocabulary, rng, shuffle=True),
                "tags": source["tags"],
            }
        )
    return pd.DataFrame(rows)


def _perturb(text: str, vocabulary: list[str], rng: random.Random, *, shuffle: bool) -> str:
    words = text.split()
    if shuffle and len(words) > 3:
        third = max(2, len(words) // 3)
        start = rng.randrange(len(words) - third + 1)
        middle = words[start : start + third]
        rng.shuffle(middle)
        words[start : start + third] = middle
    for i in range(len(words)):
        if rng.random() < 0.1:
            words[i] = vocabulary[rng.randrange(len(vocabulary))]
    return " ".join(words)


def text_megabytes(df: pd.DataFrame) -> float:
    """Return the size of the text columns in MB of UTF-8."""
    return sum(len(str(v).encode()) for c in TEXT_COLUMNS for v in df[c]) / 1e6


def best_of(repeats: int, fn) -> tuple[float, float]:  # noqa: ANN001
    """Return the fastest of `repeats` runs of fn(): wall seconds and CPU seconds.

    CPU seconds (this process only) are what a core spends; on a machine shared with other
    work, wall time also counts the time the process waited for a core.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k and 20k rows, < 60 s")
    parser.add_argument("--snorkel-rows", type=int, default=2_032)
    args = parser.parse_args()
    sizes = [2_032, 20_000] if args.quick else [2_032, 20_000, 200_000]
    snorkel_rows = min(args.snorkel_rows, 500 if args.quick else args.snorkel_rows)

    from snorkel.labeling import PandasLFApplier

    import lfkit
    from lfkit.engine import apply as engine
    from lfkit.engine import keywords

    start = time.perf_counter()
    ruleset = lfkit.load_rules(RULES)
    load_s = time.perf_counter() - start
    n_regexes = sum(len(plan.regexes) for plan in engine._plans(ruleset))
    ruleset = replace(ruleset)  # a copy starts with no compiled plans
    keywords.build_keyword_index.cache_clear()
    print(
        f"rules: {len(ruleset)} from {RULES.relative_to(ROOT)} ({n_regexes} distinct regexes "
        f"over {len(TEXT_COLUMNS)} fields), loaded in {load_s:.2f} s"
    )
    applier = PandasLFApplier(ruleset.to_snorkel())
    applier.apply(projects().iloc[:20], progress_bar=False)  # Snorkel's LFs compile lazily too

    failed = False
    print(
        "wall = elapsed seconds; cpu = CPU seconds of this process (one core); MB/s and ratios "
        "per CPU second, wall ratio in brackets"
    )
    print(
        f"{'rows':>8} {'MB':>6} | {'first s':>7} {'steady s':>8} {'cpu s':>6} {'rows/s':>9} "
        f"{'MB/s':>5} | {'snorkel rows':>12} {'rows/s':>6} | {'ratio':>7} {'(wall)':>8} "
        f"{'identical':>9}"
    )
    for n_rows in sizes:
        df = replicate(n_rows)
        megabytes = text_megabytes(df)
        ruleset = replace(ruleset)  # first call: compile + warm-up on this data
        keywords.build_keyword_index.cache_clear()
        start = time.perf_counter()
        votes = lfkit.apply_rules(ruleset, df)
        first_s = time.perf_counter() - start
        repeats = 3 if n_rows <= 20_000 else 2
        steady_s, steady_cpu = best_of(repeats, lambda r=ruleset, df=df: lfkit.apply_rules(r, df))
        matrix = votes.to_dense()

        sample = df.iloc[:snorkel_rows] if n_rows > snorkel_rows else df
        if n_rows > len(sample):  # a seeded sample spread over originals and perturbed copies
            picks = sorted(random.Random(1).sample(range(n_rows), len(sample)))
            sample = df.iloc[picks]
        start, start_cpu = time.perf_counter(), time.process_time()
        expected = applier.apply(sample, progress_bar=False)
        snorkel_s = time.perf_counter() - start
        snorkel_cpu = time.process_time() - start_cpu
        identical = np.array_equal(matrix[sample.index.to_numpy()], expected)
        failed |= not identical
        ratio = (snorkel_cpu / len(sample)) / (steady_cpu / n_rows)
        wall_ratio = (snorkel_s / len(sample)) / (steady_s / n_rows)
        note = "" if len(sample) == n_rows else " (extrapolated)"
        print(
            f"{n_rows:>8,} {megabytes:>6.1f} | {first_s:>7.2f} {steady_s:>8.3f} "
            f"{steady_cpu:>6.3f} {n_rows / steady_cpu:>9,.0f} {megabytes / steady_cpu:>5.1f} | "
            f"{len(sample):>12,} {len(sample) / snorkel_cpu:>6,.0f} | {ratio:>6,.0f}x "
            f"({wall_ratio:>5,.0f}x) {str(identical):>9}{note}",
            flush=True,
        )
        if n_rows >= 20_000:
            met = ratio >= TARGET_RATIO and megabytes / steady_cpu >= TARGET_MB_S
            print(
                f"         targets (>= {TARGET_RATIO:,}x Snorkel, >= {TARGET_MB_S:.0f} MB/s per "
                f"core): {'met' if met else 'NOT met'}; Snorkel time at this size ~"
                f"{n_rows / len(sample) * snorkel_s:,.0f} s wall (extrapolated from "
                f"{len(sample):,} rows)"
            )
    if failed:
        print("FAIL: apply_rules differs from PandasLFApplier", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
