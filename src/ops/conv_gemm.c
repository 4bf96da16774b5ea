/* Float Conv as GEMMs (OpenBLAS) per group: im2col, the general
 * implementation, and pointwise, 1x1 convolutions whose input rows are
 * already the im2col matrix; and ConvTranspose as a GEMM and col2im. */
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/conv_impl_internal.h"

/* Tiling of the float Conv. The output columns of one group, over the
 * whole batch, are rows of output positions (an output row: one (depth,
 * height) pair, OW positions) concatenated image after image; a tile is a
 * run of whole rows, possibly spanning images. A tile has at least
 * CONV_MIN_COLS columns, or OpenBLAS would spend more time packing the
 * weights than multiplying them, and its im2col block fills at most
 * CONV_L2_BYTES when it can, so that the GEMM reads it from cache. With at
 * least CONV_MIN_TILES such tiles, each thread takes whole tiles (im2col
 * and a single-threaded GEMM); with fewer, tiles grow to CONV_BIG_FLOATS
 * im2col floats and each is split over the threads (im2col by channel, the
 * GEMM in tq_nn_sgemm's fixed sub-tiles). Tile bounds depend only on the
 * shapes. */
#define CONV_MIN_COLS 256
#define CONV_L2_BYTES ((int64_t)384 * 1024)
#define CONV_MIN_TILES 8
#define CONV_BIG_FLOATS ((int64_t)4 * 1024 * 1024)

/* One float Conv by tiles: the node and how its B operand is made. */
typedef struct gemm_conv {
  const conv_geom *g;
  const float *x, *wt, *b;
  float *y;
  /* 1x1 (tq_conv_is_pointwise): a tile inside one image multiplies the
   * input rows themselves, without an im2col copy */
  int pointwise;
} gemm_conv;

/* One tile: global rows [gr0, gr1) of group gi. col holds K x ncols
 * floats, out Mg x ncols (used when the tile spans images). big: the tile
 * is split over `threads` (im2col by channel, the GEMM in fixed tiles);
 * else it runs on the calling thread. */
static void conv_tile(const gemm_conv *j, int64_t gi, int64_t gr0, int64_t gr1,
                      float *col, float *out, int big, int threads) {
  const conv_geom *g = j->g;
  const float *x = j->x, *wt = j->wt, *b = j->b;
  float *y = j->y;
  const tq_nn_window *w = &g->w;
  const int64_t OW = w->out[2], R = w->out[0] * w->out[1];
  const int64_t ncols = (gr1 - gr0) * OW;
  const int64_t n0 = gr0 / R, n1 = (gr1 - 1) / R;
  const float *wg = wt + gi * g->Mg * g->K;
  const float *bg = b ? b + gi * g->Mg : NULL;
  const float *bm = col;
  int64_t ldb = ncols;
  if (n0 == n1 && j->pointwise) {
    /* 1x1: the input rows are the im2col matrix */
    bm = x + (n0 * g->C + gi * g->Cg) * g->Pin + (gr0 % R) * OW;
    ldb = g->Pin;
  } else {
    int64_t off = 0;
    for (int64_t gr = gr0; gr < gr1;) {
      const int64_t n = gr / R, r0 = gr % R;
      const int64_t r1 = r0 + (gr1 - gr) < R ? r0 + (gr1 - gr) : R;
      const float *xg = x + (n * g->C + gi * g->Cg) * g->Pin;
      if (big) {
        int nt = threads > g->Cg ? (int)g->Cg : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t ch = 0; ch < g->Cg; ch++)
          tq_conv_im2col_rows(g, xg, ch, ch + 1, r0, r1,
                              col + ch * g->kvol * ncols + off, ncols);
      } else {
        tq_conv_im2col_rows(g, xg, 0, g->Cg, r0, r1, col + off, ncols);
      }
      off += (r1 - r0) * OW;
      gr += r1 - r0;
    }
  }
  if (n0 == n1) {
    float *yt = y + (n0 * g->M + gi * g->Mg) * g->P + (gr0 % R) * OW;
    if (bg) tq_conv_fill_bias(yt, g->Mg, ncols, g->P, bg);
    if (big)
      tq_nn_sgemm(0, 0, g->Mg, ncols, g->K, 1.0f, wg, g->K, bm, ldb,
                  bg ? 1.0f : 0.0f, yt, g->P, threads);
    else
      tq_nn_sgemm1(0, 0, g->Mg, ncols, g->K, 1.0f, wg, g->K, bm, ldb,
                   bg ? 1.0f : 0.0f, yt, g->P);
    if (g->relu) { /* while the tile is in the caches */
      int nt = big ? threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static)
      for (int64_t m = 0; m < g->Mg; m++) tq_relu_row(yt + m * g->P, ncols);
    }
    return;
  }
  if (big)
    tq_nn_sgemm(0, 0, g->Mg, ncols, g->K, 1.0f, wg, g->K, bm, ldb, 0.0f, out,
                ncols, threads);
  else
    tq_nn_sgemm1(0, 0, g->Mg, ncols, g->K, 1.0f, wg, g->K, bm, ldb, 0.0f, out,
                 ncols);
  /* scatter the images' pieces, adding the bias */
  int64_t off = 0;
  for (int64_t gr = gr0; gr < gr1;) {
    const int64_t n = gr / R, r0 = gr % R;
    const int64_t r1 = r0 + (gr1 - gr) < R ? r0 + (gr1 - gr) : R;
    const int64_t len = (r1 - r0) * OW;
    for (int64_t m = 0; m < g->Mg; m++) {
      float *yr = y + (n * g->M + gi * g->Mg + m) * g->P + r0 * OW;
      const float *src = out + m * ncols + off;
      const float bv = bg ? bg[m] : 0.0f;
      for (int64_t i = 0; i < len; i++) yr[i] = src[i] + bv;
      if (g->relu) tq_relu_row(yr, len);
    }
    off += len;
    gr += r1 - r0;
  }
}

static tq_status gemm_run(tq_op_call *c, const gemm_conv *j) {
  const conv_geom *g = j->g;
  const tq_nn_window *w = &g->w;
  const int threads = tq_nn_threads(c);
  const int64_t OW = w->out[2], rows_all = g->N * w->out[0] * w->out[1];
  int64_t rows = CONV_L2_BYTES / (int64_t)sizeof(float) / g->K / OW;
  const int64_t min_rows = (CONV_MIN_COLS + OW - 1) / OW;
  if (rows < min_rows) rows = min_rows;
  if (rows > rows_all) rows = rows_all;
  int64_t tiles = (rows_all + rows - 1) / rows;
  int big = g->G * tiles < CONV_MIN_TILES;
  if (big) {
    rows = CONV_BIG_FLOATS / g->K / OW;
    if (rows < min_rows) rows = min_rows;
    if (rows > rows_all) rows = rows_all;
    tiles = (rows_all + rows - 1) / rows;
  }
  const int64_t ncols = rows * OW;
  const int64_t items = g->G * tiles;
  int nt = big ? 1 : threads > items ? (int)items : threads;
  /* per thread: im2col block and output block */
  const int64_t per = g->K * ncols + g->Mg * ncols;
  float *scratch = malloc((size_t)(per * nt + 1) * sizeof *scratch);
  if (!scratch)
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for %lld x %lld im2col buffers",
                         (long long)g->K, (long long)ncols);
  if (big) {
    for (int64_t it = 0; it < items; it++) {
      const int64_t gi = it / tiles, t = it % tiles;
      const int64_t r0 = t * rows,
                    r1 = r0 + rows < rows_all ? r0 + rows : rows_all;
      conv_tile(j, gi, r0, r1, scratch, scratch + g->K * ncols, 1, threads);
    }
    free(scratch);
    return TQ_OK;
  }
#pragma omp parallel num_threads(nt)
  {
    tq_nn_blas_single_thread();
#ifdef _OPENMP
    float *mine = scratch + per * omp_get_thread_num();
#else
    float *mine = scratch;
#endif
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < items; it++) {
      const int64_t gi = it / tiles, t = it % tiles;
      const int64_t r0 = t * rows,
                    r1 = r0 + rows < rows_all ? r0 + rows : rows_all;
      conv_tile(j, gi, r0, r1, mine, mine + g->K * ncols, 0, 1);
    }
  }
  free(scratch);
  return TQ_OK;
}

static int always_applies(const conv_geom *g, const tq_context *ctx,
                          const char **why) {
  (void)g, (void)ctx, (void)why;
  return 1;
}

/* arg: the entry's gemm_conv.pointwise */
static tq_status gemm_entry_run(tq_op_call *c, const conv_geom *g,
                                const void *arg, const void *state,
                                const float *x, const float *wt, const float *b,
                                float *y) {
  (void)state;
  const gemm_conv j = {g, x, wt, b, y, *(const int *)arg};
  return gemm_run(c, &j);
}

static const int im2col_copies = 0, pointwise_reads_x = 1;

const tq_conv_impl tq_conv_impl_im2col = {
    .name = "im2col",
    .op = TQ_OP_CONV,
    .flags = TQ_CONV_IMPL_FALLBACK,
    .arg = &im2col_copies,
    .applies = always_applies,
    .run = gemm_entry_run,
};

static int pointwise_applies(const conv_geom *g, const tq_context *ctx,
                             const char **why) {
  (void)ctx;
  if (tq_conv_is_pointwise(&g->w)) return 1;
  *why = "needs a 1x1 kernel, unit strides and no padding";
  return 0;
}

const tq_conv_impl tq_conv_impl_pointwise = {
    .name = "pointwise",
    .op = TQ_OP_CONV,
    .arg = &pointwise_reads_x,
    .applies = pointwise_applies,
    .run = gemm_entry_run,
};

/* ---- ConvTranspose -------------------------------------------------------*/

static tq_status col2im_run(tq_op_call *c, const conv_geom *g, const void *arg,
                            const void *state, const float *x, const float *wt,
                            const float *b, float *y) {
  (void)arg, (void)state;
  const int threads = tq_nn_threads(c);
  const int64_t rows = g->Mg * g->kvol;
  float *col = malloc((size_t)(rows * g->Pin + 1) * sizeof *col);
  if (!col)
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for a %lld x %lld column buffer",
                         (long long)rows, (long long)g->Pin);
  for (int64_t n = 0; n < g->N; n++) {
    for (int64_t gi = 0; gi < g->G; gi++) {
      const float *xg = x + (n * g->C + gi * g->Cg) * g->Pin;
      const float *wg = wt + gi * g->Cg * rows;
      tq_nn_sgemm(1, 0, rows, g->Pin, g->Cg, 1.0f, wg, rows, xg, g->Pin, 0.0f,
                  col, g->Pin, threads);
      tq_conv_col2im(g, col, g->Pin, y + (n * g->M + gi * g->Mg) * g->P,
                     b ? b + gi * g->Mg : NULL, threads);
    }
  }
  free(col);
  return TQ_OK;
}

const tq_conv_impl tq_conv_impl_col2im = {
    .name = "col2im",
    .op = TQ_OP_CONV_TRANSPOSE,
    .flags = TQ_CONV_IMPL_FALLBACK,
    .applies = always_applies,
    .run = col2im_run,
};
