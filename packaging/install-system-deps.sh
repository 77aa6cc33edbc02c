#!/usr/bin/env bash
# Installs the Debian packages that open3d, headless Qt and OpenGL need, when missing.
# Does nothing on systems without dpkg (macOS, Windows): there the wheels carry what they need.
set -euo pipefail
PKGS=(libusb-1.0-0 xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-cursor0
      libgl1 libegl1 libgl1-mesa-dri libxcb-image0 libxcb-render-util0 libxcb-shape0
      libxcb-randr0 libxcb-xinerama0 libxcb-xkb1 libfontconfig1 libdbus-1-3 python3-venv)
command -v dpkg-query >/dev/null 2>&1 || exit 0
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing system packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Please install as root: apt-get install ${missing[*]}" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
