/* Cast and CastLike, forward and backward.
 *
 * Integers and bools are int64 at plan time and float32 holding integer
 * values (bools 0/1) at run time, where every value is float32. Cast to a
 * real type passes the gradient; to an integer or a bool the derivative
 * is 0. CastLike's target gets none. */
#include <math.h>
#include <stdint.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"
#include "ops/op_families.h"

/* ONNX TensorProto.DataType ids. */
enum {
  ONNX_FLOAT = 1,
  ONNX_UINT8 = 2,
  ONNX_INT8 = 3,
  ONNX_UINT16 = 4,
  ONNX_INT16 = 5,
  ONNX_INT32 = 6,
  ONNX_INT64 = 7,
  ONNX_STRING = 8,
  ONNX_BOOL = 9,
  ONNX_FLOAT16 = 10,
  ONNX_DOUBLE = 11,
  ONNX_UINT32 = 12,
  ONNX_UINT64 = 13,
  ONNX_BFLOAT16 = 16,
};

/* What a Cast target asks for: a real value, an integer, or a bool. */
enum { CAST_REAL, CAST_INT, CAST_BOOL };

/* Integer targets of every width are one kind here: they carry shape
 * arithmetic, whose values fit in int64. */
static tq_status cast_target(const tq_op_parse *p, int64_t to, int *kind) {
  *kind = CAST_REAL;
  switch (to) {
    case ONNX_FLOAT:
    case ONNX_DOUBLE: *kind = CAST_REAL; return TQ_OK;
    case ONNX_BOOL: *kind = CAST_BOOL; return TQ_OK;
    case ONNX_UINT8:
    case ONNX_INT8:
    case ONNX_UINT16:
    case ONNX_INT16:
    case ONNX_INT32:
    case ONNX_INT64:
    case ONNX_UINT32:
    case ONNX_UINT64: *kind = CAST_INT; return TQ_OK;
    case ONNX_FLOAT16:
    case ONNX_BFLOAT16:
      return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                            "Cast to %s is not supported: the runtime "
                            "computes in float32; quantize the value with an "
                            "extrinsic map (\"fp16\", \"bf16\") instead",
                            to == ONNX_FLOAT16 ? "float16" : "bfloat16");
    case ONNX_STRING:
      return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                            "Cast to string is not supported");
    default:
      return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                            "Cast to ONNX data type %lld is not supported "
                            "(float, double, integer and bool types are)",
                            (long long)to);
  }
}

/* Cast: the kind its 'to' asks for; CastLike takes it from its target
 * input at run time. */
typedef struct cast_params {
  int kind;
} cast_params;

static tq_status cast_parse(const tq_op_parse *p, void *params) {
  cast_params *cp = params;
  cp->kind = CAST_REAL;
  if (p->desc->id == TQ_OP_CAST_LIKE) return TQ_OK;
  const tq_attr *to = tq_parse_attr(p, "to");
  if (!to || to->type != TQ_ATTR_INT)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "the integer attribute 'to' is required");
  return cast_target(p, to->i, &cp->kind);
}

/* The kind of conversion and the output dtype. */
static tq_status cast_kind(tq_op_call *c, int *kind, tq_dtype *dt) {
  if (c->n_in < 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "expects an input");
  *kind = ((const cast_params *)c->params)->kind;
  if (c->desc->id == TQ_OP_CAST_LIKE) {
    if (c->n_in < 2 || !c->in[1])
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "expects two inputs (input, target_type)");
    *kind = c->in[1]->dtype == TQ_DTYPE_INT64 ? CAST_INT : CAST_REAL;
  }
  *dt = *kind == CAST_REAL || !c->plan_time ? TQ_DTYPE_FLOAT32 : TQ_DTYPE_INT64;
  return TQ_OK;
}

static tq_status cast_infer(tq_op_call *c) {
  int kind = CAST_REAL;
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  tq_status st = cast_kind(c, &kind, &dt);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, dt, &c->in[0]->shape);
}

/* float -> int64 truncates toward zero (as C and ONNX Runtime); NaN gives
 * 0 and out-of-range values saturate instead of being undefined. */
static int64_t f32_to_i64(float v) {
  if (v != v) return 0;
  if (v >= 9223372036854775808.0f) return INT64_MAX;
  if (v < -9223372036854775808.0f) return INT64_MIN;
  return (int64_t)v;
}

static tq_status cast_forward(tq_op_call *c) {
  int kind = CAST_REAL;
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  tq_status st = cast_kind(c, &kind, &dt);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  size_t n = x->numel;
  int same = x->dtype == dt &&
             (kind == CAST_REAL || (kind == CAST_INT && dt == TQ_DTYPE_INT64));
  if (same) {
    tq_ew_copy(x->data, y->data, n, tq_dtype_size(dt), tq_ew_threads(c));
    return TQ_OK;
  }
  for (size_t i = 0; i < n; i++) {
    if (x->dtype == TQ_DTYPE_FLOAT32) {
      float v = tq_cf32(x)[i];
      if (dt == TQ_DTYPE_INT64)
        tq_i64(y)[i] = kind == CAST_BOOL ? v != 0.0f : f32_to_i64(v);
      else /* run time: integer values as float */
        tq_f32(y)[i] = kind == CAST_BOOL ? (v != 0.0f ? 1.0f : 0.0f)
                       : v != v          ? 0.0f
                                         : truncf(v);
    } else {
      int64_t v = tq_ci64(x)[i];
      if (kind == CAST_BOOL) v = v != 0;
      if (dt == TQ_DTYPE_INT64)
        tq_i64(y)[i] = v;
      else
        tq_f32(y)[i] = (float)v;
    }
  }
  return TQ_OK;
}

static tq_status cast_backward(tq_op_call *c, const tq_tensor *const *gout,
                               tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  int threads = tq_ew_threads(c);
  if (c->n_in > 1 && gin[1])
    tq_bw_fill(tq_f32(gin[1]), gin[1]->numel, 0.0f, threads);
  if (!gin[0]) return TQ_OK;
  int kind = CAST_REAL;
  tq_dtype dt;
  if ((st = cast_kind(c, &kind, &dt)) != TQ_OK) return st;
  if (kind == CAST_REAL)
    tq_ew_copy(tq_cf32(gout[0]), tq_f32(gin[0]), gin[0]->numel, sizeof(float),
               threads);
  else
    tq_bw_fill(tq_f32(gin[0]), gin[0]->numel, 0.0f, threads);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_cast[] = {
    {TQ_OP_ONNX(TQ_OP_CAST, "Cast"), TQ_OP_ARITY(1, 1, 1, 1),
     .flags = TQ_OPF_INT64, TQ_OP_PARAMS(cast_params, cast_parse),
     .infer = cast_infer, .forward = cast_forward, .backward = cast_backward},
    {TQ_OP_ONNX(TQ_OP_CAST_LIKE, "CastLike"), TQ_OP_ARITY(2, 2, 1, 1),
     .flags = TQ_OPF_INT64, TQ_OP_PARAMS(cast_params, cast_parse),
     .infer = cast_infer, .forward = cast_forward, .backward = cast_backward},
};
const size_t tq_ops_cast_count = TQ_OP_COUNT_OF(tq_ops_cast);
