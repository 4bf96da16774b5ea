/* Optimizers (SGD with momentum, Nesterov and weight decay; Adam), the
 * learning-rate schedules, and the updates map (the original's quantized
 * optimizers: each weight is stored through its quantizer after the
 * step). */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "graph/quant_site.h"
#include "train/train_internal.h"

static const char *const optimizer_names[] = {
    [TQ_OPTIMIZER_SGD] = "sgd", [TQ_OPTIMIZER_ADAM] = "adam"};
_Static_assert(sizeof optimizer_names / sizeof *optimizer_names ==
                   TQ_OPTIMIZER_COUNT,
               "one name per optimizer");
static const char *const schedule_names[] = {
    [TQ_SCHEDULE_CONSTANT] = "constant",
    [TQ_SCHEDULE_STEP] = "step",
    [TQ_SCHEDULE_COSINE] = "cosine"};
_Static_assert(sizeof schedule_names / sizeof *schedule_names ==
                   TQ_SCHEDULE_COUNT,
               "one name per schedule");

void tq_train_config_default(tq_train_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->optimizer = TQ_OPTIMIZER_ADAM;
  cfg->lr = 1e-3;
  cfg->momentum = 0.9;
  cfg->beta1 = 0.9;
  cfg->beta2 = 0.999;
  cfg->adam_eps = 1e-8;
  cfg->schedule = TQ_SCHEDULE_CONSTANT;
  cfg->step_epochs = 5;
  cfg->step_gamma = 0.5;
  cfg->epochs = 1;
}

double tq_train_lr_at(const tq_train_config *cfg, int epoch) {
  switch (cfg->schedule) {
    case TQ_SCHEDULE_STEP:
      return cfg->lr *
             pow(cfg->step_gamma,
                 (double)(epoch /
                          (cfg->step_epochs > 0 ? cfg->step_epochs : 1)));
    case TQ_SCHEDULE_COSINE: {
      const int e = cfg->epochs > 0 ? cfg->epochs : 1;
      return cfg->lr * 0.5 *
             (1.0 + cos(3.14159265358979323846 * (double)epoch / (double)e));
    }
    case TQ_SCHEDULE_CONSTANT:
    case TQ_SCHEDULE_COUNT: break;
  }
  return cfg->lr;
}

static tq_status parse_name(tq_context *ctx, const char *what, const char *name,
                            const char *const *names, int n, int *out) {
  for (int i = 0; i < n; i++)
    if (name && !strcasecmp(name, names[i])) {
      *out = i;
      return TQ_OK;
    }
  char list[128] = "";
  for (int i = 0; i < n; i++) {
    strncat(list, names[i], sizeof list - strlen(list) - 1);
    if (i + 1 < n) strncat(list, "|", sizeof list - strlen(list) - 1);
  }
  return tq_error(ctx, TQ_ERR_PARSE, NULL, 0, 0,
                  "unknown %s '%s' (expected %s)", what, name ? name : "(null)",
                  list);
}

const char *tq_optimizer_name(tq_optimizer o) {
  return (unsigned)o < TQ_OPTIMIZER_COUNT ? optimizer_names[o] : "unknown";
}

tq_status tq_optimizer_parse(tq_context *ctx, const char *name,
                             tq_optimizer *out) {
  int v = 0;
  tq_status st = parse_name(ctx, "optimizer", name, optimizer_names,
                            TQ_OPTIMIZER_COUNT, &v);
  if (st == TQ_OK) *out = (tq_optimizer)v;
  return st;
}

const char *tq_schedule_name(tq_schedule s) {
  return (unsigned)s < TQ_SCHEDULE_COUNT ? schedule_names[s] : "unknown";
}

tq_status tq_schedule_parse(tq_context *ctx, const char *name,
                            tq_schedule *out) {
  int v = 0;
  tq_status st = parse_name(ctx, "learning-rate schedule", name, schedule_names,
                            TQ_SCHEDULE_COUNT, &v);
  if (st == TQ_OK) *out = (tq_schedule)v;
  return st;
}

/* SGD as PyTorch: buf = momentum * buf + g (g with weight decay added);
 * step = g + momentum * buf (Nesterov) or buf; w -= lr * step. */
static void sgd(const tq_train_config *cfg, float lr, float *w,
                const float *grad, float *buf, size_t n, int threads) {
  const float mom = (float)cfg->momentum, wd = (float)cfg->weight_decay;
  if (n < 65536) threads = 1;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; i++) {
    float g = grad[i] + wd * w[i];
    if (mom != 0.0f) {
      buf[i] = mom * buf[i] + g;
      g = cfg->nesterov ? g + mom * buf[i] : buf[i];
    }
    w[i] -= lr * g;
  }
}

/* Adam (Kingma and Ba), bias-corrected, weight decay added to g. */
static void adam(const tq_train_config *cfg, float lr, uint64_t step, float *w,
                 const float *grad, float *m, float *v, size_t n, int threads) {
  const float b1 = (float)cfg->beta1, b2 = (float)cfg->beta2;
  const float wd = (float)cfg->weight_decay, eps = (float)cfg->adam_eps;
  const double c1 = 1.0 - pow(cfg->beta1, (double)step);
  const double c2 = 1.0 - pow(cfg->beta2, (double)step);
  const float step_size = (float)(lr / c1);
  const float inv_sqrt_c2 = (float)(1.0 / sqrt(c2));
  if (n < 65536) threads = 1;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; i++) {
    const float g = grad[i] + wd * w[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    w[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_c2 + eps);
  }
}

/* Elementwise, so the bits do not depend on the thread count. */
void tq_optimizer_step(tq_trainer *t, int threads) {
  const tq_graph *g = t->g;
  const float lr = (float)t->lr;
  for (size_t i = 0; i < t->n_params; i++) {
    tq_param *p = &t->params[i];
    tq_tensor *w = g->inits[p->init];
    const float *grad = tq_cf32(t->grad[p->value]);
    if (t->cfg.optimizer == TQ_OPTIMIZER_ADAM)
      adam(&t->cfg, lr, t->steps + 1, tq_f32(w), grad, p->m, p->v, w->numel,
           threads);
    else
      sgd(&t->cfg, lr, tq_f32(w), grad, p->m, w->numel, threads);
    const tq_qmap_match *um = &t->s->nodes[p->node].match[TQ_MAP_UPDATES];
    if (um->matched && um->value->quantizer) {
      tq_quant_opts qo = {.seed = t->seed,
                          .stream = STREAM(STREAM_UPDATES, p->node, p->input),
                          .offset = t->steps * w->numel};
      /* Fails only for a spec that does not fit the weight's shape (a
       * llama.cpp block on a length not a multiple of 32); the step has no
       * error path yet, so such a weight stays unquantized. */
      (void)tq_quantize_weight_like(NULL, t->s, p->node, p->input,
                                    um->value->quantizer, tq_cf32(w),
                                    tq_f32(w), w->numel, &qo);
    }
  }
}
