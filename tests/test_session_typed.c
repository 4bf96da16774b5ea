/* The executor with typed values at run time: int64 token ids and a mask
 * as graph inputs, Gather with run-time indices, a mask computed with
 * Equal/Cast/Where, several outputs of several dtypes; named inputs and
 * outputs (tq_session_run_named), and the errors of bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static tq_context *new_ctx(void) {
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  return ctx;
}

static void ok(tq_context *ctx, tq_status st) {
  if (st != TQ_OK) fail_msg("%s", tq_context_last_error(ctx));
}

static void add_init(tq_context *ctx, tq_graph *g, const char *name,
                     tq_dtype dt, int nd, const int64_t *dims,
                     const void *data) {
  tq_shape s = {nd, {0}};
  for (int d = 0; d < nd; d++) s.dims[d] = dims[d];
  tq_tensor *t = NULL;
  ok(ctx, tq_tensor_create(ctx, dt, &s, &t));
  memcpy(tq_tensor_data(t), data, tq_tensor_numel(t) * tq_dtype_size(dt));
  ok(ctx, tq_graph_add_initializer(ctx, g, name, t));
  tq_tensor_destroy(t);
}

static void node(tq_context *ctx, tq_graph *g, const char *op, const char *id,
                 const char *const *in, size_t n_in, const char *out,
                 const tq_attr *attrs, size_t n_attrs) {
  ok(ctx, tq_graph_add_node(ctx, g, op, id, in, n_in, &out, 1, attrs, n_attrs));
}

enum { VOCAB = 6, DIM = 3, SEQ = 4 };

/* emb[v][k] = v + k / 4 */
static float emb_value(int64_t v, int k) {
  return (float)v + (float)k * 0.25f;
}

/* pooled = sum over the sequence of emb[ids] * mask, bias = Where(mask ==
 * 0, -1e4, 0), pad = (mask == 0): a masked mean-pool's arithmetic. */
static tq_graph *build(tq_context *ctx) {
  tq_graph *g = NULL;
  ok(ctx, tq_graph_create(ctx, &g));
  const tq_shape ids_shape = {2, {-1, SEQ}};
  ok(ctx,
     tq_graph_add_input_typed(ctx, g, "input_ids", TQ_DTYPE_INT64, &ids_shape));
  ok(ctx, tq_graph_add_input_typed(ctx, g, "attention_mask", TQ_DTYPE_INT64,
                                   &ids_shape));
  float emb[VOCAB * DIM];
  for (int v = 0; v < VOCAB; v++)
    for (int k = 0; k < DIM; k++) emb[v * DIM + k] = emb_value(v, k);
  add_init(ctx, g, "emb.weight", TQ_DTYPE_FLOAT32, 2,
           (const int64_t[]){VOCAB, DIM}, emb);
  add_init(ctx, g, "zero", TQ_DTYPE_INT64, 0, NULL, (const int64_t[]){0});
  add_init(ctx, g, "neg", TQ_DTYPE_FLOAT32, 0, NULL, (const float[]){-1e4f});
  add_init(ctx, g, "zerof", TQ_DTYPE_FLOAT32, 0, NULL, (const float[]){0.0f});
  add_init(ctx, g, "axis2", TQ_DTYPE_INT64, 1, (const int64_t[]){1},
           (const int64_t[]){2});
  add_init(ctx, g, "axis1", TQ_DTYPE_INT64, 1, (const int64_t[]){1},
           (const int64_t[]){1});
  ok(ctx, tq_graph_push_scope(ctx, g, "Embed"));
  node(ctx, g, "Gather", "lookup", (const char *[]){"emb.weight", "input_ids"},
       2, "tokens", NULL, 0);
  ok(ctx, tq_graph_pop_scope(ctx, g));
  const tq_attr to_float = {.name = "to", .type = TQ_ATTR_INT, .i = 1};
  node(ctx, g, "Cast", "mask_f", (const char *[]){"attention_mask"}, 1, "m",
       &to_float, 1);
  node(ctx, g, "Unsqueeze", "mask_u", (const char *[]){"m", "axis2"}, 2, "mu",
       NULL, 0);
  node(ctx, g, "Mul", "masked", (const char *[]){"tokens", "mu"}, 2, "h", NULL,
       0);
  const tq_attr keep0 = {.name = "keepdims", .type = TQ_ATTR_INT, .i = 0};
  node(ctx, g, "ReduceSum", "pool", (const char *[]){"h", "axis1"}, 2, "pooled",
       &keep0, 1);
  node(ctx, g, "Equal", "is_pad", (const char *[]){"attention_mask", "zero"}, 2,
       "pad", NULL, 0);
  node(ctx, g, "Where", "bias", (const char *[]){"pad", "neg", "zerof"}, 3,
       "bias", NULL, 0);
  ok(ctx, tq_graph_add_output(ctx, g, "pooled"));
  ok(ctx, tq_graph_add_output(ctx, g, "bias"));
  ok(ctx, tq_graph_add_output(ctx, g, "pad"));
  return g;
}

static tq_tensor *ints(tq_context *ctx, int64_t rows, const int64_t *v) {
  const tq_shape s = {2, {rows, SEQ}};
  tq_tensor *t = NULL;
  ok(ctx, tq_tensor_create(ctx, TQ_DTYPE_INT64, &s, &t));
  memcpy(tq_tensor_data(t), v, (size_t)(rows * SEQ) * sizeof *v);
  return t;
}

static const int64_t IDS[2 * SEQ] = {1, 5, -1, 0, 2, 2, 3, 4};
static const int64_t MASK[2 * SEQ] = {1, 1, 1, 0, 1, 0, 1, 1};

/* Checks pooled, bias and pad against the definition. */
static void check_outputs(const tq_tensor *pooled, const tq_tensor *bias,
                          const tq_tensor *pad) {
  assert_int_equal(tq_tensor_dtype(pooled), TQ_DTYPE_FLOAT32);
  assert_int_equal(tq_tensor_dtype(bias), TQ_DTYPE_FLOAT32);
  assert_int_equal(tq_tensor_dtype(pad), TQ_DTYPE_BOOL);
  assert_int_equal(tq_tensor_shape(pooled)->ndim, 2);
  assert_int_equal(tq_tensor_shape(pooled)->dims[1], DIM);
  const float *p = tq_tensor_cdata(pooled), *b = tq_tensor_cdata(bias);
  const uint8_t *m = tq_tensor_cdata(pad);
  for (int r = 0; r < 2; r++) {
    for (int k = 0; k < DIM; k++) {
      float want = 0.0f; /* ReduceSum accumulates in double, exact here */
      for (int j = 0; j < SEQ; j++) {
        int64_t v = IDS[r * SEQ + j];
        if (v < 0) v += VOCAB; /* negative indices count from the end */
        want += emb_value(v, k) * (float)MASK[r * SEQ + j];
      }
      if (p[r * DIM + k] != want)
        fail_msg("pooled[%d][%d] = %g, expected %g", r, k,
                 (double)p[r * DIM + k], (double)want);
    }
    for (int j = 0; j < SEQ; j++) {
      assert_int_equal(m[r * SEQ + j], MASK[r * SEQ + j] == 0);
      assert_true(b[r * SEQ + j] == (MASK[r * SEQ + j] ? 0.0f : -1e4f));
    }
  }
}

static void test_typed_run(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = build(ctx);
  assert_int_equal(tq_graph_input_dtype(g, 0), TQ_DTYPE_INT64);
  tq_session *s = NULL;
  ok(ctx, tq_session_create(ctx, g, &s));
  tq_tensor *ids = ints(ctx, 2, IDS), *mask = ints(ctx, 2, MASK);
  /* Positional, as before. */
  tq_tensor *out[3] = {NULL, NULL, NULL};
  const tq_tensor *in[2] = {ids, mask};
  ok(ctx, tq_session_run(ctx, s, in, 2, out, 3, NULL));
  check_outputs(out[0], out[1], out[2]);
  assert_int_equal(tq_session_value_dtype(s, "pad"), TQ_DTYPE_BOOL);
  assert_int_equal(tq_session_value_dtype(s, "tokens"), TQ_DTYPE_FLOAT32);
  assert_int_equal(tq_session_value_dtype(s, "nothing"), TQ_DTYPE_COUNT);
  for (int k = 0; k < 3; k++) tq_tensor_destroy(out[k]);
  /* Named, in any order: the bare input takes the one not named; the bare
   * output the first one not asked for by name. */
  const char *in_names[2] = {"attention_mask", NULL};
  const tq_tensor *in2[2] = {mask, ids};
  const char *out_names[3] = {"pad", NULL, "bias"};
  ok(ctx,
     tq_session_run_named(ctx, s, in_names, in2, 2, out_names, out, 3, NULL));
  check_outputs(out[1], out[2], out[0]);
  for (int k = 0; k < 3; k++) tq_tensor_destroy(out[k]);
  /* Extrinsic maps apply to float outputs only: the bool mask passes. */
  tq_qmap_set *maps = NULL;
  ok(ctx, tq_qmap_set_create(ctx, &maps));
  tq_qmap *m = NULL;
  ok(ctx, tq_qmap_load(ctx, "nearest,4,0", TQ_MAP_EXTRINSIC, &m));
  ok(ctx, tq_qmap_set_put(ctx, maps, m));
  ok(ctx, tq_session_set_maps(ctx, s, maps));
  ok(ctx, tq_session_run_named(ctx, s, NULL, in, 2, (const char *[]){"pad"},
                               out, 1, NULL));
  const uint8_t *pm = tq_tensor_cdata(out[0]);
  for (int j = 0; j < 2 * SEQ; j++) assert_int_equal(pm[j], MASK[j] == 0);
  tq_tensor_destroy(out[0]);
  ok(ctx, tq_session_run_named(ctx, s, NULL, in, 2, (const char *[]){"bias"},
                               out, 1, NULL));
  /* -1e4 saturates to the 4-bit fixed-point minimum, -8. */
  const float *bq = tq_tensor_cdata(out[0]);
  for (int j = 0; j < 2 * SEQ; j++)
    assert_true(bq[j] == (MASK[j] ? 0.0f : -8.0f));
  tq_tensor_destroy(out[0]);
  tq_session_destroy(s);
  tq_qmap_set_destroy(maps);
  tq_tensor_destroy(ids);
  tq_tensor_destroy(mask);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* A failing run gives no outputs and a message with the phrases. */
static void expect_run_error(tq_context *ctx, tq_session *s,
                             const char *const *names,
                             const tq_tensor *const *in, size_t n,
                             tq_status want, const char *a, const char *b) {
  tq_tensor *out[3] = {(tq_tensor *)1, (tq_tensor *)1, (tq_tensor *)1};
  tq_status st = tq_session_run_named(ctx, s, names, in, n, NULL, out, 3, NULL);
  const char *msg = tq_context_last_error(ctx);
  if (st != want) fail_msg("status %d, expected %d: %s", st, want, msg);
  for (int k = 0; k < 3; k++) assert_null(out[k]);
  if (!strstr(msg, a) || (b && !strstr(msg, b)))
    fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", msg, a, b ? b : "");
}

static void test_bad_input(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = build(ctx);
  tq_session *s = NULL;
  ok(ctx, tq_session_create(ctx, g, &s));
  tq_tensor *ids = ints(ctx, 2, IDS), *mask = ints(ctx, 2, MASK);
  /* A name the graph does not have: the inputs are listed. */
  expect_run_error(ctx, s, (const char *[]){"input_ids", "mask"},
                   (const tq_tensor *[]){ids, mask}, 2, TQ_ERR_NOT_FOUND,
                   "no input named 'mask'", "'attention_mask' (int64 [-1, 4])");
  /* A missing input. */
  expect_run_error(ctx, s, (const char *[]){"input_ids"},
                   (const tq_tensor *[]){ids}, 1, TQ_ERR_INVALID_ARGUMENT,
                   "input 'attention_mask' (int64 [-1, 4]) is not given", NULL);
  /* Given twice; too many. */
  expect_run_error(ctx, s, (const char *[]){"input_ids", "input_ids"},
                   (const tq_tensor *[]){ids, ids}, 2, TQ_ERR_INVALID_ARGUMENT,
                   "input 'input_ids' is given twice", NULL);
  expect_run_error(ctx, s, NULL, (const tq_tensor *[]){ids, mask, ids}, 3,
                   TQ_ERR_INVALID_ARGUMENT, "3 inputs given", NULL);
  /* Another dtype than declared. */
  const tq_shape fs = {2, {2, SEQ}};
  tq_tensor *f = NULL;
  ok(ctx, tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &fs, &f));
  expect_run_error(ctx, s, NULL, (const tq_tensor *[]){f, mask}, 2,
                   TQ_ERR_INVALID_ARGUMENT,
                   "input 'input_ids' is float32, but the model declares it "
                   "int64",
                   NULL);
  /* Another shape than declared. */
  const int64_t five[5] = {1, 2, 3, 4, 5};
  const tq_shape s5 = {2, {1, 5}};
  tq_tensor *ids5 = NULL;
  ok(ctx, tq_tensor_create(ctx, TQ_DTYPE_INT64, &s5, &ids5));
  memcpy(tq_tensor_data(ids5), five, sizeof five);
  expect_run_error(ctx, s, NULL, (const tq_tensor *[]){ids5, ids5}, 2,
                   TQ_ERR_SHAPE, "input 'input_ids' must have shape [-1, 4]",
                   "got [1, 5]");
  /* An index out of range at run time: the node and the index named. */
  const int64_t bad[2 * SEQ] = {1, 2, 3, 6, 0, 0, 0, 0};
  tq_tensor *idsb = ints(ctx, 2, bad);
  expect_run_error(ctx, s, NULL, (const tq_tensor *[]){idsb, mask}, 2,
                   TQ_ERR_RANGE, "node 'Embed/lookup' (Gather)",
                   "index 6 at [0, 3] of the indices (shape [2, 4]) is out "
                   "of range for axis 0 of size 6");
  /* And the session still runs good input afterwards. */
  tq_tensor *out[3];
  ok(ctx,
     tq_session_run(ctx, s, (const tq_tensor *[]){ids, mask}, 2, out, 3, NULL));
  check_outputs(out[0], out[1], out[2]);
  for (int k = 0; k < 3; k++) tq_tensor_destroy(out[k]);
  /* An output the graph does not have. */
  tq_status st =
      tq_session_run_named(ctx, s, NULL, (const tq_tensor *[]){ids, mask}, 2,
                           (const char *[]){"logits"}, out, 1, NULL);
  assert_int_equal(st, TQ_ERR_NOT_FOUND);
  assert_non_null(strstr(tq_context_last_error(ctx),
                         "no output named 'logits'; its outputs are "
                         "'pooled', 'bias', 'pad'"));
  assert_null(out[0]);
  tq_tensor *all[] = {ids, mask, f, ids5, idsb};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
    tq_tensor_destroy(all[k]);
  tq_session_destroy(s);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* Operators whose types do not allow a run-time dtype fail at plan time,
 * naming the node, the input and the dtypes. */
static void test_type_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = NULL;
  ok(ctx, tq_graph_create(ctx, &g));
  const tq_shape sh = {2, {-1, SEQ}};
  ok(ctx, tq_graph_add_input_typed(ctx, g, "ids", TQ_DTYPE_INT64, &sh));
  node(ctx, g, "Relu", "act", (const char *[]){"ids"}, 1, "y", NULL, 0);
  ok(ctx, tq_graph_add_output(ctx, g, "y"));
  tq_session *s = NULL;
  ok(ctx, tq_session_create(ctx, g, &s));
  const tq_shape ps = {2, {2, SEQ}};
  assert_int_equal(tq_session_plan(ctx, s, &ps, 1), TQ_ERR_UNSUPPORTED);
  assert_non_null(strstr(tq_context_last_error(ctx),
                         "node 'act' (Relu): input 0 ('ids') is int64; Relu "
                         "takes float32 there"));
  tq_session_destroy(s);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_typed_run),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_type_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
