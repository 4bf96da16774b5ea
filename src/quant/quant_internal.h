/* Internal: the quantizer object, its precomputed kernel constants, the
 * instruction sets, and the trait table that holds everything one
 * quantizer kind is (docs/kernels.md, "Where a number format lives").
 *
 * Adding a number format: a tq_quant_kind value, one kind_*.c file that
 * defines its tq_kind_traits entry (and kind_*_avx2.c for vector kernels),
 * one line in the table in dispatch.c, and tests. */
#ifndef TQ_QUANT_INTERNAL_H
#define TQ_QUANT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tensorquant/quantizer.h"

#define TQ_SPEC_MAX 160

/* Constants derived once from the parameters so kernels do no setup work.
 * Values named *_out are float32 outputs; *_lim are comparison bounds on the
 * rounded integer r (all powers of two, hence exact in float32). */
typedef struct tq_fixed_consts {
  float scale;     /* 2^f */
  float inv_scale; /* 2^-f */
  float hi_lim;    /* r >= hi_lim  <=>  r > qmax */
  float lo_lim;    /* r < lo_lim (sat) or r <= lo_lim (sat_sym) <=> r < low */
  int lo_inclusive;
  float hi_out;      /* float32(qmax * 2^-f) */
  float lo_out;      /* float32(low * 2^-f), low = qmin or -qmax */
  double qmax, qlow; /* exact integer bounds */
} tq_fixed_consts;

typedef struct tq_float_consts {
  int emin;         /* smallest normal exponent, 1 - bias */
  double max;       /* largest finite magnitude */
  float max_f;      /* max as float32 (+inf if beyond float32) */
  float min_normal; /* 2^emin (0 when emin < -126: never flushes) */
  /* Overflow, decided once for every kernel: the magnitude a rounding
   * that exceeds max gives for a positive / negative value, and the
   * magnitude +-inf inputs give (max, inf or NaN by options and mode). */
  double over_pos, over_neg, inf_out;
} tq_float_consts;

/* A float format used inside another kind: a scale's storage format. */
typedef struct tq_float_fmt {
  tq_quant_params p;
  tq_float_consts c;
} tq_float_fmt;

struct tq_quantizer {
  tq_quant_params p;
  char spec[TQ_SPEC_MAX];
  double range_lo, range_hi;
  tq_fixed_consts fx;     /* TQ_VEC_FIXED kinds */
  tq_float_consts fl;     /* TQ_VEC_FLOAT kinds, and the float elements of
                             scaled floats, MX and NVFP4 */
  tq_float_fmt scale_fmt; /* bf16/fp16/fp8e4m3 scales (scale=) */
  float elem_max;         /* largest element magnitude (scaled kinds) */
};

/* ---- instruction sets ----------------------------------------------------*/

/* Kernel sets, in order of capability: a CPU that runs one runs every
 * lower one. Kernels of a higher set must give the bits of the lower. */
typedef enum tq_isa {
  TQ_ISA_SCALAR = 0, /* the reference kernels: any CPU */
  TQ_ISA_AVX2,       /* AVX2 + FMA + F16C */
  TQ_ISA_AVX512,     /* the above + AVX-512 F, BW, DQ and VL */
  TQ_ISA_COUNT
} tq_isa;

/* The best set this CPU runs (CPUID, once per process). */
tq_isa tq_isa_detect(void);

/* The set calls made with ctx use: the CPU's best, lowered by the
 * context's cap (tq_context_set_isa_cap, for tests). ctx may be NULL. */
tq_isa tq_isa_for(const tq_context *ctx);

/* "scalar", "avx2", "avx512". */
const char *tq_isa_name(tq_isa isa);

/* ---- kernels -------------------------------------------------------------*/

/* Where the random numbers of one kernel call come from: element i of the
 * call uses u(seed, stream, first + i). */
typedef struct tq_rng_pos {
  uint64_t seed, stream, first;
} tq_rng_pos;

/* An element-wise kernel quantizes n elements. threshold is the resolved
 * tensor-dependent threshold (ternary without T; else the parameter). */
typedef void (*tq_kernel_fn)(const tq_quantizer *q, const float *in, float *out,
                             size_t n, tq_rng_pos rng, double threshold);

struct tq_groups;    /* grouped.h */
struct tq_group_env; /* grouped.h */

/* A grouped kernel quantizes a tensor cut into groups that share a scale
 * (grouped.h): the scaled and block formats. */
typedef tq_status (*tq_grouped_kernel_fn)(tq_context *ctx,
                                          const tq_quantizer *q,
                                          const float *in, float *out,
                                          const struct tq_groups *g,
                                          const struct tq_group_env *env,
                                          tq_rng_pos rng, int threads);

/* How the intrinsic GEMM's vector code (src/ops/intrinsic_avx2.c) can treat
 * a kind: inline on its constants (fx, fl), or through the kind's kernel
 * (products, sums) and its double definition (the accumulator). */
typedef enum tq_vec_form {
  TQ_VEC_IDENTITY, /* no change: dropped from the arithmetic */
  TQ_VEC_FIXED,    /* fixed point: q->fx */
  TQ_VEC_FLOAT,    /* float(e, m): q->fl */
  TQ_VEC_GENERIC   /* anything else: kernels and define() */
} tq_vec_form;

/* CASE(mode) for every rounding mode but stochastic, in enum order: the
 * vector kernels make the mode a constant of each case. */
#define TQ_EACH_DETERMINISTIC_ROUND(CASE) \
  CASE(TQ_ROUND_NEAREST)                  \
  CASE(TQ_ROUND_EVEN)                     \
  CASE(TQ_ROUND_HALF_UP)                  \
  CASE(TQ_ROUND_HALF_DOWN)                \
  CASE(TQ_ROUND_HALF_ZERO)                \
  CASE(TQ_ROUND_DOWN)                     \
  CASE(TQ_ROUND_UP)                       \
  CASE(TQ_ROUND_ZERO)                     \
  CASE(TQ_ROUND_AWAY)

/* Flags of a kind. */
enum {
  TQ_KIND_ROUNDS = 1 /* has a rounding mode: round=stochastic draws u */
};

struct tq_spec_row;     /* spec_internal.h */
struct tq_group_traits; /* grouped.h */
struct tq_spec_parser;  /* spec_internal.h */
struct tq_spec_token;   /* spec_internal.h */

/* Everything one quantizer kind is (ggml's type_traits). Optional members
 * are NULL where they do not apply. tests/test_quant_traits.c walks the
 * table and checks that every entry is complete and consistent. */
typedef struct tq_kind_traits {
  tq_quant_kind kind;
  const char *name;

  /* Spec strings: the names this kind answers to (rows of `tq formats`,
   * with their defaults and accepted options), the positional arguments
   * (called when a row's max_args > 0 and the spec gives 1 <= nargs,
   * within the row's range) and the canonical form (without the common
   * ",ste=" suffix). */
  const struct tq_spec_row *rows;
  size_t row_count;
  tq_status (*parse_args)(struct tq_spec_parser *ps,
                          const struct tq_spec_token *args, int nargs,
                          tq_quant_params *p);
  void (*format)(const tq_quant_params *p, char *buf, size_t size);

  /* Parameters: kind-specific validation (after the common checks of
   * quantizer.c; NULL: nothing to check), derived constants and the
   * representable range (NULL: unbounded, nothing to derive), and bits of
   * storage per element including any scale overhead (0: no fixed-size
   * code, e.g. logarithmic). */
  tq_status (*validate)(tq_context *ctx, const tq_quant_params *p,
                        const char *source);
  void (*derive)(tq_quantizer *q);
  double (*bits)(const tq_quant_params *p);

  /* Semantics: the definition on the exact value of a double x
   * (docs/quantizers.md; the intrinsic accumulator uses it as is, the
   * scalar reference kernel applies it to float32 inputs). u is
   * stochastic rounding's number, threshold as for tq_kernel_fn. */
  unsigned flags;
  double (*define)(const tq_quantizer *q, double x, double u, double threshold);
  /* NULL, or 1 when for these params the threshold is factor * mean|x|
   * over the call's non-NaN elements (ternary without T). */
  int (*mean_abs_threshold)(const tq_quant_params *p, double *factor);

  /* Kernels per instruction set: element-wise, or grouped for formats
   * whose elements share scales. kernels[TQ_ISA_SCALAR] is the reference
   * of element-wise kinds; grouped kinds have one shared reference
   * (tq_grouped_ref over their group traits, grouped.h), and
   * grouped[TQ_ISA_SCALAR] is their fast driver with scalar passes. NULL
   * slots above fall back to the next lower set. A kind with both (float:
   * `scaled` or not) says which applies through its group traits'
   * uses_groups. */
  tq_kernel_fn kernels[TQ_ISA_COUNT];
  tq_grouped_kernel_fn grouped[TQ_ISA_COUNT];
  /* How a scaled or block format groups and scales (grouped.h); NULL for
   * element-wise kinds. */
  const struct tq_group_traits *groups;

  /* Intrinsic quantization (src/ops/intrinsic*.c): the vector form, and
   * why these params cannot apply inside a sum (NULL: they can). */
  tq_vec_form vec_form;
  const char *(*intrinsic_unsupported)(const tq_quant_params *p);
} tq_kind_traits;

/* The entry of kind, NULL when out of range (dispatch.c). */
const tq_kind_traits *tq_kind_traits_get(tq_quant_kind kind);

/* The element-wise kernel of tr for isa: its slot, or the nearest lower
 * set's (NULL only for grouped kinds). */
tq_kernel_fn tq_kind_kernel(const tq_kind_traits *tr, tq_isa isa);

/* The grouped kernel of tr for isa, with the same fallback. */
tq_grouped_kernel_fn tq_kind_grouped(const tq_kind_traits *tr, tq_isa isa);

/* tq_quantize on an element-wise kernel: chunks of TQ_CHUNK_ELEMS over
 * threads (llama.cpp blocks too, whose 32-element blocks never straddle
 * a chunk). */
tq_status tq_quantize_elements(tq_context *ctx, const tq_quantizer *q,
                               const float *in, float *out, size_t n,
                               const tq_quant_opts *opts);

/* 1 when q shares scales across elements (its result depends on the
 * tensor's shape): tq_quantize_tensor resolves groups for it. */
int tq_quantizer_grouped(const tq_quantizer *q);

/* 1 when q rounds stochastically (draws a random number per element). */
int tq_quantizer_stochastic(const tq_quantizer *q);

/* The entries (kind_fixed.c, kind_float.c, kind_others.c, kind_int.c,
 * kind_mx.c, kind_nvfp4.c, kind_bfp.c, kind_ggml.c). */
extern const tq_kind_traits tq_kind_none, tq_kind_fixed, tq_kind_float,
    tq_kind_logarithmic, tq_kind_sparse, tq_kind_binary, tq_kind_ternary,
    tq_kind_int, tq_kind_mx, tq_kind_nvfp4, tq_kind_bfp, tq_kind_ggml;

/* ---- floating point on its own (kind_float.c) -----------------------------
 * The float kind's constants and definition as functions of (params,
 * constants), so that the element formats of MX, NVFP4 and scaled floats
 * and the scale formats of int use the one definition. */

/* Fills c (and p->saturate for finite formats) from p's e, m and flags. */
void tq_float_consts_init(tq_quant_params *p, tq_float_consts *c);

/* x rounded into float(p) by p's rounding mode (docs/design.md §2.4);
 * u is stochastic rounding's number. */
double tq_float_round(const tq_quant_params *p, const tq_float_consts *c,
                      double x, double u);

/* ---- shared scalar pieces ------------------------------------------------*/

/* Increment (0 or 1) that rounds the magnitude ip + fr (0 <= fr < 1) of a
 * value with sign `neg` in mode r; u is stochastic rounding's number
 * (round.c: the one statement of every rounding mode). */
int tq_round_increment(tq_round r, int neg, double ip, double fr, double u);

/* Rounds t to an integer in mode r (returned as a double; exact for every
 * finite double). */
double tq_round_signed(tq_round r, double t, double u);

/* The scalar reference kernel of every kind with a define(): the
 * definition applied to each float32 input, rounded to float32; NaN
 * inputs are passed through with their payload (ref.c). */
void tq_ref_kernel(const tq_quantizer *, const float *, float *, size_t,
                   tq_rng_pos, double);
/* The identity's: a copy that keeps every bit. */
void tq_ref_copy(const tq_quantizer *, const float *, float *, size_t,
                 tq_rng_pos, double);

/* A quantizer applied to a double x: q's define() with its own threshold,
 * for the intrinsic accumulator (docs/design.md §3) - the exact value of x,
 * without rounding x to float32 first. Results are exact grid values as
 * doubles (fixed point keeps all of r * 2^-f). Ternary uses its given
 * threshold (callers reject ternary without one). */
double tq_quantize_double_one(const tq_quantizer *q, double x, double u);

/* Sum and count of |x| over the non-NaN elements of one chunk, in the
 * documented order (dispatch.c): the ternary threshold's reduction. */
void tq_ref_abs_sum(const float *x, size_t n, double *sum, size_t *count);
void tq_avx2_abs_sum(const float *x, size_t n, double *sum, size_t *count);

/* The float32 thresholds of the vector kernels equivalent to comparing a
 * float with the double t: |x| < t <=> |x| < tq_float_above(t), and
 * x > t <=> x > tq_float_below(t) (kind_others.c). */
float tq_float_above(double t);
float tq_float_below(double t);

/* ---- AVX2 kernels (kind_*_avx2.c): only called when the CPU has them -----*/

void tq_avx2_fixed(const tq_quantizer *, const float *, float *, size_t,
                   tq_rng_pos, double);
void tq_avx2_float(const tq_quantizer *, const float *, float *, size_t,
                   tq_rng_pos, double);
void tq_avx2_log(const tq_quantizer *, const float *, float *, size_t,
                 tq_rng_pos, double);
void tq_avx2_sparse(const tq_quantizer *, const float *, float *, size_t,
                    tq_rng_pos, double);
void tq_avx2_binary(const tq_quantizer *, const float *, float *, size_t,
                    tq_rng_pos, double);
void tq_avx2_ternary(const tq_quantizer *, const float *, float *, size_t,
                     tq_rng_pos, double);
void tq_avx2_copy(const tq_quantizer *, const float *, float *, size_t,
                  tq_rng_pos, double);
/* Stochastic rounding's 24-bit numbers of elements first .. first+n-1
 * (the values of tq_philox_fill_u24), eight Philox blocks per vector
 * (philox_avx2.c). */
void tq_avx2_philox_u24(uint64_t seed, uint64_t stream, uint64_t first,
                        uint32_t *u24, size_t n);

/* ---- AVX-512 kernels (kind_*_avx512.c): only called when the CPU has them -*/

void tq_avx512_fixed(const tq_quantizer *, const float *, float *, size_t,
                     tq_rng_pos, double);
void tq_avx512_float(const tq_quantizer *, const float *, float *, size_t,
                     tq_rng_pos, double);
void tq_avx512_log(const tq_quantizer *, const float *, float *, size_t,
                   tq_rng_pos, double);
void tq_avx512_sparse(const tq_quantizer *, const float *, float *, size_t,
                      tq_rng_pos, double);
void tq_avx512_binary(const tq_quantizer *, const float *, float *, size_t,
                      tq_rng_pos, double);
void tq_avx512_ternary(const tq_quantizer *, const float *, float *, size_t,
                       tq_rng_pos, double);
void tq_avx512_copy(const tq_quantizer *, const float *, float *, size_t,
                    tq_rng_pos, double);

/* ---- objects and spec strings --------------------------------------------*/

/* Validates params and fills the derived fields of q (quantizer.c). Writes
 * the canonical spec. Errors are reported against `source` (the spec). */
tq_status tq_quantizer_init(tq_context *ctx, const tq_quant_params *params,
                            const char *source, tq_quantizer *q);

/* Copies a caller's size-versioned struct (struct_size first, `size` of
 * it) into this library's (lib_size bytes at dst): shorter ones leave the
 * newer fields zero, longer ones must leave the fields this library lacks
 * zero. Errors name the function fn, the struct ("params->") and how to
 * initialise it (quantizer.c). */
tq_status tq_import_versioned(tq_context *ctx, const char *fn, const char *type,
                              const char *init, const void *src, size_t size,
                              size_t v1_size, void *dst, size_t lib_size);

/* "what must be between lo and hi, got value" (quantizer.c). */
tq_status tq_range_error(tq_context *ctx, const char *source, const char *what,
                         long value, long lo, long hi);

/* Canonical spec of params into buf (spec.c). */
void tq_spec_format(const tq_quant_params *p, char *buf, size_t size);

/* Names of rounding and overflow modes (spec.c). */
const char *tq_round_name(tq_round r);
const char *tq_overflow_name(tq_overflow o);

#endif
