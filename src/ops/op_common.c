/* Helpers every operator uses: attributes, errors, outputs, axes; and the
 * public accessors of user-defined operators (op.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_internal.h"

const tq_attr *tq_call_attr(const tq_op_call *c, const char *name) {
  for (size_t i = 0; i < c->n_attrs; i++)
    if (strcmp(c->attrs[i].a.name, name) == 0) return &c->attrs[i].a;
  return NULL;
}

int64_t tq_attr_int(const tq_op_call *c, const char *name, int64_t dflt) {
  const tq_attr *a = tq_call_attr(c, name);
  return a && a->type == TQ_ATTR_INT ? a->i : dflt;
}

float tq_attr_float(const tq_op_call *c, const char *name, float dflt) {
  const tq_attr *a = tq_call_attr(c, name);
  if (!a) return dflt;
  if (a->type == TQ_ATTR_FLOAT) return a->f;
  if (a->type == TQ_ATTR_INT) return (float)a->i;
  return dflt;
}

const char *tq_attr_string(const tq_op_call *c, const char *name,
                           const char *dflt) {
  const tq_attr *a = tq_call_attr(c, name);
  return a && a->type == TQ_ATTR_STRING ? a->s : dflt;
}

const int64_t *tq_attr_ints(const tq_op_call *c, const char *name, size_t *n) {
  const tq_attr *a = tq_call_attr(c, name);
  if (!a || a->type != TQ_ATTR_INTS) {
    *n = 0;
    return NULL;
  }
  *n = a->count;
  return a->ints;
}

static tq_status call_verror(tq_op_call *c, tq_status status, const char *fmt,
                             va_list ap) {
  char detail[768];
  vsnprintf(detail, sizeof detail, fmt, ap);
  return tq_error(c->ctx, status, NULL, 0, 0, "node '%s' (%s): %s",
                  c->node_id ? c->node_id : "?",
                  c->op_type ? c->op_type : "?", detail);
}

tq_status tq_call_error(tq_op_call *c, tq_status status, const char *fmt,
                        ...) {
  va_list ap;
  va_start(ap, fmt);
  tq_status st = call_verror(c, status, fmt, ap);
  va_end(ap);
  return st;
}

tq_status tq_call_set_output(tq_op_call *c, size_t i, tq_dtype dtype,
                             const tq_shape *shape) {
  if (i >= c->n_out || !c->out[i])
    return tq_call_error(c, TQ_ERR_INTERNAL, "output %zu does not exist", i);
  size_t n;
  tq_status st = tq_shape_check(NULL, shape, &n);
  if (st != TQ_OK) {
    char buf[128];
    tq_shape_format(shape, buf, sizeof buf);
    return tq_call_error(c, TQ_ERR_SHAPE, "invalid output shape %s", buf);
  }
  tq_tensor *t = c->out[i];
  if (t->lazy) { /* planning: the executor attaches memory at run time */
    t->dtype = dtype;
    t->shape = *shape;
    t->numel = n;
    return TQ_OK;
  }
  return tq_tensor_reshape_alloc(c->ctx, t, dtype, shape);
}

tq_status tq_call_axis(tq_op_call *c, int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= (rank > 0 ? rank : 1))
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "axis %lld is out of range for rank %d",
                         (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return TQ_OK;
}

/* ---- the public view for user-defined operators ------------------------*/

size_t tq_op_input_count(const tq_op_call *call) { return call->n_in; }
const tq_tensor *tq_op_input(const tq_op_call *call, size_t i) {
  return i < call->n_in ? call->in[i] : NULL;
}
size_t tq_op_output_count(const tq_op_call *call) { return call->n_out; }
tq_tensor *tq_op_output(tq_op_call *call, size_t i) {
  return i < call->n_out ? call->out[i] : NULL;
}
tq_status tq_op_set_output(tq_op_call *call, size_t i, tq_dtype dtype,
                           const tq_shape *shape) {
  return tq_call_set_output(call, i, dtype, shape);
}
const tq_attr *tq_op_attr(const tq_op_call *call, const char *name) {
  return tq_call_attr(call, name);
}
const char *tq_op_node_id(const tq_op_call *call) { return call->node_id; }
void *tq_op_user(const tq_op_call *call) { return call->user; }
tq_status tq_op_error(tq_op_call *call, tq_status status, const char *fmt,
                      ...) {
  va_list ap;
  va_start(ap, fmt);
  tq_status st = call_verror(call, status, fmt, ap);
  va_end(ap);
  return st;
}
