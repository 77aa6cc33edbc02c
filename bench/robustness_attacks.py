"""Speed of our attacks against torchattacks on the same model and inputs.

    python bench/robustness_attacks.py [--dataset mnist|digits] [--data-dir DIR] [--checkpoint CKPT]
                                       [--n-pgd 1000] [--n-deepfool 100] [--threads 1]

Rows: PGD (L-inf, cross-entropy, no random start, same eps / alpha / steps in both, so
the results must agree) and DeepFool (L2, 50 steps, overshoot 0.02; ours is batched
on the shared Newton projection, torchattacks' loops over examples and classes). The
table gives seconds, the ratio torchattacks / ours (> 1: ours is faster) and a sanity
number per row (robust accuracy for PGD, median ||r||_2 over the originally correct
inputs for DeepFool). Without --checkpoint an MLP 784-300-300-10 (or 64-300-300-10
on digits) is trained for one epoch with cross-entropy first.

``attack_speed_rows(model, x, y, ...)`` is the function bench/robustness.py calls.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from levelset_studio.core.robust.attacks import deepfool, pgd, predict


def _timed(fn: Any, repeats: int = 1) -> tuple[Any, float]:
    """Result and the best wall time of ``repeats`` runs (best-of: robust on a shared machine)."""
    best = float("inf")
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def attack_speed_rows(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float = 0.3,
    steps: int = 40,
    n_pgd: int = 1000,
    n_deepfool: int = 100,
    repeats: int = 3,
) -> list[dict[str, Any]]:
    """Time PGD (best of ``repeats``) and DeepFool, ours and torchattacks', on the first inputs of ``x``."""
    import torchattacks

    model.eval()
    rows: list[dict[str, Any]] = []
    xp, yp = x[:n_pgd], y[:n_pgd]
    alpha = 2.5 * eps / steps
    ours, t_ours = _timed(lambda: pgd(model, xp, yp, eps, alpha=alpha, steps=steps, random_start=False), repeats)
    theirs, t_theirs = _timed(
        lambda: torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)(xp, yp), repeats
    )
    acc_o = float((predict(model, ours) == yp).float().mean())
    acc_t = float((predict(model, theirs) == yp).float().mean())
    rows.append(
        {
            "attack": f"PGD-{steps} L-inf eps {eps:g}",
            "n": len(yp),
            "ours_s": t_ours,
            "torchattacks_s": t_theirs,
            "ratio": t_theirs / t_ours,
            "check": f"robust acc {100 * acc_o:.2f}% vs {100 * acc_t:.2f}%",
        }
    )
    xd, yd = x[:n_deepfool], y[:n_deepfool]
    correct = predict(model, xd) == yd
    res, t_ours = _timed(lambda: deepfool(model, xd, max_iter=50, overshoot=0.02))
    adv, t_theirs = _timed(lambda: torchattacks.DeepFool(model, steps=50, overshoot=0.02)(xd, yd))
    med_o = float(res.norms[correct].median())
    med_t = float((adv - xd).flatten(1).norm(dim=1)[correct].median())
    rows.append(
        {
            "attack": "DeepFool L2 (50 steps, overshoot 0.02)",
            "n": len(yd),
            "ours_s": t_ours,
            "torchattacks_s": t_theirs,
            "ratio": t_theirs / t_ours,
            "check": f"median ||r||_2 {med_o:.4f} vs {med_t:.4f}, ours fooled {100 * float(res.fooled[correct].float().mean()):.1f}%",
        }
    )
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    head = f"| {'attack':<40} | {'n':>5} | {'ours (s)':>9} | {'torchattacks (s)':>16} | {'speed-up':>8} | check (ours vs torchattacks) |"
    sep = "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"
    lines = [head, sep]
    for r in rows:
        lines.append(
            f"| {r['attack']:<40} | {r['n']:>5} | {r['ours_s']:>9.3f} | {r['torchattacks_s']:>16.3f} | "
            f"{r['ratio']:>7.1f}x | {r['check']} |"
        )
    return "\n".join(lines)


def _train_mlp(x: torch.Tensor, y: torch.Tensor, epochs: int = 1) -> nn.Module:
    torch.manual_seed(0)
    d = x[0].numel()
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(d, 300), nn.ReLU(), nn.Linear(300, 300), nn.ReLU(), nn.Linear(300, 10)
    )
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 128):
            idx = perm[i : i + 128]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="mnist", choices=("mnist", "digits"))
    ap.add_argument(
        "--data-dir",
        default=os.environ.get("LEVELSET_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")),
    )
    ap.add_argument("--checkpoint", default=None, help="a `levelset robust train` checkpoint to attack instead")
    ap.add_argument("--n-pgd", type=int, default=1000)
    ap.add_argument("--n-deepfool", type=int, default=100)
    ap.add_argument("--eps", type=float, default=None, help="PGD radius (default 0.3 MNIST, 0.1 digits)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="PGD timings: best of this many runs")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from levelset_studio.core.robust.data import DatasetConfig, load_dataset

    if args.checkpoint:
        from levelset_studio.core.robust.checkpoint import load_classifier

        clf = load_classifier(args.checkpoint)
        data = load_dataset(clf.dataset_config)
        model, what = clf.model, f"checkpoint {args.checkpoint}"
    else:
        data_dir = str(Path(args.data_dir) / "mnist") if args.dataset == "mnist" else ""
        data = load_dataset(DatasetConfig(name=args.dataset, data_dir=data_dir))
        model, t = _timed(lambda: _train_mlp(data.x_train, data.y_train))
        what = f"MLP {data.x_train[0].numel()}-300-300-10, 1 epoch cross-entropy ({t:.1f} s)"
    eps = args.eps if args.eps is not None else (0.3 if data.input_shape == (1, 28, 28) else 0.1)
    clean = float((predict(model, data.x_test[: args.n_pgd]) == data.y_test[: args.n_pgd]).float().mean())
    print(
        f"# attack speed, ours vs torchattacks: {data.name}, {what}, clean accuracy {100 * clean:.2f}% "
        f"(first {args.n_pgd} test images), torch threads {args.threads}, CPU"
    )
    rows = attack_speed_rows(
        model,
        data.x_test,
        data.y_test,
        eps=eps,
        steps=args.steps,
        n_pgd=args.n_pgd,
        n_deepfool=args.n_deepfool,
        repeats=args.repeats,
    )
    print(format_rows(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
