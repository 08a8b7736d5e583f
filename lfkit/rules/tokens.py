"""spaCy token patterns: checking them, and a matcher on spacy.blank('en') built on demand.

spaCy is imported only when a rule set has token patterns: `import spacy` costs seconds.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

# Attributes that only a trained pipeline sets: on spacy.blank("en") they would never match.
_NEEDS_MODEL = {"POS", "TAG", "DEP", "LEMMA", "MORPH", "ENT_TYPE", "ENT_IOB", "ENT_ID"}
_NEEDS_MODEL |= {"ENT_KB_ID", "SENT_START", "IS_SENT_START", "HEAD"}
_LITERAL_KEYS = ("LOWER", "ORTH", "TEXT")


@cache
def blank_nlp() -> Any:
    """Return the shared spacy.blank('en') pipeline (tokenizer only)."""
    import spacy

    return spacy.blank("en")


def token_pattern_problem(pattern: Any) -> str:
    """Return what is wrong with one spaCy token pattern, or '' when it is valid."""
    if not pattern:
        return "a token pattern needs at least one token"
    for token in pattern:
        upper = {str(key).upper() for key in token} if isinstance(token, dict) else set()
        if needs := sorted(upper & _NEEDS_MODEL):
            return (
                f"token attribute {needs[0]} needs a trained spaCy pipeline; lfkit runs "
                "spacy.blank('en') (use LOWER, ORTH, TEXT, IS_*, LIKE_*, SHAPE, LENGTH)"
            )
    from spacy.errors import MatchPatternError
    from spacy.matcher import Matcher

    matcher = Matcher(blank_nlp().vocab, validate=True)
    try:
        matcher.add("pattern", [list(pattern)])
    except (MatchPatternError, ValueError, KeyError, TypeError) as err:
        reason = " ".join(str(err).split())
        return f"token pattern is not valid spaCy Matcher syntax: {reason}"
    return ""


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


def build_matcher(patterns: list[Any]) -> Any:
    """Return a spaCy Matcher whose match ids are the positions of `patterns`."""
    from spacy.matcher import Matcher

    nlp = blank_nlp()
    matcher = Matcher(nlp.vocab)
    for index, pattern in enumerate(patterns):
        matcher.add(str(index), [list(nfc_pattern(pattern))])
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


def match_keys(matcher: Any, doc: Any) -> set[int]:
    """Return the positions of the patterns that match in a tokenized text."""
    strings = doc.vocab.strings
    return {int(strings[match_id]) for match_id, _, _ in matcher(doc)}


def token_spans(patterns: list[Any], text: str) -> list[tuple[int, int]]:
    """Return the (start, end) character spans where any of the token patterns matches."""
    doc = blank_nlp().make_doc(text)
    return [
        (doc[start].idx, doc[end - 1].idx + len(doc[end - 1]))
        for _, start, end in build_matcher(patterns)(doc)
    ]
