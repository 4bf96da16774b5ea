#!/usr/bin/env bash
# tq quantize with the scaled and block formats (docs/design.md §2.10):
# every format against the independent reference tests/python/formats_ref.py
# (element rounding from ml_dtypes, llama.cpp's blocks from gguf), bit for
# bit on edge cases and random data; the errors of bad specs and shapes;
# tq formats lists them.
# Usage: formats.sh PATH_TO_TQ
# Env: TQ_VENV, a virtualenv with numpy, ml_dtypes and gguf (default: .venv
# in the source tree); made with scripts/setup-venv.sh when they are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_keep_going

tq_cli_venv ml_dtypes numpy gguf || fail "no numpy, ml_dtypes and gguf in $venv"
"$venv_py" "$here/../python/formats_ref.py" check "$TQ" "$tmp" ||
  fail "tq quantize differs from the reference (see above)"

names=$("$TQ" formats --names)
for n in int mxfp8e4m3 mxfp8e5m2 mxfp6e3m2 mxfp6e2m3 mxfp4 mxint8 nvfp4 bfp \
  q8_0 q4_0 q4_1 q5_0 q5_1; do
  grep -qx "$n" <<<"$names" || fail "tq formats lacks $n"
done
run 0 formats
contains "$out" "4.25 bits"

"$venv_py" -c 'import numpy as np; np.save("'"$tmp"'/x.npy", np.arange(96, dtype=np.float32).reshape(2, 48))'
x=$tmp/x.npy
# Spec errors name the spec, the token and its position.
expect_error 2 "int,8,grup=4:1:7: .*unknown option 'grup' at position 7 .*did you mean 'group'" \
  quantize --spec int,8,grup=4 -i "$x" --stats
expect_error 2 "group must be between 1 and .*got 0 at position 7" \
  quantize --spec int,8,group=0 -i "$x" --stats
expect_error 2 "integer bits B must be between 2 and 16, got 17 at position 5" \
  quantize --spec int,17 -i "$x" --stats
expect_error 2 "'bf16,scaled'.*scaled needs an exponent field of at most 5 bits" \
  quantize --spec bf16,scaled -i "$x" --stats
expect_error 2 "narrow .* applies to sym only, not asym" \
  quantize --spec int,8,asym,narrow -i "$x" --stats
expect_error 2 "options 'sym' and 'unsigned' exclude each other" \
  quantize --spec int,8,sym,unsigned -i "$x" --stats
expect_error 2 "option 'scale_round' at position 7 does not apply to 'int'" \
  quantize --spec int,8,scale_round=ceil -i "$x" --stats
expect_error 2 "axis must be an integer, got 'channel'" \
  quantize --spec mxfp4,axis=channel -i "$x" --stats
expect_error 2 "static takes one calibrated range per tensor" \
  quantize --spec int,8,static,axis=0 -i "$x" --stats
# Shape errors at quantize time name the spec and the axis or length.
expect_error 1 "quantizer 'int,8,axis=2': axis 2 is beyond the rank-2 tensor \[2, 48\]" \
  quantize --spec int,8,axis=2 -i "$x" --stats
expect_error 1 "quantizer 'q4_0': llama.cpp blocks of 32 .* length 48 is not a multiple of 32" \
  quantize --spec q4_0 -i "$x" --stats
expect_error 1 "quantizer 'int,8,static'.*has none" \
  quantize --spec int,8,static -i "$x" --stats
run 0 quantize --spec int,8,static --range -1,2 -i "$x" -o "$tmp/y.npy"
run 0 quantize --spec mxfp4,axis=0,group=2 -i "$x" --stats --json
contains "$out" '"spec":"mxfp4,axis=0,group=2"'
tq_cli_pass
