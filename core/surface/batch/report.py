"""The batch report: ``OUTDIR/report.csv`` and ``OUTDIR/report.json``, one row per scan.

Both files are rewritten (atomically: a temporary file, then a rename) each time a scan
ends, so an interrupted batch leaves every row that finished and no half-written file.
The JSON file is what a later run reads to resume; the CSV is the same table for a
spreadsheet. Distances are in the scan's own units; ``*_diag`` columns are the same
numbers as fractions of the scan's bounding-box diagonal.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from levelset_studio.core.errors import LevelSetError

REPORT_CSV = "report.csv"
REPORT_JSON = "report.json"
REPORT_KIND = "levelset-studio/batch-report"

COLUMNS: tuple[str, ...] = (
    "name",
    "status",
    "message",
    "scan",
    "mesh",
    "method",
    "points",
    "faces",
    "steps",
    "train_seconds",
    "mesh_seconds",
    "seconds",
    "peak_rss_mb",
    "device",
    "node",
    "units",
    "diagonal",
    "scan_to_mesh_mean",
    "scan_to_mesh_p95",
    "scan_to_mesh_max",
    "mesh_to_scan_mean",
    "mesh_to_scan_p95",
    "mesh_to_scan_max",
    "scan_to_mesh_mean_diag",
    "scan_to_mesh_p95_diag",
    "scan_to_mesh_max_diag",
    "mesh_to_scan_mean_diag",
    "mesh_to_scan_p95_diag",
    "mesh_to_scan_max_diag",
    "far_area_fraction",
)

DEFINITIONS = {
    "status": "ok, or failed with the one-line message",
    "points": "finite points read from the scan",
    "steps": "training steps (0 for poisson)",
    "train_seconds": "seconds of training",
    "mesh_seconds": "seconds of the final marching cubes (poisson: the whole reconstruction)",
    "seconds": "wall seconds of the whole job in its worker (reading, training, meshing, metrics)",
    "peak_rss_mb": "peak resident memory of the worker process during the job, MiB (sampled at each step)",
    "node": "where the job ran: local, or the Ray node's address",
    "scan_to_mesh_*": "every scan point to the nearest point of the mesh surface (scan units)",
    "mesh_to_scan_*": "area-weighted mesh surface samples to the nearest scan point (scan units)",
    "*_diag": "the same distance as a fraction of the scan's bounding-box diagonal",
    "far_area_fraction": "fraction of the mesh area farther than 2% of the diagonal from every scan point",
}


def _atomic_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # a report is as readable as any file the user writes
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise LevelSetError(f"cannot write the report ({exc.strerror or exc})", path) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(outdir: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> tuple[Path, Path]:
    """Write ``rows`` as report.csv and report.json in ``outdir``; returns both paths."""
    out = Path(outdir)
    rows = [{k: _clean(v) for k, v in r.items()} for r in rows]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r.get(k) is None else r.get(k) for k in COLUMNS})
    csv_path, json_path = out / REPORT_CSV, out / REPORT_JSON
    doc = {
        "kind": REPORT_KIND,
        "version": 1,
        "units": "scan units (each scan's own coordinates)",
        "columns": list(COLUMNS),
        "definitions": DEFINITIONS,
        "rows": [{k: r.get(k) for k in COLUMNS} for r in rows],
    }
    _atomic_text(json_path, json.dumps(doc, indent=1, allow_nan=False) + "\n")
    _atomic_text(csv_path, buf.getvalue())
    return csv_path, json_path


def read_report(outdir: str | os.PathLike) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of an earlier report in ``outdir`` (none if there is none), and a warning
    when one exists but cannot be read (the batch then starts afresh)."""
    path = Path(outdir) / REPORT_JSON
    if not path.exists():
        return [], None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("kind") != REPORT_KIND or not isinstance(doc.get("rows"), list):
            raise ValueError("not a batch report")
        rows = [r for r in doc["rows"] if isinstance(r, dict) and isinstance(r.get("name"), str)]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return [], f"{path}: unreadable report ignored ({exc}); every scan is run again"
    return rows, None
