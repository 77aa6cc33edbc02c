"""core/ must import and run with no Qt and no display (STYLE.md, pattern 1)."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import core

ROOT = Path(__file__).resolve().parents[1]

BLOCK_QT = r"""
import sys, importlib, pkgutil
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyvistaqt', 'qtpy', 'shiboken6'):
            raise ImportError('Qt is blocked in core: ' + name)
        return None
sys.meta_path.insert(0, Block())
import core
for m in pkgutil.walk_packages(core.__path__, 'core.'):
    if not m.name.endswith('__main__'):
        importlib.import_module(m.name)
print('ok', len(list(pkgutil.walk_packages(core.__path__, 'core.'))))
"""


def test_core_imports_without_qt():
    out = subprocess.run([sys.executable, "-c", BLOCK_QT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
    n = int(out.stdout.split()[1])
    assert n >= 5  # really walked the package


def test_app_holds_no_mathematics():
    """app/ talks to core/ only; it never imports torch.nn.functional or scipy directly."""
    app_dir = ROOT / "app"
    bad = []
    for path in app_dir.rglob("*.py"):
        text = path.read_text()
        for forbidden in ("import torch.nn", "from torch import nn", "scipy", "skimage", "import open3d"):
            if forbidden in text:
                bad.append(f"{path.relative_to(ROOT)}: {forbidden}")
    assert not bad, bad
