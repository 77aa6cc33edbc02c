"""Export a classifier as a ``torch.export`` program (.pt2) usable outside LevelSet Studio.

The program takes inputs in [0, 1] of shape (N, *input_shape) - (N, 2) for 2D sets,
(N, 1, 8, 8) for digits, (N, 1, 28, 28) for MNIST - with a dynamic batch dimension N,
and returns logits (N, classes); the normalization is inside. Load it with
``torch.export.load(path).module()``. (TorchScript is deprecated; this is the format
to write.)
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from levelset_studio.core.errors import ModelError


def export_program(model: nn.Module, input_shape: tuple[int, ...]) -> torch.export.ExportedProgram:
    """Trace ``model`` (in eval mode, on the CPU) with a dynamic batch dimension."""
    shape = tuple(int(s) for s in input_shape)
    model = model.cpu().eval()
    example = (torch.rand(3, *shape),)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    try:
        return torch.export.export(model, example, dynamic_shapes=({0: batch},), strict=False)
    except Exception as exc:  # noqa: BLE001 - a model torch.export cannot trace
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"cannot export the model ({first[:200]})") from None


def export_classifier(model: nn.Module, input_shape: tuple[int, ...], path: str | Path) -> Path:
    """Write ``model`` as a torch.export program to ``path`` (.pt2), atomically."""
    p = Path(path)
    if p.suffix.lower() != ".pt2":
        raise ModelError("export writes torch.export programs; give a file name ending in .pt2", p)
    if not p.parent.exists():
        raise ModelError("folder does not exist", p.parent)
    program = export_program(model, input_shape)
    tmp = p.with_name(f".{p.stem}.tmp.pt2")  # torch.export wants the .pt2 suffix
    try:
        torch.export.save(program, str(tmp))
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot write the exported model ({exc.strerror or exc})", p) from None
    return p
