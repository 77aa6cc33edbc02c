"""`levelset robust ...`: the robustness engine's subcommands.

Training and export live in ``robust_train_commands``, evaluation and attacks in
``robust_eval_commands``, noise, transformations and saliency in
``robust_probe_commands``; each adds its sub-subcommands to the ``robust`` group.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from levelset_studio.core.cli import robust_eval_commands, robust_probe_commands, robust_train_commands

    robust = sub.add_parser(
        "robust",
        help="train, attack and evaluate classifiers",
        description="Train classifiers (robustly), attack them and evaluate their robustness.",
    )
    rsub = robust.add_subparsers(dest="robust_command", metavar="ROBUST_COMMAND", parser_class=type(robust))
    robust_train_commands.register(rsub)
    robust_eval_commands.register(rsub)
    robust_probe_commands.register(rsub)
