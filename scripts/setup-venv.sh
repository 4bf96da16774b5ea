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
echo "setup: python env $venv ready ($("$venv/bin/python" -c 'import ml_dtypes; print("ml_dtypes", ml_dtypes.__version__)'))"
