/* The analysis engine and its inputs: spec lists with ranges and `auto`,
 * layer selection, and tq_evaluate_configs giving exactly tq_evaluate's
 * numbers however the work is shared (prefix reuse or not, chunks, batch
 * sizes, ranks); the analyses (tq_sweep, tq_sensitivity, tq_search) giving
 * tq_evaluate's numbers for every configuration they report, and their
 * documents. */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph/session_internal.h"
#include "tensorquant/analysis.h"
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

/* ---- spec lists ---------------------------------------------------------*/

static void expect_list(const char *list, size_t n, const char *const *want) {
  char **specs = NULL;
  size_t count = 0;
  ok(tq_spec_list_expand(ctx, list, &specs, &count));
  if (count != n) fail_msg("'%s': %zu specs, expected %zu", list, count, n);
  for (size_t i = 0; i < n; i++) assert_string_equal(specs[i], want[i]);
  tq_spec_list_free(specs, count);
}

static void test_spec_list(void **state) {
  (void)state;
  expect_list("nearest,8,4", 1, (const char *const[]){"nearest,8,4"});
  expect_list("nearest,{4..6},{auto}", 3,
              (const char *const[]){"nearest,4,auto", "nearest,5,auto",
                                    "nearest,6,auto"});
  expect_list("{nearest,even},8,{2..6..2}", 6,
              (const char *const[]){"nearest,8,2", "nearest,8,4", "nearest,8,6",
                                    "even,8,2", "even,8,4", "even,8,6"});
  expect_list(" fp8e4m3 ; nearest,{3..1},0;", 4,
              (const char *const[]){"fp8e4m3", "nearest,3,0", "nearest,2,0",
                                    "nearest,1,0"});
  expect_list("stochastic,{-2..-1},4", 2,
              (const char *const[]){"stochastic,-2,4", "stochastic,-1,4"});
  /* the ends of long's range: no overflow, no runaway */
  expect_list(
      "n,{9223372036854775806..9223372036854775807}", 2,
      (const char *const[]){"n,9223372036854775806", "n,9223372036854775807"});
  expect_list("n,{-9223372036854775807..-9223372036854775808}", 2,
              (const char *const[]){"n,-9223372036854775807",
                                    "n,-9223372036854775808"});
  expect_list("n,{0..5..9223372036854775807}", 1, (const char *const[]){"n,0"});
  const char *const bad[] = {"",
                             " ; ;",
                             "nearest,{4..",
                             "nearest,4}",
                             "n,{{4}}",
                             "n,{4..x}",
                             "n,{4..8..0}",
                             "n,{4,,5}",
                             "n,{}",
                             "n,{1..1000000000}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char **specs = NULL;
    size_t count = 0;
    tq_status st = tq_spec_list_expand(ctx, bad[i], &specs, &count);
    if (st == TQ_OK) fail_msg("'%s' was accepted", bad[i]);
    assert_null(specs);
    assert_true(strlen(tq_context_last_error(ctx)) > 0);
  }
  /* the column of the error is reported */
  char **specs;
  size_t count;
  assert_int_equal(tq_spec_list_expand(ctx, "nearest,8,{4..x}", &specs, &count),
                   TQ_ERR_PARSE);
  assert_non_null(strstr(tq_context_last_error(ctx), ":11"));
}

static void test_resolve_auto(void **state) {
  (void)state;
  char out[128];
  /* signed 8 bits: 127 steps; max 1.0 -> f = 6 (127/64 >= 1, 127/128 < 1) */
  ok(tq_spec_resolve_auto(ctx, "nearest,8,auto", 1.0, out, sizeof out));
  assert_string_equal(out, "nearest,8,6");
  ok(tq_spec_resolve_auto(ctx, "stochastic, 8 ,auto,overflow=wrap", 127.0, out,
                          sizeof out));
  assert_string_equal(out, "stochastic,8,0,overflow=wrap");
  /* unsigned 8 bits reach 255 steps: max 1.0 -> f = 7 */
  ok(tq_spec_resolve_auto(ctx, "nearest,8,auto,signed=false", 1.0, out,
                          sizeof out));
  assert_string_equal(out, "nearest,8,7,signed=false");
  ok(tq_spec_resolve_auto(ctx, "nearest,4,auto", 1000.0, out, sizeof out));
  /* 7 * 2^7 = 896 < 1000 <= 7 * 2^8 */
  assert_string_equal(out, "nearest,4,-8");
  ok(tq_spec_resolve_auto(ctx, "fp8e4m3", 3.0, out, sizeof out));
  assert_string_equal(out, "fp8e4m3");
  assert_int_not_equal(
      tq_spec_resolve_auto(ctx, "fp16,auto", 1.0, out, sizeof out), TQ_OK);
  assert_int_not_equal(
      tq_spec_resolve_auto(ctx, "nearest,auto,4", 1.0, out, sizeof out), TQ_OK);
  assert_int_not_equal(
      tq_spec_resolve_auto(ctx, "nearest,8,auto,bogus=1", 1.0, out, sizeof out),
      TQ_OK);
  char many[400] = "nearest,8,auto";
  for (int i = 0; i < 70; i++) strcat(many, ",x");
  assert_int_equal(tq_spec_resolve_auto(ctx, many, 1.0, out, sizeof out),
                   TQ_ERR_PARSE);
  assert_int_not_equal(tq_spec_resolve_auto(ctx, "nearest,53,auto,signed=false",
                                            1.0, out, sizeof out),
                       TQ_OK);
  assert_true(tq_spec_has_auto("nearest, 8, auto"));
  assert_false(tq_spec_has_auto("nearest,8,4,overflow=wrap"));
  const struct {
    const char *spec;
    int bits;
  } widths[] = {{"nearest,12,4", 12}, {"fp16", 16},      {"bf16", 16},
                {"fp8e4m3", 8},       {"binary", 1},     {"ternary", 2},
                {"none", 0},          {"logarithmic", 0}};
  for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
    tq_quantizer *q;
    ok(tq_quantizer_parse(ctx, widths[i].spec, &q));
    assert_int_equal(tq_spec_bits(q), widths[i].bits);
    tq_quantizer_destroy(q);
  }
  assert_true(tq_exact_layer_key("a.b/c(1)", out, sizeof out));
  assert_string_equal(out, "re:^a\\.b/c\\(1\\)$");
  assert_false(tq_exact_layer_key("abcdef", out, 6));
}

/* ---- the engine -----------------------------------------------------------*/

enum { N_SAMPLES = 150, N_CONFIGS = 7 };

static const char *const config_json[N_CONFIGS] = {
    NULL, /* float */
    "{\"extrinsic\": {\"re:^LeNet/Convolution_Block/Conv2$\": "
    "\"stochastic,6,3\"}}",
    "{\"weights\": {\"Dense3\": \"nearest,4,3\"}}",
    "{\"intrinsic\": {\"Dense4\": {\"product\": \"nearest,8,5\", "
    "\"accumulator\": \"nearest,10,5,overflow=wrap\"}}}",
    "{\"extrinsic\": {\"\": \"stochastic,8,4\"}, \"weights\": {\"\": "
    "\"nearest,6,5\"}}",
    "{\"extrinsic\": {\"NoSuchLayer\": \"nearest,2,0\"}}",
    "{\"extrinsic\": {\"re:^LeNet/Dense_Block/Dense3/Relu$\": \"nearest,4,1\"},"
    " \"weights\": {\"Conv2\": \"fp8e4m3\"}}"};

typedef struct fixture {
  tq_graph *g;
  tq_dataset *ds;
  tq_qmap_set *cfg[N_CONFIGS];
  tq_eval_result want[N_CONFIGS];
} fixture;

static fixture fx;

static int engine_setup(void **state) {
  (void)state;
  if (tq_context_create(&ctx) != TQ_OK) return -1;
  ok(tq_onnx_load(
      ctx, TQ_TEST_DATA_DIR "/../../models/lenet-fashion-mnist.onnx", &fx.g));
  ok(tq_dataset_open(ctx, "fashion-mnist", TQ_SPLIT_TEST, &fx.ds));
  tq_session *s;
  ok(tq_session_create(ctx, fx.g, &s));
  tq_session_set_seed(s, 7);
  for (int c = 0; c < N_CONFIGS; c++) {
    if (config_json[c])
      ok(tq_qmap_set_parse_json(ctx, config_json[c], strlen(config_json[c]),
                                "test", &fx.cfg[c]));
    ok(tq_session_set_maps(ctx, s, fx.cfg[c]));
    ok(tq_evaluate(ctx, s, fx.ds, NULL, N_SAMPLES, 64, NULL, NULL, NULL,
                   &fx.want[c]));
  }
  tq_session_destroy(s);
  /* the configurations differ from float and from each other */
  assert_true(fx.want[1].loss != fx.want[0].loss);
  assert_true(fx.want[3].loss != fx.want[0].loss);
  assert_true(fx.want[4].loss != fx.want[1].loss);
  assert_true(fx.want[5].loss == fx.want[0].loss);
  return 0;
}

static int engine_teardown(void **state) {
  (void)state;
  for (int c = 0; c < N_CONFIGS; c++) tq_qmap_set_destroy(fx.cfg[c]);
  tq_dataset_destroy(fx.ds);
  tq_graph_destroy(fx.g);
  tq_context_destroy(ctx);
  return 0;
}

static void expect_same(const tq_config_result *r, const char *how) {
  for (int c = 0; c < N_CONFIGS; c++) {
    if (r[c].eval.top1 != fx.want[c].top1 ||
        r[c].eval.top5 != fx.want[c].top5 ||
        r[c].eval.loss != fx.want[c].loss || r[c].eval.n != N_SAMPLES)
      fail_msg(
          "%s: config %d: top-1 %.17g loss %.17g, tq_evaluate gave "
          "%.17g and %.17g",
          how, c, r[c].eval.top1, r[c].eval.loss, fx.want[c].top1,
          fx.want[c].loss);
  }
}

static void run_engine(tq_context *c, const tq_multi_eval_opts *o,
                       tq_config_result *flt, tq_config_result *r) {
  tq_status st = tq_evaluate_configs(c, fx.g, fx.ds, NULL, N_SAMPLES,
                                     (const tq_qmap_set *const *)fx.cfg,
                                     N_CONFIGS, o, flt, r);
  if (st != TQ_OK)
    fail_msg("%s: %s", tq_status_str(st), tq_context_last_error(c));
}

static void test_engine_matches_evaluate(void **state) {
  (void)state;
  tq_config_result r[N_CONFIGS], flt;
  tq_multi_eval_opts o = {.batch = 64, .seed = 7};
  run_engine(ctx, &o, &flt, r);
  expect_same(r, "reuse");
  assert_true(flt.eval.loss == fx.want[0].loss);
  /* where each configuration starts: float and no-match run nothing */
  const size_t nodes = tq_graph_node_count(fx.g);
  assert_int_equal(r[0].start_node, nodes);
  assert_int_equal(r[5].start_node, nodes);
  assert_int_equal(r[1].start_node, 5); /* Conv2 */
  assert_int_equal(r[2].start_node, 9); /* Dense3 */
  assert_int_equal(r[3].start_node, 11);
  assert_int_equal(r[4].start_node, 0);
  assert_int_equal(r[6].start_node, 5);
  assert_true(isinf(r[0].sqnr_db) && r[0].changed == 0);
  assert_true(isfinite(r[1].sqnr_db) && r[1].sqnr_db > 0 && r[1].changed > 0);

  o.no_reuse = 1;
  run_engine(ctx, &o, NULL, r);
  expect_same(r, "no reuse");
  for (int c = 1; c < N_CONFIGS; c++)
    if (config_json[c]) assert_int_equal(r[c].start_node, 0);

  o.no_reuse = 0;
  o.memory_bytes = 1; /* one batch per chunk */
  run_engine(ctx, &o, NULL, r);
  expect_same(r, "one batch per chunk");

  /* (float sums of other batch sizes may round differently in OpenBLAS,
   * so the batch stays that of the reference) */
  o.memory_bytes = 0;
  ok(tq_context_set_threads(ctx, 1));
  run_engine(ctx, &o, NULL, r);
  expect_same(r, "1 thread");
  ok(tq_context_set_threads(ctx, 2));
}

/* A communicator between threads of this process: ranks meet at a
 * barrier, so the engine's gathering is tested without MPI. */
enum { MAX_RANKS = 4 };
typedef struct shared_comm {
  pthread_barrier_t barrier;
  const void *send[MAX_RANKS];
  size_t bytes[MAX_RANKS];
  int size;
} shared_comm;

typedef struct rank_arg {
  shared_comm *shared;
  tq_comm comm;
  int rank;
  size_t batch;
  tq_config_result r[N_CONFIGS];
  tq_status st;
  char error[512];
} rank_arg;

static tq_status thread_allgatherv(void *user, const void *send, size_t bytes,
                                   void *recv, size_t cap, size_t *got) {
  rank_arg *a = user;
  shared_comm *s = a->shared;
  s->send[a->rank] = send;
  s->bytes[a->rank] = bytes;
  pthread_barrier_wait(&s->barrier);
  size_t total = 0;
  for (int r = 0; r < s->size; r++) total += s->bytes[r];
  tq_status st = TQ_OK;
  if (total > cap)
    st = TQ_ERR_RANGE;
  else
    for (int r = 0, off = 0; r < s->size; off += (int)s->bytes[r], r++) {
      memcpy((char *)recv + off, s->send[r], s->bytes[r]);
      got[r] = s->bytes[r];
    }
  pthread_barrier_wait(&s->barrier); /* senders keep buffers until here */
  return st;
}

static void *rank_main(void *p) {
  rank_arg *a = p;
  tq_context *c;
  if (tq_context_create(&c) != TQ_OK) {
    a->st = TQ_ERR_NO_MEMORY;
    return NULL;
  }
  tq_context_set_threads(c, 1);
  tq_multi_eval_opts o = {.batch = (int)a->batch, .seed = 7, .comm = &a->comm};
  a->st = tq_evaluate_configs(c, fx.g, fx.ds, NULL, N_SAMPLES,
                              (const tq_qmap_set *const *)fx.cfg, N_CONFIGS, &o,
                              NULL, a->r);
  snprintf(a->error, sizeof a->error, "%s", tq_context_last_error(c));
  tq_context_destroy(c);
  return NULL;
}

static void test_engine_ranks(void **state) {
  (void)state;
  for (int size = 2; size <= 3; size++) {
    shared_comm s = {.size = size};
    pthread_barrier_init(&s.barrier, NULL, (unsigned)size);
    rank_arg args[MAX_RANKS];
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < size; r++) {
      memset(&args[r], 0, sizeof args[r]);
      args[r].shared = &s;
      args[r].rank = r;
      args[r].batch = 64;
      args[r].comm = (tq_comm){.rank = r,
                               .size = size,
                               .user = &args[r],
                               .allgatherv = thread_allgatherv};
      assert_int_equal(pthread_create(&th[r], NULL, rank_main, &args[r]), 0);
    }
    for (int r = 0; r < size; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&s.barrier);
    for (int r = 0; r < size; r++) {
      if (args[r].st != TQ_OK)
        fail_msg("rank %d of %d: %s", r, size, args[r].error);
      char how[64];
      snprintf(how, sizeof how, "rank %d of %d", r, size);
      expect_same(args[r].r, how);
    }
  }
}

/* A slice evaluated alone with the sample offset of its place in the
 * whole run: hits add up exactly; without the offset, stochastic rounding
 * numbers the samples differently. */
static void test_engine_offset(void **state) {
  (void)state;
  enum { HEAD = 64 };
  size_t tail[N_SAMPLES - HEAD];
  for (size_t i = 0; i < N_SAMPLES - HEAD; i++) tail[i] = HEAD + i;
  const tq_qmap_set *cfg = fx.cfg[4]; /* stochastic everywhere */
  tq_config_result whole, head, part, shifted;
  tq_multi_eval_opts o = {.batch = 64, .seed = 7};
  ok(tq_evaluate_configs(ctx, fx.g, fx.ds, NULL, N_SAMPLES, &cfg, 1, &o, NULL,
                         &whole));
  ok(tq_evaluate_configs(ctx, fx.g, fx.ds, NULL, HEAD, &cfg, 1, &o, NULL,
                         &head));
  o.sample_offset = HEAD;
  ok(tq_evaluate_configs(ctx, fx.g, fx.ds, tail, N_SAMPLES - HEAD, &cfg, 1, &o,
                         NULL, &part));
  o.sample_offset = 0;
  ok(tq_evaluate_configs(ctx, fx.g, fx.ds, tail, N_SAMPLES - HEAD, &cfg, 1, &o,
                         NULL, &shifted));
  const double hits = whole.eval.top1 * N_SAMPLES;
  const double sum =
      head.eval.top1 * HEAD + part.eval.top1 * (N_SAMPLES - HEAD);
  assert_true(fabs(hits - sum) < 1e-9);
  assert_true(fabs(whole.eval.loss * N_SAMPLES -
                   (head.eval.loss * HEAD +
                    part.eval.loss * (N_SAMPLES - HEAD))) < 1e-9);
  assert_true(shifted.eval.loss != part.eval.loss);
}

/* A refused run_from leaves the session as it was. */
static void test_run_from_refused(void **state) {
  (void)state;
  tq_session *s;
  ok(tq_session_create(ctx, fx.g, &s));
  const tq_shape bs = tq_dataset_batch_shape(fx.ds, 8);
  tq_tensor *x;
  ok(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &bs, &x));
  int64_t labels[8];
  const size_t idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  ok(tq_dataset_gather(ctx, fx.ds, idx, 8, tq_tensor_data(x), labels));
  const tq_tensor *in = x;
  tq_tensor *a = NULL, *b = NULL, *c = NULL;
  ok(tq_session_run(ctx, s, &in, 1, &a, 1, NULL));
  for (int k = 0; k < 3; k++) {
    assert_int_equal(tq_session_run_from(ctx, s, &in, 1, 5, NULL, &b, 1, NULL),
                     TQ_ERR_INVALID_ARGUMENT);
    assert_null(b);
    ok(tq_session_run(ctx, s, &in, 1, &c, 1, NULL));
    assert_memory_equal(tq_tensor_cdata(a), tq_tensor_cdata(c),
                        tq_tensor_numel(a) * sizeof(float));
    tq_tensor_destroy(c);
    c = NULL;
  }
  tq_tensor_destroy(a);
  tq_tensor_destroy(x);
  tq_session_destroy(s);
}

static void test_engine_errors(void **state) {
  (void)state;
  tq_config_result r[N_CONFIGS];
  assert_int_equal(tq_evaluate_configs(ctx, fx.g, fx.ds, NULL, 0,
                                       (const tq_qmap_set *const *)fx.cfg,
                                       N_CONFIGS, NULL, NULL, r),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_evaluate_configs(ctx, fx.g, fx.ds, NULL, 20000,
                                       (const tq_qmap_set *const *)fx.cfg,
                                       N_CONFIGS, NULL, NULL, r),
                   TQ_ERR_RANGE);
  /* layer selection: quantizable kinds and pattern matches */
  tq_session *s;
  ok(tq_session_create(ctx, fx.g, &s));
  const tq_shape one = tq_dataset_batch_shape(fx.ds, 1);
  ok(tq_session_plan(ctx, s, &one, 1));
  size_t nodes[16], n;
  ok(tq_session_match_layers(ctx, s, TQ_MAP_WEIGHTS, "Conv", nodes, 16, &n));
  assert_int_equal(n, 2);
  assert_int_equal(nodes[0], 2);
  assert_int_equal(nodes[1], 5);
  ok(tq_session_match_layers(ctx, s, TQ_MAP_EXTRINSIC, "Conv", nodes, 16, &n));
  assert_int_equal(n, 6); /* all of LeNet/Convolution_Block */
  ok(tq_session_match_layers(ctx, s, TQ_MAP_INTRINSIC, "Relu", nodes, 16, &n));
  assert_int_equal(n, 0);
  ok(tq_session_match_layers(ctx, s, TQ_MAP_INTRINSIC, "", nodes, 1, &n));
  assert_int_equal(n, 4); /* more than fit: the count is still right */
  assert_int_not_equal(
      tq_session_match_layers(ctx, s, TQ_MAP_EXTRINSIC, "re:(", nodes, 16, &n),
      TQ_OK);
  tq_session_destroy(s);
}

/* ---- the analyses ---------------------------------------------------------*/

/* What a progress callback saw. */
typedef struct progress_log {
  int stats, evals; /* calls per stage kind */
  int stop_after;   /* stop at this call (0: never) */
  int calls;
} progress_log;

static int log_progress(void *user, const char *stage, size_t done,
                        size_t total) {
  progress_log *p = user;
  assert_true(done >= 1 && done <= total);
  if (!strcmp(stage, "statistics"))
    p->stats++;
  else
    p->evals++;
  return p->stop_after && ++p->calls >= p->stop_after;
}

static tq_analysis *open_analysis(tq_context *c, const tq_comm *comm,
                                  progress_log *log) {
  tq_analysis_opts o = {.limit = N_SAMPLES,
                        .batch = 64,
                        .seed = 7,
                        .comm = comm,
                        .model = "lenet.onnx",
                        .created_by = "test"};
  if (log) {
    o.progress = log_progress;
    o.progress_user = log;
  }
  tq_analysis *an = NULL;
  tq_status st = tq_analysis_create(c, fx.g, fx.ds, &o, &an);
  if (st != TQ_OK) fail_msg("%s", tq_context_last_error(c));
  assert_int_equal(tq_analysis_sample_count(an), N_SAMPLES);
  return an;
}

/* tq_evaluate (what tq eval prints) of nodes[k] -> specs[k] for kind, on
 * samples idx[0..n) (idx NULL: the first n). */
static tq_eval_result eval_layers(tq_map_kind kind, const size_t *nodes,
                                  const char *const *specs, size_t count,
                                  const size_t *idx, size_t n) {
  tq_qmap_set *set;
  tq_qmap *m;
  ok(tq_qmap_set_create(ctx, &set));
  ok(tq_qmap_create(ctx, kind, &m));
  for (size_t k = 0; k < count; k++) {
    tq_node_info info;
    char key[512];
    ok(tq_graph_node_info(fx.g, nodes[k], &info));
    assert_true(tq_exact_layer_key(info.id, key, sizeof key));
    ok(tq_qmap_add(ctx, m, key, specs[k]));
  }
  ok(tq_qmap_set_put(ctx, set, m));
  tq_session *s;
  ok(tq_session_create(ctx, fx.g, &s));
  tq_session_set_seed(s, 7);
  ok(tq_session_set_maps(ctx, s, set));
  tq_eval_result r;
  ok(tq_evaluate(ctx, s, fx.ds, idx, n, 64, NULL, NULL, NULL, &r));
  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  return r;
}

static void expect_eval(const tq_config_result *got, tq_eval_result want,
                        const char *what) {
  if (got->eval.top1 != want.top1 || got->eval.top5 != want.top5 ||
      got->eval.loss != want.loss || got->eval.n != want.n)
    fail_msg("%s: top-1 %.17g loss %.17g, tq_evaluate gave %.17g and %.17g",
             what, got->eval.top1, got->eval.loss, want.top1, want.loss);
}

/* `auto` as the analysis resolves it: from the statistics of the first
 * samples, the layer's weights or its outputs. */
static void expect_resolved(const tq_analysis *an, tq_map_kind kind,
                            size_t node, const char *spec, const char *got) {
  tq_node_info info;
  ok(tq_graph_node_info(fx.g, node, &info));
  double max_abs = 0;
  if (tq_spec_has_auto(spec))
    ok(tq_stats_layer_max_abs(
        ctx, tq_analysis_stats(an), info.id,
        kind == TQ_MAP_WEIGHTS ? TQ_STATS_WEIGHT : TQ_STATS_ACTIVATION,
        &max_abs));
  char want[128];
  ok(tq_spec_resolve_auto(ctx, spec, max_abs, want, sizeof want));
  assert_string_equal(got, want);
}

static void test_sweep(void **state) {
  (void)state;
  progress_log log = {0};
  tq_analysis *an = open_analysis(ctx, NULL, &log);
  const char *layers[] = {"re:Conv1$", "Dense3"};
  const char *specs[] = {"nearest,{4..5},auto", "fp8e4m3"};
  tq_sweep_opts o = {.kind = TQ_MAP_EXTRINSIC,
                     .layers = layers,
                     .n_layers = 2,
                     .specs = specs,
                     .n_specs = 2};
  tq_sweep_result *r;
  ok(tq_sweep(ctx, an, &o, &r));
  assert_true(log.stats > 0 && log.evals > 0);
  assert_non_null(tq_analysis_stats(an)); /* `auto` collected them */
  expect_eval(&r->float_result, fx.want[0], "float");
  assert_int_equal(r->n_groups, 2);
  assert_int_equal(r->n_specs, 3);
  assert_int_equal(r->n_rows, 6);
  static const char *const row_specs[] = {"nearest,4,auto", "nearest,5,auto",
                                          "fp8e4m3"};
  static const int row_bits[] = {4, 5, 8};
  for (size_t i = 0; i < r->n_rows; i++) {
    const tq_analysis_row *row = &r->rows[i];
    assert_int_equal(row->kind, TQ_MAP_EXTRINSIC);
    assert_string_equal(row->layers, layers[i / 3]);
    assert_string_equal(row->spec, row_specs[i % 3]);
    assert_int_equal(row->bits, row_bits[i % 3]);
    /* Dense3 selects the Gemm and its Relu, quantized together */
    assert_int_equal(row->n_layers, i < 3 ? 1 : 2);
    assert_string_equal(row->layer_ids[0], i < 3
                                               ? "LeNet/Convolution_Block/Conv1"
                                               : "LeNet/Dense_Block/Dense3");
    for (size_t k = 0; k < row->n_layers; k++)
      expect_resolved(an, row->kind, row->nodes[k], row->spec,
                      row->resolved[k]);
    expect_eval(&row->result,
                eval_layers(row->kind, row->nodes, row->resolved, row->n_layers,
                            NULL, N_SAMPLES),
                row->resolved[0]);
  }
  /* The document holds the same numbers, the resolved specs, and the
   * statistics `auto` used. */
  char *text;
  ok(tq_sweep_document(ctx, an, r, &text));
  ok(tq_report_validate(ctx, text, "sweep"));
  json_t *doc = json_loads(text, 0, NULL);
  assert_non_null(doc);
  assert_string_equal(json_string_value(json_object_get(doc, "command")),
                      "sweep");
  assert_string_equal(json_string_value(json_object_get(doc, "model")),
                      "lenet.onnx");
  assert_string_equal(json_string_value(json_object_get(doc, "title")),
                      "Sweep of lenet.onnx (extr)");
  assert_int_equal(json_integer_value(json_object_get(doc, "n")), N_SAMPLES);
  json_t *rows = json_object_get(doc, "results");
  assert_int_equal(json_array_size(rows), r->n_rows);
  for (size_t i = 0; i < r->n_rows; i++) {
    json_t *row = json_array_get(rows, i);
    assert_true(json_real_value(json_object_get(row, "top1")) ==
                r->rows[i].result.eval.top1);
    assert_true(json_real_value(json_object_get(row, "delta_top1")) ==
                100.0 * (r->rows[i].result.eval.top1 - fx.want[0].top1));
    json_t *res = json_object_get(row, "resolved");
    assert_int_equal(json_object_size(res), r->rows[i].n_layers);
    assert_string_equal(
        json_string_value(json_object_get(res, r->rows[i].layer_ids[0])),
        r->rows[i].resolved[0]);
  }
  assert_int_equal(
      json_array_size(json_object_get(json_object_get(doc, "stats"), "layers")),
      tq_stats_count(tq_analysis_stats(an)));
  json_decref(doc);
  /* CSV: a header and a line per row */
  char *csv;
  ok(tq_report_csv(ctx, text, "sweep", &csv));
  size_t lines = 0;
  for (const char *p = csv; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, r->n_rows + 1);
  assert_non_null(
      strstr(csv, "\n\"extr\",\"re:Conv1$\",\"nearest,4,auto\",4,"));
  tq_free(csv);
  tq_free(text);
  tq_sweep_result_destroy(r);
  tq_analysis_destroy(an);
}

static void test_sensitivity(void **state) {
  (void)state;
  tq_analysis *an = open_analysis(ctx, NULL, NULL);
  const tq_map_kind kinds[] = {TQ_MAP_WEIGHTS};
  const char *specs[] = {"nearest,{3,6},auto"};
  tq_sensitivity_opts o = {
      .kinds = kinds, .n_kinds = 1, .specs = specs, .n_specs = 1};
  tq_sensitivity_result *r;
  ok(tq_sensitivity(ctx, an, &o, &r));
  /* Conv1, Conv2, Dense3, Dense4 own weights: 4 layers x 2 specs */
  assert_int_equal(r->n_rows, 8);
  unsigned char seen[8] = {0};
  for (size_t i = 0; i < r->n_rows; i++) {
    const tq_analysis_row *row = &r->rows[i];
    assert_int_equal(row->n_layers, 1);
    assert_string_equal(row->layers, row->layer_ids[0]);
    assert_string_equal(row->spec, i % 2 ? "nearest,6,auto" : "nearest,3,auto");
    expect_eval(&row->result,
                eval_layers(TQ_MAP_WEIGHTS, row->nodes, row->resolved, 1, NULL,
                            N_SAMPLES),
                row->resolved[0]);
    /* the ranking: a permutation, lowest top-1 first */
    assert_true(r->ranking[i] < r->n_rows && !seen[r->ranking[i]]);
    seen[r->ranking[i]] = 1;
    if (i)
      assert_true(r->rows[r->ranking[i - 1]].result.eval.top1 <=
                  r->rows[r->ranking[i]].result.eval.top1);
  }
  /* 3 bits lose more than 6 on this model */
  assert_true(r->rows[r->ranking[0]].bits == 3);
  char *text;
  ok(tq_sensitivity_document(ctx, an, r, &text));
  ok(tq_report_validate(ctx, text, "sensitivity"));
  json_t *doc = json_loads(text, 0, NULL);
  json_t *ranking = json_object_get(doc, "sensitivity");
  assert_int_equal(json_array_size(ranking), r->n_rows);
  for (size_t i = 0; i < r->n_rows; i++) {
    json_t *e = json_array_get(ranking, i);
    assert_int_equal(json_integer_value(json_object_get(e, "rank")), i + 1);
    assert_string_equal(json_string_value(json_object_get(e, "layer")),
                        r->rows[r->ranking[i]].layers);
  }
  json_decref(doc);
  tq_free(text);
  tq_sensitivity_result_destroy(r);
  tq_analysis_destroy(an);
}

static void test_search(void **state) {
  (void)state;
  tq_analysis *an = open_analysis(ctx, NULL, NULL);
  const tq_map_kind kinds[] = {TQ_MAP_WEIGHTS};
  const char *layers[] = {"re:(Conv|Dense)[0-9]$"};
  const int widths[] = {2, 8, 4, 8};
  tq_search_opts o = {.budget_pp = 2.0,
                      .kinds = kinds,
                      .n_kinds = 1,
                      .layers = layers,
                      .n_layers = 1,
                      .widths = widths,
                      .n_widths = 4};
  tq_search_result *r;
  ok(tq_search(ctx, an, &o, &r));
  const size_t ns = N_SAMPLES / 2, nv = N_SAMPLES - ns;
  assert_int_equal(r->search_n, ns);
  assert_int_equal(r->validation_n, nv);
  assert_string_equal(r->family, "nearest");
  assert_int_equal(r->n_layers, 4);
  size_t val[N_SAMPLES];
  for (size_t i = 0; i < nv; i++) val[i] = ns + i;
  double float_bits = 0;
  for (size_t k = 0; k < r->n_layers; k++) {
    const tq_search_layer *l = &r->layers[k];
    assert_int_equal(l->kind, TQ_MAP_WEIGHTS);
    /* widths widest first, each once */
    assert_int_equal(l->n_candidates, 3);
    tq_node_info info;
    ok(tq_graph_node_info(fx.g, l->node, &info));
    assert_string_equal(l->layer, info.id);
    double params = 0;
    for (size_t w = 0; w < info.n_weights; w++)
      params +=
          (double)tq_tensor_numel(tq_graph_initializer(fx.g, info.weights[w]));
    assert_true(l->weight == params);
    float_bits += 32 * params;
    static const int want_bits[] = {8, 4, 2};
    for (size_t c = 0; c < l->n_candidates; c++) {
      char spec[32];
      snprintf(spec, sizeof spec, "nearest,%d,auto", want_bits[c]);
      assert_int_equal(l->bits[c], want_bits[c]);
      expect_resolved(an, TQ_MAP_WEIGHTS, l->node, spec, l->candidates[c]);
      /* the loss alone on the search slice */
      const tq_eval_result e =
          eval_layers(TQ_MAP_WEIGHTS, &l->node, &l->candidates[c], 1, NULL, ns);
      const double loss = 100.0 * (r->float_search.eval.top1 - e.top1);
      assert_true(l->alone_loss_pp[c] == (loss > 0 ? loss : 0));
    }
  }
  assert_true(r->float_bits == float_bits);
  /* the first step: everything at its widest */
  assert_true(r->steps[0].gamma < 0);
  for (size_t k = 0; k < r->n_layers; k++)
    assert_int_equal(r->steps[0].positions[k], 0);
  /* every step's numbers are tq_evaluate's on each slice */
  for (size_t i = 0; i < r->n_steps; i++) {
    const tq_search_step *st = &r->steps[i];
    size_t nodes[4];
    const char *cand[4];
    double bits = 0;
    for (size_t k = 0; k < 4; k++) {
      nodes[k] = r->layers[k].node;
      cand[k] = r->layers[k].candidates[st->positions[k]];
      bits += r->layers[k].weight * r->layers[k].bits[st->positions[k]];
    }
    assert_true(st->total_bits == bits);
    expect_eval(&st->search,
                eval_layers(TQ_MAP_WEIGHTS, nodes, cand, 4, NULL, ns), cand[0]);
    expect_eval(&st->validation,
                eval_layers(TQ_MAP_WEIGHTS, nodes, cand, 4, val, nv), cand[0]);
    const int within =
        100.0 * (r->float_search.eval.top1 - st->search.eval.top1) <=
            2.0 + 1e-9 &&
        100.0 * (r->float_validation.eval.top1 - st->validation.eval.top1) <=
            2.0 + 1e-9;
    assert_int_equal(st->accepted, within);
    if (r->met && st->accepted)
      assert_true(st->total_bits >= r->steps[r->chosen].total_bits);
  }
  assert_true(r->met);
  /* at most 8 bits everywhere: what every layer at its widest costs */
  assert_true(r->steps[r->chosen].total_bits <= float_bits / 4);
  /* The map file: what tq eval --map takes; over all the samples it loses
   * at most the budget (the union of two slices within it). */
  char *map;
  ok(tq_search_map(ctx, r, &map));
  assert_true(map[strlen(map) - 1] == '\n');
  tq_qmap_set *set;
  ok(tq_qmap_set_parse_json(ctx, map, strlen(map), "map", &set));
  tq_session *s;
  ok(tq_session_create(ctx, fx.g, &s));
  ok(tq_session_set_maps(ctx, s, set));
  tq_eval_result all;
  ok(tq_evaluate(ctx, s, fx.ds, NULL, N_SAMPLES, 64, NULL, NULL, NULL, &all));
  assert_true(100.0 * (fx.want[0].top1 - all.top1) <= 2.0 + 1e-9);
  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  tq_free(map);
  char *text;
  ok(tq_search_document(ctx, an, r, &text));
  ok(tq_report_validate(ctx, text, "search"));
  json_t *doc = json_loads(text, 0, NULL), *sd = json_object_get(doc, "search");
  assert_true(json_is_true(json_object_get(sd, "met")));
  assert_int_equal(json_array_size(json_object_get(sd, "trace")), r->n_steps);
  /* "float": over both slices, as tq eval over all samples */
  const double top1 =
      json_real_value(json_object_get(json_object_get(doc, "float"), "top1"));
  assert_true(top1 == r->float_all.eval.top1);
  assert_true(fabs(top1 - fx.want[0].top1) < 1e-12);
  json_decref(doc);
  tq_free(text);
  tq_search_result_destroy(r);
  tq_analysis_destroy(an);
}

static void test_analysis_errors(void **state) {
  (void)state;
  progress_log log = {.stop_after = 2};
  tq_analysis *an = open_analysis(ctx, NULL, &log);
  const char *specs[] = {"nearest,8,auto"};
  const char *none[] = {"NoSuchLayer"};
  tq_sweep_opts o = {.kind = TQ_MAP_EXTRINSIC,
                     .layers = none,
                     .n_layers = 1,
                     .specs = specs,
                     .n_specs = 1};
  tq_sweep_result *r = NULL;
  /* a pattern that selects nothing lists the layers there are */
  assert_int_equal(tq_sweep(ctx, an, &o, &r), TQ_ERR_NOT_FOUND);
  assert_null(r);
  const char *msg = tq_context_last_error(ctx);
  assert_non_null(strstr(msg,
                         "the layer pattern 'NoSuchLayer' matches no "
                         "layer that extr can quantize"));
  assert_non_null(strstr(msg, "\n    LeNet/Convolution_Block/Conv1 (Conv)"));
  size_t *nodes, n;
  assert_int_equal(tq_analysis_layers(ctx, an, TQ_MAP_INTRINSIC,
                                      (const char *[]){"Relu"}, 1, &nodes, &n),
                   TQ_ERR_NOT_FOUND);
  assert_non_null(strstr(tq_context_last_error(ctx),
                         "    LeNet/Dense_Block/Dense4 (Gemm)"));
  assert_int_equal(
      tq_analysis_layers(ctx, an, TQ_MAP_GRADIENTS, NULL, 0, &nodes, &n),
      TQ_ERR_INVALID_ARGUMENT);
  /* the default layers: extr leaves out the final Softmax */
  ok(tq_analysis_layers(ctx, an, TQ_MAP_EXTRINSIC, NULL, 0, &nodes, &n));
  assert_int_equal(n, 12);
  tq_node_info info;
  ok(tq_graph_node_info(fx.g, nodes[n - 1], &info));
  assert_string_not_equal(info.op_type, "Softmax");
  tq_free(nodes);
  /* no specs, a bad one */
  o.n_layers = 0;
  o.n_specs = 0;
  assert_int_equal(tq_sweep(ctx, an, &o, &r), TQ_ERR_INVALID_ARGUMENT);
  o.specs = (const char *[]){"nearst,8,4"};
  o.n_specs = 1;
  assert_int_not_equal(tq_sweep(ctx, an, &o, &r), TQ_OK);
  assert_null(r);
  /* the progress callback stops the run: after the statistics' first
   * batch and the first unit of evaluation */
  o.specs = specs;
  assert_int_equal(tq_sweep(ctx, an, &o, &r), TQ_ERR_INTERRUPTED);
  assert_null(r);
  assert_true(log.stats >= 1);
  /* bad search options */
  tq_search_opts so = {.budget_pp = 1, .margin_pp = 2};
  tq_search_result *sr = NULL;
  assert_int_equal(tq_search(ctx, an, &so, &sr), TQ_ERR_INVALID_ARGUMENT);
  so = (tq_search_opts){.budget_pp = 1,
                        .family = "float",
                        .n_widths = 1,
                        .widths = (const int[]){8}};
  assert_int_equal(tq_search(ctx, an, &so, &sr), TQ_ERR_INVALID_ARGUMENT);
  so = (tq_search_opts){.budget_pp = 1, .family = "bogus"};
  assert_int_equal(tq_search(ctx, an, &so, &sr), TQ_ERR_INVALID_ARGUMENT);
  so = (tq_search_opts){
      .budget_pp = 1, .n_widths = 1, .widths = (const int[]){33}};
  assert_int_equal(tq_search(ctx, an, &so, &sr), TQ_ERR_INVALID_ARGUMENT);
  so = (tq_search_opts){.budget_pp = 1, .validation = N_SAMPLES};
  assert_int_equal(tq_search(ctx, an, &so, &sr), TQ_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(tq_context_last_error(ctx), "leaves none to search"));
  assert_null(sr);
  tq_analysis_destroy(an);
  assert_int_equal(tq_analysis_create(ctx, NULL, fx.ds, NULL, &an),
                   TQ_ERR_INVALID_ARGUMENT);
}

/* A sensitivity run on several ranks (threads with the barrier
 * communicator): every rank's document is byte for byte the single
 * process's. */
typedef struct doc_rank {
  rank_arg base;
  char *doc;
} doc_rank;

static void *sensitivity_rank(void *p) {
  doc_rank *d = p;
  tq_context *c;
  if (tq_context_create(&c) != TQ_OK) return NULL;
  tq_context_set_threads(c, 1);
  tq_analysis *an = open_analysis(c, &d->base.comm, NULL);
  const tq_map_kind kinds[] = {TQ_MAP_EXTRINSIC, TQ_MAP_WEIGHTS};
  const char *specs[] = {"stochastic,5,auto"};
  const char *layers[] = {"Conv2", "Dense4"};
  tq_sensitivity_opts o = {.kinds = kinds,
                           .n_kinds = 2,
                           .layers = layers,
                           .n_layers = 2,
                           .specs = specs,
                           .n_specs = 1};
  tq_sensitivity_result *r = NULL;
  d->base.st = tq_sensitivity(c, an, &o, &r);
  if (d->base.st == TQ_OK)
    d->base.st = tq_sensitivity_document(c, an, r, &d->doc);
  snprintf(d->base.error, sizeof d->base.error, "%s", tq_context_last_error(c));
  tq_sensitivity_result_destroy(r);
  tq_analysis_destroy(an);
  tq_context_destroy(c);
  return NULL;
}

static void test_analysis_ranks(void **state) {
  (void)state;
  doc_rank alone = {.base.comm = {.rank = 0, .size = 1}};
  sensitivity_rank(&alone);
  if (alone.base.st != TQ_OK) fail_msg("one process: %s", alone.base.error);
  enum { RANKS = 2 };
  shared_comm s = {.size = RANKS};
  pthread_barrier_init(&s.barrier, NULL, RANKS);
  doc_rank d[RANKS];
  pthread_t th[RANKS];
  for (int r = 0; r < RANKS; r++) {
    memset(&d[r], 0, sizeof d[r]);
    d[r].base.shared = &s;
    d[r].base.rank = r;
    d[r].base.comm = (tq_comm){.rank = r,
                               .size = RANKS,
                               .user = &d[r].base,
                               .allgatherv = thread_allgatherv};
    assert_int_equal(pthread_create(&th[r], NULL, sensitivity_rank, &d[r]), 0);
  }
  for (int r = 0; r < RANKS; r++) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&s.barrier);
  for (int r = 0; r < RANKS; r++) {
    if (d[r].base.st != TQ_OK) fail_msg("rank %d: %s", r, d[r].base.error);
    assert_string_equal(d[r].doc, alone.doc);
    tq_free(d[r].doc);
  }
  tq_free(alone.doc);
}

int main(void) {
  const struct CMUnitTest basics[] = {
      cmocka_unit_test(test_spec_list),
      cmocka_unit_test(test_resolve_auto),
  };
  const struct CMUnitTest engine[] = {
      cmocka_unit_test(test_engine_matches_evaluate),
      cmocka_unit_test(test_engine_ranks),
      cmocka_unit_test(test_engine_offset),
      cmocka_unit_test(test_run_from_refused),
      cmocka_unit_test(test_engine_errors),
      cmocka_unit_test(test_sweep),
      cmocka_unit_test(test_sensitivity),
      cmocka_unit_test(test_search),
      cmocka_unit_test(test_analysis_errors),
      cmocka_unit_test(test_analysis_ranks),
  };
  int failed = cmocka_run_group_tests(basics, setup, teardown);
  failed += cmocka_run_group_tests(engine, engine_setup, engine_teardown);
  return failed;
}
