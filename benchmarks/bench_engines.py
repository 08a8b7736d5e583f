"""Benchmark 3: candidate matching engines on the curated rules' regexes.

Every distinct regex of rules/madewithml, per text field, over the projects replicated with
perturbed text to 20,000 rows (see bench_apply.py). Each engine must say which regexes occur in
which cell; the reference is lfkit's engine (`_field_hits`: the keyword index for keywords,
RE2 Filters for the other regexes, exact re-checks on cells with non-ASCII letters). Reports
compile time, the first pass (which builds lazy DFAs), the steady state (a second pass with
the same matcher, in CPU seconds of this process) in rows/s, and whether each engine's
(row, regex) pairs are exactly lfkit's. The script exits 1 when an engine meant to be exact is
not. pyahocorasick and hyperscan are skipped when not installed.

    .venv/bin/python benchmarks/bench_engines.py            # 20,000 rows
    .venv/bin/python benchmarks/bench_engines.py --quick    # 2,032 rows
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import pandas as pd
import re2
from bench_apply import RULES, replicate, text_megabytes

import lfkit
from lfkit.engine import apply as engine
from lfkit.engine.keywords import join_texts, word_char_rows
from lfkit.rules.patterns import ascii_variant, compile_regex

Hits = set[tuple[int, int]]
Runner = Callable[[list[str]], Hits]


def exact_filter(plan: engine._FieldPlan, texts: list[str], found: Hits) -> Hits:
    """Drop candidates in cells with non-ASCII letters that the exact regex rejects."""
    unsure = set(word_char_rows(*join_texts(texts)[:2]).tolist())
    return {
        (row, index)
        for row, index in found
        if row not in unsure
        or index not in plan.inexact
        or compile_regex(plan.regexes[index]).search(texts[row])
    }


def lfkit_engine(plan: engine._FieldPlan) -> Runner:
    """lfkit's engine as it is: the plan holds the compiled filters."""

    def run(texts: list[str]) -> Hits:
        nodes, hits = engine._field_hits(plan, pd.Series(texts))
        rows, cols = (nodes @ plan.keywords.exact + hits).nonzero()
        return set(zip(rows.tolist(), cols.tolist(), strict=True))

    return run


def re2_filter(plan: engine._FieldPlan) -> Runner:
    """One RE2 Filter of every regex, one Match per cell (lfkit's previous engine)."""
    regex_filter = engine._build_filter(plan.regexes)

    def run(texts: list[str]) -> Hits:
        found: Hits = set()
        for row, text in enumerate(texts):
            found.update((row, index) for index in regex_filter.Match(text.encode()) or ())
        return exact_filter(plan, texts, found)

    return run


def re2_sets(size: int) -> Callable[[engine._FieldPlan], Runner]:
    """RE2 `Set`s of `size` regexes each (lfkit's first engine), one Match per cell and set."""

    def build(plan: engine._FieldPlan) -> Runner:
        options = re2.Options()
        options.max_mem = 256 << 20
        options.log_errors = False
        sets = []
        for start in range(0, len(plan.regexes), size):
            regex_set = re2.Set.SearchSet(options)
            for regex in plan.regexes[start : start + size]:
                regex_set.Add(ascii_variant(regex))
            regex_set.Compile()
            sets.append((start, regex_set))

        def run(texts: list[str]) -> Hits:
            found: Hits = set()
            encoded = [text.encode() for text in texts]
            for start, regex_set in sets:
                for row, data in enumerate(encoded):
                    found.update((row, start + index) for index in regex_set.Match(data) or ())
            return exact_filter(plan, texts, found)

        return run

    return build


def python_re(plan: engine._FieldPlan) -> Runner:
    """One Python `re` alternation, a group per regex: finditer sees leftmost, non-overlapping
    matches only, so it misses regexes that match inside or right after another match."""
    groups, index_of = [], {}
    for index, regex in enumerate(plan.regexes):
        body = ascii_variant(regex)
        body = f"(?i:{body[4:]})" if body.startswith("(?i)") else body
        try:
            re.compile(body)
        except re.error:
            continue  # RE2-only syntax
        index_of[f"g{len(groups)}"] = index
        groups.append(f"(?P<g{len(groups)}>{body})")
    alternation = re.compile("|".join(groups))

    def run(texts: list[str]) -> Hits:
        found: Hits = set()
        for row, text in enumerate(texts):
            for match in alternation.finditer(text):
                found.add((row, index_of[match.lastgroup]))
        return exact_filter(plan, texts, found)

    return run


_BOUNDARY = re.escape(r"[^\p{L}\p{N}_]")
_KEYWORD = re.compile(rf"^(\(\?i\))?\(\?:\^\|{_BOUNDARY}\)\((.*)\)\(\?:{_BOUNDARY}\|\$\)$")


def aho_corasick(plan: engine._FieldPlan) -> Runner:
    """pyahocorasick over casefolded text with separator runs made one space; case-insensitive
    keyword regexes only, whole words checked with str.isalnum. Not exact: casefold() is not
    RE2's case folding, 'question-answering' does not find 'QuestionAnswering', and
    user regexes are not covered at all."""
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for index, regex in enumerate(plan.regexes):
        match = _KEYWORD.match(regex)
        if match and match.group(1):
            words = [re.sub(r"\\(.)", r"\1", word) for word in match.group(2).split(r"[\s_-]*")]
            key = " ".join(words).casefold()
            automaton.add_word(key, (len(key), [*automaton.get(key, (0, []))[1], index]))
    automaton.make_automaton()
    separators = re.compile(r"[\s_-]+")

    def run(texts: list[str]) -> Hits:
        found: Hits = set()
        for row, text in enumerate(texts):
            folded = separators.sub(" ", text.casefold())
            for end, (length, indexes) in automaton.iter(folded):
                start = end - length + 1
                before = folded[start - 1] if start > 0 else " "
                after = folded[end + 1] if end + 1 < len(folded) else " "
                if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
                    found.update((row, index) for index in indexes)
        return found

    return run


def hyperscan_engine(plan: engine._FieldPlan) -> Runner:
    """Hyperscan (UTF-8 mode, one report per pattern) on the ASCII-boundary variants, plus the
    same exact re-checks as lfkit; patterns it cannot compile are left out (and missed)."""
    import hyperscan

    expressions, flags, ids = [], [], []
    for index, regex in enumerate(plan.regexes):
        body = ascii_variant(regex)
        flag = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SINGLEMATCH
        if body.startswith("(?i)"):
            body, flag = body[4:], flag | hyperscan.HS_FLAG_CASELESS
        try:
            hyperscan.Database().compile(expressions=[body.encode()], flags=[flag])
        except hyperscan.error:
            continue
        expressions.append(body.encode())
        flags.append(flag)
        ids.append(index)
    database = hyperscan.Database()
    database.compile(expressions=expressions, flags=flags, ids=ids)

    def run(texts: list[str]) -> Hits:
        found: Hits = set()
        for row, text in enumerate(texts):
            database.scan(text.encode(), match_event_handler=_on_match, context=(found, row))
        return exact_filter(plan, texts, found)

    return run


def _on_match(index: int, start: int, end: int, flags: int, context: tuple[Hits, int]) -> None:
    context[0].add((context[1], index))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,032 rows")
    parser.add_argument("--slow-rows", type=int, default=200, help="rows for Python re")
    args = parser.parse_args()
    n_rows = 2_032 if args.quick else 20_000
    df = replicate(n_rows)
    ruleset = lfkit.load_rules(RULES)
    plans = engine._plans(ruleset)
    texts = {plan.field: df[plan.field].tolist() for plan in plans}
    print(
        f"{n_rows:,} rows, {text_megabytes(df):.1f} MB; regexes per field: "
        + ", ".join(f"{plan.field} {len(plan.regexes)}" for plan in plans)
    )
    candidates: list[tuple[str, Callable[[engine._FieldPlan], Runner], bool, int]] = [
        ("lfkit: keyword index + RE2", lfkit_engine, True, n_rows),
        ("RE2 Filter of all, per row", re2_filter, True, n_rows),
        ("RE2 Set of 1,000 per row", re2_sets(1_000), True, n_rows),
        ("RE2 Set of all per row", re2_sets(100_000), True, n_rows),
        ("Python re one alternation", python_re, False, 50 if args.quick else args.slow_rows),
    ]
    for module, name, build in (
        ("ahocorasick", "pyahocorasick, casefolded", aho_corasick),
        ("hyperscan", "hyperscan (UTF-8)", hyperscan_engine),
    ):
        try:
            __import__(module)
        except ImportError:
            print(f"{module} is not installed: skipped")
        else:
            candidates.append((name, build, module == "hyperscan", n_rows))
    print(
        f"{'engine':<30} {'rows':>6} {'compile s':>9} {'1st pass s':>10} {'steady s':>9} "
        f"{'rows/s':>9} {'x lfkit':>8} {'identical':>9} {'missed':>7} {'extra':>6}"
    )
    failed = False
    reference: dict[str, Hits] = {}
    base_rate = 0.0
    for name, build, must_be_exact, rows in candidates:
        if build is lfkit_engine:
            ruleset = replace(ruleset)  # a copy compiles its own plans: time a first call
        start = time.perf_counter()
        runs = {plan.field: build(plan) for plan in engine._plans(ruleset)}
        compile_s = time.perf_counter() - start
        timings, results = [], {}
        for _ in range(2):
            start = time.process_time()
            results = {field: run(texts[field][:rows]) for field, run in runs.items()}
            timings.append(time.process_time() - start)
        reference = reference or results
        rate = rows / timings[1]
        base_rate = base_rate or rate
        wanted = {f: {(r, i) for r, i in reference[f] if r < rows} for f in reference}
        missed = sum(len(wanted[f] - results[f]) for f in wanted)
        extra = sum(len(results[f] - wanted[f]) for f in wanted)
        identical = missed == extra == 0
        failed |= must_be_exact and not identical
        print(
            f"{name:<30} {rows:>6,} {compile_s:>9.2f} {timings[0]:>10.2f} {timings[1]:>9.3f} "
            f"{rate:>9,.0f} {rate / base_rate:>7.3f}x {str(identical):>9} {missed:>7,} "
            f"{extra:>6,}",
            flush=True,
        )
    print(
        "missed/extra: (row, regex) pairs against lfkit's; Python re runs on --slow-rows rows; "
        "1st pass and steady in CPU seconds"
    )
    if failed:
        print("FAIL: an exact engine differs from lfkit's", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
