/* Philox4x32-10, eight blocks at a time: stochastic rounding's random
 * numbers for the AVX2 quantizer kernels and the intrinsic GEMM, equal to
 * tq_philox_fill_u24 (philox.c; the tests pin the two together). Compiled
 * with -mavx2 and only called after the run-time CPU check. */
#include <immintrin.h>
#include <string.h>

#include "quant/avx2_shared.h"

ALWAYS_INLINE void mulhilo(__m256i a, __m256i m, __m256i *hi, __m256i *lo) {
  __m256i even = _mm256_mul_epu32(a, m);
  __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* One Philox round on eight counters at once. */
ALWAYS_INLINE void philox_round(__m256i c[4], __m256i key0, __m256i key1) {
  const __m256i m0 = _mm256_set1_epi32((int)0xD2511F53);
  const __m256i m1 = _mm256_set1_epi32((int)0xCD9E8D57);
  __m256i h0, l0, h1, l1;
  mulhilo(c[0], m0, &h0, &l0);
  mulhilo(c[2], m1, &h1, &l1);
  c[0] = _mm256_xor_si256(_mm256_xor_si256(h1, c[1]), key0);
  c[1] = l1;
  c[2] = _mm256_xor_si256(_mm256_xor_si256(h0, c[3]), key1);
  c[3] = l0;
}

/* Transposes 4 words x 8 blocks into element order, keeps the top 24 bits:
 * out[4*j + k] = word k of block j >> 8. */
ALWAYS_INLINE void store_u24(const __m256i c[4], uint32_t *out) {
  __m256i t0 = _mm256_unpacklo_epi32(c[0], c[1]);
  __m256i t1 = _mm256_unpacklo_epi32(c[2], c[3]);
  __m256i t2 = _mm256_unpackhi_epi32(c[0], c[1]);
  __m256i t3 = _mm256_unpackhi_epi32(c[2], c[3]);
  __m256i a0 = _mm256_unpacklo_epi64(t0, t1),
          a1 = _mm256_unpackhi_epi64(t0, t1);
  __m256i a2 = _mm256_unpacklo_epi64(t2, t3),
          a3 = _mm256_unpackhi_epi64(t2, t3);
  __m256i v0 = _mm256_permute2x128_si256(a0, a1, 0x20);
  __m256i v1 = _mm256_permute2x128_si256(a2, a3, 0x20);
  __m256i v2 = _mm256_permute2x128_si256(a0, a1, 0x31);
  __m256i v3 = _mm256_permute2x128_si256(a2, a3, 0x31);
  _mm256_storeu_si256((__m256i *)out, _mm256_srli_epi32(v0, 8));
  _mm256_storeu_si256((__m256i *)(out + 8), _mm256_srli_epi32(v1, 8));
  _mm256_storeu_si256((__m256i *)(out + 16), _mm256_srli_epi32(v2, 8));
  _mm256_storeu_si256((__m256i *)(out + 24), _mm256_srli_epi32(v3, 8));
}

/* Counters of blocks b0 .. b0+7: {block low, block high, stream, stream}. */
ALWAYS_INLINE void philox_counters(uint64_t b0, uint64_t stream, __m256i c[4]) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i lo = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)b0), lane);
  /* Carry into the high word where the low word wrapped around. */
  __m256i wrapped =
      _mm256_cmpgt_epi32(_mm256_xor_si256(_mm256_set1_epi32((int)(uint32_t)b0),
                                          _mm256_set1_epi32(INT32_MIN)),
                         _mm256_xor_si256(lo, _mm256_set1_epi32(INT32_MIN)));
  c[0] = lo;
  c[1] =
      _mm256_sub_epi32(_mm256_set1_epi32((int)(uint32_t)(b0 >> 32)), wrapped);
  c[2] = _mm256_set1_epi32((int)(uint32_t)stream);
  c[3] = _mm256_set1_epi32((int)(uint32_t)(stream >> 32));
}

/* 24-bit words of the 64 elements of blocks b0 .. b0+15: two independent
 * sets of eight counters, interleaved so their latency chains overlap. */
static void philox16_u24(uint64_t seed, uint64_t stream, uint64_t b0,
                         uint32_t out[64]) {
  __m256i a[4], b[4];
  philox_counters(b0, stream, a);
  philox_counters(b0 + 8, stream, b);
  __m256i key0 = _mm256_set1_epi32((int)(uint32_t)seed);
  __m256i key1 = _mm256_set1_epi32((int)(uint32_t)(seed >> 32));
  const __m256i bump0 = _mm256_set1_epi32((int)0x9E3779B9u);
  const __m256i bump1 = _mm256_set1_epi32((int)0xBB67AE85u);
  for (int round = 0; round < 10; round++) {
    philox_round(a, key0, key1);
    philox_round(b, key0, key1);
    key0 = _mm256_add_epi32(key0, bump0);
    key1 = _mm256_add_epi32(key1, bump1);
  }
  store_u24(a, out);
  store_u24(b, out + 32);
}

/* u24[i] for elements first .. first+n-1 (any n, any alignment): the
 * numbers of tq_philox_fill_u24, 64 at a time. */
void tq_avx2_philox_u24(uint64_t seed, uint64_t stream, uint64_t first,
                        uint32_t *u24, size_t n) {
  size_t skip = (size_t)(first & 3), done = 0;
  uint64_t block = first >> 2;
  uint32_t buf[64];
  while (done < n) {
    size_t take = 64 - skip < n - done ? 64 - skip : n - done;
    if (take == 64) {
      philox16_u24(seed, stream, block, u24 + done);
    } else {
      philox16_u24(seed, stream, block, buf);
      memcpy(u24 + done, buf + skip, take * sizeof *u24);
    }
    done += take;
    skip = 0;
    block += 16;
  }
}
