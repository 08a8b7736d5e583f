"""Scale: the label audit on 100,000 to 10,000,000 rows, wall time and peak memory.

Synthetic rows (benchmarks/synthetic.py: the bundled projects resampled, description words
shuffled, new ids) are written to one Parquet file in pieces. Each audit runs as its own
process; wall time and its peak resident memory (`wait4`) are measured from outside:

- `whole`: the file read into one DataFrame, then `lfkit.audit_labels` (which scores it in
  chunks, the evidence fitted on a bounded sample): memory grows with the rows read;
- `chunked`: the file read partition by partition, twice (`audit_source`: pass 1 counts and
  keeps the fit sample, pass 2 scores): memory grows with a partition and the fitted model;
- `cli`: `lfkit audit DATA --rules R --top 20` (what users run).

The audits keep the 20 best flags (`top=20`) and count all of them. The baseline in the same
run is the same mode on the smallest size: the ratio of rows per second shows how time scales.

Run: .venv/bin/python benchmarks/bench_scale.py [--rows 100000 1000000] [--modes whole chunked cli]
         [--task tags|classes] [--rules-only]
     .venv/bin/python benchmarks/bench_scale.py --task classes --rules-only \\
         --rows 1000000 10000000 --modes chunked             # the 10M run, outside CI
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from synthetic import ROOT, synthetic_classes, synthetic_projects

RULES = {"tags": ROOT / "rules" / "madewithml", "classes": ROOT / "rules" / "madewithml-4class"}
DATA = {"tags": synthetic_projects, "classes": synthetic_classes}
PIECE = 500_000
LIMIT_GB = 4.0
MODES = ("whole", "chunked", "cli")


def write_data(path: Path, task: str, n_rows: int) -> None:
    """Write n_rows synthetic rows to one Parquet file, PIECE rows at a time."""
    writer = None
    for start in range(0, n_rows, PIECE):
        piece = DATA[task](min(PIECE, n_rows - start), seed=start)
        piece["id"] += start
        table = pa.Table.from_pandas(piece, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=100_000)
    assert writer is not None
    writer.close()


def worker(mode: str, data: str, options: list[str]) -> None:
    """Run one audit in this process (the parent measures it)."""
    import lfkit
    from lfkit.audit.partitioned import audit_source
    from lfkit.data import read_data

    ruleset = lfkit.load_rules(RULES[options[0]])
    flags = {"neighbours": "--no-neighbours" not in options,
             "classifier": "--no-classifier" not in options}  # fmt: skip
    if mode == "whole":
        df = read_data(data, ruleset.task)
        report = lfkit.audit_labels(ruleset, df, top=20, **flags)
    else:
        report = audit_source(ruleset, data, top=20, **flags)
    print(f"{report.n_rows} rows, {report.n_flags} flags at >= {report.min_score:.3f}")


def run(command: list[str]) -> tuple[float, float, str]:
    """Run a command; return (seconds, peak resident memory in GB, its output)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err = process.stderr.read().decode() if process.stderr else ""
        sys.exit(f"{' '.join(command)} failed: {err[-3000:]}")
    return seconds, usage.ru_maxrss / 1024**2, out.strip().splitlines()[-1] if out else ""


def command(mode: str, data: Path, options: list[str]) -> list[str]:
    if mode == "cli":
        return [sys.executable, "-m", "lfkit", "audit", str(data), "--rules",
                str(RULES[options[0]]), "--top", "20", "-f", "jsonl", *options[1:]]  # fmt: skip
    return [sys.executable, __file__, "--worker", mode, str(data), *options]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["whole", "chunked"])
    parser.add_argument("--task", choices=sorted(RULES), default="tags")
    parser.add_argument("--rules-only", action="store_true", help="--no-neighbours --no-classifier")
    if sys.argv[1:2] == ["--worker"]:  # a measured child process
        worker(sys.argv[2], sys.argv[3], sys.argv[4:])
        return 0
    args = parser.parse_args()
    options = [args.task] + (["--no-neighbours", "--no-classifier"] if args.rules_only else [])
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for n_rows in sorted(args.rows):
            data = Path(folder) / f"{args.task}-{n_rows}.parquet"
            write_data(data, args.task, n_rows)
            for mode in args.modes:
                seconds, memory, said = run(command(mode, data, options))
                results.append((mode, n_rows, seconds, memory))
                print(f"{mode} {n_rows:,}: {seconds:.1f} s, {memory:.2f} GB ({said})", flush=True)
            data.unlink()
    print(f"\n{args.task}, {' '.join(options[1:]) or 'all evidence'}")
    print("| mode | rows | seconds | rows/s | peak memory | rows/s vs smallest |")
    print("|---|---|---|---|---|---|")
    ok = True
    for mode, n_rows, seconds, memory in results:
        base_rows, base_seconds = next((n, s) for m, n, s, _ in results if m == mode)
        ratio = (n_rows / seconds) / (base_rows / base_seconds)
        print(
            f"| {mode} | {n_rows:,} | {seconds:.1f} | {n_rows / seconds:,.0f} | "
            f"{memory:.2f} GB | {ratio:.2f}x |"
        )
        ok &= memory < LIMIT_GB or mode == "whole"
    print(f"\npeak memory of the chunked audits {'under' if ok else 'OVER'} {LIMIT_GB:g} GB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
