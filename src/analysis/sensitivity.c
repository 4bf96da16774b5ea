/* tq sensitivity as a library call: one layer at a time, ranked by the
 * accuracy it loses (analysis.h). */
#include <stdlib.h>

#include "analysis/analysis_internal.h"
#include "core/error.h"

void tq_sensitivity_result_destroy(tq_sensitivity_result *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_rows; i++) tq_an_row_free(&r->rows[i]);
  free(r->rows);
  free(r->ranking);
  free(r);
}

/* What the ranking compares: plain values, so that sorting needs no
 * pointer to the results. */
typedef struct rank_key {
  double top1, sqnr; /* sqnr: NaN as the lowest */
  size_t row;
} rank_key;

static int by_loss(const void *pa, const void *pb) {
  const rank_key *a = pa, *b = pb;
  if (a->top1 != b->top1) return a->top1 < b->top1 ? -1 : 1;
  if (a->sqnr != b->sqnr) return a->sqnr < b->sqnr ? -1 : 1;
  return a->row < b->row ? -1 : a->row > b->row;
}

static tq_status rank(tq_context *ctx, tq_sensitivity_result *r) {
  rank_key *keys = calloc(r->n_rows ? r->n_rows : 1, sizeof *keys);
  r->ranking = calloc(r->n_rows ? r->n_rows : 1, sizeof *r->ranking);
  if (!keys || !r->ranking) {
    free(keys);
    return tq_error_nomem(ctx);
  }
  for (size_t i = 0; i < r->n_rows; i++) {
    const tq_config_result *c = &r->rows[i].result;
    keys[i].top1 = c->eval.top1;
    keys[i].sqnr = c->sqnr_db == c->sqnr_db ? c->sqnr_db : -1e300;
    keys[i].row = i;
  }
  qsort(keys, r->n_rows, sizeof *keys, by_loss);
  for (size_t i = 0; i < r->n_rows; i++) r->ranking[i] = keys[i].row;
  free(keys);
  return TQ_OK;
}

/* The rows, kind by kind, layer by layer, spec by spec. */
static tq_status make_rows(tq_context *ctx, tq_analysis *an,
                           const tq_sensitivity_opts *o,
                           const tq_map_kind *kinds, size_t n_kinds,
                           char **specs, size_t n_specs,
                           tq_sensitivity_result *r) {
  size_t *layers[TQ_MAP_KIND_COUNT] = {NULL}, n_layers[TQ_MAP_KIND_COUNT] = {0};
  size_t n_rows = 0;
  tq_status st = TQ_OK;
  for (size_t k = 0; k < n_kinds && st == TQ_OK; k++) {
    st = tq_analysis_layers(ctx, an, kinds[k], o->layers, o->n_layers,
                            &layers[k], &n_layers[k]);
    n_rows += n_layers[k] * n_specs;
  }
  if (st == TQ_OK && !(r->rows = calloc(n_rows ? n_rows : 1, sizeof *r->rows)))
    st = tq_error_nomem(ctx);
  for (size_t k = 0; k < n_kinds && st == TQ_OK; k++)
    for (size_t l = 0; l < n_layers[k] && st == TQ_OK; l++)
      for (size_t s = 0; s < n_specs && st == TQ_OK; s++)
        st = tq_an_row_fill(ctx, an, &r->rows[r->n_rows++], kinds[k],
                            tq_an_layer_id(an, layers[k][l]), specs[s],
                            &layers[k][l], 1);
  for (size_t k = 0; k < n_kinds; k++) free(layers[k]);
  return st;
}

tq_status tq_sensitivity(tq_context *ctx, tq_analysis *an,
                         const tq_sensitivity_opts *opts,
                         tq_sensitivity_result **out) {
  if (!an || !opts || !out || (opts->n_layers && !opts->layers) ||
      (opts->n_kinds && !opts->kinds) || opts->n_kinds > TQ_MAP_KIND_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_sensitivity: NULL argument or too many kinds");
  *out = NULL;
  static const tq_map_kind extr = TQ_MAP_EXTRINSIC;
  const tq_map_kind *kinds = opts->n_kinds ? opts->kinds : &extr;
  const size_t n_kinds = opts->n_kinds ? opts->n_kinds : 1;
  char **specs = NULL;
  size_t n_specs = 0;
  tq_sensitivity_result *r = calloc(1, sizeof *r);
  tq_status st = r ? TQ_OK : tq_error_nomem(ctx);
  if (st == TQ_OK)
    st = tq_an_expand_specs(ctx, opts->specs, opts->n_specs, &specs, &n_specs);
  if (st == TQ_OK)
    st = make_rows(ctx, an, opts, kinds, n_kinds, specs, n_specs, r);
  if (st == TQ_OK)
    st = tq_an_evaluate_rows(ctx, an, "sensitivity", r->rows, r->n_rows,
                             &r->float_result);
  if (st == TQ_OK) st = rank(ctx, r);
  tq_spec_list_free(specs, n_specs);
  if (st != TQ_OK) {
    tq_sensitivity_result_destroy(r);
    return st;
  }
  *out = r;
  return TQ_OK;
}
