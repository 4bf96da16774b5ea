/* Internal: what the backward groups (backward_elementwise.c,
 * backward_shape.c) share, and Dropout, whose training forward and
 * backward draw the same mask (dropout.c). */
#ifndef TQ_OPS_BACKWARD_INTERNAL_H
#define TQ_OPS_BACKWARD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ops/op_internal.h"

/* Dimensions of the index spaces the helpers below walk (Tile: a pair of
 * dimensions per input dimension). */
enum { TQ_BW_MAXD = 2 * TQ_MAX_DIMS };

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

/* Fills dst[0..n) with v (chunked, parallel). */
void tq_bw_fill(float *dst, size_t n, float v, int threads);

/* Backward functions of the elementwise and shape operators
 * (backward_elementwise.c, backward_shape.c; tq_op_backward_fn), until each
 * moves next to its forward. */
#define TQ_BW(name)                                                   \
  tq_status tq_bw_##name(tq_op_call *c, const tq_tensor *const *gout, \
                         tq_tensor **gin);
TQ_BW(binary)
TQ_BW(variadic)
TQ_BW(pointwise)
TQ_BW(prelu)
TQ_BW(clip)
TQ_BW(softmax)
TQ_BW(where)
TQ_BW(cast)
TQ_BW(copy)
TQ_BW(none)
TQ_BW(concat)
TQ_BW(split)
TQ_BW(slice)
TQ_BW(transpose)
TQ_BW(pad)
TQ_BW(reduce)
TQ_BW(expand)
TQ_BW(tile)
TQ_BW(gather)
#undef TQ_BW

/* ---- Dropout (dropout.c) -------------------------------------------------*/

/* Dropout(data, ratio, training_mode) -> (output, mask). With c->training
 * (ONNX's training_mode input is ignored in favour of it) and a ratio > 0
 * it drops: see tq_dropout_keep. Otherwise the identity, mask all ones. The
 * mask is float32 1/0 (run-time values are float32). */
tq_status tq_ew_dropout_infer(tq_op_call *c);
tq_status tq_ew_dropout_forward(tq_op_call *c);
/* gin[0] = gout[0] * mask * scale (the forward's mask, regenerated). */
tq_status tq_dropout_backward(tq_op_call *c, const tq_tensor *const *gout,
                              tq_tensor **gin);

#endif
