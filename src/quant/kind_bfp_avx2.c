/* Block floating point's steps, eight blocks at once (kind_bfp.c's
 * param() on vectors): 2^max(floor(log2 amax) - M + 2, -149), the
 * smallest step for a zero block. Compiled with -mavx2 -mfma -mf16c; only
 * called where the CPU has AVX2; tests/test_formats.c compares it with
 * param() through the whole-block pass. */
#include <immintrin.h>
#include <math.h>

#include "quant/avx2_shared.h"
#include "quant/grouped.h"

void tq_avx2_bfp_param8(const tq_quantizer *q, const tq_group_env *env,
                        const float *amax, const float *bad, float *s) {
  (void)env;
  __m256i k = _mm256_sub_epi32(tq_avx2_floor_log2_ps(_mm256_loadu_ps(amax)),
                               _mm256_set1_epi32(q->p.width - 2));
  k = _mm256_max_epi32(k, _mm256_set1_epi32(-149));
  __m256 nan =
      _mm256_cmp_ps(_mm256_loadu_ps(bad), _mm256_setzero_ps(), _CMP_NEQ_OQ);
  _mm256_storeu_ps(
      s, _mm256_blendv_ps(tq_avx2_pow2_ps(k), _mm256_set1_ps(NAN), nan));
}
