/* Winograd F(4x4, 3x3) transforms (interpolation points 0, 1, -1, 2, -2
 * and infinity; Lavin and Gray, 2015): a 4x4 output tile from a 6x6 input
 * patch costs 36 multiplications per input channel instead of 144, against
 * 64 for 4 tiles of F(2x2, 3x3). The transformed data per output is 36/16
 * floats instead of 16/4, so the memory traffic of the transforms and the
 * GEMMs both drop by 1.78x. The larger constants cost precision: errors
 * are a few times those of F(2x2, 3x3), still ~1e-6 of the sum of |terms|
 * for float32 (test_ops_nn).
 *
 *   B^T = [4  0 -5  0  1  0]   G = [ 1/4     0    0 ]   A^T = [1 1  1 1  1 0]
 *         [0 -4 -4  1  1  0]       [-1/6 -1/6 -1/6]         [0 1 -1 2 -2 0]
 *         [0  4 -4 -1  1  0]       [-1/6  1/6 -1/6]         [0 1  1 4  4 0]
 *         [0 -2 -1  2  1  0]       [1/24 1/12  1/6]         [0 1 -1 8 -8 1]
 *         [0  2 -1 -2  1  0]       [1/24 -1/12 1/6]
 *         [0  4  0 -5  0  1]       [ 0     0    1 ]
 *
 * Every loop over tiles is unit stride over restrict pointers, which the
 * compiler vectorizes; every tile is computed by the same operations in
 * the same order whatever the threads, so results do not depend on them. */

#include "ops/winograd_internal.h"

/* U = G g G^T of one 3x3 kernel g (u[xi * plane]), computed in double and
 * rounded once: the kernel transform runs once per set of weights, so its
 * precision is free. */
static void weights_f4(const float *g, float *u, int64_t plane) {
  static const double G[6][3] = {
      {0.25, 0.0, 0.0},
      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
      {1.0 / 24, 1.0 / 12, 1.0 / 6},
      {1.0 / 24, -1.0 / 12, 1.0 / 6},
      {0.0, 0.0, 1.0},
  };
  double t[6][3]; /* G g */
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 3; j++)
      t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++)
      u[(i * 6 + j) * plane] =
          (float)(t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
}

/* Per thread: 6 input rows of 4 (TW + 1) floats, their 4 column phases
 * (the same count) and the 6 x 6 column-transformed rows of TW floats;
 * the output transform needs 16 (TW + 1). */
static int64_t scratch_f4(int64_t TW) {
  return 6 * 4 * (TW + 1) * 2 + 36 * (TW + 1);
}

/* Phase q of row r: p[(r * 4 + q) * s + j] = row[4 j + q], j = 0..n-1. */
static void split_phases(const float *restrict row, int64_t n, int64_t s,
                         float *restrict p) {
  float *restrict p0 = p, *restrict p1 = p + s, *restrict p2 = p + 2 * s,
                  *restrict p3 = p + 3 * s;
  for (int64_t j = 0; j < n; j++) {
    p0[j] = row[4 * j];
    p1[j] = row[4 * j + 1];
    p2[j] = row[4 * j + 2];
    p3[j] = row[4 * j + 3];
  }
}

/* One B^T combination of six streams (the input transform's two stages
 * alike): out_b = sum_i B^T[b][i] d_i for len values. */
static void bt_combine(const float *restrict d0, const float *restrict d1,
                       const float *restrict d2, const float *restrict d3,
                       const float *restrict d4, const float *restrict d5,
                       int64_t len, float *restrict o0, float *restrict o1,
                       float *restrict o2, float *restrict o3,
                       float *restrict o4, float *restrict o5) {
  for (int64_t j = 0; j < len; j++) {
    o0[j] = (4.0f * d0[j] - 5.0f * d2[j]) + d4[j];
    o1[j] = (d4[j] + d3[j]) - 4.0f * (d1[j] + d2[j]);
    o2[j] = (d4[j] - d3[j]) + 4.0f * (d1[j] - d2[j]);
    o3[j] = (d4[j] - d2[j]) + 2.0f * (d3[j] - d1[j]);
    o4[j] = (d4[j] - d2[j]) - 2.0f * (d3[j] - d1[j]);
    o5[j] = (4.0f * d1[j] - 5.0f * d3[j]) + d5[j];
  }
}

/* V_xi = (B^T d B)[xi] for the tiles of one run in one channel. */
static void input_f4(const conv_geom *g, const float *xc, const tq_wino_run *ru,
                     float *v, int64_t plane, float *scratch) {
  const int64_t TW = (g->w.out[2] + 3) / 4;
  const int64_t width = 4 * (TW + 1); /* input columns a run may read */
  const int64_t s = TW + 1;           /* stride of phases and rows */
  float *in = scratch, *phases = scratch + 6 * width,
        *cols = phases + 6 * width;
  const int64_t len = ru->tx1 - ru->tx0;
  const int64_t ncol = 4 * (len + 1); /* whole phases up to tile len */
  for (int a = 0; a < 6; a++) {
    float *dst = in + a * width;
    tq_wino_load_row(g, xc, 4 * ru->ty + a, 4 * ru->tx0, ncol, dst);
    /* along the columns: tile j reads the columns 4j .. 4j + 5, i.e.
     * phases 0-3 at j and phases 0-1 at j + 1 */
    float *p = phases + a * 4 * s, *t = cols + a * 6 * s;
    split_phases(dst, len + 1, s, p);
    bt_combine(p, p + s, p + 2 * s, p + 3 * s, p + 1, p + s + 1, len, t, t + s,
               t + 2 * s, t + 3 * s, t + 4 * s, t + 5 * s);
  }
  /* along the rows: column output b of the six rows gives the V planes
   * a * 6 + b */
  for (int b = 0; b < 6; b++) {
    const float *rb = cols + b * s;
    float *o = v + b * plane;
    bt_combine(rb, rb + 6 * s, rb + 12 * s, rb + 18 * s, rb + 24 * s,
               rb + 30 * s, len, o, o + 6 * plane, o + 12 * plane,
               o + 18 * plane, o + 24 * plane, o + 30 * plane);
  }
}

/* One A^T combination of six streams: out_r = sum_i A^T[r][i] q_i for
 * len values. */
static void at_combine(const float *restrict q0, const float *restrict q1,
                       const float *restrict q2, const float *restrict q3,
                       const float *restrict q4, const float *restrict q5,
                       int64_t len, float *restrict o0, float *restrict o1,
                       float *restrict o2, float *restrict o3) {
  for (int64_t j = 0; j < len; j++) {
    const float sp = q1[j] + q2[j], sm = q1[j] - q2[j], tp = q3[j] + q4[j],
                tm = q3[j] - q4[j];
    o0[j] = (q0[j] + sp) + tp;
    o1[j] = sm + 2.0f * tm;
    o2[j] = sp + 4.0f * tp;
    o3[j] = (sm + 8.0f * tm) + q5[j];
  }
}

static void add_bias(float *restrict o, int64_t len, float bv) {
  for (int64_t j = 0; j < len; j++) o[j] += bv;
}

/* The 4x4 output tiles of len tiles from the 36 planes q (plane floats
 * apart): A^T q A + bias, output (r, c) of tile j to o[(r * 4 + c) * s + j];
 * t: 24 s floats for A^T q. */
static void tiles_f4(const float *q, int64_t plane, int64_t len, float bv,
                     int64_t s, float *t, float *o) {
  for (int b = 0; b < 6; b++) { /* t[r * 6 + b] = (A^T q)[r][b] */
    const float *qb = q + b * plane;
    float *tb = t + b * s;
    at_combine(qb, qb + 6 * plane, qb + 12 * plane, qb + 18 * plane,
               qb + 24 * plane, qb + 30 * plane, len, tb, tb + 6 * s,
               tb + 12 * s, tb + 18 * s);
  }
  for (int r = 0; r < 4; r++) {
    const float *tr = t + r * 6 * s;
    float *orow = o + r * 4 * s;
    at_combine(tr, tr + s, tr + 2 * s, tr + 3 * s, tr + 4 * s, tr + 5 * s, len,
               orow, orow + s, orow + 2 * s, orow + 3 * s);
    if (bv != 0.0f)
      for (int k = 0; k < 4; k++) add_bias(orow + k * s, len, bv);
  }
}

/* Row r of the tiles into the output row yr (cols valid columns): the
 * four column phases interleaved. */
static void merge_row(const float *restrict o, int64_t s, int64_t cols,
                      float *restrict yr) {
  const float *restrict o0 = o, *restrict o1 = o + s, *restrict o2 = o + 2 * s,
                        *restrict o3 = o + 3 * s;
  const int64_t whole = cols / 4;
  for (int64_t j = 0; j < whole; j++) {
    yr[4 * j] = o0[j];
    yr[4 * j + 1] = o1[j];
    yr[4 * j + 2] = o2[j];
    yr[4 * j + 3] = o3[j];
  }
  for (int64_t i = 4 * whole; i < cols; i++) yr[i] = o[(i % 4) * s + whole];
}

/* The output tiles A^T M A + bias of one run in one output channel. */
static void output_f4(const conv_geom *g, const float *q, int64_t plane,
                      const tq_wino_run *ru, float bv, float *yk,
                      float *scratch) {
  const int64_t OH = g->w.out[1], OW = g->w.out[2], s = (OW + 3) / 4 + 1;
  const int64_t len = ru->tx1 - ru->tx0, oy = 4 * ru->ty, ox0 = 4 * ru->tx0;
  float *t = scratch, *o = scratch + 24 * s;
  tiles_f4(q, plane, len, bv, s, t, o);
  const int64_t cols = OW - ox0 < 4 * len ? OW - ox0 : 4 * len;
  for (int a = 0; a < 4 && oy + a < OH; a++)
    merge_row(o + a * 4 * s, s, cols, yk + (oy + a) * OW + ox0);
}

const tq_wino_kind tq_wino_f4 = {4,        36,        weights_f4,
                                 input_f4, output_f4, scratch_f4};
