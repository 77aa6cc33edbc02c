"""The core package imports and runs with no Qt and no display.

What may import what is stated as import-linter contracts in pyproject.toml (run by
`make lint`); this test checks the run-time side of the first one: every module of the
core package imports while Qt and VTK's Qt bindings are blocked.
"""

import subprocess
import sys

from tests.conftest import ROOT

BLOCK_QT = r"""
import sys, importlib, pkgutil
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyvistaqt', 'qtpy', 'shiboken6'):
            raise ImportError('Qt is blocked in core: ' + name)
        return None
sys.meta_path.insert(0, Block())
import levelset_studio.core as core
names = [m.name for m in pkgutil.walk_packages(core.__path__, 'levelset_studio.core.')]
for name in names:
    if not name.endswith('__main__'):
        importlib.import_module(name)
print('ok', len(names))
"""


def test_core_imports_without_qt():
    out = subprocess.run([sys.executable, "-c", BLOCK_QT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
    assert int(out.stdout.split()[1]) >= 30  # really walked the package
