/* The AVX2 passes of the scaled and block formats (grouped.h): statistics
 * of spans and columns, and the element grids (integers in every rounding
 * mode; floats with round to nearest even) over spans and rows. Compiled
 * with -mavx2 -mfma -mf16c and only called after the run-time CPU check
 * (dispatch.c); bit for bit the scalar passes of grouped.c, which the
 * tests check. x / s is an IEEE division in both, max and min are exact,
 * and the rounding steps are avx2_shared.h's. */
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "quant/grouped.h"
#include "quant/kernel_loop_avx2.h"

/* ---- statistics ----------------------------------------------------------*/

typedef struct stat_vec {
  __m256 amax, min, max, bad;
} stat_vec;

/* One vector of elements into the running statistic: non-finite lanes
 * only set bad. */
ALWAYS_INLINE void stat_add(stat_vec *v, __m256 x) {
  __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  __m256 fin = _mm256_cmp_ps(a, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ);
  v->bad = _mm256_or_ps(v->bad, _mm256_andnot_ps(fin, _mm256_set1_ps(1.0f)));
  v->amax = _mm256_max_ps(v->amax, _mm256_and_ps(a, fin));
  v->min =
      _mm256_min_ps(v->min, _mm256_blendv_ps(_mm256_set1_ps(INFINITY), x, fin));
  v->max = _mm256_max_ps(v->max,
                         _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, fin));
}

void tq_avx2_stat_span(const float *x, size_t n, tq_group_stat *st) {
  stat_vec v = {_mm256_setzero_ps(), _mm256_set1_ps(INFINITY),
                _mm256_set1_ps(-INFINITY), _mm256_setzero_ps()};
  stat_vec w = v;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    stat_add(&v, _mm256_loadu_ps(x + i));
    stat_add(&w, _mm256_loadu_ps(x + i + 8));
  }
  for (; i + 8 <= n; i += 8) stat_add(&v, _mm256_loadu_ps(x + i));
  v.amax = _mm256_max_ps(v.amax, w.amax);
  v.min = _mm256_min_ps(v.min, w.min);
  v.max = _mm256_max_ps(v.max, w.max);
  v.bad = _mm256_or_ps(v.bad, w.bad);
  float am[8], mn[8], mx[8], bd[8];
  _mm256_storeu_ps(am, v.amax);
  _mm256_storeu_ps(mn, v.min);
  _mm256_storeu_ps(mx, v.max);
  _mm256_storeu_ps(bd, v.bad);
  tq_group_stat s = tq_group_stat_empty();
  for (int k = 0; k < 8; k++) {
    tq_group_stat one = {am[k], mn[k], mx[k], bd[k] > 0.0f};
    tq_group_stat_merge(&s, &one);
  }
  for (; i < n; i++) tq_group_stat_add(&s, x[i]);
  tq_group_stat_merge(st, &s);
}

void tq_avx2_stat_cols(const float *x, size_t n, const tq_col_stats *cs) {
  size_t i = 0;
  const __m256 inf = _mm256_set1_ps(INFINITY);
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    __m256 fin = _mm256_cmp_ps(a, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ);
    _mm256_storeu_ps(cs->amax + i,
                     _mm256_max_ps(_mm256_loadu_ps(cs->amax + i),
                                   _mm256_blendv_ps(inf, a, fin)));
    if (!cs->min) continue;
    _mm256_storeu_ps(cs->min + i, _mm256_min_ps(_mm256_loadu_ps(cs->min + i),
                                                _mm256_blendv_ps(inf, v, fin)));
    _mm256_storeu_ps(
        cs->max + i,
        _mm256_max_ps(_mm256_loadu_ps(cs->max + i),
                      _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, fin)));
  }
  if (i < n) {
    tq_col_stats tail = {cs->amax + i, cs->min ? cs->min + i : NULL,
                         cs->max ? cs->max + i : NULL};
    tq_group_ops_scalar.stat_cols(x + i, n - i, &tail);
  }
}

/* ---- element grids -------------------------------------------------------*/

/* tq_group_elem's integer grid on t = x / s: bounded to +-2^24, rounded,
 * clamped, (r + 0) * s; NaN t (NaN x or a NaN group) gives t. */
ALWAYS_INLINE __m256 int_of_t(__m256 t, __m256 u, __m256 s, __m256 lo,
                              __m256 hi, tq_round R) {
  __m256 tb = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-0x1p24f)),
                            _mm256_set1_ps(0x1p24f));
  __m256 r = tq_avx2_round_ps(tb, u, R);
  r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
  __m256 y = _mm256_mul_ps(_mm256_add_ps(r, _mm256_setzero_ps()), s);
  return _mm256_blendv_ps(y, t, tq_avx2_nan_mask(t));
}

ALWAYS_INLINE __m256 int_elem(__m256 x, __m256 u, __m256 s, __m256 lo,
                              __m256 hi, tq_round R) {
  return int_of_t(_mm256_div_ps(x, s), u, s, lo, hi, R);
}

/* tq_group_elem's float grid with round to nearest even (saturating). */
ALWAYS_INLINE __m256 float_of_t(const tq_avx2_rne *c, __m256 t, __m256 s) {
  return _mm256_mul_ps(tq_avx2_rne_ps(c, t), s);
}

ALWAYS_INLINE __m256 float_elem(const tq_avx2_rne *c, __m256 x, __m256 s) {
  return float_of_t(c, _mm256_div_ps(x, s), s);
}

#define INT_SPAN_CASE(R)                                      \
  case R:                                                     \
    RUN_VECTORS(q, in, out, n, rng, R == TQ_ROUND_STOCHASTIC, \
                int_elem(x, u, s, lo, hi, R));                \
    break;

static void apply_span_int(const tq_quantizer *q, const float *in, float *out,
                           size_t n, tq_group_param pr, tq_rng_pos rng) {
  __m256 s = _mm256_set1_ps(pr.s), lo = _mm256_set1_ps(pr.lo),
         hi = _mm256_set1_ps(pr.hi);
  switch (q->p.round) {
    INT_SPAN_CASE(TQ_ROUND_NEAREST)
    INT_SPAN_CASE(TQ_ROUND_EVEN)
    INT_SPAN_CASE(TQ_ROUND_HALF_UP)
    INT_SPAN_CASE(TQ_ROUND_HALF_DOWN)
    INT_SPAN_CASE(TQ_ROUND_HALF_ZERO)
    INT_SPAN_CASE(TQ_ROUND_DOWN)
    INT_SPAN_CASE(TQ_ROUND_UP)
    INT_SPAN_CASE(TQ_ROUND_ZERO)
    INT_SPAN_CASE(TQ_ROUND_AWAY)
    INT_SPAN_CASE(TQ_ROUND_STOCHASTIC)
    case TQ_ROUND_COUNT: break;
  }
}

static void apply_span_float(const tq_quantizer *q, const float *in, float *out,
                             size_t n, tq_group_param pr, tq_rng_pos rng) {
  tq_avx2_rne c;
  tq_avx2_rne_init(&c, q);
  __m256 s = _mm256_set1_ps(pr.s);
  RUN_VECTORS(q, in, out, n, rng, 0, float_elem(&c, x, s));
}

/* Rows whose element j has param j: vectors of eight straight from the
 * arrays, the tail through a padded copy; stochastic numbers per tile of
 * the row. */
#define COLS_VECTOR(at, px, ps, pl, ph, py, BODY)                         \
  do {                                                                    \
    __m256 x = _mm256_loadu_ps(px);                                       \
    __m256 s = _mm256_loadu_ps(ps);                                       \
    __m256 lo = _mm256_loadu_ps(pl);                                      \
    __m256 hi = _mm256_loadu_ps(ph);                                      \
    __m256 u = stochastic ? load_u(u24_ + (at)-t0) : _mm256_setzero_ps(); \
    (void)u, (void)lo, (void)hi;                                          \
    _mm256_storeu_ps(py, BODY);                                           \
  } while (0)

#define COLS_LOOP(BODY)                                                        \
  do {                                                                         \
    uint32_t u24_[TILE];                                                       \
    for (size_t t0 = 0; t0 < n; t0 += TILE) {                                  \
      size_t tn = n - t0 < TILE ? n - t0 : TILE, i = 0;                        \
      if (stochastic)                                                          \
        tq_avx2_philox_u24(rng.seed, rng.stream, rng.first + t0, u24_,         \
                           (tn + 7) & ~(size_t)7);                             \
      for (; i + 8 <= tn; i += 8) {                                            \
        size_t at = t0 + i;                                                    \
        COLS_VECTOR(at, in + at, sv + at, lov + at, hiv + at, out + at, BODY); \
      }                                                                        \
      if (i < tn) {                                                            \
        size_t at = t0 + i, m = tn - i;                                        \
        float px[8] = {0}, ps[8] = {1, 1, 1, 1, 1, 1, 1, 1}, pl[8] = {0},      \
              ph[8] = {0}, py[8];                                              \
        memcpy(px, in + at, m * sizeof *px);                                   \
        memcpy(ps, sv + at, m * sizeof *ps);                                   \
        memcpy(pl, lov + at, m * sizeof *pl);                                  \
        memcpy(ph, hiv + at, m * sizeof *ph);                                  \
        COLS_VECTOR(at, px, ps, pl, ph, py, BODY);                             \
        memcpy(out + at, py, m * sizeof *py);                                  \
      }                                                                        \
    }                                                                          \
  } while (0)

/* One case per rounding mode (the mode is a constant in each). */
#define INT_COLS_CASE(R)                             \
  case R: {                                          \
    const int stochastic = R == TQ_ROUND_STOCHASTIC; \
    COLS_LOOP(int_elem(x, u, s, lo, hi, R));         \
    break;                                           \
  }

static void apply_cols_int(const tq_quantizer *q, const float *in, float *out,
                           size_t n, const float *sv, const float *lov,
                           const float *hiv, tq_rng_pos rng) {
  switch (q->p.round) {
    INT_COLS_CASE(TQ_ROUND_NEAREST)
    INT_COLS_CASE(TQ_ROUND_EVEN)
    INT_COLS_CASE(TQ_ROUND_HALF_UP)
    INT_COLS_CASE(TQ_ROUND_HALF_DOWN)
    INT_COLS_CASE(TQ_ROUND_HALF_ZERO)
    INT_COLS_CASE(TQ_ROUND_DOWN)
    INT_COLS_CASE(TQ_ROUND_UP)
    INT_COLS_CASE(TQ_ROUND_ZERO)
    INT_COLS_CASE(TQ_ROUND_AWAY)
    INT_COLS_CASE(TQ_ROUND_STOCHASTIC)
    case TQ_ROUND_COUNT: break;
  }
}

static void apply_cols_float(const tq_quantizer *q, const float *in, float *out,
                             size_t n, const float *sv, const float *lov,
                             const float *hiv, tq_rng_pos rng) {
  tq_avx2_rne c;
  tq_avx2_rne_init(&c, q);
  const int stochastic = 0;
  COLS_LOOP(float_elem(&c, x, s));
}

/* ---- whole blocks --------------------------------------------------------
 * Consecutive blocks of G (a multiple of 8) elements, each read twice from
 * L1: its statistic in vectors, reduced across lanes (max and min are
 * exact in any order), the kind's param(), then its elements. */

/* The block's statistic; min and max only where param() reads them
 * (asymmetric integers), the rest leave them at +-inf. */
ALWAYS_INLINE tq_group_stat block_stat(const float *x, size_t G, int minmax) {
  if (minmax) {
    stat_vec v = {_mm256_setzero_ps(), _mm256_set1_ps(INFINITY),
                  _mm256_set1_ps(-INFINITY), _mm256_setzero_ps()};
    for (size_t k = 0; k < G; k += 8) stat_add(&v, _mm256_loadu_ps(x + k));
    tq_group_stat st = {tq_avx2_hmax_ps(v.amax), tq_avx2_hmin_ps(v.min),
                        tq_avx2_hmax_ps(v.max),
                        _mm256_movemask_ps(_mm256_cmp_ps(
                            v.bad, _mm256_setzero_ps(), _CMP_NEQ_OQ)) != 0};
    return st;
  }
  __m256 am = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
  for (size_t k = 0; k < G; k += 8) {
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(x + k));
    __m256 fin = _mm256_cmp_ps(a, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ);
    bad = _mm256_or_ps(
        bad, _mm256_xor_ps(fin, _mm256_castsi256_ps(_mm256_set1_epi32(-1))));
    am = _mm256_max_ps(am, _mm256_and_ps(a, fin));
  }
  tq_group_stat st = {tq_avx2_hmax_ps(am), INFINITY, -INFINITY,
                      _mm256_movemask_ps(bad) != 0};
  return st;
}

/* amax and bad (1 where non-finite) of a block, in vectors. */
ALWAYS_INLINE void block_amax(const float *x, size_t G, __m256 *amax,
                              __m256 *bad) {
  __m256 am = _mm256_setzero_ps(), bd = _mm256_setzero_ps();
  for (size_t k = 0; k < G; k += 8) {
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(x + k));
    __m256 fin = _mm256_cmp_ps(a, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ);
    bd = _mm256_or_ps(bd, _mm256_andnot_ps(fin, _mm256_set1_ps(1.0f)));
    am = _mm256_max_ps(am, _mm256_and_ps(a, fin));
  }
  *amax = am;
  *bad = bd;
}

/* One block's elements with divisor sv: t = x / s, or x times the exact
 * reciprocal of a power-of-two s (the same bits without a division). */
#define BLOCK_ELEMENTS(xb, yb, sv, BODY)                          \
  do {                                                            \
    __m256 s = _mm256_set1_ps(sv);                                \
    if (tq_exact_reciprocal(sv)) {                                \
      __m256 inv = _mm256_set1_ps(tq_pow2_reciprocal(sv));        \
      for (size_t k = 0; k < G; k += 8) {                         \
        __m256 t = _mm256_mul_ps(_mm256_loadu_ps((xb) + k), inv); \
        _mm256_storeu_ps((yb) + k, BODY);                         \
      }                                                           \
    } else {                                                      \
      for (size_t k = 0; k < G; k += 8) {                         \
        __m256 t = _mm256_div_ps(_mm256_loadu_ps((xb) + k), s);   \
        _mm256_storeu_ps((yb) + k, BODY);                         \
      }                                                           \
    }                                                             \
  } while (0)

/* Eight blocks at a time where the kind computes eight params at once
 * (their lo and hi are those of any group), then one by one. */
#define BLOCKS_LOOP(BODY)                                                  \
  size_t b = 0;                                                            \
  __m256 u = _mm256_setzero_ps(), lo = u, hi = u;                          \
  (void)u, (void)lo, (void)hi;                                             \
  if (gt->param8_avx2) {                                                   \
    tq_group_stat z = tq_group_stat_empty();                               \
    tq_group_param p0;                                                     \
    gt->param(q, env, &z, &p0);                                            \
    lo = _mm256_set1_ps(p0.lo);                                            \
    hi = _mm256_set1_ps(p0.hi);                                            \
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
    lo = _mm256_set1_ps(pr.lo);                                            \
    hi = _mm256_set1_ps(pr.hi);                                            \
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
    INT_BLOCKS_CASE(TQ_ROUND_NEAREST)
    INT_BLOCKS_CASE(TQ_ROUND_EVEN)
    INT_BLOCKS_CASE(TQ_ROUND_HALF_UP)
    INT_BLOCKS_CASE(TQ_ROUND_HALF_DOWN)
    INT_BLOCKS_CASE(TQ_ROUND_HALF_ZERO)
    INT_BLOCKS_CASE(TQ_ROUND_DOWN)
    INT_BLOCKS_CASE(TQ_ROUND_UP)
    INT_BLOCKS_CASE(TQ_ROUND_ZERO)
    INT_BLOCKS_CASE(TQ_ROUND_AWAY)
    default: break; /* stochastic: never called (tq_grouped_run) */
  }
}

static void blocks_float(const tq_quantizer *q, const tq_group_env *env,
                         const float *in, float *out, size_t nb, size_t G) {
  const tq_group_traits *gt = tq_kind_traits_get(q->p.kind)->groups;
  const int minmax = 0;
  tq_avx2_rne c;
  tq_avx2_rne_init(&c, q);
  BLOCKS_LOOP(float_of_t(&c, t, s))
}

static const tq_group_ops ops_int = {tq_avx2_stat_span, tq_avx2_stat_cols,
                                     apply_span_int, apply_cols_int,
                                     blocks_int};
static const tq_group_ops ops_float = {tq_avx2_stat_span, tq_avx2_stat_cols,
                                       apply_span_float, apply_cols_float,
                                       blocks_float};

/* Statistics in vectors, elements by the scalar passes: float elements
 * rounded other than to nearest even (or with m = 0, where the bit
 * pattern trick does not apply). */
static void apply_span_ref(const tq_quantizer *q, const float *x, float *y,
                           size_t n, tq_group_param pr, tq_rng_pos rng) {
  tq_group_ops_scalar.apply_span(q, x, y, n, pr, rng);
}
static void apply_cols_ref(const tq_quantizer *q, const float *x, float *y,
                           size_t n, const float *s, const float *lo,
                           const float *hi, tq_rng_pos rng) {
  tq_group_ops_scalar.apply_cols(q, x, y, n, s, lo, hi, rng);
}
static const tq_group_ops ops_stats_only = {
    tq_avx2_stat_span, tq_avx2_stat_cols, apply_span_ref, apply_cols_ref, NULL};

const tq_group_ops *tq_group_ops_avx2(const tq_quantizer *q) {
  const tq_quant_params *p = &q->p;
  if (!tq_elem_is_float(p)) return &ops_int;
  if (p->round == TQ_ROUND_EVEN && p->man_bits >= 1 && p->man_bits < 23)
    return &ops_float;
  return &ops_stats_only;
}

tq_status tq_grouped_avx2(tq_context *ctx, const tq_quantizer *q,
                          const float *in, float *out, const tq_groups *g,
                          const tq_group_env *env, tq_rng_pos rng,
                          int threads) {
  return tq_grouped_run(ctx, q, in, out, g, env, rng, threads,
                        tq_group_ops_avx2(q));
}
