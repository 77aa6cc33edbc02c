"""The CNLS MNIST adversarial table, reproduced (run through `bench/robustness.py --paper`).

    python bench/robustness.py --paper [--quick] [--epochs E] [--device auto] [--json OUT]

The paper's setting: its SmallCNN on MNIST, L-inf eps 0.3; standard training against
Madry (PGD training), TRADES and the level-set margin loss (eps_c 0.4, eps_w 0.5, 40
boundary-search steps); each model evaluated with PGD-40 (cross-entropy and margin loss,
step 0.01) and with AutoAttack (APGD-CE, APGD-T, FAB-T, Square, reference settings).
The standard model is the baseline measured in the same run. The paper's own numbers
are printed under the table as anchors, never mixed with what was measured.

The full run needs a GPU (about 10 minutes there with the default epochs, far fewer than
the paper's 150+). ``--quick`` runs the same code on a subset that fits a CPU: 1,000
training images, one epoch, PGD-10 training, 100 test images for PGD-40 and 20 for
AutoAttack; its numbers say only that the pipeline works, not what the methods reach.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

EPS = 0.3
PGD_ALPHA = 0.01  # the MNIST standard step of PGD-40
ANCHORS = (
    "paper (CNLS, PGD-40 margin, eps 0.3): level-set 99.35% clean, 97.35% robust; "
    "Madry 96.11%, TRADES 96.74% (margin PGD)",
    "AutoAttack re-evaluation of the CNLS model: 90.85%; best published MNIST eps 0.3 AutoAttack: 96.34%",
)


@dataclass(frozen=True)
class Setting:
    n_train: int  # 0 = all 60,000
    epochs: int
    train_steps: int  # PGD / TRADES / boundary-search steps in training
    n_pgd: int
    n_aa: int


def methods(s: Setting) -> list[tuple[str, str, dict]]:
    adv = {"eps": EPS, "eps_warmup": min(1.0, s.epochs / 2), "pgd_steps": s.train_steps, "pgd_alpha": PGD_ALPHA}
    return [
        ("standard", "standard", {}),
        ("Madry (PGD)", "pgd", adv),
        ("TRADES", "trades", {**adv, "trades_beta": 6.0}),
        (
            "level-set margin",
            "levelset",
            {"levelset_eps_c": 0.4, "levelset_eps_w": 0.5, "levelset_steps": s.train_steps},
        ),
    ]


def run_paper(quick: bool, data_dir: str | None, epochs: int | None, device: str, json_out: str | None) -> int:
    import torch

    from levelset_studio.core.errors import LevelSetError
    from levelset_studio.core.robust.attacks import autoattack, pgd, predict
    from levelset_studio.core.robust.data import DatasetConfig, load_dataset
    from levelset_studio.core.robust.models import ModelConfig, build_model
    from levelset_studio.core.robust.training import TrainConfig, train_classifier

    s = Setting(1000, 1, 10, 100, 20) if quick else Setting(0, 4, 40, 10_000, 1000)
    if epochs is not None:
        s = Setting(s.n_train, int(epochs), s.train_steps, s.n_pgd, s.n_aa)
    try:
        data = load_dataset(DatasetConfig(name="mnist", data_dir=data_dir or "", n_train=s.n_train))
    except LevelSetError as exc:
        print(f"bench: {exc}")
        return 2
    dev = torch.device(
        "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    )
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)
    print(
        f"MNIST: {len(data.y_train)} training images, SmallCNN, {s.epochs} epoch(s), training attacks "
        f"{s.train_steps} steps; PGD-40 on {min(s.n_pgd, len(y_test))} and AutoAttack on "
        f"{min(s.n_aa, len(y_test))} test images; device {dev}{' (quick: a subset)' if quick else ''}"
    )
    rows = []
    for label, method, settings in methods(s):
        t0 = time.perf_counter()
        model = build_model(ModelConfig(arch="smallcnn"), data.input_shape, data.num_classes, seed=0)
        cfg = TrainConfig(method=method, epochs=s.epochs, batch_size=128, lr=1e-3, device=str(dev), **settings)
        model = train_classifier(model, data, cfg).model.to(dev).eval()
        train_s = time.perf_counter() - t0
        xp, yp = x_test[: s.n_pgd], y_test[: s.n_pgd]
        clean = float((predict(model, x_test) == y_test).float().mean())
        clean_sub = predict(model, xp) == yp  # robust = correct at x and at the attack's x_adv
        acc = {}
        for loss in ("ce", "margin"):
            robust = []
            for i in range(0, len(yp), 500):
                g = torch.Generator(device=dev).manual_seed(0)
                xa = pgd(model, xp[i : i + 500], yp[i : i + 500], EPS, PGD_ALPHA, 40, loss=loss, generator=g)
                robust.append(predict(model, xa) == yp[i : i + 500])
            acc[loss] = float((torch.cat(robust) & clean_sub).float().mean())
        t1 = time.perf_counter()
        aa = autoattack(model, x_test[: s.n_aa], y_test[: s.n_aa], EPS, seed=0)
        aa_s = time.perf_counter() - t1
        rows.append(
            {
                "method": label,
                "clean": clean,
                "clean_pgd_subset": float(clean_sub.float().mean()),
                "pgd40_ce": acc["ce"],
                "pgd40_margin": acc["margin"],
                "autoattack": aa.robust_accuracy,
                "train_s": train_s,
                "autoattack_s": aa_s,
                "n_clean": len(y_test),
                "n_pgd": len(yp),
                "n_aa": min(s.n_aa, len(y_test)),
            }
        )
        print(f"  {label}: done in {train_s:.0f} s training, {aa_s:.0f} s AutoAttack", flush=True)
    base = rows[0]["train_s"]
    print()
    print(
        f"{'method':18s} {'clean':>7s} {'clean (PGD set)':>15s} {'PGD-40 CE':>10s} {'PGD-40 margin':>14s} "
        f"{'AutoAttack':>11s} {'train (x standard)':>19s}"
    )
    for r in rows:
        print(
            f"{r['method']:18s} {100 * r['clean']:6.2f}% {100 * r['clean_pgd_subset']:14.2f}% "
            f"{100 * r['pgd40_ce']:9.2f}% {100 * r['pgd40_margin']:13.2f}% "
            f"{100 * r['autoattack']:10.2f}% {r['train_s']:8.0f} s ({r['train_s'] / base:4.1f}x)"
        )
    print(
        f"(clean on {rows[0]['n_clean']}, PGD-40 on {rows[0]['n_pgd']}, AutoAttack on {rows[0]['n_aa']} test images; eps 0.3 L-inf)"
    )
    for a in ANCHORS:
        print("anchor, not measured here: " + a)
    if json_out:
        with open(json_out, "w") as fh:
            json.dump({"quick": quick, "setting": s.__dict__, "rows": rows, "anchors": ANCHORS}, fh, indent=2)
    return 0
