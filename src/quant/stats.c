/* Error statistics of a quantization: SQNR, errors, saturation, sparsity,
 * distinct values. Sums are taken in fixed chunks and combined in chunk
 * order, so the figures do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "quant/quant_internal.h"

typedef struct partial {
  double signal, noise, abs_err_sum, max_abs_err;
  size_t nan_count, finite_count, saturated, zeros;
} partial;

static void chunk_stats(const tq_quantizer *q, const float *in,
                        const float *out, size_t n, partial *s) {
  memset(s, 0, sizeof *s);
  for (size_t i = 0; i < n; i++) {
    double x = in[i], y = out[i];
    if (y == 0.0) s->zeros++;
    if (isnan(x)) {
      s->nan_count++;
      continue;
    }
    if (x < q->range_lo || x > q->range_hi) s->saturated++;
    if (!isfinite(x)) continue;
    s->finite_count++;
    double e = isfinite(y) ? fabs(x - y) : INFINITY;
    s->signal += x * x;
    s->noise += e * e;
    s->abs_err_sum += e;
    if (e > s->max_abs_err || isnan(e)) s->max_abs_err = e;
  }
}

/* Key for counting distinct values: +0 and -0 one value, all NaNs one. */
static uint32_t value_key(float v) {
  if (isnan(v)) return 0x7fc00000u;
  if (v == 0.0f) v = 0.0f;
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

/* LSD radix sort of 32-bit keys, 8 bits a pass. */
static void radix_sort(uint32_t *a, uint32_t *tmp, size_t n) {
  for (int shift = 0; shift < 32; shift += 8) {
    size_t count[257] = {0};
    for (size_t i = 0; i < n; i++) count[((a[i] >> shift) & 255) + 1]++;
    for (int b = 0; b < 256; b++) count[b + 1] += count[b];
    for (size_t i = 0; i < n; i++) tmp[count[(a[i] >> shift) & 255]++] = a[i];
    uint32_t *t = a;
    a = tmp;
    tmp = t;
  }
  /* Four passes: the result is back in the caller's array. */
}

static tq_status count_distinct(tq_context *ctx, const float *out, size_t n,
                                size_t *distinct) {
  *distinct = 0;
  if (n == 0) return TQ_OK;
  uint32_t *keys = malloc(n * sizeof *keys);
  uint32_t *tmp = malloc(n * sizeof *tmp);
  if (!keys || !tmp) {
    free(keys);
    free(tmp);
    return tq_error_nomem(ctx);
  }
  for (size_t i = 0; i < n; i++) keys[i] = value_key(out[i]);
  radix_sort(keys, tmp, n);
  size_t d = 1;
  for (size_t i = 1; i < n; i++) d += keys[i] != keys[i - 1];
  *distinct = d;
  free(keys);
  free(tmp);
  return TQ_OK;
}

tq_status tq_compute_stats(tq_context *ctx, const tq_quantizer *q,
                           const float *in, const float *out, size_t n,
                           tq_quant_stats *stats) {
  if (!q || !stats || (n && (!in || !out)))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_compute_stats: NULL argument");
  memset(stats, 0, sizeof *stats);
  size_t chunks = tq_chunk_count(n);
  partial *parts = chunks ? calloc(chunks, sizeof *parts) : NULL;
  if (chunks && !parts) return tq_error_nomem(ctx);
  int threads = tq_context_threads(ctx);
#pragma omp parallel for schedule(static) num_threads(threads) if (chunks > 1)
  for (size_t c = 0; c < chunks; c++) {
    size_t first = c * TQ_CHUNK_ELEMS;
    size_t len = n - first < TQ_CHUNK_ELEMS ? n - first : TQ_CHUNK_ELEMS;
    chunk_stats(q, in + first, out + first, len, &parts[c]);
  }
  partial t = {0};
  for (size_t c = 0; c < chunks; c++) {
    t.signal += parts[c].signal;
    t.noise += parts[c].noise;
    t.abs_err_sum += parts[c].abs_err_sum;
    if (parts[c].max_abs_err > t.max_abs_err || isnan(parts[c].max_abs_err))
      t.max_abs_err = parts[c].max_abs_err;
    t.nan_count += parts[c].nan_count;
    t.finite_count += parts[c].finite_count;
    t.saturated += parts[c].saturated;
    t.zeros += parts[c].zeros;
  }
  free(parts);
  stats->count = n;
  stats->nan_count = t.nan_count;
  stats->max_abs_error = t.max_abs_err;
  stats->mean_abs_error =
      t.finite_count ? t.abs_err_sum / (double)t.finite_count : 0.0;
  /* +inf: exact; -inf: infinite error (a finite input became inf/NaN). */
  if (t.noise == 0.0)
    stats->sqnr_db = INFINITY;
  else if (isinf(t.noise) || t.signal == 0.0)
    stats->sqnr_db = -INFINITY;
  else
    stats->sqnr_db = 10.0 * log10(t.signal / t.noise);
  stats->frac_saturated = n ? (double)t.saturated / (double)n : 0.0;
  stats->frac_zero = n ? (double)t.zeros / (double)n : 0.0;
  return count_distinct(ctx, out, n, &stats->distinct_values);
}

tq_status tq_quantize_stats(tq_context *ctx, const tq_quantizer *q,
                            const float *in, float *out, size_t n,
                            const tq_quant_opts *opts, tq_quant_stats *stats) {
  if (in == out && n)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantize_stats: in and out must be different buffers");
  tq_status st = tq_quantize(ctx, q, in, out, n, opts);
  if (st != TQ_OK) return st;
  return tq_compute_stats(ctx, q, in, out, n, stats);
}
