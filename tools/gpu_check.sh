#!/usr/bin/env bash
# The prepared GPU check (< 5 minutes on one GPU): CUDA tests, the reference on CUDA,
# and the benchmark table on the device.  Needs a CUDA build of torch==2.13.0 on the machine.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench-results}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
python3 -m pytest -q -m needs_cuda tests/test_ref_model.py tests/test_exercises_cases.py 2>&1 | tee "$out/gpu-tests.log"
python3 -m tools.bench --device cuda --quick --json "$out/bench-cuda.json" 2>&1 | tee "$out/gpu-bench.log"
