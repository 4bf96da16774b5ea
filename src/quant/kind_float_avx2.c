/* The AVX2 kernel of floating point (kind_float.c has the rest of the
 * kind): the fast cases first (fp16 by F16C, float(8, m) and any format
 * with round to nearest even by integer tricks, stochastic rounding on the
 * bit pattern), then the general path. Compiled with -mavx2 -mfma -mf16c
 * and only called after the run-time CPU check (dispatch.c); bit for bit
 * the scalar reference. docs/kernels.md says why each step is exact. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "quant/kernel_loop_avx2.h"

ALWAYS_INLINE __m256 pow2_ps(__m256i e) { /* 2^e for -126 <= e <= 127 */
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
}

typedef struct float_vec {
  __m256i emin, man_bits, shift_base;
  __m256 max_f, pos_over, neg_over, inf_out, min_normal;
  int flush;
} float_vec;

ALWAYS_INLINE __m256 float_one(const float_vec *c, __m256 x, __m256 u,
                               tq_round r) {
  const __m256i one = _mm256_set1_epi32(1);
  __m256i xi = _mm256_castps_si256(x);
  __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  __m256 neg =
      _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_setzero_si256(), xi));
  __m256i abits = _mm256_and_si256(xi, _mm256_set1_epi32(0x7fffffff));
  __m256i be = _mm256_srli_epi32(abits, 23);
  /* True exponent (float32 subnormals count as 2^-126) and significand. */
  __m256i e =
      _mm256_sub_epi32(_mm256_max_epi32(be, one), _mm256_set1_epi32(127));
  __m256i has_lead = _mm256_cmpgt_epi32(be, _mm256_setzero_si256());
  __m256i sig =
      _mm256_or_si256(_mm256_and_si256(abits, _mm256_set1_epi32(0x7fffff)),
                      _mm256_and_si256(has_lead, _mm256_set1_epi32(0x800000)));
  /* The target quantum is 2^(max(e, emin) - m): drop sh low bits of sig.
   * Beyond 49 bits only "nonzero" matters (as in kind_fixed.c), so clamp there
   * to keep 2^-sh a normal float. */
  __m256i ee = _mm256_max_epi32(e, c->emin);
  __m256i sh = _mm256_add_epi32(c->shift_base, _mm256_sub_epi32(ee, e));
  sh = _mm256_min_epi32(sh, _mm256_set1_epi32(49));
  __m256i ip = _mm256_srlv_epi32(sig, sh);
  __m256i rem =
      _mm256_and_si256(sig, _mm256_sub_epi32(_mm256_sllv_epi32(one, sh), one));
  __m256 fr =
      _mm256_mul_ps(_mm256_cvtepi32_ps(rem),
                    pow2_ps(_mm256_sub_epi32(_mm256_setzero_si256(), sh)));
  __m256 odd =
      _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(ip, one), one));
  __m256 inc = tq_avx2_round_up_ps(r, fr, odd, neg, u);
  __m256i rm =
      _mm256_sub_epi32(ip, _mm256_castps_si256(inc)); /* + 1 where set */
  /* rm * 2^qe, qe = max(e, emin) - m in [-149, 127]: two exact scalings. */
  __m256i qe = _mm256_sub_epi32(ee, c->man_bits);
  __m256i qe1 = _mm256_max_epi32(qe, _mm256_set1_epi32(-126));
  __m256i qe2 = _mm256_sub_epi32(qe, qe1);
  __m256 mag = _mm256_mul_ps(
      _mm256_mul_ps(_mm256_cvtepi32_ps(rm), pow2_ps(qe1)), pow2_ps(qe2));
  __m256 over = _mm256_cmp_ps(mag, c->max_f, _CMP_GT_OQ);
  mag = _mm256_blendv_ps(mag, _mm256_blendv_ps(c->pos_over, c->neg_over, neg),
                         over);
  if (c->flush) {
    __m256 tiny = _mm256_cmp_ps(mag, c->min_normal, _CMP_LT_OQ);
    mag = _mm256_andnot_ps(tiny, mag);
  }
  __m256 is_inf = _mm256_castsi256_ps(
      _mm256_cmpeq_epi32(abits, _mm256_set1_epi32(0x7f800000)));
  mag = _mm256_blendv_ps(mag, c->inf_out, is_inf);
  __m256 y = _mm256_or_ps(mag, sign);
  return _mm256_blendv_ps(y, x, tq_avx2_nan_mask(x));
}

/* float(8, m) with the defaults shares float32's exponent range, so round
 * to nearest even is an integer add on the bit pattern: a carry out of the
 * mantissa moves to the next binade (or to inf) exactly as IEEE rounds. */
ALWAYS_INLINE __m256 rne8_one(__m256 x, __m256i bias, __m256i keep, int sh) {
  __m256i b = _mm256_castps_si256(x);
  __m256i lsb =
      _mm256_and_si256(_mm256_srli_epi32(b, sh), _mm256_set1_epi32(1));
  b = _mm256_and_si256(_mm256_add_epi32(_mm256_add_epi32(b, bias), lsb), keep);
  return _mm256_blendv_ps(_mm256_castsi256_ps(b), x, tq_avx2_nan_mask(x));
}

/* Stochastic rounding of float(e, m), 1 <= m < 23. Where the target is
 * normal, floor(t + u) on the magnitude is an integer add on the bit
 * pattern followed by truncation: with sh = 23 - m dropped bits and
 * R = U >> (m + 1) (the top sh bits of U), rounding up happens iff
 * rem + R >= 2^sh for t >= 0 and iff R < rem for t < 0, i.e. when adding
 * 2^sh - 1 - R carries; both are exactly the reference's comparisons
 * fr >= 1 - u and u < fr, because 2^sh - rem and rem are multiples of
 * 2^(24-sh) once scaled to 24 bits. For e = 8 this holds down through
 * float32's subnormals (same exponent range); for e < 8, values below
 * 2^emin are scaled by 2^(m - emin) (exact) and rounded like fixed point. */
typedef struct sr_vec {
  __m256i keep, low;
  __m256i r_shift;
  __m256 min_normal, up_scale, down_scale, max_f, over, flush_below;
  int small_exponent, flush;
} sr_vec;

ALWAYS_INLINE __m256 sr_one(const sr_vec *c, __m256 x, __m256 u) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 ax = _mm256_andnot_ps(sign_bit, x);
  __m256 neg = _mm256_castsi256_ps(
      _mm256_cmpgt_epi32(_mm256_setzero_si256(), _mm256_castps_si256(x)));
  __m256i big_u =
      _mm256_cvttps_epi32(_mm256_mul_ps(u, _mm256_set1_ps(0x1p24f)));
  __m256i r = _mm256_srlv_epi32(big_u, c->r_shift);
  r = _mm256_xor_si256(r, _mm256_and_si256(_mm256_castps_si256(neg), c->low));
  __m256 mag = _mm256_castsi256_ps(
      _mm256_and_si256(_mm256_add_epi32(_mm256_castps_si256(ax), r), c->keep));
  if (c->small_exponent) {
    __m256 t = _mm256_mul_ps(ax, c->up_scale);
    __m256 ip = _mm256_round_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256 fr = _mm256_sub_ps(t, ip);
    __m256 up = tq_avx2_round_up_ps(TQ_ROUND_STOCHASTIC, fr,
                                    _mm256_setzero_ps(), neg, u);
    __m256 sub = _mm256_mul_ps(
        _mm256_add_ps(ip, _mm256_and_ps(up, _mm256_set1_ps(1.0f))),
        c->down_scale);
    mag = _mm256_blendv_ps(mag, sub,
                           _mm256_cmp_ps(ax, c->min_normal, _CMP_LT_OQ));
  }
  return tq_avx2_float_finish(mag, x, c->max_f, c->over, c->flush,
                              c->flush_below);
}

static int float_defaults(const tq_quant_params *p) {
  return p->round == TQ_ROUND_EVEN && !p->saturate && !p->finite_nan &&
         !p->finite_only && p->subnormals;
}

#define FLOAT_CASE(R)                                         \
  case R:                                                     \
    RUN_VECTORS(q, in, out, n, rng, R == TQ_ROUND_STOCHASTIC, \
                float_one(&c, x, u, R));                      \
    break;

void tq_avx2_float(const tq_quantizer *q, const float *in, float *out, size_t n,
                   tq_rng_pos rng, double threshold) {
  (void)threshold;
  const tq_quant_params *p = &q->p;
  if (float_defaults(p) && p->exp_bits == 5 && p->man_bits == 10) {
    RUN_VECTORS(q, in, out, n, rng, 0, tq_avx2_fp16_ps(x));
    return;
  }
  /* (With m = 0 the bit above the cut is the exponent's, not the parity of
   * the rounded significand that "even" refers to.) */
  if (float_defaults(p) && p->exp_bits == 8 && p->man_bits >= 1 &&
      p->man_bits < 23) {
    int sh = 23 - p->man_bits;
    __m256i bias = _mm256_set1_epi32((1 << (sh - 1)) - 1);
    __m256i keep = _mm256_set1_epi32((int)(~0u << sh));
    RUN_VECTORS(q, in, out, n, rng, 0, rne8_one(x, bias, keep, sh));
    return;
  }
  if (p->round == TQ_ROUND_EVEN && p->man_bits >= 1 && p->man_bits < 23) {
    tq_avx2_rne c;
    tq_avx2_rne_init(&c, q);
    RUN_VECTORS(q, in, out, n, rng, 0, tq_avx2_rne_ps(&c, x));
    return;
  }
  if (p->round == TQ_ROUND_STOCHASTIC && p->man_bits >= 1 && p->man_bits < 23) {
    int sh = 23 - p->man_bits;
    int small = p->exp_bits < 8;
    sr_vec c = {
        .keep = _mm256_set1_epi32((int)(~0u << sh)),
        .low = _mm256_set1_epi32((int)((1u << sh) - 1)),
        .r_shift = _mm256_set1_epi32(p->man_bits + 1),
        .min_normal = _mm256_set1_ps(small ? ldexpf(1.0f, q->fl.emin) : 0.0f),
        .up_scale = _mm256_set1_ps(
            small ? ldexpf(1.0f, p->man_bits - q->fl.emin) : 1.0f),
        .down_scale = _mm256_set1_ps(
            small ? ldexpf(1.0f, q->fl.emin - p->man_bits) : 1.0f),
        .max_f = _mm256_set1_ps(q->fl.max_f),
        .over = _mm256_set1_ps((float)q->fl.over_pos), /* either sign */
        .flush_below = _mm256_set1_ps(q->fl.min_normal),
        .small_exponent = small,
        .flush = !p->subnormals,
    };
    RUN_VECTORS(q, in, out, n, rng, 1, sr_one(&c, x, u));
    return;
  }
  float_vec c = {
      .emin = _mm256_set1_epi32(q->fl.emin),
      .man_bits = _mm256_set1_epi32(p->man_bits),
      .shift_base = _mm256_set1_epi32(23 - p->man_bits),
      .max_f = _mm256_set1_ps(q->fl.max_f),
      .pos_over = _mm256_set1_ps((float)q->fl.over_pos),
      .neg_over = _mm256_set1_ps((float)q->fl.over_neg),
      .inf_out = _mm256_set1_ps((float)q->fl.inf_out),
      .min_normal = _mm256_set1_ps(q->fl.min_normal),
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
