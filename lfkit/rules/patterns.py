"""Turn what a rule says (keywords, regexes) into RE2 regexes, the one form the engine runs.

Both the Snorkel labeling functions and the fast engine search with these strings through RE2,
so they agree by construction. RE2 runs in time linear in the text: no rule can hang a run.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

import re2

from lfkit._types import MATCH_MODES, MatchMode
from lfkit.errors import check_choice, message, quoted

_WORD_CHAR = r"[\p{L}\p{N}_]"
_BEFORE = r"(?:^|[^\p{L}\p{N}_])"
_AFTER = r"(?:[^\p{L}\p{N}_]|$)"
_ASCII_BEFORE = r"(?:^|[^A-Za-z0-9_])"
_ASCII_AFTER = r"(?:[^A-Za-z0-9_]|$)"
_SEPARATOR = r"[\s_-]*"
_SPLIT = re.compile(r"[\s_-]+")
RE2_OPTIONS = re2.Options()
"""The options of every RE2 regex lfkit compiles (rules, the engine's filters, evidence)."""
RE2_OPTIONS.max_mem = 64 << 20
RE2_OPTIONS.log_errors = False


def _is_word_char(char: str) -> bool:
    return char == "_" or unicodedata.category(char)[0] in "LN"


def keyword_words(keyword: str) -> list[str]:
    """Split a keyword (in NFC, as texts are) into the words that spaces, hyphens and
    underscores separate."""
    return [word for word in _SPLIT.split(_nfc(keyword).strip()) if word]


def keyword_regex(keyword: str, *, case_sensitive: bool = False, match: MatchMode = "word") -> str:
    """Return the RE2 regex of a keyword with space/hyphen/underscore folding.

    `match` says where the keyword may occur: `word` (whole words only), `prefix` (at the start
    of a word: `subscribe` matches "subscribers") or `substring` (anywhere: `http` matches
    "xhttps").

    Examples
    --------
    >>> import re2
    >>> pattern = keyword_regex("question-answering")
    >>> bool(re2.search(pattern, "Question Answering over tables"))
    True
    >>> bool(re2.search(keyword_regex("tf"), "tfidf vectors"))
    False
    >>> bool(re2.search(keyword_regex("subscribe", match="prefix"), "500 Subscribers"))
    True
    >>> bool(re2.search(keyword_regex("scribe", match="prefix"), "subscribers"))
    False
    >>> bool(re2.search(keyword_regex("http", match="substring"), "see xhttps://x.y"))
    True
    """
    words = keyword_words(keyword)
    if not words:
        raise ValueError("a keyword must contain a word, not only spaces, hyphens or underscores")
    body = _SEPARATOR.join(re2.escape(word) for word in words)
    check_choice("match", match, MATCH_MODES, "match mode")
    before = _BEFORE if match != "substring" and _is_word_char(words[0][0]) else ""
    after = _AFTER if match == "word" and _is_word_char(words[-1][-1]) else ""
    flags = "" if case_sensitive else "(?i)"
    return f"{flags}{before}({body}){after}"


def ascii_variant(regex: str) -> str:
    """Return a regex that matches exactly like `regex` on ASCII text, and wherever it does.

    Whole-word boundaries become ASCII classes, which RE2 compiles and runs far faster than
    Unicode ones. On ASCII text the two agree; on other text the variant matches wherever the
    original does (a non-letter is never an ASCII letter), so its hits are candidates to verify.
    """
    return regex.replace(_BEFORE, _ASCII_BEFORE).replace(_AFTER, _ASCII_AFTER)


def user_regex(pattern: str, *, case_sensitive: bool = False) -> str:
    """Return a user's regex in the form the engine runs: NFC, as texts are, and
    case-insensitive unless asked."""
    pattern = _nfc(pattern)
    return pattern if case_sensitive else f"(?i){pattern}"


def _nfc(text: str) -> str:
    """Return text in NFC, the form `lfkit.rules.text.as_text` gives every text."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


MAX_PATTERN_CHARS = 10_000
"""The longest keyword, alias or regex: a regex's compile time grows with its size (a
50,000-branch alternation takes about a minute and cannot be interrupted), while a list of
keywords of any length is matched efficiently."""


def size_problem(text: str, what: str) -> str:
    """Return why a keyword, alias or regex is too long, or '' when it is not."""
    if len(text) <= MAX_PATTERN_CHARS:
        return ""
    hint = (
        "write a long alternation as a 'keywords' list (any number of keywords is fine)"
        if what == "regex"
        else "a keyword is a word or a short phrase"
    )
    return message(f"{what} {quoted(text)} is longer than {MAX_PATTERN_CHARS:,} characters", hint)


def regex_problem(pattern: str) -> str:
    """Return why RE2 cannot compile a regex (or it is too long), or '' when it can."""
    if problem := size_problem(pattern, "regex"):
        return problem
    try:
        re2.compile(pattern, RE2_OPTIONS)
    except re2.error as err:
        reason = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else err
        return f"regex {quoted(pattern)} does not compile with RE2 ({str(reason)[:200]})"
    except (TypeError, ValueError) as err:
        return f"regex {quoted(pattern)} is not valid ({str(err)[:200]})"
    return ""


@lru_cache(maxsize=8192)
def compile_regex(pattern: str) -> re2._Regexp:
    """Compile one regex with lfkit's RE2 options (cached)."""
    return re2.compile(pattern, RE2_OPTIONS)


MAX_SPANS = 100
"""Evidence spans kept per rule and cell: a 50 MB cell can hold millions of matches."""


def _keyword_group(pattern: str) -> int:
    """Return 1 when `pattern` is a `keyword_regex` with a word boundary around its body
    (group 1 is the keyword without the boundary characters), else 0 (the whole match)."""
    body = pattern.removeprefix("(?i)")
    bounded = body.startswith((_BEFORE + "(", _ASCII_BEFORE + "(")) or body.endswith(
        (")" + _AFTER, ")" + _ASCII_AFTER)
    )
    return 1 if bounded else 0


def match_spans(pattern: str, text: str) -> list[tuple[int, int]]:
    """Return the first MAX_SPANS (start, end) character spans where a rule regex matches.

    A span covers the whole match of a user's regex (capture groups or not) and the keyword
    itself, without its boundary characters, for a keyword's regex.

    RE2 takes about 10 ms to compile each whole-word boundary (`[^\\p{L}\\p{N}_]`) and
    a thousand times less for its ASCII form, so a keyword regex runs as its ASCII variant
    (`ascii_variant`) on ASCII text, and on other text mapped to ASCII one character for one
    (`_as_ascii`); both find exactly the regex's own spans. Other regexes run as they are.

    Examples
    --------
    >>> match_spans(user_regex(r"(deep|machine) learning"), "Deep learning, machine learning")
    [(0, 13), (15, 31)]
    >>> match_spans(keyword_regex("bert"), "a BERT model")
    [(2, 6)]
    """
    regex, search = _span_regex(pattern, text)
    group = _keyword_group(pattern) if regex.groups else 0
    spans = []
    for match in itertools.islice(regex.finditer(search), MAX_SPANS):
        start, end = match.span(group)
        spans.append((start, end) if start >= 0 else match.span())
    return spans


def _span_regex(pattern: str, text: str) -> tuple[re2._Regexp, str]:
    """Return the regex to run for `pattern` and the text to run it on (same length)."""
    form = _ascii_form(pattern)
    if form is None:
        return compile_regex(pattern), text
    variant, word, other = form
    if text.isascii():
        return compile_regex(variant), text
    mapped = _as_ascii(text, word, other, fold=pattern.startswith("(?i)"))
    return (compile_regex(pattern), text) if mapped is None else (compile_regex(variant), mapped)


_LITERALS = re.compile(r"(?:\\[^A-Za-z0-9]|[A-Za-z0-9])+")
_FOLDS = {"\u017f": "s", "\u212a": "k"}
"""The only non-ASCII characters that RE2's `(?i)` matches to an ASCII letter or digit."""


@lru_cache(maxsize=8192)
def _ascii_form(pattern: str) -> tuple[str, str, str] | None:
    """Return (ASCII variant, word placeholder, other placeholder) of a `keyword_regex` of
    ASCII words with word boundaries, or None for any other regex.

    Such a regex is literals, the separator `[\\s_-]*` and boundaries, so a non-ASCII
    character of a text can only ever matter as a word character or not (or, under `(?i)`,
    as the ASCII letter it folds to): replaced by an ASCII character of the same kind that
    the regex never names, it matches at the same places.
    """
    variant = ascii_variant(pattern)
    if variant == pattern or not pattern.isascii():
        return None
    body = pattern.removeprefix("(?i)").removeprefix(_BEFORE).removesuffix(_AFTER)
    if not (body.startswith("(") and body.endswith(")")):
        return None
    words = body[1:-1].split(_SEPARATOR)
    if not all(_LITERALS.fullmatch(word) for word in words):
        return None
    lowered = pattern.lower()
    word = next((char for char in "0123456789abcdefghjkmoqrstuvwxyz" if char not in lowered), "")
    other = next((char for char in "!#%&',;<=>@`~/:" if char not in pattern), "")
    return (variant, word, other) if word and other else None


def _as_ascii(text: str, word: str, other: str, *, fold: bool) -> str | None:
    """Return the text with each non-ASCII character replaced by `word` (a letter or digit)
    or `other` (neither), or by its ASCII fold under `(?i)`; None when Python's Unicode
    tables do not know a character (then RE2's own tables decide)."""
    table = {}
    for char in set(text):
        if char.isascii():
            continue
        if fold and char in _FOLDS:
            table[ord(char)] = _FOLDS[char]
            continue
        category = unicodedata.category(char)
        if category in ("Cn", "Cs"):
            return None
        table[ord(char)] = word if category[0] in "LN" else other
    return text.translate(table)
