/* Fixed point: ROUND,W,F[,overflow=sat|sat_sym|wrap][,signed=..][,seed=N]
 * (docs/design.md §2, docs/quantizers.md). Its whole entry: spec names,
 * validation, constants, canonical form, bits and the definition; the
 * AVX2 and AVX-512 kernels are in kind_fixed_avx2.c and
 * kind_fixed_avx512.c. */
#include <math.h>

#include "core/error.h"
#include "quant/spec_internal.h"

#define FIXED_ROW(nm, rnd, opts, usage_tail, desc)                             \
  {                                                                            \
    {nm, nm ",W,F[,overflow=sat|sat_sym|wrap][,signed=true|false]" usage_tail, \
     desc},                                                                    \
        TQ_QUANT_FIXED, 2, 2, TQ_OPT_OVERFLOW | TQ_OPT_SIGNED | (opts), rnd,   \
        0, 0, 0, 0, 0, TQ_INT_SYM                                              \
  }

/* One name per rounding mode (the mode is the name). */
static const tq_spec_row rows[] = {
    FIXED_ROW("nearest", TQ_ROUND_NEAREST, 0, "",
              "fixed point, round to nearest, ties away from zero "
              "(TensorQuant; AP_RND_INF)"),
    FIXED_ROW("even", TQ_ROUND_EVEN, 0, "",
              "fixed point, round to nearest, ties to even (AP_RND_CONV)"),
    FIXED_ROW("half_up", TQ_ROUND_HALF_UP, 0, "",
              "fixed point, round to nearest, ties toward +inf (AP_RND)"),
    FIXED_ROW("half_down", TQ_ROUND_HALF_DOWN, 0, "",
              "fixed point, round to nearest, ties toward -inf "
              "(AP_RND_MIN_INF)"),
    FIXED_ROW("half_zero", TQ_ROUND_HALF_ZERO, 0, "",
              "fixed point, round to nearest, ties toward zero "
              "(AP_RND_ZERO)"),
    FIXED_ROW("down", TQ_ROUND_DOWN, 0, "",
              "fixed point, round toward -inf (TensorQuant; AP_TRN)"),
    FIXED_ROW("up", TQ_ROUND_UP, 0, "", "fixed point, round toward +inf"),
    FIXED_ROW("zero", TQ_ROUND_ZERO, 0, "",
              "fixed point, round toward zero (TensorQuant; AP_TRN_ZERO)"),
    FIXED_ROW("away", TQ_ROUND_AWAY, 0, "",
              "fixed point, round away from zero"),
    FIXED_ROW("stochastic", TQ_ROUND_STOCHASTIC, TQ_OPT_SEED, "[,seed=N]",
              "fixed point, stochastic rounding floor(x*2^F + u), u uniform "
              "(TensorQuant)"),
};

static tq_status parse_args(tq_spec_parser *ps, const tq_spec_token *args,
                            int nargs, tq_quant_params *p) {
  (void)nargs; /* always 2 */
  tq_status st = tq_spec_int(ps, &args[0], "word width w", 1, 32, &p->width);
  if (st != TQ_OK) return st;
  return tq_spec_int(ps, &args[1], "fractional bits f", -64, 64, &p->frac);
}

static void format(const tq_quant_params *p, char *buf, size_t size) {
  tq_spec_append(buf, size, "%s,%d,%d", tq_round_name(p->round), p->width,
                 p->frac);
  if (p->overflow != TQ_OVERFLOW_SAT)
    tq_spec_append(buf, size, ",overflow=%s", tq_overflow_name(p->overflow));
  if (!p->is_signed) tq_spec_append(buf, size, ",signed=false");
  tq_spec_append_seed(p, buf, size);
}

static tq_status validate(tq_context *ctx, const tq_quant_params *p,
                          const char *src) {
  if (p->width < 1 || p->width > 32)
    return tq_range_error(ctx, src, "word width w", p->width, 1, 32);
  if (p->frac < -64 || p->frac > 64)
    return tq_range_error(ctx, src, "fractional bits f", p->frac, -64, 64);
  if ((unsigned)p->overflow >= TQ_OVERFLOW_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "unknown overflow mode %d", (int)p->overflow);
  if (p->overflow == TQ_OVERFLOW_SAT_SYM && !p->is_signed)
    return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                    "overflow=sat_sym needs a signed format (an unsigned "
                    "one has no negative range to make symmetric)");
  if (p->width == 1 && p->is_signed && p->overflow == TQ_OVERFLOW_SAT_SYM)
    return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                    "overflow=sat_sym with w=1 leaves only the value 0");
  return TQ_OK;
}

static void derive(tq_quantizer *q) {
  const tq_quant_params *p = &q->p;
  tq_fixed_consts *c = &q->fx;
  double half = ldexp(1.0, p->width - 1);
  c->qmax = p->is_signed ? half - 1 : 2 * half - 1;
  double qmin = p->is_signed ? -half : 0.0;
  c->qlow = p->overflow == TQ_OVERFLOW_SAT_SYM ? -c->qmax : qmin;
  c->scale = (float)ldexp(1.0, p->frac);
  c->inv_scale = (float)ldexp(1.0, -p->frac);
  c->hi_lim = (float)(c->qmax + 1);
  if (p->overflow == TQ_OVERFLOW_SAT_SYM) {
    c->lo_lim = (float)-half; /* r < -qmax  <=>  r <= -2^(w-1) */
    c->lo_inclusive = 1;
  } else {
    c->lo_lim = (float)qmin;
    c->lo_inclusive = 0;
  }
  c->hi_out = (float)ldexp(c->qmax, -p->frac);
  c->lo_out = (float)ldexp(c->qlow, -p->frac);
  if (c->lo_out == 0.0f) c->lo_out = 0.0f;
  q->range_lo = ldexp(c->qlow, -p->frac);
  q->range_hi = ldexp(c->qmax, -p->frac);
  if (p->overflow == TQ_OVERFLOW_WRAP) q->range_lo = ldexp(qmin, -p->frac);
}

static double bits(const tq_quant_params *p) {
  return p->width;
}

/* The overflow mode applied to the rounded integer r: wrap modulo 2^w
 * (two's complement when signed) or clamp to [qlow, qmax]. */
static double overflow(const tq_quantizer *q, double r) {
  const tq_quant_params *p = &q->p;
  if (p->overflow == TQ_OVERFLOW_WRAP) {
    double m = ldexp(1.0, p->width);
    r = fmod(r, m); /* exact, sign of r */
    if (r < 0) r += m;
    if (p->is_signed && r >= m / 2) r -= m;
    return r;
  }
  if (r > q->fx.qmax) r = q->fx.qmax;
  if (r < q->fx.qlow) r = q->fx.qlow;
  return r;
}

/* Scaling by 2^k is exact as long as the result stays a normal double.
 * Nonzero values whose scaled magnitude would fall below 2^-1000 get the
 * stand-in 2^-1000: below 2^-24 every rounding decision (fr >= 0.5,
 * fr > 0, and the stochastic comparisons with u, a multiple of 2^-24)
 * depends only on the sign and on fr being nonzero. (Float32 inputs never
 * come near: |x| 2^f >= 2^-213.) */
#define TINY 0x1p-1000

/* t = x 2^f, r = round(t), the overflow mode on r, r 2^-f. The result is
 * exact (a 32-bit r fits a double); float32 kernels round it to float32,
 * which for w > 24 may be a rounding (docs/quantizers.md). */
static double define(const tq_quantizer *q, double x, double u,
                     double threshold) {
  (void)threshold;
  const tq_quant_params *p = &q->p;
  if (isnan(x)) return x;
  double r;
  double t = ldexp(x, p->frac);
  if (isinf(t)) {
    /* An infinite x saturates in every mode (docs/design.md §2). A finite
     * x whose scaled value leaves double's range is an integer multiple of
     * 2^970, hence of 2^w: wrap gives 0, saturation its bound. */
    if (p->overflow == TQ_OVERFLOW_WRAP && !isinf(x))
      r = 0.0;
    else
      r = t > 0 ? q->fx.qmax : q->fx.qlow;
  } else {
    if (x != 0.0 && fabs(t) < TINY) t = copysign(TINY, x);
    r = overflow(q, tq_round_signed(p->round, t, u));
  }
  double out = ldexp(r, -p->frac);
  return out == 0.0 ? 0.0 : out; /* fixed point has no -0 */
}

const tq_kind_traits tq_kind_fixed = {
    .kind = TQ_QUANT_FIXED,
    .name = "fixed",
    .rows = rows,
    .row_count = sizeof rows / sizeof rows[0],
    .parse_args = parse_args,
    .format = format,
    .validate = validate,
    .derive = derive,
    .bits = bits,
    .flags = TQ_KIND_ROUNDS,
    .define = define,
    .kernels = {[TQ_ISA_SCALAR] = tq_ref_kernel,
                [TQ_ISA_AVX2] = tq_avx2_fixed,
                [TQ_ISA_AVX512] = tq_avx512_fixed},
    .vec_form = TQ_VEC_FIXED,
};
