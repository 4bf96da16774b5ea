/* Intrinsic quantization of a GEMM (DESIGN.md 3): argument checks, the
 * resolved plan, and the choice between the AVX2 implementation and the
 * reference. docs/intrinsic.md describes the arithmetic. */
#include <string.h>

#include "core/error.h"
#include "ops/intrinsic_internal.h"
#include "quant/quant_internal.h"

/* A quantizer of kind none is the identity: dropped, so the fast paths see
 * fewer cases. Ternary without a threshold has no meaning inside a sum. */
static tq_status check_quantizer(tq_context *ctx, const tq_quantizer *q,
                                 const char *field, const tq_quantizer **out) {
  *out = NULL;
  if (!q) return TQ_OK;
  const tq_quant_params *p = tq_quantizer_params(q);
  if (p->kind == TQ_QUANT_TERNARY && !p->has_threshold)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "intrinsic %s quantizer '%s': ternary without a "
                    "threshold takes T = 0.7 * mean|x| over a whole tensor, "
                    "and the products and sums inside an operation are no "
                    "tensor; give T explicitly (e.g. ternary,1,0.05)",
                    field, tq_quantizer_spec(q));
  if (p->kind != TQ_QUANT_NONE) *out = q;
  return TQ_OK;
}

tq_status tq_intrinsic_prepare(tq_context *ctx, const tq_intrinsic_gemm_args *a,
                               tq_intrinsic_plan *plan) {
  memset(plan, 0, sizeof *plan);
  if (!a)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "intrinsic gemm: NULL arguments");
  if (a->M < 0 || a->N < 0 || a->K < 0)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "intrinsic gemm: negative size M=%d N=%d K=%d", a->M, a->N,
                    a->K);
  if (a->M == 0 || a->N == 0) return TQ_OK;
  if (!a->C || (a->M > 1 && a->ldc < (size_t)a->N))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "intrinsic gemm: output NULL or ldc %zu < N=%d", a->ldc,
                    a->N);
  if (a->K > 0 && (!a->A || !a->B || (a->M > 1 && a->lda < (size_t)a->K) ||
                   (a->K > 1 && a->ldb < (size_t)a->N)))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "intrinsic gemm: input NULL or lda %zu < K=%d or ldb %zu "
                    "< N=%d",
                    a->lda, a->K, a->ldb, a->N);
  const tq_qmap_value *iq = a->iq;
  tq_qmap_value string_form;
  if (iq && iq->quantizer && !iq->product && !iq->sum && !iq->accumulator) {
    /* Only the spec string's quantizer given: TensorQuant's form, as a
     * map's string entry has it. */
    string_form = *iq;
    string_form.product = string_form.sum = iq->quantizer;
    iq = &string_form;
  }
  if (iq) {
    tq_status st = check_quantizer(ctx, iq->product, "product", &plan->product);
    if (st == TQ_OK)
      st = check_quantizer(ctx, iq->accumulator, "accumulator", &plan->acc);
    if (st == TQ_OK && !iq->accumulator)
      st = check_quantizer(ctx, iq->sum, "sum", &plan->sum);
    if (st != TQ_OK) return st;
    if (iq->accumulator && iq->sum)
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "intrinsic gemm: both a sum and an accumulator "
                      "quantizer");
    /* An identity accumulator is still the accumulator form: exact double
     * additions, one rounding to float32 at the end. Keep its object so
     * the form is known; the paths treat kind none as the identity. */
    if (iq->accumulator && !plan->acc) plan->acc = iq->accumulator;
  }
  const tq_quant_params *pp = plan->product ? &plan->product->p : NULL;
  const tq_quant_params *sp = plan->sum ? &plan->sum->p : NULL;
  const tq_quant_params *ap = plan->acc ? &plan->acc->p : NULL;
  plan->seed_product = pp && pp->has_seed ? pp->seed : a->seed;
  plan->seed_sum = sp && sp->has_seed ? sp->seed : a->seed;
  plan->seed_acc = ap && ap->has_seed ? ap->seed : a->seed;
  plan->threads = a->threads > 0 ? a->threads : tq_context_threads(ctx);
  if (plan->threads < 1) plan->threads = 1;
  return TQ_OK;
}

/* Rows [m0, m1) by the definition: the portable path for CPUs without
 * AVX2. Every element is independent, so any row split gives the same
 * bits. */
static void ref_rows(const tq_intrinsic_gemm_args *a,
                     const tq_intrinsic_plan *plan) {
#pragma omp parallel for schedule(dynamic, 1) \
    num_threads(plan->threads) if (plan->threads > 1 && a->M > 1)
  for (int m = 0; m < a->M; m++)
    for (int n = 0; n < a->N; n++)
      a->C[(size_t)m * a->ldc + (size_t)n] =
          tq_intrinsic_ref_element(a, plan, m, n);
}

tq_status tq_intrinsic_gemm(tq_context *ctx, const tq_intrinsic_gemm_args *a) {
  tq_intrinsic_plan plan;
  tq_status st = tq_intrinsic_prepare(ctx, a, &plan);
  if (st != TQ_OK || a->M == 0 || a->N == 0) return st;
  if (strcmp(tq_kernel_isa(), "avx2") == 0)
    return tq_intrinsic_gemm_avx2(ctx, a, &plan);
  ref_rows(a, &plan);
  return TQ_OK;
}
