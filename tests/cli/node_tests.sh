#!/usr/bin/env bash
# The ONNX backend node tests of every operator docs/ops.md claims, as they
# are (inputs fed at run time by name): tests/python/node_tests.py runs
# them with tq run and compares every output (integers exactly, floats
# within a tolerance derived from the op's arithmetic; see the script).
# Fails on any failure that is not a documented deviation. The tests come
# from the onnx 1.19 package scripts/setup-venv.sh installs beside the venv
# (VENV/onnx-1.19); skipped without it.
# Usage: node_tests.sh PATH_TO_TQ
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"

if ! tq_cli_venv numpy; then
  echo "SKIP: no numpy in $venv"
  exit 0
fi
if [[ ! -d $venv/onnx-1.19/onnx/backend/test/data/node ]]; then
  bash "$source_dir/scripts/setup-venv.sh" "$venv" >/dev/null || true
fi
if [[ ! -d $venv/onnx-1.19/onnx/backend/test/data/node ]]; then
  echo "SKIP: no ONNX node tests in $venv/onnx-1.19 (scripts/setup-venv.sh)"
  exit 0
fi
"$venv_py" "$here/../python/node_tests.py" "$TQ" \
  --onnx-dir "$venv/onnx-1.19" --jobs 2 >"$tmp/log" 2>&1 || {
  cat "$tmp/log"
  fail "node tests failed"
}
cat "$tmp/log"
tq_cli_pass
