/* Internal: the AVX2 building blocks of rounding and overflow, written once
 * for the quantizer kernels (kind_*_avx2.c) and the intrinsic GEMM
 * (src/ops/intrinsic_avx2.c). Each mirrors a scalar statement (round.c,
 * kind_fixed.c, kind_float.c) and is tested bit for bit against it.
 * Include only from files compiled with -mavx2 -mfma -mf16c (*_avx2.c).
 *
 * Where a helper exists for float and for double lanes (the _ps / _pd
 * twins), the two differ only in type: the intrinsics are typed, so one
 * body cannot serve both. */
#ifndef TQ_QUANT_AVX2_SHARED_H
#define TQ_QUANT_AVX2_SHARED_H

#include <immintrin.h>
#include <math.h>

#include "quant/quant_internal.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* All-ones lanes where x is NaN. */
ALWAYS_INLINE __m256 tq_avx2_nan_mask(__m256 x) {
  return _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
}

/* The largest and the smallest of the eight lanes (exact in any order). */
ALWAYS_INLINE float tq_avx2_hmax_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

ALWAYS_INLINE float tq_avx2_hmin_ps(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)));
}

/* Lane j of the result: the maximum over the lanes of v[j]. */
ALWAYS_INLINE __m256 tq_avx2_hmax8(const __m256 v[8]) {
  __m256 s01 = _mm256_max_ps(_mm256_shuffle_ps(v[0], v[1], 0x88),
                             _mm256_shuffle_ps(v[0], v[1], 0xDD));
  __m256 s23 = _mm256_max_ps(_mm256_shuffle_ps(v[2], v[3], 0x88),
                             _mm256_shuffle_ps(v[2], v[3], 0xDD));
  __m256 s45 = _mm256_max_ps(_mm256_shuffle_ps(v[4], v[5], 0x88),
                             _mm256_shuffle_ps(v[4], v[5], 0xDD));
  __m256 s67 = _mm256_max_ps(_mm256_shuffle_ps(v[6], v[7], 0x88),
                             _mm256_shuffle_ps(v[6], v[7], 0xDD));
  __m256 t0 = _mm256_max_ps(_mm256_shuffle_ps(s01, s23, 0x88),
                            _mm256_shuffle_ps(s01, s23, 0xDD));
  __m256 t1 = _mm256_max_ps(_mm256_shuffle_ps(s45, s67, 0x88),
                            _mm256_shuffle_ps(s45, s67, 0xDD));
  return _mm256_max_ps(_mm256_permute2f128_ps(t0, t1, 0x20),
                       _mm256_permute2f128_ps(t0, t1, 0x31));
}

/* ---- rounding decisions --------------------------------------------------*/

/* All-ones lanes where the magnitude ip + fr (0 <= fr < 1) of a value with
 * sign `neg` rounds up in mode r: tq_round_increment (round.c) on eight
 * lanes. odd: all-ones where ip is odd (read by TQ_ROUND_EVEN only). u is
 * stochastic rounding's number; u = U 2^-24 and 1 - u are exact and fr is
 * exact, so every comparison is exact. */
ALWAYS_INLINE __m256 tq_avx2_round_up_ps(tq_round r, __m256 fr, __m256 odd,
                                         __m256 neg, __m256 u) {
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 zero = _mm256_setzero_ps();
  __m256 gt = _mm256_cmp_ps(fr, half, _CMP_GT_OQ);
  __m256 ge = _mm256_cmp_ps(fr, half, _CMP_GE_OQ);
  switch (r) {
    case TQ_ROUND_NEAREST: return ge;
    case TQ_ROUND_EVEN:
      return _mm256_or_ps(
          gt, _mm256_and_ps(_mm256_cmp_ps(fr, half, _CMP_EQ_OQ), odd));
    case TQ_ROUND_HALF_UP: return _mm256_blendv_ps(ge, gt, neg);
    case TQ_ROUND_HALF_DOWN: return _mm256_blendv_ps(gt, ge, neg);
    case TQ_ROUND_HALF_ZERO: return gt;
    case TQ_ROUND_DOWN:
      return _mm256_and_ps(neg, _mm256_cmp_ps(fr, zero, _CMP_GT_OQ));
    case TQ_ROUND_UP:
      return _mm256_andnot_ps(neg, _mm256_cmp_ps(fr, zero, _CMP_GT_OQ));
    case TQ_ROUND_ZERO: return zero;
    case TQ_ROUND_AWAY: return _mm256_cmp_ps(fr, zero, _CMP_GT_OQ);
    case TQ_ROUND_STOCHASTIC: {
      __m256 one_minus_u = _mm256_sub_ps(_mm256_set1_ps(1.0f), u);
      __m256 pos = _mm256_cmp_ps(fr, one_minus_u, _CMP_GE_OQ);
      __m256 negc = _mm256_cmp_ps(u, fr, _CMP_LT_OQ);
      return _mm256_blendv_ps(pos, negc, neg);
    }
    case TQ_ROUND_COUNT: break;
  }
  return zero;
}

/* The double twin of tq_avx2_round_up_ps. */
ALWAYS_INLINE __m256d tq_avx2_round_up_pd(tq_round r, __m256d fr, __m256d odd,
                                          __m256d neg, __m256d u) {
  const __m256d half = _mm256_set1_pd(0.5);
  const __m256d zero = _mm256_setzero_pd();
  __m256d gt = _mm256_cmp_pd(fr, half, _CMP_GT_OQ);
  __m256d ge = _mm256_cmp_pd(fr, half, _CMP_GE_OQ);
  switch (r) {
    case TQ_ROUND_NEAREST: return ge;
    case TQ_ROUND_EVEN:
      return _mm256_or_pd(
          gt, _mm256_and_pd(_mm256_cmp_pd(fr, half, _CMP_EQ_OQ), odd));
    case TQ_ROUND_HALF_UP: return _mm256_blendv_pd(ge, gt, neg);
    case TQ_ROUND_HALF_DOWN: return _mm256_blendv_pd(gt, ge, neg);
    case TQ_ROUND_HALF_ZERO: return gt;
    case TQ_ROUND_DOWN:
      return _mm256_and_pd(neg, _mm256_cmp_pd(fr, zero, _CMP_GT_OQ));
    case TQ_ROUND_UP:
      return _mm256_andnot_pd(neg, _mm256_cmp_pd(fr, zero, _CMP_GT_OQ));
    case TQ_ROUND_ZERO: return zero;
    case TQ_ROUND_AWAY: return _mm256_cmp_pd(fr, zero, _CMP_GT_OQ);
    case TQ_ROUND_STOCHASTIC: {
      __m256d one_minus_u = _mm256_sub_pd(_mm256_set1_pd(1.0), u);
      __m256d pos = _mm256_cmp_pd(fr, one_minus_u, _CMP_GE_OQ);
      __m256d negc = _mm256_cmp_pd(u, fr, _CMP_LT_OQ);
      return _mm256_blendv_pd(pos, negc, neg);
    }
    case TQ_ROUND_COUNT: break;
  }
  return zero;
}

/* ---- rounding to integers ------------------------------------------------
 * tq_round_signed on an exact t. The directed modes and even are one
 * instruction; nearest (ties away) is trunc(t) plus trunc(2 * (t -
 * trunc(t))), which is -1, 0 or 1 exactly when the fraction reaches a half
 * (t - trunc(t) and the doubling are exact); the rest decide on the
 * magnitude's fraction (ip + 1 is exact: a nonzero fraction means |t| <
 * 2^23, resp. 2^52). */

ALWAYS_INLINE __m256 tq_avx2_round_ps(__m256 t, __m256 u, tq_round R) {
  const __m256 sgn = _mm256_set1_ps(-0.0f);
  switch (R) {
    case TQ_ROUND_EVEN:
      return _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    case TQ_ROUND_DOWN:
      return _mm256_round_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    case TQ_ROUND_UP:
      return _mm256_round_ps(t, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
    case TQ_ROUND_ZERO:
      return _mm256_round_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    case TQ_ROUND_NEAREST: {
      __m256 i = _mm256_round_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      __m256 f = _mm256_sub_ps(t, i);
      return _mm256_add_ps(
          i, _mm256_round_ps(_mm256_add_ps(f, f),
                             _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC));
    }
    default: break;
  }
  __m256 sign = _mm256_and_ps(t, sgn);
  __m256 neg = _mm256_castsi256_ps(
      _mm256_cmpgt_epi32(_mm256_setzero_si256(), _mm256_castps_si256(t)));
  __m256 a = _mm256_andnot_ps(sgn, t);
  __m256 ip = _mm256_round_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m256 fr = _mm256_sub_ps(a, ip);
  __m256 inc = tq_avx2_round_up_ps(R, fr, _mm256_setzero_ps(), neg, u);
  return _mm256_or_ps(_mm256_add_ps(ip, _mm256_and_ps(inc, _mm256_set1_ps(1))),
                      sign);
}

/* The double twin of tq_avx2_round_ps. */
ALWAYS_INLINE __m256d tq_avx2_round_pd(__m256d t, __m256d u, tq_round R) {
  const __m256d sgn = _mm256_set1_pd(-0.0);
  switch (R) {
    case TQ_ROUND_EVEN:
      return _mm256_round_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    case TQ_ROUND_DOWN:
      return _mm256_round_pd(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    case TQ_ROUND_UP:
      return _mm256_round_pd(t, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
    case TQ_ROUND_ZERO:
      return _mm256_round_pd(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    case TQ_ROUND_NEAREST: {
      __m256d i = _mm256_round_pd(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      __m256d f = _mm256_sub_pd(t, i);
      return _mm256_add_pd(
          i, _mm256_round_pd(_mm256_add_pd(f, f),
                             _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC));
    }
    default: break;
  }
  __m256d sign = _mm256_and_pd(t, sgn);
  __m256d neg = _mm256_castsi256_pd(
      _mm256_cmpgt_epi64(_mm256_setzero_si256(), _mm256_castpd_si256(t)));
  __m256d a = _mm256_andnot_pd(sgn, t);
  __m256d ip = _mm256_round_pd(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m256d fr = _mm256_sub_pd(a, ip);
  __m256d inc = tq_avx2_round_up_pd(R, fr, _mm256_setzero_pd(), neg, u);
  return _mm256_or_pd(_mm256_add_pd(ip, _mm256_and_pd(inc, _mm256_set1_pd(1))),
                      sign);
}

/* ---- fixed point: wrap ---------------------------------------------------*/

/* The w-bit word of a wrapping fixed-point format. */
typedef struct tq_avx2_wrap {
  __m256i shift, mask; /* 32 - w; 2^w - 1 */
  int is_signed, width;
} tq_avx2_wrap;

static inline void tq_avx2_wrap_init(tq_avx2_wrap *c, const tq_quantizer *q) {
  c->shift = _mm256_set1_epi32(32 - q->p.width);
  c->mask =
      _mm256_set1_epi32(q->p.width >= 32 ? -1 : (int)((1u << q->p.width) - 1));
  c->is_signed = q->p.is_signed;
  c->width = q->p.width;
}

/* The wrap of kind_fixed.c's overflow(): the integer with magnitude mag (an
 * integer-valued float) and sign neg (all-ones lanes), modulo 2^w, two's
 * complement where signed, as float with one rounding (as the scalar
 * float(r 2^-f) before scaling). The low 32 bits of the integer come from
 * the significand shifted by the exponent (a shift >= 32 gives 0, right
 * for a float >= 2^56 and for +inf: exact multiples of 2^32) or, below
 * 2^31, from the conversion; then negated where neg, sign-extended from w
 * bits (or masked) and converted. */
ALWAYS_INLINE __m256 tq_avx2_wrap_ps(const tq_avx2_wrap *c, __m256 mag,
                                     __m256i neg) {
  __m256i bits = _mm256_castps_si256(mag);
  __m256i e =
      _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(150));
  __m256i sig =
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff)),
                      _mm256_set1_epi32(0x800000));
  __m256i big = _mm256_sllv_epi32(sig, e);
  __m256i small = _mm256_cvttps_epi32(mag);
  __m256 is_small = _mm256_cmp_ps(mag, _mm256_set1_ps(0x1p31f), _CMP_LT_OQ);
  __m256i low = _mm256_castps_si256(_mm256_blendv_ps(
      _mm256_castsi256_ps(big), _mm256_castsi256_ps(small), is_small));
  __m256i v = _mm256_sub_epi32(_mm256_xor_si256(low, neg), neg);
  if (c->is_signed)
    return _mm256_cvtepi32_ps(
        _mm256_srav_epi32(_mm256_sllv_epi32(v, c->shift), c->shift));
  if (c->width < 32) return _mm256_cvtepi32_ps(_mm256_and_si256(v, c->mask));
  /* unsigned 32 bits: two exact halves, one rounding */
  return _mm256_add_ps(
      _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v, 16)),
                    _mm256_set1_ps(65536.0f)),
      _mm256_cvtepi32_ps(_mm256_and_si256(v, _mm256_set1_epi32(0xffff))));
}

/* ---- floating point with round to nearest even ---------------------------*/

/* fp16 with the defaults is exactly the F16C conversion (round to nearest
 * even, overflow to inf, subnormals kept); NaNs keep their payload. */
ALWAYS_INLINE __m256 tq_avx2_fp16_ps(__m256 x) {
  __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm256_blendv_ps(_mm256_cvtph_ps(h), x, tq_avx2_nan_mask(x));
}

/* Any float(e, m) with round to nearest even (sat, fn, finite and flushing
 * allowed). Where the target is normal its quantum equals float32's ulp
 * scaled by 2^(23-m), so round to nearest even is an integer add on the
 * bit pattern (a carry out of the mantissa moves to the next binade, or to
 * inf); below 2^emin the quantum is the fixed 2^(emin-m), and adding
 * C = 2^(emin-m+23) makes the float32 adder round to exactly that quantum,
 * ties to even (C is an even multiple of it), before C is subtracted again
 * exactly. Infinities go through the integer trick unchanged and land in
 * the overflow test. Needs 1 <= m < 23 (with m = 0 the bit above the cut
 * is the exponent's, not the significand's parity). */
typedef struct tq_avx2_rne {
  __m256i bias, keep;
  int sh, flush;
  __m256 min_normal, magic, max_f, over, flush_below;
} tq_avx2_rne;

/* For the format (p, fl): a quantizer's own, or one used inside another
 * kind (a scale format). */
static inline void tq_avx2_rne_init_fmt(tq_avx2_rne *c,
                                        const tq_quant_params *p,
                                        const tq_float_consts *fl) {
  int sh = 23 - p->man_bits;
  c->bias = _mm256_set1_epi32((1 << (sh - 1)) - 1);
  c->keep = _mm256_set1_epi32((int)(~0u << sh));
  c->sh = sh;
  c->min_normal = _mm256_set1_ps(ldexpf(1.0f, fl->emin));
  c->magic = _mm256_set1_ps(ldexpf(1.0f, fl->emin - p->man_bits + 23));
  c->max_f = _mm256_set1_ps(fl->max_f);
  c->over = _mm256_set1_ps((float)fl->over_pos); /* even: either sign */
  c->flush_below = _mm256_set1_ps(fl->min_normal);
  c->flush = !p->subnormals;
}

static inline void tq_avx2_rne_init(tq_avx2_rne *c, const tq_quantizer *q) {
  tq_avx2_rne_init_fmt(c, &q->p, &q->fl);
}

/* 2^k for -149 <= k <= 127 (0 below): the exponent field for normals,
 * one significand bit for subnormals. */
ALWAYS_INLINE __m256 tq_avx2_pow2_ps(__m256i k) {
  __m256i normal =
      _mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23);
  __m256i sub = _mm256_sllv_epi32(_mm256_set1_epi32(1),
                                  _mm256_add_epi32(k, _mm256_set1_epi32(149)));
  __m256i is_normal = _mm256_cmpgt_epi32(k, _mm256_set1_epi32(-127));
  return _mm256_castsi256_ps(_mm256_blendv_epi8(sub, normal, is_normal));
}

/* floor(log2 x) for finite x > 0 (subnormals scaled into the normals
 * first, exactly); x = 0 gives -191 (below every use). */
ALWAYS_INLINE __m256i tq_avx2_floor_log2_ps(__m256 x) {
  __m256 sub = _mm256_cmp_ps(x, _mm256_set1_ps(0x1p-126f), _CMP_LT_OQ);
  __m256 scaled =
      _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(0x1p64f)), sub);
  __m256i e =
      _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(scaled), 23),
                       _mm256_set1_epi32(127));
  return _mm256_sub_epi32(
      e, _mm256_and_si256(_mm256_castps_si256(sub), _mm256_set1_epi32(64)));
}

/* The end of a float(e, m) kernel on the rounded magnitude mag of x: a
 * magnitude past max gives `over`, subnormal results flush to zero where
 * asked, then the sign of x; NaN x is returned unchanged. */
ALWAYS_INLINE __m256 tq_avx2_float_finish(__m256 mag, __m256 x, __m256 max_f,
                                          __m256 over, int flush,
                                          __m256 flush_below) {
  mag = _mm256_blendv_ps(mag, over, _mm256_cmp_ps(mag, max_f, _CMP_GT_OQ));
  if (flush)
    mag = _mm256_andnot_ps(_mm256_cmp_ps(mag, flush_below, _CMP_LT_OQ), mag);
  __m256 y = _mm256_or_ps(mag, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
  return _mm256_blendv_ps(y, x, tq_avx2_nan_mask(x));
}

ALWAYS_INLINE __m256 tq_avx2_rne_ps(const tq_avx2_rne *c, __m256 x) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 ax = _mm256_andnot_ps(sign_bit, x);
  __m256i b = _mm256_castps_si256(ax);
  __m256i lsb =
      _mm256_and_si256(_mm256_srli_epi32(b, c->sh), _mm256_set1_epi32(1));
  __m256 normal = _mm256_castsi256_ps(_mm256_and_si256(
      _mm256_add_epi32(_mm256_add_epi32(b, c->bias), lsb), c->keep));
  __m256 sub = _mm256_sub_ps(_mm256_add_ps(ax, c->magic), c->magic);
  __m256 mag = _mm256_blendv_ps(normal, sub,
                                _mm256_cmp_ps(ax, c->min_normal, _CMP_LT_OQ));
  return tq_avx2_float_finish(mag, x, c->max_f, c->over, c->flush,
                              c->flush_below);
}

#endif
