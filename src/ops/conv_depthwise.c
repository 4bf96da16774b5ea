/* Float Conv with one input channel per group and few outputs per group
 * (depthwise): no GEMM is worth its packing, so each output plane is
 * accumulated tap by tap along output rows (vectorizes over the row). */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/conv_impl_internal.h"

/* At most this many outputs per group: beyond, a GEMM over the taps pays. */
#define DEPTHWISE_MAX_OUT 4

static int depthwise_applies(const conv_geom *g, const tq_context *ctx,
                             const char **why) {
  (void)ctx;
  if (g->Cg != 1) {
    *why = "needs one input channel per group";
    return 0;
  }
  if (g->Mg > DEPTHWISE_MAX_OUT) {
    *why = "needs at most 4 output channels per group";
    return 0;
  }
  return 1;
}

static tq_status depthwise_run(tq_op_call *c, const conv_geom *g,
                               const void *arg, const void *state,
                               const float *x, const float *wt, const float *b,
                               float *y) {
  (void)arg, (void)state;
  const tq_nn_window *w = &g->w;
  const int64_t OD = w->out[0], OH = w->out[1], OW = w->out[2];
  const int64_t ID = w->in[0], IH = w->in[1], IW = w->in[2];
  const int64_t sw = w->stride[2];
  const int64_t items = g->N * g->M;
  int nt = tq_nn_threads(c);
  if (nt > items) nt = (int)(items > 0 ? items : 1);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t it = 0; it < items; it++) {
    const int64_t n = it / g->M, oc = it % g->M, gi = oc / g->Mg;
    const float *xp = x + (n * g->C + gi) * g->Pin;
    const float *wk = wt + oc * g->kvol;
    float *yp = y + it * g->P;
    tq_conv_fill_bias(yp, 1, g->P, g->P, b ? b + oc : NULL);
    for (int64_t od = 0; od < OD; od++) {
      for (int64_t oh = 0; oh < OH; oh++) {
        float *yr = yp + (od * OH + oh) * OW;
        for (int64_t i = 0; i < w->kernel[0]; i++) {
          const int64_t id = od * w->stride[0] - w->pad_lo[0] + i * w->dil[0];
          if (id < 0 || id >= ID) continue;
          for (int64_t j = 0; j < w->kernel[1]; j++) {
            const int64_t ih = oh * w->stride[1] - w->pad_lo[1] + j * w->dil[1];
            if (ih < 0 || ih >= IH) continue;
            const float *xr = xp + (id * IH + ih) * IW;
            const float *wr = wk + (i * w->kernel[1] + j) * w->kernel[2];
            for (int64_t l = 0; l < w->kernel[2]; l++) {
              const int64_t off = l * w->dil[2] - w->pad_lo[2];
              int64_t lo, hi;
              tq_conv_valid_range(off, sw, IW, OW, &lo, &hi);
              const float wv = wr[l];
              if (sw == 1) {
                for (int64_t o = lo; o < hi; o++) yr[o] += wv * xr[o + off];
              } else {
                for (int64_t o = lo; o < hi; o++)
                  yr[o] += wv * xr[o * sw + off];
              }
            }
          }
        }
      }
    }
    if (g->relu) tq_relu_row(yp, g->P);
  }
  return TQ_OK;
}

const tq_conv_impl tq_conv_impl_depthwise = {
    .name = "depthwise",
    .op = TQ_OP_CONV,
    .applies = depthwise_applies,
    .run = depthwise_run,
};
