/* Framework layers of a graph: exporters' node groups folded back into the
 * layers users name in their maps (rules: docs/maps.md, "Layers of imported
 * models"). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "graph/layers_internal.h"

/* Nodes that only move data into another layout; exporters insert them
 * (tf2onnx's NHWC<->NCHW Transposes, PyTorch's flattening Reshapes) inside
 * whatever scope is at hand, even the first layer's, so they belong to no
 * layer: a layer key must not quantize the model input through them. */
static int is_layout_op(const char *op) {
  static const char *const ops[] = {
      "Transpose", "Reshape", "Squeeze",      "Unsqueeze",   "Flatten",
      "Identity",  "Cast",    "Shape",        "Constant",    "ConstantOfShape",
      "Expand",    "Size",    "Gather",       "Concat",      "Slice",
      "Range",     "Split",   "DepthToSpace", "SpaceToDepth"};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(op, ops[i])) return 1;
  return 0;
}

/* Gather, Concat and Slice are layout work on shapes, but also real layers
 * (embeddings, skip concatenations): only when their outputs are computed
 * from no graph input do they belong to no layer. Checked by the caller. */
static int is_data_dependent_layout(const char *op) {
  return !strcmp(op, "Gather") || !strcmp(op, "Concat") ||
         !strcmp(op, "Slice") || !strcmp(op, "Split");
}

/* The operation that makes a layer: the rest of it follows this node. */
static int is_anchor_op(const char *op) {
  return !strcmp(op, "Conv") || !strcmp(op, "ConvTranspose") ||
         !strcmp(op, "Gemm") || !strcmp(op, "MatMul");
}

/* Operators that finish a layer when they follow it (its activation or
 * normalization), in the exporters' own scope or none. */
static int is_follower_op(const char *op) {
  static const char *const ops[] = {
      "Relu",       "LeakyRelu",   "PRelu",
      "Sigmoid",    "Tanh",        "Elu",
      "Selu",       "Celu",        "Softplus",
      "Softsign",   "HardSigmoid", "HardSwish",
      "Clip",       "Gelu",        "Softmax",
      "LogSoftmax", "Mish",        "BatchNormalization"};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(op, ops[i])) return 1;
  return 0;
}

/* Last scope segments that name a framework operation, not a layer: the
 * TensorFlow ops tf2onnx names nodes after, Keras 3's and PyTorch's. The
 * node's own ONNX op type counts too (PyTorch's "/conv1/Conv"). */
static int is_op_word(const char *word, size_t len, const char *op_type) {
  static const char *const words[] = {"Conv2D",
                                      "Conv2DBackpropInput",
                                      "DepthwiseConv2dNative",
                                      "convolution",
                                      "depthwise",
                                      "BiasAdd",
                                      "MatMul",
                                      "BatchMatMulV2",
                                      "FusedBatchNormV3",
                                      "FusedBatchNorm",
                                      "batchnorm",
                                      "AddV2",
                                      "Add",
                                      "Mul",
                                      "Sub",
                                      "RealDiv",
                                      "Rsqrt",
                                      "Relu",
                                      "Relu6",
                                      "Elu",
                                      "Selu",
                                      "Sigmoid",
                                      "Tanh",
                                      "Softmax",
                                      "LeakyRelu",
                                      "Gelu",
                                      "Identity",
                                      "Reshape",
                                      "Transpose",
                                      "Squeeze",
                                      "ExpandDims",
                                      "MaxPool",
                                      "AvgPool",
                                      "Mean",
                                      "Pad",
                                      "ConcatV2",
                                      "ReadVariableOp",
                                      "StridedSlice",
                                      "Cast",
                                      "Shape",
                                      "clip_by_value",
                                      "linear",
                                      "addmm",
                                      "conv2d",
                                      "relu",
                                      "MaxPool2d",
                                      "AvgPool2d",
                                      "Max",
                                      "Sum"};
  if (strlen(op_type) == len && !strncasecmp(word, op_type, len)) return 1;
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (strlen(words[i]) == len && !strncasecmp(word, words[i], len)) return 1;
  return 0;
}

/* Length of word without the exporters' uniquifying suffixes ("_12",
 * "__78", ":0"). */
static size_t strip_counter(const char *word, size_t len) {
  size_t end = len;
  while (end > 0 && isdigit((unsigned char)word[end - 1])) end--;
  if (end == len || end == 0) return len;
  if (word[end - 1] != '_' && word[end - 1] != ':') return len;
  end--;
  if (end > 0 && word[end - 1] == '_') end--;
  return end ? end : len;
}

/* The layer scope of a node: its name without a last segment that names an
 * operation ("LeNet/Conv1/BiasAdd__78" -> "LeNet/Conv1", "/layer1/layer1.0/
 * conv1/Conv" -> "layer1/layer1.0/conv1"); a node named after its layer
 * ("LeNet/Convolution_Block/Conv1") keeps its whole name. Returns the
 * length of the scope within name + *skip (the leading '/' of PyTorch's
 * names is skipped); 0: the node is in no scope. */
static size_t scope_of(const char *name, const char *op_type, size_t *skip) {
  *skip = name[0] == '/' ? 1 : 0;
  const char *s = name + *skip;
  const char *slash = strrchr(s, '/');
  const char *last = slash ? slash + 1 : s;
  const size_t len = strlen(last);
  if (!is_op_word(last, strip_counter(last, len), op_type)) return strlen(s);
  size_t scope = slash ? (size_t)(slash - s) : 0;
  /* TensorFlow's composite ops add a scope of their own inside the layer's
   * ("bn/batchnorm/mul_1", "conv/convolution/merged_input"). */
  static const char *const composite[] = {"batchnorm", "convolution",
                                          "depthwise"};
  for (size_t c = 0; c < sizeof composite / sizeof *composite; c++) {
    const size_t n = strlen(composite[c]);
    if (scope > n && s[scope - n - 1] == '/' &&
        !strncmp(s + scope - n, composite[c], n))
      return scope - n - 1;
  }
  return scope;
}

/* ---- union-find over scope groups ----------------------------------------*/

static size_t find(size_t *parent, size_t g) {
  while (parent[g] != g) g = parent[g] = parent[parent[g]];
  return g;
}

/* Working state of one grouping. */
typedef struct grouping {
  const tq_graph *g;
  size_t *group;           /* per node: scope group, or SIZE_MAX (layout) */
  size_t *parent;          /* per group: union-find parent */
  unsigned char *anchored; /* per group: holds a Conv/Gemm/MatMul */
  const char **scope;      /* per group: scope text (into node ids) */
  size_t *scope_len;
  size_t n_groups;
  /* Keras 3 traces a model once more when it is exported, so that all its
   * scopes end in "_1" ("LeNet_1/Conv1_1/convolution"); then the layer IDs
   * drop that suffix and are the Keras names again. */
  int all_suffixed, any_scoped;
  size_t *readers;        /* per value: readers (nodes and graph outputs) */
  unsigned char *dynamic; /* per value: depends on a graph input */
} grouping;

static int ends_in_1(const char *segment, size_t len) {
  return len > 2 && segment[len - 2] == '_' && segment[len - 1] == '1';
}

/* Whether every '/'-separated segment of scope[0, len) ends in "_1". */
static int all_segments_suffixed(const char *scope, size_t len) {
  size_t start = 0;
  for (size_t i = 0; i <= len; i++)
    if (i == len || scope[i] == '/') {
      if (!ends_in_1(scope + start, i - start)) return 0;
      start = i + 1;
    }
  return 1;
}

/* Copies scope[0, len) to out, without the "_1" of each segment when
 * strip (out has len + 1 bytes). */
static void copy_id(const char *scope, size_t len, int strip, char *out) {
  size_t start = 0, o = 0;
  for (size_t i = 0; i <= len; i++)
    if (i == len || scope[i] == '/') {
      size_t n = i - start;
      if (strip && ends_in_1(scope + start, n)) n -= 2;
      memcpy(out + o, scope + start, n);
      o += n;
      if (i < len) out[o++] = '/';
      start = i + 1;
    }
  out[o] = '\0';
}

static size_t group_of_scope(grouping *w, const char *scope, size_t len) {
  for (size_t k = 0; len && k < w->n_groups; k++)
    if (w->scope_len[k] == len && !strncmp(w->scope[k], scope, len)) return k;
  w->scope[w->n_groups] = scope;
  w->scope_len[w->n_groups] = len;
  w->parent[w->n_groups] = w->n_groups;
  return w->n_groups++;
}

static int node_is_layout(const grouping *w, size_t i) {
  const tq_node *n = &w->g->nodes[i];
  if (!is_layout_op(n->op_type)) return 0;
  if (!is_data_dependent_layout(n->op_type)) return 1;
  for (size_t k = 0; k < n->n_out; k++)
    if (w->dynamic[n->out[k]]) return 0;
  return 1;
}

static void mark_values(grouping *w) {
  const tq_graph *g = w->g;
  for (size_t v = 0; v < g->n_values; v++)
    w->dynamic[v] = g->values[v].input_index >= 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const tq_node *n = &g->nodes[i];
    int dyn = 0;
    for (size_t k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) {
        dyn |= w->dynamic[n->in[k]];
        w->readers[n->in[k]]++;
      }
    /* Shape's output depends only on shapes: not data. */
    if (!strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size")) dyn = 0;
    for (size_t k = 0; k < n->n_out; k++) w->dynamic[n->out[k]] = dyn;
  }
  for (size_t o = 0; o < g->n_outputs; o++) w->readers[g->outputs[o]]++;
}

/* Scope groups: nodes whose scopes are equal share a group; nodes in no
 * scope get one each. */
static void group_by_scope(grouping *w) {
  const tq_graph *g = w->g;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const tq_node *n = &g->nodes[i];
    w->group[i] = SIZE_MAX;
    if (node_is_layout(w, i)) continue;
    /* An unnamed node is known by its first output. */
    const char *name =
        n->id[0] || !n->n_out ? n->id : g->values[n->out[0]].name;
    size_t skip = 0;
    const size_t len = scope_of(name, n->op_type, &skip);
    size_t k;
    if (len) {
      k = group_of_scope(w, name + skip, len);
      w->any_scoped = 1;
      w->all_suffixed &= all_segments_suffixed(name + skip, len);
    } else { /* a scope of its own, named as the node */
      k = w->n_groups++;
      w->parent[k] = k;
      w->scope[k] = name + skip;
      w->scope_len[k] = strlen(name + skip);
    }
    w->group[i] = k;
    if (is_anchor_op(n->op_type)) w->anchored[k] = 1;
  }
}

/* The input of follower node i that carries the data: for Add/Sub/Mul the
 * one input that is not an initializer, else input 0; -1 when none. */
static int data_input(const tq_graph *g, const tq_node *n) {
  int data = -1;
  for (size_t k = 0; k < n->n_in; k++) {
    const int v = n->in[k];
    if (v < 0 || g->values[v].init_index >= 0) continue;
    if (data >= 0) return -1; /* two data inputs: a residual Add, say */
    data = v;
  }
  return data;
}

/* A bias or scale: Add, Sub, Mul or Div with a constant (also a BatchNorm
 * that an exporter wrote as a Mul and an Add). */
static int is_bias_op(const tq_graph *g, const tq_node *n) {
  if (strcmp(n->op_type, "Add") && strcmp(n->op_type, "Sub") &&
      strcmp(n->op_type, "Mul") && strcmp(n->op_type, "Div"))
    return 0;
  for (size_t k = 0; k < n->n_in; k++)
    if (n->in[k] >= 0 && g->values[n->in[k]].init_index >= 0) return 1;
  return 0;
}

/* The last member of group root before node i in graph order, or -1. */
static long last_member_before(grouping *w, size_t root, size_t i) {
  for (size_t j = i; j-- > 0;)
    if (w->group[j] != SIZE_MAX && find(w->parent, w->group[j]) == root)
      return (long)j;
  return -1;
}

/* Folds followers into the layer they finish: an activation or a
 * BatchNormalization, or after a Conv/Gemm/MatMul a bias or scale (Add,
 * Sub, Mul, Div with a constant), that alone reads the output of a layer's
 * last node joins that layer, with its whole scope group, unless that group
 * holds a Conv/Gemm/MatMul of its own (then it is a layer of its own). */
static void fold_followers(grouping *w) {
  const tq_graph *g = w->g;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const tq_node *n = &g->nodes[i];
    if (w->group[i] == SIZE_MAX) continue;
    const int follower = is_follower_op(n->op_type);
    if (!follower && !is_bias_op(g, n)) continue;
    const int v = data_input(g, n);
    if (v < 0 || w->readers[v] != 1) continue;
    const int p = g->values[v].producer;
    if (p < 0 || w->group[p] == SIZE_MAX) continue;
    const size_t gp = find(w->parent, w->group[p]);
    const size_t gi = find(w->parent, w->group[i]);
    if (gp == gi || w->anchored[gi]) continue;
    /* A bias or scale finishes a Conv/Gemm/MatMul, not any layer (the
     * input normalization's Sub and Mul stay two). */
    if (!follower && !w->anchored[gp]) continue;
    if (last_member_before(w, gp, i) != p) continue;
    w->parent[gi] = gp;
  }
}

/* ---- layers ---------------------------------------------------------------*/

static int is_param(const tq_graph *g, const tq_node *n, size_t k,
                    unsigned flags) {
  const int v = n->in[k];
  if (v < 0 || g->values[v].init_index < 0) return 0;
  const tq_tensor *t = g->inits[g->values[v].init_index];
  if (t->dtype != TQ_DTYPE_FLOAT32) return 0;
  /* Scalars of decomposed functions (LayerNorm's epsilon, GELU's 0.5) are
   * constants of the formula, not learned parameters. */
  return ((flags & TQ_OPF_WEIGHTS) && k >= 1) || t->numel > 1;
}

/* The module that owns a PyTorch-style parameter name, or 0 (length). */
static size_t owner_len(const char *name) {
  if (strchr(name, '/') || strchr(name, ':')) return 0;
  const char *dot = strrchr(name, '.');
  return dot && dot != name ? (size_t)(dot - name) : 0;
}

static tq_status add_owner(tq_context *ctx, tq_layer *l, const char *name,
                           size_t len) {
  for (size_t k = 0; k < l->n_owners; k++)
    if (strlen(l->owners[k]) == len && !strncmp(l->owners[k], name, len))
      return TQ_OK;
  char *copy = malloc(len + 1);
  if (!copy) return tq_error_nomem(ctx);
  memcpy(copy, name, len);
  copy[len] = '\0';
  l->owners[l->n_owners++] = copy;
  return TQ_OK;
}

/* PyTorch's scopes name each module by its attribute, a child of a
 * container by "container.index" ("layer1/layer1.0/conv1"); the module's
 * path as PyTorch writes it ("layer1.0.conv1") is then also a name keys
 * match, so that they work when the exporter renamed the parameters
 * ("onnx::Conv_193"). Writes it to out (strlen(id) + 1 bytes) and returns
 * 1, or returns 0 when the ID shows no such container child. */
static int torch_module_path(const char *id, char *out) {
  int nested = 0;
  size_t o = 0, prev = 0, prev_len = 0;
  for (size_t start = 0;;) {
    const char *slash = strchr(id + start, '/');
    const size_t len =
        slash ? (size_t)(slash - id) - start : strlen(id + start);
    const char *seg = id + start;
    if (start && len > prev_len + 1 && !strncmp(seg, id + prev, prev_len) &&
        seg[prev_len] == '.') {
      nested = 1;
      memcpy(out + o, seg + prev_len, len - prev_len); /* ".0" */
      o += len - prev_len;
    } else {
      if (start) out[o++] = '.';
      memcpy(out + o, seg, len);
      o += len;
    }
    if (!slash) break;
    prev = start;
    prev_len = len;
    start += len + 1;
  }
  out[o] = '\0';
  return nested;
}

static tq_status fill_layer(tq_context *ctx, const grouping *w, size_t root,
                            const size_t *root_of, tq_layer *l) {
  const tq_graph *g = w->g;
  size_t n_in = 0;
  for (size_t i = 0; i < g->n_nodes; i++)
    if (root_of[i] == root) {
      l->n_nodes++;
      n_in += g->nodes[i].n_in;
    }
  l->id = malloc(w->scope_len[root] + 1);
  l->nodes = malloc(l->n_nodes * sizeof *l->nodes);
  l->params = malloc((n_in ? n_in : 1) * sizeof *l->params);
  l->param_names = malloc((n_in ? n_in : 1) * sizeof *l->param_names);
  l->owners = malloc((n_in + 1) * sizeof *l->owners);
  if (!l->id || !l->nodes || !l->params || !l->param_names || !l->owners)
    return tq_error_nomem(ctx);
  copy_id(w->scope[root], w->scope_len[root], w->any_scoped && w->all_suffixed,
          l->id);
  size_t m = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    if (root_of[i] != root) continue;
    l->nodes[m++] = i;
    l->output = i;
    const tq_node *n = &g->nodes[i];
    const tq_op_desc *d = tq_graph_lookup_op(g, n->domain, n->op_type);
    for (size_t k = 0; k < n->n_in; k++) {
      if (!is_param(g, n, k, d ? d->flags : 0)) continue;
      const char *name = g->values[n->in[k]].name;
      l->param_names[l->n_params] = name;
      l->params[l->n_params++] = (tq_layer_param){i, k, name};
      const size_t len = owner_len(name);
      if (len) {
        tq_status st = add_owner(ctx, l, name, len);
        if (st != TQ_OK) return st;
      }
    }
  }
  char *path = malloc(strlen(l->id) + 1);
  if (!path) return tq_error_nomem(ctx);
  tq_status st = torch_module_path(l->id, path)
                     ? add_owner(ctx, l, path, strlen(path))
                     : TQ_OK;
  free(path);
  return st;
}

static tq_status build_layers(tq_context *ctx, grouping *w, tq_layers *out) {
  const tq_graph *g = w->g;
  size_t *root_of = malloc((g->n_nodes ? g->n_nodes : 1) * sizeof *root_of);
  size_t *layer_of = malloc((w->n_groups ? w->n_groups : 1) * sizeof *layer_of);
  out->layers = calloc(w->n_groups ? w->n_groups : 1, sizeof *out->layers);
  if (!root_of || !layer_of || !out->layers) {
    free(root_of);
    free(layer_of);
    return tq_error_nomem(ctx);
  }
  for (size_t k = 0; k < w->n_groups; k++) layer_of[k] = SIZE_MAX;
  tq_status st = TQ_OK;
  /* Layers in the order of their first nodes. */
  for (size_t i = 0; i < g->n_nodes; i++) {
    root_of[i] =
        w->group[i] == SIZE_MAX ? SIZE_MAX : find(w->parent, w->group[i]);
    out->node_layer[i] = -1;
    if (root_of[i] == SIZE_MAX) continue;
    if (layer_of[root_of[i]] == SIZE_MAX)
      layer_of[root_of[i]] = out->n_layers++;
    out->node_layer[i] = (int)layer_of[root_of[i]];
  }
  for (size_t k = 0; k < w->n_groups && st == TQ_OK; k++)
    if (layer_of[k] != SIZE_MAX)
      st = fill_layer(ctx, w, k, root_of, &out->layers[layer_of[k]]);
  free(root_of);
  free(layer_of);
  return st;
}

tq_status tq_layers_build(tq_context *ctx, const tq_graph *g, tq_layers **out) {
  *out = NULL;
  const size_t nn = g->n_nodes ? g->n_nodes : 1;
  const size_t nv = g->n_values ? g->n_values : 1;
  grouping w = {.g = g, .all_suffixed = 1};
  w.group = malloc(nn * sizeof *w.group);
  w.parent = malloc(nn * sizeof *w.parent);
  w.anchored = calloc(nn, 1);
  w.scope = malloc(nn * sizeof *w.scope);
  w.scope_len = malloc(nn * sizeof *w.scope_len);
  w.readers = calloc(nv, sizeof *w.readers);
  w.dynamic = calloc(nv, 1);
  tq_layers *l = calloc(1, sizeof *l);
  if (l) l->node_layer = malloc(nn * sizeof *l->node_layer);
  tq_status st = TQ_OK;
  if (!w.group || !w.parent || !w.anchored || !w.scope || !w.scope_len ||
      !w.readers || !w.dynamic || !l || !l->node_layer) {
    st = tq_error_nomem(ctx);
  } else {
    mark_values(&w);
    group_by_scope(&w);
    fold_followers(&w);
    st = build_layers(ctx, &w, l);
  }
  free(w.group);
  free(w.parent);
  free(w.anchored);
  free(w.scope);
  free(w.scope_len);
  free(w.readers);
  free(w.dynamic);
  if (st != TQ_OK) {
    tq_layers_destroy(l);
    return st;
  }
  *out = l;
  return TQ_OK;
}

void tq_layers_destroy(tq_layers *l) {
  if (!l) return;
  for (size_t i = 0; l->layers && i < l->n_layers; i++) {
    tq_layer *y = &l->layers[i];
    free(y->id);
    free(y->nodes);
    free(y->params);
    free(y->param_names);
    for (size_t k = 0; k < y->n_owners; k++) free((char *)y->owners[k]);
    free(y->owners);
  }
  free(l->layers);
  free(l->node_layer);
  free(l);
}

int tq_layer_has_param(const tq_layer *layer, size_t node, size_t input) {
  for (size_t k = 0; k < layer->n_params; k++)
    if (layer->params[k].node == node && layer->params[k].input == input)
      return 1;
  return 0;
}
