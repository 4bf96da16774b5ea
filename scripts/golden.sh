#!/usr/bin/env bash
# Compares every golden output (tests/golden/golden.py: quantizers, models
# x maps with every node dumped, training, analysis, reports) of two builds
# on this machine: the proof that a refactor changed no bit.
#   bash scripts/golden.sh record [TQ]   outputs of TQ (default build/tq) -> out/golden
#   bash scripts/golden.sh check [TQ]    the same cases again, compared
# GOLDEN_DIR overrides out/golden. The inputs (arrays, torchvision exports)
# are made by the first record and reused. Float results depend on the CPU
# (OpenBLAS picks kernels by CPU): record and check on the same machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: golden.sh record|check [TQ]}
tq=${2:-build/tq}
dir=${GOLDEN_DIR:-out/golden}
[[ -x .venv/bin/python ]] || bash scripts/setup-venv.sh >/dev/null
exec .venv/bin/python tests/golden/golden.py "$mode" --tq "$tq" --dir "$dir"
