"""How smooth the 3D view stays while training: rotate the camera every 30 ms (as a
user dragging the mouse would) during a reconstruction, and report the longest gap
between GUI-thread timer ticks and the render times.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python bench/gui_responsiveness.py [SCAN] [--seconds S]

Baseline in the same run: the same rotation with no training (what rendering alone costs).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scan", nargs="?", default=None)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads for training (0: the engine's choice)")
    args = ap.parse_args()

    import tempfile

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
