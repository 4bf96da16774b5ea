/* Internal: OpenMP helpers with a fixed work split.
 *
 * Work is cut into chunks whose boundaries depend only on the problem size,
 * never on the thread count, so anything computed per chunk (partial sums)
 * is the same at any thread count. */
#ifndef TQ_CORE_THREADS_H
#define TQ_CORE_THREADS_H

#include <stddef.h>

/* Elements per chunk: 64 KiB of floats, a multiple of every vector width. */
#define TQ_CHUNK_ELEMS ((size_t)16384)

/* Threads the OpenMP runtime would use by default (1 without OpenMP). */
int tq_threads_available(void);

/* Number of chunks of n elements. */
static inline size_t tq_chunk_count(size_t n) {
  return (n + TQ_CHUNK_ELEMS - 1) / TQ_CHUNK_ELEMS;
}

#endif
