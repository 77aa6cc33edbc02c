"""Classifier checkpoints: weights, optimizer, the three configs and the epoch, so a run
resumes exactly and a model can be rebuilt, evaluated or exported from one file.

Written with ``torch.save`` as plain containers and tensors, read with
``torch.load(weights_only=True)``: loading a checkpoint never runs code from the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from levelset_studio.core.errors import CheckpointError, LevelSetError
from levelset_studio.core.params import config_from_dict, config_to_dict
from levelset_studio.core.robust.config import TrainConfig
from levelset_studio.core.robust.data import DatasetConfig
from levelset_studio.core.robust.models import ModelConfig, build_model

FORMAT = "levelset-classifier"
VERSION = 1


@dataclass(frozen=True)
class Classifier:
    """A loaded checkpoint. Unpacks as ``model, model_config, dataset_config, train_config``."""

    model: nn.Module
    model_config: ModelConfig
    dataset_config: DatasetConfig
    train_config: TrainConfig
    epoch: int = 0
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0
    class_names: tuple[str, ...] = ()
    optimizer_state: dict | None = None
    history: tuple[dict[str, float], ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.model, self.model_config, self.dataset_config, self.train_config))


def save_classifier(
    path: str | Path,
    model: nn.Module,
    model_config: ModelConfig,
    dataset_config: DatasetConfig,
    train_config: TrainConfig,
    optimizer: torch.optim.Optimizer | None = None,
    epoch: int = 0,
    *,
    input_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
    class_names: tuple[str, ...] | None = None,
    history: list[dict[str, float]] | tuple[dict[str, float], ...] = (),
) -> Path:
    """Write a checkpoint atomically (a temporary file renamed into place).

    ``input_shape`` and ``num_classes`` default to what the model was built for (read
    from its first and last layers where possible); pass them when you have the Dataset.
    """
    p = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if input_shape is None or num_classes is None:
        shape, classes = _infer_shapes(model)
        input_shape = input_shape or shape
        num_classes = num_classes or classes
    ckpt = {
        "format": FORMAT,
        "version": VERSION,
        "model_state": state,
        "model_config": config_to_dict(model_config),
        "dataset_config": config_to_dict(dataset_config),
        "train_config": config_to_dict(train_config),
        "optimizer_state": None if optimizer is None else optimizer.state_dict(),
        "epoch": int(epoch),
        "input_shape": [int(s) for s in (input_shape or ())],
        "num_classes": int(num_classes or 0),
        "class_names": list(class_names or ()),
        "history": [dict(h) for h in history],
    }
    tmp = p.with_name(p.name + ".tmp")
    try:
        if p.parent and not p.parent.exists():
            raise CheckpointError("folder does not exist", p.parent)
        torch.save(ckpt, tmp)
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"cannot write checkpoint ({exc.strerror or exc})", p) from None
    return p


def _infer_shapes(model: nn.Module) -> tuple[tuple[int, ...], int]:
    dataset_shape = getattr(model, "input_shape", None)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    classes = linears[-1].out_features if linears else 0
    if dataset_shape is not None:
        return tuple(dataset_shape), classes
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs and linears and linears[0].in_features == 2:
        return (2,), classes
    raise CheckpointError("save_classifier: pass input_shape and num_classes (cannot infer them from the model)")


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> Classifier:
    """Read a checkpoint and rebuild its model (in eval mode) and configs."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError("no such checkpoint file", p)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and torch errors of a foreign or truncated file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"not a readable checkpoint ({first[:160]})", p) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError("not a LevelSet Studio classifier checkpoint", p)
    if int(ckpt.get("version", 0)) > VERSION:
        raise CheckpointError(f"checkpoint version {ckpt.get('version')} is newer than this app reads ({VERSION})", p)
    try:
        mc = config_from_dict(ModelConfig, ckpt["model_config"], strict=False)
        dc = config_from_dict(DatasetConfig, ckpt["dataset_config"], strict=False)
        tc = config_from_dict(TrainConfig, ckpt["train_config"], strict=False)
        shape = tuple(int(s) for s in ckpt["input_shape"])
        classes = int(ckpt["num_classes"])
        model = build_model(mc, shape, classes)
        model.load_state_dict(ckpt["model_state"])
    except LevelSetError as exc:
        raise CheckpointError(f"invalid checkpoint contents ({exc})", p) from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"invalid checkpoint contents ({first[:160]})", p) from None
    model.to(device).eval()
    return Classifier(
        model=model,
        model_config=mc,
        dataset_config=dc,
        train_config=tc,
        epoch=int(ckpt.get("epoch", 0)),
        input_shape=shape,
        num_classes=classes,
        class_names=tuple(ckpt.get("class_names") or ()),
        optimizer_state=ckpt.get("optimizer_state"),
        history=tuple(dict(h) for h in ckpt.get("history") or ()),
    )
