/* Pad (constant, reflect, edge, wrap); forward and backward.
 *
 * Backward: constant mode crops the gradient (the constant value gets the
 * sum over the padding); the other modes add each output element's
 * gradient to the input element it copied, in output order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

static const char *const pad_modes[] = {"constant", "reflect", "edge", "wrap"};

/* The mode; before opset 11 the pads ('paddings' in opset 1) and the
 * constant value are attributes. */
typedef struct pad_params {
  int mode;
  tq_shape_ints pads;
  float value;
} pad_params;

static tq_status pad_parse(const tq_op_parse *p, void *params) {
  pad_params *pp = params;
  const char *mode = tq_parse_string(p, "mode", "constant");
  pp->mode = tq_parse_index(mode, pad_modes, 4);
  if (pp->mode < 0)
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "mode '%s' is not supported (constant, reflect, "
                          "edge, wrap)",
                          mode);
  tq_status st = tq_shape_parse_ints(p, "pads", &pp->pads);
  if (st == TQ_OK && !pp->pads.present)
    st = tq_shape_parse_ints(p, "paddings", &pp->pads);
  pp->value = tq_parse_float(p, "value", 0.0f);
  return st;
}

/* The mode, the padding before and after each dim, and the shape. */
typedef struct pad_p {
  int mode;
  int64_t begin[TQ_MAX_DIMS], end[TQ_MAX_DIMS];
  tq_shape out;
} pad_p;

static tq_status pad_derive(tq_op_call *c, pad_p *p) {
  const pad_params *pp = c->params;
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int r = x->shape.ndim;
  const char *mode = pad_modes[pp->mode];
  p->mode = pp->mode;
  int64_t pads[TQ_SHAPE_MAXV], axes[TQ_SHAPE_MAXV];
  size_t np = 0, na = 0;
  if (tq_shape_has_input(c, 1)) { /* opset >= 11 */
    st = tq_shape_input_ints(c, 1, "pads", pads, TQ_SHAPE_MAXV, &np);
  } else {
    np = pp->pads.n;
    memcpy(pads, pp->pads.v, sizeof pads);
    if (!pp->pads.present)
      st = tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "'pads' is required (input 1 from opset 11, an "
                         "attribute before)");
  }
  if (st != TQ_OK) return st;
  int ax[TQ_SHAPE_MAXV];
  if (tq_shape_has_input(c, 3)) { /* opset 18: pads cover these axes only */
    st = tq_shape_input_ints(c, 3, "axes", axes, TQ_SHAPE_MAXV, &na);
    if (st == TQ_OK) st = tq_shape_norm_axes(c, axes, na, r, ax);
    if (st != TQ_OK) return st;
  } else {
    na = (size_t)r;
    for (int d = 0; d < r; d++) ax[d] = d;
  }
  if (np != 2 * na)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "pads has %zu values, expected %zu (begin and end "
                         "for each of %zu axes)",
                         np, 2 * na, na);
  if (tq_shape_has_input(c, 2)) {
    const tq_tensor *cv = c->in[2];
    if (cv->dtype != x->dtype || cv->numel != 1)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "constant_value must be a scalar of the data's "
                           "type (%s)",
                           tq_dtype_name(x->dtype));
  }
  p->out = x->shape;
  for (int d = 0; d < r; d++) p->begin[d] = p->end[d] = 0;
  for (size_t k = 0; k < na; k++) {
    int d = ax[k];
    p->begin[d] = pads[k];
    p->end[d] = pads[k + na];
    int64_t in = x->shape.dims[d];
    int64_t o = in + pads[k] + pads[k + na];
    if (o < 0)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "pads %lld and %lld leave axis %d of size %lld "
                           "with a negative size",
                           (long long)pads[k], (long long)pads[k + na], d,
                           (long long)in);
    if (p->mode != PAD_CONSTANT && in == 0 && o > 0)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "mode '%s' cannot pad axis %d of size 0", mode, d);
    p->out.dims[d] = o;
  }
  return TQ_OK;
}

static tq_status pad_infer(tq_op_call *c) {
  pad_p p;
  tq_status st = pad_derive(c, &p);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &p.out);
}

/* Input index for output coordinate o of an axis of size n, or -1 for the
 * constant. */
static int64_t pad_map(int mode, int64_t o, int64_t begin, int64_t n) {
  int64_t x = o - begin;
  if (x >= 0 && x < n) return x;
  switch (mode) {
    case PAD_EDGE: return x < 0 ? 0 : n - 1;
    case PAD_WRAP: return ((x % n) + n) % n;
    case PAD_REFLECT: {
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1); /* reflection without the edge twice */
      x = ((x % period) + period) % period;
      return x < n ? x : period - x;
    }
    default: return -1;
  }
}

/* Per axis d of the output and coordinate o, the input coordinate it
 * copies (-1: the constant): map[d][o], in one block *maps (free it). */
static tq_status pad_maps(tq_op_call *c, const pad_p *p, const tq_shape *sx,
                          int64_t **maps, const int64_t **map) {
  size_t total = 0;
  for (int d = 0; d < sx->ndim; d++) total += (size_t)p->out.dims[d];
  *maps = malloc((total ? total : 1) * sizeof **maps);
  if (!*maps) return tq_error_nomem(c->ctx);
  size_t at = 0;
  for (int d = 0; d < sx->ndim; d++) {
    int64_t *m = *maps + at;
    for (int64_t o = 0; o < p->out.dims[d]; o++)
      m[o] = pad_map(p->mode, o, p->begin[d], sx->dims[d]);
    map[d] = m;
    at += (size_t)p->out.dims[d];
  }
  return TQ_OK;
}

static tq_status pad_forward(tq_op_call *c) {
  pad_p p;
  tq_status st = pad_derive(c, &p);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  int r = x->shape.ndim;
  if (y->numel == 0) return TQ_OK;
  if (r == 0) {
    tq_ew_copy(x->data, y->data, 1, tq_dtype_size(x->dtype), 1);
    return TQ_OK;
  }
  /* Constant value: input 2 (opset >= 11), or the attribute 'value'
   * converted to the data's dtype as Cast would. */
  const size_t es = tq_dtype_size(x->dtype);
  unsigned char cv[8];
  if (tq_shape_has_input(c, 2))
    memcpy(cv, c->in[2]->data, es);
  else
    tq_store_f64(x->dtype, cv, 0, ((const pad_params *)c->params)->value);
  int64_t *maps, xs[TQ_MAX_DIMS];
  const int64_t *map[TQ_MAX_DIMS];
  if ((st = pad_maps(c, &p, &x->shape, &maps, map)) != TQ_OK) return st;
  tq_shape_strides(&x->shape, xs);
  size_t inner = (size_t)p.out.dims[r - 1], rows = y->numel / inner;
  const int64_t *ml = map[r - 1];
  int threads = tq_ew_threads(c);
  const unsigned char *xb = x->data;
  unsigned char *yb = y->data;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (y->numel >= TQ_CHUNK_ELEMS && rows > 1)
  for (size_t row = 0; row < rows; row++) {
    size_t q = row;
    int64_t off = 0;
    int fill = 0; /* the whole row lies in the padding */
    for (int d = r - 2; d >= 0; d--) {
      int64_t m = map[d][q % (size_t)p.out.dims[d]];
      q /= (size_t)p.out.dims[d];
      if (m < 0) fill = 1;
      off += m * xs[d];
    }
    if (es == 4) { /* float32 (and int32): the common case, as bits */
      uint32_t cf;
      memcpy(&cf, cv, sizeof cf);
      const uint32_t *src =
          (const uint32_t *)(const void *)xb + (fill ? 0 : off);
      uint32_t *dst = (uint32_t *)(void *)yb + row * inner;
      for (size_t j = 0; j < inner; j++)
        dst[j] = (fill || ml[j] < 0) ? cf : src[ml[j]];
    } else {
      const unsigned char *src = xb + (size_t)(fill ? 0 : off) * es;
      unsigned char *dst = yb + row * inner * es;
      for (size_t j = 0; j < inner; j++)
        memcpy(dst + j * es,
               (fill || ml[j] < 0) ? cv : src + (size_t)ml[j] * es, es);
    }
  }
  free(maps);
  return TQ_OK;
}

/* ---- backward
 * ---------------------------------------------------------------*/

/* Constant mode: gin[x] = gout[x + begin] (0 where cropped away). */
static void pad_constant_bw(const tq_shape *sx, const tq_shape *so,
                            const int64_t *begin, const float *g, float *d,
                            int threads) {
  int r = sx->ndim;
  int64_t os[TQ_MAX_DIMS];
  tq_shape_strides(so, os);
  size_t inner = (size_t)sx->dims[r - 1], n = 1;
  for (int k = 0; k < r; k++) n *= (size_t)sx->dims[k];
  size_t rows = n / inner;
  int64_t ob = begin[r - 1], on = so->dims[r - 1];
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (n >= TQ_CHUNK_ELEMS && rows > 1)
  for (size_t row = 0; row < rows; row++) {
    size_t q = row;
    int64_t off = 0;
    int out = 0;
    for (int k = r - 2; k >= 0; k--) {
      int64_t o = (int64_t)(q % (size_t)sx->dims[k]) + begin[k];
      q /= (size_t)sx->dims[k];
      if (o < 0 || o >= so->dims[k]) out = 1;
      off += o * os[k];
    }
    float *dr = d + row * inner;
    for (size_t j = 0; j < inner; j++) {
      int64_t o = (int64_t)j + ob;
      dr[j] = !out && o >= 0 && o < on ? g[off + o] : 0.0f;
    }
  }
}

/* Gradient of the constant value: the sum over the padding, in output
 * order. */
static float pad_value_grad(int r, const int64_t *const *map,
                            const tq_shape *so, const float *g) {
  size_t n = 1;
  for (int k = 0; k < r; k++) n *= (size_t)so->dims[k];
  double acc = 0.0;
  int64_t idx[TQ_MAX_DIMS] = {0};
  for (size_t i = 0; i < n; i++) {
    int pad = 0;
    for (int k = 0; k < r; k++)
      if (map[k][idx[k]] < 0) pad = 1;
    if (pad) acc += g[i];
    for (int k = r - 1; k >= 0; k--) {
      if (++idx[k] < so->dims[k]) break;
      idx[k] = 0;
    }
  }
  return (float)acc;
}

/* Reflect, edge, wrap: every output element adds its gradient to the input
 * element it copied, in output order. Leading dims without padding split
 * the work into independent blocks. */
static void pad_scatter_bw(const tq_shape *sx, const tq_shape *so,
                           const int64_t *const *map, const float *g, float *d,
                           int threads) {
  int r = sx->ndim, lead = 0;
  for (int unpadded = 1; unpadded && lead < r; lead += unpadded) {
    unpadded = so->dims[lead] == sx->dims[lead];
    for (int64_t o = 0; unpadded && o < so->dims[lead]; o++)
      unpadded = map[lead][o] == o;
  }
  size_t blocks = 1, xin = 1, oin = 1;
  for (int k = 0; k < lead; k++) blocks *= (size_t)so->dims[k];
  for (int k = lead; k < r; k++) {
    xin *= (size_t)sx->dims[k];
    oin *= (size_t)so->dims[k];
  }
  int64_t xs[TQ_MAX_DIMS];
  tq_shape_strides(sx, xs);
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (blocks * oin >= TQ_CHUNK_ELEMS && blocks > 1)
  for (size_t b = 0; b < blocks; b++) {
    float *db = d + b * xin;
    const float *gb = g + b * oin;
    for (size_t i = 0; i < xin; i++) db[i] = 0.0f;
    int64_t idx[TQ_MAX_DIMS] = {0};
    for (size_t i = 0; i < oin; i++) {
      int64_t off = 0;
      for (int k = lead; k < r; k++) off += map[k][idx[k]] * xs[k];
      db[off] += gb[i];
      for (int k = r - 1; k >= lead; k--) {
        if (++idx[k] < so->dims[k]) break;
        idx[k] = 0;
      }
    }
  }
}

static tq_status pad_backward(tq_op_call *c, const tq_tensor *const *gout,
                              tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  int threads = tq_ew_threads(c);
  int want_value = c->n_in > 2 && gin[2];
  if (!gin[0] && !want_value) return TQ_OK;
  const tq_shape *sx = &c->in[0]->shape, *so = &gout[0]->shape;
  const int r = sx->ndim;
  pad_p p;
  st = pad_derive(c, &p);
  if (st != TQ_OK) return st;
  const int mode = p.mode;
  const int64_t *begin = p.begin;
  const float *g = tq_cf32(gout[0]);
  if (r == 0 || gout[0]->numel == 0) { /* a scalar, or nothing out */
    if (gin[0] && r == 0) tq_f32(gin[0])[0] = g[0];
    if (gin[0] && r > 0)
      tq_bw_fill(tq_f32(gin[0]), gin[0]->numel, 0.0f, threads);
    if (want_value) tq_bw_fill(tq_f32(gin[2]), gin[2]->numel, 0.0f, threads);
    return TQ_OK;
  }
  int64_t *maps;
  const int64_t *map[TQ_MAX_DIMS];
  if ((st = pad_maps(c, &p, sx, &maps, map)) != TQ_OK) return st;
  if (gin[0] && gin[0]->numel > 0) {
    if (mode == PAD_CONSTANT)
      pad_constant_bw(sx, so, begin, g, tq_f32(gin[0]), threads);
    else
      pad_scatter_bw(sx, so, map, g, tq_f32(gin[0]), threads);
  }
  if (want_value)
    tq_f32(gin[2])[0] =
        mode == PAD_CONSTANT ? pad_value_grad(r, map, so, g) : 0.0f;
  free(maps);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_pad[] = {
    {TQ_OP_ONNX(TQ_OP_PAD, "Pad"), TQ_OP_ARITY(1, 4, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_I64, TQ_DTM_ANY, TQ_DTM_INDEX),
     TQ_OP_PARAMS(pad_params, pad_parse), .infer = pad_infer,
     .forward = pad_forward, .backward = pad_backward},
};
const size_t tq_ops_pad_count = TQ_OP_COUNT_OF(tq_ops_pad);
