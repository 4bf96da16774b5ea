/* Which layers a kind of map can quantize, and which a pattern selects
 * (analysis.h). */
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "graph/session_internal.h"
#include "ops/op_internal.h"
#include "tensorquant/analysis.h"

int tq_session_node_quantizable(const tq_session *s, size_t node,
                                tq_map_kind kind) {
  if (!s->planned || node >= s->g->n_nodes) return 0;
  const tq_graph *g = s->g;
  const tq_node *gn = &g->nodes[node];
  const node_rt *n = &s->nodes[node];
  if (n->folded) return 0;
  switch (kind) {
    case TQ_MAP_EXTRINSIC:
      for (size_t k = 0; k < gn->n_out; k++)
        if (gn->out[k] >= 0 && s->values[gn->out[k]]->dtype == TQ_DTYPE_FLOAT32)
          return 1;
      return 0;
    case TQ_MAP_INTRINSIC: return (n->flags & TQ_OPF_INTRINSIC) != 0;
    default:
      if (!(n->flags & TQ_OPF_WEIGHTS)) return 0;
      for (size_t k = 1; k < gn->n_in; k++) {
        const int v = gn->in[k];
        if (v >= 0 && g->values[v].init_index >= 0 &&
            g->inits[g->values[v].init_index]->dtype == TQ_DTYPE_FLOAT32)
          return 1;
      }
      return 0;
  }
}

tq_status tq_session_match_layers(tq_context *ctx, const tq_session *s,
                                  tq_map_kind kind, const char *pattern,
                                  size_t *nodes, size_t cap, size_t *count) {
  *count = 0;
  tq_qmap *m = NULL;
  tq_status st = tq_qmap_create(ctx, kind, &m);
  if (st == TQ_OK) st = tq_qmap_add(ctx, m, pattern, "none");
  for (size_t i = 0; st == TQ_OK && i < s->g->n_nodes; i++) {
    const tq_node *gn = &s->g->nodes[i];
    tq_qmap_match match;
    if (!tq_session_node_quantizable(s, i, kind) ||
        !tq_qmap_resolve(m, gn->id, (const char *const *)gn->weight_names,
                         gn->n_weights, &match))
      continue;
    if (*count < cap) nodes[*count] = i;
    ++*count;
  }
  tq_qmap_destroy(m);
  return st;
}

int tq_exact_layer_key(const char *id, char *out, size_t cap) {
  static const char special[] = "\\.[]()*+?{}|^$";
  size_t n = 0;
  const char head[] = "re:^";
  if (cap < sizeof head) return 0;
  memcpy(out, head, sizeof head - 1);
  n = sizeof head - 1;
  for (const char *p = id; *p; p++) {
    if (strchr(special, *p)) {
      if (n + 1 >= cap) return 0;
      out[n++] = '\\';
    }
    if (n + 1 >= cap) return 0;
    out[n++] = *p;
  }
  if (n + 2 > cap) return 0;
  out[n++] = '$';
  out[n] = 0;
  return 1;
}

tq_status tq_write_file_atomic(tq_context *ctx, const char *path,
                               const void *data, size_t len) {
  return tq_atomic_write_bytes(ctx, path, data, len);
}
