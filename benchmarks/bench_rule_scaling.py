"""Benchmark 2: how `apply_rules` scales with the number of keyword phrases.

Generates rules folders (in a temp dir) with 100, 1,000, 10,000 and 100,000 keyword phrases:
word n-grams (n = 1..6) that occur in the projects' titles and descriptions, 10
phrases per rule, 50 labels. Each runs on the same 20,000 perturbed rows (see bench_apply.py).
Reports separately: loading the YAML, compiling the engine's plan (keyword index, RE2
filters), the first call and the steady state of a second call, in wall-clock and in CPU
seconds of this process (the ratios to 100 phrases are taken on CPU seconds, which other work
on a shared machine does not inflate; wall-clock ratios are printed beside them).

Correctness: on a seeded sample of rows every rule's vote is recomputed with one plain
`re2.search` per regex (skipping only regexes one of whose words is not in the lowercased
text, which cannot match) and must be identical; the script exits 1 otherwise.

    .venv/bin/python benchmarks/bench_rule_scaling.py           # 100 .. 100,000 on 20k rows
    .venv/bin/python benchmarks/bench_rule_scaling.py --quick   # 100 .. 10,000 on 2k rows
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_apply import TEXT_COLUMNS, projects, replicate, text_megabytes

import lfkit
from lfkit.engine import apply as engine
from lfkit.engine import keywords
from lfkit.rules.patterns import compile_regex

PHRASES_PER_RULE = 10
N_LABELS = 50
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+")


def vocabulary_phrases(n_phrases: int, seed: int = 0) -> list[str]:
    """Return n_phrases distinct lowercase n-grams (n = 1..6) of the projects' text."""
    grams: dict[str, None] = {}
    for text in projects()[list(TEXT_COLUMNS)].to_numpy().ravel():
        words = [word.lower() for word in _WORD.findall(text)]
        for n in (1, 2, 3, 4, 5, 6):
            for i in range(len(words) - n + 1):
                grams.setdefault(" ".join(words[i : i + n]))
    phrases = list(grams)
    if len(phrases) < n_phrases:
        raise SystemExit(f"only {len(phrases):,} distinct n-grams, asked for {n_phrases:,}")
    random.Random(seed).shuffle(phrases)
    return phrases[:n_phrases]


def write_rules(folder: Path, phrases: list[str]) -> None:
    """Write a multilabel rules folder: one rule per PHRASES_PER_RULE phrases."""
    labels = {f"topic-{i}": {"match_name": False} for i in range(N_LABELS)}
    rules = [
        {
            "name": f"rule-{i}",
            "label": f"topic-{i % N_LABELS}",
            "keywords": phrases[start : start + PHRASES_PER_RULE],
        }
        for i, start in enumerate(range(0, len(phrases), PHRASES_PER_RULE))
    ]
    task = {"kind": "multilabel", "text_columns": list(TEXT_COLUMNS), "label_column": "tags"}
    (folder / "task.yaml").write_text(json.dumps({"task": task, "labels": labels}))
    (folder / "rules.yaml").write_text(json.dumps({"rules": rules}))


def reference_votes(ruleset: lfkit.RuleSet, phrases: list[str], df) -> np.ndarray:  # noqa: ANN001
    """Return the label matrix of the sample by one plain re2.search per (row, regex)."""
    words_of = {}
    for rule, start in zip(ruleset.rules, range(0, len(phrases), PHRASES_PER_RULE), strict=True):
        for regex, phrase in zip(
            rule.regexes, phrases[start : start + PHRASES_PER_RULE], strict=True
        ):
            words_of[regex] = phrase.split()
    compiled: dict[str, object] = {}
    matrix = np.full((len(df), len(ruleset)), -1, dtype=np.int64)
    for row, values in enumerate(df[list(TEXT_COLUMNS)].itertuples(index=False)):
        for text in values:
            # RE2 (?i) also folds the Kelvin sign to k and the long s to s
            lowered = text.lower().replace("\u212a", "k").replace("\u017f", "s")
            for column, rule in enumerate(ruleset.rules):
                for regex in rule.regexes:
                    if all(word in lowered for word in words_of[regex]):
                        if regex not in compiled:
                            compiled[regex] = compile_regex(regex)
                        if compiled[regex].search(text):
                            matrix[row, column] = rule.value
                            break
    return matrix


def timed(fn) -> tuple[float, float]:  # noqa: ANN001
    """Return the wall and CPU seconds (this process) of one call of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="up to 10,000 phrases on 2k rows")
    parser.add_argument("--sample", type=int, default=300, help="rows checked per size")
    args = parser.parse_args()
    counts = [100, 1_000, 10_000] if args.quick else [100, 1_000, 10_000, 100_000]
    n_rows = 2_032 if args.quick else 20_000
    df = replicate(n_rows)
    megabytes = text_megabytes(df)
    all_phrases = vocabulary_phrases(max(counts))
    rng = random.Random(2)
    non_ascii = [i for i, text in enumerate(df["description"]) if not text.isascii()]
    picks = sorted(set(rng.sample(range(n_rows), args.sample)) | set(non_ascii[:50]))
    sample = df.iloc[picks]
    print(
        f"{n_rows:,} rows, {megabytes:.1f} MB of text; correctness sample: {len(sample)} rows "
        f"({min(len(non_ascii), 50)} with non-ASCII text)"
    )
    print("x 100 = CPU seconds (this process) relative to 100 phrases; wall-clock in brackets")
    print(
        f"{'phrases':>8} {'rules':>6} | {'load s':>7} {'compile s':>9} {'1st apply s':>11} "
        f"{'first total':>11} {'x 100':>6} {'(wall)':>7} | {'steady s':>8} {'cpu s':>6} "
        f"{'x 100':>6} {'(wall)':>7} {'MB/s':>6} | {'identical':>9}"
    )
    failed = False
    base: tuple[float, ...] = ()
    for n_phrases in counts:
        phrases = all_phrases[:n_phrases]
        with tempfile.TemporaryDirectory() as tmp:
            write_rules(Path(tmp), phrases)
            start = time.perf_counter()
            ruleset = lfkit.load_rules(Path(tmp))
            load_s = time.perf_counter() - start
        keywords.build_keyword_index.cache_clear()
        compile_s, compile_cpu = timed(lambda ruleset=ruleset: engine._plans(ruleset))
        apply_s, apply_cpu = timed(lambda ruleset=ruleset: lfkit.apply_rules(ruleset, df))
        steady_s, steady_cpu = timed(lambda ruleset=ruleset: lfkit.apply_rules(ruleset, df))
        votes = lfkit.apply_rules(ruleset, df)
        first_s, first_cpu = compile_s + apply_s, compile_cpu + apply_cpu
        base = base or (first_cpu, first_s, steady_cpu, steady_s)
        expected = reference_votes(ruleset, phrases, sample)
        identical = np.array_equal(votes.to_dense()[picks], expected)
        failed |= not identical
        print(
            f"{n_phrases:>8,} {len(ruleset):>6,} | {load_s:>7.2f} {compile_s:>9.2f} "
            f"{apply_s:>11.2f} {first_s:>11.2f} {first_cpu / base[0]:>5.1f}x "
            f"({first_s / base[1]:>4.1f}x) | {steady_s:>8.3f} {steady_cpu:>6.3f} "
            f"{steady_cpu / base[2]:>5.1f}x ({steady_s / base[3]:>4.1f}x) "
            f"{megabytes / steady_cpu:>6.1f} | {str(identical):>9}",
            flush=True,
        )
        keywords.build_keyword_index.cache_clear()
    print("target: 10,000 phrases cost at most 2x the time of 100 (first total and steady)")
    if failed:
        print("FAIL: apply_rules differs from per-regex re2.search", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
