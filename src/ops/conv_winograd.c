/* Float Conv 3x3, stride 1, no dilation, one group, by Winograd's minimal
 * filtering (winograd_internal.h): the implementations winograd2,
 * F(2x2, 3x3), and winograd4, F(4x4, 3x3), opt-in. Each prepares the
 * transformed kernels U from the weights (kept in the node's cache); per
 * block of tiles, the run does the input transform, (m + 2)^2 GEMMs done
 * by OpenBLAS, and the output transform. Tiles run over the batch in
 * fixed blocks; each GEMM of a block is one single-threaded call and the
 * transforms treat every tile independently, so results are the same bits
 * at any thread count. Whether each applies depends on the shapes only.
 *
 * The float results differ from direct summation by rounding only;
 * intrinsic quantization never takes this path (it follows the documented
 * term order). */
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/conv_impl_internal.h"
#include "ops/winograd_internal.h"

/* Transformed floats per block and channel (planes x tiles): 512 tiles
 * for F(2x2), 227 for F(4x4). Larger blocks read the transformed kernels
 * U fewer times, which matters more than keeping V and M in the caches
 * (measured on ResNet-18 at batch 1 and 16, bench/README.md). */
#define WINO_BLOCK_FLOATS 8192
/* F(4x4) is opt-in (tq_context_set_fast_conv: its rounding errors scale
 * with the whole 6x6 input patch, so exact zeros become noise). It needs
 * at least this many 4x4 tiles (a 7x7 image at batch 1 has 4, too few
 * GEMM columns), and its U (36 x K x C floats, 2.25 times that of F(2x2))
 * must fit in WINO_F4_MAX_U_BYTES: every block reads all of U, and beyond
 * that the reads cost more than the saved multiplications (ResNet-18's
 * 256- and 512-channel layers run faster under F(2x2)). */
#define WINO_F4_MIN_TILES 16
#define WINO_F4_MAX_U_BYTES ((int64_t)4 << 20)
/* Both kinds need at least this many 2x2 tiles over the batch to make
 * efficient GEMMs: a 7x7 image with 512 channels (16 tiles) at batch 1 runs
 * faster as one im2col GEMM, at batch 16 much slower. */
#define WINO_MIN_TILES 32
/* ... and this many input and output channels */
#define WINO_MIN_CHANNELS 8

/* m x m output tiles over the batch. The choices below count them over
 * the batch, as the GEMMs see them; like OpenBLAS's own choices by shape,
 * they make float bits depend on the batch size (by rounding only). */
static int64_t tile_count(const conv_geom *g, int m) {
  return g->N * ((g->w.out[1] + m - 1) / m) * ((g->w.out[2] + m - 1) / m);
}

/* What both kinds need. */
static int winograd_applies(const conv_geom *g, const char **why) {
  const tq_nn_window *w = &g->w;
  if (w->nsp != 2) {
    *why = "needs 2 spatial dimensions";
    return 0;
  }
  for (int d = 1; d < 3; d++)
    if (w->kernel[d] != 3 || w->stride[d] != 1 || w->dil[d] != 1) {
      *why = "needs a 3x3 kernel, stride 1 and no dilation";
      return 0;
    }
  if (g->G != 1) {
    *why = "needs one group";
    return 0;
  }
  if (g->Cg < WINO_MIN_CHANNELS || g->Mg < WINO_MIN_CHANNELS) {
    *why = "needs 8 or more input and output channels";
    return 0;
  }
  if (tile_count(g, 2) < WINO_MIN_TILES) {
    *why = "needs 32 or more 2x2 output tiles over the batch";
    return 0;
  }
  return 1;
}

static int f2_applies(const conv_geom *g, const tq_context *ctx,
                      const char **why) {
  (void)ctx;
  return winograd_applies(g, why);
}

static int f4_applies(const conv_geom *g, const tq_context *ctx,
                      const char **why) {
  (void)ctx;
  if (!winograd_applies(g, why)) return 0;
  if (tile_count(g, 4) < WINO_F4_MIN_TILES) {
    *why = "needs 16 or more 4x4 output tiles over the batch";
    return 0;
  }
  if (36 * g->M * g->C * (int64_t)sizeof(float) > WINO_F4_MAX_U_BYTES) {
    *why =
        "needs transformed kernels of at most 4 MiB (36 x out x in "
        "channels floats)";
    return 0;
  }
  return 1;
}

void tq_wino_load_row(const conv_geom *g, const float *xc, int64_t r, int64_t x,
                      int64_t n, float *dst) {
  const int64_t IH = g->w.in[1], IW = g->w.in[2];
  const int64_t yy = r - g->w.pad_lo[1], x0 = x - g->w.pad_lo[2];
  if (yy < 0 || yy >= IH) {
    memset(dst, 0, (size_t)n * sizeof *dst);
    return;
  }
  const float *row = xc + yy * IW;
  /* columns [lo, hi) of dst lie inside the row */
  const int64_t lo = x0 < 0 ? (-x0 < n ? -x0 : n) : 0;
  int64_t hi = IW - x0 < n ? IW - x0 : n;
  if (hi < lo) hi = lo;
  if (lo > 0) memset(dst, 0, (size_t)lo * sizeof *dst);
  if (hi > lo) memcpy(dst + lo, row + x0 + lo, (size_t)(hi - lo) * sizeof *dst);
  if (hi < n) memset(dst + hi, 0, (size_t)(n - hi) * sizeof *dst);
}

/* Per-thread scratch of `per` floats: this thread's piece. */
static float *thread_scratch(float *scratch, int64_t per) {
#ifdef _OPENMP
  return scratch + per * omp_get_thread_num();
#else
  (void)per;
  return scratch;
#endif
}

/* U for every kernel W[k][c]: planes planes of K x C. */
static void transform_weights(const tq_wino_kind *kind, const float *wt,
                              int64_t K, int64_t C, float *u, int threads) {
  int nt = threads > K ? (int)K : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t k = 0; k < K; k++)
    for (int64_t c = 0; c < C; c++)
      kind->weights(wt + (k * C + c) * 9, u + k * C + c, K * C);
}

/* V for the tiles of the runs, every channel: planes planes of C x ld,
 * threads over channels. */
static void transform_input(const tq_wino_kind *kind, const conv_geom *g,
                            const float *x, const tq_wino_run *runs,
                            int64_t n_runs, float *v, int64_t ld,
                            float *scratch, int64_t per, int threads) {
  int nt = threads > g->C ? (int)g->C : threads;
#pragma omp parallel num_threads(nt)
  {
    float *buf = thread_scratch(scratch, per);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g->C; c++)
      for (int64_t r = 0; r < n_runs; r++) {
        const tq_wino_run *ru = &runs[r];
        kind->input(g, x + (ru->n * g->C + c) * g->Pin, ru, v + c * ld + ru->i0,
                    g->C * ld, buf);
      }
  }
}

/* Relu (fused, g->relu) on the outputs of run ru in one output channel, a
 * kind's m x m tiles, while they are in the caches. */
static void relu_run(const conv_geom *g, int m, const tq_wino_run *ru,
                     float *yk) {
  const int64_t OH = g->w.out[1], OW = g->w.out[2];
  const int64_t oy = m * ru->ty, ox0 = m * ru->tx0;
  const int64_t len = m * (ru->tx1 - ru->tx0);
  const int64_t cols = OW - ox0 < len ? OW - ox0 : len;
  for (int64_t a = 0; a < m && oy + a < OH; a++)
    tq_relu_row(yk + (oy + a) * OW + ox0, cols);
}

/* y tiles (+ bias) from M: planes planes of K x ld, threads over output
 * channels. */
static void transform_output(const tq_wino_kind *kind, const conv_geom *g,
                             const float *m, const tq_wino_run *runs,
                             int64_t n_runs, int64_t ld, const float *bias,
                             float *y, float *scratch, int64_t per,
                             int threads) {
  int nt = threads > g->M ? (int)g->M : threads;
#pragma omp parallel num_threads(nt)
  {
    float *buf = thread_scratch(scratch, per);
#pragma omp for schedule(static)
    for (int64_t k = 0; k < g->M; k++) {
      const float bv = bias ? bias[k] : 0.0f;
      for (int64_t r = 0; r < n_runs; r++) {
        const tq_wino_run *ru = &runs[r];
        float *yk = y + (ru->n * g->M + k) * g->P;
        kind->output(g, m + k * ld + ru->i0, g->M * ld, ru, bv, yk, buf);
        if (g->relu) relu_run(g, kind->m, ru, yk);
      }
    }
  }
}

/* The tiles [t0, t0 + ntiles) of a block (TH x TW tiles per image) as runs
 * along tile rows. */
static int64_t tile_runs(int64_t t0, int64_t ntiles, int64_t TH, int64_t TW,
                         tq_wino_run *runs) {
  int64_t count = 0;
  for (int64_t i = 0; i < ntiles;) {
    const int64_t t = t0 + i, row = t / TW, tx = t % TW;
    const int64_t len = TW - tx < ntiles - i ? TW - tx : ntiles - i;
    runs[count++] = (tq_wino_run){row / TH, row % TH, tx, tx + len, i};
    i += len;
  }
  return count;
}

/* U of the entry's kind (arg) for the weights wt: its state. */
static tq_status prepare_u(tq_op_call *c, const conv_geom *g, const void *arg,
                           const float *wt, void **state) {
  const tq_wino_kind *kind = arg;
  const int64_t K = g->M, C = g->C;
  float *u = malloc((size_t)(kind->planes * K * C) * sizeof *u);
  if (!u)
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for Winograd-transformed kernels "
                         "(%lld x %lld channels)",
                         (long long)K, (long long)C);
  transform_weights(kind, wt, K, C, u, tq_nn_threads(c));
  *state = u;
  return TQ_OK;
}

/* The convolution by the entry's kind (arg), its U as state. */
static tq_status winograd_run(tq_op_call *c, const conv_geom *g,
                              const void *arg, const void *state,
                              const float *x, const float *wt, const float *b,
                              float *y) {
  (void)wt;
  const tq_wino_kind *kind = arg;
  const float *u = state;
  const int threads = tq_nn_threads(c);
  const int m = kind->m, planes = kind->planes;
  const int64_t TH = (g->w.out[1] + m - 1) / m, TW = (g->w.out[2] + m - 1) / m;
  const int64_t total = g->N * TH * TW;
  /* blocks of at most max_blk tiles, all about the same size */
  const int64_t max_blk = WINO_BLOCK_FLOATS / planes;
  const int64_t nblk = (total + max_blk - 1) / max_blk;
  const int64_t blk = (total + nblk - 1) / nblk;
  const int64_t K = g->M, C = g->C;
  float *v = malloc((size_t)(planes * C * blk) * sizeof *v);
  float *mm = malloc((size_t)(planes * K * blk) * sizeof *mm);
  tq_wino_run *runs = malloc((size_t)(blk + 2) * sizeof *runs);
  const int64_t per = kind->scratch_floats(TW);
  float *scratch = malloc((size_t)(per * threads) * sizeof *scratch);
  if (!v || !mm || !runs || !scratch) {
    free(v);
    free(mm);
    free(runs);
    free(scratch);
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for Winograd buffers (%lld x %lld "
                         "channels)",
                         (long long)K, (long long)C);
  }
  for (int64_t t0 = 0; t0 < total; t0 += blk) {
    const int64_t nt = total - t0 < blk ? total - t0 : blk;
    const int64_t n_runs = tile_runs(t0, nt, TH, TW, runs);
    transform_input(kind, g, x, runs, n_runs, v, blk, scratch, per, threads);
    int gt = threads > planes ? planes : threads;
#pragma omp parallel for num_threads(gt) schedule(static)
    for (int xi = 0; xi < planes; xi++) {
      tq_nn_blas_single_thread();
      tq_nn_sgemm1(0, 0, K, nt, C, 1.0f, u + xi * K * C, C, v + xi * C * blk,
                   blk, 0.0f, mm + xi * K * blk, blk);
    }
    transform_output(kind, g, mm, runs, n_runs, blk, b, y, scratch, per,
                     threads);
  }
  free(runs);
  free(scratch);
  free(v);
  free(mm);
  return TQ_OK;
}

/* ---- the entries ---------------------------------------------------------*/

const tq_conv_impl tq_conv_impl_winograd4 = {
    .name = "winograd4",
    .op = TQ_OP_CONV,
    .flags = TQ_CONV_IMPL_OPT_IN,
    .arg = &tq_wino_f4,
    .applies = f4_applies,
    .prepare = prepare_u,
    .free_state = free,
    .run = winograd_run,
};

const tq_conv_impl tq_conv_impl_winograd2 = {
    .name = "winograd2",
    .op = TQ_OP_CONV,
    .arg = &tq_wino_f2,
    .applies = f2_applies,
    .prepare = prepare_u,
    .free_state = free,
    .run = winograd_run,
};
