/* Where(condition, X, Y) with numpy broadcasting, forward and backward:
 * X gets the gradient where the condition holds, Y elsewhere; the
 * condition (a boolean: int64 at plan time, float32 0/1 at run time) gets
 * none. */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"
#include "ops/op_families.h"

static tq_status where_infer(tq_op_call *c) {
  if (c->n_in != 3 || !c->in[0] || !c->in[1] || !c->in[2])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects three inputs (condition, X, Y), got %zu",
                         c->n_in);
  const tq_tensor *x = c->in[1], *y = c->in[2];
  if (x->dtype != y->dtype)
    return tq_call_error(
        c, TQ_ERR_UNSUPPORTED, "X and Y have different types (%s and %s)",
        tq_dtype_name(x->dtype), tq_dtype_name(y->dtype));
  tq_shape s1, s2;
  tq_status st = tq_ew_broadcast_shape(c, &c->in[0]->shape, &x->shape,
                                       "condition and X", &s1);
  if (st != TQ_OK) return st;
  st = tq_ew_broadcast_shape(c, &s1, &y->shape, "condition, X and Y", &s2);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, x->dtype, &s2);
}

typedef struct where_arg {
  const tq_tensor *cond, *x, *y;
  tq_tensor *out;
} where_arg;

static void where_row(void *arg, size_t of, const int64_t *first,
                      const int64_t *step, size_t n) {
  const where_arg *g = arg;
  for (size_t i = 0; i < n; i++) {
    int64_t ic = first[0] + (int64_t)i * step[0];
    int64_t ix = first[1] + (int64_t)i * step[1];
    int64_t iy = first[2] + (int64_t)i * step[2];
    int take_x = g->cond->dtype == TQ_DTYPE_INT64 ? tq_ci64(g->cond)[ic] != 0
                                                  : tq_cf32(g->cond)[ic] != 0;
    if (g->out->dtype == TQ_DTYPE_FLOAT32)
      tq_f32(g->out)[of + i] = take_x ? tq_cf32(g->x)[ix] : tq_cf32(g->y)[iy];
    else
      tq_i64(g->out)[of + i] = take_x ? tq_ci64(g->x)[ix] : tq_ci64(g->y)[iy];
  }
}

static tq_status where_forward(tq_op_call *c) {
  tq_ew_plan p;
  const tq_shape *ins[3] = {&c->in[0]->shape, &c->in[1]->shape,
                            &c->in[2]->shape};
  tq_ew_plan_build(&p, &c->out[0]->shape, ins, 3);
  where_arg g = {c->in[0], c->in[1], c->in[2], c->out[0]};
  tq_ew_run(&p, tq_ew_threads(c), where_row, &g);
  return TQ_OK;
}

/* ---- backward
 * ---------------------------------------------------------------*/

typedef struct where_grad_arg {
  const float *cond, *g;
  float *d;
  int take_x;
} where_grad_arg;

static void where_grad_chunk(void *arg, size_t first, size_t n) {
  const where_grad_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = (a->cond[i] != 0.0f) == a->take_x ? a->g[i] : 0.0f;
}

static tq_status where_backward(tq_op_call *c, const tq_tensor *const *gout,
                                tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  int threads = tq_ew_threads(c);
  if (gin[0]) tq_bw_fill(tq_f32(gin[0]), gin[0]->numel, 0.0f, threads);
  if (!gin[1] && !gin[2]) return TQ_OK;
  const tq_tensor *cond = c->in[0], *g = gout[0];
  const tq_shape so = g->shape;
  size_t n = g->numel;
  float *conv = NULL, *cbuf = NULL, *tmp = NULL;
  const float *cdata = NULL, *cb = NULL;
  if (cond->dtype == TQ_DTYPE_INT64) { /* a plan-time boolean */
    conv = malloc((cond->numel ? cond->numel : 1) * sizeof *conv);
    if (!conv) return tq_error_nomem(c->ctx);
    for (size_t i = 0; i < cond->numel; i++)
      conv[i] = tq_ci64(cond)[i] != 0 ? 1.0f : 0.0f;
    cdata = conv;
  } else {
    cdata = tq_cf32(cond);
  }
  st = tq_bw_bcast(c, cdata, &cond->shape, &so, n, &cbuf, &cb);
  for (int k = 1; st == TQ_OK && k < 3; k++) {
    if (!gin[k]) continue;
    float *d = NULL;
    st = tq_bw_terms(c, &c->in[k]->shape, n, gin[k], &tmp, &d);
    if (st != TQ_OK) break;
    where_grad_arg a = {cb, tq_cf32(g), d, k == 1};
    tq_ew_for_chunks(n, threads, where_grad_chunk, &a);
    tq_bw_finish(c, d, &so, &c->in[k]->shape, gin[k]);
  }
  free(conv);
  free(cbuf);
  free(tmp);
  return st;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_where[] = {
    {TQ_OP_ONNX(TQ_OP_WHERE, "Where"), TQ_OP_ARITY(3, 3, 1, 1),
     .flags = TQ_OPF_INT64, .infer = where_infer, .forward = where_forward,
     .backward = where_backward},
};
const size_t tq_ops_where_count = TQ_OP_COUNT_OF(tq_ops_where);
