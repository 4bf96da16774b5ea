#!/usr/bin/env bash
# The main job: on the bundled LeNet (models/lenet-fashion-mnist.onnx) and
# the Fashion-MNIST test set, find which layer needs how many bits:
#   1. a sensitivity sweep — each layer's outputs and weights alone at 4 and
#      6 bits (fractional bits picked from the data), ranked by the top-1
#      accuracy they lose;
#   2. a bit-width search — per-layer fixed-point widths with the fewest
#      bits whose loss stays within 1 percentage point, searched on 2,000
#      test images and checked on 2,000 held out (held to 0.75 pp there: a
#      margin for the images the search does not see), written as a map;
#   3. the found map applied with tq eval to all 10,000 test images;
#   4. one self-contained HTML report with the charts (out/lenet-report.html).
# Set OUT_DIR to write elsewhere, BUILD_DIR to build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
out="${OUT_DIR:-out}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target tq >/dev/null
tq="$build/tq"
model=models/lenet-fashion-mnist.onnx
mkdir -p "$out"
start=$(date +%s)

echo "tq $("$tq" --version | cut -d' ' -f2-)"
echo "model: $model (LeNet, trained by scripts/train-bundled.sh)"
echo "data:  Fashion-MNIST test set"
layers='re:(Conv|Dense)[0-9]$' # the four layers with weights

echo
echo "== 1. Sensitivity: one layer at a time, 2,000 test images"
"$tq" sensitivity "$model" --data fashion-mnist --limit 2000 -q \
  --what extr,weights --layers "$layers" \
  --specs 'nearest,{4,6},auto' -o "$out/sensitivity.json"

echo
echo "== 2. Bit-width search: top-1 loss within 1.0 pp, 0.25 pp margin (2,000 search + 2,000 held-out images)"
"$tq" search "$model" --data fashion-mnist --limit 4000 -q --budget 1.0 \
  --margin 0.25 --what extr,weights --layers "$layers" --widths 16,8,6,5,4,3,2 \
  -o "$out/lenet-map.json" --json >"$out/search.json"
/usr/bin/python3 - "$out/search.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["search"]
print(f"{'layer':<36} {'what':<8} {'format':<14} {'bits':>4}")
for l in s["layers"]:
    print(f"{l['layer']:<36} {l['what']:<8} {l['spec']:<14} {l['bits']:>4}")
print(f"total {s['total_bits']:.4g} bits against {s['float_bits']:.4g} in float "
      f"({s['compression']:.1f}x smaller); top-1 loss {s['search_loss_pp']:.2f} pp "
      f"(search), {s['loss_pp']:.2f} pp (held out)")
PY
echo "map: $out/lenet-map.json"

echo
echo "== 3. The map on all 10,000 test images"
f=$("$tq" eval "$model" --data fashion-mnist --json -q)
q=$("$tq" eval "$model" --data fashion-mnist --map "$out/lenet-map.json" --json -q)
/usr/bin/python3 - "$f" "$q" <<'PY'
import json, sys
f, q = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"float  top-1 {100*f['top1']:.2f} %   quantized top-1 {100*q['top1']:.2f} %   "
      f"loss {100*(f['top1']-q['top1']):.2f} pp (budget 1.00)")
PY

echo
echo "== 4. Report"
"$tq" stats "$model" --data fashion-mnist --limit 1000 -q -o "$out/stats.json" >/dev/null
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
doc = json.load(open(f"{out}/sensitivity.json"))
doc["command"] = "sensitivity"
doc["title"] = "LeNet on Fashion-MNIST: layer sensitivity and bit-width search"
doc["search"] = json.load(open(f"{out}/search.json"))["search"]
doc["stats"] = json.load(open(f"{out}/stats.json"))["stats"]
json.dump(doc, open(f"{out}/lenet-report.json", "w"), indent=1)
PY
"$tq" report "$out/lenet-report.json" -o "$out/lenet-report.html"
echo "report: $out/lenet-report.html (open it in a browser; no network needed)"
echo "done in $(($(date +%s) - start)) s"
