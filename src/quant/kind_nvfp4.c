/* NVIDIA NVFP4: E2M1 elements in blocks of 16 (group= changes it) along
 * an axis, each block with an FP8 E4M3 scale, the tensor with a float32
 * one (docs/design.md §2.10). Its whole entry: spec name, validation,
 * canonical form, bits and the definition of a block's scale; the element
 * grid and drivers are grouped.c's. */
#include <float.h>
#include <math.h>

#include "core/error.h"
#include "quant/grouped.h"
#include "quant/spec_internal.h"

enum { NVFP4_BLOCK = 16 };

static const tq_spec_row rows[] = {
    {{"nvfp4", "nvfp4[,axis=K][,group=G]",
      "NVIDIA NVFP4: E2M1 in blocks of 16 with an E4M3 scale each and a "
      "float32 scale per tensor (4.5 bits)"},
     TQ_QUANT_NVFP4,
     0,
     0,
     TQ_OPT_GROUPS,
     TQ_ROUND_EVEN,
     2,
     1,
     0,
     1,
     0,
     TQ_INT_SYM},
};

static void format(const tq_quant_params *p, char *buf, size_t size) {
  tq_spec_append(buf, size, "nvfp4");
  tq_spec_append_groups(p, NVFP4_BLOCK, buf, size);
}

static tq_status validate(tq_context *ctx, const tq_quant_params *p,
                          const char *src) {
  if (p->exp_bits != 2 || p->man_bits != 1 || !p->finite_only ||
      p->finite_nan || p->round != TQ_ROUND_EVEN || !p->subnormals)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "NVFP4 elements are E2M1 (exp_bits 2, man_bits 1, "
                    "finite) rounded to nearest even");
  return tq_group_validate(ctx, p, src, TQ_OPT_GROUPS);
}

/* The elements' constants, and E4M3 (saturating) for param8. */
static void derive(tq_quantizer *q) {
  tq_group_normalize(q);
  tq_float_consts_init(&q->p, &q->fl);
  tq_float_fmt_init(&q->scale_fmt, 4, 3, 1, 1); /* the vector E4M3 */
}

/* The float32 tensor scale amortised over a size the quantizer does not
 * know counts 0 (docs/design.md §2.10). */
static double bits(const tq_quant_params *p) {
  return tq_group_bits(p, 4, 8, p->group ? p->group : NVFP4_BLOCK);
}

/* t = amax_tensor / (448 * 6) (2^-149 where that underflows),
 * sb = e4m3((amax_block / 6) / t), d = sb * t, all float32. A block whose
 * sb or d is 0 gives zeros: its divisor is FLT_MAX, which sends every
 * element of such a block (|x| <= amax_block < 2^-18 * FLT_MAX) to an
 * E2M1 zero of its sign. */
static void prepare(const tq_quantizer *q, tq_group_env *env) {
  (void)q;
  env->tensor_scale = env->tensor_amax / 2688.0f;
  if (env->tensor_scale == 0.0f) env->tensor_scale = 0x1p-149f;
}

static void param(const tq_quantizer *q, const tq_group_env *env,
                  const tq_group_stat *st, tq_group_param *out) {
  (void)q;
  out->lo = out->hi = 0.0f;
  if (st->nonfinite) {
    out->s = NAN;
    return;
  }
  out->s = FLT_MAX;
  if (st->amax == 0.0f) return;
  float t = env->tensor_scale;
  float sb = tq_e4m3_sat(st->amax / 6.0f / t);
  float d = sb * t;
  if (d != 0.0f) out->s = d;
}

static const tq_group_traits groups = {
    .block_only = 1,
    .default_group = NVFP4_BLOCK,
    .tensor_amax = 1,
    .prepare = prepare,
    .param = param,
    .param8_avx2 = tq_avx2_nvfp4_param8,
};

const tq_kind_traits tq_kind_nvfp4 = {
    .kind = TQ_QUANT_NVFP4,
    .name = "nvfp4",
    .rows = rows,
    .row_count = 1,
    .format = format,
    .validate = validate,
    .derive = derive,
    .bits = bits,
    .groups = &groups,
    TQ_SCALED_KIND_MEMBERS,
};
