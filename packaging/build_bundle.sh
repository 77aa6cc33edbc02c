#!/usr/bin/env bash
# Builds the one-folder LevelSet Studio application with PyInstaller, from a CLEAN
# virtual environment (never the developer's .venv), and reports its size and build time.
#
#   bash packaging/build_bundle.sh               # fresh venv + bundle -> dist/levelset-studio/
#   bash packaging/build_bundle.sh --reuse-venv  # keep build/bundle/venv, reinstall only the app
#   bash packaging/build_bundle.sh --venv-only   # prepare the venv, do not run PyInstaller
#
# Then: bash packaging/smoke_test_bundle.sh
# Environment: PYTHON (default python3), TORCH_VERSION (default 2.13.0),
# PYINSTALLER_VERSION (default 6.22.3), TORCH_INDEX_URL (a PyTorch wheel index, e.g. for a
# CUDA build of the same torch version; default: pip's own index).
# Not part of CI: it takes minutes and downloads ~1 GB of wheels.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
PYINSTALLER_VERSION="${PYINSTALLER_VERSION:-6.22.3}"
BUILD="$REPO/build/bundle"
VENV="$BUILD/venv"
DIST="$REPO/dist"
APP="$DIST/levelset-studio"

reuse=0
venv_only=0
for arg in "$@"; do
  case "$arg" in
    --reuse-venv) reuse=1 ;;
    --venv-only) venv_only=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "build_bundle.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

cd "$REPO"
mkdir -p "$BUILD"
t_start=$(date +%s)

# ---- 1. the clean virtual environment ------------------------------------------------
if [ "$reuse" -eq 0 ] || [ ! -x "$VENV/bin/python" ]; then
  echo "== creating a clean virtual environment in $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # torch first and pinned, so that no other requirement swaps it for a CUDA build
  # (several GB that the bundle would then carry).
  "$VENV/bin/python" -m pip install -q "torch==$TORCH_VERSION" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  "$VENV/bin/python" -m pip install -q -c <(echo "torch==$TORCH_VERSION") \
    "pyinstaller==$PYINSTALLER_VERSION"
fi
echo "== installing LevelSet Studio into the build venv"
# Not editable: PyInstaller must see the installed package, like a user's install.
"$VENV/bin/python" -m pip install -q -c <(echo "torch==$TORCH_VERSION") "$REPO"
# and again without deps, so that --reuse-venv always picks up the current source
"$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$REPO"
# torchattacks' declared dependencies pull a torchvision that breaks the pinned torch.
"$VENV/bin/python" -m pip install -q --no-deps "torchattacks==3.5.1"
rm -rf "$REPO/build/lib" # setuptools' in-tree build output from `pip install .`
t_venv=$(date +%s)
echo "venv ready in $((t_venv - t_start)) s"
"$VENV/bin/python" -m pip list --format=freeze > "$BUILD/venv-freeze.txt"
if [ "$venv_only" -eq 1 ]; then exit 0; fi

# ---- 2. PyInstaller ---------------------------------------------------------------------
echo "== PyInstaller $("$VENV/bin/pyinstaller" --version)"
rm -rf "$APP"
"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$BUILD/work" \
  "$REPO/packaging/pyinstaller/levelset-studio.spec"
t_end=$(date +%s)

# ---- 3. report --------------------------------------------------------------------------
size=$(du -sh "$APP" | cut -f1)
size_mb=$(du -sm "$APP" | cut -f1)
files=$(find "$APP" -type f | wc -l)
{
  echo "bundle:        $APP"
  echo "size:          $size ($size_mb MiB, $files files)"
  echo "venv time:     $((t_venv - t_start)) s"
  echo "pyinstaller:   $((t_end - t_venv)) s"
  echo "total time:    $((t_end - t_start)) s"
  echo "largest parts:"
  du -sm "$APP"/_internal/* 2>/dev/null | sort -rn | head -12 | sed 's/^/  /'
} | tee "$BUILD/report.txt"
echo "next: bash packaging/smoke_test_bundle.sh"
