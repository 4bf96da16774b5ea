/* Float Conv 3x3, stride 1, no dilation, one group, by Winograd's minimal
 * filtering (Lavin and Gray, 2015): F(4x4, 3x3) costs 36 multiplications
 * per 4x4 output tile and input channel instead of 144 (4x fewer), and
 * F(2x2, 3x3), for outputs too small for enough 4x4 tiles, 16 instead of
 * 36 (2.25x fewer).
 *
 * With d a 4x4 input patch and g a 3x3 kernel, a 2x2 output tile is
 * A^T [(G g G^T) * (B^T d B)] A. For every one of the 16 positions xi of
 * the 4x4 transformed tile, the products summed over input channels form a
 * GEMM: M_xi (K x tiles) = U_xi (K x C) V_xi (C x tiles), done by OpenBLAS.
 * Tiles run over the batch in fixed blocks; each of the 16 GEMMs of a block
 * is one single-threaded call and the transforms treat every element
 * independently, so results are the same bits at any thread count.
 *
 * The float results differ from direct summation by rounding only (the
 * transforms use the constants 1 and 1/2); intrinsic quantization never
 * takes this path (it follows the documented term order). */
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/conv_internal.h"

/* Tiles per block: V and M of a block stay within a few MiB. */
#define WINO_BLOCK_TILES 512

int tq_conv_winograd_applies(const conv_geom *g) {
  const tq_nn_window *w = &g->w;
  if (w->nsp != 2 || g->G != 1 || g->Cg < 8 || g->Mg < 8) return 0;
  for (int d = 1; d < 3; d++)
    if (w->kernel[d] != 3 || w->stride[d] != 1 || w->dil[d] != 1) return 0;
  /* worth it when there are enough tiles for efficient GEMMs */
  const int64_t tiles = g->N * ((w->out[1] + 1) / 2) * ((w->out[2] + 1) / 2);
  return tiles >= 16;
}

/* U_xi[k][c] = (G g G^T)[xi] for kernel g = W[k][c] (3x3). u has 16
 * planes of K x C. */
static void transform_weights(const float *wt, int64_t K, int64_t C, float *u,
                              int threads) {
  const int64_t plane = K * C;
  int nt = threads > K ? (int)K : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t k = 0; k < K; k++) {
    for (int64_t c = 0; c < C; c++) {
      const float *g = wt + (k * C + c) * 9;
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
        float *dst = u + (i * 4) * plane + k * C + c;
        dst[0] = a;
        dst[plane] = 0.5f * (a + b + e);
        dst[2 * plane] = 0.5f * (a - b + e);
        dst[3 * plane] = e;
      }
    }
  }
}

/* The tiles [t0, t0 + ntiles) of a block come as runs along tile rows:
 * image n, tile row ty, tile columns [tx0, tx1), at block column i0. */
typedef struct tile_run {
  int64_t n, ty, tx0, tx1, i0;
} tile_run;

static int64_t tile_runs(int64_t t0, int64_t ntiles, int64_t TH, int64_t TW,
                         tile_run *runs) {
  int64_t count = 0;
  for (int64_t i = 0; i < ntiles;) {
    const int64_t t = t0 + i, row = t / TW, tx = t % TW;
    const int64_t len = TW - tx < ntiles - i ? TW - tx : ntiles - i;
    runs[count++] = (tile_run){row / TH, row % TH, tx, tx + len, i};
    i += len;
  }
  return count;
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

/* V_xi[c][i] = (B^T d B)[xi] for the tiles of the runs, every channel. v
 * has 16 planes of C x ld. Per tile row, B^T combines the four input rows
 * first (R0 = d0 - d2, R1 = d1 + d2, R2 = d2 - d1, R3 = d1 - d3, zero
 * outside the input), split into even and odd columns; then each of the
 * 16 outputs is one unit-stride loop over the row's tiles, which the
 * compiler vectorizes. */
static void transform_input(const conv_geom *g, const float *x,
                            const tile_run *runs, int64_t n_runs, float *v,
                            int64_t ld, float *rows, int threads) {
  const tq_nn_window *w = &g->w;
  const int64_t IH = w->in[1], IW = w->in[2];
  const int64_t TW = (w->out[2] + 1) / 2, plane = g->C * ld;
  const int64_t ph = w->pad_lo[1], pw = w->pad_lo[2];
  const int64_t width = 2 * TW + 2; /* input columns a tile row touches */
  int nt = threads > g->C ? (int)g->C : threads;
#pragma omp parallel num_threads(nt)
  {
#ifdef _OPENMP
    float *buf = rows + (4 * width + 8 * (TW + 1)) * omp_get_thread_num();
#else
    float *buf = rows;
#endif
    float *in = buf, *ev = buf + 4 * width;
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g->C; c++) {
      for (int64_t r = 0; r < n_runs; r++) {
        const tile_run *ru = &runs[r];
        const float *xc = x + (ru->n * g->C + c) * g->Pin;
        const int64_t x0 = 2 * ru->tx0 - pw;
        const int64_t cols = 2 * (ru->tx1 - ru->tx0) + 2;
        /* the four input rows, zero-padded */
        for (int a = 0; a < 4; a++) {
          float *dst = in + a * width;
          const int64_t yy = 2 * ru->ty - ph + a;
          if (yy < 0 || yy >= IH) {
            memset(dst, 0, (size_t)cols * sizeof *dst);
            continue;
          }
          const float *row = xc + yy * IW;
          for (int64_t j = 0; j < cols; j++) {
            const int64_t xx = x0 + j;
            dst[j] = xx >= 0 && xx < IW ? row[xx] : 0.0f;
          }
        }
        const int64_t half = cols / 2; /* tiles + 1 */
        combine_rows(in, in + width, in + 2 * width, in + 3 * width, half, ev);
        float *dst = v + c * ld + ru->i0;
        for (int a = 0; a < 4; a++) {
          float *v0 = dst + (a * 4) * plane;
          v_planes(ev + (2 * a) * half, ev + (2 * a + 1) * half, half - 1, v0,
                   v0 + plane, v0 + 2 * plane, v0 + 3 * plane);
        }
      }
    }
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

/* y tile = A^T M A (+ bias) for the tiles of the runs; m has 16 planes of
 * K x ld. Per output channel and run, the two output rows' even and odd
 * columns are computed in unit-stride loops over the tiles (vectorized),
 * then interleaved into the rows. tmp: 4 * (TW + 1) floats per thread. */
static void transform_output(const conv_geom *g, const float *m,
                             const tile_run *runs, int64_t n_runs, int64_t ld,
                             const float *bias, float *y, float *tmp,
                             int threads) {
  const tq_nn_window *w = &g->w;
  const int64_t OH = w->out[1], OW = w->out[2], TW = (OW + 1) / 2;
  const int64_t plane = g->M * ld;
  int nt = threads > g->M ? (int)g->M : threads;
#pragma omp parallel num_threads(nt)
  {
#ifdef _OPENMP
    float *buf = tmp + 4 * (TW + 1) * omp_get_thread_num();
#else
    float *buf = tmp;
#endif
#pragma omp for schedule(static)
    for (int64_t k = 0; k < g->M; k++) {
      const float bv = bias ? bias[k] : 0.0f;
      for (int64_t r = 0; r < n_runs; r++) {
        const tile_run *ru = &runs[r];
        const float *q = m + k * ld + ru->i0;
        const int64_t len = ru->tx1 - ru->tx0, oy = 2 * ru->ty;
        float *ye0 = buf, *yo0 = buf + (TW + 1), *ye1 = buf + 2 * (TW + 1),
              *yo1 = buf + 3 * (TW + 1);
        out_rows(q, plane, len, bv, ye0, yo0, ye1, yo1);
        float *yk = y + (ru->n * g->M + k) * g->P;
        const int64_t ox0 = 2 * ru->tx0;
        for (int a = 0; a < 2 && oy + a < OH; a++) {
          float *yr = yk + (oy + a) * OW + ox0;
          const float *ye = a ? ye1 : ye0, *yo = a ? yo1 : yo0;
          const int64_t cols = OW - ox0 < 2 * len ? OW - ox0 : 2 * len;
          for (int64_t j = 0; 2 * j + 1 < cols; j++) {
            yr[2 * j] = ye[j];
            yr[2 * j + 1] = yo[j];
          }
          if (cols & 1) yr[cols - 1] = ye[cols / 2];
        }
      }
    }
  }
}

/* ---- F(4x4, 3x3) -------------------------------------------------------
 * Lavin and Gray's points 0, +-1, +-2: 36 products per 4x4 output tile and
 * input channel instead of 144. B^T (6x6), G (6x3) and A^T (4x6) below. */
static const float BT4[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const float AT4[4][6] = {{1, 1, 1, 1, 1, 0},
                                {0, 1, -1, 2, -2, 0},
                                {0, 1, 1, 4, 4, 0},
                                {0, 1, -1, 8, -8, 1}};

static void transform_weights4(const float *wt, int64_t K, int64_t C, float *u,
                               int threads) {
  static const float G[6][3] = {{0.25f, 0, 0},
                                {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                {0, 0, 1}};
  const int64_t plane = K * C;
  int nt = threads > K ? (int)K : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t k = 0; k < K; k++) {
    for (int64_t c = 0; c < C; c++) {
      const float *g = wt + (k * C + c) * 9;
      float t[6][3];
      for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++)
          t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
      for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
          u[(i * 6 + j) * plane + k * C + c] =
              t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
    }
  }
}

/* dst[j] = sum_a coef[a] * rows[a][j]: one row of B^T (or A^T) applied to
 * whole rows, unit stride. */
static void lincomb6(const float *restrict r0, const float *restrict r1,
                     const float *restrict r2, const float *restrict r3,
                     const float *restrict r4, const float *restrict r5,
                     const float *coef, int64_t n, float *restrict dst) {
  const float c0 = coef[0], c1 = coef[1], c2 = coef[2], c3 = coef[3],
              c4 = coef[4], c5 = coef[5];
  for (int64_t j = 0; j < n; j++)
    dst[j] = c0 * r0[j] + c1 * r1[j] + c2 * r2[j] + c3 * r3[j] + c4 * r4[j] +
             c5 * r5[j];
}

/* V for F(4x4, 3x3): per tile row, R_r = sum_a B^T[r][a] d_a over the
 * row, split by column phase (4j + q), then V[r][c] = sum_b B^T[c][b]
 * R_r[4j + b] from the phase arrays, all unit stride. rows: per thread
 * 6 * width + 6 * width + 4 * (TW + 2) floats. */
static void transform_input4(const conv_geom *g, const float *x,
                             const tile_run *runs, int64_t n_runs, float *v,
                             int64_t ld, float *rows, int threads) {
  const tq_nn_window *w = &g->w;
  const int64_t IH = w->in[1], IW = w->in[2];
  const int64_t TW = (w->out[2] + 3) / 4, plane = g->C * ld;
  const int64_t ph = w->pad_lo[1], pw = w->pad_lo[2];
  const int64_t width = 4 * TW + 2, per = 12 * width + 4 * (TW + 2);
  int nt = threads > g->C ? (int)g->C : threads;
#pragma omp parallel num_threads(nt)
  {
#ifdef _OPENMP
    float *buf = rows + per * omp_get_thread_num();
#else
    float *buf = rows;
#endif
    float *in = buf, *R = buf + 6 * width, *P = buf + 12 * width;
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g->C; c++) {
      for (int64_t r = 0; r < n_runs; r++) {
        const tile_run *ru = &runs[r];
        const float *xc = x + (ru->n * g->C + c) * g->Pin;
        const int64_t x0 = 4 * ru->tx0 - pw, len = ru->tx1 - ru->tx0;
        const int64_t cols = 4 * len + 2;
        for (int a = 0; a < 6; a++) {
          float *dst = in + a * width;
          const int64_t yy = 4 * ru->ty - ph + a;
          const float *row = yy >= 0 && yy < IH ? xc + yy * IW : NULL;
          for (int64_t j = 0; j < cols; j++) {
            const int64_t xx = x0 + j;
            dst[j] = row && xx >= 0 && xx < IW ? row[xx] : 0.0f;
          }
        }
        for (int rr = 0; rr < 6; rr++)
          lincomb6(in, in + width, in + 2 * width, in + 3 * width,
                   in + 4 * width, in + 5 * width, BT4[rr], cols,
                   R + rr * width);
        float *dst = v + c * ld + ru->i0;
        for (int rr = 0; rr < 6; rr++) {
          const float *Rr = R + rr * width;
          float *p0 = P, *p1 = P + (TW + 2), *p2 = P + 2 * (TW + 2),
                *p3 = P + 3 * (TW + 2);
          for (int64_t j = 0; j <= len; j++) {
            p0[j] = Rr[4 * j];
            p1[j] = Rr[4 * j + 1];
            if (4 * j + 2 < cols) p2[j] = Rr[4 * j + 2];
            if (4 * j + 3 < cols) p3[j] = Rr[4 * j + 3];
          }
          for (int cc = 0; cc < 6; cc++)
            lincomb6(p0, p1, p2, p3, p0 + 1, p1 + 1, BT4[cc], len,
                     dst + (rr * 6 + cc) * plane);
        }
      }
    }
  }
}

/* y tile = A^T M A (+ bias) for F(4x4, 3x3). tmp: per thread
 * 24 * (TW + 1) + 4 * (4 TW + 4) floats. */
static void transform_output4(const conv_geom *g, const float *m,
                              const tile_run *runs, int64_t n_runs, int64_t ld,
                              const float *bias, float *y, float *tmp,
                              int threads) {
  const tq_nn_window *w = &g->w;
  const int64_t OH = w->out[1], OW = w->out[2], TW = (OW + 3) / 4;
  const int64_t plane = g->M * ld, per = 28 * (TW + 1);
  int nt = threads > g->M ? (int)g->M : threads;
#pragma omp parallel num_threads(nt)
  {
#ifdef _OPENMP
    float *buf = tmp + per * omp_get_thread_num();
#else
    float *buf = tmp;
#endif
#pragma omp for schedule(static)
    for (int64_t k = 0; k < g->M; k++) {
      const float bv = bias ? bias[k] : 0.0f;
      for (int64_t r = 0; r < n_runs; r++) {
        const tile_run *ru = &runs[r];
        const float *q = m + k * ld + ru->i0;
        const int64_t len = ru->tx1 - ru->tx0, oy = 4 * ru->ty;
        const int64_t ox0 = 4 * ru->tx0;
        float *T = buf, *ph = buf + 24 * (TW + 1);
        for (int a = 0; a < 4 && oy + a < OH; a++) {
          /* T[c] = sum_r A^T[a][r] M[r][c] */
          for (int cc = 0; cc < 6; cc++)
            lincomb6(q + cc * plane, q + (6 + cc) * plane,
                     q + (12 + cc) * plane, q + (18 + cc) * plane,
                     q + (24 + cc) * plane, q + (30 + cc) * plane, AT4[a], len,
                     T + cc * (TW + 1));
          /* output column phase b: sum_c A^T[b][c] T[c] */
          for (int b = 0; b < 4; b++) {
            float *pb = ph + b * (TW + 1);
            lincomb6(T, T + (TW + 1), T + 2 * (TW + 1), T + 3 * (TW + 1),
                     T + 4 * (TW + 1), T + 5 * (TW + 1), AT4[b], len, pb);
          }
          float *yr = y + (ru->n * g->M + k) * g->P + (oy + a) * OW + ox0;
          const int64_t cols = OW - ox0 < 4 * len ? OW - ox0 : 4 * len;
          for (int64_t j = 0; j < cols; j++)
            yr[j] = ph[(j & 3) * (TW + 1) + (j >> 2)] + bv;
        }
      }
    }
  }
}

tq_status tq_conv_winograd(tq_op_call *c, const conv_geom *g, const float *x,
                           const float *wt, const float *b, float *y) {
  const int threads = tq_nn_threads(c);
  /* F(4x4, 3x3) when there are enough 4x4 tiles, else F(2x2, 3x3) */
  const int64_t OH = g->w.out[1], OW = g->w.out[2];
  const int big = g->N * ((OH + 3) / 4) * ((OW + 3) / 4) >= 16;
  const int T = big ? 4 : 2, planes = big ? 36 : 16;
  const int64_t TH = (OH + T - 1) / T, TW = (OW + T - 1) / T;
  const int64_t total = g->N * TH * TW;
  const int64_t blk = total < WINO_BLOCK_TILES ? total : WINO_BLOCK_TILES;
  const int64_t K = g->M, C = g->C;
  /* U depends on the weights (and the variant) only: kept in the node's
   * cache when the session offers one, its first float naming the
   * variant's plane count */
  float *base = c->cache ? c->cache->data : NULL;
  if (base && base[0] != (float)planes) {
    c->cache->free_data(base);
    c->cache->data = base = NULL;
  }
  const int cached = base != NULL;
  if (!cached) base = malloc((size_t)(planes * K * C + 1) * sizeof *base);
  float *u = base ? base + 1 : NULL;
  float *v = malloc((size_t)(planes * C * blk) * sizeof *v);
  float *m = malloc((size_t)(planes * K * blk) * sizeof *m);
  tile_run *runs = malloc((size_t)(blk + 2) * sizeof *runs);
  /* per thread: the transforms' row buffers (see each transform) */
  const int64_t per =
      big ? 12 * (4 * TW + 2) + 28 * (TW + 2) : 4 * (2 * TW + 2) + 8 * (TW + 1);
  float *rows = malloc((size_t)(per * threads) * sizeof *rows);
  if (!u || !v || !m || !runs || !rows) {
    if (!cached) free(base);
    free(v);
    free(m);
    free(runs);
    free(rows);
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for Winograd buffers (%lld x %lld "
                         "channels)",
                         (long long)K, (long long)C);
  }
  if (!cached) {
    base[0] = (float)planes;
    if (big)
      transform_weights4(wt, K, C, u, threads);
    else
      transform_weights(wt, K, C, u, threads);
  }
  for (int64_t t0 = 0; t0 < total; t0 += blk) {
    const int64_t nt = total - t0 < blk ? total - t0 : blk;
    const int64_t n_runs = tile_runs(t0, nt, TH, TW, runs);
    if (big)
      transform_input4(g, x, runs, n_runs, v, blk, rows, threads);
    else
      transform_input(g, x, runs, n_runs, v, blk, rows, threads);
    int gt = threads > planes ? planes : threads;
#pragma omp parallel for num_threads(gt) schedule(static)
    for (int xi = 0; xi < planes; xi++) {
      tq_nn_blas_single_thread();
      tq_nn_sgemm1(0, 0, K, nt, C, 1.0f, u + xi * K * C, C, v + xi * C * blk,
                   blk, 0.0f, m + xi * K * blk, blk);
    }
    if (big)
      transform_output4(g, m, runs, n_runs, blk, b, y, rows, threads);
    else
      transform_output(g, m, runs, n_runs, blk, b, y, rows, threads);
  }
  free(runs);
  free(rows);
  if (!cached && c->cache) {
    c->cache->data = base;
    c->cache->free_data = free;
  } else if (!cached) {
    free(base);
  }
  free(v);
  free(m);
  return TQ_OK;
}
