/* Internal: what Conv/ConvTranspose forward (conv.c) and backward
 * (conv_backward.c) share: the geometry and the im2col/col2im pair. */
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

/* Winograd F(4x4, 3x3) or F(2x2, 3x3) for float Conv 3x3, stride 1, one
 * group (conv_winograd.c): whether g qualifies, and the convolution. */
int tq_conv_winograd_applies(const conv_geom *g);
tq_status tq_conv_winograd(tq_op_call *c, const conv_geom *g, const float *x,
                           const float *wt, const float *b, float *y);

/* Backward (conv_backward.c; tq_op_backward_fn). */
tq_status tq_conv_backward(tq_op_call *c, const tq_tensor *const *gout,
                           tq_tensor **gin);
tq_status tq_convt_backward(tq_op_call *c, const tq_tensor *const *gout,
                            tq_tensor **gin);

#endif
