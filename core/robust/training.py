"""The one trainer of the robustness engine; methods are loss plug-ins (``core.robust.methods``).

``RobustTrainer(model, dataset, config).run()`` is a generator of ``Progress`` events
(one per batch, and one per epoch carrying the test metrics) and a final
``Finished(TrainResult)``. Cancel is checked every batch (``Cancelled`` is raised);
calling ``run()`` again continues exactly where the last call stopped - mid-epoch
after a cancel, or for another ``config.epochs`` epochs after a finished run.

Repeatable on CPU: the shuffling of each epoch and every random start of a batch are
seeded from (seed, epoch, batch), without touching the caller's global RNG.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from levelset_studio.core.device import select_device
from levelset_studio.core.events import CancelToken, Finished, Milestone, Progress
from levelset_studio.core.robust.config import ADVERSARIAL_METHODS, TrainConfig
from levelset_studio.core.robust.data import Dataset
from levelset_studio.core.robust.methods import METHODS, Batch, check_method


@dataclass(frozen=True)
class TrainResult:
    """What a finished run leaves: the trained model and the per-epoch history."""

    model: nn.Module
    epoch: int  # epochs completed in total
    history: tuple[dict[str, float], ...]
    train_time: float  # seconds spent in training steps, all runs together


@torch.no_grad()
def predict_logits(model: Any, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits for ``x`` in batches, on the model's device, returned on the CPU."""
    device = _device_of(model)
    out = [model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.zeros(0, 0)


def evaluate_accuracy(model: Any, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    """Fraction of ``x`` classified as ``y`` (clean accuracy)."""
    if len(y) == 0:
        return float("nan")
    was = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        return float((predict_logits(model, x, batch_size).argmax(1) == y).float().mean())
    finally:
        if was:
            model.train()


def evaluate_loss_and_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024
) -> tuple[float, float]:
    was = model.training
    model.eval()
    try:
        logits = predict_logits(model, x, batch_size)
    finally:
        model.train(was)
    return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def _device_of(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError, TypeError):
        return torch.device("cpu")


def _seed_of(*parts: int) -> int:
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (p & 0xFFFFFFFF)) * 1099511628211) % (2**61 - 1)
    return h


@dataclass
class _Position:
    epoch: int = 0  # completed epochs
    batch: int = 0  # completed batches of the current epoch
    sums: dict[str, float] = field(default_factory=dict)  # running sums of the current epoch


class RobustTrainer:
    """Train ``model`` on ``dataset`` with ``config.method`` (Adam, mini-batches)."""

    def __init__(
        self,
        model: nn.Module,
        dataset: Dataset,
        config: TrainConfig,
        *,
        optimizer_state: dict | None = None,
        epoch: int = 0,
        history: list[dict[str, float]] | None = None,
    ) -> None:
        check_method(model, config)
        self.config = config
        self.dataset = dataset
        self.device = select_device(config.device)
        self.model = model.to(self.device)
        self.loss_fn = METHODS[config.method]
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
        self.history: list[dict[str, float]] = list(history or [])
        self.train_time = 0.0
        self._pos = _Position(epoch=epoch)
        self._target: int | None = None

    @property
    def epoch(self) -> int:
        """Epochs completed so far (all runs)."""
        return self._pos.epoch

    def batches_per_epoch(self) -> int:
        n = len(self.dataset.y_train)
        return max(1, (n + self.config.batch_size - 1) // self.config.batch_size)

    def _order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(_seed_of(self.config.seed, epoch, 1))
        return torch.randperm(len(self.dataset.y_train), generator=g)

    def run(self, cancel: CancelToken | None = None) -> Iterator[Progress | Finished]:
        """Train up to the target epoch, yielding per-batch and per-epoch Progress, then Finished."""
        c = self.config
        if self._target is None or self._pos.epoch >= self._target:
            self._target = self._pos.epoch + c.epochs
        per_epoch = self.batches_per_epoch()
        total = (self._target - self._pos.epoch) * per_epoch - self._pos.batch
        start = time.perf_counter()
        done = 0
        xs, ys = self.dataset.x_train, self.dataset.y_train
        planned = max(1, self._target * per_epoch)
        while self._pos.epoch < self._target:
            e = self._pos.epoch
            order = self._order(e)
            while self._pos.batch < per_epoch:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                b = self._pos.batch
                idx = order[b * c.batch_size : (b + 1) * c.batch_size]
                x, y = xs[idx].to(self.device), ys[idx].to(self.device)
                t0 = time.perf_counter()
                self.model.train()
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(_seed_of(c.seed, e, b, 2))
                    done_epochs = e + b / per_epoch
                    eps = c.eps if c.eps_warmup <= 0 else c.eps * min(1.0, done_epochs / c.eps_warmup)
                    out = self.loss_fn(Batch(self.model, x, y, c, (e * per_epoch + b) / planned, eps))
                    self.optimizer.zero_grad(set_to_none=True)
                    out.loss.backward()
                    self.optimizer.step()
                self.train_time += time.perf_counter() - t0
                loss = float(out.loss.detach())
                acc = float((out.clean_logits.argmax(1) == y).float().mean())
                s = self._pos.sums
                s["loss"] = s.get("loss", 0.0) + loss * len(y)
                s["correct"] = s.get("correct", 0.0) + acc * len(y)
                s["n"] = s.get("n", 0.0) + len(y)
                self._pos.batch += 1
                done += 1
                elapsed = time.perf_counter() - start
                metrics = {"epoch": e + self._pos.batch / per_epoch, "batch_loss": loss, "batch_acc": acc}
                if c.method in ADVERSARIAL_METHODS:
                    metrics["eps"] = eps
                metrics.update(out.metrics)
                yield Progress(
                    step=done,
                    total=total,
                    elapsed=elapsed,
                    metrics=metrics,
                    remaining=elapsed / done * (total - done),
                    message="batch",
                )
            s = self._pos.sums
            test_loss, test_acc = evaluate_loss_and_accuracy(
                self.model, self.dataset.x_test.to(self.device), self.dataset.y_test.to(self.device)
            )
            record = {
                "epoch": float(e + 1),
                "train_loss": s["loss"] / s["n"],
                "train_acc": s["correct"] / s["n"],
                "test_loss": test_loss,
                "test_acc": test_acc,
                "train_time": self.train_time,
            }
            self.history.append(record)
            self._pos = _Position(epoch=e + 1)
            elapsed = time.perf_counter() - start
            yield Milestone(
                step=done,
                total=total,
                elapsed=elapsed,
                metrics=dict(record),
                remaining=elapsed / max(done, 1) * (total - done),
                message=f"epoch {e + 1}/{self._target}",
            )
        self.model.eval()
        yield Finished(
            TrainResult(self.model, self._pos.epoch, tuple(self.history), self.train_time), time.perf_counter() - start
        )


def train_classifier(
    model: nn.Module, dataset: Dataset, config: TrainConfig, cancel: CancelToken | None = None
) -> TrainResult:
    """Run a trainer to the end and return its result (for scripts and tests)."""
    result = None
    for ev in RobustTrainer(model, dataset, config).run(cancel):
        if isinstance(ev, Finished):
            result = ev.result
    assert result is not None
    return result
