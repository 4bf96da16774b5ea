/* Conv and ConvTranspose (ONNX opsets 1-17), float32, NCHW, 1 to 3 spatial
 * dimensions: attributes, geometry, im2col/col2im, intrinsic quantization.
 *
 * Float path: the first implementation of the context's preference that
 * applies (conv_impl_internal.h: Winograd, depthwise, pointwise, im2col;
 * ConvTranspose: GEMM + col2im). Each depends on the shapes only for its
 * splits, so results are the same bits at any thread count.
 *
 * Intrinsic quantization: both become tq_intrinsic_gemm over operands in
 * the documented term order (input channel, then kernel depth, row,
 * column): for Conv, A = the group's weights (out channels x K) and B =
 * the im2col matrix (K x output positions); for ConvTranspose, A = the
 * weights permuted to (out channels x K) and B = a "transposed im2col"
 * gathering, for every output position, its K possible input terms (zero
 * where the stride skips it or it falls outside the input), so each output
 * element sees exactly its terms in order. Random numbers follow
 * tq_nn_index_base (the flat output index). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/conv_impl_internal.h"
#include "ops/op_families.h"

static int64_t dim_prod(const int64_t *d, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= d[i];
  return p;
}

/* Checks W's spatial dims against kernel_shape when the node has one. */
static tq_status check_kernel_shape(tq_op_call *c, const tq_nn_ints *ks,
                                    int nsp, const int64_t *wk) {
  if (ks->n == 0) return TQ_OK;
  if (ks->n != (size_t)nsp)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "attribute kernel_shape has %zu values, expected %d",
                         ks->n, nsp);
  for (int d = 0; d < nsp; d++)
    if (ks->v[d] != wk[d])
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "kernel_shape[%d] = %lld does not match W's "
                           "spatial size %lld",
                           d, (long long)ks->v[d], (long long)wk[d]);
  return TQ_OK;
}

/* Conv and ConvTranspose: the window attributes and group, and
 * ConvTranspose's output_padding and output_shape. */
tq_status tq_conv_parse(const tq_op_parse *p, void *params) {
  conv_params *cp = params;
  tq_status st = tq_nn_parse_window(p, TQ_NN_WIN_CONV, &cp->win);
  if (st) return st;
  cp->group = tq_parse_int(p, "group", 1);
  if (cp->group < 1)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "group is %lld; expected >= 1", (long long)cp->group);
  if (p->desc->id != TQ_OP_CONV_TRANSPOSE) return TQ_OK;
  if ((st = tq_nn_parse_ints(p, "output_padding", 0, &cp->output_padding)))
    return st;
  const tq_attr *osa = tq_parse_attr(p, "output_shape");
  if (osa && osa->type != TQ_ATTR_INTS)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "attribute output_shape must be a list of integers");
  size_t n_os = 0;
  const int64_t *os = tq_parse_ints(p, "output_shape", &n_os);
  cp->output_shape.n = n_os;
  for (size_t i = 0; i < n_os && i < TQ_NN_MAX_INTS; i++)
    cp->output_shape.v[i] = os[i];
  return TQ_OK;
}

static tq_status check_bias(tq_op_call *c, int64_t M) {
  if (c->n_in < 3 || !c->in[2]) return TQ_OK;
  tq_status st = tq_nn_check_input(c, 2, "B", 1, 1);
  if (st) return st;
  if (c->in[2]->shape.dims[0] != M)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "bias B has %lld values, expected %lld (one per "
                         "output channel)",
                         (long long)c->in[2]->shape.dims[0], (long long)M);
  return TQ_OK;
}

/* Checks W against X's rank (both have batch/channel dims + nsp). */
static tq_status check_w_rank(tq_op_call *c) {
  tq_status st = tq_nn_check_input(c, 1, "W", 3, 5);
  if (st) return st;
  if (c->in[1]->shape.ndim != c->in[0]->shape.ndim) {
    char xb[128], wb[128];
    tq_shape_format(&c->in[0]->shape, xb, sizeof xb);
    tq_shape_format(&c->in[1]->shape, wb, sizeof wb);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "W has shape %s but X has shape %s: expected the "
                         "same rank",
                         wb, xb);
  }
  return TQ_OK;
}

/* The GEMMs take int sizes. */
static tq_status check_int_sizes(tq_op_call *c, const int64_t *v, int n) {
  for (int i = 0; i < n; i++)
    if (v[i] > INT_MAX)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "a matrix dimension of %lld exceeds the GEMM "
                           "limit of %d",
                           (long long)v[i], INT_MAX);
  return TQ_OK;
}

/* ---- Conv ------------------------------------------------------------ */

tq_status tq_conv_prepare(tq_op_call *c, conv_geom *g) {
  tq_status st;
  if ((st = tq_nn_check_input(c, 0, "X", 3, 5)) || (st = check_w_rank(c)))
    return st;
  const conv_params *cp = c->params;
  const tq_shape *xs = &c->in[0]->shape, *ws = &c->in[1]->shape;
  const int nsp = xs->ndim - 2;
  const int64_t group = cp->group;
  memset(g, 0, sizeof *g);
  g->N = xs->dims[0];
  g->C = xs->dims[1];
  g->M = ws->dims[0];
  g->G = group;
  if (g->C % group)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "X has %lld channels, not divisible by group %lld",
                         (long long)g->C, (long long)group);
  g->Cg = g->C / group;
  if (ws->dims[1] != g->Cg)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "W expects %lld input channels per group but X has "
                         "%lld channels in %lld group(s) (%lld per group)",
                         (long long)ws->dims[1], (long long)g->C,
                         (long long)group, (long long)g->Cg);
  if (g->M % group)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "W has %lld output channels, not divisible by group "
                         "%lld",
                         (long long)g->M, (long long)group);
  g->Mg = g->M / group;
  if ((st = check_kernel_shape(c, &cp->win.kernel_shape, nsp, ws->dims + 2)) ||
      (st = check_bias(c, g->M)) ||
      (st = tq_nn_window_read(c, &cp->win, nsp, xs->dims + 2, ws->dims + 2,
                              &g->w)))
    return st;
  g->kvol = dim_prod(g->w.kernel, 3);
  g->K = g->Cg * g->kvol;
  g->Pin = dim_prod(g->w.in, 3);
  g->P = dim_prod(g->w.out, 3);
  const int64_t sizes[] = {g->K, g->P, g->Mg, g->Pin};
  return check_int_sizes(c, sizes, 4);
}

static void conv_out_shape(const conv_geom *g, tq_shape *s) {
  memset(s, 0, sizeof *s);
  s->ndim = g->w.nsp + 2;
  s->dims[0] = g->N;
  s->dims[1] = g->M;
  for (int d = 0; d < g->w.nsp; d++)
    s->dims[2 + d] = g->w.out[TQ_NN_MAX_SPATIAL - g->w.nsp + d];
}

static tq_status conv_infer(tq_op_call *c) {
  conv_geom g;
  tq_status st = tq_conv_prepare(c, &g);
  if (st) return st;
  tq_shape s;
  conv_out_shape(&g, &s);
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &s);
}

/* im2col of input channels [c0, c1) of one group for output rows
 * [r0, r1) (a row: one (depth, height) output pair, OW positions). x
 * points at the group's first channel; col row k = (channel - c0) * kvol
 * + tap holds ld floats. Branches are per row and tap, never per
 * element. */
void tq_conv_im2col_rows(const conv_geom *g, const float *x, int64_t c0,
                         int64_t c1, int64_t r0, int64_t r1, float *col,
                         int64_t ld) {
  const tq_nn_window *w = &g->w;
  const int64_t ID = w->in[0], IH = w->in[1], IW = w->in[2];
  const int64_t OH = w->out[1], OW = w->out[2];
  const int64_t sw = w->stride[2];
  float *dst = col;
  for (int64_t ch = c0; ch < c1; ch++) {
    const float *xc = x + ch * g->Pin;
    for (int64_t i = 0; i < w->kernel[0]; i++) {
      for (int64_t j = 0; j < w->kernel[1]; j++) {
        for (int64_t l = 0; l < w->kernel[2]; l++, dst += ld) {
          const int64_t off = l * w->dil[2] - w->pad_lo[2];
          int64_t lo, hi;
          tq_conv_valid_range(off, sw, IW, OW, &lo, &hi);
          float *d = dst;
          int64_t od = r0 / OH, oh = r0 % OH;
          for (int64_t r = r0; r < r1; r++, d += OW) {
            const int64_t id = od * w->stride[0] - w->pad_lo[0] + i * w->dil[0];
            const int64_t ih = oh * w->stride[1] - w->pad_lo[1] + j * w->dil[1];
            if (++oh == OH) {
              oh = 0;
              od++;
            }
            if (id < 0 || id >= ID || ih < 0 || ih >= IH) {
              memset(d, 0, (size_t)OW * sizeof *d);
              continue;
            }
            const float *src = xc + (id * IH + ih) * IW;
            /* Plain loops, not memcpy/memset: rows are short (LeNet's
             * are 14 and 28 floats) and a million library calls per
             * training step cost more than the copying. */
            for (int64_t o = 0; o < lo; o++) d[o] = 0.0f;
            if (sw == 1) {
              const float *s1 = src + off;
              for (int64_t o = lo; o < hi; o++) d[o] = s1[o];
            } else if (sw == 2) {
              /* a constant stride lets the compiler vectorize the gather
               * (ResNet's stem and downsampling convs) */
              const float *s2 = src + off;
              for (int64_t o = lo; o < hi; o++) d[o] = s2[2 * o];
            } else {
              for (int64_t o = lo; o < hi; o++) d[o] = src[o * sw + off];
            }
            for (int64_t o = hi; o < OW; o++) d[o] = 0.0f;
          }
        }
      }
    }
  }
}

/* No input channels (K = 0): every output is its bias. */
static void fill_planes(float *y, int64_t N, int64_t M, int64_t P,
                        const float *bias) {
  for (int64_t n = 0; n < N; n++)
    tq_conv_fill_bias(y + n * M * P, M, P, P, bias);
}

/* One (image, group) of a Conv or ConvTranspose under intrinsic
 * quantization: out rows = the group's Mg output channels, A its K-term
 * operand rows, B the K x P matrix of the terms of each output position
 * (im2col, or its gathered transpose), bias per row. */
static tq_status group_intrinsic(tq_op_call *c, const conv_geom *g, int64_t n,
                                 int64_t gi, const float *A, const float *B,
                                 const float *b, float *y, const tq_shape *ys,
                                 int threads) {
  const int64_t e0 = (n * g->M + gi * g->Mg) * g->P;
  tq_intrinsic_gemm_args a = {
      .M = (int)g->Mg,
      .N = (int)g->P,
      .K = (int)g->K,
      .A = A,
      .lda = (size_t)g->K,
      .B = B,
      .ldb = (size_t)g->P,
      .bias = b ? b + gi * g->Mg : NULL,
      .bias_rs = 1,
      .bias_cs = 0,
      .C = y + e0,
      .ldc = (size_t)g->P,
      .iq = c->intrinsic,
      .seed = c->seed,
      .stream = c->stream,
      .index_base = tq_nn_index_base(c, ys, (uint64_t)e0, g->K),
      .threads = threads,
  };
  return tq_nn_run_intrinsic(c, &a);
}

static tq_status conv_forward_intrinsic(tq_op_call *c, const conv_geom *g,
                                        const float *x, const float *wt,
                                        const float *b, float *y) {
  const tq_nn_window *w = &g->w;
  const int threads = tq_nn_threads(c);
  const int pointwise = tq_conv_is_pointwise(w);
  const int64_t R = w->out[0] * w->out[1];
  float *col = NULL;
  if (!pointwise) {
    col = malloc((size_t)(g->K * g->P + 1) * sizeof *col);
    if (!col)
      return tq_call_error(c, TQ_ERR_NO_MEMORY,
                           "out of memory for a %lld x %lld im2col buffer",
                           (long long)g->K, (long long)g->P);
  }
  tq_status st = TQ_OK;
  const tq_shape *ys = &c->out[0]->shape;
  for (int64_t n = 0; n < g->N && !st; n++) {
    for (int64_t gi = 0; gi < g->G && !st; gi++) {
      const float *xg = x + (n * g->C + gi * g->Cg) * g->Pin;
      const float *bm = xg;
      if (!pointwise) {
        int nt = threads > g->Cg ? (int)g->Cg : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t ch = 0; ch < g->Cg; ch++)
          tq_conv_im2col_rows(g, xg, ch, ch + 1, 0, R,
                              col + ch * g->kvol * g->P, g->P);
        bm = col;
      }
      st = group_intrinsic(c, g, n, gi, wt + gi * g->Mg * g->K, bm, b, y, ys,
                           threads);
    }
  }
  free(col);
  return st;
}

/* Conv and ConvTranspose share one forward: geometry, the empty and
 * kernel-less cases, then the intrinsic path or the implementation list. */
typedef tq_status (*conv_prepare_fn)(tq_op_call *c, conv_geom *g);
typedef tq_status (*conv_intrinsic_fn)(tq_op_call *c, const conv_geom *g,
                                       const float *x, const float *wt,
                                       const float *b, float *y);

static tq_status conv_family_forward(tq_op_call *c, conv_prepare_fn prepare,
                                     conv_intrinsic_fn intrinsic,
                                     int fuses_relu) {
  conv_geom g;
  tq_status st = prepare(c, &g);
  if (st) return st;
  if (g.N * g.M * g.P == 0) return TQ_OK;
  const float *x = tq_cf32(c->in[0]), *wt = tq_cf32(c->in[1]);
  const float *b = c->n_in > 2 && c->in[2] ? tq_cf32(c->in[2]) : NULL;
  float *y = tq_f32(c->out[0]);
  if (c->intrinsic) {
    c->impl = "intrinsic";
    return intrinsic(c, &g, x, wt, b, y);
  }
  if (g.K == 0) {
    fill_planes(y, g.N, g.M, g.P, b);
    return TQ_OK;
  }
  g.relu = fuses_relu && c->post_relu;
  st = tq_conv_impl_forward(c, &g, x, wt, b, y);
  c->post_relu_done = st == TQ_OK && g.relu;
  return st;
}

static tq_status conv_forward(tq_op_call *c) {
  return conv_family_forward(c, tq_conv_prepare, conv_forward_intrinsic, 1);
}

/* ---- ConvTranspose ----------------------------------------------------- */

/* W is (C, M / group, kernel...); the output has M channels. */
tq_status tq_convt_prepare(tq_op_call *c, conv_geom *g) {
  tq_status st;
  if ((st = tq_nn_check_input(c, 0, "X", 3, 5)) || (st = check_w_rank(c)))
    return st;
  const conv_params *cp = c->params;
  const tq_shape *xs = &c->in[0]->shape, *ws = &c->in[1]->shape;
  const int nsp = xs->ndim - 2;
  const int64_t group = cp->group;
  memset(g, 0, sizeof *g);
  g->N = xs->dims[0];
  g->C = xs->dims[1];
  g->G = group;
  if (ws->dims[0] != g->C)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "W has %lld input channels (dimension 0) but X has "
                         "%lld channels",
                         (long long)ws->dims[0], (long long)g->C);
  if (g->C % group)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "X has %lld channels, not divisible by group %lld",
                         (long long)g->C, (long long)group);
  g->Cg = g->C / group;
  g->Mg = ws->dims[1];
  g->M = g->Mg * group;
  if ((st = check_kernel_shape(c, &cp->win.kernel_shape, nsp, ws->dims + 2)) ||
      (st = check_bias(c, g->M)))
    return st;

  int64_t strides[3], dil[3], pads[6], opad[3];
  const int mode = cp->win.auto_pad;
  if ((st = tq_nn_ints_get(c, &cp->win.strides, "strides", nsp, 1, strides)) ||
      (st = tq_nn_ints_get(c, &cp->win.dilations, "dilations", nsp, 1, dil)) ||
      (st = tq_nn_ints_get(c, &cp->win.pads, "pads", 2 * nsp, 0, pads)) ||
      (st = tq_nn_ints_get(c, &cp->output_padding, "output_padding", nsp, 0,
                           opad)))
    return st;
  /* As ONNX Runtime: output_shape gives the spatial sizes, or a whole N,
   * C, ... shape. */
  const int64_t *os = NULL;
  const size_t n_os = cp->output_shape.n;
  if (n_os == (size_t)nsp + 2) {
    os = cp->output_shape.v + 2;
  } else if (n_os == (size_t)nsp) {
    os = cp->output_shape.v;
  } else if (n_os) {
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "attribute output_shape has %zu values, expected "
                         "%d (one per spatial dimension)",
                         n_os, nsp);
  }

  tq_nn_window *w = &g->w;
  w->nsp = nsp;
  for (int d = 0; d < TQ_NN_MAX_SPATIAL; d++)
    w->in[d] = w->out[d] = w->kernel[d] = w->stride[d] = w->dil[d] = 1;
  const int o = TQ_NN_MAX_SPATIAL - nsp;
  for (int d = 0; d < nsp; d++) {
    const int D = o + d;
    const int64_t in = xs->dims[2 + d], k = ws->dims[2 + d], s = strides[d];
    if (k < 1)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "kernel size %lld along spatial axis %d; expected "
                           ">= 1",
                           (long long)k, d);
    const int64_t natural = s * (in - 1) + opad[d] + (k - 1) * dil[d] + 1;
    int64_t lo, hi, out;
    if (os) {
      /* ONNX: pads follow from output_shape; the odd unit goes to the
       * start unless auto_pad is SAME_UPPER. */
      out = os[d];
      const int64_t total = natural - out;
      if (total < 0 || out < 1)
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "output_shape[%d] = %lld is not reachable: the "
                             "unpadded output size is %lld",
                             d, (long long)out, (long long)natural);
      lo = mode == TQ_NN_SAME_UPPER ? total / 2 : total - total / 2;
      hi = total - lo;
    } else if (mode == TQ_NN_SAME_UPPER || mode == TQ_NN_SAME_LOWER) {
      int64_t total = natural - in * s;
      if (total < 0) total = 0;
      lo = mode == TQ_NN_SAME_UPPER ? total / 2 : total - total / 2;
      hi = total - lo;
      out = natural - total;
    } else {
      lo = mode == TQ_NN_VALID ? 0 : pads[d];
      hi = mode == TQ_NN_VALID ? 0 : pads[d + nsp];
      out = natural - lo - hi;
      if (out < 1)
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "pads %lld+%lld along spatial axis %d leave no "
                             "output (unpadded size %lld)",
                             (long long)lo, (long long)hi, d,
                             (long long)natural);
    }
    w->in[D] = in;
    w->out[D] = out;
    w->kernel[D] = k;
    w->stride[D] = s;
    w->dil[D] = dil[d];
    w->pad_lo[D] = lo;
    w->pad_hi[D] = hi;
  }
  g->kvol = dim_prod(w->kernel, 3);
  g->K = g->Cg * g->kvol;
  g->Pin = dim_prod(w->in, 3);
  g->P = dim_prod(w->out, 3);
  const int64_t sizes[] = {g->K, g->P, g->Mg * g->kvol, g->Pin, g->Mg};
  return check_int_sizes(c, sizes, 5);
}

static tq_status convt_infer(tq_op_call *c) {
  conv_geom g;
  tq_status st = tq_convt_prepare(c, &g);
  if (st) return st;
  tq_shape s;
  conv_out_shape(&g, &s);
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &s);
}

/* Adds the columns of col (rows: out channel, tap; columns: input
 * positions) into the output planes of out channels [0, Mg) of one group:
 * the input position p and tap t land on output position p * stride -
 * pad + t * dilation. */
void tq_conv_col2im(const conv_geom *g, const float *col, int64_t ld, float *y,
                    const float *bias, int threads) {
  const tq_nn_window *w = &g->w;
  const int64_t ID = w->in[0], IH = w->in[1], IW = w->in[2];
  const int64_t OD = w->out[0], OH = w->out[1], OW = w->out[2];
  const int64_t sw = w->stride[2];
  int nt = threads > g->Mg ? (int)g->Mg : threads;
  if (nt < 1) nt = 1;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t oc = 0; oc < g->Mg; oc++) {
    float *yp = y + oc * g->P;
    tq_conv_fill_bias(yp, 1, g->P, g->P, bias ? bias + oc : NULL);
    const float *crow = col + oc * g->kvol * ld;
    for (int64_t i = 0; i < w->kernel[0]; i++) {
      for (int64_t j = 0; j < w->kernel[1]; j++) {
        for (int64_t l = 0; l < w->kernel[2]; l++, crow += ld) {
          const int64_t off = l * w->dil[2] - w->pad_lo[2];
          /* iw valid when 0 <= iw * sw + off < OW */
          int64_t lo, hi;
          tq_conv_valid_range(off, sw, OW, IW, &lo, &hi);
          for (int64_t id = 0; id < ID; id++) {
            const int64_t od = id * w->stride[0] - w->pad_lo[0] + i * w->dil[0];
            if (od < 0 || od >= OD) continue;
            for (int64_t ih = 0; ih < IH; ih++) {
              const int64_t oh =
                  ih * w->stride[1] - w->pad_lo[1] + j * w->dil[1];
              if (oh < 0 || oh >= OH) continue;
              float *yr = yp + (od * OH + oh) * OW;
              const float *xr = crow + (id * IH + ih) * IW;
              for (int64_t iw = lo; iw < hi; iw++) yr[iw * sw + off] += xr[iw];
            }
          }
        }
      }
    }
  }
}

/* Tap indices t in [0, k) and input positions q with q * stride =
 * o + pad - t * dil, 0 <= q < in: the one input term of output position o
 * for tap t, or -1. */
static int64_t convt_source(int64_t o, int64_t t, int64_t pad, int64_t dil,
                            int64_t stride, int64_t in) {
  const int64_t v = o + pad - t * dil;
  if (v < 0 || v % stride) return -1;
  const int64_t q = v / stride;
  return q < in ? q : -1;
}

static tq_status convt_forward_intrinsic(tq_op_call *c, const conv_geom *g,
                                         const float *x, const float *wt,
                                         const float *b, float *y) {
  const tq_nn_window *w = &g->w;
  const int threads = tq_nn_threads(c);
  const int64_t OD = w->out[0], OH = w->out[1], OW = w->out[2];
  const int64_t IH = w->in[1], IW = w->in[2];
  float *A = malloc((size_t)(g->Mg * g->K + 1) * sizeof *A);
  float *col = malloc((size_t)(g->K * g->P + 1) * sizeof *col);
  if (!A || !col) {
    free(A);
    free(col);
    return tq_call_error(c, TQ_ERR_NO_MEMORY,
                         "out of memory for a %lld x %lld gathered input",
                         (long long)g->K, (long long)g->P);
  }
  tq_status st = TQ_OK;
  const tq_shape *ys = &c->out[0]->shape;
  for (int64_t gi = 0; gi < g->G && !st; gi++) {
    /* A[oc][ic * kvol + t] = W[gi * Cg + ic][oc][t] */
    const float *wg = wt + gi * g->Cg * g->Mg * g->kvol;
    for (int64_t oc = 0; oc < g->Mg; oc++)
      for (int64_t ic = 0; ic < g->Cg; ic++)
        memcpy(A + oc * g->K + ic * g->kvol, wg + (ic * g->Mg + oc) * g->kvol,
               (size_t)g->kvol * sizeof *A);
    for (int64_t n = 0; n < g->N && !st; n++) {
      const float *xg = x + (n * g->C + gi * g->Cg) * g->Pin;
      int nt = threads > g->Cg ? (int)g->Cg : threads;
      if (nt < 1) nt = 1;
#pragma omp parallel for num_threads(nt) schedule(static)
      for (int64_t ic = 0; ic < g->Cg; ic++) {
        const float *xc = xg + ic * g->Pin;
        float *dst = col + ic * g->kvol * g->P;
        for (int64_t i = 0; i < w->kernel[0]; i++) {
          for (int64_t j = 0; j < w->kernel[1]; j++) {
            for (int64_t l = 0; l < w->kernel[2]; l++, dst += g->P) {
              float *d = dst;
              for (int64_t od = 0; od < OD; od++) {
                const int64_t id = convt_source(od, i, w->pad_lo[0], w->dil[0],
                                                w->stride[0], w->in[0]);
                for (int64_t oh = 0; oh < OH; oh++, d += OW) {
                  const int64_t ih = convt_source(oh, j, w->pad_lo[1],
                                                  w->dil[1], w->stride[1], IH);
                  if (id < 0 || ih < 0) {
                    memset(d, 0, (size_t)OW * sizeof *d);
                    continue;
                  }
                  const float *xr = xc + (id * IH + ih) * IW;
                  for (int64_t ow = 0; ow < OW; ow++) {
                    const int64_t iw = convt_source(
                        ow, l, w->pad_lo[2], w->dil[2], w->stride[2], IW);
                    d[ow] = iw < 0 ? 0.0f : xr[iw];
                  }
                }
              }
            }
          }
        }
      }
      st = group_intrinsic(c, g, n, gi, A, col, b, y, ys, threads);
    }
  }
  free(A);
  free(col);
  return st;
}

static tq_status convt_forward(tq_op_call *c) {
  return conv_family_forward(c, tq_convt_prepare, convt_forward_intrinsic, 0);
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_conv[] = {
    {TQ_OP_ONNX(TQ_OP_CONV, "Conv"), TQ_OP_ARITY(2, 3, 1, 1),
     .flags = TQ_OPF_WEIGHTS | TQ_OPF_INTRINSIC | TQ_OPF_POST_RELU,
     TQ_OP_PARAMS(conv_params, tq_conv_parse), .infer = conv_infer,
     .forward = conv_forward, .backward = tq_conv_backward},
    {TQ_OP_ONNX(TQ_OP_CONV_TRANSPOSE, "ConvTranspose"), TQ_OP_ARITY(2, 3, 1, 1),
     .flags = TQ_OPF_WEIGHTS | TQ_OPF_INTRINSIC,
     TQ_OP_PARAMS(conv_params, tq_conv_parse), .infer = convt_infer,
     .forward = convt_forward, .backward = tq_convt_backward},
};
const size_t tq_ops_conv_count = TQ_OP_COUNT_OF(tq_ops_conv);
