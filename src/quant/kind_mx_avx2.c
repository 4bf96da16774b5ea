/* OCP MX's block scales, eight blocks at once (kind_mx.c's param() on
 * vectors): k = floor(log2 amax) - emax_elem (+1 where scale_round=ceil
 * and amax > max * 2^k), clamped to [-127, 127]; MXINT8 divides by
 * 2^(k-6). Compiled with -mavx2 -mfma -mf16c; only called where the CPU
 * has AVX2; tests/test_formats.c compares it with param() through the
 * whole-block pass. A subnormal amax or a product max * 2^k below 2^-128
 * only occurs where k ends below -127, and the clamp decides then. */
#include <immintrin.h>
#include <math.h>

#include "quant/avx2_shared.h"
#include "quant/grouped.h"

void tq_avx2_mx_param8(const tq_quantizer *q, const tq_group_env *env,
                       const float *amax, const float *bad, float *s) {
  (void)env;
  int is_int = !q->p.exp_bits;
  float max = is_int ? 127.0f / 64.0f : (float)q->fl.max;
  int emax = is_int ? 0 : tq_floor_log2f(max);
  __m256 am = _mm256_loadu_ps(amax);
  __m256i k =
      _mm256_sub_epi32(tq_avx2_floor_log2_ps(am), _mm256_set1_epi32(emax));
  k = _mm256_max_epi32(k, _mm256_set1_epi32(-150)); /* a zero block */
  if (q->p.scale_round == TQ_SCALE_ROUND_CEIL) {
    __m256 top = _mm256_mul_ps(_mm256_set1_ps(max), tq_avx2_pow2_ps(k));
    k = _mm256_sub_epi32(
        k, _mm256_castps_si256(_mm256_cmp_ps(am, top, _CMP_GT_OQ)));
  }
  k = _mm256_min_epi32(_mm256_max_epi32(k, _mm256_set1_epi32(-127)),
                       _mm256_set1_epi32(127));
  if (is_int) k = _mm256_sub_epi32(k, _mm256_set1_epi32(6));
  __m256 nan =
      _mm256_cmp_ps(_mm256_loadu_ps(bad), _mm256_setzero_ps(), _CMP_NEQ_OQ);
  _mm256_storeu_ps(
      s, _mm256_blendv_ps(tq_avx2_pow2_ps(k), _mm256_set1_ps(NAN), nan));
}
