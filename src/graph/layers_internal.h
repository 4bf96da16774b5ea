/* Internal: framework layers of a graph (docs/maps.md, "Layers of imported
 * models"). An exporter turns one framework layer (a Keras Dense with its
 * activation, a PyTorch Conv2d) into several ONNX nodes; grouping them back
 * lets a map key mean the layer: its final output, all its parameters, its
 * Conv/Gemm/MatMul. The grouping reads only node names, operator types and
 * the graph's topology, so it works on any imported or built graph. */
#ifndef TQ_GRAPH_LAYERS_INTERNAL_H
#define TQ_GRAPH_LAYERS_INTERNAL_H

#include <stddef.h>

#include "graph/graph_internal.h"

/* A parameter of a layer: input `input` of node `node`, an initializer. */
typedef struct tq_layer_param {
  size_t node, input;
  const char *name; /* the initializer's name (owned by the graph) */
} tq_layer_param;

typedef struct tq_layer {
  char *id;      /* the framework's name of the layer: its scope */
  size_t *nodes; /* member nodes in graph order */
  size_t n_nodes;
  size_t output;          /* the member whose outputs are the layer's outputs */
  tq_layer_param *params; /* float initializers its nodes consume */
  const char **param_names; /* the same names as one array */
  size_t n_params;
  /* Names keys are matched against besides the ID: the modules owning
   * PyTorch-style parameters ("layer1.0.conv1" of "layer1.0.conv1.weight").
   * TensorFlow's parameter names ("LeNet/Conv1/Conv2D/ReadVariableOp:0")
   * name framework ops, not layers, and are left out. */
  const char **owners; /* owned strings */
  size_t n_owners;
} tq_layer;

typedef struct tq_layers {
  tq_layer *layers;
  size_t n_layers;
  /* per node: index of its layer, or -1 for layout nodes (Transpose,
   * Reshape, ... that exporters insert), which belong to no layer */
  int *node_layer;
} tq_layers;

/* Groups g's nodes into layers. g must be validated (weight names known).
 * Free with tq_layers_destroy. */
tq_status tq_layers_build(tq_context *ctx, const tq_graph *g, tq_layers **out);
void tq_layers_destroy(tq_layers *l);

/* Whether input k of node n is one of the layer's parameters. */
int tq_layer_has_param(const tq_layer *layer, size_t node, size_t input);

#endif
