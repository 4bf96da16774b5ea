#!/usr/bin/env bash
# Quantized training on Fashion-MNIST with LeNet: the seed's example maps,
# 8-bit fixed point weights and activations, and low-precision weight
# storage (the updates map) with round-to-nearest against stochastic
# rounding (Gupta et al. 2015). Prints one line per run: final epoch's
# validation accuracy and the test accuracy (tq eval, same maps).
#   bash bench/train_quantized.sh [BUILD_DIR] [LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
limit="${2:-60000}"
tq="${TQ_BIN:-$build/tq}"
out="${OUT_DIR:-/tmp/tq-train-quantized}"
mkdir -p "$out"
seed_extr='{"Conv1": "nearest,12,11"}'
seed_weights='{"Conv1": "nearest,32,16", "Dense3": "nearest,32,16"}'
run() { # name epochs eval-maps... -- train-options...
  local name=$1 epochs=$2; shift 2
  local eval_opts=()
  while [[ $1 != -- ]]; do eval_opts+=("$1"); shift; done
  shift
  local last
  last=$("$tq" train --model lenet --data fashion-mnist --limit "$limit" \
    --epochs "$epochs" -o "$out/$name.onnx" --json --quiet "$@" | tail -1)
  local test
  test=$("$tq" eval "$out/$name.onnx" --data fashion-mnist --json --quiet "${eval_opts[@]}")
  /usr/bin/python3 - "$name" "$last" "$test" <<'PY'
import json, sys
name, last, test = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print("%-34s epochs %2d  train loss %.4f  val %.2f %%  test %.2f %%" % (
    name, last["epoch"], last["loss"], 100 * last["val_top1"], 100 * test["top1"]))
PY
}
run float-adam-1ep 1 -- 
run seed-maps-1ep 1 --extr "$seed_extr" --weights "$seed_weights" -- \
  --extr "$seed_extr" --weights "$seed_weights"
run fixed8-acts-weights-3ep 3 --extr nearest,8,4 --weights nearest,8,7 -- \
  --extr nearest,8,4 --weights nearest,8,7
for upd in none nearest,12,10 stochastic,12,10; do
  opts=(--optimizer sgd --lr 0.01 --momentum 0.9 --schedule constant)
  [[ $upd != none ]] && opts+=(--updates "$upd")
  run "sgd-updates-${upd//,/_}-2ep" 2 -- "${opts[@]}"
done
# A coarser grid without momentum: lr * gradient is mostly below half a
# step of 2^-8, so round-to-nearest stalls and stochastic rounding learns.
for upd in none nearest,10,8 stochastic,10,8; do
  opts=(--optimizer sgd --lr 0.01 --momentum 0 --schedule constant)
  [[ $upd != none ]] && opts+=(--updates "$upd")
  run "sgd0-updates-${upd//,/_}-2ep" 2 -- "${opts[@]}"
done
