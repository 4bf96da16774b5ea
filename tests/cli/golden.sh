#!/usr/bin/env bash
# Golden outputs that do not depend on the CPU (tests/golden/golden.py
# --portable): every quantizer family on edge values and random data, the
# bundled LeNet under intrinsic maps on every Conv/Gemm (every node's
# output but Softmax's), map resolution. The expected hashes are
# tests/golden/portable.tsv; a change that must not change behaviour
# leaves them as they are. To compare everything, float GEMMs and
# training included, between two builds on one machine: scripts/golden.sh.
set -euo pipefail
tq=$(realpath "${1:?usage: golden.sh PATH_TO_TQ}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$root/tests/golden/golden.py" check --portable --tq "$tq" \
  --dir "$tmp" --manifest "$root/tests/golden/portable.tsv"
