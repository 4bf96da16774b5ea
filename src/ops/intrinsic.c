/* Intrinsic quantization of a GEMM (docs/design.md §3): argument checks, the
 * resolved plan, and the implementation for the instruction set dispatch
 * chose (quant/dispatch.c). docs/intrinsic.md describes the arithmetic. */
#include <string.h>

#include "core/error.h"
#include "ops/intrinsic_internal.h"
#include "quant/quant_internal.h"

/* A quantizer of kind none is the identity: dropped, so the fast paths see
 * fewer cases. A kind may refuse to apply inside a sum (ternary without a
 * threshold: its T is a statistic of a whole tensor). */
static tq_status check_quantizer(tq_context *ctx, const tq_quantizer *q,
                                 const char *field, const tq_quantizer **out) {
  *out = NULL;
  if (!q) return TQ_OK;
  const tq_quant_params *p = tq_quantizer_params(q);
  const tq_kind_traits *tr = tq_kind_traits_get(p->kind);
  const char *why =
      tr->intrinsic_unsupported ? tr->intrinsic_unsupported(p) : NULL;
  if (why)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "intrinsic %s quantizer '%s': %s", field,
                    tq_quantizer_spec(q), why);
  if (tr->vec_form != TQ_VEC_IDENTITY) *out = q;
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

/* Rows by the definition: the portable path for CPUs without a vector
 * implementation. Every element is independent, so any row split gives
 * the same bits. */
static tq_status gemm_scalar(tq_context *ctx, const tq_intrinsic_gemm_args *a,
                             const tq_intrinsic_plan *plan) {
  (void)ctx;
#pragma omp parallel for schedule(dynamic, 1) \
    num_threads(plan->threads) if (plan->threads > 1 && a->M > 1)
  for (int m = 0; m < a->M; m++)
    for (int n = 0; n < a->N; n++)
      a->C[(size_t)m * a->ldc + (size_t)n] =
          tq_intrinsic_ref_element(a, plan, m, n);
  return TQ_OK;
}

/* One implementation per instruction set; NULL slots fall back to the
 * next lower set. */
static tq_status (*const gemm_impl[TQ_ISA_COUNT])(
    tq_context *, const tq_intrinsic_gemm_args *, const tq_intrinsic_plan *) = {
    [TQ_ISA_SCALAR] = gemm_scalar,
    [TQ_ISA_AVX2] = tq_intrinsic_gemm_avx2,
};

tq_status tq_intrinsic_gemm(tq_context *ctx, const tq_intrinsic_gemm_args *a) {
  tq_intrinsic_plan plan;
  tq_status st = tq_intrinsic_prepare(ctx, a, &plan);
  if (st != TQ_OK || a->M == 0 || a->N == 0) return st;
  int isa = (int)tq_isa_for(ctx);
  while (isa > 0 && !gemm_impl[isa]) isa--;
  return gemm_impl[isa](ctx, a, &plan);
}
