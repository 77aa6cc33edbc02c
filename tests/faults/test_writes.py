"""Failed writes: a read-only folder, a full disk (a file-size limit, and a tiny tmpfs where
this machine lets us mount one), a folder that vanished. Each leaves no partial file, the
old file untouched, and a message that names the file and the reason."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from levelset_studio.core.atomic import atomic_write
from levelset_studio.core.cli import main
from levelset_studio.core.errors import LevelSetError, WriteError
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.meshes.meshio import write_mesh
from levelset_studio.core.surface.session import LayerRecord, SessionData, write_session
from tests.conftest import ROOT

OLD = b"the old file, which must survive\n"


def _big_session(scan_file: Path) -> SessionData:
    """A session whose arrays do not compress (random vertices): about 2.4 MB."""
    rng = np.random.default_rng(0)
    v = rng.normal(size=(100_000, 3))
    f = rng.integers(0, len(v), size=(1000, 3))
    return SessionData([str(scan_file)], layers=[LayerRecord("m", "levelset", vertices=v, faces=f)])


def _mesh() -> Mesh:
    rng = np.random.default_rng(1)
    v = rng.normal(size=(60_000, 3))
    return Mesh(v, rng.integers(0, len(v), size=(60_000, 3)))


def _only_the_old_file(folder: Path, name: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [name], "a partial file was left behind"
    assert (folder / name).read_bytes() == OLD, "the old file was changed"


def _writers(scan_file, trained):
    rec, _ = trained
    return {
        "session": lambda p: write_session(p, _big_session(scan_file)),
        "checkpoint": lambda p: rec.save_checkpoint(p),
        "mesh": lambda p: write_mesh(_mesh(), p),
    }


NAMES = {"session": "work.lss", "checkpoint": "run.ckpt", "mesh": "mesh.ply"}


@pytest.mark.parametrize("what", list(NAMES))
def test_a_vanished_folder_is_named(what, scan_file, trained, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    gone.rmdir()
    target = gone / NAMES[what]
    with pytest.raises(LevelSetError) as err:
        _writers(scan_file, trained)[what](target)
    assert str(target) in str(err.value) and "does not exist" in str(err.value)
    assert not gone.exists()


def test_a_folder_removed_during_the_write_leaves_nothing(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()

    def write(fh):
        fh.write(b"half")
        shutil.rmtree(folder)  # someone removes the folder while we write

    with pytest.raises(WriteError) as err:
        atomic_write(folder / "x.lss", write, what="session")
    assert "x.lss" in str(err.value) and "no longer exists" in str(err.value)


def test_a_writer_failing_halfway_keeps_the_old_file(tmp_path):
    target = tmp_path / "work.lss"
    target.write_bytes(OLD)

    def write(fh):
        fh.write(b"x" * 10_000)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError) as err:
        atomic_write(target, write, what="session")
    assert str(err.value) == f"{target}: cannot write the session: the disk is full"
    _only_the_old_file(tmp_path, "work.lss")


def _read_only_folder(tmp_path: Path, name: str):
    """A folder holding the old file ``name`` that this process cannot write into: chmod,
    or (as root, whom permissions do not stop) a read-only tmpfs."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        (folder / name).write_bytes(OLD)
        os.chmod(folder, 0o555)
        return folder, lambda: os.chmod(folder, 0o755)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("running as root without the right to mount: permissions cannot stop a write here")
    (folder / name).write_bytes(OLD)
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    return folder, lambda: subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize("what", list(NAMES))
def test_a_read_only_folder_is_refused_and_the_old_file_kept(what, scan_file, trained, tmp_path):
    folder, undo = _read_only_folder(tmp_path, NAMES[what])
    try:
        with pytest.raises(LevelSetError) as err:
            _writers(scan_file, trained)[what](folder / NAMES[what])
        msg = str(err.value).lower()
        assert NAMES[what] in msg and ("read-only" in msg or "permission denied" in msg), msg
        _only_the_old_file(folder, NAMES[what])
    finally:
        undo()


LIMITED = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from levelset_studio.core.errors import LevelSetError
    from levelset_studio.core.surface.meshes.mesh import Mesh
    from levelset_studio.core.surface.meshes.meshio import write_mesh
    from levelset_studio.core.surface.session import LayerRecord, SessionData, write_session
    rng = np.random.default_rng(0)
    v = rng.normal(size=(100_000, 3))
    f = rng.integers(0, len(v), size=(1000, 3))
    target = sys.argv[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # a 200 kB file-size limit
    try:
        if target.endswith(".lss"):
            write_session(target, SessionData([sys.argv[2]], layers=[LayerRecord("m", "levelset", vertices=v, faces=f)]))
        else:
            write_mesh(Mesh(v, rng.integers(0, len(v), size=(60_000, 3))), target)
    except LevelSetError as exc:
        print(exc)
        sys.exit(2)
    """
)


@pytest.mark.parametrize("name", ["work.lss", "mesh.ply"])
def test_a_file_size_limit_is_a_full_disk_and_the_old_file_stays(name, scan_file, tmp_path):
    target = tmp_path / name
    target.write_bytes(OLD)
    r = subprocess.run(
        [sys.executable, "-c", LIMITED, str(target), str(scan_file)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert str(target) in r.stdout and any(
        t in r.stdout.lower() for t in ("larger than this system allows", "too large")
    )
    _only_the_old_file(tmp_path, name)


def test_a_full_tmpfs_leaves_the_old_session(scan_file, tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the file-size limit test covers a full disk")
    try:
        (folder / "work.lss").write_bytes(OLD)
        with pytest.raises(WriteError) as err:
            write_session(folder / "work.lss", _big_session(scan_file))
        assert str(err.value) == f"{folder / 'work.lss'}: cannot write the session: the disk is full"
        _only_the_old_file(folder, "work.lss")
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_reconstruct_refuses_an_unwritable_destination_before_training(scan_file, tmp_path, capsys):
    gone = tmp_path / "gone" / "w.lss"
    rc = main(["reconstruct", str(scan_file), "-o", str(tmp_path / "m.ply"), "--save-session", str(gone)])
    err = capsys.readouterr().err
    assert rc == 2 and str(gone) in err and "does not exist" in err
    assert "steps" not in err  # refused before any training
