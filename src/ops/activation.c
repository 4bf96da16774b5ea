/* Activation functions: pointwise nonlinearities with attributes, and
 * Clip; forward and backward.
 *
 * Numerics: no -ffast-math, libm for exp/tanh/erf; sigmoid and softplus are
 * written so that neither branch overflows for large |x|. NaN inputs give
 * NaN outputs (Relu and Clip included), so a broken upstream value stays
 * visible.
 *
 * Derivatives at the kinks are PyTorch's: Relu'(0) = 0, LeakyRelu'(0) =
 * alpha, Elu'(0) = alpha, Selu'(0) = gamma * alpha, Celu'(0) = 1,
 * ThresholdedRelu'(alpha) = 0, Clip passes the gradient where min <= x <=
 * max (its bounds get none), HardSigmoid's is alpha strictly inside
 * (0 < alpha*x + beta < 1), HardSwish's is x/3 + 1/2 on the closed interval
 * [-3, 3] (0 below, 1 above). Sigmoid and Tanh use the forward's output. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"
#include "ops/op_families.h"

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
  tq_op_id id;
  int op;
  float alpha, beta, gamma;
} act_ops[] = {
    {TQ_OP_RELU, ACT_RELU, 0.0f, 0.0f, 0.0f},
    {TQ_OP_LEAKY_RELU, ACT_LEAKY_RELU, 0.01f, 0.0f, 0.0f},
    {TQ_OP_SIGMOID, ACT_SIGMOID, 0.0f, 0.0f, 0.0f},
    {TQ_OP_TANH, ACT_TANH, 0.0f, 0.0f, 0.0f},
    {TQ_OP_HARD_SIGMOID, ACT_HARD_SIGMOID, 0.2f, 0.5f, 0.0f},
    /* HardSwish is x * HardSigmoid(x) with alpha 1/6, beta 1/2. */
    {TQ_OP_HARD_SWISH, ACT_HARD_SWISH, 1.0f / 6.0f, 0.5f, 0.0f},
    {TQ_OP_ELU, ACT_ELU, 1.0f, 0.0f, 0.0f},
    {TQ_OP_SELU, ACT_SELU, 1.67326319217681884765625f, 0.0f,
     1.05070102214813232421875f},
    {TQ_OP_CELU, ACT_CELU, 1.0f, 0.0f, 0.0f},
    {TQ_OP_SOFTPLUS, ACT_SOFTPLUS, 0.0f, 0.0f, 0.0f},
    {TQ_OP_SOFTSIGN, ACT_SOFTSIGN, 0.0f, 0.0f, 0.0f},
    {TQ_OP_GELU, ACT_GELU, 0.0f, 0.0f, 0.0f},
    {TQ_OP_MISH, ACT_MISH, 0.0f, 0.0f, 0.0f},
    {TQ_OP_THRESHOLDED_RELU, ACT_THRESHOLDED_RELU, 1.0f, 0.0f, 0.0f},
};

/* What an activation computes with: its function (Gelu with
 * approximate='tanh' is ACT_GELU_TANH) and its attributes or their ONNX
 * defaults (HardSwish's fixed constants). */
typedef struct act_params {
  int op;
  float alpha, beta, gamma;
} act_params;

static tq_status act_parse(const tq_op_parse *p, void *params) {
  act_params *ap = params;
  size_t k = 0;
  while (act_ops[k].id != p->desc->id) k++;
  ap->op = act_ops[k].op;
  ap->alpha = tq_parse_float(p, "alpha", act_ops[k].alpha);
  ap->beta = tq_parse_float(p, "beta", act_ops[k].beta);
  ap->gamma = tq_parse_float(p, "gamma", act_ops[k].gamma);
  if (ap->op == ACT_HARD_SWISH) { /* no attributes in the standard */
    ap->alpha = act_ops[k].alpha;
    ap->beta = act_ops[k].beta;
  }
  if (ap->op == ACT_GELU) {
    const char *approx = tq_parse_string(p, "approximate", "none");
    if (strcmp(approx, "none") != 0 && strcmp(approx, "tanh") != 0)
      return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                            "approximate='%s' is not supported ('none' or "
                            "'tanh')",
                            approx);
    if (strcmp(approx, "tanh") == 0) ap->op = ACT_GELU_TANH;
  }
  if (ap->op == ACT_CELU && ap->alpha == 0.0f)
    return tq_parse_error(p, TQ_ERR_RANGE, "alpha must not be 0");
  return TQ_OK;
}

static tq_status act_infer(tq_op_call *c) {
  tq_status st = tq_ew_one_float_input(c);
  if (st != TQ_OK) return st;
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

static tq_status act_forward(tq_op_call *c) {
  const act_params *ap = c->params;
  act_arg g = {ap->op,    ap->alpha,         ap->beta,
               ap->gamma, tq_cf32(c->in[0]), tq_f32(c->out[0])};
  tq_ew_for_chunks(c->in[0]->numel, tq_ew_threads(c), act_chunk, &g);
  return TQ_OK;
}

typedef struct act_grad_arg {
  const act_params *p;
  const float *x, *y, *g; /* input, output, output gradient */
  float *d;
} act_grad_arg;

static void act_grad_chunk(void *arg, size_t first, size_t n) {
  const act_grad_arg *a = arg;
  const float *x = a->x, *y = a->y, *g = a->g;
  float *d = a->d;
  const float alpha = a->p->alpha, beta = a->p->beta, gamma = a->p->gamma;
  const size_t end = first + n;
  switch (a->p->op) {
    case ACT_RELU: TQ_BW_LOOP(x[i] > 0.0f ? g[i] : 0.0f); break;
    case ACT_LEAKY_RELU: TQ_BW_LOOP(x[i] > 0.0f ? g[i] : alpha * g[i]); break;
    case ACT_SIGMOID: TQ_BW_LOOP(g[i] * (y[i] * (1.0f - y[i]))); break;
    case ACT_TANH: TQ_BW_LOOP(g[i] * (1.0f - y[i] * y[i])); break;
    case ACT_HARD_SIGMOID:
      for (size_t i = first; i < end; i++) {
        const float t = alpha * x[i] + beta;
        d[i] = t > 0.0f && t < 1.0f ? alpha * g[i] : 0.0f;
      }
      break;
    case ACT_HARD_SWISH:
      for (size_t i = first; i < end; i++) {
        const float t = alpha * x[i] + beta;
        d[i] = t < 0.0f    ? 0.0f
               : t <= 1.0f ? g[i] * (x[i] * (2.0f * alpha) + beta)
                           : g[i];
      }
      break;
    case ACT_ELU:
      TQ_BW_LOOP(x[i] > 0.0f ? g[i] : g[i] * (alpha * expf(x[i])));
      break;
    case ACT_SELU:
      TQ_BW_LOOP(x[i] > 0.0f ? g[i] * gamma
                             : g[i] * (gamma * alpha * expf(x[i])));
      break;
    case ACT_CELU:
      TQ_BW_LOOP(x[i] > 0.0f ? g[i] : g[i] * expf(x[i] / alpha));
      break;
    case ACT_SOFTPLUS: TQ_BW_LOOP(g[i] * sigmoid_f(x[i])); break;
    case ACT_SOFTSIGN:
      for (size_t i = first; i < end; i++) {
        const float den = 1.0f + fabsf(x[i]);
        d[i] = g[i] / (den * den);
      }
      break;
    case ACT_GELU:
      /* Phi(x) + x phi(x); 1/sqrt(2), 1/sqrt(2 pi) */
      for (size_t i = first; i < end; i++) {
        const float v = x[i];
        const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
        const float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
        d[i] = g[i] * (cdf + v * pdf);
      }
      break;
    case ACT_GELU_TANH: {
      const float k = 0.7978845608028654f, c3 = 0.044715f; /* sqrt(2/pi) */
      for (size_t i = first; i < end; i++) {
        const float v = x[i];
        const float t = tanhf(k * (v + c3 * v * v * v));
        const float du = k * (1.0f + 3.0f * c3 * v * v);
        d[i] = g[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
      }
      break;
    }
    case ACT_MISH:
      for (size_t i = first; i < end; i++) {
        const float v = x[i];
        const float t = tanhf(softplus_f(v));
        d[i] = g[i] * (t + v * (1.0f - t * t) * sigmoid_f(v));
      }
      break;
    case ACT_THRESHOLDED_RELU: TQ_BW_LOOP(x[i] > alpha ? g[i] : 0.0f); break;
    default: break;
  }
}

static tq_status act_backward(tq_op_call *c, const tq_tensor *const *gout,
                              tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  act_grad_arg a = {c->params, tq_cf32(c->in[0]), tq_cf32(c->out[0]),
                    tq_cf32(gout[0]), tq_f32(gin[0])};
  tq_ew_for_chunks(c->in[0]->numel, tq_ew_threads(c), act_grad_chunk, &a);
  return TQ_OK;
}

/* ---- Clip
 * ------------------------------------------------------------------*/

/* Before opset 11 the bounds are attributes; from 11 optional inputs. */
typedef struct clip_params {
  int legacy;
  float lo, hi; /* legacy: the attributes min and max */
} clip_params;

static tq_status clip_parse(const tq_op_parse *p, void *params) {
  clip_params *cp = params;
  cp->legacy = p->opset < 11;
  cp->lo = tq_parse_float(p, "min", -FLT_MAX);
  cp->hi = tq_parse_float(p, "max", FLT_MAX);
  return TQ_OK;
}

static tq_status clip_infer(tq_op_call *c) {
  const clip_params *cp = c->params;
  if (c->n_in < 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "expects an input");
  const tq_tensor *x = c->in[0];
  if (cp->legacy && c->n_in > 1)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "opset %lld takes min/max as attributes, not "
                         "inputs",
                         (long long)c->opset);
  if (cp->legacy && x->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "expects a float32 input, got %s",
                         tq_dtype_name(x->dtype));
  static const char *const names[] = {"", "min", "max"};
  for (size_t i = 1; i < c->n_in && i < 3; i++) {
    const tq_tensor *b = c->in[i];
    if (!b) continue;
    if (b->dtype != x->dtype)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "'%s' is %s but the input is %s", names[i],
                           tq_dtype_name(b->dtype), tq_dtype_name(x->dtype));
    if (b->numel != 1) {
      char s[96];
      tq_shape_format(&b->shape, s, sizeof s);
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'%s' must be a scalar, got shape %s", names[i], s);
    }
  }
  return tq_call_set_output(c, 0, x->dtype, &x->shape);
}

/* The float bounds of a call: the attributes, or the inputs present. */
static void clip_bounds(const tq_op_call *c, float *lo, float *hi) {
  const clip_params *cp = c->params;
  *lo = -FLT_MAX;
  *hi = FLT_MAX;
  if (cp->legacy) {
    *lo = cp->lo;
    *hi = cp->hi;
    return;
  }
  if (c->n_in > 1 && c->in[1]) *lo = tq_cf32(c->in[1])[0];
  if (c->n_in > 2 && c->in[2]) *hi = tq_cf32(c->in[2])[0];
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

static tq_status clip_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  const tq_tensor *tmin = c->n_in > 1 ? c->in[1] : NULL;
  const tq_tensor *tmax = c->n_in > 2 ? c->in[2] : NULL;
  if (x->dtype != TQ_DTYPE_FLOAT32) { /* integers (opset >= 12) */
    const tq_dtype dt = x->dtype;
    int64_t lo = tmin ? tq_load_i64(dt, tmin->data, 0) : INT64_MIN;
    int64_t hi = tmax ? tq_load_i64(dt, tmax->data, 0) : INT64_MAX;
    for (size_t i = 0; i < x->numel; i++) {
      const int64_t v = tq_load_i64(dt, x->data, i);
      tq_store_i64(dt, c->out[0]->data, i, v < lo ? lo : (v > hi ? hi : v));
    }
    return TQ_OK;
  }
  clip_arg g = {-FLT_MAX, FLT_MAX, tq_cf32(x), tq_f32(c->out[0])};
  clip_bounds(c, &g.lo, &g.hi);
  tq_ew_for_chunks(x->numel, tq_ew_threads(c), clip_chunk, &g);
  return TQ_OK;
}

typedef struct clip_grad_arg {
  float lo, hi;
  const float *x, *g;
  float *d;
} clip_grad_arg;

static void clip_grad_chunk(void *arg, size_t first, size_t n) {
  const clip_grad_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = a->x[i] >= a->lo && a->x[i] <= a->hi ? a->g[i] : 0.0f;
}

static tq_status clip_backward(tq_op_call *c, const tq_tensor *const *gout,
                               tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  int threads = tq_ew_threads(c);
  for (size_t k = 1; k < c->n_in && k < 3; k++) /* the bounds: none */
    if (gin[k]) tq_bw_fill(tq_f32(gin[k]), gin[k]->numel, 0.0f, threads);
  if (!gin[0]) return TQ_OK;
  clip_grad_arg a = {-FLT_MAX, FLT_MAX, tq_cf32(c->in[0]), tq_cf32(gout[0]),
                     tq_f32(gin[0])};
  clip_bounds(c, &a.lo, &a.hi);
  tq_ew_for_chunks(c->in[0]->numel, threads, clip_grad_chunk, &a);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

#define ACT(op_id, name)                                                     \
  {                                                                          \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(1, 1, 1, 1),                        \
        .flags = TQ_OPF_INPLACE, TQ_OP_PARAMS(act_params, act_parse),        \
        .infer = act_infer, .forward = act_forward, .backward = act_backward \
  }

const tq_op_desc tq_ops_activation[] = {
    ACT(TQ_OP_RELU, "Relu"),
    ACT(TQ_OP_LEAKY_RELU, "LeakyRelu"),
    ACT(TQ_OP_SIGMOID, "Sigmoid"),
    ACT(TQ_OP_TANH, "Tanh"),
    ACT(TQ_OP_HARD_SIGMOID, "HardSigmoid"),
    ACT(TQ_OP_HARD_SWISH, "HardSwish"),
    ACT(TQ_OP_ELU, "Elu"),
    ACT(TQ_OP_SELU, "Selu"),
    ACT(TQ_OP_CELU, "Celu"),
    ACT(TQ_OP_SOFTPLUS, "Softplus"),
    ACT(TQ_OP_SOFTSIGN, "Softsign"),
    ACT(TQ_OP_GELU, "Gelu"),
    ACT(TQ_OP_MISH, "Mish"),
    ACT(TQ_OP_THRESHOLDED_RELU, "ThresholdedRelu"),
    /* Clip(input, min, max): integers too from opset 12. */
    {TQ_OP_ONNX(TQ_OP_CLIP, "Clip"), TQ_OP_ARITY(1, 3, 1, 1),
     TQ_OP_TYPES(TQ_DTM_F32 | TQ_DTM_INT),
     TQ_OP_PARAMS(clip_params, clip_parse), .infer = clip_infer,
     .forward = clip_forward, .backward = clip_backward},
};
const size_t tq_ops_activation_count = TQ_OP_COUNT_OF(tq_ops_activation);
