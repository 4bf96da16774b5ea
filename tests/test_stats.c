/* Per-layer statistics (stats.h): exact figures on a tiny graph whose
 * values are known by hand, NaN/inf accounting, percentile accuracy on
 * random data, batch-size independence, quantized values under maps, the
 * JSON/CSV text, lookups, and tq_fixed_frac_bits edge cases. */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "tensorquant/op.h"
#include "tensorquant/stats.h"

/* ---- a tiny graph of user operators ------------------------------------- */

static tq_status same_infer(tq_op_call *c) {
  return tq_op_set_output(c, 0, TQ_DTYPE_FLOAT32,
                          tq_tensor_shape(tq_op_input(c, 0)));
}
/* y = x * w, w of the sample's size (broadcast over the batch) */
static tq_status scale_forward(tq_op_call *c) {
  const tq_tensor *x = tq_op_input(c, 0), *w = tq_op_input(c, 1);
  const float *xd = tq_tensor_cdata(x), *wd = tq_tensor_cdata(w);
  float *y = tq_tensor_data(tq_op_output(c, 0));
  const size_t n = tq_tensor_numel(x), nw = tq_tensor_numel(w);
  for (size_t i = 0; i < n; i++) y[i] = xd[i] * wd[i % nw];
  return TQ_OK;
}
static tq_status recip_forward(tq_op_call *c) {
  const tq_tensor *x = tq_op_input(c, 0);
  const float *xd = tq_tensor_cdata(x);
  float *y = tq_tensor_data(tq_op_output(c, 0));
  for (size_t i = 0; i < tq_tensor_numel(x); i++) y[i] = 1.0f / xd[i];
  return TQ_OK;
}
static tq_status sqrt_forward(tq_op_call *c) {
  const tq_tensor *x = tq_op_input(c, 0);
  const float *xd = tq_tensor_cdata(x);
  float *y = tq_tensor_data(tq_op_output(c, 0));
  for (size_t i = 0; i < tq_tensor_numel(x); i++) y[i] = sqrtf(xd[i]);
  return TQ_OK;
}

/* x [-1, 4] -> Net/Scale (weight w) -> a; a -> Net/Recip -> r (inf from
 * the zeros); a -> Net/Sqrt -> q (NaN from the negatives); output r. */
static const float W[4] = {1.0f, -1.0f, 0.5f, 2.0f};
static const float X[4][4] = {
    {0, 1, 2, 3}, {-1, 0, 0, 4}, {0.5f, -2, 8, 0}, {1, 1, 1, 1}};

static tq_graph *build(tq_context *ctx, const float *w, size_t nw) {
  tq_graph *g;
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_op_def scale = {"Scale", 1, same_infer, scale_forward, NULL};
  tq_op_def recip = {"Recip", 0, same_infer, recip_forward, NULL};
  tq_op_def sq = {"Sqrt2", 0, same_infer, sqrt_forward, NULL};
  assert_int_equal(tq_graph_register_op(ctx, g, &scale), TQ_OK);
  assert_int_equal(tq_graph_register_op(ctx, g, &recip), TQ_OK);
  assert_int_equal(tq_graph_register_op(ctx, g, &sq), TQ_OK);
  tq_shape in_shape = {2, {-1, (int64_t)nw}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &in_shape), TQ_OK);
  tq_tensor *wt;
  assert_int_equal(
      tq_tensor_from_floats(ctx, &(tq_shape){1, {(int64_t)nw}}, w, &wt), TQ_OK);
  assert_int_equal(tq_graph_add_initializer(ctx, g, "scale.weight", wt), TQ_OK);
  tq_tensor_destroy(wt);
  assert_int_equal(tq_graph_push_scope(ctx, g, "Net"), TQ_OK);
  const char *sin[] = {"x", "scale.weight"}, *sout[] = {"a"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Scale", "Scale", sin, 2, sout, 1, NULL, 0),
      TQ_OK);
  const char *ain[] = {"a"}, *rout[] = {"r"}, *qout[] = {"q"};
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Recip", "Recip", ain, 1, rout, 1, NULL, 0),
      TQ_OK);
  assert_int_equal(
      tq_graph_add_node(ctx, g, "Sqrt2", "Sqrt", ain, 1, qout, 1, NULL, 0),
      TQ_OK);
  assert_int_equal(tq_graph_pop_scope(ctx, g), TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "r"), TQ_OK);
  return g;
}

/* An NPY-pair dataset of the four samples X (labels 0..3). */
static tq_dataset *open_data(tq_context *ctx) {
  char *xp = tq_test_tmp_path("stats_X.npy"),
       *yp = tq_test_tmp_path("stats_y.npy");
  const float y[4] = {0, 1, 2, 3};
  assert_int_equal(tq_npy_write(ctx, xp, &X[0][0], &(tq_shape){2, {4, 4}}),
                   TQ_OK);
  assert_int_equal(tq_npy_write(ctx, yp, y, &(tq_shape){1, {4}}), TQ_OK);
  char spec[1024];
  snprintf(spec, sizeof spec, "%s,%s", xp, yp);
  tq_dataset *ds;
  assert_int_equal(tq_dataset_open(ctx, spec, TQ_SPLIT_TEST, &ds), TQ_OK);
  free(xp);
  free(yp);
  return ds;
}

typedef struct fixture {
  tq_context *ctx;
  tq_graph *g;
  tq_session *s;
  tq_dataset *ds;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_int_equal(tq_context_create(&f->ctx), TQ_OK);
  f->g = build(f->ctx, W, 4);
  assert_int_equal(tq_session_create(f->ctx, f->g, &f->s), TQ_OK);
  f->ds = open_data(f->ctx);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tq_dataset_destroy(f->ds);
  tq_session_destroy(f->s);
  tq_graph_destroy(f->g);
  tq_context_destroy(f->ctx);
  free(f);
  return 0;
}

static tq_stats *collect(fixture *f, int batch) {
  tq_stats *st = NULL;
  assert_int_equal(
      tq_stats_collect(f->ctx, f->s, f->ds, NULL, 4, batch, NULL, &st), TQ_OK);
  return st;
}

/* ---- exact figures ------------------------------------------------------- */

static void entries_in_node_order(void **state) {
  fixture *f = *state;
  tq_stats *st = collect(f, 2);
  assert_int_equal(tq_stats_count(st), 4);
  assert_int_equal(tq_stats_samples(st), 4);
  const char *layers[] = {"Net/Scale", "Net/Scale", "Net/Recip", "Net/Sqrt"};
  const char *values[] = {"a", "scale.weight", "r", "q"};
  const tq_stats_kind kinds[] = {TQ_STATS_ACTIVATION, TQ_STATS_WEIGHT,
                                 TQ_STATS_ACTIVATION, TQ_STATS_ACTIVATION};
  for (size_t i = 0; i < 4; i++) {
    const tq_stats_entry *e = tq_stats_get(st, i);
    assert_non_null(e);
    assert_int_equal(e->index, i);
    assert_string_equal(e->layer, layers[i]);
    assert_string_equal(e->value, values[i]);
    assert_int_equal(e->kind, kinds[i]);
    assert_int_equal(e->quantized, 0);
  }
  assert_string_equal(tq_stats_get(st, 0)->op, "Scale");
  assert_int_equal(tq_stats_get(st, 1)->slot, 1);
  /* activations: the shape of one sample; weights: the tensor's */
  assert_int_equal(tq_stats_get(st, 0)->shape.ndim, 1);
  assert_int_equal(tq_stats_get(st, 0)->shape.dims[0], 4);
  assert_null(tq_stats_get(st, 4));
  tq_stats_destroy(st);
}

/* a = x * w over the four samples, sorted: -1 -1 -1 0 0 0 0 .5 .5 1 1 2 2 4
 * 6 8: sum 22, sum of squares 129.5. */
static void activation_figures(void **state) {
  fixture *f = *state;
  tq_stats *st = collect(f, 3);
  const tq_stats_entry *e = tq_stats_find(st, "Net/Scale", TQ_STATS_ACTIVATION);
  assert_non_null(e);
  assert_int_equal(e->count, 16);
  assert_int_equal(e->finite, 16);
  assert_int_equal(e->zeros, 4);
  assert_int_equal(e->nan + e->pos_inf + e->neg_inf, 0);
  assert_true(e->min == -1.0);
  assert_true(e->max == 8.0);
  assert_true(e->max_abs == 8.0);
  assert_true(e->mean == 22.0 / 16.0);
  assert_true(e->std == sqrt(129.5 / 16.0 - (22.0 / 16.0) * (22.0 / 16.0)));
  /* nearest rank: ceil(p/100 * 16) */
  const double p[] = {0,     0.1,   5,  25, 43.75, 43.76, 50,
                      56.25, 56.26, 75, 95, 99.9,  100};
  const double want[] = {-1, -1, -1, 0, 0, 0.5, 0.5, 0.5, 1, 2, 8, 8, 8};
  for (size_t k = 0; k < sizeof p / sizeof *p; k++)
    assert_true(tq_stats_percentile(st, e->index, p[k]) == want[k]);
  /* |x|: 0 0 0 0 .5 .5 1 1 1 1 1 2 2 4 6 8 */
  assert_true(tq_stats_abs_percentile(st, e->index, 25) == 0.0);
  assert_true(tq_stats_abs_percentile(st, e->index, 50) == 1.0);
  assert_true(tq_stats_abs_percentile(st, e->index, 68.75) == 1.0);
  assert_true(tq_stats_abs_percentile(st, e->index, 68.76) == 2.0);
  assert_true(tq_stats_abs_percentile(st, e->index, 99.99) == 8.0);
  assert_true(isnan(tq_stats_percentile(st, e->index, 100.5)));
  assert_true(isnan(tq_stats_percentile(st, e->index, -1)));
  assert_true(isnan(tq_stats_percentile(st, 99, 50)));
  /* linear: 4 bins over [-1, 8], edges -1 1.25 3.5 5.75 8 */
  double edges[5];
  uint64_t counts[4];
  assert_int_equal(tq_stats_histogram(f->ctx, st, e->index, 4, edges, counts),
                   TQ_OK);
  const double we[] = {-1, 1.25, 3.5, 5.75, 8};
  const uint64_t wc[] = {11, 2, 1, 2};
  for (int k = 0; k < 5; k++) assert_true(edges[k] == we[k]);
  for (int k = 0; k < 4; k++) assert_int_equal(counts[k], wc[k]);
  /* log2 of |x|: 2^-1: 2, 2^0: 5, 2^1: 2, 2^2: 2 (4 and 6), 2^3: 1 */
  uint64_t l2[TQ_STATS_LOG2_BINS];
  assert_int_equal(tq_stats_log2_histogram(st, e->index, l2), 0);
  uint64_t total = 0;
  for (int k = 0; k < TQ_STATS_LOG2_BINS; k++) total += l2[k];
  assert_int_equal(total, 12);
  const int exps[] = {-1, 0, 1, 2, 3};
  const uint64_t lc[] = {2, 5, 2, 2, 1};
  for (int k = 0; k < 5; k++)
    assert_int_equal(l2[exps[k] - TQ_STATS_LOG2_MIN], lc[k]);
  tq_stats_destroy(st);
}

/* w = 1 -1 .5 2: mean .625, squared deviations sum 4.6875 */
static void weight_figures(void **state) {
  fixture *f = *state;
  tq_stats *st = collect(f, 4);
  const tq_stats_entry *e = tq_stats_find(st, "Net/Scale", TQ_STATS_WEIGHT);
  assert_non_null(e);
  assert_ptr_equal(e, tq_stats_find_value(st, "scale.weight", TQ_STATS_WEIGHT));
  assert_null(tq_stats_find_value(st, "scale.weight", TQ_STATS_ACTIVATION));
  assert_int_equal(e->count, 4);
  assert_int_equal(e->zeros, 0);
  assert_true(e->min == -1.0 && e->max == 2.0 && e->max_abs == 2.0);
  assert_true(e->mean == 0.625);
  assert_true(e->std == sqrt(4.6875 / 4.0));
  assert_true(tq_stats_percentile(st, e->index, 50) == 0.5);
  assert_int_equal(e->shape.ndim, 1);
  double m = 0;
  assert_int_equal(
      tq_stats_layer_max_abs(f->ctx, st, "Net/Scale", TQ_STATS_WEIGHT, &m),
      TQ_OK);
  assert_true(m == 2.0);
  assert_int_equal(
      tq_stats_layer_max_abs(f->ctx, st, "Net/Scale", TQ_STATS_ACTIVATION, &m),
      TQ_OK);
  assert_true(m == 8.0);
  assert_int_equal(
      tq_stats_layer_max_abs(f->ctx, st, "Net/Recip", TQ_STATS_WEIGHT, &m),
      TQ_ERR_NOT_FOUND);
  assert_non_null(strstr(tq_context_last_error(f->ctx), "Net/Recip"));
  assert_null(tq_stats_find(st, "Net/Nope", TQ_STATS_ACTIVATION));
  assert_null(tq_stats_find(st, "Net/Scal", TQ_STATS_ACTIVATION));
  tq_stats_destroy(st);
}

/* 1/a: three +0 give +inf, the -0 (0 * -1) gives -inf; sqrt(a): the three
 * -1 give NaN. Statistics cover the finite values. */
static void nan_and_inf_counted(void **state) {
  fixture *f = *state;
  tq_stats *st = collect(f, 4);
  const tq_stats_entry *r = tq_stats_find(st, "Net/Recip", TQ_STATS_ACTIVATION);
  assert_int_equal(r->count, 16);
  assert_int_equal(r->finite, 12);
  assert_int_equal(r->pos_inf, 3);
  assert_int_equal(r->neg_inf, 1);
  assert_int_equal(r->nan, 0);
  assert_int_equal(r->zeros, 0);
  assert_true(r->min == -1.0 && r->max == 2.0 && r->max_abs == 2.0);
  const tq_stats_entry *q = tq_stats_find(st, "Net/Sqrt", TQ_STATS_ACTIVATION);
  assert_int_equal(q->nan, 3);
  assert_int_equal(q->finite, 13);
  assert_int_equal(q->zeros, 4);
  assert_true(q->min == 0.0 && !signbit(q->min)); /* -0 reported as 0 */
  assert_true(q->max == (double)sqrtf(8.0f));
  /* the JSON has no inf/NaN literal and counts them */
  char *text = NULL;
  assert_int_equal(tq_stats_to_json(f->ctx, st, NULL, &text), TQ_OK);
  json_error_t err;
  json_t *root = json_loads(text, 0, &err);
  assert_non_null(root);
  json_t *layers = json_object_get(root, "layers");
  assert_int_equal(json_array_size(layers), 4);
  json_t *jr = json_array_get(layers, 2);
  assert_string_equal(json_string_value(json_object_get(jr, "layer")),
                      "Net/Recip");
  assert_int_equal(json_integer_value(json_object_get(jr, "pos_inf")), 3);
  assert_int_equal(json_integer_value(json_object_get(jr, "neg_inf")), 1);
  json_decref(root);
  tq_free(text);
  tq_stats_destroy(st);
}

/* The same entries, bit for bit, at batch 1, 3 and 4, and at 1 or 2
 * threads (the figures are merged sample by sample, in order). */
static void batch_and_threads_independent(void **state) {
  fixture *f = *state;
  char *ref = NULL;
  tq_stats *st = collect(f, 4);
  assert_int_equal(tq_stats_to_json(f->ctx, st, NULL, &ref), TQ_OK);
  tq_stats_destroy(st);
  const int batches[] = {1, 3, 2, 4};
  for (int k = 0; k < 4; k++) {
    assert_int_equal(tq_context_set_threads(f->ctx, 1 + k % 2), TQ_OK);
    st = collect(f, batches[k]);
    char *text = NULL;
    assert_int_equal(tq_stats_to_json(f->ctx, st, NULL, &text), TQ_OK);
    assert_string_equal(text, ref);
    tq_free(text);
    tq_stats_destroy(st);
  }
  tq_free(ref);
}

/* With maps the figures are of the quantized values: weights nearest,4,0
 * give 1 -1 1 2 (0.5 rounds away from zero), outputs nearest,4,0 round
 * a = x * wq. */
static void quantized_under_maps(void **state) {
  fixture *f = *state;
  tq_qmap_set *set;
  tq_qmap *wm, *em;
  assert_int_equal(tq_qmap_set_create(f->ctx, &set), TQ_OK);
  assert_int_equal(tq_qmap_create(f->ctx, TQ_MAP_WEIGHTS, &wm), TQ_OK);
  assert_int_equal(tq_qmap_add(f->ctx, wm, "Scale", "nearest,4,0"), TQ_OK);
  assert_int_equal(tq_qmap_set_put(f->ctx, set, wm), TQ_OK);
  assert_int_equal(tq_qmap_create(f->ctx, TQ_MAP_EXTRINSIC, &em), TQ_OK);
  assert_int_equal(tq_qmap_add(f->ctx, em, "Net/Scale", "nearest,4,0"), TQ_OK);
  assert_int_equal(tq_qmap_set_put(f->ctx, set, em), TQ_OK);
  assert_int_equal(tq_session_set_maps(f->ctx, f->s, set), TQ_OK);
  tq_stats *st = collect(f, 4);
  const tq_stats_entry *w = tq_stats_find(st, "Net/Scale", TQ_STATS_WEIGHT);
  assert_int_equal(w->quantized, 1);
  assert_true(w->mean == 0.75);
  const tq_stats_entry *a = tq_stats_find(st, "Net/Scale", TQ_STATS_ACTIVATION);
  assert_int_equal(a->quantized, 1);
  /* x * wq: s0 0 -1 2 6, s1 -1 -0 0 8, s2 .5 2 8 0 -> 1 (round), s3 1 -1 1
   * 2: nearest,4,0 saturates at 7 */
  assert_true(a->max == 7.0);
  assert_true(a->min == -1.0);
  assert_int_equal(a->zeros, 4);
  assert_int_equal(
      tq_stats_find(st, "Net/Recip", TQ_STATS_ACTIVATION)->quantized, 0);
  tq_stats_destroy(st);
  assert_int_equal(tq_session_set_maps(f->ctx, f->s, NULL), TQ_OK);
  tq_qmap_set_destroy(set);
}

static void bad_arguments(void **state) {
  fixture *f = *state;
  tq_stats *st = (tq_stats *)1;
  assert_int_equal(tq_stats_collect(f->ctx, f->s, f->ds, NULL, 0, 4, NULL, &st),
                   TQ_ERR_RANGE);
  assert_null(st);
  assert_non_null(strstr(tq_context_last_error(f->ctx), "n = 0"));
  assert_int_equal(tq_stats_collect(f->ctx, f->s, f->ds, NULL, 5, 4, NULL, &st),
                   TQ_ERR_RANGE);
  assert_non_null(strstr(tq_context_last_error(f->ctx), "has 4"));
  assert_int_equal(tq_stats_collect(f->ctx, f->s, f->ds, NULL, 4, 0, NULL, &st),
                   TQ_ERR_INVALID_ARGUMENT);
  tq_stats_opts o = {.widths = {8, 1}, .n_widths = 2};
  assert_int_equal(tq_stats_collect(f->ctx, f->s, f->ds, NULL, 4, 4, &o, &st),
                   TQ_ERR_RANGE);
  assert_non_null(strstr(tq_context_last_error(f->ctx), "width 1"));
  size_t idx[2] = {1, 9};
  assert_int_equal(tq_stats_collect(f->ctx, f->s, f->ds, idx, 2, 4, NULL, &st),
                   TQ_ERR_RANGE);
  assert_null(st);
  /* a dataset whose samples do not fit the input */
  tq_graph *g = build(f->ctx, W, 2);
  tq_session *s;
  assert_int_equal(tq_session_create(f->ctx, g, &s), TQ_OK);
  assert_int_equal(tq_stats_collect(f->ctx, s, f->ds, NULL, 4, 4, NULL, &st),
                   TQ_ERR_SHAPE);
  assert_non_null(
      strstr(tq_context_last_error(f->ctx), "samples of shape [4]"));
  tq_session_destroy(s);
  tq_graph_destroy(g);
}

/* Output [batch, 4] scores against labels 0..4 (5 classes): refused. */
static void output_classes_checked(void **state) {
  fixture *f = *state;
  char *xp = tq_test_tmp_path("stats_X5.npy"),
       *yp = tq_test_tmp_path("stats_y5.npy");
  const float y[4] = {0, 1, 4, 3};
  assert_int_equal(tq_npy_write(f->ctx, xp, &X[0][0], &(tq_shape){2, {4, 4}}),
                   TQ_OK);
  assert_int_equal(tq_npy_write(f->ctx, yp, y, &(tq_shape){1, {4}}), TQ_OK);
  char spec[1024];
  snprintf(spec, sizeof spec, "%s,%s", xp, yp);
  tq_dataset *ds;
  assert_int_equal(tq_dataset_open(f->ctx, spec, TQ_SPLIT_TEST, &ds), TQ_OK);
  tq_stats *st;
  assert_int_equal(tq_stats_collect(f->ctx, f->s, ds, NULL, 4, 4, NULL, &st),
                   TQ_ERR_SHAPE);
  assert_non_null(strstr(tq_context_last_error(f->ctx), "4 classes"));
  tq_dataset_destroy(ds);
  free(xp);
  free(yp);
}

/* ---- percentile accuracy on values with many significant bits ----------- */

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

static void percentile_accuracy(void **state) {
  fixture *f = *state;
  enum { N = 20000 };
  float *w = malloc(N * sizeof *w), *sorted = malloc(N * sizeof *w);
  uint64_t rng = 42;
  for (int i = 0; i < N; i++) {
    /* both signs, magnitudes over 2^-20 .. 2^10, full mantissas */
    double u = (double)(tq_test_rand(&rng) >> 11) / 9007199254740992.0;
    double mag = ldexp(1.0 + u, (int)(tq_test_rand(&rng) % 31) - 20);
    w[i] = (float)((tq_test_rand(&rng) & 1) ? -mag : mag);
  }
  w[7] = 0.0f;
  w[8] = 1e-40f; /* subnormal: 2^-133 <= x < 2^-132 */
  tq_graph *g = build(f->ctx, w, N);
  tq_session *s;
  assert_int_equal(tq_session_create(f->ctx, g, &s), TQ_OK);
  tq_stats_opts o = {.skip_activations = 1};
  tq_stats *st;
  assert_int_equal(tq_stats_collect(f->ctx, s, NULL, NULL, 0, 0, &o, &st),
                   TQ_OK);
  assert_int_equal(tq_stats_count(st), 1);
  const tq_stats_entry *e = tq_stats_get(st, 0);
  assert_int_equal(e->count, N);
  memcpy(sorted, w, N * sizeof *w);
  qsort(sorted, N, sizeof *sorted, cmp_float);
  assert_true(e->min == sorted[0] && e->max == sorted[N - 1]);
  const double ps[] = {0, 0.1, 1, 5, 25, 50, 75, 95, 99, 99.9, 99.99, 100};
  for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
    size_t rank = (size_t)ceil(ps[k] / 100.0 * N - 1e-9);
    double exact = sorted[rank ? rank - 1 : 0];
    double got = tq_stats_percentile(st, 0, ps[k]);
    /* truncated toward zero, within 2^-10 relative */
    assert_true(fabs(got) <= fabs(exact));
    assert_true(fabs(exact - got) <= ldexp(fabs(exact), -10));
  }
  for (int i = 0; i < N; i++) sorted[i] = fabsf(w[i]);
  qsort(sorted, N, sizeof *sorted, cmp_float);
  const double ap[] = {50, 99, 99.9, 99.99};
  for (size_t k = 0; k < 4; k++) {
    size_t rank = (size_t)ceil(ap[k] / 100.0 * N - 1e-9);
    double exact = sorted[rank - 1];
    double got = tq_stats_abs_percentile(st, 0, ap[k]);
    assert_true(got <= exact && exact - got <= ldexp(exact, -10));
  }
  /* every nonzero value in exactly one log2 bin; the subnormal in its own */
  uint64_t l2[TQ_STATS_LOG2_BINS], total = 0;
  tq_stats_log2_histogram(st, 0, l2);
  for (int k = 0; k < TQ_STATS_LOG2_BINS; k++) total += l2[k];
  assert_int_equal(total + e->zeros, N);
  assert_int_equal(l2[-133 - TQ_STATS_LOG2_MIN], 1);
  int n_exact = 0;
  for (int i = 0; i < N; i++)
    if (w[i] != 0.0f && ilogb(w[i]) == 3) n_exact++;
  assert_int_equal(l2[3 - TQ_STATS_LOG2_MIN], n_exact);
  /* linear histogram: every finite value once */
  double edges[65];
  uint64_t counts[64], sum = 0;
  assert_int_equal(tq_stats_histogram(f->ctx, st, 0, 64, edges, counts), TQ_OK);
  for (int k = 0; k < 64; k++) sum += counts[k];
  assert_int_equal(sum, N);
  assert_true(edges[0] == e->min && edges[64] == e->max);
  tq_stats_destroy(st);
  tq_session_destroy(s);
  tq_graph_destroy(g);
  free(w);
  free(sorted);
}

/* ---- reports ------------------------------------------------------------- */

static void json_document_and_csv(void **state) {
  fixture *f = *state;
  tq_stats_opts o = {.widths = {8, 4}, .n_widths = 2, .bins = 4};
  tq_stats *st;
  assert_int_equal(tq_stats_collect(f->ctx, f->s, f->ds, NULL, 4, 2, &o, &st),
                   TQ_OK);
  tq_stats_json_opts jo = {
      .document = 1, .model = "dir/tiny.onnx", .data = "npy", .split = "test"};
  char *text = NULL;
  assert_int_equal(tq_stats_to_json(f->ctx, st, &jo, &text), TQ_OK);
  json_error_t err;
  json_t *root = json_loads(text, 0, &err);
  assert_non_null(root);
  assert_string_equal(json_string_value(json_object_get(root, "schema")),
                      "tq-report/1");
  assert_string_equal(json_string_value(json_object_get(root, "command")),
                      "stats");
  assert_string_equal(json_string_value(json_object_get(root, "title")),
                      "Per-layer statistics of tiny.onnx");
  assert_int_equal(json_integer_value(json_object_get(root, "n")), 4);
  json_t *a = json_array_get(
      json_object_get(json_object_get(root, "stats"), "layers"), 0);
  assert_string_equal(json_string_value(json_object_get(a, "kind")),
                      "activation");
  assert_true(json_real_value(json_object_get(a, "zeros")) == 0.25);
  assert_true(json_number_value(json_object_get(
                  json_object_get(a, "percentiles"), "75")) == 2.0);
  assert_true(json_number_value(json_object_get(
                  json_object_get(a, "abs_percentiles"), "99.99")) == 8.0);
  json_t *fb = json_object_get(a, "frac_bits");
  assert_int_equal(json_object_size(fb), 2);
  /* max |x| 8: 127 * 2^-3 = 15.9 >= 8 > 127 * 2^-4; 7 * 2^0 < 8 */
  assert_int_equal(json_integer_value(json_object_get(fb, "8")), 3);
  assert_int_equal(json_integer_value(json_object_get(fb, "4")), -1);
  json_t *h = json_object_get(a, "histogram");
  assert_int_equal(json_array_size(json_object_get(h, "edges")), 5);
  assert_int_equal(
      json_integer_value(json_array_get(json_object_get(h, "counts"), 0)), 11);
  json_t *l2 = json_object_get(a, "log2_histogram");
  assert_int_equal(json_integer_value(json_object_get(l2, "zeros")), 4);
  assert_int_equal(
      json_integer_value(json_array_get(json_object_get(l2, "exponents"), 0)),
      -1);
  assert_int_equal(json_array_size(json_object_get(l2, "counts")), 5);
  json_decref(root);
  tq_free(text);

  char *csv = NULL;
  assert_int_equal(tq_stats_to_csv(f->ctx, st, &csv), TQ_OK);
  assert_non_null(strstr(csv, "layer,value,op,kind,"));
  assert_non_null(strstr(csv, ",frac_bits_8,frac_bits_4\n"));
  assert_non_null(strstr(csv,
                         "\nNet/Scale,a,Scale,activation,0,4,16,16,0,0,0,"
                         "0.25,4,-1,8,1.375,"));
  int lines = 0;
  for (const char *c = csv; *c; c++) lines += *c == '\n';
  assert_int_equal(lines, 5);
  tq_free(csv);

  char *path = tq_test_tmp_path("stats_out.json");
  assert_int_equal(tq_stats_write(f->ctx, st, path, &jo), TQ_OK);
  root = json_load_file(path, 0, &err);
  assert_non_null(root);
  json_decref(root);
  free(path);
  path = tq_test_tmp_path("stats_out.txt");
  assert_int_equal(tq_stats_write(f->ctx, st, path, NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(tq_context_last_error(f->ctx), ".csv"));
  free(path);
  tq_stats_destroy(st);
}

/* ---- fractional bits ----------------------------------------------------- */

static void frac_bits(void **state) {
  (void)state;
  /* nearest,8,6 reaches 127/64 = 1.984 */
  assert_int_equal(tq_fixed_frac_bits(1.0, 8), 6);
  assert_int_equal(tq_fixed_frac_bits(127.0 / 64.0, 8), 6); /* exactly max */
  assert_int_equal(tq_fixed_frac_bits(nextafter(127.0 / 64.0, 3), 8), 5);
  assert_int_equal(tq_fixed_frac_bits(2.0, 8), 5);
  assert_int_equal(tq_fixed_frac_bits(0.5, 8), 7);
  assert_int_equal(tq_fixed_frac_bits(127.0, 8), 0);
  assert_int_equal(tq_fixed_frac_bits(128.0, 8), -1);
  assert_int_equal(tq_fixed_frac_bits(7.0, 4), 0);
  assert_int_equal(tq_fixed_frac_bits(7.5, 4), -1);
  assert_int_equal(tq_fixed_frac_bits(1.0, 2), 0);  /* 1 * 2^0 */
  assert_int_equal(tq_fixed_frac_bits(0.75, 2), 0); /* 2^-1 < 0.75 */
  assert_int_equal(tq_fixed_frac_bits(0.5, 2), 1);
  assert_int_equal(tq_fixed_frac_bits(32767.0, 16), 0);
  assert_int_equal(tq_fixed_frac_bits(1.0, 16), 14);
  assert_int_equal(tq_fixed_frac_bits(1.0, 32), 30);
  /* nothing to cover: width - 1 */
  assert_int_equal(tq_fixed_frac_bits(0.0, 8), 7);
  assert_int_equal(tq_fixed_frac_bits(-0.0, 16), 15);
  /* negative: its magnitude */
  assert_int_equal(tq_fixed_frac_bits(-2.0, 8), 5);
  /* tiny and huge: f beyond the width, or far below zero */
  assert_int_equal(tq_fixed_frac_bits(ldexp(1.0, -30), 8), 36);
  assert_int_equal(tq_fixed_frac_bits(1e-30, 8), 106);
  assert_int_equal(tq_fixed_frac_bits(4.9406564584124654e-324, 8), 1080);
  assert_int_equal(tq_fixed_frac_bits(1e30, 16), -85);
  assert_int_equal(tq_fixed_frac_bits(DBL_MAX, 53), -973);
  /* non-finite: as FLT_MAX */
  const int fmax8 = tq_fixed_frac_bits(FLT_MAX, 8);
  assert_int_equal(fmax8, -122);
  assert_int_equal(tq_fixed_frac_bits(INFINITY, 8), fmax8);
  assert_int_equal(tq_fixed_frac_bits(-INFINITY, 8), fmax8);
  assert_int_equal(tq_fixed_frac_bits(NAN, 8), fmax8);
  /* widths outside [2, 53] */
  assert_int_equal(tq_fixed_frac_bits(1.0, 1), TQ_FRAC_BITS_INVALID);
  assert_int_equal(tq_fixed_frac_bits(1.0, 54), TQ_FRAC_BITS_INVALID);
  assert_int_equal(tq_fixed_frac_bits(1.0, 53), 51);
  /* the defining property over many magnitudes and widths */
  uint64_t rng = 7;
  for (int i = 0; i < 20000; i++) {
    const int wd = 2 + (int)(tq_test_rand(&rng) % 31);
    const double a = ldexp((double)(tq_test_rand(&rng) >> 11) + 1.0,
                           (int)(tq_test_rand(&rng) % 200) - 150);
    const int fb = tq_fixed_frac_bits(a, wd);
    const double qmax = ldexp(1.0, wd - 1) - 1.0;
    assert_true(ldexp(qmax, -fb) >= a);
    assert_true(ldexp(qmax, -(fb + 1)) < a);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(entries_in_node_order, setup, teardown),
      cmocka_unit_test_setup_teardown(activation_figures, setup, teardown),
      cmocka_unit_test_setup_teardown(weight_figures, setup, teardown),
      cmocka_unit_test_setup_teardown(nan_and_inf_counted, setup, teardown),
      cmocka_unit_test_setup_teardown(batch_and_threads_independent, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(quantized_under_maps, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(output_classes_checked, setup, teardown),
      cmocka_unit_test_setup_teardown(percentile_accuracy, setup, teardown),
      cmocka_unit_test_setup_teardown(json_document_and_csv, setup, teardown),
      cmocka_unit_test(frac_bits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
