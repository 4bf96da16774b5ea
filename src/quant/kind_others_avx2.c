/* The AVX2 kernels of logarithmic, sparse, binary, ternary and none, and
 * the ternary threshold's reduction (kind_others.c has the rest of the
 * kinds). Compiled with -mavx2 -mfma -mf16c and only called after the
 * run-time CPU check (dispatch.c); bit for bit the scalar reference. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "quant/kernel_loop_avx2.h"

ALWAYS_INLINE __m256 log_one(__m256 x) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 ax = _mm256_andnot_ps(sign_bit, x);
  /* Subnormal inputs: scale into the normal range first (exact), keep the
   * exponent, scale back (exact: the result is a power of two >= 2^-149). */
  __m256 sub = _mm256_cmp_ps(ax, _mm256_set1_ps(0x1p-126f), _CMP_LT_OQ);
  __m256 scaled =
      _mm256_blendv_ps(ax, _mm256_mul_ps(ax, _mm256_set1_ps(0x1p64f)), sub);
  __m256 p2 =
      _mm256_and_ps(scaled, _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000)));
  p2 = _mm256_blendv_ps(p2, _mm256_mul_ps(p2, _mm256_set1_ps(0x1p-64f)), sub);
  __m256 y = _mm256_or_ps(p2, _mm256_and_ps(x, sign_bit));
  __m256 zero = _mm256_cmp_ps(ax, _mm256_setzero_ps(), _CMP_EQ_OQ);
  y = _mm256_andnot_ps(zero, y); /* +-0 -> +0 */
  __m256 special = _mm256_cmp_ps(ax, _mm256_set1_ps(INFINITY), _CMP_NLT_UQ);
  return _mm256_blendv_ps(y, x, special); /* inf and NaN pass through */
}

void tq_avx2_log(const tq_quantizer *q, const float *in, float *out, size_t n,
                 tq_rng_pos rng, double threshold) {
  (void)q, (void)threshold;
  RUN_VECTORS(q, in, out, n, rng, 0, log_one(x));
}

void tq_avx2_sparse(const tq_quantizer *q, const float *in, float *out,
                    size_t n, tq_rng_pos rng, double threshold) {
  (void)threshold;
  const __m256 t = _mm256_set1_ps(tq_float_above(q->p.threshold));
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  RUN_VECTORS(
      q, in, out, n, rng, 0,
      _mm256_andnot_ps(
          _mm256_cmp_ps(_mm256_andnot_ps(sign_bit, x), t, _CMP_LT_OQ), x));
}

void tq_avx2_binary(const tq_quantizer *q, const float *in, float *out,
                    size_t n, tq_rng_pos rng, double threshold) {
  (void)threshold;
  const __m256 m = _mm256_set1_ps((float)q->p.magnitude);
  const __m256 mneg = _mm256_set1_ps(-(float)q->p.magnitude);
  RUN_VECTORS(
      q, in, out, n, rng, 0,
      _mm256_blendv_ps(
          _mm256_blendv_ps(mneg, m,
                           _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ)),
          x, tq_avx2_nan_mask(x)));
}

ALWAYS_INLINE __m256 ternary_one(__m256 x, __m256 t, __m256 m) {
  __m256 gt = _mm256_cmp_ps(x, t, _CMP_GT_OQ);
  __m256 lt =
      _mm256_cmp_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), t), _CMP_LT_OQ);
  __m256 mneg = _mm256_sub_ps(_mm256_setzero_ps(), m);
  __m256 y = _mm256_or_ps(_mm256_and_ps(gt, m), _mm256_and_ps(lt, mneg));
  return _mm256_blendv_ps(y, x, tq_avx2_nan_mask(x));
}

void tq_avx2_ternary(const tq_quantizer *q, const float *in, float *out,
                     size_t n, tq_rng_pos rng, double threshold) {
  const __m256 t = _mm256_set1_ps(tq_float_below(threshold));
  const __m256 m = _mm256_set1_ps((float)q->p.magnitude);
  RUN_VECTORS(q, in, out, n, rng, 0, ternary_one(x, t, m));
}

/* A vector loop rather than memcpy: glibc's `rep movsb` path runs at a
 * fraction of memory speed on some virtualized AMD CPUs. */
void tq_avx2_copy(const tq_quantizer *q, const float *in, float *out, size_t n,
                  tq_rng_pos rng, double threshold) {
  (void)q, (void)threshold;
  if (in != out) RUN_VECTORS(q, in, out, n, rng, 0, x);
}

/* The ternary threshold's reduction in the order of tq_ref_abs_sum: lane j
 * of lo/hi holds accumulator j/j+4, fed elements 8k+j/8k+4+j. NaNs add 0
 * and are not counted. */
void tq_avx2_abs_sum(const float *x, size_t n, double *sum, size_t *count) {
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX));
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  __m256i cnt = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 ok = _mm256_cmp_ps(v, v, _CMP_ORD_Q);
    cnt = _mm256_sub_epi32(cnt, _mm256_castps_si256(ok));
    v = _mm256_and_ps(v, ok); /* NaN -> +0 */
    lo = _mm256_add_pd(
        lo,
        _mm256_and_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), abs_mask));
    hi = _mm256_add_pd(
        hi,
        _mm256_and_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), abs_mask));
  }
  double acc[8];
  _mm256_storeu_pd(acc, lo);
  _mm256_storeu_pd(acc + 4, hi);
  uint32_t c8[8];
  _mm256_storeu_si256((__m256i *)c8, cnt);
  size_t total = 0;
  for (int j = 0; j < 8; j++) total += c8[j];
  for (; i < n; i++) {
    double v = fabs((double)x[i]);
    if (v != v) continue;
    acc[i % 8] += v;
    total++;
  }
  *sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
         ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  *count = total;
}
