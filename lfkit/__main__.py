"""Run the lfkit command line: python -m lfkit."""

from __future__ import annotations

from lfkit.cli import main

main()
