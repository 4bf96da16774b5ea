/* Gemm and MatMul (ONNX opsets 1-17), float32.
 *
 * Float path: OpenBLAS through tq_nn_sgemm. Intrinsic quantization:
 * tq_intrinsic_gemm on row-major operands (transposed copies where the
 * node transposes), random numbers numbered by tq_nn_index_base. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/nn_internal.h"
#include "ops/op_families.h"

static tq_status check_int(tq_op_call *c, int64_t v, const char *what) {
  if (v > INT_MAX)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "%s = %lld exceeds the GEMM limit of %d", what,
                         (long long)v, INT_MAX);
  return TQ_OK;
}

/* dst (cols x rows) = transpose of src (rows x cols). */
static void transpose(const float *src, int64_t rows, int64_t cols,
                      float *dst) {
  enum { T = 32 }; /* blocks keep both sides in cache */
  for (int64_t r0 = 0; r0 < rows; r0 += T)
    for (int64_t c0 = 0; c0 < cols; c0 += T)
      for (int64_t r = r0; r < r0 + T && r < rows; r++)
        for (int64_t q = c0; q < c0 + T && q < cols; q++)
          dst[q * rows + r] = src[r * cols + q];
}

/* ---- Gemm -------------------------------------------------------------- */

typedef struct gemm_params {
  int trans_a, trans_b;
  float alpha, beta;
} gemm_params;

static tq_status gemm_parse(const tq_op_parse *p, void *params) {
  gemm_params *gp = params;
  const int64_t ta = tq_parse_int(p, "transA", 0),
                tb = tq_parse_int(p, "transB", 0);
  if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "transA = %lld, transB = %lld; expected 0 or 1",
                          (long long)ta, (long long)tb);
  gp->trans_a = (int)ta;
  gp->trans_b = (int)tb;
  gp->alpha = tq_parse_float(p, "alpha", 1.0f);
  gp->beta = tq_parse_float(p, "beta", 1.0f);
  return TQ_OK;
}

typedef struct gemm_geom {
  int64_t M, N, K;
  int trans_a, trans_b;
  const tq_tensor *C;   /* NULL when absent */
  ptrdiff_t c_rs, c_cs; /* C's strides broadcast to (M, N) */
} gemm_geom;

static tq_status gemm_prepare(tq_op_call *c, gemm_geom *g) {
  tq_status st;
  if ((st = tq_nn_check_input(c, 0, "A", 2, 2)) ||
      (st = tq_nn_check_input(c, 1, "B", 2, 2)))
    return st;
  memset(g, 0, sizeof *g);
  const gemm_params *gp = c->params;
  const int ta = gp->trans_a, tb = gp->trans_b;
  g->trans_a = ta;
  g->trans_b = tb;
  const int64_t *ad = c->in[0]->shape.dims, *bd = c->in[1]->shape.dims;
  g->M = ad[ta ? 1 : 0];
  g->K = ad[ta ? 0 : 1];
  const int64_t kb = bd[tb ? 1 : 0];
  g->N = bd[tb ? 0 : 1];
  if (kb != g->K)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "A%s is %lld x %lld but B%s is %lld x %lld: inner "
                         "dimensions differ",
                         ta ? "'" : "", (long long)g->M, (long long)g->K,
                         tb ? "'" : "", (long long)kb, (long long)g->N);
  if (c->n_in > 2 && c->in[2]) {
    if ((st = tq_nn_check_input(c, 2, "C", 0, 2))) return st;
    const tq_shape *cs = &c->in[2]->shape;
    /* Unidirectional broadcast of C to (M, N), aligned on the right. */
    int64_t cm = 1, cn = 1;
    if (cs->ndim == 2) {
      cm = cs->dims[0];
      cn = cs->dims[1];
    } else if (cs->ndim == 1) {
      cn = cs->dims[0];
    }
    if ((cm != 1 && cm != g->M) || (cn != 1 && cn != g->N)) {
      char buf[128];
      tq_shape_format(cs, buf, sizeof buf);
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "C has shape %s, which does not broadcast to the "
                           "output %lld x %lld",
                           buf, (long long)g->M, (long long)g->N);
    }
    g->C = c->in[2];
    g->c_rs = cm == 1 ? 0 : (ptrdiff_t)cn;
    g->c_cs = cn == 1 ? 0 : 1;
  }
  if ((st = check_int(c, g->M, "M")) || (st = check_int(c, g->N, "N")) ||
      (st = check_int(c, g->K, "K")))
    return st;
  return TQ_OK;
}

static tq_status gemm_infer(tq_op_call *c) {
  gemm_geom g;
  tq_status st = gemm_prepare(c, &g);
  if (st) return st;
  tq_shape s = {.ndim = 2, .dims = {g.M, g.N}};
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &s);
}

static tq_status gemm_intrinsic(tq_op_call *c, const gemm_geom *g, float alpha,
                                float beta) {
  if (alpha != 1.0f || (g->C && beta != 1.0f))
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "intrinsic quantization needs alpha = 1 and beta = 1 "
                         "(got alpha = %g, beta = %g): the quantized "
                         "arithmetic has no scaling step",
                         (double)alpha, (double)beta);
  const float *A = tq_cf32(c->in[0]), *B = tq_cf32(c->in[1]);
  float *at = NULL, *bt = NULL;
  if (g->trans_a) {
    at = malloc((size_t)(g->M * g->K + 1) * sizeof *at);
    if (!at) return tq_call_error(c, TQ_ERR_NO_MEMORY, "out of memory for A'");
    transpose(A, g->K, g->M, at);
    A = at;
  }
  if (g->trans_b) {
    bt = malloc((size_t)(g->K * g->N + 1) * sizeof *bt);
    if (!bt) {
      free(at);
      return tq_call_error(c, TQ_ERR_NO_MEMORY, "out of memory for B'");
    }
    transpose(B, g->N, g->K, bt);
    B = bt;
  }
  tq_intrinsic_gemm_args a = {
      .M = (int)g->M,
      .N = (int)g->N,
      .K = (int)g->K,
      .A = A,
      .lda = (size_t)g->K,
      .B = B,
      .ldb = (size_t)g->N,
      .bias = g->C ? tq_cf32(g->C) : NULL,
      .bias_rs = g->c_rs,
      .bias_cs = g->c_cs,
      .C = tq_f32(c->out[0]),
      .ldc = (size_t)g->N,
      .iq = c->intrinsic,
      .seed = c->seed,
      .stream = c->stream,
      .index_base = tq_nn_index_base(c, &c->out[0]->shape, 0, g->K),
      .threads = tq_nn_threads(c),
  };
  tq_status st = tq_nn_run_intrinsic(c, &a);
  free(at);
  free(bt);
  return st;
}

static tq_status gemm_forward(tq_op_call *c) {
  gemm_geom g;
  tq_status st = gemm_prepare(c, &g);
  if (st) return st;
  const gemm_params *gp = c->params;
  const float alpha = gp->alpha, beta = gp->beta;
  if (g.M == 0 || g.N == 0) return TQ_OK;
  if (c->intrinsic) return gemm_intrinsic(c, &g, alpha, beta);
  float *y = tq_f32(c->out[0]);
  float blas_beta = 0.0f;
  if (g.C && beta != 0.0f) {
    const float *cv = tq_cf32(g.C);
    for (int64_t m = 0; m < g.M; m++)
      for (int64_t n = 0; n < g.N; n++)
        y[m * g.N + n] = beta * cv[m * g.c_rs + n * g.c_cs];
    blas_beta = 1.0f;
  }
  tq_nn_sgemm(g.trans_a, g.trans_b, g.M, g.N, g.K, alpha, tq_cf32(c->in[0]),
              g.trans_a ? g.M : g.K, tq_cf32(c->in[1]), g.trans_b ? g.K : g.N,
              blas_beta, y, g.N, tq_nn_threads(c));
  return TQ_OK;
}

/* ---- MatMul ------------------------------------------------------------ */

typedef struct matmul_geom {
  int64_t M, N, K;
  int a1, b1; /* 1-D operands (promoted, the unit dimension dropped) */
  int nb;     /* broadcast batch dimensions */
  int64_t batch[TQ_TENSOR_MAX_DIMS];
  int64_t a_stride[TQ_TENSOR_MAX_DIMS], b_stride[TQ_TENSOR_MAX_DIMS];
  int64_t nbatch;
  tq_shape out;
} matmul_geom;

static tq_status matmul_prepare(tq_op_call *c, matmul_geom *g) {
  tq_status st;
  if ((st = tq_nn_check_input(c, 0, "A", 1, TQ_TENSOR_MAX_DIMS)) ||
      (st = tq_nn_check_input(c, 1, "B", 1, TQ_TENSOR_MAX_DIMS)))
    return st;
  memset(g, 0, sizeof *g);
  const tq_shape *as = &c->in[0]->shape, *bs = &c->in[1]->shape;
  g->a1 = as->ndim == 1;
  g->b1 = bs->ndim == 1;
  g->M = g->a1 ? 1 : as->dims[as->ndim - 2];
  g->K = as->dims[as->ndim - 1];
  const int64_t kb = g->b1 ? bs->dims[0] : bs->dims[bs->ndim - 2];
  g->N = g->b1 ? 1 : bs->dims[bs->ndim - 1];
  char ab[128], bb[128];
  if (kb != g->K) {
    tq_shape_format(as, ab, sizeof ab);
    tq_shape_format(bs, bb, sizeof bb);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "A %s and B %s: inner dimensions differ (%lld vs "
                         "%lld)",
                         ab, bb, (long long)g->K, (long long)kb);
  }
  const int na = g->a1 ? 0 : as->ndim - 2, nbb = g->b1 ? 0 : bs->ndim - 2;
  g->nb = na > nbb ? na : nbb;
  /* Batch strides in elements of A and B; 0 where broadcast. */
  int64_t sa = g->M * g->K, sb = g->K * g->N;
  g->nbatch = 1;
  for (int i = g->nb - 1; i >= 0; i--) {
    const int ia = i - (g->nb - na), ib = i - (g->nb - nbb);
    const int64_t da = ia >= 0 ? as->dims[ia] : 1;
    const int64_t db = ib >= 0 ? bs->dims[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      tq_shape_format(as, ab, sizeof ab);
      tq_shape_format(bs, bb, sizeof bb);
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "A %s and B %s: batch dimensions %lld and %lld do "
                           "not broadcast",
                           ab, bb, (long long)da, (long long)db);
    }
    g->batch[i] = da == 1 ? db : da;
    g->a_stride[i] = da == 1 ? 0 : sa;
    g->b_stride[i] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
    g->nbatch *= g->batch[i];
  }
  tq_shape *o = &g->out;
  o->ndim = 0;
  for (int i = 0; i < g->nb; i++) o->dims[o->ndim++] = g->batch[i];
  if (!g->a1) o->dims[o->ndim++] = g->M;
  if (!g->b1) o->dims[o->ndim++] = g->N;
  if (o->ndim > TQ_TENSOR_MAX_DIMS)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "the output would have rank %d (at most %d)", o->ndim,
                         TQ_TENSOR_MAX_DIMS);
  if ((st = check_int(c, g->M, "M")) || (st = check_int(c, g->N, "N")) ||
      (st = check_int(c, g->K, "K")))
    return st;
  return TQ_OK;
}

static tq_status matmul_infer(tq_op_call *c) {
  matmul_geom g;
  tq_status st = matmul_prepare(c, &g);
  if (st) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &g.out);
}

/* Element offsets of batch matrix bi in A and B. */
static void batch_offsets(const matmul_geom *g, int64_t bi, int64_t *oa,
                          int64_t *ob) {
  int64_t a = 0, b = 0;
  for (int i = g->nb - 1; i >= 0; i--) {
    const int64_t idx = bi % g->batch[i];
    bi /= g->batch[i];
    a += idx * g->a_stride[i];
    b += idx * g->b_stride[i];
  }
  *oa = a;
  *ob = b;
}

/* Batches from this many on run one whole GEMM per thread at a time;
 * fewer are each split over the threads. */
#define MATMUL_BATCH_PARALLEL 4

static tq_status matmul_forward(tq_op_call *c) {
  matmul_geom g;
  tq_status st = matmul_prepare(c, &g);
  if (st) return st;
  const float *A = tq_cf32(c->in[0]), *B = tq_cf32(c->in[1]);
  float *y = tq_f32(c->out[0]);
  const int threads = tq_nn_threads(c);
  const int64_t mn = g.M * g.N;
  if (g.nbatch == 0 || mn == 0) return TQ_OK;
  if (c->intrinsic) {
    for (int64_t bi = 0; bi < g.nbatch; bi++) {
      int64_t oa, ob;
      batch_offsets(&g, bi, &oa, &ob);
      tq_intrinsic_gemm_args a = {
          .M = (int)g.M,
          .N = (int)g.N,
          .K = (int)g.K,
          .A = A + oa,
          .lda = (size_t)g.K,
          .B = B + ob,
          .ldb = (size_t)g.N,
          .C = y + bi * mn,
          .ldc = (size_t)g.N,
          .iq = c->intrinsic,
          .seed = c->seed,
          .stream = c->stream,
          .index_base = tq_nn_index_base(c, &g.out, (uint64_t)(bi * mn), g.K),
          .threads = threads,
      };
      if ((st = tq_nn_run_intrinsic(c, &a))) return st;
    }
    return TQ_OK;
  }
  /* B shared by every batch and A's batches contiguous: one tall GEMM. */
  int a_contig = 1, b_shared = 1;
  for (int i = 0; i < g.nb; i++) {
    if (g.b_stride[i] != 0 && g.batch[i] != 1) b_shared = 0;
    if (g.a_stride[i] == 0 && g.batch[i] != 1) a_contig = 0;
  }
  if (b_shared && a_contig) {
    if (g.nbatch * g.M > INT_MAX)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "%lld rows exceed the GEMM limit of %d",
                           (long long)(g.nbatch * g.M), INT_MAX);
    tq_nn_sgemm(0, 0, g.nbatch * g.M, g.N, g.K, 1.0f, A, g.K, B, g.N, 0.0f, y,
                g.N, threads);
    return TQ_OK;
  }
  if (g.nbatch < MATMUL_BATCH_PARALLEL) {
    for (int64_t bi = 0; bi < g.nbatch; bi++) {
      int64_t oa, ob;
      batch_offsets(&g, bi, &oa, &ob);
      tq_nn_sgemm(0, 0, g.M, g.N, g.K, 1.0f, A + oa, g.K, B + ob, g.N, 0.0f,
                  y + bi * mn, g.N, threads);
    }
    return TQ_OK;
  }
  int nt = threads > g.nbatch ? (int)g.nbatch : threads;
#pragma omp parallel num_threads(nt)
  {
    tq_nn_blas_single_thread();
#pragma omp for schedule(dynamic, 1)
    for (int64_t bi = 0; bi < g.nbatch; bi++) {
      int64_t oa, ob;
      batch_offsets(&g, bi, &oa, &ob);
      tq_nn_sgemm1(0, 0, g.M, g.N, g.K, 1.0f, A + oa, g.K, B + ob, g.N, 0.0f,
                   y + bi * mn, g.N);
    }
  }
  return TQ_OK;
}

/* ---- backward ----------------------------------------------------------- */

/* Y = alpha op(A) op(B) + beta C:
 * d op(A) = alpha dY op(B)^T, d op(B) = alpha op(A)^T dY, dC = beta dY
 * summed over C's broadcast dimensions (in double, row after row). */
static tq_status gemm_backward(tq_op_call *c, const tq_tensor *const *gout,
                               tq_tensor **gin) {
  gemm_geom g;
  tq_status st = gemm_prepare(c, &g);
  if (st) return st;
  const gemm_params *gp = c->params;
  const float alpha = gp->alpha, beta = gp->beta;
  const float *A = tq_cf32(c->in[0]), *B = tq_cf32(c->in[1]);
  const float *dy = tq_cf32(gout[0]);
  const int threads = tq_nn_threads(c);
  const int ta = g.trans_a, tb = g.trans_b;
  const int64_t lda = ta ? g.M : g.K, ldb = tb ? g.K : g.N;
  if (gin[0]) {
    float *da = tq_f32(gin[0]);
    if (g.N == 0 || g.K == 0)
      memset(da, 0, (size_t)(g.M * g.K) * sizeof *da);
    else if (!ta)
      tq_nn_sgemm(0, !tb, g.M, g.K, g.N, alpha, dy, g.N, B, ldb, 0.0f, da,
                  g.K, threads);
    else
      tq_nn_sgemm(tb, 1, g.K, g.M, g.N, alpha, B, ldb, dy, g.N, 0.0f, da, g.M,
                  threads);
  }
  if (gin[1]) {
    float *db = tq_f32(gin[1]);
    if (g.M == 0 || g.N == 0)
      memset(db, 0, (size_t)(g.K * g.N) * sizeof *db);
    else if (!tb)
      tq_nn_sgemm(!ta, 0, g.K, g.N, g.M, alpha, A, lda, dy, g.N, 0.0f, db,
                  g.N, threads);
    else
      tq_nn_sgemm(1, ta, g.N, g.K, g.M, alpha, dy, g.N, A, lda, 0.0f, db, g.K,
                  threads);
  }
  if (c->n_in > 2 && gin[2] && g.C) {
    float *dc = tq_f32(gin[2]);
    const size_t nc = g.C->numel;
    double *acc = calloc(nc ? nc : 1, sizeof *acc);
    if (!acc)
      return tq_call_error(c, TQ_ERR_NO_MEMORY, "out of memory for dC");
    for (int64_t m = 0; m < g.M; m++)
      for (int64_t n = 0; n < g.N; n++)
        acc[m * g.c_rs + n * g.c_cs] += dy[m * g.N + n];
    for (size_t i = 0; i < nc; i++) dc[i] = (float)((double)beta * acc[i]);
    free(acc);
  }
  return TQ_OK;
}

/* Per batch matrix: dA += dY B^T, dB += A^T dY, batches in order (so
 * broadcast operands sum their gradients deterministically). */
static tq_status matmul_backward(tq_op_call *c, const tq_tensor *const *gout,
                                 tq_tensor **gin) {
  matmul_geom g;
  tq_status st = matmul_prepare(c, &g);
  if (st) return st;
  const float *A = tq_cf32(c->in[0]), *B = tq_cf32(c->in[1]);
  const float *dy = tq_cf32(gout[0]);
  float *da = gin[0] ? tq_f32(gin[0]) : NULL;
  float *db = gin[1] ? tq_f32(gin[1]) : NULL;
  if (da) memset(da, 0, c->in[0]->numel * sizeof *da);
  if (db) memset(db, 0, c->in[1]->numel * sizeof *db);
  const int threads = tq_nn_threads(c);
  const int64_t mn = g.M * g.N;
  if (mn == 0 || g.K == 0) return TQ_OK;
  for (int64_t bi = 0; bi < g.nbatch; bi++) {
    int64_t oa, ob;
    batch_offsets(&g, bi, &oa, &ob);
    if (da)
      tq_nn_sgemm(0, 1, g.M, g.K, g.N, 1.0f, dy + bi * mn, g.N, B + ob, g.N,
                  1.0f, da + oa, g.K, threads);
    if (db)
      tq_nn_sgemm(1, 0, g.K, g.N, g.M, 1.0f, A + oa, g.K, dy + bi * mn, g.N,
                  1.0f, db + ob, g.N, threads);
  }
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_gemm[] = {
    {TQ_OP_ONNX(TQ_OP_GEMM, "Gemm"), TQ_OP_ARITY(2, 3, 1, 1),
     .flags = TQ_OPF_WEIGHTS | TQ_OPF_INTRINSIC,
     TQ_OP_PARAMS(gemm_params, gemm_parse), .infer = gemm_infer,
     .forward = gemm_forward, .backward = gemm_backward},
    {TQ_OP_ONNX(TQ_OP_MATMUL, "MatMul"), TQ_OP_ARITY(2, 2, 1, 1),
     .flags = TQ_OPF_WEIGHTS | TQ_OPF_INTRINSIC, .infer = matmul_infer,
     .forward = matmul_forward, .backward = matmul_backward},
};
const size_t tq_ops_gemm_count = TQ_OP_COUNT_OF(tq_ops_gemm);
