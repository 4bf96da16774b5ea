/* Decoding float8 initializers (onnx_lowbit.h). */
#include "onnx/onnx_lowbit.h"

#include <math.h>

float tq_onnx_fp8_to_float(int code, uint8_t b) {
  /* exponent bits and bias; FNUZ types: bias one more, 0x80 the only NaN,
   * no infinities and no -0 */
  const int e4 = code == 17 || code == 18, fnuz = code == 18 || code == 20;
  const int man_bits = e4 ? 3 : 2, bias = (e4 ? 7 : 15) + fnuz;
  const int sign = b >> 7, exp = (b & 0x7f) >> man_bits;
  const int man = b & ((1 << man_bits) - 1);
  if (fnuz && b == 0x80) return NAN;
  if (!fnuz && e4 && (b & 0x7f) == 0x7f) return sign ? -NAN : NAN;
  if (!fnuz && !e4 && exp == 31)
    return man ? (sign ? -NAN : NAN) : (sign ? -INFINITY : INFINITY);
  const float mag =
      exp ? ldexpf((float)((1 << man_bits) + man), exp - bias - man_bits)
          : ldexpf((float)man, 1 - bias - man_bits);
  return sign ? -mag : mag;
}
