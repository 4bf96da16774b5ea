/* Internal: settings of a context that are not public API. */
#ifndef TQ_CORE_CONTEXT_INTERNAL_H
#define TQ_CORE_CONTEXT_INTERNAL_H

#include "tensorquant/status.h"

/* Caps the instruction set of the kernels that calls made with ctx use at
 * `isa` (a tq_isa, quant/quant_internal.h); -1 lifts the cap. For tests,
 * which must reach every kernel set the CPU has; on the context rather
 * than process-wide so that nothing else is affected. */
void tq_context_set_isa_cap(tq_context *ctx, int isa);

/* The cap, or -1 for none (also for ctx == NULL). */
int tq_context_isa_cap(const tq_context *ctx);

/* The float convolution implementations calls made with a context may use
 * (tq_context_set_conv_impls), most preferred first, as indices into the
 * implementation table of src/ops/conv_impl.c, which gives them meaning;
 * n == 0: that table's default. */
#define TQ_CONV_PREF_MAX 16
typedef struct tq_conv_pref {
  int n;
  unsigned char impl[TQ_CONV_PREF_MAX];
} tq_conv_pref;

void tq_context_set_conv_pref(tq_context *ctx, const tq_conv_pref *pref);

/* ctx's preference (the default, n == 0, for ctx == NULL). */
tq_conv_pref tq_context_conv_pref(const tq_context *ctx);

#endif
