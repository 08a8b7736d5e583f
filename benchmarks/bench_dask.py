"""The label audit on Dask: one process vs a LocalCluster, and a simulated larger cluster.

Synthetic projects (benchmarks/synthetic.py: the bundled ones resampled, description words
shuffled, new ids) are written as Parquet files of `--part-rows` rows each; one file is one
partition (`lfkit.data.split_data(folder, blocksize=None)`). Every run is its own process,
measured from outside (wall time) and sampled from inside every 20 ms (resident memory of
the client process, and of each worker process):

1. `single`: `audit_partitions` with `map_local`: both passes in this one process, a
   partition at a time;
2. `dask-N`: the same function with `map_partitions` on a `LocalCluster` of N worker
   processes (one thread each): partitions read, counted, scanned and scored on the
   workers; only row counts, scans (statistics + the fit sample) and partials (flag counts
   + best candidates) come back; the fitted plan goes out once.

Both must give the same report (its JSON Lines hashed). Part 2 runs `dask-8` (8 worker
processes sharing this machine's cores) on more and more partitions of the same size: the
client's peak memory and the bytes it receives per partition must stay flat while the rows
grow. Ratios are against `single` on the same data in the same run; the machine is shared,
so compare ratios, not seconds.

    .venv/bin/python benchmarks/bench_dask.py                   # 1,000,000 rows + part 2
    .venv/bin/python benchmarks/bench_dask.py --quick           # 100,000 rows + small part 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
from synthetic import ROOT, synthetic_projects

RULES = ROOT / "rules" / "madewithml"


def write_parts(folder: Path, n_rows: int, part_rows: int) -> None:
    """Write n_rows synthetic projects as Parquet files of part_rows rows, in name order."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, start in enumerate(range(0, n_rows, part_rows)):
        piece = synthetic_projects(min(part_rows, n_rows - start), seed=start)
        piece["id"] += start
        piece.to_parquet(folder / f"part-{number:05d}.parquet", index=False)


class Sampler:
    """Sample the peak resident memory of this process and of each of its descendants."""

    def __init__(self) -> None:
        self.client = 0
        self.workers: dict[int, int] = {}
        self.worker_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.02):
            self.client = max(self.client, me.memory_info().rss)
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                    cpu = child.cpu_times()
                except psutil.Error:
                    continue
                self.workers[child.pid] = max(self.workers.get(child.pid, 0), rss)
                self.worker_cpu[child.pid] = cpu.user + cpu.system

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measured(map_parts: Callable[..., Iterator[Any]], sizes: dict[str, list[int]]) -> Any:
    """Wrap a mapper so that it records the pickled size of every result it yields."""

    def run(func: Callable[..., Any], parts: Any, *shared: Any) -> Iterator[Any]:
        for result in map_parts(func, parts, *shared):
            sizes.setdefault(func.__name__.strip("_"), []).append(len(pickle.dumps(result)))
            yield result

    return run


def worker(mode: str, data: str, workers: int) -> None:
    """Run one audit in this process and print one JSON line of measurements."""
    import lfkit
    from lfkit.audit.distributed import audit_partitions
    from lfkit.data import map_local, split_data
    from lfkit.report.render import render_report

    sampler = Sampler()
    ruleset = lfkit.load_rules(RULES)
    parts = split_data(data, ruleset.task, blocksize=None)
    sizes: dict[str, list[int]] = {}
    start = time.perf_counter()
    startup = 0.0
    if mode == "single":
        report = audit_partitions(ruleset, parts, map_parts=measured(map_local, sizes), top=20)
    else:
        from lfkit.engine.distributed import connect, map_partitions

        with connect(None, workers):
            startup = time.perf_counter() - start
            mapper = measured(map_partitions, sizes)
            report = audit_partitions(ruleset, parts, map_parts=mapper, top=20)
    seconds = time.perf_counter() - start
    sampler.stop()
    own = psutil.Process().cpu_times()
    text = render_report(report, fmt="jsonl")
    result = {
        "rows": report.n_rows,
        "partitions": len(parts),
        "flags": report.n_flags,
        "seconds": seconds,
        "startup": startup,
        "client_cpu": own.user + own.system,
        "worker_cpu": sum(sampler.worker_cpu.values()),
        "client_gb": sampler.client / 1024**3,
        "worker_gb": max(sampler.workers.values(), default=0) / 1024**3,
        "bytes_per_partition": {key: max(values) for key, values in sizes.items()},
        "bytes_back": sum(sum(values) for values in sizes.values()),
        "report": hashlib.sha256(text.encode()).hexdigest()[:12],
    }
    print(json.dumps(result))


def run(mode: str, data: Path, workers: int = 0) -> dict[str, Any]:
    """Run one measured audit as its own process."""
    command = [sys.executable, __file__, "--worker", mode, str(data), str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    if done.returncode != 0:
        sys.exit(f"{mode} failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - start
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--part-rows", type=int, default=62_500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sim-workers", type=int, default=8)
    parser.add_argument("--sim-rows", type=int, nargs="+", default=[100_000, 200_000, 400_000])
    parser.add_argument("--sim-part-rows", type=int, default=12_500)
    parser.add_argument("--quick", action="store_true", help="100,000 rows; part 2 smaller")
    parser.add_argument("--skip", choices=["part1", "part2"], help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return 0
    if args.quick:
        args.rows, args.part_rows = 100_000, 12_500
        args.sim_rows, args.sim_part_rows = [25_000, 50_000, 100_000], 6_250
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if args.skip != "part1":
            folder = Path(tmp) / "audit"
            write_parts(folder, args.rows, args.part_rows)
            single = run("single", folder)
            cluster = run(f"dask-{args.workers}", folder, args.workers)
            same = single["report"] == cluster["report"]
            ok &= same
            print(f"\n## Part 1: audit of {args.rows:,} rows, {single['partitions']} partitions")
            print(
                "\n| run | wall s | audit s | vs single | CPU s client + workers | "
                "client peak GB | worker peak GB |"
            )
            print("|---|---|---|---|---|---|---|")
            for name, result in (("single process", single), (f"LocalCluster({args.workers})",
                                                                cluster)):  # fmt: skip
                audit_s = result["seconds"] - result["startup"]
                print(
                    f"| {name} | {result['wall']:.1f} | {audit_s:.1f} | "
                    f"{single['seconds'] / audit_s:.2f}x | {result['client_cpu']:.0f} + "
                    f"{result['worker_cpu']:.0f} | {result['client_gb']:.2f} | "
                    f"{result['worker_gb']:.2f} |"
                )
            print(f"\nsame report: {same} ({single['flags']:,} flags, hash {single['report']})")
        if args.skip != "part2":
            print(f"\n## Part 2: {args.sim_workers} worker processes, "
                  f"{args.sim_part_rows:,} rows per partition")  # fmt: skip
            print(
                "\n| rows | partitions | audit s | CPU s client + workers | client peak GB | "
                "worker peak GB | largest scan B | largest partial B | bytes back in all |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            for n_rows in args.sim_rows:
                folder = Path(tmp) / f"sim-{n_rows}"
                write_parts(folder, n_rows, args.sim_part_rows)
                result = run(f"dask-{args.sim_workers}", folder, args.sim_workers)
                per = result["bytes_per_partition"]
                print(
                    f"| {n_rows:,} | {result['partitions']} | "
                    f"{result['seconds'] - result['startup']:.1f} | {result['client_cpu']:.0f} + "
                    f"{result['worker_cpu']:.0f} | {result['client_gb']:.2f} | "
                    f"{result['worker_gb']:.2f} | {per.get('scan', 0):,} | "
                    f"{per.get('audit', 0):,} | {result['bytes_back']:,} |",
                    flush=True,
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
