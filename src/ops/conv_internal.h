/* Internal: what Conv/ConvTranspose forward (conv.c), their float
 * implementations (conv_impl_internal.h) and backward (conv_backward.c)
 * share: the geometry, the im2col/col2im pair and small helpers. */
#ifndef TQ_OPS_CONV_INTERNAL_H
#define TQ_OPS_CONV_INTERNAL_H

#include "ops/nn_internal.h"

/* The attributes of a Conv or ConvTranspose node. */
typedef struct conv_params {
  tq_nn_window_attrs win;
  int64_t group;
  tq_nn_ints output_padding, output_shape; /* ConvTranspose */
} conv_params;

typedef struct conv_geom {
  tq_nn_window w;
  int64_t N, C, M, G, Cg, Mg; /* batch, in/out channels, groups, per group */
  int64_t kvol, K;            /* kernel volume, K = Cg * kvol */
  int64_t Pin, P;             /* input and output positions per channel */
  int relu; /* float forward: Relu on the outputs as they are computed */
} conv_geom;

/* Parses a Conv or ConvTranspose node's attributes into a conv_params
 * (the window, group; ConvTranspose's output_padding and output_shape);
 * also QLinearConv and ConvInteger's. */
tq_status tq_conv_parse(const tq_op_parse *p, void *params);

/* Checks a Conv (ConvTranspose) node's inputs against its params and
 * derives the geometry. */
tq_status tq_conv_prepare(tq_op_call *c, conv_geom *g);
tq_status tq_convt_prepare(tq_op_call *c, conv_geom *g);

/* im2col of input channels [c0, c1) (x: the first channel of the group)
 * for output rows [r0, r1) (one row: a (depth, height) output pair, OW
 * positions); col row (channel - c0) * kvol + tap holds ld floats. Uses
 * w.in, w.out, kernel, stride, dil, pad_lo and Pin. */
void tq_conv_im2col_rows(const conv_geom *g, const float *x, int64_t c0,
                         int64_t c1, int64_t r0, int64_t r1, float *col,
                         int64_t ld);

/* The adjoint scatter: sets the Mg planes of y (P positions each) to bias
 * (or 0), then adds col (rows: channel, tap; Pin columns, row stride ld)
 * where input
 * position p and tap t land on p * stride - pad + t * dilation. Threads
 * over channels (each writes its own plane). */
void tq_conv_col2im(const conv_geom *g, const float *col, int64_t ld,
                    float *y, const float *bias, int threads);

/* Output positions [lo, hi) along one axis whose input position
 * o * stride + off lies inside [0, in). Inline: called per row and tap. */
static inline void tq_conv_valid_range(int64_t off, int64_t stride, int64_t in,
                                       int64_t out, int64_t *lo, int64_t *hi) {
  int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t b = in - off <= 0 ? 0 : (in - off + stride - 1) / stride;
  if (a > out) a = out;
  if (b > out) b = out;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

/* Sets rows [0, M) x [0, n) of y (row stride ld) to bias[m], or 0. */
static inline void tq_conv_fill_bias(float *y, int64_t M, int64_t n, int64_t ld,
                                     const float *bias) {
  for (int64_t m = 0; m < M; m++) {
    float *row = y + m * ld;
    const float v = bias ? bias[m] : 0.0f;
    for (int64_t i = 0; i < n; i++) row[i] = v;
  }
}

/* 1x1 kernel, unit strides, no padding: the input rows of an image are
 * its im2col matrix. */
static inline int tq_conv_is_pointwise(const tq_nn_window *w) {
  for (int d = 0; d < TQ_NN_MAX_SPATIAL; d++)
    if (w->kernel[d] != 1 || w->stride[d] != 1 || w->pad_lo[d] != 0 ||
        w->pad_hi[d] != 0)
      return 0;
  return 1;
}

/* Backward (conv_backward.c; tq_op_backward_fn). */
tq_status tq_conv_backward(tq_op_call *c, const tq_tensor *const *gout,
                           tq_tensor **gin);
tq_status tq_convt_backward(tq_op_call *c, const tq_tensor *const *gout,
                            tq_tensor **gin);

#endif
