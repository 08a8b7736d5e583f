"""The rule language: one pydantic model per section of a rules file, each checked on its own.

Checks that span rules (unknown labels, duplicate names, parent cycles) live in `loader.py`.
"""

from __future__ import annotations

import numbers
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from lfkit._types import LengthUnit, MatchMode, TaskKind, VoteSign
from lfkit.errors import quoted
from lfkit.rules.patterns import keyword_words, regex_problem, size_problem
from lfkit.rules.tokens import token_pattern_problem


def _one_or_many(value: Any) -> Any:
    """Let `keywords: yolo` stand for `keywords: [yolo]`."""
    return [value] if isinstance(value, str) else value


def label_name(value: Any) -> Any:
    """Return the name of a label written as a whole number (`1` -> '1'); others as they are.

    Integer class labels (0/1) are common in public data; a rule set names its labels by
    strings, so the data's and the rules' numbers meet as strings.

    Examples
    --------
    >>> label_name(1), label_name("spam"), label_name(2.0), label_name(True)
    ('1', 'spam', '2', True)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():  # an int column with gaps in pandas
        return str(int(value))
    return value


def _names(value: Any) -> Any:
    value = _one_or_many(value)
    return [label_name(item) for item in value] if isinstance(value, list) else label_name(value)


Strings = Annotated[tuple[StrictStr, ...], BeforeValidator(_one_or_many)]
_NAME_SCHEMA = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]}
LabelName = Annotated[StrictStr, BeforeValidator(label_name), WithJsonSchema(_NAME_SCHEMA)]
LabelNames = Annotated[
    tuple[StrictStr, ...],
    BeforeValidator(_names),
    WithJsonSchema({"type": "array", "items": _NAME_SCHEMA}),
]
TokenPattern = tuple[dict[StrictStr, Any], ...]


def _keyword_ok(keyword: str) -> str:
    if problem := size_problem(keyword, "keyword"):
        raise ValueError(problem)
    if not keyword_words(keyword):
        raise ValueError(f"keyword {quoted(keyword)} has no word in it")
    return keyword


def _regex_ok(pattern: str) -> str:
    if problem := regex_problem(pattern):
        raise ValueError(problem)
    return pattern


def _token_pattern_ok(pattern: TokenPattern) -> TokenPattern:
    if problem := token_pattern_problem(pattern):
        raise ValueError(problem)
    return pattern


# Each item is checked on its own, so a rule with three bad regexes gets three errors, each at
# its own line, instead of one for the first.
Keywords = Annotated[
    tuple[Annotated[StrictStr, AfterValidator(_keyword_ok)], ...], BeforeValidator(_one_or_many)
]
Regexes = Annotated[
    tuple[Annotated[StrictStr, AfterValidator(_regex_ok)], ...], BeforeValidator(_one_or_many)
]
TokenPatterns = tuple[Annotated[TokenPattern, AfterValidator(_token_pattern_ok)], ...]


class Match(BaseModel):
    """What to look for in a text: keywords, RE2 regexes and spaCy token patterns."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    keywords: Keywords = Field(default=(), description="Phrases, case-insensitive.")
    match: MatchMode = Field(
        default="word",
        description="Where keywords match: whole words, at the start of a word, or anywhere.",
    )
    regex: Regexes = Field(default=(), description="RE2 regular expressions.")
    patterns: TokenPatterns = Field(
        default=(),
        description="spaCy Matcher token patterns, run on the task's pipeline "
        "(default spacy.blank('en'): a tokenizer only).",
    )

    def is_empty(self) -> bool:
        """Say whether there is nothing to look for."""
        return not (self.keywords or self.regex or self.patterns)


class _Bounds(BaseModel):
    """A range with an inclusive `min` and/or `max`; at least one of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _has_a_bound(self) -> Any:
        low, high = self.model_dump(include={"min", "max"}).values()
        if low is None and high is None:
            raise ValueError("give 'min', 'max' or both")
        if low is not None and high is not None and low > high:
            raise ValueError(f"'min' ({low}) is greater than 'max' ({high})")
        return self


class Length(_Bounds):
    """A text length test: the rule's fields together hold from `min` to `max` units."""

    unit: LengthUnit = Field(
        default="words",
        description="words: runs of non-space characters (str.split); characters: code points.",
    )
    min: StrictInt | None = Field(default=None, ge=0, description="At least this many.")
    max: StrictInt | None = Field(default=None, ge=0, description="At most this many.")


class Score(_Bounds):
    """A test on a numeric column, such as a model's probability or a sentiment polarity."""

    column: StrictStr = Field(min_length=1, description="A numeric column of the data.")
    min: StrictFloat | StrictInt | None = Field(default=None, description="At least this.")
    max: StrictFloat | StrictInt | None = Field(default=None, description="At most this.")


class Rule(Match):
    """One rule as written in a rules file: when its tests all hold, it votes on its label.

    A rule's tests are its text patterns (any keyword, regex or token pattern matches in any
    of its fields), `length` and `score`; the ones it states must all hold, and `unless` not.
    """

    name: StrictStr = Field(min_length=1)
    label: LabelName = Field(min_length=1)
    fields: Strings = Field(default=(), description="Text columns to search; default: all.")
    vote: VoteSign = "positive"
    case_sensitive: StrictBool = False
    unless: Match | None = Field(default=None, description="Abstain when this matches too.")
    length: Length | None = Field(default=None, description="Fire only at this text length.")
    score: Score | None = Field(default=None, description="Fire only at these column values.")
    enabled: StrictBool = True
    description: StrictStr = ""

    def is_empty(self) -> bool:
        """Say whether the rule tests nothing at all."""
        return super().is_empty() and self.length is None and self.score is None


class Label(BaseModel):
    """One label (a tag or a class) of the taxonomy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    aliases: Strings = ()
    parents: LabelNames = ()
    match_name: StrictBool = Field(
        default=True, description="Also match the label's own name as a keyword."
    )
    match: MatchMode = Field(
        default="word", description="Where the name and aliases match: word, prefix, substring."
    )
    description: StrictStr = ""

    @field_validator("aliases")
    @classmethod
    def _aliases_have_words(cls, aliases: tuple[str, ...]) -> tuple[str, ...]:
        for alias in aliases:
            if problem := size_problem(alias, "alias"):
                raise ValueError(problem)
            if not keyword_words(alias):
                raise ValueError(f"alias {quoted(alias)} has no word in it")
        return aliases


class Task(BaseModel):
    """What the data looks like and what kind of labels it has."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: TaskKind
    id_column: StrictStr = "id"
    text_columns: Strings = Field(min_length=1)
    label_column: StrictStr = Field(min_length=1)
    label_delimiter: StrictStr = Field(default=",", min_length=1)
    pipeline: StrictStr | None = Field(
        default=None,
        min_length=1,
        description="A spaCy pipeline for token patterns: an installed package "
        "(en_core_web_sm) or a folder saved with nlp.to_disk, relative to this file; "
        "allows POS, TAG, LEMMA, ENT_TYPE, DEP, MORPH in patterns.",
    )


class RuleFile(BaseModel):
    """A whole rules file; used to publish the JSON Schema, the loader checks it by section."""

    model_config = ConfigDict(extra="forbid", title="lfkit rules file")
    task: Task | None = None
    labels: dict[StrictStr | int, Label | None] = {}
    rules: list[Rule] = []


SECTIONS = {"task": Task, "labels": Label, "rules": Rule}
