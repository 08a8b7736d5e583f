"""One million rows: `lfkit apply` and `lfkit audit` end to end, with peak memory.

Each command runs as its own process (`python -m lfkit ...`) on a synthetic Parquet file
(benchmarks/synthetic.py); wall time and the process's peak resident memory are measured
from outside. The baseline measured in the same run is the same command on 20,000 rows:
the ratio of rows per second shows how the pipeline scales. Target: peak memory under 4 GB.

Run: .venv/bin/python benchmarks/bench_scale.py [--rows 1000000] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synthetic import ROOT, synthetic_projects

RULES = ROOT / "rules" / "madewithml"
LIMIT_GB = 4.0


def run(args: list[str]) -> tuple[float, float]:
    """Run `python -m lfkit ARGS`; return (seconds, peak resident memory in GB)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "lfkit", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"lfkit {' '.join(args)} failed: {process.stderr.read().decode()}")
    process.stderr.close()
    return seconds, usage.ru_maxrss / 1024**2


def measure(folder: Path, n_rows: int) -> dict[str, tuple[float, float]]:
    data = folder / f"projects-{n_rows}.parquet"
    synthetic_projects(n_rows).to_parquet(data)
    return {
        "apply": run(
            [
                "apply",
                str(data),
                "--rules",
                str(RULES),
                "--out",
                str(folder / f"votes-{n_rows}.parquet"),
                "--force",
            ]
        ),
        "audit (rules only)": run(
            [
                "audit",
                str(data),
                "--rules",
                str(RULES),
                "--no-neighbours",
                "-f",
                "jsonl",
                "--out",
                str(folder / f"a-{n_rows}.jsonl"),
                "--force",
            ]
        ),
        "audit": run(
            [
                "audit",
                str(data),
                "--rules",
                str(RULES),
                "-f",
                "jsonl",
                "--out",
                str(folder / f"b-{n_rows}.jsonl"),
                "--force",
            ]
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="200,000 rows")
    args = parser.parse_args()
    rows = 200_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory() as folder:
        baseline = measure(Path(folder), 20_000)
        large = measure(Path(folder), rows)
    print("| command | rows | seconds | rows/s | peak memory | rows/s vs 20k rows |")
    print("|---|---|---|---|---|---|")
    ok = True
    for name, (seconds, memory) in large.items():
        base_seconds, _ = baseline[name]
        ratio = (rows / seconds) / (20_000 / base_seconds)
        print(
            f"| lfkit {name} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | "
            f"{memory:.2f} GB | {ratio:.2f}x |"
        )
        ok &= memory < LIMIT_GB
    print(f"\npeak memory {'under' if ok else 'OVER'} {LIMIT_GB:g} GB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
