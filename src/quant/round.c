/* Rounding, stated once: every kind that rounds (fixed point, floating
 * point) and the double-precision definitions call these; the vector
 * kernels mirror tq_round_increment lane by lane (avx2_shared.h) and are
 * tested bit for bit against it. */
#include <math.h>

#include "quant/quant_internal.h"

/* floor(t + u) on the signed t becomes, on magnitudes, ip + [fr >= 1 - u]
 * for t >= 0 and ip + [u < fr] for t < 0: exact comparisons, no t + u. */
int tq_round_increment(tq_round r, int neg, double ip, double fr, double u) {
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

/* floor(|t|) and |t| - floor(|t|) are exact for every finite double. */
double tq_round_signed(tq_round r, double t, double u) {
  int neg = signbit(t) != 0;
  double a = fabs(t);
  double ip = floor(a);
  double fr = a - ip;
  double m = ip + tq_round_increment(r, neg, ip, fr, u);
  return neg ? -m : m;
}
