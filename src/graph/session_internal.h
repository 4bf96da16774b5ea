/* Internal: the executor's state, shared with the trainer (src/train),
 * which plans through a session and then runs its own forward and
 * backward passes over the planned values. */
#ifndef TQ_GRAPH_SESSION_INTERNAL_H
#define TQ_GRAPH_SESSION_INTERNAL_H

#include "graph/graph_internal.h"
#include "graph/layers_internal.h"
#include "tensorquant/session.h"

/* Random streams: the kind of quantization in the top bits, the node and
 * the slot (output or input index) below, so no two hooks share numbers. */
#define STREAM(kind, node, slot) \
  (((uint64_t)(kind) << 60) | ((uint64_t)(node) << 8) | (uint64_t)(slot))
enum {
  STREAM_EXTRINSIC = 0,
  STREAM_WEIGHTS = 1,
  STREAM_INTRINSIC = 2,
  STREAM_GRADIENTS = 3, /* training: gradients map */
  STREAM_UPDATES = 4,   /* training: updates map */
};

typedef struct node_rt {
  const tq_op_desc *desc; /* the node's operator, resolved once */
  /* desc->parse's result for the node's attributes (NULL: none), parsed
   * when the session first plans the node; parsed: that happened. */
  void *params;
  int parsed;
  unsigned flags; /* desc->flags */
  int folded;     /* evaluated at plan time */
  tq_qmap_match match[TQ_MAP_KIND_COUNT];
  tq_tensor **wq;    /* per input: quantized weight (owned) or NULL */
  tq_op_cache cache; /* what the operator keeps between runs */
  int cacheable;     /* inputs after the first are constants (plan) */
  const char *impl;  /* the implementation its last run used, or NULL */
  /* Relu fusion (plan): the Relu node that is the only reader of this
   * TQ_OPF_POST_RELU node's output, or -1; on that Relu node, during a
   * run, relu_ready says its input already had Relu applied. */
  int relu_next;
  int relu_ready;
} node_rt;

/* A node's calibrated output range (tq_session_set_calibration). */
typedef struct tq_node_range {
  int has;
  double lo, hi;
} tq_node_range;

/* A free buffer, kept for reuse by later values and later runs. */
typedef struct pool_buf {
  void *data;
  size_t bytes;
} pool_buf;

struct tq_session {
  const tq_graph *g;
  node_rt *nodes;
  const tq_qmap_set *maps;
  uint64_t seed;
  /* plan */
  int planned;
  tq_shape *plan_shapes;
  tq_tensor **values;      /* per value */
  unsigned char *is_const; /* value known at plan time (no run-time data) */
  unsigned char *owned;    /* values[i] struct owned by the session */
  int *last_use;           /* last node reading the value; -1: none */
  unsigned char *is_output;
  unsigned char *lent; /* during a run: borrowed from the caller */
  pool_buf *pool;
  size_t n_pool, cap_pool;
  tq_value_observer observer;
  void *observer_user;
  tq_node_range *ranges; /* per node; NULL: no calibration */
  /* what map keys address (tq_map_view) and the graph's framework layers */
  int map_view;
  tq_layers *layers;
};

/* The weights-map bias rule (session_bias.c, docs/design.md §3): whether
 * input `input` of node is a bias that an int quantizer q leaves to the
 * rule; the static scale of the node's input (0: none, the bias stays
 * float); and the int32 bias itself (nothing when there is no static
 * scale). */
int tq_session_is_int_bias(const tq_session *s, size_t node, size_t input,
                           const tq_quantizer *q);
int tq_session_input_static_scale(const tq_session *s, size_t node,
                                  float *scale);
tq_status tq_session_quantize_bias(tq_context *ctx, tq_session *s, size_t node,
                                   size_t input, const tq_quantizer *q);

/* Most inputs or outputs of one node. */
#define MAX_IO 64

/* The call of node i as a run makes it: inputs and outputs (in and out:
 * arrays of MAX_IO the call points into), attributes, threads, seed and
 * stream, then the quantized weights in place of their float masters, the
 * node's intrinsic quantizers, sample_offset and, when allowed, the operator
 * cache. */
void tq_session_run_call(tq_session *s, tq_context *ctx, size_t i,
                         const tq_tensor **in, tq_tensor **out, tq_op_call *c,
                         uint64_t sample_offset);

/* Elements per sample of a batch tensor (numel / dim 0; numel when rank 0
 * or dim 0 is 0): stochastic rounding numbers sample k's elements from
 * k * per_sample, so results do not depend on batching. */
static inline size_t tq_per_sample(const tq_tensor *t) {
  if (t->shape.ndim >= 1 && t->shape.dims[0] > 0)
    return t->numel / (size_t)t->shape.dims[0];
  return t->numel;
}

/* The extrinsic quantizer of node i, or NULL. */
const tq_quantizer *tq_session_extrinsic_quantizer(const tq_session *s,
                                                   size_t node);

/* out = the extrinsic quantization of output k of node (its float values
 * in; in == out allowed); nothing when the node has no extrinsic
 * quantizer or the output is not float. */
tq_status tq_session_extrinsic(tq_context *ctx, tq_session *s, size_t node,
                               size_t k, const tq_tensor *in, tq_tensor *out,
                               uint64_t sample_offset);

/* tq_session_run starting at node `start`: nodes before it are not run;
 * every value they produce that a later node or a graph output reads
 * (tq_session_value_lent) is read from lent[v] (index: value; the tensor
 * is borrowed, never written, and must have the planned shape), so a
 * caller that computed the float prefix once can run many configurations
 * whose quantization starts at or after `start`. start 0 (lent may be
 * NULL) is tq_session_run. */
tq_status tq_session_run_from(tq_context *ctx, tq_session *s,
                              const tq_tensor *const *inputs, size_t n_inputs,
                              size_t start, const tq_tensor *const *lent,
                              tq_tensor **outputs, size_t n_outputs,
                              const tq_run_opts *opts);

/* tq_session_run_from giving the graph outputs out_index[0..n_outputs)
 * (NULL: the first n_outputs). */
tq_status tq_session_run_outputs(tq_context *ctx, tq_session *s,
                                 const tq_tensor *const *inputs,
                                 size_t n_inputs, size_t start,
                                 const tq_tensor *const *lent,
                                 const size_t *out_index, tq_tensor **outputs,
                                 size_t n_outputs, const tq_run_opts *opts);

/* Whether a run from node `start` borrows value v (after planning). */
int tq_session_value_lent(const tq_session *s, size_t v, size_t start);

/* The first node whose computation the current maps change (an extrinsic
 * or intrinsic quantizer, or quantized weights); n_nodes when none: the
 * outputs of all nodes before it are the float ones. */
size_t tq_session_first_quantized_node(const tq_session *s);

/* Quantizes input `input` of node `node` (an initializer) with q into the
 * node's quantized weights, random numbers from index `offset`. */
tq_status tq_session_quantize_weight(tq_context *ctx, tq_session *s,
                                     size_t node, size_t input,
                                     const tq_quantizer *q, uint64_t offset);

/* tq_session_set_maps under the layer view (session_layers.c): each node's
 * matches come from its layer's, and the layer's parameters are quantized
 * (the weights are already freed). */
tq_status tq_session_resolve_layer_maps(tq_context *ctx, tq_session *s,
                                        const tq_qmap_set *maps);

/* Frees every node's operator cache (the weights may change). */
void tq_session_clear_caches(tq_session *s);

/* Quantizes again every weight the weights map covers, from the current
 * float masters, with stochastic rounding at index offset `offset` (the
 * trainer passes a new offset per step). */
tq_status tq_session_requantize_weights(tq_context *ctx, tq_session *s,
                                        uint64_t offset);

#endif
