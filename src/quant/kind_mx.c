/* OCP Microscaling (MX) v1.0: mxfp8e4m3, mxfp8e5m2, mxfp6e3m2, mxfp6e2m3,
 * mxfp4 and mxint8, blocks of 32 sharing an E8M0 power-of-two scale
 * (docs/design.md §2.10), with axis=, group= and scale_round=floor|ceil.
 * Its whole entry: spec names, validation, canonical form, bits and the
 * definition of a block's scale; the element grids and drivers are
 * grouped.c's. */
#include <math.h>

#include "core/error.h"
#include "quant/grouped.h"
#include "quant/spec_internal.h"

#define MX_OPTIONS (TQ_OPT_GROUPS | TQ_OPT_SCALE_ROUND)
#define MX_USAGE "[,axis=K][,group=G][,scale_round=floor|ceil]"

/* e, m, fn, finite: the element format; width 8 with e = 0 is MXINT8. */
#define MX_ROW(nm, e, m, fn, fin, w, desc)                                    \
  {                                                                           \
    {nm, nm MX_USAGE, desc}, TQ_QUANT_MX, 0, 0, MX_OPTIONS, TQ_ROUND_EVEN, e, \
        m, fn, fin, w, TQ_INT_SYM                                             \
  }

static const tq_spec_row rows[] = {
    MX_ROW("mxfp8e4m3", 4, 3, 1, 0, 0,
           "OCP MX FP8 E4M3: blocks of 32 with an E8M0 scale (8.25 bits)"),
    MX_ROW("mxfp8e5m2", 5, 2, 0, 0, 0,
           "OCP MX FP8 E5M2: blocks of 32 with an E8M0 scale (8.25 bits)"),
    MX_ROW("mxfp6e3m2", 3, 2, 0, 1, 0,
           "OCP MX FP6 E3M2: blocks of 32 with an E8M0 scale (6.25 bits)"),
    MX_ROW("mxfp6e2m3", 2, 3, 0, 1, 0,
           "OCP MX FP6 E2M3: blocks of 32 with an E8M0 scale (6.25 bits)"),
    MX_ROW("mxfp4", 2, 1, 0, 1, 0,
           "OCP MX FP4 E2M1: blocks of 32 with an E8M0 scale (4.25 bits)"),
    MX_ROW("mxint8", 0, 0, 0, 0, 8,
           "OCP MX INT8: q/64, q in [-127, 127], blocks of 32 with an E8M0 "
           "scale (8.25 bits)"),
};
enum { ROW_COUNT = sizeof rows / sizeof rows[0], MX_BLOCK = 32 };

static const tq_spec_row *row_of(const tq_quant_params *p) {
  for (size_t i = 0; i < ROW_COUNT; i++) {
    const tq_spec_row *r = &rows[i];
    if (r->exp_bits == p->exp_bits && r->man_bits == p->man_bits &&
        r->finite_nan == p->finite_nan && r->finite_only == p->finite_only &&
        r->width == p->width)
      return r;
  }
  return NULL;
}

static void format(const tq_quant_params *p, char *buf, size_t size) {
  tq_spec_append(buf, size, "%s", row_of(p)->info.name);
  tq_spec_append_groups(p, MX_BLOCK, buf, size);
  if (p->scale_round != TQ_SCALE_ROUND_FLOOR)
    tq_spec_append(buf, size, ",scale_round=%s",
                   tq_scale_round_name(p->scale_round));
}

static tq_status validate(tq_context *ctx, const tq_quant_params *p,
                          const char *src) {
  if (!row_of(p))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "MX elements are fp8e4m3, fp8e5m2, fp6e3m2, fp6e2m3, "
                    "fp4e2m1 (exp_bits, man_bits, fn/finite) or int8 "
                    "(exp_bits 0, width 8)");
  if (p->round != TQ_ROUND_EVEN || p->saturate || !p->subnormals)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "MX elements round to nearest even, saturate and keep "
                    "subnormals: no other rounding or flags");
  return tq_group_validate(ctx, p, src, MX_OPTIONS);
}

static void derive(tq_quantizer *q) {
  tq_group_normalize(q);
  if (!q->p.exp_bits) return;
  tq_quant_params e = q->p; /* the element format saturates */
  e.saturate = 1;
  tq_float_consts_init(&e, &q->fl);
}

static double bits(const tq_quant_params *p) {
  double elem = p->exp_bits ? 1 + p->exp_bits + p->man_bits : p->width;
  return tq_group_bits(p, elem, 8, p->group ? p->group : MX_BLOCK);
}

/* X = 2^k, k = floor(log2 amax) - emax_elem (or the smallest k with
 * amax <= max * 2^k for ceil), within [-127, 127]; an all-zero block
 * takes 2^-127. MXINT8 divides by X / 64 and clamps to +-127. */
static void param(const tq_quantizer *q, const tq_group_env *env,
                  const tq_group_stat *st, tq_group_param *out) {
  (void)env;
  if (st->nonfinite) {
    *out = (tq_group_param){NAN, 0.0f, 0.0f};
    return;
  }
  int is_int = !q->p.exp_bits;
  double max = is_int ? 127.0 / 64.0 : q->fl.max;
  int emax = is_int ? 0 : tq_floor_log2f((float)max);
  int k = -127;
  if (st->amax > 0.0f) {
    k = tq_floor_log2f(st->amax) - emax;
    if (q->p.scale_round == TQ_SCALE_ROUND_CEIL &&
        (double)st->amax > ldexp(max, k))
      k++;
  }
  if (k < -127) k = -127;
  if (k > 127) k = 127;
  out->s = tq_pow2f(is_int ? k - 6 : k);
  out->lo = -127.0f;
  out->hi = 127.0f;
}

static const tq_group_traits groups = {
    .block_only = 1,
    .default_group = MX_BLOCK,
    .param = param,
    .param8_avx2 = tq_avx2_mx_param8,
};

const tq_kind_traits tq_kind_mx = {
    .kind = TQ_QUANT_MX,
    .name = "mx",
    .rows = rows,
    .row_count = ROW_COUNT,
    .format = format,
    .validate = validate,
    .derive = derive,
    .bits = bits,
    .groups = &groups,
    TQ_SCALED_KIND_MEMBERS,
};
