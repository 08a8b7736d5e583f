"""The `lfkit` command: thin wrappers that parse options, call the library and render.

One module per command group; importing them registers their commands on `app`.
"""

from __future__ import annotations

from lfkit.cli import (  # noqa: F401  (importing a module registers its commands)
    apply,
    assist,
    audit,
    check,
    label,
    labelstudio,
    review,
)
from lfkit.cli.app import app, main

__all__ = ["app", "main"]
