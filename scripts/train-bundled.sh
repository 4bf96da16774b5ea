#!/usr/bin/env bash
# Reproduces the bundled model models/lenet-fashion-mnist.onnx: LeNet from
# the zoo trained on Fashion-MNIST with tq's default recipe (Adam, lr 1e-3,
# cosine schedule, batch 64, 15 epochs, seed 1, 5000 training images held
# out for validation). Deterministic: the same bits at any thread count.
#   bash scripts/train-bundled.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
tq="${1:-build}/tq"
[[ -x "$tq" ]] || tq="${1:-build}/tools/tq/tq"
"$tq" train --model lenet --data fashion-mnist --epochs 15 --batch 64 \
  --optimizer adam --lr 1e-3 --schedule cosine --seed 1 \
  -o models/lenet-fashion-mnist.onnx --checkpoint /tmp/lenet-fashion-mnist.ckpt --quiet
"$tq" eval models/lenet-fashion-mnist.onnx --data fashion-mnist --quiet
