"""Audit outputs: evidence spans, flag records and their fast writer, on the bundled data."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lfkit._types import MATCH_MODES
from lfkit.rules.patterns import (
    MAX_SPANS,
    _keyword_group,
    compile_regex,
    keyword_regex,
    match_spans,
)
from lfkit.rules.ruleset import RuleSet
from lfkit.rules.text import as_text


def test_match_spans_on_ascii_text_equal_the_unicode_regex(
    tag_rules: RuleSet, projects: pd.DataFrame
) -> None:
    """The ASCII variant finds exactly the spans of the rule's own regex on ASCII text."""
    rng = np.random.default_rng(0)
    regexes = sorted({regex for rule in tag_rules.rules for regex in rule.regexes})
    chosen = [regexes[i] for i in rng.choice(len(regexes), 40, replace=False)]
    texts = [as_text(t) for t in projects["title"].tolist() + projects["description"].tolist()]
    texts = [text for text in texts if text.isascii()]
    found = 0
    for regex in chosen:
        for text in texts:
            spans = match_spans(regex, text)
            assert spans == _own_spans(regex, text), (regex, text)
            found += bool(spans)
    assert found > 20, "the sample should hit some texts"


def _own_spans(pattern: str, text: str) -> list[tuple[int, int]]:
    """The spans of the regex itself (Unicode word boundaries), as evidence showed them."""
    regex = compile_regex(pattern)
    group = _keyword_group(pattern) if regex.groups else 0
    spans = []
    for match in regex.finditer(text):
        start, end = match.span(group)
        spans.append((start, end) if start >= 0 else match.span())
    return spans[:MAX_SPANS]


_PIECES = ["a", "b", "ab", "Ab", "c++", "q&a", "x-y", "é", "ſ", "\u212a", "k", "s", "x_y", "1"]
_TEXT_CHARS = "abcABCksK \t-_+&.,!0١é\u00dfſ\u212a\u00a0\u2014\u0301😀ӓ日"


@settings(max_examples=150, deadline=None)
@example(keyword="ask", match="word", case_sensitive=False, text="aſk, as\u212a; ask")
@example(keyword="ask", match="prefix", case_sensitive=True, text="aſking as\u212a ask")
@given(
    keyword=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=3).map(" ".join),
    match=st.sampled_from(MATCH_MODES),
    case_sensitive=st.booleans(),
    text=st.text(alphabet=_TEXT_CHARS, max_size=30),
)
def test_match_spans_equal_the_regex_on_any_text(
    keyword: str, match: str, case_sensitive: bool, text: str
) -> None:
    """Keyword regexes find their own spans on mixed Unicode text (ſ and the Kelvin sign fold)."""
    pattern = keyword_regex(keyword, case_sensitive=case_sensitive, match=match)
    assert match_spans(pattern, text) == _own_spans(pattern, text)
