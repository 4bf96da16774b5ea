/* Where(condition, X, Y) with numpy broadcasting, forward and backward:
 * X and Y of any one dtype, the condition a bool. X gets the gradient where
 * the condition holds, Y elsewhere; the condition gets none. */
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
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "X and Y have different types (%s and %s)",
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
  const uint8_t *cond;
  const unsigned char *x, *y;
  unsigned char *out;
  size_t es;
} where_arg;

/* One output element of es bytes from X or Y. */
#define WHERE_ROW(T)                                     \
  do {                                                   \
    const T *x_ = (const T *)(const void *)g->x,         \
            *y_ = (const T *)(const void *)g->y;         \
    T *o_ = (T *)(void *)g->out + of;                    \
    for (size_t i = 0; i < n; i++)                       \
      o_[i] = g->cond[first[0] + (int64_t)i * step[0]]   \
                  ? x_[first[1] + (int64_t)i * step[1]]  \
                  : y_[first[2] + (int64_t)i * step[2]]; \
  } while (0)

static void where_row(void *arg, size_t of, const int64_t *first,
                      const int64_t *step, size_t n) {
  const where_arg *g = arg;
  switch (g->es) {
    case 1: WHERE_ROW(uint8_t); break;
    case 2: WHERE_ROW(uint16_t); break;
    case 4: WHERE_ROW(uint32_t); break;
    default: WHERE_ROW(uint64_t); break;
  }
}

static tq_status where_forward(tq_op_call *c) {
  tq_ew_plan p;
  const tq_shape *ins[3] = {&c->in[0]->shape, &c->in[1]->shape,
                            &c->in[2]->shape};
  tq_ew_plan_build(&p, &c->out[0]->shape, ins, 3);
  where_arg g = {c->in[0]->data, c->in[1]->data, c->in[2]->data,
                 c->out[0]->data, tq_dtype_size(c->out[0]->dtype)};
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
  const float *cb = NULL;
  /* The condition as 0/1 floats, broadcast like the gradient. */
  conv = malloc((cond->numel ? cond->numel : 1) * sizeof *conv);
  if (!conv) return tq_error_nomem(c->ctx);
  tq_dtype_convert(cond->dtype, cond->data, TQ_DTYPE_FLOAT32, conv,
                   cond->numel);
  st = tq_bw_bcast(c, conv, &cond->shape, &so, n, &cbuf, &cb);
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
     TQ_OP_TYPES(TQ_DTM_BOOL, TQ_DTM_ANY), .infer = where_infer,
     .forward = where_forward, .backward = where_backward},
};
const size_t tq_ops_where_count = TQ_OP_COUNT_OF(tq_ops_where);
