/* The executor: plans a graph for input shapes, resolves quantizer maps,
 * quantizes weights once per configuration, and runs batches with the
 * extrinsic and intrinsic hooks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/quant_site.h"
#include "graph/session_internal.h"
#include "tensorquant/layers.h"
#include "tensorquant/session.h"

tq_status tq_session_create(tq_context *ctx, const tq_graph *g,
                            tq_session **out) {
  if (!g || !out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_session_create: NULL argument");
  *out = NULL;
  tq_status st = tq_graph_validate(ctx, g);
  if (st != TQ_OK) return st;
  tq_session *s = calloc(1, sizeof *s);
  if (!s) return tq_error_nomem(ctx);
  s->g = g;
  s->nodes = calloc(g->n_nodes ? g->n_nodes : 1, sizeof *s->nodes);
  if (!s->nodes) {
    free(s);
    return tq_error_nomem(ctx);
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    node_rt *n = &s->nodes[i];
    n->desc = tq_graph_lookup_op(g, g->nodes[i].domain, g->nodes[i].op_type);
    n->flags = n->desc->flags;
  }
  st = tq_layers_build(ctx, g, &s->layers);
  if (st != TQ_OK) {
    tq_session_destroy(s);
    return st;
  }
  *out = s;
  return TQ_OK;
}

void tq_session_clear_caches(tq_session *s) {
  for (size_t i = 0; i < s->g->n_nodes; i++)
    tq_op_cache_clear(&s->nodes[i].cache);
}

static void free_weights(tq_session *s) {
  tq_session_clear_caches(s);
  for (size_t i = 0; i < s->g->n_nodes; i++) {
    node_rt *n = &s->nodes[i];
    if (!n->wq) continue;
    for (size_t k = 0; k < s->g->nodes[i].n_in; k++)
      tq_tensor_destroy(n->wq[k]);
    free(n->wq);
    n->wq = NULL;
  }
}

static void free_plan(tq_session *s) {
  if (s->values)
    for (size_t v = 0; v < s->g->n_values; v++)
      if (s->owned[v]) tq_tensor_destroy(s->values[v]);
  free(s->values);
  free(s->is_const);
  free(s->owned);
  free(s->last_use);
  free(s->is_output);
  free(s->lent);
  free(s->plan_shapes);
  s->values = NULL;
  s->is_const = s->owned = s->is_output = s->lent = NULL;
  s->last_use = NULL;
  s->plan_shapes = NULL;
  s->planned = 0;
  for (size_t i = 0; i < s->g->n_nodes; i++) s->nodes[i].folded = 0;
}

void tq_session_destroy(tq_session *s) {
  if (!s) return;
  free_plan(s);
  free_weights(s);
  for (size_t i = 0; i < s->n_pool; i++) free(s->pool[i].data);
  free(s->pool);
  for (size_t i = 0; i < s->g->n_nodes; i++) free(s->nodes[i].params);
  free(s->nodes);
  free(s->ranges);
  tq_layers_destroy(s->layers);
  free(s);
}

void tq_session_set_seed(tq_session *s, uint64_t seed) {
  s->seed = seed;
}

const tq_graph *tq_session_graph(const tq_session *s) {
  return s->g;
}

void tq_session_set_observer(tq_session *s, tq_value_observer fn, void *user) {
  s->observer = fn;
  s->observer_user = user;
}

const tq_tensor *tq_session_quantized_weight(const tq_session *s, size_t node,
                                             size_t input) {
  if (node >= s->g->n_nodes || input >= s->g->nodes[node].n_in) return NULL;
  const node_rt *n = &s->nodes[node];
  return n->wq ? n->wq[input] : NULL;
}

const char *tq_session_node_impl(const tq_session *s, size_t node) {
  return node < s->g->n_nodes ? s->nodes[node].impl : NULL;
}

int tq_session_node_match(const tq_session *s, size_t node, tq_map_kind kind,
                          tq_qmap_match *match) {
  if (node >= s->g->n_nodes || (unsigned)kind >= TQ_MAP_KIND_COUNT) {
    if (match) memset(match, 0, sizeof *match);
    return 0;
  }
  if (match) *match = s->nodes[node].match[kind];
  return s->nodes[node].match[kind].matched;
}

/* ---- maps -----------------------------------------------------------------*/

tq_status tq_session_quantize_weight(tq_context *ctx, tq_session *s,
                                     size_t node, size_t input,
                                     const tq_quantizer *q, uint64_t offset) {
  const tq_graph *g = s->g;
  if (tq_session_is_int_bias(s, node, input, q))
    return tq_session_quantize_bias(ctx, s, node, input, q);
  const tq_tensor *w = g->inits[g->values[g->nodes[node].in[input]].init_index];
  if (w->dtype != TQ_DTYPE_FLOAT32) return TQ_OK;
  node_rt *n = &s->nodes[node];
  if (!n->wq) {
    n->wq = calloc(g->nodes[node].n_in, sizeof *n->wq);
    if (!n->wq) return tq_error_nomem(ctx);
  }
  if (!n->wq[input]) {
    tq_status st = tq_tensor_clone(ctx, w, &n->wq[input]);
    if (st != TQ_OK) return st;
  }
  tq_quant_opts o = {.seed = s->seed,
                     .stream = STREAM(STREAM_WEIGHTS, node, input),
                     .offset = offset};
  return tq_quantize_weight_like(ctx, s, node, input, q, tq_cf32(w),
                                 tq_f32(n->wq[input]), w->numel, &o);
}

tq_status tq_session_set_maps(tq_context *ctx, tq_session *s,
                              const tq_qmap_set *maps) {
  const tq_graph *g = s->g;
  free_weights(s);
  s->maps = maps;
  if (s->map_view == TQ_MAP_VIEW_LAYERS)
    return tq_session_resolve_layer_maps(ctx, s, maps);
  for (size_t i = 0; i < g->n_nodes; i++) {
    const tq_node *gn = &g->nodes[i];
    node_rt *n = &s->nodes[i];
    for (int k = 0; k < TQ_MAP_KIND_COUNT; k++)
      tq_qmap_resolve(maps ? tq_qmap_set_get(maps, (tq_map_kind)k) : NULL,
                      gn->id, (const char *const *)gn->weight_names,
                      gn->n_weights, &n->match[k]);
    if (!(n->flags & TQ_OPF_INTRINSIC)) n->match[TQ_MAP_INTRINSIC].matched = 0;
    tq_status st0 = tq_check_site_kinds(ctx, s, i);
    if (st0 != TQ_OK) return st0;
    const tq_qmap_match *wm = &n->match[TQ_MAP_WEIGHTS];
    if (wm->matched && wm->value->quantizer && (n->flags & TQ_OPF_WEIGHTS))
      for (size_t k = 1; k < gn->n_in; k++)
        if (gn->in[k] >= 0 && g->values[gn->in[k]].init_index >= 0) {
          tq_status st =
              tq_session_quantize_weight(ctx, s, i, k, wm->value->quantizer, 0);
          if (st != TQ_OK) return st;
        }
  }
  return TQ_OK;
}

tq_status tq_session_requantize_weights(tq_context *ctx, tq_session *s,
                                        uint64_t offset) {
  const tq_graph *g = s->g;
  tq_session_clear_caches(s);
  for (size_t i = 0; i < g->n_nodes; i++) {
    const node_rt *n = &s->nodes[i];
    const tq_qmap_match *wm = &n->match[TQ_MAP_WEIGHTS];
    if (!n->wq || !wm->matched || !wm->value->quantizer) continue;
    /* From input 0: under the layer view a parameter may come first
     * (Add(bias, x)); under the node view wq[0] is always NULL. */
    for (size_t k = 0; k < g->nodes[i].n_in; k++)
      if (n->wq[k]) {
        tq_status st = tq_session_quantize_weight(ctx, s, i, k,
                                                  wm->value->quantizer, offset);
        if (st != TQ_OK) return st;
      }
  }
  return TQ_OK;
}

/* ---- buffers --------------------------------------------------------------*/

/* Attaches memory for t from the pool (smallest buffer that fits). */
static tq_status attach(tq_context *ctx, tq_session *s, tq_tensor *t) {
  size_t bytes = (t->numel ? t->numel : 1) * tq_dtype_size(t->dtype);
  size_t best = s->n_pool;
  for (size_t i = 0; i < s->n_pool; i++)
    if (s->pool[i].bytes >= bytes &&
        (best == s->n_pool || s->pool[i].bytes < s->pool[best].bytes))
      best = i;
  t->owns_data = 0; /* the pool owns it */
  if (best < s->n_pool) {
    t->data = s->pool[best].data;
    t->cap_bytes = s->pool[best].bytes;
    s->pool[best] = s->pool[--s->n_pool];
    return TQ_OK;
  }
  t->data = malloc(bytes);
  if (!t->data) return tq_error_nomem(ctx);
  t->cap_bytes = bytes;
  return TQ_OK;
}

/* The input value whose buffer node i may write its output into, or -1:
 * the operator works in place (TQ_OPF_INPLACE), this node is the value's
 * last reader, the session owns the value (not a model input, constant,
 * output or lent value) and it has the output's dtype and shape. Saves a
 * buffer and a pass over cold memory per activation. */
static int inplace_donor(const tq_session *s, size_t i, const tq_tensor *out) {
  const tq_graph *g = s->g;
  const tq_node *gn = &g->nodes[i];
  if (!(s->nodes[i].flags & TQ_OPF_INPLACE) || gn->n_out != 1) return -1;
  for (size_t k = 0; k < gn->n_in; k++) {
    const int v = gn->in[k];
    if (v < 0 || s->last_use[v] != (int)i || s->is_const[v] ||
        s->is_output[v] || g->values[v].input_index >= 0 || s->lent[v])
      continue;
    const tq_tensor *t = s->values[v];
    if (t->data && t->dtype == out->dtype &&
        tq_shape_equal(&t->shape, &out->shape))
      return v;
  }
  return -1;
}

/* Returns t's memory to the pool. */
static void release(tq_session *s, tq_tensor *t) {
  if (!t->data) return;
  size_t bytes = t->cap_bytes;
  if (s->n_pool == s->cap_pool) {
    size_t cap = s->cap_pool ? 2 * s->cap_pool : 16;
    pool_buf *p = realloc(s->pool, cap * sizeof *p);
    if (!p) { /* cannot keep it: just free */
      free(t->data);
      t->data = NULL;
      return;
    }
    s->pool = p;
    s->cap_pool = cap;
  }
  s->pool[s->n_pool].data = t->data;
  s->pool[s->n_pool].bytes = bytes;
  s->n_pool++;
  t->data = NULL;
  t->cap_bytes = 0;
}

/* ---- planning -------------------------------------------------------------*/

/* Fills c for node i: inputs (float masters), outputs, attributes,
 * threads, seed and stream. */
static void fill_call(tq_session *s, tq_context *ctx, size_t i,
                      const tq_tensor **in, tq_tensor **out, tq_op_call *c) {
  const tq_graph *g = s->g;
  const tq_node *gn = &g->nodes[i];
  memset(c, 0, sizeof *c);
  c->ctx = ctx;
  c->desc = s->nodes[i].desc;
  c->params = s->nodes[i].params;
  c->node_id = gn->id;
  c->op_type = gn->op_type;
  c->opset = g->opset;
  c->attrs = gn->attrs;
  c->n_attrs = gn->n_attrs;
  for (size_t k = 0; k < gn->n_in; k++) {
    int v = gn->in[k];
    in[k] = v < 0 ? NULL : s->values[v];
  }
  for (size_t k = 0; k < gn->n_out; k++) out[k] = s->values[gn->out[k]];
  c->in = in;
  c->n_in = gn->n_in;
  c->out = out;
  c->n_out = gn->n_out;
  c->threads = tq_context_threads(ctx);
  c->seed = s->seed;
  c->stream = STREAM(STREAM_INTRINSIC, i, 0);
  c->user = s->nodes[i].desc->user;
}

/* Parses node i's attributes into its params, the first time it is
 * planned: a bad attribute fails here, naming the node and attribute. */
static tq_status parse_node(tq_context *ctx, tq_session *s, size_t i) {
  node_rt *n = &s->nodes[i];
  if (n->parsed) return TQ_OK;
  const tq_node *gn = &s->g->nodes[i];
  const tq_op_parse p = {.ctx = ctx,
                         .desc = n->desc,
                         .node_id = gn->id,
                         .op_type = gn->op_type,
                         .opset = s->g->opset,
                         .attrs = gn->attrs,
                         .n_attrs = gn->n_attrs,
                         .n_in = gn->n_in,
                         .n_out = gn->n_out};
  tq_status st = tq_op_parse_params(&p, &n->params);
  n->parsed = st == TQ_OK;
  return st;
}

/* Relu fusion: a TQ_OPF_POST_RELU node (Conv, Add, ...) whose output
 * feeds one Relu node and nothing else (not a model output) applies the
 * Relu itself while its output is in the caches; the Relu node then only
 * passes the buffer on (tq_session_run_from). With a single reader, that
 * reader is the value's last_use. */
static tq_status plan_relu_fusion(tq_context *ctx, tq_session *s) {
  const tq_graph *g = s->g;
  int *readers = calloc(g->n_values ? g->n_values : 1, sizeof *readers);
  if (!readers) return tq_error_nomem(ctx);
  for (size_t j = 0; j < g->n_nodes; j++)
    for (size_t k = 0; k < g->nodes[j].n_in; k++)
      if (g->nodes[j].in[k] >= 0) readers[g->nodes[j].in[k]]++;
  for (size_t i = 0; i < g->n_nodes; i++) {
    node_rt *n = &s->nodes[i];
    const tq_node *gn = &g->nodes[i];
    n->relu_next = -1;
    if (!(n->flags & TQ_OPF_POST_RELU) || n->folded || gn->n_out != 1) continue;
    const int v = gn->out[0], j = s->last_use[v];
    if (s->is_output[v] || s->is_const[v] || j < 0 || readers[v] != 1) continue;
    if (g->nodes[j].n_in == 1 && s->nodes[j].desc->id == TQ_OP_RELU)
      n->relu_next = j;
  }
  free(readers);
  return TQ_OK;
}

tq_status tq_session_plan(tq_context *ctx, tq_session *s,
                          const tq_shape *input_shapes, size_t n_inputs) {
  const tq_graph *g = s->g;
  if (n_inputs != g->n_inputs)
    return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "the model has %zu input(s), got %zu", g->n_inputs,
                    n_inputs);
  for (size_t i = 0; i < n_inputs; i++) {
    const tq_shape *want = &g->input_shapes[i], *got = &input_shapes[i];
    int ok = want->ndim == got->ndim;
    for (int d = 0; ok && d < want->ndim; d++)
      ok = want->dims[d] < 0 || want->dims[d] == got->dims[d];
    if (!ok) {
      char a[128], b[128];
      tq_shape_format(want, a, sizeof a);
      tq_shape_format(got, b, sizeof b);
      return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                      "input '%s' must have shape %s (-1: any size), got %s",
                      g->values[g->inputs[i]].name, a, b);
    }
  }
  free_plan(s);
  size_t nv = g->n_values;
  s->values = calloc(nv ? nv : 1, sizeof *s->values);
  s->is_const = calloc(nv ? nv : 1, 1);
  s->owned = calloc(nv ? nv : 1, 1);
  s->is_output = calloc(nv ? nv : 1, 1);
  s->lent = calloc(nv ? nv : 1, 1);
  s->last_use = malloc((nv ? nv : 1) * sizeof *s->last_use);
  s->plan_shapes = malloc((n_inputs ? n_inputs : 1) * sizeof *s->plan_shapes);
  if (!s->values || !s->is_const || !s->owned || !s->is_output || !s->lent ||
      !s->last_use || !s->plan_shapes) {
    free_plan(s);
    return tq_error_nomem(ctx);
  }
  if (n_inputs)
    memcpy(s->plan_shapes, input_shapes, n_inputs * sizeof *input_shapes);
  for (size_t v = 0; v < nv; v++) s->last_use[v] = -1;
  for (size_t i = 0; i < g->n_outputs; i++) s->is_output[g->outputs[i]] = 1;
  for (size_t i = 0; i < g->n_inits; i++) {
    s->values[g->init_values[i]] = g->inits[i]; /* borrowed, read-only */
    s->is_const[g->init_values[i]] = 1;
  }
  tq_status st = TQ_OK;
  for (size_t i = 0; i < n_inputs && st == TQ_OK; i++) {
    tq_tensor *t = calloc(1, sizeof *t);
    if (!t) {
      st = tq_error_nomem(ctx);
      break;
    }
    t->lazy = 1;
    t->dtype = g->input_dtypes[i];
    t->shape = input_shapes[i];
    tq_shape_check(NULL, &t->shape, &t->numel);
    s->values[g->inputs[i]] = t;
    s->owned[g->inputs[i]] = 1;
  }
  for (size_t i = 0; i < g->n_nodes && st == TQ_OK; i++) {
    const tq_node *gn = &g->nodes[i];
    node_rt *n = &s->nodes[i];
    if (gn->n_in > MAX_IO || gn->n_out > MAX_IO) {
      st = tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "node '%s' (%s) has more than %d inputs or outputs", gn->id,
                    gn->op_type, MAX_IO);
      break;
    }
    int all_const = 1, any_int = 0;
    for (size_t k = 0; k < gn->n_in; k++) {
      int v = gn->in[k];
      if (v < 0) continue;
      all_const &= s->is_const[v];
      any_int |= !tq_dtype_is_float(s->values[v]->dtype);
      s->last_use[v] = (int)i;
    }
    /* Fold what is known now: shape arithmetic, and any node whose inputs
     * are all constants (scales built from Constant/Div chains...) -
     * except operators with weights, which must stay run-time nodes so the
     * weights map applies to them. */
    /* Data derived from inputs after the first may be kept between runs
     * when they are all constants (the operator cache). */
    n->cacheable = gn->n_in > 1;
    for (size_t k = 1; k < gn->n_in; k++)
      n->cacheable &= gn->in[k] < 0 || s->is_const[gn->in[k]];
    n->folded = (n->flags & TQ_OPF_SHAPE_ONLY) ||
                (all_const &&
                 (gn->n_in == 0 || any_int || !(n->flags & TQ_OPF_WEIGHTS)));
    for (size_t k = 0; k < gn->n_out; k++) {
      tq_tensor *t = calloc(1, sizeof *t);
      if (!t) {
        st = tq_error_nomem(ctx);
        break;
      }
      t->lazy = !n->folded;
      s->values[gn->out[k]] = t;
      s->owned[gn->out[k]] = 1;
    }
    if (st != TQ_OK) break;
    if ((st = parse_node(ctx, s, i)) != TQ_OK) break;
    const tq_tensor *in[MAX_IO];
    tq_tensor *out[MAX_IO];
    tq_op_call c;
    fill_call(s, ctx, i, in, out, &c);
    c.plan_time = n->folded;
    st = tq_op_check_types(&c, (const char *const *)gn->in_names);
    if (st == TQ_OK) st = n->desc->infer(&c);
    if (st == TQ_OK && n->folded) {
      st = n->desc->forward(&c);
      for (size_t k = 0; k < gn->n_out; k++) s->is_const[gn->out[k]] = 1;
    }
  }
  if (st != TQ_OK) {
    free_plan(s);
    return st;
  }
  st = plan_relu_fusion(ctx, s);
  if (st != TQ_OK) {
    free_plan(s);
    return st;
  }
  s->planned = 1;
  return TQ_OK;
}

const tq_shape *tq_session_value_shape(const tq_session *s, const char *name) {
  if (!s->planned) return NULL;
  int v = tq_graph_find_value(s->g, name);
  return v < 0 || !s->values[v] ? NULL : &s->values[v]->shape;
}

tq_dtype tq_session_value_dtype(const tq_session *s, const char *name) {
  if (!s->planned) return TQ_DTYPE_COUNT;
  int v = tq_graph_find_value(s->g, name);
  return v < 0 || !s->values[v] ? TQ_DTYPE_COUNT : s->values[v]->dtype;
}

/* ---- running --------------------------------------------------------------*/

const tq_quantizer *tq_session_extrinsic_quantizer(const tq_session *s,
                                                   size_t node) {
  const tq_qmap_match *m = &s->nodes[node].match[TQ_MAP_EXTRINSIC];
  return m->matched ? m->value->quantizer : NULL;
}

tq_status tq_session_extrinsic(tq_context *ctx, tq_session *s, size_t node,
                               size_t k, const tq_tensor *in, tq_tensor *out,
                               uint64_t sample_offset) {
  const tq_quantizer *q = tq_session_extrinsic_quantizer(s, node);
  if (!q || in->dtype != TQ_DTYPE_FLOAT32 || !in->numel) return TQ_OK;
  tq_quant_opts o = {.seed = s->seed,
                     .stream = STREAM(STREAM_EXTRINSIC, node, k),
                     .offset = sample_offset * tq_per_sample(in)};
  return tq_quantize_activation(ctx, s, node, q, in, out, &o);
}

void tq_session_run_call(tq_session *s, tq_context *ctx, size_t i,
                         const tq_tensor **in, tq_tensor **out, tq_op_call *c,
                         uint64_t sample_offset) {
  node_rt *n = &s->nodes[i];
  fill_call(s, ctx, i, in, out, c);
  if (n->wq)
    for (size_t k = 0; k < s->g->nodes[i].n_in; k++)
      if (n->wq[k]) in[k] = n->wq[k];
  if (n->match[TQ_MAP_INTRINSIC].matched)
    c->intrinsic = n->match[TQ_MAP_INTRINSIC].value;
  c->sample_offset = sample_offset;
  if (n->cacheable) c->cache = &n->cache;
}

tq_status tq_session_run(tq_context *ctx, tq_session *s,
                         const tq_tensor *const *inputs, size_t n_inputs,
                         tq_tensor **outputs, size_t n_outputs,
                         const tq_run_opts *opts) {
  return tq_session_run_from(ctx, s, inputs, n_inputs, 0, NULL, outputs,
                             n_outputs, opts);
}

int tq_session_value_lent(const tq_session *s, size_t v, size_t start) {
  const tq_graph *g = s->g;
  const int p = g->values[v].producer;
  if (!s->planned || p < 0 || (size_t)p >= start || s->is_const[v]) return 0;
  return s->is_output[v] ||
         (s->last_use[v] >= 0 && (size_t)s->last_use[v] >= start);
}

size_t tq_session_first_quantized_node(const tq_session *s) {
  for (size_t i = 0; i < s->g->n_nodes; i++) {
    const node_rt *n = &s->nodes[i];
    if (n->folded) continue;
    if (n->match[TQ_MAP_EXTRINSIC].matched ||
        n->match[TQ_MAP_INTRINSIC].matched)
      return i;
    for (size_t k = 0; n->wq && k < s->g->nodes[i].n_in; k++)
      if (n->wq[k]) return i;
  }
  return s->g->n_nodes;
}

/* Checks the inputs against the graph's declarations (every one given,
 * of the declared dtype) and plans again when their shapes changed. */
static tq_status check_and_plan(tq_context *ctx, tq_session *s,
                                const tq_tensor *const *inputs,
                                size_t n_inputs) {
  const tq_graph *g = s->g;
  for (size_t i = 0; i < n_inputs; i++) {
    const char *name = g->values[g->inputs[i]].name;
    if (!inputs[i])
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "input %zu ('%s') is missing (NULL)", i, name);
    if (inputs[i]->dtype != g->input_dtypes[i])
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "input '%s' is %s, but the model declares it %s", name,
                      tq_dtype_name(inputs[i]->dtype),
                      tq_dtype_name(g->input_dtypes[i]));
  }
  int replan = !s->planned;
  for (size_t i = 0; !replan && i < n_inputs; i++)
    replan = !tq_shape_equal(&inputs[i]->shape, &s->plan_shapes[i]);
  if (!replan) return TQ_OK;
  tq_shape *shapes = malloc((n_inputs ? n_inputs : 1) * sizeof *shapes);
  if (!shapes) return tq_error_nomem(ctx);
  for (size_t i = 0; i < n_inputs; i++) shapes[i] = inputs[i]->shape;
  tq_status st = tq_session_plan(ctx, s, shapes, n_inputs);
  free(shapes);
  return st;
}

tq_status tq_session_run_from(tq_context *ctx, tq_session *s,
                              const tq_tensor *const *inputs, size_t n_inputs,
                              size_t start, const tq_tensor *const *lent,
                              tq_tensor **outputs, size_t n_outputs,
                              const tq_run_opts *opts) {
  return tq_session_run_outputs(ctx, s, inputs, n_inputs, start, lent, NULL,
                                outputs, n_outputs, opts);
}

tq_status tq_session_run_outputs(tq_context *ctx, tq_session *s,
                                 const tq_tensor *const *inputs,
                                 size_t n_inputs, size_t start,
                                 const tq_tensor *const *lent,
                                 const size_t *out_index, tq_tensor **outputs,
                                 size_t n_outputs, const tq_run_opts *opts) {
  const tq_graph *g = s->g;
  if (n_inputs != g->n_inputs || (!out_index && n_outputs > g->n_outputs) ||
      (n_inputs && !inputs) || (n_outputs && !outputs))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "the model takes %zu input(s) and gives %zu output(s); "
                    "the call passed %zu and asked for %zu",
                    g->n_inputs, g->n_outputs, n_inputs, n_outputs);
  for (size_t i = 0; i < n_outputs; i++) {
    outputs[i] = NULL;
    if (out_index && out_index[i] >= g->n_outputs)
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "output %zu does not exist (the model has %zu)",
                      out_index[i], g->n_outputs);
  }
  tq_status st0 = check_and_plan(ctx, s, inputs, n_inputs);
  if (st0 != TQ_OK) return st0;
  uint64_t sample_offset = opts ? opts->sample_offset : 0;
  /* Inputs are used in place: the graph never writes them. */
  for (size_t i = 0; i < n_inputs; i++) {
    tq_tensor *t = s->values[g->inputs[i]];
    t->data = inputs[i]->data;
    t->owns_data = 0;
  }
  /* Values computed before `start` are borrowed from the caller, like the
   * inputs: read in place, never written, never pooled. */
  tq_status st = TQ_OK;
  /* All checked before any is attached, so a refusal leaves nothing
   * pointing at the caller's memory. */
  for (size_t v = 0; start && v < g->n_values; v++) {
    if (!tq_session_value_lent(s, v, start)) continue;
    const tq_tensor *src = lent ? lent[v] : NULL;
    const tq_tensor *t = s->values[v];
    if (!src || !src->data || src->dtype != t->dtype ||
        !tq_shape_equal(&src->shape, &t->shape)) {
      for (size_t i = 0; i < n_inputs; i++)
        s->values[g->inputs[i]]->data = NULL;
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "run from node %zu: value '%s' must be lent with the "
                      "planned shape",
                      start, g->values[v].name);
    }
  }
  for (size_t v = 0; start && v < g->n_values; v++) {
    s->lent[v] = (unsigned char)tq_session_value_lent(s, v, start);
    if (!s->lent[v]) continue;
    s->values[v]->data = lent[v]->data;
    s->values[v]->owns_data = 0;
  }
  /* Flags of an earlier run (stopped by an error, say) must not skip a
   * Relu whose producer does not fuse this time. */
  for (size_t i = 0; i < g->n_nodes; i++) s->nodes[i].relu_ready = 0;
  for (size_t i = start; i < g->n_nodes && st == TQ_OK; i++) {
    node_rt *n = &s->nodes[i];
    if (n->folded) continue;
    const tq_node *gn = &g->nodes[i];
    const tq_tensor *in[MAX_IO];
    tq_tensor *out[MAX_IO];
    tq_op_call c;
    tq_session_run_call(s, ctx, i, in, out, &c, sample_offset);
    const int donor = inplace_donor(s, i, out[0]);
    if (donor >= 0) { /* the output takes over the input's buffer */
      tq_tensor *d = s->values[donor];
      out[0]->data = d->data;
      out[0]->cap_bytes = d->cap_bytes;
      out[0]->owns_data = 0;
    }
    for (size_t k = donor >= 0 ? 1 : 0; k < gn->n_out && st == TQ_OK; k++)
      st = attach(ctx, s, out[k]); /* none with a donor: it has one output */
    if (st != TQ_OK) break;
    /* The Relu after this node, applied here: not when this node's output
     * is quantized (the Relu reads the quantized values) or observed. */
    c.post_relu = n->relu_next >= 0 && !s->observer &&
                  !tq_session_extrinsic_quantizer(s, i);
    if (n->relu_ready && donor == gn->in[0]) {
      st = TQ_OK; /* a fused Relu: the data is already its output */
    } else {
      st = n->desc->forward(&c);
      n->impl = c.impl;
    }
    if (st == TQ_OK && c.post_relu && c.post_relu_done)
      s->nodes[n->relu_next].relu_ready = 1;
    if (donor >= 0) { /* now the output's alone */
      s->values[donor]->data = NULL;
      s->values[donor]->cap_bytes = 0;
    }
    for (size_t k = 0; k < gn->n_out && st == TQ_OK; k++) {
      st = tq_session_extrinsic(ctx, s, i, k, out[k], out[k], sample_offset);
      if (st == TQ_OK && s->observer &&
          s->observer(s->observer_user, i, gn->id, k,
                      g->values[gn->out[k]].name, out[k]))
        st = tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "run stopped by the observer at node '%s'", gn->id);
    }
    /* Values whose last reader this was go back to the pool. */
    for (size_t k = 0; k < gn->n_in; k++) {
      int v = gn->in[k];
      if (v >= 0 && s->last_use[v] == (int)i && !s->is_const[v] &&
          !s->is_output[v] && g->values[v].input_index < 0 && !s->lent[v])
        release(s, s->values[v]);
    }
    for (size_t k = 0; k < gn->n_out; k++) {
      int v = gn->out[k];
      if (s->last_use[v] < 0 && !s->is_output[v]) release(s, out[k]);
    }
  }
  for (size_t i = 0; i < n_outputs && st == TQ_OK; i++)
    st = tq_tensor_clone(
        ctx, s->values[g->outputs[out_index ? out_index[i] : i]], &outputs[i]);
  /* Leave no run-time memory attached: outputs too go back to the pool. */
  for (size_t v = 0; v < g->n_values; v++) {
    tq_tensor *t = s->values[v];
    if (!t || s->is_const[v]) continue;
    if (g->values[v].input_index >= 0 || s->lent[v]) {
      t->data = NULL;
      s->lent[v] = 0;
      continue;
    }
    release(s, t);
  }
  if (st != TQ_OK)
    for (size_t i = 0; i < n_outputs; i++) {
      tq_tensor_destroy(outputs[i]);
      outputs[i] = NULL;
    }
  return st;
}
