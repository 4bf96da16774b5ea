/* The AVX2 kernel of fixed point (kind_fixed.c has the rest of the kind).
 * Compiled with -mavx2 -mfma -mf16c and only called after the run-time CPU
 * check (dispatch.c); bit for bit the scalar reference. docs/kernels.md
 * says why each step is exact. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "quant/kernel_loop_avx2.h"

typedef struct fixed_vec {
  __m256 scale, inv_scale, hi_lim, lo_lim, hi_out, lo_out;
  tq_avx2_wrap wrap;
  int lo_inclusive;
} fixed_vec;

ALWAYS_INLINE __m256 fixed_one(const fixed_vec *c, __m256 x, __m256 u,
                               tq_round r, int wrap) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 sign = _mm256_and_ps(x, sign_bit);
  __m256i negi =
      _mm256_cmpgt_epi32(_mm256_setzero_si256(), _mm256_castps_si256(x));
  __m256 neg = _mm256_castsi256_ps(negi);
  __m256 ax = _mm256_andnot_ps(sign_bit, x);
  /* |x| * 2^f is exact unless it drops below 2^-126; then only "nonzero"
   * matters to every rounding decision, so keep a nonzero stand-in. */
  __m256 a = _mm256_mul_ps(ax, c->scale);
  __m256 lost =
      _mm256_andnot_ps(_mm256_cmp_ps(ax, _mm256_setzero_ps(), _CMP_EQ_OQ),
                       _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_EQ_OQ));
  a = _mm256_blendv_ps(a, _mm256_set1_ps(0x1p-149f), lost);
  __m256 ip = _mm256_round_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m256 fr = _mm256_sub_ps(a, ip); /* exact: the bits of a below 2^0 */
  __m256 odd = _mm256_castsi256_ps(_mm256_cmpeq_epi32(
      _mm256_and_si256(_mm256_cvttps_epi32(ip), _mm256_set1_epi32(1)),
      _mm256_set1_epi32(1)));
  __m256 inc = tq_avx2_round_up_ps(r, fr, odd, neg, u);
  /* ip + 1 is exact: fr > 0 implies a < 2^23. */
  __m256 rm = _mm256_add_ps(ip, _mm256_and_ps(inc, _mm256_set1_ps(1.0f)));
  __m256 y;
  if (!wrap) {
    __m256 rs = _mm256_or_ps(rm, sign);
    __m256 over_hi = _mm256_cmp_ps(rs, c->hi_lim, _CMP_GE_OQ);
    __m256 over_lo = c->lo_inclusive ? _mm256_cmp_ps(rs, c->lo_lim, _CMP_LE_OQ)
                                     : _mm256_cmp_ps(rs, c->lo_lim, _CMP_LT_OQ);
    /* r * 2^-f is exact (|r| < 2^32, |f| <= 64); + 0 turns -0 into +0. */
    y = _mm256_add_ps(_mm256_mul_ps(rs, c->inv_scale), _mm256_setzero_ps());
    y = _mm256_blendv_ps(y, c->hi_out, over_hi);
    y = _mm256_blendv_ps(y, c->lo_out, over_lo);
  } else {
    __m256 vf = tq_avx2_wrap_ps(&c->wrap, rm, negi);
    y = _mm256_add_ps(_mm256_mul_ps(vf, c->inv_scale), _mm256_setzero_ps());
    __m256 is_inf = _mm256_cmp_ps(ax, _mm256_set1_ps(INFINITY), _CMP_EQ_OQ);
    y = _mm256_blendv_ps(y, _mm256_blendv_ps(c->hi_out, c->lo_out, neg),
                         is_inf);
  }
  return _mm256_blendv_ps(y, x, tq_avx2_nan_mask(x));
}

#define FIXED_CASE(R)                                           \
  case R:                                                       \
    if (wrap)                                                   \
      RUN_VECTORS(q, in, out, n, rng, R == TQ_ROUND_STOCHASTIC, \
                  fixed_one(&c, x, u, R, 1));                   \
    else                                                        \
      RUN_VECTORS(q, in, out, n, rng, R == TQ_ROUND_STOCHASTIC, \
                  fixed_one(&c, x, u, R, 0));                   \
    break;

void tq_avx2_fixed(const tq_quantizer *q, const float *in, float *out, size_t n,
                   tq_rng_pos rng, double threshold) {
  (void)threshold;
  const tq_fixed_consts *k = &q->fx;
  fixed_vec c = {
      .scale = _mm256_set1_ps(k->scale),
      .inv_scale = _mm256_set1_ps(k->inv_scale),
      .hi_lim = _mm256_set1_ps(k->hi_lim),
      .lo_lim = _mm256_set1_ps(k->lo_lim),
      .hi_out = _mm256_set1_ps(k->hi_out),
      .lo_out = _mm256_set1_ps(k->lo_out),
      .lo_inclusive = k->lo_inclusive,
  };
  tq_avx2_wrap_init(&c.wrap, q);
  int wrap = q->p.overflow == TQ_OVERFLOW_WRAP;
  switch (q->p.round) {
    FIXED_CASE(TQ_ROUND_NEAREST)
    FIXED_CASE(TQ_ROUND_EVEN)
    FIXED_CASE(TQ_ROUND_HALF_UP)
    FIXED_CASE(TQ_ROUND_HALF_DOWN)
    FIXED_CASE(TQ_ROUND_HALF_ZERO)
    FIXED_CASE(TQ_ROUND_DOWN)
    FIXED_CASE(TQ_ROUND_UP)
    FIXED_CASE(TQ_ROUND_ZERO)
    FIXED_CASE(TQ_ROUND_AWAY)
    FIXED_CASE(TQ_ROUND_STOCHASTIC)
    case TQ_ROUND_COUNT: break;
  }
}
