"""The ``levelset`` command. Each group of subcommands lives in its own module with a
``register(subparsers)`` function. Built-in groups are listed in ``COMMAND_MODULES``;
other parts of the package add theirs through the entry-point group
``levelset_studio.commands`` (the GUI registers ``gui`` there, so this package never
imports the GUI). This module owns the error policy:
a user error prints one line ``levelset: error: <what>`` and exits 2, never a traceback
(``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from levelset_studio.core.errors import Cancelled, LevelSetError

# Modules that add subcommands, in the order they appear in --help.
COMMAND_MODULES = (
    "levelset_studio.core.cli.scan_commands",
    "levelset_studio.core.cli.recon_commands",
    "levelset_studio.core.cli.batch_command",
    "levelset_studio.core.cli.evaluate_command",
    "levelset_studio.core.cli.robust_commands",
    "levelset_studio.core.cli.docs_command",
)
#: Entry-point group of subcommands registered from outside core (``gui`` from the app).
COMMAND_GROUP = "levelset_studio.commands"

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130


def version_text() -> str:
    from levelset_studio.core.versions import versions_report

    return versions_report()


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in our one-line format (exit 2 either way)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"levelset: error: {message}\n(see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="levelset",
        description="LevelSet Studio: sample, move and draw the level sets of neural networks.",
    )
    parser.add_argument(
        "--version", action="store_true", help="print versions of the app, its libraries and the device"
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for register in plugin_commands():
        register(sub)
    return parser


def plugin_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """The ``register`` functions of the entry-point group, sorted by name."""
    found = entry_points(group=COMMAND_GROUP)
    return [ep.load() for ep in sorted(found, key=lambda e: e.name)]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["gui"]  # `levelset` alone opens the app with the sample scan
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(version_text())
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        rc = args.func(args)
        return int(rc or 0)
    except LevelSetError as exc:
        if args.debug:
            raise
        print(f"levelset: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Cancelled:
        print("levelset: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        print("levelset: interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except MemoryError:
        if args.debug:
            raise
        print("levelset: error: out of memory (try a smaller scan, resolution or batch)", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":  # python -m levelset_studio.core.cli
    sys.exit(main())
