/* Internal: the AVX-512 building blocks of the quantizer kernels
 * (kind_*_avx512.c): rounding decisions, wrap, round to nearest even on the
 * bit pattern, Philox in 16 lanes and the vector loop with masked tails.
 * Each mirrors its AVX2 twin in avx2_shared.h / kernel_loop_avx2.h (which
 * say why every step is exact) on 16 lanes, with mask registers where the
 * AVX2 code blends on all-ones lanes; the tests compare every kernel with
 * the scalar reference bit for bit. Include only from files compiled with
 * -mavx512f -mavx512bw -mavx512dq -mavx512vl (*_avx512.c). No FMA is used
 * (-ffp-contract=off keeps the compiler from fusing on its own). */
#ifndef TQ_QUANT_AVX512_SHARED_H
#define TQ_QUANT_AVX512_SHARED_H

#include <immintrin.h>
#include <math.h>

#include "quant/quant_internal.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Lanes where x is NaN / where x is negative (sign bit set, -0 and -NaN
 * included, as the scalar signbit). */
ALWAYS_INLINE __mmask16 tq_avx512_nan(__m512 x) {
  return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
}
ALWAYS_INLINE __mmask16 tq_avx512_neg(__m512 x) {
  return _mm512_movepi32_mask(_mm512_castps_si512(x));
}
ALWAYS_INLINE __m512 tq_avx512_abs(__m512 x) {
  return _mm512_castsi512_ps(
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
}
ALWAYS_INLINE __m512 tq_avx512_sign(__m512 x) {
  return _mm512_castsi512_ps(
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN)));
}
ALWAYS_INLINE __m512 tq_avx512_or(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}

/* Lanes where the magnitude ip + fr (0 <= fr < 1) of a value with sign
 * `neg` rounds up in mode r: tq_round_increment (round.c) on 16 lanes, as
 * tq_avx2_round_up_ps. odd: lanes where ip is odd (read by even only). */
ALWAYS_INLINE __mmask16 tq_avx512_round_up(tq_round r, __m512 fr, __mmask16 odd,
                                           __mmask16 neg, __m512 u) {
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512 zero = _mm512_setzero_ps();
  switch (r) {
    case TQ_ROUND_NEAREST: return _mm512_cmp_ps_mask(fr, half, _CMP_GE_OQ);
    case TQ_ROUND_EVEN:
      return _mm512_cmp_ps_mask(fr, half, _CMP_GT_OQ) |
             (_mm512_cmp_ps_mask(fr, half, _CMP_EQ_OQ) & odd);
    case TQ_ROUND_HALF_UP:
      return (_mm512_cmp_ps_mask(fr, half, _CMP_GE_OQ) & (__mmask16)~neg) |
             (_mm512_cmp_ps_mask(fr, half, _CMP_GT_OQ) & neg);
    case TQ_ROUND_HALF_DOWN:
      return (_mm512_cmp_ps_mask(fr, half, _CMP_GT_OQ) & (__mmask16)~neg) |
             (_mm512_cmp_ps_mask(fr, half, _CMP_GE_OQ) & neg);
    case TQ_ROUND_HALF_ZERO: return _mm512_cmp_ps_mask(fr, half, _CMP_GT_OQ);
    case TQ_ROUND_DOWN: return neg & _mm512_cmp_ps_mask(fr, zero, _CMP_GT_OQ);
    case TQ_ROUND_UP:
      return (__mmask16)~neg & _mm512_cmp_ps_mask(fr, zero, _CMP_GT_OQ);
    case TQ_ROUND_ZERO: return 0;
    case TQ_ROUND_AWAY: return _mm512_cmp_ps_mask(fr, zero, _CMP_GT_OQ);
    case TQ_ROUND_STOCHASTIC: {
      __m512 one_minus_u = _mm512_sub_ps(_mm512_set1_ps(1.0f), u);
      return (_mm512_cmp_ps_mask(fr, one_minus_u, _CMP_GE_OQ) &
              (__mmask16)~neg) |
             (_mm512_cmp_ps_mask(u, fr, _CMP_LT_OQ) & neg);
    }
    case TQ_ROUND_COUNT: break;
  }
  return 0;
}

/* floor(a) for a >= 0 (roundscale toward -inf). */
ALWAYS_INLINE __m512 tq_avx512_floor(__m512 a) {
  return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}

/* tq_round_signed on a finite t (|t| <= 2^33 where the mode is nearest
 * or a half_* one; the others take +-inf too), a few instructions each:
 * the directed modes and even are one roundscale; the others add or
 * subtract 1 where the distance to an integer decides (t - floor(t) and
 * the like are exact for |t| >= 1 and by Sterbenz near 1/2; for a tiny t
 * they may round toward 1, which leaves every comparison with 1/2 as it
 * was). Stochastic decides on the magnitude's exact fraction, as
 * tq_avx2_round_ps. */
ALWAYS_INLINE __m512 tq_avx512_round_ps(__m512 t, __m512 u, tq_round r) {
  const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
  /* constant expressions, as roundscale's immediate must be */
  enum {
    near = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC,
    down = _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC,
    up = _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC,
    zero = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC
  };
  switch (r) {
    case TQ_ROUND_EVEN: return _mm512_roundscale_ps(t, near);
    case TQ_ROUND_DOWN: return _mm512_roundscale_ps(t, down);
    case TQ_ROUND_UP: return _mm512_roundscale_ps(t, up);
    case TQ_ROUND_ZERO: return _mm512_roundscale_ps(t, zero);
    case TQ_ROUND_NEAREST: { /* trunc(t) + trunc(2 (t - trunc(t))) */
      __m512 i = _mm512_roundscale_ps(t, zero);
      __m512 f = _mm512_sub_ps(t, i);
      return _mm512_add_ps(i, _mm512_roundscale_ps(_mm512_add_ps(f, f), zero));
    }
    case TQ_ROUND_HALF_UP: {
      __m512 fl = _mm512_roundscale_ps(t, down);
      return _mm512_mask_add_ps(
          fl, _mm512_cmp_ps_mask(_mm512_sub_ps(t, fl), half, _CMP_GE_OQ), fl,
          one);
    }
    case TQ_ROUND_HALF_DOWN: {
      __m512 c = _mm512_roundscale_ps(t, up);
      return _mm512_mask_sub_ps(
          c, _mm512_cmp_ps_mask(_mm512_sub_ps(c, t), half, _CMP_GE_OQ), c, one);
    }
    case TQ_ROUND_HALF_ZERO: {
      __m512 i = _mm512_roundscale_ps(t, zero);
      __mmask16 away = _mm512_cmp_ps_mask(tq_avx512_abs(_mm512_sub_ps(t, i)),
                                          half, _CMP_GT_OQ);
      return _mm512_mask_add_ps(i, away, i,
                                tq_avx512_or(one, tq_avx512_sign(t)));
    }
    case TQ_ROUND_AWAY:
      return _mm512_mask_mov_ps(_mm512_roundscale_ps(t, up), tq_avx512_neg(t),
                                _mm512_roundscale_ps(t, down));
    case TQ_ROUND_STOCHASTIC: {
      __m512 a = tq_avx512_abs(t);
      __m512 ip = _mm512_roundscale_ps(a, down);
      __mmask16 inc =
          tq_avx512_round_up(r, _mm512_sub_ps(a, ip), 0, tq_avx512_neg(t), u);
      return tq_avx512_or(_mm512_mask_add_ps(ip, inc, ip, one),
                          tq_avx512_sign(t));
    }
    case TQ_ROUND_COUNT: break;
  }
  return t;
}

/* ---- fixed point: wrap (tq_avx2_wrap_ps on 16 lanes) ----------------------*/

typedef struct tq_avx512_wrap {
  __m512i shift, mask; /* 32 - w; 2^w - 1 */
  int is_signed, width;
} tq_avx512_wrap;

static inline void tq_avx512_wrap_init(tq_avx512_wrap *c,
                                       const tq_quantizer *q) {
  c->shift = _mm512_set1_epi32(32 - q->p.width);
  c->mask =
      _mm512_set1_epi32(q->p.width >= 32 ? -1 : (int)((1u << q->p.width) - 1));
  c->is_signed = q->p.is_signed;
  c->width = q->p.width;
}

ALWAYS_INLINE __m512 tq_avx512_wrap_ps(const tq_avx512_wrap *c, __m512 mag,
                                       __mmask16 neg) {
  __m512i bits = _mm512_castps_si512(mag);
  __m512i e =
      _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(150));
  __m512i sig =
      _mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffff)),
                      _mm512_set1_epi32(0x800000));
  __m512i low = _mm512_sllv_epi32(sig, e);
  low = _mm512_mask_cvttps_epi32(
      low, _mm512_cmp_ps_mask(mag, _mm512_set1_ps(0x1p31f), _CMP_LT_OQ), mag);
  __m512i v = _mm512_mask_sub_epi32(low, neg, _mm512_setzero_si512(), low);
  if (c->is_signed)
    return _mm512_cvtepi32_ps(
        _mm512_srav_epi32(_mm512_sllv_epi32(v, c->shift), c->shift));
  if (c->width < 32) return _mm512_cvtepi32_ps(_mm512_and_si512(v, c->mask));
  return _mm512_cvtepu32_ps(v); /* one rounding, as the scalar float(r) */
}

/* ---- floating point with round to nearest even (tq_avx2_rne_ps) ----------*/

typedef struct tq_avx512_rne {
  __m512i bias, keep;
  int sh, flush;
  __m512 min_normal, magic, max_f, over, flush_below;
} tq_avx512_rne;

static inline void tq_avx512_rne_init(tq_avx512_rne *c,
                                      const tq_quant_params *p,
                                      const tq_float_consts *fl) {
  int sh = 23 - p->man_bits;
  c->bias = _mm512_set1_epi32((1 << (sh - 1)) - 1);
  c->keep = _mm512_set1_epi32((int)(~0u << sh));
  c->sh = sh;
  c->min_normal = _mm512_set1_ps(ldexpf(1.0f, fl->emin));
  c->magic = _mm512_set1_ps(ldexpf(1.0f, fl->emin - p->man_bits + 23));
  c->max_f = _mm512_set1_ps(fl->max_f);
  c->over = _mm512_set1_ps((float)fl->over_pos); /* even: either sign */
  c->flush_below = _mm512_set1_ps(fl->min_normal);
  c->flush = !p->subnormals;
}

/* The end of a float(e, m) kernel (tq_avx2_float_finish): past max gives
 * `over`, flushing where asked, the sign of x, NaN x unchanged. */
ALWAYS_INLINE __m512 tq_avx512_float_finish(__m512 mag, __m512 x, __m512 max_f,
                                            __m512 over, int flush,
                                            __m512 flush_below) {
  mag =
      _mm512_mask_mov_ps(mag, _mm512_cmp_ps_mask(mag, max_f, _CMP_GT_OQ), over);
  if (flush)
    mag = _mm512_mask_mov_ps(mag,
                             _mm512_cmp_ps_mask(mag, flush_below, _CMP_LT_OQ),
                             _mm512_setzero_ps());
  __m512 y = tq_avx512_or(mag, tq_avx512_sign(x));
  return _mm512_mask_mov_ps(y, tq_avx512_nan(x), x);
}

/* Round to nearest even on the bit pattern where the target is normal; the
 * magic add where it is subnormal; needs 1 <= m < 23 (tq_avx2_rne_ps). */
ALWAYS_INLINE __m512 tq_avx512_rne_ps(const tq_avx512_rne *c, __m512 x) {
  __m512 ax = tq_avx512_abs(x);
  __m512i b = _mm512_castps_si512(ax);
  __m512i lsb =
      _mm512_and_si512(_mm512_srli_epi32(b, c->sh), _mm512_set1_epi32(1));
  __m512 mag = _mm512_castsi512_ps(_mm512_and_si512(
      _mm512_add_epi32(_mm512_add_epi32(b, c->bias), lsb), c->keep));
  mag =
      _mm512_mask_sub_ps(mag, _mm512_cmp_ps_mask(ax, c->min_normal, _CMP_LT_OQ),
                         _mm512_add_ps(ax, c->magic), c->magic);
  return tq_avx512_float_finish(mag, x, c->max_f, c->over, c->flush,
                                c->flush_below);
}

/* ---- Philox4x32-10 in 16 lanes -------------------------------------------
 * The slot form of kernel_loop_avx2.h's philox_slots_u: each 64-bit slot
 * holds one block's word in its low half, so _mm512_mul_epu32 gives the
 * full 32x32 -> 64 product (the high halves carry junk no multiply reads).
 * Four vectors of eight blocks (b0 .. b0+31) run interleaved so that
 * their latency chains overlap. Returns u for elements 4*b0 .. 4*b0+127 as
 * eight vectors in element order. */
#define TQ_AVX512_PHILOX_ELEMS 128

ALWAYS_INLINE void tq_avx512_philox_u(uint64_t seed, uint64_t stream,
                                      uint64_t b0, __m512 u[8]) {
  const __m512i m0 = _mm512_set1_epi64(0xD2511F53);
  const __m512i m1 = _mm512_set1_epi64(0xCD9E8D57);
  const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  __m512i w0[4], w1[4], w2[4], w3[4];
  for (int v = 0; v < 4; v++) {
    w0[v] = _mm512_add_epi64(_mm512_set1_epi64((long long)(b0 + 8u * v)), lane);
    w1[v] = _mm512_srli_epi64(w0[v], 32);
    w2[v] = _mm512_set1_epi64((long long)(uint32_t)stream);
    w3[v] = _mm512_set1_epi64((long long)(stream >> 32));
  }
  __m512i k0 = _mm512_set1_epi64((long long)(uint32_t)seed);
  __m512i k1 = _mm512_set1_epi64((long long)(seed >> 32));
  const __m512i bump0 = _mm512_set1_epi64(0x9E3779B9);
  const __m512i bump1 = _mm512_set1_epi64(0xBB67AE85);
  for (int round = 0; round < 10; round++) {
    for (int v = 0; v < 4; v++) {
      __m512i p0 = _mm512_mul_epu32(w0[v], m0),
              p1 = _mm512_mul_epu32(w2[v], m1);
      /* 0x96: the xor of three */
      w0[v] =
          _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), w1[v], k0, 0x96);
      w2[v] =
          _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), w3[v], k1, 0x96);
      w1[v] = p1;
      w3[v] = p0;
    }
    /* The key adds carry into the junk halves only. */
    k0 = _mm512_add_epi32(k0, bump0);
    k1 = _mm512_add_epi32(k1, bump1);
  }
  /* Words 0,1 and 2,3 of each block side by side; per 128-bit lane the
   * unpacks give blocks 2j | 2j+1; the permutes put blocks in order. */
  const __mmask16 odd_words = 0xAAAA;
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
  const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  const __m512 scale = _mm512_set1_ps(0x1p-24f);
  for (int v = 0; v < 4; v++) {
    __m512i lo =
        _mm512_mask_blend_epi32(odd_words, w0[v], _mm512_slli_epi64(w1[v], 32));
    __m512i hi =
        _mm512_mask_blend_epi32(odd_words, w2[v], _mm512_slli_epi64(w3[v], 32));
    __m512i even_blocks = _mm512_unpacklo_epi64(lo, hi);
    __m512i odd_blocks = _mm512_unpackhi_epi64(lo, hi);
    __m512i a = _mm512_permutex2var_epi64(even_blocks, first, odd_blocks);
    __m512i b = _mm512_permutex2var_epi64(even_blocks, second, odd_blocks);
    u[2 * v] =
        _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(a, 8)), scale);
    u[2 * v + 1] =
        _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(b, 8)), scale);
  }
}

/* ---- the loop -------------------------------------------------------------
 * Runs BODY over n elements in vectors of 16, the tail under a mask (masked
 * loads do not fault past the end). `BODY` sees x and u (u only meaningful
 * when stochastic). Stochastic calls whose first element starts a Philox
 * block keep the numbers in registers, 128 elements per 32 blocks; others
 * take them from the AVX2 generator's buffer (the CPU has AVX2). */
#define TQ_AVX512_TILE 1024

ALWAYS_INLINE __mmask16 tq_avx512_tail(size_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/* Loads and stores of m's lanes: the plain instructions for whole vectors
 * (the branch is predictable), masked ones only for a partial vector. On
 * the Zen 5 this was measured on, a masked load that misses the cache runs
 * the memory-bound loops at half the speed of plain loads. */
ALWAYS_INLINE __m512 tq_avx512_load(__mmask16 m, const float *p) {
  return m == 0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}
ALWAYS_INLINE __m512i tq_avx512_load_u32(__mmask16 m, const uint32_t *p) {
  return m == 0xFFFF ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi32(m, p);
}
ALWAYS_INLINE void tq_avx512_store(float *p, __mmask16 m, __m512 v) {
  if (m == 0xFFFF)
    _mm512_storeu_ps(p, v);
  else
    _mm512_mask_storeu_ps(p, m, v);
}

#define TQ_AVX512_RUN(in, out, n, rng, stochastic, BODY)                      \
  do {                                                                        \
    if (!(stochastic)) {                                                      \
      const __m512 u = _mm512_setzero_ps();                                   \
      (void)u;                                                                \
      size_t i_ = 0;                                                          \
      for (; i_ + 16 <= (n); i_ += 16) {                                      \
        __m512 x = _mm512_loadu_ps((in) + i_);                                \
        _mm512_storeu_ps((out) + i_, BODY);                                   \
      }                                                                       \
      if (i_ < (n)) {                                                         \
        __mmask16 m_ = tq_avx512_tail((n)-i_);                                \
        __m512 x = tq_avx512_load(m_, (in) + i_);                             \
        tq_avx512_store((out) + i_, m_, BODY);                                \
      }                                                                       \
    } else if (((rng).first & 3) == 0) {                                      \
      for (size_t g_ = 0; g_ < (n); g_ += TQ_AVX512_PHILOX_ELEMS) {           \
        __m512 ug_[TQ_AVX512_PHILOX_ELEMS / 16];                              \
        tq_avx512_philox_u((rng).seed, (rng).stream, ((rng).first + g_) >> 2, \
                           ug_);                                              \
        for (int k_ = 0;                                                      \
             k_ < TQ_AVX512_PHILOX_ELEMS / 16 && g_ + 16 * (size_t)k_ < (n);  \
             k_++) {                                                          \
          size_t i_ = g_ + 16 * (size_t)k_;                                   \
          __mmask16 m_ = tq_avx512_tail((n)-i_);                              \
          __m512 x = tq_avx512_load(m_, (in) + i_);                           \
          __m512 u = ug_[k_];                                                 \
          (void)u;                                                            \
          tq_avx512_store((out) + i_, m_, BODY);                              \
        }                                                                     \
      }                                                                       \
    } else {                                                                  \
      uint32_t u24_[TQ_AVX512_TILE];                                          \
      for (size_t t0_ = 0; t0_ < (n); t0_ += TQ_AVX512_TILE) {                \
        size_t tn_ = (n)-t0_ < TQ_AVX512_TILE ? (n)-t0_ : TQ_AVX512_TILE;     \
        tq_avx2_philox_u24((rng).seed, (rng).stream, (rng).first + t0_, u24_, \
                           tn_);                                              \
        for (size_t i_ = 0; i_ < tn_; i_ += 16) {                             \
          __mmask16 m_ = tq_avx512_tail(tn_ - i_);                            \
          __m512 x = tq_avx512_load(m_, (in) + t0_ + i_);                     \
          __m512 u = _mm512_mul_ps(                                           \
              _mm512_cvtepi32_ps(tq_avx512_load_u32(m_, u24_ + i_)),          \
              _mm512_set1_ps(0x1p-24f));                                      \
          (void)u;                                                            \
          tq_avx512_store((out) + t0_ + i_, m_, BODY);                        \
        }                                                                     \
      }                                                                       \
    }                                                                         \
  } while (0)

#endif
