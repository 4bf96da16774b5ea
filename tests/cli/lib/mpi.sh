# Shell helpers for tests that run tq under mpirun (tests/cli/mpi_*.sh).
# Source it; it is not a test itself (tests/CMakeLists.txt globs
# tests/cli/*.sh only, not this folder).
#
#   source "$here/lib/mpi.sh"
#   tq_mpi_find || { echo "$TQ_MPI_WHY"; ...; }   # sets TQ_MPIRUN
#   tq_mpi_run 2 "$TQ" train ...                  # mpirun -np 2 ..., with a timeout
#   tq_mpi_has_support "$TQ"                      # was tq built with MPI?
#
# Environment:
#   MPIRUN            the launcher (default: mpirun from PATH)
#   TQ_MPI_ARGS       extra mpirun arguments (e.g. --hostfile hosts)
#   TQ_MPI_TIMEOUT    seconds before a run is killed (default 300): a hung
#                     collective fails the test instead of hanging CTest
#
# The machine may have fewer cores than ranks (--oversubscribe), tests run
# as root in containers (OMPI_ALLOW_RUN_AS_ROOT*), and every rank should be
# free to use every core (--bind-to none: Open MPI binds each of up to two
# ranks to one core by default, which would squeeze tq's OpenMP threads onto
# it).

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI allocates for the whole run and keeps it; when a test drives a
# sanitized tq, LeakSanitizer should report tq's leaks, not Open MPI's.
# Components stay loaded at exit, and allocations are traced with the slow
# unwinder (Open MPI has no frame pointers), so that the suppressions below
# recognize Open MPI's frames. (Only sanitized builds read ASAN_OPTIONS.)
export OMPI_MCA_mca_base_component_disable_dlclose=1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
TQ_MPI_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LSAN_OPTIONS="suppressions=$TQ_MPI_LIB_DIR/lsan-openmpi.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

TQ_MPIRUN=""
TQ_MPI_WHY=""
TQ_MPI_TIMEOUT=${TQ_MPI_TIMEOUT:-300}

# Finds mpirun (Open MPI's: the options below are Open MPI's). Returns 1
# with the reason in TQ_MPI_WHY when there is none.
tq_mpi_find() {
  local m=${MPIRUN:-$(command -v mpirun || true)}
  if [[ -z $m || ! -x $m ]]; then
    TQ_MPI_WHY="no mpirun on PATH (install openmpi-bin: scripts/setup.sh, or set MPIRUN)"
    return 1
  fi
  if ! "$m" --version 2>&1 | grep -q "Open MPI"; then
    TQ_MPI_WHY="$m is not Open MPI's mpirun"
    return 1
  fi
  TQ_MPIRUN=$m
}

# The mpirun command line for NP ranks, as an array in TQ_MPI_CMD.
tq_mpi_cmd() {
  local np=$1
  # shellcheck disable=SC2206
  TQ_MPI_CMD=("$TQ_MPIRUN" -np "$np" --oversubscribe --bind-to none ${TQ_MPI_ARGS:-})
}

# tq_mpi_run NP PROGRAM ARGS...: runs PROGRAM on NP ranks; killed after
# TQ_MPI_TIMEOUT seconds (exit status 124 then).
tq_mpi_run() {
  local np=$1
  shift
  tq_mpi_cmd "$np"
  timeout --kill-after=10 "$TQ_MPI_TIMEOUT" "${TQ_MPI_CMD[@]}" "$@"
}

# Whether a tq binary was built with MPI (tq --version says so).
tq_mpi_has_support() {
  ! "$1" --version | grep -q "MPI: not built in"
}

# tq_mpi_expect_rank_death TMP PGREP_PATTERN READY_REGEX PROGRAM ARGS...:
# starts PROGRAM on 2 ranks, waits until both rank processes run (and, when
# READY_REGEX is not empty, the output matches it), kills rank 1 with
# SIGKILL, and fails (via fail) unless mpirun then exits non-zero within
# 60 s, says a rank was killed, and the other rank is gone too.
tq_mpi_expect_rank_death() {
  local dir=$1 pattern=$2 ready=$3
  shift 3
  local log=$dir/rank-death.out
  tq_mpi_cmd 2
  "${TQ_MPI_CMD[@]}" "$@" >"$log" 2>&1 &
  local mpirun_pid=$! ranks=() i
  for i in $(seq 1 300); do
    mapfile -t ranks < <(pgrep -P "$mpirun_pid" -f "$pattern" || true)
    if ((${#ranks[@]} == 2)) && { [[ -z $ready ]] || grep -Eq "$ready" "$log"; }; then
      break
    fi
    sleep 0.2
  done
  if ((${#ranks[@]} != 2)); then
    kill -9 "$mpirun_pid" 2>/dev/null || true
    fail "the two ranks did not start: $(cat "$log")"
  fi
  sleep 1 # at work, inside the collectives or between them
  kill -9 "${ranks[1]}"
  local start=$SECONDS
  for i in $(seq 1 600); do
    kill -0 "$mpirun_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$mpirun_pid" 2>/dev/null; then
    kill -9 "$mpirun_pid" "${ranks[0]}" 2>/dev/null || true
    fail "mpirun still runs 60 s after a rank was killed (a hang)"
  fi
  local rc=0
  wait "$mpirun_pid" || rc=$?
  ((rc != 0)) || fail "mpirun exited 0 after a rank was killed"
  grep -Eq "exited on signal 9|Killed" "$log" || fail "mpirun did not say a rank was killed: $(cat "$log")"
  # The other rank goes too (a zombie waiting for its parent counts as gone).
  for i in $(seq 1 100); do
    [[ -r /proc/${ranks[0]}/stat ]] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/${ranks[0]}/stat" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -r /proc/${ranks[0]}/stat ]] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/${ranks[0]}/stat" 2>/dev/null; then
    kill -9 "${ranks[0]}" 2>/dev/null || true
    fail "rank process ${ranks[0]} still runs 10 s after mpirun ended"
  fi
  echo "a killed rank ended the job in $((SECONDS - start)) s (mpirun exit status $rc)"
}
