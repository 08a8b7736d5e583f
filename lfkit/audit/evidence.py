"""Evidence for a flag: which rules fired for and against a label, and on which text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lfkit.rules.patterns import match_spans
from lfkit.rules.ruleset import CompiledRule
from lfkit.rules.text import as_text
from lfkit.rules.tokens import token_spans


@dataclass(frozen=True)
class RuleMatch:
    """One rule that fired on a row, with the spans it matched in each field."""

    rule: str
    label: str
    vote: int
    spans: tuple[tuple[str, int, int], ...]
    """(field, start, end) character spans, in field order."""

    def words(self, texts: dict[str, str]) -> list[str]:
        """Return the distinct matched strings, in the order they were matched."""
        return list(
            dict.fromkeys(texts.get(field, "")[start:end] for field, start, end in self.spans)
        )

    def describe(self, texts: dict[str, str], label: str) -> str:
        """Return how a flag's reasons name this rule: its name, its label when that is not
        the flag's `label`, and up to two of the words it matched."""
        quoted = "/".join(f'"{word}"' for word in self.words(texts)[:2])
        target = "" if self.label == label else f" ({self.label})"
        return f"{self.rule}{target} {quoted}".strip()

    def to_dict(self, texts: dict[str, str]) -> dict[str, object]:
        """Return a JSON-ready dict, with the matched text of each span."""
        return {
            "rule": self.rule,
            "label": self.label,
            "vote": self.vote,
            "matches": [
                {
                    "field": field,
                    "start": start,
                    "end": end,
                    "text": texts.get(field, "")[start:end],
                }
                for field, start, end in self.spans
            ],
        }


def rule_matches(rules: Iterable[CompiledRule], row: dict[str, object]) -> tuple[RuleMatch, ...]:
    """Return where each of these (fired) rules matched in the row's text fields."""
    return tuple(rule_match(rule, row) for rule in rules)


def rule_match(rule: CompiledRule, row: dict[str, object]) -> RuleMatch:
    """Return where one (fired) rule matched in the row's text fields."""
    spans: list[tuple[str, int, int]] = []
    for field in rule.fields:
        text = as_text(row.get(field))
        hits = {span for regex in rule.regexes for span in match_spans(regex, text)}
        if rule.token_patterns:
            hits.update(token_spans(list(rule.token_patterns), text, rule.pipeline))
        spans += [(field, start, end) for start, end in sorted(hits)]
    return RuleMatch(rule.name, rule.label, rule.value, tuple(spans))
