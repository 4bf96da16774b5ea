#!/usr/bin/env bash
# Golden outputs that do not depend on the CPU (tests/golden/golden.py
# --portable): every quantizer family on edge values and random data, the
# bundled LeNet under intrinsic maps on every Conv/Gemm (every node's
# output but Softmax's), map resolution. The expected hashes are
# tests/golden/portable.tsv; a change that must not change behaviour
# leaves them as they are. To compare everything, float GEMMs and
# training included, between two builds on one machine: scripts/golden.sh.
# The check runs twice: with the best kernels this CPU has and with the
# scalar reference kernels (TQ_KERNELS=scalar), which must give the same
# hashes.
# Usage: golden.sh PATH_TO_TQ
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
for kernels in best scalar; do
  echo "kernels: $kernels"
  TQ_KERNELS=$kernels /usr/bin/python3 "$source_dir/tests/golden/golden.py" check --portable \
    --tq "$TQ" --dir "$tmp" --manifest "$source_dir/tests/golden/portable.tsv" ||
    fail "$kernels kernels: outputs differ from tests/golden/portable.tsv (see above)"
done
tq_cli_pass
