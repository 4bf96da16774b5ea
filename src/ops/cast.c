/* Cast and CastLike between every dtype, forward and backward.
 *
 * The conversions are ONNX Cast's (core/dtype_internal.h states them:
 * float16/bfloat16 round to nearest even, floats to integers truncate,
 * integers wrap). ONNX's int16, uint16, uint32 and uint64 targets are held
 * as int64: the value converted to that type (wrapped from integers,
 * truncated and saturated from floats), in a wider container. Backward:
 * a cast to a float dtype passes the gradient; to an integer or a bool
 * the derivative is 0. CastLike's target gets none. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

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

/* Cast's target: its dtype and, for the integer types held as int64, the
 * range of the type (bits 0: none). CastLike takes the dtype from its
 * target input at run time. */
typedef struct cast_params {
  tq_dtype to;
  int bits, is_signed;
} cast_params;

static tq_status cast_parse(const tq_op_parse *p, void *params) {
  cast_params *cp = params;
  cp->to = TQ_DTYPE_FLOAT32;
  if (p->desc->id == TQ_OP_CAST_LIKE) return TQ_OK;
  const tq_attr *to = tq_parse_attr(p, "to");
  if (!to || to->type != TQ_ATTR_INT)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "the integer attribute 'to' is required");
  static const struct {
    int64_t onnx;
    tq_dtype dt;
    int bits, is_signed;
  } targets[] = {
      {ONNX_FLOAT, TQ_DTYPE_FLOAT32, 0, 0},
      {ONNX_DOUBLE, TQ_DTYPE_FLOAT64, 0, 0},
      {ONNX_FLOAT16, TQ_DTYPE_FLOAT16, 0, 0},
      {ONNX_BFLOAT16, TQ_DTYPE_BFLOAT16, 0, 0},
      {ONNX_INT64, TQ_DTYPE_INT64, 0, 0},
      {ONNX_INT32, TQ_DTYPE_INT32, 0, 0},
      {ONNX_INT8, TQ_DTYPE_INT8, 0, 0},
      {ONNX_UINT8, TQ_DTYPE_UINT8, 0, 0},
      {ONNX_BOOL, TQ_DTYPE_BOOL, 0, 0},
      {ONNX_INT16, TQ_DTYPE_INT64, 16, 1},
      {ONNX_UINT16, TQ_DTYPE_INT64, 16, 0},
      {ONNX_UINT32, TQ_DTYPE_INT64, 32, 0},
      {ONNX_UINT64, TQ_DTYPE_INT64, 0, 0},
  };
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
    if (targets[i].onnx == to->i) {
      cp->to = targets[i].dt;
      cp->bits = targets[i].bits;
      cp->is_signed = targets[i].is_signed;
      return TQ_OK;
    }
  if (to->i == ONNX_STRING)
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "Cast to string is not supported");
  return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                        "Cast to ONNX data type %lld is not supported "
                        "(float, double, float16, bfloat16, integer and bool "
                        "types are)",
                        (long long)to->i);
}

/* The output dtype. */
static tq_status cast_dtype(tq_op_call *c, tq_dtype *dt) {
  if (c->n_in < 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "expects an input");
  *dt = ((const cast_params *)c->params)->to;
  if (c->desc->id == TQ_OP_CAST_LIKE) {
    if (c->n_in < 2 || !c->in[1])
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "expects two inputs (input, target_type)");
    *dt = c->in[1]->dtype;
  }
  return TQ_OK;
}

static tq_status cast_infer(tq_op_call *c) {
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  tq_status st = cast_dtype(c, &dt);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, dt, &c->in[0]->shape);
}

/* int16/uint16/uint32 held as int64: the int64 result brought into the
 * type's range (wrapped; saturated when it came from a float). */
static void narrow_held(const cast_params *cp, tq_dtype from, int64_t *y,
                        size_t n) {
  const int64_t span = (int64_t)1 << cp->bits;
  const int64_t lo = cp->is_signed ? -span / 2 : 0, hi = lo + span - 1;
  for (size_t i = 0; i < n; i++) {
    if (tq_dtype_is_float(from)) {
      y[i] = y[i] < lo ? lo : y[i] > hi ? hi : y[i];
    } else {
      const int64_t m = (int64_t)((uint64_t)y[i] & (uint64_t)(span - 1));
      y[i] = m > hi ? m - span : m;
    }
  }
}

typedef struct cast_arg {
  tq_dtype from, to;
  const unsigned char *x;
  unsigned char *y;
} cast_arg;

static void cast_chunk(void *arg, size_t first, size_t n) {
  const cast_arg *g = arg;
  tq_dtype_convert(g->from, g->x + first * tq_dtype_size(g->from), g->to,
                   g->y + first * tq_dtype_size(g->to), n);
}

static tq_status cast_forward(tq_op_call *c) {
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  tq_status st = cast_dtype(c, &dt);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  const cast_params *cp = c->params;
  cast_arg g = {x->dtype, dt, x->data, y->data};
  tq_ew_for_chunks(x->numel, tq_ew_threads(c), cast_chunk, &g);
  if (cp->bits && c->desc->id == TQ_OP_CAST)
    narrow_held(cp, x->dtype, tq_i64(y), y->numel);
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
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  if ((st = cast_dtype(c, &dt)) != TQ_OK) return st;
  if (tq_dtype_is_float(dt))
    tq_ew_copy(tq_cf32(gout[0]), tq_f32(gin[0]), gin[0]->numel, sizeof(float),
               threads);
  else
    tq_bw_fill(tq_f32(gin[0]), gin[0]->numel, 0.0f, threads);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_cast[] = {
    {TQ_OP_ONNX(TQ_OP_CAST, "Cast"), TQ_OP_ARITY(1, 1, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY), TQ_OP_PARAMS(cast_params, cast_parse),
     .infer = cast_infer, .forward = cast_forward, .backward = cast_backward},
    {TQ_OP_ONNX(TQ_OP_CAST_LIKE, "CastLike"), TQ_OP_ARITY(2, 2, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY), TQ_OP_PARAMS(cast_params, cast_parse),
     .infer = cast_infer, .forward = cast_forward, .backward = cast_backward},
};
const size_t tq_ops_cast_count = TQ_OP_COUNT_OF(tq_ops_cast);
