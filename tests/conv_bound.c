/* Error bounds of the float convolutions (conv_bound.h).
 *
 * The model: every float operation rounds once, fl(a op b) = (a op b)(1 +
 * d), |d| <= u = 2^-24; multiplying by a power of two (2, 4, 8, 0.5) is
 * exact. An output computed from elementary terms t (bias, products of a
 * weight or transformed weight and an input) through a chain of at most n
 * roundings per term is then sum t (1 + theta_t) with |theta_t| <= gamma_n,
 * so |y - y_exact| <= gamma_n sum |t| - whatever the order of the sums,
 * the blocking of the GEMM or FMA, which only removes roundings. The
 * double-precision reference adds at most gamma_{K+1} of double (about
 * (K + 1) 2^-53) times the same sum, which one more rounding of float
 * covers.
 *
 * Direct sums (im2col, pointwise, depthwise): the K products and the bias
 * of an output, each term through its product and at most K additions:
 * n = K + 1, and gamma_{K+1} plus the reference's error is below
 * (K + 2) u while (K + 2)^2 u < 1. The tests keep their former floor of
 * 2e-5 (335 u) for small K.
 *
 * F(2x2, 3x3) reads only the output's own 3x3 window (A^T takes rows and
 * columns 0-2 of the transformed tile for output 0, 1-3 for output 1, and
 * B^T's rows mix only those), so the direct rule fits it in practice, but
 * it is no bound: products of mismatched weights and inputs cancel only in
 * exact arithmetic, so where an output's own terms cancel, its error can
 * exceed the rule. The tests allow the larger of the direct rule and the
 * Winograd bound below, which is one.
 *
 * Winograd F(m x m, 3x3), y = A^T [sum_c (G g_c G^T) * (B^T d_c B)] A + b:
 * expanding every matrix product, y is a sum of elementary terms (a
 * product of constants of A, G and B, one weight and one input, or the
 * bias), and the sum of their absolute values is S_abs = |A^T| [sum_c
 * (|G| |g_c| |G^T|) * (|B^T| |d_c| |B|)] |A| + |b|, the same computation
 * on absolute values (it is at least the direct sum of |terms|: the terms
 * that cancel in exact arithmetic only add to it). Counted in the library's
 * code (conv_winograd_f2.c, conv_winograd_f4.c), the roundings on any
 * term's path:
 *
 *   F(4x4): U = G g G^T in double, rounded to float once: 1, plus 1 for
 *     the double-precision stage (its roundings, and 1/6 and 1/12 rounded
 *     to double, stay below 10 x 2^-53 < u); V = B^T d B by bt_combine
 *     twice, each output at most 3 deep (o0 = (4 d0 - 5 d2) + d4: the
 *     product by 5, the difference, the sum; o1 = (d4 + d3) - 4 (d1 + d2):
 *     2): 6; the product U V and the sum over C channels: C; A^T M A by
 *     at_combine twice, at most 3 deep each (o0 = (q0 + (q1 + q2)) + (q3 +
 *     q4), o3 = ((q1 - q2) + 8 (q3 - q4)) + q5): 6; the bias: 1.
 *     n = C + 15.
 *   F(2x2): U = G g G^T in float, each stage 0.5 (a + b + c): 4; V: one
 *     difference per stage: 2; C; A^T M A: t = q0 + q4 + q8, then t0 + t1
 *     + t2 + bias: 5. n = C + 11.
 *
 * plus 1 for the reference's own error (and for this bound's, computed
 * in double too). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv_bound.h"

double tq_test_gamma(double n) {
  return n * TQ_TEST_U / (1.0 - n * TQ_TEST_U);
}

double tq_test_direct_tol(int64_t K, double abs_sum) {
  const double rel = (double)(K + 2) * TQ_TEST_U;
  return (rel > 2e-5 ? rel : 2e-5) * abs_sum;
}

double tq_test_winograd_depth(int m, int64_t C) {
  return (double)C + (m == 4 ? 15.0 : 11.0) + 1.0;
}

void tq_test_conv3_ref(const tq_test_conv3 *cv, const float *x, const float *w,
                       const float *b, double *y, double *abs_sum) {
  const int64_t P = cv->OH * cv->OW;
  for (int64_t n = 0; n < cv->N; n++)
    for (int64_t k = 0; k < cv->M; k++)
      for (int64_t o = 0; o < P; o++) {
        const int64_t oy = o / cv->OW, ox = o % cv->OW;
        double s = b ? b[k] : 0.0, a = fabs(s);
        for (int64_t c = 0; c < cv->C; c++)
          for (int64_t t = 0; t < 9; t++) {
            const int64_t iy = oy - cv->pad_top + t / 3;
            const int64_t ix = ox - cv->pad_left + t % 3;
            if (iy < 0 || iy >= cv->H || ix < 0 || ix >= cv->W) continue;
            const double p = (double)w[(k * cv->C + c) * 9 + t] *
                             x[((n * cv->C + c) * cv->H + iy) * cv->W + ix];
            s += p;
            a += fabs(p);
          }
        y[(n * cv->M + k) * P + o] = s;
        abs_sum[(n * cv->M + k) * P + o] = a;
      }
}

/* The transforms of each kind, exactly (winograd_internal.h). */
static const double BT2[4][4] = {
    {1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double G2[4][3] = {
    {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double AT2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const double BT4[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                 {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                 {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double G4[6][3] = {{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
static const double AT4[4][6] = {{1, 1, 1, 1, 1, 0},
                                 {0, 1, -1, 2, -2, 0},
                                 {0, 1, 1, 4, 4, 0},
                                 {0, 1, -1, 8, -8, 1}};

/* out (p x q) = |L| (p x r) |X| (r x s) |R|^T, R given as q x s rows. */
static void abs_sandwich(const double *L, int p, int r, const double *X, int s,
                         const double *R, int q, double *out) {
  double t[6 * 6];
  for (int i = 0; i < p; i++)
    for (int j = 0; j < s; j++) {
      double v = 0.0;
      for (int a = 0; a < r; a++) v += fabs(L[i * r + a]) * fabs(X[a * s + j]);
      t[i * s + j] = v;
    }
  for (int i = 0; i < p; i++)
    for (int j = 0; j < q; j++) {
      double v = 0.0;
      for (int b = 0; b < s; b++) v += t[i * s + b] * fabs(R[j * s + b]);
      out[i * q + j] = v;
    }
}

void tq_test_winograd_tol(const tq_test_conv3 *cv, int m, const float *x,
                          const float *w, const float *b, double *tol) {
  const int r = m + 2;
  const double *BT = m == 4 ? BT4[0] : BT2[0], *G = m == 4 ? G4[0] : G2[0];
  const double *AT = m == 4 ? AT4[0] : AT2[0];
  const int64_t C = cv->C, M = cv->M, P = cv->OH * cv->OW;
  const double gamma = tq_test_gamma(tq_test_winograd_depth(m, C));
  /* |G| |g| |G^T| of every kernel, and |B^T| |d| |B| of one tile */
  double *ua = malloc((size_t)(M * C * r * r) * sizeof *ua);
  double *va = malloc((size_t)(C * r * r) * sizeof *va);
  if (!ua || !va) abort();
  for (int64_t kc = 0; kc < M * C; kc++) {
    double g[9];
    for (int t = 0; t < 9; t++) g[t] = w[kc * 9 + t];
    abs_sandwich(G, r, 3, g, 3, G, r, ua + kc * r * r);
  }
  for (int64_t n = 0; n < cv->N; n++)
    for (int64_t ty = 0; ty * m < cv->OH; ty++)
      for (int64_t tx = 0; tx * m < cv->OW; tx++) {
        for (int64_t c = 0; c < C; c++) {
          double d[6 * 6];
          for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
              const int64_t iy = ty * m - cv->pad_top + i;
              const int64_t ix = tx * m - cv->pad_left + j;
              d[i * r + j] = iy < 0 || iy >= cv->H || ix < 0 || ix >= cv->W
                                 ? 0.0
                                 : x[((n * C + c) * cv->H + iy) * cv->W + ix];
            }
          abs_sandwich(BT, r, r, d, r, BT, r, va + c * r * r);
        }
        for (int64_t k = 0; k < M; k++) {
          double acc[6 * 6] = {0}, y[4 * 4];
          for (int64_t c = 0; c < C; c++)
            for (int e = 0; e < r * r; e++)
              acc[e] += ua[(k * C + c) * r * r + e] * va[c * r * r + e];
          abs_sandwich(AT, m, r, acc, r, AT, m, y);
          const double bias = b ? fabs((double)b[k]) : 0.0;
          for (int i = 0; i < m && ty * m + i < cv->OH; i++)
            for (int j = 0; j < m && tx * m + j < cv->OW; j++)
              tol[(n * M + k) * P + (ty * m + i) * cv->OW + tx * m + j] =
                  gamma * (y[i * m + j] + bias);
        }
      }
  free(ua);
  free(va);
}

void tq_test_conv_tol(const char *impl, const tq_test_conv3 *cv, const float *x,
                      const float *w, const float *b, int64_t K,
                      const double *abs_sum, int64_t total, double *tol) {
  for (int64_t e = 0; e < total; e++)
    tol[e] = tq_test_direct_tol(K, abs_sum[e]);
  const int m = !strcmp(impl, "winograd4")   ? 4
                : !strcmp(impl, "winograd2") ? 2
                                             : 0;
  if (!m) return;
  double *wt = malloc((size_t)total * sizeof *wt);
  if (!wt) abort();
  tq_test_winograd_tol(cv, m, x, w, b, wt);
  for (int64_t e = 0; e < total; e++)
    if (m == 4 || wt[e] > tol[e]) tol[e] = wt[e];
  free(wt);
}
