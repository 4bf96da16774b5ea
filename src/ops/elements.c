/* GatherElements and ScatterElements: element-wise indexing along one axis
 * (indices of the same rank as data, int32 or int64, negative ones counting
 * from the end), on data of any dtype. An index out of range at run time is
 * an error naming the node, the index and where it is in the indices.
 *
 * ScatterElements copies data and writes updates at the indexed places in
 * index order; reduction add, mul, max, min (opsets 16 and 18) combine
 * instead: in double for floats, rounded once per step to the dtype (the
 * correctly rounded float32 sum or product, as the dtype's own arithmetic),
 * in int64 wrapped to the width for integers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

typedef struct elements_params {
  int64_t axis;
  int reduction;
} elements_params;

static tq_status elements_parse(const tq_op_parse *p, void *params) {
  elements_params *ep = params;
  ep->axis = tq_parse_int(p, "axis", 0);
  static const char *const names[] = {"none", "add", "mul", "max", "min"};
  const char *r = tq_parse_string(p, "reduction", "none");
  ep->reduction = tq_parse_index(r, names, 5);
  if (ep->reduction < 0)
    return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                          "reduction '%s' is not supported (none, add, mul, "
                          "max or min)",
                          r);
  return TQ_OK;
}

/* Checks the ranks (and, for ScatterElements, that updates has the
 * indices' shape) and normalizes the axis. */
static tq_status elements_check(tq_op_call *c, int *axis) {
  const int scatter = c->desc->id != TQ_OP_GATHER_ELEMENTS;
  tq_status st = tq_shape_need_input(c, 0, "data");
  if (st == TQ_OK) st = tq_shape_need_input(c, 1, "indices");
  if (st == TQ_OK && scatter) st = tq_shape_need_input(c, 2, "updates");
  if (st != TQ_OK) return st;
  const tq_shape *x = &c->in[0]->shape, *ind = &c->in[1]->shape;
  if (x->ndim < 1 || ind->ndim != x->ndim)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "indices (rank %d) must have the rank of data (rank "
                         "%d, at least 1)",
                         ind->ndim, x->ndim);
  if (scatter && !tq_shape_equal(&c->in[2]->shape, ind))
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "updates must have the shape of indices");
  if (scatter && c->in[2]->dtype != c->in[0]->dtype)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "updates must have the dtype of data");
  st = tq_call_axis(c, ((const elements_params *)c->params)->axis, x->ndim,
                    axis);
  if (st != TQ_OK) return st;
  /* Outside the axis, indices may not reach beyond data (ONNX: the same
   * size for ScatterElements; at most for GatherElements). */
  for (int d = 0; d < x->ndim; d++)
    if (d != *axis && ind->dims[d] > x->dims[d])
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "indices dim %d (%lld) exceeds data's (%lld)", d,
                           (long long)ind->dims[d], (long long)x->dims[d]);
  return TQ_OK;
}

static tq_status elements_infer(tq_op_call *c) {
  int axis;
  tq_status st = elements_check(c, &axis);
  if (st != TQ_OK) return st;
  const int gather = c->desc->id == TQ_OP_GATHER_ELEMENTS;
  return tq_call_set_output(c, 0, c->in[0]->dtype,
                            gather ? &c->in[1]->shape : &c->in[0]->shape);
}

/* For each element j of the indices: the offset in data it addresses. An
 * index outside [-dim, dim) is an error naming it and its position. */
static tq_status element_offsets(tq_op_call *c, int axis, size_t **offs) {
  const tq_tensor *ind = c->in[1];
  const tq_shape *xs = &c->in[0]->shape;
  int64_t xst[TQ_MAX_DIMS];
  tq_shape_strides(xs, xst);
  const int64_t dim = xs->dims[axis];
  *offs = malloc((ind->numel ? ind->numel : 1) * sizeof **offs);
  if (!*offs) return tq_error_nomem(c->ctx);
  for (size_t j = 0; j < ind->numel; j++) {
    tq_shape pos = ind->shape;
    for (size_t q = j, d = (size_t)pos.ndim; d-- > 0;) {
      pos.dims[d] = (int64_t)(q % (size_t)ind->shape.dims[d]);
      q /= (size_t)ind->shape.dims[d];
    }
    const int64_t v = tq_load_i64(ind->dtype, ind->data, j);
    if (v < -dim || v >= dim) {
      free(*offs);
      *offs = NULL;
      char at[160];
      tq_shape_format(&pos, at, sizeof at);
      return tq_call_error(c, TQ_ERR_RANGE,
                           "index %lld at %s of the indices is out of range "
                           "for axis %d of size %lld",
                           (long long)v, at, axis, (long long)dim);
    }
    pos.dims[axis] = v < 0 ? v + dim : v;
    int64_t off = 0;
    for (int d = 0; d < pos.ndim; d++) off += pos.dims[d] * xst[d];
    (*offs)[j] = (size_t)off;
  }
  return TQ_OK;
}

/* dst[i] combined with v by the reduction, in dt. */
static void reduce_into(int red, tq_dtype dt, void *dst, size_t i,
                        const void *src, size_t j) {
  if (tq_dtype_is_float(dt)) {
    const double a = tq_load_f64(dt, dst, i), b = tq_load_f64(dt, src, j);
    double r = a;
    switch (red) {
      case RED_ADD: r = a + b; break;
      case RED_MUL: r = a * b; break;
      case RED_MAX: r = b > a || b != b ? b : a; break;
      case RED_MIN: r = b < a || b != b ? b : a; break;
    }
    if (dt == TQ_DTYPE_FLOAT32)
      ((float *)dst)[i] = (float)r;
    else
      tq_store_f64(dt, dst, i, r);
    return;
  }
  const int64_t a = tq_load_i64(dt, dst, i), b = tq_load_i64(dt, src, j);
  int64_t r = a;
  switch (red) {
    case RED_ADD: r = (int64_t)((uint64_t)a + (uint64_t)b); break;
    case RED_MUL: r = (int64_t)((uint64_t)a * (uint64_t)b); break;
    case RED_MAX: r = b > a ? b : a; break;
    case RED_MIN: r = b < a ? b : a; break;
  }
  tq_store_i64(dt, dst, i, r);
}

static tq_status elements_forward(tq_op_call *c) {
  int axis;
  tq_status st = elements_check(c, &axis);
  if (st != TQ_OK) return st;
  size_t *offs = NULL;
  if ((st = element_offsets(c, axis, &offs)) != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  const size_t es = tq_dtype_size(x->dtype), n = c->in[1]->numel;
  char *y = c->out[0]->data;
  if (c->desc->id == TQ_OP_GATHER_ELEMENTS) {
    for (size_t j = 0; j < n; j++)
      memcpy(y + j * es, (const char *)x->data + offs[j] * es, es);
  } else {
    const int red = ((const elements_params *)c->params)->reduction;
    const tq_tensor *u = c->in[2];
    if (y != x->data) memcpy(y, x->data, x->numel * es);
    for (size_t j = 0; j < n; j++)
      if (red == RED_NONE)
        memcpy(y + offs[j] * es, (const char *)u->data + j * es, es);
      else
        reduce_into(red, x->dtype, y, offs[j], u->data, j);
  }
  free(offs);
  return TQ_OK;
}

const tq_op_desc tq_ops_elements[] = {
    /* Scatter (opsets 9-10) is ScatterElements without reduction */
    {.id = TQ_OP_SCATTER,
     .name = "Scatter",
     .domain = "",
     .min_opset = 9,
     .max_opset = 10,
     TQ_OP_ARITY(3, 3, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_INDEX, TQ_DTM_ANY),
     TQ_OP_PARAMS(elements_params, elements_parse),
     .infer = elements_infer,
     .forward = elements_forward},
    {TQ_OP_ONNX(TQ_OP_GATHER_ELEMENTS, "GatherElements"),
     TQ_OP_ARITY(2, 2, 1, 1), TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_INDEX),
     TQ_OP_PARAMS(elements_params, elements_parse), .infer = elements_infer,
     .forward = elements_forward},
    {TQ_OP_ONNX(TQ_OP_SCATTER_ELEMENTS, "ScatterElements"),
     TQ_OP_ARITY(3, 3, 1, 1), TQ_OP_TYPES(TQ_DTM_ANY, TQ_DTM_INDEX, TQ_DTM_ANY),
     TQ_OP_PARAMS(elements_params, elements_parse), .infer = elements_infer,
     .forward = elements_forward},
};
const size_t tq_ops_elements_count = TQ_OP_COUNT_OF(tq_ops_elements);
