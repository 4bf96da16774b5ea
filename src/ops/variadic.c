/* Variadic operators with numpy broadcasting: Sum, Mean, Min, Max, folded
 * left to right with the binary row kernels; forward and backward.
 *
 * Backward: Sum passes the gradient, Mean scales it by the forward's 1 / n,
 * and Max/Min give it to the first input that holds the result (ties, and
 * the first NaN the forward propagated); each summed over the dimensions
 * the input was broadcast along. */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/binary_internal.h"
#include "ops/op_families.h"

/* The operator, from its descriptor. */
typedef struct variadic_params {
  int op; /* TQ_EW_ADD (Sum), TQ_EW_DIV (Mean: sum, then divide), MIN, MAX */
} variadic_params;

static tq_status variadic_parse(const tq_op_parse *p, void *params) {
  variadic_params *vp = params;
  switch (p->desc->id) {
    case TQ_OP_SUM: vp->op = TQ_EW_ADD; break;
    case TQ_OP_MEAN: vp->op = TQ_EW_DIV; break;
    case TQ_OP_MIN: vp->op = TQ_EW_MIN; break;
    default: vp->op = TQ_EW_MAX; break;
  }
  return TQ_OK;
}

static tq_status variadic_infer(tq_op_call *c) {
  if (c->n_in < 1)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects at least one input");
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  tq_shape so;
  for (size_t i = 0; i < c->n_in; i++) {
    const tq_tensor *t = c->in[i];
    if (!t)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "input %zu is missing (inputs are not optional)", i);
    if (i == 0) {
      dt = t->dtype;
      so = t->shape;
      continue;
    }
    if (t->dtype != dt)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "inputs have different types (%s and %s)",
                           tq_dtype_name(dt), tq_dtype_name(t->dtype));
    tq_shape n;
    tq_status st = tq_ew_broadcast_shape(c, &so, &t->shape, "inputs", &n);
    if (st != TQ_OK) return st;
    so = n;
  }
  return tq_call_set_output(c, 0, dt, &so);
}

/* Mean = sum times the float reciprocal of n, as ONNX Runtime computes it
 * (bit for bit the same results). */
static void mean_scale(void *arg, size_t first, size_t len) {
  const tq_ew_bin_arg *g = arg;
  float *o = (float *)g->o + first;
  const float r = g->bf[0];
  for (size_t i = 0; i < len; i++) o[i] = o[i] * r;
}

static tq_status variadic_forward(tq_op_call *c) {
  const int op = ((const variadic_params *)c->params)->op;
  tq_tensor *out = c->out[0];
  int threads = tq_dtype_is_float(out->dtype) ? tq_ew_threads(c) : 1;
  size_t es = tq_dtype_size(out->dtype);
  tq_ew_broadcast_copy(c->in[0]->data, &c->in[0]->shape, out->data, &out->shape,
                       es, threads);
  int acc = op == TQ_EW_DIV ? TQ_EW_ADD : op;
  /* Left to right, in place: out = op(out, in[i]). */
  for (size_t i = 1; i < c->n_in; i++) {
    const tq_tensor *t = c->in[i];
    tq_ew_plan p;
    const tq_shape *ins[2] = {&out->shape, &t->shape};
    tq_ew_plan_build(&p, &out->shape, ins, 2);
    tq_ew_bin_arg g = {.op = acc,
                       .dt = out->dtype,
                       .dt_b = out->dtype,
                       .out_dt = out->dtype,
                       .o = out->data,
                       .a = out->data,
                       .b = t->data,
                       .bf = tq_cf32(t)};
    tq_ew_run(&p, threads,
              out->dtype == TQ_DTYPE_FLOAT32 ? tq_ew_bin_row_f32
                                             : tq_ew_bin_row_generic,
              &g);
  }
  if (op == TQ_EW_DIV) {
    const float r = 1.0f / (float)c->n_in;
    tq_ew_bin_arg g = {.o = out->data, .bf = &r};
    tq_ew_for_chunks(out->numel, threads, mean_scale, &g);
  }
  return TQ_OK;
}

/* ---- backward
 * ---------------------------------------------------------------*/

typedef struct var_arg {
  int k;
  float scale;
  const float *x, *y, *g;
  int32_t *owner;
  float *d;
} var_arg;

/* Max/Min: owner[i] = the first input whose value is the result (NaN
 * results: the first NaN input, which the forward propagated). */
static void owner_chunk(void *arg, size_t first, size_t n) {
  const var_arg *a = arg;
  for (size_t i = first; i < first + n; i++) {
    const float v = a->x[i], r = a->y[i];
    if (a->owner[i] < 0 && (v == r || (v != v && r != r))) a->owner[i] = a->k;
  }
}

static void owned_chunk(void *arg, size_t first, size_t n) {
  const var_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = a->owner[i] == a->k ? a->g[i] : 0.0f;
}

static void scale_chunk(void *arg, size_t first, size_t n) {
  const var_arg *a = arg;
  for (size_t i = first; i < first + n; i++) a->d[i] = a->g[i] * a->scale;
}

static tq_status variadic_backward(tq_op_call *c, const tq_tensor *const *gout,
                                   tq_tensor **gin) {
  const int op = ((const variadic_params *)c->params)->op;
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  const tq_tensor *g = gout[0];
  const tq_shape so = g->shape;
  size_t n = g->numel;
  int threads = tq_ew_threads(c);
  int32_t *owner = NULL;
  float *tmp = NULL;
  if (op == TQ_EW_MAX || op == TQ_EW_MIN) {
    owner = malloc((n ? n : 1) * sizeof *owner);
    if (!owner) return tq_error_nomem(c->ctx);
    for (size_t i = 0; i < n; i++) owner[i] = -1;
    for (size_t k = 0; st == TQ_OK && k < c->n_in; k++) {
      const float *x = NULL;
      float *buf = NULL;
      st =
          tq_bw_bcast(c, tq_cf32(c->in[k]), &c->in[k]->shape, &so, n, &buf, &x);
      if (st != TQ_OK) break;
      var_arg a = {(int)k, 0.0f, x, tq_cf32(c->out[0]), NULL, owner, NULL};
      tq_ew_for_chunks(n, threads, owner_chunk, &a);
      free(buf);
    }
  }
  for (size_t k = 0; st == TQ_OK && k < c->n_in; k++) {
    if (!gin[k]) continue;
    const tq_shape *sk = &c->in[k]->shape;
    if (op == TQ_EW_ADD) { /* the gradient itself, summed where broadcast */
      tq_bw_sum_to_shape(tq_cf32(g), &so, sk, tq_f32(gin[k]), threads);
      continue;
    }
    float *d = NULL;
    st = tq_bw_terms(c, sk, n, gin[k], &tmp, &d);
    if (st != TQ_OK) break;
    /* Mean: the forward's factor, 1 / n in float. */
    var_arg a = {(int)k, 1.0f / (float)c->n_in, NULL, NULL, tq_cf32(g), owner,
                 d};
    tq_ew_for_chunks(n, threads, op == TQ_EW_DIV ? scale_chunk : owned_chunk,
                     &a);
    tq_bw_finish(c, d, &so, sk, gin[k]);
  }
  free(owner);
  free(tmp);
  return st;
}

/* ---- descriptors ---------------------------------------------------------*/

#define VARIADIC(op_id, name, types)                          \
  {                                                           \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(1, -1, 1, 1), types, \
        TQ_OP_PARAMS(variadic_params, variadic_parse),        \
        .infer = variadic_infer, .forward = variadic_forward, \
        .backward = variadic_backward                         \
  }

const tq_op_desc tq_ops_variadic[] = {
    /* Other dtypes than float32 through the binary generic path (each
     * pairwise step rounds to the dtype); Mean in float32 only. */
    VARIADIC(TQ_OP_SUM, "Sum", TQ_OP_TYPES(TQ_DTM_NUM)),
    VARIADIC(TQ_OP_MEAN, "Mean", TQ_OP_TYPES(TQ_DTM_F32)),
    VARIADIC(TQ_OP_MIN, "Min", TQ_OP_TYPES(TQ_DTM_NUM)),
    VARIADIC(TQ_OP_MAX, "Max", TQ_OP_TYPES(TQ_DTM_NUM)),
};
const size_t tq_ops_variadic_count = TQ_OP_COUNT_OF(tq_ops_variadic);
