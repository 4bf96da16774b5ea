#!/usr/bin/env bash
# tq train and tq eval end to end on Fashion-MNIST:
#  1. one epoch of LeNet on 3000 images prints its epoch line and writes the
#     model and its checkpoint; tq eval --json gives top-1 > 0.6;
#  2. ONNX Runtime and tq run agree on the trained model (argmax on 2000 test
#     images, tests/python/ort_agree.py);
#  3. --resume continues from the checkpoint with epoch 2;
#  4. bad inputs fail before training, with an error that names the problem:
#     a missing dataset, an NPY pair with different counts, labels beyond the
#     model's classes, an unknown zoo model;
#  5. --threads 1 and --threads 2 write byte-identical models;
#  6. one epoch plus --resume to epoch 2 writes the same bytes as two epochs
#     in one run;
#  6b. Ctrl-C mid-epoch exits 130 with a checkpoint, and --resume then gives
#     the uninterrupted run's bytes; a checkpoint of another run is refused;
#  6c. an imported ONNX model trains;
#  7. when models/lenet-fashion-mnist.onnx is bundled: ORT agreement on all
#     10000 test images and tq eval top-1 >= 0.905.
# Usage: train.sh PATH_TO_TQ
# Env: TQ_SOURCE_DIR (default: two levels up), TQ_VENV (a virtualenv with
# numpy and onnxruntime, default .venv in the source tree; made with
# scripts/setup-venv.sh when missing), TQ_FASHION_MNIST_DIR (the dataset;
# without it the script skips).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_need_fashion_mnist train
agree=$source_dir/tests/python/ort_agree.py

# Python: the venv with onnxruntime for the ONNX Runtime comparisons
# (skipped without it); any interpreter with numpy for the small checks.
ort_py=""
if tq_cli_venv onnxruntime numpy; then
  ort_py=$venv_py
else
  echo "NOTE: no onnxruntime in $venv: skipping the ONNX Runtime comparisons"
fi
py=""
for p in "$venv_py" /usr/bin/python3; do
  if [[ -x $p ]] && "$p" -c 'import numpy' 2>/dev/null; then py=$p; break; fi
done

# ---- 1. one epoch on 3000 images ------------------------------------------
"$TQ" train --model lenet --data fashion-mnist --limit 3000 --epochs 1 \
  --threads 2 --quiet -o "$tmp/lenet.onnx" >"$tmp/train.out"
grep -Eq '^epoch +1/1 .*loss [0-9.]+ .*train [0-9.]+ % .*val [0-9.]+ %' "$tmp/train.out" \
  || fail "no epoch line in tq train's output:
$(cat "$tmp/train.out")"
[[ -s $tmp/lenet.onnx ]] || fail "tq train wrote no $tmp/lenet.onnx"
[[ -s $tmp/lenet.onnx.ckpt ]] || fail "tq train wrote no checkpoint lenet.onnx.ckpt"
echo "train: 1 epoch on 3000 images: $(grep -E '^epoch' "$tmp/train.out")"

ev=$("$TQ" eval "$tmp/lenet.onnx" --data fashion-mnist --json --quiet --threads 2)
top1=$(printf '%s' "$ev" | json_get top1)
n=$(printf '%s' "$ev" | json_get n)
[[ $n == 10000 ]] || fail "tq eval evaluated $n test images, not 10000: $ev"
num_check "$top1" '>' 0.6 || fail "tq eval top1 $top1 <= 0.6 after 1 epoch: $ev"
echo "train: tq eval top-1 $top1 on $n test images"

# ---- 2. ONNX Runtime agrees ------------------------------------------------
if [[ -n $ort_py ]]; then
  "$ort_py" "$agree" "$tmp/lenet.onnx" "$TQ" --limit 2000 --threshold 0.999 \
    --data-dir "$data_dir" || fail "ONNX Runtime and tq disagree on the trained model"
fi

# ---- 3. --resume continues with epoch 2 ------------------------------------
"$TQ" train --model lenet --data fashion-mnist --limit 3000 --epochs 2 \
  --threads 2 --resume "$tmp/lenet.onnx.ckpt" -o "$tmp/lenet2.onnx" \
  >"$tmp/resume.out" 2>"$tmp/resume.err"
grep -Eq '^epoch +2/2 ' "$tmp/resume.out" || fail "--resume printed no epoch 2:
$(cat "$tmp/resume.out" "$tmp/resume.err")"
! grep -Eq '^epoch +1/2 ' "$tmp/resume.out" || fail "--resume trained epoch 1 again:
$(cat "$tmp/resume.out")"
grep -Eq 'resuming (at epoch 2|after epoch 1)' "$tmp/resume.err" || fail "--resume did not say where it resumed:
$(cat "$tmp/resume.err")"
[[ -s $tmp/lenet2.onnx ]] || fail "--resume wrote no model"
echo "train: --resume: $(grep -E '^epoch' "$tmp/resume.out")"

# ---- 4. bad inputs fail before training ------------------------------------
# train_fails WHAT PATTERN ARGS...: tq train ARGS must fail with PATTERN in
# its error, print no epoch line and write no model.
train_fails() {
  local what=$1 pattern=$2
  shift 2
  rm -f "$tmp/bad.onnx" "$tmp/bad.onnx.ckpt"
  expect_error any "$pattern" train "$@" --epochs 1 --quiet -o "$tmp/bad.onnx"
  ! grep -Eq '^epoch' <<<"$out" || fail "$what: tq train started training"
  [[ ! -e $tmp/bad.onnx && ! -e $tmp/bad.onnx.ckpt ]] || fail "$what: tq train wrote a model"
  echo "train: $what: $(head -n 1 <<<"$err")"
}
train_fails "missing dataset" "no such dataset" \
  --model lenet --data "$tmp/no-such-data"
if [[ -n $py ]]; then
  "$py" - "$tmp" <<'EOF'
import sys
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(5)
np.save(f"{d}/x5.npy", rng.random((5, 1, 28, 28), dtype=np.float32))
np.save(f"{d}/y4.npy", np.arange(4, dtype=np.int64))
np.save(f"{d}/x96.npy", rng.random((96, 1, 28, 28), dtype=np.float32))
np.save(f"{d}/y96.npy", (np.arange(96) % 16).astype(np.int64))  # labels up to 15
np.save(f"{d}/y96ok.npy", (np.arange(96) % 10).astype(np.int64))
EOF
  train_fails "NPY counts differ" "5 samples .* but 4 labels" \
    --model lenet --data "$tmp/x5.npy,$tmp/y4.npy" --batch 4
  train_fails "labels beyond the model's classes" "10 classes.*up to 15" \
    --model lenet --data "$tmp/x96.npy,$tmp/y96.npy" --batch 16
  train_fails "unknown zoo model" "unknown model 'nosuchnet'" \
    --model nosuchnet --data "$tmp/x96.npy,$tmp/y96ok.npy" --batch 16
else
  echo "NOTE: no Python with numpy: skipping the NPY error checks"
  train_fails "unknown zoo model" "unknown model 'nosuchnet'" \
    --model nosuchnet --data fashion-mnist --limit 640
fi

# ---- 5. the thread count does not change the result ------------------------
# (A constant schedule, so that step 6 can continue these runs.)
small=(--model lenet --data fashion-mnist --limit 640 --schedule constant --quiet)
for t in 1 2; do
  "$TQ" train "${small[@]}" --epochs 1 --threads $t -o "$tmp/t$t.onnx" >/dev/null
done
cmp -s "$tmp/t1.onnx" "$tmp/t2.onnx" || fail "--threads 1 and --threads 2 train different models"
echo "train: --threads 1 and 2 give byte-identical models"

# ---- 6. 1 epoch + --resume to 2 = 2 epochs in one run -----------------------
"$TQ" train "${small[@]}" --epochs 2 --resume "$tmp/t1.onnx.ckpt" -o "$tmp/t1r.onnx" >/dev/null
"$TQ" train "${small[@]}" --epochs 2 -o "$tmp/t12.onnx" >/dev/null
cmp -s "$tmp/t1r.onnx" "$tmp/t12.onnx" || fail "1 epoch + --resume to 2 differs from 2 epochs in one run"
echo "train: 1 epoch + --resume to epoch 2 is byte-identical to 2 epochs in one run"

# ---- 6b. Ctrl-C mid-epoch: checkpoint, exit 130, exact resume ----------------
mid=(--model lenet --data fashion-mnist --limit 3200 --schedule constant --quiet --threads 2)
"$TQ" train "${mid[@]}" --epochs 2 -o "$tmp/full.onnx" >/dev/null
"$TQ" train "${mid[@]}" --epochs 2 -o "$tmp/int.onnx" >/dev/null 2>"$tmp/int.err" &
pid=$!
sleep 2
kill -INT $pid
rc=0
wait $pid || rc=$?
if [[ $rc -eq 0 ]]; then
  echo "NOTE: training finished before the interrupt; skipping the Ctrl-C check"
else
  [[ $rc -eq 130 ]] || fail "Ctrl-C: exit status $rc, expected 130: $(cat "$tmp/int.err")"
  grep -q 'interrupted in epoch' "$tmp/int.err" || fail "Ctrl-C: no message: $(cat "$tmp/int.err")"
  [[ -s $tmp/int.onnx.ckpt ]] || fail "Ctrl-C: no checkpoint"
  [[ ! -e $tmp/int.onnx ]] || fail "Ctrl-C: a model was written"
  "$TQ" train "${mid[@]}" --epochs 2 --resume "$tmp/int.onnx.ckpt" -o "$tmp/int.onnx" >/dev/null 2>&1
  cmp -s "$tmp/int.onnx" "$tmp/full.onnx" || fail "Ctrl-C + --resume differs from an uninterrupted run"
  echo "train: Ctrl-C saves a checkpoint mid-epoch; --resume gives the uninterrupted run's bytes"
  # a checkpoint of another run (other batch size) is refused
  if "$TQ" train "${mid[@]}" --batch 32 --epochs 2 --resume "$tmp/int.onnx.ckpt" \
      -o "$tmp/other.onnx" >/dev/null 2>"$tmp/other.err"; then
    fail "--resume accepted a checkpoint of a run with another batch size"
  fi
  grep -q 'options of that run' "$tmp/other.err" || fail "--resume mismatch message: $(cat "$tmp/other.err")"
fi

# ---- 6c. an imported ONNX model trains (its initializers are parameters) -----
"$TQ" train --model "$tmp/full.onnx" --data fashion-mnist --limit 640 --epochs 1 \
  --quiet -o "$tmp/tuned.onnx" > "$tmp/tuned.out" || fail "training an ONNX model failed"
grep -Eq '^epoch +1/1 ' "$tmp/tuned.out" || fail "training an ONNX model: no epoch line"
cmp -s "$tmp/tuned.onnx" "$tmp/full.onnx" && fail "training an ONNX model changed nothing"
echo "train: an imported ONNX model trains"

# ---- 7. the bundled model ---------------------------------------------------
bundled=$source_dir/models/lenet-fashion-mnist.onnx
if [[ -f $bundled ]]; then
  ev=$("$TQ" eval "$bundled" --data fashion-mnist --json --quiet --threads 2)
  top1=$(printf '%s' "$ev" | json_get top1)
  num_check "$top1" '>=' 0.905 || fail "bundled model: tq eval top1 $top1 < 0.905: $ev"
  echo "train: bundled model: tq eval top-1 $top1"
  if [[ -n $ort_py ]]; then
    "$ort_py" "$agree" "$bundled" "$TQ" --threshold 0.999 --data-dir "$data_dir" \
      || fail "ONNX Runtime and tq disagree on the bundled model"
  fi
else
  echo "NOTE: no $bundled: skipping its checks"
fi
tq_cli_pass
