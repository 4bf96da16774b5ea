/* Internal: float Conv and ConvTranspose as an ordered list of
 * implementations (oneDNN's cpu_convolution_list is the model).
 *
 * Each entry says whether it applies to a node (its geometry - the
 * shapes and attributes - and the context's options), prepares state from
 * the constant weights (kept in the node's operator cache, keyed by the
 * entry, the input shapes and the attributes it was prepared for), runs,
 * and frees its state. The table (conv_impl.c) lists the entries in the
 * default order of preference; a context may ask for another order or a
 * subset (tq_context_set_conv_impls, conv_impl_pref.c). For each node,
 * the first preferred entry of its operator that applies computes it;
 * the operator's fallback entry, which applies to every node, comes last.
 *
 * Adding an implementation: a file that defines its tq_conv_impl, and one
 * line in the table at its place in the order. Its applies() holds the
 * whole rule for when it is used, so the choice never depends on which
 * entries come before it except through the order. */
#ifndef TQ_OPS_CONV_IMPL_INTERNAL_H
#define TQ_OPS_CONV_IMPL_INTERNAL_H

#include "core/context_internal.h"
#include "ops/conv_internal.h"

enum {
  /* Used only when the context's preference names it: its results differ
   * from the others' by more than rounding in the last bits (F(4x4)). */
  TQ_CONV_IMPL_OPT_IN = 1,
  /* Computes every node of its operator (applies() is always 1) and is
   * tried last when the preference leaves it out, so every node has an
   * implementation. One per operator. */
  TQ_CONV_IMPL_FALLBACK = 2,
};

typedef struct tq_conv_impl {
  const char *name; /* as tq_context_set_conv_impls takes it */
  tq_op_id op;      /* TQ_OP_CONV or TQ_OP_CONV_TRANSPOSE */
  unsigned flags;   /* TQ_CONV_IMPL_* */
  /* What prepare and run take from the entry: entries that share their
   * functions differ by it (the Winograd kind; pointwise or not). */
  const void *arg;
  /* Whether it computes the float node of geometry g (K > 0) under ctx's
   * options; when not, *why says why ("needs ...", static). */
  int (*applies)(const conv_geom *g, const tq_context *ctx, const char **why);
  /* State derived from the weights wt alone for geometry g: *state
   * non-NULL on success. NULL prepare: the entry keeps no state. */
  tq_status (*prepare)(tq_op_call *c, const conv_geom *g, const void *arg,
                       const float *wt, void **state);
  void (*free_state)(void *state);
  /* y from x, the weights wt (those state was prepared from) and b (NULL:
   * no bias), then Relu on y when g->relu. The same bits at any thread
   * count. */
  tq_status (*run)(tq_op_call *c, const conv_geom *g, const void *arg,
                   const void *state, const float *x, const float *wt,
                   const float *b, float *y);
} tq_conv_impl;

/* The entries: conv_winograd.c, conv_depthwise.c, conv_gemm.c. */
extern const tq_conv_impl tq_conv_impl_winograd4, tq_conv_impl_winograd2,
    tq_conv_impl_depthwise, tq_conv_impl_pointwise, tq_conv_impl_im2col,
    tq_conv_impl_col2im;

/* The table, in the default order of preference. */
size_t tq_conv_impl_count(void);
const tq_conv_impl *tq_conv_impl_at(size_t i);

/* ctx's preference as table indices, most preferred first, into
 * impl[TQ_CONV_PREF_MAX] (the default when ctx has none); returns how
 * many (conv_impl_pref.c). */
int tq_conv_impl_pref(const tq_context *ctx, unsigned char *impl);

/* The entry that computes the float node of operator op and geometry g
 * under ctx's preference; *index: its place in the table. */
const tq_conv_impl *tq_conv_impl_choose(const tq_context *ctx, tq_op_id op,
                                        const conv_geom *g, int *index);

/* Why each of op's entries was or was not chosen for g under ctx, in
 * table order, into buf ("winograd4: not preferred; winograd2: needs 8 or
 * more input and output channels; depthwise: ...; im2col: chosen"). Like
 * snprintf: returns the whole length. For tests and debugging. */
size_t tq_conv_impl_explain(const tq_context *ctx, tq_op_id op,
                            const conv_geom *g, char *buf, size_t size);

/* Computes the float node c (geometry g, K > 0) with the chosen entry:
 * its state comes from c's cache when that entry prepared it for c's
 * input shapes and attributes, and is prepared (and cached, when c has a
 * cache) otherwise. Sets c->impl to the entry's name. */
tq_status tq_conv_impl_forward(tq_op_call *c, const conv_geom *g,
                               const float *x, const float *wt, const float *b,
                               float *y);

#endif
