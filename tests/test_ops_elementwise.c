/* Elementwise and activation operators, called directly through their
 * table entries (infer, then forward) as the executor does at plan time:
 * broadcasting of every kind against a naive reference, int64 shape
 * arithmetic, opset-dependent semantics (Softmax, Clip, legacy broadcast),
 * numerics at the extremes, and error messages. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "op_harness.h"

/* ---- broadcasting against a naive reference
 * --------------------------------*/

/* Flat index into a tensor of shape s broadcast into out's coordinates. */
static size_t bidx(const tq_shape *s, const tq_shape *out, size_t flat) {
  int64_t coord[TQ_MAX_DIMS];
  for (int d = out->ndim - 1; d >= 0; d--) {
    coord[d] = (int64_t)(flat % (size_t)out->dims[d]);
    flat /= (size_t)out->dims[d];
  }
  size_t idx = 0;
  int off = out->ndim - s->ndim;
  for (int d = 0; d < s->ndim; d++) {
    int64_t c = s->dims[d] == 1 ? 0 : coord[d + off];
    idx = idx * (size_t)s->dims[d] + (size_t)c;
  }
  return idx;
}

static float ref_bin(const char *op, float x, float y) {
  if (!strcmp(op, "Add")) return x + y;
  if (!strcmp(op, "Sub")) return x - y;
  if (!strcmp(op, "Mul")) return x * y;
  if (!strcmp(op, "Div")) return x / y;
  if (!strcmp(op, "Pow")) return powf(fabsf(x), y);
  if (!strcmp(op, "PRelu")) return x > 0 ? x : x * y;
  if (!strcmp(op, "Max")) return x > y ? x : y;
  if (!strcmp(op, "Min")) return x < y ? x : y;
  return NAN;
}

static void check_broadcast(const char *op, int na, const int64_t *da, int nb,
                            const int64_t *db, int threads) {
  tq_tensor *a = trand(na, da, 11 + (uint64_t)na);
  tq_tensor *b = trand(nb, db, 97 + (uint64_t)nb);
  if (!strcmp(op, "Pow"))
    for (size_t i = 0; i < a->numel; i++) tq_f32(a)[i] = fabsf(tq_f32(a)[i]);
  const tq_tensor *in[2] = {a, b};
  tq_tensor *out = NULL;
  tq_status st = run_op_n(op, 17, in, 2, NULL, 0, &out, 1, threads);
  if (st != TQ_OK) fail_msg("%s: %s", op, tq_context_last_error(g_ctx));
  for (size_t i = 0; i < out->numel; i++) {
    float x = tq_cf32(a)[bidx(&a->shape, &out->shape, i)];
    float y = tq_cf32(b)[bidx(&b->shape, &out->shape, i)];
    float want = ref_bin(op, x, y), got = tq_cf32(out)[i];
    if (memcmp(&want, &got, sizeof got) != 0 && !(isnan(want) && isnan(got)))
      fail_msg("%s element %zu: got %.9g, expected %.9g (x=%g y=%g)", op, i,
               got, want, x, y);
  }
  tq_tensor_destroy(a);
  tq_tensor_destroy(b);
  tq_tensor_destroy(out);
}

static void test_broadcast_kinds(void **state) {
  (void)state;
  static const struct {
    int na;
    int64_t da[6];
    int nb;
    int64_t db[6];
  } cases[] = {
      {4, {2, 3, 4, 5}, 4, {2, 3, 4, 5}},          /* same shape */
      {4, {2, 3, 4, 5}, 0, {0}},                   /* scalar */
      {0, {0}, 3, {2, 3, 4}},                      /* scalar first */
      {4, {2, 3, 4, 5}, 4, {1, 3, 1, 1}},          /* per channel */
      {4, {1, 3, 1, 1}, 4, {2, 3, 4, 5}},          /* per channel first */
      {4, {2, 3, 4, 5}, 3, {3, 1, 1}},             /* channel, lower rank */
      {2, {3, 1}, 2, {1, 4}},                      /* outer product */
      {3, {2, 3, 5}, 1, {5}},                      /* trailing vector */
      {3, {2, 1, 4}, 2, {3, 1}},                   /* both sides */
      {4, {2, 3, 4, 5}, 4, {2, 1, 4, 1}},          /* interleaved */
      {6, {2, 1, 3, 1, 2, 2}, 5, {2, 1, 3, 2, 1}}, /* rank 6 */
      {2, {0, 3}, 1, {3}},                         /* empty */
      {1, {1}, 1, {1}},                            /* one element */
      {2, {3, 17}, 2, {3, 17}},                    /* odd lengths */
  };
  static const char *const ops[] = {"Add", "Sub", "Mul", "Div",
                                    "Pow", "Max", "Min"};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
      const char *op = ops[o];
      /* Min/Max are variadic; the others binary. */
      check_broadcast(op, cases[k].na, cases[k].da, cases[k].nb, cases[k].db,
                      1);
      check_broadcast(op, cases[k].na, cases[k].da, cases[k].nb, cases[k].db,
                      4);
    }
}

/* Tensors above one chunk take the parallel paths: rows cut into chunks,
 * several rows per task. */
static void test_broadcast_large(void **state) {
  (void)state;
  const int64_t big[4] = {2, 64, 56, 56}, ch[4] = {1, 64, 1, 1}, vec[1] = {56},
                one[4] = {2, 1, 56, 56};
  check_broadcast("Add", 4, big, 4, big, 4);
  check_broadcast("Add", 4, big, 4, ch, 4);
  check_broadcast("Mul", 4, ch, 4, big, 3);
  check_broadcast("Sub", 4, big, 1, vec, 4);
  check_broadcast("Div", 4, big, 4, one, 2);
  const int64_t lin[1] = {100003}, sc[1] = {1};
  check_broadcast("Add", 1, lin, 1, sc, 4);
  check_broadcast("Max", 1, lin, 1, lin, 4);
}

static void test_prelu(void **state) {
  (void)state;
  const int64_t x4[4] = {2, 3, 4, 5}, s3[3] = {3, 1, 1}, s1[1] = {1};
  check_broadcast("PRelu", 4, x4, 3, s3, 4);
  check_broadcast("PRelu", 4, x4, 1, s1, 1);
  /* The slope must broadcast to X, not X to the slope. */
  const int64_t xs[2] = {3, 1}, sl[2] = {3, 4};
  tq_tensor *x = trand(2, xs, 1), *s = trand(2, sl, 2);
  const tq_tensor *in[2] = {x, s};
  run_fail("PRelu", 16, in, 2, NULL, 0, TQ_ERR_SHAPE, "unidirectional");
  const tq_op_desc *e = op_desc("PRelu", 16);
  assert_true(e->flags & TQ_OPF_WEIGHTS);
  tq_tensor_destroy(x);
  tq_tensor_destroy(s);
}

static void test_broadcast_errors(void **state) {
  (void)state;
  const int64_t da[2] = {2, 3}, db[1] = {4};
  tq_tensor *a = trand(2, da, 1), *b = trand(1, db, 2);
  const tq_tensor *in[2] = {a, b};
  run_fail("Add", 17, in, 2, NULL, 0, TQ_ERR_SHAPE, "[2, 3] and [4]");
  tq_tensor *i = ti(1, db, NULL);
  const tq_tensor *mixed[2] = {a, i};
  run_fail("Mul", 17, mixed, 2, NULL, 0, TQ_ERR_UNSUPPORTED, "different types");
  const tq_tensor *one[1] = {a};
  run_fail("Sub", 17, one, 1, NULL, 0, TQ_ERR_INVALID_ARGUMENT, "two inputs");
  tq_tensor_destroy(a);
  tq_tensor_destroy(b);
  tq_tensor_destroy(i);
}

/* Before opset 7: broadcast=1 aligns B with A at axis. */
static void test_legacy_broadcast(void **state) {
  (void)state;
  const int64_t da[3] = {2, 3, 2}, db[1] = {3};
  float av[12], bv[3] = {10, 20, 30};
  for (int i = 0; i < 12; i++) av[i] = (float)i;
  tq_tensor *a = tf(3, da, av), *b = tf(1, db, bv);
  const tq_tensor *in[2] = {a, b};
  tq_attr_store at[2] = {a_int("broadcast", 1), a_int("axis", 1)};
  tq_tensor *o = run1("Add", 6, in, 2, at, 2);
  float want[12];
  for (int i = 0; i < 12; i++) want[i] = (float)i + bv[(i / 2) % 3];
  check_f(o, want, 12, 0);
  tq_tensor_destroy(o);
  /* Without broadcast=1 the shapes must be equal. */
  run_fail("Add", 6, in, 2, NULL, 0, TQ_ERR_SHAPE, "broadcast=0");
  /* From opset 7 the same pair is plain numpy broadcasting, which fails. */
  run_fail("Add", 7, in, 2, NULL, 0, TQ_ERR_SHAPE, "do not broadcast");
  tq_tensor_destroy(a);
  tq_tensor_destroy(b);
}

/* ---- int64 shape arithmetic
 * ------------------------------------------------*/

static void test_int64_arith(void **state) {
  (void)state;
  const int64_t d3[1] = {3}, d0[1] = {0};
  const int64_t av[3] = {7, -7, 224}, bv[3] = {2, 2, 32};
  tq_tensor *a = ti(1, d3, av), *b = ti(1, d3, bv);
  const tq_tensor *in[2] = {a, b};
  static const struct {
    const char *op;
    int64_t want[3];
  } cases[] = {
      {"Add", {9, -5, 256}},
      {"Sub", {5, -9, 192}},
      {"Mul", {14, -14, 7168}},
      {"Div", {3, -3, 7}}, /* truncates, as ONNX Runtime */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    tq_tensor *o = run1(cases[k].op, 13, in, 2, NULL, 0);
    check_i(o, cases[k].want, 3);
    tq_tensor_destroy(o);
  }
  /* Comparisons give bools. */
  static const struct {
    const char *op;
    double want[3];
  } cmp[] = {{"Equal", {0, 0, 0}}, {"Less", {0, 1, 0}}, {"Greater", {1, 0, 1}}};
  for (size_t k = 0; k < sizeof cmp / sizeof cmp[0]; k++) {
    tq_tensor *o = run1(cmp[k].op, 13, in, 2, NULL, 0);
    check_t(o, TQ_DTYPE_BOOL, cmp[k].want, 3);
    tq_tensor_destroy(o);
  }
  /* Mod: the sign of the divisor with fmod=0, of the dividend with 1. */
  tq_tensor *o = run1("Mod", 13, in, 2, NULL, 0);
  const int64_t m0[3] = {1, 1, 0};
  check_i(o, m0, 3);
  tq_tensor_destroy(o);
  tq_attr_store fm = a_int("fmod", 1);
  o = run1("Mod", 13, in, 2, &fm, 1);
  const int64_t m1[3] = {1, -1, 0};
  check_i(o, m1, 3);
  tq_tensor_destroy(o);
  /* Scalar times vector (batch * channels), variadic Max/Min/Sum. */
  const int64_t sv[1] = {-1};
  tq_tensor *s = ti(0, d0, sv);
  const tq_tensor *in2[2] = {s, a};
  o = run1("Mul", 13, in2, 2, NULL, 0);
  const int64_t neg[3] = {-7, 7, -224};
  check_i(o, neg, 3);
  tq_tensor_destroy(o);
  const tq_tensor *in3[3] = {a, b, s};
  o = run1("Max", 13, in3, 3, NULL, 0);
  const int64_t mx[3] = {7, 2, 224};
  check_i(o, mx, 3);
  tq_tensor_destroy(o);
  o = run1("Sum", 13, in3, 3, NULL, 0);
  const int64_t sm[3] = {8, -6, 255};
  check_i(o, sm, 3);
  tq_tensor_destroy(o);
  /* Overflow wraps instead of being undefined; division by zero fails. */
  const int64_t big[3] = {INT64_MAX, INT64_MIN, 0}, zero[3] = {1, -1, 0};
  tq_tensor *bg = ti(1, d3, big), *z = ti(1, d3, zero);
  const tq_tensor *ov[2] = {bg, z};
  o = run1("Add", 13, ov, 2, NULL, 0);
  const int64_t wrapped[3] = {INT64_MIN, INT64_MAX, 0};
  check_i(o, wrapped, 3);
  tq_tensor_destroy(o);
  run_fail("Div", 13, ov, 2, NULL, 0, TQ_ERR_RANGE, "division by zero");
  const tq_tensor *mn[1] = {a};
  run_fail("Mean", 13, mn, 1, NULL, 0, TQ_ERR_UNSUPPORTED,
           "input 0 is int64; Mean takes float32 there");
  o = run1("Neg", 13, mn, 1, NULL, 0);
  check_i(o, neg, 3);
  tq_tensor_destroy(o);
  tq_tensor_destroy(a);
  tq_tensor_destroy(b);
  tq_tensor_destroy(s);
  tq_tensor_destroy(bg);
  tq_tensor_destroy(z);
  /* Descriptor types: what each operator computes in. */
  assert_true(op_desc("Mul", 17)->in_types[0] & TQ_DTM_I64);
  assert_int_equal(op_desc("Mean", 17)->in_types[0], TQ_DTM_F32);
  assert_int_equal(op_desc("Relu", 17)->n_in_types, 0); /* float32 */
}

static void test_compare_where(void **state) {
  (void)state;
  const int64_t d4[1] = {4}, d22[2] = {2, 1};
  const float xv[4] = {1, 2, 3, NAN}, yv[4] = {1, 3, 2, NAN};
  tq_tensor *x = tf(1, d4, xv), *y = tf(1, d4, yv);
  const tq_tensor *in[2] = {x, y};
  tq_tensor *o = run1("Equal", 11, in, 2, NULL, 0);
  const double eq[4] = {1, 0, 0, 0};
  check_t(o, TQ_DTYPE_BOOL, eq, 4);
  tq_tensor_destroy(o);
  o = run1("GreaterOrEqual", 16, in, 2, NULL, 0);
  const double ge[4] = {1, 0, 1, 0};
  check_t(o, TQ_DTYPE_BOOL, ge, 4);
  /* Where(cond [4], X [2,1], Y [4]) broadcasts to [2,4]. */
  const float wx[2] = {-1, -2};
  tq_tensor *xw = tf(2, d22, wx);
  const tq_tensor *w[3] = {o, xw, y};
  tq_tensor *r = run1("Where", 16, w, 3, NULL, 0);
  const int64_t d24[2] = {2, 4};
  check_shape(r, 2, d24);
  const float want[8] = {-1, 3, -1, NAN, -2, 3, -2, NAN};
  check_f(r, want, 8, 0);
  tq_tensor_destroy(r);
  tq_tensor_destroy(o);
  /* Logic on booleans. */
  const double bv1[4] = {0, 1, 1, 0}, bv2[4] = {0, 0, 1, 1};
  tq_tensor *b1 = tt(TQ_DTYPE_BOOL, 1, d4, bv1),
            *b2 = tt(TQ_DTYPE_BOOL, 1, d4, bv2);
  const tq_tensor *bb[2] = {b1, b2};
  static const struct {
    const char *op;
    double want[4];
  } logic[] = {
      {"And", {0, 0, 1, 0}}, {"Or", {0, 1, 1, 1}}, {"Xor", {0, 1, 0, 1}}};
  for (size_t k = 0; k < 3; k++) {
    o = run1(logic[k].op, 7, bb, 2, NULL, 0);
    check_t(o, TQ_DTYPE_BOOL, logic[k].want, 4);
    tq_tensor_destroy(o);
  }
  const tq_tensor *nb[1] = {b1};
  o = run1("Not", 1, nb, 1, NULL, 0);
  const double notw[4] = {1, 0, 0, 1};
  check_t(o, TQ_DTYPE_BOOL, notw, 4);
  tq_tensor_destroy(o);
  /* At run time too: a masked_fill on activations. */
  g_plan_time = 0;
  o = run1("Equal", 13, in, 2, NULL, 0);
  check_t(o, TQ_DTYPE_BOOL, eq, 4);
  const tq_tensor *nf[1] = {o};
  tq_tensor *no = run1("Not", 1, nf, 1, NULL, 0);
  const double notf[4] = {0, 1, 1, 1};
  check_t(no, TQ_DTYPE_BOOL, notf, 4);
  const tq_tensor *af[2] = {o, no};
  tq_tensor *ao = run1("Or", 7, af, 2, NULL, 0);
  const double orf[4] = {1, 1, 1, 1};
  check_t(ao, TQ_DTYPE_BOOL, orf, 4);
  const float fill = -100.0f;
  tq_tensor *tfill = tf(0, NULL, &fill);
  const tq_tensor *wf[3] = {no, tfill, x};
  tq_tensor *wo = run1("Where", 16, wf, 3, NULL, 0);
  const float wfw[4] = {1, -100, -100, -100};
  check_f(wo, wfw, 4, 0);
  g_plan_time = 1;
  /* Logic and Where's condition take bools only; the message names the
   * input and its dtype. */
  const tq_tensor *fx[2] = {x, y};
  run_fail("And", 7, fx, 2, NULL, 0, TQ_ERR_UNSUPPORTED,
           "input 0 is float32; And takes bool there");
  const tq_tensor *wbad[3] = {x, x, y};
  run_fail("Where", 16, wbad, 3, NULL, 0, TQ_ERR_UNSUPPORTED,
           "input 0 is float32; Where takes bool there");
  tq_tensor *ints[] = {o, no, ao, tfill, wo, b1, b2, xw, x, y};
  for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
    tq_tensor_destroy(ints[k]);
}

/* ---- variadic, unary, identity, cast
 * ---------------------------------------*/

static void test_variadic(void **state) {
  (void)state;
  const int64_t d23[2] = {2, 3}, d3[1] = {3}, d21[2] = {2, 1};
  const float av[6] = {1, 2, 3, 4, 5, 6}, bv[3] = {10, -20, 30},
              cv[2] = {100, NAN};
  tq_tensor *a = tf(2, d23, av), *b = tf(1, d3, bv), *c = tf(2, d21, cv);
  const tq_tensor *in[3] = {a, b, c};
  tq_tensor *o = run1("Sum", 13, in, 3, NULL, 0);
  const float sum[6] = {111, 82, 133, NAN, NAN, NAN};
  check_f(o, sum, 6, 0);
  tq_tensor_destroy(o);
  o = run1("Mean", 13, in, 3, NULL, 0);
  /* Sum times 1/n in float (ONNX Runtime's formula). */
  const float third = 1.0f / 3.0f;
  const float mean[6] = {
      111.0f * third, 82.0f * third, 133.0f * third, NAN, NAN, NAN};
  check_f(o, mean, 6, 0);
  tq_tensor_destroy(o);
  /* NaN propagates through Max and Min. */
  o = run1("Max", 13, in, 3, NULL, 0);
  const float mx[6] = {100, 100, 100, NAN, NAN, NAN};
  check_f(o, mx, 6, 0);
  tq_tensor_destroy(o);
  o = run1("Min", 13, in, 2, NULL, 0);
  const float mn[6] = {1, -20, 3, 4, -20, 6};
  check_f(o, mn, 6, 0);
  tq_tensor_destroy(o);
  const tq_tensor *single[1] = {b};
  o = run1("Sum", 8, single, 1, NULL, 0);
  check_f(o, bv, 3, 0);
  tq_tensor_destroy(o);
  tq_tensor_destroy(a);
  tq_tensor_destroy(b);
  tq_tensor_destroy(c);
}

static void test_unary(void **state) {
  (void)state;
  const int64_t d[1] = {6};
  const float xv[6] = {-2.5f, -0.5f, 0.0f, 0.5f, 1.5f, 4.0f};
  const float round_even[6] = {-2.0f, -0.0f, 0.0f, 0.0f, 2.0f, 4.0f};
  tq_tensor *x = tf(1, d, xv);
  const tq_tensor *in[1] = {x};
  static const char *const ops[] = {"Sqrt",  "Exp",        "Log",   "Abs",
                                    "Neg",   "Reciprocal", "Floor", "Ceil",
                                    "Round", "Sign",       "Erf"};
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    tq_tensor *o = run1(ops[k], 13, in, 1, NULL, 0);
    for (int i = 0; i < 6; i++) {
      float v = xv[i], w;
      switch (k) {
        case 0: w = sqrtf(v); break;
        case 1: w = expf(v); break;
        case 2: w = logf(v); break;
        case 3: w = fabsf(v); break;
        case 4: w = -v; break;
        case 5: w = 1.0f / v; break;
        case 6: w = floorf(v); break;
        case 7: w = ceilf(v); break;
        case 8: w = round_even[i]; break;
        case 9: w = v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f; break;
        default: w = erff(v); break;
      }
      float g = tq_cf32(o)[i];
      if (!(g == w || (isnan(g) && isnan(w))))
        fail_msg("%s(%g) = %g, expected %g", ops[k], v, g, w);
    }
    tq_tensor_destroy(o);
  }
  /* Round: halves to even. */
  tq_tensor *o = run1("Round", 11, in, 1, NULL, 0);
  assert_true(tq_cf32(o)[0] == -2.0f && tq_cf32(o)[1] == -0.0f &&
              tq_cf32(o)[4] == 2.0f);
  tq_tensor_destroy(o);
  /* Float-only ops refuse int64. */
  const int64_t iv[6] = {1, 2, 3, 4, 5, 6};
  tq_tensor *xi = ti(1, d, iv);
  const tq_tensor *ii[1] = {xi};
  run_fail("Sqrt", 13, ii, 1, NULL, 0, TQ_ERR_UNSUPPORTED, "int64");
  tq_tensor_destroy(xi);
  tq_tensor_destroy(x);
}

static void test_identity_dropout(void **state) {
  (void)state;
  const int64_t d[2] = {2, 2};
  const float xv[4] = {1, -2, 3, -4};
  tq_tensor *x = tf(2, d, xv);
  const tq_tensor *in[1] = {x};
  tq_tensor *o = run1("Identity", 13, in, 1, NULL, 0);
  check_f(o, xv, 4, 0);
  check_shape(o, 2, d);
  tq_tensor_destroy(o);
  /* Dropout at inference: identity, and a mask of ones when asked. */
  tq_tensor *outs[2];
  tq_attr_store ratio = a_float("ratio", 0.5f);
  assert_int_equal(run_op_n("Dropout", 10, in, 1, &ratio, 1, outs, 2, 1),
                   TQ_OK);
  check_f(outs[0], xv, 4, 0);
  const double ones[4] = {1, 1, 1, 1};
  check_t(outs[1], TQ_DTYPE_BOOL, ones, 4);
  tq_tensor_destroy(outs[0]);
  tq_tensor_destroy(outs[1]);
  const int64_t iv[4] = {5, 6, 7, 8};
  tq_tensor *xi = ti(2, d, iv);
  const tq_tensor *ii[1] = {xi};
  o = run1("Identity", 13, ii, 1, NULL, 0);
  check_i(o, iv, 4);
  tq_tensor_destroy(o);
  tq_tensor_destroy(xi);
  tq_tensor_destroy(x);
}

static void test_cast(void **state) {
  (void)state;
  const int64_t d[1] = {6};
  const float xv[6] = {2.7f, -2.7f, 0.0f, NAN, 1e30f, -0.5f};
  tq_tensor *x = tf(1, d, xv);
  const tq_tensor *in[1] = {x};
  /* float -> int64 truncates; NaN gives 0, out of range saturates. */
  tq_attr_store to = a_int("to", 7);
  tq_tensor *o = run1("Cast", 13, in, 1, &to, 1);
  const int64_t trunc[6] = {2, -2, 0, 0, INT64_MAX, 0};
  check_i(o, trunc, 6);
  /* int64 -> float rounds to nearest even. */
  const tq_tensor *back[1] = {o};
  to = a_int("to", 1);
  tq_tensor *f = run1("Cast", 13, back, 1, &to, 1);
  const float fw[6] = {2, -2, 0, 0, 9223372036854775807.0f, 0};
  check_f(f, fw, 6, 0);
  tq_tensor_destroy(f);
  /* To double, and back exactly. */
  to = a_int("to", 11);
  f = run1("Cast", 9, in, 1, &to, 1);
  const double dw[6] = {(double)2.7f, (double)-2.7f, 0,
                        NAN,          (double)1e30f, -0.5};
  check_t(f, TQ_DTYPE_FLOAT64, dw, 6);
  const tq_tensor *fd[1] = {f};
  to = a_int("to", 1);
  tq_tensor *f2 = run1("Cast", 13, fd, 1, &to, 1);
  check_f(f2, xv, 6, 0);
  tq_tensor_destroy(f2);
  tq_tensor_destroy(f);
  /* bool: any non-zero value (NaN too) is true. */
  to = a_int("to", 9);
  tq_tensor *bo = run1("Cast", 13, in, 1, &to, 1);
  const double bw[6] = {1, 1, 0, 1, 1, 1};
  check_t(bo, TQ_DTYPE_BOOL, bw, 6);
  tq_tensor_destroy(bo);
  /* int32 saturates at its own range. */
  to = a_int("to", 6);
  bo = run1("Cast", 13, in, 1, &to, 1);
  const double i32[6] = {2, -2, 0, 0, 2147483647, 0};
  check_t(bo, TQ_DTYPE_INT32, i32, 6);
  tq_tensor_destroy(bo);
  /* float16 rounds to nearest even, overflow is infinity. */
  to = a_int("to", 10);
  bo = run1("Cast", 13, in, 1, &to, 1);
  const double h[6] = {2.69921875, -2.69921875, 0, NAN, INFINITY, -0.5};
  check_t(bo, TQ_DTYPE_FLOAT16, h, 6);
  tq_tensor_destroy(bo);
  /* CastLike takes the dtype of its second input. */
  const tq_tensor *cl[2] = {x, o};
  bo = run1("CastLike", 15, cl, 2, NULL, 0);
  check_i(bo, trunc, 6);
  tq_tensor_destroy(bo);
  /* The same at run time. */
  g_plan_time = 0;
  to = a_int("to", 7);
  bo = run1("Cast", 13, in, 1, &to, 1);
  check_i(bo, trunc, 6);
  tq_tensor_destroy(bo);
  g_plan_time = 1;
  /* int16 and uint16 are held as int64, wrapped or saturated to their
   * range. */
  const double big[3] = {70000, -1, 40000.5};
  tq_tensor *bgf = tt(TQ_DTYPE_FLOAT32, 1, (const int64_t[]){3}, big);
  tq_tensor *bgi = tt(TQ_DTYPE_INT64, 1, (const int64_t[]){3}, big);
  const tq_tensor *bf1[1] = {bgf}, *bi1[1] = {bgi};
  to = a_int("to", 5);
  bo = run1("Cast", 13, bf1, 1, &to, 1);
  const double sat16[3] = {32767, -1, 32767};
  check_t(bo, TQ_DTYPE_INT64, sat16, 3);
  tq_tensor_destroy(bo);
  to = a_int("to", 4);
  bo = run1("Cast", 13, bi1, 1, &to, 1);
  const double wrap16[3] = {4464, 65535, 40000};
  check_t(bo, TQ_DTYPE_INT64, wrap16, 3);
  tq_tensor_destroy(bo);
  tq_tensor_destroy(bgf);
  tq_tensor_destroy(bgi);
  to = a_int("to", 8);
  run_fail("Cast", 13, in, 1, &to, 1, TQ_ERR_UNSUPPORTED, "string");
  to = a_int("to", 14);
  run_fail("Cast", 13, in, 1, &to, 1, TQ_ERR_UNSUPPORTED, "data type 14");
  run_fail("Cast", 13, in, 1, NULL, 0, TQ_ERR_INVALID_ARGUMENT, "'to'");
  tq_tensor_destroy(o);
  tq_tensor_destroy(x);
}

/* ---- activations
 * -----------------------------------------------------------*/

static void test_activations(void **state) {
  (void)state;
  const int64_t d[1] = {9};
  const float xv[9] = {-1000.0f, -20.0f, -1.0f,  -0.0f, 0.0f,
                       0.25f,    3.0f,   100.0f, NAN};
  tq_tensor *x = tf(1, d, xv);
  const tq_tensor *in[1] = {x};
  tq_tensor *o;

  o = run1("Relu", 14, in, 1, NULL, 0);
  const float relu[9] = {0, 0, 0, 0, 0, 0.25f, 3, 100, NAN};
  check_f(o, relu, 9, 0);
  assert_false(signbit(tq_cf32(o)[3])); /* -0 becomes +0 */
  tq_tensor_destroy(o);

  tq_attr_store al = a_float("alpha", 0.1f);
  o = run1("LeakyRelu", 16, in, 1, &al, 1);
  const float leaky[9] = {-100.0f, -2.0f, -0.1f, -0.0f, 0, 0.25f, 3, 100, NAN};
  check_f(o, leaky, 9, 1e-7f);
  tq_tensor_destroy(o);

  /* Sigmoid saturates without overflow and without NaN. */
  o = run1("Sigmoid", 13, in, 1, NULL, 0);
  for (int i = 0; i < 8; i++) {
    float want = (float)(1.0 / (1.0 + exp(-(double)xv[i])));
    float g = tq_cf32(o)[i];
    assert_false(isnan(g));
    if (fabsf(g - want) > 2e-7f * fmaxf(want, 1e-30f) &&
        fabsf(g - want) > 1e-37f)
      fail_msg("sigmoid(%g) = %.9g, expected %.9g", xv[i], g, want);
  }
  assert_true(isnan(tq_cf32(o)[8]));
  assert_true(tq_cf32(o)[7] == 1.0f && tq_cf32(o)[0] == 0.0f);
  tq_tensor_destroy(o);

  o = run1("Softplus", 13, in, 1, NULL, 0);
  for (int i = 0; i < 8; i++) {
    double want = log1p(exp(-fabs((double)xv[i]))) + fmax((double)xv[i], 0);
    if (fabs(tq_cf32(o)[i] - want) > 1e-6 * fmax(1.0, fabs(want)))
      fail_msg("softplus(%g) = %.9g, expected %.9g", xv[i], tq_cf32(o)[i],
               want);
  }
  tq_tensor_destroy(o);

  /* HardSigmoid defaults alpha 0.2, beta 0.5; HardSwish x*relu6(x+3)/6. */
  o = run1("HardSigmoid", 6, in, 1, NULL, 0);
  const float hs[9] = {0, 0, 0.3f, 0.5f, 0.5f, 0.55f, 1, 1, NAN};
  check_f(o, hs, 9, 1e-7f);
  tq_tensor_destroy(o);
  o = run1("HardSwish", 14, in, 1, NULL, 0);
  for (int i = 0; i < 8; i++) {
    double v = xv[i], want = v * fmin(fmax(v + 3, 0), 6) / 6;
    if (fabs(tq_cf32(o)[i] - want) > 1e-6 * fmax(1.0, fabs(want)))
      fail_msg("hardswish(%g) = %.9g, expected %.9g", v, tq_cf32(o)[i], want);
  }
  tq_tensor_destroy(o);

  o = run1("Elu", 6, in, 1, NULL, 0);
  assert_true(tq_cf32(o)[0] == -1.0f);
  assert_true(fabsf(tq_cf32(o)[2] - (float)expm1(-1.0)) < 1e-7f);
  assert_true(tq_cf32(o)[6] == 3.0f);
  tq_tensor_destroy(o);
  o = run1("Selu", 6, in, 1, NULL, 0);
  assert_true(fabsf(tq_cf32(o)[6] - 3.0f * 1.0507009873554805f) < 1e-6f);
  assert_true(fabsf(tq_cf32(o)[0] + 1.0507009873554805f * 1.6732632423543772f) <
              1e-6f);
  tq_tensor_destroy(o);
  o = run1("Tanh", 13, in, 1, NULL, 0);
  assert_true(tq_cf32(o)[0] == -1.0f && tq_cf32(o)[7] == 1.0f);
  assert_true(tq_cf32(o)[2] == tanhf(-1.0f));
  tq_tensor_destroy(o);
  o = run1("Gelu", 20, in, 1, NULL, 0);
  assert_true(fabsf(tq_cf32(o)[6] - 2.99595031f) < 1e-6f);
  assert_true(tq_cf32(o)[0] == -0.0f);
  tq_tensor_destroy(o);
  tq_attr_store ap = a_str("approximate", "tanh");
  o = run1("Gelu", 20, in, 1, &ap, 1);
  assert_true(fabsf(tq_cf32(o)[6] - 2.99636261f) < 1e-5f);
  tq_tensor_destroy(o);
  ap = a_str("approximate", "erf");
  run_fail("Gelu", 20, in, 1, &ap, 1, TQ_ERR_UNSUPPORTED, "approximate");

  const int64_t di[1] = {9};
  tq_tensor *xi = ti(1, di, NULL);
  const tq_tensor *ii[1] = {xi};
  run_fail("Sigmoid", 13, ii, 1, NULL, 0, TQ_ERR_UNSUPPORTED, "float32");
  tq_tensor_destroy(xi);
  tq_tensor_destroy(x);
}

static void test_clip(void **state) {
  (void)state;
  const int64_t d[1] = {6}, d0[1] = {0};
  const float xv[6] = {-10, -1, 0, 3, 6.5f, NAN};
  tq_tensor *x = tf(1, d, xv);
  /* opset 6: attributes (ReLU6 in MobileNetV2 exports). */
  tq_attr_store at[2] = {a_float("min", 0.0f), a_float("max", 6.0f)};
  const tq_tensor *in1[1] = {x};
  tq_tensor *o = run1("Clip", 6, in1, 1, at, 2);
  const float r6[6] = {0, 0, 0, 3, 6, NAN};
  check_f(o, r6, 6, 0);
  tq_tensor_destroy(o);
  /* Attributes are ignored from opset 11: bounds are inputs. */
  o = run1("Clip", 11, in1, 1, at, 2);
  check_f(o, xv, 6, 0);
  tq_tensor_destroy(o);
  const float lo = -1.0f, hi = 4.0f;
  tq_tensor *tlo = tf(0, d0, &lo), *thi = tf(0, d0, &hi);
  const tq_tensor *in3[3] = {x, tlo, thi};
  o = run1("Clip", 13, in3, 3, NULL, 0);
  const float c14[6] = {-1, -1, 0, 3, 4, NAN};
  check_f(o, c14, 6, 0);
  tq_tensor_destroy(o);
  /* Only max (min absent: an empty input name). */
  const tq_tensor *inmax[3] = {x, NULL, thi};
  o = run1("Clip", 12, inmax, 3, NULL, 0);
  const float cmax[6] = {-10, -1, 0, 3, 4, NAN};
  check_f(o, cmax, 6, 0);
  tq_tensor_destroy(o);
  /* Bounds must be scalars. */
  const int64_t d2[1] = {2};
  const float two[2] = {0, 1};
  tq_tensor *bad = tf(1, d2, two);
  const tq_tensor *inb[2] = {x, bad};
  run_fail("Clip", 13, inb, 2, NULL, 0, TQ_ERR_SHAPE, "scalar");
  /* int64 at plan time. */
  const int64_t iv[3] = {-5, 2, 9}, d3[1] = {3}, lov = 0, hiv = 4;
  tq_tensor *xi = ti(1, d3, iv), *li = ti(0, d0, &lov), *hi64 = ti(0, d0, &hiv);
  const tq_tensor *ini[3] = {xi, li, hi64};
  o = run1("Clip", 13, ini, 3, NULL, 0);
  const int64_t ci[3] = {0, 2, 4};
  check_i(o, ci, 3);
  tq_tensor_destroy(o);
  tq_tensor_destroy(xi);
  tq_tensor_destroy(li);
  tq_tensor_destroy(hi64);
  tq_tensor_destroy(bad);
  tq_tensor_destroy(tlo);
  tq_tensor_destroy(thi);
  tq_tensor_destroy(x);
}

/* Softmax in double over groups of n elements at stride inner. */
static void ref_softmax(const float *x, double *y, size_t outer, size_t n,
                        size_t inner, int logsm) {
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      const float *p = x + o * n * inner + i;
      double mx = -INFINITY, s = 0;
      for (size_t k = 0; k < n; k++) mx = fmax(mx, p[k * inner]);
      for (size_t k = 0; k < n; k++) s += exp(p[k * inner] - mx);
      for (size_t k = 0; k < n; k++) {
        double e = p[k * inner] - mx;
        y[o * n * inner + k * inner + i] = logsm ? e - log(s) : exp(e) / s;
      }
    }
}

static void check_softmax(const char *op, int64_t opset, int nd,
                          const int64_t *dims, int64_t axis, int has_axis,
                          size_t outer, size_t n, size_t inner) {
  tq_tensor *x = trand(nd, dims, 5);
  /* Large values: the maximum must be subtracted. */
  for (size_t i = 0; i < x->numel; i++) tq_f32(x)[i] *= 60.0f;
  const tq_tensor *in[1] = {x};
  tq_attr_store ax = a_int("axis", axis);
  tq_tensor *o = run1(op, opset, in, 1, &ax, has_axis ? 1 : 0);
  double *ref = malloc(x->numel * sizeof *ref);
  assert_non_null(ref);
  int logsm = strcmp(op, "LogSoftmax") == 0;
  ref_softmax(tq_cf32(x), ref, outer, n, inner, logsm);
  for (size_t i = 0; i < x->numel; i++) {
    double g = tq_cf32(o)[i];
    double tol = logsm ? 2e-6 * fmax(1.0, fabs(ref[i])) : 2e-6 * ref[i] + 1e-30;
    if (fabs(g - ref[i]) > tol)
      fail_msg("%s opset %lld element %zu: %.9g vs %.9g", op, (long long)opset,
               i, g, ref[i]);
  }
  free(ref);
  tq_tensor_destroy(o);
  tq_tensor_destroy(x);
}

static void test_softmax_opsets(void **state) {
  (void)state;
  const int64_t d[3] = {2, 3, 4};
  /* opset 11, axis 1: flattened to [2, 12]: normalized over 12 values. */
  check_softmax("Softmax", 11, 3, d, 1, 1, 2, 12, 1);
  /* opset 11 default axis 1 too. */
  check_softmax("Softmax", 11, 3, d, 0, 0, 2, 12, 1);
  /* opset 13, axis 1: along the one axis of 3 (strided). */
  check_softmax("Softmax", 13, 3, d, 1, 1, 2, 3, 4);
  /* opset 13 default axis -1. */
  check_softmax("Softmax", 13, 3, d, 0, 0, 6, 4, 1);
  check_softmax("LogSoftmax", 11, 3, d, -2, 1, 2, 12, 1);
  check_softmax("LogSoftmax", 13, 3, d, 0, 1, 1, 2, 12);
  /* Large: parallel rows and parallel strided blocks. */
  const int64_t big[3] = {64, 1000, 3}, wide[2] = {32, 1000};
  check_softmax("Softmax", 13, 3, big, 1, 1, 64, 1000, 3);
  check_softmax("Softmax", 13, 2, wide, -1, 1, 32, 1000, 1);
  /* The two semantics differ on the same node. */
  tq_tensor *x = trand(3, d, 9);
  const tq_tensor *in[1] = {x};
  tq_attr_store ax = a_int("axis", 1);
  tq_tensor *o11 = run1("Softmax", 11, in, 1, &ax, 1);
  tq_tensor *o13 = run1("Softmax", 13, in, 1, &ax, 1);
  double s11 = 0, s13 = 0, s11_all = 0;
  for (int k = 0; k < 3; k++) {
    s11 += tq_cf32(o11)[k * 4];
    s13 += tq_cf32(o13)[k * 4];
  }
  for (int k = 0; k < 12; k++) s11_all += tq_cf32(o11)[k];
  assert_true(fabs(s13 - 1.0) < 1e-6 && fabs(s11_all - 1.0) < 1e-6);
  assert_true(s11 < 0.999);
  tq_tensor_destroy(o11);
  tq_tensor_destroy(o13);
  /* Hardmax: one-hot at the first maximum. */
  const float hv[6] = {1, 3, 3, 2, 0, 2};
  const int64_t d23[2] = {2, 3};
  tq_tensor *h = tf(2, d23, hv);
  const tq_tensor *hin[1] = {h};
  tq_tensor *ho = run1("Hardmax", 13, hin, 1, NULL, 0);
  const float hw[6] = {0, 1, 0, 1, 0, 0};
  check_f(ho, hw, 6, 0);
  tq_tensor_destroy(ho);
  tq_attr_store ax0 = a_int("axis", 0);
  ho = run1("Hardmax", 13, hin, 1, &ax0, 1);
  const float hw0[6] = {0, 1, 1, 1, 0, 0};
  check_f(ho, hw0, 6, 0);
  tq_tensor_destroy(ho);
  tq_tensor_destroy(h);
  ax = a_int("axis", 3);
  run_fail("Softmax", 13, in, 1, &ax, 1, TQ_ERR_SHAPE, "axis 3");
  tq_tensor_destroy(x);
}

static void test_registry(void **state) {
  (void)state;
  static const char *const ops[] = {
      "Add",         "Sub",       "Mul",      "Div",        "Pow",
      "Sqrt",        "Exp",       "Log",      "Abs",        "Neg",
      "Reciprocal",  "Floor",     "Ceil",     "Min",        "Max",
      "Sum",         "Mean",      "Identity", "Dropout",    "Cast",
      "Relu",        "LeakyRelu", "Clip",     "Sigmoid",    "Tanh",
      "HardSigmoid", "HardSwish", "Softmax",  "LogSoftmax", "PRelu",
      "Elu",         "Selu",      "Softplus", "Gelu",       "Erf",
      "Equal",       "Where"};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) op_desc(ops[i], 17);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_broadcast_kinds),
      cmocka_unit_test(test_broadcast_large),
      cmocka_unit_test(test_prelu),
      cmocka_unit_test(test_broadcast_errors),
      cmocka_unit_test(test_legacy_broadcast),
      cmocka_unit_test(test_int64_arith),
      cmocka_unit_test(test_compare_where),
      cmocka_unit_test(test_variadic),
      cmocka_unit_test(test_unary),
      cmocka_unit_test(test_identity_dropout),
      cmocka_unit_test(test_cast),
      cmocka_unit_test(test_activations),
      cmocka_unit_test(test_clip),
      cmocka_unit_test(test_softmax_opsets),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
