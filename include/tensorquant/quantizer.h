/* Quantizers: spec strings -> immutable quantizer objects -> kernels.
 *
 * A quantizer maps float32 values onto the grid of a number format and back
 * to float32 (docs/design.md §2 gives the exact semantics). Create one from
 * a spec string such as "nearest,16,8", "even,8,4,overflow=wrap",
 * "float,4,3,fn", "fp8e4m3", "ternary,1,0.05", "int,8,axis=0", "mxfp4" or
 * "q4_0"; run it over buffers with tq_quantize(), or over shaped tensors
 * with tq_quantize_tensor() (scaled and block formats share one scale per
 * tensor, channel or block, docs/design.md §2.10).
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
  TQ_QUANT_INT,         /* scaled integer int,B: a scale per tensor, channel
                           or block (width B, int_mode, narrow, scale) */
  TQ_QUANT_MX,          /* OCP MX v1.0: blocks sharing a power-of-two E8M0
                           scale; float elements (exp_bits, man_bits) or,
                           with exp_bits 0, MXINT8 (width 8) */
  TQ_QUANT_NVFP4,       /* NVIDIA NVFP4: E2M1 blocks, E4M3 block scales and
                           a float32 tensor scale */
  TQ_QUANT_BFP,         /* block floating point bfp,M (width M) */
  TQ_QUANT_GGML,        /* llama.cpp blocks of 32: width 8, 4 or 5; int_mode
                           sym for q*_0 (a scale), asym for q*_1 (scale and
                           minimum) */
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
 * estimator, docs/design.md §3): spec option ste=identity|clipped. */
typedef enum tq_ste {
  TQ_STE_IDENTITY = 0, /* the gradient passes unchanged (default) */
  TQ_STE_CLIPPED, /* zero where the input lies outside tq_quantizer_range */
  TQ_STE_COUNT
} tq_ste;

/* Scaled integers: where the grid sits (docs/design.md §2.10). */
typedef enum tq_int_mode {
  TQ_INT_SYM = 0,  /* q in [-qmax-1, qmax] (narrow: +-qmax), no zero point */
  TQ_INT_ASYM,     /* q in [0, 2^B-1] with a zero point (ONNX uint8 style) */
  TQ_INT_UNSIGNED, /* q in [0, 2^B-1], zero point 0 */
  TQ_INT_MODE_COUNT
} tq_int_mode;

/* The format a scale is stored in before it is used (option scale=). */
typedef enum tq_scale_format {
  TQ_SCALE_FP32 = 0, /* float32 (the default) */
  TQ_SCALE_BF16,     /* bfloat16, nearest even, saturating */
  TQ_SCALE_FP16,     /* IEEE half, nearest even, saturating */
  TQ_SCALE_FP8E4M3,  /* OCP FP8 E4M3, nearest even, saturating at 448 */
  TQ_SCALE_E8M0,     /* 2^ceil(log2 s) within [2^-127, 2^127] */
  TQ_SCALE_PO2,      /* 2^ceil(log2 s) as a float32 power of two */
  TQ_SCALE_FORMAT_COUNT
} tq_scale_format;

/* How an OCP MX block picks its power-of-two scale (option scale_round=). */
typedef enum tq_scale_round {
  TQ_SCALE_ROUND_FLOOR = 0, /* 2^(floor(log2 amax) - emax_elem): the spec's */
  TQ_SCALE_ROUND_CEIL,      /* the smallest 2^k with amax / 2^k <= max: no
                               element saturates */
  TQ_SCALE_ROUND_COUNT
} tq_scale_round;

/* Where the groups of a scaled format run (option axis=). */
typedef enum tq_axis_mode {
  TQ_AXIS_DEFAULT = 0, /* not given: per tensor for int and scaled floats
                          (blocks along the site's block axis with group=),
                          the site's block axis for block formats */
  TQ_AXIS_INDEX,       /* axis=K: the axis `axis` (negative from the end) */
  TQ_AXIS_CHANNEL,     /* axis=channel: the site's channel axis */
  TQ_AXIS_MODE_COUNT
} tq_axis_mode;

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
  /* scaled and block formats (appended; docs/design.md §2.10). The float
   * fields above describe their float elements (MX, NVFP4, scaled floats)
   * and width their integer elements (int, bfp, ggml, MXINT8). */
  int scaled;                 /* float: one amax scale per group (`scaled`) */
  tq_int_mode int_mode;       /* int: sym, asym, unsigned; ggml: sym/asym */
  int narrow;                 /* int sym: qmin = -qmax */
  tq_axis_mode axis_mode;     /* where groups run */
  int axis;                   /* with TQ_AXIS_INDEX: the axis, may be < 0 */
  int64_t group;              /* block length along the axis; 0: the kind's
                                 default (none for int and scaled floats) */
  tq_scale_format scale;      /* int and scaled floats: scale storage */
  tq_scale_round scale_round; /* MX: floor (the spec) or ceil */
  int is_static;              /* int, scaled floats: the scale comes from
                                 the site's range (calibration), not x */
} tq_quant_params;

/* A zeroed tq_quant_params with struct_size set (C99 and later). */
#define TQ_QUANT_PARAMS_INIT \
  { .struct_size = sizeof(tq_quant_params) }

/* Zeroes *p and sets p->struct_size: the start of every tq_quant_params a
 * caller fills in. p may be NULL (nothing happens). */
TQ_API void tq_quant_params_init(tq_quant_params *p);

typedef struct tq_quantizer tq_quantizer;

/* Parses a spec string (docs/design.md §2, `tq formats` lists them all) into a new
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
 * inputs (+-INFINITY where the format is unbounded, and for the scaled and
 * block formats, whose range follows the data). */
TQ_API void tq_quantizer_range(const tq_quantizer *q, double *lo, double *hi);

/* Bits of storage per element of q's number format, including any
 * per-group scale overhead: w for fixed point, 1 + e + m for floating
 * point, 1 for binary, 2 for ternary; for scaled and block formats the
 * element's bits plus the scale's bits divided by the block length (MXFP4
 * 4.25, NVFP4 4.5, q4_0 4.5; a scale per tensor or per channel, amortised
 * over a size the quantizer does not know, counts 0; docs/design.md
 * §2.10); 0 where the format has no fixed-size code (none, logarithmic,
 * sparse) and for q == NULL. */
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

/* Where a tensor is quantized: its shape and the defaults a scaled or
 * block format resolves against there (docs/design.md §2.10). Size-
 * versioned like tq_quant_params: start it with TQ_QUANT_SITE_INIT or
 * tq_quant_site_init(), which set struct_size and the defaults. */
typedef struct tq_quant_site {
  size_t struct_size;  /* sizeof(tq_quant_site) of the caller */
  int rank;            /* number of dims; 0 (or dims NULL): a 1-D tensor [n] */
  const int64_t *dims; /* row-major shape, rank entries; not copied */
  int channel_axis;    /* what axis=channel means here (-1: the last axis) */
  int block_axis;      /* where blocks run when the spec names no axis (-1:
                          the last axis) */
  int has_range;       /* a static (calibrated) range for `static` specs */
  double range_lo, range_hi;
} tq_quant_site;

/* A site with the defaults: channel and block axis the last, no range. */
#define TQ_QUANT_SITE_INIT \
  { .struct_size = sizeof(tq_quant_site), .channel_axis = -1, .block_axis = -1 }

/* Sets *s to TQ_QUANT_SITE_INIT. s may be NULL (nothing happens). */
TQ_API void tq_quant_site_init(tq_quant_site *s);

/* Quantizes the tensor in[site's shape] (n elements, which must equal the
 * product of the dims) to out, every kind: element-wise kinds as
 * tq_quantize does, scaled and block formats one scale per group as
 * resolved at site (tq_quantizer_resolve). in == out is allowed. site NULL
 * is a 1-D tensor [n] with the defaults. opts may be NULL; stochastic
 * rounding of element i uses u(seed, stream, offset + i), i the row-major
 * index. The bits do not depend on the thread count or the CPU. Errors
 * (TQ_ERR_INVALID_ARGUMENT, TQ_ERR_RANGE) name the spec and the axis or
 * length at fault: an axis beyond the rank, a llama.cpp format on a last
 * axis that is not a multiple of 32, `static` without a range. */
TQ_API tq_status tq_quantize_tensor(tq_context *ctx, const tq_quantizer *q,
                                    const float *in, float *out, size_t n,
                                    const tq_quant_site *site,
                                    const tq_quant_opts *opts);

/* The groups q resolves to at site (site NULL: a 1-D tensor with the
 * defaults), for `tq map check` and reports: *axis the axis groups run
 * along (0 .. rank-1) or -1, *group the block length along it, so
 *   element-wise kinds   axis -1, group 1 (each element alone)
 *   per tensor           axis -1, group 0
 *   per channel          axis K,  group 0 (one scale per index of K)
 *   blocks               axis K,  group G (the last block may be shorter).
 * Either pointer may be NULL. Fails like tq_quantize_tensor on an axis
 * beyond the rank. */
TQ_API tq_status tq_quantizer_resolve(tq_context *ctx, const tq_quantizer *q,
                                      const tq_quant_site *site, int *axis,
                                      int64_t *group);

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

/* Name of the kernel set chosen at run time for this CPU ("avx512",
 * "avx2" or "scalar"). */
TQ_API const char *tq_kernel_isa(void);

/* The random number u in [0,1) that stochastic rounding uses for element
 * `index` of (seed, stream): Philox4x32-10, 24 bits. Exposed so that users
 * can reproduce results outside the library. */
TQ_API float tq_stochastic_u(uint64_t seed, uint64_t stream, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
