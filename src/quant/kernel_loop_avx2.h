/* Internal: the loop every AVX2 quantizer kernel (kind_*_avx2.c) runs.
 * Include only from files compiled with -mavx2 -mfma -mf16c.
 *
 * Each kernel must give the same bits as the scalar reference kernel
 * (ref.c); the tests compare them on edge cases and on millions of random
 * bit patterns. The tail of a buffer (fewer than 8 elements) goes through
 * the same vector code via a padded copy, so there is no second scalar
 * path to keep equal. No FMA is used: a fused a*b+c would not round the
 * way the reference does (-ffp-contract=off keeps the compiler from fusing
 * on its own). */
#ifndef TQ_QUANT_KERNEL_LOOP_AVX2_H
#define TQ_QUANT_KERNEL_LOOP_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "quant/avx2_shared.h"

/* Philox4x32-10 for the 8 blocks b0 .. b0+7 in "slot" form: each 64-bit
 * slot holds one block's word in its low half, so _mm256_mul_epu32 gives a
 * full 32x32 -> 64 product per block with no lane shuffling; the high
 * halves carry junk that no multiply ever reads. Two groups of four blocks
 * run interleaved so their latency chains overlap. Returns u for elements
 * 4*b0 .. 4*b0+31 as four float vectors in element order. */
ALWAYS_INLINE void philox_slots_u(uint64_t seed, uint64_t stream, uint64_t b0,
                                  __m256 u[4]) {
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53);
  const __m256i m1 = _mm256_set1_epi64x(0xCD9E8D57);
  __m256i a0 = _mm256_setr_epi64x((long long)b0, (long long)(b0 + 1),
                                  (long long)(b0 + 2), (long long)(b0 + 3));
  __m256i b0v = _mm256_add_epi64(a0, _mm256_set1_epi64x(4));
  __m256i a1 = _mm256_srli_epi64(a0, 32), b1 = _mm256_srli_epi64(b0v, 32);
  __m256i a2 = _mm256_set1_epi64x((long long)(uint32_t)stream), b2 = a2;
  __m256i a3 = _mm256_set1_epi64x((long long)(stream >> 32)), b3 = a3;
  __m256i k0 = _mm256_set1_epi64x((long long)(uint32_t)seed);
  __m256i k1 = _mm256_set1_epi64x((long long)(seed >> 32));
  const __m256i bump0 = _mm256_set1_epi64x(0x9E3779B9);
  const __m256i bump1 = _mm256_set1_epi64x(0xBB67AE85);
  for (int round = 0; round < 10; round++) {
    __m256i pa0 = _mm256_mul_epu32(a0, m0), pa1 = _mm256_mul_epu32(a2, m1);
    __m256i pb0 = _mm256_mul_epu32(b0v, m0), pb1 = _mm256_mul_epu32(b2, m1);
    a0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pa1, 32), a1), k0);
    a2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pa0, 32), a3), k1);
    a1 = pa1;
    a3 = pa0;
    b0v =
        _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pb1, 32), b1), k0);
    b2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pb0, 32), b3), k1);
    b1 = pb1;
    b3 = pb0;
    /* The key adds carry into the junk halves only. */
    k0 = _mm256_add_epi32(k0, bump0);
    k1 = _mm256_add_epi32(k1, bump1);
  }
  /* Words 0,1 and 2,3 of each block side by side, then blocks in order. */
  __m256i a01 = _mm256_blend_epi32(a0, _mm256_slli_epi64(a1, 32), 0xAA);
  __m256i a23 = _mm256_blend_epi32(a2, _mm256_slli_epi64(a3, 32), 0xAA);
  __m256i b01 = _mm256_blend_epi32(b0v, _mm256_slli_epi64(b1, 32), 0xAA);
  __m256i b23 = _mm256_blend_epi32(b2, _mm256_slli_epi64(b3, 32), 0xAA);
  __m256i a02 = _mm256_unpacklo_epi64(a01, a23); /* blocks 0 | 2 */
  __m256i a13 = _mm256_unpackhi_epi64(a01, a23); /* blocks 1 | 3 */
  __m256i b02 = _mm256_unpacklo_epi64(b01, b23);
  __m256i b13 = _mm256_unpackhi_epi64(b01, b23);
  __m256i w[4] = {_mm256_permute2x128_si256(a02, a13, 0x20),
                  _mm256_permute2x128_si256(a02, a13, 0x31),
                  _mm256_permute2x128_si256(b02, b13, 0x20),
                  _mm256_permute2x128_si256(b02, b13, 0x31)};
  const __m256 scale = _mm256_set1_ps(0x1p-24f);
  for (int k = 0; k < 4; k++)
    u[k] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w[k], 8)), scale);
}

#define TILE 1024

ALWAYS_INLINE __m256 load_u(const uint32_t *u24) {
  __m256i v = _mm256_loadu_si256((const __m256i *)u24);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(0x1p-24f));
}

/* Runs body over n elements in vectors of 8; the tail through a padded copy.
 * `body(x, u)` returns the quantized vector; u is only meaningful when the
 * quantizer rounds stochastically. Stochastic calls whose first element
 * starts a Philox block keep the random numbers in registers, 32 elements
 * per 8 blocks; others go through a buffer of 24-bit words. */
#define RUN_VECTORS(q, in, out, n, rng, stochastic, BODY)                     \
  do {                                                                        \
    if ((stochastic) && ((rng).first & 3) == 0) {                             \
      for (size_t g_ = 0; g_ < (n); g_ += 32) {                               \
        __m256 ug_[4];                                                        \
        philox_slots_u((rng).seed, (rng).stream, ((rng).first + g_) >> 2,     \
                       ug_);                                                  \
        if (g_ + 32 <= (n)) {                                                 \
          for (int k_ = 0; k_ < 4; k_++) {                                    \
            __m256 x = _mm256_loadu_ps((in) + g_ + 8 * k_);                   \
            __m256 u = ug_[k_];                                               \
            (void)u;                                                          \
            _mm256_storeu_ps((out) + g_ + 8 * k_, BODY);                      \
          }                                                                   \
        } else {                                                              \
          float pin_[32] = {0}, pout_[32];                                    \
          memcpy(pin_, (in) + g_, ((n)-g_) * sizeof(float));                  \
          for (int k_ = 0; k_ < 4; k_++) {                                    \
            __m256 x = _mm256_loadu_ps(pin_ + 8 * k_);                        \
            __m256 u = ug_[k_];                                               \
            (void)u;                                                          \
            _mm256_storeu_ps(pout_ + 8 * k_, BODY);                           \
          }                                                                   \
          memcpy((out) + g_, pout_, ((n)-g_) * sizeof(float));                \
        }                                                                     \
      }                                                                       \
      break;                                                                  \
    }                                                                         \
    uint32_t u24_[TILE];                                                      \
    for (size_t t0_ = 0; t0_ < (n); t0_ += TILE) {                            \
      size_t tn_ = (n)-t0_ < TILE ? (n)-t0_ : TILE;                           \
      if (stochastic)                                                         \
        tq_avx2_philox_u24((rng).seed, (rng).stream, (rng).first + t0_, u24_, \
                           (tn_ + 7) & ~(size_t)7);                           \
      size_t i_ = 0;                                                          \
      for (; i_ + 8 <= tn_; i_ += 8) {                                        \
        __m256 x = _mm256_loadu_ps((in) + t0_ + i_);                          \
        __m256 u = stochastic ? load_u(u24_ + i_) : _mm256_setzero_ps();      \
        (void)u;                                                              \
        _mm256_storeu_ps((out) + t0_ + i_, BODY);                             \
      }                                                                       \
      if (i_ < tn_) {                                                         \
        float pin_[8] = {0}, pout_[8];                                        \
        memcpy(pin_, (in) + t0_ + i_, (tn_ - i_) * sizeof(float));            \
        __m256 x = _mm256_loadu_ps(pin_);                                     \
        __m256 u = stochastic ? load_u(u24_ + i_) : _mm256_setzero_ps();      \
        (void)u;                                                              \
        _mm256_storeu_ps(pout_, BODY);                                        \
        memcpy((out) + t0_ + i_, pout_, (tn_ - i_) * sizeof(float));          \
      }                                                                       \
    }                                                                         \
  } while (0)

#endif
