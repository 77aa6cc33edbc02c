#!/usr/bin/env bash
# Installs the LevelSet Studio desktop entry for the current user (no root needed):
# the .desktop file, the app icon and MIME types for .ply .pcd .xyz .obj .stl .off, so that
# scans open with the app from a file manager. Everything goes under ~/.local/share
# (or $XDG_DATA_HOME).
#
#   bash packaging/linux/install-desktop-entry.sh                 # Exec=levelset-studio (on PATH)
#   bash packaging/linux/install-desktop-entry.sh --exec /opt/levelset-studio/levelset-studio
#   bash packaging/linux/install-desktop-entry.sh --uninstall
#
# --exec points the entry at a given program, e.g. the PyInstaller bundle's launcher or a
# venv's bin/levelset-studio. Without it the entry runs `levelset-studio` from PATH, as
# installed by `pip install`.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APP_ID="levelset-studio"
DESKTOP_DIR="$DATA/applications"
MIME_DIR="$DATA/mime"
ICON_DIR="$DATA/icons/hicolor"
SVG="$REPO/resources/icons/$APP_ID.svg"
PNG="$REPO/resources/icons/$APP_ID.png"

mode=install
exec_path=""
while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) mode=uninstall ;;
    --exec) exec_path="${2:?--exec needs a program path}"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install-desktop-entry.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

refresh_caches() {
  # Each tool is optional: without it the desktop picks up the change at next login.
  if command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$MIME_DIR" >/dev/null 2>&1 || true; fi
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$DESKTOP_DIR" || true; fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t -f "$ICON_DIR" 2>/dev/null || true; fi
}

if [ "$mode" = uninstall ]; then
  rm -f "$DESKTOP_DIR/$APP_ID.desktop" \
        "$MIME_DIR/packages/$APP_ID-mime.xml" \
        "$ICON_DIR/scalable/apps/$APP_ID.svg" \
        "$ICON_DIR/256x256/apps/$APP_ID.png"
  refresh_caches
  echo "LevelSet Studio desktop entry removed from $DATA"
  exit 0
fi

for f in "$HERE/$APP_ID.desktop" "$HERE/$APP_ID-mime.xml" "$SVG" "$PNG"; do
  [ -f "$f" ] || { echo "install-desktop-entry.sh: missing $f" >&2; exit 1; }
done
if [ -n "$exec_path" ]; then
  [ -x "$exec_path" ] || { echo "install-desktop-entry.sh: $exec_path is not an executable file" >&2; exit 1; }
  exec_path="$(cd "$(dirname "$exec_path")" && pwd)/$(basename "$exec_path")"
elif ! command -v "$APP_ID" >/dev/null 2>&1; then
  echo "note: '$APP_ID' is not on PATH yet (pip install the app, or pass --exec PATH)" >&2
fi

mkdir -p "$DESKTOP_DIR" "$MIME_DIR/packages" "$ICON_DIR/scalable/apps" "$ICON_DIR/256x256/apps"
install -m 644 "$SVG" "$ICON_DIR/scalable/apps/$APP_ID.svg"
install -m 644 "$PNG" "$ICON_DIR/256x256/apps/$APP_ID.png"
install -m 644 "$HERE/$APP_ID-mime.xml" "$MIME_DIR/packages/$APP_ID-mime.xml"
target="$DESKTOP_DIR/$APP_ID.desktop"
if [ -n "$exec_path" ]; then
  # Quote the path for the Exec key (spaces); TryExec takes it unquoted.
  sed -e "s|^Exec=.*|Exec=\"$exec_path\" %F|" -e "s|^TryExec=.*|TryExec=$exec_path|" \
    "$HERE/$APP_ID.desktop" > "$target"
  chmod 644 "$target"
else
  install -m 644 "$HERE/$APP_ID.desktop" "$target"
fi
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$target"
  echo "desktop-file-validate: $target is valid"
fi
refresh_caches
echo "LevelSet Studio desktop entry installed in $DATA (uninstall: $0 --uninstall)"
