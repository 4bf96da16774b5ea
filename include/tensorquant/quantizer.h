/* Quantizers: spec strings -> immutable quantizer objects -> kernels.
 *
 * A quantizer maps float32 values onto the grid of a number format and back
 * to float32 (DESIGN.md section 2 gives the exact semantics). Create one from
 * a spec string such as "nearest,16,8", "even,8,4,overflow=wrap",
 * "float,4,3,fn", "fp8e4m3" or "ternary,1,0.05"; run it over buffers with
 * tq_quantize().
 *
 * Ownership: tq_quantizer_parse() gives the caller a quantizer to free with
 * tq_quantizer_destroy(). Thread-safety: a quantizer is immutable after
 * creation; any number of threads may use it at once. */
#ifndef TENSORQUANT_QUANTIZER_H
#define TENSORQUANT_QUANTIZER_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tq_quant_kind {
  TQ_QUANT_NONE = 0,    /* identity */
  TQ_QUANT_FIXED,       /* fixed point, width w, f fractional bits */
  TQ_QUANT_FLOAT,       /* floating point, e exponent and m mantissa bits */
  TQ_QUANT_LOGARITHMIC, /* sign(x) * 2^floor(log2|x|) */
  TQ_QUANT_SPARSE,      /* |x| < T -> 0 */
  TQ_QUANT_BINARY,      /* x >= 0 -> +m, else -m */
  TQ_QUANT_TERNARY,     /* x > T -> +m, x < -T -> -m, else 0 */
  TQ_QUANT_KIND_COUNT
} tq_quant_kind;

/* Rounding modes. Fixed point accepts all; floating point accepts EVEN,
 * NEAREST, ZERO, DOWN, UP and STOCHASTIC. */
typedef enum tq_round {
  TQ_ROUND_NEAREST = 0, /* to nearest, ties away from zero */
  TQ_ROUND_EVEN,        /* to nearest, ties to even */
  TQ_ROUND_HALF_UP,     /* to nearest, ties toward +inf */
  TQ_ROUND_HALF_DOWN,   /* to nearest, ties toward -inf */
  TQ_ROUND_HALF_ZERO,   /* to nearest, ties toward zero */
  TQ_ROUND_DOWN,        /* toward -inf (floor) */
  TQ_ROUND_UP,          /* toward +inf (ceil) */
  TQ_ROUND_ZERO,        /* toward zero (truncate) */
  TQ_ROUND_AWAY,        /* away from zero */
  TQ_ROUND_STOCHASTIC,  /* floor(t + u), u uniform in [0,1), 24 random bits */
  TQ_ROUND_COUNT
} tq_round;

typedef enum tq_overflow {
  TQ_OVERFLOW_SAT = 0, /* clamp to [qmin, qmax] */
  TQ_OVERFLOW_SAT_SYM, /* clamp to [-qmax, qmax] (signed formats only) */
  TQ_OVERFLOW_WRAP,    /* two's complement wrap modulo 2^w */
  TQ_OVERFLOW_COUNT
} tq_overflow;

/* The gradient a quantizer passes back in training (straight-through
 * estimator, DESIGN.md 3): spec option ste=identity|clipped. */
typedef enum tq_ste {
  TQ_STE_IDENTITY = 0, /* the gradient passes unchanged (default) */
  TQ_STE_CLIPPED, /* zero where the input lies outside tq_quantizer_range */
  TQ_STE_COUNT
} tq_ste;

/* Everything that defines a quantizer, as plain data. Fields that do not
 * apply to a kind are zero when built with tq_quant_params_init (the
 * parser sets the defaults of its spec names: signed, subnormals and
 * magnitude 1).
 *
 * ABI rule: the struct is size-versioned. struct_size, its first member,
 * holds sizeof(tq_quant_params) as the caller was compiled: initialise the
 * struct with tq_quant_params_init(&p) or `tq_quant_params p =
 * TQ_QUANT_PARAMS_INIT;` before setting fields. New fields are only ever
 * appended, and zero means "as before" for each of them, so a program built
 * against an older header keeps working with a newer library (the missing
 * fields read as zero), and a newer program works with an older library as
 * long as it leaves the fields that library lacks zero
 * (tq_quantizer_create rejects it otherwise). */
typedef struct tq_quant_params {
  size_t struct_size; /* sizeof(tq_quant_params) of the caller */
  tq_quant_kind kind;
  /* fixed point */
  int width;     /* w, 1..32 */
  int frac;      /* f, -64..64 */
  int is_signed; /* 1 signed, 0 unsigned */
  tq_overflow overflow;
  /* floating point */
  int exp_bits;    /* e, 2..8 */
  int man_bits;    /* m, 0..23 */
  int saturate;    /* sat: overflow clamps to +-max instead of inf/NaN */
  int finite_nan;  /* fn: no infinities, only the all-ones code is NaN */
  int finite_only; /* finite: no inf and no NaN codes (OCP MX fp6/fp4) */
  int subnormals;  /* 1 keep subnormals, 0 flush them to zero */
  /* fixed and floating point */
  tq_round round;
  int has_seed; /* seed= given in the spec: it overrides the call's seed */
  uint64_t seed;
  /* others */
  double threshold;  /* sparse T; ternary T when has_threshold */
  int has_threshold; /* ternary: 0 -> T = 0.7 * mean|x| over the tensor */
  double magnitude;  /* binary/ternary m */
  /* all kinds */
  tq_ste ste; /* training-time gradient; does not change the values */
} tq_quant_params;

/* A zeroed tq_quant_params with struct_size set (C99 and later). */
#define TQ_QUANT_PARAMS_INIT \
  { .struct_size = sizeof(tq_quant_params) }

/* Zeroes *p and sets p->struct_size: the start of every tq_quant_params a
 * caller fills in. p may be NULL (nothing happens). */
TQ_API void tq_quant_params_init(tq_quant_params *p);

typedef struct tq_quantizer tq_quantizer;

/* Parses a spec string (DESIGN.md 2, `tq formats` lists them all) into a new
 * quantizer. On failure *out is NULL and ctx's last error names the spec,
 * the offending token and its 1-based character position, and suggests the
 * nearest valid name. Returns TQ_ERR_PARSE or TQ_ERR_RANGE on bad specs. */
TQ_API tq_status tq_quantizer_parse(tq_context *ctx, const char *spec,
                                    tq_quantizer **out);

/* Builds a quantizer from parameters (validated as the parser would).
 * params->struct_size must be set (tq_quant_params_init): a size below the
 * first versioned struct gives TQ_ERR_INVALID_ARGUMENT, a larger struct
 * whose fields unknown to this library are not all zero gives
 * TQ_ERR_UNSUPPORTED; either way ctx's last error says which. */
TQ_API tq_status tq_quantizer_create(tq_context *ctx,
                                     const tq_quant_params *params,
                                     tq_quantizer **out);

/* Frees a quantizer. NULL is allowed. */
TQ_API void tq_quantizer_destroy(tq_quantizer *q);

/* The canonical spec string of q: parsing it gives the same quantizer.
 * Owned by q; valid until q is destroyed. */
TQ_API const char *tq_quantizer_spec(const tq_quantizer *q);

/* The parameters of q (owned by q; struct_size is this library's
 * sizeof(tq_quant_params), so fields appended later read as absent to an
 * older caller, which never looks past the struct it knows). */
TQ_API const tq_quant_params *tq_quantizer_params(const tq_quantizer *q);

/* Smallest and largest finite output values q can produce for finite
 * inputs (+-INFINITY where the format is unbounded). */
TQ_API void tq_quantizer_range(const tq_quantizer *q, double *lo, double *hi);

/* Bits of storage per element of q's number format, including any
 * per-group scale overhead: w for fixed point, 1 + e + m for floating
 * point, 1 for binary, 2 for ternary; 0 where the format has no fixed-size
 * code (none, logarithmic, sparse) and for q == NULL. */
TQ_API double tq_quantizer_bits(const tq_quantizer *q);

/* Options for one quantization call. Zero-initialise for the defaults. */
typedef struct tq_quant_opts {
  uint64_t seed;       /* stochastic rounding seed (a seed= in the spec wins) */
  uint64_t stream;     /* independent random stream, e.g. a layer or step ID */
  uint64_t offset;     /* index of in[0] in the whole tensor: element i uses the
                          random number of (seed, stream, offset + i), so a tensor
                          quantized in pieces gives the same bits as in one go */
  int threads;         /* 0: the context's setting */
  int force_reference; /* 1: use the scalar reference kernel (for testing) */
} tq_quant_opts;

/* Quantizes n floats from in to out (in == out is allowed; other overlap is
 * not). opts may be NULL. Deterministic: the same inputs, seed, stream and
 * offset give the same bits at any thread count and on any CPU. */
TQ_API tq_status tq_quantize(tq_context *ctx, const tq_quantizer *q,
                             const float *in, float *out, size_t n,
                             const tq_quant_opts *opts);

/* Error statistics of one quantization, comparing out with in. */
typedef struct tq_quant_stats {
  size_t count;           /* elements */
  size_t nan_count;       /* NaN inputs (left out of the error figures) */
  double sqnr_db;         /* 10 log10(sum x^2 / sum (x - q)^2) over finite
                             inputs; +inf if exact, -inf if some finite
                             input became inf or NaN */
  double max_abs_error;   /* over finite inputs */
  double mean_abs_error;  /* over finite inputs */
  double frac_saturated;  /* inputs outside the quantizer's range */
  double frac_zero;       /* outputs equal to zero */
  size_t distinct_values; /* different output values (+0 and -0 count once) */
} tq_quant_stats;

/* tq_quantize() plus statistics. in and out must not alias here. */
TQ_API tq_status tq_quantize_stats(tq_context *ctx, const tq_quantizer *q,
                                   const float *in, float *out, size_t n,
                                   const tq_quant_opts *opts,
                                   tq_quant_stats *stats);

/* Computes the statistics of an existing (in, out) pair for quantizer q. */
TQ_API tq_status tq_compute_stats(tq_context *ctx, const tq_quantizer *q,
                                  const float *in, const float *out, size_t n,
                                  tq_quant_stats *stats);

/* Describes the spec grammar: one row per spec name. Plain static data. */
typedef struct tq_format_info {
  const char *name;        /* e.g. "nearest", "fp8e4m3" */
  const char *usage;       /* e.g. "nearest,W,F[,overflow=..][,signed=..]" */
  const char *description; /* one line */
} tq_format_info;

/* Number of rows and row i (NULL when out of range). */
TQ_API size_t tq_format_count(void);
TQ_API const tq_format_info *tq_format_get(size_t i);

/* Name of the kernel set chosen at run time for this CPU ("avx2" or
 * "scalar"). */
TQ_API const char *tq_kernel_isa(void);

/* The random number u in [0,1) that stochastic rounding uses for element
 * `index` of (seed, stream): Philox4x32-10, 24 bits. Exposed so that users
 * can reproduce results outside the library. */
TQ_API float tq_stochastic_u(uint64_t seed, uint64_t stream, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
