/* The executor with user-defined operators: planning, extrinsic and weight
 * quantization, map swaps, observers, errors. Independent of the built-in
 * operators on purpose. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_bound.h"
#include "testutil.h"
#include "tensorquant/op.h"
#include "tensorquant/session.h"

/* y = x * w elementwise (w broadcast when it has one element). */
static tq_status scale_infer(tq_op_call *c) {
  const tq_tensor *x = tq_op_input(c, 0);
  return tq_op_set_output(c, 0, TQ_DTYPE_FLOAT32, tq_tensor_shape(x));
}
static tq_status scale_forward(tq_op_call *c) {
  const tq_tensor *x = tq_op_input(c, 0), *w = tq_op_input(c, 1);
  const float *xd = tq_tensor_cdata(x), *wd = tq_tensor_cdata(w);
  float *y = tq_tensor_data(tq_op_output(c, 0));
  size_t n = tq_tensor_numel(x), nw = tq_tensor_numel(w);
  for (size_t i = 0; i < n; i++) y[i] = xd[i] * wd[nw == 1 ? 0 : i % nw];
  return TQ_OK;
}
/* y = x + 1, no weights; fails on request (attribute fail=1). */
static tq_status inc_forward(tq_op_call *c) {
  const tq_attr *a = tq_op_attr(c, "fail");
  if (a && a->i) return tq_op_error(c, TQ_ERR_RANGE, "asked to fail");
  const tq_tensor *x = tq_op_input(c, 0);
  const float *xd = tq_tensor_cdata(x);
  float *y = tq_tensor_data(tq_op_output(c, 0));
  for (size_t i = 0; i < tq_tensor_numel(x); i++) y[i] = xd[i] + 1.0f;
  return TQ_OK;
}

static tq_graph *build(tq_context *ctx, int fail) {
  tq_graph *g;
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_op_def scale = {"Scale", 1, scale_infer, scale_forward, NULL};
  tq_op_def inc = {"Inc", 0, scale_infer, inc_forward, NULL};
  assert_int_equal(tq_graph_register_op(ctx, g, &scale), TQ_OK);
  assert_int_equal(tq_graph_register_op(ctx, g, &inc), TQ_OK);
  assert_int_equal(tq_graph_register_op(ctx, g, &inc), TQ_ERR_INVALID_ARGUMENT);
  tq_shape in_shape = {2, {-1, 4}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &in_shape), TQ_OK);
  tq_shape ws = {1, {4}};
  float w[4] = {0.3f, -0.55f, 1.26f, 2.0f};
  tq_tensor *wt;
  assert_int_equal(tq_tensor_from_floats(ctx, &ws, w, &wt), TQ_OK);
  assert_int_equal(tq_graph_add_initializer(ctx, g, "block1.scale.weight", wt),
                   TQ_OK);
  tq_tensor_destroy(wt);
  assert_int_equal(tq_graph_push_scope(ctx, g, "Net"), TQ_OK);
  assert_int_equal(tq_graph_push_scope(ctx, g, "Block1"), TQ_OK);
  const char *sin[] = {"x", "block1.scale.weight"}, *sout[] = {"s"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Scale", "Scale1", sin, 2, sout, 1, NULL, 0),
      TQ_OK);
  assert_int_equal(tq_graph_pop_scope(ctx, g), TQ_OK);
  const char *iin[] = {"s"}, *iout[] = {"y"};
  tq_attr fa = {.name = "fail", .type = TQ_ATTR_INT, .i = fail};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Inc", "Inc1", iin, 1, iout, 1, &fa, 1), TQ_OK);
  assert_int_equal(tq_graph_pop_scope(ctx, g), TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "y"), TQ_OK);
  return g;
}

typedef struct seen {
  int calls;
  char ids[4][64];
  float first[4];
} seen;

static int observe(void *user, size_t node, const char *id, size_t k,
                   const char *value, const tq_tensor *t) {
  (void)k, (void)value;
  seen *s = user;
  if (node < 4) {
    snprintf(s->ids[node], sizeof s->ids[node], "%s", id);
    s->first[node] = ((const float *)tq_tensor_cdata(t))[0];
  }
  s->calls++;
  return 0;
}

static void test_run_float_and_quantized(void **state) {
  (void)state;
  tq_context *ctx;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  tq_graph *g = build(ctx, 0);
  tq_node_info info;
  assert_int_equal(tq_graph_node_info(g, 0, &info), TQ_OK);
  assert_string_equal(info.id, "Net/Block1/Scale1");
  assert_int_equal(info.n_weights, 1);
  assert_string_equal(info.weights[0], "block1.scale.weight");
  assert_int_equal(tq_graph_node_info(g, 1, &info), TQ_OK);
  assert_string_equal(info.id, "Net/Inc1");
  assert_int_equal(info.n_weights, 0);

  tq_session *s;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  tq_shape xs = {2, {2, 4}};
  float x[8] = {1, 1, 1, 1, 0.5f, -1, 2, 0.1f};
  tq_tensor *xt, *y = NULL;
  assert_int_equal(tq_tensor_from_floats(ctx, &xs, x, &xt), TQ_OK);
  const tq_tensor *ins[] = {xt};
  seen obs = {0};
  tq_session_set_observer(s, observe, &obs);
  assert_int_equal(tq_session_run(ctx, s, ins, 1, &y, 1, NULL), TQ_OK);
  const float *yd = tq_tensor_cdata(y);
  assert_true(yd[0] == 0.3f + 1.0f);
  assert_true(yd[1] == -0.55f + 1.0f);
  assert_true(yd[5] == 0.55f + 1.0f);
  assert_int_equal(obs.calls, 2);
  assert_string_equal(obs.ids[0], "Net/Block1/Scale1");
  tq_tensor_destroy(y);

  /* Weights map through the weight's name, extrinsic map through a scope. */
  tq_qmap_set *set;
  tq_qmap *wm, *em;
  assert_int_equal(tq_qmap_set_create(ctx, &set), TQ_OK);
  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_WEIGHTS, &wm), TQ_OK);
  assert_int_equal(tq_qmap_add(ctx, wm, "block1.scale", "nearest,8,2"), TQ_OK);
  assert_int_equal(tq_qmap_set_put(ctx, set, wm), TQ_OK);
  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_EXTRINSIC, &em), TQ_OK);
  assert_int_equal(tq_qmap_add(ctx, em, "Block1", "zero,8,1"), TQ_OK);
  assert_int_equal(tq_qmap_set_put(ctx, set, em), TQ_OK);
  assert_int_equal(tq_session_set_maps(ctx, s, set), TQ_OK);
  tq_qmap_match m;
  assert_true(tq_session_node_match(s, 0, TQ_MAP_WEIGHTS, &m));
  assert_string_equal(m.key, "block1.scale");
  assert_string_equal(m.via, "block1.scale.weight");
  assert_true(tq_session_node_match(s, 0, TQ_MAP_EXTRINSIC, &m));
  assert_false(tq_session_node_match(s, 1, TQ_MAP_EXTRINSIC, &m));
  assert_int_equal(tq_session_run(ctx, s, ins, 1, &y, 1, NULL), TQ_OK);
  yd = tq_tensor_cdata(y);
  /* w -> {0.25, -0.5, 1.25, 2}; s = x*w truncated to halves; y = s + 1. */
  assert_true(yd[0] == 1.0f); /* 0.25 -> 0 */
  assert_true(yd[1] == 0.5f); /* -0.5 */
  assert_true(yd[2] == 2.0f); /* 1.25 -> 1 */
  assert_true(yd[4] == 1.0f); /* 0.125 -> 0 */
  assert_true(yd[5] == 1.5f); /* 0.5 */
  assert_true(yd[6] == 3.5f); /* 2.5 */
  tq_tensor_destroy(y);
  /* The graph's float master is untouched. */
  const float *wmaster =
      tq_tensor_cdata(tq_graph_initializer(g, "block1.scale.weight"));
  assert_true(wmaster[0] == 0.3f);

  /* Swap back to float without rebuilding. */
  assert_int_equal(tq_session_set_maps(ctx, s, NULL), TQ_OK);
  assert_int_equal(tq_session_run(ctx, s, ins, 1, &y, 1, NULL), TQ_OK);
  assert_true(((const float *)tq_tensor_cdata(y))[0] == 0.3f + 1.0f);
  tq_tensor_destroy(y);

  /* A new batch size re-plans; a wrong rank is an error naming the input. */
  tq_shape xs3 = {2, {3, 4}};
  tq_tensor *x3;
  assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &xs3, &x3), TQ_OK);
  const tq_tensor *ins3[] = {x3};
  assert_int_equal(tq_session_run(ctx, s, ins3, 1, &y, 1, NULL), TQ_OK);
  assert_int_equal(tq_tensor_shape(y)->dims[0], 3);
  tq_tensor_destroy(y);
  tq_tensor_destroy(x3);
  tq_shape bad = {3, {1, 2, 4}};
  tq_tensor *xb;
  assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &bad, &xb), TQ_OK);
  const tq_tensor *insb[] = {xb};
  assert_int_equal(tq_session_run(ctx, s, insb, 1, &y, 1, NULL), TQ_ERR_SHAPE);
  assert_non_null(strstr(tq_context_last_error(ctx), "input 'x'"));
  assert_null(y);
  tq_tensor_destroy(xb);

  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  tq_tensor_destroy(xt);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

static void test_errors(void **state) {
  (void)state;
  tq_context *ctx;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  tq_graph *g = build(ctx, 1);
  tq_session *s;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  tq_shape xs = {2, {1, 4}};
  tq_tensor *xt, *y = (tq_tensor *)1;
  assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &xs, &xt), TQ_OK);
  const tq_tensor *ins[] = {xt};
  assert_int_equal(tq_session_run(ctx, s, ins, 1, &y, 1, NULL), TQ_ERR_RANGE);
  assert_null(y);
  assert_non_null(strstr(tq_context_last_error(ctx), "Net/Inc1"));
  assert_non_null(strstr(tq_context_last_error(ctx), "asked to fail"));
  tq_session_destroy(s);
  tq_tensor_destroy(xt);

  /* Unknown ops: every one is listed, with its node. */
  const char *in[] = {"x"}, *o1[] = {"a"}, *o2[] = {"b"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Frobnicate", "F1", in, 1, o1, 1, NULL, 0),
      TQ_OK);
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Zorch", "Z1", in, 1, o2, 1, NULL, 0), TQ_OK);
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_ERR_UNSUPPORTED);
  const char *msg = tq_context_last_error(ctx);
  assert_non_null(strstr(msg, "'F1' (Frobnicate"));
  assert_non_null(strstr(msg, "'Z1' (Zorch"));
  /* Undefined inputs and duplicate outputs are refused at build time. */
  const char *bad_in[] = {"nope"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Inc", "I", bad_in, 1, o1, 1, NULL, 0),
      TQ_ERR_NOT_FOUND);
  assert_int_equal(tq_graph_add_node(ctx, g, "Inc", "I", in, 1, o1, 1, NULL, 0),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_graph_pop_scope(ctx, g), TQ_ERR_INVALID_ARGUMENT);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* A bad attribute fails when the session plans the node (attributes are
 * parsed once, then): the message names the node, its operator and the
 * attribute. Nodes before it are fine; creating the session is too. */
static void test_bad_attribute_at_plan(void **state) {
  (void)state;
  static const int64_t k3[] = {3, 3};
  static const struct {
    const char *op, *attr;
    tq_attr a;
    tq_status want;
    const char *needle;
  } cases[] = {
      {"Conv",
       "group",
       {.name = "group", .type = TQ_ATTR_INT, .i = 0},
       TQ_ERR_INVALID_ARGUMENT,
       "group is 0"},
      {"Conv",
       "auto_pad",
       {.name = "auto_pad", .type = TQ_ATTR_STRING, .s = "SOMETIMES"},
       TQ_ERR_INVALID_ARGUMENT,
       "\"SOMETIMES\""},
      {"MaxPool",
       "ceil_mode",
       {.name = "ceil_mode", .type = TQ_ATTR_INT, .i = 2},
       TQ_ERR_INVALID_ARGUMENT,
       "ceil_mode is 2"},
      {"Gelu",
       "approximate",
       {.name = "approximate", .type = TQ_ATTR_STRING, .s = "fast"},
       TQ_ERR_UNSUPPORTED,
       "'fast'"},
      {"Pad",
       "mode",
       {.name = "mode", .type = TQ_ATTR_STRING, .s = "mirror"},
       TQ_ERR_UNSUPPORTED,
       "'mirror'"},
      {"Softmax",
       "axis",
       {.name = "axis", .type = TQ_ATTR_INT, .i = 7},
       TQ_ERR_SHAPE,
       "axis 7"}, /* known once the rank is: at plan too */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tq_context *ctx = NULL;
    assert_int_equal(tq_context_create(&ctx), TQ_OK);
    tq_graph *g = NULL;
    assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
    tq_shape xs = {.ndim = 4, .dims = {-1, 1, 6, 6}};
    assert_int_equal(tq_graph_add_input(ctx, g, "x", &xs), TQ_OK);
    tq_shape ws = {.ndim = 4, .dims = {1, 1, 3, 3}};
    tq_tensor *wt = NULL;
    assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &ws, &wt), TQ_OK);
    assert_int_equal(tq_graph_add_initializer(ctx, g, "w", wt), TQ_OK);
    tq_tensor_destroy(wt);
    const char *rin[] = {"x"}, *rout[] = {"r"};
    assert_int_equal(
        tq_graph_add_node(ctx, g, "Relu", "ok", rin, 1, rout, 1, NULL, 0),
        TQ_OK);
    assert_int_equal(tq_graph_push_scope(ctx, g, "Net"), TQ_OK);
    const int conv = !strcmp(cases[i].op, "Conv");
    const char *in[] = {"r", "w"}, *out[] = {"y"};
    tq_attr attrs[2] = {cases[i].a};
    size_t n_attrs = 1;
    if (!strcmp(cases[i].op, "MaxPool"))
      attrs[n_attrs++] = (tq_attr){
          .name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = k3, .count = 2};
    if (!strcmp(cases[i].op, "Pad")) {
      static const int64_t pads[] = {0, 0, 1, 1, 0, 0, 1, 1};
      attrs[n_attrs++] = (tq_attr){
          .name = "pads", .type = TQ_ATTR_INTS, .ints = pads, .count = 8};
    }
    assert_int_equal(tq_graph_add_node(ctx, g, cases[i].op, "bad", in,
                                       conv ? 2 : 1, out, 1, attrs, n_attrs),
                     TQ_OK);
    assert_int_equal(tq_graph_pop_scope(ctx, g), TQ_OK);
    assert_int_equal(tq_graph_add_output(ctx, g, "y"), TQ_OK);
    tq_session *s = NULL;
    assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
    tq_shape x1 = {.ndim = 4, .dims = {2, 1, 6, 6}};
    for (int again = 0; again < 2; again++) { /* a failed plan can retry */
      tq_status st = tq_session_plan(ctx, s, &x1, 1);
      const char *msg = tq_context_last_error(ctx);
      if (st != cases[i].want || !strstr(msg, "node 'Net/bad'") ||
          !strstr(msg, cases[i].op) || !strstr(msg, cases[i].attr) ||
          !strstr(msg, cases[i].needle))
        fail_msg("%s %s: status %d, message '%s'", cases[i].op, cases[i].attr,
                 st, msg);
    }
    tq_session_destroy(s);
    tq_graph_destroy(g);
    tq_context_destroy(ctx);
  }
}

/* The output y of a run of Conv node `node` (3x3, stride 1, pads 1, no
 * bias; x: N x C x H x W, w: M x C x 3 x 3) is within the bound of the
 * implementation the node used of the double direct convolution
 * (conv_bound.h), whatever the CPU's OpenBLAS kernels. */
static void expect_conv_bound(const tq_session *s, size_t node,
                              const tq_tensor *x, const float *w, int64_t M,
                              const tq_tensor *y) {
  const tq_shape *xs = tq_tensor_shape(x);
  const tq_test_conv3 cv = {xs->dims[0], xs->dims[1], M,
                            xs->dims[2], xs->dims[3], 1,
                            1,           xs->dims[2], xs->dims[3]};
  const int64_t total = cv.N * M * cv.OH * cv.OW;
  assert_int_equal(tq_tensor_numel(y), total);
  const char *impl = tq_session_node_impl(s, node);
  assert_non_null(impl);
  double *ref = malloc((size_t)total * sizeof *ref);
  double *abs_sum = malloc((size_t)total * sizeof *abs_sum);
  double *tol = malloc((size_t)total * sizeof *tol);
  assert_true(ref && abs_sum && tol);
  const float *xp = tq_tensor_cdata(x), *yp = tq_tensor_cdata(y);
  tq_test_conv3_ref(&cv, xp, w, NULL, ref, abs_sum);
  tq_test_conv_tol(impl, &cv, xp, w, NULL, cv.C * 9, abs_sum, total, tol);
  for (int64_t e = 0; e < total; e++)
    if (!(fabs((double)yp[e] - ref[e]) <= tol[e]))
      fail_msg("%s: output %lld is %.9g, expected %.9g within %.3g", impl,
               (long long)e, (double)yp[e], ref[e], tol[e]);
  free(ref);
  free(abs_sum);
  free(tol);
}

/* A session keeps Winograd-transformed kernels between runs: running
 * batches of different sizes through one session gives the bits of fresh
 * sessions; switching fast convolutions on (F(4x4)) and off again (F(2x2))
 * re-prepares each kind's kernels; new weights + set_maps drop the cache.
 * Every run is within its implementation's bound of the double
 * convolution. */
static void test_operator_cache(void **state) {
  (void)state;
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  tq_graph *g = NULL;
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_shape xs = {.ndim = 4, .dims = {-1, 8, 16, 16}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &xs), TQ_OK);
  tq_shape ws = {.ndim = 4, .dims = {8, 8, 3, 3}};
  float w[8 * 8 * 9];
  uint64_t seed = 3;
  for (size_t i = 0; i < 8 * 8 * 9; i++)
    w[i] = (float)((tq_test_rand(&seed) >> 40) * 0x1p-24) - 0.5f;
  tq_tensor *wt = NULL;
  assert_int_equal(tq_tensor_from_floats(ctx, &ws, w, &wt), TQ_OK);
  assert_int_equal(tq_graph_add_initializer(ctx, g, "w", wt), TQ_OK);
  tq_tensor_destroy(wt);
  const int64_t k3[] = {3, 3}, p1[] = {1, 1, 1, 1};
  const tq_attr attrs[] = {
      {.name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = k3, .count = 2},
      {.name = "pads", .type = TQ_ATTR_INTS, .ints = p1, .count = 4}};
  const char *in[] = {"x", "w"}, *out[] = {"y"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Conv", "conv", in, 2, out, 1, attrs, 2),
      TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "y"), TQ_OK);
  tq_shape b8 = {.ndim = 4, .dims = {16, 8, 16, 16}};
  tq_tensor *x8 = NULL;
  assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &b8, &x8), TQ_OK);
  float *xp = tq_tensor_data(x8);
  for (size_t i = 0; i < tq_tensor_numel(x8); i++)
    xp[i] = (float)((tq_test_rand(&seed) >> 40) * 0x1p-24);
  tq_shape b1 = {.ndim = 4, .dims = {1, 8, 16, 16}};
  tq_tensor *x1 = NULL;
  assert_int_equal(tq_tensor_from_floats(ctx, &b1, xp, &x1), TQ_OK);
  /* fresh sessions: the reference bits for each batch size */
  tq_tensor *want1 = NULL, *want8 = NULL, *got = NULL;
  tq_session *s = NULL;
  const tq_tensor *arg;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  arg = x8;
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &want8, 1, NULL), TQ_OK);
  tq_session_destroy(s);
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  arg = x1;
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &want1, 1, NULL), TQ_OK);
  /* the same session, batch 1 then 8 then 1: the same bits */
  arg = x8;
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &got, 1, NULL), TQ_OK);
  assert_memory_equal(tq_tensor_cdata(got), tq_tensor_cdata(want8),
                      tq_tensor_numel(got) * sizeof(float));
  tq_tensor_destroy(got);
  arg = x1;
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &got, 1, NULL), TQ_OK);
  assert_memory_equal(tq_tensor_cdata(got), tq_tensor_cdata(want1),
                      tq_tensor_numel(got) * sizeof(float));
  tq_tensor_destroy(got);
  /* each batch size within the bound of the double convolution (not
   * the same bits: the GEMMs have other shapes) */
  assert_string_equal(tq_session_node_impl(s, 0), "winograd2");
  expect_conv_bound(s, 0, x1, w, 8, want1);
  expect_conv_bound(s, 0, x8, w, 8, want8);
  /* fast convolutions: F(4x4), the bits of a fresh session; then off
   * again: F(2x2)'s kernels are still there */
  tq_context_set_fast_conv(ctx, 1);
  tq_tensor *fast8 = NULL;
  {
    tq_session *f = NULL;
    assert_int_equal(tq_session_create(ctx, g, &f), TQ_OK);
    arg = x8;
    assert_int_equal(tq_session_run(ctx, f, &arg, 1, &fast8, 1, NULL), TQ_OK);
    tq_session_destroy(f);
  }
  arg = x8;
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &got, 1, NULL), TQ_OK);
  assert_memory_equal(tq_tensor_cdata(got), tq_tensor_cdata(fast8),
                      tq_tensor_numel(got) * sizeof(float));
  assert_string_equal(tq_session_node_impl(s, 0), "winograd4");
  expect_conv_bound(s, 0, x8, w, 8, got);
  tq_tensor_destroy(got);
  tq_tensor_destroy(fast8);
  tq_context_set_fast_conv(ctx, 0);
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &got, 1, NULL), TQ_OK);
  assert_memory_equal(tq_tensor_cdata(got), tq_tensor_cdata(want8),
                      tq_tensor_numel(got) * sizeof(float));
  tq_tensor_destroy(got);
  /* new weights + set_maps: the cache follows */
  w[0] += 1.0f;
  tq_tensor *w2 = NULL;
  assert_int_equal(tq_tensor_from_floats(ctx, &ws, w, &w2), TQ_OK);
  assert_int_equal(tq_graph_set_initializer(ctx, g, "w", w2), TQ_OK);
  tq_tensor_destroy(w2);
  assert_int_equal(tq_session_set_maps(ctx, s, NULL), TQ_OK);
  arg = x1;
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &got, 1, NULL), TQ_OK);
  assert_true(memcmp(tq_tensor_cdata(got), tq_tensor_cdata(want1),
                     tq_tensor_numel(got) * sizeof(float)) != 0);
  tq_tensor_destroy(got);
  tq_session_destroy(s);
  tq_tensor_destroy(want1);
  tq_tensor_destroy(want8);
  tq_tensor_destroy(x1);
  tq_tensor_destroy(x8);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* Elementwise nodes write into the buffer of an input they read last
 * (TQ_OPF_INPLACE), never into one read later, a model input or an
 * output: a = x + x; b = Relu(a) (a is read again); c = a - b (into a);
 * d = c * c (into c); outputs b and d; x unchanged; two runs, same bits. */
static void test_inplace(void **state) {
  (void)state;
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  tq_graph *g = NULL;
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_shape xs = {.ndim = 2, .dims = {2, 3}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &xs), TQ_OK);
  const char *xx[] = {"x", "x"}, *a[] = {"a"}, *ab[] = {"a", "b"}, *b[] = {"b"},
             *c[] = {"c"}, *cc[] = {"c", "c"}, *d[] = {"d"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Add", "add", xx, 2, a, 1, NULL, 0), TQ_OK);
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Relu", "relu", a, 1, b, 1, NULL, 0), TQ_OK);
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Sub", "sub", ab, 2, c, 1, NULL, 0), TQ_OK);
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Mul", "mul", cc, 2, d, 1, NULL, 0), TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "b"), TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "d"), TQ_OK);
  const float xv[6] = {-3.0f, -0.5f, 0.0f, 0.25f, 2.0f, -1.0f};
  tq_tensor *x = NULL;
  assert_int_equal(tq_tensor_from_floats(ctx, &xs, xv, &x), TQ_OK);
  tq_session *s = NULL;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  for (int run = 0; run < 2; run++) {
    const tq_tensor *arg = x;
    tq_tensor *outs[2] = {NULL, NULL};
    assert_int_equal(tq_session_run(ctx, s, &arg, 1, outs, 2, NULL), TQ_OK);
    const float *bo = tq_tensor_cdata(outs[0]),
                *dout = tq_tensor_cdata(outs[1]);
    for (int i = 0; i < 6; i++) {
      const float av = 2.0f * xv[i], bv = av > 0.0f ? av : 0.0f;
      assert_true(bo[i] == bv);
      assert_true(dout[i] == (av - bv) * (av - bv));
      assert_true(((const float *)tq_tensor_cdata(x))[i] == xv[i]);
    }
    tq_tensor_destroy(outs[0]);
    tq_tensor_destroy(outs[1]);
  }
  tq_session_destroy(s);
  tq_tensor_destroy(x);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

static int count_values(void *user, size_t node, const char *node_id,
                        size_t output, const char *value_name,
                        const tq_tensor *value) {
  (void)node, (void)node_id, (void)output, (void)value_name, (void)value;
  ++*(int *)user;
  return 0;
}

/* Adds a Conv node: kernel k x k, stride st, pad p, group grp, weights
 * named "<name>.w" (M x C/grp x k x k, values in [-0.5, 0.5)). */
static void add_conv(tq_context *ctx, tq_graph *g, const char *name,
                     const char *in, const char *out, int64_t C, int64_t M,
                     int64_t k, int64_t st, int64_t p, int64_t grp,
                     uint64_t *seed) {
  char wname[64];
  snprintf(wname, sizeof wname, "%s.w", name);
  tq_shape ws = {.ndim = 4, .dims = {M, C / grp, k, k}};
  const size_t n = (size_t)(M * (C / grp) * k * k);
  float *w = malloc(n * sizeof *w);
  assert_non_null(w);
  for (size_t i = 0; i < n; i++)
    w[i] = (float)((tq_test_rand(seed) >> 40) * 0x1p-24) - 0.5f;
  tq_tensor *wt = NULL;
  assert_int_equal(tq_tensor_from_floats(ctx, &ws, w, &wt), TQ_OK);
  assert_int_equal(tq_graph_add_initializer(ctx, g, wname, wt), TQ_OK);
  tq_tensor_destroy(wt);
  free(w);
  const int64_t ks[] = {k, k}, ss[] = {st, st}, ps[] = {p, p, p, p};
  const tq_attr attrs[] = {
      {.name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = ks, .count = 2},
      {.name = "strides", .type = TQ_ATTR_INTS, .ints = ss, .count = 2},
      {.name = "pads", .type = TQ_ATTR_INTS, .ints = ps, .count = 4},
      {.name = "group", .type = TQ_ATTR_INT, .i = grp}};
  const char *ins[] = {in, wname}, *outs[] = {out};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Conv", name, ins, 2, outs, 1, attrs, 4),
      TQ_OK);
}

static void add_op(tq_context *ctx, tq_graph *g, const char *op,
                   const char *name, const char *a, const char *b,
                   const char *out) {
  const char *ins[] = {a, b}, *outs[] = {out};
  assert_int_equal(
      tq_graph_add_node(ctx, g, op, name, ins, b ? 2 : 1, outs, 1, NULL, 0),
      TQ_OK);
}

/* A tensor of shape s with values in [-0.5, 0.5) (float) from seed. */
static tq_tensor *random_tensor(tq_context *ctx, const tq_shape *s,
                                uint64_t seed) {
  tq_tensor *t = NULL;
  assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, s, &t), TQ_OK);
  float *p = tq_tensor_data(t);
  for (size_t i = 0; i < tq_tensor_numel(t); i++)
    p[i] = (float)((tq_test_rand(&seed) >> 40) * 0x1p-24) - 0.5f;
  return t;
}

/* The output of g for x in a new session (under ctx's preference). */
static tq_tensor *fresh_run(tq_context *ctx, const tq_graph *g,
                            const tq_tensor *x) {
  tq_session *s = NULL;
  tq_tensor *y = NULL;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  assert_int_equal(tq_session_run(ctx, s, &x, 1, &y, 1, NULL), TQ_OK);
  tq_session_destroy(s);
  return y;
}

/* x through session s and through a new session: the same bits, node
 * `node` computed by implementation `impl`; returns s's output. */
static tq_tensor *expect_fresh_bits(tq_context *ctx, const tq_graph *g,
                                    tq_session *s, const tq_tensor *x,
                                    size_t node, const char *impl) {
  tq_tensor *want = fresh_run(ctx, g, x), *got = NULL;
  assert_int_equal(tq_session_run(ctx, s, &x, 1, &got, 1, NULL), TQ_OK);
  assert_string_equal(tq_session_node_impl(s, node), impl);
  assert_int_equal(tq_tensor_numel(got), tq_tensor_numel(want));
  assert_memory_equal(tq_tensor_cdata(got), tq_tensor_cdata(want),
                      tq_tensor_numel(got) * sizeof(float));
  tq_tensor_destroy(want);
  return got;
}

/* The operator cache is keyed by the shapes and the implementation its
 * state was prepared for. One session under fast convolutions re-plans
 * 12x12 (F(2x2): 9 tiles of 4x4 are too few for F(4x4)), 16x16 (F(4x4)),
 * 12x12 again, then runs 16x16 under another preference (im2col) and
 * back: every run gives the bits of a fresh session, within the bound of
 * the double convolution. Then a model whose weights follow the input's
 * channels (W = Slice(Wbig, 0:C) along axis 1, folded at plan time): a
 * re-plan with 16 channels instead of 8 must transform the new weights,
 * not reuse the kernels of the old shape (the cache of old had no key). */
static void test_cache_replan(void **state) {
  (void)state;
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  tq_graph *g = NULL;
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_shape xs = {.ndim = 4, .dims = {1, 8, -1, -1}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &xs), TQ_OK);
  uint64_t seed = 11;
  add_conv(ctx, g, "c", "x", "y", 8, 8, 3, 1, 1, 1, &seed);
  assert_int_equal(tq_graph_add_output(ctx, g, "y"), TQ_OK);
  float w[8 * 8 * 9];
  seed = 11; /* add_conv's weights again, for the reference */
  for (size_t i = 0; i < 8 * 8 * 9; i++)
    w[i] = (float)((tq_test_rand(&seed) >> 40) * 0x1p-24) - 0.5f;
  static const struct {
    int64_t H;
    const char *pref, *impl;
  } steps[] = {
      {12, "winograd4,winograd2,im2col", "winograd2"},
      {16, "winograd4,winograd2,im2col", "winograd4"},
      {12, "winograd4,winograd2,im2col", "winograd2"},
      {16, "im2col", "im2col"},
      {16, "winograd4,winograd2,im2col", "winograd4"},
  };
  tq_session *s = NULL;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    assert_int_equal(tq_context_set_conv_impls(ctx, steps[i].pref), TQ_OK);
    const tq_shape bs = {.ndim = 4, .dims = {1, 8, steps[i].H, steps[i].H}};
    tq_tensor *x = random_tensor(ctx, &bs, 100 + (uint64_t)steps[i].H);
    tq_tensor *y = expect_fresh_bits(ctx, g, s, x, 0, steps[i].impl);
    expect_conv_bound(s, 0, x, w, 8, y);
    tq_tensor_destroy(y);
    tq_tensor_destroy(x);
  }
  tq_session_destroy(s);
  tq_graph_destroy(g);
  assert_int_equal(tq_context_set_conv_impls(ctx, NULL), TQ_OK);

  /* weights whose shape follows the input */
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_shape cs = {.ndim = 4, .dims = {1, -1, 16, 16}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &cs), TQ_OK);
  const tq_shape bigs = {.ndim = 4, .dims = {8, 16, 3, 3}};
  tq_tensor *big = random_tensor(ctx, &bigs, 21);
  assert_int_equal(tq_graph_add_initializer(ctx, g, "wbig", big), TQ_OK);
  const tq_shape one = {.ndim = 1, .dims = {1}};
  static const char *const names[] = {"zero", "one", "two"};
  for (int64_t v = 0; v < 3; v++) {
    tq_tensor *t = NULL;
    assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_INT64, &one, &t), TQ_OK);
    *(int64_t *)tq_tensor_data(t) = v;
    assert_int_equal(tq_graph_add_initializer(ctx, g, names[v], t), TQ_OK);
    tq_tensor_destroy(t);
  }
  const char *shape_in[] = {"x"}, *shape_out[] = {"xshape"};
  assert_int_equal(tq_graph_add_node(ctx, g, "Shape", "shape", shape_in, 1,
                                     shape_out, 1, NULL, 0),
                   TQ_OK);
  const char *ch_in[] = {"xshape", "one", "two"}, *ch_out[] = {"channels"};
  assert_int_equal(tq_graph_add_node(ctx, g, "Slice", "channels", ch_in, 3,
                                     ch_out, 1, NULL, 0),
                   TQ_OK);
  const char *w_in[] = {"wbig", "zero", "channels", "one"}, *w_out[] = {"w"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Slice", "w", w_in, 4, w_out, 1, NULL, 0),
      TQ_OK);
  const int64_t p1[] = {1, 1, 1, 1};
  const tq_attr pads = {
      .name = "pads", .type = TQ_ATTR_INTS, .ints = p1, .count = 4};
  const char *c_in[] = {"x", "w"}, *c_out[] = {"y"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Conv", "c", c_in, 2, c_out, 1, &pads, 1),
      TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "y"), TQ_OK);
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  const int64_t channels[] = {8, 16, 8};
  for (size_t i = 0; i < 3; i++) {
    const int64_t C = channels[i];
    const tq_shape bs = {.ndim = 4, .dims = {1, C, 16, 16}};
    tq_tensor *x = random_tensor(ctx, &bs, 200 + (uint64_t)C);
    /* the Conv is node 3; its weights: wbig's first C input channels */
    tq_tensor *y = expect_fresh_bits(ctx, g, s, x, 3, "winograd2");
    float *wc = malloc((size_t)(8 * C * 9) * sizeof *wc);
    assert_non_null(wc);
    const float *bp = tq_tensor_cdata(big);
    for (int64_t k = 0; k < 8; k++)
      memcpy(wc + k * C * 9, bp + k * 16 * 9, (size_t)(C * 9) * sizeof *wc);
    expect_conv_bound(s, 3, x, wc, 8, y);
    free(wc);
    tq_tensor_destroy(y);
    tq_tensor_destroy(x);
  }
  tq_session_destroy(s);
  tq_tensor_destroy(big);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* A Conv or Add whose only reader is a Relu applies the Relu itself
 * (TQ_OPF_POST_RELU) on every float Conv path - Winograd F(2x2) and
 * F(4x4), im2col tiles, 1x1, strided, depthwise - with the bits of the
 * unfused run (an observer turns fusion off); not when the output has
 * another reader, is a model output or is quantized (then the Relu reads
 * the quantized values). */
static void test_relu_fusion(void **state) {
  (void)state;
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  tq_graph *g = NULL;
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_shape xs = {.ndim = 4, .dims = {-1, 8, 16, 16}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &xs), TQ_OK);
  uint64_t seed = 11;
  add_conv(ctx, g, "c1", "x", "y1", 8, 16, 3, 1, 1, 1, &seed); /* Winograd */
  add_op(ctx, g, "Relu", "r1", "y1", NULL, "z1");
  add_conv(ctx, g, "c2", "z1", "y2", 16, 16, 1, 1, 0, 1, &seed); /* 1x1 */
  add_op(ctx, g, "Add", "add", "y2", "z1", "a");
  add_op(ctx, g, "Relu", "r2", "a", NULL, "z2");
  add_conv(ctx, g, "c3", "z2", "y3", 16, 16, 3, 2, 1, 1, &seed); /* im2col */
  add_op(ctx, g, "Relu", "r3", "y3", NULL, "z3");
  add_conv(ctx, g, "c4", "z3", "y4", 16, 16, 3, 1, 1, 16,
           &seed); /* depthwise */
  add_op(ctx, g, "Relu", "r4", "y4", NULL, "z4");
  add_op(ctx, g, "Sub", "sub", "y4", "z4", "d"); /* y4: two readers */
  add_conv(ctx, g, "c5", "d", "y5", 16, 8, 3, 1, 1, 1, &seed);
  add_op(ctx, g, "Relu", "r5", "y5", NULL, "z5"); /* y5: a model output */
  assert_int_equal(tq_graph_add_output(ctx, g, "z5"), TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "y5"), TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "z4"), TQ_OK);
  /* batch 16 with fast convolutions: F(4x4) for c1, else F(2x2) */
  const int64_t batches[] = {1, 16};
  for (int q = 0; q < 2; q++) {
    tq_session *s = NULL;
    assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
    tq_qmap_set *set = NULL; /* borrowed by the session */
    if (q) { /* c1's and add's outputs quantized: those two are not fused */
      tq_qmap *em = NULL;
      assert_int_equal(tq_qmap_set_create(ctx, &set), TQ_OK);
      assert_int_equal(tq_qmap_create(ctx, TQ_MAP_EXTRINSIC, &em), TQ_OK);
      assert_int_equal(tq_qmap_add(ctx, em, "c1", "nearest,6,2"), TQ_OK);
      assert_int_equal(tq_qmap_add(ctx, em, "add", "stochastic,6,3"), TQ_OK);
      assert_int_equal(tq_qmap_set_put(ctx, set, em), TQ_OK);
      assert_int_equal(tq_session_set_maps(ctx, s, set), TQ_OK);
    }
    for (int bi = 0; bi < 2; bi++) {
      tq_context_set_fast_conv(ctx, bi == 1);
      tq_shape bs = {.ndim = 4, .dims = {batches[bi], 8, 16, 16}};
      tq_tensor *x = NULL;
      assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &bs, &x), TQ_OK);
      float *xp = tq_tensor_data(x);
      for (size_t i = 0; i < tq_tensor_numel(x); i++)
        xp[i] = (float)((tq_test_rand(&seed) >> 40) * 0x1p-24) - 0.5f;
      const tq_tensor *arg = x;
      tq_tensor *fused[3] = {NULL}, *plain[3] = {NULL};
      assert_int_equal(tq_session_run(ctx, s, &arg, 1, fused, 3, NULL), TQ_OK);
      int calls = 0;
      tq_session_set_observer(s, count_values, &calls);
      assert_int_equal(tq_session_run(ctx, s, &arg, 1, plain, 3, NULL), TQ_OK);
      tq_session_set_observer(s, NULL, NULL);
      assert_int_equal(calls, 12);
      for (int k = 0; k < 3; k++) {
        assert_int_equal(tq_tensor_numel(fused[k]), tq_tensor_numel(plain[k]));
        assert_memory_equal(tq_tensor_cdata(fused[k]),
                            tq_tensor_cdata(plain[k]),
                            tq_tensor_numel(plain[k]) * sizeof(float));
      }
      /* the model output y5 is not Relu'd: some values are negative */
      int negative = 0;
      for (size_t i = 0; i < tq_tensor_numel(fused[1]); i++)
        negative |= ((const float *)tq_tensor_cdata(fused[1]))[i] < 0.0f;
      assert_true(negative);
      for (int k = 0; k < 3; k++) {
        tq_tensor_destroy(fused[k]);
        tq_tensor_destroy(plain[k]);
      }
      tq_tensor_destroy(x);
    }
    tq_session_destroy(s);
    tq_qmap_set_destroy(set);
  }
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* Without fast convolutions, an output whose 3x3 window is all zeros is
 * exactly 0 (no bias) next to nonzero inputs, on every path: Winograd
 * F(2x2) (28x28), im2col (7x7). A sign-sensitive quantizer after the Conv
 * depends on it. */
static void test_conv_exact_zeros(void **state) {
  (void)state;
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  const int64_t sizes[] = {28, 7};
  for (int si = 0; si < 2; si++) {
    const int64_t H = sizes[si], lo = H / 3, hi = 2 * H / 3; /* [lo, hi) */
    tq_graph *g = NULL;
    assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
    const int64_t N = si == 0 ? 2 : 1; /* 7x7 at batch 1: 16 tiles, im2col */
    tq_shape xs = {.ndim = 4, .dims = {N, 16, H, H}};
    assert_int_equal(tq_graph_add_input(ctx, g, "x", &xs), TQ_OK);
    uint64_t seed = 5;
    add_conv(ctx, g, "c", "x", "y", 16, 16, 3, 1, 1, 1, &seed);
    assert_int_equal(tq_graph_add_output(ctx, g, "y"), TQ_OK);
    tq_tensor *x = NULL;
    assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &xs, &x), TQ_OK);
    float *xp = tq_tensor_data(x);
    for (int64_t i = 0; i < N * 16 * H * H; i++) {
      const int64_t r = (i / H) % H, col = i % H;
      xp[i] = r >= lo && r < hi && col >= lo && col < hi
                  ? (float)((tq_test_rand(&seed) >> 40) * 0x1p-24) - 0.5f
                  : 0.0f;
    }
    tq_session *s = NULL;
    assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
    const tq_tensor *arg = x;
    tq_tensor *y = NULL;
    assert_int_equal(tq_session_run(ctx, s, &arg, 1, &y, 1, NULL), TQ_OK);
    assert_string_equal(tq_session_node_impl(s, 0),
                        si == 0 ? "winograd2" : "im2col");
    const float *yp = tq_tensor_cdata(y);
    int64_t zero_windows = 0;
    for (int64_t i = 0; i < N * 16 * H * H; i++) {
      const int64_t r = (i / H) % H, col = i % H;
      /* the window covers rows r-1..r+1 and columns col-1..col+1 */
      if (r + 1 < lo || r - 1 >= hi || col + 1 < lo || col - 1 >= hi) {
        zero_windows++;
        if (yp[i] != 0.0f)
          fail_msg("%lldx%lld: output %lld has an all-zero window but is %g",
                   (long long)H, (long long)H, (long long)i, (double)yp[i]);
      }
    }
    assert_true(zero_windows > 0);
    tq_tensor_destroy(y);
    tq_tensor_destroy(x);
    tq_session_destroy(s);
    tq_graph_destroy(g);
  }
  tq_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_float_and_quantized),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_bad_attribute_at_plan),
      cmocka_unit_test(test_operator_cache),
      cmocka_unit_test(test_cache_replan),
      cmocka_unit_test(test_inplace),
      cmocka_unit_test(test_relu_fusion),
      cmocka_unit_test(test_conv_exact_zeros),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
