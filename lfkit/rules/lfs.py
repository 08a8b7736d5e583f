"""Compile rules into real Snorkel LabelingFunctions that vote row by row.

They search with the same RE2 regexes and spaCy matcher as the fast engine, so
`PandasLFApplier(ruleset.to_snorkel()).apply(df)` equals `apply_rules(ruleset, df).to_dense()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lfkit._types import ABSTAIN
from lfkit.rules.measures import numbers, text_length, within
from lfkit.rules.patterns import compile_regex
from lfkit.rules.ruleset import CompiledRule, RuleSet
from lfkit.rules.text import as_text
from lfkit.rules.tokens import build_matcher, parse, run_matcher

if TYPE_CHECKING:
    from snorkel.labeling import LabelingFunction


class RuleVote:
    """The picklable function behind one rule's LabelingFunction: row -> vote or ABSTAIN."""

    def __init__(self, rule: CompiledRule) -> None:
        self.rule = rule
        self._compiled: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"rule": self.rule, "_compiled": None}

    def _matchers(self) -> Any:
        if self._compiled is None:
            rule = self.rule
            self._compiled = (
                [compile_regex(regex) for regex in rule.regexes],
                build_matcher(list(rule.token_patterns), rule.pipeline)
                if rule.token_patterns
                else None,
                [compile_regex(regex) for regex in rule.unless_regexes],
                build_matcher(list(rule.unless_token_patterns), rule.pipeline)
                if rule.unless_token_patterns
                else None,
            )
        return self._compiled

    def __call__(self, row: Any) -> int:
        rule = self.rule
        if rule.function is not None:
            return rule.function(row)
        regexes, tokens, unless_regexes, unless_tokens = self._matchers()
        texts = [as_text(row[field]) for field in rule.fields]
        pipeline = rule.pipeline
        if rule.has_text_test and not any(
            _matches(text, regexes, tokens, pipeline) for text in texts
        ):
            return ABSTAIN
        if rule.length is not None:
            total = sum(text_length(text, rule.length.unit) for text in texts)
            if not within(total, rule.length):
                return ABSTAIN
        if rule.score is not None and not within(numbers([row[rule.score.column]]), rule.score)[0]:
            return ABSTAIN
        if any(_matches(text, unless_regexes, unless_tokens, pipeline) for text in texts):
            return ABSTAIN
        return rule.value


def _matches(text: str, regexes: list[Any], tokens: Any, pipeline: str | None) -> bool:
    if any(regex.search(text) for regex in regexes):
        return True
    return tokens is not None and len(run_matcher(tokens, parse(text, pipeline))) > 0


def make_labeling_functions(ruleset: RuleSet) -> list[LabelingFunction]:
    """Return one LabelingFunction per rule of the rule set, in column order."""
    from snorkel.labeling import LabelingFunction

    return [LabelingFunction(rule.name, f=RuleVote(rule)) for rule in ruleset.rules]
