/* libFuzzer target: arbitrary bytes through the .npy parser.
 *
 * Besides crashes and sanitizer reports, it checks the parser's contract:
 * on success a consistent shape and a non-NULL tensor, on failure a NULL
 * tensor and a message that names the source; for the float32 reader and
 * for the reader that keeps the file's dtype. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensorquant/tensorquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t len) {
  tq_context *ctx = NULL;
  if (tq_context_create(&ctx) != TQ_OK) return 0;
  float *data = NULL;
  tq_shape shape;
  tq_status st = tq_npy_parse(ctx, bytes, len, "fuzz.npy", &data, &shape);
  if (st == TQ_OK) {
    int overflow = 0;
    size_t n = tq_shape_numel(&shape, &overflow);
    if (!data || overflow || shape.ndim < 0 || shape.ndim > TQ_MAX_DIMS)
      __builtin_trap();
    /* Touch every element so that a short allocation shows up. */
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
      uint32_t u;
      memcpy(&u, &data[i], sizeof u);
      acc ^= u;
    }
    volatile uint32_t sink = acc;
    (void)sink;
  } else {
    if (data || strstr(tq_context_last_error(ctx), "fuzz.npy") == NULL)
      __builtin_trap();
  }
  tq_free(data);
  /* The same bytes into a tensor of the file's dtype: a whole tensor on
   * success, NULL and a message naming the source on failure. */
  tq_tensor *t = (tq_tensor *)&ctx;
  st = tq_npy_parse_tensor(ctx, bytes, len, "fuzz.npy", &t);
  if (st == TQ_OK) {
    const size_t bytes_n =
        tq_tensor_numel(t) * tq_dtype_size(tq_tensor_dtype(t));
    const unsigned char *p = tq_tensor_cdata(t);
    unsigned acc = 0;
    for (size_t i = 0; i < bytes_n; i++) acc ^= p[i];
    volatile unsigned sink = acc;
    (void)sink;
  } else if (t || strstr(tq_context_last_error(ctx), "fuzz.npy") == NULL) {
    __builtin_trap();
  }
  tq_tensor_destroy(t);
  tq_context_destroy(ctx);
  return 0;
}
