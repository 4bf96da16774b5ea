#!/usr/bin/env bash
# tq quantize / formats / help: outputs, statistics, errors, atomic output.
set -euo pipefail
tq="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
py=/usr/bin/python3

# A small input with known answers under nearest,8,4 (step 1/16, range [-8, 7.9375]).
$py -c "
import numpy as np
np.save('$dir/x.npy', np.array([[0.1, -0.26, 0.5], [3.3, -9.0, 100.0]], dtype=np.float64))"
"$tq" quantize --spec nearest,8,4 -i "$dir/x.npy" -o "$dir/y.npy"
$py -c "
import numpy as np
y = np.load('$dir/y.npy')
assert y.dtype == np.float32 and y.shape == (2, 3), (y.dtype, y.shape)
want = np.array([[0.125, -0.25, 0.5], [3.3125, -8.0, 7.9375]], dtype=np.float32)
assert (y == want).all(), y
" || fail "nearest,8,4 values"

# --stats: two of six inputs saturate; distinct values; JSON form.
out=$("$tq" quantize --spec nearest,8,4 -i "$dir/x.npy" --stats)
grep -q "saturated        33.3333 %" <<<"$out" || fail "saturated fraction: $out"
grep -q "distinct values  6" <<<"$out" || fail "distinct values: $out"
json=$("$tq" quantize --spec nearest,8,4 -i "$dir/x.npy" --json)
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
np.save('$dir/big.npy', np.array([1e38, 1.0], dtype=np.float32))"
json=$("$tq" quantize --spec fp16 -i "$dir/big.npy" --json)
$py -c "
import json, sys
r = json.loads(sys.argv[1])
assert r['max_abs_error'] == 'inf' and r['sqnr_db'] == '-inf', r
" "$json" || fail "json stats with infinite error: $json"

# Stochastic rounding: same seed same bits at 1 and 2 threads, other seed differs.
$py -c "
import numpy as np
np.save('$dir/r.npy', (np.arange(100000, dtype=np.float32) % 97) / 17.0)"
"$tq" quantize --spec stochastic,8,2 --seed 5 --threads 1 -i "$dir/r.npy" -o "$dir/s1.npy"
"$tq" quantize --spec stochastic,8,2 --seed 5 --threads 2 -i "$dir/r.npy" -o "$dir/s2.npy"
"$tq" quantize --spec stochastic,8,2 --seed 6 -i "$dir/r.npy" -o "$dir/s3.npy"
cmp -s "$dir/s1.npy" "$dir/s2.npy" || fail "stochastic differs between thread counts"
cmp -s "$dir/s1.npy" "$dir/s3.npy" && fail "different seeds gave the same bits"

# Errors: exit status, message, and no output file left behind.
expect_error() { # code pattern args...
  local code=$1 pattern=$2; shift 2
  set +e; msg=$("$tq" "$@" 2>&1); rc=$?; set -e
  [[ $rc -eq $code ]] || fail "'$*' exited $rc, want $code: $msg"
  grep -q -- "$pattern" <<<"$msg" || fail "'$*': message lacks '$pattern': $msg"
}
expect_error 2 "did you mean 'nearest'" quantize --spec nearst,8,4 -i "$dir/x.npy" -o "$dir/bad.npy"
expect_error 2 "between 1 and 32" quantize --spec nearest,40,4 -i "$dir/x.npy" -o "$dir/bad.npy"
printf 'garbage!' > "$dir/g.npy"
expect_error 1 "magic" quantize --spec nearest,8,4 -i "$dir/g.npy" -o "$dir/bad.npy"
expect_error 1 "No such file" quantize --spec nearest,8,4 -i "$dir/missing.npy" -o "$dir/bad.npy"
expect_error 1 "" quantize --spec nearest,8,4 -i "$dir/x.npy" -o "$dir/nodir/out.npy"
expect_error 2 "needs --spec" quantize -i "$dir/x.npy"
expect_error 2 "unknown argument" quantize --spec none -i "$dir/x.npy" --bogus
expect_error 2 "integer from 1" quantize --spec none -i "$dir/x.npy" --stats --threads 0
expect_error 2 "unknown command" frobnicate
[[ ! -e "$dir/bad.npy" ]] || fail "a failed run left an output file"
ls "$dir" | grep -q "tmp" && fail "a temporary file was left behind"

# Every command has --help with examples; formats lists every family.
for c in quantize formats map bench; do
  "$tq" "$c" --help | grep -qi "example" || fail "$c --help has no examples"
done
"$tq" --version | grep -q "^tq " || fail "--version"
names=$("$tq" formats --names)
for n in nearest even half_up half_down half_zero down up zero away stochastic float \
         fp16 bf16 tf32 fp8e5m2 fp8e4m3 fp6e3m2 fp6e2m3 fp4e2m1 logarithmic sparse binary ternary none; do
  grep -qx "$n" <<<"$names" || fail "tq formats lacks $n"
done
echo "cli quantize: all checks passed"
