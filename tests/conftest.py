"""Shared fixtures: the bundled MadeWithML data and the curated rules."""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

import lfkit
from lfkit.rules.ruleset import RuleSet

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "madewithml"
TAG_RULES = ROOT / "rules" / "madewithml"
CLASS_RULES = ROOT / "rules" / "madewithml-4class"
BAD_RULES = Path(__file__).parent / "bad_rules"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
T = TypeVar("T")


@pytest.fixture(scope="session")
def projects() -> pd.DataFrame:
    """All 2,032 bundled projects, tags as lists."""
    return pd.DataFrame(json.loads((EXAMPLES / "projects.json").read_text("utf-8")))


@pytest.fixture(scope="session")
def classes() -> pd.DataFrame:
    """The 764 projects of the 4-class task."""
    return pd.read_csv(EXAMPLES / "dataset.csv")


@pytest.fixture(scope="session")
def tag_rules() -> RuleSet:
    """The curated multilabel rules for the projects."""
    return lfkit.load_rules(TAG_RULES)


@pytest.fixture(scope="session")
def class_rules() -> RuleSet:
    """The curated multiclass rules for dataset.csv."""
    return lfkit.load_rules(CLASS_RULES)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A Dask LocalCluster of 2 worker processes on 127.0.0.1, with a client as the default."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as local,
        distributed.Client(local),
    ):
        yield local


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, one per test process (the HTML report's and the
    review app's tests share it; each test loads its own page); fails (never skips) when it is
    missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: run `make browser` to install "
            "Debian's chromium and chromium-driver for the HTML report tests",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}",
    ):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield chrome
    chrome.quit()


def write_rules(tmp_path: Path, body: str, *, task: str = "") -> Path:
    """Write a rules file with a default multilabel task over title and description."""
    task = (
        task or "task: {kind: multilabel, text_columns: [title, description], label_column: tags}"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(f"{task}\n{body}", encoding="utf-8")
    return path


def write_parts(df: pd.DataFrame, folder: Path, rows: int, suffix: str = ".csv") -> str:
    """Write the frame as files part-0, part-1, ... of `rows` rows each in `folder` (CSV, JSON
    Lines or Parquet, by `suffix`) and return their glob."""
    for number, start in enumerate(range(0, len(df), rows)):
        part, path = df.iloc[start : start + rows], folder / f"part-{number}{suffix}"
        if suffix == ".jsonl":
            part.to_json(path, orient="records", lines=True)
        elif suffix == ".parquet":
            part.to_parquet(path, index=False)
        else:
            part.to_csv(path, index=False)
    return str(folder / f"part-*{suffix}")


def description_ngrams(projects: pd.DataFrame, rows: int, limit: int) -> list[str]:
    """Return the word 1- to 3-grams of the first `rows` project descriptions, lower case, in
    the order first seen, at most `limit` (real keyword phrases sharing many prefixes)."""
    grams: dict[str, None] = {}
    for text in projects["description"].head(rows):
        words = re.findall(r"[a-z][a-z0-9]+", text.lower())
        for n in (1, 2, 3):
            for i in range(len(words) - n + 1):
                grams.setdefault(" ".join(words[i : i + n]))
    return list(grams)[:limit]


def finishes_within(seconds: float, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return `function(*args, **kwargs)`, or fail the test if it runs longer than `seconds`.

    The call runs in a daemon thread, so a call that hangs (a blocked read, a runaway match)
    fails the test and is left behind without blocking pytest's exit; what the call raises is
    raised here. (`ThreadPoolExecutor.result(timeout=...)` inside `with ThreadPoolExecutor`
    cannot do this: leaving the block waits for the hung thread.)
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as err:  # re-raised in the test's thread
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(function, '__name__', function)} did not finish within {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


# The tests allocate many short-lived objects (pandas, syntax trees): with Python's default
# thresholds (700, 10, 10) garbage collection took about 9% of their CPU (gc.callbacks).
# Fewer, larger young collections, and what is alive once the tests are collected (modules,
# their functions) is left out of later full collections: GC then takes about 3%.
gc.set_threshold(10_000, 10, 10)


def pytest_collection_finish() -> None:
    """Leave what collection made (modules, test functions) out of later collections."""
    gc.freeze()


# ------------------------------------------------ two workers: `make test` (-n 2 --dist loadfile)
# pytest-xdist's loadfile runs each file's tests in one process (its module fixtures are built
# once) and hands out files in the order collected. Two refinements, measured in
# docs/testing.md "Speed of the quick suite":
# - files that need the same costly per-process thing run in the same process, so that it is
#   paid once, not once per worker: spaCy (it imports torch: ~4 s of CPU; Snorkel's slicing and
#   LabelModel need torch too) and the headless Chromium;
# - the costliest files go first, so that no worker is handed a big file while the other one
#   has finished; the rest follow in collection order.
SAME_PROCESS = {
    **dict.fromkeys(
        (
            "tests/test_hardening.py",
            "tests/test_check.py",
            "tests/test_engine.py",
            "tests/test_engine_exact.py",
            "tests/test_rules_kinds.py",
            "tests/test_fuzz.py",
            "tests/test_loader.py",
            "tests/test_assist_slices.py",
            "lfkit/assist/slices.py",
            "docs/rules.md",
        ),
        "spaCy and torch",
    ),
    "tests/test_report_html.py": "Chromium",
    "tests/test_review_app.py": "Chromium",
}
COSTLIEST_FIRST = (  # CPU seconds of the quick suite, most first (2026-12-01)
    "spaCy and torch",
    "tests/test_dask.py",
    "tests/test_audit.py",
    "Chromium",
    "tests/test_outputs.py",
    "tests/test_fuse.py",
    "tests/test_review_memory.py",
    "tests/test_cli.py",
    "tests/test_model.py",
    "tests/test_review_fix.py",
    "tests/test_notebook_api.py",
)


def _unit(nodeid: str) -> str:
    """Return the unit of work of a test: its file, or the group of files sharing a process."""
    path = nodeid.split("::", 1)[0]
    return SAME_PROCESS.get(path, path)


SLOW_FIXTURES = {"cluster", "driver"}
"""A test that starts a Dask LocalCluster or a headless Chromium is slow: `make test-all` and CI
run it, `make test` does not (each costs seconds of start-up and most of a core)."""


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests using SLOW_FIXTURES slow, and put the costliest units first (a stable
    sort: files and tests otherwise as collected)."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    rank = {unit: number for number, unit in enumerate(COSTLIEST_FIRST)}
    items.sort(key=lambda item: rank.get(_unit(item.nodeid), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, with the files of SAME_PROCESS as one unit, in collection order."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedLoadFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    config.option.loadscopereorder = False  # our order, not xdist's (most tests first)
    return SharedLoadFileScheduling(config, log)


settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
