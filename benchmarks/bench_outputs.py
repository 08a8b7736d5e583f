"""Outputs: writing every (row, label) pair of the bundled projects' audit as JSON Lines.

Two measurements, each against a baseline in the same run (the machine is shared, so read
the ratios; absolute seconds depend on the load):

1. The CLI end to end, each run its own process, measured from outside (wall, CPU = user +
   system, peak resident memory via `wait4`), alternating `--repeat` times:
   - `default`: `lfkit audit examples/madewithml/projects.json --rules rules/madewithml
     -f jsonl -o OUT` (the flags the scores say are wrong: a few hundred records);
   - `every pair`: the same with `--min-score 0` (812,800 records, ~600 MB).
   The ratio every pair / default is the cost of writing everything.
2. The writer alone, in one process, on the audit of the first `--writer-rows` projects with
   `--min-score 0`: records from the columns (`render_jsonl` of a `Flags`) vs building each
   `Flag` object and `json.dumps(flag.to_dict())` (the reference the tests compare against;
   before, the audit also re-ran each flag's rules for their spans: slower still), each on
   a copy of the report with nothing built yet, checking that both give the same bytes.

Run: .venv/bin/python benchmarks/bench_outputs.py [--repeat 2] [--writer-rows 300] [--writer-only]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "madewithml" / "projects.json"
RULES = ROOT / "rules" / "madewithml"


def run(extra: list[str], out: Path) -> tuple[float, float, float, str]:
    """Run one `lfkit audit`; return (wall s, CPU s, peak memory GB, its last stderr line)."""
    command = [sys.executable, "-m", "lfkit", "audit", str(DATA), "--rules", str(RULES),
               "-f", "jsonl", "-o", str(out), "--force", *extra]  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = process.stderr.read().decode() if process.stderr else ""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed: {err[-3000:]}")
    said = [line for line in err.splitlines() if "written to" in line]
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024**2, said[-1]


def writer(rows: int) -> None:
    """Time the two ways of writing the records of one audit, in this process."""
    import lfkit
    from lfkit.data import read_data
    from lfkit.report.records import render_jsonl

    ruleset = lfkit.load_rules(RULES)
    df = read_data(DATA, ruleset.task).head(rows)
    report = lfkit.audit_labels(ruleset, df, min_score=0.0)
    start = time.process_time()
    fast = render_jsonl(report)
    columns = time.process_time() - start
    fresh = pickle.loads(pickle.dumps(report))  # the same flags, nothing built or cached yet
    start = time.process_time()
    records = [flag.to_dict() for flag in fresh.flags]
    records += [finding.to_dict() for finding in fresh.findings]
    slow = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    objects = time.process_time() - start
    n = len(report.flags)
    print(f"\nwriter alone, {rows} rows x {len(ruleset.labels)} labels = {n:,} records (CPU s):")
    print("| writer | CPU s | records/s |")
    print("|---|---|---|")
    print(f"| columns (`render_jsonl` of `Flags`) | {columns:.2f} | {n / columns:,.0f} |")
    print(f"| a Flag object each + `to_dict` + `json.dumps` | {objects:.2f} | {n / objects:,.0f} |")
    print(f"columns are {objects / columns:.0f}x faster; same bytes: {fast == slow}")
    if fast != slow:
        sys.exit("the two writers differ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="Alternating runs of each.")
    parser.add_argument("--writer-rows", type=int, default=300)
    parser.add_argument("--writer-only", action="store_true", help="Skip the CLI runs.")
    args = parser.parse_args()
    if args.writer_only:
        writer(args.writer_rows)
        return 0
    modes = {"default": [], "every pair": ["--min-score", "0"]}
    results: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "flags.jsonl"
        for _ in range(args.repeat):
            for mode, extra in modes.items():
                wall, cpu, memory, said = run(extra, out)
                size = out.stat().st_size / 1e6
                results[mode].append((wall, cpu, memory))
                print(f"{mode}: {wall:.1f} s wall, {cpu:.1f} s CPU, {memory:.2f} GB, "
                      f"{size:,.0f} MB ({said})", flush=True)  # fmt: skip
    print("\n| run | wall s (best) | CPU s (best) | peak memory |")
    print("|---|---|---|---|")
    best = {mode: (min(r[0] for r in rs), min(r[1] for r in rs)) for mode, rs in results.items()}
    for mode, runs in results.items():
        memory = max(r[2] for r in runs)
        print(f"| {mode} | {best[mode][0]:.1f} | {best[mode][1]:.1f} | {memory:.2f} GB |")
    wall = best["every pair"][0] / best["default"][0]
    cpu = best["every pair"][1] / best["default"][1]
    print(f"\nevery pair / default: {wall:.2f}x wall, {cpu:.2f}x CPU")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores while measuring")
    writer(args.writer_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
