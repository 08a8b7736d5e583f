"""spaCy token patterns: checking them, and matchers built on demand.

Patterns run on spacy.blank('en') (a tokenizer), or on the pipeline the task names (a package
or a folder saved with `nlp.to_disk`), loaded once per process; only a pipeline sets the
attributes in MODEL_ATTRIBUTES. spaCy is imported only when a rule set has token patterns:
`import spacy` costs seconds.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

from lfkit.errors import DataError, message, split_hint
from lfkit.rules.patterns import MAX_SPANS

# Attributes that only a trained pipeline sets: on spacy.blank("en") they would never match.
MODEL_ATTRIBUTES = {"POS", "TAG", "DEP", "LEMMA", "MORPH", "ENT_TYPE", "ENT_IOB", "ENT_ID"}
MODEL_ATTRIBUTES |= {"ENT_KB_ID", "SENT_START", "IS_SENT_START", "HEAD"}
_LITERAL_KEYS = ("LOWER", "ORTH", "TEXT")


@cache
def blank_nlp() -> Any:
    """Return the shared spacy.blank('en') pipeline (tokenizer only)."""
    import spacy

    return spacy.blank("en")


@cache
def pipeline_nlp(pipeline: str | None) -> Any:
    """Return the pipeline patterns run on: spacy.blank('en'), or spacy.load(pipeline) (cached)."""
    if pipeline is None:
        return blank_nlp()
    import spacy

    return spacy.load(pipeline)


@lru_cache(maxsize=4096)
def parse(text: str, pipeline: str | None = None) -> Any:
    """Return the Doc patterns match on: tokens only, or every component of the pipeline."""
    nlp = pipeline_nlp(pipeline)
    return nlp(text) if pipeline is not None else nlp.make_doc(text)


def model_attributes(pattern: Any) -> list[str]:
    """Return the attributes of a token pattern that only a trained pipeline sets, sorted."""
    keys = {str(key).upper() for token in pattern if isinstance(token, dict) for key in token}
    return sorted(keys & MODEL_ATTRIBUTES)


def token_pattern_problem(pattern: Any) -> str:
    """Return what is wrong with one spaCy token pattern, or '' when it is valid."""
    if not pattern:
        return "a token pattern needs at least one token"
    if problem := _bounds_problem(pattern):
        return problem
    from spacy.errors import MatchPatternError
    from spacy.matcher import Matcher

    matcher = Matcher(blank_nlp().vocab, validate=True)
    try:
        matcher.add("pattern", runnable_patterns(pattern))
    except (MatchPatternError, ValueError, KeyError, TypeError, re.error) as err:
        reason = " ".join(str(err).split())[:300]
        return f"token pattern is not valid spaCy Matcher syntax: {reason}"
    return ""


MAX_QUANTIFIER = 8
"""The largest number in a token quantifier such as {2,5}: spaCy expands quantifiers into
copies of the token, and optional copies multiply its work (at {0,16} seconds per cell)."""
WINDOW_TOKENS = 400
"""Longer texts are matched in windows of this many tokens that overlap by half, so that a
pattern with `*` or `+` between tokens (whose work grows with the square of the tokens it
spans) stays bounded; a match longer than half a window may be missed."""
_QUANTIFIER = re.compile(r"\{(\d*)(,?)(\d*)\}")


def _bounds_problem(pattern: Any) -> str:
    """Refuse extension attributes, REGEX that RE2 cannot run and quantifiers over the bound."""
    from lfkit.rules.patterns import regex_problem

    for token in pattern if isinstance(pattern, (list, tuple)) else ():
        if not isinstance(token, dict):
            continue
        if "_" in token:
            return message(
                "token extension attributes ('_') are not available: lfkit runs "
                "spacy.blank('en'), which sets none",
                "use LOWER, ORTH, TEXT, IS_*, LIKE_*, SHAPE, LENGTH or REGEX",
            )
        op = token.get("OP")
        if isinstance(op, str) and (found := _QUANTIFIER.fullmatch(op)):
            numbers = [int(number) for number in (found.group(1), found.group(3)) if number]
            if any(number > MAX_QUANTIFIER for number in numbers):
                return message(
                    f"token quantifier {op} is over {MAX_QUANTIFIER}",
                    f"use '+' or '*' for long runs, or at most {{0,{MAX_QUANTIFIER}}}",
                )
        for value in token.values():
            regex = value.get("REGEX") if isinstance(value, dict) else None
            if isinstance(regex, str) and (problem := regex_problem(regex)):
                problem, hint = split_hint(problem)
                return message(f"token REGEX: {problem} (token REGEX runs with RE2)", hint)
    return ""


def runnable_patterns(pattern: Any, *, cut: bool = True) -> list[list[dict[str, Any]]]:
    """Return `runnable_pattern`, or for a pattern of only optional tokens (`X*`, `X? Y*`),
    which matches wherever one of its tokens does, one pattern per token. `cut=False` keeps
    the ends as written (for evidence spans)."""
    tokens = runnable_pattern(pattern, cut=cut)
    if not cut:
        return [tokens]
    if any(bound is None or bound[0] > 0 for bound in map(_bounds, tokens)):
        return [tokens]
    return [[_with_op(token, 1)] for token in tokens]


def runnable_pattern(pattern: Any, *, cut: bool = True) -> list[dict[str, Any]]:
    """Return a checked token pattern in the form lfkit runs: strings in NFC, each REGEX run by
    RE2 (through a token attribute), and optional or repeated tokens at its ends cut down.

    Whether a pattern matches somewhere in a text is unchanged by the cut: `X+ Y` matches
    wherever `X Y` does, `X? Y` wherever `Y` does; and the work spaCy does on long texts stops
    growing with the square of their tokens. Evidence spans use the pattern uncut.
    """
    tokens = [_re2_token(token) for token in nfc_pattern(list(pattern))]
    return _cut_ends(tokens) if cut else tokens


def _bounds(token: dict[str, Any]) -> tuple[int, int | None] | None:
    """Return (fewest, most) repeats of a token (None: unbounded), or None for '!'."""
    op = token.get("OP", "1")
    fixed = {"1": (1, 1), "+": (1, None), "*": (0, None), "?": (0, 1)}
    if op in fixed:
        return fixed[op]
    found = _QUANTIFIER.fullmatch(str(op))
    if not found:
        return None
    low, comma, high = found.groups()
    least = int(low or 0)
    return (least, least) if not comma else (least, int(high) if high else None)


def _with_op(token: dict[str, Any], count: int) -> dict[str, Any]:
    token = {key: value for key, value in token.items() if key != "OP"}
    return token if count == 1 else {**token, "OP": f"{{{count}}}"}


def _cut_ends(tokens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bounds = [_bounds(token) for token in tokens]
    if not any(bound is None or bound[0] > 0 for bound in bounds):
        return tokens  # every token optional: leave the pattern as written
    while bounds[0] is not None and bounds[0][0] == 0:
        tokens, bounds = tokens[1:], bounds[1:]
    while bounds[-1] is not None and bounds[-1][0] == 0:
        tokens, bounds = tokens[:-1], bounds[:-1]
    for end in {0, len(tokens) - 1}:
        bound = bounds[end]
        if bound is not None and bound[1] != bound[0]:
            tokens[end] = _with_op(tokens[end], bound[0])
    return tokens


def _re2_token(token: dict[str, Any]) -> dict[str, Any]:
    """Replace `{ATTR: {REGEX: r}}` by a token attribute that RE2 computes."""
    result: dict[str, Any] = {}
    for key, value in token.items():
        if isinstance(value, dict) and isinstance(value.get("REGEX"), str):
            result.setdefault("_", {})[_regex_attribute(str(key), value["REGEX"])] = True
            rest = {name: item for name, item in value.items() if name != "REGEX"}
            if rest:
                result[key] = rest
        else:
            result[key] = value
    return result


def _regex_attribute(attr: str, regex: str) -> str:
    from spacy.tokens import Token

    name = "lfkit_re_" + hashlib.sha1(f"{attr}\0{regex}".encode()).hexdigest()[:16]
    if not Token.has_extension(name):
        Token.set_extension(name, getter=_RegexTest(attr.upper(), regex))
    return name


class _RegexTest:
    """A token attribute getter: does RE2 find the regex in the token's text (or lower_...)."""

    def __init__(self, attr: str, regex: str) -> None:
        self.attr, self.regex = attr, regex

    def __call__(self, token: Any) -> bool:
        from lfkit.rules.patterns import compile_regex

        text = {"LOWER": token.lower_, "NORM": token.norm_, "SHAPE": token.shape_}.get(
            self.attr, token.text
        )
        return compile_regex(self.regex).search(text) is not None


def _windows(doc: Any) -> list[Any]:
    """Return the doc itself, or overlapping windows of it when it is long."""
    if len(doc) <= WINDOW_TOKENS:
        return [doc]
    step = WINDOW_TOKENS // 2
    return [doc[start : start + WINDOW_TOKENS] for start in range(0, len(doc) - step, step)]


def required_literals(pattern: Any) -> tuple[str, ...]:
    """Return casefolded strings a text must contain for the pattern to match, if any.

    A token with no operator (or '+') that asks for LOWER/ORTH/TEXT equal to a string, or
    IN a list of strings, can only match where one of those strings occurs in the text.
    """
    for token in nfc_pattern(pattern):
        if token.get("OP", "1") not in ("1", "+"):
            continue
        for key in _LITERAL_KEYS:
            value = token.get(key)
            if isinstance(value, str):
                return (value.casefold(),)
            options = value.get("IN") if isinstance(value, dict) else None
            if isinstance(options, list) and all(isinstance(item, str) for item in options):
                return tuple(item.casefold() for item in options)
    return ()


def build_matcher(patterns: list[Any], pipeline: str | None = None, *, cut: bool = True) -> Any:
    """Return a spaCy Matcher whose match ids are the positions of `patterns` (`cut`: see
    `runnable_pattern`)."""
    from spacy.matcher import Matcher

    nlp = pipeline_nlp(pipeline)
    matcher = Matcher(nlp.vocab)
    for index, pattern in enumerate(patterns):
        matcher.add(str(index), runnable_patterns(pattern, cut=cut))
    return matcher


def nfc_pattern(value: Any) -> Any:
    """Return a token pattern with every string in NFC, the form texts are matched in."""
    if isinstance(value, str):
        return value if value.isascii() else unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {key: nfc_pattern(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [nfc_pattern(item) for item in value]
    return value


def run_matcher(matcher: Any, doc: Any, limit: int | None = None) -> list[tuple[int, int, int]]:
    """Return the matcher's (match id, start, end) triples on a Doc (long ones in windows,
    stopping after the window in which `limit` triples are found).

    Raises
    ------
    DataError
        When the pipeline does not set an attribute a pattern needs (spaCy's E155/E156).
    """
    try:
        if len(doc) <= WINDOW_TOKENS:
            return list(matcher(doc))
        found: dict[tuple[int, int, int], None] = {}
        for window in _windows(doc):
            for key, start, end in matcher(window):
                found[(key, window.start + start, window.start + end)] = None
            if limit is not None and len(found) >= limit:
                break
        return list(found)
    except ValueError as err:
        reason = " ".join(str(err).split())
        raise DataError(
            f"a token pattern asks for an attribute the spaCy pipeline does not set on "
            f"{doc.text[:60]!r}: {reason}",
            "name a pipeline with the component that sets it (a tagger or morphologizer for "
            "POS/TAG/MORPH, a parser for DEP, ner or an entity_ruler for ENT_TYPE, a "
            "lemmatizer or attribute_ruler for LEMMA)",
        ) from None


def match_keys(matcher: Any, doc: Any) -> set[int]:
    """Return the positions of the patterns that match in a tokenized text."""
    strings = doc.vocab.strings
    return {int(strings[match_id]) for match_id, _, _ in run_matcher(matcher, doc)}


def token_spans(
    patterns: list[Any], text: str, pipeline: str | None = None
) -> list[tuple[int, int]]:
    """Return the (start, end) character spans where any of the token patterns matches."""
    doc = parse(text, pipeline)
    return [
        (doc[start].idx, doc[end - 1].idx + len(doc[end - 1]))
        for _, start, end in run_matcher(
            build_matcher(patterns, pipeline, cut=False), doc, limit=MAX_SPANS
        )[:MAX_SPANS]
    ]
