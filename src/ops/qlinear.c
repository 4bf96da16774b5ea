/* Integer operators of quantized ONNX models, computed as ONNX Runtime
 * computes them (docs/onnx.md "Quantized models"):
 *
 *   ConvInteger, MatMulInteger   int32 sums of (x - x_zp)(w - w_zp), wrapping
 *                                in 32 bits
 *   QLinearConv, QLinearMatMul   the same sums (plus an int32 bias), then
 *                                requantized: clamp(round_even(float(acc) *
 *                                fl(fl(x_s * w_s) / y_s)) + y_zp)
 *   com.microsoft QGemm          QLinearMatMul's arithmetic with alpha and
 *                                transA/transB (float output without y_scale)
 *   com.microsoft QLinearAdd, QLinearMul, QLinearGlobalAveragePool,
 *   QLinearAveragePool, QLinearConcat, QLinearLeakyRelu, QLinearSigmoid
 *                                dequantize, compute in float32, quantize
 *                                (GlobalAveragePool: the integer sum scaled
 *                                by x_s / (y_s * positions), as ORT does)
 *
 * Each sum is exact (integers), so the float steps are the only rounding.
 * No backward. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/conv_internal.h"
#include "ops/op_families.h"
#include "ops/qdq_internal.h"
#include "ops/shape_internal.h"

#define Q8 (TQ_DTM(TQ_DTYPE_INT8) | TQ_DTM(TQ_DTYPE_UINT8))
#define I32 TQ_DTM(TQ_DTYPE_INT32)

/* Requantizes an int32 sum: ONNX Runtime's MlasRequantizeOutput. */
static inline int64_t requantize(int32_t acc, float mult, int64_t zp,
                                 const tq_qtype *t) {
  float v = (float)acc * mult;
  const float lo = (float)(t->qmin - zp), hi = (float)(t->qmax - zp);
  v = v < lo ? lo : v > hi ? hi : v;
  return (int64_t)nearbyintf(v) + zp;
}

/* n int32 values (at least one, so that empty tensors allocate). */
static int32_t *new_i32(int64_t n) {
  return malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
}

/* Input i as int32 values minus its zero point: zp scalar, or one per
 * index `zp_axis_len` of the row (per row: zp_per_row). */
static tq_status load_i32(tq_op_call *c, const tq_tensor *t, int32_t **out) {
  *out = malloc((t->numel ? t->numel : 1) * sizeof **out);
  if (!*out) return tq_error_nomem(c->ctx);
  for (size_t i = 0; i < t->numel; i++)
    (*out)[i] = (int32_t)tq_load_i64(t->dtype, t->data, i);
  return TQ_OK;
}

/* A zero point or scale input: absent, one value, or n values (per row or
 * per column/channel). Returns its value count (1 when absent). */
static tq_status check_vec(tq_op_call *c, size_t i, const char *what, size_t n,
                           size_t *count) {
  const tq_tensor *t = i < c->n_in ? c->in[i] : NULL;
  *count = 1;
  if (!t) return TQ_OK;
  if (t->numel == 1 && t->shape.ndim <= 1) return TQ_OK;
  if (t->shape.ndim == 1 && (size_t)t->shape.dims[0] == n) {
    *count = n;
    return TQ_OK;
  }
  return tq_call_error(c, TQ_ERR_SHAPE,
                       "input %zu (%s) must hold 1 or %zu values, it has %zu",
                       i, what, n, t->numel);
}

static int64_t zp_at(const tq_tensor *zp, size_t count, size_t i) {
  return zp ? tq_load_i64(zp->dtype, zp->data, count == 1 ? 0 : i) : 0;
}

static float f_at(const tq_tensor *s, size_t count, size_t i) {
  return tq_cf32(s)[count == 1 ? 0 : i];
}

/* ---- the integer dot-product kernel ---------------------------------------*/

/* C[m * ldc + n] = sum_k A[m * K + k] * Bt[n * K + k], wrapping in 32 bits
 * (ONNX: accumulation may overflow only in 32 bits). Products of values
 * within [-255, 255] fit. */
typedef struct int_gemm {
  const int32_t *A, *Bt;
  int64_t N, K, ldc;
  int32_t *C;
} int_gemm;

static void int_gemm_rows(void *arg, size_t first, size_t len) {
  const int_gemm *g = arg;
  for (size_t m = first; m < first + len; m++) {
    const int32_t *a = g->A + (int64_t)m * g->K;
    for (int64_t n = 0; n < g->N; n++) {
      const int32_t *b = g->Bt + n * g->K;
      uint32_t acc = 0;
      for (int64_t k = 0; k < g->K; k++) acc += (uint32_t)(a[k] * b[k]);
      int32_t r;
      memcpy(&r, &acc, sizeof r);
      g->C[(int64_t)m * g->ldc + n] = r;
    }
  }
}

static void run_int_gemm(const tq_op_call *c, const int_gemm *g, int64_t M) {
  tq_ew_for_chunks((size_t)M, tq_ew_threads(c), int_gemm_rows, (void *)g);
}

/* ---- MatMulInteger, QLinearMatMul, QGemm ----------------------------------*/

/* The product's operands: A [batch..., M, K] (or [K]), B [K, N]. */
typedef struct mm_geom {
  int64_t batch, M, K, N;
  tq_shape out;
} mm_geom;

static tq_status mm_geom_of(tq_op_call *c, const tq_tensor *a,
                            const tq_tensor *b, mm_geom *g) {
  const tq_shape *as = &a->shape, *bs = &b->shape;
  if (as->ndim < 1 || bs->ndim != 2)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "A has rank %d, B rank %d: A of rank >= 1 times a "
                         "2-D B is supported (batched B not yet)",
                         as->ndim, bs->ndim);
  g->K = as->dims[as->ndim - 1];
  g->M = as->ndim >= 2 ? as->dims[as->ndim - 2] : 1;
  g->N = bs->dims[1];
  if (bs->dims[0] != g->K)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "A has %lld columns but B has %lld rows",
                         (long long)g->K, (long long)bs->dims[0]);
  g->batch = 1;
  for (int d = 0; d + 2 < as->ndim; d++) g->batch *= as->dims[d];
  g->out = *as;
  g->out.dims[as->ndim - 1] = g->N;
  return TQ_OK;
}

/* A - a_zp (per row) and B^T - b_zp (per column) as int32. */
static tq_status mm_operands(tq_op_call *c, const tq_tensor *a,
                             const tq_tensor *azp, size_t na,
                             const tq_tensor *b, const tq_tensor *bzp,
                             size_t nb, const mm_geom *g, int32_t **A,
                             int32_t **Bt) {
  tq_status st = load_i32(c, a, A);
  if (st != TQ_OK) return st;
  *Bt = new_i32(g->N * g->K);
  if (!*Bt) return tq_error_nomem(c->ctx);
  for (size_t i = 0; i < a->numel; i++)
    (*A)[i] -= (int32_t)zp_at(azp, na, (i / (size_t)g->K) % (size_t)g->M);
  for (int64_t k = 0; k < g->K; k++)
    for (int64_t n = 0; n < g->N; n++)
      (*Bt)[n * g->K + k] =
          (int32_t)(tq_load_i64(b->dtype, b->data, (size_t)(k * g->N + n)) -
                    zp_at(bzp, nb, (size_t)n));
  return TQ_OK;
}

static tq_status mm_sums(tq_op_call *c, const tq_tensor *a,
                         const tq_tensor *azp, const tq_tensor *b,
                         const tq_tensor *bzp, const mm_geom *g, int32_t *acc) {
  size_t na, nb;
  tq_status st = check_vec(c, 2, "a_zero_point", (size_t)g->M, &na);
  if (st == TQ_OK) st = check_vec(c, 3, "b_zero_point", (size_t)g->N, &nb);
  if (st != TQ_OK) return st;
  int32_t *A = NULL, *Bt = NULL;
  st = mm_operands(c, a, azp, na, b, bzp, nb, g, &A, &Bt);
  for (int64_t i = 0; st == TQ_OK && i < g->batch; i++) {
    const int_gemm gg = {A + i * g->M * g->K,  Bt, g->N, g->K, g->N,
                         acc + i * g->M * g->N};
    run_int_gemm(c, &gg, g->M);
  }
  free(A);
  free(Bt);
  return st;
}

static const tq_tensor *in_at(const tq_op_call *c, size_t i) {
  return i < c->n_in ? c->in[i] : NULL;
}

static tq_status matmul_integer_infer(tq_op_call *c) {
  mm_geom g;
  tq_status st = mm_geom_of(c, c->in[0], c->in[1], &g);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_INT32, &g.out);
}

static tq_status matmul_integer_forward(tq_op_call *c) {
  mm_geom g;
  tq_status st = mm_geom_of(c, c->in[0], c->in[1], &g);
  if (st != TQ_OK) return st;
  /* MatMulInteger's zero points are inputs 2 and 3, as mm_sums checks. */
  return mm_sums(c, c->in[0], in_at(c, 2), c->in[1], in_at(c, 3), &g,
                 c->out[0]->data);
}

/* QLinearMatMul(a, a_s, a_zp, b, b_s, b_zp, y_s, y_zp). */
static tq_status qlinear_matmul_infer(tq_op_call *c) {
  mm_geom g;
  tq_status st = mm_geom_of(c, c->in[0], c->in[3], &g);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 6, "y_scale", TQ_DTM_F32);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 7, "y_zero_point", Q8);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[7]->dtype, &g.out);
}

static tq_status qlinear_matmul_forward(tq_op_call *c) {
  const tq_tensor *a = c->in[0], *b = c->in[3];
  mm_geom g;
  tq_status st = mm_geom_of(c, a, b, &g);
  if (st != TQ_OK) return st;
  /* The shared sums read zero points at inputs 2 and 3: build the call's
   * view with those slots. */
  const tq_tensor *view_in[4] = {a, b, c->in[2], c->in[5]};
  tq_op_call v = *c;
  v.in = view_in;
  v.n_in = 4;
  int32_t *acc = new_i32(c->out[0]->numel);
  if (!acc) return tq_error_nomem(c->ctx);
  st = mm_sums(&v, a, c->in[2], b, c->in[5], &g, acc);
  size_t ns = 1, nbs = 1;
  if (st == TQ_OK) st = check_vec(c, 1, "a_scale", (size_t)g.M, &ns);
  if (st == TQ_OK) st = check_vec(c, 4, "b_scale", (size_t)g.N, &nbs);
  const tq_qtype *t = tq_qtype_of_dtype(c->out[0]->dtype);
  const float ys = tq_cf32(c->in[6])[0];
  const int64_t yzp = tq_qdq_zp(c->in[7], 0);
  for (size_t i = 0; st == TQ_OK && i < c->out[0]->numel; i++) {
    const size_t n = i % (size_t)g.N, m = (i / (size_t)g.N) % (size_t)g.M;
    const float mult = f_at(c->in[1], ns, m) * f_at(c->in[4], nbs, n) / ys;
    tq_store_i64(t->dtype, c->out[0]->data, i,
                 requantize(acc[i], mult, yzp, t));
  }
  free(acc);
  return st;
}

/* ---- QGemm (com.microsoft)
 * --------------------------------------------------*/

typedef struct qgemm_params {
  float alpha;
  int trans_a, trans_b;
} qgemm_params;

static tq_status qgemm_parse(const tq_op_parse *p, void *params) {
  qgemm_params *q = params;
  q->alpha = tq_parse_float(p, "alpha", 1.0f);
  q->trans_a = tq_parse_int(p, "transA", 0) != 0;
  q->trans_b = tq_parse_int(p, "transB", 0) != 0;
  return TQ_OK;
}

static tq_status qgemm_dims(tq_op_call *c, int64_t *M, int64_t *K, int64_t *N) {
  const qgemm_params *q = c->params;
  const tq_shape *as = &c->in[0]->shape, *bs = &c->in[3]->shape;
  if (as->ndim != 2 || bs->ndim != 2)
    return tq_call_error(c, TQ_ERR_SHAPE, "A and B must be 2-D");
  *M = as->dims[q->trans_a];
  *K = as->dims[!q->trans_a];
  *N = bs->dims[!q->trans_b];
  if (bs->dims[q->trans_b] != *K)
    return tq_call_error(c, TQ_ERR_SHAPE, "A gives K = %lld, B %lld",
                         (long long)*K, (long long)bs->dims[q->trans_b]);
  return TQ_OK;
}

static tq_status qgemm_infer(tq_op_call *c) {
  int64_t M = 0, K = 0, N = 0;
  tq_status st = qgemm_dims(c, &M, &K, &N);
  if (st != TQ_OK) return st;
  const tq_shape s = {.ndim = 2, .dims = {M, N}};
  const tq_tensor *ys = in_at(c, 7), *yzp = in_at(c, 8);
  return tq_call_set_output(c, 0,
                            !ys   ? TQ_DTYPE_FLOAT32
                            : yzp ? yzp->dtype
                                  : c->in[0]->dtype,
                            &s);
}

static tq_status qgemm_forward(tq_op_call *c) {
  const qgemm_params *q = c->params;
  int64_t M = 0, K = 0, N = 0;
  tq_status st = qgemm_dims(c, &M, &K, &N);
  if (st != TQ_OK) return st;
  const tq_tensor *a = c->in[0], *b = c->in[3], *bias = in_at(c, 6);
  const tq_tensor *ys = in_at(c, 7), *yzp = in_at(c, 8);
  size_t nbs, nbz;
  if ((st = check_vec(c, 4, "b_scale", (size_t)N, &nbs)) ||
      (st = check_vec(c, 5, "b_zero_point", (size_t)N, &nbz)) ||
      (st = tq_qdq_need_scalar(c, 1, "a_scale", TQ_DTM_F32)) ||
      (st = tq_qdq_need_scalar(c, 2, "a_zero_point", Q8)))
    return st;
  if (bias && bias->numel != 1 && bias->numel != (size_t)N &&
      bias->numel != (size_t)(M * N))
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "input 6 (C) has %zu values; expected 1, N or M x N",
                         bias->numel);
  int32_t *A = new_i32(M * K);
  int32_t *Bt = new_i32(N * K);
  int32_t *acc = new_i32(M * N);
  if (!A || !Bt || !acc) {
    free(A);
    free(Bt);
    free(acc);
    return tq_error_nomem(c->ctx);
  }
  const int64_t azp = tq_qdq_zp(in_at(c, 2), 0);
  for (int64_t m = 0; m < M; m++)
    for (int64_t k = 0; k < K; k++)
      A[m * K + k] =
          (int32_t)(tq_load_i64(a->dtype, a->data,
                                (size_t)(q->trans_a ? k * M + m : m * K + k)) -
                    azp);
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++)
      Bt[n * K + k] =
          (int32_t)(tq_load_i64(b->dtype, b->data,
                                (size_t)(q->trans_b ? n * K + k : k * N + n)) -
                    zp_at(in_at(c, 5), nbz, (size_t)n));
  const int_gemm gg = {A, Bt, N, K, N, acc};
  run_int_gemm(c, &gg, M);
  const float as = tq_cf32(c->in[1])[0];
  const tq_qtype *t = ys ? tq_qtype_of_dtype(c->out[0]->dtype) : NULL;
  const int64_t zp = tq_qdq_zp(yzp, 0);
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      const size_t i = (size_t)(m * N + n);
      int32_t v = acc[i];
      if (bias) {
        const size_t bi = bias->numel == 1           ? 0
                          : bias->numel == (size_t)N ? (size_t)n
                                                     : i;
        const uint32_t s = (uint32_t)v + (uint32_t)((int32_t *)bias->data)[bi];
        memcpy(&v, &s, sizeof v);
      }
      const float scale = q->alpha * as * f_at(c->in[4], nbs, (size_t)n);
      if (!ys)
        tq_f32(c->out[0])[i] = (float)v * scale;
      else
        tq_store_i64(t->dtype, c->out[0]->data, i,
                     requantize(v, scale / tq_cf32(ys)[0], zp, t));
    }
  free(A);
  free(Bt);
  free(acc);
  return TQ_OK;
}

/* ---- ConvInteger, QLinearConv
 * ----------------------------------------------*/

typedef struct qconv_geom {
  tq_nn_window w;
  int64_t N, C, M, G, Cg, Mg, kvol, K, Pin, P;
  tq_shape out;
} qconv_geom;

/* x is input xi, w input wi. */
static tq_status qconv_geom_of(tq_op_call *c, size_t xi, size_t wi,
                               qconv_geom *g) {
  const conv_params *cp = c->params;
  const tq_shape *xs = &c->in[xi]->shape, *ws = &c->in[wi]->shape;
  if (xs->ndim < 3 || xs->ndim > 5 || ws->ndim != xs->ndim)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "x has rank %d and w rank %d; expected the same "
                         "rank, 3 to 5",
                         xs->ndim, ws->ndim);
  const int nsp = xs->ndim - 2;
  memset(g, 0, sizeof *g);
  g->N = xs->dims[0];
  g->C = xs->dims[1];
  g->M = ws->dims[0];
  g->G = cp->group;
  if (g->C % g->G || g->M % g->G || ws->dims[1] != g->C / g->G)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "x has %lld channels and w shape [%lld, %lld, ...] "
                         "with group %lld: they do not fit",
                         (long long)g->C, (long long)ws->dims[0],
                         (long long)ws->dims[1], (long long)g->G);
  g->Cg = g->C / g->G;
  g->Mg = g->M / g->G;
  tq_status st =
      tq_nn_window_read(c, &cp->win, nsp, xs->dims + 2, ws->dims + 2, &g->w);
  if (st != TQ_OK) return st;
  g->kvol = g->w.kernel[0] * g->w.kernel[1] * g->w.kernel[2];
  g->K = g->Cg * g->kvol;
  g->Pin = g->w.in[0] * g->w.in[1] * g->w.in[2];
  g->P = g->w.out[0] * g->w.out[1] * g->w.out[2];
  g->out.ndim = xs->ndim;
  g->out.dims[0] = g->N;
  g->out.dims[1] = g->M;
  for (int d = 0; d < nsp; d++)
    g->out.dims[2 + d] = g->w.out[TQ_NN_MAX_SPATIAL - nsp + d];
  return TQ_OK;
}

/* col[p * K + k] = x - x_zp at output position p and tap k of one image
 * and group (0 in the padding, where ONNX Runtime pads with the zero
 * point). */
static void qconv_im2col(const qconv_geom *g, const tq_tensor *x, size_t x0,
                         int64_t xzp, int32_t *col) {
  const tq_nn_window *w = &g->w;
  for (int64_t od = 0, p = 0; od < w->out[0]; od++)
    for (int64_t oh = 0; oh < w->out[1]; oh++)
      for (int64_t ow = 0; ow < w->out[2]; ow++, p++) {
        int32_t *dst = col + p * g->K;
        for (int64_t ch = 0; ch < g->Cg; ch++)
          for (int64_t i = 0; i < w->kernel[0]; i++)
            for (int64_t j = 0; j < w->kernel[1]; j++)
              for (int64_t l = 0; l < w->kernel[2]; l++) {
                const int64_t id = od * w->stride[0] - w->pad_lo[0] +
                                   i * w->dil[0],
                              ih = oh * w->stride[1] - w->pad_lo[1] +
                                   j * w->dil[1],
                              iw = ow * w->stride[2] - w->pad_lo[2] +
                                   l * w->dil[2];
                const int in = id >= 0 && id < w->in[0] && ih >= 0 &&
                               ih < w->in[1] && iw >= 0 && iw < w->in[2];
                *dst++ = in ? (int32_t)(tq_load_i64(
                                            x->dtype, x->data,
                                            x0 + (size_t)(ch * g->Pin +
                                                          (id * w->in[1] + ih) *
                                                              w->in[2] +
                                                          iw)) -
                                        xzp)
                            : 0;
              }
      }
}

/* acc[n][m][p] = sum (x - x_zp)(w - w_zp[m]) (+ bias[m]), int32. */
static tq_status qconv_sums(tq_op_call *c, const qconv_geom *g,
                            const tq_tensor *x, int64_t xzp, const tq_tensor *w,
                            const tq_tensor *wzp, size_t nwz,
                            const tq_tensor *bias, int32_t *acc) {
  int32_t *W = NULL;
  tq_status st = load_i32(c, w, &W);
  if (st != TQ_OK) return st;
  for (int64_t m = 0; m < g->M; m++)
    for (int64_t k = 0; k < g->K; k++)
      W[m * g->K + k] -= (int32_t)zp_at(wzp, nwz, (size_t)m);
  int32_t *col = new_i32(g->P * g->K);
  if (!col) {
    free(W);
    return tq_error_nomem(c->ctx);
  }
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t gr = 0; gr < g->G; gr++) {
      qconv_im2col(g, x, (size_t)((n * g->C + gr * g->Cg) * g->Pin), xzp, col);
      int32_t *y = acc + (n * g->M + gr * g->Mg) * g->P;
      const int_gemm gg = {W + gr * g->Mg * g->K, col, g->P, g->K, g->P, y};
      run_int_gemm(c, &gg, g->Mg);
      for (int64_t m = 0; bias && m < g->Mg; m++)
        for (int64_t p = 0; p < g->P; p++) {
          const uint32_t s =
              (uint32_t)y[m * g->P + p] +
              (uint32_t)((const int32_t *)bias->data)[gr * g->Mg + m];
          memcpy(&y[m * g->P + p], &s, sizeof s);
        }
    }
  free(W);
  free(col);
  return TQ_OK;
}

static tq_status conv_integer_infer(tq_op_call *c) {
  qconv_geom g;
  tq_status st = qconv_geom_of(c, 0, 1, &g);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 2, "x_zero_point", Q8);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_INT32, &g.out);
}

static tq_status conv_integer_forward(tq_op_call *c) {
  qconv_geom g;
  size_t nwz;
  tq_status st = qconv_geom_of(c, 0, 1, &g);
  if (st == TQ_OK) st = check_vec(c, 3, "w_zero_point", (size_t)g.M, &nwz);
  if (st != TQ_OK) return st;
  return qconv_sums(c, &g, c->in[0], tq_qdq_zp(in_at(c, 2), 0), c->in[1],
                    in_at(c, 3), nwz, NULL, c->out[0]->data);
}

/* QLinearConv(x, x_s, x_zp, w, w_s, w_zp, y_s, y_zp, B). */
static tq_status qlinear_conv_infer(tq_op_call *c) {
  qconv_geom g;
  tq_status st = qconv_geom_of(c, 0, 3, &g);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 1, "x_scale", TQ_DTM_F32);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 2, "x_zero_point", Q8);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 6, "y_scale", TQ_DTM_F32);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 7, "y_zero_point", Q8);
  const tq_tensor *b = in_at(c, 8);
  if (st == TQ_OK && b &&
      (b->dtype != TQ_DTYPE_INT32 || b->numel != (size_t)g.M))
    st = tq_call_error(c, TQ_ERR_SHAPE,
                       "input 8 (B) must be int32 with %lld values, it is %s "
                       "with %zu",
                       (long long)g.M, tq_dtype_name(b->dtype), b->numel);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[7]->dtype, &g.out);
}

static tq_status qlinear_conv_forward(tq_op_call *c) {
  qconv_geom g;
  size_t nws, nwz;
  tq_status st = qconv_geom_of(c, 0, 3, &g);
  if (st == TQ_OK) st = check_vec(c, 4, "w_scale", (size_t)g.M, &nws);
  if (st == TQ_OK) st = check_vec(c, 5, "w_zero_point", (size_t)g.M, &nwz);
  if (st != TQ_OK) return st;
  tq_tensor *y = c->out[0];
  int32_t *acc = malloc((y->numel ? y->numel : 1) * sizeof *acc);
  if (!acc) return tq_error_nomem(c->ctx);
  st = qconv_sums(c, &g, c->in[0], tq_qdq_zp(c->in[2], 0), c->in[3],
                  in_at(c, 5), nwz, in_at(c, 8), acc);
  const tq_qtype *t = tq_qtype_of_dtype(y->dtype);
  const float xs = tq_cf32(c->in[1])[0], ys = tq_cf32(c->in[6])[0];
  const int64_t yzp = tq_qdq_zp(c->in[7], 0);
  for (int64_t n = 0; st == TQ_OK && n < g.N; n++)
    for (int64_t m = 0; m < g.M; m++) {
      const float mult = xs * f_at(c->in[4], nws, (size_t)m) / ys;
      for (int64_t p = 0; p < g.P; p++) {
        const size_t i = (size_t)((n * g.M + m) * g.P + p);
        tq_store_i64(t->dtype, y->data, i, requantize(acc[i], mult, yzp, t));
      }
    }
  free(acc);
  return st;
}

/* ---- QLinearAdd, QLinearMul (com.microsoft)
 * --------------------------------*/

typedef struct qbin_arg {
  const tq_tensor *a, *b;
  float as, bs, cs;
  int64_t azp, bzp, czp;
  const tq_qtype *t;
  int mul;
  void *out;
} qbin_arg;

static void qbin_row(void *arg, size_t of, const int64_t *first,
                     const int64_t *step, size_t n) {
  const qbin_arg *g = arg;
  for (size_t i = 0; i < n; i++) {
    const float a =
        g->as * (float)(tq_load_i64(g->a->dtype, g->a->data,
                                    (size_t)(first[0] + (int64_t)i * step[0])) -
                        g->azp);
    const float b =
        g->bs * (float)(tq_load_i64(g->b->dtype, g->b->data,
                                    (size_t)(first[1] + (int64_t)i * step[1])) -
                        g->bzp);
    tq_store_i64(g->t->dtype, g->out, of + i,
                 tq_qdq_quantize_int(g->mul ? a * b : a + b, g->cs, g->czp,
                                     g->t->qmin, g->t->qmax));
  }
}

static tq_status qbin_check(tq_op_call *c, tq_shape *out) {
  static const char *const names[] = {"A_scale",     "A_zero_point", "",
                                      "B_scale",     "B_zero_point", "C_scale",
                                      "C_zero_point"};
  tq_status st = TQ_OK;
  for (size_t i = 1; st == TQ_OK && i < 8; i++)
    if (i != 3)
      st = tq_qdq_need_scalar(c, i, names[i - 1],
                              i == 1 || i == 4 || i == 6 ? TQ_DTM_F32 : Q8);
  if (st != TQ_OK) return st;
  if (c->in[0]->dtype != c->in[3]->dtype)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "A and B have different dtypes");
  return tq_ew_broadcast_shape(c, &c->in[0]->shape, &c->in[3]->shape, "A and B",
                               out);
}

static tq_status qbin_infer(tq_op_call *c) {
  tq_shape s;
  tq_status st = qbin_check(c, &s);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &s);
}

static tq_status qbin_forward(tq_op_call *c) {
  tq_ew_plan p;
  const tq_shape *ins[2] = {&c->in[0]->shape, &c->in[3]->shape};
  tq_ew_plan_build(&p, &c->out[0]->shape, ins, 2);
  const tq_tensor *czp = in_at(c, 7);
  qbin_arg g = {c->in[0],
                c->in[3],
                tq_cf32(c->in[1])[0],
                tq_cf32(c->in[4])[0],
                tq_cf32(c->in[6])[0],
                tq_qdq_zp(in_at(c, 2), 0),
                tq_qdq_zp(in_at(c, 5), 0),
                tq_qdq_zp(czp, 0),
                tq_qtype_of_dtype(c->out[0]->dtype),
                c->desc->id == TQ_OP_QLINEAR_MUL,
                c->out[0]->data};
  tq_ew_run(&p, tq_ew_threads(c), qbin_row, &g);
  return TQ_OK;
}

/* ---- unary: QLinearLeakyRelu, QLinearSigmoid (com.microsoft)
 * ---------------*/

typedef struct qunary_params {
  float alpha;       /* LeakyRelu */
  int channels_last; /* GlobalAveragePool */
} qunary_params;

static tq_status qunary_parse(const tq_op_parse *p, void *params) {
  qunary_params *q = params;
  q->alpha = tq_parse_float(p, "alpha", 0.01f);
  q->channels_last = tq_parse_int(p, "channels_last", 0) != 0;
  return TQ_OK;
}

static tq_status qunary_infer(tq_op_call *c) {
  tq_status st = tq_qdq_need_scalar(c, 1, "X_scale", TQ_DTM_F32);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 2, "X_zero_point", Q8);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 3, "Y_scale", TQ_DTM_F32);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 4, "Y_zero_point", Q8);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &c->in[0]->shape);
}

/* The 256 outputs of every input code, as ONNX Runtime's lookup table:
 * quantize(f(dequantize(x))). */
static tq_status qunary_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  const float xs = tq_cf32(c->in[1])[0], ys = tq_cf32(c->in[3])[0];
  const int64_t xzp = tq_qdq_zp(in_at(c, 2), 0),
                yzp = tq_qdq_zp(in_at(c, 4), 0);
  const float alpha = ((const qunary_params *)c->params)->alpha;
  const tq_qtype *t = tq_qtype_of_dtype(x->dtype);
  int64_t table[256];
  for (int64_t q = t->qmin; q <= t->qmax; q++) {
    float v = xs * (float)(q - xzp);
    v = c->desc->id == TQ_OP_QLINEAR_SIGMOID ? 1.0f / (1.0f + expf(-v))
        : v < 0.0f                           ? v * alpha
                                             : v;
    table[q - t->qmin] = tq_qdq_quantize_int(v, ys, yzp, t->qmin, t->qmax);
  }
  for (size_t i = 0; i < x->numel; i++)
    tq_store_i64(x->dtype, c->out[0]->data, i,
                 table[tq_load_i64(x->dtype, x->data, i) - t->qmin]);
  return TQ_OK;
}

/* ---- QLinearGlobalAveragePool (com.microsoft)
 * -------------------------------*/

static tq_status qgap_infer(tq_op_call *c) {
  const tq_shape *xs = &c->in[0]->shape;
  if (xs->ndim < 3)
    return tq_call_error(c, TQ_ERR_SHAPE, "X must have rank >= 3");
  if (((const qunary_params *)c->params)->channels_last)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "channels_last = 1 is not supported yet");
  tq_status st = qunary_infer(c);
  if (st != TQ_OK) return st;
  tq_shape s = *xs;
  for (int d = 2; d < s.ndim; d++) s.dims[d] = 1;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &s);
}

static tq_status qgap_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  const size_t planes = (size_t)(x->shape.dims[0] * x->shape.dims[1]);
  const size_t P = planes ? x->numel / planes : 0;
  const float xs = tq_cf32(c->in[1])[0], ys = tq_cf32(c->in[3])[0];
  const int64_t xzp = tq_qdq_zp(in_at(c, 2), 0),
                yzp = tq_qdq_zp(in_at(c, 4), 0);
  const tq_qtype *t = tq_qtype_of_dtype(x->dtype);
  const float mult = xs / (ys * (float)P);
  for (size_t i = 0; i < planes; i++) {
    int64_t sum = 0;
    for (size_t p = 0; p < P; p++)
      sum += tq_load_i64(x->dtype, x->data, i * P + p);
    sum -= xzp * (int64_t)P;
    tq_store_i64(x->dtype, c->out[0]->data, i,
                 requantize((int32_t)sum, mult, yzp, t));
  }
  return TQ_OK;
}

/* ---- QLinearAveragePool (com.microsoft)
 * -------------------------------------*/

/* Runs the float AveragePool of the node's attributes on xf into yf (infer
 * only when forward is 0). */
static tq_status float_avgpool(tq_op_call *c, const tq_tensor *xf,
                               tq_tensor *yf, int forward) {
  const tq_op_desc *d = tq_op_lookup("", "AveragePool", c->opset);
  if (!d) return tq_call_error(c, TQ_ERR_INTERNAL, "no AveragePool");
  for (size_t i = 0; i < c->n_attrs; i++)
    if (!strcmp(c->attrs[i].a.name, "channels_last") && c->attrs[i].a.i)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "channels_last = 1 is not supported yet");
  const tq_tensor *ins[1] = {xf};
  tq_tensor *outs[1] = {yf};
  tq_op_call v = *c;
  v.desc = d;
  v.in = ins;
  v.n_in = 1;
  v.out = outs;
  v.n_out = 1;
  v.cache = NULL;
  void *params = NULL;
  tq_status st = tq_op_call_parse(&v, &params);
  if (st == TQ_OK) st = d->infer(&v);
  if (st == TQ_OK && forward) st = d->forward(&v);
  free(params);
  return st;
}

static tq_status qavgpool_infer(tq_op_call *c) {
  tq_status st = qunary_infer(c);
  tq_tensor *xf = NULL;
  if (st == TQ_OK)
    st = tq_tensor_create(c->ctx, TQ_DTYPE_FLOAT32, &c->in[0]->shape, &xf);
  if (st == TQ_OK) st = float_avgpool(c, xf, c->out[0], 0);
  if (st == TQ_OK)
    st = tq_call_set_output(c, 0, c->in[0]->dtype, &c->out[0]->shape);
  tq_tensor_destroy(xf);
  return st;
}

/* Dequantize, float AveragePool, quantize (ONNX Runtime's kernel). */
static tq_status qavgpool_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0], *xf = NULL, *yf = NULL;
  const float xs = tq_cf32(c->in[1])[0], ys = tq_cf32(c->in[3])[0];
  const int64_t xzp = tq_qdq_zp(in_at(c, 2), 0),
                yzp = tq_qdq_zp(in_at(c, 4), 0);
  const tq_qtype *t = tq_qtype_of_dtype(x->dtype);
  tq_status st = tq_tensor_create(c->ctx, TQ_DTYPE_FLOAT32, &x->shape, &xf);
  if (st == TQ_OK)
    st = tq_tensor_create(c->ctx, TQ_DTYPE_FLOAT32, &y->shape, &yf);
  for (size_t i = 0; st == TQ_OK && i < x->numel; i++)
    tq_f32(xf)[i] = xs * (float)(tq_load_i64(x->dtype, x->data, i) - xzp);
  if (st == TQ_OK) st = float_avgpool(c, xf, yf, 1);
  for (size_t i = 0; st == TQ_OK && i < y->numel; i++)
    tq_store_i64(
        y->dtype, y->data, i,
        tq_qdq_quantize_int(tq_cf32(yf)[i], ys, yzp, t->qmin, t->qmax));
  tq_tensor_destroy(xf);
  tq_tensor_destroy(yf);
  return st;
}

/* ---- QLinearConcat (com.microsoft)
 * ------------------------------------------*/

typedef struct qconcat_params {
  int64_t axis;
} qconcat_params;

static tq_status qconcat_parse(const tq_op_parse *p, void *params) {
  qconcat_params *q = params;
  if (!tq_parse_attr(p, "axis"))
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "attribute axis is required");
  q->axis = tq_parse_int(p, "axis", 0);
  if ((p->n_in - 2) % 3)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "expects Y_scale, Y_zero_point and then (X, X_scale, "
                          "X_zero_point) triples; it has %zu inputs",
                          p->n_in);
  return TQ_OK;
}

static tq_status qconcat_infer(tq_op_call *c) {
  const qconcat_params *q = c->params;
  tq_status st = tq_qdq_need_scalar(c, 0, "Y_scale", TQ_DTM_F32);
  if (st == TQ_OK) st = tq_qdq_need_scalar(c, 1, "Y_zero_point", Q8);
  if (st != TQ_OK) return st;
  const tq_tensor *first = c->in[2];
  int axis;
  if ((st = tq_call_axis(c, q->axis, first->shape.ndim, &axis))) return st;
  tq_shape s = first->shape;
  s.dims[axis] = 0;
  for (size_t k = 2; k < c->n_in; k += 3) {
    const tq_tensor *x = c->in[k];
    if ((st = tq_qdq_need_scalar(c, k + 1, "X_scale", TQ_DTM_F32)) ||
        (st = tq_qdq_need_scalar(c, k + 2, "X_zero_point", Q8)))
      return st;
    int ok = x && x->dtype == c->in[1]->dtype && x->shape.ndim == s.ndim;
    for (int d = 0; ok && d < s.ndim; d++)
      ok = d == axis || x->shape.dims[d] == s.dims[d];
    if (!ok)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "input %zu does not match the first input's dtype "
                           "and shape off axis %d",
                           k, axis);
    s.dims[axis] += x->shape.dims[axis];
  }
  return tq_call_set_output(c, 0, c->in[1]->dtype, &s);
}

static tq_status qconcat_forward(tq_op_call *c) {
  const qconcat_params *q = c->params;
  tq_tensor *y = c->out[0];
  int axis;
  tq_status st = tq_call_axis(c, q->axis, y->shape.ndim, &axis);
  if (st != TQ_OK) return st;
  size_t outer, inner;
  tq_shape_outer_inner(&y->shape, axis, &outer, &inner);
  const size_t ylen = (size_t)y->shape.dims[axis] * inner;
  const float ys = tq_cf32(c->in[0])[0];
  const int64_t yzp = tq_qdq_zp(c->in[1], 0);
  const tq_qtype *t = tq_qtype_of_dtype(y->dtype);
  size_t at = 0;
  for (size_t k = 2; k < c->n_in; k += 3) {
    const tq_tensor *x = c->in[k];
    const float xs = tq_cf32(c->in[k + 1])[0];
    const int64_t xzp = tq_qdq_zp(c->in[k + 2], 0);
    const size_t xlen = (size_t)x->shape.dims[axis] * inner;
    for (size_t o = 0; o < outer; o++)
      for (size_t i = 0; i < xlen; i++) {
        const int64_t v = tq_load_i64(x->dtype, x->data, o * xlen + i);
        tq_store_i64(y->dtype, y->data, o * ylen + at + i,
                     xs == ys && xzp == yzp
                         ? v
                         : tq_qdq_quantize_int(xs * (float)(v - xzp), ys, yzp,
                                               t->qmin, t->qmax));
      }
    at += xlen;
  }
  return TQ_OK;
}

/* ---- descriptors
 * -------------------------------------------------------------*/

/* A descriptor of the default domain from opset `first` on, or of
 * com.microsoft (version 1 on). */
#define QL_OP(op_id, op_name, first)                                    \
  .id = (op_id), .name = (op_name), .domain = "", .min_opset = (first), \
  .max_opset = TQ_OPSET_OPEN
#define MS_OP(op_id, op_name)                                               \
  .id = (op_id), .name = (op_name), .domain = TQ_DOMAIN_MS, .min_opset = 1, \
  .max_opset = TQ_OPSET_OPEN

const tq_op_desc tq_ops_qlinear[] = {
    {QL_OP(TQ_OP_MATMUL_INTEGER, "MatMulInteger", 10), TQ_OP_ARITY(2, 4, 1, 1),
     TQ_OP_TYPES(Q8), .infer = matmul_integer_infer,
     .forward = matmul_integer_forward},
    {QL_OP(TQ_OP_QLINEAR_MATMUL, "QLinearMatMul", 10), TQ_OP_ARITY(8, 8, 1, 1),
     TQ_OP_TYPES(Q8, TQ_DTM_F32, Q8, Q8, TQ_DTM_F32, Q8, TQ_DTM_F32, Q8),
     .infer = qlinear_matmul_infer, .forward = qlinear_matmul_forward},
    {QL_OP(TQ_OP_CONV_INTEGER, "ConvInteger", 10), TQ_OP_ARITY(2, 4, 1, 1),
     TQ_OP_TYPES(Q8), TQ_OP_PARAMS(conv_params, tq_conv_parse),
     .infer = conv_integer_infer, .forward = conv_integer_forward},
    {QL_OP(TQ_OP_QLINEAR_CONV, "QLinearConv", 10), TQ_OP_ARITY(8, 9, 1, 1),
     TQ_OP_TYPES(Q8, TQ_DTM_F32, Q8, Q8, TQ_DTM_F32, Q8, TQ_DTM_F32, Q8, I32),
     TQ_OP_PARAMS(conv_params, tq_conv_parse), .infer = qlinear_conv_infer,
     .forward = qlinear_conv_forward},
    {MS_OP(TQ_OP_QGEMM, "QGemm"), TQ_OP_ARITY(6, 9, 1, 1),
     TQ_OP_TYPES(Q8, TQ_DTM_F32, Q8, Q8, TQ_DTM_F32, Q8, I32, TQ_DTM_F32, Q8),
     TQ_OP_PARAMS(qgemm_params, qgemm_parse), .infer = qgemm_infer,
     .forward = qgemm_forward},
    {MS_OP(TQ_OP_QLINEAR_ADD, "QLinearAdd"), TQ_OP_ARITY(7, 8, 1, 1),
     TQ_OP_TYPES(Q8, TQ_DTM_F32, Q8, Q8, TQ_DTM_F32, Q8, TQ_DTM_F32, Q8),
     .infer = qbin_infer, .forward = qbin_forward},
    {MS_OP(TQ_OP_QLINEAR_MUL, "QLinearMul"), TQ_OP_ARITY(7, 8, 1, 1),
     TQ_OP_TYPES(Q8, TQ_DTM_F32, Q8, Q8, TQ_DTM_F32, Q8, TQ_DTM_F32, Q8),
     .infer = qbin_infer, .forward = qbin_forward},
    {MS_OP(TQ_OP_QLINEAR_LEAKY_RELU, "QLinearLeakyRelu"),
     TQ_OP_ARITY(4, 5, 1, 1), TQ_OP_TYPES(Q8, TQ_DTM_F32, Q8, TQ_DTM_F32, Q8),
     TQ_OP_PARAMS(qunary_params, qunary_parse), .infer = qunary_infer,
     .forward = qunary_forward},
    {MS_OP(TQ_OP_QLINEAR_SIGMOID, "QLinearSigmoid"), TQ_OP_ARITY(4, 5, 1, 1),
     TQ_OP_TYPES(Q8, TQ_DTM_F32, Q8, TQ_DTM_F32, Q8),
     TQ_OP_PARAMS(qunary_params, qunary_parse), .infer = qunary_infer,
     .forward = qunary_forward},
    {MS_OP(TQ_OP_QLINEAR_GLOBAL_AVERAGE_POOL, "QLinearGlobalAveragePool"),
     TQ_OP_ARITY(4, 5, 1, 1), TQ_OP_TYPES(Q8, TQ_DTM_F32, Q8, TQ_DTM_F32, Q8),
     TQ_OP_PARAMS(qunary_params, qunary_parse), .infer = qgap_infer,
     .forward = qgap_forward},
    {MS_OP(TQ_OP_QLINEAR_AVERAGE_POOL, "QLinearAveragePool"),
     TQ_OP_ARITY(4, 5, 1, 1), TQ_OP_TYPES(Q8, TQ_DTM_F32, Q8, TQ_DTM_F32, Q8),
     .infer = qavgpool_infer, .forward = qavgpool_forward},
    {MS_OP(TQ_OP_QLINEAR_CONCAT, "QLinearConcat"), TQ_OP_ARITY(5, -1, 1, 1),
     /* scales float32, tensors and zero points int8/uint8: checked by
      * infer, triple by triple */
     TQ_OP_TYPES(TQ_DTM_F32 | Q8), TQ_OP_PARAMS(qconcat_params, qconcat_parse),
     .infer = qconcat_infer, .forward = qconcat_forward},
};
const size_t tq_ops_qlinear_count = TQ_OP_COUNT_OF(tq_ops_qlinear);
