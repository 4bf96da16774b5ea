/* Internal: the histograms and range rules of the calibration methods,
 * written to reproduce ONNX Runtime's calibrators (numpy's histogram
 * binning in float32, its cumulative sums, scipy's entropy). */
#ifndef TQ_ANALYSIS_CALIB_HIST_H
#define TQ_ANALYSIS_CALIB_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "tensorquant/calibrate.h"

/* One layer's statistics: pass 1 fills the exact ones, pass 2 the
 * histogram over [first, last] (of |x| when `absolute`). */
typedef struct tq_calib_hist {
  float min, max, amin, amax; /* of x and of |x|, NaN left out */
  size_t count;               /* finite or infinite values seen */
  int absolute;               /* histogram of |x| (percentile) */
  float first, last;          /* the histogram's range */
  int bins;
  float *edges;     /* bins + 1, float32 as numpy's linspace gives them */
  uint64_t *counts; /* bins */
} tq_calib_hist;

/* Pass 1 over n values. */
void tq_calib_hist_scan(tq_calib_hist *h, const float *x, size_t n);

/* After pass 1: the histogram's range for method, and its edges. */
int tq_calib_hist_start(tq_calib_hist *h, tq_calib_method method, int bins);

/* Pass 2 over n values. */
void tq_calib_hist_add(tq_calib_hist *h, const float *x, size_t n);

void tq_calib_hist_free(tq_calib_hist *h);

/* The range method picks from h (after both passes where it needs them). */
tq_status tq_calib_hist_range(tq_context *ctx, const tq_calib_hist *h,
                              const tq_calib_opts *o, const tq_quantizer *spec,
                              double *lo, double *hi);

#endif
