/* Running a graph, with quantization hooks.
 *
 * A session plans a graph for given input shapes (shape arithmetic such as
 * Shape/Gather/Concat is evaluated then, once), attaches quantizer maps, and
 * runs batches. For each configuration of maps it resolves every node's
 * quantizers once and quantizes the weights once (the graph keeps the float
 * masters); each run then quantizes every node's outputs after the node
 * (extrinsic) and, for Conv/ConvTranspose/Gemm/MatMul, the arithmetic
 * inside (intrinsic). Maps can be swapped between runs without rebuilding.
 *
 * Ownership: the session borrows the graph and the maps (they must outlive
 * it, or the next tq_session_set_maps call); outputs of tq_session_run are
 * new tensors the caller destroys. Thread-safety: one thread per session;
 * several sessions may share a graph. */
#ifndef TENSORQUANT_SESSION_H
#define TENSORQUANT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "graph.h"
#include "qmap.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tq_session tq_session;

/* Checks the graph (tq_graph_validate) and creates a session for it. */
TQ_API tq_status tq_session_create(tq_context *ctx, const tq_graph *g,
                                   tq_session **out);
TQ_API void tq_session_destroy(tq_session *s);

/* The graph the session runs (borrowed). */
TQ_API const tq_graph *tq_session_graph(const tq_session *s);

/* Attaches the maps of a set (extrinsic, weights, intrinsic; NULL or
 * missing kinds: float). Resolves every node's quantizers and quantizes
 * the weights now. Call it again after changing the graph's initializers
 * (tq_graph_set_initializer): the session keeps quantized weights and
 * data derived from them (e.g. Winograd-transformed kernels). The session
 * borrows maps (the quantizers it resolved point into it): keep the set
 * alive and unchanged until the session is destroyed or given other maps. */
TQ_API tq_status tq_session_set_maps(tq_context *ctx, tq_session *s,
                                     const tq_qmap_set *maps);

/* Seed of stochastic rounding in this session (default 0). */
TQ_API void tq_session_set_seed(tq_session *s, uint64_t seed);

/* Plans the graph for these input shapes (also done by the first run with
 * new shapes): shapes of every value, load-time evaluation of shape
 * arithmetic, memory plan. Errors name the node and the shapes. */
TQ_API tq_status tq_session_plan(tq_context *ctx, tq_session *s,
                                 const tq_shape *input_shapes,
                                 size_t n_inputs);

/* Shape of a value after planning (NULL when unknown or not planned). */
TQ_API const tq_shape *tq_session_value_shape(const tq_session *s,
                                              const char *name);

/* Dtype of a value after planning (TQ_DTYPE_COUNT when unknown or not
 * planned). */
TQ_API tq_dtype tq_session_value_dtype(const tq_session *s, const char *name);

typedef struct tq_run_opts {
  /* Index of the batch's first sample in the whole data set: stochastic
   * rounding of sample k uses the random numbers of sample
   * sample_offset + k, so results do not depend on how data is batched. */
  uint64_t sample_offset;
} tq_run_opts;

/* Called after each node with each of its outputs (after extrinsic
 * quantization). Return nonzero to stop the run (TQ_ERR_INVALID_ARGUMENT
 * "stopped by observer"). */
typedef int (*tq_value_observer)(void *user, size_t node_index,
                                 const char *node_id, size_t output_index,
                                 const char *value_name,
                                 const tq_tensor *value);

TQ_API void tq_session_set_observer(tq_session *s, tq_value_observer fn,
                                    void *user);

/* Runs the graph: inputs in graph input order (n_inputs of them, each of
 * the dtype the graph declares for it); writes n_outputs new tensors (the
 * first n_outputs graph outputs, in order) to outputs. opts may be NULL.
 * An input of another dtype than declared, or of a shape that does not
 * fit the declared one, fails naming the input, what was given and what is
 * declared; on failure no output is written (all NULL). */
TQ_API tq_status tq_session_run(tq_context *ctx, tq_session *s,
                                const tq_tensor *const *inputs,
                                size_t n_inputs, tq_tensor **outputs,
                                size_t n_outputs, const tq_run_opts *opts);

/* Runs the graph on named inputs, giving named outputs: inputs[i] binds
 * the graph input in_names[i] (NULL or "": the first input no name binds;
 * in_names NULL: all in graph order), as tq_graph_bind_inputs; every input
 * must be given. outputs[i] receives a new tensor of the graph output
 * out_names[i] (NULL or "": the first output no name asks for; out_names
 * NULL: the first n_out outputs), which the caller destroys. Errors as
 * tq_graph_bind_inputs and tq_session_run; on failure every outputs[i] is
 * NULL. */
TQ_API tq_status tq_session_run_named(tq_context *ctx, tq_session *s,
                                      const char *const *in_names,
                                      const tq_tensor *const *inputs,
                                      size_t n_in, const char *const *out_names,
                                      tq_tensor **outputs, size_t n_out,
                                      const tq_run_opts *opts);

/* The quantized copy of input `input` of node `node` that the weights map
 * produced (after set_maps), or NULL when that input is not a quantized
 * weight. Owned by the session; valid until the next set_maps. */
TQ_API const tq_tensor *tq_session_quantized_weight(const tq_session *s,
                                                   size_t node, size_t input);

/* Which map entry applies to node i for a kind (after set_maps). */
TQ_API int tq_session_node_match(const tq_session *s, size_t node,
                                 tq_map_kind kind, tq_qmap_match *match);

/* The implementation that computed node `node` in the last run that ran
 * it, for operators that have several: a float Conv's entry of the
 * implementation list ("winograd2", "im2col", ... as named for
 * tq_context_set_conv_impls), "intrinsic" under intrinsic quantization.
 * NULL for other operators, nodes not run yet and node out of range. The
 * string is static (never freed). */
TQ_API const char *tq_session_node_impl(const tq_session *s, size_t node);

#ifdef __cplusplus
}
#endif
#endif
