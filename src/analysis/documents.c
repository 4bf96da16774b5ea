/* The tq-report/1 documents of sweeps, sensitivity runs and searches, and
 * the search's map file (analysis.h, docs/reports.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis_internal.h"
#include "analysis/stats_internal.h"
#include "core/error.h"
#include "tensorquant/report.h"

static json_t *number_or_null(double v) {
  return isfinite(v) ? json_real(v) : json_null();
}

json_t *tq_an_doc_header(const tq_analysis *an, const char *command,
                         const char *title, const tq_config_result *flt) {
  json_t *doc = json_object();
  json_object_set_new(doc, "schema", json_string(TQ_REPORT_SCHEMA));
  json_object_set_new(doc, "command", json_string(command));
  json_object_set_new(doc, "title", json_string(title));
  json_object_set_new(doc, "created_by", json_string(an->created_by));
  json_object_set_new(doc, "model", json_string(an->model));
  json_object_set_new(doc, "data", json_string(tq_dataset_name(an->ds)));
  json_object_set_new(doc, "split", json_string(an->split));
  json_object_set_new(doc, "n", json_integer((json_int_t)an->n));
  json_object_set_new(
      doc, "float",
      json_pack("{s:f, s:f, s:f}", "top1", flt->eval.top1, "top5",
                flt->eval.top5, "loss", flt->eval.loss));
  return doc;
}

tq_status tq_an_doc_finish(tq_context *ctx, const tq_analysis *an, json_t *doc,
                           char **json) {
  *json = NULL;
  /* The statistics `auto` used go along: the report draws their
   * histograms. */
  if (doc && an->stats && !json_object_get(doc, "stats"))
    json_object_set_new(doc, "stats", tq_stats_json_object(an->stats));
  char *text =
      doc ? json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(doc);
  if (!text) return tq_error_nomem(ctx);
  *json = text; /* jansson allocates with malloc: tq_free frees it */
  return TQ_OK;
}

/* One "results" row. */
static json_t *result_row(const tq_analysis_row *row,
                          const tq_config_result *flt) {
  const tq_config_result *r = &row->result;
  json_t *o = json_object();
  json_object_set_new(o, "what", json_string(tq_analysis_kind_name(row->kind)));
  json_object_set_new(o, "layers", json_string(row->layers));
  json_object_set_new(o, "spec", json_string(row->spec));
  json_object_set_new(o, "bits",
                      row->bits > 0 ? json_integer(row->bits) : json_null());
  json_object_set_new(o, "top1", json_real(r->eval.top1));
  json_object_set_new(o, "top5", json_real(r->eval.top5));
  json_object_set_new(o, "loss", number_or_null(r->eval.loss));
  json_object_set_new(o, "delta_top1",
                      json_real(100.0 * (r->eval.top1 - flt->eval.top1)));
  json_object_set_new(o, "sqnr_db", number_or_null(r->sqnr_db));
  return o;
}

tq_status tq_sweep_document(tq_context *ctx, const tq_analysis *an,
                            const tq_sweep_result *r, char **json) {
  if (!an || !r || !json)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_sweep_document: NULL argument");
  char title[512];
  snprintf(title, sizeof title, "Sweep of %s (%s)", an->model,
           tq_analysis_kind_name(r->kind));
  json_t *doc = tq_an_doc_header(an, "sweep", title, &r->float_result);
  json_t *rows = json_array();
  json_object_set_new(doc, "results", rows);
  for (size_t i = 0; i < r->n_rows; i++) {
    const tq_analysis_row *row = &r->rows[i];
    json_t *o = result_row(row, &r->float_result);
    /* the layers and the exact specs they got (`auto` resolved) */
    json_t *resolved = json_object();
    for (size_t k = 0; k < row->n_layers; k++)
      json_object_set_new(resolved, row->layer_ids[k],
                          json_string(row->resolved[k]));
    json_object_set_new(o, "resolved", resolved);
    json_array_append_new(rows, o);
  }
  return tq_an_doc_finish(ctx, an, doc, json);
}

tq_status tq_sensitivity_document(tq_context *ctx, const tq_analysis *an,
                                  const tq_sensitivity_result *r, char **json) {
  if (!an || !r || !json)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_sensitivity_document: NULL argument");
  const tq_config_result *flt = &r->float_result;
  char title[512];
  snprintf(title, sizeof title, "Layer sensitivity of %s", an->model);
  json_t *doc = tq_an_doc_header(an, "sensitivity", title, flt);
  json_t *results = json_array(), *ranking = json_array();
  json_object_set_new(doc, "results", results);
  json_object_set_new(doc, "sensitivity", ranking);
  for (size_t i = 0; i < r->n_rows; i++)
    json_array_append_new(results, result_row(&r->rows[i], flt));
  for (size_t i = 0; i < r->n_rows; i++) {
    const tq_analysis_row *row = &r->rows[r->ranking[i]];
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:f}", "rank",
                          (json_int_t)(i + 1), "layer", row->layers, "what",
                          tq_analysis_kind_name(row->kind), "spec", row->spec,
                          "delta_top1",
                          100.0 * (row->result.eval.top1 - flt->eval.top1));
    json_object_set_new(o, "sqnr_db", number_or_null(row->result.sqnr_db));
    json_array_append_new(ranking, o);
  }
  return tq_an_doc_finish(ctx, an, doc, json);
}

static double loss_pp(const tq_config_result *flt, const tq_config_result *r) {
  return 100.0 * (flt->eval.top1 - r->eval.top1);
}

/* The chosen formats as a sectioned map: {"extrinsic": {key: spec}, ...}. */
static json_t *map_json(const tq_search_result *r) {
  json_t *m = json_object();
  for (size_t k = 0; k < r->n_layers; k++) {
    const tq_search_layer *l = &r->layers[k];
    const char *name = tq_map_kind_name(l->kind);
    json_t *sec = json_object_get(m, name);
    if (!sec) {
      sec = json_object();
      json_object_set_new(m, name, sec);
    }
    char key[1024];
    tq_exact_layer_key(l->layer, key, sizeof key);
    json_object_set_new(sec, key, json_string(l->candidates[l->chosen]));
  }
  return m;
}

static json_t *search_layers(const tq_search_result *r) {
  json_t *layers = json_array();
  for (size_t k = 0; k < r->n_layers; k++) {
    const tq_search_layer *l = &r->layers[k];
    const size_t p = l->chosen;
    /* bits per element: an integer for fixed widths, 4.25 for MXFP4 */
    const double b = l->cost_bits ? l->cost_bits[p] : l->bits[p];
    json_array_append_new(
        layers,
        json_pack("{s:s, s:s, s:s, s:o, s:f, s:f}", "layer", l->layer, "what",
                  tq_analysis_kind_name(l->kind), "spec", l->candidates[p],
                  "bits",
                  b == floor(b) ? json_integer((json_int_t)b) : json_real(b),
                  "size", l->weight, "alone_loss_pp", l->alone_loss_pp[p]));
  }
  return layers;
}

static json_t *search_trace(const tq_search_result *r) {
  json_t *trace = json_array();
  for (size_t i = 0; i < r->n_steps; i++) {
    const tq_search_step *st = &r->steps[i];
    char note[96];
    if (st->gamma < 0)
      snprintf(note, sizeof note, "every layer at its widest");
    else
      snprintf(note, sizeof note, "predicted loss <= %.2f x budget", st->gamma);
    json_array_append_new(
        trace, json_pack("{s:I, s:f, s:f, s:f, s:f, s:b, s:b, s:s}", "step",
                         (json_int_t)i, "total_bits", st->total_bits, "top1",
                         st->validation.eval.top1, "search_top1",
                         st->search.eval.top1, "gamma", st->gamma, "accepted",
                         st->accepted, "pareto", st->pareto, "note", note));
  }
  return trace;
}

tq_status tq_search_document(tq_context *ctx, const tq_analysis *an,
                             const tq_search_result *r, char **json) {
  if (!an || !r || !json || !r->n_steps)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_search_document: NULL argument or no result");
  const tq_search_step *pick = &r->steps[r->chosen];
  const tq_config_result *fs = &r->float_search, *fv = &r->float_validation;
  char title[512];
  snprintf(title, sizeof title, "Bit-width search for %s", an->model);
  json_t *doc = tq_an_doc_header(an, "search", title, &r->float_all);
  json_t *s = json_object();
  json_object_set_new(doc, "search", s);
  json_object_set_new(s, "budget_pp", json_real(r->budget_pp));
  json_object_set_new(s, "margin_pp", json_real(r->margin_pp));
  json_object_set_new(s, "cost", json_string(tq_search_cost_name(r->cost)));
  json_object_set_new(s, "family", json_string(r->family));
  json_object_set_new(s, "met", json_boolean(r->met));
  json_object_set_new(s, "search_n", json_integer((json_int_t)r->search_n));
  json_object_set_new(s, "validation_n",
                      json_integer((json_int_t)r->validation_n));
  json_object_set_new(s, "float_top1", json_real(fv->eval.top1));
  json_object_set_new(s, "top1", json_real(pick->validation.eval.top1));
  json_object_set_new(s, "loss_pp", json_real(loss_pp(fv, &pick->validation)));
  json_object_set_new(s, "search_float_top1", json_real(fs->eval.top1));
  json_object_set_new(s, "search_top1", json_real(pick->search.eval.top1));
  json_object_set_new(s, "search_loss_pp",
                      json_real(loss_pp(fs, &pick->search)));
  json_object_set_new(s, "total_bits", json_real(pick->total_bits));
  json_object_set_new(s, "float_bits", json_real(r->float_bits));
  json_object_set_new(
      s, "compression",
      json_real(pick->total_bits > 0 ? r->float_bits / pick->total_bits : 0));
  json_object_set_new(s, "layers", search_layers(r));
  json_object_set_new(s, "trace", search_trace(r));
  json_object_set_new(s, "map", map_json(r));
  return tq_an_doc_finish(ctx, an, doc, json);
}

tq_status tq_search_map(tq_context *ctx, const tq_search_result *r,
                        char **json) {
  if (!r || !json)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_search_map: NULL argument");
  *json = NULL;
  json_t *map = map_json(r);
  char *text = map ? json_dumps(map, JSON_INDENT(2)) : NULL;
  json_decref(map);
  const size_t len = text ? strlen(text) : 0;
  char *file = text ? realloc(text, len + 2) : NULL;
  if (!file) {
    free(text);
    return tq_error_nomem(ctx);
  }
  /* a file ends with a newline */
  file[len] = '\n';
  file[len + 1] = 0;
  *json = file;
  return TQ_OK;
}
