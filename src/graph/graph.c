/* Graphs: the builder API with name scopes, inspection, validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/graph_internal.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Grows an array of elem-sized items to hold at least need items. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t n = *cap ? *cap * 2 : 16;
  while (n < need) n *= 2;
  void *p = realloc(*arr, n * elem);
  if (!p) return 0;
  *arr = p;
  *cap = n;
  return 1;
}

tq_status tq_graph_create(tq_context *ctx, tq_graph **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_graph_create: out is NULL");
  *out = calloc(1, sizeof **out);
  if (!*out) return tq_error_nomem(ctx);
  (*out)->opset = 17;
  return TQ_OK;
}

static void free_attrs(tq_attr_store *attrs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(attrs[i].name);
    free(attrs[i].s);
    free(attrs[i].ints);
    free(attrs[i].floats);
    tq_tensor_destroy(attrs[i].t);
  }
  free(attrs);
}

static void free_strings(char **s, size_t n) {
  if (!s) return;
  for (size_t i = 0; i < n; i++) free(s[i]);
  free(s);
}

void tq_graph_destroy(tq_graph *g) {
  if (!g) return;
  for (size_t i = 0; i < g->n_values; i++) free(g->values[i].name);
  free(g->values);
  for (size_t i = 0; i < g->n_nodes; i++) {
    tq_node *n = &g->nodes[i];
    free(n->id);
    free(n->op_type);
    free(n->domain);
    free(n->in);
    free(n->out);
    free_strings(n->in_names, n->n_in);
    free_strings(n->out_names, n->n_out);
    free_attrs(n->attrs, n->n_attrs);
    free(n->weight_names); /* pointers into in_names */
  }
  free(g->nodes);
  free(g->inputs);
  free(g->input_shapes);
  free(g->input_dtypes);
  free(g->outputs);
  for (size_t i = 0; i < g->n_inits; i++) tq_tensor_destroy(g->inits[i]);
  free(g->inits);
  free(g->init_values);
  free_strings(g->scopes, g->n_scopes);
  for (size_t i = 0; i < g->n_user_ops; i++) {
    free((char *)g->user_ops[i]->name);
    free(g->user_ops[i]);
  }
  free(g->user_ops);
  free(g->name);
  free(g);
}

void tq_graph_set_opset(tq_graph *g, int64_t opset) {
  g->opset = opset;
}

int tq_graph_find_value(const tq_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_values; i++)
    if (strcmp(g->values[i].name, name) == 0) return (int)i;
  return -1;
}

static tq_status check_name(tq_context *ctx, const char *what,
                            const char *name) {
  if (!name || !*name)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "%s needs a non-empty name", what);
  return TQ_OK;
}

/* Adds a new value; error if the name is taken. */
static tq_status new_value(tq_context *ctx, tq_graph *g, const char *name,
                           int *index) {
  if (tq_graph_find_value(g, name) >= 0)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "value '%s' is defined twice", name);
  if (!grow((void **)&g->values, &g->cap_values, g->n_values + 1,
            sizeof *g->values))
    return tq_error_nomem(ctx);
  tq_value *v = &g->values[g->n_values];
  v->name = dup_str(name);
  if (!v->name) return tq_error_nomem(ctx);
  v->producer = -1;
  v->input_index = -1;
  v->init_index = -1;
  *index = (int)g->n_values++;
  return TQ_OK;
}

tq_status tq_graph_push_scope(tq_context *ctx, tq_graph *g, const char *scope) {
  tq_status st = check_name(ctx, "a scope", scope);
  if (st != TQ_OK) return st;
  char **p = realloc(g->scopes, (g->n_scopes + 1) * sizeof *p);
  if (!p) return tq_error_nomem(ctx);
  g->scopes = p;
  if (!(p[g->n_scopes] = dup_str(scope))) return tq_error_nomem(ctx);
  g->n_scopes++;
  return TQ_OK;
}

tq_status tq_graph_pop_scope(tq_context *ctx, tq_graph *g) {
  if (!g->n_scopes)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_graph_pop_scope without a matching push");
  free(g->scopes[--g->n_scopes]);
  return TQ_OK;
}

tq_status tq_graph_add_input(tq_context *ctx, tq_graph *g, const char *name,
                             const tq_shape *shape) {
  return tq_graph_add_input_typed(ctx, g, name, TQ_DTYPE_FLOAT32, shape);
}

tq_status tq_graph_add_input_typed(tq_context *ctx, tq_graph *g,
                                   const char *name, tq_dtype dtype,
                                   const tq_shape *shape) {
  tq_status st = check_name(ctx, "a graph input", name);
  if (st != TQ_OK) return st;
  if ((unsigned)dtype >= TQ_DTYPE_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "input '%s': unknown dtype %d", name, (int)dtype);
  if (!shape || shape->ndim < 0 || shape->ndim > TQ_TENSOR_MAX_DIMS)
    return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "input '%s': rank must be 0..%d", name, TQ_TENSOR_MAX_DIMS);
  for (int d = 0; d < shape->ndim; d++)
    if (shape->dims[d] < -1)
      return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                      "input '%s': dimension %d is %lld (use -1 for dynamic)",
                      name, d, (long long)shape->dims[d]);
  int v;
  if ((st = new_value(ctx, g, name, &v)) != TQ_OK) return st;
  int *in = realloc(g->inputs, (g->n_inputs + 1) * sizeof *in);
  if (!in) return tq_error_nomem(ctx);
  g->inputs = in;
  tq_shape *sh = realloc(g->input_shapes, (g->n_inputs + 1) * sizeof *sh);
  if (!sh) return tq_error_nomem(ctx);
  g->input_shapes = sh;
  tq_dtype *dt = realloc(g->input_dtypes, (g->n_inputs + 1) * sizeof *dt);
  if (!dt) return tq_error_nomem(ctx);
  g->input_dtypes = dt;
  g->inputs[g->n_inputs] = v;
  g->input_shapes[g->n_inputs] = *shape;
  g->input_dtypes[g->n_inputs] = dtype;
  g->values[v].input_index = (int)g->n_inputs++;
  return TQ_OK;
}

tq_status tq_graph_add_initializer(tq_context *ctx, tq_graph *g,
                                   const char *name, const tq_tensor *value) {
  tq_status st = check_name(ctx, "an initializer", name);
  if (st != TQ_OK) return st;
  if (!value)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "initializer '%s' has no value", name);
  tq_tensor *copy;
  if ((st = tq_tensor_clone(ctx, value, &copy)) != TQ_OK) return st;
  int v;
  if ((st = new_value(ctx, g, name, &v)) != TQ_OK) {
    tq_tensor_destroy(copy);
    return st;
  }
  tq_tensor **ti = realloc(g->inits, (g->n_inits + 1) * sizeof *ti);
  if (ti) g->inits = ti;
  int *iv = ti ? realloc(g->init_values, (g->n_inits + 1) * sizeof *iv) : NULL;
  if (iv) g->init_values = iv;
  if (!ti || !iv) {
    tq_tensor_destroy(copy);
    return tq_error_nomem(ctx);
  }
  g->inits[g->n_inits] = copy;
  g->init_values[g->n_inits] = v;
  g->values[v].init_index = (int)g->n_inits++;
  return TQ_OK;
}

const tq_op_desc *tq_graph_lookup_op(const tq_graph *g, const char *domain,
                                     const char *op_type) {
  if (!tq_op_domain_is_default(domain)) return tq_op_lookup(domain, op_type, 1);
  for (size_t i = 0; i < g->n_user_ops; i++)
    if (strcmp(g->user_ops[i]->name, op_type) == 0) return g->user_ops[i];
  const tq_op_desc *d = tq_op_lookup("", op_type, g->opset);
  /* A node without a domain (built in C, or by an exporter that left it
   * out) may still name a com.microsoft operator: their names are unique. */
  return d ? d : tq_op_lookup(TQ_DOMAIN_MS, op_type, 1);
}

tq_status tq_graph_register_op(tq_context *ctx, tq_graph *g,
                               const tq_op_def *def) {
  if (!def || !def->op_type || !*def->op_type || !def->infer || !def->forward)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_graph_register_op: op_type, infer and forward are "
                    "required");
  if (tq_graph_lookup_op(g, NULL, def->op_type))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "operator '%s' is already defined", def->op_type);
  tq_op_desc **p = realloc(g->user_ops, (g->n_user_ops + 1) * sizeof *p);
  if (!p) return tq_error_nomem(ctx);
  g->user_ops = p;
  /* Each descriptor on its own: sessions keep pointers to it. Any counts
   * of inputs and outputs; the operator checks them itself. */
  tq_op_desc *d = calloc(1, sizeof *d);
  char *name = dup_str(def->op_type);
  if (!d || !name) {
    free(d);
    free(name);
    return tq_error_nomem(ctx);
  }
  *d = (tq_op_desc){.id = TQ_OP_USER,
                    .name = name,
                    .domain = "",
                    .min_opset = 1,
                    .max_opset = TQ_OPSET_OPEN,
                    .min_inputs = 0,
                    .max_inputs = -1,
                    .min_outputs = 1,
                    .max_outputs = -1,
                    .flags = def->weights ? TQ_OPF_WEIGHTS : 0,
                    .infer = def->infer,
                    .forward = def->forward,
                    .user = def->user};
  p[g->n_user_ops++] = d;
  return TQ_OK;
}

static tq_status copy_attr(tq_context *ctx, const tq_attr *src,
                           tq_attr_store *dst) {
  memset(dst, 0, sizeof *dst);
  if (!src->name || !*src->name || (unsigned)src->type >= TQ_ATTR_TYPE_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "an attribute needs a name and a valid type");
  dst->a = *src;
  if (!(dst->name = dup_str(src->name))) return tq_error_nomem(ctx);
  dst->a.name = dst->name;
  dst->a.s = NULL;
  dst->a.ints = NULL;
  dst->a.floats = NULL;
  dst->a.t = NULL;
  switch (src->type) {
    case TQ_ATTR_STRING:
      if (!(dst->s = dup_str(src->s ? src->s : ""))) return tq_error_nomem(ctx);
      dst->a.s = dst->s;
      break;
    case TQ_ATTR_INTS:
      dst->ints = malloc((src->count ? src->count : 1) * sizeof *dst->ints);
      if (!dst->ints) return tq_error_nomem(ctx);
      if (src->count)
        memcpy(dst->ints, src->ints, src->count * sizeof *dst->ints);
      dst->a.ints = dst->ints;
      break;
    case TQ_ATTR_FLOATS:
      dst->floats = malloc((src->count ? src->count : 1) * sizeof *dst->floats);
      if (!dst->floats) return tq_error_nomem(ctx);
      if (src->count)
        memcpy(dst->floats, src->floats, src->count * sizeof *dst->floats);
      dst->a.floats = dst->floats;
      break;
    case TQ_ATTR_TENSOR: {
      if (!src->t)
        return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                        "tensor attribute '%s' has no tensor", src->name);
      tq_status st = tq_tensor_clone(ctx, src->t, &dst->t);
      if (st != TQ_OK) return st;
      dst->a.t = dst->t;
      break;
    }
    default: break;
  }
  return TQ_OK;
}

/* The node ID: scope path + name, made unique with a suffix if needed. */
static char *make_id(const tq_graph *g, const char *name) {
  size_t len = strlen(name) + 16;
  for (size_t i = 0; i < g->n_scopes; i++) len += strlen(g->scopes[i]) + 1;
  char *id = malloc(len);
  if (!id) return NULL;
  id[0] = '\0';
  for (size_t i = 0; i < g->n_scopes; i++) {
    strcat(id, g->scopes[i]);
    strcat(id, "/");
  }
  strcat(id, name);
  size_t base = strlen(id);
  for (int k = 1;; k++) {
    int taken = 0;
    for (size_t i = 0; i < g->n_nodes && !taken; i++)
      taken = strcmp(g->nodes[i].id, id) == 0;
    if (!taken) break;
    snprintf(id + base, 16, "_%d", k);
  }
  return id;
}

tq_status tq_graph_add_node(tq_context *ctx, tq_graph *g, const char *op_type,
                            const char *name, const char *const *inputs,
                            size_t n_inputs, const char *const *outputs,
                            size_t n_outputs, const tq_attr *attrs,
                            size_t n_attrs) {
  return tq_graph_add_node_in(ctx, g, NULL, op_type, name, inputs, n_inputs,
                              outputs, n_outputs, attrs, n_attrs);
}

const char *tq_graph_node_domain(const tq_graph *g, size_t node) {
  return node < g->n_nodes ? g->nodes[node].domain : NULL;
}

tq_status tq_graph_add_node_in(tq_context *ctx, tq_graph *g, const char *domain,
                               const char *op_type, const char *name,
                               const char *const *inputs, size_t n_inputs,
                               const char *const *outputs, size_t n_outputs,
                               const tq_attr *attrs, size_t n_attrs) {
  tq_status st = check_name(ctx, "a node's op_type", op_type);
  if (st != TQ_OK) return st;
  if (!n_outputs || !outputs)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "node '%s' (%s) has no outputs", name ? name : "", op_type);
  if ((n_inputs && !inputs) || (n_attrs && !attrs))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "node '%s' (%s): NULL inputs or attributes",
                    name ? name : "", op_type);
  const char *label = name && *name ? name : outputs[0];
  /* Resolve inputs first so that a failure changes nothing. */
  int *in = calloc(n_inputs ? n_inputs : 1, sizeof *in);
  if (!in) return tq_error_nomem(ctx);
  for (size_t i = 0; i < n_inputs; i++) {
    if (!inputs[i] || !*inputs[i]) {
      in[i] = -1;
      continue;
    }
    in[i] = tq_graph_find_value(g, inputs[i]);
    if (in[i] < 0) {
      free(in);
      return tq_error(ctx, TQ_ERR_NOT_FOUND, NULL, 0, 0,
                      "node '%s' (%s): input '%s' is not defined (no graph "
                      "input, initializer or earlier node output has that "
                      "name)",
                      label, op_type, inputs[i]);
    }
  }
  for (size_t i = 0; i < n_outputs; i++) {
    if (!outputs[i] || !*outputs[i] ||
        tq_graph_find_value(g, outputs[i]) >= 0) {
      free(in);
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "node '%s' (%s): output %zu %s", label, op_type, i,
                      !outputs[i] || !*outputs[i]
                          ? "has no name"
                          : "names a value that already exists");
    }
  }
  if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1,
            sizeof *g->nodes)) {
    free(in);
    return tq_error_nomem(ctx);
  }
  tq_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->in = in;
  n->n_in = n_inputs;
  n->id = make_id(g, label);
  n->op_type = dup_str(op_type);
  n->domain = tq_op_domain_is_default(domain) ? NULL : dup_str(domain);
  n->out = calloc(n_outputs, sizeof *n->out);
  n->in_names = calloc(n_inputs ? n_inputs : 1, sizeof *n->in_names);
  n->out_names = calloc(n_outputs, sizeof *n->out_names);
  n->attrs = calloc(n_attrs ? n_attrs : 1, sizeof *n->attrs);
  int ok = n->id && n->op_type && n->out && n->in_names && n->out_names &&
           n->attrs && (n->domain || tq_op_domain_is_default(domain));
  for (size_t i = 0; ok && i < n_inputs; i++)
    ok = (n->in_names[i] = dup_str(inputs[i] ? inputs[i] : "")) != NULL;
  for (size_t i = 0; ok && i < n_outputs; i++)
    ok = (n->out_names[i] = dup_str(outputs[i])) != NULL;
  n->n_out = n_outputs;
  st = ok ? TQ_OK : tq_error_nomem(ctx);
  for (size_t i = 0; st == TQ_OK && i < n_attrs; i++) {
    st = copy_attr(ctx, &attrs[i], &n->attrs[i]);
    n->n_attrs = i + 1;
  }
  /* Weights (docs/design.md §3): initializer inputs after the first. */
  const tq_op_desc *desc = tq_graph_lookup_op(g, domain, op_type);
  const unsigned flags = desc ? desc->flags : 0;
  if (st == TQ_OK && (flags & TQ_OPF_WEIGHTS) && n_inputs > 1) {
    n->weight_names = calloc(n_inputs, sizeof *n->weight_names);
    if (!n->weight_names) st = tq_error_nomem(ctx);
    for (size_t i = 1; st == TQ_OK && i < n_inputs; i++)
      if (in[i] >= 0 && g->values[in[i]].init_index >= 0)
        n->weight_names[n->n_weights++] = n->in_names[i];
  }
  for (size_t i = 0; st == TQ_OK && i < n_outputs; i++) {
    int v;
    st = new_value(ctx, g, outputs[i], &v);
    if (st == TQ_OK) {
      g->values[v].producer = (int)g->n_nodes;
      n->out[i] = v;
    }
  }
  if (st != TQ_OK) {
    /* Roll back: drop values this node created, then the node. */
    while (g->n_values &&
           g->values[g->n_values - 1].producer == (int)g->n_nodes)
      free(g->values[--g->n_values].name);
    free(n->id);
    free(n->op_type);
    free(n->domain);
    free(n->in);
    free(n->out);
    free_strings(n->in_names, n_inputs);
    free_strings(n->out_names, n_outputs);
    free_attrs(n->attrs, n->n_attrs);
    free(n->weight_names);
    return st;
  }
  g->n_nodes++;
  return TQ_OK;
}

tq_status tq_graph_add_output(tq_context *ctx, tq_graph *g, const char *name) {
  int v = name ? tq_graph_find_value(g, name) : -1;
  if (v < 0)
    return tq_error(ctx, TQ_ERR_NOT_FOUND, NULL, 0, 0,
                    "graph output '%s' is not a value of the graph",
                    name ? name : "(null)");
  int *o = realloc(g->outputs, (g->n_outputs + 1) * sizeof *o);
  if (!o) return tq_error_nomem(ctx);
  g->outputs = o;
  g->outputs[g->n_outputs++] = v;
  return TQ_OK;
}

size_t tq_graph_node_count(const tq_graph *g) {
  return g->n_nodes;
}
size_t tq_graph_input_count(const tq_graph *g) {
  return g->n_inputs;
}
size_t tq_graph_output_count(const tq_graph *g) {
  return g->n_outputs;
}
const char *tq_graph_input_name(const tq_graph *g, size_t i) {
  return i < g->n_inputs ? g->values[g->inputs[i]].name : NULL;
}
const tq_shape *tq_graph_input_shape(const tq_graph *g, size_t i) {
  return i < g->n_inputs ? &g->input_shapes[i] : NULL;
}
tq_dtype tq_graph_input_dtype(const tq_graph *g, size_t i) {
  return i < g->n_inputs ? g->input_dtypes[i] : TQ_DTYPE_COUNT;
}
const char *tq_graph_output_name(const tq_graph *g, size_t i) {
  return i < g->n_outputs ? g->values[g->outputs[i]].name : NULL;
}

tq_status tq_graph_node_info(const tq_graph *g, size_t i, tq_node_info *info) {
  if (!g || !info || i >= g->n_nodes) return TQ_ERR_RANGE;
  const tq_node *n = &g->nodes[i];
  info->id = n->id;
  info->op_type = n->op_type;
  info->n_inputs = n->n_in;
  info->n_outputs = n->n_out;
  info->inputs = (const char *const *)n->in_names;
  info->outputs = (const char *const *)n->out_names;
  info->n_weights = n->n_weights;
  info->weights = (const char *const *)n->weight_names;
  return TQ_OK;
}

void tq_graph_node_attrs(const tq_graph *g, size_t node,
                         const tq_attr_store **attrs, size_t *n) {
  *attrs = g->nodes[node].attrs;
  *n = g->nodes[node].n_attrs;
}

const tq_tensor *tq_graph_initializer(const tq_graph *g, const char *name) {
  int v = tq_graph_find_value(g, name);
  if (v < 0 || g->values[v].init_index < 0) return NULL;
  return g->inits[g->values[v].init_index];
}

size_t tq_graph_initializer_count(const tq_graph *g) {
  return g->n_inits;
}
const char *tq_graph_initializer_name(const tq_graph *g, size_t i) {
  return i < g->n_inits ? g->values[g->init_values[i]].name : NULL;
}

tq_status tq_graph_set_initializer(tq_context *ctx, tq_graph *g,
                                   const char *name, const tq_tensor *value) {
  int v = name ? tq_graph_find_value(g, name) : -1;
  if (v < 0 || g->values[v].init_index < 0)
    return tq_error(ctx, TQ_ERR_NOT_FOUND, NULL, 0, 0,
                    "'%s' is not an initializer of the graph",
                    name ? name : "(null)");
  tq_tensor *t = g->inits[g->values[v].init_index];
  if (!value || value->dtype != t->dtype ||
      !tq_shape_equal(&value->shape, &t->shape))
    return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "initializer '%s': the new value must have the same "
                    "dtype and shape",
                    name);
  memcpy(t->data, value->data, t->numel * tq_dtype_size(t->dtype));
  return TQ_OK;
}

tq_status tq_graph_validate(tq_context *ctx, const tq_graph *g) {
  char msg[900] = "";
  size_t used = 0, unknown = 0, bad_arity = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const tq_node *n = &g->nodes[i];
    const tq_op_desc *e = tq_graph_lookup_op(g, n->domain, n->op_type);
    if (!e) {
      unknown++;
      if (used < sizeof msg)
        used += (size_t)snprintf(msg + used, sizeof msg - used,
                                 "%s'%s' (%s, opset %lld)",
                                 unknown + bad_arity > 1 ? ", " : "", n->id,
                                 n->op_type, (long long)g->opset);
    } else if (((int)n->n_in < e->min_inputs ||
                (e->max_inputs >= 0 && (int)n->n_in > e->max_inputs) ||
                (int)n->n_out < e->min_outputs ||
                (e->max_outputs >= 0 && (int)n->n_out > e->max_outputs))) {
      bad_arity++;
      if (used < sizeof msg)
        used += (size_t)snprintf(
            msg + used, sizeof msg - used,
            "%s'%s' (%s) has %zu inputs and %zu outputs, expected %d..%d "
            "inputs and %d..%d outputs",
            unknown + bad_arity > 1 ? ", " : "", n->id, n->op_type, n->n_in,
            n->n_out, e->min_inputs, e->max_inputs, e->min_outputs,
            e->max_outputs);
    }
  }
  if (unknown || bad_arity)
    return tq_error(ctx, unknown ? TQ_ERR_UNSUPPORTED : TQ_ERR_FORMAT, NULL, 0,
                    0, "%zu node%s cannot run: %s%s", unknown + bad_arity,
                    unknown + bad_arity == 1 ? "" : "s",
                    unknown ? "unsupported operator(s) " : "", msg);
  if (!g->n_outputs)
    return tq_error(ctx, TQ_ERR_FORMAT, NULL, 0, 0, "the graph has no outputs");
  return TQ_OK;
}
