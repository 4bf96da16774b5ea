/* What the shape and data-movement operators share (shape_internal.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/shape_internal.h"

tq_status tq_shape_parse_ints(const tq_op_parse *p, const char *name,
                              tq_shape_ints *out) {
  const tq_attr *a = tq_parse_attr(p, name);
  memset(out, 0, sizeof *out);
  out->present = a != NULL;
  if (!a) return TQ_OK;
  if (a->type != TQ_ATTR_INTS && a->type != TQ_ATTR_INT)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "attribute '%s' must be a list of integers", name);
  size_t cnt = a->type == TQ_ATTR_INT ? 1 : a->count;
  if (cnt > TQ_SHAPE_MAXV)
    return tq_parse_error(p, TQ_ERR_SHAPE,
                          "attribute '%s' has %zu values, at most %d "
                          "supported",
                          name, cnt, (int)TQ_SHAPE_MAXV);
  if (a->type == TQ_ATTR_INT)
    out->v[0] = a->i;
  else if (cnt)
    memcpy(out->v, a->ints, cnt * sizeof *out->v);
  out->n = cnt;
  return TQ_OK;
}

tq_shape tq_shape_of_rank(int nd) {
  tq_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = nd;
  return s;
}

int tq_shape_has_input(const tq_op_call *c, size_t i) {
  return i < c->n_in && c->in[i] != NULL;
}

tq_status tq_shape_need_input(tq_op_call *c, size_t i, const char *what) {
  if (!tq_shape_has_input(c, i))
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "input %zu ('%s') is required", i, what);
  return TQ_OK;
}

tq_status tq_shape_need_const(tq_op_call *c, size_t i, const char *what) {
  tq_status st = tq_shape_need_input(c, i, what);
  if (st != TQ_OK) return st;
  if (!c->in[i]->data)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "input %zu ('%s') must be a constant (an "
                         "initializer or computed from shapes), but it is "
                         "computed from run-time data",
                         i, what);
  return TQ_OK;
}

tq_status tq_shape_input_ints(tq_op_call *c, size_t i, const char *what,
                              int64_t *v, size_t max, size_t *n) {
  tq_status st = tq_shape_need_const(c, i, what);
  if (st != TQ_OK) return st;
  const tq_tensor *t = c->in[i];
  if (!tq_dtype_is_int(t->dtype))
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "input '%s' must be int64 or int32, got %s", what,
                         tq_dtype_name(t->dtype));
  if (t->shape.ndim > 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "input '%s' must be 1-D, got rank %d",
                         what, t->shape.ndim);
  if (t->numel > max)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "input '%s' has %zu values, at most %zu supported",
                         what, t->numel, max);
  for (size_t k = 0; k < t->numel; k++)
    v[k] = tq_load_i64(t->dtype, t->data, k);
  *n = t->numel;
  return TQ_OK;
}

tq_status tq_shape_norm_axes(tq_op_call *c, const int64_t *axes, size_t n,
                             int r, int *out) {
  int seen[TQ_MAX_DIMS] = {0};
  for (size_t k = 0; k < n; k++) {
    int a;
    tq_status st = tq_call_axis(c, axes[k], r, &a);
    if (st != TQ_OK) return st;
    if (seen[a])
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "axis %lld appears twice", (long long)axes[k]);
    seen[a] = 1;
    out[k] = a;
  }
  return TQ_OK;
}

tq_status tq_shape_check_rank(tq_op_call *c, int r) {
  if (r > TQ_TENSOR_MAX_DIMS)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "the result would have rank %d (at most %d "
                         "supported)",
                         r, TQ_TENSOR_MAX_DIMS);
  return TQ_OK;
}

void tq_shape_strides(const tq_shape *s, int64_t *st) {
  int64_t v = 1;
  for (int d = s->ndim - 1; d >= 0; d--) {
    st[d] = v;
    v *= s->dims[d];
  }
}

void tq_shape_outer_inner(const tq_shape *s, int axis, size_t *outer,
                          size_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < axis; d++) *outer *= (size_t)s->dims[d];
  for (int d = axis + 1; d < s->ndim; d++) *inner *= (size_t)s->dims[d];
}

tq_status tq_shape_copy_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  tq_ew_copy(x->data, c->out[0]->data, x->numel, tq_dtype_size(x->dtype),
             tq_ew_threads(c));
  return TQ_OK;
}

/* ---- data movement
 * ---------------------------------------------------------*/

/* One row of tq_strided_move: n elements of T between a contiguous run and
 * positions `stride` elements apart. */
#define MOVE_ROW(T)                                                   \
  do {                                                                \
    T *s_ = (T *)(void *)strided, *d_ = (T *)(void *)contig;          \
    if (scatter)                                                      \
      for (size_t i = 0; i < n; i++) s_[(int64_t)i * stride] = d_[i]; \
    else                                                              \
      for (size_t i = 0; i < n; i++) d_[i] = s_[(int64_t)i * stride]; \
  } while (0)

/* One row of tq_strided_move: n elements of size es (1, 2, 4 or 8). */
static void move_strided_row(const unsigned char *strided, int64_t stride,
                             unsigned char *contig, size_t n, size_t es,
                             int scatter) {
  if (stride == 1) {
    if (scatter)
      memcpy((void *)strided, contig, n * es);
    else
      memcpy(contig, strided, n * es);
  } else if (es == 4) {
    MOVE_ROW(uint32_t);
  } else if (es == 8) {
    MOVE_ROW(uint64_t);
  } else if (es == 2) {
    MOVE_ROW(uint16_t);
  } else {
    MOVE_ROW(uint8_t);
  }
}

enum { SC_MAXD = 2 * TQ_MAX_DIMS };

void tq_strided_move(void *strided, int64_t base, const int64_t *strides,
                     const int64_t *dims_in, int nd, void *contig, size_t es,
                     int scatter, int threads) {
  int64_t dims[SC_MAXD], st[SC_MAXD];
  int m = 0;
  size_t total = 1;
  for (int d = 0; d < nd; d++) {
    total *= (size_t)dims_in[d];
    if (dims_in[d] == 1) continue;
    if (m > 0 && st[m - 1] == strides[d] * dims_in[d]) {
      dims[m - 1] *= dims_in[d];
      st[m - 1] = strides[d];
    } else {
      dims[m] = dims_in[d];
      st[m] = strides[d];
      m++;
    }
  }
  if (total == 0) return;
  if (m == 0) {
    dims[0] = 1;
    st[0] = 1;
    m = 1;
  }
  const size_t inner = (size_t)dims[m - 1], rows = total / inner;
  unsigned char *s = strided, *o = contig;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (total >= TQ_CHUNK_ELEMS && rows > 1)
  for (size_t r = 0; r < rows; r++) {
    size_t q = r;
    int64_t off = base;
    for (int d = m - 2; d >= 0; d--) {
      off += (int64_t)(q % (size_t)dims[d]) * st[d];
      q /= (size_t)dims[d];
    }
    move_strided_row(s + off * (int64_t)es, st[m - 1], o + r * inner * es,
                     inner, es, scatter);
  }
}

void tq_shape_strided_copy(const tq_op_call *c, const void *src, int64_t base,
                           const int64_t *istride, const int64_t *odims, int nd,
                           void *dst, size_t es) {
  tq_strided_move((void *)src, base, istride, odims, nd, dst, es, 0,
                  tq_ew_threads(c));
}
