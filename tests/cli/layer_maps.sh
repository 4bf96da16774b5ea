#!/usr/bin/env bash
# Maps on framework layers of exported models (issue 16, docs/maps.md):
#  1. the seed's LeNet exported by PyTorch, Keras 2 (tf_keras + tf2onnx) and
#     Keras 3 runs under the layer view with the seed's maps and a map per
#     layer, and exactly the intended tensors are quantized
#     (tests/python/layer_maps_check.py: the framework's own model with those
#     tensors quantized is the reference);
#  2. ResNet-18 (PyTorch) and MobileNetV2 (Keras) with scope keys: layer1,
#     block_1_ — every layer in the scope and nothing else;
#  3. tq map check --model, exact-segment keys, the unmatched-key warning and
#     --strict on the bundled LeNet.
# The exports are slow, so they are made once and kept under
# $TQ_LAYER_MAPS_CACHE (default: layer_maps_cache in the working directory,
# the build tree's tests folder under CTest); delete it to export again.
# Usage: layer_maps.sh PATH_TO_TQ
# Env: TQ_VENV (torch), TQ_KERAS_VENV (tensorflow, tf_keras, keras, tf2onnx;
# default: TQ_VENV's path + "-keras", made by scripts/setup-venv.sh). Parts
# whose venv is missing are skipped with a note.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_keep_going
check_py=$here/../python/layer_maps_check.py
lenet=$source_dir/models/lenet-fashion-mnist.onnx
cache=${TQ_LAYER_MAPS_CACHE:-$PWD/layer_maps_cache}
mkdir -p "$cache"

# ---- 3. the bundled LeNet: map check --model, "=" keys, warnings ----------
run 0 map check '{"=Conv1": "nearest,8,4", "Nope": "nearest,4,2", "": "nearest,16,8"}' \
  --model "$lenet" --map-view layers
contains "$out" "model $lenet under the layer view: 8 layers"
contains "$out" '"=Conv1"  applies to 1 layer:'
contains "$out" '"Nope"  matches no layer (changes nothing)'
contains "$out" 'applies to 7 layers (matches 8; earlier keys win on 1)'
contains "$out" "LeNet/Convolution_Block/Conv1  (2 nodes, output of LeNet/Convolution_Block/Conv1/Relu)"
contains "$err" 'warning: key "Nope" in section extrinsic matches no layer'
run 1 map check '{"Nope": "nearest,4,2"}' --model "$lenet" --strict
contains "$err" 'error: key "Nope" in section extrinsic matches no node'
run 0 map check '{"Conv2": "nearest,8,4"}' --kind weights --model "$lenet" --json
contains "$out" '"applied": ['
contains "$out" '"view": "nodes"'
contains "$out" '"unused_keys": 0'
run 2 map check nearest,8,4 --strict
contains "$err" "--strict needs --model MODEL"
run 2 map check nearest,8,4 --model "$lenet" --map-view frames
contains "$err" "'frames' is not a view (layers or nodes)"

# Every command that takes maps warns; --strict makes it an error.
x=$tmp/x.npy
if tq_cli_venv numpy; then
  "$venv_py" -c "import numpy as np; np.save('$x', np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32))"
  run 0 run "$lenet" -i "$x" -o "$tmp/y.npy" --extr '{"Nope": "nearest,4,2"}'
  contains "$err" 'warning: key "Nope" in section extrinsic matches no node of the model'
  run 1 run "$lenet" -i "$x" -o "$tmp/y.npy" --extr '{"Nope": "nearest,4,2"}' --strict
  contains "$err" "1 map key changes nothing (--strict)"
  run 0 run "$lenet" -i "$x" -o "$tmp/y.npy" --weights '{"Dense": "nearest,8,4", "Dense3": "nearest,4,2"}'
  contains "$err" 'key "Dense3" in section weights applies to no node: every node it matches (1) takes an earlier key'
  # "=Conv" is a whole segment: no layer is called just Conv.
  run 0 run "$lenet" -i "$x" -o "$tmp/y.npy" --map-view layers --extr '{"=Conv": "nearest,4,2"}'
  contains "$err" 'key "=Conv" in section extrinsic matches no layer'
fi

# ---- 1. LeNet from three frameworks ---------------------------------------
frameworks=()
if tq_cli_venv torch; then
  [[ -f $cache/torch.npz ]] || "$venv_py" "$check_py" export-torch "$cache" >"$cache/torch.log" 2>&1 ||
    fail "PyTorch export failed: $(tail -5 "$cache/torch.log")"
  [[ -f $cache/torch.npz ]] && frameworks+=(torch)
  torch_py=$venv_py
else
  echo "NOTE: no torch in the venv: skipping the PyTorch exports"
  torch_py=""
fi
keras_venv=${TQ_KERAS_VENV:-${TQ_VENV:-$source_dir/.venv}-keras}
keras_py=$keras_venv/bin/python
if [[ -x $keras_py ]] && "$keras_py" -c 'import tensorflow, tf_keras, keras, tf2onnx' 2>/dev/null; then
  for k in keras2 keras3; do
    [[ -f $cache/$k.npz ]] || "$keras_py" "$check_py" export-keras "$k" "$cache" >"$cache/$k.log" 2>&1 ||
      fail "$k export failed: $(tail -5 "$cache/$k.log")"
    [[ -f $cache/$k.npz ]] && frameworks+=("$k")
  done
else
  keras_py=""
  echo "NOTE: no Keras export env in $keras_venv (bash scripts/setup-venv.sh makes it): skipping the Keras exports"
fi
if ((${#frameworks[@]})); then
  if "$venv_py" "$check_py" check --tq "$TQ" "$cache" "${frameworks[@]}" >"$tmp/check.log" 2>&1; then
    grep -c '^ok' "$tmp/check.log" | sed 's/$/ layer-map checks passed/'
  else
    cat "$tmp/check.log" >&2
    fail "layer_maps_check.py: $(grep -c '^FAIL' "$tmp/check.log") failed"
  fi
fi

# ---- 2. scope keys on ResNet-18 and MobileNetV2 ---------------------------
# tq map check --model --json under the layer view: the layers a key applies
# to are those of its scope; scope_check.py compares with the ONNX nodes.
scope_check() { # MODEL KEY PREFIX_OF_NODES_IN_SCOPE
  run 0 map check "{\"$2\": \"nearest,8,4\"}" --model "$1" --map-view layers --strict --json
  printf '%s' "$out" >"$tmp/scope.json"
  "$venv_py" - "$tmp/scope.json" "$3" <<'EOF' || fail "scope key $2 on $(basename "$1")"
import json, sys
doc = json.load(open(sys.argv[1]))["model"]
prefix = sys.argv[2]
hit = set(doc["keys"]["extrinsic"][0]["applied"])
bad = []
for t in doc["targets"]:
    # a layer is in the scope when all its nodes are; none is half in it
    inside = [n.lstrip("/").startswith(prefix) for n in t["nodes"]]
    if any(inside) and not all(inside):
        bad.append(f"{t['id']} is half in the scope: {t['nodes']}")
    if all(inside) != (t["id"] in hit):
        bad.append(f"{t['id']}: in scope {all(inside)}, hit {t['id'] in hit}")
print(f"{len(hit)} layers in scope {prefix!r}")
if bad or not hit:
    sys.exit("\n".join(bad) or "no layer hit")
EOF
}
if [[ -n $torch_py ]]; then
  resnet=$cache/resnet18.onnx
  [[ -f $resnet ]] || "$torch_py" -c "
import sys; sys.path.insert(0, '$here/../python')
from model_check import make_model, export
m, shape = make_model('resnet18'); export(m, shape, '$resnet', 13)" >"$cache/resnet.log" 2>&1 ||
    fail "ResNet-18 export failed: $(tail -3 "$cache/resnet.log")"
  [[ -f $resnet ]] && scope_check "$resnet" "=layer1" "layer1/"
fi
if [[ -n $keras_py ]]; then
  mobilenet=$cache/mobilenetv2.onnx
  [[ -f $mobilenet ]] || TF_CPP_MIN_LOG_LEVEL=3 "$keras_py" -c "
import tensorflow as tf, keras, tf2onnx
m = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))
spec = (tf.TensorSpec((None, 96, 96, 3), tf.float32, name='input'),)
fn = tf.function(lambda x: m(x, training=False), input_signature=spec)
tf2onnx.convert.from_function(fn, input_signature=spec, opset=13, output_path='$mobilenet')" >"$cache/mobilenet.log" 2>&1 ||
    fail "MobileNetV2 export failed: $(tail -3 "$cache/mobilenet.log")"
  [[ -f $mobilenet ]] && scope_check "$mobilenet" "block_1_" "mobilenetv2_1.00_96_1/block_1_"
fi

tq_cli_pass
