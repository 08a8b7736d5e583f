"""The audit in two passes over partitions of the rows, with memory bounded by a partition.

A partition is a DataFrame of consecutive rows and the number (`offset`) of its first row in
the whole data. The same functions serve a single process (chunks of a DataFrame or of a
file) and a Dask cluster (partitions on workers), so both give the same report:

1. `scan_partition` per partition: the rules' votes, label statistics that add up over
   disjoint rows, and the partition's rows of the fit sample (`SAMPLE_ROWS` rows chosen by a
   seeded hash of the row number); `merge_scans` adds two scans (associative).
2. `fit_audit` on the merged scan (in the client): the label model from the summed counts,
   the text evidence and the fusion on the sample, the default threshold from the sample's
   scores; the result, an `AuditPlan`, is small and picklable.
3. `audit_partition` per partition: score its rows, return a small `Partial` (flag counts per
   label and kind, the best candidates with the row facts a flag shows, taxonomy gaps);
   `merge_partials` merges two (associative), `finish_audit` turns the last into the
   `AuditReport`.

`audit_pieces` is the one driver of the two passes; how the pieces are reached is its
argument: `audit_chunks` loops over chunks read twice from any source in this process
(`audit_source`: the partitions of a data file), `lfkit.audit.distributed.audit_partitions`
maps them on Dask workers. With no more rows than the sample, the report equals the audit
of the whole data at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

import numpy as np
import pandas as pd

from lfkit._types import FloatArray, IntArray, LabelMethod
from lfkit.audit.findings import TaxonomyCheck, add_gaps, apply_taxonomy, collect_findings
from lfkit.audit.flags import Candidates, Flags, RowFacts, row_facts
from lfkit.audit.scores import (
    SAMPLE_ROWS,
    LabelScores,
    Rows,
    Scorer,
    default_threshold,
    fit_scorer,
    label_counts,
    read_rows,
    row_texts,
    smallest_keys,
)
from lfkit.audit.suspects import FEW_ROWS, KINDS, AuditReport
from lfkit.data import check_frame, split_data
from lfkit.engine.votes import Votes
from lfkit.errors import DataError
from lfkit.model.naive_bayes import FeatureCounts
from lfkit.rules.ruleset import RuleSet

CHUNK_ROWS = 10_000
"""Rows read and scored at a time in a single process."""


# Pass 1 ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Scan:
    """What pass 1 learns from some rows: statistics that add up over disjoint rows, and the
    fit sample among them."""

    n_rows: int
    counts: FeatureCounts
    """The label model's counts (`label_counts`)."""
    rule_fired: FloatArray
    """(n_rules,) rows each rule fires on."""
    rule_agree: FloatArray
    """(n_rules,) rows each rule fires on that have the rule's own label."""
    label_hits: FloatArray
    """(n_labels,) rows where a rule speaking for the label fires."""
    sample: Rows
    """The rows of the fit sample among these rows, by row number."""
    seed: int
    sample_size: int
    ids: tuple[np.ndarray, ...]
    """A 64-bit hash of each row's id, in row order (one array per partition): ids must be
    unique across partitions too (8 bytes per row)."""


def scan_partition(
    ruleset: RuleSet,
    df: pd.DataFrame,
    offset: int = 0,
    *,
    seed: int = 0,
    sample_rows: int = SAMPLE_ROWS,
    votes: Votes | None = None,
    checked: bool = False,
    source: str = "audit",
) -> Scan:
    """Pass 1 over one partition whose first row is row `offset` of the data.

    `votes` are the rules' votes on these rows (applied here when None); `checked` says `df`
    went through `check_frame` already (labels parsed), else it is checked here, `source`
    naming it in errors.

    Raises
    ------
    DataError
        When the partition lacks a column, or an id or a label is bad.
    """
    df = _checked(ruleset, df, checked, source)
    rows = read_rows(ruleset, df, offset, votes, texts=False)
    fired = rows.votes.fired.astype(np.float64)
    own = ruleset.rule_labels
    agree = np.asarray((fired.T @ rows.y.astype(np.float64)).toarray())[np.arange(len(own)), own]
    hits = np.asarray((fired @ ruleset.support_matrix.T).toarray() > 0).sum(axis=0)
    return Scan(
        len(rows),
        label_counts(ruleset, rows),
        np.asarray(fired.sum(axis=0), dtype=np.float64).ravel(),
        agree,
        np.asarray(hits, dtype=np.float64).ravel(),
        _sample(ruleset, df, rows, seed, sample_rows),
        seed,
        sample_rows,
        (pd.util.hash_pandas_object(df[ruleset.task.id_column], index=False).to_numpy(),),
    )


def merge_scans(first: Scan, second: Scan) -> Scan:
    """Return the scan of the rows of two scans (of disjoint rows; associative)."""
    sample = Rows.concat([first.sample, second.sample])
    order = np.argsort(sample.rows, kind="stable")
    sample = smallest_keys(sample.take(order), first.seed, first.sample_size)
    return Scan(
        first.n_rows + second.n_rows,
        first.counts + second.counts,
        first.rule_fired + second.rule_fired,
        first.rule_agree + second.rule_agree,
        first.label_hits + second.label_hits,
        sample,
        first.seed,
        first.sample_size,
        first.ids + second.ids,
    )


def _sample(ruleset: RuleSet, df: pd.DataFrame, rows: Rows, seed: int, size: int) -> Rows:
    """Return the rows of the fit sample among these rows, with their texts."""
    sample = smallest_keys(rows, seed, size)
    texts = row_texts(ruleset.task, df.iloc[sample.rows - rows.rows[0]]) if len(rows) else []
    return dataclasses.replace(sample, texts=texts)


def _checked(ruleset: RuleSet, df: pd.DataFrame, checked: bool, source: str) -> pd.DataFrame:
    if checked:
        return df
    task = ruleset.task
    columns = [task.id_column, *task.text_columns, task.label_column]
    return check_frame(df, task, columns=columns, source=source)


# Fit -------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NewLabels:
    """Labels on fewer than FEW_ROWS rows, the rules that speak for them, and how precise the
    rule set's positive rules are on the labels the data do teach."""

    few: np.ndarray
    """(n_labels,) bool."""
    support: np.ndarray
    """(n_labels, n_rules) bool: the positive rules that vote for each label."""
    precision: float
    present: FloatArray
    """(n_labels,) rows with each label."""
    hits: FloatArray
    """(n_labels,) rows where a rule for the label fires."""

    @staticmethod
    def of(ruleset: RuleSet, scan: Scan) -> NewLabels:
        present = scan.counts.present
        few = present < FEW_ROWS
        support = ruleset.support_matrix.toarray() > 0
        own = ruleset.rule_labels
        taught = ~few[own] & support[own, np.arange(len(own))]
        total = scan.rule_fired[taught].sum()
        precision = float(scan.rule_agree[taught].sum() / total) if total else 0.5
        return NewLabels(few, support, precision, present, scan.label_hits)

    def candidates(
        self, ruleset: RuleSet, batch: Rows, scores: LabelScores, min_score: float
    ) -> Candidates:
        """Return the candidate flags of these rows: a rule for a new label fires."""
        labels = np.nonzero(self.few)[0]
        if not len(labels):
            return Candidates.empty()
        fired = batch.votes.fired.astype(np.float64)
        n_rules = np.asarray(fired @ self.support[labels].T.astype(np.float64))
        given = scores.given
        score = 1.0 - (1.0 - self.precision) ** n_rules
        # a row with a descendant tag already needs the label: a taxonomy gap (a finding)
        gap = (given.astype(np.float64) @ ruleset.descendant_matrix[labels].T) > 0
        hit = (n_rules > 0) & ~given[:, labels] & ~gap & (score >= min_score)
        at, j = np.nonzero(hit)
        kind = KINDS.index("candidate")
        return Candidates.of(scores, batch.rows, at, labels[j], kind, score[at, j])

    def summary(self, ruleset: RuleSet) -> tuple[tuple[str, int, int], ...]:
        """Return (label, rows with it, rows its rules fire on) for new labels whose rules
        fire, most hits first."""
        found = [
            (ruleset.labels[i], int(self.present[i]), int(self.hits[i]))
            for i in np.nonzero(self.few & (self.hits > 0))[0]
        ]
        return tuple(sorted(found, key=lambda item: (-item[2], item[0])))


@dataclass(frozen=True, eq=False)
class AuditPlan:
    """What pass 2 needs: the fitted scorer, the new labels, the threshold and the options."""

    scorer: Scorer
    news: NewLabels
    min_score: float
    auto_threshold: bool
    top: int | None
    label_model: LabelMethod
    neighbours: bool
    classifier: bool

    @property
    def ruleset(self) -> RuleSet:
        """Return the rule set."""
        return self.scorer.ruleset


def fit_audit(
    ruleset: RuleSet,
    scan: Scan,
    *,
    label_model: LabelMethod = "naive-bayes",
    neighbours: bool = True,
    classifier: bool = True,
    min_score: float | None = None,
    top: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> AuditPlan:
    """Fit the scorer on the merged scan of all partitions, and choose the threshold.

    `min_score` None flags as many pairs as the sample's scores say are wrong (see
    `default_threshold`); `top` keeps the best flags only.

    Raises
    ------
    OptionError
        For an unknown label model.
    """
    scorer, sample_scores = fit_scorer(
        ruleset,
        scan.counts,
        scan.sample,
        label_model=label_model,
        neighbours=neighbours,
        classifier=classifier,
        seed=seed,
        progress=progress,
    )
    news = NewLabels.of(ruleset, scan)
    auto = min_score is None
    if min_score is None:
        min_score = default_threshold(row_errors(ruleset, sample_scores, news.few)[0])
    return AuditPlan(scorer, news, float(min_score), auto, top, label_model, neighbours, classifier)


# Pass 2 ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Partial:
    """What pass 2 found in some rows: flag counts per label and kind, the best candidates
    (at most `top`) with their rows' facts, and the taxonomy gaps."""

    counts: np.ndarray
    """(n_labels, len(KINDS)) int64."""
    candidates: Candidates
    """Best first."""
    facts: dict[int, RowFacts]
    """What a flag shows of each candidate's row, by row number."""
    gaps: dict[tuple[int, int], list[tuple[int, Any, float]]]
    """Per (child, parent), the (row, id, P(child right)) of rows with the child only."""
    top: int | None
    n_rows: int


def audit_partition(
    plan: AuditPlan,
    df: pd.DataFrame,
    offset: int = 0,
    *,
    votes: Votes | None = None,
    checked: bool = False,
    source: str = "audit",
) -> Partial:
    """Pass 2 over one partition (as in `scan_partition`): score its rows, keep its flags.

    Raises
    ------
    DataError
        When the partition lacks a column, or an id or a label is bad.
    """
    ruleset, task = plan.ruleset, plan.ruleset.task
    df = _checked(ruleset, df, checked, source)
    batch = read_rows(ruleset, df, offset, votes, texts=plan.scorer.evidence.text is not None)
    found = Candidates.empty()
    gaps: dict[tuple[int, int], list[tuple[int, Any, float]]] = {}
    counts = np.zeros((len(ruleset.labels), len(KINDS)), dtype=np.int64)
    for start in range(0, len(batch), CHUNK_ROWS):
        part = batch.take(np.arange(start, min(start + CHUNK_ROWS, len(batch))))
        scores = plan.scorer.score(part)
        wrong, check = row_errors(ruleset, scores, plan.news.few)
        add_gaps(
            gaps, check, part.rows, df[task.id_column].iloc[start : start + len(part)].tolist()
        )
        new = Candidates.concat(
            [
                _candidates(ruleset, scores, wrong, plan.min_score, part.rows),
                plan.news.candidates(ruleset, part, scores, plan.min_score),
            ]
        )
        counts += new.counts(len(ruleset.labels))
        found = Candidates.concat([found, new])
        if plan.top is not None:
            found = found.ranked(plan.top)
    found = found.ranked(plan.top)
    facts = row_facts(ruleset, df, batch.votes.fired, batch.y, found.row, offset)
    return Partial(counts, found, facts, gaps, plan.top, len(batch))


def merge_partials(first: Partial, second: Partial) -> Partial:
    """Return the partial result of the rows of two partials (disjoint rows; associative)."""
    candidates = Candidates.concat([first.candidates, second.candidates]).ranked(first.top)
    facts = {**first.facts, **second.facts}
    gaps = {key: list(rows) for key, rows in first.gaps.items()}
    for key, rows in second.gaps.items():
        gaps.setdefault(key, []).extend(rows)
    return Partial(
        first.counts + second.counts,
        candidates,
        {row: facts[row] for row in np.unique(candidates.row).tolist()},
        gaps,
        first.top,
        first.n_rows + second.n_rows,
    )


def finish_audit(plan: AuditPlan, partial: Partial) -> AuditReport:
    """Return the audit report of the merged partial result of all partitions."""
    ruleset, scorer = plan.ruleset, plan.scorer
    per_label = {
        label: dict(zip(KINDS, map(int, partial.counts[i]), strict=True))
        for i, label in enumerate(ruleset.labels)
        if partial.counts[i].any()
    }
    flags = Flags(ruleset, partial.candidates, partial.facts, scorer.fusion)
    fusion = scorer.fusion
    weights = dict(zip(fusion.sources, fusion.weights, strict=True))
    weights["bias"] = float(np.mean(fusion.bias))
    noise = (
        {"missing": fusion.pooled[0], "spurious": fusion.pooled[1]}
        if ruleset.multilabel
        else {"wrong": fusion.pooled[0]}
    )
    gaps = {key: sorted(rows, key=lambda item: item[0]) for key, rows in partial.gaps.items()}
    return AuditReport(
        ruleset.task.kind,
        scorer.n_rows,
        ruleset.labels,
        plan.label_model,
        plan.neighbours,
        weights,
        plan.min_score,
        flags,
        per_label,
        findings=collect_findings(ruleset, gaps),
        new_labels=plan.news.summary(ruleset),
        unused_labels=int(plan.news.few.sum()),
        classifier=plan.classifier,
        auto_threshold=plan.auto_threshold,
        noise=noise,
    )


def row_errors(
    ruleset: RuleSet, scores: LabelScores, few: np.ndarray
) -> tuple[FloatArray, TaxonomyCheck]:
    """Return each row's flaggable error scores (multilabel: per pair, taxonomy applied and
    new labels left to candidates; multiclass: per row, its class) and the taxonomy check."""
    wrong = scores.error_scores()
    if ruleset.multilabel:
        wrong[:, few] = 0.0
    check = apply_taxonomy(ruleset, scores.given, wrong)
    if ruleset.multilabel:
        return check.wrong, check
    given = scores.given.argmax(axis=1)
    return wrong[np.arange(len(given)), given], check


def _candidates(
    ruleset: RuleSet,
    scores: LabelScores,
    wrong: FloatArray,
    min_score: float,
    rows: IntArray,
) -> Candidates:
    """Return the flags of these rows scoring at least `min_score` (see `row_errors`)."""
    y = scores.given
    if not ruleset.multilabel:
        errors = scores.error_scores()
        suggested = np.where(y, -1.0, errors).argmax(axis=1)
        at = np.nonzero(wrong >= min_score)[0]
        label = y.argmax(axis=1)[at]
        spurious = KINDS.index("spurious")
        return Candidates.of(scores, rows, at, label, spurious, wrong[at], suggested=suggested[at])
    at, label = np.nonzero(wrong >= min_score)
    present = y[at, label]
    kind = np.where(present, KINDS.index("spurious"), KINDS.index("missing"))
    children = np.empty(len(at), dtype=object)
    children.fill(())
    descendants = ruleset.descendant_matrix
    parents = np.nonzero(present & (np.diff(descendants.indptr) > 0)[label])[0]
    if len(parents):
        raw = scores.error_scores()
        for k in parents.tolist():
            i = at[k]
            below = descendants[[label[k]]].indices
            below = below[y[i, below] > 0]
            children[k] = tuple((int(c), float(1.0 - raw[i, c])) for c in below)
    return Candidates.of(scores, rows, at, label, kind, wrong[at, label], children=children)


# The driver ------------------------------------------------------------------------------------

Piece = tuple[pd.DataFrame, int, Votes | None]
"""Checked rows (`check_frame`), the row number of the first one in the data, and the rules'
votes on them (None: the rules are applied where the rows are)."""


class AuditOptions(TypedDict, total=False):
    """The options of `audit_pieces`, for the functions that pass them on."""

    label_model: LabelMethod
    neighbours: bool
    classifier: bool
    min_score: float | None
    top: int | None
    seed: int
    sample_rows: int
    progress: Callable[[str], None] | None


MapPieces = Callable[..., Iterator[Any]]
"""``map_pieces(func, *shared)`` yields ``func(piece, *shared)`` for every `Piece` of the
data, in row order, wherever the pieces are read: a loop in this process (`audit_chunks`)
or Dask workers (`lfkit.audit.distributed.audit_partitions`)."""


def audit_pieces(
    ruleset: RuleSet,
    map_pieces: MapPieces,
    *,
    where: str,
    label_model: LabelMethod = "naive-bayes",
    neighbours: bool = True,
    classifier: bool = True,
    min_score: float | None = None,
    top: int | None = None,
    seed: int = 0,
    sample_rows: int = SAMPLE_ROWS,
    progress: Callable[[str], None] | None = None,
) -> AuditReport:
    """Audit the data in two passes over its pieces, each mapped by `map_pieces`: pass 1
    scans (merged with `merge_scans`), `fit_audit` in this process, pass 2 audits (merged with
    `merge_partials`), then `finish_audit`. `where` names the data in errors; options as in
    `audit_labels`.

    Raises
    ------
    DataError
        When there are no rows, two rows have the same id, or the passes read different
        numbers of rows.
    OptionError
        For an unknown label model.
    """
    say = progress or (lambda _: None)
    say("applying rules and counting")
    scan = _fold(merge_scans, map_pieces(_scan_piece, ruleset, seed, sample_rows))
    if scan is None or not scan.n_rows:
        raise DataError("the data has no rows", where=where)
    _check_unique(ruleset, np.concatenate(scan.ids), where)
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
    partial = _fold(merge_partials, map_pieces(_audit_piece, plan))
    seen = 0 if partial is None else partial.n_rows
    if partial is None or seen != scan.n_rows:
        raise DataError(
            f"the second pass read {seen:,} rows, the first {scan.n_rows:,}",
            "the data changed while it was audited",
            where=where,
        )
    return finish_audit(plan, partial)


_T = TypeVar("_T")


def _fold(merge: Callable[[_T, _T], _T], results: Iterable[_T]) -> _T | None:
    """Merge results as they come (`functools.reduce` that allows none)."""
    total: _T | None = None
    for result in results:
        total = result if total is None else merge(total, result)
    return total


def _scan_piece(piece: Piece, ruleset: RuleSet, seed: int, sample_rows: int) -> Scan:
    df, offset, votes = piece
    return scan_partition(
        ruleset, df, offset, seed=seed, sample_rows=sample_rows, votes=votes, checked=True
    )


def _audit_piece(piece: Piece, plan: AuditPlan) -> Partial:
    df, offset, votes = piece
    return audit_partition(plan, df, offset, votes=votes, checked=True)


def _check_unique(ruleset: RuleSet, hashes: np.ndarray, where: str) -> None:
    """Raise when two rows have the same id (by a 64-bit hash of each id: 8 bytes per row)."""
    order = np.argsort(hashes, kind="stable")
    same = np.nonzero(hashes[order[1:]] == hashes[order[:-1]])[0]
    if len(same):
        first, second = sorted(order[same[0] : same[0] + 2])
        raise DataError(
            f"rows {first + 1:,} and {second + 1:,} have the same id in column "
            f"'{ruleset.task.id_column}'",
            "ids must be unique",
            where=where,
        )


# One process -----------------------------------------------------------------------------------

Chunk = pd.DataFrame | tuple[pd.DataFrame, Votes | None]
"""A chunk of consecutive rows, optionally with the rules' votes on them."""


def audit_chunks(
    ruleset: RuleSet,
    chunks: Callable[[], Iterable[Chunk]],
    *,
    checked: bool = False,
    source: str = "audit",
    **options: Unpack[AuditOptions],
) -> AuditReport:
    """Audit the rows that `chunks()` yields, in two passes (it is called twice and must
    yield the same rows in the same order): memory grows with a chunk and the fitted model,
    not with the number of rows.

    `checked` says the chunks went through `check_frame`, `source` names them in errors;
    `options` as in `audit_pieces`.

    Raises
    ------
    DataError
        When a chunk lacks a column, or an id or a label is bad.
    DataError
        When there are no rows.
    OptionError
        For an unknown label model.
    """

    def map_pieces(func: Callable[..., _T], *shared: Any) -> Iterator[_T]:
        offset = 0
        for chunk in chunks():
            df, votes = chunk if isinstance(chunk, tuple) else (chunk, None)
            named = source if offset == 0 else f"{source} (rows from {offset + 1:,})"
            yield func((_checked(ruleset, df, checked, named), offset, votes), *shared)
            offset += len(df)

    return audit_pieces(ruleset, map_pieces, where=source, **options)


READ_BYTES = 16 * 2**20
"""Bytes of the data file read at a time by `audit_source` (about 100,000 short rows)."""


def audit_source(
    ruleset: RuleSet, source: str | Path, **options: Unpack[AuditOptions]
) -> AuditReport:
    """Audit a data file (or a glob of files, or a Parquet folder) in two passes over its
    partitions, reading READ_BYTES at a time: the rows are never all in memory.

    `options` as in `audit_pieces`.

    Raises
    ------
    DataError
        For a file that cannot be read, or bad rows (naming the file and where).
    """
    parts = split_data(source, ruleset.task, blocksize=READ_BYTES)
    return audit_chunks(
        ruleset, lambda: (part() for part in parts), checked=True, source=str(source), **options
    )
