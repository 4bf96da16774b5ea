/* Tensors: allocation, shapes, copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype_internal.h"
#include "core/error.h"
#include "core/tensor_internal.h"

tq_status tq_shape_check(tq_context *ctx, const tq_shape *shape,
                         size_t *numel) {
  if (!shape || shape->ndim < 0 || shape->ndim > TQ_TENSOR_MAX_DIMS)
    return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "a tensor has 0 to %d dimensions, got %d",
                    TQ_TENSOR_MAX_DIMS, shape ? shape->ndim : -1);
  size_t n = 1;
  for (int d = 0; d < shape->ndim; d++) {
    int64_t v = shape->dims[d];
    if (v < 0)
      return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                      "dimension %d is %lld: a tensor needs sizes >= 0", d,
                      (long long)v);
    if (v && n > ((size_t)1 << 40) / (size_t)v)
      return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                      "tensor too large (more than 2^40 elements)");
    n *= (size_t)v;
  }
  if (numel) *numel = n;
  return TQ_OK;
}

int tq_shape_equal(const tq_shape *a, const tq_shape *b) {
  if (a->ndim != b->ndim) return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->dims[d] != b->dims[d]) return 0;
  return 1;
}

tq_status tq_tensor_create(tq_context *ctx, tq_dtype dtype,
                           const tq_shape *shape, tq_tensor **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_tensor_create: out is NULL");
  *out = NULL;
  if ((unsigned)dtype >= TQ_DTYPE_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "unknown dtype %d", (int)dtype);
  size_t n;
  tq_status st = tq_shape_check(ctx, shape, &n);
  if (st != TQ_OK) return st;
  tq_tensor *t = calloc(1, sizeof *t);
  if (!t) return tq_error_nomem(ctx);
  t->data = calloc(n ? n : 1, tq_dtype_size(dtype));
  if (!t->data) {
    free(t);
    return tq_error_nomem(ctx);
  }
  t->dtype = dtype;
  t->shape = *shape;
  for (int d = shape->ndim; d < TQ_MAX_DIMS; d++) t->shape.dims[d] = 0;
  t->numel = n;
  t->owns_data = 1;
  *out = t;
  return TQ_OK;
}

tq_status tq_tensor_from_floats(tq_context *ctx, const tq_shape *shape,
                                const float *data, tq_tensor **out) {
  tq_status st = tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, shape, out);
  if (st != TQ_OK) return st;
  if ((*out)->numel) {
    if (!data) {
      tq_tensor_destroy(*out);
      *out = NULL;
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "tq_tensor_from_floats: data is NULL");
    }
    memcpy((*out)->data, data, (*out)->numel * sizeof(float));
  }
  return TQ_OK;
}

void tq_tensor_destroy(tq_tensor *t) {
  if (!t) return;
  if (t->owns_data) free(t->data);
  free(t);
}

tq_dtype tq_tensor_dtype(const tq_tensor *t) { return t->dtype; }
const tq_shape *tq_tensor_shape(const tq_tensor *t) { return &t->shape; }
size_t tq_tensor_numel(const tq_tensor *t) { return t->numel; }
void *tq_tensor_data(tq_tensor *t) { return t->data; }
const void *tq_tensor_cdata(const tq_tensor *t) { return t->data; }

tq_status tq_tensor_reshape_alloc(tq_context *ctx, tq_tensor *t,
                                  tq_dtype dtype, const tq_shape *shape) {
  size_t n;
  tq_status st = tq_shape_check(ctx, shape, &n);
  if (st != TQ_OK) return st;
  size_t need = (n ? n : 1) * tq_dtype_size(dtype);
  size_t have = (t->numel ? t->numel : 1) * tq_dtype_size(t->dtype);
  if (!t->owns_data || need > have) {
    void *p = malloc(need);
    if (!p) return tq_error_nomem(ctx);
    if (t->owns_data) free(t->data);
    t->data = p;
    t->owns_data = 1;
  }
  t->dtype = dtype;
  t->shape = *shape;
  t->numel = n;
  return TQ_OK;
}

tq_status tq_tensor_clone(tq_context *ctx, const tq_tensor *src,
                          tq_tensor **out) {
  tq_status st = tq_tensor_create(ctx, src->dtype, &src->shape, out);
  if (st != TQ_OK) return st;
  memcpy((*out)->data, src->data, src->numel * tq_dtype_size(src->dtype));
  return TQ_OK;
}

tq_status tq_tensor_cast(tq_context *ctx, const tq_tensor *src, tq_dtype to,
                         tq_tensor **out) {
  if (!out || !src)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_tensor_cast: NULL argument");
  tq_status st = tq_tensor_create(ctx, to, &src->shape, out);
  if (st != TQ_OK) return st;
  tq_dtype_convert(src->dtype, src->data, to, (*out)->data, src->numel);
  return TQ_OK;
}

void tq_shape_format(const tq_shape *shape, char *buf, size_t size) {
  if (!size) return;
  size_t used = 0;
  buf[0] = '\0';
  used += (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < shape->ndim && used < size; d++)
    used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "",
                             (long long)shape->dims[d]);
  if (used < size) snprintf(buf + used, size - used, "]");
}
