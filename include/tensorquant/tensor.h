/* Tensors: N-d arrays of float32 (or int64 for shape arithmetic), C order.
 *
 * Ownership: tq_tensor_create() gives the caller a tensor to free with
 * tq_tensor_destroy(). Thread-safety: a tensor is plain memory; concurrent
 * reads are fine, writes need the caller's synchronisation. */
#ifndef TENSORQUANT_TENSOR_H
#define TENSORQUANT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "npy.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tensors of the graph runtime have at most this many dimensions. */
#define TQ_TENSOR_MAX_DIMS 6

typedef enum tq_dtype {
  TQ_DTYPE_FLOAT32 = 0, /* every computed value */
  TQ_DTYPE_INT64,       /* shapes, indices: evaluated when a model loads */
  TQ_DTYPE_COUNT
} tq_dtype;

typedef struct tq_tensor tq_tensor;

/* A new zero-filled tensor of the given dtype and shape (ndim <=
 * TQ_TENSOR_MAX_DIMS, every dim >= 0). */
TQ_API tq_status tq_tensor_create(tq_context *ctx, tq_dtype dtype,
                                  const tq_shape *shape, tq_tensor **out);

/* A new float32 tensor holding a copy of data (numel floats). */
TQ_API tq_status tq_tensor_from_floats(tq_context *ctx, const tq_shape *shape,
                                       const float *data, tq_tensor **out);

TQ_API void tq_tensor_destroy(tq_tensor *t);

TQ_API tq_dtype tq_tensor_dtype(const tq_tensor *t);
TQ_API const tq_shape *tq_tensor_shape(const tq_tensor *t);
TQ_API size_t tq_tensor_numel(const tq_tensor *t);

/* The elements (float * or int64_t * by dtype), owned by the tensor. */
TQ_API void *tq_tensor_data(tq_tensor *t);
TQ_API const void *tq_tensor_cdata(const tq_tensor *t);

/* Writes "[1, 3, 224, 224]" into buf (always NUL-terminated). */
TQ_API void tq_shape_format(const tq_shape *shape, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
