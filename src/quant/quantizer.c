/* Quantizer objects: validation, derived constants, ranges. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quant_internal.h"

static tq_status range_error(tq_context *ctx, const char *source,
                             const char *what, long value, long lo, long hi) {
  return tq_error(ctx, TQ_ERR_RANGE, source, 0, 0,
                  "%s must be between %ld and %ld, got %ld", what, lo, hi,
                  value);
}

static tq_status validate(tq_context *ctx, const tq_quant_params *p,
                          const char *src) {
  if ((unsigned)p->kind >= TQ_QUANT_KIND_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "unknown quantizer kind %d", (int)p->kind);
  if ((unsigned)p->round >= TQ_ROUND_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "unknown rounding mode %d", (int)p->round);
  if ((unsigned)p->ste >= TQ_STE_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "unknown straight-through estimator %d", (int)p->ste);
  if (p->has_seed && p->round != TQ_ROUND_STOCHASTIC)
    return tq_error(ctx, TQ_ERR_PARSE, src, 0, 0,
                    "seed= only applies to stochastic rounding");
  switch (p->kind) {
    case TQ_QUANT_FIXED:
      if (p->width < 1 || p->width > 32)
        return range_error(ctx, src, "word width w", p->width, 1, 32);
      if (p->frac < -64 || p->frac > 64)
        return range_error(ctx, src, "fractional bits f", p->frac, -64, 64);
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
      break;
    case TQ_QUANT_FLOAT:
      if (p->exp_bits < 2 || p->exp_bits > 8)
        return range_error(ctx, src, "exponent bits e", p->exp_bits, 2, 8);
      if (p->man_bits < 0 || p->man_bits > 23)
        return range_error(ctx, src, "mantissa bits m", p->man_bits, 0, 23);
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
      switch (p->round) {
        case TQ_ROUND_EVEN:
        case TQ_ROUND_NEAREST:
        case TQ_ROUND_ZERO:
        case TQ_ROUND_DOWN:
        case TQ_ROUND_UP:
        case TQ_ROUND_STOCHASTIC: break;
        default:
          return tq_error(ctx, TQ_ERR_PARSE, src, 0, 0,
                          "floating point supports round=even, nearest, "
                          "zero, down, up or stochastic, not %s",
                          tq_round_name(p->round));
      }
      break;
    case TQ_QUANT_SPARSE:
      if (!(p->threshold >= 0) || isinf(p->threshold))
        return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                        "sparse threshold T must be finite and >= 0, got %g",
                        p->threshold);
      break;
    case TQ_QUANT_BINARY:
    case TQ_QUANT_TERNARY:
      if (!(p->magnitude > 0) || !isfinite((float)p->magnitude))
        return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                        "magnitude m must be a positive finite float32, got "
                        "%g",
                        p->magnitude);
      if (p->kind == TQ_QUANT_TERNARY && p->has_threshold &&
          (!(p->threshold >= 0) || isinf(p->threshold)))
        return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                        "ternary threshold T must be finite and >= 0, got %g",
                        p->threshold);
      break;
    default: break;
  }
  return TQ_OK;
}

static void derive_fixed(tq_quantizer *q) {
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

static void derive_float(tq_quantizer *q) {
  const tq_quant_params *p = &q->p;
  tq_float_consts *c = &q->fl;
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
  q->range_lo = -c->max;
  q->range_hi = c->max;
}

tq_status tq_quantizer_init(tq_context *ctx, const tq_quant_params *params,
                            const char *source, tq_quantizer *q) {
  tq_status st = validate(ctx, params, source);
  if (st != TQ_OK) return st;
  memset(q, 0, sizeof *q);
  q->p = *params;
  if (q->p.kind == TQ_QUANT_FLOAT && q->p.finite_only) q->p.saturate = 1;
  q->range_lo = -INFINITY;
  q->range_hi = INFINITY;
  switch (q->p.kind) {
    case TQ_QUANT_FIXED: derive_fixed(q); break;
    case TQ_QUANT_FLOAT: derive_float(q); break;
    case TQ_QUANT_BINARY:
    case TQ_QUANT_TERNARY:
      q->range_lo = -(double)(float)q->p.magnitude;
      q->range_hi = (double)(float)q->p.magnitude;
      break;
    default: break;
  }
  tq_spec_format(&q->p, q->spec, sizeof q->spec);
  return TQ_OK;
}

tq_status tq_quantizer_create(tq_context *ctx, const tq_quant_params *params,
                              tq_quantizer **out) {
  if (!params || !out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantizer_create: NULL argument");
  *out = NULL;
  tq_quantizer *q = malloc(sizeof *q);
  if (!q) return tq_error_nomem(ctx);
  tq_status st = tq_quantizer_init(ctx, params, "quantizer parameters", q);
  if (st != TQ_OK) {
    free(q);
    return st;
  }
  *out = q;
  return TQ_OK;
}

void tq_quantizer_destroy(tq_quantizer *q) {
  free(q);
}

const char *tq_quantizer_spec(const tq_quantizer *q) {
  return q ? q->spec : "";
}

const tq_quant_params *tq_quantizer_params(const tq_quantizer *q) {
  return q ? &q->p : NULL;
}

void tq_quantizer_range(const tq_quantizer *q, double *lo, double *hi) {
  if (lo) *lo = q ? q->range_lo : -INFINITY;
  if (hi) *hi = q ? q->range_hi : INFINITY;
}
