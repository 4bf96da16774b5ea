#!/usr/bin/env bash
# The formats study (docs/analysis.md, "The formats on LeNet"): top-1 of the
# bundled LeNet on the full Fashion-MNIST test set (10,000 images) under
# today's deployable formats, weights and activations (every layer's
# output), against float and the fixed-point map scripts/demo.sh's search
# finds. Static activation ranges are calibrated on 2,000 training images.
# Prints a Markdown table. Set BUILD_DIR and OUT_DIR as for demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
out="${OUT_DIR:-out}/format-study"
tq="$build/tq"
model=models/lenet-fashion-mnist.onnx
mkdir -p "$out"
data=(--data fashion-mnist -q --json)

# (files kept from an earlier run are used again)
for m in minmax percentile=99.99 entropy; do
  [[ -f $out/${m%=*}.json ]] ||
    "$tq" calibrate "$model" --data fashion-mnist --limit 2000 --method "$m" \
      -o "$out/${m%=*}.json" >/dev/null
done
# scripts/demo.sh's search: fixed point, 1 pp budget, 0.25 pp margin
[[ -f $out/fixed-map.json ]] ||
  "$tq" search "$model" --data fashion-mnist --limit 4000 -q --budget 1.0 \
    --margin 0.25 --what extr,weights --layers 're:(Conv|Dense)[0-9]$' \
    --widths 16,8,6,5,4,3,2 -o "$out/fixed-map.json" >/dev/null || true

row() { # NAME BITS(weights) BITS(activations) ARGS...
  local name=$1 wb=$2 ab=$3
  shift 3
  local j
  j=$("$tq" eval "$model" "${data[@]}" "$@")
  /usr/bin/python3 -c 'import json, sys
j, a = json.loads(sys.argv[1]), sys.argv
print("| %s | %s | %s | %.2f %% | %.4f |" % (a[2], a[3], a[4], 100 * j["top1"], j["loss"]))' \
    "$j" "$name" "$wb" "$ab"
}
echo "| configuration | weight bits | activation bits | top-1 | loss |"
echo "|---|---|---|---|---|"
row "float" 32 32
row "fixed point (demo.sh's search map)" "2-16" "2-16" --map "$out/fixed-map.json"
row "MXFP8 (mxfp8e4m3)" 8.25 8.25 --weights mxfp8e4m3 --extr mxfp8e4m3
row "MXFP6 (mxfp6e2m3)" 6.25 6.25 --weights mxfp6e2m3 --extr mxfp6e2m3
row "MXFP6 (mxfp6e3m2)" 6.25 6.25 --weights mxfp6e3m2 --extr mxfp6e3m2
row "MXFP4 (mxfp4)" 4.25 4.25 --weights mxfp4 --extr mxfp4
row "NVFP4 (nvfp4)" 4.5 4.5 --weights nvfp4 --extr nvfp4
for c in minmax percentile entropy; do
  row "INT8 per-channel weights, static int8 activations ($c)" 8 8 \
    --weights int,8,axis=channel --extr int,8,static --calib "$out/$c.json"
done
row "INT8 per-channel weights, dynamic per-tensor int8 activations" 8 8 \
  --weights int,8,axis=channel --extr int,8
row "INT4 per-group (group 32), weights and activations" 5 5 \
  --weights int,4,group=32 --extr int,4,group=32
