"""How often the Robustness tab's decision-region map redraws while a small MLP trains.

Runs the real tab (offscreen Qt, or Xvfb/desktop when DISPLAY is set), trains on moons
and reports: new region images painted per second (the issue asks for >= 5), training
batches per second in the same run (the baseline: the map cannot change faster than
the model), and the longest gap between GUI-thread timer ticks (responsiveness).

    python bench/robustness_tab_redraw.py [--epochs 30] [--width 32] [--depth 2] [--samples 1000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    torch.set_num_threads(1)
    app = QApplication(sys.argv[:1])
    from levelset_studio.app.robustness.tab import RobustnessTab
    from levelset_studio.core.events import Progress

    tab = RobustnessTab()
    tab.resize(1300, 850)
    tab.show()
    tab.error_handler = lambda m: print("error:", m)
    tab.ensure_initialized()
    tab.dataset_panel.set_values({"name": "moons", "n_samples": args.samples})
    tab.model_panel.set_values({"arch": "mlp", "width": args.width, "depth": args.depth, "activation": "relu"})
    tab.train_panel.set_values({"method": "standard", "epochs": args.epochs, "batch_size": args.batch_size, "lr": 0.01})
    tab.lab.load_data()  # imports and data outside the timed part
    from levelset_studio.core.robust.training import RobustTrainer  # noqa: F401  (torch.optim import, also outside)

    batches: list[float] = []
    tab.runners["train"].event.connect(
        lambda ev: batches.append(time.perf_counter()) if isinstance(ev, Progress) and ev.message == "batch" else None
    )
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    done = []
    tab.trainingFinished.connect(lambda: done.append(time.perf_counter()))
    start_frames = len(tab.map.frame_times())
    t0 = time.perf_counter()
    tab.start_training()
    while not done:
        app.processEvents()
        time.sleep(0.002)
    t1 = done[0]
    timer.stop()
    frames = [t for t in tab.map.frame_times()[start_frames:] if t0 <= t <= t1]
    # over the training itself: from the first batch to the last
    if len(batches) >= 2:
        b0, b1 = batches[0], batches[-1]
        steady = [t for t in frames if b0 <= t <= b1]
        rate = len(steady) / max(b1 - b0, 1e-9)
        batch_rate = (len(batches) - 1) / max(b1 - b0, 1e-9)
        frame_gaps = [b - a for a, b in zip([b0, *steady], [*steady, b1])]
    else:
        rate = batch_rate = 0.0
        frame_gaps = []
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"moons, {args.samples} points, MLP {args.depth}x{args.width} relu, {args.epochs} epochs, batch {args.batch_size}; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'training time':<34} {t1 - t0:8.2f} s")
    print(f"{'training batches per second':<34} {batch_rate:8.1f}")
    print(f"{'region images painted per second':<34} {rate:8.1f}   (mean over the training; target >= 5)")
    print(f"{'longest time without a new image':<34} {1000 * max(frame_gaps or [0]):8.0f} ms")
    print(f"{'region images painted in total':<34} {len(frames):8d}")
    print(f"{'longest GUI-thread gap':<34} {1000 * max(gaps or [0]):8.0f} ms")
    tab.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
