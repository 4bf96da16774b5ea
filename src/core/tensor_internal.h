/* Internal: the tensor struct, visible to operators and the executor. */
#ifndef TQ_CORE_TENSOR_INTERNAL_H
#define TQ_CORE_TENSOR_INTERNAL_H

#include "tensorquant/tensor.h"

struct tq_tensor {
  tq_dtype dtype;
  tq_shape shape;
  size_t numel;
  void *data;    /* elements of dtype; at least one element allocated */
  int owns_data; /* 0: data belongs to someone else (a view) */
  int lazy;      /* executor planning: shape only, data attached at run */
  size_t cap_bytes; /* executor: capacity of the attached pool buffer */
};

static inline float *tq_f32(tq_tensor *t) { return (float *)t->data; }
static inline const float *tq_cf32(const tq_tensor *t) {
  return (const float *)t->data;
}
static inline int64_t *tq_i64(tq_tensor *t) { return (int64_t *)t->data; }
static inline const int64_t *tq_ci64(const tq_tensor *t) {
  return (const int64_t *)t->data;
}

/* Validates a shape for a tensor (ndim, non-negative dims, no overflow)
 * and returns its element count in *numel. */
tq_status tq_shape_check(tq_context *ctx, const tq_shape *shape,
                         size_t *numel);

/* Reallocates t for a new dtype/shape (keeps the buffer when it is large
 * enough). Contents are unspecified afterwards. */
tq_status tq_tensor_reshape_alloc(tq_context *ctx, tq_tensor *t,
                                  tq_dtype dtype, const tq_shape *shape);

/* A deep copy. */
tq_status tq_tensor_clone(tq_context *ctx, const tq_tensor *src,
                          tq_tensor **out);

/* Shapes equal (ndim and dims). */
int tq_shape_equal(const tq_shape *a, const tq_shape *b);

#endif
