"""The fast engine: all keywords of a text field in one vectorized pass, RE2 for the other regexes.

Rules are not called row by row. For each text field, the engine collects the distinct regexes
of all rules that look at it. Whole-word keywords of ASCII letters and digits (most of them)
are matched on the whole column at once by a trie of word runs (`lfkit/engine/keywords.py`),
exactly; the other regexes (user regexes, case-sensitive or symbol keywords) go into RE2
`Filter`s (RE2's FilteredRE2): one pass of an RE2 set of the literal strings the regexes
require finds the candidates, and only those run, each as its own RE2 regex, so one
`Filter.Match` per cell says exactly which regexes occur. (A plain RE2 set of thousands of
regexes builds its DFA lazily and slowly: seconds to minutes on the first rows.) Token patterns
run through one spaCy Matcher, only on rows that contain a word the pattern requires. Sparse
incidence matrices then turn pattern hits into rule votes.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import re2
from scipy import sparse

from lfkit._types import IntArray
from lfkit.engine.keywords import (
    FOLD_TO_ASCII,
    KeywordIndex,
    build_keyword_index,
    join_texts,
    keyword_hits,
    keyword_words,
    word_char_rows,
)
from lfkit.engine.votes import Votes
from lfkit.errors import DataError
from lfkit.rules.measures import numbers, text_length, within
from lfkit.rules.patterns import RE2_OPTIONS, ascii_variant, compile_regex, keyword_regex
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.text import as_text
from lfkit.rules.tokens import build_matcher, match_keys, parse, required_literals

if TYPE_CHECKING:
    import dask.dataframe as dd

FILTER_SIZE = 5_000
"""Regexes per RE2 filter: bounds the set of required literals each filter scans for (RE2
fails to compile filters of about 11,000 keywords; see `_SplitFilter`)."""


@dataclass(frozen=True, eq=False)
class _FieldPlan:
    """Everything matched in one text field: RE2 filters, a token matcher, incidence matrices."""

    field: str
    keywords: KeywordIndex
    """The keyword regexes matched by the run trie instead of RE2."""
    filters: list[Any]
    offsets: list[int]
    filtered: np.ndarray
    """Pattern index of each regex in the filters, in filter order."""
    any_filtered: Any
    """One RE2 regex matching where any regex of the filters does, when all are local."""
    regexes: list[str]
    inexact: frozenset[int]
    """Regexes whose ASCII-boundary variant in the filters can over-match on non-ASCII text."""
    token_patterns: list[Any]
    token_literals: list[tuple[str, ...]]
    positive: sparse.csr_array
    """(n_patterns, n_rules): which patterns a rule needs, and which (`unless`) rule it out."""
    unless: sparse.csr_array
    node_positive: sparse.csr_array
    """(n_nodes, n_rules): the same from the keyword trie's nodes (exact patterns)."""
    node_unless: sparse.csr_array
    pipeline: str | None = None
    """The spaCy pipeline token patterns run on (None: spacy.blank('en'), tokens only)."""


def apply_rules(ruleset: RuleSet, df: pd.DataFrame | dd.DataFrame) -> Votes:
    """Apply every rule to every row, with the votes of `PandasLFApplier(ruleset.to_snorkel())`.

    `df` may also be a `dask.dataframe.DataFrame`: its partitions are then matched on the
    Dask cluster (see docs/dask.md) and the votes come back in the original row order.

    Raises
    ------
    DataError
        When a text column the rules need is not in the DataFrame.
    """
    if not isinstance(df, pd.DataFrame):
        from lfkit.engine.distributed import apply_rules_dask

        return apply_rules_dask(ruleset, df)
    missing = [field for field in _fields(ruleset) if field not in df.columns]
    if missing:
        raise DataError(
            f"column '{missing[0]}' is not in the DataFrame; "
            f"available: {', '.join(map(str, df.columns))}",
            where="apply_rules",
        )
    n_rows, n_rules = len(df), len(ruleset)
    shape = (n_rows, n_rules)
    positive = sparse.csr_array(shape, shape=shape, dtype=np.int32)
    unless = sparse.csr_array(shape, shape=shape, dtype=np.int32)
    for plan in _plans(ruleset):
        nodes, hits = _field_hits(plan, df[plan.field])
        positive = positive + nodes @ plan.node_positive + hits @ plan.positive
        unless = unless + nodes @ plan.node_unless + hits @ plan.unless
    fired = sparse.csr_array((positive > 0).astype(np.int8) - (unless > 0).astype(np.int8) > 0)
    fired = _add_row_tests(ruleset, df, fired, positive, unless)
    fired.sort_indices()
    values = np.array([rule.value for rule in ruleset.rules], dtype=np.int64)
    return Votes(fired, values, tuple(ruleset.rule_names))


def _fields(ruleset: RuleSet) -> list[str]:
    """Return every column the rules read: text fields, score columns."""
    return list(dict.fromkeys(column for rule in ruleset.rules for column in rule.columns))


def _plans(ruleset: RuleSet) -> list[_FieldPlan]:
    """Return the rule set's compiled plans, built on first use and kept with the rule set."""
    return ruleset.derived("engine.plans", _compile_plans)


def _compile_plans(ruleset: RuleSet) -> list[_FieldPlan]:
    """Compile the rule set once per field; fields that the same rules read share one plan."""
    shared: dict[tuple[int, ...], _FieldPlan] = {}
    plans = []
    for field in dict.fromkeys(field for rule in ruleset.rules for field in rule.fields):
        readers = tuple(j for j, rule in enumerate(ruleset.rules) if field in rule.fields)
        if readers in shared:
            plans.append(replace(shared[readers], field=field))
        else:
            plans.append(shared.setdefault(readers, _plan_field(ruleset, field)))
    return plans


def _add_row_tests(
    ruleset: RuleSet,
    df: pd.DataFrame,
    fired: sparse.csr_array,
    positive: sparse.csr_array,
    unless: sparse.csr_array,
) -> sparse.csr_array:
    """Return `fired` with the columns of length, score and function rules recomputed.

    Such a rule fires where each test it states holds: its patterns (if any) match, its
    length and score are in range, and its `unless` does not match. A function column fires
    where its function casts the column's vote; each function runs once per row.
    """
    columns = [
        j for j, rule in enumerate(ruleset.rules) if rule.length or rule.score or rule.function
    ]
    if not columns:
        return fired
    n_rows = len(df)
    lengths: dict[tuple[str, str], IntArray] = {}
    cast = _function_votes(ruleset, df)
    tested = np.ones((n_rows, len(columns)), dtype=bool)
    for k, j in enumerate(columns):
        rule = ruleset.rules[j]
        if rule.function is not None:
            tested[:, k] = cast[id(rule.function.function)] == rule.value
            continue
        if rule.has_text_test:
            tested[:, k] &= positive[:, [j]].toarray().ravel() > 0
        tested[:, k] &= unless[:, [j]].toarray().ravel() == 0
        if rule.length is not None:
            unit = rule.length.unit
            total = np.zeros(n_rows, dtype=np.int64)
            for field in rule.fields:
                if (field, unit) not in lengths:
                    lengths[field, unit] = np.fromiter(
                        (text_length(as_text(v), unit) for v in df[field].tolist()),
                        dtype=np.int64,
                        count=n_rows,
                    )
                total += lengths[field, unit]
            tested[:, k] &= within(total, rule.length)
        if rule.score is not None:
            tested[:, k] &= within(numbers(df[rule.score.column].tolist()), rule.score)
    keep = np.ones(len(ruleset), dtype=np.int8)
    keep[columns] = 0
    rows, ks = np.nonzero(tested)
    added = sparse.csr_array(
        (np.ones(len(rows), dtype=np.int8), (rows, np.asarray(columns)[ks])),
        shape=(n_rows, len(ruleset)),
    )
    return sparse.csr_array(
        fired.astype(np.int8) @ sparse.diags_array(keep, dtype=np.int8) + added > 0
    )


def _function_votes(ruleset: RuleSet, df: pd.DataFrame) -> dict[int, IntArray]:
    """Run each user function once per row, as Snorkel's PandasLFApplier does (df.apply)."""
    voters = {id(r.function.function): r.function for r in ruleset.rules if r.function}
    if not voters:
        return {}
    if len(df) == 0:
        return {key: np.zeros(0, dtype=np.int64) for key in voters}
    cast = df.apply(lambda row: [voter.cast(row) for voter in voters.values()], axis=1)
    matrix = np.array(cast.tolist(), dtype=np.int64).reshape(len(df), len(voters))
    return {key: matrix[:, i] for i, key in enumerate(voters)}


def _plan_field(ruleset: RuleSet, field: str) -> _FieldPlan:
    regexes: dict[str, int] = {}
    tokens: dict[str, int] = {}
    token_patterns: list[Any] = []
    edges: dict[bool, list[tuple[str, int, int]]] = {True: [], False: []}
    for column, rule in enumerate(ruleset.rules):
        if field not in rule.fields:
            continue
        for is_positive, rule_regexes, rule_tokens in (
            (True, rule.regexes, rule.token_patterns),
            (False, rule.unless_regexes, rule.unless_token_patterns),
        ):
            for regex in rule_regexes:
                edges[is_positive].append(("re", regexes.setdefault(regex, len(regexes)), column))
            for pattern in rule_tokens:
                key = json.dumps(pattern, sort_keys=True)
                if key not in tokens:
                    tokens[key] = len(token_patterns)
                    token_patterns.append(pattern)
                edges[is_positive].append(("tok", tokens[key], column))
    n_patterns = len(regexes) + len(token_patterns)

    def incidence(is_positive: bool) -> sparse.csr_array:
        pairs = [
            (index if kind == "re" else len(regexes) + index, column)
            for kind, index, column in edges[is_positive]
        ]
        rows, cols = zip(*pairs, strict=True) if pairs else ((), ())
        data = np.ones(len(rows), dtype=np.int32)
        matrix = sparse.csr_array((data, (rows, cols)), shape=(n_patterns, len(ruleset)))
        matrix.sum_duplicates()
        return matrix

    ordered = list(regexes)
    keywords = {i: found for i, regex in enumerate(ordered) if (found := keyword_words(regex))}
    filtered = [i for i in range(len(ordered)) if i not in keywords]
    offsets = list(range(0, len(filtered), FILTER_SIZE))
    filters = [
        _build_filter([ordered[i] for i in filtered[start : start + FILTER_SIZE]])
        for start in offsets
    ]
    literals = [required_literals(pattern) for pattern in token_patterns]
    inexact = frozenset(i for i in filtered if ascii_variant(ordered[i]) != ordered[i])
    index = build_keyword_index(tuple((i, *found) for i, found in keywords.items()), n_patterns)
    positive, unless = incidence(True), incidence(False)
    return _FieldPlan(
        field,
        index,
        filters,
        offsets,
        np.array(filtered, dtype=np.int64),
        _any_regex([ascii_variant(ordered[i]) for i in filtered]),
        ordered,
        inexact,
        token_patterns,
        literals,
        positive,
        unless,
        sparse.csr_array(index.exact @ positive),
        sparse.csr_array(index.exact @ unless),
        pipeline=ruleset.task.pipeline,
    )


def _build_filter(regexes: Sequence[str]) -> _SplitFilter:
    return _SplitFilter(regexes)


class _SplitFilter:
    """RE2 filters over consecutive slices of `regexes`, with the `Match` of one `re2.Filter`.

    RE2 refuses to compile a filter past some size (about 11,000 keywords, or one keyword of
    about 100 KB; measured in docs/errors.md): a slice that does not compile is halved until it
    does, and a single regex that no filter takes runs on its own, on every cell.
    """

    def __init__(self, regexes: Sequence[str]) -> None:
        self.parts: list[tuple[int, Any, Any]] = []  # (offset, filter, lone regex)
        self._add(list(regexes), 0)

    def _add(self, regexes: list[str], offset: int) -> None:
        regex_filter = re2.Filter()
        try:
            for regex in regexes:
                regex_filter.Add(ascii_variant(regex), RE2_OPTIONS)
            regex_filter.Compile()
        except re2.error:
            if len(regexes) == 1:
                self.parts.append((offset, None, compile_regex(ascii_variant(regexes[0]))))
                return
            half = len(regexes) // 2
            self._add(regexes[:half], offset)
            self._add(regexes[half:], offset + half)
            return
        self.parts.append((offset, regex_filter, None))

    def Match(self, data: bytes) -> list[int]:  # noqa: N802  (the name of re2.Filter's method)
        """Return the positions of the regexes that match in `data` (UTF-8)."""
        if len(self.parts) == 1 and self.parts[0][1] is not None:
            return self.parts[0][1].Match(data) or []
        found: list[int] = []
        for offset, regex_filter, regex in self.parts:
            if regex_filter is not None:
                found.extend(offset + index for index in regex_filter.Match(data) or ())
            elif regex.search(data):
                found.append(offset)
        return found


def _field_hits(plan: _FieldPlan, column: pd.Series) -> tuple[sparse.csr_array, sparse.csr_array]:
    """Return where the patterns occur in the cells: the (n_rows, n_nodes) counts of keyword
    trie nodes reached (`plan.keywords.exact` maps them to patterns), and the (n_rows,
    n_patterns) 0/1 matrix of the other patterns found."""
    # as_text, without its calls for the common case of ASCII strings
    texts = [
        value if type(value) is str and value.isascii() else as_text(value)
        for value in column.tolist()
    ]
    data, offsets, non_ascii = join_texts(texts)
    unsure = word_char_rows(data, offsets).tolist() if len(non_ascii) else []
    nodes, *found = _keyword_hits(plan, texts, (data, offsets), non_ascii, unsure)
    rows, cols = [found[0]], [found[1]]
    if plan.filters:
        found = list(_filter_hits(plan, texts, (data, offsets), set(unsure)))
        rows.append(found[0])
        cols.append(found[1])
    if plan.token_patterns:
        found = list(_token_hits(plan, texts))
        rows.append(found[0])
        cols.append(found[1])
    n_patterns = plan.positive.shape[0]
    row, col = np.concatenate(rows), np.concatenate(cols)
    hits = sparse.csr_array(
        (np.ones(len(row), dtype=np.int32), (row, col)), shape=(len(texts), n_patterns)
    )
    hits.data[:] = 1  # a pattern may be found both by the index and directly
    return nodes, hits


def _keyword_hits(
    plan: _FieldPlan,
    texts: list[str],
    joined: tuple[bytes, np.ndarray],
    non_ascii: np.ndarray,
    unsure: list[int],
) -> tuple[sparse.csr_array, np.ndarray, np.ndarray]:
    """Return the keyword index's trie nodes reached, and (rows, patterns) of the candidate
    patterns' matches that RE2 confirms.

    Cells with non-ASCII letters or digits (`unsure`) are searched with the long s and the
    Kelvin sign folded. Candidates are the matches of patterns that are not exact keywords
    (case-sensitive, `\\b` forms): RE2 verifies them, with the ASCII variant of the regex
    where the cell has no non-ASCII letter or digit. Cells that folding changed are searched
    with the candidate patterns directly: RE2's ASCII `\\b` does not see these letters as
    word characters, so their folded matches are no superset.
    """
    folded = list(texts)
    changed: list[int] = []
    for row in unsure:
        folded[row] = texts[row].translate(FOLD_TO_ASCII)
        if folded[row] != texts[row]:
            changed.append(row)
    if changed:
        joined = join_texts(folded)[:2]
    nodes, rows, cols = keyword_hits(plan.keywords, *joined)
    if not len(rows) and not changed:
        return nodes, rows, cols
    is_unsure = np.zeros(len(texts), dtype=bool)
    is_unsure[unsure] = True
    regexes = [plan.regexes[col] for col in cols.tolist()]
    keep = np.array(
        [
            compile_regex(regex if is_unsure[row] else ascii_variant(regex)).search(texts[row])
            is not None
            for row, regex in zip(rows.tolist(), regexes, strict=True)
        ],
        dtype=bool,
    )
    row_parts, col_parts = [rows[keep]], [cols[keep]]
    for row in changed:
        found = [
            pattern
            for pattern in np.flatnonzero(plan.keywords.candidates)
            if compile_regex(plan.regexes[pattern]).search(texts[row])
        ]
        row_parts.append(np.full(len(found), row, dtype=np.int64))
        col_parts.append(np.array(found, dtype=np.int64))
    return nodes, np.concatenate(row_parts), np.concatenate(col_parts)


def _filter_hits(
    plan: _FieldPlan, texts: list[str], joined: tuple[bytes, np.ndarray], unsure: set[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, patterns) of the regexes in the RE2 filters, one Match per candidate cell."""
    rows: list[int] = []
    cols: list[int] = []
    inexact = plan.inexact
    candidates = (
        range(len(texts))
        if plan.any_filtered is None
        else _candidate_rows(plan.any_filtered, *joined)
    )
    for regex_filter, offset in zip(plan.filters, plan.offsets, strict=True):
        match = regex_filter.Match
        patterns = plan.filtered[offset:].tolist()
        for row in candidates:
            found = match(texts[row].encode())
            if found:
                found = [patterns[index] for index in found]
                if row in unsure:
                    found = [
                        pattern
                        for pattern in found
                        if pattern not in inexact
                        or compile_regex(plan.regexes[pattern]).search(texts[row])
                    ]
                rows.extend([row] * len(found))
                cols.extend(found)
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)


def _candidate_rows(any_filtered: Any, data: bytes, offsets: np.ndarray) -> list[int]:
    """Return the rows where some regex of the filters occurs, and maybe a few more.

    One RE2 search of the alternation of the (local) regexes runs over the rows joined by NUL
    (`join_texts`; `offsets`: where each row starts). A match marks every row it touches; the
    search then resumes at the NUL before the next row, so a match of a row's own (which may
    take the NULs around the row as its boundaries) is found even when an earlier match runs
    into the row.
    """
    starts = [*offsets.tolist(), len(data) + 1]
    n_rows = len(offsets)
    search = any_filtered.search
    rows: list[int] = []
    position = 0
    while (found := search(data, position)) is not None:
        start, end = found.span()
        # from the row of the first byte taken (a NUL between rows counts with the row after
        # it; an empty match with the row before) to the row of the last byte taken (with
        # the row before), or of the byte after an empty match (so the search moves on)
        first = max(bisect_right(starts, start + (end > start)) - 1, rows[-1] + 1 if rows else 0)
        last = min(bisect_right(starts, max(end - 1, start + 1)) - 1, n_rows - 1)
        rows.extend(range(first, last + 1))
        if last + 1 >= n_rows:
            break
        position = starts[last + 1] - 1
    return rows


@lru_cache(maxsize=1)
def _boundary_forms() -> tuple[str, str]:
    """Return the word-boundary groups of keyword regexes in the filters (ASCII variants)."""
    form = ascii_variant(keyword_regex("a", case_sensitive=True))
    start = form.index("(a)")
    return form[:start], form[start + 3 :]


def _is_local(regex: str) -> bool:
    """Say whether every match of the regex in a cell is also one in a text around the cell.

    True unless the regex has an anchor (`^`, `$`, `\\A`, `\\z`) other than those of the
    keyword boundaries, which a NUL next to the cell matches too; `\\b` and `\\B` see a
    NUL beside a cell as they see its edge. Conservative: a `^` inside `[^` is allowed,
    any other `^` or `$` (escaped or not) is taken for an anchor.
    """
    body = regex
    for form in _boundary_forms():
        body = body.replace(form, "")
    if "\\[" in body:
        return False
    body = body.replace("[^", "")
    return not any(anchor in body for anchor in ("^", "$", "\\A", "\\z"))


def _any_regex(regexes: list[str]) -> Any:
    """Return one RE2 regex matching wherever one of the regexes does, if all are local."""
    if not regexes or not all(_is_local(regex) for regex in regexes):
        return None
    alternation = "|".join(f"(?:{regex})" for regex in regexes)
    if len(alternation) > _MAX_ALTERNATION:
        return None  # compiling it would take seconds in one uninterruptible call
    try:
        return re2.compile(alternation, RE2_OPTIONS)
    except re2.error:  # past RE2's memory budget: every row is a candidate instead
        return None


_MAX_ALTERNATION = 200_000


def _token_hits(plan: _FieldPlan, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, patterns) of token patterns, tokenizing only rows that could match one."""
    rows: list[int] = []
    cols: list[int] = []
    offset = plan.positive.shape[0] - len(plan.token_patterns)
    matcher = build_matcher(plan.token_patterns, plan.pipeline)
    unfiltered = any(not literals for literals in plan.token_literals)
    needed = {literal for literals in plan.token_literals for literal in literals}
    for row, text in enumerate(texts):
        if not unfiltered:
            folded = text.casefold()
            if not any(literal in folded for literal in needed):
                continue
        for key in match_keys(matcher, parse(text, plan.pipeline)):
            rows.append(row)
            cols.append(offset + key)
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)
