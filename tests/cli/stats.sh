#!/usr/bin/env bash
# tq stats on the bundled LeNet and Fashion-MNIST (500 test images):
#  1. the table and a valid, plausible tq-report/1 document: entries for
#     every node output and the conv/dense weights, ReLU outputs with min 0,
#     counts = samples x sample size, ordered percentiles, histograms that
#     add up, fractional bits that follow the rule; --json prints the same
#     document as -o writes;
#  2. --threads 1 and 2 write byte-identical files; --batch 7 and 256 give
#     identical counts, weight entries and entries before the first Conv,
#     and agree to 1e-5 elsewhere (the float Conv/Gemm round in the last
#     bit differently when their GEMM tiles change with the batch: the
#     statistics themselves are batch-independent, see test_stats.c);
#  3. CSV output;
#  4. with maps, activations and weights are on their fixed-point grids;
#     infinities from a tiny float format are counted and warned about;
#  5. bad input: missing dataset or model, --limit 0, --widths 8,x, an
#     unknown -o extension, samples that do not fit the model, labels beyond
#     the model's classes -- each a clear error, and no output file.
# Usage: stats.sh PATH_TO_TQ
# Env: TQ_SOURCE_DIR (default: two levels up), TQ_FASHION_MNIST_DIR (the
# dataset; without it the script skips).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_need_fashion_mnist
model=$source_dir/models/lenet-fashion-mnist.onnx
py=/usr/bin/python3
stats() { "$TQ" stats "$model" --data fashion-mnist --limit 500 -q "$@"; }

# ---- 1. table and document ---------------------------------------------------
stats --threads 2 -o "$tmp/a.json" >"$tmp/table.txt" 2>"$tmp/table.err" \
  || fail "tq stats failed: $(cat "$tmp/table.err")"
grep -Eq '^layer +kind +value +shape +count +min +max +mean +std +zeros% +p99.9\|x\| +f4 +f8 +f16$' "$tmp/table.txt" \
  || fail "no table header: $(head -5 "$tmp/table.txt")"
grep -Eq '^LeNet/Convolution_Block/Conv1 +weight +Conv1.weight +\[20, 1, 5, 5\] +500 ' "$tmp/table.txt" \
  || fail "no Conv1 weight row: $(cat "$tmp/table.txt")"
"$py" - "$tmp/a.json" <<'EOF' || fail "the JSON document is not plausible"
import json, math, sys
doc = json.load(open(sys.argv[1]))
assert doc["schema"] == "tq-report/1" and doc["command"] == "stats", doc.keys()
assert doc["n"] == 500 and doc["data"] == "fashion-mnist" and doc["split"] == "test"
layers = doc["stats"]["layers"]
widths = doc["stats"]["widths"]
assert widths == [4, 8, 16], widths
by = {(l["layer"], l["kind"], l["value"]): l for l in layers}
acts = [l for l in layers if l["kind"] == "activation"]
assert len(acts) == 13, [l["layer"] for l in acts]   # every node's output
for conv in ("Conv1", "Conv2"):
    lid = "LeNet/Convolution_Block/" + conv
    for w in (conv + ".weight", conv + ".bias"):
        assert (lid, "weight", w) in by, (lid, w)
for dense in ("Dense3", "Dense4"):
    assert ("LeNet/Dense_Block/" + dense, "weight", dense + ".weight") in by
c1 = by[("LeNet/Convolution_Block/Conv1", "activation", "conv1")]
assert c1["count"] == 500 * 20 * 28 * 28 and c1["shape"] == [20, 28, 28], c1["count"]
assert c1["min"] < 0 < c1["max"]
w1 = by[("LeNet/Convolution_Block/Conv1", "weight", "Conv1.weight")]
assert w1["count"] == 500 and w1["shape"] == [20, 1, 5, 5] and not w1["quantized"]
relus = [l for l in acts if l["op"] == "Relu"]
assert len(relus) == 3
for r in relus:
    assert r["min"] == 0 and r["zeros"] > 0.3 and r["percentiles"]["0.1"] == 0, r["layer"]
sm = by[("LeNet/Dense_Block/Dense4/Softmax", "activation", "probabilities")]
assert 0 <= sm["min"] and sm["max"] <= 1 and abs(sm["mean"] - 0.1) < 1e-6, sm["mean"]
names = ["0.1", "1", "5", "25", "50", "75", "95", "99", "99.9"]
for l in layers:
    assert l["nan"] == l["pos_inf"] == l["neg_inf"] == 0 and l["finite"] == l["count"]
    p = [l["percentiles"][k] for k in names]
    assert l["min"] <= p[0] and all(a <= b for a, b in zip(p, p[1:])) and p[-1] <= l["max"], l["layer"]
    ap = [l["abs_percentiles"][k] for k in ("99", "99.9", "99.99")]
    assert all(a <= b for a, b in zip(ap, ap[1:])) and ap[-1] <= l["max_abs"]
    assert l["max_abs"] == max(-l["min"], l["max"])
    assert l["min"] <= l["mean"] <= l["max"] and l["std"] >= 0
    h = l["histogram"]
    assert len(h["edges"]) == 65 and sum(h["counts"]) == l["finite"], l["layer"]
    assert h["edges"][0] == l["min"] and h["edges"][-1] == l["max"]
    lg = l["log2_histogram"]
    assert sum(lg["counts"]) + lg["zeros"] == l["finite"] and lg["zeros"] == l["zeros_count"]
    assert lg["exponents"] == list(range(lg["exponents"][0], lg["exponents"][-1] + 1))
    assert abs(l["zeros"] - l["zeros_count"] / l["count"]) < 1e-15
    for w in widths:
        f = l["frac_bits"][str(w)]
        q = 2 ** (w - 1) - 1
        assert q * 2.0 ** -f >= l["max_abs"] > q * 2.0 ** -(f + 1), (l["layer"], w, f)
EOF
"$TQ" stats "$model" --data fashion-mnist --limit 500 --threads 2 --json >"$tmp/p.json" 2>/dev/null \
  || fail "tq stats --json failed"
"$py" -c 'import json, sys; assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))' \
  "$tmp/a.json" "$tmp/p.json" || fail "--json and -o FILE.json differ"
echo "stats: $(grep -c . "$tmp/table.txt") table lines; the document is plausible"

# ---- 2. threads and batch size -----------------------------------------------
stats --threads 1 -o "$tmp/t1.json" >/dev/null
cmp -s "$tmp/a.json" "$tmp/t1.json" || fail "--threads 1 and --threads 2 give different files"
stats --threads 2 --batch 7 -o "$tmp/b7.json" >/dev/null
stats --threads 2 --batch 256 -o "$tmp/b256.json" >/dev/null
"$py" - "$tmp/b7.json" "$tmp/b256.json" <<'EOF' || fail "--batch 7 and --batch 256 disagree"
import json, sys
a, b = (json.load(open(p))["stats"]["layers"] for p in sys.argv[1:])
assert len(a) == len(b)
exact_prefix = True
for x, y in zip(a, b):
    assert (x["layer"], x["kind"], x["value"]) == (y["layer"], y["kind"], y["value"])
    for k in ("count", "finite", "nan", "pos_inf", "neg_inf", "shape"):
        assert x[k] == y[k], (x["layer"], k)
    if x["kind"] == "activation" and x["op"] in ("Conv", "Gemm"):
        exact_prefix = False
    if x["kind"] == "weight" or exact_prefix:
        assert x == y, ("not identical", x["layer"], x["kind"])
        continue
    # a value within rounding of 0 may be 0 in one run only (after a ReLU)
    assert abs(x["zeros_count"] - y["zeros_count"]) <= max(2, 1e-5 * x["count"]), x["layer"]
    for k in ("min", "max", "mean", "std", "max_abs"):
        assert abs(x[k] - y[k]) <= 1e-5 * max(1.0, abs(x[k])), (x["layer"], k, x[k], y[k])
    for k in x["percentiles"]:
        assert abs(x["percentiles"][k] - y["percentiles"][k]) <= 2e-3 * max(1.0, abs(x["percentiles"][k]))
EOF
echo "stats: identical at 1 and 2 threads; --batch 7 and 256 agree"

# ---- 3. CSV ---------------------------------------------------------------------
stats -o "$tmp/a.csv" >/dev/null
head -1 "$tmp/a.csv" | grep -q '^layer,value,op,kind,quantized,shape,count,finite,nan,pos_inf,neg_inf,zeros,zeros_count,min,max,mean,std,max_abs,p0.1,p1,p5,p25,p50,p75,p95,p99,p99.9,abs_p99,abs_p99.9,abs_p99.99,frac_bits_4,frac_bits_8,frac_bits_16$' \
  || fail "CSV header: $(head -1 "$tmp/a.csv")"
[[ $(wc -l <"$tmp/a.csv") -eq 22 ]] || fail "CSV has $(wc -l <"$tmp/a.csv") lines, not 1 + 21"
grep -q '^LeNet/Convolution_Block/Conv1,Conv1.weight,Conv,weight,0,20x1x5x5,500,500,0,0,0,' "$tmp/a.csv" \
  || fail "no Conv1.weight CSV row: $(cat "$tmp/a.csv")"
"$py" - "$tmp/a.csv" "$tmp/a.json" <<'EOF' || fail "CSV and JSON disagree"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
layers = json.load(open(sys.argv[2]))["stats"]["layers"]
assert len(rows) == len(layers)
for r, l in zip(rows, layers):
    assert r["layer"] == l["layer"] and int(r["count"]) == l["count"]
    assert float(r["max_abs"]) == l["max_abs"] and float(r["p99.9"]) == l["percentiles"]["99.9"]
    assert int(r["frac_bits_8"]) == l["frac_bits"]["8"]
EOF
echo "stats: CSV ok"

# ---- 4. quantized values under maps ---------------------------------------------
stats --extr nearest,8,4 --weights nearest,8,6 --widths 8,12 -o "$tmp/q.json" >"$tmp/q.txt"
grep -q 'quantized' "$tmp/q.txt" || fail "the table does not say the values are quantized"
"$py" - "$tmp/q.json" <<'EOF' || fail "quantized statistics are off the fixed-point grids"
import json, sys
layers = json.load(open(sys.argv[1]))["stats"]["layers"]
assert json.load(open(sys.argv[1]))["stats"]["widths"] == [8, 12]
for l in layers:
    step, hi = (1 / 16, 127 / 16) if l["kind"] == "activation" else (1 / 64, 127 / 64)
    assert l["quantized"], l["layer"]
    vals = [l["min"], l["max"]] + list(l["percentiles"].values())
    for v in vals + list(l["abs_percentiles"].values()) + [l["max_abs"]]:
        assert abs(v / step - round(v / step)) == 0, (l["layer"], v)
    for v in vals:
        assert -hi - step <= v <= hi, (l["layer"], v)   # [-128, 127] steps
    assert l["max_abs"] <= hi + step
    assert sorted(l["frac_bits"]) == ["12", "8"]
EOF
echo "stats: with maps, values on the nearest,8,4 / nearest,8,6 grids"

# A tiny float format (float,3,2 overflows to inf beyond 14) makes infinities:
# counted, warned about, and left out of the other figures.
stats --extr float,3,2 -o "$tmp/inf.json" >"$tmp/inf.txt" 2>"$tmp/inf.err" \
  || fail "tq stats with infinities failed: $(cat "$tmp/inf.err")"
grep -Eq "warning: activation of 'LeNet/Dense_Block/Dense3' \('dense3'\) has 0 NaN, [1-9][0-9]* \+inf" "$tmp/inf.err" \
  || fail "no warning about infinities: $(cat "$tmp/inf.err")"
grep -q 'NaN/inf!' "$tmp/inf.txt" || fail "the table does not mark the rows with infinities"
"$py" - "$tmp/inf.json" <<'PYEOF' || fail "infinities are not accounted for"
import json, sys
layers = json.load(open(sys.argv[1]))["stats"]["layers"]
inf = [l for l in layers if l["pos_inf"] + l["neg_inf"] > 0]
assert inf, "no entry with infinities"
for l in inf:
    assert l["finite"] + l["pos_inf"] + l["neg_inf"] + l["nan"] == l["count"]
    assert sum(l["histogram"]["counts"]) == l["finite"]
    assert l["max_abs"] <= 14 and l["max"] <= 14 and l["min"] >= -14, l["layer"]
PYEOF
echo "stats: infinities counted and warned about"

# ---- 5. bad input ------------------------------------------------------------------
# stats_fails WHAT PATTERN ARGS...: tq stats ARGS fails with PATTERN in its
# error and writes no $tmp/bad.json.
stats_fails() {
  local what=$1 pattern=$2
  shift 2
  expect_error any "$pattern" stats "$@"
  [[ ! -e $tmp/bad.json ]] || fail "$what: wrote $tmp/bad.json"
  echo "stats: $what -> $(head -1 <<<"$err")"
}
stats_fails "missing dataset" "$tmp/nowhere" "$model" --data "$tmp/nowhere" -o "$tmp/bad.json"
stats_fails "missing model" "nomodel.onnx" "$tmp/nomodel.onnx" --data fashion-mnist -o "$tmp/bad.json"
stats_fails "--limit 0" "--limit expects an integer from 1" "$model" --data fashion-mnist --limit 0
stats_fails "--widths 8,x" "--widths '8,x': item 'x' at position 3" "$model" --data fashion-mnist --widths 8,x
stats_fails "--widths 8,1" "item '1' at position 3 is not a word width from 2 to 53" "$model" --data fashion-mnist --widths 8,1
stats_fails "-o bad.txt" "must end in .json .* or .csv" "$model" --data fashion-mnist -o "$tmp/bad.txt"
stats_fails "no --data" "needs MODEL.onnx and --data" "$model"

# NPY datasets (written without numpy): samples of the wrong shape, and
# labels beyond the model's 10 classes.
"$py" - "$tmp" <<'EOF'
import struct, sys
def npy(path, descr, shape, payload):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload)
d = sys.argv[1]
npy(d + "/x3.npy", "<f4", "(4, 3, 8, 8)", struct.pack("<%df" % (4 * 192), *([0.5] * (4 * 192))))
npy(d + "/y4.npy", "<i8", "(4,)", struct.pack("<4q", 0, 1, 2, 3))
npy(d + "/x28.npy", "<f4", "(4, 1, 28, 28)", struct.pack("<%df" % (4 * 784), *([0.25] * (4 * 784))))
npy(d + "/y20.npy", "<i8", "(4,)", struct.pack("<4q", 0, 1, 20, 3))
EOF
stats_fails "samples of the wrong shape" "samples of shape \[3, 8, 8\].*takes \[-1, 1, 28, 28\]" \
  "$model" --data "$tmp/x3.npy,$tmp/y4.npy" -o "$tmp/bad.json"
stats_fails "labels beyond the model's classes" "10 classes, but the dataset .* has labels up to 20" \
  "$model" --data "$tmp/x28.npy,$tmp/y20.npy" -o "$tmp/bad.json"
echo "stats: all checks passed"
