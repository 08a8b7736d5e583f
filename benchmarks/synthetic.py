"""Synthetic data for the scale benchmarks: the bundled projects, replicated with perturbed text.

Each copy keeps a project's title and tags and shuffles the words of its description with a
seeded generator, so no two rows are the same text and nothing is trivially cached.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def synthetic_projects(n_rows: int, *, seed: int = 0) -> pd.DataFrame:
    """Return n_rows projects (id, title, description, tags) derived from the bundled ones."""
    base = pd.DataFrame(json.loads((ROOT / "examples/madewithml/projects.json").read_text("utf-8")))
    return resample(base, n_rows, seed=seed)


def synthetic_classes(n_rows: int, *, seed: int = 0) -> pd.DataFrame:
    """Return n_rows rows of the 4-class task (id, created_on, title, description, tag)."""
    return resample(pd.read_csv(ROOT / "examples/madewithml/dataset.csv"), n_rows, seed=seed)


def resample(base: pd.DataFrame, n_rows: int, *, seed: int = 0) -> pd.DataFrame:
    """Return n_rows rows drawn from `base` with their description words shuffled, ids 0..n-1."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(base), n_rows)
    words = [str(description).split() for description in base["description"]]
    descriptions = []
    for pick in picks:
        shuffled = list(words[pick])
        rng.shuffle(shuffled)
        descriptions.append(" ".join(shuffled))
    df = base.iloc[picks].reset_index(drop=True)
    return df.assign(id=np.arange(n_rows), description=descriptions)
