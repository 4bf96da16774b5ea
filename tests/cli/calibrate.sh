#!/usr/bin/env bash
# tq calibrate and --calib: ranges against ONNX Runtime's calibrators on
# torchvision models (tests/python/calib_check.py), then on the bundled
# LeNet: the file's form, static specs under --calib in eval, sweep and
# search, the default axes tq map check --model shows, and the errors.
# Usage: calibrate.sh PATH_TO_TQ
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_keep_going
cd "$tmp"

# ---- ONNX Runtime agreement --------------------------------------------------
if [[ ${TQ_SKIP_ORT:-0} != 1 ]] && tq_cli_venv numpy onnx onnxruntime torch torchvision; then
  "$venv_py" "$source_dir/tests/python/calib_check.py" tiny_cnn --samples 12 \
    --tq "$TQ" --dir "$tmp/ort" | grep -v '^[A-Z][a-z]' ||
    fail "tiny_cnn: ranges differ from ONNX Runtime's"
  "$venv_py" "$source_dir/tests/python/calib_check.py" resnet18 --samples 8 \
    --tq "$TQ" --dir "$tmp/ort" | grep -v '^[A-Z][a-z]' ||
    fail "resnet18: ranges differ from ONNX Runtime's"
else
  echo "NOTE: skipping the ORT comparison (TQ_SKIP_ORT=1, or no onnxruntime/torch in the venv)"
fi

# ---- LeNet -------------------------------------------------------------------
tq_cli_need_fashion_mnist train
model=$source_dir/models/lenet-fashion-mnist.onnx
conv1=LeNet/Convolution_Block/Conv1
run 0 calibrate "$model" --data fashion-mnist --limit 300 -o c.json
contains "$out" "calibrated 13 layers on 300 samples (minmax)"
contains "$(cat c.json)" '"method": "minmax"'
contains "$(cat c.json)" '"samples": 300'
contains "$(cat c.json)" "\"$conv1\": {"
# the training split by default: --split test gives other ranges
run 0 calibrate "$model" --data fashion-mnist --limit 300 --split test -o t.json
cmp -s c.json t.json && fail "--split test gave the training split's ranges"
for m in percentile=99.9 entropy mse; do
  run 0 calibrate "$model" --data fashion-mnist --limit 300 --method "$m" -o "$m.json"
done
# every method's range lies within the exact one
/usr/bin/python3 - <<'PY' || fail "a method's range lies outside minmax's"
import json
mm = json.load(open("c.json"))["layers"]
for m in ["percentile=99.9", "entropy", "mse"]:
    d = json.load(open(m + ".json"))
    assert d["method"] == m, d["method"]
    for k, r in d["layers"].items():
        assert mm[k]["min"] <= r["min"] <= r["max"] <= mm[k]["max"], (m, k, r)
PY

# static specs take the ranges: eval, sweep, search
run 0 eval "$model" --data fashion-mnist --limit 200 --extr int,8,static \
  --weights int,8,axis=channel --calib c.json --json -q
top1=$(json_get top1 <<<"$out")
num_check "$top1" ">=" 0.85 || fail "int8 static top-1 $top1"
run 0 sweep "$model" --data fashion-mnist --limit 100 --specs 'int,8,static;int,4,static' \
  --layers Conv --calib c.json -q
contains "$out" "int,4,static"
run 0 sweep "$model" --data fashion-mnist --limit 100 --specs 'nearest,8,{auto}' \
  --layers Conv --calib 50 -q
expect_error 1 "layer 'Input/Center': 'int,8,static' is static .*--calib" \
  eval "$model" --data fashion-mnist --limit 10 --extr int,8,static

# errors: malformed file, another model's file, a layer the spec needs
printf '{"method": "minmax",\n "samples": 3,\n "layers": {,}}\n' >bad.json
expect_error 1 "bad.json:3:1[0-9]" eval "$model" --data fashion-mnist --limit 10 \
  --extr int,8,static --calib bad.json
printf '{"method": "minmax", "samples": 3, "layers": {"Nope": {"min": 0, "max": 1}}}\n' >other.json
expect_error 1 "other.json: layer 'Nope' is not a layer of this model" \
  eval "$model" --data fashion-mnist --limit 10 --extr int,8,static --calib other.json
printf '{"method": "minmax", "samples": 3, "layers": {"%s": {"min": 0, "max": 1}}}\n' "$conv1" >one.json
expect_error 1 "layer 'Input/Center': 'int,8,static' is static" \
  eval "$model" --data fashion-mnist --limit 10 --extr int,8,static --calib one.json
run 0 eval "$model" --data fashion-mnist --limit 10 --extr "{\"re:Conv1\$\": \"int,8,static\"}" \
  --calib one.json -q
printf '{"method": "minmax", "samples": 3, "layers": {"%s": {"min": 2, "max": 1}}}\n' "$conv1" >inv.json
expect_error 1 "inv.json: layer '$conv1': the range \[2, 1\]" \
  eval "$model" --data fashion-mnist --limit 10 --calib inv.json
expect_error 2 "unknown calibration method 'kl'" \
  calibrate "$model" --data fashion-mnist -o x.json --method kl
expect_error 2 "P must be a number in \(0, 100\]" \
  calibrate "$model" --data fashion-mnist -o x.json --method percentile=101
expect_error 1 "layer '$conv1': intrinsic quantization .* 'mxfp4' shares one scale" \
  eval "$model" --data fashion-mnist --limit 10 --intr mxfp4
expect_error 1 "layer '$conv1': weights map gives 'int,8,static'" \
  eval "$model" --data fashion-mnist --limit 10 --weights int,8,static

# ---- default axes (docs/design.md §3) ----------------------------------------
cat >axes.json <<'JSON'
{"extrinsic": {"Flatten": "mxfp4", "": "int,8,axis=channel"},
 "weights": {"Conv": "mxfp8e4m3", "Dense": "int,8,axis=channel"}}
JSON
run 0 map check axes.json --model "$model" --layer "$conv1" \
  --layer LeNet/Dense_Block/Dense3 --layer LeNet/Dense_Block/Flatten
contains "$out" "at conv1 [1, 20, 28, 28]: per channel along axis 1"
contains "$out" "at Conv1.weight [20, 1, 5, 5]: blocks of 32 along axis 1"
contains "$out" "at Dense3.weight [500, 2450]: per channel along axis 0"
contains "$out" "at dense3 [1, 500]: per channel along axis 1"
contains "$out" "at flat [1, 2450]: blocks of 32 along axis 1"
run 0 map check axes.json --model "$model" --layer LeNet/Dense_Block/Dense3 --json
contains "$out" '"axis": 0'
expect_error 1 "--layer 'Nope' is not a layer of the model" \
  map check axes.json --model "$model" --layer Nope
tq_cli_pass
