/* Gather and ScatterND on data of any dtype, with indices known at plan
 * time or computed at run time (token ids): negative indices count from
 * the end, an index out of range is an error naming the node and the
 * index. Gather's backward adds the gradient back at the gathered indices
 * (repeated indices sum in index order). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

/* ---- Gather
 * ----------------------------------------------------------------*/

typedef struct gather_params {
  int64_t axis;
} gather_params;

static tq_status gather_parse(const tq_op_parse *p, void *params) {
  ((gather_params *)params)->axis = tq_parse_int(p, "axis", 0);
  return TQ_OK;
}

static tq_status gather_shape(tq_op_call *c, int *axis, tq_shape *out) {
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st == TQ_OK) st = tq_shape_need_input(c, 1, "indices");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1];
  if (x->shape.ndim < 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "data must have rank >= 1");
  const int64_t ax = ((const gather_params *)c->params)->axis;
  st = tq_call_axis(c, ax, x->shape.ndim, axis);
  if (st != TQ_OK) return st;
  int r = x->shape.ndim - 1 + ind->shape.ndim;
  st = tq_shape_check_rank(c, r);
  if (st != TQ_OK) return st;
  tq_shape o = tq_shape_of_rank(r);
  int k = 0;
  for (int d = 0; d < *axis; d++) o.dims[k++] = x->shape.dims[d];
  for (int d = 0; d < ind->shape.ndim; d++) o.dims[k++] = ind->shape.dims[d];
  for (int d = *axis + 1; d < x->shape.ndim; d++)
    o.dims[k++] = x->shape.dims[d];
  *out = o;
  return TQ_OK;
}

/* The indices (int32 or int64) as rows of axis: each must lie in [-dim,
 * dim) of the axis; negative ones count from the end. *rows is a new
 * array (free it) on success. */
static tq_status index_rows(tq_op_call *c, int axis, size_t **rows) {
  const tq_tensor *ind = c->in[1];
  const int64_t dim = c->in[0]->shape.dims[axis];
  *rows = malloc((ind->numel ? ind->numel : 1) * sizeof **rows);
  if (!*rows) return tq_error_nomem(c->ctx);
  for (size_t j = 0; j < ind->numel; j++) {
    const int64_t v = tq_load_i64(ind->dtype, ind->data, j);
    if (v < -dim || v >= dim) {
      free(*rows);
      *rows = NULL;
      /* Where it is, as coordinates into the indices. */
      tq_shape pos = ind->shape;
      for (size_t q = j, d = (size_t)pos.ndim; d-- > 0;) {
        pos.dims[d] = (int64_t)(q % (size_t)ind->shape.dims[d]);
        q /= (size_t)ind->shape.dims[d];
      }
      char at[160], shape[160];
      tq_shape_format(&pos, at, sizeof at);
      tq_shape_format(&ind->shape, shape, sizeof shape);
      return tq_call_error(c, TQ_ERR_RANGE,
                           "index %lld at %s of the indices (shape %s) is "
                           "out of range for axis %d of size %lld",
                           (long long)v, at, shape, axis, (long long)dim);
    }
    (*rows)[j] = (size_t)(v < 0 ? v + dim : v);
  }
  return TQ_OK;
}

static tq_status gather_infer(tq_op_call *c) {
  int axis;
  tq_shape o;
  tq_status st = gather_shape(c, &axis, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status gather_forward(tq_op_call *c) {
  int axis;
  tq_shape o;
  tq_status st = gather_shape(c, &axis, &o);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1];
  size_t outer, inner, ni = ind->numel;
  tq_shape_outer_inner(&x->shape, axis, &outer, &inner);
  const size_t dim = (size_t)x->shape.dims[axis];
  size_t *rows = NULL;
  if ((st = index_rows(c, axis, &rows)) != TQ_OK) return st;
  size_t es = tq_dtype_size(x->dtype), row = inner * es;
  const unsigned char *s = x->data;
  unsigned char *dst = c->out[0]->data;
  size_t tasks = outer * ni;
  int threads = tq_ew_threads(c);
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (tasks * inner >= TQ_CHUNK_ELEMS && tasks > 1)
  for (size_t t = 0; t < tasks; t++) {
    size_t oi = t / (ni ? ni : 1), j = t % (ni ? ni : 1);
    memcpy(dst + t * row, s + (oi * dim + rows[j]) * row, row);
  }
  free(rows);
  return TQ_OK;
}

/* Inner positions a task of Gather's backward covers. */
enum { GATHER_BLOCK = 1024 };

/* Scatter-add: for each outer index and block of inner positions, the
 * indices in order. */
static tq_status gather_backward(tq_op_call *c, const tq_tensor *const *gout,
                                 tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1];
  int axis, threads = tq_ew_threads(c);
  tq_shape o;
  st = gather_shape(c, &axis, &o);
  if (st != TQ_OK) return st;
  size_t outer, inner, ni = ind->numel;
  tq_shape_outer_inner(&x->shape, axis, &outer, &inner);
  const size_t dim = (size_t)x->shape.dims[axis];
  size_t *rows = NULL;
  if ((st = index_rows(c, axis, &rows)) != TQ_OK) return st;
  float *d = tq_f32(gin[0]);
  const float *g = tq_cf32(gout[0]);
  tq_bw_fill(d, gin[0]->numel, 0.0f, threads);
  size_t blocks = (inner + GATHER_BLOCK - 1) / GATHER_BLOCK;
  size_t tasks = outer * blocks;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (gout[0]->numel >= TQ_CHUNK_ELEMS && tasks > 1)
  for (size_t t = 0; t < tasks; t++) {
    size_t oi = t / blocks, i0 = (t % blocks) * GATHER_BLOCK;
    size_t len = inner - i0 < GATHER_BLOCK ? inner - i0 : GATHER_BLOCK;
    for (size_t j = 0; j < ni; j++) {
      float *dr = d + (oi * dim + rows[j]) * inner + i0;
      const float *gr = g + (oi * ni + j) * inner + i0;
      for (size_t i = 0; i < len; i++) dr[i] += gr[i];
    }
  }
  free(rows);
  return TQ_OK;
}

/* ---- ScatterND
 * -------------------------------------------------------------*/

/* torch exports slice assignments (x[:, a:b] = v, e.g. Swin's attention
 * mask) as ScatterND; mostly on constants, so at plan time. */
enum { SC_NONE, SC_ADD, SC_MUL, SC_MAX, SC_MIN };

typedef struct scatternd_params {
  int red; /* SC_* */
} scatternd_params;

static tq_status scatternd_parse(const tq_op_parse *p, void *params) {
  static const char *const reds[] = {"none", "add", "mul", "max", "min"};
  const char *r = tq_parse_string(p, "reduction", "none");
  int *red = &((scatternd_params *)params)->red;
  *red = tq_parse_index(r, reds, 5);
  if (*red < 0)
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "reduction '%s' is not supported (none, add, mul, "
                          "max, min)",
                          r);
  return TQ_OK;
}

/* Checks the inputs; k: index components, n_upd: updates, slice: elements
 * per update. */
static tq_status scatternd_shape(tq_op_call *c, size_t *k, size_t *n_upd,
                                 size_t *slice) {
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st == TQ_OK) st = tq_shape_need_input(c, 1, "indices");
  if (st == TQ_OK) st = tq_shape_need_input(c, 2, "updates");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
  if (upd->dtype != x->dtype)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED, "updates are %s but data is %s",
                         tq_dtype_name(upd->dtype), tq_dtype_name(x->dtype));
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
    tq_shape_format(&x->shape, a, sizeof a);
    tq_shape_format(&ind->shape, b, sizeof b);
    tq_shape_format(&upd->shape, u, sizeof u);
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
  size_t k, n, slice;
  tq_status st = scatternd_shape(c, &k, &n, &slice);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &c->in[0]->shape);
}

static tq_status scatternd_forward(tq_op_call *c) {
  const int red = ((const scatternd_params *)c->params)->red;
  size_t k, n, slice;
  tq_status st = scatternd_shape(c, &k, &n, &slice);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
  tq_tensor *y = c->out[0];
  size_t es = tq_dtype_size(x->dtype);
  tq_ew_copy(x->data, y->data, x->numel, es, tq_ew_threads(c));
  int64_t xs[TQ_MAX_DIMS];
  tq_shape_strides(&x->shape, xs);
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
      const size_t at = (size_t)off + i, from = j * slice + i;
      if (x->dtype == TQ_DTYPE_FLOAT32) {
        float *o = tq_f32(y) + at;
        float u = tq_cf32(upd)[from];
        *o = red == SC_ADD   ? *o + u
             : red == SC_MUL ? *o * u
             : red == SC_MAX ? (u > *o ? u : *o)
                             : (u < *o ? u : *o);
      } else if (!tq_dtype_is_float(x->dtype)) { /* wrapping integers */
        const int64_t o = tq_load_i64(x->dtype, y->data, at),
                      u = tq_load_i64(x->dtype, upd->data, from);
        const uint64_t a = (uint64_t)o, b = (uint64_t)u;
        const uint64_t r = red == SC_ADD   ? a + b
                           : red == SC_MUL ? a * b
                           : red == SC_MAX ? (u > o ? b : a)
                                           : (u < o ? b : a);
        tq_store_i64(x->dtype, y->data, at, tq_wrap_i64(r));
      } else { /* in double, rounded to the dtype */
        const double o = tq_load_f64(x->dtype, y->data, at),
                     u = tq_load_f64(x->dtype, upd->data, from);
        tq_store_f64(x->dtype, y->data, at,
                     red == SC_ADD   ? o + u
                     : red == SC_MUL ? o * u
                     : red == SC_MAX ? (u > o ? u : o)
                                     : (u < o ? u : o));
      }
    }
  }
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_gather[] = {
    {TQ_OP_ONNX(TQ_OP_GATHER, "Gather"), TQ_OP_ARITY(2, 2, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_INDEX),
     TQ_OP_PARAMS(gather_params, gather_parse), .infer = gather_infer,
     .forward = gather_forward, .backward = gather_backward},
    {TQ_OP_ONNX(TQ_OP_SCATTER_ND, "ScatterND"), TQ_OP_ARITY(3, 3, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_I64, TQ_DTM_ANY),
     TQ_OP_PARAMS(scatternd_params, scatternd_parse), .infer = scatternd_infer,
     .forward = scatternd_forward},
};
const size_t tq_ops_gather_count = TQ_OP_COUNT_OF(tq_ops_gather);
