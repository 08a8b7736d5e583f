"""The rule language: one pydantic model per section of a rules file, each checked on its own.

Checks that span rules (unknown labels, duplicate names, parent cycles) live in `loader.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
)

from lfkit.rules.patterns import keyword_words, regex_problem
from lfkit.rules.tokens import token_pattern_problem


def _one_or_many(value: Any) -> Any:
    """Let `keywords: yolo` stand for `keywords: [yolo]`."""
    return [value] if isinstance(value, str) else value


Strings = Annotated[tuple[StrictStr, ...], BeforeValidator(_one_or_many)]
TokenPattern = tuple[dict[StrictStr, Any], ...]


class Match(BaseModel):
    """What to look for in a text: keywords, RE2 regexes and spaCy token patterns."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    keywords: Strings = Field(default=(), description="Whole-word phrases, case-insensitive.")
    regex: Strings = Field(default=(), description="RE2 regular expressions.")
    patterns: tuple[TokenPattern, ...] = Field(
        default=(), description="spaCy Matcher token patterns, run on spacy.blank('en')."
    )

    @field_validator("keywords")
    @classmethod
    def _keywords_have_words(cls, keywords: tuple[str, ...]) -> tuple[str, ...]:
        for keyword in keywords:
            if not keyword_words(keyword):
                raise ValueError(f"keyword {keyword!r} has no word in it")
        return keywords

    @field_validator("regex")
    @classmethod
    def _regexes_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if problem := regex_problem(pattern):
                raise ValueError(problem)
        return patterns

    @field_validator("patterns")
    @classmethod
    def _token_patterns_valid(cls, patterns: tuple[TokenPattern, ...]) -> tuple[TokenPattern, ...]:
        for pattern in patterns:
            if problem := token_pattern_problem(pattern):
                raise ValueError(problem)
        return patterns

    def is_empty(self) -> bool:
        """Say whether there is nothing to look for."""
        return not (self.keywords or self.regex or self.patterns)


class Rule(Match):
    """One rule as written in a rules file: when its patterns match, it votes on its label."""

    name: StrictStr = Field(min_length=1)
    label: StrictStr = Field(min_length=1)
    fields: Strings = Field(default=(), description="Text columns to search; default: all.")
    vote: Literal["positive", "negative"] = "positive"
    case_sensitive: StrictBool = False
    unless: Match | None = Field(default=None, description="Abstain when this matches too.")
    enabled: StrictBool = True
    description: StrictStr = ""


class Label(BaseModel):
    """One label (a tag or a class) of the taxonomy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    aliases: Strings = ()
    parents: Strings = ()
    match_name: StrictBool = Field(
        default=True, description="Also match the label's own name as a keyword."
    )
    description: StrictStr = ""

    @field_validator("aliases")
    @classmethod
    def _aliases_have_words(cls, aliases: tuple[str, ...]) -> tuple[str, ...]:
        for alias in aliases:
            if not keyword_words(alias):
                raise ValueError(f"alias {alias!r} has no word in it")
        return aliases


class Task(BaseModel):
    """What the data looks like and what kind of labels it has."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["multilabel", "multiclass"]
    id_column: StrictStr = "id"
    text_columns: Strings = Field(min_length=1)
    label_column: StrictStr = Field(min_length=1)
    label_delimiter: StrictStr = Field(default=",", min_length=1)


class RuleFile(BaseModel):
    """A whole rules file; used to publish the JSON Schema, the loader checks it by section."""

    model_config = ConfigDict(extra="forbid", title="lfkit rules file")
    task: Task | None = None
    labels: dict[StrictStr, Label | None] = {}
    rules: list[Rule] = []


SECTIONS = {"task": Task, "labels": Label, "rules": Rule}
