/* The ternary threshold's reduction: the AVX2 version computes the same
 * double, bit for bit, as the documented scalar order. */
#include <math.h>
#include <stdlib.h>

#include "quant/quant_internal.h"
#include "testutil.h"

static void test_abs_sum_matches_reference(void **state) {
  (void)state;
  if (tq_isa_detect() < TQ_ISA_AVX2) skip(); /* no AVX2 to compare */
  uint64_t rng = 11;
  size_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 1000, 16383, 16384};
  float *x = malloc(16384 * sizeof *x);
  assert_non_null(x);
  for (int round = 0; round < 20; round++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      size_t n = sizes[s];
      for (size_t i = 0; i < n; i++) {
        uint64_t r = tq_test_rand(&rng);
        /* Wide dynamic range makes the order visible in the last bits. */
        x[i] = ldexpf((float)(int32_t)(r >> 32) * 0x1p-31f, (int)(r % 60) - 30);
        if (r % 97 == 0) x[i] = NAN;
        if (r % 89 == 0) x[i] = -0.0f;
      }
      double s_ref, s_avx;
      size_t c_ref, c_avx;
      tq_ref_abs_sum(x, n, &s_ref, &c_ref);
      tq_avx2_abs_sum(x, n, &s_avx, &c_avx);
      assert_memory_equal(&s_ref, &s_avx, sizeof s_ref);
      assert_int_equal(c_ref, c_avx);
      /* And it is really a sum of |x|: close to a long double sum. */
      long double check = 0;
      size_t k = 0;
      for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) check += fabsl((long double)x[i]), k++;
      assert_int_equal(k, c_ref);
      assert_true(fabsl(check - s_ref) <= 1e-12L * (check + 1e-30L));
    }
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_abs_sum_matches_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
