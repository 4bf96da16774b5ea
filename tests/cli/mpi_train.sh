#!/usr/bin/env bash
# tq train under mpirun (docs/mpi.md):
#  1. LeNet, one epoch on 2000 Fashion-MNIST images with --batch 48 in
#     --chunks 6 (chunks of 8: 3+3 on 2 ranks, 2+2+2 on 3): the 2- and
#     3-rank runs write byte-identical weights and print exactly what one
#     process with --chunks 6 prints; without --chunks, 2 ranks equal one
#     process with --chunks 2; only rank 0 prints (one JSON line per epoch);
#  2. quantized training with stochastic rounding (extrinsic, gradients and
#     updates maps): the noise follows the global sample positions, so the
#     2-rank run is again the single process's bits;
#  3. a rank killed with SIGKILL mid-training: mpirun exits non-zero within
#     60 s, says which rank died, and no tq process is left;
#  4. an error on every rank (--batch smaller than the ranks, a batch that
#     does not split into the chunks) fails the job with tq's message, not a
#     hang;
#  5. a tq built without MPI refuses to run as one of several ranks
#     (checked instead of 1-4 when tq --version says "MPI: not built in").
# Without mpirun the test fails (scripts/setup.sh installs Open MPI) unless
# TQ_SKIP_MPI=1.
# Usage: mpi_train.sh PATH_TO_TQ
# Env: TQ_FASHION_MNIST_DIR (the dataset; without it the script skips),
# MPIRUN, TQ_MPI_ARGS, TQ_MPI_TIMEOUT (tests/cli/lib/mpi.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=lib/mpi.sh
source "$here/lib/mpi.sh"
tq_cli_init "$@"

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
tq_cli_need_fashion_mnist train

# Equal bits need equal arithmetic: ranks on machines whose OpenBLAS picks
# another kernel set (TQ_MPI_ARGS=--hostfile ...) round their chunks
# differently. Then the byte comparisons below cannot hold; say so.
cores=$(tq_mpi_run 3 "$TQ" --version 2>/dev/null | sed -n 's/.*OpenBLAS core: \([^,)]*\).*/\1/p' | sort -u)
if [[ $(wc -l <<<"$cores") != 1 ]]; then
  echo "SKIP: the ranks run different OpenBLAS kernel sets ($(echo $cores)): results are equal only on identical CPUs"
  exit 0
fi


# same_run A.json A.onnx B.json B.onnx WHAT: the same weights, byte for
# byte, and the same printed loss and accuracies (rank 0 alone prints).
same_run() {
  local what=$5 k
  [[ $(wc -l <"$3") -eq 1 ]] || fail "$what: expected one JSON line (rank 0 only), got:
$(cat "$3")"
  for k in loss train_top1 val_top1 val_loss; do
    [[ $(json_get $k <"$1") == $(json_get $k <"$3") ]] ||
      fail "$what: $k $(json_get $k <"$3"), one process $(json_get $k <"$1")"
  done
  cmp -s "$2" "$4" || fail "$what: the weights differ from one process's"
}

common=(train --model lenet --data fashion-mnist --limit 2000 --epochs 1 --batch 48
  --optimizer sgd --lr 0.01 --json --quiet)

# ---- 1. float training: 1, 2 and 3 ranks ----------------------------------
"$TQ" "${common[@]}" --chunks 6 -o "$tmp/one.onnx" >"$tmp/one.json"
for np in 2 3; do
  tq_mpi_run $np "$TQ" "${common[@]}" --chunks 6 -o "$tmp/np$np.onnx" >"$tmp/np$np.json" \
    2>"$tmp/np$np.err" || fail "mpirun -np $np tq train failed:
$(cat "$tmp/np$np.err")"
  same_run "$tmp/one.json" "$tmp/one.onnx" "$tmp/np$np.json" "$tmp/np$np.onnx" "$np ranks"
  echo "$np ranks: $(cat "$tmp/np$np.json")"
done
echo "1 rank:  $(cat "$tmp/one.json")"
# The default: one chunk per rank.
"$TQ" "${common[@]}" --chunks 2 -o "$tmp/c2.onnx" >"$tmp/c2.json"
tq_mpi_run 2 "$TQ" "${common[@]}" -o "$tmp/d2.onnx" >"$tmp/d2.json" 2>"$tmp/d2.err" ||
  fail "mpirun -np 2 tq train (default chunks) failed:
$(cat "$tmp/d2.err")"
same_run "$tmp/c2.json" "$tmp/c2.onnx" "$tmp/d2.json" "$tmp/d2.onnx" "2 ranks, default chunks"

# ---- 2. stochastic rounding follows the global sample positions -----------
quant=(--extr stochastic,12,8 --gradients stochastic,12,10 --updates stochastic,16,12 --chunks 4)
"$TQ" "${common[@]}" "${quant[@]}" -o "$tmp/q1.onnx" >"$tmp/q1.json"
tq_mpi_run 2 "$TQ" "${common[@]}" "${quant[@]}" -o "$tmp/q2.onnx" >"$tmp/q2.json" 2>"$tmp/q2.err" \
  || fail "quantized mpirun -np 2 failed:
$(cat "$tmp/q2.err")"
same_run "$tmp/q1.json" "$tmp/q1.onnx" "$tmp/q2.json" "$tmp/q2.onnx" "quantized, 2 ranks"

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
rc=0
tq_mpi_run 2 "$TQ" train --model lenet --data fashion-mnist --batch 47 --chunks 6 \
  -o "$tmp/b47.onnx" >"$tmp/b47.out" 2>&1 || rc=$?
((rc != 0 && rc != 124 && rc != 137)) || fail "--batch 47 --chunks 6: exit status $rc"
grep -q "does not split into 6 equal chunks" "$tmp/b47.out" || fail "no error about 47 in 6 chunks:
$(cat "$tmp/b47.out")"

echo "PASS"
