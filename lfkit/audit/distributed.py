"""The audit and the rule analysis over the partitions of a data source, in this process or
on a Dask cluster.

The two passes of `lfkit.audit.partitioned.audit_pieces` run where the partitions are read:
a mapper (`lfkit.data.map_local` here, `lfkit.engine.distributed.map_partitions` on Dask)
calls a function on each `lfkit.data.Partition` and yields the results in order. Only small
things come back to this process: row counts, the pass-1 `Scan` (label statistics, a hash
of each id and the rows of the bounded fit sample), and the pass-2 `Partial` (flag counts
and the best candidates); the fitted `AuditPlan` goes out to the workers once. The report
equals `audit_chunks` over the same rows, whatever the partitioning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from typing import Any, Unpack

from lfkit.audit.analysis import RuleCounts, RuleStats, count_rules, rule_stats
from lfkit.audit.partitioned import AuditOptions, audit_pieces
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
    **options: Unpack[AuditOptions],
) -> AuditReport:
    """Audit the rows of `parts` (each read with labels) in two passes where they are read.

    The fit sample is chosen by global row number, so a first, cheap pass counts the rows of
    each partition (reading it, applying no rules). `options` as in `audit_pieces`.

    Raises
    ------
    DataError
        When a partition does not read, or an id or a label is bad.
        Also when there are no rows, or the data changed between passes.
    OptionError
        For an unknown label model.
    """
    say = options.get("progress") or (lambda _: None)
    say("counting rows")
    sizes = list(map_parts(_count, parts))
    offsets = [0, *accumulate(sizes)][:-1]
    placed = list(zip(parts, offsets, sizes, strict=True))

    def map_pieces(func: Callable[..., Any], *shared: Any) -> Iterator[Any]:
        return map_parts(_read, placed, func, *shared)

    where = parts[0].describe() if parts else "audit"
    return audit_pieces(ruleset, map_pieces, where=where, **options)


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


def _read(placed: tuple[Partition, int, int], func: Callable[..., Any], *shared: Any) -> Any:
    """Read a partition whose first row is row `offset`, of `size` rows; call `func` on it."""
    part, offset, size = placed
    df = part()
    if len(df) != size:
        raise DataError(
            f"the partition has {len(df):,} rows, {size:,} were counted",
            "the data changed while it was audited",
            where=part.describe(),
        )
    return func((df, offset, None), *shared)
