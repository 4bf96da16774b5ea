/* Tests for tq_dataset_from_memory: shapes, labels, gather, and that it
 * gives exactly what the same arrays give as an NPY pair on disk. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

static tq_context *new_ctx(void) {
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  return ctx;
}

static void expect_error(tq_context *ctx, tq_status got, tq_status want,
                         const char *phrase) {
  assert_int_equal(got, want);
  if (!strstr(tq_context_last_error(ctx), phrase))
    fail_msg("message \"%s\" lacks \"%s\"", tq_context_last_error(ctx), phrase);
}

/* [3, 2, 2] images: a channel dimension is added; gather copies exactly. */
static void images_and_gather(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  float x[12];
  for (int i = 0; i < 12; i++) x[i] = 0.25f * (float)i - 1.0f;
  const int64_t y[3] = {2, 0, 4};
  const tq_shape s = {.ndim = 3, .dims = {3, 2, 2}};
  tq_dataset *ds = NULL;
  assert_int_equal(tq_dataset_from_memory(ctx, x, &s, y, 3, "mine", &ds),
                   TQ_OK);
  assert_int_equal(tq_dataset_size(ds), 3);
  const tq_shape *ss = tq_dataset_sample_shape(ds);
  assert_int_equal(ss->ndim, 3);
  assert_int_equal(ss->dims[0], 1);
  assert_int_equal(ss->dims[1], 2);
  assert_int_equal(ss->dims[2], 2);
  assert_int_equal(tq_dataset_classes(ds), 5);
  assert_string_equal(tq_dataset_name(ds), "mine");
  assert_int_equal(tq_dataset_split(ds), TQ_SPLIT_TEST);
  const size_t idx[2] = {2, 0};
  float out[8];
  int64_t labels[2];
  assert_int_equal(tq_dataset_gather(ctx, ds, idx, 2, out, labels), TQ_OK);
  assert_memory_equal(out, x + 8, 4 * sizeof(float));
  assert_memory_equal(out + 4, x, 4 * sizeof(float));
  assert_int_equal(labels[0], 4);
  assert_int_equal(labels[1], 2);
  tq_dataset_destroy(ds);
  /* NULL name: "<memory>"; [N, F] samples stay flat. */
  const tq_shape flat = {.ndim = 2, .dims = {3, 4}};
  assert_int_equal(tq_dataset_from_memory(ctx, x, &flat, y, 3, NULL, &ds),
                   TQ_OK);
  assert_string_equal(tq_dataset_name(ds), "<memory>");
  assert_int_equal(tq_dataset_sample_shape(ds)->ndim, 1);
  assert_int_equal(tq_dataset_sample_numel(ds), 4);
  tq_dataset_destroy(ds);
  tq_context_destroy(ctx);
}

/* The same arrays as an NPY pair give the same samples and labels. */
static void same_as_npy_pair(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  enum { N = 5, F = 6 };
  float x[N * F], y[N];
  int64_t yi[N];
  uint64_t seed = 7;
  for (int i = 0; i < N * F; i++)
    x[i] = (float)((double)(tq_test_rand(&seed) >> 40) / 65536.0 - 128.0);
  for (int i = 0; i < N; i++) yi[i] = (int64_t)(y[i] = (float)(i * 3 % 4));
  const tq_shape xs = {.ndim = 2, .dims = {N, F}},
                 ys = {.ndim = 1, .dims = {N}};
  char *xp = tq_test_tmp_path("mem_x.npy"), *yp = tq_test_tmp_path("mem_y.npy");
  assert_int_equal(tq_npy_write(ctx, xp, x, &xs), TQ_OK);
  assert_int_equal(tq_npy_write(ctx, yp, y, &ys), TQ_OK);
  char spec[1024];
  snprintf(spec, sizeof spec, "%s,%s", xp, yp);
  tq_dataset *files = NULL, *mem = NULL;
  assert_int_equal(tq_dataset_open(ctx, spec, TQ_SPLIT_TEST, &files), TQ_OK);
  assert_int_equal(tq_dataset_from_memory(ctx, x, &xs, yi, N, NULL, &mem),
                   TQ_OK);
  assert_int_equal(tq_dataset_classes(mem), tq_dataset_classes(files));
  assert_memory_equal(tq_dataset_labels(mem), tq_dataset_labels(files),
                      N * sizeof(int64_t));
  const size_t idx[N] = {4, 3, 2, 1, 0};
  float a[N * F], b[N * F];
  assert_int_equal(tq_dataset_gather(ctx, mem, idx, N, a, NULL), TQ_OK);
  assert_int_equal(tq_dataset_gather(ctx, files, idx, N, b, NULL), TQ_OK);
  assert_memory_equal(a, b, sizeof a);
  tq_dataset_destroy(files);
  tq_dataset_destroy(mem);
  remove(xp);
  remove(yp);
  free(xp);
  free(yp);
  tq_context_destroy(ctx);
}

static void bad_input(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  float x[8] = {0};
  int64_t y[4] = {0, 1, 1, 0};
  tq_shape s = {.ndim = 2, .dims = {4, 2}};
  tq_dataset *ds = (tq_dataset *)&ds; /* must come back NULL */
  expect_error(ctx, tq_dataset_from_memory(ctx, NULL, &s, y, 4, NULL, &ds),
               TQ_ERR_INVALID_ARGUMENT, "must not be NULL");
  assert_null(ds);
  expect_error(ctx, tq_dataset_from_memory(ctx, x, &s, y, 3, "d", &ds),
               TQ_ERR_SHAPE, "4 samples but 3 labels");
  y[2] = -1;
  expect_error(ctx, tq_dataset_from_memory(ctx, x, &s, y, 4, "d", &ds),
               TQ_ERR_FORMAT, "label of sample 2 is negative");
  y[2] = (int64_t)1 << 40;
  expect_error(ctx, tq_dataset_from_memory(ctx, x, &s, y, 4, "d", &ds),
               TQ_ERR_FORMAT, "below 2^31 - 1");
  y[2] = 1;
  x[5] = NAN;
  expect_error(ctx, tq_dataset_from_memory(ctx, x, &s, y, 4, "d", &ds),
               TQ_ERR_FORMAT, "sample 2 holds NaN");
  x[5] = 0;
  s.dims[0] = 0;
  expect_error(ctx, tq_dataset_from_memory(ctx, x, &s, y, 0, "d", &ds),
               TQ_ERR_FORMAT, "empty dataset");
  s.dims[0] = -4;
  expect_error(ctx, tq_dataset_from_memory(ctx, x, &s, y, 4, "d", &ds),
               TQ_ERR_SHAPE, "negative");
  const tq_shape one = {.ndim = 1, .dims = {8}};
  expect_error(ctx, tq_dataset_from_memory(ctx, x, &one, y, 8, "d", &ds),
               TQ_ERR_FORMAT, "1 dimension");
  assert_null(ds);
  tq_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(images_and_gather),
      cmocka_unit_test(same_as_npy_pair),
      cmocka_unit_test(bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
