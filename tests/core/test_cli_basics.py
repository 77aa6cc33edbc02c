import subprocess
import sys

from levelset_studio.core.cli import main


def test_version_lists_libraries(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    for key in ("LevelSet Studio", "torch", "open3d", "VTK", "Qt", "device"):
        assert key in out


def test_unknown_command_is_one_line_exit_2():
    r = subprocess.run([sys.executable, "-m", "levelset_studio.core.cli", "frobnicate"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("levelset: error:")
    assert "Traceback" not in r.stderr
