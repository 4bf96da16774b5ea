/* Backward of the tensor and shape operators: every operator against
 * finite differences (gradcheck) over its attribute and opset variants,
 * exact scatter-add results (Gather, Pad), int64 inputs without gradient,
 * and the same bits at any thread count on large tensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gradcheck.h"

#define H 1e-2
#define ATOL 2e-3
#define RTOL 2e-3

static tq_tensor *tu(int nd, const int64_t *dims, uint64_t seed, float lo,
                     float hi) {
  tq_tensor *t = tf(nd, dims, NULL);
  uint64_t st = seed * 7919u + 3u;
  for (size_t i = 0; i < t->numel; i++)
    tq_f32(t)[i] =
        lo + (hi - lo) * (float)((double)(tq_test_rand(&st) >> 40) * 0x1p-24);
  return t;
}

static tq_tensor *tr(int nd, const int64_t *dims, uint64_t seed) {
  return tu(nd, dims, seed, -2.0f, 2.0f);
}

static tq_tensor *tsep(int nd, const int64_t *dims, uint64_t seed) {
  return grad_distinct(nd, dims, seed, 0.0f);
}

static tq_tensor *tints(size_t n, const int64_t *v) {
  const int64_t d[1] = {(int64_t)n};
  return ti(1, d, v);
}

static void destroy_all(tq_tensor **t, size_t n) {
  for (size_t i = 0; i < n; i++) tq_tensor_destroy(t[i]);
}

#define GC1(op, opset, in, n_in, at, n_at, mask) \
  gradcheck(op, opset, in, n_in, at, n_at, 1, mask, H, ATOL, RTOL, 1)

/* ---- Concat, Split
 * ---------------------------------------------------------*/

static void test_concat(void **state) {
  (void)state;
  const int64_t d0[3] = {2, 3, 4}, d1[3] = {2, 1, 4}, d2[3] = {2, 2, 4},
                d3[3] = {2, 3, 1};
  tq_tensor *a = tr(3, d0, 1), *b = tr(3, d1, 2), *c = tr(3, d2, 3),
            *e = tr(3, d3, 4);
  tq_attr_store ax1 = a_int("axis", 1), axm = a_int("axis", -1),
                ax0 = a_int("axis", 0);
  const tq_tensor *in[3] = {a, b, c};
  GC1("Concat", 13, in, 3, &ax1, 1, 7u);
  GC1("Concat", 13, in, 3, &ax1, 1, 5u); /* b gets no buffer */
  GC1("Concat", 1, in, 3, NULL, 0, 7u);  /* opset 1: axis 1 by default */
  const tq_tensor *in2[2] = {e, a};
  GC1("Concat", 13, in2, 2, &axm, 1, 3u);
  const tq_tensor *in3[3] = {a, a, a};
  GC1("Concat", 13, in3, 3, &ax0, 1, 7u);
  GC1("Concat", 13, in3, 1, &ax0, 1, 1u);
  destroy_all((tq_tensor *[]){a, b, c, e}, 4);
}

static void test_split(void **state) {
  (void)state;
  const int64_t d[3] = {2, 6, 3}, d7[2] = {3, 7};
  tq_tensor *x = tr(3, d, 1), *x7 = tr(2, d7, 2);
  const tq_tensor *in[1] = {x};
  const int64_t sz[3] = {1, 2, 3};
  tq_attr_store at[2] = {a_int("axis", 1), a_ints("split", sz, 3)};
  gradcheck("Split", 11, in, 1, at, 2, 3, 1u, H, ATOL, RTOL, 1);
  gradcheck("Split", 11, in, 1, at, 1, 2, 1u, H, ATOL, RTOL, 1); /* equal */
  tq_attr_store axm = a_int("axis", -1);
  gradcheck("Split", 13, in, 1, &axm, 1, 3, 1u, H, ATOL, RTOL, 1);
  tq_attr_store ax0 = a_int("axis", 0);
  gradcheck("Split", 13, in, 1, &ax0, 1, 1, 1u, H, ATOL, RTOL, 1);
  /* Opset 13: sizes as an int64 input, which gets no gradient. */
  const int64_t s42[2] = {4, 2};
  tq_tensor *sp = tints(2, s42);
  const tq_tensor *in2[2] = {x, sp};
  gradcheck("Split", 13, in2, 2, at, 1, 2, 1u, H, ATOL, RTOL, 1);
  /* Opset 18: num_outputs, chunks of ceil(7 / 3) = 3, 3, 1. */
  const tq_tensor *in7[1] = {x7};
  tq_attr_store no[2] = {a_int("axis", 1), a_int("num_outputs", 3)};
  gradcheck("Split", 18, in7, 1, no, 2, 3, 1u, H, ATOL, RTOL, 1);
  destroy_all((tq_tensor *[]){x, x7, sp}, 3);
}

/* ---- Slice
 * -----------------------------------------------------------------*/

static void test_slice(void **state) {
  (void)state;
  const int64_t d[3] = {4, 5, 6};
  tq_tensor *x = tr(3, d, 7);
  static const struct {
    size_t n;
    int64_t starts[3], ends[3], axes[3], steps[3];
    int has_axes, has_steps;
  } cases[] = {
      {1, {1}, {3}, {0}, {1}, 1, 0},
      {2, {-1, 0}, {INT64_MIN, 6}, {1, 2}, {-2, 2}, 1, 1},
      {3, {0, 1, 2}, {100, 4, 5}, {0}, {1}, 0, 0},
      {1, {-1}, {INT64_MIN}, {-1}, {-1}, 1, 1}, /* reversal */
      {2, {3, 4}, {0, -100}, {0, 2}, {-1, -3}, 1, 1},
      {2, {-2, 10}, {-1, 0}, {-3, -1}, {1, -1}, 1, 1},
      {1, {2}, {2}, {1}, {1}, 1, 0}, /* empty */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    size_t n = cases[k].n;
    tq_tensor *ts = tints(n, cases[k].starts), *te = tints(n, cases[k].ends),
              *ta = tints(n, cases[k].axes), *tp = tints(n, cases[k].steps);
    const tq_tensor *in[5] = {x, ts, te, cases[k].has_axes ? ta : NULL, tp};
    size_t n_in = cases[k].has_steps ? 5 : (cases[k].has_axes ? 4 : 3);
    if (k == 6) { /* empty output: the gradient is all zeros */
      tq_tensor *out[1], *gin[5];
      tq_tensor *g = tf(3, (const int64_t[]){4, 0, 6}, NULL);
      const tq_tensor *gout[1] = {g};
      assert_int_equal(grad_run("Slice", 13, in, n_in, NULL, 0, out, 1, gout,
                                1u, gin, 2, 1, 0),
                       TQ_OK);
      for (size_t i = 0; i < x->numel; i++)
        assert_float_equal(tq_f32(gin[0])[i], 0.0f, 0);
      destroy_all((tq_tensor *[]){out[0], gin[0], g}, 3);
    } else {
      GC1("Slice", 13, in, n_in, NULL, 0, 1u);
    }
    destroy_all((tq_tensor *[]){ts, te, ta, tp}, 4);
  }
  /* Opset 9: attributes. */
  const int64_t st[2] = {0, 1}, en[2] = {2, 3}, ax[2] = {2, 0};
  tq_attr_store at[3] = {a_ints("starts", st, 2), a_ints("ends", en, 2),
                         a_ints("axes", ax, 2)};
  const tq_tensor *in[1] = {x};
  GC1("Slice", 9, in, 1, at, 3, 1u);
  GC1("Slice", 1, in, 1, at, 2, 1u);
  tq_tensor_destroy(x);
}

/* ---- copies with a new shape, Transpose
 * ------------------------------------*/

static void test_reshapes(void **state) {
  (void)state;
  const int64_t d[3] = {2, 3, 4}, d1[4] = {2, 1, 3, 1};
  tq_tensor *x = tr(3, d, 1), *x1 = tr(4, d1, 2);
  const tq_tensor *in[1] = {x}, *in1[1] = {x1};
  tq_attr_store a2 = a_int("axis", 2), a0 = a_int("axis", 0);
  GC1("Flatten", 13, in, 1, &a2, 1, 1u);
  GC1("Flatten", 13, in, 1, &a0, 1, 1u);
  GC1("Flatten", 13, in, 1, NULL, 0, 1u);
  const int64_t shp[2] = {4, -1};
  tq_tensor *s = tints(2, shp);
  const tq_tensor *rin[2] = {x, s};
  GC1("Reshape", 14, rin, 2, NULL, 0, 1u);
  const int64_t sq[1] = {1}, usq[2] = {0, 3}, um[1] = {-1};
  tq_attr_store asq = a_ints("axes", sq, 1), ausq = a_ints("axes", usq, 2);
  GC1("Squeeze", 11, in1, 1, &asq, 1, 1u);
  GC1("Squeeze", 11, in1, 1, NULL, 0, 1u);
  tq_tensor *tsq = tints(1, sq), *tum = tints(1, um);
  const tq_tensor *sin[2] = {x1, tsq}, *uin[2] = {x, tum};
  GC1("Squeeze", 13, sin, 2, NULL, 0, 1u);
  GC1("Unsqueeze", 11, in, 1, &ausq, 1, 1u);
  GC1("Unsqueeze", 13, uin, 2, NULL, 0, 1u);
  destroy_all((tq_tensor *[]){x, x1, s, tsq, tum}, 5);
}

static void test_transpose(void **state) {
  (void)state;
  const int64_t d3[3] = {2, 3, 4}, d4[4] = {2, 3, 4, 5};
  tq_tensor *x = tr(3, d3, 3), *y = tr(4, d4, 4);
  const tq_tensor *in[1] = {x}, *in4[1] = {y};
  const int64_t p1[3] = {1, 2, 0}, p2[4] = {0, 2, 1, 3}, p3[4] = {3, 1, 0, 2};
  tq_attr_store a1 = a_ints("perm", p1, 3), a2 = a_ints("perm", p2, 4),
                a3 = a_ints("perm", p3, 4);
  GC1("Transpose", 13, in, 1, &a1, 1, 1u);
  GC1("Transpose", 13, in, 1, NULL, 0, 1u); /* reversed */
  GC1("Transpose", 13, in4, 1, &a2, 1, 1u);
  GC1("Transpose", 13, in4, 1, &a3, 1, 1u);
  destroy_all((tq_tensor *[]){x, y}, 2);
}

/* ---- Pad
 * -------------------------------------------------------------------*/

static void test_pad(void **state) {
  (void)state;
  const int64_t d[3] = {2, 3, 4};
  tq_tensor *x = tr(3, d, 5), *cv = tf(0, NULL, (const float[]){0.5f});
  static const char *const modes[] = {"constant", "reflect", "edge", "wrap"};
  static const int64_t pads[][6] = {
      {0, 1, 2, 0, 2, 1},  /* growing */
      {1, 0, 3, 0, 2, 0},  /* one side */
      {0, -1, 1, 0, 1, -2} /* cropping too */
  };
  for (size_t m = 0; m < 4; m++)
    for (size_t k = 0; k < 3; k++) {
      tq_tensor *tp = tints(6, pads[k]);
      tq_attr_store mode = a_str("mode", modes[m]);
      const tq_tensor *in[3] = {x, tp, cv};
      /* Constant mode: the constant's gradient too. */
      GC1("Pad", 13, in, m == 0 ? 3 : 2, &mode, 1, m == 0 ? 5u : 1u);
      tq_tensor_destroy(tp);
    }
  /* Reflect and wrap further than the input is long. */
  const int64_t far[6] = {0, 5, 6, 1, 4, 9};
  tq_tensor *tfar = tints(6, far);
  const tq_tensor *inf[2] = {x, tfar};
  tq_attr_store refl = a_str("mode", "reflect"), wrap = a_str("mode", "wrap");
  GC1("Pad", 13, inf, 2, &refl, 1, 1u);
  GC1("Pad", 13, inf, 2, &wrap, 1, 1u);
  /* Opset 2: pads and value as attributes; opset 1: paddings. */
  tq_attr_store at[3] = {a_ints("pads", pads[0], 6), a_float("value", 2.0f),
                         a_str("mode", "constant")};
  const tq_tensor *in1[1] = {x};
  GC1("Pad", 2, in1, 1, at, 3, 1u);
  tq_attr_store old = a_ints("paddings", pads[1], 6);
  GC1("Pad", 1, in1, 1, &old, 1, 1u);
  /* Opset 18: pads for the given axes only. */
  const int64_t pax[4] = {1, 2, 0, 3}, axes[2] = {-1, 1};
  tq_tensor *tpax = tints(4, pax), *tax = tints(2, axes);
  const tq_tensor *in18[4] = {x, tpax, cv, tax};
  GC1("Pad", 18, in18, 4, NULL, 0, 5u);
  GC1("Pad", 18, in18, 4, &refl, 1, 1u);
  destroy_all((tq_tensor *[]){x, cv, tfar, tpax, tax}, 5);
}

/* Exact: reflect sends each output's gradient to the element it copied. */
static void test_pad_exact(void **state) {
  (void)state;
  const int64_t d[1] = {3}, d7[1] = {7};
  tq_tensor *x = tf(1, d, (const float[]){1, 2, 3});
  const int64_t pv[2] = {2, 2};
  tq_tensor *p = tints(2, pv);
  tq_tensor *g = tf(1, d7, (const float[]){1, 2, 4, 8, 16, 32, 64});
  const tq_tensor *in[3] = {x, p, NULL}, *gout[1] = {g};
  static const struct {
    const char *mode;
    float want[3];
  } cases[] = {
      /* out = x2 x1 x0 x1 x2 x1 x0 */
      {"reflect", {4 + 64, 2 + 8 + 32, 1 + 16}},
      /* out = x0 x0 x0 x1 x2 x2 x2 */
      {"edge", {1 + 2 + 4, 8, 16 + 32 + 64}},
      /* out = x1 x2 x0 x1 x2 x0 x1 */
      {"wrap", {4 + 32, 1 + 8 + 64, 2 + 16}},
      {"constant", {4, 8, 16}},
  };
  for (size_t k = 0; k < 4; k++) {
    tq_attr_store mode = a_str("mode", cases[k].mode);
    tq_tensor *out[1], *gin[3];
    assert_int_equal(
        grad_run("Pad", 13, in, 2, &mode, 1, out, 1, gout, 1u, gin, 1, 1, 0),
        TQ_OK);
    check_f(gin[0], cases[k].want, 3, 0);
    destroy_all((tq_tensor *[]){out[0], gin[0]}, 2);
  }
  /* The constant's gradient: the sum over the padding. */
  tq_tensor *cv = tf(0, NULL, (const float[]){9.0f}), *out[1], *gin[3];
  in[2] = cv;
  assert_int_equal(
      grad_run("Pad", 13, in, 3, NULL, 0, out, 1, gout, 5u, gin, 1, 1, 0),
      TQ_OK);
  assert_float_equal(tq_f32(gin[2])[0], 1 + 2 + 32 + 64, 0);
  assert_null(gin[1]);
  destroy_all((tq_tensor *[]){out[0], gin[0], gin[2], cv, x, p, g}, 7);
}

/* ---- Reduce
 * ----------------------------------------------------------------*/

static void test_reduce(void **state) {
  (void)state;
  const int64_t d[4] = {2, 3, 4, 5};
  tq_tensor *x = tr(4, d, 9), *xs = tsep(4, d, 10), *xp = tu(4, d, 11, 0.2f, 2);
  for (size_t i = 0; i < xp->numel; i += 2) tq_f32(xp)[i] *= -1.0f;
  const int64_t a1[1] = {1}, a02[2] = {0, 2}, am[2] = {-1, -3};
  tq_tensor *t1 = tints(1, a1), *tm = tints(2, am), *t0 = tints(0, NULL);
  tq_attr_store k0 = a_int("keepdims", 0), k1 = a_int("keepdims", 1),
                ax02 = a_ints("axes", a02, 2),
                noop = a_int("noop_with_empty_axes", 1);
  static const char *const ops[] = {
      "ReduceSum", "ReduceMean",      "ReduceSumSquare", "ReduceL1",
      "ReduceL2",  "ReduceLogSumExp", "ReduceMax",       "ReduceMin"};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    /* Max/Min: no ties; L1: away from 0. */
    tq_tensor *v = o >= 6 ? xs : (o == 3 ? xp : x);
    const tq_tensor *in1[1] = {v}, *inax[2] = {v, t1}, *inm[2] = {v, tm};
    tq_attr_store at[2] = {ax02, k0};
    GC1(ops[o], 13, in1, 1, at, 2, 1u);   /* attribute axes, no keepdims */
    GC1(ops[o], 13, in1, 1, at, 1, 1u);   /* keepdims */
    GC1(ops[o], 13, in1, 1, NULL, 0, 1u); /* all axes */
    GC1(ops[o], 18, inax, 2, &k0, 1, 1u); /* axes input */
    GC1(ops[o], 18, inm, 2, &k1, 1, 1u);  /* negative axes */
  }
  /* Empty axes with noop_with_empty_axes: the identity. */
  const tq_tensor *in0[2] = {x, t0};
  GC1("ReduceSum", 13, in0, 2, &noop, 1, 1u);
  GC1("ReduceMean", 18, in0, 2, NULL, 0, 1u);
  /* Exact: ReduceMax gives the gradient to the first of tied elements. */
  const int64_t d23[2] = {2, 3};
  tq_tensor *tie = tf(2, d23, (const float[]){1, 3, 3, 2, 2, 0});
  tq_tensor *g = tf(1, (const int64_t[]){2}, (const float[]){5, 7});
  const tq_tensor *tin[2] = {tie, t1}, *gout[1] = {g};
  tq_tensor *out[1], *gin[2];
  const int64_t ax1[1] = {1};
  tq_attr_store aax1[2] = {a_ints("axes", ax1, 1), k0};
  assert_int_equal(grad_run("ReduceMax", 13, tin, 1, aax1, 2, out, 1, gout, 1u,
                            gin, 1, 1, 0),
                   TQ_OK);
  check_f(gin[0], (const float[]){0, 5, 0, 7, 0, 0}, 6, 0);
  destroy_all((tq_tensor *[]){out[0], gin[0], tie, g}, 4);
  destroy_all((tq_tensor *[]){x, xs, xp, t1, tm, t0}, 6);
}

/* ---- Expand, Tile, Gather, Shape
 * -------------------------------------------*/

static void test_expand_tile(void **state) {
  (void)state;
  const int64_t d31[2] = {3, 1}, d14[2] = {1, 4}, d23[2] = {2, 3},
                d123[3] = {1, 2, 3};
  tq_tensor *a = tr(2, d31, 1), *b = tr(2, d14, 2), *s = tf(0, NULL, NULL),
            *c = tr(2, d23, 3), *e = tr(3, d123, 4);
  tq_f32(s)[0] = 0.7f;
  const int64_t s234[3] = {2, 3, 4}, s34[2] = {3, 4}, s1[1] = {1};
  tq_tensor *t234 = tints(3, s234), *t34 = tints(2, s34), *t1 = tints(1, s1);
  const tq_tensor *e1[2] = {a, t234}, *e2[2] = {b, t34}, *e3[2] = {s, t34},
                  *e4[2] = {c, t1};
  GC1("Expand", 13, e1, 2, NULL, 0, 1u);
  GC1("Expand", 13, e2, 2, NULL, 0, 1u);
  GC1("Expand", 13, e3, 2, NULL, 0, 1u);
  GC1("Expand", 13, e4, 2, NULL, 0, 1u); /* shape smaller than the input */
  const int64_t r23[2] = {2, 3}, r312[3] = {3, 1, 2};
  tq_tensor *tr23 = tints(2, r23), *tr312 = tints(3, r312);
  const tq_tensor *t_1[2] = {c, tr23}, *t_2[2] = {e, tr312};
  GC1("Tile", 13, t_1, 2, NULL, 0, 1u);
  GC1("Tile", 13, t_2, 2, NULL, 0, 1u);
  destroy_all((tq_tensor *[]){a, b, s, c, e, t234, t34, t1, tr23, tr312}, 10);
}

static void test_gather(void **state) {
  (void)state;
  const int64_t d[2] = {4, 3}, d3[3] = {2, 3, 4};
  tq_tensor *x = tr(2, d, 1), *y = tr(3, d3, 2);
  const int64_t iv[4] = {2, 0, 2, -1};
  tq_tensor *idx = tints(4, iv);
  const int64_t i2v[4] = {1, 0, -2, 1};
  tq_tensor *idx2 = ti(2, (const int64_t[]){2, 2}, i2v);
  tq_tensor *isc = ti(0, NULL, (const int64_t[]){-1});
  tq_attr_store ax1 = a_int("axis", 1), axm = a_int("axis", -1);
  const tq_tensor *g1[2] = {x, idx}, *g2[2] = {y, idx2}, *g3[2] = {y, isc};
  GC1("Gather", 13, g1, 2, NULL, 0, 1u);
  GC1("Gather", 13, g2, 2, &ax1, 1, 1u);
  GC1("Gather", 13, g2, 2, &axm, 1, 1u);
  GC1("Gather", 13, g3, 2, NULL, 0, 1u);
  GC1("Gather", 13, g3, 2, &ax1, 1, 1u);
  /* Exact: repeated rows add up; rows never taken get 0. */
  tq_tensor *g =
      tf(2, (const int64_t[]){4, 3},
         (const float[]){1, 2, 3, 10, 20, 30, 100, 200, 300, 1000, 2000, 3000});
  const tq_tensor *gout[1] = {g};
  tq_tensor *out[1], *gin[2];
  assert_int_equal(
      grad_run("Gather", 13, g1, 2, NULL, 0, out, 1, gout, 1u, gin, 2, 1, 0),
      TQ_OK);
  assert_null(gin[1]);
  check_f(gin[0],
          (const float[]){10, 20, 30, 0, 0, 0, 101, 202, 303, 1000, 2000, 3000},
          12, 0);
  destroy_all((tq_tensor *[]){out[0], gin[0], g, x, y, idx, idx2, isc}, 8);
}

static void test_shape_size(void **state) {
  (void)state;
  const int64_t d[2] = {2, 3};
  tq_tensor *x = tr(2, d, 1);
  const tq_tensor *in[1] = {x};
  GC1("Shape", 15, in, 1, NULL, 0, 1u);
  GC1("Size", 13, in, 1, NULL, 0, 1u);
  tq_tensor_destroy(x);
}

/* ---- same bits at any thread count
 * ----------------------------------------*/

static void test_threads(void **state) {
  (void)state;
  const int64_t big[4] = {4, 32, 24, 24}, ch[3] = {32, 1, 1},
                emb[2] = {1000, 64};
  tq_tensor *x = tr(4, big, 1), *c = tr(3, ch, 2), *e = tr(2, emb, 3);
  const tq_tensor *in[1] = {x};
  /* Expand and Tile: sums over the copies. */
  tq_tensor *shp = tints(4, big), *rep = tints(3, (const int64_t[]){4, 24, 24});
  const tq_tensor *ex[2] = {c, shp}, *ti3[2] = {c, rep};
  grad_deterministic("Expand", 13, ex, 2, NULL, 0, 1, 1u, 1);
  grad_deterministic("Tile", 13, ti3, 2, NULL, 0, 1, 1u, 1);
  /* Gather: an embedding lookup with repeated indices. */
  int64_t iv[3000];
  uint64_t st = 5;
  for (size_t i = 0; i < 3000; i++) iv[i] = (int64_t)(tq_test_rand(&st) % 1000);
  tq_tensor *idx = tints(3000, iv);
  const tq_tensor *ga[2] = {e, idx};
  grad_deterministic("Gather", 13, ga, 2, NULL, 0, 1, 1u, 1);
  /* Pad: every mode. */
  const int64_t pv[8] = {0, 0, 3, 2, 0, 0, 1, 4};
  tq_tensor *pads = tints(8, pv);
  static const char *const modes[] = {"constant", "reflect", "edge", "wrap"};
  const tq_tensor *pin[2] = {x, pads};
  for (size_t m = 0; m < 4; m++) {
    tq_attr_store mode = a_str("mode", modes[m]);
    grad_deterministic("Pad", 13, pin, 2, &mode, 1, 1, 1u, 1);
  }
  /* Reductions. */
  const int64_t a23[2] = {2, 3}, a1[1] = {1};
  tq_attr_store ax23 = a_ints("axes", a23, 2), ax1 = a_ints("axes", a1, 1);
  static const char *const reds[] = {"ReduceMean", "ReduceSum", "ReduceMax",
                                     "ReduceL2", "ReduceLogSumExp"};
  for (size_t k = 0; k < sizeof reds / sizeof reds[0]; k++) {
    grad_deterministic(reds[k], 13, in, 1, &ax23, 1, 1, 1u, 1);
    grad_deterministic(reds[k], 13, in, 1, &ax1, 1, 1, 1u, 1);
  }
  /* Data movement. */
  const int64_t p[4] = {0, 2, 3, 1};
  tq_attr_store perm = a_ints("perm", p, 4);
  grad_deterministic("Transpose", 13, in, 1, &perm, 1, 1, 1u, 1);
  tq_tensor *ts = tints(2, (const int64_t[]){-1, 1}),
            *te = tints(2, (const int64_t[]){INT64_MIN, 20}),
            *ta = tints(2, (const int64_t[]){2, 3}),
            *tp = tints(2, (const int64_t[]){-2, 3});
  const tq_tensor *sl[5] = {x, ts, te, ta, tp};
  grad_deterministic("Slice", 13, sl, 5, NULL, 0, 1, 1u, 1);
  const tq_tensor *cc[3] = {x, x, x};
  tq_attr_store axc = a_int("axis", 1);
  grad_deterministic("Concat", 13, cc, 3, &axc, 1, 1, 7u, 1);
  grad_deterministic("Split", 13, in, 1, &axc, 1, 4, 1u, 1);
  destroy_all((tq_tensor *[]){x, c, e, shp, rep, idx, pads, ts, te, ta, tp},
              11);
}

static void test_registry(void **state) {
  (void)state;
  static const char *const with[] = {
      "Concat",   "Split",      "Slice",           "Flatten",
      "Reshape",  "Transpose",  "Squeeze",         "Unsqueeze",
      "Pad",      "ReduceMean", "ReduceSum",       "Expand",
      "Gather",   "Tile",       "ReduceMax",       "ReduceMin",
      "ReduceL1", "ReduceL2",   "ReduceSumSquare", "ReduceLogSumExp",
      "Shape",    "Size"};
  for (size_t i = 0; i < sizeof with / sizeof with[0]; i++) {
    if (!op_desc(with[i], 17)->backward)
      fail_msg("%s has no backward", with[i]);
  }
  assert_null(op_desc("Range", 17)->backward);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry), cmocka_unit_test(test_concat),
      cmocka_unit_test(test_split),    cmocka_unit_test(test_slice),
      cmocka_unit_test(test_reshapes), cmocka_unit_test(test_transpose),
      cmocka_unit_test(test_pad),      cmocka_unit_test(test_pad_exact),
      cmocka_unit_test(test_reduce),   cmocka_unit_test(test_expand_tile),
      cmocka_unit_test(test_gather),   cmocka_unit_test(test_shape_size),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
