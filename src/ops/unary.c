/* Unary math: Sqrt, Exp, Log, Abs, Neg, Reciprocal, Floor, Ceil, Round,
 * Sign, Erf, Sin, Cos, Not; forward and backward.
 *
 * float32 takes the vectorized path. Abs, Neg and Sign also take integers
 * (in int64, wrapped to the width); Not takes bools; float64, float16 and
 * bfloat16 compute in double and round once to their dtype (the float
 * math of every operator). Backward: Abs'(0) = 0
 * (PyTorch's); Floor, Ceil, Round and Sign have gradient 0; Sqrt, Exp and
 * Reciprocal use the forward's output. Not has none. */
#include <math.h>
#include <stdint.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"
#include "ops/op_families.h"

enum {
  UN_SQRT,
  UN_EXP,
  UN_LOG,
  UN_ABS,
  UN_NEG,
  UN_RECIPROCAL,
  UN_FLOOR,
  UN_CEIL,
  UN_ROUND,
  UN_SIGN,
  UN_ERF,
  UN_SIN,
  UN_COS,
  UN_NOT,
};

/* Per operator: its function. */
static const struct {
  tq_op_id id;
  int op;
} un_ops[] = {
    {TQ_OP_SQRT, UN_SQRT},   {TQ_OP_EXP, UN_EXP},
    {TQ_OP_LOG, UN_LOG},     {TQ_OP_ABS, UN_ABS},
    {TQ_OP_NEG, UN_NEG},     {TQ_OP_RECIPROCAL, UN_RECIPROCAL},
    {TQ_OP_FLOOR, UN_FLOOR}, {TQ_OP_CEIL, UN_CEIL},
    {TQ_OP_ROUND, UN_ROUND}, {TQ_OP_SIGN, UN_SIGN},
    {TQ_OP_ERF, UN_ERF},     {TQ_OP_SIN, UN_SIN},
    {TQ_OP_COS, UN_COS},     {TQ_OP_NOT, UN_NOT},
};

/* The operator, from its descriptor: an index into un_ops. */
typedef struct unary_params {
  int k;
} unary_params;

static tq_status unary_parse(const tq_op_parse *p, void *params) {
  unary_params *up = params;
  for (size_t i = 0; i < sizeof un_ops / sizeof un_ops[0]; i++)
    if (un_ops[i].id == p->desc->id) up->k = (int)i;
  return TQ_OK;
}

static tq_status unary_infer(tq_op_call *c) {
  if (c->n_in != 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects one input, got %zu", c->n_in);
  return tq_call_set_output(c, 0, c->in[0]->dtype, &c->in[0]->shape);
}

typedef struct un_arg {
  int op;
  tq_dtype dt;
  const void *x;
  void *y;
} un_arg;

#define UN_LOOP(expr)              \
  for (size_t i = 0; i < n; i++) { \
    const float v = x[i];          \
    y[i] = (expr);                 \
  }

static void un_chunk_f32(void *arg, size_t first, size_t n) {
  const un_arg *g = arg;
  const float *x = (const float *)g->x + first;
  float *y = (float *)g->y + first;
  switch (g->op) {
    case UN_SQRT: UN_LOOP(sqrtf(v)); break;
    case UN_EXP: UN_LOOP(expf(v)); break;
    case UN_LOG: UN_LOOP(logf(v)); break;
    case UN_ABS: UN_LOOP(fabsf(v)); break;
    case UN_NEG: UN_LOOP(-v); break;
    case UN_RECIPROCAL: UN_LOOP(1.0f / v); break;
    case UN_FLOOR: UN_LOOP(floorf(v)); break;
    case UN_CEIL: UN_LOOP(ceilf(v)); break;
    /* ONNX Round: halves to even, i.e. the default rounding mode. */
    case UN_ROUND: UN_LOOP(nearbyintf(v)); break;
    case UN_SIGN: UN_LOOP(v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v); break;
    case UN_ERF: UN_LOOP(erff(v)); break;
    case UN_SIN: UN_LOOP(sinf(v)); break;
    case UN_COS: UN_LOOP(cosf(v)); break;
    default: break;
  }
}

/* Integers in int64 (wrapped to the width when stored), bools. */
static void un_chunk_int(void *arg, size_t first, size_t n) {
  const un_arg *g = arg;
  for (size_t i = first; i < first + n; i++) {
    int64_t v = tq_load_i64(g->dt, g->x, i), r = v;
    switch (g->op) {
      case UN_ABS: r = v < 0 ? tq_wrap_i64(0u - (uint64_t)v) : v; break;
      case UN_NEG: r = tq_wrap_i64(0u - (uint64_t)v); break;
      case UN_SIGN: r = (v > 0) - (v < 0); break;
      case UN_NOT: r = v == 0; break;
      default: break;
    }
    tq_store_i64(g->dt, g->y, i, r);
  }
}

/* float64, float16, bfloat16: in double, rounded once to the dtype. */
static void un_chunk_wide(void *arg, size_t first, size_t n) {
  const un_arg *g = arg;
  for (size_t i = first; i < first + n; i++) {
    const double v = tq_load_f64(g->dt, g->x, i);
    double r = v;
    switch (g->op) {
      case UN_SQRT: r = sqrt(v); break;
      case UN_EXP: r = exp(v); break;
      case UN_LOG: r = log(v); break;
      case UN_ABS: r = fabs(v); break;
      case UN_NEG: r = -v; break;
      case UN_RECIPROCAL: r = 1.0 / v; break;
      case UN_FLOOR: r = floor(v); break;
      case UN_CEIL: r = ceil(v); break;
      case UN_ROUND: r = nearbyint(v); break;
      case UN_SIGN: r = v > 0.0 ? 1.0 : v < 0.0 ? -1.0 : v; break;
      case UN_ERF: r = erf(v); break;
      case UN_SIN: r = sin(v); break;
      case UN_COS: r = cos(v); break;
      default: break;
    }
    tq_store_f64(g->dt, g->y, i, r);
  }
}

static tq_status unary_forward(tq_op_call *c) {
  const int k = ((const unary_params *)c->params)->k;
  const tq_tensor *x = c->in[0];
  un_arg g = {un_ops[k].op, x->dtype, x->data, c->out[0]->data};
  const int threads = tq_ew_threads(c);
  if (x->dtype == TQ_DTYPE_FLOAT32)
    tq_ew_for_chunks(x->numel, threads, un_chunk_f32, &g);
  else if (tq_dtype_is_float(x->dtype))
    tq_ew_for_chunks(x->numel, threads, un_chunk_wide, &g);
  else
    tq_ew_for_chunks(x->numel, threads, un_chunk_int, &g);
  return TQ_OK;
}

/* ---- backward
 * ---------------------------------------------------------------*/

typedef struct grad_arg {
  int op;
  const float *x, *y, *g; /* input, output, output gradient */
  float *d;
} grad_arg;

static void grad_chunk(void *arg, size_t first, size_t n) {
  const grad_arg *a = arg;
  const float *x = a->x, *y = a->y, *g = a->g;
  float *d = a->d;
  const size_t end = first + n;
  switch (a->op) {
    case UN_SQRT: TQ_BW_LOOP(g[i] * 0.5f / y[i]); break;
    case UN_EXP: TQ_BW_LOOP(g[i] * y[i]); break;
    case UN_LOG: TQ_BW_LOOP(g[i] / x[i]); break;
    case UN_ABS:
      TQ_BW_LOOP(x[i] > 0.0f ? g[i] : x[i] < 0.0f ? -g[i] : 0.0f);
      break;
    case UN_NEG: TQ_BW_LOOP(-g[i]); break;
    case UN_RECIPROCAL: TQ_BW_LOOP(-g[i] * (y[i] * y[i])); break;
    case UN_ERF:
      /* 2 / sqrt(pi) */
      TQ_BW_LOOP(g[i] * (1.12837916709551257f * expf(-x[i] * x[i])));
      break;
    case UN_SIN: TQ_BW_LOOP(g[i] * cosf(x[i])); break;
    case UN_COS: TQ_BW_LOOP(-g[i] * sinf(x[i])); break;
    default: TQ_BW_LOOP(0.0f); break; /* Floor, Ceil, Round, Sign */
  }
}

static tq_status unary_backward(tq_op_call *c, const tq_tensor *const *gout,
                                tq_tensor **gin) {
  const int k = ((const unary_params *)c->params)->k;
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  grad_arg a = {un_ops[k].op, tq_cf32(c->in[0]), tq_cf32(c->out[0]),
                tq_cf32(gout[0]), tq_f32(gin[0])};
  tq_ew_for_chunks(c->in[0]->numel, tq_ew_threads(c), grad_chunk, &a);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

#define UNARY(op_id, name, types, bw)                                     \
  {                                                                       \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(1, 1, 1, 1), TQ_OP_TYPES(types), \
        TQ_OP_PARAMS(unary_params, unary_parse),                          \
        .infer = unary_infer, .forward = unary_forward, .backward = bw    \
  }
#define FLOATS TQ_DTM_FLOAT

const tq_op_desc tq_ops_unary[] = {
    UNARY(TQ_OP_SQRT, "Sqrt", FLOATS, unary_backward),
    UNARY(TQ_OP_EXP, "Exp", FLOATS, unary_backward),
    UNARY(TQ_OP_LOG, "Log", FLOATS, unary_backward),
    UNARY(TQ_OP_ABS, "Abs", TQ_DTM_NUM, unary_backward),
    UNARY(TQ_OP_NEG, "Neg", FLOATS | TQ_DTM_SIGNED, unary_backward),
    UNARY(TQ_OP_RECIPROCAL, "Reciprocal", FLOATS, unary_backward),
    UNARY(TQ_OP_FLOOR, "Floor", FLOATS, unary_backward),
    UNARY(TQ_OP_CEIL, "Ceil", FLOATS, unary_backward),
    UNARY(TQ_OP_ROUND, "Round", FLOATS, unary_backward),
    UNARY(TQ_OP_SIGN, "Sign", TQ_DTM_NUM, unary_backward),
    UNARY(TQ_OP_ERF, "Erf", FLOATS, unary_backward),
    UNARY(TQ_OP_SIN, "Sin", FLOATS, unary_backward),
    UNARY(TQ_OP_COS, "Cos", FLOATS, unary_backward),
    UNARY(TQ_OP_NOT, "Not", TQ_DTM_BOOL, NULL),
};
const size_t tq_ops_unary_count = TQ_OP_COUNT_OF(tq_ops_unary);
