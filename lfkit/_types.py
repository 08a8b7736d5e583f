"""Type aliases shared across lfkit, the ABSTAIN vote, and the option types.

Each string option of the API is a `Literal` type here, and its values a tuple of the same
name in capitals (`get_args` of it). The rules schema, the library's checks
(`lfkit.errors.check_choice`) and the CLI's choices (typer reads a Literal as a list of
choices) all use these: a new value is added here once.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

ABSTAIN = -1
"""The vote of a rule that has nothing to say about a row."""

LabelMatrix = npt.NDArray[np.int64]
"""Votes, shape (n_samples, n_lfs): ABSTAIN, or the rule's vote."""

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
"""Scores and weights kept in single precision to halve their memory."""
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

TaskKind = Literal["multilabel", "multiclass"]
"""A task's kind: tags (any number per row) or classes (one per row)."""
TASK_KINDS: tuple[TaskKind, ...] = get_args(TaskKind)

MatchMode = Literal["word", "prefix", "substring"]
"""Where a keyword matches: as whole words, at the start of a word, or anywhere."""
MATCH_MODES: tuple[MatchMode, ...] = get_args(MatchMode)

VoteSign = Literal["positive", "negative"]
"""What a rule's match says about its label: present, or absent (multilabel only)."""
VOTE_SIGNS: tuple[VoteSign, ...] = get_args(VoteSign)

LfVote = Literal["positive", "negative", "both"]
"""What a tag's labeling function says: the tag is present, absent, or either (two columns)."""
LF_VOTES: tuple[LfVote, ...] = get_args(LfVote)

LengthUnit = Literal["words", "characters"]
"""What a length test counts."""
LENGTH_UNITS: tuple[LengthUnit, ...] = get_args(LengthUnit)

LabelMethod = Literal["auto", "naive-bayes", "em", "snorkel", "majority"]
"""A label model (lfkit/model/fit.py says what each does)."""
LABEL_METHODS: tuple[LabelMethod, ...] = get_args(LabelMethod)

ReportFormat = Literal["table", "jsonl", "csv", "html"]
"""The formats an audit report renders to."""
REPORT_FORMATS: tuple[ReportFormat, ...] = get_args(ReportFormat)

ListFormat = Literal["table", "jsonl"]
"""The formats of a list of results (suggested rules, rows to label, slices)."""
LIST_FORMATS: tuple[ListFormat, ...] = get_args(ListFormat)

NextFormat = Literal["table", "jsonl", "label-studio"]
"""The formats of `lfkit next`: a list, or Label Studio tasks."""
NEXT_FORMATS: tuple[NextFormat, ...] = get_args(NextFormat)

AnalysisFormat = Literal["table", "json", "csv"]
"""The formats of per-rule statistics."""
ANALYSIS_FORMATS: tuple[AnalysisFormat, ...] = get_args(AnalysisFormat)

CheckFormat = Literal["text", "json", "sarif"]
"""The formats of `lfkit check`'s findings."""
CHECK_FORMATS: tuple[CheckFormat, ...] = get_args(CheckFormat)

ReviewTool = Literal["label-studio"]
"""The labelling tools lfkit exports flags to and reads decisions from."""
REVIEW_TOOLS: tuple[ReviewTool, ...] = get_args(ReviewTool)

FlagKind = Literal["missing", "spurious", "candidate"]
"""What an audit flag says: a label is missing, is wrong (spurious), or the row's class
should be another one (candidate)."""
FLAG_KINDS: tuple[FlagKind, ...] = get_args(FlagKind)

DecisionKind = Literal["accept", "reject", "relabel", "undo"]
"""What a reviewer decided about a flag (one line of a decisions file)."""
DECISION_KINDS: tuple[DecisionKind, ...] = get_args(DecisionKind)

ReviewChoice = Literal["accept", "reject", "relabel", "skip"]
"""What a reviewer can do with a flag in `lfkit review` (skip: decide later)."""
REVIEW_CHOICES: tuple[ReviewChoice, ...] = get_args(ReviewChoice)

SliceKind = Literal["rule", "label"]
"""How `slicing_functions` slices the data: one slice per rule, or per label's rules."""
SLICE_KINDS: tuple[SliceKind, ...] = get_args(SliceKind)
