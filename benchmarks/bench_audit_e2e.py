"""`lfkit audit` end to end (process start to report written) against a plain Snorkel pipeline.

lfkit: `python -m lfkit audit projects.json --rules rules/madewithml -f jsonl --out ...`, with
and without similar-row evidence, wall time of the whole process (imports included), median
of 3 runs. Baseline in the same run: the straightforward Snorkel pipeline a user would write,
in a fresh process too: `PandasLFApplier(ruleset.to_snorkel())`, then one `LabelModel` per tag
on that tag's rules (majority vote where a tag has fewer than the 3 rules Snorkel's model
needs), then rank (row, tag) pairs by disagreement with the given tags.
Targets: <= 3 s with rule evidence only, <= 10 s with the model-based evidence.

Run: .venv/bin/python benchmarks/bench_audit_e2e.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "madewithml" / "projects.json"
RULES = ROOT / "rules" / "madewithml"

SNORKEL_PIPELINE = f"""
import json, numpy as np, pandas as pd, lfkit
from snorkel.labeling import PandasLFApplier
from snorkel.labeling.model import LabelModel
ruleset = lfkit.load_rules({str(RULES)!r})
df = pd.DataFrame(json.load(open({str(DATA)!r})))
L = PandasLFApplier(ruleset.to_snorkel()).apply(df, progress_bar=False)
scores = []
for tag in ruleset.labels:
    columns = [j for j, rule in enumerate(ruleset.rules) if rule.label == tag]
    given = df["tags"].map(lambda tags: tag in tags).to_numpy()
    votes = L[:, columns]
    if len(columns) >= 3:  # Snorkel's LabelModel needs at least 3 labeling functions
        model = LabelModel(cardinality=2, verbose=False)
        model.fit(votes, n_epochs=100, seed=0, progress_bar=False)
        present = model.predict_proba(votes)[:, 1]
    else:  # majority vote
        cast = (votes != -1).sum(axis=1)
        present = np.where(cast > 0, (votes == 1).sum(axis=1) / np.maximum(cast, 1), 0.0)
    scores.append(np.where(given, 1 - present, present))
order = np.argsort(-np.stack(scores, axis=1).ravel())[:100]
print(len(order))
"""


def timed(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        lfkit_command = [
            sys.executable,
            "-m",
            "lfkit",
            "audit",
            str(DATA),
            "--rules",
            str(RULES),
            "-f",
            "jsonl",
            "--out",
            str(Path(folder) / "flags.jsonl"),
            "--force",
        ]
        rules_only = timed([*lfkit_command, "--no-neighbours"], 3)
        full = timed(lfkit_command, 3)
        snorkel = timed([sys.executable, "-c", SNORKEL_PIPELINE], 1)
    print("| pipeline (2,032 projects, 549 rules, 400 tags) | seconds | vs Snorkel | target |")
    print("|---|---|---|---|")
    ratio = snorkel / rules_only
    print(f"| lfkit audit, rule evidence only | {rules_only:.2f} | {ratio:.0f}x | <= 3 s |")
    print(f"| lfkit audit, with similar rows | {full:.2f} | {snorkel / full:.0f}x | <= 10 s |")
    print(f"| Snorkel: PandasLFApplier + LabelModel per tag | {snorkel:.2f} | 1x | |")
    return 0 if rules_only <= 3 and full <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
