"""lfkit: declarative labeling rules, Snorkel labeling functions and a fast engine."""

from __future__ import annotations

from lfkit._types import ABSTAIN
from lfkit.engine.apply import Votes, apply_rules
from lfkit.errors import DataError, LfkitError, OutputError, RuleError, RuleFileError
from lfkit.rules.loader import load_rules
from lfkit.rules.ruleset import CompiledRule, RuleSet

__all__ = [
    "ABSTAIN",
    "CompiledRule",
    "DataError",
    "LfkitError",
    "OutputError",
    "RuleError",
    "RuleFileError",
    "RuleSet",
    "Votes",
    "apply_rules",
    "load_rules",
]
