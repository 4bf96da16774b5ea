/* Internal: scaled and block formats (docs/design.md §2.10). A tensor is
 * cut into groups, each group gets one scale from a statistic of its
 * elements, and every element is quantized as y = E(x / s) * s on the
 * kind's element grid E.
 *
 * A kind says what its groups are and how a statistic becomes a scale
 * (tq_group_traits, in its kind_*.c: that is its definition); grouped.c
 * resolves the groups at a site, computes the tensor-wide inputs and runs
 * the reference (every group gathered, in order) or the fast driver
 * (statistics and element passes over spans and columns, grouped_avx2.c
 * for the vector ones). Statistics are maxima and minima, exact in any
 * order, so the bits never depend on how work is split over threads. */
#ifndef TQ_QUANT_GROUPED_H
#define TQ_QUANT_GROUPED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant/quant_internal.h"

/* A tensor of n elements viewed as [outer, dim, inner] around the axis
 * the groups run along. block 0: one group per index of the axis (per
 * channel; per tensor is the view [1, 1, n]); block > 0: groups of block
 * consecutive indices of the axis (the last one shorter) at every index of
 * the other axes, in row-major order of (outer, block index, inner). */
typedef struct tq_groups {
  size_t n;
  size_t outer, dim, inner;
  size_t block;
  int axis; /* the resolved axis, -1 per tensor */
} tq_groups;

/* Number of groups, and the longest. */
size_t tq_groups_count(const tq_groups *g);
size_t tq_groups_len_max(const tq_groups *g);

/* The flat indices of group k's elements, in increasing order, into idx
 * (room for tq_groups_len_max); returns their number. */
size_t tq_group_members(const tq_groups *g, size_t k, size_t *idx);

/* Inputs of a call that are not statistics of one group. */
typedef struct tq_group_env {
  float tensor_amax;  /* max |x| over the tensor's finite elements (NVFP4) */
  float tensor_scale; /* what the kind's prepare() derives from it */
  int has_range;      /* `static`: the site's range, as float32 */
  float range_lo, range_hi;
} tq_group_env;

/* A group's statistic: over its finite elements, and whether it has any
 * NaN or infinity. */
typedef struct tq_group_stat {
  float amax, min, max;
  int nonfinite;
} tq_group_stat;

/* The statistic of no element. */
static inline tq_group_stat tq_group_stat_empty(void) {
  tq_group_stat st = {0.0f, __builtin_inff(), -__builtin_inff(), 0};
  return st;
}
void tq_group_stat_add(tq_group_stat *st, float x);
void tq_group_stat_merge(tq_group_stat *into, const tq_group_stat *st);

/* What a group's elements are quantized with: the divisor s and, for
 * integer grids, the clamp [lo, hi] of the rounded x / s. s NaN makes the
 * group's outputs NaN. */
typedef struct tq_group_param {
  float s, lo, hi;
} tq_group_param;

/* The element grid: float elements where p.exp_bits is set (scaled
 * floats, MX floats, NVFP4): y = float(p)(x / s) * s, saturating (q->fl);
 * else integers (int, bfp, MXINT8): r = round(x / s) by p.round, clamped
 * to [lo, hi], y = (r + 0) * s (an integer grid has no -0). */
static inline int tq_elem_is_float(const tq_quant_params *p) {
  return p->exp_bits != 0;
}

/* Everything that makes a kind a scaled or block format. */
typedef struct tq_group_traits {
  /* NULL: always grouped; else whether these params are (float: scaled). */
  int (*uses_groups)(const tq_quant_params *p);
  /* Block formats: their groups are always blocks (group= or the default
   * below) and run along the site's block axis unless axis= is given. */
  int block_only;
  int64_t default_group;
  /* llama.cpp: blocks of default_group along the last axis, always;
   * quantized by the kind's element kernels over whole blocks. */
  int last_axis_only;
  /* NULL, or whether param() reads the statistic's min and max for these
   * params (else the fast passes skip them). */
  int (*minmax)(const tq_quant_params *p);
  /* param() reads env->tensor_amax. */
  int tensor_amax;
  /* NULL, or per-call constants into env from its tensor-wide inputs. */
  void (*prepare)(const tq_quantizer *q, tq_group_env *env);
  /* The scale of one group from its statistic (the kind's definition;
   * for `static` the statistic is made from the site's range). */
  void (*param)(const tq_quantizer *q, const tq_group_env *env,
                const tq_group_stat *st, tq_group_param *out);
  /* NULL, or param()'s s for eight blocks at once from their amax and bad
   * (> 0 where non-finite) (kind_*_avx2.c; whole blocks of kinds whose lo
   * and hi are the same for every group and that read neither min nor
   * max). Only called where the CPU has AVX2. */
  void (*param8_avx2)(const tq_quantizer *q, const tq_group_env *env,
                      const float *amax, const float *bad, float *s);
} tq_group_traits;

/* The members every scaled kind's entry shares: the fast driver at each
 * instruction set, the generic intrinsic form, and its refusal inside
 * sums. */
#define TQ_SCALED_KIND_MEMBERS                      \
  .grouped = {[TQ_ISA_SCALAR] = tq_grouped_scalar,  \
              [TQ_ISA_AVX2] = tq_grouped_avx2,      \
              [TQ_ISA_AVX512] = tq_grouped_avx512}, \
  .vec_form = TQ_VEC_GENERIC, .intrinsic_unsupported = tq_group_intrinsic

/* ---- shared definitions (grouped.c) --------------------------------------*/

/* One element on the kind's grid: the definition the kernels follow. */
float tq_group_elem(const tq_quantizer *q, const tq_group_param *pr, float x,
                    double u);

/* A computed scale s >= 0 (or +inf) stored in q's scale format
 * (p.scale): rounded there, 0 replaced by the format's smallest positive
 * value, overflow by its largest finite one. */
float tq_scale_store(const tq_quantizer *q, float s);

/* 2^k as a float for -149 <= k <= 127. */
float tq_pow2f(int k);

/* floor(log2 x) for finite x > 0 (float32 subnormals included). */
int tq_floor_log2f(float x);

/* A finite float32 in IEEE half, nearest even, overflow to +-inf:
 * tq_float_round of fp16 on the bit pattern (llama.cpp's scales, per
 * block; test_formats compares the two). */
float tq_fp16_round(float v);

/* A finite v >= 0 in FP8 E4M3 (fn), nearest even, saturating at 448:
 * tq_float_round of that format, on the bit pattern (NVFP4's block
 * scales; test_formats compares the two). */
float tq_e4m3_sat(float v);

/* The largest finite element of q's float element format, as float32. */
float tq_elem_max(const tq_quantizer *q);

/* group= the kind's default block length reads as 0 (the default), so
 * that both spellings are one quantizer (derive()). */
void tq_group_normalize(tq_quantizer *q);

/* Sets q->scale_fmt for p.scale = bf16, fp16 or fp8e4m3 (derive()). */
void tq_scale_fmt_init(tq_quantizer *q);

/* A float(e, m) format with nearest-even rounding, subnormals, and
 * saturation where asked (else IEEE overflow to inf). */
void tq_float_fmt_init(tq_float_fmt *f, int exp_bits, int man_bits,
                       int finite_nan, int saturate);

/* Bits a stored scale takes. */
double tq_scale_bits(tq_scale_format f);

/* Why a scaled kind cannot apply inside a sum (intrinsic_unsupported). */
const char *tq_group_intrinsic(const tq_quant_params *p);

/* Checks of the group fields (axis, group, scale, scale_round, static)
 * against the options `allowed` (TQ_OPT_*) of the kind. */
tq_status tq_group_validate(tq_context *ctx, const tq_quant_params *p,
                            const char *src, unsigned allowed);

/* Bits per element of a grouped format: element bits, plus scale_bits per
 * group of block elements (0 for per-tensor and per-channel scales). */
double tq_group_bits(const tq_quant_params *p, double elem_bits,
                     double scale_bits, int64_t block);

/* ---- llama.cpp's blocks (kind_ggml.c, kind_ggml_avx2.c) -------------------*/

/* What a block's statistic gives: 1/d (0 for d = 0), fp16(d), fp16(min). */
typedef struct tq_ggml_scale {
  float id, dh, mh;
} tq_ggml_scale;

/* From the block's amax (q8_0), signed largest element (q4_0, q5_0) or
 * minimum a and maximum b (q4_1, q5_1). */
tq_ggml_scale tq_ggml_scale_of(const tq_quantizer *q, float a, float b);

/* The AVX2 kernel: n a multiple of 32. */
void tq_avx2_ggml(const tq_quantizer *q, const float *in, float *out, size_t n,
                  tq_rng_pos rng, double threshold);

/* The param8_avx2 of MX, bfp and NVFP4. */
void tq_avx2_mx_param8(const tq_quantizer *q, const tq_group_env *env,
                       const float *amax, const float *bad, float *s);
void tq_avx2_bfp_param8(const tq_quantizer *q, const tq_group_env *env,
                        const float *amax, const float *bad, float *s);
void tq_avx2_nvfp4_param8(const tq_quantizer *q, const tq_group_env *env,
                          const float *amax, const float *bad, float *s);

/* 1/s for a normal power of two s <= 2^126, on the bit pattern. */
static inline float tq_pow2_reciprocal(float s) {
  uint32_t b;
  memcpy(&b, &s, sizeof b);
  b = (254u - (b >> 23)) << 23;
  memcpy(&s, &b, sizeof s);
  return s;
}

/* A normal power of two s <= 2^126 has an exact normal reciprocal, and
 * x * (1/s) then is the same real number as x / s, rounded once: the same
 * bits, without a division (MX, bfp). */
static inline int tq_exact_reciprocal(float s) {
  uint32_t b;
  memcpy(&b, &s, sizeof b);
  return (b & 0x807fffffu) == 0 && (b >> 23) - 1u < 253u;
}

/* ---- drivers --------------------------------------------------------------*/

/* The reference of every scaled kind: every group gathered in order, its
 * statistic, param() and tq_group_elem on each element (what
 * tq_quant_opts.force_reference runs). */
/* The one scale of a per-tensor `static` scaled quantizer q for the
 * calibrated range [lo, hi] (what it quantizes with at such a site);
 * TQ_ERR_UNSUPPORTED (no message) for any other quantizer. */
tq_status tq_quantizer_static_scale(const tq_quantizer *q, float lo, float hi,
                                    float *scale);

tq_status tq_grouped_ref(tq_context *ctx, const tq_quantizer *q,
                         const float *in, float *out, const tq_groups *g,
                         const tq_group_env *env, tq_rng_pos rng, int threads);

/* Statistics of columns, as arrays (so that vectors cover eight
 * columns): amax over finite elements, +inf where a NaN or infinity was
 * seen; min and max over finite elements where the kind reads them
 * (tq_group_traits.minmax), else NULL (not computed). */
typedef struct tq_col_stats {
  float *amax, *min, *max;
} tq_col_stats;

/* The passes of the fast driver, per instruction set: statistics of a
 * contiguous span (merged into *st) or of one row whose element j belongs
 * to column j (merged into column j of cs, from column 0), and elements
 * of a span sharing one param or of a row whose element j has param j
 * (s, lo, hi arrays). */
typedef struct tq_group_ops {
  void (*stat_span)(const float *x, size_t n, tq_group_stat *st);
  void (*stat_cols)(const float *x, size_t n, const tq_col_stats *cs);
  void (*apply_span)(const tq_quantizer *q, const float *x, float *y, size_t n,
                     tq_group_param pr, tq_rng_pos rng);
  void (*apply_cols)(const tq_quantizer *q, const float *x, float *y, size_t n,
                     const float *s, const float *lo, const float *hi,
                     tq_rng_pos rng);
  /* NULL, or nb consecutive whole blocks of G elements (G a multiple of
   * 8), each its statistic, param() and elements; rounding is not
   * stochastic. */
  void (*blocks)(const tq_quantizer *q, const tq_group_env *env, const float *x,
                 float *y, size_t nb, size_t G);
} tq_group_ops;

extern const tq_group_ops tq_group_ops_scalar;
/* The AVX2 statistics passes (grouped_avx2.c), which the AVX-512 ops share. */
void tq_avx2_stat_span(const float *x, size_t n, tq_group_stat *st);
void tq_avx2_stat_cols(const float *x, size_t n, const tq_col_stats *cs);
/* grouped_avx2.c: falls back to the scalar ops where q's element rounding
 * has no vector form. */
const tq_group_ops *tq_group_ops_avx2(const tq_quantizer *q);
/* grouped_avx512.c: the AVX2 ops where q's element rounding has no
 * AVX-512 form. */
const tq_group_ops *tq_group_ops_avx512(const tq_quantizer *q);

/* The fast driver over ops (its statistics per span or column, params,
 * elements per span or row). */
tq_status tq_grouped_run(tq_context *ctx, const tq_quantizer *q,
                         const float *in, float *out, const tq_groups *g,
                         const tq_group_env *env, tq_rng_pos rng, int threads,
                         const tq_group_ops *ops);

/* [TQ_ISA_SCALAR], [TQ_ISA_AVX2] and [TQ_ISA_AVX512] of every scaled kind:
 * tq_grouped_run with the scalar, the AVX2 and the AVX-512 passes. */
tq_status tq_grouped_scalar(tq_context *ctx, const tq_quantizer *q,
                            const float *in, float *out, const tq_groups *g,
                            const tq_group_env *env, tq_rng_pos rng,
                            int threads);
tq_status tq_grouped_avx2(tq_context *ctx, const tq_quantizer *q,
                          const float *in, float *out, const tq_groups *g,
                          const tq_group_env *env, tq_rng_pos rng, int threads);
tq_status tq_grouped_avx512(tq_context *ctx, const tq_quantizer *q,
                            const float *in, float *out, const tq_groups *g,
                            const tq_group_env *env, tq_rng_pos rng,
                            int threads);

#endif
