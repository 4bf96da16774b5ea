/* Calibration methods on known data, the default axes a session gives each
 * operator's weights and activations, static specs under a calibration,
 * and calib.json round trips (include/tensorquant/calibrate.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/int_grid.h"
#include "testutil.h"

static tq_context *new_ctx(void) {
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  return ctx;
}

static void range_of(tq_context *ctx, const float *x, size_t n,
                     const char *method, const tq_quantizer *spec, double *lo,
                     double *hi) {
  tq_calib_opts o = {0};
  assert_int_equal(tq_calib_method_parse(ctx, method, &o), TQ_OK);
  assert_int_equal(tq_calibrate_values(ctx, x, n, &o, spec, lo, hi), TQ_OK);
}

static void test_minmax_exact(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  const float x[] = {0.5f, -3.25f, NAN, 2.0f, 1e-30f};
  double lo, hi;
  range_of(ctx, x, 5, "minmax", NULL, &lo, &hi);
  assert_true(lo == -3.25 && hi == 2.0);
  range_of(ctx, x, 0, "minmax", NULL, &lo, &hi); /* no values: [0, 0] */
  assert_true(lo == 0 && hi == 0);
  tq_context_destroy(ctx);
}

/* 1 .. 1000: |x| binned over [1, 1000] in 2048 bins; the 999th value
 * (cdf 0.999) lies in bin floor(998 / 999 * 2048) = 2045, whose left edge
 * is T; the range is [max(-T, 1), T]. */
static void test_percentile_left_edge(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  float x[1000];
  for (int i = 0; i < 1000; i++) x[i] = (float)(i + 1);
  double lo, hi;
  range_of(ctx, x, 1000, "percentile=99.9", NULL, &lo, &hi);
  const float t = (float)(2045 * (999.0 / 2048) + 1);
  assert_true(lo == 1.0);
  assert_true(hi == t);
  /* symmetric: for -x the range is [-T, -1] */
  for (int i = 0; i < 1000; i++) x[i] = -x[i];
  range_of(ctx, x, 1000, "percentile=99.9", NULL, &lo, &hi);
  assert_true(lo == -t && hi == -1.0);
  /* percentile 100: the last bin's left edge */
  range_of(ctx, x, 1000, "percentile=100", NULL, &lo, &hi);
  assert_true(lo == -(float)(2047 * (999.0 / 2048) + 1));
  tq_context_destroy(ctx);
}

/* Gaussian-like data with one far outlier: entropy and mse clip it;
 * without the outlier, both keep most of the range. */
static void test_entropy_and_mse_clip_outliers(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  enum { N = 20000 };
  float *x = malloc(N * sizeof *x);
  uint64_t seed = 11;
  for (int i = 0; i < N; i++) { /* sum of 4 uniforms: bell-shaped, |x| < 2 */
    double s = 0;
    for (int k = 0; k < 4; k++) s += (tq_test_rand(&seed) >> 11) * 0x1p-53;
    x[i] = (float)(s - 2.0);
  }
  double lo, hi;
  range_of(ctx, x, N, "mse", NULL, &lo, &hi);
  assert_true(hi > 1.0 && hi <= 2.0 && lo < -1.0 && lo >= -2.0);
  x[7] = 100.0f;
  range_of(ctx, x, N, "entropy", NULL, &lo, &hi);
  assert_true(hi < 10.0 && lo > -10.0);
  /* mse: the range it picks quantizes the data itself about as well as
   * the best of its candidates does (it searches on the histogram) */
  tq_quantizer *st8 = NULL;
  assert_int_equal(tq_quantizer_parse(ctx, "int,8,static", &st8), TQ_OK);
  range_of(ctx, x, N, "mse", st8, &lo, &hi);
  float *y = malloc(N * sizeof *y);
  double best = INFINITY, picked = INFINITY;
  for (int k = 100; k >= 1; k--) {
    tq_quant_site site = TQ_QUANT_SITE_INIT;
    site.has_range = 1;
    site.range_lo = (float)(-2.0 * k / 100); /* min x is above -2 */
    site.range_hi = (float)(100.0 * k / 100);
    if (k == 100) { /* the pick */
      site.range_lo = lo;
      site.range_hi = hi;
    }
    assert_int_equal(tq_quantize_tensor(ctx, st8, x, y, N, &site, NULL), TQ_OK);
    double err = 0;
    for (int i = 0; i < N; i++) err += ((double)x[i] - y[i]) * (x[i] - y[i]);
    if (k == 100)
      picked = err;
    else
      best = fmin(best, err);
  }
  assert_true(picked <= best * 1.05);
  free(y);
  tq_quantizer_destroy(st8);
  range_of(ctx, x, N, "minmax", NULL, &lo, &hi);
  assert_true(hi == 100.0);
  /* mse needs a static spec */
  tq_quantizer *q = NULL;
  assert_int_equal(tq_quantizer_parse(ctx, "int,8", &q), TQ_OK);
  tq_calib_opts o = {.method = TQ_CALIB_MSE};
  assert_int_equal(tq_calibrate_values(ctx, x, N, &o, q, &lo, &hi),
                   TQ_ERR_INVALID_ARGUMENT);
  tq_quantizer_destroy(q);
  free(x);
  tq_context_destroy(ctx);
}

static void test_method_names(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_calib_opts o = {0};
  assert_int_equal(tq_calib_method_parse(ctx, "entropy", &o), TQ_OK);
  assert_int_equal(o.method, TQ_CALIB_ENTROPY);
  assert_int_equal(tq_calib_method_parse(ctx, "percentile=99.99", &o), TQ_OK);
  assert_true(o.method == TQ_CALIB_PERCENTILE && o.percentile == 99.99);
  assert_int_equal(tq_calib_method_parse(ctx, "percentile=0", &o),
                   TQ_ERR_PARSE);
  assert_int_equal(tq_calib_method_parse(ctx, "minmaxx", &o), TQ_ERR_PARSE);
  tq_context_destroy(ctx);
}

/* ---- a graph with every kernel layout
 * --------------------------------------*/

static void add_weight(tq_context *ctx, tq_graph *g, const char *name, int ndim,
                       const int64_t *dims) {
  tq_shape s = {.ndim = ndim};
  size_t n = 1;
  for (int d = 0; d < ndim; d++) n *= (size_t)(s.dims[d] = dims[d]);
  float *w = malloc(n * sizeof *w);
  for (size_t i = 0; i < n; i++) w[i] = (float)((int)(i % 7) - 3) * 0.25f;
  tq_tensor *t = NULL;
  assert_int_equal(tq_tensor_from_floats(ctx, &s, w, &t), TQ_OK);
  assert_int_equal(tq_graph_add_initializer(ctx, g, name, t), TQ_OK);
  tq_tensor_destroy(t);
  free(w);
}

/* x [N,4,6,6] -> Conv (w [8,4,3,3]) -> ConvTranspose (wt [8,2,1,1]) ->
 * Flatten [N,32] -> Gemm transB (b [5,32]) -> MatMul (m [5,3]). */
static tq_graph *layouts(tq_context *ctx) {
  tq_graph *g = NULL;
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_shape xs = {.ndim = 4, .dims = {-1, 4, 6, 6}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &xs), TQ_OK);
  add_weight(ctx, g, "w", 4, (const int64_t[]){8, 4, 3, 3});
  add_weight(ctx, g, "wt", 4, (const int64_t[]){8, 2, 1, 1});
  add_weight(ctx, g, "b", 2, (const int64_t[]){5, 32});
  add_weight(ctx, g, "m", 2, (const int64_t[]){5, 3});
  const tq_attr trans = {.name = "transB", .type = TQ_ATTR_INT, .i = 1};
  const char *c_in[] = {"x", "w"}, *c_out[] = {"c"};
  const char *t_in[] = {"c", "wt"}, *t_out[] = {"t"};
  const char *f_in[] = {"t"}, *f_out[] = {"f"};
  const char *g_in[] = {"f", "b"}, *g_out[] = {"gm"};
  const char *m_in[] = {"gm", "m"}, *m_out[] = {"y"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Conv", "conv", c_in, 2, c_out, 1, NULL, 0),
      TQ_OK);
  assert_int_equal(tq_graph_add_node(ctx, g, "ConvTranspose", "convt", t_in, 2,
                                     t_out, 1, NULL, 0),
                   TQ_OK);
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Flatten", "flat", f_in, 1, f_out, 1, NULL, 0),
      TQ_OK);
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Gemm", "gemm", g_in, 2, g_out, 1, &trans, 1),
      TQ_OK);
  assert_int_equal(
      tq_graph_add_node(ctx, g, "MatMul", "mm", m_in, 2, m_out, 1, NULL, 0),
      TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "y"), TQ_OK);
  return g;
}

/* The axis and group spec resolves to at node's weight (kind weights) or
 * output (extrinsic). */
static void resolved(tq_context *ctx, const tq_session *s, size_t node,
                     tq_map_kind kind, const char *spec, int *axis,
                     int64_t *group) {
  tq_quantizer *q = NULL;
  assert_int_equal(tq_quantizer_parse(ctx, spec, &q), TQ_OK);
  tq_quant_site site;
  tq_shape storage;
  assert_int_equal(
      tq_session_quant_site(ctx, s, node, kind, kind == TQ_MAP_WEIGHTS ? 1 : 0,
                            &site, &storage),
      TQ_OK);
  assert_int_equal(tq_quantizer_resolve(ctx, q, &site, axis, group), TQ_OK);
  tq_quantizer_destroy(q);
}

static void test_default_axes(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = layouts(ctx);
  tq_session *s = NULL;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  tq_shape in = {.ndim = 4, .dims = {2, 4, 6, 6}};
  assert_int_equal(tq_session_plan(ctx, s, &in, 1), TQ_OK);
  /* per channel: the output-feature axis; blocks: the reduction axis */
  static const struct {
    size_t node;
    int channel_axis, block_axis;
  } want[] = {{0, 0, 1}, {1, 1, 0}, {3, 0, 1}, {4, 1, 0}};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    int axis;
    int64_t group;
    resolved(ctx, s, want[i].node, TQ_MAP_WEIGHTS, "int,8,axis=channel", &axis,
             &group);
    assert_int_equal(axis, want[i].channel_axis);
    assert_int_equal(group, 0);
    resolved(ctx, s, want[i].node, TQ_MAP_WEIGHTS, "mxfp4", &axis, &group);
    assert_int_equal(axis, want[i].block_axis);
    assert_int_equal(group, 32);
    resolved(ctx, s, want[i].node, TQ_MAP_WEIGHTS, "int,8", &axis, &group);
    assert_true(axis == -1 && group == 0); /* per tensor */
  }
  /* activations: channel axis 1 for NCHW, the last otherwise */
  int axis;
  int64_t group;
  resolved(ctx, s, 0, TQ_MAP_EXTRINSIC, "nvfp4", &axis, &group);
  assert_true(axis == 1 && group == 16);
  resolved(ctx, s, 3, TQ_MAP_EXTRINSIC, "int,4,axis=channel", &axis, &group);
  assert_true(axis == 1 && group == 0);
  resolved(ctx, s, 4, TQ_MAP_EXTRINSIC, "int,8,axis=0", &axis, &group);
  assert_true(axis == 0 && group == 0); /* one sample: [1, 3] */
  /* a weights map quantizes at those sites: per channel on Gemm's [5, 32]
   * gives one scale per output row */
  tq_qmap_set *set = NULL;
  tq_qmap *wm = NULL;
  assert_int_equal(tq_qmap_set_create(ctx, &set), TQ_OK);
  assert_int_equal(tq_qmap_load(ctx, "int,2,axis=channel", TQ_MAP_WEIGHTS, &wm),
                   TQ_OK);
  assert_int_equal(tq_qmap_set_put(ctx, set, wm), TQ_OK);
  assert_int_equal(tq_session_set_maps(ctx, s, set), TQ_OK);
  const float *b = tq_tensor_cdata(tq_session_quantized_weight(s, 3, 1));
  for (int r = 0; r < 5; r++) { /* int2 sym: {-2,-1,0,1} * amax_row */
    float amax = 0;
    for (int k = 0; k < 32; k++)
      amax = fmaxf(amax, fabsf((float)((int)((r * 32 + k) % 7) - 3) * 0.25f));
    for (int k = 0; k < 32; k++) {
      const float v = b[r * 32 + k];
      assert_true(v == 0 || fabsf(v) == amax || v == -2 * amax);
    }
  }
  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* static specs take the calibration's range; a calib.json round trip;
 * a layer the graph lacks is refused. */
static void test_static_under_calibration(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = layouts(ctx);
  tq_session *s = NULL;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  char *path = tq_test_tmp_path("calib_test.json");
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(
      "{\"method\": \"minmax\", \"samples\": 4, \"layers\": {\"mm\": "
      "{\"min\": -1.0, \"max\": 0.5}}}\n",
      f);
  fclose(f);
  tq_calibration *c = NULL;
  assert_int_equal(tq_calibration_load(ctx, path, &c), TQ_OK);
  assert_int_equal(tq_calibration_count(c), 1);
  assert_int_equal(tq_calibration_samples(c), 4);
  double lo, hi;
  assert_string_equal(tq_calibration_layer(c, 0, &lo, &hi), "mm");
  assert_true(lo == -1.0 && hi == 0.5);
  assert_int_equal(tq_calibration_save(ctx, c, path), TQ_OK);
  tq_calibration_destroy(c);
  assert_int_equal(tq_calibration_load(ctx, path, &c), TQ_OK);
  assert_string_equal(tq_calibration_method(c), "minmax");
  assert_int_equal(tq_session_set_calibration(ctx, s, c), TQ_OK);
  tq_calibration_destroy(c);
  /* int,2,static on mm: amax 1, s = 1: outputs clamp to {-2..1} */
  tq_qmap_set *set = NULL;
  tq_qmap *em = NULL;
  assert_int_equal(tq_qmap_set_create(ctx, &set), TQ_OK);
  assert_int_equal(tq_qmap_load(ctx, "{\"re:^mm$\": \"int,2,static\"}",
                                TQ_MAP_EXTRINSIC, &em),
                   TQ_OK);
  assert_int_equal(tq_qmap_set_put(ctx, set, em), TQ_OK);
  assert_int_equal(tq_session_set_maps(ctx, s, set), TQ_OK);
  tq_shape in = {.ndim = 4, .dims = {1, 4, 6, 6}};
  tq_tensor *x = NULL, *y = NULL;
  assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &in, &x), TQ_OK);
  float *xp = tq_tensor_data(x);
  for (size_t i = 0; i < tq_tensor_numel(x); i++)
    xp[i] = (float)((int)(i % 5) - 2);
  const tq_tensor *arg = x;
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &y, 1, NULL), TQ_OK);
  const float *yp = tq_tensor_cdata(y);
  for (size_t i = 0; i < tq_tensor_numel(y); i++)
    assert_true(yp[i] == -2 || yp[i] == -1 || yp[i] == 0 || yp[i] == 1);
  tq_tensor_destroy(y);
  /* another model's layer */
  f = fopen(path, "w");
  fputs(
      "{\"method\": \"minmax\", \"samples\": 4, \"layers\": {\"conv9\": "
      "{\"min\": -1.0, \"max\": 0.5}}}\n",
      f);
  fclose(f);
  assert_int_equal(tq_calibration_load(ctx, path, &c), TQ_OK);
  assert_int_equal(tq_session_set_calibration(ctx, s, c),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(tq_context_last_error(ctx), "'conv9'"));
  assert_non_null(strstr(tq_context_last_error(ctx), "calib_test.json"));
  tq_calibration_destroy(c);
  /* without a range, the static layer fails naming itself */
  assert_int_equal(tq_session_set_calibration(ctx, s, NULL), TQ_OK);
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &y, 1, NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(tq_context_last_error(ctx), "layer 'mm'"));
  /* malformed JSON: file:line:col */
  f = fopen(path, "w");
  fputs("{\"method\": \"minmax\",\n \"layers\": [}\n", f);
  fclose(f);
  assert_int_equal(tq_calibration_load(ctx, path, &c), TQ_ERR_PARSE);
  assert_non_null(strstr(tq_context_last_error(ctx), "calib_test.json:2:"));
  remove(path);
  free(path);
  tq_tensor_destroy(x);
  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* The weights-map bias rule (docs/design.md §3.3): under an int weights
 * quantizer, a Conv whose input comes through a per-tensor static int
 * quantizer with a calibrated range gets ONNX Runtime's int32 bias
 * (scale = input scale x kernel scale); without the range it stays float.
 * x = 0, so the output is the bias the session computes with. */
#define TEXT_ARGS(text) text, strlen(text)
static void test_int32_bias_behind_static_input(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = NULL;
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_shape xs = {.ndim = 4, .dims = {1, 2, 1, 1}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &xs), TQ_OK);
  const float w[] = {1.27f, 0.5f, -0.635f, 0.25f};
  const float b[] = {0.00015f, -0.00033f};
  tq_shape ws = {.ndim = 4, .dims = {2, 2, 1, 1}},
           bs = {.ndim = 1, .dims = {2}};
  tq_tensor *t = NULL;
  assert_int_equal(tq_tensor_from_floats(ctx, &ws, w, &t), TQ_OK);
  assert_int_equal(tq_graph_add_initializer(ctx, g, "w", t), TQ_OK);
  tq_tensor_destroy(t);
  assert_int_equal(tq_tensor_from_floats(ctx, &bs, b, &t), TQ_OK);
  assert_int_equal(tq_graph_add_initializer(ctx, g, "b", t), TQ_OK);
  tq_tensor_destroy(t);
  const char *p_in[] = {"x"}, *p_out[] = {"r"};
  const char *c_in[] = {"r", "w", "b"}, *c_out[] = {"y"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Relu", "pre", p_in, 1, p_out, 1, NULL, 0),
      TQ_OK);
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Conv", "conv", c_in, 3, c_out, 1, NULL, 0),
      TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "y"), TQ_OK);
  tq_session *s = NULL;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  tq_qmap_set *set = NULL;
  assert_int_equal(
      tq_qmap_set_parse_json(ctx,
                             TEXT_ARGS("{\"extrinsic\": {\"re:^pre$\": "
                                       "\"int,8,static\"}, \"weights\": "
                                       "{\"re:^conv$\": \"int,8\"}}"),
                             "bias-map", &set),
      TQ_OK);
  assert_int_equal(tq_session_set_maps(ctx, s, set), TQ_OK);
  tq_calibration *c = NULL;
  assert_int_equal(
      tq_calibration_parse(ctx,
                           TEXT_ARGS("{\"method\": \"minmax\", \"samples\": "
                                     "1, \"layers\": {\"pre\": {\"min\": 0, "
                                     "\"max\": 2.54}}}"),
                           "calib-text", &c),
      TQ_OK);
  /* set after the maps: the weights are quantized again */
  assert_int_equal(tq_session_set_calibration(ctx, s, c), TQ_OK);
  tq_tensor *x = NULL, *y = NULL;
  assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &xs, &x), TQ_OK);
  memset(tq_tensor_data(x), 0, 2 * sizeof(float));
  const tq_tensor *arg = x;
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &y, 1, NULL), TQ_OK);
  const float in_scale = 2.54f / 127.0f, w_scale = 1.27f / 127.0f;
  float expect[2];
  tq_int32_bias(b, 2, in_scale, &w_scale, 1, expect);
  const float *yp = tq_tensor_cdata(y);
  for (int k = 0; k < 2; k++) {
    assert_true(yp[k] == expect[k]);
    assert_true(fabsf(yp[k] - b[k]) > 1e-5f); /* it moved off the float */
  }
  tq_tensor_destroy(y);
  /* without the range the input scale is not static: the bias stays float */
  tq_calibration *other = NULL;
  assert_int_equal(tq_calibration_parse(ctx,
                                        TEXT_ARGS("{\"method\": \"minmax\", "
                                                  "\"samples\": 1, "
                                                  "\"layers\": {}}"),
                                        "calib-text", &other),
                   TQ_OK);
  tq_qmap_set_destroy(set);
  assert_int_equal(
      tq_qmap_set_parse_json(
          ctx, TEXT_ARGS("{\"weights\": {\"re:^conv$\": \"int,8\"}}"),
          "bias-map", &set),
      TQ_OK);
  assert_int_equal(tq_session_set_maps(ctx, s, set), TQ_OK);
  assert_int_equal(tq_session_set_calibration(ctx, s, other), TQ_OK);
  assert_int_equal(tq_session_run(ctx, s, &arg, 1, &y, 1, NULL), TQ_OK);
  yp = tq_tensor_cdata(y);
  for (int k = 0; k < 2; k++) assert_true(yp[k] == b[k]);
  tq_tensor_destroy(y);
  tq_calibration_destroy(other);
  tq_calibration_destroy(c);
  tq_tensor_destroy(x);
  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* A grouped format in an intrinsic map is refused, naming layer and spec. */
static void test_intrinsic_refuses_groups(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = layouts(ctx);
  tq_session *s = NULL;
  assert_int_equal(tq_session_create(ctx, g, &s), TQ_OK);
  tq_qmap_set *set = NULL;
  tq_qmap *im = NULL;
  assert_int_equal(tq_qmap_set_create(ctx, &set), TQ_OK);
  assert_int_equal(
      tq_qmap_load(ctx,
                   "{\"\": {\"product\": \"fp8e4m3\", \"sum\": \"int,8\"}}",
                   TQ_MAP_INTRINSIC, &im),
      TQ_OK);
  assert_int_equal(tq_qmap_set_put(ctx, set, im), TQ_OK);
  assert_int_equal(tq_session_set_maps(ctx, s, set), TQ_ERR_UNSUPPORTED);
  assert_non_null(strstr(tq_context_last_error(ctx), "layer 'conv'"));
  assert_non_null(strstr(tq_context_last_error(ctx), "'int,8'"));
  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minmax_exact),
      cmocka_unit_test(test_percentile_left_edge),
      cmocka_unit_test(test_entropy_and_mse_clip_outliers),
      cmocka_unit_test(test_method_names),
      cmocka_unit_test(test_default_axes),
      cmocka_unit_test(test_static_under_calibration),
      cmocka_unit_test(test_intrinsic_refuses_groups),
      cmocka_unit_test(test_int32_bias_behind_static_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
