/* Evaluating many quantization configurations of one classifier at once:
 * the engine under tq sweep, tq sensitivity and tq search.
 *
 * Work is shared between configurations: each batch is decoded once, the
 * float network runs once per batch, and each configuration runs only the
 * part of the network its maps change — from the first node they quantize
 * — reading the float values before it from the float run (kept in memory
 * up to a budget, in chunks of batches). Every configuration's result is
 * bit for bit what tq_evaluate gives for the same maps and seed.
 *
 * With a communicator (comm.h) of several ranks, batches are shared out
 * round-robin, every rank evaluates all configurations on its batches,
 * and the per-sample results are gathered so that every rank gets the
 * same totals, summed in sample order: identical to a single process.
 *
 * Ownership: nothing is kept after a call. Thread-safety: one call at a
 * time per context. */
#ifndef TENSORQUANT_ANALYSIS_H
#define TENSORQUANT_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "data.h"
#include "evaluate.h"
#include "export.h"
#include "graph.h"
#include "qmap.h"
#include "quantizer.h"
#include "session.h"
#include "stats.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tq_config_result {
  tq_eval_result eval; /* top-1, top-5, loss over the samples; seconds:
                          this configuration's own run time on this rank */
  /* Output signal-to-quantization-noise ratio against the float output,
   * 10 log10(sum f^2 / sum (q - f)^2) over all output elements: +inf when
   * the outputs are identical, NaN when an output is NaN. */
  double sqnr_db;
  /* Output elements that differ from float, over all samples. */
  uint64_t changed;
  /* First node the configuration changes (the shared float prefix ends
   * there); the node count when the maps change nothing. */
  size_t start_node;
} tq_config_result;

/* Called after each unit of work (one configuration on one batch, the
 * float run counting as one); return nonzero to stop
 * (TQ_ERR_INTERRUPTED). done/total count this rank's units. */
typedef int (*tq_config_progress)(void *user, size_t done, size_t total);

typedef struct tq_multi_eval_opts {
  int batch;           /* samples per run; 0: 256 */
  uint64_t seed;       /* stochastic rounding seed, as tq_session_set_seed */
  size_t memory_bytes; /* float values kept for reuse; 0: 1 GiB */
  int no_reuse;        /* 1: every configuration runs the whole network
                          (for measuring what reuse saves) */
  /* Stochastic-rounding sample offset of position 0 (position k uses
   * sample_offset + k): a slice evaluated alone numbers its samples as in
   * the whole run it is part of. */
  uint64_t sample_offset;
  const tq_comm *comm; /* NULL: one process */
  tq_config_progress progress;
  void *progress_user;
  /* The ranges of `static` activation specs (tq_session_set_calibration);
   * NULL: none. Borrowed for the call. */
  const struct tq_calibration *calibration;
} tq_multi_eval_opts;

/* Evaluates the float model and each of n_configs configurations
 * (configs[i] may be NULL: float) on samples idx[0..n) of ds (idx NULL:
 * the first n), as tq_evaluate would with those maps (sample position k
 * uses stochastic-rounding sample offset opts->sample_offset + k). float_result
 * (may be NULL) and results[0..n_configs) receive the results. opts may be
 * NULL. With a communicator, every rank must call with the same arguments. */
TQ_API tq_status tq_evaluate_configs(
    tq_context *ctx, const tq_graph *g, const tq_dataset *ds, const size_t *idx,
    size_t n, const tq_qmap_set *const *configs, size_t n_configs,
    const tq_multi_eval_opts *opts, tq_config_result *float_result,
    tq_config_result *results);

/* ---- spec lists and layers -------------------------------------------- */

/* Expands a spec list: specs separated by ';', each of which may hold
 * brace groups: {4..16} (a range), {16..4..2} (with a step, either
 * direction), {nearest,even} (alternatives); several groups give every
 * combination ("nearest,{4..8},{2,4}" is 10 specs). The token `auto` is
 * kept as it is (tq_spec_resolve_auto). Errors name the column. On
 * success *specs is an array of *count strings; free with
 * tq_spec_list_free. An empty list is an error. */
TQ_API tq_status tq_spec_list_expand(tq_context *ctx, const char *list,
                                     char ***specs, size_t *count);
TQ_API void tq_spec_list_free(char **specs, size_t count);

/* Whether a spec holds the field `auto`. */
TQ_API int tq_spec_has_auto(const char *spec);

/* Replaces the `auto` fractional bits of a fixed-point spec
 * ("nearest,8,auto,overflow=wrap") by those that cover max_abs with that
 * word width (tq_fixed_frac_bits; unsigned formats count one more integer
 * bit), writing the spec to out (cap bytes). A spec without `auto` is
 * copied. `auto` elsewhere, or in a non-fixed-point spec, is an error. */
TQ_API tq_status tq_spec_resolve_auto(tq_context *ctx, const char *spec,
                                      double max_abs, char *out, size_t cap);

/* Bits per value of a quantizer's format: fixed point w, float 1+e+m,
 * binary 1, ternary 2; 0 when the format has no fixed width (none,
 * logarithmic, sparse). */
TQ_API int tq_spec_bits(const tq_quantizer *q);

/* Whether node `node` can be quantized by a map of `kind` (s planned):
 * extrinsic: it computes a float value at run time; weights: it owns
 * float weights (docs/design.md §3); intrinsic: Conv, ConvTranspose, Gemm or
 * MatMul. Gradients and updates: as weights. */
TQ_API int tq_session_node_quantizable(const tq_session *s, size_t node,
                                       tq_map_kind kind);

/* The quantizable nodes (for kind) that map key `pattern` matches (a
 * substring of the ID or a weight name, or "re:" regex), in graph order,
 * into nodes[0..cap); *count gets how many matched (may exceed cap). */
TQ_API tq_status tq_session_match_layers(tq_context *ctx, const tq_session *s,
                                         tq_map_kind kind, const char *pattern,
                                         size_t *nodes, size_t cap,
                                         size_t *count);

/* A map key that matches the layer ID `id` and nothing else: "re:^id$"
 * with the regex characters escaped. Returns 0 when cap is too small. */
TQ_API int tq_exact_layer_key(const char *id, char *out, size_t cap);

/* Writes len bytes to path atomically (temporary file, then rename): on
 * failure no file at path is created or changed. For result files. */
TQ_API tq_status tq_write_file_atomic(tq_context *ctx, const char *path,
                                      const void *data, size_t len);

/* ---- analyses: sweep, sensitivity, search ------------------------------
 *
 * What tq sweep, tq sensitivity and tq search do, as library calls that any
 * front end (the tool, a language binding, a service) makes with a model,
 * a dataset and options, getting records back.
 *
 * A tq_analysis binds a classifier graph and a dataset with the options
 * every analysis shares (samples, batch, seed, MPI communicator, progress
 * callback). Each analysis takes its own options — layer patterns (map
 * keys, docs/maps.md), spec lists (tq_spec_list_expand) — and returns its
 * results as plain data, owned by the caller and freed with the matching
 * *_destroy. tq_*_document turns them into the tq-report/1 JSON document
 * (docs/reports.md) that tq prints with --json and writes with -o, and
 * that tq_report_write_html draws.
 *
 * `auto` fractional bits are resolved per layer from statistics
 * (stats.h) collected over the first `calib` samples when first needed;
 * they are kept by the analysis for later calls and go into its
 * documents (the reports draw their histograms).
 *
 * With a communicator, every rank must make the same calls with the same
 * arguments; every rank gets the same results (tq_evaluate_configs).
 * Ownership: the analysis keeps pointers to the graph and the dataset,
 * which must outlive it; it copies the strings of its options.
 * Thread-safety: one call at a time per analysis. */

typedef struct tq_analysis tq_analysis;

/* Progress of an analysis: stage names the work ("statistics", "sweep",
 * "sensitivity", "search: layers", "search: joint", "search:
 * validation"), done/total count its units on this rank (batches for the
 * statistics, as tq_config_progress otherwise). Return nonzero to stop:
 * the call fails with TQ_ERR_INTERRUPTED. */
typedef int (*tq_analysis_progress)(void *user, const char *stage, size_t done,
                                    size_t total);

/* Zero-initialise; zero fields take the defaults. */
typedef struct tq_analysis_opts {
  size_t limit;        /* evaluate the first `limit` samples; 0: all */
  int batch;           /* samples per run; 0: 256 */
  uint64_t seed;       /* stochastic rounding seed */
  size_t calib;        /* samples for the `auto` statistics; 0: 1000 (at
                          most the samples evaluated) */
  size_t memory_bytes; /* float values kept for reuse; 0: 1 GiB */
  int no_reuse;        /* 1: every configuration runs the whole network */
  const tq_comm *comm; /* NULL: one process */
  tq_analysis_progress progress; /* NULL: none */
  void *progress_user;
  /* What the documents say of the run: "model" (NULL: "model"), "split"
   * (NULL: "test"), "created_by" (NULL: "libtensorquant VERSION"). */
  const char *model, *split, *created_by;
  /* The ranges of `static` activation specs (calibrate.h); NULL: none.
   * Must outlive the analysis. */
  const struct tq_calibration *calibration;
} tq_analysis_opts;

/* Prepares analyses of classifier g (one input, class scores as the first
 * output, as tq_evaluate) on ds. opts may be NULL. Errors:
 * TQ_ERR_INVALID_ARGUMENT (NULL g, ds or out; a negative batch; a model
 * with several inputs), and those of planning g for ds's samples. On
 * success *out is freed with tq_analysis_destroy. */
TQ_API tq_status tq_analysis_create(tq_context *ctx, const tq_graph *g,
                                    const tq_dataset *ds,
                                    const tq_analysis_opts *opts,
                                    tq_analysis **out);
TQ_API void tq_analysis_destroy(tq_analysis *an);

/* Samples evaluated: the limit, or the dataset's size when smaller. */
TQ_API size_t tq_analysis_sample_count(const tq_analysis *an);

/* The short name of a kind in documents and tables: "extr", "weights",
 * "intr" ("?" for other kinds). */
TQ_API const char *tq_analysis_kind_name(tq_map_kind kind);

/* The layers an analysis quantizes for kind, in graph order: those that
 * any of patterns[0..n_patterns) selects (tq_session_match_layers), or,
 * with no patterns, every layer kind can quantize — for extr without the
 * final Softmax or LogSoftmax, whose probabilities the loss reads. A
 * pattern that selects nothing is TQ_ERR_NOT_FOUND, with a message that
 * lists the layers that exist; so is a model with no such layer. On
 * success *nodes (free with tq_free) holds *n >= 1 node indices. Other
 * kinds than those three are TQ_ERR_INVALID_ARGUMENT. */
TQ_API tq_status tq_analysis_layers(tq_context *ctx, const tq_analysis *an,
                                    tq_map_kind kind,
                                    const char *const *patterns,
                                    size_t n_patterns, size_t **nodes,
                                    size_t *n);

/* spec with `auto` resolved for node's values of kind
 * (tq_spec_resolve_auto with the largest magnitude of the layer's weights
 * for weights, of its outputs for extr and intr), into out (cap bytes).
 * Collects the statistics on first need. */
TQ_API tq_status tq_analysis_resolve(tq_context *ctx, tq_analysis *an,
                                     const char *spec, size_t node,
                                     tq_map_kind kind, char *out, size_t cap);

/* The statistics `auto` used, or NULL when nothing needed them yet. Owned
 * by the analysis. */
TQ_API const tq_stats *tq_analysis_stats(const tq_analysis *an);

/* One configuration of a sweep or a sensitivity run: some layers of one
 * kind quantized by one spec, every other layer float. */
typedef struct tq_analysis_row {
  tq_map_kind kind;
  const char *layers;           /* sweep: the group's pattern, or its layer ID;
                                   sensitivity: the layer ID */
  const char *spec;             /* the spec as listed (`auto` kept) */
  int bits;                     /* its word width (tq_spec_bits); 0: none */
  size_t n_layers;              /* the layers quantized: */
  const size_t *nodes;          /* their node indices, */
  const char *const *layer_ids; /* their IDs */
  const char *const *resolved;  /* and the spec each got (`auto` resolved) */
  tq_config_result result;
} tq_analysis_row;

/* tq sweep: every (layer group x spec) configuration. */
typedef struct tq_sweep_opts {
  tq_map_kind kind; /* extr (0), weights or intr */
  /* Layer patterns, one group each (all the layers a pattern selects are
   * quantized together); none: one group per layer tq_analysis_layers
   * gives. */
  const char *const *layers;
  size_t n_layers;
  const char *const *specs; /* spec lists, expanded and concatenated */
  size_t n_specs;
} tq_sweep_opts;

typedef struct tq_sweep_result {
  tq_map_kind kind;
  tq_config_result float_result;
  size_t n_groups, n_specs;
  size_t n_rows;         /* n_groups x n_specs: */
  tq_analysis_row *rows; /* group g, spec s at rows[g * n_specs + s] */
} tq_sweep_result;

/* Runs a sweep. On success *out is freed with tq_sweep_result_destroy.
 * Errors: those of spec lists (TQ_ERR_PARSE, naming the column), of
 * layer selection (TQ_ERR_NOT_FOUND), of evaluation; TQ_ERR_INTERRUPTED
 * when progress asked to stop. */
TQ_API tq_status tq_sweep(tq_context *ctx, tq_analysis *an,
                          const tq_sweep_opts *opts, tq_sweep_result **out);
TQ_API void tq_sweep_result_destroy(tq_sweep_result *r);

/* tq sensitivity: one layer at a time. */
typedef struct tq_sensitivity_opts {
  const tq_map_kind *kinds; /* each layer is tried for each kind; */
  size_t n_kinds;           /* none: extr */
  /* Patterns whose union gives the layers; none: tq_analysis_layers'
   * default. */
  const char *const *layers;
  size_t n_layers;
  const char *const *specs; /* spec lists */
  size_t n_specs;
} tq_sensitivity_opts;

typedef struct tq_sensitivity_result {
  tq_config_result float_result;
  size_t n_rows; /* kinds x layers x specs, in that order */
  tq_analysis_row *rows;
  /* Row indices, most sensitive first: by top-1 (lowest first), ties by
   * output SQNR (lowest first, NaN lowest of all), then by row. */
  size_t *ranking;
} tq_sensitivity_result;

/* Runs a sensitivity analysis; errors as tq_sweep. On success *out is
 * freed with tq_sensitivity_result_destroy. */
TQ_API tq_status tq_sensitivity(tq_context *ctx, tq_analysis *an,
                                const tq_sensitivity_opts *opts,
                                tq_sensitivity_result **out);
TQ_API void tq_sensitivity_result_destroy(tq_sensitivity_result *r);

/* tq search: per-layer formats with the fewest bits within an accuracy
 * budget (docs/analysis.md). */
typedef enum tq_search_cost {
  TQ_SEARCH_COST_SIZE = 0,   /* weights: parameters; extr/intr: activations */
  TQ_SEARCH_COST_PARAMS,     /* the layer's parameter count */
  TQ_SEARCH_COST_ACTIVATIONS /* its output elements per sample */
} tq_search_cost;

typedef struct tq_search_opts {
  double budget_pp; /* allowed top-1 loss, percentage points, in [0, 100] */
  double margin_pp; /* the loss is held to budget - margin (<= budget) */
  const tq_map_kind *kinds; /* none: extr, weights */
  size_t n_kinds;
  const char *const *layers; /* patterns (union); none: the default */
  size_t n_layers;
  /* "nearest" (NULL), "even" or "stochastic": fixed point at the widths
   * with `auto` fractional bits; "float": float,5,10,sat .. float,2,1,sat. */
  const char *family;
  const int *widths; /* fixed-point word widths in [2, 32], any order;
                        none: 16,12,10,8,7,6,5,4,3,2 */
  size_t n_widths;
  tq_search_cost cost;
  /* Held-out samples at the end of the run; 0: half. The search works on
   * the others. */
  size_t validation;
  /* A search over formats (n_formats > 0; family and widths then unset):
   * every knob's candidates are these specs (`auto` allowed), ordered by
   * cost, bits per element with the scale overhead (tq_quantizer_bits:
   * MXFP4 4.25); of equal costs the first listed is kept. */
  const char *const *formats;
  size_t n_formats;
} tq_search_opts;

/* The candidate list of a preset for tq_search_opts formats, as a spec
 * list (tq_spec_list_expand): "mx" (mxfp8e4m3, mxfp6e3m2, mxfp6e2m3,
 * mxfp4), "int" (int,8 and int,6 per channel, int,4 in blocks of 32,
 * int,4 per channel), "mixed" (int,8 per channel, mxfp8e4m3, mxfp6e2m3,
 * nvfp4, mxfp4); NULL for other names. Static data. */
TQ_API const char *tq_search_format_preset(const char *name);

/* A knob: one layer and kind, with its candidate formats. */
typedef struct tq_search_layer {
  tq_map_kind kind;
  size_t node;
  const char *layer;             /* its ID */
  double weight;                 /* what one bit costs (the cost) */
  size_t n_candidates;           /* widest first: */
  const char *const *candidates; /* resolved specs */
  const int *bits;               /* their widths */
  const double *alone_loss_pp;   /* top-1 loss alone, on the search slice */
  size_t chosen;                 /* the candidate the result takes */
  const double *cost_bits; /* bits per element of each candidate, what
                              the cost counts: bits, or for formats
                              tq_quantizer_bits (bits: rounded up) */
} tq_search_layer;

/* An allocation evaluated jointly. */
typedef struct tq_search_step {
  double gamma;      /* predicted loss <= gamma x (budget - margin); < 0: every
                        layer at its widest */
  double total_bits; /* sum of bits x weight */
  const size_t *positions;             /* candidate index per knob */
  tq_config_result search, validation; /* on each slice */
  int accepted;                        /* within the budget on both slices */
  int pareto; /* on the accuracy/size front of the steps: no other step
                 costs as little or less with validation top-1 as high or
                 higher, one of them strictly */
} tq_search_step;

typedef struct tq_search_result {
  double budget_pp, margin_pp;
  const char *family; /* "nearest", "even", "stochastic", "float";
                         "formats" for a search over formats */
  tq_search_cost cost;
  int met; /* an allocation met the budget: the cheapest such
              is chosen; else the most accurate one */
  size_t search_n, validation_n;
  tq_config_result float_search, float_validation;
  tq_config_result float_all; /* top-1, top-5, loss over both slices */
  double float_bits;          /* sum of 32 x weight */
  size_t n_layers;
  tq_search_layer *layers;
  size_t n_steps;
  tq_search_step *steps;
  size_t chosen; /* the step chosen */
} tq_search_result;

/* Runs a search. Not meeting the budget is no error (met == 0). Errors:
 * TQ_ERR_INVALID_ARGUMENT (bad options, fewer than 2 samples, no sample
 * left to search on), and those of tq_sweep. On success *out is freed
 * with tq_search_result_destroy. */
TQ_API tq_status tq_search(tq_context *ctx, tq_analysis *an,
                           const tq_search_opts *opts, tq_search_result **out);
TQ_API void tq_search_result_destroy(tq_search_result *r);

/* "size", "params" or "activations" (NULL for other values). */
TQ_API const char *tq_search_cost_name(tq_search_cost cost);

/* ---- result documents --------------------------------------------------
 * The tq-report/1 document of a result (docs/reports.md), as JSON text
 * with one-space indentation and every number exact (17 digits): the
 * header from the analysis' options, "float", the result's parts, and the
 * statistics `auto` used. On success *json is freed with tq_free. */
TQ_API tq_status tq_sweep_document(tq_context *ctx, const tq_analysis *an,
                                   const tq_sweep_result *r, char **json);
TQ_API tq_status tq_sensitivity_document(tq_context *ctx, const tq_analysis *an,
                                         const tq_sensitivity_result *r,
                                         char **json);
TQ_API tq_status tq_search_document(tq_context *ctx, const tq_analysis *an,
                                    const tq_search_result *r, char **json);

/* The chosen formats as a sectioned map file ({"extrinsic": {...},
 * "weights": {...}}, exact "re:^ID$" keys; docs/maps.md) that tq eval,
 * tq run and tq train take with --map: JSON text indented by two spaces,
 * ending in a newline. On success *json is freed with tq_free. */
TQ_API tq_status tq_search_map(tq_context *ctx, const tq_search_result *r,
                               char **json);

#ifdef __cplusplus
}
#endif
#endif
