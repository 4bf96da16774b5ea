/* NumPy .npy files: read any numeric dtype into float32, write float32.
 *
 * Reading accepts format versions 1.0, 2.0 and 3.0, C order, little-endian
 * (or byte-order-free) dtypes f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 and b1.
 * Every header field is validated; errors name the file and what was found
 * and expected. Writing is atomic (temporary file, then rename).
 *
 * Ownership: tensors returned through float ** belong to the caller; free
 * them with tq_free(). Thread-safety: all functions are reentrant. */
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

/* Writes data as a float32 .npy file (format 1.0, or 2.0 when the header
 * needs it), atomically: on failure no file at path is created or changed. */
TQ_API tq_status tq_npy_write(tq_context *ctx, const char *path,
                              const float *data, const tq_shape *shape);

#ifdef __cplusplus
}
#endif
#endif
