/* Constant, ConstantOfShape and Range: values made at plan time (their
 * inputs are shapes and scalars, which decide the output's shape). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

/* Constant: the one value attribute (it lives as long as the graph).
 * ConstantOfShape: the fill value's dtype and its bytes. */
typedef struct constant_params {
  const tq_attr *src;
  tq_dtype dt;
  unsigned char value[8];
} constant_params;

/* Constant: exactly one value attribute, of its type. */
static tq_status constant_parse(const tq_op_parse *p, void *params) {
  const tq_attr **src = &((constant_params *)params)->src;
  static const char *const ok[] = {"value", "value_float", "value_floats",
                                   "value_int", "value_ints"};
  static const char *const bad[] = {"sparse_value", "value_string",
                                    "value_strings"};
  *src = NULL;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (tq_parse_attr(p, bad[i]))
      return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                            "attribute '%s' is not supported", bad[i]);
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    const tq_attr *a = tq_parse_attr(p, ok[i]);
    if (!a) continue;
    if (*src)
      return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                            "has both '%s' and '%s' (exactly one value "
                            "attribute is allowed)",
                            (*src)->name, a->name);
    *src = a;
  }
  if (!*src)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "needs a value attribute (value, value_float, "
                          "value_floats, value_int or value_ints)");
  const tq_attr *a = *src;
  int good =
      (strcmp(a->name, "value") == 0 && a->type == TQ_ATTR_TENSOR && a->t) ||
      (strcmp(a->name, "value_float") == 0 && a->type == TQ_ATTR_FLOAT) ||
      (strcmp(a->name, "value_floats") == 0 && a->type == TQ_ATTR_FLOATS) ||
      (strcmp(a->name, "value_int") == 0 && a->type == TQ_ATTR_INT) ||
      (strcmp(a->name, "value_ints") == 0 && a->type == TQ_ATTR_INTS);
  if (!good)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "attribute '%s' has the wrong type", a->name);
  return TQ_OK;
}

static tq_status constant_infer(tq_op_call *c) {
  const tq_attr *a = ((const constant_params *)c->params)->src;
  tq_shape o = tq_shape_of_rank(0);
  switch (a->type) {
    case TQ_ATTR_TENSOR:
      return tq_call_set_output(c, 0, a->t->dtype, &a->t->shape);
    case TQ_ATTR_FLOAT: return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &o);
    case TQ_ATTR_INT: return tq_call_set_output(c, 0, TQ_DTYPE_INT64, &o);
    case TQ_ATTR_FLOATS:
      o.ndim = 1;
      o.dims[0] = (int64_t)a->count;
      return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &o);
    default:
      o.ndim = 1;
      o.dims[0] = (int64_t)a->count;
      return tq_call_set_output(c, 0, TQ_DTYPE_INT64, &o);
  }
}

static tq_status constant_forward(tq_op_call *c) {
  const tq_attr *a = ((const constant_params *)c->params)->src;
  tq_tensor *y = c->out[0];
  switch (a->type) {
    case TQ_ATTR_TENSOR:
      tq_ew_copy(a->t->data, y->data, a->t->numel, tq_dtype_size(a->t->dtype),
                 tq_ew_threads(c));
      break;
    case TQ_ATTR_FLOAT: tq_f32(y)[0] = a->f; break;
    case TQ_ATTR_INT: tq_i64(y)[0] = a->i; break;
    case TQ_ATTR_FLOATS:
      if (a->count) memcpy(y->data, a->floats, a->count * sizeof(float));
      break;
    default:
      if (a->count) memcpy(y->data, a->ints, a->count * sizeof(int64_t));
      break;
  }
  return TQ_OK;
}

/* ConstantOfShape: the fill value (default float32 0), of any dtype. */
static tq_status cos_parse(const tq_op_parse *p, void *params) {
  constant_params *cp = params;
  cp->dt = TQ_DTYPE_FLOAT32;
  const tq_attr *a = tq_parse_attr(p, "value");
  if (!a) return TQ_OK;
  if (a->type != TQ_ATTR_TENSOR || !a->t || a->t->numel != 1)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "attribute 'value' must be a one-element tensor");
  cp->dt = a->t->dtype;
  memcpy(cp->value, a->t->data, tq_dtype_size(cp->dt));
  return TQ_OK;
}

/* The output shape: input 0's values. */
static tq_status cos_shape(tq_op_call *c, tq_shape *out) {
  int64_t v[TQ_SHAPE_MAXV];
  size_t n;
  tq_status st = tq_shape_input_ints(c, 0, "input", v, TQ_SHAPE_MAXV, &n);
  if (st != TQ_OK) return st;
  st = tq_shape_check_rank(c, (int)n);
  if (st != TQ_OK) return st;
  tq_shape o = tq_shape_of_rank((int)n);
  for (size_t d = 0; d < n; d++) {
    if (v[d] < 0)
      return tq_call_error(c, TQ_ERR_SHAPE, "shape value %lld is negative",
                           (long long)v[d]);
    o.dims[d] = v[d];
  }
  *out = o;
  return TQ_OK;
}

static tq_status cos_infer(tq_op_call *c) {
  tq_shape o;
  tq_status st = cos_shape(c, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, ((const constant_params *)c->params)->dt, &o);
}

static tq_status cos_forward(tq_op_call *c) {
  const constant_params *cp = c->params;
  tq_tensor *y = c->out[0];
  const tq_shape one = tq_shape_of_rank(0);
  tq_ew_broadcast_copy(cp->value, &one, y->data, &y->shape,
                       tq_dtype_size(cp->dt), tq_ew_threads(c));
  return TQ_OK;
}

/* The number of values. Integers count in int64, floats in double. */
static tq_status range_count(tq_op_call *c, int64_t *n) {
  static const char *const names[] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; i++) {
    tq_status st = tq_shape_need_const(c, i, names[i]);
    if (st != TQ_OK) return st;
    if (c->in[i]->numel != 1 || c->in[i]->dtype != c->in[0]->dtype)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'%s' must be a scalar of the same type as "
                           "'start'",
                           names[i]);
  }
  const tq_dtype dt = c->in[0]->dtype;
  if (tq_dtype_is_int(dt)) {
    int64_t s = tq_load_i64(dt, c->in[0]->data, 0),
            l = tq_load_i64(dt, c->in[1]->data, 0),
            d = tq_load_i64(dt, c->in[2]->data, 0);
    if (d == 0) return tq_call_error(c, TQ_ERR_RANGE, "delta is 0");
    /* Differences in uint64: exact for any pair of int64 values. */
    if (d > 0)
      *n = l > s ? (int64_t)(((uint64_t)l - (uint64_t)s - 1) / (uint64_t)d) + 1
                 : 0;
    else
      *n = s > l ? (int64_t)(((uint64_t)s - (uint64_t)l - 1) /
                             (0u - (uint64_t)d)) +
                       1
                 : 0;
  } else {
    double s = tq_load_f64(dt, c->in[0]->data, 0),
           l = tq_load_f64(dt, c->in[1]->data, 0),
           d = tq_load_f64(dt, c->in[2]->data, 0);
    if (d == 0.0 || d != d || s != s || l != l)
      return tq_call_error(c, TQ_ERR_RANGE,
                           "start, limit and delta must be numbers and "
                           "delta non-zero");
    double cnt = ceil((l - s) / d);
    if (!(cnt < 1e12))
      return tq_call_error(c, TQ_ERR_RANGE, "the range is too long");
    *n = cnt > 0 ? (int64_t)cnt : 0;
  }
  if (*n > ((int64_t)1 << 40))
    return tq_call_error(c, TQ_ERR_RANGE, "the range is too long");
  return TQ_OK;
}

static tq_status range_infer(tq_op_call *c) {
  int64_t n;
  tq_status st = range_count(c, &n);
  if (st != TQ_OK) return st;
  tq_shape o = tq_shape_of_rank(1);
  o.dims[0] = n;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

/* Value i is start + i * delta in the dtype's arithmetic (float32 for
 * float32, as ONNX Runtime; wrapping for integers). */
static tq_status range_forward(tq_op_call *c) {
  int64_t n;
  tq_status st = range_count(c, &n);
  if (st != TQ_OK) return st;
  tq_tensor *y = c->out[0];
  const tq_dtype dt = y->dtype;
  if (dt == TQ_DTYPE_FLOAT32) {
    float s = tq_cf32(c->in[0])[0], d = tq_cf32(c->in[2])[0];
    for (int64_t i = 0; i < n; i++) tq_f32(y)[i] = s + (float)i * d;
  } else if (tq_dtype_is_int(dt)) {
    uint64_t s = (uint64_t)tq_load_i64(dt, c->in[0]->data, 0),
             d = (uint64_t)tq_load_i64(dt, c->in[2]->data, 0);
    for (int64_t i = 0; i < n; i++)
      tq_store_i64(dt, y->data, (size_t)i, tq_wrap_i64(s + (uint64_t)i * d));
  } else {
    double s = tq_load_f64(dt, c->in[0]->data, 0),
           d = tq_load_f64(dt, c->in[2]->data, 0);
    for (int64_t i = 0; i < n; i++)
      tq_store_f64(dt, y->data, (size_t)i, s + (double)i * d);
  }
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_constant[] = {
    {TQ_OP_ONNX(TQ_OP_CONSTANT, "Constant"), TQ_OP_ARITY(0, 0, 1, 1),
     TQ_OP_PARAMS(constant_params, constant_parse), .infer = constant_infer,
     .forward = constant_forward},
    {TQ_OP_ONNX(TQ_OP_CONSTANT_OF_SHAPE, "ConstantOfShape"),
     TQ_OP_ARITY(1, 1, 1, 1), TQ_OP_TYPES(TQ_DTM_I64),
     TQ_OP_PARAMS(constant_params, cos_parse), .infer = cos_infer,
     .forward = cos_forward},
    {TQ_OP_ONNX(TQ_OP_RANGE, "Range"), TQ_OP_ARITY(3, 3, 1, 1),
     TQ_OP_TYPES(TQ_DTM_F32 | TQ_DTM(TQ_DTYPE_FLOAT64) | TQ_DTM_INDEX),
     .infer = range_infer, .forward = range_forward},
};
const size_t tq_ops_constant_count = TQ_OP_COUNT_OF(tq_ops_constant);
