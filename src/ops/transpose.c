/* Transpose: forward and backward (the inverse permutation). */
#include <stdint.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

/* The 'perm' attribute (absent: reverse the dims). */
typedef struct transpose_params {
  tq_shape_ints perm;
} transpose_params;

static tq_status transpose_parse(const tq_op_parse *p, void *params) {
  return tq_shape_parse_ints(p, "perm", &((transpose_params *)params)->perm);
}

/* The permutation (output dim d is input dim perm[d]) and the output
 * shape. */
static tq_status transpose_perm(tq_op_call *c, int *perm, tq_shape *out) {
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  int r = s->ndim;
  const tq_shape_ints *pa = &((const transpose_params *)c->params)->perm;
  const int64_t *v = pa->v;
  const size_t n = pa->n;
  if (!pa->present) {
    for (int d = 0; d < r; d++) perm[d] = r - 1 - d; /* reverse */
  } else {
    int seen[TQ_MAX_DIMS] = {0};
    if ((int)n != r)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "perm has %zu entries for a tensor of rank %d", n,
                           r);
    for (int d = 0; d < r; d++) {
      if (v[d] < 0 || v[d] >= r || seen[v[d]])
        return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                             "perm is not a permutation of 0..%d", r - 1);
      seen[v[d]] = 1;
      perm[d] = (int)v[d];
    }
  }
  tq_shape o = tq_shape_of_rank(r);
  for (int d = 0; d < r; d++) o.dims[d] = s->dims[perm[d]];
  *out = o;
  return TQ_OK;
}

static tq_status transpose_infer(tq_op_call *c) {
  int perm[TQ_MAX_DIMS];
  tq_shape o;
  tq_status st = transpose_perm(c, perm, &o);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

static tq_status transpose_forward(tq_op_call *c) {
  int perm[TQ_MAX_DIMS];
  tq_shape o;
  tq_status st = transpose_perm(c, perm, &o);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  int64_t xs[TQ_MAX_DIMS], is[TQ_MAX_DIMS];
  tq_shape_strides(&x->shape, xs);
  for (int d = 0; d < o.ndim; d++) is[d] = xs[perm[d]];
  tq_shape_strided_copy(c, x->data, 0, is, o.dims, o.ndim, c->out[0]->data,
                        tq_dtype_size(x->dtype));
  return TQ_OK;
}

static tq_status transpose_backward(tq_op_call *c, const tq_tensor *const *gout,
                                    tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  const tq_shape *sx = &c->in[0]->shape;
  int r = sx->ndim, perm[TQ_MAX_DIMS];
  tq_shape o;
  if ((st = transpose_perm(c, perm, &o)) != TQ_OK) return st;
  /* Walking gin in order, input dim perm[d] advances the output gradient
   * by its stride of dim d. */
  int64_t gs[TQ_MAX_DIMS] = {0}, is[TQ_MAX_DIMS] = {0};
  tq_shape_strides(&gout[0]->shape, gs);
  for (int d = 0; d < r; d++) is[perm[d]] = gs[d];
  tq_strided_move((void *)tq_cf32(gout[0]), 0, is, sx->dims, r, tq_f32(gin[0]),
                  sizeof(float), 0, tq_ew_threads(c));
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_transpose[] = {
    {TQ_OP_ONNX(TQ_OP_TRANSPOSE, "Transpose"), TQ_OP_ARITY(1, 1, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY), TQ_OP_PARAMS(transpose_params, transpose_parse),
     .infer = transpose_infer, .forward = transpose_forward,
     .backward = transpose_backward},
};
const size_t tq_ops_transpose_count = TQ_OP_COUNT_OF(tq_ops_transpose);
