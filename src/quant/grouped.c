/* Scaled and block formats (docs/design.md §2.10): where the groups of a
 * tensor are (resolved at a site), the definitions every scaled kind
 * shares (its element grid, scale storage), the reference driver and the
 * fast driver. The kinds' own definitions (what scale a statistic gives)
 * are in kind_int.c, kind_float.c, kind_mx.c, kind_nvfp4.c, kind_bfp.c. */
#include "quant/grouped.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context_internal.h"
#include "core/error.h"
#include "core/threads.h"
#include "quant/spec_internal.h"

/* ---- groups -------------------------------------------------------------*/

static size_t blocks_along(const tq_groups *g) {
  return (g->dim + g->block - 1) / g->block;
}

size_t tq_groups_count(const tq_groups *g) {
  if (g->block == 0) return g->dim;
  return g->outer * blocks_along(g) * g->inner;
}

size_t tq_groups_len_max(const tq_groups *g) {
  if (g->block == 0) return g->outer * g->inner;
  return g->block < g->dim ? g->block : g->dim;
}

size_t tq_group_members(const tq_groups *g, size_t k, size_t *idx) {
  size_t m = 0;
  if (g->block == 0) {
    for (size_t o = 0; o < g->outer; o++)
      for (size_t i = 0; i < g->inner; i++)
        idx[m++] = (o * g->dim + k) * g->inner + i;
    return m;
  }
  size_t nb = blocks_along(g);
  size_t i = k % g->inner, b = k / g->inner % nb, o = k / g->inner / nb;
  size_t end = (b + 1) * g->block < g->dim ? (b + 1) * g->block : g->dim;
  for (size_t d = b * g->block; d < end; d++)
    idx[m++] = (o * g->dim + d) * g->inner + i;
  return m;
}

/* ---- statistics -----------------------------------------------------------*/

void tq_group_stat_add(tq_group_stat *st, float x) {
  float a = fabsf(x);
  if (!(a <= FLT_MAX)) {
    st->nonfinite = 1;
    return;
  }
  if (a > st->amax) st->amax = a;
  if (x < st->min) st->min = x;
  if (x > st->max) st->max = x;
}

void tq_group_stat_merge(tq_group_stat *into, const tq_group_stat *st) {
  if (st->amax > into->amax) into->amax = st->amax;
  if (st->min < into->min) into->min = st->min;
  if (st->max > into->max) into->max = st->max;
  into->nonfinite |= st->nonfinite;
}

/* `static`: the statistic the site's range stands for. */
static tq_group_stat range_stat(const tq_group_env *env) {
  tq_group_stat st = {fmaxf(fabsf(env->range_lo), fabsf(env->range_hi)),
                      env->range_lo, env->range_hi, 0};
  return st;
}

/* ---- shared definitions ---------------------------------------------------*/

/* Both on the bit pattern where the value is normal (per block, so they
 * must not cost a library call), else through ldexpf/frexpf. */
float tq_pow2f(int k) {
  if (k < -126) return ldexpf(1.0f, k);
  uint32_t b = (uint32_t)(k + 127) << 23;
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

int tq_floor_log2f(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  int be = (int)(b >> 23 & 0xff);
  if (be) return be - 127;
  int e;
  frexpf(x, &e); /* x = f 2^e, f in [0.5, 1), exact for subnormals too */
  return e - 1;
}

float tq_fp16_round(float v) {
  float a = fabsf(v);
  if (a >= 65520.0f) return copysignf(INFINITY, v); /* rounds past 65504 */
  if (a < 0x1p-14f) /* below the normals: quantum 2^-24, ties to even */
    return copysignf((a + 0.5f) - 0.5f, v);
  uint32_t b; /* 10 mantissa bits: drop 13, ties to even */
  memcpy(&b, &a, sizeof b);
  b = (b + 0xfffu + (b >> 13 & 1u)) & ~0x1fffu;
  memcpy(&a, &b, sizeof a);
  return copysignf(a, v);
}

float tq_e4m3_sat(float v) {
  if (v >= 448.0f) return 448.0f;
  if (v < 0x1p-6f) /* below the normals: quantum 2^-9, ties to even */
    return (v + 0x1p14f) - 0x1p14f;
  uint32_t b; /* 3 mantissa bits: drop 20, ties to even (a carry may move
                 to the next binade, at most to 448) */
  memcpy(&b, &v, sizeof b);
  b = (b + 0x7ffffu + (b >> 20 & 1u)) & ~0xfffffu;
  memcpy(&v, &b, sizeof v);
  return v;
}

float tq_elem_max(const tq_quantizer *q) {
  return q->p.exp_bits ? (float)q->fl.max : 0.0f;
}

double tq_group_bits(const tq_quant_params *p, double elem_bits,
                     double scale_bits, int64_t block) {
  (void)p;
  return block > 0 ? elem_bits + scale_bits / (double)block : elem_bits;
}

/* 2^ceil(log2 s) within [2^lo, 2^127]; s = 0 gives 2^lo, +inf 2^127. */
static float pow2_ceil(float s, int lo) {
  int k = lo;
  if (isinf(s)) {
    k = 127;
  } else if (s > 0.0f) {
    k = tq_floor_log2f(s);
    if (s != tq_pow2f(k)) k++;
  }
  if (k < lo) k = lo;
  if (k > 127) k = 127;
  return tq_pow2f(k);
}

float tq_scale_store(const tq_quantizer *q, float s) {
  switch (q->p.scale) {
    case TQ_SCALE_FP32:
      if (s == 0.0f) return 0x1p-149f;
      return isinf(s) ? FLT_MAX : s;
    case TQ_SCALE_BF16:
    case TQ_SCALE_FP16:
    case TQ_SCALE_FP8E4M3: {
      const tq_float_fmt *f = &q->scale_fmt;
      float r = (float)tq_float_round(&f->p, &f->c, s, 0.0); /* saturating */
      if (r == 0.0f) r = ldexpf(1.0f, f->c.emin - f->p.man_bits);
      return r;
    }
    case TQ_SCALE_E8M0: return pow2_ceil(s, -127);
    case TQ_SCALE_PO2: return pow2_ceil(s, -149);
    case TQ_SCALE_FORMAT_COUNT: break;
  }
  return s;
}

/* Beyond 2^24 every float32 is an integer that every rounding mode keeps,
 * and every clamp bound is far below, so t can be bounded there first
 * (which also tames +-inf). */
#define ROUND_BOUND 0x1p24f

float tq_group_elem(const tq_quantizer *q, const tq_group_param *pr, float x,
                    double u) {
  float t = x / pr->s;
  if (isnan(t)) return t;
  if (!tq_elem_is_float(&q->p)) {
    float tb = fminf(fmaxf(t, -ROUND_BOUND), ROUND_BOUND);
    double r = tq_round_signed(q->p.round, tb, u);
    if (r < pr->lo) r = pr->lo;
    if (r > pr->hi) r = pr->hi;
    return ((float)r + 0.0f) * pr->s;
  }
  return (float)tq_float_round(&q->p, &q->fl, t, u) * pr->s;
}

void tq_group_normalize(tq_quantizer *q) {
  const tq_group_traits *gt = tq_kind_traits_get(q->p.kind)->groups;
  if (gt->block_only && q->p.group == gt->default_group) q->p.group = 0;
}

void tq_scale_fmt_init(tq_quantizer *q) {
  static const struct {
    int e, m, fn;
  } fmt[TQ_SCALE_FORMAT_COUNT] = {[TQ_SCALE_BF16] = {8, 7, 0},
                                  [TQ_SCALE_FP16] = {5, 10, 0},
                                  [TQ_SCALE_FP8E4M3] = {4, 3, 1}};
  int f = (unsigned)q->p.scale < TQ_SCALE_FORMAT_COUNT ? (int)q->p.scale : 0;
  if (!fmt[f].e) return;
  tq_float_fmt_init(&q->scale_fmt, fmt[f].e, fmt[f].m, fmt[f].fn, 1);
}

void tq_float_fmt_init(tq_float_fmt *f, int exp_bits, int man_bits,
                       int finite_nan, int saturate) {
  tq_quant_params_init(&f->p);
  f->p.kind = TQ_QUANT_FLOAT;
  f->p.exp_bits = exp_bits;
  f->p.man_bits = man_bits;
  f->p.finite_nan = finite_nan;
  f->p.saturate = saturate;
  f->p.subnormals = 1;
  f->p.round = TQ_ROUND_EVEN;
  tq_float_consts_init(&f->p, &f->c);
}

double tq_scale_bits(tq_scale_format f) {
  switch (f) {
    case TQ_SCALE_BF16:
    case TQ_SCALE_FP16: return 16;
    case TQ_SCALE_FP8E4M3:
    case TQ_SCALE_E8M0:
    case TQ_SCALE_PO2: return 8; /* an exponent byte */
    default: return 32;
  }
}

const char *tq_group_intrinsic(const tq_quant_params *p) {
  (void)p;
  return "a scaled or block format shares one scale across a group of "
         "elements of a tensor, and the products and sums inside an "
         "operation are no tensor; use it on weights or outputs";
}

tq_status tq_group_validate(tq_context *ctx, const tq_quant_params *p,
                            const char *src, unsigned allowed) {
  if ((unsigned)p->axis_mode >= TQ_AXIS_MODE_COUNT ||
      (p->axis_mode == TQ_AXIS_CHANNEL && !(allowed & TQ_OPT_CHANNEL)))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "axis mode %d does not apply here%s", (int)p->axis_mode,
                    allowed & TQ_OPT_CHANNEL
                        ? ""
                        : " (axis=channel is for per-channel formats: int "
                          "and scaled floats)");
  if (p->axis_mode == TQ_AXIS_INDEX && (p->axis < -64 || p->axis > 63))
    return tq_range_error(ctx, src, "axis", p->axis, -64, 63);
  if (p->group < 0 || p->group > (1L << 30))
    return tq_range_error(ctx, src, "group", (long)p->group, 1, 1L << 30);
  if ((unsigned)p->scale >= TQ_SCALE_FORMAT_COUNT ||
      (p->scale && !(allowed & TQ_OPT_SCALE)))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "scale format %d does not apply here", (int)p->scale);
  if ((unsigned)p->scale_round >= TQ_SCALE_ROUND_COUNT ||
      (p->scale_round && !(allowed & TQ_OPT_SCALE_ROUND)))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "scale rounding %d does not apply here (scale_round= is "
                    "for MX formats)",
                    (int)p->scale_round);
  if (p->is_static && !(allowed & TQ_OPT_STATIC))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "static does not apply here (int and scaled floats)");
  if (p->is_static && (p->axis_mode || p->group))
    return tq_error(ctx, TQ_ERR_PARSE, src, 0, 0,
                    "static takes one calibrated range per tensor: it "
                    "excludes axis= and group=");
  return TQ_OK;
}

/* ---- sites ----------------------------------------------------------------*/

#define SITE_V1_SIZE \
  (offsetof(tq_quant_site, range_hi) + sizeof(((tq_quant_site *)0)->range_hi))

void tq_quant_site_init(tq_quant_site *s) {
  if (!s) return;
  memset(s, 0, sizeof *s);
  s->struct_size = sizeof *s;
  s->channel_axis = -1;
  s->block_axis = -1;
}

/* "[2, 3, 4]" */
static void shape_text(const tq_quant_site *s, size_t n, char *buf,
                       size_t size) {
  if (s->rank <= 0 || !s->dims) {
    snprintf(buf, size, "[%zu]", n);
    return;
  }
  size_t used = (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < s->rank && used < size; d++)
    used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "",
                             (long long)s->dims[d]);
  if (used < size) snprintf(buf + used, size - used, "]");
}

/* The axis a spec or site names, made non-negative; error if beyond. */
static tq_status axis_in_rank(tq_context *ctx, const tq_quantizer *q,
                              const tq_quant_site *s, size_t n, int axis,
                              const char *whose, int rank, int *out) {
  if (axis >= -rank && axis < rank) {
    *out = axis < 0 ? axis + rank : axis;
    return TQ_OK;
  }
  char shape[160];
  shape_text(s, n, shape, sizeof shape);
  return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                  "quantizer '%s': %s %d is beyond the rank-%d tensor %s "
                  "(axes %d .. %d)",
                  q->spec, whose, axis, rank, shape, -rank, rank - 1);
}

/* The groups of q on the tensor of site (validated, rank >= 1). */
static tq_status resolve(tq_context *ctx, const tq_quantizer *q,
                         const tq_quant_site *s, size_t n, tq_groups *g) {
  const tq_kind_traits *tr = tq_kind_traits_get(q->p.kind);
  const tq_group_traits *gt = tr->groups;
  const tq_quant_params *p = &q->p;
  int64_t one = (int64_t)n;
  int rank = s->rank > 0 && s->dims ? s->rank : 1;
  const int64_t *dims = s->rank > 0 && s->dims ? s->dims : &one;
  int64_t block = p->group ? p->group : gt->block_only ? gt->default_group : 0;
  int axis = -1;
  tq_status st = TQ_OK;
  if (gt->last_axis_only) {
    axis = rank - 1;
  } else if (p->axis_mode == TQ_AXIS_INDEX) {
    st = axis_in_rank(ctx, q, s, n, p->axis, "axis", rank, &axis);
  } else if (p->axis_mode == TQ_AXIS_CHANNEL) {
    st = axis_in_rank(ctx, q, s, n, s->channel_axis,
                      "axis=channel resolves to the site's channel axis", rank,
                      &axis);
  } else if (block > 0) {
    st = axis_in_rank(ctx, q, s, n, s->block_axis,
                      "group= runs along the site's block axis", rank, &axis);
  }
  if (st != TQ_OK) return st;
  memset(g, 0, sizeof *g);
  g->n = n;
  g->axis = axis;
  if (axis < 0) { /* per tensor */
    g->outer = g->dim = 1;
    g->inner = n;
    return TQ_OK;
  }
  g->outer = g->inner = 1;
  for (int d = 0; d < axis; d++) g->outer *= (size_t)dims[d];
  for (int d = axis + 1; d < rank; d++) g->inner *= (size_t)dims[d];
  g->dim = (size_t)dims[axis];
  g->block = (size_t)block;
  if (gt->last_axis_only && g->dim % (size_t)block) {
    char shape[160];
    shape_text(s, n, shape, sizeof shape);
    return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "quantizer '%s': llama.cpp blocks of %lld run along the "
                    "last axis, whose length %zu is not a multiple of %lld "
                    "(tensor %s)",
                    q->spec, (long long)block, g->dim, (long long)block, shape);
  }
  return TQ_OK;
}

/* The caller's site as this library's, its shape checked against n. */
static tq_status import_site(tq_context *ctx, const tq_quantizer *q,
                             const tq_quant_site *site, size_t n,
                             tq_quant_site *s) {
  tq_quant_site_init(s);
  if (!site) return TQ_OK;
  tq_status st =
      tq_import_versioned(ctx, "tq_quantize_tensor", "site->",
                          "tq_quant_site_init() or TQ_QUANT_SITE_INIT", site,
                          site->struct_size, SITE_V1_SIZE, s, sizeof *s);
  s->struct_size = sizeof *s;
  if (st != TQ_OK) return st;
  if (s->rank < 0 || s->rank > 64 || (s->rank > 0 && !s->dims))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantize_tensor: site rank %d (with dims %s) is not "
                    "a shape of 0 to 64 dims",
                    s->rank, s->dims ? "given" : "NULL");
  if (s->rank == 0) return TQ_OK;
  size_t numel = 1;
  for (int d = 0; d < s->rank; d++) {
    if (s->dims[d] < 0)
      return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                      "tq_quantize_tensor: dim %d of the site is %lld", d,
                      (long long)s->dims[d]);
    numel *= (size_t)s->dims[d];
  }
  if (numel != n) {
    char shape[160];
    shape_text(s, n, shape, sizeof shape);
    return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "tq_quantize_tensor: quantizer '%s': the site's shape %s "
                    "has %zu elements, the buffer %zu",
                    q->spec, shape, numel, n);
  }
  return TQ_OK;
}

int tq_quantizer_grouped(const tq_quantizer *q) {
  const tq_group_traits *gt = tq_kind_traits_get(q->p.kind)->groups;
  return gt && (!gt->uses_groups || gt->uses_groups(&q->p));
}

tq_status tq_quantizer_resolve(tq_context *ctx, const tq_quantizer *q,
                               const tq_quant_site *site, int *axis,
                               int64_t *group) {
  if (!q)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantizer_resolve: NULL quantizer");
  int a = -1;
  int64_t b = 1;
  if (tq_quantizer_grouped(q)) {
    /* The shape's element count, so that the site's check passes. */
    size_t n = 1;
    if (site && site->struct_size >= SITE_V1_SIZE && site->rank > 0 &&
        site->dims)
      for (int d = 0; d < site->rank; d++)
        n *= site->dims[d] > 0 ? (size_t)site->dims[d] : 0;
    tq_quant_site s;
    tq_groups g;
    tq_status st = import_site(ctx, q, site, n, &s);
    if (st == TQ_OK) st = resolve(ctx, q, &s, n, &g);
    if (st != TQ_OK) return st;
    a = g.axis;
    b = (int64_t)g.block;
  }
  if (axis) *axis = a;
  if (group) *group = b;
  return TQ_OK;
}

tq_status tq_quantizer_static_scale(const tq_quantizer *q, float lo, float hi,
                                    float *scale) {
  const tq_group_traits *gt = tq_kind_traits_get(q->p.kind)->groups;
  if (!gt || !q->p.is_static || q->p.axis_mode != TQ_AXIS_DEFAULT ||
      q->p.group != 0)
    return TQ_ERR_UNSUPPORTED;
  const tq_group_env env = {.has_range = 1, .range_lo = lo, .range_hi = hi};
  const tq_group_stat st = range_stat(&env);
  tq_group_param pr;
  gt->param(q, &env, &st, &pr);
  *scale = pr.s;
  return TQ_OK;
}

/* ---- the reference --------------------------------------------------------*/

tq_status tq_grouped_ref(tq_context *ctx, const tq_quantizer *q,
                         const float *in, float *out, const tq_groups *g,
                         const tq_group_env *env, tq_rng_pos rng, int threads) {
  (void)threads;
  const tq_group_traits *gt = tq_kind_traits_get(q->p.kind)->groups;
  size_t len = tq_groups_len_max(g), count = tq_groups_count(g);
  size_t *idx = malloc((len ? len : 1) * sizeof *idx);
  float *y = malloc((len ? len : 1) * sizeof *y);
  if (!idx || !y) {
    free(idx);
    free(y);
    return tq_error_nomem(ctx);
  }
  int stochastic = tq_quantizer_stochastic(q);
  for (size_t k = 0; k < count; k++) {
    size_t m = tq_group_members(g, k, idx);
    tq_group_stat st = tq_group_stat_empty();
    if (env->has_range)
      st = range_stat(env);
    else
      for (size_t j = 0; j < m; j++) tq_group_stat_add(&st, in[idx[j]]);
    tq_group_param pr;
    gt->param(q, env, &st, &pr);
    for (size_t j = 0; j < m; j++) {
      double u = stochastic ? tq_stochastic_u(rng.seed, rng.stream,
                                              rng.first + (uint64_t)idx[j])
                            : 0.0;
      y[j] = tq_group_elem(q, &pr, in[idx[j]], u);
    }
    for (size_t j = 0; j < m; j++) out[idx[j]] = y[j];
  }
  free(idx);
  free(y);
  return TQ_OK;
}

/* ---- scalar passes --------------------------------------------------------*/

static void stat_span_scalar(const float *x, size_t n, tq_group_stat *st) {
  for (size_t i = 0; i < n; i++) tq_group_stat_add(st, x[i]);
}

static void stat_cols_scalar(const float *x, size_t n, const tq_col_stats *cs) {
  for (size_t i = 0; i < n; i++) {
    float a = fabsf(x[i]);
    if (!(a <= FLT_MAX)) {
      cs->amax[i] = INFINITY;
      continue;
    }
    if (a > cs->amax[i]) cs->amax[i] = a;
    if (!cs->min) continue;
    if (x[i] < cs->min[i]) cs->min[i] = x[i];
    if (x[i] > cs->max[i]) cs->max[i] = x[i];
  }
}

static void apply_span_scalar(const tq_quantizer *q, const float *x, float *y,
                              size_t n, tq_group_param pr, tq_rng_pos rng) {
  int stochastic = tq_quantizer_stochastic(q);
  for (size_t i = 0; i < n; i++) {
    double u =
        stochastic ? tq_stochastic_u(rng.seed, rng.stream, rng.first + i) : 0;
    y[i] = tq_group_elem(q, &pr, x[i], u);
  }
}

static void apply_cols_scalar(const tq_quantizer *q, const float *x, float *y,
                              size_t n, const float *s, const float *lo,
                              const float *hi, tq_rng_pos rng) {
  int stochastic = tq_quantizer_stochastic(q);
  for (size_t i = 0; i < n; i++) {
    double u =
        stochastic ? tq_stochastic_u(rng.seed, rng.stream, rng.first + i) : 0;
    tq_group_param pr = {s[i], lo[i], hi[i]};
    y[i] = tq_group_elem(q, &pr, x[i], u);
  }
}

const tq_group_ops tq_group_ops_scalar = {stat_span_scalar, stat_cols_scalar,
                                          apply_span_scalar, apply_cols_scalar,
                                          NULL};

/* ---- the fast driver ------------------------------------------------------
 * Work items never depend on the thread count for the elements (each
 * element's output depends on its group's param and its own index only);
 * statistics are merged from per-thread partials, which is exact in any
 * order (maxima, minima, a flag). */

/* Runs shorter than this use the column passes (a whole row at a time). */
#define RUN_MIN 64
/* Longest run of a group made of one run that is quantized in one pass
 * (its statistic then its elements, while in cache). */
#define FUSED_MAX ((size_t)65536)
/* Columns per work item of the column passes. */
#define COLS_CHUNK ((size_t)4096)

typedef struct drive {
  const tq_quantizer *q;
  const tq_group_traits *gt;
  const float *in;
  float *out;
  const tq_groups *g;
  const tq_group_env *env;
  tq_rng_pos rng;
  int threads;
  const tq_group_ops *ops;
} drive;

static tq_rng_pos rng_at(const drive *d, size_t flat) {
  tq_rng_pos r = d->rng;
  r.first += flat;
  return r;
}

static void params_of(const drive *d, tq_group_stat *st, size_t count,
                      tq_group_param *pr) {
  for (size_t k = 0; k < count; k++) {
    if (d->env->has_range) st[k] = range_stat(d->env);
    d->gt->param(d->q, d->env, &st[k], &pr[k]);
  }
}

/* Statistics of `cols` columns over `rows` rows of stride `cols` from x,
 * into st[cols] (merged from per-thread partials). */
static tq_status col_stats(tq_context *ctx, const drive *d, const float *x,
                           size_t rows, size_t cols, tq_group_stat *st) {
  size_t chunks = (cols + COLS_CHUNK - 1) / COLS_CHUNK, items = rows * chunks;
  for (size_t j = 0; j < cols; j++) st[j] = tq_group_stat_empty();
  int fail = 0, mm = d->gt->minmax && d->gt->minmax(&d->q->p);
#pragma omp parallel num_threads(d->threads) if (items > 1)
  {
    float *part = malloc((mm ? 3 : 1) * cols * sizeof *part);
    if (part) {
      tq_col_stats cs = {part, mm ? part + cols : NULL,
                         mm ? part + 2 * cols : NULL};
      for (size_t j = 0; j < cols; j++) {
        cs.amax[j] = 0.0f;
        if (mm) cs.min[j] = INFINITY, cs.max[j] = -INFINITY;
      }
#pragma omp for schedule(static)
      for (size_t it = 0; it < items; it++) {
        size_t r = it / chunks, c0 = it % chunks * COLS_CHUNK;
        size_t len = cols - c0 < COLS_CHUNK ? cols - c0 : COLS_CHUNK;
        tq_col_stats at = {cs.amax + c0, mm ? cs.min + c0 : NULL,
                           mm ? cs.max + c0 : NULL};
        d->ops->stat_cols(x + r * cols + c0, len, &at);
      }
#pragma omp critical(tq_group_merge)
      for (size_t j = 0; j < cols; j++) {
        tq_group_stat one = {isinf(cs.amax[j]) ? 0.0f : cs.amax[j],
                             mm ? cs.min[j] : INFINITY,
                             mm ? cs.max[j] : -INFINITY, isinf(cs.amax[j])};
        tq_group_stat_merge(&st[j], &one);
      }
      free(part);
    } else {
#pragma omp atomic write
      fail = 1;
    }
  }
  return fail ? tq_error_nomem(ctx) : TQ_OK;
}

/* Elements of `rows` rows of `cols` columns (stride cols, starting at flat
 * index base) whose column j has param j. */
static void col_apply(const drive *d, size_t base, size_t rows, size_t cols,
                      const float *s, const float *lo, const float *hi) {
  size_t chunks = (cols + COLS_CHUNK - 1) / COLS_CHUNK, items = rows * chunks;
#pragma omp parallel for schedule(static) num_threads(d->threads) if (items > 1)
  for (size_t it = 0; it < items; it++) {
    size_t r = it / chunks, c0 = it % chunks * COLS_CHUNK;
    size_t len = cols - c0 < COLS_CHUNK ? cols - c0 : COLS_CHUNK;
    size_t at = base + r * cols + c0;
    d->ops->apply_cols(d->q, d->in + at, d->out + at, len, s + c0, lo + c0,
                       hi + c0, rng_at(d, at));
  }
}

/* Per channel (and per tensor): one group per index of the axis. */
static tq_status run_channels(tq_context *ctx, const drive *d) {
  const tq_groups *g = d->g;
  size_t dim = g->dim, inner = g->inner, runs = g->outer * dim;
  tq_group_stat *st = malloc((dim ? dim : 1) * sizeof *st);
  tq_group_param *pr = malloc((dim ? dim : 1) * sizeof *pr);
  tq_status status = TQ_OK;
  if (!st || !pr) goto nomem;
  if (g->outer == 1 && inner >= RUN_MIN && inner <= FUSED_MAX) {
    /* Each group one contiguous run that stays in cache: its statistic
     * and its elements back to back, one pass over memory. */
#pragma omp parallel for schedule(static) num_threads(d->threads) if (dim > 1)
    for (size_t k = 0; k < dim; k++) {
      size_t at = k * inner;
      tq_group_stat one = tq_group_stat_empty();
      if (!d->env->has_range) d->ops->stat_span(d->in + at, inner, &one);
      tq_group_param p1;
      params_of(d, &one, 1, &p1);
      d->ops->apply_span(d->q, d->in + at, d->out + at, inner, p1,
                         rng_at(d, at));
    }
  } else if (inner >= RUN_MIN) {
    /* Runs of inner elements: (run, chunk) items. */
    size_t chunks = tq_chunk_count(inner), items = runs * chunks;
    for (size_t k = 0; k < dim; k++) st[k] = tq_group_stat_empty();
    if (!d->env->has_range) {
      int fail = 0;
#pragma omp parallel num_threads(d->threads) if (items > 1)
      {
        tq_group_stat *part = malloc(dim * sizeof *part);
        if (part) {
          for (size_t k = 0; k < dim; k++) part[k] = tq_group_stat_empty();
#pragma omp for schedule(static)
          for (size_t it = 0; it < items; it++) {
            size_t r = it / chunks, c0 = it % chunks * TQ_CHUNK_ELEMS;
            size_t len =
                inner - c0 < TQ_CHUNK_ELEMS ? inner - c0 : TQ_CHUNK_ELEMS;
            d->ops->stat_span(d->in + r * inner + c0, len, &part[r % dim]);
          }
#pragma omp critical(tq_group_merge)
          for (size_t k = 0; k < dim; k++)
            tq_group_stat_merge(&st[k], &part[k]);
          free(part);
        } else {
#pragma omp atomic write
          fail = 1;
        }
      }
      if (fail) goto nomem;
    }
    params_of(d, st, dim, pr);
#pragma omp parallel for schedule(static) num_threads(d->threads) if (items > 1)
    for (size_t it = 0; it < items; it++) {
      size_t r = it / chunks, c0 = it % chunks * TQ_CHUNK_ELEMS;
      size_t len = inner - c0 < TQ_CHUNK_ELEMS ? inner - c0 : TQ_CHUNK_ELEMS;
      size_t at = r * inner + c0;
      d->ops->apply_span(d->q, d->in + at, d->out + at, len, pr[r % dim],
                         rng_at(d, at));
    }
  } else {
    /* Short runs: rows of dim * inner columns, column j in group j/inner. */
    size_t cols = dim * inner;
    tq_group_stat *cs = malloc((cols ? cols : 1) * sizeof *cs);
    float *sv = malloc((cols ? cols : 1) * 3 * sizeof *sv);
    if (!cs || !sv) {
      free(cs);
      free(sv);
      goto nomem;
    }
    for (size_t k = 0; k < dim; k++) st[k] = tq_group_stat_empty();
    if (!d->env->has_range) {
      status = col_stats(ctx, d, d->in, g->outer, cols, cs);
      for (size_t j = 0; j < cols && status == TQ_OK; j++)
        tq_group_stat_merge(&st[j / inner], &cs[j]);
    }
    if (status == TQ_OK) {
      params_of(d, st, dim, pr);
      for (size_t j = 0; j < cols; j++) {
        sv[j] = pr[j / inner].s;
        sv[cols + j] = pr[j / inner].lo;
        sv[2 * cols + j] = pr[j / inner].hi;
      }
      col_apply(d, 0, g->outer, cols, sv, sv + cols, sv + 2 * cols);
    }
    free(cs);
    free(sv);
  }
  free(st);
  free(pr);
  return status;
nomem:
  free(st);
  free(pr);
  return tq_error_nomem(ctx);
}

/* Blocks along the last axis: contiguous groups, in flat order. */
static void run_row_blocks(const drive *d) {
  const tq_groups *g = d->g;
  size_t G = g->block, nb = blocks_along(g), count = g->outer * nb;
  /* Whole blocks through ops->blocks where it applies. */
  int whole = d->ops->blocks && G % 8 == 0 && G <= 4096 &&
              !tq_quantizer_stochastic(d->q) && !d->env->has_range;
  if (whole && g->dim % G == 0) { /* one run of blocks */
    size_t per = TQ_CHUNK_ELEMS / G ? TQ_CHUNK_ELEMS / G : 1;
    size_t items = (count + per - 1) / per;
#pragma omp parallel for schedule(static) num_threads(d->threads) if (items > 1)
    for (size_t it = 0; it < items; it++) {
      size_t first = it * per, m = count - first < per ? count - first : per;
      d->ops->blocks(d->q, d->env, d->in + first * G, d->out + first * G, m, G);
    }
    return;
  }
#pragma omp parallel for schedule(static) \
    num_threads(d->threads) if (count > 64)
  for (size_t k = 0; k < count; k++) {
    size_t o = k / nb, b = k % nb;
    size_t start = b * G;
    size_t len = g->dim - start < G ? g->dim - start : G;
    size_t at = o * g->dim + start;
    if (whole && len == G) {
      d->ops->blocks(d->q, d->env, d->in + at, d->out + at, 1, G);
      continue;
    }
    tq_group_stat st = tq_group_stat_empty();
    if (d->env->has_range)
      st = range_stat(d->env);
    else
      d->ops->stat_span(d->in + at, len, &st);
    tq_group_param pr;
    d->gt->param(d->q, d->env, &st, &pr);
    d->ops->apply_span(d->q, d->in + at, d->out + at, len, pr, rng_at(d, at));
  }
}

/* Blocks along an inner axis: each region (outer index, block) is rows of
 * the block times inner columns, one group per column. */
static tq_status run_col_blocks(tq_context *ctx, const drive *d) {
  const tq_groups *g = d->g;
  size_t nb = blocks_along(g), inner = g->inner;
  tq_group_stat *st = malloc(inner * sizeof *st);
  tq_group_param *pr = malloc(inner * sizeof *pr);
  float *sv = malloc(inner * 3 * sizeof *sv);
  tq_status status = TQ_OK;
  if (!st || !pr || !sv) status = tq_error_nomem(ctx);
  for (size_t r = 0; r < g->outer * nb && status == TQ_OK; r++) {
    size_t o = r / nb, b = r % nb;
    size_t start = b * g->block;
    size_t rows = g->dim - start < g->block ? g->dim - start : g->block;
    size_t base = (o * g->dim + start) * inner;
    if (d->env->has_range) {
      for (size_t j = 0; j < inner; j++) st[j] = tq_group_stat_empty();
    } else {
      status = col_stats(ctx, d, d->in + base, rows, inner, st);
      if (status != TQ_OK) break;
    }
    params_of(d, st, inner, pr);
    for (size_t j = 0; j < inner; j++) {
      sv[j] = pr[j].s;
      sv[inner + j] = pr[j].lo;
      sv[2 * inner + j] = pr[j].hi;
    }
    col_apply(d, base, rows, inner, sv, sv + inner, sv + 2 * inner);
  }
  free(st);
  free(pr);
  free(sv);
  return status;
}

tq_status tq_grouped_run(tq_context *ctx, const tq_quantizer *q,
                         const float *in, float *out, const tq_groups *g,
                         const tq_group_env *env, tq_rng_pos rng, int threads,
                         const tq_group_ops *ops) {
  drive d = {
      q,  tq_kind_traits_get(q->p.kind)->groups, in, out, g, env, rng, threads,
      ops};
  if (g->n == 0) return TQ_OK;
  if (g->block == 0) return run_channels(ctx, &d);
  if (g->inner == 1) {
    run_row_blocks(&d);
    return TQ_OK;
  }
  return run_col_blocks(ctx, &d);
}

tq_status tq_grouped_scalar(tq_context *ctx, const tq_quantizer *q,
                            const float *in, float *out, const tq_groups *g,
                            const tq_group_env *env, tq_rng_pos rng,
                            int threads) {
  return tq_grouped_run(ctx, q, in, out, g, env, rng, threads,
                        &tq_group_ops_scalar);
}

/* ---- entry points ---------------------------------------------------------*/

/* max |x| over the finite elements, in chunks (exact in any order). */
static void tensor_amax(const float *x, size_t n, int threads,
                        const tq_group_ops *ops, float *amax) {
  size_t chunks = tq_chunk_count(n);
  float best = 0.0f;
#pragma omp parallel for schedule(static) num_threads(threads) if (chunks > 1) \
    reduction(max                                                              \
              : best)
  for (size_t c = 0; c < chunks; c++) {
    size_t first = c * TQ_CHUNK_ELEMS;
    size_t len = n - first < TQ_CHUNK_ELEMS ? n - first : TQ_CHUNK_ELEMS;
    tq_group_stat st = tq_group_stat_empty();
    ops->stat_span(x + first, len, &st);
    if (st.amax > best) best = st.amax;
  }
  *amax = best;
}

tq_status tq_quantize_tensor(tq_context *ctx, const tq_quantizer *q,
                             const float *in, float *out, size_t n,
                             const tq_quant_site *site,
                             const tq_quant_opts *opts) {
  if (!q || (n && (!in || !out)))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantize_tensor: NULL quantizer or buffer");
  if (in != out && n && in < out + n && out < in + n)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantize_tensor: input and output overlap without "
                    "being the same buffer");
  tq_quant_site s;
  tq_status st = import_site(ctx, q, site, n, &s);
  if (st != TQ_OK) return st;
  if (!tq_quantizer_grouped(q))
    return tq_quantize_elements(ctx, q, in, out, n, opts);
  const tq_kind_traits *tr = tq_kind_traits_get(q->p.kind);
  tq_groups g;
  if ((st = resolve(ctx, q, &s, n, &g)) != TQ_OK) return st;
  if (tr->groups->last_axis_only)
    return tq_quantize_elements(ctx, q, in, out, n, opts);
  tq_quant_opts o = {0};
  if (opts) o = *opts;
  int threads = o.threads > 0 ? o.threads : tq_context_threads(ctx);
  tq_isa isa = o.force_reference ? TQ_ISA_SCALAR : tq_isa_for(ctx);
  tq_group_env env = {0};
  if (q->p.is_static) {
    if (!s.has_range)
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "quantizer '%s': `static` takes its scale from a "
                      "calibrated range, and this site has none",
                      q->spec);
    float lo = (float)s.range_lo, hi = (float)s.range_hi;
    if (!(lo <= hi) || isinf(lo) || isinf(hi))
      return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                      "quantizer '%s': the site's range [%g, %g] is not a "
                      "finite float32 range with lo <= hi",
                      q->spec, s.range_lo, s.range_hi);
    env.has_range = 1;
    env.range_lo = lo;
    env.range_hi = hi;
  }
  if (tr->groups->tensor_amax)
    tensor_amax(
        in, n, threads,
        isa >= TQ_ISA_AVX2 ? tq_group_ops_avx2(q) : &tq_group_ops_scalar,
        &env.tensor_amax);
  if (tr->groups->prepare) tr->groups->prepare(q, &env);
  tq_rng_pos rng = {q->p.has_seed ? q->p.seed : o.seed, o.stream, o.offset};
  tq_grouped_kernel_fn kernel =
      o.force_reference ? tq_grouped_ref : tq_kind_grouped(tr, isa);
  return kernel(ctx, q, in, out, &g, &env, rng, threads);
}
