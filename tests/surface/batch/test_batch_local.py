"""`levelset batch` without Ray: one scan after another, and in a pool of processes."""

from __future__ import annotations

import os

import pytest

from levelset_studio.core.cli import main
from tests.surface.batch.checks import check_ok_row, no_temporary_files, report_rows
from tests.surface.batch.conftest import FAST, SHAPES


def test_three_scans_give_three_meshes_and_rows_then_a_rerun_skips_them(scans, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", *map(str, scans), "-o", str(out), "--threads-per-job", "1", *FAST]) == 0
    rows = report_rows(out)
    assert [r["name"] for r in rows] == list(SHAPES)
    for row in rows:
        check_ok_row(row, out, "local")
    assert sorted(p.name for p in out.glob("*.ply")) == sorted(f"{s}.ply" for s in SHAPES)
    no_temporary_files(out)
    err = capsys.readouterr().err
    assert "3 ok, 0 failed, 0 skipped" in err and "ok sphere on local" in err

    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.ply")}
    assert main(["batch", *map(str, scans), "-o", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert all(f"skip {s}: done already" in err for s in SHAPES)
    assert "0 ok, 0 failed, 3 skipped" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.ply")} == stamps
    assert report_rows(out) == rows


def test_force_redoes_a_scan_and_a_deleted_mesh_is_redone(scans, tmp_path, capsys):
    out = tmp_path / "out"
    missing = str(tmp_path / "missing.ply")  # a failed row that costs no reconstruction
    assert main(["batch", missing, str(scans[1]), "-o", str(out), *FAST]) == 1
    (out / "torus.ply").unlink()
    assert main(["batch", str(scans[1]), "-o", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert "1 ok, 0 failed, 0 skipped" in err and (out / "torus.ply").is_file()
    stamp = (out / "torus.ply").stat().st_mtime_ns
    assert main(["batch", str(scans[1]), "-o", str(out), "--force", *FAST]) == 0
    assert "1 ok, 0 failed, 0 skipped" in capsys.readouterr().err
    assert (out / "torus.ply").stat().st_mtime_ns != stamp
    rows = report_rows(out)
    assert [(r["name"], r["status"]) for r in rows] == [("missing", "failed"), ("torus", "ok")]  # order kept


def test_a_corrupt_scan_fails_its_row_only(scans, corrupt, tmp_path, capsys):
    out = tmp_path / "out"
    # the reading options of reconstruct apply to every scan (a point budget here)
    rc = main(["batch", str(scans[0]), str(corrupt), str(scans[1]), "-o", str(out), "--max-points", "800", *FAST])
    assert rc == 1  # some scan failed
    rows = report_rows(out)
    assert rows[0]["points"] == rows[2]["points"] == 800
    assert [(r["name"], r["status"]) for r in rows] == [("sphere", "ok"), ("broken", "failed"), ("torus", "ok")]
    assert "truncated" in rows[1]["message"] and str(corrupt) in rows[1]["message"]
    assert rows[1]["mesh"] is None and not (out / "broken.ply").exists()
    for row in (rows[0], rows[2]):
        check_ok_row(row, out, "local")
    err = capsys.readouterr().err
    assert "failed broken on local" in err and "2 ok, 1 failed" in err and "Traceback" not in err

    # a rerun skips the done scans and tries the failed one again
    assert main(["batch", str(scans[0]), str(corrupt), str(scans[1]), "-o", str(out), *FAST]) == 1
    err = capsys.readouterr().err
    assert "0 ok, 1 failed, 2 skipped" in err


@pytest.mark.slow
def test_a_pool_of_two_workers_runs_the_same_batch(scans, corrupt, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["batch", str(scans[0]), str(corrupt), str(scans[1]), "-o", str(out), "--workers", "2", *FAST])
    assert rc == 1
    rows = {r["name"]: r for r in report_rows(out)}
    assert [rows[n]["status"] for n in ("sphere", "broken", "torus")] == ["ok", "failed", "ok"]
    check_ok_row(rows["sphere"], out, "local worker")
    check_ok_row(rows["torus"], out, "local worker")
    pids = {rows[n]["node"] for n in ("sphere", "torus", "broken")}
    assert all(f"pid {os.getpid()})" not in p for p in pids)  # ran in other processes
    no_temporary_files(out)


def test_bad_inputs_and_settings_are_one_line_errors(scans, tmp_path, capsys):
    cases = [
        (["batch", str(tmp_path / "empty"), "-o", str(tmp_path / "o")], "no scans found"),
        (["batch", str(scans[0]), "-o", str(scans[0])], "the output is a file"),
        (["batch", str(scans[0]), "-o", str(tmp_path / "o"), "--resolution", "5"], "resolution"),
        (["batch", str(scans[0]), "-o", str(tmp_path / "o"), "--workers", "0"], "at least 1"),
        (["batch", str(scans[0]), "-o", str(tmp_path / "o"), "--max-points", "3"], "--max-points must be at least"),
        (["batch", str(scans[0]), "-o", str(tmp_path / "o"), "--ray", "sphere.ply"], "not a Ray address"),
    ]
    (tmp_path / "empty").mkdir()
    for argv, words in cases:
        assert _exit_code(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err, (argv, err)
        assert len(err.strip().splitlines()) <= 2 and "Traceback" not in err


def _exit_code(argv: list[str]) -> int:
    """main's return value, or the status of argparse's exit for a bad flag value."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_a_missing_input_fails_its_row(scans, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["batch", str(tmp_path / "nowhere.ply"), "-o", str(out), *FAST])
    assert rc == 1
    (row,) = report_rows(out)
    assert row["status"] == "failed" and "no such file" in row["message"]
