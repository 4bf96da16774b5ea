/* AVX2 implementation of intrinsic quantization (docs/design.md §3); compiled
 * with -mavx2 -mfma -mf16c and only called after the run-time CPU check.
 * It must give the bits of tq_intrinsic_ref_element (intrinsic_ref.c) for
 * every output; docs/intrinsic.md explains the shortcuts and why each is
 * exact, and tests/test_intrinsic.c compares the two on every path.
 *
 * Layout of the work: the columns are cut into panels of up to NB = 16
 * outputs (two vectors of 8); a task packs a group of panels of B (K x 16
 * each, zero padded, read row by row once for the group) and runs a block
 * of rows over each panel. Each output's arithmetic is independent of
 * every other's, and k always runs 0..K-1 in order inside a vector lane,
 * so neither the split nor the thread count can change a bit.
 *
 * Paths, chosen per call and, where the data decide, per row x panel
 * (vstats: finite? exponent and lowest-bit ranges):
 *  - sum form (and an IEEE float32 accumulator after a product quantizer,
 *    the same arithmetic), products unquantized, fixed point, fp16 or any
 *    round-to-nearest-even float format: one fused loop with the product
 *    quantizer inlined; fixed point sums in units of its grid and, where
 *    the data bound the products inside its range, skips the overflow
 *    handling and takes x pre-scaled by 2^f (PV_FREE);
 *  - sum form, other product quantizers: products into a buffer, quantized
 *    by the quantizer's own AVX2 kernel, then summed;
 *  - accumulator form, fixed-point accumulator, products on its grid: exact
 *    int32 arithmetic (saturating, modulo 2^32, or plain where the data
 *    keep every partial sum in range) instead of doubles;
 *  - accumulator form otherwise: a vector double loop (fixed point, float
 *    formats, identity, IEEE float32) or, for logarithmic, sparse, binary
 *    and ternary accumulators, the reference's double quantizer per lane.
 *
 * No FMA is used for arithmetic (-ffp-contract=off keeps the compiler from
 * fusing), and every comparison with NaN inputs is arranged so NaN stays
 * NaN; NaN outputs are made canonical at the end as in the reference. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "ops/intrinsic_internal.h"
#include "quant/avx2_shared.h"
#include "quant/quant_internal.h"

enum {
  NB = 16,        /* outputs per panel: two vectors */
  KC = 256,       /* k per chunk of the product buffer */
  GROUP = 8,      /* most panels one task packs (for fewer page walks in B) */
  PACKED = 65536, /* floats of packed panels per task, at most (256 KiB) */
};

/* u of lanes j = 0..7 at step k from a buffer laid out [lane][K+1]. */
ALWAYS_INLINE __m256 u_gather(const uint32_t *u24, __m256i lane_offsets,
                              int k) {
  __m256i w = _mm256_i32gather_epi32((const int *)(u24 + k), lane_offsets, 4);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(w), _mm256_set1_ps(0x1p-24f));
}

/* ---- fixed point on float32 inputs, result in units of the grid ----------
 * qfix_units(p) = Q(p) * 2^f for a fixed-point Q, as an integer-valued
 * float: exactly the reference kernel's Q(p) * 2^f (kind_fixed.c's
 * define() on p, rounded to float32). Why it is exact:
 *  - t = p * 2^f is exact unless it overflows (then |t| >= 2^128, which
 *    saturates, or wraps to 0 being a multiple of 2^32) or drops below
 *    2^-126 (possible only for f < 0; then the modes that care only about
 *    "nonzero and its sign" get the stand-in 2^-149, the others give 0);
 *  - saturation is applied before rounding: rounding is monotone and
 *    leaves the integer bounds alone, so round(clamp(t)) = clamp(round(t)).
 *    The bounds are qmax and qlow rounded to float32; that changes nothing
 *    because the reference rounds r * 2^-f to float32 too (for w > 24 the
 *    float nearest to 2^n - 1 is 2^n, and no float lies between them);
 *  - wrap: |t| is first limited to 2^56 (any float beyond is a multiple of
 *    2^33, which wraps to 0, as does 2^56), then the low 32 bits of the
 *    integer come from its significand and exponent, are sign-extended
 *    from w bits (or masked) and converted to float32 with one rounding,
 *    as the reference's (float)(r * 2^-f);
 *  - max/min take the NaN operand second so NaN stays NaN; infinite inputs
 *    saturate in every overflow mode. */
typedef struct qfix {
  __m256 scale, lo, hi, inf_hi, inf_lo;
  tq_avx2_wrap word;
  float inv_scale;
  int standin, wrap;
  tq_round round;
} qfix;

static void qfix_init(qfix *c, const tq_quantizer *q) {
  const tq_quant_params *p = &q->p;
  const tq_fixed_consts *k = &q->fx;
  c->scale = _mm256_set1_ps(k->scale);
  c->inv_scale = k->inv_scale;
  c->lo = _mm256_set1_ps((float)k->qlow);
  c->hi = _mm256_set1_ps((float)k->qmax);
  c->inf_hi = c->hi;
  c->inf_lo = c->lo;
  tq_avx2_wrap_init(&c->word, q);
  c->standin = p->frac < 0;
  c->wrap = p->overflow == TQ_OVERFLOW_WRAP;
  c->round = p->round;
}

/* How the overflow of a fixed-point product quantizer is handled in a
 * loop: clamp (sat, sat_sym), wrap, or nothing at all (PV_FREE: the data
 * bound every product inside the range, and the loop's x is pre-scaled by
 * 2^f so that p already is t; see row_panel for when that is exact). */
enum { PV_CLAMP, PV_WRAP, PV_FREE };

ALWAYS_INLINE __m256 qfix_units(const qfix *c, __m256 p, __m256 u, tq_round R,
                                int PV) {
  const __m256 sgn = _mm256_set1_ps(-0.0f);
  if (PV == PV_FREE) return tq_avx2_round_ps(p, u, R);
  __m256 t = _mm256_mul_ps(p, c->scale);
  if ((R == TQ_ROUND_DOWN || R == TQ_ROUND_UP || R == TQ_ROUND_AWAY ||
       R == TQ_ROUND_STOCHASTIC) &&
      c->standin) {
    __m256 zero = _mm256_setzero_ps();
    __m256 lost = _mm256_andnot_ps(_mm256_cmp_ps(p, zero, _CMP_EQ_OQ),
                                   _mm256_cmp_ps(t, zero, _CMP_EQ_OQ));
    t = _mm256_blendv_ps(
        t, _mm256_or_ps(_mm256_and_ps(p, sgn), _mm256_set1_ps(0x1p-149f)),
        lost);
  }
  if (PV == PV_CLAMP)
    return tq_avx2_round_ps(_mm256_min_ps(c->hi, _mm256_max_ps(c->lo, t)), u,
                            R);
  const __m256 lim = _mm256_set1_ps(0x1p56f);
  t = _mm256_min_ps(lim,
                    _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), lim), t));
  __m256 r = tq_avx2_round_ps(t, u, R);
  __m256i negm =
      _mm256_cmpgt_epi32(_mm256_setzero_si256(), _mm256_castps_si256(r));
  __m256 y = tq_avx2_wrap_ps(&c->word, _mm256_andnot_ps(sgn, r), negm);
  __m256 is_inf = _mm256_cmp_ps(_mm256_andnot_ps(sgn, p),
                                _mm256_set1_ps(INFINITY), _CMP_EQ_OQ);
  y = _mm256_blendv_ps(y, _mm256_blendv_ps(c->inf_hi, c->inf_lo, p), is_inf);
  return _mm256_blendv_ps(y, t, _mm256_cmp_ps(t, t, _CMP_UNORD_Q));
}

/* ---- fixed point on doubles (the accumulator) -----------------------------
 * qfixd(v) = tq_quantize_double_one(Q, v, u) for a fixed-point Q. The
 * values reaching it are sums of grid values, float32 values, exact
 * products of float32 values and biases: multiples of 2^-298 below 2^257,
 * so t = v * 2^f (|f| <= 64) is exact and never near double's limits, and
 * no stand-in is needed. Saturation clamps before rounding (as above);
 * wrap limits |t| to 2^100 (a multiple of 2^48 beyond) and reduces with
 * r - 2^w * floor(r * 2^-w), every step exact (the difference is an
 * integer below 2^w). Infinite v saturate in every mode. */
typedef struct qfixd {
  __m256d scale, inv, lo, hi, two_w, inv_two_w, half_w;
  int is_signed;
} qfixd;

static void qfixd_init(qfixd *c, const tq_quantizer *q) {
  const tq_quant_params *p = &q->p;
  c->scale = _mm256_set1_pd(ldexp(1.0, p->frac));
  c->inv = _mm256_set1_pd(ldexp(1.0, -p->frac));
  c->lo = _mm256_set1_pd(q->fx.qlow);
  c->hi = _mm256_set1_pd(q->fx.qmax);
  c->two_w = _mm256_set1_pd(ldexp(1.0, p->width));
  c->inv_two_w = _mm256_set1_pd(ldexp(1.0, -p->width));
  c->half_w = _mm256_set1_pd(ldexp(1.0, p->width - 1));
  c->is_signed = p->is_signed;
}

ALWAYS_INLINE __m256d qfixd_apply(const qfixd *c, __m256d v, __m256d u,
                                  tq_round R, int WRAP) {
  __m256d t = _mm256_mul_pd(v, c->scale);
  __m256d r;
  if (!WRAP) {
    r = tq_avx2_round_pd(_mm256_min_pd(c->hi, _mm256_max_pd(c->lo, t)), u, R);
  } else {
    const __m256d lim = _mm256_set1_pd(0x1p100);
    __m256d tl = _mm256_min_pd(
        lim, _mm256_max_pd(_mm256_sub_pd(_mm256_setzero_pd(), lim), t));
    r = tq_avx2_round_pd(tl, u, R);
    __m256d q = _mm256_round_pd(_mm256_mul_pd(r, c->inv_two_w),
                                _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    r = _mm256_sub_pd(r, _mm256_mul_pd(q, c->two_w));
    if (c->is_signed)
      r = _mm256_sub_pd(
          r, _mm256_and_pd(_mm256_cmp_pd(r, c->half_w, _CMP_GE_OQ), c->two_w));
    __m256d is_inf = _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), t),
                                   _mm256_set1_pd(INFINITY), _CMP_EQ_OQ);
    r = _mm256_blendv_pd(r, _mm256_blendv_pd(c->hi, c->lo, t), is_inf);
  }
  /* + 0 turns -0 into +0: fixed point has no negative zero. */
  return _mm256_add_pd(_mm256_mul_pd(r, c->inv), _mm256_setzero_pd());
}

/* ---- floating point on doubles (the accumulator) --------------------------
 * qfltd(v) = tq_quantize_double_one(Q, v, u) for a float(e, m) Q, step by
 * step as the reference: the exponent of v (its double exponent field,
 * raised to emin) gives the quantum 2^(max(e, emin) - m); t = v 2^-quantum
 * and r 2^quantum are exact power-of-two scalings (t and r 2^quantum stay
 * normal doubles for the accumulator's values, multiples of 2^-298 below
 * 2^257; the exponent is capped at 1000, which only matters beyond 2^1000
 * where both give the overflow value); the rounding is round_pd; then the
 * overflow value by sign and mode, the flush of subnormals, the sign of v
 * (also on zeros), infinities and NaN as the format says. */
typedef struct qfltd {
  __m256i emin, man;
  __m256d max, over_pos, over_neg, inf_mag, min_normal;
  int flush;
} qfltd;

static void qfltd_init(qfltd *c, const tq_quantizer *q) {
  const tq_quant_params *p = &q->p;
  c->emin = _mm256_set1_epi64x(q->fl.emin);
  c->man = _mm256_set1_epi64x(p->man_bits);
  c->max = _mm256_set1_pd(q->fl.max);
  c->over_pos = _mm256_set1_pd(q->fl.over_pos);
  c->over_neg = _mm256_set1_pd(q->fl.over_neg);
  c->inf_mag = _mm256_set1_pd(q->fl.inf_out);
  c->min_normal = _mm256_set1_pd(ldexp(1.0, q->fl.emin));
  c->flush = !p->subnormals;
}

ALWAYS_INLINE __m256d qfltd_apply(const qfltd *c, __m256d v, __m256d u,
                                  tq_round R) {
  const __m256d sgn = _mm256_set1_pd(-0.0);
  const __m256i bias = _mm256_set1_epi64x(1023), cap = _mm256_set1_epi64x(1000);
  __m256i e = _mm256_sub_epi64(
      _mm256_and_si256(_mm256_srli_epi64(_mm256_castpd_si256(v), 52),
                       _mm256_set1_epi64x(0x7ff)),
      bias);
  e = _mm256_blendv_epi8(e, c->emin, _mm256_cmpgt_epi64(c->emin, e));
  e = _mm256_blendv_epi8(e, cap, _mm256_cmpgt_epi64(e, cap));
  __m256i quantum = _mm256_sub_epi64(e, c->man);
  __m256d down = _mm256_castsi256_pd(
      _mm256_slli_epi64(_mm256_sub_epi64(bias, quantum), 52));
  __m256d up = _mm256_castsi256_pd(
      _mm256_slli_epi64(_mm256_add_epi64(bias, quantum), 52));
  __m256d r = _mm256_mul_pd(tq_avx2_round_pd(_mm256_mul_pd(v, down), u, R), up);
  __m256d mag = _mm256_andnot_pd(sgn, r);
  mag = _mm256_blendv_pd(mag, _mm256_blendv_pd(c->over_pos, c->over_neg, v),
                         _mm256_cmp_pd(mag, c->max, _CMP_GT_OQ));
  if (c->flush)
    mag = _mm256_andnot_pd(_mm256_cmp_pd(mag, c->min_normal, _CMP_LT_OQ), mag);
  __m256d is_inf = _mm256_cmp_pd(_mm256_andnot_pd(sgn, v),
                                 _mm256_set1_pd(INFINITY), _CMP_EQ_OQ);
  mag = _mm256_blendv_pd(mag, c->inf_mag, is_inf);
  __m256d y = _mm256_or_pd(mag, _mm256_and_pd(v, sgn));
  return _mm256_blendv_pd(y, v, _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
}

/* ---- the call's constants ------------------------------------------------*/

/* Product quantizers: none, fixed point and two float cases inline, the
 * rest through their AVX2 kernels on a buffer. */
enum { P_NONE, P_FIXED, P_F16, P_RNE, P_KERNEL };
enum { S_NONE, S_FIXED, S_KERNEL };
enum { A_NONE, A_FIXED, A_F32, A_FLOAT, A_OTHER };

/* What the data allow, for a row of A or a panel of B: all finite, and
 * bounds on the nonzero elements v: 2^lead <= |v| < 2^(hi + 1), and v a
 * multiple of 2^bit (lead, hi: exponents; bit: the lowest set bit). Empty
 * (all zero): hi = -1000, lead = bit = 1000. */
typedef struct vstats {
  int finite, hi, lead, bit;
} vstats;

static void scan_stats(const float *v, size_t n, vstats *st) {
  const __m256i e_mask = _mm256_set1_epi32(0xff);
  const __m256i none_hi = _mm256_set1_epi32(-1000);
  const __m256i none_lo = _mm256_set1_epi32(1000);
  __m256i hi = none_hi, lead = none_lo, bit = none_lo;
  __m256i bad = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i b = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(v + i)),
                                 _mm256_set1_epi32(0x7fffffff));
    bad = _mm256_or_si256(bad,
                          _mm256_cmpgt_epi32(b, _mm256_set1_epi32(0x7f7fffff)));
    __m256i nz = _mm256_cmpgt_epi32(b, _mm256_setzero_si256());
    __m256i e = _mm256_and_si256(_mm256_srli_epi32(b, 23), e_mask);
    __m256i normal = _mm256_cmpgt_epi32(e, _mm256_setzero_si256());
    /* Exponent of the leading bit: e - 127, at most -127 for subnormals;
     * at least e - 127 for normals and -149 for subnormals. */
    __m256i up = _mm256_sub_epi32(e, _mm256_set1_epi32(127));
    __m256i down = _mm256_blendv_epi8(_mm256_set1_epi32(-149), up, normal);
    /* Lowest set bit: isolate it in the significand and read its exponent
     * from its (exact) float conversion. */
    __m256i sig =
        _mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x7fffff)),
                        _mm256_and_si256(normal, _mm256_set1_epi32(0x800000)));
    __m256i low =
        _mm256_and_si256(sig, _mm256_sub_epi32(_mm256_setzero_si256(), sig));
    __m256i low_e = _mm256_sub_epi32(
        _mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(low)), 23),
        _mm256_set1_epi32(127));
    __m256i e0 = _mm256_sub_epi32(_mm256_max_epi32(e, _mm256_set1_epi32(1)),
                                  _mm256_set1_epi32(150));
    __m256i trail = _mm256_add_epi32(e0, low_e);
    hi = _mm256_max_epi32(hi, _mm256_blendv_epi8(none_hi, up, nz));
    lead = _mm256_min_epi32(lead, _mm256_blendv_epi8(none_lo, down, nz));
    bit = _mm256_min_epi32(bit, _mm256_blendv_epi8(none_lo, trail, nz));
  }
  int h[8], l[8], t[8], bd[8];
  _mm256_storeu_si256((__m256i *)h, hi);
  _mm256_storeu_si256((__m256i *)l, lead);
  _mm256_storeu_si256((__m256i *)t, bit);
  _mm256_storeu_si256((__m256i *)bd, bad);
  st->finite = 1;
  st->hi = -1000;
  st->lead = st->bit = 1000;
  for (int k = 0; k < 8; k++) {
    if (bd[k]) st->finite = 0;
    if (h[k] > st->hi) st->hi = h[k];
    if (l[k] < st->lead) st->lead = l[k];
    if (t[k] < st->bit) st->bit = t[k];
  }
  for (; i < n; i++) {
    uint32_t b;
    memcpy(&b, &v[i], sizeof b);
    b &= 0x7fffffffu;
    if (b >= 0x7f800000u) st->finite = 0;
    if (b == 0 || b >= 0x7f800000u) continue;
    int e = (int)(b >> 23);
    uint32_t sig = (b & 0x7fffffu) | (e ? 0x800000u : 0);
    int e0 = (e ? e : 1) - 150;
    if (e - 127 > st->hi) st->hi = e - 127;
    if ((e ? e - 127 : -149) < st->lead) st->lead = e ? e - 127 : -149;
    if (e0 + __builtin_ctz(sig) < st->bit) st->bit = e0 + __builtin_ctz(sig);
  }
}

typedef struct job {
  const tq_intrinsic_gemm_args *a;
  const tq_intrinsic_plan *pl;
  int M, N, K;
  int p_kind, p_stoch;
  qfix pq;
  tq_avx2_rne pr;
  tq_kernel_fn p_fn;
  int s_kind, s_stoch;
  qfix sq;
  tq_kernel_fn s_fn;
  int a_kind, a_stoch, a_wrap;
  tq_round a_round;
  qfixd aq;
  qfltd af;
  /* Exact int32 accumulation (A fixed point, see acc_int_body). */
  int int_fixed_p;  /* P fixed point, its values on A's grid, int32-safe */
  int int_absent_p; /* no P: decided per row x panel from the data */
  int int_clamp_ok; /* the clamped (saturating) int32 loop is safe */
  int units_shift;  /* f_A - f_P: P's units to A's */
  double p_big;     /* largest |Q_P| in P's units */
  int32_t int_lo, int_hi; /* A's range in units (sat) */
  vstats *rows;           /* per row of A */
  /* A scaled by 2^xs_exp (M x K), for the loops that take x pre-scaled;
   * only used for rows where that is exact (p_free, absent_int_ok). */
  float *xs;
  int xs_exp;
} job;

/* Per-thread scratch. */
typedef struct scratch {
  float *bp;        /* packed panels, GROUP x K x NB */
  const float *cur; /* the panel row_panel works on */
  float *prod;      /* quantized products, KC x NB */
  float *lane;      /* one lane's products, KC */
  uint32_t *up;     /* u of the product quantizer, [lane][K+1] */
  uint32_t *ua;     /* u of the accumulator, [lane][K+1] */
  vstats ps[GROUP]; /* the packed panels' */
} scratch;

/* Packs columns n0 .. n0+nc-1 of B as panels of NB columns, each K x NB
 * (the last zero padded): row k of B is read once for all of them. */
static void pack_panels(const job *j, scratch *s, int n0, int nc) {
  const tq_intrinsic_gemm_args *a = j->a;
  int np = (nc + NB - 1) / NB;
  for (int k = 0; k < j->K; k++) {
    const float *src = a->B + (size_t)k * a->ldb + (size_t)n0;
    for (int p = 0; p < np; p++) {
      float *dst = s->bp + ((size_t)p * j->K + (size_t)k) * NB;
      int nl = nc - p * NB < NB ? nc - p * NB : NB;
      if (nl == NB) {
        memcpy(dst, src + p * NB, NB * sizeof *dst);
      } else {
        memcpy(dst, src + p * NB, (size_t)nl * sizeof *dst);
        memset(dst + nl, 0, (size_t)(NB - nl) * sizeof *dst);
      }
    }
  }
  for (int p = 0; p < np; p++)
    scan_stats(s->bp + (size_t)p * j->K * NB, (size_t)j->K * NB, &s->ps[p]);
}

/* ---- sum form, fused: the product quantizer inlined ---------------------*/

/* s[v] = sum over k of Q_P(x_k * b_k) in lanes 8v..8v+7, in units of P's
 * grid when P is fixed point. Float32 addition is invariant under scaling
 * by 2^f here: every partial sum is a multiple of 2^-f >= 2^-64 (normal)
 * and below K * 2^32 * 2^64 (finite), so summing units and scaling once
 * gives the reference's bits. The sum starts at +0, so the sign of a zero
 * product never shows (the reference's -0 and +0 products add alike). */
/* Offsets of the random numbers of lanes 0..7 and 8..15 in a buffer laid
 * out [lane][K+1]. */
ALWAYS_INLINE void lane_offsets(int K, __m256i off[2]) {
  off[0] = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                              _mm256_set1_epi32(K + 1));
  off[1] = _mm256_add_epi32(off[0], _mm256_set1_epi32(8 * (K + 1)));
}

/* The products x_k * b_k of step k in lanes 0..7 (p[0]) and, for NV = 2,
 * 8..15 (p[1]), with P inlined: in units of its grid when fixed point,
 * fp16 or round to nearest even, or none (PK = P_NONE). */
ALWAYS_INLINE void step_products(const job *j, const float *bp, const float *x,
                                 const uint32_t *up, const __m256i off[2],
                                 int k, __m256 p[2], int NV, int PK, tq_round R,
                                 int PV) {
  __m256 xb = _mm256_broadcast_ss(x + k);
  for (int v = 0; v < NV; v++) {
    __m256 q = _mm256_mul_ps(xb, _mm256_loadu_ps(bp + (size_t)k * NB + 8 * v));
    if (PK == P_FIXED) {
      __m256 u = R == TQ_ROUND_STOCHASTIC ? u_gather(up, off[v], k)
                                          : _mm256_setzero_ps();
      q = qfix_units(&j->pq, q, u, R, PV);
    } else if (PK == P_F16) {
      q = tq_avx2_fp16_ps(q);
    } else if (PK == P_RNE) {
      q = tq_avx2_rne_ps(&j->pr, q);
    }
    p[v] = q;
  }
}

ALWAYS_INLINE void sum_fused_body(const job *j, const float *bp, const float *x,
                                  const uint32_t *up, int nv, __m256 s[2],
                                  int PK, tq_round R, int PV) {
  __m256i off[2];
  lane_offsets(j->K, off);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), p[2];
  if (nv == 2) {
    for (int k = 0; k < j->K; k++) {
      step_products(j, bp, x, up, off, k, p, 2, PK, R, PV);
      s0 = _mm256_add_ps(s0, p[0]);
      s1 = _mm256_add_ps(s1, p[1]);
    }
  } else {
    for (int k = 0; k < j->K; k++) {
      step_products(j, bp, x, up, off, k, p, 1, PK, R, PV);
      s0 = _mm256_add_ps(s0, p[0]);
    }
  }
  s[0] = s0;
  s[1] = s1;
}

#define FLOAT_ROUND_CASES(CASE) \
  CASE(TQ_ROUND_EVEN)           \
  CASE(TQ_ROUND_NEAREST)        \
  CASE(TQ_ROUND_ZERO)           \
  CASE(TQ_ROUND_DOWN)           \
  CASE(TQ_ROUND_UP)             \
  CASE(TQ_ROUND_STOCHASTIC)

/* Every rounding mode: the deterministic ones, then stochastic. */
#define ROUND_CASES(CASE)           \
  TQ_EACH_DETERMINISTIC_ROUND(CASE) \
  CASE(TQ_ROUND_STOCHASTIC)

static void sum_fused(const job *j, const float *bp, const float *x,
                      const uint32_t *up, int nv, int pv, __m256 s[2]) {
  switch (j->p_kind) {
    case P_NONE:
      sum_fused_body(j, bp, x, up, nv, s, P_NONE, TQ_ROUND_NEAREST, PV_CLAMP);
      return;
    case P_F16:
      sum_fused_body(j, bp, x, up, nv, s, P_F16, TQ_ROUND_NEAREST, PV_CLAMP);
      return;
    case P_RNE:
      sum_fused_body(j, bp, x, up, nv, s, P_RNE, TQ_ROUND_NEAREST, PV_CLAMP);
      return;
    default: break;
  }
#define SUM_CASE(R)                                              \
  case R:                                                        \
    if (pv == PV_FREE)                                           \
      sum_fused_body(j, bp, x, up, nv, s, P_FIXED, R, PV_FREE);  \
    else if (pv == PV_WRAP)                                      \
      sum_fused_body(j, bp, x, up, nv, s, P_FIXED, R, PV_WRAP);  \
    else                                                         \
      sum_fused_body(j, bp, x, up, nv, s, P_FIXED, R, PV_CLAMP); \
    break;
  switch (j->pq.round) {
    ROUND_CASES(SUM_CASE)
    case TQ_ROUND_COUNT: break;
  }
#undef SUM_CASE
}

/* ---- products into a buffer ----------------------------------------------*/

/* prod[kk][lane] = Q_P(x_k * b_k) for k = k0 .. k0+kc-1 (P present): fixed
 * point inline (as float values: units * 2^-f, exact), other kinds by the
 * quantizer's AVX2 kernel (bit-identical to its reference). Stochastic
 * kernels get each lane's K products as one call, so element k of output
 * (m, n) uses the index the definition gives it. */
ALWAYS_INLINE void fill_fixed_body(const job *j, scratch *s, const float *x,
                                   int nv, int k0, int kc, tq_round R, int PV) {
  const __m256 inv = _mm256_set1_ps(j->pq.inv_scale);
  __m256i off[2];
  lane_offsets(j->K, off);
  __m256 p[2];
  for (int kk = 0; kk < kc; kk++) {
    step_products(j, s->cur, x, s->up, off, k0 + kk, p, nv, P_FIXED, R, PV);
    for (int v = 0; v < nv; v++)
      _mm256_storeu_ps(
          s->prod + (size_t)kk * NB + 8 * v,
          _mm256_add_ps(_mm256_mul_ps(p[v], inv), _mm256_setzero_ps()));
  }
}

static void fill_products(const job *j, scratch *s, const float *x, int m,
                          int n0, int nl, int k0, int kc) {
  int nv = (nl + 7) / 8;
  if (j->p_kind == P_FIXED) {
    int wrap = j->pq.wrap;
#define FILL_CASE(R)                                     \
  case R:                                                \
    if (wrap)                                            \
      fill_fixed_body(j, s, x, nv, k0, kc, R, PV_WRAP);  \
    else                                                 \
      fill_fixed_body(j, s, x, nv, k0, kc, R, PV_CLAMP); \
    break;
    switch (j->pq.round) {
      ROUND_CASES(FILL_CASE)
      case TQ_ROUND_COUNT: break;
    }
#undef FILL_CASE
    return;
  }
  for (int kk = 0; kk < kc; kk++) {
    __m256 xb = _mm256_broadcast_ss(x + k0 + kk);
    for (int v = 0; v < nv; v++)
      _mm256_storeu_ps(
          s->prod + (size_t)kk * NB + 8 * v,
          _mm256_mul_ps(
              xb, _mm256_loadu_ps(s->cur + (size_t)(k0 + kk) * NB + 8 * v)));
  }
  const tq_quantizer *q = j->pl->product;
  double thr = q->p.threshold;
  if (!j->p_stoch) {
    tq_rng_pos rng = {0, 0, 0};
    j->p_fn(q, s->prod, s->prod, (size_t)kc * NB, rng, thr);
    return;
  }
  for (int l = 0; l < nl; l++) {
    for (int kk = 0; kk < kc; kk++) s->lane[kk] = s->prod[(size_t)kk * NB + l];
    tq_rng_pos rng = {j->pl->seed_product, j->a->stream,
                      tq_intrinsic_index(j->a, m, n0 + l, k0)};
    j->p_fn(q, s->lane, s->lane, (size_t)kc, rng, thr);
    for (int kk = 0; kk < kc; kk++) s->prod[(size_t)kk * NB + l] = s->lane[kk];
  }
}

static void sum_buffered(const job *j, scratch *s, const float *x, int m,
                         int n0, int nl, __m256 sv[2]) {
  int nv = (nl + 7) / 8;
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int k0 = 0; k0 < j->K; k0 += KC) {
    int kc = j->K - k0 < KC ? j->K - k0 : KC;
    fill_products(j, s, x, m, n0, nl, k0, kc);
    /* Both vectors in each step: two addition chains in flight. */
    for (int kk = 0; kk < kc; kk++)
      for (int v = 0; v < nv; v++)
        acc[v] = _mm256_add_ps(
            acc[v], _mm256_loadu_ps(s->prod + (size_t)kk * NB + 8 * v));
  }
  sv[0] = acc[0];
  sv[1] = acc[1];
}

/* Bias of lanes 8v .. 8v+7 of output row m from column n0 (lanes >= nl
 * are don't-care). */
static __m256 bias_vec(const tq_intrinsic_gemm_args *a, int m, int n0, int v,
                       int nl) {
  if (a->bias_cs == 0) return _mm256_set1_ps(tq_intrinsic_bias(a, m, n0));
  if (a->bias_cs == 1 && 8 * v + 8 <= nl)
    return _mm256_loadu_ps(&a->bias[(ptrdiff_t)m * a->bias_rs + n0 + 8 * v]);
  float t[8] = {0};
  for (int l = 8 * v; l < nl && l < 8 * v + 8; l++)
    t[l - 8 * v] = tq_intrinsic_bias(a, m, n0 + l);
  return _mm256_loadu_ps(t);
}

/* Stores lanes 8v .. min(8v+8, nl)-1 of y to row m of C, NaN canonical. */
static void store_out(const tq_intrinsic_gemm_args *a, int m, int n0, int v,
                      int nl, __m256 y) {
  const __m256 nan = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000));
  y = _mm256_blendv_ps(y, nan, _mm256_cmp_ps(y, y, _CMP_UNORD_Q));
  float *c = a->C + (size_t)m * a->ldc + (size_t)n0 + 8 * v;
  if (8 * v + 8 <= nl) {
    _mm256_storeu_ps(c, y);
  } else {
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(
        c, _mm256_cmpgt_epi32(_mm256_set1_epi32(nl - 8 * v), lane), y);
  }
}

/* Sum form: s (lanes of the panel row) -> Q_S -> + bias -> C. */
static void sum_finish(const job *j, int m, int n0, int nl, __m256 sv[2],
                       int units) {
  const tq_intrinsic_gemm_args *a = j->a;
  int nv = (nl + 7) / 8;
  __m256 y[2];
  for (int v = 0; v < nv; v++) {
    y[v] = sv[v];
    if (units) y[v] = _mm256_mul_ps(y[v], _mm256_set1_ps(j->pq.inv_scale));
  }
  const tq_quantizer *S = j->pl->sum;
  if (j->s_kind == S_FIXED && !j->s_stoch) {
    for (int v = 0; v < nv; v++) {
      __m256 r = y[v];
#define S_CASE(RR)                                                             \
  case RR:                                                                     \
    r = j->sq.wrap ? qfix_units(&j->sq, r, _mm256_setzero_ps(), RR, PV_WRAP)   \
                   : qfix_units(&j->sq, r, _mm256_setzero_ps(), RR, PV_CLAMP); \
    break;
      switch (j->sq.round) {
        ROUND_CASES(S_CASE)
        case TQ_ROUND_COUNT: break;
      }
#undef S_CASE
      y[v] = _mm256_add_ps(_mm256_mul_ps(r, _mm256_set1_ps(j->sq.inv_scale)),
                           _mm256_setzero_ps());
    }
  } else if (j->s_kind != S_NONE) {
    float t[NB];
    for (int v = 0; v < nv; v++) _mm256_storeu_ps(t + 8 * v, y[v]);
    if (!j->s_stoch) {
      tq_rng_pos rng = {0, 0, 0};
      j->s_fn(S, t, t, (size_t)(8 * nv), rng, S->p.threshold);
    } else {
      for (int l = 0; l < nl; l++) {
        tq_rng_pos rng = {j->pl->seed_sum, a->stream,
                          tq_intrinsic_index(a, m, n0 + l, j->K)};
        j->s_fn(S, &t[l], &t[l], 1, rng, S->p.threshold);
      }
    }
    for (int v = 0; v < nv; v++) y[v] = _mm256_loadu_ps(t + 8 * v);
  }
  for (int v = 0; v < nv; v++) {
    if (a->bias) y[v] = _mm256_add_ps(y[v], bias_vec(a, m, n0, v, nl));
    store_out(a, m, n0, v, nl, y[v]);
  }
}

/* ---- accumulator form: exact int32 arithmetic ----------------------------
 * When A is fixed point and every product Q_P(x_k * w_k) lies on A's grid
 * (P fixed point with f_P <= f_A, or P absent with data whose exact
 * products are float32 values on the grid), the reference's double
 * additions are exact (integers below 2^33 in units of 2^-f_A) and Q_A
 * only applies its overflow mode (an integer rounds to itself in every
 * mode, stochastic included: floor(t + u) = t for u < 1). So in units,
 * with u_k = Q_P(p) * 2^f_A = r_k * 2^(f_A - f_P), an integer below 2^30
 * (checked from P's range or the data):
 *   sat:  a = min(max(a + u_k, qlow), qmax), in int32 without overflow
 *         because qlow - 2^30 and qmax + 2^30 fit (CLAMP_A);
 *   wrap: a = (a + u_k) mod 2^w = (sum of all u_k) mod 2^w; and since
 *         2^w divides 2^32, that is (2^(f_A - f_P) * sum of r_k mod 2^32)
 *         mod 2^w: the r_k are summed modulo 2^32 in int32 lanes, shifted
 *         and reduced once at the end;
 *   sat where the data bound K * max|u_k| inside [qlow, qmax]: no partial
 *         sum can saturate, so it is the plain sum, computed as for wrap
 *         (and then already in range). */
/* One step of the int32 accumulator a with the products p (units of P). */
ALWAYS_INLINE __m256i acc_int_step(__m256i a, __m256 p, __m256i shift,
                                   __m256i lo, __m256i hi, int CLAMP_A) {
  __m256i i = _mm256_cvttps_epi32(p);
  if (!CLAMP_A) return _mm256_add_epi32(a, i);
  return _mm256_min_epi32(
      hi,
      _mm256_max_epi32(lo, _mm256_add_epi32(a, _mm256_sllv_epi32(i, shift))));
}

ALWAYS_INLINE void acc_int_body(const job *j, const float *bp, const float *x,
                                const uint32_t *up, int nv, __m256i acc[2],
                                int PK, tq_round R, int PV, int CLAMP_A) {
  const __m256i shift = _mm256_set1_epi32(j->units_shift);
  const __m256i lo = _mm256_set1_epi32(j->int_lo);
  const __m256i hi = _mm256_set1_epi32(j->int_hi);
  __m256i off[2];
  lane_offsets(j->K, off);
  __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
  __m256 p[2];
  if (nv == 2) {
    for (int k = 0; k < j->K; k++) {
      step_products(j, bp, x, up, off, k, p, 2, PK, R, PV);
      a0 = acc_int_step(a0, p[0], shift, lo, hi, CLAMP_A);
      a1 = acc_int_step(a1, p[1], shift, lo, hi, CLAMP_A);
    }
  } else {
    for (int k = 0; k < j->K; k++) {
      step_products(j, bp, x, up, off, k, p, 1, PK, R, PV);
      a0 = acc_int_step(a0, p[0], shift, lo, hi, CLAMP_A);
    }
  }
  if (!CLAMP_A) {
    a0 = _mm256_sllv_epi32(a0, shift); /* counts >= 32 give 0: right */
    a1 = _mm256_sllv_epi32(a1, shift);
  }
  acc[0] = a0;
  acc[1] = a1;
}

static void acc_int(const job *j, const float *bp, const float *x,
                    const uint32_t *up, int nv, int pv, int clamp_a,
                    __m256i acc[2]) {
  if (j->p_kind == P_NONE) {
    if (clamp_a)
      acc_int_body(j, bp, x, up, nv, acc, P_NONE, TQ_ROUND_NEAREST, PV_FREE, 1);
    else
      acc_int_body(j, bp, x, up, nv, acc, P_NONE, TQ_ROUND_NEAREST, PV_FREE, 0);
    return;
  }
#define INT_CASE(R)                                                 \
  case R:                                                           \
    if (clamp_a && pv == PV_WRAP)                                   \
      acc_int_body(j, bp, x, up, nv, acc, P_FIXED, R, PV_WRAP, 1);  \
    else if (clamp_a)                                               \
      acc_int_body(j, bp, x, up, nv, acc, P_FIXED, R, PV_CLAMP, 1); \
    else if (pv == PV_FREE)                                         \
      acc_int_body(j, bp, x, up, nv, acc, P_FIXED, R, PV_FREE, 0);  \
    else if (pv == PV_WRAP)                                         \
      acc_int_body(j, bp, x, up, nv, acc, P_FIXED, R, PV_WRAP, 0);  \
    else                                                            \
      acc_int_body(j, bp, x, up, nv, acc, P_FIXED, R, PV_CLAMP, 0); \
    break;
  switch (j->pq.round) {
    ROUND_CASES(INT_CASE)
    case TQ_ROUND_COUNT: break;
  }
#undef INT_CASE
}

/* int32 units -> the accumulator's value as doubles (4 lanes each): wrap
 * reduces modulo 2^w to the format's range; r * 2^-f_A is exact. */
static void int_to_double(const job *j, const __m256i acc[2], __m256d out[4]) {
  const tq_quant_params *p = &j->pl->acc->p;
  for (int v = 0; v < 2; v++) {
    __m256i a = acc[v];
    int unsigned32 = 0;
    if (j->a_wrap) {
      if (p->is_signed) {
        __m256i sh = _mm256_set1_epi32(32 - p->width);
        a = _mm256_srav_epi32(_mm256_sllv_epi32(a, sh), sh);
      } else if (p->width < 32) {
        a = _mm256_and_si256(a, _mm256_set1_epi32((int)((1u << p->width) - 1)));
      } else {
        unsigned32 = 1;
      }
    }
    for (int h = 0; h < 2; h++) {
      __m128i part =
          h ? _mm256_extracti128_si256(a, 1) : _mm256_castsi256_si128(a);
      __m256d d = _mm256_cvtepi32_pd(part);
      if (unsigned32) /* the int32 reading of a uint32 lane: add 2^32 */
        d = _mm256_add_pd(
            d, _mm256_and_pd(_mm256_cmp_pd(d, _mm256_setzero_pd(), _CMP_LT_OQ),
                             _mm256_set1_pd(0x1p32)));
      out[2 * v + h] = _mm256_mul_pd(d, j->aq.inv);
    }
  }
}

/* ---- accumulator form: sequential double arithmetic ---------------------*/

/* Doubles of lanes 4h .. 4h+3 of a float vector. */
ALWAYS_INLINE __m256d half_pd(__m256 x, int h) {
  return _mm256_cvtps_pd(h ? _mm256_extractf128_ps(x, 1)
                           : _mm256_castps256_ps128(x));
}

ALWAYS_INLINE __m256d u_pd(const uint32_t *u24, int lane0, int K, int k) {
  __m256i off = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 0, 0, 0, 0),
                                   _mm256_set1_epi32(K + 1));
  __m128i w =
      _mm_i32gather_epi32((const int *)(u24 + (size_t)lane0 * (K + 1) + k),
                          _mm256_castsi256_si128(off), 4);
  return _mm256_mul_pd(_mm256_cvtepi32_pd(w), _mm256_set1_pd(0x1p-24));
}

/* The product of step k in lanes 4q .. 4q+3, as the definition has it:
 * Q_P's float32 result, or without P the exact double product. */
ALWAYS_INLINE __m256d product_pd(const job *j, const scratch *s, const float *x,
                                 int k, int kk, int q) {
  if (j->p_kind != P_NONE)
    return _mm256_cvtps_pd(_mm_loadu_ps(s->prod + (size_t)kk * NB + 4 * q));
  return _mm256_mul_pd(
      _mm256_set1_pd((double)x[k]),
      _mm256_cvtps_pd(_mm_loadu_ps(s->cur + (size_t)k * NB + 4 * q)));
}

/* Steps k0 .. k0+kc-1 of a fixed-point (AK = A_FIXED) or float (A_FLOAT)
 * accumulator on doubles. */
ALWAYS_INLINE void acc_chunk(const job *j, const scratch *s, const float *x,
                             int nq, int k0, int kc, __m256d acc[4], int AK,
                             tq_round R, int WRAP) {
  for (int kk = 0; kk < kc; kk++) {
    int k = k0 + kk;
    for (int q = 0; q < nq; q++) {
      __m256d u = _mm256_setzero_pd();
      if (R == TQ_ROUND_STOCHASTIC) u = u_pd(s->ua, 4 * q, j->K, k);
      __m256d v = _mm256_add_pd(acc[q], product_pd(j, s, x, k, kk, q));
      acc[q] = AK == A_FIXED ? qfixd_apply(&j->aq, v, u, R, WRAP)
                             : qfltd_apply(&j->af, v, u, R);
    }
  }
}

static void acc_fixed(const job *j, const scratch *s, const float *x, int nq,
                      int k0, int kc, __m256d acc[4]) {
#define ACCF_CASE(R)                                      \
  case R:                                                 \
    if (j->a_wrap)                                        \
      acc_chunk(j, s, x, nq, k0, kc, acc, A_FIXED, R, 1); \
    else                                                  \
      acc_chunk(j, s, x, nq, k0, kc, acc, A_FIXED, R, 0); \
    break;
  switch (j->a_round) {
    ROUND_CASES(ACCF_CASE)
    case TQ_ROUND_COUNT: break;
  }
#undef ACCF_CASE
}

static void acc_float(const job *j, const scratch *s, const float *x, int nq,
                      int k0, int kc, __m256d acc[4]) {
#define ACCFL_CASE(R) \
  case R: acc_chunk(j, s, x, nq, k0, kc, acc, A_FLOAT, R, 0); break;
  switch (j->a_round) {
    FLOAT_ROUND_CASES(ACCFL_CASE)
    default: break;
  }
#undef ACCFL_CASE
}

/* Q_A of v with the accumulator's u of step k (bias step: k = K), by kind.
 * Lanes >= nl are don't-care. */
static void acc_step_vec(const job *j, __m256d v[4], int nq, int nl, int m,
                         int n0, int k) {
  const tq_intrinsic_gemm_args *a = j->a;
  const tq_quantizer *A = j->pl->acc;
  double u[NB] = {0};
  if (j->a_stoch) {
    for (int l = 0; l < nl; l++)
      u[l] = tq_stochastic_u(j->pl->seed_acc, a->stream,
                             tq_intrinsic_index(a, m, n0 + l, k));
  }
  switch (j->a_kind) {
    case A_NONE: break;
    case A_FIXED:
      for (int q = 0; q < nq; q++) {
        __m256d uq = _mm256_loadu_pd(u + 4 * q);
#define STEP_CASE(R)                                        \
  case R:                                                   \
    v[q] = j->a_wrap ? qfixd_apply(&j->aq, v[q], uq, R, 1)  \
                     : qfixd_apply(&j->aq, v[q], uq, R, 0); \
    break;
        switch (j->a_round) {
          ROUND_CASES(STEP_CASE)
          case TQ_ROUND_COUNT: break;
        }
#undef STEP_CASE
      }
      break;
    case A_F32: /* the double sum rounded to float32 is Q_A (see below) */
      for (int q = 0; q < nq; q++)
        v[q] = _mm256_cvtps_pd(_mm256_cvtpd_ps(v[q]));
      break;
    case A_FLOAT:
      for (int q = 0; q < nq; q++) {
        __m256d uq = _mm256_loadu_pd(u + 4 * q);
#define FSTEP_CASE(R) \
  case R: v[q] = qfltd_apply(&j->af, v[q], uq, R); break;
        switch (j->a_round) {
          FLOAT_ROUND_CASES(FSTEP_CASE)
          default: break;
        }
#undef FSTEP_CASE
      }
      break;
    default: {
      double t[NB];
      for (int q = 0; q < nq; q++) _mm256_storeu_pd(t + 4 * q, v[q]);
      for (int l = 0; l < nl; l++) t[l] = tq_quantize_double_one(A, t[l], u[l]);
      for (int q = 0; q < nq; q++) v[q] = _mm256_loadu_pd(t + 4 * q);
      break;
    }
  }
}

/* Accumulator form after the k loop: bias step, float32, C. */
static void acc_finish(const job *j, int m, int n0, int nl, __m256d acc[4]) {
  const tq_intrinsic_gemm_args *a = j->a;
  int nv = (nl + 7) / 8, nq = 2 * nv;
  if (a->bias) {
    for (int v = 0; v < nv; v++) {
      __m256 b = bias_vec(a, m, n0, v, nl);
      acc[2 * v] = _mm256_add_pd(acc[2 * v], half_pd(b, 0));
      acc[2 * v + 1] = _mm256_add_pd(acc[2 * v + 1], half_pd(b, 1));
    }
    acc_step_vec(j, acc, nq, nl, m, n0, j->K);
  }
  for (int v = 0; v < nv; v++)
    store_out(a, m, n0, v, nl,
              _mm256_set_m128(_mm256_cvtpd_ps(acc[2 * v + 1]),
                              _mm256_cvtpd_ps(acc[2 * v])));
}

/* IEEE float32 accumulator (float,8,23 with the defaults): Q_A is the
 * rounding of a double to float32 (cvtpd2ps, overflow to inf, subnormals
 * kept, -0 kept). With P present, row_panel runs it as the sum form: acc
 * = Q_A(acc + y) of two float32 values is float32 addition, because the
 * double sum rounded to float32 is the correctly rounded float32 sum (53
 * >= 2 * 24 + 2 makes double rounding innocuous for addition, Figueroa
 * 1995; float32 sums in the subnormal range are exact). Here, without P,
 * the exact product has up to 48 bits, so the double sum is formed and
 * rounded as the definition says. */
static void acc_f32(const job *j, const scratch *s, const float *x, int nv,
                    int k0, int kc, __m256 accf[2]) {
  for (int kk = 0; kk < kc; kk++) {
    int k = k0 + kk;
    for (int v = 0; v < nv; v++) {
      __m128 r[2];
      for (int h = 0; h < 2; h++)
        r[h] = _mm256_cvtpd_ps(_mm256_add_pd(
            half_pd(accf[v], h), product_pd(j, s, x, k, kk, 2 * v + h)));
      accf[v] = _mm256_set_m128(r[1], r[0]);
    }
  }
}

static void acc_generic(const job *j, scratch *s, const float *x, int m, int n0,
                        int nl) {
  const int K = j->K;
  int nv = (nl + 7) / 8, nq = (nl + 3) / 4;
  if (j->a_stoch)
    tq_avx2_philox_u24(j->pl->seed_acc, j->a->stream,
                       tq_intrinsic_index(j->a, m, n0, 0), s->ua,
                       (size_t)nl * (size_t)(K + 1));
  __m256d acc[4];
  for (int q = 0; q < 4; q++) acc[q] = _mm256_setzero_pd();
  __m256 accf[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int k0 = 0; k0 < K; k0 += KC) {
    int kc = K - k0 < KC ? K - k0 : KC;
    if (j->p_kind != P_NONE) fill_products(j, s, x, m, n0, nl, k0, kc);
    switch (j->a_kind) {
      case A_FIXED: acc_fixed(j, s, x, nq, k0, kc, acc); break;
      case A_F32: acc_f32(j, s, x, nv, k0, kc, accf); break;
      case A_FLOAT: acc_float(j, s, x, nq, k0, kc, acc); break;
      case A_NONE:
        for (int kk = 0; kk < kc; kk++)
          for (int q = 0; q < nq; q++)
            acc[q] = _mm256_add_pd(acc[q], product_pd(j, s, x, k0 + kk, kk, q));
        break;
      default: { /* A_OTHER: the reference's quantizer per lane */
        double t[NB];
        for (int kk = 0; kk < kc; kk++) {
          for (int q = 0; q < nq; q++)
            _mm256_storeu_pd(
                t + 4 * q,
                _mm256_add_pd(acc[q], product_pd(j, s, x, k0 + kk, kk, q)));
          /* logarithmic, sparse, binary, ternary: no rounding mode. */
          for (int l = 0; l < nl; l++)
            t[l] = tq_quantize_double_one(j->pl->acc, t[l], 0.0);
          for (int q = 0; q < nq; q++) acc[q] = _mm256_loadu_pd(t + 4 * q);
        }
        break;
      }
    }
  }
  if (j->a_kind == A_F32)
    for (int q = 0; q < nq; q++) acc[q] = half_pd(accf[q / 2], q % 2);
  acc_finish(j, m, n0, nl, acc);
}

/* ---- one row of one panel -------------------------------------------------*/

/* Nonzero products exist. */
static int any_products(const vstats *r, const vstats *c) {
  return r->hi > -1000 && c->hi > -1000;
}

/* A fixed-point P needs no overflow handling and may take x pre-scaled by
 * 2^f_P (PV_FREE) when, for this row and panel:
 *  - the data are finite, so no product is NaN;
 *  - |fl(x b)| <= 2^E with E = hi_x + hi_b + 2, so |t| <= 2^(E + f_P) and
 *    |round(t)| <= max(2^(E + f_P), 1) <= qmax (signed P: -qmax >= qmin):
 *    no product reaches the overflow, in any mode;
 *  - x * 2^f_P is exact and finite, and every nonzero product is a normal
 *    float before and after scaling (2^(lead_x + lead_b) and that times
 *    2^f_P >= 2^-126, 2^(E + max(f_P, 0)) <= 2^127): scaling by a power of
 *    two then commutes with rounding, fl(x 2^f b) = fl(x b) 2^f = t, and no
 *    product underflows (so no stand-in is needed). */
static int p_free(const job *j, const vstats *r, const vstats *c) {
  const tq_quantizer *P = j->pl->product;
  int f = P->p.frac;
  if (!r->finite || !c->finite || !P->p.is_signed) return 0;
  if (r->hi > -1000 && (r->lead + f < -126 || r->hi + 1 + f > 127)) return 0;
  if (!any_products(r, c)) return 1;
  int E = r->hi + c->hi + 2, low = r->lead + c->lead;
  return E + (f > 0 ? f : 0) <= 127 && low >= -126 && low + f >= -126 &&
         ldexp(1.0, E + f) <= P->fx.qmax;
}

/* Without P, the int32 path needs every exact product x b to be a float32
 * on A's grid whose units fit, and x * 2^f_A exact: with x = X 2^bit_x,
 * |X| < 2^(hi_x - bit_x + 1) (and the same for b), X W < 2^24 makes x b a
 * float32; bit_x + bit_b >= -f_A puts it on the grid; |x b| 2^f_A <
 * 2^(E + f_A) <= 2^30 bounds the units. Then fl(x 2^f_A b) is exactly the
 * integer x b 2^f_A. */
static int absent_int_ok(const job *j, const vstats *r, const vstats *c) {
  int f = j->pl->acc->p.frac;
  if (!r->finite || !c->finite) return 0;
  if (r->hi > -1000 && (r->lead + f < -126 || r->hi + 1 + f > 127)) return 0;
  if (!any_products(r, c)) return 1;
  return (r->hi - r->bit + 1) + (c->hi - c->bit + 1) <= 24 &&
         r->bit + c->bit >= -f && r->hi + c->hi + 2 + f <= 30;
}

/* A saturating A can never saturate when K max|u_k| <= qmax (signed A):
 * then the running sum is the plain sum. */
static int acc_free(const job *j, const vstats *r, const vstats *c) {
  const tq_quantizer *A = j->pl->acc;
  if (!A->p.is_signed) return 0;
  if (!any_products(r, c)) return 1;
  int E = r->hi + c->hi + 2;
  double U;
  if (j->p_kind == P_FIXED) {
    int f = j->pl->product->p.frac;
    U = fmin(j->p_big, fmax(ldexp(1.0, E + f), 1.0)) *
        ldexp(1.0, j->units_shift);
  } else {
    U = ldexp(1.0, E + A->p.frac);
  }
  return (double)j->K * U <= A->fx.qmax;
}

/* Output row m, columns n0 .. n0+nl-1: the packed panel bp, its stats
 * ps. */
static void row_panel(const job *j, scratch *s, const float *bp,
                      const vstats *ps, int m, int n0, int nl) {
  const tq_intrinsic_gemm_args *a = j->a;
  const float *x = a->A + (size_t)m * a->lda;
  const float *xs = j->xs ? j->xs + (size_t)m * (size_t)j->K : NULL;
  const vstats *rs = &j->rows[m];
  int nv = (nl + 7) / 8;
  s->cur = bp;
  if (j->p_kind == P_FIXED && j->p_stoch)
    tq_avx2_philox_u24(j->pl->seed_product, a->stream,
                       tq_intrinsic_index(a, m, n0, 0), s->up,
                       (size_t)nl * (size_t)(j->K + 1));
  int pv = PV_CLAMP;
  if (j->p_kind == P_FIXED)
    pv = p_free(j, rs, ps) ? PV_FREE : j->pq.wrap ? PV_WRAP : PV_CLAMP;
  /* An IEEE float32 accumulator after a product quantizer is the sum form
   * without Q_S (see acc_f32): acc = fl32(acc + y) step by step, and the
   * bias step fl32(acc + b). */
  if (!j->pl->acc || (j->a_kind == A_F32 && j->p_kind != P_NONE)) {
    __m256 sv[2];
    if (j->p_kind == P_KERNEL) {
      sum_buffered(j, s, x, m, n0, nl, sv);
    } else {
      sum_fused(j, bp, pv == PV_FREE ? xs : x, s->up, nv, pv, sv);
    }
    sum_finish(j, m, n0, nl, sv, j->p_kind == P_FIXED);
    return;
  }
  if (j->a_kind == A_FIXED) {
    int ok = 0;
    const float *xp = x;
    if (j->p_kind == P_FIXED && j->int_fixed_p && rs->finite && ps->finite) {
      ok = 1;
    } else if (j->p_kind == P_NONE && j->int_absent_p &&
               absent_int_ok(j, rs, ps)) {
      ok = 1;
      xp = xs;
    }
    int clamp_a = ok && !j->a_wrap && !acc_free(j, rs, ps);
    if (clamp_a && !j->int_clamp_ok) ok = 0;
    if (ok) {
      /* The clamped loops are the rare, slow case: no PV_FREE version. */
      if (clamp_a && pv == PV_FREE) pv = j->pq.wrap ? PV_WRAP : PV_CLAMP;
      if (pv == PV_FREE) xp = xs;
      __m256i acc[2];
      acc_int(j, bp, xp, s->up, nv, pv, clamp_a, acc);
      __m256d d[4];
      int_to_double(j, acc, d);
      acc_finish(j, m, n0, nl, d);
      return;
    }
  }
  acc_generic(j, s, x, m, n0, nl);
}

/* ---- setup and threads ---------------------------------------------------*/

static tq_vec_form vec_form(const tq_quantizer *q) {
  return tq_kind_traits_get(q->p.kind)->vec_form;
}

/* q's kernel for this instruction set (or the nearest lower one's). */
static tq_kernel_fn kernel_of(const tq_quantizer *q) {
  return tq_kind_kernel(tq_kind_traits_get(q->p.kind), TQ_ISA_AVX2);
}

static void job_init(job *j, const tq_intrinsic_gemm_args *a,
                     const tq_intrinsic_plan *pl) {
  memset(j, 0, sizeof *j);
  j->a = a;
  j->pl = pl;
  j->M = a->M;
  j->N = a->N;
  j->K = a->K;
  const tq_quantizer *P = pl->product, *S = pl->sum, *A = pl->acc;
  /* Fixed point and the float formats with round to nearest even inline
   * (fp16 by F16C); any other kind through its own kernel. */
  j->p_kind = !P ? P_NONE : vec_form(P) == TQ_VEC_FIXED ? P_FIXED : P_KERNEL;
  if (P && vec_form(P) == TQ_VEC_FLOAT && P->p.round == TQ_ROUND_EVEN &&
      P->p.man_bits >= 1 && P->p.man_bits < 23) {
    const tq_quant_params *pp = &P->p;
    int defaults =
        !pp->saturate && !pp->finite_nan && !pp->finite_only && pp->subnormals;
    j->p_kind =
        defaults && pp->exp_bits == 5 && pp->man_bits == 10 ? P_F16 : P_RNE;
    tq_avx2_rne_init(&j->pr, P);
  }
  if (P) {
    j->p_stoch = tq_quantizer_stochastic(P);
    j->p_fn = kernel_of(P);
    if (j->p_kind == P_FIXED) qfix_init(&j->pq, P);
  }
  j->s_kind = !S ? S_NONE : vec_form(S) == TQ_VEC_FIXED ? S_FIXED : S_KERNEL;
  if (S) {
    j->s_stoch = tq_quantizer_stochastic(S);
    j->s_fn = kernel_of(S);
    if (j->s_kind == S_FIXED) qfix_init(&j->sq, S);
  }
  if (!A) return;
  const tq_quant_params *ap = &A->p;
  switch (vec_form(A)) {
    case TQ_VEC_IDENTITY: j->a_kind = A_NONE; break;
    case TQ_VEC_FIXED: j->a_kind = A_FIXED; break;
    case TQ_VEC_FLOAT:
      if (ap->exp_bits == 8 && ap->man_bits == 23 &&
          ap->round == TQ_ROUND_EVEN && !ap->saturate && !ap->finite_nan &&
          !ap->finite_only && ap->subnormals) {
        j->a_kind = A_F32;
      } else {
        j->a_kind = A_FLOAT;
        qfltd_init(&j->af, A);
      }
      break;
    case TQ_VEC_GENERIC: j->a_kind = A_OTHER; break;
  }
  j->a_stoch = tq_quantizer_stochastic(A);
  j->a_round = ap->round;
  j->a_wrap = j->a_kind == A_FIXED && ap->overflow == TQ_OVERFLOW_WRAP;
  if (j->a_kind != A_FIXED) return;
  qfixd_init(&j->aq, A);
  /* Exact int32 accumulation. Every |u_k| <= 2^30; the clamped loop needs
   * qlow - 2^30 and qmax + 2^30 inside int32 (int_clamp_ok); wrap needs
   * nothing more (w <= 32), nor does a sum the data keep in range. */
  double qlow = A->fx.qlow, qmax = A->fx.qmax;
  j->int_clamp_ok = qlow - 0x1p30 >= -0x1p31 && qmax + 0x1p30 <= 0x1p31 - 1;
  j->int_lo = j->int_clamp_ok ? (int32_t)qlow : 0;
  j->int_hi = j->int_clamp_ok ? (int32_t)qmax : 0;
  if (j->p_kind == P_NONE) {
    j->int_absent_p = 1;
  } else if (j->p_kind == P_FIXED && P->p.frac <= ap->frac) {
    /* Largest |Q_P| as float32 (the reference's outputs), in P's units;
     * in A's units it must stay below 2^30. */
    double lo, hi;
    tq_quantizer_range(P, &lo, &hi);
    j->p_big = ldexp(fmax(fabs((double)(float)lo), fabs((double)(float)hi)),
                     P->p.frac);
    j->units_shift = ap->frac - P->p.frac;
    j->int_fixed_p = ldexp(j->p_big, j->units_shift) <= 0x1p30;
  }
}

tq_status tq_intrinsic_gemm_avx2(tq_context *ctx,
                                 const tq_intrinsic_gemm_args *a,
                                 const tq_intrinsic_plan *pl) {
  job j;
  job_init(&j, a, pl);
  const int M = a->M, N = a->N, K = a->K;
  int threads = pl->threads;
  /* Below about 0.1 ms of work, waking a team costs more than it saves. */
  if ((double)M * N * K < 0x1p18) threads = 1;
  int panels = (N + NB - 1) / NB;
  /* A task packs a group of panels (one pass over the rows of B for all of
   * them), then runs its rows over each. Enough tasks to balance the
   * threads; otherwise whole columns of rows, so that each packed panel
   * serves many rows. */
  int group = K > 0 ? PACKED / (K * NB) : GROUP;
  if (group > GROUP) group = GROUP;
  if (group < 1) group = 1;
  int groups = (panels + group - 1) / group;
  if (threads > 1 && groups < 2 * threads && panels >= 2 * threads) {
    group = (panels + 2 * threads - 1) / (2 * threads);
    groups = (panels + group - 1) / group;
  }
  int row_blocks = 1;
  if (threads > 1 && groups < 4 * threads) {
    row_blocks = (4 * threads + groups - 1) / groups;
    if (row_blocks > M) row_blocks = M;
  }
  int rows_per = (M + row_blocks - 1) / row_blocks;
  row_blocks = (M + rows_per - 1) / rows_per;
  long tasks = (long)groups * row_blocks;
  if (threads > tasks) threads = (int)tasks;

  size_t kp = (size_t)K + 1;
  /* bp, prod, lane, up, ua: floats and uint32s alike. */
  size_t per_thread =
      (size_t)group * K * NB + (size_t)KC * NB + KC + 2 * NB * kp;
  float *mem = calloc(per_thread * (size_t)threads, sizeof *mem);
  vstats *rows = malloc((size_t)M * sizeof *rows);
  /* The pre-scaled copy of A (x 2^f_P, or 2^f_A without P). */
  int scaled = j.p_kind == P_FIXED || (j.p_kind == P_NONE && j.int_absent_p);
  float *xs = scaled ? malloc((size_t)M * K * sizeof *xs + 1) : NULL;
  if (!mem || !rows || (scaled && !xs)) {
    free(mem);
    free(rows);
    free(xs);
    return tq_error_nomem(ctx);
  }
  j.rows = rows;
  j.xs = xs;
  j.xs_exp = j.p_kind == P_FIXED ? pl->product->p.frac
             : scaled            ? pl->acc->p.frac
                                 : 0;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (threads > 1 && (size_t)M * K > 65536)
  for (int m = 0; m < M; m++) {
    const float *x = a->A + (size_t)m * a->lda;
    scan_stats(x, (size_t)K, &rows[m]);
    if (xs) {
      /* Exact where used: see p_free and absent_int_ok. */
      const float f = ldexpf(1.0f, j.xs_exp);
      for (int k = 0; k < K; k++) xs[(size_t)m * K + k] = x[k] * f;
    }
  }

#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    scratch s = {.bp = mem + per_thread * (size_t)t};
    s.prod = s.bp + (size_t)group * K * NB;
    s.lane = s.prod + (size_t)KC * NB;
    s.up = (uint32_t *)(s.lane + KC);
    s.ua = s.up + NB * kp;
#pragma omp for schedule(dynamic, 1)
    for (long task = 0; task < tasks; task++) {
      int g = (int)(task / row_blocks), rb = (int)(task % row_blocks);
      int n0 = g * group * NB;
      int nc = N - n0 < group * NB ? N - n0 : group * NB;
      int m0 = rb * rows_per, m1 = m0 + rows_per < M ? m0 + rows_per : M;
      pack_panels(&j, &s, n0, nc);
      /* Panel by panel: one panel stays in L1/L2 for all the rows. */
      for (int p = 0; p * NB < nc; p++) {
        int nl = nc - p * NB < NB ? nc - p * NB : NB;
        for (int m = m0; m < m1; m++)
          row_panel(&j, &s, s.bp + (size_t)p * K * NB, &s.ps[p], m, n0 + p * NB,
                    nl);
      }
    }
  }
  free(xs);
  free(mem);
  free(rows);
  return TQ_OK;
}
