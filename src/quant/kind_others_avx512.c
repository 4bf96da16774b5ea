/* The AVX-512 kernels of logarithmic, sparse, binary, ternary and none:
 * kind_others_avx2.c's on 16 lanes (the ternary threshold's reduction stays
 * the AVX2 one: its order makes it one add chain per eight elements, which
 * 16 lanes do not shorten).
 * Compiled with -mavx512f/bw/dq/vl and only called after the run-time CPU
 * check (dispatch.c); bit for bit the scalar reference. */
#include <immintrin.h>
#include <math.h>

#include "quant/avx512_shared.h"

ALWAYS_INLINE __m512 log_one(__m512 x) {
  __m512 ax = tq_avx512_abs(x);
  /* Subnormal inputs: scale into the normals first (exact), keep the
   * exponent, scale back (exact: a power of two >= 2^-149). */
  __mmask16 sub = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0x1p-126f), _CMP_LT_OQ);
  __m512 scaled = _mm512_mask_mul_ps(ax, sub, ax, _mm512_set1_ps(0x1p64f));
  __m512 p2 = _mm512_castsi512_ps(_mm512_and_si512(
      _mm512_castps_si512(scaled), _mm512_set1_epi32(0x7f800000)));
  p2 = _mm512_mask_mul_ps(p2, sub, p2, _mm512_set1_ps(0x1p-64f));
  __m512 y = tq_avx512_or(p2, tq_avx512_sign(x));
  __mmask16 zero = _mm512_cmp_ps_mask(ax, _mm512_setzero_ps(), _CMP_EQ_OQ);
  y = _mm512_mask_mov_ps(y, zero, _mm512_setzero_ps()); /* +-0 -> +0 */
  __mmask16 special =
      _mm512_cmp_ps_mask(ax, _mm512_set1_ps(INFINITY), _CMP_NLT_UQ);
  return _mm512_mask_mov_ps(y, special, x); /* inf and NaN pass through */
}

void tq_avx512_log(const tq_quantizer *q, const float *in, float *out, size_t n,
                   tq_rng_pos rng, double threshold) {
  (void)q, (void)threshold;
  TQ_AVX512_RUN(in, out, n, rng, 0, log_one(x));
}

void tq_avx512_sparse(const tq_quantizer *q, const float *in, float *out,
                      size_t n, tq_rng_pos rng, double threshold) {
  (void)threshold;
  const __m512 t = _mm512_set1_ps(tq_float_above(q->p.threshold));
  TQ_AVX512_RUN(
      in, out, n, rng, 0,
      _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(tq_avx512_abs(x), t, _CMP_LT_OQ),
                         _mm512_setzero_ps()));
}

ALWAYS_INLINE __m512 binary_one(__m512 x, __m512 m, __m512 mneg) {
  __m512 y = _mm512_mask_mov_ps(
      mneg, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), m);
  return _mm512_mask_mov_ps(y, tq_avx512_nan(x), x);
}

void tq_avx512_binary(const tq_quantizer *q, const float *in, float *out,
                      size_t n, tq_rng_pos rng, double threshold) {
  (void)threshold;
  const __m512 m = _mm512_set1_ps((float)q->p.magnitude);
  const __m512 mneg = _mm512_set1_ps(-(float)q->p.magnitude);
  TQ_AVX512_RUN(in, out, n, rng, 0, binary_one(x, m, mneg));
}

ALWAYS_INLINE __m512 ternary_one(__m512 x, __m512 t, __m512 tneg, __m512 m,
                                 __m512 mneg) {
  __m512 y = _mm512_mask_mov_ps(_mm512_setzero_ps(),
                                _mm512_cmp_ps_mask(x, t, _CMP_GT_OQ), m);
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, tneg, _CMP_LT_OQ), mneg);
  return _mm512_mask_mov_ps(y, tq_avx512_nan(x), x);
}

void tq_avx512_ternary(const tq_quantizer *q, const float *in, float *out,
                       size_t n, tq_rng_pos rng, double threshold) {
  float t = tq_float_below(threshold), m = (float)q->p.magnitude;
  const __m512 tv = _mm512_set1_ps(t), tneg = _mm512_set1_ps(0.0f - t);
  const __m512 mv = _mm512_set1_ps(m), mneg = _mm512_set1_ps(0.0f - m);
  TQ_AVX512_RUN(in, out, n, rng, 0, ternary_one(x, tv, tneg, mv, mneg));
}

/* A vector loop rather than memcpy (kind_others_avx2.c says why). */
void tq_avx512_copy(const tq_quantizer *q, const float *in, float *out,
                    size_t n, tq_rng_pos rng, double threshold) {
  (void)q, (void)threshold;
  if (in != out) TQ_AVX512_RUN(in, out, n, rng, 0, x);
}
