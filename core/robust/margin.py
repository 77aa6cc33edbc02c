"""Decision boundaries as level sets (docs/method.md §5).

For logits f(x) and label y, F_y(x) = max_{j != y} f_j(x) - f_y(x) is negative where x
is classified as y; its zero level set is the boundary of class y. Everything that
samples, crosses or measures a decision boundary goes through these two functions and
``core.levelset``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from levelset_studio.core.levelset import LevelFunction


def decision_margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """F_y = max_{j != y} f_j - f_y for each row of ``logits`` (N, C); shape (N,)."""
    true = logits.gather(1, y.view(-1, 1)).squeeze(1)
    other = logits.clone()
    other.scatter_(1, y.view(-1, 1), float("-inf"))
    return other.max(dim=1).values - true


def margin_function(model: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor) -> LevelFunction:
    """The level function x -> F_y(x) of ``model`` for fixed labels ``y`` (one per row).

    When called on a subset of rows (the projection evaluates only unconverged
    points) the labels must follow; ``core.levelset`` passes full batches to the
    function it is given, so callers that need subsets use ``margin_function_indexed``.
    """

    def fn(x: torch.Tensor) -> torch.Tensor:
        return decision_margin(model(x), y)

    return fn


def margin_function_indexed(
    model: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """F_y(x) for rows ``idx`` of the batch: ``fn(x_subset, idx)``."""

    def fn(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return decision_margin(model(x), y[idx])

    return fn
