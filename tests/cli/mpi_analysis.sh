#!/usr/bin/env bash
# tq eval, sweep, sensitivity and search under mpirun -np 2 give the same
# numbers as one process:
#  1. tq eval (stochastic rounding, a last batch shorter than the others):
#     the same top-1, top-5 and loss, to the last digit;
#  2. tq sensitivity and tq sweep: byte-identical JSON documents;
#  3. tq search: the same document and a byte-identical map file;
#  4. a rank killed with SIGKILL mid-sweep: mpirun exits non-zero, saying
#     so, within 60 s (no hang).
# Usage: mpi_analysis.sh PATH_TO_TQ
# Env: TQ_SOURCE_DIR, TQ_FASHION_MNIST_DIR, MPIRUN, TQ_MPI_ARGS,
# TQ_SKIP_MPI=1 (skip when there is no mpirun).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=lib/mpi.sh
source "$here/lib/mpi.sh"
tq_cli_init "$@"
model=$source_dir/models/lenet-fashion-mnist.onnx

if ! tq_mpi_has_support "$TQ"; then
  echo "SKIP: tq was built without MPI (tests/cli/mpi_train.sh checks that it refuses mpirun)"
  exit 0
fi
if ! tq_mpi_find; then
  [[ ${TQ_SKIP_MPI:-} == 1 ]] && { echo "NOTE: TQ_SKIP_MPI=1 and $TQ_MPI_WHY: skipping"; exit 0; }
  fail "$TQ_MPI_WHY; or set TQ_SKIP_MPI=1 to skip this test"
fi
tq_cli_need_fashion_mnist
cd "$tmp"

# both TOOL ARGS...: runs tq once alone (one.out) and on 2 ranks (two.out).
both() {
  "$TQ" "$@" >one.out
  tq_mpi_run 2 "$TQ" "$@" >two.out
}
common=(--data fashion-mnist --limit 700 --batch 128 -q)

# ---- 1. eval -------------------------------------------------------------------
both eval "$model" "${common[@]}" --extr stochastic,8,4 --weights nearest,6,5 --seed 5 --json
for f in top1 top5 loss n; do
  a=$(/usr/bin/python3 -c "import json; print(repr(json.load(open('one.out'))['$f']))")
  b=$(/usr/bin/python3 -c "import json; print(repr(json.load(open('two.out'))['$f']))")
  [[ $a == "$b" ]] || fail "eval: $f is $a alone, $b on 2 ranks"
done
echo "ok: eval"

# ---- 2. sensitivity, sweep -------------------------------------------------------
both sensitivity "$model" "${common[@]}" --what extr,weights --specs 'stochastic,{4,6},auto' --json
cmp -s one.out two.out || fail "sensitivity differs on 2 ranks: $(diff one.out two.out | head -5)"
[[ $(/usr/bin/python3 -c "import json; print(len(json.load(open('one.out'))['results']))") == 32 ]] ||
  fail "sensitivity: expected 32 rows"
both sweep "$model" "${common[@]}" --what weights --layers Conv,Dense --specs 'nearest,{3..5},auto' --json
cmp -s one.out two.out || fail "sweep differs on 2 ranks"
echo "ok: sensitivity, sweep"

# ---- 3. search ------------------------------------------------------------------
"$TQ" search "$model" "${common[@]}" --budget 1.0 --layers 're:(Conv|Dense)[0-9]$' \
  --widths 8,6,4,3,2 -o map1.json --json >one.out
tq_mpi_run 2 "$TQ" search "$model" "${common[@]}" --budget 1.0 --layers 're:(Conv|Dense)[0-9]$' \
  --widths 8,6,4,3,2 -o map2.json --json >two.out
cmp -s one.out two.out || fail "search document differs on 2 ranks"
cmp -s map1.json map2.json || fail "search map differs on 2 ranks"
echo "ok: search"

# ---- 4. a rank dies ----------------------------------------------------------------
tq_mpi_expect_rank_death "$tmp" "$TQ sensitivity" "" \
  "$TQ" sensitivity "$model" --data fashion-mnist --what extr,weights \
  --specs 'nearest,{2..16},auto' --quiet
tq_cli_pass
