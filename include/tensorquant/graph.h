/* Model graphs: named values (inputs, weights, intermediate results) and
 * the nodes that compute them, built with the C API (with name scopes, as
 * `LeNet/Convolution_Block/Conv1`) or loaded from ONNX (onnx.h).
 *
 * A node's ID is its scope path plus its name; quantizer maps match it (and
 * the names of the weights it owns). Nodes are operators by ONNX op_type
 * ("Conv", "Relu", ...) with ONNX semantics and attribute names; tq_ops.md
 * lists them. Users may register their own operators (op.h); they get
 * extrinsic and weight quantization like built-in ones.
 *
 * Ownership: the graph copies every name, attribute and initializer passed
 * in. Thread-safety: build from one thread; once built, a graph may be read
 * (and run by several sessions) from any number of threads. */
#ifndef TENSORQUANT_GRAPH_H
#define TENSORQUANT_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tq_graph tq_graph;

typedef enum tq_attr_type {
  TQ_ATTR_INT = 0,
  TQ_ATTR_FLOAT,
  TQ_ATTR_STRING,
  TQ_ATTR_INTS,
  TQ_ATTR_FLOATS,
  TQ_ATTR_TENSOR,
  TQ_ATTR_TYPE_COUNT
} tq_attr_type;

/* One node attribute, as plain data (copied by tq_graph_add_node). */
typedef struct tq_attr {
  const char *name;
  tq_attr_type type;
  int64_t i;              /* TQ_ATTR_INT */
  float f;                /* TQ_ATTR_FLOAT */
  const char *s;          /* TQ_ATTR_STRING */
  const int64_t *ints;    /* TQ_ATTR_INTS, count values */
  const float *floats;    /* TQ_ATTR_FLOATS, count values */
  size_t count;
  const tq_tensor *t;     /* TQ_ATTR_TENSOR */
} tq_attr;

TQ_API tq_status tq_graph_create(tq_context *ctx, tq_graph **out);
TQ_API void tq_graph_destroy(tq_graph *g);

/* Name scopes: nodes added between push and pop get IDs "scope/name";
 * scopes nest. */
TQ_API tq_status tq_graph_push_scope(tq_context *ctx, tq_graph *g,
                                     const char *scope);
TQ_API tq_status tq_graph_pop_scope(tq_context *ctx, tq_graph *g);

/* A float32 graph input. Dims of -1 are dynamic (e.g. the batch
 * dimension). */
TQ_API tq_status tq_graph_add_input(tq_context *ctx, tq_graph *g,
                                    const char *name, const tq_shape *shape);

/* A graph input of any dtype (int64 token ids, a bool mask, ...): runs
 * must feed it tensors of exactly that dtype. */
TQ_API tq_status tq_graph_add_input_typed(tq_context *ctx, tq_graph *g,
                                          const char *name, tq_dtype dtype,
                                          const tq_shape *shape);

/* A constant value (weights, shape tensors): the graph keeps a copy. */
TQ_API tq_status tq_graph_add_initializer(tq_context *ctx, tq_graph *g,
                                          const char *name,
                                          const tq_tensor *value);

/* A node computing outputs from inputs. An input name "" is an absent
 * optional input. Value names must be defined before use (inputs,
 * initializers or earlier nodes' outputs) and each value is produced once.
 * The node's ID is the current scope path plus name (name may be "" or
 * NULL: then the first output's name is used). */
TQ_API tq_status tq_graph_add_node(tq_context *ctx, tq_graph *g,
                                   const char *op_type, const char *name,
                                   const char *const *inputs, size_t n_inputs,
                                   const char *const *outputs,
                                   size_t n_outputs, const tq_attr *attrs,
                                   size_t n_attrs);

/* Marks a value as a graph output (in order). */
TQ_API tq_status tq_graph_add_output(tq_context *ctx, tq_graph *g,
                                     const char *name);

/* ---- inspection ---------------------------------------------------------*/

TQ_API size_t tq_graph_node_count(const tq_graph *g);
TQ_API size_t tq_graph_input_count(const tq_graph *g);
TQ_API size_t tq_graph_output_count(const tq_graph *g);
TQ_API const char *tq_graph_input_name(const tq_graph *g, size_t i);
TQ_API const tq_shape *tq_graph_input_shape(const tq_graph *g, size_t i);
/* The dtype input i was declared with (TQ_DTYPE_COUNT when i is out of
 * range). */
TQ_API tq_dtype tq_graph_input_dtype(const tq_graph *g, size_t i);
TQ_API const char *tq_graph_output_name(const tq_graph *g, size_t i);

/* The index of the graph input (output) called name, or -1. */
TQ_API int tq_graph_input_index(const tq_graph *g, const char *name);
TQ_API int tq_graph_output_index(const tq_graph *g, const char *name);

/* Which graph input each of n arguments binds, by name: names[i] is a
 * graph input's name, or NULL or "" for a bare argument, which binds the
 * first input (in graph order) that no named argument and no earlier bare
 * one binds. names may be NULL (all bare). Writes the input indices to
 * index[0..n). Fails, naming the input and listing the model's inputs
 * with their dtypes and shapes, for a name the graph does not have
 * (TQ_ERR_NOT_FOUND), an input given twice, more arguments than inputs,
 * or an input left without one (TQ_ERR_INVALID_ARGUMENT). */
TQ_API tq_status tq_graph_bind_inputs(tq_context *ctx, const tq_graph *g,
                                      const char *const *names, size_t n,
                                      size_t *index);

/* The same for graph outputs, which may be left unbound: index[i] is the
 * output argument i names (bare: the first not named). */
TQ_API tq_status tq_graph_bind_outputs(tq_context *ctx, const tq_graph *g,
                                       const char *const *names, size_t n,
                                       size_t *index);

/* What a node is, as plain data; pointers owned by the graph. */
typedef struct tq_node_info {
  const char *id;      /* scope path + name */
  const char *op_type; /* "Conv" */
  size_t n_inputs, n_outputs;
  const char *const *inputs;  /* value names ("" = absent) */
  const char *const *outputs;
  size_t n_weights;           /* the weights this node owns (docs/design.md §3) */
  const char *const *weights; /* their initializer names */
} tq_node_info;

TQ_API tq_status tq_graph_node_info(const tq_graph *g, size_t i,
                                    tq_node_info *info);

/* The initializer called name, or NULL. Owned by the graph. */
TQ_API const tq_tensor *tq_graph_initializer(const tq_graph *g,
                                             const char *name);
TQ_API size_t tq_graph_initializer_count(const tq_graph *g);
TQ_API const char *tq_graph_initializer_name(const tq_graph *g, size_t i);

/* Replaces an initializer's values (same dtype and shape), e.g. to bake
 * quantized weights in before export. */
TQ_API tq_status tq_graph_set_initializer(tq_context *ctx, tq_graph *g,
                                          const char *name,
                                          const tq_tensor *value);

/* Checks the whole graph: every op known, every input defined, outputs
 * exist. On failure the message lists every problem (node ID, op type). */
TQ_API tq_status tq_graph_validate(tq_context *ctx, const tq_graph *g);

#ifdef __cplusplus
}
#endif
#endif
