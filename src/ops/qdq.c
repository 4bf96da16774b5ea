/* QuantizeLinear, DequantizeLinear (opsets 10-21: per tensor, per axis,
 * blocked; int8/uint8/int16/uint16/int4/uint4 and float8 e4m3fn/e5m2) and
 * DynamicQuantizeLinear (opset 11), computed as ONNX Runtime computes them
 * (docs/onnx.md "Quantized models"):
 *
 *   QuantizeLinear    y = clamp(round_even(x / s) + zp), x / s in float32,
 *                     NaN -> qmin; float8: fp8(x / s + zp), saturating when
 *                     `saturate` (the default)
 *   DequantizeLinear  y = float32(x - zp) * s
 *
 * No backward: imported quantized graphs run; they are not trained. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "ops/op_families.h"
#include "ops/qdq_internal.h"
#include "ops/shape_internal.h"

/* ---- quantized element types ----------------------------------------------*/

static const tq_qtype qtypes[] = {
    {TQ_ONNX_UINT8, "uint8", TQ_DTYPE_UINT8, 8, 0, 255, 0},
    {TQ_ONNX_INT8, "int8", TQ_DTYPE_INT8, 8, -128, 127, 0},
    {TQ_ONNX_UINT16, "uint16", TQ_DTYPE_INT64, 16, 0, 65535, 0},
    {TQ_ONNX_INT16, "int16", TQ_DTYPE_INT64, 16, -32768, 32767, 0},
    {TQ_ONNX_UINT4, "uint4", TQ_DTYPE_UINT8, 4, 0, 15, 0},
    {TQ_ONNX_INT4, "int4", TQ_DTYPE_INT8, 4, -8, 7, 0},
    {TQ_ONNX_FLOAT8E4M3FN, "float8e4m3fn", TQ_DTYPE_FLOAT32, 8, 0, 0, 1},
    {TQ_ONNX_FLOAT8E5M2, "float8e5m2", TQ_DTYPE_FLOAT32, 8, 0, 0, 1},
};

const tq_qtype *tq_qtype_of(int64_t onnx) {
  for (size_t i = 0; i < sizeof qtypes / sizeof qtypes[0]; i++)
    if (qtypes[i].onnx == onnx) return &qtypes[i];
  return NULL;
}

const tq_qtype *tq_qtype_of_dtype(tq_dtype dt) {
  return dt == TQ_DTYPE_INT8    ? tq_qtype_of(TQ_ONNX_INT8)
         : dt == TQ_DTYPE_UINT8 ? tq_qtype_of(TQ_ONNX_UINT8)
                                : NULL;
}

/* ---- scale layouts
 * ---------------------------------------------------------*/

static tq_status layout_error(tq_op_call *c, const tq_shape *x,
                              const tq_tensor *scale, const char *why) {
  char xs[96], ss[96];
  tq_shape_format(x, xs, sizeof xs);
  tq_shape_format(&scale->shape, ss, sizeof ss);
  return tq_call_error(c, TQ_ERR_SHAPE,
                       "input 1 (scale) has shape %s for x %s: %s", ss, xs,
                       why);
}

tq_status tq_qdq_layout_resolve(tq_op_call *c, const tq_shape *x,
                                const tq_tensor *scale, const tq_tensor *zp,
                                int64_t axis, int64_t block,
                                tq_qdq_layout *out) {
  *out = (tq_qdq_layout){.axis = -1, .outer = 1, .dim = 1, .inner = 1};
  const int scalars = zp && zp->numel == 1 && zp->shape.ndim <= 1 &&
                      scale->numel == 1 && scale->shape.ndim <= 1;
  if (zp && !scalars && !tq_shape_equal(&zp->shape, &scale->shape)) {
    char zs[96], ss[96];
    tq_shape_format(&zp->shape, zs, sizeof zs);
    tq_shape_format(&scale->shape, ss, sizeof ss);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "input 2 (zero point) has shape %s, the scale %s: "
                         "they must be alike",
                         zs, ss);
  }
  if (block < 0)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "block_size %lld is negative", (long long)block);
  size_t n = 0;
  tq_shape_check(NULL, x, &n);
  if (block == 0 && scale->numel == 1 && scale->shape.ndim <= 1) {
    out->dim = n;
    return TQ_OK;
  }
  if (x->ndim == 0)
    return layout_error(c, x, scale, "a scalar takes one scale");
  int a;
  tq_status st = tq_call_axis(c, axis, x->ndim, &a);
  if (st != TQ_OK) return st;
  out->axis = a;
  tq_shape_outer_inner(x, a, &out->outer, &out->inner);
  out->dim = (size_t)x->dims[a];
  if (block == 0) {
    if (c->opset < 13)
      return layout_error(c, x, scale,
                          "opsets before 13 take a per-tensor scale only");
    if (scale->shape.ndim != 1 || scale->shape.dims[0] != x->dims[a]) {
      char why[96];
      snprintf(why, sizeof why,
               "per-axis scales along axis %d need shape [%lld]", a,
               (long long)x->dims[a]);
      return layout_error(c, x, scale, why);
    }
    return TQ_OK;
  }
  if (c->opset < 21)
    return layout_error(c, x, scale, "block_size needs opset 21");
  out->block = block;
  out->nblocks = (out->dim + (size_t)block - 1) / (size_t)block;
  int ok = scale->shape.ndim == x->ndim;
  for (int d = 0; ok && d < x->ndim; d++)
    ok = scale->shape.dims[d] == (d == a ? (int64_t)out->nblocks : x->dims[d]);
  if (!ok) {
    char why[128];
    snprintf(
        why, sizeof why,
        "block_size %lld along axis %d needs a scale shaped like x with %zu (= "
        "ceil(%zu / %lld)) on that axis",
        (long long)block, a, out->nblocks, out->dim, (long long)block);
    return layout_error(c, x, scale, why);
  }
  return TQ_OK;
}

tq_status tq_qdq_need_scalar(tq_op_call *c, size_t i, const char *what,
                             unsigned dtypes) {
  const tq_tensor *t = i < c->n_in ? c->in[i] : NULL;
  if (!t) return TQ_OK;
  if (t->numel != 1 || t->shape.ndim > 1)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "input %zu (%s) must hold one value, it has %zu", i,
                         what, t->numel);
  if (!(TQ_DTM(t->dtype) & dtypes))
    return tq_call_error(c, TQ_ERR_UNSUPPORTED, "input %zu (%s) has dtype %s",
                         i, what, tq_dtype_name(t->dtype));
  return TQ_OK;
}

tq_status tq_qdq_as_float(tq_op_call *c, tq_status (*fn)(tq_op_call *),
                          int forward) {
  enum { MAX_IO = 8 };
  if (c->n_in > MAX_IO || c->n_out > MAX_IO)
    return tq_call_error(c, TQ_ERR_INTERNAL, "too many inputs or outputs");
  const tq_tensor *x = c->in[0];
  const tq_tensor *ins[MAX_IO];
  tq_tensor *outs[MAX_IO];
  for (size_t i = 0; i < c->n_in; i++) ins[i] = c->in[i];
  for (size_t i = 0; i < c->n_out; i++) outs[i] = c->out[i];
  tq_tensor *xf = NULL, *yf = NULL;
  tq_status st = tq_tensor_create(c->ctx, TQ_DTYPE_FLOAT32, &x->shape, &xf);
  if (st == TQ_OK && forward)
    st = tq_tensor_create(c->ctx, TQ_DTYPE_FLOAT32, &c->out[0]->shape, &yf);
  tq_op_call v = *c;
  v.in = ins;
  v.out = outs;
  if (st == TQ_OK) {
    if (forward)
      tq_dtype_convert(x->dtype, x->data, TQ_DTYPE_FLOAT32, xf->data, x->numel);
    ins[0] = xf;
    if (forward) outs[0] = yf;
    st = fn(&v);
  }
  if (st == TQ_OK && forward)
    tq_dtype_convert(TQ_DTYPE_FLOAT32, yf->data, x->dtype, c->out[0]->data,
                     yf->numel);
  else if (st == TQ_OK)
    st = tq_call_set_output(c, 0, x->dtype, &c->out[0]->shape);
  tq_tensor_destroy(xf);
  tq_tensor_destroy(yf);
  return st;
}

/* ---- QuantizeLinear
 * ---------------------------------------------------------*/

typedef struct qdq_params {
  int64_t axis, block;
  int saturate;
  int64_t output_dtype; /* ONNX code; 0: from the zero point, else uint8 */
} qdq_params;

static tq_status qdq_parse(const tq_op_parse *p, void *params) {
  qdq_params *q = params;
  q->axis = tq_parse_int(p, "axis", 1);
  q->block = tq_parse_int(p, "block_size", 0);
  q->saturate = tq_parse_int(p, "saturate", 1) != 0;
  q->output_dtype = tq_parse_int(p, "output_dtype", 0);
  return TQ_OK;
}

/* The element type QuantizeLinear produces: output_dtype, else the zero
 * point's, else uint8; it must agree with the zero point's dtype. */
static tq_status quantize_type(tq_op_call *c, const tq_qtype **out) {
  const qdq_params *q = c->params;
  const tq_tensor *zp = c->n_in > 2 ? c->in[2] : NULL;
  const tq_qtype *t = NULL;
  if (q->output_dtype) {
    t = tq_qtype_of(q->output_dtype);
    if (!t)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "output_dtype %lld is not a quantized type this "
                           "build computes (int8, uint8, int16, uint16, int4, "
                           "uint4, float8e4m3fn, float8e5m2)",
                           (long long)q->output_dtype);
  } else if (zp) {
    t = tq_qtype_of_dtype(zp->dtype);
    if (!t)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "input 2 (zero point) has dtype %s and no "
                           "output_dtype says which quantized type it holds",
                           tq_dtype_name(zp->dtype));
  } else {
    t = tq_qtype_of(TQ_ONNX_UINT8);
  }
  if (zp && zp->dtype != t->dtype)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "input 2 (zero point) has dtype %s; the output type "
                         "%s needs %s",
                         tq_dtype_name(zp->dtype), t->name,
                         tq_dtype_name(t->dtype));
  *out = t;
  return TQ_OK;
}

/* The output type and the scale layout of a QuantizeLinear call. */
static tq_status quantize_prepare(tq_op_call *c, const tq_qtype **t,
                                  tq_qdq_layout *l) {
  const qdq_params *q = c->params;
  tq_status st = quantize_type(c, t);
  if (st != TQ_OK) return st;
  return tq_qdq_layout_resolve(c, &c->in[0]->shape, c->in[1],
                               c->n_in > 2 ? c->in[2] : NULL, q->axis, q->block,
                               l);
}

static tq_status quantize_infer(tq_op_call *c) {
  const tq_qtype *t = NULL;
  tq_qdq_layout l;
  tq_status st = quantize_prepare(c, &t, &l);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, t->dtype, &c->in[0]->shape);
}

/* float8 outputs: x / s + zp on the float8 grid, as the quantizer of that
 * format rounds (nearest even; saturating or to NaN/inf on overflow). */
static tq_status quantize_float8(tq_op_call *c, const tq_qtype *t,
                                 const tq_qdq_layout *l) {
  const qdq_params *q = c->params;
  const tq_tensor *x = c->in[0], *s = c->in[1];
  const tq_tensor *zp = c->n_in > 2 ? c->in[2] : NULL;
  float *y = tq_f32(c->out[0]);
  const float *xv = tq_cf32(x), *sv = tq_cf32(s);
  tq_qdq_iter it = {.l = l};
  for (size_t i = 0; i < x->numel; i++) {
    const size_t si = tq_qdq_next(&it);
    y[i] = xv[i] / sv[si] + (zp ? tq_cf32(zp)[si] : 0.0f);
  }
  const char *spec = t->onnx == TQ_ONNX_FLOAT8E4M3FN
                         ? (q->saturate ? "fp8e4m3,sat" : "fp8e4m3")
                         : (q->saturate ? "fp8e5m2,sat" : "fp8e5m2");
  tq_quantizer *fq = NULL;
  tq_status st = tq_quantizer_parse(c->ctx, spec, &fq);
  if (st == TQ_OK) st = tq_quantize(c->ctx, fq, y, y, x->numel, NULL);
  tq_quantizer_destroy(fq);
  return st;
}

static tq_status quantize_forward(tq_op_call *c) {
  const tq_qtype *t = NULL;
  tq_qdq_layout l;
  tq_status st = quantize_prepare(c, &t, &l);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *s = c->in[1];
  const tq_tensor *zp = c->n_in > 2 ? c->in[2] : NULL;
  if (t->is_float) return quantize_float8(c, t, &l);
  const float *xv = tq_cf32(x), *sv = tq_cf32(s);
  void *y = c->out[0]->data;
  tq_qdq_iter it = {.l = &l};
  for (size_t i = 0; i < x->numel; i++) {
    const size_t si = tq_qdq_next(&it);
    tq_store_i64(t->dtype, y, i,
                 tq_qdq_quantize_int(xv[i], sv[si], tq_qdq_zp(zp, si), t->qmin,
                                     t->qmax));
  }
  return TQ_OK;
}

/* ---- DequantizeLinear
 * -------------------------------------------------------*/

static tq_status dequantize_infer(tq_op_call *c) {
  const qdq_params *q = c->params;
  const tq_tensor *x = c->in[0], *zp = c->n_in > 2 ? c->in[2] : NULL;
  if (zp && zp->dtype != x->dtype)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "input 2 (zero point) has dtype %s, x %s: they must "
                         "be alike",
                         tq_dtype_name(zp->dtype), tq_dtype_name(x->dtype));
  if (zp && x->dtype == TQ_DTYPE_INT32)
    for (size_t i = 0; i < zp->numel; i++)
      if (tq_qdq_zp(zp, i) != 0)
        return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                             "an int32 x takes no zero point (element %zu is "
                             "%lld)",
                             i, (long long)tq_qdq_zp(zp, i));
  tq_qdq_layout l;
  tq_status st =
      tq_qdq_layout_resolve(c, &x->shape, c->in[1], zp, q->axis, q->block, &l);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &x->shape);
}

static tq_status dequantize_forward(tq_op_call *c) {
  const qdq_params *q = c->params;
  const tq_tensor *x = c->in[0], *s = c->in[1];
  const tq_tensor *zp = c->n_in > 2 ? c->in[2] : NULL;
  tq_qdq_layout l;
  tq_status st =
      tq_qdq_layout_resolve(c, &x->shape, s, zp, q->axis, q->block, &l);
  if (st != TQ_OK) return st;
  const float *sv = tq_cf32(s);
  float *y = tq_f32(c->out[0]);
  const int is_float = x->dtype == TQ_DTYPE_FLOAT32;
  tq_qdq_iter it = {.l = &l};
  for (size_t i = 0; i < x->numel; i++) {
    const size_t si = tq_qdq_next(&it);
    /* float8 values (held as float32) and integers alike: x - zp is
     * exact, then one float32 multiply. */
    const float v =
        is_float
            ? tq_cf32(x)[i] - (zp ? tq_cf32(zp)[si] : 0.0f)
            : (float)(tq_load_i64(x->dtype, x->data, i) - tq_qdq_zp(zp, si));
    y[i] = v * sv[si];
  }
  return TQ_OK;
}

/* ---- DynamicQuantizeLinear
 * --------------------------------------------------*/

static tq_status dynamic_infer(tq_op_call *c) {
  tq_status st = tq_shape_need_input(c, 0, "x");
  if (st != TQ_OK) return st;
  const tq_shape scalar = {.ndim = 0};
  st = tq_call_set_output(c, 0, TQ_DTYPE_UINT8, &c->in[0]->shape);
  if (st == TQ_OK && c->n_out > 1)
    st = tq_call_set_output(c, 1, TQ_DTYPE_FLOAT32, &scalar);
  if (st == TQ_OK && c->n_out > 2)
    st = tq_call_set_output(c, 2, TQ_DTYPE_UINT8, &scalar);
  return st;
}

/* ONNX's formulas in float32, as ONNX Runtime evaluates them: the range
 * widened to hold 0, s = (hi - lo) / 255 (1 when hi == lo), zp =
 * round_even(clamp(0 - lo / s, 0, 255)). */
static tq_status dynamic_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  const float *xv = tq_cf32(x);
  float lo = 0.0f, hi = 0.0f;
  for (size_t i = 0; i < x->numel; i++) {
    lo = xv[i] < lo ? xv[i] : lo;
    hi = xv[i] > hi ? xv[i] : hi;
  }
  const float s = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  float z = 0.0f - lo / s;
  z = z < 0.0f ? 0.0f : z > 255.0f ? 255.0f : z;
  const int64_t zp = (int64_t)nearbyintf(z);
  uint8_t *y = c->out[0]->data;
  for (size_t i = 0; i < x->numel; i++)
    y[i] = (uint8_t)tq_qdq_quantize_int(xv[i], s, zp, 0, 255);
  if (c->n_out > 1) tq_f32(c->out[1])[0] = s;
  if (c->n_out > 2) ((uint8_t *)c->out[2]->data)[0] = (uint8_t)zp;
  return TQ_OK;
}

/* ---- descriptors
 * -------------------------------------------------------------*/

#define QDQ_INT (TQ_DTM_INT | TQ_DTM_I64)
/* A default-domain descriptor from opset `first` on. */
#define QDQ_OP(op_id, op_name, first)                                   \
  .id = (op_id), .name = (op_name), .domain = "", .min_opset = (first), \
  .max_opset = TQ_OPSET_OPEN

const tq_op_desc tq_ops_qdq[] = {
    {QDQ_OP(TQ_OP_QUANTIZE_LINEAR, "QuantizeLinear", 10),
     TQ_OP_ARITY(2, 3, 1, 1),
     TQ_OP_TYPES(TQ_DTM_F32, TQ_DTM_F32, QDQ_INT | TQ_DTM_F32),
     TQ_OP_PARAMS(qdq_params, qdq_parse), .infer = quantize_infer,
     .forward = quantize_forward},
    {QDQ_OP(TQ_OP_DEQUANTIZE_LINEAR, "DequantizeLinear", 10),
     TQ_OP_ARITY(2, 3, 1, 1),
     TQ_OP_TYPES(QDQ_INT | TQ_DTM_F32, TQ_DTM_F32, QDQ_INT | TQ_DTM_F32),
     TQ_OP_PARAMS(qdq_params, qdq_parse), .infer = dequantize_infer,
     .forward = dequantize_forward},
    {QDQ_OP(TQ_OP_DYNAMIC_QUANTIZE_LINEAR, "DynamicQuantizeLinear", 11),
     TQ_OP_ARITY(1, 1, 1, 3), TQ_OP_TYPES(TQ_DTM_F32), .infer = dynamic_infer,
     .forward = dynamic_forward},
};
const size_t tq_ops_qdq_count = TQ_OP_COUNT_OF(tq_ops_qdq);
