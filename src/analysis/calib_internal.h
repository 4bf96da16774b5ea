/* Internal: a calibration's data (include/tensorquant/calibrate.h). */
#ifndef TQ_ANALYSIS_CALIB_INTERNAL_H
#define TQ_ANALYSIS_CALIB_INTERNAL_H

#include "tensorquant/calibrate.h"

struct tq_calibration {
  char *method; /* "minmax", "percentile=99.999", ... */
  size_t samples;
  char *source; /* the file read, or "" */
  size_t n;     /* layers: */
  char **layers;
  double *lo, *hi;
};

/* An empty calibration with method text (copied) and room for n layers. */
tq_status tq_calibration_new(tq_context *ctx, const char *method, size_t n,
                             tq_calibration **out);

#endif
