"""`levelset robust train` and `levelset robust export`.

    levelset robust train --dataset moons --model mlp --method levelset --epochs 20 -o moons.ckpt
    levelset robust export moons.ckpt -o moons.pt2

Every setting of the dataset, model and trainer is a flag built from its config's one
description (core.params); --dataset, --model and --method name the three choices and
--seed seeds both the data and the training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from levelset_studio.core.errors import CheckpointError, ConfigError
from levelset_studio.core.params import add_arguments, config_from_args
from levelset_studio.core.robust.config import METHOD_NAMES
from levelset_studio.core.robust.data import DATASETS, DatasetConfig
from levelset_studio.core.robust.models import ARCHITECTURES, ModelConfig


def _choice_text(names: tuple[str, ...]) -> str:
    return ", ".join(names)


def register(rsub: argparse._SubParsersAction) -> None:
    """Add `train` and `export` to the `robust` group."""
    from levelset_studio.core.robust.config import TrainConfig

    p = rsub.add_parser(
        "train",
        help="train a classifier (standard or robust) and save a checkpoint",
        description="Train a classifier on a dataset with one of the training methods.",
    )
    p.add_argument("--dataset", dest="name", required=True, metavar="NAME", help=f"dataset: {_choice_text(DATASETS)}")
    p.add_argument(
        "--model", dest="arch", default=None, metavar="ARCH", help=f"model: {_choice_text(ARCHITECTURES)} (default mlp)"
    )
    p.add_argument("-o", "--output", required=True, metavar="CKPT", help="checkpoint file to write")
    from levelset_studio.core.robust.presets import PRESETS

    p.add_argument(
        "--preset",
        default=None,
        metavar="NAME",
        help="a method's published settings as a starting point (flags given override them; "
        f"fine-tuning presets first train a standard model): {_choice_text(tuple(PRESETS))}",
    )
    data = p.add_argument_group("data")
    add_arguments(data, DatasetConfig, exclude=("name", "seed"))
    model = p.add_argument_group("model")
    add_arguments(model, ModelConfig, exclude=("arch",))
    train = p.add_argument_group("training")
    add_arguments(train, TrainConfig)
    p.set_defaults(func=run_train)

    e = rsub.add_parser(
        "export",
        help="write a checkpoint's model as a torch.export program (.pt2)",
        description="Export a trained classifier: [0, 1] inputs (N, ...) -> logits, batch dynamic.",
    )
    e.add_argument("checkpoint", metavar="CKPT", help="checkpoint written by `levelset robust train`")
    e.add_argument("-o", "--output", required=True, metavar="MODEL.pt2", help="program file to write (.pt2)")
    e.set_defaults(func=run_export)


def run_train(args: argparse.Namespace) -> int:
    from levelset_studio.core.cli.progress import run_with_progress
    from levelset_studio.core.robust.checkpoint import save_classifier
    from levelset_studio.core.robust.data import load_dataset
    from levelset_studio.core.robust.methods import check_method
    from levelset_studio.core.robust.models import build_model
    from levelset_studio.core.robust.training import RobustTrainer, TrainConfig

    if args.name not in DATASETS:
        raise ConfigError(f"dataset: {args.name!r} is not one of {_choice_text(DATASETS)}")
    if args.arch is not None and args.arch not in ARCHITECTURES:
        raise ConfigError(f"model: {args.arch!r} is not one of {_choice_text(ARCHITECTURES)}")
    if getattr(args, "method", None) is not None and args.method not in METHOD_NAMES:
        raise ConfigError(f"method: {args.method!r} is not one of {_choice_text(METHOD_NAMES)}")
    out = Path(args.output)
    if not out.parent.exists():
        raise CheckpointError("folder does not exist", out.parent)
    recipe = None
    if args.preset is not None:
        from levelset_studio.core.robust.presets import preset

        recipe = preset(args.preset)
        for key, value in (*recipe.model.items(), *recipe.train.items()):
            if getattr(args, key, None) is None:  # flags the user gave win
                setattr(args, key, value)
    train_config = config_from_args(TrainConfig, args)
    data_config = config_from_args(DatasetConfig, args, seed=train_config.seed)
    model_config = config_from_args(ModelConfig, args)
    dataset = load_dataset(data_config)
    model = build_model(model_config, dataset.input_shape, dataset.num_classes, seed=train_config.seed)
    check_method(model, train_config)  # refuse a method/model pair before any output or work
    print(dataset.summary(), file=sys.stderr)
    if recipe is not None and recipe.finetune_epochs > 0:  # fine-tuning: a standard model first
        pre = recipe.pretrain_config(seed=train_config.seed, device=train_config.device)
        print(f"preset {recipe.name}: {pre.epochs} standard epochs, then {train_config.method}", file=sys.stderr)
        model = run_with_progress(RobustTrainer(model, dataset, pre).run(), desc="train standard (pre-training)").model
    trainer = RobustTrainer(model, dataset, train_config)

    def fmt(ev) -> dict[str, str]:
        m = ev.metrics
        keys = ("test_acc", "train_acc", "train_loss") if "test_acc" in m else ("epoch", "batch_loss", "batch_acc")
        return {k: f"{m[k]:.3g}" for k in keys if k in m}

    def show_epoch(ev) -> None:
        m = getattr(ev, "metrics", {})
        if "test_acc" in m:
            print(
                f"epoch {int(m['epoch'])}: train loss {m['train_loss']:.4f}, train acc {m['train_acc']:.4f}, "
                f"test acc {m['test_acc']:.4f}",
                file=sys.stderr,
            )

    result = run_with_progress(
        trainer.run(), desc=f"train {train_config.method}", format_metrics=fmt, on_event=show_epoch
    )
    save_classifier(
        out,
        result.model,
        model_config,
        data_config,
        train_config,
        trainer.optimizer,
        result.epoch,
        input_shape=dataset.input_shape,
        num_classes=dataset.num_classes,
        class_names=dataset.class_names,
        history=result.history,
    )
    last = result.history[-1]
    print(
        f"wrote {out} (test accuracy {last['test_acc']:.4f} after {result.epoch} epochs, "
        f"{result.train_time:.1f} s of training)"
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from levelset_studio.core.robust.checkpoint import load_classifier
    from levelset_studio.core.robust.export import export_classifier

    clf = load_classifier(args.checkpoint)
    path = export_classifier(clf.model, clf.input_shape, args.output)
    shape = ", ".join(str(s) for s in clf.input_shape)
    print(f"wrote {path}: inputs (N, {shape}) in [0, 1] -> logits (N, {clf.num_classes})")
    return 0
