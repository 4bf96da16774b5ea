/* The weights-map rule for biases (docs/design.md §3): under an `int`
 * quantizer the kernel of Conv, ConvTranspose and Gemm is quantized and
 * its bias is not; the bias becomes ONNX Runtime's int32 bias (scale =
 * input scale x kernel scale, per channel where the kernel's scales are)
 * when the layer's input has a static scale, and stays float otherwise. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/tensor_internal.h"
#include "graph/session_internal.h"
#include "quant/grouped.h"
#include "quant/int_grid.h"

int tq_session_is_int_bias(const tq_session *s, size_t node, size_t input,
                           const tq_quantizer *q) {
  const tq_op_id id =
      s->nodes[node].desc ? s->nodes[node].desc->id : TQ_OP_USER;
  return input == 2 && tq_quantizer_params(q)->kind == TQ_QUANT_INT &&
         (id == TQ_OP_CONV || id == TQ_OP_CONV_TRANSPOSE || id == TQ_OP_GEMM);
}

int tq_session_input_static_scale(const tq_session *s, size_t node,
                                  float *scale) {
  /* The input has a static scale when its producer's extrinsic quantizer
   * is a per-tensor `static` int with a calibrated range: then every
   * value the node reads lies on that grid, as in ONNX Runtime's QDQ
   * graphs. */
  const tq_graph *g = s->g;
  const tq_node *gn = &g->nodes[node];
  if (gn->n_in < 1 || gn->in[0] < 0) return 0;
  const int producer = g->values[gn->in[0]].producer;
  if (producer < 0 || !s->ranges || !s->ranges[producer].has) return 0;
  const tq_quantizer *q = tq_session_extrinsic_quantizer(s, (size_t)producer);
  if (!q || tq_quantizer_params(q)->kind != TQ_QUANT_INT) return 0;
  float sc;
  if (tq_quantizer_static_scale(q, s->ranges[producer].lo,
                                s->ranges[producer].hi, &sc) != TQ_OK ||
      !(sc > 0.0f) || !isfinite(sc))
    return 0;
  *scale = sc;
  return 1;
}

/* The kernel's scales as q groups it: one (per tensor) or one per index of
 * the axis whose length is the bias's, n_out values. */
static tq_status kernel_scales(tq_context *ctx, const tq_node *gn,
                               const tq_quantizer *q, const tq_tensor *w,
                               size_t n_out, float **out, size_t *n) {
  tq_quant_site site = TQ_QUANT_SITE_INIT;
  site.rank = w->shape.ndim;
  site.dims = w->shape.dims;
  site.channel_axis = 0;
  int axis;
  int64_t group;
  tq_status st = tq_quantizer_resolve(ctx, q, &site, &axis, &group);
  if (st != TQ_OK) return st;
  if (group || (axis >= 0 && (size_t)w->shape.dims[axis] != n_out))
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "layer '%s': an int32 bias needs the kernel's scales per "
                    "tensor or per output channel; '%s' groups it otherwise",
                    gn->id, tq_quantizer_spec(q));
  *n = axis < 0 ? 1 : n_out;
  size_t outer = 1, inner = 1, dim = w->numel;
  if (axis >= 0) {
    for (int d = 0; d < axis; d++) outer *= (size_t)w->shape.dims[d];
    for (int d = axis + 1; d < w->shape.ndim; d++)
      inner *= (size_t)w->shape.dims[d];
    dim = (size_t)w->shape.dims[axis];
  }
  *out = malloc(*n * sizeof **out);
  float *v = malloc((w->numel ? w->numel : 1) * sizeof *v);
  if (!*out || !v) {
    free(v);
    return tq_error_nomem(ctx);
  }
  for (size_t c = 0; c < *n; c++) {
    size_t k = 0;
    for (size_t o = 0; o < outer; o++)
      for (size_t d = axis < 0 ? 0 : c; d < (axis < 0 ? dim : c + 1); d++)
        for (size_t j = 0; j < inner; j++)
          v[k++] = tq_cf32(w)[(o * dim + d) * inner + j];
    int64_t zp;
    tq_int_group_grid(tq_quantizer_params(q), v, k, &(*out)[c], &zp);
  }
  free(v);
  return TQ_OK;
}

tq_status tq_session_quantize_bias(tq_context *ctx, tq_session *s, size_t node,
                                   size_t input, const tq_quantizer *q) {
  const tq_graph *g = s->g;
  const tq_node *gn = &g->nodes[node];
  node_rt *n = &s->nodes[node];
  float in_scale;
  if (!tq_session_input_static_scale(s, node, &in_scale) || gn->n_in < 3 ||
      gn->in[1] < 0 || g->values[gn->in[1]].init_index < 0)
    return TQ_OK; /* stays float */
  const tq_tensor *w = g->inits[g->values[gn->in[1]].init_index];
  const tq_tensor *b = g->inits[g->values[gn->in[input]].init_index];
  if (w->dtype != TQ_DTYPE_FLOAT32 || b->dtype != TQ_DTYPE_FLOAT32)
    return TQ_OK;
  float *ws = NULL;
  size_t nw = 0;
  tq_status st = kernel_scales(ctx, gn, q, w, b->numel, &ws, &nw);
  if (st == TQ_OK && !n->wq && !(n->wq = calloc(gn->n_in, sizeof *n->wq)))
    st = tq_error_nomem(ctx);
  if (st == TQ_OK && !n->wq[input]) st = tq_tensor_clone(ctx, b, &n->wq[input]);
  if (st == TQ_OK)
    tq_int32_bias(tq_cf32(b), b->numel, in_scale, ws, nw, tq_f32(n->wq[input]));
  free(ws);
  return st;
}
