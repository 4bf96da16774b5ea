/* Softmax, LogSoftmax and Hardmax (axis semantics depend on the opset);
 * forward and backward.
 *
 * Softmax subtracts the row maximum and sums in double. Backward: Softmax
 * dx = y (g - sum(g y)), LogSoftmax dx = g - exp(y) sum(g), each sum over
 * the row in order, in double; Hardmax is piecewise constant (gradient
 * 0). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"
#include "ops/op_families.h"

enum { SM_SOFTMAX, SM_LOG_SOFTMAX, SM_HARDMAX };

/* Before opset 13 the input is coerced to 2-D at axis (default 1) and
 * normalized over all of dims[axis:]; from opset 13 over the one
 * dimension axis (default -1). */
typedef struct softmax_params {
  int kind;
  int legacy;
  int64_t axis;
} softmax_params;

static tq_status softmax_parse(const tq_op_parse *p, void *params) {
  softmax_params *sp = params;
  sp->kind = p->desc->id == TQ_OP_SOFTMAX       ? SM_SOFTMAX
             : p->desc->id == TQ_OP_LOG_SOFTMAX ? SM_LOG_SOFTMAX
                                                : SM_HARDMAX;
  sp->legacy = p->opset < 13;
  sp->axis = tq_parse_int(p, "axis", sp->legacy ? 1 : -1);
  return TQ_OK;
}

/* The reduction as (outer, n, inner). */
static tq_status sm_layout(tq_op_call *c, size_t *outer, size_t *n,
                           size_t *inner) {
  const softmax_params *sp = c->params;
  const tq_shape *s = &c->in[0]->shape;
  int axis;
  tq_status st = tq_call_axis(c, sp->axis, s->ndim, &axis);
  if (st != TQ_OK) return st;
  size_t o = 1, m = 1, in = 1;
  for (int d = 0; d < s->ndim; d++) {
    size_t v = (size_t)s->dims[d];
    if (d < axis)
      o *= v;
    else if (d == axis || sp->legacy)
      m *= v;
    else
      in *= v;
  }
  *outer = o;
  *n = m;
  *inner = in;
  return TQ_OK;
}

static tq_status softmax_infer(tq_op_call *c) {
  size_t o, n, in;
  tq_status st = tq_ew_one_float_input(c);
  if (st == TQ_OK) st = sm_layout(c, &o, &n, &in);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &c->in[0]->shape);
}

/* One contiguous row of n values. */
static void sm_row(int kind, const float *x, float *y, size_t n) {
  if (n == 0) return;
  float mx = x[0];
  size_t arg = 0;
  for (size_t k = 1; k < n; k++)
    if (x[k] > mx) mx = x[k], arg = k;
  if (kind == SM_HARDMAX) {
    for (size_t k = 0; k < n; k++) y[k] = k == arg ? 1.0f : 0.0f;
    return;
  }
  double sum = 0.0;
  for (size_t k = 0; k < n; k++) {
    float e = expf(x[k] - mx);
    if (kind == SM_SOFTMAX) y[k] = e;
    sum += e;
  }
  if (kind == SM_SOFTMAX) {
    const float s = (float)sum;
    for (size_t k = 0; k < n; k++) y[k] = y[k] / s;
  } else {
    const float ls = (float)log(sum);
    for (size_t k = 0; k < n; k++) y[k] = (x[k] - mx) - ls;
  }
}

/* n values at stride inner, for inner positions at once (the loops over
 * the inner positions vectorize); mx and sum hold inner entries. */
static void sm_strided(int kind, const float *x, float *y, size_t n,
                       size_t inner, float *mx, double *sum) {
  if (n == 0) return;
  for (size_t i = 0; i < inner; i++) mx[i] = x[i], sum[i] = 0.0;
  for (size_t k = 1; k < n; k++) {
    const float *xk = x + k * inner;
    for (size_t i = 0; i < inner; i++)
      if (xk[i] > mx[i]) mx[i] = xk[i];
  }
  if (kind == SM_HARDMAX) {
    /* sum marks positions whose (first) maximum is already taken. */
    for (size_t k = 0; k < n; k++) {
      const float *xk = x + k * inner;
      float *yk = y + k * inner;
      for (size_t i = 0; i < inner; i++) {
        int hit = sum[i] == 0.0 && xk[i] == mx[i];
        yk[i] = hit ? 1.0f : 0.0f;
        if (hit) sum[i] = 1.0;
      }
    }
    return;
  }
  for (size_t k = 0; k < n; k++) {
    const float *xk = x + k * inner;
    float *yk = y + k * inner;
    for (size_t i = 0; i < inner; i++) {
      float e = expf(xk[i] - mx[i]);
      if (kind == SM_SOFTMAX) yk[i] = e;
      sum[i] += e;
    }
  }
  if (kind == SM_SOFTMAX) {
    for (size_t k = 0; k < n; k++) {
      float *yk = y + k * inner;
      for (size_t i = 0; i < inner; i++) yk[i] = yk[i] / (float)sum[i];
    }
  } else {
    for (size_t k = 0; k < n; k++) {
      const float *xk = x + k * inner;
      float *yk = y + k * inner;
      for (size_t i = 0; i < inner; i++)
        yk[i] = (xk[i] - mx[i]) - (float)log(sum[i]);
    }
  }
}

static tq_status softmax_forward(tq_op_call *c) {
  const int kind = ((const softmax_params *)c->params)->kind;
  size_t outer, n, inner;
  tq_status st = sm_layout(c, &outer, &n, &inner);
  if (st != TQ_OK) return st;
  const float *x = tq_cf32(c->in[0]);
  float *y = tq_f32(c->out[0]);
  int threads = tq_ew_threads(c);
  size_t total = outer * n * inner;
  int par = total >= 16384 && outer > 1;
  if (total == 0) return TQ_OK;
  if (inner == 1) {
#pragma omp parallel for schedule(static) num_threads(threads) if (par)
    for (size_t o = 0; o < outer; o++) sm_row(kind, x + o * n, y + o * n, n);
    return TQ_OK;
  }
  /* Scratch per outer block: n values collapse to one max and one sum per
   * inner position, so this is at most a fraction of the output. */
  float *mx = malloc(outer * inner * sizeof *mx);
  double *sum = malloc(outer * inner * sizeof *sum);
  if (!mx || !sum) {
    free(mx);
    free(sum);
    return tq_error_nomem(c->ctx);
  }
#pragma omp parallel for schedule(static) num_threads(threads) if (par)
  for (size_t o = 0; o < outer; o++)
    sm_strided(kind, x + o * n * inner, y + o * n * inner, n, inner,
               mx + o * inner, sum + o * inner);
  free(mx);
  free(sum);
  return TQ_OK;
}

/* ---- backward
 * ---------------------------------------------------------------*/

static tq_status softmax_backward(tq_op_call *c, const tq_tensor *const *gout,
                                  tq_tensor **gin) {
  const int kind = ((const softmax_params *)c->params)->kind;
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  int threads = tq_ew_threads(c);
  float *d = tq_f32(gin[0]);
  if (kind == SM_HARDMAX) { /* piecewise constant */
    tq_bw_fill(d, gin[0]->numel, 0.0f, threads);
    return TQ_OK;
  }
  size_t outer, n, inner;
  st = sm_layout(c, &outer, &n, &inner);
  if (st != TQ_OK) return st;
  const float *y = tq_cf32(c->out[0]), *g = tq_cf32(gout[0]);
  size_t total = outer * n * inner;
  if (total == 0) return TQ_OK;
  /* Softmax: dx = y (g - sum(g y)); LogSoftmax: dx = g - exp(y) sum(g);
   * sums over the n values of a row, in order, in double. Tasks: blocks of
   * inner positions of one outer index. */
  size_t blocks = (inner + TQ_BW_BLOCK - 1) / TQ_BW_BLOCK,
         tasks = outer * blocks;
  if (threads < 1) threads = 1;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (total >= TQ_CHUNK_ELEMS && tasks > 1)
  for (size_t t = 0; t < tasks; t++) {
    size_t o = t / blocks, i0 = (t % blocks) * TQ_BW_BLOCK;
    size_t len = inner - i0 < TQ_BW_BLOCK ? inner - i0 : TQ_BW_BLOCK;
    double s[TQ_BW_BLOCK];
    for (size_t i = 0; i < len; i++) s[i] = 0.0;
    for (size_t k = 0; k < n; k++) {
      size_t at = (o * n + k) * inner + i0;
      for (size_t i = 0; i < len; i++)
        s[i] += kind == SM_SOFTMAX ? (double)g[at + i] * y[at + i] : g[at + i];
    }
    for (size_t k = 0; k < n; k++) {
      size_t at = (o * n + k) * inner + i0;
      for (size_t i = 0; i < len; i++)
        d[at + i] =
            kind == SM_SOFTMAX
                ? (float)((double)y[at + i] * ((double)g[at + i] - s[i]))
                : (float)((double)g[at + i] - (double)expf(y[at + i]) * s[i]);
    }
  }
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

#define SOFTMAX(op_id, name)                                \
  {                                                         \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(1, 1, 1, 1),       \
        TQ_OP_PARAMS(softmax_params, softmax_parse),        \
        .infer = softmax_infer, .forward = softmax_forward, \
        .backward = softmax_backward                        \
  }

const tq_op_desc tq_ops_softmax[] = {
    SOFTMAX(TQ_OP_SOFTMAX, "Softmax"),
    SOFTMAX(TQ_OP_LOG_SOFTMAX, "LogSoftmax"),
    SOFTMAX(TQ_OP_HARDMAX, "Hardmax"),
};
const size_t tq_ops_softmax_count = TQ_OP_COUNT_OF(tq_ops_softmax);
