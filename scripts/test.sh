#!/usr/bin/env bash
# Every test: installs what is needed, then
#   1. gcc Release build with -Werror, the whole CTest suite;
#   2. the float tests again under each other OpenBLAS kernel set the CPU
#      runs (OPENBLAS_CORETYPE), then a clang build with -Werror;
#   3. ASan+UBSan build, the whole CTest suite again;
#   4. each libFuzzer target for a short while (FUZZ_SECONDS, default 30);
#   5. valgrind on the examples;
#   6. cmake --install, then a consumer built via pkg-config and via
#      find_package(TensorQuant).
# Build trees go under build-test/ (BUILD_ROOT to change).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
bash scripts/setup.sh
jobs=$(nproc)
b="${BUILD_ROOT:-$root/build-test}"
fuzz_seconds="${FUZZ_SECONDS:-30}"
export TQ_VENV="$root/.venv"
step() { printf '\n==== %s ====\n' "$*"; }

step "gcc -Werror build + tests"
cmake -S . -B "$b/gcc" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DTQ_WERROR=ON >/dev/null
cmake --build "$b/gcc" -j"$jobs"
ctest --test-dir "$b/gcc" -j"$jobs" --output-on-failure

step "float tests under the other OpenBLAS kernel sets this CPU runs"
# OpenBLAS picks its kernels by CPU (Debian builds it for all of them);
# every tolerance must hold for each, not only for this machine's.
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
cores=(Haswell)
[[ $flags == *" avx512f"* && $flags == *" avx512vl"* ]] && cores+=(SkylakeX)
[[ $flags == *" avx512_bf16"* ]] && cores+=(Cooperlake)
for core in "${cores[@]}"; do
  [[ $core == "${OPENBLAS_CORETYPE:-}" ]] && continue
  echo "OPENBLAS_CORETYPE=$core"
  OPENBLAS_CORETYPE=$core ctest --test-dir "$b/gcc" -j"$jobs" -L float --output-on-failure
done

step "clang -Werror build"
cmake -S . -B "$b/clang" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DTQ_WERROR=ON >/dev/null
cmake --build "$b/clang" -j"$jobs"

step "ASan+UBSan build + tests"
echo "note: the Python tests do not run here (an ASan-instrumented extension needs libasan preloaded into Python); the gcc build ran them"
cmake -S . -B "$b/asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc -DTQ_WERROR=ON -DTQ_SANITIZE=ON >/dev/null
cmake --build "$b/asan" -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$b/asan" -j"$jobs" --output-on-failure

step "libFuzzer targets, ${fuzz_seconds}s each"
cmake -S . -B "$b/fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DTQ_BUILD_FUZZERS=ON -DTQ_BUILD_TESTS=OFF -DTQ_BUILD_TOOLS=OFF -DTQ_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$b/fuzz" -j"$jobs"
for f in "$b"/fuzz/fuzz/fuzz_*; do
  [[ -x "$f" ]] || continue
  name=$(basename "$f"); name=${name#fuzz_}
  corpus="$b/fuzz/corpus-$name"; mkdir -p "$corpus"
  seeds=()
  [[ -d fuzz/corpus/$name ]] && seeds=(fuzz/corpus/$name)
  echo "fuzz_$name: ${fuzz_seconds}s"
  # -timeout: one input slower than 25 s is a finding (libFuzzer's default
  # of 20 minutes would eat CI's time budget before reporting it).
  log="$b/fuzz/fuzz_$name.log"
  artifacts="$b/fuzz/artifacts-$name"; rm -rf "$artifacts"; mkdir -p "$artifacts"
  rc=0
  "$f" -max_total_time="$fuzz_seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]/#/$root/}" >"$log" 2>&1 || rc=$?
  if (( rc != 0 )); then
    echo "fuzz_$name FAILED (exit $rc); the end of its log:"
    tail -n 60 "$log"
    for a in "$artifacts"/*; do
      [[ -f "$a" ]] || continue
      echo "reproducer $a (first 4 KiB, base64):"
      head -c 4096 "$a" | base64
    done
    exit "$rc"
  fi
  tail -n 3 "$log"
done

step "valgrind on the examples"
for e in "$b"/gcc/examples/example_*; do
  [[ -x "$e" ]] || continue
  args=()
  [[ "$(basename "$e")" == example_lenet ]] && args=(--limit 128 --test-limit 64)
  valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect -q "$e" "${args[@]}" >/dev/null
  echo "$(basename "$e"): valgrind clean"
done

step "install + consumers (pkg-config, find_package)"
prefix="$b/prefix"; rm -rf "$prefix"
cmake --install "$b/gcc" --prefix "$prefix" >/dev/null
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" bash -c \
  'cc -std=c17 examples/quantize_buffer.c $(pkg-config --cflags --libs tensorquant) -Wl,-rpath,'"$prefix"'/lib -o '"$b"'/consumer-pc -lm'
"$b/consumer-pc" >/dev/null && echo "pkg-config consumer: ok"
mkdir -p "$b/consumer-cmake"
cat > "$b/consumer-cmake/CMakeLists.txt" <<CMK
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(TensorQuant REQUIRED)
add_executable(consumer $root/examples/quantize_buffer.c)
target_link_libraries(consumer PRIVATE TensorQuant::tensorquant m)
CMK
cmake -S "$b/consumer-cmake" -B "$b/consumer-cmake/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$b/consumer-cmake/build" >/dev/null
"$b/consumer-cmake/build/consumer" >/dev/null && echo "find_package consumer: ok"
"$prefix/bin/tq" --version

printf '\nall test stages passed\n'
