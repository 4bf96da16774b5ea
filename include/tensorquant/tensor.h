/* Tensors: N-d arrays of one element type (tq_dtype), C order.
 *
 * float32 is what the runtime computes in (and the only dtype quantizer
 * maps apply to); the other dtypes carry token ids, masks, indices and
 * shape arithmetic, and models exported in float64, float16 or bfloat16
 * (docs/ops.md lists what each operator takes).
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

/* Element types. The values are stable (new ones are appended). */
typedef enum tq_dtype {
  TQ_DTYPE_FLOAT32 = 0, /* IEEE binary32: what the runtime computes in */
  TQ_DTYPE_INT64,       /* token ids, indices, shape arithmetic */
  TQ_DTYPE_INT32,
  TQ_DTYPE_INT8,
  TQ_DTYPE_UINT8,
  TQ_DTYPE_BOOL,     /* one byte, 0 or 1 */
  TQ_DTYPE_FLOAT64,  /* IEEE binary64 */
  TQ_DTYPE_FLOAT16,  /* IEEE binary16, stored as its 16 bits */
  TQ_DTYPE_BFLOAT16, /* the top 16 bits of a binary32 */
  TQ_DTYPE_COUNT
} tq_dtype;

/* The name of a dtype as NumPy spells it ("float32", "int64", "bool",
 * "bfloat16" as ml_dtypes does); "unknown" for values out of range. The
 * string is static. */
TQ_API const char *tq_dtype_name(tq_dtype dtype);

/* The dtype called name (as tq_dtype_name writes it); returns 0 and sets
 * *dtype, or -1 when name is none of them. */
TQ_API int tq_dtype_from_name(const char *name, tq_dtype *dtype);

/* Bytes per element (1 for bool); 0 for values out of range. */
TQ_API size_t tq_dtype_size(tq_dtype dtype);

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

/* A new tensor of dtype `to` holding src's values converted as ONNX Cast
 * converts them (docs/ops.md, Cast): float16 and bfloat16 round to
 * nearest even, floats to integers truncate toward zero (NaN gives 0,
 * values out of range saturate), integers wrap to a narrower integer, any
 * non-zero value is true. The caller destroys *out. */
TQ_API tq_status tq_tensor_cast(tq_context *ctx, const tq_tensor *src,
                                tq_dtype to, tq_tensor **out);

/* The elements (float *, int64_t *, int32_t *, int8_t *, uint8_t *, bool
 * as uint8_t 0/1, double *, or the uint16_t bit patterns of float16 and
 * bfloat16, by dtype), owned by the tensor. */
TQ_API void *tq_tensor_data(tq_tensor *t);
TQ_API const void *tq_tensor_cdata(const tq_tensor *t);

/* Writes "[1, 3, 224, 224]" into buf (always NUL-terminated). */
TQ_API void tq_shape_format(const tq_shape *shape, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
