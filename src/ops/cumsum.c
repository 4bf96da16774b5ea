/* CumSum: running sums along one axis (attributes exclusive and reverse),
 * on every numeric dtype, at plan time or at run time (position ids from a
 * mask: CumSum(mask) * mask).
 *
 * Each step adds one element to the previous sum in the dtype's own
 * arithmetic, as NumPy's cumsum: floats round after every addition
 * (computed in double and rounded once, the same bits as the dtype's own
 * addition), integers wrap. The axis is an input (a scalar of int32 or
 * int64) read when the node runs. No backward. */
#include <stdint.h>

#include "core/error.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

typedef struct cumsum_params {
  int exclusive, reverse;
} cumsum_params;

static tq_status cumsum_parse(const tq_op_parse *p, void *params) {
  cumsum_params *cp = params;
  cp->exclusive = tq_parse_int(p, "exclusive", 0) != 0;
  cp->reverse = tq_parse_int(p, "reverse", 0) != 0;
  return TQ_OK;
}

static tq_status cumsum_infer(tq_op_call *c) {
  tq_status st = tq_shape_need_input(c, 0, "x");
  if (st == TQ_OK) st = tq_shape_need_input(c, 1, "axis");
  if (st != TQ_OK) return st;
  if (c->in[1]->numel != 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "'axis' must be a scalar");
  if (c->in[0]->shape.ndim < 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "x must have rank >= 1");
  return tq_call_set_output(c, 0, c->in[0]->dtype, &c->in[0]->shape);
}

/* v rounded to dtype dt (a float dtype), as a double. */
static double round_to(tq_dtype dt, double v) {
  unsigned char e[8];
  tq_store_f64(dt, e, 0, v);
  return tq_load_f64(dt, e, 0);
}

static tq_status cumsum_forward(tq_op_call *c) {
  const cumsum_params *cp = c->params;
  const tq_tensor *x = c->in[0], *ax = c->in[1];
  tq_tensor *y = c->out[0];
  int axis;
  tq_status st = tq_call_axis(c, tq_load_i64(ax->dtype, ax->data, 0),
                              x->shape.ndim, &axis);
  if (st != TQ_OK) return st;
  size_t outer, inner;
  tq_shape_outer_inner(&x->shape, axis, &outer, &inner);
  const size_t n = (size_t)x->shape.dims[axis];
  const tq_dtype dt = x->dtype;
  const int ints = !tq_dtype_is_float(dt);
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      int64_t si = 0; /* the running sum, in the dtype */
      double sf = 0.0;
      for (size_t k = 0; k < n; k++) {
        const size_t j = cp->reverse ? n - 1 - k : k;
        const size_t at = (o * n + j) * inner + i;
        if (ints) {
          const int64_t next =
              tq_wrap_to(dt, tq_wrap_i64((uint64_t)si + (uint64_t)tq_load_i64(
                                                            dt, x->data, at)));
          tq_store_i64(dt, y->data, at, cp->exclusive ? si : next);
          si = next;
        } else {
          const double next = round_to(dt, sf + tq_load_f64(dt, x->data, at));
          tq_store_f64(dt, y->data, at, cp->exclusive ? sf : next);
          sf = next;
        }
      }
    }
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_cumsum[] = {
    {TQ_OP_ONNX(TQ_OP_CUMSUM, "CumSum"), TQ_OP_ARITY(2, 2, 1, 1),
     TQ_OP_TYPES(TQ_DTM_NUM, TQ_DTM_INDEX),
     TQ_OP_PARAMS(cumsum_params, cumsum_parse), .infer = cumsum_infer,
     .forward = cumsum_forward},
};
const size_t tq_ops_cumsum_count = TQ_OP_COUNT_OF(tq_ops_cumsum);
