"""lfkit: declarative labeling rules, Snorkel labeling functions, a fast engine, label audits."""

from __future__ import annotations

from lfkit._types import ABSTAIN
from lfkit.audit.analysis import RuleStats, analyze_rules
from lfkit.audit.suspects import AuditReport, Flag, LabelScores, audit_labels, score_labels
from lfkit.data import read_data
from lfkit.engine.apply import Votes, apply_rules
from lfkit.errors import DataError, LfkitError, OutputError, RuleError, RuleFileError
from lfkit.model.fit import LabelModel, fit_label_model
from lfkit.report.render import render_report
from lfkit.rules.loader import load_rules
from lfkit.rules.ruleset import CompiledRule, RuleSet

__all__ = [
    "ABSTAIN",
    "AuditReport",
    "CompiledRule",
    "DataError",
    "Flag",
    "LabelModel",
    "LabelScores",
    "LfkitError",
    "OutputError",
    "RuleError",
    "RuleFileError",
    "RuleSet",
    "RuleStats",
    "Votes",
    "analyze_rules",
    "apply_rules",
    "audit_labels",
    "fit_label_model",
    "load_rules",
    "read_data",
    "render_report",
    "score_labels",
]
