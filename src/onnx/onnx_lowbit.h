/* Internal: ONNX's sub-byte and 8-bit float element types in initializers
 * (int4/uint4 packed two to a byte, float8 one byte each), decoded into the
 * runtime's dtypes: int4 into int8, uint4 into uint8, float8 into float32
 * (every float8 value is exact in float32). */
#ifndef TQ_ONNX_LOWBIT_H
#define TQ_ONNX_LOWBIT_H

#include <stddef.h>
#include <stdint.h>

/* The float32 value of float8 byte b of ONNX type code (17 E4M3FN,
 * 18 E4M3FNUZ, 19 E5M2, 20 E5M2FNUZ; onnx.proto's tables). */
float tq_onnx_fp8_to_float(int code, uint8_t b);

/* Element i of packed 4-bit data: element 2k in the low nibble of byte k,
 * 2k+1 in the high one; sign-extended when is_signed. */
static inline int tq_onnx_nibble(const uint8_t *bytes, size_t i,
                                 int is_signed) {
  const int v = (bytes[i / 2] >> (4 * (i % 2))) & 0xf;
  return is_signed && v >= 8 ? v - 16 : v;
}

#endif
