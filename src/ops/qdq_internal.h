/* Internal: what the quantized-tensor operators share (qdq.c: Quantize/
 * DequantizeLinear and DynamicQuantizeLinear; qlinear.c: QLinearConv,
 * QLinearMatMul, ConvInteger, MatMulInteger and the com.microsoft QOperator
 * ops; docs/onnx.md "Quantized models").
 *
 * Quantized elements travel in the runtime's dtypes: int8/uint8 as
 * themselves, int4/uint4 in int8/uint8 (values within [-8, 7] / [0, 15]),
 * int16/uint16 in int64, float8 in float32 (values on the float8 grid). The
 * ONNX element type a QuantizeLinear produces is its `output_dtype`
 * attribute (the importer sets it from the zero point's initializer type
 * where the file leaves it out), so the narrow ranges survive the widening. */
#ifndef TQ_OPS_QDQ_INTERNAL_H
#define TQ_OPS_QDQ_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "ops/op_internal.h"

/* ONNX TensorProto.DataType codes of the quantized element types. */
enum {
  TQ_ONNX_UINT8 = 2,
  TQ_ONNX_INT8 = 3,
  TQ_ONNX_UINT16 = 4,
  TQ_ONNX_INT16 = 5,
  TQ_ONNX_INT32 = 6,
  TQ_ONNX_FLOAT8E4M3FN = 17,
  TQ_ONNX_FLOAT8E4M3FNUZ = 18,
  TQ_ONNX_FLOAT8E5M2 = 19,
  TQ_ONNX_FLOAT8E5M2FNUZ = 20,
  TQ_ONNX_UINT4 = 21,
  TQ_ONNX_INT4 = 22,
};

/* A quantized element type: its ONNX code, the dtype that holds it and its
 * integer range (float8: is_float, the range unused). */
typedef struct tq_qtype {
  int onnx;
  const char *name; /* "int8", "float8e4m3fn"... */
  tq_dtype dtype;
  int bits;
  int64_t qmin, qmax;
  int is_float;
} tq_qtype;

/* The type of ONNX code `onnx`, or NULL when it is no quantized type this
 * build computes (the float8 FNUZ types among them). */
const tq_qtype *tq_qtype_of(int64_t onnx);
/* The integer type a zero point of dtype dt implies (int8, uint8), or
 * NULL. */
const tq_qtype *tq_qtype_of_dtype(tq_dtype dt);

/* How scales (and zero points) map onto a tensor viewed as [outer, dim,
 * inner] around `axis` (ONNX QuantizeLinear: per tensor, per axis, or
 * blocks of `block` along axis with the scale of x's rank). */
typedef struct tq_qdq_layout {
  int axis;      /* -1: per tensor */
  int64_t block; /* 0: per axis (or tensor) */
  size_t outer, dim, inner;
  size_t nblocks; /* blocks along axis (blocked layouts) */
} tq_qdq_layout;

/* Resolves and checks the layout of scale (and zero point zp, may be NULL)
 * against x's shape: errors name the node, the input and the shapes. */
tq_status tq_qdq_layout_resolve(tq_op_call *c, const tq_shape *x,
                                const tq_tensor *scale, const tq_tensor *zp,
                                int64_t axis, int64_t block,
                                tq_qdq_layout *out);

/* The scale index of element (o, d, j) under layout l. */
static inline size_t tq_qdq_scale_index(const tq_qdq_layout *l, size_t o,
                                        size_t d, size_t j) {
  if (l->axis < 0) return 0;
  if (!l->block) return d;
  return (o * l->nblocks + d / (size_t)l->block) * l->inner + j;
}

/* Walks the elements of x in row-major order: each call gives the scale
 * index of the next element. */
typedef struct tq_qdq_iter {
  const tq_qdq_layout *l;
  size_t o, d, j;
} tq_qdq_iter;

static inline size_t tq_qdq_next(tq_qdq_iter *it) {
  const size_t si = tq_qdq_scale_index(it->l, it->o, it->d, it->j);
  if (++it->j == it->l->inner) {
    it->j = 0;
    if (++it->d == it->l->dim) {
      it->d = 0;
      it->o++;
    }
  }
  return si;
}

/* ONNX Runtime's integer quantization of one value (MLAS QuantizeLinear):
 * v = x / scale in float32, NaN to qmin, clamped to [qmin - zp, qmax - zp],
 * rounded to nearest even, plus zp. */
static inline int64_t tq_qdq_quantize_int(float x, float scale, int64_t zp,
                                          int64_t qmin, int64_t qmax) {
  float v = x / scale;
  if (v != v) return qmin;
  const float lo = (float)(qmin - zp), hi = (float)(qmax - zp);
  v = v < lo ? lo : v > hi ? hi : v;
  return (int64_t)nearbyintf(v) + zp;
}

/* Integer value of element i of a zero point (absent: 0). */
static inline int64_t tq_qdq_zp(const tq_tensor *zp, size_t i) {
  return zp ? tq_load_i64(zp->dtype, zp->data, i) : 0;
}

/* Checks that input i is a float32 scalar (a per-tensor scale). */
tq_status tq_qdq_need_scalar(tq_op_call *c, size_t i, const char *what,
                             unsigned dtypes);

/* Runs fn, the infer (forward 0) or forward (forward 1) of an operator
 * that reads float32 input 0 and writes float32 output 0, on an int8 or
 * uint8 input 0: converted to float32 and the output back, both exact,
 * which gives the integer result for operators that only select or move
 * values (MaxPool on the quantized tensors of ONNX Runtime's QOperator
 * models). */
tq_status tq_qdq_as_float(tq_op_call *c, tq_status (*fn)(tq_op_call *),
                          int forward);

#endif
