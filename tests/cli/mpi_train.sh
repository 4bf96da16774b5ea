#!/usr/bin/env bash
# tq train under mpirun (docs/mpi.md):
#  1. LeNet, one epoch on 2000 Fashion-MNIST images with --batch 47 (shards
#     of 24+23 on 2 ranks, 16+16+15 on 3): the 2- and 3-rank runs print what
#     one process prints, within float summation order (loss within 1e-4,
#     accuracies within 2 samples, validation loss within 1e-4), and write
#     weights within 1e-4 of the largest weight of each tensor (SGD keeps
#     the rounding differences at their size; measured: 1e-6); only rank 0
#     prints (one JSON line per epoch);
#  2. quantized training with stochastic rounding (extrinsic, gradients and
#     updates maps): the noise follows the global sample positions, so the
#     2-rank run matches the single process as closely (measured: the same
#     bits); with the noise of another seed the loss moves by > 1e-2;
#  3. a rank killed with SIGKILL mid-training: mpirun exits non-zero within
#     60 s, says which rank died, and no tq process is left;
#  4. an error on every rank (--batch smaller than the ranks) fails the job
#     with tq's message, not a hang;
#  5. a tq built without MPI refuses to run as one of several ranks
#     (checked instead of 1-4 when tq --version says "MPI: not built in").
# Without mpirun the test fails (scripts/setup.sh installs Open MPI) unless
# TQ_SKIP_MPI=1.
# Usage: mpi_train.sh PATH_TO_TQ
# Env: TQ_FASHION_MNIST_DIR (the dataset; without it the script skips),
# TQ_VENV, MPIRUN, TQ_MPI_ARGS, TQ_MPI_TIMEOUT (tests/cli/lib/mpi.sh).
set -euo pipefail

TQ=${1:?usage: mpi_train.sh PATH_TO_TQ}
TQ=$(realpath "$TQ")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=${TQ_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
venv=${TQ_VENV:-$source_dir/.venv}
data_dir=${TQ_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
# shellcheck source=lib/mpi.sh
source "$here/lib/mpi.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
# within A B TOL: |A - B| <= TOL (numbers as decimal text).
within() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }

have_mpirun=1
tq_mpi_find || have_mpirun=0

# ---- 5. built without MPI -------------------------------------------------
if ! tq_mpi_has_support "$TQ"; then
  echo "tq was built without MPI: checking that it refuses to run as several ranks"
  if OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 "$TQ" train --model lenet \
    --data fashion-mnist -o "$tmp/x.onnx" >"$tmp/nompi.out" 2>&1; then
    fail "a tq without MPI ran as rank 0 of 2"
  fi
  grep -q "built without MPI" "$tmp/nompi.out" || fail "no 'built without MPI' in:
$(cat "$tmp/nompi.out")"
  if ((have_mpirun)); then
    if tq_mpi_run 2 "$TQ" formats >"$tmp/nompi2.out" 2>&1; then
      fail "mpirun -np 2 of a tq without MPI succeeded"
    fi
    grep -q "built without MPI" "$tmp/nompi2.out" || fail "no 'built without MPI' under mpirun:
$(cat "$tmp/nompi2.out")"
  fi
  echo "PASS (tq without MPI)"
  exit 0
fi

if ((!have_mpirun)); then
  if [[ ${TQ_SKIP_MPI:-} == 1 ]]; then
    echo "NOTE: TQ_SKIP_MPI=1 and $TQ_MPI_WHY: skipping"
    exit 0
  fi
  fail "$TQ_MPI_WHY; or set TQ_SKIP_MPI=1 to skip this test"
fi
if [[ ! -f $data_dir/train-images-idx3-ubyte.gz && ! -f $data_dir/train-images-idx3-ubyte ]]; then
  echo "SKIP: no Fashion-MNIST in $data_dir (install dataset-fashion-mnist or set TQ_FASHION_MNIST_DIR)"
  exit 0
fi

py=""
for p in "$venv/bin/python" /usr/bin/python3; do
  if [[ -x $p ]] && "$p" -c 'import numpy, onnx' 2>/dev/null; then
    py=$p
    break
  fi
done
[[ -n $py ]] || fail "no python with numpy and onnx to compare weights (install python3-onnx)"

json_get() { "$py" -c 'import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

# compare_json A B: the epoch lines of two runs agree within the tolerances.
compare_json() {
  local a=$1 b=$2 what=$3 n_train=1833 n_val=167
  [[ $(wc -l <"$b") -eq 1 ]] || fail "$what: expected one JSON line (rank 0 only), got:
$(cat "$b")"
  local k va vb
  for k in loss val_loss; do
    va=$(json_get $k <"$a")
    vb=$(json_get $k <"$b")
    within "$va" "$vb" 1e-4 || fail "$what: $k $vb, one process $va (tolerance 1e-4)"
  done
  va=$(json_get train_top1 <"$a")
  vb=$(json_get train_top1 <"$b")
  within "$va" "$vb" "$(awk -v n=$n_train 'BEGIN { print 2 / n }')" || fail "$what: train_top1 $vb, one process $va"
  va=$(json_get val_top1 <"$a")
  vb=$(json_get val_top1 <"$b")
  within "$va" "$vb" "$(awk -v n=$n_val 'BEGIN { print 2 / n }')" || fail "$what: val_top1 $vb, one process $va"
}

# compare_weights A.onnx B.onnx TOL: every float initializer within TOL of
# the largest magnitude in its tensor; prints the worst relative difference.
compare_weights() {
  "$py" - "$1" "$2" "$3" <<'PY'
import sys
import numpy as np
import onnx
from onnx import numpy_helper
def load(p):
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(p).graph.initializer}
a, b, tol = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
if a.keys() != b.keys():
    sys.exit("different initializers: %s" % sorted(set(a) ^ set(b)))
worst, name = 0.0, ""
for k, x in a.items():
    if x.dtype != np.float32:
        continue
    d = float(np.max(np.abs(x.astype(np.float64) - b[k]))) if x.size else 0.0
    rel = d / max(float(np.max(np.abs(x))), 1e-30) if x.size else 0.0
    if rel > worst:
        worst, name = rel, k
print("worst relative weight difference: %.3g (%s)" % (worst, name or "-"))
if worst > tol:
    sys.exit("%s differs by %.3g of its largest weight (tolerance %g)" % (name, worst, tol))
PY
}

common=(train --model lenet --data fashion-mnist --limit 2000 --epochs 1 --batch 47
  --optimizer sgd --lr 0.01 --json --quiet)

# ---- 1. float training: 1, 2 and 3 ranks ----------------------------------
"$TQ" "${common[@]}" -o "$tmp/one.onnx" >"$tmp/one.json"
for np in 2 3; do
  tq_mpi_run $np "$TQ" "${common[@]}" -o "$tmp/np$np.onnx" >"$tmp/np$np.json" 2>"$tmp/np$np.err" \
    || fail "mpirun -np $np tq train failed:
$(cat "$tmp/np$np.err")"
  compare_json "$tmp/one.json" "$tmp/np$np.json" "$np ranks"
  compare_weights "$tmp/one.onnx" "$tmp/np$np.onnx" 1e-4 || fail "$np ranks: weights differ"
  echo "$np ranks: $(cat "$tmp/np$np.json")"
done
echo "1 rank:  $(cat "$tmp/one.json")"

# ---- 2. stochastic rounding follows the global sample positions -----------
quant=(--extr stochastic,12,8 --gradients stochastic,12,10 --updates stochastic,16,12)
"$TQ" "${common[@]}" "${quant[@]}" -o "$tmp/q1.onnx" >"$tmp/q1.json"
tq_mpi_run 2 "$TQ" "${common[@]}" "${quant[@]}" -o "$tmp/q2.onnx" >"$tmp/q2.json" 2>"$tmp/q2.err" \
  || fail "quantized mpirun -np 2 failed:
$(cat "$tmp/q2.err")"
compare_json "$tmp/q1.json" "$tmp/q2.json" "quantized, 2 ranks"
compare_weights "$tmp/q1.onnx" "$tmp/q2.onnx" 1e-4 || fail "quantized, 2 ranks: weights differ"
# The check above can tell: other noise (another seed for the same
# quantizers) moves the loss far more than the tolerance.
"$TQ" "${common[@]}" --extr stochastic,12,8 --gradients stochastic,12,10 \
  --updates stochastic,16,12 --seed 2 -o "$tmp/q1s.onnx" >"$tmp/q1s.json"
la=$(json_get loss <"$tmp/q1.json")
lb=$(json_get loss <"$tmp/q1s.json")
! within "$la" "$lb" 1e-2 || fail "another seed changes the loss by less than 1e-2 ($la vs $lb): the comparison cannot tell"

# ---- 3. a rank dies ---------------------------------------------------------
# Killed once both ranks train (the epoch line is out), inside the steps.
tq_mpi_expect_rank_death "$tmp" "$TQ train" "^training lenet" \
  "$TQ" train --model lenet --data fashion-mnist --limit 30000 \
  --epochs 5 --quiet -o "$tmp/killed.onnx"

# ---- 4. the same error on every rank ----------------------------------------
rc=0
tq_mpi_run 2 "$TQ" train --model lenet --data fashion-mnist --batch 1 -o "$tmp/b1.onnx" \
  >"$tmp/b1.out" 2>&1 || rc=$?
((rc != 0 && rc != 124 && rc != 137)) || fail "--batch 1 on 2 ranks: exit status $rc (0 or a timeout)"
grep -q "smaller than the 2 ranks" "$tmp/b1.out" || fail "no error about --batch 1 on 2 ranks:
$(cat "$tmp/b1.out")"

echo "PASS"
