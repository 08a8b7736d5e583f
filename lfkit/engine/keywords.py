"""Exact whole-word keyword matching for a whole text column at once, without a regex per keyword.

Most regexes a rule set runs are keywords (`keyword_regex`): case-insensitive words with
optional spaces, hyphens or underscores between them (`[\\s_-]*`) and word boundaries at both
ends. When the words are ASCII letters and digits, a match in a text whose word characters are
ASCII is a sequence of *runs*, maximal stretches of ASCII letters and digits (compared in
lower case):

- consecutive runs separated only by separator characters (`\\t\\n\\f\\r _-`), where each
  separator stretch falls between two words of the keyword, and words not separated in the
  text are joined in one run (`questionanswering` is one run, `question answering` two);
- no `_` right before the first run or right after the last one (`_` is a word character, so
  it would break the word boundary; any other character there is a boundary).

So each keyword becomes the 2^(words-1) ways to join its words into runs, stored in a trie of
run ids, and the engine matches every keyword on a whole column with a few vectorized steps:
split the column's text into runs once, look each run up in the vocabulary of runs, and walk
the trie one run further per step for the positions still alive. The cost grows with the text
and the matches, hardly with the number of keywords.

In a text with non-ASCII letters or digits (Unicode word boundaries, and RE2's case folding of
the long s and the Kelvin sign onto `s` and `k`) the same walk on the folded text finds a
superset of the matches, which the caller verifies with the keyword's own regex.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import sparse

from lfkit.rules.patterns import keyword_regex

MAX_WORDS = 8
"""Keywords with more words stay with RE2 (a keyword of n words has 2^(n-1) run forms)."""
SEPARATORS = b"\t\n\f\r _-"
"""What the keyword separator `[\\s_-]` matches: RE2's `\\s` is `[\\t\\n\\f\\r ]`."""
ASCII_BOUNDARY = r"\b"
"""RE2's `\\b`: a boundary between ASCII word characters `[0-9A-Za-z_]` and anything else."""
FOLD_TO_ASCII = str.maketrans({"\u017f": "s", "\u212a": "k"})
"""The only non-ASCII characters that RE2's `(?i)` matches to an ASCII letter or digit."""

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_ALNUM = np.zeros(256, dtype=bool)
_ALNUM[[*range(ord("0"), ord("9") + 1), *range(ord("A"), ord("Z") + 1)]] = True
_ALNUM[ord("a") : ord("z") + 1] = True
_HARD = ~_ALNUM
_HARD[list(SEPARATORS)] = False
"""Characters that end a keyword match: neither a letter or digit nor a separator."""
_UNDERSCORE = ord("_")


@lru_cache(maxsize=2)
def _keyword_form(case_sensitive: bool) -> tuple[str, str, str] | None:
    """Return the text `keyword_regex` puts before, between and after ASCII words, or None
    when its regexes of ASCII words are not of that shape (then RE2 runs every keyword)."""
    one = keyword_regex("a", case_sensitive=case_sensitive)
    two = keyword_regex("a b", case_sensitive=case_sensitive)
    start = one.index("(a)") + 1
    before, after = one[:start], one[start + 1 :]
    separator = two[len(before) + 1 : len(two) - len(after) - 1]
    sample = ["Ab", "0c", "D1e"]
    built = keyword_regex(" ".join(sample), case_sensitive=case_sensitive)
    return (before, separator, after) if built == before + separator.join(sample) + after else None


def keyword_words(regex: str) -> tuple[tuple[str, ...], bool] | None:
    r"""Return the lowercased words a regex needs as a keyword, and whether matching is exact.

    Exact: a case-insensitive regex that `keyword_regex` makes from words of ASCII letters and
    digits (it puts such words between fixed strings, checked once in `_keyword_form`). Not
    exact, but every match of the regex is a match of its words as a keyword, so the index
    finds candidates that RE2 verifies: the same made case-sensitive, and `\bword word\b`.
    Else None: RE2 runs the regex.

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
    words: list[str] = []
    for case_sensitive in (False, True):
        form = _keyword_form(case_sensitive)
        if form and regex.startswith(form[0]) and regex.endswith(form[2]):
            words = regex[len(form[0]) : len(regex) - len(form[2])].split(form[1])
            exact = not case_sensitive
            break
    else:
        body = regex.removeprefix("(?i)")
        if not (body.startswith(ASCII_BOUNDARY) and body.endswith(ASCII_BOUNDARY)):
            return None
        words, exact = body[2:-2].split(" "), False
    if len(words) > MAX_WORDS or not all(_ASCII_WORD.fullmatch(word) for word in words):
        return None
    return tuple(word.lower() for word in words), exact


@dataclass(frozen=True, eq=False)
class KeywordIndex:
    """A trie of keywords over run ids: which run sequences complete which patterns."""

    keys: pd.Index
    """The packed keys (see `_pack`) of the runs of at most 16 bytes of the vocabulary."""
    key_runs: np.ndarray
    """The run id of each key."""
    packed: tuple[np.ndarray, np.ndarray, np.ndarray]
    """The first 8 bytes, the next 8 bytes and the length of each key's run."""
    long_runs: dict[bytes, int]
    """The other runs, longer or (never seen) sharing a key, and their ids."""
    n_runs: int
    """The size of the vocabulary of runs (at least 1)."""
    roots: np.ndarray
    """The node each run leads to from the root, or -1."""
    inner: np.ndarray
    """Whether a node has edges to follow."""
    edges: pd.Index
    """The trie's edges as codes `node * n_runs + run` (the root is node 0)."""
    children: np.ndarray
    """The node each edge of `edges` leads to."""
    complete: sparse.csr_array
    """(n_nodes, n_patterns): 1 where reaching a node completes a pattern."""
    terminal: np.ndarray
    """Whether reaching a node completes any pattern."""
    depth: int
    """The most runs in any keyword form."""
    salt: int
    """Which of `_MIXERS` packs the keys (the first that gives every short run its own key)."""


@lru_cache(maxsize=8)
def build_keyword_index(
    keywords: tuple[tuple[int, tuple[str, ...]], ...], n_patterns: int
) -> KeywordIndex:
    """Index keywords given as (pattern index, lowercased words) pairs (cached: fields that
    the same rules read share one index)."""
    vocabulary: dict[bytes, int] = {}
    trie: dict[tuple[int, int], int] = {}
    ends: list[tuple[int, int]] = []

    def child(node: int, run: bytes) -> int:
        return trie.setdefault((node, vocabulary.setdefault(run, len(vocabulary))), len(trie) + 1)

    for pattern, words in keywords:
        first, *rest = [word.encode() for word in words]
        states = [(0, first)]  # (the node of the runs before, the run being built)
        for word in rest:  # between two words: no separator (one run) or some (a new run)
            states = [
                grown
                for node, run in states
                for grown in ((node, run + word), (child(node, run), word))
            ]
        ends.extend((child(node, run), pattern) for node, run in states)
    depth = max((len(words) for _, words in keywords), default=0)
    n_runs = max(len(vocabulary), 1)
    nodes, patterns = zip(*ends, strict=True) if ends else ((), ())
    complete = sparse.csr_array(
        (np.ones(len(ends), dtype=np.int32), (nodes, patterns)),
        shape=(len(trie) + 1, n_patterns),
    )
    complete.sum_duplicates()
    chars = np.frombuffer(b"\x00".join(vocabulary), dtype=np.uint8)
    starts, stops = _runs(chars)
    short = np.flatnonzero(stops - starts <= 16)
    for salt in range(len(_MIXERS)):
        keys, *packed = _pack(chars, starts[short], stops[short], salt)
        if len(np.unique(keys)) == len(keys):
            break
    else:  # no mixer separates the runs (never seen): every run goes through the dict
        short, keys, packed, salt = short[:0], keys[:0], [part[:0] for part in packed], -1
    long = set(range(len(vocabulary))) - set(short.tolist())
    roots = np.full(n_runs, -1, dtype=np.int64)
    inner = np.zeros(len(trie) + 1, dtype=bool)
    for (node, run), child_node in trie.items():
        inner[node] = True
        if node == 0:
            roots[run] = child_node
    return KeywordIndex(
        pd.Index(keys),
        short,
        (packed[0], packed[1], packed[2]),
        {run: i for i, run in enumerate(vocabulary) if i in long},
        n_runs,
        roots,
        inner,
        pd.Index(np.array([node * n_runs + run for node, run in trie], dtype=np.int64)),
        np.array(list(trie.values()), dtype=np.int64),
        complete,
        np.diff(complete.indptr) > 0,
        depth,
        salt,
    )


def join_texts(texts: Sequence[str], non_ascii: Sequence[int]) -> tuple[bytes, np.ndarray]:
    """Return the texts' UTF-8 joined by NUL, and the offset where each text starts.

    `non_ascii` lists the texts that are not ASCII (the others have one byte per character).
    """
    sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
    for row in non_ascii:
        sizes[row] = len(texts[row].encode()) + 1
    offsets = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(sizes[:-1], out=offsets[1:])
    return "\x00".join(texts).encode(), offsets


def keyword_hits(index: KeywordIndex, data: bytes, offsets: np.ndarray) -> sparse.csr_array:
    """Return the (n_texts, n_patterns) 0/1 matrix of which keyword occurs in which text.

    `data` and `offsets` are the texts as `join_texts` gives them. Exact for texts whose
    letters and digits are all ASCII; on other texts (folded with FOLD_TO_ASCII first) a
    superset of the matches, to verify with the keyword regexes.
    """
    n_texts, n_patterns = len(offsets), index.complete.shape[1]
    chars = np.frombuffer(data, dtype=np.uint8)
    starts, stops = _runs(chars)
    if not len(starts) or not index.depth:
        return sparse.csr_array((n_texts, n_patterns), dtype=np.int32)
    run_ids = _run_ids(index, data, chars, starts, stops)
    padded = np.concatenate((chars, np.zeros(1, dtype=np.uint8)))
    open_before = (starts == 0) | (padded[starts - 1] != _UNDERSCORE)
    open_after = padded[stops] != _UNDERSCORE

    first = np.flatnonzero((run_ids >= 0) & open_before)
    last, node = first, index.roots[run_ids[first]]
    found_first: list[np.ndarray] = []
    found_node: list[np.ndarray] = []
    for step in range(index.depth):
        alive = node >= 0
        first, last, node = first[alive], last[alive], node[alive]
        done = open_after[last] & index.terminal[node]
        found_first.append(first[done])
        found_node.append(node[done])
        if step == index.depth - 1:
            break
        going = index.inner[node] & (last + 1 < len(starts))
        first, last, node = first[going], last[going], node[going]
        going = _only_separators(chars, stops[last], starts[last + 1])
        first, last, node = first[going], last[going] + 1, node[going]
        node = _step(index, node, run_ids[last])

    firsts, nodes = np.concatenate(found_first), np.concatenate(found_node)
    rows = np.searchsorted(offsets, starts[firsts], side="right") - 1
    reached = sparse.csr_array(
        (np.ones(len(rows), dtype=np.int32), (rows, nodes)),
        shape=(n_texts, index.complete.shape[0]),
    )
    hits = sparse.csr_array(reached @ index.complete)
    hits.data[:] = 1
    return hits


def _only_separators(chars: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Say for each gap [begin, end) between two runs whether it holds only separators.

    Gaps are never empty and mostly a character or two long: a few vectorized steps look at
    the characters one offset at a time; the rare longer gaps are checked one by one.
    """
    hard = _HARD[chars[begin]]
    todo = np.flatnonzero(~hard & (begin + 1 < end))
    for offset in range(1, 8):
        if not len(todo):
            break
        hard[todo] = _HARD[chars[begin[todo] + offset]]
        todo = todo[~hard[todo] & (begin[todo] + offset + 1 < end[todo])]
    for gap in todo.tolist():
        hard[gap] = _HARD[chars[begin[gap] : end[gap]]].any()
    return ~hard


_MIXERS = [
    (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)),
    (np.uint64(0xD6E8FEB86659FD93), np.uint64(0xFF51AFD7ED558CCD)),
    (np.uint64(0xA0761D6478BD642F), np.uint64(0xE7037ED1A0B428DB)),
]
_MASKS = np.array([(1 << (8 * size)) - 1 for size in range(9)], dtype=np.uint64)
_LOWER = np.uint64(0x2020202020202020)


def _runs(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the starts and (exclusive) stops of the maximal runs of ASCII letters and digits."""
    edge = np.zeros(1, dtype=np.int8)
    flips = np.flatnonzero(np.diff(np.concatenate((edge, _ALNUM[chars].view(np.int8), edge))))
    return flips[0::2], flips[1::2]


def _pack(
    chars: np.ndarray, starts: np.ndarray, stops: np.ndarray, salt: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return a 64-bit key per run and, exactly, its first 8 bytes, next 8 bytes and length.

    Letters are lowercased on the way (`| 0x20` on ASCII letters and digits, which digits
    already have). Keys of runs longer than 16 bytes are meaningless; the other runs are equal
    exactly when their triples are, and the key is a mix of the triple.
    """
    buffer = np.concatenate((chars, np.zeros(16, dtype=np.uint8)))
    words = np.ndarray((len(chars) + 8,), dtype="<u8", buffer=buffer, strides=(1,))
    sizes = (stops - starts).astype(np.uint64)
    low = (words[starts] | _LOWER) & _MASKS[np.minimum(sizes, 8)]
    high = (words[np.where(sizes > 8, starts + 8, 0)] | _LOWER) & _MASKS[np.clip(sizes, 8, 16) - 8]
    first, second = _MIXERS[salt]  # salt -1 (no keys) packs with the last mixer
    return (low * first) ^ (high * second) ^ sizes, low, high, sizes


def _run_ids(
    index: KeywordIndex,
    data: bytes,
    chars: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
) -> np.ndarray:
    """Return the vocabulary id of each run of the text, or -1 for runs no keyword has."""
    keys, *packed = _pack(chars, starts, stops, index.salt)
    at = index.keys.get_indexer(keys)
    known = np.flatnonzero(at >= 0)
    exact = np.ones(len(known), dtype=bool)
    for part, indexed in zip(packed, index.packed, strict=True):
        exact &= indexed[at[known]] == part[known]
    run_ids = np.full(len(starts), -1, dtype=np.int64)
    run_ids[known[exact]] = index.key_runs[at[known[exact]]]
    if index.long_runs:
        get = index.long_runs.get
        missing = np.flatnonzero(run_ids < 0)
        if index.salt >= 0:
            missing = missing[(stops - starts)[missing] > 16]
        spans = zip(starts[missing], stops[missing], strict=True)
        run_ids[missing] = [get(data[start:stop].lower(), -1) for start, stop in spans]
    return run_ids


def _step(index: KeywordIndex, node: np.ndarray, run: np.ndarray) -> np.ndarray:
    """Follow the trie edge (node, run) for each position; -1 where there is none."""
    at = index.edges.get_indexer(node * index.n_runs + run)
    return np.where((run >= 0) & (at >= 0), index.children[at], -1)
