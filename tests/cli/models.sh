#!/usr/bin/env bash
# Real models: tq run against PyTorch (float) and against ONNX Runtime with
# the quantizer written in ONNX ops (quantized). Models come from Debian's
# torchvision with random weights, exported by torch.onnx.export.
# TQ_ALL_TORCHVISION=1 checks every torchvision classification model.
# Usage: models.sh PATH_TO_TQ
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_venv numpy onnx onnxruntime torch torchvision ||
  fail "$venv lacks numpy, onnx, onnxruntime, torch or torchvision (scripts/setup.sh)"
py=$venv_py
work="$PWD/models-work"
mkdir -p "$work"
models=(tiny_cnn resnet18 mobilenet_v2 squeezenet1_1)
if [[ "${TQ_ALL_TORCHVISION:-0}" == 1 ]]; then
  models+=(alexnet vgg11 vgg11_bn resnet34 resnet50 resnext50_32x4d wide_resnet50_2
           densenet121 googlenet inception_v3 mobilenet_v3_small mobilenet_v3_large
           shufflenet_v2_x1_0 mnasnet1_0 efficientnet_b0 regnet_x_400mf regnet_y_400mf
           squeezenet1_0 convnext_tiny)
fi
"$py" "$source_dir/tests/python/model_check.py" float "${models[@]}" --tq "$TQ" --dir "$work"
"$py" "$source_dir/tests/python/model_check.py" float tiny_cnn resnet18 --opset 11 --tq "$TQ" --dir "$work"
# Opset 17, no constant folding: BatchNormalization nodes and the
# exporter's shape subgraphs stay in the file.
"$py" "$source_dir/tests/python/model_check.py" float tiny_cnn resnet18 --opset 17 --no-fold --tq "$TQ" --dir "$work"
"$py" "$source_dir/tests/python/model_check.py" quant tiny_cnn --opset 17 --no-fold --spec even,8,4 --tq "$TQ" --dir "$work"
"$py" "$source_dir/tests/python/model_check.py" quant tiny_cnn resnet18 --spec even,16,10 --tq "$TQ" --dir "$work"
"$py" "$source_dir/tests/python/model_check.py" quant tiny_cnn --spec even,8,4 --tq "$TQ" --dir "$work"
# tq export bakes in exactly the weights tq run uses (stochastic too).
"$py" -c "import numpy as np; np.save('$work/x.npy', np.random.default_rng(3).standard_normal((3, 1, 28, 28)).astype(np.float32))"
"$TQ" export "$work/tiny_cnn-op13.onnx" -o "$work/tiny_w.onnx" --weights stochastic,8,5 --seed 3 >/dev/null
"$TQ" run "$work/tiny_w.onnx" -i "$work/x.npy" -o "$work/baked.npy"
"$TQ" run "$work/tiny_cnn-op13.onnx" -i "$work/x.npy" -o "$work/live.npy" --weights stochastic,8,5 --seed 3
cmp -s "$work/baked.npy" "$work/live.npy" || fail "exported weights differ from tq run's"
tq_cli_pass
