/* The float convolution implementations in their default order of
 * preference, the choice for a node and the forward through the chosen
 * one with its cached state (conv_impl_internal.h). */
#include <stdio.h>
#include <string.h>

#include "ops/conv_impl_internal.h"

/* Within one operator, the default order is the old fixed choice: the
 * Winograd kinds where they apply (F(4x4) first, but opt-in), then one
 * input channel per group, then 1x1 without im2col, then im2col. */
static const tq_conv_impl *const impls[] = {
    &tq_conv_impl_winograd4, &tq_conv_impl_winograd2, &tq_conv_impl_depthwise,
    &tq_conv_impl_pointwise, &tq_conv_impl_im2col,    &tq_conv_impl_col2im,
};
enum { IMPL_COUNT = sizeof impls / sizeof impls[0] };
_Static_assert(IMPL_COUNT <= TQ_CONV_PREF_MAX,
               "a preference must be able to name every implementation");

size_t tq_conv_impl_count(void) {
  return IMPL_COUNT;
}

const tq_conv_impl *tq_conv_impl_at(size_t i) {
  return i < IMPL_COUNT ? impls[i] : NULL;
}

/* op's fallback entry: its index, or -1 (a table without one is a bug the
 * tests catch). */
static int fallback_index(tq_op_id op) {
  for (int i = 0; i < IMPL_COUNT; i++)
    if (impls[i]->op == op && (impls[i]->flags & TQ_CONV_IMPL_FALLBACK))
      return i;
  return -1;
}

const tq_conv_impl *tq_conv_impl_choose(const tq_context *ctx, tq_op_id op,
                                        const conv_geom *g, int *index) {
  unsigned char pref[TQ_CONV_PREF_MAX];
  const int n = tq_conv_impl_pref(ctx, pref);
  const char *why;
  for (int i = 0; i < n; i++) {
    const tq_conv_impl *im = impls[pref[i]];
    if (im->op == op && im->applies(g, ctx, &why)) {
      *index = pref[i];
      return im;
    }
  }
  *index = fallback_index(op);
  return *index < 0 ? NULL : impls[*index];
}

size_t tq_conv_impl_explain(const tq_context *ctx, tq_op_id op,
                            const conv_geom *g, char *buf, size_t size) {
  unsigned char pref[TQ_CONV_PREF_MAX];
  const int n = tq_conv_impl_pref(ctx, pref);
  int chosen;
  tq_conv_impl_choose(ctx, op, g, &chosen);
  size_t len = 0;
  for (int i = 0; i < IMPL_COUNT; i++) {
    if (impls[i]->op != op) continue;
    int preferred = (impls[i]->flags & TQ_CONV_IMPL_FALLBACK) != 0;
    for (int k = 0; k < n; k++) preferred |= pref[k] == i;
    const char *why = "chosen";
    if (i != chosen) {
      if (!preferred)
        why = "not preferred";
      else if (impls[i]->applies(g, ctx, &why))
        why = "applies, but a preferred one came first";
    }
    const int k = snprintf(buf ? buf + (len < size ? len : size) : NULL,
                           len < size ? size - len : 0, "%s%s: %s",
                           len ? "; " : "", impls[i]->name, why);
    if (k > 0) len += (size_t)k;
  }
  if (size && !len) buf[0] = '\0';
  return len;
}

tq_status tq_conv_impl_forward(tq_op_call *c, const conv_geom *g,
                               const float *x, const float *wt, const float *b,
                               float *y) {
  int index;
  const tq_conv_impl *im = tq_conv_impl_choose(c->ctx, c->desc->id, g, &index);
  if (!im)
    return tq_call_error(c, TQ_ERR_INTERNAL,
                         "no float implementation for this operator");
  c->impl = im->name;
  void *state = NULL;
  int owned = 0;
  if (im->prepare) {
    state = tq_op_cache_get(c->cache, index, c);
    if (!state) {
      const tq_status st = im->prepare(c, g, im->arg, wt, &state);
      if (st != TQ_OK) return st;
      owned = !c->cache ||
              !tq_op_cache_put(c->cache, index, c, state, im->free_state);
    }
  }
  const tq_status st = im->run(c, g, im->arg, state, x, wt, b, y);
  if (owned) im->free_state(state);
  return st;
}
