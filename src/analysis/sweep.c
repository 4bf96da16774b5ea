/* tq sweep as a library call: every (layer group x spec) configuration,
 * evaluated in one pass (analysis.h). */
#include <stdlib.h>

#include "analysis/analysis_internal.h"
#include "core/error.h"

void tq_sweep_result_destroy(tq_sweep_result *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_rows; i++) tq_an_row_free(&r->rows[i]);
  free(r->rows);
  free(r);
}

/* The groups: one per pattern, or one per layer when none is given. */
static tq_status groups_of(tq_context *ctx, const tq_analysis *an,
                           const tq_sweep_opts *o, size_t ***groups,
                           size_t **sizes, size_t *n) {
  size_t *all = NULL, n_all = 0;
  tq_status st = TQ_OK;
  if (o->n_layers == 0)
    st = tq_analysis_layers(ctx, an, o->kind, NULL, 0, &all, &n_all);
  *n = o->n_layers ? o->n_layers : n_all;
  *groups = calloc(*n ? *n : 1, sizeof **groups);
  *sizes = calloc(*n ? *n : 1, sizeof **sizes);
  if (st == TQ_OK && (!*groups || !*sizes)) st = tq_error_nomem(ctx);
  for (size_t g = 0; st == TQ_OK && g < *n; g++) {
    if (o->n_layers) {
      st = tq_analysis_layers(ctx, an, o->kind, &o->layers[g], 1, &(*groups)[g],
                              &(*sizes)[g]);
    } else if (((*groups)[g] = malloc(sizeof ***groups))) {
      (*groups)[g][0] = all[g];
      (*sizes)[g] = 1;
    } else {
      st = tq_error_nomem(ctx);
    }
  }
  free(all);
  return st;
}

static void groups_free(size_t **groups, size_t *sizes, size_t n) {
  for (size_t g = 0; groups && g < n; g++) free(groups[g]);
  free(groups);
  free(sizes);
}

tq_status tq_sweep(tq_context *ctx, tq_analysis *an, const tq_sweep_opts *opts,
                   tq_sweep_result **out) {
  if (!an || !opts || !out || (opts->n_layers && !opts->layers))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_sweep: NULL argument");
  *out = NULL;
  char **specs = NULL;
  size_t n_specs = 0, **groups = NULL, *sizes = NULL, n_groups = 0;
  tq_sweep_result *r = calloc(1, sizeof *r);
  tq_status st = r ? TQ_OK : tq_error_nomem(ctx);
  if (st == TQ_OK)
    st = tq_an_expand_specs(ctx, opts->specs, opts->n_specs, &specs, &n_specs);
  if (st == TQ_OK) st = groups_of(ctx, an, opts, &groups, &sizes, &n_groups);
  const size_t n_cfg = n_groups * n_specs;
  if (st == TQ_OK) {
    r->kind = opts->kind;
    r->n_groups = n_groups;
    r->n_specs = n_specs;
    r->rows = calloc(n_cfg ? n_cfg : 1, sizeof *r->rows);
    if (!r->rows) st = tq_error_nomem(ctx);
  }
  for (size_t i = 0; st == TQ_OK && i < n_cfg; i++) {
    const size_t g = i / n_specs, s = i % n_specs;
    tq_analysis_row *row = &r->rows[r->n_rows++];
    const char *label =
        opts->n_layers ? opts->layers[g] : tq_an_layer_id(an, groups[g][0]);
    st = tq_an_row_fill(ctx, an, row, opts->kind, label, specs[s], groups[g],
                        sizes[g]);
  }
  if (st == TQ_OK)
    st = tq_an_evaluate_rows(ctx, an, "sweep", r->rows, r->n_rows,
                             &r->float_result);
  groups_free(groups, sizes, n_groups);
  tq_spec_list_free(specs, n_specs);
  if (st != TQ_OK) {
    tq_sweep_result_destroy(r);
    return st;
  }
  *out = r;
  return TQ_OK;
}
