/* Floating point: float,E,M and the named formats (fp16, bf16, OCP FP8 and
 * MX FP6/FP4), with round=, sat, fn, finite, subnormals= and seed=
 * (docs/design.md §2, docs/quantizers.md). Its whole entry: spec names,
 * validation, constants, canonical form, bits and the definition; the
 * AVX2 kernel is in kind_float_avx2.c. */
#include <math.h>

#include "core/error.h"
#include "quant/grouped.h"
#include "quant/spec_internal.h"

#define FLOAT_OPTIONS                                               \
  (TQ_OPT_ROUND | TQ_OPT_FLOATFLAGS | TQ_OPT_SEED | TQ_OPT_SCALED | \
   TQ_OPT_GROUPS | TQ_OPT_CHANNEL | TQ_OPT_SCALE | TQ_OPT_STATIC)
#define SCALED_USAGE "[,scaled[,axis=K|channel][,group=G][,scale=F][,static]]"

#define NAMED_ROW(nm, e, m, fn, fin, desc)                                    \
  {                                                                           \
    {nm,                                                                      \
     nm                                                                       \
     "[,round=even|nearest|zero|down|up|stochastic][,sat]"                    \
     "[,subnormals=false][,seed=N]" SCALED_USAGE,                             \
     desc},                                                                   \
        TQ_QUANT_FLOAT, 0, 0, FLOAT_OPTIONS, TQ_ROUND_EVEN, e, m, fn, fin, 0, \
        TQ_INT_SYM                                                            \
  }

static const tq_spec_row rows[] = {
    {{"float",
      "float,E,M[,round=even|nearest|zero|down|up|stochastic][,sat][,fn]"
      "[,finite][,subnormals=false][,seed=N]" SCALED_USAGE,
      "floating point with E exponent and M mantissa bits, IEEE 754 style"},
     TQ_QUANT_FLOAT,
     2,
     2,
     FLOAT_OPTIONS,
     TQ_ROUND_EVEN,
     0,
     0,
     0,
     0,
     0,
     TQ_INT_SYM},
    NAMED_ROW("fp16", 5, 10, 0, 0, "IEEE half precision = float,5,10"),
    NAMED_ROW("bf16", 8, 7, 0, 0, "bfloat16 = float,8,7"),
    NAMED_ROW("tf32", 8, 10, 0, 0, "NVIDIA TensorFloat-32 = float,8,10"),
    NAMED_ROW("fp8e5m2", 5, 2, 0, 0, "OCP FP8 E5M2 = float,5,2"),
    NAMED_ROW("fp8e4m3", 4, 3, 1, 0,
              "OCP FP8 E4M3 = float,4,3,fn (no inf, max 448)"),
    NAMED_ROW("fp6e3m2", 3, 2, 0, 1,
              "OCP MX FP6 E3M2 = float,3,2,finite (saturating, max 28)"),
    NAMED_ROW("fp6e2m3", 2, 3, 0, 1,
              "OCP MX FP6 E2M3 = float,2,3,finite (saturating, max 7.5)"),
    NAMED_ROW("fp4e2m1", 2, 1, 0, 1,
              "OCP MX FP4 E2M1 = float,2,1,finite (saturating, max 6)"),
};
enum { ROW_COUNT = sizeof rows / sizeof rows[0] };

static tq_status parse_args(tq_spec_parser *ps, const tq_spec_token *args,
                            int nargs, tq_quant_params *p) {
  (void)nargs; /* always 2: only "float" takes arguments */
  tq_status st =
      tq_spec_int(ps, &args[0], "exponent bits e", 2, 8, &p->exp_bits);
  if (st != TQ_OK) return st;
  return tq_spec_int(ps, &args[1], "mantissa bits m", 0, 23, &p->man_bits);
}

/* A named format where one matches, else float,E,M with fn / finite. */
static void format(const tq_quant_params *p, char *buf, size_t size) {
  const tq_spec_row *named = NULL;
  for (size_t i = 0; i < ROW_COUNT; i++) {
    const tq_spec_row *s = &rows[i];
    if (s->exp_bits == p->exp_bits && s->man_bits == p->man_bits &&
        s->finite_nan == p->finite_nan && s->finite_only == p->finite_only &&
        s->exp_bits)
      named = s;
  }
  if (named) {
    tq_spec_append(buf, size, "%s", named->info.name);
  } else {
    tq_spec_append(buf, size, "float,%d,%d", p->exp_bits, p->man_bits);
    if (p->finite_nan) tq_spec_append(buf, size, ",fn");
    if (p->finite_only) tq_spec_append(buf, size, ",finite");
  }
  if (p->scaled) {
    tq_spec_append(buf, size, ",scaled");
    tq_spec_append_groups(p, 0, buf, size);
  }
  if (p->round != TQ_ROUND_EVEN)
    tq_spec_append(buf, size, ",round=%s", tq_round_name(p->round));
  if (p->saturate && !p->finite_only && !p->scaled)
    tq_spec_append(buf, size, ",sat");
  if (!p->subnormals) tq_spec_append(buf, size, ",subnormals=false");
  tq_spec_append_scaled_tail(p, buf, size);
  tq_spec_append_seed(p, buf, size);
}

static tq_status validate(tq_context *ctx, const tq_quant_params *p,
                          const char *src) {
  if (p->exp_bits < 2 || p->exp_bits > 8)
    return tq_range_error(ctx, src, "exponent bits e", p->exp_bits, 2, 8);
  if (p->man_bits < 0 || p->man_bits > 23)
    return tq_range_error(ctx, src, "mantissa bits m", p->man_bits, 0, 23);
  if (p->finite_nan && p->finite_only)
    return tq_error(ctx, TQ_ERR_PARSE, src, 0, 0,
                    "options fn and finite exclude each other (fn keeps "
                    "one NaN code, finite has none)");
  if ((p->finite_nan || p->finite_only) && p->exp_bits == 8)
    return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                    "options fn and finite need e <= 7: with e = 8 the "
                    "format reaches 2^128, beyond float32");
  if (p->finite_nan && p->man_bits == 0)
    return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                    "option fn needs at least one mantissa bit");
  if (p->scaled && p->exp_bits > 5)
    return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                    "option scaled needs an exponent field of at most 5 "
                    "bits, got %d: a format with a wider exponent (bf16, "
                    "tf32, float,E,M with E >= 6) spans float32's range on "
                    "its own and has no use for a scale",
                    p->exp_bits);
  if (p->int_mode || p->narrow)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "sym/asym/unsigned and narrow are integer settings");
  if (!p->scaled && (p->axis_mode || p->group || p->scale || p->is_static))
    return tq_error(ctx, TQ_ERR_PARSE, src, 0, 0,
                    "axis=, group=, scale= and static apply to scaled "
                    "floats: add the option scaled");
  tq_status st = tq_group_validate(ctx, p, src, FLOAT_OPTIONS);
  if (st != TQ_OK) return st;
  switch (p->round) {
    case TQ_ROUND_EVEN:
    case TQ_ROUND_NEAREST:
    case TQ_ROUND_ZERO:
    case TQ_ROUND_DOWN:
    case TQ_ROUND_UP:
    case TQ_ROUND_STOCHASTIC: return TQ_OK;
    default:
      return tq_error(ctx, TQ_ERR_PARSE, src, 0, 0,
                      "floating point supports round=even, nearest, zero, "
                      "down, up or stochastic, not %s",
                      tq_round_name(p->round));
  }
}

void tq_float_consts_init(tq_quant_params *p, tq_float_consts *c) {
  if (p->finite_only) p->saturate = 1; /* no code to overflow into */
  int bias = (1 << (p->exp_bits - 1)) - 1;
  c->emin = 1 - bias;
  int emax = bias;
  double top = 2.0 - ldexp(1.0, -p->man_bits); /* all-ones significand */
  if (p->finite_only) {
    emax = bias + 1;
  } else if (p->finite_nan) {
    emax = bias + 1;
    top = 2.0 - ldexp(1.0, 1 - p->man_bits); /* all-ones code is NaN */
  }
  c->max = ldexp(top, emax);
  c->max_f = c->max > 0x1.fffffep127 ? INFINITY : (float)c->max;
  c->min_normal = c->emin < -126 ? 0.0f : (float)ldexp(1.0, c->emin);
  /* Overflow: saturating formats give max; otherwise infinity (NaN for
   * fn, which has none), except that the directed modes never round past
   * max toward zero: zero gives +-max, up gives -max below, down +max
   * above. */
  double inf_or_nan = p->finite_nan ? NAN : INFINITY;
  c->over_pos = c->over_neg = c->inf_out = inf_or_nan;
  if (p->saturate) {
    c->over_pos = c->over_neg = c->inf_out = c->max;
  } else if (p->round == TQ_ROUND_ZERO) {
    c->over_pos = c->over_neg = c->max;
  } else if (p->round == TQ_ROUND_UP) {
    c->over_neg = c->max;
  } else if (p->round == TQ_ROUND_DOWN) {
    c->over_pos = c->max;
  }
}

static void derive(tq_quantizer *q) {
  /* A scaled format saturates: its scale maps amax to max. */
  if (q->p.scaled) q->p.saturate = 1;
  tq_float_consts_init(&q->p, &q->fl);
  tq_scale_fmt_init(q);
  if (q->p.scaled) return; /* the range follows the data */
  q->range_lo = -q->fl.max;
  q->range_hi = q->fl.max;
}

static double bits(const tq_quant_params *p) {
  return tq_group_bits(p, 1 + p->exp_bits + p->man_bits,
                       tq_scale_bits(p->scale), p->group);
}

/* x rounded to the quantum 2^(max(e, emin) - m) of its binade, then the
 * overflow table, the flush of subnormals, the sign of x (zeros too). */
double tq_float_round(const tq_quant_params *p, const tq_float_consts *c,
                      double x, double u) {
  if (isnan(x)) return x;
  int neg = signbit(x) != 0;
  if (isinf(x)) return neg ? -c->inf_out : c->inf_out;
  if (x == 0.0) return x;
  int e2;
  frexp(x, &e2); /* |x| = fr * 2^e2, fr in [0.5, 1) */
  int exponent = e2 - 1;
  if (exponent < c->emin) exponent = c->emin;
  /* quantum >= emin - m >= -149 and |x| < 2^(exponent+1), so the scaled t
   * lies in [2^-925, 2^(m+1)) for the intrinsic accumulator's values (and
   * for every float32): a normal double, exactly scaled. */
  int quantum = exponent - p->man_bits;
  double t = ldexp(x, -quantum);
  double mag = fabs(ldexp(tq_round_signed(p->round, t, u), quantum));
  if (mag > c->max) mag = neg ? c->over_neg : c->over_pos;
  if (!p->subnormals && mag != 0.0 && mag < ldexp(1.0, c->emin)) mag = 0.0;
  return neg ? -mag : mag;
}

static double define(const tq_quantizer *q, double x, double u,
                     double threshold) {
  (void)threshold;
  return tq_float_round(&q->p, &q->fl, x, u);
}

static int uses_groups(const tq_quant_params *p) {
  return p->scaled;
}

/* s = amax / max, stored in the scale format. */
static void scaled_param(const tq_quantizer *q, const tq_group_env *env,
                         const tq_group_stat *st, tq_group_param *out) {
  (void)env;
  out->s = st->nonfinite ? NAN : tq_scale_store(q, st->amax / (float)q->fl.max);
  out->lo = out->hi = 0.0f;
}

static const char *intrinsic_unsupported(const tq_quant_params *p) {
  return p->scaled ? tq_group_intrinsic(p) : NULL;
}

static const tq_group_traits groups = {
    .uses_groups = uses_groups,
    .param = scaled_param,
};

const tq_kind_traits tq_kind_float = {
    .kind = TQ_QUANT_FLOAT,
    .name = "float",
    .rows = rows,
    .row_count = ROW_COUNT,
    .parse_args = parse_args,
    .format = format,
    .validate = validate,
    .derive = derive,
    .bits = bits,
    .flags = TQ_KIND_ROUNDS,
    .define = define,
    .kernels = {[TQ_ISA_SCALAR] = tq_ref_kernel,
                [TQ_ISA_AVX2] = tq_avx2_float,
                [TQ_ISA_AVX512] = tq_avx512_float},
    .grouped = {[TQ_ISA_SCALAR] = tq_grouped_scalar,
                [TQ_ISA_AVX2] = tq_grouped_avx2,
                [TQ_ISA_AVX512] = tq_grouped_avx512},
    .groups = &groups,
    .vec_form = TQ_VEC_FLOAT,
    .intrinsic_unsupported = intrinsic_unsupported,
};
