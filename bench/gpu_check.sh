#!/usr/bin/env bash
# GPU check of the reconstruction engine (issue 11): engine tests on CUDA, then the raw-scan
# benchmark with 10 s budgets, with and without mixed precision. Meant to take < 8 minutes
# on one GPU. Run from the repository root:  bash bench/gpu_check.sh
# LEVELSET_DATA may point at the shared data (default ../shared/data).
set -euo pipefail
PY=${PY:-.venv/bin/python}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
echo "== engine tests on cuda (device auto picks CUDA when present)"
timeout 240 "$PY" -m pytest -q -x tests/surface/reconstruction -m "not slow" -p no:cacheprovider || echo "engine tests: FAILED"
echo "== raw-scan benchmark, 10 s budgets, float32"
timeout 150 "$PY" bench/raw_scans.py --rows anchor:n0.2:o0.5 bunny --budgets 10 --seeds 1 --device cuda || echo "bench fp32: FAILED"
echo "== raw-scan benchmark, 10 s budgets, mixed precision (bfloat16 autocast)"
timeout 150 "$PY" bench/raw_scans.py --rows anchor:n0.2:o0.5 bunny --budgets 10 --seeds 1 --device cuda --amp --methods levelset || echo "bench amp: FAILED"
