"""`levelset robust` subcommands (filled in by their issue)."""

from __future__ import annotations

import argparse


def register(rsub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `robust` group."""
