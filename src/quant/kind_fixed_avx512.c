/* The AVX-512 kernel of fixed point: kind_fixed_avx2.c's steps on 16 lanes
 * with mask registers. Compiled with -mavx512f/bw/dq/vl and only called
 * after the run-time CPU check (dispatch.c); bit for bit the scalar
 * reference. docs/kernels.md says why each step is exact. */
#include <immintrin.h>
#include <math.h>

#include "quant/avx512_shared.h"

typedef struct fixed_vec {
  __m512 scale, inv_scale, hi_lim, lo_lim, hi_out, lo_out;
  tq_avx512_wrap wrap;
  int lo_inclusive;
} fixed_vec;

ALWAYS_INLINE __m512 fixed_one(const fixed_vec *c, __m512 x, __m512 u,
                               tq_round r, int wrap) {
  __mmask16 neg = tq_avx512_neg(x);
  __m512 ax = tq_avx512_abs(x);
  /* |x| * 2^f is exact unless it drops below 2^-126; then only "nonzero"
   * matters to every rounding decision, so keep a nonzero stand-in. The
   * modes that round a tiny magnitude to 0 whatever it is skip the test. */
  __m512 a = _mm512_mul_ps(ax, c->scale);
  if (r == TQ_ROUND_DOWN || r == TQ_ROUND_UP || r == TQ_ROUND_AWAY ||
      r == TQ_ROUND_STOCHASTIC) {
    __mmask16 lost = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_EQ_OQ) &
                     _mm512_cmp_ps_mask(ax, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    a = _mm512_mask_mov_ps(a, lost, _mm512_set1_ps(0x1p-149f));
  }
  __m512 ip = tq_avx512_floor(a);
  __m512 fr = _mm512_sub_ps(a, ip); /* exact: the bits of a below 2^0 */
  __mmask16 odd = 0;
  if (r == TQ_ROUND_EVEN)
    odd = _mm512_test_epi32_mask(_mm512_cvttps_epi32(ip), _mm512_set1_epi32(1));
  __mmask16 inc = tq_avx512_round_up(r, fr, odd, neg, u);
  /* ip + 1 is exact: fr > 0 implies a < 2^23. */
  __m512 rm = _mm512_mask_add_ps(ip, inc, ip, _mm512_set1_ps(1.0f));
  __m512 y;
  if (!wrap) {
    __m512 rs = tq_avx512_or(rm, tq_avx512_sign(x));
    __mmask16 over_hi = _mm512_cmp_ps_mask(rs, c->hi_lim, _CMP_GE_OQ);
    __mmask16 over_lo = c->lo_inclusive
                            ? _mm512_cmp_ps_mask(rs, c->lo_lim, _CMP_LE_OQ)
                            : _mm512_cmp_ps_mask(rs, c->lo_lim, _CMP_LT_OQ);
    /* r * 2^-f is exact (|r| < 2^32, |f| <= 64); + 0 turns -0 into +0. */
    y = _mm512_add_ps(_mm512_mul_ps(rs, c->inv_scale), _mm512_setzero_ps());
    y = _mm512_mask_mov_ps(y, over_hi, c->hi_out);
    y = _mm512_mask_mov_ps(y, over_lo, c->lo_out);
  } else {
    __m512 vf = tq_avx512_wrap_ps(&c->wrap, rm, neg);
    y = _mm512_add_ps(_mm512_mul_ps(vf, c->inv_scale), _mm512_setzero_ps());
    __mmask16 is_inf =
        _mm512_cmp_ps_mask(ax, _mm512_set1_ps(INFINITY), _CMP_EQ_OQ);
    y = _mm512_mask_mov_ps(y, is_inf & (__mmask16)~neg, c->hi_out);
    y = _mm512_mask_mov_ps(y, is_inf & neg, c->lo_out);
  }
  return _mm512_mask_mov_ps(y, tq_avx512_nan(x), x);
}

/* Saturating modes other than stochastic round the signed t = x 2^f in
 * place (tq_avx512_round_ps). Where t underflowed to 0, DOWN, UP and AWAY
 * see the nonzero stand-in of fixed_one. */
ALWAYS_INLINE __m512 round_t(__m512 t, __m512 x, tq_round r) {
  if (r == TQ_ROUND_DOWN || r == TQ_ROUND_UP || r == TQ_ROUND_AWAY) {
    __mmask16 lost = _mm512_cmp_ps_mask(t, _mm512_setzero_ps(), _CMP_EQ_OQ) &
                     _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    t = _mm512_mask_mov_ps(
        t, lost, tq_avx512_or(_mm512_set1_ps(0x1p-149f), tq_avx512_sign(x)));
  }
  return tq_avx512_round_ps(t, _mm512_setzero_ps(), r);
}

/* Saturation as a clamp of the rounded r to [float(qlow), float(qmax)]:
 * r is an integer-valued float, so r > qmax <=> r > float(qmax) and the
 * clamped value scaled by 2^-f is hi_out (likewise below); +-inf clamp,
 * NaN is put back at the end. */
ALWAYS_INLINE __m512 fixed_sat(__m512 x, __m512 scale, __m512 inv_scale,
                               __m512 lo, __m512 hi, tq_round r) {
  __m512 t = _mm512_mul_ps(x, scale);
  /* The modes that subtract t's integer part need it finite: beyond 2^33
   * every mode saturates anyway. */
  if (r == TQ_ROUND_NEAREST || r == TQ_ROUND_HALF_UP ||
      r == TQ_ROUND_HALF_DOWN || r == TQ_ROUND_HALF_ZERO)
    t = _mm512_max_ps(_mm512_min_ps(t, _mm512_set1_ps(0x1p33f)),
                      _mm512_set1_ps(-0x1p33f));
  __m512 rt = round_t(t, x, r);
  rt = _mm512_max_ps(_mm512_min_ps(rt, hi), lo);
  /* exact; + 0 turns -0 into +0 */
  __m512 y = _mm512_add_ps(_mm512_mul_ps(rt, inv_scale), _mm512_setzero_ps());
  return _mm512_mask_mov_ps(y, tq_avx512_nan(x), x);
}

#define FIXED_CASE(R)                                          \
  case R:                                                      \
    if (wrap)                                                  \
      TQ_AVX512_RUN(in, out, n, rng, R == TQ_ROUND_STOCHASTIC, \
                    fixed_one(&c, x, u, R, 1));                \
    else                                                       \
      TQ_AVX512_RUN(in, out, n, rng, R == TQ_ROUND_STOCHASTIC, \
                    fixed_one(&c, x, u, R, 0));                \
    break;

#define SAT_CASE(R)                                               \
  case R:                                                         \
    TQ_AVX512_RUN(in, out, n, rng, 0,                             \
                  fixed_sat(x, c.scale, c.inv_scale, lo, hi, R)); \
    break;

void tq_avx512_fixed(const tq_quantizer *q, const float *in, float *out,
                     size_t n, tq_rng_pos rng, double threshold) {
  (void)threshold;
  const tq_fixed_consts *k = &q->fx;
  fixed_vec c = {
      .scale = _mm512_set1_ps(k->scale),
      .inv_scale = _mm512_set1_ps(k->inv_scale),
      .hi_lim = _mm512_set1_ps(k->hi_lim),
      .lo_lim = _mm512_set1_ps(k->lo_lim),
      .hi_out = _mm512_set1_ps(k->hi_out),
      .lo_out = _mm512_set1_ps(k->lo_out),
      .lo_inclusive = k->lo_inclusive,
  };
  tq_avx512_wrap_init(&c.wrap, q);
  int wrap = q->p.overflow == TQ_OVERFLOW_WRAP;
  if (!wrap && q->p.round != TQ_ROUND_STOCHASTIC) {
    const __m512 lo = _mm512_set1_ps((float)k->qlow),
                 hi = _mm512_set1_ps((float)k->qmax);
    switch (q->p.round) {
      TQ_EACH_DETERMINISTIC_ROUND(SAT_CASE)
      default: break;
    }
    return;
  }
  switch (q->p.round) {
    TQ_EACH_DETERMINISTIC_ROUND(FIXED_CASE)
    FIXED_CASE(TQ_ROUND_STOCHASTIC)
    case TQ_ROUND_COUNT: break;
  }
}
