"""spaCy token patterns: checking them, and matchers built on demand.

Patterns run on spacy.blank('en') (a tokenizer), or on the pipeline the task names (a package
or a folder saved with `nlp.to_disk`), loaded once per process; only a pipeline sets the
attributes in MODEL_ATTRIBUTES. spaCy is imported only when a rule set has token patterns:
`import spacy` costs seconds.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from typing import Any

from lfkit.errors import DataError

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


def build_matcher(patterns: list[Any], pipeline: str | None = None) -> Any:
    """Return a spaCy Matcher whose match ids are the positions of `patterns`."""
    from spacy.matcher import Matcher

    nlp = pipeline_nlp(pipeline)
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


def run_matcher(matcher: Any, doc: Any) -> list[tuple[int, int, int]]:
    """Return the matcher's (match id, start, end) triples on a Doc.

    Raises
    ------
    DataError
        When the pipeline does not set an attribute a pattern needs (spaCy's E155/E156).
    """
    try:
        return list(matcher(doc))
    except ValueError as err:
        reason = " ".join(str(err).split())
        raise DataError(
            f"a token pattern asks for an attribute the spaCy pipeline does not set on "
            f"{doc.text[:60]!r}: {reason}; hint: name a pipeline with the component that sets "
            "it (a tagger or morphologizer for POS/TAG/MORPH, a parser for DEP, ner or an "
            "entity_ruler for ENT_TYPE, a lemmatizer or attribute_ruler for LEMMA)"
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
        for _, start, end in run_matcher(build_matcher(patterns, pipeline), doc)
    ]
