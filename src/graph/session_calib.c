/* A session's calibrated ranges and the sites where it quantizes: what
 * `static` specs and `tq map check --model` need from a session. */
#include <stdlib.h>
#include <string.h>

#include "analysis/calib_internal.h"
#include "core/error.h"
#include "graph/quant_site.h"

tq_status tq_session_set_calibration(tq_context *ctx, tq_session *s,
                                     const tq_calibration *c) {
  const tq_graph *g = s->g;
  free(s->ranges);
  s->ranges = NULL;
  if (!c) return s->maps ? tq_session_set_maps(ctx, s, s->maps) : TQ_OK;
  tq_node_range *r = calloc(g->n_nodes ? g->n_nodes : 1, sizeof *r);
  if (!r) return tq_error_nomem(ctx);
  for (size_t i = 0; i < c->n; i++) {
    size_t k = 0;
    while (k < g->n_nodes && strcmp(g->nodes[k].id, c->layers[i]) != 0) k++;
    if (k == g->n_nodes) {
      free(r);
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, c->source, 0, 0,
                      "layer '%s' is not a layer of this model (a calibration "
                      "for another model?)",
                      c->layers[i]);
    }
    r[k] = (tq_node_range){1, c->lo[i], c->hi[i]};
  }
  s->ranges = r;
  /* Weights that depend on ranges (int32 biases behind a static input
   * scale, session_bias.c) are quantized again. */
  return s->maps ? tq_session_set_maps(ctx, s, s->maps) : TQ_OK;
}

tq_status tq_session_quant_site(tq_context *ctx, const tq_session *s,
                                size_t node, tq_map_kind kind, size_t slot,
                                tq_quant_site *site, tq_shape *shape_storage) {
  const tq_graph *g = s->g;
  if (node >= g->n_nodes || !site || !shape_storage)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_session_quant_site: node %zu out of range or NULL "
                    "argument",
                    node);
  const tq_node *gn = &g->nodes[node];
  if (kind == TQ_MAP_WEIGHTS) {
    if (slot >= gn->n_in || gn->in[slot] < 0 ||
        g->values[gn->in[slot]].init_index < 0)
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "layer '%s': input %zu is not a weight", gn->id, slot);
    tq_weight_site(s, node, slot, site);
    return TQ_OK;
  }
  if (!s->planned || slot >= gn->n_out || !s->values[gn->out[slot]])
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "layer '%s': output %zu has no planned shape (plan the "
                    "session first)",
                    gn->id, slot);
  *shape_storage = s->values[gn->out[slot]]->shape;
  if (shape_storage->ndim >= 2) shape_storage->dims[0] = 1;
  tq_activation_site(shape_storage, site);
  if (s->ranges && s->ranges[node].has) {
    site->has_range = 1;
    site->range_lo = s->ranges[node].lo;
    site->range_hi = s->ranges[node].hi;
  }
  return TQ_OK;
}
