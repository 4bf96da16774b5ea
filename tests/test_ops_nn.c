/* Tests of the neural-network operators (conv.c, gemm.c, pool.c, norm.c):
 * infer + forward called directly, compared with naive loops (double
 * accumulation) on random shapes; ONNX Runtime results for the tricky
 * padding rules; intrinsic quantization against the scalar definition,
 * element by element; thread-count independence; error messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_bound.h"
#include "testutil.h"

#include "core/tensor_internal.h"
#include "ops/conv_impl_internal.h"
#include "ops/nn_internal.h"
#include "ops/op_internal.h"

/* ---- a hand-built operator call ---------------------------------------- */

#define MAX_ATTRS 12
#define MAX_INS 6
#define MAX_OUTS 3

typedef struct fx {
  tq_context *ctx;
  tq_attr_store attrs[MAX_ATTRS];
  int64_t ints[MAX_ATTRS][16];
  size_t n_attrs;
  tq_tensor *in[MAX_INS]; /* owned */
  size_t n_in;
  tq_tensor *out[MAX_OUTS]; /* owned */
  size_t n_out;
  const tq_qmap_value *intrinsic;
  uint64_t seed, stream, sample_offset;
  int threads;
  int64_t opset;
  tq_op_cache *cache; /* NULL: none, as for a node with run-time weights */
  const char *impl;   /* out: the implementation the last run used */
} fx;

static void fx_init(fx *f, tq_context *ctx) {
  memset(f, 0, sizeof *f);
  f->ctx = ctx;
  f->threads = 2;
  f->opset = 17;
  f->n_out = 1;
}

static void fx_clear_outputs(fx *f) {
  for (size_t i = 0; i < MAX_OUTS; i++) {
    tq_tensor_destroy(f->out[i]);
    f->out[i] = NULL;
  }
}

static void fx_free(fx *f) {
  for (size_t i = 0; i < MAX_INS; i++) tq_tensor_destroy(f->in[i]);
  fx_clear_outputs(f);
  memset(f->in, 0, sizeof f->in);
}

static tq_attr *fx_attr(fx *f, const char *name, tq_attr_type type) {
  for (size_t i = 0; i < f->n_attrs; i++)
    if (!strcmp(f->attrs[i].a.name, name)) {
      f->attrs[i].a.type = type;
      return &f->attrs[i].a;
    }
  assert_true(f->n_attrs < MAX_ATTRS);
  tq_attr *a = &f->attrs[f->n_attrs++].a;
  memset(a, 0, sizeof *a);
  a->name = name;
  a->type = type;
  return a;
}

static void attr_ints(fx *f, const char *name, const int64_t *v, size_t n) {
  tq_attr *a = fx_attr(f, name, TQ_ATTR_INTS);
  size_t slot = (size_t)(((tq_attr_store *)a) - f->attrs);
  assert_true(n <= 16);
  memcpy(f->ints[slot], v, n * sizeof *v);
  a->ints = f->ints[slot];
  a->count = n;
}

static void attr_int(fx *f, const char *name, int64_t v) {
  fx_attr(f, name, TQ_ATTR_INT)->i = v;
}

static void attr_float(fx *f, const char *name, float v) {
  fx_attr(f, name, TQ_ATTR_FLOAT)->f = v;
}

static void attr_str(fx *f, const char *name, const char *s) {
  fx_attr(f, name, TQ_ATTR_STRING)->s = s;
}

static uint64_t rng_state = 12345;

static float urand(void) {
  return (float)((double)(tq_test_rand(&rng_state) >> 40) / (double)(1 << 24) *
                     2.0 -
                 1.0);
}

static int64_t irand(int64_t lo, int64_t hi) { /* inclusive */
  return lo + (int64_t)(tq_test_rand(&rng_state) % (uint64_t)(hi - lo + 1));
}

/* Input i: a new tensor of the given dims with random values. */
static float *fx_input(fx *f, size_t i, int ndim, const int64_t *dims) {
  tq_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = ndim;
  for (int d = 0; d < ndim; d++) s.dims[d] = dims[d];
  tq_tensor_destroy(f->in[i]);
  assert_int_equal(tq_tensor_create(f->ctx, TQ_DTYPE_FLOAT32, &s, &f->in[i]),
                   TQ_OK);
  float *p = tq_f32(f->in[i]);
  for (size_t k = 0; k < f->in[i]->numel; k++) p[k] = urand();
  if (i + 1 > f->n_in) f->n_in = i + 1;
  return p;
}

static void fx_input_values(fx *f, size_t i, int ndim, const int64_t *dims,
                            const float *v) {
  float *p = fx_input(f, i, ndim, dims);
  memcpy(p, v, f->in[i]->numel * sizeof *p);
}

static const tq_op_desc *nn_op(const char *name, int64_t opset) {
  const tq_op_desc *d = tq_op_lookup("", name, opset);
  if (!d) fail_msg("no operator %s", name);
  return d;
}

/* Runs parse, infer then forward of op on the fixture's inputs. */
static tq_status fx_run(fx *f, const char *op) {
  const tq_op_desc *e = nn_op(op, f->opset);
  fx_clear_outputs(f);
  tq_shape s0;
  memset(&s0, 0, sizeof s0);
  for (size_t i = 0; i < f->n_out; i++)
    assert_int_equal(
        tq_tensor_create(f->ctx, TQ_DTYPE_FLOAT32, &s0, &f->out[i]), TQ_OK);
  const tq_tensor *ins[MAX_INS];
  for (size_t i = 0; i < MAX_INS; i++) ins[i] = f->in[i];
  tq_op_call c;
  memset(&c, 0, sizeof c);
  c.ctx = f->ctx;
  c.desc = e;
  c.node_id = "blk/node7";
  c.op_type = op;
  c.opset = f->opset;
  c.attrs = f->attrs;
  c.n_attrs = f->n_attrs;
  c.in = ins;
  c.n_in = f->n_in;
  c.out = f->out;
  c.n_out = f->n_out;
  c.intrinsic = f->intrinsic;
  c.seed = f->seed;
  c.stream = f->stream;
  c.sample_offset = f->sample_offset;
  c.threads = f->threads;
  c.cache = f->cache;
  void *params = NULL;
  tq_status st = tq_op_call_parse(&c, &params);
  if (st == TQ_OK) st = e->infer(&c);
  if (st == TQ_OK) st = e->forward(&c);
  f->impl = c.impl;
  free(params);
  return st;
}

static void expect_error(fx *f, const char *op, tq_status want,
                         const char *needle) {
  tq_status st = fx_run(f, op);
  const char *msg = tq_context_last_error(f->ctx);
  if (st != want || !msg || !strstr(msg, "blk/node7") || !strstr(msg, needle))
    fail_msg("%s: got status %d message \"%s\"; wanted status %d and \"%s\"",
             op, (int)st, msg ? msg : "(none)", (int)want, needle);
}

static void expect_shape(const tq_tensor *t, int ndim, const int64_t *dims) {
  char got[128];
  tq_shape_format(&t->shape, got, sizeof got);
  int ok = t->shape.ndim == ndim;
  for (int d = 0; ok && d < ndim; d++) ok = t->shape.dims[d] == dims[d];
  if (!ok) {
    tq_shape want;
    memset(&want, 0, sizeof want);
    want.ndim = ndim;
    for (int d = 0; d < ndim; d++) want.dims[d] = dims[d];
    char wb[128];
    tq_shape_format(&want, wb, sizeof wb);
    fail_msg("output shape %s, expected %s", got, wb);
  }
}

/* |got - want| <= 2e-5 * scale + 1e-6, scale = sum of |terms| */
static void expect_close(const float *got, const double *want,
                         const double *scale, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++) {
    const double tol = 2e-5 * (scale ? scale[i] : fabs(want[i])) + 1e-6;
    if (!(fabs((double)got[i] - want[i]) <= tol) &&
        !(isinf(want[i]) && (double)got[i] == want[i]) &&
        !(isnan(want[i]) && isnan(got[i])))
      fail_msg("%s: element %zu is %.9g, expected %.9g", what, i,
               (double)got[i], want[i]);
  }
}

static void expect_floats(const tq_tensor *t, const float *want, size_t n,
                          const char *what) {
  assert_int_equal(t->numel, n);
  for (size_t i = 0; i < n; i++)
    if (fabsf(tq_cf32(t)[i] - want[i]) > 1e-5f * (1.0f + fabsf(want[i])))
      fail_msg("%s: element %zu is %.9g, expected %.9g", what, i,
               (double)tq_cf32(t)[i], (double)want[i]);
}

static tq_context *new_ctx(void) {
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  return ctx;
}

/* ---- geometry, derived independently of the library ------------------- */

typedef struct geo {
  int nsp;
  int64_t in[3], k[3], s[3], d[3], lo[3], hi[3], out[3];
} geo;

enum { AP_NOTSET, AP_UPPER, AP_LOWER, AP_VALID };
static const char *const ap_names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER",
                                       "VALID"};

/* Conv and pool output geometry per the ONNX text. */
static int geo_window(geo *g, int ap, const int64_t *pads, int ceil_mode) {
  for (int i = 0; i < g->nsp; i++) {
    const int64_t ek = (g->k[i] - 1) * g->d[i] + 1;
    if (ap == AP_UPPER || ap == AP_LOWER) {
      const int64_t want = (g->in[i] + g->s[i] - 1) / g->s[i];
      int64_t total = (want - 1) * g->s[i] + ek - g->in[i];
      if (total < 0) total = 0;
      g->lo[i] = ap == AP_UPPER ? total / 2 : (total + 1) / 2;
      g->hi[i] = total - g->lo[i];
    } else if (ap == AP_VALID) {
      g->lo[i] = g->hi[i] = 0;
    } else {
      g->lo[i] = pads[i];
      g->hi[i] = pads[g->nsp + i];
    }
    const int64_t span = g->in[i] + g->lo[i] + g->hi[i] - ek;
    if (span < 0) return 0;
    if (!ceil_mode) {
      g->out[i] = (int64_t)floor((double)span / (double)g->s[i]) + 1;
    } else {
      g->out[i] = (int64_t)ceil((double)span / (double)g->s[i]) + 1;
      if ((g->out[i] - 1) * g->s[i] >= g->in[i] + g->lo[i]) g->out[i]--;
    }
  }
  return 1;
}

static int64_t prod(const int64_t *d, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= d[i];
  return p;
}

/* Flat index in a box of dims from a multi-index, and back. */
static void unflatten(int64_t i, const int64_t *dims, int n, int64_t *idx) {
  for (int d = n - 1; d >= 0; d--) {
    idx[d] = i % dims[d];
    i /= dims[d];
  }
}

static int64_t flatten(const int64_t *idx, const int64_t *dims, int n) {
  int64_t f = 0;
  for (int d = 0; d < n; d++) f = f * dims[d] + idx[d];
  return f;
}

/* ---- Conv ---------------------------------------------------------------- */

typedef struct conv_case {
  geo g;
  int64_t N, C, M, G;
  int bias;
} conv_case;

/* Naive Conv: for output element e, the terms in (ic, taps) order; calls
 * term(ctx, k, x, w) for each (x = 0 in the padding) and returns the
 * number of terms. */
static void conv_terms(const conv_case *cc, const float *x, const float *w,
                       int64_t e, float *xs, float *ws) {
  const geo *g = &cc->g;
  const int64_t P = prod(g->out, g->nsp);
  const int64_t n = e / (cc->M * P), oc = (e / P) % cc->M;
  int64_t o[3];
  unflatten(e % P, g->out, g->nsp, o);
  const int64_t Cg = cc->C / cc->G, Mg = cc->M / cc->G, gi = oc / Mg;
  const int64_t kv = prod(g->k, g->nsp), Pin = prod(g->in, g->nsp);
  int64_t k = 0;
  for (int64_t ic = 0; ic < Cg; ic++) {
    for (int64_t t = 0; t < kv; t++, k++) {
      int64_t tap[3], pos[3];
      unflatten(t, g->k, g->nsp, tap);
      int inside = 1;
      for (int d = 0; d < g->nsp; d++) {
        pos[d] = o[d] * g->s[d] - g->lo[d] + tap[d] * g->d[d];
        inside &= pos[d] >= 0 && pos[d] < g->in[d];
      }
      xs[k] = inside ? x[(n * cc->C + gi * Cg + ic) * Pin +
                         flatten(pos, g->in, g->nsp)]
                     : 0.0f;
      ws[k] = w[(oc * Cg + ic) * kv + t];
    }
  }
}

static void conv_set_attrs(fx *f, const conv_case *cc, int ap,
                           const int64_t *pads, int with_kernel_shape) {
  const int n = cc->g.nsp;
  attr_ints(f, "strides", cc->g.s, (size_t)n);
  attr_ints(f, "dilations", cc->g.d, (size_t)n);
  if (ap == AP_NOTSET)
    attr_ints(f, "pads", pads, 2 * (size_t)n);
  else
    attr_str(f, "auto_pad", ap_names[ap]);
  if (cc->G != 1) attr_int(f, "group", cc->G);
  if (with_kernel_shape) attr_ints(f, "kernel_shape", cc->g.k, (size_t)n);
}

/* The worst |got - want| / tol seen per implementation: how close the
 * bounds come (printed when TQ_TEST_CONV_STATS is set). */
static struct {
  const char *impl;
  double worst;
  long outputs;
} conv_stats[8];

static void conv_stat(const char *impl, double ratio) {
  size_t i = 0;
  while (i < 7 && conv_stats[i].impl && strcmp(conv_stats[i].impl, impl)) i++;
  conv_stats[i].impl = impl;
  conv_stats[i].outputs++;
  if (ratio > conv_stats[i].worst) conv_stats[i].worst = ratio;
}

static void print_conv_stats(void) {
  for (size_t i = 0; i < 8 && conv_stats[i].impl; i++)
    printf("%-10s %9ld outputs, worst |error| / bound %.4f\n",
           conv_stats[i].impl, conv_stats[i].outputs, conv_stats[i].worst);
}

/* The allowed |y - y_ref| of each output of a Conv case as implementation
 * impl computes it (conv_bound.h). */
static void conv_tolerance(const conv_case *cc, const char *impl,
                           const float *x, const float *w, const float *b,
                           const double *scale, int64_t K, int64_t total,
                           double *tol) {
  const geo *g = &cc->g;
  const tq_test_conv3 cv = {cc->N,    cc->C,    cc->M,     g->in[0], g->in[1],
                            g->lo[0], g->lo[1], g->out[0], g->out[1]};
  tq_test_conv_tol(impl, &cv, x, w, b, K, scale, total, tol);
}

/* |got - want| <= tol, element by element. */
static void expect_within(const float *got, const double *want,
                          const double *tol, size_t n, const char *impl) {
  for (size_t i = 0; i < n; i++) {
    const double err = fabs((double)got[i] - want[i]);
    if (!(err <= tol[i]))
      fail_msg(
          "Conv (%s): element %zu is %.9g, expected %.9g (error %.3g, "
          "bound %.3g)",
          impl, i, (double)got[i], want[i], err, tol[i]);
    conv_stat(impl, tol[i] > 0 ? err / tol[i] : 0.0);
  }
}

/* Runs a Conv case and checks it against the naive loops. */
static void conv_check(fx *f, const conv_case *cc) {
  const geo *g = &cc->g;
  int64_t xd[5] = {cc->N, cc->C}, wd[5] = {cc->M, cc->C / cc->G};
  for (int d = 0; d < g->nsp; d++) {
    xd[2 + d] = g->in[d];
    wd[2 + d] = g->k[d];
  }
  const float *x = fx_input(f, 0, g->nsp + 2, xd);
  const float *w = fx_input(f, 1, g->nsp + 2, wd);
  const float *b = NULL;
  if (cc->bias) {
    b = fx_input(f, 2, 1, &cc->M);
  } else {
    tq_tensor_destroy(f->in[2]);
    f->in[2] = NULL;
    f->n_in = 2;
  }
  tq_status st = fx_run(f, "Conv");
  if (st) fail_msg("Conv failed: %s", tq_context_last_error(f->ctx));
  int64_t yd[5] = {cc->N, cc->M};
  for (int d = 0; d < g->nsp; d++) yd[2 + d] = g->out[d];
  expect_shape(f->out[0], g->nsp + 2, yd);
  const int64_t total = prod(yd, g->nsp + 2);
  const int64_t K = cc->C / cc->G * prod(g->k, g->nsp);
  double *want = malloc((size_t)total * sizeof *want);
  double *scale = malloc((size_t)total * sizeof *scale);
  float *xs = malloc((size_t)(K + 1) * sizeof *xs);
  float *ws = malloc((size_t)(K + 1) * sizeof *ws);
  assert_true(want && scale && xs && ws);
  const int64_t P = prod(g->out, g->nsp);
  for (int64_t e = 0; e < total; e++) {
    conv_terms(cc, x, w, e, xs, ws);
    double s = b ? b[(e / P) % cc->M] : 0.0, a = fabs(s);
    for (int64_t k = 0; k < K; k++) {
      s += (double)xs[k] * ws[k];
      a += fabs((double)xs[k] * ws[k]);
    }
    want[e] = s;
    scale[e] = a;
  }
  assert_non_null(f->impl);
  double *tol = malloc((size_t)total * sizeof *tol);
  assert_non_null(tol);
  conv_tolerance(cc, f->impl, x, w, b, scale, K, total, tol);
  expect_within(tq_cf32(f->out[0]), want, tol, (size_t)total, f->impl);
  free(tol);
  free(want);
  free(scale);
  free(xs);
  free(ws);
}

/* conv_check at 2 threads, then the same bits at 1 thread. */
static void conv_check_threads(fx *f, const conv_case *cc) {
  f->threads = 2;
  conv_check(f, cc);
  tq_tensor *two = NULL;
  assert_int_equal(tq_tensor_clone(f->ctx, f->out[0], &two), TQ_OK);
  f->threads = 1;
  assert_int_equal(fx_run(f, "Conv"), TQ_OK);
  assert_memory_equal(tq_cf32(two), tq_cf32(f->out[0]),
                      two->numel * sizeof(float));
  tq_tensor_destroy(two);
}

static void random_geo(geo *g, int nsp, int64_t max_in) {
  g->nsp = nsp;
  for (int d = 0; d < nsp; d++) {
    g->k[d] = irand(1, 3);
    g->s[d] = irand(1, 3);
    g->d[d] = irand(1, 2);
    g->in[d] = irand(1, max_in);
  }
}

static void test_conv_random(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  int done = 0;
  for (int iter = 0; done < 120 && iter < 2000; iter++) {
    fx f;
    fx_init(&f, ctx);
    f.threads = (int)irand(1, 3);
    conv_case cc;
    memset(&cc, 0, sizeof cc);
    const int nsp = (int)irand(1, 3);
    random_geo(&cc.g, nsp, nsp == 3 ? 5 : 9);
    cc.N = irand(1, 2);
    const int kind = (int)irand(0, 3);
    if (kind == 0) { /* plain */
      cc.G = 1;
      cc.C = irand(1, 4);
      cc.M = irand(1, 5);
    } else if (kind == 1) { /* grouped */
      cc.G = irand(2, 3);
      cc.C = cc.G * irand(1, 3);
      cc.M = cc.G * irand(1, 3);
    } else if (kind == 2) { /* depthwise */
      cc.G = cc.C = irand(2, 5);
      cc.M = cc.C * irand(1, 2);
    } else { /* one input channel, several outputs */
      cc.G = 1;
      cc.C = 1;
      cc.M = irand(1, 6);
    }
    cc.bias = (int)irand(0, 1);
    const int ap = (int)irand(0, 3);
    int64_t pads[6];
    for (int d = 0; d < 2 * nsp; d++) pads[d] = irand(0, 2);
    if (!geo_window(&cc.g, ap, pads, 0)) continue;
    conv_set_attrs(&f, &cc, ap, pads, (int)irand(0, 1));
    conv_check(&f, &cc);
    fx_free(&f);
    done++;
  }
  assert_int_equal(done, 120);
  tq_context_destroy(ctx);
}

/* Larger cases that take each float implementation (few big tiles split
 * over the threads, many tiles one per thread, tiles inside one image or
 * spanning several, 1x1 without im2col, strided 1x1, depthwise direct, one
 * input channel with many outputs, Winograd): the one the default
 * preference chooses, then every Conv implementation of the list alone
 * (im2col where it does not apply), each within its bound of the double
 * sums and the same bits at any thread count. */
static void test_conv_paths(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  static const struct {
    int64_t N, C, M, G, H, W, k, s, p, d;
    const char *impl; /* the default preference's choice */
  } cases[] = {
      {4, 16, 24, 1, 30, 30, 3, 1, 1, 1, "winograd2"}, /* one big tile */
      {1, 32, 40, 1, 9, 9, 3, 1, 1, 1, "im2col"}, /* whole image, GEMM split */
      {3, 24, 16, 1, 20, 17, 1, 1, 0, 1, "pointwise"},
      {2, 24, 16, 1, 20, 17, 1, 2, 0, 1, "im2col"},     /* strided 1x1 */
      {2, 12, 12, 12, 15, 16, 3, 2, 1, 1, "depthwise"}, /* depthwise */
      {2, 1, 20, 1, 28, 28, 5, 1, 2, 1, "im2col"}, /* LeNet-like first layer */
      {2, 8, 8, 2, 33, 31, 3, 2, 2, 2,
       "im2col"}, /* grouped, strided, dilated */
      {16, 64, 64, 1, 14, 14, 3, 1, 1, 1, "winograd2"}, /* tiles span images */
      {2, 16, 16, 1, 64, 64, 3, 1, 1, 1, "winograd2"},  /* inside and across */
      {4, 64, 32, 1, 64, 64, 1, 1, 0, 1, "pointwise"},  /* 1x1, both kinds */
  };
  int used[TQ_CONV_PREF_MAX] = {0}; /* forced runs per table entry */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fx f;
    fx_init(&f, ctx);
    conv_case cc;
    memset(&cc, 0, sizeof cc);
    cc.N = cases[i].N;
    cc.C = cases[i].C;
    cc.M = cases[i].M;
    cc.G = cases[i].G;
    cc.bias = (int)(i % 2);
    cc.g.nsp = 2;
    cc.g.in[0] = cases[i].H;
    cc.g.in[1] = cases[i].W;
    int64_t pads[4];
    for (int d = 0; d < 2; d++) {
      cc.g.k[d] = cases[i].k;
      cc.g.s[d] = cases[i].s;
      cc.g.d[d] = cases[i].d;
      pads[d] = pads[d + 2] = cases[i].p;
    }
    assert_true(geo_window(&cc.g, AP_NOTSET, pads, 0));
    conv_set_attrs(&f, &cc, AP_NOTSET, pads, 1);
    conv_check_threads(&f, &cc);
    assert_string_equal(f.impl, cases[i].impl);
    for (size_t k = 0; k < tq_conv_impl_count(); k++) {
      const tq_conv_impl *im = tq_conv_impl_at(k);
      if (im->op != TQ_OP_CONV) continue;
      assert_int_equal(tq_context_set_conv_impls(ctx, im->name), TQ_OK);
      conv_check_threads(&f, &cc);
      if (strcmp(f.impl, "im2col")) assert_string_equal(f.impl, im->name);
      used[k] += !strcmp(f.impl, im->name);
    }
    assert_int_equal(tq_context_set_conv_impls(ctx, NULL), TQ_OK);
    fx_free(&f);
  }
  for (size_t k = 0; k < tq_conv_impl_count(); k++)
    if (tq_conv_impl_at(k)->op == TQ_OP_CONV && !used[k])
      fail_msg("no case ran %s", tq_conv_impl_at(k)->name);
  tq_context_destroy(ctx);
}

/* 3x3 stride-1 convolutions with enough tiles take Winograd's
 * F(2x2, 3x3), or with fast convolutions and enough 4x4 tiles F(4x4, 3x3)
 * (conv_winograd.c): odd output sizes (partial tiles on the right and at
 * the bottom), asymmetric and auto pads up to 4 (windows entirely in the
 * padding), batches whose tiles cross the blocks; each within its bound
 * of the double-precision sums (conv_bound.c), same bits at any thread
 * count. Both kinds are drawn 10 times each, or TQ_TEST_WINOGRAD_CASES
 * times (TQ_TEST_CONV_STATS=1 then prints how close the bounds came). */
static void test_conv_winograd(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  const char *env = getenv("TQ_TEST_WINOGRAD_CASES");
  const int want = env ? atoi(env) : 10;
  int done[2] = {0, 0}; /* F(2x2), F(4x4) */
  for (int iter = 0; (done[0] < want || done[1] < want) && iter < 400 * want;
       iter++) {
    fx f;
    fx_init(&f, ctx);
    conv_case cc;
    memset(&cc, 0, sizeof cc);
    cc.g.nsp = 2;
    cc.N = irand(1, 5);
    cc.C = irand(8, 20);
    cc.M = irand(8, 20);
    cc.G = 1;
    cc.bias = (int)irand(0, 1);
    for (int d = 0; d < 2; d++) {
      cc.g.k[d] = 3;
      cc.g.s[d] = 1;
      cc.g.d[d] = 1;
      cc.g.in[d] = irand(3, 40);
    }
    const int ap = (int)irand(0, 3);
    const int fast = (int)irand(0, 1);
    int64_t pads[4];
    for (int d = 0; d < 4; d++) pads[d] = irand(0, 4);
    if (!geo_window(&cc.g, ap, pads, 0)) {
      fx_free(&f);
      continue;
    }
    const int64_t tiles2 =
        cc.N * ((cc.g.out[0] + 1) / 2) * ((cc.g.out[1] + 1) / 2);
    const int64_t tiles4 =
        cc.N * ((cc.g.out[0] + 3) / 4) * ((cc.g.out[1] + 3) / 4);
    const int kind = fast && tiles4 >= 16;
    if (tiles2 < 32 || done[kind] >= want) {
      fx_free(&f);
      continue;
    }
    tq_context_set_fast_conv(ctx, fast);
    conv_set_attrs(&f, &cc, ap, pads, 1);
    conv_check_threads(&f, &cc);
    assert_string_equal(f.impl, kind ? "winograd4" : "winograd2");
    tq_context_set_fast_conv(ctx, 0);
    fx_free(&f);
    done[kind]++;
  }
  assert_true(done[0] >= want && done[1] >= want);
  /* many channels: F(2x2) even with fast convolutions (its transformed
   * kernels are 2.25 times smaller); 11 x 7 x 7 = 539 tiles, two blocks */
  tq_context_set_fast_conv(ctx, 1);
  fx f;
  fx_init(&f, ctx);
  conv_case cc;
  memset(&cc, 0, sizeof cc);
  cc.g.nsp = 2;
  cc.N = 11;
  cc.C = 176;
  cc.M = 168;
  cc.G = 1;
  cc.bias = 1;
  cc.g.in[0] = 13;
  cc.g.in[1] = 13;
  for (int d = 0; d < 2; d++) {
    cc.g.k[d] = 3;
    cc.g.s[d] = 1;
    cc.g.d[d] = 1;
  }
  int64_t pads[4] = {1, 1, 1, 1};
  assert_true(geo_window(&cc.g, AP_NOTSET, pads, 0));
  conv_set_attrs(&f, &cc, AP_NOTSET, pads, 1);
  conv_check_threads(&f, &cc);
  assert_string_equal(f.impl, "winograd2");
  fx_free(&f);
  tq_context_set_fast_conv(ctx, 0);
  tq_context_destroy(ctx);
}

/* The context's preference: names in, names out, the fast-convolution
 * shorthand on top, errors that list the names; the table: one fallback
 * per operator, names unique per operator; why each entry was chosen or
 * not. */
static void test_conv_pref(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char buf[256];
  const char *dflt = "winograd2,depthwise,pointwise,im2col,col2im";
  const char *fast = "winograd4,winograd2,depthwise,pointwise,im2col,col2im";
#define EXPECT_LIST(c, want)                                                   \
  do {                                                                         \
    assert_int_equal(tq_context_conv_impls(c, buf, sizeof buf), strlen(want)); \
    assert_string_equal(buf, want);                                            \
  } while (0)
  EXPECT_LIST(ctx, dflt);
  EXPECT_LIST(NULL, dflt);
  assert_int_equal(tq_context_conv_impls(ctx, buf, 5), strlen(dflt));
  assert_string_equal(buf, "wino");
  assert_int_equal(tq_context_conv_impls(ctx, NULL, 0), strlen(dflt));
  assert_int_equal(tq_context_fast_conv(ctx), 0);
  tq_context_set_fast_conv(ctx, 1);
  EXPECT_LIST(ctx, fast);
  assert_int_equal(tq_context_fast_conv(ctx), 1);
  tq_context_set_fast_conv(ctx, 1);
  EXPECT_LIST(ctx, fast);
  tq_context_set_fast_conv(ctx, 0);
  EXPECT_LIST(ctx, dflt);
  assert_int_equal(tq_context_set_conv_impls(ctx, " im2col , winograd4,im2col"),
                   TQ_OK);
  EXPECT_LIST(ctx, "im2col,winograd4");
  assert_int_equal(tq_context_fast_conv(ctx), 1);
  tq_context_set_fast_conv(ctx, 0);
  EXPECT_LIST(ctx, "im2col");
  /* winograd4 alone, then off: the fallbacks, not the default */
  assert_int_equal(tq_context_set_conv_impls(ctx, "winograd4"), TQ_OK);
  tq_context_set_fast_conv(ctx, 0);
  EXPECT_LIST(ctx, "im2col,col2im");
  static const char *const bad[] = {"winograd9", "", "im2col,,depthwise",
                                    "im2col,", " "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(tq_context_set_conv_impls(ctx, bad[i]), TQ_ERR_PARSE);
    EXPECT_LIST(ctx, "im2col,col2im"); /* unchanged */
  }
  assert_int_equal(tq_context_set_conv_impls(ctx, "winograd9"), TQ_ERR_PARSE);
  const char *msg = tq_context_last_error(ctx);
  assert_non_null(strstr(msg, "'winograd9'"));
  assert_non_null(strstr(msg, "winograd4,winograd2,depthwise,pointwise"));
  assert_non_null(strstr(msg, "or default"));
  assert_int_equal(tq_context_set_conv_impls(ctx, "default"), TQ_OK);
  EXPECT_LIST(ctx, dflt);
  assert_int_equal(tq_context_set_conv_impls(ctx, "depthwise"), TQ_OK);
  assert_int_equal(tq_context_set_conv_impls(ctx, NULL), TQ_OK);
  EXPECT_LIST(ctx, dflt);
#undef EXPECT_LIST
  /* the table */
  const tq_op_id ops[] = {TQ_OP_CONV, TQ_OP_CONV_TRANSPOSE};
  for (size_t o = 0; o < 2; o++) {
    int fallbacks = 0;
    for (size_t i = 0; i < tq_conv_impl_count(); i++) {
      const tq_conv_impl *im = tq_conv_impl_at(i);
      assert_true(im->name && im->applies && im->run);
      assert_true(!im->prepare == !im->free_state);
      if (im->op != ops[o]) continue;
      fallbacks += (im->flags & TQ_CONV_IMPL_FALLBACK) != 0;
      for (size_t k = 0; k < i; k++)
        assert_true(tq_conv_impl_at(k)->op != ops[o] ||
                    strcmp(tq_conv_impl_at(k)->name, im->name));
    }
    assert_int_equal(fallbacks, 1);
  }
  assert_null(tq_conv_impl_at(tq_conv_impl_count()));
  /* why: a 1x1 convolution, 16 channels, 16x16 */
  conv_geom g;
  memset(&g, 0, sizeof g);
  g.w.nsp = 2;
  for (int d = 0; d < TQ_NN_MAX_SPATIAL; d++)
    g.w.in[d] = g.w.out[d] = g.w.kernel[d] = g.w.stride[d] = g.w.dil[d] = 1;
  g.w.in[1] = g.w.in[2] = g.w.out[1] = g.w.out[2] = 16;
  g.N = g.G = 1;
  g.C = g.M = g.Cg = g.Mg = g.K = 16;
  g.kvol = 1;
  g.Pin = g.P = 256;
  int index;
  const tq_conv_impl *chosen = tq_conv_impl_choose(ctx, TQ_OP_CONV, &g, &index);
  assert_ptr_equal(chosen, tq_conv_impl_at((size_t)index));
  assert_string_equal(tq_conv_impl_at((size_t)index)->name, "pointwise");
  const size_t len = tq_conv_impl_explain(ctx, TQ_OP_CONV, &g, buf, sizeof buf);
  assert_int_equal(len, strlen(buf));
  static const char *const why[] = {
      "winograd4: not preferred",
      "winograd2: needs a 3x3 kernel, stride 1 and no dilation",
      "depthwise: needs one input channel per group", "pointwise: chosen",
      "im2col: applies, but a preferred one came first"};
  for (size_t i = 0; i < sizeof why / sizeof why[0]; i++)
    if (!strstr(buf, why[i])) fail_msg("'%s' lacks '%s'", buf, why[i]);
  assert_null(strstr(buf, "col2im"));
  tq_conv_impl_explain(ctx, TQ_OP_CONV_TRANSPOSE, &g, buf, sizeof buf);
  assert_string_equal(buf, "col2im: chosen");
  /* preferring im2col first takes it even for 1x1 */
  assert_int_equal(tq_context_set_conv_impls(ctx, "im2col,pointwise"), TQ_OK);
  assert_string_equal(tq_conv_impl_choose(ctx, TQ_OP_CONV, &g, &index)->name,
                      "im2col");
  tq_context_destroy(ctx);
}

/* The operator cache: state is reused only by the implementation that
 * prepared it, for the input shapes and attributes it was prepared for.
 * One cache through runs with other weight shapes, another preference and
 * other input sizes gives the bits of runs without a cache (transformed
 * kernels of another shape, reused, would not); an implementation without
 * state leaves the cache alone. */
static void test_conv_cache(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_op_cache cache;
  memset(&cache, 0, sizeof cache);
  static const struct {
    int64_t C, M, H, k;
    int fast;
    const char *impl;
  } steps[] = {
      {8, 8, 16, 3, 0, "winograd2"},
      {16, 8, 16, 3, 0, "winograd2"}, /* other weights' shape */
      {16, 8, 16, 3, 1, "winograd4"}, /* other preference */
      {16, 8, 12, 3, 1, "winograd2"}, /* 9 4x4 tiles: too few for F(4x4) */
      {16, 8, 16, 3, 1, "winograd4"},
      {16, 8, 16, 1, 1, "pointwise"}, /* no state: the cache stays */
      {16, 8, 16, 3, 1, "winograd4"}, /* reused */
  };
  void *last = NULL;
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    fx f;
    fx_init(&f, ctx);
    const int64_t xd[4] = {1, steps[i].C, steps[i].H, steps[i].H};
    const int64_t wd[4] = {steps[i].M, steps[i].C, steps[i].k, steps[i].k};
    rng_state = 99; /* the same weights for the same shapes, as in a session */
    fx_input(&f, 0, 4, xd);
    fx_input(&f, 1, 4, wd);
    const int64_t pads[4] = {steps[i].k / 2, steps[i].k / 2, steps[i].k / 2,
                             steps[i].k / 2};
    attr_ints(&f, "pads", pads, 4);
    tq_context_set_fast_conv(ctx, steps[i].fast);
    assert_int_equal(fx_run(&f, "Conv"), TQ_OK); /* no cache: the reference */
    assert_string_equal(f.impl, steps[i].impl);
    tq_tensor *want = NULL;
    assert_int_equal(tq_tensor_clone(ctx, f.out[0], &want), TQ_OK);
    f.cache = &cache;
    assert_int_equal(fx_run(&f, "Conv"), TQ_OK);
    assert_string_equal(f.impl, steps[i].impl);
    if (memcmp(tq_cf32(f.out[0]), tq_cf32(want), want->numel * sizeof(float)))
      fail_msg("step %zu: other bits with the cache", i);
    if (!strcmp(steps[i].impl, "pointwise")) {
      assert_ptr_equal(cache.data, last);
    } else {
      assert_non_null(cache.data);
      assert_string_equal(tq_conv_impl_at((size_t)cache.impl)->name,
                          steps[i].impl);
      assert_true(tq_shape_equal(&cache.shapes[1], &f.in[1]->shape));
      if (i == 6) assert_ptr_equal(cache.data, last);
    }
    last = cache.data;
    tq_tensor_destroy(want);
    fx_free(&f);
  }
  tq_context_set_fast_conv(ctx, 0);
  /* the key itself: implementation, every input's shape, the params */
  fx f;
  fx_init(&f, ctx);
  const int64_t xd[4] = {1, 8, 4, 4}, wd[4] = {8, 8, 3, 3};
  fx_input(&f, 0, 4, xd);
  fx_input(&f, 1, 4, wd);
  const tq_tensor *ins[3] = {f.in[0], f.in[1], NULL};
  conv_params cp;
  memset(&cp, 0, sizeof cp);
  cp.group = 1;
  tq_op_call c;
  memset(&c, 0, sizeof c);
  c.desc = nn_op("Conv", 17);
  c.params = &cp;
  c.in = ins;
  c.n_in = 3;
  int *data = malloc(sizeof *data);
  assert_non_null(data);
  assert_true(tq_op_cache_put(&cache, 1, &c, data, free));
  assert_ptr_equal(tq_op_cache_get(&cache, 1, &c), data);
  assert_null(tq_op_cache_get(&cache, 0, &c));
  assert_null(tq_op_cache_get(NULL, 1, &c));
  c.n_in = 2; /* no bias input at all, rather than an absent one */
  assert_null(tq_op_cache_get(&cache, 1, &c));
  c.n_in = 3;
  ins[0] = f.in[1]; /* X of another shape */
  assert_null(tq_op_cache_get(&cache, 1, &c));
  ins[0] = f.in[0];
  cp.group = 2; /* another attribute */
  assert_null(tq_op_cache_get(&cache, 1, &c));
  cp.group = 1;
  assert_ptr_equal(tq_op_cache_get(&cache, 1, &c), data);
  tq_op_cache_clear(&cache);
  assert_null(cache.data);
  assert_null(tq_op_cache_get(&cache, 1, &c));
  fx_free(&f);
  tq_context_destroy(ctx);
}

/* ---- ConvTranspose ------------------------------------------------------ */

typedef struct convt_case {
  geo g; /* in: input sizes; out: output sizes; lo/hi: pads */
  int64_t opad[3];
  int64_t N, C, M, G;
  int bias;
} convt_case;

/* Terms of output element e of a ConvTranspose, in (ic, taps) order. */
static void convt_terms(const convt_case *cc, const float *x, const float *w,
                        int64_t e, float *xs, float *ws) {
  const geo *g = &cc->g;
  const int64_t P = prod(g->out, g->nsp), Pin = prod(g->in, g->nsp);
  const int64_t n = e / (cc->M * P), ocg = (e / P) % cc->M;
  const int64_t Cg = cc->C / cc->G, Mg = cc->M / cc->G;
  const int64_t gi = ocg / Mg, oc = ocg % Mg, kv = prod(g->k, g->nsp);
  int64_t o[3];
  unflatten(e % P, g->out, g->nsp, o);
  int64_t k = 0;
  for (int64_t ic = 0; ic < Cg; ic++) {
    for (int64_t t = 0; t < kv; t++, k++) {
      int64_t tap[3], pos[3];
      unflatten(t, g->k, g->nsp, tap);
      int hit = 1;
      for (int d = 0; d < g->nsp; d++) {
        const int64_t v = o[d] + g->lo[d] - tap[d] * g->d[d];
        hit &= v >= 0 && v % g->s[d] == 0 && v / g->s[d] < g->in[d];
        pos[d] = hit ? v / g->s[d] : 0;
      }
      xs[k] = hit ? x[(n * cc->C + gi * Cg + ic) * Pin +
                      flatten(pos, g->in, g->nsp)]
                  : 0.0f;
      ws[k] = w[((gi * Cg + ic) * Mg + oc) * kv + t];
    }
  }
}

static void convt_check(fx *f, const convt_case *cc) {
  const geo *g = &cc->g;
  int64_t xd[5] = {cc->N, cc->C}, wd[5] = {cc->C, cc->M / cc->G};
  for (int d = 0; d < g->nsp; d++) {
    xd[2 + d] = g->in[d];
    wd[2 + d] = g->k[d];
  }
  const float *x = fx_input(f, 0, g->nsp + 2, xd);
  const float *w = fx_input(f, 1, g->nsp + 2, wd);
  const float *b = cc->bias ? fx_input(f, 2, 1, &cc->M) : NULL;
  if (!cc->bias) f->n_in = 2;
  tq_status st = fx_run(f, "ConvTranspose");
  if (st) fail_msg("ConvTranspose failed: %s", tq_context_last_error(f->ctx));
  int64_t yd[5] = {cc->N, cc->M};
  for (int d = 0; d < g->nsp; d++) yd[2 + d] = g->out[d];
  expect_shape(f->out[0], g->nsp + 2, yd);
  const int64_t total = prod(yd, g->nsp + 2), P = prod(g->out, g->nsp);
  const int64_t K = cc->C / cc->G * prod(g->k, g->nsp);
  double *want = malloc((size_t)total * sizeof *want);
  double *scale = malloc((size_t)total * sizeof *scale);
  float *xs = malloc((size_t)(K + 1) * sizeof *xs);
  float *ws = malloc((size_t)(K + 1) * sizeof *ws);
  assert_true(want && scale && xs && ws);
  for (int64_t e = 0; e < total; e++) {
    convt_terms(cc, x, w, e, xs, ws);
    double s = b ? b[(e / P) % cc->M] : 0.0, a = fabs(s);
    for (int64_t k = 0; k < K; k++) {
      s += (double)xs[k] * ws[k];
      a += fabs((double)xs[k] * ws[k]);
    }
    want[e] = s;
    scale[e] = a;
  }
  expect_close(tq_cf32(f->out[0]), want, scale, (size_t)total, "ConvTranspose");
  free(want);
  free(scale);
  free(xs);
  free(ws);
}

/* Output geometry of ConvTranspose per the ONNX text (as ONNX Runtime
 * 1.32 computes it). mode: 0 pads, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID,
 * 4 output_shape (given in g->out). */
static int convt_geo(convt_case *cc, int mode, const int64_t *pads) {
  geo *g = &cc->g;
  for (int i = 0; i < g->nsp; i++) {
    const int64_t full =
        g->s[i] * (g->in[i] - 1) + cc->opad[i] + (g->k[i] - 1) * g->d[i] + 1;
    int64_t total;
    if (mode == 4) {
      total = full - g->out[i];
      if (total < 0 || g->out[i] < 1) return 0;
      g->lo[i] = total - total / 2; /* NOTSET: the odd unit first */
    } else if (mode == 1 || mode == 2) {
      total = full - g->in[i] * g->s[i];
      if (total < 0) total = 0;
      g->lo[i] = mode == 1 ? total / 2 : total - total / 2;
    } else if (mode == 3) {
      total = 0;
      g->lo[i] = 0;
    } else {
      g->lo[i] = pads[i];
      total = pads[i] + pads[g->nsp + i];
    }
    g->hi[i] = total - g->lo[i];
    g->out[i] = full - total;
    if (g->out[i] < 1) return 0;
  }
  return 1;
}

static void test_conv_transpose_random(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  int done = 0;
  for (int iter = 0; done < 100 && iter < 2000; iter++) {
    fx f;
    fx_init(&f, ctx);
    f.threads = (int)irand(1, 3);
    convt_case cc;
    memset(&cc, 0, sizeof cc);
    const int nsp = (int)irand(1, 3);
    random_geo(&cc.g, nsp, nsp == 3 ? 4 : 7);
    cc.N = irand(1, 2);
    cc.G = irand(1, 3);
    cc.C = cc.G * irand(1, 3);
    cc.M = cc.G * irand(1, 3);
    cc.bias = (int)irand(0, 1);
    for (int d = 0; d < nsp; d++) cc.opad[d] = irand(0, cc.g.s[d] - 1);
    int64_t pads[6];
    for (int d = 0; d < 2 * nsp; d++) pads[d] = irand(0, 2);
    const int mode = (int)irand(0, 4);
    if (mode == 4)
      for (int d = 0; d < nsp; d++)
        cc.g.out[d] = cc.g.s[d] * (cc.g.in[d] - 1) + cc.opad[d] +
                      (cc.g.k[d] - 1) * cc.g.d[d] + 1 - irand(0, 3);
    int64_t os[3];
    memcpy(os, cc.g.out, sizeof os);
    if (!convt_geo(&cc, mode, pads)) continue;
    attr_ints(&f, "strides", cc.g.s, (size_t)nsp);
    attr_ints(&f, "dilations", cc.g.d, (size_t)nsp);
    attr_ints(&f, "output_padding", cc.opad, (size_t)nsp);
    if (cc.G != 1) attr_int(&f, "group", cc.G);
    if (mode == 0) attr_ints(&f, "pads", pads, 2 * (size_t)nsp);
    if (mode >= 1 && mode <= 3) attr_str(&f, "auto_pad", ap_names[mode]);
    if (mode == 4) attr_ints(&f, "output_shape", os, (size_t)nsp);
    convt_check(&f, &cc);
    fx_free(&f);
    done++;
  }
  assert_int_equal(done, 100);
  tq_context_destroy(ctx);
}

/* ONNX Runtime 1.32 on x = [1, 2, 3], w = [1, 10, 100], strides 2. */
static void test_conv_transpose_ort(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  static const float x[] = {1, 2, 3}, w[] = {1, 10, 100};
  static const struct {
    const char *auto_pad;
    int64_t output_shape, pad_lo, pad_hi, opad, dil;
    int n;
    float y[8];
  } cases[] = {
      {"NOTSET", 0, 0, 0, 0, 1, 7, {1, 10, 102, 20, 203, 30, 300}},
      {"SAME_UPPER", 0, 0, 0, 0, 1, 6, {1, 10, 102, 20, 203, 30}},
      {"SAME_LOWER", 0, 0, 0, 0, 1, 6, {10, 102, 20, 203, 30, 300}},
      {"VALID", 0, 0, 0, 0, 1, 7, {1, 10, 102, 20, 203, 30, 300}},
      {"NOTSET", 6, 0, 0, 0, 1, 6, {10, 102, 20, 203, 30, 300}},
      {"SAME_UPPER", 6, 0, 0, 0, 1, 6, {1, 10, 102, 20, 203, 30}},
      {"SAME_LOWER", 6, 0, 0, 0, 1, 6, {10, 102, 20, 203, 30, 300}},
      {"NOTSET", 0, 1, 2, 1, 1, 5, {10, 102, 20, 203, 30}},
      {"SAME_UPPER", 0, 0, 0, 1, 1, 6, {10, 102, 20, 203, 30, 300}},
      {"SAME_UPPER", 5, 0, 0, 0, 1, 5, {10, 102, 20, 203, 30}},
      {"NOTSET", 5, 3, 0, 0, 1, 5, {10, 102, 20, 203, 30}}, /* pads ignored */
  };
  const int64_t d3[] = {1, 1, 3};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fx f;
    fx_init(&f, ctx);
    fx_input_values(&f, 0, 3, d3, x);
    fx_input_values(&f, 1, 3, d3, w);
    const int64_t s = 2, pads[2] = {cases[i].pad_lo, cases[i].pad_hi};
    attr_ints(&f, "strides", &s, 1);
    attr_str(&f, "auto_pad", cases[i].auto_pad);
    attr_ints(&f, "pads", pads, 2);
    if (cases[i].opad) attr_ints(&f, "output_padding", &cases[i].opad, 1);
    if (cases[i].output_shape)
      attr_ints(&f, "output_shape", &cases[i].output_shape, 1);
    if (fx_run(&f, "ConvTranspose"))
      fail_msg("case %zu: %s", i, tq_context_last_error(ctx));
    expect_floats(f.out[0], cases[i].y, (size_t)cases[i].n, "ConvTranspose");
    fx_free(&f);
  }
  /* strides 1, dilations 2, SAME_LOWER: [13, 20, 130] */
  fx f;
  fx_init(&f, ctx);
  fx_input_values(&f, 0, 3, d3, x);
  fx_input_values(&f, 1, 3, d3, w);
  const int64_t dil = 2;
  attr_ints(&f, "dilations", &dil, 1);
  attr_str(&f, "auto_pad", "SAME_LOWER");
  assert_int_equal(fx_run(&f, "ConvTranspose"), TQ_OK);
  expect_floats(f.out[0], (const float[]){13, 20, 130}, 3, "ConvTranspose");
  fx_free(&f);
  tq_context_destroy(ctx);
}

/* ---- Gemm and MatMul ---------------------------------------------------- */

static void test_gemm(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  /* C shapes: none, scalar, [1], [N], [1, N], [M, 1], [M, N], [1, 1] */
  for (int ta = 0; ta < 2; ta++) {
    for (int tb = 0; tb < 2; tb++) {
      for (int ck = 0; ck < 8; ck++) {
        fx f;
        fx_init(&f, ctx);
        f.threads = (int)irand(1, 2);
        const int64_t M = irand(1, 70), N = irand(1, 90), K = irand(1, 60);
        const int64_t ad[2] = {ta ? K : M, ta ? M : K};
        const int64_t bd[2] = {tb ? N : K, tb ? K : N};
        const float *A = fx_input(&f, 0, 2, ad), *B = fx_input(&f, 1, 2, bd);
        const float *C = NULL;
        int64_t crs = 0, ccs = 0;
        static const int cnd[] = {0, 0, 1, 1, 2, 2, 2, 2};
        int64_t cdims[2];
        switch (ck) {
          case 1: break;
          case 2: cdims[0] = 1; break;
          case 3:
            cdims[0] = N;
            ccs = 1;
            break;
          case 4:
            cdims[0] = 1;
            cdims[1] = N;
            ccs = 1;
            break;
          case 5:
            cdims[0] = M;
            cdims[1] = 1;
            crs = 1;
            break;
          case 6:
            cdims[0] = M;
            cdims[1] = N;
            crs = N;
            ccs = 1;
            break;
          case 7:
            cdims[0] = 1;
            cdims[1] = 1;
            break;
        }
        if (ck) C = fx_input(&f, 2, cnd[ck], cdims);
        const float alpha = ck % 3 ? 1.0f : 0.75f;
        const float beta = ck % 2 ? 1.0f : -1.5f;
        if (ta) attr_int(&f, "transA", 1);
        if (tb) attr_int(&f, "transB", 1);
        if (alpha != 1.0f) attr_float(&f, "alpha", alpha);
        if (beta != 1.0f) attr_float(&f, "beta", beta);
        if (fx_run(&f, "Gemm")) fail_msg("%s", tq_context_last_error(ctx));
        expect_shape(f.out[0], 2, (const int64_t[]){M, N});
        double *want = malloc((size_t)(M * N) * sizeof *want);
        double *scale = malloc((size_t)(M * N) * sizeof *scale);
        for (int64_t m = 0; m < M; m++) {
          for (int64_t n = 0; n < N; n++) {
            double s = 0, a = 0;
            for (int64_t k = 0; k < K; k++) {
              const double p = (double)(ta ? A[k * M + m] : A[m * K + k]) *
                               (tb ? B[n * K + k] : B[k * N + n]);
              s += p;
              a += fabs(p);
            }
            s *= alpha;
            a *= fabs(alpha);
            if (C) {
              s += beta * (double)C[m * crs + n * ccs];
              a += fabs(beta * (double)C[m * crs + n * ccs]);
            }
            want[m * N + n] = s;
            scale[m * N + n] = a;
          }
        }
        expect_close(tq_cf32(f.out[0]), want, scale, (size_t)(M * N), "Gemm");
        free(want);
        free(scale);
        fx_free(&f);
      }
    }
  }
  tq_context_destroy(ctx);
}

/* numpy matmul on (a_nd, a_dims) x (b_nd, b_dims), with broadcasting. */
static void matmul_check(fx *f, int an, const int64_t *ad, int bn,
                         const int64_t *bd, int on, const int64_t *od) {
  const float *A = fx_input(f, 0, an, ad), *B = fx_input(f, 1, bn, bd);
  if (fx_run(f, "MatMul")) fail_msg("%s", tq_context_last_error(f->ctx));
  expect_shape(f->out[0], on, od);
  const int64_t M = an == 1 ? 1 : ad[an - 2], K = ad[an - 1];
  const int64_t N = bn == 1 ? 1 : bd[bn - 1];
  const int nb = on - (an > 1) - (bn > 1);
  const int64_t nbatch = prod(od, nb);
  const int64_t total = nbatch * M * N;
  double *want = malloc((size_t)total * sizeof *want);
  double *scale = malloc((size_t)total * sizeof *scale);
  for (int64_t bi = 0; bi < nbatch; bi++) {
    int64_t idx[8];
    unflatten(bi, od, nb, idx);
    /* offsets of the broadcast batch in A and B */
    int64_t oa = 0, ob = 0;
    const int na = an > 1 ? an - 2 : 0, nbb = bn > 1 ? bn - 2 : 0;
    for (int d = 0; d < na; d++) {
      const int64_t i = ad[d] == 1 ? 0 : idx[nb - na + d];
      oa = oa * ad[d] + i;
    }
    for (int d = 0; d < nbb; d++) {
      const int64_t i = bd[d] == 1 ? 0 : idx[nb - nbb + d];
      ob = ob * bd[d] + i;
    }
    oa *= M * K;
    ob *= K * N;
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        double s = 0, a = 0;
        for (int64_t k = 0; k < K; k++) {
          const double p = (double)A[oa + m * K + k] * B[ob + k * N + n];
          s += p;
          a += fabs(p);
        }
        want[(bi * M + m) * N + n] = s;
        scale[(bi * M + m) * N + n] = a;
      }
  }
  expect_close(tq_cf32(f->out[0]), want, scale, (size_t)total, "MatMul");
  free(want);
  free(scale);
}

static void test_matmul(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  static const struct {
    int an;
    int64_t ad[4];
    int bn;
    int64_t bd[4];
    int on;
    int64_t od[4];
  } cases[] = {
      {2, {5, 7}, 2, {7, 3}, 2, {5, 3}},
      {1, {7}, 2, {7, 3}, 1, {3}},
      {2, {5, 7}, 1, {7}, 1, {5}},
      {1, {7}, 1, {7}, 0, {0}},
      {3, {4, 5, 7}, 2, {7, 9}, 3, {4, 5, 9}},          /* one tall GEMM */
      {2, {5, 7}, 3, {3, 7, 9}, 3, {3, 5, 9}},          /* A broadcast */
      {4, {2, 1, 5, 7}, 3, {3, 7, 4}, 4, {2, 3, 5, 4}}, /* both broadcast */
      {3, {6, 5, 7}, 3, {6, 7, 4}, 3, {6, 5, 4}},       /* batch parallel */
      {3, {2, 65, 70}, 3, {2, 70, 80}, 3, {2, 65, 80}}, /* batch, tiled */
      {1, {7}, 3, {2, 7, 4}, 2, {2, 4}},
      {3, {2, 5, 7}, 1, {7}, 2, {2, 5}},
      {3, {1, 300, 20}, 2, {20, 200}, 3, {1, 300, 200}}, /* tiles of rows */
      {2, {5, 0}, 2, {0, 3}, 2, {5, 3}},                 /* K = 0 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fx f;
    fx_init(&f, ctx);
    f.threads = 2;
    matmul_check(&f, cases[i].an, cases[i].ad, cases[i].bn, cases[i].bd,
                 cases[i].on, cases[i].od);
    tq_tensor *two = NULL;
    assert_int_equal(tq_tensor_clone(ctx, f.out[0], &two), TQ_OK);
    f.threads = 1;
    assert_int_equal(fx_run(&f, "MatMul"), TQ_OK);
    assert_memory_equal(tq_cf32(two), tq_cf32(f.out[0]),
                        two->numel * sizeof(float));
    tq_tensor_destroy(two);
    fx_free(&f);
  }
  tq_context_destroy(ctx);
}

/* ---- pools ----------------------------------------------------------------
 */

/* Naive pooling of one output element over the window taps. */
static void pool_check(fx *f, const geo *g, int64_t N, int64_t C, int is_max,
                       int cip) {
  int64_t xd[5] = {N, C};
  for (int d = 0; d < g->nsp; d++) xd[2 + d] = g->in[d];
  const float *x = fx_input(f, 0, g->nsp + 2, xd);
  const char *op = is_max ? "MaxPool" : "AveragePool";
  if (fx_run(f, op)) fail_msg("%s: %s", op, tq_context_last_error(f->ctx));
  int64_t yd[5] = {N, C};
  for (int d = 0; d < g->nsp; d++) yd[2 + d] = g->out[d];
  expect_shape(f->out[0], g->nsp + 2, yd);
  const int64_t P = prod(g->out, g->nsp), Pin = prod(g->in, g->nsp);
  const int64_t total = N * C * P, kv = prod(g->k, g->nsp);
  double *want = malloc((size_t)total * sizeof *want);
  for (int64_t e = 0; e < total; e++) {
    int64_t o[3];
    unflatten(e % P, g->out, g->nsp, o);
    const float *xp = x + (e / P) * Pin;
    double s = 0, m = -INFINITY;
    int64_t count = 0;
    for (int64_t t = 0; t < kv; t++) {
      int64_t tap[3], pos[3];
      unflatten(t, g->k, g->nsp, tap);
      int inside = 1, in_extent = 1;
      for (int d = 0; d < g->nsp; d++) {
        pos[d] = o[d] * g->s[d] - g->lo[d] + tap[d] * g->d[d];
        inside &= pos[d] >= 0 && pos[d] < g->in[d];
        in_extent &= pos[d] >= -g->lo[d] && pos[d] < g->in[d] + g->hi[d];
      }
      if (cip ? in_extent : inside) count++;
      if (!inside) continue;
      const float v = xp[flatten(pos, g->in, g->nsp)];
      s += v;
      if (v > m) m = v;
    }
    want[e] = is_max ? m : s / (double)count;
  }
  expect_close(tq_cf32(f->out[0]), want, NULL, (size_t)total, op);
  free(want);
}

static void test_pool_random(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  int done = 0;
  for (int iter = 0; done < 160 && iter < 3000; iter++) {
    fx f;
    fx_init(&f, ctx);
    f.threads = (int)irand(1, 3);
    geo g;
    memset(&g, 0, sizeof g);
    const int nsp = (int)irand(1, 3);
    random_geo(&g, nsp, nsp == 3 ? 6 : 11);
    const int is_max = (int)irand(0, 1), cip = (int)irand(0, 1);
    const int ceil_mode = (int)irand(0, 1);
    const int ap = irand(0, 2) ? AP_NOTSET : (int)irand(1, 3);
    int64_t pads[6];
    for (int d = 0; d < nsp; d++) {
      /* as ONNX Runtime requires: pads smaller than the kernel */
      pads[d] = irand(0, g.k[d] - 1);
      pads[nsp + d] = irand(0, g.k[d] - 1);
    }
    if (!geo_window(&g, ap, pads, ceil_mode)) continue;
    attr_ints(&f, "kernel_shape", g.k, (size_t)nsp);
    attr_ints(&f, "strides", g.s, (size_t)nsp);
    attr_ints(&f, "dilations", g.d, (size_t)nsp);
    if (ap == AP_NOTSET)
      attr_ints(&f, "pads", pads, 2 * (size_t)nsp);
    else
      attr_str(&f, "auto_pad", ap_names[ap]);
    if (ceil_mode) attr_int(&f, "ceil_mode", 1);
    if (!is_max && cip) attr_int(&f, "count_include_pad", 1);
    pool_check(&f, &g, irand(1, 2), irand(1, 3), is_max, cip);
    fx_free(&f);
    done++;
  }
  assert_int_equal(done, 160);
  tq_context_destroy(ctx);
}

/* Outputs of ONNX Runtime 1.32 (and PyTorch where it has the op) on
 * x = 1, 2, ..., n in one dimension. */
static void test_pool_ort(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  static const struct {
    const char *op;
    int64_t n, k, s, d, plo, phi;
    int ceil_mode, cip;
    const char *auto_pad;
    int nout;
    float y[8];
  } cases[] = {
      {"MaxPool", 5, 2, 2, 1, 1, 1, 1, 0, NULL, 3, {1, 3, 5}},
      {"AveragePool", 6, 3, 2, 1, 1, 1, 1, 0, NULL, 4, {1.5f, 3, 5, 6}},
      {"AveragePool", 6, 3, 2, 1, 1, 1, 1, 1, NULL, 4, {1, 3, 5, 3}},
      {"AveragePool", 7, 3, 2, 1, 0, 0, 1, 1, NULL, 3, {2, 4, 6}},
      {"AveragePool", 7, 3, 2, 1, 0, 2, 1, 1, NULL, 4, {2, 4, 6, 7.0f / 3}},
      {"AveragePool", 7, 3, 2, 1, 2, 0, 1, 1, NULL, 4, {1.0f / 3, 2, 4, 6}},
      {"AveragePool", 7, 3, 3, 1, 2, 1, 1, 1, NULL, 3, {1.0f / 3, 3, 6}},
      {"MaxPool", 7, 3, 3, 1, 2, 2, 1, 0, NULL, 3, {1, 4, 7}},
      {"MaxPool", 7, 2, 2, 2, 1, 1, 1, 0, NULL, 4, {2, 4, 6, 6}},
      {"MaxPool", 7, 3, 2, 1, 0, 0, 0, 0, "SAME_UPPER", 4, {2, 4, 6, 7}},
      {"MaxPool", 7, 4, 2, 1, 0, 0, 0, 0, "SAME_LOWER", 4, {2, 4, 6, 7}},
      {"AveragePool",
       7,
       4,
       2,
       1,
       0,
       0,
       0,
       0,
       "SAME_UPPER",
       4,
       {2, 3.5f, 5.5f, 6.5f}},
      {"AveragePool",
       7,
       4,
       2,
       1,
       0,
       0,
       0,
       1,
       "SAME_UPPER",
       4,
       {1.5f, 3.5f, 5.5f, 3.25f}},
      {"AveragePool", 7, 3, 2, 2, 1, 1, 0, 0, NULL, 3, {3, 4, 5}},
      {"AveragePool", 7, 3, 2, 2, 1, 1, 1, 1, NULL, 3, {2, 4, 10.0f / 3}},
      {"AveragePool", 7, 2, 2, 3, 1, 1, 1, 0, NULL, 4, {3, 3.5f, 5.5f, 6}},
      {"AveragePool", 7, 2, 2, 3, 1, 1, 1, 1, NULL, 4, {1.5f, 3.5f, 5.5f, 6}},
      {"AveragePool", 9, 3, 2, 1, 1, 1, 1, 1, NULL, 5, {1, 3, 5, 7, 17.0f / 3}},
      {"AveragePool", 9, 3, 3, 1, 1, 1, 1, 1, NULL, 4, {1, 4, 7, 4.5f}},
      {"AveragePool", 9, 3, 3, 1, 0, 1, 1, 1, NULL, 3, {2, 5, 8}},
      {"AveragePool", 9, 4, 3, 1, 0, 0, 1, 1, NULL, 3, {2.5f, 5.5f, 8}},
      {"AveragePool", 9, 4, 3, 1, 0, 0, 1, 0, NULL, 3, {2.5f, 5.5f, 8}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fx f;
    fx_init(&f, ctx);
    float x[16];
    for (int j = 0; j < 16; j++) x[j] = (float)(j + 1);
    const int64_t xd[3] = {1, 1, cases[i].n};
    fx_input_values(&f, 0, 3, xd, x);
    const int64_t pads[2] = {cases[i].plo, cases[i].phi};
    attr_ints(&f, "kernel_shape", &cases[i].k, 1);
    attr_ints(&f, "strides", &cases[i].s, 1);
    attr_ints(&f, "dilations", &cases[i].d, 1);
    if (cases[i].auto_pad)
      attr_str(&f, "auto_pad", cases[i].auto_pad);
    else
      attr_ints(&f, "pads", pads, 2);
    attr_int(&f, "ceil_mode", cases[i].ceil_mode);
    if (!strcmp(cases[i].op, "AveragePool"))
      attr_int(&f, "count_include_pad", cases[i].cip);
    if (fx_run(&f, cases[i].op))
      fail_msg("case %zu: %s", i, tq_context_last_error(ctx));
    char what[32];
    snprintf(what, sizeof what, "case %zu", i);
    expect_floats(f.out[0], cases[i].y, (size_t)cases[i].nout, what);
    fx_free(&f);
  }
  tq_context_destroy(ctx);
}

static void test_pool_special(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  fx f;
  fx_init(&f, ctx);
  /* NaN wins a max; -0 vs +0: the first in window order */
  const int64_t xd[4] = {1, 1, 2, 2}, k[2] = {2, 2};
  fx_input_values(&f, 0, 4, xd, (const float[]){1, NAN, 3, 2});
  attr_ints(&f, "kernel_shape", k, 2);
  assert_int_equal(fx_run(&f, "MaxPool"), TQ_OK);
  assert_true(isnan(tq_cf32(f.out[0])[0]));
  fx_input_values(&f, 0, 4, xd, (const float[]){-0.0f, 0.0f, -1, -2});
  assert_int_equal(fx_run(&f, "MaxPool"), TQ_OK);
  assert_true(signbit(tq_cf32(f.out[0])[0]));
  fx_free(&f);

  /* global pools over 1 to 3 spatial dims */
  for (int nd = 3; nd <= 5; nd++) {
    fx_init(&f, ctx);
    int64_t d[5] = {2, 3, 4, 5, 3};
    const float *x = fx_input(&f, 0, nd, d);
    const int64_t n = prod(d + 2, nd - 2);
    for (int is_max = 0; is_max < 2; is_max++) {
      assert_int_equal(
          fx_run(&f, is_max ? "GlobalMaxPool" : "GlobalAveragePool"), TQ_OK);
      int64_t od[5] = {2, 3, 1, 1, 1};
      expect_shape(f.out[0], nd, od);
      for (int64_t p = 0; p < 6; p++) {
        double s = 0, m = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
          s += x[p * n + i];
          if (x[p * n + i] > m) m = x[p * n + i];
        }
        const double want = is_max ? m : s / (double)n;
        assert_float_equal(tq_cf32(f.out[0])[p], want, 1e-6);
      }
    }
    fx_free(&f);
  }
  tq_context_destroy(ctx);
}

/* ---- normalization --------------------------------------------------------
 */

static void test_batchnorm(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  for (int nd = 2; nd <= 5; nd++) {
    fx f;
    fx_init(&f, ctx);
    int64_t d[5] = {2, 3, 4, 5, 2};
    const float *x = fx_input(&f, 0, nd, d);
    const float *p[5];
    for (size_t i = 1; i < 5; i++) p[i] = fx_input(&f, i, 1, &d[1]);
    float *var = tq_f32(f.in[4]);
    for (int i = 0; i < 3; i++) var[i] = fabsf(var[i]) + 0.1f;
    attr_float(&f, "epsilon", 1e-3f);
    assert_int_equal(fx_run(&f, "BatchNormalization"), TQ_OK);
    expect_shape(f.out[0], nd, d);
    const int64_t inner = prod(d + 2, nd - 2), total = prod(d, nd);
    double *want = malloc((size_t)total * sizeof *want);
    for (int64_t e = 0; e < total; e++) {
      const int64_t ch = (e / inner) % 3;
      want[e] = (x[e] - p[3][ch]) / sqrt((double)var[ch] + 1e-3) * p[1][ch] +
                p[2][ch];
    }
    expect_close(tq_cf32(f.out[0]), want, NULL, (size_t)total, "BatchNorm");
    free(want);
    fx_free(&f);
  }
  /* opset 7, spatial = 0: parameters per activation (C x H x W) */
  fx f;
  fx_init(&f, ctx);
  f.opset = 7;
  const int64_t d[4] = {2, 3, 2, 2};
  const float *x = fx_input(&f, 0, 4, d);
  const float *p[5];
  for (size_t i = 1; i < 5; i++) p[i] = fx_input(&f, i, 3, d + 1);
  float *var = tq_f32(f.in[4]);
  for (int i = 0; i < 12; i++) var[i] = fabsf(var[i]) + 0.1f;
  attr_int(&f, "spatial", 0);
  assert_int_equal(fx_run(&f, "BatchNormalization"), TQ_OK);
  double want[24];
  for (int e = 0; e < 24; e++) {
    const int a = e % 12;
    want[e] =
        (x[e] - p[3][a]) / sqrt((double)var[a] + 1e-5) * p[1][a] + p[2][a];
  }
  expect_close(tq_cf32(f.out[0]), want, NULL, 24, "BatchNorm spatial=0");
  fx_free(&f);
  tq_context_destroy(ctx);
}

static void test_instancenorm(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  for (int nd = 3; nd <= 5; nd++) {
    fx f;
    fx_init(&f, ctx);
    int64_t d[5] = {2, 3, 7, 5, 3};
    const float *x = fx_input(&f, 0, nd, d);
    const float *sc = fx_input(&f, 1, 1, &d[1]);
    const float *b = fx_input(&f, 2, 1, &d[1]);
    assert_int_equal(fx_run(&f, "InstanceNormalization"), TQ_OK);
    const int64_t n = prod(d + 2, nd - 2), total = prod(d, nd);
    double *want = malloc((size_t)total * sizeof *want);
    for (int64_t p = 0; p < 6; p++) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < n; i++) m += x[p * n + i];
      m /= (double)n;
      for (int64_t i = 0; i < n; i++)
        v += (x[p * n + i] - m) * (x[p * n + i] - m);
      v /= (double)n;
      for (int64_t i = 0; i < n; i++)
        want[p * n + i] =
            (x[p * n + i] - m) / sqrt(v + 1e-5) * sc[p % 3] + b[p % 3];
    }
    expect_close(tq_cf32(f.out[0]), want, NULL, (size_t)total, "InstanceNorm");
    free(want);
    fx_free(&f);
  }
  tq_context_destroy(ctx);
}

static void test_layernorm(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  static const struct {
    int nd;
    int64_t d[4];
    int64_t axis;
    int sn;
    int64_t sd[3];
    int bias;
  } cases[] = {
      {3, {2, 3, 8}, -1, 1, {8}, 1},    {3, {2, 3, 8}, 1, 2, {3, 8}, 1},
      {3, {2, 3, 8}, 1, 2, {1, 8}, 0}, /* scale broadcast over axis 1 */
      {4, {2, 2, 3, 5}, -2, 1, {5}, 1}, {2, {4, 6}, 0, 2, {4, 6}, 1},
      {1, {9}, 0, 1, {9}, 0},
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    fx f;
    fx_init(&f, ctx);
    f.n_out = 3;
    const int nd = cases[ci].nd;
    const float *x = fx_input(&f, 0, nd, cases[ci].d);
    const float *sc = fx_input(&f, 1, cases[ci].sn, cases[ci].sd);
    const float *b =
        cases[ci].bias ? fx_input(&f, 2, cases[ci].sn, cases[ci].sd) : NULL;
    attr_int(&f, "axis", cases[ci].axis);
    if (fx_run(&f, "LayerNormalization"))
      fail_msg("%s", tq_context_last_error(ctx));
    const int axis =
        (int)(cases[ci].axis < 0 ? cases[ci].axis + nd : cases[ci].axis);
    const int64_t n = prod(cases[ci].d + axis, nd - axis);
    const int64_t rows = prod(cases[ci].d, axis);
    double *want = malloc((size_t)(rows * n) * sizeof *want);
    double wm[64], wi[64];
    for (int64_t r = 0; r < rows; r++) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < n; i++) m += x[r * n + i];
      m /= (double)n;
      for (int64_t i = 0; i < n; i++)
        v += (x[r * n + i] - m) * (x[r * n + i] - m);
      v /= (double)n;
      wm[r] = m;
      wi[r] = 1 / sqrt(v + 1e-5);
      for (int64_t i = 0; i < n; i++) {
        /* parameter index: broadcast from the right */
        int64_t idx[4], pidx = 0;
        unflatten(i, cases[ci].d + axis, nd - axis, idx);
        for (int d = 0; d < cases[ci].sn; d++) {
          const int64_t pd = cases[ci].sd[d];
          pidx = pidx * pd + (pd == 1 ? 0 : idx[nd - axis - cases[ci].sn + d]);
        }
        want[r * n + i] =
            (x[r * n + i] - m) * wi[r] * sc[pidx] + (b ? b[pidx] : 0.0);
      }
    }
    expect_close(tq_cf32(f.out[0]), want, NULL, (size_t)(rows * n),
                 "LayerNorm");
    expect_close(tq_cf32(f.out[1]), wm, NULL, (size_t)rows, "LayerNorm mean");
    expect_close(tq_cf32(f.out[2]), wi, NULL, (size_t)rows,
                 "LayerNorm inv std");
    int64_t md[4];
    for (int d = 0; d < nd; d++) md[d] = d < axis ? cases[ci].d[d] : 1;
    expect_shape(f.out[1], nd, md);
    free(want);
    fx_free(&f);
  }
  tq_context_destroy(ctx);
}

/* ---- intrinsic quantization ------------------------------------------------
 */

typedef struct iq_fixture {
  tq_quantizer *q[3];
  tq_qmap_value sum_form, acc_form;
} iq_fixture;

static void iq_setup(tq_context *ctx, iq_fixture *iq) {
  memset(iq, 0, sizeof *iq);
  assert_int_equal(tq_quantizer_parse(ctx, "stochastic,10,6", &iq->q[0]),
                   TQ_OK);
  assert_int_equal(tq_quantizer_parse(ctx, "nearest,10,6", &iq->q[1]), TQ_OK);
  assert_int_equal(
      tq_quantizer_parse(ctx, "nearest,6,4,overflow=wrap", &iq->q[2]), TQ_OK);
  iq->sum_form.quantizer = iq->q[0];
  iq->sum_form.product = iq->q[0];
  iq->sum_form.sum = iq->q[0];
  iq->acc_form.product = iq->q[1];
  iq->acc_form.accumulator = iq->q[2];
}

static void iq_teardown(iq_fixture *iq) {
  for (int i = 0; i < 3; i++) tq_quantizer_destroy(iq->q[i]);
}

/* The definition for one output element: its K terms in order, its bias,
 * random numbers at (sample_offset * S + e) * (K + 1) + k. */
static float iq_element(fx *f, const float *xs, const float *ws, int64_t K,
                        const float *bias, int64_t e, int64_t S) {
  float out;
  tq_intrinsic_gemm_args a = {
      .M = 1,
      .N = 1,
      .K = (int)K,
      .A = xs,
      .lda = (size_t)K,
      .B = ws,
      .ldb = 1,
      .bias = bias,
      .C = &out,
      .ldc = 1,
      .iq = f->intrinsic,
      .seed = f->seed,
      .stream = f->stream,
      .index_base =
          (f->sample_offset * (uint64_t)S + (uint64_t)e) * (uint64_t)(K + 1),
      .threads = 1,
  };
  assert_int_equal(tq_intrinsic_gemm_ref(f->ctx, &a), TQ_OK);
  return out;
}

static void expect_bits(const tq_tensor *t, const float *want, size_t n,
                        const char *what) {
  for (size_t i = 0; i < n; i++)
    if (tq_test_bits(tq_cf32(t)[i]) != tq_test_bits(want[i]))
      fail_msg("%s: element %zu is %.9g, the definition gives %.9g", what, i,
               (double)tq_cf32(t)[i], (double)want[i]);
}

static void scale_inputs(fx *f, float s) {
  for (size_t i = 0; i < f->n_in; i++)
    if (f->in[i])
      for (size_t k = 0; k < f->in[i]->numel; k++) tq_f32(f->in[i])[k] *= s;
}

static void test_intrinsic_conv(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  iq_fixture iq;
  iq_setup(ctx, &iq);
  for (int iter = 0; iter < 24; iter++) {
    fx f;
    fx_init(&f, ctx);
    f.threads = (int)irand(1, 3);
    f.intrinsic = iter % 2 ? &iq.acc_form : &iq.sum_form;
    f.seed = 99;
    f.stream = 7;
    f.sample_offset = (uint64_t)irand(0, 5);
    const int transposed = iter >= 12;
    const int nsp = 1 + iter % 3;
    geo g;
    memset(&g, 0, sizeof g);
    random_geo(&g, nsp, nsp == 3 ? 4 : 7);
    const int64_t N = irand(1, 2), G = irand(1, 2);
    const int64_t C = G * irand(1, 3), M = G * irand(1, 3);
    int64_t pads[6];
    for (int d = 0; d < 2 * nsp; d++) pads[d] = irand(0, 1);
    conv_case cc = {.N = N, .C = C, .M = M, .G = G, .bias = 1};
    convt_case tc = {.N = N, .C = C, .M = M, .G = G, .bias = 1};
    const geo *gg;
    if (!transposed) {
      cc.g = g;
      if (!geo_window(&cc.g, AP_NOTSET, pads, 0)) {
        iter--;
        continue;
      }
      conv_set_attrs(&f, &cc, AP_NOTSET, pads, 0);
      gg = &cc.g;
    } else {
      tc.g = g;
      if (!convt_geo(&tc, 0, pads)) {
        iter--;
        continue;
      }
      attr_ints(&f, "strides", g.s, (size_t)nsp);
      attr_ints(&f, "dilations", g.d, (size_t)nsp);
      attr_ints(&f, "pads", pads, 2 * (size_t)nsp);
      if (G != 1) attr_int(&f, "group", G);
      gg = &tc.g;
    }
    int64_t xd[5] = {N, C}, wd[5];
    wd[0] = transposed ? C : M;
    wd[1] = transposed ? M / G : C / G;
    for (int d = 0; d < nsp; d++) {
      xd[2 + d] = gg->in[d];
      wd[2 + d] = gg->k[d];
    }
    const float *x = fx_input(&f, 0, nsp + 2, xd);
    const float *w = fx_input(&f, 1, nsp + 2, wd);
    const float *b = fx_input(&f, 2, 1, &M);
    scale_inputs(&f, 1.5f);
    const char *op = transposed ? "ConvTranspose" : "Conv";
    if (fx_run(&f, op)) fail_msg("%s: %s", op, tq_context_last_error(ctx));
    const int64_t P = prod(gg->out, nsp), total = N * M * P;
    const int64_t K = C / G * prod(gg->k, nsp);
    float *want = malloc((size_t)total * sizeof *want);
    float *xs = malloc((size_t)(K + 1) * sizeof *xs);
    float *ws = malloc((size_t)(K + 1) * sizeof *ws);
    for (int64_t e = 0; e < total; e++) {
      if (transposed)
        convt_terms(&tc, x, w, e, xs, ws);
      else
        conv_terms(&cc, x, w, e, xs, ws);
      want[e] = iq_element(&f, ws, xs, K, b + (e / P) % M, e, M * P);
    }
    expect_bits(f.out[0], want, (size_t)total, op);
    free(want);
    free(xs);
    free(ws);
    fx_free(&f);
  }
  iq_teardown(&iq);
  tq_context_destroy(ctx);
}

/* Random numbers belong to samples: sample 1 of a batch of 3 equals that
 * sample run alone at sample_offset + 1. */
static void test_intrinsic_batch_independent(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  iq_fixture iq;
  iq_setup(ctx, &iq);
  static const char *const ops[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
  for (size_t o = 0; o < 4; o++) {
    fx f;
    fx_init(&f, ctx);
    f.intrinsic = &iq.sum_form;
    f.seed = 3;
    f.sample_offset = 10;
    const int is_conv = o < 2;
    /* Conv: W (3, 2, 3, 3); ConvTranspose: W (2, 3, 3, 3) */
    const int64_t xd[4] = {3, 2, 5, 4};
    const int64_t wd[4] = {o == 0 ? 3 : 2, o == 0 ? 2 : 3, 3, 3};
    const int64_t ad[2] = {3, 6}, bd[2] = {6, 4};
    const float *x = is_conv ? fx_input(&f, 0, 4, xd) : fx_input(&f, 0, 2, ad);
    if (is_conv)
      fx_input(&f, 1, 4, wd);
    else
      fx_input(&f, 1, 2, bd);
    scale_inputs(&f, 2.0f);
    assert_int_equal(fx_run(&f, ops[o]), TQ_OK);
    tq_tensor *all = NULL;
    assert_int_equal(tq_tensor_clone(ctx, f.out[0], &all), TQ_OK);
    /* sample 1 alone */
    const size_t per_in = f.in[0]->numel / 3, per_out = all->numel / 3;
    float *one = malloc(per_in * sizeof *one);
    memcpy(one, x + per_in, per_in * sizeof *one);
    int64_t d1[4];
    for (int d = 0; d < (is_conv ? 4 : 2); d++) d1[d] = is_conv ? xd[d] : ad[d];
    d1[0] = 1;
    fx_input_values(&f, 0, is_conv ? 4 : 2, d1, one);
    f.sample_offset = 11;
    assert_int_equal(fx_run(&f, ops[o]), TQ_OK);
    assert_memory_equal(tq_cf32(f.out[0]), tq_cf32(all) + per_out,
                        per_out * sizeof(float));
    free(one);
    tq_tensor_destroy(all);
    fx_free(&f);
  }
  iq_teardown(&iq);
  tq_context_destroy(ctx);
}

static void test_intrinsic_gemm_matmul(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  iq_fixture iq;
  iq_setup(ctx, &iq);
  for (int iter = 0; iter < 16; iter++) {
    fx f;
    fx_init(&f, ctx);
    f.intrinsic = iter % 2 ? &iq.acc_form : &iq.sum_form;
    f.seed = 5;
    f.stream = 1;
    f.sample_offset = (uint64_t)irand(0, 3);
    f.threads = (int)irand(1, 2);
    const int ta = (iter >> 1) & 1, tb = (iter >> 2) & 1;
    const int64_t M = irand(1, 6), N = irand(1, 7), K = irand(1, 9);
    const int64_t ad[2] = {ta ? K : M, ta ? M : K};
    const int64_t bd[2] = {tb ? N : K, tb ? K : N};
    const float *A = fx_input(&f, 0, 2, ad), *B = fx_input(&f, 1, 2, bd);
    /* C: (N), (M, 1), (M, N) or a scalar */
    const int ck = iter % 4;
    const int64_t cd[2] = {ck == 1 ? M : ck == 2 ? M : N, ck == 1 ? 1 : N};
    const int cn = ck == 0 ? 1 : ck == 3 ? 0 : 2;
    const float *C = fx_input(&f, 2, cn, cd);
    const int64_t crs = ck == 1 ? 1 : ck == 2 ? N : 0;
    const int64_t ccs = ck == 0 || ck == 2 ? 1 : 0;
    scale_inputs(&f, 1.5f);
    if (ta) attr_int(&f, "transA", 1);
    if (tb) attr_int(&f, "transB", 1);
    if (fx_run(&f, "Gemm")) fail_msg("%s", tq_context_last_error(ctx));
    float want[64], xs[16], ws[16];
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++) {
          xs[k] = ta ? A[k * M + m] : A[m * K + k];
          ws[k] = tb ? B[n * K + k] : B[k * N + n];
        }
        want[m * N + n] =
            iq_element(&f, xs, ws, K, C + m * crs + n * ccs, m * N + n, N);
      }
    expect_bits(f.out[0], want, (size_t)(M * N), "Gemm");

    /* MatMul with broadcast batches: (2, 1, M, K) x (3, K, N) */
    fx g;
    fx_init(&g, ctx);
    g.intrinsic = f.intrinsic;
    g.seed = 5;
    g.sample_offset = f.sample_offset;
    const int64_t a4[4] = {2, 1, M, K}, b3[3] = {3, K, N};
    const float *A4 = fx_input(&g, 0, 4, a4), *B3 = fx_input(&g, 1, 3, b3);
    scale_inputs(&g, 1.5f);
    if (fx_run(&g, "MatMul")) fail_msg("%s", tq_context_last_error(ctx));
    float *wm = malloc((size_t)(6 * M * N) * sizeof *wm);
    for (int64_t bi = 0; bi < 6; bi++)
      for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
          for (int64_t k = 0; k < K; k++) {
            xs[k] = A4[((bi / 3) * M + m) * K + k];
            ws[k] = B3[((bi % 3) * K + k) * N + n];
          }
          const int64_t e = (bi * M + m) * N + n;
          wm[e] = iq_element(&g, xs, ws, K, NULL, e, 3 * M * N);
        }
    expect_bits(g.out[0], wm, (size_t)(6 * M * N), "MatMul");
    free(wm);
    fx_free(&g);
    fx_free(&f);
  }
  iq_teardown(&iq);
  tq_context_destroy(ctx);
}

/* ---- errors ------------------------------------------------------------- */

static void test_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  iq_fixture iq;
  iq_setup(ctx, &iq);
  fx f;
  const int64_t x4[4] = {1, 4, 6, 6}, w4[4] = {8, 4, 3, 3};
  const int64_t x3[3] = {1, 4, 6};

#define FRESH()             \
  do {                      \
    fx_free(&f);            \
    fx_init(&f, ctx);       \
    fx_input(&f, 0, 4, x4); \
    fx_input(&f, 1, 4, w4); \
  } while (0)

  fx_init(&f, ctx);
  fx_input(&f, 0, 4, x4);
  fx_input(&f, 1, 3, x3);
  expect_error(&f, "Conv", TQ_ERR_SHAPE, "expected the same rank");
  FRESH();
  fx_input(&f, 0, 2, x4);
  fx_input(&f, 1, 2, x4);
  expect_error(&f, "Conv", TQ_ERR_SHAPE, "rank 3 to 5");
  FRESH();
  attr_int(&f, "group", 2);
  expect_error(&f, "Conv", TQ_ERR_SHAPE, "input channels per group");
  FRESH();
  attr_int(&f, "group", 3);
  expect_error(&f, "Conv", TQ_ERR_SHAPE, "not divisible by group 3");
  FRESH();
  attr_int(&f, "group", 0);
  expect_error(&f, "Conv", TQ_ERR_INVALID_ARGUMENT, "group is 0");
  FRESH();
  attr_ints(&f, "strides", (const int64_t[]){1, 1, 1}, 3);
  expect_error(&f, "Conv", TQ_ERR_INVALID_ARGUMENT,
               "strides has 3 values, expected 2");
  FRESH();
  attr_ints(&f, "pads", (const int64_t[]){0, -1, 0, 0}, 4);
  expect_error(&f, "Conv", TQ_ERR_RANGE, "pads[1] = -1");
  FRESH();
  attr_ints(&f, "strides", (const int64_t[]){0, 1}, 2);
  expect_error(&f, "Conv", TQ_ERR_RANGE, "strides[0] = 0");
  FRESH();
  attr_int(&f, "strides", 2);
  expect_error(&f, "Conv", TQ_ERR_INVALID_ARGUMENT, "list of integers");
  FRESH();
  attr_str(&f, "auto_pad", "SAME");
  expect_error(&f, "Conv", TQ_ERR_INVALID_ARGUMENT, "auto_pad is \"SAME\"");
  FRESH();
  attr_ints(&f, "kernel_shape", (const int64_t[]){3, 2}, 2);
  expect_error(&f, "Conv", TQ_ERR_SHAPE, "kernel_shape[1] = 2");
  FRESH();
  attr_ints(&f, "dilations", (const int64_t[]){4, 1}, 2);
  expect_error(&f, "Conv", TQ_ERR_SHAPE, "smaller than the kernel extent 9");
  FRESH();
  fx_input(&f, 2, 1, (const int64_t[]){7});
  expect_error(&f, "Conv", TQ_ERR_SHAPE, "bias B has 7 values, expected 8");
  FRESH();
  f.n_in = 1;
  expect_error(&f, "Conv", TQ_ERR_INVALID_ARGUMENT, "input 1 (W) is missing");

  FRESH();
  fx_input(&f, 1, 4, (const int64_t[]){3, 2, 3, 3});
  expect_error(&f, "ConvTranspose", TQ_ERR_SHAPE,
               "W has 3 input channels (dimension 0) but X has 4");
  FRESH();
  fx_input(&f, 1, 4, (const int64_t[]){4, 2, 3, 3});
  attr_ints(&f, "output_shape", (const int64_t[]){20, 8}, 2);
  expect_error(&f, "ConvTranspose", TQ_ERR_SHAPE,
               "output_shape[0] = 20 is not reachable");
  FRESH();
  fx_input(&f, 1, 4, (const int64_t[]){4, 2, 3, 3});
  attr_ints(&f, "output_shape", (const int64_t[]){8, 8, 8}, 3);
  expect_error(&f, "ConvTranspose", TQ_ERR_INVALID_ARGUMENT,
               "output_shape has 3 values");
  FRESH();
  fx_input(&f, 1, 4, (const int64_t[]){4, 2, 3, 3});
  attr_ints(&f, "pads", (const int64_t[]){5, 5, 5, 5}, 4);
  expect_error(&f, "ConvTranspose", TQ_ERR_SHAPE, "leave no output");

  /* pools */
  FRESH();
  expect_error(&f, "MaxPool", TQ_ERR_INVALID_ARGUMENT,
               "kernel_shape is required");
  FRESH();
  attr_ints(&f, "kernel_shape", (const int64_t[]){2, 2}, 2);
  f.n_out = 2;
  expect_error(&f, "MaxPool", TQ_ERR_UNSUPPORTED, "Indices");
  FRESH();
  attr_ints(&f, "kernel_shape", (const int64_t[]){2}, 1);
  expect_error(&f, "AveragePool", TQ_ERR_SHAPE,
               "kernel_shape has 1 values but X");
  FRESH();
  attr_ints(&f, "kernel_shape", (const int64_t[]){2, 2}, 2);
  attr_int(&f, "ceil_mode", 2);
  expect_error(&f, "MaxPool", TQ_ERR_INVALID_ARGUMENT, "ceil_mode is 2");
  FRESH();
  attr_ints(&f, "kernel_shape", (const int64_t[]){2, 2}, 2);
  attr_int(&f, "count_include_pad", 5);
  expect_error(&f, "AveragePool", TQ_ERR_INVALID_ARGUMENT,
               "count_include_pad is 5");
  FRESH();
  attr_ints(&f, "kernel_shape", (const int64_t[]){7, 2}, 2);
  expect_error(&f, "MaxPool", TQ_ERR_SHAPE, "smaller than the kernel extent 7");

  /* Gemm, MatMul */
  FRESH();
  fx_input(&f, 0, 2, (const int64_t[]){3, 4});
  fx_input(&f, 1, 2, (const int64_t[]){5, 6});
  expect_error(&f, "Gemm", TQ_ERR_SHAPE, "inner dimensions differ");
  FRESH();
  fx_input(&f, 0, 2, (const int64_t[]){3, 4});
  fx_input(&f, 1, 2, (const int64_t[]){4, 6});
  fx_input(&f, 2, 1, (const int64_t[]){3});
  expect_error(&f, "Gemm", TQ_ERR_SHAPE,
               "does not broadcast to the output 3 x 6");
  FRESH();
  fx_input(&f, 0, 3, (const int64_t[]){2, 3, 4});
  fx_input(&f, 1, 2, (const int64_t[]){4, 6});
  expect_error(&f, "Gemm", TQ_ERR_SHAPE, "input 0 (A) must have rank 2");
  FRESH();
  fx_input(&f, 0, 2, (const int64_t[]){3, 4});
  fx_input(&f, 1, 2, (const int64_t[]){4, 6});
  attr_float(&f, "alpha", 2.0f);
  f.intrinsic = &iq.sum_form;
  expect_error(&f, "Gemm", TQ_ERR_UNSUPPORTED, "alpha = 1 and beta = 1");
  FRESH();
  fx_input(&f, 0, 3, (const int64_t[]){2, 3, 4});
  fx_input(&f, 1, 3, (const int64_t[]){3, 4, 6});
  expect_error(&f, "MatMul", TQ_ERR_SHAPE, "batch dimensions 2 and 3");
  FRESH();
  fx_input(&f, 0, 2, (const int64_t[]){3, 4});
  fx_input(&f, 1, 1, (const int64_t[]){5});
  expect_error(&f, "MatMul", TQ_ERR_SHAPE, "inner dimensions differ (4 vs 5)");

  /* normalization */
  FRESH();
  for (size_t i = 1; i < 5; i++) fx_input(&f, i, 1, (const int64_t[]){4});
  fx_input(&f, 3, 1, (const int64_t[]){5});
  expect_error(&f, "BatchNormalization", TQ_ERR_SHAPE,
               "input_mean has shape [5]; expected [4]");
  FRESH();
  for (size_t i = 1; i < 5; i++) fx_input(&f, i, 1, (const int64_t[]){4});
  attr_int(&f, "training_mode", 1);
  expect_error(&f, "BatchNormalization", TQ_ERR_UNSUPPORTED, "training_mode");
  FRESH();
  for (size_t i = 1; i < 5; i++) fx_input(&f, i, 1, (const int64_t[]){4});
  f.n_out = 3;
  expect_error(&f, "BatchNormalization", TQ_ERR_UNSUPPORTED,
               "belong to training");
  FRESH();
  fx_input(&f, 1, 1, (const int64_t[]){3});
  fx_input(&f, 2, 1, (const int64_t[]){4});
  expect_error(&f, "InstanceNormalization", TQ_ERR_SHAPE,
               "scale has 3 values; expected 4");
  FRESH();
  fx_input(&f, 1, 1, (const int64_t[]){5});
  expect_error(&f, "LayerNormalization", TQ_ERR_SHAPE,
               "Scale has shape [5], which does not broadcast");
  FRESH();
  fx_input(&f, 1, 1, (const int64_t[]){6});
  attr_int(&f, "axis", 4);
  expect_error(&f, "LayerNormalization", TQ_ERR_SHAPE,
               "axis 4 is out of range");
#undef FRESH
  fx_free(&f);
  iq_teardown(&iq);
  tq_context_destroy(ctx);
}

static void test_table(void **state) {
  (void)state;
  static const struct {
    const char *name;
    unsigned flags;
  } want[] = {
      {"Conv", TQ_OPF_WEIGHTS | TQ_OPF_INTRINSIC | TQ_OPF_POST_RELU},
      {"ConvTranspose", TQ_OPF_WEIGHTS | TQ_OPF_INTRINSIC},
      {"Gemm", TQ_OPF_WEIGHTS | TQ_OPF_INTRINSIC},
      {"MatMul", TQ_OPF_WEIGHTS | TQ_OPF_INTRINSIC},
      {"MaxPool", 0},
      {"AveragePool", 0},
      {"GlobalAveragePool", 0},
      {"GlobalMaxPool", 0},
      {"BatchNormalization", TQ_OPF_WEIGHTS},
      {"InstanceNormalization", TQ_OPF_WEIGHTS},
      {"LayerNormalization", TQ_OPF_WEIGHTS},
  };
  size_t nn = 0; /* the group's operators: their IDs are consecutive */
  for (size_t i = 0; i < tq_builtin_op_count(); i++) {
    const tq_op_id id = tq_builtin_op_at(i)->id;
    nn += id >= TQ_OP_CONV && id <= TQ_OP_LAYER_NORMALIZATION;
  }
  assert_int_equal(nn, sizeof want / sizeof want[0]);
  for (size_t i = 0; i < nn; i++) {
    const tq_op_desc *e = nn_op(want[i].name, 17);
    assert_int_equal(e->flags, want[i].flags);
    assert_non_null(e->infer);
    assert_non_null(e->forward);
    assert_true(e->min_inputs >= 1 && e->min_inputs <= e->max_inputs);
    assert_true(e->min_outputs == 1 && e->max_outputs >= 1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_conv_random),
      cmocka_unit_test(test_conv_paths),
      cmocka_unit_test(test_conv_winograd),
      cmocka_unit_test(test_conv_pref),
      cmocka_unit_test(test_conv_cache),
      cmocka_unit_test(test_conv_transpose_random),
      cmocka_unit_test(test_conv_transpose_ort),
      cmocka_unit_test(test_gemm),
      cmocka_unit_test(test_matmul),
      cmocka_unit_test(test_pool_random),
      cmocka_unit_test(test_pool_ort),
      cmocka_unit_test(test_pool_special),
      cmocka_unit_test(test_batchnorm),
      cmocka_unit_test(test_instancenorm),
      cmocka_unit_test(test_layernorm),
      cmocka_unit_test(test_intrinsic_conv),
      cmocka_unit_test(test_intrinsic_batch_independent),
      cmocka_unit_test(test_intrinsic_gemm_matmul),
      cmocka_unit_test(test_errors),
  };
  const int failed = cmocka_run_group_tests(tests, NULL, NULL);
  if (getenv("TQ_TEST_CONV_STATS")) print_conv_stats();
  return failed;
}
