/* Quantizers applied to a double: the accumulator of intrinsic
 * quantization (DESIGN.md 3, src/ops/intrinsic*.c) holds the exact sum of
 * the previous accumulator value and a product, which is not a float32, so
 * the float32 kernels cannot take it without first rounding it.
 *
 * The semantics are those of DESIGN.md 2 with x a double. The results are
 * the exact values of the format's grid as doubles: fixed point returns
 * r * 2^-f exactly (a 32-bit r fits a double's 53 bits), where the float32
 * kernels round r * 2^-f to float32 for w > 24. Floating-point formats give
 * float32-representable values (every float(e, m) format lies inside
 * float32). logarithmic, sparse and binary/ternary act on the double as
 * they act on a float. Written like ref.c, for obvious correctness. */
#include <math.h>

#include "quant/quant_internal.h"

/* Scaling by 2^k is exact as long as the result stays a normal double.
 * Nonzero values whose scaled magnitude would fall below 2^-1000 get the
 * stand-in 2^-1000: below 2^-24 every rounding decision (fr >= 0.5,
 * fr > 0, and the stochastic comparisons with u, a multiple of 2^-24)
 * depends only on the sign and on fr being nonzero. */
#define TINY 0x1p-1000

static double fixed_double(const tq_quantizer *q, double x, double u) {
  const tq_quant_params *p = &q->p;
  const tq_fixed_consts *c = &q->fx;
  if (isnan(x)) return x;
  double r;
  double t = ldexp(x, p->frac);
  if (isinf(t)) {
    /* An infinite x saturates in every mode (DESIGN.md 2). A finite x whose
     * scaled value leaves double's range is an integer multiple of 2^970,
     * hence of 2^w: wrap gives 0, saturation its bound. */
    if (p->overflow == TQ_OVERFLOW_WRAP && !isinf(x))
      r = 0.0;
    else
      r = t > 0 ? c->qmax : c->qlow;
  } else {
    if (x != 0.0 && fabs(t) < TINY) t = copysign(TINY, x);
    r = tq_round_signed(p->round, t, u);
    if (p->overflow == TQ_OVERFLOW_WRAP) {
      double m = ldexp(1.0, p->width);
      r = fmod(r, m); /* exact, sign of r */
      if (r < 0) r += m;
      if (p->is_signed && r >= m / 2) r -= m;
    } else {
      if (r > c->qmax) r = c->qmax;
      if (r < c->qlow) r = c->qlow;
    }
  }
  double out = ldexp(r, -p->frac);
  return out == 0.0 ? 0.0 : out; /* fixed point has no -0 */
}

/* Result of an overflowing float rounding, by mode and sign (as ref.c). */
static double float_overflow(const tq_quantizer *q, int neg) {
  const tq_quant_params *p = &q->p;
  double max = q->fl.max;
  if (p->saturate || p->finite_only) return max;
  int to_max;
  switch (p->round) {
    case TQ_ROUND_ZERO: to_max = 1; break;
    case TQ_ROUND_UP: to_max = neg; break;
    case TQ_ROUND_DOWN: to_max = !neg; break;
    default: to_max = 0; break;
  }
  if (to_max) return max;
  return p->finite_nan ? NAN : INFINITY;
}

static double float_double(const tq_quantizer *q, double x, double u) {
  const tq_quant_params *p = &q->p;
  if (isnan(x)) return x;
  int neg = signbit(x) != 0;
  if (isinf(x)) {
    double v = (p->saturate || p->finite_only) ? q->fl.max
               : p->finite_nan                 ? NAN
                                               : INFINITY;
    return neg ? -v : v;
  }
  if (x == 0.0) return x;
  int e2;
  frexp(x, &e2); /* |x| = fr * 2^e2, fr in [0.5, 1) */
  int exponent = e2 - 1;
  if (exponent < q->fl.emin) exponent = q->fl.emin;
  /* quantum >= emin - m >= -149 and |x| < 2^(exponent+1), so the scaled t
   * lies in [2^-925, 2^(m+1)): a normal double, exactly scaled. */
  int quantum = exponent - p->man_bits;
  double t = ldexp(x, -quantum);
  double mag = fabs(ldexp(tq_round_signed(p->round, t, u), quantum));
  if (mag > q->fl.max) mag = float_overflow(q, neg);
  if (!p->subnormals && mag != 0.0 && mag < ldexp(1.0, q->fl.emin)) mag = 0.0;
  return neg ? -mag : mag;
}

double tq_quantize_double_one(const tq_quantizer *q, double x, double u) {
  const tq_quant_params *p = &q->p;
  switch (p->kind) {
    case TQ_QUANT_NONE: return x;
    case TQ_QUANT_FIXED: return fixed_double(q, x, u);
    case TQ_QUANT_FLOAT: return float_double(q, x, u);
    case TQ_QUANT_LOGARITHMIC: {
      if (isnan(x) || isinf(x)) return x;
      if (x == 0.0) return 0.0;
      int e2;
      frexp(x, &e2);
      return copysign(ldexp(1.0, e2 - 1), x);
    }
    case TQ_QUANT_SPARSE: return fabs(x) < p->threshold ? 0.0 : x;
    case TQ_QUANT_BINARY: {
      double m = (float)p->magnitude;
      return isnan(x) ? x : x >= 0.0 ? m : -m;
    }
    case TQ_QUANT_TERNARY: {
      double m = (float)p->magnitude, t = p->threshold;
      return isnan(x) ? x : x > t ? m : x < -t ? -m : 0.0;
    }
    case TQ_QUANT_KIND_COUNT: break;
  }
  return x;
}
