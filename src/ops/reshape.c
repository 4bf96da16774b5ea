/* Flatten, Reshape, Squeeze and Unsqueeze: the input's elements with a
 * new shape (a copy; the gradient is copied back). */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

/* Flatten's axis; Reshape's allowzero and 'shape' attribute (opset < 5);
 * Squeeze's and Unsqueeze's 'axes' attribute (opset < 13). */
typedef struct reshape_params {
  int64_t axis;
  int64_t allowzero;
  tq_shape_ints shape, axes;
} reshape_params;

static tq_status reshape_parse(const tq_op_parse *p, void *params) {
  reshape_params *rp = params;
  switch (p->desc->id) {
    case TQ_OP_FLATTEN: rp->axis = tq_parse_int(p, "axis", 1); return TQ_OK;
    case TQ_OP_RESHAPE:
      rp->allowzero = tq_parse_int(p, "allowzero", 0);
      return tq_shape_parse_ints(p, "shape", &rp->shape);
    default: return tq_shape_parse_ints(p, "axes", &rp->axes);
  }
}

static tq_status flatten_infer(tq_op_call *c) {
  tq_status st = tq_shape_need_input(c, 0, "input");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  int r = s->ndim;
  int64_t axis = ((const reshape_params *)c->params)->axis;
  if (axis < -r || axis > r)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "axis %lld is out of range [%d, %d] for rank %d",
                         (long long)axis, -r, r, r);
  if (axis < 0) axis += r;
  tq_shape o = tq_shape_of_rank(2);
  o.dims[0] = o.dims[1] = 1;
  for (int d = 0; d < r; d++) o.dims[d < axis ? 0 : 1] *= s->dims[d];
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status reshape_infer(tq_op_call *c) {
  const reshape_params *rp = c->params;
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int64_t v[TQ_SHAPE_MAXV];
  size_t n;
  if (tq_shape_has_input(c, 1)) {
    st = tq_shape_input_ints(c, 1, "shape", v, TQ_SHAPE_MAXV, &n);
  } else { /* opset < 5: the attribute */
    n = rp->shape.n;
    memcpy(v, rp->shape.v, sizeof v);
    if (!rp->shape.present)
      st = tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "input 1 ('shape') is required");
  }
  if (st != TQ_OK) return st;
  st = tq_shape_check_rank(c, (int)n);
  if (st != TQ_OK) return st;
  int allowzero = (int)rp->allowzero;
  tq_shape o = tq_shape_of_rank((int)n);
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
      tq_shape_format(&x->shape, s, sizeof s);
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
    tq_shape_format(&x->shape, s1, sizeof s1);
    tq_shape_format(&o, s2, sizeof s2);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "cannot reshape %s (%zu elements) to %s", s1, x->numel,
                         s2);
  }
  return tq_call_set_output(c, 0, x->dtype, &o);
}

/* Squeeze/Unsqueeze axes: input 1 (opset >= 13) or the attribute. */
static tq_status axes_arg(tq_op_call *c, int64_t *v, size_t *n, int *given) {
  if (tq_shape_has_input(c, 1)) {
    *given = 1;
    return tq_shape_input_ints(c, 1, "axes", v, TQ_SHAPE_MAXV, n);
  }
  const tq_shape_ints *a = &((const reshape_params *)c->params)->axes;
  *given = a->present;
  *n = a->n;
  memcpy(v, a->v, sizeof a->v);
  return TQ_OK;
}

static tq_status squeeze_infer(tq_op_call *c) {
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  int64_t v[TQ_SHAPE_MAXV];
  size_t n;
  int given;
  st = axes_arg(c, v, &n, &given);
  if (st != TQ_OK) return st;
  int drop[TQ_MAX_DIMS] = {0}, ax[TQ_SHAPE_MAXV];
  if (given && n > 0) {
    st = tq_shape_norm_axes(c, v, n, s->ndim, ax);
    if (st != TQ_OK) return st;
    for (size_t k = 0; k < n; k++) {
      if (s->dims[ax[k]] != 1) {
        char b[96];
        tq_shape_format(s, b, sizeof b);
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
  tq_shape o = tq_shape_of_rank(0);
  for (int d = 0; d < s->ndim; d++)
    if (!drop[d]) o.dims[o.ndim++] = s->dims[d];
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status unsqueeze_infer(tq_op_call *c) {
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  int64_t v[TQ_SHAPE_MAXV];
  size_t n;
  int given;
  st = axes_arg(c, v, &n, &given);
  if (st != TQ_OK) return st;
  if (!given || n == 0)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "'axes' is required (%s)",
                         c->opset >= 13 ? "input 1" : "attribute");
  int r = s->ndim + (int)n;
  st = tq_shape_check_rank(c, r);
  if (st != TQ_OK) return st;
  int ax[TQ_SHAPE_MAXV], ins[TQ_MAX_DIMS] = {0};
  st = tq_shape_norm_axes(c, v, n, r, ax);
  if (st != TQ_OK) return st;
  for (size_t k = 0; k < n; k++) ins[ax[k]] = 1;
  tq_shape o = tq_shape_of_rank(r);
  int j = 0;
  for (int d = 0; d < r; d++) o.dims[d] = ins[d] ? 1 : s->dims[j++];
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

/* ---- descriptors ---------------------------------------------------------*/

#define RESHAPE(op_id, name, infer_fn, max_in, types)             \
  {                                                               \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(1, max_in, 1, 1), types, \
        TQ_OP_PARAMS(reshape_params, reshape_parse),              \
        .infer = infer_fn, .forward = tq_shape_copy_forward,      \
        .backward = tq_bw_pass                                    \
  }

#define SHAPED TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_INDEX)

const tq_op_desc tq_ops_reshape[] = {
    /* Any data; shapes and axes as int64 (int32 accepted too). */
    RESHAPE(TQ_OP_FLATTEN, "Flatten", flatten_infer, 1,
            TQ_OP_TYPES(TQ_DTM_ANY)),
    RESHAPE(TQ_OP_RESHAPE, "Reshape", reshape_infer, 2, SHAPED),
    RESHAPE(TQ_OP_SQUEEZE, "Squeeze", squeeze_infer, 2, SHAPED),
    RESHAPE(TQ_OP_UNSQUEEZE, "Unsqueeze", unsqueeze_infer, 2, SHAPED),
};
const size_t tq_ops_reshape_count = TQ_OP_COUNT_OF(tq_ops_reshape);
