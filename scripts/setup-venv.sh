#!/usr/bin/env bash
# The Python environment of the reference tests and benchmarks: Debian's
# interpreter (so Debian's numpy/torch are visible) plus PyPI's ml_dtypes
# and gguf (llama.cpp's block formats in numpy).
# Idempotent. Usage: bash scripts/setup-venv.sh [VENV_DIR]   (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
# numpy stays 1.x: Debian's torch is built against it (gguf 0.19.0 and
# ml_dtypes 0.5 work with it). gguf is the llama.cpp blocks' reference;
# pytest runs the Python package's tests; wheel builds it without isolation.
if ! "$venv/bin/python" -c 'import ml_dtypes, numpy, onnxruntime, torch, gguf, pytest, wheel' 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check 'numpy<2' \
    'ml_dtypes>=0.5,<0.6' onnxruntime 'gguf==0.19.0' pytest wheel
fi
# onnx 1.19 (the ONNX backend node tests up to opset 24 and the version
# converter the transformer fidelity check uses) lives in its own folder,
# VENV/onnx-1.19, that only the scripts needing it put on sys.path: the
# venv's own onnx stays Debian's 1.12, whose helper writes IR versions
# every tq build reads (1.19 writes IR 12 by default).
if [[ ! -d "$venv/onnx-1.19/onnx/backend/test/data/node" ]]; then
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps \
    --target "$venv/onnx-1.19" 'onnx==1.19.1' 'typing_extensions==4.15.0'
fi
echo "setup: python env $venv ready ($("$venv/bin/python" -c 'import ml_dtypes; print("ml_dtypes", ml_dtypes.__version__)'))"

# The Keras exporters of the layer-map tests (tests/cli/layer_maps.sh) live
# in a venv of their own, next to the first: Debian's onnx (1.12) crashes in
# a process that has loaded TensorFlow, and TensorFlow's numpy and protobuf
# pins must not move the packages the other references run on. tf_keras
# (Keras 2) requires the GPU-capable "tensorflow" package by name; the CPU
# build provides the same module, hence --no-deps for it.
keras_venv="${venv}-keras"
if ! "$keras_venv/bin/python" -c 'import tensorflow, tf_keras, keras, tf2onnx, onnx' 2>/dev/null; then
  [[ -x "$keras_venv/bin/python" ]] || /usr/bin/python3 -m venv "$keras_venv"
  "$keras_venv/bin/pip" install -q --disable-pip-version-check 'numpy<2' \
    'tensorflow-cpu==2.21.0' 'keras==3.15.1' 'tf2onnx==1.17.0' 'onnx==1.22.0'
  "$keras_venv/bin/pip" install -q --disable-pip-version-check --no-deps \
    'tf_keras==2.21.0'
fi
echo "setup: Keras export env $keras_venv ready"
