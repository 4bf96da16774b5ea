/* The trainer: training-mode forward with the quantization hooks, softmax
 * cross-entropy, backward through every node with straight-through
 * quantizer gradients and the gradients map, then the optimizer step and
 * the updates map (optimizer.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/quant_site.h"
#include "train/train_internal.h"

/* ---- parameters and the loss head ---------------------------------------*/

int tq_train_is_float_init(const tq_graph *g, int v) {
  return v >= 0 && g->values[v].init_index >= 0 &&
         g->inits[g->values[v].init_index]->dtype == TQ_DTYPE_FLOAT32;
}

unsigned tq_train_state_inputs(const tq_trainer *t, size_t node) {
  return t->s->nodes[node].desc->state_inputs;
}

static tq_op_id op_of(const tq_trainer *t, size_t node) {
  return t->s->nodes[node].desc->id;
}

/* Which float initializers train (see train.h). */
static int trainable_input(const tq_trainer *t, size_t node, size_t k) {
  const tq_graph *g = t->g;
  const tq_node *n = &g->nodes[node];
  const int v = n->in[k];
  if (!tq_train_is_float_init(g, v)) return 0;
  if ((t->s->nodes[node].flags & TQ_OPF_WEIGHTS) && k >= 1)
    return !(tq_train_state_inputs(t, node) & (1u << k));
  if (op_of(t, node) == TQ_OP_ADD && n->n_in == 2) {
    const int other = n->in[1 - k];
    const int p = other >= 0 ? g->values[other].producer : -1;
    return p >= 0 && op_of(t, (size_t)p) == TQ_OP_MATMUL;
  }
  return 0;
}

static tq_status find_params(tq_context *ctx, tq_trainer *t) {
  const tq_graph *g = t->g;
  t->param_of_value = malloc((g->n_values ? g->n_values : 1) * sizeof(int));
  t->params = calloc(g->n_inits ? g->n_inits : 1, sizeof *t->params);
  if (!t->param_of_value || !t->params) return tq_error_nomem(ctx);
  for (size_t v = 0; v < g->n_values; v++) t->param_of_value[v] = -1;
  for (size_t i = 0; i < g->n_nodes; i++) {
    for (size_t k = 0; k < g->nodes[i].n_in; k++) {
      const int v = g->nodes[i].in[k];
      if (!trainable_input(t, i, k) || t->param_of_value[v] >= 0) continue;
      tq_param *p = &t->params[t->n_params];
      p->value = v;
      p->init = g->values[v].init_index;
      p->node = i;
      p->input = k;
      t->param_of_value[v] = (int)t->n_params++;
    }
  }
  return TQ_OK;
}

/* Softmax or LogSoftmax at the output: the loss starts at its input. */
static void find_head(tq_trainer *t) {
  const tq_graph *g = t->g;
  t->logits_value = g->outputs[0];
  if (tq_output_scores(g, &t->head_node) != TQ_SCORES_LOGITS)
    t->logits_value = g->nodes[t->head_node].in[0];
}

/* Values on the gradient path: parameters, and outputs of (run-time)
 * nodes that read one. folded: per node, or NULL before planning. */
static void mark_grad_path(const tq_trainer *t, const tq_session *s,
                           unsigned char *needs) {
  const tq_graph *g = t->g;
  memset(needs, 0, g->n_values ? g->n_values : 1);
  for (size_t i = 0; i < t->n_params; i++) needs[t->params[i].value] = 1;
  for (size_t i = 0; i < g->n_nodes; i++) {
    if ((int)i == t->head_node || (s && s->nodes[i].folded)) continue;
    const tq_node *n = &g->nodes[i];
    int any = 0;
    for (size_t k = 0; k < n->n_in; k++)
      any |= n->in[k] >= 0 && needs[n->in[k]];
    if (any)
      for (size_t k = 0; k < n->n_out; k++) needs[n->out[k]] = 1;
  }
}

/* Every node on the gradient path needs a backward. */
static tq_status check_backward(tq_context *ctx, const tq_trainer *t) {
  const tq_graph *g = t->g;
  unsigned char *needs = malloc(g->n_values ? g->n_values : 1);
  if (!needs) return tq_error_nomem(ctx);
  mark_grad_path(t, NULL, needs);
  char list[1024] = "";
  size_t missing = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const tq_node *n = &g->nodes[i];
    if ((int)i == t->head_node || !n->n_out || !needs[n->out[0]]) continue;
    /* user operators have no backward (yet) */
    if (t->s->nodes[i].desc->backward) continue;
    if (missing++ < 8) {
      size_t used = strlen(list);
      snprintf(list + used, sizeof list - used, "%s'%s' (%s)", used ? ", " : "",
               n->id, n->op_type);
    }
  }
  free(needs);
  if (missing)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "cannot train this model: %zu node(s) on the gradient "
                    "path have no backward: %s%s",
                    missing, list, missing > 8 ? ", ..." : "");
  if (!t->n_params)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "the model has no trainable parameters (float weights "
                    "of Conv, Gemm, MatMul, BatchNormalization, ...)");
  return TQ_OK;
}

/* ---- create / destroy ----------------------------------------------------*/

static void free_plan_buffers(tq_trainer *t) {
  const tq_graph *g = t->g;
  for (size_t v = 0; t->pre && v < g->n_values; v++) {
    tq_tensor_destroy(t->pre[v]);
    tq_tensor_destroy(t->grad[v]);
  }
  if (t->scratch)
    for (size_t i = 0; i < g->n_nodes; i++) {
      if (!t->scratch[i]) continue;
      for (size_t k = 0; k < g->nodes[i].n_in; k++)
        tq_tensor_destroy(t->scratch[i][k]);
      free(t->scratch[i]);
    }
  free(t->pre);
  free(t->grad);
  free(t->scratch);
  free(t->needs_grad);
  free(t->consumers);
  t->pre = t->grad = NULL;
  t->scratch = NULL;
  t->needs_grad = NULL;
  t->consumers = NULL;
  t->planned = 0;
}

void tq_trainer_destroy(tq_trainer *t) {
  if (!t) return;
  free_plan_buffers(t);
  for (size_t i = 0; i < t->n_params; i++) {
    free(t->params[i].m);
    free(t->params[i].v);
  }
  free(t->params);
  free(t->param_of_value);
  free(t->chunk_buf);
  free(t->recv_buf);
  free(t->state_start);
  tq_session_destroy(t->s);
  free(t);
}

tq_status tq_trainer_create(tq_context *ctx, tq_graph *g,
                            const tq_train_config *cfg, tq_trainer **out) {
  if (!g || !out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_trainer_create: NULL argument");
  *out = NULL;
  tq_train_config def;
  if (!cfg) {
    tq_train_config_default(&def);
    cfg = &def;
  }
  if ((unsigned)cfg->optimizer >= TQ_OPTIMIZER_COUNT ||
      (unsigned)cfg->schedule >= TQ_SCHEDULE_COUNT || !(cfg->lr > 0) ||
      !isfinite(cfg->lr) || cfg->momentum < 0 || cfg->weight_decay < 0)
    return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                    "invalid training configuration: the learning rate must "
                    "be a positive number, momentum and weight decay >= 0");
  if (g->n_inputs != 1 || g->n_outputs < 1)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "training needs a model with one input and at least one "
                    "output (it has %zu and %zu)",
                    g->n_inputs, g->n_outputs);
  tq_trainer *t = calloc(1, sizeof *t);
  if (!t) return tq_error_nomem(ctx);
  t->g = g;
  t->cfg = *cfg;
  t->lr = cfg->lr;
  tq_status st = tq_session_create(ctx, g, &t->s);
  if (st == TQ_OK) st = find_params(ctx, t);
  if (st == TQ_OK) {
    find_head(t);
    st = check_backward(ctx, t);
  }
  for (size_t i = 0; st == TQ_OK && i < t->n_params; i++) {
    const size_t n = g->inits[t->params[i].init]->numel;
    t->params[i].m = calloc(n ? n : 1, sizeof(float));
    if (cfg->optimizer == TQ_OPTIMIZER_ADAM)
      t->params[i].v = calloc(n ? n : 1, sizeof(float));
    if (!t->params[i].m ||
        (cfg->optimizer == TQ_OPTIMIZER_ADAM && !t->params[i].v))
      st = tq_error_nomem(ctx);
  }
  if (st != TQ_OK) {
    tq_trainer_destroy(t);
    return st;
  }
  *out = t;
  return TQ_OK;
}

tq_status tq_trainer_set_maps(tq_context *ctx, tq_trainer *t,
                              const tq_qmap_set *maps) {
  return tq_session_set_maps(ctx, t->s, maps);
}

void tq_trainer_set_seed(tq_trainer *t, uint64_t seed) {
  t->seed = seed;
  tq_session_set_seed(t->s, seed);
}

void tq_trainer_set_comm(tq_trainer *t, const tq_comm *comm) {
  t->comm = comm;
}

void tq_trainer_set_lr(tq_trainer *t, double lr) {
  t->lr = lr;
}
uint64_t tq_trainer_steps(const tq_trainer *t) {
  return t->steps;
}
size_t tq_trainer_param_count(const tq_trainer *t) {
  return t->n_params;
}

const char *tq_trainer_param_name(const tq_trainer *t, size_t i) {
  return i < t->n_params ? t->g->values[t->params[i].value].name : NULL;
}

const tq_tensor *tq_trainer_param_grad(const tq_trainer *t, size_t i) {
  if (i >= t->n_params || !t->grad) return NULL;
  return t->grad[t->params[i].value];
}

/* ---- planning
 * --------------------------------------------------------------*/

static tq_status new_like(tq_context *ctx, const tq_tensor *like,
                          tq_tensor **out) {
  return tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &like->shape, out);
}

static tq_status plan(tq_context *ctx, tq_trainer *t, const tq_shape *xs) {
  free_plan_buffers(t);
  tq_session *s = t->s;
  tq_status st = tq_session_plan(ctx, s, xs, 1);
  if (st != TQ_OK) return st;
  const tq_graph *g = t->g;
  const size_t nv = g->n_values ? g->n_values : 1;
  t->needs_grad = malloc(nv);
  t->consumers = calloc(nv, sizeof *t->consumers);
  t->pre = calloc(nv, sizeof *t->pre);
  t->grad = calloc(nv, sizeof *t->grad);
  t->scratch = calloc(g->n_nodes ? g->n_nodes : 1, sizeof *t->scratch);
  if (!t->needs_grad || !t->consumers || !t->pre || !t->grad || !t->scratch)
    return tq_error_nomem(ctx);
  mark_grad_path(t, s, t->needs_grad);
  /* Run-time values get buffers of their own for the whole step. */
  for (size_t v = 0; v < g->n_values; v++) {
    tq_tensor *val = s->values[v];
    if (!val || s->is_const[v] || g->values[v].input_index >= 0) continue;
    if (!val->data) {
      size_t bytes = (val->numel ? val->numel : 1) * tq_dtype_size(val->dtype);
      val->data = malloc(bytes);
      if (!val->data) return tq_error_nomem(ctx);
      val->owns_data = 1;
      val->cap_bytes = bytes;
    }
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    const tq_node *n = &g->nodes[i];
    if (s->nodes[i].folded || (int)i == t->head_node) continue;
    for (size_t k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0 && t->needs_grad[n->in[k]]) t->consumers[n->in[k]]++;
  }
  for (size_t v = 0; v < g->n_values; v++) {
    if (!t->needs_grad[v] && (int)v != t->logits_value) continue;
    if ((st = new_like(ctx, s->values[v], &t->grad[v]))) return st;
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    const tq_node *n = &g->nodes[i];
    if (s->nodes[i].folded || (int)i == t->head_node) continue;
    for (size_t k = 0; k < n->n_in; k++) {
      const int v = n->in[k];
      if (v < 0 || !t->needs_grad[v] || t->consumers[v] < 2) continue;
      if (!t->scratch[i] && !(t->scratch[i] = calloc(n->n_in, sizeof(void *))))
        return tq_error_nomem(ctx);
      if ((st = new_like(ctx, s->values[v], &t->scratch[i][k]))) return st;
    }
  }
  t->plan_shape = *xs;
  t->planned = 1;
  return TQ_OK;
}

tq_status tq_trainer_prepare(tq_context *ctx, tq_trainer *t,
                             const tq_shape *input_shape, int64_t *classes) {
  if (!t->planned || !tq_shape_equal(&t->plan_shape, input_shape)) {
    tq_status st = plan(ctx, t, input_shape);
    if (st != TQ_OK) {
      free_plan_buffers(t);
      return st;
    }
  }
  const tq_tensor *lg = t->s->values[t->logits_value];
  if (lg->shape.ndim != 2 || lg->shape.dims[0] != input_shape->dims[0]) {
    char buf[128];
    tq_shape_format(&lg->shape, buf, sizeof buf);
    return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "the model's output '%s' has shape %s; training needs "
                    "class scores of shape [batch, classes]",
                    t->g->values[t->logits_value].name, buf);
  }
  if (classes) *classes = lg->shape.dims[1];
  return TQ_OK;
}

/* ---- forward
 * ---------------------------------------------------------------*/

/* The forward as a session runs it (tq_session_run_call), in training
 * mode, with BatchNormalization's running statistics as state. A float
 * output the backward needs before extrinsic quantization goes to its own
 * buffer (t->pre), quantized from there into the value the next nodes
 * read. */
static tq_status forward(tq_context *ctx, tq_trainer *t, uint64_t offset) {
  tq_session *s = t->s;
  const tq_graph *g = t->g;
  for (size_t i = 0; i < g->n_nodes; i++) {
    node_rt *n = &s->nodes[i];
    if (n->folded) continue;
    const tq_node *gn = &g->nodes[i];
    const tq_tensor *in[MAX_IO];
    tq_tensor *out[MAX_IO], *state[MAX_IO];
    tq_op_call c;
    tq_session_run_call(s, ctx, i, in, out, &c, offset);
    const unsigned smask = tq_train_state_inputs(t, i);
    for (size_t k = 0; k < gn->n_in; k++) {
      const int v = gn->in[k];
      state[k] = (smask & (1u << k)) && tq_train_is_float_init(g, v)
                     ? g->inits[g->values[v].init_index]
                     : NULL;
    }
    c.state = state;
    c.training = 1;
    tq_status st;
    const int quantized = tq_session_extrinsic_quantizer(s, i) != NULL;
    for (size_t k = 0; quantized && k < gn->n_out; k++) {
      const int v = gn->out[k];
      if (out[k]->dtype != TQ_DTYPE_FLOAT32 ||
          !(t->needs_grad[v] || v == t->logits_value))
        continue;
      if (!t->pre[v] && (st = new_like(ctx, out[k], &t->pre[v]))) return st;
      out[k] = t->pre[v];
    }
    if ((st = n->desc->forward(&c))) return st;
    for (size_t k = 0; quantized && k < gn->n_out; k++)
      if ((st = tq_session_extrinsic(ctx, s, i, k, out[k],
                                     s->values[gn->out[k]], offset)))
        return st;
  }
  return TQ_OK;
}

/* ---- loss ----------------------------------------------------------------*/

/* Softmax cross-entropy of logits [B, K]: the sum over the batch and the
 * top-1 hits. */
static tq_status loss_sum(tq_context *ctx, const tq_trainer *t,
                          const int64_t *labels, double *total_out,
                          size_t *correct_out) {
  const tq_tensor *lg = t->s->values[t->logits_value];
  const int64_t B = lg->shape.dims[0], K = lg->shape.dims[1];
  const float *z = tq_cf32(lg);
  double total = 0.0;
  size_t correct = 0;
  for (int64_t b = 0; b < B; b++) {
    if (labels[b] < 0 || labels[b] >= K)
      return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                      "label %lld of sample %lld is outside the model's %lld "
                      "classes",
                      (long long)labels[b], (long long)b, (long long)K);
    const float *zr = z + b * K;
    int64_t arg = 0;
    for (int64_t k = 1; k < K; k++)
      if (zr[k] > zr[arg]) arg = k;
    total += tq_log_sum_exp(zr, K) - zr[labels[b]];
    correct += arg == labels[b];
  }
  *total_out = total;
  *correct_out = correct;
  return TQ_OK;
}

/* The gradient of the summed loss divided by `batch`: the mean over this
 * batch, or, in data-parallel training, over the global batch (the ranks'
 * gradients then add up to the mean's). Labels are checked already. */
static void loss_grad(tq_trainer *t, const int64_t *labels, double batch) {
  const tq_tensor *lg = t->s->values[t->logits_value];
  const int64_t B = lg->shape.dims[0], K = lg->shape.dims[1];
  float *gr = tq_f32(t->grad[t->logits_value]);
  const float *z = tq_cf32(lg);
  for (int64_t b = 0; b < B; b++) {
    const float *zr = z + b * K;
    float *gb = gr + b * K;
    const double lse = tq_log_sum_exp(zr, K);
    for (int64_t k = 0; k < K; k++)
      gb[k] = (float)((exp(zr[k] - lse) - (k == labels[b])) / batch);
  }
}

static tq_status check_loss(tq_context *ctx, const tq_trainer *t,
                            const tq_step_result *res) {
  if (isfinite(res->loss)) return TQ_OK;
  return tq_error(
      ctx, TQ_ERR_NUMERIC, NULL, 0, 0, "the loss is %s at training step %llu",
      isnan(res->loss) ? "NaN" : "infinite", (unsigned long long)t->steps + 1);
}

/* ---- backward
 * --------------------------------------------------------------*/

/* ste=clipped: zero g where the quantizer's input x left its range. */
static void ste_mask(const tq_quantizer *q, const float *x, float *g,
                     size_t n) {
  if (!q || tq_quantizer_params(q)->ste != TQ_STE_CLIPPED) return;
  double lo, hi;
  tq_quantizer_range(q, &lo, &hi);
  for (size_t i = 0; i < n; i++)
    if (!(x[i] >= lo && x[i] <= hi)) g[i] = 0.0f;
}

static tq_status backward(tq_context *ctx, tq_trainer *t, uint64_t offset) {
  tq_session *s = t->s;
  const tq_graph *g = t->g;
  /* Gradients accumulate: every value on the path starts at zero, except
   * the logits, which the loss wrote. */
  for (size_t v = 0; v < g->n_values; v++)
    if (t->grad[v] && (int)v != t->logits_value && t->consumers[v] != 1)
      memset(t->grad[v]->data, 0, t->grad[v]->numel * sizeof(float));
  for (size_t ii = g->n_nodes; ii-- > 0;) {
    node_rt *n = &s->nodes[ii];
    const tq_node *gn = &g->nodes[ii];
    if (n->folded || (int)ii == t->head_node || !gn->n_out ||
        !t->needs_grad[gn->out[0]])
      continue;
    const tq_tensor *in[MAX_IO], *gout[MAX_IO];
    tq_tensor *out[MAX_IO], *gin[MAX_IO];
    tq_op_call c;
    tq_session_run_call(s, ctx, ii, in, out, &c, offset);
    c.training = 1;
    const tq_quantizer *eq = tq_session_extrinsic_quantizer(s, ii);
    for (size_t k = 0; k < gn->n_out; k++) {
      const int v = gn->out[k];
      if (eq && t->pre[v]) out[k] = t->pre[v];
      if (t->grad[v])
        ste_mask(eq, tq_cf32(out[k]), tq_f32(t->grad[v]), t->grad[v]->numel);
      gout[k] = t->grad[v];
    }
    for (size_t k = 0; k < gn->n_in; k++) {
      const int v = gn->in[k];
      gin[k] = NULL;
      if (v < 0 || !t->needs_grad[v]) continue;
      gin[k] = t->consumers[v] == 1 ? t->grad[v] : t->scratch[ii][k];
    }
    tq_status st = n->desc->backward(&c, gout, gin);
    if (st != TQ_OK) return st;
    const tq_qmap_match *gm = &n->match[TQ_MAP_GRADIENTS];
    const tq_quantizer *gq = gm->matched ? gm->value->quantizer : NULL;
    const tq_qmap_match *wm = &n->match[TQ_MAP_WEIGHTS];
    for (size_t k = 0; k < gn->n_in; k++) {
      if (!gin[k]) continue;
      const int v = gn->in[k];
      float *gk = tq_f32(gin[k]);
      const size_t cnt = gin[k]->numel;
      /* the weights quantizer's gradient, at the float master */
      if (n->wq && n->wq[k] && wm->matched)
        ste_mask(wm->value->quantizer,
                 tq_cf32(g->inits[g->values[v].init_index]), gk, cnt);
      /* A parameter's gradient is quantized once it is complete: after
       * the chunks' gradients are added up (quantize_param_grads). */
      if (gq && t->param_of_value[v] < 0) {
        tq_quant_opts qo = {.seed = t->seed,
                            .stream = STREAM(STREAM_GRADIENTS, ii, k),
                            .offset = offset * tq_per_sample(gin[k])};
        if ((st = tq_quantize_samples(ctx, gq, gin[k], gin[k], NULL, &qo)))
          return tq_error_in_layer(ctx, st, gn->id);
      }
      if (gin[k] != t->grad[v]) {
        float *acc = tq_f32(t->grad[v]);
        for (size_t e = 0; e < cnt; e++) acc[e] += gk[e];
      }
    }
  }
  return TQ_OK;
}

/* The gradients map on each parameter's complete gradient, with the
 * quantizer of the node the parameter belongs to (its first consumer).
 * Its random numbers are indexed by step, so every step draws new ones. */
static tq_status quantize_param_grads(tq_context *ctx, tq_trainer *t) {
  for (size_t i = 0; i < t->n_params; i++) {
    const tq_param *p = &t->params[i];
    const tq_qmap_match *gm = &t->s->nodes[p->node].match[TQ_MAP_GRADIENTS];
    if (!gm->matched || !gm->value->quantizer) continue;
    tq_tensor *g = t->grad[p->value];
    tq_quant_opts qo = {.seed = t->seed,
                        .stream = STREAM(STREAM_GRADIENTS, p->node, p->input),
                        .offset = t->steps * g->numel};
    tq_status st =
        tq_quantize_weight_like(ctx, t->s, p->node, p->input,
                                gm->value->quantizer, tq_cf32(g), tq_f32(g),
                                g->numel, &qo);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

/* ---- one step
 * --------------------------------------------------------------*/

/* Forward, loss and backward of one chunk: rows [0, S) of x_chunk, labels
 * checked, the loss gradient scaled by the global batch size. loss[0] and
 * loss[1] receive the chunk's summed loss and hits. A chunk whose loss is
 * not finite skips its backward: the step fails on the global loss. */
static tq_status chunk_pass(tq_context *ctx, tq_trainer *t, void *x_chunk,
                            const int64_t *labels, uint64_t offset,
                            double global_batch, double *loss) {
  tq_tensor *xin = t->s->values[t->g->inputs[0]];
  xin->data = x_chunk;
  xin->owns_data = 0;
  size_t correct = 0;
  tq_status st = forward(ctx, t, offset);
  if (st == TQ_OK) st = loss_sum(ctx, t, labels, &loss[0], &correct);
  loss[1] = (double)correct;
  if (st == TQ_OK && isfinite(loss[0])) {
    loss_grad(t, labels, global_batch);
    st = backward(ctx, t, offset);
  }
  xin->data = NULL;
  return st;
}

tq_status tq_trainer_step(tq_context *ctx, tq_trainer *t, const tq_tensor *x,
                          const int64_t *labels, uint64_t sample_offset,
                          tq_step_result *res) {
  if (!t || !x || !labels || !res || x->dtype != TQ_DTYPE_FLOAT32 ||
      x->shape.ndim < 1)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_trainer_step: NULL argument or non-float input");
  memset(res, 0, sizeof *res);
  const int dist = tq_train_distributed(t);
  const int k = tq_train_chunk_count(t);
  int c0, n_local;
  tq_train_local_chunks(t, &c0, &n_local);
  const int64_t rows = x->shape.dims[0];
  const int64_t each = n_local > 0 ? rows / n_local : 0;
  tq_shape cs = x->shape;
  cs.dims[0] = each;
  tq_status st = TQ_OK;
  if (n_local < 1 || each < 1 || each * n_local != rows)
    st = tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                  "a step of %lld samples does not split into this rank's "
                  "%d chunks of equal size (tq_trainer_shard tells a rank "
                  "its samples)",
                  (long long)rows, n_local);
  if (st == TQ_OK) st = tq_trainer_prepare(ctx, t, &cs, NULL);
  /* With several ranks, even a failure here goes through the loss
   * exchange, so that the other ranks fail too instead of waiting. */
  if (st != TQ_OK && !dist) return st;
  const int chunked = k > 1;
  double local[2 * 64], *loss = n_local <= 64 ? local : NULL;
  double *all = NULL;
  if (st == TQ_OK && !loss &&
      !(loss = malloc(2 * (size_t)n_local * sizeof *loss)))
    st = tq_error_nomem(ctx);
  if (loss)
    memset(loss, 0, 2 * (size_t)(n_local > 0 ? n_local : 0) * sizeof *loss);
  if (st == TQ_OK && chunked) st = tq_train_chunks_begin(ctx, t, n_local);
  const size_t row_bytes =
      (size_t)(x->numel / (size_t)rows) * tq_dtype_size(x->dtype);
  for (int j = 0; st == TQ_OK && j < n_local; j++) {
    if (chunked && j > 0) st = tq_train_chunk_start(ctx, t);
    if (st == TQ_OK)
      st = chunk_pass(ctx, t, (char *)x->data + (size_t)(j * each) * row_bytes,
                      labels + j * each, sample_offset + (uint64_t)(j * each),
                      (double)(each * k), &loss[2 * j]);
    if (st == TQ_OK && chunked) st = tq_train_chunk_save(ctx, t, j);
  }
  /* Every chunk's loss, in chunk order. */
  if (dist) {
    if (!(all = malloc(2 * (size_t)k * sizeof *all))) {
      if (st == TQ_OK) st = tq_error_nomem(ctx);
    } else {
      st = tq_train_exchange_losses(ctx, t, st, loss, n_local, all);
    }
  }
  if (st == TQ_OK) {
    const double *l = dist ? all : loss;
    double total = 0.0, hits = 0.0;
    for (int j = 0; j < k; j++) {
      total += l[2 * j];
      hits += l[2 * j + 1];
    }
    res->count = (size_t)(each * k);
    res->loss = total / (double)res->count;
    res->correct = (size_t)hits;
    st = check_loss(ctx, t, res);
  }
  if (loss != local) free(loss);
  free(all);
  if (st == TQ_OK && chunked) st = tq_train_reduce_chunks(ctx, t, n_local);
  if (st == TQ_OK) st = quantize_param_grads(ctx, t);
  if (st != TQ_OK) return st;
  tq_optimizer_step(t, tq_context_threads(ctx));
  t->steps++;
  return tq_session_requantize_weights(ctx, t->s, t->steps << 32);
}
