/* Backward of the elementwise group (elementwise.c, activation.c,
 * dropout.c).
 *
 * Broadcasting: the gradient of an input broadcast in the forward is the
 * output's gradient summed over the broadcast dimensions (tq_bw_sum_to:
 * each element sums its terms in a fixed order, in double). Inputs that
 * have the output's shape take their gradient directly.
 *
 * Derivatives at the kinks of piecewise functions are PyTorch's:
 * Relu'(0) = 0, LeakyRelu'(0) = alpha, PRelu'(0) = slope (and the slope's
 * gradient there is 0), Abs'(0) = 0, Elu'(0) = alpha, Selu'(0) =
 * gamma * alpha, Celu'(0) = 1, ThresholdedRelu'(alpha) = 0, Clip passes the
 * gradient where min <= x <= max, HardSigmoid's is alpha strictly inside
 * (0 < alpha*x + beta < 1), HardSwish's is x/3 + 1/2 on the closed
 * interval [-3, 3] (0 below, 1 above); Max/Min give it to the first input
 * that holds the result (ties). Floor, Ceil, Round, Sign and Hardmax have
 * gradient 0; so do Clip's bounds, Dropout's ratio and Where's condition.
 *
 * Local derivatives use the forward's outputs where that is cheaper
 * (Sqrt, Exp, Reciprocal, Sigmoid, Tanh, Div, Pow, Softmax, LogSoftmax), the
 * inputs otherwise. Everything is elementwise or a fixed-order sum, so
 * results are the same bits at any thread count. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"

/* ---- shared helpers
 * --------------------------------------------------------*/

enum { BW_BLOCK = 256 };

typedef struct fill_arg {
  float *dst;
  float v;
} fill_arg;

static void fill_chunk(void *arg, size_t first, size_t n) {
  const fill_arg *g = arg;
  for (size_t i = 0; i < n; i++) g->dst[first + i] = g->v;
}

void tq_bw_fill(float *dst, size_t n, float v, int threads) {
  fill_arg g = {dst, v};
  tq_ew_for_chunks(n, threads, fill_chunk, &g);
}

typedef struct copyf_arg {
  const float *src;
  float *dst;
} copyf_arg;

static void copyf_chunk(void *arg, size_t first, size_t n) {
  const copyf_arg *g = arg;
  memcpy(g->dst + first, g->src + first, n * sizeof *g->dst);
}

static void copyf(const float *src, float *dst, size_t n, int threads) {
  if (src == dst) return;
  copyf_arg g = {src, dst};
  tq_ew_for_chunks(n, threads, copyf_chunk, &g);
}

/* The summing plan: the source's dimensions merged into groups that are
 * kept (appear in the target) or summed, each with its source stride. */
typedef struct sum_plan {
  int nk, nr;
  int64_t kd[TQ_BW_MAXD], ks[TQ_BW_MAXD];
  int64_t rd[TQ_BW_MAXD], rs[TQ_BW_MAXD];
  int inner_kept; /* the innermost group is kept (stride 1) */
} sum_plan;

static void sum_plan_build(sum_plan *p, const int64_t *odims,
                           const int64_t *tdims, int nd) {
  int64_t st[TQ_BW_MAXD], s = 1;
  for (int d = nd - 1; d >= 0; d--) {
    st[d] = s;
    s *= odims[d];
  }
  p->nk = p->nr = 0;
  int last = -1; /* class of the previous group: 0 kept, 1 summed */
  for (int d = 0; d < nd; d++) {
    if (odims[d] == 1) continue;
    int sum = tdims[d] == 1;
    int64_t *gd = sum ? p->rd : p->kd, *gs = sum ? p->rs : p->ks;
    int *cnt = sum ? &p->nr : &p->nk;
    if (last == sum) {
      gd[*cnt - 1] *= odims[d];
      gs[*cnt - 1] = st[d];
    } else {
      gd[*cnt] = odims[d];
      gs[*cnt] = st[d];
      (*cnt)++;
    }
    last = sum;
  }
  p->inner_kept = last == 0;
}

/* Source offset of kept index q over the first m kept groups. */
static int64_t kept_offset(const sum_plan *p, int m, size_t q) {
  int64_t off = 0;
  for (int d = m - 1; d >= 0; d--) {
    off += (int64_t)(q % (size_t)p->kd[d]) * p->ks[d];
    q /= (size_t)p->kd[d];
  }
  return off;
}

/* Advances the row-major odometer over the first m summed groups; 0 when
 * it wraps around (done). */
static int sum_next(const sum_plan *p, int m, int64_t *idx, int64_t *off) {
  for (int d = m - 1; d >= 0; d--) {
    *off += p->rs[d];
    if (++idx[d] < p->rd[d]) return 1;
    *off -= p->rs[d] * p->rd[d];
    idx[d] = 0;
  }
  return 0;
}

void tq_bw_sum_to(const float *src, const int64_t *odims, const int64_t *tdims,
                  int nd, float *dst, int threads) {
  size_t nsrc = 1, ndst = 1;
  for (int d = 0; d < nd; d++) {
    nsrc *= (size_t)odims[d];
    ndst *= (size_t)tdims[d];
  }
  if (ndst == 0) return;
  if (nsrc == 0) { /* a summed dimension is empty */
    tq_bw_fill(dst, ndst, 0.0f, threads);
    return;
  }
  sum_plan p;
  sum_plan_build(&p, odims, tdims, nd);
  if (p.nr == 0) { /* nothing is summed: the same layout */
    copyf(src, dst, ndst, threads);
    return;
  }
  if (threads < 1) threads = 1;
  if (p.inner_kept) {
    /* Blocks of the innermost kept run, accumulated over every summed
     * index in row-major order. */
    size_t L = (size_t)p.kd[p.nk - 1], q_n = ndst / L;
    size_t blocks = (L + BW_BLOCK - 1) / BW_BLOCK, tasks = q_n * blocks;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (nsrc >= TQ_CHUNK_ELEMS && tasks > 1)
    for (size_t t = 0; t < tasks; t++) {
      size_t q = t / blocks, i0 = (t % blocks) * BW_BLOCK;
      size_t len = L - i0 < BW_BLOCK ? L - i0 : BW_BLOCK;
      const float *base = src + kept_offset(&p, p.nk - 1, q) + i0;
      double acc[BW_BLOCK];
      for (size_t i = 0; i < len; i++) acc[i] = 0.0;
      int64_t idx[TQ_BW_MAXD] = {0}, off = 0;
      do {
        const float *s = base + off;
        for (size_t i = 0; i < len; i++) acc[i] += s[i];
      } while (sum_next(&p, p.nr, idx, &off));
      float *o = dst + q * L + i0;
      for (size_t i = 0; i < len; i++) o[i] = (float)acc[i];
    }
    return;
  }
  /* The innermost summed run is contiguous: one sum per target element. */
  size_t R = (size_t)p.rd[p.nr - 1];
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (nsrc >= TQ_CHUNK_ELEMS && ndst > 1)
  for (size_t j = 0; j < ndst; j++) {
    const float *base = src + kept_offset(&p, p.nk, j);
    double acc = 0.0;
    int64_t idx[TQ_BW_MAXD] = {0}, off = 0;
    do {
      const float *s = base + off;
      for (size_t i = 0; i < R; i++) acc += s[i];
    } while (sum_next(&p, p.nr - 1, idx, &off));
    dst[j] = (float)acc;
  }
}

void tq_bw_sum_to_shape(const float *src, const tq_shape *out,
                        const tq_shape *target, float *dst, int threads) {
  int64_t tdims[TQ_BW_MAXD];
  int off = out->ndim - target->ndim;
  for (int d = 0; d < out->ndim; d++)
    tdims[d] = d >= off ? target->dims[d - off] : 1;
  tq_bw_sum_to(src, out->dims, tdims, out->ndim, dst, threads);
}

static size_t shape_numel(const tq_shape *s) {
  size_t n = 1;
  for (int d = 0; d < s->ndim; d++) n *= (size_t)s->dims[d];
  return n;
}

tq_status tq_bw_check_gin(tq_op_call *c, tq_tensor **gin) {
  for (size_t k = 0; k < c->n_in; k++) {
    if (!gin[k]) continue;
    const tq_tensor *x = c->in[k];
    if (!x || x->dtype != TQ_DTYPE_FLOAT32 ||
        gin[k]->dtype != TQ_DTYPE_FLOAT32 || gin[k]->numel != x->numel)
      return tq_call_error(c, TQ_ERR_INTERNAL,
                           "gradient of input %zu requested for an absent, "
                           "non-float or differently sized input",
                           k);
  }
  return TQ_OK;
}

/* data (shape s, broadcastable to so of n elements) as n values of so's
 * shape: data itself when it has them all, else a copy in *buf. */
static tq_status bcast(tq_op_call *c, const float *data, const tq_shape *s,
                       const tq_shape *so, size_t n, float **buf,
                       const float **out) {
  if (shape_numel(s) == n) {
    *out = data;
    return TQ_OK;
  }
  *buf = malloc((n ? n : 1) * sizeof **buf);
  if (!*buf) return tq_error_nomem(c->ctx);
  tq_ew_broadcast_copy(data, s, *buf, so, sizeof(float), tq_ew_threads(c));
  *out = *buf;
  return TQ_OK;
}

/* The gradient of an input of shape sk from d, its per-element terms at
 * the output's shape so: d is gin's own buffer when shapes match (nothing
 * to do), else summed into gin. */
static void finish(tq_op_call *c, const float *d, const tq_shape *so,
                   const tq_shape *sk, tq_tensor *gin) {
  if (d != tq_f32(gin))
    tq_bw_sum_to_shape(d, so, sk, tq_f32(gin), tq_ew_threads(c));
}

/* Where the per-element terms of input k's gradient go: gin itself when
 * the input is not broadcast, else *tmp (allocated once, n floats). */
static tq_status term_buffer(tq_op_call *c, const tq_shape *sk, size_t n,
                             tq_tensor *gin, float **tmp, float **out) {
  if (shape_numel(sk) == n) {
    *out = tq_f32(gin);
    return TQ_OK;
  }
  if (!*tmp) {
    *tmp = malloc((n ? n : 1) * sizeof **tmp);
    if (!*tmp) return tq_error_nomem(c->ctx);
  }
  *out = *tmp;
  return TQ_OK;
}

/* ---- pointwise: unary math and activations
 * ---------------------------------*/

enum {
  G_SQRT,
  G_EXP,
  G_LOG,
  G_ABS,
  G_NEG,
  G_RECIPROCAL,
  G_IDENTITY,
  G_ZERO,
  G_ERF,
  G_SIN,
  G_COS,
  G_RELU,
  G_LEAKY_RELU,
  G_SIGMOID,
  G_TANH,
  G_HARD_SIGMOID,
  G_HARD_SWISH,
  G_ELU,
  G_SELU,
  G_CELU,
  G_SOFTPLUS,
  G_SOFTSIGN,
  G_GELU,
  G_GELU_TANH,
  G_MISH,
  G_THRESHOLDED_RELU,
};

/* op_type -> gradient formula; activations' attributes come from
 * tq_act_attrs (activation.c), the others have none. */
static const struct {
  const char *name;
  int op;
} pw_ops[] = {
    {"Sqrt", G_SQRT},
    {"Exp", G_EXP},
    {"Log", G_LOG},
    {"Abs", G_ABS},
    {"Neg", G_NEG},
    {"Reciprocal", G_RECIPROCAL},
    {"Identity", G_IDENTITY},
    {"Floor", G_ZERO},
    {"Ceil", G_ZERO},
    {"Round", G_ZERO},
    {"Sign", G_ZERO},
    {"Erf", G_ERF},
    {"Sin", G_SIN},
    {"Cos", G_COS},
    {"Relu", G_RELU},
    {"LeakyRelu", G_LEAKY_RELU},
    {"Sigmoid", G_SIGMOID},
    {"Tanh", G_TANH},
    {"HardSigmoid", G_HARD_SIGMOID},
    {"HardSwish", G_HARD_SWISH},
    {"Elu", G_ELU},
    {"Selu", G_SELU},
    {"Celu", G_CELU},
    {"Softplus", G_SOFTPLUS},
    {"Softsign", G_SOFTSIGN},
    {"Gelu", G_GELU},
    {"Mish", G_MISH},
    {"ThresholdedRelu", G_THRESHOLDED_RELU},
};

typedef struct pw_arg {
  int op;
  float alpha, beta, gamma;
  const float *x, *y, *g;
  float *d;
} pw_arg;

static float sigmoid_f(float v) {
  const float e = expf(-fabsf(v));
  const float den = 1.0f + e;
  return v >= 0.0f ? 1.0f / den : e / den;
}

static float softplus_f(float v) {
  return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
}

#define PW_LOOP(expr) \
  for (size_t i = first; i < end; i++) d[i] = (expr)

static void pw_chunk(void *arg, size_t first, size_t n) {
  const pw_arg *a = arg;
  const float *x = a->x, *y = a->y, *g = a->g;
  float *d = a->d;
  const float alpha = a->alpha, beta = a->beta, gamma = a->gamma;
  const size_t end = first + n;
  switch (a->op) {
    case G_SQRT: PW_LOOP(g[i] * 0.5f / y[i]); break;
    case G_EXP: PW_LOOP(g[i] * y[i]); break;
    case G_LOG: PW_LOOP(g[i] / x[i]); break;
    case G_ABS: PW_LOOP(x[i] > 0.0f ? g[i] : x[i] < 0.0f ? -g[i] : 0.0f); break;
    case G_NEG: PW_LOOP(-g[i]); break;
    case G_RECIPROCAL: PW_LOOP(-g[i] * (y[i] * y[i])); break;
    case G_IDENTITY: PW_LOOP(g[i]); break;
    case G_ZERO: PW_LOOP(0.0f); break;
    case G_ERF:
      /* 2 / sqrt(pi) */
      PW_LOOP(g[i] * (1.12837916709551257f * expf(-x[i] * x[i])));
      break;
    case G_SIN: PW_LOOP(g[i] * cosf(x[i])); break;
    case G_COS: PW_LOOP(-g[i] * sinf(x[i])); break;
    case G_RELU: PW_LOOP(x[i] > 0.0f ? g[i] : 0.0f); break;
    case G_LEAKY_RELU: PW_LOOP(x[i] > 0.0f ? g[i] : alpha * g[i]); break;
    case G_SIGMOID: PW_LOOP(g[i] * (y[i] * (1.0f - y[i]))); break;
    case G_TANH: PW_LOOP(g[i] * (1.0f - y[i] * y[i])); break;
    case G_HARD_SIGMOID:
      for (size_t i = first; i < end; i++) {
        const float t = alpha * x[i] + beta;
        d[i] = t > 0.0f && t < 1.0f ? alpha * g[i] : 0.0f;
      }
      break;
    case G_HARD_SWISH:
      for (size_t i = first; i < end; i++) {
        const float t = alpha * x[i] + beta;
        d[i] = t < 0.0f    ? 0.0f
               : t <= 1.0f ? g[i] * (x[i] * (2.0f * alpha) + beta)
                           : g[i];
      }
      break;
    case G_ELU:
      PW_LOOP(x[i] > 0.0f ? g[i] : g[i] * (alpha * expf(x[i])));
      break;
    case G_SELU:
      PW_LOOP(x[i] > 0.0f ? g[i] * gamma : g[i] * (gamma * alpha * expf(x[i])));
      break;
    case G_CELU: PW_LOOP(x[i] > 0.0f ? g[i] : g[i] * expf(x[i] / alpha)); break;
    case G_SOFTPLUS: PW_LOOP(g[i] * sigmoid_f(x[i])); break;
    case G_SOFTSIGN:
      for (size_t i = first; i < end; i++) {
        const float den = 1.0f + fabsf(x[i]);
        d[i] = g[i] / (den * den);
      }
      break;
    case G_GELU:
      /* Phi(x) + x phi(x); 1/sqrt(2), 1/sqrt(2 pi) */
      for (size_t i = first; i < end; i++) {
        const float v = x[i];
        const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
        const float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
        d[i] = g[i] * (cdf + v * pdf);
      }
      break;
    case G_GELU_TANH: {
      const float k = 0.7978845608028654f, c3 = 0.044715f; /* sqrt(2/pi) */
      for (size_t i = first; i < end; i++) {
        const float v = x[i];
        const float t = tanhf(k * (v + c3 * v * v * v));
        const float du = k * (1.0f + 3.0f * c3 * v * v);
        d[i] = g[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
      }
      break;
    }
    case G_MISH:
      for (size_t i = first; i < end; i++) {
        const float v = x[i];
        const float t = tanhf(softplus_f(v));
        d[i] = g[i] * (t + v * (1.0f - t * t) * sigmoid_f(v));
      }
      break;
    case G_THRESHOLDED_RELU: PW_LOOP(x[i] > alpha ? g[i] : 0.0f); break;
    default: break;
  }
}

tq_status tq_bw_pointwise(tq_op_call *c, const tq_tensor *const *gout,
                          tq_tensor **gin) {
  int k = -1;
  for (size_t i = 0; i < sizeof pw_ops / sizeof pw_ops[0]; i++)
    if (strcmp(pw_ops[i].name, c->op_type) == 0) k = (int)i;
  if (k < 0) return tq_call_error(c, TQ_ERR_INTERNAL, "no pointwise backward");
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  pw_arg a = {pw_ops[k].op,
              0.0f,
              0.0f,
              0.0f,
              tq_cf32(c->in[0]),
              tq_cf32(c->out[0]),
              tq_cf32(gout[0]),
              tq_f32(gin[0])};
  int gelu_tanh = 0;
  tq_act_attrs(c, &a.alpha, &a.beta, &a.gamma, &gelu_tanh);
  if (gelu_tanh) a.op = G_GELU_TANH;
  tq_ew_for_chunks(c->in[0]->numel, tq_ew_threads(c), pw_chunk, &a);
  return TQ_OK;
}

/* ---- binary: Add Sub Mul Div Pow
 * -------------------------------------------*/

enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW };

/* need_a/need_b: which broadcast operands the two gradients read. */
static const struct {
  const char *name;
  int op;
  int need_a, need_b;
} bin_ops[] = {
    {"Add", B_ADD, 0, 0}, {"Sub", B_SUB, 0, 0}, {"Mul", B_MUL, 1, 1},
    {"Div", B_DIV, 0, 1}, {"Pow", B_POW, 1, 1},
};

typedef struct bin_arg {
  int op, k;
  const float *a, *b, *y, *g;
  float *d;
} bin_arg;

static void bin_chunk(void *arg, size_t first, size_t n) {
  const bin_arg *p = arg;
  const float *a = p->a, *b = p->b, *y = p->y, *g = p->g;
  float *d = p->d;
  const size_t end = first + n;
  switch (p->op * 2 + p->k) {
    case B_ADD * 2:
    case B_ADD * 2 + 1:
    case B_SUB * 2: PW_LOOP(g[i]); break;
    case B_SUB * 2 + 1: PW_LOOP(-g[i]); break;
    case B_MUL * 2: PW_LOOP(g[i] * b[i]); break;
    case B_MUL * 2 + 1: PW_LOOP(g[i] * a[i]); break;
    case B_DIV * 2: PW_LOOP(g[i] / b[i]); break;
    case B_DIV * 2 + 1: PW_LOOP(-g[i] * (y[i] / b[i])); break;
    case B_POW * 2:
      PW_LOOP(b[i] == 0.0f ? 0.0f : g[i] * (b[i] * powf(a[i], b[i] - 1.0f)));
      break;
    case B_POW * 2 + 1:
      PW_LOOP(a[i] == 0.0f && b[i] >= 0.0f ? 0.0f : g[i] * (y[i] * logf(a[i])));
      break;
    default: break;
  }
}

/* B's shape as the forward broadcast it: before opset 7 with broadcast=1,
 * aligned to A at `axis` (default: A's trailing dims). */
static tq_shape legacy_b_shape(const tq_op_call *c, const tq_shape *sa,
                               const tq_shape *sb) {
  if (c->opset >= 7 || !tq_attr_int(c, "broadcast", 0)) return *sb;
  int ra = sa->ndim, rb = sb->ndim;
  int64_t axis = tq_attr_int(c, "axis", ra - rb);
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra) return *sb; /* rejected by the forward */
  tq_shape nb;
  memset(&nb, 0, sizeof nb);
  nb.ndim = ra;
  for (int d = 0; d < ra; d++)
    nb.dims[d] = d >= axis && d < axis + rb ? sb->dims[d - axis] : 1;
  return nb;
}

tq_status tq_bw_binary(tq_op_call *c, const tq_tensor *const *gout,
                       tq_tensor **gin) {
  int k = -1;
  for (size_t i = 0; i < sizeof bin_ops / sizeof bin_ops[0]; i++)
    if (strcmp(bin_ops[i].name, c->op_type) == 0) k = (int)i;
  if (k < 0) return tq_call_error(c, TQ_ERR_INTERNAL, "no binary backward");
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || (!gin[0] && !gin[1])) return st;
  const tq_tensor *ta = c->in[0], *tb = c->in[1], *g = gout[0];
  const tq_shape so = g->shape, sa = ta->shape;
  const tq_shape sb = legacy_b_shape(c, &sa, &tb->shape);
  size_t n = g->numel;
  float *abuf = NULL, *bbuf = NULL, *bconv = NULL, *tmp = NULL;
  const float *A = NULL, *B = NULL;
  if (bin_ops[k].need_a && ta->dtype == TQ_DTYPE_FLOAT32)
    st = bcast(c, tq_cf32(ta), &sa, &so, n, &abuf, &A);
  if (st == TQ_OK && bin_ops[k].need_b) {
    const float *bdata = NULL;
    if (tb->dtype == TQ_DTYPE_INT64) { /* Pow's integer exponent */
      bconv = malloc((tb->numel ? tb->numel : 1) * sizeof *bconv);
      if (!bconv) st = tq_error_nomem(c->ctx);
      for (size_t i = 0; bconv && i < tb->numel; i++)
        bconv[i] = (float)tq_ci64(tb)[i];
      bdata = bconv;
    } else {
      bdata = tq_cf32(tb);
    }
    if (st == TQ_OK) st = bcast(c, bdata, &sb, &so, n, &bbuf, &B);
  }
  for (int j = 0; st == TQ_OK && j < 2; j++) {
    if (!gin[j]) continue;
    const tq_shape *sk = j ? &sb : &sa;
    float *d = NULL;
    st = term_buffer(c, sk, n, gin[j], &tmp, &d);
    if (st != TQ_OK) break;
    bin_arg a = {bin_ops[k].op, j, A, B, tq_cf32(c->out[0]), tq_cf32(g), d};
    tq_ew_for_chunks(n, tq_ew_threads(c), bin_chunk, &a);
    finish(c, d, &so, sk, gin[j]);
  }
  free(abuf);
  free(bbuf);
  free(bconv);
  free(tmp);
  return st;
}

/* ---- variadic: Sum Mean Max Min
 * --------------------------------------------*/

enum { V_SUM, V_MEAN, V_MAX, V_MIN };

static const struct {
  const char *name;
  int op;
} var_ops[] = {
    {"Sum", V_SUM},
    {"Mean", V_MEAN},
    {"Max", V_MAX},
    {"Min", V_MIN},
};

typedef struct var_arg {
  int k;
  float scale;
  const float *x, *y, *g;
  int32_t *owner;
  float *d;
} var_arg;

/* Max/Min: owner[i] = the first input whose value is the result (NaN
 * results: the first NaN input, which the forward propagated). */
static void owner_chunk(void *arg, size_t first, size_t n) {
  const var_arg *a = arg;
  for (size_t i = first; i < first + n; i++) {
    const float v = a->x[i], r = a->y[i];
    if (a->owner[i] < 0 && (v == r || (v != v && r != r))) a->owner[i] = a->k;
  }
}

static void owned_chunk(void *arg, size_t first, size_t n) {
  const var_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = a->owner[i] == a->k ? a->g[i] : 0.0f;
}

static void scale_chunk(void *arg, size_t first, size_t n) {
  const var_arg *a = arg;
  for (size_t i = first; i < first + n; i++) a->d[i] = a->g[i] * a->scale;
}

tq_status tq_bw_variadic(tq_op_call *c, const tq_tensor *const *gout,
                         tq_tensor **gin) {
  int op = -1;
  for (size_t i = 0; i < sizeof var_ops / sizeof var_ops[0]; i++)
    if (strcmp(var_ops[i].name, c->op_type) == 0) op = var_ops[i].op;
  if (op < 0) return tq_call_error(c, TQ_ERR_INTERNAL, "no variadic backward");
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  const tq_tensor *g = gout[0];
  const tq_shape so = g->shape;
  size_t n = g->numel;
  int threads = tq_ew_threads(c);
  int32_t *owner = NULL;
  float *tmp = NULL;
  if (op == V_MAX || op == V_MIN) {
    owner = malloc((n ? n : 1) * sizeof *owner);
    if (!owner) return tq_error_nomem(c->ctx);
    for (size_t i = 0; i < n; i++) owner[i] = -1;
    for (size_t k = 0; st == TQ_OK && k < c->n_in; k++) {
      const float *x = NULL;
      float *buf = NULL;
      st = bcast(c, tq_cf32(c->in[k]), &c->in[k]->shape, &so, n, &buf, &x);
      if (st != TQ_OK) break;
      var_arg a = {(int)k, 0.0f, x, tq_cf32(c->out[0]), NULL, owner, NULL};
      tq_ew_for_chunks(n, threads, owner_chunk, &a);
      free(buf);
    }
  }
  for (size_t k = 0; st == TQ_OK && k < c->n_in; k++) {
    if (!gin[k]) continue;
    const tq_shape *sk = &c->in[k]->shape;
    if (op == V_SUM) { /* the gradient itself, summed where broadcast */
      tq_bw_sum_to_shape(tq_cf32(g), &so, sk, tq_f32(gin[k]), threads);
      continue;
    }
    float *d = NULL;
    st = term_buffer(c, sk, n, gin[k], &tmp, &d);
    if (st != TQ_OK) break;
    /* Mean: the forward's factor, 1 / n in float. */
    var_arg a = {(int)k, 1.0f / (float)c->n_in, NULL, NULL, tq_cf32(g), owner,
                 d};
    tq_ew_for_chunks(n, threads, op == V_MEAN ? scale_chunk : owned_chunk, &a);
    finish(c, d, &so, sk, gin[k]);
  }
  free(owner);
  free(tmp);
  return st;
}

/* ---- PRelu
 * -----------------------------------------------------------------*/

typedef struct prelu_arg {
  const float *x, *s, *g;
  float *d;
} prelu_arg;

static void prelu_x_chunk(void *arg, size_t first, size_t n) {
  const prelu_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = a->x[i] > 0.0f ? a->g[i] : a->s[i] * a->g[i];
}

static void prelu_s_chunk(void *arg, size_t first, size_t n) {
  const prelu_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = a->x[i] > 0.0f ? 0.0f : a->x[i] * a->g[i];
}

tq_status tq_bw_prelu(tq_op_call *c, const tq_tensor *const *gout,
                      tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *s = c->in[1], *g = gout[0];
  size_t n = x->numel;
  int threads = tq_ew_threads(c);
  if (gin[0]) {
    float *sbuf = NULL;
    const float *sb = NULL;
    st = bcast(c, tq_cf32(s), &s->shape, &x->shape, n, &sbuf, &sb);
    if (st != TQ_OK) return st;
    prelu_arg a = {tq_cf32(x), sb, tq_cf32(g), tq_f32(gin[0])};
    tq_ew_for_chunks(n, threads, prelu_x_chunk, &a);
    free(sbuf);
  }
  if (gin[1]) {
    float *tmp = NULL, *d = NULL;
    st = term_buffer(c, &s->shape, n, gin[1], &tmp, &d);
    if (st != TQ_OK) return st;
    prelu_arg a = {tq_cf32(x), NULL, tq_cf32(g), d};
    tq_ew_for_chunks(n, threads, prelu_s_chunk, &a);
    finish(c, d, &x->shape, &s->shape, gin[1]);
    free(tmp);
  }
  return TQ_OK;
}

/* ---- Clip
 * ------------------------------------------------------------------*/

typedef struct clip_arg {
  float lo, hi;
  const float *x, *g;
  float *d;
} clip_arg;

static void clip_chunk(void *arg, size_t first, size_t n) {
  const clip_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = a->x[i] >= a->lo && a->x[i] <= a->hi ? a->g[i] : 0.0f;
}

tq_status tq_bw_clip(tq_op_call *c, const tq_tensor *const *gout,
                     tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  int threads = tq_ew_threads(c);
  for (size_t k = 1; k < c->n_in && k < 3; k++) /* the bounds: none */
    if (gin[k]) tq_bw_fill(tq_f32(gin[k]), gin[k]->numel, 0.0f, threads);
  if (!gin[0]) return TQ_OK;
  /* The bounds as the forward reads them. */
  clip_arg a = {-FLT_MAX, FLT_MAX, tq_cf32(c->in[0]), tq_cf32(gout[0]),
                tq_f32(gin[0])};
  if (c->opset < 11) {
    a.lo = tq_attr_float(c, "min", -FLT_MAX);
    a.hi = tq_attr_float(c, "max", FLT_MAX);
  } else {
    if (c->n_in > 1 && c->in[1]) a.lo = tq_cf32(c->in[1])[0];
    if (c->n_in > 2 && c->in[2]) a.hi = tq_cf32(c->in[2])[0];
  }
  tq_ew_for_chunks(c->in[0]->numel, threads, clip_chunk, &a);
  return TQ_OK;
}

/* ---- Softmax, LogSoftmax, Hardmax
 * ------------------------------------------*/

enum { SM_SOFTMAX, SM_LOG_SOFTMAX, SM_HARDMAX };

static const struct {
  const char *name;
  int kind;
} sm_ops[] = {
    {"Softmax", SM_SOFTMAX},
    {"LogSoftmax", SM_LOG_SOFTMAX},
    {"Hardmax", SM_HARDMAX},
};

/* The forward's reduction as (outer, n, inner): before opset 13 over
 * dims[axis:] (axis default 1), from 13 over dims[axis] (default -1). */
static tq_status sm_layout(tq_op_call *c, size_t *outer, size_t *n,
                           size_t *inner) {
  const tq_shape *s = &c->in[0]->shape;
  int legacy = c->opset < 13, axis;
  tq_status st =
      tq_call_axis(c, tq_attr_int(c, "axis", legacy ? 1 : -1), s->ndim, &axis);
  if (st != TQ_OK) return st;
  *outer = *n = *inner = 1;
  for (int d = 0; d < s->ndim; d++) {
    size_t v = (size_t)s->dims[d];
    if (d < axis)
      *outer *= v;
    else if (d == axis || legacy)
      *n *= v;
    else
      *inner *= v;
  }
  return TQ_OK;
}

tq_status tq_bw_softmax(tq_op_call *c, const tq_tensor *const *gout,
                        tq_tensor **gin) {
  int kind = -1;
  for (size_t i = 0; i < sizeof sm_ops / sizeof sm_ops[0]; i++)
    if (strcmp(sm_ops[i].name, c->op_type) == 0) kind = sm_ops[i].kind;
  if (kind < 0) return tq_call_error(c, TQ_ERR_INTERNAL, "no softmax backward");
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  int threads = tq_ew_threads(c);
  float *d = tq_f32(gin[0]);
  if (kind == SM_HARDMAX) { /* piecewise constant */
    tq_bw_fill(d, gin[0]->numel, 0.0f, threads);
    return TQ_OK;
  }
  size_t outer, n, inner;
  st = sm_layout(c, &outer, &n, &inner);
  if (st != TQ_OK) return st;
  const float *y = tq_cf32(c->out[0]), *g = tq_cf32(gout[0]);
  size_t total = outer * n * inner;
  if (total == 0) return TQ_OK;
  /* Softmax: dx = y (g - sum(g y)); LogSoftmax: dx = g - exp(y) sum(g);
   * sums over the n values of a row, in order, in double. Tasks: blocks of
   * inner positions of one outer index. */
  size_t blocks = (inner + BW_BLOCK - 1) / BW_BLOCK, tasks = outer * blocks;
  if (threads < 1) threads = 1;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (total >= TQ_CHUNK_ELEMS && tasks > 1)
  for (size_t t = 0; t < tasks; t++) {
    size_t o = t / blocks, i0 = (t % blocks) * BW_BLOCK;
    size_t len = inner - i0 < BW_BLOCK ? inner - i0 : BW_BLOCK;
    double s[BW_BLOCK];
    for (size_t i = 0; i < len; i++) s[i] = 0.0;
    for (size_t k = 0; k < n; k++) {
      size_t at = (o * n + k) * inner + i0;
      for (size_t i = 0; i < len; i++)
        s[i] += kind == SM_SOFTMAX ? (double)g[at + i] * y[at + i] : g[at + i];
    }
    for (size_t k = 0; k < n; k++) {
      size_t at = (o * n + k) * inner + i0;
      for (size_t i = 0; i < len; i++)
        d[at + i] =
            kind == SM_SOFTMAX
                ? (float)((double)y[at + i] * ((double)g[at + i] - s[i]))
                : (float)((double)g[at + i] - (double)expf(y[at + i]) * s[i]);
    }
  }
  return TQ_OK;
}

/* ---- Where, Cast
 * -----------------------------------------------------------*/

typedef struct where_arg {
  const float *cond, *g;
  float *d;
  int take_x;
} where_arg;

static void where_chunk(void *arg, size_t first, size_t n) {
  const where_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = (a->cond[i] != 0.0f) == a->take_x ? a->g[i] : 0.0f;
}

/* Where(condition, X, Y): X gets the gradient where the condition holds,
 * Y elsewhere; the condition gets none. */
tq_status tq_bw_where(tq_op_call *c, const tq_tensor *const *gout,
                      tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  int threads = tq_ew_threads(c);
  if (gin[0]) tq_bw_fill(tq_f32(gin[0]), gin[0]->numel, 0.0f, threads);
  if (!gin[1] && !gin[2]) return TQ_OK;
  const tq_tensor *cond = c->in[0], *g = gout[0];
  const tq_shape so = g->shape;
  size_t n = g->numel;
  float *conv = NULL, *cbuf = NULL, *tmp = NULL;
  const float *cdata = NULL, *cb = NULL;
  if (cond->dtype == TQ_DTYPE_INT64) { /* a plan-time boolean */
    conv = malloc((cond->numel ? cond->numel : 1) * sizeof *conv);
    if (!conv) return tq_error_nomem(c->ctx);
    for (size_t i = 0; i < cond->numel; i++)
      conv[i] = tq_ci64(cond)[i] != 0 ? 1.0f : 0.0f;
    cdata = conv;
  } else {
    cdata = tq_cf32(cond);
  }
  st = bcast(c, cdata, &cond->shape, &so, n, &cbuf, &cb);
  for (int k = 1; st == TQ_OK && k < 3; k++) {
    if (!gin[k]) continue;
    float *d = NULL;
    st = term_buffer(c, &c->in[k]->shape, n, gin[k], &tmp, &d);
    if (st != TQ_OK) break;
    where_arg a = {cb, tq_cf32(g), d, k == 1};
    tq_ew_for_chunks(n, threads, where_chunk, &a);
    finish(c, d, &so, &c->in[k]->shape, gin[k]);
  }
  free(conv);
  free(cbuf);
  free(tmp);
  return st;
}

/* Cast to a real type passes the gradient; to an integer or a bool (whose
 * run-time values are float32 integers) the derivative is 0. CastLike's
 * target gets none. ONNX data types float (1) and double (11) are real. */
tq_status tq_bw_cast(tq_op_call *c, const tq_tensor *const *gout,
                     tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  int threads = tq_ew_threads(c);
  if (c->n_in > 1 && gin[1])
    tq_bw_fill(tq_f32(gin[1]), gin[1]->numel, 0.0f, threads);
  if (!gin[0]) return TQ_OK;
  int real;
  if (strcmp(c->op_type, "CastLike") == 0) {
    real = c->in[1]->dtype == TQ_DTYPE_FLOAT32;
  } else {
    int64_t to = tq_attr_int(c, "to", 0);
    real = to == 1 || to == 11;
  }
  if (real)
    copyf(tq_cf32(gout[0]), tq_f32(gin[0]), gin[0]->numel, threads);
  else
    tq_bw_fill(tq_f32(gin[0]), gin[0]->numel, 0.0f, threads);
  return TQ_OK;
}
