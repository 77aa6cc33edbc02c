"""Damaged checkpoints (`reconstruct --resume FILE`) and scans: one line, exit 2, nothing run."""

from __future__ import annotations

import pytest

from levelset_studio.core.cli import main
from tests.faults.conftest import SMALL_FLAGS
from tests.faults.corpus import MARKER_NAME, checkpoint_corpus, scan_corpus

CHECKPOINTS = {c.name: c for c in checkpoint_corpus()}
SCANS = {c.name: c for c in scan_corpus()}


def _refused(capsys, argv: list[str], expect: str) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("levelset: error: ") and err.count("\n") == 1 and expect in err, err
    return err


@pytest.mark.parametrize("case_name", list(CHECKPOINTS))
def test_a_damaged_checkpoint_is_refused(case_name, good_checkpoint, scan_file, tmp_path, capsys):
    case = CHECKPOINTS[case_name]
    bad = case.build(good_checkpoint, tmp_path / "bad.ckpt")
    out = tmp_path / "m.ply"
    err = _refused(
        capsys, ["reconstruct", str(scan_file), "-o", str(out), "--resume", str(bad), *SMALL_FLAGS], case.expect
    )
    assert "bad.ckpt" in err and not out.exists()
    assert not (tmp_path / MARKER_NAME).exists(), "something in the checkpoint was executed"


@pytest.mark.parametrize("case_name", list(SCANS))
def test_a_damaged_scan_is_refused(case_name, tmp_path, capsys):
    case = SCANS[case_name]
    bad = case.build(tmp_path / "unused", tmp_path / "x")
    out = tmp_path / "m.ply"
    _refused(capsys, ["reconstruct", str(bad), "-o", str(out), "--iterations", "2", *SMALL_FLAGS], case.expect)
    assert not out.exists()
