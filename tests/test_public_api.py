"""The public API: lfkit.__all__ is sorted and complete."""

from __future__ import annotations

import lfkit


def test_all_is_sorted_and_exported() -> None:
    """Every name in __all__ exists, and __all__ is sorted."""
    assert lfkit.__all__ == sorted(lfkit.__all__)
    assert all(hasattr(lfkit, name) for name in lfkit.__all__)


def test_rules_json_schema_is_current() -> None:
    """The shipped JSON Schema equals the one the rule models generate."""
    import json
    from importlib import resources

    from lfkit.rules.schema import RuleFile

    shipped = json.loads(
        resources.files("lfkit.rules").joinpath("lfkit-rules.schema.json").read_text()
    )
    assert shipped == RuleFile.model_json_schema()


def test_every_public_name_has_a_home() -> None:
    """__all__ and the lazy-import table name the same things."""
    from lfkit import _HOMES

    assert sorted(_HOMES) == lfkit.__all__
