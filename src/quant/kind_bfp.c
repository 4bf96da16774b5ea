/* Block floating point bfp,M[,axis=K][,group=G]: M-bit signed integers
 * (sign included) in blocks of 16 sharing an exponent (docs/design.md
 * §2.10). Its whole entry: spec name, validation, canonical form, bits and
 * the definition of a block's step; the element grid and drivers are
 * grouped.c's. */
#include <math.h>

#include "core/error.h"
#include "quant/grouped.h"
#include "quant/spec_internal.h"

enum { BFP_BLOCK = 16 };

static const tq_spec_row rows[] = {
    {{"bfp", "bfp,M[,axis=K][,group=G]",
      "block floating point: M-bit integers (2..16, sign included) in "
      "blocks of 16 sharing an 8-bit exponent"},
     TQ_QUANT_BFP,
     1,
     1,
     TQ_OPT_GROUPS,
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
  return tq_spec_int(ps, &args[0], "element bits M", 2, 16, &p->width);
}

static void format(const tq_quant_params *p, char *buf, size_t size) {
  tq_spec_append(buf, size, "bfp,%d", p->width);
  tq_spec_append_groups(p, BFP_BLOCK, buf, size);
}

static tq_status validate(tq_context *ctx, const tq_quant_params *p,
                          const char *src) {
  if (p->width < 2 || p->width > 16)
    return tq_range_error(ctx, src, "element bits M", p->width, 2, 16);
  if (p->round != TQ_ROUND_EVEN)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "block floating point rounds to nearest even");
  return tq_group_validate(ctx, p, src, TQ_OPT_GROUPS);
}

static void derive(tq_quantizer *q) {
  tq_group_normalize(q);
}

static double bits(const tq_quant_params *p) {
  return tq_group_bits(p, p->width, 8, p->group ? p->group : BFP_BLOCK);
}

/* step 2^max(floor(log2 amax) - M + 2, -149), q within +-(2^(M-1) - 1);
 * an all-zero block takes the smallest step. */
static void param(const tq_quantizer *q, const tq_group_env *env,
                  const tq_group_stat *st, tq_group_param *out) {
  (void)env;
  float qmax = tq_pow2f(q->p.width - 1) - 1.0f;
  int k = -149;
  if (st->amax > 0.0f) k = tq_floor_log2f(st->amax) - q->p.width + 2;
  out->s = st->nonfinite ? NAN : tq_pow2f(k < -149 ? -149 : k);
  out->lo = -qmax;
  out->hi = qmax;
}

static const tq_group_traits groups = {
    .block_only = 1,
    .default_group = BFP_BLOCK,
    .param = param,
    .param8_avx2 = tq_avx2_bfp_param8,
};

const tq_kind_traits tq_kind_bfp = {
    .kind = TQ_QUANT_BFP,
    .name = "bfp",
    .rows = rows,
    .row_count = 1,
    .parse_args = parse_args,
    .format = format,
    .validate = validate,
    .derive = derive,
    .bits = bits,
    .groups = &groups,
    TQ_SCALED_KIND_MEMBERS,
};
