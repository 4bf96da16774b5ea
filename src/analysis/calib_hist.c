/* The calibration methods on one layer's values (docs/analysis.md,
 * "Calibration"): exact extremes, then a histogram binned as numpy bins
 * float32 data, and the rule of each method on it. */
#include "analysis/calib_hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void tq_calib_hist_scan(tq_calib_hist *h, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    if (isnan(v)) continue;
    const float a = fabsf(v);
    if (h->count == 0) {
      h->min = h->max = v;
      h->amin = h->amax = a;
    } else {
      h->min = v < h->min ? v : h->min;
      h->max = v > h->max ? v : h->max;
      h->amin = a < h->amin ? a : h->amin;
      h->amax = a > h->amax ? a : h->amax;
    }
    h->count++;
  }
}

int tq_calib_hist_start(tq_calib_hist *h, tq_calib_method method, int bins) {
  h->bins = bins;
  h->absolute = method == TQ_CALIB_PERCENTILE;
  if (method == TQ_CALIB_PERCENTILE) {
    h->first = h->amin;
    h->last = h->amax;
  } else if (method == TQ_CALIB_ENTROPY) {
    const float t =
        fabsf(h->min) > fabsf(h->max) ? fabsf(h->min) : fabsf(h->max);
    h->first = -t;
    h->last = t;
  } else {
    h->first = h->min;
    h->last = h->max;
  }
  if (h->first == h->last) { /* numpy widens an empty range */
    h->first = (float)(h->first - 0.5);
    h->last = (float)(h->last + 0.5);
  }
  h->edges = malloc(((size_t)bins + 1) * sizeof *h->edges);
  h->counts = calloc((size_t)bins, sizeof *h->counts);
  if (!h->edges || !h->counts) return 0;
  /* np.linspace in float64, cast to the data's float32 */
  const double first = h->first, step = ((double)h->last - first) / bins;
  for (int k = 0; k < bins; k++) h->edges[k] = (float)(k * step + first);
  h->edges[bins] = h->last;
  return 1;
}

void tq_calib_hist_add(tq_calib_hist *h, const float *x, size_t n) {
  const int bins = h->bins;
  const float first = h->first, last = h->last, denom = last - first;
  for (size_t i = 0; i < n; i++) {
    const float v = h->absolute ? fabsf(x[i]) : x[i];
    if (!(v >= first && v <= last)) continue; /* NaN, outside */
    /* numpy's estimate in float32, then the exact bin of the float32
     * edges: e[k] <= v < e[k+1], the last bin closed */
    long k = (long)((v - first) / denom * (float)bins);
    if (k >= bins) k = bins - 1;
    if (k < 0) k = 0;
    while (k > 0 && v < h->edges[k]) k--;
    while (k < bins - 1 && v >= h->edges[k + 1]) k++;
    h->counts[k]++;
  }
}

void tq_calib_hist_free(tq_calib_hist *h) {
  free(h->edges);
  free(h->counts);
  h->edges = NULL;
  h->counts = NULL;
}

/* numpy's pairwise float32 sum (blocks of 8 partial sums up to 128). */
static float pairwise_sum(const float *a, size_t n) {
  if (n < 8) {
    float s = -0.0f;
    for (size_t i = 0; i < n; i++) s += a[i];
    return s;
  }
  if (n <= 128) {
    float r[8];
    for (int j = 0; j < 8; j++) r[j] = a[j];
    size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (int j = 0; j < 8; j++) r[j] += a[i + j];
    float s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) s += a[i];
    return s;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* ORT's smooth_distribution in float32: zeros get eps, the others lose
 * eps * zeros / nonzeros. 0 when all are zero. */
static int smooth(float *p, size_t n) {
  size_t zeros = 0;
  for (size_t i = 0; i < n; i++) zeros += p[i] == 0;
  if (zeros == n) return 0;
  const float eps = 1e-4f;
  const float eps1 = (float)(1e-4 * (double)zeros / (double)(n - zeros));
  for (size_t i = 0; i < n; i++) p[i] = p[i] + (p[i] == 0 ? eps : -eps1);
  return 1;
}

/* scipy.stats.entropy(p, q) on float32 arrays: both normalised in
 * float32, rel_entr in double rounded to float32, summed pairwise. */
static float kl_divergence(float *p, float *q, float *work, size_t n) {
  const float sp = pairwise_sum(p, n), sq = pairwise_sum(q, n);
  for (size_t i = 0; i < n; i++) {
    const double a = p[i] / sp, b = q[i] / sq;
    work[i] = a == 0 ? 0.0f : b == 0 ? INFINITY : (float)(a * log(a / b));
  }
  return pairwise_sum(work, n);
}

/* ORT's get_entropy_threshold: the candidate slices [z-i, z+i+1) of the
 * histogram, i from nq/2 to z, each compared with its nq-bin version. */
static tq_status entropy_range(tq_context *ctx, const tq_calib_hist *h, int nq,
                               double *lo, double *hi) {
  const int bins = h->bins, z = bins / 2;
  float *p = malloc((size_t)bins * 3 * sizeof *p);
  int64_t *qb = malloc((size_t)nq * sizeof *qb);
  if (!p || !qb) {
    free(p);
    free(qb);
    return tq_error_nomem(ctx);
  }
  float *q = p + bins, *work = q + bins;
  float best_kl = INFINITY;
  int best = -1;
  for (int i = nq / 2; i <= z; i++) {
    const int s = z - i, e = z + i + 1 < bins ? z + i + 1 : bins, len = e - s;
    uint64_t left = 0, right = 0;
    for (int k = 0; k < s; k++) left += h->counts[k];
    for (int k = e; k < bins; k++) right += h->counts[k];
    const int merged = len / nq;
    for (int j = 0; j < nq; j++) {
      qb[j] = 0;
      for (int k = j * merged; k < (j + 1) * merged; k++)
        qb[j] += (int64_t)h->counts[s + k];
    }
    for (int k = nq * merged; k < len; k++)
      qb[nq - 1] += (int64_t)h->counts[s + k];
    /* p: the slice with the outliers folded into its ends (int64 in ORT,
     * converted to float32 by smoothing) */
    for (int k = 0; k < len; k++) {
      uint64_t c = h->counts[s + k];
      if (k == 0) c += left;
      if (k == len - 1) c += right;
      p[k] = (float)c;
      q[k] = 0;
    }
    for (int j = 0; j < nq; j++) {
      int64_t norm = 0;
      for (int k = j * merged; k < (j + 1) * merged; k++) norm += p[k] != 0;
      if (norm)
        for (int k = j * merged; k < (j + 1) * merged; k++)
          q[k] = (float)(int64_t)((double)qb[j] / (double)norm);
    }
    float kl = INFINITY;
    if (smooth(p, (size_t)len) && smooth(q, (size_t)len))
      kl = kl_divergence(p, q, work, (size_t)len);
    if (best < 0 || kl < best_kl) {
      best_kl = kl;
      best = i;
    }
  }
  free(p);
  free(qb);
  const int s = z - best, e = z + best + 1 < bins ? z + best + 1 : bins;
  *lo = h->edges[s] < h->min ? h->min : h->edges[s];
  *hi = h->edges[e] > h->max ? h->max : h->edges[e];
  return TQ_OK;
}

/* ORT's symmetric percentile: T the left edge of the first bin of |x|
 * whose cumulative share reaches p, the range [-T, T] within the data's. */
static void percentile_range(const tq_calib_hist *h, double percentile,
                             double *lo, double *hi) {
  uint64_t total = 0;
  for (int k = 0; k < h->bins; k++) total += h->counts[k];
  const double target = percentile / 100.0;
  double cdf = 0;
  int i = 0;
  for (; i < h->bins; i++) {
    cdf += (double)h->counts[i] / (double)total;
    if (cdf >= target) break;
  }
  const float t = h->edges[i];
  *lo = -t > h->min ? -t : h->min;
  *hi = t < h->max ? t : h->max;
}

/* The range [a*min, a*max], a = k/100 for k = 100 down to 1, whose
 * static quantization of the histogram's bin centres (weighted by their
 * counts) has the least squared error; the widest of equals. */
static tq_status mse_range(tq_context *ctx, const tq_calib_hist *h,
                           const tq_quantizer *spec, double *lo, double *hi) {
  const int bins = h->bins;
  float *c = malloc((size_t)bins * 2 * sizeof *c);
  if (!c) return tq_error_nomem(ctx);
  float *y = c + bins;
  for (int k = 0; k < bins; k++)
    c[k] = (float)(0.5 * ((double)h->edges[k] + h->edges[k + 1]));
  double best_err = INFINITY;
  *lo = h->min;
  *hi = h->max;
  tq_status st = TQ_OK;
  for (int k = 100; k >= 1 && st == TQ_OK; k--) {
    tq_quant_site site = TQ_QUANT_SITE_INIT;
    site.has_range = 1;
    site.range_lo = (float)(h->min * (k / 100.0));
    site.range_hi = (float)(h->max * (k / 100.0));
    st = tq_quantize_tensor(ctx, spec, c, y, (size_t)bins, &site, NULL);
    double err = 0;
    for (int j = 0; j < bins; j++) {
      const double d = (double)c[j] - y[j];
      err += (double)h->counts[j] * d * d;
    }
    if (err < best_err) {
      best_err = err;
      *lo = site.range_lo;
      *hi = site.range_hi;
    }
  }
  free(c);
  return st;
}

tq_status tq_calib_hist_range(tq_context *ctx, const tq_calib_hist *h,
                              const tq_calib_opts *o, const tq_quantizer *spec,
                              double *lo, double *hi) {
  if (h->count == 0) {
    *lo = *hi = 0;
    return TQ_OK;
  }
  switch (o->method) {
    case TQ_CALIB_PERCENTILE:
      percentile_range(h, o->percentile, lo, hi);
      return TQ_OK;
    case TQ_CALIB_ENTROPY:
      return entropy_range(ctx, h, o->num_quantized_bins, lo, hi);
    case TQ_CALIB_MSE: return mse_range(ctx, h, spec, lo, hi);
    default:
      *lo = h->min;
      *hi = h->max;
      return TQ_OK;
  }
}
