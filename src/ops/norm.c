/* BatchNormalization (inference and training), InstanceNormalization and
 * LayerNormalization, float32.
 *
 * BatchNormalization folds its four parameters into one scale and shift
 * per channel in float32, in ONNX Runtime's order of operations.
 * Instance and layer normalization compute their statistics in double
 * (two passes), then normalize in float32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/nn_internal.h"
#include "ops/op_families.h"

/* The attributes of the three operators (each reads its own). */
typedef struct norm_params {
  float epsilon;
  float momentum;  /* BatchNormalization */
  int64_t spatial; /* BatchNormalization before opset 9 */
  int64_t axis;    /* LayerNormalization */
} norm_params;

static tq_status norm_parse(const tq_op_parse *p, void *params) {
  norm_params *np = params;
  np->epsilon = tq_parse_float(p, "epsilon", 1e-5f);
  switch (p->desc->id) {
    case TQ_OP_BATCH_NORMALIZATION:
      if (tq_parse_int(p, "training_mode", 0) != 0)
        return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                              "training_mode = 1 is not supported (inference "
                              "only)");
      np->momentum = tq_parse_float(p, "momentum", 0.9f);
      np->spatial = p->opset < 9 ? tq_parse_int(p, "spatial", 1) : 1;
      break;
    case TQ_OP_LAYER_NORMALIZATION:
    case TQ_OP_MS_LAYER_NORMALIZATION:
    case TQ_OP_RMS_NORMALIZATION: np->axis = tq_parse_int(p, "axis", -1); break;
    default: break;
  }
  return TQ_OK;
}

static const char *const bn_names[] = {"X", "scale", "B", "input_mean",
                                       "input_var"};

/* Elements per channel position of X for per-activation (spatial = 0)
 * parameters: X's shape without N. */
static int64_t inner_numel(const tq_shape *s, int from) {
  int64_t n = 1;
  for (int d = from; d < s->ndim; d++) n *= s->dims[d];
  return n;
}

/* BatchNormalization: per_act = 1 when the parameters cover C x D1 x ...
 * (opsets < 9 with spatial = 0). */
static tq_status bn_prepare(tq_op_call *c, int *per_act) {
  tq_status st = tq_nn_check_input(c, 0, "X", 2, TQ_TENSOR_MAX_DIMS);
  if (st) return st;
  if (c->n_out > 1)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "only output Y is supported: the running or saved "
                         "statistics outputs (%zu outputs given) belong to "
                         "training",
                         c->n_out);
  const norm_params *np = c->params;
  const tq_shape *xs = &c->in[0]->shape;
  const int64_t C = xs->dims[1];
  const int64_t spatial = np->spatial;
  const int64_t act = inner_numel(xs, 1);
  *per_act = 0;
  for (size_t i = 1; i < 5; i++) {
    if ((st = tq_nn_check_input(c, i, bn_names[i], 1, TQ_TENSOR_MAX_DIMS)))
      return st;
    const tq_tensor *p = c->in[i];
    const int per_channel = p->shape.ndim == 1 && p->shape.dims[0] == C;
    if (per_channel) continue;
    if (!spatial && (int64_t)p->numel == act) {
      *per_act = 1;
      continue;
    }
    char pb[128], xb[128];
    tq_shape_format(&p->shape, pb, sizeof pb);
    tq_shape_format(xs, xb, sizeof xb);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "%s has shape %s; expected [%lld] (one per channel "
                         "of X %s)%s",
                         bn_names[i], pb, (long long)C, xb,
                         spatial ? "" : " or X's shape without N");
  }
  /* Per-channel and per-activation parameters mixed would need both
   * layouts; exporters never write that. */
  if (*per_act)
    for (size_t i = 1; i < 5; i++)
      if ((int64_t)c->in[i]->numel != act)
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "with spatial = 0 every parameter must have "
                             "X's shape without N; %s does not",
                             bn_names[i]);
  return TQ_OK;
}

static tq_status bn_infer(tq_op_call *c) {
  int per_act = 0;
  tq_status st = bn_prepare(c, &per_act);
  if (st) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &c->in[0]->shape);
}

/* Per channel of X (N, C, ...): batch mean and 1 / sqrt(var + eps) in
 * double (two passes, images in order), and the unbiased variance. */
static void bn_batch_moments(const float *x, int64_t N, int64_t C,
                             int64_t inner, double eps, double *mean,
                             double *inv_std, double *var_unbiased,
                             int threads) {
  int nt = threads > C ? (int)(C > 0 ? C : 1) : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t ch = 0; ch < C; ch++) {
    double s = 0.0;
    for (int64_t n = 0; n < N; n++) {
      const float *p = x + (n * C + ch) * inner;
      for (int64_t i = 0; i < inner; i++) s += p[i];
    }
    const double cnt = (double)(N * inner);
    const double m = cnt > 0 ? s / cnt : 0.0;
    double v = 0.0;
    for (int64_t n = 0; n < N; n++) {
      const float *p = x + (n * C + ch) * inner;
      for (int64_t i = 0; i < inner; i++) {
        const double d = p[i] - m;
        v += d * d;
      }
    }
    mean[ch] = m;
    inv_std[ch] = 1.0 / sqrt((cnt > 0 ? v / cnt : 0.0) + eps);
    if (var_unbiased) var_unbiased[ch] = cnt > 1 ? v / (cnt - 1) : 0.0;
  }
}

/* Training mode: normalize with the batch statistics, and move the running
 * statistics (when the executor passes them as state) toward them:
 * running = momentum * running + (1 - momentum) * batch, with the
 * unbiased batch variance (as PyTorch). */
static tq_status bn_forward_training(tq_op_call *c) {
  const norm_params *np = c->params;
  const tq_shape *xs = &c->in[0]->shape;
  const float eps = np->epsilon;
  const float momentum = np->momentum;
  const int64_t N = xs->dims[0], C = xs->dims[1], inner = inner_numel(xs, 2);
  double *mom = malloc((size_t)(3 * C + 1) * sizeof *mom);
  if (!mom)
    return tq_call_error(c, TQ_ERR_NO_MEMORY, "out of memory for %lld channels",
                         (long long)C);
  double *mean = mom, *inv_std = mom + C, *var = mom + 2 * C;
  const int threads = tq_nn_threads(c);
  const float *x = tq_cf32(c->in[0]);
  bn_batch_moments(x, N, C, inner, eps, mean, inv_std, var, threads);
  const float *scale = tq_cf32(c->in[1]), *bias = tq_cf32(c->in[2]);
  float *y = tq_f32(c->out[0]);
  const int64_t rows = N * C;
  int nt = threads > rows ? (int)(rows > 0 ? rows : 1) : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t ch = r % C;
    const float a = (float)(inv_std[ch] * scale[ch]);
    const float b = (float)(bias[ch] - mean[ch] * inv_std[ch] * scale[ch]);
    const float *xr = x + r * inner;
    float *yr = y + r * inner;
    for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] * a + b;
  }
  if (c->state && c->state[3] && c->state[4]) {
    float *rm = tq_f32(c->state[3]), *rv = tq_f32(c->state[4]);
    for (int64_t ch = 0; ch < C; ch++) {
      rm[ch] = (float)(momentum * (double)rm[ch] + (1.0 - momentum) * mean[ch]);
      rv[ch] = (float)(momentum * (double)rv[ch] + (1.0 - momentum) * var[ch]);
    }
  }
  free(mom);
  return TQ_OK;
}

static tq_status bn_forward(tq_op_call *c) {
  int per_act = 0;
  tq_status st = bn_prepare(c, &per_act);
  if (st) return st;
  if (c->training) {
    if (per_act)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "training with per-activation parameters "
                           "(spatial = 0) is not supported");
    return bn_forward_training(c);
  }
  const tq_shape *xs = &c->in[0]->shape;
  const float eps = ((const norm_params *)c->params)->epsilon;
  const int64_t N = xs->dims[0], C = xs->dims[1];
  /* np parameters, each applied to `inner` consecutive elements. */
  const int64_t np = per_act ? inner_numel(xs, 1) : C;
  const int64_t inner = per_act ? 1 : inner_numel(xs, 2);
  float *ab = malloc((size_t)(2 * np + 1) * sizeof *ab);
  if (!ab)
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for %lld parameters", (long long)np);
  const float *scale = tq_cf32(c->in[1]), *bias = tq_cf32(c->in[2]);
  const float *mean = tq_cf32(c->in[3]), *var = tq_cf32(c->in[4]);
  for (int64_t i = 0; i < np; i++) {
    const float a = 1.0f / sqrtf(var[i] + eps) * scale[i];
    ab[2 * i] = a;
    ab[2 * i + 1] = bias[i] - mean[i] * a;
  }
  const float *x = tq_cf32(c->in[0]);
  float *y = tq_f32(c->out[0]);
  const int64_t rows = N * np;
  int nt = tq_nn_threads(c);
  if (nt > rows) nt = (int)(rows > 0 ? rows : 1);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float a = ab[2 * (r % np)], b = ab[2 * (r % np) + 1];
    const float *xr = x + r * inner;
    float *yr = y + r * inner;
    for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] * a + b;
  }
  free(ab);
  return TQ_OK;
}

/* Backward. Training mode (the statistics are the batch's, recomputed
 * from X): with xhat = (x - mean) * inv_std and sums over the channel's
 * N * inner elements, dscale = sum(dy xhat), dB = sum(dy) and
 * dx = scale * inv_std * (dy - sum(dy) / m - xhat * sum(dy xhat) / m).
 * Inference mode: the running statistics are constants, dx = dy * scale *
 * inv_std. The running statistics get no gradient (they are state). */
static tq_status bn_backward(tq_op_call *c, const tq_tensor *const *gout,
                             tq_tensor **gin) {
  int per_act = 0;
  tq_status st = bn_prepare(c, &per_act);
  if (st) return st;
  if (per_act)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "training with per-activation parameters "
                         "(spatial = 0) is not supported");
  const tq_shape *xs = &c->in[0]->shape;
  const float eps = ((const norm_params *)c->params)->epsilon;
  const int64_t N = xs->dims[0], C = xs->dims[1], inner = inner_numel(xs, 2);
  double *mom = malloc((size_t)(2 * C + 1) * sizeof *mom);
  if (!mom)
    return tq_call_error(c, TQ_ERR_NO_MEMORY, "out of memory for %lld channels",
                         (long long)C);
  double *mean = mom, *inv_std = mom + C;
  const float *x = tq_cf32(c->in[0]), *dy = tq_cf32(gout[0]);
  const float *scale = tq_cf32(c->in[1]);
  const int threads = tq_nn_threads(c);
  if (c->training) {
    bn_batch_moments(x, N, C, inner, eps, mean, inv_std, NULL, threads);
  } else {
    const float *rm = tq_cf32(c->in[3]), *rv = tq_cf32(c->in[4]);
    for (int64_t ch = 0; ch < C; ch++) {
      mean[ch] = rm[ch];
      inv_std[ch] = 1.0 / sqrt((double)rv[ch] + eps);
    }
  }
  float *dx = gin[0] ? tq_f32(gin[0]) : NULL;
  float *dscale = gin[1] ? tq_f32(gin[1]) : NULL;
  float *dbias = gin[2] ? tq_f32(gin[2]) : NULL;
  const double m = (double)(N * inner);
  int nt = threads > C ? (int)(C > 0 ? C : 1) : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t ch = 0; ch < C; ch++) {
    double sdy = 0.0, sdyx = 0.0;
    for (int64_t n = 0; n < N; n++) {
      const float *xp = x + (n * C + ch) * inner;
      const float *gp = dy + (n * C + ch) * inner;
      for (int64_t i = 0; i < inner; i++) {
        sdy += gp[i];
        sdyx += gp[i] * ((xp[i] - mean[ch]) * inv_std[ch]);
      }
    }
    if (dscale) dscale[ch] = (float)sdyx;
    if (dbias) dbias[ch] = (float)sdy;
    if (!dx) continue;
    const double k = scale[ch] * inv_std[ch];
    for (int64_t n = 0; n < N; n++) {
      const float *xp = x + (n * C + ch) * inner;
      const float *gp = dy + (n * C + ch) * inner;
      float *dp = dx + (n * C + ch) * inner;
      for (int64_t i = 0; i < inner; i++) {
        if (c->training) {
          const double xh = (xp[i] - mean[ch]) * inv_std[ch];
          dp[i] = (float)(k * (gp[i] - sdy / m - xh * sdyx / m));
        } else {
          dp[i] = (float)(k * gp[i]);
        }
      }
    }
  }
  for (size_t i = 3; i < 5 && i < c->n_in; i++)
    if (gin[i]) memset(tq_f32(gin[i]), 0, gin[i]->numel * sizeof(float));
  free(mom);
  return TQ_OK;
}

/* Mean and 1 / sqrt(variance + eps) of n values, in double. */
static void moments(const float *x, int64_t n, double eps, double *mean,
                    double *inv_std) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  const double m = n ? s / (double)n : 0.0;
  double v = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double d = x[i] - m;
    v += d * d;
  }
  v = n ? v / (double)n : 0.0;
  *mean = m;
  *inv_std = 1.0 / sqrt(v + eps);
}

/* ---- InstanceNormalization -------------------------------------------- */

static tq_status in_prepare(tq_op_call *c) {
  tq_status st;
  if ((st = tq_nn_check_input(c, 0, "input", 3, TQ_TENSOR_MAX_DIMS)) ||
      (st = tq_nn_check_input(c, 1, "scale", 1, 1)) ||
      (st = tq_nn_check_input(c, 2, "B", 1, 1)))
    return st;
  const int64_t C = c->in[0]->shape.dims[1];
  for (size_t i = 1; i < 3; i++)
    if (c->in[i]->shape.dims[0] != C)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "%s has %lld values; expected %lld (one per "
                           "channel)",
                           i == 1 ? "scale" : "B",
                           (long long)c->in[i]->shape.dims[0], (long long)C);
  return TQ_OK;
}

static tq_status in_infer(tq_op_call *c) {
  tq_status st = in_prepare(c);
  if (st) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &c->in[0]->shape);
}

static tq_status in_forward(tq_op_call *c) {
  tq_status st = in_prepare(c);
  if (st) return st;
  const tq_shape *xs = &c->in[0]->shape;
  const double eps = ((const norm_params *)c->params)->epsilon;
  const int64_t C = xs->dims[1], planes = xs->dims[0] * C;
  const int64_t n = inner_numel(xs, 2);
  const float *x = tq_cf32(c->in[0]);
  const float *scale = tq_cf32(c->in[1]), *bias = tq_cf32(c->in[2]);
  float *y = tq_f32(c->out[0]);
  int nt = tq_nn_threads(c);
  if (nt > planes) nt = (int)(planes > 0 ? planes : 1);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < planes; p++) {
    double mean, inv;
    moments(x + p * n, n, eps, &mean, &inv);
    const float a = (float)(scale[p % C] * inv);
    const float b = (float)(bias[p % C] - mean * scale[p % C] * inv);
    const float *xp = x + p * n;
    float *yp = y + p * n;
    for (int64_t i = 0; i < n; i++) yp[i] = xp[i] * a + b;
  }
  return TQ_OK;
}

/* ---- LayerNormalization ----------------------------------------------- */

typedef struct ln_geom {
  int axis;
  int64_t rows, n; /* rows of n normalized elements */
} ln_geom;

/* Checks that p broadcasts (unidirectionally) to X's dims [axis, rank). */
static tq_status ln_check_param(tq_op_call *c, size_t i, const char *what,
                                int axis) {
  tq_status st = tq_nn_check_input(c, i, what, 0, TQ_TENSOR_MAX_DIMS);
  if (st) return st;
  const tq_shape *xs = &c->in[0]->shape, *ps = &c->in[i]->shape;
  const int nd = xs->ndim - axis;
  int ok = ps->ndim <= nd;
  for (int d = 0; ok && d < ps->ndim; d++) {
    const int64_t pd = ps->dims[ps->ndim - 1 - d];
    ok = pd == 1 || pd == xs->dims[xs->ndim - 1 - d];
  }
  if (!ok) {
    char pb[128], xb[128];
    tq_shape_format(ps, pb, sizeof pb);
    tq_shape_format(xs, xb, sizeof xb);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "%s has shape %s, which does not broadcast to the "
                         "normalized dimensions %d.. of X %s",
                         what, pb, axis, xb);
  }
  return TQ_OK;
}

static tq_status ln_prepare(tq_op_call *c, ln_geom *g) {
  tq_status st = tq_nn_check_input(c, 0, "X", 1, TQ_TENSOR_MAX_DIMS);
  if (st) return st;
  const tq_shape *xs = &c->in[0]->shape;
  const int64_t axis = ((const norm_params *)c->params)->axis;
  if ((st = tq_call_axis(c, axis, xs->ndim, &g->axis))) return st;
  if ((st = ln_check_param(c, 1, "Scale", g->axis))) return st;
  if (c->n_in > 2 && c->in[2] && (st = ln_check_param(c, 2, "B", g->axis)))
    return st;
  g->n = inner_numel(xs, g->axis);
  g->rows = g->n ? (int64_t)c->in[0]->numel / g->n : 0;
  return TQ_OK;
}

static tq_status ln_infer(tq_op_call *c) {
  ln_geom g;
  tq_status st = ln_prepare(c, &g);
  if (st) return st;
  const tq_shape *xs = &c->in[0]->shape;
  if ((st = tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, xs))) return st;
  /* Mean and InvStdDev: X's shape with the normalized dims set to 1. */
  tq_shape ss = *xs;
  for (int d = g.axis; d < ss.ndim; d++) ss.dims[d] = 1;
  for (size_t i = 1; i < c->n_out && i < 3; i++)
    if (c->out[i] && (st = tq_call_set_output(c, i, TQ_DTYPE_FLOAT32, &ss)))
      return st;
  return TQ_OK;
}

/* Expands a parameter broadcast over the normalized dims to n values. */
static void ln_expand(const tq_tensor *p, const tq_shape *xs, int axis,
                      float *dst, int64_t n) {
  const float *v = tq_cf32(p);
  const int nd = xs->ndim - axis;
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i, off = 0, stride = 1;
    for (int d = 0; d < nd; d++) {
      const int64_t xd = xs->dims[xs->ndim - 1 - d];
      const int64_t idx = rem % xd;
      rem /= xd;
      if (d < p->shape.ndim) {
        const int64_t pd = p->shape.dims[p->shape.ndim - 1 - d];
        if (pd != 1) off += idx * stride;
        stride *= pd;
      }
    }
    dst[i] = v[off];
  }
}

static tq_status ln_forward(tq_op_call *c) {
  ln_geom g;
  tq_status st = ln_prepare(c, &g);
  if (st) return st;
  const tq_shape *xs = &c->in[0]->shape;
  const double eps = ((const norm_params *)c->params)->epsilon;
  float *sb = malloc((size_t)(2 * g.n + 1) * sizeof *sb);
  if (!sb)
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for %lld parameters", (long long)g.n);
  float *scale = sb, *bias = sb + g.n;
  ln_expand(c->in[1], xs, g.axis, scale, g.n);
  if (c->n_in > 2 && c->in[2])
    ln_expand(c->in[2], xs, g.axis, bias, g.n);
  else
    for (int64_t i = 0; i < g.n; i++) bias[i] = 0.0f;
  const float *x = tq_cf32(c->in[0]);
  float *y = tq_f32(c->out[0]);
  float *mean_out = c->n_out > 1 && c->out[1] ? tq_f32(c->out[1]) : NULL;
  float *inv_out = c->n_out > 2 && c->out[2] ? tq_f32(c->out[2]) : NULL;
  int nt = tq_nn_threads(c);
  if (nt > g.rows) nt = (int)(g.rows > 0 ? g.rows : 1);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < g.rows; r++) {
    double mean, inv;
    moments(x + r * g.n, g.n, eps, &mean, &inv);
    const float m = (float)mean, is = (float)inv;
    const float *xr = x + r * g.n;
    float *yr = y + r * g.n;
    for (int64_t i = 0; i < g.n; i++)
      yr[i] = (xr[i] - m) * is * scale[i] + bias[i];
    if (mean_out) mean_out[r] = m;
    if (inv_out) inv_out[r] = is;
  }
  free(sb);
  return TQ_OK;
}

/* ---- RMSNormalization (opset 23) ---------------------------------------
 * Y = X / sqrt(mean(X^2) + epsilon) * Scale over the dims from axis on:
 * the mean of squares in double, then scaled in float32 as LayerNorm. */

static tq_status rms_forward(tq_op_call *c) {
  ln_geom g;
  tq_status st = ln_prepare(c, &g);
  if (st) return st;
  const double eps = ((const norm_params *)c->params)->epsilon;
  float *scale = malloc((size_t)(g.n + 1) * sizeof *scale);
  if (!scale)
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for %lld parameters", (long long)g.n);
  ln_expand(c->in[1], &c->in[0]->shape, g.axis, scale, g.n);
  const float *x = tq_cf32(c->in[0]);
  float *y = tq_f32(c->out[0]);
  int nt = tq_nn_threads(c);
  if (nt > g.rows) nt = (int)(g.rows > 0 ? g.rows : 1);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < g.rows; r++) {
    const float *xr = x + r * g.n;
    double ss = 0.0;
    for (int64_t i = 0; i < g.n; i++) ss += (double)xr[i] * xr[i];
    const float inv = (float)(1.0 / sqrt(ss / (double)g.n + eps));
    float *yr = y + r * g.n;
    for (int64_t i = 0; i < g.n; i++) yr[i] = xr[i] * inv * scale[i];
  }
  free(scale);
  return TQ_OK;
}

/* ---- com.microsoft SkipLayerNormalization ------------------------------
 * output = LayerNorm(input + skip + bias) over the last dimension with
 * gamma and beta (ONNX Runtime's transformer optimizer fuses BERT's
 * residual adds this way). skip has input's shape or broadcasts over the
 * batch ((S, H) or (1, S, H)); gamma, beta, bias are (H). The sum in
 * float32 (input + skip, then + bias), statistics in double as LayerNorm;
 * optional outputs mean, inv_std_var (shape (..., 1)) and the sum. */

static tq_status sln_prepare(tq_op_call *c, int64_t *rows, int64_t *n) {
  tq_status st = tq_nn_check_input(c, 0, "input", 2, 3);
  if (st) return st;
  if ((st = tq_nn_check_input(c, 1, "skip", 2, 3))) return st;
  const tq_shape *xs = &c->in[0]->shape, *ks = &c->in[1]->shape;
  *n = xs->dims[xs->ndim - 1];
  *rows = *n ? (int64_t)c->in[0]->numel / *n : 0;
  const int64_t per = (int64_t)c->in[1]->numel;
  if (ks->dims[ks->ndim - 1] != *n || per == 0 ||
      (int64_t)c->in[0]->numel % per)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "skip must have input's shape or broadcast over its "
                         "batch");
  static const char *const names[] = {"gamma", "beta", "bias"};
  for (size_t i = 2; i < c->n_in && i < 5; i++)
    if (c->in[i] && (c->in[i]->numel != (size_t)*n))
      return tq_call_error(c, TQ_ERR_SHAPE, "%s must hold %lld values",
                           names[i - 2], (long long)*n);
  if (c->n_in < 3 || !c->in[2])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "gamma is required");
  return TQ_OK;
}

static tq_status sln_infer(tq_op_call *c) {
  int64_t rows, n;
  tq_status st = sln_prepare(c, &rows, &n);
  if (st) return st;
  const tq_shape *xs = &c->in[0]->shape;
  tq_shape ss = *xs;
  ss.dims[ss.ndim - 1] = 1;
  for (size_t i = 0; i < c->n_out; i++)
    if (c->out[i] && (st = tq_call_set_output(c, i, TQ_DTYPE_FLOAT32,
                                              i == 1 || i == 2 ? &ss : xs)))
      return st;
  return TQ_OK;
}

static tq_status sln_forward(tq_op_call *c) {
  int64_t rows, n;
  tq_status st = sln_prepare(c, &rows, &n);
  if (st) return st;
  const double eps = ((const norm_params *)c->params)->epsilon;
  const float *x = tq_cf32(c->in[0]), *k = tq_cf32(c->in[1]);
  const float *gamma = tq_cf32(c->in[2]);
  const float *beta = c->n_in > 3 && c->in[3] ? tq_cf32(c->in[3]) : NULL;
  const float *bias = c->n_in > 4 && c->in[4] ? tq_cf32(c->in[4]) : NULL;
  const int64_t krows = (int64_t)c->in[1]->numel / n;
  float *y = tq_f32(c->out[0]);
  float *mean_out = c->n_out > 1 && c->out[1] ? tq_f32(c->out[1]) : NULL;
  float *inv_out = c->n_out > 2 && c->out[2] ? tq_f32(c->out[2]) : NULL;
  float *sum_out = c->n_out > 3 && c->out[3] ? tq_f32(c->out[3]) : NULL;
  float *scratch = sum_out ? NULL : malloc((size_t)(rows * n + 1) * 4);
  if (!sum_out && !scratch)
    return tq_call_error(c, TQ_ERR_NO_MEMORY, "out of memory for %lld rows",
                         (long long)rows);
  float *sum = sum_out ? sum_out : scratch;
  int nt = tq_nn_threads(c);
  if (nt > rows) nt = (int)(rows > 0 ? rows : 1);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    float *sr = sum + r * n;
    const float *xr = x + r * n, *kr = k + (r % krows) * n;
    for (int64_t i = 0; i < n; i++)
      sr[i] = bias ? xr[i] + kr[i] + bias[i] : xr[i] + kr[i];
    double mean, inv;
    moments(sr, n, eps, &mean, &inv);
    const float m = (float)mean, is = (float)inv;
    float *yr = y + r * n;
    for (int64_t i = 0; i < n; i++)
      yr[i] = (sr[i] - m) * is * gamma[i] + (beta ? beta[i] : 0.0f);
    if (mean_out) mean_out[r] = m;
    if (inv_out) inv_out[r] = is;
  }
  free(scratch);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_norm[] = {
    {TQ_OP_ONNX(TQ_OP_BATCH_NORMALIZATION, "BatchNormalization"),
     TQ_OP_ARITY(5, 5, 1, 5), .flags = TQ_OPF_WEIGHTS,
     TQ_OP_PARAMS(norm_params, norm_parse), .infer = bn_infer,
     .forward = bn_forward, .backward = bn_backward,
     /* the running mean and variance (inputs 3, 4) are state */
     .state_inputs = (1u << 3) | (1u << 4)},
    {TQ_OP_ONNX(TQ_OP_INSTANCE_NORMALIZATION, "InstanceNormalization"),
     TQ_OP_ARITY(3, 3, 1, 1), .flags = TQ_OPF_WEIGHTS,
     TQ_OP_PARAMS(norm_params, norm_parse), .infer = in_infer,
     .forward = in_forward},
    {TQ_OP_ONNX(TQ_OP_LAYER_NORMALIZATION, "LayerNormalization"),
     TQ_OP_ARITY(2, 3, 1, 3), .flags = TQ_OPF_WEIGHTS,
     TQ_OP_PARAMS(norm_params, norm_parse), .infer = ln_infer,
     .forward = ln_forward},
    {TQ_OP_ONNX_FROM(TQ_OP_RMS_NORMALIZATION, "RMSNormalization", 23),
     TQ_OP_ARITY(2, 2, 1, 1), .flags = TQ_OPF_WEIGHTS,
     TQ_OP_PARAMS(norm_params, norm_parse), .infer = ln_infer,
     .forward = rms_forward},
    /* ONNX Runtime's contrib LayerNormalization: ONNX's (opset 17) */
    {.id = TQ_OP_MS_LAYER_NORMALIZATION,
     .name = "LayerNormalization",
     .domain = TQ_DOMAIN_MS,
     .min_opset = 1,
     .max_opset = TQ_OPSET_OPEN,
     TQ_OP_ARITY(2, 3, 1, 3),
     .flags = TQ_OPF_WEIGHTS,
     TQ_OP_PARAMS(norm_params, norm_parse),
     .infer = ln_infer,
     .forward = ln_forward},
    {.id = TQ_OP_SKIP_LAYER_NORMALIZATION,
     .name = "SkipLayerNormalization",
     .domain = TQ_DOMAIN_MS,
     .min_opset = 1,
     .max_opset = TQ_OPSET_OPEN,
     TQ_OP_ARITY(3, 5, 1, 4),
     .flags = TQ_OPF_WEIGHTS,
     TQ_OP_PARAMS(norm_params, norm_parse),
     .infer = sln_infer,
     .forward = sln_forward},
};
const size_t tq_ops_norm_count = TQ_OP_COUNT_OF(tq_ops_norm);
