"""Sessions: a good one restores every layer, the history and the step; each damaged one in
the corpus is refused with its one-line reason (exit 2 in the CLI) and nothing in it runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from levelset_studio.core.cli import main
from levelset_studio.core.errors import ScanMovedError, SessionError
from levelset_studio.core.surface.restore import restore_session
from levelset_studio.core.surface.session import LayerRecord, SessionData, read_session, write_session
from tests.conftest import ROOT
from tests.faults.corpus import MARKER_NAME, corpus

CASES = {c.name: c for c in corpus()}


def test_a_good_session_restores_every_layer_the_history_and_the_step(good_session, trained, scan_file):
    rec, mesh = trained
    restored = restore_session(good_session)
    kinds = [lay.record.kind for lay in restored.layers]
    assert kinds == ["scan", "levelset"]
    level = restored.layers[1].data
    np.testing.assert_array_equal(level.faces, mesh.faces)
    np.testing.assert_allclose(level.vertices, mesh.vertices)
    assert len(restored.layers[0].data) == len(rec.scan)
    assert restored.step == rec.step == 6
    assert restored.history == {"step": [1.0, 2.0, 3.0], "loss": [0.9, 0.5, 0.4]}
    assert restored.reconstructor.network_name == rec.network_name
    # the restored network is the saved one: same values at the same points
    import torch

    x = torch.rand(64, 3) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(restored.reconstructor.net(x), rec.net(x))


def test_layer_looks_round_trip(tmp_path, scan_file):
    layers = [
        LayerRecord("scan", "scan", title="sphere.ply", color="#6fa8dc", visible=False, opacity=0.4),
        LayerRecord(
            "poisson",
            "poisson",
            title="Poisson",
            color="#93c47d",
            vertices=np.eye(3),
            faces=np.array([[0, 1, 2]]),
            info={"faces": 1},
        ),
        LayerRecord("trim", "trimmed", title="Trimmed", vertices=np.eye(3) * 2, faces=np.array([[0, 2, 1]])),
    ]
    path = write_session(tmp_path / "w.lss", SessionData([str(scan_file)], layers=layers, step=0))
    data = read_session(path, tmp_path)
    got = {lay.name: lay for lay in data.layers}
    assert [lay.kind for lay in data.layers] == ["scan", "poisson", "trimmed"]
    assert got["scan"].visible is False and got["scan"].opacity == pytest.approx(0.4)
    assert got["poisson"].color == "#93c47d" and got["poisson"].info == {"faces": 1}
    np.testing.assert_array_equal(got["trim"].vertices, np.eye(3) * 2)
    assert data.scans[0].size == scan_file.stat().st_size and len(data.scans[0].sha256) == 64


def test_a_version_1_session_still_opens(good_session, tmp_path, scan_file):
    """The first format: settings and the checkpoint, no layers; the level set is meshed again."""
    with zipfile.ZipFile(good_session) as z:
        ckpt = z.read("checkpoint.pt")
        recon = json.loads(z.read("session.json"))["reconstruction"]
    v1 = tmp_path / "old.lss"
    doc = {
        "format": "levelset-studio-session",
        "version": 1,
        "scan_files": [{"path": str(scan_file), "relative": None}],
        "cleaning": None,
        "reconstruction": recon,
        "poisson": {},
        "extra": {},
        "has_checkpoint": True,
    }
    with zipfile.ZipFile(v1, "w") as z:
        z.writestr("session.json", json.dumps(doc))
        z.writestr("checkpoint.pt", ckpt)
    restored = restore_session(v1)
    assert restored.data.version == 1 and restored.step == 6
    assert [lay.record.kind for lay in restored.layers] == ["scan", "levelset"]
    assert restored.layers[1].data.n_faces > 100


@pytest.mark.parametrize("case_name", list(CASES))
def test_a_damaged_session_is_refused_with_one_line(case_name, good_session, tmp_path, capsys):
    case = CASES[case_name]
    bad = case.build(good_session, tmp_path / "bad.lss")
    with pytest.raises(SessionError) as err:
        restore_session(bad)
    msg = str(err.value)
    assert "\n" not in msg and case.expect in msg and "bad.lss" in msg, msg
    # the CLI: exit 2, one line, no traceback; nothing written
    rc = main(["reconstruct", "--resume-session", str(bad), "-o", str(tmp_path / "out.ply")])
    out = capsys.readouterr()
    assert rc == 2
    assert out.err.strip().count("\n") == 0 and out.err.startswith("levelset: error: ") and case.expect in out.err
    assert not (tmp_path / "out.ply").exists()
    assert not (tmp_path / MARKER_NAME).exists(), "something in the session was executed"


def test_the_cli_refuses_a_damaged_session_in_a_real_process(good_session, tmp_path):
    bad = CASES["checkpoint with a pickle payload"].build(good_session, tmp_path / "bad.lss")
    r = subprocess.run(
        [sys.executable, "-m", "levelset_studio.core.cli", "reconstruct", "--resume-session", str(bad), "-o", "x.ply"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("levelset: error: ") and "Traceback" not in r.stderr
    assert "cannot be read" in r.stderr and not (tmp_path / MARKER_NAME).exists()


def test_a_moved_scan_is_named_and_can_be_given_back(good_session, scan_file, tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    moved_scan = work / "sphere.ply"
    shutil.copy(scan_file, moved_scan)
    session = work / "s.lss"
    shutil.copy(good_session, session)
    # point the session at the copy, then move the copy away
    with zipfile.ZipFile(session) as z:
        members = {n: z.read(n) for n in z.namelist()}
    doc = json.loads(members["session.json"])
    doc["scan"]["files"][0].update(path=str(moved_scan), relative="sphere.ply")
    members["session.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(session, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    elsewhere = tmp_path / "elsewhere.ply"
    moved_scan.rename(elsewhere)

    with pytest.raises(ScanMovedError) as err:
        restore_session(session)
    assert err.value.missing == str(moved_scan) and "moved or deleted" in str(err.value)
    rc = main(["reconstruct", "--resume-session", str(session), "-o", str(tmp_path / "o.ply")])
    assert rc == 2 and str(moved_scan) in capsys.readouterr().err

    restored = restore_session(session, replacements={str(moved_scan): str(elsewhere)})
    assert restored.step == 6 and restored.data.scan_files == [str(elsewhere)]

    # a different file given in its place is refused, naming it
    other = tmp_path / "other.ply"
    other.write_bytes(elsewhere.read_bytes() + b"\n")
    with pytest.raises(ScanMovedError, match="is not the session's scan"):
        restore_session(session, replacements={str(moved_scan): str(other)})
