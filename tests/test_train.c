/* The trainer: gradients through whole networks against finite
 * differences, determinism across thread counts, straight-through
 * estimators, the gradients and updates maps, checkpoints, and bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

static tq_context *ctx;

static int setup(void **state) {
  (void)state;
  return tq_context_create(&ctx) == TQ_OK ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  tq_context_destroy(ctx);
  return 0;
}

static void ok(tq_status st) {
  if (st != TQ_OK)
    fail_msg("%s: %s", tq_status_str(st), tq_context_last_error(ctx));
}

/* A batch of n images in [0, 1) and labels in [0, 10). */
static tq_tensor *batch(size_t n, uint64_t seed, int64_t *labels) {
  tq_shape s = {.ndim = 4, .dims = {(int64_t)n, 1, 28, 28}};
  tq_tensor *x = NULL;
  ok(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &s, &x));
  float *p = tq_tensor_data(x);
  for (size_t i = 0; i < tq_tensor_numel(x); i++)
    p[i] = (float)((tq_test_rand(&seed) >> 40) * 0x1p-24);
  for (size_t i = 0; i < n; i++)
    labels[i] = (int64_t)(tq_test_rand(&seed) % 10);
  return x;
}

static tq_qmap_set *maps_from(const char *json) {
  tq_qmap_set *set = NULL;
  ok(tq_qmap_set_parse_json(ctx, json, strlen(json), "test maps", &set));
  return set;
}

/* All parameter values of g, concatenated (caller frees). */
static float *snapshot(const tq_graph *g, size_t *n) {
  size_t total = 0;
  for (size_t i = 0; i < tq_graph_initializer_count(g); i++)
    total += tq_tensor_numel(
        tq_graph_initializer(g, tq_graph_initializer_name(g, i)));
  float *out = malloc(total * sizeof *out), *p = out;
  for (size_t i = 0; i < tq_graph_initializer_count(g); i++) {
    const tq_tensor *t =
        tq_graph_initializer(g, tq_graph_initializer_name(g, i));
    memcpy(p, tq_tensor_cdata(t), tq_tensor_numel(t) * sizeof *p);
    p += tq_tensor_numel(t);
  }
  *n = total;
  return out;
}

/* Trains `model` for `steps` steps and returns the final parameters. */
static float *train_steps(const char *model, int threads, int steps,
                          const char *maps_json, tq_optimizer opt, size_t *n) {
  tq_context_set_threads(ctx, threads);
  tq_graph *g = NULL;
  ok(tq_model_build(ctx, model, 7, &g));
  tq_train_config cfg;
  tq_train_config_default(&cfg);
  cfg.optimizer = opt;
  cfg.lr = opt == TQ_OPTIMIZER_SGD ? 0.05 : 1e-3;
  cfg.nesterov = 1;
  cfg.weight_decay = 1e-4;
  tq_trainer *t = NULL;
  ok(tq_trainer_create(ctx, g, &cfg, &t));
  tq_trainer_set_seed(t, 3);
  tq_qmap_set *maps = maps_json ? maps_from(maps_json) : NULL;
  ok(tq_trainer_set_maps(ctx, t, maps));
  int64_t labels[16];
  for (int s = 0; s < steps; s++) {
    tq_tensor *x = batch(16, 100 + (uint64_t)s, labels);
    tq_step_result r;
    ok(tq_trainer_step(ctx, t, x, labels, (uint64_t)s * 16, &r));
    assert_true(isfinite(r.loss));
    tq_tensor_destroy(x);
  }
  float *w = snapshot(g, n);
  tq_trainer_destroy(t);
  tq_qmap_set_destroy(maps);
  tq_graph_destroy(g);
  tq_context_set_threads(ctx, 1);
  return w;
}

static void test_deterministic_across_threads(void **state) {
  (void)state;
  static const char *const maps[] = {
      NULL,
      "{\"extrinsic\": {\"Conv\": \"stochastic,12,8\"}, \"weights\": "
      "{\"Dense\": \"nearest,8,6\"}, \"gradients\": {\"Conv\": "
      "\"stochastic,16,20\"}, \"updates\": {\"BN\": \"stochastic,16,12\"}}",
  };
  const char *models[] = {"lenet", "resnet8"};
  for (int m = 0; m < 2; m++)
    for (int k = 0; k < 2; k++) {
      size_t n1, n2;
      float *a = train_steps(models[m], 1, 3, maps[k],
                             k ? TQ_OPTIMIZER_SGD : TQ_OPTIMIZER_ADAM, &n1);
      float *b = train_steps(models[m], 2, 3, maps[k],
                             k ? TQ_OPTIMIZER_SGD : TQ_OPTIMIZER_ADAM, &n2);
      assert_int_equal(n1, n2);
      assert_memory_equal(a, b, n1 * sizeof *a);
      free(a);
      free(b);
    }
}

/* The loss at the current parameters: a step with SGD at a learning rate
 * so small that no parameter moves. */
static double loss_now(tq_trainer *t, const tq_tensor *x,
                       const int64_t *labels) {
  tq_step_result r;
  ok(tq_trainer_step(ctx, t, x, labels, 0, &r));
  return r.loss;
}

/* Whole-network gradients (BatchNorm in training mode, residual adds
 * with several consumers, pooling, Gemm) against central differences of
 * the loss, for a few elements of every parameter. */
static void add_param(tq_graph *g, const char *name, int nd,
                      const int64_t *dims, uint64_t seed, float scale,
                      float offset) {
  tq_shape s = {.ndim = nd};
  for (int d = 0; d < nd; d++) s.dims[d] = dims[d];
  tq_tensor *t = NULL;
  ok(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &s, &t));
  float *p = tq_tensor_data(t);
  for (size_t i = 0; i < tq_tensor_numel(t); i++)
    p[i] =
        offset + scale * (float)((tq_test_rand(&seed) >> 40) * 0x1p-23 - 1.0);
  ok(tq_graph_add_initializer(ctx, g, name, t));
  tq_tensor_destroy(t);
}

static void add_node(tq_graph *g, const char *op, const char *name,
                     const char *const *in, size_t n_in, const char *out,
                     const tq_attr *attrs, size_t n_attrs) {
  ok(tq_graph_add_node(ctx, g, op, name, in, n_in, &out, 1, attrs, n_attrs));
}

/* A smooth residual net (Tanh, so finite differences converge): strided
 * Conv, BatchNorm (training mode), a residual Add whose input has two
 * consumers, AveragePool, GlobalAveragePool, Flatten, and a MatMul + Add
 * bias (the exported Linear pattern). */
static tq_graph *smooth_net(void) {
  tq_graph *g = NULL;
  ok(tq_graph_create(ctx, &g));
  tq_shape xs = {.ndim = 4, .dims = {-1, 1, 28, 28}};
  ok(tq_graph_add_input(ctx, g, "input", &xs));
  const int64_t w1[] = {4, 1, 3, 3}, w2[] = {4, 4, 3, 3}, c4[] = {4};
  const int64_t wm[] = {4, 10}, bm[] = {10};
  add_param(g, "c1.w", 4, w1, 1, 0.5f, 0.0f);
  add_param(g, "c1.b", 1, c4, 2, 0.1f, 0.0f);
  add_param(g, "bn.scale", 1, c4, 3, 0.2f, 1.0f);
  add_param(g, "bn.bias", 1, c4, 4, 0.1f, 0.0f);
  add_param(g, "bn.mean", 1, c4, 5, 0.0f, 0.0f);
  add_param(g, "bn.var", 1, c4, 6, 0.0f, 1.0f);
  add_param(g, "c2.w", 4, w2, 7, 0.3f, 0.0f);
  add_param(g, "fc.w", 2, wm, 8, 0.8f, 0.0f);
  add_param(g, "fc.b", 1, bm, 9, 0.1f, 0.0f);
  const int64_t k3[] = {3, 3}, s2[] = {2, 2}, p1[] = {1, 1, 1, 1};
  const tq_attr conv1[] = {
      {.name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = k3, .count = 2},
      {.name = "strides", .type = TQ_ATTR_INTS, .ints = s2, .count = 2},
      {.name = "pads", .type = TQ_ATTR_INTS, .ints = p1, .count = 4}};
  const tq_attr conv2[] = {
      {.name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = k3, .count = 2},
      {.name = "pads", .type = TQ_ATTR_INTS, .ints = p1, .count = 4}};
  const tq_attr pool[] = {
      {.name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = s2, .count = 2},
      {.name = "strides", .type = TQ_ATTR_INTS, .ints = s2, .count = 2}};
  const char *i1[] = {"input", "c1.w", "c1.b"};
  add_node(g, "Conv", "C1", i1, 3, "a", conv1, 3);
  const char *ib[] = {"a", "bn.scale", "bn.bias", "bn.mean", "bn.var"};
  add_node(g, "BatchNormalization", "BN", ib, 5, "b", NULL, 0);
  const char *it[] = {"b"};
  add_node(g, "Tanh", "T1", it, 1, "t", NULL, 0);
  const char *i2[] = {"t", "c2.w"};
  add_node(g, "Conv", "C2", i2, 2, "c", conv2, 2);
  const char *ia[] = {"c", "t"};
  add_node(g, "Add", "Res", ia, 2, "r", NULL, 0);
  const char *ir[] = {"r"};
  add_node(g, "Tanh", "T2", ir, 1, "u", NULL, 0);
  const char *ip[] = {"u"};
  add_node(g, "AveragePool", "P", ip, 1, "v", pool, 2);
  const char *ig[] = {"v"};
  add_node(g, "GlobalAveragePool", "GAP", ig, 1, "gp", NULL, 0);
  const char *ifl[] = {"gp"};
  add_node(g, "Flatten", "F", ifl, 1, "f", NULL, 0);
  const char *im[] = {"f", "fc.w"};
  add_node(g, "MatMul", "FC", im, 2, "z", NULL, 0);
  const char *iz[] = {"z", "fc.b"};
  add_node(g, "Add", "FC/Bias", iz, 2, "logits", NULL, 0);
  ok(tq_graph_add_output(ctx, g, "logits"));
  return g;
}

static void test_network_gradients(void **state) {
  (void)state;
  {
    tq_graph *g = smooth_net();
    tq_train_config cfg;
    tq_train_config_default(&cfg);
    cfg.optimizer = TQ_OPTIMIZER_SGD;
    cfg.momentum = 0.0;
    cfg.lr = 1e-30;
    tq_trainer *t = NULL;
    ok(tq_trainer_create(ctx, g, &cfg, &t));
    int64_t labels[4];
    tq_tensor *x = batch(4, 5, labels);
    loss_now(t, x, labels);
    size_t checked = 0;
    for (size_t p = 0; p < tq_trainer_param_count(t); p++) {
      const char *name = tq_trainer_param_name(t, p);
      const tq_tensor *gt = tq_trainer_param_grad(t, p);
      assert_non_null(gt);
      const size_t n = tq_tensor_numel(gt);
      float *grad = malloc(n * sizeof *grad);
      memcpy(grad, tq_tensor_cdata(gt), n * sizeof *grad);
      float *w = (float *)tq_tensor_cdata(tq_graph_initializer(g, name));
      uint64_t seed = p + 1;
      for (int k = 0; k < 3; k++) {
        const size_t e = (size_t)(tq_test_rand(&seed) % n);
        const float w0 = w[e];
        const float h = 1e-2f;
        w[e] = w0 + h;
        const double lp = loss_now(t, x, labels);
        w[e] = w0 - h;
        const double lm = loss_now(t, x, labels);
        w[e] = w0;
        const double num = (lp - lm) / (2.0 * h);
        const double tol = 2e-3 + 3e-2 * fabs(num);
        if (fabs(num - grad[e]) > tol)
          fail_msg(
              "d loss / d %s[%zu]: backward %.6g, finite "
              "differences %.6g",
              name, e, grad[e], num);
        checked++;
      }
      free(grad);
    }
    /* c1.w, c1.b, bn.scale, bn.bias, c2.w, fc.w, fc.b: the running
     * statistics are state, the bias of MatMul trains */
    assert_int_equal(tq_trainer_param_count(t), 7);
    assert_true(checked == 3 * 7);
    tq_tensor_destroy(x);
    tq_trainer_destroy(t);
    tq_graph_destroy(g);
  }
}

/* A one-layer classifier: logits = x W^T (Gemm), W given. */
static tq_graph *linear_model(const float *w, int64_t in, int64_t out) {
  tq_graph *g = NULL;
  ok(tq_graph_create(ctx, &g));
  tq_shape xs = {.ndim = 2, .dims = {-1, in}};
  ok(tq_graph_add_input(ctx, g, "x", &xs));
  tq_shape ws = {.ndim = 2, .dims = {out, in}};
  tq_tensor *wt = NULL;
  ok(tq_tensor_from_floats(ctx, &ws, w, &wt));
  ok(tq_graph_add_initializer(ctx, g, "W", wt));
  tq_tensor_destroy(wt);
  const char *ins[] = {"x", "W"}, *outs[] = {"logits"};
  tq_attr tb = {.name = "transB", .type = TQ_ATTR_INT, .i = 1};
  ok(tq_graph_add_node(ctx, g, "Gemm", "Dense", ins, 2, outs, 1, &tb, 1));
  ok(tq_graph_add_output(ctx, g, "logits"));
  return g;
}

/* dW of the linear model by hand: softmax(q(z)) - onehot, masked where z
 * left [lo, hi] when clipped. */
static void linear_grad(const float *x, const float *w, const int64_t *y, int B,
                        int in, int out, double lo, double hi, int clipped,
                        double step, float *dw) {
  memset(dw, 0, (size_t)(in * out) * sizeof *dw);
  for (int b = 0; b < B; b++) {
    double z[8], q[8], mx = -INFINITY, se = 0.0;
    for (int o = 0; o < out; o++) {
      double s = 0.0;
      for (int i = 0; i < in; i++) s += (double)x[b * in + i] * w[o * in + i];
      z[o] = (float)s;
      double r = round(z[o] / step) * step;
      q[o] = r < lo ? lo : r > hi ? hi : r;
      mx = q[o] > mx ? q[o] : mx;
    }
    for (int o = 0; o < out; o++) se += exp(q[o] - mx);
    for (int o = 0; o < out; o++) {
      double d = (exp(q[o] - mx) / se - (o == y[b])) / B;
      if (clipped && (z[o] < lo || z[o] > hi)) d = 0.0;
      for (int i = 0; i < in; i++) dw[o * in + i] += (float)(d * x[b * in + i]);
    }
  }
}

static void test_straight_through(void **state) {
  (void)state;
  enum { B = 4, IN = 3, OUT = 4 };
  const float w[OUT * IN] = {3,  -2, 1, 0.5f, 0.25f, -0.5f,
                             -4, 2,  3, 1,    1,     0.5f};
  const float xv[B * IN] = {1,  2,     -1, 0.5f, -1, 2,
                            -2, 0.25f, 1,  1.5f, -1, 0.5f};
  const int64_t y[B] = {0, 3, 1, 2};
  for (int clipped = 0; clipped < 2; clipped++) {
    tq_graph *g = linear_model(w, IN, OUT);
    tq_train_config cfg;
    tq_train_config_default(&cfg);
    cfg.optimizer = TQ_OPTIMIZER_SGD;
    cfg.momentum = 0;
    cfg.lr = 1e-30;
    tq_trainer *t = NULL;
    ok(tq_trainer_create(ctx, g, &cfg, &t));
    tq_qmap_set *maps = maps_from(
        clipped ? "{\"extrinsic\": {\"Dense\": \"nearest,4,1,ste=clipped\"}}"
                : "{\"extrinsic\": {\"Dense\": \"nearest,4,1\"}}");
    ok(tq_trainer_set_maps(ctx, t, maps));
    tq_shape xs = {.ndim = 2, .dims = {B, IN}};
    tq_tensor *x = NULL;
    ok(tq_tensor_from_floats(ctx, &xs, xv, &x));
    tq_step_result r;
    ok(tq_trainer_step(ctx, t, x, y, 0, &r));
    float want[OUT * IN];
    linear_grad(xv, w, y, B, IN, OUT, -4.0, 3.5, clipped, 0.5, want);
    const float *got = tq_tensor_cdata(tq_trainer_param_grad(t, 0));
    float plain[OUT * IN];
    linear_grad(xv, w, y, B, IN, OUT, -4.0, 3.5, 0, 0.5, plain);
    int differs = 0;
    for (int i = 0; i < OUT * IN; i++) {
      assert_float_equal(got[i], want[i], 1e-5);
      differs += fabsf(want[i] - plain[i]) > 1e-3f;
    }
    /* the case must exercise the mask: some outputs left the range */
    if (clipped) assert_true(differs > 0);
    tq_tensor_destroy(x);
    tq_trainer_destroy(t);
    tq_qmap_set_destroy(maps);
    tq_graph_destroy(g);
  }
}

static void test_gradients_and_updates_maps(void **state) {
  (void)state;
  size_t n;
  /* updates: every Dense3 weight on the 2^-6 grid after the steps */
  tq_graph *g = NULL;
  ok(tq_model_build(ctx, "lenet", 1, &g));
  tq_trainer *t = NULL;
  tq_train_config cfg;
  tq_train_config_default(&cfg);
  cfg.optimizer = TQ_OPTIMIZER_SGD;
  ok(tq_trainer_create(ctx, g, &cfg, &t));
  tq_qmap_set *maps = maps_from(
      "{\"updates\": {\"Dense3\": \"stochastic,8,6\"}, \"gradients\": "
      "{\"Dense4\": \"nearest,8,4\"}}");
  ok(tq_trainer_set_maps(ctx, t, maps));
  int64_t labels[16];
  tq_tensor *x = batch(16, 9, labels);
  tq_step_result r;
  ok(tq_trainer_step(ctx, t, x, labels, 0, &r));
  ok(tq_trainer_step(ctx, t, x, labels, 16, &r));
  const tq_tensor *w3 = tq_graph_initializer(g, "Dense3.weight");
  const float *p = tq_tensor_cdata(w3);
  for (size_t i = 0; i < tq_tensor_numel(w3); i++) {
    const float s = p[i] * 64.0f;
    assert_true(s == floorf(s) && s >= -128.0f && s <= 127.0f);
  }
  /* Dense4's input gradient (flowing into Dense3's Relu) is on the 1/16
   * grid; its weight gradients too */
  for (size_t k = 0; k < tq_trainer_param_count(t); k++) {
    if (strcmp(tq_trainer_param_name(t, k), "Dense4.weight")) continue;
    const tq_tensor *gw = tq_trainer_param_grad(t, k);
    const float *gp = tq_tensor_cdata(gw);
    size_t nonzero = 0;
    for (size_t i = 0; i < tq_tensor_numel(gw); i++) {
      assert_true(gp[i] * 16.0f == floorf(gp[i] * 16.0f));
      nonzero += gp[i] != 0.0f;
    }
    assert_true(nonzero > 0);
  }
  tq_tensor_destroy(x);
  tq_trainer_destroy(t);
  tq_qmap_set_destroy(maps);
  tq_graph_destroy(g);
  (void)n;
}

static void test_checkpoint_resume(void **state) {
  (void)state;
  char *path = tq_test_tmp_path("train_test.ckpt");
  float *want = NULL, *got = NULL;
  size_t nw = 0, ng = 0;
  for (int pass = 0; pass < 2; pass++) {
    tq_graph *g = NULL;
    ok(tq_model_build(ctx, "resnet8", 2, &g));
    tq_trainer *t = NULL;
    ok(tq_trainer_create(ctx, g, NULL, &t));
    int64_t labels[8];
    for (int s = 0; s < 4; s++) {
      if (pass == 1 && s < 2) continue;
      if (pass == 1 && s == 2) {
        int epoch = -1;
        uint64_t tag = 0;
        ok(tq_trainer_load_checkpoint(ctx, t, path, &epoch, &tag));
        assert_int_equal(epoch, 5);
        assert_true(tag == 0xfedcba9876543210ull);
        assert_int_equal(tq_trainer_steps(t), 2);
      }
      tq_tensor *x = batch(8, 40 + (uint64_t)s, labels);
      tq_step_result r;
      ok(tq_trainer_step(ctx, t, x, labels, (uint64_t)s * 8, &r));
      tq_tensor_destroy(x);
      if (pass == 0 && s == 1)
        ok(tq_trainer_save_checkpoint(ctx, t, path, 5, 0xfedcba9876543210ull));
    }
    if (pass == 0)
      want = snapshot(g, &nw);
    else
      got = snapshot(g, &ng);
    tq_trainer_destroy(t);
    tq_graph_destroy(g);
  }
  assert_int_equal(nw, ng);
  assert_memory_equal(want, got, nw * sizeof *want);
  /* another model's checkpoint is refused, naming the mismatch */
  tq_graph *g = NULL;
  ok(tq_model_build(ctx, "lenet", 2, &g));
  tq_trainer *t = NULL;
  ok(tq_trainer_create(ctx, g, NULL, &t));
  assert_int_equal(tq_trainer_load_checkpoint(ctx, t, path, NULL, NULL),
                   TQ_ERR_FORMAT);
  assert_non_null(strstr(tq_context_last_error(ctx), "not a checkpoint"));
  tq_trainer_destroy(t);
  tq_graph_destroy(g);
  free(want);
  free(got);
  free(path);
}

/* A user operator (no backward) between the weights and the loss. */
static tq_status twice_infer(tq_op_call *c) {
  return tq_op_set_output(c, 0, TQ_DTYPE_FLOAT32,
                          tq_tensor_shape(tq_op_input(c, 0)));
}
static tq_status twice_forward(tq_op_call *c) {
  const tq_tensor *x = tq_op_input(c, 0);
  const float *xd = tq_tensor_cdata(x);
  float *y = tq_tensor_data(tq_op_output(c, 0));
  for (size_t i = 0; i < tq_tensor_numel(x); i++) y[i] = 2.0f * xd[i];
  return TQ_OK;
}

static void test_missing_backward(void **state) {
  (void)state;
  tq_graph *g = NULL;
  ok(tq_graph_create(ctx, &g));
  const tq_op_def def = {"Twice", 0, twice_infer, twice_forward, NULL};
  ok(tq_graph_register_op(ctx, g, &def));
  tq_shape xs = {.ndim = 2, .dims = {-1, 3}}, ws = {.ndim = 2, .dims = {2, 3}};
  ok(tq_graph_add_input(ctx, g, "x", &xs));
  const float w[6] = {1, 2, 3, 4, 5, 6};
  tq_tensor *wt = NULL;
  ok(tq_tensor_from_floats(ctx, &ws, w, &wt));
  ok(tq_graph_add_initializer(ctx, g, "W", wt));
  tq_tensor_destroy(wt);
  const char *gin[] = {"x", "W"}, *gout[] = {"z"}, *tin[] = {"z"},
             *tout[] = {"logits"};
  tq_attr tb = {.name = "transB", .type = TQ_ATTR_INT, .i = 1};
  ok(tq_graph_add_node(ctx, g, "Gemm", "Dense", gin, 2, gout, 1, &tb, 1));
  ok(tq_graph_add_node(ctx, g, "Twice", "UserTwice", tin, 1, tout, 1, NULL, 0));
  ok(tq_graph_add_output(ctx, g, "logits"));
  tq_trainer *t = NULL;
  assert_int_equal(tq_trainer_create(ctx, g, NULL, &t), TQ_ERR_UNSUPPORTED);
  assert_null(t);
  const char *msg = tq_context_last_error(ctx);
  assert_non_null(strstr(msg, "'UserTwice' (Twice)"));
  assert_non_null(strstr(msg, "no backward"));
  tq_graph_destroy(g);
}

static void test_bad_input(void **state) {
  (void)state;
  tq_graph *g = NULL;
  ok(tq_model_build(ctx, "lenet", 1, &g));
  tq_trainer *t = NULL;
  ok(tq_trainer_create(ctx, g, NULL, &t));
  int64_t labels[4];
  tq_tensor *x = batch(4, 1, labels);
  size_t n0, n1;
  float *before = snapshot(g, &n0);
  /* NaN input: the loss is NaN, nothing changes */
  ((float *)tq_tensor_data(x))[5] = NAN;
  tq_step_result r;
  assert_int_equal(tq_trainer_step(ctx, t, x, labels, 0, &r), TQ_ERR_NUMERIC);
  assert_non_null(strstr(tq_context_last_error(ctx), "NaN"));
  float *after = snapshot(g, &n1);
  assert_memory_equal(before, after, n0 * sizeof *before);
  ((float *)tq_tensor_data(x))[5] = 0.5f;
  /* labels outside the model's classes */
  labels[2] = 10;
  assert_int_equal(tq_trainer_step(ctx, t, x, labels, 0, &r), TQ_ERR_RANGE);
  assert_non_null(strstr(tq_context_last_error(ctx), "10 classes"));
  free(before);
  free(after);
  tq_tensor_destroy(x);
  tq_trainer_destroy(t);
  tq_graph_destroy(g);
  /* unknown zoo model */
  assert_int_equal(tq_model_build(ctx, "vgg99", 1, &g), TQ_ERR_NOT_FOUND);
  assert_non_null(strstr(tq_context_last_error(ctx), "lenet"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_network_gradients),
      cmocka_unit_test(test_straight_through),
      cmocka_unit_test(test_gradients_and_updates_maps),
      cmocka_unit_test(test_deterministic_across_threads),
      cmocka_unit_test(test_checkpoint_resume),
      cmocka_unit_test(test_missing_backward),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
