/* Shared helpers for the unit tests. */
#ifndef TQ_TESTUTIL_H
#define TQ_TESTUTIL_H

#include <stdint.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tensorquant/tensorquant.h"

static inline uint32_t tq_test_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
}
static inline float tq_test_float(uint32_t u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}

/* SplitMix64: a small deterministic generator for test inputs. */
uint64_t tq_test_rand(uint64_t *state);

/* A path under the test build directory: returns a static buffer-free copy
 * the caller frees. */
char *tq_test_tmp_path(const char *name);

#endif
