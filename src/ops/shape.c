/* Shape and Size: outputs that depend on the input's shape only, so the
 * executor evaluates them at plan time; their gradient is 0. */
#include <stdint.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

/* Shape's start and end attributes (end absent: the rank). */
typedef struct shape_params {
  int64_t start, end;
  int end_given;
} shape_params;

static tq_status shape_parse(const tq_op_parse *p, void *params) {
  shape_params *sp = params;
  sp->start = tq_parse_int(p, "start", 0);
  const tq_attr *end = tq_parse_attr(p, "end");
  sp->end_given = end && end->type == TQ_ATTR_INT;
  sp->end = sp->end_given ? end->i : 0;
  return TQ_OK;
}

static void shape_range(const tq_op_call *c, int r, int64_t *start,
                        int64_t *end) {
  const shape_params *sp = c->params;
  int64_t s = sp->start;
  int64_t e = sp->end_given ? sp->end : r;
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = s < 0 ? 0 : (s > r ? r : s);
  e = e < 0 ? 0 : (e > r ? r : e);
  *start = s;
  *end = e > s ? e : s;
}

static tq_status shape_infer(tq_op_call *c) {
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  int64_t s, e;
  shape_range(c, c->in[0]->shape.ndim, &s, &e);
  tq_shape o = tq_shape_of_rank(1);
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
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  tq_shape o = tq_shape_of_rank(0);
  return tq_call_set_output(c, 0, TQ_DTYPE_INT64, &o);
}

static tq_status size_forward(tq_op_call *c) {
  tq_i64(c->out[0])[0] = (int64_t)c->in[0]->numel;
  return TQ_OK;
}

/* The output depends on the shape only. */
static tq_status shape_backward(tq_op_call *c, const tq_tensor *const *gout,
                                tq_tensor **gin) {
  (void)gout;
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  for (size_t k = 0; k < c->n_in; k++)
    if (gin[k])
      tq_bw_fill(tq_f32(gin[k]), gin[k]->numel, 0.0f, tq_ew_threads(c));
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_shape[] = {
    {TQ_OP_ONNX(TQ_OP_SHAPE, "Shape"), TQ_OP_ARITY(1, 1, 1, 1),
     .flags = TQ_OPF_SHAPE_ONLY, TQ_OP_TYPES(TQ_DTM_ANY),
     TQ_OP_PARAMS(shape_params, shape_parse), .infer = shape_infer,
     .forward = shape_forward, .backward = shape_backward},
    {TQ_OP_ONNX(TQ_OP_SIZE, "Size"), TQ_OP_ARITY(1, 1, 1, 1),
     .flags = TQ_OPF_SHAPE_ONLY, TQ_OP_TYPES(TQ_DTM_ANY), .infer = size_infer,
     .forward = size_forward, .backward = shape_backward},
};
const size_t tq_ops_shape_count = TQ_OP_COUNT_OF(tq_ops_shape);
