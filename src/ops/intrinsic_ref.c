/* The scalar reference of intrinsic quantization: the executable definition
 * that tq_intrinsic_gemm must equal bit for bit (docs/intrinsic.md).
 *
 * For output (m, n) with x_k = A[m][k], w_k = B[k][n], k = 0 .. K-1 in that
 * order, bias b (optional) and i_k the element index of the random number
 * of step k (index_base + (m*N + n)*(K+1) + k):
 *
 *   sum form (no accumulator):
 *     s = +0.0f; for k: s = s + Q_P(x_k * w_k)      (float32 product, float32
 *                                                     sum, Q_P at i_k)
 *     y = Q_S(s) (at i_K); out = y + b               (float32)
 *   accumulator form:
 *     acc = +0.0; for k: acc = Q_A(acc + p_k)        (double add, Q_A on the
 *                                                     double, at i_k)
 *       p_k = Q_P(x_k * w_k) (float32 product) or, without P, the exact
 *       product (double)x_k * (double)w_k
 *     if b: acc = Q_A(acc + b) (at i_K); out = (float)acc
 *
 * Absent quantizers are the identity. NaN results are the canonical NaN. */
#include <math.h>

#include "ops/intrinsic_internal.h"
#include "quant/quant_internal.h"

/* Q(x) for a float x, element `index`: the quantizer's reference kernel on
 * one element, so the random number is the one tq_quantize would use for
 * element `index` of (seed, stream). */
static float quantize_float(const tq_quantizer *q, uint64_t seed,
                            uint64_t stream, uint64_t index, float x) {
  if (!q) return x;
  tq_rng_pos rng = {seed, stream, index};
  float y;
  tq_kind_kernel(tq_kind_traits_get(q->p.kind), TQ_ISA_SCALAR)(
      q, &x, &y, 1, rng, q->p.threshold);
  return y;
}

/* u of element `index` (0 unless q rounds stochastically). */
static double stochastic_u(const tq_quantizer *q, uint64_t seed,
                           uint64_t stream, uint64_t index) {
  return tq_quantizer_stochastic(q) ? tq_stochastic_u(seed, stream, index)
                                    : 0.0;
}

static double quantize_double(const tq_quantizer *q, uint64_t seed,
                              uint64_t stream, uint64_t index, double x) {
  return tq_quantize_double_one(q, x, stochastic_u(q, seed, stream, index));
}

float tq_intrinsic_ref_element(const tq_intrinsic_gemm_args *a,
                               const tq_intrinsic_plan *plan, int m, int n) {
  const int K = a->K;
  const float *x = a->A + (size_t)m * a->lda;
  const uint64_t i0 = tq_intrinsic_index(a, m, n, 0);
  const tq_quantizer *P = plan->product;
  if (!plan->acc) {
    float s = 0.0f;
    for (int k = 0; k < K; k++) {
      float p = x[k] * a->B[(size_t)k * a->ldb + (size_t)n];
      s +=
          quantize_float(P, plan->seed_product, a->stream, i0 + (uint64_t)k, p);
    }
    s = quantize_float(plan->sum, plan->seed_sum, a->stream, i0 + (uint64_t)K,
                       s);
    if (a->bias) s += tq_intrinsic_bias(a, m, n);
    return tq_intrinsic_canon(s);
  }
  const tq_quantizer *A = plan->acc;
  double acc = 0.0;
  for (int k = 0; k < K; k++) {
    float w = a->B[(size_t)k * a->ldb + (size_t)n];
    double p;
    if (P)
      p = quantize_float(P, plan->seed_product, a->stream, i0 + (uint64_t)k,
                         x[k] * w);
    else
      p = (double)x[k] * (double)w; /* exact: 24 + 24 bits < 53 */
    acc = quantize_double(A, plan->seed_acc, a->stream, i0 + (uint64_t)k,
                          acc + p);
  }
  if (a->bias)
    acc = quantize_double(A, plan->seed_acc, a->stream, i0 + (uint64_t)K,
                          acc + (double)tq_intrinsic_bias(a, m, n));
  return tq_intrinsic_canon((float)acc);
}

tq_status tq_intrinsic_gemm_ref(tq_context *ctx,
                                const tq_intrinsic_gemm_args *a) {
  tq_intrinsic_plan plan;
  tq_status st = tq_intrinsic_prepare(ctx, a, &plan);
  if (st != TQ_OK) return st;
  for (int m = 0; m < a->M; m++)
    for (int n = 0; n < a->N; n++)
      a->C[(size_t)m * a->ldc + (size_t)n] =
          tq_intrinsic_ref_element(a, &plan, m, n);
  return TQ_OK;
}
