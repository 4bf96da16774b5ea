/* MaxPool, AveragePool (ONNX opsets 1-19 semantics: ceil_mode, dilations,
 * count_include_pad, auto_pad), GlobalAveragePool and GlobalMaxPool;
 * float32, NCHW, 1 to 3 spatial dimensions.
 *
 * Windows follow ONNX Runtime and PyTorch: with ceil_mode the last window
 * must start inside the input or its left padding; a window may reach past
 * the right padding, and count_include_pad then counts only the taps inside
 * the padded extent [-pad_begin, size + pad_end). Each output row is built
 * tap by tap over the whole row, so the loops carry no per-element bounds
 * checks; every output element still sees its taps in window order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/nn_internal.h"
#include "ops/op_families.h"
#include "ops/qdq_internal.h"

/* The attributes of MaxPool and AveragePool. */
typedef struct pool_params {
  tq_nn_window_attrs win;
  int count_include_pad; /* AveragePool */
} pool_params;

static tq_status pool_parse(const tq_op_parse *p, void *params) {
  pool_params *pp = params;
  tq_status st = tq_nn_parse_window(p, TQ_NN_WIN_POOL, &pp->win);
  if (st) return st;
  if (pp->win.kernel_shape.n == 0)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "attribute kernel_shape is required");
  if (p->desc->id == TQ_OP_MAX_POOL) {
    const int64_t order = tq_parse_int(p, "storage_order", 0);
    if (order != 0 && order != 1)
      return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                            "storage_order is %lld; expected 0 or 1",
                            (long long)order);
    return TQ_OK;
  }
  const int64_t v = tq_parse_int(p, "count_include_pad", 0);
  if (v != 0 && v != 1)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "count_include_pad is %lld; expected 0 or 1",
                          (long long)v);
  pp->count_include_pad = (int)v;
  return TQ_OK;
}

typedef struct pool_geom {
  tq_nn_window w;
  int64_t N, C, Pin, P;
} pool_geom;

static tq_status pool_prepare(tq_op_call *c, pool_geom *g) {
  tq_status st = tq_nn_check_input(c, 0, "X", 3, 5);
  if (st) return st;
  const pool_params *pp = c->params;
  const tq_shape *xs = &c->in[0]->shape;
  const int nsp = xs->ndim - 2;
  const size_t nk = pp->win.kernel_shape.n;
  if (nk != (size_t)nsp) {
    char buf[128];
    tq_shape_format(xs, buf, sizeof buf);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "kernel_shape has %zu values but X %s has %d spatial "
                         "dimensions",
                         nk, buf, nsp);
  }
  memset(g, 0, sizeof *g);
  if ((st = tq_nn_window_read(c, &pp->win, nsp, xs->dims + 2,
                              pp->win.kernel_shape.v, &g->w)))
    return st;
  g->N = xs->dims[0];
  g->C = xs->dims[1];
  g->Pin = g->w.in[0] * g->w.in[1] * g->w.in[2];
  g->P = g->w.out[0] * g->w.out[1] * g->w.out[2];
  return TQ_OK;
}

static tq_status pool_set_output(tq_op_call *c, const pool_geom *g) {
  tq_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = g->w.nsp + 2;
  s.dims[0] = g->N;
  s.dims[1] = g->C;
  for (int d = 0; d < g->w.nsp; d++)
    s.dims[2 + d] = g->w.out[TQ_NN_MAX_SPATIAL - g->w.nsp + d];
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &s);
}

/* Per axis and output position: taps [lo, hi) that land in the input, and
 * the divisor factor (taps in the input, or in the padded extent). */
typedef struct pool_axis {
  int64_t *lo, *hi, *count;
} pool_axis;

static tq_status axes_alloc(tq_op_call *c, const pool_geom *g, int include_pad,
                            pool_axis ax[3], int64_t **buf) {
  const int64_t total = g->w.out[0] + g->w.out[1] + g->w.out[2];
  *buf = malloc((size_t)(3 * total) * sizeof **buf);
  if (!*buf)
    return tq_call_error(c, TQ_ERR_NO_MEMORY, "out of memory for pooling");
  int64_t *p = *buf;
  for (int d = 0; d < 3; d++) {
    const int64_t out = g->w.out[d], in = g->w.in[d], k = g->w.kernel[d];
    const int64_t s = g->w.stride[d], dl = g->w.dil[d];
    const int64_t plo = g->w.pad_lo[d], phi = g->w.pad_hi[d];
    ax[d].lo = p;
    ax[d].hi = p + out;
    ax[d].count = p + 2 * out;
    p += 3 * out;
    for (int64_t o = 0; o < out; o++) {
      const int64_t start = o * s - plo;
      /* first tap at or after position 0, first tap at or after `in` */
      int64_t lo = start >= 0 ? 0 : (-start + dl - 1) / dl;
      int64_t hi = in - start <= 0 ? 0 : (in - start + dl - 1) / dl;
      if (lo > k) lo = k;
      if (hi > k) hi = k;
      if (hi < lo) hi = lo;
      ax[d].lo[o] = lo;
      ax[d].hi[o] = hi;
      if (include_pad) {
        /* start >= -plo always; taps before in + phi */
        const int64_t end = in + phi - start;
        int64_t n = end <= 0 ? 0 : (end + dl - 1) / dl;
        ax[d].count[o] = n > k ? k : n;
      } else {
        ax[d].count[o] = hi - lo;
      }
    }
  }
  return TQ_OK;
}

/* Output positions [lo, hi) along the width whose input position
 * o * stride + off lies in [0, in). */
static void row_range(int64_t off, int64_t stride, int64_t in, int64_t out,
                      int64_t *lo, int64_t *hi) {
  int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t b = in - off <= 0 ? 0 : (in - off + stride - 1) / stride;
  if (a > out) a = out;
  if (b > out) b = out;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

/* One (image, channel) plane. Max: NaN wins (as PyTorch), and among equal
 * values the first tap in window order. */
static void pool_plane(const pool_geom *g, const pool_axis ax[3], int is_max,
                       const float *x, float *y) {
  const tq_nn_window *w = &g->w;
  const int64_t IH = w->in[1], IW = w->in[2];
  const int64_t OD = w->out[0], OH = w->out[1], OW = w->out[2];
  const int64_t sw = w->stride[2];
  for (int64_t od = 0; od < OD; od++) {
    for (int64_t oh = 0; oh < OH; oh++) {
      float *yr = y + (od * OH + oh) * OW;
      const float init = is_max ? -INFINITY : 0.0f;
      for (int64_t o = 0; o < OW; o++) yr[o] = init;
      for (int64_t i = ax[0].lo[od]; i < ax[0].hi[od]; i++) {
        const int64_t id = od * w->stride[0] - w->pad_lo[0] + i * w->dil[0];
        for (int64_t j = ax[1].lo[oh]; j < ax[1].hi[oh]; j++) {
          const int64_t ih = oh * w->stride[1] - w->pad_lo[1] + j * w->dil[1];
          const float *xr = x + (id * IH + ih) * IW;
          for (int64_t l = 0; l < w->kernel[2]; l++) {
            const int64_t off = l * w->dil[2] - w->pad_lo[2];
            int64_t lo, hi;
            row_range(off, sw, IW, OW, &lo, &hi);
            if (is_max) {
              for (int64_t o = lo; o < hi; o++) {
                const float v = xr[o * sw + off];
                yr[o] = (v > yr[o] || v != v) ? v : yr[o];
              }
            } else if (sw == 1) {
              for (int64_t o = lo; o < hi; o++) yr[o] += xr[o + off];
            } else {
              for (int64_t o = lo; o < hi; o++) yr[o] += xr[o * sw + off];
            }
          }
        }
      }
      if (!is_max) {
        const int64_t cdh = ax[0].count[od] * ax[1].count[oh];
        for (int64_t o = 0; o < OW; o++) yr[o] /= (float)(cdh * ax[2].count[o]);
      }
    }
  }
}

/* Windows that tile the input without overlap or padding (2-D MaxPool
 * 2x2 stride 2, ...): every input element has at most one window. */
static int is_tiling(const tq_nn_window *w) {
  for (int d = 0; d < 3; d++)
    if (w->stride[d] != w->kernel[d] || w->dil[d] != 1 || w->pad_lo[d] ||
        w->pad_hi[d] || w->out[d] * w->kernel[d] > w->in[d])
      return 0;
  return 1;
}

/* Tiling 2x2 windows (stride 2) over one plane of depth 1: the fast paths
 * of MaxPool. */
static int is_2x2_tiling(const tq_nn_window *w) {
  return is_tiling(w) && w->out[0] == 1 && w->kernel[0] == 1 &&
         w->kernel[1] == 2 && w->kernel[2] == 2;
}

/* MaxPool 2x2 stride 2 without padding (2-D): the same rule as pool_plane
 * (taps in window order, a NaN wins) without the general bookkeeping. */
static void maxpool_plane_2x2(const tq_nn_window *w, const float *x, float *y) {
  const int64_t IW = w->in[2], OH = w->out[1], OW = w->out[2];
  for (int64_t oh = 0; oh < OH; oh++) {
    const float *r0 = x + 2 * oh * IW, *r1 = r0 + IW;
    float *yr = y + oh * OW;
    for (int64_t ow = 0; ow < OW; ow++) {
      const float t[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow],
                          r1[2 * ow + 1]};
      float m = -INFINITY;
      for (int k = 0; k < 4; k++) m = (t[k] > m || t[k] != t[k]) ? t[k] : m;
      yr[ow] = m;
    }
  }
}

static tq_status pool_run(tq_op_call *c, int is_max, int include_pad) {
  pool_geom g;
  tq_status st = pool_prepare(c, &g);
  if (st) return st;
  const int64_t planes = g.N * g.C;
  if (planes == 0 || g.P == 0) return TQ_OK;
  pool_axis ax[3];
  int64_t *buf;
  if ((st = axes_alloc(c, &g, include_pad, ax, &buf))) return st;
  const float *x = tq_cf32(c->in[0]);
  float *y = tq_f32(c->out[0]);
  int nt = tq_nn_threads(c);
  if (nt > planes) nt = (int)planes;
  const int fast = is_max && is_2x2_tiling(&g.w);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < planes; p++) {
    if (fast)
      maxpool_plane_2x2(&g.w, x + p * g.Pin, y + p * g.P);
    else
      pool_plane(&g, ax, is_max, x + p * g.Pin, y + p * g.P);
  }
  free(buf);
  return TQ_OK;
}

/* MaxPool's second output (Indices) is not supported. */
static tq_status check_no_indices(tq_op_call *c) {
  if (c->desc->id == TQ_OP_MAX_POOL && c->n_out > 1)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "the second output of MaxPool (Indices) is not "
                         "supported");
  return TQ_OK;
}

static tq_status pool_infer(tq_op_call *c) {
  tq_status st = check_no_indices(c);
  if (st) return st;
  /* MaxPool on quantized tensors (QOperator models): selects values. */
  if (c->in[0]->dtype != TQ_DTYPE_FLOAT32)
    return tq_qdq_as_float(c, pool_infer, 0);
  pool_geom g;
  if ((st = pool_prepare(c, &g))) return st;
  return pool_set_output(c, &g);
}

static tq_status pool_forward(tq_op_call *c) {
  tq_status st = check_no_indices(c);
  if (st) return st;
  if (c->in[0]->dtype != TQ_DTYPE_FLOAT32)
    return tq_qdq_as_float(c, pool_forward, 1);
  const pool_params *pp = c->params;
  return pool_run(c, c->desc->id == TQ_OP_MAX_POOL, pp->count_include_pad);
}

/* ---- backward ----------------------------------------------------------- */

/* Backward of one plane: every output's gradient goes to the tap that won
 * the forward max (the first maximum in window order; a NaN wins), or is
 * spread over the window's taps divided as the forward divided. dx must
 * be zero on entry. */
static void pool_plane_backward(const pool_geom *g, const pool_axis ax[3],
                                int is_max, const float *x, const float *dy,
                                float *dx) {
  const tq_nn_window *w = &g->w;
  const int64_t IH = w->in[1], IW = w->in[2];
  const int64_t OD = w->out[0], OH = w->out[1], OW = w->out[2];
  for (int64_t od = 0; od < OD; od++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        const float gv = dy[(od * OH + oh) * OW + ow];
        int64_t best = -1;
        float bv = -INFINITY;
        float share = 0.0f;
        if (!is_max)
          share =
              gv / (float)(ax[0].count[od] * ax[1].count[oh] * ax[2].count[ow]);
        const int64_t l0 = ow * w->stride[2] - w->pad_lo[2];
        for (int64_t i = ax[0].lo[od]; i < ax[0].hi[od]; i++) {
          const int64_t id = od * w->stride[0] - w->pad_lo[0] + i * w->dil[0];
          for (int64_t j = ax[1].lo[oh]; j < ax[1].hi[oh]; j++) {
            const int64_t ih = oh * w->stride[1] - w->pad_lo[1] + j * w->dil[1];
            for (int64_t l = ax[2].lo[ow]; l < ax[2].hi[ow]; l++) {
              const int64_t at = (id * IH + ih) * IW + l0 + l * w->dil[2];
              if (!is_max) {
                dx[at] += share;
              } else if (best < 0 || x[at] > bv ||
                         (x[at] != x[at] && bv == bv)) {
                best = at;
                bv = x[at];
              }
            }
          }
        }
        if (is_max && best >= 0) dx[best] += gv;
      }
}

/* The 2-D 2x2 case of maxpool_plane_backward_tiled: the winner among a, b
 * (first row) and c, d (second row), in that order, with the same rule. */
static void maxpool_plane_backward_2x2(const tq_nn_window *w, const float *x,
                                       const float *dy, float *dx) {
  const int64_t IW = w->in[2], OH = w->out[1], OW = w->out[2];
  for (int64_t oh = 0; oh < OH; oh++) {
    const float *r0 = x + 2 * oh * IW, *r1 = r0 + IW;
    float *d0 = dx + 2 * oh * IW, *d1 = d0 + IW;
    const float *g = dy + oh * OW;
    for (int64_t ow = 0; ow < OW; ow++) {
      const float a = r0[2 * ow], b = r0[2 * ow + 1];
      const float c = r1[2 * ow], d = r1[2 * ow + 1];
      /* winner so far: index 0..3 and its value */
      int k = 0;
      float v = a;
      if (b > v || (b != b && v == v)) k = 1, v = b;
      if (c > v || (c != c && v == v)) k = 2, v = c;
      if (d > v || (d != d && v == v)) k = 3;
      float *dst = k < 2 ? d0 : d1;
      dst[2 * ow + (k & 1)] = g[ow];
    }
  }
}

/* The max backward of one plane for tiling windows: the same winner as
 * pool_plane_backward (first maximum in window order, a NaN wins), found
 * window by window without the general bookkeeping. dx zero on entry. */
static void maxpool_plane_backward_tiled(const tq_nn_window *w, const float *x,
                                         const float *dy, float *dx) {
  const int64_t IH = w->in[1], IW = w->in[2];
  const int64_t OD = w->out[0], OH = w->out[1], OW = w->out[2];
  const int64_t KD = w->kernel[0], KH = w->kernel[1], KW = w->kernel[2];
  if (is_2x2_tiling(w)) {
    maxpool_plane_backward_2x2(w, x, dy, dx);
    return;
  }
  for (int64_t od = 0; od < OD; od++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        int64_t best = -1;
        float bv = 0.0f;
        for (int64_t i = 0; i < KD; i++)
          for (int64_t j = 0; j < KH; j++) {
            const int64_t row =
                ((od * KD + i) * IH + oh * KH + j) * IW + ow * KW;
            for (int64_t l = 0; l < KW; l++) {
              const float v = x[row + l];
              if (best < 0 || v > bv || (v != v && bv == bv)) {
                best = row + l;
                bv = v;
              }
            }
          }
        dx[best] = dy[(od * OH + oh) * OW + ow];
      }
}

static tq_status pool_backward(tq_op_call *c, const tq_tensor *const *gout,
                               tq_tensor **gin, int is_max, int include_pad) {
  if (!gin[0]) return TQ_OK;
  pool_geom g;
  tq_status st = pool_prepare(c, &g);
  if (st) return st;
  float *dx = tq_f32(gin[0]);
  memset(dx, 0, (size_t)(g.N * g.C * g.Pin) * sizeof *dx);
  const int64_t planes = g.N * g.C;
  if (planes == 0 || g.P == 0) return TQ_OK;
  pool_axis ax[3];
  int64_t *buf;
  if ((st = axes_alloc(c, &g, include_pad, ax, &buf))) return st;
  const float *x = tq_cf32(c->in[0]), *dy = tq_cf32(gout[0]);
  int nt = tq_nn_threads(c);
  if (nt > planes) nt = (int)planes;
  const int tiled = is_max && is_tiling(&g.w);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < planes; p++) {
    if (tiled)
      maxpool_plane_backward_tiled(&g.w, x + p * g.Pin, dy + p * g.P,
                                   dx + p * g.Pin);
    else
      pool_plane_backward(&g, ax, is_max, x + p * g.Pin, dy + p * g.P,
                          dx + p * g.Pin);
  }
  free(buf);
  return TQ_OK;
}

static tq_status pool_grad(tq_op_call *c, const tq_tensor *const *gout,
                           tq_tensor **gin) {
  const int is_max = c->desc->id == TQ_OP_MAX_POOL;
  if (is_max && c->n_out > 1)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "training through MaxPool's Indices output is not "
                         "supported");
  const pool_params *pp = c->params;
  return pool_backward(c, gout, gin, is_max, pp->count_include_pad);
}

/* ---- global pools ------------------------------------------------------ */

static tq_status global_pool_infer(tq_op_call *c) {
  tq_status st = tq_nn_check_input(c, 0, "X", 2, TQ_TENSOR_MAX_DIMS);
  if (st) return st;
  tq_shape s = c->in[0]->shape;
  for (int d = 2; d < s.ndim; d++) s.dims[d] = 1;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &s);
}

static tq_status global_pool_forward(tq_op_call *c) {
  const int is_max = c->desc->id == TQ_OP_GLOBAL_MAX_POOL;
  tq_status st = tq_nn_check_input(c, 0, "X", 2, TQ_TENSOR_MAX_DIMS);
  if (st) return st;
  const tq_shape *xs = &c->in[0]->shape;
  const int64_t planes = xs->dims[0] * xs->dims[1];
  int64_t n = 1;
  for (int d = 2; d < xs->ndim; d++) n *= xs->dims[d];
  const float *x = tq_cf32(c->in[0]);
  float *y = tq_f32(c->out[0]);
  if (planes == 0) return TQ_OK;
  int nt = tq_nn_threads(c);
  if (nt > planes) nt = (int)planes;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < planes; p++) {
    const float *xp = x + p * n;
    if (is_max) {
      float m = -INFINITY;
      for (int64_t i = 0; i < n; i++)
        m = (xp[i] > m || xp[i] != xp[i]) ? xp[i] : m;
      y[p] = m;
    } else {
      /* double: exact enough that the order of the sum does not show */
      double s = 0.0;
      for (int64_t i = 0; i < n; i++) s += xp[i];
      y[p] = n ? (float)(s / (double)n) : NAN;
    }
  }
  return TQ_OK;
}

/* Global pools: the average spreads dy / n over the plane; the max sends
 * it to the first maximum (a NaN wins, as the forward). */
static tq_status global_pool_backward(tq_op_call *c,
                                      const tq_tensor *const *gout,
                                      tq_tensor **gin) {
  if (!gin[0]) return TQ_OK;
  const int is_max = c->desc->id == TQ_OP_GLOBAL_MAX_POOL;
  const tq_shape *xs = &c->in[0]->shape;
  const int64_t planes = xs->dims[0] * xs->dims[1];
  int64_t n = 1;
  for (int d = 2; d < xs->ndim; d++) n *= xs->dims[d];
  const float *x = tq_cf32(c->in[0]), *dy = tq_cf32(gout[0]);
  float *dx = tq_f32(gin[0]);
  if (planes == 0 || n == 0) return TQ_OK;
  int nt = tq_nn_threads(c);
  if (nt > planes) nt = (int)planes;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < planes; p++) {
    const float *xp = x + p * n;
    float *dp = dx + p * n;
    if (is_max) {
      int64_t best = 0;
      for (int64_t i = 1; i < n; i++)
        if ((xp[i] > xp[best] || xp[i] != xp[i]) && xp[best] == xp[best])
          best = i;
      memset(dp, 0, (size_t)n * sizeof *dp);
      dp[best] = dy[p];
    } else {
      const float share = dy[p] / (float)n;
      for (int64_t i = 0; i < n; i++) dp[i] = share;
    }
  }
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_pool[] = {
    /* MaxPool accepts its Indices output so that it can say that it does
     * not support it, instead of a bare count mismatch. */
    {TQ_OP_ONNX(TQ_OP_MAX_POOL, "MaxPool"), TQ_OP_ARITY(1, 1, 1, 2),
     TQ_OP_TYPES(TQ_DTM_F32 | TQ_DTM(TQ_DTYPE_INT8) | TQ_DTM(TQ_DTYPE_UINT8)),
     TQ_OP_PARAMS(pool_params, pool_parse), .infer = pool_infer,
     .forward = pool_forward, .backward = pool_grad},
    {TQ_OP_ONNX(TQ_OP_AVERAGE_POOL, "AveragePool"), TQ_OP_ARITY(1, 1, 1, 1),
     TQ_OP_PARAMS(pool_params, pool_parse), .infer = pool_infer,
     .forward = pool_forward, .backward = pool_grad},
    {TQ_OP_ONNX(TQ_OP_GLOBAL_AVERAGE_POOL, "GlobalAveragePool"),
     TQ_OP_ARITY(1, 1, 1, 1), .infer = global_pool_infer,
     .forward = global_pool_forward, .backward = global_pool_backward},
    {TQ_OP_ONNX(TQ_OP_GLOBAL_MAX_POOL, "GlobalMaxPool"),
     TQ_OP_ARITY(1, 1, 1, 1), .infer = global_pool_infer,
     .forward = global_pool_forward, .backward = global_pool_backward},
};
const size_t tq_ops_pool_count = TQ_OP_COUNT_OF(tq_ops_pool);
