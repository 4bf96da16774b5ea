/* An independent scalar model of every quantizer (see ref_independent.h).
 *
 * Semantics modelled (docs/design.md §2 plus the decisions fixed by the lead):
 *
 * Fixed point: t = x * 2^f exactly, r = round(t), overflow applied to r,
 * output = float32 nearest-even rounding of r * 2^-f (this matters only for
 * w > 24, e.g. 2^31 - 1 becomes 2^31). A zero result is +0.0; NaN stays
 * NaN; +-inf give qmax / qmin (-qmax for sat_sym) in every overflow mode,
 * wrap included; a finite x whose scaled value is huge still wraps exactly.
 * Stochastic: r = floor(t + u) on the signed t.
 *
 * float(e, m): bias = 2^(e-1) - 1, emin = 1 - bias. A finite x is rounded
 * with quantum 2^(max(E, emin) - m), E = floor(log2|x|), the rounding mode
 * applied to the signed t = x / quantum (IEEE rounding with an unbounded
 * exponent), then overflow is decided on the rounded magnitude (> max).
 * Signed zeros are kept. Options: sat, fn, finite, subnormals=false (flush
 * the rounded nonzero results below 2^emin to a signed zero).
 *
 * Exactness argument used throughout: a float32 x is s * 2^k with an
 * integer |s| < 2^24 and k >= -149, and |x| < 2^128. Multiplying it by 2^j
 * for |j| <= 213 stays inside the normal double range (2^-1022 .. 2^1024)
 * and keeps 24 significant bits, so ldexp() of it is exact. */
#include "ref_independent.h"

#include <math.h>
#include <string.h>

/* ---- rounding to an integer ---------------------------------------------- */

/* Rounds the exact double t to an integer (returned as a double) with the
 * given mode; u in [0, 1) is used by stochastic rounding only.
 *
 * Work on the magnitude a = |t| so that every step is exact:
 *  - fl = floor(a) is exact (floor always is);
 *  - fr = a - fl is exact: for a < 1, fl = 0 and fr = a; for a >= 1,
 *    fl <= a < 2 fl so Sterbenz's lemma makes the subtraction exact.
 *    (Working on the signed t instead would not be exact: for t = -2^-100,
 *    t - floor(t) = 1 - 2^-100 rounds to 1.)
 *  - fl + 1 is exact: it is only taken when fr > 0, so a is not an integer,
 *    so a < 2^52 and fl + 1 <= 2^52;
 *  - the comparisons of fr with 0.5, u and 1 - u are exact because
 *    1 - u is exact for u = k 2^-24.
 * Stochastic rounding floor(t + u) in these terms:
 *  - t = +a: floor(a + u) = fl + floor(fr + u) = fl + [fr >= 1 - u];
 *  - t = -a: floor(-a + u) = -ceil(a - u) = -(fl + ceil(fr - u)) and
 *    fr - u lies in (-1, 1), so ceil(fr - u) = [fr > u]. */
static double round_to_integer(double t, tq_round mode, double u) {
  int negative = t < 0;
  double a = fabs(t);
  double fl = floor(a);
  double fr = a - fl;
  int bump; /* 1: the magnitude becomes fl + 1, 0: it stays fl */
  switch (mode) {
    case TQ_ROUND_DOWN: bump = negative && fr > 0; break;
    case TQ_ROUND_UP: bump = !negative && fr > 0; break;
    case TQ_ROUND_ZERO: bump = 0; break;
    case TQ_ROUND_AWAY: bump = fr > 0; break;
    case TQ_ROUND_STOCHASTIC: bump = negative ? fr > u : fr >= 1.0 - u; break;
    default: /* the five round-to-nearest modes differ only on ties */
      if (fr != 0.5) {
        bump = fr > 0.5;
      } else {
        switch (mode) {
          case TQ_ROUND_EVEN:
            bump = fmod(fl, 2.0) != 0.0; /* fmod is exact: odd fl goes up */
            break;
          case TQ_ROUND_NEAREST: /* ties away from zero */ bump = 1; break;
          case TQ_ROUND_HALF_UP: /* toward +inf: up in magnitude if positive */
            bump = !negative;
            break;
          case TQ_ROUND_HALF_DOWN: /* toward -inf */ bump = negative; break;
          case TQ_ROUND_HALF_ZERO: bump = 0; break;
          default: bump = 0; break;
        }
      }
      break;
  }
  double mag = bump ? fl + 1.0 : fl;
  return negative ? -mag : mag;
}

/* ---- fixed point --------------------------------------------------------- */

void tqref_fixed_limits(const tq_quant_params *p, double *qmin, double *qmax) {
  /* Powers of two up to 2^32 and their neighbours are exact doubles. */
  if (p->is_signed) {
    *qmin = -ldexp(1.0, p->width - 1);
    *qmax = ldexp(1.0, p->width - 1) - 1.0;
  } else {
    *qmin = 0.0;
    *qmax = ldexp(1.0, p->width) - 1.0;
  }
}

/* Two's complement wrap of the integer-valued double r into [qmin, qmax]
 * (qmin = qmax + 1 - 2^w, signed or not). fmod is exact (its result is exactly
 * r - n 2^w, always representable), and every value after the first fmod
 * has magnitude below 2^33, so the additions are exact too. */
static double wrap_integer(double r, double qmax, int width) {
  double modulus = ldexp(1.0, width);
  double m = fmod(r, modulus); /* in (-2^w, 2^w), exact even for r ~ 2^192 */
  if (m < 0) m += modulus;     /* [0, 2^w) */
  if (m > qmax) m -= modulus;  /* signed: [2^(w-1), 2^w) -> negatives */
  return m;
}

float tqref_fixed(const tq_quant_params *p, float x, double u) {
  if (isnan(x)) return x;
  double qmin, qmax;
  tqref_fixed_limits(p, &qmin, &qmax);
  double lo = p->overflow == TQ_OVERFLOW_SAT_SYM ? -qmax : qmin;
  double r;
  if (isinf(x)) {
    /* Infinities saturate in every overflow mode, wrap included. */
    r = x > 0 ? qmax : lo;
  } else {
    /* Exact: see the file comment (|f| <= 64 < 213). */
    double t = ldexp((double)x, p->frac);
    r = round_to_integer(t, p->round, u);
    if (p->overflow == TQ_OVERFLOW_WRAP) {
      r = wrap_integer(r, qmax, p->width);
    } else {
      if (r > qmax) r = qmax;
      if (r < lo) r = lo;
    }
  }
  if (r == 0) return 0.0f; /* no negative zero in fixed point */
  /* r is an integer with |r| <= 2^32, so r * 2^-f is exact in double and
   * lies in [2^-64, 2^96], the normal float32 range: the conversion to
   * float is the one nearest-even rounding that the semantics ask for. */
  return (float)ldexp(r, -p->frac);
}

/* ---- floating point ------------------------------------------------------ */

static int float_bias(const tq_quant_params *p) {
  return (1 << (p->exp_bits - 1)) - 1;
}

int tqref_float_emin(const tq_quant_params *p) {
  return 1 - float_bias(p);
}

double tqref_float_max(const tq_quant_params *p) {
  int bias = float_bias(p);
  int m = p->man_bits;
  /* IEEE: top exponent code reserved, largest value (2 - 2^-m) 2^bias.
   * fn: the top exponent code holds finite values except its all-ones
   * mantissa (NaN), so the largest is (2 - 2^(1-m)) 2^(bias+1).
   * finite (OCP MX): no special codes, (2 - 2^-m) 2^(bias+1). */
  if (p->finite_only) return (2.0 - ldexp(1.0, -m)) * ldexp(1.0, bias + 1);
  if (p->finite_nan) return (2.0 - ldexp(1.0, 1 - m)) * ldexp(1.0, bias + 1);
  return (2.0 - ldexp(1.0, -m)) * ldexp(1.0, bias);
}

/* The result of an overflow (rounded magnitude above max). */
static float float_overflow(const tq_quant_params *p, int negative) {
  double max = tqref_float_max(p);
  int saturating = p->saturate || p->finite_only;
  /* What IEEE gives where it would give infinity: NaN for fn formats. */
  float inf_result = p->finite_nan ? NAN : INFINITY;
  float pos_big, neg_big; /* results for positive and negative overflow */
  if (saturating) {
    pos_big = (float)max;
    neg_big = (float)-max;
  } else {
    switch (p->round) {
      case TQ_ROUND_ZERO:
        pos_big = (float)max;
        neg_big = (float)-max;
        break;
      case TQ_ROUND_UP:
        pos_big = inf_result;
        neg_big = (float)-max;
        break;
      case TQ_ROUND_DOWN:
        pos_big = (float)max;
        neg_big = -inf_result;
        break;
      default: /* even, nearest, stochastic */
        pos_big = inf_result;
        neg_big = -inf_result;
        break;
    }
  }
  return negative ? neg_big : pos_big;
}

float tqref_float(const tq_quant_params *p, float x, double u) {
  if (isnan(x)) return x;
  int negative = signbit(x) != 0;
  if (isinf(x)) {
    if (p->saturate || p->finite_only) {
      double max = tqref_float_max(p);
      return (float)(negative ? -max : max);
    }
    if (p->finite_nan) return NAN;
    return x;
  }
  if (x == 0) return x; /* signed zeros are kept */
  int m = p->man_bits;
  int emin = tqref_float_emin(p);
  double ax = fabs((double)x);
  /* E = floor(log2|x|): ilogb is exact, also for float32 subnormals,
   * which are normal doubles. */
  int e_x = ilogb(ax);
  int q = (e_x > emin ? e_x : emin) - m; /* quantum 2^q, q >= -149 */
  /* |q| <= 149 + 23, so t = x 2^-q is exact (file comment). Also
   * |t| < 2^(m+1) because |x| < 2^(e_x + 1) and q >= e_x - m. */
  double t = ldexp((double)x, -q);
  double r = round_to_integer(t, p->round, u);
  /* |r| <= 2^(m+1) <= 2^24 and q >= -149: v is exact in double, and when
   * |v| <= max <= FLT_MAX it is an integer multiple of 2^-149 with at most
   * 24 significant bits, hence exactly a float32. */
  double v = ldexp(r, q);
  if (fabs(v) > tqref_float_max(p)) return float_overflow(p, negative);
  if (!p->subnormals && v != 0 && fabs(v) < ldexp(1.0, emin)) v = 0;
  if (v == 0) return negative ? -0.0f : 0.0f;
  return (float)v;
}

/* ---- the others ---------------------------------------------------------- */

float tqref_logarithmic(float x) {
  if (isnan(x)) return x;
  if (x == 0) return 0.0f; /* both zeros give +0 */
  if (isinf(x)) return x;
  /* frexpf: |x| = g 2^e with g in [0.5, 1) (exact, subnormals included),
   * so floor(log2|x|) = e - 1; 2^(e-1) >= 2^-149 is a float32. */
  int e;
  (void)frexpf(fabsf(x), &e);
  float pow2 = ldexpf(1.0f, e - 1);
  return x < 0 ? -pow2 : pow2;
}

float tqref_sparse(double threshold, float x) {
  if (isnan(x)) return x;
  /* The comparison is done on exact values: x converts to double exactly,
   * threshold is the double the spec's text parses to. */
  if (fabs((double)x) < threshold) return 0.0f;
  return x;
}

float tqref_binary(double magnitude, float x) {
  if (isnan(x)) return x;
  float mag = (float)magnitude;
  return x >= 0 ? mag : -mag; /* -0 >= 0 holds: -0 gives +m */
}

float tqref_ternary(double magnitude, double threshold, float x) {
  if (isnan(x)) return x;
  float mag = (float)magnitude;
  if ((double)x > threshold) return mag;
  if ((double)x < -threshold) return -mag;
  return 0.0f;
}

double tqref_ternary_threshold(const float *in, size_t n) {
  /* Summation order matters in the last bit of the double sum. It only
   * changes a result when some |x| lies exactly between two adjacent
   * candidate thresholds, which does not happen on random data, but the
   * documented order (docs/quantizers.md) is used anyway so that even that
   * cannot differ: within each 16384-element chunk, element j goes to
   * accumulator j mod 8 (j counted from the chunk start), the eight are
   * combined as ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7)), and chunk sums are
   * added in order. */
  const size_t chunk = 16384;
  double total = 0.0;
  size_t count = 0;
  for (size_t start = 0; start < n; start += chunk) {
    size_t end = start + chunk < n ? start + chunk : n;
    double acc[8] = {0};
    for (size_t i = start; i < end; i++) {
      if (isnan(in[i])) continue;
      acc[(i - start) % 8] += fabs((double)in[i]);
      count++;
    }
    total += ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
             ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
  double mean = count ? total / (double)count : 0.0;
  return 0.7 * mean;
}

/* ---- buffers ------------------------------------------------------------- */

void tqref_quantize(const tq_quant_params *p, const float *in, float *out,
                    size_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
  uint64_t use_seed = p->has_seed ? p->seed : seed;
  switch (p->kind) {
    case TQ_QUANT_NONE:
      memcpy(out, in, n * sizeof *in); /* bit for bit, NaN payloads too */
      return;
    case TQ_QUANT_FIXED:
    case TQ_QUANT_FLOAT:
      for (size_t i = 0; i < n; i++) {
        double u = 0.0;
        if (p->round == TQ_ROUND_STOCHASTIC)
          u = (double)tq_stochastic_u(use_seed, stream, offset + i);
        out[i] = p->kind == TQ_QUANT_FIXED ? tqref_fixed(p, in[i], u)
                                           : tqref_float(p, in[i], u);
      }
      return;
    case TQ_QUANT_LOGARITHMIC:
      for (size_t i = 0; i < n; i++) out[i] = tqref_logarithmic(in[i]);
      return;
    case TQ_QUANT_SPARSE:
      for (size_t i = 0; i < n; i++) out[i] = tqref_sparse(p->threshold, in[i]);
      return;
    case TQ_QUANT_BINARY:
      for (size_t i = 0; i < n; i++) out[i] = tqref_binary(p->magnitude, in[i]);
      return;
    case TQ_QUANT_TERNARY: {
      double threshold =
          p->has_threshold ? p->threshold : tqref_ternary_threshold(in, n);
      for (size_t i = 0; i < n; i++)
        out[i] = tqref_ternary(p->magnitude, threshold, in[i]);
      return;
    }
    default:
      for (size_t i = 0; i < n; i++) out[i] = NAN;
      return;
  }
}

tq_quant_params tqref_fixed_params(int width, int frac, tq_round round,
                                   tq_overflow overflow, int is_signed) {
  tq_quant_params p = TQ_QUANT_PARAMS_INIT;
  p.kind = TQ_QUANT_FIXED;
  p.width = width;
  p.frac = frac;
  p.round = round;
  p.overflow = overflow;
  p.is_signed = is_signed;
  return p;
}

tq_quant_params tqref_float_params(int exp_bits, int man_bits, tq_round round) {
  tq_quant_params p = TQ_QUANT_PARAMS_INIT;
  p.kind = TQ_QUANT_FLOAT;
  p.exp_bits = exp_bits;
  p.man_bits = man_bits;
  p.round = round;
  p.subnormals = 1;
  return p;
}
