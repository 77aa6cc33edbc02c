"""`levelset robust noise`, `levelset robust transform` and `levelset robust saliency`.

    levelset robust noise model.ckpt [--n 200] [--directions 20] [--sigmas 0.1,0.3] [--json]
    levelset robust transform model.ckpt --max-rotation 15 --max-shift 2 [--json]
    levelset robust saliency model.ckpt [other.ckpt] --index 7 -o saliency.png

Each reads the checkpoint's own dataset settings and works on its test split.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from levelset_studio.core.errors import ConfigError, LevelSetError


def _floats(text: str, what: str) -> list[float]:
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            v = float(part)
        except ValueError:
            raise ConfigError(f"{what}: {part!r} is not a number") from None
        if not math.isfinite(v) or v < 0:
            raise ConfigError(f"{what}: {part!r} must be a finite number >= 0")
        out.append(v)
    return out


def register(rsub: argparse._SubParsersAction) -> None:
    """Add `noise`, `transform` and `saliency` to the `robust` group."""
    n = rsub.add_parser(
        "noise",
        help="distance to the boundary along random directions against DeepFool's",
        description="Random-noise robustness: the L2 distance to the decision boundary along random "
        "directions (median over directions, then inputs), DeepFool's median minimal perturbation, "
        "their ratio next to sqrt(d), and accuracy under Gaussian noise.",
    )
    n.add_argument("checkpoint", metavar="CKPT", help="checkpoint written by `levelset robust train`")
    n.add_argument("--n", type=int, default=200, metavar="N", help="test inputs (default 200)")
    n.add_argument("--directions", type=int, default=20, metavar="K", help="random directions per input (default 20)")
    n.add_argument(
        "--sigmas", default="0.1,0.3", metavar="S1,S2", help="Gaussian noise levels for accuracy (default 0.1,0.3)"
    )
    n.add_argument("--seed", type=int, default=0, help="seed of the directions and the noise (default 0)")
    n.add_argument("--json", action="store_true", help="print the report as JSON")
    n.add_argument("--data-dir", default=None, metavar="DIR", help="folder with the MNIST IDX files")
    n.set_defaults(func=run_noise)

    t = rsub.add_parser(
        "transform",
        help="accuracy under the worst small rotation and shift (images)",
        description="Grid search of the worst rotation within ±R degrees and shift within ±T pixels "
        "per test image; accuracy under it against accuracy under a random one from the same grid.",
    )
    t.add_argument("checkpoint", metavar="CKPT", help="checkpoint of an image classifier")
    t.add_argument("--max-rotation", type=float, default=15.0, metavar="R", help="degrees (default 15)")
    t.add_argument("--max-shift", type=int, default=2, metavar="T", help="whole pixels (default 2)")
    t.add_argument("--rotations", type=int, default=11, metavar="K", help="angles on the grid (default 11)")
    t.add_argument("--n", type=int, default=500, metavar="N", help="test images (default 500)")
    t.add_argument("--seed", type=int, default=0, help="seed of the random baseline (default 0)")
    t.add_argument("--json", action="store_true", help="print the report as JSON")
    t.add_argument("--data-dir", default=None, metavar="DIR", help="folder with the MNIST IDX files")
    t.set_defaults(func=run_transform)

    s = rsub.add_parser(
        "saliency",
        help="input-gradient and SmoothGrad maps of one or two models",
        description="Saliency maps (the input gradient of the predicted class's logit, and SmoothGrad) "
        "of one model, or of two side by side on the same test input.",
    )
    s.add_argument("checkpoint", metavar="CKPT", help="checkpoint of a classifier")
    s.add_argument("other", metavar="CKPT2", nargs="?", default=None, help="a second checkpoint on the same data")
    s.add_argument("--index", type=int, required=True, metavar="I", help="index into the test set")
    s.add_argument("--samples", type=int, default=25, metavar="S", help="SmoothGrad samples (default 25)")
    s.add_argument("--seed", type=int, default=0, help="seed of SmoothGrad's noise (default 0)")
    s.add_argument("--data-dir", default=None, metavar="DIR", help="folder with the MNIST IDX files")
    s.add_argument("-o", "--output", required=True, metavar="PNG", help="picture to write")
    s.set_defaults(func=run_saliency)


def _load(checkpoint: str, data_dir: str | None):
    from levelset_studio.core.cli.robust_eval_commands import _load as load

    return load(checkpoint, data_dir)


def _check_n(n: int) -> None:
    if n < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")


def run_noise(args: argparse.Namespace) -> int:
    from levelset_studio.core.robust.noise import noise_robustness

    _check_n(args.n)
    if args.directions < 1:
        raise ConfigError(f"--directions must be >= 1, got {args.directions}")
    sigmas = _floats(args.sigmas, "--sigmas")
    clf, data = _load(args.checkpoint, args.data_dir)
    x, y = data.x_test[: args.n], data.y_test[: args.n]
    report = noise_robustness(clf.model, x, y, directions=args.directions, sigmas=sigmas, seed=args.seed)
    if args.json:
        d = report.to_dict()
        d.update(checkpoint=str(args.checkpoint), dataset=data.name)
        print(json.dumps(d, indent=2))
    else:
        print(f"{args.checkpoint}: {data.summary()}")
        print(report.format())
    return 0


def run_transform(args: argparse.Namespace) -> int:
    from levelset_studio.core.robust.transforms import worst_transformation

    _check_n(args.n)
    clf, data = _load(args.checkpoint, args.data_dir)
    if data.is_2d:
        raise ConfigError(f"robust transform needs an image dataset; {data.name} holds 2D points")
    x, y = data.x_test[: args.n], data.y_test[: args.n]
    report = worst_transformation(
        clf.model, x, y, args.max_rotation, args.max_shift, rotations=args.rotations, seed=args.seed
    )
    if args.json:
        d = report.to_dict()
        d.update(checkpoint=str(args.checkpoint), dataset=data.name)
        print(json.dumps(d, indent=2))
    else:
        print(f"{args.checkpoint}: {data.summary()}")
        print(report.format())
    return 0


def run_saliency(args: argparse.Namespace) -> int:
    from levelset_studio.core.robust.saliency import saliency_figure, saliency_maps

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"-o: write a .png file, got {out.name!r}")
    if not out.parent.exists():
        raise LevelSetError("folder does not exist", out.parent)
    if args.samples < 1:
        raise ConfigError(f"--samples must be >= 1, got {args.samples}")
    clf, data = _load(args.checkpoint, args.data_dir)
    models = [(Path(args.checkpoint).name, clf.model)]
    if args.other is not None:
        other, odata = _load(args.other, args.data_dir)
        if odata.name != data.name or tuple(odata.input_shape) != tuple(data.input_shape):
            raise ConfigError(f"the two checkpoints use different data ({data.name} and {odata.name})")
        models.append((Path(args.other).name, other.model))
    n = int(data.x_test.shape[0])
    if not 0 <= args.index < n:
        raise ConfigError(f"--index {args.index} is out of range: the test set of {data.name} has {n} inputs")
    x = data.x_test[args.index : args.index + 1]
    label = int(data.y_test[args.index])
    maps = [saliency_maps(m, x, name, samples=args.samples, seed=args.seed) for name, m in models]
    names = list(clf.class_names or data.class_names)
    saliency_figure(out, x[0].numpy(), label, maps, names, title=f"{data.name} test #{args.index}")
    preds = ", ".join(f"{m.name} -> {names[int(m.predicted[0])]}" for m in maps)
    print(f"wrote {out}: label {names[label]}; {preds}")
    return 0
