/* Slice: forward and backward (zeros, then the gradient scattered back to
 * the elements the forward read). */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

/* Before opset 10 starts, ends and axes are attributes; from 10 inputs. */
typedef struct slice_params {
  int legacy;
  tq_shape_ints starts, ends, axes;
} slice_params;

static tq_status slice_parse(const tq_op_parse *p, void *params) {
  slice_params *sp = params;
  sp->legacy = p->opset < 10;
  if (!sp->legacy) return TQ_OK;
  tq_status st = tq_shape_parse_ints(p, "starts", &sp->starts);
  if (st == TQ_OK && !sp->starts.present)
    st = tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                        "the attribute 'starts' is required (opset %lld)",
                        (long long)p->opset);
  if (st == TQ_OK) st = tq_shape_parse_ints(p, "ends", &sp->ends);
  if (st == TQ_OK && !sp->ends.present)
    st = tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                        "the attribute 'ends' is required (opset %lld)",
                        (long long)p->opset);
  if (st == TQ_OK) st = tq_shape_parse_ints(p, "axes", &sp->axes);
  return st;
}

/* Where the slice starts and how it steps, per dim, and its shape. */
typedef struct slice_p {
  int64_t start[TQ_MAX_DIMS], step[TQ_MAX_DIMS];
  tq_shape out;
} slice_p;

/* Clamping per the ONNX spec: negative starts/ends count from the end;
 * then positive steps clamp to [0, dim], negative steps start to
 * [0, dim-1] and end to [-1, dim-1] (so INT64_MAX/INT64_MIN mean "to the
 * end" in either direction). */
static tq_status slice_derive(tq_op_call *c, slice_p *p) {
  const slice_params *prm = c->params;
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int r = x->shape.ndim;
  int64_t starts[TQ_SHAPE_MAXV], ends[TQ_SHAPE_MAXV], axes[TQ_SHAPE_MAXV],
      steps[TQ_SHAPE_MAXV];
  size_t ns, ne, na = 0, nst = 0;
  int has_axes = 0;
  if (prm->legacy) {
    ns = prm->starts.n;
    ne = prm->ends.n;
    na = prm->axes.n;
    has_axes = prm->axes.present;
    memcpy(starts, prm->starts.v, sizeof starts);
    memcpy(ends, prm->ends.v, sizeof ends);
    memcpy(axes, prm->axes.v, sizeof axes);
  } else {
    st = tq_shape_input_ints(c, 1, "starts", starts, TQ_SHAPE_MAXV, &ns);
    if (st == TQ_OK)
      st = tq_shape_input_ints(c, 2, "ends", ends, TQ_SHAPE_MAXV, &ne);
    if (st == TQ_OK && tq_shape_has_input(c, 3)) {
      st = tq_shape_input_ints(c, 3, "axes", axes, TQ_SHAPE_MAXV, &na);
      has_axes = 1;
    }
    if (st == TQ_OK && tq_shape_has_input(c, 4))
      st = tq_shape_input_ints(c, 4, "steps", steps, TQ_SHAPE_MAXV, &nst);
  }
  if (st != TQ_OK) return st;
  if (ne != ns || (has_axes && na != ns) || (nst && nst != ns))
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "starts, ends, axes and steps must have the same "
                         "length (%zu, %zu, %zu, %zu)",
                         ns, ne, has_axes ? na : ns, nst ? nst : ns);
  if ((int)ns > r)
    return tq_call_error(c, TQ_ERR_SHAPE, "%zu starts for a tensor of rank %d",
                         ns, r);
  if (!has_axes)
    for (size_t k = 0; k < ns; k++) axes[k] = (int64_t)k;
  int ax[TQ_SHAPE_MAXV];
  st = tq_shape_norm_axes(c, axes, ns, r, ax);
  if (st != TQ_OK) return st;
  p->out = x->shape;
  for (int d = 0; d < r; d++) p->start[d] = 0, p->step[d] = 1;
  for (size_t k = 0; k < ns; k++) {
    int d = ax[k];
    int64_t dim = x->shape.dims[d];
    int64_t s = starts[k], e = ends[k], sp = nst ? steps[k] : 1, len;
    if (sp == 0)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "step for axis %d is 0",
                           d);
    if (sp == INT64_MIN) sp = -INT64_MAX; /* |step| >= dim: same result */
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (sp > 0) {
      s = s < 0 ? 0 : (s > dim ? dim : s);
      e = e < 0 ? 0 : (e > dim ? dim : e);
      len = e > s ? (e - s - 1) / sp + 1 : 0;
    } else {
      s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
      e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
      len = s > e ? (s - e - 1) / -sp + 1 : 0;
      if (dim == 0) s = 0, len = 0;
    }
    p->start[d] = s;
    p->step[d] = sp;
    p->out.dims[d] = len;
  }
  return TQ_OK;
}

static tq_status slice_infer(tq_op_call *c) {
  slice_p p;
  tq_status st = slice_derive(c, &p);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &p.out);
}

static tq_status slice_forward(tq_op_call *c) {
  slice_p p;
  tq_status st = slice_derive(c, &p);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int64_t xs[TQ_MAX_DIMS], is[TQ_MAX_DIMS], base = 0;
  tq_shape_strides(&x->shape, xs);
  for (int d = 0; d < x->shape.ndim; d++) {
    base += p.start[d] * xs[d];
    is[d] = p.step[d] * xs[d];
  }
  tq_shape_strided_copy(c, x->data, base, is, p.out.dims, p.out.ndim,
                        c->out[0]->data, tq_dtype_size(x->dtype));
  return TQ_OK;
}

/* Every output element is one input element: zeros, then the gradient
 * scattered back. */
static tq_status slice_backward(tq_op_call *c, const tq_tensor *const *gout,
                                tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  slice_p p;
  st = slice_derive(c, &p);
  if (st != TQ_OK) return st;
  const tq_shape *sx = &c->in[0]->shape, *so = &gout[0]->shape;
  int threads = tq_ew_threads(c);
  int64_t xs[TQ_MAX_DIMS], is[TQ_MAX_DIMS], base = 0;
  tq_shape_strides(sx, xs);
  for (int d = 0; d < sx->ndim; d++) {
    base += p.start[d] * xs[d];
    is[d] = p.step[d] * xs[d];
  }
  tq_bw_fill(tq_f32(gin[0]), gin[0]->numel, 0.0f, threads);
  tq_strided_move(tq_f32(gin[0]), base, is, so->dims, so->ndim,
                  (void *)tq_cf32(gout[0]), sizeof(float), 1, threads);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_slice[] = {
    {TQ_OP_ONNX(TQ_OP_SLICE, "Slice"), TQ_OP_ARITY(1, 5, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_INDEX),
     TQ_OP_PARAMS(slice_params, slice_parse), .infer = slice_infer,
     .forward = slice_forward, .backward = slice_backward},
};
const size_t tq_ops_slice_count = TQ_OP_COUNT_OF(tq_ops_slice);
