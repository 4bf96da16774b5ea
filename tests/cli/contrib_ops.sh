#!/usr/bin/env bash
# ONNX Runtime's contrib operators (com.microsoft LayerNormalization,
# SkipLayerNormalization, FastGelu, BiasGelu) against ONNX Runtime, and the
# domain kept by tq export (tests/python/contrib_check.py).
# Usage: contrib_ops.sh PATH_TO_TQ
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"

if ! tq_cli_venv numpy onnx onnxruntime; then
  echo "SKIP: no numpy, onnx and onnxruntime in $venv"
  exit 0
fi
"$venv_py" "$here/../python/contrib_check.py" "$TQ" "$tmp" >"$tmp/log" 2>&1 ||
  fail "contrib operators differ from ONNX Runtime"
cat "$tmp/log"
tq_cli_pass
