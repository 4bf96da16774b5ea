/* The tq tool's communicator (comm.h): the library's collectives
 * (tensorquant/comm.h) over MPI_COMM_WORLD when tq is built with MPI
 * (TQ_HAVE_MPI) and started by mpirun; otherwise a single process that
 * refuses to run as one of several ranks.
 *
 * The state is one static per process: MPI itself is per process (one
 * MPI_Init, one MPI_Finalize), so the tool mirrors that. */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef TQ_HAVE_MPI
#include <mpi.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "comm.h"

typedef struct cli_comm {
  tq_comm table;
  int active; /* MPI initialized here, more than one rank */
  char error[512];
} cli_comm;

static cli_comm g_comm = {.table = {.rank = 0, .size = 1}};

/* Ranks announced by the launcher's environment: Open MPI's mpirun
 * (OMPI_COMM_WORLD_SIZE), MPICH's Hydra and Slurm's PMI (PMI_SIZE); a
 * PMIx launcher that states no size still gives PMIX_RANK, which is > 0
 * on every rank but the first. 0 when nothing says so. */
static long env_long(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) return -1;
  char *end;
  long n = strtol(v, &end, 10);
  return *end ? -1 : n;
}

static long launcher_ranks(void) {
  long n = env_long("OMPI_COMM_WORLD_SIZE");
  if (n < 0) n = env_long("PMI_SIZE");
  if (n < 0 && env_long("PMIX_RANK") > 0) n = 2; /* at least two */
  return n < 0 ? 0 : n;
}

const tq_comm *tq_cli_comm(void) {
  return g_comm.active ? &g_comm.table : NULL;
}
int tq_cli_comm_is_root(void) {
  return g_comm.table.rank == 0;
}
int tq_cli_comm_rank(void) {
  return g_comm.table.rank;
}
int tq_cli_comm_size(void) {
  return g_comm.table.size;
}
const char *tq_cli_comm_last_error(void) {
  return g_comm.error;
}

#ifndef TQ_HAVE_MPI

int tq_cli_comm_init(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const long n = launcher_ranks();
  if (n > 1) {
    fprintf(stderr,
            "tq: started as one of %ld ranks by an MPI launcher, but this tq "
            "was built without MPI: every rank would do the whole job. Rebuild "
            "with Open MPI (libopenmpi-dev; cmake -DTQ_WITH_MPI=ON) or run tq "
            "without mpirun (docs/mpi.md).\n",
            n);
    return 1;
  }
  return 0;
}

int tq_cli_comm_finalize(int status) {
  return status;
}

const char *tq_cli_comm_library(void) {
  return NULL;
}

#else /* TQ_HAVE_MPI */

static int launched_by_pmix(void) {
  return env_long("OMPI_COMM_WORLD_SIZE") < 0 && env_long("PMI_SIZE") < 0 &&
         env_long("PMIX_RANK") >= 0;
}

/* Records and prints a failed MPI call; the trainer and the analysis turn
 * the status into their own message naming what they were doing. */
static tq_status mpi_failed(cli_comm *c, const char *what, int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
  text[len] = '\0';
  snprintf(c->error, sizeof c->error, "%s failed on rank %d of %d: %s", what,
           c->table.rank, c->table.size, len ? text : "unknown MPI error");
  fprintf(stderr, "tq: %s\n", c->error);
  return TQ_ERR_IO;
}

static tq_status comm_error(cli_comm *c, tq_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tq_status comm_error(cli_comm *c, tq_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->error, sizeof c->error, fmt, ap);
  va_end(ap);
  return st;
}

/* Sizes first (with every rank's capacity, so that all ranks agree on
 * failing: a rank that left early would leave the others waiting in the
 * exchange), then the bytes. MPI counts are ints: at most 2 GiB in all. */
static tq_status mpi_allgatherv(void *user, const void *send, size_t bytes,
                                void *recv, size_t recv_cap,
                                size_t *recv_bytes) {
  cli_comm *c = user;
  const int size = c->table.size;
  uint64_t mine[2] = {bytes, recv_cap};
  uint64_t *all = malloc(2 * (size_t)size * sizeof *all);
  int *counts = malloc(2 * (size_t)size * sizeof *counts);
  /* Out of memory on one rank only would unbalance the collectives: the
   * job cannot continue either way, so end it. */
  if (!all || !counts) {
    fprintf(stderr, "tq: out of memory in allgatherv on rank %d\n",
            c->table.rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  tq_status st = TQ_OK;
  int rc = MPI_Allgather(mine, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T,
                         MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) {
    st = mpi_failed(c, "MPI_Allgather (sizes)", rc);
    goto done;
  }
  uint64_t total = 0, max_each = 0;
  for (int r = 0; r < size; r++) {
    recv_bytes[r] = (size_t)all[2 * r];
    total += all[2 * r];
    if (all[2 * r] > max_each) max_each = all[2 * r];
  }
  if (total > (uint64_t)INT_MAX) {
    st = comm_error(c, TQ_ERR_RANGE,
                    "allgatherv: the ranks send %llu bytes in all; at most "
                    "%d fit in one MPI exchange",
                    (unsigned long long)total, INT_MAX);
    goto done;
  }
  for (int r = 0; r < size; r++)
    if (all[2 * r + 1] < total) {
      st = comm_error(c, TQ_ERR_RANGE,
                      "allgatherv: rank %d has room for %llu bytes; the "
                      "ranks send %llu",
                      r, (unsigned long long)all[2 * r + 1],
                      (unsigned long long)total);
      goto done;
    }
  int *displs = counts + size;
  int at = 0;
  for (int r = 0; r < size; r++) {
    counts[r] = (int)all[2 * r];
    displs[r] = at;
    at += counts[r];
  }
  static const char nothing = 0;
  rc = MPI_Allgatherv(bytes ? send : &nothing, (int)bytes, MPI_BYTE, recv,
                      counts, displs, MPI_BYTE, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) st = mpi_failed(c, "MPI_Allgatherv", rc);
done:
  free(all);
  free(counts);
  return st;
}

static void sum_f32(const void *parts, void *out, size_t n, int size) {
  const float *p = parts;
  float *o = out;
  for (size_t i = 0; i < n; i++) {
    float acc = p[i];
    for (int r = 1; r < size; r++) acc += p[(size_t)r * n + i];
    o[i] = acc;
  }
}

static void sum_f64(const void *parts, void *out, size_t n, int size) {
  const double *p = parts;
  double *o = out;
  for (size_t i = 0; i < n; i++) {
    double acc = p[i];
    for (int r = 1; r < size; r++) acc += p[(size_t)r * n + i];
    o[i] = acc;
  }
}

/* A sum that is the same bits on every rank and in every run: rank q
 * receives every rank's copy of slice q (MPI_Alltoallv), adds them in rank
 * order 0, 1, ..., and the summed slices are gathered back
 * (MPI_Allgatherv). MPI_Allreduce would move as much data but may add in
 * an order that depends on the algorithm Open MPI picks (message size,
 * rank count, network), so the bits could change between runs and, with
 * some algorithms, between ranks; data-parallel training needs every rank
 * to apply the very same update. Rounds of at most 2^24 elements keep MPI's
 * int counts and the receive buffer small. */
static tq_status reduce_sum(cli_comm *c, void *data, size_t n, size_t esize,
                            MPI_Datatype type,
                            void (*sum)(const void *, void *, size_t, int)) {
  const int size = c->table.size, rank = c->table.rank;
  if (size == 1 || n == 0) return TQ_OK;
  const size_t round_max = (size_t)1 << 24;
  const size_t first = n < round_max ? n : round_max;
  int *cnt = malloc(4 * (size_t)size * sizeof *cnt);
  void *parts = malloc(((first / (size_t)size) + 1) * (size_t)size * esize);
  if (!cnt || !parts) {
    fprintf(stderr, "tq: out of memory in allreduce on rank %d\n", rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  int *sdispl = cnt + size, *rcnt = cnt + 2 * size, *rdispl = cnt + 3 * size;
  tq_status st = TQ_OK;
  for (size_t done = 0; done < n && st == TQ_OK;) {
    const size_t m = n - done < round_max ? n - done : round_max;
    char *base = (char *)data + done * esize;
    const size_t each = m / (size_t)size, extra = m % (size_t)size;
    for (int r = 0; r < size; r++) {
      cnt[r] = (int)(each + ((size_t)r < extra));
      sdispl[r] =
          (int)(each * (size_t)r + ((size_t)r < extra ? (size_t)r : extra));
    }
    const int mine = cnt[rank];
    for (int r = 0; r < size; r++) {
      rcnt[r] = mine;
      rdispl[r] = r * mine;
    }
    int rc = MPI_Alltoallv(base, cnt, sdispl, type, parts, rcnt, rdispl, type,
                           MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
      st = mpi_failed(c, "MPI_Alltoallv (allreduce)", rc);
      break;
    }
    sum(parts, base + (size_t)sdispl[rank] * esize, (size_t)mine, size);
    rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, base, cnt, sdispl,
                        type, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) st = mpi_failed(c, "MPI_Allgatherv (allreduce)", rc);
    done += m;
  }
  free(cnt);
  free(parts);
  return st;
}

static tq_status mpi_allreduce_f32(void *user, float *data, size_t n) {
  return reduce_sum(user, data, n, sizeof(float), MPI_FLOAT, sum_f32);
}

static tq_status mpi_allreduce_f64(void *user, double *data, size_t n) {
  return reduce_sum(user, data, n, sizeof(double), MPI_DOUBLE, sum_f64);
}

int tq_cli_comm_init(int *argc, char ***argv) {
  const long n = launcher_ranks();
  /* -np 1 (or no launcher): no MPI at all. A PMIx launcher that states no
   * size (srun --mpi=pmix) is asked through MPI. */
  if (n <= 1 && !launched_by_pmix()) return 0;
  int provided = 0;
  /* The library's OpenMP threads never call MPI: FUNNELED is enough. */
  int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) {
    fprintf(stderr, "tq: MPI_Init_thread failed (error %d)\n", rc);
    return 1;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  g_comm.table.rank = rank;
  g_comm.table.size = size;
  g_comm.table.user = &g_comm;
  g_comm.table.allgatherv = mpi_allgatherv;
  g_comm.table.allreduce_sum_f32 = mpi_allreduce_f32;
  g_comm.table.allreduce_sum_f64 = mpi_allreduce_f64;
  g_comm.active = size > 1;
#ifdef _OPENMP
  /* Ranks on one machine share its cores: without OMP_NUM_THREADS, each
   * takes its share instead of all of them (results do not depend on the
   * thread count; --threads still overrides). */
  MPI_Comm node;
  if (!getenv("OMP_NUM_THREADS") &&
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank,
                          MPI_INFO_NULL, &node) == MPI_SUCCESS) {
    int local = 1;
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
    const int procs = omp_get_num_procs();
    if (local > 1) omp_set_num_threads(procs / local > 1 ? procs / local : 1);
  }
#endif
  if (size == 1) {
    /* Alone after all: finish MPI now so that nothing else changes. */
    MPI_Finalize();
    g_comm.table.user = NULL;
  }
  return 0;
}

int tq_cli_comm_finalize(int status) {
  if (!g_comm.active) return status;
  g_comm.active = 0;
  if (status != 0) {
    /* The other ranks may wait in a collective this rank never enters;
     * MPI_Finalize would wait for them in turn. End the whole job. */
    fflush(stdout);
    fflush(stderr);
    /* When every rank fails alike (a bad option, a missing file), rank 0
     * aborts first, so its message is the one printed before Open MPI
     * kills the others. */
    if (g_comm.table.rank != 0) {
      struct timespec wait = {2, 0};
      nanosleep(&wait, NULL);
    }
    MPI_Abort(MPI_COMM_WORLD, status);
  }
  MPI_Finalize();
  return status;
}

const char *tq_cli_comm_library(void) {
#if defined(OMPI_MAJOR_VERSION)
#define TQ_STR2(x) #x
#define TQ_STR(x) TQ_STR2(x)
  return "Open MPI " TQ_STR(OMPI_MAJOR_VERSION) "." TQ_STR(
      OMPI_MINOR_VERSION) "." TQ_STR(OMPI_RELEASE_VERSION);
#else
  return "MPI";
#endif
}

#endif /* TQ_HAVE_MPI */
