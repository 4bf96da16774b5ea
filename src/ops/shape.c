/* Tensor and shape operators: Shape, Size, Gather, Concat, Split, Slice,
 * Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Pad, the Reduce family,
 * Constant, ConstantOfShape, Range, Expand, Tile, Resize/Upsample.
 *
 * Many of them take "shape-like" inputs (Reshape's shape, Slice's starts,
 * Pad's pads, ...) whose values decide the output shape. infer reads those
 * values, so they must be constants: initializers or results of nodes that
 * the executor evaluated at plan time (torch exports compute them with
 * Shape -> Gather -> Concat chains, which all run at plan time). Each
 * operator derives its parameters in one function shared by infer and
 * forward, so the two can never disagree.
 *
 * Data movement handles float32 and int64 alike (element size only), so
 * the same code serves run-time tensors and plan-time shape arithmetic. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"
#include "ops/op_families.h"

/* Shape-like inputs hold at most this many values (Pad: 2 per dim). */
enum { MAXV = 2 * TQ_MAX_DIMS };

static tq_shape shape_of_rank(int nd) {
  tq_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = nd;
  return s;
}

static void fmt_shape(const tq_shape *s, char *buf, size_t size) {
  tq_shape_format(s, buf, size);
}

/* Input i must be present. */
static tq_status need_input(tq_op_call *c, size_t i, const char *what) {
  if (i >= c->n_in || !c->in[i])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "input %zu ('%s') is required", i, what);
  return TQ_OK;
}

static int has_input(const tq_op_call *c, size_t i) {
  return i < c->n_in && c->in[i] != NULL;
}

/* Input i must be present and hold values: infer reads it, so it must be
 * a constant (an initializer or a value the executor computed at plan
 * time); values computed from run-time data have no data yet. */
static tq_status need_const(tq_op_call *c, size_t i, const char *what) {
  tq_status st = need_input(c, i, what);
  if (st != TQ_OK) return st;
  if (!c->in[i]->data)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "input %zu ('%s') must be a constant (an "
                         "initializer or computed from shapes), but it is "
                         "computed from run-time data",
                         i, what);
  return TQ_OK;
}

/* The values of shape-like input i (int64, rank 0 or 1, a constant). */
static tq_status input_ints(tq_op_call *c, size_t i, const char *what,
                            int64_t *v, size_t max, size_t *n) {
  tq_status st = need_const(c, i, what);
  if (st != TQ_OK) return st;
  const tq_tensor *t = c->in[i];
  if (t->dtype != TQ_DTYPE_INT64)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "input '%s' must be int64, got %s", what,
                         tq_ew_dtype_name(t->dtype));
  if (t->shape.ndim > 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "input '%s' must be 1-D, got rank %d",
                         what, t->shape.ndim);
  if (t->numel > max)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "input '%s' has %zu values, at most %zu supported",
                         what, t->numel, max);
  if (t->numel) memcpy(v, t->data, t->numel * sizeof *v);
  *n = t->numel;
  return TQ_OK;
}

/* Integer list attribute, copied (absent: *n = 0, *present = 0). */
static tq_status attr_ints(tq_op_call *c, const char *name, int64_t *v,
                           size_t max, size_t *n, int *present) {
  const tq_attr *a = tq_call_attr(c, name);
  *n = 0;
  if (present) *present = a != NULL;
  if (!a) return TQ_OK;
  if (a->type != TQ_ATTR_INTS && a->type != TQ_ATTR_INT)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "attribute '%s' must be a list of integers", name);
  size_t cnt = a->type == TQ_ATTR_INT ? 1 : a->count;
  if (cnt > max)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "attribute '%s' has %zu values, at most %zu "
                         "supported",
                         name, cnt, max);
  if (a->type == TQ_ATTR_INT)
    v[0] = a->i;
  else if (cnt)
    memcpy(v, a->ints, cnt * sizeof *v);
  *n = cnt;
  return TQ_OK;
}

/* Axes of a rank-r tensor, normalized; duplicates are an error. */
static tq_status norm_axes(tq_op_call *c, const int64_t *axes, size_t n, int r,
                           int *out) {
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

static tq_status check_rank(tq_op_call *c, int r) {
  if (r > TQ_TENSOR_MAX_DIMS)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "the result would have rank %d (at most %d "
                         "supported)",
                         r, TQ_TENSOR_MAX_DIMS);
  return TQ_OK;
}

static void strides_of(const tq_shape *s, int64_t *st) {
  int64_t v = 1;
  for (int d = s->ndim - 1; d >= 0; d--) {
    st[d] = v;
    v *= s->dims[d];
  }
}

/* ---- data movement
 * ---------------------------------------------------------*/

typedef struct cp_arg {
  const unsigned char *src;
  unsigned char *dst;
  size_t es;
} cp_arg;

static void cp_chunk(void *arg, size_t first, size_t n) {
  const cp_arg *g = arg;
  memcpy(g->dst + first * g->es, g->src + first * g->es, n * g->es);
}

/* Contiguous copy of n elements (Reshape, Flatten, Squeeze...). */
static void copy_elems(const tq_op_call *c, const void *src, void *dst,
                       size_t n, size_t es) {
  if (src == dst || !n) return;
  cp_arg g = {src, dst, es};
  tq_ew_for_chunks(n, tq_ew_threads(c), cp_chunk, &g);
}

/* Element size is 4 or 8: copies whole words (no byte loops). */
/* One row of tq_strided_move: n elements of size es (4 or 8) between a
 * contiguous run and positions `stride` elements apart. */
static void move_strided_row(const unsigned char *strided, int64_t stride,
                             unsigned char *contig, size_t n, size_t es,
                             int scatter) {
  if (stride == 1) {
    if (scatter)
      memcpy((void *)strided, contig, n * es);
    else
      memcpy(contig, strided, n * es);
  } else if (es == 4) {
    uint32_t *s = (uint32_t *)(void *)strided, *d = (uint32_t *)(void *)contig;
    if (scatter)
      for (size_t i = 0; i < n; i++) s[(int64_t)i * stride] = d[i];
    else
      for (size_t i = 0; i < n; i++) d[i] = s[(int64_t)i * stride];
  } else {
    uint64_t *s = (uint64_t *)(void *)strided, *d = (uint64_t *)(void *)contig;
    if (scatter)
      for (size_t i = 0; i < n; i++) s[(int64_t)i * stride] = d[i];
    else
      for (size_t i = 0; i < n; i++) d[i] = s[(int64_t)i * stride];
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

/* dst (contiguous, dims odims) [i...] = src[base + sum i_d * istride_d]:
 * Slice (strides times steps), Transpose (permuted strides), Tile (stride
 * 0 over the repeats). */
static void strided_copy(const tq_op_call *c, const void *src, int64_t base,
                         const int64_t *istride, const int64_t *odims, int nd,
                         void *dst, size_t es) {
  tq_strided_move((void *)src, base, istride, odims, nd, dst, es, 0,
                  tq_ew_threads(c));
}

/* ---- Shape, Size
 * -----------------------------------------------------------*/

static void shape_range(const tq_op_call *c, int r, int64_t *start,
                        int64_t *end) {
  int64_t s = tq_attr_int(c, "start", 0);
  int64_t e = tq_attr_int(c, "end", r);
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = s < 0 ? 0 : (s > r ? r : s);
  e = e < 0 ? 0 : (e > r ? r : e);
  *start = s;
  *end = e > s ? e : s;
}

static tq_status shape_infer(tq_op_call *c) {
  tq_status st = need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  int64_t s, e;
  shape_range(c, c->in[0]->shape.ndim, &s, &e);
  tq_shape o = shape_of_rank(1);
  o.dims[0] = e - s;
  return tq_call_set_output(c, 0, TQ_DTYPE_INT64, &o);
}

static tq_status shape_forward(tq_op_call *c) {
  int64_t s, e;
  shape_range(c, c->in[0]->shape.ndim, &s, &e);
  int64_t *o = tq_i64(c->out[0]);
  for (int64_t d = s; d < e; d++) o[d - s] = c->in[0]->shape.dims[d];
  return TQ_OK;
}

static tq_status size_infer(tq_op_call *c) {
  tq_status st = need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  tq_shape o = shape_of_rank(0);
  return tq_call_set_output(c, 0, TQ_DTYPE_INT64, &o);
}

static tq_status size_forward(tq_op_call *c) {
  tq_i64(c->out[0])[0] = (int64_t)c->in[0]->numel;
  return TQ_OK;
}

/* ---- Gather
 * ----------------------------------------------------------------*/

static tq_status gather_params(tq_op_call *c, int *axis, tq_shape *out) {
  tq_status st = need_input(c, 0, "data");
  if (st == TQ_OK) st = need_input(c, 1, "indices");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1];
  if (ind->dtype != TQ_DTYPE_INT64)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED, "indices must be int64, got %s",
                         tq_ew_dtype_name(ind->dtype));
  if (x->shape.ndim < 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "data must have rank >= 1");
  st = tq_call_axis(c, tq_attr_int(c, "axis", 0), x->shape.ndim, axis);
  if (st != TQ_OK) return st;
  int r = x->shape.ndim - 1 + ind->shape.ndim;
  st = check_rank(c, r);
  if (st != TQ_OK) return st;
  tq_shape o = shape_of_rank(r);
  int k = 0;
  for (int d = 0; d < *axis; d++) o.dims[k++] = x->shape.dims[d];
  for (int d = 0; d < ind->shape.ndim; d++) o.dims[k++] = ind->shape.dims[d];
  for (int d = *axis + 1; d < x->shape.ndim; d++)
    o.dims[k++] = x->shape.dims[d];
  *out = o;
  return TQ_OK;
}

static tq_status gather_infer(tq_op_call *c) {
  int axis;
  tq_shape o;
  tq_status st = gather_params(c, &axis, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status gather_forward(tq_op_call *c) {
  int axis;
  tq_shape o;
  tq_status st = gather_params(c, &axis, &o);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1];
  size_t outer = 1, inner = 1, ni = ind->numel;
  for (int d = 0; d < axis; d++) outer *= (size_t)x->shape.dims[d];
  for (int d = axis + 1; d < x->shape.ndim; d++)
    inner *= (size_t)x->shape.dims[d];
  int64_t dim = x->shape.dims[axis];
  const int64_t *iv = tq_ci64(ind);
  for (size_t j = 0; j < ni; j++)
    if (iv[j] < -dim || iv[j] >= dim)
      return tq_call_error(c, TQ_ERR_RANGE,
                           "index %lld is out of range for axis %d of size "
                           "%lld",
                           (long long)iv[j], axis, (long long)dim);
  size_t es = tq_dtype_size(x->dtype), row = inner * es;
  const unsigned char *s = x->data;
  unsigned char *dst = c->out[0]->data;
  size_t tasks = outer * ni;
  int threads = tq_ew_threads(c);
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (tasks * inner >= TQ_CHUNK_ELEMS && tasks > 1)
  for (size_t t = 0; t < tasks; t++) {
    size_t oi = t / (ni ? ni : 1), j = t % (ni ? ni : 1);
    int64_t v = iv[j] < 0 ? iv[j] + dim : iv[j];
    memcpy(dst + t * row, s + (oi * (size_t)dim + (size_t)v) * row, row);
  }
  return TQ_OK;
}

/* ---- Concat
 * ----------------------------------------------------------------*/

static tq_status concat_params(tq_op_call *c, int *axis, tq_shape *out) {
  if (c->n_in < 1)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects at least one input");
  for (size_t i = 0; i < c->n_in; i++)
    if (!c->in[i])
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "input %zu is missing",
                           i);
  const tq_tensor *x0 = c->in[0];
  const tq_attr *a = tq_call_attr(c, "axis");
  if (!a && c->opset >= 4)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "the attribute 'axis' is required");
  int64_t ax = a && a->type == TQ_ATTR_INT ? a->i : 1;
  int r = x0->shape.ndim;
  if (r == 0)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "inputs must have rank >= 1 (got a scalar)");
  tq_status st = tq_call_axis(c, ax, r, axis);
  if (st != TQ_OK) return st;
  tq_shape o = x0->shape;
  for (size_t i = 1; i < c->n_in; i++) {
    const tq_tensor *t = c->in[i];
    if (t->dtype != x0->dtype)
      return tq_call_error(
          c, TQ_ERR_UNSUPPORTED, "input %zu is %s, input 0 is %s", i,
          tq_ew_dtype_name(t->dtype), tq_ew_dtype_name(x0->dtype));
    int ok = t->shape.ndim == r;
    for (int d = 0; d < r && ok; d++)
      if (d != *axis && t->shape.dims[d] != o.dims[d]) ok = 0;
    if (!ok) {
      char s0[96], si[96];
      fmt_shape(&x0->shape, s0, sizeof s0);
      fmt_shape(&t->shape, si, sizeof si);
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "input %zu of shape %s does not fit input 0 of "
                           "shape %s (all dims but axis %d must match)",
                           i, si, s0, *axis);
    }
    o.dims[*axis] += t->shape.dims[*axis];
  }
  *out = o;
  return TQ_OK;
}

static tq_status concat_infer(tq_op_call *c) {
  int axis;
  tq_shape o;
  tq_status st = concat_params(c, &axis, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status concat_forward(tq_op_call *c) {
  int axis;
  tq_shape o;
  tq_status st = concat_params(c, &axis, &o);
  if (st != TQ_OK) return st;
  size_t outer = 1, inner = 1, es = tq_dtype_size(c->in[0]->dtype);
  for (int d = 0; d < axis; d++) outer *= (size_t)o.dims[d];
  for (int d = axis + 1; d < o.ndim; d++) inner *= (size_t)o.dims[d];
  size_t orow = (size_t)o.dims[axis] * inner * es;
  unsigned char *dst = c->out[0]->data;
  size_t at = 0; /* byte offset of input i within an output row */
  int threads = tq_ew_threads(c);
  for (size_t i = 0; i < c->n_in; i++) {
    const tq_tensor *t = c->in[i];
    size_t irow = (size_t)t->shape.dims[axis] * inner * es;
    const unsigned char *s = t->data;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (outer > 1 && t->numel >= TQ_CHUNK_ELEMS)
    for (size_t q = 0; q < outer; q++)
      memcpy(dst + q * orow + at, s + q * irow, irow);
    at += irow;
  }
  return TQ_OK;
}

/* ---- Split
 * -----------------------------------------------------------------*/

static tq_status split_params(tq_op_call *c, int *axis, int64_t *sizes) {
  tq_status st = need_input(c, 0, "input");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  if (x->shape.ndim < 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "input must have rank >= 1");
  st = tq_call_axis(c, tq_attr_int(c, "axis", 0), x->shape.ndim, axis);
  if (st != TQ_OK) return st;
  int64_t dim = x->shape.dims[*axis];
  size_t nout = c->n_out, n = 0;
  if (nout < 1 || nout > 1024)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects 1 to 1024 outputs, got %zu", nout);
  int64_t *v = malloc(nout * sizeof *v);
  if (!v) return tq_error_nomem(c->ctx);
  int have = 0;
  if (has_input(c, 1)) { /* opset >= 13 */
    const tq_tensor *t = c->in[1];
    st = need_const(c, 1, "split");
    if (st != TQ_OK) {
      free(v);
      return st;
    }
    if (t->dtype != TQ_DTYPE_INT64 || t->shape.ndim > 1 || t->numel != nout) {
      free(v);
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "input 'split' must be 1-D int64 with one size "
                           "per output (%zu)",
                           nout);
    }
    memcpy(v, t->data, nout * sizeof *v);
    n = nout;
    have = 1;
  } else {
    const tq_attr *a = tq_call_attr(c, "split"); /* opset < 13 */
    if (a && a->type == TQ_ATTR_INTS && a->count > 0) {
      if (a->count != nout) {
        free(v);
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "attribute 'split' has %zu sizes for %zu "
                             "outputs",
                             a->count, nout);
      }
      memcpy(v, a->ints, nout * sizeof *v);
      n = nout;
      have = 1;
    }
  }
  if (!have) {
    const tq_attr *no = tq_call_attr(c, "num_outputs"); /* opset 18 */
    if (no && no->type == TQ_ATTR_INT) {
      if (no->i != (int64_t)nout) {
        free(v);
        return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                             "num_outputs is %lld but the node has %zu "
                             "outputs",
                             (long long)no->i, nout);
      }
      /* Chunks of ceil(dim / n); the last one smaller. */
      int64_t chunk = (dim + (int64_t)nout - 1) / (int64_t)nout;
      int64_t left = dim;
      for (size_t i = 0; i < nout; i++) {
        v[i] = left < chunk ? left : chunk;
        left -= v[i];
      }
    } else {
      if (dim % (int64_t)nout) {
        free(v);
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "dimension %d of size %lld does not split "
                             "evenly into %zu outputs",
                             *axis, (long long)dim, nout);
      }
      for (size_t i = 0; i < nout; i++) v[i] = dim / (int64_t)nout;
    }
    n = nout;
  }
  int64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < 0) {
      long long bad = (long long)v[i];
      free(v);
      return tq_call_error(c, TQ_ERR_RANGE, "split size %lld is negative", bad);
    }
    total += v[i];
  }
  if (total != dim) {
    free(v);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "split sizes add up to %lld, but dimension %d has "
                         "size %lld",
                         (long long)total, *axis, (long long)dim);
  }
  if (sizes) memcpy(sizes, v, nout * sizeof *v);
  free(v);
  return TQ_OK;
}

static tq_status split_infer(tq_op_call *c) {
  int axis;
  int64_t *sizes = malloc((c->n_out ? c->n_out : 1) * sizeof *sizes);
  if (!sizes) return tq_error_nomem(c->ctx);
  tq_status st = split_params(c, &axis, sizes);
  for (size_t i = 0; st == TQ_OK && i < c->n_out; i++) {
    if (!c->out[i]) continue;
    tq_shape o = c->in[0]->shape;
    o.dims[axis] = sizes[i];
    st = tq_call_set_output(c, i, c->in[0]->dtype, &o);
  }
  free(sizes);
  return st;
}

static tq_status split_forward(tq_op_call *c) {
  int axis;
  int64_t *sizes = malloc((c->n_out ? c->n_out : 1) * sizeof *sizes);
  if (!sizes) return tq_error_nomem(c->ctx);
  tq_status st = split_params(c, &axis, sizes);
  if (st != TQ_OK) {
    free(sizes);
    return st;
  }
  const tq_tensor *x = c->in[0];
  size_t outer = 1, inner = 1, es = tq_dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) outer *= (size_t)x->shape.dims[d];
  for (int d = axis + 1; d < x->shape.ndim; d++)
    inner *= (size_t)x->shape.dims[d];
  size_t irow = (size_t)x->shape.dims[axis] * inner * es, at = 0;
  const unsigned char *s = x->data;
  for (size_t i = 0; i < c->n_out; i++) {
    size_t orow = (size_t)sizes[i] * inner * es;
    if (c->out[i]) {
      unsigned char *dst = c->out[i]->data;
      for (size_t q = 0; q < outer; q++)
        memcpy(dst + q * orow, s + q * irow + at, orow);
    }
    at += orow;
  }
  free(sizes);
  return TQ_OK;
}

/* ---- Slice
 * -----------------------------------------------------------------*/

typedef struct slice_p {
  int64_t start[TQ_MAX_DIMS], step[TQ_MAX_DIMS];
  tq_shape out;
} slice_p;

/* Clamping per the ONNX spec: negative starts/ends count from the end;
 * then positive steps clamp to [0, dim], negative steps start to
 * [0, dim-1] and end to [-1, dim-1] (so INT64_MAX/INT64_MIN mean "to the
 * end" in either direction). */
static tq_status slice_params(tq_op_call *c, slice_p *p) {
  tq_status st = need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int r = x->shape.ndim;
  int64_t starts[MAXV], ends[MAXV], axes[MAXV], steps[MAXV];
  size_t ns, ne, na = 0, nst = 0;
  int has_axes = 0;
  if (c->opset < 10) {
    int present;
    st = attr_ints(c, "starts", starts, MAXV, &ns, &present);
    if (st == TQ_OK && !present)
      st = tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "the attribute 'starts' is required (opset %lld)",
                         (long long)c->opset);
    if (st == TQ_OK) st = attr_ints(c, "ends", ends, MAXV, &ne, &present);
    if (st == TQ_OK && !present)
      st = tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "the attribute 'ends' is required (opset %lld)",
                         (long long)c->opset);
    if (st == TQ_OK) st = attr_ints(c, "axes", axes, MAXV, &na, &has_axes);
  } else {
    st = input_ints(c, 1, "starts", starts, MAXV, &ns);
    if (st == TQ_OK) st = input_ints(c, 2, "ends", ends, MAXV, &ne);
    if (st == TQ_OK && has_input(c, 3)) {
      st = input_ints(c, 3, "axes", axes, MAXV, &na);
      has_axes = 1;
    }
    if (st == TQ_OK && has_input(c, 4))
      st = input_ints(c, 4, "steps", steps, MAXV, &nst);
  }
  if (st != TQ_OK) return st;
  if (ne != ns || (has_axes && na != ns) || (nst && nst != ns))
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "starts, ends, axes and steps must have the same "
                         "length (%zu, %zu, %zu, %zu)",
                         ns, ne, has_axes ? na : ns, nst ? nst : ns);
  if ((int)ns > r)
    return tq_call_error(c, TQ_ERR_SHAPE, "%zu starts for a tensor of rank %d",
                         ns, r);
  if (!has_axes)
    for (size_t k = 0; k < ns; k++) axes[k] = (int64_t)k;
  int ax[MAXV];
  st = norm_axes(c, axes, ns, r, ax);
  if (st != TQ_OK) return st;
  p->out = x->shape;
  for (int d = 0; d < r; d++) p->start[d] = 0, p->step[d] = 1;
  for (size_t k = 0; k < ns; k++) {
    int d = ax[k];
    int64_t dim = x->shape.dims[d];
    int64_t s = starts[k], e = ends[k], sp = nst ? steps[k] : 1, len;
    if (sp == 0)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "step for axis %d is 0",
                           d);
    if (sp == INT64_MIN) sp = -INT64_MAX; /* |step| >= dim: same result */
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (sp > 0) {
      s = s < 0 ? 0 : (s > dim ? dim : s);
      e = e < 0 ? 0 : (e > dim ? dim : e);
      len = e > s ? (e - s - 1) / sp + 1 : 0;
    } else {
      s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
      e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
      len = s > e ? (s - e - 1) / -sp + 1 : 0;
      if (dim == 0) s = 0, len = 0;
    }
    p->start[d] = s;
    p->step[d] = sp;
    p->out.dims[d] = len;
  }
  return TQ_OK;
}

static tq_status slice_infer(tq_op_call *c) {
  slice_p p;
  tq_status st = slice_params(c, &p);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &p.out);
}

static tq_status slice_forward(tq_op_call *c) {
  slice_p p;
  tq_status st = slice_params(c, &p);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int64_t xs[TQ_MAX_DIMS], is[TQ_MAX_DIMS], base = 0;
  strides_of(&x->shape, xs);
  for (int d = 0; d < x->shape.ndim; d++) {
    base += p.start[d] * xs[d];
    is[d] = p.step[d] * xs[d];
  }
  strided_copy(c, x->data, base, is, p.out.dims, p.out.ndim, c->out[0]->data,
               tq_dtype_size(x->dtype));
  return TQ_OK;
}

/* ---- Flatten, Reshape, Squeeze, Unsqueeze (copies with a new shape) -------*/

static tq_status flatten_infer(tq_op_call *c) {
  tq_status st = need_input(c, 0, "input");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  int r = s->ndim;
  int64_t axis = tq_attr_int(c, "axis", 1);
  if (axis < -r || axis > r)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "axis %lld is out of range [%d, %d] for rank %d",
                         (long long)axis, -r, r, r);
  if (axis < 0) axis += r;
  tq_shape o = shape_of_rank(2);
  o.dims[0] = o.dims[1] = 1;
  for (int d = 0; d < r; d++) o.dims[d < axis ? 0 : 1] *= s->dims[d];
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

/* Forward of every operator whose output is its input with a new shape. */
static tq_status copy_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  copy_elems(c, x->data, c->out[0]->data, x->numel, tq_dtype_size(x->dtype));
  return TQ_OK;
}

static tq_status reshape_infer(tq_op_call *c) {
  tq_status st = need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int64_t v[MAXV];
  size_t n;
  if (has_input(c, 1)) {
    st = input_ints(c, 1, "shape", v, MAXV, &n);
  } else {
    int present; /* opset < 5: the attribute */
    st = attr_ints(c, "shape", v, MAXV, &n, &present);
    if (st == TQ_OK && !present)
      st = tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "input 1 ('shape') is required");
  }
  if (st != TQ_OK) return st;
  st = check_rank(c, (int)n);
  if (st != TQ_OK) return st;
  int allowzero = (int)tq_attr_int(c, "allowzero", 0);
  tq_shape o = shape_of_rank((int)n);
  int infer_at = -1, has_zero = 0;
  int64_t known = 1;
  for (size_t d = 0; d < n; d++) {
    int64_t dv = v[d];
    if (dv == -1) {
      if (infer_at >= 0)
        return tq_call_error(c, TQ_ERR_SHAPE, "shape has more than one -1");
      infer_at = (int)d;
      continue;
    }
    if (dv < -1)
      return tq_call_error(c, TQ_ERR_SHAPE, "shape value %lld is invalid",
                           (long long)dv);
    if (dv == 0 && !allowzero) {
      if ((int)d >= x->shape.ndim)
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "shape[%zu] is 0 (copy the input's dim) but "
                             "the input has rank %d",
                             d, x->shape.ndim);
      dv = x->shape.dims[d];
    }
    if (dv == 0) has_zero = 1;
    o.dims[d] = dv;
    known *= dv;
  }
  if (infer_at >= 0) {
    if (allowzero && has_zero)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "shape has both -1 and 0 with allowzero=1");
    if (known == 0 || (int64_t)x->numel % known) {
      char s[96];
      fmt_shape(&x->shape, s, sizeof s);
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "cannot infer the -1 in the shape: %zu elements "
                           "(input %s) are not a multiple of %lld",
                           x->numel, s, (long long)known);
    }
    o.dims[infer_at] = (int64_t)x->numel / known;
    known *= o.dims[infer_at];
  }
  if (known != (int64_t)x->numel) {
    char s1[96], s2[96];
    fmt_shape(&x->shape, s1, sizeof s1);
    fmt_shape(&o, s2, sizeof s2);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "cannot reshape %s (%zu elements) to %s", s1, x->numel,
                         s2);
  }
  return tq_call_set_output(c, 0, x->dtype, &o);
}

/* Squeeze/Unsqueeze axes: input 1 (opset >= 13) or the attribute. */
static tq_status axes_arg(tq_op_call *c, int64_t *v, size_t *n, int *given) {
  if (has_input(c, 1)) {
    *given = 1;
    return input_ints(c, 1, "axes", v, MAXV, n);
  }
  return attr_ints(c, "axes", v, MAXV, n, given);
}

static tq_status squeeze_infer(tq_op_call *c) {
  tq_status st = need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  int64_t v[MAXV];
  size_t n;
  int given;
  st = axes_arg(c, v, &n, &given);
  if (st != TQ_OK) return st;
  int drop[TQ_MAX_DIMS] = {0}, ax[MAXV];
  if (given && n > 0) {
    st = norm_axes(c, v, n, s->ndim, ax);
    if (st != TQ_OK) return st;
    for (size_t k = 0; k < n; k++) {
      if (s->dims[ax[k]] != 1) {
        char b[96];
        fmt_shape(s, b, sizeof b);
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "cannot squeeze axis %d of shape %s: its size "
                             "is %lld, not 1",
                             ax[k], b, (long long)s->dims[ax[k]]);
      }
      drop[ax[k]] = 1;
    }
  } else {
    for (int d = 0; d < s->ndim; d++) drop[d] = s->dims[d] == 1;
  }
  tq_shape o = shape_of_rank(0);
  for (int d = 0; d < s->ndim; d++)
    if (!drop[d]) o.dims[o.ndim++] = s->dims[d];
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status unsqueeze_infer(tq_op_call *c) {
  tq_status st = need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  int64_t v[MAXV];
  size_t n;
  int given;
  st = axes_arg(c, v, &n, &given);
  if (st != TQ_OK) return st;
  if (!given || n == 0)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "'axes' is required (%s)",
                         c->opset >= 13 ? "input 1" : "attribute");
  int r = s->ndim + (int)n;
  st = check_rank(c, r);
  if (st != TQ_OK) return st;
  int ax[MAXV], ins[TQ_MAX_DIMS] = {0};
  st = norm_axes(c, v, n, r, ax);
  if (st != TQ_OK) return st;
  for (size_t k = 0; k < n; k++) ins[ax[k]] = 1;
  tq_shape o = shape_of_rank(r);
  int j = 0;
  for (int d = 0; d < r; d++) o.dims[d] = ins[d] ? 1 : s->dims[j++];
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

/* ---- Transpose
 * -------------------------------------------------------------*/

static tq_status transpose_params(tq_op_call *c, int *perm, tq_shape *out) {
  tq_status st = need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  int r = s->ndim;
  int64_t v[MAXV];
  size_t n;
  int present;
  st = attr_ints(c, "perm", v, MAXV, &n, &present);
  if (st != TQ_OK) return st;
  if (!present) {
    for (int d = 0; d < r; d++) perm[d] = r - 1 - d; /* reverse */
  } else {
    int seen[TQ_MAX_DIMS] = {0};
    if ((int)n != r)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "perm has %zu entries for a tensor of rank %d", n,
                           r);
    for (int d = 0; d < r; d++) {
      if (v[d] < 0 || v[d] >= r || seen[v[d]])
        return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                             "perm is not a permutation of 0..%d", r - 1);
      seen[v[d]] = 1;
      perm[d] = (int)v[d];
    }
  }
  tq_shape o = shape_of_rank(r);
  for (int d = 0; d < r; d++) o.dims[d] = s->dims[perm[d]];
  *out = o;
  return TQ_OK;
}

static tq_status transpose_infer(tq_op_call *c) {
  int perm[TQ_MAX_DIMS];
  tq_shape o;
  tq_status st = transpose_params(c, perm, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status transpose_forward(tq_op_call *c) {
  int perm[TQ_MAX_DIMS];
  tq_shape o;
  tq_status st = transpose_params(c, perm, &o);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int64_t xs[TQ_MAX_DIMS], is[TQ_MAX_DIMS];
  strides_of(&x->shape, xs);
  for (int d = 0; d < o.ndim; d++) is[d] = xs[perm[d]];
  strided_copy(c, x->data, 0, is, o.dims, o.ndim, c->out[0]->data,
               tq_dtype_size(x->dtype));
  return TQ_OK;
}

/* ---- Pad
 * -------------------------------------------------------------------*/

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

typedef struct pad_p {
  int mode;
  int64_t begin[TQ_MAX_DIMS], end[TQ_MAX_DIMS];
  tq_shape out;
} pad_p;

static tq_status pad_params(tq_op_call *c, pad_p *p) {
  tq_status st = need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int r = x->shape.ndim;
  const char *mode = tq_attr_string(c, "mode", "constant");
  if (strcmp(mode, "constant") == 0)
    p->mode = PAD_CONSTANT;
  else if (strcmp(mode, "reflect") == 0)
    p->mode = PAD_REFLECT;
  else if (strcmp(mode, "edge") == 0)
    p->mode = PAD_EDGE;
  else if (strcmp(mode, "wrap") == 0)
    p->mode = PAD_WRAP;
  else
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "mode '%s' is not supported (constant, reflect, "
                         "edge, wrap)",
                         mode);
  int64_t pads[MAXV], axes[MAXV];
  size_t np = 0, na = 0;
  if (has_input(c, 1)) { /* opset >= 11 */
    st = input_ints(c, 1, "pads", pads, MAXV, &np);
  } else {
    int present;
    st = attr_ints(c, "pads", pads, MAXV, &np, &present);
    if (st == TQ_OK && !present) /* opset 1 */
      st = attr_ints(c, "paddings", pads, MAXV, &np, &present);
    if (st == TQ_OK && !present)
      st = tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "'pads' is required (input 1 from opset 11, an "
                         "attribute before)");
  }
  if (st != TQ_OK) return st;
  int ax[MAXV];
  if (has_input(c, 3)) { /* opset 18: pads cover these axes only */
    st = input_ints(c, 3, "axes", axes, MAXV, &na);
    if (st == TQ_OK) st = norm_axes(c, axes, na, r, ax);
    if (st != TQ_OK) return st;
  } else {
    na = (size_t)r;
    for (int d = 0; d < r; d++) ax[d] = d;
  }
  if (np != 2 * na)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "pads has %zu values, expected %zu (begin and end "
                         "for each of %zu axes)",
                         np, 2 * na, na);
  if (has_input(c, 2)) {
    const tq_tensor *cv = c->in[2];
    if (cv->dtype != x->dtype || cv->numel != 1)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "constant_value must be a scalar of the data's "
                           "type (%s)",
                           tq_ew_dtype_name(x->dtype));
  }
  p->out = x->shape;
  for (int d = 0; d < r; d++) p->begin[d] = p->end[d] = 0;
  for (size_t k = 0; k < na; k++) {
    int d = ax[k];
    p->begin[d] = pads[k];
    p->end[d] = pads[k + na];
    int64_t in = x->shape.dims[d];
    int64_t o = in + pads[k] + pads[k + na];
    if (o < 0)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "pads %lld and %lld leave axis %d of size %lld "
                           "with a negative size",
                           (long long)pads[k], (long long)pads[k + na], d,
                           (long long)in);
    if (p->mode != PAD_CONSTANT && in == 0 && o > 0)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "mode '%s' cannot pad axis %d of size 0", mode, d);
    p->out.dims[d] = o;
  }
  return TQ_OK;
}

static tq_status pad_infer(tq_op_call *c) {
  pad_p p;
  tq_status st = pad_params(c, &p);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &p.out);
}

/* Input index for output coordinate o of an axis of size n, or -1 for the
 * constant. */
static int64_t pad_map(int mode, int64_t o, int64_t begin, int64_t n) {
  int64_t x = o - begin;
  if (x >= 0 && x < n) return x;
  switch (mode) {
    case PAD_EDGE: return x < 0 ? 0 : n - 1;
    case PAD_WRAP: return ((x % n) + n) % n;
    case PAD_REFLECT: {
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1); /* reflection without the edge twice */
      x = ((x % period) + period) % period;
      return x < n ? x : period - x;
    }
    default: return -1;
  }
}

static tq_status pad_forward(tq_op_call *c) {
  pad_p p;
  tq_status st = pad_params(c, &p);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  int r = x->shape.ndim;
  if (y->numel == 0) return TQ_OK;
  if (r == 0) {
    copy_elems(c, x->data, y->data, 1, tq_dtype_size(x->dtype));
    return TQ_OK;
  }
  /* Constant value: input 2 (opset >= 11) or the attribute 'value'. */
  float cf = tq_attr_float(c, "value", 0.0f);
  int64_t ci = (int64_t)cf;
  if (has_input(c, 2)) {
    if (x->dtype == TQ_DTYPE_FLOAT32)
      cf = tq_cf32(c->in[2])[0];
    else
      ci = tq_ci64(c->in[2])[0];
  }
  size_t total = 0;
  for (int d = 0; d < r; d++) total += (size_t)p.out.dims[d];
  int64_t *maps = malloc(total * sizeof *maps);
  if (!maps) return tq_error_nomem(c->ctx);
  int64_t *map[TQ_MAX_DIMS], xs[TQ_MAX_DIMS];
  strides_of(&x->shape, xs);
  size_t at = 0;
  for (int d = 0; d < r; d++) {
    map[d] = maps + at;
    for (int64_t o = 0; o < p.out.dims[d]; o++)
      map[d][o] = pad_map(p.mode, o, p.begin[d], x->shape.dims[d]);
    at += (size_t)p.out.dims[d];
  }
  size_t inner = (size_t)p.out.dims[r - 1], rows = y->numel / inner;
  const int64_t *ml = map[r - 1];
  int threads = tq_ew_threads(c);
  int is_f32 = x->dtype == TQ_DTYPE_FLOAT32;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (y->numel >= TQ_CHUNK_ELEMS && rows > 1)
  for (size_t row = 0; row < rows; row++) {
    size_t q = row;
    int64_t off = 0;
    int fill = 0; /* the whole row lies in the padding */
    for (int d = r - 2; d >= 0; d--) {
      int64_t m = map[d][q % (size_t)p.out.dims[d]];
      q /= (size_t)p.out.dims[d];
      if (m < 0) fill = 1;
      off += m * xs[d];
    }
    if (is_f32) {
      const float *src = tq_cf32(x) + (fill ? 0 : off);
      float *dst = tq_f32(y) + row * inner;
      for (size_t j = 0; j < inner; j++)
        dst[j] = (fill || ml[j] < 0) ? cf : src[ml[j]];
    } else {
      const int64_t *src = tq_ci64(x) + (fill ? 0 : off);
      int64_t *dst = tq_i64(y) + row * inner;
      for (size_t j = 0; j < inner; j++)
        dst[j] = (fill || ml[j] < 0) ? ci : src[ml[j]];
    }
  }
  free(maps);
  return TQ_OK;
}

/* ---- Reduce
 * ----------------------------------------------------------------*/

enum {
  RD_SUM,
  RD_MEAN,
  RD_MAX,
  RD_MIN,
  RD_PROD,
  RD_L1,
  RD_L2,
  RD_SUMSQ,
  RD_LOGSUMEXP,
};

static const struct {
  const char *name;
  int op;
  int i64; /* meaningful on int64 shape values */
} rd_ops[] = {
    {"ReduceSum", RD_SUM, 1},
    {"ReduceMean", RD_MEAN, 0},
    {"ReduceMax", RD_MAX, 1},
    {"ReduceMin", RD_MIN, 1},
    {"ReduceProd", RD_PROD, 1},
    {"ReduceL1", RD_L1, 0},
    {"ReduceL2", RD_L2, 0},
    {"ReduceSumSquare", RD_SUMSQ, 0},
    {"ReduceLogSumExp", RD_LOGSUMEXP, 0},
};

typedef struct red_p {
  int op;
  int noop;
  int red[TQ_MAX_DIMS];
  tq_shape out;
} red_p;

static tq_status red_params(tq_op_call *c, red_p *p) {
  int k = -1;
  for (size_t i = 0; i < sizeof rd_ops / sizeof rd_ops[0]; i++)
    if (strcmp(rd_ops[i].name, c->op_type) == 0) k = (int)i;
  if (k < 0) return tq_call_error(c, TQ_ERR_INTERNAL, "not a reduce operator");
  tq_status st = need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  p->op = rd_ops[k].op;
  if (x->dtype == TQ_DTYPE_INT64 && !rd_ops[k].i64)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "int64 input is not supported (float32 only)");
  int r = x->shape.ndim;
  int64_t v[MAXV];
  size_t n;
  /* Axes: an input from opset 13 (ReduceSum) or 18 (the others), an
   * attribute before; whichever the node carries. */
  if (has_input(c, 1))
    st = input_ints(c, 1, "axes", v, MAXV, &n);
  else
    st = attr_ints(c, "axes", v, MAXV, &n, NULL);
  if (st != TQ_OK) return st;
  int keep = (int)tq_attr_int(c, "keepdims", 1);
  p->noop = 0;
  for (int d = 0; d < r; d++) p->red[d] = n == 0;
  if (n == 0 && tq_attr_int(c, "noop_with_empty_axes", 0)) {
    p->noop = 1;
    for (int d = 0; d < r; d++) p->red[d] = 0;
  }
  int ax[MAXV];
  st = norm_axes(c, v, n, r, ax);
  if (st != TQ_OK) return st;
  for (size_t i = 0; i < n; i++) p->red[ax[i]] = 1;
  tq_shape o = shape_of_rank(0);
  for (int d = 0; d < r; d++) {
    if (!p->red[d])
      o.dims[o.ndim++] = x->shape.dims[d];
    else if (keep)
      o.dims[o.ndim++] = 1;
  }
  p->out = o;
  return TQ_OK;
}

static tq_status reduce_infer(tq_op_call *c) {
  red_p p;
  tq_status st = red_params(c, &p);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &p.out);
}

/* Runs of the reduced elements of one output: nested loops over rd/rs
 * (reduced dims, outermost first), the innermost as a strided run. */
typedef struct red_run {
  int nr;
  int64_t rd[TQ_MAX_DIMS], rs[TQ_MAX_DIMS];
} red_run;

typedef struct red_acc {
  double acc;
  float m;
  float shift; /* LogSumExp: the maximum */
} red_acc;

static void red_f32(int op, const float *x, size_t n, int64_t s, red_acc *a) {
  switch (op) {
    case RD_SUM:
    case RD_MEAN:
      for (size_t i = 0; i < n; i++) a->acc += x[(int64_t)i * s];
      break;
    case RD_PROD:
      for (size_t i = 0; i < n; i++) a->acc *= x[(int64_t)i * s];
      break;
    case RD_L1:
      for (size_t i = 0; i < n; i++) a->acc += fabsf(x[(int64_t)i * s]);
      break;
    case RD_L2:
    case RD_SUMSQ:
      for (size_t i = 0; i < n; i++) {
        double v = x[(int64_t)i * s];
        a->acc += v * v;
      }
      break;
    case RD_MAX:
      for (size_t i = 0; i < n; i++) {
        float v = x[(int64_t)i * s];
        if (v > a->m || v != v) a->m = v;
        if (a->m != a->m) break; /* NaN is final */
      }
      break;
    case RD_MIN:
      for (size_t i = 0; i < n; i++) {
        float v = x[(int64_t)i * s];
        if (v < a->m || v != v) a->m = v;
        if (a->m != a->m) break;
      }
      break;
    case RD_LOGSUMEXP:
      for (size_t i = 0; i < n; i++)
        a->acc += exp((double)x[(int64_t)i * s] - a->shift);
      break;
    default: break;
  }
}

static void red_visit_f32(int op, const red_run *rr, const float *x,
                          red_acc *a) {
  int64_t idx[TQ_MAX_DIMS] = {0};
  int nr = rr->nr;
  size_t inner = (size_t)rr->rd[nr - 1];
  int64_t off = 0;
  for (;;) {
    red_f32(op, x + off, inner, rr->rs[nr - 1], a);
    int d = nr - 2;
    for (; d >= 0; d--) {
      off += rr->rs[d];
      if (++idx[d] < rr->rd[d]) break;
      off -= rr->rs[d] * rr->rd[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

static float red_one_f32(int op, const red_run *rr, const float *x,
                         size_t count) {
  red_acc a = {op == RD_PROD ? 1.0 : 0.0, op == RD_MAX ? -INFINITY : INFINITY,
               0.0f};
  if (op == RD_LOGSUMEXP) {
    if (count == 0) return -INFINITY;
    red_acc m = {0.0, -INFINITY, 0.0f};
    red_visit_f32(RD_MAX, rr, x, &m);
    if (m.m == INFINITY || m.m != m.m) return m.m;
    if (m.m == -INFINITY) return -INFINITY;
    a.shift = m.m;
  }
  if (count) red_visit_f32(op, rr, x, &a);
  switch (op) {
    case RD_MAX:
    case RD_MIN: return a.m;
    case RD_MEAN: return (float)(a.acc / (double)count);
    case RD_L2: return (float)sqrt(a.acc);
    case RD_LOGSUMEXP: return (float)(a.shift + log(a.acc));
    default: return (float)a.acc;
  }
}

static int64_t red_one_i64(int op, const red_run *rr, const int64_t *x) {
  int64_t idx[TQ_MAX_DIMS] = {0};
  int nr = rr->nr;
  uint64_t acc = op == RD_PROD ? 1u : 0u;
  int64_t m = op == RD_MAX ? INT64_MIN : INT64_MAX;
  int64_t off = 0;
  for (;;) {
    for (int64_t i = 0; i < rr->rd[nr - 1]; i++) {
      int64_t v = x[off + i * rr->rs[nr - 1]];
      if (op == RD_SUM) acc += (uint64_t)v;
      if (op == RD_PROD) acc *= (uint64_t)v;
      if (op == RD_MAX && v > m) m = v;
      if (op == RD_MIN && v < m) m = v;
    }
    int d = nr - 2;
    for (; d >= 0; d--) {
      off += rr->rs[d];
      if (++idx[d] < rr->rd[d]) break;
      off -= rr->rs[d] * rr->rd[d];
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  if (op == RD_MAX || op == RD_MIN) return m;
  int64_t r;
  memcpy(&r, &acc, sizeof r); /* wraps like the arithmetic operators */
  return r;
}

static tq_status reduce_forward(tq_op_call *c) {
  red_p p;
  tq_status st = red_params(c, &p);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  if (p.noop) return copy_forward(c);
  int r = x->shape.ndim;
  int64_t xs[TQ_MAX_DIMS];
  strides_of(&x->shape, xs);
  /* Kept dims (the output's order) and reduced dims, each merged where
   * consecutive. */
  int nk = 0;
  int64_t kd[TQ_MAX_DIMS], ks[TQ_MAX_DIMS];
  red_run rr = {0, {0}, {0}};
  size_t count = 1;
  for (int d = 0; d < r; d++) {
    if (p.red[d]) {
      count *= (size_t)x->shape.dims[d];
      if (d > 0 && p.red[d - 1] && rr.nr > 0) {
        rr.rd[rr.nr - 1] *= x->shape.dims[d];
        rr.rs[rr.nr - 1] = xs[d];
      } else {
        rr.rd[rr.nr] = x->shape.dims[d];
        rr.rs[rr.nr++] = xs[d];
      }
    } else {
      kd[nk] = x->shape.dims[d];
      ks[nk++] = xs[d];
    }
  }
  if (rr.nr == 0) { /* reducing nothing (a scalar input) */
    rr.rd[0] = 1;
    rr.rs[0] = 1;
    rr.nr = 1;
  }
  size_t nout = y->numel;
  int threads = x->dtype == TQ_DTYPE_INT64 ? 1 : tq_ew_threads(c);
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (x->numel >= TQ_CHUNK_ELEMS && nout > 1)
  for (size_t j = 0; j < nout; j++) {
    size_t q = j;
    int64_t off = 0;
    for (int d = nk - 1; d >= 0; d--) {
      off += (int64_t)(q % (size_t)kd[d]) * ks[d];
      q /= (size_t)kd[d];
    }
    if (x->dtype == TQ_DTYPE_FLOAT32)
      tq_f32(y)[j] = red_one_f32(p.op, &rr, tq_cf32(x) + off, count);
    else
      tq_i64(y)[j] = count ? red_one_i64(p.op, &rr, tq_ci64(x) + off)
                           : (p.op == RD_PROD ? 1 : 0);
  }
  return TQ_OK;
}

/* ---- Constant, ConstantOfShape, Range
 * --------------------------------------*/

static tq_status constant_source(tq_op_call *c, const tq_attr **src) {
  static const char *const ok[] = {"value", "value_float", "value_floats",
                                   "value_int", "value_ints"};
  static const char *const bad[] = {"sparse_value", "value_string",
                                    "value_strings"};
  *src = NULL;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (tq_call_attr(c, bad[i]))
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "attribute '%s' is not supported", bad[i]);
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    const tq_attr *a = tq_call_attr(c, ok[i]);
    if (!a) continue;
    if (*src)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "has both '%s' and '%s' (exactly one value "
                           "attribute is allowed)",
                           (*src)->name, a->name);
    *src = a;
  }
  if (!*src)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "needs a value attribute (value, value_float, "
                         "value_floats, value_int or value_ints)");
  const tq_attr *a = *src;
  int good =
      (strcmp(a->name, "value") == 0 && a->type == TQ_ATTR_TENSOR && a->t) ||
      (strcmp(a->name, "value_float") == 0 && a->type == TQ_ATTR_FLOAT) ||
      (strcmp(a->name, "value_floats") == 0 && a->type == TQ_ATTR_FLOATS) ||
      (strcmp(a->name, "value_int") == 0 && a->type == TQ_ATTR_INT) ||
      (strcmp(a->name, "value_ints") == 0 && a->type == TQ_ATTR_INTS);
  if (!good)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "attribute '%s' has the wrong type", a->name);
  return TQ_OK;
}

static tq_status constant_infer(tq_op_call *c) {
  const tq_attr *a;
  tq_status st = constant_source(c, &a);
  if (st != TQ_OK) return st;
  tq_shape o = shape_of_rank(0);
  switch (a->type) {
    case TQ_ATTR_TENSOR:
      return tq_call_set_output(c, 0, a->t->dtype, &a->t->shape);
    case TQ_ATTR_FLOAT: return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &o);
    case TQ_ATTR_INT: return tq_call_set_output(c, 0, TQ_DTYPE_INT64, &o);
    case TQ_ATTR_FLOATS:
      o.ndim = 1;
      o.dims[0] = (int64_t)a->count;
      return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &o);
    default:
      o.ndim = 1;
      o.dims[0] = (int64_t)a->count;
      return tq_call_set_output(c, 0, TQ_DTYPE_INT64, &o);
  }
}

static tq_status constant_forward(tq_op_call *c) {
  const tq_attr *a;
  tq_status st = constant_source(c, &a);
  if (st != TQ_OK) return st;
  tq_tensor *y = c->out[0];
  switch (a->type) {
    case TQ_ATTR_TENSOR:
      copy_elems(c, a->t->data, y->data, a->t->numel,
                 tq_dtype_size(a->t->dtype));
      break;
    case TQ_ATTR_FLOAT: tq_f32(y)[0] = a->f; break;
    case TQ_ATTR_INT: tq_i64(y)[0] = a->i; break;
    case TQ_ATTR_FLOATS:
      if (a->count) memcpy(y->data, a->floats, a->count * sizeof(float));
      break;
    default:
      if (a->count) memcpy(y->data, a->ints, a->count * sizeof(int64_t));
      break;
  }
  return TQ_OK;
}

static tq_status cos_params(tq_op_call *c, tq_shape *out, tq_dtype *dt,
                            float *fv, int64_t *iv) {
  int64_t v[MAXV];
  size_t n;
  tq_status st = input_ints(c, 0, "input", v, MAXV, &n);
  if (st != TQ_OK) return st;
  st = check_rank(c, (int)n);
  if (st != TQ_OK) return st;
  tq_shape o = shape_of_rank((int)n);
  for (size_t d = 0; d < n; d++) {
    if (v[d] < 0)
      return tq_call_error(c, TQ_ERR_SHAPE, "shape value %lld is negative",
                           (long long)v[d]);
    o.dims[d] = v[d];
  }
  *dt = TQ_DTYPE_FLOAT32;
  *fv = 0.0f;
  *iv = 0;
  const tq_attr *a = tq_call_attr(c, "value");
  if (a) {
    if (a->type != TQ_ATTR_TENSOR || !a->t || a->t->numel != 1)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "attribute 'value' must be a one-element tensor");
    *dt = a->t->dtype;
    if (*dt == TQ_DTYPE_FLOAT32)
      *fv = tq_cf32(a->t)[0];
    else
      *iv = tq_ci64(a->t)[0];
  }
  *out = o;
  return TQ_OK;
}

static tq_status cos_infer(tq_op_call *c) {
  tq_shape o;
  tq_dtype dt;
  float fv;
  int64_t iv;
  tq_status st = cos_params(c, &o, &dt, &fv, &iv);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, dt, &o);
}

static tq_status cos_forward(tq_op_call *c) {
  tq_shape o;
  tq_dtype dt;
  float fv;
  int64_t iv;
  tq_status st = cos_params(c, &o, &dt, &fv, &iv);
  if (st != TQ_OK) return st;
  tq_tensor *y = c->out[0];
  for (size_t i = 0; i < y->numel; i++) {
    if (dt == TQ_DTYPE_FLOAT32)
      tq_f32(y)[i] = fv;
    else
      tq_i64(y)[i] = iv;
  }
  return TQ_OK;
}

static tq_status range_params(tq_op_call *c, int64_t *n) {
  static const char *const names[] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; i++) {
    tq_status st = need_const(c, i, names[i]);
    if (st != TQ_OK) return st;
    if (c->in[i]->numel != 1 || c->in[i]->dtype != c->in[0]->dtype)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'%s' must be a scalar of the same type as "
                           "'start'",
                           names[i]);
  }
  if (c->in[0]->dtype == TQ_DTYPE_INT64) {
    int64_t s = tq_ci64(c->in[0])[0], l = tq_ci64(c->in[1])[0],
            d = tq_ci64(c->in[2])[0];
    if (d == 0) return tq_call_error(c, TQ_ERR_RANGE, "delta is 0");
    /* Differences in uint64: exact for any pair of int64 values. */
    if (d > 0)
      *n = l > s ? (int64_t)(((uint64_t)l - (uint64_t)s - 1) / (uint64_t)d) + 1
                 : 0;
    else
      *n = s > l ? (int64_t)(((uint64_t)s - (uint64_t)l - 1) /
                             (0u - (uint64_t)d)) +
                       1
                 : 0;
  } else {
    float s = tq_cf32(c->in[0])[0], l = tq_cf32(c->in[1])[0],
          d = tq_cf32(c->in[2])[0];
    if (d == 0.0f || d != d || s != s || l != l)
      return tq_call_error(c, TQ_ERR_RANGE,
                           "start, limit and delta must be numbers and "
                           "delta non-zero");
    double cnt = ceil(((double)l - (double)s) / (double)d);
    if (!(cnt < 1e12))
      return tq_call_error(c, TQ_ERR_RANGE, "the range is too long");
    *n = cnt > 0 ? (int64_t)cnt : 0;
  }
  if (*n > ((int64_t)1 << 40))
    return tq_call_error(c, TQ_ERR_RANGE, "the range is too long");
  return TQ_OK;
}

static tq_status range_infer(tq_op_call *c) {
  int64_t n;
  tq_status st = range_params(c, &n);
  if (st != TQ_OK) return st;
  tq_shape o = shape_of_rank(1);
  o.dims[0] = n;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status range_forward(tq_op_call *c) {
  int64_t n;
  tq_status st = range_params(c, &n);
  if (st != TQ_OK) return st;
  tq_tensor *y = c->out[0];
  if (y->dtype == TQ_DTYPE_INT64) {
    uint64_t s = (uint64_t)tq_ci64(c->in[0])[0],
             d = (uint64_t)tq_ci64(c->in[2])[0];
    for (int64_t i = 0; i < n; i++) {
      uint64_t v = s + (uint64_t)i * d;
      memcpy(&tq_i64(y)[i], &v, sizeof v);
    }
  } else {
    float s = tq_cf32(c->in[0])[0], d = tq_cf32(c->in[2])[0];
    for (int64_t i = 0; i < n; i++) tq_f32(y)[i] = s + (float)i * d;
  }
  return TQ_OK;
}

/* ---- Expand, Tile
 * ----------------------------------------------------------*/

static tq_status expand_params(tq_op_call *c, tq_shape *out) {
  tq_status st = need_input(c, 0, "input");
  if (st != TQ_OK) return st;
  int64_t v[MAXV];
  size_t n;
  st = input_ints(c, 1, "shape", v, MAXV, &n);
  if (st != TQ_OK) return st;
  st = check_rank(c, (int)n);
  if (st != TQ_OK) return st;
  tq_shape s = shape_of_rank((int)n);
  for (size_t d = 0; d < n; d++) {
    if (v[d] < 0)
      return tq_call_error(c, TQ_ERR_SHAPE, "shape value %lld is negative",
                           (long long)v[d]);
    s.dims[d] = v[d];
  }
  st = tq_ew_broadcast_shape(c, &c->in[0]->shape, &s, "input and 'shape'", out);
  if (st != TQ_OK) return st;
  return check_rank(c, out->ndim);
}

static tq_status expand_infer(tq_op_call *c) {
  tq_shape o;
  tq_status st = expand_params(c, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status expand_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  tq_ew_broadcast_copy(x->data, &x->shape, y->data, &y->shape,
                       tq_dtype_size(x->dtype), tq_ew_threads(c));
  return TQ_OK;
}

static tq_status tile_params(tq_op_call *c, int64_t *rep, tq_shape *out) {
  tq_status st = need_input(c, 0, "input");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  size_t n;
  st = input_ints(c, 1, "repeats", rep, MAXV, &n);
  if (st != TQ_OK) return st;
  if ((int)n != s->ndim)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "repeats has %zu values for an input of rank %d", n,
                         s->ndim);
  tq_shape o = *s;
  for (int d = 0; d < s->ndim; d++) {
    if (rep[d] < 0)
      return tq_call_error(c, TQ_ERR_RANGE, "repeat %lld is negative",
                           (long long)rep[d]);
    o.dims[d] = s->dims[d] * rep[d];
  }
  size_t numel;
  if (tq_shape_check(NULL, &o, &numel) != TQ_OK)
    return tq_call_error(c, TQ_ERR_SHAPE, "the tiled tensor is too large");
  *out = o;
  return TQ_OK;
}

static tq_status tile_infer(tq_op_call *c) {
  int64_t rep[MAXV];
  tq_shape o;
  tq_status st = tile_params(c, rep, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

/* Output dim d of size rep*n is the pair (rep, n) in row-major order: a
 * strided copy with stride 0 over the repeats. */
static tq_status tile_forward(tq_op_call *c) {
  int64_t rep[MAXV];
  tq_shape o;
  tq_status st = tile_params(c, rep, &o);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int64_t xs[TQ_MAX_DIMS], dims[SC_MAXD], is[SC_MAXD];
  strides_of(&x->shape, xs);
  int r = x->shape.ndim;
  for (int d = 0; d < r; d++) {
    dims[2 * d] = rep[d];
    is[2 * d] = 0;
    dims[2 * d + 1] = x->shape.dims[d];
    is[2 * d + 1] = xs[d];
  }
  strided_copy(c, x->data, 0, is, dims, 2 * r, c->out[0]->data,
               tq_dtype_size(x->dtype));
  return TQ_OK;
}

/* ---- Resize, Upsample
 * ------------------------------------------------------*/

enum { RS_NEAREST, RS_LINEAR };
enum {
  CT_HALF_PIXEL,
  CT_ASYMMETRIC,
  CT_ALIGN_CORNERS,
  CT_PYTORCH_HALF_PIXEL,
  CT_TF_HALF_PIXEL_FOR_NN,
};
/* NM_SIMPLE: Upsample and Resize-10, as ONNX Runtime: truncate when
 * upsampling, ceil when downsampling. */
enum {
  NM_ROUND_PREFER_FLOOR,
  NM_ROUND_PREFER_CEIL,
  NM_FLOOR,
  NM_CEIL,
  NM_SIMPLE
};

typedef struct resize_p {
  int mode, ctm, nm;
  float scale[TQ_MAX_DIMS];
  tq_shape out;
} resize_p;

static int str_index(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

static tq_status resize_params(tq_op_call *c, resize_p *p) {
  tq_status st = need_input(c, 0, "X");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int r = x->shape.ndim;
  int upsample = strcmp(c->op_type, "Upsample") == 0;
  int legacy = upsample || c->opset < 11;
  if (x->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "expects a float32 input, got %s",
                         tq_ew_dtype_name(x->dtype));
  const char *mode = tq_attr_string(c, "mode", "nearest");
  if (strcmp(mode, "nearest") == 0)
    p->mode = RS_NEAREST;
  else if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0)
    p->mode = RS_LINEAR;
  else
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "mode '%s' is not supported (nearest, linear)", mode);
  if (legacy) {
    p->ctm = CT_ASYMMETRIC;
    p->nm = NM_SIMPLE;
  } else {
    static const char *const ctms[] = {"half_pixel", "asymmetric",
                                       "align_corners", "pytorch_half_pixel",
                                       "tf_half_pixel_for_nn"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil",
                                      "floor", "ceil"};
    const char *ct =
        tq_attr_string(c, "coordinate_transformation_mode", "half_pixel");
    const char *nm = tq_attr_string(c, "nearest_mode", "round_prefer_floor");
    p->ctm = str_index(ct, ctms, 5);
    p->nm = str_index(nm, nms, 4);
    if (p->ctm < 0)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "coordinate_transformation_mode '%s' is not "
                           "supported",
                           ct);
    if (p->nm < 0)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "nearest_mode '%s' is not supported", nm);
    if (tq_call_attr(c, "axes"))
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "the 'axes' attribute is not supported");
    if (tq_attr_int(c, "antialias", 0) != 0)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "antialias=1 is not supported");
    const char *kar = tq_attr_string(c, "keep_aspect_ratio_policy", "stretch");
    if (strcmp(kar, "stretch") != 0)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "keep_aspect_ratio_policy '%s' is not supported",
                           kar);
  }
  /* Where scales/sizes come from: Upsample-7 attribute 'scales';
   * Upsample-9 and Resize-10 input 1; Resize-11+ inputs 2 and 3. */
  const tq_tensor *ts = NULL, *tz = NULL;
  float sc[TQ_MAX_DIMS];
  int have_scales = 0;
  if (upsample && !has_input(c, 1)) {
    const tq_attr *a = tq_call_attr(c, "scales");
    if (!a || a->type != TQ_ATTR_FLOATS)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "the attribute 'scales' is required");
    if ((int)a->count != r)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'scales' has %zu values for an input of rank %d",
                           a->count, r);
    for (int d = 0; d < r; d++) sc[d] = a->floats[d];
    have_scales = 1;
  } else if (legacy) {
    st = need_const(c, 1, "scales");
    if (st != TQ_OK) return st;
    ts = c->in[1];
  } else {
    if (has_input(c, 2) && c->in[2]->numel > 0) ts = c->in[2];
    if (has_input(c, 3) && c->in[3]->numel > 0) tz = c->in[3];
    if (ts) st = need_const(c, 2, "scales");
    if (st == TQ_OK && tz) st = need_const(c, 3, "sizes");
    if (st != TQ_OK) return st;
    if (!ts && !tz)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "needs 'scales' (input 2) or 'sizes' (input 3)");
    if (ts && tz)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "has both 'scales' and 'sizes' (one is allowed)");
  }
  if (ts) {
    if (ts->dtype != TQ_DTYPE_FLOAT32 || ts->shape.ndim != 1 ||
        (int)ts->numel != r)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'scales' must be 1-D float32 with %d values", r);
    for (int d = 0; d < r; d++) sc[d] = tq_cf32(ts)[d];
    have_scales = 1;
  }
  p->out = x->shape;
  if (have_scales) {
    for (int d = 0; d < r; d++) {
      if (!(sc[d] > 0.0f) || isinf(sc[d]))
        return tq_call_error(c, TQ_ERR_RANGE,
                             "scale %g for axis %d is not positive",
                             (double)sc[d], d);
      /* As ONNX Runtime: the product in float, truncated. */
      float od = sc[d] * (float)x->shape.dims[d];
      if (!(od < 1e12f))
        return tq_call_error(c, TQ_ERR_RANGE, "the output is too large");
      p->out.dims[d] = (int64_t)od;
      p->scale[d] = sc[d];
    }
  } else {
    if (tz->dtype != TQ_DTYPE_INT64 || tz->shape.ndim != 1 ||
        (int)tz->numel != r)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'sizes' must be 1-D int64 with %d values", r);
    for (int d = 0; d < r; d++) {
      int64_t v = tq_ci64(tz)[d];
      if (v < 0)
        return tq_call_error(c, TQ_ERR_RANGE,
                             "size %lld for axis %d is negative", (long long)v,
                             d);
      p->out.dims[d] = v;
      p->scale[d] =
          x->shape.dims[d] ? (float)v / (float)x->shape.dims[d] : 1.0f;
    }
  }
  size_t numel;
  if (tq_shape_check(NULL, &p->out, &numel) != TQ_OK)
    return tq_call_error(c, TQ_ERR_SHAPE, "the output would be too large");
  for (int d = 0; d < r; d++)
    if (x->shape.dims[d] == 0 && p->out.dims[d] > 0)
      return tq_call_error(c, TQ_ERR_SHAPE, "cannot resize axis %d of size 0",
                           d);
  return TQ_OK;
}

static tq_status resize_infer(tq_op_call *c) {
  resize_p p;
  tq_status st = resize_params(c, &p);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &p.out);
}

/* The input coordinate of output coordinate o (ONNX formulas, in float as
 * ONNX Runtime computes them). */
static float resize_coord(int ctm, int64_t o, float scale, int64_t in,
                          int64_t out) {
  float x = (float)o;
  switch (ctm) {
    case CT_ASYMMETRIC: return x / scale;
    case CT_ALIGN_CORNERS:
      return out == 1 ? 0.0f : x * (float)(in - 1) / (float)(out - 1);
    case CT_PYTORCH_HALF_PIXEL:
      return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5f) / scale;
    default: return (x + 0.5f) / scale - 0.5f;
  }
}

static int64_t resize_nearest(int nm, float x, float scale) {
  float f = floorf(x);
  switch (nm) {
    case NM_FLOOR: return (int64_t)f;
    case NM_CEIL: return (int64_t)ceilf(x);
    case NM_SIMPLE: return scale < 1.0f ? (int64_t)ceilf(x) : (int64_t)x;
    case NM_ROUND_PREFER_CEIL:
      return x == f + 0.5f ? (int64_t)(f + 1.0f) : (int64_t)roundf(x);
    default: return x == f + 0.5f ? (int64_t)f : (int64_t)roundf(x);
  }
}

static tq_status resize_forward(tq_op_call *c) {
  resize_p p;
  tq_status st = resize_params(c, &p);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  int r = x->shape.ndim;
  if (y->numel == 0) return TQ_OK;
  if (r == 0) {
    tq_f32(y)[0] = tq_cf32(x)[0];
    return TQ_OK;
  }
  /* Per axis and output coordinate: the two input indices and weights
   * (nearest: one index, weight 1). */
  size_t total = 0;
  for (int d = 0; d < r; d++) total += (size_t)p.out.dims[d];
  int64_t *idx = malloc(2 * total * sizeof *idx);
  float *wt = malloc(2 * total * sizeof *wt);
  if (!idx || !wt) {
    free(idx);
    free(wt);
    return tq_error_nomem(c->ctx);
  }
  int64_t xs[TQ_MAX_DIMS], *i0[TQ_MAX_DIMS], *i1[TQ_MAX_DIMS];
  float *w0[TQ_MAX_DIMS], *w1[TQ_MAX_DIMS];
  int lin[TQ_MAX_DIMS];
  strides_of(&x->shape, xs);
  size_t at = 0;
  for (int d = 0; d < r; d++) {
    int64_t in = x->shape.dims[d], out = p.out.dims[d];
    i0[d] = idx + at;
    i1[d] = idx + total + at;
    w0[d] = wt + at;
    w1[d] = wt + total + at;
    at += (size_t)out;
    /* Axes that keep their size at scale 1 are copied as they are. */
    lin[d] = p.mode == RS_LINEAR && !(in == out && p.scale[d] == 1.0f);
    for (int64_t o = 0; o < out; o++) {
      float xo = resize_coord(p.ctm, o, p.scale[d], in, out);
      if (in == out && p.scale[d] == 1.0f) xo = (float)o;
      if (!lin[d]) {
        int64_t k = p.mode == RS_NEAREST && !(in == out && p.scale[d] == 1.0f)
                        ? resize_nearest(p.nm, xo, p.scale[d])
                        : o;
        k = k < 0 ? 0 : (k > in - 1 ? in - 1 : k);
        i0[d][o] = i1[d][o] = k;
        w0[d][o] = 1.0f;
        w1[d][o] = 0.0f;
        continue;
      }
      /* As ONNX Runtime's linear kernels: clamp into the input, then the
       * two neighbours with distance weights (0.5 each at the border). */
      xo = xo < 0.0f ? 0.0f : (xo > (float)(in - 1) ? (float)(in - 1) : xo);
      int64_t a = (int64_t)xo;
      if (a > in - 1) a = in - 1;
      int64_t b = a + 1 < in ? a + 1 : in - 1;
      float da = fabsf(xo - (float)a), db = fabsf(xo - (float)b);
      if (a == b) da = db = 0.5f;
      i0[d][o] = a;
      i1[d][o] = b;
      w0[d][o] = db; /* the weight of a is the distance to b */
      w1[d][o] = da;
    }
  }
  int lins[TQ_MAX_DIMS], nl = 0;
  for (int d = 0; d < r; d++)
    if (lin[d]) lins[nl++] = d;
  size_t inner = (size_t)p.out.dims[r - 1], rows = y->numel / inner;
  const float *xd = tq_cf32(x);
  float *yd = tq_f32(y);
  int threads = tq_ew_threads(c);
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (y->numel >= TQ_CHUNK_ELEMS && rows > 1)
  for (size_t row = 0; row < rows; row++) {
    int64_t od[TQ_MAX_DIMS];
    size_t q = row;
    for (int d = r - 2; d >= 0; d--) {
      od[d] = (int64_t)(q % (size_t)p.out.dims[d]);
      q /= (size_t)p.out.dims[d];
    }
    float *dst = yd + row * inner;
    for (size_t j = 0; j < inner; j++) {
      od[r - 1] = (int64_t)j;
      int64_t base = 0;
      for (int d = 0; d < r; d++)
        if (!lin[d]) base += i0[d][od[d]] * xs[d];
      if (nl == 0) {
        dst[j] = xd[base];
        continue;
      }
      /* Corners in row-major order of the interpolated axes. */
      float acc = 0.0f;
      for (int corner = 0; corner < (1 << nl); corner++) {
        int64_t off = base;
        float w = 1.0f;
        for (int k = 0; k < nl; k++) {
          int d = lins[k];
          int hi = (corner >> (nl - 1 - k)) & 1;
          off += (hi ? i1[d][od[d]] : i0[d][od[d]]) * xs[d];
          w = k == 0 ? (hi ? w1[d][od[d]] : w0[d][od[d]])
                     : w * (hi ? w1[d][od[d]] : w0[d][od[d]]);
        }
        acc = corner == 0 ? w * xd[off] : acc + w * xd[off];
      }
      dst[j] = acc;
    }
  }
  free(idx);
  free(wt);
  return TQ_OK;
}

/* ---- ScatterND
 * -------------------------------------------------------------*/

/* torch exports slice assignments (x[:, a:b] = v, e.g. Swin's attention
 * mask) as ScatterND; mostly on constants, so at plan time. */
enum { SC_NONE, SC_ADD, SC_MUL, SC_MAX, SC_MIN };

static tq_status scatternd_params(tq_op_call *c, int *red, size_t *k,
                                  size_t *n_upd, size_t *slice) {
  tq_status st = need_input(c, 0, "data");
  if (st == TQ_OK) st = need_input(c, 1, "indices");
  if (st == TQ_OK) st = need_input(c, 2, "updates");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
  static const char *const reds[] = {"none", "add", "mul", "max", "min"};
  const char *r = tq_attr_string(c, "reduction", "none");
  *red = str_index(r, reds, 5);
  if (*red < 0)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "reduction '%s' is not supported (none, add, mul, "
                         "max, min)",
                         r);
  if (ind->dtype != TQ_DTYPE_INT64)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED, "indices must be int64, got %s",
                         tq_ew_dtype_name(ind->dtype));
  if (upd->dtype != x->dtype)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED, "updates are %s but data is %s",
                         tq_ew_dtype_name(upd->dtype),
                         tq_ew_dtype_name(x->dtype));
  int q = ind->shape.ndim;
  if (q < 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "indices must have rank >= 1");
  int64_t kk = ind->shape.dims[q - 1];
  if (kk < 1 || kk > x->shape.ndim)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "the last dimension of indices (%lld) must be 1 to "
                         "the data's rank (%d)",
                         (long long)kk, x->shape.ndim);
  /* updates.shape = indices.shape[:-1] + data.shape[k:] */
  int ok = upd->shape.ndim == q - 1 + x->shape.ndim - (int)kk;
  for (int d = 0; ok && d < q - 1; d++)
    ok = upd->shape.dims[d] == ind->shape.dims[d];
  for (int d = (int)kk; ok && d < x->shape.ndim; d++)
    ok = upd->shape.dims[q - 1 + d - (int)kk] == x->shape.dims[d];
  if (!ok) {
    char a[96], b[96], u[96];
    fmt_shape(&x->shape, a, sizeof a);
    fmt_shape(&ind->shape, b, sizeof b);
    fmt_shape(&upd->shape, u, sizeof u);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "updates of shape %s do not fit data %s and indices "
                         "%s (expected indices.shape[:-1] + data.shape[k:])",
                         u, a, b);
  }
  *k = (size_t)kk;
  *n_upd = ind->numel / (size_t)kk;
  *slice = 1;
  for (int d = (int)kk; d < x->shape.ndim; d++)
    *slice *= (size_t)x->shape.dims[d];
  return TQ_OK;
}

static tq_status scatternd_infer(tq_op_call *c) {
  int red;
  size_t k, n, slice;
  tq_status st = scatternd_params(c, &red, &k, &n, &slice);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &c->in[0]->shape);
}

static tq_status scatternd_forward(tq_op_call *c) {
  int red;
  size_t k, n, slice;
  tq_status st = scatternd_params(c, &red, &k, &n, &slice);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
  tq_tensor *y = c->out[0];
  size_t es = tq_dtype_size(x->dtype);
  copy_elems(c, x->data, y->data, x->numel, es);
  int64_t xs[TQ_MAX_DIMS];
  strides_of(&x->shape, xs);
  const int64_t *iv = tq_ci64(ind);
  /* Serial and in index order: with reduction none, later updates of the
   * same element win, deterministically. */
  for (size_t j = 0; j < n; j++) {
    int64_t off = 0;
    for (size_t d = 0; d < k; d++) {
      int64_t dim = x->shape.dims[d], v = iv[j * k + d];
      if (v < -dim || v >= dim)
        return tq_call_error(c, TQ_ERR_RANGE,
                             "index %lld is out of range for axis %zu of "
                             "size %lld",
                             (long long)v, d, (long long)dim);
      off += (v < 0 ? v + dim : v) * xs[d];
    }
    if (red == SC_NONE) {
      memcpy((unsigned char *)y->data + (size_t)off * es,
             (const unsigned char *)upd->data + j * slice * es, slice * es);
      continue;
    }
    for (size_t i = 0; i < slice; i++) {
      if (x->dtype == TQ_DTYPE_FLOAT32) {
        float *o = tq_f32(y) + off + (int64_t)i;
        float u = tq_cf32(upd)[j * slice + i];
        *o = red == SC_ADD   ? *o + u
             : red == SC_MUL ? *o * u
             : red == SC_MAX ? (u > *o ? u : *o)
                             : (u < *o ? u : *o);
      } else {
        int64_t *o = tq_i64(y) + off + (int64_t)i;
        int64_t u = tq_ci64(upd)[j * slice + i];
        uint64_t a = (uint64_t)*o, b = (uint64_t)u, r;
        r = red == SC_ADD   ? a + b
            : red == SC_MUL ? a * b
            : red == SC_MAX ? (u > *o ? b : a)
                            : (u < *o ? b : a);
        memcpy(o, &r, sizeof r);
      }
    }
  }
  return TQ_OK;
}

/* ---- the table
 * -------------------------------------------------------------*/

#define OP(op_id, name, infer_fn, fwd, flags_, mi, ma, mo, mx, bw)           \
  {                                                                          \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(mi, ma, mo, mx),                    \
        .flags = (flags_), .infer = infer_fn, .forward = fwd, .backward = bw \
  }
#define RED(op_id, name, flags, bw) \
  OP(op_id, name, reduce_infer, reduce_forward, flags, 1, 2, 1, 1, bw)
#define I64 TQ_OPF_INT64

// clang-format off
const tq_op_desc tq_ops_shape[] = {
    OP(TQ_OP_SHAPE, "Shape", shape_infer, shape_forward, TQ_OPF_SHAPE_ONLY | I64, 1, 1, 1, 1, tq_bw_none),
    OP(TQ_OP_SIZE, "Size", size_infer, size_forward, TQ_OPF_SHAPE_ONLY | I64, 1, 1, 1, 1, tq_bw_none),
    OP(TQ_OP_GATHER, "Gather", gather_infer, gather_forward, I64, 2, 2, 1, 1, tq_bw_gather),
    OP(TQ_OP_CONCAT, "Concat", concat_infer, concat_forward, I64, 1, -1, 1, 1, tq_bw_concat),
    /* Outputs: as many as split_params accepts. */
    OP(TQ_OP_SPLIT, "Split", split_infer, split_forward, I64, 1, 2, 1, 1024, tq_bw_split),
    OP(TQ_OP_SLICE, "Slice", slice_infer, slice_forward, I64, 1, 5, 1, 1, tq_bw_slice),
    OP(TQ_OP_FLATTEN, "Flatten", flatten_infer, copy_forward, I64, 1, 1, 1, 1, tq_bw_copy),
    OP(TQ_OP_RESHAPE, "Reshape", reshape_infer, copy_forward, I64, 1, 2, 1, 1, tq_bw_copy),
    OP(TQ_OP_TRANSPOSE, "Transpose", transpose_infer, transpose_forward, I64, 1, 1, 1, 1, tq_bw_transpose),
    OP(TQ_OP_SQUEEZE, "Squeeze", squeeze_infer, copy_forward, I64, 1, 2, 1, 1, tq_bw_copy),
    OP(TQ_OP_UNSQUEEZE, "Unsqueeze", unsqueeze_infer, copy_forward, I64, 1, 2, 1, 1, tq_bw_copy),
    OP(TQ_OP_PAD, "Pad", pad_infer, pad_forward, I64, 1, 4, 1, 1, tq_bw_pad),
    RED(TQ_OP_REDUCE_SUM, "ReduceSum", I64, tq_bw_reduce),
    RED(TQ_OP_REDUCE_MEAN, "ReduceMean", 0, tq_bw_reduce),
    RED(TQ_OP_REDUCE_MAX, "ReduceMax", I64, tq_bw_reduce),
    RED(TQ_OP_REDUCE_MIN, "ReduceMin", I64, tq_bw_reduce),
    RED(TQ_OP_REDUCE_PROD, "ReduceProd", I64, NULL),
    RED(TQ_OP_REDUCE_L1, "ReduceL1", 0, tq_bw_reduce),
    RED(TQ_OP_REDUCE_L2, "ReduceL2", 0, tq_bw_reduce),
    RED(TQ_OP_REDUCE_SUM_SQUARE, "ReduceSumSquare", 0, tq_bw_reduce),
    RED(TQ_OP_REDUCE_LOG_SUM_EXP, "ReduceLogSumExp", 0, tq_bw_reduce),
    OP(TQ_OP_CONSTANT, "Constant", constant_infer, constant_forward, I64, 0, 0, 1, 1, NULL),
    OP(TQ_OP_CONSTANT_OF_SHAPE, "ConstantOfShape", cos_infer, cos_forward, I64, 1, 1, 1, 1, NULL),
    OP(TQ_OP_RANGE, "Range", range_infer, range_forward, I64, 3, 3, 1, 1, NULL),
    OP(TQ_OP_EXPAND, "Expand", expand_infer, expand_forward, I64, 2, 2, 1, 1, tq_bw_expand),
    OP(TQ_OP_TILE, "Tile", tile_infer, tile_forward, I64, 2, 2, 1, 1, tq_bw_tile),
    OP(TQ_OP_RESIZE, "Resize", resize_infer, resize_forward, 0, 1, 4, 1, 1, NULL),
    OP(TQ_OP_UPSAMPLE, "Upsample", resize_infer, resize_forward, 0, 1, 2, 1, 1, NULL),
    OP(TQ_OP_SCATTER_ND, "ScatterND", scatternd_infer, scatternd_forward, I64, 3, 3, 1, 1, NULL),
};
// clang-format on
const size_t tq_ops_shape_count = TQ_OP_COUNT_OF(tq_ops_shape);
