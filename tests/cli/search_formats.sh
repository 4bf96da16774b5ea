#!/usr/bin/env bash
# tq search --formats: per-layer formats from a candidate list or preset,
# ordered by bits per element with the scale overhead; the document's
# bits, trace and Pareto front; the map it writes keeps the budget on the
# samples used; the HTML report draws the front (headless Chromium).
# Usage: search_formats.sh PATH_TO_TQ
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_keep_going
cd "$tmp"
tq_cli_need_fashion_mnist
model=$source_dir/models/lenet-fashion-mnist.onnx
data=(--data fashion-mnist --limit 400 -q)

run 0 search "$model" "${data[@]}" --budget 2 --formats mx --what weights \
  -o mx.json --json --report mx.html
echo "$out" >mx-doc.json
/usr/bin/python3 - <<'PY' || fail "the mx search document"
import json
d = json.load(open("mx-doc.json"))["search"]
assert d["family"] == "formats", d["family"]
assert d["met"] and d["loss_pp"] <= 2, d
cost = {"mxfp8e4m3": 8.25, "mxfp6e3m2": 6.25, "mxfp4": 4.25}  # e2m3: same cost as e3m2, dropped
for l in d["layers"]:
    assert l["what"] == "weights" and cost[l["spec"]] == l["bits"], l
total = sum(l["bits"] * l["size"] for l in d["layers"])
assert abs(total - d["total_bits"]) < 1e-6 * total, (total, d["total_bits"])
front = [t for t in d["trace"] if t["pareto"]]
assert front and all(isinstance(t["pareto"], bool) for t in d["trace"])
for a in front:  # nothing tried is both cheaper (or as cheap) and better
    for b in d["trace"]:
        assert not (b["total_bits"] <= a["total_bits"] and b["top1"] >= a["top1"]
                    and (b["total_bits"] < a["total_bits"] or b["top1"] > a["top1"]))
m = json.load(open("mx.json"))
assert set(m) == {"weights"} and len(m["weights"]) == 4, m
PY
# the map keeps the budget on the samples used
run 0 eval "$model" "${data[@]}" --json
flt=$(json_get top1 <<<"$out")
run 0 eval "$model" "${data[@]}" --map mx.json --json
q=$(json_get top1 <<<"$out")
num_check "$(awk -v a="$flt" -v b="$q" 'BEGIN { print 100 * (a - b) }')" "<=" 2 ||
  fail "mx map: top-1 $q against float $flt"

# a list: ';' between specs, braces as in --specs; static specs with --calib
run 0 calibrate "$model" --data fashion-mnist --limit 200 -o calib.json
run 0 search "$model" "${data[@]}" --budget 3 --what extr --layers Conv \
  --formats 'int,{8,4},static;mxfp4' --calib calib.json
contains "$out" "int,8,static"
lacks "$err" "error"
run 0 search "$model" "${data[@]}" --budget 3 --what weights --layers Dense \
  --formats 'nvfp4;int,4,group=32' --json
contains "$out" '"family": "formats"'

expect_error 2 "--formats replaces --family" \
  search "$model" "${data[@]}" --budget 1 --formats mx --family even
expect_error 1 "format 'sparse,0.1' has no fixed size" \
  search "$model" "${data[@]}" --budget 1 --formats 'mxfp4;sparse,0.1'
expect_error 1 "unknown" \
  search "$model" "${data[@]}" --budget 1 --formats 'mxfp5'

source "$here/lib/browser.sh"
if [[ ${TQ_SKIP_BROWSER:-} == 1 ]]; then
  echo "NOTE: TQ_SKIP_BROWSER=1: skipping the rendering check"
elif tq_browser_find; then
  # bits per layer, search trace, and the Pareto front
  tq_check_page mx 3
  contains "$(<mx.dom)" "Accuracy against size"
  contains "$(<mx.dom)" "mxfp4"
else
  fail "$TQ_BROWSER_WHY"
fi
tq_cli_pass
