"""What every mode of `levelset batch` must leave behind (shared by the local, pool and Ray tests)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from levelset_studio.core.surface.meshes.meshio import read_mesh


def report_rows(outdir: Path) -> list[dict]:
    doc = json.loads((outdir / "report.json").read_text())
    with open(outdir / "report.csv", newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [r["name"] for r in csv_rows] == [r["name"] for r in doc["rows"]]
    assert [r["status"] for r in csv_rows] == [r["status"] for r in doc["rows"]]
    return doc["rows"]


def check_ok_row(row: dict, outdir: Path, node_word: str) -> None:
    assert row["status"] == "ok", row
    assert row["message"] == ""
    assert row["steps"] == 50 and row["points"] > 500
    assert row["train_seconds"] > 0 and row["mesh_seconds"] > 0 and row["peak_rss_mb"] > 50
    assert node_word in row["node"]
    assert row["units"] == "scan units"
    # the mesh lies on the scan: 50 steps on a coarse grid, well within 10% of the diagonal
    assert 0 < row["scan_to_mesh_mean_diag"] < 0.1 and 0 < row["mesh_to_scan_mean_diag"] < 0.1
    assert abs(row["scan_to_mesh_mean"] - row["scan_to_mesh_mean_diag"] * row["diagonal"]) < 1e-6 * row["diagonal"]
    mesh = read_mesh(outdir / f"{row['name']}.ply")
    assert mesh.n_faces == row["faces"] > 100
    assert Path(row["mesh"]) == outdir / f"{row['name']}.ply"


def no_temporary_files(outdir: Path) -> None:
    assert not [p.name for p in outdir.iterdir() if p.name.startswith(".")], "half-written files left"
