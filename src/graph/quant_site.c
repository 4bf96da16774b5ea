/* Where the session quantizes a tensor: the default axes of the scaled and
 * block formats per operator role (docs/design.md §3, "Default axes"), and
 * activations quantized one sample at a time. */
#include "graph/quant_site.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_internal.h"

/* The value of int attribute `name` of node gn, or dflt. */
static int64_t node_int_attr(const tq_node *gn, const char *name,
                             int64_t dflt) {
  for (size_t i = 0; i < gn->n_attrs; i++)
    if (gn->attrs[i].a.type == TQ_ATTR_INT &&
        strcmp(gn->attrs[i].a.name, name) == 0)
      return gn->attrs[i].a.i;
  return dflt;
}

/* The kernel's output-feature and reduction axes for node gn of operator
 * `id`, kernel rank `rank` (both -1, the last axis, when the operator has
 * no kernel layout). The kernel is input 1 of every operator listed. */
static void kernel_axes(tq_op_id id, const tq_node *gn, int rank, int *out_axis,
                        int *red_axis) {
  *out_axis = *red_axis = -1;
  if (rank < 2) return;
  switch (id) {
    case TQ_OP_CONV: /* [M, C/group, k...]: blocks over C at each position */
      *out_axis = 0;
      *red_axis = 1;
      break;
    case TQ_OP_CONV_TRANSPOSE: /* [C, M/group, k...] */
      *out_axis = 1;
      *red_axis = 0;
      break;
    case TQ_OP_GEMM: /* B is [K, N], or [N, K] with transB */
      if (node_int_attr(gn, "transB", 0)) {
        *out_axis = 0;
        *red_axis = 1;
      } else {
        *out_axis = 1;
        *red_axis = 0;
      }
      break;
    case TQ_OP_MATMUL: /* [..., K, N] */
      *out_axis = rank - 1;
      *red_axis = rank - 2;
      break;
    default: break;
  }
}

void tq_weight_site(const tq_session *s, size_t node, size_t input,
                    tq_quant_site *site) {
  const tq_graph *g = s->g;
  const tq_node *gn = &g->nodes[node];
  const tq_tensor *w = g->inits[g->values[gn->in[input]].init_index];
  tq_quant_site_init(site);
  site->rank = w->shape.ndim;
  site->dims = w->shape.dims;
  if (input != 1) return; /* biases and the like: their one (last) axis */
  kernel_axes(s->nodes[node].desc->id, gn, w->shape.ndim, &site->channel_axis,
              &site->block_axis);
}

void tq_activation_site(const tq_shape *shape, tq_quant_site *site) {
  tq_quant_site_init(site);
  site->rank = shape->ndim;
  site->dims = shape->dims;
  if (shape->ndim >= 3) site->channel_axis = site->block_axis = 1;
}

tq_status tq_error_in_layer(tq_context *ctx, tq_status st, const char *id) {
  char why[512]; /* the message lives in ctx, which tq_error rewrites */
  snprintf(why, sizeof why, "%s", ctx ? tq_context_last_error(ctx) : "");
  return tq_error(ctx, st, NULL, 0, 0, "layer '%s': %s", id, why);
}

/* The first of v's quantizers that shares scales over groups, or NULL. */
static const tq_quantizer *grouped_in(const tq_qmap_value *v) {
  const tq_quantizer *qs[4] = {v->quantizer, v->product, v->sum,
                               v->accumulator};
  for (int k = 0; k < 4; k++)
    if (qs[k] && !tq_quantizer_elementwise(qs[k])) return qs[k];
  return NULL;
}

tq_status tq_check_site_kinds(tq_context *ctx, const tq_session *s,
                              size_t node) {
  const node_rt *n = &s->nodes[node];
  const char *id = s->g->nodes[node].id;
  const tq_qmap_match *im = &n->match[TQ_MAP_INTRINSIC];
  const tq_quantizer *q = im->matched ? grouped_in(im->value) : NULL;
  if (q)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "layer '%s': intrinsic quantization rounds each product, "
                    "sum or accumulator on its own, but '%s' shares one scale "
                    "per group; scaled and block formats apply to weights and "
                    "outputs",
                    id, tq_quantizer_spec(q));
  const tq_qmap_match *wm = &n->match[TQ_MAP_WEIGHTS];
  q = wm->matched ? wm->value->quantizer : NULL;
  if (q && tq_quantizer_params(q)->is_static && (n->flags & TQ_OPF_WEIGHTS))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "layer '%s': weights map gives '%s', but 'static' takes "
                    "its range from calibrated activations; weights have "
                    "their own (drop 'static')",
                    id, tq_quantizer_spec(q));
  return TQ_OK;
}

int tq_quantizer_elementwise(const tq_quantizer *q) {
  int axis = 0;
  int64_t group = 0;
  return tq_quantizer_resolve(NULL, q, NULL, &axis, &group) == TQ_OK &&
         axis == -1 && group == 1;
}

tq_status tq_quantize_samples(tq_context *ctx, const tq_quantizer *q,
                              const tq_tensor *in, tq_tensor *out,
                              const tq_node_range *range,
                              const tq_quant_opts *opts) {
  const float *x = tq_cf32(in);
  float *y = tq_f32(out);
  if (tq_quantizer_elementwise(q))
    return tq_quantize(ctx, q, x, y, in->numel, opts);
  /* Groups never span samples: a per-tensor scale is per sample, so a
   * result does not depend on how samples were batched. */
  tq_shape one = in->shape;
  size_t samples = 1, per = in->numel;
  if (one.ndim >= 2 && one.dims[0] > 0) {
    samples = (size_t)one.dims[0];
    per = in->numel / samples;
    one.dims[0] = 1;
  }
  tq_quant_site site;
  tq_activation_site(&one, &site);
  if (range && range->has) {
    site.has_range = 1;
    site.range_lo = range->lo;
    site.range_hi = range->hi;
  }
  tq_quant_opts o = *opts;
  /* Small samples: starting threads per sample costs more than it saves
   * (the bits do not depend on the thread count). */
  if (per < ((size_t)1 << 16)) o.threads = 1;
  for (size_t b = 0; b < samples; b++) {
    o.offset = opts->offset + b * per;
    tq_status st =
        tq_quantize_tensor(ctx, q, x + b * per, y + b * per, per, &site, &o);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

tq_status tq_quantize_activation(tq_context *ctx, const tq_session *s,
                                 size_t node, const tq_quantizer *q,
                                 const tq_tensor *in, tq_tensor *out,
                                 const tq_quant_opts *opts) {
  const char *id = s->g->nodes[node].id;
  const tq_node_range *r = s->ranges ? &s->ranges[node] : NULL;
  if (tq_quantizer_params(q)->is_static && !(r && r->has))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "layer '%s': '%s' is static but the calibration gives "
                    "no range for this layer (pass one: --calib)",
                    id, tq_quantizer_spec(q));
  tq_status st = tq_quantize_samples(ctx, q, in, out, r, opts);
  return st == TQ_OK ? TQ_OK : tq_error_in_layer(ctx, st, id);
}

tq_status tq_quantize_weight_like(tq_context *ctx, const tq_session *s,
                                  size_t node, size_t input,
                                  const tq_quantizer *q, const float *in,
                                  float *out, size_t n,
                                  const tq_quant_opts *opts) {
  tq_quant_site site;
  tq_weight_site(s, node, input, &site);
  tq_status st = tq_quantize_tensor(ctx, q, in, out, n, &site, opts);
  return st == TQ_OK ? TQ_OK : tq_error_in_layer(ctx, st, s->g->nodes[node].id);
}
