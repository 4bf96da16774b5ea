/* Running one job as several processes (ranks): the few collective
 * operations the analysis and the trainer need, as a table of functions
 * the caller provides. The library itself does not link MPI: the tq tool
 * fills this table with Open MPI when it is built with it, and a program
 * embedding the library can plug in its own transport.
 *
 * Every rank calls every collective in the same order (they are
 * collective, as in MPI). A NULL tq_comm pointer anywhere means a single
 * process.
 *
 * Ownership: the caller owns the table and its user pointer for as long
 * as any call that received it runs. Thread-safety: collectives are
 * called from the thread that called the library function. */
#ifndef TENSORQUANT_COMM_H
#define TENSORQUANT_COMM_H

#include <stddef.h>

#include "export.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tq_comm {
  int rank; /* 0 .. size-1; rank 0 gathers results and prints */
  int size; /* number of ranks, >= 1 */
  void *user;
  /* Every rank sends `bytes` bytes (bytes may differ between ranks) and
   * receives into `recv` the concatenation of all ranks' data in rank
   * order; recv_bytes[r] is what rank r sent (the callee fills it: an
   * array of `size`). `recv` holds `recv_cap` bytes; a rank whose total
   * would not fit gets TQ_ERR_RANGE and must not use recv. */
  tq_status (*allgatherv)(void *user, const void *send, size_t bytes,
                          void *recv, size_t recv_cap, size_t *recv_bytes);
  /* In-place elementwise sum of n floats over all ranks, identical on
   * every rank afterwards. */
  tq_status (*allreduce_sum_f32)(void *user, float *data, size_t n);
  /* In-place elementwise sum of n doubles over all ranks. */
  tq_status (*allreduce_sum_f64)(void *user, double *data, size_t n);
} tq_comm;

#ifdef __cplusplus
}
#endif
#endif
