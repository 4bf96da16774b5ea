/* The analysis handle: options, `auto` fractional bits from statistics
 * collected on first need, configurations, evaluation with progress
 * (analysis.h). */
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis_internal.h"
#include "core/error.h"
#include "graph/feed_internal.h"
#include "tensorquant/version.h"

static char *copy(const char *s, const char *fallback) {
  return strdup(s ? s : fallback);
}

tq_status tq_analysis_create(tq_context *ctx, const tq_graph *g,
                             const tq_dataset *ds, const tq_analysis_opts *opts,
                             tq_analysis **out) {
  if (!g || !ds || !out || (opts && opts->batch < 0))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_analysis_create: NULL argument or a negative batch");
  *out = NULL;
  const tq_analysis_opts none = {0};
  const tq_analysis_opts *o = opts ? opts : &none;
  tq_analysis *an = calloc(1, sizeof *an);
  if (!an) return tq_error_nomem(ctx);
  an->g = g;
  an->ds = ds;
  an->n = tq_dataset_size(ds);
  if (o->limit > 0 && o->limit < an->n) an->n = o->limit;
  an->calib = o->calib > 0 ? o->calib : 1000;
  if (an->calib > an->n) an->calib = an->n;
  an->eval.batch = o->batch > 0 ? o->batch : 256;
  an->eval.seed = o->seed;
  an->eval.memory_bytes = o->memory_bytes;
  an->eval.no_reuse = o->no_reuse;
  an->eval.comm = o->comm;
  an->eval.calibration = o->calibration;
  an->progress = o->progress;
  an->progress_user = o->progress_user;
  an->model = copy(o->model, "model");
  an->split = copy(o->split, "test");
  an->created_by = copy(o->created_by, "libtensorquant " TQ_VERSION_STRING);
  tq_status st = an->model && an->split && an->created_by
                     ? tq_session_create(ctx, g, &an->s)
                     : tq_error_nomem(ctx);
  /* Planned for one sample of each of the dataset's inputs. */
  tq_feed feed = {0};
  tq_shape *one = NULL;
  if (st == TQ_OK) st = tq_feed_init(ctx, &feed, ds, g);
  if (st == TQ_OK && !(one = malloc((feed.n ? feed.n : 1) * sizeof *one)))
    st = tq_error_nomem(ctx);
  if (st == TQ_OK) tq_feed_shapes(&feed, 1, one);
  if (st == TQ_OK) st = tq_session_plan(ctx, an->s, one, feed.n);
  free(one);
  tq_feed_free(&feed);
  if (st != TQ_OK) {
    tq_analysis_destroy(an);
    return st;
  }
  *out = an;
  return TQ_OK;
}

void tq_analysis_destroy(tq_analysis *an) {
  if (!an) return;
  tq_stats_destroy(an->stats);
  tq_session_destroy(an->s);
  free(an->model);
  free(an->split);
  free(an->created_by);
  free(an);
}

size_t tq_analysis_sample_count(const tq_analysis *an) {
  return an ? an->n : 0;
}

const tq_stats *tq_analysis_stats(const tq_analysis *an) {
  return an ? an->stats : NULL;
}

const char *tq_analysis_kind_name(tq_map_kind kind) {
  switch (kind) {
    case TQ_MAP_EXTRINSIC: return "extr";
    case TQ_MAP_WEIGHTS: return "weights";
    case TQ_MAP_INTRINSIC: return "intr";
    default: return "?";
  }
}

const char *tq_an_layer_id(const tq_analysis *an, size_t node) {
  tq_node_info info;
  return tq_graph_node_info(an->g, node, &info) == TQ_OK ? info.id : "";
}

/* Progress of the stage under way, for the engine and the statistics. */
static int report_progress(void *user, size_t done, size_t total) {
  const tq_analysis *an = user;
  return an->progress(an->progress_user, an->stage, done, total);
}

static tq_status collect_stats(tq_context *ctx, tq_analysis *an) {
  tq_stats_opts so = {0};
  if (an->progress) {
    an->stage = "statistics";
    so.progress = report_progress;
    so.user = an;
  }
  return tq_stats_collect(ctx, an->s, an->ds, NULL, an->calib, an->eval.batch,
                          &so, &an->stats);
}

tq_status tq_analysis_resolve(tq_context *ctx, tq_analysis *an,
                              const char *spec, size_t node, tq_map_kind kind,
                              char *out, size_t cap) {
  if (!an || !spec || !out || node >= tq_graph_node_count(an->g))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_analysis_resolve: NULL argument or no node %zu", node);
  double max_abs = 0.0;
  if (tq_spec_has_auto(spec)) {
    tq_status st = an->stats ? TQ_OK : collect_stats(ctx, an);
    /* weights: the layer's weights; extr: its outputs; intr: products
     * and sums, whose range the layer's outputs stand for */
    if (st == TQ_OK)
      st = tq_stats_layer_max_abs(
          ctx, an->stats, tq_an_layer_id(an, node),
          kind == TQ_MAP_WEIGHTS ? TQ_STATS_WEIGHT : TQ_STATS_ACTIVATION,
          &max_abs);
    if (st != TQ_OK) return st;
  }
  return tq_spec_resolve_auto(ctx, spec, max_abs, out, cap);
}

/* Parses spec with `auto` standing for one fraction: whether it is valid,
 * and its word width. */
static tq_status probe_spec(tq_context *ctx, const char *spec, int *bits) {
  char probe[TQ_AN_SPEC_CAP];
  tq_quantizer *q = NULL;
  tq_status st = tq_spec_resolve_auto(ctx, spec, 1.0, probe, sizeof probe);
  if (st == TQ_OK) st = tq_quantizer_parse(ctx, probe, &q);
  if (bits) *bits = st == TQ_OK ? tq_spec_bits(q) : 0;
  tq_quantizer_destroy(q);
  return st;
}

int tq_an_spec_bits(const char *spec) {
  /* the width does not depend on the fractional bits `auto` stands for */
  int bits;
  probe_spec(NULL, spec, &bits);
  return bits;
}

tq_status tq_an_expand_specs(tq_context *ctx, const char *const *lists,
                             size_t n_lists, char ***specs, size_t *n) {
  *specs = NULL;
  *n = 0;
  if (n_lists == 0 || !lists)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "no specs given (e.g. 'nearest,{4..16},{auto}')");
  tq_status st = TQ_OK;
  for (size_t i = 0; i < n_lists && st == TQ_OK; i++) {
    char **more;
    size_t m;
    if ((st = tq_spec_list_expand(ctx, lists[i], &more, &m)) != TQ_OK) break;
    char **all = realloc(*specs, (*n + m) * sizeof *all);
    if (!all) {
      tq_spec_list_free(more, m);
      st = tq_error(ctx, TQ_ERR_NO_MEMORY, NULL, 0, 0,
                    "out of memory for %zu specs", *n + m);
      break;
    }
    memcpy(all + *n, more, m * sizeof *more);
    free(more);
    *specs = all;
    *n += m;
  }
  for (size_t i = 0; i < *n && st == TQ_OK; i++)
    st = probe_spec(ctx, (*specs)[i], NULL);
  if (st != TQ_OK) {
    tq_spec_list_free(*specs, *n);
    *specs = NULL;
    *n = 0;
  }
  return st;
}

tq_status tq_an_add_layer(tq_context *ctx, const tq_analysis *an,
                          tq_qmap_set *set, tq_map_kind kind, size_t node,
                          const char *spec) {
  const char *id = tq_an_layer_id(an, node);
  char key[1024];
  if (!tq_exact_layer_key(id, key, sizeof key))
    return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0, "layer ID too long: %s", id);
  tq_qmap *m = (tq_qmap *)tq_qmap_set_get(set, kind);
  tq_status st = TQ_OK;
  if (!m) {
    tq_qmap *fresh = NULL;
    st = tq_qmap_create(ctx, kind, &fresh);
    if (st == TQ_OK) st = tq_qmap_set_put(ctx, set, fresh);
    m = (tq_qmap *)tq_qmap_set_get(set, kind);
  }
  return st == TQ_OK ? tq_qmap_add(ctx, m, key, spec) : st;
}

tq_status tq_an_config(tq_context *ctx, const tq_analysis *an, tq_map_kind kind,
                       const size_t *nodes, const char *const *specs, size_t n,
                       tq_qmap_set **out) {
  tq_status st = tq_qmap_set_create(ctx, out);
  for (size_t k = 0; k < n && st == TQ_OK; k++)
    st = tq_an_add_layer(ctx, an, *out, kind, nodes[k], specs[k]);
  return st;
}

tq_status tq_an_evaluate(tq_context *ctx, tq_analysis *an, const char *stage,
                         const size_t *idx, size_t n, uint64_t offset,
                         const tq_qmap_set *const *configs, size_t n_configs,
                         tq_config_result *float_result,
                         tq_config_result *results) {
  tq_multi_eval_opts o = an->eval;
  o.sample_offset = offset;
  if (an->progress) {
    an->stage = stage;
    o.progress = report_progress;
    o.progress_user = an;
  }
  return tq_evaluate_configs(ctx, an->g, an->ds, idx, idx ? n : an->n, configs,
                             n_configs, &o, float_result, results);
}

tq_status tq_an_row_fill(tq_context *ctx, tq_analysis *an, tq_analysis_row *row,
                         tq_map_kind kind, const char *label, const char *spec,
                         const size_t *nodes, size_t n_nodes) {
  row->kind = kind;
  row->layers = strdup(label);
  row->spec = strdup(spec);
  row->bits = tq_an_spec_bits(spec);
  size_t *own = calloc(n_nodes ? n_nodes : 1, sizeof *own);
  char **ids = calloc(n_nodes ? n_nodes : 1, sizeof *ids);
  char **resolved = calloc(n_nodes ? n_nodes : 1, sizeof *resolved);
  row->nodes = own;
  row->layer_ids = (const char *const *)ids;
  row->resolved = (const char *const *)resolved;
  if (!row->layers || !row->spec || !own || !ids || !resolved)
    return tq_error_nomem(ctx);
  for (size_t k = 0; k < n_nodes; k++) {
    char out[TQ_AN_SPEC_CAP];
    tq_status st =
        tq_analysis_resolve(ctx, an, spec, nodes[k], kind, out, sizeof out);
    if (st != TQ_OK) return st;
    own[k] = nodes[k];
    resolved[k] = strdup(out);
    ids[k] = strdup(tq_an_layer_id(an, nodes[k]));
    row->n_layers = k + 1;
    if (!resolved[k] || !ids[k]) return tq_error_nomem(ctx);
  }
  return TQ_OK;
}

void tq_an_row_free(tq_analysis_row *row) {
  free((char *)row->layers);
  free((char *)row->spec);
  for (size_t k = 0; k < row->n_layers; k++) {
    free((char *)row->resolved[k]);
    free((char *)row->layer_ids[k]);
  }
  free((void *)row->resolved);
  free((void *)row->layer_ids);
  free((size_t *)row->nodes);
}

tq_status tq_an_evaluate_rows(tq_context *ctx, tq_analysis *an,
                              const char *stage, tq_analysis_row *rows,
                              size_t n, tq_config_result *float_result) {
  tq_qmap_set **cfg = calloc(n ? n : 1, sizeof *cfg);
  tq_config_result *res = calloc(n ? n : 1, sizeof *res);
  tq_status st = cfg && res ? TQ_OK : tq_error_nomem(ctx);
  for (size_t i = 0; st == TQ_OK && i < n; i++)
    st = tq_an_config(ctx, an, rows[i].kind, rows[i].nodes, rows[i].resolved,
                      rows[i].n_layers, &cfg[i]);
  if (st == TQ_OK)
    st = tq_an_evaluate(ctx, an, stage, NULL, 0, 0,
                        (const tq_qmap_set *const *)cfg, n, float_result, res);
  for (size_t i = 0; st == TQ_OK && i < n; i++) rows[i].result = res[i];
  for (size_t i = 0; cfg && i < n; i++) tq_qmap_set_destroy(cfg[i]);
  free(cfg);
  free(res);
  return st;
}
