#!/usr/bin/env bash
# The quantizer tour (formerly the main job): build tq and evaluate the bundled LeNet
# (models/lenet-fashion-mnist.onnx) on the Fashion-MNIST test set, in float
# and under a row of quantizer maps, as one table.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target tq >/dev/null
tq="$build/tq"
model=models/lenet-fashion-mnist.onnx

echo "tq $("$tq" --version | cut -d' ' -f2-)"
echo "model: $model (LeNet, trained by scripts/train-bundled.sh)"
echo "data:  Fashion-MNIST test set, 10,000 images"
echo
# label | tq eval options. Extrinsic maps leave the final Softmax in float
# ("Softmax": "none" comes first, and the first matching key wins), so that
# the loss column stays a cross-entropy of unrounded probabilities.
x() { printf '{"Softmax":"none","":"%s"}' "$1"; }
configs=(
  "float|"
  "fixed 16-bit (16,10 acts, 16,14 weights)|--extr $(x nearest,16,10) --weights nearest,16,14"
  "fixed 8-bit (8,4 acts, 8,7 weights)|--extr $(x nearest,8,4) --weights nearest,8,7"
  "fixed 8-bit, stochastic rounding|--extr $(x stochastic,8,4) --weights stochastic,8,7"
  "fixed 4-bit (4,1 acts, 4,3 weights)|--extr $(x nearest,4,1) --weights nearest,4,3"
  "fp8e4m3 acts and weights|--extr $(x fp8e4m3) --weights fp8e4m3"
  "fp8e5m2 acts and weights|--extr $(x fp8e5m2) --weights fp8e5m2"
  "bf16 acts and weights|--extr $(x bf16) --weights bf16"
  "ternary weights (T = 0.7 mean abs w)|--weights ternary"
  "binary weights (+-0.05)|--weights binary,0.05"
  "16-bit products, 24-bit wrapping acc|--intr maps/accumulator-24.json"
)
for c in "${configs[@]}"; do
  label="${c%%|*}"
  opts="${c#*|}"
  # shellcheck disable=SC2086
  printf '%s\t%s\n' "$label" "$("$tq" eval "$model" --data fashion-mnist --json --quiet $opts)"
done | /usr/bin/python3 scripts/eval_table.py
