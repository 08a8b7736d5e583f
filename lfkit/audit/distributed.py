"""The audit and the rule analysis over the partitions of a data source, in this process or
on a Dask cluster.

The two passes of `lfkit.audit.partitioned` run where the partitions are read: a mapper
(`lfkit.data.map_local` here, `lfkit.engine.distributed.map_partitions` on Dask) calls a
function on each `lfkit.data.Partition` and yields the results in order. Only small things
come back to this process: row counts, the pass-1 `Scan` (label statistics and the rows of
the bounded fit sample), and the pass-2 `Partial` (flag counts and the best candidates);
the fitted `AuditPlan` goes out to the workers once. The report equals
`audit_chunks` over the same rows, whatever the partitioning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from typing import Any

from lfkit._types import LabelMethod
from lfkit.audit.analysis import RuleCounts, RuleStats, count_rules, rule_stats
from lfkit.audit.partitioned import (
    AuditPlan,
    Partial,
    Scan,
    audit_partition,
    finish_audit,
    fit_audit,
    merge_partials,
    merge_scans,
    scan_partition,
)
from lfkit.audit.scores import SAMPLE_ROWS
from lfkit.audit.suspects import AuditReport
from lfkit.data import Partition, map_local
from lfkit.engine.apply import apply_rules
from lfkit.errors import DataError
from lfkit.rules.ruleset import RuleSet

Mapper = Callable[..., Iterator[Any]]
"""`lfkit.data.map_local` (this process) or `lfkit.engine.distributed.map_partitions` (Dask)."""


def audit_partitions(
    ruleset: RuleSet,
    parts: Sequence[Partition],
    *,
    map_parts: Mapper = map_local,
    label_model: LabelMethod = "naive-bayes",
    neighbours: bool = True,
    classifier: bool = True,
    min_score: float | None = None,
    top: int | None = None,
    seed: int = 0,
    sample_rows: int = SAMPLE_ROWS,
    progress: Callable[[str], None] | None = None,
) -> AuditReport:
    """Audit the rows of `parts` (each read with labels) in two passes where they are read.

    The fit sample is chosen by global row number, so a first, cheap pass counts the rows of
    each partition (reading it, applying no rules). Options as in `audit_labels`.

    Raises
    ------
    DataError
        When a partition does not read, or an id or a label is bad.
        Also when there are no rows, or the data changed between passes.
    OptionError
        For an unknown label model.
    """
    say = progress or (lambda _: None)
    say("counting rows")
    sizes = list(map_parts(_count, parts))
    offsets = [0, *accumulate(sizes)][:-1]
    placed = list(zip(parts, offsets, strict=True))
    if not sum(sizes):
        where = parts[0].describe() if parts else "audit"
        raise DataError("the data has no rows", where=where)
    say("applying rules and counting")
    scan: Scan | None = None
    for found in map_parts(_scan, placed, ruleset, seed, sample_rows):
        scan = found if scan is None else merge_scans(scan, found)
    assert scan is not None
    plan = fit_audit(
        ruleset,
        scan,
        label_model=label_model,
        neighbours=neighbours,
        classifier=classifier,
        min_score=min_score,
        top=top,
        seed=seed,
        progress=say,
    )
    say("scoring and ranking")
    partial: Partial | None = None
    for result in map_parts(_audit, placed, plan):
        partial = result if partial is None else merge_partials(partial, result)
    assert partial is not None
    if scan.n_rows != sum(sizes):
        raise DataError(
            f"the rules were applied to {scan.n_rows:,} rows, {sum(sizes):,} were counted",
            "the data changed while it was audited",
            where=parts[0].describe(),
        )
    return finish_audit(plan, partial)


def analyze_partitions(
    ruleset: RuleSet, parts: Sequence[Partition], *, map_parts: Mapper = map_local
) -> list[RuleStats]:
    """Return `analyze_rules`' statistics of the rows of `parts`, counted where they are read.

    Each partition sends back one `RuleCounts` (a few integers per rule and up to three
    example ids); the sums give exactly the statistics of all rows at once.

    Raises
    ------
    DataError
        When a partition does not read, or an id or a label is bad.
    """
    total: RuleCounts | None = None
    for counts in map_parts(_count_rules, parts, ruleset):
        total = counts if total is None else total + counts
    if total is None or not total.n_rows:
        where = parts[0].describe() if parts else "analyze"
        raise DataError("the data has no rows", where=where)
    return rule_stats(ruleset, total)


def _count_rules(part: Partition, ruleset: RuleSet) -> RuleCounts:
    df = part()
    task = ruleset.task
    votes = apply_rules(ruleset, df)
    return count_rules(ruleset, votes, df[task.label_column].tolist(), df[task.id_column].tolist())


def _count(part: Partition) -> int:
    return len(part())


def _scan(placed: tuple[Partition, int], ruleset: RuleSet, seed: int, sample_rows: int) -> Scan:
    part, offset = placed
    source = part.describe()
    return scan_partition(
        ruleset, part(), offset, seed=seed, sample_rows=sample_rows, checked=True, source=source
    )


def _audit(placed: tuple[Partition, int], plan: AuditPlan) -> Partial:
    part, offset = placed
    return audit_partition(plan, part(), offset, checked=True, source=part.describe())
