/* Internal: where the session quantizes a tensor, as a tq_quant_site - the
 * default axes of the scaled and block formats per operator role, in one
 * place (docs/design.md §3, "Default axes"). */
#ifndef TQ_GRAPH_QUANT_SITE_H
#define TQ_GRAPH_QUANT_SITE_H

#include "graph/session_internal.h"
#include "tensorquant/quantizer.h"

/* The site of weight input `input` of node `node` (shape: the weight's):
 * axis=channel is the axis of output features, blocks run along the
 * reduction axis (Conv: input channels; Gemm, MatMul: K). */
void tq_weight_site(const tq_session *s, size_t node, size_t input,
                    tq_quant_site *site);

/* The site of an activation (an output, or its gradient) of this shape:
 * channel and block axis 1 for rank >= 3 (NCHW-like), the last otherwise. */
void tq_activation_site(const tq_shape *shape, tq_quant_site *site);

/* Whether q quantizes each element alone (fixed point, plain floats...),
 * not in groups that share a scale. */
int tq_quantizer_elementwise(const tq_quantizer *q);

/* Refuses what node's resolved maps cannot mean: a grouped (scaled or
 * block) format in its intrinsic map, a `static` spec on its weights.
 * Errors name the layer and spec. */
tq_status tq_check_site_kinds(tq_context *ctx, const tq_session *s,
                              size_t node);

/* Rewrites ctx's last error as "layer 'id': <it>"; returns st. */
tq_status tq_error_in_layer(tq_context *ctx, tq_status st, const char *id);

/* Quantizes an activation-shaped tensor (or its gradient) in to out, one
 * sample (index of dim 0, rank >= 2) at a time for grouped formats, with
 * the activation site of a sample and `range` (may be NULL) for `static`
 * specs; element-wise formats in one call (the same bits). */
tq_status tq_quantize_samples(tq_context *ctx, const tq_quantizer *q,
                              const tq_tensor *in, tq_tensor *out,
                              const tq_node_range *range,
                              const tq_quant_opts *opts);

/* Quantizes n values shaped like weight input `input` of node (the
 * weight itself, its gradient or its update) at the weight's site.
 * Errors name the layer. */
tq_status tq_quantize_weight_like(tq_context *ctx, const tq_session *s,
                                  size_t node, size_t input,
                                  const tq_quantizer *q, const float *in,
                                  float *out, size_t n,
                                  const tq_quant_opts *opts);

/* Quantizes activation t of node `node` (output or gradient) in place of
 * out, one sample (index of dim 0) at a time for grouped formats so that
 * results do not depend on the batch; `static` specs take the node's
 * calibrated range. Errors name the layer. */
tq_status tq_quantize_activation(tq_context *ctx, const tq_session *s,
                                 size_t node, const tq_quantizer *q,
                                 const tq_tensor *in, tq_tensor *out,
                                 const tq_quant_opts *opts);

#endif
