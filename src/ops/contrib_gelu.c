/* ONNX Runtime's contrib GELUs (domain com.microsoft), which its
 * transformer optimizer leaves in files, float32:
 *   FastGelu(X, optional bias): Gelu with approximate='tanh' of X + bias,
 *   BiasGelu(A, B):             Gelu (erf) of A + B,
 * the bias (last dimension) broadcast over the rows. The sum in float32,
 * then the formulas of the ONNX Gelu (activation.c). */
#include <math.h>

#include "core/error.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

static tq_status cgelu_infer(tq_op_call *c) {
  tq_status st = tq_shape_need_input(c, 0, "X");
  if (st != TQ_OK) return st;
  const tq_shape *xs = &c->in[0]->shape;
  if (tq_shape_has_input(c, 1)) {
    const tq_shape *bs = &c->in[1]->shape;
    const int64_t last = xs->ndim ? xs->dims[xs->ndim - 1] : 1;
    if (bs->ndim != 1 || bs->dims[0] != last)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "the bias must be 1-D of X's last dimension "
                           "(%lld)",
                           (long long)last);
  } else if (c->desc->id == TQ_OP_BIAS_GELU) {
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "input B is required");
  }
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, xs);
}

static tq_status cgelu_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  const float *xv = tq_cf32(x);
  const float *b = tq_shape_has_input(c, 1) ? tq_cf32(c->in[1]) : NULL;
  const size_t n = b ? c->in[1]->numel : 1;
  float *y = tq_f32(c->out[0]);
  const int tanh_form = c->desc->id == TQ_OP_FAST_GELU;
  const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
  for (size_t i = 0; i < x->numel; i++) {
    const float v = b ? xv[i] + b[i % n] : xv[i];
    y[i] = tanh_form
               ? 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)))
               : 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  }
  return TQ_OK;
}

const tq_op_desc tq_ops_contrib_gelu[] = {
    {.id = TQ_OP_FAST_GELU,
     .name = "FastGelu",
     .domain = TQ_DOMAIN_MS,
     .min_opset = 1,
     .max_opset = TQ_OPSET_OPEN,
     TQ_OP_ARITY(1, 2, 1, 1),
     .infer = cgelu_infer,
     .forward = cgelu_forward},
    {.id = TQ_OP_BIAS_GELU,
     .name = "BiasGelu",
     .domain = TQ_DOMAIN_MS,
     .min_opset = 1,
     .max_opset = TQ_OPSET_OPEN,
     TQ_OP_ARITY(2, 2, 1, 1),
     .infer = cgelu_infer,
     .forward = cgelu_forward},
};
const size_t tq_ops_contrib_gelu_count = TQ_OP_COUNT_OF(tq_ops_contrib_gelu);
