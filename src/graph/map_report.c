/* Map reports: which keys of a set of maps hit which layers or nodes of a
 * session's graph, so that a key matching nothing is never a silent no-op. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/session_internal.h"
#include "qmap/qmap_internal.h"
#include "tensorquant/layers.h"

struct tq_map_report {
  const tq_session *s;
  const tq_qmap *maps[TQ_MAP_KIND_COUNT];
  tq_map_view view;
  size_t n_targets;
  tq_map_target *targets;
  /* per kind: matched[e * n_targets + t], applies[t] (entry or -1) */
  unsigned char *matched[TQ_MAP_KIND_COUNT];
  long *applies[TQ_MAP_KIND_COUNT];
};

/* Target t as keys see it: its ID and the names matched besides. */
static void target_names(const tq_map_report *r, size_t t, const char **id,
                         const char *const **names, size_t *n) {
  if (r->view == TQ_MAP_VIEW_LAYERS) {
    const tq_layer *l = &r->s->layers->layers[t];
    *id = l->id;
    *names = l->owners;
    *n = l->n_owners;
  } else {
    const tq_node *gn = &r->s->g->nodes[t];
    *id = gn->id;
    *names = (const char *const *)gn->weight_names;
    *n = gn->n_weights;
  }
}

static void fill_target(const tq_map_report *r, size_t t, tq_map_target *out) {
  unsigned flags = 0;
  memset(out, 0, sizeof *out);
  if (r->view == TQ_MAP_VIEW_LAYERS) {
    const tq_layer *l = &r->s->layers->layers[t];
    for (size_t m = 0; m < l->n_nodes; m++)
      flags |= r->s->nodes[l->nodes[m]].flags;
    out->id = l->id;
    out->weights = l->param_names;
    out->n_weights = l->n_params;
  } else {
    const tq_node *gn = &r->s->g->nodes[t];
    flags = r->s->nodes[t].flags;
    out->id = gn->id;
    out->weights = (const char *const *)gn->weight_names;
    out->n_weights = (flags & TQ_OPF_WEIGHTS) ? gn->n_weights : 0;
  }
  out->eligible[TQ_MAP_EXTRINSIC] = out->eligible[TQ_MAP_GRADIENTS] = 1;
  out->eligible[TQ_MAP_WEIGHTS] = out->eligible[TQ_MAP_UPDATES] =
      out->n_weights > 0;
  out->eligible[TQ_MAP_INTRINSIC] = (flags & TQ_OPF_INTRINSIC) != 0;
}

static void resolve_kind(tq_map_report *r, int k) {
  const tq_qmap *map = r->maps[k];
  const size_t n_entries = tq_qmap_size(map);
  for (size_t t = 0; t < r->n_targets; t++) {
    r->applies[k][t] = -1;
    if (!r->targets[t].eligible[k]) continue;
    const char *id;
    const char *const *names;
    size_t n;
    target_names(r, t, &id, &names, &n);
    for (size_t e = 0; e < n_entries; e++) {
      if (!tq_qmap_entry_matches(map, e, id, names, n)) continue;
      r->matched[k][e * r->n_targets + t] = 1;
      if (r->applies[k][t] < 0) r->applies[k][t] = (long)e;
    }
  }
}

tq_status tq_map_report_create(tq_context *ctx, const tq_session *s,
                               const tq_qmap_set *maps, tq_map_report **out) {
  if (!s || !out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_map_report_create: NULL argument");
  *out = NULL;
  tq_map_report *r = calloc(1, sizeof *r);
  if (!r) return tq_error_nomem(ctx);
  r->s = s;
  r->view = (tq_map_view)s->map_view;
  r->n_targets =
      r->view == TQ_MAP_VIEW_LAYERS ? s->layers->n_layers : s->g->n_nodes;
  const size_t nt = r->n_targets ? r->n_targets : 1;
  r->targets = calloc(nt, sizeof *r->targets);
  int ok = r->targets != NULL;
  for (int k = 0; k < TQ_MAP_KIND_COUNT && ok; k++) {
    r->maps[k] = tq_qmap_set_get(maps, (tq_map_kind)k);
    const size_t ne = tq_qmap_size(r->maps[k]);
    r->matched[k] = calloc((ne ? ne : 1) * nt, 1);
    r->applies[k] = malloc(nt * sizeof *r->applies[k]);
    ok = r->matched[k] && r->applies[k];
  }
  if (!ok) {
    tq_map_report_destroy(r);
    return tq_error_nomem(ctx);
  }
  for (size_t t = 0; t < r->n_targets; t++) fill_target(r, t, &r->targets[t]);
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++) resolve_kind(r, k);
  *out = r;
  return TQ_OK;
}

void tq_map_report_destroy(tq_map_report *r) {
  if (!r) return;
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++) {
    free(r->matched[k]);
    free(r->applies[k]);
  }
  free(r->targets);
  free(r);
}

tq_map_view tq_map_report_view(const tq_map_report *r) {
  return r->view;
}

size_t tq_map_report_target_count(const tq_map_report *r) {
  return r->n_targets;
}

tq_status tq_map_report_target(const tq_map_report *r, size_t t,
                               tq_map_target *out) {
  if (t >= r->n_targets) return TQ_ERR_RANGE;
  *out = r->targets[t];
  return TQ_OK;
}

long tq_map_report_applies(const tq_map_report *r, size_t t, tq_map_kind kind) {
  if (t >= r->n_targets || (unsigned)kind >= TQ_MAP_KIND_COUNT) return -1;
  return r->applies[kind][t];
}

int tq_map_report_matches(const tq_map_report *r, tq_map_kind kind,
                          size_t entry, size_t t) {
  if ((unsigned)kind >= TQ_MAP_KIND_COUNT || t >= r->n_targets ||
      entry >= tq_qmap_size(r->maps[kind]))
    return 0;
  return r->matched[kind][entry * r->n_targets + t];
}

tq_status tq_map_report_key(const tq_map_report *r, tq_map_kind kind,
                            size_t entry, tq_map_key_report *out) {
  if ((unsigned)kind >= TQ_MAP_KIND_COUNT ||
      entry >= tq_qmap_size(r->maps[kind]))
    return TQ_ERR_RANGE;
  memset(out, 0, sizeof *out);
  tq_qmap_entry(r->maps[kind], entry, &out->key, NULL);
  for (size_t t = 0; t < r->n_targets; t++) {
    out->n_matched += r->matched[kind][entry * r->n_targets + t];
    out->n_applied += r->applies[kind][t] == (long)entry;
  }
  return TQ_OK;
}

size_t tq_map_report_unused(const tq_map_report *r) {
  size_t unused = 0;
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++)
    for (size_t e = 0; e < tq_qmap_size(r->maps[k]); e++) {
      tq_map_key_report kr;
      tq_map_report_key(r, (tq_map_kind)k, e, &kr);
      unused += kr.n_applied == 0;
    }
  return unused;
}
