/* The smallest complete use of libtensorquant: parse a spec, quantize a
 * buffer, read the error statistics, handle errors.
 *
 *   cc quantize_buffer.c $(pkg-config --cflags --libs tensorquant) */
#include <math.h>
#include <stdio.h>

#include <tensorquant/tensorquant.h>

int main(void) {
  tq_context *ctx;
  if (tq_context_create(&ctx) != TQ_OK) return 1;

  float x[8] = {0.1f, -0.26f, 0.5f, 3.3f, -9.0f, 1e-3f, INFINITY, NAN};
  float y[8];

  /* 8-bit signed fixed point, 4 fractional bits, ties to even. */
  tq_quantizer *q;
  tq_status st = tq_quantizer_parse(ctx, "even,8,4", &q);
  if (st != TQ_OK) {
    fprintf(stderr, "%s\n", tq_context_last_error(ctx));
    return 1;
  }
  tq_quant_stats stats;
  st = tq_quantize_stats(ctx, q, x, y, 8, NULL, &stats);
  if (st != TQ_OK) return 1;
  printf("%s:\n", tq_quantizer_spec(q));
  for (int i = 0; i < 8; i++) printf("  %10g -> %g\n", x[i], y[i]);
  printf("SQNR %.2f dB, %zu distinct values\n", stats.sqnr_db,
         stats.distinct_values);
  /* -9 saturates to -8; 3.3 becomes 3.3125; 0.1 becomes 0.125. */
  int ok = y[4] == -8.0f && y[3] == 3.3125f && y[0] == 0.125f && isnan(y[7]);
  tq_quantizer_destroy(q);

  /* A bad spec gives a status and a message naming the problem. */
  st = tq_quantizer_parse(ctx, "nearst,8,4", &q);
  printf("bad spec -> %s: %s\n", tq_status_str(st), tq_context_last_error(ctx));
  ok = ok && st == TQ_ERR_PARSE && q == NULL;

  tq_context_destroy(ctx);
  return ok ? 0 : 1;
}
