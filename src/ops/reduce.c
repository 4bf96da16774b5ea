/* The Reduce family: Sum, Mean, Max, Min, Prod, L1, L2, SumSquare,
 * LogSumExp over a set of axes; forward and backward.
 *
 * Float reductions accumulate in double in row-major order; Sum, Max, Min
 * and Prod also run on integers (int64 arithmetic, wrapped to the width),
 * at plan time (shape values) and at run time. The
 * backward broadcasts the output's gradient back over the reduced axes;
 * Max and Min give it to the first element of each reduced set that holds
 * the result. ReduceProd has none. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

enum {
  RD_SUM,
  RD_MEAN,
  RD_MAX,
  RD_MIN,
  RD_PROD,
  RD_L1,
  RD_L2,
  RD_SUMSQ,
  RD_LOGSUMEXP,
};

static const struct {
  tq_op_id id;
  int op;
} rd_ops[] = {
    {TQ_OP_REDUCE_SUM, RD_SUM},
    {TQ_OP_REDUCE_MEAN, RD_MEAN},
    {TQ_OP_REDUCE_MAX, RD_MAX},
    {TQ_OP_REDUCE_MIN, RD_MIN},
    {TQ_OP_REDUCE_PROD, RD_PROD},
    {TQ_OP_REDUCE_L1, RD_L1},
    {TQ_OP_REDUCE_L2, RD_L2},
    {TQ_OP_REDUCE_SUM_SQUARE, RD_SUMSQ},
    {TQ_OP_REDUCE_LOG_SUM_EXP, RD_LOGSUMEXP},
};

/* The reduction, keepdims, noop_with_empty_axes and the 'axes' attribute
 * (an input from opset 13 for ReduceSum, 18 for the others). */
typedef struct reduce_params {
  int op;
  int64_t keepdims, noop_with_empty_axes;
  tq_shape_ints axes;
} reduce_params;

static tq_status reduce_parse(const tq_op_parse *p, void *params) {
  reduce_params *rp = params;
  for (size_t i = 0; i < sizeof rd_ops / sizeof rd_ops[0]; i++)
    if (rd_ops[i].id == p->desc->id) rp->op = rd_ops[i].op;
  rp->keepdims = tq_parse_int(p, "keepdims", 1);
  rp->noop_with_empty_axes = tq_parse_int(p, "noop_with_empty_axes", 0);
  return tq_shape_parse_ints(p, "axes", &rp->axes);
}

/* Which dims are reduced (none: noop, the identity), and the shape. */
typedef struct red_p {
  int op;
  int noop;
  int red[TQ_MAX_DIMS];
  tq_shape out;
} red_p;

static tq_status red_derive(tq_op_call *c, red_p *p) {
  const reduce_params *rp = c->params;
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  p->op = rp->op;
  int r = x->shape.ndim;
  int64_t v[TQ_SHAPE_MAXV];
  size_t n;
  /* Axes: whichever the node carries. */
  if (tq_shape_has_input(c, 1)) {
    st = tq_shape_input_ints(c, 1, "axes", v, TQ_SHAPE_MAXV, &n);
  } else {
    n = rp->axes.n;
    memcpy(v, rp->axes.v, sizeof v);
  }
  if (st != TQ_OK) return st;
  int keep = (int)rp->keepdims;
  p->noop = 0;
  for (int d = 0; d < r; d++) p->red[d] = n == 0;
  if (n == 0 && rp->noop_with_empty_axes) {
    p->noop = 1;
    for (int d = 0; d < r; d++) p->red[d] = 0;
  }
  int ax[TQ_SHAPE_MAXV];
  st = tq_shape_norm_axes(c, v, n, r, ax);
  if (st != TQ_OK) return st;
  for (size_t i = 0; i < n; i++) p->red[ax[i]] = 1;
  tq_shape o = tq_shape_of_rank(0);
  for (int d = 0; d < r; d++) {
    if (!p->red[d])
      o.dims[o.ndim++] = x->shape.dims[d];
    else if (keep)
      o.dims[o.ndim++] = 1;
  }
  p->out = o;
  return TQ_OK;
}

static tq_status reduce_infer(tq_op_call *c) {
  red_p p;
  tq_status st = red_derive(c, &p);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &p.out);
}

/* Runs of the reduced elements of one output: nested loops over rd/rs
 * (reduced dims, outermost first), the innermost as a strided run. */
typedef struct red_run {
  int nr;
  int64_t rd[TQ_MAX_DIMS], rs[TQ_MAX_DIMS];
} red_run;

typedef struct red_acc {
  double acc;
  float m;
  float shift; /* LogSumExp: the maximum */
} red_acc;

static void red_f32(int op, const float *x, size_t n, int64_t s, red_acc *a) {
  switch (op) {
    case RD_SUM:
    case RD_MEAN:
      for (size_t i = 0; i < n; i++) a->acc += x[(int64_t)i * s];
      break;
    case RD_PROD:
      for (size_t i = 0; i < n; i++) a->acc *= x[(int64_t)i * s];
      break;
    case RD_L1:
      for (size_t i = 0; i < n; i++) a->acc += fabsf(x[(int64_t)i * s]);
      break;
    case RD_L2:
    case RD_SUMSQ:
      for (size_t i = 0; i < n; i++) {
        double v = x[(int64_t)i * s];
        a->acc += v * v;
      }
      break;
    case RD_MAX:
      for (size_t i = 0; i < n; i++) {
        float v = x[(int64_t)i * s];
        if (v > a->m || v != v) a->m = v;
        if (a->m != a->m) break; /* NaN is final */
      }
      break;
    case RD_MIN:
      for (size_t i = 0; i < n; i++) {
        float v = x[(int64_t)i * s];
        if (v < a->m || v != v) a->m = v;
        if (a->m != a->m) break;
      }
      break;
    case RD_LOGSUMEXP:
      for (size_t i = 0; i < n; i++)
        a->acc += exp((double)x[(int64_t)i * s] - a->shift);
      break;
    default: break;
  }
}

/* Advances the row-major odometer over the reduced dims but the innermost
 * (idx, and off: the element offset); 0 when it wraps around (done). */
static int red_next(const red_run *rr, int64_t *idx, int64_t *off) {
  for (int d = rr->nr - 2; d >= 0; d--) {
    *off += rr->rs[d];
    if (++idx[d] < rr->rd[d]) return 1;
    *off -= rr->rs[d] * rr->rd[d];
    idx[d] = 0;
  }
  return 0;
}

static void red_visit_f32(int op, const red_run *rr, const float *x,
                          red_acc *a) {
  int64_t idx[TQ_MAX_DIMS] = {0};
  int nr = rr->nr;
  size_t inner = (size_t)rr->rd[nr - 1];
  int64_t off = 0;
  do {
    red_f32(op, x + off, inner, rr->rs[nr - 1], a);
  } while (red_next(rr, idx, &off));
}

static float red_one_f32(int op, const red_run *rr, const float *x,
                         size_t count) {
  red_acc a = {op == RD_PROD ? 1.0 : 0.0, op == RD_MAX ? -INFINITY : INFINITY,
               0.0f};
  if (op == RD_LOGSUMEXP) {
    if (count == 0) return -INFINITY;
    red_acc m = {0.0, -INFINITY, 0.0f};
    red_visit_f32(RD_MAX, rr, x, &m);
    if (m.m == INFINITY || m.m != m.m) return m.m;
    if (m.m == -INFINITY) return -INFINITY;
    a.shift = m.m;
  }
  if (count) red_visit_f32(op, rr, x, &a);
  switch (op) {
    case RD_MAX:
    case RD_MIN: return a.m;
    case RD_MEAN: return (float)(a.acc / (double)count);
    case RD_L2: return (float)sqrt(a.acc);
    case RD_LOGSUMEXP: return (float)(a.shift + log(a.acc));
    default: return (float)a.acc;
  }
}

static int64_t red_one_int(int op, const red_run *rr, tq_dtype dt,
                           const void *x, int64_t base) {
  int64_t idx[TQ_MAX_DIMS] = {0};
  int nr = rr->nr;
  uint64_t acc = op == RD_PROD ? 1u : 0u;
  int64_t m = op == RD_MAX ? INT64_MIN : INT64_MAX;
  int64_t off = 0;
  do {
    for (int64_t i = 0; i < rr->rd[nr - 1]; i++) {
      const int64_t v =
          tq_load_i64(dt, x, (size_t)(base + off + i * rr->rs[nr - 1]));
      if (op == RD_SUM) acc += (uint64_t)v;
      if (op == RD_PROD) acc *= (uint64_t)v;
      if (op == RD_MAX && v > m) m = v;
      if (op == RD_MIN && v < m) m = v;
    }
  } while (red_next(rr, idx, &off));
  if (op == RD_MAX || op == RD_MIN) return m;
  int64_t r;
  memcpy(&r, &acc, sizeof r); /* wraps like the arithmetic operators */
  return r;
}

static tq_status reduce_forward(tq_op_call *c) {
  red_p p;
  tq_status st = red_derive(c, &p);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  if (p.noop) return tq_shape_copy_forward(c);
  int r = x->shape.ndim;
  int64_t xs[TQ_MAX_DIMS];
  tq_shape_strides(&x->shape, xs);
  /* Kept dims (the output's order) and reduced dims, each merged where
   * consecutive. */
  int nk = 0;
  int64_t kd[TQ_MAX_DIMS], ks[TQ_MAX_DIMS];
  red_run rr = {0, {0}, {0}};
  size_t count = 1;
  for (int d = 0; d < r; d++) {
    if (p.red[d]) {
      count *= (size_t)x->shape.dims[d];
      if (d > 0 && p.red[d - 1] && rr.nr > 0) {
        rr.rd[rr.nr - 1] *= x->shape.dims[d];
        rr.rs[rr.nr - 1] = xs[d];
      } else {
        rr.rd[rr.nr] = x->shape.dims[d];
        rr.rs[rr.nr++] = xs[d];
      }
    } else {
      kd[nk] = x->shape.dims[d];
      ks[nk++] = xs[d];
    }
  }
  if (rr.nr == 0) { /* reducing nothing (a scalar input) */
    rr.rd[0] = 1;
    rr.rs[0] = 1;
    rr.nr = 1;
  }
  size_t nout = y->numel;
  int threads = x->dtype == TQ_DTYPE_FLOAT32 ? tq_ew_threads(c) : 1;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (x->numel >= TQ_CHUNK_ELEMS && nout > 1)
  for (size_t j = 0; j < nout; j++) {
    size_t q = j;
    int64_t off = 0;
    for (int d = nk - 1; d >= 0; d--) {
      off += (int64_t)(q % (size_t)kd[d]) * ks[d];
      q /= (size_t)kd[d];
    }
    if (x->dtype == TQ_DTYPE_FLOAT32)
      tq_f32(y)[j] = red_one_f32(p.op, &rr, tq_cf32(x) + off, count);
    else
      tq_store_i64(y->dtype, y->data, j,
                   count ? red_one_int(p.op, &rr, x->dtype, x->data, off)
                         : (p.op == RD_PROD ? 1 : 0));
  }
  return TQ_OK;
}

/* ---- backward
 * ---------------------------------------------------------------*/

typedef struct red_arg {
  int op;
  float scale;
  const float *x, *y, *g; /* y, g broadcast to x's shape */
  float *d;
} red_arg;

static void red_chunk(void *arg, size_t first, size_t n) {
  const red_arg *a = arg;
  const float *x = a->x, *y = a->y, *g = a->g;
  float *d = a->d;
  for (size_t i = first; i < first + n; i++) {
    switch (a->op) {
      case RD_SUM: d[i] = g[i]; break;
      case RD_MEAN: d[i] = g[i] * a->scale; break;
      case RD_SUMSQ: d[i] = g[i] * (2.0f * x[i]); break;
      case RD_L1: d[i] = x[i] > 0.0f ? g[i] : x[i] < 0.0f ? -g[i] : 0.0f; break;
      case RD_L2: d[i] = y[i] == 0.0f ? 0.0f : g[i] * (x[i] / y[i]); break;
      case RD_LOGSUMEXP: d[i] = g[i] * expf(x[i] - y[i]); break;
      default: d[i] = 0.0f; break;
    }
  }
}

/* ReduceMax/Min: the first element of each reduced set (row-major) that
 * holds the result gets the gradient; a serial pass. */
static tq_status red_first_bw(tq_op_call *c, const int *red, const float *x,
                              const float *y, const float *g, float *d) {
  const tq_shape *sx = &c->in[0]->shape;
  int r = sx->ndim;
  int64_t ks[TQ_MAX_DIMS], s = 1;
  for (int k = r - 1; k >= 0; k--) {
    ks[k] = red[k] ? 0 : s;
    if (!red[k]) s *= sx->dims[k];
  }
  unsigned char *taken = calloc(s ? (size_t)s : 1, 1);
  if (!taken) return tq_error_nomem(c->ctx);
  int64_t idx[TQ_MAX_DIMS] = {0}, j = 0;
  size_t n = c->in[0]->numel;
  for (size_t i = 0; i < n; i++) {
    const float v = x[i], m = y[j];
    int hit = !taken[j] && (v == m || (v != v && m != m));
    d[i] = hit ? g[j] : 0.0f;
    if (hit) taken[j] = 1;
    for (int k = r - 1; k >= 0; k--) {
      j += ks[k];
      if (++idx[k] < sx->dims[k]) break;
      j -= ks[k] * sx->dims[k];
      idx[k] = 0;
    }
  }
  free(taken);
  return TQ_OK;
}

static tq_status reduce_backward(tq_op_call *c, const tq_tensor *const *gout,
                                 tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  red_p p;
  st = red_derive(c, &p);
  if (st != TQ_OK) return st;
  if (p.noop) return tq_bw_pass(c, gout, gin);
  const int op = p.op;
  const int *red = p.red;
  const tq_tensor *x = c->in[0];
  size_t n = x->numel, count = 1;
  /* The output's values in keepdims layout (the same order). */
  tq_shape sk = x->shape;
  for (int d = 0; d < sk.ndim; d++)
    if (red[d]) {
      count *= (size_t)sk.dims[d];
      sk.dims[d] = 1;
    }
  if (op == RD_MAX || op == RD_MIN)
    return red_first_bw(c, red, tq_cf32(x), tq_cf32(c->out[0]),
                        tq_cf32(gout[0]), tq_f32(gin[0]));
  int threads = tq_ew_threads(c);
  float *gb = tq_f32(gin[0]), *yb = NULL;
  tq_ew_broadcast_copy(tq_cf32(gout[0]), &sk, gb, &x->shape, sizeof(float),
                       threads);
  if (op == RD_L2 || op == RD_LOGSUMEXP) {
    yb = malloc((n ? n : 1) * sizeof *yb);
    if (!yb) return tq_error_nomem(c->ctx);
    tq_ew_broadcast_copy(tq_cf32(c->out[0]), &sk, yb, &x->shape, sizeof(float),
                         threads);
  }
  /* In place: d[i] reads only g[i] (gin holds the broadcast gradient). */
  red_arg a = {
      op, count ? (float)(1.0 / (double)count) : 0.0f, tq_cf32(x), yb, gb, gb};
  if (op != RD_SUM) tq_ew_for_chunks(n, threads, red_chunk, &a);
  free(yb);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

#define REDUCE(op_id, name, data_types, bw)                              \
  {                                                                      \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(1, 2, 1, 1),                    \
        TQ_OP_TYPES(data_types, TQ_DTM_I64),                             \
        TQ_OP_PARAMS(reduce_params, reduce_parse),                       \
        .infer = reduce_infer, .forward = reduce_forward, .backward = bw \
  }

#define INTS (TQ_DTM_F32 | TQ_DTM_INT)

const tq_op_desc tq_ops_reduce[] = {
    REDUCE(TQ_OP_REDUCE_SUM, "ReduceSum", INTS, reduce_backward),
    REDUCE(TQ_OP_REDUCE_MEAN, "ReduceMean", TQ_DTM_F32, reduce_backward),
    REDUCE(TQ_OP_REDUCE_MAX, "ReduceMax", INTS, reduce_backward),
    REDUCE(TQ_OP_REDUCE_MIN, "ReduceMin", INTS, reduce_backward),
    REDUCE(TQ_OP_REDUCE_PROD, "ReduceProd", INTS, NULL),
    REDUCE(TQ_OP_REDUCE_L1, "ReduceL1", TQ_DTM_F32, reduce_backward),
    REDUCE(TQ_OP_REDUCE_L2, "ReduceL2", TQ_DTM_F32, reduce_backward),
    REDUCE(TQ_OP_REDUCE_SUM_SQUARE, "ReduceSumSquare", TQ_DTM_F32,
           reduce_backward),
    REDUCE(TQ_OP_REDUCE_LOG_SUM_EXP, "ReduceLogSumExp", TQ_DTM_F32,
           reduce_backward),
};
const size_t tq_ops_reduce_count = TQ_OP_COUNT_OF(tq_ops_reduce);
