/* Winograd F(2x2, 3x3) transforms (Lavin and Gray, 2015): a 2x2 output
 * tile from a 4x4 input patch costs 16 multiplications per input channel
 * instead of 36. The transforms use the constants 1 and 1/2 only, so the
 * results differ from direct summation by rounding alone.
 *
 *   B^T = [1  0 -1  0]   G = [ 1    0    0 ]   A^T = [1 1  1  0]
 *         [0  1  1  0]       [1/2  1/2  1/2]         [0 1 -1 -1]
 *         [0 -1  1  0]       [1/2 -1/2  1/2]
 *         [0  1  0 -1]       [ 0    0    1 ]
 *
 * Every tile is computed by the same operations whatever the threads. */

#include "ops/winograd_internal.h"

/* U_xi = (G g G^T)[xi] of one 3x3 kernel g: u[xi * plane]. */
static void weights_f2(const float *g, float *u, int64_t plane) {
  float t[4][3]; /* G g: rows of G times the kernel's columns */
  for (int j = 0; j < 3; j++) {
    const float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
    t[0][j] = g0;
    t[1][j] = 0.5f * (g0 + g1 + g2);
    t[2][j] = 0.5f * (g0 - g1 + g2);
    t[3][j] = g2;
  }
  for (int i = 0; i < 4; i++) {
    const float a = t[i][0], b = t[i][1], e = t[i][2];
    float *dst = u + (i * 4) * plane;
    dst[0] = a;
    dst[plane] = 0.5f * (a + b + e);
    dst[2 * plane] = 0.5f * (a - b + e);
    dst[3 * plane] = e;
  }
}

/* Per thread: the input transform's four rows of 2 TW + 2 floats and
 * their eight even/odd combinations of TW + 1, which also covers the
 * output transform's 4 (TW + 1). */
static int64_t scratch_f2(int64_t TW) {
  return 4 * (2 * TW + 2) + 8 * (TW + 1);
}

/* One tile row of the input transform: the B^T row combinations E (even
 * columns) and O (odd columns) of the four input rows, then the 4 planes
 * of V for one row a of B^T d. Plain unit-stride loops over restrict
 * pointers, which the compiler vectorizes. */
static void combine_rows(const float *restrict d0, const float *restrict d1,
                         const float *restrict d2, const float *restrict d3,
                         int64_t half, float *restrict eo) {
  const int64_t s = half; /* stride between the 8 arrays of eo */
  for (int64_t j = 0; j < half; j++) {
    const int64_t e = 2 * j, o = 2 * j + 1;
    eo[j] = d0[e] - d2[e];
    eo[s + j] = d0[o] - d2[o];
    eo[2 * s + j] = d1[e] + d2[e];
    eo[3 * s + j] = d1[o] + d2[o];
    eo[4 * s + j] = d2[e] - d1[e];
    eo[5 * s + j] = d2[o] - d1[o];
    eo[6 * s + j] = d1[e] - d3[e];
    eo[7 * s + j] = d1[o] - d3[o];
  }
}

static void v_planes(const float *restrict e, const float *restrict o,
                     int64_t len, float *restrict v0, float *restrict v1,
                     float *restrict v2, float *restrict v3) {
  for (int64_t j = 0; j < len; j++) {
    v0[j] = e[j] - e[j + 1];
    v1[j] = o[j] + e[j + 1];
    v2[j] = e[j + 1] - o[j];
    v3[j] = o[j] - o[j + 1];
  }
}

/* V_xi = (B^T d B)[xi] for the tiles of one run in one channel. Per tile
 * row, B^T combines the four input rows first (R0 = d0 - d2, R1 = d1 + d2,
 * R2 = d2 - d1, R3 = d1 - d3, zero outside the input), split into even and
 * odd columns; then each of the 16 outputs is one unit-stride loop over the
 * row's tiles, which the compiler vectorizes. */
static void input_f2(const conv_geom *g, const float *xc, const tq_wino_run *ru,
                     float *v, int64_t plane, float *scratch) {
  const int64_t TW = (g->w.out[2] + 1) / 2;
  const int64_t width = 2 * TW + 2; /* input columns a tile row touches */
  float *in = scratch, *ev = scratch + 4 * width;
  const int64_t cols = 2 * (ru->tx1 - ru->tx0) + 2;
  for (int a = 0; a < 4; a++) /* the four input rows, zero-padded */
    tq_wino_load_row(g, xc, 2 * ru->ty + a, 2 * ru->tx0, cols, in + a * width);
  const int64_t half = cols / 2; /* tiles + 1 */
  combine_rows(in, in + width, in + 2 * width, in + 3 * width, half, ev);
  for (int a = 0; a < 4; a++) {
    float *v0 = v + (a * 4) * plane;
    v_planes(ev + (2 * a) * half, ev + (2 * a + 1) * half, half - 1, v0,
             v0 + plane, v0 + 2 * plane, v0 + 3 * plane);
  }
}

/* The two output rows of A^T M A for len tiles (q: plane 0 of the tiles'
 * 16 planes, `plane` floats apart): even columns ye, odd columns yo. */
static void out_rows(const float *restrict q, int64_t plane, int64_t len,
                     float bv, float *restrict ye0, float *restrict yo0,
                     float *restrict ye1, float *restrict yo1) {
  const float
      *restrict q0 = q,
                *restrict q1 = q + plane, *restrict q2 = q + 2 * plane,
                *restrict q3 = q + 3 * plane, *restrict q4 = q + 4 * plane,
                *restrict q5 = q + 5 * plane, *restrict q6 = q + 6 * plane,
                *restrict q7 = q + 7 * plane, *restrict q8 = q + 8 * plane,
                *restrict q9 = q + 9 * plane, *restrict q10 = q + 10 * plane,
                *restrict q11 = q + 11 * plane, *restrict q12 = q + 12 * plane,
                *restrict q13 = q + 13 * plane, *restrict q14 = q + 14 * plane,
                *restrict q15 = q + 15 * plane;
  for (int64_t j = 0; j < len; j++) {
    /* rows of A^T q: t0 = q0 + q1 + q2, t1 = q1 - q2 - q3 (4x4 rows) */
    const float t00 = q0[j] + q4[j] + q8[j], t01 = q1[j] + q5[j] + q9[j];
    const float t02 = q2[j] + q6[j] + q10[j], t03 = q3[j] + q7[j] + q11[j];
    const float t10 = q4[j] - q8[j] - q12[j], t11 = q5[j] - q9[j] - q13[j];
    const float t12 = q6[j] - q10[j] - q14[j], t13 = q7[j] - q11[j] - q15[j];
    ye0[j] = t00 + t01 + t02 + bv;
    yo0[j] = t01 - t02 - t03 + bv;
    ye1[j] = t10 + t11 + t12 + bv;
    yo1[j] = t11 - t12 - t13 + bv;
  }
}

/* The output tiles A^T M A + bias of one run in one output channel: the
 * two output rows' even and odd columns in unit-stride loops over the
 * tiles (vectorized), then interleaved into the rows. */
static void output_f2(const conv_geom *g, const float *q, int64_t plane,
                      const tq_wino_run *ru, float bv, float *yk,
                      float *scratch) {
  const int64_t OH = g->w.out[1], OW = g->w.out[2], s = (OW + 1) / 2 + 1;
  const int64_t len = ru->tx1 - ru->tx0, oy = 2 * ru->ty, ox0 = 2 * ru->tx0;
  float *ye0 = scratch, *yo0 = scratch + s, *ye1 = scratch + 2 * s,
        *yo1 = scratch + 3 * s;
  out_rows(q, plane, len, bv, ye0, yo0, ye1, yo1);
  const int64_t cols = OW - ox0 < 2 * len ? OW - ox0 : 2 * len;
  for (int a = 0; a < 2 && oy + a < OH; a++) {
    float *yr = yk + (oy + a) * OW + ox0;
    const float *ye = a ? ye1 : ye0, *yo = a ? yo1 : yo0;
    for (int64_t j = 0; 2 * j + 1 < cols; j++) {
      yr[2 * j] = ye[j];
      yr[2 * j + 1] = yo[j];
    }
    if (cols & 1) yr[cols - 1] = ye[cols / 2];
  }
}

const tq_wino_kind tq_wino_f2 = {2,        16,        weights_f2,
                                 input_f2, output_f2, scratch_f2};
