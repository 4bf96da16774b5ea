/* Backward of Conv and ConvTranspose (training), float32.
 *
 * Conv, per image and group: col = im2col(x) (K x P); dW += dY col^T;
 * dcol = W^T dY; dX = col2im(dcol) (the adjoint of im2col). ConvTranspose
 * is the same with the roles of X and Y swapped: dcol = im2col(dY) in the
 * mirrored geometry, dX = W dcol, dW += X dcol^T.
 *
 * Weight gradients sum over the batch. To keep the bits independent of
 * the thread count, the batch is cut into chunks of images (Conv) or
 * single images (ConvTranspose) fixed by the shapes, chunk c adds into
 * partial sum c % S (S fixed by the batch size only), each partial is
 * built by one thread in chunk order, and the partials are added in slot
 * order. Bias gradients are summed in
 * double, image after image. */
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/conv_internal.h"

/* At most this many weight-gradient partial sums (and parallel slots). */
#define CONV_BWD_SLOTS 8

static int64_t slot_count(int64_t N) {
  return N < CONV_BWD_SLOTS ? (N > 0 ? N : 1) : CONV_BWD_SLOTS;
}

/* db[m] = sum over images and positions of dy[n][m][p]. */
static void bias_grad(const float *dy, int64_t N, int64_t M, int64_t P,
                      float *db, int threads) {
  int nt = threads > M ? (int)(M > 0 ? M : 1) : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t m = 0; m < M; m++) {
    double s = 0.0;
    for (int64_t n = 0; n < N; n++) {
      const float *p = dy + (n * M + m) * P;
      for (int64_t i = 0; i < P; i++) s += p[i];
    }
    db[m] = (float)s;
  }
}

/* Adds the slots' partial weight gradients (each wsize floats) into dw in
 * slot order. */
static void reduce_slots(const float *parts, int64_t S, int64_t wsize,
                         float *dw) {
  memcpy(dw, parts, (size_t)wsize * sizeof *dw);
  for (int64_t s = 1; s < S; s++) {
    const float *p = parts + s * wsize;
    for (int64_t i = 0; i < wsize; i++) dw[i] += p[i];
  }
}

/* What a Conv or ConvTranspose backward works with. */
typedef struct conv_bwd {
  const float *x, *wt, *dy;
  float *dx, *dw; /* NULL when not wanted */
  int threads;
} conv_bwd;

/* Fills io and computes the bias gradient. Returns 1 when nothing is left
 * to do: neither dX nor dW wanted, or the batch is empty or `empty` (no
 * terms), in which case they are zeros. Otherwise the caller writes every
 * element of dX and dW. */
static int conv_bwd_begin(tq_op_call *c, const conv_geom *g,
                          const tq_tensor *const *gout, tq_tensor **gin,
                          int64_t wsize, int empty, conv_bwd *io) {
  io->x = tq_cf32(c->in[0]);
  io->wt = tq_cf32(c->in[1]);
  io->dy = tq_cf32(gout[0]);
  io->dx = gin[0] ? tq_f32(gin[0]) : NULL;
  io->dw = gin[1] ? tq_f32(gin[1]) : NULL;
  io->threads = tq_nn_threads(c);
  if (c->n_in > 2 && gin[2])
    bias_grad(io->dy, g->N, g->M, g->P, tq_f32(gin[2]), io->threads);
  if (!io->dx && !io->dw) return 1;
  if (g->N > 0 && !empty) return 0;
  if (io->dx) memset(io->dx, 0, (size_t)(g->N * g->C * g->Pin) * sizeof(float));
  if (io->dw) memset(io->dw, 0, (size_t)wsize * sizeof(float));
  return 1;
}

/* Scratch for S slots of per_slot floats, and S weight-gradient partial
 * sums of wsize floats when want_parts. */
static tq_status alloc_slots(tq_op_call *c, int64_t S, int64_t per_slot,
                             int want_parts, int64_t wsize, float **scratch,
                             float **parts) {
  *scratch = malloc((size_t)(S * per_slot + 1) * sizeof **scratch);
  *parts = want_parts ? malloc((size_t)(S * wsize + 1) * sizeof **parts) : NULL;
  if (*scratch && (!want_parts || *parts)) return TQ_OK;
  free(*scratch);
  free(*parts);
  return tq_call_error(c, TQ_ERR_NO_MEMORY,
                       "out of memory for the backward im2col buffers");
}

/* Mirror of a geometry: input and output swapped, channels per group
 * `channels` (for col2im of a Conv's dX, im2col of a ConvTranspose's
 * dY). */
static conv_geom mirrored(const conv_geom *g, int64_t channels) {
  conv_geom m = *g;
  for (int d = 0; d < TQ_NN_MAX_SPATIAL; d++) {
    m.w.in[d] = g->w.out[d];
    m.w.out[d] = g->w.in[d];
  }
  m.Pin = g->P;
  m.P = g->Pin;
  m.Mg = channels;
  return m;
}

/* Images per chunk: GEMMs over several images at once (OpenBLAS wastes
 * most of its time on tiny ones), within CONV_BWD_CHUNK_FLOATS of im2col
 * per chunk; about CONV_BWD_SLOTS chunks per batch. Depends on the shapes
 * only. */
#define CONV_BWD_CHUNK_FLOATS ((int64_t)1 << 20)

static int64_t images_per_chunk(int64_t N, int64_t K, int64_t P) {
  int64_t nb = (N + CONV_BWD_SLOTS - 1) / CONV_BWD_SLOTS;
  const int64_t cap = CONV_BWD_CHUNK_FLOATS / (K * P > 0 ? K * P : 1);
  if (nb > cap) nb = cap;
  return nb < 1 ? 1 : nb;
}

tq_status tq_conv_backward(tq_op_call *c, const tq_tensor *const *gout,
                           tq_tensor **gin) {
  conv_geom g;
  tq_status st = tq_conv_prepare(c, &g);
  if (st) return st;
  const int64_t wsize = g.M * g.K;
  conv_bwd io;
  if (conv_bwd_begin(c, &g, gout, gin, wsize, g.K == 0 || g.P == 0, &io))
    return TQ_OK;
  const float *x = io.x, *wt = io.wt, *dy = io.dy;
  float *dx = io.dx, *dw = io.dw;
  const int threads = io.threads;
  const int64_t nb = images_per_chunk(g.N, g.K, g.P);
  const int64_t chunks = (g.N + nb - 1) / nb;
  const int64_t S = slot_count(chunks);
  const int64_t cols = nb * g.P;
  /* per slot: im2col, dcol (K x cols each), gathered dY (Mg x cols) */
  const int64_t per_slot = 2 * g.K * cols + g.Mg * cols;
  float *scratch, *parts;
  if ((st = alloc_slots(c, S, per_slot, dw != NULL, wsize, &scratch, &parts)))
    return st;
  const conv_geom back = mirrored(&g, g.Cg);
  const int64_t rows = g.w.out[0] * g.w.out[1];
  int nt = threads > S ? (int)S : threads;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int64_t s = 0; s < S; s++) {
    tq_nn_blas_single_thread();
    float *col = scratch + s * per_slot, *dcol = col + g.K * cols;
    float *dyc = dcol + g.K * cols;
    float *part = parts ? parts + s * wsize : NULL;
    if (part) memset(part, 0, (size_t)wsize * sizeof *part);
    for (int64_t ch = s; ch < chunks; ch += S) {
      const int64_t n0 = ch * nb, cnt = g.N - n0 < nb ? g.N - n0 : nb;
      const int64_t ncols = cnt * g.P;
      for (int64_t gi = 0; gi < g.G; gi++) {
        /* dY of the chunk's images side by side: Mg x ncols */
        for (int64_t j = 0; j < cnt; j++)
          for (int64_t m = 0; m < g.Mg; m++)
            memcpy(dyc + m * ncols + j * g.P,
                   dy + ((n0 + j) * g.M + gi * g.Mg + m) * g.P,
                   (size_t)g.P * sizeof *dyc);
        if (part) {
          for (int64_t j = 0; j < cnt; j++)
            tq_conv_im2col_rows(&g, x + ((n0 + j) * g.C + gi * g.Cg) * g.Pin, 0,
                                g.Cg, 0, rows, col + j * g.P, ncols);
          tq_nn_sgemm1(0, 1, g.Mg, g.K, ncols, 1.0f, dyc, ncols, col, ncols,
                       1.0f, part + gi * g.Mg * g.K, g.K);
        }
        if (dx) {
          tq_nn_sgemm1(1, 0, g.K, ncols, g.Mg, 1.0f, wt + gi * g.Mg * g.K, g.K,
                       dyc, ncols, 0.0f, dcol, ncols);
          for (int64_t j = 0; j < cnt; j++)
            tq_conv_col2im(&back, dcol + j * g.P, ncols,
                           dx + ((n0 + j) * g.C + gi * g.Cg) * g.Pin, NULL, 1);
        }
      }
    }
  }
  if (dw) reduce_slots(parts, S, wsize, dw);
  free(scratch);
  free(parts);
  return TQ_OK;
}

tq_status tq_convt_backward(tq_op_call *c, const tq_tensor *const *gout,
                            tq_tensor **gin) {
  conv_geom g;
  tq_status st = tq_convt_prepare(c, &g);
  if (st) return st;
  /* W is (C, Mg, kernel...): per group Cg x (Mg * kvol) */
  const int64_t R = g.Mg * g.kvol, wsize = g.C * R;
  conv_bwd io;
  if (conv_bwd_begin(c, &g, gout, gin, wsize, R == 0 || g.Pin == 0, &io))
    return TQ_OK;
  const float *x = io.x, *wt = io.wt, *dy = io.dy;
  float *dx = io.dx, *dw = io.dw;
  const int threads = io.threads;
  const int64_t S = slot_count(g.N);
  float *scratch, *parts;
  if ((st = alloc_slots(c, S, R * g.Pin, dw != NULL, wsize, &scratch, &parts)))
    return st;
  /* im2col over dY: ConvTranspose's output is the mirror's input */
  const conv_geom back = mirrored(&g, g.Mg);
  const int64_t rows = g.w.in[0] * g.w.in[1];
  int nt = threads > S ? (int)S : threads;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int64_t s = 0; s < S; s++) {
    tq_nn_blas_single_thread();
    float *dcol = scratch + s * R * g.Pin;
    float *part = parts ? parts + s * wsize : NULL;
    if (part) memset(part, 0, (size_t)wsize * sizeof *part);
    for (int64_t n = s; n < g.N; n += S) {
      for (int64_t gi = 0; gi < g.G; gi++) {
        const float *dyg = dy + (n * g.M + gi * g.Mg) * g.P;
        tq_conv_im2col_rows(&back, dyg, 0, g.Mg, 0, rows, dcol, g.Pin);
        const float *wg = wt + gi * g.Cg * R;
        if (dx)
          tq_nn_sgemm1(0, 0, g.Cg, g.Pin, R, 1.0f, wg, R, dcol, g.Pin, 0.0f,
                       dx + (n * g.C + gi * g.Cg) * g.Pin, g.Pin);
        if (part) {
          const float *xg = x + (n * g.C + gi * g.Cg) * g.Pin;
          tq_nn_sgemm1(0, 1, g.Cg, R, g.Pin, 1.0f, xg, g.Pin, dcol, g.Pin, 1.0f,
                       part + gi * g.Cg * R, R);
        }
      }
    }
  }
  if (dw) reduce_slots(parts, S, wsize, dw);
  free(scratch);
  free(parts);
  return TQ_OK;
}
