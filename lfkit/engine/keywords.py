"""Exact whole-word keyword matching for a whole text column at once, without a regex per keyword.

Most regexes a rule set runs are keywords (`keyword_regex`): case-insensitive words with
optional spaces, hyphens or underscores between them (`[\\s_-]*`) and word boundaries at both
ends. When the words are ASCII letters and digits, a match is a sequence of *runs*, maximal
stretches of ASCII letters and digits (compared in lower case):

- consecutive runs separated only by separator characters (`\\t\\n\\f\\r _-`), where each
  separator stretch falls between two words of the keyword, and words not separated in the
  text are joined in one run (`questionanswering` is one run, `question answering` two);
- before the first run and after the last one, no word character: no `_`, and no non-ASCII
  letter or digit (the runs being maximal, no ASCII letter or digit either).

So the engine keeps a trie of the keywords' words (a node per distinct word prefix) whose
edges are labelled with runs: from the node of a keyword's first i words, the run of words
i+1..j (joined) leads to the node of its first j words; a keyword of n words adds at most
n(n+1)/2 edges. Matching a column takes a few vectorized steps: split the column's text into
runs once, look each run up in the vocabulary of runs, and walk the trie one run further per
step for the positions still alive. The cost grows with the text and the matches, hardly with
the number of keywords, and the index is built with numpy in time linear in the keywords.

Texts with non-ASCII letters or digits are matched exactly too: RE2's `(?i)` folds only the
long s and the Kelvin sign onto ASCII letters (`FOLD_TO_ASCII`; the caller folds such cells
first), and a non-ASCII letter or digit next to a match (`éstop`) is checked on the
characters around it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import re2
from scipy import sparse

from lfkit._types import BoolArray, IntArray
from lfkit.rules.patterns import keyword_regex

MAX_WORDS = 16
"""Keywords with more words stay with RE2 (each walk step follows one run of the text)."""
SEPARATORS = b"\t\n\f\r _-"
"""What the keyword separator `[\\s_-]` matches: RE2's `\\s` is `[\\t\\n\\f\\r ]`."""
ASCII_BOUNDARY = r"\b"
"""RE2's `\\b`: a boundary between ASCII word characters `[0-9A-Za-z_]` and anything else."""
FOLD_TO_ASCII = str.maketrans({"\u017f": "s", "\u212a": "k"})
"""The only non-ASCII characters that RE2's `(?i)` matches to an ASCII letter or digit."""
WORD_CHAR_FOLDED = re2.compile(r"(?i)[\p{L}\p{N}_]")
"""A word character as the boundaries of a case-insensitive keyword regex see it: RE2 adds
the case variants of letters to the class before negating it (U+0345 is one, a mark)."""

_ALNUM = np.zeros(256, dtype=bool)
_ALNUM[[*range(ord("0"), ord("9") + 1), *range(ord("A"), ord("Z") + 1)]] = True
_ALNUM[ord("a") : ord("z") + 1] = True
_HARD = ~_ALNUM
_HARD[list(SEPARATORS)] = False
"""Characters that end a keyword match: neither a letter or digit nor a separator."""
_UNDERSCORE = ord("_")
_WORD = "[A-Za-z0-9]+"


@lru_cache(maxsize=2)
def _keyword_form(case_sensitive: bool) -> tuple[re.Pattern[str], str] | None:
    """Return a Python regex that reads the words out of `keyword_regex`'s regexes of ASCII
    words, and the text between two words; None when its output is not of that shape (then
    RE2 runs every keyword)."""
    one = keyword_regex("a", case_sensitive=case_sensitive)
    two = keyword_regex("a b", case_sensitive=case_sensitive)
    start = one.index("(a)") + 1
    before, after = one[:start], one[start + 1 :]
    separator = two[len(before) + 1 : len(two) - len(after) - 1]
    sample = ["Ab", "0c", "D1e"]
    built = keyword_regex(" ".join(sample), case_sensitive=case_sensitive)
    if built != before + separator.join(sample) + after:
        return None
    words = f"{_WORD}(?:{re.escape(separator)}{_WORD}){{0,{MAX_WORDS - 1}}}"
    return re.compile(f"{re.escape(before)}({words}){re.escape(after)}"), separator


_BOUNDED = re.compile(rf"(?:\(\?i\))?\\b({_WORD}(?: {_WORD}){{0,{MAX_WORDS - 1}}})\\b")
"""Reads the words of a `\\bword word\\b` regex, case-insensitive or not."""


@lru_cache(maxsize=1 << 16)
def keyword_words(regex: str) -> tuple[tuple[str, ...], bool] | None:
    r"""Return the lowercased words a regex needs as a keyword, and whether matching is exact.

    Exact: a case-insensitive regex that `keyword_regex` makes from words of ASCII letters and
    digits (it puts such words between fixed strings, checked once in `_keyword_form`). Not
    exact, but every match of the regex is a match of its words as a keyword, so the index
    finds candidates that RE2 verifies: the same made case-sensitive, and `\bword word\b`.
    Else None: RE2 runs the regex. Cached: fields that the same rules read ask again.

    Examples
    --------
    >>> from lfkit.rules.patterns import keyword_regex
    >>> keyword_words(keyword_regex("Question-Answering"))
    (('question', 'answering'), True)
    >>> keyword_words(keyword_regex("QA", case_sensitive=True)), keyword_words(r"\bDeep RL\b")
    ((('qa',), False), (('deep', 'rl'), False))
    >>> keyword_words(keyword_regex("c++")) is None, keyword_words(r"\bLMs?\b") is None
    (True, True)
    """
    for case_sensitive in (False, True):
        form = _keyword_form(case_sensitive)
        found = form[0].fullmatch(regex) if form else None
        if found and form:
            return tuple(found[1].lower().split(form[1])), not case_sensitive
    found = _BOUNDED.fullmatch(regex)
    return (tuple(found[1].lower().split(" ")), False) if found else None


@dataclass(frozen=True, eq=False)
class PackedRuns:
    """The runs of one range of lengths, each packed exactly into 64-bit words and a length."""

    width: int
    """The longest run, in bytes (a multiple of 8): runs of `width - 15` to `width` bytes."""
    salt: int
    """Which of `_MIXERS` makes the keys: the first that gives every run its own key."""
    keys: pd.Index
    """The runs' keys; the run at position i has the id `offset + i`."""
    parts: tuple[np.ndarray, ...]
    """The runs' words and lengths, to rule out a text run that merely shares a key."""
    offset: int


@dataclass(frozen=True, eq=False)
class KeywordIndex:
    """A trie of keywords' word prefixes, walked by runs: which runs complete which patterns."""

    tiers: tuple[PackedRuns, ...]
    """The runs of up to 16 and of 17 to 32 bytes, packed (a tier whose keys collide, never
    seen, is left out: its runs go through `long_runs`)."""
    long_runs: dict[bytes, int]
    """The other runs and their ids."""
    n_runs: int
    """The size of the vocabulary of runs; `n_runs` is also the id of every other run."""
    edges: pd.Index
    """The trie's distinct edges as codes `node * (n_runs + 1) + run` (the root is node 0)."""
    root_edges: np.ndarray
    """The edge from the root for each run id, or -1."""
    edge_ends: np.ndarray
    """Edge e leads to the nodes `children[edge_ends[e]:edge_ends[e + 1]]`: one, nearly always,
    several when one run spells different word sequences (`a`+`bc` and `ab`+`c`)."""
    children: np.ndarray
    child: np.ndarray
    """The first node each edge leads to."""
    more: np.ndarray | None
    """Whether an edge leads to several nodes (None: no edge does)."""
    inner: np.ndarray
    """Whether a node has edges to follow."""
    exact: sparse.csr_array
    """(n_nodes, n_patterns): 1 where reaching a node completes an exact pattern."""
    candidate: sparse.csr_array
    """(n_nodes, n_patterns): the same for the patterns whose matches are only candidates
    (verified by the caller; kept even next to a non-ASCII letter, which their regexes may
    not see as a word character)."""
    terminal: np.ndarray
    """Whether reaching a node completes any pattern."""
    candidates: np.ndarray
    """Which patterns are candidates."""
    depth: int
    """The most words in any keyword."""


@lru_cache(maxsize=8)
def build_keyword_index(
    keywords: tuple[tuple[int, tuple[str, ...], bool], ...], n_patterns: int
) -> KeywordIndex:
    """Index keywords given as (pattern index, lowercased words, exact) triples (cached:
    fields that the same rules read share one index).

    Vectorized: the word prefixes are numbered on the lexicographically sorted keywords, and
    every run a keyword can show (its words i..j joined) is packed from one buffer of all
    the words, without a Python step per run or per edge.
    """
    n_keywords = len(keywords)
    sizes = np.fromiter((len(words) for _, words, _ in keywords), dtype=np.int64, count=n_keywords)
    depth = int(sizes.max()) if n_keywords else 0
    flat = [word for _, words, _ in keywords for word in words]
    first_word = np.zeros(n_keywords + 1, dtype=np.int64)
    np.cumsum(sizes, out=first_word[1:])
    prefix_nodes = _prefix_nodes(flat, sizes, first_word[:-1], depth)
    n_nodes = int(prefix_nodes.max()) + 1 if n_keywords else 1

    # every (keyword, i < j): the run of words i..j-1 leads from prefix node i to node j
    data = "".join(flat).encode()
    word_starts = np.zeros(len(flat) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, flat), dtype=np.int64, count=len(flat)), out=word_starts[1:])
    parts: list[tuple[np.ndarray, ...]] = [(np.zeros(0, dtype=np.int64),) * 4]
    for size in np.unique(sizes).tolist():
        rows = np.flatnonzero(sizes == size)[:, None]
        begin, end = np.triu_indices(size + 1, 1)
        parts.append(
            (
                prefix_nodes[rows, begin].ravel(),
                prefix_nodes[rows, end].ravel(),
                word_starts[first_word[rows] + begin].ravel(),
                word_starts[first_word[rows] + end].ravel(),
            )
        )
    parent, child, starts, stops = (np.concatenate(part) for part in zip(*parts, strict=True))
    edge = _first_seen(pd.factorize(parent * n_nodes + child)[0])  # the two nodes fix the run
    parent, child, starts, stops = parent[edge], child[edge], starts[edge], stops[edge]
    runs, tiers, long_runs = _vocabulary(data, starts, stops)
    n_runs = sum(len(tier.keys) for tier in tiers) + len(long_runs)

    # one edge per (node, run); a run that spells different word sequences has more children
    edge_of, edge_codes = pd.factorize(parent * (n_runs + 1) + runs)
    first = _first_seen(edge_of)
    edge_ends = np.zeros(len(edge_codes) + 1, dtype=np.int64)
    np.cumsum(np.bincount(edge_of, minlength=len(edge_codes)), out=edge_ends[1:])
    children = child[np.argsort(edge_of, kind="stable")] if len(first) < len(child) else child
    root_edges = np.full(n_runs + 1, -1, dtype=np.int64)
    from_root = np.flatnonzero(edge_codes < n_runs + 1)
    root_edges[edge_codes[from_root]] = from_root
    inner = np.zeros(n_nodes, dtype=bool)
    inner[edge_codes // (n_runs + 1)] = True
    more = np.diff(edge_ends) > 1

    ends = prefix_nodes[np.arange(n_keywords), sizes]
    patterns = np.fromiter((pattern for pattern, _, _ in keywords), np.int64, count=n_keywords)
    complete = sparse.csr_array(
        (np.ones(n_keywords, dtype=np.int32), (ends, patterns)), shape=(n_nodes, n_patterns)
    )
    complete.sum_duplicates()
    candidates = np.zeros(n_patterns, dtype=bool)
    candidates[[pattern for pattern, _, exact in keywords if not exact]] = True
    only = sparse.diags_array(candidates.astype(np.int32), dtype=np.int32)
    return KeywordIndex(
        tiers,
        long_runs,
        n_runs,
        pd.Index(edge_codes),
        root_edges,
        edge_ends,
        children,
        child[first],
        more if more.any() else None,
        inner,
        sparse.csr_array(complete - complete @ only),
        sparse.csr_array(complete @ only),
        np.diff(complete.indptr) > 0,
        candidates,
        depth,
    )


def _first_seen(ids: np.ndarray) -> np.ndarray:
    """Return where each of `pd.factorize`'s codes (numbered in order of appearance) first
    appears, in the order of the codes."""
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    fresh = np.ones(len(ids), dtype=bool)
    fresh[1:] = ids[1:] > np.maximum.accumulate(ids)[:-1]
    return np.flatnonzero(fresh)


def _prefix_nodes(
    flat: list[str], sizes: np.ndarray, first_word: np.ndarray, depth: int
) -> np.ndarray:
    """Return (n_keywords, depth + 1): the trie node of each keyword's first k words (the root,
    node 0, for k = 0; -1 past the keyword's end), equal prefixes sharing a node."""
    nodes = np.full((len(sizes), depth + 1), -1, dtype=np.int64)
    nodes[:, 0] = 0
    word_ids, words = pd.factorize(np.array(flat, dtype=object))
    next_node = 1
    for k in range(depth):
        rows = np.flatnonzero(sizes > k)
        prefix = nodes[rows, k] * len(words) + word_ids[first_word[rows] + k]
        prefix_ids, prefixes = pd.factorize(prefix)
        nodes[rows, k + 1] = next_node + prefix_ids
        next_node += len(prefixes)
    return nodes


_TIER_WIDTHS = (16, 32)
"""Runs of up to 16 bytes, and of 17 to 32, are packed into 2 and 4 words; longer ones are
looked up by their bytes (in text they are rare)."""


def _vocabulary(
    data: bytes, starts: np.ndarray, stops: np.ndarray
) -> tuple[np.ndarray, tuple[PackedRuns, ...], dict[bytes, int]]:
    """Number the distinct runs data[starts:stops] (lowercase ASCII letters and digits).

    Returns each run's id, the tiers of packed runs and the other runs with their ids.
    """
    chars = _padded(data)
    runs = np.empty(len(starts), dtype=np.int64)
    sizes = stops - starts
    rest = np.ones(len(starts), dtype=bool)
    tiers: list[PackedRuns] = []
    offset = 0
    for width in _TIER_WIDTHS:
        pick = np.flatnonzero((sizes > width - 16) & (sizes <= width))
        for salt in range(len(_MIXERS)):
            keys, parts = _pack(chars, starts[pick], stops[pick], width, salt)
            ids, unique = pd.factorize(keys)
            first = _first_seen(ids)
            if all((part[first][ids] == part).all() for part in parts):  # no keys collide
                runs[pick] = offset + ids
                rest[pick] = False
                packed = tuple(part[first] for part in parts)
                tiers.append(PackedRuns(width, salt, pd.Index(unique), packed, offset))
                offset += len(unique)
                break
    long_runs: dict[bytes, int] = {}
    if rest.any():
        spans = zip(starts[rest].tolist(), stops[rest].tolist(), strict=True)
        ids, distinct = pd.factorize(np.array([data[a:b] for a, b in spans], dtype=object))
        runs[rest] = offset + ids
        long_runs = {run: offset + i for i, run in enumerate(distinct.tolist())}
    return runs, tuple(tiers), long_runs


def join_texts(texts: Sequence[str]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Return the texts' UTF-8 joined by NUL, the offset where each text starts and the texts
    that are not ASCII."""
    encoded = [text.encode() for text in texts]
    sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(texts))
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    offsets = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(sizes[:-1] + 1, out=offsets[1:])
    return b"\x00".join(encoded), offsets, np.flatnonzero(sizes != lengths)


def word_char_rows(data: bytes, offsets: np.ndarray) -> np.ndarray:
    """Return the texts (joined as `join_texts` does) that hold a non-ASCII letter or digit,
    where ASCII and Unicode word boundaries may disagree (`WORD_CHAR_FOLDED`)."""
    chars = np.frombuffer(data, dtype=np.uint8)
    leads = np.flatnonzero(chars >= 0xC0)
    leads = leads[_is_word_point(_code_points(chars, leads))]
    return np.unique(np.searchsorted(offsets, leads, side="right") - 1)


CHUNK_BYTES = 1 << 20
"""Texts are matched in chunks of about this many bytes: the arrays of a chunk stay in cache."""


def keyword_hits(
    index: KeywordIndex, data: bytes, offsets: np.ndarray
) -> tuple[sparse.csr_array, np.ndarray, np.ndarray]:
    """Return where the keywords occur in the texts (`data`, `offsets`: as `join_texts` gives
    them, texts with a long s or a Kelvin sign folded with FOLD_TO_ASCII).

    Returns the (n_texts, n_nodes) counts of the trie nodes that matches reach, exact for the
    exact patterns (`index.exact` maps nodes to them), and the (rows, patterns) where the
    candidate patterns may occur, to verify with their regexes.
    """
    n_texts, n_nodes = len(offsets), index.exact.shape[0]
    found: list[tuple[np.ndarray, ...]] = [
        (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros(0, bool),)
    ]
    if index.depth:
        firsts = np.searchsorted(offsets, np.arange(0, max(len(data), 1), CHUNK_BYTES))
        for first, end in zip(firsts.tolist(), [*firsts[1:].tolist(), n_texts], strict=True):
            if first < end:
                begin, stop = offsets[first], offsets[end] - 1 if end < n_texts else len(data)
                rows, nodes, kept = _matches(index, data[begin:stop], offsets[first:end] - begin)
                found.append((rows + first, nodes, kept))
    rows, nodes, kept = (np.concatenate(part) for part in zip(*found, strict=True))
    reached = sparse.csr_array(
        (np.ones(int(kept.sum()), dtype=np.int32), (rows[kept], nodes[kept])),
        shape=(n_texts, n_nodes),
    )
    some = np.flatnonzero(np.diff(index.candidate.indptr)[nodes] > 0)
    if not len(some):
        return reached, rows[:0], rows[:0]
    candidates = sparse.coo_array(
        sparse.csr_array(
            (np.ones(len(some), dtype=np.int32), (rows[some], nodes[some])),
            shape=(n_texts, n_nodes),
        )
        @ index.candidate
    )
    return reached, candidates.row.astype(np.int64), candidates.col.astype(np.int64)


def _matches(
    index: KeywordIndex, data: bytes, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the (row, node) of every keyword match in the texts, and whether the match has
    word boundaries for the exact patterns (no non-ASCII letter or digit next to it)."""
    chars = _padded(data)
    starts, stops = _runs(chars)
    if not len(starts):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, bool)
    run_ids = _run_ids(index, data, chars, starts, stops)
    open_before = (starts == 0) | (chars[starts - 1] != _UNDERSCORE)
    open_after = chars[stops] != _UNDERSCORE

    next_start = np.append(starts[1:], len(data) + 1)  # past the last run: a NUL, no gap
    next_run = np.append(run_ids[1:], index.n_runs)
    root_edges = index.root_edges[run_ids]
    first = np.flatnonzero((root_edges >= 0) & open_before)
    taken, node = _follow(index, root_edges[first])
    last = first[taken]  # the last run of each position; its first run is `step` runs before
    found_last: list[np.ndarray] = []
    found_node: list[np.ndarray] = []
    for step in range(index.depth):
        done = open_after[last] & index.terminal[node]
        found_last.append(last[done])
        found_node.append(node[done])
        if step == index.depth - 1:
            break
        going = np.flatnonzero(index.inner[node])
        going = going[_only_separators(chars, stops[last[going]], next_start[last[going]])]
        at = last[going]
        taken, node = _follow(
            index, index.edges.get_indexer(node[going] * (index.n_runs + 1) + next_run[at])
        )
        last = at[taken] + 1
        if not len(node):
            break
    lasts = np.concatenate(found_last)
    firsts = lasts - np.repeat(np.arange(len(found_last)), [len(part) for part in found_last])
    rows = np.searchsorted(offsets, starts[firsts], side="right") - 1
    kept = ~_next_to_word_char(chars, starts[firsts], stops[lasts])
    return rows, np.concatenate(found_node), kept


def _follow(index: KeywordIndex, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Follow the trie edges of positions (-1: none): return which positions go on (a position
    repeated when its edge leads to several nodes) and the nodes they reach."""
    going = np.flatnonzero(edges >= 0)
    edges = edges[going]
    node = index.child[edges]
    if index.more is None:
        return going, node
    more = np.flatnonzero(index.more[edges])
    begin = index.edge_ends[edges[more]] + 1
    counts = index.edge_ends[edges[more] + 1] - begin
    taken = np.repeat(going[more], counts)
    offsets = np.arange(len(taken)) - np.repeat(np.cumsum(counts) - counts, counts)
    others = index.children[np.repeat(begin, counts) + offsets]
    return np.concatenate((going, taken)), np.concatenate((node, others))


_WORD_CODE_POINTS: dict[int, bool] = {}
"""Whether a non-ASCII code point is a word character (`WORD_CHAR_FOLDED`), as seen so far."""


def _next_to_word_char(chars: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Say for each match [begin, end) whether a non-ASCII letter or digit is right before or
    after it (decoding the UTF-8 around the few matches next to a non-ASCII byte)."""
    shut = np.zeros(len(begin), dtype=bool)
    before = np.flatnonzero((begin > 0) & (chars[begin - 1] >= 0x80))
    lead = begin[before] - 1
    for _ in range(3):  # back over continuation bytes (10xxxxxx) to the character's lead byte
        lead = np.where((chars[lead] & 0xC0 == 0x80) & (lead > 0), lead - 1, lead)
    after = np.flatnonzero(chars[end] >= 0x80)
    shut[before] = _is_word_point(_code_points(chars, lead))
    shut[after] |= _is_word_point(_code_points(chars, end[after]))
    return shut


def _is_word_point(points: np.ndarray) -> np.ndarray:
    """Say for each non-ASCII code point whether it is a word character (`WORD_CHAR_FOLDED`)."""
    distinct, where = np.unique(points, return_inverse=True)
    for point in distinct.tolist():
        if point not in _WORD_CODE_POINTS:
            _WORD_CODE_POINTS[point] = WORD_CHAR_FOLDED.fullmatch(chr(point)) is not None
    known = [_WORD_CODE_POINTS[point] for point in distinct.tolist()]
    return np.array(known, dtype=bool)[where] if len(points) else np.zeros(0, dtype=bool)


def _code_points(chars: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """Decode the UTF-8 characters whose lead bytes are at `lead` (valid UTF-8: Python's)."""
    first: IntArray = chars[lead].astype(np.int64)
    size = np.where(first >= 0xF0, 4, np.where(first >= 0xE0, 3, 2))
    point = first & np.where(size == 4, 0x07, np.where(size == 3, 0x0F, 0x1F))
    for offset in (1, 2, 3):
        more = offset < size
        following = chars[np.minimum(lead + offset, len(chars) - 1)]
        point = np.where(more, (point << 6) | (following & 0x3F), point)
    return np.asarray(point, dtype=np.int64)


def _only_separators(chars: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Say for each gap [begin, end) between two runs whether it holds only separators.

    Gaps are never empty and mostly a character or two long: a few vectorized steps look at
    the characters one offset at a time; the rare longer gaps are checked one by one.
    """
    hard: BoolArray = _HARD[chars[begin]]
    todo = np.flatnonzero(~hard & (begin + 1 < end))
    for offset in range(1, 8):
        if not len(todo):
            break
        hard[todo] = _HARD[chars[begin[todo] + offset]]
        todo = todo[~hard[todo] & (begin[todo] + offset + 1 < end[todo])]
    for gap in todo.tolist():
        hard[gap] = _HARD[chars[begin[gap] : end[gap]]].any()
    return np.asarray(~hard, dtype=bool)


_MIXERS = np.array(
    [
        [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
        [0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x85EBCA77C2B2AE63],
        [0xA0761D6478BD642F, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3, 0x589965CC75374CC3],
    ],
    dtype=np.uint64,
)
"""Odd multipliers that mix a run's words into its key, one row per salt."""
_MASKS = np.array([(1 << (8 * size)) - 1 for size in range(9)], dtype=np.uint64)
_LOWER = np.uint64(0x2020202020202020)


def _runs(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the starts and (exclusive) stops of the maximal runs of ASCII letters and digits
    (`chars` ends with a zero byte, which ends every run)."""
    alnum = _ALNUM[chars]
    flips = np.flatnonzero(alnum[1:] != alnum[:-1]) + 1
    if alnum[0]:
        flips = np.concatenate(([0], flips))
    return flips[0::2], flips[1::2]


def _pack(
    chars: np.ndarray, starts: np.ndarray, stops: np.ndarray, width: int, salt: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return a 64-bit key per run and, exactly, its `width // 8` words and its length.

    `chars` ends with `_PADDING` zero bytes (`_padded`). Letters are lowercased on the way
    (`| 0x20` on ASCII letters and digits, which digits already have). Runs of at most
    `width` bytes are equal exactly when their words and lengths are; the key mixes them
    (meaningless for longer runs).
    """
    view = np.ndarray((len(chars) - 7,), dtype="<u8", buffer=chars, strides=(1,))
    sizes = stops - starts
    key = sizes.astype(np.uint64)
    parts = []
    for i in range(width // 8):
        word = view[starts + 8 * i] if i else view[starts]
        word |= _LOWER
        word &= _MASKS[np.clip(sizes - 8 * i, 0, 8) if i else np.minimum(sizes, 8)]
        key ^= word * _MIXERS[salt, i]
        parts.append(word)
    return key, [*parts, sizes]


_PADDING = 32
"""Zero bytes after a text, so that reading 8 bytes at any offset of a run stays inside."""


def _padded(data: bytes) -> np.ndarray:
    return np.frombuffer(data + bytes(_PADDING), dtype=np.uint8)


def _run_ids(
    index: KeywordIndex,
    data: bytes,
    chars: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
) -> np.ndarray:
    """Return the vocabulary id of each run of the text, `index.n_runs` for runs no keyword
    has (`chars`: the text `_padded`)."""
    run_ids = np.full(len(starts), index.n_runs, dtype=np.int64)
    sizes = stops - starts
    looked_up = np.zeros(len(starts), dtype=bool)
    for tier in index.tiers:
        in_tier = (sizes > tier.width - 16) & (sizes <= tier.width)
        looked_up |= in_tier
        # the first tier holds nearly every run: pack them all (longer ones just miss)
        pick = None if tier.width == _TIER_WIDTHS[0] else np.flatnonzero(in_tier)
        keys, parts = _pack(
            chars,
            starts if pick is None else starts[pick],
            stops if pick is None else stops[pick],
            tier.width,
            tier.salt,
        )
        at = tier.keys.get_indexer(pd.Index(keys))  # what get_indexer does with an array
        known = np.flatnonzero(at >= 0)
        at = at[known]
        exact = np.ones(len(known), dtype=bool)
        for part, indexed in zip(parts, tier.parts, strict=True):
            exact &= indexed[at] == part[known]
        known = known[exact]
        run_ids[known if pick is None else pick[known]] = tier.offset + at[exact]
    if index.long_runs:
        get, unknown = index.long_runs.get, index.n_runs
        missing = np.flatnonzero(~looked_up)
        spans = zip(starts[missing].tolist(), stops[missing].tolist(), strict=True)
        run_ids[missing] = [get(data[start:stop].lower(), unknown) for start, stop in spans]
    return run_ids
