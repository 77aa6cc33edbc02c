"""How smooth the 3D view stays while training, and how many steps the GUI trains.

``--mode stall``: rotate the camera every 30 ms (as a user dragging the mouse would)
during a reconstruction, and report the longest gap between GUI-thread timer ticks and
the render times. Baseline in the same run: the same rotation with no training.

``--mode steps``: the GUI's throughput. ``levelset reconstruct`` (the baseline) and
``levelset gui --reconstruct --quit`` train the same scan with the same time budget and
threads, alternately, ``--repeats`` times each; the table gives the steps of each and
the ratio GUI / CLI (target: at least 0.85).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python bench/gui_responsiveness.py [SCAN] \
        [--mode stall|steps|both] [--seconds S] [--threads T] [--repeats N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


TARGET_RATIO = 0.85


def _cli_steps(scan: str, seconds: float, threads: int, out_dir: str) -> int:
    cmd = [sys.executable, "-m", "levelset_studio.core.cli", "reconstruct", scan, "-o", f"{out_dir}/cli.ply"]
    cmd += ["--time-budget", str(seconds), "--threads", str(threads)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 300)
    m = re.search(r": (\d+) steps", run.stderr)
    if run.returncode != 0 or m is None:
        raise SystemExit(f"levelset reconstruct failed: {run.stderr[-800:]}")
    return int(m.group(1))


def _gui_steps(scan: str, seconds: float, threads: int) -> int:
    cmd = [sys.executable, "-m", "levelset_studio.core.cli", "gui", scan, "--reconstruct", "--quit"]
    cmd += ["--time-budget", str(seconds), "--threads", str(threads)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 300)
    m = re.search(r"reconstruction: (\d+) steps", run.stdout)
    if run.returncode != 0 or m is None:
        raise SystemExit(f"levelset gui failed: {run.stderr[-800:]}")
    return int(m.group(1))


def steps(scan: str, seconds: float, threads: int, repeats: int) -> float:
    """GUI vs CLI steps in the same budget, alternating; returns the median ratio."""
    cli: list[int] = []
    gui: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            order = ("cli", "gui") if i % 2 == 0 else ("gui", "cli")  # neither always runs on a warmer machine
            for kind in order:
                if kind == "cli":
                    cli.append(_cli_steps(scan, seconds, threads, tmp))
                else:
                    gui.append(_gui_steps(scan, seconds, threads))
    ratios = [g / max(1, c) for g, c in zip(gui, cli)]
    print(f"scan: {scan}; budget {seconds:g} s; {threads} thread(s); {repeats} run(s) each, alternating")
    print(f"{'run':>4}{'CLI steps (baseline)':>22}{'GUI steps':>11}{'GUI / CLI':>11}")
    for i, (c, g, r) in enumerate(zip(cli, gui, ratios), 1):
        print(f"{i:>4}{c:>22d}{g:>11d}{r:>11.2f}")
    med = statistics.median(ratios)
    verdict = "met" if med >= TARGET_RATIO else "MISSED"
    print(
        f"{'median':>4}{statistics.median(cli):>22.0f}{statistics.median(gui):>11.0f}{med:>11.2f}"
        f"   target >= {TARGET_RATIO}: {verdict}"
    )
    return med


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scan", nargs="?", default=None)
    ap.add_argument("--mode", choices=("stall", "steps", "both"), default="both")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads for training (0: the engine's choice)")
    ap.add_argument("--repeats", type=int, default=2, help="--mode steps: runs of each")
    args = ap.parse_args()
    if args.mode in ("steps", "both"):
        from levelset_studio.resources import SAMPLE_SCAN

        steps(args.scan or str(SAMPLE_SCAN), args.seconds, args.threads or 2, args.repeats)
        if args.mode == "steps":
            return 0
        print()

    from PySide6.QtCore import QSettings, QTimer

    from levelset_studio.app.diagnostics import StallMeter
    from levelset_studio.app.main import application
    from levelset_studio.app.main_window import MainWindow
    from levelset_studio.resources import SAMPLE_SCAN

    app = application()
    tmp = tempfile.mkdtemp()
    w = MainWindow(QSettings(f"{tmp}/s.ini", QSettings.Format.IniFormat))
    w.error_handler = lambda m: print("error:", m)
    w.resize(1400, 860)
    w.show()
    tab = w.reconstruct_tab
    scan = args.scan or str(SAMPLE_SCAN)

    def spin(pred, timeout):
        end = time.monotonic() + timeout
        while not pred() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    w.open_scans([scan])
    spin(lambda: tab.active_scan is not None, 120)
    render_ms: list[float] = []

    def rotate():
        t0 = time.perf_counter()
        tab.view.plotter.camera.Azimuth(2.0)
        tab.view.plotter.render()
        render_ms.append(1000 * (time.perf_counter() - t0))

    rot = QTimer()
    rot.timeout.connect(rotate)
    meter = StallMeter()

    # baseline: rotation only
    meter.start()
    rot.start(30)
    spin(lambda: False, 5.0)
    rot.stop()
    meter.stop()
    base = (meter.longest_ms, max(render_ms), sorted(render_ms)[len(render_ms) // 2], len(render_ms))
    render_ms.clear()

    done = []
    tab.reconstruction_finished.connect(lambda m: done.append(m))
    meter.start()
    rot.start(30)
    tab.recon_panel.set_values({"threads": args.threads, "time_budget": args.seconds})
    tab.start_reconstruction()
    spin(lambda: bool(done), args.seconds + 120)
    rot.stop()
    meter.stop()
    train = (meter.longest_ms, max(render_ms), sorted(render_ms)[len(render_ms) // 2], len(render_ms))
    print(
        f"scan: {scan}; training {args.seconds:.0f} s ({args.threads or 'auto'} threads); snapshots applied: {tab.snapshots_applied}; "
        f"final mesh {done[0].n_faces if done else 0} triangles"
    )
    print(f"{'':28}{'longest stall ms':>18}{'max render ms':>15}{'median render ms':>18}{'frames':>8}")
    print(f"{'rotate only (baseline)':28}{base[0]:18.0f}{base[1]:15.1f}{base[2]:18.1f}{base[3]:8d}")
    print(f"{'rotate while training':28}{train[0]:18.0f}{train[1]:15.1f}{train[2]:18.1f}{train[3]:8d}")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
