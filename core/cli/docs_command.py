"""``levelset docs``: write the generated reference pages of docs/ (the parameter tables),
or check that they are up to date (``--check``, what the tests do)."""

from __future__ import annotations

import argparse
from pathlib import Path

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.params import markdown_table

PARAMETERS_PAGE = "parameters.md"


def _configs() -> list[tuple[str, str, type]]:
    from levelset_studio.core.robust.config import TrainConfig
    from levelset_studio.core.robust.data import DatasetConfig
    from levelset_studio.core.robust.models import ModelConfig
    from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
    from levelset_studio.core.surface.reconstruction.poisson import PoissonConfig
    from levelset_studio.core.surface.scans.cleaning import CleaningConfig
    from levelset_studio.core.surface.scans.scanner import ScannerConfig

    return [
        ("Reconstruction", "`levelset reconstruct`, the Reconstruct panel", ReconstructionConfig),
        ("Screened Poisson", "`levelset reconstruct --method poisson`, the Poisson panel", PoissonConfig),
        ("Cleaning", "`levelset clean`, the Cleaning panel", CleaningConfig),
        ("Virtual scanner", "`levelset make-scan`", ScannerConfig),
        ("Robustness: dataset", "`levelset robust train`, the Robustness tab", DatasetConfig),
        ("Robustness: model", "`levelset robust train`, the Robustness tab", ModelConfig),
        ("Robustness: training", "`levelset robust train`, the Robustness tab", TrainConfig),
    ]


def parameters_page() -> str:
    """docs/parameters.md, generated from the parameter descriptions in core."""
    parts = [
        "# Parameters",
        "",
        "Every setting of LevelSet Studio, generated from the one description each has in the",
        "code (`core/params.py`): the same names, defaults and ranges appear as CLI flags, in the",
        "GUI's settings panels and in saved sessions. Sizes given as a fraction of the",
        "bounding-box diagonal work at any scale. Regenerate with `levelset docs`.",
    ]
    for title, where, cls in _configs():
        parts += ["", f"## {title}", "", f"Used by {where}.", "", markdown_table(cls)]
    return "\n".join(parts) + "\n"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("docs", help="write the generated reference pages of docs/ (parameter tables)")
    p.add_argument("--output", default="docs", metavar="DIR", help="the docs folder (default: ./docs)")
    p.add_argument("--check", action="store_true", help="only check that the pages are up to date (exit 2 if not)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    pages = {PARAMETERS_PAGE: parameters_page()}
    out = Path(args.output)
    stale = []
    for name, text in pages.items():
        path = out / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        raise ConfigError(f"out of date: {', '.join(stale)} (run `levelset docs`)")
    return 0
