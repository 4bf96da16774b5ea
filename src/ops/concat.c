/* Concat and Split along an axis; forward and backward (each element of
 * the gradient goes back where it came from). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

/* Concat's axis: required from opset 4, 1 before. Split's axis (default 0),
 * its 'split' attribute (opset < 13; it may point into the node's
 * attributes, which live as long as the graph) and num_outputs (opset
 * 18). */
typedef struct concat_params {
  int64_t axis;
  const int64_t *split;
  size_t n_split;
  int num_outputs; /* 1: chunks of ceil(dim / outputs) */
} concat_params;

static tq_status concat_parse(const tq_op_parse *p, void *params) {
  concat_params *cp = params;
  const tq_attr *a = tq_parse_attr(p, "axis");
  if (p->desc->id == TQ_OP_CONCAT) {
    if (!a && p->opset >= 4)
      return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                            "the attribute 'axis' is required");
    cp->axis = a && a->type == TQ_ATTR_INT ? a->i : 1;
    return TQ_OK;
  }
  cp->axis = a && a->type == TQ_ATTR_INT ? a->i : 0;
  const size_t nout = p->n_out;
  const tq_attr *sa = tq_parse_attr(p, "split");
  if (sa && sa->type == TQ_ATTR_INTS && sa->count > 0) {
    if (sa->count != nout)
      return tq_parse_error(p, TQ_ERR_SHAPE,
                            "attribute 'split' has %zu sizes for %zu "
                            "outputs",
                            sa->count, nout);
    cp->split = sa->ints;
    cp->n_split = sa->count;
  }
  const tq_attr *no = tq_parse_attr(p, "num_outputs");
  if (no && no->type == TQ_ATTR_INT) {
    if (no->i != (int64_t)nout)
      return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                            "num_outputs is %lld but the node has %zu "
                            "outputs",
                            (long long)no->i, nout);
    cp->num_outputs = 1;
  }
  return TQ_OK;
}

/* ---- Concat
 * ----------------------------------------------------------------*/

static tq_status concat_shape(tq_op_call *c, int *axis, tq_shape *out) {
  if (c->n_in < 1)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects at least one input");
  for (size_t i = 0; i < c->n_in; i++)
    if (!c->in[i])
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "input %zu is missing",
                           i);
  const tq_tensor *x0 = c->in[0];
  const int64_t ax = ((const concat_params *)c->params)->axis;
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
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "input %zu is %s, input 0 is %s", i,
                           tq_dtype_name(t->dtype), tq_dtype_name(x0->dtype));
    int ok = t->shape.ndim == r;
    for (int d = 0; d < r && ok; d++)
      if (d != *axis && t->shape.dims[d] != o.dims[d]) ok = 0;
    if (!ok) {
      char s0[96], si[96];
      tq_shape_format(&x0->shape, s0, sizeof s0);
      tq_shape_format(&t->shape, si, sizeof si);
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
  tq_status st = concat_shape(c, &axis, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status concat_forward(tq_op_call *c) {
  int axis;
  tq_shape o;
  tq_status st = concat_shape(c, &axis, &o);
  if (st != TQ_OK) return st;
  size_t outer, inner, es = tq_dtype_size(c->in[0]->dtype);
  tq_shape_outer_inner(&o, axis, &outer, &inner);
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

/* Rows of len floats: dst[q*dst_row + dst_at ..] = src[q*src_row + src_at
 * ..] for q < outer. */
static void copy_rows(const float *src, size_t src_row, size_t src_at,
                      float *dst, size_t dst_row, size_t dst_at, size_t outer,
                      size_t len, int threads) {
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (outer > 1 && outer * len >= TQ_CHUNK_ELEMS)
  for (size_t q = 0; q < outer; q++)
    memcpy(dst + q * dst_row + dst_at, src + q * src_row + src_at,
           len * sizeof *dst);
}

static tq_status concat_backward(tq_op_call *c, const tq_tensor *const *gout,
                                 tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  const tq_shape *so = &gout[0]->shape;
  int axis;
  tq_shape o;
  if ((st = concat_shape(c, &axis, &o)) != TQ_OK) return st;
  size_t outer, inner;
  tq_shape_outer_inner(so, axis, &outer, &inner);
  size_t orow = (size_t)so->dims[axis] * inner, at = 0;
  for (size_t k = 0; k < c->n_in; k++) {
    size_t irow = (size_t)c->in[k]->shape.dims[axis] * inner;
    if (gin[k])
      copy_rows(tq_cf32(gout[0]), orow, at, tq_f32(gin[k]), irow, 0, outer,
                irow, tq_ew_threads(c));
    at += irow;
  }
  return TQ_OK;
}

/* ---- Split
 * -----------------------------------------------------------------*/

/* The size of each output along *axis (sizes: one per output): input
 * 'split' (opset >= 13), the attribute, num_outputs (opset 18: chunks of
 * ceil(dim / n), the last one smaller), or equal parts. */
static tq_status split_sizes(tq_op_call *c, int *axis, int64_t *v) {
  const concat_params *cp = c->params;
  tq_status st = tq_shape_need_input(c, 0, "input");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  if (x->shape.ndim < 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "input must have rank >= 1");
  st = tq_call_axis(c, cp->axis, x->shape.ndim, axis);
  if (st != TQ_OK) return st;
  int64_t dim = x->shape.dims[*axis];
  size_t nout = c->n_out;
  if (nout < 1 || nout > 1024)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects 1 to 1024 outputs, got %zu", nout);
  if (tq_shape_has_input(c, 1)) {
    const tq_tensor *t = c->in[1];
    st = tq_shape_need_const(c, 1, "split");
    if (st != TQ_OK) return st;
    if (t->shape.ndim > 1 || t->numel != nout)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "input 'split' must be 1-D with one size per "
                           "output (%zu)",
                           nout);
    for (size_t k = 0; k < nout; k++) v[k] = tq_load_i64(t->dtype, t->data, k);
  } else if (cp->split) {
    memcpy(v, cp->split, nout * sizeof *v);
  } else if (cp->num_outputs) {
    int64_t chunk = (dim + (int64_t)nout - 1) / (int64_t)nout;
    int64_t left = dim;
    for (size_t i = 0; i < nout; i++) {
      v[i] = left < chunk ? left : chunk;
      left -= v[i];
    }
  } else {
    if (dim % (int64_t)nout)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "dimension %d of size %lld does not split "
                           "evenly into %zu outputs",
                           *axis, (long long)dim, nout);
    for (size_t i = 0; i < nout; i++) v[i] = dim / (int64_t)nout;
  }
  int64_t total = 0;
  for (size_t i = 0; i < nout; i++) {
    if (v[i] < 0)
      return tq_call_error(c, TQ_ERR_RANGE, "split size %lld is negative",
                           (long long)v[i]);
    total += v[i];
  }
  if (total != dim)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "split sizes add up to %lld, but dimension %d has "
                         "size %lld",
                         (long long)total, *axis, (long long)dim);
  return TQ_OK;
}

/* split_sizes into a new array (free it). */
static tq_status split_alloc(tq_op_call *c, int *axis, int64_t **sizes) {
  *sizes = malloc((c->n_out ? c->n_out : 1) * sizeof **sizes);
  if (!*sizes) return tq_error_nomem(c->ctx);
  tq_status st = split_sizes(c, axis, *sizes);
  if (st != TQ_OK) {
    free(*sizes);
    *sizes = NULL;
  }
  return st;
}

static tq_status split_infer(tq_op_call *c) {
  int axis;
  int64_t *sizes;
  tq_status st = split_alloc(c, &axis, &sizes);
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
  int64_t *sizes;
  tq_status st = split_alloc(c, &axis, &sizes);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  size_t outer, inner, es = tq_dtype_size(x->dtype);
  tq_shape_outer_inner(&x->shape, axis, &outer, &inner);
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

static tq_status split_backward(tq_op_call *c, const tq_tensor *const *gout,
                                tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  const tq_shape *sx = &c->in[0]->shape;
  int axis, threads = tq_ew_threads(c);
  int64_t *sizes;
  if ((st = split_alloc(c, &axis, &sizes)) != TQ_OK) return st;
  size_t outer, inner;
  tq_shape_outer_inner(sx, axis, &outer, &inner);
  size_t irow = (size_t)sx->dims[axis] * inner, at = 0;
  float *dst = tq_f32(gin[0]);
  for (size_t k = 0; st == TQ_OK && k < c->n_out; k++) {
    size_t orow = (size_t)sizes[k] * inner;
    if (c->out[k] && gout[k]->numel == outer * orow) {
      copy_rows(tq_cf32(gout[k]), orow, 0, dst, irow, at, outer, orow, threads);
    } else if (c->out[k]) {
      st = tq_call_error(c, TQ_ERR_INTERNAL,
                         "gradient of output %zu has the wrong size", k);
    } else { /* an unused output: nothing flows back */
      for (size_t q = 0; q < outer; q++)
        memset(dst + q * irow + at, 0, orow * sizeof *dst);
    }
    at += orow;
  }
  free(sizes);
  return st;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_concat[] = {
    {TQ_OP_ONNX(TQ_OP_CONCAT, "Concat"), TQ_OP_ARITY(1, -1, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY), TQ_OP_PARAMS(concat_params, concat_parse),
     .infer = concat_infer, .forward = concat_forward,
     .backward = concat_backward},
    /* Outputs: as many as split_sizes accepts. */
    {TQ_OP_ONNX(TQ_OP_SPLIT, "Split"), TQ_OP_ARITY(1, 2, 1, 1024),
     TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_I64),
     TQ_OP_PARAMS(concat_params, concat_parse), .infer = split_infer,
     .forward = split_forward, .backward = split_backward},
};
const size_t tq_ops_concat_count = TQ_OP_COUNT_OF(tq_ops_concat);
