/* Internal: broadcasting, chunked loops and copies shared by the tensor
 * operators (broadcast.c).
 *
 * Values of every dtype flow at plan time (shape arithmetic: Shape ->
 * Gather -> Mul -> Concat ...) and at run time (token ids, masks). Booleans
 * (comparisons, And/Or/Xor/Not, Where's condition) are TQ_DTYPE_BOOL. */
#ifndef TQ_OPS_ELEMENTWISE_H
#define TQ_OPS_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ops/op_internal.h"

/* ---- broadcasting (broadcast.c) ------------------------------------------*/

/* numpy (multidirectional) broadcasting of shapes a and b into *out; an
 * error naming both shapes when they do not fit. what names the operands in
 * the message ("inputs"). */
tq_status tq_ew_broadcast_shape(tq_op_call *c, const tq_shape *a,
                                const tq_shape *b, const char *what,
                                tq_shape *out);

/* Copies src (shape src_shape, broadcastable to dst_shape: every dim equal
 * or 1) into the contiguous dst of shape dst_shape; esize bytes per
 * element. */
void tq_ew_broadcast_copy(const void *src, const tq_shape *src_shape, void *dst,
                          const tq_shape *dst_shape, size_t esize, int threads);

/* Most inputs of a broadcast plan (Where). */
enum { TQ_EW_MAXIN = 3 };

/* A broadcast output's dimensions after collapsing, with each input's
 * element stride per dimension (0: broadcast). The innermost stride of an
 * input is 0 or 1. */
typedef struct tq_ew_plan {
  int nd; /* >= 1 */
  int k;  /* inputs */
  int64_t dims[TQ_MAX_DIMS];
  int64_t st[TQ_EW_MAXIN][TQ_MAX_DIMS];
} tq_ew_plan;

/* Plans out = f(in[0], ..., in[k-1]); every in[j] must broadcast to out
 * (checked by the caller's infer). */
void tq_ew_plan_build(tq_ew_plan *p, const tq_shape *out,
                      const tq_shape *const *in, int k);

/* Processes len output elements starting at out_first; input j starts at
 * element in_first[j] and advances by step[j] (0 or 1). */
typedef void (*tq_ew_row_fn)(void *arg, size_t out_first,
                             const int64_t *in_first, const int64_t *step,
                             size_t len);

/* Runs fn over the whole output of p, rows split over threads by the shape
 * only. */
void tq_ew_run(const tq_ew_plan *p, int threads, tq_ew_row_fn fn, void *arg);

/* ---- loops and copies (broadcast.c) --------------------------------------*/

/* Calls fn(arg, first, len) on consecutive chunks covering [0, n), in
 * parallel when n spans several chunks. Chunk boundaries depend on n only. */
typedef void (*tq_ew_chunk_fn)(void *arg, size_t first, size_t len);
void tq_ew_for_chunks(size_t n, int threads, tq_ew_chunk_fn fn, void *arg);

/* dst[0..n) = src[0..n), elements of esize bytes (nothing when src ==
 * dst). */
void tq_ew_copy(const void *src, void *dst, size_t n, size_t esize,
                int threads);

/* An error unless the call has exactly one input, of type float32. */
tq_status tq_ew_one_float_input(tq_op_call *c);

/* Threads an operator call may use (at least 1). */
int tq_ew_threads(const tq_op_call *c);

/* Wrapping int64 arithmetic (no undefined behaviour on overflow). */
static inline int64_t tq_wrap_i64(uint64_t u) {
  int64_t r;
  memcpy(&r, &u, sizeof r);
  return r;
}

#endif
