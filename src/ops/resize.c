/* Resize (opsets 10+) and Upsample: nearest and linear interpolation over
 * any axes, float32, with ONNX Runtime's coordinate arithmetic. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

enum { RS_NEAREST, RS_LINEAR };
enum {
  CT_HALF_PIXEL,
  CT_ASYMMETRIC,
  CT_ALIGN_CORNERS,
  CT_PYTORCH_HALF_PIXEL,
  CT_TF_HALF_PIXEL_FOR_NN,
};
/* NM_SIMPLE: Upsample and Resize-10, as ONNX Runtime: truncate when
 * upsampling, ceil when downsampling. */
enum {
  NM_ROUND_PREFER_FLOOR,
  NM_ROUND_PREFER_CEIL,
  NM_FLOOR,
  NM_CEIL,
  NM_SIMPLE
};

/* The interpolation; Upsample (any opset) and Resize before opset 11 use
 * the legacy coordinates. Upsample-7's 'scales' attribute may point into
 * the node's attributes, which live as long as the graph. */
typedef struct resize_params {
  int upsample, legacy;
  int mode, ctm, nm;
  int has_scales;
  const float *scales;
  size_t n_scales;
} resize_params;

static tq_status resize_parse(const tq_op_parse *p, void *params) {
  resize_params *rp = params;
  rp->upsample = p->desc->id == TQ_OP_UPSAMPLE;
  rp->legacy = rp->upsample || p->opset < 11;
  const char *mode = tq_parse_string(p, "mode", "nearest");
  if (strcmp(mode, "nearest") == 0)
    rp->mode = RS_NEAREST;
  else if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0)
    rp->mode = RS_LINEAR;
  else
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "mode '%s' is not supported (nearest, linear)", mode);
  const tq_attr *sa = tq_parse_attr(p, "scales");
  if (rp->upsample && sa && sa->type == TQ_ATTR_FLOATS) {
    rp->has_scales = 1;
    rp->scales = sa->floats;
    rp->n_scales = sa->count;
  }
  if (rp->legacy) {
    rp->ctm = CT_ASYMMETRIC;
    rp->nm = NM_SIMPLE;
    return TQ_OK;
  }
  static const char *const ctms[] = {"half_pixel", "asymmetric",
                                     "align_corners", "pytorch_half_pixel",
                                     "tf_half_pixel_for_nn"};
  static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil",
                                    "floor", "ceil"};
  const char *ct =
      tq_parse_string(p, "coordinate_transformation_mode", "half_pixel");
  const char *nm = tq_parse_string(p, "nearest_mode", "round_prefer_floor");
  rp->ctm = tq_parse_index(ct, ctms, 5);
  rp->nm = tq_parse_index(nm, nms, 4);
  if (rp->ctm < 0)
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "coordinate_transformation_mode '%s' is not "
                          "supported",
                          ct);
  if (rp->nm < 0)
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "nearest_mode '%s' is not supported", nm);
  if (tq_parse_attr(p, "axes"))
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "the 'axes' attribute is not supported");
  if (tq_parse_int(p, "antialias", 0) != 0)
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "antialias=1 is not supported");
  const char *kar = tq_parse_string(p, "keep_aspect_ratio_policy", "stretch");
  if (strcmp(kar, "stretch") != 0)
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "keep_aspect_ratio_policy '%s' is not supported",
                          kar);
  return TQ_OK;
}

/* The interpolation, the scale per axis and the output shape. */
typedef struct resize_p {
  int mode, ctm, nm;
  float scale[TQ_MAX_DIMS];
  tq_shape out;
} resize_p;

static tq_status resize_derive(tq_op_call *c, resize_p *p) {
  const resize_params *rp = c->params;
  tq_status st = tq_shape_need_input(c, 0, "X");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int r = x->shape.ndim;
  const int upsample = rp->upsample, legacy = rp->legacy;
  if (x->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "expects a float32 input, got %s",
                         tq_dtype_name(x->dtype));
  p->mode = rp->mode;
  p->ctm = rp->ctm;
  p->nm = rp->nm;
  /* Where scales/sizes come from: Upsample-7 attribute 'scales';
   * Upsample-9 and Resize-10 input 1; Resize-11+ inputs 2 and 3. */
  const tq_tensor *ts = NULL, *tz = NULL;
  float sc[TQ_MAX_DIMS];
  int have_scales = 0;
  if (upsample && !tq_shape_has_input(c, 1)) {
    if (!rp->has_scales)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "the attribute 'scales' is required");
    if ((int)rp->n_scales != r)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'scales' has %zu values for an input of rank %d",
                           rp->n_scales, r);
    for (int d = 0; d < r; d++) sc[d] = rp->scales[d];
    have_scales = 1;
  } else if (legacy) {
    st = tq_shape_need_const(c, 1, "scales");
    if (st != TQ_OK) return st;
    ts = c->in[1];
  } else {
    if (tq_shape_has_input(c, 2) && c->in[2]->numel > 0) ts = c->in[2];
    if (tq_shape_has_input(c, 3) && c->in[3]->numel > 0) tz = c->in[3];
    if (ts) st = tq_shape_need_const(c, 2, "scales");
    if (st == TQ_OK && tz) st = tq_shape_need_const(c, 3, "sizes");
    if (st != TQ_OK) return st;
    if (!ts && !tz)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "needs 'scales' (input 2) or 'sizes' (input 3)");
    if (ts && tz)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "has both 'scales' and 'sizes' (one is allowed)");
  }
  if (ts) {
    if (ts->dtype != TQ_DTYPE_FLOAT32 || ts->shape.ndim != 1 ||
        (int)ts->numel != r)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'scales' must be 1-D float32 with %d values", r);
    for (int d = 0; d < r; d++) sc[d] = tq_cf32(ts)[d];
    have_scales = 1;
  }
  p->out = x->shape;
  if (have_scales) {
    for (int d = 0; d < r; d++) {
      if (!(sc[d] > 0.0f) || isinf(sc[d]))
        return tq_call_error(c, TQ_ERR_RANGE,
                             "scale %g for axis %d is not positive",
                             (double)sc[d], d);
      /* As ONNX Runtime: the product in float, truncated. */
      float od = sc[d] * (float)x->shape.dims[d];
      if (!(od < 1e12f))
        return tq_call_error(c, TQ_ERR_RANGE, "the output is too large");
      p->out.dims[d] = (int64_t)od;
      p->scale[d] = sc[d];
    }
  } else {
    if (tz->dtype != TQ_DTYPE_INT64 || tz->shape.ndim != 1 ||
        (int)tz->numel != r)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "'sizes' must be 1-D int64 with %d values", r);
    for (int d = 0; d < r; d++) {
      int64_t v = tq_ci64(tz)[d];
      if (v < 0)
        return tq_call_error(c, TQ_ERR_RANGE,
                             "size %lld for axis %d is negative", (long long)v,
                             d);
      p->out.dims[d] = v;
      p->scale[d] =
          x->shape.dims[d] ? (float)v / (float)x->shape.dims[d] : 1.0f;
    }
  }
  size_t numel;
  if (tq_shape_check(NULL, &p->out, &numel) != TQ_OK)
    return tq_call_error(c, TQ_ERR_SHAPE, "the output would be too large");
  for (int d = 0; d < r; d++)
    if (x->shape.dims[d] == 0 && p->out.dims[d] > 0)
      return tq_call_error(c, TQ_ERR_SHAPE, "cannot resize axis %d of size 0",
                           d);
  return TQ_OK;
}

static tq_status resize_infer(tq_op_call *c) {
  resize_p p;
  tq_status st = resize_derive(c, &p);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &p.out);
}

/* The input coordinate of output coordinate o (ONNX formulas, in float as
 * ONNX Runtime computes them). */
static float resize_coord(int ctm, int64_t o, float scale, int64_t in,
                          int64_t out) {
  float x = (float)o;
  switch (ctm) {
    case CT_ASYMMETRIC: return x / scale;
    case CT_ALIGN_CORNERS:
      return out == 1 ? 0.0f : x * (float)(in - 1) / (float)(out - 1);
    case CT_PYTORCH_HALF_PIXEL:
      return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5f) / scale;
    default: return (x + 0.5f) / scale - 0.5f;
  }
}

static int64_t resize_nearest(int nm, float x, float scale) {
  float f = floorf(x);
  switch (nm) {
    case NM_FLOOR: return (int64_t)f;
    case NM_CEIL: return (int64_t)ceilf(x);
    case NM_SIMPLE: return scale < 1.0f ? (int64_t)ceilf(x) : (int64_t)x;
    case NM_ROUND_PREFER_CEIL:
      return x == f + 0.5f ? (int64_t)(f + 1.0f) : (int64_t)roundf(x);
    default: return x == f + 0.5f ? (int64_t)f : (int64_t)roundf(x);
  }
}

static tq_status resize_forward(tq_op_call *c) {
  resize_p p;
  tq_status st = resize_derive(c, &p);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  int r = x->shape.ndim;
  if (y->numel == 0) return TQ_OK;
  if (r == 0) {
    tq_f32(y)[0] = tq_cf32(x)[0];
    return TQ_OK;
  }
  /* Per axis and output coordinate: the two input indices and weights
   * (nearest: one index, weight 1). */
  size_t total = 0;
  for (int d = 0; d < r; d++) total += (size_t)p.out.dims[d];
  int64_t *idx = malloc(2 * total * sizeof *idx);
  float *wt = malloc(2 * total * sizeof *wt);
  if (!idx || !wt) {
    free(idx);
    free(wt);
    return tq_error_nomem(c->ctx);
  }
  int64_t xs[TQ_MAX_DIMS], *i0[TQ_MAX_DIMS], *i1[TQ_MAX_DIMS];
  float *w0[TQ_MAX_DIMS], *w1[TQ_MAX_DIMS];
  int lin[TQ_MAX_DIMS];
  tq_shape_strides(&x->shape, xs);
  size_t at = 0;
  for (int d = 0; d < r; d++) {
    int64_t in = x->shape.dims[d], out = p.out.dims[d];
    i0[d] = idx + at;
    i1[d] = idx + total + at;
    w0[d] = wt + at;
    w1[d] = wt + total + at;
    at += (size_t)out;
    /* Axes that keep their size at scale 1 are copied as they are. */
    lin[d] = p.mode == RS_LINEAR && !(in == out && p.scale[d] == 1.0f);
    for (int64_t o = 0; o < out; o++) {
      float xo = resize_coord(p.ctm, o, p.scale[d], in, out);
      if (in == out && p.scale[d] == 1.0f) xo = (float)o;
      if (!lin[d]) {
        int64_t k = p.mode == RS_NEAREST && !(in == out && p.scale[d] == 1.0f)
                        ? resize_nearest(p.nm, xo, p.scale[d])
                        : o;
        k = k < 0 ? 0 : (k > in - 1 ? in - 1 : k);
        i0[d][o] = i1[d][o] = k;
        w0[d][o] = 1.0f;
        w1[d][o] = 0.0f;
        continue;
      }
      /* As ONNX Runtime's linear kernels: clamp into the input, then the
       * two neighbours with distance weights (0.5 each at the border). */
      xo = xo < 0.0f ? 0.0f : (xo > (float)(in - 1) ? (float)(in - 1) : xo);
      int64_t a = (int64_t)xo;
      if (a > in - 1) a = in - 1;
      int64_t b = a + 1 < in ? a + 1 : in - 1;
      float da = fabsf(xo - (float)a), db = fabsf(xo - (float)b);
      if (a == b) da = db = 0.5f;
      i0[d][o] = a;
      i1[d][o] = b;
      w0[d][o] = db; /* the weight of a is the distance to b */
      w1[d][o] = da;
    }
  }
  int lins[TQ_MAX_DIMS], nl = 0;
  for (int d = 0; d < r; d++)
    if (lin[d]) lins[nl++] = d;
  size_t inner = (size_t)p.out.dims[r - 1], rows = y->numel / inner;
  const float *xd = tq_cf32(x);
  float *yd = tq_f32(y);
  int threads = tq_ew_threads(c);
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (y->numel >= TQ_CHUNK_ELEMS && rows > 1)
  for (size_t row = 0; row < rows; row++) {
    int64_t od[TQ_MAX_DIMS];
    size_t q = row;
    for (int d = r - 2; d >= 0; d--) {
      od[d] = (int64_t)(q % (size_t)p.out.dims[d]);
      q /= (size_t)p.out.dims[d];
    }
    float *dst = yd + row * inner;
    for (size_t j = 0; j < inner; j++) {
      od[r - 1] = (int64_t)j;
      int64_t base = 0;
      for (int d = 0; d < r; d++)
        if (!lin[d]) base += i0[d][od[d]] * xs[d];
      if (nl == 0) {
        dst[j] = xd[base];
        continue;
      }
      /* Corners in row-major order of the interpolated axes. */
      float acc = 0.0f;
      for (int corner = 0; corner < (1 << nl); corner++) {
        int64_t off = base;
        float w = 1.0f;
        for (int k = 0; k < nl; k++) {
          int d = lins[k];
          int hi = (corner >> (nl - 1 - k)) & 1;
          off += (hi ? i1[d][od[d]] : i0[d][od[d]]) * xs[d];
          w = k == 0 ? (hi ? w1[d][od[d]] : w0[d][od[d]])
                     : w * (hi ? w1[d][od[d]] : w0[d][od[d]]);
        }
        acc = corner == 0 ? w * xd[off] : acc + w * xd[off];
      }
      dst[j] = acc;
    }
  }
  free(idx);
  free(wt);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_resize[] = {
    {TQ_OP_ONNX(TQ_OP_RESIZE, "Resize"), TQ_OP_ARITY(1, 4, 1, 1),
     TQ_OP_TYPES(TQ_DTM_F32, TQ_DTM_FLOAT, TQ_DTM_F32, TQ_DTM_I64),
     TQ_OP_PARAMS(resize_params, resize_parse), .infer = resize_infer,
     .forward = resize_forward},
    {TQ_OP_ONNX(TQ_OP_UPSAMPLE, "Upsample"), TQ_OP_ARITY(1, 2, 1, 1),
     TQ_OP_PARAMS(resize_params, resize_parse), .infer = resize_infer,
     .forward = resize_forward},
};
const size_t tq_ops_resize_count = TQ_OP_COUNT_OF(tq_ops_resize);
