#!/usr/bin/env bash
# tq sweep, tq sensitivity and tq search on the bundled LeNet and
# Fashion-MNIST:
#  1. sweep: every (pattern, spec) row, `auto` resolved per layer, a row
#     equal to tq eval with the same map (exact JSON numbers), CSV output,
#     and --no-reuse giving the same document;
#  2. sensitivity: one row per layer and kind, ranked, equal to tq eval for
#     one layer; its HTML report renders in headless Chromium;
#  3. search: the map it writes, applied with tq eval on the same samples,
#     loses at most the budget; the report renders; an impossible budget
#     says so, reports the best found, writes it and exits 1;
#  4. bad input: empty spec lists, bad ranges, a pattern matching nothing
#     (the error lists the layers), missing --budget, bad --what, -o with
#     an unknown extension — each a clear error and no output file.
# Usage: analysis.sh PATH_TO_TQ
# Env: TQ_SOURCE_DIR, TQ_FASHION_MNIST_DIR, TQ_SKIP_BROWSER=1 (skip the
# Chromium checks).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_need_fashion_mnist
model=$source_dir/models/lenet-fashion-mnist.onnx
PY=/usr/bin/python3
cd "$tmp"

source "$here/lib/browser.sh"
browser_ok=0
if [[ ${TQ_SKIP_BROWSER:-} == 1 ]]; then
  echo "NOTE: TQ_SKIP_BROWSER=1: reports are not opened in Chromium"
elif tq_browser_find; then
  browser_ok=1
else
  fail "$TQ_BROWSER_WHY"
fi

# json FILE EXPR: evaluates a Python expression on the document d.
json() {
  "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

common=(--data fashion-mnist --limit 300 --batch 100 -q)

# ---- 1. sweep ---------------------------------------------------------------
"$TQ" sweep "$model" "${common[@]}" --what extr --layers 're:Conv1$,Dense3' \
  --specs 'nearest,{4..6},{auto};fp8e4m3' -o sweep.csv --json >sweep.json
[[ $(json sweep.json 'len(d["results"])') == 8 ]] || fail "sweep: expected 8 rows"
[[ $(json sweep.json 'd["results"][0]["layers"]') == 're:Conv1$' ]] || fail "sweep: first group"
[[ $(json sweep.json 'd["results"][0]["bits"]') == 4 ]] || fail "sweep: bits"
[[ $(json sweep.json 'd["results"][3]["bits"]') == 8 ]] || fail "sweep: fp8 bits"
# Dense3 matches Dense3 and Dense3/Relu: both are in the group, each with
# its own resolved fraction.
[[ $(json sweep.json 'len(d["results"][4]["resolved"])') == 2 ]] || fail "sweep: Dense3 group"
[[ $(wc -l <sweep.csv) == 9 ]] || fail "sweep: CSV has $(wc -l <sweep.csv) lines, expected 9"
head -1 sweep.csv | grep -q '^what,layers,spec,bits,top1' || fail "sweep: CSV header"
# Row 2 (Conv1 at 6 bits) is tq eval with its resolved map.
map=$(json sweep.json 'json.dumps({"re:^"+k.replace("/","/")+"$": v for k, v in d["results"][2]["resolved"].items()})')
"$TQ" eval "$model" "${common[@]}" --extr "$map" --json >eval_row.json
for f in top1 top5 loss; do
  a=$(json sweep.json "repr(d['results'][2]['$f'])")
  b=$(json eval_row.json "repr(d['$f'])")
  [[ $a == "$b" ]] || fail "sweep row 2 $f $a != tq eval $b"
done
[[ $(json sweep.json 'd["float"]["top1"]') == $(json eval_row.json 'd["top1"]') ]] && true
"$TQ" sweep "$model" "${common[@]}" --what extr --layers 're:Conv1$,Dense3' \
  --specs 'nearest,{4..6},{auto};fp8e4m3' --no-reuse --json >sweep_noreuse.json
cmp -s sweep.json sweep_noreuse.json || fail "sweep: --no-reuse changed the results"
echo "ok: sweep"

# ---- 2. sensitivity --------------------------------------------------------
"$TQ" sensitivity "$model" "${common[@]}" --what extr,weights \
  --specs 'stochastic,5,auto' --seed 3 -o sens.json --report "$tmp/sens.html" >sens.txt
[[ $(json sens.json 'len(d["results"])') == 16 ]] || fail "sensitivity: expected 12 extr + 4 weights rows"
json sens.json 'all(a["delta_top1"] <= b["delta_top1"] for a, b in zip(d["sensitivity"], d["sensitivity"][1:]))' | grep -q True ||
  fail "sensitivity: ranking not sorted"
grep -q "rank" sens.txt || fail "sensitivity: no table"
# The weights row of Conv2 is tq eval with that layer's weights quantized.
"$TQ" sensitivity "$model" "${common[@]}" --what weights --layers 're:Conv2$' \
  --specs 'stochastic,5,4' --seed 3 --json >sens_one.json
"$TQ" eval "$model" "${common[@]}" --weights '{"re:Conv2$": "stochastic,5,4"}' --seed 3 --json >eval_one.json
[[ $(json sens_one.json 'repr(d["results"][0]["loss"])') == $(json eval_one.json 'repr(d["loss"])') ]] ||
  fail "sensitivity row != tq eval"
[[ $(json sens_one.json 'len(d["results"])') == 1 ]] || fail "sensitivity: --layers"
if ((browser_ok)); then
  tq_check_page sens 1+
  echo "ok: sensitivity report renders"
fi
echo "ok: sensitivity"

# ---- 3. search ---------------------------------------------------------------
# --batch 100 tiles the search slice [0, 300), the held-out slice [300, 600)
# and tq eval's 600 samples alike: every sample is computed with the same
# GEMM shapes in all three runs, so tq eval reproduces the search's numbers
# exactly on any CPU (other tilings round differently, and a sample near a
# quantizer's rounding boundary may then flip).
"$TQ" search "$model" --data fashion-mnist --limit 600 --batch 100 -q --budget 1.0 \
  --layers 're:(Conv|Dense)[0-9]$' --widths 12,8,6,4,3,2 -o map.json \
  --report "$tmp/search.html" --json >search.json
[[ $(json search.json 'd["search"]["met"]') == True ]] || fail "search: budget not met"
[[ $(json search.json 'len(d["search"]["layers"])') == 8 ]] || fail "search: expected 8 knobs"
json map.json 'sorted(d)' | grep -q "'extrinsic', 'weights'" || fail "search: map sections"
"$TQ" eval "$model" --data fashion-mnist --limit 600 --batch 100 --json -q >float.json
"$TQ" eval "$model" --data fashion-mnist --limit 600 --batch 100 --map map.json --json -q >quant.json
# tq eval over both slices: the mean of the two losses the search reports.
loss=$("$PY" - <<'PY'
import json
f, q = json.load(open("float.json"))["top1"], json.load(open("quant.json"))["top1"]
s = json.load(open("search.json"))["search"]
loss = 100 * (f - q)
want = (s["search_loss_pp"] + s["loss_pp"]) / 2
assert abs(loss - want) < 1e-9, ("tq eval", loss, "search slices", want)
assert s["search_loss_pp"] <= 1.0 + 1e-9 and s["loss_pp"] <= 1.0 + 1e-9, s
print(loss)
PY
) || fail "search: tq eval does not reproduce the search's losses, or they exceed the budget 1.0"
# fewer bits than 8 everywhere
"$PY" -c "import json; d=json.load(open('search.json'))['search']; assert d['total_bits'] < d['float_bits'] / 4, d" ||
  fail "search: compression below 4x"
if ((browser_ok)); then
  tq_check_page search 2+
  echo "ok: search report renders"
fi
# Stochastic rounding: the held-out samples keep their numbers, so the
# guarantee holds for tq eval over the same samples too (batches of 100
# tile both slices and tq eval alike, as above).
"$TQ" search "$model" --data fashion-mnist --limit 400 --batch 100 -q --budget 0.5 --seed 9 \
  --family stochastic --what weights --widths 8,5,4,3,2 -o smap.json --json >ssearch.json
"$TQ" eval "$model" --data fashion-mnist --limit 400 --batch 100 --json -q >sfloat.json
"$TQ" eval "$model" --data fashion-mnist --limit 400 --batch 100 --seed 9 --map smap.json --json -q >squant.json
grep -q stochastic smap.json || fail "search --family stochastic: $(cat smap.json)"
"$PY" - <<'PY' || fail "search --family stochastic: tq eval does not reproduce the search's losses, or they exceed 0.5 pp"
import json
f, q = json.load(open("sfloat.json"))["top1"], json.load(open("squant.json"))["top1"]
s = json.load(open("ssearch.json"))["search"]
loss = 100 * (f - q)
assert abs(loss - (s["search_loss_pp"] + s["loss_pp"]) / 2) < 1e-9, (loss, s)
assert max(s["search_loss_pp"], s["loss_pp"]) <= 0.5 + 1e-9, s
PY
# An impossible budget: says so, writes the best found, exits 1.
status=0
"$TQ" search "$model" --data fashion-mnist --limit 200 -q --budget 0 \
  --what weights --widths 2 -o best.json >impossible.txt 2>impossible.err || status=$?
[[ $status == 1 ]] || fail "search: impossible budget exited $status"
grep -q "no allocation tried keeps the loss within 0.00 pp" impossible.err || fail "search: $(cat impossible.err)"
[[ -s best.json ]] || fail "search: best-found map not written"
echo "ok: search (loss $loss pp within 1.0)"
# Statistics under the found map (--with), as a report with histograms.
"$TQ" stats "$model" --data fashion-mnist --limit 300 -q --with map.json \
  --report "$tmp/stats.html" >stats.txt
grep -q "quantized: maps given" stats.txt || fail "stats --with: $(head -2 stats.txt)"
if ((browser_ok)); then
  tq_check_page stats 21
fi
# `auto` collected statistics: the sensitivity document carries them.
[[ $(json sens.json 'len(d["stats"]["layers"])') == 21 ]] || fail "sensitivity: no statistics in the document"
echo "ok: stats --with, --report"

# ---- 4. bad input ------------------------------------------------------------
# bad TEXT ARGS...: tq ARGS fails (no crash) with TEXT, literally, in its error.
bad() {
  local text=$1
  shift
  expect_error any "$(sed 's/[][\\.^$*+?(){}|]/\\&/g' <<<"$text")" "$@"
}
bad "is empty" sweep "$model" "${common[@]}" --specs ' ; '
bad "needs --specs" sensitivity "$model" "${common[@]}"
bad "a range is {FIRST..LAST}" sweep "$model" "${common[@]}" --specs 'nearest,{4..x},2'
bad "matches no layer" sweep "$model" "${common[@]}" --layers NoSuchLayer --specs nearest,8,4
contains "$err" "LeNet/Convolution_Block/Conv1 (Conv)"
bad "needs --budget" search "$model" "${common[@]}"
bad "expected extr, weights or intr" sensitivity "$model" "${common[@]}" --what activations --specs nearest,8,4
bad "must end in .json or .csv" sweep "$model" "${common[@]}" --specs nearest,8,4 -o out.txt
bad "'auto' fractional bits need a fixed-point spec" sweep "$model" "${common[@]}" --specs 'fp16,8,auto'
bad "'auto' stands for the fractional bits" sweep "$model" "${common[@]}" --specs 'fp16,auto'
bad "unknown" sweep "$model" "${common[@]}" --specs 'nearst,8,4'
[[ ! -e out.txt ]] || fail "an output file was written on error"
echo "ok: bad input"
echo "PASS: analysis"
