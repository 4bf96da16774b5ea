/* NVFP4's block divisors, eight blocks at once (kind_nvfp4.c's param() on
 * vectors): sb = e4m3((amax / 6) / t) nearest even saturating, d = sb * t,
 * FLT_MAX for blocks that give zeros. Compiled with -mavx2 -mfma -mf16c;
 * only called where the CPU has AVX2; tests/test_formats.c compares it
 * with param() through the whole-block pass. */
#include <float.h>
#include <immintrin.h>
#include <math.h>

#include "quant/avx2_shared.h"
#include "quant/grouped.h"

void tq_avx2_nvfp4_param8(const tq_quantizer *q, const tq_group_env *env,
                          const float *amax, const float *bad, float *s) {
  tq_avx2_rne e4m3;
  tq_avx2_rne_init_fmt(&e4m3, &q->scale_fmt.p, &q->scale_fmt.c);
  __m256 am = _mm256_loadu_ps(amax), t = _mm256_set1_ps(env->tensor_scale);
  __m256 v = _mm256_div_ps(_mm256_div_ps(am, _mm256_set1_ps(6.0f)), t);
  __m256 d = _mm256_mul_ps(tq_avx2_rne_ps(&e4m3, v), t);
  __m256 zero = _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_EQ_OQ);
  zero = _mm256_or_ps(zero, _mm256_cmp_ps(am, _mm256_setzero_ps(), _CMP_EQ_OQ));
  d = _mm256_blendv_ps(d, _mm256_set1_ps(FLT_MAX), zero);
  __m256 nan =
      _mm256_cmp_ps(_mm256_loadu_ps(bad), _mm256_setzero_ps(), _CMP_NEQ_OQ);
  _mm256_storeu_ps(s, _mm256_blendv_ps(d, _mm256_set1_ps(NAN), nan));
}
