/* Internal: element types. Masks of dtypes (what an operator takes),
 * element access by dtype for the operators' generic paths, and the
 * conversions of ONNX Cast, written once for Cast, NPY, ONNX import and
 * datasets.
 *
 * Conversions (docs/ops.md, Cast; the ONNX reference implementation):
 *   - to float16: round to nearest even, directly from float32 or float64;
 *     to bfloat16: to float32 first (round to nearest even), then to
 *     nearest even; overflow gives infinity; NaN stays a (quiet) NaN;
 *   - floats to integers: truncation toward zero; NaN gives 0 and values
 *     beyond the target's range saturate (ONNX leaves both undefined);
 *   - integers to narrower integers: two's complement wrap (as NumPy);
 *   - to bool: any non-zero value (NaN included) is 1;
 *   - integers to floats: round to nearest even, directly. */
#ifndef TQ_CORE_DTYPE_INTERNAL_H
#define TQ_CORE_DTYPE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/bytes.h"
#include "tensorquant/tensor.h"

/* ---- masks of dtypes ------------------------------------------------------*/

#define TQ_DTM(dt) (1u << (dt))
enum {
  TQ_DTM_F32 = TQ_DTM(TQ_DTYPE_FLOAT32),
  TQ_DTM_I64 = TQ_DTM(TQ_DTYPE_INT64),
  TQ_DTM_BOOL = TQ_DTM(TQ_DTYPE_BOOL),
  /* float64, float16, bfloat16: computed in double by the generic paths */
  TQ_DTM_WIDE_FLOAT = TQ_DTM(TQ_DTYPE_FLOAT64) | TQ_DTM(TQ_DTYPE_FLOAT16) |
                      TQ_DTM(TQ_DTYPE_BFLOAT16),
  TQ_DTM_FLOAT = TQ_DTM_F32 | TQ_DTM_WIDE_FLOAT,
  TQ_DTM_INDEX = TQ_DTM_I64 | TQ_DTM(TQ_DTYPE_INT32),
  TQ_DTM_SIGNED = TQ_DTM_INDEX | TQ_DTM(TQ_DTYPE_INT8),
  TQ_DTM_INT = TQ_DTM_SIGNED | TQ_DTM(TQ_DTYPE_UINT8),
  TQ_DTM_NUM = TQ_DTM_FLOAT | TQ_DTM_INT,
  TQ_DTM_ANY = TQ_DTM_NUM | TQ_DTM_BOOL,
};

/* Writes the names of the dtypes in mask ("int32 or int64") into buf. */
void tq_dtype_mask_format(unsigned mask, char *buf, size_t size);

static inline int tq_dtype_is_int(tq_dtype dt) {
  return (TQ_DTM(dt) & TQ_DTM_INT) != 0;
}
static inline int tq_dtype_is_float(tq_dtype dt) {
  return (TQ_DTM(dt) & TQ_DTM_FLOAT) != 0;
}

/* ---- 16-bit floats --------------------------------------------------------*/

/* Round to nearest even; NaN keeps its sign and top payload bits, quiet. */
uint16_t tq_f16_from_double(double v);
uint16_t tq_f16_from_float(float v);
uint16_t tq_bf16_from_float(float v);

static inline float tq_bf16_to_float(uint16_t h) {
  return float_from_bits((uint32_t)h << 16);
}

/* ---- element access (the operators' generic paths) ------------------------*/

/* Element i of data (dtype dt) as a double: exact for every dtype except
 * int64 beyond 2^53 (rounded to nearest even). */
static inline double tq_load_f64(tq_dtype dt, const void *data, size_t i) {
  switch (dt) {
    case TQ_DTYPE_FLOAT32: return ((const float *)data)[i];
    case TQ_DTYPE_INT64: return (double)((const int64_t *)data)[i];
    case TQ_DTYPE_INT32: return ((const int32_t *)data)[i];
    case TQ_DTYPE_INT8: return ((const int8_t *)data)[i];
    case TQ_DTYPE_UINT8:
    case TQ_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    case TQ_DTYPE_FLOAT64: return ((const double *)data)[i];
    case TQ_DTYPE_FLOAT16: return half_to_float(((const uint16_t *)data)[i]);
    case TQ_DTYPE_BFLOAT16:
      return tq_bf16_to_float(((const uint16_t *)data)[i]);
    default: return 0.0;
  }
}

/* Element i of an integer or bool tensor as an int64 (floats: Cast's
 * conversion). */
int64_t tq_float_to_i64(double v);
static inline int64_t tq_load_i64(tq_dtype dt, const void *data, size_t i) {
  switch (dt) {
    case TQ_DTYPE_INT64: return ((const int64_t *)data)[i];
    case TQ_DTYPE_INT32: return ((const int32_t *)data)[i];
    case TQ_DTYPE_INT8: return ((const int8_t *)data)[i];
    case TQ_DTYPE_UINT8:
    case TQ_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    default: return tq_float_to_i64(tq_load_f64(dt, data, i));
  }
}

/* Two's complement wrap of v to the dtype's width (no undefined
 * behaviour). */
static inline int64_t tq_wrap_to(tq_dtype dt, int64_t v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  switch (dt) {
    case TQ_DTYPE_INT32: {
      uint32_t w = (uint32_t)u;
      int32_t r;
      memcpy(&r, &w, sizeof r);
      return r;
    }
    case TQ_DTYPE_INT8: {
      uint8_t w = (uint8_t)u;
      int8_t r;
      memcpy(&r, &w, sizeof r);
      return r;
    }
    case TQ_DTYPE_UINT8: return (int64_t)(uint8_t)u;
    case TQ_DTYPE_BOOL: return v != 0;
    default: return v;
  }
}

/* Stores v (an integer value) as element i of dtype dt: integers wrap to
 * the width, bools are v != 0, floats round to nearest even. */
void tq_store_i64(tq_dtype dt, void *data, size_t i, int64_t v);

/* Stores v as element i of dtype dt with Cast's conversion from float64
 * (float16 directly, bfloat16 through float32). */
void tq_store_f64(tq_dtype dt, void *data, size_t i, double v);

/* ---- whole arrays ---------------------------------------------------------*/

/* dst[0..n) (dtype to) = src[0..n) (dtype from), converted as ONNX Cast
 * does (see the top of this file). src and dst must not overlap unless
 * they are the same array of the same dtype. */
void tq_dtype_convert(tq_dtype from, const void *src, tq_dtype to, void *dst,
                      size_t n);

#endif
