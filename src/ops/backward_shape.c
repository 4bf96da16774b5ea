/* Backward of the shape group (shape.c).
 *
 * Data movement moves the gradient back: Reshape, Flatten, Squeeze and
 * Unsqueeze copy it, Transpose applies the inverse permutation, Slice and
 * Concat/Split put each element back where it came from. Where the forward
 * reads an input element several times (Expand, Tile, Gather with repeated
 * indices, Pad's reflect/edge/wrap modes, reductions' inputs), the
 * gradients of its copies are summed in a fixed order: same bits at any
 * thread count. Shape-like int64 inputs (shapes, axes, indices, pads) get no
 * gradient.
 *
 * Each operator re-derives its parameters from the call as the forward
 * does (same attributes and constant inputs, same clamping rules). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"

/* Shape-like inputs hold at most this many values (Pad: 2 per dim). */
enum { MAXV = 2 * TQ_MAX_DIMS, BLOCK = 1024 };

static int has_in(const tq_op_call *c, size_t i) {
  return i < c->n_in && c->in[i] != NULL;
}

/* The values of the int64 constant input i. */
static tq_status in_ints(tq_op_call *c, size_t i, const char *what, int64_t *v,
                         size_t *n) {
  const tq_tensor *t = has_in(c, i) ? c->in[i] : NULL;
  if (!t || !t->data || t->dtype != TQ_DTYPE_INT64 || t->numel > MAXV)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "input %zu ('%s') must be an int64 constant of at "
                         "most %d values",
                         i, what, (int)MAXV);
  if (t->numel) memcpy(v, t->data, t->numel * sizeof *v);
  *n = t->numel;
  return TQ_OK;
}

/* An integer or integer-list attribute; 0 when absent. */
static int attr_ints(const tq_op_call *c, const char *name, int64_t *v,
                     size_t *n) {
  const tq_attr *a = tq_call_attr(c, name);
  *n = 0;
  if (!a) return 0;
  if (a->type == TQ_ATTR_INT) {
    v[0] = a->i;
    *n = 1;
    return 1;
  }
  if (a->type != TQ_ATTR_INTS) return 0;
  *n = a->count < MAXV ? a->count : MAXV;
  if (*n) memcpy(v, a->ints, *n * sizeof *v);
  return 1;
}

static void strides_of(const tq_shape *s, int64_t *st) {
  int64_t v = 1;
  for (int d = s->ndim - 1; d >= 0; d--) {
    st[d] = v;
    v *= s->dims[d];
  }
}

static void zero(tq_tensor *t, int threads) {
  if (t) tq_bw_fill(tq_f32(t), t->numel, 0.0f, threads);
}

typedef struct cp_arg {
  const float *src;
  float *dst;
} cp_arg;

static void cp_chunk(void *arg, size_t first, size_t n) {
  const cp_arg *g = arg;
  memcpy(g->dst + first, g->src + first, n * sizeof *g->dst);
}

/* ---- the same elements with a new shape
 * ---------------------------------------*/

/* Flatten, Reshape, Squeeze, Unsqueeze (and reductions of nothing). */
tq_status tq_bw_copy(tq_op_call *c, const tq_tensor *const *gout,
                     tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  cp_arg a = {tq_cf32(gout[0]), tq_f32(gin[0])};
  tq_ew_for_chunks(gin[0]->numel, tq_ew_threads(c), cp_chunk, &a);
  return TQ_OK;
}

/* Shape, Size: the output depends on the shape only. */
tq_status tq_bw_none(tq_op_call *c, const tq_tensor *const *gout,
                     tq_tensor **gin) {
  (void)gout;
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  for (size_t k = 0; k < c->n_in; k++) zero(gin[k], tq_ew_threads(c));
  return TQ_OK;
}

/* ---- Concat, Split
 * ---------------------------------------------------------*/

/* Size of the dims before and after axis. */
static void outer_inner(const tq_shape *s, int axis, size_t *outer,
                        size_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < axis; d++) *outer *= (size_t)s->dims[d];
  for (int d = axis + 1; d < s->ndim; d++) *inner *= (size_t)s->dims[d];
}

/* Rows of len floats: dst[q*dst_row + dst_at ..] = src[q*src_row + src_at
 * ..] for q < outer. */
static void copy_rows(const float *src, size_t src_row, size_t src_at,
                      float *dst, size_t dst_row, size_t dst_at, size_t outer,
                      size_t len, int threads) {
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (outer > 1 && outer * len >= TQ_CHUNK_ELEMS)
  for (size_t q = 0; q < outer; q++)
    memcpy(dst + q * dst_row + dst_at, src + q * src_row + src_at,
           len * sizeof *dst);
}

tq_status tq_bw_concat(tq_op_call *c, const tq_tensor *const *gout,
                       tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  const tq_shape *so = &gout[0]->shape;
  int axis;
  /* No 'axis' before opset 4: 1. */
  st = tq_call_axis(c, tq_attr_int(c, "axis", 1), so->ndim, &axis);
  if (st != TQ_OK) return st;
  size_t outer, inner;
  outer_inner(so, axis, &outer, &inner);
  size_t orow = (size_t)so->dims[axis] * inner, at = 0;
  for (size_t k = 0; k < c->n_in; k++) {
    size_t irow = (size_t)c->in[k]->shape.dims[axis] * inner;
    if (gin[k])
      copy_rows(tq_cf32(gout[0]), orow, at, tq_f32(gin[k]), irow, 0, outer,
                irow, tq_ew_threads(c));
    at += irow;
  }
  return TQ_OK;
}

/* Split sizes as the forward derives them: input 'split' (opset >= 13),
 * the attribute, num_outputs (opset 18: chunks of ceil(dim / n)), or equal
 * parts. */
static tq_status split_sizes(tq_op_call *c, int64_t dim, int64_t *v) {
  size_t n = c->n_out, cnt;
  const tq_attr *a = tq_call_attr(c, "split");
  if (has_in(c, 1)) {
    const tq_tensor *t = c->in[1];
    if (!t->data || t->dtype != TQ_DTYPE_INT64 || t->numel != n)
      return tq_call_error(c, TQ_ERR_SHAPE, "bad 'split' input");
    memcpy(v, t->data, n * sizeof *v);
  } else if (a && a->type == TQ_ATTR_INTS && (cnt = a->count) > 0) {
    if (cnt != n)
      return tq_call_error(c, TQ_ERR_SHAPE, "bad 'split' attribute");
    memcpy(v, a->ints, n * sizeof *v);
  } else if (tq_call_attr(c, "num_outputs")) {
    int64_t chunk = (dim + (int64_t)n - 1) / (int64_t)n, left = dim;
    for (size_t i = 0; i < n; i++) {
      v[i] = left < chunk ? left : chunk;
      left -= v[i];
    }
  } else {
    for (size_t i = 0; i < n; i++) v[i] = dim / (int64_t)n;
  }
  int64_t total = 0;
  for (size_t i = 0; i < n; i++) total += v[i];
  if (total != dim)
    return tq_call_error(c, TQ_ERR_SHAPE, "split sizes do not add up");
  return TQ_OK;
}

tq_status tq_bw_split(tq_op_call *c, const tq_tensor *const *gout,
                      tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  const tq_shape *sx = &c->in[0]->shape;
  int axis, threads = tq_ew_threads(c);
  st = tq_call_axis(c, tq_attr_int(c, "axis", 0), sx->ndim, &axis);
  if (st != TQ_OK) return st;
  int64_t *sizes = malloc((c->n_out ? c->n_out : 1) * sizeof *sizes);
  if (!sizes) return tq_error_nomem(c->ctx);
  st = split_sizes(c, sx->dims[axis], sizes);
  size_t outer, inner;
  outer_inner(sx, axis, &outer, &inner);
  size_t irow = (size_t)sx->dims[axis] * inner, at = 0;
  float *dst = tq_f32(gin[0]);
  for (size_t k = 0; st == TQ_OK && k < c->n_out; k++) {
    size_t orow = (size_t)sizes[k] * inner;
    if (c->out[k] && gout[k]->numel == outer * orow) {
      copy_rows(tq_cf32(gout[k]), orow, 0, dst, irow, at, outer, orow, threads);
    } else if (c->out[k]) {
      st = tq_call_error(c, TQ_ERR_INTERNAL,
                         "gradient of output %zu has the wrong size", k);
    } else { /* an unused output: nothing flows back */
      for (size_t q = 0; q < outer; q++)
        memset(dst + q * irow + at, 0, orow * sizeof *dst);
    }
    at += orow;
  }
  free(sizes);
  return st;
}

/* ---- Slice, Transpose
 * ------------------------------------------------------*/

/* Start and step per dim, clamped as the forward clamps them (ONNX). */
static tq_status slice_params(tq_op_call *c, int64_t *start, int64_t *step) {
  const tq_shape *sx = &c->in[0]->shape;
  int r = sx->ndim;
  int64_t starts[MAXV], ends[MAXV], axes[MAXV], steps[MAXV];
  size_t ns = 0, ne = 0, na = 0, nst = 0;
  int has_axes;
  tq_status st = TQ_OK;
  if (c->opset < 10) {
    attr_ints(c, "starts", starts, &ns);
    attr_ints(c, "ends", ends, &ne);
    has_axes = attr_ints(c, "axes", axes, &na);
  } else {
    st = in_ints(c, 1, "starts", starts, &ns);
    if (st == TQ_OK) st = in_ints(c, 2, "ends", ends, &ne);
    has_axes = has_in(c, 3);
    if (st == TQ_OK && has_axes) st = in_ints(c, 3, "axes", axes, &na);
    if (st == TQ_OK && has_in(c, 4)) st = in_ints(c, 4, "steps", steps, &nst);
  }
  if (st != TQ_OK) return st;
  if (ne != ns || (has_axes && na != ns) || (nst && nst != ns) || (int)ns > r)
    return tq_call_error(c, TQ_ERR_SHAPE, "bad slice parameters");
  for (int d = 0; d < r; d++) start[d] = 0, step[d] = 1;
  for (size_t k = 0; k < ns; k++) {
    int d;
    st = tq_call_axis(c, has_axes ? axes[k] : (int64_t)k, r, &d);
    if (st != TQ_OK) return st;
    int64_t dim = sx->dims[d], s = starts[k], sp = nst ? steps[k] : 1;
    if (sp == 0)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "step for axis %d is 0",
                           d);
    if (sp == INT64_MIN) sp = -INT64_MAX;
    if (s < 0) s += dim;
    if (sp > 0)
      s = s < 0 ? 0 : (s > dim ? dim : s);
    else
      s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
    if (dim == 0) s = 0;
    start[d] = s;
    step[d] = sp;
  }
  return TQ_OK;
}

/* Every output element is one input element: zeros, then the gradient
 * scattered back. */
tq_status tq_bw_slice(tq_op_call *c, const tq_tensor *const *gout,
                      tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  int64_t start[TQ_MAX_DIMS], step[TQ_MAX_DIMS];
  st = slice_params(c, start, step);
  if (st != TQ_OK) return st;
  const tq_shape *sx = &c->in[0]->shape, *so = &gout[0]->shape;
  int threads = tq_ew_threads(c);
  int64_t xs[TQ_MAX_DIMS], is[TQ_MAX_DIMS], base = 0;
  strides_of(sx, xs);
  for (int d = 0; d < sx->ndim; d++) {
    base += start[d] * xs[d];
    is[d] = step[d] * xs[d];
  }
  zero(gin[0], threads);
  tq_strided_move(tq_f32(gin[0]), base, is, so->dims, so->ndim,
                  (void *)tq_cf32(gout[0]), sizeof(float), 1, threads);
  return TQ_OK;
}

tq_status tq_bw_transpose(tq_op_call *c, const tq_tensor *const *gout,
                          tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  const tq_shape *sx = &c->in[0]->shape;
  int r = sx->ndim, perm[TQ_MAX_DIMS];
  int64_t v[MAXV];
  size_t n;
  if (attr_ints(c, "perm", v, &n)) {
    if ((int)n != r)
      return tq_call_error(c, TQ_ERR_SHAPE, "perm does not fit the rank");
    for (int d = 0; d < r; d++) perm[d] = (int)v[d];
  } else {
    for (int d = 0; d < r; d++) perm[d] = r - 1 - d;
  }
  /* Output dim d is input dim perm[d]: walking gin in order, input dim
   * perm[d] advances the output gradient by its stride of dim d. */
  int64_t gs[TQ_MAX_DIMS] = {0}, is[TQ_MAX_DIMS] = {0};
  strides_of(&gout[0]->shape, gs);
  for (int d = 0; d < r; d++) {
    if (perm[d] < 0 || perm[d] >= r)
      return tq_call_error(c, TQ_ERR_SHAPE, "perm is not a permutation");
    is[perm[d]] = gs[d];
  }
  tq_strided_move((void *)tq_cf32(gout[0]), 0, is, sx->dims, r, tq_f32(gin[0]),
                  sizeof(float), 0, tq_ew_threads(c));
  return TQ_OK;
}

/* ---- Pad
 * -------------------------------------------------------------------*/

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

static const struct {
  const char *name;
  int mode;
} pad_modes[] = {
    {"constant", PAD_CONSTANT},
    {"reflect", PAD_REFLECT},
    {"edge", PAD_EDGE},
    {"wrap", PAD_WRAP},
};

/* Mode and the padding before each dim. */
static tq_status pad_params(tq_op_call *c, int *mode, int64_t *begin) {
  const char *m = tq_attr_string(c, "mode", "constant");
  *mode = -1;
  for (size_t i = 0; i < sizeof pad_modes / sizeof pad_modes[0]; i++)
    if (strcmp(pad_modes[i].name, m) == 0) *mode = pad_modes[i].mode;
  if (*mode < 0) return tq_call_error(c, TQ_ERR_UNSUPPORTED, "mode '%s'", m);
  int r = c->in[0]->shape.ndim;
  int64_t pads[MAXV], axes[MAXV];
  size_t np = 0, na = (size_t)r;
  tq_status st = TQ_OK;
  if (has_in(c, 1))
    st = in_ints(c, 1, "pads", pads, &np);
  else if (!attr_ints(c, "pads", pads, &np))
    attr_ints(c, "paddings", pads, &np);
  if (st == TQ_OK && has_in(c, 3)) st = in_ints(c, 3, "axes", axes, &na);
  if (st != TQ_OK) return st;
  if (np != 2 * na) return tq_call_error(c, TQ_ERR_SHAPE, "bad pads");
  for (int d = 0; d < r; d++) begin[d] = 0;
  for (size_t k = 0; k < na; k++) {
    int d = (int)k;
    if (has_in(c, 3)) {
      st = tq_call_axis(c, axes[k], r, &d);
      if (st != TQ_OK) return st;
    }
    begin[d] = pads[k];
  }
  return TQ_OK;
}

/* Input index for output coordinate o of an axis of size n (-1: the
 * constant), as the forward maps it. */
static int64_t pad_map(int mode, int64_t o, int64_t begin, int64_t n) {
  int64_t x = o - begin;
  if (x >= 0 && x < n) return x;
  switch (mode) {
    case PAD_EDGE: return x < 0 ? 0 : n - 1;
    case PAD_WRAP: return ((x % n) + n) % n;
    case PAD_REFLECT: {
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1);
      x = ((x % period) + period) % period;
      return x < n ? x : period - x;
    }
    default: return -1;
  }
}

/* Constant mode: gin[x] = gout[x + begin] (0 where cropped away). */
static void pad_constant_bw(const tq_shape *sx, const tq_shape *so,
                            const int64_t *begin, const float *g, float *d,
                            int threads) {
  int r = sx->ndim;
  int64_t os[TQ_MAX_DIMS];
  strides_of(so, os);
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
  strides_of(sx, xs);
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

tq_status tq_bw_pad(tq_op_call *c, const tq_tensor *const *gout,
                    tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  int threads = tq_ew_threads(c);
  int want_value = c->n_in > 2 && gin[2];
  if (!gin[0] && !want_value) return TQ_OK;
  const tq_shape *sx = &c->in[0]->shape, *so = &gout[0]->shape;
  int mode, r = sx->ndim;
  int64_t begin[TQ_MAX_DIMS];
  st = pad_params(c, &mode, begin);
  if (st != TQ_OK) return st;
  const float *g = tq_cf32(gout[0]);
  if (r == 0 || gout[0]->numel == 0) { /* a scalar, or nothing out */
    if (gin[0] && r == 0) tq_f32(gin[0])[0] = g[0];
    if (gin[0] && r > 0) zero(gin[0], threads);
    if (want_value) zero(gin[2], threads);
    return TQ_OK;
  }
  size_t total = 0;
  for (int k = 0; k < r; k++) total += (size_t)so->dims[k];
  int64_t *maps = malloc(total * sizeof *maps);
  if (!maps) return tq_error_nomem(c->ctx);
  const int64_t *map[TQ_MAX_DIMS];
  size_t at = 0;
  for (int k = 0; k < r; k++) {
    for (int64_t o = 0; o < so->dims[k]; o++)
      maps[at + (size_t)o] = pad_map(mode, o, begin[k], sx->dims[k]);
    map[k] = maps + at;
    at += (size_t)so->dims[k];
  }
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

/* ---- Reduce
 * ----------------------------------------------------------------*/

enum { RD_SUM, RD_MEAN, RD_SUMSQ, RD_L1, RD_L2, RD_LOGSUMEXP, RD_MAX, RD_MIN };

static const struct {
  const char *name;
  int op;
} rd_ops[] = {
    {"ReduceSum", RD_SUM},         {"ReduceMean", RD_MEAN},
    {"ReduceSumSquare", RD_SUMSQ}, {"ReduceL1", RD_L1},
    {"ReduceL2", RD_L2},           {"ReduceLogSumExp", RD_LOGSUMEXP},
    {"ReduceMax", RD_MAX},         {"ReduceMin", RD_MIN},
};

/* Which dims the forward reduced; *noop: it reduced none (identity). */
static tq_status red_params(tq_op_call *c, int *red, int *noop) {
  int r = c->in[0]->shape.ndim;
  int64_t v[MAXV];
  size_t n;
  tq_status st = TQ_OK;
  if (has_in(c, 1))
    st = in_ints(c, 1, "axes", v, &n);
  else
    attr_ints(c, "axes", v, &n);
  if (st != TQ_OK) return st;
  *noop = n == 0 && tq_attr_int(c, "noop_with_empty_axes", 0);
  for (int d = 0; d < r; d++) red[d] = n == 0 && !*noop;
  for (size_t k = 0; k < n; k++) {
    int d;
    st = tq_call_axis(c, v[k], r, &d);
    if (st != TQ_OK) return st;
    red[d] = 1;
  }
  return TQ_OK;
}

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

tq_status tq_bw_reduce(tq_op_call *c, const tq_tensor *const *gout,
                       tq_tensor **gin) {
  int op = -1;
  for (size_t i = 0; i < sizeof rd_ops / sizeof rd_ops[0]; i++)
    if (strcmp(rd_ops[i].name, c->op_type) == 0) op = rd_ops[i].op;
  if (op < 0) return tq_call_error(c, TQ_ERR_INTERNAL, "no reduce backward");
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  int red[TQ_MAX_DIMS], noop;
  st = red_params(c, red, &noop);
  if (st != TQ_OK) return st;
  if (noop) return tq_bw_copy(c, gout, gin);
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

/* ---- Expand, Tile, Gather
 * --------------------------------------------------*/

tq_status tq_bw_expand(tq_op_call *c, const tq_tensor *const *gout,
                       tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  tq_bw_sum_to_shape(tq_cf32(gout[0]), &gout[0]->shape, &c->in[0]->shape,
                     tq_f32(gin[0]), tq_ew_threads(c));
  return TQ_OK;
}

/* Output dim k of size rep*n is the pair (rep, n): the sum over the
 * repeats. */
tq_status tq_bw_tile(tq_op_call *c, const tq_tensor *const *gout,
                     tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  const tq_shape *sx = &c->in[0]->shape, *so = &gout[0]->shape;
  int64_t od[TQ_BW_MAXD], td[TQ_BW_MAXD];
  for (int k = 0; k < sx->ndim; k++) {
    od[2 * k] = sx->dims[k] ? so->dims[k] / sx->dims[k] : 0;
    td[2 * k] = 1;
    od[2 * k + 1] = td[2 * k + 1] = sx->dims[k];
  }
  tq_bw_sum_to(tq_cf32(gout[0]), od, td, 2 * sx->ndim, tq_f32(gin[0]),
               tq_ew_threads(c));
  return TQ_OK;
}

/* Scatter-add: for each outer index and block of inner positions, the
 * indices in order. */
tq_status tq_bw_gather(tq_op_call *c, const tq_tensor *const *gout,
                       tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  const tq_tensor *x = c->in[0], *ind = c->in[1];
  int axis, threads = tq_ew_threads(c);
  st = tq_call_axis(c, tq_attr_int(c, "axis", 0), x->shape.ndim, &axis);
  if (st != TQ_OK) return st;
  size_t outer, inner, ni = ind->numel;
  outer_inner(&x->shape, axis, &outer, &inner);
  int64_t dim = x->shape.dims[axis];
  const int64_t *iv = tq_ci64(ind);
  for (size_t j = 0; j < ni; j++)
    if (iv[j] < -dim || iv[j] >= dim)
      return tq_call_error(c, TQ_ERR_RANGE,
                           "index %lld is out of range for axis %d of size "
                           "%lld",
                           (long long)iv[j], axis, (long long)dim);
  float *d = tq_f32(gin[0]);
  const float *g = tq_cf32(gout[0]);
  zero(gin[0], threads);
  size_t blocks = (inner + BLOCK - 1) / BLOCK, tasks = outer * blocks;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (gout[0]->numel >= TQ_CHUNK_ELEMS && tasks > 1)
  for (size_t t = 0; t < tasks; t++) {
    size_t o = t / blocks, i0 = (t % blocks) * BLOCK;
    size_t len = inner - i0 < BLOCK ? inner - i0 : BLOCK;
    for (size_t j = 0; j < ni; j++) {
      int64_t v = iv[j] < 0 ? iv[j] + dim : iv[j];
      float *dr = d + (o * (size_t)dim + (size_t)v) * inner + i0;
      const float *gr = g + (o * ni + j) * inner + i0;
      for (size_t i = 0; i < len; i++) dr[i] += gr[i];
    }
  }
  return TQ_OK;
}
