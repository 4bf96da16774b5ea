/* Internal: what the backward functions of the tensor operators share
 * (grad_common.c). */
#ifndef TQ_OPS_BACKWARD_INTERNAL_H
#define TQ_OPS_BACKWARD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ops/op_internal.h"

/* Dimensions of the index spaces the helpers below walk (Tile: a pair of
 * dimensions per input dimension). */
enum { TQ_BW_MAXD = 2 * TQ_MAX_DIMS };

/* Inner positions a task of a blocked backward loop covers. */
enum { TQ_BW_BLOCK = 256 };

/* d[i] = expr for i in [first, end): the loop of an elementwise backward
 * chunk. */
#define TQ_BW_LOOP(expr) \
  for (size_t i = first; i < end; i++) d[i] = (expr)

/* Gradient of a broadcast: dst (contiguous, dims tdims with the size-1
 * dims) = src (contiguous, dims odims) summed over every dimension d with
 * tdims[d] == 1 != odims[d]; tdims[d] is odims[d] or 1. Each element of
 * dst sums its terms in row-major order of the summed dimensions, in
 * double, rounded once: the same bits at any thread count. nd <=
 * TQ_BW_MAXD. */
void tq_bw_sum_to(const float *src, const int64_t *odims, const int64_t *tdims,
                  int nd, float *dst, int threads);

/* The same with numpy alignment: target (rank <= out's rank) aligned to the
 * trailing dims of out. */
void tq_bw_sum_to_shape(const float *src, const tq_shape *out,
                        const tq_shape *target, float *dst, int threads);

/* An internal error unless every requested gradient fits its input (the
 * input present and float32, gin float32 with as many elements). */
tq_status tq_bw_check_gin(tq_op_call *c, tq_tensor **gin);

/* gin[0] = gout[0]: the backward of operators that pass their input's
 * elements on unchanged (Identity, Reshape, ...). */
tq_status tq_bw_pass(tq_op_call *c, const tq_tensor *const *gout,
                     tq_tensor **gin);

/* Fills dst[0..n) with v (chunked, parallel). */
void tq_bw_fill(float *dst, size_t n, float v, int threads);

/* data (shape s, broadcastable to so of n elements) as n values of so's
 * shape: data itself when it has them all, else a copy in *buf (free it). */
tq_status tq_bw_bcast(tq_op_call *c, const float *data, const tq_shape *s,
                      const tq_shape *so, size_t n, float **buf,
                      const float **out);

/* Where the per-element terms of the gradient of an input of shape sk go:
 * gin itself when the input is not broadcast, else *tmp (allocated once, n
 * floats; free it). */
tq_status tq_bw_terms(tq_op_call *c, const tq_shape *sk, size_t n,
                      tq_tensor *gin, float **tmp, float **out);

/* The gradient of an input of shape sk from d, its per-element terms at
 * the output's shape so (from tq_bw_terms): nothing when d is gin's own
 * buffer, else summed into gin. */
void tq_bw_finish(tq_op_call *c, const float *d, const tq_shape *so,
                  const tq_shape *sk, tq_tensor *gin);

#endif
