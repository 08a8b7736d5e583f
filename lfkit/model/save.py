"""Save a fitted label model as JSON and load it back, for the rule set it was fitted on.

JSON, never pickle: loading a model file runs no code. The file names the rule set it belongs
to (labels, taxonomy, and each rule's name, label and vote, in column order); loading it
with other rules is refused, since its parameters are per rule column. Floats are written
with Python's shortest round-trip repr, so a loaded model predicts exactly what the saved one
did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lfkit._types import LABEL_METHODS
from lfkit.errors import ModelError, quoted
from lfkit.model.em import EmParameters
from lfkit.model.naive_bayes import FeatureCounts
from lfkit.model.snorkel_model import rebuild_part
from lfkit.output import write_text
from lfkit.rules.ruleset import RuleSet

if TYPE_CHECKING:
    from lfkit.model.fit import LabelModel

FORMAT = "lfkit-label-model"
_WHAT = {"kind": "the task kinds", "labels": "the labels", "parents": "the taxonomies"}
VERSION = 1


def save_label_model(
    model: LabelModel, path: Path, *, force: bool = False, option: str = "path"
) -> None:
    """Write `model` to `path` as JSON, atomically (replacing a file only with `force`)."""
    counts = model.counts
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "method": model.method,
        "rules": _fingerprint(model.ruleset),
        "counts": {
            "n_rows": counts.n_rows,
            "present": counts.present.tolist(),
            "fired_present": counts.fired_present.tolist(),
            "fired_total": counts.fired_total.tolist(),
        },
        "em": None,
        "snorkel": [],
    }
    if model.em is not None:
        document["em"] = {
            "prior": model.em.prior.tolist(),
            "weights": model.em.weights.tolist(),
            "const": model.em.const.tolist(),
            "iterations": model.em.iterations,
            "modelled": model.em.modelled.tolist(),
        }
    for part in model.snorkel:
        params = part.parameters()
        document["snorkel"].append(
            {"label": part.label, **{name: value.tolist() for name, value in params.items()}}
        )
    write_text(path, json.dumps(document, separators=(",", ":")), force=force, option=option)


def load_label_model(path: str | Path, ruleset: RuleSet) -> LabelModel:
    """Read a label model saved by `LabelModel.save`, for the rule set it was fitted on.

    Raises
    ------
    ModelError
        When the file cannot be read, is not an lfkit label model, or was fitted on another
        rule set (naming the first difference).
    """
    from lfkit.model.fit import LabelModel

    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ModelError(f"cannot read the model file ({err.strerror})", where=f"{path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(
            "not an lfkit label model (not JSON)",
            "save one with LabelModel.save(path)",
            where=f"{path}",
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelError(f'not an lfkit label model (no \'"format": "{FORMAT}"\')', where=f"{path}")
    if document.get("version") != VERSION:
        raise ModelError(
            f"label model format version {document.get('version')!r}; this lfkit reads "
            f"version {VERSION}",
            "refit the model with this lfkit",
            where=f"{path}",
        )
    _check_rules(path, document.get("rules"), ruleset)
    method = document.get("method")
    if method not in LABEL_METHODS or method == "auto":
        raise ModelError(f"damaged label model file (method {quoted(method)})", where=f"{path}")
    try:
        counts = document["counts"]
        fitted = FeatureCounts(
            int(counts["n_rows"]),
            np.asarray(counts["present"], dtype=np.float64),
            np.asarray(counts["fired_present"], dtype=np.float64).reshape(len(ruleset.labels), -1),
            np.asarray(counts["fired_total"], dtype=np.float64),
        )
        em = None
        if document["em"] is not None:
            em = EmParameters(
                np.asarray(document["em"]["prior"], dtype=np.float64),
                np.asarray(document["em"]["weights"], dtype=np.float64),
                np.asarray(document["em"]["const"], dtype=np.float64),
                int(document["em"]["iterations"]),
                np.asarray(document["em"]["modelled"], dtype=bool),
            )
        snorkel = [
            rebuild_part(int(part["label"]), part["columns"], part["mu"], part["p"])
            for part in document["snorkel"]
        ]
        return LabelModel(ruleset, method, counts=fitted, em=em, snorkel=snorkel)
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(
            f"damaged label model file ({type(err).__name__}: {err})", where=f"{path}"
        ) from None


def _fingerprint(ruleset: RuleSet) -> dict[str, Any]:
    """Return what identifies a rule set's columns: kind, labels, taxonomy and rules."""
    return {
        "kind": ruleset.task.kind,
        "labels": list(ruleset.labels),
        "parents": {label: list(ruleset.parents.get(label, ())) for label in ruleset.labels},
        "rules": [[rule.name, rule.label, rule.value] for rule in ruleset.rules],
    }


def _check_rules(path: Path, saved: Any, ruleset: RuleSet) -> None:
    """Refuse a model fitted on other rules, naming the first difference."""
    current = _fingerprint(ruleset)
    hint = "load it with the rules it was fitted on, or refit it on these rules"
    if not isinstance(saved, dict):
        raise ModelError(
            "the model file does not say which rules it was fitted on", where=f"{path}"
        )
    for key in ("kind", "labels", "parents"):
        if saved.get(key) != current[key]:
            raise ModelError(
                f"the model was fitted on another rule set ({_WHAT[key]} differ: "
                f"{_difference(saved.get(key), current[key])})",
                hint,
                where=f"{path}",
            )
    theirs = [tuple(rule) for rule in saved.get("rules") or []]
    ours = [tuple(rule) for rule in current["rules"]]
    if theirs != ours:
        for column, (old, new) in enumerate(zip(theirs, ours, strict=False)):
            if old != new:
                what = f"column {column + 1} is rule '{old[0]}' (label {old[1]}, vote {old[2]}) "
                what += f"in the model, '{new[0]}' (label {new[1]}, vote {new[2]}) in the rules"
                break
        else:
            what = f"the model has {len(theirs)} rules, the rule set {len(ours)}"
        raise ModelError(
            f"the model was fitted on another rule set ({what})", hint, where=f"{path}"
        )


def _difference(saved: Any, current: Any) -> str:
    if isinstance(saved, list) and isinstance(current, list):
        gone, new = sorted(set(saved) - set(current)), sorted(set(current) - set(saved))
        if gone or new:
            return f"only in the model: {gone[:5]}, only in the rules: {new[:5]}"
        return "same labels in another order"
    if isinstance(saved, dict) and isinstance(current, dict):
        changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        return f"changed: {changed[:5]}"
    return f"{saved!r} in the model, {current!r} in the rules"
