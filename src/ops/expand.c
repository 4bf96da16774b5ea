/* Expand (numpy broadcasting to a shape) and Tile; forward and backward
 * (the gradient of each copy summed back, in a fixed order). */
#include <stdint.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

static tq_status expand_shape(tq_op_call *c, tq_shape *out) {
  tq_status st = tq_shape_need_input(c, 0, "input");
  if (st != TQ_OK) return st;
  int64_t v[TQ_SHAPE_MAXV];
  size_t n;
  st = tq_shape_input_ints(c, 1, "shape", v, TQ_SHAPE_MAXV, &n);
  if (st != TQ_OK) return st;
  st = tq_shape_check_rank(c, (int)n);
  if (st != TQ_OK) return st;
  tq_shape s = tq_shape_of_rank((int)n);
  for (size_t d = 0; d < n; d++) {
    if (v[d] < 0)
      return tq_call_error(c, TQ_ERR_SHAPE, "shape value %lld is negative",
                           (long long)v[d]);
    s.dims[d] = v[d];
  }
  st = tq_ew_broadcast_shape(c, &c->in[0]->shape, &s, "input and 'shape'", out);
  if (st != TQ_OK) return st;
  return tq_shape_check_rank(c, out->ndim);
}

static tq_status expand_infer(tq_op_call *c) {
  tq_shape o;
  tq_status st = expand_shape(c, &o);
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

static tq_status tile_shape(tq_op_call *c, int64_t *rep, tq_shape *out) {
  tq_status st = tq_shape_need_input(c, 0, "input");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  size_t n;
  st = tq_shape_input_ints(c, 1, "repeats", rep, TQ_SHAPE_MAXV, &n);
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
  int64_t rep[TQ_SHAPE_MAXV];
  tq_shape o;
  tq_status st = tile_shape(c, rep, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

/* Output dim d of size rep*n is the pair (rep, n) in row-major order: a
 * strided copy with stride 0 over the repeats. */
static tq_status tile_forward(tq_op_call *c) {
  int64_t rep[TQ_SHAPE_MAXV];
  tq_shape o;
  tq_status st = tile_shape(c, rep, &o);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int64_t xs[TQ_MAX_DIMS], dims[TQ_SHAPE_MAXV], is[TQ_SHAPE_MAXV];
  tq_shape_strides(&x->shape, xs);
  int r = x->shape.ndim;
  for (int d = 0; d < r; d++) {
    dims[2 * d] = rep[d];
    is[2 * d] = 0;
    dims[2 * d + 1] = x->shape.dims[d];
    is[2 * d + 1] = xs[d];
  }
  tq_shape_strided_copy(c, x->data, 0, is, dims, 2 * r, c->out[0]->data,
                        tq_dtype_size(x->dtype));
  return TQ_OK;
}

static tq_status expand_backward(tq_op_call *c, const tq_tensor *const *gout,
                                 tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  tq_bw_sum_to_shape(tq_cf32(gout[0]), &gout[0]->shape, &c->in[0]->shape,
                     tq_f32(gin[0]), tq_ew_threads(c));
  return TQ_OK;
}

/* Output dim k of size rep*n is the pair (rep, n): the sum over the
 * repeats. */
static tq_status tile_backward(tq_op_call *c, const tq_tensor *const *gout,
                               tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  const tq_shape *sx = &c->in[0]->shape, *so = &gout[0]->shape;
  int64_t od[TQ_BW_MAXD], td[TQ_BW_MAXD];
  for (int k = 0; k < sx->ndim; k++) {
    od[2 * k] = sx->dims[k] ? so->dims[k] / sx->dims[k] : 0;
    td[2 * k] = 1;
    od[2 * k + 1] = td[2 * k + 1] = sx->dims[k];
  }
  tq_bw_sum_to(tq_cf32(gout[0]), od, td, 2 * sx->ndim, tq_f32(gin[0]),
               tq_ew_threads(c));
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_expand[] = {
    {TQ_OP_ONNX(TQ_OP_EXPAND, "Expand"), TQ_OP_ARITY(2, 2, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_I64), .infer = expand_infer,
     .forward = expand_forward, .backward = expand_backward},
    {TQ_OP_ONNX(TQ_OP_TILE, "Tile"), TQ_OP_ARITY(2, 2, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_I64), .infer = tile_infer,
     .forward = tile_forward, .backward = tile_backward},
};
const size_t tq_ops_expand_count = TQ_OP_COUNT_OF(tq_ops_expand);
