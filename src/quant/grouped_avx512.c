/* The AVX-512 passes of the scaled and block formats (grouped.h): the
 * element grids (integers in every rounding mode; floats with round to
 * nearest even) over spans, rows and whole blocks, grouped_avx2.c's on 16
 * lanes with masked tails; the statistics of spans and columns are the
 * AVX2 passes'. Compiled with -mavx512f/bw/dq/vl and only called after the
 * run-time CPU check (dispatch.c); bit for bit the scalar passes of
 * grouped.c, which the tests check. */
#include <float.h>
#include <immintrin.h>
#include <math.h>

#include "quant/avx2_shared.h"
#include "quant/avx512_shared.h"
#include "quant/grouped.h"

/* ---- element grids -------------------------------------------------------*/

/* tq_group_elem's integer grid on t = x / s: bounded to +-2^24, rounded,
 * clamped, (r + 0) * s; NaN t (NaN x or a NaN group) gives t. */
ALWAYS_INLINE __m512 int_of_t(__m512 t, __m512 u, __m512 s, __m512 lo,
                              __m512 hi, tq_round R) {
  __m512 tb = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-0x1p24f)),
                            _mm512_set1_ps(0x1p24f));
  __m512 r = tq_avx512_round_ps(tb, u, R);
  r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
  __m512 y = _mm512_mul_ps(_mm512_add_ps(r, _mm512_setzero_ps()), s);
  return _mm512_mask_mov_ps(y, tq_avx512_nan(t), t);
}

ALWAYS_INLINE __m512 int_elem(__m512 x, __m512 u, __m512 s, __m512 lo,
                              __m512 hi, tq_round R) {
  return int_of_t(_mm512_div_ps(x, s), u, s, lo, hi, R);
}

/* tq_group_elem's float grid with round to nearest even (saturating). */
ALWAYS_INLINE __m512 float_of_t(const tq_avx512_rne *c, __m512 t, __m512 s) {
  return _mm512_mul_ps(tq_avx512_rne_ps(c, t), s);
}

ALWAYS_INLINE __m512 float_elem(const tq_avx512_rne *c, __m512 x, __m512 s) {
  return float_of_t(c, _mm512_div_ps(x, s), s);
}

#define INT_SPAN_CASE(R)                                     \
  case R:                                                    \
    TQ_AVX512_RUN(in, out, n, rng, R == TQ_ROUND_STOCHASTIC, \
                  int_elem(x, u, s, lo, hi, R));             \
    break;

static void apply_span_int(const tq_quantizer *q, const float *in, float *out,
                           size_t n, tq_group_param pr, tq_rng_pos rng) {
  __m512 s = _mm512_set1_ps(pr.s), lo = _mm512_set1_ps(pr.lo),
         hi = _mm512_set1_ps(pr.hi);
  switch (q->p.round) {
    TQ_EACH_DETERMINISTIC_ROUND(INT_SPAN_CASE)
    INT_SPAN_CASE(TQ_ROUND_STOCHASTIC)
    case TQ_ROUND_COUNT: break;
  }
}

static void apply_span_float(const tq_quantizer *q, const float *in, float *out,
                             size_t n, tq_group_param pr, tq_rng_pos rng) {
  tq_avx512_rne c;
  tq_avx512_rne_init(&c, &q->p, &q->fl);
  __m512 s = _mm512_set1_ps(pr.s);
  TQ_AVX512_RUN(in, out, n, rng, 0, float_elem(&c, x, s));
}

/* Rows whose element j has param j: vectors of 16 straight from the
 * arrays, the tail under a mask (masked-off lanes compute on zeros and are
 * not stored); stochastic numbers per tile of the row. */
#define COLS_LOOP(stochastic, BODY)                                            \
  do {                                                                         \
    uint32_t u24_[TQ_AVX512_TILE];                                             \
    for (size_t t0 = 0; t0 < n; t0 += TQ_AVX512_TILE) {                        \
      size_t tn = n - t0 < TQ_AVX512_TILE ? n - t0 : TQ_AVX512_TILE;           \
      if (stochastic)                                                          \
        tq_avx2_philox_u24(rng.seed, rng.stream, rng.first + t0, u24_, tn);    \
      for (size_t i = 0; i < tn; i += 16) {                                    \
        size_t at = t0 + i;                                                    \
        __mmask16 m = tq_avx512_tail(tn - i);                                  \
        __m512 x = tq_avx512_load(m, in + at);                                 \
        __m512 s = m == 0xFFFF ? _mm512_loadu_ps(sv + at)                      \
                               : _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, \
                                                      sv + at);                \
        __m512 lo = tq_avx512_load(m, lov + at);                               \
        __m512 hi = tq_avx512_load(m, hiv + at);                               \
        __m512 u =                                                             \
            stochastic                                                         \
                ? _mm512_mul_ps(                                               \
                      _mm512_cvtepi32_ps(tq_avx512_load_u32(m, u24_ + i)),     \
                      _mm512_set1_ps(0x1p-24f))                                \
                : _mm512_setzero_ps();                                         \
        (void)u, (void)lo, (void)hi;                                           \
        tq_avx512_store(out + at, m, BODY);                                    \
      }                                                                        \
    }                                                                          \
  } while (0)

#define INT_COLS_CASE(R)                                               \
  case R:                                                              \
    COLS_LOOP(R == TQ_ROUND_STOCHASTIC, int_elem(x, u, s, lo, hi, R)); \
    break;

static void apply_cols_int(const tq_quantizer *q, const float *in, float *out,
                           size_t n, const float *sv, const float *lov,
                           const float *hiv, tq_rng_pos rng) {
  switch (q->p.round) {
    TQ_EACH_DETERMINISTIC_ROUND(INT_COLS_CASE)
    INT_COLS_CASE(TQ_ROUND_STOCHASTIC)
    case TQ_ROUND_COUNT: break;
  }
}

static void apply_cols_float(const tq_quantizer *q, const float *in, float *out,
                             size_t n, const float *sv, const float *lov,
                             const float *hiv, tq_rng_pos rng) {
  tq_avx512_rne c;
  tq_avx512_rne_init(&c, &q->p, &q->fl);
  COLS_LOOP(0, float_elem(&c, x, s));
}

/* ---- whole blocks --------------------------------------------------------
 * Consecutive blocks of G (a multiple of 8) elements, each read twice from
 * L1: its statistic, the kind's param(), then its elements, 16 lanes at a
 * time (the last 8 under a mask where G is an odd multiple of 8). */

/* amax and bad (1 where non-finite) of a block, as eight lanes (exact: max
 * in any order). Masked-off lanes read 0, which changes neither. */
ALWAYS_INLINE void block_amax(const float *x, size_t G, __m256 *amax,
                              __m256 *bad) {
  __m512 am = _mm512_setzero_ps(), bd = _mm512_setzero_ps();
  for (size_t k = 0; k < G; k += 16) {
    __m512 a = tq_avx512_abs(tq_avx512_load(tq_avx512_tail(G - k), x + k));
    __mmask16 fin = _mm512_cmp_ps_mask(a, _mm512_set1_ps(FLT_MAX), _CMP_LE_OQ);
    bd = _mm512_mask_mov_ps(bd, (__mmask16)~fin, _mm512_set1_ps(1.0f));
    am = _mm512_mask_max_ps(am, fin, am, a);
  }
  *amax =
      _mm256_max_ps(_mm512_castps512_ps256(am), _mm512_extractf32x8_ps(am, 1));
  *bad =
      _mm256_max_ps(_mm512_castps512_ps256(bd), _mm512_extractf32x8_ps(bd, 1));
}

/* The block's statistic; min and max only where param() reads them. */
ALWAYS_INLINE tq_group_stat block_stat(const float *x, size_t G, int minmax) {
  __m256 am, bd;
  block_amax(x, G, &am, &bd);
  tq_group_stat st = {tq_avx2_hmax_ps(am), INFINITY, -INFINITY,
                      tq_avx2_hmax_ps(bd) > 0.0f};
  if (minmax) {
    __m512 mn = _mm512_set1_ps(INFINITY), mx = _mm512_set1_ps(-INFINITY);
    for (size_t k = 0; k < G; k += 16) {
      __mmask16 m = tq_avx512_tail(G - k);
      __m512 v = tq_avx512_load(m, x + k);
      __mmask16 fin =
          m & _mm512_cmp_ps_mask(tq_avx512_abs(v), _mm512_set1_ps(FLT_MAX),
                                 _CMP_LE_OQ);
      mn = _mm512_mask_min_ps(mn, fin, mn, v);
      mx = _mm512_mask_max_ps(mx, fin, mx, v);
    }
    st.min = _mm512_reduce_min_ps(mn);
    st.max = _mm512_reduce_max_ps(mx);
  }
  return st;
}

/* One block's elements with divisor sv: t = x / s, or x times the exact
 * reciprocal of a power-of-two s (the same bits without a division). */
#define BLOCK_ELEMENTS(xb, yb, sv, BODY)                                     \
  do {                                                                       \
    __m512 s = _mm512_set1_ps(sv);                                           \
    int by_inverse = tq_exact_reciprocal(sv);                                \
    __m512 inv = _mm512_set1_ps(by_inverse ? tq_pow2_reciprocal(sv) : 1);    \
    for (size_t k = 0; k < G; k += 16) {                                     \
      __mmask16 m = tq_avx512_tail(G - k);                                   \
      __m512 xv = tq_avx512_load(m, (xb) + k);                               \
      __m512 t = by_inverse ? _mm512_mul_ps(xv, inv) : _mm512_div_ps(xv, s); \
      tq_avx512_store((yb) + k, m, BODY);                                    \
    }                                                                        \
  } while (0)

/* Eight blocks at a time where the kind computes eight params at once
 * (their lo and hi are those of any group), then one by one. */
#define BLOCKS_LOOP(BODY)                                                  \
  size_t b = 0;                                                            \
  __m512 u = _mm512_setzero_ps(), lo = u, hi = u;                          \
  (void)u, (void)lo, (void)hi;                                             \
  if (gt->param8_avx2) {                                                   \
    tq_group_stat z = tq_group_stat_empty();                               \
    tq_group_param p0;                                                     \
    gt->param(q, env, &z, &p0);                                            \
    lo = _mm512_set1_ps(p0.lo);                                            \
    hi = _mm512_set1_ps(p0.hi);                                            \
    for (; b + 8 <= nb; b += 8) {                                          \
      __m256 am[8], bd[8];                                                 \
      float amv[8], bdv[8], sv8[8];                                        \
      for (int j = 0; j < 8; j++)                                          \
        block_amax(in + (b + j) * G, G, &am[j], &bd[j]);                   \
      _mm256_storeu_ps(amv, tq_avx2_hmax8(am));                            \
      _mm256_storeu_ps(bdv, tq_avx2_hmax8(bd));                            \
      gt->param8_avx2(q, env, amv, bdv, sv8);                              \
      for (int j = 0; j < 8; j++)                                          \
        BLOCK_ELEMENTS(in + (b + j) * G, out + (b + j) * G, sv8[j], BODY); \
    }                                                                      \
  }                                                                        \
  for (; b < nb; b++) {                                                    \
    tq_group_stat st = block_stat(in + b * G, G, minmax);                  \
    tq_group_param pr;                                                     \
    gt->param(q, env, &st, &pr);                                           \
    lo = _mm512_set1_ps(pr.lo);                                            \
    hi = _mm512_set1_ps(pr.hi);                                            \
    BLOCK_ELEMENTS(in + b * G, out + b * G, pr.s, BODY);                   \
  }

#define INT_BLOCKS_CASE(R)                    \
  case R: {                                   \
    BLOCKS_LOOP(int_of_t(t, u, s, lo, hi, R)) \
    break;                                    \
  }

static void blocks_int(const tq_quantizer *q, const tq_group_env *env,
                       const float *in, float *out, size_t nb, size_t G) {
  const tq_group_traits *gt = tq_kind_traits_get(q->p.kind)->groups;
  const int minmax = gt->minmax && gt->minmax(&q->p);
  switch (q->p.round) {
    TQ_EACH_DETERMINISTIC_ROUND(INT_BLOCKS_CASE)
    default: break; /* stochastic: never called (tq_grouped_run) */
  }
}

static void blocks_float(const tq_quantizer *q, const tq_group_env *env,
                         const float *in, float *out, size_t nb, size_t G) {
  const tq_group_traits *gt = tq_kind_traits_get(q->p.kind)->groups;
  const int minmax = 0;
  tq_avx512_rne c;
  tq_avx512_rne_init(&c, &q->p, &q->fl);
  BLOCKS_LOOP(float_of_t(&c, t, s))
}

static const tq_group_ops ops_int = {tq_avx2_stat_span, tq_avx2_stat_cols,
                                     apply_span_int, apply_cols_int,
                                     blocks_int};
static const tq_group_ops ops_float = {tq_avx2_stat_span, tq_avx2_stat_cols,
                                       apply_span_float, apply_cols_float,
                                       blocks_float};

/* Float elements rounded other than to nearest even (or with m = 0) keep
 * the AVX2 ops (vector statistics, scalar elements). */
const tq_group_ops *tq_group_ops_avx512(const tq_quantizer *q) {
  const tq_quant_params *p = &q->p;
  if (!tq_elem_is_float(p)) return &ops_int;
  if (p->round == TQ_ROUND_EVEN && p->man_bits >= 1 && p->man_bits < 23)
    return &ops_float;
  return tq_group_ops_avx2(q);
}

tq_status tq_grouped_avx512(tq_context *ctx, const tq_quantizer *q,
                            const float *in, float *out, const tq_groups *g,
                            const tq_group_env *env, tq_rng_pos rng,
                            int threads) {
  return tq_grouped_run(ctx, q, in, out, g, env, rng, threads,
                        tq_group_ops_avx512(q));
}
