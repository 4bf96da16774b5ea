#!/usr/bin/env bash
# Fidelity on transformers exported from PyTorch (tests/python/
# transformer_check.py): an encoder language model (int64 input_ids and
# attention_mask), a decoder-only one (causal mask) and a reduced
# torchvision VisionTransformer (64x64, 2 layers, width 64: vit_b_16 itself
# takes too long for CI; `transformer_check.py TQ --all` runs it, swin_t and
# maxvit_t), each at opset 17 and converted to the highest opset the onnx
# version converter reaches; tq's outputs within 1e-4 of the largest of
# PyTorch's. Skipped without torch or the onnx 1.19 folder
# (scripts/setup-venv.sh).
# Usage: transformers.sh PATH_TO_TQ
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"

if ! tq_cli_venv numpy torch torchvision; then
  echo "SKIP: no numpy, torch and torchvision in $venv"
  exit 0
fi
if [[ ! -d $venv/onnx-1.19/onnx ]]; then
  bash "$source_dir/scripts/setup-venv.sh" "$venv" >/dev/null || true
fi
if [[ ! -d $venv/onnx-1.19/onnx ]]; then
  echo "SKIP: no onnx 1.19 in $venv/onnx-1.19 (scripts/setup-venv.sh)"
  exit 0
fi
"$venv_py" -W ignore "$here/../python/transformer_check.py" "$TQ" \
  --onnx-dir "$venv/onnx-1.19" >"$tmp/log" 2>&1 || {
  cat "$tmp/log"
  fail "transformer fidelity"
}
cat "$tmp/log"
grep -q "^6 passed, 0 failed" "$tmp/log" || fail "expected 6 model/opset rows"
tq_cli_pass
