/* libFuzzer target: arbitrary bytes through the IDX reader, plain and
 * gzipped (the reader recognises gzip by its magic, so the fuzzer reaches
 * the inflate path whenever an input starts with 1f 8b).
 *
 * Besides crashes and sanitizer reports, it checks the reader's contract:
 * on success a tensor of the requested dtype with 1 to 6 dimensions, each
 * >= 1, and as many elements as they multiply to; on failure a NULL tensor
 * and a message that names the source. Both dtypes are tried: int64 must
 * fail exactly when float32 succeeds on a float or double file. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensorquant/tensorquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t len);

static void check(tq_context *ctx, tq_status st, tq_tensor *t, tq_dtype want) {
  if (st != TQ_OK) {
    if (t || strstr(tq_context_last_error(ctx), "fuzz.idx") == NULL)
      __builtin_trap();
    return;
  }
  if (!t || tq_tensor_dtype(t) != want) __builtin_trap();
  const tq_shape *s = tq_tensor_shape(t);
  if (s->ndim < 1 || s->ndim > TQ_TENSOR_MAX_DIMS) __builtin_trap();
  size_t n = 1;
  for (int i = 0; i < s->ndim; i++) {
    if (s->dims[i] < 1) __builtin_trap();
    n *= (size_t)s->dims[i];
  }
  if (n != tq_tensor_numel(t)) __builtin_trap();
  /* Touch every element so that a short allocation shows up. */
  const unsigned char *p = tq_tensor_cdata(t);
  size_t size = n * (want == TQ_DTYPE_INT64 ? 8 : 4);
  unsigned acc = 0;
  for (size_t i = 0; i < size; i++) acc += p[i];
  volatile unsigned sink = acc;
  (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t len) {
  tq_context *ctx = NULL;
  if (tq_context_create(&ctx) != TQ_OK) return 0;
  tq_tensor *f = NULL, *q = NULL;
  tq_status sf =
      tq_idx_read_memory(ctx, bytes, len, "fuzz.idx", TQ_DTYPE_FLOAT32, &f);
  check(ctx, sf, f, TQ_DTYPE_FLOAT32);
  tq_status sq =
      tq_idx_read_memory(ctx, bytes, len, "fuzz.idx", TQ_DTYPE_INT64, &q);
  check(ctx, sq, q, TQ_DTYPE_INT64);
  /* int64 succeeds only where float32 does; it fails where float32 works
   * only for float data, with a format error. */
  if (sq == TQ_OK && sf != TQ_OK) __builtin_trap();
  if (sf == TQ_OK && sq != TQ_OK && sq != TQ_ERR_FORMAT) __builtin_trap();
  tq_tensor_destroy(f);
  tq_tensor_destroy(q);
  tq_context_destroy(ctx);
  return 0;
}
