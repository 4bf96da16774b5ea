/* The operators issue 13 added for transformers and indexing: IsNaN/IsInf,
 * Trilu, GatherElements, ScatterElements, TopK, RMSNormalization (and, in
 * later sections, Einsum, RotaryEmbedding, Attention) on hand-computed
 * values (NumPy where noted). The ONNX backend node tests check them
 * further (tests/python/node_tests.py, cli test node_tests). */
#include <math.h>
#include <string.h>

#include "op_harness.h"
#include "ops/einsum_internal.h"

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

/* Einsum through its descriptor's forward (the GEMM path where it
 * applies) or through the scalar definition. */
static tq_tensor *einsum_run(const char *eq, const tq_tensor *const *in,
                             size_t n_in, int reference) {
  tq_op_desc d = *op_desc("Einsum", 13);
  if (reference) d.forward = tq_einsum_ref;
  tq_attr_store at = a_str("equation", eq);
  tq_tensor *out = NULL;
  tq_shape s0 = mkshape(0, NULL);
  assert_int_equal(tq_tensor_create(g_ctx, TQ_DTYPE_FLOAT32, &s0, &out), TQ_OK);
  tq_op_call c = {.ctx = g_ctx,
                  .desc = &d,
                  .node_id = "net/node7",
                  .op_type = "Einsum",
                  .opset = 13,
                  .attrs = &at,
                  .n_attrs = 1,
                  .in = in,
                  .n_in = n_in,
                  .out = &out,
                  .n_out = 1,
                  .threads = 3};
  tq_status st = run_call(&c);
  if (st != TQ_OK) fail_msg("%s: %s", eq, tq_context_last_error(g_ctx));
  return out;
}

/* The GEMM path against the definition (sums in double) on the
 * contractions attention exports use, with broadcasting ellipses and an
 * implicit output; then hand-checked values and a bad equation. */
static void test_einsum(void **state) {
  (void)state;
  static const struct {
    const char *eq;
    int na, nb;
    int64_t da[5], db[5];
    int nd_out;
    int64_t dout[5];
  } cases[] = {
      {"bhid,bhjd->bhij", 4, 4, {2, 3, 5, 8}, {2, 3, 7, 8}, 4, {2, 3, 5, 7}},
      {"bhij,bhjd->bhid", 4, 4, {2, 3, 5, 7}, {2, 3, 7, 8}, 4, {2, 3, 5, 8}},
      {"...ij,...jk->...ik", 4, 3, {2, 3, 4, 5}, {1, 5, 6}, 4, {2, 3, 4, 6}},
      {"ij,jk", 2, 2, {4, 5}, {5, 3}, 2, {4, 3}},
      {"bgnd,rd->bgnr", 4, 2, {2, 2, 3, 4}, {5, 4}, 4, {2, 2, 3, 5}},
      {"i,j->ji", 1, 1, {4}, {3}, 2, {3, 4}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    tq_tensor *a = trand(cases[k].na, cases[k].da, 11 + k);
    tq_tensor *b = trand(cases[k].nb, cases[k].db, 31 + k);
    const tq_tensor *in[2] = {a, b};
    tq_tensor *fast = einsum_run(cases[k].eq, in, 2, 0);
    tq_tensor *ref = einsum_run(cases[k].eq, in, 2, 1);
    check_shape(fast, cases[k].nd_out, cases[k].dout);
    check_shape(ref, cases[k].nd_out, cases[k].dout);
    /* float32 sums of <= 8 products of values in [-1, 1]: within 8 ulps
     * of 8 */
    check_f(fast, tq_cf32(ref), ref->numel, 8 * 8 * 1.2e-7f);
    tq_tensor *all[] = {a, b, fast, ref};
    for (size_t i = 0; i < 4; i++) tq_tensor_destroy(all[i]);
  }
  /* Diagonal and trace by the definition. */
  tq_tensor *m = tf(2, (const int64_t[]){2, 2}, (const float[]){1, 2, 3, 4});
  const tq_tensor *in1[1] = {m};
  tq_tensor *y = einsum_run("ii->i", in1, 1, 0);
  check_f(y, (const float[]){1, 4}, 2, 0.0f);
  tq_tensor_destroy(y);
  y = einsum_run("ii", in1, 1, 0);
  check_f(y, (const float[]){5}, 1, 0.0f);
  tq_tensor_destroy(y);
  tq_attr_store bad = a_str("equation", "ij,j!->i");
  const tq_tensor *in2[2] = {m, m};
  run_fail("Einsum", 13, in2, 2, &bad, 1, TQ_ERR_INVALID_ARGUMENT,
           "'!' at 4 is not a subscript");
  /* An outer product beyond the largest rank is refused, not overrun. */
  const int64_t d5[5] = {1, 1, 1, 1, 1};
  tq_tensor *r5 = tf(5, d5, (const float[]){2});
  const tq_tensor *in5[2] = {r5, r5};
  tq_attr_store outer = a_str("equation", "abcde,fghij->abcdefghij");
  run_fail("Einsum", 13, in5, 2, &outer, 1, TQ_ERR_UNSUPPORTED,
           "rank 10 (at most 8)");
  tq_tensor_destroy(r5);
  tq_tensor_destroy(m);
}

/* Attention by its definition in double: GQA (2 query heads on 1 kv
 * head), a causal mask after 2 past keys and an additive float mask. */
static void test_attention(void **state) {
  (void)state;
  const int64_t dq[4] = {1, 2, 3, 4}, dk[4] = {1, 1, 3, 4},
                dv[4] = {1, 1, 3, 2}, dpk[4] = {1, 1, 2, 4},
                dpv[4] = {1, 1, 2, 2}, dm[2] = {3, 5};
  tq_tensor *q = trand(4, dq, 1), *k = trand(4, dk, 2), *v = trand(4, dv, 3);
  tq_tensor *pk = trand(4, dpk, 4), *pv = trand(4, dpv, 5);
  tq_tensor *m = trand(2, dm, 6);
  const tq_tensor *in[6] = {q, k, v, m, pk, pv};
  tq_attr_store at[1] = {a_int("is_causal", 1)};
  tq_tensor *out[3] = {NULL, NULL, NULL};
  assert_int_equal(run_op_n("Attention", 23, in, 6, at, 1, out, 3, 2), TQ_OK);
  check_shape(out[0], 4, (const int64_t[]){1, 2, 3, 2});
  check_shape(out[1], 4, (const int64_t[]){1, 1, 5, 4});
  /* present_key = concat(past_key, K) */
  assert_memory_equal(tq_cf32(out[1]), tq_cf32(pk), 8 * sizeof(float));
  assert_memory_equal(tq_cf32(out[1]) + 8, tq_cf32(k), 12 * sizeof(float));
  float want[12];
  for (int h = 0; h < 2; h++)
    for (int i = 0; i < 3; i++) {
      double sc[5], mx = -INFINITY, sum = 0;
      for (int j = 0; j < 5; j++) {
        const float *kr =
            j < 2 ? tq_cf32(pk) + j * 4 : tq_cf32(k) + (j - 2) * 4;
        double d = 0;
        for (int e = 0; e < 4; e++)
          d += (double)tq_cf32(q)[(h * 3 + i) * 4 + e] * kr[e];
        sc[j] = d * 0.5 + tq_cf32(m)[i * 5 + j] + (j > 2 + i ? -INFINITY : 0);
        if (sc[j] > mx) mx = sc[j];
      }
      for (int j = 0; j < 5; j++) sum += sc[j] = exp(sc[j] - mx);
      for (int e = 0; e < 2; e++) {
        double y = 0;
        for (int j = 0; j < 5; j++) {
          const float *vr =
              j < 2 ? tq_cf32(pv) + j * 2 : tq_cf32(v) + (j - 2) * 2;
          y += sc[j] / sum * vr[e];
        }
        want[(h * 3 + i) * 2 + e] = (float)y;
      }
    }
  check_f(out[0], want, 12, 1e-6f);
  for (int i = 0; i < 3; i++) tq_tensor_destroy(out[i]);
  tq_tensor *all[] = {q, k, v, pk, pv, m};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    tq_tensor_destroy(all[i]);
}

/* RotaryEmbedding on one head of 4 values, halves and interleaved, with
 * position ids; an id beyond the caches is an error. */
static void test_rotary(void **state) {
  (void)state;
  tq_tensor *x =
      tf(4, (const int64_t[]){1, 1, 1, 4}, (const float[]){1, 2, 3, 4});
  tq_tensor *cs =
      tf(2, (const int64_t[]){2, 2}, (const float[]){1, 1, 0, 0.5f});
  tq_tensor *sn =
      tf(2, (const int64_t[]){2, 2}, (const float[]){0, 0, 1, 0.25f});
  tq_tensor *ids = ti(2, (const int64_t[]){1, 1}, (const int64_t[]){1});
  const tq_tensor *in[4] = {x, cs, sn, ids};
  tq_tensor *y = run1("RotaryEmbedding", 23, in, 4, NULL, 0);
  /* pairs (1, 3) by (cos 0, sin 1) and (2, 4) by (0.5, 0.25) */
  check_f(y, (const float[]){-3, 0, 1, 2.5f}, 4, 0.0f);
  tq_tensor_destroy(y);
  tq_attr_store il = a_int("interleaved", 1);
  y = run1("RotaryEmbedding", 23, in, 4, &il, 1);
  /* pairs (1, 2) and (3, 4) */
  check_f(y, (const float[]){-2, 1, 0.5f, 2.75f}, 4, 0.0f);
  tq_tensor_destroy(y);
  tq_tensor *bad = ti(2, (const int64_t[]){1, 1}, (const int64_t[]){2});
  const tq_tensor *bin[4] = {x, cs, sn, bad};
  run_fail("RotaryEmbedding", 23, bin, 4, NULL, 0, TQ_ERR_RANGE,
           "position id 2 at [0, 0]");
  tq_tensor *all[] = {x, cs, sn, ids, bad};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    tq_tensor_destroy(all[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_isnan_isinf),
      cmocka_unit_test(test_trilu),
      cmocka_unit_test(test_gather_scatter_elements),
      cmocka_unit_test(test_topk),
      cmocka_unit_test(test_rms_normalization),
      cmocka_unit_test(test_einsum),
      cmocka_unit_test(test_attention),
      cmocka_unit_test(test_rotary),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
