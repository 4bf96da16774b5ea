/* Internal to the tq tool: loading a model and planning it for a batch. */
#ifndef TQ_TOOL_MODEL_UTIL_H
#define TQ_TOOL_MODEL_UTIL_H

#include "tensorquant/onnx.h"
#include "tq.h"

/* Loads path and creates a session; prints errors. Returns 1 on success. */
int tq_cli_open_model(const char *cmd, tq_context *ctx, const char *path,
                      tq_graph **g, tq_session **s);

/* tq_cli_open_model, then the maps given (tq_cli_maps_load) applied to
 * the session with the seed: the start of every command that runs a model
 * under maps. *set (NULL when no maps) belongs to the caller. Prints
 * errors; returns 1 on success. */
int tq_cli_open_quantized(const char *cmd, tq_context *ctx, const char *path,
                          const tq_cli_maps *maps, uint64_t seed, tq_graph **g,
                          tq_session **s, tq_qmap_set **set);

/* A context using `threads` threads (0: the default) and the kernel set
 * the environment's TQ_KERNELS names (default: the best), or NULL (the
 * error printed). */
tq_context *tq_cli_context(long threads);

/* ctx's float convolution implementations: --conv-impl's list (NULL:
 * the default), then --fast-conv (fast: winograd4 first). Prints errors;
 * returns 1 on success. */
int tq_cli_conv_impls(const char *cmd, tq_context *ctx, const char *list,
                      int fast);

/* A model under its maps and a dataset: what tq eval and tq stats run. */
typedef struct tq_cli_model_data {
  tq_context *ctx;
  tq_graph *g;
  tq_session *s;
  tq_qmap_set *set; /* NULL: no maps given */
  tq_dataset *ds;
  size_t n; /* samples to use (--limit) */
} tq_cli_model_data;

/* Creates the context (d's threads; SIGINT caught so that long runs stop
 * cleanly), opens path under the maps with d's seed, and d's data. Prints
 * errors; returns 1 on success. Close md either way. */
int tq_cli_model_data_open(const char *cmd, const char *path,
                           const tq_cli_maps *maps, const tq_cli_data *d,
                           tq_cli_model_data *md);
void tq_cli_model_data_close(tq_cli_model_data *md);

/* The graph's input shapes with dynamic dims set to batch (first dim) or 1;
 * shapes must hold tq_graph_input_count(g) entries (at most 16). */
void tq_cli_input_shapes(const tq_graph *g, int64_t batch, tq_shape *shapes);

/* Multiply-accumulates of node i per batch, from planned shapes (0 for
 * nodes without products). */
double tq_cli_node_macs(const tq_graph *g, const tq_session *s, size_t i);

#endif
