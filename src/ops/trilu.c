/* Trilu: keeps the upper (upper = 1) or lower triangle of the last two
 * dimensions, from diagonal k (optional scalar input 1, read when the node
 * runs: positive k moves up and right), and zeroes the rest. Any dtype. */
#include <string.h>

#include "core/error.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

typedef struct trilu_params {
  int upper;
} trilu_params;

static tq_status trilu_parse(const tq_op_parse *p, void *params) {
  ((trilu_params *)params)->upper = tq_parse_int(p, "upper", 1) != 0;
  return TQ_OK;
}

static tq_status trilu_infer(tq_op_call *c) {
  tq_status st = tq_shape_need_input(c, 0, "input");
  if (st != TQ_OK) return st;
  if (c->in[0]->shape.ndim < 2)
    return tq_call_error(c, TQ_ERR_SHAPE, "input must have rank >= 2");
  return tq_call_set_output(c, 0, c->in[0]->dtype, &c->in[0]->shape);
}

static tq_status trilu_k(tq_op_call *c, int64_t *k) {
  *k = 0;
  if (!tq_shape_has_input(c, 1)) return TQ_OK;
  const tq_tensor *kt = c->in[1];
  if (kt->numel != 1 || !kt->data)
    return tq_call_error(c, TQ_ERR_SHAPE, "k must be a single value");
  *k = tq_load_i64(kt->dtype, kt->data, 0);
  return TQ_OK;
}

static tq_status trilu_forward(tq_op_call *c) {
  const int upper = ((const trilu_params *)c->params)->upper;
  int64_t k;
  tq_status st = trilu_k(c, &k);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  const int nd = x->shape.ndim;
  const int64_t rows = x->shape.dims[nd - 2], cols = x->shape.dims[nd - 1];
  const size_t es = tq_dtype_size(x->dtype);
  const size_t plane = (size_t)(rows * cols);
  const size_t mats = plane ? x->numel / plane : 0;
  const char *src = x->data;
  char *dst = c->out[0]->data;
  for (size_t m = 0; m < mats; m++)
    for (int64_t i = 0; i < rows; i++) {
      const size_t row = (m * (size_t)rows + (size_t)i) * (size_t)cols * es;
      for (int64_t j = 0; j < cols; j++) {
        /* kept: j - i >= k (upper) or j - i <= k (lower) */
        const int keep = upper ? j - i >= k : j - i <= k;
        if (keep)
          memcpy(dst + row + (size_t)j * es, src + row + (size_t)j * es, es);
        else
          memset(dst + row + (size_t)j * es, 0, es);
      }
    }
  return TQ_OK;
}

const tq_op_desc tq_ops_trilu[] = {
    {TQ_OP_ONNX(TQ_OP_TRILU, "Trilu"), TQ_OP_ARITY(1, 2, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_I64),
     TQ_OP_PARAMS(trilu_params, trilu_parse), .infer = trilu_infer,
     .forward = trilu_forward},
};
const size_t tq_ops_trilu_count = TQ_OP_COUNT_OF(tq_ops_trilu);
