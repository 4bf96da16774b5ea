/* libFuzzer target: spec lists with brace ranges (tq_spec_list_expand) and
 * `auto` resolution of every expanded spec. Invariants: success gives at
 * least one spec, each shorter than the limit and free of braces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tensorquant/tensorquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *list = malloc(size + 1);
  if (!list) return 0;
  memcpy(list, data, size);
  list[size] = '\0';
  tq_context *ctx;
  if (tq_context_create(&ctx) != TQ_OK) {
    free(list);
    return 0;
  }
  char **specs = NULL;
  size_t n = 0;
  if (tq_spec_list_expand(ctx, list, &specs, &n) == TQ_OK) {
    if (n == 0 || !specs) abort();
    for (size_t i = 0; i < n && i < 64; i++) {
      if (strchr(specs[i], '{') || strchr(specs[i], '}')) abort();
      char out[600];
      const double max_abs[] = {0.0, 1.0, 3e38, 1e-30};
      for (size_t k = 0; k < 4; k++)
        if (tq_spec_resolve_auto(ctx, specs[i], max_abs[k], out, sizeof out) ==
                TQ_OK &&
            tq_spec_has_auto(out))
          abort();
    }
    tq_spec_list_free(specs, n);
  } else if (specs) {
    abort();
  }
  tq_context_destroy(ctx);
  free(list);
  return 0;
}
