/* Activation functions: pointwise nonlinearities with attributes, Clip, and
 * Softmax/LogSoftmax/Hardmax.
 *
 * Numerics: no -ffast-math, libm for exp/tanh/erf; sigmoid and softplus are
 * written so that neither branch overflows for large |x|; softmax subtracts
 * the row maximum and sums in double. NaN inputs give NaN outputs (Relu and
 * Clip included), so a broken upstream value stays visible. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/elementwise.h"

/* ---- pointwise activations
 * -------------------------------------------------*/

enum {
  ACT_RELU,
  ACT_LEAKY_RELU,
  ACT_SIGMOID,
  ACT_TANH,
  ACT_HARD_SIGMOID,
  ACT_HARD_SWISH,
  ACT_ELU,
  ACT_SELU,
  ACT_CELU,
  ACT_SOFTPLUS,
  ACT_SOFTSIGN,
  ACT_GELU,
  ACT_GELU_TANH,
  ACT_MISH,
  ACT_THRESHOLDED_RELU,
};

/* ONNX default attribute values. */
static const struct {
  const char *name;
  int op;
  float alpha, beta, gamma;
} act_ops[] = {
    {"Relu", ACT_RELU, 0.0f, 0.0f, 0.0f},
    {"LeakyRelu", ACT_LEAKY_RELU, 0.01f, 0.0f, 0.0f},
    {"Sigmoid", ACT_SIGMOID, 0.0f, 0.0f, 0.0f},
    {"Tanh", ACT_TANH, 0.0f, 0.0f, 0.0f},
    {"HardSigmoid", ACT_HARD_SIGMOID, 0.2f, 0.5f, 0.0f},
    /* HardSwish is x * HardSigmoid(x) with alpha 1/6, beta 1/2. */
    {"HardSwish", ACT_HARD_SWISH, 1.0f / 6.0f, 0.5f, 0.0f},
    {"Elu", ACT_ELU, 1.0f, 0.0f, 0.0f},
    {"Selu", ACT_SELU, 1.67326319217681884765625f, 0.0f,
     1.05070102214813232421875f},
    {"Celu", ACT_CELU, 1.0f, 0.0f, 0.0f},
    {"Softplus", ACT_SOFTPLUS, 0.0f, 0.0f, 0.0f},
    {"Softsign", ACT_SOFTSIGN, 0.0f, 0.0f, 0.0f},
    {"Gelu", ACT_GELU, 0.0f, 0.0f, 0.0f},
    {"Mish", ACT_MISH, 0.0f, 0.0f, 0.0f},
    {"ThresholdedRelu", ACT_THRESHOLDED_RELU, 1.0f, 0.0f, 0.0f},
};

static int act_lookup(const char *name) {
  for (size_t i = 0; i < sizeof act_ops / sizeof act_ops[0]; i++)
    if (strcmp(act_ops[i].name, name) == 0) return (int)i;
  return -1;
}

tq_status tq_act_unary_infer(tq_op_call *c) {
  int k = act_lookup(c->op_type);
  if (k < 0)
    return tq_call_error(c, TQ_ERR_INTERNAL, "not an activation operator");
  if (c->n_in != 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects one input, got %zu", c->n_in);
  if (c->in[0]->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "expects a float32 input, got %s",
                         tq_ew_dtype_name(c->in[0]->dtype));
  if (act_ops[k].op == ACT_GELU) {
    const char *ap = tq_attr_string(c, "approximate", "none");
    if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "approximate='%s' is not supported ('none' or "
                           "'tanh')",
                           ap);
  }
  if (act_ops[k].op == ACT_CELU && tq_attr_float(c, "alpha", 1.0f) == 0.0f)
    return tq_call_error(c, TQ_ERR_RANGE, "alpha must not be 0");
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &c->in[0]->shape);
}

typedef struct act_arg {
  int op;
  float alpha, beta, gamma;
  const float *x;
  float *y;
} act_arg;

#define ACT_LOOP(expr)             \
  for (size_t i = 0; i < n; i++) { \
    const float v = x[i];          \
    y[i] = (expr);                 \
  }

/* exp(-|v|) never overflows: the basis of the stable sigmoid. */
static float sigmoid_f(float v) {
  const float e = expf(-fabsf(v));
  const float d = 1.0f + e;
  return v >= 0.0f ? 1.0f / d : e / d;
}

static float softplus_f(float v) {
  return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
}

/* Clamp to [lo, hi] that keeps NaN. */
static float clamp_f(float t, float lo, float hi) {
  return t < lo ? lo : (t > hi ? hi : t);
}

static void act_chunk(void *arg, size_t first, size_t n) {
  const act_arg *g = arg;
  const float *x = g->x + first;
  float *y = g->y + first;
  const float alpha = g->alpha, beta = g->beta, gamma = g->gamma;
  switch (g->op) {
    /* -0 becomes +0, NaN stays NaN. */
    case ACT_RELU: ACT_LOOP(tq_relu_f(v)); break;
    case ACT_LEAKY_RELU: ACT_LOOP(v >= 0.0f ? v : alpha * v); break;
    case ACT_SIGMOID: ACT_LOOP(sigmoid_f(v)); break;
    case ACT_TANH: ACT_LOOP(tanhf(v)); break;
    case ACT_HARD_SIGMOID:
      ACT_LOOP(clamp_f(alpha * v + beta, 0.0f, 1.0f));
      break;
    case ACT_HARD_SWISH:
      ACT_LOOP(v * clamp_f(alpha * v + beta, 0.0f, 1.0f));
      break;
    case ACT_ELU: ACT_LOOP(v >= 0.0f ? v : alpha * expm1f(v)); break;
    case ACT_SELU:
      ACT_LOOP(v > 0.0f ? gamma * v : gamma * (alpha * expf(v) - alpha));
      break;
    case ACT_CELU: ACT_LOOP(v >= 0.0f ? v : alpha * expm1f(v / alpha)); break;
    case ACT_SOFTPLUS: ACT_LOOP(softplus_f(v)); break;
    case ACT_SOFTSIGN: ACT_LOOP(v / (1.0f + fabsf(v))); break;
    case ACT_GELU:
      ACT_LOOP(0.5f * v * (1.0f + erff(v * 0.70710678118654752f)));
      break;
    case ACT_GELU_TANH: {
      const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
      ACT_LOOP(0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v))));
      break;
    }
    case ACT_MISH: ACT_LOOP(v * tanhf(softplus_f(v))); break;
    case ACT_THRESHOLDED_RELU: ACT_LOOP(v > alpha ? v : 0.0f); break;
    default: break;
  }
}

int tq_act_attrs(const tq_op_call *c, float *alpha, float *beta, float *gamma,
                 int *gelu_tanh) {
  const int k = act_lookup(c->op_type);
  if (k < 0) return -1;
  *alpha = tq_attr_float(c, "alpha", act_ops[k].alpha);
  *beta = tq_attr_float(c, "beta", act_ops[k].beta);
  *gamma = tq_attr_float(c, "gamma", act_ops[k].gamma);
  if (act_ops[k].op == ACT_HARD_SWISH) { /* no attributes in the standard */
    *alpha = act_ops[k].alpha;
    *beta = act_ops[k].beta;
  }
  *gelu_tanh = act_ops[k].op == ACT_GELU &&
               strcmp(tq_attr_string(c, "approximate", "none"), "tanh") == 0;
  return 0;
}

tq_status tq_act_unary_forward(tq_op_call *c) {
  int k = act_lookup(c->op_type);
  if (k < 0)
    return tq_call_error(c, TQ_ERR_INTERNAL, "not an activation operator");
  act_arg g = {act_ops[k].op,    0.0f, 0.0f, 0.0f, tq_cf32(c->in[0]),
               tq_f32(c->out[0])};
  int gelu_tanh = 0;
  tq_act_attrs(c, &g.alpha, &g.beta, &g.gamma, &gelu_tanh);
  if (gelu_tanh) g.op = ACT_GELU_TANH;
  tq_ew_for_chunks(c->in[0]->numel, tq_ew_threads(c), act_chunk, &g);
  return TQ_OK;
}

/* ---- Clip
 * ------------------------------------------------------------------*/

tq_status tq_act_clip_infer(tq_op_call *c) {
  if (c->n_in < 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "expects an input");
  const tq_tensor *x = c->in[0];
  if (c->opset < 11 && c->n_in > 1)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "opset %lld takes min/max as attributes, not "
                         "inputs",
                         (long long)c->opset);
  if (c->opset < 11 && x->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "expects a float32 input, got %s",
                         tq_ew_dtype_name(x->dtype));
  static const char *const names[] = {"", "min", "max"};
  for (size_t i = 1; i < c->n_in && i < 3; i++) {
    const tq_tensor *b = c->in[i];
    if (!b) continue;
    if (b->dtype != x->dtype)
      return tq_call_error(
          c, TQ_ERR_UNSUPPORTED, "'%s' is %s but the input is %s", names[i],
          tq_ew_dtype_name(b->dtype), tq_ew_dtype_name(x->dtype));
    if (b->numel != 1) {
      char s[96];
      tq_shape_format(&b->shape, s, sizeof s);
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'%s' must be a scalar, got shape %s", names[i], s);
    }
  }
  return tq_call_set_output(c, 0, x->dtype, &x->shape);
}

typedef struct clip_arg {
  float lo, hi;
  const float *x;
  float *y;
} clip_arg;

static void clip_chunk(void *arg, size_t first, size_t n) {
  const clip_arg *g = arg;
  const float *x = g->x + first;
  float *y = g->y + first;
  const float lo = g->lo, hi = g->hi;
  for (size_t i = 0; i < n; i++) y[i] = clamp_f(x[i], lo, hi);
}

tq_status tq_act_clip_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  const tq_tensor *tmin = c->n_in > 1 ? c->in[1] : NULL;
  const tq_tensor *tmax = c->n_in > 2 ? c->in[2] : NULL;
  if (x->dtype == TQ_DTYPE_INT64) { /* shape arithmetic (opset >= 12) */
    int64_t lo = tmin ? tq_ci64(tmin)[0] : INT64_MIN;
    int64_t hi = tmax ? tq_ci64(tmax)[0] : INT64_MAX;
    const int64_t *xs = tq_ci64(x);
    int64_t *ys = tq_i64(c->out[0]);
    for (size_t i = 0; i < x->numel; i++)
      ys[i] = xs[i] < lo ? lo : (xs[i] > hi ? hi : xs[i]);
    return TQ_OK;
  }
  clip_arg g = {-FLT_MAX, FLT_MAX, tq_cf32(x), tq_f32(c->out[0])};
  if (c->opset < 11) {
    g.lo = tq_attr_float(c, "min", -FLT_MAX);
    g.hi = tq_attr_float(c, "max", FLT_MAX);
  } else {
    if (tmin) g.lo = tq_cf32(tmin)[0];
    if (tmax) g.hi = tq_cf32(tmax)[0];
  }
  tq_ew_for_chunks(x->numel, tq_ew_threads(c), clip_chunk, &g);
  return TQ_OK;
}

/* ---- Softmax, LogSoftmax, Hardmax
 * ------------------------------------------*/

enum { SM_SOFTMAX, SM_LOG_SOFTMAX, SM_HARDMAX };

static int sm_kind(const char *name) {
  if (strcmp(name, "Softmax") == 0) return SM_SOFTMAX;
  if (strcmp(name, "LogSoftmax") == 0) return SM_LOG_SOFTMAX;
  if (strcmp(name, "Hardmax") == 0) return SM_HARDMAX;
  return -1;
}

/* The reduction as (outer, n, inner): before opset 13 the input is
 * coerced to 2-D at axis (default 1) and normalized over all of
 * dims[axis:]; from opset 13 over the one dimension axis (default -1). */
static tq_status sm_layout(tq_op_call *c, size_t *outer, size_t *n,
                           size_t *inner) {
  const tq_shape *s = &c->in[0]->shape;
  int legacy = c->opset < 13;
  int axis;
  tq_status st =
      tq_call_axis(c, tq_attr_int(c, "axis", legacy ? 1 : -1), s->ndim, &axis);
  if (st != TQ_OK) return st;
  size_t o = 1, m = 1, in = 1;
  for (int d = 0; d < s->ndim; d++) {
    size_t v = (size_t)s->dims[d];
    if (d < axis)
      o *= v;
    else if (d == axis || legacy)
      m *= v;
    else
      in *= v;
  }
  *outer = o;
  *n = m;
  *inner = in;
  return TQ_OK;
}

tq_status tq_act_softmax_infer(tq_op_call *c) {
  if (sm_kind(c->op_type) < 0)
    return tq_call_error(c, TQ_ERR_INTERNAL, "not a softmax operator");
  if (c->n_in != 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects one input, got %zu", c->n_in);
  if (c->in[0]->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "expects a float32 input, got %s",
                         tq_ew_dtype_name(c->in[0]->dtype));
  size_t o, n, in;
  tq_status st = sm_layout(c, &o, &n, &in);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &c->in[0]->shape);
}

/* One contiguous row of n values. */
static void sm_row(int kind, const float *x, float *y, size_t n) {
  if (n == 0) return;
  float mx = x[0];
  size_t arg = 0;
  for (size_t k = 1; k < n; k++)
    if (x[k] > mx) mx = x[k], arg = k;
  if (kind == SM_HARDMAX) {
    for (size_t k = 0; k < n; k++) y[k] = k == arg ? 1.0f : 0.0f;
    return;
  }
  double sum = 0.0;
  for (size_t k = 0; k < n; k++) {
    float e = expf(x[k] - mx);
    if (kind == SM_SOFTMAX) y[k] = e;
    sum += e;
  }
  if (kind == SM_SOFTMAX) {
    const float s = (float)sum;
    for (size_t k = 0; k < n; k++) y[k] = y[k] / s;
  } else {
    const float ls = (float)log(sum);
    for (size_t k = 0; k < n; k++) y[k] = (x[k] - mx) - ls;
  }
}

/* n values at stride inner, for inner positions at once (the loops over
 * the inner positions vectorize); mx and sum hold inner entries. */
static void sm_strided(int kind, const float *x, float *y, size_t n,
                       size_t inner, float *mx, double *sum) {
  if (n == 0) return;
  for (size_t i = 0; i < inner; i++) mx[i] = x[i], sum[i] = 0.0;
  for (size_t k = 1; k < n; k++) {
    const float *xk = x + k * inner;
    for (size_t i = 0; i < inner; i++)
      if (xk[i] > mx[i]) mx[i] = xk[i];
  }
  if (kind == SM_HARDMAX) {
    /* sum marks positions whose (first) maximum is already taken. */
    for (size_t k = 0; k < n; k++) {
      const float *xk = x + k * inner;
      float *yk = y + k * inner;
      for (size_t i = 0; i < inner; i++) {
        int hit = sum[i] == 0.0 && xk[i] == mx[i];
        yk[i] = hit ? 1.0f : 0.0f;
        if (hit) sum[i] = 1.0;
      }
    }
    return;
  }
  for (size_t k = 0; k < n; k++) {
    const float *xk = x + k * inner;
    float *yk = y + k * inner;
    for (size_t i = 0; i < inner; i++) {
      float e = expf(xk[i] - mx[i]);
      if (kind == SM_SOFTMAX) yk[i] = e;
      sum[i] += e;
    }
  }
  if (kind == SM_SOFTMAX) {
    for (size_t k = 0; k < n; k++) {
      float *yk = y + k * inner;
      for (size_t i = 0; i < inner; i++) yk[i] = yk[i] / (float)sum[i];
    }
  } else {
    for (size_t k = 0; k < n; k++) {
      const float *xk = x + k * inner;
      float *yk = y + k * inner;
      for (size_t i = 0; i < inner; i++)
        yk[i] = (xk[i] - mx[i]) - (float)log(sum[i]);
    }
  }
}

tq_status tq_act_softmax_forward(tq_op_call *c) {
  int kind = sm_kind(c->op_type);
  size_t outer, n, inner;
  tq_status st = sm_layout(c, &outer, &n, &inner);
  if (st != TQ_OK) return st;
  const float *x = tq_cf32(c->in[0]);
  float *y = tq_f32(c->out[0]);
  int threads = tq_ew_threads(c);
  size_t total = outer * n * inner;
  int par = total >= 16384 && outer > 1;
  if (total == 0) return TQ_OK;
  if (inner == 1) {
#pragma omp parallel for schedule(static) num_threads(threads) if (par)
    for (size_t o = 0; o < outer; o++) sm_row(kind, x + o * n, y + o * n, n);
    return TQ_OK;
  }
  /* Scratch per outer block: n values collapse to one max and one sum per
   * inner position, so this is at most a fraction of the output. */
  float *mx = malloc(outer * inner * sizeof *mx);
  double *sum = malloc(outer * inner * sizeof *sum);
  if (!mx || !sum) {
    free(mx);
    free(sum);
    return tq_error_nomem(c->ctx);
  }
#pragma omp parallel for schedule(static) num_threads(threads) if (par)
  for (size_t o = 0; o < outer; o++)
    sm_strided(kind, x + o * n * inner, y + o * n * inner, n, inner,
               mx + o * inner, sum + o * inner);
  free(mx);
  free(sum);
  return TQ_OK;
}
