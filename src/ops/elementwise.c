/* Elementwise operators: arithmetic and comparisons with numpy broadcasting,
 * variadic Sum/Mean/Min/Max, unary math, Identity/Dropout, Cast, Where,
 * PRelu.
 *
 * Broadcasting is planned once per call: the output's dimensions are
 * collapsed wherever every input continues contiguously (or stays
 * broadcast), so a same-shape Add becomes one long row and a per-channel
 * bias [1,C,1,1] on [N,C,H,W] becomes N*C rows of H*W elements against one
 * scalar each. The innermost loops then see only "vector op vector",
 * "vector op scalar" or "scalar op vector", which the compiler vectorizes:
 * residual Adds in ResNets run at memory speed.
 *
 * int64 tensors carry shape arithmetic at plan time (Shape -> Gather ->
 * Mul -> Concat ...): they take a simple serial path that reports division
 * by zero instead of trapping.
 *
 * Booleans (comparisons, And/Or/Xor/Not, Where's condition) are int64 0/1
 * at plan time and float32 0/1 at run time, where every value is float32
 * (masked_fill patterns such as Swin's attention mask compare float data
 * and feed Where). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/elementwise.h"

/* ---- shared helpers
 * --------------------------------------------------------*/

int tq_ew_threads(const tq_op_call *c) {
  return c->threads > 0 ? c->threads : 1;
}

const char *tq_ew_dtype_name(tq_dtype dtype) {
  switch (dtype) {
    case TQ_DTYPE_FLOAT32: return "float32";
    case TQ_DTYPE_INT64: return "int64";
    default: return "unknown";
  }
}

void tq_ew_for_chunks(size_t n, int threads, tq_ew_chunk_fn fn, void *arg) {
  size_t chunks = tq_chunk_count(n);
  if (threads < 1) threads = 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (chunks > 1)
  for (size_t k = 0; k < chunks; k++) {
    size_t first = k * TQ_CHUNK_ELEMS;
    size_t len = n - first < TQ_CHUNK_ELEMS ? n - first : TQ_CHUNK_ELEMS;
    fn(arg, first, len);
  }
}

static void shape_str(const tq_shape *s, char *buf, size_t size) {
  tq_shape_format(s, buf, size);
}

tq_status tq_ew_broadcast_shape(tq_op_call *c, const tq_shape *a,
                                const tq_shape *b, const char *what,
                                tq_shape *out) {
  int r = a->ndim > b->ndim ? a->ndim : b->ndim;
  tq_shape o;
  memset(&o, 0, sizeof o);
  o.ndim = r;
  for (int d = 0; d < r; d++) {
    int da = d - (r - a->ndim), db = d - (r - b->ndim);
    int64_t x = da >= 0 ? a->dims[da] : 1;
    int64_t y = db >= 0 ? b->dims[db] : 1;
    if (x != y && x != 1 && y != 1) {
      char sa[96], sb[96];
      shape_str(a, sa, sizeof sa);
      shape_str(b, sb, sizeof sb);
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "%s of shapes %s and %s do not broadcast "
                           "(dimension %d: %lld vs %lld)",
                           what, sa, sb, d, (long long)x, (long long)y);
    }
    o.dims[d] = x == 1 ? y : x;
  }
  *out = o;
  return TQ_OK;
}

/* ---- broadcasting plan
 * -----------------------------------------------------*/

enum { EW_MAXIN = 3 };

/* The output's dimensions after collapsing, with each input's element
 * stride per dimension (0: broadcast). The innermost stride of an input is
 * 0 or 1. */
typedef struct ew_plan {
  int nd; /* >= 1 */
  int k;  /* inputs */
  int64_t dims[TQ_MAX_DIMS];
  int64_t st[EW_MAXIN][TQ_MAX_DIMS];
} ew_plan;

/* in[j] must broadcast to out (checked by the caller's infer). */
static void ew_plan_build(ew_plan *p, const tq_shape *out,
                          const tq_shape *const *in, int k) {
  int64_t full[EW_MAXIN][TQ_MAX_DIMS];
  int r = out->ndim;
  for (int j = 0; j < k; j++) {
    int off = r - in[j]->ndim;
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
      int64_t dim = d >= off ? in[j]->dims[d - off] : 1;
      full[j][d] = dim == 1 ? 0 : s;
      s *= dim;
    }
  }
  p->k = k;
  p->nd = 0;
  for (int d = 0; d < r; d++) {
    int64_t n = out->dims[d];
    if (n == 1) continue; /* size-1 dims contribute nothing */
    int merge = p->nd > 0;
    for (int j = 0; j < k && merge; j++)
      if (p->st[j][p->nd - 1] != full[j][d] * n) merge = 0;
    if (merge) {
      p->dims[p->nd - 1] *= n;
      for (int j = 0; j < k; j++) p->st[j][p->nd - 1] = full[j][d];
    } else {
      p->dims[p->nd] = n;
      for (int j = 0; j < k; j++) p->st[j][p->nd] = full[j][d];
      p->nd++;
    }
  }
  if (p->nd == 0) { /* every dim is 1: one element */
    p->nd = 1;
    p->dims[0] = 1;
    for (int j = 0; j < k; j++) p->st[j][0] = 1;
  }
}

/* Position in the rows (all collapsed dims but the innermost). */
typedef struct ew_iter {
  int64_t idx[TQ_MAX_DIMS];
  int64_t off[EW_MAXIN];
} ew_iter;

static void ew_iter_seek(const ew_plan *p, ew_iter *it, size_t row) {
  for (int j = 0; j < p->k; j++) it->off[j] = 0;
  for (int d = p->nd - 2; d >= 0; d--) {
    it->idx[d] = (int64_t)(row % (size_t)p->dims[d]);
    row /= (size_t)p->dims[d];
    for (int j = 0; j < p->k; j++) it->off[j] += it->idx[d] * p->st[j][d];
  }
}

static void ew_iter_next(const ew_plan *p, ew_iter *it) {
  for (int d = p->nd - 2; d >= 0; d--) {
    it->idx[d]++;
    for (int j = 0; j < p->k; j++) it->off[j] += p->st[j][d];
    if (it->idx[d] < p->dims[d]) return;
    for (int j = 0; j < p->k; j++) it->off[j] -= p->st[j][d] * p->dims[d];
    it->idx[d] = 0;
  }
}

/* Processes len output elements starting at out_first; input j starts at
 * element in_first[j] and advances by step[j] (0 or 1). */
typedef void (*ew_row_fn)(void *arg, size_t out_first, const int64_t *in_first,
                          const int64_t *step, size_t len);

/* Runs fn over the whole output in tasks of about TQ_CHUNK_ELEMS elements:
 * several short rows per task, or a long row cut into chunks. */
static void ew_run(const ew_plan *p, int threads, ew_row_fn fn, void *arg) {
  size_t inner = (size_t)p->dims[p->nd - 1];
  size_t rows = 1;
  for (int d = 0; d < p->nd - 1; d++) rows *= (size_t)p->dims[d];
  if (!inner || !rows) return;
  size_t ich = inner < TQ_CHUNK_ELEMS ? inner : TQ_CHUNK_ELEMS;
  size_t nic = (inner + ich - 1) / ich;
  size_t rpb = inner < TQ_CHUNK_ELEMS ? TQ_CHUNK_ELEMS / inner : 1;
  size_t nrb = (rows + rpb - 1) / rpb;
  size_t tasks = nrb * nic;
  int64_t step[EW_MAXIN];
  for (int j = 0; j < p->k; j++) step[j] = p->st[j][p->nd - 1];
  if (threads < 1) threads = 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (tasks > 1)
  for (size_t t = 0; t < tasks; t++) {
    size_t r0 = (t / nic) * rpb;
    size_t r1 = r0 + rpb < rows ? r0 + rpb : rows;
    size_t i0 = (t % nic) * ich;
    size_t len = inner - i0 < ich ? inner - i0 : ich;
    ew_iter it;
    ew_iter_seek(p, &it, r0);
    for (size_t r = r0; r < r1; r++) {
      int64_t first[EW_MAXIN];
      for (int j = 0; j < p->k; j++)
        first[j] = it.off[j] + (int64_t)i0 * step[j];
      fn(arg, r * inner + i0, first, step, len);
      if (r + 1 < r1) ew_iter_next(p, &it);
    }
  }
}

/* Broadcast copy: one input. */
typedef struct copy_arg {
  const unsigned char *src;
  unsigned char *dst;
  size_t esize;
} copy_arg;

static void copy_row(void *arg, size_t of, const int64_t *first,
                     const int64_t *step, size_t n) {
  const copy_arg *g = arg;
  unsigned char *o = g->dst + of * g->esize;
  const unsigned char *s = g->src + (size_t)first[0] * g->esize;
  if (step[0]) {
    memcpy(o, s, n * g->esize);
  } else if (g->esize == sizeof(float)) {
    float v;
    memcpy(&v, s, sizeof v);
    float *of32 = (float *)(void *)o;
    for (size_t i = 0; i < n; i++) of32[i] = v;
  } else {
    for (size_t i = 0; i < n; i++) memcpy(o + i * g->esize, s, g->esize);
  }
}

void tq_ew_broadcast_copy(const void *src, const tq_shape *src_shape, void *dst,
                          const tq_shape *dst_shape, size_t esize,
                          int threads) {
  ew_plan p;
  const tq_shape *ins[1] = {src_shape};
  ew_plan_build(&p, dst_shape, ins, 1);
  copy_arg g = {src, dst, esize};
  ew_run(&p, threads, copy_row, &g);
}

/* ---- binary operators
 * ------------------------------------------------------*/

enum {
  EW_ADD,
  EW_SUB,
  EW_MUL,
  EW_DIV,
  EW_POW,
  EW_MOD,
  EW_MIN,
  EW_MAX,
  EW_PRELU,
  EW_SQUARE, /* Pow with exponent 2 (as ONNX Runtime: x*x, exact) */
  EW_CUBE,   /* Pow with exponent 3 */
  EW_EQ,
  EW_LT,
  EW_GT,
  EW_LE,
  EW_GE,
  EW_AND,
  EW_OR,
  EW_XOR,
};

enum { CLS_ARITH, CLS_CMP, CLS_LOGIC };

static const struct {
  const char *name;
  int op, cls;
} bin_ops[] = {
    {"Add", EW_ADD, CLS_ARITH},         {"Sub", EW_SUB, CLS_ARITH},
    {"Mul", EW_MUL, CLS_ARITH},         {"Div", EW_DIV, CLS_ARITH},
    {"Pow", EW_POW, CLS_ARITH},         {"Mod", EW_MOD, CLS_ARITH},
    {"Equal", EW_EQ, CLS_CMP},          {"Less", EW_LT, CLS_CMP},
    {"Greater", EW_GT, CLS_CMP},        {"LessOrEqual", EW_LE, CLS_CMP},
    {"GreaterOrEqual", EW_GE, CLS_CMP}, {"And", EW_AND, CLS_LOGIC},
    {"Or", EW_OR, CLS_LOGIC},           {"Xor", EW_XOR, CLS_LOGIC},
};

static int bin_lookup(const char *name, int *cls) {
  for (size_t i = 0; i < sizeof bin_ops / sizeof bin_ops[0]; i++)
    if (strcmp(bin_ops[i].name, name) == 0) {
      *cls = bin_ops[i].cls;
      return bin_ops[i].op;
    }
  return -1;
}

/* The shapes the two inputs broadcast with. Before opset 7, Add/Sub/Mul/Div
 * broadcast only with broadcast=1, B aligned to A at `axis` (default: B's
 * trailing dims); that is rewritten to numpy broadcasting of a reshaped B. */
static tq_status bin_shapes(tq_op_call *c, int cls, const tq_tensor *a,
                            const tq_tensor *b, tq_shape *sa, tq_shape *sb,
                            tq_shape *so) {
  *sa = a->shape;
  *sb = b->shape;
  if (c->opset < 7 && cls == CLS_ARITH) {
    int64_t bc = tq_attr_int(c, "broadcast", 0);
    if (!bc) {
      if (!tq_shape_equal(sa, sb)) {
        char s1[96], s2[96];
        shape_str(sa, s1, sizeof s1);
        shape_str(sb, s2, sizeof s2);
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "inputs of shapes %s and %s differ and "
                             "broadcast=0 (opset %lld)",
                             s1, s2, (long long)c->opset);
      }
    } else {
      int ra = sa->ndim, rb = sb->ndim;
      int64_t axis = tq_attr_int(c, "axis", ra - rb);
      if (axis < 0) axis += ra;
      if (axis < 0 || axis + rb > ra)
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "legacy broadcast: B of rank %d does not fit "
                             "into A of rank %d at axis %lld",
                             rb, ra, (long long)axis);
      tq_shape nb;
      memset(&nb, 0, sizeof nb);
      nb.ndim = ra;
      for (int d = 0; d < ra; d++)
        nb.dims[d] = d >= axis && d < axis + rb ? sb->dims[d - axis] : 1;
      *sb = nb;
    }
  }
  tq_status st = tq_ew_broadcast_shape(c, sa, sb, "inputs", so);
  if (st != TQ_OK) return st;
  if (c->opset < 7 && cls == CLS_ARITH && !tq_shape_equal(so, sa))
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "legacy broadcast (opset %lld) only broadcasts B "
                         "to A's shape",
                         (long long)c->opset);
  return TQ_OK;
}

/* The dtype booleans have in this call (see the top of the file). */
static tq_dtype bool_dtype(const tq_op_call *c) {
  return c->plan_time ? TQ_DTYPE_INT64 : TQ_DTYPE_FLOAT32;
}

static tq_status bin_types(tq_op_call *c, int op, int cls, tq_dtype ta,
                           tq_dtype tb, tq_dtype *out) {
  if (op == EW_POW) {
    if (ta != TQ_DTYPE_FLOAT32)
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "Pow of an %s base is not supported (float32 "
                           "only)",
                           tq_ew_dtype_name(ta));
    *out = TQ_DTYPE_FLOAT32;
    return TQ_OK;
  }
  if (ta != tb)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "inputs have different types (%s and %s)",
                         tq_ew_dtype_name(ta), tq_ew_dtype_name(tb));
  *out = cls == CLS_ARITH ? ta : bool_dtype(c);
  return TQ_OK;
}

/* Three loops for the three broadcast patterns of a row; expr uses x
 * (from a) and y (from b). */
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

typedef struct bin_arg {
  int op;
  int fmod_attr;
  tq_dtype dt;     /* inputs' dtype (generic path) */
  tq_dtype out_dt; /* output dtype (generic path) */
  void *o;
  const void *a, *b;
  const float *bf; /* Pow: the exponent as float */
  int err;         /* generic path: 1 division by zero */
  int relu;        /* float path: Relu on each row once computed */
} bin_arg;

static float min_f(float x, float y) {
  return (x < y || x != x) ? x : y;
}
static float max_f(float x, float y) {
  return (x > y || x != x) ? x : y;
}

/* Float arithmetic: the hot path. */
static void bin_row_f32(void *arg, size_t of, const int64_t *first,
                        const int64_t *step, size_t n) {
  const bin_arg *g = arg;
  float *o = (float *)g->o + of;
  const float *a = (const float *)g->a + first[0];
  const float *b = g->bf + first[1];
  const size_t sa = step[0] != 0, sb = step[1] != 0;
  switch (g->op) {
    case EW_ADD: EW_LOOPS(x + y); break;
    case EW_SUB: EW_LOOPS(x - y); break;
    case EW_MUL: EW_LOOPS(x * y); break;
    case EW_DIV: EW_LOOPS(x / y); break;
    case EW_POW: EW_LOOPS(powf(x, y)); break;
    case EW_SQUARE:
      for (size_t i = 0; i < n; i++) o[i] = a[i * sa] * a[i * sa];
      break;
    case EW_CUBE:
      for (size_t i = 0; i < n; i++) o[i] = a[i * sa] * a[i * sa] * a[i * sa];
      break;
    case EW_MOD: EW_LOOPS(fmodf(x, y)); break;
    case EW_MIN: EW_LOOPS(min_f(x, y)); break;
    case EW_MAX: EW_LOOPS(max_f(x, y)); break;
    case EW_PRELU: EW_LOOPS(x > 0.0f ? x : x * y); break;
    default: break;
  }
  if (g->relu) tq_relu_row(o, (int64_t)n);
}

/* Wrapping int64 arithmetic (no undefined behaviour on overflow). */
static int64_t wrap_i64(uint64_t u) {
  int64_t r;
  memcpy(&r, &u, sizeof r);
  return r;
}

static int i64_op(int op, int fmod_attr, int64_t x, int64_t y, int64_t *r) {
  switch (op) {
    case EW_ADD: *r = wrap_i64((uint64_t)x + (uint64_t)y); return 0;
    case EW_SUB: *r = wrap_i64((uint64_t)x - (uint64_t)y); return 0;
    case EW_MUL: *r = wrap_i64((uint64_t)x * (uint64_t)y); return 0;
    case EW_DIV:
      if (y == 0) return 1;
      *r = (x == INT64_MIN && y == -1) ? INT64_MIN : x / y; /* truncates */
      return 0;
    case EW_MOD: {
      if (y == 0) return 1;
      int64_t m = (y == -1) ? 0 : x % y; /* sign of the dividend */
      /* fmod=0: integer Mod takes the sign of the divisor (Python %). */
      if (!fmod_attr && m != 0 && ((m < 0) != (y < 0))) m += y;
      *r = m;
      return 0;
    }
    case EW_MIN: *r = x < y ? x : y; return 0;
    case EW_MAX: *r = x > y ? x : y; return 0;
    case EW_EQ: *r = x == y; return 0;
    case EW_LT: *r = x < y; return 0;
    case EW_GT: *r = x > y; return 0;
    case EW_LE: *r = x <= y; return 0;
    case EW_GE: *r = x >= y; return 0;
    case EW_AND: *r = (x != 0) && (y != 0); return 0;
    case EW_OR: *r = (x != 0) || (y != 0); return 0;
    case EW_XOR: *r = (x != 0) != (y != 0); return 0;
    default: *r = 0; return 0;
  }
}

/* Comparisons and logic on floats (logic: non-zero is true). */
static int64_t f32_bool(int op, float x, float y) {
  switch (op) {
    case EW_EQ: return x == y;
    case EW_LT: return x < y;
    case EW_GT: return x > y;
    case EW_LE: return x <= y;
    case EW_GE: return x >= y;
    case EW_AND: return x != 0.0f && y != 0.0f;
    case EW_OR: return x != 0.0f || y != 0.0f;
    case EW_XOR: return (x != 0.0f) != (y != 0.0f);
    default: return 0;
  }
}

/* Comparisons and logic (int64 or float32 result), and everything on
 * int64. */
static void bin_row_generic(void *arg, size_t of, const int64_t *first,
                            const int64_t *step, size_t n) {
  bin_arg *g = arg;
  for (size_t i = 0; i < n; i++) {
    int64_t ia = first[0] + (int64_t)i * step[0];
    int64_t ib = first[1] + (int64_t)i * step[1];
    int64_t r;
    if (g->dt == TQ_DTYPE_FLOAT32) {
      r = f32_bool(g->op, ((const float *)g->a)[ia], ((const float *)g->b)[ib]);
    } else if (i64_op(g->op, g->fmod_attr, ((const int64_t *)g->a)[ia],
                      ((const int64_t *)g->b)[ib], &r)) {
      g->err = 1;
      r = 0;
    }
    if (g->out_dt == TQ_DTYPE_INT64)
      ((int64_t *)g->o)[of + i] = r;
    else
      ((float *)g->o)[of + i] = (float)r;
  }
}

tq_status tq_ew_binary_infer(tq_op_call *c) {
  int cls;
  int op = bin_lookup(c->op_type, &cls);
  if (op < 0) return tq_call_error(c, TQ_ERR_INTERNAL, "not a binary operator");
  if (c->n_in != 2 || !c->in[0] || !c->in[1])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects two inputs (A, B), got %zu", c->n_in);
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  tq_status st = bin_types(c, op, cls, c->in[0]->dtype, c->in[1]->dtype, &dt);
  if (st != TQ_OK) return st;
  tq_shape sa, sb, so;
  st = bin_shapes(c, cls, c->in[0], c->in[1], &sa, &sb, &so);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, dt, &so);
}

tq_status tq_ew_binary_forward(tq_op_call *c) {
  int cls;
  int op = bin_lookup(c->op_type, &cls);
  if (op < 0 || c->n_in != 2 || !c->in[0] || !c->in[1])
    return tq_call_error(c, TQ_ERR_INTERNAL, "bad call");
  const tq_tensor *a = c->in[0], *b = c->in[1];
  tq_shape sa, sb, so;
  tq_status st = bin_shapes(c, cls, a, b, &sa, &sb, &so);
  if (st != TQ_OK) return st;
  ew_plan p;
  const tq_shape *ins[2] = {&sa, &sb};
  ew_plan_build(&p, &so, ins, 2);
  bin_arg g = {op,
               (int)tq_attr_int(c, "fmod", 0),
               a->dtype,
               c->out[0]->dtype,
               c->out[0]->data,
               a->data,
               b->data,
               NULL,
               0,
               0};
  if (cls == CLS_ARITH && a->dtype == TQ_DTYPE_FLOAT32) {
    g.relu = c->post_relu;
    float *tmp = NULL;
    g.bf = tq_cf32(b);
    if (op == EW_POW && b->dtype == TQ_DTYPE_INT64) {
      tmp = malloc((b->numel ? b->numel : 1) * sizeof *tmp);
      if (!tmp) return tq_error_nomem(c->ctx);
      for (size_t i = 0; i < b->numel; i++) tmp[i] = (float)tq_ci64(b)[i];
      g.bf = tmp;
    }
    if (op == EW_POW && b->numel == 1) {
      if (g.bf[0] == 2.0f) g.op = EW_SQUARE;
      if (g.bf[0] == 3.0f) g.op = EW_CUBE;
    }
    ew_run(&p, tq_ew_threads(c), bin_row_f32, &g);
    free(tmp);
    c->post_relu_done = g.relu;
    return TQ_OK;
  }
  /* int64 (plan time, small) or comparisons: serial, so errors are
   * recorded safely. */
  int threads = a->dtype == TQ_DTYPE_INT64 ? 1 : tq_ew_threads(c);
  ew_run(&p, threads, bin_row_generic, &g);
  if (g.err) return tq_call_error(c, TQ_ERR_RANGE, "integer division by zero");
  return TQ_OK;
}

/* ---- PRelu
 * -----------------------------------------------------------------*/

tq_status tq_act_prelu_infer(tq_op_call *c) {
  if (c->n_in != 2 || !c->in[0] || !c->in[1])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects two inputs (X, slope), got %zu", c->n_in);
  const tq_tensor *x = c->in[0], *s = c->in[1];
  if (x->dtype != TQ_DTYPE_FLOAT32 || s->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(
        c, TQ_ERR_UNSUPPORTED, "expects float32 X and slope, got %s and %s",
        tq_ew_dtype_name(x->dtype), tq_ew_dtype_name(s->dtype));
  tq_shape so;
  tq_status st =
      tq_ew_broadcast_shape(c, &x->shape, &s->shape, "X and slope", &so);
  if (st != TQ_OK) return st;
  if (!tq_shape_equal(&so, &x->shape)) {
    char s1[96], s2[96];
    shape_str(&s->shape, s1, sizeof s1);
    shape_str(&x->shape, s2, sizeof s2);
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "slope of shape %s does not broadcast to X's shape "
                         "%s (unidirectional)",
                         s1, s2);
  }
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &x->shape);
}

tq_status tq_act_prelu_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0], *s = c->in[1];
  ew_plan p;
  const tq_shape *ins[2] = {&x->shape, &s->shape};
  ew_plan_build(&p, &x->shape, ins, 2);
  bin_arg g = {EW_PRELU,
               0,
               TQ_DTYPE_FLOAT32,
               TQ_DTYPE_FLOAT32,
               c->out[0]->data,
               x->data,
               s->data,
               tq_cf32(s),
               0,
               0};
  ew_run(&p, tq_ew_threads(c), bin_row_f32, &g);
  return TQ_OK;
}

/* ---- variadic: Sum Mean Min Max
 * --------------------------------------------*/

static int variadic_op(const char *name) {
  if (strcmp(name, "Sum") == 0) return EW_ADD;
  if (strcmp(name, "Mean") == 0) return EW_DIV; /* sum, then divide */
  if (strcmp(name, "Min") == 0) return EW_MIN;
  if (strcmp(name, "Max") == 0) return EW_MAX;
  return -1;
}

tq_status tq_ew_variadic_infer(tq_op_call *c) {
  int op = variadic_op(c->op_type);
  if (op < 0)
    return tq_call_error(c, TQ_ERR_INTERNAL, "not a variadic operator");
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
                           tq_ew_dtype_name(dt), tq_ew_dtype_name(t->dtype));
    tq_shape n;
    tq_status st = tq_ew_broadcast_shape(c, &so, &t->shape, "inputs", &n);
    if (st != TQ_OK) return st;
    so = n;
  }
  if (op == EW_DIV && dt != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "Mean of %s inputs is not supported (float32 only)",
                         tq_ew_dtype_name(dt));
  return tq_call_set_output(c, 0, dt, &so);
}

/* Mean = sum times the float reciprocal of n, as ONNX Runtime computes it
 * (bit for bit the same results). */
static void mean_scale(void *arg, size_t first, size_t len) {
  const bin_arg *g = arg;
  float *o = (float *)g->o + first;
  const float r = g->bf[0];
  for (size_t i = 0; i < len; i++) o[i] = o[i] * r;
}

tq_status tq_ew_variadic_forward(tq_op_call *c) {
  int op = variadic_op(c->op_type);
  tq_tensor *out = c->out[0];
  int threads = out->dtype == TQ_DTYPE_INT64 ? 1 : tq_ew_threads(c);
  size_t es = tq_dtype_size(out->dtype);
  tq_ew_broadcast_copy(c->in[0]->data, &c->in[0]->shape, out->data, &out->shape,
                       es, threads);
  int acc = op == EW_DIV ? EW_ADD : op;
  /* Left to right, in place: out = op(out, in[i]). */
  for (size_t i = 1; i < c->n_in; i++) {
    const tq_tensor *t = c->in[i];
    ew_plan p;
    const tq_shape *ins[2] = {&out->shape, &t->shape};
    ew_plan_build(&p, &out->shape, ins, 2);
    bin_arg g = {acc,       0,       out->dtype, out->dtype, out->data,
                 out->data, t->data, tq_cf32(t), 0,          0};
    ew_run(&p, threads,
           out->dtype == TQ_DTYPE_FLOAT32 ? bin_row_f32 : bin_row_generic, &g);
  }
  if (op == EW_DIV) {
    const float r = 1.0f / (float)c->n_in;
    bin_arg g = {0, 0, out->dtype, out->dtype, out->data, NULL, NULL, &r, 0, 0};
    tq_ew_for_chunks(out->numel, threads, mean_scale, &g);
  }
  return TQ_OK;
}

/* ---- unary math
 * ------------------------------------------------------------*/

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

static const struct {
  const char *name;
  int op;
  int f32, i64; /* dtypes accepted */
} un_ops[] = {
    {"Sqrt", UN_SQRT, 1, 0},   {"Exp", UN_EXP, 1, 0},
    {"Log", UN_LOG, 1, 0},     {"Abs", UN_ABS, 1, 1},
    {"Neg", UN_NEG, 1, 1},     {"Reciprocal", UN_RECIPROCAL, 1, 0},
    {"Floor", UN_FLOOR, 1, 0}, {"Ceil", UN_CEIL, 1, 0},
    {"Round", UN_ROUND, 1, 0}, {"Sign", UN_SIGN, 1, 1},
    {"Erf", UN_ERF, 1, 0},     {"Sin", UN_SIN, 1, 0},
    {"Cos", UN_COS, 1, 0},     {"Not", UN_NOT, 1, 1},
};

static int un_lookup(const char *name) {
  for (size_t i = 0; i < sizeof un_ops / sizeof un_ops[0]; i++)
    if (strcmp(un_ops[i].name, name) == 0) return (int)i;
  return -1;
}

tq_status tq_ew_unary_infer(tq_op_call *c) {
  int k = un_lookup(c->op_type);
  if (k < 0) return tq_call_error(c, TQ_ERR_INTERNAL, "not a unary operator");
  if (c->n_in != 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects one input, got %zu", c->n_in);
  tq_dtype dt = c->in[0]->dtype;
  if ((dt == TQ_DTYPE_FLOAT32 && !un_ops[k].f32) ||
      (dt == TQ_DTYPE_INT64 && !un_ops[k].i64))
    return tq_call_error(c, TQ_ERR_UNSUPPORTED, "%s input is not supported",
                         tq_ew_dtype_name(dt));
  return tq_call_set_output(c, 0, dt, &c->in[0]->shape);
}

typedef struct un_arg {
  int op;
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
    case UN_NOT: UN_LOOP(v == 0.0f ? 1.0f : 0.0f); break; /* run-time bool */
    default: break;
  }
}

static void un_chunk_i64(void *arg, size_t first, size_t n) {
  const un_arg *g = arg;
  const int64_t *x = (const int64_t *)g->x + first;
  int64_t *y = (int64_t *)g->y + first;
  for (size_t i = 0; i < n; i++) {
    int64_t v = x[i];
    switch (g->op) {
      case UN_ABS: y[i] = v < 0 ? wrap_i64(0u - (uint64_t)v) : v; break;
      case UN_NEG: y[i] = wrap_i64(0u - (uint64_t)v); break;
      case UN_SIGN: y[i] = (v > 0) - (v < 0); break;
      case UN_NOT: y[i] = v == 0; break;
      default: y[i] = v; break;
    }
  }
}

tq_status tq_ew_unary_forward(tq_op_call *c) {
  int k = un_lookup(c->op_type);
  if (k < 0) return tq_call_error(c, TQ_ERR_INTERNAL, "not a unary operator");
  const tq_tensor *x = c->in[0];
  un_arg g = {un_ops[k].op, x->data, c->out[0]->data};
  if (x->dtype == TQ_DTYPE_FLOAT32)
    tq_ew_for_chunks(x->numel, tq_ew_threads(c), un_chunk_f32, &g);
  else
    tq_ew_for_chunks(x->numel, 1, un_chunk_i64, &g);
  return TQ_OK;
}

/* ---- Identity, Dropout
 * -----------------------------------------------------*/

tq_status tq_ew_identity_infer(tq_op_call *c) {
  if (c->n_in < 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "expects an input");
  tq_status st = tq_call_set_output(c, 0, c->in[0]->dtype, &c->in[0]->shape);
  if (st != TQ_OK) return st;
  /* Dropout's optional mask: all ones (true) at inference. ONNX makes it
   * bool; it is float32 here because run-time values are float32 (the
   * executor accepts no integer results from run-time nodes). */
  if (c->n_out > 1 && c->out[1])
    return tq_call_set_output(c, 1, TQ_DTYPE_FLOAT32, &c->in[0]->shape);
  return TQ_OK;
}

static void copy_chunk(void *arg, size_t first, size_t n) {
  const copy_arg *g = arg;
  memcpy(g->dst + first * g->esize, g->src + first * g->esize, n * g->esize);
}

tq_status tq_ew_identity_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  copy_arg g = {x->data, c->out[0]->data, tq_dtype_size(x->dtype)};
  if (g.dst != g.src)
    tq_ew_for_chunks(x->numel, tq_ew_threads(c), copy_chunk, &g);
  if (c->n_out > 1 && c->out[1]) {
    float *m = tq_f32(c->out[1]);
    for (size_t i = 0; i < c->out[1]->numel; i++) m[i] = 1.0f;
  }
  return TQ_OK;
}

/* ---- Cast, CastLike
 * --------------------------------------------------------*/

/* ONNX TensorProto.DataType ids. */
enum {
  ONNX_FLOAT = 1,
  ONNX_UINT8 = 2,
  ONNX_INT8 = 3,
  ONNX_UINT16 = 4,
  ONNX_INT16 = 5,
  ONNX_INT32 = 6,
  ONNX_INT64 = 7,
  ONNX_STRING = 8,
  ONNX_BOOL = 9,
  ONNX_FLOAT16 = 10,
  ONNX_DOUBLE = 11,
  ONNX_UINT32 = 12,
  ONNX_UINT64 = 13,
  ONNX_BFLOAT16 = 16,
};

/* What a Cast target asks for: a real value, an integer, or a bool. */
enum { CAST_REAL, CAST_INT, CAST_BOOL };

/* Integer targets of every width are one kind here: they carry shape
 * arithmetic, whose values fit in int64. */
static tq_status cast_target(tq_op_call *c, int64_t to, int *kind) {
  *kind = CAST_REAL;
  switch (to) {
    case ONNX_FLOAT:
    case ONNX_DOUBLE: *kind = CAST_REAL; return TQ_OK;
    case ONNX_BOOL: *kind = CAST_BOOL; return TQ_OK;
    case ONNX_UINT8:
    case ONNX_INT8:
    case ONNX_UINT16:
    case ONNX_INT16:
    case ONNX_INT32:
    case ONNX_INT64:
    case ONNX_UINT32:
    case ONNX_UINT64: *kind = CAST_INT; return TQ_OK;
    case ONNX_FLOAT16:
    case ONNX_BFLOAT16:
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "Cast to %s is not supported: the runtime "
                           "computes in float32; quantize the value with an "
                           "extrinsic map (\"fp16\", \"bf16\") instead",
                           to == ONNX_FLOAT16 ? "float16" : "bfloat16");
    case ONNX_STRING:
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "Cast to string is not supported");
    default:
      return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                           "Cast to ONNX data type %lld is not supported "
                           "(float, double, integer and bool types are)",
                           (long long)to);
  }
}

/* The kind of conversion and the output dtype: integers and bools are
 * int64 at plan time and float32 holding integer values (bools 0/1) at
 * run time, where every value is float32. */
static tq_status cast_params(tq_op_call *c, int *kind, tq_dtype *dt) {
  if (c->n_in < 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "expects an input");
  if (strcmp(c->op_type, "CastLike") == 0) {
    if (c->n_in < 2 || !c->in[1])
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "expects two inputs (input, target_type)");
    *kind = c->in[1]->dtype == TQ_DTYPE_INT64 ? CAST_INT : CAST_REAL;
  } else {
    const tq_attr *to = tq_call_attr(c, "to");
    if (!to || to->type != TQ_ATTR_INT)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "the integer attribute 'to' is required");
    tq_status st = cast_target(c, to->i, kind);
    if (st != TQ_OK) return st;
  }
  *dt = *kind == CAST_REAL || !c->plan_time ? TQ_DTYPE_FLOAT32 : TQ_DTYPE_INT64;
  return TQ_OK;
}

tq_status tq_ew_cast_infer(tq_op_call *c) {
  int kind = CAST_REAL;
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  tq_status st = cast_params(c, &kind, &dt);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, dt, &c->in[0]->shape);
}

/* float -> int64 truncates toward zero (as C and ONNX Runtime); NaN gives
 * 0 and out-of-range values saturate instead of being undefined. */
static int64_t f32_to_i64(float v) {
  if (v != v) return 0;
  if (v >= 9223372036854775808.0f) return INT64_MAX;
  if (v < -9223372036854775808.0f) return INT64_MIN;
  return (int64_t)v;
}

tq_status tq_ew_cast_forward(tq_op_call *c) {
  int kind = CAST_REAL;
  tq_dtype dt = TQ_DTYPE_FLOAT32;
  tq_status st = cast_params(c, &kind, &dt);
  if (st != TQ_OK) return st;
  const tq_tensor *x = c->in[0];
  tq_tensor *y = c->out[0];
  size_t n = x->numel;
  int same = x->dtype == dt &&
             (kind == CAST_REAL || (kind == CAST_INT && dt == TQ_DTYPE_INT64));
  if (same) {
    copy_arg g = {x->data, y->data, tq_dtype_size(dt)};
    if (g.dst != g.src) tq_ew_for_chunks(n, tq_ew_threads(c), copy_chunk, &g);
    return TQ_OK;
  }
  for (size_t i = 0; i < n; i++) {
    if (x->dtype == TQ_DTYPE_FLOAT32) {
      float v = tq_cf32(x)[i];
      if (dt == TQ_DTYPE_INT64)
        tq_i64(y)[i] = kind == CAST_BOOL ? v != 0.0f : f32_to_i64(v);
      else /* run time: integer values as float */
        tq_f32(y)[i] = kind == CAST_BOOL ? (v != 0.0f ? 1.0f : 0.0f)
                       : v != v          ? 0.0f
                                         : truncf(v);
    } else {
      int64_t v = tq_ci64(x)[i];
      if (kind == CAST_BOOL) v = v != 0;
      if (dt == TQ_DTYPE_INT64)
        tq_i64(y)[i] = v;
      else
        tq_f32(y)[i] = (float)v;
    }
  }
  return TQ_OK;
}

/* ---- Where
 * -----------------------------------------------------------------*/

tq_status tq_ew_where_infer(tq_op_call *c) {
  if (c->n_in != 3 || !c->in[0] || !c->in[1] || !c->in[2])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects three inputs (condition, X, Y), got %zu",
                         c->n_in);
  const tq_tensor *x = c->in[1], *y = c->in[2];
  if (x->dtype != y->dtype)
    return tq_call_error(
        c, TQ_ERR_UNSUPPORTED, "X and Y have different types (%s and %s)",
        tq_ew_dtype_name(x->dtype), tq_ew_dtype_name(y->dtype));
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

tq_status tq_ew_where_forward(tq_op_call *c) {
  ew_plan p;
  const tq_shape *ins[3] = {&c->in[0]->shape, &c->in[1]->shape,
                            &c->in[2]->shape};
  ew_plan_build(&p, &c->out[0]->shape, ins, 3);
  where_arg g = {c->in[0], c->in[1], c->in[2], c->out[0]};
  ew_run(&p, tq_ew_threads(c), where_row, &g);
  return TQ_OK;
}
