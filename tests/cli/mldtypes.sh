#!/usr/bin/env bash
# tq quantize against ml_dtypes: the fp8/fp6/fp4 OCP formats, bf16 and fp16
# (numpy.float16) must equal the reference conversions bit for bit.
# Usage: mldtypes.sh PATH_TO_TQ
# Env: TQ_VENV, a virtualenv with numpy and ml_dtypes (default: .venv in the
# source tree); created here with Debian's python3 when it is missing.
set -euo pipefail

TQ=${1:?usage: mldtypes.sh PATH_TO_TQ}
TQ=$(realpath "$TQ")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=${TQ_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
venv=${TQ_VENV:-$source_dir/.venv}
ref=$here/../python/mldtypes_ref.py

# Tests install what they need themselves: a virtualenv made with Debian's
# interpreter (it sees Debian's numpy) plus ml_dtypes from PyPI.
if [[ ! -x $venv/bin/python ]]; then
  echo "creating $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
if ! "$venv/bin/python" -c 'import ml_dtypes, numpy' 2>/dev/null; then
  echo "installing ml_dtypes into $venv"
  "$venv/bin/python" -m pip install --quiet ml_dtypes
fi
py=$venv/bin/python

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$ref" generate "$tmp/in.npy"

status=0
for fmt in fp8e5m2 fp8e4m3 fp6e3m2 fp6e2m3 fp4e2m1 bf16 fp16; do
  if ! "$TQ" quantize --spec "$fmt" -i "$tmp/in.npy" -o "$tmp/$fmt.npy"; then
    echo "$fmt: tq quantize failed"
    status=1
    continue
  fi
  "$py" "$ref" compare "$fmt" "$tmp/in.npy" "$tmp/$fmt.npy" || status=1
done
if [[ $status == 0 ]]; then
  echo "mldtypes: all formats match"
else
  echo "mldtypes: MISMATCH (see above)"
fi
exit $status
