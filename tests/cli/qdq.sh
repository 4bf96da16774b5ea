#!/usr/bin/env bash
# Quantized ONNX models against ONNX Runtime (tests/python/qdq_check.py):
#  1. small hand-made models for every import path (per-axis, blocked int4,
#     uint16, float8, int4 weights, QLinearConv, com.microsoft ops) equal
#     ONNX Runtime exactly; bad QDQ nodes give errors naming node and input;
#  2. tiny_cnn and resnet18 quantized by ONNX Runtime (static QDQ per tensor
#     and per channel, QOperator, dynamic): each quantized layer on ORT's
#     inputs within one step on 0.1 % of its outputs, the whole model as
#     close as measured against ORT's optimized-vs-unoptimized figure;
#  3. tq export --qdq of both under int,8 / int,8,asym / int,4 weights runs
#     in ONNX Runtime with the values tq run computes;
#  4. tq info shows the quantizer a QDQ pair equals.
# ONNX Runtime's quantization tools need onnx >= 1.14 (Debian has 1.12), so
# this uses its own virtualenv: $TQ_QDQ_VENV, made here (system packages
# visible for torch) when it lacks them.
# TQ_QDQ_ALL=1 adds mobilenet_v2 to part 2.
# Usage: qdq.sh PATH_TO_TQ
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_keep_going

venv=${TQ_QDQ_VENV:-$PWD/qdq-venv}
py=$venv/bin/python
need='import onnxruntime.quantization, onnx, torch, torchvision, numpy'
if ! "$py" -c "$need" 2>/dev/null; then
  echo "setting up $venv (onnx and onnxruntime for the quantization tools)"
  /usr/bin/python3 -m venv --system-site-packages "$venv" >/dev/null &&
    "$venv/bin/pip" install -q 'onnx>=1.17,<1.20' 'numpy<2' \
      'ml_dtypes>=0.5,<0.6' 'onnxruntime>=1.20' >/dev/null 2>&1 || true
fi
if ! "$py" -c "$need" 2>/dev/null; then
  echo "SKIP: $venv cannot import onnxruntime.quantization, onnx, torch"
  exit 0
fi
work="$PWD/qdq-work"
mkdir -p "$work"
check="$source_dir/tests/python/qdq_check.py"

"$py" "$check" small --tq "$TQ" --dir "$work" 2>/dev/null ||
  fail "small models (see above)"
models=(tiny_cnn resnet18)
# TQ_QDQ_ALL=1: mobilenet_v2 too (about two minutes more)
[[ ${TQ_QDQ_ALL:-0} == 1 ]] && models+=(mobilenet_v2)
"$py" "$check" import "${models[@]}" --tq "$TQ" --dir "$work" 2>/dev/null ||
  fail "models quantized by ONNX Runtime (see above)"
"$py" "$check" export tiny_cnn resnet18 --tq "$TQ" --dir "$work" 2>/dev/null ||
  fail "tq export --qdq (see above)"

run 0 info "$work/tiny_cnn-qdq.onnx"
contains "$out" "QDQ int,8,asym,static (ONNX int8, scale"
contains "$out" "weights int,8,sym,static (ONNX int8"
# int weights maps quantize kernels; biases stay float without a static
# input scale (docs/design.md §3)
run 0 info "$work/tiny_cnn-export-qdq.onnx"
contains "$out" "conv2.weight_DequantizeLinear"
lacks "$out" "conv2.bias_DequantizeLinear"
run 0 info "$work/qdq_axis.onnx"
contains "$out" "QDQ int,8,asym,axis=1,static (ONNX int8, 4 scales"
expect_error 1 "format 'mxfp4' cannot be written as ONNX" \
  export "$work/tiny_cnn-op13.onnx" -o "$tmp/x.onnx" --weights mxfp4 --qdq
echo '{"extrinsic": {"re:.": "int,8"}}' >"$tmp/extr.json"
expect_error 1 "activation quantizer 'int,8' is not written as QDQ yet" \
  export "$work/tiny_cnn-op13.onnx" -o "$tmp/x.onnx" --map "$tmp/extr.json" \
  --qdq
tq_cli_pass
