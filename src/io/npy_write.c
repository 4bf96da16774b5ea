/* Writing NumPy .npy files, byte for byte as numpy.save writes them, in
 * every tensor dtype (bfloat16 as ml_dtypes writes it: descr '<V2'), and
 * atomically. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/bytes.h"
#include "core/error.h"
#include "core/tensor_internal.h"
#include "io/npy_internal.h"

/* NumPy pads the header so that the data starts at a multiple of 64. */
#define NPY_ALIGN 64
/* NumPy leaves room for the first dim to grow to this many digits. */
#define NPY_GROWTH_DIGITS 21

/* The descr numpy.save writes for each dtype. ml_dtypes' bfloat16 has no
 * NumPy type code: NumPy writes it as a 2-byte void, '<V2'. */
static const char *const descrs[TQ_DTYPE_COUNT] = {
    [TQ_DTYPE_FLOAT32] = "<f4",  [TQ_DTYPE_INT64] = "<i8",
    [TQ_DTYPE_INT32] = "<i4",    [TQ_DTYPE_INT8] = "|i1",
    [TQ_DTYPE_UINT8] = "|u1",    [TQ_DTYPE_BOOL] = "|b1",
    [TQ_DTYPE_FLOAT64] = "<f8",  [TQ_DTYPE_FLOAT16] = "<f2",
    [TQ_DTYPE_BFLOAT16] = "<V2",
};

/* Builds prefix + header exactly as numpy.save does for a C-order array
 * of that descr; returns its length. buf must hold HEADER_MAX + 16 bytes
 * (the header of an 8-d shape is under 400). */
#define HEADER_MAX 1024
static size_t build_header(const tq_shape *shape, const char *descr,
                           unsigned char *buf) {
  char shape_text[TQ_NPY_SHAPE_TEXT_MAX];
  tq_npy_format_shape(shape, shape_text, sizeof shape_text);
  char dict[HEADER_MAX];
  int n = snprintf(dict, sizeof dict,
                   "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                   descr, shape_text);
  size_t len = n > 0 ? (size_t)n : 0;
  if (shape->ndim > 0) {
    char first[24];
    int k = snprintf(first, sizeof first, "%lld", (long long)shape->dims[0]);
    for (int i = k; i < NPY_GROWTH_DIGITS; i++) dict[len++] = ' ';
  }
  /* Version 2.0 only when the padded header overflows 16 bits, which the
   * bounded shape never needs; kept so the rule reads like NumPy's. */
  size_t prefix = 10;
  size_t hlen = len + 1;
  size_t pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
  if (hlen + pad > 65535) {
    prefix = 12;
    pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
  }
  memcpy(buf, tq_npy_magic, 6);
  buf[6] = prefix == 10 ? 1 : 2;
  buf[7] = 0;
  if (prefix == 10)
    store_le16(buf + 8, (uint16_t)(hlen + pad));
  else
    store_le32(buf + 8, (uint32_t)(hlen + pad));
  memcpy(buf + prefix, dict, len);
  memset(buf + prefix + len, ' ', pad);
  buf[prefix + len + pad] = '\n';
  return prefix + hlen + pad;
}

/* What tq_atomic_write_file writes: the header, then the data in
 * little-endian order. */
typedef struct npy_contents {
  const unsigned char *hdr;
  size_t hlen;
  const unsigned char *data;
  size_t numel, esize;
} npy_contents;

/* Writes header and data to fp; returns 0 or an errno value. Elements are
 * stored byte by byte, least significant first, whatever the host's byte
 * order. */
static int write_contents(FILE *fp, void *user) {
  const npy_contents *c = user;
  if (fwrite(c->hdr, 1, c->hlen, fp) != c->hlen) return errno ? errno : EIO;
  unsigned char chunk[1 << 14];
  const size_t es = c->esize, per = sizeof chunk / es;
  for (size_t done = 0; done < c->numel;) {
    size_t n = c->numel - done < per ? c->numel - done : per;
    for (size_t i = 0; i < n; i++) {
      const unsigned char *e = c->data + (done + i) * es;
      uint64_t u = 0;
      if (es == 1) {
        u = e[0];
      } else if (es == 2) {
        uint16_t v;
        memcpy(&v, e, 2);
        u = v;
      } else if (es == 4) {
        uint32_t v;
        memcpy(&v, e, 4);
        u = v;
      } else if (es == 8) {
        memcpy(&u, e, 8);
      }
      for (size_t b = 0; b < es; b++)
        chunk[i * es + b] = (unsigned char)(u >> (8 * b));
    }
    if (fwrite(chunk, es, n, fp) != n) return errno ? errno : EIO;
    done += n;
  }
  return 0;
}

/* Checks path, shape and data, then writes. */
static tq_status write_array(tq_context *ctx, const char *path,
                             const void *data, tq_dtype dtype,
                             const tq_shape *shape) {
  if (!path || !*path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "npy: path must be a non-empty string");
  if (!shape)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "npy: shape must not be NULL");
  if (shape->ndim < 0 || shape->ndim > TQ_MAX_DIMS)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "npy: ndim %d is out of range (0..%d)", shape->ndim,
                    TQ_MAX_DIMS);
  for (int i = 0; i < shape->ndim; i++)
    if (shape->dims[i] < 0)
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                      "npy: dimension %d is negative (%lld)", i,
                      (long long)shape->dims[i]);
  if ((unsigned)dtype >= TQ_DTYPE_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "npy: unknown dtype %d", (int)dtype);
  const size_t es = tq_dtype_size(dtype);
  int overflow;
  size_t numel = tq_shape_numel(shape, &overflow);
  if (overflow || numel > SIZE_MAX / es)
    return tq_error(ctx, TQ_ERR_RANGE, path, 0, 0,
                    "npy: the shape is too large to address in memory");
  if (!data && numel)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "npy: data is NULL for a shape of %zu elements", numel);
  unsigned char hdr[HEADER_MAX + 16];
  size_t hlen = build_header(shape, descrs[dtype], hdr);
  npy_contents contents = {hdr, hlen, data, numel, es};
  return tq_atomic_write_file(ctx, path, write_contents, &contents);
}

tq_status tq_npy_write(tq_context *ctx, const char *path, const float *data,
                       const tq_shape *shape) {
  return write_array(ctx, path, data, TQ_DTYPE_FLOAT32, shape);
}

tq_status tq_npy_write_tensor(tq_context *ctx, const char *path,
                              const tq_tensor *t) {
  if (!t)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "npy: the tensor must not be NULL");
  return write_array(ctx, path, t->data, t->dtype, &t->shape);
}
