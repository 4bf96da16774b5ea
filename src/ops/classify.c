/* IsNaN and IsInf: which elements of a float tensor are NaN or infinite
 * (IsInf's detect_negative and detect_positive pick the signs), as bool.
 * On every float dtype; no backward (the result is bool). */
#include <math.h>

#include "core/error.h"
#include "ops/op_families.h"

typedef struct classify_params {
  int nan; /* 1: IsNaN; 0: IsInf */
  int negative, positive;
} classify_params;

static tq_status classify_parse(const tq_op_parse *p, void *params) {
  classify_params *cp = params;
  cp->nan = p->desc->id == TQ_OP_IS_NAN;
  cp->negative = tq_parse_int(p, "detect_negative", 1) != 0;
  cp->positive = tq_parse_int(p, "detect_positive", 1) != 0;
  return TQ_OK;
}

static tq_status classify_infer(tq_op_call *c) {
  if (!c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "input X is required");
  return tq_call_set_output(c, 0, TQ_DTYPE_BOOL, &c->in[0]->shape);
}

static tq_status classify_forward(tq_op_call *c) {
  const classify_params *cp = c->params;
  const tq_tensor *x = c->in[0];
  uint8_t *y = c->out[0]->data;
  for (size_t i = 0; i < x->numel; i++) {
    const double v = tq_load_f64(x->dtype, x->data, i);
    y[i] =
        cp->nan ? isnan(v) : isinf(v) && (v > 0 ? cp->positive : cp->negative);
  }
  return TQ_OK;
}

#define CLASSIFY(op_id, name)                             \
  {                                                       \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(1, 1, 1, 1),     \
        TQ_OP_TYPES(TQ_DTM_FLOAT),                        \
        TQ_OP_PARAMS(classify_params, classify_parse),    \
        .flags = TQ_OPF_INPLACE, .infer = classify_infer, \
        .forward = classify_forward                       \
  }

const tq_op_desc tq_ops_classify[] = {
    CLASSIFY(TQ_OP_IS_NAN, "IsNaN"),
    CLASSIFY(TQ_OP_IS_INF, "IsInf"),
};
const size_t tq_ops_classify_count = TQ_OP_COUNT_OF(tq_ops_classify);
