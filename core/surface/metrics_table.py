"""Evaluation reports as table rows: name, value, unit, share of the diagonal, definition.

One description of the metrics for every table that shows them (the Inspect panel, the
Compare view, a copied tab-separated table), so they never disagree on a name or unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from levelset_studio.core.surface.evaluation import DEFINITIONS, DistanceStats, EvaluationReport

STAT_DEFINITIONS = {
    "mean": "average distance",
    "rms": "root mean square distance",
    "p95": "95th percentile: 95% of distances are smaller",
    "max": "largest distance",
}


@dataclass(frozen=True)
class MetricRow:
    key: str  # stable id, e.g. "scan_to_mesh.mean"
    name: str  # what a person reads
    value: float | None
    unit: str
    of_diagonal: float | None  # value / diagonal (or / diagonal² for squared units)
    definition: str

    def value_text(self) -> str:
        if self.value is None or not math.isfinite(self.value):
            return "–"
        return f"{self.value:.4g}"

    def diagonal_text(self) -> str:
        if self.of_diagonal is None or not math.isfinite(self.of_diagonal):
            return ""
        return f"{100 * self.of_diagonal:.3g}%"


def report_rows(report: EvaluationReport) -> list[MetricRow]:
    """The rows of one report, in reading order; metrics the report lacks are left out."""
    diag = report.diagonal
    rows: list[MetricRow] = []

    def add(key: str, name: str, value: float | None, definition: str, *, squared: bool = False) -> None:
        if value is None:
            return
        frac = value / (diag**2 if squared else diag) if diag else None
        rows.append(MetricRow(key, name, value, "scan units²" if squared else "scan units", frac, definition))

    def stats(key: str, title: str, st: DistanceStats | None) -> None:
        if st is None:
            return
        for s in ("mean", "rms", "p95", "max"):
            add(
                f"{key}.{s}",
                f"{title} {s}",
                getattr(st, s),
                f"{DEFINITIONS.get(key, title)}: {STAT_DEFINITIONS[s]}",
            )

    add("chamfer_l1", "Chamfer L1", report.chamfer_l1, DEFINITIONS["chamfer_l1"])
    add("chamfer_l2", "Chamfer L2", report.chamfer_l2, DEFINITIONS["chamfer_l2"], squared=True)
    add("hausdorff", "Hausdorff", report.hausdorff, DEFINITIONS["hausdorff"])
    stats("scan_to_mesh", "scan → mesh", report.scan_to_mesh)
    stats("mesh_to_scan", "mesh → scan", report.mesh_to_scan)
    stats("mesh_to_reference", "mesh → reference", report.mesh_to_reference)
    stats("reference_to_mesh", "reference → mesh", report.reference_to_mesh)
    rows.append(
        MetricRow(
            "far_area_fraction",
            f"area > {100 * report.far_threshold:g}% diag from scan",
            100 * report.far_area_fraction,
            "% of mesh area",
            None,
            DEFINITIONS["far_area_fraction"].replace("far_threshold", f"{report.far_threshold:g}"),
        )
    )
    if report.normal_consistency is not None:
        rows.append(
            MetricRow(
                "normal_consistency",
                f"normal consistency vs {report.normal_consistency_against}",
                report.normal_consistency,
                "mean |cos| (1 = perfect)",
                None,
                DEFINITIONS["normal_consistency"],
            )
        )
    rows.append(MetricRow("mesh_faces", "triangles", float(report.mesh_faces), "count", None, "faces of the mesh"))
    rows.append(MetricRow("mesh_area", "area", report.mesh_area, "scan units²", None, "surface area of the mesh"))
    rows.append(MetricRow("diagonal", "scan diagonal", diag, "scan units", 1.0, DEFINITIONS["diagonal"]))
    return rows


def comparison_rows(reports: Sequence[EvaluationReport]) -> tuple[list[str], list[list[Any]]]:
    """One table for several reports: a row per metric, a value column per report.

    Returns (header, rows); each row is [name, unit, value per report..., definition].
    """
    per = [{r.key: r for r in report_rows(rep)} for rep in reports]
    keys: list[str] = []
    for table in per:
        keys += [k for k in table if k not in keys]
    header = ["metric", "unit", *[rep.name for rep in reports], "definition"]
    rows: list[list[Any]] = []
    for k in keys:
        first = next(t[k] for t in per if k in t)
        values = [t[k].value_text() if k in t else "–" for t in per]
        rows.append([first.name, first.unit, *values, first.definition])
    return header, rows


def as_tsv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Tab-separated text (pastes into a spreadsheet as a table)."""
    return "\n".join("\t".join(str(c) for c in line) for line in [list(header), *rows]) + "\n"
