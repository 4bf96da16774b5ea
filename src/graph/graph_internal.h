/* Internal: the graph's data structures, shared by the builder, the
 * executor and the ONNX importer/exporter. */
#ifndef TQ_GRAPH_INTERNAL_H
#define TQ_GRAPH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ops/op_internal.h"
#include "tensorquant/graph.h"

typedef struct tq_value {
  char *name;
  int producer;    /* node index, or -1 for inputs and initializers */
  int input_index; /* index among graph inputs, or -1 */
  int init_index;  /* index among initializers, or -1 */
} tq_value;

typedef struct tq_node {
  char *id; /* scope path + name */
  char *op_type;
  char *domain; /* NULL: the default ONNX domain; else "com.microsoft" */
  int *in;      /* value indices; -1 = absent optional input */
  size_t n_in;
  int *out;
  size_t n_out;
  char **in_names, **out_names; /* for tq_node_info */
  tq_attr_store *attrs;
  size_t n_attrs;
  char **weight_names; /* filled by tq_graph_weights_of (validate) */
  size_t n_weights;
} tq_node;

struct tq_graph {
  tq_value *values;
  size_t n_values, cap_values;
  tq_node *nodes;
  size_t n_nodes, cap_nodes;
  int *inputs; /* value indices */
  tq_shape *input_shapes;
  tq_dtype *input_dtypes;
  size_t n_inputs;
  int *outputs;
  size_t n_outputs;
  tq_tensor **inits;
  int *init_values; /* value index of each initializer */
  size_t n_inits;
  char **scopes;
  size_t n_scopes;
  tq_op_desc **user_ops; /* user-defined operators (id TQ_OP_USER) */
  size_t n_user_ops;
  int64_t opset; /* default-domain opset (17 for built graphs) */
  char *name;    /* graph name (ONNX export) */
};

/* Value index of a name, or -1. */
int tq_graph_find_value(const tq_graph *g, const char *name);

/* Sets the default-domain opset the graph's nodes follow (ONNX import). */
void tq_graph_set_opset(tq_graph *g, int64_t opset);

/* The node's attributes (owned by the graph). */
void tq_graph_node_attrs(const tq_graph *g, size_t node,
                         const tq_attr_store **attrs, size_t *n);

/* The operator a node's op_type names: a user op registered on g, else the
 * built-in one of the default domain at the graph's opset; NULL when
 * unknown. domain NULL or "": the default domain; another domain
 * (com.microsoft) has built-in operators only, at its opset 1. */
const tq_op_desc *tq_graph_lookup_op(const tq_graph *g, const char *domain,
                                     const char *op_type);

/* The node's domain (NULL: the default one). */
const char *tq_graph_node_domain(const tq_graph *g, size_t node);

/* tq_graph_add_node for a node of another operator domain (domain NULL or
 * "": the default one). */
tq_status tq_graph_add_node_in(tq_context *ctx, tq_graph *g, const char *domain,
                               const char *op_type, const char *name,
                               const char *const *inputs, size_t n_inputs,
                               const char *const *outputs, size_t n_outputs,
                               const tq_attr *attrs, size_t n_attrs);

#endif
