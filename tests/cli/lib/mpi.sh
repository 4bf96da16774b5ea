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
