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

/* One kind: the transforms of one kernel, one run of tiles in one channel
 * and one run of output tiles in one output channel. The driver owns the
 * loops, the threads and the per-thread scratch. */
typedef struct tq_wino_kind {
  int m;      /* output tile side */
  int planes; /* (m + 2)^2 transformed positions, one GEMM each */
  /* U_xi = (G g G^T)[xi] of the 3x3 kernel g: u[xi * plane] */
  void (*weights)(const float *g, float *u, int64_t plane);
  /* V_xi = (B^T d B)[xi] for the tiles of run ru in one channel, whose
   * input plane is xc: v[xi * plane + j] for tile j of the run */
  void (*input)(const conv_geom *g, const float *xc, const tq_wino_run *ru,
                float *v, int64_t plane, float *scratch);
  /* The output tiles A^T M A + bv of run ru in one output channel, from
   * q[xi * plane + j], into the channel's output plane yk */
  void (*output)(const conv_geom *g, const float *q, int64_t plane,
                 const tq_wino_run *ru, float bv, float *yk, float *scratch);
  /* scratch floats per thread, for TW tiles per tile row */
  int64_t (*scratch_floats)(int64_t TW);
} tq_wino_kind;

extern const tq_wino_kind tq_wino_f2, tq_wino_f4;

/* dst[i] = P[r][x + i] for i in [0, n), where P is the channel plane xc
 * zero-padded by g's pads (P[r][x] = xc[r - pad_top][x - pad_left], zero
 * outside the input): one input row of a run of tiles. */
void tq_wino_load_row(const conv_geom *g, const float *xc, int64_t r, int64_t x,
                      int64_t n, float *dst);

#endif
