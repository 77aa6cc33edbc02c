#!/usr/bin/env bash
# Smoke-tests the built one-folder app (dist/levelset-studio/, from build_bundle.sh) headless,
# in an empty environment (no venv, no repository on the path), as a user would run it:
#   1. `levelset --version` lists the app, torch, open3d, VTK, Qt and the device;
#   2. the bundled `levelset` reconstructs the bundled sample scan and writes a mesh;
#   3. under xvfb-run, the GUI opens the sample (`levelset gui SAMPLE --screenshot --quit`)
#      and runs `levelset gui SAMPLE --reconstruct --screenshot --quit`: exit 0 and a PNG of
#      the window each time (skipped, and said so, without xvfb-run).
#
#   bash packaging/smoke_test_bundle.sh [APP_DIR]      # default dist/levelset-studio
# Environment: ITERATIONS (default 50), RESOLUTION (default 64), GUI_TIME_BUDGET (default 20),
# SMOKE_OUT (default: a new temporary folder),
# SMOKE_TIMEOUT seconds per step (default 600).
set -uo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
APP="$(cd "${1:-$REPO/dist/levelset-studio}" 2>/dev/null && pwd)" || {
  echo "smoke test: no bundle at ${1:-$REPO/dist/levelset-studio} (run packaging/build_bundle.sh)" >&2; exit 2; }
ITERATIONS="${ITERATIONS:-50}"
GUI_TIME_BUDGET="${GUI_TIME_BUDGET:-20}"   # seconds of training in the GUI run
RESOLUTION="${RESOLUTION:-64}"   # marching-cubes grid of the CLI's final mesh (smaller: faster)
# small per-step work for the CLI run (as in tests/test_recon_cli.py): the default batch
# and nearest-point grid take minutes per hundred steps on a loaded 2-core machine
FAST_RECON=(--batch-size 512 --field-resolution 64 --snapshot-interval 0)
TIMEOUT="${SMOKE_TIMEOUT:-600}"
OUT="${SMOKE_OUT:-$(mktemp -d -t levelset-smoke.XXXXXX)}"
mkdir -p "$OUT/home"
CLI="$APP/levelset"
SAMPLE="$(find "$APP" -path '*resources/sample_scan.ply' -print -quit)"

failures=0
pass() { echo "PASS  $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }

# An empty environment and a neutral working directory: nothing from the developer's
# venv or checkout can be picked up. Qt/VTK may still use the system's libGL/X libraries.
run_clean() {
  (cd "$OUT" && env -i HOME="$OUT/home" PATH=/usr/bin:/bin LANG=C.UTF-8 \
     ${DISPLAY:+DISPLAY=$DISPLAY} ${XAUTHORITY:+XAUTHORITY=$XAUTHORITY} \
     timeout "$TIMEOUT" "$@")
}

# The face count of a PLY file, from its header (ascii or binary).
ply_faces() { head -c 4096 "$1" 2>/dev/null | tr -d '\r' | awk '/^element face/ {print $3; exit} /^end_header/ {exit}'; }

echo "bundle: $APP ($(du -sh "$APP" | cut -f1))"
echo "output: $OUT"
[ -x "$CLI" ] || { echo "smoke test: $CLI missing or not executable" >&2; exit 2; }
[ -x "$APP/levelset-studio" ] && pass "launcher levelset-studio present" || fail "launcher levelset-studio missing"
[ -n "$SAMPLE" ] && pass "sample scan bundled: ${SAMPLE#$APP/}" || fail "resources/sample_scan.ply not in the bundle"

# 1. versions
start=$(date +%s)
# every library named with a version (the bundle must carry their metadata)
if run_clean "$CLI" --version > "$OUT/version.txt" 2>&1 \
   && [ "$(grep -c -E '^(LevelSet Studio|torch|open3d|VTK|Qt[^:]*|device): ' "$OUT/version.txt")" -ge 6 ] \
   && ! grep -q 'not installed' "$OUT/version.txt"; then
  pass "levelset --version ($(( $(date +%s) - start )) s)"; sed 's/^/      /' "$OUT/version.txt"
else
  fail "levelset --version"; tail -20 "$OUT/version.txt"
fi

# 2. headless reconstruction of the bundled sample
if [ -n "$SAMPLE" ]; then
  start=$(date +%s)
  run_clean "$CLI" reconstruct "$SAMPLE" -o "$OUT/mesh.ply" --iterations "$ITERATIONS" \
    --resolution "$RESOLUTION" "${FAST_RECON[@]}" > "$OUT/reconstruct.log" 2>&1
  rc=$?
  faces="$(ply_faces "$OUT/mesh.ply")"
  if [ $rc -eq 0 ] && [ "${faces:-0}" -gt 0 ]; then
    pass "levelset reconstruct sample --iterations $ITERATIONS --resolution $RESOLUTION -> mesh.ply, $faces faces ($(( $(date +%s) - start )) s)"
  else
    fail "levelset reconstruct (exit $rc, faces '${faces:-none}')"; tail -20 "$OUT/reconstruct.log"
  fi
fi

# 3. the GUI under Xvfb: open the sample and screenshot the window, then the full
#    --reconstruct --screenshot --quit path
gui_check() {  # gui_check NAME PNG ARGS...
  local name="$1" png="$2"; shift 2
  local start rc size
  start=$(date +%s)
  (cd "$OUT" && env -i HOME="$OUT/home" PATH=/usr/bin:/bin LANG=C.UTF-8 \
     timeout "$TIMEOUT" xvfb-run -a -s "-screen 0 1600x1000x24" \
     "$CLI" gui "$SAMPLE" "$@" --screenshot "$png" --quit) > "$OUT/$name.log" 2>&1
  rc=$?
  size=$(stat -c %s "$png" 2>/dev/null || echo 0)
  # a blank 1600x1000 window compresses to a few kB; a rendered scan or mesh to far more
  if [ $rc -eq 0 ] && [ "$size" -gt 20000 ] && head -c 8 "$png" | grep -q PNG; then
    pass "levelset gui sample $* --screenshot --quit -> $(basename "$png"), $size bytes ($(( $(date +%s) - start )) s)"
  else
    fail "levelset gui sample $* --screenshot --quit (exit $rc, PNG $size bytes)"; tail -20 "$OUT/$name.log"
  fi
}
if ! command -v xvfb-run >/dev/null 2>&1; then
  echo "SKIP  GUI --screenshot --quit: xvfb-run is not installed (apt-get install xvfb xauth)"
elif [ -n "$SAMPLE" ]; then
  gui_check gui-open "$OUT/window-scan.png"
  # the GUI trains with its panel's defaults (full batch, 256^3 final mesh): bounded by time
  gui_check gui-reconstruct "$OUT/window-reconstructed.png" --reconstruct --time-budget "$GUI_TIME_BUDGET"
fi

if [ $failures -eq 0 ]; then echo "smoke test passed (output in $OUT)"; exit 0; fi
echo "smoke test: $failures check(s) failed (logs in $OUT)"; exit 1
