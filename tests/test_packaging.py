"""Packaging checks fast enough for CI: the wheel (what `pip install` gives users), the Linux
desktop entry and its MIME types, and the PyInstaller recipe's consistency. Building the
bundle itself is too slow for CI: packaging/build_bundle.sh + smoke_test_bundle.sh."""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from importlib.metadata import version as dist_version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
LINUX = PACKAGING / "linux"
DESKTOP = LINUX / "levelset-studio.desktop"
MIME_XML = LINUX / "levelset-studio-mime.xml"
SPEC = PACKAGING / "pyinstaller" / "levelset-studio.spec"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
SCAN_EXTENSIONS = ("ply", "pcd", "xyz", "obj", "stl", "off", "e57", "las", "laz")


def _new_enough_setuptools() -> bool:
    """setuptools >= 70.1 builds wheels by itself (no `wheel` package needed)."""
    try:
        major, minor = (int(x) for x in dist_version("setuptools").split(".")[:2])
    except Exception:  # noqa: BLE001 - absent or unparsable: use an isolated build
        return False
    return (major, minor) >= (70, 1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The project's wheel, built by pip from a copy of the source (nothing is written into
    the checkout). Reuses this venv's setuptools when it can: seconds instead of ~20 s."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    for name in ("core", "app", "resources"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp / "dist")]
    if _new_enough_setuptools():
        cmd.insert(5, "--no-build-isolation")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"pip wheel failed:\n{proc.stderr[-3000:]}"
    wheels = list((tmp / "dist").glob("levelset_studio-*.whl"))
    assert len(wheels) == 1, wheels
    zf = zipfile.ZipFile(wheels[0])
    yield zf
    zf.close()


def _dist_info_file(zf: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in zf.namelist() if n.endswith(f".dist-info/{name}")]
    return zf.read(path).decode()


def _source_files(package: str, pattern: str) -> set[str]:
    base = ROOT / package
    return {p.relative_to(ROOT).as_posix() for p in base.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts}


# ---- the wheel -----------------------------------------------------------------------------


PACKAGE = "levelset_studio"
FOLDERS = ("core", "app", "resources")  # installed as levelset_studio.<folder>


def _installed_name(source: str) -> str:
    """Where a repository file lands in the wheel: core/x.py -> levelset_studio/core/x.py."""
    return f"{PACKAGE}/{source}"


def test_wheel_holds_exactly_one_top_level_package(wheel: zipfile.ZipFile) -> None:
    tops = {n.split("/")[0] for n in wheel.namelist() if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {PACKAGE}, f"top-level names in the wheel: {sorted(tops)}"


def test_every_folder_with_modules_is_a_declared_package() -> None:
    """A folder with an __init__.py that pyproject's package list misses would be silently
    left out of `pip install`."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        PACKAGE + "." + ".".join(p.parent.relative_to(ROOT).parts)
        for folder in FOLDERS
        for p in (ROOT / folder).rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found == declared, f"missing: {sorted(found - declared)}; stale: {sorted(declared - found)}"


def test_wheel_contains_every_module_of_core_and_app(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    source = _source_files("core", "*.py") | _source_files("app", "*.py")
    assert {"core/cli/__init__.py", "app/main.py"} <= source
    missing = sorted(s for s in source if _installed_name(s) not in names)
    assert not missing, f"modules missing from the wheel: {missing}"


def test_wheel_contains_the_resources(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    data = {f for f in _source_files("resources", "*") if not f.endswith((".py", ".pyc"))}
    assert {"resources/icons/levelset-studio.svg", "resources/icons/levelset-studio.png"} <= data
    missing = sorted(f for f in data if _installed_name(f) not in names)
    assert not missing, f"resource files missing from the wheel (pyproject package-data?): {missing}"


def test_wheel_contains_the_sample_scan(wheel: zipfile.ZipFile) -> None:
    info = wheel.getinfo(_installed_name("resources/sample_scan.ply"))
    assert info.file_size > 1000


def test_resources_are_found_through_the_package() -> None:
    from levelset_studio.resources import SAMPLE_SCAN, resource_path

    assert SAMPLE_SCAN.is_file()
    assert resource_path("icons/levelset-studio.svg").is_file()


def test_wheel_declares_the_cli_and_the_gui_entry_points(wheel: zipfile.ZipFile) -> None:
    ep = configparser.ConfigParser(interpolation=None)
    ep.read_string(_dist_info_file(wheel, "entry_points.txt"))
    assert ep["console_scripts"]["levelset"].strip() == "levelset_studio.core.cli:main"
    # a gui script: no console window opens on Windows
    assert ep["gui_scripts"]["levelset-studio"].strip() == "levelset_studio.app.main:main"
    assert "levelset-studio" not in ep["console_scripts"]
    # the GUI adds its own `levelset gui` subcommand: the CLI in core never imports the GUI
    assert ep["levelset_studio.commands"]["gui"].strip() == "levelset_studio.app.cli_gui:register"


def test_entry_point_targets_exist() -> None:
    import importlib

    targets = ("levelset_studio.core.cli:main", "levelset_studio.app.main:main", "levelset_studio.app.cli_gui:register")
    for target in targets:
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), target


def test_wheel_metadata_requires_the_stack_but_not_torchvision(wheel: zipfile.ZipFile) -> None:
    meta = _dist_info_file(wheel, "METADATA")
    requires = [
        line.split(":", 1)[1].strip().lower() for line in meta.splitlines() if line.startswith("Requires-Dist:")
    ]
    for dep in ("torch", "numpy", "pyvista", "pyvistaqt", "pyside6-essentials", "open3d", "trimesh"):
        assert any(r.startswith(dep) for r in requires), f"{dep} missing from Requires-Dist"
    # torchattacks' own pin on torchvision would replace the pinned torch: installed --no-deps
    assert not any(r.startswith(("torchvision", "torchattacks")) for r in requires if "extra ==" not in r)


# ---- the Linux desktop entry -------------------------------------------------------------------


def _desktop_entry() -> configparser.SectionProxy:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # keys are case-sensitive
    cp.read(DESKTOP, encoding="utf-8")
    return cp["Desktop Entry"]


def _mime_types_from_xml() -> dict[str, list[str]]:
    root = ET.parse(MIME_XML).getroot()
    return {
        t.get("type"): [g.get("pattern") for g in t.findall(f"{MIME_NS}glob")]
        for t in root.findall(f"{MIME_NS}mime-type")
    }


def test_desktop_entry_parses_and_runs_the_gui_script() -> None:
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "LevelSet Studio"
    exec_words = entry["Exec"].split()
    assert exec_words[0] == "levelset-studio" and exec_words[-1] in ("%F", "%U")
    assert entry["Terminal"] == "false"


def test_desktop_entry_icon_exists_in_resources() -> None:
    icon = _desktop_entry()["Icon"]
    assert "/" not in icon and "." not in icon, "a themed icon name, installed by the script"
    for ext in ("svg", "png"):
        assert (ROOT / "resources" / "icons" / f"{icon}.{ext}").is_file()
    png = (ROOT / "resources" / "icons" / f"{icon}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ET.parse(ROOT / "resources" / "icons" / f"{icon}.svg")  # well-formed SVG


def test_desktop_entry_mime_types_cover_the_scan_formats() -> None:
    listed = [m for m in _desktop_entry()["MimeType"].split(";") if m]
    defined = _mime_types_from_xml()
    assert set(listed) == set(defined), "every listed type is defined in the MIME XML and vice versa"
    globs = {g for patterns in defined.values() for g in patterns}
    assert globs == {f"*.{ext}" for ext in SCAN_EXTENSIONS}


def test_mime_types_follow_the_format_registry() -> None:
    from levelset_studio.core.surface.scans.formats import SCAN_FORMATS

    defined = _mime_types_from_xml()
    registered = {f.mime: f for f in SCAN_FORMATS if f.mime}
    assert set(registered) == set(defined)
    for mime, spec in registered.items():
        assert defined[mime] and {g[1:] for g in defined[mime]} <= set(spec.extensions), mime


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-validate not installed")
def test_desktop_file_validate_accepts_it() -> None:
    proc = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_install_script_installs_and_uninstalls_for_the_user(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    exe = tmp_path / "bundle" / "levelset-studio"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    script = str(LINUX / "install-desktop-entry.sh")
    proc = subprocess.run(["bash", script, "--exec", str(exe)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    share = tmp_path / "share"
    installed = share / "applications" / "levelset-studio.desktop"
    assert (share / "icons/hicolor/scalable/apps/levelset-studio.svg").is_file()
    assert (share / "icons/hicolor/256x256/apps/levelset-studio.png").is_file()
    assert (share / "mime/packages/levelset-studio-mime.xml").is_file()
    assert f'Exec="{exe}" %F' in installed.read_text()
    if shutil.which("update-mime-database"):
        globs2 = (share / "mime" / "globs2").read_text()
        for ext in SCAN_EXTENSIONS:
            assert f":*.{ext}" in globs2, ext
        assert "model/x-ply:*.ply" in globs2
    proc = subprocess.run(["bash", script, "--uninstall"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not installed.exists()
    assert not (share / "mime/packages/levelset-studio-mime.xml").exists()
    assert not (share / "icons/hicolor/scalable/apps/levelset-studio.svg").exists()


def test_install_script_rejects_a_missing_program(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    proc = subprocess.run(
        ["bash", str(LINUX / "install-desktop-entry.sh"), "--exec", str(tmp_path / "nope")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "is not an executable file" in proc.stderr
    assert not (tmp_path / "share" / "applications" / "levelset-studio.desktop").exists()


# ---- the PyInstaller recipe and the scripts --------------------------------------------------


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))  # a SyntaxError fails the test
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_spec_is_python_and_names_existing_scripts_and_resources() -> None:
    strings = _string_constants(SPEC)
    for script in ("levelset_entry.py", "levelset_studio_entry.py", "pyi_rth_levelset.py"):
        assert script in strings
        assert (SPEC.parent / script).is_file()
    assert "levelset_studio.resources" in strings
    assert {"plotly", "dash", "tkinter", "IPython"} <= strings, "excluded modules"
    assert {"levelset_studio.core", "levelset_studio.app"} <= strings, "collect_submodules: commands load by name"


def test_bundle_launchers_call_the_declared_entry_points() -> None:
    expected = {"levelset_entry.py": "levelset_studio.core.cli", "levelset_studio_entry.py": "levelset_studio.app.main"}
    for script, module in expected.items():
        tree = ast.parse((SPEC.parent / script).read_text())
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert any(n.module == module and [a.name for a in n.names] == ["main"] for n in imports), script


def test_runtime_hook_lets_open3d_import_without_plotly_and_dash() -> None:
    """What the bundle does: plotly and dash are absent, open3d still imports and works,
    and its plotly drawing fails with a clear ImportError."""
    code = f"""
import importlib.util, sys
real = importlib.util.find_spec
importlib.util.find_spec = lambda n, *a: None if n.split('.')[0] in ('plotly', 'dash') else real(n, *a)
exec(compile(open({str(SPEC.parent / "pyi_rth_levelset.py")!r}).read(), 'pyi_rth_levelset.py', 'exec'))
importlib.util.find_spec = real
import open3d as o3d
pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]))
assert len(pc.points) == 3
# inspect (and PyInstaller's runtime hook for it) read __file__ of every loaded module
assert all(isinstance(getattr(m, '__file__', None), (str, type(None))) for m in list(sys.modules.values()))
import copy, pickle
assert copy.copy(sys.modules['dash'].html) is not None
assert not any(m == 'dash' or m.startswith('dash.') for m in sys.modules if not getattr(sys.modules[m], '__levelset_left_out__', False))
try:
    o3d.visualization.draw_plotly([pc])
except ImportError as exc:
    print('left out:', exc)
else:
    raise SystemExit('draw_plotly did not fail')
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "is not included in the LevelSet Studio bundle" in proc.stdout


@pytest.mark.parametrize(
    "script",
    ["build_bundle.sh", "smoke_test_bundle.sh", "linux/install-desktop-entry.sh", "install-system-deps.sh"],
)
def test_shell_scripts_are_valid_bash(script: str) -> None:
    path = PACKAGING / script
    proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_smoke_test_reports_a_missing_bundle(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(PACKAGING / "smoke_test_bundle.sh"), str(tmp_path / "no-bundle")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no bundle at" in proc.stderr
