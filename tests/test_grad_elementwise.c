/* Backward of the elementwise and activation operators: every operator
 * against finite differences (gradcheck), broadcasting of every kind,
 * exact values at the kinks of piecewise functions, Dropout in training
 * mode, and the same bits at any thread count on tensors large enough for
 * the parallel paths. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gradcheck.h"

/* Finite-difference settings: h rounds to 2^-7; inputs of piecewise
 * functions stay GAP away from their kinks (more than 2h). */
#define H 1e-2
#define GAP 0.05f
#define ATOL 2e-3
#define RTOL 2e-3

/* Uniform values in [lo, hi), at least GAP away from every kink. */
static tq_tensor *tgen(int nd, const int64_t *dims, uint64_t seed, float lo,
                       float hi, const float *kinks, int nk) {
  tq_tensor *t = tf(nd, dims, NULL);
  uint64_t st = seed * 7919u + 17u;
  for (size_t i = 0; i < t->numel; i++) {
    float v;
    int ok;
    do {
      v = lo + (hi - lo) * (float)((double)(tq_test_rand(&st) >> 40) * 0x1p-24);
      ok = 1;
      for (int k = 0; k < nk; k++)
        if (fabsf(v - kinks[k]) < GAP) ok = 0;
    } while (!ok);
    tq_f32(t)[i] = v;
  }
  return t;
}

static tq_tensor *tu(int nd, const int64_t *dims, uint64_t seed, float lo,
                     float hi) {
  return tgen(nd, dims, seed, lo, hi, NULL, 0);
}

/* Offsets 0.025 apart keep tensors 0.025 away from each other. */
static tq_tensor *tsep(int nd, const int64_t *dims, uint64_t seed, float off) {
  return grad_distinct(nd, dims, seed, off);
}

static tq_tensor *tscalar(float v) {
  return tf(0, NULL, &v);
}

static void destroy_all(tq_tensor **t, size_t n) {
  for (size_t i = 0; i < n; i++) tq_tensor_destroy(t[i]);
}

/* ---- binary arithmetic with broadcasting
 * -----------------------------------*/

typedef struct bcase {
  int na;
  int64_t da[4];
  int nb;
  int64_t db[4];
} bcase;

static const bcase bcases[] = {
    {3, {2, 3, 4}, 3, {2, 3, 4}},       /* same shape */
    {4, {2, 3, 4, 5}, 0, {0}},          /* scalar B */
    {0, {0}, 3, {2, 3, 4}},             /* scalar A */
    {4, {2, 3, 4, 5}, 3, {3, 1, 1}},    /* [C,1,1] against [N,C,H,W] */
    {3, {3, 1, 1}, 4, {2, 3, 4, 5}},    /* and the other way round */
    {4, {2, 3, 4, 5}, 4, {1, 3, 1, 1}}, /* per channel, same rank */
    {3, {2, 1, 4}, 2, {3, 1}},          /* both sides broadcast */
    {2, {3, 1}, 2, {1, 4}},             /* outer product */
    {4, {2, 3, 4, 5}, 4, {2, 1, 4, 1}}, /* interleaved */
};

static void test_binary_broadcast(void **state) {
  (void)state;
  static const char *const ops[] = {"Add", "Sub", "Mul", "Div", "Pow"};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
    for (size_t k = 0; k < sizeof bcases / sizeof bcases[0]; k++) {
      const bcase *b = &bcases[k];
      int is_pow = !strcmp(ops[o], "Pow"), is_div = !strcmp(ops[o], "Div");
      tq_tensor *a = is_pow ? tu(b->na, b->da, 11 + k, 0.5f, 2.0f)
                            : tu(b->na, b->da, 11 + k, -2.0f, 2.0f);
      tq_tensor *bb = tu(b->nb, b->db, 97 + k, is_div ? 0.5f : -2.0f, 2.0f);
      if (is_div) /* divisors away from 0: |b| in [0.5, 2], both signs */
        for (size_t i = 1; i < bb->numel; i += 2) tq_f32(bb)[i] *= -1.0f;
      const tq_tensor *in[2] = {a, bb};
      gradcheck(ops[o], 14, in, 2, NULL, 0, 1, 3u, H, ATOL, RTOL, 1);
      /* One side at a time: the other gets no buffer. */
      gradcheck(ops[o], 14, in, 2, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
      gradcheck(ops[o], 14, in, 2, NULL, 0, 1, 2u, H, ATOL, RTOL, 1);
      tq_tensor_destroy(a);
      tq_tensor_destroy(bb);
    }
}

/* Before opset 7: B aligned to A at `axis` with broadcast=1. */
static void test_binary_legacy(void **state) {
  (void)state;
  const int64_t da[4] = {2, 3, 4, 5}, db[2] = {3, 4}, dc[1] = {5};
  tq_tensor *a = tu(4, da, 1, -2, 2), *b = tu(2, db, 2, 0.5f, 2),
            *c = tu(1, dc, 3, 0.5f, 2);
  tq_attr_store at[2] = {a_int("broadcast", 1), a_int("axis", 1)};
  const tq_tensor *in[2] = {a, b};
  gradcheck("Mul", 6, in, 2, at, 2, 1, 3u, H, ATOL, RTOL, 1);
  gradcheck("Div", 6, in, 2, at, 2, 1, 3u, H, ATOL, RTOL, 1);
  const tq_tensor *in2[2] = {a, c}; /* default axis: trailing */
  gradcheck("Sub", 6, in2, 2, at, 1, 1, 3u, H, ATOL, RTOL, 1);
  tq_tensor_destroy(a);
  tq_tensor_destroy(b);
  tq_tensor_destroy(c);
}

static void test_pow_int_exponent(void **state) {
  (void)state;
  const int64_t d[2] = {3, 4}, one[1] = {1};
  const int64_t e3 = 3;
  tq_tensor *a = tu(2, d, 5, -2, 2), *e = ti(1, one, &e3);
  const tq_tensor *in[2] = {a, e};
  gradcheck("Pow", 15, in, 2, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
  /* Exactly 3 x^2 g. */
  tq_tensor *out[1], *gin[2];
  tq_tensor *g = grad_rand(&a->shape, 3);
  const tq_tensor *gout[1] = {g};
  assert_int_equal(
      grad_run("Pow", 15, in, 2, NULL, 0, out, 1, gout, 1u, gin, 1, 1, 0),
      TQ_OK);
  assert_null(gin[1]);
  for (size_t i = 0; i < a->numel; i++) {
    float x = tq_f32(a)[i];
    float want = tq_f32(g)[i] * (3.0f * powf(x, 2.0f));
    assert_float_equal(tq_f32(gin[0])[i], want, 1e-6f * fabsf(want) + 1e-7f);
  }
  destroy_all(out, 1);
  tq_tensor_destroy(gin[0]);
  tq_tensor_destroy(g);
  tq_tensor_destroy(a);
  tq_tensor_destroy(e);
}

/* ---- variadic
 * --------------------------------------------------------------*/

static void test_variadic(void **state) {
  (void)state;
  const int64_t d0[3] = {2, 3, 4}, d1[2] = {3, 1}, d2[1] = {4};
  static const char *const ops[] = {"Sum", "Mean", "Max", "Min"};
  for (size_t o = 0; o < 4; o++) {
    int sep = o >= 2; /* Max/Min: no ties near the inputs */
    tq_tensor *x0 = sep ? tsep(3, d0, 1, 0.0f) : tu(3, d0, 1, -2, 2);
    tq_tensor *x1 = sep ? tsep(2, d1, 2, 0.025f) : tu(2, d1, 2, -2, 2);
    tq_tensor *x2 = sep ? tsep(1, d2, 3, 0.05f) : tu(1, d2, 3, -2, 2);
    tq_tensor *x3 = tscalar(sep ? 0.075f : 0.7f);
    const tq_tensor *in[4] = {x0, x1, x2, x3};
    gradcheck(ops[o], 13, in, 4, NULL, 0, 1, 15u, H, ATOL, RTOL, 1);
    gradcheck(ops[o], 13, in, 3, NULL, 0, 1, 5u, H, ATOL, RTOL, 1);
    gradcheck(ops[o], 13, in, 1, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
    destroy_all((tq_tensor *[]){x0, x1, x2, x3}, 4);
  }
}

/* Max/Min: among inputs that hold the result, the first gets the
 * gradient. */
static void test_max_min_ties(void **state) {
  (void)state;
  const int64_t d[1] = {4};
  const float av[4] = {1, 5, 2, -1}, bv[4] = {1, 5, 3, -1}, cv = 5.0f;
  tq_tensor *a = tf(1, d, av), *b = tf(1, d, bv), *c = tscalar(cv);
  const float gv[4] = {10, 20, 30, 40};
  tq_tensor *g = tf(1, d, gv);
  const tq_tensor *in[3] = {a, b, c}, *gout[1] = {g};
  tq_tensor *out[1], *gin[3];
  /* Max = {5, 5, 5, 5}: c holds it in 0, 2, 3; a, b and c in 1 (a first). */
  assert_int_equal(
      grad_run("Max", 13, in, 3, NULL, 0, out, 1, gout, 7u, gin, 1, 1, 0),
      TQ_OK);
  const float ga[4] = {0, 20, 0, 0}, gb[4] = {0, 0, 0, 0};
  check_f(gin[0], ga, 4, 0);
  check_f(gin[1], gb, 4, 0);
  assert_float_equal(tq_f32(gin[2])[0], 10 + 30 + 40, 0);
  destroy_all(out, 1);
  destroy_all(gin, 3);
  /* Min of a and b = {1, 5, 2, -1}: every element a tie or a's. */
  assert_int_equal(
      grad_run("Min", 13, in, 2, NULL, 0, out, 1, gout, 3u, gin, 1, 1, 0),
      TQ_OK);
  check_f(gin[0], gv, 4, 0);
  check_f(gin[1], gb, 4, 0);
  destroy_all(out, 1);
  destroy_all(gin, 2);
  destroy_all((tq_tensor *[]){a, b, c, g}, 4);
}

/* ---- unary math
 * ------------------------------------------------------------*/

static void test_unary(void **state) {
  (void)state;
  const int64_t d[3] = {2, 3, 5};
  static const struct {
    const char *op;
    float lo, hi;
    float kinks[8];
    int nk;
  } cases[] = {
      {"Sqrt", 0.3f, 3.0f, {0}, 0},
      {"Log", 0.3f, 3.0f, {0}, 0},
      {"Reciprocal", 0.4f, 3.0f, {0}, 0},
      {"Exp", -3.0f, 3.0f, {0}, 0},
      {"Neg", -3.0f, 3.0f, {0}, 0},
      {"Abs", -3.0f, 3.0f, {0.0f}, 1},
      {"Erf", -2.5f, 2.5f, {0}, 0},
      {"Sin", -3.0f, 3.0f, {0}, 0},
      {"Cos", -3.0f, 3.0f, {0}, 0},
      {"Identity", -3.0f, 3.0f, {0}, 0},
      /* Piecewise constant: gradient 0 away from the jumps. */
      {"Floor", -2.9f, 2.9f, {-2, -1, 0, 1, 2}, 5},
      {"Ceil", -2.9f, 2.9f, {-2, -1, 0, 1, 2}, 5},
      {"Round", -2.4f, 2.4f, {-1.5f, -0.5f, 0.5f, 1.5f}, 4},
      {"Sign", -3.0f, 3.0f, {0.0f}, 1},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    tq_tensor *x = tgen(3, d, 40 + k, cases[k].lo, cases[k].hi, cases[k].kinks,
                        cases[k].nk);
    const tq_tensor *in[1] = {x};
    gradcheck(cases[k].op, 13, in, 1, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
    tq_tensor_destroy(x);
  }
  /* Negative reciprocals and square roots of large values. */
  tq_tensor *x = tu(3, d, 3, -3.0f, -0.4f);
  const tq_tensor *in[1] = {x};
  gradcheck("Reciprocal", 13, in, 1, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
  tq_tensor_destroy(x);
  x = tu(3, d, 4, 100.0f, 1000.0f);
  in[0] = x;
  gradcheck("Sqrt", 13, in, 1, NULL, 0, 1, 1u, 0.5, ATOL, RTOL, 1);
  tq_tensor_destroy(x);
}

/* ---- activations
 * -----------------------------------------------------------*/

static void test_activations(void **state) {
  (void)state;
  const int64_t d[4] = {2, 3, 2, 4};
  static const struct {
    const char *op;
    const char *attr; /* NULL, or a float attribute name / "approximate" */
    float v, v2;      /* its value; v2: "beta" when not 0 */
    float kinks[2];
    int nk;
  } cases[] = {
      {"Relu", NULL, 0, 0, {0.0f}, 1},
      {"LeakyRelu", NULL, 0, 0, {0.0f}, 1},
      {"LeakyRelu", "alpha", 0.3f, 0, {0.0f}, 1},
      {"Sigmoid", NULL, 0, 0, {0}, 0},
      {"Tanh", NULL, 0, 0, {0}, 0},
      {"HardSigmoid", NULL, 0, 0, {-2.5f, 2.5f}, 2},
      {"HardSigmoid", "alpha", 0.5f, 0.25f, {-0.5f, 1.5f}, 2},
      {"HardSwish", NULL, 0, 0, {-3.0f, 3.0f}, 2},
      {"Elu", NULL, 0, 0, {0.0f}, 1},
      {"Elu", "alpha", 0.7f, 0, {0.0f}, 1},
      {"Selu", NULL, 0, 0, {0.0f}, 1},
      {"Selu", "gamma", 1.5f, 0, {0.0f}, 1},
      {"Celu", NULL, 0, 0, {0.0f}, 1},
      {"Celu", "alpha", 2.0f, 0, {0.0f}, 1},
      {"Softplus", NULL, 0, 0, {0}, 0},
      {"Softsign", NULL, 0, 0, {0}, 0},
      {"Gelu", NULL, 0, 0, {0}, 0},
      {"Gelu", "approximate", 0, 0, {0}, 0},
      {"Mish", NULL, 0, 0, {0}, 0},
      {"ThresholdedRelu", NULL, 0, 0, {1.0f}, 1},
      {"ThresholdedRelu", "alpha", -0.5f, 0, {-0.5f}, 1},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    tq_tensor *x = tgen(4, d, 70 + k, -4.0f, 4.0f, cases[k].kinks, cases[k].nk);
    const tq_tensor *in[1] = {x};
    tq_attr_store at[2];
    size_t na = 0;
    if (cases[k].attr && !strcmp(cases[k].attr, "approximate")) {
      at[na++] = a_str("approximate", "tanh");
    } else if (cases[k].attr) {
      at[na++] = a_float(cases[k].attr, cases[k].v);
      if (cases[k].v2 != 0) at[na++] = a_float("beta", cases[k].v2);
    }
    gradcheck(cases[k].op, 20, in, 1, at, na, 1, 1u, H, ATOL, RTOL, 1);
    tq_tensor_destroy(x);
  }
  /* Far tails: the stable forms give finite gradients. */
  const int64_t d1[1] = {6};
  const float tails[6] = {-30, -12, -9, 9, 12, 30};
  tq_tensor *x = tf(1, d1, tails);
  const tq_tensor *in[1] = {x};
  static const char *const smooth[] = {"Sigmoid", "Tanh", "Softplus", "Mish",
                                       "Gelu"};
  for (size_t k = 0; k < sizeof smooth / sizeof smooth[0]; k++)
    gradcheck(smooth[k], 20, in, 1, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
  tq_tensor_destroy(x);
}

/* Exact gradients at the kinks, PyTorch's conventions. */
static void expect_grad(const char *op, int64_t opset, const float *x, size_t n,
                        const tq_attr_store *at, size_t na, const float *want) {
  const int64_t d[1] = {(int64_t)n};
  tq_tensor *t = tf(1, d, x);
  float gv[16];
  for (size_t i = 0; i < n; i++) gv[i] = 2.0f + (float)i;
  tq_tensor *g = tf(1, d, gv);
  const tq_tensor *in[1] = {t}, *gout[1] = {g};
  tq_tensor *out[1], *gin[1];
  tq_status st =
      grad_run(op, opset, in, 1, at, na, out, 1, gout, 1u, gin, 1, 1, 0);
  if (st != TQ_OK) fail_msg("%s: %s", op, tq_context_last_error(g_ctx));
  for (size_t i = 0; i < n; i++) {
    float w = want[i] * gv[i];
    if (tq_f32(gin[0])[i] != w)
      fail_msg("%s at x = %g: gradient %.9g, expected %.9g", op, (double)x[i],
               (double)tq_f32(gin[0])[i], (double)w);
  }
  destroy_all((tq_tensor *[]){t, g, out[0], gin[0]}, 4);
}

static void test_kinks(void **state) {
  (void)state;
  const float x0[4] = {-1.0f, 0.0f, -0.0f, 2.0f};
  expect_grad("Relu", 14, x0, 4, NULL, 0, (const float[]){0, 0, 0, 1});
  expect_grad("Abs", 13, x0, 4, NULL, 0, (const float[]){-1, 0, 0, 1});
  tq_attr_store al = a_float("alpha", 0.25f);
  expect_grad("LeakyRelu", 16, x0, 4, &al, 1,
              (const float[]){0.25f, 0.25f, 0.25f, 1});
  expect_grad("Elu", 6, x0, 4, &al, 1,
              (const float[]){0.25f * expf(-1.0f), 0.25f, 0.25f, 1});
  expect_grad("Celu", 12, x0, 4, NULL, 0,
              (const float[]){expf(-1.0f), 1, 1, 1});
  const float xt[3] = {0.5f, 1.0f, 1.5f};
  expect_grad("ThresholdedRelu", 10, xt, 3, NULL, 0, (const float[]){0, 0, 1});
  /* HardSigmoid (0.2x + 0.5): strictly inside (-2.5, 2.5). */
  const float xh[5] = {-3.0f, -2.5f, 0.0f, 2.5f, 3.0f};
  expect_grad("HardSigmoid", 6, xh, 5, NULL, 0,
              (const float[]){0, 0, 0.2f, 0, 0});
  /* HardSwish: x/3 + 1/2 on [-3, 3], PyTorch's closed interval. */
  const float xs[6] = {-4.0f, -3.0f, 0.0f, 1.5f, 3.0f, 4.0f};
  expect_grad("HardSwish", 14, xs, 6, NULL, 0,
              (const float[]){0, -0.5f, 0.5f, 1.0f, 1.5f, 1});
  /* Clip passes the gradient on the closed interval [min, max]. */
  const float xc[5] = {-1.5f, -1.0f, 0.0f, 1.0f, 1.5f};
  tq_attr_store mm[2] = {a_float("min", -1.0f), a_float("max", 1.0f)};
  expect_grad("Clip", 6, xc, 5, mm, 2, (const float[]){0, 1, 1, 1, 0});
}

/* PRelu at 0: the slope's factor; the slope's own gradient there is 0. */
static void test_prelu_kink(void **state) {
  (void)state;
  const int64_t d[1] = {4};
  const float xv[4] = {-2.0f, 0.0f, 3.0f, -0.0f}, sv = 0.1f,
              gv[4] = {1, 2, 3, 4};
  tq_tensor *x = tf(1, d, xv), *s = tf(1, (const int64_t[]){1}, &sv),
            *g = tf(1, d, gv);
  const tq_tensor *in[2] = {x, s}, *gout[1] = {g};
  tq_tensor *out[1], *gin[2];
  assert_int_equal(
      grad_run("PRelu", 16, in, 2, NULL, 0, out, 1, gout, 3u, gin, 1, 1, 0),
      TQ_OK);
  const float gx[4] = {0.1f * 1, 0.1f * 2, 3, 0.1f * 4};
  check_f(gin[0], gx, 4, 0);
  assert_float_equal(tq_f32(gin[1])[0], -2.0f, 0); /* -2 * 1 + 0 + 0 + 0 */
  destroy_all((tq_tensor *[]){x, s, g, out[0], gin[0], gin[1]}, 6);
}

/* ---- Clip, Softmax, PRelu, Where, Cast
 * -------------------------------------*/

static void test_clip(void **state) {
  (void)state;
  const int64_t d[2] = {4, 6};
  const float kinks[2] = {-1.0f, 1.5f};
  tq_tensor *x = tgen(2, d, 9, -3, 3, kinks, 2);
  tq_tensor *lo = tscalar(-1.0f), *hi = tscalar(1.5f);
  const tq_tensor *in[3] = {x, lo, hi};
  gradcheck("Clip", 13, in, 3, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
  const tq_tensor *in_lo[2] = {x, lo};
  gradcheck("Clip", 13, in_lo, 2, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
  const tq_tensor *in_hi[3] = {x, NULL, hi};
  gradcheck("Clip", 13, in_hi, 3, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
  tq_attr_store mm[2] = {a_float("min", -1.0f), a_float("max", 1.5f)};
  gradcheck("Clip", 6, in, 1, mm, 2, 1, 1u, H, ATOL, RTOL, 1);
  /* The bounds get zeros when asked. */
  tq_tensor *g = grad_rand(&x->shape, 1), *out[1], *gin[3];
  const tq_tensor *gout[1] = {g};
  assert_int_equal(
      grad_run("Clip", 13, in, 3, NULL, 0, out, 1, gout, 7u, gin, 2, 1, 0),
      TQ_OK);
  assert_float_equal(tq_f32(gin[1])[0], 0.0f, 0);
  assert_float_equal(tq_f32(gin[2])[0], 0.0f, 0);
  destroy_all((tq_tensor *[]){x, lo, hi, g, out[0], gin[0], gin[1], gin[2]}, 8);
}

static void test_softmax(void **state) {
  (void)state;
  const int64_t d[4] = {2, 3, 4, 5};
  static const struct {
    int64_t opset;
    int has_axis;
    int64_t axis;
  } cases[] = {
      {11, 0, 0},  /* coerced 2-D at axis 1: over dims 1.. */
      {11, 1, 2},  /* over dims 2.. */
      {11, 1, -1}, /* the last dim */
      {13, 0, 0},  /* the last dim */
      {13, 1, 1},  /* one inner dim, strided */
      {13, 1, -3}, {13, 1, 0},
  };
  static const char *const ops[] = {"Softmax", "LogSoftmax", "Hardmax"};
  for (size_t o = 0; o < 3; o++)
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
      /* Hardmax: no near-ties, so the finite differences see 0. */
      tq_tensor *x = o == 2 ? tsep(4, d, 5 + k, 0.0f) : tu(4, d, 5 + k, -3, 3);
      const tq_tensor *in[1] = {x};
      tq_attr_store ax = a_int("axis", cases[k].axis);
      gradcheck(ops[o], cases[k].opset, in, 1, &ax, cases[k].has_axis ? 1 : 0,
                1, 1u, H, ATOL, RTOL, 1);
      tq_tensor_destroy(x);
    }
}

static void test_prelu(void **state) {
  (void)state;
  const int64_t dx[4] = {2, 3, 4, 5}, ds[3] = {3, 1, 1}, d1[1] = {1},
                dl[1] = {5};
  const float kinks[1] = {0.0f};
  tq_tensor *x = tgen(4, dx, 3, -3, 3, kinks, 1);
  tq_tensor *slopes[4] = {tu(3, ds, 4, -0.5f, 0.5f), tu(1, d1, 5, 0, 0.5f),
                          tu(1, dl, 6, 0, 0.5f), tu(4, dx, 7, -1, 1)};
  for (int k = 0; k < 4; k++) {
    const tq_tensor *in[2] = {x, slopes[k]};
    gradcheck("PRelu", 16, in, 2, NULL, 0, 1, 3u, H, ATOL, RTOL, 1);
    gradcheck("PRelu", 16, in, 2, NULL, 0, 1, 2u, H, ATOL, RTOL, 1);
  }
  destroy_all(slopes, 4);
  tq_tensor_destroy(x);
}

static void test_where_cast(void **state) {
  (void)state;
  const int64_t dc[3] = {2, 1, 4}, dx[2] = {3, 4}, dy[1] = {1};
  tq_tensor *cond =
      tt(TQ_DTYPE_BOOL, 3, dc, (const double[]){1, 0, 0, 1, 0, 1, 1, 0});
  tq_tensor *x = tu(2, dx, 1, -2, 2), *y = tu(1, dy, 2, -2, 2);
  const tq_tensor *in[3] = {cond, x, y};
  gradcheck("Where", 16, in, 3, NULL, 0, 1, 6u, H, ATOL, RTOL, 1);
  /* Exact: X gets g where the condition holds, summed over the batch. */
  tq_tensor *g = grad_rand(&(tq_shape){3, {2, 3, 4}}, 3), *out[1], *gin[3];
  const tq_tensor *gout[1] = {g};
  assert_int_equal(
      grad_run("Where", 16, in, 3, NULL, 0, out, 1, gout, 6u, gin, 1, 1, 0),
      TQ_OK);
  for (size_t i = 0; i < 12; i++) {
    size_t col = i % 4;
    double want = 0.0;
    for (size_t b = 0; b < 2; b++)
      if (((const uint8_t *)tq_tensor_cdata(cond))[b * 4 + col])
        want += tq_f32(g)[b * 12 + i];
    assert_float_equal(tq_f32(gin[1])[i], (float)want, 0);
  }
  assert_null(gin[0]); /* a bool condition gets no gradient */
  destroy_all((tq_tensor *[]){out[0], gin[1], gin[2], g}, 4);
  /* Cast to float passes the gradient, to an integer type gives 0. */
  tq_attr_store to_f = a_int("to", 1), to_i = a_int("to", 7);
  const tq_tensor *cin[1] = {x};
  gradcheck("Cast", 13, cin, 1, &to_f, 1, 1, 1u, H, ATOL, RTOL, 1);
  tq_tensor *gx = grad_rand(&x->shape, 4);
  const tq_tensor *gxo[1] = {gx};
  assert_int_equal(
      grad_run("Cast", 13, cin, 1, &to_i, 1, out, 1, gxo, 1u, gin, 1, 1, 0),
      TQ_OK);
  for (size_t i = 0; i < x->numel; i++)
    assert_float_equal(tq_f32(gin[0])[i], 0, 0);
  destroy_all((tq_tensor *[]){out[0], gin[0]}, 2);
  const tq_tensor *clin[2] = {x, y};
  gradcheck("CastLike", 15, clin, 2, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
  destroy_all((tq_tensor *[]){cond, x, y, gx}, 4);
}

/* ---- Dropout
 * ---------------------------------------------------------------*/

/* Training with ratio 0.3 on 10^5 elements: the mask is u >= ratio for the
 * documented numbers, its rate is close to the ratio, kept elements are
 * scaled by 1 / (1 - ratio), the backward uses the same mask, and every
 * result is the same bits with 1 and 2 threads. */
static void test_dropout_training(void **state) {
  (void)state;
  const int64_t d[2] = {4, 25000};
  const float ratio = 0.3f, scale = 1.0f / (1.0f - ratio);
  tq_tensor *x = tu(2, d, 1, -3, 3), *r = tscalar(ratio);
  tq_tensor *g = grad_rand(&x->shape, 2);
  const tq_tensor *in[2] = {x, r}, *gout[2] = {g, g};
  tq_tensor *out1[2], *gin1[2], *out2[2], *gin2[2];
  assert_int_equal(
      grad_run("Dropout", 13, in, 2, NULL, 0, out1, 2, gout, 1u, gin1, 1, 1, 0),
      TQ_OK);
  assert_int_equal(
      grad_run("Dropout", 13, in, 2, NULL, 0, out2, 2, gout, 1u, gin2, 2, 1, 0),
      TQ_OK);
  size_t n = x->numel, dropped = 0;
  for (size_t i = 0; i < n; i++) {
    float u = tq_stochastic_u(GC_SEED, GC_STREAM, i);
    float keep = u >= ratio ? 1.0f : 0.0f;
    float xi = tq_f32(x)[i], gi = tq_f32(g)[i];
    const uint8_t *mask = tq_tensor_cdata(out1[1]);
    assert_int_equal(tq_tensor_dtype(out1[1]), TQ_DTYPE_BOOL);
    if (mask[i] != (keep != 0.0f))
      fail_msg("mask element %zu is %d, expected %g", i, mask[i], (double)keep);
    if (tq_f32(out1[0])[i] != xi * keep * scale)
      fail_msg("output element %zu is %g, expected %g", i,
               (double)tq_f32(out1[0])[i], (double)(xi * keep * scale));
    if (tq_f32(gin1[0])[i] != gi * keep * scale)
      fail_msg("gradient element %zu is %g, expected %g", i,
               (double)tq_f32(gin1[0])[i], (double)(gi * keep * scale));
    dropped += keep == 0.0f;
  }
  double rate = (double)dropped / (double)n; /* sd 0.0014 */
  if (fabs(rate - ratio) > 0.01)
    fail_msg("dropped %g of the elements, ratio %g", rate, (double)ratio);
  for (int k = 0; k < 2; k++)
    if (memcmp(out1[k]->data, out2[k]->data, n * tq_dtype_size(out1[k]->dtype)))
      fail_msg("output %d differs between 1 and 2 threads", k);
  if (memcmp(gin1[0]->data, gin2[0]->data, n * sizeof(float)))
    fail_msg("the gradient differs between 1 and 2 threads");
  grad_deterministic("Dropout", 13, in, 2, NULL, 0, 2, 1u, 1);
  destroy_all((tq_tensor *[]){x, r, g, out1[0], out1[1], out2[0], out2[1],
                              gin1[0], gin2[0]},
              9);
}

/* The mask depends on the sample's place in the data set, not on how the
 * batch is split. */
static void test_dropout_batch_split(void **state) {
  (void)state;
  const int64_t d[3] = {4, 5, 10}, dh[3] = {2, 5, 10};
  tq_tensor *x = tu(3, d, 3, -1, 1);
  tq_tensor *lo = tf(3, dh, tq_f32(x)), *hi = tf(3, dh, tq_f32(x) + 100);
  tq_attr_store ratio = a_float("ratio", 0.5f);
  tq_tensor *g = grad_rand(&x->shape, 1), *gl = tf(3, dh, tq_f32(g)),
            *gh = tf(3, dh, tq_f32(g) + 100);
  tq_tensor *o[1], *gi[1], *ol[1], *gil[1], *oh[1], *gih[1];
  const tq_tensor *in[1] = {x}, *inl[1] = {lo}, *inh[1] = {hi};
  const tq_tensor *go[1] = {g}, *gol[1] = {gl}, *goh[1] = {gh};
  /* Opset 10: the ratio is an attribute. The batch starts at sample 6. */
  assert_int_equal(
      grad_run("Dropout", 10, in, 1, &ratio, 1, o, 1, go, 1u, gi, 1, 1, 6),
      TQ_OK);
  assert_int_equal(
      grad_run("Dropout", 10, inl, 1, &ratio, 1, ol, 1, gol, 1u, gil, 2, 1, 6),
      TQ_OK);
  assert_int_equal(
      grad_run("Dropout", 10, inh, 1, &ratio, 1, oh, 1, goh, 1u, gih, 1, 1, 8),
      TQ_OK);
  assert_memory_equal(tq_f32(o[0]), tq_f32(ol[0]), 100 * sizeof(float));
  assert_memory_equal(tq_f32(o[0]) + 100, tq_f32(oh[0]), 100 * sizeof(float));
  assert_memory_equal(tq_f32(gi[0]), tq_f32(gil[0]), 100 * sizeof(float));
  assert_memory_equal(tq_f32(gi[0]) + 100, tq_f32(gih[0]), 100 * sizeof(float));
  /* Element i of the batch uses number 6 * 50 + i. */
  size_t kept = 0;
  for (size_t i = 0; i < 200; i++) {
    int keep = tq_stochastic_u(GC_SEED, GC_STREAM, 300 + i) >= 0.5f;
    assert_float_equal(tq_f32(o[0])[i], keep ? tq_f32(x)[i] * 2.0f : 0.0f, 0);
    kept += (size_t)keep;
  }
  assert_true(kept > 60 && kept < 140);
  destroy_all((tq_tensor *[]){x, lo, hi, g, gl, gh, o[0], gi[0], ol[0], gil[0],
                              oh[0], gih[0]},
              12);
}

/* Inference (training = 0), ratio 0, and the default ratio. */
static void test_dropout_modes(void **state) {
  (void)state;
  const int64_t d[2] = {100, 100};
  tq_tensor *x = tu(2, d, 5, -2, 2), *g = grad_rand(&x->shape, 5);
  tq_tensor *r0 = tscalar(0.0f), *r9 = tscalar(0.9f);
  const tq_tensor *gout[2] = {g, g};
  tq_tensor *out[2], *gin[2];
  size_t n = x->numel;
  /* training = 0: the identity, mask all ones, gradient passed through. */
  const tq_tensor *in9[2] = {x, r9};
  assert_int_equal(
      grad_run("Dropout", 13, in9, 2, NULL, 0, out, 2, gout, 1u, gin, 2, 0, 0),
      TQ_OK);
  assert_memory_equal(tq_f32(out[0]), tq_f32(x), n * sizeof(float));
  assert_memory_equal(tq_f32(gin[0]), tq_f32(g), n * sizeof(float));
  for (size_t i = 0; i < n; i++)
    assert_int_equal(((const uint8_t *)tq_tensor_cdata(out[1]))[i], 1);
  destroy_all((tq_tensor *[]){out[0], out[1], gin[0]}, 3);
  gradcheck("Dropout", 13, in9, 2, NULL, 0, 2, 1u, H, ATOL, RTOL, 0);
  /* ratio 0 in training: the identity too. */
  const tq_tensor *in0[2] = {x, r0};
  assert_int_equal(
      grad_run("Dropout", 13, in0, 2, NULL, 0, out, 1, gout, 1u, gin, 2, 1, 0),
      TQ_OK);
  assert_memory_equal(tq_f32(out[0]), tq_f32(x), n * sizeof(float));
  assert_memory_equal(tq_f32(gin[0]), tq_f32(g), n * sizeof(float));
  destroy_all((tq_tensor *[]){out[0], gin[0]}, 2);
  /* No ratio: 0.5. ratio 0.9 drops about 90%. */
  const tq_tensor *in1[1] = {x};
  static const struct {
    size_t n_in;
    float ratio;
  } rates[] = {{1, 0.5f}, {2, 0.9f}};
  for (int k = 0; k < 2; k++) {
    assert_int_equal(
        grad_run("Dropout", 13, rates[k].n_in == 1 ? in1 : in9, rates[k].n_in,
                 NULL, 0, out, 2, gout, 1u, gin, 2, 1, 0),
        TQ_OK);
    size_t dropped = 0;
    for (size_t i = 0; i < n; i++)
      dropped += ((const uint8_t *)tq_tensor_cdata(out[1]))[i] == 0;
    double rate = (double)dropped / (double)n;
    if (fabs(rate - rates[k].ratio) > 0.02)
      fail_msg("ratio %g: dropped %g", (double)rates[k].ratio, rate);
    destroy_all((tq_tensor *[]){out[0], out[1], gin[0]}, 3);
  }
  /* The finite differences see the same mask. */
  const int64_t ds[2] = {3, 7};
  tq_tensor *xs = tu(2, ds, 8, -2, 2);
  const tq_tensor *ins[2] = {xs, r9};
  gradcheck("Dropout", 13, ins, 2, NULL, 0, 2, 1u, H, ATOL, RTOL, 1);
  ins[1] = tscalar(0.4f);
  gradcheck("Dropout", 13, ins, 2, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
  tq_tensor_destroy((tq_tensor *)ins[1]);
  /* A ratio outside [0, 1] is an error in training. */
  tq_tensor *bad = tscalar(1.5f);
  const tq_tensor *inb[2] = {xs, bad};
  tq_status st =
      grad_run("Dropout", 13, inb, 2, NULL, 0, out, 1, gout, 0u, gin, 1, 1, 0);
  assert_int_equal(st, TQ_ERR_RANGE);
  assert_non_null(strstr(tq_context_last_error(g_ctx), "ratio"));
  destroy_all((tq_tensor *[]){out[0], bad, xs, x, g, r0, r9}, 7);
}

/* ---- same bits at any thread count, parallel paths
 * --------------------------*/

static void test_threads(void **state) {
  (void)state;
  const int64_t big[4] = {4, 64, 16, 16}, ch[3] = {64, 1, 1},
                ch4[4] = {1, 64, 1, 1}, sp[4] = {4, 1, 16, 16}, row[1] = {16};
  tq_tensor *x = tu(4, big, 1, -2, 2), *y = tu(4, big, 2, 0.5f, 2);
  tq_tensor *c = tu(3, ch, 3, 0.5f, 2), *c4 = tu(4, ch4, 4, 0.5f, 2),
            *s = tu(4, sp, 5, 0.5f, 2), *r = tu(1, row, 6, 0.5f, 2),
            *sc = tscalar(1.5f);
  const tq_tensor *pairs[][2] = {{x, y}, {x, c},  {c4, x}, {x, s},
                                 {r, x}, {x, sc}, {sc, y}};
  static const char *const bin[] = {"Add", "Sub", "Mul", "Div"};
  for (size_t o = 0; o < 4; o++)
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
      grad_deterministic(bin[o], 14, pairs[k], 2, NULL, 0, 1, 3u, 1);
  const tq_tensor *pw[2] = {y, x};
  grad_deterministic("Pow", 14, pw, 2, NULL, 0, 1, 3u, 1);
  const tq_tensor *var[4] = {x, c, s, y};
  static const char *const vops[] = {"Sum", "Mean", "Max", "Min"};
  for (size_t o = 0; o < 4; o++)
    grad_deterministic(vops[o], 13, var, 4, NULL, 0, 1, 15u, 1);
  const tq_tensor *un[1] = {x};
  static const char *const uops[] = {"Relu",      "Sigmoid", "Gelu",
                                     "HardSwish", "Abs",     "Exp"};
  for (size_t o = 0; o < sizeof uops / sizeof uops[0]; o++)
    grad_deterministic(uops[o], 20, un, 1, NULL, 0, 1, 1u, 1);
  tq_attr_store ax1 = a_int("axis", 1);
  grad_deterministic("Softmax", 13, un, 1, &ax1, 1, 1, 1u, 1);
  grad_deterministic("LogSoftmax", 13, un, 1, NULL, 0, 1, 1u, 1);
  grad_deterministic("Softmax", 11, un, 1, NULL, 0, 1, 1u, 1);
  const tq_tensor *pr[2] = {x, c};
  grad_deterministic("PRelu", 16, pr, 2, NULL, 0, 1, 3u, 1);
  const tq_tensor *cl[3] = {x, tscalar(-1.0f), tscalar(1.0f)};
  grad_deterministic("Clip", 13, cl, 3, NULL, 0, 1, 1u, 1);
  destroy_all((tq_tensor *[]){(tq_tensor *)cl[1], (tq_tensor *)cl[2]}, 2);
  tq_tensor *condf = tu(4, sp, 7, -1, 1), *cond = NULL;
  for (size_t i = 0; i < condf->numel; i++)
    tq_f32(condf)[i] = tq_f32(condf)[i] > 0 ? 1.0f : 0.0f;
  assert_int_equal(tq_tensor_cast(g_ctx, condf, TQ_DTYPE_BOOL, &cond), TQ_OK);
  tq_tensor_destroy(condf);
  const tq_tensor *wh[3] = {cond, x, c};
  grad_deterministic("Where", 16, wh, 3, NULL, 0, 1, 6u, 1);
  destroy_all((tq_tensor *[]){x, y, c, c4, s, r, sc, cond}, 8);
}

/* ---- the table
 * -------------------------------------------------------------*/

static void test_registry(void **state) {
  (void)state;
  static const char *const with[] = {
      "Add",      "Sub",         "Mul",       "Div",       "Pow",
      "Sum",      "Mean",        "Max",       "Min",       "Sqrt",
      "Exp",      "Log",         "Abs",       "Neg",       "Reciprocal",
      "Identity", "Dropout",     "Relu",      "LeakyRelu", "Sigmoid",
      "Tanh",     "HardSigmoid", "HardSwish", "Elu",       "Selu",
      "Softplus", "Gelu",        "Clip",      "Softmax",   "LogSoftmax",
      "PRelu",    "Celu",        "Softsign",  "Mish",      "Erf",
      "Where",    "Cast",        "Hardmax",   "Floor",     "ThresholdedRelu"};
  for (size_t i = 0; i < sizeof with / sizeof with[0]; i++) {
    const tq_op_desc *e = op_desc(with[i], 17);
    if (!e->backward) fail_msg("%s has no backward", with[i]);
    assert_int_equal(e->state_inputs, 0);
  }
  /* Comparisons and logic are not differentiable: no backward. */
  assert_null(op_desc("Equal", 17)->backward);
  assert_null(op_desc("Not", 17)->backward);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_binary_broadcast),
      cmocka_unit_test(test_binary_legacy),
      cmocka_unit_test(test_pow_int_exponent),
      cmocka_unit_test(test_variadic),
      cmocka_unit_test(test_max_min_ties),
      cmocka_unit_test(test_unary),
      cmocka_unit_test(test_activations),
      cmocka_unit_test(test_kinks),
      cmocka_unit_test(test_prelu_kink),
      cmocka_unit_test(test_clip),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_prelu),
      cmocka_unit_test(test_where_cast),
      cmocka_unit_test(test_dropout_training),
      cmocka_unit_test(test_dropout_batch_split),
      cmocka_unit_test(test_dropout_modes),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
