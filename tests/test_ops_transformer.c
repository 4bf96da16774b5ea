/* The operators issue 13 added for transformers and indexing: IsNaN/IsInf,
 * Trilu, GatherElements, ScatterElements, TopK, RMSNormalization (and, in
 * later sections, Einsum, RotaryEmbedding, Attention) on hand-computed
 * values (NumPy where noted). The ONNX backend node tests check them
 * further (tests/python/node_tests.py, cli test node_tests). */
#include <math.h>
#include <string.h>

#include "op_harness.h"

static void test_isnan_isinf(void **state) {
  (void)state;
  const int64_t d[1] = {5};
  tq_tensor *x = tt(TQ_DTYPE_FLOAT16, 1, d,
                    (const double[]){1, NAN, INFINITY, -INFINITY, 0});
  const tq_tensor *in[1] = {x};
  tq_tensor *y = run1("IsNaN", 20, in, 1, NULL, 0);
  check_t(y, TQ_DTYPE_BOOL, (const double[]){0, 1, 0, 0, 0}, 5);
  tq_tensor_destroy(y);
  y = run1("IsInf", 20, in, 1, NULL, 0);
  check_t(y, TQ_DTYPE_BOOL, (const double[]){0, 0, 1, 1, 0}, 5);
  tq_tensor_destroy(y);
  tq_attr_store neg = a_int("detect_positive", 0);
  y = run1("IsInf", 20, in, 1, &neg, 1);
  check_t(y, TQ_DTYPE_BOOL, (const double[]){0, 0, 0, 1, 0}, 5);
  tq_tensor_destroy(y);
  tq_tensor_destroy(x);
}

static void test_trilu(void **state) {
  (void)state;
  const int64_t d[2] = {3, 4};
  tq_tensor *x = tt(TQ_DTYPE_INT64, 2, d,
                    (const double[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  tq_tensor *k = ti(0, NULL, (const int64_t[]){1});
  const tq_tensor *in[2] = {x, k};
  tq_tensor *y = run1("Trilu", 14, in, 1, NULL, 0); /* upper, k = 0 */
  check_i(y, (const int64_t[]){1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12}, 12);
  tq_tensor_destroy(y);
  tq_attr_store lower = a_int("upper", 0);
  y = run1("Trilu", 14, in, 2, &lower, 1); /* lower, k = 1 */
  check_i(y, (const int64_t[]){1, 2, 0, 0, 5, 6, 7, 0, 9, 10, 11, 12}, 12);
  tq_tensor_destroy(y);
  tq_tensor_destroy(x);
  tq_tensor_destroy(k);
}

static void test_gather_scatter_elements(void **state) {
  (void)state;
  const int64_t d[2] = {2, 3};
  tq_tensor *x = tf(2, d, (const float[]){1, 2, 3, 4, 5, 6});
  tq_tensor *ind = ti(2, d, (const int64_t[]){2, 0, -1, 1, 1, 0});
  const tq_tensor *in[2] = {x, ind};
  tq_attr_store ax1 = a_int("axis", 1);
  tq_tensor *y = run1("GatherElements", 13, in, 2, &ax1, 1);
  check_f(y, (const float[]){3, 1, 3, 5, 5, 4}, 6, 0.0f);
  tq_tensor_destroy(y);
  /* ScatterElements with add: duplicates accumulate in index order. */
  tq_tensor *u = tf(2, d, (const float[]){10, 20, 30, 40, 50, 60});
  const tq_tensor *sin[3] = {x, ind, u};
  tq_attr_store at[2] = {a_int("axis", 1), a_str("reduction", "add")};
  y = run1("ScatterElements", 18, sin, 3, at, 2);
  check_f(y, (const float[]){21, 2, 43, 64, 95, 6}, 6, 0.0f);
  tq_tensor_destroy(y);
  y = run1("ScatterElements", 18, sin, 3, at, 1); /* none: the last wins */
  check_f(y, (const float[]){20, 2, 30, 60, 50, 6}, 6, 0.0f);
  tq_tensor_destroy(y);
  /* An index out of range names the index and where it is. */
  tq_tensor *bad = ti(2, d, (const int64_t[]){0, 0, 0, 0, 3, 0});
  const tq_tensor *bin[2] = {x, bad};
  run_fail("GatherElements", 13, bin, 2, &ax1, 1, TQ_ERR_RANGE,
           "index 3 at [1, 1]");
  tq_tensor *all[] = {x, ind, u, bad};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    tq_tensor_destroy(all[i]);
}

static void test_topk(void **state) {
  (void)state;
  const int64_t d[2] = {2, 4};
  tq_tensor *x = tf(2, d, (const float[]){3, 1, 3, 2, NAN, 0, -1, 5});
  tq_tensor *k = ti(1, (const int64_t[]){1}, (const int64_t[]){2});
  const tq_tensor *in[2] = {x, k};
  tq_tensor *out[2] = {NULL, NULL};
  assert_int_equal(run_op_n("TopK", 11, in, 2, NULL, 0, out, 2, 1), TQ_OK);
  /* ties: the smaller index first; NaN is the largest */
  check_i(out[1], (const int64_t[]){0, 2, 0, 3}, 4);
  assert_true(tq_cf32(out[0])[0] == 3 && isnan(tq_cf32(out[0])[2]));
  tq_tensor_destroy(out[0]);
  tq_tensor_destroy(out[1]);
  tq_attr_store smallest = a_int("largest", 0);
  assert_int_equal(run_op_n("TopK", 11, in, 2, &smallest, 1, out, 2, 1), TQ_OK);
  check_i(out[1], (const int64_t[]){1, 3, 2, 1}, 4);
  check_f(out[0], (const float[]){1, 2, -1, 0}, 4, 0.0f);
  tq_tensor_destroy(out[0]);
  tq_tensor_destroy(out[1]);
  tq_tensor_destroy(x);
  tq_tensor_destroy(k);
}

static void test_rms_normalization(void **state) {
  (void)state;
  tq_tensor *x = tf(2, (const int64_t[]){1, 4}, (const float[]){1, 2, 3, 4});
  tq_tensor *s = tf(1, (const int64_t[]){4}, (const float[]){1, 1, 2, 2});
  const tq_tensor *in[2] = {x, s};
  tq_attr_store eps = a_float("epsilon", 0.0f);
  tq_tensor *y = run1("RMSNormalization", 23, in, 2, &eps, 1);
  /* x / sqrt(7.5) * scale (NumPy, float64) */
  check_f(y,
          (const float[]){0.36514837f, 0.73029674f, 2.19089023f, 2.92118698f},
          4, 1e-6f);
  tq_tensor_destroy(y);
  tq_tensor_destroy(x);
  tq_tensor_destroy(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_isnan_isinf),
      cmocka_unit_test(test_trilu),
      cmocka_unit_test(test_gather_scatter_elements),
      cmocka_unit_test(test_topk),
      cmocka_unit_test(test_rms_normalization),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
