"""`levelset robust eval` and `levelset robust attack`.

    levelset robust eval model.ckpt --attacks fgsm,pgd,deepfool --eps 0.1,0.2,0.3 --n 1000 [--json]
    levelset robust attack model.ckpt --attack pgd --index 7 --eps 0.3 -o adv.png

Both read the checkpoint's own dataset settings and evaluate on its test split; MNIST
files are looked for in --data-dir (or where the checkpoint's settings say).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from levelset_studio.core.errors import ConfigError, LevelSetError, ModelError

EPS_2D = (0.02, 0.05, 0.1)  # 2D sets span [0.05, 0.95]^2: radii of a few percent matter
EPS_IMAGES = (0.1, 0.2, 0.3)  # MNIST convention (Madry: 0.3)


def _csv(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError(f"{what}: give at least one value")
    return items


def _floats(text: str, what: str) -> list[float]:
    out = []
    for t in _csv(text, what):
        try:
            v = float(t)
        except ValueError:
            raise ConfigError(f"{what}: {t!r} is not a number") from None
        out.append(v)
    return out


def _check_linf(values: list[float], what: str) -> None:
    for v in values:
        if not math.isfinite(v) or v < 0 or v > 1:
            raise ConfigError(f"{what}: {v:g} is outside [0, 1] (inputs live in [0, 1])")


def register(rsub: argparse._SubParsersAction) -> None:
    """Add `eval` and `attack` to the `robust` group."""
    from levelset_studio.core.robust.attacks import ATTACKS

    names = ", ".join(ATTACKS)
    p = rsub.add_parser(
        "eval",
        help="clean and robust accuracy of a checkpoint under attacks",
        description="Evaluate a classifier: clean accuracy, robust accuracy per attack and eps, "
        "DeepFool's median ||r||_2 and rho_adv, gradient-masking warnings.",
    )
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint written by `levelset robust train`")
    p.add_argument(
        "--attacks",
        default="fgsm,pgd,pgd-margin,deepfool",
        metavar="A,B,...",
        help=f"attacks to run (default fgsm,pgd,pgd-margin,deepfool; choose from {names})",
    )
    p.add_argument(
        "--eps",
        default=None,
        metavar="E1,E2,...",
        help="L-inf radii in [0, 1] (default 0.1,0.2,0.3 for images, 0.02,0.05,0.1 for 2D sets)",
    )
    p.add_argument(
        "--eps-l2",
        default=None,
        metavar="E1,E2,...",
        help="L2 radii for L2 attacks and DeepFool's robust accuracy (default: the --eps values)",
    )
    p.add_argument("--n", type=int, default=1000, metavar="N", help="number of test inputs (default 1000)")
    p.add_argument("--steps", type=int, default=40, metavar="S", help="PGD steps (default 40, step 2.5 eps/S)")
    p.add_argument("--restarts", type=int, default=1, metavar="R", help="PGD restarts (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of random starts (default 0)")
    p.add_argument(
        "--no-steps-check",
        action="store_true",
        help="skip the extra PGD run with fewer steps (the 'accuracy rises with steps' check)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--data-dir", default=None, metavar="DIR", help="folder with the MNIST IDX files")
    p.set_defaults(func=run_eval)

    a = rsub.add_parser(
        "attack",
        help="attack one test input and save a picture",
        description="Attack one test input; save the input, the (amplified) perturbation and the "
        "adversarial input side by side with class probabilities (2D sets: on the "
        "decision-region map).",
    )
    a.add_argument("checkpoint", metavar="CKPT", help="checkpoint written by `levelset robust train`")
    a.add_argument("--attack", required=True, metavar="A", help=f"attack ({names})")
    a.add_argument("--index", type=int, required=True, metavar="I", help="index into the test set")
    a.add_argument(
        "--eps",
        type=float,
        default=None,
        metavar="E",
        help="radius (L-inf in [0, 1]; default 0.3 for images, 0.1 for 2D sets; "
        "L2 attacks default 2.0 / 0.1; DeepFool needs none)",
    )
    a.add_argument("--steps", type=int, default=40, metavar="S", help="PGD steps (default 40)")
    a.add_argument("--seed", type=int, default=0, help="seed of random starts (default 0)")
    a.add_argument("--data-dir", default=None, metavar="DIR", help="folder with the MNIST IDX files")
    a.add_argument("-o", "--output", required=True, metavar="PNG", help="picture to write")
    a.set_defaults(func=run_attack_picture)


def _load(checkpoint: str, data_dir: str | None) -> tuple[Any, Any]:
    """The checkpoint's classifier and its dataset (test split), shapes checked."""
    from levelset_studio.core.robust.checkpoint import load_classifier
    from levelset_studio.core.robust.data import load_dataset

    clf = load_classifier(checkpoint)
    dc = clf.dataset_config
    if data_dir is not None:
        dc = dataclasses.replace(dc, data_dir=str(data_dir))
    data = load_dataset(dc)
    if tuple(data.input_shape) != tuple(clf.input_shape):
        raise ModelError(
            f"the model takes inputs {tuple(clf.input_shape)} but dataset {data.name} has {tuple(data.input_shape)}"
        )
    if clf.num_classes and data.num_classes != clf.num_classes:
        raise ModelError(f"the model has {clf.num_classes} classes but dataset {data.name} has {data.num_classes}")
    return clf, data


def run_eval(args: argparse.Namespace) -> int:
    from levelset_studio.core.cli.progress import run_with_progress
    from levelset_studio.core.robust.attacks import attack_spec
    from levelset_studio.core.robust.evaluation import iter_evaluate_robustness

    attacks = _csv(args.attacks, "--attacks")
    for name in attacks:
        attack_spec(name)
    eps = _floats(args.eps, "--eps") if args.eps is not None else None
    if eps is not None:
        _check_linf(eps, "--eps")
    eps_l2 = _floats(args.eps_l2, "--eps-l2") if args.eps_l2 is not None else None
    if args.n < 1:
        raise ConfigError(f"--n must be >= 1, got {args.n}")
    if args.steps < 1 or args.restarts < 1:
        raise ConfigError("--steps and --restarts must be >= 1")
    clf, data = _load(args.checkpoint, args.data_dir)
    if eps is None:
        eps = list(EPS_2D if data.is_2d else EPS_IMAGES)
    events = iter_evaluate_robustness(
        clf.model,
        data.x_test,
        data.y_test,
        attacks,
        eps,
        args.n,
        eps_l2_list=eps_l2,
        steps=args.steps,
        restarts=args.restarts,
        seed=args.seed,
        check_steps=not args.no_steps_check,
    )
    report = run_with_progress(events, desc="robust eval", format_metrics=lambda ev: {"": ev.message})
    if args.json:
        d = report.to_dict()
        d["checkpoint"] = str(args.checkpoint)
        d["dataset"] = data.name
        print(json.dumps(d, indent=2))
    else:
        print(f"{args.checkpoint}: {data.summary()}")
        print(report.format())
    return 0


def _default_eps(norm: str, is_2d: bool) -> float:
    if norm == "linf":
        return 0.1 if is_2d else 0.3
    return 0.1 if is_2d else 2.0


def run_attack_picture(args: argparse.Namespace) -> int:
    import torch

    from levelset_studio.core.robust.attacks import attack_spec, check_attack_eps, deepfool, run_attack

    spec = attack_spec(args.attack)
    if args.eps is not None and spec.norm == "linf":
        _check_linf([args.eps], "--eps")
    out = Path(args.output)
    if not out.parent.exists():
        raise LevelSetError("folder does not exist", out.parent)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"-o: write a .png file, got {out.name!r}")
    clf, data = _load(args.checkpoint, args.data_dir)
    n = int(data.x_test.shape[0])
    if not 0 <= args.index < n:
        raise ConfigError(
            f"--index {args.index} is out of range: the test set of {data.name} has {n} inputs (0..{n - 1})"
        )
    model = clf.model
    x = data.x_test[args.index : args.index + 1]
    y = data.y_test[args.index : args.index + 1]
    eps = float(args.eps) if args.eps is not None else _default_eps(spec.norm, data.is_2d)
    if args.attack == "deepfool":
        res = deepfool(model, x)
        x_adv = res.x_adv
        eps_text = "minimal L2"
    else:
        check_attack_eps(args.attack, eps, x)
        x_adv, _ = run_attack(args.attack, model, x, y, eps, steps=args.steps, seed=args.seed)
        eps_text = f"eps {eps:g} ({'L-inf' if spec.norm == 'linf' else 'L2'})"
    with torch.no_grad():
        p_clean = model(x).softmax(1)[0]
        p_adv = model(x_adv).softmax(1)[0]
    names = list(clf.class_names or data.class_names or [str(i) for i in range(p_clean.numel())])
    r = (x_adv - x)[0]
    title = f"{spec.label}, {eps_text}: ||r||_inf = {float(r.abs().max()):.3g}, ||r||_2 = {float(r.norm()):.3g}"
    if data.is_2d:
        _picture_2d(out, model, x[0], x_adv[0], int(y[0]), p_clean, p_adv, names, title)
    else:
        _picture_image(out, x[0], x_adv[0], int(y[0]), p_clean, p_adv, names, title)
    c0, c1 = int(p_clean.argmax()), int(p_adv.argmax())
    print(
        f"wrote {out}: label {names[int(y[0])]}; clean -> {names[c0]} (p={float(p_clean[c0]):.3f}), "
        f"adversarial -> {names[c1]} (p={float(p_adv[c1]):.3f}); {title}"
    )
    return 0


def _bars(ax: Any, probs: Any, names: list[str], label: int, title: str) -> None:
    import numpy as np

    p = np.asarray(probs, dtype=float)
    colors = ["tab:green" if i == label else ("tab:red" if i == int(p.argmax()) else "tab:gray") for i in range(len(p))]
    ax.bar(range(len(p)), p, color=colors)
    ax.set_xticks(range(len(p)), [str(n) for n in names], fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)


def _picture_image(
    out: Path, x: Any, x_adv: Any, label: int, p_clean: Any, p_adv: Any, names: list[str], title: str
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    img = x.detach().numpy()
    adv = x_adv.detach().numpy()
    r = adv - img

    def show(a: Any) -> Any:
        return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)

    fig = Figure(figsize=(9, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    axs = fig.subplots(2, 3, gridspec_kw={"height_ratios": [3, 1.3]})
    amp = float(abs(r).max()) or 1.0
    axs[0, 0].imshow(show(img), cmap="gray", vmin=0, vmax=1)
    axs[0, 0].set_title(f"input (label {names[label]})", fontsize=9)
    axs[0, 1].imshow(show(r / amp), cmap="RdBu_r", vmin=-1, vmax=1)
    axs[0, 1].set_title(f"perturbation x {1 / amp:.3g}", fontsize=9)
    axs[0, 2].imshow(show(adv), cmap="gray", vmin=0, vmax=1)
    axs[0, 2].set_title("adversarial", fontsize=9)
    for ax in axs[0]:
        ax.set_xticks([])
        ax.set_yticks([])
    _bars(axs[1, 0], p_clean, names, label, "class probabilities (input)")
    axs[1, 1].axis("off")
    _bars(axs[1, 2], p_adv, names, label, "class probabilities (adversarial)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out)


def _picture_2d(
    out: Path, model: Any, x: Any, x_adv: Any, label: int, p_clean: Any, p_adv: Any, names: list[str], title: str
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from levelset_studio.core.robust.analysis import decision_region_grid

    grid = decision_region_grid(model, resolution=200)
    fig = Figure(figsize=(9, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax, bx, cx = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 1.2, 1.2]})
    ax.imshow(
        grid.predicted, origin="lower", extent=(0, 1, 0, 1), cmap="Pastel1", vmin=0, vmax=8, interpolation="nearest"
    )
    ax.contour(
        grid.xs,
        grid.ys,
        grid.predicted,
        levels=sorted(set(grid.predicted.ravel().tolist())),
        colors="k",
        linewidths=0.6,
    )
    px, py = float(x[0]), float(x[1])
    qx, qy = float(x_adv[0]), float(x_adv[1])
    ax.annotate("", xy=(qx, qy), xytext=(px, py), arrowprops={"arrowstyle": "->", "color": "k"})
    ax.plot([px], [py], "o", color="tab:green", label=f"input (label {names[label]})")
    ax.plot([qx], [qy], "X", color="tab:red", label="adversarial")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("decision regions", fontsize=9)
    _bars(bx, p_clean, names, label, "input")
    _bars(cx, p_adv, names, label, "adversarial")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out)
