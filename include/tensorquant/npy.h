/* NumPy .npy files: read into a tensor of the file's own dtype or into
 * float32, written in any tensor dtype.
 *
 * Reading accepts format versions 1.0, 2.0 and 3.0, C order, little-endian
 * (or byte-order-free) dtypes f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, and V2:
 * bfloat16 as ml_dtypes saves it (NumPy has no bfloat16 type and writes
 * ml_dtypes.bfloat16 arrays as 2-byte voids, '<V2'; docs/npy.md). Every
 * header field is validated; errors name the file and what was found and
 * expected. Writing is atomic (temporary file, then rename) and byte for
 * byte what numpy.save writes.
 *
 * Ownership: arrays returned through float ** belong to the caller; free
 * them with tq_free(). Tensors returned through tq_tensor ** belong to the
 * caller; free them with tq_tensor_destroy(). Thread-safety: all functions
 * are reentrant. */
#ifndef TENSORQUANT_NPY_H
#define TENSORQUANT_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TQ_MAX_DIMS 8

typedef struct tq_tensor tq_tensor; /* tensor.h */

/* A tensor shape. Plain data. */
typedef struct tq_shape {
  int ndim;                  /* 0 (scalar) .. TQ_MAX_DIMS */
  int64_t dims[TQ_MAX_DIMS]; /* dims[0..ndim-1], each >= 0 */
} tq_shape;

/* Number of elements of shape (1 for a scalar). Returns 0 and sets
 * *overflow (when non-NULL) if the product does not fit in size_t. */
TQ_API size_t tq_shape_numel(const tq_shape *shape, int *overflow);

/* Reads an .npy file and converts its values to float32 (float64 and
 * 64-bit integers are rounded to nearest even). On success *data is never
 * NULL (a zero-size array gets a one-float allocation); on failure *data is
 * NULL. */
TQ_API tq_status tq_npy_read(tq_context *ctx, const char *path, float **data,
                             tq_shape *shape);

/* Same from bytes in memory; source names them in error messages. */
TQ_API tq_status tq_npy_parse(tq_context *ctx, const void *bytes, size_t len,
                              const char *source, float **data,
                              tq_shape *shape);

/* Reads an .npy file into a new tensor of the file's dtype: float32,
 * float64, float16, bfloat16 ('<V2'), int64, int32, int8, uint8 and bool
 * as they are; int16, uint16 and uint32 widened to int64 (exact); uint64
 * as int64 (a value above 2^63 - 1 is TQ_ERR_RANGE, naming the element).
 * At most TQ_TENSOR_MAX_DIMS dimensions. On success *out is a tensor the
 * caller destroys; on failure NULL. */
TQ_API tq_status tq_npy_read_tensor(tq_context *ctx, const char *path,
                                    tq_tensor **out);

/* Same from bytes in memory; source names them in error messages. */
TQ_API tq_status tq_npy_parse_tensor(tq_context *ctx, const void *bytes,
                                     size_t len, const char *source,
                                     tq_tensor **out);

/* Writes t as an .npy file of its own dtype ('<f4' '<i8' '<i4' '|i1'
 * '|u1' '|b1' '<f8' '<f2', and '<V2' for bfloat16 as ml_dtypes does),
 * atomically: on failure no file at path is created or changed. */
TQ_API tq_status tq_npy_write_tensor(tq_context *ctx, const char *path,
                                     const tq_tensor *t);

/* Writes data as a float32 .npy file (format 1.0, or 2.0 when the header
 * needs it), atomically: on failure no file at path is created or changed. */
TQ_API tq_status tq_npy_write(tq_context *ctx, const char *path,
                              const float *data, const tq_shape *shape);

#ifdef __cplusplus
}
#endif
#endif
