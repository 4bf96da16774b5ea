/* The AVX-512 kernel of floating point: kind_float_avx2.c's cases (fp16 by
 * conversion, float(8, m) and any format with round to nearest even by
 * integer tricks, stochastic rounding on the bit pattern, then the general
 * path) on 16 lanes with mask registers. Compiled with -mavx512f/bw/dq/vl
 * and only called after the run-time CPU check (dispatch.c); bit for bit
 * the scalar reference. kind_float_avx2.c and docs/kernels.md say why each
 * step is exact. */
#include <immintrin.h>
#include <math.h>

#include "quant/avx512_shared.h"

ALWAYS_INLINE __m512 pow2_ps(__m512i e) { /* 2^e for -126 <= e <= 127 */
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(127)), 23));
}

typedef struct float_vec {
  __m512i emin, man_bits, shift_base;
  __m512 max_f, pos_over, neg_over, inf_out, min_normal;
  int flush;
} float_vec;

ALWAYS_INLINE __m512 float_one(const float_vec *c, __m512 x, __m512 u,
                               tq_round r) {
  const __m512i one = _mm512_set1_epi32(1);
  __mmask16 neg = tq_avx512_neg(x);
  __m512i abits =
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff));
  __m512i be = _mm512_srli_epi32(abits, 23);
  /* True exponent (float32 subnormals count as 2^-126) and significand. */
  __m512i e =
      _mm512_sub_epi32(_mm512_max_epi32(be, one), _mm512_set1_epi32(127));
  __m512i sig = _mm512_and_si512(abits, _mm512_set1_epi32(0x7fffff));
  sig = _mm512_mask_or_epi32(sig, _mm512_test_epi32_mask(be, be), sig,
                             _mm512_set1_epi32(0x800000));
  /* Drop sh low bits of sig (quantum 2^(max(e, emin) - m)); beyond 49
   * bits only "nonzero" matters, so clamp to keep 2^-sh normal. */
  __m512i ee = _mm512_max_epi32(e, c->emin);
  __m512i sh = _mm512_add_epi32(c->shift_base, _mm512_sub_epi32(ee, e));
  sh = _mm512_min_epi32(sh, _mm512_set1_epi32(49));
  __m512i ip = _mm512_srlv_epi32(sig, sh);
  __m512i rem =
      _mm512_and_si512(sig, _mm512_sub_epi32(_mm512_sllv_epi32(one, sh), one));
  __m512 fr =
      _mm512_mul_ps(_mm512_cvtepi32_ps(rem),
                    pow2_ps(_mm512_sub_epi32(_mm512_setzero_si512(), sh)));
  __mmask16 odd = _mm512_test_epi32_mask(ip, one);
  __mmask16 inc = tq_avx512_round_up(r, fr, odd, neg, u);
  __m512i rm = _mm512_mask_add_epi32(ip, inc, ip, one);
  /* rm * 2^qe, qe = max(e, emin) - m in [-149, 127]: two exact scalings. */
  __m512i qe = _mm512_sub_epi32(ee, c->man_bits);
  __m512i qe1 = _mm512_max_epi32(qe, _mm512_set1_epi32(-126));
  __m512i qe2 = _mm512_sub_epi32(qe, qe1);
  __m512 mag = _mm512_mul_ps(
      _mm512_mul_ps(_mm512_cvtepi32_ps(rm), pow2_ps(qe1)), pow2_ps(qe2));
  __mmask16 over = _mm512_cmp_ps_mask(mag, c->max_f, _CMP_GT_OQ);
  mag = _mm512_mask_mov_ps(mag, over & (__mmask16)~neg, c->pos_over);
  mag = _mm512_mask_mov_ps(mag, over & neg, c->neg_over);
  if (c->flush)
    mag = _mm512_mask_mov_ps(mag,
                             _mm512_cmp_ps_mask(mag, c->min_normal, _CMP_LT_OQ),
                             _mm512_setzero_ps());
  __mmask16 is_inf =
      _mm512_cmpeq_epi32_mask(abits, _mm512_set1_epi32(0x7f800000));
  mag = _mm512_mask_mov_ps(mag, is_inf, c->inf_out);
  __m512 y = tq_avx512_or(mag, tq_avx512_sign(x));
  return _mm512_mask_mov_ps(y, tq_avx512_nan(x), x);
}

/* float(8, m) with the defaults: round to nearest even is an integer add
 * on the bit pattern (a carry moves to the next binade, or to inf). */
ALWAYS_INLINE __m512 rne8_one(__m512 x, __m512i bias, __m512i keep, int sh) {
  __m512i b = _mm512_castps_si512(x);
  __m512i lsb =
      _mm512_and_si512(_mm512_srli_epi32(b, sh), _mm512_set1_epi32(1));
  b = _mm512_and_si512(_mm512_add_epi32(_mm512_add_epi32(b, bias), lsb), keep);
  return _mm512_mask_mov_ps(_mm512_castsi512_ps(b), tq_avx512_nan(x), x);
}

/* fp16 with the defaults is exactly the conversion (round to nearest even,
 * overflow to inf, subnormals kept); NaNs keep their payload. */
ALWAYS_INLINE __m512 fp16_one(__m512 x) {
  __m256i h = _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_mask_mov_ps(_mm512_cvtph_ps(h), tq_avx512_nan(x), x);
}

/* Stochastic rounding of float(e, m), 1 <= m < 23, on the bit pattern
 * (kind_float_avx2.c's sr_one says why it is the reference's rounding). */
typedef struct sr_vec {
  __m512i keep, low, r_shift;
  __m512 min_normal, up_scale, down_scale, max_f, over, flush_below;
  int small_exponent, flush;
} sr_vec;

ALWAYS_INLINE __m512 sr_one(const sr_vec *c, __m512 x, __m512 u) {
  __m512 ax = tq_avx512_abs(x);
  __mmask16 neg = tq_avx512_neg(x);
  __m512i big_u =
      _mm512_cvttps_epi32(_mm512_mul_ps(u, _mm512_set1_ps(0x1p24f)));
  __m512i r = _mm512_srlv_epi32(big_u, c->r_shift);
  r = _mm512_mask_xor_epi32(r, neg, r, c->low);
  __m512 mag = _mm512_castsi512_ps(
      _mm512_and_si512(_mm512_add_epi32(_mm512_castps_si512(ax), r), c->keep));
  if (c->small_exponent) {
    __m512 t = _mm512_mul_ps(ax, c->up_scale);
    __m512 ip = tq_avx512_floor(t);
    __m512 fr = _mm512_sub_ps(t, ip);
    __mmask16 up = tq_avx512_round_up(TQ_ROUND_STOCHASTIC, fr, 0, neg, u);
    __m512 sub = _mm512_mul_ps(
        _mm512_mask_add_ps(ip, up, ip, _mm512_set1_ps(1.0f)), c->down_scale);
    mag = _mm512_mask_mov_ps(
        mag, _mm512_cmp_ps_mask(ax, c->min_normal, _CMP_LT_OQ), sub);
  }
  return tq_avx512_float_finish(mag, x, c->max_f, c->over, c->flush,
                                c->flush_below);
}

static int float_defaults(const tq_quant_params *p) {
  return p->round == TQ_ROUND_EVEN && !p->saturate && !p->finite_nan &&
         !p->finite_only && p->subnormals;
}

#define FLOAT_CASE(R)                                        \
  case R:                                                    \
    TQ_AVX512_RUN(in, out, n, rng, R == TQ_ROUND_STOCHASTIC, \
                  float_one(&c, x, u, R));                   \
    break;

void tq_avx512_float(const tq_quantizer *q, const float *in, float *out,
                     size_t n, tq_rng_pos rng, double threshold) {
  (void)threshold;
  const tq_quant_params *p = &q->p;
  if (float_defaults(p) && p->exp_bits == 5 && p->man_bits == 10) {
    TQ_AVX512_RUN(in, out, n, rng, 0, fp16_one(x));
    return;
  }
  if (float_defaults(p) && p->exp_bits == 8 && p->man_bits >= 1 &&
      p->man_bits < 23) {
    int sh = 23 - p->man_bits;
    __m512i bias = _mm512_set1_epi32((1 << (sh - 1)) - 1);
    __m512i keep = _mm512_set1_epi32((int)(~0u << sh));
    TQ_AVX512_RUN(in, out, n, rng, 0, rne8_one(x, bias, keep, sh));
    return;
  }
  if (p->round == TQ_ROUND_EVEN && p->man_bits >= 1 && p->man_bits < 23) {
    tq_avx512_rne c;
    tq_avx512_rne_init(&c, p, &q->fl);
    TQ_AVX512_RUN(in, out, n, rng, 0, tq_avx512_rne_ps(&c, x));
    return;
  }
  if (p->round == TQ_ROUND_STOCHASTIC && p->man_bits >= 1 && p->man_bits < 23) {
    int sh = 23 - p->man_bits;
    int small = p->exp_bits < 8;
    sr_vec c = {
        .keep = _mm512_set1_epi32((int)(~0u << sh)),
        .low = _mm512_set1_epi32((int)((1u << sh) - 1)),
        .r_shift = _mm512_set1_epi32(p->man_bits + 1),
        .min_normal = _mm512_set1_ps(small ? ldexpf(1.0f, q->fl.emin) : 0.0f),
        .up_scale = _mm512_set1_ps(
            small ? ldexpf(1.0f, p->man_bits - q->fl.emin) : 1.0f),
        .down_scale = _mm512_set1_ps(
            small ? ldexpf(1.0f, q->fl.emin - p->man_bits) : 1.0f),
        .max_f = _mm512_set1_ps(q->fl.max_f),
        .over = _mm512_set1_ps((float)q->fl.over_pos), /* either sign */
        .flush_below = _mm512_set1_ps(q->fl.min_normal),
        .small_exponent = small,
        .flush = !p->subnormals,
    };
    TQ_AVX512_RUN(in, out, n, rng, 1, sr_one(&c, x, u));
    return;
  }
  float_vec c = {
      .emin = _mm512_set1_epi32(q->fl.emin),
      .man_bits = _mm512_set1_epi32(p->man_bits),
      .shift_base = _mm512_set1_epi32(23 - p->man_bits),
      .max_f = _mm512_set1_ps(q->fl.max_f),
      .pos_over = _mm512_set1_ps((float)q->fl.over_pos),
      .neg_over = _mm512_set1_ps((float)q->fl.over_neg),
      .inf_out = _mm512_set1_ps((float)q->fl.inf_out),
      .min_normal = _mm512_set1_ps(q->fl.min_normal),
      .flush = !p->subnormals,
  };
  switch (p->round) {
    FLOAT_CASE(TQ_ROUND_EVEN)
    FLOAT_CASE(TQ_ROUND_NEAREST)
    FLOAT_CASE(TQ_ROUND_ZERO)
    FLOAT_CASE(TQ_ROUND_DOWN)
    FLOAT_CASE(TQ_ROUND_UP)
    FLOAT_CASE(TQ_ROUND_STOCHASTIC)
    default: tq_ref_kernel(q, in, out, n, rng, threshold); break;
  }
}
