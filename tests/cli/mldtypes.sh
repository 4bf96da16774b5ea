#!/usr/bin/env bash
# tq quantize against ml_dtypes: the fp8/fp6/fp4 OCP formats, bf16 and fp16
# (numpy.float16) must equal the reference conversions bit for bit.
# Usage: mldtypes.sh PATH_TO_TQ
# Env: TQ_VENV, a virtualenv with numpy and ml_dtypes (default: .venv in the
# source tree); made with scripts/setup-venv.sh when they are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
ref=$here/../python/mldtypes_ref.py

# Tests install what they need themselves: a virtualenv made with Debian's
# interpreter (it sees Debian's numpy) plus ml_dtypes from PyPI.
tq_cli_venv ml_dtypes numpy || fail "no numpy and ml_dtypes in $venv"
tq_cli_keep_going

"$venv_py" "$ref" generate "$tmp/in.npy"
for fmt in fp8e5m2 fp8e4m3 fp6e3m2 fp6e2m3 fp4e2m1 bf16 fp16; do
  if ! "$TQ" quantize --spec "$fmt" -i "$tmp/in.npy" -o "$tmp/$fmt.npy"; then
    fail "$fmt: tq quantize failed"
    continue
  fi
  "$venv_py" "$ref" compare "$fmt" "$tmp/in.npy" "$tmp/$fmt.npy" ||
    fail "$fmt: differs from ml_dtypes (see above)"
done
tq_cli_pass
