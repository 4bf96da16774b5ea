#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

uint64_t tq_test_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

char *tq_test_tmp_path(const char *name) {
  size_t len = strlen(TQ_TEST_TMP_DIR) + strlen(name) + 2;
  char *p = malloc(len);
  if (p) snprintf(p, len, "%s/%s", TQ_TEST_TMP_DIR, name);
  return p;
}
