"""Benchmark the Dask engine against the single-process engine on synthetic projects.

The 2,032 bundled projects are replicated to `--rows` rows; every copy after the first has
the words of its description shuffled (seeded), so rows differ but look alike. The rows are
written as 16 Parquet files to a temporary folder. Then:

- single process: `pd.read_parquet` and `lfkit.apply_rules` on the whole frame;
- Dask: a LocalCluster of 2 worker processes (1 thread each), `read_data_dask` on the folder
  and `apply_rules_dask`, one partition per file.

Both results must be identical. Ratios are against the single-process run of the same
invocation. CPU times are printed too: on a shared machine, wall times depend on what else
runs, CPU times much less.

    .venv/bin/python benchmarks/bench_dask.py            # 1,000,000 rows
    .venv/bin/python benchmarks/bench_dask.py --quick    # 100,000 rows
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from distributed import get_task_stream

import lfkit
from lfkit.engine.distributed import apply_rules_dask, connect, read_data_dask

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = ROOT / "examples" / "madewithml" / "projects.json"
RULES = ROOT / "rules" / "madewithml"
FILES = 16
WORKERS = 2


def synthetic(rows: int, seed: int = 0) -> pd.DataFrame:
    """Return `rows` projects: the bundled ones, then copies with shuffled descriptions."""
    base = pd.DataFrame(json.loads(PROJECTS.read_text("utf-8")))
    rng = np.random.default_rng(seed)
    words = [str(text).split() for text in base["description"]]
    descriptions: list[str] = []
    for row in range(rows):
        tokens = words[row % len(base)]
        if row >= len(base):
            tokens = [tokens[i] for i in rng.permutation(len(tokens))]
        descriptions.append(" ".join(tokens))
    picks = np.arange(rows) % len(base)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "title": base["title"].to_numpy()[picks],
            "description": descriptions,
            "tags": base["tags"].to_numpy()[picks],
        }
    )


def write_parquet(df: pd.DataFrame, folder: Path) -> None:
    """Write the frame as FILES Parquet files named in row order."""
    bounds = np.linspace(0, len(df), FILES + 1).astype(int)
    for number in range(FILES):
        part = df.iloc[bounds[number] : bounds[number + 1]]
        part.to_parquet(folder / f"part-{number:03d}.parquet", index=False)


def _cpu_seconds() -> float:
    """Return the CPU time of the calling (worker) process."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def main() -> None:
    """Run both engines, check they agree, print throughput and overheads."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    args = parser.parse_args()
    rows = 100_000 if args.quick else args.rows
    ruleset = lfkit.load_rules(RULES)
    print(f"{rows:,} rows, {len(ruleset)} rules, {FILES} Parquet files, {WORKERS} workers")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        write_parquet(synthetic(rows), folder)
        print(f"  data written in {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        df = pd.read_parquet(folder)
        read_s = time.perf_counter() - start
        lfkit.apply_rules(ruleset, df.head(100))  # compile the rules, as the workers do
        start, cpu = time.perf_counter(), time.process_time()
        local = lfkit.apply_rules(ruleset, df)
        apply_s, apply_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        local_s = read_s + apply_s
        del df

        start = time.perf_counter()
        with connect(None, WORKERS) as client:
            startup_s = time.perf_counter() - start
            client.run(lambda: None)
            # warm-up: compile the rule set on every worker, outside the timed run
            warm = read_data_dask(folder, ruleset.task, labels=False).partitions[:WORKERS]
            apply_rules_dask(ruleset, warm)
            cpu = sum(client.run(_cpu_seconds).values())
            start = time.perf_counter()
            with get_task_stream() as stream:
                ddf = read_data_dask(folder, ruleset.task, labels=False)
                votes = apply_rules_dask(ruleset, ddf)
            dask_s = time.perf_counter() - start
            worker_cpu_s = sum(client.run(_cpu_seconds).values()) - cpu
            busy_s = sum(
                part["stop"] - part["start"]
                for task in stream.data
                for part in task["startstops"]
                if part["action"] == "compute"
            )

    identical = votes.shape == local.shape and (votes.fired != local.fired).nnz == 0
    overhead_s = dask_s - busy_s / WORKERS
    print(f"single process: read {read_s:6.1f} s + apply {apply_s:6.1f} s = {local_s:6.1f} s")
    print(f"                {rows / local_s:10,.0f} rows/s")
    print(f"dask, {WORKERS} workers: {dask_s:6.1f} s (read + apply on workers + collect)")
    print(f"                {rows / dask_s:10,.0f} rows/s, speed-up x{local_s / dask_s:.2f}")
    print(f"  cluster start       {startup_s:6.1f} s (once per session)")
    print(f"  worker compute      {busy_s:6.1f} s in all ({busy_s / WORKERS:.1f} s per worker)")
    print(
        f"  worker CPU time     {worker_cpu_s:6.1f} s in all (single process: {apply_cpu_s:.1f} s)"
    )
    print(f"  scheduling+collect  {overhead_s:6.1f} s ({overhead_s / dask_s:.0%} of the Dask run)")
    total = dask_s + startup_s
    print(f"  with cluster start  {total:6.1f} s, speed-up x{local_s / total:.2f}")
    print(f"identical votes: {identical} ({local.fired.nnz:,} firings)")
    if not identical:
        raise SystemExit("the Dask engine disagrees with the local engine")


if __name__ == "__main__":
    main()
