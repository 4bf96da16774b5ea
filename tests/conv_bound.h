/* Error bounds of the float convolutions, derived from their arithmetic,
 * for tests that compare them with double-precision references (so that
 * no tolerance is tuned on one CPU: any OpenBLAS kernel set, any summation
 * order and FMA or not stay inside). The derivations are in conv_bound.c. */
#ifndef TQ_TESTS_CONV_BOUND_H
#define TQ_TESTS_CONV_BOUND_H

#include <stdint.h>

/* The unit roundoff of float32: 2^-24. */
#define TQ_TEST_U 0x1p-24

/* gamma_n = n u / (1 - n u) (Higham, Accuracy and Stability of Numerical
 * Algorithms, Lemma 3.1): a product of n factors (1 + d_i), |d_i| <= u,
 * lies within 1 +- gamma_n. */
double tq_test_gamma(double n);

/* An output computed as its bias plus its K products, in any order
 * (im2col, pointwise, depthwise; Winograd F(2x2, 3x3) too, see the .c):
 * the allowed |y - y_ref|, abs_sum = |bias| + sum of |products|. */
double tq_test_direct_tol(int64_t K, double abs_sum);

/* A 2-D Conv with a 3x3 kernel, stride 1, no dilation, one group: the
 * convolutions Winograd computes. */
typedef struct tq_test_conv3 {
  int64_t N, C, M;           /* batch, input and output channels */
  int64_t H, W;              /* input size */
  int64_t pad_top, pad_left; /* the other pads follow from OH, OW */
  int64_t OH, OW;            /* output size */
} tq_test_conv3;

/* y (N x M x OH x OW) = the convolution in double, and abs_sum = |bias| +
 * the sum of the |products| of each output. b may be NULL. */
void tq_test_conv3_ref(const tq_test_conv3 *cv, const float *x, const float *w,
                       const float *b, double *y, double *abs_sum);

/* The allowed |y - y_ref| of each output of Winograd F(m x m, 3x3), m = 2
 * or 4, tiled as the library tiles (m x m tiles from output (0, 0)):
 * gamma_n * S_abs, where S_abs is the Winograd computation with every
 * matrix and value replaced by its absolute value, plus |bias|, and n the
 * rounding depth of C input channels (tq_test_winograd_depth). */
void tq_test_winograd_tol(const tq_test_conv3 *cv, int m, const float *x,
                          const float *w, const float *b, double *tol);

/* n for F(m x m, 3x3) over C input channels. */
double tq_test_winograd_depth(int m, int64_t C);

/* The allowed |y - y_ref| of each of the total outputs as the Conv
 * implementation impl (tq_session_node_impl's name) computes them: the
 * direct rule for K products per output and abs_sum, for "winograd4" its
 * bound, for "winograd2" the larger of the two (conv_bound.c). cv (2-D 3x3
 * stride 1), x, w and b are read for Winograd only. */
void tq_test_conv_tol(const char *impl, const tq_test_conv3 *cv, const float *x,
                      const float *w, const float *b, int64_t K,
                      const double *abs_sum, int64_t total, double *tol);

#endif
