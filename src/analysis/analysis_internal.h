/* Internal: the analysis handle (analysis.h) and what sweep, sensitivity,
 * search and their documents share. */
#ifndef TQ_ANALYSIS_ANALYSIS_INTERNAL_H
#define TQ_ANALYSIS_ANALYSIS_INTERNAL_H

#include <jansson.h>

#include "tensorquant/analysis.h"

/* Room for a spec with `auto` resolved (specs are at most 512 bytes). */
enum { TQ_AN_SPEC_CAP = 600 };

struct tq_analysis {
  const tq_graph *g;
  const tq_dataset *ds;
  tq_session *s;   /* planned for one sample: layer queries, statistics */
  tq_stats *stats; /* for `auto`, collected on first need */
  size_t n;        /* samples evaluated */
  size_t calib;
  tq_multi_eval_opts eval; /* batch, seed, memory, reuse, communicator */
  tq_analysis_progress progress;
  void *progress_user;
  const char *stage; /* what progress reports */
  char *model, *split, *created_by;
};

/* The ID of node i. */
const char *tq_an_layer_id(const tq_analysis *an, size_t node);

/* Every spec of the spec lists, expanded, concatenated and checked to
 * parse (with `auto` standing for some fraction). Free *specs with
 * tq_spec_list_free. */
tq_status tq_an_expand_specs(tq_context *ctx, const char *const *lists,
                             size_t n_lists, char ***specs, size_t *n);

/* Word width of a spec, `auto` allowed (0 when none). */
int tq_an_spec_bits(const char *spec);

/* Adds "exact key of node -> spec" to the map of kind in set. */
tq_status tq_an_add_layer(tq_context *ctx, const tq_analysis *an,
                          tq_qmap_set *set, tq_map_kind kind, size_t node,
                          const char *spec);

/* A set holding one map of kind: each nodes[k] -> specs[k]. */
tq_status tq_an_config(tq_context *ctx, const tq_analysis *an, tq_map_kind kind,
                       const size_t *nodes, const char *const *specs, size_t n,
                       tq_qmap_set **out);

/* tq_evaluate_configs with the analysis' options on samples idx[0..n)
 * (idx NULL: the first an->n), position k rounding stochastically as
 * sample offset + k; progress is reported as `stage`. */
tq_status tq_an_evaluate(tq_context *ctx, tq_analysis *an, const char *stage,
                         const size_t *idx, size_t n, uint64_t offset,
                         const tq_qmap_set *const *configs, size_t n_configs,
                         tq_config_result *float_result,
                         tq_config_result *results);

/* Rows of a sweep or sensitivity result: fills row from the node list
 * (resolving `auto` for each), its label and spec; frees what it holds. */
tq_status tq_an_row_fill(tq_context *ctx, tq_analysis *an, tq_analysis_row *row,
                         tq_map_kind kind, const char *label, const char *spec,
                         const size_t *nodes, size_t n_nodes);
void tq_an_row_free(tq_analysis_row *row);

/* Evaluates the configurations of rows[0..n) (the layers of each
 * quantized with their resolved specs) over the analysis' samples, into
 * the rows' results and *float_result. */
tq_status tq_an_evaluate_rows(tq_context *ctx, tq_analysis *an,
                              const char *stage, tq_analysis_row *rows,
                              size_t n, tq_config_result *float_result);

/* Documents: the header (schema, command, title, model, data, split, n)
 * and "float"; then the finish adds the statistics `auto` used, dumps the
 * text and releases doc. */
json_t *tq_an_doc_header(const tq_analysis *an, const char *command,
                         const char *title, const tq_config_result *flt);
tq_status tq_an_doc_finish(tq_context *ctx, const tq_analysis *an, json_t *doc,
                           char **json);

#endif
