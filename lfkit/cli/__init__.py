"""The `lfkit` command: thin wrappers that parse options, call the library and render.

One module per command group; importing them registers their commands on `app`, in the order
`lfkit --help` lists them: the rules, the audit, the review loop, labeling, help with rules.
"""

# ruff: noqa: I001  (the import order below is the order of the commands in --help)
from __future__ import annotations

from lfkit.cli import check, audit, review, labelstudio, label, apply, assist  # noqa: F401
from lfkit.cli.app import app, main

__all__ = ["app", "main"]
