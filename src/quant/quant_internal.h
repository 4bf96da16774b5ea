/* Internal: the quantizer object, its precomputed kernel constants, the
 * per-kind trait table and the kernel entry points. */
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
} tq_float_consts;

struct tq_quantizer {
  tq_quant_params p;
  char spec[TQ_SPEC_MAX];
  double range_lo, range_hi;
  tq_fixed_consts fx;
  tq_float_consts fl;
};

/* Where the random numbers of one kernel call come from: element i of the
 * call uses u(seed, stream, first + i). */
typedef struct tq_rng_pos {
  uint64_t seed, stream, first;
} tq_rng_pos;

/* A kernel quantizes n elements. threshold is the resolved ternary T. */
typedef void (*tq_kernel_fn)(const tq_quantizer *q, const float *in, float *out,
                             size_t n, tq_rng_pos rng, double threshold);

typedef struct tq_kind_traits {
  const char *name;
  tq_kernel_fn reference;     /* scalar reference kernel: the definition */
  tq_kernel_fn avx2;          /* NULL where none: the reference is used */
  int needs_tensor_threshold; /* 1: T depends on the whole tensor */
} tq_kind_traits;

/* Trait table indexed by tq_quant_kind (defined in dispatch.c). */
const tq_kind_traits *tq_kind_traits_get(tq_quant_kind kind);

/* Reference kernels (ref.c) and their per-element forms, used by tests. */
void tq_ref_none(const tq_quantizer *, const float *, float *, size_t,
                 tq_rng_pos, double);
void tq_ref_fixed(const tq_quantizer *, const float *, float *, size_t,
                  tq_rng_pos, double);
void tq_ref_float(const tq_quantizer *, const float *, float *, size_t,
                  tq_rng_pos, double);
void tq_ref_log(const tq_quantizer *, const float *, float *, size_t,
                tq_rng_pos, double);
void tq_ref_sparse(const tq_quantizer *, const float *, float *, size_t,
                   tq_rng_pos, double);
void tq_ref_binary(const tq_quantizer *, const float *, float *, size_t,
                   tq_rng_pos, double);
void tq_ref_ternary(const tq_quantizer *, const float *, float *, size_t,
                    tq_rng_pos, double);
float tq_ref_fixed_one(const tq_quantizer *q, float x, double u);
/* Rounds t to an integer in mode r (u: stochastic rounding's number). */
double tq_round_signed(tq_round r, double t, double u);
float tq_ref_float_one(const tq_quantizer *q, float x, double u);

/* Sum and count of |x| over the non-NaN elements of one chunk, in the
 * documented order (dispatch.c): the ternary threshold's reduction. */
void tq_ref_abs_sum(const float *x, size_t n, double *sum, size_t *count);
void tq_avx2_abs_sum(const float *x, size_t n, double *sum, size_t *count);

/* AVX2 kernels (kernels_avx2.c); only called when the CPU has AVX2+FMA. */
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
/* Stochastic rounding's 24-bit numbers of elements first .. first+n-1
 * (the values of tq_philox_fill_u24), eight Philox blocks per vector. */
void tq_avx2_philox_u24(uint64_t seed, uint64_t stream, uint64_t first,
                        uint32_t *u24, size_t n);
void tq_avx2_copy(const tq_quantizer *, const float *, float *, size_t,
                  tq_rng_pos, double);

/* Validates params and fills the derived fields of q (quantizer.c). Writes
 * the canonical spec. Errors are reported against `source` (the spec). */
tq_status tq_quantizer_init(tq_context *ctx, const tq_quant_params *params,
                            const char *source, tq_quantizer *q);

/* Canonical spec of params into buf (spec.c). */
void tq_spec_format(const tq_quant_params *p, char *buf, size_t size);

/* Names of rounding and overflow modes (spec.c). */
const char *tq_round_name(tq_round r);
const char *tq_overflow_name(tq_overflow o);

/* A quantizer applied to a double x (quantize_double.c), for the intrinsic
 * accumulator (DESIGN.md 3): DESIGN.md 2 on the exact value of x, without
 * rounding x to float32 first. u is the stochastic rounding number (ignored
 * otherwise). Results are exact grid values as doubles (fixed point keeps
 * all of r * 2^-f). Ternary uses its given threshold (callers reject
 * ternary without one). */
double tq_quantize_double_one(const tq_quantizer *q, double x, double u);

#endif
