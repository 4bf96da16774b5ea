/* TopK: the k largest (largest = 1) or smallest elements along an axis
 * and their int64 indices. k is the attribute (opset 1) or input 1 (from
 * opset 10), a constant: it sets the output shape. Ties go to the smaller
 * index, as ONNX specifies; NaN counts as larger than every number (it
 * comes first with largest = 1 and last otherwise, as the ONNX reference's
 * sort does). sorted = 0 still returns them sorted (ONNX leaves the order
 * open then). On every numeric dtype. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

typedef struct topk_params {
  int64_t axis, k_attr;
  int largest;
} topk_params;

static tq_status topk_parse(const tq_op_parse *p, void *params) {
  topk_params *tp = params;
  tp->axis = tq_parse_int(p, "axis", -1);
  tp->largest = tq_parse_int(p, "largest", 1) != 0;
  tp->k_attr = tq_parse_int(p, "k", -1);
  return TQ_OK;
}

static tq_status topk_shape(tq_op_call *c, int *axis, int64_t *k) {
  const topk_params *tp = c->params;
  tq_status st = tq_shape_need_input(c, 0, "X");
  if (st != TQ_OK) return st;
  const tq_shape *s = &c->in[0]->shape;
  if (s->ndim < 1)
    return tq_call_error(c, TQ_ERR_SHAPE, "X must have rank >= 1");
  if ((st = tq_call_axis(c, tp->axis, s->ndim, axis)) != TQ_OK) return st;
  if (c->n_in > 1) {
    size_t n;
    if ((st = tq_shape_input_ints(c, 1, "K", k, 1, &n)) != TQ_OK) return st;
    if (n != 1) return tq_call_error(c, TQ_ERR_SHAPE, "K must hold one value");
  } else {
    *k = tp->k_attr;
  }
  if (*k < 0 || *k > s->dims[*axis])
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "k = %lld is out of range for axis %d of size %lld",
                         (long long)*k, *axis, (long long)s->dims[*axis]);
  return TQ_OK;
}

static tq_status topk_infer(tq_op_call *c) {
  int axis;
  int64_t k;
  tq_status st = topk_shape(c, &axis, &k);
  if (st != TQ_OK) return st;
  tq_shape o = c->in[0]->shape;
  o.dims[axis] = k;
  st = tq_call_set_output(c, 0, c->in[0]->dtype, &o);
  if (st == TQ_OK && c->n_out > 1)
    st = tq_call_set_output(c, 1, TQ_DTYPE_INT64, &o);
  return st;
}

typedef struct topk_item {
  double v;
  int64_t iv; /* integers: exact beyond 2^53 */
  int64_t index;
} topk_item;

/* Whether a comes before b: the better value, then the smaller index. */
static int before(const topk_item *a, const topk_item *b, int largest,
                  int ints) {
  if (ints) {
    if (a->iv != b->iv) return largest ? a->iv > b->iv : a->iv < b->iv;
  } else {
    const int an = a->v != a->v, bn = b->v != b->v;
    if (an != bn) return largest ? an : bn; /* NaN is the largest */
    if (!an && a->v != b->v) return largest ? a->v > b->v : a->v < b->v;
  }
  return a->index < b->index;
}

/* Stable merge sort of n items by before() (tmp: scratch of n items). */
static void sort_items(topk_item *it, topk_item *tmp, size_t n, int largest,
                       int ints) {
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n,
             hi = lo + 2 * w < n ? lo + 2 * w : n;
      size_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi)
        tmp[o++] = before(&it[j], &it[i], largest, ints) ? it[j++] : it[i++];
      while (i < mid) tmp[o++] = it[i++];
      while (j < hi) tmp[o++] = it[j++];
    }
    for (size_t q = 0; q < n; q++) it[q] = tmp[q];
  }
}

static tq_status topk_forward(tq_op_call *c) {
  const topk_params *tp = c->params;
  int axis;
  int64_t k;
  tq_status st = topk_shape(c, &axis, &k);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  const tq_dtype dt = x->dtype;
  const int ints = !tq_dtype_is_float(dt);
  size_t outer, inner;
  tq_shape_outer_inner(&x->shape, axis, &outer, &inner);
  const size_t n = (size_t)x->shape.dims[axis];
  topk_item *it = malloc((2 * n + 1) * sizeof *it);
  if (!it) return tq_error_nomem(c->ctx);
  const size_t es = tq_dtype_size(dt);
  int64_t *yi = c->n_out > 1 && c->out[1] ? tq_i64(c->out[1]) : NULL;
  for (size_t q = 0; q < outer; q++)
    for (size_t i = 0; i < inner; i++) {
      for (size_t j = 0; j < n; j++) {
        const size_t at = (q * n + j) * inner + i;
        it[j].index = (int64_t)j;
        if (ints)
          it[j].iv = tq_load_i64(dt, x->data, at);
        else
          it[j].v = tq_load_f64(dt, x->data, at);
      }
      sort_items(it, it + n, n, tp->largest, ints);
      for (int64_t j = 0; j < k; j++) {
        const size_t src = (q * n + (size_t)it[j].index) * inner + i;
        const size_t dst = (q * (size_t)k + (size_t)j) * inner + i;
        memcpy((char *)c->out[0]->data + dst * es,
               (const char *)x->data + src * es, es);
        if (yi) yi[dst] = it[j].index;
      }
    }
  free(it);
  return TQ_OK;
}

const tq_op_desc tq_ops_topk[] = {
    {TQ_OP_ONNX(TQ_OP_TOPK, "TopK"), TQ_OP_ARITY(1, 2, 1, 2),
     TQ_OP_TYPES(TQ_DTM_NUM, TQ_DTM_I64), TQ_OP_PARAMS(topk_params, topk_parse),
     .infer = topk_infer, .forward = topk_forward},
};
const size_t tq_ops_topk_count = TQ_OP_COUNT_OF(tq_ops_topk);
