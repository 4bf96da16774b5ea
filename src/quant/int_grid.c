/* The grid of an int,B group and the int32 bias rule (int_grid.h). */
#include "quant/int_grid.h"

#include <math.h>

void tq_int_group_grid(const tq_quant_params *p, const float *v, size_t n,
                       float *s, int64_t *zp) {
  float amax = 0.0f, lo = 0.0f, hi = 0.0f;
  for (size_t i = 0; i < n; i++) {
    const float a = fabsf(v[i]);
    amax = a > amax ? a : amax;
    lo = v[i] < lo ? v[i] : lo;
    hi = v[i] > hi ? v[i] : hi;
  }
  const float levels = (float)((1 << p->width) - 1);
  *zp = 0;
  if (p->int_mode == TQ_INT_ASYM) {
    *s = (hi - lo) / levels;
    if (*s > 0.0f) {
      const float z = nearbyintf(-lo / *s);
      *zp = (int64_t)(z < 0.0f ? 0.0f : z > levels ? levels : z);
    }
  } else {
    *s = amax / (p->int_mode == TQ_INT_UNSIGNED
                     ? levels
                     : (float)((1 << (p->width - 1)) - 1));
  }
  if (!(*s > 0.0f)) *s = 1.0f;
}

void tq_int32_bias(const float *b, size_t n, float in_scale,
                   const float *w_scale, size_t n_w, float *out) {
  for (size_t c = 0; c < n; c++) {
    const float bs = in_scale * w_scale[n_w == 1 ? 0 : c];
    double q = bs > 0.0f ? nearbyint((double)b[c] / (double)bs) : 0.0;
    q = q < -2147483648.0 ? -2147483648.0 : q > 2147483647.0 ? 2147483647.0 : q;
    out[c] = (float)q * bs;
  }
}
