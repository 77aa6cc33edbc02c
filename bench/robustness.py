"""MNIST robustness benchmark (not a test): training methods x attacks, attack speed, max-margin.

    python bench/robustness.py [--data-dir DIR] [--workers 2] [--scale 1.0] [--json OUT]
    python bench/robustness.py --paper [--quick]   (the CNLS MNIST table: bench/robustness_paper.py)

Three tables, all measured in this run on this machine:

1. method x (clean accuracy on the 10k test set; PGD-40 robust accuracy, cross-entropy
   and margin loss, L-inf eps 0.3; AutoAttack (APGD-CE, APGD-T, FAB-T, Square with the
   reference settings, torchattacks) on the first --aa-n test images; DeepFool rho_adv
   = mean ||r||_2 / ||x||_2 over the correctly classified; median L2 radius of the
   linear region (ReLU MLPs); training CPU time). Each method trains for a stated CPU
   budget (process CPU seconds, one thread), i.e. a fixed cost, not to convergence.
2. attack speed: our PGD-40 and batched DeepFool against torchattacks' on the same
   model and inputs (seconds and results).
3. max-margin: cross-entropy against the level-set margin loss on few-shot subsets.

Budgets follow the costs measured here (one thread): an MLP 784-300-300-10 epoch costs
~3 CPU-s standard, ~26 CPU-s with PGD-10 training; a SmallCNN epoch ~100 CPU-s
standard, ~200 with fast (FGSM with random start) training, so the CNN runs standard
and fast training only. Adversarial training at eps 0.3 ramps eps up over the first
epoch (without it PGD training of the MLP collapsed to a constant class here).
One thread per process; --workers processes in parallel.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPS = 0.3
WIDE = dict(width=300, depth=2)

# (arch, method, CPU budget in seconds, training settings)
TASKS = [
    ("mlp", "standard", 15, {}),
    ("mlp", "fgsm", 40, {"eps": EPS, "eps_warmup": 1.0}),
    ("mlp", "pgd", 75, {"eps": EPS, "pgd_steps": 10, "eps_warmup": 1.0}),
    ("mlp", "trades", 75, {"eps": EPS, "pgd_steps": 10, "trades_beta": 6.0, "eps_warmup": 1.0}),
    ("mlp", "levelset", 75, {"levelset_eps_c": 0.4, "levelset_eps_w": 0.5, "levelset_steps": 10}),
    ("mlp", "cure", 40, {"cure_lambda": 4.0, "cure_h": 3.0}),
    ("mlp", "roll", 40, {"roll_lambda": 2.0, "roll_c": 0.25, "roll_projections": 8}),
    ("smallcnn", "standard", 100, {}),
    ("smallcnn", "fgsm", 110, {"eps": EPS, "eps_warmup": 0.3}),
]


def _threads() -> None:
    import torch

    torch.set_num_threads(1)


def linear_region_radius(model, x):
    """Median-ready L2 radius of the linear region at each x: min_j |z_j| / ||grad_x z_j||_2 (ROLL).

    Uses the analysis module's implementation when present, else the MLP's exact
    hidden Jacobians (core.robust.models).
    """
    try:
        from levelset_studio.core.robust.analysis import linear_region_radius as lrr  # the analysis helper's version

        return lrr(model, x)
    except ImportError:
        import torch

        from levelset_studio.core.robust.models import mlp_preactivation_grad_sqnorms

        out = []
        with torch.no_grad():
            for i in range(0, len(x), 50):
                _, layers = mlp_preactivation_grad_sqnorms(model, x[i : i + 50], 0)
                r = torch.cat([z.abs() / g.sqrt().clamp_min(1e-12) for z, g in layers], dim=1)
                out.append(r.min(dim=1).values)
        return torch.cat(out)


def train_task(task: tuple, data_dir: str, scale: float, n_pgd: int, n_aa: int, n_df: int) -> dict:
    _threads()

    from levelset_studio.core.errors import Cancelled
    from levelset_studio.core.events import CancelToken, Progress
    from levelset_studio.core.robust.data import DatasetConfig, load_dataset
    from levelset_studio.core.robust.evaluation import deepfool_summary, robust_accuracy
    from levelset_studio.core.robust.models import ModelConfig, build_model
    from levelset_studio.core.robust.training import RobustTrainer, TrainConfig, evaluate_accuracy

    arch, method, budget, settings = task
    budget = budget * scale
    data = load_dataset(DatasetConfig(name="mnist", data_dir=data_dir))
    mc = ModelConfig(arch=arch, **(WIDE if arch == "mlp" else {}))
    model = build_model(mc, data.input_shape, data.num_classes, seed=0)
    tc = TrainConfig(method=method, epochs=1000, batch_size=128, lr=1e-3, device="cpu", seed=0, **settings)
    trainer = RobustTrainer(model, data, tc)
    token = CancelToken()
    t0 = time.process_time()
    w0 = time.perf_counter()
    try:
        for ev in trainer.run(token):
            if isinstance(ev, Progress) and time.process_time() - t0 >= budget:
                token.cancel()
    except Cancelled:
        pass
    train_cpu = time.process_time() - t0
    train_wall = time.perf_counter() - w0
    epochs = trainer.epoch + trainer._pos.batch / trainer.batches_per_epoch()
    model.eval()
    row = {
        "arch": arch,
        "method": method,
        "budget_cpu_s": budget,
        "train_cpu_s": train_cpu,
        "train_wall_s": train_wall,
        "epochs": epochs,
        "settings": settings,
    }
    xt, yt = data.x_test, data.y_test
    row["clean"] = evaluate_accuracy(model, xt, yt)
    npgd = n_pgd if arch == "mlp" else max(100, n_pgd // 5)
    t = time.process_time()
    row["pgd_ce"] = robust_accuracy(model, xt[:npgd], yt[:npgd], "pgd", EPS, steps=40)
    row["pgd_margin"] = robust_accuracy(model, xt[:npgd], yt[:npgd], "pgd-margin", EPS, steps=40)
    row["n_pgd"], row["pgd_cpu_s"] = npgd, time.process_time() - t
    if arch == "mlp" and n_aa > 0:
        from levelset_studio.core.robust.attacks import autoattack

        t = time.process_time()
        res = autoattack(model, xt[:n_aa], yt[:n_aa], EPS)
        row["autoattack"], row["n_aa"], row["aa_cpu_s"] = res.robust_accuracy, n_aa, time.process_time() - t
        row["aa_components"] = list(res.components)
    ndf = n_df if arch == "mlp" else max(100, n_df // 5)
    df = deepfool_summary(model, xt[:ndf], yt[:ndf])
    row["rho_adv"], row["df_median_l2"], row["n_df"] = df.rho_adv, df.median_l2, ndf
    if arch == "mlp":
        r = linear_region_radius(model, xt[:200])
        row["lr_radius_median"] = float(r.median())
    return row


def speed_task(data_dir: str, n_pgd: int, n_df: int) -> dict:
    """Our PGD-40 and DeepFool against torchattacks' on the same standard MLP and inputs."""
    _threads()
    import torch
    import torchattacks

    from levelset_studio.core.robust.attacks import deepfool, pgd
    from levelset_studio.core.robust.data import DatasetConfig, load_dataset
    from levelset_studio.core.robust.models import ModelConfig, build_model
    from levelset_studio.core.robust.training import TrainConfig, evaluate_accuracy, train_classifier

    data = load_dataset(DatasetConfig(name="mnist", data_dir=data_dir))
    model = build_model(ModelConfig(**WIDE), data.input_shape, 10, seed=1)
    train_classifier(model, data, TrainConfig(epochs=1, device="cpu", seed=1))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x, y = data.x_test[:n_pgd], data.y_test[:n_pgd]
    out = {}
    alpha = 2.5 * 0.1 / 40
    t = time.perf_counter()
    ours = pgd(model, x, y, 0.1, alpha, 40, generator=torch.Generator().manual_seed(0))
    out["pgd_ours_s"] = time.perf_counter() - t
    out["pgd_ours_acc"] = evaluate_accuracy(model, ours, y)
    t = time.perf_counter()
    theirs = torchattacks.PGD(model, eps=0.1, alpha=alpha, steps=40, random_start=True)(x, y)
    out["pgd_ta_s"] = time.perf_counter() - t
    out["pgd_ta_acc"] = evaluate_accuracy(model, theirs, y)
    xd, yd = data.x_test[:n_df], data.y_test[:n_df]
    t = time.perf_counter()
    res = deepfool(model, xd)
    out["df_ours_s"] = time.perf_counter() - t
    with torch.no_grad():
        correct = model(xd).argmax(1) == yd
    out["df_ours_median"] = float(res.norms[correct & res.fooled].median())
    t = time.perf_counter()
    adv = torchattacks.DeepFool(model, steps=50, overshoot=0.02)(xd, yd)
    out["df_ta_s"] = time.perf_counter() - t
    out["df_ta_median"] = float((adv - xd).flatten(1).norm(dim=1)[correct].median())
    out["n_pgd"], out["n_df"] = n_pgd, n_df
    return out


def margin_task(data_dir: str, seeds: int) -> dict:
    """Few-shot: cross-entropy vs the level-set margin loss (an SVM-like max-margin objective)."""
    _threads()
    from levelset_studio.core.robust.data import DatasetConfig, load_dataset
    from levelset_studio.core.robust.models import ModelConfig, build_model
    from levelset_studio.core.robust.training import TrainConfig, evaluate_accuracy, train_classifier

    rows = []
    for name, n_train in (("digits", 30), ("mnist", 100), ("moons", 16)):
        for method in ("standard", "levelset"):
            accs = []
            t = time.process_time()
            for seed in range(seeds):
                dc = DatasetConfig(
                    name=name,
                    n_train=n_train,
                    seed=seed,
                    data_dir=data_dir if name == "mnist" else "",
                    n_samples=1000,
                    noise=0.2,
                )
                data = load_dataset(dc)
                model = build_model(ModelConfig(width=128, depth=2), data.input_shape, data.num_classes, seed=seed)
                extra = (
                    {
                        "levelset_eps_c": 0.2 if name != "moons" else 0.1,
                        "levelset_eps_w": 0.1,
                        "levelset_steps": 10,
                        "norm": "linf",
                    }
                    if method == "levelset"
                    else {}
                )
                tc = TrainConfig(
                    method=method, epochs=150, batch_size=n_train, lr=1e-3, device="cpu", seed=seed, **extra
                )
                train_classifier(model, data, tc)
                accs.append(evaluate_accuracy(model, data.x_test, data.y_test))
            rows.append(
                {
                    "dataset": name,
                    "n_train": n_train,
                    "method": method,
                    "test_acc_mean": sum(accs) / len(accs),
                    "test_accs": accs,
                    "cpu_s": time.process_time() - t,
                }
            )
    return {"rows": rows, "seeds": seeds}


def _run(job: tuple) -> tuple[str, dict]:
    kind, args = job
    t = time.perf_counter()
    if kind == "train":
        out = train_task(*args)
    elif kind == "speed":
        out = speed_task(*args)
    else:
        out = margin_task(*args)
    out["wall_s"] = time.perf_counter() - t
    return kind, out


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data-dir", default=os.environ.get("LEVELSET_DATA", str(ROOT.parent / "shared" / "data")) + "/mnist"
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every training budget")
    ap.add_argument("--n-pgd", type=int, default=1000, help="test images for PGD (SmallCNN: a fifth)")
    ap.add_argument("--aa-n", type=int, default=200, help="test images for AutoAttack (MLPs)")
    ap.add_argument("--n-df", type=int, default=1000, help="test images for DeepFool (SmallCNN: a fifth)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds of the few-shot comparison")
    ap.add_argument("--only", default="", help="comma-separated methods to run (default all)")
    ap.add_argument("--json", default="", help="write all numbers here")
    ap.add_argument("--no-speed", action="store_true", help="skip the attack-speed comparison")
    ap.add_argument("--no-margin", action="store_true", help="skip the few-shot max-margin comparison")
    ap.add_argument("--n-df-speed", type=int, default=100, help="images for the DeepFool speed comparison")
    ap.add_argument("--paper", action="store_true", help="the CNLS MNIST table instead (bench/robustness_paper.py)")
    ap.add_argument("--quick", action="store_true", help="with --paper: the same code on a CPU-sized subset")
    ap.add_argument("--epochs", type=int, default=None, help="with --paper: training epochs per method")
    ap.add_argument("--device", default="auto", help="with --paper: auto (CUDA if present), cpu, cuda, ...")
    args = ap.parse_args()
    if args.paper:
        from robustness_paper import run_paper

        torch_threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
        import torch

        torch.set_num_threads(torch_threads)
        return run_paper(args.quick, args.data_dir, args.epochs, args.device, args.json or None)
    only = [w for w in args.only.split(",") if w]
    tasks = [t for t in TASKS if not only or t[1] in only or f"{t[0]}/{t[1]}" in only]
    if only:  # run in the order given
        tasks.sort(key=lambda t: min(i for i, w in enumerate(only) if w in (t[1], f"{t[0]}/{t[1]}")))
    jobs = [("train", (t, args.data_dir, args.scale, args.n_pgd, args.aa_n, args.n_df)) for t in tasks]
    if not args.no_speed:
        jobs.insert(min(2, len(jobs)), ("speed", (args.data_dir, args.n_pgd, args.n_df_speed)))
    if not args.no_margin:
        jobs.insert(min(4, len(jobs)), ("margin", (args.data_dir, args.seeds)))
    t0 = time.perf_counter()
    rows, speed, margin = [], None, None
    with mp.get_context("spawn").Pool(args.workers, maxtasksperchild=1) as pool:
        for kind, out in pool.imap_unordered(_run, jobs):
            # each result as soon as it exists: a run cut short still leaves its numbers
            print(f"[{time.perf_counter() - t0:6.0f}s] done {kind}: {json.dumps(out)}", flush=True)
            if kind == "train":
                rows.append(out)
            elif kind == "speed":
                speed = out
            else:
                margin = out
    total = time.perf_counter() - t0
    order = {(a, m): i for i, (a, m, _, _) in enumerate(TASKS)}  # table in the fixed order
    rows.sort(key=lambda r: order[(r["arch"], r["method"])])
    print(f"\n## MNIST, L-inf eps {EPS}: accuracies in % (inputs in [0, 1]); CPU seconds of one thread\n")
    print(
        "| model | method | budget CPU-s | epochs | train CPU-s | clean (10k) | PGD-40 CE | PGD-40 margin "
        "| AutoAttack | DeepFool rho_adv | median LR radius (L2) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        aa = f"{_pct(r.get('autoattack'))} (n={r['n_aa']})" if "autoattack" in r else "not run (budget)"
        lr = f"{r['lr_radius_median']:.2e}" if "lr_radius_median" in r else "-"
        print(
            f"| {r['arch']} | {r['method']} | {r['budget_cpu_s']:.0f} | {r['epochs']:.2f} | {r['train_cpu_s']:.0f} "
            f"| {_pct(r['clean'])} | {_pct(r['pgd_ce'])} (n={r['n_pgd']}) | {_pct(r['pgd_margin'])} | {aa} "
            f"| {r['rho_adv']:.3f} (n={r['n_df']}) | {lr} |"
        )
    comps = sorted({c for r in rows for c in r.get("aa_components", [])})
    if comps:
        print("\nAutoAttack ran: " + "; ".join(comps))
    print("Settings: " + "; ".join(f"{r['arch']}/{r['method']}: {r['settings']}" for r in rows if r["settings"]))
    if speed:
        s = speed
        print("\n## Attack speed, same standard MLP and inputs (wall seconds, one thread)\n")
        print("| attack | ours s | torchattacks s | ratio | ours result | torchattacks result |")
        print("|---|---|---|---|---|---|")
        print(
            f"| PGD-40 L-inf eps 0.1, n={s['n_pgd']} | {s['pgd_ours_s']:.2f} | {s['pgd_ta_s']:.2f} "
            f"| {s['pgd_ta_s'] / s['pgd_ours_s']:.2f}x | robust acc {_pct(s['pgd_ours_acc'])}% "
            f"| robust acc {_pct(s['pgd_ta_acc'])}% |"
        )
        print(
            f"| DeepFool L2, n={s['n_df']} | {s['df_ours_s']:.2f} | {s['df_ta_s']:.2f} "
            f"| {s['df_ta_s'] / s['df_ours_s']:.2f}x | median ||r|| {s['df_ours_median']:.3f} "
            f"| median ||r|| {s['df_ta_median']:.3f} |"
        )
    if margin:
        print(
            f"\n## Max-margin on few-shot subsets: test accuracy %, mean of {margin['seeds']} seeds "
            "(MLP 128x2, 150 full-batch Adam steps)\n"
        )
        print("| dataset | n_train | cross-entropy | level-set margin |")
        print("|---|---|---|---|")
        by = {(r["dataset"], r["method"]): r for r in margin["rows"]}
        for name, n in (("digits", 30), ("mnist", 100), ("moons", 16)):
            ce, ls = by[(name, "standard")], by[(name, "levelset")]
            print(f"| {name} | {n} | {_pct(ce['test_acc_mean'])} | {_pct(ls['test_acc_mean'])} |")
    print(f"\ntotal wall time {total:.0f} s with {args.workers} worker processes")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"rows": rows, "speed": speed, "margin": margin, "wall_s": total}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
