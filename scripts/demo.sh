#!/usr/bin/env bash
# The main job (for now): build tq, make a test tensor, and show what a few
# number formats do to it, side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target tq >/dev/null
tq="$build/tq"
out="${OUT_DIR:-out}"
mkdir -p "$out"

# A weight-like tensor: a million normal values, a few outliers.
/usr/bin/python3 - "$out/tensor.npy" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(2017)
x = rng.standard_normal(1_000_000).astype(np.float32) * 0.5
x[::10007] *= 40.0
np.save(sys.argv[1], x)
PY

specs=(nearest,16,12 nearest,8,5 even,8,5 stochastic,8,5 nearest,8,5,overflow=wrap
       nearest,4,2 fp16 bf16 fp8e5m2 fp8e4m3 fp6e2m3 fp4e2m1 logarithmic
       ternary binary)
echo "tq $("$tq" --version | cut -d' ' -f2-)"
echo "input: $out/tensor.npy (1,000,000 values, N(0, 0.5^2) with outliers)"
echo
for s in "${specs[@]}"; do
  "$tq" quantize --spec "$s" -i "$out/tensor.npy" -o "$out/q.npy" --json
done | /usr/bin/python3 scripts/stats_table.py
