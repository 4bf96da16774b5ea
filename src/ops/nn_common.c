/* What the neural-network operators (conv.c, gemm.c, pool.c, norm.c)
 * share: window attributes and geometry, input checks, the threaded float
 * GEMM, intrinsic numbering. */
#include <cblas.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/nn_internal.h"

/* Attribute values beyond this are rejected, so that products of two of
 * them (kernel extent, stride times size) cannot overflow int64. */
#define NN_ATTR_MAX ((int64_t)1 << 31)

/* Keeps the first values of a list (more never fit a node: the count
 * check at infer rejects them). */
static void keep_ints(const int64_t *v, size_t n, tq_nn_ints *out) {
  out->n = n;
  for (size_t i = 0; i < n && i < TQ_NN_MAX_INTS; i++) out->v[i] = v[i];
}

tq_status tq_nn_parse_ints(const tq_op_parse *p, const char *name, int64_t lo,
                           tq_nn_ints *out) {
  const tq_attr *a = tq_parse_attr(p, name);
  memset(out, 0, sizeof *out);
  if (!a) return TQ_OK;
  if (a->type != TQ_ATTR_INTS)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "attribute %s must be a list of integers", name);
  for (size_t i = 0; i < a->count; i++)
    if (a->ints[i] < lo || a->ints[i] > NN_ATTR_MAX)
      return tq_parse_error(p, TQ_ERR_RANGE,
                            "attribute %s[%zu] = %lld is out of range "
                            "(expected %lld..%lld)",
                            name, i, (long long)a->ints[i], (long long)lo,
                            (long long)NN_ATTR_MAX);
  keep_ints(a->ints, a->count, out);
  return TQ_OK;
}

void tq_nn_parse_kernel_shape(const tq_op_parse *p, tq_nn_ints *out) {
  size_t n = 0;
  const int64_t *v = tq_parse_ints(p, "kernel_shape", &n);
  memset(out, 0, sizeof *out);
  keep_ints(v, n, out);
}

tq_status tq_nn_parse_window(const tq_op_parse *p, tq_nn_window_kind kind,
                             tq_nn_window_attrs *w) {
  tq_status st;
  tq_nn_parse_kernel_shape(p, &w->kernel_shape);
  if ((st = tq_nn_parse_ints(p, "strides", 1, &w->strides)) ||
      (st = tq_nn_parse_ints(p, "dilations", 1, &w->dilations)) ||
      (st = tq_nn_parse_ints(p, "pads", 0, &w->pads)))
    return st;
  /* In TQ_NN_NOTSET ... order; some exporters write "" for NOTSET. */
  static const char *const modes[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER",
                                      "VALID"};
  const char *s = tq_parse_string(p, "auto_pad", "NOTSET");
  w->auto_pad = !s || !*s ? TQ_NN_NOTSET : tq_parse_index(s, modes, 4);
  if (w->auto_pad < 0)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "auto_pad is \"%s\"; expected NOTSET, SAME_UPPER, "
                          "SAME_LOWER or VALID",
                          s);
  w->ceil_mode = 0;
  if (kind == TQ_NN_WIN_POOL) {
    const int64_t ceil_mode = tq_parse_int(p, "ceil_mode", 0);
    if (ceil_mode != 0 && ceil_mode != 1)
      return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                            "ceil_mode is %lld; expected 0 or 1",
                            (long long)ceil_mode);
    w->ceil_mode = (int)ceil_mode;
  }
  return TQ_OK;
}

tq_status tq_nn_ints_get(tq_op_call *c, const tq_nn_ints *a, const char *name,
                         int n, int64_t dflt, int64_t *out) {
  /* Some exporters write an empty list for "default". */
  if (a->n == 0) {
    for (int i = 0; i < n; i++) out[i] = dflt;
    return TQ_OK;
  }
  if (a->n != (size_t)n)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "attribute %s has %zu values, expected %d", name, a->n,
                         n);
  for (int i = 0; i < n; i++) out[i] = a->v[i];
  return TQ_OK;
}

tq_status tq_nn_check_input(tq_op_call *c, size_t i, const char *what, int lo,
                            int hi) {
  if (i >= c->n_in || !c->in[i])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "input %zu (%s) is missing", i, what);
  const tq_tensor *t = c->in[i];
  if (t->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "input %zu (%s) must be float32", i, what);
  if (t->shape.ndim < lo || t->shape.ndim > hi) {
    char buf[128];
    tq_shape_format(&t->shape, buf, sizeof buf);
    if (lo == hi)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "input %zu (%s) must have rank %d, got shape %s", i,
                           what, lo, buf);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "input %zu (%s) must have rank %d to %d, got shape %s",
                         i, what, lo, hi, buf);
  }
  return TQ_OK;
}

static int64_t ceil_div(int64_t a, int64_t b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

tq_status tq_nn_window_read(tq_op_call *c, const tq_nn_window_attrs *a, int nsp,
                            const int64_t *in_dims, const int64_t *kernel,
                            tq_nn_window *w) {
  int64_t strides[3], dil[3], pads[6];
  const int mode = a->auto_pad;
  const int64_t ceil_mode = a->ceil_mode;
  tq_status st;
  if ((st = tq_nn_ints_get(c, &a->strides, "strides", nsp, 1, strides)) ||
      (st = tq_nn_ints_get(c, &a->dilations, "dilations", nsp, 1, dil)) ||
      (st = tq_nn_ints_get(c, &a->pads, "pads", 2 * nsp, 0, pads)))
    return st;
  memset(w, 0, sizeof *w);
  w->nsp = nsp;
  const int o = TQ_NN_MAX_SPATIAL - nsp;
  for (int d = 0; d < TQ_NN_MAX_SPATIAL; d++) {
    w->in[d] = w->out[d] = w->kernel[d] = w->stride[d] = w->dil[d] = 1;
  }
  for (int d = 0; d < nsp; d++) {
    const int D = o + d;
    const int64_t in = in_dims[d], k = kernel[d], s = strides[d];
    if (k < 1 || k > NN_ATTR_MAX)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "kernel size %lld along spatial axis %d is out of "
                           "range (expected 1..%lld)",
                           (long long)k, d, (long long)NN_ATTR_MAX);
    const int64_t dk = (k - 1) * dil[d] + 1;
    int64_t lo, hi;
    switch (mode) {
      case TQ_NN_VALID: lo = hi = 0; break;
      case TQ_NN_SAME_UPPER:
      case TQ_NN_SAME_LOWER: {
        /* ONNX: output = ceil(in / stride), pads from the dilated kernel;
         * the odd unit goes to the end for SAME_UPPER. */
        int64_t total = (ceil_div(in, s) - 1) * s + dk - in;
        if (total < 0) total = 0;
        lo = mode == TQ_NN_SAME_UPPER ? total / 2 : total - total / 2;
        hi = total - lo;
        break;
      }
      default:
        lo = pads[d];
        hi = pads[d + nsp];
        break;
    }
    const int64_t span = in + lo + hi - dk;
    if (span < 0)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "input size %lld along spatial axis %d with pads "
                           "%lld+%lld is smaller than the kernel extent %lld",
                           (long long)in, d, (long long)lo, (long long)hi,
                           (long long)dk);
    int64_t out = span / s + 1;
    if (ceil_mode) {
      out = ceil_div(span, s) + 1;
      /* As PyTorch and ONNX Runtime: the last window must start inside
       * the input or the left padding. */
      if ((out - 1) * s >= in + lo) out--;
    }
    w->in[D] = in;
    w->out[D] = out;
    w->kernel[D] = k;
    w->stride[D] = s;
    w->dil[D] = dil[d];
    w->pad_lo[D] = lo;
    w->pad_hi[D] = hi;
  }
  return TQ_OK;
}

int tq_nn_threads(const tq_op_call *c) {
  int t = c->threads > 0 ? c->threads : tq_context_threads(c->ctx);
  return t > 0 ? t : 1;
}

void tq_nn_blas_single_thread(void) {
#ifdef _OPENMP
  /* nthreads-var belongs to this implicit task only: the caller's setting
   * is untouched once the region ends. OpenBLAS (OpenMP build) sizes its
   * team from it, and stays single-threaded inside active regions. */
  omp_set_num_threads(1);
#endif
}

void tq_nn_sgemm1(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                  float alpha, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    /* BLAS leaves this case to the implementation; define it. */
    for (int64_t m = 0; m < M; m++) {
      float *row = C + m * ldc;
      for (int64_t n = 0; n < N; n++)
        row[n] = beta == 0.0f ? 0.0f : beta * row[n];
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
              alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* Tiles of a GEMM: along the longer side of C, so that the operand each
 * tile packs again (the other one) is the smaller; an even number of them
 * (2 threads divide them evenly) of about 128 or more rows or columns, as
 * each costs one more packing of that operand. */
static int64_t sgemm_step(int64_t M, int64_t N, int64_t K) {
  const int64_t dim = N >= M ? N : M;
  int64_t t = dim / 128;
  if (t > 8) t = 8;
  if (t > 1) t &= ~(int64_t)1;
  if (t < 2 && 2.0 * (double)M * (double)N * (double)K >= 16e6 && dim >= 64)
    t = 2;
  if (t < 1) t = 1;
  int64_t step = (dim + t - 1) / t;
  return (step + 15) / 16 * 16;
}

void tq_nn_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                 float alpha, const float *A, int64_t lda, const float *B,
                 int64_t ldb, float beta, float *C, int64_t ldc, int threads) {
  if (M <= 0 || N <= 0) return;
  const int split_n = N >= M;
  const int64_t dim = split_n ? N : M, step = sgemm_step(M, N, K);
  const int64_t tiles = (dim + step - 1) / step;
  int nt = threads < 1 ? 1 : threads;
  if (nt > tiles) nt = (int)tiles;
#pragma omp parallel num_threads(nt)
  {
    tq_nn_blas_single_thread();
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; t++) {
      const int64_t lo = t * step, len = dim - lo < step ? dim - lo : step;
      if (split_n) {
        tq_nn_sgemm1(trans_a, trans_b, M, len, K, alpha, A, lda,
                     trans_b ? B + lo * ldb : B + lo, ldb, beta, C + lo, ldc);
      } else {
        tq_nn_sgemm1(trans_a, trans_b, len, N, K, alpha,
                     trans_a ? A + lo : A + lo * lda, lda, B, ldb, beta,
                     C + lo * ldc, ldc);
      }
    }
  }
}

uint64_t tq_nn_index_base(const tq_op_call *c, const tq_shape *out, uint64_t e0,
                          int64_t K) {
  uint64_t numel = 1;
  for (int d = 0; d < out->ndim; d++) numel *= (uint64_t)out->dims[d];
  uint64_t per_sample = numel;
  if (out->ndim >= 2 && out->dims[0] > 0) per_sample = numel / out->dims[0];
  return (c->sample_offset * per_sample + e0) * (uint64_t)(K + 1);
}

tq_status tq_nn_run_intrinsic(tq_op_call *c, const tq_intrinsic_gemm_args *a) {
  tq_status st = tq_intrinsic_gemm(c->ctx, a);
  if (st == TQ_OK) return TQ_OK;
  /* Copy first: tq_call_error overwrites the context's message. */
  char buf[512];
  snprintf(buf, sizeof buf, "%s", tq_context_last_error(c->ctx));
  return tq_call_error(c, st, "intrinsic quantization: %s", buf);
}
