/* ArgMax and ArgMin along one axis (attributes axis, keepdims,
 * select_last_index), on every numeric dtype, giving int64 indices.
 *
 * Ties give the first index (the last with select_last_index). A NaN wins
 * over every number, as in NumPy's argmax and argmin: the index of the
 * first NaN (the last one with select_last_index). No backward (the result
 * is an index). */
#include <stdint.h>

#include "core/error.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

typedef struct argmax_params {
  int64_t axis;
  int keepdims, last, max;
} argmax_params;

static tq_status argmax_parse(const tq_op_parse *p, void *params) {
  argmax_params *ap = params;
  ap->axis = tq_parse_int(p, "axis", 0);
  ap->keepdims = tq_parse_int(p, "keepdims", 1) != 0;
  ap->last = tq_parse_int(p, "select_last_index", 0) != 0;
  ap->max = p->desc->id == TQ_OP_ARG_MAX;
  return TQ_OK;
}

static tq_status argmax_shape(tq_op_call *c, int *axis, tq_shape *out) {
  const argmax_params *ap = c->params;
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  if (s->ndim < 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "data must have rank >= 1");
  if ((st = tq_call_axis(c, ap->axis, s->ndim, axis)) != TQ_OK) return st;
  if (s->dims[*axis] == 0)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "axis %d has size 0: there is no extreme to find",
                         *axis);
  tq_shape o = tq_shape_of_rank(0);
  for (int d = 0; d < s->ndim; d++)
    if (d != *axis)
      o.dims[o.ndim++] = s->dims[d];
    else if (ap->keepdims)
      o.dims[o.ndim++] = 1;
  *out = o;
  return TQ_OK;
}

static tq_status argmax_infer(tq_op_call *c) {
  int axis;
  tq_shape o;
  tq_status st = argmax_shape(c, &axis, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_INT64, &o);
}

/* Whether a candidate v beats the best so far b (index order decides the
 * rest: strictly better, or equal and select_last_index). */
static int beats(const argmax_params *ap, double v, double b) {
  if (b != b) return ap->last && v != v; /* a NaN holds the place */
  if (v != v) return 1;
  if (v == b) return ap->last;
  return ap->max ? v > b : v < b;
}

static int beats_int(const argmax_params *ap, int64_t v, int64_t b) {
  if (v == b) return ap->last;
  return ap->max ? v > b : v < b;
}

static tq_status argmax_forward(tq_op_call *c) {
  const argmax_params *ap = c->params;
  int axis;
  tq_shape o;
  tq_status st = argmax_shape(c, &axis, &o);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  size_t outer, inner;
  tq_shape_outer_inner(&x->shape, axis, &outer, &inner);
  const size_t n = (size_t)x->shape.dims[axis];
  const int ints = !tq_dtype_is_float(x->dtype);
  int64_t *y = tq_i64(c->out[0]);
  for (size_t q = 0; q < outer; q++)
    for (size_t i = 0; i < inner; i++) {
      const size_t base = q * n * inner + i;
      size_t best = 0;
      for (size_t k = 1; k < n; k++) {
        const size_t at = base + k * inner, bt = base + best * inner;
        if (ints ? beats_int(ap, tq_load_i64(x->dtype, x->data, at),
                             tq_load_i64(x->dtype, x->data, bt))
                 : beats(ap, tq_load_f64(x->dtype, x->data, at),
                         tq_load_f64(x->dtype, x->data, bt)))
          best = k;
      }
      y[q * inner + i] = (int64_t)best;
    }
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

#define ARGMAX(op_id, name)                                                    \
  {                                                                            \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(1, 1, 1, 1), TQ_OP_TYPES(TQ_DTM_NUM), \
        TQ_OP_PARAMS(argmax_params, argmax_parse), .infer = argmax_infer,      \
                                                   .forward = argmax_forward   \
  }

const tq_op_desc tq_ops_argmax[] = {
    ARGMAX(TQ_OP_ARG_MAX, "ArgMax"),
    ARGMAX(TQ_OP_ARG_MIN, "ArgMin"),
};
const size_t tq_ops_argmax_count = TQ_OP_COUNT_OF(tq_ops_argmax);
