/* Scalar reference kernels: the executable definition of DESIGN.md 2.
 *
 * Written for obvious correctness, not speed: every value is carried in
 * double precision, where all the steps below are exact (a float32 has a
 * 24-bit significand, scaling it by 2^k for |k| <= 64+149 stays far inside
 * double's range, and the fraction of a non-negative double is a subset of
 * its bits). The fast kernels are tested bit for bit against these. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "quant/philox.h"
#include "quant/quant_internal.h"

/* Increment (0 or 1) that rounds the magnitude ip + fr (0 <= fr < 1) of a
 * value with sign `neg` in mode r. u is the uniform number of stochastic
 * rounding: floor(t + u) on the signed t becomes, on magnitudes,
 * ip + [fr >= 1 - u] for t >= 0 and ip + [u < fr] for t < 0. */
static int round_increment(tq_round r, int neg, double ip, double fr,
                           double u) {
  switch (r) {
    case TQ_ROUND_NEAREST: return fr >= 0.5;
    case TQ_ROUND_EVEN: return fr > 0.5 || (fr == 0.5 && fmod(ip, 2.0) != 0.0);
    case TQ_ROUND_HALF_UP: return neg ? fr > 0.5 : fr >= 0.5;
    case TQ_ROUND_HALF_DOWN: return neg ? fr >= 0.5 : fr > 0.5;
    case TQ_ROUND_HALF_ZERO: return fr > 0.5;
    case TQ_ROUND_DOWN: return neg && fr > 0.0;
    case TQ_ROUND_UP: return !neg && fr > 0.0;
    case TQ_ROUND_ZERO: return 0;
    case TQ_ROUND_AWAY: return fr > 0.0;
    case TQ_ROUND_STOCHASTIC: return neg ? u < fr : fr >= 1.0 - u;
    case TQ_ROUND_COUNT: break;
  }
  return 0;
}

/* Rounds the signed value t to an integer (returned as a double).
 * floor(|t|) and |t| - floor(|t|) are exact for every finite double, so
 * this serves double inputs too (quantize_double.c). */
double tq_round_signed(tq_round r, double t, double u) {
  int neg = signbit(t) != 0;
  double a = fabs(t);
  double ip = floor(a);
  double fr = a - ip;
  double m = ip + round_increment(r, neg, ip, fr, u);
  return neg ? -m : m;
}

float tq_ref_fixed_one(const tq_quantizer *q, float x, double u) {
  const tq_quant_params *p = &q->p;
  const tq_fixed_consts *c = &q->fx;
  if (isnan(x)) return x;
  if (isinf(x)) return x > 0 ? c->hi_out : c->lo_out;
  double t = ldexp((double)x, p->frac);
  double r = tq_round_signed(p->round, t, u);
  if (p->overflow == TQ_OVERFLOW_WRAP) {
    double m = ldexp(1.0, p->width);
    r = fmod(r, m); /* exact, sign of r */
    if (r < 0) r += m;
    if (p->is_signed && r >= m / 2) r -= m;
  } else {
    if (r > c->qmax) r = c->qmax;
    if (r < c->qlow) r = c->qlow;
  }
  float out = (float)ldexp(r, -p->frac);
  return out == 0.0f ? 0.0f : out; /* fixed point has no -0 */
}

/* Result of an overflowing float rounding, by mode and sign. */
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

float tq_ref_float_one(const tq_quantizer *q, float x, double u) {
  const tq_quant_params *p = &q->p;
  if (isnan(x)) return x;
  int neg = signbit(x) != 0;
  if (isinf(x)) {
    double v = (p->saturate || p->finite_only) ? q->fl.max
               : p->finite_nan                 ? NAN
                                               : INFINITY;
    return (float)(neg ? -v : v);
  }
  if (x == 0.0f) return x;
  int e2;
  frexp((double)x, &e2); /* |x| = fr * 2^e2, fr in [0.5, 1) */
  int exponent = e2 - 1;
  if (exponent < q->fl.emin) exponent = q->fl.emin;
  int quantum = exponent - p->man_bits;
  double t = ldexp((double)x, -quantum);
  double r = ldexp(tq_round_signed(p->round, t, u), quantum);
  double mag = fabs(r);
  if (mag > q->fl.max) mag = float_overflow(q, neg);
  if (!p->subnormals && mag != 0.0 && mag < ldexp(1.0, q->fl.emin)) mag = 0.0;
  float out = (float)mag;
  return neg ? -out : out;
}

static double stochastic_u(const tq_quantizer *q, tq_rng_pos rng, size_t i) {
  if (q->p.round != TQ_ROUND_STOCHASTIC) return 0.0;
  uint32_t u24;
  tq_philox_fill_u24(rng.seed, rng.stream, rng.first + i, &u24, 1);
  return ldexp((double)u24, -24);
}

void tq_ref_none(const tq_quantizer *q, const float *in, float *out, size_t n,
                 tq_rng_pos rng, double threshold) {
  (void)q, (void)rng, (void)threshold;
  if (in != out) memmove(out, in, n * sizeof *in);
}

void tq_ref_fixed(const tq_quantizer *q, const float *in, float *out, size_t n,
                  tq_rng_pos rng, double threshold) {
  (void)threshold;
  for (size_t i = 0; i < n; i++)
    out[i] = tq_ref_fixed_one(q, in[i], stochastic_u(q, rng, i));
}

void tq_ref_float(const tq_quantizer *q, const float *in, float *out, size_t n,
                  tq_rng_pos rng, double threshold) {
  (void)threshold;
  for (size_t i = 0; i < n; i++)
    out[i] = tq_ref_float_one(q, in[i], stochastic_u(q, rng, i));
}

void tq_ref_log(const tq_quantizer *q, const float *in, float *out, size_t n,
                tq_rng_pos rng, double threshold) {
  (void)q, (void)rng, (void)threshold;
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    if (isnan(x) || isinf(x)) {
      out[i] = x;
    } else if (x == 0.0f) {
      out[i] = 0.0f;
    } else {
      int e2;
      frexp((double)x, &e2);
      out[i] = (float)copysign(ldexp(1.0, e2 - 1), (double)x);
    }
  }
}

void tq_ref_sparse(const tq_quantizer *q, const float *in, float *out, size_t n,
                   tq_rng_pos rng, double threshold) {
  (void)rng, (void)threshold;
  double t = q->p.threshold;
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    out[i] = fabs((double)x) < t ? 0.0f : x;
  }
}

void tq_ref_binary(const tq_quantizer *q, const float *in, float *out, size_t n,
                   tq_rng_pos rng, double threshold) {
  (void)rng, (void)threshold;
  float m = (float)q->p.magnitude;
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    out[i] = isnan(x) ? x : x >= 0.0f ? m : -m;
  }
}

void tq_ref_ternary(const tq_quantizer *q, const float *in, float *out,
                    size_t n, tq_rng_pos rng, double threshold) {
  (void)rng;
  float m = (float)q->p.magnitude;
  for (size_t i = 0; i < n; i++) {
    double x = in[i];
    out[i] = isnan(x) ? in[i] : x > threshold ? m : x < -threshold ? -m : 0.0f;
  }
}
