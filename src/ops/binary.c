/* Binary operators with numpy broadcasting: Add, Sub, Mul, Div, Pow, Mod,
 * the comparisons Equal, Less, Greater, LessOrEqual, GreaterOrEqual, the
 * logic And, Or, Xor, and PRelu; forward and backward.
 *
 * float32 arithmetic takes the vectorized path. Everything else takes the
 * generic path: integers (and bools) compute in int64 and wrap to their
 * width, with integer division truncating and division by zero an error
 * instead of a trap; float64, float16 and bfloat16 compute in double and
 * round once to their dtype (correctly rounded for + - * /: double has more
 * than twice their precision plus two bits). Comparisons give bool; And,
 * Or and Xor take bools.
 *
 * Backward (Add, Sub, Mul, Div, Pow, PRelu): an input broadcast in the
 * forward gets the output's gradient terms summed over the broadcast
 * dimensions; Div and Pow use the forward's output. PRelu'(0) = slope,
 * and the slope's gradient there is 0 (PyTorch's). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/binary_internal.h"
#include "ops/op_families.h"

enum { CLS_ARITH, CLS_CMP, CLS_LOGIC };

static const struct {
  tq_op_id id;
  int op, cls;
} bin_ops[] = {
    {TQ_OP_ADD, TQ_EW_ADD, CLS_ARITH},
    {TQ_OP_SUB, TQ_EW_SUB, CLS_ARITH},
    {TQ_OP_MUL, TQ_EW_MUL, CLS_ARITH},
    {TQ_OP_DIV, TQ_EW_DIV, CLS_ARITH},
    {TQ_OP_POW, TQ_EW_POW, CLS_ARITH},
    {TQ_OP_MOD, TQ_EW_MOD, CLS_ARITH},
    {TQ_OP_EQUAL, TQ_EW_EQ, CLS_CMP},
    {TQ_OP_LESS, TQ_EW_LT, CLS_CMP},
    {TQ_OP_GREATER, TQ_EW_GT, CLS_CMP},
    {TQ_OP_LESS_OR_EQUAL, TQ_EW_LE, CLS_CMP},
    {TQ_OP_GREATER_OR_EQUAL, TQ_EW_GE, CLS_CMP},
    {TQ_OP_AND, TQ_EW_AND, CLS_LOGIC},
    {TQ_OP_OR, TQ_EW_OR, CLS_LOGIC},
    {TQ_OP_XOR, TQ_EW_XOR, CLS_LOGIC},
};

typedef struct binary_params {
  int op, cls;
  int fmod; /* Mod */
  /* Before opset 7, Add/Sub/Mul/Div broadcast only with broadcast=1, B
   * aligned to A at `axis` (default: B's trailing dims). */
  int legacy;
  int64_t broadcast;
  int axis_given;
  int64_t axis;
} binary_params;

static tq_status binary_parse(const tq_op_parse *p, void *params) {
  binary_params *bp = params;
  for (size_t i = 0; i < sizeof bin_ops / sizeof bin_ops[0]; i++)
    if (bin_ops[i].id == p->desc->id) {
      bp->op = bin_ops[i].op;
      bp->cls = bin_ops[i].cls;
    }
  bp->fmod = (int)tq_parse_int(p, "fmod", 0);
  bp->legacy = p->opset < 7 && bp->cls == CLS_ARITH;
  bp->broadcast = tq_parse_int(p, "broadcast", 0);
  const tq_attr *axis = tq_parse_attr(p, "axis");
  bp->axis_given = axis && axis->type == TQ_ATTR_INT;
  bp->axis = bp->axis_given ? axis->i : 0;
  return TQ_OK;
}

/* B's shape as legacy broadcasting (broadcast=1) aligns it to A: A's rank,
 * B's dims from axis. 0 when B does not fit there (*axis: the axis). */
static int legacy_b_shape(const binary_params *bp, const tq_shape *sa,
                          const tq_shape *sb, tq_shape *nb, int64_t *axis) {
  const int ra = sa->ndim, rb = sb->ndim;
  *axis = bp->axis_given ? bp->axis : ra - rb;
  if (*axis < 0) *axis += ra;
  if (*axis < 0 || *axis + rb > ra) return 0;
  memset(nb, 0, sizeof *nb);
  nb->ndim = ra;
  for (int d = 0; d < ra; d++)
    nb->dims[d] = d >= *axis && d < *axis + rb ? sb->dims[d - *axis] : 1;
  return 1;
}

/* The shapes the two inputs broadcast with: legacy broadcasting is
 * rewritten to numpy broadcasting of a reshaped B. */
static tq_status bin_shapes(tq_op_call *c, const tq_tensor *a,
                            const tq_tensor *b, tq_shape *sa, tq_shape *sb,
                            tq_shape *so) {
  const binary_params *bp = c->params;
  *sa = a->shape;
  *sb = b->shape;
  if (bp->legacy) {
    if (!bp->broadcast) {
      if (!tq_shape_equal(sa, sb)) {
        char s1[96], s2[96];
        tq_shape_format(sa, s1, sizeof s1);
        tq_shape_format(sb, s2, sizeof s2);
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "inputs of shapes %s and %s differ and "
                             "broadcast=0 (opset %lld)",
                             s1, s2, (long long)c->opset);
      }
    } else {
      int64_t axis;
      tq_shape nb;
      if (!legacy_b_shape(bp, sa, sb, &nb, &axis))
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "legacy broadcast: B of rank %d does not fit "
                             "into A of rank %d at axis %lld",
                             sb->ndim, sa->ndim, (long long)axis);
      *sb = nb;
    }
  }
  tq_status st = tq_ew_broadcast_shape(c, sa, sb, "inputs", so);
  if (st != TQ_OK) return st;
  if (bp->legacy && !tq_shape_equal(so, sa))
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "legacy broadcast (opset %lld) only broadcasts B "
                         "to A's shape",
                         (long long)c->opset);
  return TQ_OK;
}

/* The output dtype. Pow's exponent may have any numeric dtype; every
 * other operator takes two inputs of one dtype (descriptor types checked
 * which). */
static tq_status bin_types(tq_op_call *c, int op, int cls, tq_dtype ta,
                           tq_dtype tb, tq_dtype *out) {
  if (op != TQ_EW_POW && ta != tb)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "inputs have different types (%s and %s)",
                         tq_dtype_name(ta), tq_dtype_name(tb));
  *out = cls == CLS_ARITH ? ta : TQ_DTYPE_BOOL;
  return TQ_OK;
}

#define EW_LOOPS(expr)                              \
  do {                                              \
    if (sa && sb) {                                 \
      for (size_t i = 0; i < n; i++) {              \
        const float x = a[i], y = b[i];             \
        o[i] = (expr);                              \
      }                                             \
    } else if (sa) {                                \
      const float y = b[0];                         \
      for (size_t i = 0; i < n; i++) {              \
        const float x = a[i];                       \
        o[i] = (expr);                              \
      }                                             \
    } else if (sb) {                                \
      const float x = a[0];                         \
      for (size_t i = 0; i < n; i++) {              \
        const float y = b[i];                       \
        o[i] = (expr);                              \
      }                                             \
    } else {                                        \
      const float x = a[0], y = b[0];               \
      for (size_t i = 0; i < n; i++) o[i] = (expr); \
    }                                               \
  } while (0)

static float min_f(float x, float y) {
  return (x < y || x != x) ? x : y;
}
static float max_f(float x, float y) {
  return (x > y || x != x) ? x : y;
}

void tq_ew_bin_row_f32(void *arg, size_t of, const int64_t *first,
                       const int64_t *step, size_t n) {
  const tq_ew_bin_arg *g = arg;
  float *o = (float *)g->o + of;
  const float *a = (const float *)g->a + first[0];
  const float *b = g->bf + first[1];
  const size_t sa = step[0] != 0, sb = step[1] != 0;
  switch (g->op) {
    case TQ_EW_ADD: EW_LOOPS(x + y); break;
    case TQ_EW_SUB: EW_LOOPS(x - y); break;
    case TQ_EW_MUL: EW_LOOPS(x * y); break;
    case TQ_EW_DIV: EW_LOOPS(x / y); break;
    case TQ_EW_POW: EW_LOOPS(powf(x, y)); break;
    case TQ_EW_SQUARE:
      for (size_t i = 0; i < n; i++) o[i] = a[i * sa] * a[i * sa];
      break;
    case TQ_EW_CUBE:
      for (size_t i = 0; i < n; i++) o[i] = a[i * sa] * a[i * sa] * a[i * sa];
      break;
    case TQ_EW_MOD: EW_LOOPS(fmodf(x, y)); break;
    case TQ_EW_MIN: EW_LOOPS(min_f(x, y)); break;
    case TQ_EW_MAX: EW_LOOPS(max_f(x, y)); break;
    case TQ_EW_PRELU: EW_LOOPS(x > 0.0f ? x : x * y); break;
    default: break;
  }
  if (g->relu) tq_relu_row(o, (int64_t)n);
}

static int i64_op(int op, int fmod_attr, int64_t x, int64_t y, int64_t *r) {
  switch (op) {
    case TQ_EW_ADD: *r = tq_wrap_i64((uint64_t)x + (uint64_t)y); return 0;
    case TQ_EW_SUB: *r = tq_wrap_i64((uint64_t)x - (uint64_t)y); return 0;
    case TQ_EW_MUL: *r = tq_wrap_i64((uint64_t)x * (uint64_t)y); return 0;
    case TQ_EW_DIV:
      if (y == 0) return 1;
      *r = (x == INT64_MIN && y == -1) ? INT64_MIN : x / y; /* truncates */
      return 0;
    case TQ_EW_MOD: {
      if (y == 0) return 1;
      int64_t m = (y == -1) ? 0 : x % y; /* sign of the dividend */
      /* fmod=0: integer Mod takes the sign of the divisor (Python %). */
      if (!fmod_attr && m != 0 && ((m < 0) != (y < 0))) m += y;
      *r = m;
      return 0;
    }
    case TQ_EW_MIN: *r = x < y ? x : y; return 0;
    case TQ_EW_MAX: *r = x > y ? x : y; return 0;
    case TQ_EW_EQ: *r = x == y; return 0;
    case TQ_EW_LT: *r = x < y; return 0;
    case TQ_EW_GT: *r = x > y; return 0;
    case TQ_EW_LE: *r = x <= y; return 0;
    case TQ_EW_GE: *r = x >= y; return 0;
    case TQ_EW_AND: *r = (x != 0) && (y != 0); return 0;
    case TQ_EW_OR: *r = (x != 0) || (y != 0); return 0;
    case TQ_EW_XOR: *r = (x != 0) != (y != 0); return 0;
    default: *r = 0; return 0;
  }
}

static double min_d(double x, double y) {
  return (x < y || x != x) ? x : y;
}
static double max_d(double x, double y) {
  return (x > y || x != x) ? x : y;
}

/* Floats other than float32's arithmetic, and every float comparison (1 or
 * 0). Mod is fmod, as the float32 path (ONNX requires fmod=1 for floats). */
static double f64_op(int op, double x, double y) {
  switch (op) {
    case TQ_EW_ADD: return x + y;
    case TQ_EW_SUB: return x - y;
    case TQ_EW_MUL: return x * y;
    case TQ_EW_DIV: return x / y;
    case TQ_EW_POW: return pow(x, y);
    case TQ_EW_MOD: return fmod(x, y);
    case TQ_EW_MIN: return min_d(x, y);
    case TQ_EW_MAX: return max_d(x, y);
    case TQ_EW_EQ: return x == y;
    case TQ_EW_LT: return x < y;
    case TQ_EW_GT: return x > y;
    case TQ_EW_LE: return x <= y;
    case TQ_EW_GE: return x >= y;
    default: return 0.0;
  }
}

void tq_ew_bin_row_generic(void *arg, size_t of, const int64_t *first,
                           const int64_t *step, size_t n) {
  tq_ew_bin_arg *g = arg;
  const int ints = !tq_dtype_is_float(g->dt);
  for (size_t i = 0; i < n; i++) {
    const size_t ia = (size_t)(first[0] + (int64_t)i * step[0]);
    const size_t ib = (size_t)(first[1] + (int64_t)i * step[1]);
    if (ints) {
      int64_t r;
      if (i64_op(g->op, g->fmod_attr, tq_load_i64(g->dt, g->a, ia),
                 tq_load_i64(g->dt_b, g->b, ib), &r)) {
        g->err = 1;
        r = 0;
      }
      tq_store_i64(g->out_dt, g->o, of + i, r);
    } else {
      tq_store_f64(g->out_dt, g->o, of + i,
                   f64_op(g->op, tq_load_f64(g->dt, g->a, ia),
                          tq_load_f64(g->dt_b, g->b, ib)));
    }
  }
}

static tq_status binary_infer(tq_op_call *c) {
  const binary_params *bp = c->params;
  if (c->n_in != 2 || !c->in[0] || !c->in[1])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects two inputs (A, B), got %zu", c->n_in);
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  tq_status st =
      bin_types(c, bp->op, bp->cls, c->in[0]->dtype, c->in[1]->dtype, &dt);
  if (st != TQ_OK) return st;
  tq_shape sa, sb, so;
  st = bin_shapes(c, c->in[0], c->in[1], &sa, &sb, &so);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, dt, &so);
}

static tq_status binary_forward(tq_op_call *c) {
  const binary_params *bp = c->params;
  const int op = bp->op, cls = bp->cls;
  if (c->n_in != 2 || !c->in[0] || !c->in[1])
    return tq_call_error(c, TQ_ERR_INTERNAL, "bad call");
  const tq_tensor *a = c->in[0], *b = c->in[1];
  tq_shape sa, sb, so;
  tq_status st = bin_shapes(c, a, b, &sa, &sb, &so);
  if (st != TQ_OK) return st;
  tq_ew_plan p;
  const tq_shape *ins[2] = {&sa, &sb};
  tq_ew_plan_build(&p, &so, ins, 2);
  tq_ew_bin_arg g = {.op = op,
                     .fmod_attr = bp->fmod,
                     .dt = a->dtype,
                     .dt_b = b->dtype,
                     .out_dt = c->out[0]->dtype,
                     .o = c->out[0]->data,
                     .a = a->data,
                     .b = b->data};
  if (cls == CLS_ARITH && a->dtype == TQ_DTYPE_FLOAT32) {
    g.relu = c->post_relu;
    float *tmp = NULL;
    g.bf = tq_cf32(b);
    if (op == TQ_EW_POW && b->dtype != TQ_DTYPE_FLOAT32) {
      tmp = malloc((b->numel ? b->numel : 1) * sizeof *tmp);
      if (!tmp) return tq_error_nomem(c->ctx);
      tq_dtype_convert(b->dtype, b->data, TQ_DTYPE_FLOAT32, tmp, b->numel);
      g.bf = tmp;
    }
    if (op == TQ_EW_POW && b->numel == 1) {
      if (g.bf[0] == 2.0f) g.op = TQ_EW_SQUARE;
      if (g.bf[0] == 3.0f) g.op = TQ_EW_CUBE;
    }
    tq_ew_run(&p, tq_ew_threads(c), tq_ew_bin_row_f32, &g);
    free(tmp);
    c->post_relu_done = g.relu;
    return TQ_OK;
  }
  /* Integers serially, so that division by zero is recorded safely. */
  int threads = tq_dtype_is_float(a->dtype) ? tq_ew_threads(c) : 1;
  tq_ew_run(&p, threads, tq_ew_bin_row_generic, &g);
  if (g.err) return tq_call_error(c, TQ_ERR_RANGE, "integer division by zero");
  return TQ_OK;
}

/* ---- backward
 * ---------------------------------------------------------------*/

/* Which broadcast operands the two gradients of ADD ... POW read. */
static const struct {
  int need_a, need_b;
} grad_needs[] = {
    [TQ_EW_ADD] = {0, 0}, [TQ_EW_SUB] = {0, 0}, [TQ_EW_MUL] = {1, 1},
    [TQ_EW_DIV] = {0, 1}, [TQ_EW_POW] = {1, 1},
};

typedef struct grad_arg {
  int op, k; /* gradient of input k */
  const float *a, *b, *y, *g;
  float *d;
} grad_arg;

static void grad_chunk(void *arg, size_t first, size_t n) {
  const grad_arg *p = arg;
  const float *a = p->a, *b = p->b, *y = p->y, *g = p->g;
  float *d = p->d;
  const size_t end = first + n;
  switch (p->op * 2 + p->k) {
    case TQ_EW_ADD * 2:
    case TQ_EW_ADD * 2 + 1:
    case TQ_EW_SUB * 2: TQ_BW_LOOP(g[i]); break;
    case TQ_EW_SUB * 2 + 1: TQ_BW_LOOP(-g[i]); break;
    case TQ_EW_MUL * 2: TQ_BW_LOOP(g[i] * b[i]); break;
    case TQ_EW_MUL * 2 + 1: TQ_BW_LOOP(g[i] * a[i]); break;
    case TQ_EW_DIV * 2: TQ_BW_LOOP(g[i] / b[i]); break;
    case TQ_EW_DIV * 2 + 1: TQ_BW_LOOP(-g[i] * (y[i] / b[i])); break;
    case TQ_EW_POW * 2:
      TQ_BW_LOOP(b[i] == 0.0f ? 0.0f : g[i] * (b[i] * powf(a[i], b[i] - 1.0f)));
      break;
    case TQ_EW_POW * 2 + 1:
      TQ_BW_LOOP(a[i] == 0.0f && b[i] >= 0.0f ? 0.0f
                                              : g[i] * (y[i] * logf(a[i])));
      break;
    default: break;
  }
}

/* B's shape as the forward broadcast it. */
static tq_shape grad_b_shape(const tq_op_call *c, const tq_shape *sa,
                             const tq_shape *sb) {
  const binary_params *bp = c->params;
  tq_shape nb;
  int64_t axis;
  if (!bp->legacy || !bp->broadcast || !legacy_b_shape(bp, sa, sb, &nb, &axis))
    return *sb; /* a B that does not fit was rejected by the forward */
  return nb;
}

static tq_status binary_backward(tq_op_call *c, const tq_tensor *const *gout,
                                 tq_tensor **gin) {
  const int op = ((const binary_params *)c->params)->op;
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || (!gin[0] && !gin[1])) return st;
  const tq_tensor *ta = c->in[0], *tb = c->in[1], *g = gout[0];
  const tq_shape so = g->shape, sa = ta->shape;
  const tq_shape sb = grad_b_shape(c, &sa, &tb->shape);
  size_t n = g->numel;
  float *abuf = NULL, *bbuf = NULL, *bconv = NULL, *tmp = NULL;
  const float *A = NULL, *B = NULL;
  if (grad_needs[op].need_a && ta->dtype == TQ_DTYPE_FLOAT32)
    st = tq_bw_bcast(c, tq_cf32(ta), &sa, &so, n, &abuf, &A);
  if (st == TQ_OK && grad_needs[op].need_b) {
    const float *bdata = NULL;
    if (tb->dtype != TQ_DTYPE_FLOAT32) { /* Pow's integer exponent */
      bconv = malloc((tb->numel ? tb->numel : 1) * sizeof *bconv);
      if (!bconv) st = tq_error_nomem(c->ctx);
      if (bconv)
        tq_dtype_convert(tb->dtype, tb->data, TQ_DTYPE_FLOAT32, bconv,
                         tb->numel);
      bdata = bconv;
    } else {
      bdata = tq_cf32(tb);
    }
    if (st == TQ_OK) st = tq_bw_bcast(c, bdata, &sb, &so, n, &bbuf, &B);
  }
  for (int j = 0; st == TQ_OK && j < 2; j++) {
    if (!gin[j]) continue;
    const tq_shape *sk = j ? &sb : &sa;
    float *d = NULL;
    st = tq_bw_terms(c, sk, n, gin[j], &tmp, &d);
    if (st != TQ_OK) break;
    grad_arg a = {op, j, A, B, tq_cf32(c->out[0]), tq_cf32(g), d};
    tq_ew_for_chunks(n, tq_ew_threads(c), grad_chunk, &a);
    tq_bw_finish(c, d, &so, sk, gin[j]);
  }
  free(abuf);
  free(bbuf);
  free(bconv);
  free(tmp);
  return st;
}

/* ---- PRelu
 * -----------------------------------------------------------------*/

static tq_status prelu_infer(tq_op_call *c) {
  if (c->n_in != 2 || !c->in[0] || !c->in[1])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects two inputs (X, slope), got %zu", c->n_in);
  const tq_tensor *x = c->in[0], *s = c->in[1];
  if (x->dtype != TQ_DTYPE_FLOAT32 || s->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "expects float32 X and slope, got %s and %s",
                         tq_dtype_name(x->dtype), tq_dtype_name(s->dtype));
  tq_shape so;
  tq_status st =
      tq_ew_broadcast_shape(c, &x->shape, &s->shape, "X and slope", &so);
  if (st != TQ_OK) return st;
  if (!tq_shape_equal(&so, &x->shape)) {
    char s1[96], s2[96];
    tq_shape_format(&s->shape, s1, sizeof s1);
    tq_shape_format(&x->shape, s2, sizeof s2);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "slope of shape %s does not broadcast to X's shape "
                         "%s (unidirectional)",
                         s1, s2);
  }
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &x->shape);
}

static tq_status prelu_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0], *s = c->in[1];
  tq_ew_plan p;
  const tq_shape *ins[2] = {&x->shape, &s->shape};
  tq_ew_plan_build(&p, &x->shape, ins, 2);
  tq_ew_bin_arg g = {.op = TQ_EW_PRELU,
                     .dt = TQ_DTYPE_FLOAT32,
                     .dt_b = TQ_DTYPE_FLOAT32,
                     .out_dt = TQ_DTYPE_FLOAT32,
                     .o = c->out[0]->data,
                     .a = x->data,
                     .b = s->data,
                     .bf = tq_cf32(s)};
  tq_ew_run(&p, tq_ew_threads(c), tq_ew_bin_row_f32, &g);
  return TQ_OK;
}

typedef struct prelu_arg {
  const float *x, *s, *g;
  float *d;
} prelu_arg;

static void prelu_x_chunk(void *arg, size_t first, size_t n) {
  const prelu_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = a->x[i] > 0.0f ? a->g[i] : a->s[i] * a->g[i];
}

static void prelu_s_chunk(void *arg, size_t first, size_t n) {
  const prelu_arg *a = arg;
  for (size_t i = first; i < first + n; i++)
    a->d[i] = a->x[i] > 0.0f ? 0.0f : a->x[i] * a->g[i];
}

static tq_status prelu_backward(tq_op_call *c, const tq_tensor *const *gout,
                                tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0], *s = c->in[1], *g = gout[0];
  size_t n = x->numel;
  int threads = tq_ew_threads(c);
  if (gin[0]) {
    float *sbuf = NULL;
    const float *sb = NULL;
    st = tq_bw_bcast(c, tq_cf32(s), &s->shape, &x->shape, n, &sbuf, &sb);
    if (st != TQ_OK) return st;
    prelu_arg a = {tq_cf32(x), sb, tq_cf32(g), tq_f32(gin[0])};
    tq_ew_for_chunks(n, threads, prelu_x_chunk, &a);
    free(sbuf);
  }
  if (gin[1]) {
    float *tmp = NULL, *d = NULL;
    st = tq_bw_terms(c, &s->shape, n, gin[1], &tmp, &d);
    if (st != TQ_OK) return st;
    prelu_arg a = {tq_cf32(x), NULL, tq_cf32(g), d};
    tq_ew_for_chunks(n, threads, prelu_s_chunk, &a);
    tq_bw_finish(c, d, &x->shape, &s->shape, gin[1]);
    free(tmp);
  }
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

#define BINARY(op_id, name, flags_, types, bw)                               \
  {                                                                          \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(2, 2, 1, 1),                        \
        .flags = (flags_), types, TQ_OP_PARAMS(binary_params, binary_parse), \
        .infer = binary_infer, .forward = binary_forward, .backward = bw     \
  }
#define ARITH (TQ_OPF_INPLACE | TQ_OPF_POST_RELU)
#define NUM TQ_OP_TYPES(TQ_DTM_NUM)

const tq_op_desc tq_ops_binary[] = {
    BINARY(TQ_OP_ADD, "Add", ARITH, NUM, binary_backward),
    BINARY(TQ_OP_SUB, "Sub", ARITH, NUM, binary_backward),
    BINARY(TQ_OP_MUL, "Mul", ARITH, NUM, binary_backward),
    BINARY(TQ_OP_DIV, "Div", ARITH, NUM, binary_backward),
    /* A float base; the exponent of any numeric dtype. */
    BINARY(TQ_OP_POW, "Pow", 0, TQ_OP_TYPES(TQ_DTM_FLOAT, TQ_DTM_NUM),
           binary_backward),
    BINARY(TQ_OP_MOD, "Mod", 0, NUM, NULL),
    /* Comparisons and logic are not differentiable. */
    BINARY(TQ_OP_EQUAL, "Equal", 0, TQ_OP_TYPES(TQ_DTM_ANY), NULL),
    BINARY(TQ_OP_LESS, "Less", 0, NUM, NULL),
    BINARY(TQ_OP_GREATER, "Greater", 0, NUM, NULL),
    BINARY(TQ_OP_LESS_OR_EQUAL, "LessOrEqual", 0, NUM, NULL),
    BINARY(TQ_OP_GREATER_OR_EQUAL, "GreaterOrEqual", 0, NUM, NULL),
    BINARY(TQ_OP_AND, "And", 0, TQ_OP_TYPES(TQ_DTM_BOOL), NULL),
    BINARY(TQ_OP_OR, "Or", 0, TQ_OP_TYPES(TQ_DTM_BOOL), NULL),
    BINARY(TQ_OP_XOR, "Xor", 0, TQ_OP_TYPES(TQ_DTM_BOOL), NULL),
    /* PRelu(X, slope): the slope is a weight (docs/design.md §3). */
    {TQ_OP_ONNX(TQ_OP_PRELU, "PRelu"), TQ_OP_ARITY(2, 2, 1, 1),
     .flags = TQ_OPF_WEIGHTS, .infer = prelu_infer, .forward = prelu_forward,
     .backward = prelu_backward},
};
const size_t tq_ops_binary_count = TQ_OP_COUNT_OF(tq_ops_binary);
