/* AVX2+FMA kernels. Compiled with -mavx2 -mfma -mf16c and only called after
 * a run-time CPU check (dispatch.c). Each must give the same bits as its
 * reference kernel in ref.c; the tests compare them on edge cases and on
 * millions of random bit patterns.
 *
 * The tail of a buffer (fewer than 8 elements) goes through the same vector
 * code via a padded copy, so there is no second scalar path to keep equal.
 *
 * The arithmetic is exact by construction; comments say why at each step.
 * (No FMA is used: a fused a*b+c would not round the way the reference
 * does. -ffp-contract=off keeps the compiler from fusing on its own.) */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "quant/avx2_shared.h"
#include "quant/quant_internal.h"

/* ---- Philox4x32-10, eight blocks at a time -------------------------------*/

ALWAYS_INLINE void mulhilo(__m256i a, __m256i m, __m256i *hi, __m256i *lo) {
  __m256i even = _mm256_mul_epu32(a, m);
  __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* One Philox round on eight counters at once. */
ALWAYS_INLINE void philox_round(__m256i c[4], __m256i key0, __m256i key1) {
  const __m256i m0 = _mm256_set1_epi32((int)0xD2511F53);
  const __m256i m1 = _mm256_set1_epi32((int)0xCD9E8D57);
  __m256i h0, l0, h1, l1;
  mulhilo(c[0], m0, &h0, &l0);
  mulhilo(c[2], m1, &h1, &l1);
  c[0] = _mm256_xor_si256(_mm256_xor_si256(h1, c[1]), key0);
  c[1] = l1;
  c[2] = _mm256_xor_si256(_mm256_xor_si256(h0, c[3]), key1);
  c[3] = l0;
}

/* Transposes 4 words x 8 blocks into element order, keeps the top 24 bits:
 * out[4*j + k] = word k of block j >> 8. */
ALWAYS_INLINE void store_u24(const __m256i c[4], uint32_t *out) {
  __m256i t0 = _mm256_unpacklo_epi32(c[0], c[1]);
  __m256i t1 = _mm256_unpacklo_epi32(c[2], c[3]);
  __m256i t2 = _mm256_unpackhi_epi32(c[0], c[1]);
  __m256i t3 = _mm256_unpackhi_epi32(c[2], c[3]);
  __m256i a0 = _mm256_unpacklo_epi64(t0, t1),
          a1 = _mm256_unpackhi_epi64(t0, t1);
  __m256i a2 = _mm256_unpacklo_epi64(t2, t3),
          a3 = _mm256_unpackhi_epi64(t2, t3);
  __m256i v0 = _mm256_permute2x128_si256(a0, a1, 0x20);
  __m256i v1 = _mm256_permute2x128_si256(a2, a3, 0x20);
  __m256i v2 = _mm256_permute2x128_si256(a0, a1, 0x31);
  __m256i v3 = _mm256_permute2x128_si256(a2, a3, 0x31);
  _mm256_storeu_si256((__m256i *)out, _mm256_srli_epi32(v0, 8));
  _mm256_storeu_si256((__m256i *)(out + 8), _mm256_srli_epi32(v1, 8));
  _mm256_storeu_si256((__m256i *)(out + 16), _mm256_srli_epi32(v2, 8));
  _mm256_storeu_si256((__m256i *)(out + 24), _mm256_srli_epi32(v3, 8));
}

/* Counters of blocks b0 .. b0+7: {block low, block high, stream, stream}. */
ALWAYS_INLINE void philox_counters(uint64_t b0, uint64_t stream, __m256i c[4]) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i lo = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)b0), lane);
  /* Carry into the high word where the low word wrapped around. */
  __m256i wrapped =
      _mm256_cmpgt_epi32(_mm256_xor_si256(_mm256_set1_epi32((int)(uint32_t)b0),
                                          _mm256_set1_epi32(INT32_MIN)),
                         _mm256_xor_si256(lo, _mm256_set1_epi32(INT32_MIN)));
  c[0] = lo;
  c[1] =
      _mm256_sub_epi32(_mm256_set1_epi32((int)(uint32_t)(b0 >> 32)), wrapped);
  c[2] = _mm256_set1_epi32((int)(uint32_t)stream);
  c[3] = _mm256_set1_epi32((int)(uint32_t)(stream >> 32));
}

/* 24-bit words of the 64 elements of blocks b0 .. b0+15: two independent
 * sets of eight counters, interleaved so their latency chains overlap. */
static void philox16_u24(uint64_t seed, uint64_t stream, uint64_t b0,
                         uint32_t out[64]) {
  __m256i a[4], b[4];
  philox_counters(b0, stream, a);
  philox_counters(b0 + 8, stream, b);
  __m256i key0 = _mm256_set1_epi32((int)(uint32_t)seed);
  __m256i key1 = _mm256_set1_epi32((int)(uint32_t)(seed >> 32));
  const __m256i bump0 = _mm256_set1_epi32((int)0x9E3779B9u);
  const __m256i bump1 = _mm256_set1_epi32((int)0xBB67AE85u);
  for (int round = 0; round < 10; round++) {
    philox_round(a, key0, key1);
    philox_round(b, key0, key1);
    key0 = _mm256_add_epi32(key0, bump0);
    key1 = _mm256_add_epi32(key1, bump1);
  }
  store_u24(a, out);
  store_u24(b, out + 32);
}

/* Philox4x32-10 for the 8 blocks b0 .. b0+7 in "slot" form: each 64-bit
 * slot holds one block's word in its low half, so _mm256_mul_epu32 gives a
 * full 32x32 -> 64 product per block with no lane shuffling; the high
 * halves carry junk that no multiply ever reads. Two groups of four blocks
 * run interleaved so their latency chains overlap. Returns u for elements
 * 4*b0 .. 4*b0+31 as four float vectors in element order. */
ALWAYS_INLINE void philox_slots_u(uint64_t seed, uint64_t stream, uint64_t b0,
                                  __m256 u[4]) {
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53);
  const __m256i m1 = _mm256_set1_epi64x(0xCD9E8D57);
  __m256i a0 = _mm256_setr_epi64x((long long)b0, (long long)(b0 + 1),
                                  (long long)(b0 + 2), (long long)(b0 + 3));
  __m256i b0v = _mm256_add_epi64(a0, _mm256_set1_epi64x(4));
  __m256i a1 = _mm256_srli_epi64(a0, 32), b1 = _mm256_srli_epi64(b0v, 32);
  __m256i a2 = _mm256_set1_epi64x((long long)(uint32_t)stream), b2 = a2;
  __m256i a3 = _mm256_set1_epi64x((long long)(stream >> 32)), b3 = a3;
  __m256i k0 = _mm256_set1_epi64x((long long)(uint32_t)seed);
  __m256i k1 = _mm256_set1_epi64x((long long)(seed >> 32));
  const __m256i bump0 = _mm256_set1_epi64x(0x9E3779B9);
  const __m256i bump1 = _mm256_set1_epi64x(0xBB67AE85);
  for (int round = 0; round < 10; round++) {
    __m256i pa0 = _mm256_mul_epu32(a0, m0), pa1 = _mm256_mul_epu32(a2, m1);
    __m256i pb0 = _mm256_mul_epu32(b0v, m0), pb1 = _mm256_mul_epu32(b2, m1);
    a0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pa1, 32), a1), k0);
    a2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pa0, 32), a3), k1);
    a1 = pa1;
    a3 = pa0;
    b0v =
        _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pb1, 32), b1), k0);
    b2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pb0, 32), b3), k1);
    b1 = pb1;
    b3 = pb0;
    /* The key adds carry into the junk halves only. */
    k0 = _mm256_add_epi32(k0, bump0);
    k1 = _mm256_add_epi32(k1, bump1);
  }
  /* Words 0,1 and 2,3 of each block side by side, then blocks in order. */
  __m256i a01 = _mm256_blend_epi32(a0, _mm256_slli_epi64(a1, 32), 0xAA);
  __m256i a23 = _mm256_blend_epi32(a2, _mm256_slli_epi64(a3, 32), 0xAA);
  __m256i b01 = _mm256_blend_epi32(b0v, _mm256_slli_epi64(b1, 32), 0xAA);
  __m256i b23 = _mm256_blend_epi32(b2, _mm256_slli_epi64(b3, 32), 0xAA);
  __m256i a02 = _mm256_unpacklo_epi64(a01, a23); /* blocks 0 | 2 */
  __m256i a13 = _mm256_unpackhi_epi64(a01, a23); /* blocks 1 | 3 */
  __m256i b02 = _mm256_unpacklo_epi64(b01, b23);
  __m256i b13 = _mm256_unpackhi_epi64(b01, b23);
  __m256i w[4] = {_mm256_permute2x128_si256(a02, a13, 0x20),
                  _mm256_permute2x128_si256(a02, a13, 0x31),
                  _mm256_permute2x128_si256(b02, b13, 0x20),
                  _mm256_permute2x128_si256(b02, b13, 0x31)};
  const __m256 scale = _mm256_set1_ps(0x1p-24f);
  for (int k = 0; k < 4; k++)
    u[k] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w[k], 8)), scale);
}

#define TILE 1024

/* u24[i] for elements first .. first+n-1 (any n, any alignment): the
 * numbers of tq_philox_fill_u24, 64 at a time. */
void tq_avx2_philox_u24(uint64_t seed, uint64_t stream, uint64_t first,
                        uint32_t *u24, size_t n) {
  size_t skip = (size_t)(first & 3), done = 0;
  uint64_t block = first >> 2;
  uint32_t buf[64];
  while (done < n) {
    size_t take = 64 - skip < n - done ? 64 - skip : n - done;
    if (take == 64) {
      philox16_u24(seed, stream, block, u24 + done);
    } else {
      philox16_u24(seed, stream, block, buf);
      memcpy(u24 + done, buf + skip, take * sizeof *u24);
    }
    done += take;
    skip = 0;
    block += 16;
  }
}

/* ---- rounding decisions --------------------------------------------------*/

/* All-ones lanes where the magnitude ip + fr (0 <= fr < 1) of a value with
 * sign `neg` rounds up in mode r. Mirrors round_increment() in ref.c. */
ALWAYS_INLINE __m256 round_up_mask(tq_round r, __m256 fr, __m256i ip_odd,
                                   __m256 neg, __m256 u) {
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 zero = _mm256_setzero_ps();
  __m256 gt = _mm256_cmp_ps(fr, half, _CMP_GT_OQ);
  __m256 ge = _mm256_cmp_ps(fr, half, _CMP_GE_OQ);
  switch (r) {
    case TQ_ROUND_NEAREST: return ge;
    case TQ_ROUND_EVEN: {
      __m256 tie = _mm256_cmp_ps(fr, half, _CMP_EQ_OQ);
      __m256 odd =
          _mm256_castsi256_ps(_mm256_cmpeq_epi32(ip_odd, _mm256_set1_epi32(1)));
      return _mm256_or_ps(gt, _mm256_and_ps(tie, odd));
    }
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
      /* u = U * 2^-24 and 1 - u are exact; fr is exact: exact compares. */
      __m256 one_minus_u = _mm256_sub_ps(_mm256_set1_ps(1.0f), u);
      __m256 pos = _mm256_cmp_ps(fr, one_minus_u, _CMP_GE_OQ);
      __m256 negc = _mm256_cmp_ps(u, fr, _CMP_LT_OQ);
      return _mm256_blendv_ps(pos, negc, neg);
    }
    case TQ_ROUND_COUNT: break;
  }
  return zero;
}

ALWAYS_INLINE __m256 load_u(const uint32_t *u24) {
  __m256i v = _mm256_loadu_si256((const __m256i *)u24);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(0x1p-24f));
}

ALWAYS_INLINE __m256 nan_mask(__m256 x) {
  return _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
}

ALWAYS_INLINE __m256 pow2_ps(__m256i e) { /* 2^e for -126 <= e <= 127 */
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
}

/* Runs body over n elements in vectors of 8; the tail through a padded copy.
 * `body(x, u)` returns the quantized vector; u is only meaningful when the
 * quantizer rounds stochastically. Stochastic calls whose first element
 * starts a Philox block keep the random numbers in registers, 32 elements
 * per 8 blocks; others go through a buffer of 24-bit words. */
#define RUN_VECTORS(q, in, out, n, rng, stochastic, BODY)                     \
  do {                                                                        \
    if ((stochastic) && ((rng).first & 3) == 0) {                             \
      for (size_t g_ = 0; g_ < (n); g_ += 32) {                               \
        __m256 ug_[4];                                                        \
        philox_slots_u((rng).seed, (rng).stream, ((rng).first + g_) >> 2,     \
                       ug_);                                                  \
        if (g_ + 32 <= (n)) {                                                 \
          for (int k_ = 0; k_ < 4; k_++) {                                    \
            __m256 x = _mm256_loadu_ps((in) + g_ + 8 * k_);                   \
            __m256 u = ug_[k_];                                               \
            (void)u;                                                          \
            _mm256_storeu_ps((out) + g_ + 8 * k_, BODY);                      \
          }                                                                   \
        } else {                                                              \
          float pin_[32] = {0}, pout_[32];                                    \
          memcpy(pin_, (in) + g_, ((n)-g_) * sizeof(float));                  \
          for (int k_ = 0; k_ < 4; k_++) {                                    \
            __m256 x = _mm256_loadu_ps(pin_ + 8 * k_);                        \
            __m256 u = ug_[k_];                                               \
            (void)u;                                                          \
            _mm256_storeu_ps(pout_ + 8 * k_, BODY);                           \
          }                                                                   \
          memcpy((out) + g_, pout_, ((n)-g_) * sizeof(float));                \
        }                                                                     \
      }                                                                       \
      break;                                                                  \
    }                                                                         \
    uint32_t u24_[TILE];                                                      \
    for (size_t t0_ = 0; t0_ < (n); t0_ += TILE) {                            \
      size_t tn_ = (n)-t0_ < TILE ? (n)-t0_ : TILE;                           \
      if (stochastic)                                                         \
        tq_avx2_philox_u24((rng).seed, (rng).stream, (rng).first + t0_, u24_, \
                           (tn_ + 7) & ~(size_t)7);                           \
      size_t i_ = 0;                                                          \
      for (; i_ + 8 <= tn_; i_ += 8) {                                        \
        __m256 x = _mm256_loadu_ps((in) + t0_ + i_);                          \
        __m256 u = stochastic ? load_u(u24_ + i_) : _mm256_setzero_ps();      \
        (void)u;                                                              \
        _mm256_storeu_ps((out) + t0_ + i_, BODY);                             \
      }                                                                       \
      if (i_ < tn_) {                                                         \
        float pin_[8] = {0}, pout_[8];                                        \
        memcpy(pin_, (in) + t0_ + i_, (tn_ - i_) * sizeof(float));            \
        __m256 x = _mm256_loadu_ps(pin_);                                     \
        __m256 u = stochastic ? load_u(u24_ + i_) : _mm256_setzero_ps();      \
        (void)u;                                                              \
        _mm256_storeu_ps(pout_, BODY);                                        \
        memcpy((out) + t0_ + i_, pout_, (tn_ - i_) * sizeof(float));          \
      }                                                                       \
    }                                                                         \
  } while (0)

/* ---- fixed point
 * -----------------------------------------------------------*/

typedef struct fixed_vec {
  __m256 scale, inv_scale, hi_lim, lo_lim, hi_out, lo_out;
  __m256i shift, mask;
  int lo_inclusive, is_signed, width;
} fixed_vec;

ALWAYS_INLINE __m256 fixed_one(const fixed_vec *c, __m256 x, __m256 u,
                               tq_round r, int wrap) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 sign = _mm256_and_ps(x, sign_bit);
  __m256 neg = _mm256_castsi256_ps(
      _mm256_cmpgt_epi32(_mm256_setzero_si256(), _mm256_castps_si256(x)));
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
  __m256i ip_odd =
      _mm256_and_si256(_mm256_cvttps_epi32(ip), _mm256_set1_epi32(1));
  __m256 inc = round_up_mask(r, fr, ip_odd, neg, u);
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
    /* Low 32 bits of the integer rm: by conversion below 2^31, else from
     * the significand shifted by its exponent (a shift >= 32 gives 0, as
     * does +inf: its exact value is a multiple of 2^32). */
    __m256i bits = _mm256_castps_si256(rm);
    __m256i e =
        _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(150));
    __m256i sig =
        _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff)),
                        _mm256_set1_epi32(0x800000));
    __m256i big = _mm256_sllv_epi32(sig, e);
    __m256i small = _mm256_cvttps_epi32(rm);
    __m256 is_small = _mm256_cmp_ps(rm, _mm256_set1_ps(0x1p31f), _CMP_LT_OQ);
    __m256i low = _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(big), _mm256_castsi256_ps(small), is_small));
    __m256i v = _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(low),
        _mm256_castsi256_ps(_mm256_sub_epi32(_mm256_setzero_si256(), low)),
        neg));
    __m256 vf;
    if (c->is_signed) {
      __m256i q = _mm256_srav_epi32(_mm256_sllv_epi32(v, c->shift), c->shift);
      vf = _mm256_cvtepi32_ps(q);
    } else if (c->width < 32) {
      vf = _mm256_cvtepi32_ps(_mm256_and_si256(v, c->mask));
    } else { /* unsigned 32-bit: two exact halves, one rounding */
      __m256 hi = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v, 16)),
                                _mm256_set1_ps(65536.0f));
      __m256 lo =
          _mm256_cvtepi32_ps(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)));
      vf = _mm256_add_ps(hi, lo);
    }
    y = _mm256_add_ps(_mm256_mul_ps(vf, c->inv_scale), _mm256_setzero_ps());
    __m256 is_inf = _mm256_cmp_ps(ax, _mm256_set1_ps(INFINITY), _CMP_EQ_OQ);
    y = _mm256_blendv_ps(y, _mm256_blendv_ps(c->hi_out, c->lo_out, neg),
                         is_inf);
  }
  return _mm256_blendv_ps(y, x, nan_mask(x));
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
      .shift = _mm256_set1_epi32(32 - q->p.width),
      .mask = _mm256_set1_epi32(
          q->p.width >= 32 ? -1 : (int)((1u << q->p.width) - 1)),
      .lo_inclusive = k->lo_inclusive,
      .is_signed = q->p.is_signed,
      .width = q->p.width,
  };
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

/* ---- floating point ------------------------------------------------------*/

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
   * Beyond 49 bits only "nonzero" matters (see ref.c), so clamp there to
   * keep 2^-sh a normal float. */
  __m256i ee = _mm256_max_epi32(e, c->emin);
  __m256i sh = _mm256_add_epi32(c->shift_base, _mm256_sub_epi32(ee, e));
  sh = _mm256_min_epi32(sh, _mm256_set1_epi32(49));
  __m256i ip = _mm256_srlv_epi32(sig, sh);
  __m256i rem =
      _mm256_and_si256(sig, _mm256_sub_epi32(_mm256_sllv_epi32(one, sh), one));
  __m256 fr =
      _mm256_mul_ps(_mm256_cvtepi32_ps(rem),
                    pow2_ps(_mm256_sub_epi32(_mm256_setzero_si256(), sh)));
  __m256 inc = round_up_mask(r, fr, _mm256_and_si256(ip, one), neg, u);
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
  return _mm256_blendv_ps(y, x, nan_mask(x));
}

/* fp16 with the defaults is exactly the F16C conversion (round to nearest
 * even, overflow to inf, subnormals kept); NaNs keep their payload. */
ALWAYS_INLINE __m256 fp16_one(__m256 x) {
  __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm256_blendv_ps(_mm256_cvtph_ps(h), x, nan_mask(x));
}

/* float(8, m) with the defaults shares float32's exponent range, so round
 * to nearest even is an integer add on the bit pattern: a carry out of the
 * mantissa moves to the next binade (or to inf) exactly as IEEE rounds. */
ALWAYS_INLINE __m256 rne8_one(__m256 x, __m256i bias, __m256i keep, int sh) {
  __m256i b = _mm256_castps_si256(x);
  __m256i lsb =
      _mm256_and_si256(_mm256_srli_epi32(b, sh), _mm256_set1_epi32(1));
  b = _mm256_and_si256(_mm256_add_epi32(_mm256_add_epi32(b, bias), lsb), keep);
  return _mm256_blendv_ps(_mm256_castsi256_ps(b), x, nan_mask(x));
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
    __m256 up = _mm256_blendv_ps(
        _mm256_cmp_ps(fr, _mm256_sub_ps(_mm256_set1_ps(1.0f), u), _CMP_GE_OQ),
        _mm256_cmp_ps(u, fr, _CMP_LT_OQ), neg);
    __m256 sub = _mm256_mul_ps(
        _mm256_add_ps(ip, _mm256_and_ps(up, _mm256_set1_ps(1.0f))),
        c->down_scale);
    mag = _mm256_blendv_ps(mag, sub,
                           _mm256_cmp_ps(ax, c->min_normal, _CMP_LT_OQ));
  }
  mag =
      _mm256_blendv_ps(mag, c->over, _mm256_cmp_ps(mag, c->max_f, _CMP_GT_OQ));
  if (c->flush)
    mag = _mm256_andnot_ps(_mm256_cmp_ps(mag, c->flush_below, _CMP_LT_OQ), mag);
  __m256 y = _mm256_or_ps(mag, _mm256_and_ps(x, sign_bit));
  return _mm256_blendv_ps(y, x, nan_mask(x));
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
    RUN_VECTORS(q, in, out, n, rng, 0, fp16_one(x));
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
    rne_vec c; /* avx2_shared.h */
    rne_init(&c, q);
    RUN_VECTORS(q, in, out, n, rng, 0, rne_ps(&c, x));
    return;
  }
  if (p->round == TQ_ROUND_STOCHASTIC && p->man_bits >= 1 && p->man_bits < 23) {
    int sh = 23 - p->man_bits;
    float over = (p->saturate || p->finite_only) ? q->fl.max_f
                 : p->finite_nan                 ? NAN
                                                 : INFINITY;
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
        .over = _mm256_set1_ps(over),
        .flush_below = _mm256_set1_ps(q->fl.min_normal),
        .small_exponent = small,
        .flush = !p->subnormals,
    };
    RUN_VECTORS(q, in, out, n, rng, 1, sr_one(&c, x, u));
    return;
  }
  /* Overflow results as magnitudes, by sign (the same table as ref.c). */
  float maxf = q->fl.max_f;
  float inf_or_nan = p->finite_nan ? NAN : INFINITY;
  float pos = inf_or_nan, negv = inf_or_nan, inf_out = inf_or_nan;
  if (p->saturate || p->finite_only) {
    pos = negv = inf_out = maxf;
  } else if (p->round == TQ_ROUND_ZERO) {
    pos = negv = maxf;
  } else if (p->round == TQ_ROUND_UP) {
    negv = maxf;
  } else if (p->round == TQ_ROUND_DOWN) {
    pos = maxf;
  }
  float_vec c = {
      .emin = _mm256_set1_epi32(q->fl.emin),
      .man_bits = _mm256_set1_epi32(p->man_bits),
      .shift_base = _mm256_set1_epi32(23 - p->man_bits),
      .max_f = _mm256_set1_ps(maxf),
      .pos_over = _mm256_set1_ps(pos),
      .neg_over = _mm256_set1_ps(negv),
      .inf_out = _mm256_set1_ps(inf_out),
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
    default: tq_ref_float(q, in, out, n, rng, threshold); break;
  }
}

/* ---- the others
 * ------------------------------------------------------------*/

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

/* Float thresholds equivalent to comparing a float with the double T:
 * |x| < T <=> |x| < up(T) and x > T <=> x > down(T). */
static float float_up(double t) {
  float f = (float)t;
  if ((double)f < t) f = nextafterf(f, INFINITY);
  return f;
}
static float float_down(double t) {
  float f = (float)t;
  if ((double)f > t) f = nextafterf(f, -INFINITY);
  return f;
}

void tq_avx2_sparse(const tq_quantizer *q, const float *in, float *out,
                    size_t n, tq_rng_pos rng, double threshold) {
  (void)threshold;
  const __m256 t = _mm256_set1_ps(float_up(q->p.threshold));
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
          x, nan_mask(x)));
}

ALWAYS_INLINE __m256 ternary_one(__m256 x, __m256 t, __m256 m) {
  __m256 gt = _mm256_cmp_ps(x, t, _CMP_GT_OQ);
  __m256 lt =
      _mm256_cmp_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), t), _CMP_LT_OQ);
  __m256 mneg = _mm256_sub_ps(_mm256_setzero_ps(), m);
  __m256 y = _mm256_or_ps(_mm256_and_ps(gt, m), _mm256_and_ps(lt, mneg));
  return _mm256_blendv_ps(y, x, nan_mask(x));
}

void tq_avx2_ternary(const tq_quantizer *q, const float *in, float *out,
                     size_t n, tq_rng_pos rng, double threshold) {
  const __m256 t = _mm256_set1_ps(float_down(threshold));
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
