/* Float Conv 3x3, stride 1, no dilation, one group, by Winograd's minimal
 * filtering F(2x2, 3x3) (Lavin and Gray, 2015): each 2x2 output tile costs
 * 16 multiplications per input channel instead of 36, so the 3x3
 * convolutions that dominate residual networks need 2.25 times fewer
 * multiply-adds.
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
          /* columns [lo, hi) of dst lie inside the input row */
          const int64_t lo = x0 < 0 ? (-x0 < cols ? -x0 : cols) : 0;
          int64_t hi = IW - x0 < cols ? IW - x0 : cols;
          if (hi < lo) hi = lo;
          if (lo > 0) memset(dst, 0, (size_t)lo * sizeof *dst);
          if (hi > lo)
            memcpy(dst + lo, xc + yy * IW + x0 + lo,
                   (size_t)(hi - lo) * sizeof *dst);
          if (hi < cols) memset(dst + hi, 0, (size_t)(cols - hi) * sizeof *dst);
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

tq_status tq_conv_winograd(tq_op_call *c, const conv_geom *g, const float *x,
                           const float *wt, const float *b, float *y) {
  const int threads = tq_nn_threads(c);
  const int64_t TH = (g->w.out[1] + 1) / 2, TW = (g->w.out[2] + 1) / 2;
  const int64_t total = g->N * TH * TW;
  /* blocks of at most WINO_BLOCK_TILES tiles, all about the same size */
  const int64_t nblk = (total + WINO_BLOCK_TILES - 1) / WINO_BLOCK_TILES;
  const int64_t blk = (total + nblk - 1) / nblk;
  const int64_t K = g->M, C = g->C;
  /* U depends on the weights only: kept in the node's cache when the
   * session offers one */
  const int cached = c->cache && c->cache->data;
  float *u = cached ? c->cache->data : malloc((size_t)(16 * K * C) * sizeof *u);
  float *v = malloc((size_t)(16 * C * blk) * sizeof *v);
  float *m = malloc((size_t)(16 * K * blk) * sizeof *m);
  tile_run *runs = malloc((size_t)(blk + 2) * sizeof *runs);
  /* per thread: the input transform's rows (4 * (2 TW + 2) + 8 (TW + 1)
   * floats), which also covers the output transform's 4 (TW + 1) */
  float *rows = malloc((size_t)((4 * (2 * TW + 2) + 8 * (TW + 1)) * threads) *
                       sizeof *rows);
  if (!u || !v || !m || !runs || !rows) {
    if (!cached) free(u);
    free(v);
    free(m);
    free(runs);
    free(rows);
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for Winograd buffers (%lld x %lld "
                         "channels)",
                         (long long)K, (long long)C);
  }
  if (!cached) transform_weights(wt, K, C, u, threads);
  for (int64_t t0 = 0; t0 < total; t0 += blk) {
    const int64_t nt = total - t0 < blk ? total - t0 : blk;
    const int64_t n_runs = tile_runs(t0, nt, TH, TW, runs);
    transform_input(g, x, runs, n_runs, v, blk, rows, threads);
    int gt = threads > 16 ? 16 : threads;
#pragma omp parallel for num_threads(gt) schedule(static)
    for (int xi = 0; xi < 16; xi++) {
      tq_nn_blas_single_thread();
      tq_nn_sgemm1(0, 0, K, nt, C, 1.0f, u + xi * K * C, C, v + xi * C * blk,
                   blk, 0.0f, m + xi * K * blk, blk);
    }
    transform_output(g, m, runs, n_runs, blk, b, y, rows, threads);
  }
  free(runs);
  free(rows);
  if (!cached && c->cache) {
    c->cache->data = u;
    c->cache->free_data = free;
  } else if (!cached) {
    free(u);
  }
  free(v);
  free(m);
  return TQ_OK;
}
