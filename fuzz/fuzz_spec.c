/* libFuzzer target: the spec parser, and a parsed quantizer on a few
 * values (fast and reference kernels must agree). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tensorquant/tensorquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *spec = malloc(size + 1);
  if (!spec) return 0;
  memcpy(spec, data, size);
  spec[size] = '\0';
  tq_context *ctx;
  if (tq_context_create(&ctx) != TQ_OK) {
    free(spec);
    return 0;
  }
  tq_quantizer *q = NULL;
  if (tq_quantizer_parse(ctx, spec, &q) == TQ_OK) {
    /* The canonical form must parse back to the same quantizer. */
    tq_quantizer *q2 = NULL;
    if (tq_quantizer_parse(ctx, tq_quantizer_spec(q), &q2) != TQ_OK ||
        memcmp(tq_quantizer_params(q), tq_quantizer_params(q2),
               sizeof(tq_quant_params)) != 0)
      abort();
    tq_quantizer_destroy(q2);
    /* 64 values: whole blocks for every block format (32 and 16). */
    enum { N = 64 };
    float in[N] = {0.0f,   -0.0f,  1.0f,     -1.5f,     0.5f, 1e-40f, -1e-45f,
                   3e38f,  -3e38f, INFINITY, -INFINITY, NAN,  0.1f,   65520.0f,
                   448.0f, 465.0f, -7.75f,   123.456f,  2.5f};
    for (int i = 19; i < N; i++) in[i] = (float)(i - 40) * 0.37f;
    float fast[N], ref[N];
    tq_quant_opts o = {.seed = 1, .threads = 1};
    tq_status st_fast = tq_quantize(ctx, q, in, fast, N, &o);
    o.force_reference = 1;
    tq_status st_ref = tq_quantize(ctx, q, in, ref, N, &o);
    /* A quantizer that cannot run on a flat buffer (a format whose scale
     * needs a site) says so on both paths alike. */
    if (st_fast != st_ref) abort();
    if (st_fast == TQ_OK)
      for (int i = 0; i < N; i++)
        if (memcmp(&fast[i], &ref[i], 4) != 0 &&
            !(isnan(fast[i]) && isnan(ref[i])))
          abort();
    tq_quantizer_destroy(q);
  }
  tq_context_destroy(ctx);
  free(spec);
  return 0;
}
