/* Helpers every operator uses: attributes (parse), errors, params, outputs,
 * axes; and the public accessors of user-defined operators (op.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_internal.h"

/* ---- attributes ----------------------------------------------------------*/

static const tq_attr *find_attr(const tq_attr_store *attrs, size_t n,
                                const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(attrs[i].a.name, name) == 0) return &attrs[i].a;
  return NULL;
}

const tq_attr *tq_parse_attr(const tq_op_parse *p, const char *name) {
  return find_attr(p->attrs, p->n_attrs, name);
}

int64_t tq_parse_int(const tq_op_parse *p, const char *name, int64_t dflt) {
  const tq_attr *a = tq_parse_attr(p, name);
  return a && a->type == TQ_ATTR_INT ? a->i : dflt;
}

float tq_parse_float(const tq_op_parse *p, const char *name, float dflt) {
  const tq_attr *a = tq_parse_attr(p, name);
  if (!a) return dflt;
  if (a->type == TQ_ATTR_FLOAT) return a->f;
  if (a->type == TQ_ATTR_INT) return (float)a->i;
  return dflt;
}

const char *tq_parse_string(const tq_op_parse *p, const char *name,
                            const char *dflt) {
  const tq_attr *a = tq_parse_attr(p, name);
  return a && a->type == TQ_ATTR_STRING ? a->s : dflt;
}

const int64_t *tq_parse_ints(const tq_op_parse *p, const char *name,
                             size_t *n) {
  const tq_attr *a = tq_parse_attr(p, name);
  if (!a || a->type != TQ_ATTR_INTS) {
    *n = 0;
    return NULL;
  }
  *n = a->count;
  return a->ints;
}

int tq_parse_index(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

/* ---- errors
 * ----------------------------------------------------------------*/

static tq_status node_verror(tq_context *ctx, const char *node_id,
                             const char *op_type, tq_status status,
                             const char *fmt, va_list ap) {
  char detail[768];
  vsnprintf(detail, sizeof detail, fmt, ap);
  return tq_error(ctx, status, NULL, 0, 0, "node '%s' (%s): %s",
                  node_id ? node_id : "?", op_type ? op_type : "?", detail);
}

static tq_status call_verror(tq_op_call *c, tq_status status, const char *fmt,
                             va_list ap) {
  return node_verror(c->ctx, c->node_id, c->op_type, status, fmt, ap);
}

tq_status tq_call_error(tq_op_call *c, tq_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tq_status st = call_verror(c, status, fmt, ap);
  va_end(ap);
  return st;
}

tq_status tq_parse_error(const tq_op_parse *p, tq_status status,
                         const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tq_status st = node_verror(p->ctx, p->node_id, p->op_type, status, fmt, ap);
  va_end(ap);
  return st;
}

/* ---- params
 * ----------------------------------------------------------------*/

tq_status tq_op_parse_params(const tq_op_parse *p, void **params) {
  *params = NULL;
  const tq_op_desc *d = p->desc;
  if (!d->parse) return TQ_OK;
  void *buf = calloc(1, d->params_size);
  if (!buf) return tq_error_nomem(p->ctx);
  tq_status st = d->parse(p, buf);
  if (st != TQ_OK) {
    free(buf);
    return st;
  }
  *params = buf;
  return TQ_OK;
}

tq_status tq_op_call_parse(tq_op_call *c, void **params) {
  const tq_op_parse p = {.ctx = c->ctx,
                         .desc = c->desc,
                         .node_id = c->node_id,
                         .op_type = c->op_type,
                         .opset = c->opset,
                         .attrs = c->attrs,
                         .n_attrs = c->n_attrs,
                         .n_in = c->n_in,
                         .n_out = c->n_out};
  tq_status st = tq_op_parse_params(&p, params);
  c->params = *params;
  return st;
}

/* ---- outputs and axes
 * ------------------------------------------------------*/

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

tq_status tq_op_check_types(tq_op_call *c, const char *const *names) {
  const tq_op_desc *d = c->desc;
  if (d->id == TQ_OP_USER && !d->n_in_types) return TQ_OK;
  for (size_t k = 0; k < c->n_in; k++) {
    if (!c->in[k]) continue;
    const unsigned mask =
        !d->n_in_types ? TQ_DTM_F32
                       : d->in_types[k < d->n_in_types ? k : d->n_in_types - 1];
    const tq_dtype dt = c->in[k]->dtype;
    if (mask & TQ_DTM(dt)) continue;
    char want[160];
    tq_dtype_mask_format(mask, want, sizeof want);
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "input %zu%s%s%s is %s; %s takes %s there", k,
                         names ? " ('" : "", names ? names[k] : "",
                         names ? "')" : "", tq_dtype_name(dt), d->name, want);
  }
  return TQ_OK;
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

size_t tq_op_input_count(const tq_op_call *call) {
  return call->n_in;
}
const tq_tensor *tq_op_input(const tq_op_call *call, size_t i) {
  return i < call->n_in ? call->in[i] : NULL;
}
size_t tq_op_output_count(const tq_op_call *call) {
  return call->n_out;
}
tq_tensor *tq_op_output(tq_op_call *call, size_t i) {
  return i < call->n_out ? call->out[i] : NULL;
}
tq_status tq_op_set_output(tq_op_call *call, size_t i, tq_dtype dtype,
                           const tq_shape *shape) {
  return tq_call_set_output(call, i, dtype, shape);
}
const tq_attr *tq_op_attr(const tq_op_call *call, const char *name) {
  return find_attr(call->attrs, call->n_attrs, name);
}
const char *tq_op_node_id(const tq_op_call *call) {
  return call->node_id;
}
void *tq_op_user(const tq_op_call *call) {
  return call->user;
}
tq_status tq_op_error(tq_op_call *call, tq_status status, const char *fmt,
                      ...) {
  va_list ap;
  va_start(ap, fmt);
  tq_status st = call_verror(call, status, fmt, ap);
  va_end(ap);
  return st;
}
