/* Element types: names, sizes, and the conversions of ONNX Cast
 * (dtype_internal.h states them). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/dtype_internal.h"

static const struct {
  const char *name;
  size_t size;
} dtypes[TQ_DTYPE_COUNT] = {
    [TQ_DTYPE_FLOAT32] = {"float32", 4},   [TQ_DTYPE_INT64] = {"int64", 8},
    [TQ_DTYPE_INT32] = {"int32", 4},       [TQ_DTYPE_INT8] = {"int8", 1},
    [TQ_DTYPE_UINT8] = {"uint8", 1},       [TQ_DTYPE_BOOL] = {"bool", 1},
    [TQ_DTYPE_FLOAT64] = {"float64", 8},   [TQ_DTYPE_FLOAT16] = {"float16", 2},
    [TQ_DTYPE_BFLOAT16] = {"bfloat16", 2},
};

const char *tq_dtype_name(tq_dtype dtype) {
  return (unsigned)dtype < TQ_DTYPE_COUNT ? dtypes[dtype].name : "unknown";
}

size_t tq_dtype_size(tq_dtype dtype) {
  return (unsigned)dtype < TQ_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

int tq_dtype_from_name(const char *name, tq_dtype *dtype) {
  for (int d = 0; name && d < TQ_DTYPE_COUNT; d++)
    if (strcmp(name, dtypes[d].name) == 0) {
      *dtype = (tq_dtype)d;
      return 0;
    }
  return -1;
}

void tq_dtype_mask_format(unsigned mask, char *buf, size_t size) {
  size_t used = 0;
  int count = 0, total = 0;
  for (int d = 0; d < TQ_DTYPE_COUNT; d++) total += (mask >> d) & 1u;
  if (size) buf[0] = '\0';
  for (int d = 0; d < TQ_DTYPE_COUNT && used < size; d++) {
    if (!(mask & TQ_DTM(d))) continue;
    const char *sep = count == 0 ? "" : count == total - 1 ? " or " : ", ";
    int k = snprintf(buf + used, size - used, "%s%s", sep, dtypes[d].name);
    used += k > 0 ? (size_t)k : 0;
    count++;
  }
}

/* ---- 16-bit floats --------------------------------------------------------*/

/* Rounds the integer m * 2^-shift to nearest even (0 < shift < 64). */
static uint64_t round_shift(uint64_t m, int shift) {
  const uint64_t q = m >> shift, rem = m & ((UINT64_C(1) << shift) - 1);
  const uint64_t half = UINT64_C(1) << (shift - 1);
  return q + (rem > half || (rem == half && (q & 1)));
}

/* binary64 to binary16 in one rounding, on the bits: exact for every
 * input, so float32 inputs (exact in double) round once too. */
uint16_t tq_f16_from_double(double v) {
  uint64_t x;
  memcpy(&x, &v, sizeof x);
  const uint16_t sign = (uint16_t)((x >> 48) & 0x8000u);
  const uint64_t ax = x & ~(UINT64_C(1) << 63);
  const uint64_t inf = UINT64_C(0x7ff0000000000000);
  if (ax > inf) /* NaN: quiet, top payload bits kept */
    return (uint16_t)(sign | 0x7e00u | ((ax >> 42) & 0x3ffu));
  if (ax >= UINT64_C(0x40effe0000000000)) /* >= 65520: infinity */
    return (uint16_t)(sign | 0x7c00u);
  if (ax <= UINT64_C(0x3e60000000000000)) /* <= 2^-25: ties to even 0 */
    return sign;
  const int e = (int)(ax >> 52); /* biased exponent */
  const uint64_t m = (ax & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
  if (e < 1023 - 14) /* below 2^-14: a subnormal, in units of 2^-24 */
    return (uint16_t)(sign | round_shift(m, 1075 - 24 - e));
  /* Rebias the exponent (1023 -> 15) and round 52 mantissa bits to 10; a
   * carry out of the mantissa correctly bumps the exponent. */
  const uint64_t r = ax - ((uint64_t)(1023 - 15) << 52);
  return (uint16_t)(sign | round_shift(r, 42));
}

uint16_t tq_f16_from_float(float v) {
  return tq_f16_from_double((double)v);
}

uint16_t tq_bf16_from_float(float v) {
  uint32_t x;
  memcpy(&x, &v, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet, sign kept */
    return (uint16_t)((x >> 16) | 0x40u);
  /* Round to nearest even on the low 16 bits; overflow reaches inf. */
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* ---- scalars --------------------------------------------------------------*/

int64_t tq_float_to_i64(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775808.0) return INT64_MAX;
  if (v < -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v; /* truncates toward zero */
}

/* Cast of a float to an integer dtype: truncation, saturation, NaN 0. */
static int64_t float_to_int(tq_dtype dt, double v) {
  double lo, hi;
  switch (dt) {
    case TQ_DTYPE_INT32: lo = INT32_MIN, hi = INT32_MAX; break;
    case TQ_DTYPE_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
    case TQ_DTYPE_UINT8: lo = 0, hi = UINT8_MAX; break;
    default: return tq_float_to_i64(v);
  }
  if (v != v) return 0;
  return v <= lo ? (int64_t)lo : v >= hi ? (int64_t)hi : (int64_t)v;
}

void tq_store_i64(tq_dtype dt, void *data, size_t i, int64_t v) {
  switch (dt) {
    case TQ_DTYPE_FLOAT32: ((float *)data)[i] = (float)v; break;
    case TQ_DTYPE_INT64: ((int64_t *)data)[i] = v; break;
    case TQ_DTYPE_INT32:
      ((int32_t *)data)[i] = (int32_t)tq_wrap_to(dt, v);
      break;
    case TQ_DTYPE_INT8: ((int8_t *)data)[i] = (int8_t)tq_wrap_to(dt, v); break;
    case TQ_DTYPE_UINT8:
    case TQ_DTYPE_BOOL:
      ((uint8_t *)data)[i] = (uint8_t)tq_wrap_to(dt, v);
      break;
    case TQ_DTYPE_FLOAT64: ((double *)data)[i] = (double)v; break;
    /* Through float32: any integer of 65520 or more is inf in float16
     * either way, and the ONNX reference rounds to bfloat16 this way. */
    case TQ_DTYPE_FLOAT16:
      ((uint16_t *)data)[i] = tq_f16_from_float((float)v);
      break;
    case TQ_DTYPE_BFLOAT16:
      ((uint16_t *)data)[i] = tq_bf16_from_float((float)v);
      break;
    default: break;
  }
}

void tq_store_f64(tq_dtype dt, void *data, size_t i, double v) {
  switch (dt) {
    case TQ_DTYPE_FLOAT32: ((float *)data)[i] = (float)v; break;
    case TQ_DTYPE_FLOAT64: ((double *)data)[i] = v; break;
    case TQ_DTYPE_FLOAT16: ((uint16_t *)data)[i] = tq_f16_from_double(v); break;
    case TQ_DTYPE_BFLOAT16:
      ((uint16_t *)data)[i] = tq_bf16_from_float((float)v);
      break;
    case TQ_DTYPE_BOOL: ((uint8_t *)data)[i] = v != 0.0; break;
    default: tq_store_i64(dt, data, i, float_to_int(dt, v)); break;
  }
}

/* ---- arrays ---------------------------------------------------------------*/

void tq_dtype_convert(tq_dtype from, const void *src, tq_dtype to, void *dst,
                      size_t n) {
  if (from == to) {
    if (src != dst && n) memcpy(dst, src, n * tq_dtype_size(from));
    return;
  }
  /* Integers go through int64 so that int64 -> float32 rounds once. */
  if (tq_dtype_is_int(from) || from == TQ_DTYPE_BOOL) {
    for (size_t i = 0; i < n; i++)
      tq_store_i64(to, dst, i, tq_load_i64(from, src, i));
    return;
  }
  for (size_t i = 0; i < n; i++)
    tq_store_f64(to, dst, i, tq_load_f64(from, src, i));
}
