/* Internal: IDX files as raw bytes, shared by the IDX reader (idx.c) and
 * the datasets (dataset.c), which keep ubyte images as bytes rather than
 * expanding them to float. */
#ifndef TQ_IO_IDX_INTERNAL_H
#define TQ_IO_IDX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tensorquant/data.h"

/* IDX element types (the third magic byte). */
enum {
  TQ_IDX_UBYTE = 0x08,
  TQ_IDX_SBYTE = 0x09,
  TQ_IDX_SHORT = 0x0B,
  TQ_IDX_INT = 0x0C,
  TQ_IDX_FLOAT = 0x0D,
  TQ_IDX_DOUBLE = 0x0E
};

/* A validated IDX file: header plus the data bytes exactly as stored
 * (big-endian), numel * elem_size of them. */
typedef struct tq_idx_raw {
  int type;                         /* TQ_IDX_* */
  int ndim;                         /* 1 .. TQ_TENSOR_MAX_DIMS */
  int64_t dims[TQ_TENSOR_MAX_DIMS]; /* each >= 1 */
  size_t numel;                     /* product of dims, >= 1 */
  size_t elem_size;                 /* bytes per element */
  unsigned char *data;              /* malloc'd; owned by the struct */
} tq_idx_raw;

/* Reads and validates a whole IDX file (gzipped or not). On failure raw is
 * zeroed and the message names path. Free with tq_idx_raw_free(). */
tq_status tq_idx_load_raw(tq_context *ctx, const char *path, tq_idx_raw *raw);

/* Same from memory; name names the bytes in messages. */
tq_status tq_idx_parse_raw(tq_context *ctx, const void *bytes, size_t size,
                           const char *name, tq_idx_raw *raw);

/* Frees raw->data and zeroes raw. NULL is allowed. */
void tq_idx_raw_free(tq_idx_raw *raw);

/* Element i as a double: exact for every IDX type. */
double tq_idx_raw_value(const tq_idx_raw *raw, size_t i);

/* Elements [first, first + n) converted to float32 as stored (no
 * rescaling): exact for bytes and shorts, rounded to nearest even for int
 * and double. */
void tq_idx_raw_to_floats(const tq_idx_raw *raw, size_t first, size_t n,
                          float *dst);

/* "ubyte", "sbyte", ... for messages ("unknown" for other values). */
const char *tq_idx_type_name(int type);

#endif
