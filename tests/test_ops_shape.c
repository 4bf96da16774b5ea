/* Tensor and shape operators, called directly through their table entries
 * (infer, then forward) as the executor does at plan time: opset-dependent
 * inputs versus attributes, Slice clamping with negative steps, Reshape's
 * 0 and -1, Split variants, Pad modes, reductions, int64 shape arithmetic
 * (the torch flatten pattern), Resize, and error messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "op_harness.h"

static tq_attr_store a_tensor(const char *name, const tq_tensor *t) {
  tq_attr_store s;
  memset(&s, 0, sizeof s);
  s.a.name = name;
  s.a.type = TQ_ATTR_TENSOR;
  s.a.t = t;
  return s;
}

/* 0, 1, 2, ... */
static tq_tensor *tseq(int nd, const int64_t *dims) {
  tq_tensor *t = tf(nd, dims, NULL);
  for (size_t i = 0; i < t->numel; i++) tq_f32(t)[i] = (float)i;
  return t;
}

static tq_tensor *ivec(size_t n, const int64_t *v) {
  int64_t d[1] = {(int64_t)n};
  return ti(1, d, v);
}

static tq_tensor *iscalar(int64_t v) {
  return ti(0, NULL, &v);
}

static void destroy_all(tq_tensor **t, size_t n) {
  for (size_t i = 0; i < n; i++) tq_tensor_destroy(t[i]);
}

/* Unravels flat index i of shape s into coordinates. */
static void unravel(const tq_shape *s, size_t i, int64_t *coord) {
  for (int d = s->ndim - 1; d >= 0; d--) {
    coord[d] = (int64_t)(i % (size_t)s->dims[d]);
    i /= (size_t)s->dims[d];
  }
}

static size_t ravel(const tq_shape *s, const int64_t *coord) {
  size_t i = 0;
  for (int d = 0; d < s->ndim; d++)
    i = i * (size_t)s->dims[d] + (size_t)coord[d];
  return i;
}

/* ---- Shape, Size, Gather, Concat
 * -------------------------------------------*/

static void test_shape_size(void **state) {
  (void)state;
  const int64_t d[4] = {2, 3, 4, 5};
  tq_tensor *x = tf(4, d, NULL);
  const tq_tensor *in[1] = {x};
  tq_tensor *o = run1("Shape", 13, in, 1, NULL, 0);
  check_i(o, d, 4);
  tq_tensor_destroy(o);
  tq_attr_store se[2] = {a_int("start", 1), a_int("end", -1)};
  o = run1("Shape", 15, in, 1, se, 2);
  const int64_t mid[2] = {3, 4};
  check_i(o, mid, 2);
  tq_tensor_destroy(o);
  se[0] = a_int("start", -10);
  se[1] = a_int("end", 100);
  o = run1("Shape", 15, in, 1, se, 2);
  check_i(o, d, 4);
  tq_tensor_destroy(o);
  o = run1("Size", 13, in, 1, NULL, 0);
  const int64_t n[1] = {120};
  check_shape(o, 0, NULL);
  check_i(o, n, 1);
  tq_tensor_destroy(o);
  assert_true(op_desc("Shape", 17)->flags & TQ_OPF_SHAPE_ONLY);
  assert_true(op_desc("Size", 17)->flags & TQ_OPF_SHAPE_ONLY);
  assert_false(op_desc("Gather", 17)->flags & TQ_OPF_SHAPE_ONLY);
  tq_tensor_destroy(x);
}

static void test_gather(void **state) {
  (void)state;
  const int64_t d34[2] = {3, 4};
  tq_tensor *x = tseq(2, d34);
  const int64_t iv[2] = {2, -3};
  tq_tensor *ind = ivec(2, iv);
  const tq_tensor *in[2] = {x, ind};
  tq_tensor *o = run1("Gather", 13, in, 2, NULL, 0);
  const int64_t d24[2] = {2, 4};
  check_shape(o, 2, d24);
  const float rows[8] = {8, 9, 10, 11, 0, 1, 2, 3};
  check_f(o, rows, 8, 0);
  tq_tensor_destroy(o);
  /* axis 1 with 2-D indices: [3, 2, 2]. */
  const int64_t i22[4] = {0, 3, -1, 1}, d22[2] = {2, 2};
  tq_tensor *ind2 = ti(2, d22, i22);
  const tq_tensor *in2[2] = {x, ind2};
  tq_attr_store ax = a_int("axis", 1);
  o = run1("Gather", 11, in2, 2, &ax, 1);
  const int64_t d322[3] = {3, 2, 2};
  check_shape(o, 3, d322);
  const float cols[12] = {0, 3, 3, 1, 4, 7, 7, 5, 8, 11, 11, 9};
  check_f(o, cols, 12, 0);
  tq_tensor_destroy(o);
  /* A scalar index drops the axis: shape[0] of an int64 shape. */
  const int64_t sv[4] = {1, 3, 224, 224};
  tq_tensor *shp = ivec(4, sv), *zero = iscalar(0);
  const tq_tensor *in3[2] = {shp, zero};
  o = run1("Gather", 13, in3, 2, NULL, 0);
  check_shape(o, 0, NULL);
  const int64_t one[1] = {1};
  check_i(o, one, 1);
  tq_tensor_destroy(o);
  /* Errors: an index out of range, float indices. */
  const int64_t bad[2] = {0, 3};
  tq_tensor *ib = ivec(2, bad);
  const tq_tensor *in4[2] = {x, ib};
  run_fail("Gather", 13, in4, 2, NULL, 0, TQ_ERR_RANGE,
           "index 3 at [1] of the indices (shape [2]) is out of range for "
           "axis 0 of size 3");
  const tq_tensor *in5[2] = {x, x};
  run_fail("Gather", 13, in5, 2, NULL, 0, TQ_ERR_UNSUPPORTED,
           "input 1 is float32; Gather takes int64 or int32 there");
  destroy_all((tq_tensor *[]){x, ind, ind2, shp, zero, ib}, 6);
}

static void test_concat(void **state) {
  (void)state;
  const int64_t da[3] = {2, 1, 2}, db[3] = {2, 3, 2}, de[3] = {2, 0, 2};
  tq_tensor *a = tseq(3, da), *b = tseq(3, db), *e = tf(3, de, NULL);
  for (size_t i = 0; i < b->numel; i++) tq_f32(b)[i] += 100;
  const tq_tensor *in[3] = {a, e, b};
  tq_attr_store ax = a_int("axis", -2);
  tq_tensor *o = run1("Concat", 13, in, 3, &ax, 1);
  const int64_t d242[3] = {2, 4, 2};
  check_shape(o, 3, d242);
  const float want[16] = {0, 1, 100, 101, 102, 103, 104, 105,
                          2, 3, 106, 107, 108, 109, 110, 111};
  check_f(o, want, 16, 0);
  tq_tensor_destroy(o);
  /* opset 1: axis defaults to 1. */
  const tq_tensor *in2[2] = {a, b};
  o = run1("Concat", 1, in2, 2, NULL, 0);
  check_shape(o, 3, d242);
  tq_tensor_destroy(o);
  /* int64 shape pieces. */
  const int64_t v1[1] = {8}, v2[2] = {-1, 7};
  tq_tensor *i1 = ivec(1, v1), *i2 = ivec(2, v2);
  const tq_tensor *in3[2] = {i1, i2};
  ax = a_int("axis", 0);
  o = run1("Concat", 13, in3, 2, &ax, 1);
  const int64_t cat[3] = {8, -1, 7};
  check_i(o, cat, 3);
  tq_tensor_destroy(o);
  /* Errors. */
  run_fail("Concat", 13, in2, 2, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "'axis' is required");
  ax = a_int("axis", 0);
  run_fail("Concat", 13, in2, 2, &ax, 1, TQ_ERR_SHAPE,
           "input 1 of shape [2, 3, 2] does not fit input 0 of shape "
           "[2, 1, 2]");
  const tq_tensor *in4[2] = {a, i1};
  run_fail("Concat", 13, in4, 2, &ax, 1, TQ_ERR_UNSUPPORTED, "int64");
  destroy_all((tq_tensor *[]){a, b, e, i1, i2}, 5);
}

/* ---- Split
 * -----------------------------------------------------------------*/

static void check_split(tq_tensor **outs, size_t n, const int64_t *sizes,
                        int64_t rows, int64_t cols) {
  int64_t at = 0;
  for (size_t k = 0; k < n; k++) {
    const int64_t d[2] = {rows, sizes[k]};
    check_shape(outs[k], 2, d);
    for (int64_t r = 0; r < rows; r++)
      for (int64_t j = 0; j < sizes[k]; j++)
        assert_true(tq_cf32(outs[k])[r * sizes[k] + j] ==
                    (float)(r * cols + at + j));
    at += sizes[k];
  }
}

static void test_split(void **state) {
  (void)state;
  const int64_t d[2] = {2, 6};
  tq_tensor *x = tseq(2, d);
  tq_tensor *outs[4];
  tq_attr_store at[2] = {a_int("axis", 1), a_int("axis", 1)};
  /* Equal parts. */
  const tq_tensor *in1[1] = {x};
  assert_int_equal(run_op_n("Split", 11, in1, 1, at, 1, outs, 3, 4), TQ_OK);
  const int64_t eq[3] = {2, 2, 2};
  check_split(outs, 3, eq, 2, 6);
  destroy_all(outs, 3);
  /* opset 11: the 'split' attribute. */
  const int64_t sz[3] = {1, 2, 3};
  at[1] = a_ints("split", sz, 3);
  assert_int_equal(run_op_n("Split", 11, in1, 1, at, 2, outs, 3, 4), TQ_OK);
  check_split(outs, 3, sz, 2, 6);
  destroy_all(outs, 3);
  /* opset 13: the 'split' input. */
  const int64_t sz2[2] = {4, 2};
  tq_tensor *sp = ivec(2, sz2);
  const tq_tensor *in2[2] = {x, sp};
  assert_int_equal(run_op_n("Split", 13, in2, 2, at, 1, outs, 2, 4), TQ_OK);
  check_split(outs, 2, sz2, 2, 6);
  destroy_all(outs, 2);
  /* opset 18: num_outputs, the last chunk smaller. */
  const int64_t d7[2] = {2, 7};
  tq_tensor *x7 = tseq(2, d7);
  const tq_tensor *in3[1] = {x7};
  at[1] = a_int("num_outputs", 3);
  assert_int_equal(run_op_n("Split", 18, in3, 1, at, 2, outs, 3, 4), TQ_OK);
  const int64_t un[3] = {3, 3, 1};
  check_split(outs, 3, un, 2, 7);
  destroy_all(outs, 3);
  /* Errors. */
  tq_tensor *o3[3];
  assert_int_equal(run_op_n("Split", 13, in3, 1, at, 1, o3, 3, 1),
                   TQ_ERR_SHAPE);
  assert_non_null(strstr(tq_context_last_error(g_ctx), "evenly"));
  destroy_all(o3, 3);
  const int64_t badsz[2] = {4, 3};
  tq_tensor *bs = ivec(2, badsz);
  const tq_tensor *in4[2] = {x, bs};
  assert_int_equal(run_op_n("Split", 13, in4, 2, at, 1, o3, 2, 1),
                   TQ_ERR_SHAPE);
  assert_non_null(strstr(tq_context_last_error(g_ctx), "add up to 7"));
  destroy_all(o3, 2);
  const int64_t negsz[2] = {-1, 8};
  tq_tensor *ns = ivec(2, negsz);
  const tq_tensor *in5[2] = {x7, ns};
  assert_int_equal(run_op_n("Split", 13, in5, 2, at, 1, o3, 2, 1),
                   TQ_ERR_RANGE);
  assert_non_null(strstr(tq_context_last_error(g_ctx), "-1 is negative"));
  destroy_all(o3, 2);
  destroy_all((tq_tensor *[]){x, sp, x7, bs, ns}, 5);
}

/* ---- Slice
 * -----------------------------------------------------------------*/

static void slice1(int64_t opset, int64_t s, int64_t e, int64_t step,
                   const float *want, size_t n) {
  const int64_t d[1] = {10}, zero = 0;
  tq_tensor *x = tseq(1, d);
  tq_tensor *ts = ivec(1, &s), *te = ivec(1, &e), *ta = ivec(1, &zero),
            *tst = ivec(1, &step);
  const tq_tensor *in[5] = {x, ts, te, ta, tst};
  tq_tensor *o = run1("Slice", opset, in, 5, NULL, 0);
  const int64_t od[1] = {(int64_t)n};
  check_shape(o, 1, od);
  check_f(o, want, n, 0);
  destroy_all((tq_tensor *[]){x, ts, te, ta, tst, o}, 6);
}

static void test_slice_1d(void **state) {
  (void)state;
  const float a[] = {1, 2, 3, 4, 5, 6, 7}, b[] = {7, 8, 9}, c[] = {8, 6, 4, 2},
              rev[] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, e[] = {0, 3, 6, 9},
              f[] = {2}, g[] = {9, 6};
  slice1(13, 1, 8, 1, a, 7);
  slice1(13, -3, INT64_MAX, 1, b, 3);
  slice1(13, 8, 1, -2, c, 4);
  slice1(13, -1, INT64_MIN, -1, rev, 10); /* x[::-1] as torch exports it */
  slice1(13, 100, -100, -1, rev, 10);     /* clamped to [9, -1) */
  slice1(13, -100, 100, 3, e, 4);
  slice1(13, 5, 5, 1, NULL, 0);
  slice1(13, 0, 10, -1, NULL, 0);
  slice1(10, 2, 8, INT64_MAX, f, 1);
  slice1(11, INT64_MAX, 5, -3, g, 2);
}

static void test_slice_nd(void **state) {
  (void)state;
  const int64_t d[2] = {3, 4};
  tq_tensor *x = tseq(2, d);
  /* opset 13: starts, ends, axes (negative), steps. */
  const int64_t sv[2] = {1, 0}, ev[2] = {3, INT64_MAX}, av[2] = {-1, 0},
                stv[2] = {1, 2};
  tq_tensor *s = ivec(2, sv), *e = ivec(2, ev), *a = ivec(2, av),
            *st = ivec(2, stv);
  const tq_tensor *in[5] = {x, s, e, a, st};
  tq_tensor *o = run1("Slice", 13, in, 5, NULL, 0);
  const int64_t d22[2] = {2, 2};
  check_shape(o, 2, d22);
  const float w[4] = {1, 2, 9, 10};
  check_f(o, w, 4, 0);
  tq_tensor_destroy(o);
  /* opset 10 without axes and steps: leading axes. */
  const tq_tensor *in3[3] = {x, s, e};
  o = run1("Slice", 10, in3, 3, NULL, 0);
  const int64_t d24[2] = {2, 4};
  check_shape(o, 2, d24);
  tq_tensor_destroy(o);
  /* opset 9: attributes. */
  const int64_t as[1] = {1}, ae[1] = {1000}, aa[1] = {1};
  tq_attr_store at[3] = {a_ints("starts", as, 1), a_ints("ends", ae, 1),
                         a_ints("axes", aa, 1)};
  const tq_tensor *in1[1] = {x};
  o = run1("Slice", 9, in1, 1, at, 3);
  const int64_t d33[2] = {3, 3};
  check_shape(o, 2, d33);
  const float w9[9] = {1, 2, 3, 5, 6, 7, 9, 10, 11};
  check_f(o, w9, 9, 0);
  tq_tensor_destroy(o);
  /* int64 data: shape[2:] of an NCHW shape. */
  const int64_t shp[4] = {1, 3, 224, 224}, two = 2, big = INT64_MAX;
  tq_tensor *ts = ivec(4, shp), *t2 = ivec(1, &two), *tb = ivec(1, &big);
  const tq_tensor *in4[3] = {ts, t2, tb};
  o = run1("Slice", 13, in4, 3, NULL, 0);
  check_i(o, shp + 2, 2);
  tq_tensor_destroy(o);
  /* Errors. */
  const int64_t z[2] = {0, 0};
  tq_tensor *zs = ivec(2, z);
  const tq_tensor *in5[5] = {x, s, e, a, zs};
  run_fail("Slice", 13, in5, 5, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "step for axis");
  const int64_t dup[2] = {1, -1};
  tq_tensor *td = ivec(2, dup);
  const tq_tensor *in6[4] = {x, s, e, td};
  run_fail("Slice", 13, in6, 4, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "appears twice");
  const tq_tensor *in7[3] = {x, s, t2};
  run_fail("Slice", 13, in7, 3, NULL, 0, TQ_ERR_SHAPE, "same length");
  run_fail("Slice", 9, in1, 1, NULL, 0, TQ_ERR_INVALID_ARGUMENT, "'starts'");
  /* A starts input that is not a constant (computed at run time). */
  tq_tensor lazy;
  memset(&lazy, 0, sizeof lazy);
  lazy.dtype = TQ_DTYPE_INT64;
  lazy.shape = s->shape;
  lazy.numel = 2;
  lazy.lazy = 1;
  const tq_tensor *in8[3] = {x, &lazy, e};
  run_fail("Slice", 13, in8, 3, NULL, 0, TQ_ERR_UNSUPPORTED,
           "must be a constant");
  destroy_all((tq_tensor *[]){x, s, e, a, st, ts, t2, tb, zs, td}, 10);
}

/* A large 4-D slice with a reversed axis against a naive loop. */
static void test_slice_large(void **state) {
  (void)state;
  const int64_t d[4] = {4, 16, 64, 64};
  tq_tensor *x = tseq(4, d);
  const int64_t sv[3] = {1, 1, -1}, ev[3] = {15, 63, INT64_MIN},
                av[3] = {1, 2, 3}, stv[3] = {3, 2, -1};
  tq_tensor *s = ivec(3, sv), *e = ivec(3, ev), *a = ivec(3, av),
            *st = ivec(3, stv);
  const tq_tensor *in[5] = {x, s, e, a, st};
  tq_tensor *o = run1("Slice", 13, in, 5, NULL, 0);
  const int64_t od[4] = {4, 5, 31, 64};
  check_shape(o, 4, od);
  for (size_t i = 0; i < o->numel; i++) {
    int64_t c[4];
    unravel(&o->shape, i, c);
    int64_t src[4] = {c[0], 1 + 3 * c[1], 1 + 2 * c[2], 63 - c[3]};
    assert_true(tq_cf32(o)[i] == tq_cf32(x)[ravel(&x->shape, src)]);
  }
  destroy_all((tq_tensor *[]){x, s, e, a, st, o}, 6);
}

/* ---- Flatten, Reshape, Transpose, Squeeze, Unsqueeze
 * -----------------------*/

static void test_flatten(void **state) {
  (void)state;
  const int64_t d[3] = {2, 3, 4};
  tq_tensor *x = tseq(3, d);
  const tq_tensor *in[1] = {x};
  static const struct {
    int64_t axis, r, c;
  } cases[] = {{0, 1, 24}, {1, 2, 12}, {-1, 6, 4}, {3, 24, 1}, {-3, 1, 24}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    tq_attr_store ax = a_int("axis", cases[k].axis);
    tq_tensor *o = run1("Flatten", 13, in, 1, &ax, 1);
    const int64_t od[2] = {cases[k].r, cases[k].c};
    check_shape(o, 2, od);
    check_f(o, tq_cf32(x), 24, 0);
    tq_tensor_destroy(o);
  }
  tq_tensor *o = run1("Flatten", 9, in, 1, NULL, 0); /* axis 1 */
  const int64_t d212[2] = {2, 12};
  check_shape(o, 2, d212);
  tq_tensor_destroy(o);
  tq_attr_store ax = a_int("axis", 4);
  run_fail("Flatten", 13, in, 1, &ax, 1, TQ_ERR_SHAPE, "out of range");
  tq_tensor_destroy(x);
}

static void reshape_case(const tq_tensor *x, const int64_t *shape, size_t n,
                         int allowzero, int nd, const int64_t *want) {
  tq_tensor *s = ivec(n, shape);
  const tq_tensor *in[2] = {x, s};
  tq_attr_store az = a_int("allowzero", allowzero);
  tq_tensor *o = run1("Reshape", 14, in, 2, &az, 1);
  check_shape(o, nd, want);
  if (x->numel) check_f(o, tq_cf32(x), x->numel, 0);
  tq_tensor_destroy(o);
  tq_tensor_destroy(s);
}

static void test_reshape(void **state) {
  (void)state;
  const int64_t d[3] = {2, 3, 4};
  tq_tensor *x = tseq(3, d);
  const int64_t s1[2] = {0, -1}, w1[2] = {2, 12};
  reshape_case(x, s1, 2, 0, 2, w1);
  const int64_t s2[2] = {-1, 4}, w2[2] = {6, 4};
  reshape_case(x, s2, 2, 0, 2, w2);
  const int64_t s3[3] = {4, 0, 2}, w3[3] = {4, 3, 2};
  reshape_case(x, s3, 3, 0, 3, w3);
  const int64_t s4[1] = {-1}, w4[1] = {24};
  reshape_case(x, s4, 1, 0, 1, w4);
  /* allowzero=1: a 0 is a real 0. */
  const int64_t de[2] = {0, 3};
  tq_tensor *xe = tf(2, de, NULL);
  const int64_t s5[3] = {3, 0, 5}, w5[3] = {3, 0, 5};
  reshape_case(xe, s5, 3, 1, 3, w5);
  /* opset < 5: the 'shape' attribute. */
  const tq_tensor *in1[1] = {x};
  tq_attr_store sa = a_ints("shape", s2, 2);
  tq_tensor *o = run1("Reshape", 1, in1, 1, &sa, 1);
  check_shape(o, 2, w2);
  tq_tensor_destroy(o);
  /* Errors. */
  const int64_t b1[2] = {-1, -1}, b2[2] = {5, -1}, b3[2] = {7, 4},
                b4[2] = {0, -1};
  tq_tensor *t1 = ivec(2, b1), *t2 = ivec(2, b2), *t3 = ivec(2, b3),
            *t4 = ivec(2, b4);
  const tq_tensor *e1[2] = {x, t1}, *e2[2] = {x, t2}, *e3[2] = {x, t3},
                  *e4[2] = {x, t4};
  run_fail("Reshape", 13, e1, 2, NULL, 0, TQ_ERR_SHAPE, "more than one -1");
  run_fail("Reshape", 13, e2, 2, NULL, 0, TQ_ERR_SHAPE, "not a multiple of 5");
  run_fail("Reshape", 13, e3, 2, NULL, 0, TQ_ERR_SHAPE,
           "cannot reshape [2, 3, 4] (24 elements) to [7, 4]");
  tq_attr_store az = a_int("allowzero", 1);
  run_fail("Reshape", 14, e4, 2, &az, 1, TQ_ERR_SHAPE, "allowzero");
  destroy_all((tq_tensor *[]){x, xe, t1, t2, t3, t4}, 6);
}

static void check_transpose(int nd, const int64_t *dims, const int64_t *perm,
                            int is_int) {
  tq_tensor *x = is_int ? ti(nd, dims, NULL) : tseq(nd, dims);
  if (is_int)
    for (size_t i = 0; i < x->numel; i++) tq_i64(x)[i] = (int64_t)i * 3;
  const tq_tensor *in[1] = {x};
  tq_attr_store p = a_ints("perm", perm, (size_t)nd);
  tq_tensor *o = run1("Transpose", 13, in, 1, &p, perm ? 1 : 0);
  int64_t rp[TQ_MAX_DIMS];
  for (int d = 0; d < nd; d++) rp[d] = perm ? perm[d] : nd - 1 - d;
  for (int d = 0; d < nd; d++) assert_true(o->shape.dims[d] == dims[rp[d]]);
  for (size_t i = 0; i < o->numel; i++) {
    int64_t c[TQ_MAX_DIMS], src[TQ_MAX_DIMS];
    unravel(&o->shape, i, c);
    for (int d = 0; d < nd; d++) src[rp[d]] = c[d];
    size_t j = ravel(&x->shape, src);
    if (is_int)
      assert_true(tq_ci64(o)[i] == tq_ci64(x)[j]);
    else
      assert_true(tq_cf32(o)[i] == tq_cf32(x)[j]);
  }
  tq_tensor_destroy(o);
  tq_tensor_destroy(x);
}

static void test_transpose(void **state) {
  (void)state;
  const int64_t d3[3] = {2, 3, 4}, p3[3] = {1, 0, 2};
  check_transpose(3, d3, NULL, 0);
  check_transpose(3, d3, p3, 0);
  check_transpose(3, d3, p3, 1);
  const int64_t nchw[4] = {2, 64, 28, 28}, to_nhwc[4] = {0, 2, 3, 1};
  check_transpose(4, nchw, to_nhwc, 0);
  /* ShuffleNet's channel shuffle. */
  const int64_t sh[5] = {2, 2, 58, 28, 28}, psh[5] = {0, 2, 1, 3, 4};
  check_transpose(5, sh, psh, 0);
  const int64_t d6[6] = {2, 1, 3, 2, 1, 4}, p6[6] = {5, 3, 1, 0, 4, 2};
  check_transpose(6, d6, p6, 0);
  tq_tensor *x = tseq(3, d3);
  const tq_tensor *in[1] = {x};
  const int64_t bad[3] = {0, 0, 1};
  tq_attr_store p = a_ints("perm", bad, 3);
  run_fail("Transpose", 13, in, 1, &p, 1, TQ_ERR_INVALID_ARGUMENT,
           "not a permutation");
  p = a_ints("perm", bad, 2);
  run_fail("Transpose", 13, in, 1, &p, 1, TQ_ERR_SHAPE, "2 entries");
  tq_tensor_destroy(x);
}

static void test_squeeze_unsqueeze(void **state) {
  (void)state;
  const int64_t d[4] = {1, 3, 1, 2};
  tq_tensor *x = tseq(4, d);
  const tq_tensor *in1[1] = {x};
  tq_tensor *o = run1("Squeeze", 13, in1, 1, NULL, 0);
  const int64_t w1[2] = {3, 2};
  check_shape(o, 2, w1);
  check_f(o, tq_cf32(x), 6, 0);
  tq_tensor_destroy(o);
  const int64_t ax0[1] = {0};
  tq_attr_store at = a_ints("axes", ax0, 1);
  o = run1("Squeeze", 11, in1, 1, &at, 1);
  const int64_t w2[3] = {3, 1, 2};
  check_shape(o, 3, w2);
  tq_tensor_destroy(o);
  const int64_t axm2 = -2;
  tq_tensor *ta = ivec(1, &axm2);
  const tq_tensor *in2[2] = {x, ta};
  o = run1("Squeeze", 13, in2, 2, NULL, 0);
  const int64_t w3[3] = {1, 3, 2};
  check_shape(o, 3, w3);
  tq_tensor_destroy(o);
  const int64_t ax1 = 1;
  tq_tensor *t1 = ivec(1, &ax1);
  const tq_tensor *in3[2] = {x, t1};
  run_fail("Squeeze", 13, in3, 2, NULL, 0, TQ_ERR_SHAPE,
           "cannot squeeze axis 1 of shape [1, 3, 1, 2]");
  /* Unsqueeze of an int64 scalar: the torch flatten pattern. */
  tq_tensor *s = iscalar(8);
  const tq_tensor *in4[2] = {s, ta};
  const int64_t zero = 0;
  tq_tensor *tz = ivec(1, &zero);
  in4[1] = tz;
  o = run1("Unsqueeze", 13, in4, 2, NULL, 0);
  const int64_t w4[1] = {1}, v8[1] = {8};
  check_shape(o, 1, w4);
  check_i(o, v8, 1);
  tq_tensor_destroy(o);
  const tq_tensor *in5[1] = {s};
  o = run1("Unsqueeze", 11, in5, 1, &at, 1);
  check_shape(o, 1, w4);
  tq_tensor_destroy(o);
  /* Negative axes count in the output's rank. */
  const int64_t d3[1] = {3}, axes[2] = {0, -1};
  tq_tensor *v = tseq(1, d3), *tax = ivec(2, axes);
  const tq_tensor *in6[2] = {v, tax};
  o = run1("Unsqueeze", 13, in6, 2, NULL, 0);
  const int64_t w6[3] = {1, 3, 1};
  check_shape(o, 3, w6);
  tq_tensor_destroy(o);
  const int64_t dupax[2] = {1, -2};
  tq_tensor *tdup = ivec(2, dupax);
  const tq_tensor *in7[2] = {v, tdup};
  run_fail("Unsqueeze", 13, in7, 2, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "appears twice");
  run_fail("Unsqueeze", 13, in5, 1, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "'axes' is required");
  const int64_t many[4] = {0, 1, 2, 3};
  tq_tensor *tm = ivec(4, many);
  const tq_tensor *in8[2] = {x, tm};
  run_fail("Unsqueeze", 13, in8, 2, NULL, 0, TQ_ERR_UNSUPPORTED, "rank 8");
  destroy_all((tq_tensor *[]){x, ta, t1, s, tz, v, tax, tdup, tm}, 9);
}

/* ---- Pad
 * -------------------------------------------------------------------*/

static void pad_case(int64_t opset, const char *mode, const int64_t *pads,
                     size_t np, const float *cval, int nd, const int64_t *od,
                     const float *want) {
  const int64_t d[2] = {2, 3};
  tq_tensor *x = tseq(2, d);
  for (size_t i = 0; i < 6; i++) tq_f32(x)[i] += 1; /* 1..6 */
  tq_tensor *p = ivec(np, pads), *cv = cval ? tf(0, NULL, cval) : NULL;
  const tq_tensor *in[3] = {x, p, cv};
  tq_attr_store m = a_str("mode", mode);
  tq_tensor *o = run1("Pad", opset, in, cval ? 3 : 2, &m, 1);
  check_shape(o, nd, od);
  check_f(o, want, o->numel, 0);
  destroy_all((tq_tensor *[]){x, p, cv, o}, 4);
}

static void test_pad(void **state) {
  (void)state;
  const int64_t p1[4] = {0, 1, 1, 2}, o1[2] = {3, 6};
  const float nine = 9;
  const float w1[18] = {9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9};
  pad_case(11, "constant", p1, 4, &nine, 2, o1, w1);
  const float w1z[18] = {0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0};
  pad_case(13, "constant", p1, 4, NULL, 2, o1, w1z);
  const int64_t p2[4] = {0, 2, 0, 2}, o2[2] = {2, 7};
  const float w2[14] = {3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4};
  pad_case(11, "reflect", p2, 4, NULL, 2, o2, w2);
  const int64_t p3[4] = {1, 1, 1, 1}, o3[2] = {4, 5};
  const float w3[20] = {1, 1, 2, 3, 3, 1, 1, 2, 3, 3,
                        4, 4, 5, 6, 6, 4, 4, 5, 6, 6};
  pad_case(11, "edge", p3, 4, NULL, 2, o3, w3);
  const int64_t p4[4] = {0, -1, 0, 0}, o4[2] = {2, 2};
  const float w4[4] = {2, 3, 5, 6};
  pad_case(11, "constant", p4, 4, NULL, 2, o4, w4);
  const int64_t p5[4] = {0, 1, 0, 1}, o5[2] = {2, 5};
  const float w5[10] = {3, 1, 2, 3, 1, 6, 4, 5, 6, 4};
  pad_case(19, "wrap", p5, 4, NULL, 2, o5, w5);
  /* opset 2: attributes 'pads' and 'value'. */
  const int64_t d[2] = {2, 3};
  tq_tensor *x = tseq(2, d);
  const tq_tensor *in1[1] = {x};
  tq_attr_store at[2] = {a_ints("pads", p1, 4), a_float("value", -1.0f)};
  tq_tensor *o = run1("Pad", 2, in1, 1, at, 2);
  check_shape(o, 2, o1);
  assert_true(tq_cf32(o)[0] == -1.0f && tq_cf32(o)[1] == 0.0f &&
              tq_cf32(o)[17] == -1.0f);
  tq_tensor_destroy(o);
  /* opset 18: pads of the listed axes only. */
  const int64_t p6[2] = {1, 1}, ax6 = -1;
  tq_tensor *tp6 = ivec(2, p6), *ta6 = ivec(1, &ax6);
  const tq_tensor *in6[4] = {x, tp6, NULL, ta6};
  o = run1("Pad", 18, in6, 4, NULL, 0);
  const int64_t o6[2] = {2, 5};
  check_shape(o, 2, o6);
  const float w6[10] = {0, 0, 1, 2, 0, 0, 3, 4, 5, 0};
  check_f(o, w6, 10, 0);
  tq_tensor_destroy(o);
  /* int64 data. */
  const int64_t iv[2] = {5, 6}, pi[2] = {1, 0};
  tq_tensor *xi = ivec(2, iv), *tpi = ivec(2, pi);
  const tq_tensor *in7[2] = {xi, tpi};
  o = run1("Pad", 13, in7, 2, NULL, 0);
  const int64_t wi[3] = {0, 5, 6};
  check_i(o, wi, 3);
  tq_tensor_destroy(o);
  /* Errors. */
  const tq_tensor *in8[2] = {x, tp6};
  run_fail("Pad", 13, in8, 2, NULL, 0, TQ_ERR_SHAPE, "expected 4");
  tq_attr_store m = a_str("mode", "mirror");
  const tq_tensor *in9[2] = {x, tpi};
  run_fail("Pad", 13, in9, 2, &m, 1, TQ_ERR_UNSUPPORTED, "'mirror'");
  run_fail("Pad", 13, in1, 1, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "'pads' is required");
  const int64_t neg[4] = {0, -4, 0, 0};
  tq_tensor *tn = ivec(4, neg);
  const tq_tensor *in10[2] = {x, tn};
  run_fail("Pad", 13, in10, 2, NULL, 0, TQ_ERR_SHAPE, "negative size");
  destroy_all((tq_tensor *[]){x, tp6, ta6, xi, tpi, tn}, 6);
}

/* A padded feature map (parallel path) against a naive loop. */
static void test_pad_large(void **state) {
  (void)state;
  const int64_t d[4] = {2, 8, 64, 64};
  tq_tensor *x = tseq(4, d);
  const int64_t pads[8] = {0, 0, 2, 1, 0, 0, 3, 2};
  static const char *const modes[] = {"constant", "reflect", "edge"};
  for (int m = 0; m < 3; m++) {
    tq_tensor *tp = ivec(8, pads);
    const tq_tensor *in[2] = {x, tp};
    tq_attr_store ma = a_str("mode", modes[m]);
    tq_tensor *o = run1("Pad", 13, in, 2, &ma, 1);
    const int64_t od[4] = {2, 8, 69, 67};
    check_shape(o, 4, od);
    for (size_t i = 0; i < o->numel; i++) {
      int64_t c[4];
      unravel(&o->shape, i, c);
      int64_t h = c[2] - 2, w = c[3] - 1;
      float want;
      if (m == 0) {
        want = (h < 0 || h >= 64 || w < 0 || w >= 64)
                   ? 0.0f
                   : tq_cf32(x)[((c[0] * 8 + c[1]) * 64 + h) * 64 + w];
      } else {
        if (m == 1) {
          h = h < 0 ? -h : (h > 63 ? 126 - h : h);
          w = w < 0 ? -w : (w > 63 ? 126 - w : w);
        } else {
          h = h < 0 ? 0 : (h > 63 ? 63 : h);
          w = w < 0 ? 0 : (w > 63 ? 63 : w);
        }
        want = tq_cf32(x)[((c[0] * 8 + c[1]) * 64 + h) * 64 + w];
      }
      if (tq_cf32(o)[i] != want)
        fail_msg("%s: element %zu is %g, expected %g", modes[m], i,
                 tq_cf32(o)[i], want);
    }
    tq_tensor_destroy(o);
    tq_tensor_destroy(tp);
  }
  tq_tensor_destroy(x);
}

/* ---- Reduce
 * ----------------------------------------------------------------*/

/* Naive reduction of x over the flagged axes, in double. */
static void ref_reduce(const char *op, const tq_tensor *x, const int *red,
                       double *out, size_t nout) {
  for (size_t j = 0; j < nout; j++) {
    double acc = 0, mx = -INFINITY, mn = INFINITY, prod = 1;
    size_t cnt = 0;
    /* Output j's kept coordinates, in order. */
    int64_t kc[TQ_MAX_DIMS];
    size_t q = j;
    for (int d = x->shape.ndim - 1; d >= 0; d--) {
      if (red[d]) continue;
      kc[d] = (int64_t)(q % (size_t)x->shape.dims[d]);
      q /= (size_t)x->shape.dims[d];
    }
    for (size_t i = 0; i < x->numel; i++) {
      int64_t c[TQ_MAX_DIMS];
      unravel(&x->shape, i, c);
      int match = 1;
      for (int d = 0; d < x->shape.ndim; d++)
        if (!red[d] && c[d] != kc[d]) match = 0;
      if (!match) continue;
      double v = tq_cf32(x)[i];
      acc += !strcmp(op, "ReduceL1") ? fabs(v)
             : !strcmp(op, "ReduceL2") || !strcmp(op, "ReduceSumSquare") ? v * v
             : !strcmp(op, "ReduceLogSumExp") ? exp(v)
                                              : v;
      mx = fmax(mx, v);
      mn = fmin(mn, v);
      prod *= v;
      cnt++;
    }
    out[j] = !strcmp(op, "ReduceMean")        ? acc / (double)cnt
             : !strcmp(op, "ReduceMax")       ? mx
             : !strcmp(op, "ReduceMin")       ? mn
             : !strcmp(op, "ReduceProd")      ? prod
             : !strcmp(op, "ReduceL2")        ? sqrt(acc)
             : !strcmp(op, "ReduceLogSumExp") ? log(acc)
                                              : acc;
  }
}

static void check_reduce(const char *op, int64_t opset, int nd,
                         const int64_t *dims, const int64_t *axes, size_t na,
                         int keep, int axes_as_input) {
  tq_tensor *x = trand(nd, dims, 3);
  if (!strcmp(op, "ReduceProd"))
    for (size_t i = 0; i < x->numel; i++)
      tq_f32(x)[i] = 0.75f + 0.125f * fabsf(tq_f32(x)[i]);
  tq_tensor *ta = axes_as_input ? ivec(na, axes) : NULL;
  const tq_tensor *in[2] = {x, ta};
  tq_attr_store at[2] = {a_int("keepdims", keep), a_ints("axes", axes, na)};
  tq_tensor *o = run1(op, opset, in, axes_as_input ? 2 : 1, at,
                      axes_as_input || !na ? 1 : 2);
  int red[TQ_MAX_DIMS] = {0};
  for (size_t k = 0; k < na; k++) red[axes[k] < 0 ? axes[k] + nd : axes[k]] = 1;
  if (!na)
    for (int d = 0; d < nd; d++) red[d] = 1;
  int od = 0;
  for (int d = 0; d < nd; d++) {
    if (red[d] && !keep) continue;
    assert_true(o->shape.dims[od] == (red[d] ? 1 : dims[d]));
    od++;
  }
  assert_int_equal(o->shape.ndim, od);
  double *ref = malloc(o->numel * sizeof *ref);
  assert_non_null(ref);
  ref_reduce(op, x, red, ref, o->numel);
  for (size_t j = 0; j < o->numel; j++)
    if (fabs(tq_cf32(o)[j] - ref[j]) > 1e-6 * fmax(1.0, fabs(ref[j])))
      fail_msg("%s element %zu: %.9g, expected %.9g", op, j, tq_cf32(o)[j],
               ref[j]);
  free(ref);
  tq_tensor_destroy(o);
  tq_tensor_destroy(ta);
  tq_tensor_destroy(x);
}

static void test_reduce(void **state) {
  (void)state;
  const int64_t d[3] = {2, 3, 4}, a1[1] = {1}, am1[1] = {-1}, a02[2] = {0, 2},
                a12[2] = {1, 2};
  check_reduce("ReduceMean", 13, 3, d, a1, 1, 1, 0);
  check_reduce("ReduceMean", 18, 3, d, a12, 2, 0, 1);
  check_reduce("ReduceSum", 11, 3, d, am1, 1, 0, 0);
  check_reduce("ReduceSum", 13, 3, d, am1, 1, 0, 1);
  check_reduce("ReduceSum", 13, 3, d, NULL, 0, 1, 0); /* all axes */
  check_reduce("ReduceMax", 13, 3, d, a02, 2, 1, 0);
  check_reduce("ReduceMin", 13, 3, d, a02, 2, 0, 0);
  check_reduce("ReduceProd", 13, 3, d, a1, 1, 1, 0);
  check_reduce("ReduceL1", 13, 3, d, a12, 2, 1, 0);
  check_reduce("ReduceL2", 13, 3, d, a02, 2, 1, 0);
  check_reduce("ReduceSumSquare", 13, 3, d, a1, 1, 0, 0);
  check_reduce("ReduceLogSumExp", 13, 3, d, am1, 1, 1, 0);
  /* Global average pooling as x.mean([2, 3]) exports it: big. */
  const int64_t fm[4] = {4, 64, 14, 14}, hw[2] = {2, 3}, c1[1] = {1};
  check_reduce("ReduceMean", 13, 4, fm, hw, 2, 1, 0);
  check_reduce("ReduceMean", 13, 4, fm, c1, 1, 0, 0);
  /* noop_with_empty_axes: identity. */
  tq_tensor *x = trand(3, d, 1);
  const tq_tensor *in1[1] = {x};
  tq_attr_store noop = a_int("noop_with_empty_axes", 1);
  tq_tensor *o = run1("ReduceSum", 13, in1, 1, &noop, 1);
  check_shape(o, 3, d);
  check_f(o, tq_cf32(x), 24, 0);
  tq_tensor_destroy(o);
  /* NaN wins in ReduceMax. */
  tq_f32(x)[5] = NAN;
  tq_attr_store kd = a_int("keepdims", 0);
  o = run1("ReduceMax", 13, in1, 1, &kd, 1);
  check_shape(o, 0, NULL);
  assert_true(isnan(tq_cf32(o)[0]));
  tq_tensor_destroy(o);
  /* int64: the product of a shape's tail (flatten sizes). */
  const int64_t sv[4] = {2, 3, 224, 224}, tail[3] = {1, 2, 3};
  tq_tensor *s = ivec(4, sv), *tt = ivec(3, tail);
  tq_tensor *t0 = ti(1, (const int64_t[]){3}, sv + 1);
  const tq_tensor *in2[1] = {t0};
  o = run1("ReduceProd", 13, in2, 1, &kd, 1);
  const int64_t prod[1] = {150528};
  check_i(o, prod, 1);
  tq_tensor_destroy(o);
  /* Errors. */
  const tq_tensor *in3[1] = {s};
  run_fail("ReduceMean", 13, in3, 1, NULL, 0, TQ_ERR_UNSUPPORTED, "int64");
  const int64_t dup[2] = {1, -2};
  tq_tensor *td = ivec(2, dup);
  const tq_tensor *in4[2] = {x, td};
  run_fail("ReduceSum", 13, in4, 2, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "appears twice");
  destroy_all((tq_tensor *[]){x, s, tt, t0, td}, 5);
}

/* ---- Constant, ConstantOfShape, Range, Expand, Tile
 * ------------------------*/

static void test_constants(void **state) {
  (void)state;
  const int64_t iv[2] = {1, -1};
  tq_attr_store at = a_ints("value_ints", iv, 2);
  tq_tensor *o = run1("Constant", 13, NULL, 0, &at, 1);
  check_i(o, iv, 2);
  tq_tensor_destroy(o);
  at = a_float("value_float", 2.5f);
  o = run1("Constant", 13, NULL, 0, &at, 1);
  check_shape(o, 0, NULL);
  assert_true(tq_cf32(o)[0] == 2.5f);
  tq_tensor_destroy(o);
  at = a_int("value_int", 7);
  o = run1("Constant", 13, NULL, 0, &at, 1);
  assert_int_equal(o->dtype, TQ_DTYPE_INT64);
  assert_true(tq_ci64(o)[0] == 7);
  tq_tensor_destroy(o);
  const float fv[3] = {0.5f, 1, 2};
  at = a_floats("value_floats", fv, 3);
  o = run1("Constant", 13, NULL, 0, &at, 1);
  check_f(o, fv, 3, 0);
  tq_tensor_destroy(o);
  const int64_t d[2] = {2, 3};
  tq_tensor *t = tseq(2, d);
  at = a_tensor("value", t);
  o = run1("Constant", 9, NULL, 0, &at, 1);
  check_shape(o, 2, d);
  check_f(o, tq_cf32(t), 6, 0);
  tq_tensor_destroy(o);
  tq_attr_store two[2] = {a_tensor("value", t), a_int("value_int", 1)};
  run_fail("Constant", 13, NULL, 0, two, 2, TQ_ERR_INVALID_ARGUMENT,
           "exactly one");
  run_fail("Constant", 13, NULL, 0, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "needs a value");
  at = a_str("value_string", "x");
  run_fail("Constant", 13, NULL, 0, &at, 1, TQ_ERR_UNSUPPORTED,
           "'value_string'");

  /* ConstantOfShape: float 0 by default, else the value's type. */
  tq_tensor *sh = ivec(2, d);
  const tq_tensor *in[1] = {sh};
  o = run1("ConstantOfShape", 9, in, 1, NULL, 0);
  check_shape(o, 2, d);
  const float zeros[6] = {0};
  check_f(o, zeros, 6, 0);
  tq_tensor_destroy(o);
  tq_tensor *seven = ti(1, (const int64_t[]){1}, (const int64_t[]){7});
  at = a_tensor("value", seven);
  o = run1("ConstantOfShape", 9, in, 1, &at, 1);
  const int64_t sevens[6] = {7, 7, 7, 7, 7, 7};
  check_i(o, sevens, 6);
  tq_tensor_destroy(o);
  tq_tensor *empty = ti(1, (const int64_t[]){0}, NULL);
  const tq_tensor *in2[1] = {empty};
  o = run1("ConstantOfShape", 9, in2, 1, &at, 1);
  check_shape(o, 0, NULL);
  check_i(o, sevens, 1);
  tq_tensor_destroy(o);
  destroy_all((tq_tensor *[]){t, sh, seven, empty}, 4);
}

static void range_i(int64_t s, int64_t l, int64_t dl, const int64_t *want,
                    size_t n) {
  tq_tensor *a = iscalar(s), *b = iscalar(l), *c = iscalar(dl);
  const tq_tensor *in[3] = {a, b, c};
  tq_tensor *o = run1("Range", 11, in, 3, NULL, 0);
  const int64_t od[1] = {(int64_t)n};
  check_shape(o, 1, od);
  check_i(o, want, n);
  destroy_all((tq_tensor *[]){a, b, c, o}, 4);
}

static void test_range(void **state) {
  (void)state;
  const int64_t w1[4] = {0, 3, 6, 9}, w2[4] = {10, 7, 4, 1};
  range_i(0, 10, 3, w1, 4);
  range_i(10, 0, -3, w2, 4);
  range_i(5, 0, 1, NULL, 0);
  const float s = 1, l = 2, dl = 0.25f;
  tq_tensor *a = tf(0, NULL, &s), *b = tf(0, NULL, &l), *c = tf(0, NULL, &dl);
  const tq_tensor *in[3] = {a, b, c};
  tq_tensor *o = run1("Range", 11, in, 3, NULL, 0);
  const float w3[4] = {1, 1.25f, 1.5f, 1.75f};
  check_f(o, w3, 4, 0);
  tq_tensor_destroy(o);
  tq_tensor *z = iscalar(0), *i1 = iscalar(1);
  const tq_tensor *bad[3] = {i1, i1, z};
  run_fail("Range", 11, bad, 3, NULL, 0, TQ_ERR_RANGE, "delta is 0");
  const tq_tensor *mixed[3] = {a, i1, i1};
  run_fail("Range", 11, mixed, 3, NULL, 0, TQ_ERR_SHAPE, "same type");
  destroy_all((tq_tensor *[]){a, b, c, z, i1}, 5);
}

static void test_expand_tile(void **state) {
  (void)state;
  const int64_t d31[2] = {3, 1};
  tq_tensor *x = tseq(2, d31);
  const int64_t s1[3] = {2, 1, 4};
  tq_tensor *ts = ivec(3, s1);
  const tq_tensor *in[2] = {x, ts};
  tq_tensor *o = run1("Expand", 13, in, 2, NULL, 0);
  const int64_t w1[3] = {2, 3, 4};
  check_shape(o, 3, w1);
  for (size_t i = 0; i < 24; i++)
    assert_true(tq_cf32(o)[i] == (float)((i / 4) % 3));
  tq_tensor_destroy(o);
  /* Shape dims of 1 keep the input's dims (bidirectional). */
  const int64_t d34[2] = {3, 4}, s2[2] = {1, 1};
  tq_tensor *x2 = tseq(2, d34), *ts2 = ivec(2, s2);
  const tq_tensor *in2[2] = {x2, ts2};
  o = run1("Expand", 13, in2, 2, NULL, 0);
  check_shape(o, 2, d34);
  check_f(o, tq_cf32(x2), 12, 0);
  tq_tensor_destroy(o);
  const int64_t s3[2] = {3, 5};
  tq_tensor *ts3 = ivec(2, s3);
  const tq_tensor *in3[2] = {x2, ts3};
  run_fail("Expand", 13, in3, 2, NULL, 0, TQ_ERR_SHAPE, "do not broadcast");
  /* Tile. */
  const int64_t d23[2] = {2, 3}, rep[2] = {2, 3};
  tq_tensor *x3 = tseq(2, d23), *tr = ivec(2, rep);
  const tq_tensor *in4[2] = {x3, tr};
  o = run1("Tile", 13, in4, 2, NULL, 0);
  const int64_t w4[2] = {4, 9};
  check_shape(o, 2, w4);
  for (int64_t r = 0; r < 4; r++)
    for (int64_t c = 0; c < 9; c++)
      assert_true(tq_cf32(o)[r * 9 + c] == (float)((r % 2) * 3 + c % 3));
  tq_tensor_destroy(o);
  const int64_t iv[2] = {4, 5}, r1[1] = {2};
  tq_tensor *xi = ivec(2, iv), *tr1 = ivec(1, r1);
  const tq_tensor *in5[2] = {xi, tr1};
  o = run1("Tile", 13, in5, 2, NULL, 0);
  const int64_t w5[4] = {4, 5, 4, 5};
  check_i(o, w5, 4);
  tq_tensor_destroy(o);
  const tq_tensor *in6[2] = {x3, tr1};
  run_fail("Tile", 13, in6, 2, NULL, 0, TQ_ERR_SHAPE, "rank 2");
  destroy_all((tq_tensor *[]){x, ts, x2, ts2, ts3, x3, tr, xi, tr1}, 9);
}

/* torch: x.view(x.size(0), -1) exports as Shape -> Gather(0) -> Unsqueeze
 * -> Concat(with -1) -> Reshape, all of it int64 arithmetic at plan time. */
static void flatten_pattern(int64_t opset) {
  const int64_t d[4] = {8, 512, 1, 1};
  tq_tensor *x = tseq(4, d);
  const tq_tensor *in1[1] = {x};
  tq_tensor *shape = run1("Shape", opset, in1, 1, NULL, 0);
  tq_tensor *zero = iscalar(0);
  const tq_tensor *in2[2] = {shape, zero};
  tq_tensor *n = run1("Gather", opset, in2, 2, NULL, 0);
  const int64_t ax0 = 0;
  tq_tensor *axes = ivec(1, &ax0);
  tq_attr_store at = a_ints("axes", &ax0, 1);
  const tq_tensor *in3[2] = {n, axes};
  tq_tensor *n1 = opset >= 13 ? run1("Unsqueeze", opset, in3, 2, NULL, 0)
                              : run1("Unsqueeze", opset, in3, 1, &at, 1);
  const int64_t m1 = -1;
  tq_tensor *minus = ivec(1, &m1);
  const tq_tensor *in4[2] = {n1, minus};
  tq_attr_store ax = a_int("axis", 0);
  tq_tensor *target = run1("Concat", opset, in4, 2, &ax, 1);
  const int64_t tw[2] = {8, -1};
  check_i(target, tw, 2);
  const tq_tensor *in5[2] = {x, target};
  tq_tensor *y = run1("Reshape", opset, in5, 2, NULL, 0);
  const int64_t yw[2] = {8, 512};
  check_shape(y, 2, yw);
  check_f(y, tq_cf32(x), x->numel, 0);
  destroy_all((tq_tensor *[]){x, shape, zero, n, axes, n1, minus, target, y},
              9);
}

static void test_flatten_pattern(void **state) {
  (void)state;
  flatten_pattern(9);
  flatten_pattern(11);
  flatten_pattern(13);
  flatten_pattern(17);
}

/* ---- Resize, Upsample
 * ------------------------------------------------------*/

static tq_tensor *img22(void) {
  const int64_t d[4] = {1, 1, 2, 2};
  const float v[4] = {1, 2, 3, 4};
  return tf(4, d, v);
}

static void test_resize(void **state) {
  (void)state;
  tq_tensor *x = img22();
  const int64_t d4[1] = {4};
  const float sc2[4] = {1, 1, 2, 2};
  tq_tensor *scales = tf(1, d4, sc2);
  tq_tensor *empty = tf(1, (const int64_t[]){0}, NULL);
  const int64_t o44[4] = {1, 1, 4, 4};
  const float rep[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  /* Nearest, every opset's way of passing the scales. */
  tq_attr_store up7 = a_floats("scales", sc2, 4);
  const tq_tensor *in1[1] = {x};
  tq_tensor *o = run1("Upsample", 7, in1, 1, &up7, 1);
  check_shape(o, 4, o44);
  check_f(o, rep, 16, 0);
  tq_tensor_destroy(o);
  const tq_tensor *in2[2] = {x, scales};
  o = run1("Upsample", 9, in2, 2, NULL, 0);
  check_f(o, rep, 16, 0);
  tq_tensor_destroy(o);
  o = run1("Resize", 10, in2, 2, NULL, 0);
  check_f(o, rep, 16, 0);
  tq_tensor_destroy(o);
  const tq_tensor *in3[3] = {x, empty, scales};
  o = run1("Resize", 11, in3, 3, NULL, 0); /* half_pixel, round_prefer_floor */
  check_f(o, rep, 16, 0);
  tq_tensor_destroy(o);
  tq_attr_store asym[2] = {
      a_str("coordinate_transformation_mode", "asymmetric"),
      a_str("nearest_mode", "floor")};
  o = run1("Resize", 13, in3, 3, asym, 2); /* torch's nearest */
  check_f(o, rep, 16, 0);
  tq_tensor_destroy(o);

  /* Bilinear, half_pixel = torch align_corners=False. */
  tq_attr_store lin[2] = {
      a_str("mode", "linear"),
      a_str("coordinate_transformation_mode", "pytorch_half_pixel")};
  o = run1("Resize", 13, in3, 3, lin, 2);
  const float bil[16] = {1.0f, 1.25f, 1.75f, 2.0f, 1.5f, 1.75f, 2.25f, 2.5f,
                         2.5f, 2.75f, 3.25f, 3.5f, 3.0f, 3.25f, 3.75f, 4.0f};
  check_f(o, bil, 16, 0);
  tq_tensor_destroy(o);
  o = run1("Resize", 13, in3, 3, lin, 1); /* half_pixel: the same here */
  check_f(o, bil, 16, 0);
  tq_tensor_destroy(o);
  /* align_corners with sizes (opset 13: empty roi and scales). */
  const int64_t sz[4] = {1, 1, 3, 3};
  tq_tensor *sizes = ivec(4, sz);
  const tq_tensor *in4[4] = {x, NULL, NULL, sizes};
  lin[1] = a_str("coordinate_transformation_mode", "align_corners");
  o = run1("Resize", 13, in4, 4, lin, 2);
  const float ac[9] = {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4};
  check_shape(o, 4, sz);
  check_f(o, ac, 9, 0);
  tq_tensor_destroy(o);
  /* Upsample-9 linear: asymmetric. */
  tq_attr_store ul = a_str("mode", "linear");
  o = run1("Upsample", 9, in2, 2, &ul, 1);
  const float uas[16] = {1, 1.5f, 2, 2, 2, 2.5f, 3, 3,
                         3, 3.5f, 4, 4, 3, 3.5f, 4, 4};
  check_f(o, uas, 16, 0);
  tq_tensor_destroy(o);
  /* Downsampling by 2 with nearest (asymmetric): every other pixel. */
  const int64_t d44[4] = {1, 1, 4, 4};
  tq_tensor *big = tseq(4, d44);
  const float half[4] = {1, 1, 0.5f, 0.5f};
  tq_tensor *sh = tf(1, d4, half);
  const tq_tensor *in5[3] = {big, empty, sh};
  o = run1("Resize", 13, in5, 3, asym, 2);
  const float dn[4] = {0, 2, 8, 10};
  check_f(o, dn, 4, 0);
  tq_tensor_destroy(o);
  /* Errors. */
  tq_attr_store aa[2] = {a_str("mode", "linear"), a_int("antialias", 1)};
  run_fail("Resize", 18, in3, 3, aa, 2, TQ_ERR_UNSUPPORTED, "antialias");
  tq_attr_store cub = a_str("mode", "cubic");
  run_fail("Resize", 13, in3, 3, &cub, 1, TQ_ERR_UNSUPPORTED, "'cubic'");
  const tq_tensor *both[4] = {x, empty, scales, sizes};
  run_fail("Resize", 13, both, 4, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "both 'scales' and 'sizes'");
  const tq_tensor *none[2] = {x, empty};
  run_fail("Resize", 13, none, 2, NULL, 0, TQ_ERR_INVALID_ARGUMENT,
           "needs 'scales'");
  destroy_all((tq_tensor *[]){x, scales, empty, sizes, big, sh}, 6);
}

/* ---- ScatterND (slice assignment) -----------------------------------------*/

static void test_scatternd(void **state) {
  (void)state;
  const int64_t d43[2] = {4, 3};
  tq_tensor *x = tseq(2, d43);
  /* Whole rows: indices [2, 1], updates [2, 3]; a negative index. */
  const int64_t rows[2] = {1, -1}, d21[2] = {2, 1}, d23[2] = {2, 3};
  const float uv[6] = {-1, -2, -3, -4, -5, -6};
  tq_tensor *ir = ti(2, d21, rows), *u = tf(2, d23, uv);
  const tq_tensor *in[3] = {x, ir, u};
  tq_tensor *o = run1("ScatterND", 13, in, 3, NULL, 0);
  const float w1[12] = {0, 1, 2, -1, -2, -3, 6, 7, 8, -4, -5, -6};
  check_shape(o, 2, d43);
  check_f(o, w1, 12, 0);
  tq_tensor_destroy(o);
  tq_attr_store red = a_str("reduction", "add");
  o = run1("ScatterND", 16, in, 3, &red, 1);
  const float w2[12] = {0, 1, 2, 2, 2, 2, 6, 7, 8, 5, 5, 5};
  check_f(o, w2, 12, 0);
  tq_tensor_destroy(o);
  /* Single elements: indices [2, 2], updates [2]; int64 data. */
  const int64_t el[4] = {0, 2, 3, 0}, d22[2] = {2, 2}, iu[2] = {70, 80};
  tq_tensor *ie = ti(2, d22, el), *xi = ti(2, d43, NULL), *ui = ivec(2, iu);
  const tq_tensor *in2[3] = {xi, ie, ui};
  o = run1("ScatterND", 13, in2, 3, NULL, 0);
  const int64_t w3[12] = {0, 0, 70, 0, 0, 0, 0, 0, 0, 80, 0, 0};
  check_i(o, w3, 12);
  tq_tensor_destroy(o);
  /* Errors. */
  const int64_t far[2] = {1, 4};
  tq_tensor *ifar = ti(2, d21, far);
  const tq_tensor *in3[3] = {x, ifar, u};
  run_fail("ScatterND", 13, in3, 3, NULL, 0, TQ_ERR_RANGE,
           "index 4 is out of range for axis 0 of size 4");
  const tq_tensor *in4[3] = {x, ie, u};
  run_fail("ScatterND", 13, in4, 3, NULL, 0, TQ_ERR_SHAPE, "do not fit data");
  red = a_str("reduction", "none2");
  run_fail("ScatterND", 18, in, 3, &red, 1, TQ_ERR_UNSUPPORTED, "'none2'");
  destroy_all((tq_tensor *[]){x, ir, u, ie, xi, ui, ifar}, 7);
}

static void test_registry(void **state) {
  (void)state;
  static const char *const ops[] = {
      "Shape",           "Size",      "Gather",    "Concat",
      "Split",           "Slice",     "Flatten",   "Reshape",
      "Transpose",       "Squeeze",   "Unsqueeze", "Pad",
      "ReduceMean",      "ReduceSum", "ReduceMax", "Constant",
      "ConstantOfShape", "Range",     "Expand",    "Tile",
      "Resize",          "Upsample",  "ScatterND"};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    const tq_op_desc *e = op_desc(ops[i], 17);
    assert_false(e->flags & TQ_OPF_WEIGHTS);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_shape_size),
      cmocka_unit_test(test_gather),
      cmocka_unit_test(test_concat),
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_slice_1d),
      cmocka_unit_test(test_slice_nd),
      cmocka_unit_test(test_slice_large),
      cmocka_unit_test(test_flatten),
      cmocka_unit_test(test_reshape),
      cmocka_unit_test(test_transpose),
      cmocka_unit_test(test_squeeze_unsqueeze),
      cmocka_unit_test(test_pad),
      cmocka_unit_test(test_pad_large),
      cmocka_unit_test(test_reduce),
      cmocka_unit_test(test_constants),
      cmocka_unit_test(test_range),
      cmocka_unit_test(test_expand_tile),
      cmocka_unit_test(test_flatten_pattern),
      cmocka_unit_test(test_resize),
      cmocka_unit_test(test_scatternd),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
