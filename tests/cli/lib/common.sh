# shellcheck shell=bash
# Shared helpers of the command-line tests (tests/cli/*.sh). Source it; it
# is not a test itself (tests/CMakeLists.txt globs tests/cli/*.sh only, not
# this folder). The scripts run with `set -euo pipefail`.
#
#   here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#   source "$here/lib/common.sh"
#   tq_cli_init "$@"            # TQ, source_dir, tmp (see below)
#   tq_cli_keep_going           # optional: count failures instead of exiting
#   run 0 map check m.json      # tq ARGS; stdout in $out, stderr in $err;
#                               # the exit status must be the first argument
#   contains "$out" "valid flat map"; lacks "$err" "warning"
#   expect_error 2 "did you mean" quantize --spec nearst,8,4
#   fail "what went wrong"      # a failed check
#   tq_cli_pass                 # last line: the verdict and exit status
#
# Also: tq_cli_need_fashion_mnist (skip without the dataset), tq_cli_venv
# (the Python virtualenv with reference packages), json_get, num_check and
# within (numbers from JSON and comparisons, without jq or bc).
#
# Environment: TQ_SOURCE_DIR (the source tree; default two levels above
# tests/cli), TQ_VENV (default: .venv in the source tree),
# TQ_FASHION_MNIST_DIR (default: Debian's /usr/share/datasets/fashion-mnist).

TQ_CLI_NAME=$(basename "$0" .sh)
TQ_CLI_KEEP_GOING=0
TQ_CLI_FAILURES="" # a file with one line per failed check
TQ_CLI_STATUS=0    # exit status of the last tq_cli_capture

# tq_cli_init PATH_TO_TQ: sets TQ (the tq binary, absolute), source_dir (the
# source tree) and tmp (a new scratch directory, removed when the script
# exits; the script decides whether to cd into it).
tq_cli_init() {
  TQ=$(realpath "${1:?usage: $TQ_CLI_NAME.sh PATH_TO_TQ}")
  local lib
  lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  source_dir=${TQ_SOURCE_DIR:-$(cd "$lib/../../.." && pwd)}
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  TQ_CLI_FAILURES=$tmp/.failures
}

# After this, fail records the failure and the script goes on; tq_cli_pass
# then exits 1. Without it, the first failure ends the script.
tq_cli_keep_going() {
  TQ_CLI_KEEP_GOING=1
}

# fail MESSAGE...: one failed check. The record survives subshells, such as
# a helper called inside $(...).
fail() {
  echo "FAIL: $*" >&2
  [[ -z $TQ_CLI_FAILURES ]] || echo failed >>"$TQ_CLI_FAILURES"
  ((TQ_CLI_KEEP_GOING)) || exit 1
}

# The last command of a script: "NAME: all checks passed", or the number of
# failed checks and exit status 1.
tq_cli_pass() {
  local n=0
  [[ -f $TQ_CLI_FAILURES ]] && n=$(wc -l <"$TQ_CLI_FAILURES")
  if ((n > 0)); then
    echo "$TQ_CLI_NAME: $n check(s) failed" >&2
    exit 1
  fi
  echo "$TQ_CLI_NAME: all checks passed"
}

# tq_cli_capture ARGS...: runs tq ARGS; stdout in $out, stderr in $err,
# the exit status in $TQ_CLI_STATUS.
# shellcheck disable=SC2034 # out and err are for the caller
tq_cli_capture() {
  TQ_CLI_STATUS=0
  "$TQ" "$@" >"$tmp/.stdout" 2>"$tmp/.stderr" || TQ_CLI_STATUS=$?
  out=$(<"$tmp/.stdout")
  err=$(<"$tmp/.stderr")
}

# run STATUS ARGS...: runs tq ARGS, leaving stdout in $out and stderr in
# $err; tq must exit with STATUS.
run() {
  local want=$1
  shift
  tq_cli_capture "$@"
  if [[ $TQ_CLI_STATUS != "$want" ]]; then
    fail "tq $* exited with $TQ_CLI_STATUS, expected $want; stderr: $err"
  fi
}

# expect_error STATUS PATTERN ARGS...: tq ARGS must exit with STATUS (or,
# for STATUS "any", with any failure that is not a crash) and print an
# error matching the extended regular expression PATTERN on stderr.
# Leaves $out and $err as run does.
expect_error() {
  local want=$1 pattern=$2
  shift 2
  if [[ $want != any ]]; then
    run "$want" "$@"
    [[ $TQ_CLI_STATUS == "$want" ]] || return 0
  else
    tq_cli_capture "$@"
    if ((TQ_CLI_STATUS == 0)); then
      fail "tq $* succeeded, expected an error"
      return 0
    fi
    if ((TQ_CLI_STATUS >= 128)); then
      fail "tq $* crashed (exit status $TQ_CLI_STATUS): $err"
      return 0
    fi
  fi
  grep -Eq -- "$pattern" <<<"$err" ||
    fail "tq $*: the error does not match '$pattern': $err"
}

# contains TEXT NEEDLE: TEXT must contain NEEDLE literally.
contains() {
  if [[ $1 != *"$2"* ]]; then
    fail "expected '$2' in:"$'\n'"${1:0:2000}"
  fi
}

# lacks TEXT NEEDLE: TEXT must not contain NEEDLE.
lacks() {
  if [[ $1 == *"$2"* ]]; then
    fail "did not expect '$2' in:"$'\n'"${1:0:2000}"
  fi
}

# tq_cli_need_fashion_mnist [test|train]: sets and exports data_dir
# (TQ_FASHION_MNIST_DIR) when the dataset's test (default) or training
# images are there; otherwise the script ends here with a SKIP line.
tq_cli_need_fashion_mnist() {
  local split=${1:-test} prefix=t10k
  [[ $split == train ]] && prefix=train
  data_dir=${TQ_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
  if [[ ! -f $data_dir/$prefix-images-idx3-ubyte.gz && ! -f $data_dir/$prefix-images-idx3-ubyte ]]; then
    echo "SKIP: no Fashion-MNIST in $data_dir (install dataset-fashion-mnist or set TQ_FASHION_MNIST_DIR)"
    exit 0
  fi
  export TQ_FASHION_MNIST_DIR=$data_dir
}

# tq_cli_venv MODULE...: sets venv and venv_py (its interpreter), made with
# Debian's python3 so that it sees Debian's packages (scripts/setup-venv.sh
# adds numpy, ml_dtypes and onnxruntime from PyPI). Runs setup-venv.sh when
# a module does not import; returns 1 when one still does not.
tq_cli_venv() {
  venv=${TQ_VENV:-$source_dir/.venv}
  venv_py=$venv/bin/python
  local imports
  imports=$(IFS=,; echo "$*")
  "$venv_py" -c "import $imports" 2>/dev/null && return 0
  echo "setting up $venv for $*"
  bash "$source_dir/scripts/setup-venv.sh" "$venv" >/dev/null || true
  "$venv_py" -c "import $imports" 2>/dev/null
}

# json_get KEY: the member KEY of the JSON object on stdin (a number or a
# string; the sed fallback reads numbers only).
json_get() {
  if [[ -x /usr/bin/python3 ]]; then
    /usr/bin/python3 -c 'import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"
  else
    sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p"
  fi
}

# num_check A OP B: exit status 0 when the comparison A OP B (OP one of
# < <= > >= == !=) holds for the decimal numbers A and B.
num_check() {
  awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"
}

# within A B TOL: |A - B| <= TOL for decimal numbers.
within() {
  awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'
}
