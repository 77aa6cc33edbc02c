"""`levelset batch --ray` on a real local Ray instance (ray.init(num_cpus=2), no mocks)."""

from __future__ import annotations

import sys

import pytest

from levelset_studio.core.cli import main
from tests.surface.batch.checks import check_ok_row, no_temporary_files, report_rows
from tests.surface.batch.conftest import FAST, SHAPES

ray = pytest.importorskip("ray", reason="Ray is the 'cluster' extra (make setup installs it)")


@pytest.fixture(scope="module")
def local_ray():
    """A two-CPU Ray instance in this process; `levelset batch --ray` uses it as it is."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_reconstructs_three_scans_isolates_a_corrupt_one_and_resumes(local_ray, scans, corrupt, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["batch", *map(str, scans), "-o", str(out), "--ray", *FAST]
    assert main(argv) == 0
    rows = report_rows(out)
    assert [r["name"] for r in rows] == list(SHAPES)
    node_ip = local_ray.util.get_node_ip_address()
    for row in rows:
        check_ok_row(row, out, f"ray node {node_ip}")
    assert sorted(p.name for p in out.glob("*.ply")) == sorted(f"{s}.ply" for s in SHAPES)
    no_temporary_files(out)
    err = capsys.readouterr().err
    assert "as Ray tasks on the Ray instance of this process" in err and "3 ok, 0 failed, 0 skipped" in err
    assert local_ray.is_initialized()  # a Ray the batch did not start is left running

    # a rerun skips all three
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert all(f"skip {s}: done already" in err for s in SHAPES) and "0 ok, 0 failed, 3 skipped" in err

    # a corrupt file among them fails its row only
    out2 = tmp_path / "out2"
    rc = main(["batch", str(scans[0]), str(corrupt), str(scans[2]), "-o", str(out2), "--ray", *FAST])
    assert rc == 1
    rows = report_rows(out2)
    assert [(r["name"], r["status"]) for r in rows] == [("sphere", "ok"), ("broken", "failed"), ("rounded_box", "ok")]
    assert "truncated" in rows[1]["message"] and f"ray node {node_ip}" in rows[1]["node"]
    check_ok_row(rows[0], out2, "ray node")
    check_ok_row(rows[2], out2, "ray node")
    assert not (out2 / "broken.ply").exists()


@pytest.mark.slow  # it starts Ray (the fixture)
def test_cuda_jobs_on_a_cluster_without_gpus_are_refused_in_one_line(local_ray, scans, tmp_path, capsys):
    rc = main(["batch", str(scans[0]), "-o", str(tmp_path / "o"), "--ray", "--device", "cuda", *FAST])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("levelset: error: --device cuda") and "GPU" in err and len(err.splitlines()) == 1


def test_without_ray_the_flag_names_the_extra(scans, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when it is not installed
    rc = main(["batch", str(scans[0]), "-o", str(tmp_path / "o"), "--ray", *FAST])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err == "levelset: error: --ray needs Ray, an optional extra: pip install 'levelset-studio[cluster]'"
    assert not (tmp_path / "o").exists()


def test_an_address_where_no_ray_head_listens_fails_fast_in_one_line(scans, tmp_path, capsys):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rc = main(["batch", str(scans[0]), "-o", str(tmp_path / "o"), "--ray", f"ray://127.0.0.1:{port}", *FAST])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err == f"levelset: error: --ray ray://127.0.0.1:{port}: no Ray head answers there (Connection refused)"
