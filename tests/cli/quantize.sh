#!/usr/bin/env bash
# tq quantize / formats / help: outputs, statistics, errors, atomic output.
# Usage: quantize.sh PATH_TO_TQ
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
py=/usr/bin/python3

# A small input with known answers under nearest,8,4 (step 1/16, range [-8, 7.9375]).
$py -c "
import numpy as np
np.save('$tmp/x.npy', np.array([[0.1, -0.26, 0.5], [3.3, -9.0, 100.0]], dtype=np.float64))"
"$TQ" quantize --spec nearest,8,4 -i "$tmp/x.npy" -o "$tmp/y.npy"
$py -c "
import numpy as np
y = np.load('$tmp/y.npy')
assert y.dtype == np.float32 and y.shape == (2, 3), (y.dtype, y.shape)
want = np.array([[0.125, -0.25, 0.5], [3.3125, -8.0, 7.9375]], dtype=np.float32)
assert (y == want).all(), y
" || fail "nearest,8,4 values"

# --stats: two of six inputs saturate; distinct values; JSON form.
out=$("$TQ" quantize --spec nearest,8,4 -i "$tmp/x.npy" --stats)
grep -q "saturated        33.3333 %" <<<"$out" || fail "saturated fraction: $out"
grep -q "distinct values  6" <<<"$out" || fail "distinct values: $out"
json=$("$TQ" quantize --spec nearest,8,4 -i "$tmp/x.npy" --json)
$py -c "
import json, sys
r = json.loads(sys.argv[1])
assert r['spec'] == 'nearest,8,4' and r['count'] == 6, r
assert abs(r['max_abs_error'] - 92.0625) < 1e-9, r
assert abs(r['frac_saturated'] - 1/3) < 1e-9, r
" "$json" || fail "json stats"

# Infinite errors stay valid JSON: an input of 1e38 overflows fp16 to inf.
$py -c "
import numpy as np
np.save('$tmp/big.npy', np.array([1e38, 1.0], dtype=np.float32))"
json=$("$TQ" quantize --spec fp16 -i "$tmp/big.npy" --json)
$py -c "
import json, sys
r = json.loads(sys.argv[1])
assert r['max_abs_error'] == 'inf' and r['sqnr_db'] == '-inf', r
" "$json" || fail "json stats with infinite error: $json"

# Stochastic rounding: same seed same bits at 1 and 2 threads, other seed differs.
$py -c "
import numpy as np
np.save('$tmp/r.npy', (np.arange(100000, dtype=np.float32) % 97) / 17.0)"
"$TQ" quantize --spec stochastic,8,2 --seed 5 --threads 1 -i "$tmp/r.npy" -o "$tmp/s1.npy"
"$TQ" quantize --spec stochastic,8,2 --seed 5 --threads 2 -i "$tmp/r.npy" -o "$tmp/s2.npy"
"$TQ" quantize --spec stochastic,8,2 --seed 6 -i "$tmp/r.npy" -o "$tmp/s3.npy"
cmp -s "$tmp/s1.npy" "$tmp/s2.npy" || fail "stochastic differs between thread counts"
cmp -s "$tmp/s1.npy" "$tmp/s3.npy" && fail "different seeds gave the same bits"

# Errors: exit status, message, and no output file left behind.
expect_error 2 "did you mean 'nearest'" quantize --spec nearst,8,4 -i "$tmp/x.npy" -o "$tmp/bad.npy"
expect_error 2 "between 1 and 32" quantize --spec nearest,40,4 -i "$tmp/x.npy" -o "$tmp/bad.npy"
printf 'garbage!' > "$tmp/g.npy"
expect_error 1 "magic" quantize --spec nearest,8,4 -i "$tmp/g.npy" -o "$tmp/bad.npy"
expect_error 1 "No such file" quantize --spec nearest,8,4 -i "$tmp/missing.npy" -o "$tmp/bad.npy"
expect_error 1 "" quantize --spec nearest,8,4 -i "$tmp/x.npy" -o "$tmp/nodir/out.npy"
expect_error 2 "needs --spec" quantize -i "$tmp/x.npy"
expect_error 2 "unknown argument" quantize --spec none -i "$tmp/x.npy" --bogus
expect_error 2 "integer from 1" quantize --spec none -i "$tmp/x.npy" --stats --threads 0
expect_error 2 "unknown command" frobnicate
[[ ! -e "$tmp/bad.npy" ]] || fail "a failed run left an output file"
ls "$tmp" | grep -q "tmp" && fail "a temporary file was left behind"

# Every command has --help with examples; formats lists every family.
for c in quantize formats map bench; do
  "$TQ" "$c" --help | grep -qi "example" || fail "$c --help has no examples"
done
"$TQ" --version | grep -q "^tq " || fail "--version"
names=$("$TQ" formats --names)
for n in nearest even half_up half_down half_zero down up zero away stochastic float \
         fp16 bf16 tf32 fp8e5m2 fp8e4m3 fp6e3m2 fp6e2m3 fp4e2m1 logarithmic sparse binary ternary none; do
  grep -qx "$n" <<<"$names" || fail "tq formats lacks $n"
done
tq_cli_pass
