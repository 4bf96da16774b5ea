/* The scalar reference kernel: the executable definition of docs/design.md
 * §2 on float32 buffers, for every kind.
 *
 * Each kind states its semantics once, as define() on the exact value of a
 * double (kind_*.c), written for obvious correctness: every step is exact
 * in double precision (a float32 has a 24-bit significand, scaling it by
 * 2^k for |k| <= 64+149 stays far inside double's range, and the fraction
 * of a non-negative double is a subset of its bits). This kernel applies
 * it to float32 inputs and rounds the result to float32, which is exact
 * for every format but fixed point with w > 24, where that rounding is
 * part of the definition. The vector kernels are tested bit for bit
 * against it. */
#include <math.h>
#include <string.h>

#include "quant/quant_internal.h"

int tq_quantizer_stochastic(const tq_quantizer *q) {
  return (tq_kind_traits_get(q->p.kind)->flags & TQ_KIND_ROUNDS) &&
         q->p.round == TQ_ROUND_STOCHASTIC;
}

void tq_ref_kernel(const tq_quantizer *q, const float *in, float *out, size_t n,
                   tq_rng_pos rng, double threshold) {
  const tq_kind_traits *tr = tq_kind_traits_get(q->p.kind);
  int stochastic = tq_quantizer_stochastic(q);
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    if (isnan(x)) { /* via double, a signalling NaN would become quiet */
      out[i] = x;
      continue;
    }
    double u =
        stochastic ? tq_stochastic_u(rng.seed, rng.stream, rng.first + i) : 0;
    out[i] = (float)tr->define(q, (double)x, u, threshold);
  }
}

void tq_ref_copy(const tq_quantizer *q, const float *in, float *out, size_t n,
                 tq_rng_pos rng, double threshold) {
  (void)q, (void)rng, (void)threshold;
  if (in != out) memmove(out, in, n * sizeof *in);
}

double tq_quantize_double_one(const tq_quantizer *q, double x, double u) {
  return tq_kind_traits_get(q->p.kind)->define(q, x, u, q->p.threshold);
}
