#!/usr/bin/env bash
# ONNX models against the reference tools:
#  1. models made with the Python onnx package (tests/python/
#     make_onnx_models.py: typed and raw initializers, int32/double/float16
#     initializers, external data, Constant nodes, dynamic dims, opsets 7,
#     11, 13 and 17, and broken models) load with the values, shapes and
#     errors that script expects, and those marked run=1 compute what ONNX
#     Runtime computes (checked by test_onnx's test_python_models);
#  2. models written by tq_onnx_save (left in the test build directory by
#     test_onnx) pass onnx.checker and run in ONNX Runtime with the results
#     their weights imply;
#  3. tq info describes the good models (node and input counts, dynamic
#     dims, weights) and reports the errors of the bad ones.
# Usage: onnx_models.sh PATH_TO_TQ
# Env: TQ_VENV, a virtualenv with onnxruntime (default: .venv in the source
# tree; made with scripts/setup-venv.sh when missing); TQ_TEST_ONNX, the
# test_onnx binary (default: tests/test_onnx next to tq); TQ_ONNX_SAVED_DIR,
# where test_onnx saves models (its TQ_TEST_TMP_DIR; default: its directory).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_keep_going
test_onnx=${TQ_TEST_ONNX:-$(dirname "$TQ")/tests/test_onnx}
make_models=$here/../python/make_onnx_models.py

# Debian's interpreter has the onnx package (python3-onnx); the venv adds
# onnxruntime and sees Debian's packages too.
py=/usr/bin/python3
if ! "$py" -c 'import onnx, numpy' 2>/dev/null; then
  echo "SKIP: $py cannot import onnx and numpy (install python3-onnx)"
  exit 0
fi
ort_py=""
if tq_cli_venv onnxruntime onnx; then
  ort_py=$venv_py
else
  echo "NOTE: no onnxruntime in $venv: skipping the ONNX Runtime comparisons"
fi
if [[ ! -x $test_onnx ]]; then
  echo "SKIP: $test_onnx not built"
  exit 0
fi

models=$tmp/models

# ---- 1. Python-made models, checked by test_onnx ------------------------------
if [[ -n $ort_py ]]; then
  "$ort_py" "$make_models" "$models" --ort
else
  # Without reference outputs the run=1 comparisons cannot happen: drop
  # them from the manifest.
  "$py" "$make_models" "$models"
  sed -i 's/ run=1//' "$models/manifest.tsv"
fi
# test_onnx also rewrites the models of part 2 into its own directory.
if ! (cd "$(dirname "$test_onnx")" &&
  TQ_ONNX_MODELS_DIR=$models CMOCKA_MESSAGE_OUTPUT=stdout "$test_onnx"); then
  fail "test_onnx with the Python-made models"
fi

# ---- 2. tq_onnx_save output in onnx.checker and ONNX Runtime -------------------
saved_dir=${TQ_ONNX_SAVED_DIR:-$(dirname "$test_onnx")}
for f in onnx_ort_gemm.onnx onnx_ort_prelu.onnx onnx_ort_typed.onnx; do
  [[ -f $saved_dir/$f ]] || fail "$saved_dir/$f was not written by test_onnx"
done
checker_py=${ort_py:-$py}
if ! "$checker_py" - "$saved_dir" "${ort_py:+ort}" <<'EOF'; then
import sys

import numpy as np
import onnx
from onnx import numpy_helper

d, use_ort = sys.argv[1], sys.argv[2] == "ort"
rng = np.random.default_rng(7)


def reference(name, inits, x):
    if name == "onnx_ort_gemm":
        return np.maximum(x @ inits["fc.weight"].T + inits["fc.bias"], 0)
    slope, scale = inits["act.slope"], inits["scale"]
    a = np.where(x >= 0, x, x * slope)
    return np.maximum(a * scale, 0)


for name in ("onnx_ort_gemm", "onnx_ort_prelu"):
    path = f"{d}/{name}.onnx"
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    assert m.producer_name == "tensorquant", m.producer_name
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    if not use_ort:
        print(f"{name}: onnx.checker ok")
        continue
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3  # unused initializers are on purpose
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        x = rng.standard_normal((batch, 4)).astype(np.float32)
        (y,) = sess.run(None, {"x": x})
        want = reference(name, inits, x)
        if not np.allclose(y, want, rtol=1e-5, atol=1e-6):
            sys.exit(f"{name}: ONNX Runtime gives {y}, expected {want}")
    print(f"{name}: onnx.checker ok, ONNX Runtime output ok")

# Typed input, initializers of every dtype, bool and int32 outputs.
path = f"{d}/onnx_ort_typed.onnx"
m = onnx.load(path)
onnx.checker.check_model(m, full_check=True)
types = {i.name: i.type.tensor_type.elem_type for i in m.graph.input}
outs = {o.name: o.type.tensor_type.elem_type for o in m.graph.output}
assert types == {"ids": onnx.TensorProto.INT64}, types
assert outs == {"pad": onnx.TensorProto.BOOL, "pos": onnx.TensorProto.INT32}, outs
if use_ort:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    ids = np.array([[0, 7, 0]], np.int64)
    pad, pos = sess.run(["pad", "pos"], {"ids": ids})
    assert pad.dtype == bool and pad.tolist() == [[True, False, True]], pad
    assert pos.dtype == np.int32 and pos.tolist() == [[0, 7, 0]], pos
print("onnx_ort_typed: onnx.checker ok, element types ok")
EOF
  fail "models written by tq_onnx_save"
fi

# ---- 3. tq info -----------------------------------------------------------------
# Exit status and errors for every model; for the good ones the summary
# line ("2 nodes, 1 inputs (x [-1, 4]), 1 outputs") against the manifest,
# and the weights of the Gemm nodes. Skipped (with a note) while a tq
# without the info command is being built.
if "$TQ" info --help >/dev/null 2>&1; then
  while IFS=$'\t' read -r file expect rest; do
    [[ -z $file || $file == \#* ]] && continue
    status=0
    "$TQ" info "$models/$file" >"$tmp/out.txt" 2>"$tmp/err.txt" || status=$?
    out=$(<"$tmp/out.txt")
    if [[ $expect == ok && $status != 0 ]]; then
      fail "tq info $file exited with $status: $(<"$tmp/err.txt")"
    elif [[ $expect == error ]]; then
      if [[ $status == 0 ]]; then
        fail "tq info $file succeeded, expected an error"
      elif ! grep -qF -- "$rest" "$tmp/err.txt"; then
        fail "tq info $file: expected '$rest' in: $(<"$tmp/err.txt")"
      fi
      continue
    fi
    declare -A kv=()
    for pair in $rest; do kv[${pair%%=*}]=${pair#*=}; done
    want="${kv[nodes]} nodes, ${kv[inputs]} inputs"
    [[ $out == *"$want"* ]] || fail "tq info $file: expected '$want' in: $out"
    if [[ -n ${kv[input0]:-} ]]; then
      dims="[${kv[input0]//x/, }]"
      [[ $out == *"$dims"* ]] || fail "tq info $file: expected '$dims' in: $out"
    fi
    if [[ $file == gemm_* && $out != *"fc.weight, fc.bias"* ]]; then
      fail "tq info $file: the Gemm node's weights are not listed: $out"
    fi
    unset kv
  done <"$models/manifest.tsv"
else
  echo "NOTE: this tq has no info command; skipped its checks"
fi

tq_cli_pass
