/* The AVX2 kernel of llama.cpp's blocks (kind_ggml.c has the rest, and
 * the reference): per block of 32, the statistic in vectors, the scale by
 * tq_ggml_scale_of (shared with the reference), the elements in vectors
 * with ggml's operations in ggml's order (separate multiply and add, no
 * FMA). Compiled with -mavx2 -mfma -mf16c and only called after the
 * run-time CPU check; bit for bit the reference (tests/test_formats.c). */
#include <float.h>
#include <immintrin.h>
#include <math.h>

#include "quant/grouped.h"
#include "quant/kernel_loop_avx2.h"

enum { BLOCK = 32 };

/* (int8)v as the reference's to_int8, for the v ggml can reach (finite v
 * within int8, or NaN and infinities, which give 0): t is v rounded toward
 * zero, or by `round` first for q8_0's roundf; + 0 because an integer has
 * no -0. */
ALWAYS_INLINE __m256 int8_of(__m256 v, __m256 t) {
  __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
  __m256 in_range = _mm256_cmp_ps(a, _mm256_set1_ps(0x1p31f), _CMP_LT_OQ);
  return _mm256_add_ps(_mm256_and_ps(t, in_range), _mm256_setzero_ps());
}

ALWAYS_INLINE __m256 trunc8(__m256 v) {
  return int8_of(v, _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC));
}

static void block_avx2(const tq_quantizer *q, const float *x, float *y) {
  __m256 v[4], nan = _mm256_setzero_ps();
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int k = 0; k < 4; k++) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    nan = _mm256_or_ps(nan, tq_avx2_nan_mask(v[k]));
  }
  if (_mm256_movemask_ps(nan)) {
    for (int k = 0; k < 4; k++)
      _mm256_storeu_ps(y + 8 * k, _mm256_set1_ps(NAN));
    return;
  }
  int w = q->p.width;
  if (q->p.int_mode == TQ_INT_ASYM) {
    __m256 mn = _mm256_set1_ps(FLT_MAX), mx = _mm256_set1_ps(-FLT_MAX);
    for (int k = 0; k < 4; k++) {
      mn = _mm256_min_ps(mn, v[k]);
      mx = _mm256_max_ps(mx, v[k]);
    }
    float lo = tq_avx2_hmin_ps(mn);
    tq_ggml_scale sc = tq_ggml_scale_of(q, lo, tq_avx2_hmax_ps(mx));
    __m256 id = _mm256_set1_ps(sc.id), dh = _mm256_set1_ps(sc.dh),
           mh = _mm256_set1_ps(sc.mh), lov = _mm256_set1_ps(lo);
    for (int k = 0; k < 4; k++) {
      __m256 t = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v[k], lov), id),
                               _mm256_set1_ps(0.5f));
      __m256 r = trunc8(t);
      if (w == 4) r = _mm256_min_ps(r, _mm256_set1_ps(15.0f));
      _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(_mm256_mul_ps(r, dh), mh));
    }
    return;
  }
  __m256 am = _mm256_setzero_ps();
  for (int k = 0; k < 4; k++)
    am = _mm256_max_ps(am, _mm256_andnot_ps(sign, v[k]));
  float amax = tq_avx2_hmax_ps(am);
  if (w == 8) {
    tq_ggml_scale sc = tq_ggml_scale_of(q, amax, 0.0f);
    __m256 id = _mm256_set1_ps(sc.id), dh = _mm256_set1_ps(sc.dh);
    for (int k = 0; k < 4; k++) {
      __m256 t = _mm256_mul_ps(v[k], id);
      __m256 r = int8_of(
          t, tq_avx2_round_ps(t, _mm256_setzero_ps(), TQ_ROUND_NEAREST));
      _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(r, dh));
    }
    return;
  }
  /* The first element of largest magnitude, with its sign (+0 when every
   * element is zero: ggml starts from max = 0.0f). */
  float max = 0.0f;
  if (amax > 0.0f) {
    __m256 target = _mm256_set1_ps(amax);
    for (int k = 0; k < 4; k++) {
      int m = _mm256_movemask_ps(
          _mm256_cmp_ps(_mm256_andnot_ps(sign, v[k]), target, _CMP_EQ_OQ));
      if (m) {
        max = x[8 * k + __builtin_ctz((unsigned)m)];
        break;
      }
    }
  }
  tq_ggml_scale sc = tq_ggml_scale_of(q, max, 0.0f);
  float half = (float)(1 << (w - 1));
  __m256 id = _mm256_set1_ps(sc.id), dh = _mm256_set1_ps(sc.dh),
         off = _mm256_set1_ps(half + 0.5f), hv = _mm256_set1_ps(half),
         top = _mm256_set1_ps(2.0f * half - 1.0f);
  for (int k = 0; k < 4; k++) {
    __m256 r = trunc8(_mm256_add_ps(_mm256_mul_ps(v[k], id), off));
    r = _mm256_min_ps(r, top);
    _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_sub_ps(r, hv), dh));
  }
}

void tq_avx2_ggml(const tq_quantizer *q, const float *in, float *out, size_t n,
                  tq_rng_pos rng, double threshold) {
  (void)rng, (void)threshold;
  for (size_t b = 0; b + BLOCK <= n; b += BLOCK) block_avx2(q, in + b, out + b);
}
