/* Internal: little-endian byte access and exact bit-level conversions
 * shared by the file formats (NPY, ONNX). memcpy and byte shifts keep them
 * independent of the host's endianness and alignment. */
#ifndef TQ_CORE_BYTES_H
#define TQ_CORE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t load_le16(const unsigned char *p) {
  return (uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t load_le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline uint64_t load_le64(const unsigned char *p) {
  return (uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
}

static inline void store_le16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)(v & 0xff);
  p[1] = (unsigned char)(v >> 8);
}

static inline void store_le32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)((v >> (8 * i)) & 0xff);
}

/* The two's complement value of the low `bits` bits of u (1..64), without
 * implementation-defined conversions. */
static inline int64_t signed_from_bits(uint64_t u, int bits) {
  const uint64_t top = UINT64_C(1) << (bits - 1);
  const uint64_t mask = top | (top - 1);
  u &= mask;
  if (u < top) return (int64_t)u;
  return -(int64_t)((mask - u) & mask) - 1;
}

static inline float float_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* IEEE binary16 to binary32 is exact; done by hand because C17 has no
 * portable half type. NaN payloads (and the quiet bit) are kept. */
static inline float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return float_from_bits(sign | 0x7f800000u | mant << 13);
  if (exp != 0)
    return float_from_bits(sign | (exp + (127 - 15)) << 23 | mant << 13);
  if (mant == 0) return float_from_bits(sign);
  /* Subnormal: mant * 2^-24. Normalize so the leading 1 lands on bit 10. */
  int e = 127 - 15 + 1;
  while (!(mant & 0x400u)) {
    mant <<= 1;
    e--;
  }
  return float_from_bits(sign | (uint32_t)e << 23 | (mant & 0x3ffu) << 13);
}

#endif
