"""lfkit: declarative labeling rules, Snorkel labeling functions, a fast engine, label audits.

Names are imported on first use, so `lfkit check` and `--help` start without loading pandas,
scipy or scikit-learn.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lfkit._types import ABSTAIN
    from lfkit.assist.next import rows_to_label
    from lfkit.assist.slices import slice_metrics, slicing_functions
    from lfkit.assist.suggest import suggest_rules
    from lfkit.audit.analysis import RuleStats, analyze_rules
    from lfkit.audit.scores import LabelScores, score_labels
    from lfkit.audit.suspects import AuditReport, Flag, audit_labels
    from lfkit.data import Partition, read_data, split_data
    from lfkit.engine.apply import apply_rules
    from lfkit.engine.votes import Votes
    from lfkit.errors import (
        ClusterError,
        DataError,
        FunctionError,
        LfkitError,
        ModelError,
        OptionError,
        OutputError,
        RuleError,
        RuleFileError,
    )
    from lfkit.model.fit import LabelModel, fit_label_model
    from lfkit.model.label import label_rows
    from lfkit.model.save import load_label_model
    from lfkit.report.render import render_report
    from lfkit.review.decisions import Decision, append_decision, read_decisions
    from lfkit.review.fix import apply_decisions
    from lfkit.rules.functions import load_lfs
    from lfkit.rules.loader import load_rules
    from lfkit.rules.ruleset import CompiledRule, RuleSet

_HOMES = {
    "ABSTAIN": "lfkit._types",
    "AuditReport": "lfkit.audit.suspects",
    "ClusterError": "lfkit.errors",
    "CompiledRule": "lfkit.rules.ruleset",
    "DataError": "lfkit.errors",
    "Decision": "lfkit.review.decisions",
    "Flag": "lfkit.audit.suspects",
    "FunctionError": "lfkit.errors",
    "LabelModel": "lfkit.model.fit",
    "LabelScores": "lfkit.audit.scores",
    "LfkitError": "lfkit.errors",
    "ModelError": "lfkit.errors",
    "OptionError": "lfkit.errors",
    "OutputError": "lfkit.errors",
    "Partition": "lfkit.data",
    "RuleError": "lfkit.errors",
    "RuleFileError": "lfkit.errors",
    "RuleSet": "lfkit.rules.ruleset",
    "RuleStats": "lfkit.audit.analysis",
    "Votes": "lfkit.engine.votes",
    "analyze_rules": "lfkit.audit.analysis",
    "append_decision": "lfkit.review.decisions",
    "apply_decisions": "lfkit.review.fix",
    "apply_rules": "lfkit.engine.apply",
    "audit_labels": "lfkit.audit.suspects",
    "fit_label_model": "lfkit.model.fit",
    "label_rows": "lfkit.model.label",
    "load_label_model": "lfkit.model.save",
    "load_lfs": "lfkit.rules.functions",
    "load_rules": "lfkit.rules.loader",
    "read_data": "lfkit.data",
    "read_decisions": "lfkit.review.decisions",
    "render_report": "lfkit.report.render",
    "rows_to_label": "lfkit.assist.next",
    "score_labels": "lfkit.audit.scores",
    "slice_metrics": "lfkit.assist.slices",
    "slicing_functions": "lfkit.assist.slices",
    "split_data": "lfkit.data",
    "suggest_rules": "lfkit.assist.suggest",
}

__all__ = [
    "ABSTAIN",
    "AuditReport",
    "ClusterError",
    "CompiledRule",
    "DataError",
    "Decision",
    "Flag",
    "FunctionError",
    "LabelModel",
    "LabelScores",
    "LfkitError",
    "ModelError",
    "OptionError",
    "OutputError",
    "Partition",
    "RuleError",
    "RuleFileError",
    "RuleSet",
    "RuleStats",
    "Votes",
    "analyze_rules",
    "append_decision",
    "apply_decisions",
    "apply_rules",
    "audit_labels",
    "fit_label_model",
    "label_rows",
    "load_label_model",
    "load_lfs",
    "load_rules",
    "read_data",
    "read_decisions",
    "render_report",
    "rows_to_label",
    "score_labels",
    "slice_metrics",
    "slicing_functions",
    "split_data",
    "suggest_rules",
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'lfkit' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
