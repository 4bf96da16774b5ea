/* Which layers a kind of map can quantize, and which patterns select
 * (analysis.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis_internal.h"
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

/* The Softmax/LogSoftmax producing the first output, or -1: its
 * probabilities are what the loss reads, so it is no layer to quantize by
 * default. */
static long score_head(const tq_graph *g) {
  const char *out = tq_graph_output_name(g, 0);
  for (size_t i = tq_graph_node_count(g); i-- > 0;) {
    tq_node_info info;
    if (tq_graph_node_info(g, i, &info) != TQ_OK) continue;
    for (size_t k = 0; k < info.n_outputs; k++)
      if (!strcmp(info.outputs[k], out))
        return !strcmp(info.op_type, "Softmax") ||
                       !strcmp(info.op_type, "LogSoftmax")
                   ? (long)i
                   : -1;
  }
  return -1;
}

/* The error for a pattern (NULL: the model) that selects nothing, listing
 * the layers kind can quantize, as many as the message holds. */
static tq_status no_layer(tq_context *ctx, const tq_analysis *an,
                          tq_map_kind kind, const char *pattern) {
  enum { MAX_SHOWN = 60, ROOM = 900 };
  const char *what = tq_analysis_kind_name(kind);
  if (!pattern)
    return tq_error(ctx, TQ_ERR_NOT_FOUND, NULL, 0, 0,
                    "the model has no layer that %s can quantize", what);
  char list[ROOM + 64];
  size_t len = (size_t)snprintf(list, sizeof list,
                                "\n  layers that %s can quantize:", what);
  size_t shown = 0, quantizable = 0;
  for (size_t i = 0; i < tq_graph_node_count(an->g); i++) {
    tq_node_info info;
    if (!tq_session_node_quantizable(an->s, i, kind) ||
        tq_graph_node_info(an->g, i, &info) != TQ_OK)
      continue;
    quantizable++;
    /* a prefix of the list: once a layer is left out, so are the rest */
    const size_t line = strlen(info.id) + strlen(info.op_type) + 8;
    if (shown == quantizable - 1 && shown < MAX_SHOWN && len + line < ROOM) {
      len += (size_t)snprintf(list + len, sizeof list - len, "\n    %s (%s)",
                              info.id, info.op_type);
      shown++;
    }
  }
  if (quantizable > shown)
    snprintf(list + len, sizeof list - len, "\n    ... and %zu more",
             quantizable - shown);
  else if (!quantizable)
    snprintf(list + len, sizeof list - len, "\n    (none)");
  return tq_error(ctx, TQ_ERR_NOT_FOUND, NULL, 0, 0,
                  "the layer pattern '%s' matches no layer that %s can "
                  "quantize%s",
                  pattern, what, list);
}

tq_status tq_analysis_layers(tq_context *ctx, const tq_analysis *an,
                             tq_map_kind kind, const char *const *patterns,
                             size_t n_patterns, size_t **nodes, size_t *n) {
  if (!an || !nodes || !n || (n_patterns && !patterns))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_analysis_layers: NULL argument");
  if (kind != TQ_MAP_EXTRINSIC && kind != TQ_MAP_WEIGHTS &&
      kind != TQ_MAP_INTRINSIC)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "the analyses quantize extr, weights or intr, not map "
                    "kind %d",
                    (int)kind);
  const size_t nn = tq_graph_node_count(an->g);
  *nodes = calloc(nn ? nn : 1, sizeof **nodes);
  unsigned char *pick = calloc(nn ? nn : 1, 1);
  size_t *found = calloc(nn ? nn : 1, sizeof *found);
  *n = 0;
  tq_status st = *nodes && pick && found ? TQ_OK : tq_error_nomem(ctx);
  if (st == TQ_OK && n_patterns == 0) {
    const long head = kind == TQ_MAP_EXTRINSIC ? score_head(an->g) : -1;
    for (size_t i = 0; i < nn; i++)
      pick[i] = tq_session_node_quantizable(an->s, i, kind) && (long)i != head;
  }
  for (size_t l = 0; st == TQ_OK && l < n_patterns; l++) {
    size_t count = 0;
    st = tq_session_match_layers(ctx, an->s, kind, patterns[l], found, nn,
                                 &count);
    if (st == TQ_OK && count == 0) st = no_layer(ctx, an, kind, patterns[l]);
    for (size_t k = 0; st == TQ_OK && k < count; k++) pick[found[k]] = 1;
  }
  for (size_t i = 0; st == TQ_OK && i < nn; i++)
    if (pick[i]) (*nodes)[(*n)++] = i;
  if (st == TQ_OK && *n == 0) st = no_layer(ctx, an, kind, NULL);
  free(pick);
  free(found);
  if (st != TQ_OK) {
    free(*nodes);
    *nodes = NULL;
    *n = 0;
  }
  return st;
}
