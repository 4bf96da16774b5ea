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
 * float weights (DESIGN.md 3); intrinsic: Conv, ConvTranspose, Gemm or
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

#ifdef __cplusplus
}
#endif
#endif
