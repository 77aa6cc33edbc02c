"""Planning a batch's inputs and its report files: no reconstruction, fast."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.surface.batch.plan import is_list_file, plan_inputs
from levelset_studio.core.surface.batch.report import COLUMNS, read_report, write_report


def _touch(path: Path, text: str = "0 0 0\n1 0 0\n0 1 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_folder_gives_every_readable_scan_sorted_and_a_conf_set_is_one_item(tmp_path):
    a = _touch(tmp_path / "scans" / "b.xyz")
    _touch(tmp_path / "scans" / "a.ply", "ply\n")
    _touch(tmp_path / "scans" / "notes.md", "not a scan")
    _touch(tmp_path / "scans" / "part1.ply", "ply\n")
    _touch(tmp_path / "scans" / "part2.ply", "ply\n")
    _touch(tmp_path / "scans" / "set.conf", "bmesh part1.ply 0 0 0 0 0 0 1\nbmesh part2.ply 0 0 0 0 0 0 1\n")
    items = plan_inputs([tmp_path / "scans"])
    assert [(i.name, Path(i.files[0]).name) for i in items] == [("a", "a.ply"), ("b", "b.xyz"), ("set", "set.conf")]
    assert all(i.error is None for i in items)
    # the same scan named again (a file of a folder already given) is not a second item
    assert [i.name for i in plan_inputs([tmp_path / "scans", a])] == ["a", "b", "set"]


def test_a_list_file_names_inputs_relative_to_itself_and_a_points_txt_is_a_scan(tmp_path):
    _touch(tmp_path / "d1" / "scan.ply", "ply\n")
    _touch(tmp_path / "d2" / "scan.ply", "ply\n")
    points = _touch(tmp_path / "cloud.txt", "x y z\n0.5 1 2\n3 4 5.5e-3\n")
    lst = _touch(tmp_path / "campaign.txt", "# the campaign\nd1/scan.ply\nd2\ncloud.txt\nmissing.ply\n")
    assert is_list_file(lst) and not is_list_file(points)
    items = plan_inputs([lst])
    assert [i.name for i in items] == ["scan", "scan-2", "cloud", "missing"]  # unique names
    assert [i.error is None for i in items] == [True, True, True, False]
    assert "no such file" in (items[3].error or "")


def test_nothing_to_do_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no scans found"):
        plan_inputs([tmp_path / "empty"])
    with pytest.raises(ConfigError, match="no inputs"):
        plan_inputs([])


def test_report_round_trip_with_undefined_numbers_as_empty(tmp_path):
    rows = [
        {"name": "a", "status": "ok", "message": "", "scan_to_mesh_mean": 0.25, "far_area_fraction": math.nan},
        {"name": "b", "status": "failed", "message": "b.ply: truncated"},
    ]
    csv_path, json_path = write_report(tmp_path, rows)
    assert csv_path.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert csv_path.read_text().splitlines()[2].startswith("b,failed,b.ply: truncated,")
    doc = json.loads(json_path.read_text())
    assert doc["rows"][0]["scan_to_mesh_mean"] == 0.25 and doc["rows"][0]["far_area_fraction"] is None
    back, warning = read_report(tmp_path)
    assert warning is None and [r["name"] for r in back] == ["a", "b"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_unreadable_report_is_ignored_with_a_warning(tmp_path):
    (tmp_path / "report.json").write_text("{ not json")
    rows, warning = read_report(tmp_path)
    assert rows == [] and "unreadable report ignored" in (warning or "")
    (tmp_path / "report.json").write_text(json.dumps({"kind": "something else", "rows": []}))
    assert "not a batch report" in (read_report(tmp_path)[1] or "")
