/* Scaled integers: int,B[,sym|asym|unsigned][,narrow][,axis=K|channel]
 * [,group=G][,round=..][,scale=..][,static][,seed=N] (docs/design.md
 * §2.10). Its whole entry: spec name, validation, canonical form, bits,
 * and the definition of a group's scale and clamp; the element grid and
 * the drivers are grouped.c's, the vector passes grouped_avx2.c's. */
#include <math.h>

#include "core/error.h"
#include "quant/grouped.h"
#include "quant/spec_internal.h"

static const tq_spec_row rows[] = {
    {{"int",
      "int,B[,sym|asym|unsigned][,narrow][,axis=K|channel][,group=G]"
      "[,round=MODE][,scale=fp32|bf16|fp16|fp8e4m3|e8m0|po2][,static]"
      "[,seed=N]",
      "scaled integer of B bits (2..16): one scale per tensor, channel "
      "(axis=) or block (group=), s = amax/qmax (ONNX QuantizeLinear)"},
     TQ_QUANT_INT,
     1,
     1,
     TQ_OPT_INTMODE | TQ_OPT_GROUPS | TQ_OPT_CHANNEL | TQ_OPT_ROUND |
         TQ_OPT_SEED | TQ_OPT_SCALE | TQ_OPT_STATIC,
     TQ_ROUND_EVEN,
     0,
     0,
     0,
     0,
     0,
     TQ_INT_SYM},
};

static tq_status parse_args(tq_spec_parser *ps, const tq_spec_token *args,
                            int nargs, tq_quant_params *p) {
  (void)nargs; /* always 1 */
  return tq_spec_int(ps, &args[0], "integer bits B", 2, 16, &p->width);
}

static void format(const tq_quant_params *p, char *buf, size_t size) {
  tq_spec_append(buf, size, "int,%d", p->width);
  if (p->int_mode != TQ_INT_SYM)
    tq_spec_append(buf, size, ",%s", tq_int_mode_name(p->int_mode));
  if (p->narrow) tq_spec_append(buf, size, ",narrow");
  tq_spec_append_groups(p, 0, buf, size);
  if (p->round != TQ_ROUND_EVEN)
    tq_spec_append(buf, size, ",round=%s", tq_round_name(p->round));
  tq_spec_append_scaled_tail(p, buf, size);
  tq_spec_append_seed(p, buf, size);
}

static tq_status validate(tq_context *ctx, const tq_quant_params *p,
                          const char *src) {
  if (p->width < 2 || p->width > 16)
    return tq_range_error(ctx, src, "integer bits B", p->width, 2, 16);
  if ((unsigned)p->int_mode >= TQ_INT_MODE_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "unknown integer mode %d", (int)p->int_mode);
  if (p->narrow && p->int_mode != TQ_INT_SYM)
    return tq_error(ctx, TQ_ERR_PARSE, src, 0, 0,
                    "option narrow (qmin = -qmax) applies to sym only, not "
                    "%s",
                    tq_int_mode_name(p->int_mode));
  return tq_group_validate(ctx, p, src, rows[0].options);
}

static void derive(tq_quantizer *q) {
  tq_scale_fmt_init(q);
}

/* Zero-point bits ride along with each scale of an asymmetric grid. */
static double bits(const tq_quant_params *p) {
  double per_group = tq_scale_bits(p->scale);
  if (p->int_mode == TQ_INT_ASYM) per_group += p->width;
  return tq_group_bits(p, p->width, per_group, p->group);
}

/* s from amax (sym, unsigned) or from [min(0, lo), max(0, hi)] (asym),
 * all in float32, stored in the scale format; the zero point rounds half
 * to even whatever round= says (ONNX DynamicQuantizeLinear). */
static void param(const tq_quantizer *q, const tq_group_env *env,
                  const tq_group_stat *st, tq_group_param *out) {
  (void)env;
  const tq_quant_params *p = &q->p;
  if (st->nonfinite) {
    *out = (tq_group_param){NAN, 0.0f, 0.0f};
    return;
  }
  float half = tq_pow2f(p->width - 1), full = 2.0f * half - 1.0f;
  switch (p->int_mode) {
    case TQ_INT_SYM: {
      float qmax = half - 1.0f;
      out->s = tq_scale_store(q, st->amax / qmax);
      out->lo = p->narrow ? -qmax : -half;
      out->hi = qmax;
      return;
    }
    case TQ_INT_UNSIGNED:
      out->s = tq_scale_store(q, st->amax / full);
      out->lo = 0.0f;
      out->hi = full;
      return;
    default: {
      float lo = st->min < 0.0f ? st->min : 0.0f;
      float hi = st->max > 0.0f ? st->max : 0.0f;
      float s = tq_scale_store(q, (hi - lo) / full);
      double zp = tq_round_signed(TQ_ROUND_EVEN, -lo / s, 0.0);
      if (!(zp <= full)) zp = full; /* +inf too */
      if (zp < 0.0) zp = 0.0;
      out->s = s;
      out->lo = (float)-zp;
      out->hi = (float)(full - zp);
      return;
    }
  }
}

static int reads_minmax(const tq_quant_params *p) {
  return p->int_mode == TQ_INT_ASYM;
}

static const tq_group_traits groups = {
    .minmax = reads_minmax,
    .param = param,
};

const tq_kind_traits tq_kind_int = {
    .kind = TQ_QUANT_INT,
    .name = "int",
    .rows = rows,
    .row_count = sizeof rows / sizeof rows[0],
    .parse_args = parse_args,
    .format = format,
    .validate = validate,
    .derive = derive,
    .bits = bits,
    .flags = TQ_KIND_ROUNDS,
    .groups = &groups,
    TQ_SCALED_KIND_MEMBERS,
};
