/* Internal to intrinsic.c, intrinsic_ref.c and intrinsic_avx2.c: the
 * resolved form of one tq_intrinsic_gemm call, shared by the reference and
 * the fast path so that both read the arguments the same way. */
#ifndef TQ_OPS_INTRINSIC_INTERNAL_H
#define TQ_OPS_INTRINSIC_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "ops/op_internal.h"

/* Which arithmetic of docs/design.md §3 applies, and with which quantizers.
 * Quantizers of kind `none` are dropped (NULL), which changes nothing: the
 * identity is exact. */
typedef struct tq_intrinsic_plan {
  const tq_quantizer *product; /* NULL: products not quantized */
  const tq_quantizer *sum;     /* sum form only; NULL: sum not quantized */
  const tq_quantizer *acc;     /* non-NULL: accumulator form */
  /* Effective seeds: a seed= in a spec overrides the call's seed. */
  uint64_t seed_product, seed_sum, seed_acc;
  int threads; /* resolved: >= 1 */
} tq_intrinsic_plan;

/* Validates the arguments and resolves the plan (intrinsic.c). Rejects
 * ternary quantizers without a threshold: their T is a mean over a whole
 * tensor, and a sum's products and partial sums are no tensor. */
tq_status tq_intrinsic_prepare(tq_context *ctx, const tq_intrinsic_gemm_args *a,
                               tq_intrinsic_plan *plan);

/* Element index of the random number of output (m, n), step k: the contract
 * of op_internal.h. Unsigned arithmetic: wraps modulo 2^64 alike in every
 * implementation. */
static inline uint64_t tq_intrinsic_index(const tq_intrinsic_gemm_args *a,
                                          int m, int n, int k) {
  return a->index_base +
         ((uint64_t)m * (uint64_t)a->N + (uint64_t)n) * ((uint64_t)a->K + 1) +
         (uint64_t)k;
}

/* NaN results are all the one quiet NaN 0x7fc00000: a NaN's sign and
 * payload depend on which operand the compiler put first in a commutative
 * operation, so only a canonical NaN keeps "same bits" true across
 * implementations and compilers. */
static inline float tq_intrinsic_canon(float x) {
  if (x == x) return x;
  const uint32_t bits = 0x7fc00000u;
  float nan;
  memcpy(&nan, &bits, sizeof nan);
  return nan;
}

/* The bias of output (m, n) (a->bias non-NULL). */
static inline float tq_intrinsic_bias(const tq_intrinsic_gemm_args *a, int m,
                                      int n) {
  return a->bias[(ptrdiff_t)m * a->bias_rs + (ptrdiff_t)n * a->bias_cs];
}

/* Output (m, n) by the definition (intrinsic_ref.c), NaN canonical. */
float tq_intrinsic_ref_element(const tq_intrinsic_gemm_args *a,
                               const tq_intrinsic_plan *plan, int m, int n);

/* The AVX2 implementation (intrinsic_avx2.c); only called on CPUs with
 * AVX2, FMA and F16C. */
tq_status tq_intrinsic_gemm_avx2(tq_context *ctx,
                                 const tq_intrinsic_gemm_args *a,
                                 const tq_intrinsic_plan *plan);

#endif
