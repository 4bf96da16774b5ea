/* The session under the layer view: map keys resolved per framework layer
 * (layers.c) and applied to the layer's output, parameters and products. */
#include <string.h>

#include "core/error.h"
#include "graph/session_internal.h"
#include "tensorquant/layers.h"

/* Which kinds of a layer's match node i takes: extrinsic only at the
 * layer's output, intrinsic only where the operator has products, weights
 * and updates where the node consumes one of the layer's parameters;
 * gradients at every member (the gradient leaving each of its nodes). */
static void node_matches(const tq_session *s, const tq_layer *layer, size_t i,
                         const tq_qmap_match *lm, tq_qmap_match *out) {
  const tq_node *gn = &s->g->nodes[i];
  int has_param = 0;
  for (size_t k = 0; k < gn->n_in && !has_param; k++)
    has_param = tq_layer_has_param(layer, i, k);
  memset(out, 0, TQ_MAP_KIND_COUNT * sizeof *out);
  if (i == layer->output) out[TQ_MAP_EXTRINSIC] = lm[TQ_MAP_EXTRINSIC];
  if (s->nodes[i].flags & TQ_OPF_INTRINSIC)
    out[TQ_MAP_INTRINSIC] = lm[TQ_MAP_INTRINSIC];
  if (has_param) {
    out[TQ_MAP_WEIGHTS] = lm[TQ_MAP_WEIGHTS];
    out[TQ_MAP_UPDATES] = lm[TQ_MAP_UPDATES];
  }
  out[TQ_MAP_GRADIENTS] = lm[TQ_MAP_GRADIENTS];
}

tq_status tq_session_resolve_layer_maps(tq_context *ctx, tq_session *s,
                                        const tq_qmap_set *maps) {
  const tq_layers *ls = s->layers;
  for (size_t i = 0; i < s->g->n_nodes; i++)
    memset(s->nodes[i].match, 0, sizeof s->nodes[i].match);
  for (size_t l = 0; l < ls->n_layers; l++) {
    const tq_layer *layer = &ls->layers[l];
    tq_qmap_match lm[TQ_MAP_KIND_COUNT];
    for (int k = 0; k < TQ_MAP_KIND_COUNT; k++)
      tq_qmap_resolve(maps ? tq_qmap_set_get(maps, (tq_map_kind)k) : NULL,
                      layer->id, layer->owners, layer->n_owners, &lm[k]);
    for (size_t m = 0; m < layer->n_nodes; m++)
      node_matches(s, layer, layer->nodes[m], lm,
                   s->nodes[layer->nodes[m]].match);
    const tq_qmap_match *wm = &lm[TQ_MAP_WEIGHTS];
    if (!wm->matched || !wm->value->quantizer) continue;
    for (size_t p = 0; p < layer->n_params; p++) {
      tq_status st = tq_session_quantize_weight(ctx, s, layer->params[p].node,
                                                layer->params[p].input,
                                                wm->value->quantizer, 0);
      if (st != TQ_OK) return st;
    }
  }
  return TQ_OK;
}

tq_status tq_session_set_map_view(tq_context *ctx, tq_session *s,
                                  tq_map_view view) {
  if (!s || (view != TQ_MAP_VIEW_NODES && view != TQ_MAP_VIEW_LAYERS))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_session_set_map_view: %s",
                    s ? "unknown view (TQ_MAP_VIEW_NODES or "
                        "TQ_MAP_VIEW_LAYERS)"
                      : "session is NULL");
  s->map_view = (int)view;
  return tq_session_set_maps(ctx, s, s->maps);
}

tq_map_view tq_session_map_view(const tq_session *s) {
  return (tq_map_view)s->map_view;
}

size_t tq_session_layer_count(const tq_session *s) {
  return s->layers->n_layers;
}

tq_status tq_session_layer(const tq_session *s, size_t i, tq_layer_info *info) {
  if (i >= s->layers->n_layers) return TQ_ERR_RANGE;
  const tq_layer *l = &s->layers->layers[i];
  *info = (tq_layer_info){.id = l->id,
                          .nodes = l->nodes,
                          .n_nodes = l->n_nodes,
                          .output_node = l->output,
                          .params = l->param_names,
                          .n_params = l->n_params,
                          .owners = l->owners,
                          .n_owners = l->n_owners};
  return TQ_OK;
}

long tq_session_node_layer(const tq_session *s, size_t node) {
  return node < s->g->n_nodes ? s->layers->node_layer[node] : -1;
}
