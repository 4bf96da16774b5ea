/* The quantized-model operators against hand-computed values (each case's
 * comment shows the arithmetic): QuantizeLinear (ties to even, saturation,
 * NaN, per axis, blocked int4, float8), DequantizeLinear (per axis, int32
 * biases), DynamicQuantizeLinear, MatMulInteger, QLinearMatMul,
 * QLinearConv with padding and bias, ConvInteger, QLinearAdd,
 * QLinearGlobalAveragePool, QLinearConcat, QGemm, MaxPool on uint8, and the
 * errors of inconsistent scales and zero points. tests/cli/qdq.sh compares
 * whole models with ONNX Runtime. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "op_harness.h"
#include "ops/qdq_internal.h"
#include "quant/int_grid.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define D1(n) ((const int64_t[]){n})
#define D2(a, b) ((const int64_t[]){a, b})
#define D4(a, b, c, d) ((const int64_t[]){a, b, c, d})
#define V(...) ((const double[]){__VA_ARGS__})

static tq_tensor *scalar_f(float v) {
  return tt(TQ_DTYPE_FLOAT32, 0, NULL, V(v));
}
static tq_tensor *scalar_t(tq_dtype dt, double v) {
  return tt(dt, 0, NULL, V(v));
}

static void destroy_all(tq_tensor **t, size_t n) {
  for (size_t i = 0; i < n; i++) tq_tensor_destroy(t[i]);
}

static void test_quantize_int8(void **state) {
  (void)state;
  /* x / 0.5 = 0, 0.5, 1.5, -0.5, 600, -600, NaN, 2.5; round to even, + 1,
   * clamp to [-128, 127]; NaN -> qmin (ONNX Runtime). */
  tq_tensor *x = tt(TQ_DTYPE_FLOAT32, 1, D1(8),
                    V(0, 0.25, 0.75, -0.25, 300, -300, NAN, 1.25));
  tq_tensor *s = scalar_f(0.5f), *zp = scalar_t(TQ_DTYPE_INT8, 1);
  const tq_tensor *in[] = {x, s, zp};
  tq_tensor *y = run1("QuantizeLinear", 13, in, 3, NULL, 0);
  check_t(y, TQ_DTYPE_INT8, V(1, 1, 3, 1, 127, -128, -128, 3), 8);
  /* DequantizeLinear back: (q - 1) * 0.5 */
  const tq_tensor *din[] = {y, s, zp};
  tq_tensor *z = run1("DequantizeLinear", 13, din, 3, NULL, 0);
  check_t(z, TQ_DTYPE_FLOAT32, V(0, 0, 1, 0, 63, -64.5, -64.5, 1), 8);
  tq_tensor *all[] = {x, s, zp, y, z};
  destroy_all(all, COUNT(all));
}

static void test_quantize_per_axis_uint8(void **state) {
  (void)state;
  /* axis 1, scales 1, 2, 4, zero points 0, 10, 255:
   * [1, 2, 4] -> [1, 1 + 10, 1 + 255 -> 255];
   * [-1, -2, -8] -> [-1 -> 0, -1 + 10, -2 + 255] */
  tq_tensor *x = tt(TQ_DTYPE_FLOAT32, 2, D2(2, 3), V(1, 2, 4, -1, -2, -8));
  tq_tensor *s = tt(TQ_DTYPE_FLOAT32, 1, D1(3), V(1, 2, 4));
  tq_tensor *zp = tt(TQ_DTYPE_UINT8, 1, D1(3), V(0, 10, 255));
  const tq_tensor *in[] = {x, s, zp};
  tq_tensor *y = run1("QuantizeLinear", 13, in, 3, NULL, 0);
  check_t(y, TQ_DTYPE_UINT8, V(1, 11, 255, 0, 9, 253), 6);
  /* no zero point: uint8 with zero point 0 */
  tq_tensor *y2 = run1("QuantizeLinear", 13, in, 2, NULL, 0);
  check_t(y2, TQ_DTYPE_UINT8, V(1, 1, 1, 0, 0, 0), 6);
  tq_tensor *all[] = {x, s, zp, y, y2};
  destroy_all(all, COUNT(all));
}

static void test_quantize_blocked_int4(void **state) {
  (void)state;
  /* blocks of 2 along axis 1 of [1, 5]: scales [1, 10, 100] (the last
   * block is short); int4 (output_dtype 22) clamps to [-8, 7]:
   * 3, -9 -> -8, 2.5 -> 2, 3.6 -> 4, 10 -> 7 */
  tq_tensor *x = tt(TQ_DTYPE_FLOAT32, 2, D2(1, 5), V(3, -9, 25, 36, 1000));
  tq_tensor *s = tt(TQ_DTYPE_FLOAT32, 2, D2(1, 3), V(1, 10, 100));
  const tq_tensor *in[] = {x, s};
  tq_attr_store at[] = {a_int("block_size", 2), a_int("output_dtype", 22)};
  tq_tensor *y = run1("QuantizeLinear", 21, in, 2, at, 2);
  check_t(y, TQ_DTYPE_INT8, V(3, -8, 2, 4, 7), 5);
  const tq_tensor *din[] = {y, s};
  tq_attr_store dat[] = {a_int("block_size", 2)};
  tq_tensor *z = run1("DequantizeLinear", 21, din, 2, dat, 1);
  check_t(z, TQ_DTYPE_FLOAT32, V(3, -8, 20, 40, 700), 5);
  /* a block count that does not fit: [1, 2] scales for 5 elements */
  tq_tensor *bad = tt(TQ_DTYPE_FLOAT32, 2, D2(1, 2), V(1, 1));
  const tq_tensor *bin[] = {x, bad};
  run_fail("QuantizeLinear", 21, bin, 2, at, 2, TQ_ERR_SHAPE,
           "block_size 2 along axis 1");
  /* blocks need opset 21 */
  run_fail("QuantizeLinear", 19, in, 2, at, 2, TQ_ERR_SHAPE, "opset 21");
  tq_tensor *all[] = {x, s, y, z, bad};
  destroy_all(all, COUNT(all));
}

static void test_quantize_float8(void **state) {
  (void)state;
  /* e4m3fn (17): x / 2 = 0.5625 -> 0.5625 (exact), 1.0625 -> 1 (tie to
   * even between 1 and 1.125), 1000 -> 448 (saturate) */
  tq_tensor *x = tt(TQ_DTYPE_FLOAT32, 1, D1(3), V(1.125, 2.125, 2000));
  tq_tensor *s = scalar_f(2.0f);
  const tq_tensor *in[] = {x, s};
  tq_attr_store at[] = {a_int("output_dtype", 17)};
  tq_tensor *y = run1("QuantizeLinear", 21, in, 2, at, 1);
  check_t(y, TQ_DTYPE_FLOAT32, V(0.5625, 1, 448), 3);
  tq_tensor *all[] = {x, s, y};
  destroy_all(all, COUNT(all));
}

static void test_dequantize_axis_int32(void **state) {
  (void)state;
  /* axis 0, scales 0.5, 2, zero points 0, -1 */
  tq_tensor *x = tt(TQ_DTYPE_INT8, 2, D2(2, 2), V(-128, 5, 127, 0));
  tq_tensor *s = tt(TQ_DTYPE_FLOAT32, 1, D1(2), V(0.5, 2));
  tq_tensor *zp = tt(TQ_DTYPE_INT8, 1, D1(2), V(0, -1));
  const tq_tensor *in[] = {x, s, zp};
  tq_attr_store at[] = {a_int("axis", 0)};
  tq_tensor *y = run1("DequantizeLinear", 13, in, 3, at, 1);
  check_t(y, TQ_DTYPE_FLOAT32, V(-64, 2.5, 256, 2), 4);
  /* an int32 bias, no zero point */
  tq_tensor *b = tt(TQ_DTYPE_INT32, 1, D1(3), V(100, -7, 0));
  tq_tensor *bs = scalar_f(0.25f);
  const tq_tensor *bin[] = {b, bs};
  tq_tensor *bf = run1("DequantizeLinear", 13, bin, 2, NULL, 0);
  check_t(bf, TQ_DTYPE_FLOAT32, V(25, -1.75, 0), 3);
  /* bad input: scales of the wrong length, a zero point of another type */
  tq_tensor *s3 = tt(TQ_DTYPE_FLOAT32, 1, D1(3), V(1, 1, 1));
  const tq_tensor *bad1[] = {x, s3};
  run_fail("DequantizeLinear", 13, bad1, 2, at, 1, TQ_ERR_SHAPE,
           "per-axis scales along axis 0 need shape [2]");
  tq_tensor *zpu = tt(TQ_DTYPE_UINT8, 1, D1(2), V(0, 0));
  const tq_tensor *bad2[] = {x, s, zpu};
  run_fail("DequantizeLinear", 13, bad2, 3, at, 1, TQ_ERR_UNSUPPORTED,
           "zero point) has dtype uint8");
  /* per-axis scales need opset 13 */
  run_fail("DequantizeLinear", 10, in, 3, at, 1, TQ_ERR_SHAPE,
           "per-tensor scale only");
  tq_tensor *all[] = {x, s, zp, y, b, bs, bf, s3, zpu};
  destroy_all(all, COUNT(all));
}

static void test_dynamic_quantize(void **state) {
  (void)state;
  /* lo -1, hi 2.55: s = 3.55 / 255, zp = rint(1 / s) = rint(71.83) = 72;
   * x / s = -71.83, 0, 71.83, 183.17 -> 0, 72, 144, 255 */
  tq_tensor *x = tt(TQ_DTYPE_FLOAT32, 1, D1(4), V(-1, 0, 1, 2.55f));
  const tq_tensor *in[] = {x};
  tq_tensor *out[3];
  assert_int_equal(
      run_op_n("DynamicQuantizeLinear", 11, in, 1, NULL, 0, out, 3, 1), TQ_OK);
  check_t(out[0], TQ_DTYPE_UINT8, V(0, 72, 144, 255), 4);
  const float s = (2.55f - -1.0f) / 255.0f;
  check_t(out[1], TQ_DTYPE_FLOAT32, V(s), 1);
  check_t(out[2], TQ_DTYPE_UINT8, V(72), 1);
  destroy_all(out, 3);
  /* all zeros: s = 1, zp = 0 (ONNX Runtime; the formula divides by 0) */
  tq_tensor *z = tt(TQ_DTYPE_FLOAT32, 1, D1(2), V(0, 0));
  const tq_tensor *zin[] = {z};
  assert_int_equal(
      run_op_n("DynamicQuantizeLinear", 11, zin, 1, NULL, 0, out, 3, 1), TQ_OK);
  check_t(out[0], TQ_DTYPE_UINT8, V(0, 0), 2);
  check_t(out[1], TQ_DTYPE_FLOAT32, V(1), 1);
  destroy_all(out, 3);
  tq_tensor_destroy(x);
  tq_tensor_destroy(z);
}

static void test_matmul(void **state) {
  (void)state;
  /* a - 10 = [0, 10]; b = [[1, 2], [3, -4]]: sums [30, -40] */
  tq_tensor *a = tt(TQ_DTYPE_UINT8, 2, D2(1, 2), V(10, 20));
  tq_tensor *b = tt(TQ_DTYPE_INT8, 2, D2(2, 2), V(1, 2, 3, -4));
  tq_tensor *azp = scalar_t(TQ_DTYPE_UINT8, 10);
  const tq_tensor *in[] = {a, b, azp};
  tq_tensor *y = run1("MatMulInteger", 10, in, 3, NULL, 0);
  check_t(y, TQ_DTYPE_INT32, V(30, -40), 2);
  /* QLinearMatMul: * (0.5 * 0.25 / 0.1 = 1.25) = 37.5 -> 38, -50;
   * + 5, clamp to uint8: 43, 0 */
  tq_tensor *as = scalar_f(0.5f), *bs = scalar_f(0.25f), *ys = scalar_f(0.1f);
  tq_tensor *bzp = scalar_t(TQ_DTYPE_INT8, 0),
            *yzp = scalar_t(TQ_DTYPE_UINT8, 5);
  const tq_tensor *qin[] = {a, as, azp, b, bs, bzp, ys, yzp};
  tq_tensor *q = run1("QLinearMatMul", 10, qin, 8, NULL, 0);
  check_t(q, TQ_DTYPE_UINT8, V(43, 0), 2);
  /* QGemm, float output (no y_scale): sums * 0.5 * 0.25, plus C [1, 2]
   * first: (30 + 1) * 0.125, (-40 + 2) * 0.125 */
  tq_tensor *c = tt(TQ_DTYPE_INT32, 1, D1(2), V(1, 2));
  const tq_tensor *gin[] = {a, as, azp, b, bs, bzp, c};
  tq_tensor *g = run1("QGemm", 1, gin, 7, NULL, 0);
  check_t(g, TQ_DTYPE_FLOAT32, V(3.875, -4.75), 2);
  tq_tensor *all[] = {a, b, azp, y, as, bs, ys, bzp, yzp, q, c, g};
  destroy_all(all, COUNT(all));
}

static void test_conv(void **state) {
  (void)state;
  /* x - 1 = [[0, 1], [2, 3]], w all 1 (scale 0.5), bias 2, pads 1: each
   * output is (the taps inside the image + 2) * 0.5 (x_s 1, y_s 1), ties
   * to even: corners (0, 1, 2, 3 + 2) / 2 = 1, 1.5, 2, 2.5 -> 1, 2, 2, 2;
   * edges (0+1, 0+2, 1+3, 2+3 + 2) / 2 = 1.5, 2, 3, 3.5 -> 2, 2, 3, 4;
   * centre (6 + 2) / 2 = 4 */
  tq_tensor *x = tt(TQ_DTYPE_UINT8, 4, D4(1, 1, 2, 2), V(1, 2, 3, 4));
  tq_tensor *w = tt(TQ_DTYPE_INT8, 4, D4(1, 1, 2, 2), V(1, 1, 1, 1));
  tq_tensor *xs = scalar_f(1), *xzp = scalar_t(TQ_DTYPE_UINT8, 1);
  tq_tensor *ws = scalar_f(0.5f), *wzp = scalar_t(TQ_DTYPE_INT8, 0);
  tq_tensor *ys = scalar_f(1), *yzp = scalar_t(TQ_DTYPE_UINT8, 0);
  tq_tensor *b = tt(TQ_DTYPE_INT32, 1, D1(1), V(2));
  const tq_tensor *in[] = {x, xs, xzp, w, ws, wzp, ys, yzp, b};
  tq_attr_store pads = a_ints("pads", (const int64_t[]){1, 1, 1, 1}, 4);
  tq_tensor *y = run1("QLinearConv", 10, in, 9, &pads, 1);
  check_shape(y, 4, D4(1, 1, 3, 3));
  check_t(y, TQ_DTYPE_UINT8, V(1, 2, 2, 2, 4, 3, 2, 4, 2), 9);
  /* ConvInteger: the sums alone, no padding: 0 + 1 + 2 + 3 */
  const tq_tensor *cin[] = {x, w, xzp};
  tq_tensor *ci = run1("ConvInteger", 10, cin, 3, NULL, 0);
  check_t(ci, TQ_DTYPE_INT32, V(6), 1);
  tq_tensor *all[] = {x, w, xs, xzp, ws, wzp, ys, yzp, b, y, ci};
  destroy_all(all, COUNT(all));
}

static void test_ms_elementwise(void **state) {
  (void)state;
  /* QLinearAdd: (0.1 * 10 + 0.05 * 20) / 0.2 = 10, (-1 + 1) / 0.2 = 0 */
  tq_tensor *a = tt(TQ_DTYPE_INT8, 1, D1(2), V(10, -10));
  tq_tensor *b = tt(TQ_DTYPE_INT8, 1, D1(1), V(20));
  tq_tensor *as = scalar_f(0.1f), *bs = scalar_f(0.05f), *cs = scalar_f(0.2f);
  tq_tensor *zp = scalar_t(TQ_DTYPE_INT8, 0);
  const tq_tensor *in[] = {a, as, zp, b, bs, zp, cs, zp};
  tq_tensor *y = run1("QLinearAdd", 1, in, 8, NULL, 0);
  check_t(y, TQ_DTYPE_INT8, V(10, 0), 2);
  /* QLinearGlobalAveragePool: sum 1+2+3+5 - 4 * 1 = 7, * 1 / (0.5 * 4) =
   * 3.5 -> 4 */
  tq_tensor *x = tt(TQ_DTYPE_UINT8, 4, D4(1, 1, 2, 2), V(1, 2, 3, 5));
  tq_tensor *xs = scalar_f(1), *xzp = scalar_t(TQ_DTYPE_UINT8, 1);
  tq_tensor *ys = scalar_f(0.5f), *yzp = scalar_t(TQ_DTYPE_UINT8, 0);
  const tq_tensor *gin[] = {x, xs, xzp, ys, yzp};
  tq_tensor *g = run1("QLinearGlobalAveragePool", 1, gin, 5, NULL, 0);
  check_shape(g, 4, D4(1, 1, 1, 1));
  check_t(g, TQ_DTYPE_UINT8, V(4), 1);
  /* QLinearConcat into (0.5, 0): x requantized (x - 1) * 1 / 0.5, and a
   * second input already on the output grid copied */
  tq_tensor *x2 = tt(TQ_DTYPE_UINT8, 4, D4(1, 1, 2, 1), V(7, 9));
  const tq_tensor *cin[] = {ys, yzp, x, xs, xzp, x2, ys, yzp};
  tq_attr_store ax = a_int("axis", 3);
  tq_tensor *cc = run1("QLinearConcat", 1, cin, 8, &ax, 1);
  check_shape(cc, 4, D4(1, 1, 2, 3));
  check_t(cc, TQ_DTYPE_UINT8, V(0, 2, 7, 4, 8, 9), 6);
  /* MaxPool on uint8 */
  tq_attr_store k = a_ints("kernel_shape", (const int64_t[]){2, 2}, 2);
  const tq_tensor *min[] = {x};
  tq_tensor *mp = run1("MaxPool", 13, min, 1, &k, 1);
  check_t(mp, TQ_DTYPE_UINT8, V(5), 1);
  tq_tensor *all[] = {a,  b,   as, bs,  cs, zp, y,  x,
                      xs, xzp, ys, yzp, g,  x2, cc, mp};
  destroy_all(all, COUNT(all));
}

static void test_int32_bias(void **state) {
  (void)state;
  /* ONNX Runtime's rule (values from NumPy): scale fl(0.5 * 0.1) = 0.05;
   * 1 / 0.05 -> 20, -2.5 -> -50, 1e10 saturates at 2^31 - 1 (float32
   * 2^31, * 0.05 = 107374184), 0.026 -> 1 step (0.0500000007); a second
   * channel's kernel scale 0.3: -2.5 / fl(0.15) -> -17 steps */
  const float b[] = {1.0f, -2.5f, 1e10f, 0.026f};
  const float ws1[] = {0.1f};
  float out[4];
  tq_int32_bias(b, 4, 0.5f, ws1, 1, out);
  const float want[] = {1.0f, -2.5f, 107374184.0f, 0.05000000074505806f};
  for (int i = 0; i < 4; i++) assert_true(out[i] == want[i]);
  const float b2[] = {1.0f, -2.5f}, ws2[] = {0.1f, 0.3f};
  tq_int32_bias(b2, 2, 0.5f, ws2, 2, out);
  assert_true(out[0] == 1.0f);
  assert_true(out[1] == -2.5500001907348633f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quantize_int8),
      cmocka_unit_test(test_quantize_per_axis_uint8),
      cmocka_unit_test(test_quantize_blocked_int4),
      cmocka_unit_test(test_quantize_float8),
      cmocka_unit_test(test_dequantize_axis_int32),
      cmocka_unit_test(test_dynamic_quantize),
      cmocka_unit_test(test_matmul),
      cmocka_unit_test(test_conv),
      cmocka_unit_test(test_ms_elementwise),
      cmocka_unit_test(test_int32_bias),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
