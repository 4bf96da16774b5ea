#!/usr/bin/env bash
# Typed inputs and every output, against ONNX Runtime: a tiny
# language-model-shaped model (tests/python/make_typed_models.py: int64
# input_ids and attention_mask, Gather with run-time ids, a mask from
# Equal/Cast/Where, CumSum position ids, ArgMax; four outputs of three
# dtypes) run by tq run with named inputs and --outputs, by tq info, tq eval
# and tq stats over a dataset of named .npy files, and the bad-input errors
# (nothing written on error); every dtype read from and written back to
# the .npy files NumPy and ml_dtypes save, byte for byte; and, with
# PyTorch, a TransformerEncoderLayer model as torch.onnx exports it,
# against PyTorch. Float outputs are
# compared with tolerances (1e-5, 1e-4 of the largest value) far above
# what another OpenBLAS kernel set changes; the predictions' top-2 logit
# margins (>= 0.1) are far above both.
# Usage: typed_models.sh PATH_TO_TQ
# Env: TQ_VENV, a virtualenv with numpy, onnx and onnxruntime (default: .venv
# in the source tree; made with scripts/setup-venv.sh when missing).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_keep_going

if ! tq_cli_venv numpy onnx onnxruntime; then
  echo "SKIP: no numpy, onnx and onnxruntime in $venv"
  exit 0
fi
"$venv_py" "$here/../python/make_typed_models.py" "$tmp" >/dev/null
cd "$tmp"
m=tiny_lm.onnx

# Compares tq's outputs (DIR/<name>.npy or FILE) with ONNX Runtime's:
# dtype and shape exactly, floats to 1e-5 of the largest value, the rest
# bit for bit. Arguments: pairs of "tq_file:ort_name".
same_as_ort() {
  "$venv_py" - "$@" <<'EOF'
import sys

import numpy as np

bad = 0
for pair in sys.argv[1:]:
    mine, name = pair.split(":")
    a, b = np.load(mine), np.load(f"ort_{name}.npy")
    if a.dtype != b.dtype or a.shape != b.shape:
        print(f"{mine}: {a.dtype} {a.shape}, ONNX Runtime {b.dtype} {b.shape}")
        bad = 1
    elif a.dtype.kind == "f":
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
        if not err <= 1e-5:
            print(f"{mine}: relative error {err}")
            bad = 1
    elif not np.array_equal(a, b):
        print(f"{mine}: differs from ONNX Runtime:\n{a}\n{b}")
        bad = 1
sys.exit(bad)
EOF
}

# ---- tq info: inputs and outputs with dtypes and shapes --------------------
run 0 info "$m"
contains "$out" "inputs (-1: any size):"
grep -Eq '^  input_ids +int64 +\[-1, 8\]$' <<<"$out" || fail "tq info: input_ids: $out"
grep -Eq '^  attention_mask +int64 +\[-1, 8\]$' <<<"$out" || fail "tq info: attention_mask"
grep -Eq '^  logits +float32 +\[1, 4\]$' <<<"$out" || fail "tq info: logits"
grep -Eq '^  prediction +int64 +\[1\]$' <<<"$out" || fail "tq info: prediction"
grep -Eq '^  pad +bool +\[1, 8\]$' <<<"$out" || fail "tq info: pad"
run 0 info "$m" --json --batch 3
contains "$out" '"name": "attention_mask"'
contains "$out" '"dtype": "bool"'

# ---- tq run: named inputs, every output ------------------------------------
run 0 run "$m" -i input_ids=ids.npy -i attention_mask=mask.npy --outputs all
for name in logits prediction pad positions; do
  [[ -f all/$name.npy ]] || fail "--outputs: all/$name.npy was not written"
done
same_as_ort all/logits.npy:logits all/prediction.npy:prediction \
  all/pad.npy:pad all/positions.npy:positions ||
  fail "tq run --outputs differs from ONNX Runtime"
# A bare input binds the one no NAME= names; -o by name and bare.
run 0 run "$m" -i attention_mask=mask.npy -i ids.npy -o pad=p.npy -o l.npy
same_as_ort p.npy:pad l.npy:logits || fail "tq run -o NAME=FILE"
# Batches of 2 give the same outputs, concatenated.
run 0 run "$m" -i ids.npy -i mask.npy --batch 2 --outputs b2
same_as_ort b2/logits.npy:logits b2/prediction.npy:prediction \
  b2/positions.npy:positions || fail "tq run --batch 2"
# Quantized: the float outputs change, the integer and bool ones do not.
run 0 run "$m" -i ids.npy -i mask.npy --extr nearest,4,2 --outputs q
same_as_ort q/pad.npy:pad q/positions.npy:positions || fail "tq run --extr"
# --dump writes every node's outputs in their dtypes.
run 0 run "$m" -i ids.npy -i mask.npy -o l.npy --dump dump
"$venv_py" -c "
import numpy as np, sys
p = np.load('dump/mask_is_pad.npy'); c = np.load('dump/mask_cumsum.npy')
sys.exit(not (p.dtype == bool and c.dtype == np.int64))" ||
  fail "--dump: the bool and int64 values are not written in their dtypes"
# --compare takes the first output written.
run 0 run "$m" -i ids.npy -i mask.npy -o prediction=pr.npy --compare ort_prediction.npy
contains "$out" "max abs error 0 "

# ---- every dtype through the runtime and back to NumPy ----------------------
args=()
for f in in_*.npy; do args+=(-i "${f%.npy}=$f"); done
run 0 run identities.onnx "${args[@]}" --outputs ident
for f in in_*.npy; do
  cmp -s "$f" "ident/out_${f#in_}" ||
    fail "the ${f#in_} written by tq run differs from NumPy's $f"
done

# ---- bad input: an error naming what is wrong, nothing written ------------
"$venv_py" -c "
import numpy as np
ids = np.load('ids.npy')
np.save('ids_f32.npy', ids.astype(np.float32))
np.save('ids_short.npy', ids[:, :5])
bad = ids.copy(); bad[1, 3] = 50; np.save('ids_range.npy', bad)"
no_output() { [[ ! -e x.npy && ! -e xdir ]] || fail "$1: wrote output on error"; }
expect_error 1 "the model has no input named 'mask'; its inputs are 'input_ids' \(int64 \[-1, 8\]\), 'attention_mask'" \
  run "$m" -i input_ids=ids.npy -i mask=mask.npy -o x.npy --outputs xdir
no_output "unknown input"
expect_error 1 "input 'attention_mask' \(int64 \[-1, 8\]\) is not given" \
  run "$m" -i ids.npy -o x.npy
no_output "missing input"
expect_error 1 "input 'input_ids' is declared int64, but ids_f32.npy holds float32" \
  run "$m" -i ids_f32.npy -i mask.npy -o x.npy
no_output "dtype"
expect_error 1 "input 'input_ids' must have shape \[-1, 8\] \(-1: any size\), got \[5, 5\]" \
  run "$m" -i ids_short.npy -i mask.npy -o x.npy
no_output "shape"
expect_error 1 "node 'embed/tokens' \(Gather\): index 50 at \[1, 3\] of the indices \(shape \[5, 8\]\) is out of range for axis 0 of size 50" \
  run "$m" -i ids_range.npy -i mask.npy -o x.npy --outputs xdir
no_output "index out of range"
expect_error 1 "no output named 'logitz'; its outputs are 'logits', 'prediction', 'pad', 'positions'" \
  run "$m" -i ids.npy -i mask.npy -o logitz=x.npy
no_output "unknown output"

# ---- datasets of named .npy files: eval, stats ------------------------------
run 0 eval "$m" --data input_ids=ids.npy,attention_mask=mask.npy,labels=labels.npy --json
n=$(json_get n <<<"$out")
[[ $n == 5 ]] || fail "tq eval over named files: n = $n"
top1=$("$venv_py" -c "
import numpy as np
print(np.mean(np.load('ort_prediction.npy') == np.load('labels.npy')))")
within "$(json_get top1 <<<"$out")" "$top1" 1e-12 ||
  fail "tq eval top-1 $(json_get top1 <<<"$out"), ONNX Runtime's predictions give $top1"
# Bare files: the inputs in the model's order, the labels last.
run 0 eval "$m" --data ids.npy,mask.npy,labels.npy --json
within "$(json_get top1 <<<"$out")" "$top1" 1e-12 || fail "tq eval over bare files"
run 0 stats "$m" --data input_ids=ids.npy,attention_mask=mask.npy,labels=labels.npy --json
contains "$out" '"pool/softmax"'
expect_error 1 "input 'attention_mask' \(int64 \[-1, 8\]\) is not given" \
  eval "$m" --data ids.npy,labels.npy
expect_error 1 "holds float32, but the model declares input 'input_ids' int64" \
  eval "$m" --data ids_f32.npy,mask.npy,labels.npy

# ---- a transformer encoder as torch.onnx exports it --------------------------
# (opset 17: Embedding lookups, a padding mask from attention_mask == 0,
# multi-head attention, LayerNormalization; dynamic batch and sequence.)
if [[ -f encoder.onnx ]]; then
  run 0 run encoder.onnx -i input_ids=enc_ids.npy -i attention_mask=enc_mask.npy \
    --outputs enc
  "$venv_py" - <<'EOF' || fail "the exported encoder differs from PyTorch"
import sys

import numpy as np

bad = 0
for name in ("logits", "hidden"):
    a, t = np.load(f"enc/{name}.npy"), np.load(f"torch_{name}.npy")
    err = np.abs(a - t).max() / np.abs(t).max()
    print(f"{name}: {a.shape}, max error {err:.2e} of the largest PyTorch output")
    bad |= a.shape != t.shape or not err <= 1e-4
sys.exit(bad)
EOF
else
  echo "NOTE: no PyTorch: the exported encoder is not checked"
fi

tq_cli_pass
