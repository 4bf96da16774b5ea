#!/usr/bin/env bash
# Installs every Debian package TensorQuant needs to build, test and
# benchmark, and the Python virtualenv the reference tests use.
# Idempotent and non-interactive; run as root (or with sudo available).
#   bash scripts/setup.sh           build + test dependencies
#   bash scripts/setup.sh --no-venv skip the Python virtualenv
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config ninja-build
  libjansson-dev librandom123-dev zlib1g-dev libopenblas-openmp-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  libcmocka-dev clang libclang-rt-14-dev valgrind
  python3 python3-dev python3-numpy python3-venv python3-onnx
  python3-torch python3-torchvision
  dataset-fashion-mnist
  libopenmpi-dev openmpi-bin
  libjs-chart.js chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

if [[ "${1:-}" != "--no-venv" ]]; then
  bash scripts/setup-venv.sh
  # The tensorquant Python package, built against the venv's NumPy
  # (python/setup.py runs the CMake build); rebuilt when its sources change.
  stamp=$(cat CMakeLists.txt $(find python/src python/tensorquant python/*.py python/*.toml \
    python/CMakeLists.txt src include cmake -type f ! -path '*/__pycache__/*' | sort) | sha1sum | cut -c1-16)
  if [[ "$(cat .venv/.tensorquant-stamp 2>/dev/null)" != "$stamp" ]] ||
     ! .venv/bin/python -c 'import tensorquant' 2>/dev/null; then
    echo "setup: building the tensorquant Python package into .venv"
    (cd python && ../.venv/bin/pip install -q --disable-pip-version-check --no-build-isolation .)
    echo "$stamp" > .venv/.tensorquant-stamp
  fi
fi
