/* Internal: the Winograd convolutions F(2x2, 3x3) (conv_winograd_f2.c) and
 * F(4x4, 3x3) (conv_winograd_f4.c) behind one driver (conv_winograd.c).
 *
 * For an m x m output tile, the (m + 2) x (m + 2) input patch d and the
 * 3x3 kernel g, the tile is A^T [(G g G^T) * (B^T d B)] A. Each of the
 * (m + 2)^2 positions xi of the transformed tile gives one GEMM over the
 * input channels: M_xi (K x tiles) = U_xi (K x C) V_xi (C x tiles). The
 * kinds differ only in the three transforms, described here by a table. */
#ifndef TQ_OPS_WINOGRAD_INTERNAL_H
#define TQ_OPS_WINOGRAD_INTERNAL_H

#include "ops/conv_internal.h"

/* The tiles of a block come as runs along tile rows: image n, tile row ty,
 * tile columns [tx0, tx1), at block column i0. */
typedef struct tq_wino_run {
  int64_t n, ty, tx0, tx1, i0;
} tq_wino_run;

typedef struct tq_wino_kind {
  int m;      /* output tile side */
  int planes; /* (m + 2)^2 transformed positions, one GEMM each */
  /* U_xi[k][c] for every kernel W[k][c] (3x3); u: planes planes of K x C */
  void (*weights)(const float *wt, int64_t K, int64_t C, float *u, int threads);
  /* V_xi[c][i] for the tiles of the runs and every channel; v: planes
   * planes of C x ld; scratch: scratch_floats(TW) floats per thread */
  void (*input)(const conv_geom *g, const float *x, const tq_wino_run *runs,
                int64_t n_runs, float *v, int64_t ld, float *scratch,
                int threads);
  /* y tiles (+ bias) from m: planes planes of K x ld; scratch as above */
  void (*output)(const conv_geom *g, const float *m, const tq_wino_run *runs,
                 int64_t n_runs, int64_t ld, const float *bias, float *y,
                 float *scratch, int threads);
  /* per-thread scratch of input and output, for TW tiles per tile row */
  int64_t (*scratch_floats)(int64_t TW);
} tq_wino_kind;

extern const tq_wino_kind tq_wino_f2, tq_wino_f4;

/* dst[i] = row[x0 + i] for i in [0, n), zero where x0 + i falls outside
 * [0, width) or when row is NULL (a row outside the input): one zero-padded
 * input row of a run of tiles. */
void tq_wino_load_row(const float *row, int64_t width, int64_t x0, int64_t n,
                      float *dst);

#endif
