"""Runtime hook of the LevelSet Studio bundle; runs before the app's own code.

1. open3d imports plotly and dash at import time, only for its Jupyter/web drawing
   (open3d.visualization.draw_plotly), which LevelSet Studio never calls. The bundle leaves
   them out together with what they pull in (flask, werkzeug, IPython, pydantic, narwhals:
   about 150 MB). Placeholder modules let `import open3d` succeed; touching anything in them
   raises ImportError naming the module, so a use can never pass silently.
2. pyvistaqt reaches Qt through qtpy: pin it to PySide6, the only binding in the bundle.
"""

import importlib.util
import os
import sys
import types

os.environ.setdefault("QT_API", "pyside6")


class _LeftOut:
    """Stands for a name from a module that the bundle does not contain."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _fail(self, *args, **kwargs):
        raise ImportError(f"{self._name} is not included in the LevelSet Studio bundle")

    __call__ = _fail

    def __getattr__(self, attr: str):
        if attr.startswith("__"):  # protocol probes (copy, pickle, inspect) see a plain object
            raise AttributeError(attr)
        self._fail()


def _placeholder(name: str) -> types.ModuleType:
    module = types.ModuleType(name, f"{name}: left out of the LevelSet Studio bundle")
    module.__path__ = []  # a package, so that submodules can hang below it
    module.__levelset_left_out__ = True

    def __getattr__(attr: str):  # PEP 562: any public name stands for the left-out one
        if attr.startswith("__"):
            # __file__, __spec__...: what inspect and importlib probe on every module
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        return _LeftOut(f"{name}.{attr}")

    module.__getattr__ = __getattr__
    return module


def _install_placeholders(names: tuple[str, ...]) -> None:
    tops = {name.split(".")[0] for name in names}
    # a package that is there (in the bundle or imported already) is used as it is
    left_out = {top for top in tops if top not in sys.modules and importlib.util.find_spec(top) is None}
    for name in names:
        if name.split(".")[0] not in left_out or name in sys.modules:
            continue
        sys.modules[name] = _placeholder(name)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, sys.modules[name])


_install_placeholders(("plotly", "plotly.graph_objects", "dash"))
